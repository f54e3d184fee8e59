/* Shared state in PostgreSQL (`ferry: state: postgresql://…`): two real `ferry serve` processes on
 * one repository directory (the shared storage) and one fresh PostgreSQL database per test
 * (CREATE DATABASE ferry_state_<random> on the server of FERRY_TEST_PG, which
 * scripts/test_services.sh starts). What is checked comes from the database and the processes'
 * logs, not from the servers' own answers alone: each job claimed once and run once, each schedule
 * tick submitted once, a killed replica's job finished by the other after its lease. */
#include "dbcheck.h"
#include "server_testlib.h"
#include "test.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- PostgreSQL ---- */

struct pgdb {
    char uri[512];        /* postgresql://user@host:port/ferry_state_xxx, for ferry: state: */
    char conninfo[512];   /* the same database as libpq key=value, for checks */
};

static PGconn *pg_connect(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        test_fail(__FILE__, __LINE__, "cannot connect to PostgreSQL (%s): %s", conninfo, PQerrorMessage(c));
    return c;
}

/* A fresh database for this test; the server is FERRY_TEST_PG's. */
static void pg_fresh_db(struct pgdb *out)
{
    const char *base = getenv("FERRY_TEST_PG");
    if (!base || !*base)
        test_fail(__FILE__, __LINE__, "FERRY_TEST_PG is not set: this test needs PostgreSQL; run it as "
                                      "`scripts/test_services.sh make test-one T=shared`");
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(base, &errmsg);
    if (!opts)
        test_fail(__FILE__, __LINE__, "FERRY_TEST_PG '%s' is not a libpq connection string: %s", base,
                  errmsg ? errmsg : "");
    const char *host = "127.0.0.1", *port = "5432", *user = "postgres";
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            user = o->val;
    }
    char name[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    srand((unsigned)(ts.tv_nsec ^ getpid()));
    snprintf(name, sizeof name, "ferry_state_%d_%08x", (int)getpid(), (unsigned)rand());
    PGconn *c = pg_connect(base);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);   /* name: [a-z0-9_] only */
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(out->uri, sizeof out->uri, "postgresql://%s@%s:%s/%s", user, host, port, name);
    snprintf(out->conninfo, sizeof out->conninfo, "host=%s port=%s user=%s dbname=%s", host, port, user, name);
    PQconninfoFree(opts);
}

/* One value of a one-row query, as text (caller frees). */
static char *pg_value(const struct pgdb *db, const char *sql)
{
    PGconn *c = pg_connect(db->conninfo);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        test_fail(__FILE__, __LINE__, "%s: %s (%d rows)", sql, PQerrorMessage(c), PQntuples(r));
    char *v = strdup(PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

#define ASSERT_PG(db, sql, want) do { char *v_ = pg_value((db), (sql)); ASSERT_EQ_STR(v_, (want)); free(v_); } while (0)

/* ---- the repository: views v0..v4 for triggered jobs, sv for the schedule ---- */

#define REPO_YAML                                                                                  \
    "project: e2e\n"                                                                               \
    "registry: data/registry.db\n"                                                                 \
    "provider: local\n"                                                                            \
    "online_store:\n  type: sqlite\n  path: data/online.db\n"                                      \
    "entity_key_serialization_version: 3\n"

#define VIEW(name)                                                                                 \
    "  - name: " name "\n    entities: [driver]\n    ttl: 1d\n"                                    \
    "    source: driver_source\n    schema:\n"                                                     \
    "      - {name: driver_id, dtype: Int64}\n"                                                    \
    "      - {name: conv_rate, dtype: Float32}\n"                                                  \
    "      - {name: avg_daily_trips, dtype: Int64}\n"

#define REPO_FEATURES(source_file)                                                                 \
    "entities:\n"                                                                                  \
    "  - name: driver\n    join_key: driver_id\n"                                                  \
    "sources:\n"                                                                                   \
    "  - name: driver_source\n    path: data/" source_file "\n"                                    \
    "    timestamp_field: event_timestamp\n    created_timestamp_column: created\n"                \
    "feature_views:\n" VIEW("v0") VIEW("v1") VIEW("v2") VIEW("v3") VIEW("v4") VIEW("sv")

#define MAT_WINDOW "\"start_ts\":\"2021-04-12T00:00:00\",\"end_ts\":\"2021-04-20T00:00:00\""

/* An applied repo whose state is db. big: 60,000 keys in batches of 100, so a job runs a while. */
static const char *make_repo(const struct pgdb *db, const char *ferry_extra, bool big)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "%sferry:\n  state: %s\n%s", REPO_YAML, db->uri, ferry_extra ? ferry_extra : "");
    return srv_make_repo(yaml, big ? REPO_FEATURES("big.parquet") : REPO_FEATURES("driver_stats.parquet"), big);
}

/* ---- servers ---- */

static int count_in(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- tests ---- */

/* 50 jobs triggered through both replicas (10 per view, forced so that each view's jobs queue one
 * behind the other) and a schedule ticking every 2 s on both: every job is claimed once and run
 * once, both processes take work, each tick is submitted by exactly one process, and every view's
 * interval is in the registry both processes write. */
TEST(shared_two_replicas_run_each_job_and_tick_once)
{
    struct pgdb db;
    pg_fresh_db(&db);
    const char *dir = make_repo(&db,
                                "  serve:\n    workers: 2\n    lease_seconds: 5\n"
                                "  schedules:\n"
                                "    - name: tick\n      views: [sv]\n      every: 2s\n      mode: window\n"
                                "      window: 1d\n      catchup: none\n",
                                false);
    struct server a, b;
    start_server(&a, dir);
    start_server(&b, dir);
    char *ids[50];
    for (int i = 0; i < 50; i++) {
        char body[256];
        snprintf(body, sizeof body, "{" MAT_WINDOW ",\"feature_views\":[\"v%d\"]}", i % 5);
        struct resp r = request(i % 2 ? &b : &a, "POST", "/materialize?async=true&force=true", body);
        EXPECT_STATUS(r, 202);
        ids[i] = json_field(r.body, "job_id");
        ASSERT_TRUE(ids[i] != NULL);
        resp_free(&r);
    }
    /* Each replica sees every job, whichever process runs it. */
    for (int i = 0; i < 50; i++) {
        char *st = wait_job(i % 2 ? &a : &b, ids[i], "succeeded", 120);
        ASSERT_EQ_STR(st, "succeeded");
        free(st);
    }
    /* Let the schedule tick a few more times with both replicas up. */
    sleep(5);
    expect_clean_stop(&a);
    expect_clean_stop(&b);

    ASSERT_PG(&db, "SELECT count(*) FROM ferry_jobs WHERE trigger = 'http'", "50");
    ASSERT_PG(&db, "SELECT count(*) FROM ferry_jobs WHERE trigger = 'http' AND status = 'succeeded' AND claims = 1", "50");
    ASSERT_PG(&db, "SELECT count(DISTINCT owner) FROM ferry_jobs WHERE trigger = 'http'", "2");
    /* Per view, runs never overlapped and followed submission order. */
    ASSERT_PG(&db,
              "SELECT count(*) FROM ferry_jobs a JOIN ferry_jobs b ON a.view_list && b.view_list AND a.seq < b.seq"
              " WHERE a.trigger = 'http' AND b.trigger = 'http' AND b.started_ns < a.finished_ns",
              "0");
    /* The schedule: several ticks, each submitted once, by one process or the other. */
    char *ticks = pg_value(&db, "SELECT count(*) FROM ferry_jobs WHERE trigger = 'schedule:tick'");
    ASSERT_TRUE(atoi(ticks) >= 2);
    free(ticks);
    ASSERT_PG(&db,
              "SELECT count(*) - count(DISTINCT end_ns) FROM ferry_jobs WHERE trigger = 'schedule:tick'", "0");
    ASSERT_PG(&db, "SELECT count(*) FROM ferry_jobs WHERE trigger = 'schedule:tick' AND claims > 1", "0");
    ASSERT_PG(&db, "SELECT count(*) FROM ferry_schedules WHERE name = 'tick' AND claimed_tick IS NOT NULL", "1");

    /* The processes' own logs agree: 50 runs of http jobs in total, none claimed twice. */
    char *ea = test_read_file(a.errpath, NULL), *eb = test_read_file(b.errpath, NULL);
    ASSERT_CONTAINS(ea, "\"msg\":\"shared state\",\"state\":\"postgresql://postgres@");
    int runs = 0;
    for (int i = 0; i < 50; i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "\"job\":\"%s\",\"event\":\"running\"", ids[i]);
        int n = count_in(ea, needle) + count_in(eb, needle);
        if (n != 1)
            test_fail(__FILE__, __LINE__, "job %s ran %d times", ids[i], n);
        runs += n;
        free(ids[i]);
    }
    ASSERT_EQ_INT(runs, 50);
    ASSERT_EQ_INT(count_in(ea, "\"event\":\"reclaimed\"") + count_in(eb, "\"event\":\"reclaimed\""), 0);
    free(ea);
    free(eb);

    /* Both processes recorded intervals in the one registry (serialized, nothing lost). */
    const char *argv[] = {"-c", dir, "feature-views", "--json", NULL};
    struct run_result fv;
    ASSERT_EQ_INT(test_run_ferry(&fv, NULL, argv), 0);
    ASSERT_EQ_INT(count_in(fv.out, "\"intervals\":[{\"start\":\"2021-04-12T00:00:00Z\",\"end\":\"2021-04-20T00:00:00Z\"}]"),
                  5);
    run_result_cleanup(&fv);

    /* `ferry jobs` reads the shared history too. */
    const char *jargv[] = {"-c", dir, "jobs", "--json", "--status", "succeeded", "--view", "v3", NULL};
    struct run_result jr;
    ASSERT_EQ_INT(test_run_ferry(&jr, NULL, jargv), 0);
    ASSERT_CONTAINS(jr.out, "\"total\":10,");
    run_result_cleanup(&jr);
}

/* A replica killed with SIGKILL in the middle of a job: its lease runs out, the other replica
 * claims the job again and finishes it; the online store and the registry end as after one run. */
TEST(shared_killed_replica_job_finished_by_the_other_after_lease)
{
    struct pgdb db;
    pg_fresh_db(&db);
    const char *dir = make_repo(&db, "  batch_rows: 100\n  queue_batches: 1\n  serve:\n    lease_seconds: 3\n", true);
    struct server a, b;
    start_server(&a, dir);
    struct resp r = request(&a, "POST", "/materialize?async=true", "{" MAT_WINDOW ",\"feature_views\":[\"v0\"]}");
    EXPECT_STATUS(r, 202);
    char *id = json_field(r.body, "job_id");
    resp_free(&r);
    char *st = wait_job(&a, id, "running", 60);
    ASSERT_EQ_STR(st, "running");
    free(st);
    start_server(&b, dir);
    double killed = srv_now_sec();
    kill(a.pid, SIGKILL);
    int wst;
    waitpid(a.pid, &wst, 0);

    /* Another job on the view is still refused while the dead replica's lease holds it. */
    r = request(&b, "POST", "/materialize?async=true", "{" MAT_WINDOW ",\"feature_views\":[\"v0\"]}");
    EXPECT_STATUS(r, 409);
    resp_free(&r);

    st = wait_job(&b, id, "succeeded", 120);
    ASSERT_EQ_STR(st, "succeeded");
    free(st);
    ASSERT_TRUE(srv_now_sec() - killed >= 1.0);   /* not before the lease could run out */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT claims FROM ferry_jobs WHERE id = '%s'", id);
    ASSERT_PG(&db, sql, "2");
    snprintf(sql, sizeof sql, "SELECT owner LIKE '%%:%d:%%' FROM ferry_jobs WHERE id = '%s'", (int)b.pid, id);
    ASSERT_PG(&db, sql, "t");
    expect_clean_stop(&b);
    char *eb = test_read_file(b.errpath, NULL);
    char needle[128];
    snprintf(needle, sizeof needle, "\"job\":\"%s\",\"event\":\"reclaimed\"", id);
    ASSERT_CONTAINS(eb, needle);
    free(eb);

    char *online = test_path(dir, "data/online.db");
    struct qtable cnt;
    sqlite_query(online, "SELECT count(DISTINCT entity_key) FROM e2e_v0", &cnt);
    ASSERT_EQ_STR(QCELL(&cnt, 0, 0), "60000");
    qtable_free(&cnt);
    free(online);
    const char *argv[] = {"-c", dir, "feature-views", "--json", NULL};
    struct run_result fv;
    ASSERT_EQ_INT(test_run_ferry(&fv, NULL, argv), 0);
    ASSERT_CONTAINS(fv.out, "\"intervals\":[{\"start\":\"2021-04-12T00:00:00Z\",\"end\":\"2021-04-20T00:00:00Z\"}]");
    run_result_cleanup(&fv);
    free(id);
}

/* Cancelling through the replica that does not run the job, and a stopping replica giving its
 * running job back to the queue for the other instead of cancelling it. */
TEST(shared_cancel_across_replicas_and_stop_releases_the_running_job)
{
    struct pgdb db;
    pg_fresh_db(&db);
    /* Small batches keep each job running for seconds: a cancel made through the other replica
     * reaches the owner through its heartbeat (every lease/3 = 1 s), so a job that could finish
     * within that second would make the test a race. */
    const char *dir = make_repo(&db, "  batch_rows: 10\n  queue_batches: 1\n  serve:\n    workers: 1\n"
                                     "    lease_seconds: 3\n    shutdown_grace_seconds: 10\n", true);
    struct server a, b;
    start_server(&a, dir);
    struct resp r = request(&a, "POST", "/materialize?async=true", "{" MAT_WINDOW ",\"feature_views\":[\"v0\"]}");
    EXPECT_STATUS(r, 202);
    char *id = json_field(r.body, "job_id");
    resp_free(&r);
    char *st = wait_job(&a, id, "running", 60);
    ASSERT_EQ_STR(st, "running");
    free(st);
    start_server(&b, dir);
    char path[128];
    snprintf(path, sizeof path, "/jobs/%s/cancel", id);
    r = request(&b, "POST", path, NULL);
    ASSERT_TRUE(r.status == 200 || r.status == 202);
    resp_free(&r);
    st = wait_job(&b, id, "cancelled", 60);
    ASSERT_EQ_STR(st, "cancelled");
    free(st);
    r = request(&b, "POST", path, NULL);
    EXPECT_STATUS(r, 409);
    resp_free(&r);
    free(id);

    /* A runs a new job; SIGTERM on A hands it to B, which finishes it. */
    expect_clean_stop(&b);
    r = request(&a, "POST", "/materialize?async=true", "{" MAT_WINDOW ",\"feature_views\":[\"v1\"]}");
    EXPECT_STATUS(r, 202);
    id = json_field(r.body, "job_id");
    resp_free(&r);
    st = wait_job(&a, id, "running", 60);
    ASSERT_EQ_STR(st, "running");
    free(st);
    start_server(&b, dir);
    expect_clean_stop(&a);
    st = wait_job(&b, id, "succeeded", 120);
    ASSERT_EQ_STR(st, "succeeded");
    free(st);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT claims FROM ferry_jobs WHERE id = '%s'", id);
    ASSERT_PG(&db, sql, "2");
    char *ea = test_read_file(a.errpath, NULL);
    char needle[128];
    snprintf(needle, sizeof needle, "\"job\":\"%s\",\"event\":\"released\"", id);
    ASSERT_CONTAINS(ea, needle);
    free(ea);
    expect_clean_stop(&b);
    free(id);
}

/* The URI is kept as written (not resolved against the repository), and a bad one fails the start
 * with the location named and the password left out. */
TEST(shared_state_uri_config_and_unreachable_database)
{
    const char *dir = test_tmpdir();
    char *data = test_path(dir, "data");
    mkdir(data, 0755);
    free(data);
    char *p = test_path(dir, "feature_store.yaml");
    test_write_file(p, REPO_YAML "ferry:\n  state: postgresql://u:secret@127.0.0.1:1/nodb\n  serve:\n    lease_seconds: 2\n");
    const char *argv[] = {"-c", dir, "serve", "--port", "0", NULL};
    struct run_result r;
    test_run_ferry(&r, NULL, argv);
    ASSERT_EQ_INT(r.status, 3);   /* lease_seconds below 3 is a config error */
    ASSERT_CONTAINS(r.err, "ferry.serve.lease_seconds");
    run_result_cleanup(&r);
    test_write_file(p, REPO_YAML "ferry:\n  state: postgresql://u:secret@127.0.0.1:1/nodb\n");
    free(p);
    test_run_ferry(&r, NULL, argv);
    ASSERT_TRUE(r.status != 0);
    ASSERT_CONTAINS(r.err, "postgresql://u:***@127.0.0.1:1/nodb");
    ASSERT_TRUE(strstr(r.err, "secret") == NULL);
    run_result_cleanup(&r);
}
