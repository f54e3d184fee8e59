/* offline/: one suite of cases run against every offline store — file (DuckDB over Parquet),
 * postgres (libpq) and odbc (Debian's PostgreSQL ODBC driver against the same server) — with the
 * same source rows and the same expected values, computed by hand from feast-compat.md §2.4-2.6:
 * latest row per entity key in [start, end] with both ends inclusive, ties on the event timestamp
 * broken by the newest created timestamp (a null created loses), null features as empty Values,
 * multi-key entities, field mapping, and check()'s type errors. The source rows are one SELECT
 * that DuckDB (to write the Parquet file) and PostgreSQL (CREATE TABLE AS) both accept. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "duckdb.h"
#pragma GCC diagnostic pop

#include "core/time.h"
#include "core/util.h"
#include "offline_testlib.h"

struct backend {
    int kind;                   /* source kind */
    struct ferry_config cfg;
    char target[512];           /* file path or schema.table */
};

/* Makes the source `table` from `select` in the backend's own storage. */
static void backend_make(struct backend *b, const char *which, const char *table, const char *select)
{
    memset(b, 0, sizeof *b);
    if (strcmp(which, "file") == 0) {
        b->kind = FEAST_SOURCE_FILE;
        snprintf(b->target, sizeof b->target, "%s/%s.parquet", test_tmpdir(), table);
        duckdb_database db;
        duckdb_connection con;
        duckdb_result r;
        if (duckdb_open(NULL, &db) == DuckDBError || duckdb_connect(db, &con) == DuckDBError)
            test_fail(__FILE__, __LINE__, "duckdb open");
        char *sql = xasprintf("COPY (%s) TO '%s' (FORMAT PARQUET)", select, b->target);
        if (duckdb_query(con, "SET TimeZone = 'UTC'", &r) == DuckDBError)
            test_fail(__FILE__, __LINE__, "duckdb: %s", duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        if (duckdb_query(con, sql, &r) == DuckDBError)
            test_fail(__FILE__, __LINE__, "duckdb: %s\n  %s", duckdb_result_error(&r), sql);
        duckdb_destroy_result(&r);
        free(sql);
        duckdb_disconnect(&con);
        duckdb_close(&db);
        b->cfg.repo_dir = xstrdup(test_tmpdir());
        b->cfg.offline.type = xstrdup("file");
        return;
    }
    PGconn *c = ot_pg_connect();
    const char *schema = ot_pg_schema(c);
    PQclear(ot_pg_sql(c, "CREATE TABLE %s.%s AS %s", schema, table, select));
    PQfinish(c);
    snprintf(b->target, sizeof b->target, "%s.%s", schema, table);
    if (strcmp(which, "postgres") == 0) {
        b->kind = FEAST_SOURCE_POSTGRES;
        ot_pg_config(&b->cfg);
    } else {
        b->kind = FEAST_SOURCE_ODBC;
        b->cfg.repo_dir = xstrdup(test_tmpdir());
        b->cfg.offline.type = xstrdup("odbc");
        b->cfg.offline.connection_string = xstrdup(ot_odbc_connstr());
    }
}

/* ---- case: latest per key, window ends, ties, nulls, field mapping ---- */

static const char *const DRIVER_ROWS =
    "SELECT * FROM (VALUES "
    "(1::int8, 0.1::float8, 10::int4, 'a'::varchar, true, 1.25::decimal(10,2), "
    "  '2021-01-01 10:00:00+00'::timestamptz, '2021-01-01 10:00:00+00'::timestamptz), "
    "(1::int8, 0.2::float8, 20::int4, 'b'::varchar, false, 2.50::decimal(10,2), "
    "  '2021-01-01 12:00:00+00'::timestamptz, '2021-01-01 12:00:00+00'::timestamptz), "
    "(1::int8, 0.9::float8, 90::int4, 'z'::varchar, true, 9.99::decimal(10,2), "
    "  '2021-01-02 00:00:00+00'::timestamptz, '2021-01-02 00:00:00+00'::timestamptz), "
    "(2::int8, 0.3::float8, 30::int4, 'c'::varchar, true, 3.00::decimal(10,2), "
    "  '2021-01-01 11:00:00+00'::timestamptz, '2021-01-01 11:00:00+00'::timestamptz), "
    "(2::int8, 0.4::float8, 40::int4, 'd'::varchar, false, 4.00::decimal(10,2), "
    "  '2021-01-01 11:00:00+00'::timestamptz, '2021-01-01 11:30:00+00'::timestamptz), "
    "(2::int8, 0.5::float8, 50::int4, 'e'::varchar, true, 5.00::decimal(10,2), "
    "  '2021-01-01 11:00:00+00'::timestamptz, NULL::timestamptz), "
    "(3::int8, 0.6::float8, 60::int4, 'f'::varchar, true, 6.00::decimal(10,2), "
    "  '2021-01-01 09:00:00+00'::timestamptz, '2021-01-01 09:00:00+00'::timestamptz), "
    "(3::int8, 0.7::float8, 70::int4, 'g'::varchar, false, 7.00::decimal(10,2), "
    "  '2021-01-01 08:59:59.999999+00'::timestamptz, '2021-01-01 09:30:00+00'::timestamptz), "
    "(4::int8, NULL::float8, NULL::int4, NULL::varchar, NULL::boolean, NULL::decimal(10,2), "
    "  '2021-01-01 11:59:59.5+00'::timestamptz, '2021-01-01 11:59:59.5+00'::timestamptz), "
    "(5::int8, 0.8::float8, 80::int4, 'h'::varchar, true, 8.00::decimal(10,2), "
    "  '2021-01-01 12:00:00.000001+00'::timestamptz, '2021-01-01 12:00:00.000001+00'::timestamptz)"
    ") AS t(driver_id, conv_rate, trips, name, active, amount, event_ts, created)";

static void case_latest(const char *which)
{
    struct backend b;
    backend_make(&b, which, "drivers", DRIVER_ROWS);
    struct feast_view v;
    ot_view_init(&v, "drivers", b.kind, b.target, "event_ts", "created");
    ot_view_key(&v, "driver_id", FEAST_VT_INT64);
    ot_view_feat(&v, "conv_rate", FEAST_VT_DOUBLE);
    ot_view_feat(&v, "trips", FEAST_VT_INT64);
    ot_view_feat(&v, "driver_name", FEAST_VT_STRING);
    ot_view_feat(&v, "active", FEAST_VT_BOOL);
    ot_view_feat(&v, "amount", FEAST_VT_DOUBLE);
    ot_view_map(&v, "name", "driver_name");
    struct ot_run r;
    ot_run_init(&r, &b.cfg, &v, ot_utc(2021, 1, 1, 9, 0, 0, 0), ot_utc(2021, 1, 1, 12, 0, 0, 0), 2);
    ASSERT_OK(offline_check(r.st, &r.pull, &r.err), &r.err);
    ASSERT_OK(ot_run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 4);
    ASSERT_EQ_INT(r.pull.rows_out, 4);
    ASSERT_EQ_INT(r.got.max_batch, 2);        /* batches of batch_rows */

    const struct ot_row *o = ot_find_int(&r.got, "driver_id", FEAST_VT_INT64, 1);
    ASSERT_TRUE(o);                           /* the row exactly at the window end is in */
    ASSERT_EQ_STR(o->vals, "0.2|20|\"b\"|false|2.5");
    ASSERT_EQ_INT(o->ev, ot_utc(2021, 1, 1, 12, 0, 0, 0));
    ASSERT_EQ_INT(o->cr, ot_utc(2021, 1, 1, 12, 0, 0, 0));
    o = ot_find_int(&r.got, "driver_id", FEAST_VT_INT64, 2);
    ASSERT_TRUE(o);                           /* tie on event_ts: newest created wins, null loses */
    ASSERT_EQ_STR(o->vals, "0.4|40|\"d\"|false|4.0");
    ASSERT_EQ_INT(o->cr, ot_utc(2021, 1, 1, 11, 30, 0, 0));
    o = ot_find_int(&r.got, "driver_id", FEAST_VT_INT64, 3);
    ASSERT_TRUE(o);                           /* the row exactly at the window start is in */
    ASSERT_EQ_STR(o->vals, "0.6|60|\"f\"|true|6.0");
    ASSERT_EQ_INT(o->ev, ot_utc(2021, 1, 1, 9, 0, 0, 0));
    o = ot_find_int(&r.got, "driver_id", FEAST_VT_INT64, 4);
    ASSERT_TRUE(o);
    ASSERT_EQ_STR(o->vals, "null|null|null|null|null");
    ASSERT_EQ_INT(o->ev, ot_utc(2021, 1, 1, 11, 59, 59, 500000000));
    ASSERT_FALSE(ot_find_int(&r.got, "driver_id", FEAST_VT_INT64, 5));   /* 1 us after the end */
    ot_run_cleanup(&r);
    feast_view_cleanup(&v);
    config_cleanup(&b.cfg);
}

TEST(offline_conformance_latest_file) { case_latest("file"); }
TEST(offline_conformance_latest_postgres) { case_latest("postgres"); }
TEST(offline_conformance_latest_odbc) { case_latest("odbc"); }

/* ---- case: two join keys, no created column ---- */

static const char *const TRIP_ROWS =
    "SELECT * FROM (VALUES "
    "(1::int8, 'sf'::varchar, 0.1::float8, '2021-01-01 10:00:00+00'::timestamptz), "
    "(1::int8, 'sf'::varchar, 0.2::float8, '2021-01-01 11:00:00+00'::timestamptz), "
    "(1::int8, 'la'::varchar, 0.3::float8, '2021-01-01 10:00:00+00'::timestamptz), "
    "(2::int8, 'sf'::varchar, 0.4::float8, '2021-01-01 10:00:00+00'::timestamptz), "
    "(2::int8, 'sf'::varchar, 0.5::float8, '2021-01-03 10:00:00+00'::timestamptz)"
    ") AS t(driver_id, city, rate, ts)";

static void case_multi_key(const char *which)
{
    struct backend b;
    backend_make(&b, which, "trips", TRIP_ROWS);
    struct feast_view v;
    ot_view_init(&v, "trips", b.kind, b.target, "ts", NULL);
    ot_view_key(&v, "driver_id", FEAST_VT_INT64);
    ot_view_key(&v, "city", FEAST_VT_STRING);
    ot_view_feat(&v, "rate", FEAST_VT_FLOAT);
    struct ot_run r;
    ot_run_init(&r, &b.cfg, &v, ot_utc(2021, 1, 1, 0, 0, 0, 0), ot_utc(2021, 1, 2, 0, 0, 0, 0), 100);
    ASSERT_OK(ot_run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 3);
    struct { int64_t id; const char *city, *vals; } want[] = {
        {1, "sf", "0.20000000298023224"}, {1, "la", "0.30000001192092896"}, {2, "sf", "0.4000000059604645"}};
    for (size_t i = 0; i < 3; i++) {
        char *k = ot_key2("driver_id", FEAST_VT_INT64, want[i].id, NULL, "city", FEAST_VT_STRING, 0, want[i].city);
        const struct ot_row *o = ot_find(&r.got, k);
        free(k);
        ASSERT_TRUE(o);
        ASSERT_EQ_STR(o->vals, want[i].vals);      /* Float32: the double rounded to float */
        ASSERT_EQ_INT(o->cr, FERRY_TIME_NONE);
    }
    ot_run_cleanup(&r);
    feast_view_cleanup(&v);
    config_cleanup(&b.cfg);
}

TEST(offline_conformance_multi_key_file) { case_multi_key("file"); }
TEST(offline_conformance_multi_key_postgres) { case_multi_key("postgres"); }
TEST(offline_conformance_multi_key_odbc) { case_multi_key("odbc"); }

/* ---- case: check() rejects a type that cannot become the declared one, and a missing column ---- */

static void case_check_errors(const char *which)
{
    struct backend b;
    backend_make(&b, which, "drivers", DRIVER_ROWS);
    struct feast_view v;
    ot_view_init(&v, "drivers", b.kind, b.target, "event_ts", "created");
    ot_view_key(&v, "driver_id", FEAST_VT_INT64);
    ot_view_feat(&v, "name", FEAST_VT_INT64);
    struct ot_run r;
    ot_run_init(&r, &b.cfg, &v, 0, OT_NS(2000000000), 10);
    ASSERT_EQ_INT(offline_check(r.st, &r.pull, &r.err), FERRY_ESOURCE);
    ASSERT_CONTAINS(r.err.msg, "view drivers: column name has ");
    ASSERT_CONTAINS(r.err.msg, "which cannot become the declared Feast type Int64");
    ASSERT_EQ_INT(r.got.n, 0);
    ot_run_cleanup(&r);
    feast_view_cleanup(&v);

    ot_view_init(&v, "drivers", b.kind, b.target, "event_ts", NULL);
    ot_view_key(&v, "driver_id", FEAST_VT_INT64);
    ot_view_feat(&v, "nope", FEAST_VT_INT64);
    ot_run_init(&r, &b.cfg, &v, 0, OT_NS(2000000000), 10);
    ASSERT_EQ_INT(ot_run_pull(&r), FERRY_ESOURCE);
    ASSERT_CONTAINS(r.err.msg, "column nope (feature) not found in ");
    ASSERT_CONTAINS(r.err.msg, "available: driver_id, conv_rate, trips, name, active, amount, event_ts, created");
    ot_run_cleanup(&r);
    feast_view_cleanup(&v);
    config_cleanup(&b.cfg);
}

TEST(offline_conformance_check_errors_file) { case_check_errors("file"); }
TEST(offline_conformance_check_errors_postgres) { case_check_errors("postgres"); }
TEST(offline_conformance_check_errors_odbc) { case_check_errors("odbc"); }
