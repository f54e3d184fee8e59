/* core/time: lenient timestamp parsing, civil conversion (incl. before 1970), Feast's display
 * formats and ttl durations. Expected epoch values come from GNU `date -u -d ... +%s`. */
#include "test.h"

#include "core/time.h"

#define S(x) ((int64_t)(x) * FERRY_NS_PER_SEC)

static int64_t parse_ok(const char *text)
{
    struct ferry_err e = {0};
    int64_t ns = 0;
    int rc = ferry_time_parse(text, &ns, &e);
    if (rc != 0)
        test_fail(__FILE__, __LINE__, "parse '%s' failed: %s", text, e.msg);
    return ns;
}

static void parse_bad(const char *text, const char *msg_part)
{
    struct ferry_err e = {0};
    int64_t ns = 12345;
    int rc = ferry_time_parse(text, &ns, &e);
    if (rc != FERRY_EINVAL)
        test_fail(__FILE__, __LINE__, "parse '%s' should fail, rc %d", text, rc);
    if (!strstr(e.msg, msg_part))
        test_fail(__FILE__, __LINE__, "message for '%s' lacks '%s': %s", text, msg_part, e.msg);
    if (ns != 12345)
        test_fail(__FILE__, __LINE__, "output written on failure for '%s'", text);
}

TEST(time_parse_common_forms)
{
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00Z"), S(1618210800));
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00"), S(1618210800));      /* naive = UTC */
    ASSERT_EQ_INT(parse_ok("2021-04-12 07:00:00"), S(1618210800));
    ASSERT_EQ_INT(parse_ok("2021-04-12t07:00z"), S(1618210800));
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00"), S(1618210800));
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:30"), S(1618212600));
    ASSERT_EQ_INT(parse_ok("  2021-04-12T07:00:00Z \n"), S(1618210800));
    ASSERT_EQ_INT(parse_ok("2021-04-12"), S(1618185600));               /* 07:00 - 7h */
    ASSERT_EQ_INT(parse_ok("2021-09-09 17:00:00+00:00"), S(1631206800));
}

TEST(time_parse_zones)
{
    /* 07:00 at +02:00 is 05:00Z; at -05:00 it is 12:00Z. */
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00+02:00"), S(1618203600));
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00+0200"), S(1618203600));
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00+02"), S(1618203600));
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00-05:00"), S(1618228800));
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00-05"), S(1618228800));
    ASSERT_EQ_INT(parse_ok("2021-04-12 07:00:00 -05:00"), S(1618228800));
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00.5+02:00"), S(1618203600) + 500000000);
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00-00:30"), S(1618212600));
}

TEST(time_parse_fractions)
{
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00.1Z"), S(1618210800) + 100000000);
    ASSERT_EQ_INT(parse_ok("2021-04-12 07:00:00.123456"), S(1618210800) + 123456000);
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00.123456789Z"), S(1618210800) + 123456789);
    ASSERT_EQ_INT(parse_ok("2021-04-12T07:00:00.000000001"), S(1618210800) + 1);
    parse_bad("2021-04-12T07:00:00.1234567891Z", "more than 9 fraction digits");
    parse_bad("2021-04-12T07:00:00.Z", "missing digits");
}

TEST(time_parse_before_1970_and_leap_years)
{
    ASSERT_EQ_INT(parse_ok("1970-01-01"), 0);
    ASSERT_EQ_INT(parse_ok("1969-12-31T23:59:59Z"), S(-1));
    ASSERT_EQ_INT(parse_ok("1969-12-31T23:59:59.5Z"), S(-1) + 500000000);
    ASSERT_EQ_INT(parse_ok("1969-07-20T20:17:40Z"), S(-14182940));
    ASSERT_EQ_INT(parse_ok("1900-01-01"), S(-2208988800LL));
    ASSERT_EQ_INT(parse_ok("1800-12-31T23:59:59"), S(-5333126401LL));
    ASSERT_EQ_INT(parse_ok("1700-03-01"), S(-8515238400LL));
    ASSERT_EQ_INT(parse_ok("2000-02-29"), S(951782400));       /* divisible by 400: leap */
    ASSERT_EQ_INT(parse_ok("2024-02-29T12:34:56Z"), S(1709210096));
    parse_bad("1900-02-29", "day is out of range");            /* divisible by 100: not leap */
    parse_bad("2100-02-29", "day is out of range");
    parse_bad("2023-02-29", "day is out of range");
}

TEST(time_parse_rejects_garbage_and_ranges)
{
    parse_bad("", "empty");
    parse_bad("yesterday", "'yesterday'");
    parse_bad("2021-13-01", "month is out of range");
    parse_bad("2021-00-10", "month is out of range");
    parse_bad("2021-02-30", "day is out of range");
    parse_bad("2021-04-31", "day is out of range");
    parse_bad("2021-04-12T25:00:00", "hour is out of range");
    parse_bad("2021-04-12T24:00:00", "hour is out of range");
    parse_bad("2021-04-12T07:60", "minute is out of range");
    parse_bad("2021-04-12T07:00:61", "second is out of range");
    parse_bad("2021-04-12T07:00:00+25:00", "zone offset out of range");
    parse_bad("2021-04-12T07:00:00+2", "zone offset");
    parse_bad("2021-04-12T07:00:00 garbage", "unexpected text");
    parse_bad("2021-04-12x", "unexpected text");
    parse_bad("2021-4-12", "YYYY-MM-DD");
    parse_bad("12/04/2021", "'12/04/2021'");
    parse_bad("3000-01-01", "representable range");
    parse_bad("1600-01-01", "representable range");
}

TEST(time_civil_round_trip)
{
    /* 2262-04-11T23:47:16.854775807Z is INT64_MAX ns. */
    ASSERT_EQ_INT(ferry_time_from_civil(2262, 4, 11, 23, 47, 16, 854775807), INT64_MAX);
    ASSERT_EQ_INT(ferry_time_from_civil(1969, 12, 31, 23, 59, 59, 999999999), -1);
    int y, mo, d, h, mi, s;
    int64_t ns;
    ferry_time_to_civil(-1, &y, &mo, &d, &h, &mi, &s, &ns);
    ASSERT_EQ_INT(y, 1969); ASSERT_EQ_INT(mo, 12); ASSERT_EQ_INT(d, 31);
    ASSERT_EQ_INT(h, 23); ASSERT_EQ_INT(mi, 59); ASSERT_EQ_INT(s, 59); ASSERT_EQ_INT(ns, 999999999);
    ferry_time_to_civil(S(951782400), &y, &mo, &d, &h, &mi, &s, &ns);
    ASSERT_EQ_INT(y, 2000); ASSERT_EQ_INT(mo, 2); ASSERT_EQ_INT(d, 29); ASSERT_EQ_INT(ns, 0);
    /* INT64_MIN (FERRY_TIME_NONE) must not overflow: 1677-09-21T00:12:43.145224192Z. */
    ferry_time_to_civil(INT64_MIN, &y, &mo, &d, &h, &mi, &s, &ns);
    ASSERT_EQ_INT(y, 1677); ASSERT_EQ_INT(mo, 9); ASSERT_EQ_INT(d, 21);
    ASSERT_EQ_INT(h, 0); ASSERT_EQ_INT(mi, 12); ASSERT_EQ_INT(s, 43); ASSERT_EQ_INT(ns, 145224192);
    /* Every day over 1800..2200 round-trips and consecutive days differ by 86400 s. */
    int64_t prev = ferry_time_from_civil(1800, 1, 1, 0, 0, 0, 0) - S(86400);
    for (int yy = 1800; yy <= 2200; yy++)
        for (int mm = 1; mm <= 12; mm++) {
            static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
            int n = dim[mm - 1] + (mm == 2 && ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0));
            for (int dd = 1; dd <= n; dd++) {
                int64_t t = ferry_time_from_civil(yy, mm, dd, 0, 0, 0, 0);
                ASSERT_EQ_INT(t - prev, S(86400));
                prev = t;
                ferry_time_to_civil(t, &y, &mo, &d, &h, &mi, &s, &ns);
                if (y != yy || mo != mm || d != dd)
                    test_fail(__FILE__, __LINE__, "%d-%d-%d came back as %d-%d-%d", yy, mm, dd, y, mo, d);
            }
        }
}

TEST(time_floor_sec)
{
    ASSERT_EQ_INT(ferry_time_floor_sec(1999999999), 1);
    ASSERT_EQ_INT(ferry_time_floor_sec(0), 0);
    ASSERT_EQ_INT(ferry_time_floor_sec(-1), -1);
    ASSERT_EQ_INT(ferry_time_floor_sec(-1000000000), -1);
    ASSERT_EQ_INT(ferry_time_floor_sec(-1000000001), -2);
}

TEST(time_format_rfc3339_fraction_rule)
{
    char b[FERRY_TIME_BUF];
    ASSERT_EQ_STR(ferry_time_format_rfc3339(S(1640991600), b), "2021-12-31T23:00:00Z");
    ASSERT_EQ_STR(ferry_time_format_rfc3339(S(1640991600) + 500000000, b), "2021-12-31T23:00:00.500Z");
    ASSERT_EQ_STR(ferry_time_format_rfc3339(S(1640991600) + 123000, b), "2021-12-31T23:00:00.000123Z");
    ASSERT_EQ_STR(ferry_time_format_rfc3339(S(1640991600) + 120000, b), "2021-12-31T23:00:00.000120Z");
    ASSERT_EQ_STR(ferry_time_format_rfc3339(S(1640991600) + 1, b), "2021-12-31T23:00:00.000000001Z");
    ASSERT_EQ_STR(ferry_time_format_rfc3339(S(-1) + 500000000, b), "1969-12-31T23:59:59.500Z");
    ASSERT_EQ_STR(ferry_time_format_rfc3339(S(-2208988800LL), b), "1900-01-01T00:00:00Z");
}

TEST(time_format_py_and_iso)
{
    char b[FERRY_TIME_BUF];
    ASSERT_EQ_STR(ferry_time_format_py(S(1631206800), b), "2021-09-09 17:00:00+00:00");
    ASSERT_EQ_STR(ferry_time_format_py(S(1631206800) + 123456789, b), "2021-09-09 17:00:00+00:00");
    ASSERT_EQ_STR(ferry_time_format_iso(S(1631206800), b), "2021-09-09T17:00:00Z");
    ASSERT_EQ_STR(ferry_time_format_iso(S(1631206800) + 123456789, b), "2021-09-09T17:00:00.123456Z");
    ASSERT_EQ_STR(ferry_time_format_iso(S(1631206800) + 500000000, b), "2021-09-09T17:00:00.500000Z");
    ASSERT_EQ_STR(ferry_time_format_iso(S(1631206800) + 999, b), "2021-09-09T17:00:00Z");
    /* Parse and format agree. */
    ASSERT_EQ_STR(ferry_time_format_rfc3339(parse_ok("2021-04-12 09:00:00.25+02:00"), b),
                  "2021-04-12T07:00:00.250Z");
}

static int64_t dur_ok(const char *text)
{
    struct ferry_err e = {0};
    int64_t ns = -1;
    if (ferry_duration_parse(text, &ns, &e) != 0)
        test_fail(__FILE__, __LINE__, "duration '%s' failed: %s", text, e.msg);
    return ns;
}

static void dur_bad(const char *text, const char *msg_part)
{
    struct ferry_err e = {0};
    int64_t ns = 7;
    if (ferry_duration_parse(text, &ns, &e) != FERRY_EINVAL)
        test_fail(__FILE__, __LINE__, "duration '%s' should fail", text);
    if (!strstr(e.msg, msg_part))
        test_fail(__FILE__, __LINE__, "message for '%s' lacks '%s': %s", text, msg_part, e.msg);
    ASSERT_EQ_INT(ns, 7);
}

TEST(time_duration_parse)
{
    ASSERT_EQ_INT(dur_ok("1d"), S(86400));
    ASSERT_EQ_INT(dur_ok("2h"), S(7200));
    ASSERT_EQ_INT(dur_ok("30m"), S(1800));
    ASSERT_EQ_INT(dur_ok("45s"), S(45));
    ASSERT_EQ_INT(dur_ok("1w"), S(604800));
    ASSERT_EQ_INT(dur_ok("1h30m"), S(5400));
    ASSERT_EQ_INT(dur_ok("1d 2h"), S(93600));
    ASSERT_EQ_INT(dur_ok("1w1d1h1m1s"), S(604800 + 86400 + 3600 + 60 + 1));
    ASSERT_EQ_INT(dur_ok("3600"), S(3600));
    ASSERT_EQ_INT(dur_ok("0"), 0);
    ASSERT_EQ_INT(dur_ok("0s"), 0);
    ASSERT_EQ_INT(dur_ok("86400"), S(86400));
}

TEST(time_duration_rejects)
{
    dur_bad("", "empty");
    dur_bad("-1d", "negative");
    dur_bad("-5", "negative");
    dur_bad("abc", "'abc'");
    dur_bad("1x", "unknown unit");
    dur_bad("1.5h", "unknown unit");
    dur_bad("1h30", "without a unit");
    dur_bad("1h1h", "twice");
    dur_bad("h", "expected a number");
    dur_bad("99999999999999999999", "too large");
    dur_bad("999999999999d", "too large");
}
