/* offline/: the ODBC offline store, for real, through Debian's PostgreSQL ODBC driver ("PostgreSQL
 * Unicode") against the test PostgreSQL (FERRY_TEST_PG; a missing server fails these tests).
 * Expected values are written by hand or computed with a different SQL query run with libpq.
 * Snowflake itself is not reachable here: only the mapping of its keys is tested, through the
 * driver manager's refusal to load a driver that is not installed. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/time.h"
#include "core/util.h"
#include "offline_testlib.h"

static void odbc_config(struct ferry_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->repo_dir = xstrdup(test_tmpdir());
    cfg->offline.type = xstrdup("odbc");
    cfg->offline.connection_string = xstrdup(ot_odbc_connstr());
}

/* A query source, non-ASCII text (read as UTF-16, written as UTF-8), bytea, numeric to String and
 * Float64, naive timestamps, quoted identifiers; then Feast's inferred types. */
TEST(offline_odbc_query_source_and_types)
{
    PGconn *c = ot_pg_connect();
    const char *sc = ot_pg_schema(c);
    PQclear(ot_pg_sql(c, "CREATE TABLE %s.\"Odd \"\"T\" (\"Id\" int8, txt text, raw bytea, price numeric(8,3),"
                      " ts timestamp, flag bool)", sc));
    PQclear(ot_pg_sql(c, "INSERT INTO %s.\"Odd \"\"T\" VALUES "
                      "(1, 'h\u00e9llo \U0001F600', '\\x00ff10', 12.500, '2022-03-04 05:06:07.123456', true),"
                      "(1, 'old', '\\x00', 1, '2022-03-04 05:06:06', false),"
                      "(2, NULL, NULL, NULL, '2022-03-04 00:00:00', NULL)", sc));
    PQfinish(c);
    struct ferry_config cfg;
    odbc_config(&cfg);
    struct feast_view v;
    ot_view_init(&v, "typed", FEAST_SOURCE_ODBC, "unused", "ts", NULL);
    free(v.source.table);
    v.source.table = NULL;
    v.source.query = xasprintf("SELECT * FROM %s.\"Odd \"\"T\"", sc);
    ot_view_key(&v, "Id", FEAST_VT_INT64);
    ot_view_feat(&v, "txt", FEAST_VT_STRING);
    ot_view_feat(&v, "raw", FEAST_VT_BYTES);
    ot_view_feat(&v, "price", FEAST_VT_STRING);
    ot_view_feat(&v, "price2", FEAST_VT_DOUBLE);
    ot_view_feat(&v, "flag", FEAST_VT_BOOL);
    /* price2 maps back to column price, which feature price also reads: one column, two names. */
    ot_view_map(&v, "price", "price2");
    struct ot_run r;
    ot_run_init(&r, &cfg, &v, ot_utc(2022, 3, 4, 0, 0, 0, 0), ot_utc(2022, 3, 5, 0, 0, 0, 0), 10);
    ASSERT_OK(ot_run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 2);
    const struct ot_row *o = ot_find_int(&r.got, "Id", FEAST_VT_INT64, 1);
    ASSERT_TRUE(o);
    ASSERT_EQ_STR(o->vals, "\"h\u00e9llo \U0001F600\"|\"AP8Q\"|\"12.500\"|12.5|true");
    ASSERT_EQ_INT(o->ev, ot_utc(2022, 3, 4, 5, 6, 7, 123456000));
    o = ot_find_int(&r.got, "Id", FEAST_VT_INT64, 2);
    ASSERT_TRUE(o);
    ASSERT_EQ_STR(o->vals, "null|null|null|null|null");
    ot_run_cleanup(&r);

    const char *names[] = {"Id", "txt", "raw", "price2", "ts", "flag", "missing"};
    int vt[7];
    struct offline_store *st = NULL;
    struct ferry_err err = {0};
    ASSERT_OK(offline_open(&cfg, &st, &err), &err);
    ASSERT_OK(offline_infer_types(st, &v, names, 7, vt, &err), &err);
    int want[7] = {FEAST_VT_INT64, FEAST_VT_STRING, FEAST_VT_BYTES, FEAST_VT_DOUBLE, FEAST_VT_UNIX_TIMESTAMP,
                   FEAST_VT_BOOL, FEAST_VT_INVALID};
    for (int i = 0; i < 7; i++)
        ASSERT_EQ_INT(vt[i], want[i]);
    offline_close(st);
    feast_view_cleanup(&v);
    config_cleanup(&cfg);
}

/* Many rows through small batches against an independent GROUP BY/max query; prints the rate. */
TEST(offline_odbc_streams_many_rows)
{
    struct ferry_config cfg;
    odbc_config(&cfg);
    ot_streams_many_rows(&cfg, FEAST_SOURCE_ODBC, 20000, 100000, "odbc");
}

/* snowflake.offline builds a Snowflake ODBC connection string from Feast's keys; the driver is not
 * installed here, so the driver manager refuses it: the message names the driver, never the
 * password. */
TEST(offline_odbc_snowflake_keys_map_to_driver)
{
    char p[600];
    snprintf(p, sizeof p, "%s/feature_store.yaml", test_tmpdir());
    test_write_file(p, "project: p\nregistry: data/registry.db\noffline_store:\n  type: snowflake.offline\n"
                       "  account: xy12345.eu-west-1\n  user: U\n  password: s3cr;et\n  role: R\n"
                       "  warehouse: W\n  database: DB\n  storage_integration_name: ignored\n");
    struct ferry_config cfg;
    struct ferry_err err = {0};
    ASSERT_OK(config_load(test_tmpdir(), NULL, &cfg, &err), &err);
    ASSERT_EQ_STR(cfg.offline.schema, "PUBLIC");          /* Feast's default */
    struct offline_store *st = NULL;
    ASSERT_EQ_INT(offline_open(&cfg, &st, &err), FERRY_EIO);
    ASSERT_CONTAINS(err.msg, "snowflake.offline, Driver=SnowflakeDSIIDriver");
    ASSERT_TRUE(strstr(err.msg, "s3cr") == NULL);
    config_cleanup(&cfg);
}

TEST(offline_odbc_config_needs_dsn_or_connection_string)
{
    char p[600];
    snprintf(p, sizeof p, "%s/feature_store.yaml", test_tmpdir());
    test_write_file(p, "project: p\nregistry: data/registry.db\noffline_store:\n  type: odbc\n");
    struct ferry_config cfg;
    struct ferry_err err = {0};
    ASSERT_EQ_INT(config_load(test_tmpdir(), NULL, &cfg, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "exactly one of dsn or connection_string is required");
    test_write_file(p, "project: p\nregistry: data/registry.db\noffline_store:\n  type: odbc\n  dsn: mydsn\n");
    ASSERT_OK(config_load(test_tmpdir(), NULL, &cfg, &err), &err);
    ASSERT_EQ_STR(cfg.offline.dsn, "mydsn");
    config_cleanup(&cfg);
}
