/* offline/: the PostgreSQL offline store against a real server (FERRY_TEST_PG, from
 * scripts/test_services.sh; a missing server fails these tests). Tables are made per test in a
 * schema of its own; expected values are written by hand or computed by a differently written SQL
 * query (GROUP BY + max) run directly with libpq. Also: the postgres keys of feature_store.yaml and
 * the postgres sources of features.yaml. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/time.h"
#include "core/util.h"
#include "offline_testlib.h"

/* Types beyond the conformance suite: a query source, arrays (with a null element), bytea,
 * timestamp without time zone (UTC), numeric as String, uuid, real as Float32. */
TEST(offline_pg_query_source_and_types)
{
    PGconn *c = ot_pg_connect();
    const char *sc = ot_pg_schema(c);
    PQclear(ot_pg_sql(c, "CREATE TABLE %s.t (id int4, tags text[], nums int8[], raw bytea, price numeric(8,3),"
                      " u uuid, r real, flag int4, ts timestamp)", sc));
    PQclear(ot_pg_sql(c, "INSERT INTO %s.t VALUES "
                      "(7, ARRAY['x', NULL, 'z'], ARRAY[1, 2, NULL], '\\x00ff', 12.500, "
                      " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 0.25, 1, '2022-03-04 05:06:07.123456'),"
                      "(7, NULL, NULL, NULL, NULL, NULL, NULL, 1, '2022-03-04 05:06:06'),"
                      "(8, ARRAY[]::text[], ARRAY[]::int8[], '', -0.001, NULL, 1.5, 0, '2022-03-04 00:00:00')", sc));
    PQfinish(c);
    struct ferry_config cfg;
    ot_pg_config(&cfg);
    struct feast_view v;
    ot_view_init(&v, "typed", FEAST_SOURCE_POSTGRES, "unused", "ts", NULL);
    free(v.source.table);
    v.source.table = NULL;
    /* The user's own query, run as a subquery; flag filters in it. */
    v.source.query = xasprintf("SELECT * FROM %s.t WHERE flag >= 0", sc);
    ot_view_key(&v, "id", FEAST_VT_INT32);
    ot_view_feat(&v, "tags", FEAST_VT_STRING_LIST);
    ot_view_feat(&v, "nums", FEAST_VT_INT64_LIST);
    ot_view_feat(&v, "raw", FEAST_VT_BYTES);
    ot_view_feat(&v, "price", FEAST_VT_STRING);
    ot_view_feat(&v, "u", FEAST_VT_STRING);
    ot_view_feat(&v, "r", FEAST_VT_FLOAT);
    struct ot_run r;
    ot_run_init(&r, &cfg, &v, ot_utc(2022, 3, 4, 0, 0, 0, 0), ot_utc(2022, 3, 5, 0, 0, 0, 0), 10);
    ASSERT_OK(ot_run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 2);
    const struct ot_row *o = ot_find_int(&r.got, "id", FEAST_VT_INT32, 7);
    ASSERT_TRUE(o);
    /* A null list element becomes the type's default (""/0); bytes are base64. */
    ASSERT_EQ_STR(o->vals, "[\"x\",\"\",\"z\"]|[1,2,0]|\"AP8=\"|\"12.500\"|"
                  "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"|0.25");
    ASSERT_EQ_INT(o->ev, ot_utc(2022, 3, 4, 5, 6, 7, 123456000));   /* naive = UTC */
    o = ot_find_int(&r.got, "id", FEAST_VT_INT32, 8);
    ASSERT_TRUE(o);
    ASSERT_EQ_STR(o->vals, "[]|[]|\"\"|\"-0.001\"|null|1.5");
    ot_run_cleanup(&r);

    /* Feast's pg type map for apply's inference (real -> Float32, numeric -> Float64, arrays). */
    const char *names[] = {"id", "tags", "nums", "raw", "price", "r", "ts", "missing"};
    int vt[8];
    struct offline_store *st = NULL;
    struct ferry_err err = {0};
    ASSERT_OK(offline_open(&cfg, &st, &err), &err);
    ASSERT_OK(offline_infer_types(st, &v, names, 8, vt, &err), &err);
    int want[8] = {FEAST_VT_INT32, FEAST_VT_STRING_LIST, FEAST_VT_INT64_LIST, FEAST_VT_BYTES, FEAST_VT_DOUBLE,
                   FEAST_VT_FLOAT, FEAST_VT_UNIX_TIMESTAMP, FEAST_VT_INVALID};
    for (int i = 0; i < 8; i++)
        ASSERT_EQ_INT(vt[i], want[i]);
    offline_close(st);
    feast_view_cleanup(&v);
    config_cleanup(&cfg);
}

/* Identifiers that need quoting (quote, space, upper case) and a DATE event column, whose window
 * bounds round inwards to whole days. */
TEST(offline_pg_quoted_names_and_date_window)
{
    PGconn *c = ot_pg_connect();
    const char *sc = ot_pg_schema(c);
    PQclear(ot_pg_sql(c, "CREATE TABLE %s.\"we\"\"ird T\" (\"Key Col\" text, \"Val\" float8, \"Day\" date)", sc));
    PQclear(ot_pg_sql(c, "INSERT INTO %s.\"we\"\"ird T\" VALUES ('a', 1, '2022-01-01'), ('a', 2, '2022-01-02'),"
                      " ('b', 3, '2022-01-01'), ('c', 4, '2022-01-03')", sc));
    PQfinish(c);
    struct ferry_config cfg;
    ot_pg_config(&cfg);
    char *table = xasprintf("%s.we\"ird T", sc);
    struct feast_view v;
    ot_view_init(&v, "q", FEAST_SOURCE_POSTGRES, table, "Day", NULL);
    ot_view_key(&v, "Key Col", FEAST_VT_STRING);
    ot_view_feat(&v, "Val", FEAST_VT_DOUBLE);
    struct ot_run r;
    /* [2022-01-01 00:00:00.000000001, 2022-01-03 00:00]: 01-01 is before the start. */
    ot_run_init(&r, &cfg, &v, ot_utc(2022, 1, 1, 0, 0, 0, 1), ot_utc(2022, 1, 3, 0, 0, 0, 0), 10);
    ASSERT_OK(ot_run_pull(&r), &r.err);
    ASSERT_EQ_INT(r.got.n, 2);
    char *k = ot_key1("Key Col", FEAST_VT_STRING, 0, "a");
    const struct ot_row *o = ot_find(&r.got, k);
    free(k);
    ASSERT_TRUE(o);
    ASSERT_EQ_STR(o->vals, "2.0");
    ASSERT_EQ_INT(o->ev, ot_utc(2022, 1, 2, 0, 0, 0, 0));
    k = ot_key1("Key Col", FEAST_VT_STRING, 0, "c");
    ASSERT_TRUE(ot_find(&r.got, k));
    free(k);
    ot_run_cleanup(&r);
    feast_view_cleanup(&v);
    free(table);
    config_cleanup(&cfg);
}

/* Many rows through small batches: memory is bounded by the batch (no batch exceeds batch_rows),
 * and the latest values equal an independent GROUP BY/max query. Prints the rate. */
TEST(offline_pg_streams_many_rows)
{
    struct ferry_config cfg;
    ot_pg_config(&cfg);
    ot_streams_many_rows(&cfg, FEAST_SOURCE_POSTGRES, 50000, 200000, "postgres");
}

TEST(offline_pg_connect_error_names_server)
{
    struct ferry_config cfg;
    ot_pg_config(&cfg);
    cfg.offline.port = 1;   /* nothing listens there */
    struct offline_store *st = NULL;
    struct ferry_err err = {0};
    ASSERT_EQ_INT(offline_open(&cfg, &st, &err), FERRY_EIO);
    ASSERT_CONTAINS(err.msg, "postgres ");
    ASSERT_CONTAINS(err.msg, ":1/");
    ASSERT_CONTAINS(err.msg, "cannot connect");
    config_cleanup(&cfg);
}

/* A source that is missing on the server: check() fails with the server's words, naming the view. */
TEST(offline_pg_missing_table)
{
    struct ferry_config cfg;
    ot_pg_config(&cfg);
    struct feast_view v;
    ot_view_init(&v, "gone", FEAST_SOURCE_POSTGRES, "no_such_schema_x.no_such_table", "ts", NULL);
    ot_view_key(&v, "id", FEAST_VT_INT64);
    struct ot_run r;
    ot_run_init(&r, &cfg, &v, 0, 1, 10);
    ASSERT_EQ_INT(offline_check(r.st, &r.pull, &r.err), FERRY_ESOURCE);
    ASSERT_CONTAINS(r.err.msg, "view gone: cannot read table no_such_schema_x.no_such_table on postgres ");
    ASSERT_CONTAINS(r.err.msg, "does not exist");
    ot_run_cleanup(&r);
    feast_view_cleanup(&v);
    config_cleanup(&cfg);
}

/* ---- feature_store.yaml and features.yaml ---- */

static const char *write_repo(const char *yaml, const char *features)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    char p[600];
    snprintf(p, sizeof p, "%s/feature_store.yaml", dir);
    test_write_file(p, yaml);
    if (features) {
        snprintf(p, sizeof p, "%s/features.yaml", dir);
        test_write_file(p, features);
    }
    return dir;
}

TEST(offline_pg_config_keys_and_defaults)
{
    const char *repo = write_repo("project: p\nregistry: data/registry.db\nprovider: local\n"
                                  "offline_store:\n  type: postgres\n  host: db.example\n  database: feast\n"
                                  "  user: u\n  password: secret\n  min_conn: 1\n  max_conn: 4\n"
                                  "  conn_type: pool\n  keepalives_idle: 30\n  sslrootcert_path: /ca.pem\n"
                                  "  entity_select_mode: embed_query\n", NULL);
    struct ferry_config cfg;
    struct ferry_err err = {0};
    ASSERT_OK(config_load(repo, NULL, &cfg, &err), &err);
    ASSERT_EQ_STR(cfg.offline.type, "postgres");
    ASSERT_EQ_STR(cfg.offline.host, "db.example");
    ASSERT_EQ_INT(cfg.offline.port, 5432);
    ASSERT_EQ_STR(cfg.offline.db_schema, "public");
    ASSERT_EQ_STR(cfg.offline.sslmode, "require");          /* Feast's default */
    ASSERT_EQ_STR(cfg.offline.sslrootcert_path, "/ca.pem");
    ASSERT_EQ_INT(cfg.offline.keepalives_idle, 30);
    ASSERT_EQ_STR(cfg.offline.entity_select_mode, "embed_query");
    config_cleanup(&cfg);

    repo = write_repo("project: p\nregistry: data/registry.db\noffline_store:\n  type: postgres\n"
                      "  database: feast\n  user: u\n  password: x\n", NULL);
    ASSERT_EQ_INT(config_load(repo, NULL, &cfg, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "offline_store (postgres): host: required");
    repo = write_repo("project: p\nregistry: data/registry.db\noffline_store:\n  type: postgres\n"
                      "  host: h\n  database: feast\n  user: u\n  password: x\n  hots: typo\n", NULL);
    ASSERT_EQ_INT(config_load(repo, NULL, &cfg, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "hots");
}

TEST(offline_pg_features_yaml_sources)
{
    const char *base = "entities:\n  - name: driver\n    join_keys: [driver_id]\n"
                       "feature_views:\n  - name: v\n    entities: [driver]\n    source: s\n"
                       "    schema:\n      - {name: driver_id, dtype: Int64}\n      - {name: f, dtype: Float64}\n";
    char *yaml = xasprintf("sources:\n  - name: s\n    kind: postgres\n    table: public.stats\n"
                           "    timestamp_field: ts\n%s", base);
    write_repo("project: p\nregistry: r.db\n", yaml);
    char path[600];
    snprintf(path, sizeof path, "%s/features.yaml", test_tmpdir());
    struct feast_defs d;
    struct ferry_err err = {0};
    ASSERT_OK(defs_load(path, &d, &err), &err);
    ASSERT_EQ_INT(d.views[0].source.kind, FEAST_SOURCE_POSTGRES);
    ASSERT_EQ_STR(d.views[0].source.table, "public.stats");
    ASSERT_TRUE(d.views[0].source.path == NULL);
    feast_defs_cleanup(&d);
    free(yaml);

    yaml = xasprintf("sources:\n  - name: s\n    kind: postgres\n    query: SELECT 1\n    table: t\n"
                     "    timestamp_field: ts\n%s", base);
    write_repo("project: p\nregistry: r.db\n", yaml);
    ASSERT_EQ_INT(defs_load(path, &d, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "exactly one of table or query is required");
    free(yaml);

    yaml = xasprintf("sources:\n  - name: s\n    table: t\n    path: x.parquet\n"
                     "    timestamp_field: ts\n%s", base);
    write_repo("project: p\nregistry: r.db\n", yaml);
    ASSERT_EQ_INT(defs_load(path, &d, &err), FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, "table: only for postgres, snowflake or odbc sources");
    free(yaml);
}

/* ---- registry: Feast's PostgreSQLSource and SnowflakeSource ---- */

#include "registry/registry.h"

/* apply writes a postgres source as Feast's PostgreSQLSource (CUSTOM_SOURCE, the JSON configuration
 * bytes as Python's json.dumps writes them) and a snowflake source with snowflake_options; reading
 * the registry back gives the same sources. */
TEST(offline_pg_registry_round_trip_sql_sources)
{
    const char *yaml =
        "entities:\n  - name: driver\n    join_keys: [driver_id]\n"
        "sources:\n"
        "  - name: pg\n    kind: postgres\n    table: public.stats\n    timestamp_field: ts\n"
        "    created_timestamp_column: created\n"
        "  - name: sf\n    kind: snowflake\n    query: SELECT * FROM T\n    database: DB\n    schema: S\n"
        "    timestamp_field: TS\n"
        "feature_views:\n"
        "  - name: a\n    entities: [driver]\n    source: pg\n"
        "    schema:\n      - {name: driver_id, dtype: Int64}\n      - {name: f, dtype: Float64}\n"
        "  - name: b\n    entities: [driver]\n    source: sf\n"
        "    schema:\n      - {name: driver_id, dtype: Int64}\n      - {name: g, dtype: String}\n";
    char fpath[600], rpath[600];
    snprintf(fpath, sizeof fpath, "%s/features.yaml", test_tmpdir());
    snprintf(rpath, sizeof rpath, "%s/registry.db", test_tmpdir());
    test_write_file(fpath, yaml);
    struct feast_defs d;
    struct ferry_err err = {0};
    ASSERT_OK(defs_load(fpath, &d, &err), &err);
    ASSERT_OK(registry_apply(rpath, "p", &d, NULL, &err), &err);
    feast_defs_cleanup(&d);

    size_t len;
    char *data = test_read_file(rpath, &len);
    const char *want = "{\"name\": \"pg\", \"query\": \"\", \"table\": \"public.stats\"}";
    ASSERT_TRUE(memmem(data, len, want, strlen(want)) != NULL);
    const char *cls = "feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source.PostgreSQLSource";
    ASSERT_TRUE(memmem(data, len, cls, strlen(cls)) != NULL);
    free(data);

    struct registry *reg = NULL;
    ASSERT_OK(registry_load(rpath, &reg, &err), &err);
    struct feast_view *vs = NULL;
    size_t n = 0;
    ASSERT_OK(registry_views(reg, "p", &vs, &n, &err), &err);
    ASSERT_EQ_INT(n, 2);
    for (size_t i = 0; i < n; i++) {
        const struct feast_source *s = &vs[i].source;
        if (strcmp(vs[i].name, "a") == 0) {
            ASSERT_EQ_INT(s->kind, FEAST_SOURCE_POSTGRES);
            ASSERT_EQ_STR(s->table, "public.stats");
            ASSERT_TRUE(s->query == NULL);
            ASSERT_EQ_STR(s->created_column, "created");
        } else {
            ASSERT_EQ_INT(s->kind, FEAST_SOURCE_SNOWFLAKE);
            ASSERT_EQ_STR(s->query, "SELECT * FROM T");
            ASSERT_EQ_STR(s->database, "DB");
            ASSERT_EQ_STR(s->schema, "S");
            ASSERT_EQ_STR(s->timestamp_field, "TS");
        }
    }
    registry_views_free(vs, n);
    registry_free(reg);
}
