/* The state database (state.h): the interface, dispatching to PostgreSQL (state_pg.c) for a URI,
 * and the SQLite backend for a path.
 *
 * SQLite: the file is ferry's own (Feast never reads it), so it uses
 * WAL: `ferry jobs` and HTTP readers never wait for a worker's write, and a killed process leaves a
 * consistent file. Views and per-view results are stored as JSON array text written by this module,
 * so rendering a job embeds them as they are; the view filter reads them with SQLite's json_each.
 * All values go through bound parameters. */
#include "service/state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/time.h"
#include "core/util.h"
#include "service/state_pg.h"

/* Readers and the other process's writes hold locks for milliseconds; waiting turns contention into
 * a short delay instead of a failed job update. */
#define STATE_BUSY_MS 5000
#define JSON_MAX ((size_t)64 << 20)

struct state_db {
    struct state_pg *pg;  /* the PostgreSQL backend; NULL for SQLite (then the rest is used) */
    sqlite3 *db;
    char *path;
    pthread_mutex_t mu;   /* one statement sequence at a time on the one connection */
};

static const char *const status_names[] = {"queued", "running", "succeeded", "failed", "cancelled"};

const char *job_status_name(int status)
{
    return status >= 0 && status < (int)FERRY_ARRAY_LEN(status_names) ? status_names[status] : "unknown";
}

int job_status_parse(const char *name)
{
    for (size_t i = 0; name && i < FERRY_ARRAY_LEN(status_names); i++)
        if (strcmp(name, status_names[i]) == 0)
            return (int)i;
    return -1;
}

/* Here rather than in jobs.c so that readers of the history (`ferry jobs`) link without the worker
 * pool and its dependencies. */
void jobs_free_views(char **views, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(views[i]);
    free(views);
}

static const char *kind_name(int kind)
{
    return kind == JOB_MATERIALIZE_INCREMENTAL ? "materialize-incremental" : "materialize";
}

static int db_fail(struct state_db *s, struct ferry_err *err, const char *what)
{
    return ferry_errf(err, FERRY_ESTORE, "job history %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id TEXT PRIMARY KEY,"
    " kind TEXT NOT NULL,"
    " views TEXT NOT NULL,"          /* JSON array of view names */
    " start_ns INTEGER,"             /* NULL for materialize-incremental */
    " end_ns INTEGER,"
    " status TEXT NOT NULL,"
    " trigger TEXT NOT NULL,"
    " attempt INTEGER NOT NULL DEFAULT 1,"
    " idempotency_key TEXT,"
    " created_ns INTEGER NOT NULL,"
    " started_ns INTEGER,"
    " finished_ns INTEGER,"
    " error TEXT,"
    " error_code INTEGER,"           /* FERRY_E* of a failed job, for jobs_wait */
    " results TEXT NOT NULL DEFAULT '[]'" /* JSON array of per-view results */
    ");"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency_key ON jobs(idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS jobs_newest ON jobs(created_ns DESC);"
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);"
    /* One row per schedule (scheduler.c): what catch-up after a restart and `ferry schedules` need. */
    "CREATE TABLE IF NOT EXISTS schedules ("
    " name TEXT PRIMARY KEY,"
    " last_tick INTEGER,"            /* newest tick fully handled (run finished, given up or skipped) */
    " last_run INTEGER,"             /* when the newest run was submitted */
    " last_job TEXT,"
    " last_status TEXT,"
    " attempt INTEGER"
    ");";

int state_open(const char *path, bool create, struct state_db **out, struct ferry_err *err)
{
    *out = NULL;
    int rc = 0;
    if (state_pg_is_uri(path)) {
        struct state_pg *pg = NULL;
        if ((rc = state_pg_open(path, create, &pg, err)) != 0)
            return rc;
        struct state_db *s = xcalloc(1, sizeof *s);
        s->pg = pg;
        *out = s;
        return 0;
    }
    if (!create && !file_exists(path))
        return ferry_errf(err, FERRY_ENOTFOUND, "job history %s does not exist", path);
    if (create && (rc = file_mkdir_parent(path, err)) != 0)
        return rc;
    struct state_db *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    pthread_mutex_init(&s->mu, NULL);
    /* FULLMUTEX is belt and braces: s->mu already serializes every use of the connection. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, STATE_BUSY_MS);
    /* journal_mode returns a row; exec ignores it. synchronous=NORMAL is durable in WAL except for
     * the last commits before a power loss, which is fine for a history. */
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "cannot create the jobs table");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    state_close(s);
    return rc;
}

void state_close(struct state_db *s)
{
    if (!s)
        return;
    if (s->pg) {
        state_pg_close(s->pg);
        free(s);
        return;
    }
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

static int prepare(struct state_db *s, const char *sql, sqlite3_stmt **st, struct ferry_err *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(s, err, "cannot prepare a statement");
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t ns)
{
    if (ns == FERRY_TIME_NONE)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, ns);
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

/* Runs a prepared write to completion and finalizes it; the caller holds s->mu. */
static int step_done(struct state_db *s, sqlite3_stmt *st, const char *what, struct ferry_err *err)
{
    int src = sqlite3_step(st);
    int rc = 0;
    if (src != SQLITE_DONE)
        rc = src == SQLITE_CONSTRAINT ? ferry_errf(err, FERRY_ECONFLICT, "job history %s: %s: %s", s->path, what,
                                                   sqlite3_errmsg(s->db))
                                      : db_fail(s, err, what);
    sqlite3_finalize(st);
    return rc;
}

int state_insert(struct state_db *s, const struct state_job *j, struct ferry_err *err)
{
    if (s->pg)
        return state_pg_insert(s->pg, j, err);
    struct fbuf views;
    fbuf_init(&views, JSON_MAX);
    if (views_json(j->views, j->nviews, &views) != 0)
        return ferry_errf(err, FERRY_ELIMIT, "job %s: the list of views is too long", j->id);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s,
                     "INSERT INTO jobs (id, kind, views, start_ns, end_ns, status, trigger, attempt,"
                     " idempotency_key, created_ns, started_ns, finished_ns, error, error_code, results)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                     &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, j->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, kind_name(j->kind), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, views.data, (int)views.len, SQLITE_TRANSIENT);
        bind_time(st, 4, j->start_ns);
        bind_time(st, 5, j->end_ns);
        sqlite3_bind_text(st, 6, job_status_name(j->status), -1, SQLITE_STATIC);
        bind_text(st, 7, j->trigger ? j->trigger : "");
        sqlite3_bind_int(st, 8, j->attempt > 0 ? j->attempt : 1);
        bind_text(st, 9, j->idempotency_key);
        sqlite3_bind_int64(st, 10, j->created_ns);
        bind_time(st, 11, j->started_ns);
        bind_time(st, 12, j->finished_ns);
        bind_text(st, 13, j->error);
        if (j->error_code)
            sqlite3_bind_int(st, 14, j->error_code);
        else
            sqlite3_bind_null(st, 14);
        bind_text(st, 15, j->results_json ? j->results_json : "[]");
        rc = step_done(s, st, "cannot insert a job", err);
    }
    pthread_mutex_unlock(&s->mu);
    fbuf_cleanup(&views);
    return rc;
}

int state_update(struct state_db *s, const struct state_job *j, struct ferry_err *err)
{
    if (s->pg)
        return state_pg_update(s->pg, j, err);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s,
                     "UPDATE jobs SET status = ?2, started_ns = ?3, finished_ns = ?4, error = ?5,"
                     " error_code = ?6, results = ?7 WHERE id = ?1",
                     &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, j->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, job_status_name(j->status), -1, SQLITE_STATIC);
        bind_time(st, 3, j->started_ns);
        bind_time(st, 4, j->finished_ns);
        bind_text(st, 5, j->error);
        if (j->error_code)
            sqlite3_bind_int(st, 6, j->error_code);
        else
            sqlite3_bind_null(st, 6);
        bind_text(st, 7, j->results_json ? j->results_json : "[]");
        rc = step_done(s, st, "cannot update a job", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int state_update_results(struct state_db *s, const char *id, const char *results_json, struct ferry_err *err)
{
    if (s->pg)
        return state_pg_update_results(s->pg, id, results_json, err);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "UPDATE jobs SET results = ?2 WHERE id = ?1", &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        bind_text(st, 2, results_json ? results_json : "[]");
        rc = step_done(s, st, "cannot update a job's results", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---------------------------------------------------------------- rendering */

#define JOB_COLUMNS                                                                                \
    "id, kind, views, start_ns, end_ns, status, trigger, attempt, created_ns, started_ns, finished_ns," \
    " error, results"

static int add_time_or_null(struct fbuf *b, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return fbuf_adds(b, "null");
    char t[FERRY_TIME_BUF];
    return fbuf_addf(b, "\"%s\"", ferry_time_format_iso(sqlite3_column_int64(st, col), t));
}

static int add_text_or_null(struct fbuf *b, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    return v ? fbuf_add_json_str(b, v, (size_t)sqlite3_column_bytes(st, col)) : fbuf_adds(b, "null");
}

/* The stored JSON arrays were written by this module; an empty or missing one renders as []. */
static int add_raw_array(struct fbuf *b, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    return v && *v == '[' ? fbuf_add(b, v, (size_t)sqlite3_column_bytes(st, col)) : fbuf_adds(b, "[]");
}

/* One row selected with JOB_COLUMNS -> the job's JSON object. */
static int row_json(sqlite3_stmt *st, struct fbuf *b)
{
    int rc = fbuf_adds(b, "{\"id\":");
    rc = rc ? rc : add_text_or_null(b, st, 0);
    rc = rc ? rc : fbuf_adds(b, ",\"kind\":");
    rc = rc ? rc : add_text_or_null(b, st, 1);
    rc = rc ? rc : fbuf_adds(b, ",\"views\":");
    rc = rc ? rc : add_raw_array(b, st, 2);
    rc = rc ? rc : fbuf_adds(b, ",\"start\":");
    rc = rc ? rc : add_time_or_null(b, st, 3);
    rc = rc ? rc : fbuf_adds(b, ",\"end\":");
    rc = rc ? rc : add_time_or_null(b, st, 4);
    rc = rc ? rc : fbuf_adds(b, ",\"status\":");
    rc = rc ? rc : add_text_or_null(b, st, 5);
    rc = rc ? rc : fbuf_adds(b, ",\"trigger\":");
    rc = rc ? rc : add_text_or_null(b, st, 6);
    rc = rc ? rc : fbuf_addf(b, ",\"attempt\":%d,\"created_at\":", sqlite3_column_int(st, 7));
    rc = rc ? rc : add_time_or_null(b, st, 8);
    rc = rc ? rc : fbuf_adds(b, ",\"started_at\":");
    rc = rc ? rc : add_time_or_null(b, st, 9);
    rc = rc ? rc : fbuf_adds(b, ",\"finished_at\":");
    rc = rc ? rc : add_time_or_null(b, st, 10);
    if (!rc) {
        if (sqlite3_column_type(st, 9) != SQLITE_NULL && sqlite3_column_type(st, 10) != SQLITE_NULL)
            rc = fbuf_addf(b, ",\"duration_seconds\":%.3f",
                           (double)(sqlite3_column_int64(st, 10) - sqlite3_column_int64(st, 9)) / 1e9);
        else
            rc = fbuf_adds(b, ",\"duration_seconds\":null");
    }
    rc = rc ? rc : fbuf_adds(b, ",\"error\":");
    rc = rc ? rc : add_text_or_null(b, st, 11);
    rc = rc ? rc : fbuf_adds(b, ",\"results\":");
    rc = rc ? rc : add_raw_array(b, st, 12);
    rc = rc ? rc : fbuf_addc(b, '}');
    return rc;
}

int state_get_json(struct state_db *s, const char *id, struct fbuf *out, struct ferry_err *err)
{
    if (s->pg)
        return state_pg_get_json(s->pg, id, out, err);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1", &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            if (row_json(st, out) != 0)
                rc = ferry_errf(err, FERRY_ELIMIT, "job %s: its JSON is too large", id);
        } else if (src == SQLITE_DONE) {
            rc = ferry_errf(err, FERRY_ENOTFOUND, "job '%s' not found", id);
        } else {
            rc = db_fail(s, err, "cannot read a job");
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int state_get_outcome(struct state_db *s, const char *id, int *status, struct ferry_err *job_err,
                      struct ferry_err *err)
{
    if (s->pg)
        return state_pg_get_outcome(s->pg, id, status, job_err, err);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT status, error_code, error FROM jobs WHERE id = ?1", &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            *status = job_status_parse((const char *)sqlite3_column_text(st, 0));
            ferry_err_clear(job_err);
            const char *msg = (const char *)sqlite3_column_text(st, 2);
            if (msg) {
                /* Jobs failed by an earlier process ("interrupted") may have no code. */
                int code = sqlite3_column_int(st, 1);
                ferry_errf(job_err, code < 0 ? code : FERRY_EINTERNAL, "%s", msg);
            }
        } else if (src == SQLITE_DONE) {
            rc = ferry_errf(err, FERRY_ENOTFOUND, "job '%s' not found", id);
        } else {
            rc = db_fail(s, err, "cannot read a job");
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int state_get_views(struct state_db *s, const char *id, char ***views, size_t *n, struct ferry_err *err)
{
    *views = NULL;
    *n = 0;
    if (s->pg)
        return state_pg_get_views(s->pg, id, views, n, err);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s,
                     "SELECT (SELECT count(*) FROM json_each(jobs.views)), je.value FROM jobs"
                     " LEFT JOIN json_each(jobs.views) AS je WHERE jobs.id = ?1 ORDER BY je.key",
                     &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int src;
        bool found = false;
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            if (!found) {
                *views = xcalloc((size_t)sqlite3_column_int64(st, 0) + 1, sizeof **views);
                found = true;
            }
            const char *v = (const char *)sqlite3_column_text(st, 1);
            if (v)
                (*views)[(*n)++] = xstrdup(v);
        }
        if (src != SQLITE_DONE)
            rc = db_fail(s, err, "cannot read a job's views");
        else if (!found)
            rc = ferry_errf(err, FERRY_ENOTFOUND, "job '%s' not found", id);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        jobs_free_views(*views, *n);
        *views = NULL;
        *n = 0;
    }
    return rc;
}

/* ?1 = status or NULL, ?2 = view or NULL. */
#define LIST_WHERE                                                                                 \
    " WHERE (?1 IS NULL OR status = ?1)"                                                           \
    " AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(jobs.views) WHERE json_each.value = ?2))"

int state_list_json(struct state_db *s, const char *status, const char *view, int limit, int offset,
                    struct fbuf *out, struct ferry_err *err)
{
    if (status && job_status_parse(status) < 0)
        return ferry_errf(err, FERRY_EINVAL,
                          "unknown job status '%s' (queued, running, succeeded, failed, cancelled)", status);
    if (offset < 0)
        return ferry_errf(err, FERRY_EINVAL, "offset %d is negative", offset);
    if (limit <= 0)
        limit = STATE_LIST_DEFAULT;
    if (limit > STATE_LIST_MAX)
        limit = STATE_LIST_MAX;
    if (s->pg)
        return state_pg_list_json(s->pg, status, view, limit, offset, out, err);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *cnt = NULL, *st = NULL;
    int64_t total = 0;
    int rc = prepare(s, "SELECT count(*) FROM jobs" LIST_WHERE, &cnt, err);
    if (!rc)
        rc = prepare(s,
                     "SELECT " JOB_COLUMNS " FROM jobs" LIST_WHERE
                     " ORDER BY created_ns DESC, rowid DESC LIMIT ?3 OFFSET ?4",
                     &st, err);
    if (!rc) {
        bind_text(cnt, 1, status);
        bind_text(cnt, 2, view);
        if (sqlite3_step(cnt) == SQLITE_ROW)
            total = sqlite3_column_int64(cnt, 0);
        else
            rc = db_fail(s, err, "cannot count jobs");
    }
    if (!rc) {
        bind_text(st, 1, status);
        bind_text(st, 2, view);
        sqlite3_bind_int(st, 3, limit);
        sqlite3_bind_int(st, 4, offset);
        int src, i = 0;
        int brc = fbuf_adds(out, "{\"jobs\":[");
        while (!brc && (src = sqlite3_step(st)) == SQLITE_ROW) {
            if (i++)
                brc = fbuf_addc(out, ',');
            brc = brc ? brc : row_json(st, out);
        }
        if (brc)
            rc = ferry_errf(err, FERRY_ELIMIT, "the list of jobs is too large");
        else if (src != SQLITE_DONE)
            rc = db_fail(s, err, "cannot list jobs");
        else if (fbuf_addf(out, "],\"total\":%lld,\"limit\":%d,\"offset\":%d}", (long long)total, limit, offset))
            rc = ferry_errf(err, FERRY_ELIMIT, "the list of jobs is too large");
    }
    sqlite3_finalize(cnt);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int state_find_idempotency(struct state_db *s, const char *key, char id[JOB_ID_LEN], struct ferry_err *err)
{
    if (s->pg)
        return state_pg_find_idempotency(s->pg, key, id, err);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT id FROM jobs WHERE idempotency_key = ?1", &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            snprintf(id, JOB_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
            rc = 1;
        } else if (src != SQLITE_DONE) {
            rc = db_fail(s, err, "cannot look up an idempotency key");
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int state_mark_interrupted(struct state_db *s, int64_t now_ns, int *count, struct ferry_err *err)
{
    if (s->pg) {
        /* Shared: other processes' jobs are alive; a dead one's jobs come back when their lease ends. */
        if (count)
            *count = 0;
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s,
                     "UPDATE jobs SET status = 'failed', error = 'interrupted', error_code = ?2,"
                     " finished_ns = ?1 WHERE status IN ('queued', 'running')",
                     &st, err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, now_ns);
        sqlite3_bind_int(st, 2, FERRY_ECANCELED);
        rc = step_done(s, st, "cannot mark interrupted jobs", err);
        if (!rc && count)
            *count = sqlite3_changes(s->db);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---------------------------------------------------------------- schedules */

int state_schedule_get(struct state_db *s, const char *name, struct state_schedule *out, struct ferry_err *err)
{
    if (s->pg)
        return state_pg_schedule_get(s->pg, name, out, err);
    memset(out, 0, sizeof *out);
    out->last_tick = out->last_run = FERRY_TIME_NONE;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, "SELECT last_tick, last_run, last_job, last_status, attempt FROM schedules WHERE name = ?1",
                     &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            rc = 1;
            if (sqlite3_column_type(st, 0) != SQLITE_NULL)
                out->last_tick = sqlite3_column_int64(st, 0);
            if (sqlite3_column_type(st, 1) != SQLITE_NULL)
                out->last_run = sqlite3_column_int64(st, 1);
            const char *t = (const char *)sqlite3_column_text(st, 2);
            snprintf(out->last_job, sizeof out->last_job, "%s", t ? t : "");
            t = (const char *)sqlite3_column_text(st, 3);
            snprintf(out->last_status, sizeof out->last_status, "%s", t ? t : "");
            out->attempt = sqlite3_column_int(st, 4);
        } else if (src != SQLITE_DONE) {
            rc = db_fail(s, err, "cannot read a schedule");
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int state_schedule_put(struct state_db *s, const char *name, const struct state_schedule *row, struct ferry_err *err)
{
    if (s->pg)
        return state_pg_schedule_put(s->pg, name, row, err);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s,
                     "INSERT INTO schedules (name, last_tick, last_run, last_job, last_status, attempt)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE SET last_tick = ?2,"
                     " last_run = ?3, last_job = ?4, last_status = ?5, attempt = ?6",
                     &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        bind_time(st, 2, row->last_tick);
        bind_time(st, 3, row->last_run);
        bind_text(st, 4, row->last_job[0] ? row->last_job : NULL);
        bind_text(st, 5, row->last_status[0] ? row->last_status : NULL);
        sqlite3_bind_int(st, 6, row->attempt);
        rc = step_done(s, st, "cannot write a schedule", err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---------------------------------------------------------------- shared state */

bool state_is_shared(const struct state_db *s)
{
    return s && s->pg;
}

void state_location_display(const char *loc, char *out, size_t n)
{
    if (state_pg_is_uri(loc))
        state_pg_redact(loc, out, n);
    else
        snprintf(out, n, "%s", loc ? loc : "");
}

void state_claim_cleanup(struct state_claim *c)
{
    if (!c)
        return;
    jobs_free_views(c->views, c->nviews);
    free(c->trigger);
    free(c->idempotency_key);
    memset(c, 0, sizeof *c);
}

static int not_shared(struct state_db *s, struct ferry_err *err, const char *what)
{
    return ferry_errf(err, FERRY_EINTERNAL, "job history %s: %s needs shared state (ferry.state: postgresql://...)",
                      s->path ? s->path : "", what);
}

int state_submit(struct state_db *s, const struct state_job *job, bool force, char existing[JOB_ID_LEN],
                 struct ferry_err *err)
{
    return s->pg ? state_pg_submit(s->pg, job, force, existing, err) : not_shared(s, err, "submit");
}

int state_claim(struct state_db *s, const char *owner, int lease_seconds, int64_t started_ns,
                struct state_claim *out, struct ferry_err *err)
{
    return s->pg ? state_pg_claim(s->pg, owner, lease_seconds, started_ns, out, err) : not_shared(s, err, "claim");
}

int state_load(struct state_db *s, const char *id, struct state_claim *out, struct ferry_err *err)
{
    return s->pg ? state_pg_load(s->pg, id, out, err) : not_shared(s, err, "load");
}

int state_heartbeat(struct state_db *s, const char *owner, int lease_seconds, char ***ids, bool **cancel,
                    size_t *n, struct ferry_err *err)
{
    return s->pg ? state_pg_heartbeat(s->pg, owner, lease_seconds, ids, cancel, n, err)
                 : not_shared(s, err, "heartbeat");
}

int state_finish(struct state_db *s, const struct state_job *row, const char *owner, struct ferry_err *err)
{
    return s->pg ? state_pg_finish(s->pg, row, owner, err) : not_shared(s, err, "finish");
}

int state_release(struct state_db *s, const char *id, const char *owner, struct ferry_err *err)
{
    return s->pg ? state_pg_release(s->pg, id, owner, err) : not_shared(s, err, "release");
}

int state_cancel_queued(struct state_db *s, const struct state_job *row, struct ferry_err *err)
{
    return s->pg ? state_pg_cancel_queued(s->pg, row, err) : not_shared(s, err, "cancel");
}

int state_request_cancel(struct state_db *s, const char *id, struct ferry_err *err)
{
    return s->pg ? state_pg_request_cancel(s->pg, id, err) : not_shared(s, err, "cancel");
}

int state_active_counts(struct state_db *s, uint64_t *queued, uint64_t *running, struct ferry_err *err)
{
    return s->pg ? state_pg_active_counts(s->pg, queued, running, err) : not_shared(s, err, "count");
}

int state_schedule_claim(struct state_db *s, const char *name, int64_t tick, const char *owner,
                         struct ferry_err *err)
{
    /* One process per SQLite file: it always runs its ticks. */
    return s->pg ? state_pg_schedule_claim(s->pg, name, tick, owner, err) : 1;
}

int state_registry_lock(struct state_db *s, struct ferry_err *err)
{
    return s->pg ? state_pg_registry_lock(s->pg, err) : 0;
}

void state_registry_unlock(struct state_db *s)
{
    if (s->pg)
        state_pg_registry_unlock(s->pg);
}
