/* Schedule timing: 5-field cron expressions evaluated on local wall time in a time zone, and fixed
 * intervals anchored at the epoch. cron_next walks candidate wall times field by field (a month
 * that does not match is skipped whole, then days, hours, minutes), so even a yearly expression
 * costs a few hundred steps, and maps each candidate to an instant through ferry_tz_local_to_utc:
 *   - a wall time in a spring-forward gap maps to the first instant after the gap; every candidate in
 *     the same gap maps to that same instant, so it fires once;
 *   - a wall time in a fall-back overlap maps to its first occurrence only;
 * the mapping is non-decreasing in wall-time order, so the first candidate whose instant is after t
 * is the answer. A parsed spec is immutable and holds no pointers but the borrowed zone. */
#include "service/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/time.h"
#include "core/util.h"

enum { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, NFIELDS };

struct cron_spec {
    bool is_every;
    int64_t interval_ns;
    uint64_t bits[NFIELDS];    /* bit v set = value v allowed (day-of-week 7 folded into 0) */
    bool dom_star, dow_star;   /* field began with '*' (Vixie cron's rule for combining days) */
    const struct ferry_tz *tz; /* NULL = UTC */
};

static const struct {
    const char *name;
    int lo, hi;
} FIELDS[NFIELDS] = {
    {"minute", 0, 59}, {"hour", 0, 23}, {"day-of-month", 1, 31}, {"month", 1, 12}, {"day-of-week", 0, 7},
};

static const char *const MONTHS[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const DAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int field_err(struct ferry_err *err, int f, const char *fmt, const char *tok, size_t toklen)
{
    char what[128];
    snprintf(what, sizeof what, fmt, (int)toklen, tok);
    return ferry_errf(err, FERRY_ECONFIG, "field %d (%s): %s", f + 1, FIELDS[f].name, what);
}

/* A number or (month, day-of-week) a three-letter name. */
static int parse_value(const char **pp, const char *end, int f, int *out, struct ferry_err *err)
{
    const char *p = *pp;
    if (p < end && isdigit((unsigned char)*p)) {
        long v = 0;
        while (p < end && isdigit((unsigned char)*p) && v < 1000)
            v = v * 10 + (*p++ - '0');
        if (v < FIELDS[f].lo || v > FIELDS[f].hi) {
            char num[32];
            snprintf(num, sizeof num, "%.*s", (int)(p - *pp), *pp);
            return ferry_errf(err, FERRY_ECONFIG, "field %d (%s): %s is out of range %d-%d", f + 1, FIELDS[f].name,
                              num, FIELDS[f].lo, FIELDS[f].hi);
        }
        *out = (int)v;
        *pp = p;
        return 0;
    }
    const char *s = p;
    while (p < end && isalpha((unsigned char)*p))
        p++;
    if (p - s == 3 && (f == F_MON || f == F_DOW)) {
        const char *const *names = f == F_MON ? MONTHS : DAYS;
        int n = f == F_MON ? 12 : 7;
        for (int i = 0; i < n; i++)
            if (strncasecmp(s, names[i], 3) == 0) {
                *out = f == F_MON ? i + 1 : i;
                *pp = p;
                return 0;
            }
    }
    if (p == s)
        p = s < end ? s + 1 : s;
    return field_err(err, f, f == F_MON   ? "'%.*s' is not a number or month name (JAN-DEC)"
                             : f == F_DOW ? "'%.*s' is not a number or day name (SUN-SAT)"
                                          : "'%.*s' is not a number",
                     s, (size_t)(p - s));
}

/* One field: comma-separated items, each '*' or a[-b], optionally followed by /step. */
static int parse_field(const char *tok, size_t len, int f, uint64_t *bits, bool *star, struct ferry_err *err)
{
    const char *p = tok, *end = tok + len;
    *bits = 0;
    *star = len > 0 && tok[0] == '*';
    for (;;) {
        const char *item = p;
        int lo, hi, step = 1;
        if (p == end || *p == ',')
            return field_err(err, f, "empty list item in '%.*s'", tok, len);
        bool range = false;
        if (p < end && *p == '*') {
            p++;
            lo = FIELDS[f].lo;
            hi = FIELDS[f].hi;
            range = true;
        } else {
            int rc = parse_value(&p, end, f, &lo, err);
            if (rc)
                return rc;
            hi = lo;
            if (p < end && *p == '-') {
                p++;
                if ((rc = parse_value(&p, end, f, &hi, err)) != 0)
                    return rc;
                if (hi < lo)
                    return ferry_errf(err, FERRY_ECONFIG, "field %d (%s): range %d-%d is backwards", f + 1,
                                      FIELDS[f].name, lo, hi);
                range = true;
            }
        }
        if (p < end && *p == '/') {
            p++;
            const char *s = p;
            long v = 0;
            while (p < end && isdigit((unsigned char)*p) && v < 1000)
                v = v * 10 + (*p++ - '0');
            if (p == s)
                return field_err(err, f, "step after '/' is missing in '%.*s'", item, (size_t)(end - item));
            if (v < 1 || v > FIELDS[f].hi)
                return ferry_errf(err, FERRY_ECONFIG, "field %d (%s): step %ld is out of range 1-%d", f + 1,
                                  FIELDS[f].name, v, FIELDS[f].hi);
            step = (int)v;
            if (!range)   /* "a/n" means a, a+n, ... up to the field's maximum (as cronie) */
                hi = FIELDS[f].hi;
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= UINT64_C(1) << (f == F_DOW && v == 7 ? 0 : v);
        if (p == end)
            return 0;
        if (*p != ',')
            return field_err(err, f, "unexpected '%.*s'", p, (size_t)(end - p));
        p++;
    }
}

static const struct {
    const char *name, *expr;
} MACROS[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

int cron_parse(const char *expr, const struct ferry_tz *tz, struct cron_spec **out, struct ferry_err *err)
{
    *out = NULL;
    if (!expr)
        expr = "";
    const char *p = expr;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '@') {
        size_t n = strcspn(p, " \t\r\n");
        const char *rest = p + n;
        while (isspace((unsigned char)*rest))
            rest++;
        const char *found = NULL;
        for (size_t i = 0; i < FERRY_ARRAY_LEN(MACROS); i++)
            if (strlen(MACROS[i].name) == n && strncasecmp(p, MACROS[i].name, n) == 0)
                found = MACROS[i].expr;
        if (!found || *rest)
            return ferry_errf(err, FERRY_ECONFIG,
                              "cron expression '%s': unknown macro (use @yearly, @annually, @monthly, @weekly, "
                              "@daily, @midnight or @hourly)",
                              expr);
        p = found;
    }
    const char *tok[NFIELDS];
    size_t toklen[NFIELDS];
    int n = 0;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (n < NFIELDS) {
            tok[n] = s;
            toklen[n] = (size_t)(p - s);
        }
        n++;
    }
    if (n != NFIELDS)
        return ferry_errf(err, FERRY_ECONFIG,
                          "cron expression '%s': expected 5 fields (minute hour day-of-month month day-of-week), "
                          "got %d",
                          expr, n);
    struct cron_spec c = {.tz = tz};
    bool star[NFIELDS];
    for (int f = 0; f < NFIELDS; f++) {
        int rc = parse_field(tok[f], toklen[f], f, &c.bits[f], &star[f], err);
        if (rc)
            return rc;
    }
    c.dom_star = star[F_DOM];
    c.dow_star = star[F_DOW];
    if (c.dow_star) {
        /* Days combine with AND here, so e.g. "0 0 30 2 *" would never fire: say so now rather than
         * schedule nothing silently. */
        static const int maxdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool possible = false;
        for (int m = 1; m <= 12; m++)
            if (c.bits[F_MON] & (UINT64_C(1) << m))
                for (int d = 1; d <= maxdays[m - 1]; d++)
                    possible |= (c.bits[F_DOM] >> d) & 1;
        if (!possible)
            return ferry_errf(err, FERRY_ECONFIG,
                              "cron expression '%s': day-of-month never occurs in the given month(s)", expr);
    }
    *out = xmalloc(sizeof **out);
    **out = c;
    return 0;
}

int cron_every(int64_t interval_ns, struct cron_spec **out, struct ferry_err *err)
{
    *out = NULL;
    if (interval_ns <= 0)
        return ferry_errf(err, FERRY_ECONFIG, "every: interval must be positive (got %lld ns)",
                          (long long)interval_ns);
    struct cron_spec *c = xcalloc(1, sizeof *c);
    c->is_every = true;
    c->interval_ns = interval_ns;
    *out = c;
    return 0;
}

void cron_free(struct cron_spec *c) { free(c); }

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* 0 = Sunday (Sakamoto's method). */
static int weekday(int y, int m, int d)
{
    static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

static bool day_matches(const struct cron_spec *c, int y, int m, int d)
{
    bool dom = (c->bits[F_DOM] >> d) & 1;
    bool dow = (c->bits[F_DOW] >> weekday(y, m, d)) & 1;
    return c->dom_star || c->dow_star ? dom && dow : dom || dow;
}

/* Wall-clock cursor; advancing one unit resets the smaller ones and carries upward. */
struct wall {
    int y, mo, d, h, mi;
};

static void next_month(struct wall *w)
{
    w->d = 1, w->h = 0, w->mi = 0;
    if (++w->mo > 12)
        w->mo = 1, w->y++;
}

static void next_day(struct wall *w)
{
    w->h = 0, w->mi = 0;
    if (++w->d > days_in_month(w->y, w->mo))
        next_month(w);
}

static void next_hour(struct wall *w)
{
    w->mi = 0;
    if (++w->h > 23)
        next_day(w);
}

static void next_minute(struct wall *w)
{
    if (++w->mi > 59)
        next_hour(w);
}

/* The earliest representable wall time plus a day of margin for zone offsets: ns time covers
 * 1677-09-21 .. 2262-04-11. */
#define CRON_MIN_NS (INT64_C(-9214560000) * FERRY_NS_PER_SEC)   /* 1678-01-01T00:00:00Z */
#define CRON_MAX_YEAR 2261

int64_t cron_next(const struct cron_spec *c, int64_t t_ns)
{
    if (c->is_every) {
        int64_t q = t_ns / c->interval_ns;
        if (t_ns % c->interval_ns != 0 && t_ns < 0)
            q--;   /* floor, so negative times land on the grid too */
        if (q >= INT64_MAX / c->interval_ns)
            return INT64_MAX;
        return (q + 1) * c->interval_ns;
    }
    if (t_ns < CRON_MIN_NS)
        t_ns = CRON_MIN_NS;
    struct wall w;
    int sec, wd;
    int64_t nsec;
    if (c->tz)
        ferry_tz_utc_to_local(c->tz, t_ns, &w.y, &w.mo, &w.d, &w.h, &w.mi, &sec, &wd);
    else
        ferry_time_to_civil(t_ns, &w.y, &w.mo, &w.d, &w.h, &w.mi, &sec, &nsec);
    /* Fires are on whole minutes; the current minute has started (or is t itself), so it cannot be
     * strictly after t: start at the next one. */
    next_minute(&w);
    int limit_year = w.y + 5;
    if (limit_year > CRON_MAX_YEAR)
        limit_year = CRON_MAX_YEAR;
    for (;;) {
        if (w.y > limit_year)
            return INT64_MAX;
        if (!((c->bits[F_MON] >> w.mo) & 1)) {
            next_month(&w);
            continue;
        }
        if (!day_matches(c, w.y, w.mo, w.d)) {
            next_day(&w);
            continue;
        }
        if (!((c->bits[F_HOUR] >> w.h) & 1)) {
            next_hour(&w);
            continue;
        }
        uint64_t mins = c->bits[F_MIN] >> w.mi;
        if (!mins) {
            next_hour(&w);
            continue;
        }
        w.mi += __builtin_ctzll(mins);
        int64_t at;
        if (c->tz) {
            int64_t out[2];
            ferry_tz_local_to_utc(c->tz, w.y, w.mo, w.d, w.h, w.mi, 0, out);
            at = out[0];   /* normal: the instant; overlap: its first occurrence; gap: the gap's end */
        } else {
            at = ferry_time_from_civil(w.y, w.mo, w.d, w.h, w.mi, 0, 0);
        }
        if (at > t_ns)
            return at;
        next_minute(&w);
    }
}
