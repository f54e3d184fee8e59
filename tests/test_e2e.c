/* End to end, as a user runs ferry: apply, materialize, materialize-incremental,
 * get-online-features and feature-views on real fixture files, with every expected value computed
 * independently (DuckDB queries written differently from ferry's, hand-built Feast bytes, direct
 * SQLite reads). */
#include "dbcheck.h"
#include "test.h"

#include <ctype.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRIVER_YAML                                                                                \
    "project: e2e\n"                                                                               \
    "registry: data/registry.db\n"                                                                 \
    "provider: local\n"                                                                            \
    "online_store:\n  type: sqlite\n  path: data/online.db\n"                                      \
    "entity_key_serialization_version: 3\n"

#define DRIVER_FEATURES(extra_schema)                                                              \
    "entities:\n"                                                                                  \
    "  - name: driver\n    join_key: driver_id\n"                                                  \
    "sources:\n"                                                                                   \
    "  - name: driver_source\n    path: data/driver_stats.parquet\n"                               \
    "    timestamp_field: event_timestamp\n    created_timestamp_column: created\n"                \
    "feature_views:\n"                                                                             \
    "  - name: driver_hourly_stats\n    entities: [driver]\n    ttl: 1d\n"                         \
    "    source: driver_source\n    schema:\n"                                                     \
    "      - {name: driver_id, dtype: Int64}\n"                                                    \
    "      - {name: conv_rate, dtype: Float32}\n"                                                  \
    "      - {name: acc_rate, dtype: Float32}\n"                                                   \
    "      - {name: avg_daily_trips, dtype: Int64}\n" extra_schema

/* A repo in a temp dir with the driver_stats fixture as its data. */
static const char *driver_repo(const char *features_yaml, bool with_data)
{
    const char *dir = test_tmpdir();
    char *data = test_path(dir, "data");
    mkdir(data, 0755);
    free(data);
    char *p = test_path(dir, "feature_store.yaml");
    test_write_file(p, DRIVER_YAML);
    free(p);
    p = test_path(dir, "features.yaml");
    test_write_file(p, features_yaml);
    free(p);
    if (with_data) {
        p = test_path(dir, "data/driver_stats.parquet");
        test_copy_file(test_fixture("driver_stats.parquet"), p);
        free(p);
    }
    return dir;
}

static int ferry(struct run_result *r, const char *dir, const char *a1, const char *a2, const char *a3,
                 const char *a4, const char *a5)
{
    const char *argv[] = {"-c", dir, a1, a2, a3, a4, a5, NULL};
    return test_run_ferry(r, NULL, argv);
}

static void expect_ok(struct run_result *r)
{
    if (r->status != 0)
        test_fail(__FILE__, __LINE__, "ferry exited %d\nstdout: %s\nstderr: %s", r->status, r->out, r->err);
}

TEST(e2e_driver_stats_materialize_matches_independent_query)
{
    const char *dir = driver_repo(DRIVER_FEATURES(""), true);
    struct run_result r;
    ferry(&r, dir, "apply", NULL, NULL, NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);
    ferry(&r, dir, "materialize", "2021-04-12T00:00:00", "2021-04-20T00:00:00", NULL, NULL);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "Materializing 1 feature views from 2021-04-12 00:00:00+00:00 to 2021-04-20 00:00:00+00:00 into the sqlite online store.");
    ASSERT_CONTAINS(r.out, "driver_hourly_stats:");
    run_result_cleanup(&r);

    /* Expected: the latest row per driver in the window, by (event, created), via arg_max. */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT driver_id, arg_max(conv_rate, (event_timestamp, created)),"
             " CAST(arg_max(conv_rate, (event_timestamp, created)) AS DOUBLE)::VARCHAR,"
             " arg_max(avg_daily_trips, (event_timestamp, created)), epoch(max(event_timestamp))::BIGINT"
             " FROM '%s' WHERE event_timestamp BETWEEN TIMESTAMPTZ '2021-04-12 00:00:00+00'"
             " AND TIMESTAMPTZ '2021-04-20 00:00:00+00' GROUP BY driver_id ORDER BY driver_id",
             test_fixture("driver_stats.parquet"));
    struct qtable want;
    duck_query(sql, &want);
    ASSERT_EQ_INT(want.nrows, 5);

    char *db = test_path(dir, "data/online.db");
    struct qtable cnt;
    sqlite_query(db, "SELECT count(*), count(DISTINCT entity_key) FROM e2e_driver_hourly_stats", &cnt);
    ASSERT_EQ_STR(QCELL(&cnt, 0, 0), "15");
    ASSERT_EQ_STR(QCELL(&cnt, 0, 1), "5");
    qtable_free(&cnt);

    for (size_t i = 0; i < want.nrows; i++) {
        char key[256], q[1024], val[64];
        hex_key_int64(key, "driver_id", atoll(QCELL(&want, i, 0)));
        struct qtable got;
        snprintf(q, sizeof q,
                 "SELECT feature_name, hex(value), value_text, event_ts, typeof(event_ts) FROM e2e_driver_hourly_stats"
                 " WHERE hex(entity_key) = upper('%s') ORDER BY feature_name", key);
        sqlite_query(db, q, &got);
        ASSERT_EQ_INT(got.nrows, 3);
        /* acc_rate, avg_daily_trips, conv_rate in name order */
        ASSERT_EQ_STR(QCELL(&got, 1, 0), "avg_daily_trips");
        strcpy(val, "20");
        hex_varint(val + 2, (unsigned long long)atoll(QCELL(&want, i, 3)));
        for (char *c = val; *c; c++)
            *c = (char)toupper(*c);
        ASSERT_EQ_STR(QCELL(&got, 1, 1), val);
        ASSERT_EQ_STR(QCELL(&got, 1, 2), QCELL(&want, i, 3));
        ASSERT_EQ_STR(QCELL(&got, 2, 0), "conv_rate");
        float f = strtof(QCELL(&want, i, 1), NULL);
        unsigned bits;
        memcpy(&bits, &f, 4);
        strcpy(val, "35");
        hex_le32(val + 2, bits);
        for (char *c = val; *c; c++)
            *c = (char)toupper(*c);
        ASSERT_EQ_STR(QCELL(&got, 2, 1), val);
        ASSERT_EQ_STR(QCELL(&got, 2, 2), QCELL(&want, i, 2));
        ASSERT_EQ_STR(QCELL(&got, 2, 3), QCELL(&want, i, 4));
        ASSERT_EQ_STR(QCELL(&got, 2, 4), "integer");
        qtable_free(&got);
    }
    qtable_free(&want);

    /* The registry records exactly the window. */
    ferry(&r, dir, "feature-views", "--json", NULL, NULL, NULL);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"intervals\":[{\"start\":\"2021-04-12T00:00:00Z\",\"end\":\"2021-04-20T00:00:00Z\"}]");
    run_result_cleanup(&r);
    free(db);
}

TEST(e2e_get_online_features_returns_feast_json)
{
    const char *dir = driver_repo(DRIVER_FEATURES(""), true);
    struct run_result r;
    ferry(&r, dir, "apply", NULL, NULL, NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);
    ferry(&r, dir, "materialize", "2021-04-12", "2021-04-13", NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);

    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT CAST(arg_max(conv_rate, event_timestamp) AS DOUBLE)::VARCHAR, arg_max(avg_daily_trips, event_timestamp),"
             " strftime(max(event_timestamp), '%%Y-%%m-%%dT%%H:%%M:%%SZ')"
             " FROM '%s' WHERE driver_id = 1001 AND event_timestamp BETWEEN TIMESTAMPTZ '2021-04-12 00:00:00+00'"
             " AND TIMESTAMPTZ '2021-04-13 00:00:00+00'",
             test_fixture("driver_stats.parquet"));
    struct qtable want;
    duck_query(sql, &want);
    char expected[2048];
    snprintf(expected, sizeof expected,
             "{\"results\":["
             "{\"values\":[1001,9999],\"statuses\":[\"PRESENT\",\"PRESENT\"],\"event_timestamps\":[\"1970-01-01T00:00:00Z\",\"1970-01-01T00:00:00Z\"]},"
             "{\"values\":[%s,null],\"statuses\":[\"PRESENT\",\"NOT_FOUND\"],\"event_timestamps\":[\"%s\",\"1970-01-01T00:00:00Z\"]},"
             "{\"values\":[%s,null],\"statuses\":[\"PRESENT\",\"NOT_FOUND\"],\"event_timestamps\":[\"%s\",\"1970-01-01T00:00:00Z\"]}],"
             "\"metadata\":{\"feature_names\":[\"driver_id\",\"conv_rate\",\"avg_daily_trips\"]}}\n",
             QCELL(&want, 0, 0), QCELL(&want, 0, 2), QCELL(&want, 0, 1), QCELL(&want, 0, 2));
    const char *argv[] = {"-c", dir, "get-online-features", "-F", "driver_hourly_stats:conv_rate",
                          "-F", "driver_hourly_stats:avg_daily_trips", "-e", "driver_id=1001", "-e", "driver_id=9999", NULL};
    test_run_ferry(&r, NULL, argv);
    expect_ok(&r);
    ASSERT_EQ_STR(r.out, expected);
    run_result_cleanup(&r);
    qtable_free(&want);
}

TEST(e2e_incremental_starts_at_last_end_and_merges_intervals)
{
    const char *dir = driver_repo(DRIVER_FEATURES(""), true);
    struct run_result r;
    ferry(&r, dir, "apply", NULL, NULL, NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);
    ferry(&r, dir, "materialize", "2021-04-12", "2021-04-13", NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);
    ferry(&r, dir, "materialize-incremental", "2021-04-14T12:00:00Z", "--json", NULL, NULL);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"start\":\"2021-04-13T00:00:00Z\",\"end\":\"2021-04-14T12:00:00Z\",\"status\":\"succeeded\"");
    run_result_cleanup(&r);
    ferry(&r, dir, "feature-views", "--json", NULL, NULL, NULL);
    expect_ok(&r);
    /* [04-12, 04-13] and [04-13, 04-14T12] touch, so they merge into one interval. */
    ASSERT_CONTAINS(r.out, "\"intervals\":[{\"start\":\"2021-04-12T00:00:00Z\",\"end\":\"2021-04-14T12:00:00Z\"}]");
    run_result_cleanup(&r);

    /* The online row of driver 1001 is now its latest event up to 04-14T12. */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT epoch(max(event_timestamp))::BIGINT FROM '%s' WHERE driver_id = 1001"
             " AND event_timestamp <= TIMESTAMPTZ '2021-04-14 12:00:00+00'", test_fixture("driver_stats.parquet"));
    struct qtable want, got;
    duck_query(sql, &want);
    char *db = test_path(dir, "data/online.db"), key[256], q[512];
    hex_key_int64(key, "driver_id", 1001);
    snprintf(q, sizeof q, "SELECT DISTINCT event_ts FROM e2e_driver_hourly_stats WHERE hex(entity_key) = upper('%s')", key);
    sqlite_query(db, q, &got);
    ASSERT_EQ_INT(got.nrows, 1);
    ASSERT_EQ_STR(QCELL(&got, 0, 0), QCELL(&want, 0, 0));
    qtable_free(&want);
    qtable_free(&got);
    free(db);
}

/* Bad input: a clear message, the documented exit status, and no change to registry or store. */
struct bad_case {
    const char *name;
    const char *features;       /* features.yaml used for apply (before the case runs) */
    bool data_at_apply;
    const char *argv[6];        /* the failing command after -c DIR */
    const char *write_file;     /* file to overwrite before the failing command ... */
    const char *write_content;  /* ... with this content */
    bool remove_data;
    int status;
    const char *message;
};

static void run_bad_case(const struct bad_case *c)
{
    const char *dir = driver_repo(c->features, c->data_at_apply);
    struct run_result r;
    ferry(&r, dir, "apply", NULL, NULL, NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);
    char *data = test_path(dir, "data/driver_stats.parquet");
    if (!c->data_at_apply)
        test_copy_file(test_fixture("driver_stats.parquet"), data);
    const char *good[] = {"-c", dir, "materialize", "2021-04-12", "2021-04-13", NULL};
    if (c->data_at_apply) { /* views that can be materialized get a first window */
        test_run_ferry(&r, NULL, good);
        expect_ok(&r);
        run_result_cleanup(&r);
    }
    if (c->remove_data)
        unlink(data);
    if (c->write_file) {
        char *p = test_path(dir, c->write_file);
        test_write_file(p, c->write_content);
        free(p);
    }
    char *reg = test_path(dir, "data/registry.db"), *db = test_path(dir, "data/online.db");
    uint64_t reg_before = test_file_hash(reg), db_before = test_file_hash(db);
    const char *argv[10] = {"-c", dir};
    for (int i = 0; c->argv[i]; i++)
        argv[2 + i] = c->argv[i];
    test_run_ferry(&r, NULL, argv);
    if (r.status != c->status || !strstr(r.err, c->message))
        test_fail(__FILE__, __LINE__, "case %s: exit %d (want %d), stderr: %s(want \"%s\")", c->name, r.status,
                  c->status, r.err, c->message);
    ASSERT_TRUE(test_file_hash(reg) == reg_before);
    ASSERT_TRUE(test_file_hash(db) == db_before);
    run_result_cleanup(&r);
    free(reg);
    free(db);
    free(data);
}

#define GOOD DRIVER_FEATURES("")
TEST(e2e_bad_input_is_reported_and_changes_nothing)
{
    static const struct bad_case cases[] = {
        {"malformed features.yaml", GOOD, true, {"apply"}, "features.yaml", "entities: [\n  - name: x\n", false, 3, "features.yaml"},
        {"malformed feature_store.yaml", GOOD, true, {"materialize", "2021-04-12", "2021-04-13"},
         "feature_store.yaml", "project: e2e\nregistry: [oops\n", false, 3, "feature_store.yaml"},
        {"unknown view", GOOD, true, {"materialize", "2021-04-12", "2021-04-13", "-v", "no_such_view"}, NULL, NULL,
         false, 3, "no_such_view"},
        {"start after end", GOOD, true, {"materialize", "2021-04-14", "2021-04-13"}, NULL, NULL, false, 2, "after"},
        {"unparseable timestamp", GOOD, true, {"materialize", "2021-13-01", "2021-04-13"}, NULL, NULL, false, 2,
         "2021-13-01"},
        {"missing source file", GOOD, true, {"materialize", "2021-04-12", "2021-04-14"}, NULL, NULL, true, 4,
         "driver_stats.parquet"},
        {"missing column", DRIVER_FEATURES("      - {name: bogus, dtype: Float32}\n"), false,
         {"materialize", "2021-04-12", "2021-04-14"}, NULL, NULL, false, 4, "bogus"},
        {"wrong type", DRIVER_FEATURES("      - {name: created, dtype: Bool}\n"), false,
         {"materialize", "2021-04-12", "2021-04-14"}, NULL, NULL, false, 4, "created"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            run_bad_case(&cases[i]);
            exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            test_fail(__FILE__, __LINE__, "bad-input case '%s' failed", cases[i].name);
    }
}

TEST(e2e_usage_errors_exit_2)
{
    struct run_result r;
    const char *none[] = {NULL};
    test_run_ferry(&r, NULL, none);
    ASSERT_EQ_INT(r.status, 2);
    run_result_cleanup(&r);
    const char *unknown[] = {"frobnicate", NULL};
    test_run_ferry(&r, NULL, unknown);
    ASSERT_EQ_INT(r.status, 2);
    ASSERT_CONTAINS(r.err, "frobnicate");
    run_result_cleanup(&r);
    const char *help[] = {"materialize", "--help", NULL};
    test_run_ferry(&r, NULL, help);
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_CONTAINS(r.out, "Usage: ferry materialize");
    run_result_cleanup(&r);
}

/* The registry written by Feast itself: list it, materialize one of its views from the fixture. */
TEST(e2e_feast_registry_fixture_zipcode_features)
{
    const char *dir = test_tmpdir();
    char *data = test_path(dir, "data");
    mkdir(data, 0755);
    char *reg = test_path(dir, "data/registry.db"), *pq = test_path(dir, "data/zipcode_table.parquet");
    test_copy_file(test_fixture("credit_scoring_registry.db"), reg);
    test_copy_file(test_fixture("zipcode_table.parquet"), pq);
    char *yaml = test_path(dir, "feature_store.yaml");
    test_write_file(yaml, "project: credit_scoring_aws\nregistry: data/registry.db\nprovider: local\n"
                          "online_store:\n  type: sqlite\n  path: data/online.db\n");
    struct run_result r;
    ferry(&r, dir, "feature-views", "--json", NULL, NULL, NULL);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"name\":\"credit_history\"");
    ASSERT_CONTAINS(r.out, "\"name\":\"zipcode_features\"");
    ASSERT_CONTAINS(r.out, "\"name\":\"zipcode_money_features\"");
    run_result_cleanup(&r);

    ferry(&r, dir, "materialize", "2017-01-01", "2017-01-02", "-v", "zipcode_features");
    expect_ok(&r);
    run_result_cleanup(&r);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT zipcode) FROM '%s' WHERE event_timestamp BETWEEN TIMESTAMPTZ '2017-01-01 00:00:00+00'"
             " AND TIMESTAMPTZ '2017-01-02 00:00:00+00'", test_fixture("zipcode_table.parquet"));
    struct qtable want, got;
    duck_query(sql, &want);
    ASSERT_EQ_STR(QCELL(&want, 0, 0), "28844");
    char *db = test_path(dir, "data/online.db");
    sqlite_query(db, "SELECT count(DISTINCT entity_key), count(*) FROM credit_scoring_aws_zipcode_features", &got);
    ASSERT_EQ_STR(QCELL(&got, 0, 0), "28844");
    ASSERT_EQ_STR(QCELL(&got, 0, 1), "173064"); /* 6 features per zipcode */
    qtable_free(&want);
    qtable_free(&got);

    /* One zipcode's city, read back through get-online-features, equals the file's. */
    snprintf(sql, sizeof sql, "SELECT zipcode, city FROM '%s' ORDER BY zipcode LIMIT 1", test_fixture("zipcode_table.parquet"));
    duck_query(sql, &want);
    char ent[64], expect[256];
    snprintf(ent, sizeof ent, "zipcode=%s", QCELL(&want, 0, 0));
    snprintf(expect, sizeof expect, "{\"values\":[\"%s\"],\"statuses\":[\"PRESENT\"]", QCELL(&want, 0, 1));
    const char *argv[] = {"-c", dir, "get-online-features", "-F", "zipcode_features:city", "-e", ent, NULL};
    test_run_ferry(&r, NULL, argv);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, expect);
    run_result_cleanup(&r);
    qtable_free(&want);
    free(db);
    free(data);
    free(reg);
    free(pq);
    free(yaml);
}

/* Feast's inference order for a key type ends with the source column: driver_id is BIGINT in the
 * fixture (DuckDB's DESCRIBE), so an untyped driver entity gets Int64 keys. */
TEST(e2e_apply_infers_key_type_from_source_column)
{
    const char *dir = driver_repo("entities:\n  - name: driver\n    join_key: driver_id\n"
                                  "sources:\n  - name: s\n    path: data/driver_stats.parquet\n"
                                  "    timestamp_field: event_timestamp\n"
                                  "feature_views:\n  - name: v\n    entities: [driver]\n    source: s\n"
                                  "    schema:\n      - {name: conv_rate, dtype: Float32}\n", true);
    struct run_result r;
    ferry(&r, dir, "apply", NULL, NULL, NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);
    ferry(&r, dir, "feature-views", "--json", NULL, NULL, NULL);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"entity_columns\":[{\"name\":\"driver_id\",\"dtype\":\"Int64\"}]");
    run_result_cleanup(&r);
    ferry(&r, dir, "materialize", "2021-04-12", "2021-04-13", NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);
    char *db = test_path(dir, "data/online.db"), key[256], q[256];
    hex_key_int64(key, "driver_id", 1003);
    snprintf(q, sizeof q, "SELECT count(*) FROM e2e_v WHERE hex(entity_key) = upper('%s')", key);
    struct qtable got;
    sqlite_query(db, q, &got);
    ASSERT_EQ_STR(QCELL(&got, 0, 0), "1");
    qtable_free(&got);
    free(db);
}

/* A store created by Feast before v0.66 (no value_text column) is written as it is: the table is
 * not migrated by materialize, and Feast's older readers find every row. */
TEST(e2e_materialize_into_pre066_online_store)
{
    const char *dir = test_tmpdir();
    char *data = test_path(dir, "data");
    mkdir(data, 0755);
    char *pq = test_path(dir, "data/driver_stats.parquet"), *old = test_path(dir, "data/old.db");
    test_copy_file(test_fixture("driver_stats.parquet"), pq);
    test_copy_file(test_fixture("online_store_pre066_schema.db"), old);
    char *yaml = test_path(dir, "feature_store.yaml"), *feat = test_path(dir, "features.yaml");
    const char *features = "entities:\n  - {name: driver, join_key: driver_id, value_type: Int64}\n"
                           "sources:\n  - {name: s, path: data/driver_stats.parquet, timestamp_field: event_timestamp,"
                           " created_timestamp_column: created}\n"
                           "feature_views:\n  - name: driver_hourly_stats\n    entities: [driver]\n    source: s\n"
                           "    schema:\n      - {name: conv_rate, dtype: Float32}\n      - {name: acc_rate, dtype: Float32}\n"
                           "      - {name: avg_daily_trips, dtype: Int64}\n";
    test_write_file(feat, features);
    /* apply against a scratch store, then point the repo at Feast's old store */
    test_write_file(yaml, "project: offline_server\nregistry: data/registry.db\nonline_store: {path: data/scratch.db}\n");
    struct run_result r;
    ferry(&r, dir, "apply", NULL, NULL, NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);
    test_write_file(yaml, "project: offline_server\nregistry: data/registry.db\nonline_store: {path: data/old.db}\n");
    ferry(&r, dir, "materialize", "2021-04-12", "2021-04-13", NULL, NULL);
    expect_ok(&r);
    run_result_cleanup(&r);

    struct qtable cols, rows;
    sqlite_query(old, "SELECT group_concat(name, ',') FROM pragma_table_info('offline_server_driver_hourly_stats')", &cols);
    ASSERT_FALSE(strstr(QCELL(&cols, 0, 0), "value_text") != NULL);
    sqlite_query(old, "SELECT count(*), count(DISTINCT entity_key) FROM offline_server_driver_hourly_stats", &rows);
    ASSERT_EQ_STR(QCELL(&rows, 0, 0), "15");
    ASSERT_EQ_STR(QCELL(&rows, 0, 1), "5");
    qtable_free(&cols);
    qtable_free(&rows);

    /* get-online-features reads the old layout too */
    const char *argv[] = {"-c", dir, "get-online-features", "-F", "driver_hourly_stats:avg_daily_trips", "-e",
                          "driver_id=1001", NULL};
    test_run_ferry(&r, NULL, argv);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"statuses\":[\"PRESENT\"],\"event_timestamps\":[\"2021-04-1");
    run_result_cleanup(&r);
    free(data);
    free(pq);
    free(old);
    free(yaml);
    free(feat);
}
