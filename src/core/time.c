/* Time handling (see time.h): int64 UTC nanoseconds inside, lenient ISO 8601 parsing and Feast's
 * display formats at the edges, ttl-style durations. Civil conversion uses the days-from-civil /
 * civil-from-days algorithms (proleptic Gregorian, exact for any year, before 1970 included), so
 * nothing here depends on the C library's time zone state (timegm/gmtime). */
#include "core/time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SECS_PER_DAY INT64_C(86400)

/* Messages quote at most this much of the user's text, so a huge input cannot crowd out the
 * explanation in the fixed-size error message. */
#define QUOTE_MAX 80

int64_t ferry_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * FERRY_NS_PER_SEC + ts.tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int64_t ferry_time_floor_sec(int64_t ns) { return floor_div(ns, FERRY_NS_PER_SEC); }

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). Eras of 400
 * years make the arithmetic uniform for negative years too. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int64_t ferry_time_from_civil(int year, int month, int day, int hour, int min, int sec, int64_t nsec)
{
    int64_t days = days_from_civil(year, month, day);
    int64_t secs = days * SECS_PER_DAY + hour * INT64_C(3600) + min * INT64_C(60) + sec;
    return secs * FERRY_NS_PER_SEC + nsec;
}

void ferry_time_to_civil(int64_t ns, int *year, int *month, int *day, int *hour, int *min, int *sec,
                         int64_t *nsec)
{
    int64_t secs = floor_div(ns, FERRY_NS_PER_SEC);
    /* ns - secs*1e9 could overflow for INT64_MIN; the remainder computed this way cannot. */
    int64_t rem = ns % FERRY_NS_PER_SEC;
    if (rem < 0)
        rem += FERRY_NS_PER_SEC;
    int64_t days = floor_div(secs, SECS_PER_DAY);
    int64_t sod = secs - days * SECS_PER_DAY;
    int64_t y;
    civil_from_days(days, &y, month, day);
    *year = (int)y;
    *hour = (int)(sod / 3600);
    *min = (int)(sod / 60 % 60);
    *sec = (int)(sod % 60);
    *nsec = rem;
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n digits at *p; returns -1 when they are not all digits. */
static int read_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

static int bad_time(struct ferry_err *err, const char *text, const char *why)
{
    return ferry_errf(err, FERRY_EINVAL,
                      "invalid timestamp '%.*s'%s: %s (expected e.g. 2021-04-12, 2021-04-12T07:00:00Z "
                      "or 2021-04-12 07:00:00+02:00)",
                      QUOTE_MAX, text, strlen(text) > QUOTE_MAX ? "..." : "", why);
}

/* Parses the zone suffix at p (already past optional whitespace); sets the offset in seconds east
 * of UTC. Returns a pointer after the zone, or NULL with *why set. */
static const char *parse_zone(const char *p, int *offset, const char **why)
{
    *offset = 0;
    if (*p == 'Z' || *p == 'z')
        return p + 1;
    if (strncasecmp(p, "UTC", 3) == 0 || strncasecmp(p, "GMT", 3) == 0)
        return p + 3;
    if (*p != '+' && *p != '-') {
        *why = "unexpected text after the time";
        return NULL;
    }
    int sign = *p == '-' ? -1 : 1;
    p++;
    int hh = read_digits(&p, 2), mm = 0;
    if (hh < 0) {
        *why = "zone offset must be +HH, +HH:MM or +HHMM";
        return NULL;
    }
    if (*p == ':') {
        p++;
        if ((mm = read_digits(&p, 2)) < 0) {
            *why = "zone offset must be +HH, +HH:MM or +HHMM";
            return NULL;
        }
    } else if (isdigit((unsigned char)*p)) {
        if ((mm = read_digits(&p, 2)) < 0) {
            *why = "zone offset must be +HH, +HH:MM or +HHMM";
            return NULL;
        }
    }
    /* Python's timezone() requires |offset| < 24h. */
    if (hh > 23 || mm > 59) {
        *why = "zone offset out of range";
        return NULL;
    }
    *offset = sign * (hh * 3600 + mm * 60);
    return p;
}

int ferry_time_parse(const char *text, int64_t *out_ns, struct ferry_err *err)
{
    if (!text)
        return bad_time(err, "", "empty");
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return bad_time(err, text, "empty");

    int year = read_digits(&p, 4);
    if (year < 0 || *p != '-')
        return bad_time(err, text, "the date must be YYYY-MM-DD");
    p++;
    int month = read_digits(&p, 2);
    if (month < 0 || *p != '-')
        return bad_time(err, text, "the date must be YYYY-MM-DD");
    p++;
    int day = read_digits(&p, 2);
    if (day < 0)
        return bad_time(err, text, "the date must be YYYY-MM-DD");
    if (year < 1)
        return bad_time(err, text, "year 0 is out of range");
    if (month < 1 || month > 12)
        return bad_time(err, text, "month is out of range (1-12)");
    if (day < 1 || day > days_in_month(year, month))
        return bad_time(err, text, "day is out of range for the month");

    int hour = 0, min = 0, sec = 0, offset = 0;
    int64_t nsec = 0;
    if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
        p++;
        if ((hour = read_digits(&p, 2)) < 0)
            return bad_time(err, text, "the time must be HH:MM[:SS[.fraction]]");
        if (*p == ':') {
            p++;
            if ((min = read_digits(&p, 2)) < 0)
                return bad_time(err, text, "the time must be HH:MM[:SS[.fraction]]");
            if (*p == ':') {
                p++;
                if ((sec = read_digits(&p, 2)) < 0)
                    return bad_time(err, text, "the time must be HH:MM[:SS[.fraction]]");
                if (*p == '.' || *p == ',') {
                    p++;
                    int nd = 0;
                    while (isdigit((unsigned char)*p)) {
                        if (++nd > 9)
                            return bad_time(err, text, "more than 9 fraction digits");
                        nsec = nsec * 10 + (*p++ - '0');
                    }
                    if (nd == 0)
                        return bad_time(err, text, "missing digits after the decimal point");
                    for (; nd < 9; nd++)
                        nsec *= 10;
                }
            }
        }
        if (hour > 23)
            return bad_time(err, text, "hour is out of range (0-23)");
        if (min > 59)
            return bad_time(err, text, "minute is out of range (0-59)");
        if (sec > 59)
            return bad_time(err, text, "second is out of range (0-59)");
        const char *z = p;
        if (*z == ' ')
            z++;
        if (*z && !isspace((unsigned char)*z)) {
            const char *why = NULL;
            if (!(p = parse_zone(z, &offset, &why)))
                return bad_time(err, text, why);
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return bad_time(err, text, "unexpected text after the date");

    /* Years 1..9999 always fit in seconds; nanoseconds only cover 1677-09-21 .. 2262-04-11. */
    int64_t secs = days_from_civil(year, month, day) * SECS_PER_DAY + hour * INT64_C(3600) +
                   min * INT64_C(60) + sec - offset;
    int64_t ns;
    if (__builtin_mul_overflow(secs, FERRY_NS_PER_SEC, &ns) || __builtin_add_overflow(ns, nsec, &ns) ||
        ns == FERRY_TIME_NONE)
        return bad_time(err, text, "outside the representable range (years 1678-2261)");
    *out_ns = ns;
    return 0;
}

static int bad_duration(struct ferry_err *err, const char *text, const char *why)
{
    return ferry_errf(err, FERRY_EINVAL,
                      "invalid duration '%.*s'%s: %s (expected e.g. 1d, 2h, 30m, 45s, 1h30m, 1w or "
                      "a number of seconds)",
                      QUOTE_MAX, text ? text : "", text && strlen(text) > QUOTE_MAX ? "..." : "", why);
}

int ferry_duration_parse(const char *text, int64_t *out_ns, struct ferry_err *err)
{
    if (!text)
        return bad_duration(err, text, "empty");
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return bad_duration(err, text, "empty");
    if (*p == '-')
        return bad_duration(err, text, "negative durations are not allowed");
    if (*p == '+')
        p++;

    int64_t total = 0;
    unsigned seen = 0;        /* bit per unit, to reject "1h2h" (almost surely a typo) */
    int parts = 0;
    bool bare = false;        /* a number without a unit: only valid as the whole text */
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return bad_duration(err, text, "expected a number");
        int64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *p - '0', &n))
                return bad_duration(err, text, "too large");
            p++;
        }
        while (*p == ' ')
            p++;
        int64_t unit;
        unsigned bit;
        switch (*p) {
        case 'w': case 'W': unit = 7 * SECS_PER_DAY; bit = 1; break;
        case 'd': case 'D': unit = SECS_PER_DAY; bit = 2; break;
        case 'h': case 'H': unit = 3600; bit = 4; break;
        case 'm': case 'M': unit = 60; bit = 8; break;
        case 's': case 'S': unit = 1; bit = 16; break;
        case '\0': unit = 1; bit = 0; bare = true; break;
        default: return bad_duration(err, text, "unknown unit (use w, d, h, m or s)");
        }
        if (bit) {
            if (seen & bit)
                return bad_duration(err, text, "a unit appears twice");
            seen |= bit;
            p++;
        }
        int64_t part;
        if (__builtin_mul_overflow(n, unit, &part) || __builtin_add_overflow(total, part, &total))
            return bad_duration(err, text, "too large");
        parts++;
        while (isspace((unsigned char)*p))
            p++;
    }
    if (bare && parts > 1)
        return bad_duration(err, text, "a number without a unit after other parts");
    int64_t ns;
    if (__builtin_mul_overflow(total, FERRY_NS_PER_SEC, &ns))
        return bad_duration(err, text, "too large");
    *out_ns = ns;
    return 0;
}

/* Date and time to the second, in the given separator style: "YYYY-MM-DD?HH:MM:SS". */
static int format_base(int64_t ns, char sep, char *buf, int64_t *nsec)
{
    int y, mo, d, h, mi, s;
    ferry_time_to_civil(ns, &y, &mo, &d, &h, &mi, &s, nsec);
    return snprintf(buf, FERRY_TIME_BUF, "%04d-%02d-%02d%c%02d:%02d:%02d", y, mo, d, sep, h, mi, s);
}

char *ferry_time_format_rfc3339(int64_t ns, char buf[FERRY_TIME_BUF])
{
    int64_t nsec;
    int n = format_base(ns, 'T', buf, &nsec);
    size_t left = FERRY_TIME_BUF - (size_t)n;
    /* The fewest of 3/6/9 digits that represent the fraction exactly. */
    if (nsec == 0)
        snprintf(buf + n, left, "Z");
    else if (nsec % 1000000 == 0)
        snprintf(buf + n, left, ".%03dZ", (int)(nsec / 1000000));
    else if (nsec % 1000 == 0)
        snprintf(buf + n, left, ".%06dZ", (int)(nsec / 1000));
    else
        snprintf(buf + n, left, ".%09dZ", (int)nsec);
    return buf;
}

char *ferry_time_format_py(int64_t ns, char buf[FERRY_TIME_BUF])
{
    int64_t nsec;
    int n = format_base(ns, ' ', buf, &nsec);
    snprintf(buf + n, FERRY_TIME_BUF - (size_t)n, "+00:00");
    return buf;
}

char *ferry_time_format_iso(int64_t ns, char buf[FERRY_TIME_BUF])
{
    int64_t nsec;
    int n = format_base(ns, 'T', buf, &nsec);
    /* Microseconds are truncated (floor), like Python's datetime from a nanosecond timestamp. */
    int us = (int)(nsec / 1000);
    if (us)
        snprintf(buf + n, FERRY_TIME_BUF - (size_t)n, ".%06dZ", us);
    else
        snprintf(buf + n, FERRY_TIME_BUF - (size_t)n, "Z");
    return buf;
}
