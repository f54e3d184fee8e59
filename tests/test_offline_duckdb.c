/* offline/: the DuckDB offline store. Source files are made here with DuckDB itself; expected values
 * come from hand computation or from independent DuckDB queries (GROUP BY/arg_max and epoch_ns
 * filters, where the backend uses a window function and typed bounds). Emitted batches are decoded
 * with feast_value_to_json and compared with Feast's JSON rendering of the expected values. */
#include "test.h"

#include <stdarg.h>
#include <sys/resource.h>
#include <time.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "duckdb.h"
#pragma GCC diagnostic pop

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"
#include "core/util.h"
#include "feast/feast.h"
#include "offline/offline.h"
#include "offline_testlib.h"

/* ---- an independent DuckDB for making files and computing expectations ---- */

struct tdb { duckdb_database db; duckdb_connection con; };

static void tdb_open(struct tdb *t)
{
    if (duckdb_open(NULL, &t->db) == DuckDBError || duckdb_connect(t->db, &t->con) == DuckDBError)
        test_fail(__FILE__, __LINE__, "cannot open test DuckDB");
    duckdb_result r;
    duckdb_query(t->con, "SET TimeZone = 'UTC'", &r);
    duckdb_destroy_result(&r);
}

static void tdb_close(struct tdb *t)
{
    duckdb_disconnect(&t->con);
    duckdb_close(&t->db);
}

/* Runs SQL built with printf; the result stays in *r (caller destroys) or is dropped when r is NULL. */
__attribute__((format(printf, 3, 4)))
static void tdb_sql(struct tdb *t, duckdb_result *r, const char *fmt, ...)
{
    char *sql;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&sql, fmt, ap) < 0)
        test_fail(__FILE__, __LINE__, "vasprintf");
    va_end(ap);
    duckdb_result tmp;
    duckdb_result *res = r ? r : &tmp;
    if (duckdb_query(t->con, sql, res) == DuckDBError)
        test_fail(__FILE__, __LINE__, "test SQL failed: %s\n  %s", duckdb_result_error(res), sql);
    free(sql);
    if (!r)
        duckdb_destroy_result(&tmp);
}

/* Makes <tmpdir>/<name> from a SELECT. */
static const char *make_file(const char *name, const char *select)
{
    static char paths[16][512];
    static int n;
    char *p = paths[n++ % 16];
    snprintf(p, 512, "%s/%s", test_tmpdir(), name);
    struct tdb t;
    tdb_open(&t);
    tdb_sql(&t, NULL, "COPY (%s) TO '%s'%s", select, p, str_ends_with(name, ".csv") ? " (HEADER)" : "");
    tdb_close(&t);
    return p;
}

/* Expected instants by hand, through the C library rather than ferry's own time code. */
static int64_t utc(int y, int mo, int d, int h, int mi, int sec, int64_t ns)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
                    .tm_sec = sec};
    return (int64_t)timegm(&tm) * FERRY_NS_PER_SEC + ns;
}

/* ---- views by hand ---- */

static void add_feature(struct feast_feature **a, size_t *n, const char *name, int vt)
{
    *a = xrealloc(*a, (*n + 1) * sizeof **a);
    (*a)[*n] = (struct feast_feature){.name = xstrdup(name), .vtype = vt};
    (*n)++;
}

static void view_init(struct feast_view *v, const char *name, const char *path, const char *ts,
                      const char *created)
{
    memset(v, 0, sizeof *v);
    v->name = xstrdup(name);
    v->kind = FEAST_VIEW_BATCH;
    v->online = true;
    v->source.name = xstrdup(name);
    v->source.kind = FEAST_SOURCE_FILE;
    v->source.path = xstrdup(path);
    v->source.file_format = str_ends_with(path, ".csv") ? FEAST_FORMAT_CSV : FEAST_FORMAT_PARQUET;
    v->source.timestamp_field = xstrdup(ts);
    v->source.created_column = xstrdup(created);
    v->created_ns = v->updated_ns = FERRY_TIME_NONE;
}

static void view_key(struct feast_view *v, const char *name, int vt)
{
    v->entities = xrealloc(v->entities, (v->nentities + 1) * sizeof *v->entities);
    v->entities[v->nentities++] = xstrdup(name);
    add_feature(&v->entity_columns, &v->nentity_columns, name, vt);
}

static void view_feat(struct feast_view *v, const char *name, int vt)
{
    add_feature(&v->features, &v->nfeatures, name, vt);
}

static void view_map(struct feast_view *v, const char *src, const char *dst)
{
    struct feast_source *s = &v->source;
    s->field_mapping = xrealloc(s->field_mapping, (s->nfield_mapping + 1) * sizeof *s->field_mapping);
    s->field_mapping[s->nfield_mapping++] = (struct feast_kv){xstrdup(src), xstrdup(dst)};
}

/* ---- running a pull (rows collected by offline_testlib's ot_collect) ---- */

struct run {
    struct ferry_config cfg;
    struct offline_store *st;
    struct feast_schema schema;
    struct offline_pull pull;
    struct ot_got got;
    struct ferry_err err;
    volatile int cancel;
};

/* The store the pull is for (NULL = SQLite, which wants rows in key order; "redis" does not) and
 * ferry.duckdb.partition_rows (0 = derived from the memory limit), for the next run_init. */
static const char *g_online_type;
static uint64_t g_partition_rows;

static void run_init(struct run *r, const struct feast_view *v, int64_t start, int64_t end, size_t batch)
{
    memset(r, 0, sizeof *r);
    r->cfg.repo_dir = (char *)test_tmpdir();
    r->cfg.online.type = (char *)g_online_type;
    r->cfg.ferry.duckdb_partition_rows = g_partition_rows;
    if (offline_open(&r->cfg, &r->st, &r->err) != 0)
        test_fail(__FILE__, __LINE__, "offline_open: %s", r->err.msg);
    if (feast_schema_init(&r->schema, v, 3, &r->err) != 0)
        test_fail(__FILE__, __LINE__, "schema: %s", r->err.msg);
    r->pull = (struct offline_pull){.view = v, .schema = &r->schema, .start_ns = start, .end_ns = end,
                                    .batch_rows = batch, .emit = ot_collect, .ctx = &r->got,
                                    .cancel = &r->cancel};
}

static int run_pull(struct run *r) { return offline_pull_latest(r->st, &r->pull, &r->err); }

static void run_cleanup(struct run *r)
{
    offline_close(r->st);
    feast_schema_cleanup(&r->schema);
    ot_got_cleanup(&r->got);
}

#define NS(sec) ((int64_t)(sec) * FERRY_NS_PER_SEC)
#define ALL_START INT64_C(0)
#define ALL_END (INT64_MAX - 1)

static const char *dbl_json(double d)
{
    static char bufs[8][FEAST_PYFLOAT_BUF];
    static int i;
    return feast_py_float_repr(d, bufs[i++ % 8]);
}

/* ---- tests ---- */

/* Latest row per driver in a window in the middle of the data, against GROUP BY + arg_max with an
 * epoch_ns filter (a different formulation from the backend's QUALIFY with typed bounds). */
TEST(offline_driver_stats_latest_matches_independent_query)
{
    const char *fx = test_fixture("driver_stats.parquet");
    struct feast_view v;
    view_init(&v, "driver_hourly_stats", fx, "event_timestamp", "created");
    view_key(&v, "driver_id", FEAST_VT_INT64);
    view_feat(&v, "conv_rate", FEAST_VT_FLOAT);
    view_feat(&v, "acc_rate", FEAST_VT_FLOAT);
    view_feat(&v, "avg_daily_trips", FEAST_VT_INT64);
    int64_t start = NS(1649000000), end = NS(1649500000);   /* 2022-04-03 .. 2022-04-09 */
    struct run r;
    run_init(&r, &v, start, end, 10000);
    ASSERT_OK(offline_check(r.st, &r.pull, &r.err), &r.err);
    ASSERT_OK(run_pull(&r), &r.err);

    struct tdb t;
    tdb_open(&t);
    duckdb_result q;
    tdb_sql(&t, &q, "SELECT driver_id, epoch_ns(max(event_timestamp)), "
            "arg_max(conv_rate, event_timestamp), arg_max(acc_rate, event_timestamp), "
            "arg_max(avg_daily_trips, event_timestamp), epoch_ns(arg_max(created, event_timestamp)) "
            "FROM read_parquet('%s') WHERE epoch_ns(event_timestamp) >= %" PRId64
            " AND epoch_ns(event_timestamp) <= %" PRId64 " GROUP BY driver_id", fx, start, end);
    idx_t n = duckdb_row_count(&q);
    ASSERT_EQ_INT(n, 5);
    ASSERT_EQ_INT(r.pull.rows_out, n);
    ASSERT_EQ_INT(r.got.n, n);
    for (idx_t i = 0; i < n; i++) {
        const struct ot_row *o = ot_find_int(&r.got, "driver_id", FEAST_VT_INT64, duckdb_value_int64(&q, 0, i));
        ASSERT_TRUE(o != NULL);
        ASSERT_EQ_INT(o->ev, duckdb_value_int64(&q, 1, i));
        ASSERT_EQ_INT(o->cr, duckdb_value_int64(&q, 5, i));
        char want[256];
        snprintf(want, sizeof want, "%s|%s|%" PRId64, dbl_json((double)duckdb_value_float(&q, 2, i)),
                 dbl_json((double)duckdb_value_float(&q, 3, i)), duckdb_value_int64(&q, 4, i));
        ASSERT_EQ_STR(o->vals, want);
        /* the window really cut the data: the file goes on to 2022 */
        ASSERT_TRUE(o->ev <= end && o->ev < NS(1649782800));
    }
    duckdb_destroy_result(&q);
    tdb_close(&t);
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* Both ends inclusive: a row exactly at start and one exactly at end are read; a row 1 us before
 * start or after end is not. Hand-computed. */
TEST(offline_window_both_ends_inclusive)
{
    /* key 1: start-1us (10), start (11); key 2: end (20), end+1us (21); key 3: only start-1us;
     * key 4: only end+1us. Start = 2021-01-01, end = 2021-01-02 (UTC). */
    const char *p = make_file("w.parquet",
        "SELECT * FROM (VALUES "
        "(1, TIMESTAMP '2020-12-31 23:59:59.999999', 10), (1, TIMESTAMP '2021-01-01 00:00:00', 11), "
        "(2, TIMESTAMP '2021-01-02 00:00:00', 20), (2, TIMESTAMP '2021-01-02 00:00:00.000001', 21), "
        "(3, TIMESTAMP '2020-12-31 23:59:59.999999', 30), (4, TIMESTAMP '2021-01-02 00:00:00.000001', 40)"
        ") t(k, ts, v)");
    struct feast_view v;
    view_init(&v, "win", p, "ts", NULL);
    view_key(&v, "k", FEAST_VT_INT64);
    view_feat(&v, "v", FEAST_VT_INT64);
    int64_t start = utc(2021, 1, 1, 0, 0, 0, 0);
    int64_t end = utc(2021, 1, 2, 0, 0, 0, 0);
    struct run r;
    run_init(&r, &v, start, end, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 2);
    const struct ot_row *a = ot_find_int(&r.got, "k", FEAST_VT_INT64, 1);
    const struct ot_row *b = ot_find_int(&r.got, "k", FEAST_VT_INT64, 2);
    ASSERT_TRUE(a && b);
    ASSERT_EQ_STR(a->vals, "11");
    ASSERT_EQ_INT(a->ev, start);
    ASSERT_EQ_INT(a->cr, FERRY_TIME_NONE);
    ASSERT_EQ_STR(b->vals, "20");
    ASSERT_EQ_INT(b->ev, end);
    ASSERT_TRUE(ot_find_int(&r.got, "k", FEAST_VT_INT64, 3) == NULL);
    ASSERT_TRUE(ot_find_int(&r.got, "k", FEAST_VT_INT64, 4) == NULL);
    run_cleanup(&r);

    /* A window bound between two microseconds: start = 1us before 2021-01-01 plus 1ns rounds up
     * to 2021-01-01 for a microsecond column, so key 3's row stays out. */
    run_init(&r, &v, utc(2020, 12, 31, 23, 59, 59, 999999001), end, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 2);
    ASSERT_TRUE(ot_find_int(&r.got, "k", FEAST_VT_INT64, 3) == NULL);
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* Equal event timestamps: the highest created timestamp wins; a null created sorts last (even
 * against a created time before 1970). Both ways of finding the newest row: the key-ordered window
 * (SQLite) and the two-pass pick (Redis with a Parquet source). */
TEST(offline_ties_broken_by_created)
{
    const char *p = make_file("ties.parquet",
        "SELECT * FROM (VALUES "
        "(1, TIMESTAMP '2021-05-01 10:00:00', TIMESTAMP '2021-05-02 00:00:00', 'a'), "
        "(1, TIMESTAMP '2021-05-01 10:00:00', TIMESTAMP '2021-05-03 00:00:00', 'b'), "
        "(1, TIMESTAMP '2021-05-01 10:00:00', NULL, 'c'), "
        "(1, TIMESTAMP '2021-05-01 09:00:00', TIMESTAMP '2021-05-09 00:00:00', 'old'), "
        "(2, TIMESTAMP '2021-05-01 10:00:00', NULL, 'x'), "
        "(2, TIMESTAMP '2021-05-01 10:00:00', TIMESTAMP '1969-05-01 11:00:00', 'y'), "
        "(3, TIMESTAMP '1969-12-31 23:59:59.999999', NULL, 'neg')"
        ") t(k, ts, created, s)");
    static const char *const stores[] = {NULL, "redis"};
    for (size_t i = 0; i < 2; i++) {
        g_online_type = stores[i];
        struct feast_view v;
        view_init(&v, "ties", p, "ts", "created");
        view_key(&v, "k", FEAST_VT_INT64);
        view_feat(&v, "s", FEAST_VT_STRING);
        struct run r;
        run_init(&r, &v, ALL_START - NS(86400), ALL_END, 100);
        ASSERT_OK(run_pull(&r), &r.err);
        ASSERT_EQ_INT(r.got.n, 3);
        const struct ot_row *a = ot_find_int(&r.got, "k", FEAST_VT_INT64, 1);
        ASSERT_TRUE(a != NULL);
        ASSERT_EQ_STR(a->vals, "\"b\"");
        ASSERT_EQ_INT(a->cr, utc(2021, 5, 3, 0, 0, 0, 0));
        const struct ot_row *b = ot_find_int(&r.got, "k", FEAST_VT_INT64, 2);
        ASSERT_TRUE(b != NULL);
        ASSERT_EQ_STR(b->vals, "\"y\"");
        const struct ot_row *c = ot_find_int(&r.got, "k", FEAST_VT_INT64, 3);
        ASSERT_TRUE(c != NULL);
        ASSERT_EQ_INT(c->ev, utc(1969, 12, 31, 23, 59, 59, 999999000));
        run_cleanup(&r);
        feast_view_cleanup(&v);
    }
}

/* Large windows are cut into partitions of the key space (key ranges when the store wants key
 * order, hash partitions otherwise; a two-pass pick for Parquet without order). Every strategy, with
 * and without partitions, on Parquet and CSV, must give exactly the rows of an independent
 * DISTINCT ON query: 3000 keys x 4 rows with tied event times decided by created (a null created
 * losing), and in key order whenever the store asked for it. */
struct strat_case { const char *store; uint64_t partition_rows; bool csv; int fail_partitions; };

static void check_against_distinct_on(const char *src, bool string_keys, const struct strat_case *c)
{
    struct feast_view v;
    view_init(&v, "parts", src, "ts", "created");
    view_key(&v, "id", string_keys ? FEAST_VT_STRING : FEAST_VT_INT64);
    view_feat(&v, "val", FEAST_VT_INT64);
    view_feat(&v, "s", FEAST_VT_STRING);
    g_online_type = c->store;
    g_partition_rows = c->partition_rows;
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 700);
    offline_duckdb_fail_partitions = c->fail_partitions;
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(offline_duckdb_fail_partitions, 0);   /* every injected failure was met and split */

    struct tdb t;
    tdb_open(&t);
    duckdb_result q;
    tdb_sql(&t, &q, "SELECT DISTINCT ON (id) CAST(id AS VARCHAR), val, s, epoch_ns(ts), epoch_ns(created) "
            "FROM %s('%s') ORDER BY id, ts DESC, created DESC NULLS LAST", c->csv ? "read_csv" : "read_parquet", src);
    idx_t n = duckdb_row_count(&q);
    ASSERT_EQ_INT(n, 3000);
    ASSERT_EQ_INT(r.got.n, n);
    for (idx_t i = 0; i < n; i++) {
        char *id = duckdb_value_varchar(&q, 0, i);
        char *k = string_keys ? ot_key1("id", FEAST_VT_STRING, 0, id) : ot_key1("id", FEAST_VT_INT64, strtoll(id, NULL, 10), NULL);
        const struct ot_row *o = ot_find(&r.got, k);
        if (!o)
            test_fail(__FILE__, __LINE__, "store %s, partition_rows %" PRIu64 "%s: key %s missing",
                      c->store ? c->store : "sqlite", c->partition_rows, c->csv ? ", csv" : "", id);
        char want[128];
        char *sv = duckdb_value_varchar(&q, 2, i);
        snprintf(want, sizeof want, "%" PRId64 "|\"%s\"", duckdb_value_int64(&q, 1, i), sv);
        ASSERT_EQ_STR(o->vals, want);
        ASSERT_EQ_INT(o->ev, duckdb_value_int64(&q, 3, i));
        ASSERT_EQ_INT(o->cr, duckdb_value_is_null(&q, 4, i) ? FERRY_TIME_NONE : duckdb_value_int64(&q, 4, i));
        duckdb_free(sv);
        duckdb_free(id);
        free(k);
    }
    duckdb_destroy_result(&q);
    tdb_close(&t);
    /* SQLite (no store type) asked for serialized-key order: hex keys of equal length compare like
     * the bytes; unequal lengths only differ in their length bytes, which come first and are
     * compared the same way. */
    if (!c->store)
        for (size_t i = 1; i < r.got.n; i++)
            if (strcmp(r.got.rows[i - 1].key, r.got.rows[i].key) >= 0)
                test_fail(__FILE__, __LINE__, "partition_rows %" PRIu64 ": rows %zu and %zu out of key order",
                          c->partition_rows, i - 1, i);
    run_cleanup(&r);
    feast_view_cleanup(&v);
    g_online_type = NULL;
    g_partition_rows = 0;
}

#define STRAT_ROWS                                                                                    \
    "SELECT %s AS id, r AS val, 'v' || r AS s, "                                                      \
    "TIMESTAMP '2021-01-01' + to_hours(((r %% 3000) * 7 + (r // 3000) * 13) %% 5) AS ts, "            \
    "CASE WHEN r // 3000 = 0 AND (r %% 3000) %% 5 = 0 THEN NULL "                                     \
    "ELSE TIMESTAMP '2021-02-01' + to_minutes(r) END AS created FROM range(12000) t(r)"

TEST(offline_partition_strategies_match_distinct_on)
{
    char sel[1024];
    snprintf(sel, sizeof sel, STRAT_ROWS, "((r % 3000) * 7919) % 1000003 - 500000");
    const char *pq = make_file("parts.parquet", sel);
    const char *csv = make_file("parts.csv", sel);
    static const struct strat_case cases[] = {
        {NULL, 0, false, 0},       /* key-ordered window, one partition */
        {NULL, 1000, false, 0},    /* key-ordered window, key-range partitions */
        {"redis", 0, false, 0},    /* two-pass pick, one partition */
        {"redis", 500, false, 0},  /* two-pass pick, hash partitions */
        {"redis", 1000, true, 0},  /* CSV, unordered window, hash partitions */
        {NULL, 1000, true, 0},     /* CSV, key-ordered window, key-range partitions */
        /* partitions that run out of DuckDB memory are split in two and rerun: the first
         * partition fails three times over (1 -> 2 -> 4 -> 8 pieces), then results are unchanged */
        {NULL, 0, false, 3},
        {NULL, 4000, false, 3},
        {"redis", 0, false, 3},
        {"redis", 1000, true, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_against_distinct_on(cases[i].csv ? csv : pq, false, &cases[i]);
}

/* String keys of different lengths, many sharing their first bytes: key-range partitions by the
 * length and first four bytes still give every key once, in serialized-key order. */
TEST(offline_partition_string_keys_in_key_order)
{
    char sel[1024];
    snprintf(sel, sizeof sel, STRAT_ROWS,
             "CASE WHEN r % 3000 < 100 THEN repeat('z', 1 + (r % 3000) % 7) || (r % 3000) "
             "ELSE 'user_' || ((r % 3000) * 7919 % 100003) END");
    const char *pq = make_file("sparts.parquet", sel);
    static const struct strat_case cases[] = {{NULL, 1000, false, 0}, {NULL, 0, false, 2}, {"redis", 700, false, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_against_distinct_on(pq, true, &cases[i]);
}

/* field_mapping renames source columns; the query must ask for the source names (reverse map). */
TEST(offline_field_mapping_reads_source_columns)
{
    const char *p = make_file("fm.parquet",
        "SELECT * FROM (VALUES (7, TIMESTAMP '2021-01-01', 1.5::DOUBLE), (7, TIMESTAMP '2021-01-02', 2.5::DOUBLE)) "
        "t(drv, ts, raw_score)");
    struct feast_view v;
    view_init(&v, "fm", p, "ts", NULL);
    view_key(&v, "driver", FEAST_VT_INT64);
    view_feat(&v, "score", FEAST_VT_DOUBLE);
    view_map(&v, "drv", "driver");
    view_map(&v, "raw_score", "score");
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(offline_check(r.st, &r.pull, &r.err), &r.err);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 1);
    const struct ot_row *a = ot_find_int(&r.got, "driver", FEAST_VT_INT64, 7);
    ASSERT_TRUE(a != NULL);
    ASSERT_EQ_STR(a->vals, "2.5");
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* Int32 keys from an INTEGER column, string keys, and a two-column key (latest per pair). */
TEST(offline_int32_string_and_multi_column_keys)
{
    const char *p = make_file("keys.parquet",
        "SELECT * FROM (VALUES "
        "(5::INTEGER, 'us', TIMESTAMP '2021-01-01', 1), (5::INTEGER, 'us', TIMESTAMP '2021-01-03', 2), "
        "(5::INTEGER, 'eu', TIMESTAMP '2021-01-02', 3), (6::INTEGER, 'us', TIMESTAMP '2021-01-01', 4)"
        ") t(id, region, ts, v)");
    struct feast_view v;
    view_init(&v, "k32", p, "ts", NULL);
    view_key(&v, "id", FEAST_VT_INT32);
    view_feat(&v, "v", FEAST_VT_INT64);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 2);
    const struct ot_row *a = ot_find_int(&r.got, "id", FEAST_VT_INT32, 5);
    ASSERT_TRUE(a != NULL);
    ASSERT_EQ_STR(a->vals, "2");
    run_cleanup(&r);
    feast_view_cleanup(&v);

    view_init(&v, "kstr", p, "ts", NULL);
    view_key(&v, "region", FEAST_VT_STRING);
    view_feat(&v, "v", FEAST_VT_INT64);
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 2);
    char *k = ot_key1("region", FEAST_VT_STRING, 0, "eu");
    const struct ot_row *e = ot_find(&r.got, k);
    free(k);
    ASSERT_TRUE(e != NULL);
    ASSERT_EQ_STR(e->vals, "3");
    run_cleanup(&r);
    feast_view_cleanup(&v);

    view_init(&v, "kmulti", p, "ts", NULL);
    view_key(&v, "region", FEAST_VT_STRING);
    view_key(&v, "id", FEAST_VT_INT64);
    view_feat(&v, "v", FEAST_VT_INT64);
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 3);
    k = ot_key2("region", FEAST_VT_STRING, 0, "us", "id", FEAST_VT_INT64, 5, NULL);
    const struct ot_row *m = ot_find(&r.got, k);
    free(k);
    ASSERT_TRUE(m != NULL);
    ASSERT_EQ_STR(m->vals, "2");
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* CSV with auto-detection: timestamps with and without an offset are both instants in UTC. */
TEST(offline_csv_source)
{
    char path[512];
    snprintf(path, sizeof path, "%s/src.csv", test_tmpdir());
    test_write_file(path,
                    "user,ts,score,name\n"
                    "1,2021-03-01 10:00:00+02:00,0.5,ann\n"
                    "1,2021-03-01 09:30:00+00:00,0.7,bob\n"
                    "2,2021-03-02 00:00:00+00:00,1.25,cy\n");
    struct feast_view v;
    view_init(&v, "csvv", "src.csv", "ts", NULL);   /* relative to the repo dir */
    view_key(&v, "user", FEAST_VT_INT64);
    view_feat(&v, "score", FEAST_VT_DOUBLE);
    view_feat(&v, "name", FEAST_VT_STRING);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 2);
    /* 10:00+02:00 is 08:00 UTC, earlier than 09:30 UTC: bob wins. */
    const struct ot_row *a = ot_find_int(&r.got, "user", FEAST_VT_INT64, 1);
    ASSERT_TRUE(a != NULL);
    ASSERT_EQ_STR(a->vals, "0.7|\"bob\"");
    ASSERT_EQ_INT(a->ev, utc(2021, 3, 1, 9, 30, 0, 0));
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* Timestamp columns in seconds, milliseconds, nanoseconds and with a time zone; the window is
 * applied in each column's own unit and event times come back exact in ns. */
TEST(offline_timestamp_units)
{
    /* DuckDB casts to _S/_MS only from microsecond timestamps, hence two constructors. */
    static const struct { const char *make, *cast; int64_t div, sub_ns; } units[] = {
        {"make_timestamp", "TIMESTAMP_S", 1000, 0}, {"make_timestamp", "TIMESTAMP_MS", 1000, 123000000},
        {"make_timestamp_ns", "TIMESTAMP_NS", 1, 123456789}, {"make_timestamp", "TIMESTAMPTZ", 1000, 123456000},
    };
    int64_t base = utc(2021, 6, 1, 12, 0, 0, 0);
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        char sel[1024], name[64];
        /* row a at base+sub (latest), row b one second earlier */
        snprintf(sel, sizeof sel,
                 "SELECT 1 AS k, CAST(%s(%" PRId64 ") AS %s) AS ts, 'a' AS s UNION ALL "
                 "SELECT 1, CAST(%s(%" PRId64 ") AS %s), 'b'",
                 units[u].make, (base + units[u].sub_ns) / units[u].div, units[u].cast,
                 units[u].make, (base + units[u].sub_ns - NS(1)) / units[u].div, units[u].cast);
        snprintf(name, sizeof name, "u%zu.parquet", u);
        const char *p = make_file(name, sel);
        struct feast_view v;
        view_init(&v, "units", p, "ts", NULL);
        view_key(&v, "k", FEAST_VT_INT64);
        view_feat(&v, "s", FEAST_VT_STRING);
        struct run r;
        /* end exactly at the latest row's instant: still included */
        run_init(&r, &v, ALL_START, base + units[u].sub_ns, 100);
        ASSERT_OK(run_pull(&r), &r.err);
        ASSERT_EQ_INT(r.got.n, 1);
        ASSERT_EQ_STR(r.got.rows[0].vals, "\"a\"");
        ASSERT_EQ_INT(r.got.rows[0].ev, base + units[u].sub_ns);
        run_cleanup(&r);
        /* end 1ns earlier: row a is out, b remains */
        run_init(&r, &v, ALL_START, base + units[u].sub_ns - 1, 100);
        ASSERT_OK(run_pull(&r), &r.err);
        ASSERT_EQ_INT(r.got.n, 1);
        ASSERT_EQ_STR(r.got.rows[0].vals, "\"b\"");
        run_cleanup(&r);
        feast_view_cleanup(&v);
    }
}

/* Null feature values become unset Values (JSON null); a null created timestamp is "none". */
TEST(offline_nulls)
{
    const char *p = make_file("nulls.parquet",
        "SELECT 1 AS k, TIMESTAMP '2021-01-01' AS ts, NULL::TIMESTAMP AS created, NULL::DOUBLE AS d, "
        "NULL::VARCHAR AS s, 3::BIGINT AS i");
    struct feast_view v;
    view_init(&v, "nulls", p, "ts", "created");
    view_key(&v, "k", FEAST_VT_INT64);
    view_feat(&v, "d", FEAST_VT_DOUBLE);
    view_feat(&v, "s", FEAST_VT_STRING);
    view_feat(&v, "i", FEAST_VT_INT64);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 1);
    ASSERT_EQ_STR(r.got.rows[0].vals, "null|null|3");
    ASSERT_EQ_INT(r.got.rows[0].cr, FERRY_TIME_NONE);
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* Lists element by element; a null element becomes the type's default, a null list is null. */
TEST(offline_lists)
{
    const char *p = make_file("lists.parquet",
        "SELECT 1 AS k, TIMESTAMP '2021-01-01' AS ts, [1, NULL, 3]::INTEGER[] AS li, "
        "['x', NULL]::VARCHAR[] AS ls, [0.5, 1.0]::DOUBLE[] AS ld, NULL::BIGINT[] AS ln, "
        "[]::BOOLEAN[] AS lb");
    struct feast_view v;
    view_init(&v, "lists", p, "ts", NULL);
    view_key(&v, "k", FEAST_VT_INT64);
    view_feat(&v, "li", FEAST_VT_INT64_LIST);
    view_feat(&v, "ls", FEAST_VT_STRING_LIST);
    view_feat(&v, "ld", FEAST_VT_DOUBLE_LIST);
    view_feat(&v, "ln", FEAST_VT_INT64_LIST);
    view_feat(&v, "lb", FEAST_VT_BOOL_LIST);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 1);
    ASSERT_EQ_STR(r.got.rows[0].vals, "[1,0,3]|[\"x\",\"\"]|[0.5,1.0]|null|[]");
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* Other DuckDB types: DECIMAL as the nearest double, unsigned and small ints, BLOB, BOOLEAN, a DATE
 * event timestamp (midnight UTC) and a timestamp feature declared UnixTimestamp. */
TEST(offline_other_types)
{
    const char *p = make_file("types.parquet",
        "SELECT 'k1'::BLOB AS k, DATE '2021-02-03' AS ts, 12.34::DECIMAL(10,2) AS dec, "
        "200::UTINYINT AS u8, 4000000000::UINTEGER AS u32, true AS b, '\\x01\\x02'::BLOB AS blob, "
        "TIMESTAMP '2021-02-03 04:05:06.7' AS t, 0.1::DECIMAL(38,30) AS bigdec");
    struct feast_view v;
    view_init(&v, "types", p, "ts", NULL);
    view_key(&v, "k", FEAST_VT_BYTES);
    view_feat(&v, "dec", FEAST_VT_DOUBLE);
    view_feat(&v, "u8", FEAST_VT_INT32);
    view_feat(&v, "u32", FEAST_VT_INT64);
    view_feat(&v, "b", FEAST_VT_BOOL);
    view_feat(&v, "blob", FEAST_VT_BYTES);
    view_feat(&v, "t", FEAST_VT_UNIX_TIMESTAMP);
    view_feat(&v, "bigdec", FEAST_VT_DOUBLE);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 1);
    /* 1612325106 = 2021-02-03T04:05:06Z; bytes 01 02 are base64 "AQI=" */
    ASSERT_EQ_STR(r.got.rows[0].vals, "12.34|200|4000000000|true|\"AQI=\"|1612325106|0.1");
    ASSERT_EQ_INT(r.got.rows[0].ev, utc(2021, 2, 3, 0, 0, 0, 0));
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* Entity-less views: one latest row over the whole window, keyed by __dummy_id = "". */
TEST(offline_entityless_view_one_row)
{
    const char *p = make_file("nokey.parquet",
        "SELECT * FROM (VALUES (TIMESTAMP '2021-01-01', 1), (TIMESTAMP '2021-01-03', 3), "
        "(TIMESTAMP '2021-01-02', 2)) t(ts, v)");
    struct feast_view v;
    view_init(&v, "global", p, "ts", NULL);
    v.entities = xcalloc(1, sizeof *v.entities);
    v.entities[0] = xstrdup(FEAST_DUMMY_ENTITY);
    v.nentities = 1;
    view_feat(&v, "v", FEAST_VT_INT64);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 1);
    ASSERT_EQ_STR(r.got.rows[0].vals, "3");
    char *k = ot_key1(FEAST_DUMMY_ENTITY_ID, FEAST_VT_STRING, 0, "");
    ASSERT_EQ_STR(r.got.rows[0].key, k);
    free(k);
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* batch_rows smaller than the result: several emits, none over the size, all rows once. The total
 * is checked against COUNT(DISTINCT) on the fixture. */
TEST(offline_small_batches_zipcodes)
{
    const char *fx = test_fixture("zipcode_table.parquet");
    struct feast_view v;
    view_init(&v, "zipcode_features", fx, "event_timestamp", "created_timestamp");
    view_key(&v, "zipcode", FEAST_VT_INT64);
    view_feat(&v, "city", FEAST_VT_STRING);
    view_feat(&v, "state", FEAST_VT_STRING);
    view_feat(&v, "population", FEAST_VT_INT64);
    view_feat(&v, "total_wages", FEAST_VT_INT64);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 1000);
    ASSERT_OK(run_pull(&r), &r.err);
    struct tdb t;
    tdb_open(&t);
    duckdb_result q;
    tdb_sql(&t, &q, "SELECT count(DISTINCT zipcode) FROM read_parquet('%s')", fx);
    int64_t want = duckdb_value_int64(&q, 0, 0);
    duckdb_destroy_result(&q);
    ASSERT_EQ_INT(r.got.n, want);
    ASSERT_EQ_INT(r.pull.rows_out, want);
    ASSERT_EQ_INT(r.got.emits, (want + 999) / 1000);
    ASSERT_EQ_INT(r.got.max_batch, 1000);
    /* spot-check one zipcode's values against the file */
    tdb_sql(&t, &q, "SELECT zipcode, city, population FROM read_parquet('%s') ORDER BY zipcode LIMIT 1 OFFSET 777", fx);
    const struct ot_row *o = ot_find_int(&r.got, "zipcode", FEAST_VT_INT64, duckdb_value_int64(&q, 0, 0));
    ASSERT_TRUE(o != NULL);
    char *city = duckdb_value_varchar(&q, 1, 0);
    char want_vals[256];
    snprintf(want_vals, sizeof want_vals, "\"%s\"|", city);
    duckdb_free(city);
    ASSERT_TRUE(strncmp(o->vals, want_vals, strlen(want_vals)) == 0);
    duckdb_destroy_result(&q);
    tdb_close(&t);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "  [zipcodes: %zu rows in %d batches, peak RSS %ld KiB]\n", r.got.n, r.got.emits, ru.ru_maxrss);
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

TEST(offline_small_batches_driver_stats)
{
    struct feast_view v;
    view_init(&v, "d", test_fixture("driver_stats.parquet"), "event_timestamp", "created");
    view_key(&v, "driver_id", FEAST_VT_INT64);
    view_feat(&v, "avg_daily_trips", FEAST_VT_INT32);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 2);
    ASSERT_OK(run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.emits, 3);   /* 5 drivers: 2 + 2 + 1 */
    ASSERT_EQ_INT(r.got.n, 5);
    ASSERT_EQ_INT(r.pull.rows_out, 5);
    for (int d = 1001; d <= 1005; d++)
        ASSERT_TRUE(ot_find_int(&r.got, "driver_id", FEAST_VT_INT64, d) != NULL);
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* ---- errors ---- */

static void expect_source_error(struct feast_view *v, const char *const *needles)
{
    struct run r;
    run_init(&r, v, ALL_START, ALL_END, 100);
    ASSERT_EQ_INT(offline_check(r.st, &r.pull, &r.err), FERRY_ESOURCE);
    for (size_t i = 0; needles[i]; i++)
        ASSERT_CONTAINS(r.err.msg, needles[i]);
    ferry_err_clear(&r.err);
    ASSERT_EQ_INT(run_pull(&r), FERRY_ESOURCE);
    for (size_t i = 0; needles[i]; i++)
        ASSERT_CONTAINS(r.err.msg, needles[i]);
    ASSERT_EQ_INT(r.got.emits, 0);
    run_cleanup(&r);
}

TEST(offline_missing_file)
{
    struct feast_view v;
    view_init(&v, "ghost", "data/none.parquet", "ts", NULL);
    view_key(&v, "k", FEAST_VT_INT64);
    view_feat(&v, "v", FEAST_VT_INT64);
    char abs[600];
    snprintf(abs, sizeof abs, "%s/data/none.parquet", test_tmpdir());
    const char *needles[] = {"view ghost", abs, "does not exist", NULL};
    expect_source_error(&v, needles);
    feast_view_cleanup(&v);
}

TEST(offline_missing_column)
{
    struct feast_view v;
    view_init(&v, "drv", test_fixture("driver_stats.parquet"), "event_timestamp", "created");
    view_key(&v, "driver_id", FEAST_VT_INT64);
    view_feat(&v, "conv_rate", FEAST_VT_FLOAT);
    view_feat(&v, "no_such_feature", FEAST_VT_FLOAT);
    const char *needles[] = {"view drv", "no_such_feature", "available", "acc_rate", NULL};
    expect_source_error(&v, needles);
    feast_view_cleanup(&v);

    /* a mapped name is looked up under its source name */
    view_init(&v, "drv", test_fixture("driver_stats.parquet"), "event_timestamp", NULL);
    view_key(&v, "driver_id", FEAST_VT_INT64);
    view_feat(&v, "trips", FEAST_VT_INT64);
    view_map(&v, "trips_src", "trips");
    const char *needles2[] = {"view drv", "trips_src", NULL};
    expect_source_error(&v, needles2);
    feast_view_cleanup(&v);
}

TEST(offline_incompatible_type)
{
    const char *p = make_file("bad.parquet", "SELECT 1 AS k, TIMESTAMP '2021-01-01' AS ts, 'abc' AS s, '2021' AS tsv");
    struct feast_view v;
    view_init(&v, "badv", p, "ts", NULL);
    view_key(&v, "k", FEAST_VT_INT64);
    view_feat(&v, "s", FEAST_VT_INT64);
    const char *needles[] = {"view badv", "column s", "VARCHAR", "Int64", NULL};
    expect_source_error(&v, needles);
    feast_view_cleanup(&v);

    /* the timestamp field must be a time type */
    view_init(&v, "badts", p, "tsv", NULL);
    view_key(&v, "k", FEAST_VT_INT64);
    const char *needles2[] = {"view badts", "tsv", "VARCHAR", NULL};
    expect_source_error(&v, needles2);
    feast_view_cleanup(&v);
}

/* A value that does not fit the declared type fails the pull naming view, column and value. */
TEST(offline_value_out_of_range)
{
    const char *p = make_file("big.parquet",
        "SELECT 1 AS k, TIMESTAMP '2021-01-01' AS ts, 3000000000::BIGINT AS i32, "
        "18446744073709551615::UBIGINT AS u64");
    struct feast_view v;
    view_init(&v, "bigv", p, "ts", NULL);
    view_key(&v, "k", FEAST_VT_INT64);
    view_feat(&v, "i32", FEAST_VT_INT32);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_EQ_INT(run_pull(&r), FERRY_ESOURCE);
    ASSERT_CONTAINS(r.err.msg, "view bigv");
    ASSERT_CONTAINS(r.err.msg, "i32");
    ASSERT_CONTAINS(r.err.msg, "3000000000");
    run_cleanup(&r);
    feast_view_cleanup(&v);

    view_init(&v, "bigu", p, "ts", NULL);
    view_key(&v, "k", FEAST_VT_INT64);
    view_feat(&v, "u64", FEAST_VT_INT64);
    run_init(&r, &v, ALL_START, ALL_END, 100);
    ASSERT_EQ_INT(run_pull(&r), FERRY_ESOURCE);
    ASSERT_CONTAINS(r.err.msg, "view bigu");
    ASSERT_CONTAINS(r.err.msg, "u64");
    ASSERT_CONTAINS(r.err.msg, "18446744073709551615");
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* Cancel set during the first emit stops the pull before the next batch. */
TEST(offline_cancel_stops_pull)
{
    struct feast_view v;
    view_init(&v, "zip", test_fixture("zipcode_table.parquet"), "event_timestamp", NULL);
    view_key(&v, "zipcode", FEAST_VT_INT64);
    view_feat(&v, "city", FEAST_VT_STRING);
    struct run r;
    run_init(&r, &v, ALL_START, ALL_END, 100);
    r.got.cancel_on_emit = &r.cancel;
    ASSERT_EQ_INT(run_pull(&r), FERRY_ECANCELED);
    ASSERT_EQ_INT(r.got.emits, 1);
    ASSERT_EQ_INT(r.pull.rows_out, 100);
    run_cleanup(&r);

    /* an emit that fails stops the pull with its own code */
    run_init(&r, &v, ALL_START, ALL_END, 100);
    r.got.fail_emit = FERRY_ESTORE;
    ASSERT_EQ_INT(run_pull(&r), FERRY_ESTORE);
    ASSERT_EQ_INT(r.got.emits, 1);
    ASSERT_CONTAINS(r.err.msg, "test emit refused");
    run_cleanup(&r);
    feast_view_cleanup(&v);
}

/* ---- the backend table ---- */

static int fault_hook(const char *op, void *ctx, struct ferry_err *err)
{
    return strcmp(op, (const char *)ctx) == 0 ? ferry_errf(err, FERRY_EIO, "injected %s", op) : 0;
}

TEST(offline_backend_table)
{
    struct ferry_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.repo_dir = (char *)test_tmpdir();
    struct offline_store *st = NULL;
    struct ferry_err err, *ep = &err;
    static const char *ok[] = {NULL, "file", "dask", "duckdb"};
    for (size_t i = 0; i < 4; i++) {
        cfg.offline.type = (char *)ok[i];
        ASSERT_OK(offline_open(&cfg, &st, &err), ep);
        ASSERT_TRUE(st != NULL);
        offline_close(st);
    }
    cfg.offline.type = "bigquery";
    ASSERT_EQ_INT(offline_open(&cfg, &st, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "bigquery");
    ASSERT_CONTAINS(err.msg, "file, dask, duckdb");
    ASSERT_TRUE(st == NULL);

    /* config knobs reach DuckDB: a bad memory limit is a config error */
    cfg.offline.type = NULL;
    cfg.ferry.duckdb_memory_limit = "lots";
    ASSERT_EQ_INT(offline_open(&cfg, &st, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "lots");
    cfg.ferry.duckdb_memory_limit = "256MB";
    cfg.ferry.duckdb_threads = 2;
    ASSERT_OK(offline_open(&cfg, &st, &err), ep);

    /* the wrappers validate arguments and host the fault hook */
    struct offline_pull pull = {0};
    ASSERT_EQ_INT(offline_pull_latest(st, &pull, &err), FERRY_EINVAL);
    offline_set_fault(fault_hook, (void *)"open");
    struct offline_store *st2 = NULL;
    ASSERT_EQ_INT(offline_open(&cfg, &st2, &err), FERRY_EIO);
    ASSERT_CONTAINS(err.msg, "injected open");
    offline_set_fault(NULL, NULL);
    offline_close(st);
}
