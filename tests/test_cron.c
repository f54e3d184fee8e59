/* Cron timing: every syntax form, error messages, macros, the day-of-month/day-of-week OR rule,
 * DST gaps and overlaps in Europe/Berlin and America/New_York, leap days, and fixed intervals.
 * Expected UTC instants are hand-computed (calendar facts noted in comments) or taken from GNU date
 * and hard-coded; ferry_time_from_civil is only used for plain UTC civil times. */
#include "core/time.h"
#include "core/tz.h"
#include "service/cron.h"
#include "test.h"

#define S FERRY_NS_PER_SEC
#define MIN (60 * S)

static int64_t utc(int y, int mo, int d, int h, int mi) { return ferry_time_from_civil(y, mo, d, h, mi, 0, 0); }

static struct cron_spec *parse(const char *expr, const struct ferry_tz *tz)
{
    struct ferry_err err = {0};
    struct cron_spec *c = NULL;
    ASSERT_OK(cron_parse(expr, tz, &c, &err), &err);
    return c;
}

static struct ferry_tz *load(const char *name)
{
    struct ferry_err err = {0};
    struct ferry_tz *tz = NULL;
    ASSERT_OK(ferry_tz_load(name, &tz, &err), &err);
    return tz;
}

/* Checks the n fires after t are exactly want[0..n-1]. */
static void expect_fires(const struct cron_spec *c, int64_t t, const int64_t *want, int n)
{
    for (int i = 0; i < n; i++) {
        t = cron_next(c, t);
        if (t != want[i])
            test_fail(__FILE__, __LINE__, "fire %d: got %lld, expected %lld", i, (long long)t, (long long)want[i]);
    }
}

static int count_fires(const struct cron_spec *c, int64_t from, int64_t until)
{
    int n = 0;
    for (int64_t t = cron_next(c, from - 1); t < until; t = cron_next(c, t))
        n++;
    return n;
}

TEST(cron_lists_ranges_and_steps)
{
    struct ferry_tz *tz = load("UTC");
    struct cron_spec *c = parse("5,10-12,50-59/4 * * * *", tz);
    int64_t w1[] = {utc(2024, 1, 1, 0, 5),  utc(2024, 1, 1, 0, 10), utc(2024, 1, 1, 0, 11), utc(2024, 1, 1, 0, 12),
                    utc(2024, 1, 1, 0, 50), utc(2024, 1, 1, 0, 54), utc(2024, 1, 1, 0, 58), utc(2024, 1, 1, 1, 5)};
    expect_fires(c, utc(2024, 1, 1, 0, 0), w1, 8);
    cron_free(c);

    c = parse("7/20 * * * *", tz);   /* a/n = a, a+n, ... to the end of the range */
    int64_t w2[] = {utc(2024, 1, 1, 0, 7), utc(2024, 1, 1, 0, 27), utc(2024, 1, 1, 0, 47), utc(2024, 1, 1, 1, 7)};
    expect_fires(c, utc(2024, 1, 1, 0, 0), w2, 4);
    cron_free(c);

    c = parse("0 */6 * * *", tz);
    int64_t w3[] = {utc(2024, 1, 1, 6, 0), utc(2024, 1, 1, 12, 0), utc(2024, 1, 1, 18, 0), utc(2024, 1, 2, 0, 0)};
    expect_fires(c, utc(2024, 1, 1, 0, 0), w3, 4);
    cron_free(c);

    c = parse("0 0 1-10/3 * *", tz);
    int64_t w4[] = {utc(2024, 1, 4, 0, 0), utc(2024, 1, 7, 0, 0), utc(2024, 1, 10, 0, 0), utc(2024, 2, 1, 0, 0)};
    expect_fires(c, utc(2024, 1, 1, 0, 0), w4, 4);
    cron_free(c);

    /* '*': every minute; strictly after t even when t is mid-minute or exactly on a minute. */
    c = parse("  * * * * *  ", tz);
    ASSERT_EQ_INT(cron_next(c, utc(2024, 1, 1, 0, 0) + 30 * S), utc(2024, 1, 1, 0, 1));
    ASSERT_EQ_INT(cron_next(c, utc(2024, 1, 1, 0, 1)), utc(2024, 1, 1, 0, 2));
    ASSERT_EQ_INT(cron_next(c, utc(2024, 1, 1, 0, 1) - 1), utc(2024, 1, 1, 0, 1));
    cron_free(c);
    ferry_tz_free(tz);
}

TEST(cron_month_and_day_names)
{
    /* 2024-01-01 is a Monday; 2024-07-01 too (Jan 1 + 182 days = 26 weeks). Names are
     * case-insensitive; day-of-month is '*', so the days must be Mon-Fri in Jan or Jul. */
    struct cron_spec *c = parse("0 12 * jan,Jul mon-FRI", NULL);
    int64_t w[] = {utc(2024, 7, 1, 12, 0), utc(2024, 7, 2, 12, 0), utc(2024, 7, 3, 12, 0)};
    expect_fires(c, utc(2024, 1, 31, 12, 0), w, 3);
    cron_free(c);

    /* 7 and SUN are Sunday like 0: the first Sunday after Monday 2024-01-01 is Jan 7. */
    const char *sundays[] = {"0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "@weekly"};
    for (int i = 0; i < 4; i++) {
        c = parse(sundays[i], NULL);
        ASSERT_EQ_INT(cron_next(c, utc(2024, 1, 1, 0, 0)), utc(2024, 1, 7, 0, 0));
        cron_free(c);
    }
    /* 5-7 = Fri, Sat, Sun. */
    c = parse("0 0 * * 5-7", NULL);
    int64_t w2[] = {utc(2024, 1, 5, 0, 0), utc(2024, 1, 6, 0, 0), utc(2024, 1, 7, 0, 0), utc(2024, 1, 12, 0, 0)};
    expect_fires(c, utc(2024, 1, 1, 0, 0), w2, 4);
    cron_free(c);
}

TEST(cron_macros)
{
    struct {
        const char *expr;
        int64_t want;   /* first fire after 2024-01-01 00:00Z */
    } cases[] = {
        {"@yearly", utc(2025, 1, 1, 0, 0)},  {"@annually", utc(2025, 1, 1, 0, 0)}, {"@monthly", utc(2024, 2, 1, 0, 0)},
        {"@weekly", utc(2024, 1, 7, 0, 0)},  {"@daily", utc(2024, 1, 2, 0, 0)},    {"@midnight", utc(2024, 1, 2, 0, 0)},
        {"@hourly", utc(2024, 1, 1, 1, 0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cron_spec *c = parse(cases[i].expr, NULL);
        ASSERT_EQ_INT(cron_next(c, utc(2024, 1, 1, 0, 0)), cases[i].want);
        cron_free(c);
    }
    /* @daily in Europe/Berlin is local midnight: TZ=Europe/Berlin date -d '2024-06-01 00:00' +%s
     * -> 1717192800, so June 2 00:00 CEST = 1717279200 = 2024-06-01 22:00Z. */
    struct ferry_tz *tz = load("Europe/Berlin");
    struct cron_spec *c = parse("@daily", tz);
    ASSERT_EQ_INT(cron_next(c, utc(2024, 6, 1, 12, 0)), INT64_C(1717279200) * S);
    cron_free(c);
    ferry_tz_free(tz);
}

TEST(cron_dom_dow_or_rule)
{
    /* Both restricted: the 13th OR any Friday. January 2024 Fridays: 5, 12, 19, 26; the 13th is a
     * Saturday. */
    struct cron_spec *c = parse("0 0 13 * 5", NULL);
    int64_t w[] = {utc(2024, 1, 5, 0, 0), utc(2024, 1, 12, 0, 0), utc(2024, 1, 13, 0, 0), utc(2024, 1, 19, 0, 0),
                   utc(2024, 1, 26, 0, 0), utc(2024, 2, 2, 0, 0)};
    expect_fires(c, utc(2024, 1, 1, 0, 0), w, 6);
    cron_free(c);
    /* A field starting with '*' counts as unrestricted (Vixie cron), so "*" + "/2" days AND Monday:
     * odd days that are Mondays: Jan 1, 15, 29 (Jan 8 and 22 are even). */
    c = parse("0 0 */2 * mon", NULL);
    int64_t w2[] = {utc(2024, 1, 15, 0, 0), utc(2024, 1, 29, 0, 0)};
    expect_fires(c, utc(2024, 1, 1, 0, 0), w2, 2);
    ASSERT_EQ_INT(cron_next(c, utc(2024, 1, 1, 0, 0) - 1), utc(2024, 1, 1, 0, 0));
    cron_free(c);
}

TEST(cron_errors_name_field_and_reason)
{
    struct {
        const char *expr, *msg;
    } cases[] = {
        {"61 * * * *", "field 1 (minute): 61 is out of range 0-59"},
        {"0 25 * * *", "field 2 (hour): 25 is out of range 0-23"},
        {"0 0 0 * *", "field 3 (day-of-month): 0 is out of range 1-31"},
        {"0 0 * 13 *", "field 4 (month): 13 is out of range 1-12"},
        {"0 0 * * 8", "field 5 (day-of-week): 8 is out of range 0-7"},
        {"0 0 * FOO *", "field 4 (month): 'FOO' is not a number or month name"},
        {"0 0 * * funday", "field 5 (day-of-week): 'funday' is not a number or day name"},
        {"x * * * *", "field 1 (minute): 'x' is not a number"},
        {"*/0 * * * *", "field 1 (minute): step 0 is out of range"},
        {"5/ * * * *", "field 1 (minute): step after '/' is missing"},
        {"30-10 * * * *", "field 1 (minute): range 30-10 is backwards"},
        {"1,,2 * * * *", "field 1 (minute): empty list item in '1,,2'"},
        {"1, * * * *", "field 1 (minute): empty list item in '1,'"},
        {",1 * * * *", "field 1 (minute): empty list item"},
        {"1-2x * * * *", "field 1 (minute): unexpected 'x'"},
        {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
        {"* * * * * *", "got 6"},
        {"", "got 0"},
        {"@reboot", "unknown macro"},
        {"@daily extra", "unknown macro"},
        {"0 0 30 2 *", "day-of-month never occurs"},
        {"0 0 31 4,6 *", "day-of-month never occurs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ferry_err err = {0};
        struct cron_spec *c = (struct cron_spec *)1;
        int rc = cron_parse(cases[i].expr, NULL, &c, &err);
        if (rc != FERRY_ECONFIG)
            test_fail(__FILE__, __LINE__, "'%s' gave %d", cases[i].expr, rc);
        ASSERT_TRUE(c == NULL);
        ASSERT_CONTAINS(err.msg, cases[i].msg);
    }
    /* The OR rule makes "30 Feb or Monday" possible, so it parses. */
    struct cron_spec *c = parse("0 0 30 2 1", NULL);
    cron_free(c);
}

TEST(cron_every_15_minutes_over_a_day)
{
    struct ferry_tz *tz = load("Europe/Berlin");
    struct cron_spec *c = parse("*/15 * * * *", tz);
    /* A plain summer day in Berlin, 2024-06-01 00:00 CEST (1717192800) to 24 h later: 96 fires,
     * each on a quarter hour. */
    int64_t day = INT64_C(1717192800) * S;
    int n = 0;
    for (int64_t t = cron_next(c, day - 1); t < day + 86400 * S; t = cron_next(c, t)) {
        ASSERT_EQ_INT(((t - day) / S) % 900, 0);
        ASSERT_EQ_INT((t - day) / (900 * S), n);   /* consecutive: none skipped or doubled */
        n++;
    }
    ASSERT_EQ_INT(n, 96);
    /* The spring-forward day (2024-03-30 23:00Z to 2024-03-31 22:00Z, 23 h): 02:00-02:45 do not
     * exist and all map to 03:00, which also is a slot of its own: one fire there, 23 * 4 = 92. */
    ASSERT_EQ_INT(count_fires(c, INT64_C(1711839600) * S, INT64_C(1711922400) * S), 92);
    /* The fall-back day (2024-10-26 22:00Z to 2024-10-27 23:00Z, 25 h): the repeated 02:00-02:45
     * do not fire again, 24 * 4 = 96. */
    ASSERT_EQ_INT(count_fires(c, INT64_C(1729980000) * S, INT64_C(1730070000) * S), 96);
    cron_free(c);
    ferry_tz_free(tz);
}

TEST(cron_berlin_dst_gap_and_overlap)
{
    struct ferry_tz *tz = load("Europe/Berlin");
    struct cron_spec *c = parse("30 2 * * *", tz);
    /* 2024-03-31 02:30 does not exist: fire once at 03:00 CEST = 01:00Z (1711846800, from
     * TZ=Europe/Berlin date -d '2024-03-31 03:00' +%s); then 2024-04-01 02:30 CEST = 00:30Z
     * (date -ud '2024-04-01 00:30' +%s -> 1711931400). Start: 2024-03-30 12:00Z = 1711800000. */
    int64_t w1[] = {INT64_C(1711846800) * S, INT64_C(1711931400) * S};
    expect_fires(c, INT64_C(1711800000) * S, w1, 2);
    /* 2024-10-27 02:30 happens twice: fire at the first (CEST, 00:30Z = 1729989000) only; the next
     * fire is 2024-10-28 02:30 CET = 01:30Z (1730079000). Start: 2024-10-26 12:00Z = 1729944000. */
    int64_t w2[] = {INT64_C(1729989000) * S, INT64_C(1730079000) * S};
    expect_fires(c, INT64_C(1729944000) * S, w2, 2);
    /* Asked from inside the second pass (02:40 CET = 1729992600 + 600), nothing fires that day. */
    ASSERT_EQ_INT(cron_next(c, INT64_C(1729993200) * S), INT64_C(1730079000) * S);
    cron_free(c);

    /* Several candidates in one gap fire once: every 15 minutes of hour 2 on 2024-03-31 fires at 03:00 CEST only,
     * then 2024-04-01 02:00 CEST = 00:00Z (1711929600). */
    c = parse("*/15 2 * * *", tz);
    int64_t w3[] = {INT64_C(1711846800) * S, INT64_C(1711929600) * S, INT64_C(1711930500) * S};
    expect_fires(c, INT64_C(1711800000) * S, w3, 3);
    cron_free(c);
    ferry_tz_free(tz);
}

TEST(cron_new_york_hourly_across_dst_days)
{
    struct ferry_tz *tz = load("America/New_York");
    struct cron_spec *c = parse("0 * * * *", tz);
    /* 2024-11-03 local day runs from 00:00 EDT (04:00Z, 1730606400) to 2024-11-04 00:00 EST (05:00Z,
     * 1730696400): 25 real hours. Wall hours 00..23 each fire once: 00 EDT (04Z), 01 EDT (05Z), the
     * repeated 01:00 EST (06Z) does not fire, then 02 EST (07Z) .. 23 EST (04Z Nov 4) = 22 more.
     * Total 2 + 22 = 24. */
    ASSERT_EQ_INT(count_fires(c, INT64_C(1730606400) * S, INT64_C(1730696400) * S), 24);
    int64_t w[] = {INT64_C(1730606400) * S, INT64_C(1730610000) * S, INT64_C(1730617200) * S};
    expect_fires(c, INT64_C(1730606400) * S - 1, w, 3);
    /* 2024-03-10 runs from 00:00 EST (05:00Z, 1710046800) to 2024-03-11 00:00 EDT (04:00Z,
     * 1710129600): 23 hours. 02:00 does not exist and maps to 03:00 EDT (07:00Z), the same instant as
     * the 03:00 slot, so hours 00, 01, 03..23 fire: 2 + 21 = 23. */
    ASSERT_EQ_INT(count_fires(c, INT64_C(1710046800) * S, INT64_C(1710129600) * S), 23);
    int64_t w2[] = {INT64_C(1710050400) * S, INT64_C(1710054000) * S, INT64_C(1710057600) * S};
    expect_fires(c, INT64_C(1710046800) * S, w2, 3);   /* 01:00 EST (06Z), 03:00 EDT (07Z), 04:00 EDT */
    cron_free(c);
    ferry_tz_free(tz);
}

TEST(cron_leap_day_and_none_within_five_years)
{
    struct cron_spec *c = parse("0 0 29 2 *", NULL);
    /* date -ud '2024-02-29' +%s -> 1709164800; date -ud '2028-02-29' +%s -> 1835395200. */
    ASSERT_EQ_INT(cron_next(c, utc(2023, 6, 1, 0, 0)), INT64_C(1709164800) * S);
    ASSERT_EQ_INT(cron_next(c, INT64_C(1709164800) * S), INT64_C(1835395200) * S);
    /* After 2096-02-29 the next is 2104-02-29 (2100 is not a leap year): beyond 5 years. */
    ASSERT_EQ_INT(cron_next(c, utc(2096, 3, 1, 0, 0)), INT64_MAX);
    cron_free(c);
    /* Near the end of the ns range there is nothing representable. */
    c = parse("* * * * *", NULL);
    ASSERT_EQ_INT(cron_next(c, INT64_MAX - 1), INT64_MAX);
    cron_free(c);
}

TEST(cron_every_interval_anchored_at_epoch)
{
    struct ferry_err err = {0};
    struct cron_spec *c = NULL;
    ASSERT_OK(cron_every(15 * MIN, &c, &err), &err);
    ASSERT_EQ_INT(cron_next(c, utc(2024, 5, 1, 10, 7) + 30 * S), utc(2024, 5, 1, 10, 15));
    ASSERT_EQ_INT(cron_next(c, utc(2024, 5, 1, 10, 15)), utc(2024, 5, 1, 10, 30));
    ASSERT_EQ_INT(cron_next(c, utc(2024, 5, 1, 10, 15) - 1), utc(2024, 5, 1, 10, 15));
    ASSERT_EQ_INT(cron_next(c, -1), 0);
    ASSERT_EQ_INT(cron_next(c, -15 * MIN - 1), -15 * MIN);
    ASSERT_EQ_INT(cron_next(c, INT64_MAX - 1), INT64_MAX);
    cron_free(c);
    c = (struct cron_spec *)1;
    ASSERT_EQ_INT(cron_every(0, &c, &err), FERRY_ECONFIG);
    ASSERT_TRUE(c == NULL);
    ASSERT_CONTAINS(err.msg, "interval must be positive");
}
