/* Backfills: the window planner (partial last window, coverage by merged inclusive intervals,
 * limits), and end to end over 30 daily windows of a generated dataset (DuckDB COPY ... TO
 * parquet): a run with a failure injected in the middle (offline_set_fault, in process) stops the
 * failing view at that window, a rerun of `ferry backfill` resumes there, and the final online
 * store and registry intervals equal those of an uninterrupted run in another repo; --parallel 2
 * and POST /backfill on a real server give the same state; rerunning skips every window.
 * Expected values come from SQL dumps of the online tables, `ferry feature-views --json`, and
 * DuckDB queries of the generated data. */
#include "dbcheck.h"
#include "test.h"

#include "config/config.h"
#include "core/time.h"
#include "engine/engine.h"
#include "offline/offline.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DAY_NS (INT64_C(86400) * FERRY_NS_PER_SEC)

static int64_t ts(const char *text)
{
    int64_t ns;
    struct ferry_err e = {0};
    if (ferry_time_parse(text, &ns, &e) != 0)
        test_fail(__FILE__, __LINE__, "bad time %s: %s", text, e.msg);
    return ns;
}

/* ---- the planner ---- */

TEST(backfill_plan_windows_partial_last_window_and_coverage)
{
    /* Recorded: two touching pieces [01, 02] and [02, 03] (merged they cover [01, 03]), and a piece
     * [03T00, 04T06] that covers only part of the third window. */
    struct feast_interval iv[] = {{ts("2021-01-02"), ts("2021-01-03")},
                                  {ts("2021-01-01"), ts("2021-01-02")},
                                  {ts("2021-01-03"), ts("2021-01-03T18:00")}};
    struct feast_view v = {.name = "v", .intervals = iv, .nintervals = 3};
    struct feast_view fresh = {.name = "fresh"};
    const struct feast_view *views[] = {&v, &fresh};
    struct backfill_plan p;
    struct ferry_err e = {0};
    ASSERT_OK(backfill_plan_windows(views, 2, ts("2021-01-01"), ts("2021-01-04T12:00"), DAY_NS, 100, &p, &e), &e);
    ASSERT_EQ_INT(p.nviews, 2);
    ASSERT_EQ_INT(p.windows_total, 8);
    ASSERT_EQ_INT(p.windows_skipped, 2);
    const struct backfill_view *bv = &p.views[0];
    ASSERT_EQ_STR(bv->view, "v");
    ASSERT_EQ_INT(bv->nwindows, 4);
    ASSERT_EQ_INT(bv->nskipped, 2);
    ASSERT_EQ_INT(bv->failed_window, -1);
    /* Windows share their boundaries (both ends inclusive) and the last one is partial. */
    ASSERT_EQ_INT(bv->windows[0].start_ns, ts("2021-01-01"));
    ASSERT_EQ_INT(bv->windows[0].end_ns, ts("2021-01-02"));
    ASSERT_EQ_INT(bv->windows[1].start_ns, ts("2021-01-02"));
    ASSERT_EQ_INT(bv->windows[1].end_ns, ts("2021-01-03"));
    ASSERT_EQ_INT(bv->windows[2].start_ns, ts("2021-01-03"));
    ASSERT_EQ_INT(bv->windows[2].end_ns, ts("2021-01-04"));
    ASSERT_EQ_INT(bv->windows[3].start_ns, ts("2021-01-04"));
    ASSERT_EQ_INT(bv->windows[3].end_ns, ts("2021-01-04T12:00"));
    ASSERT_EQ_INT(bv->windows[0].status, BACKFILL_SKIPPED);
    ASSERT_EQ_INT(bv->windows[1].status, BACKFILL_SKIPPED);
    ASSERT_EQ_INT(bv->windows[2].status, BACKFILL_PENDING);   /* only covered up to 18:00 */
    ASSERT_EQ_INT(bv->windows[3].status, BACKFILL_PENDING);
    for (size_t k = 0; k < 4; k++)
        ASSERT_EQ_INT(p.views[1].windows[k].status, BACKFILL_PENDING);
    ASSERT_EQ_STR(backfill_status_name(BACKFILL_SKIPPED), "skipped");
    backfill_plan_cleanup(&p);

    /* An exact multiple of the chunk has no empty tail window; start == end is one window. */
    ASSERT_OK(backfill_plan_windows(views + 1, 1, ts("2021-01-01"), ts("2021-01-31"), DAY_NS, 100, &p, &e), &e);
    ASSERT_EQ_INT(p.views[0].nwindows, 30);
    ASSERT_EQ_INT(p.views[0].windows[29].start_ns, ts("2021-01-30"));
    ASSERT_EQ_INT(p.views[0].windows[29].end_ns, ts("2021-01-31"));
    backfill_plan_cleanup(&p);
    ASSERT_OK(backfill_plan_windows(views + 1, 1, ts("2021-01-01"), ts("2021-01-01"), DAY_NS, 100, &p, &e), &e);
    ASSERT_EQ_INT(p.views[0].nwindows, 1);
    ASSERT_EQ_INT(p.views[0].windows[0].start_ns, ts("2021-01-01"));
    ASSERT_EQ_INT(p.views[0].windows[0].end_ns, ts("2021-01-01"));
    backfill_plan_cleanup(&p);
}

TEST(backfill_covered_uses_merged_inclusive_intervals)
{
    struct feast_interval iv[] = {{ts("2021-01-05"), ts("2021-01-06")}, {ts("2021-01-01"), ts("2021-01-03")},
                                  {ts("2021-01-03"), ts("2021-01-04")}};
    ASSERT_TRUE(backfill_covered(iv, 3, ts("2021-01-02"), ts("2021-01-04")));    /* across the touching pair */
    ASSERT_TRUE(backfill_covered(iv, 3, ts("2021-01-01"), ts("2021-01-01")));
    ASSERT_TRUE(backfill_covered(iv, 3, ts("2021-01-05"), ts("2021-01-06")));    /* exactly an interval */
    ASSERT_FALSE(backfill_covered(iv, 3, ts("2021-01-04"), ts("2021-01-05")));   /* the gap */
    ASSERT_FALSE(backfill_covered(iv, 3, ts("2021-01-05"), ts("2021-01-06T00:00:00.000001")));
    ASSERT_FALSE(backfill_covered(iv, 0, ts("2021-01-01"), ts("2021-01-01")));
}

TEST(backfill_plan_windows_rejects_bad_ranges_and_too_many_windows)
{
    struct feast_view v = {.name = "v"};
    const struct feast_view *views[] = {&v, &v};
    struct backfill_plan p;
    struct ferry_err e = {0};
    ASSERT_EQ_INT(backfill_plan_windows(views, 1, ts("2021-01-02"), ts("2021-01-01"), DAY_NS, 100, &p, &e), FERRY_EUSAGE);
    ASSERT_CONTAINS(e.msg, "is after end");
    ASSERT_EQ_INT(backfill_plan_windows(views, 1, ts("2021-01-01"), ts("2021-01-02"), 0, 100, &p, &e), FERRY_EUSAGE);
    ASSERT_CONTAINS(e.msg, "chunk must be positive");
    /* 30 windows per view: within a limit of 30 for one view, over it for two. */
    ASSERT_OK(backfill_plan_windows(views, 1, ts("2021-01-01"), ts("2021-01-31"), DAY_NS, 30, &p, &e), &e);
    backfill_plan_cleanup(&p);
    ASSERT_EQ_INT(backfill_plan_windows(views, 2, ts("2021-01-01"), ts("2021-01-31"), DAY_NS, 30, &p, &e), FERRY_EUSAGE);
    ASSERT_CONTAINS(e.msg, "60 windows for 2 views, over the limit of 30");
    ASSERT_EQ_INT(p.nviews, 0);
}

/* ---- repositories with a generated daily dataset ---- */

#define BF_YAML                                                                                    \
    "project: bf\n"                                                                                \
    "registry: data/registry.db\n"                                                                 \
    "provider: local\n"                                                                            \
    "online_store:\n  type: sqlite\n  path: data/online.db\n"                                      \
    "entity_key_serialization_version: 3\n"                                                        \
    "ferry:\n  serve:\n    workers: 2\n"

#define BF_FEATURES                                                                                \
    "entities:\n"                                                                                  \
    "  - name: driver\n    join_key: driver_id\n"                                                  \
    "sources:\n"                                                                                   \
    "  - name: daily_source\n    path: data/daily.parquet\n"                                       \
    "    timestamp_field: event_timestamp\n    created_timestamp_column: created\n"                \
    "feature_views:\n"                                                                             \
    "  - name: stats_a\n    entities: [driver]\n    ttl: 1d\n    source: daily_source\n"           \
    "    schema:\n"                                                                                \
    "      - {name: driver_id, dtype: Int64}\n"                                                    \
    "      - {name: conv_rate, dtype: Float32}\n"                                                  \
    "      - {name: trips, dtype: Int64}\n"                                                        \
    "  - name: stats_b\n    entities: [driver]\n    ttl: 1d\n    source: daily_source\n"           \
    "    schema:\n"                                                                                \
    "      - {name: driver_id, dtype: Int64}\n"                                                    \
    "      - {name: acc_rate, dtype: Float32}\n"

#define RANGE_START "2021-01-01"
#define RANGE_END "2021-01-31"
#define FULL_INTERVALS "[{\"start\":\"2021-01-01T00:00:00Z\",\"end\":\"2021-01-31T00:00:00Z\"}]"

/* One row per driver per day from 2020-12-30 to 2021-02-03, driver e at e*5 hours past midnight
 * (driver 0 exactly on the window boundaries); driver 5 stops after 2021-01-08, so its latest
 * value comes from an early window. Written to <dir>/data/daily.parquet. */
static void write_dataset(const char *dir)
{
    char *pq = test_path(dir, "data/daily.parquet"), sql[1024];
    snprintf(sql, sizeof sql,
             "COPY (SELECT e AS driver_id, ((e * 100 + d) / 1000.0)::FLOAT AS conv_rate,"
             " ((e + d) / 100.0)::FLOAT AS acc_rate, (e * 1000 + d)::BIGINT AS trips,"
             " TIMESTAMPTZ '2020-12-30 00:00:00+00' + d * INTERVAL '1 day' + e * INTERVAL '5 hours' AS event_timestamp,"
             " TIMESTAMPTZ '2020-12-30 00:00:00+00' + d * INTERVAL '1 day' + e * INTERVAL '5 hours' AS created"
             " FROM range(6) a(e), range(36) b(d) WHERE e < 5 OR d < 10) TO '%s' (FORMAT PARQUET)",
             pq);
    struct qtable t;
    duck_query(sql, &t);
    qtable_free(&t);
    free(pq);
}

static void expect_ok(struct run_result *r)
{
    if (r->status != 0)
        test_fail(__FILE__, __LINE__, "ferry exited %d\nstdout: %s\nstderr: %s", r->status, r->out, r->err);
}

static const char *make_repo(void)
{
    const char *dir = test_tmpdir();
    /* test_tmpdir is one directory per test; each repo gets its own subdirectory. */
    static char repos[4][512];
    static int seq;
    if (seq == 4)
        test_fail(__FILE__, __LINE__, "too many repos in one test");
    char *repo = repos[seq];
    snprintf(repo, sizeof repos[0], "%s/repo%d", dir, seq + 1);
    seq++;
    mkdir(repo, 0755);
    char *p = test_path(repo, "data");
    mkdir(p, 0755);
    free(p);
    p = test_path(repo, "feature_store.yaml");
    test_write_file(p, BF_YAML);
    free(p);
    p = test_path(repo, "features.yaml");
    test_write_file(p, BF_FEATURES);
    free(p);
    write_dataset(repo);
    const char *argv[] = {"-c", repo, "apply", NULL};
    struct run_result r;
    test_run_ferry(&r, NULL, argv);
    expect_ok(&r);
    run_result_cleanup(&r);
    return repo;
}

static void ferry_backfill(struct run_result *r, const char *repo, const char *extra1, const char *extra2)
{
    const char *argv[] = {"-c", repo, "backfill", RANGE_START, RANGE_END, "--json", extra1, extra2, NULL};
    test_run_ferry(r, NULL, argv);
}

/* Every row of both online tables, as text. */
static char *online_dump(const char *repo)
{
    char *db = test_path(repo, "data/online.db");
    size_t cap = 1 << 20, len = 0;
    char *out = calloc(1, cap);
    const char *tables[] = {"bf_stats_a", "bf_stats_b"};
    for (size_t t = 0; t < 2; t++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT hex(entity_key), feature_name, hex(value), value_text, event_ts, created_ts FROM %s"
                 " ORDER BY 1, 2", tables[t]);
        struct qtable q;
        sqlite_query(db, sql, &q);
        len += (size_t)snprintf(out + len, cap - len, "%s: %zu rows\n", tables[t], q.nrows);
        for (size_t i = 0; i < q.nrows; i++) {
            for (size_t c = 0; c < q.ncols; c++)
                len += (size_t)snprintf(out + len, cap - len, "%s|", QCELL(&q, i, c) ? QCELL(&q, i, c) : "NULL");
            len += (size_t)snprintf(out + len, cap - len, "\n");
        }
        qtable_free(&q);
    }
    free(db);
    return out;
}

/* The intervals of one view from `ferry feature-views --json`, as compact JSON. */
static char *intervals_of(const char *repo, const char *view)
{
    const char *argv[] = {"-c", repo, "feature-views", "--json", NULL};
    struct run_result r;
    test_run_ferry(&r, NULL, argv);
    expect_ok(&r);
    json_t *doc = json_loads(r.out, 0, NULL);
    ASSERT_TRUE(json_is_array(doc));
    char *out = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(doc, i, v) {
        if (strcmp(json_string_value(json_object_get(v, "name")), view) == 0)
            out = json_dumps(json_object_get(v, "intervals"), JSON_COMPACT);
    }
    json_decref(doc);
    run_result_cleanup(&r);
    if (!out)
        test_fail(__FILE__, __LINE__, "view %s not in feature-views", view);
    return out;
}

static void expect_intervals(const char *repo, const char *view, const char *want)
{
    char *got = intervals_of(repo, view);
    ASSERT_EQ_STR(got, want);
    free(got);
}

static void expect_same_state(const char *repo, const char *reference)
{
    char *a = online_dump(repo), *b = online_dump(reference);
    ASSERT_EQ_STR(a, b);
    free(a);
    free(b);
    expect_intervals(repo, "stats_a", FULL_INTERVALS);
    expect_intervals(repo, "stats_b", FULL_INTERVALS);
}

/* The reference: an uninterrupted CLI backfill, checked against DuckDB's latest row per driver. */
static const char *reference_repo(void)
{
    const char *repo = make_repo();
    struct run_result r;
    ferry_backfill(&r, repo, NULL, NULL);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"ok\":true");
    ASSERT_CONTAINS(r.out, "\"windows_total\":60,\"windows_skipped\":0,\"windows_succeeded\":60,\"windows_failed\":0");
    run_result_cleanup(&r);

    char *pq = test_path(repo, "data/daily.parquet"), sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT driver_id, arg_max(trips, (event_timestamp, created))::VARCHAR, epoch(max(event_timestamp))::BIGINT"
             " FROM '%s' WHERE event_timestamp BETWEEN TIMESTAMPTZ '2021-01-01 00:00:00+00'"
             " AND TIMESTAMPTZ '2021-01-31 00:00:00+00' GROUP BY driver_id ORDER BY driver_id", pq);
    struct qtable want;
    duck_query(sql, &want);
    ASSERT_EQ_INT(want.nrows, 6);
    char *db = test_path(repo, "data/online.db");
    for (size_t i = 0; i < want.nrows; i++) {
        char key[256], q[512];
        hex_key_int64(key, "driver_id", atoll(QCELL(&want, i, 0)));
        snprintf(q, sizeof q, "SELECT value_text, event_ts FROM bf_stats_a WHERE feature_name = 'trips'"
                              " AND hex(entity_key) = upper('%s')", key);
        struct qtable got;
        sqlite_query(db, q, &got);
        ASSERT_EQ_INT(got.nrows, 1);
        ASSERT_EQ_STR(QCELL(&got, 0, 0), QCELL(&want, i, 1));
        ASSERT_EQ_STR(QCELL(&got, 0, 1), QCELL(&want, i, 2));
        qtable_free(&got);
    }
    struct qtable cnt;
    sqlite_query(db, "SELECT count(*) FROM bf_stats_b", &cnt);
    ASSERT_EQ_STR(QCELL(&cnt, 0, 0), "6");   /* one feature x 6 drivers */
    qtable_free(&cnt);
    qtable_free(&want);
    free(db);
    free(pq);
    expect_intervals(repo, "stats_a", FULL_INTERVALS);
    expect_intervals(repo, "stats_b", FULL_INTERVALS);
    return repo;
}

/* Fails the Nth offline pull of this process (the offline store is opened per window). */
struct fault { int fail_at; int calls; };
static int fail_nth_pull(const char *op, void *ctx, struct ferry_err *err)
{
    struct fault *f = ctx;
    if (strcmp(op, "pull_latest") != 0)
        return 0;
    if (__atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST) == f->fail_at)
        return ferry_errf(err, FERRY_EIO, "injected failure of pull %d", f->fail_at);
    return 0;
}

TEST(backfill_failure_midway_resumes_to_the_same_state_as_an_uninterrupted_run)
{
    const char *reference = reference_repo();
    const char *repo = make_repo();

    /* In process: stats_a runs first (views in the order named); its 15th window fails. */
    struct ferry_config cfg;
    struct ferry_err e = {0};
    ASSERT_OK(config_load(repo, NULL, &cfg, &e), &e);
    struct fault f = {.fail_at = 15};
    offline_set_fault(fail_nth_pull, &f);
    const char *views[] = {"stats_a", "stats_b"};
    struct backfill_request req = {.start_ns = ts(RANGE_START), .end_ns = ts(RANGE_END), .views = views, .nviews = 2,
                                   .parallel = 1};
    struct backfill_plan plan;
    int rc = backfill_run(&cfg, &req, &plan, &e);
    offline_set_fault(NULL, NULL);
    ASSERT_EQ_INT(rc, FERRY_EIO);
    ASSERT_CONTAINS(e.msg, "backfill window 15 of 30 [2021-01-15T00:00:00Z, 2021-01-16T00:00:00Z]");
    ASSERT_CONTAINS(e.msg, "stats_a");
    ASSERT_CONTAINS(e.msg, "injected failure of pull 15");
    ASSERT_EQ_INT(plan.windows_total, 60);
    ASSERT_EQ_STR(plan.views[0].view, "stats_a");
    ASSERT_EQ_INT(plan.views[0].failed_window, 14);
    for (size_t k = 0; k < 30; k++)
        ASSERT_EQ_INT(plan.views[0].windows[k].status,
                      k < 14 ? BACKFILL_SUCCEEDED : k == 14 ? BACKFILL_FAILED : BACKFILL_NOT_RUN);
    /* The other view is not stopped by stats_a's failure. */
    ASSERT_EQ_INT(plan.views[1].failed_window, -1);
    for (size_t k = 0; k < 30; k++)
        ASSERT_EQ_INT(plan.views[1].windows[k].status, BACKFILL_SUCCEEDED);
    ASSERT_EQ_INT(f.calls, 15 + 30);   /* windows 16..30 of stats_a never pulled */
    backfill_plan_cleanup(&plan);
    config_cleanup(&cfg);

    /* What was recorded is a clean prefix: one interval up to the failed window's start. */
    expect_intervals(repo, "stats_a", "[{\"start\":\"2021-01-01T00:00:00Z\",\"end\":\"2021-01-15T00:00:00Z\"}]");
    expect_intervals(repo, "stats_b", FULL_INTERVALS);
    char *mid = online_dump(repo), *ref = online_dump(reference);
    ASSERT_TRUE(strcmp(mid, ref) != 0);   /* the interruption is visible before the resume */
    free(mid);
    free(ref);

    /* The same command again resumes at window 15 of stats_a and skips everything recorded. */
    struct run_result r;
    ferry_backfill(&r, repo, NULL, NULL);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"windows_total\":60,\"windows_skipped\":44,\"windows_succeeded\":16,\"windows_failed\":0");
    run_result_cleanup(&r);
    expect_same_state(repo, reference);

    /* A third run has nothing to do and does not touch the online store. */
    char *db = test_path(repo, "data/online.db");
    uint64_t before = test_file_hash(db);
    ferry_backfill(&r, repo, NULL, NULL);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"windows_total\":60,\"windows_skipped\":60,\"windows_succeeded\":0");
    ASSERT_CONTAINS(r.out, "\"rows_read\":0");
    run_result_cleanup(&r);
    ASSERT_EQ_INT(test_file_hash(db), before);
    free(db);
}

TEST(backfill_parallel_gives_the_same_state)
{
    const char *reference = reference_repo();
    const char *repo = make_repo();
    struct run_result r;
    ferry_backfill(&r, repo, "--parallel", "2");
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "\"windows_total\":60,\"windows_skipped\":0,\"windows_succeeded\":60");
    run_result_cleanup(&r);
    expect_same_state(repo, reference);
}

TEST(backfill_cli_text_output_and_usage_errors)
{
    const char *repo = make_repo();
    const char *argv[] = {"-c", repo, "backfill", "2021-01-01", "2021-01-03T12:00", "-v", "stats_b", NULL};
    struct run_result r;
    test_run_ferry(&r, NULL, argv);
    expect_ok(&r);
    ASSERT_CONTAINS(r.out, "stats_b: 3 windows: 3 succeeded, 0 skipped (already recorded)");
    ASSERT_CONTAINS(r.out, "3 of 3 windows recorded (3 in this run, 0 already)");
    ASSERT_FALSE(strstr(r.out, "stats_a"));
    run_result_cleanup(&r);
    expect_intervals(repo, "stats_b", "[{\"start\":\"2021-01-01T00:00:00Z\",\"end\":\"2021-01-03T12:00:00Z\"}]");
    expect_intervals(repo, "stats_a", "[]");

    struct { const char *a[4]; const char *msg; int status; } cases[] = {
        {{"2021-01-02", "2021-01-01", NULL, NULL}, "is after END_TS", 2},
        {{"2021-01-01", "2021-01-02", "--chunk", "0"}, "--chunk must be longer than 0", 2},
        {{"2021-01-01", "2021-01-02", "--chunk", "1x"}, "--chunk:", 2},
        {{"2021-01-01", "2021-01-02", "--parallel", "17"}, "--parallel must be a whole number from 1 to 16", 2},
        {{"2021-01-01", NULL, NULL, NULL}, "expected START_TS and END_TS", 2},
        {{"2000-01-01", "2021-01-02", "--chunk", "1h"}, "over the limit of 10000", 2},
        {{"2021-01-01", "2021-01-02", "-v", "nope"}, "feature view 'nope' not found", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *av[] = {"-c", repo, "backfill", cases[i].a[0], cases[i].a[1], cases[i].a[2], cases[i].a[3], NULL};
        test_run_ferry(&r, NULL, av);
        ASSERT_EQ_INT(r.status, cases[i].status);
        ASSERT_CONTAINS(r.err, cases[i].msg);
        run_result_cleanup(&r);
    }
}

/* ---- the service ---- */

struct server { pid_t pid; int port; char errpath[512]; };

static double now_sec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void start_server(struct server *s, const char *dir)
{
    const char *bin = getenv("FERRY_BIN");
    if (!bin || !*bin)
        bin = test_source_path("build/release/ferry");
    snprintf(s->errpath, sizeof s->errpath, "%s/.serve.err", dir);
    fflush(NULL);
    s->pid = fork();
    if (s->pid == 0) {
        int e = open(s->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDWR);
        dup2(in, 0);
        dup2(in, 1);
        dup2(e, 2);
        execl(bin, bin, "-c", dir, "serve", "--port", "0", (char *)NULL);
        _exit(127);
    }
    for (double t0 = now_sec(); now_sec() - t0 < 60; usleep(20000)) {
        char *err = test_read_file(s->errpath, NULL);
        const char *at = err ? strstr(err, "listening on http://127.0.0.1:") : NULL;
        if (at) {
            s->port = atoi(at + strlen("listening on http://127.0.0.1:"));
            free(err);
            return;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid)
            test_fail(__FILE__, __LINE__, "server exited early: %s", err ? err : "");
        free(err);
    }
    test_fail(__FILE__, __LINE__, "server did not start");
}

static void stop_server(struct server *s)
{
    kill(s->pid, SIGTERM);
    int st = 0;
    for (double t0 = now_sec(); now_sec() - t0 < 60; usleep(20000))
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
            return;
        }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    test_fail(__FILE__, __LINE__, "server did not stop on SIGTERM");
}

struct sink { char *data; size_t len; };
static size_t sink_write(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    s->data = realloc(s->data, s->len + size * n + 1);
    memcpy(s->data + s->len, p, size * n);
    s->len += size * n;
    s->data[s->len] = 0;
    return size * n;
}

/* One request; returns the status, the body in *body (caller frees). */
static long request(const struct server *s, const char *method, const char *path, const char *body, char **out)
{
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    struct sink b = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        test_fail(__FILE__, __LINE__, "%s %s: %s", method, path, curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    *out = b.data ? b.data : calloc(1, 1);
    return status;
}

static void wait_succeeded(const struct server *s, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/jobs/%s", id);
    for (double t0 = now_sec(); now_sec() - t0 < 120; usleep(20000)) {
        char *body;
        ASSERT_EQ_INT(request(s, "GET", path, NULL, &body), 200);
        json_t *doc = json_loads(body, 0, NULL);
        const char *st = json_string_value(json_object_get(doc, "status"));
        bool done = st && strcmp(st, "queued") != 0 && strcmp(st, "running") != 0;
        if (done) {
            ASSERT_EQ_STR(st, "succeeded");
            ASSERT_CONTAINS(json_string_value(json_object_get(doc, "trigger")), "backfill:");
        }
        json_decref(doc);
        free(body);
        if (done)
            return;
    }
    test_fail(__FILE__, __LINE__, "job %s did not finish", id);
}

#define BF_BODY "{\"start_ts\":\"" RANGE_START "\",\"end_ts\":\"" RANGE_END "\",\"chunk\":\"1d\",\"feature_views\":null}"

TEST(backfill_http_post_queues_window_jobs_that_reach_the_same_state)
{
    const char *reference = reference_repo();
    const char *repo = make_repo();
    struct server s;
    start_server(&s, repo);
    char *body;
    ASSERT_EQ_INT(request(&s, "POST", "/backfill", BF_BODY, &body), 202);
    json_t *doc = json_loads(body, 0, NULL);
    ASSERT_TRUE(doc != NULL);
    ASSERT_EQ_INT(json_integer_value(json_object_get(doc, "windows_total")), 60);
    ASSERT_EQ_INT(json_integer_value(json_object_get(doc, "windows_skipped")), 0);
    const char *bid = json_string_value(json_object_get(doc, "backfill_id"));
    ASSERT_TRUE(bid && strlen(bid) == 36);
    json_t *ids = json_object_get(doc, "job_ids");
    ASSERT_EQ_INT(json_array_size(ids), 60);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
        wait_succeeded(&s, json_string_value(id));
    /* Every job carries the backfill's trigger. */
    char path[128], *list;
    ASSERT_EQ_INT(request(&s, "GET", "/jobs?limit=1000", NULL, &list), 200);
    char trig[96];
    snprintf(trig, sizeof trig, "\"trigger\":\"backfill:%s\"", bid);
    size_t n = 0;
    for (const char *p = list; (p = strstr(p, trig)) != NULL; p++)
        n++;
    ASSERT_EQ_INT(n, 60);
    free(list);
    json_decref(doc);
    free(body);
    expect_same_state(repo, reference);

    /* The same request again: every window is recorded, nothing is queued. */
    ASSERT_EQ_INT(request(&s, "POST", "/backfill", BF_BODY, &body), 202);
    ASSERT_CONTAINS(body, "\"windows_total\":60,\"windows_skipped\":60,\"job_ids\":[]");
    free(body);

    /* Bad requests answer before queuing anything. */
    ASSERT_EQ_INT(request(&s, "POST", "/backfill", "{\"start_ts\":\"2021-01-01\",\"end_ts\":\"2021-01-02\",\"chunk\":\"0\"}", &body), 400);
    ASSERT_CONTAINS(body, "chunk must be longer than 0");
    free(body);
    ASSERT_EQ_INT(request(&s, "POST", "/backfill", "{\"start_ts\":\"2000-01-01\",\"end_ts\":\"2021-01-02\",\"chunk\":\"1h\"}", &body), 400);
    ASSERT_CONTAINS(body, "over the limit of 10000");
    free(body);
    ASSERT_EQ_INT(request(&s, "POST", "/backfill", "{\"start_ts\":\"2021-01-02\",\"end_ts\":\"2021-01-01\"}", &body), 400);
    ASSERT_CONTAINS(body, "is after end_ts");
    free(body);
    ASSERT_EQ_INT(request(&s, "POST", "/backfill", "{\"start_ts\":\"2021-01-01\",\"end_ts\":\"2021-01-02\",\"feature_views\":[\"nope\"]}", &body), 404);
    ASSERT_CONTAINS(body, "feature view 'nope' not found");
    free(body);
    ASSERT_EQ_INT(request(&s, "POST", "/backfill", "{\"end_ts\":\"2021-01-02\"}", &body), 400);
    ASSERT_CONTAINS(body, "start_ts is required");
    free(body);
    snprintf(path, sizeof path, "/jobs?limit=1000");
    ASSERT_EQ_INT(request(&s, "GET", path, NULL, &list), 200);
    ASSERT_CONTAINS(list, "\"total\":60");
    free(list);
    stop_server(&s);
}
