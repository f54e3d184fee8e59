/* The service's job layer on a real repository (the driver_stats fixture, applied with the ferry
 * binary): jobs run through the engine into a real SQLite online store and Feast registry, and
 * every expectation is checked independently (SQL on the online store and on the job history,
 * `ferry feature-views --json` for the registry, DuckDB on the fixture). A running job is held at
 * its first write by a write lock the test takes on the online store, which makes "running",
 * "queued behind it" and "cancelled mid-run" deterministic without timing guesses. */
#include "dbcheck.h"
#include "test.h"

#include "config/config.h"
#include "core/time.h"
#include "service/jobs.h"
#include "service/metrics.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* metrics.c belongs to the HTTP layer and may not be in this build yet; a real one overrides this. */
__attribute__((weak)) void metrics_materialization(const char *view, bool success, double seconds,
                                                   uint64_t rows_written)
{
    (void)view, (void)success, (void)seconds, (void)rows_written;
}

#define FEATURES_YAML                                                                              \
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
    "      - {name: avg_daily_trips, dtype: Int64}\n"                                              \
    "  - name: driver_daily_stats\n    entities: [driver]\n    ttl: 1d\n"                          \
    "    source: driver_source\n    schema:\n"                                                     \
    "      - {name: driver_id, dtype: Int64}\n"                                                    \
    "      - {name: acc_rate, dtype: Float32}\n"

#define HOURLY "driver_hourly_stats"
#define DAILY "driver_daily_stats"

static void expect_ok(struct run_result *r)
{
    if (r->status != 0)
        test_fail(__FILE__, __LINE__, "ferry exited %d\nstdout: %s\nstderr: %s", r->status, r->out, r->err);
}

/* A repo in a temp dir, applied with the binary, and its config loaded for jobs_start. */
static const char *setup_repo(int workers, struct ferry_config *cfg)
{
    const char *dir = test_tmpdir();
    char *p = test_path(dir, "data");
    mkdir(p, 0755);
    free(p);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "project: jobs\nregistry: data/registry.db\nprovider: local\n"
             "online_store:\n  type: sqlite\n  path: data/online.db\n"
             "entity_key_serialization_version: 3\n"
             "ferry:\n  batch_rows: 2\n  queue_batches: 1\n  serve:\n    workers: %d\n",
             workers);
    p = test_path(dir, "feature_store.yaml");
    test_write_file(p, yaml);
    free(p);
    p = test_path(dir, "features.yaml");
    test_write_file(p, FEATURES_YAML);
    free(p);
    p = test_path(dir, "data/driver_stats.parquet");
    test_copy_file(test_fixture("driver_stats.parquet"), p);
    free(p);
    struct run_result r;
    const char *argv[] = {"-c", dir, "apply", NULL};
    test_run_ferry(&r, NULL, argv);
    expect_ok(&r);
    run_result_cleanup(&r);
    struct ferry_err err = {0};
    ASSERT_OK(config_load(dir, NULL, cfg, &err), &err);
    return dir;
}

static int64_t ts(const char *text)
{
    int64_t ns;
    struct ferry_err err = {0};
    ASSERT_OK(ferry_time_parse(text, &ns, &err), &err);
    return ns;
}

static int submit(struct job_manager *m, const char *view, bool force, const char *key, char id[JOB_ID_LEN],
                  bool *existing, struct ferry_err *err)
{
    const char *views[] = {view};
    struct job_spec spec = {.kind = JOB_MATERIALIZE, .views = views, .nviews = view ? 1 : 0,
                            .start_ns = ts("2021-04-12"), .end_ns = ts("2021-04-20"), .trigger = "test",
                            .idempotency_key = key, .force = force};
    return jobs_submit(m, &spec, id, existing, err);
}

static char *job_json(struct job_manager *m, const char *id)
{
    struct fbuf b;
    fbuf_init(&b, 1 << 20);
    struct ferry_err err = {0};
    ASSERT_OK(jobs_get_json(m, id, &b, &err), &err);
    return fbuf_take(&b, NULL);
}

static bool has_status(struct job_manager *m, const char *id, const char *status)
{
    char want[64];
    snprintf(want, sizeof want, "\"status\":\"%s\",\"trigger\"", status);
    char *j = job_json(m, id);
    bool ok = strstr(j, want) != NULL;
    free(j);
    return ok;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void wait_status(struct job_manager *m, const char *id, const char *status)
{
    for (int i = 0; i < 2000; i++) {
        if (has_status(m, id, status))
            return;
        sleep_ms(10);
    }
    char *j = job_json(m, id);
    test_fail(__FILE__, __LINE__, "job %s never reached %s: %s", id, status, j);
}

/* Holds the online store's write lock, so a job blocks at its first batch write (the store waits
 * up to 30 s for the lock) and stays "running" until the test lets go. */
static sqlite3 *lock_online(const char *dir)
{
    char *p = test_path(dir, "data/online.db");
    sqlite3 *db = NULL;
    if (sqlite3_open(p, &db) != SQLITE_OK || sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        test_fail(__FILE__, __LINE__, "cannot lock %s", p);
    free(p);
    return db;
}

static void unlock_online(sqlite3 *db)
{
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
}

static void *unlock_later(void *db)
{
    sleep_ms(300);
    unlock_online(db);
    return NULL;
}

static char *feature_views_json(const char *dir)
{
    struct run_result r;
    const char *argv[] = {"-c", dir, "feature-views", "--json", NULL};
    test_run_ferry(&r, NULL, argv);
    expect_ok(&r);
    free(r.err);
    return r.out;
}

/* The "intervals" array of one view in `ferry feature-views --json`. */
static void expect_intervals(const char *dir, const char *view, const char *intervals)
{
    char *out = feature_views_json(dir);
    char key[128];
    snprintf(key, sizeof key, "{\"name\":\"%s\"", view);
    char *v = strstr(out, key);
    if (!v)
        test_fail(__FILE__, __LINE__, "view %s missing from %s", view, out);
    /* The view's own intervals: the first "intervals" key after its name. */
    char *iv = strstr(v, "\"intervals\":");
    char want[512];
    snprintf(want, sizeof want, "\"intervals\":%s", intervals);
    if (!iv || strncmp(iv, want, strlen(want)) != 0)
        test_fail(__FILE__, __LINE__, "view %s: expected %s in %s", view, want, v);
    free(out);
}

static const char *state_path(const char *dir)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/data/ferry_state.db", dir);
    return p;
}

static long long state_count(const char *dir, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs %s", where);
    struct qtable t;
    sqlite_query(state_path(dir), sql, &t);
    long long n = atoll(QCELL(&t, 0, 0));
    qtable_free(&t);
    return n;
}

/* The killed child's history has one running and one queued job (tolerates a file still being
 * created, unlike sqlite_query). */
static bool child_ready(const char *dir)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool ready = false;
    if (access(state_path(dir), F_OK) == 0 &&
        sqlite3_open_v2(state_path(dir), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'queued')"
                               " FROM jobs", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ready = sqlite3_column_int(st, 0) == 1 && sqlite3_column_int(st, 1) == 1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ready;
}

static long long online_keys(const char *dir, const char *view)
{
    char *db = test_path(dir, "data/online.db");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(DISTINCT entity_key) FROM jobs_%s", view);
    struct qtable t;
    sqlite_query(db, sql, &t);
    long long n = atoll(QCELL(&t, 0, 0));
    qtable_free(&t);
    free(db);
    return n;
}

/* Drivers with an event in [2021-04-12, 2021-04-20], from the fixture itself. */
static long long expected_drivers(void)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT driver_id) FROM '%s' WHERE event_timestamp BETWEEN"
             " TIMESTAMPTZ '2021-04-12 00:00:00+00' AND TIMESTAMPTZ '2021-04-20 00:00:00+00'",
             test_fixture("driver_stats.parquet"));
    struct qtable t;
    duck_query(sql, &t);
    long long n = atoll(QCELL(&t, 0, 0));
    qtable_free(&t);
    return n;
}

TEST(jobs_materialize_job_succeeds_and_writes_store_and_registry)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(2, &cfg);
    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    char id[JOB_ID_LEN];
    bool existing = true;
    ASSERT_OK(submit(m, HOURLY, false, NULL, id, &existing, &err), &err);
    ASSERT_FALSE(existing);
    ASSERT_EQ_INT(strlen(id), 36);
    ASSERT_EQ_INT(jobs_wait(m, id, &err), JOB_SUCCEEDED);

    long long want = expected_drivers();
    ASSERT_TRUE(want > 0);
    ASSERT_EQ_INT(online_keys(dir, HOURLY), want);
    expect_intervals(dir, HOURLY, "[{\"start\":\"2021-04-12T00:00:00Z\",\"end\":\"2021-04-20T00:00:00Z\"}]");
    expect_intervals(dir, DAILY, "[]");

    char *j = job_json(m, id);
    ASSERT_CONTAINS(j, "\"kind\":\"materialize\",\"views\":[\"driver_hourly_stats\"],"
                       "\"start\":\"2021-04-12T00:00:00Z\",\"end\":\"2021-04-20T00:00:00Z\",\"status\":\"succeeded\","
                       "\"trigger\":\"test\",\"attempt\":1,");
    ASSERT_CONTAINS(j, "\"error\":null,\"results\":[{\"view\":\"driver_hourly_stats\",\"start\":\"2021-04-12T00:00:00Z\","
                       "\"end\":\"2021-04-20T00:00:00Z\",\"status\":\"succeeded\"");
    char rows[64];
    snprintf(rows, sizeof rows, "\"rows_written\":%lld,", want);
    ASSERT_CONTAINS(j, rows);
    free(j);
    /* The history row itself, read with SQL. */
    ASSERT_EQ_INT(state_count(dir, "WHERE status = 'succeeded' AND started_ns >= created_ns AND finished_ns >= started_ns"), 1);

    /* An incremental job over every view: resolves to both names, and the hourly view starts at its
     * last end, so the registry intervals of both views end at the requested end. */
    struct job_spec inc = {.kind = JOB_MATERIALIZE_INCREMENTAL, .end_ns = ts("2021-04-21"), .trigger = "test"};
    char id2[JOB_ID_LEN];
    ASSERT_OK(jobs_submit(m, &inc, id2, &existing, &err), &err);
    char **views;
    size_t nviews;
    ASSERT_EQ_INT(jobs_views(m, id2, &views, &nviews), 0);
    ASSERT_EQ_INT(nviews, 2);
    ASSERT_TRUE((!strcmp(views[0], HOURLY) && !strcmp(views[1], DAILY)) ||
                (!strcmp(views[0], DAILY) && !strcmp(views[1], HOURLY)));
    char want_views[256];
    snprintf(want_views, sizeof want_views,
             "\"kind\":\"materialize-incremental\",\"views\":[\"%s\",\"%s\"],\"start\":null,\"end\":\"2021-04-21T00:00:00Z\"",
             views[0], views[1]);
    jobs_free_views(views, nviews);
    ASSERT_EQ_INT(jobs_wait(m, id2, &err), JOB_SUCCEEDED);
    expect_intervals(dir, HOURLY, "[{\"start\":\"2021-04-12T00:00:00Z\",\"end\":\"2021-04-21T00:00:00Z\"}]");
    j = job_json(m, id2);
    ASSERT_CONTAINS(j, want_views);
    ASSERT_CONTAINS(j, "{\"view\":\"driver_hourly_stats\",\"start\":\"2021-04-20T00:00:00Z\",\"end\":\"2021-04-21T00:00:00Z\"");
    free(j);

    uint64_t counts[5];
    jobs_counts(m, counts);
    ASSERT_EQ_INT(counts[JOB_QUEUED], 0);
    ASSERT_EQ_INT(counts[JOB_RUNNING], 0);
    ASSERT_EQ_INT(counts[JOB_SUCCEEDED], 2);
    jobs_stop(m, 5);
    config_cleanup(&cfg);
}

TEST(jobs_busy_view_conflicts_and_force_queues_behind_it_in_order)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(3, &cfg);
    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    sqlite3 *lock = lock_online(dir);
    char a[JOB_ID_LEN], b[JOB_ID_LEN], c[JOB_ID_LEN], d[JOB_ID_LEN];
    ASSERT_OK(submit(m, HOURLY, false, NULL, a, NULL, &err), &err);
    wait_status(m, a, "running");

    /* Same view, no force: 409 naming the busy job and view; nothing recorded. */
    ASSERT_EQ_INT(submit(m, HOURLY, false, NULL, b, NULL, &err), FERRY_ECONFLICT);
    char want[256];
    snprintf(want, sizeof want, "feature view 'driver_hourly_stats' already has job %s (running)", a);
    ASSERT_EQ_STR(err.msg, want);
    ASSERT_EQ_INT(state_count(dir, ""), 1);

    /* With force it queues; another view runs at once on a free worker while it still waits. */
    ASSERT_OK(submit(m, HOURLY, true, NULL, c, NULL, &err), &err);
    ASSERT_OK(submit(m, DAILY, false, NULL, d, NULL, &err), &err);
    wait_status(m, d, "running");
    ASSERT_TRUE(has_status(m, c, "queued"));
    uint64_t counts[5];
    jobs_counts(m, counts);
    ASSERT_EQ_INT(counts[JOB_RUNNING], 2);
    ASSERT_EQ_INT(counts[JOB_QUEUED], 1);
    /* A queued job also makes its view busy. */
    ASSERT_EQ_INT(submit(m, HOURLY, false, NULL, b, NULL, &err), FERRY_ECONFLICT);

    unlock_online(lock);
    ASSERT_EQ_INT(jobs_wait(m, c, &err), JOB_SUCCEEDED);
    ASSERT_EQ_INT(jobs_wait(m, a, &err), JOB_SUCCEEDED);
    ASSERT_EQ_INT(jobs_wait(m, d, &err), JOB_SUCCEEDED);

    /* c started only after a finished (read from the history with SQL). */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT started_ns FROM jobs WHERE id = '%s') >= (SELECT finished_ns FROM jobs WHERE id = '%s')", c, a);
    struct qtable t;
    sqlite_query(state_path(dir), sql, &t);
    ASSERT_EQ_STR(QCELL(&t, 0, 0), "1");
    qtable_free(&t);

    /* Listing: newest first, total, view filter, status filter. */
    struct fbuf out;
    fbuf_init(&out, 1 << 20);
    ASSERT_OK(jobs_list_json(m, NULL, DAILY, 0, 0, &out, &err), &err);
    snprintf(want, sizeof want, "{\"jobs\":[{\"id\":\"%s\"", d);
    ASSERT_CONTAINS(out.data, want);
    ASSERT_CONTAINS(out.data, "],\"total\":1,\"limit\":50,\"offset\":0}");
    fbuf_reset(&out);
    ASSERT_OK(jobs_list_json(m, "succeeded", NULL, 2, 1, &out, &err), &err);
    snprintf(want, sizeof want, "{\"jobs\":[{\"id\":\"%s\"", c); /* d is newest; offset 1 skips it */
    ASSERT_CONTAINS(out.data, want);
    ASSERT_CONTAINS(out.data, "],\"total\":3,\"limit\":2,\"offset\":1}");
    fbuf_reset(&out);
    ASSERT_EQ_INT(jobs_list_json(m, "bogus", NULL, 0, 0, &out, &err), FERRY_EINVAL);
    fbuf_cleanup(&out);
    jobs_stop(m, 5);
    config_cleanup(&cfg);
}

TEST(jobs_idempotency_key_returns_the_first_job)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(1, &cfg);
    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    char a[JOB_ID_LEN], b[JOB_ID_LEN], c[JOB_ID_LEN];
    bool existing = true;
    ASSERT_OK(submit(m, HOURLY, false, "key-1", a, &existing, &err), &err);
    ASSERT_FALSE(existing);
    /* Same key, even for another view and while the first is in flight: the first job, no conflict. */
    ASSERT_OK(submit(m, DAILY, false, "key-1", b, &existing, &err), &err);
    ASSERT_TRUE(existing);
    ASSERT_EQ_STR(b, a);
    ASSERT_EQ_INT(jobs_wait(m, a, &err), JOB_SUCCEEDED);
    ASSERT_OK(submit(m, HOURLY, false, "key-1", b, &existing, &err), &err);
    ASSERT_TRUE(existing);
    ASSERT_EQ_STR(b, a);
    ASSERT_OK(submit(m, HOURLY, false, "key-2", c, &existing, &err), &err);
    ASSERT_FALSE(existing);
    ASSERT_FALSE(strcmp(c, a) == 0);
    ASSERT_EQ_INT(jobs_wait(m, c, &err), JOB_SUCCEEDED);
    ASSERT_EQ_INT(state_count(dir, ""), 2);
    ASSERT_EQ_INT(state_count(dir, "WHERE idempotency_key = 'key-1'"), 1);
    jobs_stop(m, 5);
    /* The key survives a restart. */
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    ASSERT_OK(submit(m, DAILY, false, "key-1", b, &existing, &err), &err);
    ASSERT_TRUE(existing);
    ASSERT_EQ_STR(b, a);
    jobs_stop(m, 5);
    config_cleanup(&cfg);
}

TEST(jobs_cancel_queued_job_at_once)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(1, &cfg);
    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    sqlite3 *lock = lock_online(dir);
    char a[JOB_ID_LEN], b[JOB_ID_LEN];
    ASSERT_OK(submit(m, HOURLY, false, NULL, a, NULL, &err), &err);
    wait_status(m, a, "running");
    ASSERT_OK(submit(m, DAILY, false, NULL, b, NULL, &err), &err); /* one worker: waits */
    ASSERT_TRUE(has_status(m, b, "queued"));
    ASSERT_OK(jobs_cancel(m, b, &err), &err);
    ASSERT_TRUE(has_status(m, b, "cancelled")); /* at once, while a still holds the only worker */
    ASSERT_EQ_INT(jobs_wait(m, b, &err), JOB_CANCELLED);
    char *j = job_json(m, b);
    ASSERT_CONTAINS(j, "\"error\":\"cancelled by request\",\"results\":[{\"view\":\"driver_daily_stats\"");
    ASSERT_CONTAINS(j, "\"started_at\":null");
    free(j);
    ASSERT_EQ_INT(jobs_cancel(m, b, &err), FERRY_ECONFLICT);
    ASSERT_CONTAINS(err.msg, "is already cancelled");
    ASSERT_EQ_INT(jobs_cancel(m, "no-such-job", &err), FERRY_ENOTFOUND);
    /* Its view is free again. */
    char c[JOB_ID_LEN];
    ASSERT_OK(submit(m, DAILY, false, NULL, c, NULL, &err), &err);
    ASSERT_OK(jobs_cancel(m, c, &err), &err);
    unlock_online(lock);
    ASSERT_EQ_INT(jobs_wait(m, a, &err), JOB_SUCCEEDED);
    expect_intervals(dir, DAILY, "[]");
    ASSERT_EQ_INT(online_keys(dir, DAILY), 0);
    jobs_stop(m, 5);
    config_cleanup(&cfg);
}

TEST(jobs_cancel_running_job_records_nothing)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(1, &cfg);
    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    sqlite3 *lock = lock_online(dir);
    char a[JOB_ID_LEN];
    ASSERT_OK(submit(m, HOURLY, false, NULL, a, NULL, &err), &err);
    wait_status(m, a, "running");
    sleep_ms(200); /* let it reach its first write (held by the lock) */
    ASSERT_OK(jobs_cancel(m, a, &err), &err);
    ASSERT_OK(jobs_cancel(m, a, &err), &err); /* asking twice is fine while it runs */
    unlock_online(lock);
    ASSERT_EQ_INT(jobs_wait(m, a, &err), JOB_CANCELLED);
    ASSERT_EQ_INT(err.code, FERRY_ECANCELED);
    expect_intervals(dir, HOURLY, "[]");
    char *j = job_json(m, a);
    ASSERT_CONTAINS(j, "\"status\":\"cancelled\",\"trigger\"");
    ASSERT_CONTAINS(j, "\"results\":[{\"view\":\"driver_hourly_stats\"");
    ASSERT_CONTAINS(j, "\"status\":\"cancelled\",\"rows_read\"");
    free(j);
    jobs_stop(m, 5);
    config_cleanup(&cfg);
}

TEST(jobs_stop_cancels_queued_and_running_jobs)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(1, &cfg);
    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    sqlite3 *lock = lock_online(dir);
    char a[JOB_ID_LEN], b[JOB_ID_LEN];
    ASSERT_OK(submit(m, HOURLY, false, NULL, a, NULL, &err), &err);
    wait_status(m, a, "running");
    ASSERT_OK(submit(m, DAILY, false, NULL, b, NULL, &err), &err);
    /* The lock goes away while stop waits, as a slow batch would end: the running job then stops
     * at that batch boundary instead of finishing. */
    pthread_t t;
    ASSERT_EQ_INT(pthread_create(&t, NULL, unlock_later, lock), 0);
    jobs_stop(m, 10);
    pthread_join(t, NULL);
    char sql[256];
    snprintf(sql, sizeof sql, "WHERE id = '%s' AND status = 'cancelled' AND error = 'cancelled: the service is stopping'", a);
    ASSERT_EQ_INT(state_count(dir, sql), 1);
    snprintf(sql, sizeof sql, "WHERE id = '%s' AND status = 'cancelled' AND started_ns IS NULL", b);
    ASSERT_EQ_INT(state_count(dir, sql), 1);
    expect_intervals(dir, HOURLY, "[]");
    expect_intervals(dir, DAILY, "[]");
    config_cleanup(&cfg);
}

TEST(jobs_history_survives_restart)
{
    struct ferry_config cfg;
    setup_repo(2, &cfg);
    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    char a[JOB_ID_LEN], b[JOB_ID_LEN];
    ASSERT_OK(submit(m, HOURLY, false, NULL, a, NULL, &err), &err);
    ASSERT_EQ_INT(submit(m, "no_such_view", false, NULL, b, NULL, &err), FERRY_ENOTFOUND);
    ASSERT_EQ_INT(jobs_wait(m, a, &err), JOB_SUCCEEDED);
    struct fbuf before, after;
    fbuf_init(&before, 1 << 20);
    fbuf_init(&after, 1 << 20);
    ASSERT_OK(jobs_list_json(m, NULL, NULL, 0, 0, &before, &err), &err);
    jobs_stop(m, 5);

    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    ASSERT_OK(jobs_list_json(m, NULL, NULL, 0, 0, &after, &err), &err);
    ASSERT_EQ_STR(after.data, before.data);
    ASSERT_CONTAINS(after.data, a);
    ASSERT_CONTAINS(after.data, "\"total\":1,");
    ASSERT_EQ_INT(jobs_wait(m, a, &err), JOB_SUCCEEDED); /* a finished job of an earlier process */
    ASSERT_EQ_INT(jobs_cancel(m, a, &err), FERRY_ECONFLICT);
    fbuf_cleanup(&before);
    fbuf_cleanup(&after);
    jobs_stop(m, 5);
    config_cleanup(&cfg);
}

TEST(jobs_left_running_by_a_killed_process_are_marked_interrupted)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(1, &cfg);
    sqlite3 *lock = lock_online(dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* A service process that is killed with one job running and one queued. */
        struct job_manager *cm;
        struct ferry_err cerr = {0};
        char x[JOB_ID_LEN];
        if (jobs_start(&cfg, &cm, &cerr) || submit(cm, HOURLY, false, NULL, x, NULL, &cerr) ||
            submit(cm, HOURLY, true, NULL, x, NULL, &cerr))
            _exit(3);
        for (;;)
            pause();
    }
    for (int i = 0; !child_ready(dir); i++) {
        if (i > 2000)
            test_fail(__FILE__, __LINE__, "the child never started its job");
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlock_online(lock);
    ASSERT_EQ_INT(state_count(dir, "WHERE status = 'running'"), 1);
    ASSERT_EQ_INT(state_count(dir, "WHERE status = 'queued'"), 1);

    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    ASSERT_EQ_INT(state_count(dir, "WHERE status = 'failed' AND error = 'interrupted' AND finished_ns IS NOT NULL"), 2);
    ASSERT_EQ_INT(state_count(dir, "WHERE status IN ('queued', 'running')"), 0);
    struct qtable t;
    sqlite_query(state_path(dir), "SELECT id FROM jobs WHERE started_ns IS NOT NULL", &t);
    ASSERT_EQ_INT(t.nrows, 1);
    char *j = job_json(m, QCELL(&t, 0, 0));
    ASSERT_CONTAINS(j, "\"status\":\"failed\"");
    ASSERT_CONTAINS(j, "\"error\":\"interrupted\"");
    ASSERT_EQ_INT(jobs_wait(m, QCELL(&t, 0, 0), &err), JOB_FAILED);
    ASSERT_EQ_STR(err.msg, "interrupted");
    free(j);
    qtable_free(&t);
    expect_intervals(dir, HOURLY, "[]");
    /* The view is not stuck: a new job on it runs. */
    char a[JOB_ID_LEN];
    ASSERT_OK(submit(m, HOURLY, false, NULL, a, NULL, &err), &err);
    ASSERT_EQ_INT(jobs_wait(m, a, &err), JOB_SUCCEEDED);
    jobs_stop(m, 5);
    config_cleanup(&cfg);
}

TEST(jobs_cli_prints_the_same_data_as_the_api)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(2, &cfg);
    struct run_result r;
    /* Before any service ran: an empty list, and no history file is created. */
    const char *empty[] = {"-c", dir, "jobs", "--json", NULL};
    test_run_ferry(&r, NULL, empty);
    expect_ok(&r);
    ASSERT_EQ_STR(r.out, "{\"jobs\":[],\"total\":0,\"limit\":50,\"offset\":0}\n");
    run_result_cleanup(&r);
    ASSERT_FALSE(access(state_path(dir), F_OK) == 0);

    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    char a[JOB_ID_LEN], b[JOB_ID_LEN];
    ASSERT_OK(submit(m, HOURLY, false, NULL, a, NULL, &err), &err);
    ASSERT_EQ_INT(jobs_wait(m, a, &err), JOB_SUCCEEDED);
    /* A job that fails at run time: its source file is gone. */
    char *src = test_path(dir, "data/driver_stats.parquet");
    ASSERT_EQ_INT(unlink(src), 0);
    ASSERT_OK(submit(m, DAILY, false, NULL, b, NULL, &err), &err);
    ASSERT_EQ_INT(jobs_wait(m, b, &err), JOB_FAILED);
    ASSERT_EQ_INT(err.code, FERRY_ESOURCE);
    free(src);

    struct fbuf api;
    fbuf_init(&api, 1 << 20);
    ASSERT_OK(jobs_list_json(m, NULL, NULL, 0, 0, &api, &err), &err);
    test_run_ferry(&r, NULL, empty);
    expect_ok(&r);
    ASSERT_EQ_INT(strlen(r.out), api.len + 1);
    ASSERT_TRUE(strncmp(r.out, api.data, api.len) == 0);
    run_result_cleanup(&r);

    fbuf_reset(&api);
    ASSERT_OK(jobs_get_json(m, b, &api, &err), &err);
    ASSERT_CONTAINS(api.data, "\"status\":\"failed\"");
    ASSERT_CONTAINS(api.data, "\"results\":[{\"view\":\"driver_daily_stats\"");
    const char *one[] = {"-c", dir, "job", b, "--json", NULL};
    test_run_ferry(&r, NULL, one);
    expect_ok(&r);
    ASSERT_EQ_INT(strlen(r.out), api.len + 1);
    ASSERT_TRUE(strncmp(r.out, api.data, api.len) == 0);
    run_result_cleanup(&r);

    /* Text forms. */
    const char *list[] = {"-c", dir, "jobs", "--status", "failed", NULL};
    test_run_ferry(&r, NULL, list);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "ID");
    ASSERT_CONTAINS(r.out, b);
    ASSERT_FALSE(strstr(r.out, a) != NULL);
    ASSERT_CONTAINS(r.out, "failed");
    run_result_cleanup(&r);
    const char *show[] = {"-c", dir, "job", a, NULL};
    test_run_ferry(&r, NULL, show);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "status:    succeeded");
    ASSERT_CONTAINS(r.out, "driver_hourly_stats");
    run_result_cleanup(&r);

    /* Unknown id: exit 3 and a clear message; bad status: usage error. */
    const char *unknown[] = {"-c", dir, "job", "no-such-id", NULL};
    test_run_ferry(&r, NULL, unknown);
    ASSERT_EQ_INT(r.status, 3);
    ASSERT_CONTAINS(r.err, "job 'no-such-id' not found");
    run_result_cleanup(&r);
    const char *bad[] = {"-c", dir, "jobs", "--status", "done", NULL};
    test_run_ferry(&r, NULL, bad);
    ASSERT_EQ_INT(r.status, 2);
    ASSERT_CONTAINS(r.err, "unknown status 'done'");
    run_result_cleanup(&r);
    fbuf_cleanup(&api);
    jobs_stop(m, 5);
    config_cleanup(&cfg);
}

TEST(jobs_bad_submissions_fail_and_record_nothing)
{
    struct ferry_config cfg;
    const char *dir = setup_repo(1, &cfg);
    struct job_manager *m;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &m, &err), &err);
    char id[JOB_ID_LEN];
    ASSERT_EQ_INT(submit(m, "no_such_view", false, NULL, id, NULL, &err), FERRY_ENOTFOUND);
    ASSERT_CONTAINS(err.msg, "feature view 'no_such_view' not found");
    const char *views[] = {HOURLY};
    struct job_spec spec = {.kind = JOB_MATERIALIZE, .views = views, .nviews = 1, .start_ns = ts("2021-04-20"),
                            .end_ns = ts("2021-04-12")};
    ASSERT_EQ_INT(jobs_submit(m, &spec, id, NULL, &err), FERRY_EINVAL);
    ASSERT_CONTAINS(err.msg, "is after end");
    spec.kind = 7;
    ASSERT_EQ_INT(jobs_submit(m, &spec, id, NULL, &err), FERRY_EINVAL);
    /* A key used only by failed submissions is not taken. */
    ASSERT_EQ_INT(submit(m, "no_such_view", false, "k", id, NULL, &err), FERRY_ENOTFOUND);
    ASSERT_EQ_INT(state_count(dir, ""), 0);
    ASSERT_EQ_INT(jobs_wait(m, "no-such-job", &err), FERRY_ENOTFOUND);
    struct fbuf b;
    fbuf_init(&b, 1024);
    ASSERT_EQ_INT(jobs_get_json(m, "no-such-job", &b, &err), FERRY_ENOTFOUND);
    fbuf_cleanup(&b);
    jobs_stop(m, 5);
    ASSERT_EQ_INT(state_count(dir, ""), 0);
    expect_intervals(dir, HOURLY, "[]");
    config_cleanup(&cfg);
}
