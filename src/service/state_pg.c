/* The PostgreSQL state backend (state_pg.h): job history, the shared job queue, schedule state and
 * the registry lock of several `ferry serve` processes.
 *
 * Correctness rests on the database, not on any process's memory:
 *  - submission and claiming both run under one transaction-level advisory lock (QUEUE_LOCK), so the
 *    per-view check of a submission and the "no older job shares a view" rule of a claim see every
 *    committed queue change; FOR UPDATE SKIP LOCKED on the claimed row keeps it safe even without.
 *  - leases use the database's clock (clock_timestamp()), so replicas with skewed clocks agree on
 *    when a lease expired.
 *  - a final status is written only while the writer still owns the job (owner = me AND running), so
 *    a process whose lease expired cannot overwrite the outcome of the process that re-ran it.
 *  - a schedule tick is claimed by a conditional UPDATE (claimed_tick < tick): row locking lets
 *    exactly one concurrent caller win each tick.
 * One connection per handle under a mutex held for each call (libpq connections are not
 * thread-safe); statements are short. A broken connection is reset once before a call fails.
 * Every value is a bound text parameter; table names are fixed. */
#include "service/state_pg.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/time.h"
#include "core/util.h"

/* Advisory lock keys (any bigint; "ferry" in ASCII plus a suffix, to stay clear of other users). */
#define QUEUE_LOCK "7305813601001"
#define SCHEMA_LOCK "7305813601002"
#define REGISTRY_LOCK "7305813601003"

struct state_pg {
    PGconn *conn;
    char *uri;
    char where[256];             /* redacted uri */
    pthread_mutex_t mu;          /* one call at a time on conn */
    PGconn *reg_conn;            /* registry lock session, opened at first use */
    pthread_mutex_t reg_mu;      /* held from state_pg_registry_lock to unlock */
};

bool state_pg_is_uri(const char *loc)
{
    return loc && (strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0);
}

void state_pg_redact(const char *uri, char *out, size_t n)
{
    const char *scheme_end = strstr(uri, "://");
    if (!scheme_end) {
        snprintf(out, n, "%s", uri);
        return;
    }
    const char *rest = scheme_end + 3;
    size_t auth_len = strcspn(rest, "/?");
    const char *at = memchr(rest, '@', auth_len);
    const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    size_t q = strcspn(uri, "?");
    if (colon) /* user:password@host -> user:***@host */
        snprintf(out, n, "%.*s:***%.*s", (int)(colon - uri), uri, (int)(q - (size_t)(at - uri)), at);
    else
        snprintf(out, n, "%.*s", (int)q, uri);
}

static int pg_fail(struct state_pg *p, PGconn *c, PGresult *r, struct ferry_err *err, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(c);
    char clean[200];
    snprintf(clean, sizeof clean, "%s", msg);
    clean[strcspn(clean, "\n")] = '\0';
    int code = state && strcmp(state, "23505") == 0 ? FERRY_ECONFLICT : FERRY_ESTORE;
    return ferry_errf(err, code, "state database %s: %s: %s", p->where, what, clean);
}

/* Runs one statement with text parameters (NULL = SQL NULL). want is PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK. On success *res is the result (caller PQclear's it); on failure an error. */
static int run(struct state_pg *p, PGconn *c, const char *sql, int n, const char *const *vals, ExecStatusType want,
               const char *what, PGresult **res, struct ferry_err *err)
{
    *res = NULL;
    if (PQstatus(c) == CONNECTION_BAD)
        PQreset(c);
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != want) {
        int rc = pg_fail(p, c, r, err, what);
        PQclear(r);
        return rc;
    }
    *res = r;
    return 0;
}

static int exec0(struct state_pg *p, const char *sql, int n, const char *const *vals, const char *what,
                 struct ferry_err *err)
{
    PGresult *r;
    int rc = run(p, p->conn, sql, n, vals, PGRES_COMMAND_OK, what, &r, err);
    PQclear(r);
    return rc;
}

static int query(struct state_pg *p, const char *sql, int n, const char *const *vals, const char *what,
                 PGresult **r, struct ferry_err *err)
{
    return run(p, p->conn, sql, n, vals, PGRES_TUPLES_OK, what, r, err);
}

/* Several statements without parameters (the schema): the simple query protocol. */
static int exec_script(struct state_pg *p, const char *sql, const char *what, struct ferry_err *err)
{
    PGresult *r = PQexec(p->conn, sql);
    int rc = !r || PQresultStatus(r) != PGRES_COMMAND_OK ? pg_fail(p, p->conn, r, err, what) : 0;
    PQclear(r);
    return rc;
}

static void rollback(struct state_pg *p)
{
    PGresult *r = PQexec(p->conn, "ROLLBACK");
    PQclear(r);
}

/* Text of a bigint parameter; NULL for FERRY_TIME_NONE. */
static const char *i64p(char buf[24], int64_t v)
{
    if (v == FERRY_TIME_NONE)
        return NULL;
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

static const char *intp(char buf[24], int v)
{
    snprintf(buf, 24, "%d", v);
    return buf;
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? FERRY_TIME_NONE : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static const char *col_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static const char *kind_name(int kind)
{
    return kind == JOB_MATERIALIZE_INCREMENTAL ? "materialize-incremental" : "materialize";
}

static int views_json(const char *const *views, size_t n, struct fbuf *b)
{
    int rc = fbuf_addc(b, '[');
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = fbuf_addc(b, ',');
        if (!rc)
            rc = fbuf_add_json_str(b, views[i], strlen(views[i]));
    }
    return rc ? rc : fbuf_addc(b, ']');
}

/* ---------------------------------------------------------------- open / close */

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS ferry_jobs ("
    " seq bigserial UNIQUE,"              /* submission order: FIFO and per-view order */
    " id text PRIMARY KEY,"
    " kind text NOT NULL,"
    " views text NOT NULL,"               /* JSON array, rendered as is */
    " view_list text[] NOT NULL,"         /* the same names, for overlap checks (&&) */
    " start_ns bigint,"
    " end_ns bigint,"
    " status text NOT NULL,"
    " trigger text NOT NULL,"
    " attempt int NOT NULL DEFAULT 1,"
    " idempotency_key text UNIQUE,"
    " created_ns bigint NOT NULL,"
    " started_ns bigint,"
    " finished_ns bigint,"
    " error text,"
    " error_code int,"
    " results text NOT NULL DEFAULT '[]',"
    " now_ns bigint NOT NULL DEFAULT 0,"  /* what another process needs to run the job */
    " lookback_ns bigint NOT NULL DEFAULT 0,"
    " owner text,"                        /* the process running it (host:pid:uuid) */
    " lease_until timestamptz,"           /* database clock; expired = claimable again */
    " cancel_requested boolean NOT NULL DEFAULT false,"
    " claims int NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX IF NOT EXISTS ferry_jobs_newest ON ferry_jobs (created_ns DESC);"
    "CREATE INDEX IF NOT EXISTS ferry_jobs_active ON ferry_jobs (seq) WHERE status IN ('queued', 'running');"
    "CREATE TABLE IF NOT EXISTS ferry_schedules ("
    " name text PRIMARY KEY,"
    " last_tick bigint,"
    " last_run bigint,"
    " last_job text,"
    " last_status text,"
    " attempt int,"
    " claimed_tick bigint,"               /* newest tick a process took on (exactly one per tick) */
    " claimed_by text"
    ");";

int state_pg_open(const char *uri, bool create, struct state_pg **out, struct ferry_err *err)
{
    *out = NULL;
    struct state_pg *p = xcalloc(1, sizeof *p);
    p->uri = xstrdup(uri);
    state_pg_redact(uri, p->where, sizeof p->where);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->reg_mu, NULL);
    int rc = 0;
    PGresult *r = NULL;
    p->conn = PQconnectdb(uri);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        rc = pg_fail(p, p->conn, NULL, err, "cannot connect");
        goto fail;
    }
    if (create) {
        /* Two replicas starting together would race on CREATE TABLE IF NOT EXISTS (it is not atomic
         * against itself): the schema is made under an advisory lock. */
        if ((rc = exec0(p, "BEGIN", 0, NULL, "cannot begin", err)) != 0)
            goto fail;
        if ((rc = query(p, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", 0, NULL, "cannot lock the schema", &r,
                        err)) != 0 ||
            (PQclear(r), rc = exec_script(p, schema_sql, "cannot create the ferry_jobs and ferry_schedules tables",
                                          err)) != 0 ||
            (rc = exec0(p, "COMMIT", 0, NULL, "cannot commit the schema", err)) != 0) {
            rollback(p);
            goto fail;
        }
    } else {
        if ((rc = query(p, "SELECT to_regclass('ferry_jobs') IS NOT NULL AND to_regclass('ferry_schedules') IS NOT NULL",
                        0, NULL, "cannot look for the tables", &r, err)) != 0)
            goto fail;
        bool have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (!have) {
            rc = ferry_errf(err, FERRY_ENOTFOUND, "job history %s has no ferry_jobs table yet", p->where);
            goto fail;
        }
    }
    *out = p;
    return 0;
fail:
    state_pg_close(p);
    return rc;
}

void state_pg_close(struct state_pg *p)
{
    if (!p)
        return;
    PQfinish(p->conn);
    PQfinish(p->reg_conn);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->reg_mu);
    free(p->uri);
    free(p);
}

/* ---------------------------------------------------------------- plain history operations */

#define INSERT_SQL                                                                                  \
    "INSERT INTO ferry_jobs (id, kind, views, view_list, start_ns, end_ns, status, trigger, attempt,"   \
    " idempotency_key, created_ns, started_ns, finished_ns, error, error_code, results, now_ns, lookback_ns)" \
    " VALUES ($1, $2, $3::text, ARRAY(SELECT jsonb_array_elements_text($3::text::jsonb)), $4, $5, $6, $7, $8, $9, $10,"  \
    " $11, $12, $13, $14, $15, $16, $17)"

/* The 17 parameters of INSERT_SQL; nums holds the number texts, views the JSON. */
static void insert_params(const struct state_job *j, const struct fbuf *views, char nums[9][24], const char *v[17])
{
    v[0] = j->id;
    v[1] = kind_name(j->kind);
    v[2] = views->data;
    v[3] = i64p(nums[0], j->start_ns);
    v[4] = i64p(nums[1], j->end_ns);
    v[5] = job_status_name(j->status);
    v[6] = j->trigger ? j->trigger : "";
    v[7] = intp(nums[2], j->attempt > 0 ? j->attempt : 1);
    v[8] = j->idempotency_key;
    v[9] = i64p(nums[3], j->created_ns);
    v[10] = i64p(nums[4], j->started_ns);
    v[11] = i64p(nums[5], j->finished_ns);
    v[12] = j->error;
    v[13] = j->error_code ? intp(nums[6], j->error_code) : NULL;
    v[14] = j->results_json ? j->results_json : "[]";
    v[15] = i64p(nums[7], j->now_ns == FERRY_TIME_NONE ? 0 : j->now_ns);
    v[16] = i64p(nums[8], j->lookback_ns == FERRY_TIME_NONE ? 0 : j->lookback_ns);
}

int state_pg_insert(struct state_pg *p, const struct state_job *j, struct ferry_err *err)
{
    struct fbuf views;
    fbuf_init(&views, (size_t)64 << 20);
    if (views_json(j->views, j->nviews, &views) != 0)
        return ferry_errf(err, FERRY_ELIMIT, "job %s: the list of views is too long", j->id);
    char nums[9][24];
    const char *v[17];
    insert_params(j, &views, nums, v);
    pthread_mutex_lock(&p->mu);
    int rc = exec0(p, INSERT_SQL, 17, v, "cannot insert a job", err);
    pthread_mutex_unlock(&p->mu);
    fbuf_cleanup(&views);
    return rc;
}

static void update_params(const struct state_job *j, char nums[4][24], const char *v[7])
{
    v[0] = j->id;
    v[1] = job_status_name(j->status);
    v[2] = i64p(nums[0], j->started_ns);
    v[3] = i64p(nums[1], j->finished_ns);
    v[4] = j->error;
    v[5] = j->error_code ? intp(nums[2], j->error_code) : NULL;
    v[6] = j->results_json ? j->results_json : "[]";
}

int state_pg_update(struct state_pg *p, const struct state_job *j, struct ferry_err *err)
{
    char nums[4][24];
    const char *v[7];
    update_params(j, nums, v);
    pthread_mutex_lock(&p->mu);
    int rc = exec0(p,
                   "UPDATE ferry_jobs SET status = $2, started_ns = $3, finished_ns = $4, error = $5, error_code = $6,"
                   " results = $7 WHERE id = $1",
                   7, v, "cannot update a job", err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int state_pg_update_results(struct state_pg *p, const char *id, const char *results_json, struct ferry_err *err)
{
    const char *v[2] = {id, results_json ? results_json : "[]"};
    pthread_mutex_lock(&p->mu);
    int rc = exec0(p, "UPDATE ferry_jobs SET results = $2 WHERE id = $1", 2, v, "cannot update a job's results", err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

#define JOB_COLUMNS                                                                                \
    "id, kind, views, start_ns, end_ns, status, trigger, attempt, created_ns, started_ns, finished_ns," \
    " error, results"

static int add_time_or_null(struct fbuf *b, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return fbuf_adds(b, "null");
    char t[FERRY_TIME_BUF];
    return fbuf_addf(b, "\"%s\"", ferry_time_format_iso(col_i64(r, row, col), t));
}

static int add_text_or_null(struct fbuf *b, const PGresult *r, int row, int col)
{
    const char *v = col_str(r, row, col);
    return v ? fbuf_add_json_str(b, v, (size_t)PQgetlength(r, row, col)) : fbuf_adds(b, "null");
}

static int add_raw_array(struct fbuf *b, const PGresult *r, int row, int col)
{
    const char *v = col_str(r, row, col);
    return v && *v == '[' ? fbuf_add(b, v, (size_t)PQgetlength(r, row, col)) : fbuf_adds(b, "[]");
}

/* The same object as the SQLite backend renders (state.c row_json). */
static int row_json(const PGresult *r, int row, struct fbuf *b)
{
    int rc = fbuf_adds(b, "{\"id\":");
    rc = rc ? rc : add_text_or_null(b, r, row, 0);
    rc = rc ? rc : fbuf_adds(b, ",\"kind\":");
    rc = rc ? rc : add_text_or_null(b, r, row, 1);
    rc = rc ? rc : fbuf_adds(b, ",\"views\":");
    rc = rc ? rc : add_raw_array(b, r, row, 2);
    rc = rc ? rc : fbuf_adds(b, ",\"start\":");
    rc = rc ? rc : add_time_or_null(b, r, row, 3);
    rc = rc ? rc : fbuf_adds(b, ",\"end\":");
    rc = rc ? rc : add_time_or_null(b, r, row, 4);
    rc = rc ? rc : fbuf_adds(b, ",\"status\":");
    rc = rc ? rc : add_text_or_null(b, r, row, 5);
    rc = rc ? rc : fbuf_adds(b, ",\"trigger\":");
    rc = rc ? rc : add_text_or_null(b, r, row, 6);
    rc = rc ? rc : fbuf_addf(b, ",\"attempt\":%d,\"created_at\":", atoi(PQgetvalue(r, row, 7)));
    rc = rc ? rc : add_time_or_null(b, r, row, 8);
    rc = rc ? rc : fbuf_adds(b, ",\"started_at\":");
    rc = rc ? rc : add_time_or_null(b, r, row, 9);
    rc = rc ? rc : fbuf_adds(b, ",\"finished_at\":");
    rc = rc ? rc : add_time_or_null(b, r, row, 10);
    if (!rc) {
        if (!PQgetisnull(r, row, 9) && !PQgetisnull(r, row, 10))
            rc = fbuf_addf(b, ",\"duration_seconds\":%.3f",
                           (double)(col_i64(r, row, 10) - col_i64(r, row, 9)) / 1e9);
        else
            rc = fbuf_adds(b, ",\"duration_seconds\":null");
    }
    rc = rc ? rc : fbuf_adds(b, ",\"error\":");
    rc = rc ? rc : add_text_or_null(b, r, row, 11);
    rc = rc ? rc : fbuf_adds(b, ",\"results\":");
    rc = rc ? rc : add_raw_array(b, r, row, 12);
    rc = rc ? rc : fbuf_addc(b, '}');
    return rc;
}

int state_pg_get_json(struct state_pg *p, const char *id, struct fbuf *out, struct ferry_err *err)
{
    const char *v[1] = {id};
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = query(p, "SELECT " JOB_COLUMNS " FROM ferry_jobs WHERE id = $1", 1, v, "cannot read a job", &r, err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    if (PQntuples(r) == 0)
        rc = ferry_errf(err, FERRY_ENOTFOUND, "job '%s' not found", id);
    else if (row_json(r, 0, out) != 0)
        rc = ferry_errf(err, FERRY_ELIMIT, "job %s: its JSON is too large", id);
    PQclear(r);
    return rc;
}

int state_pg_get_outcome(struct state_pg *p, const char *id, int *status, struct ferry_err *job_err,
                         struct ferry_err *err)
{
    const char *v[1] = {id};
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = query(p, "SELECT status, error_code, error FROM ferry_jobs WHERE id = $1", 1, v, "cannot read a job", &r,
                   err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        rc = ferry_errf(err, FERRY_ENOTFOUND, "job '%s' not found", id);
    } else {
        *status = job_status_parse(PQgetvalue(r, 0, 0));
        ferry_err_clear(job_err);
        const char *msg = col_str(r, 0, 2);
        if (msg) {
            int code = PQgetisnull(r, 0, 1) ? 0 : atoi(PQgetvalue(r, 0, 1));
            ferry_errf(job_err, code < 0 ? code : FERRY_EINTERNAL, "%s", msg);
        }
    }
    PQclear(r);
    return rc;
}

int state_pg_get_views(struct state_pg *p, const char *id, char ***views, size_t *n, struct ferry_err *err)
{
    *views = NULL;
    *n = 0;
    const char *v[1] = {id};
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = query(p,
                   "SELECT u.v FROM ferry_jobs j LEFT JOIN LATERAL unnest(j.view_list) WITH ORDINALITY AS u(v, o)"
                   " ON true WHERE j.id = $1 ORDER BY u.o",
                   1, v, "cannot read a job's views", &r, err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    if (rows == 0) {
        rc = ferry_errf(err, FERRY_ENOTFOUND, "job '%s' not found", id);
    } else {
        *views = xcalloc((size_t)rows + 1, sizeof **views);
        for (int i = 0; i < rows; i++)
            if (!PQgetisnull(r, i, 0))
                (*views)[(*n)++] = xstrdup(PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return rc;
}

int state_pg_list_json(struct state_pg *p, const char *status, const char *view, int limit, int offset,
                       struct fbuf *out, struct ferry_err *err)
{
    char l[24], o[24];
    const char *v[4] = {status, view, intp(l, limit), intp(o, offset)};
    PGresult *cnt = NULL, *r = NULL;
    pthread_mutex_lock(&p->mu);
#define LIST_WHERE " WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR $2 = ANY(view_list))"
    int rc = query(p, "SELECT count(*) FROM ferry_jobs" LIST_WHERE, 2, v, "cannot count jobs", &cnt, err);
    if (!rc)
        rc = query(p, "SELECT " JOB_COLUMNS " FROM ferry_jobs" LIST_WHERE " ORDER BY created_ns DESC, seq DESC"
                      " LIMIT $3 OFFSET $4",
                   4, v, "cannot list jobs", &r, err);
#undef LIST_WHERE
    pthread_mutex_unlock(&p->mu);
    if (!rc) {
        int brc = fbuf_adds(out, "{\"jobs\":[");
        for (int i = 0; !brc && i < PQntuples(r); i++) {
            if (i)
                brc = fbuf_addc(out, ',');
            brc = brc ? brc : row_json(r, i, out);
        }
        if (brc || fbuf_addf(out, "],\"total\":%s,\"limit\":%d,\"offset\":%d}", PQgetvalue(cnt, 0, 0), limit, offset))
            rc = ferry_errf(err, FERRY_ELIMIT, "the list of jobs is too large");
    }
    PQclear(cnt);
    PQclear(r);
    return rc;
}

int state_pg_find_idempotency(struct state_pg *p, const char *key, char id[JOB_ID_LEN], struct ferry_err *err)
{
    const char *v[1] = {key};
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = query(p, "SELECT id FROM ferry_jobs WHERE idempotency_key = $1", 1, v, "cannot look up an idempotency key",
                   &r, err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    if (PQntuples(r) > 0) {
        snprintf(id, JOB_ID_LEN, "%s", PQgetvalue(r, 0, 0));
        rc = 1;
    }
    PQclear(r);
    return rc;
}

int state_pg_schedule_get(struct state_pg *p, const char *name, struct state_schedule *out, struct ferry_err *err)
{
    memset(out, 0, sizeof *out);
    out->last_tick = out->last_run = FERRY_TIME_NONE;
    const char *v[1] = {name};
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = query(p, "SELECT last_tick, last_run, last_job, last_status, attempt FROM ferry_schedules WHERE name = $1",
                   1, v, "cannot read a schedule", &r, err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    if (PQntuples(r) > 0) {
        rc = 1;
        out->last_tick = col_i64(r, 0, 0);
        out->last_run = col_i64(r, 0, 1);
        const char *t = col_str(r, 0, 2);
        snprintf(out->last_job, sizeof out->last_job, "%s", t ? t : "");
        t = col_str(r, 0, 3);
        snprintf(out->last_status, sizeof out->last_status, "%s", t ? t : "");
        out->attempt = PQgetisnull(r, 0, 4) ? 0 : atoi(PQgetvalue(r, 0, 4));
    }
    PQclear(r);
    return rc;
}

int state_pg_schedule_put(struct state_pg *p, const char *name, const struct state_schedule *row,
                          struct ferry_err *err)
{
    char a[24], b[24], c[24];
    const char *v[6] = {name, i64p(a, row->last_tick), i64p(b, row->last_run), row->last_job[0] ? row->last_job : NULL,
                        row->last_status[0] ? row->last_status : NULL, intp(c, row->attempt)};
    pthread_mutex_lock(&p->mu);
    /* last_tick never moves back: with several replicas a slower writer must not undo a newer one. */
    int rc = exec0(p,
                   "INSERT INTO ferry_schedules (name, last_tick, last_run, last_job, last_status, attempt)"
                   " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET"
                   " last_tick = GREATEST(ferry_schedules.last_tick, EXCLUDED.last_tick), last_run = $3,"
                   " last_job = $4, last_status = $5, attempt = $6",
                   6, v, "cannot write a schedule", err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ---------------------------------------------------------------- the shared queue */

#define CLAIM_COLUMNS                                                                              \
    "id, kind, views, start_ns, end_ns, now_ns, lookback_ns, created_ns, attempt, trigger, idempotency_key," \
    " cancel_requested, claims, status"

static int claim_from_row(const PGresult *r, int row, struct state_claim *c, struct ferry_err *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", PQgetvalue(r, row, 0));
    c->kind = strcmp(PQgetvalue(r, row, 1), "materialize-incremental") == 0 ? JOB_MATERIALIZE_INCREMENTAL
                                                                            : JOB_MATERIALIZE;
    json_t *doc = json_loads(PQgetvalue(r, row, 2), 0, NULL);
    if (!json_is_array(doc)) {
        json_decref(doc);
        return ferry_errf(err, FERRY_ESTORE, "job %s: its views are not a JSON array", c->id);
    }
    c->views = xcalloc(json_array_size(doc) + 1, sizeof *c->views);
    for (size_t i = 0; i < json_array_size(doc); i++) {
        const char *s = json_string_value(json_array_get(doc, i));
        if (s)
            c->views[c->nviews++] = xstrdup(s);
    }
    json_decref(doc);
    c->start_ns = col_i64(r, row, 3);
    c->end_ns = col_i64(r, row, 4);
    c->now_ns = col_i64(r, row, 5);
    c->lookback_ns = col_i64(r, row, 6);
    c->created_ns = col_i64(r, row, 7);
    c->attempt = atoi(PQgetvalue(r, row, 8));
    c->trigger = xstrdup(PQgetvalue(r, row, 9));
    c->idempotency_key = xstrdup(col_str(r, row, 10));
    c->cancel_requested = strcmp(PQgetvalue(r, row, 11), "t") == 0;
    c->claims = atoi(PQgetvalue(r, row, 12));
    c->status = job_status_parse(PQgetvalue(r, row, 13));
    return 0;
}

int state_pg_submit(struct state_pg *p, const struct state_job *j, bool force, char existing[JOB_ID_LEN],
                    struct ferry_err *err)
{
    struct fbuf views;
    fbuf_init(&views, (size_t)64 << 20);
    if (views_json(j->views, j->nviews, &views) != 0)
        return ferry_errf(err, FERRY_ELIMIT, "job %s: the list of views is too long", j->id);
    PGresult *r = NULL;
    pthread_mutex_lock(&p->mu);
    int rc = exec0(p, "BEGIN", 0, NULL, "cannot begin a submission", err);
    if (rc)
        goto out;
    /* The queue lock makes "check then insert" one step for every replica. */
    if ((rc = query(p, "SELECT pg_advisory_xact_lock(" QUEUE_LOCK ")", 0, NULL, "cannot lock the job queue", &r,
                    err)) != 0)
        goto abort;
    PQclear(r);
    r = NULL;
    if (j->idempotency_key) {
        const char *v[1] = {j->idempotency_key};
        if ((rc = query(p, "SELECT id FROM ferry_jobs WHERE idempotency_key = $1", 1, v,
                        "cannot look up an idempotency key", &r, err)) != 0)
            goto abort;
        if (PQntuples(r) > 0) {
            snprintf(existing, JOB_ID_LEN, "%s", PQgetvalue(r, 0, 0));
            rc = 1;
            goto abort;
        }
        PQclear(r);
        r = NULL;
    }
    if (!force) {
        const char *v[1] = {views.data};
        if ((rc = query(p,
                        "SELECT id, status, (SELECT x FROM unnest(view_list) AS x WHERE x = ANY(ARRAY(SELECT"
                        " jsonb_array_elements_text($1::text::jsonb))) LIMIT 1) FROM ferry_jobs"
                        " WHERE status IN ('queued', 'running')"
                        " AND view_list && ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)) ORDER BY seq LIMIT 1",
                        1, v, "cannot check busy views", &r, err)) != 0)
            goto abort;
        if (PQntuples(r) > 0) {
            rc = ferry_errf(err, FERRY_ECONFLICT, "feature view '%s' already has job %s (%s)", PQgetvalue(r, 0, 2),
                            PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
            goto abort;
        }
        PQclear(r);
        r = NULL;
    }
    char nums[9][24];
    const char *v[17];
    insert_params(j, &views, nums, v);
    if ((rc = exec0(p, INSERT_SQL, 17, v, "cannot insert a job", err)) != 0)
        goto abort;
    rc = exec0(p, "COMMIT", 0, NULL, "cannot commit a submission", err);
    goto out;
abort:
    rollback(p);
out:
    pthread_mutex_unlock(&p->mu);
    PQclear(r);
    fbuf_cleanup(&views);
    return rc;
}

int state_pg_claim(struct state_pg *p, const char *owner, int lease_seconds, int64_t started_ns,
                   struct state_claim *out, struct ferry_err *err)
{
    char a[24], b[24];
    const char *v[3] = {owner, intp(a, lease_seconds), i64p(b, started_ns)};
    PGresult *r = NULL;
    pthread_mutex_lock(&p->mu);
    int rc = exec0(p, "BEGIN", 0, NULL, "cannot begin a claim", err);
    if (rc)
        goto out;
    if ((rc = query(p, "SELECT pg_advisory_xact_lock(" QUEUE_LOCK ")", 0, NULL, "cannot lock the job queue", &r,
                    err)) != 0)
        goto abort;
    PQclear(r);
    r = NULL;
    /* Runnable: queued, or running under an expired lease (its process died: run it again; a window
     * is recorded only after it is written and online writes never let older rows win, so a re-run is
     * safe). Blocked while an older queued/running job, or a live running one, shares a view. */
    if ((rc = query(p,
                    "UPDATE ferry_jobs SET status = 'running', owner = $1,"
                    " lease_until = clock_timestamp() + make_interval(secs => $2::int), started_ns = $3,"
                    " claims = claims + 1"
                    " WHERE id = (SELECT j.id FROM ferry_jobs j"
                    "  WHERE (j.status = 'queued' OR (j.status = 'running' AND j.lease_until < clock_timestamp()))"
                    "  AND NOT EXISTS (SELECT 1 FROM ferry_jobs o WHERE o.status IN ('queued', 'running')"
                    "   AND o.id <> j.id AND o.view_list && j.view_list"
                    "   AND (o.seq < j.seq OR (o.status = 'running' AND o.lease_until >= clock_timestamp())))"
                    "  ORDER BY j.seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
                    " RETURNING " CLAIM_COLUMNS,
                    3, v, "cannot claim a job", &r, err)) != 0)
        goto abort;
    if (PQntuples(r) > 0 && (rc = claim_from_row(r, 0, out, err)) == 0)
        rc = 1;
    if (rc < 0)
        goto abort;
    if (exec0(p, "COMMIT", 0, NULL, "cannot commit a claim", err) != 0) {
        if (rc == 1)
            state_claim_cleanup(out);
        rc = err ? err->code : FERRY_ESTORE;
    }
    goto out;
abort:
    rollback(p);
out:
    pthread_mutex_unlock(&p->mu);
    PQclear(r);
    return rc;
}

int state_pg_load(struct state_pg *p, const char *id, struct state_claim *out, struct ferry_err *err)
{
    const char *v[1] = {id};
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = query(p, "SELECT " CLAIM_COLUMNS " FROM ferry_jobs WHERE id = $1", 1, v, "cannot read a job", &r, err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    rc = PQntuples(r) == 0 ? ferry_errf(err, FERRY_ENOTFOUND, "job '%s' not found", id) : claim_from_row(r, 0, out, err);
    PQclear(r);
    return rc;
}

int state_pg_heartbeat(struct state_pg *p, const char *owner, int lease_seconds, char ***ids, bool **cancel,
                       size_t *n, struct ferry_err *err)
{
    *ids = NULL;
    *cancel = NULL;
    *n = 0;
    char a[24];
    const char *v[2] = {owner, intp(a, lease_seconds)};
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = query(p,
                   "UPDATE ferry_jobs SET lease_until = clock_timestamp() + make_interval(secs => $2::int)"
                   " WHERE owner = $1 AND status = 'running' RETURNING id, cancel_requested",
                   2, v, "cannot renew leases", &r, err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    *ids = xcalloc((size_t)rows + 1, sizeof **ids);
    *cancel = xcalloc((size_t)rows + 1, sizeof **cancel);
    for (int i = 0; i < rows; i++) {
        (*ids)[i] = xstrdup(PQgetvalue(r, i, 0));
        (*cancel)[i] = strcmp(PQgetvalue(r, i, 1), "t") == 0;
    }
    *n = (size_t)rows;
    PQclear(r);
    return 0;
}

/* Runs an UPDATE and returns how many rows it changed (>= 0) or an error. */
static int exec_count(struct state_pg *p, const char *sql, int n, const char *const *v, const char *what,
                      struct ferry_err *err)
{
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = run(p, p->conn, sql, n, v, PGRES_COMMAND_OK, what, &r, err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    rc = atoi(PQcmdTuples(r));
    PQclear(r);
    return rc;
}

int state_pg_finish(struct state_pg *p, const struct state_job *j, const char *owner, struct ferry_err *err)
{
    char nums[4][24];
    const char *v[8];
    update_params(j, nums, v);
    v[7] = owner;
    return exec_count(p,
                      "UPDATE ferry_jobs SET status = $2, started_ns = $3, finished_ns = $4, error = $5, error_code = $6,"
                      " results = $7, lease_until = NULL WHERE id = $1 AND owner = $8 AND status = 'running'",
                      8, v, "cannot finish a job", err);
}

int state_pg_release(struct state_pg *p, const char *id, const char *owner, struct ferry_err *err)
{
    const char *v[2] = {id, owner};
    return exec_count(p,
                      "UPDATE ferry_jobs SET status = 'queued', owner = NULL, lease_until = NULL, started_ns = NULL,"
                      " results = '[]' WHERE id = $1 AND owner = $2 AND status = 'running'",
                      2, v, "cannot give a job back to the queue", err);
}

int state_pg_cancel_queued(struct state_pg *p, const struct state_job *j, struct ferry_err *err)
{
    char nums[4][24];
    const char *v[7];
    update_params(j, nums, v);
    return exec_count(p,
                      "UPDATE ferry_jobs SET status = $2, started_ns = $3, finished_ns = $4, error = $5, error_code = $6,"
                      " results = $7 WHERE id = $1 AND status = 'queued'",
                      7, v, "cannot cancel a job", err);
}

int state_pg_request_cancel(struct state_pg *p, const char *id, struct ferry_err *err)
{
    const char *v[1] = {id};
    return exec_count(p, "UPDATE ferry_jobs SET cancel_requested = true WHERE id = $1 AND status = 'running'", 1, v,
                      "cannot request a cancellation", err);
}

int state_pg_active_counts(struct state_pg *p, uint64_t *queued, uint64_t *running, struct ferry_err *err)
{
    PGresult *r;
    pthread_mutex_lock(&p->mu);
    int rc = query(p,
                   "SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'running')"
                   " FROM ferry_jobs WHERE status IN ('queued', 'running')",
                   0, NULL, "cannot count active jobs", &r, err);
    pthread_mutex_unlock(&p->mu);
    if (rc)
        return rc;
    *queued = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    *running = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return 0;
}

int state_pg_schedule_claim(struct state_pg *p, const char *name, int64_t tick, const char *owner,
                            struct ferry_err *err)
{
    char t[24];
    const char *v[3] = {name, i64p(t, tick), owner};
    int rc = exec_count(p, "INSERT INTO ferry_schedules (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", 1, v,
                        "cannot create a schedule row", err);
    if (rc < 0)
        return rc;
    /* Concurrent claimers of one tick queue on the row lock; the later one re-checks the condition
     * against the winner's row and changes nothing. */
    rc = exec_count(p,
                    "UPDATE ferry_schedules SET claimed_tick = $2, claimed_by = $3"
                    " WHERE name = $1 AND (claimed_tick IS NULL OR claimed_tick < $2)",
                    3, v, "cannot claim a schedule tick", err);
    return rc < 0 ? rc : rc > 0;
}

int state_pg_registry_lock(struct state_pg *p, struct ferry_err *err)
{
    pthread_mutex_lock(&p->reg_mu);
    if (!p->reg_conn || PQstatus(p->reg_conn) != CONNECTION_OK) {
        PQfinish(p->reg_conn);
        p->reg_conn = PQconnectdb(p->uri);
    }
    PGresult *r;
    int rc = PQstatus(p->reg_conn) != CONNECTION_OK
                 ? pg_fail(p, p->reg_conn, NULL, err, "registry lock: cannot connect")
                 : run(p, p->reg_conn, "SELECT pg_advisory_lock(" REGISTRY_LOCK ")", 0, NULL, PGRES_TUPLES_OK,
                       "cannot take the registry lock", &r, err);
    if (rc) {
        pthread_mutex_unlock(&p->reg_mu);
        return rc;
    }
    PQclear(r);
    return 0;   /* reg_mu stays held until state_pg_registry_unlock */
}

void state_pg_registry_unlock(struct state_pg *p)
{
    /* If the session broke, the server already dropped its advisory locks. */
    PGresult *r = PQexec(p->reg_conn, "SELECT pg_advisory_unlock(" REGISTRY_LOCK ")");
    PQclear(r);
    pthread_mutex_unlock(&p->reg_mu);
}
