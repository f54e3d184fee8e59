/* Faults in the middle of a job, against real servers: a Redis online store that is stopped, and
 * a PostgreSQL offline store whose connection the server terminates. Each time the job fails with a
 * clear error, the registry records nothing, and once the server is back a rerun leaves the same
 * final state as an uninterrupted run. */
#include "dbcheck.h"
#include "offline_testlib.h"
#include "test.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ENTITIES 200000     /* redis test */
#define PG_ENTITIES 40000   /* postgres test: SQLite commits one small batch at a time */

static double now_sec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- a private redis-server, so stopping it does not disturb other tests ---- */

struct redis_proc {
    pid_t pid;
    int port;
    char dir[512];
};

/* Up and done loading its AOF: PING answers PONG (it answers -LOADING while loading). */
static bool redis_ready(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    bool ok = c && !c->err;
    if (ok) {
        redisReply *rep = redisCommand(c, "PING");
        ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
        freeReplyObject(rep);
    }
    redisFree(c);
    return ok;
}

static void redis_start(struct redis_proc *r, int port)
{
    if (!port)
        port = 20000 + (int)(getpid() % 20000);
    r->port = port;
    snprintf(r->dir, sizeof r->dir, "%s/redis", test_tmpdir());
    mkdir(r->dir, 0755);
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    fflush(NULL);
    r->pid = fork();
    if (r->pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 1);
        dup2(devnull, 2);
        /* AOF persistence, so what was written before the stop is still there after the restart. */
        execlp("redis-server", "redis-server", "--port", portbuf, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "yes", "--appendfsync", "everysec", "--dir", r->dir, (char *)NULL);
        _exit(127);
    }
    for (double t0 = now_sec(); now_sec() - t0 < 20; usleep(20000))
        if (redis_ready(port))
            return;
    test_fail(__FILE__, __LINE__, "private redis-server on port %d did not start", port);
}

static void redis_stop(struct redis_proc *r)
{
    kill(r->pid, SIGTERM);
    int st;
    waitpid(r->pid, &st, 0);
}

static long long redis_int(int port, int db, const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err)
        test_fail(__FILE__, __LINE__, "cannot reach redis on %d", port);
    redisReply *rep = redisCommand(c, "SELECT %d", db);
    freeReplyObject(rep);
    rep = redisCommand(c, cmd);
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

/* Every hash of db a equals the hash with the same key in db b (field by field). */
static void redis_same_content(int port, int a, int b)
{
    redisContext *ca = redisConnect("127.0.0.1", port), *cb = redisConnect("127.0.0.1", port);
    freeReplyObject(redisCommand(ca, "SELECT %d", a));
    freeReplyObject(redisCommand(cb, "SELECT %d", b));
    ASSERT_EQ_INT(redis_int(port, a, "DBSIZE"), redis_int(port, b, "DBSIZE"));
    char cursor[32] = "0";
    size_t checked = 0;
    do {
        redisReply *scan = redisCommand(ca, "SCAN %s COUNT 1000", cursor);
        snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
        redisReply *keys = scan->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *ha = redisCommand(ca, "HGETALL %b", keys->element[i]->str, (size_t)keys->element[i]->len);
            redisReply *hb = redisCommand(cb, "HGETALL %b", keys->element[i]->str, (size_t)keys->element[i]->len);
            ASSERT_EQ_INT(ha->elements, hb->elements);
            /* HGETALL order is the hash's internal order; compare as field -> value lookups. */
            for (size_t f = 0; f < ha->elements; f += 2) {
                bool found = false;
                for (size_t g = 0; g < hb->elements && !found; g += 2)
                    if (ha->element[f]->len == hb->element[g]->len &&
                        memcmp(ha->element[f]->str, hb->element[g]->str, ha->element[f]->len) == 0) {
                        ASSERT_EQ_INT(ha->element[f + 1]->len, hb->element[g + 1]->len);
                        ASSERT_TRUE(memcmp(ha->element[f + 1]->str, hb->element[g + 1]->str,
                                           ha->element[f + 1]->len) == 0);
                        found = true;
                    }
                ASSERT_TRUE(found);
            }
            freeReplyObject(ha);
            freeReplyObject(hb);
            checked++;
        }
        freeReplyObject(scan);
    } while (strcmp(cursor, "0") != 0);
    ASSERT_EQ_INT(checked, ENTITIES);
    redisFree(ca);
    redisFree(cb);
}

/* ---- repos ---- */

static void write_repo(const char *dir, const char *online_yaml, const char *offline_yaml, const char *source_yaml)
{
    char *data = test_path(dir, "data");
    mkdir(data, 0755);
    free(data);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "project: faults\nregistry: data/registry.db\n%s%s"
             "ferry:\n  batch_rows: 200\n  queue_batches: 1\n",
             online_yaml, offline_yaml);
    char *p = test_path(dir, "feature_store.yaml");
    test_write_file(p, yaml);
    free(p);
    char features[2048];
    snprintf(features, sizeof features,
             "entities:\n  - {name: driver, join_key: driver_id, value_type: Int64}\n"
             "sources:\n%s"
             "feature_views:\n  - name: stats\n    entities: [driver]\n    source: src\n"
             "    schema:\n      - {name: conv_rate, dtype: Float32}\n      - {name: trips, dtype: Int64}\n",
             source_yaml);
    p = test_path(dir, "features.yaml");
    test_write_file(p, features);
    free(p);
}

static void parquet_source(const char *dir)
{
    char *pq = test_path(dir, "data/stats.parquet"), sql[1024];
    snprintf(sql, sizeof sql,
             "COPY (SELECT i AS driver_id, (i %% 997)::FLOAT / 997 AS conv_rate, i * 3 AS trips,"
             " TIMESTAMPTZ '2021-04-15 00:00:00+00' + (i %% 60) * INTERVAL '1 minute' AS event_timestamp"
             " FROM range(%d) t(i)) TO '%s' (FORMAT parquet)", ENTITIES, pq);
    struct qtable t;
    duck_query(sql, &t);
    qtable_free(&t);
    free(pq);
}

static int ferry_sync(const char *dir, const char *cmd, struct run_result *r)
{
    const char *argv[] = {"-c", dir, cmd, "2021-04-14", "2021-04-16", NULL};
    if (strcmp(cmd, "apply") == 0)
        argv[3] = NULL;
    return test_run_ferry(r, NULL, argv);
}

/* Starts `ferry materialize` in the background with stderr in a file. */
static pid_t ferry_async(const char *dir, const char *errpath)
{
    const char *bin = getenv("FERRY_BIN");
    if (!bin || !*bin)
        bin = test_source_path("build/release/ferry");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(e, 2);
        execl(bin, bin, "-c", dir, "materialize", "2021-04-14", "2021-04-16", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_no_interval(const char *dir)
{
    const char *argv[] = {"-c", dir, "feature-views", "--json", NULL};
    struct run_result r;
    test_run_ferry(&r, NULL, argv);
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_CONTAINS(r.out, "\"intervals\":[]");
    run_result_cleanup(&r);
}

static void expect_ok(int status, struct run_result *r)
{
    if (status != 0)
        test_fail(__FILE__, __LINE__, "ferry exited %d: %s", status, r->err);
    run_result_cleanup(r);
}

TEST(fault_redis_stopped_mid_job_records_nothing_and_rerun_converges)
{
    struct redis_proc rs;
    redis_start(&rs, 0);
    char online[256];
    /* The interrupted run and the reference run use two databases of the same server. */
    snprintf(online, sizeof online, "online_store:\n  type: redis\n  connection_string: \"127.0.0.1:%d,db=0\"\n", rs.port);
    char *dir = test_path(test_tmpdir(), "interrupted");
    mkdir(dir, 0755);
    write_repo(dir, online, "", "  - {name: src, path: data/stats.parquet, timestamp_field: event_timestamp}\n");
    parquet_source(dir);
    struct run_result r;
    expect_ok(ferry_sync(dir, "apply", &r), &r);

    char *errpath = test_path(dir, "materialize.err");
    pid_t job = ferry_async(dir, errpath);
    for (double t0 = now_sec(); redis_int(rs.port, 0, "DBSIZE") <= 0; usleep(2000))
        if (now_sec() - t0 > 60)
            test_fail(__FILE__, __LINE__, "the job wrote nothing to redis");
    redis_stop(&rs);               /* stopped in the middle of the job */
    int status = wait_exit(job);
    char *err = test_read_file(errpath, NULL);
    if (status == 0)
        test_fail(__FILE__, __LINE__, "the job succeeded although redis stopped: %s", err);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", rs.port);
    ASSERT_CONTAINS(err, where);   /* the error names the server */
    free(err);
    expect_no_interval(dir);

    redis_start(&rs, rs.port);     /* back, with what it had persisted */
    long long partial = redis_int(rs.port, 0, "DBSIZE");
    if (!(partial > 0 && partial < ENTITIES))
        test_fail(__FILE__, __LINE__, "after the restart redis holds %lld of %d entities", partial, ENTITIES);
    expect_ok(ferry_sync(dir, "materialize", &r), &r);

    char *ref = test_path(test_tmpdir(), "reference");
    mkdir(ref, 0755);
    snprintf(online, sizeof online, "online_store:\n  type: redis\n  connection_string: \"127.0.0.1:%d,db=1\"\n", rs.port);
    write_repo(ref, online, "", "  - {name: src, path: data/stats.parquet, timestamp_field: event_timestamp}\n");
    parquet_source(ref);
    expect_ok(ferry_sync(ref, "apply", &r), &r);
    expect_ok(ferry_sync(ref, "materialize", &r), &r);
    redis_same_content(rs.port, 0, 1);
    redis_stop(&rs);
    free(errpath);
    free(dir);
    free(ref);
}

/* A PostgreSQL source table with the same rows as parquet_source. */
static const char *pg_source(PGconn *c)
{
    const char *schema = ot_pg_schema(c);
    PQclear(ot_pg_sql(c, "CREATE TABLE %s.stats AS SELECT i::bigint AS driver_id, ((i %% 997)::real / 997)::real AS conv_rate,"
                         " i::bigint * 3 AS trips, TIMESTAMPTZ '2021-04-15 00:00:00+00' + (i %% 60) * INTERVAL '1 minute'"
                         " AS event_timestamp FROM generate_series(0, %d) i", schema, PG_ENTITIES - 1));
    return schema;
}

static void pg_offline_yaml(char *out, size_t n)
{
    struct ferry_config cfg;
    ot_pg_config(&cfg);
    snprintf(out, n,
             "offline_store:\n  type: postgres\n  host: %s\n  port: %d\n  database: %s\n  user: %s\n"
             "  password: \"%s\"\n  sslmode: disable\n",
             cfg.offline.host, cfg.offline.port, cfg.offline.database, cfg.offline.user, cfg.offline.password);
    ot_config_cleanup(&cfg);
}

TEST(fault_postgres_connection_killed_mid_job_records_nothing_and_rerun_converges)
{
    PGconn *c = ot_pg_connect();
    const char *schema = pg_source(c);
    char offline[1024], source[256];
    pg_offline_yaml(offline, sizeof offline);
    snprintf(source, sizeof source, "  - {name: src, kind: postgres, table: %s.stats, timestamp_field: event_timestamp}\n",
             schema);
    char *dir = test_path(test_tmpdir(), "interrupted");
    mkdir(dir, 0755);
    write_repo(dir, "online_store: {path: data/online.db}\n", offline, source);
    struct run_result r;
    expect_ok(ferry_sync(dir, "apply", &r), &r);

    char *errpath = test_path(dir, "materialize.err"), *db = test_path(dir, "data/online.db");
    pid_t job = ferry_async(dir, errpath);
    /* Wait until the job has written some rows, then the server terminates its connection. */
    for (double t0 = now_sec();; usleep(2000)) {
        struct qtable n;
        sqlite_query(db, "SELECT count(*) FROM faults_stats", &n);
        long rows = atol(QCELL(&n, 0, 0));
        qtable_free(&n);
        if (rows > 0)
            break;
        if (now_sec() - t0 > 60)
            test_fail(__FILE__, __LINE__, "the job wrote nothing");
    }
    PGresult *k = ot_pg_sql(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE pid <> pg_backend_pid() AND application_name = 'ferry'");
    ASSERT_TRUE(PQntuples(k) >= 1);
    PQclear(k);
    int status = wait_exit(job);
    char *err = test_read_file(errpath, NULL);
    if (status == 0)
        test_fail(__FILE__, __LINE__, "the job succeeded although its connection was terminated: %s", err);
    ASSERT_CONTAINS(err, "stats");   /* names the view */
    free(err);
    expect_no_interval(dir);
    expect_ok(ferry_sync(dir, "materialize", &r), &r);

    /* Reference: the same source read in one go. */
    char *ref = test_path(test_tmpdir(), "reference");
    mkdir(ref, 0755);
    write_repo(ref, "online_store: {path: data/online.db}\n", offline, source);
    expect_ok(ferry_sync(ref, "apply", &r), &r);
    expect_ok(ferry_sync(ref, "materialize", &r), &r);
    char *refdb = test_path(ref, "data/online.db");
    struct qtable a, b;
    const char *dump = "SELECT hex(entity_key), feature_name, hex(value), value_text, event_ts FROM faults_stats"
                       " ORDER BY 1, 2";
    sqlite_query(db, dump, &a);
    sqlite_query(refdb, dump, &b);
    ASSERT_EQ_INT(a.nrows, (long long)PG_ENTITIES * 2);
    ASSERT_EQ_INT(a.nrows, b.nrows);
    for (size_t i = 0; i < a.nrows * a.ncols; i++)
        ASSERT_EQ_STR(a.cells[i] ? a.cells[i] : "NULL", b.cells[i] ? b.cells[i] : "NULL");
    qtable_free(&a);
    qtable_free(&b);
    PQfinish(c);
    free(errpath);
    free(db);
    free(refdb);
    free(dir);
    free(ref);
}
