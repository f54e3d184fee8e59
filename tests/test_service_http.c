/* `ferry serve` end to end: each test starts the real server binary on a free loopback port,
 * drives it over HTTP with libcurl, checks what the online store holds with independent SQL and
 * DuckDB queries of the fixture, and stops it with SIGTERM expecting exit status 0. */
#include "dbcheck.h"
#include "server_testlib.h"
#include "test.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPO_YAML                                                                                  \
    "project: e2e\n"                                                                               \
    "registry: data/registry.db\n"                                                                 \
    "provider: local\n"                                                                            \
    "online_store:\n  type: sqlite\n  path: data/online.db\n"                                      \
    "entity_key_serialization_version: 3\n"

#define REPO_FEATURES(source_file)                                                                 \
    "entities:\n"                                                                                  \
    "  - name: driver\n    join_key: driver_id\n"                                                  \
    "sources:\n"                                                                                   \
    "  - name: driver_source\n    path: data/" source_file "\n"                                    \
    "    timestamp_field: event_timestamp\n    created_timestamp_column: created\n"                \
    "feature_views:\n"                                                                             \
    "  - name: driver_hourly_stats\n    entities: [driver]\n    ttl: 1d\n"                         \
    "    source: driver_source\n    schema:\n"                                                     \
    "      - {name: driver_id, dtype: Int64}\n"                                                    \
    "      - {name: conv_rate, dtype: Float32}\n"                                                  \
    "      - {name: acc_rate, dtype: Float32}\n"                                                   \
    "      - {name: avg_daily_trips, dtype: Int64}\n"

#define MAT_BODY "{\"start_ts\":\"2021-04-12T00:00:00\",\"end_ts\":\"2021-04-20T00:00:00\"}"

/* A repo in a temp dir, applied. big: a generated source large enough (many keys, small batches)
 * that a job stays running for a while, for the busy-view and cancel tests. */
static const char *make_repo(const char *ferry_yaml, bool big)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s%s", REPO_YAML, ferry_yaml ? ferry_yaml : "");
    return srv_make_repo(yaml, big ? REPO_FEATURES("big.parquet") : REPO_FEATURES("driver_stats.parquet"), big);
}

/* ---- the server process ---- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* ---- tests ---- */

TEST(http_sync_materialize_writes_online_store)
{
    const char *dir = make_repo(NULL, false);
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "POST", "/materialize", MAT_BODY);
    EXPECT_STATUS(r, 200);
    ASSERT_EQ_STR(r.body, "null");   /* Feast's synchronous answer */
    resp_free(&r);

    /* Same rows as the CLI writes for this window (tests/test_e2e.c): 5 drivers x 3 features. */
    char *db = test_path(dir, "data/online.db");
    struct qtable cnt;
    sqlite_query(db, "SELECT count(*), count(DISTINCT entity_key) FROM e2e_driver_hourly_stats", &cnt);
    ASSERT_EQ_STR(QCELL(&cnt, 0, 0), "15");
    ASSERT_EQ_STR(QCELL(&cnt, 0, 1), "5");
    qtable_free(&cnt);
    free(db);

    /* The request log: one JSON line per request. */
    expect_clean_stop(&s);
    char *err = test_read_file(s.errpath, NULL);
    ASSERT_CONTAINS(err, "\"msg\":\"request\",\"method\":\"POST\",\"path\":\"/materialize\",\"status\":200,\"ms\":");
    /* ... and one per job event, the last with the per-view rows. */
    ASSERT_CONTAINS(err, "\"msg\":\"job\",\"job\":\"");
    ASSERT_CONTAINS(err, "\"event\":\"queued\",\"kind\":\"materialize\",\"trigger\":\"http\"");
    ASSERT_CONTAINS(err, "\"event\":\"running\"");
    ASSERT_CONTAINS(err, "\"event\":\"succeeded\"");
    ASSERT_CONTAINS(err, "\"status\":\"succeeded\",\"rows_read\":5,\"rows_written\":5");
    ASSERT_CONTAINS(err, "\"msg\":\"shutdown\",\"signal\":\"SIGTERM\"");
    free(err);
}

TEST(http_async_materialize_answers_202_then_job_succeeds)
{
    const char *dir = make_repo(NULL, false);
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "POST", "/materialize?async=true", MAT_BODY);
    EXPECT_STATUS(r, 202);
    ASSERT_CONTAINS(r.body, "{\"status\":\"accepted\",\"feature_views\":[\"driver_hourly_stats\"],\"job_id\":\"");
    char *id = json_field(r.body, "job_id");
    ASSERT_TRUE(id && strlen(id) == 36);
    resp_free(&r);
    char *st = wait_job(&s, id, "succeeded", 120);
    ASSERT_EQ_STR(st, "succeeded");
    free(st);

    char *db = test_path(dir, "data/online.db");
    struct qtable cnt;
    sqlite_query(db, "SELECT count(DISTINCT entity_key) FROM e2e_driver_hourly_stats", &cnt);
    ASSERT_EQ_STR(QCELL(&cnt, 0, 0), "5");
    qtable_free(&cnt);
    free(db);

    /* Unknown job ids are 404 with the JSON error body. */
    r = request(&s, "GET", "/jobs/00000000-0000-4000-8000-000000000000", NULL);
    EXPECT_STATUS(r, 404);
    ASSERT_CONTAINS(r.body, "\"error\":");
    resp_free(&r);
    free(id);
    expect_clean_stop(&s);
}

TEST(http_get_online_features_matches_independent_query)
{
    const char *dir = make_repo(NULL, false);
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "POST", "/materialize",
                            "{\"start_ts\":\"2021-04-12\",\"end_ts\":\"2021-04-13\",\"feature_views\":[\"driver_hourly_stats\"]}");
    EXPECT_STATUS(r, 200);
    resp_free(&r);

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
             "\"metadata\":{\"feature_names\":[\"driver_id\",\"conv_rate\",\"avg_daily_trips\"]}}",
             QCELL(&want, 0, 0), QCELL(&want, 0, 2), QCELL(&want, 0, 1), QCELL(&want, 0, 2));
    r = request(&s, "POST", "/get-online-features",
                "{\"features\":[\"driver_hourly_stats:conv_rate\",\"driver_hourly_stats:avg_daily_trips\"],"
                "\"entities\":{\"driver_id\":[1001,9999]}}");
    EXPECT_STATUS(r, 200);
    ASSERT_EQ_STR(r.body, expected);
    resp_free(&r);

    /* full_feature_names renames the feature columns view__feature. */
    r = request(&s, "POST", "/get-online-features",
                "{\"features\":[\"driver_hourly_stats:conv_rate\"],\"entities\":{\"driver_id\":[1001]},"
                "\"full_feature_names\":true}");
    EXPECT_STATUS(r, 200);
    ASSERT_CONTAINS(r.body, "\"feature_names\":[\"driver_id\",\"driver_hourly_stats__conv_rate\"]");
    resp_free(&r);

    /* feature_service is Feast's other form, which ferry does not support: a clear 400. */
    r = request(&s, "POST", "/get-online-features", "{\"feature_service\":\"fs\",\"entities\":{\"driver_id\":[1001]}}");
    EXPECT_STATUS(r, 400);
    ASSERT_CONTAINS(r.body, "feature_service is not supported");
    resp_free(&r);
    qtable_free(&want);
    expect_clean_stop(&s);
}

TEST(http_busy_view_is_409_unless_forced)
{
    const char *dir = make_repo("ferry:\n  batch_rows: 100\n", true);   /* long enough to still be running */
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "POST", "/materialize?async=true", MAT_BODY);
    EXPECT_STATUS(r, 202);
    char *first = json_field(r.body, "job_id");
    resp_free(&r);

    r = request(&s, "POST", "/materialize?async=true", MAT_BODY);
    EXPECT_STATUS(r, 409);
    ASSERT_CONTAINS(r.body, first);   /* the answer names the busy job */
    resp_free(&r);

    r = request(&s, "POST", "/materialize?async=true&force=true", MAT_BODY);
    EXPECT_STATUS(r, 202);
    char *second = json_field(r.body, "job_id");
    ASSERT_TRUE(second && strcmp(first, second) != 0);
    resp_free(&r);

    char *st = wait_job(&s, second, "succeeded", 120);
    ASSERT_EQ_STR(st, "succeeded");
    free(st);
    st = wait_job(&s, first, "succeeded", 120);
    ASSERT_EQ_STR(st, "succeeded");
    free(st);
    free(first);
    free(second);
    expect_clean_stop(&s);
}

TEST(http_idempotency_key_returns_the_first_job)
{
    const char *dir = make_repo(NULL, false);
    struct server s;
    start_server(&s, dir);
    const char *key1[] = {"Idempotency-Key: nightly-2021-04-20", NULL};
    struct resp r = request_ex(&s, "POST", "/materialize?async=true", MAT_BODY, key1, false);
    EXPECT_STATUS(r, 202);
    char *id = json_field(r.body, "job_id");
    resp_free(&r);
    char *st = wait_job(&s, id, "succeeded", 120);
    free(st);

    /* A repeat, even after the job finished, is the same job, not a second run. */
    r = request_ex(&s, "POST", "/materialize?async=true", MAT_BODY, key1, false);
    EXPECT_STATUS(r, 202);
    char *again = json_field(r.body, "job_id");
    ASSERT_EQ_STR(again, id);
    resp_free(&r);
    /* Synchronous with the same key waits for that job: 200 null. */
    r = request_ex(&s, "POST", "/materialize", MAT_BODY, key1, false);
    EXPECT_STATUS(r, 200);
    ASSERT_EQ_STR(r.body, "null");
    resp_free(&r);

    r = request(&s, "GET", "/jobs", NULL);
    EXPECT_STATUS(r, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    ASSERT_EQ_INT(json_array_size(json_object_get(doc, "jobs")), 1);
    json_decref(doc);
    resp_free(&r);

    /* Another key is another job. */
    const char *key2[] = {"Idempotency-Key: other", NULL};
    r = request_ex(&s, "POST", "/materialize?async=true", MAT_BODY, key2, false);
    EXPECT_STATUS(r, 202);
    char *other = json_field(r.body, "job_id");
    ASSERT_TRUE(other && strcmp(other, id) != 0);
    resp_free(&r);
    free(other);
    free(again);
    free(id);
    expect_clean_stop(&s);
}

TEST(http_cancel_queued_and_running_jobs)
{
    const char *dir = make_repo("ferry:\n  batch_rows: 100\n", true);   /* long enough to still be running */
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "POST", "/materialize?async=true", MAT_BODY);
    EXPECT_STATUS(r, 202);
    char *running = json_field(r.body, "job_id");
    resp_free(&r);
    /* Forced behind the first on the same view, so it waits in the queue. */
    r = request(&s, "POST", "/materialize?async=true&force=true", MAT_BODY);
    EXPECT_STATUS(r, 202);
    char *queued = json_field(r.body, "job_id");
    resp_free(&r);

    char path[128];
    snprintf(path, sizeof path, "/jobs/%s/cancel", queued);
    r = request(&s, "POST", path, NULL);
    EXPECT_STATUS(r, 200);   /* a queued job is cancelled at once */
    ASSERT_CONTAINS(r.body, queued);
    ASSERT_CONTAINS(r.body, "\"status\":\"cancelled\"");
    resp_free(&r);
    r = request(&s, "POST", path, NULL);
    EXPECT_STATUS(r, 409);   /* already finished */
    resp_free(&r);

    snprintf(path, sizeof path, "/jobs/%s/cancel", running);
    r = request(&s, "POST", path, NULL);
    ASSERT_TRUE(r.status == 202 || r.status == 200);
    ASSERT_CONTAINS(r.body, running);
    resp_free(&r);
    char *st = wait_job(&s, running, "cancelled", 120);
    ASSERT_EQ_STR(st, "cancelled");
    free(st);

    r = request(&s, "POST", "/jobs/00000000-0000-4000-8000-000000000000/cancel", NULL);
    EXPECT_STATUS(r, 404);
    resp_free(&r);
    free(running);
    free(queued);
    expect_clean_stop(&s);
}

TEST(http_job_listing_newest_first_with_filters)
{
    const char *dir = make_repo(NULL, false);
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "POST", "/materialize?async=true",
                            "{\"start_ts\":\"2021-04-12\",\"end_ts\":\"2021-04-13\"}");
    char *older = json_field(r.body, "job_id");
    resp_free(&r);
    free(wait_job(&s, older, "succeeded", 120));
    r = request(&s, "POST", "/materialize-incremental?async=true", "{\"end_ts\":\"2021-04-14\"}");
    EXPECT_STATUS(r, 202);
    char *newer = json_field(r.body, "job_id");
    resp_free(&r);
    free(wait_job(&s, newer, "succeeded", 120));

    r = request(&s, "GET", "/jobs", NULL);
    EXPECT_STATUS(r, 200);
    const char *a = strstr(r.body, newer), *b = strstr(r.body, older);
    ASSERT_TRUE(a && b && a < b);
    resp_free(&r);

    r = request(&s, "GET", "/jobs?limit=1", NULL);
    EXPECT_STATUS(r, 200);
    ASSERT_CONTAINS(r.body, newer);
    ASSERT_FALSE(strstr(r.body, older));
    resp_free(&r);
    r = request(&s, "GET", "/jobs?limit=1&offset=1", NULL);
    EXPECT_STATUS(r, 200);
    ASSERT_CONTAINS(r.body, older);
    ASSERT_FALSE(strstr(r.body, newer));
    resp_free(&r);
    r = request(&s, "GET", "/jobs?status=failed", NULL);
    EXPECT_STATUS(r, 200);
    ASSERT_FALSE(strstr(r.body, older) || strstr(r.body, newer));
    resp_free(&r);
    r = request(&s, "GET", "/jobs?status=succeeded&view=driver_hourly_stats", NULL);
    EXPECT_STATUS(r, 200);
    ASSERT_TRUE(strstr(r.body, older) && strstr(r.body, newer));
    resp_free(&r);
    r = request(&s, "GET", "/jobs?view=other_view", NULL);
    EXPECT_STATUS(r, 200);
    ASSERT_FALSE(strstr(r.body, older));
    resp_free(&r);
    r = request(&s, "GET", "/jobs?status=bogus", NULL);
    EXPECT_STATUS(r, 400);
    resp_free(&r);
    r = request(&s, "GET", "/jobs?limit=0", NULL);
    EXPECT_STATUS(r, 400);
    resp_free(&r);
    free(older);
    free(newer);
    expect_clean_stop(&s);
}

TEST(http_token_required_except_health_and_metrics)
{
    setenv("FERRY_TEST_TOKEN", "s3cret-token", 1);
    const char *dir = make_repo("ferry:\n  serve:\n    token_env: FERRY_TEST_TOKEN\n", false);
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "GET", "/jobs", NULL);
    EXPECT_STATUS(r, 401);
    ASSERT_CONTAINS(r.headers, "WWW-Authenticate: Bearer");
    ASSERT_CONTAINS(r.body, "\"error\":");
    resp_free(&r);
    const char *wrong[] = {"Authorization: Bearer s3cret-tokeX", NULL};
    r = request_ex(&s, "POST", "/materialize", MAT_BODY, wrong, false);
    EXPECT_STATUS(r, 401);
    resp_free(&r);
    const char *right[] = {"Authorization: Bearer s3cret-token", NULL};
    r = request_ex(&s, "GET", "/jobs", NULL, right, false);
    EXPECT_STATUS(r, 200);
    resp_free(&r);
    r = request_ex(&s, "POST", "/materialize", MAT_BODY, right, false);
    EXPECT_STATUS(r, 200);
    resp_free(&r);
    r = request(&s, "GET", "/health", NULL);
    EXPECT_STATUS(r, 200);
    resp_free(&r);
    r = request(&s, "GET", "/metrics", NULL);
    EXPECT_STATUS(r, 200);
    resp_free(&r);
    expect_clean_stop(&s);
}

TEST(http_non_loopback_without_token_refused)
{
    const char *dir = make_repo(NULL, false);
    const char *argv[] = {"-c", dir, "serve", "--host", "0.0.0.0", "--port", "0", NULL};
    struct run_result r;
    test_run_ferry(&r, NULL, argv);
    ASSERT_EQ_INT(r.status, 3);
    ASSERT_CONTAINS(r.err, "without a token");
    run_result_cleanup(&r);
}

TEST(http_body_limit_is_413)
{
    const char *dir = make_repo("ferry:\n  serve:\n    max_body_bytes: 1024\n", false);
    struct server s;
    start_server(&s, dir);
    char big[4096];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "{\"end_ts\":\"2021-04-20\"}", 23);
    struct resp r = request(&s, "POST", "/materialize-incremental", big);
    EXPECT_STATUS(r, 413);
    ASSERT_CONTAINS(r.body, "1024");
    resp_free(&r);
    /* Without a Content-Length the limit applies to the bytes received. */
    r = request_ex(&s, "POST", "/materialize-incremental", big, NULL, true);
    EXPECT_STATUS(r, 413);
    resp_free(&r);
    /* The server is still fine, and a body under the limit passes. */
    r = request(&s, "POST", "/materialize-incremental?async=true", "{\"end_ts\":\"2021-04-20\"}");
    EXPECT_STATUS(r, 202);
    resp_free(&r);
    expect_clean_stop(&s);
}

TEST(http_malformed_requests_get_4xx_json)
{
    static const struct {
        const char *method, *path, *body;
        int status;
        const char *needle;
    } cases[] = {
        {"POST", "/materialize", "{\"start_ts\":", 400, "not valid JSON"},
        {"POST", "/materialize", "[1,2]", 400, "JSON object"},
        {"POST", "/materialize", "{\"start_ts\":1,\"end_ts\":\"2021-04-20\"}", 400, "start_ts must be a string"},
        {"POST", "/materialize", "{\"end_ts\":\"2021-04-20\"}", 400, "start_ts is required"},
        {"POST", "/materialize", "{\"start_ts\":\"2021-13-45\",\"end_ts\":\"2021-04-20\"}", 400, "start_ts"},
        {"POST", "/materialize", "{\"start_ts\":\"2021-04-21\",\"end_ts\":\"2021-04-20\"}", 400, "after"},
        {"POST", "/materialize", "{\"start_ts\":\"2021-04-12\",\"end_ts\":\"2021-04-20\",\"feature_views\":\"x\"}", 400, "feature_views"},
        {"POST", "/materialize", "{\"start_ts\":\"2021-04-12\",\"end_ts\":\"2021-04-20\",\"feature_views\":[1]}", 400, "feature_views"},
        {"POST", "/materialize", "{\"start_ts\":\"2021-04-12\",\"end_ts\":\"2021-04-20\",\"feature_views\":[\"nope\"]}", 404, "nope"},
        {"POST", "/materialize", "{\"disable_event_timestamp\":\"yes\"}", 400, "disable_event_timestamp"},
        {"POST", "/materialize-incremental", "{}", 400, "end_ts is required"},
        {"POST", "/materialize-incremental", "{\"end_ts\":\"tomorrow\"}", 400, "end_ts"},
        {"POST", "/get-online-features", "{\"features\":\"x\",\"entities\":{\"driver_id\":[1]}}", 400, "features"},
        {"POST", "/get-online-features", "{\"features\":[\"driver_hourly_stats:conv_rate\"],\"entities\":{\"driver_id\":1}}", 400, "entities"},
        {"POST", "/get-online-features", "{\"features\":[\"driver_hourly_stats:conv_rate\"],\"entities\":{\"driver_id\":[true]}}", 400, "number or a string"},
        {"POST", "/get-online-features", "{\"features\":[\"nope:conv_rate\"],\"entities\":{\"driver_id\":[1001]}}", 404, "nope"},
        {"POST", "/get-online-features", "\xff\xfe", 400, "not valid JSON"},
        {"GET", "/no-such-route", NULL, 404, "no such route"},
        {"GET", "/materialize", NULL, 405, "not allowed"},
        {"DELETE", "/jobs", NULL, 405, "not allowed"},
        {"GET", "/jobs/00000000-0000-4000-8000-000000000000", NULL, 404, "\"error\""},
        {"GET", "/jobs/x/y/z", NULL, 404, "no such route"},
    };
    const char *dir = make_repo(NULL, false);
    struct server s;
    start_server(&s, dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r = request(&s, cases[i].method, cases[i].path, cases[i].body);
        if (r.status != cases[i].status || !strstr(r.body, cases[i].needle))
            test_fail(__FILE__, __LINE__, "case %zu (%s %s %s): status %ld, expected %d; body %s", i, cases[i].method,
                      cases[i].path, cases[i].body ? cases[i].body : "", r.status, cases[i].status, r.body);
        /* Every error body is a JSON object with "error" and "detail". */
        json_t *doc = json_loads(r.body, 0, NULL);
        ASSERT_TRUE(json_is_string(json_object_get(doc, "error")) && json_object_get(doc, "detail"));
        json_decref(doc);
        resp_free(&r);
    }
    struct resp r = request(&s, "GET", "/health", NULL);
    EXPECT_STATUS(r, 200);
    resp_free(&r);
    expect_clean_stop(&s);
}

TEST(http_metrics_after_materialization)
{
    const char *dir = make_repo(NULL, false);
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "POST", "/materialize", MAT_BODY);
    EXPECT_STATUS(r, 200);
    resp_free(&r);
    r = request(&s, "GET", "/metrics", NULL);
    EXPECT_STATUS(r, 200);
    ASSERT_CONTAINS(r.headers, "text/plain; version=0.0.4");
    ASSERT_CONTAINS(r.body, "feast_materialization_result_total{feature_view=\"driver_hourly_stats\",status=\"success\"} 1\n");
    ASSERT_CONTAINS(r.body, "feast_materialization_result_total{feature_view=\"driver_hourly_stats\",status=\"failure\"} 0\n");
    ASSERT_CONTAINS(r.body, "# TYPE feast_materialization_duration_seconds histogram\n");
    ASSERT_CONTAINS(r.body, "feast_materialization_duration_seconds_bucket{feature_view=\"driver_hourly_stats\",le=\"3600\"} 1\n");
    ASSERT_CONTAINS(r.body, "feast_materialization_duration_seconds_count{feature_view=\"driver_hourly_stats\"} 1\n");
    ASSERT_CONTAINS(r.body, "ferry_rows_written_total{feature_view=\"driver_hourly_stats\"} 5\n");
    ASSERT_CONTAINS(r.body, "ferry_jobs{status=\"succeeded\"} 1\n");
    ASSERT_CONTAINS(r.body, "ferry_http_requests_total{method=\"POST\",route=\"/materialize\",status=\"200\"} 1\n");
    ASSERT_CONTAINS(r.body, "ferry_http_request_duration_seconds_count{route=\"/materialize\"} 1\n");
    /* Freshness: now - 2021-04-20, so more than four years; checked within a minute. */
    const char *f = strstr(r.body, "feast_feature_freshness_seconds{feature_view=\"driver_hourly_stats\",project=\"e2e\"} ");
    ASSERT_TRUE(f);
    double fresh = atof(strchr(f, '}') + 2);
    double want = (double)time(NULL) - 1618876800.0;
    ASSERT_TRUE(fresh > want - 60 && fresh < want + 60);
    resp_free(&r);
    expect_clean_stop(&s);
}

TEST(http_health_503_without_registry_and_sigterm_during_sync_job)
{
    const char *dir = make_repo("ferry:\n  batch_rows: 100\n", true);   /* long enough to still be running */
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "GET", "/health", NULL);
    EXPECT_STATUS(r, 200);
    resp_free(&r);
    /* Shut down while a synchronous request waits: the job is stopped at a batch boundary and
     * the server still exits 0 (the client sees its connection answered or closed). */
    pid_t client = fork();
    if (client == 0) {
        /* Plain curl: the outcome is not asserted, only that the server copes. */
        CURL *c = curl_easy_init();
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/materialize", s.port);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, MAT_BODY);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_perform(c);
        curl_easy_cleanup(c);
        _exit(0);
    }
    usleep(300000);
    expect_clean_stop(&s);
    int st;
    waitpid(client, &st, 0);

    char *reg = test_path(dir, "data/registry.db"), *moved = test_path(dir, "data/registry.db.away");
    rename(reg, moved);
    start_server(&s, dir);
    r = request(&s, "GET", "/health", NULL);
    EXPECT_STATUS(r, 503);
    resp_free(&r);
    expect_clean_stop(&s);
    free(reg);
    free(moved);
}

/* A server killed with SIGKILL in the middle of a job: at the next start the job is failed with
 * "interrupted", nothing was recorded for its window, and the same request then runs to the end. */
TEST(http_restart_after_sigkill_marks_running_job_interrupted)
{
    const char *dir = make_repo("ferry:\n  batch_rows: 100\n  queue_batches: 1\n", true);
    struct server s;
    start_server(&s, dir);
    struct resp r = request(&s, "POST", "/materialize?async=true", MAT_BODY);
    EXPECT_STATUS(r, 202);
    char *id = json_field(r.body, "job_id");
    resp_free(&r);
    char *st = wait_job(&s, id, "running", 120);
    ASSERT_EQ_STR(st, "running");
    free(st);
    kill(s.pid, SIGKILL);
    int wst;
    waitpid(s.pid, &wst, 0);

    start_server(&s, dir);
    char path[128];
    snprintf(path, sizeof path, "/jobs/%s", id);
    r = request(&s, "GET", path, NULL);
    EXPECT_STATUS(r, 200);
    ASSERT_CONTAINS(r.body, "\"status\":\"failed\"");
    ASSERT_CONTAINS(r.body, "\"error\":\"interrupted\"");
    resp_free(&r);
    /* the registry records nothing for the interrupted window */
    const char *argv[] = {"-c", dir, "feature-views", "--json", NULL};
    struct run_result fv;
    test_run_ferry(&fv, NULL, argv);
    ASSERT_EQ_INT(fv.status, 0);
    ASSERT_CONTAINS(fv.out, "\"intervals\":[]");
    run_result_cleanup(&fv);

    r = request(&s, "POST", "/materialize", MAT_BODY);
    EXPECT_STATUS(r, 200);
    resp_free(&r);
    char *db = test_path(dir, "data/online.db");
    struct qtable cnt;
    sqlite_query(db, "SELECT count(DISTINCT entity_key) FROM e2e_driver_hourly_stats", &cnt);
    ASSERT_EQ_STR(QCELL(&cnt, 0, 0), "60000");
    qtable_free(&cnt);
    test_run_ferry(&fv, NULL, argv);
    ASSERT_CONTAINS(fv.out, "\"intervals\":[{\"start\":\"2021-04-12T00:00:00Z\",\"end\":\"2021-04-20T00:00:00Z\"}]");
    run_result_cleanup(&fv);
    free(db);
    free(id);
    expect_clean_stop(&s);
}
