/* Time zones from TZif files (RFC 8536, versions 1 to 4) without the C library's process-global
 * TZ/localtime machinery: the transition table gives offsets up to its last entry, and the POSIX TZ
 * string in the footer ("CET-1CEST,M3.5.0,M10.5.0/3") gives them afterwards. Everything inside is
 * computed in whole seconds (int64) so the 64-bit transition times of v2+ files (which reach far
 * outside the int64 nanosecond range) need no special care; only the public API speaks ns.
 * A loaded zone is immutable, so threads may share it. Leap-second records ("right/" zones) are
 * skipped: ferry's clock is POSIX time. */
#include "core/tz.h"

#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"

#define TZ_FILE_MAX (1024 * 1024)   /* real zoneinfo files are < 5 KiB; bound the read anyway */
#define SECS_PER_DAY INT64_C(86400)

/* One rule date of a POSIX TZ string: Jn (1-365, Feb 29 never counted), n (0-365), or Mm.w.d. */
struct tz_rule_date {
    char kind;           /* 'J', 'N' (zero-based day) or 'M' */
    int day, week, month, wday;
    int32_t time;        /* seconds after local midnight; v3 allows -167h..167h */
};

struct tz_posix {
    int32_t std_off;     /* UTC offset east positive (POSIX writes it west positive) */
    int32_t dst_off;
    bool has_dst;
    struct tz_rule_date start, end;
};

struct ferry_tz {
    char *name;
    size_t ntrans;
    int64_t *trans;      /* ascending transition instants, seconds */
    uint8_t *trans_type; /* index into offs for each transition */
    size_t ntypes;
    int32_t *offs;       /* utoff of each local time type */
    bool has_footer;
    struct tz_posix footer;
};

/* ---- calendar helpers (seconds; duplicated from time.c so huge v2 times stay in range) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
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

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday_of_days(int64_t days) { return (int)(((days % 7) + 7 + 4) % 7); }

/* ---- POSIX TZ string (RFC 8536 section 3.3, POSIX.1 TZ with the v3 extensions) ---- */

static bool parse_name(const char **pp)
{
    const char *p = *pp;
    if (*p == '<') {
        const char *q = strchr(p, '>');
        if (!q || q - p < 4)   /* at least 3 characters between the brackets */
            return false;
        *pp = q + 1;
        return true;
    }
    const char *s = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    if (p - s < 3)
        return false;
    *pp = p;
    return true;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h; returns seconds. */
static bool parse_hms(const char **pp, int max_h, int32_t *out)
{
    const char *p = *pp;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return false;
    int h = 0, m = 0, s = 0, nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 3)
        h = h * 10 + (*p++ - '0'), nd++;
    if (h > max_h)
        return false;
    if (*p == ':') {
        p++;
        if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
            return false;
        m = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') {
            p++;
            if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
                return false;
            s = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    *pp = p;
    return true;
}

static bool parse_int(const char **pp, int lo, int hi, int *out)
{
    const char *p = *pp;
    if (*p < '0' || *p > '9')
        return false;
    long v = 0;
    while (*p >= '0' && *p <= '9' && v <= hi)
        v = v * 10 + (*p++ - '0');
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    *pp = p;
    return true;
}

static bool parse_rule_date(const char **pp, struct tz_rule_date *r)
{
    const char *p = *pp;
    if (*p == 'J') {
        p++;
        r->kind = 'J';
        if (!parse_int(&p, 1, 365, &r->day))
            return false;
    } else if (*p == 'M') {
        p++;
        r->kind = 'M';
        if (!parse_int(&p, 1, 12, &r->month) || *p++ != '.' || !parse_int(&p, 1, 5, &r->week) ||
            *p++ != '.' || !parse_int(&p, 0, 6, &r->wday))
            return false;
    } else {
        r->kind = 'N';
        if (!parse_int(&p, 0, 365, &r->day))
            return false;
    }
    r->time = 2 * 3600;   /* POSIX default transition time 02:00 */
    if (*p == '/') {
        p++;
        if (!parse_hms(&p, 167, &r->time))
            return false;
    }
    *pp = p;
    return true;
}

static bool parse_posix_tz(const char *s, struct tz_posix *out)
{
    const char *p = s;
    memset(out, 0, sizeof *out);
    int32_t west;
    if (!parse_name(&p) || !parse_hms(&p, 24, &west))
        return false;
    out->std_off = -west;
    if (*p == '\0')
        return true;
    if (!parse_name(&p))
        return false;
    out->has_dst = true;
    out->dst_off = out->std_off + 3600;   /* POSIX: DST is one hour ahead unless stated */
    if (*p != ',' && *p != '\0') {
        if (!parse_hms(&p, 24, &west))
            return false;
        out->dst_off = -west;
    }
    if (*p == '\0') {
        /* No rule: POSIX leaves it implementation-defined; glibc and tzcode use the US rules. */
        p = ",M3.2.0,M11.1.0";
    }
    if (*p++ != ',' || !parse_rule_date(&p, &out->start) || *p++ != ',' || !parse_rule_date(&p, &out->end))
        return false;
    return *p == '\0';
}

/* Local (wall-clock) seconds since the epoch of a rule's transition in the given year. */
static int64_t rule_local_secs(const struct tz_rule_date *r, int64_t year)
{
    int64_t days;
    if (r->kind == 'J') {
        /* Jn counts 1..365 and never Feb 29, so days from March on shift by one in leap years. */
        days = days_from_civil(year, 1, 1) + r->day - 1 + (is_leap(year) && r->day >= 60);
    } else if (r->kind == 'N') {
        days = days_from_civil(year, 1, 1) + r->day;
    } else {
        int64_t first = days_from_civil(year, r->month, 1);
        int d = 1 + (r->wday - weekday_of_days(first) + 7) % 7 + (r->week - 1) * 7;
        while (d > days_in_month(year, r->month))   /* week 5 = the last such weekday */
            d -= 7;
        days = first + d - 1;
    }
    return days * SECS_PER_DAY + r->time;
}

static int32_t posix_offset_at(const struct tz_posix *z, int64_t t)
{
    if (!z->has_dst)
        return z->std_off;
    int64_t y;
    int m, d;
    civil_from_days(floor_div(t + z->std_off, SECS_PER_DAY), &y, &m, &d);
    /* The start is written in standard time, the end in daylight time. A DST period begins at the
     * start of year k and ends at the first end after it: the same year (northern hemisphere) or
     * the next (southern). Looking at the periods begun in y-1 and y also covers v3 transition
     * times that push a date across new year ("J365/25"). */
    for (int64_t k = y - 1; k <= y; k++) {
        int64_t start = rule_local_secs(&z->start, k) - z->std_off;
        int64_t end = rule_local_secs(&z->end, k) - z->dst_off;
        if (end <= start)
            end = rule_local_secs(&z->end, k + 1) - z->dst_off;
        if (t >= start && t < end)
            return z->dst_off;
    }
    return z->std_off;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chr;
};

static bool read_header(const unsigned char *p, size_t len, char *version, struct tzif_counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = (char)p[4];
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chr = be32(p + 40);
    /* Bounded counts keep the size arithmetic below far from overflow. */
    return c->type >= 1 && c->type <= 256 && c->time <= 1000000 && c->leap <= 100000 && c->chr <= 100000 &&
           c->isut <= 256 && c->isstd <= 256;
}

static size_t block_size(const struct tzif_counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * 6 + c->chr + c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int bad_file(struct ferry_err *err, const char *name, const char *why)
{
    return ferry_errf(err, FERRY_ECONFIG, "time zone '%s': invalid zoneinfo file (%s)", name, why);
}

static int parse_tzif(struct ferry_tz *z, const unsigned char *buf, size_t len, struct ferry_err *err)
{
    char version;
    struct tzif_counts c;
    if (!read_header(buf, len, &version, &c))
        return bad_file(err, z->name, "not a TZif file");
    size_t tsize = 4;
    const unsigned char *p = buf + 44;
    size_t v1 = block_size(&c, 4);
    if (v1 > len - 44)
        return bad_file(err, z->name, "truncated");
    if (version >= '2') {
        /* Skip the 32-bit block: the second header and 64-bit data supersede it. */
        p += v1;
        if (!read_header(p, len - (size_t)(p - buf), &version, &c))
            return bad_file(err, z->name, "bad second header");
        p += 44;
        tsize = 8;
        if (block_size(&c, 8) > len - (size_t)(p - buf))
            return bad_file(err, z->name, "truncated");
    }
    z->ntrans = c.time;
    z->ntypes = c.type;
    z->trans = xcalloc(c.time ? c.time : 1, sizeof *z->trans);
    z->trans_type = xcalloc(c.time ? c.time : 1, 1);
    z->offs = xcalloc(c.type, sizeof *z->offs);
    for (size_t i = 0; i < c.time; i++) {
        z->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
        if (i > 0 && z->trans[i] <= z->trans[i - 1])
            return bad_file(err, z->name, "transition times not ascending");
    }
    p += c.time * tsize;
    for (size_t i = 0; i < c.time; i++) {
        z->trans_type[i] = p[i];
        if (p[i] >= c.type)
            return bad_file(err, z->name, "transition type out of range");
    }
    p += c.time;
    for (size_t i = 0; i < c.type; i++) {
        int32_t off = (int32_t)be32(p + i * 6);
        if (off < -25 * 3600 || off > 26 * 3600)   /* RFC 8536 recommends -89999..93599 */
            return bad_file(err, z->name, "UTC offset out of range");
        z->offs[i] = off;
    }
    p += c.type * 6 + c.chr + c.leap * (tsize + 4) + c.isstd + c.isut;
    if (tsize == 8) {
        /* Footer: "\n" TZ-string "\n". An empty string means "unspecified after the table". */
        size_t rest = len - (size_t)(p - buf);
        if (rest < 2 || p[0] != '\n')
            return bad_file(err, z->name, "missing footer");
        const unsigned char *nl = memchr(p + 1, '\n', rest - 1);
        if (!nl)
            return bad_file(err, z->name, "unterminated footer");
        size_t n = (size_t)(nl - p - 1);
        if (n > 0) {
            char *s = xstrndup((const char *)p + 1, n);
            bool ok = parse_posix_tz(s, &z->footer);
            if (!ok) {
                ferry_errf(err, FERRY_ECONFIG, "time zone '%s': invalid zoneinfo file (bad TZ string '%s')",
                           z->name, s);
                free(s);
                return FERRY_ECONFIG;
            }
            free(s);
            z->has_footer = true;
        }
    }
    return 0;
}

static bool name_ok(const char *name)
{
    if (!name || !*name || name[0] == '/' || strstr(name, "..") || strlen(name) > 255)
        return false;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '/' ||
              ch == '_' || ch == '-' || ch == '+' || ch == '.'))
            return false;
    }
    return true;
}

int ferry_tz_load(const char *name, struct ferry_tz **out, struct ferry_err *err)
{
    *out = NULL;
    if (!name_ok(name))
        return ferry_errf(err, FERRY_ECONFIG, "unknown time zone '%s'", name ? name : "");
    struct ferry_tz *z = xcalloc(1, sizeof *z);
    z->name = xstrdup(name);
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 || strcmp(name, "Z") == 0) {
        /* Built in: works on hosts without tzdata (containers). */
        z->ntypes = 1;
        z->offs = xcalloc(1, sizeof *z->offs);
        *out = z;
        return 0;
    }
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char *path = xasprintf("%s/%s", dir, name);
    char *buf = NULL;
    size_t len = 0;
    struct ferry_err rerr = {0};
    int rc = file_read_all(path, TZ_FILE_MAX, &buf, &len, &rerr);
    free(path);
    if (rc) {
        ferry_tz_free(z);
        return ferry_errf(err, FERRY_ECONFIG, "unknown time zone '%s' (%s)", name, rerr.msg);
    }
    if (len < 4 || memcmp(buf, "TZif", 4) != 0) {
        free(buf);
        ferry_tz_free(z);
        return ferry_errf(err, FERRY_ECONFIG, "unknown time zone '%s' (not a zoneinfo file)", name);
    }
    rc = parse_tzif(z, (const unsigned char *)buf, len, err);
    free(buf);
    if (rc) {
        ferry_tz_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

void ferry_tz_free(struct ferry_tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->trans_type);
    free(tz->offs);
    free(tz);
}

const char *ferry_tz_name(const struct ferry_tz *tz) { return tz->name; }

static int32_t offset_at_sec(const struct ferry_tz *z, int64_t t)
{
    if (z->ntrans == 0)
        return z->has_footer ? posix_offset_at(&z->footer, t) : z->offs[0];
    if (t < z->trans[0])
        return z->offs[0];   /* RFC 8536: type 0 applies before the first transition */
    if (t >= z->trans[z->ntrans - 1] && z->has_footer)
        return posix_offset_at(&z->footer, t);
    /* Last transition <= t. */
    size_t lo = 0, hi = z->ntrans;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->offs[z->trans_type[lo]];
}

int32_t ferry_tz_offset_at(const struct ferry_tz *tz, int64_t t_ns)
{
    return offset_at_sec(tz, floor_div(t_ns, FERRY_NS_PER_SEC));
}

static int64_t sec_to_ns(int64_t s)
{
    if (s > INT64_MAX / FERRY_NS_PER_SEC)
        return INT64_MAX;
    if (s < INT64_MIN / FERRY_NS_PER_SEC)
        return INT64_MIN;
    return s * FERRY_NS_PER_SEC;
}

int ferry_tz_local_to_utc(const struct ferry_tz *tz, int year, int month, int day, int hour, int min, int sec,
                          int64_t out_ns[2])
{
    int64_t L = days_from_civil(year, month, day) * SECS_PER_DAY + hour * INT64_C(3600) + min * INT64_C(60) + sec;
    /* Candidate offsets: those in effect two days either side (offsets are < 26 h, so every instant
     * showing wall time L lies between) and those at the instants they suggest, which catches two
     * transitions close together. An instant t = L - o is a solution when o is in effect at t. */
    int32_t offs[4];
    offs[0] = offset_at_sec(tz, L - 2 * SECS_PER_DAY);
    offs[1] = offset_at_sec(tz, L + 2 * SECS_PER_DAY);
    offs[2] = offset_at_sec(tz, L - offs[0]);
    offs[3] = offset_at_sec(tz, L - offs[1]);
    int64_t sol[4];
    int n = 0;
    int32_t omin = offs[0], omax = offs[0];
    for (int i = 0; i < 4; i++) {
        if (offs[i] < omin)
            omin = offs[i];
        if (offs[i] > omax)
            omax = offs[i];
        int64_t t = L - offs[i];
        if (offset_at_sec(tz, t) != offs[i])
            continue;
        bool dup = false;
        for (int j = 0; j < n; j++)
            dup |= sol[j] == t;
        if (!dup)
            sol[n++] = t;
    }
    for (int i = 1; i < n; i++)   /* insertion sort: at most 4 */
        for (int j = i; j > 0 && sol[j] < sol[j - 1]; j--) {
            int64_t x = sol[j];
            sol[j] = sol[j - 1];
            sol[j - 1] = x;
        }
    if (n >= 2) {
        /* Only the first and last occurrences matter (more than two would need three transitions
         * within a day, which no zone has). */
        out_ns[0] = sec_to_ns(sol[0]);
        out_ns[1] = sec_to_ns(sol[n - 1]);
        return 2;
    }
    if (n == 1) {
        out_ns[0] = sec_to_ns(sol[0]);
        return 1;
    }
    /* A gap: wall time jumps over L at the transition T, in (L - omax, L - omin]. Before T the wall
     * time is < L and from T on it is > L, so bisect on that. */
    int64_t lo = L - omax, hi = L - omin;   /* wall(lo) < L, wall(hi) > L */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + offset_at_sec(tz, mid) > L)
            hi = mid;
        else
            lo = mid;
    }
    out_ns[0] = sec_to_ns(hi);
    out_ns[1] = out_ns[0];
    return 0;
}

void ferry_tz_utc_to_local(const struct ferry_tz *tz, int64_t t_ns, int *year, int *month, int *day, int *hour,
                           int *min, int *sec, int *wday)
{
    int64_t t = floor_div(t_ns, FERRY_NS_PER_SEC) + offset_at_sec(tz, floor_div(t_ns, FERRY_NS_PER_SEC));
    int64_t days = floor_div(t, SECS_PER_DAY);
    int64_t sod = t - days * SECS_PER_DAY;
    int64_t y;
    civil_from_days(days, &y, month, day);
    *year = (int)y;
    *hour = (int)(sod / 3600);
    *min = (int)(sod / 60 % 60);
    *sec = (int)(sod % 60);
    if (wday)
        *wday = weekday_of_days(days);
}
