/* Time zones: offsets, local<->UTC conversions across the 2024 DST transitions, the POSIX footer
 * for dates after the transition table, odd offsets, hand-built TZif v1/v2 files, and name errors.
 * Expected epochs come from GNU date (the command is in the comment next to each value), never from
 * the code under test. */
#include <stdlib.h>

#include "core/time.h"
#include "core/tz.h"
#include "core/util.h"
#include "test.h"

#define S FERRY_NS_PER_SEC

static struct ferry_tz *load(const char *name)
{
    struct ferry_err err = {0};
    struct ferry_tz *tz = NULL;
    ASSERT_OK(ferry_tz_load(name, &tz, &err), &err);
    ASSERT_TRUE(tz != NULL);
    return tz;
}

static void expect_local(const struct ferry_tz *tz, int64_t t_sec, int y, int mo, int d, int h, int mi, int s,
                         int wd)
{
    int Y, MO, D, H, MI, SE, WD;
    ferry_tz_utc_to_local(tz, t_sec * S, &Y, &MO, &D, &H, &MI, &SE, &WD);
    ASSERT_EQ_INT(Y, y);
    ASSERT_EQ_INT(MO, mo);
    ASSERT_EQ_INT(D, d);
    ASSERT_EQ_INT(H, h);
    ASSERT_EQ_INT(MI, mi);
    ASSERT_EQ_INT(SE, s);
    ASSERT_EQ_INT(WD, wd);
}

TEST(tz_utc_builtin_works_without_tzdata)
{
    /* The built-in names must not touch the disk: point TZDIR at an empty directory. */
    setenv("TZDIR", test_tmpdir(), 1);
    const char *names[] = {"UTC", "Etc/UTC", "Z"};
    for (size_t i = 0; i < 3; i++) {
        struct ferry_tz *tz = load(names[i]);
        ASSERT_EQ_STR(ferry_tz_name(tz), names[i]);
        ASSERT_EQ_INT(ferry_tz_offset_at(tz, 1720000000 * S), 0);
        int64_t out[2];
        ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 3, 31, 2, 30, 0, out), 1);
        ASSERT_EQ_INT(out[0], INT64_C(1711852200) * S);   /* date -ud '2024-03-31 02:30' +%s */
        /* One ns before the epoch is 1969-12-31 23:59:59, a Wednesday (floor, not truncation). */
        int y, mo, d, h, mi, s, wd;
        ferry_tz_utc_to_local(tz, -1, &y, &mo, &d, &h, &mi, &s, &wd);
        ASSERT_EQ_INT(y, 1969);
        ASSERT_EQ_INT(s, 59);
        ASSERT_EQ_INT(wd, 3);
        ferry_tz_free(tz);
    }
}

TEST(tz_berlin_offsets_around_2024_transitions)
{
    struct ferry_tz *tz = load("Europe/Berlin");
    /* TZ=Europe/Berlin date -d '2024-03-31 01:59:59' +%s -> 1711846799 (+0100);
     * '2024-03-31 03:00' -> 1711846800 (+0200). */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1711846799) * S), 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1711846800) * S - 1), 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1711846800) * S), 7200);
    /* '2024-10-27 02:59:59 CEST' = 1729990799 (+0200); '2024-10-27 02:00 CET' = 1729990800 (+0100). */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1729990799) * S), 7200);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1729990800) * S), 3600);
    expect_local(tz, 1711846799, 2024, 3, 31, 1, 59, 59, 0);
    expect_local(tz, 1711846800, 2024, 3, 31, 3, 0, 0, 0);
    expect_local(tz, 1729990799, 2024, 10, 27, 2, 59, 59, 0);
    expect_local(tz, 1729990800, 2024, 10, 27, 2, 0, 0, 0);
    ferry_tz_free(tz);
}

TEST(tz_berlin_local_to_utc_gap_overlap_normal)
{
    struct ferry_tz *tz = load("Europe/Berlin");
    int64_t out[2];
    /* 02:30 on 2024-03-31 does not exist: the first instant after the gap is 03:00 CEST = 01:00Z
     * (TZ=Europe/Berlin date -d '2024-03-31 03:00' +%s -> 1711846800). */
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 3, 31, 2, 30, 0, out), 0);
    ASSERT_EQ_INT(out[0], INT64_C(1711846800) * S);
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 3, 31, 2, 0, 0, out), 0);
    ASSERT_EQ_INT(out[0], INT64_C(1711846800) * S);
    /* 02:30 on 2024-10-27 happens twice: date -d '2024-10-27 02:30 CEST' +%s -> 1729989000,
     * date -d '2024-10-27 02:30 CET' +%s -> 1729992600. */
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 10, 27, 2, 30, 0, out), 2);
    ASSERT_EQ_INT(out[0], INT64_C(1729989000) * S);
    ASSERT_EQ_INT(out[1], INT64_C(1729992600) * S);
    /* 03:00 that day is after the overlap: once, 1729994400 (date -d '2024-10-27 03:00' +%s). */
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 10, 27, 3, 0, 0, out), 1);
    ASSERT_EQ_INT(out[0], INT64_C(1729994400) * S);
    /* 01:59:59 just before the spring gap, +0100: 1711846799. */
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 3, 31, 1, 59, 59, out), 1);
    ASSERT_EQ_INT(out[0], INT64_C(1711846799) * S);
    ferry_tz_free(tz);
}

TEST(tz_new_york_2024_transitions)
{
    struct ferry_tz *tz = load("America/New_York");
    int64_t out[2];
    /* TZ=America/New_York date -d '2024-07-04 12:00' +%s -> 1720108800 (-0400). */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1720108800) * S), -4 * 3600);
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 7, 4, 12, 0, 0, out), 1);
    ASSERT_EQ_INT(out[0], INT64_C(1720108800) * S);
    /* Spring forward 2024-03-10 02:00 -> 03:00: '2024-03-10 03:00' -> 1710054000. */
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 3, 10, 2, 30, 0, out), 0);
    ASSERT_EQ_INT(out[0], INT64_C(1710054000) * S);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1710054000) * S - 1), -5 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1710054000) * S), -4 * 3600);
    /* Fall back 2024-11-03 02:00 -> 01:00: '2024-11-03 01:30 EDT' -> 1730611800,
     * '2024-11-03 01:30 EST' -> 1730615400. */
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 11, 3, 1, 30, 0, out), 2);
    ASSERT_EQ_INT(out[0], INT64_C(1730611800) * S);
    ASSERT_EQ_INT(out[1], INT64_C(1730615400) * S);
    expect_local(tz, 1730611800, 2024, 11, 3, 1, 30, 0, 0);
    expect_local(tz, 1730615400, 2024, 11, 3, 1, 30, 0, 0);
    ferry_tz_free(tz);
}

TEST(tz_far_future_uses_posix_footer)
{
    /* The tables end in 2037; later dates come from the footer rules. */
    struct ferry_tz *tz = load("Europe/Berlin");
    /* TZ=Europe/Berlin date -d '2100-07-01 12:00' +%s -> 4118119200 (+0200);
     * '2100-01-15 12:00' -> 4103694000 (+0100). */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(4118119200) * S), 7200);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(4103694000) * S), 3600);
    int64_t out[2];
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2100, 7, 1, 12, 0, 0, out), 1);
    ASSERT_EQ_INT(out[0], INT64_C(4118119200) * S);
    ferry_tz_free(tz);

    tz = load("America/New_York");
    /* '2100-07-01 12:00' -> 4118140800 (-0400); '2100-12-01 12:00' -> 4131363600 (-0500). */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(4118140800) * S), -4 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(4131363600) * S), -5 * 3600);
    ferry_tz_free(tz);

    /* Southern hemisphere footer (DST across new year, 30-minute DST):
     * TZ=Australia/Lord_Howe date -d '2100-01-15 12:00' +%s -> 4103658000 (+1100),
     * '2100-07-15 12:00' -> 4119298200 (+1030). */
    tz = load("Australia/Lord_Howe");
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(4103658000) * S), 11 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(4119298200) * S), 10 * 3600 + 1800);
    ferry_tz_free(tz);
}

TEST(tz_odd_offsets_kolkata_lord_howe)
{
    struct ferry_tz *tz = load("Asia/Kolkata");
    /* TZ=Asia/Kolkata date -d '2024-06-01 05:30' +%s -> 1717200000 (+0530); a Saturday. */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1717200000) * S), 5 * 3600 + 1800);
    expect_local(tz, 1717200000, 2024, 6, 1, 5, 30, 0, 6);
    ferry_tz_free(tz);

    tz = load("Australia/Lord_Howe");
    int64_t out[2];
    /* zdump -v -c 2024,2025 Australia/Lord_Howe: 2024-04-06 15:00:00Z falls back +11 -> +1030, so
     * 01:30 local on 2024-04-07 occurs twice, 30 minutes apart: 1712413800 (+11) and 1712415600
     * (+1030, TZ=Australia/Lord_Howe date -d '2024-04-07 01:30' +%s). */
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 4, 7, 1, 30, 0, out), 2);
    ASSERT_EQ_INT(out[0], INT64_C(1712413800) * S);
    ASSERT_EQ_INT(out[1], INT64_C(1712415600) * S);
    /* 2024-10-05 15:30Z springs 02:00 -> 02:30: 02:15 does not exist; date -ud '2024-10-05 15:30'
     * +%s -> 1728142200. */
    ASSERT_EQ_INT(ferry_tz_local_to_utc(tz, 2024, 10, 6, 2, 15, 0, out), 0);
    ASSERT_EQ_INT(out[0], INT64_C(1728142200) * S);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1728142200) * S), 11 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1728142200) * S - 1), 10 * 3600 + 1800);
    ferry_tz_free(tz);
}

TEST(tz_unknown_and_unsafe_names_are_rejected)
{
    const char *bad[] = {"Nowhere/City", "../etc/passwd", "Europe/../../etc/passwd", "/etc/localtime", "",
                         "America" /* a directory */, "zone1970.tab" /* not a TZif file */};
    for (size_t i = 0; i < FERRY_ARRAY_LEN(bad); i++) {
        struct ferry_err err = {0};
        struct ferry_tz *tz = (struct ferry_tz *)1;
        ASSERT_EQ_INT(ferry_tz_load(bad[i], &tz, &err), FERRY_ECONFIG);
        ASSERT_TRUE(tz == NULL);
        char want[128];
        snprintf(want, sizeof want, "unknown time zone '%s'", bad[i]);
        ASSERT_CONTAINS(err.msg, want);
    }
    struct ferry_err err = {0};
    struct ferry_tz *tz = NULL;
    ASSERT_EQ_INT(ferry_tz_load(NULL, &tz, &err), FERRY_ECONFIG);
}

/* ---- hand-built TZif files in a private TZDIR ---- */

static size_t put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

static size_t put_header(unsigned char *p, char version, uint32_t timecnt, uint32_t typecnt, uint32_t charcnt)
{
    memset(p, 0, 44);
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)version;
    put32(p + 32, timecnt);
    put32(p + 36, typecnt);
    put32(p + 40, charcnt);
    return 44;
}

static void write_bytes(const char *name, const unsigned char *b, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(b, 1, n, f), n);
    fclose(f);
}

TEST(tz_tzif_version1_without_footer)
{
    /* v1: two transitions, +1h DST between 1000000000 and 1100000000; type 0 (UTC) before the first
     * transition and, with no footer, the last transition's type afterwards. */
    unsigned char b[256];
    size_t n = put_header(b, 0, 2, 2, 8);
    n += put32(b + n, 1000000000);
    n += put32(b + n, 1100000000);
    b[n++] = 1;
    b[n++] = 0;
    n += put32(b + n, 0), b[n++] = 0, b[n++] = 0;     /* type 0: UTC+0, std, "STD" */
    n += put32(b + n, 3600), b[n++] = 1, b[n++] = 4;  /* type 1: UTC+1, dst, "DST" */
    memcpy(b + n, "STD\0DST\0", 8), n += 8;
    write_bytes("V1", b, n);
    setenv("TZDIR", test_tmpdir(), 1);
    struct ferry_tz *tz = load("V1");
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(999999999) * S), 0);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1000000000) * S), 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1099999999) * S), 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1100000000) * S), 0);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(4000000000) * S), 0);
    ferry_tz_free(tz);

    /* Truncated: the same file cut inside the transition table. */
    write_bytes("Cut", b, 48);
    struct ferry_err err = {0};
    ASSERT_EQ_INT(ferry_tz_load("Cut", &tz, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "truncated");
}

/* A v2 file with no transitions whose footer alone defines the zone. */
static void write_footer_zone(const char *name, const char *footer)
{
    unsigned char b[512];
    size_t n = 0;
    for (int block = 0; block < 2; block++) {   /* the v1 block, then the v2 block */
        n += put_header(b + n, '2', 0, 1, 4);
        n += put32(b + n, 3 * 3600), b[n++] = 0, b[n++] = 0;
        memcpy(b + n, "XXX\0", 4), n += 4;
    }
    n += (size_t)snprintf((char *)b + n, sizeof b - n, "\n%s\n", footer);
    write_bytes(name, b, n);
}

TEST(tz_footer_julian_forms_and_extended_times)
{
    /* J60 = March 1 even in leap years (Feb 29 is never counted), at -1:00 = the previous day 23:00;
     * zero-based day 300 = Oct 28 (Oct 27 in a leap year), at 26:00 = the next day 02:00.
     * Cross-checked with glibc: TZ='XXX-3YYY,J60/-1,300/26' date -d '<UTC time> Z' +%z. */
    write_footer_zone("Ext", "XXX-3YYY,J60/-1,300/26");
    setenv("TZDIR", test_tmpdir(), 1);
    struct ferry_tz *tz = load("Ext");
    /* 2030: date -ud '2030-02-28 20:00' +%s = 1898539200 (+0400 from then; +0300 a second before). */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1898539199) * S), 3 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1898539200) * S), 4 * 3600);
    /* date -ud '2030-10-28 22:00' +%s = 1919455200: back to +0300. */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1919455199) * S), 4 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1919455200) * S), 3 * 3600);
    /* Leap year 2032: '2032-02-28 20:00Z' = 1961611200 still +0300 (J60 is Mar 1, start Feb 29
     * 20:00Z); '2032-10-27 22:00Z' = 1982527200 is the end. */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1961611200) * S), 3 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1961697600) * S), 4 * 3600);   /* Feb 29 20:00Z */
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1982527199) * S), 4 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1982527200) * S), 3 * 3600);
    ferry_tz_free(tz);

    /* RFC 8536 section 3.3.1: "0/0,J365/25" is DST all year (the end, Dec 31 25:00, is the next
     * start). glibc agrees (TZ='XXX-3YYY,0/0,J365/25' date -d '<t> Z' +%z -> +0400) at 1924979400
     * (2030-12-31 20:30Z), 1906502400 and 1924992000; at the seam 1924981200 (21:00Z) glibc briefly
     * says +0300, which contradicts the RFC, so the RFC's reading is asserted there. */
    write_footer_zone("Perm", "XXX-3YYY,0/0,J365/25");
    tz = load("Perm");
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1924979400) * S), 4 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1924981200) * S), 4 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1906502400) * S), 4 * 3600);
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, INT64_C(1924992000) * S), 4 * 3600);
    ferry_tz_free(tz);

    /* Footer without DST, written with an angle-bracket name and minutes: UTC+5:45. */
    write_footer_zone("Nepal", "<+0545>-5:45");
    tz = load("Nepal");
    ASSERT_EQ_INT(ferry_tz_offset_at(tz, 0), 5 * 3600 + 45 * 60);
    ferry_tz_free(tz);

    /* A malformed footer is an error naming the string. */
    write_footer_zone("Bad", "XXX-3YYY,M13.1.0,M1.1.0");
    struct ferry_err err = {0};
    ASSERT_EQ_INT(ferry_tz_load("Bad", &tz, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "M13.1.0");
}
