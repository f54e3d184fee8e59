/* The built-in scheduler on a real repository: generated Parquet sources, `ferry apply` by the
 * binary, jobs run by the real job manager into a real SQLite online store. Time is a simulated
 * clock driven by the test (scheduler_step at chosen instants); everything else is real. Expected
 * tick times are computed by hand (UTC offsets of the zones on those dates), and what happened is
 * read independently: SQL on the job history and the online store, `ferry feature-views --json`
 * and `ferry schedules --json` for the registry and the schedule rows. */
#include "dbcheck.h"
#include "test.h"

#include "config/config.h"
#include "core/time.h"
#include "service/jobs.h"
#include "service/metrics.h"
#include "service/scheduler.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- the simulated clock */

struct simclock {
    int64_t now;
};

static int64_t sim_now(void *ctx)
{
    return ((struct simclock *)ctx)->now;
}

static void sim_wait(void *ctx, pthread_cond_t *cv, pthread_mutex_t *mu, int64_t t)
{
    (void)ctx, (void)cv, (void)mu, (void)t;
}

static struct simclock clk;
static const struct sched_clock sim = {.ctx = &clk, .now = sim_now, .wait_until = sim_wait};

/* ---------------------------------------------------------------- the repository */

#define FEATURES_YAML                                                                              \
    "entities:\n  - name: driver\n    join_key: driver_id\n"                                       \
    "sources:\n  - name: src\n    path: data/stats.parquet\n    timestamp_field: event_timestamp\n" \
    "feature_views:\n  - name: stats\n    entities: [driver]\n    ttl: 2d\n    source: src\n"      \
    "    schema:\n      - {name: driver_id, dtype: Int64}\n      - {name: conv_rate, dtype: Float32}\n"

static int64_t ts(const char *text)
{
    int64_t ns;
    struct ferry_err err = {0};
    ASSERT_OK(ferry_time_parse(text, &ns, &err), &err);
    return ns;
}

/* Writes data/stats.parquet: `select` yields driver_id, conv_rate, event_timestamp. */
static void write_parquet(const char *dir, const char *select)
{
    char *p = test_path(dir, "data/stats.parquet");
    char sql[4096];
    snprintf(sql, sizeof sql, "COPY (%s) TO '%s' (FORMAT parquet)", select, p);
    struct qtable t;
    duck_query(sql, &t);
    qtable_free(&t);
    free(p);
}

/* 20 drivers with a row every 15 minutes from 2021-04-11 00:05 for three days. */
#define DEFAULT_ROWS                                                                                    \
    "SELECT (i % 20)::BIGINT AS driver_id, (i / 100.0)::FLOAT AS conv_rate,"                            \
    " TIMESTAMP '2021-04-11 00:05:00' + to_minutes(i * 15) AS event_timestamp FROM range(0, 288) t(i)"

/* A repo whose feature_store.yaml has the given `ferry: schedules:` block (indented two spaces). */
static const char *setup_repo(const char *schedules, struct ferry_config *cfg)
{
    const char *dir = test_tmpdir();
    char *p = test_path(dir, "data");
    mkdir(p, 0755);
    free(p);
    char yaml[8192];
    snprintf(yaml, sizeof yaml,
             "project: sched\nregistry: data/registry.db\nprovider: local\n"
             "online_store:\n  type: sqlite\n  path: data/online.db\n"
             "ferry:\n  batch_rows: 2\n  queue_batches: 1\n  serve:\n    workers: 2\n  schedules:\n%s",
             schedules);
    p = test_path(dir, "feature_store.yaml");
    test_write_file(p, yaml);
    free(p);
    p = test_path(dir, "features.yaml");
    test_write_file(p, FEATURES_YAML);
    free(p);
    write_parquet(dir, DEFAULT_ROWS);
    struct run_result r;
    const char *argv[] = {"-c", dir, "apply", NULL};
    test_run_ferry(&r, NULL, argv);
    if (r.status != 0)
        test_fail(__FILE__, __LINE__, "apply exited %d: %s", r.status, r.err);
    run_result_cleanup(&r);
    if (cfg) {
        struct ferry_err err = {0};
        ASSERT_OK(config_load(dir, NULL, cfg, &err), &err);
    }
    return dir;
}

struct env {
    struct ferry_config cfg;
    struct job_manager *jobs;
    struct scheduler *s;
    const char *dir;
};

static void start(struct env *e, const char *schedules, const char *now)
{
    e->dir = setup_repo(schedules, &e->cfg);
    struct ferry_err err = {0};
    metrics_init();
    ASSERT_OK(jobs_start(&e->cfg, &e->jobs, &err), &err);
    clk.now = ts(now);
    ASSERT_OK(scheduler_start(&e->cfg, e->jobs, &sim, false, &e->s, &err), &err);
}

static void stop(struct env *e)
{
    scheduler_stop(e->s);
    jobs_stop(e->jobs, 5);
    config_cleanup(&e->cfg);
    metrics_cleanup();
}

/* One step, then wait for the jobs it submitted and step again at the same instant so their
 * outcome is taken in. Returns the next due time. */
static int64_t step_and_settle(struct scheduler *s)
{
    scheduler_step(s);
    scheduler_wait_jobs(s);
    return scheduler_step(s);
}

/* Steps at every due time up to and including end. */
static void run_until(struct scheduler *s, int64_t end)
{
    for (;;) {
        int64_t due = step_and_settle(s);
        if (due > end)
            break;
        clk.now = due;
    }
}

static const char *state_db(const char *dir)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/data/ferry_state.db", dir);
    return p;
}

/* The jobs of a schedule as "start..end status attempt" lines, oldest first (SQL on the history). */
static char *jobs_of(const char *dir, const char *schedule)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(strftime('%%Y-%%m-%%dT%%H:%%M', start_ns / 1000000000, 'unixepoch'), '-') || '..' ||"
             " strftime('%%Y-%%m-%%dT%%H:%%M', end_ns / 1000000000, 'unixepoch') || ' ' || status || ' ' || attempt"
             " FROM jobs WHERE trigger = 'schedule:%s' ORDER BY created_ns, rowid",
             schedule);
    struct qtable t;
    sqlite_query(state_db(dir), sql, &t);
    size_t cap = 64 + t.nrows * 64;
    char *out = calloc(1, cap);
    for (size_t i = 0; i < t.nrows; i++) {
        strcat(out, QCELL(&t, i, 0));
        strcat(out, "\n");
    }
    qtable_free(&t);
    return out;
}

static long long query_int(const char *db, const char *sql)
{
    struct qtable t;
    sqlite_query(db, sql, &t);
    long long v = t.nrows && QCELL(&t, 0, 0) ? atoll(QCELL(&t, 0, 0)) : -1;
    qtable_free(&t);
    return v;
}

static char *feature_views_json(const char *dir)
{
    struct run_result r;
    const char *argv[] = {"-c", dir, "feature-views", "--json", NULL};
    test_run_ferry(&r, NULL, argv);
    if (r.status != 0)
        test_fail(__FILE__, __LINE__, "feature-views exited %d: %s", r.status, r.err);
    free(r.err);
    return r.out;
}

static char *metrics_text(struct env *e)
{
    struct fbuf b;
    fbuf_init(&b, 1 << 20);
    uint64_t counts[5] = {0};
    jobs_counts(e->jobs, counts);
    ASSERT_EQ_INT(metrics_render(&e->cfg, counts, &b), 0);
    return fbuf_take(&b, NULL);
}

/* Holds the online store's write lock so a job blocks at its first write (see test_service_jobs). */
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

static void sleep_ms(int ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Waits (real time) until the schedule's newest job has the given status in the history. */
static void wait_job_status(const char *dir, const char *schedule, const char *status)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM jobs WHERE trigger = 'schedule:%s' AND status = '%s'", schedule, status);
    for (int i = 0; i < 1000; i++) {
        if (query_int(state_db(dir), sql) > 0)
            return;
        sleep_ms(10);
    }
    test_fail(__FILE__, __LINE__, "no job of %s reached %s:\n%s", schedule, status, jobs_of(dir, schedule));
}

/* ---------------------------------------------------------------- a day of every-15-minutes */

TEST(sched_day_of_quarter_hours_submits_96_runs_at_each_tick)
{
    struct env e;
    start(&e, "    - name: q\n      cron: \"*/15 * * * *\"\n", "2021-04-11T23:59:59Z");
    int64_t day = ts("2021-04-12T00:00:00Z");
    clk.now = day;
    int runs = 0;
    for (;;) {
        int64_t due = step_and_settle(e.s);
        runs++;
        /* The next due time is the next quarter hour, by hand. */
        ASSERT_EQ_INT(due, clk.now + 15 * 60 * FERRY_NS_PER_SEC);
        if (due >= day + 86400 * FERRY_NS_PER_SEC)
            break;
        clk.now = due;
    }
    ASSERT_EQ_INT(runs, 96);
    const char *db = state_db(e.dir);
    ASSERT_EQ_INT(query_int(db, "SELECT count(*) FROM jobs WHERE trigger = 'schedule:q' AND status = 'succeeded'"
                                " AND kind = 'materialize-incremental' AND attempt = 1"), 96);
    ASSERT_EQ_INT(query_int(db, "SELECT count(DISTINCT end_ns) FROM jobs WHERE trigger = 'schedule:q'"
                                " AND (end_ns / 1000000000) % 900 = 0"), 96);
    ASSERT_EQ_INT(query_int(db, "SELECT min(end_ns) FROM jobs WHERE trigger = 'schedule:q'"), day);
    ASSERT_EQ_INT(query_int(db, "SELECT max(end_ns) FROM jobs WHERE trigger = 'schedule:q'"),
                  ts("2021-04-12T23:45:00Z"));
    /* The registry's interval ends at the last tick; the online store has every driver. */
    char *fv = feature_views_json(e.dir);
    ASSERT_CONTAINS(fv, "\"last_end\":\"2021-04-12T23:45:00Z\"");
    free(fv);
    char *online = test_path(e.dir, "data/online.db");
    ASSERT_EQ_INT(query_int(online, "SELECT count(DISTINCT entity_key) FROM sched_stats"), 20);
    free(online);
    stop(&e);
}

/* ---------------------------------------------------------------- DST */

/* Runs a schedule from `from` to `to` and compares the ticks (job ends, UTC) with `expected`. */
static void dst_case(const char *zone, const char *cron, const char *from, const char *to, const char *expected)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, "    - name: d\n      cron: \"%s\"\n      timezone: %s\n", cron, zone);
    struct env e;
    start(&e, yaml, from);
    run_until(e.s, ts(to));
    char *got = jobs_of(e.dir, "d");
    ASSERT_EQ_STR(got, expected);
    free(got);
    stop(&e);
}

TEST(sched_dst_berlin_spring_forward)
{
    /* 2021-03-28 02:00 CET -> 03:00 CEST: 02:30 does not exist, fires once right after the gap (01:00Z). */
    dst_case("Europe/Berlin", "30 2 * * *", "2021-03-26T12:00:00Z", "2021-03-29T12:00:00Z",
             "-..2021-03-27T01:30 succeeded 1\n-..2021-03-28T01:00 succeeded 1\n-..2021-03-29T00:30 succeeded 1\n");
}

TEST(sched_dst_berlin_fall_back_fires_once)
{
    /* 2021-10-31 03:00 CEST -> 02:00 CET: 02:30 happens twice, fires at the first (00:30Z) only. */
    dst_case("Europe/Berlin", "30 2 * * *", "2021-10-29T12:00:00Z", "2021-11-01T12:00:00Z",
             "-..2021-10-30T00:30 succeeded 1\n-..2021-10-31T00:30 succeeded 1\n-..2021-11-01T01:30 succeeded 1\n");
}

TEST(sched_dst_new_york_spring_forward)
{
    /* 2021-03-14 02:00 EST -> 03:00 EDT: 02:30 fires at 03:00 EDT = 07:00Z. */
    dst_case("America/New_York", "30 2 * * *", "2021-03-12T12:00:00Z", "2021-03-15T12:00:00Z",
             "-..2021-03-13T07:30 succeeded 1\n-..2021-03-14T07:00 succeeded 1\n-..2021-03-15T06:30 succeeded 1\n");
}

TEST(sched_dst_new_york_fall_back)
{
    /* 2021-11-07 02:00 EDT -> 01:00 EST: 01:30 happens twice, fires at 01:30 EDT = 05:30Z once. */
    dst_case("America/New_York", "30 1 * * *", "2021-11-05T12:00:00Z", "2021-11-08T12:00:00Z",
             "-..2021-11-06T05:30 succeeded 1\n-..2021-11-07T05:30 succeeded 1\n-..2021-11-08T06:30 succeeded 1\n");
}

TEST(sched_dst_berlin_hourly_on_spring_forward_day_runs_23_times)
{
    char yaml[] = "    - name: h\n      cron: \"0 * * * *\"\n      timezone: Europe/Berlin\n";
    struct env e;
    /* Local day 2021-03-28 = [2021-03-27T23:00Z, 2021-03-28T22:00Z): 23 real hours, 23 local hours. */
    start(&e, yaml, "2021-03-27T22:59:00Z");
    run_until(e.s, ts("2021-03-28T21:59:00Z"));
    ASSERT_EQ_INT(query_int(state_db(e.dir), "SELECT count(*) FROM jobs WHERE trigger = 'schedule:h'"), 23);
    stop(&e);
}

/* ---------------------------------------------------------------- catch-up */

/* Hourly windows; runs 01:00 and 02:00, then an "outage" until 06:30 (ticks 03..06 missed), then a
 * new scheduler on the same state database. Returns the jobs after the outage. */
static char *outage(const char *policy, const char *extra, struct env *e)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "    - name: c\n      cron: \"0 * * * *\"\n      mode: window\n      window: 1h\n      catchup: %s\n%s",
             policy, extra);
    start(e, yaml, "2021-04-12T00:30:00Z");
    run_until(e->s, ts("2021-04-12T02:30:00Z"));
    char *before = jobs_of(e->dir, "c");
    ASSERT_EQ_STR(before, "2021-04-12T00:00..2021-04-12T01:00 succeeded 1\n"
                          "2021-04-12T01:00..2021-04-12T02:00 succeeded 1\n");
    scheduler_stop(e->s);
    clk.now = ts("2021-04-12T06:30:00Z");
    struct ferry_err err = {0};
    ASSERT_OK(scheduler_start(&e->cfg, e->jobs, &sim, false, &e->s, &err), &err);
    int64_t due = step_and_settle(e->s);
    for (int i = 0; i < 10 && due <= clk.now; i++)   /* catch-up runs queued behind each other */
        due = step_and_settle(e->s);
    ASSERT_EQ_INT(due, ts("2021-04-12T07:00:00Z"));
    char *all = jobs_of(e->dir, "c");
    char *after = strdup(all + strlen(before));
    free(all);
    free(before);
    return after;
}

TEST(sched_catchup_none_runs_only_the_latest_tick)
{
    struct env e;
    char *after = outage("none", "", &e);
    ASSERT_EQ_STR(after, "2021-04-12T05:00..2021-04-12T06:00 succeeded 1\n");
    free(after);
    stop(&e);
}

TEST(sched_catchup_one_covers_the_missed_time_in_one_run)
{
    struct env e;
    char *after = outage("one", "", &e);
    ASSERT_EQ_STR(after, "2021-04-12T02:00..2021-04-12T06:00 succeeded 1\n");
    free(after);
    stop(&e);
}

TEST(sched_catchup_all_runs_each_missed_tick)
{
    struct env e;
    char *after = outage("all", "", &e);
    ASSERT_EQ_STR(after, "2021-04-12T02:00..2021-04-12T03:00 succeeded 1\n"
                         "2021-04-12T03:00..2021-04-12T04:00 succeeded 1\n"
                         "2021-04-12T04:00..2021-04-12T05:00 succeeded 1\n"
                         "2021-04-12T05:00..2021-04-12T06:00 succeeded 1\n");
    free(after);
    stop(&e);
}

TEST(sched_catchup_all_is_bounded_by_catchup_max)
{
    struct env e;
    char *after = outage("all", "      catchup_max: 2\n", &e);
    ASSERT_EQ_STR(after, "2021-04-12T04:00..2021-04-12T05:00 succeeded 1\n"
                         "2021-04-12T05:00..2021-04-12T06:00 succeeded 1\n");
    free(after);
    stop(&e);
}

/* ---------------------------------------------------------------- retries */

TEST(sched_retries_with_backoff_after_a_failing_source_then_success)
{
    struct env e;
    start(&e,
          "    - name: r\n      every: 1h\n      retries: 3\n      retry_backoff: 30s\n      retry_backoff_max: 1m\n",
          "2021-04-12T00:59:00Z");
    char *src = test_path(e.dir, "data/stats.parquet"), *away = test_path(e.dir, "data/stats.parquet.away");
    ASSERT_EQ_INT(rename(src, away), 0);
    int64_t tick = ts("2021-04-12T01:00:00Z");
    clk.now = tick;
    /* Attempt 1 fails; the retry comes after 30 s x jitter [0.5, 1.0]. */
    int64_t due = step_and_settle(e.s);
    ASSERT_TRUE(due >= clk.now + 15 * FERRY_NS_PER_SEC && due <= clk.now + 30 * FERRY_NS_PER_SEC);
    clk.now = due;
    /* Attempt 2 fails; 60 s x jitter. */
    due = step_and_settle(e.s);
    ASSERT_TRUE(due >= clk.now + 30 * FERRY_NS_PER_SEC && due <= clk.now + 60 * FERRY_NS_PER_SEC);
    clk.now = due;
    /* Attempt 3 fails; doubling would be 120 s, capped at retry_backoff_max 60 s. */
    due = step_and_settle(e.s);
    ASSERT_TRUE(due >= clk.now + 30 * FERRY_NS_PER_SEC && due <= clk.now + 60 * FERRY_NS_PER_SEC);
    ASSERT_EQ_INT(rename(away, src), 0);
    clk.now = due;
    due = step_and_settle(e.s);
    ASSERT_EQ_INT(due, ts("2021-04-12T02:00:00Z"));
    char *got = jobs_of(e.dir, "r");
    ASSERT_EQ_STR(got, "-..2021-04-12T01:00 failed 1\n-..2021-04-12T01:00 failed 2\n"
                       "-..2021-04-12T01:00 failed 3\n-..2021-04-12T01:00 succeeded 4\n");
    free(got);
    char *fv = feature_views_json(e.dir);
    ASSERT_CONTAINS(fv, "\"last_end\":\"2021-04-12T01:00:00Z\"");
    free(fv);
    char *m = metrics_text(&e);
    ASSERT_CONTAINS(m, "ferry_schedule_runs_total{schedule=\"r\",result=\"failed\"} 3");
    ASSERT_CONTAINS(m, "ferry_schedule_runs_total{schedule=\"r\",result=\"succeeded\"} 1");
    free(m);
    free(src);
    free(away);
    stop(&e);
}

TEST(sched_retries_exhausted_leave_the_time_to_the_next_run)
{
    struct env e;
    start(&e, "    - name: r\n      every: 1h\n      retries: 1\n      retry_backoff: 10s\n", "2021-04-12T00:59:00Z");
    char *src = test_path(e.dir, "data/stats.parquet"), *away = test_path(e.dir, "data/stats.parquet.away");
    ASSERT_EQ_INT(rename(src, away), 0);
    clk.now = ts("2021-04-12T01:00:00Z");
    run_until(e.s, ts("2021-04-12T01:30:00Z"));
    ASSERT_EQ_INT(rename(away, src), 0);
    clk.now = ts("2021-04-12T02:00:00Z");
    run_until(e.s, ts("2021-04-12T02:30:00Z"));
    char *got = jobs_of(e.dir, "r");
    ASSERT_EQ_STR(got, "-..2021-04-12T01:00 failed 1\n-..2021-04-12T01:00 failed 2\n-..2021-04-12T02:00 succeeded 1\n");
    free(got);
    /* The 02:00 run started where nothing was recorded yet (now - ttl), so 00:00-01:00 is covered:
     * one interval from 2021-04-10T02:00 (02:00 - ttl 2d) to 02:00. */
    char *fv = feature_views_json(e.dir);
    ASSERT_CONTAINS(fv, "\"intervals\":[{\"start\":\"2021-04-10T02:00:00Z\",\"end\":\"2021-04-12T02:00:00Z\"}]");
    free(fv);
    free(src);
    free(away);
    stop(&e);
}

/* ---------------------------------------------------------------- concurrency */

static void concurrency_case(const char *policy, const char *expected)
{
    char yaml[256];
    snprintf(yaml, sizeof yaml, "    - name: k\n      every: 15m\n      concurrency: %s\n", policy);
    struct env e;
    start(&e, yaml, "2021-04-12T00:10:00Z");
    sqlite3 *lock = lock_online(e.dir);
    clk.now = ts("2021-04-12T00:15:00Z");
    scheduler_step(e.s);
    wait_job_status(e.dir, "k", "running");
    clk.now = ts("2021-04-12T00:30:00Z");
    scheduler_step(e.s);
    if (strcmp(policy, "queue") == 0)
        wait_job_status(e.dir, "k", "queued");
    else
        ASSERT_EQ_INT(query_int(state_db(e.dir), "SELECT count(*) FROM jobs WHERE trigger = 'schedule:k'"), 1);
    unlock_online(lock);
    step_and_settle(e.s);
    step_and_settle(e.s);
    char *got = jobs_of(e.dir, "k");
    ASSERT_EQ_STR(got, expected);
    free(got);
    char *m = metrics_text(&e);
    if (strcmp(policy, "skip") == 0)
        ASSERT_CONTAINS(m, "ferry_schedule_runs_total{schedule=\"k\",result=\"skipped\"} 1");
    else
        ASSERT_CONTAINS(m, "ferry_schedule_runs_total{schedule=\"k\",result=\"succeeded\"} 2");
    free(m);
    stop(&e);
}

TEST(sched_concurrency_skip_skips_the_tick_while_the_previous_run_runs)
{
    concurrency_case("skip", "-..2021-04-12T00:15 succeeded 1\n");
}

TEST(sched_concurrency_queue_queues_the_tick_behind_the_previous_run)
{
    concurrency_case("queue", "-..2021-04-12T00:15 succeeded 1\n-..2021-04-12T00:30 succeeded 1\n");
}

/* ---------------------------------------------------------------- timeout */

TEST(sched_timeout_cancels_the_job_and_retries_it)
{
    struct env e;
    start(&e, "    - name: t\n      every: 1h\n      timeout: 10m\n      retries: 1\n      retry_backoff: 1m\n",
          "2021-04-12T00:59:00Z");
    sqlite3 *lock = lock_online(e.dir);
    clk.now = ts("2021-04-12T01:00:00Z");
    int64_t due = scheduler_step(e.s);
    wait_job_status(e.dir, "t", "running");
    /* Still running 9 minutes later: nothing happens; at 10 minutes it is cancelled. */
    ASSERT_TRUE(due <= ts("2021-04-12T01:10:00Z"));
    clk.now = ts("2021-04-12T01:09:59Z");
    scheduler_step(e.s);
    ASSERT_EQ_INT(query_int(state_db(e.dir), "SELECT count(*) FROM jobs WHERE trigger = 'schedule:t' AND status = 'running'"), 1);
    clk.now = ts("2021-04-12T01:10:00Z");
    scheduler_step(e.s);
    unlock_online(lock);
    due = step_and_settle(e.s);
    ASSERT_TRUE(due >= clk.now + 30 * FERRY_NS_PER_SEC && due <= clk.now + 60 * FERRY_NS_PER_SEC);
    clk.now = due;
    step_and_settle(e.s);
    char *got = jobs_of(e.dir, "t");
    ASSERT_EQ_STR(got, "-..2021-04-12T01:00 cancelled 1\n-..2021-04-12T01:00 succeeded 2\n");
    free(got);
    char *m = metrics_text(&e);
    ASSERT_CONTAINS(m, "ferry_schedule_runs_total{schedule=\"t\",result=\"timeout\"} 1");
    free(m);
    stop(&e);
}

/* ---------------------------------------------------------------- lookback */

TEST(sched_lookback_picks_up_a_late_row)
{
    struct env e;
    start(&e, "    - name: l\n      every: 1h\n      lookback: 1h\n", "2021-04-12T00:59:00Z");
    const char *rows = "SELECT i::BIGINT AS driver_id, 0.5::FLOAT AS conv_rate,"
                       " TIMESTAMP '2021-04-12 00:10:00' AS event_timestamp FROM range(1, 4) t(i)";
    write_parquet(e.dir, rows);
    clk.now = ts("2021-04-12T01:00:00Z");
    step_and_settle(e.s);
    char *online = test_path(e.dir, "data/online.db");
    ASSERT_EQ_INT(query_int(online, "SELECT count(DISTINCT entity_key) FROM sched_stats"), 3);
    /* Driver 4's row arrives late: event time 00:30, before the recorded end 01:00. */
    char more[1024];
    snprintf(more, sizeof more, "%s UNION ALL SELECT 4::BIGINT, 0.75::FLOAT, TIMESTAMP '2021-04-12 00:30:00'", rows);
    write_parquet(e.dir, more);
    clk.now = ts("2021-04-12T02:00:00Z");
    step_and_settle(e.s);
    ASSERT_EQ_INT(query_int(online, "SELECT count(DISTINCT entity_key) FROM sched_stats"), 4);
    ASSERT_EQ_INT(query_int(online, "SELECT max(event_ts) FROM sched_stats"), ts("2021-04-12T00:30:00Z") / FERRY_NS_PER_SEC);
    /* The second run's window started at 01:00 - 1h. */
    ASSERT_EQ_INT(query_int(state_db(e.dir), "SELECT count(*) FROM jobs WHERE trigger = 'schedule:l'"
                                             " AND results LIKE '%\"start\":\"2021-04-12T00:00:00Z\"%'"), 1);
    free(online);
    stop(&e);
}

/* ---------------------------------------------------------------- SLA, listings */

TEST(sched_freshness_sla_breach_logged_once_at_start_and_end_and_in_metrics)
{
    /* The service log goes to stderr: capture it in a file. */
    char logpath[1024];
    struct env e;
    e.dir = NULL;
    const char *tmp = test_tmpdir();
    snprintf(logpath, sizeof logpath, "%s/stderr.log", tmp);
    int fd = open(logpath, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    int saved = dup(2);
    dup2(fd, 2);
    close(fd);
    start(&e, "    - name: f\n      every: 1h\n      freshness_sla: 30m\n", "2021-04-12T00:59:00Z");
    clk.now = ts("2021-04-12T01:00:00Z");
    step_and_settle(e.s);            /* first check: never materialized -> breached; then fresh */
    clk.now = ts("2021-04-12T01:20:00Z");
    int64_t due = scheduler_step(e.s);
    ASSERT_EQ_INT(due, ts("2021-04-12T01:30:00Z") + 1);   /* the breach starts after 01:00 + 30m */
    clk.now = ts("2021-04-12T01:31:00Z");
    scheduler_step(e.s);
    clk.now = ts("2021-04-12T01:45:00Z");
    scheduler_step(e.s);
    char *m = metrics_text(&e);
    ASSERT_CONTAINS(m, "ferry_freshness_sla_breached{feature_view=\"stats\"} 1");
    free(m);
    clk.now = ts("2021-04-12T02:00:00Z");
    step_and_settle(e.s);
    m = metrics_text(&e);
    ASSERT_CONTAINS(m, "ferry_freshness_sla_breached{feature_view=\"stats\"} 0");
    free(m);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *log = test_read_file(logpath, NULL);
    int breached = 0, met = 0;
    for (const char *p = log; (p = strstr(p, "\"msg\":\"freshness SLA breached\"")); p++)
        breached++;
    for (const char *p = log; (p = strstr(p, "\"msg\":\"freshness SLA met again\"")); p++)
        met++;
    /* Breached at start (never materialized), met at 01:00, breached at 01:31, met at 02:00. */
    ASSERT_EQ_INT(breached, 2);
    ASSERT_EQ_INT(met, 2);
    free(log);
    /* `ferry feature-views` judges with the real clock: 2021's data is far past 30 minutes. */
    char *fv = feature_views_json(e.dir);
    ASSERT_CONTAINS(fv, "\"freshness_sla_seconds\":1800.000,\"sla_breached\":true");
    free(fv);
    stop(&e);
}

TEST(sched_listings_show_next_run_last_run_and_result)
{
    struct env e;
    start(&e, "    - name: a\n      cron: \"0 6 * * *\"\n      timezone: Europe/Berlin\n", "2021-04-12T03:00:00Z");
    clk.now = ts("2021-04-12T04:00:00Z");   /* 06:00 CEST */
    int64_t due = step_and_settle(e.s);
    ASSERT_EQ_INT(due, ts("2021-04-13T04:00:00Z"));
    struct fbuf b;
    fbuf_init(&b, 1 << 20);
    struct ferry_err err = {0};
    ASSERT_OK(scheduler_list_json(e.s, &b, &err), &err);
    ASSERT_CONTAINS(b.data, "\"name\":\"a\"");
    ASSERT_CONTAINS(b.data, "\"next_run\":\"2021-04-13T04:00:00Z\",\"last_run\":\"2021-04-12T04:00:00Z\"");
    ASSERT_CONTAINS(b.data, "\"last_status\":\"succeeded\",\"attempt\":1");
    fbuf_cleanup(&b);
    char job[64];
    struct qtable t;
    sqlite_query(state_db(e.dir), "SELECT id FROM jobs WHERE trigger = 'schedule:a'", &t);
    ASSERT_EQ_INT(t.nrows, 1);
    snprintf(job, sizeof job, "\"last_job\":\"%s\"", QCELL(&t, 0, 0));
    qtable_free(&t);
    stop(&e);
    /* The CLI reads the same row from the state database, without a server. */
    struct run_result r;
    const char *argv[] = {"-c", e.dir, "schedules", "--json", NULL};
    test_run_ferry(&r, NULL, argv);
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_CONTAINS(r.out, job);
    ASSERT_CONTAINS(r.out, "\"last_run\":\"2021-04-12T04:00:00Z\"");
    ASSERT_CONTAINS(r.out, "\"timezone\":\"Europe/Berlin\"");
    /* Its next run is the next 06:00 Berlin after the real now: 04:00Z or 05:00Z depending on DST. */
    ASSERT_TRUE(strstr(r.out, "T04:00:00Z\",\"last_run\"") || strstr(r.out, "T05:00:00Z\",\"last_run\""));
    run_result_cleanup(&r);
    const char *argv2[] = {"-c", e.dir, "schedules", NULL};
    test_run_ferry(&r, NULL, argv2);
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_CONTAINS(r.out, "0 6 * * *");
    ASSERT_CONTAINS(r.out, "succeeded");
    run_result_cleanup(&r);
}

/* ---------------------------------------------------------------- config errors */

/* Loads a feature_store.yaml with this schedules block; expects an error containing `want`. */
static void config_error(const char *schedules, const char *want)
{
    const char *dir = test_tmpdir();
    char sub[1024];
    static int n;
    snprintf(sub, sizeof sub, "%s/c%d", dir, n++);
    mkdir(sub, 0755);
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "project: sched\nregistry: data/registry.db\nferry:\n  schedules:\n%s", schedules);
    char *p = test_path(sub, "feature_store.yaml");
    test_write_file(p, yaml);
    free(p);
    struct ferry_config cfg;
    struct ferry_err err = {0};
    int rc = config_load(sub, NULL, &cfg, &err);
    if (rc == 0) {
        config_cleanup(&cfg);
        test_fail(__FILE__, __LINE__, "expected an error containing \"%s\"", want);
    }
    ASSERT_EQ_INT(rc, FERRY_ECONFIG);
    ASSERT_CONTAINS(err.msg, want);
}

TEST(sched_config_errors_name_the_line_and_reason)
{
    /* Lines: 1 project, 2 registry, 3 ferry, 4 schedules, 5 the first item. */
    config_error("    - name: a\n      every: 15x\n", "feature_store.yaml:6: ferry.schedules: schedule 'a': every:");
    config_error("    - name: a\n      cron: \"* * * * *\"\n      timezone: Mars/Olympus\n",
                 "feature_store.yaml:7: ferry.schedules: schedule 'a': timezone: unknown time zone 'Mars/Olympus'");
    config_error("    - name: a\n      every: 1h\n    - name: a\n      every: 2h\n",
                 "feature_store.yaml:7: ferry.schedules: name 'a' is used twice (also line 5)");
    config_error("    - name: a\n", "feature_store.yaml:5: ferry.schedules: schedule 'a': needs cron");
    config_error("    - name: a\n      every: 1h\n      mode: window\n", "feature_store.yaml:5: ferry.schedules: schedule 'a': mode window needs window");
    config_error("    - name: a\n      every: 1h\n      catchup: some\n",
                 "feature_store.yaml:7: ferry.schedules: schedule 'a': catchup: 'some' is not one of none, one, all");
    config_error("    - name: a\n      every: 1h\n      retries: -1\n", "feature_store.yaml:7:");
    config_error("    - name: a\n      every: 1h\n      timout: 5m\n", "feature_store.yaml:7:");
    config_error("    - name: a\n      every: 1h\n      freshness_sla: {stats: soon}\n",
                 "feature_store.yaml:7: ferry.schedules: schedule 'a': freshness_sla:");
    config_error("    - name: a\n      every: 1h\n      cron: \"@hourly\"\n", "feature_store.yaml:6: ferry.schedules: schedule 'a': set either cron or every");
}

TEST(sched_serve_rejects_bad_cron_and_unknown_views_with_their_line)
{
    /* Cron syntax and view names are checked when the scheduler starts (ferry serve). */
    struct ferry_config cfg;
    const char *dir = setup_repo("    - name: a\n      cron: \"0 25 * * *\"\n", &cfg);
    struct job_manager *jobs = NULL;
    struct scheduler *s = NULL;
    struct ferry_err err = {0};
    ASSERT_OK(jobs_start(&cfg, &jobs, &err), &err);
    ASSERT_EQ_INT(scheduler_start(&cfg, jobs, &sim, false, &s, &err), FERRY_ECONFIG);
    /* Line 14: the cron key (12 lines up to "schedules:", the name on 13). */
    ASSERT_CONTAINS(err.msg, "feature_store.yaml:14: schedule 'a': cron '0 25 * * *':");
    ASSERT_CONTAINS(err.msg, "hour");
    jobs_stop(jobs, 0);
    config_cleanup(&cfg);
    /* The binary: exit 3 (configuration) with the line of the unknown view. */
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "project: sched\nregistry: data/registry.db\nonline_store:\n  type: sqlite\n  path: data/online.db\n"
             "ferry:\n  serve:\n    port: 0\n  schedules:\n    - name: b\n      every: 1h\n      views:\n"
             "        - stats\n        - nope\n");
    char *p = test_path(dir, "feature_store.yaml");
    test_write_file(p, yaml);
    free(p);
    struct run_result r;
    const char *argv[] = {"-c", dir, "serve", NULL};
    test_run_ferry(&r, NULL, argv);
    ASSERT_EQ_INT(r.status, 3);
    ASSERT_CONTAINS(r.err, "feature_store.yaml:14: schedule 'b': views: unknown feature view 'nope'");
    run_result_cleanup(&r);
}
