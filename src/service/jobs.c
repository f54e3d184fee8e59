/* The job manager (jobs.h): an in-memory table of queued and running jobs in submission order, a
 * fixed pool of worker threads, and the state database as the record of every change.
 *
 * Locking: m->mu guards the table, the counters and each job's status and cancel flag. It is held
 * across state-database writes (each a single short statement) so that a change is in the database
 * before any other thread can see it, but never across engine work: a worker drops it while the
 * engine plans, reads and writes. A finished job leaves the table; from then on the database is the
 * only copy, which is what GET /jobs reads anyway.
 *
 * Scheduling: a queued job is runnable when no running job and no older queued job shares a view
 * with it, so jobs on one view run strictly in submission order even when force let them queue. */
#include "service/jobs.h"
#include "service/svc_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uuid/uuid.h>

#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "engine/engine.h"
#include "service/metrics.h"
#include "service/state.h"

#define RESULTS_JSON_MAX ((size_t)16 << 20)

struct job {
    char id[JOB_ID_LEN];
    int kind;
    char **views;
    size_t nviews;
    int64_t start_ns, end_ns;         /* start FERRY_TIME_NONE for materialize-incremental */
    int64_t now_ns, lookback_ns;      /* passed to the engine (job_spec) */
    int attempt;
    char *trigger;
    char *idempotency_key;
    int64_t created_ns, started_ns;
    int status;                       /* JOB_QUEUED or JOB_RUNNING while in the table */
    volatile int cancel;              /* read by the engine at batch boundaries */
    const char *cancel_reason;        /* static text, set with cancel */
};

struct job_manager {
    const struct ferry_config *cfg;
    struct state_db *db;
    pthread_mutex_t mu;
    pthread_cond_t work;              /* a job may have become runnable, or stopping */
    pthread_cond_t done;              /* a job left the table */
    struct job **jobs;                /* queued and running, oldest first */
    size_t njobs, cap;
    uint64_t finished[5];             /* jobs finished by this process, by final status */
    pthread_t *threads;
    int nthreads;
    bool stopping;
};

static const char *const REASON_REQUEST = "cancelled by request";
static const char *const REASON_STOPPING = "cancelled: the service is stopping";

/* ---------------------------------------------------------------- table helpers (m->mu held) */

static void job_free(struct job *j)
{
    if (!j)
        return;
    jobs_free_views(j->views, j->nviews);
    free(j->trigger);
    free(j->idempotency_key);
    free(j);
}

static struct job *find_job(struct job_manager *m, const char *id, size_t *index)
{
    for (size_t i = 0; i < m->njobs; i++)
        if (strcmp(m->jobs[i]->id, id) == 0) {
            if (index)
                *index = i;
            return m->jobs[i];
        }
    return NULL;
}

static void remove_job(struct job_manager *m, struct job *j)
{
    size_t i;
    if (!find_job(m, j->id, &i))
        return;
    memmove(&m->jobs[i], &m->jobs[i + 1], (m->njobs - i - 1) * sizeof *m->jobs);
    m->njobs--;
}

/* The first view two jobs share, or NULL. */
static const char *shared_view(const struct job *a, char *const *views, size_t n)
{
    for (size_t i = 0; i < a->nviews; i++)
        for (size_t k = 0; k < n; k++)
            if (strcmp(a->views[i], views[k]) == 0)
                return a->views[i];
    return NULL;
}

static struct job *next_runnable(struct job_manager *m)
{
    for (size_t i = 0; i < m->njobs; i++) {
        struct job *j = m->jobs[i];
        if (j->status != JOB_QUEUED)
            continue;
        bool blocked = false;
        for (size_t k = 0; k < m->njobs && !blocked; k++) {
            const struct job *o = m->jobs[k];
            if (k != i && (o->status == JOB_RUNNING || k < i) && shared_view(o, j->views, j->nviews))
                blocked = true;
        }
        if (!blocked)
            return j;
    }
    return NULL;
}

static struct state_job state_row(const struct job *j, int status)
{
    return (struct state_job){
        .id = j->id, .kind = j->kind, .views = (const char *const *)j->views, .nviews = j->nviews,
        .start_ns = j->start_ns, .end_ns = j->end_ns, .status = status, .trigger = j->trigger,
        .attempt = j->attempt > 0 ? j->attempt : 1, .idempotency_key = j->idempotency_key, .created_ns = j->created_ns,
        .started_ns = j->started_ns, .finished_ns = FERRY_TIME_NONE,
    };
}

/* A queued job that never ran: recorded as cancelled with one "cancelled" result per view. */
static void cancel_queued(struct job_manager *m, struct job *j, const char *reason);

/* ---------------------------------------------------------------- results */

static void add_time(struct fbuf *b, const char *key, int64_t ns)
{
    char t[FERRY_TIME_BUF];
    if (ns == FERRY_TIME_NONE)
        fbuf_addf(b, ",\"%s\":null", key);
    else
        fbuf_addf(b, ",\"%s\":\"%s\"", key, ferry_time_format_iso(ns, t));
}

static void add_result(struct fbuf *b, const char *view, int64_t start, int64_t end, const char *status,
                       const struct engine_view_run *run, const char *error)
{
    fbuf_adds(b, b->len > 1 ? ",{\"view\":" : "{\"view\":");
    fbuf_add_json_str(b, view, strlen(view));
    add_time(b, "start", start);
    add_time(b, "end", end);
    fbuf_addf(b, ",\"status\":\"%s\",\"rows_read\":%llu,\"rows_written\":%llu,\"rows_skipped\":%llu,\"seconds\":%.3f",
              status, (unsigned long long)(run ? run->rows_read : 0), (unsigned long long)(run ? run->rows_written : 0),
              (unsigned long long)(run ? run->rows_skipped : 0), run ? run->seconds : 0.0);
    if (error) {
        fbuf_adds(b, ",\"error\":");
        fbuf_add_json_str(b, error, strlen(error));
    }
    fbuf_addc(b, '}');
}

static const char *run_status(const struct engine_view_run *run)
{
    if (run->rc == FERRY_ECANCELED)
        return "cancelled";
    if (run->rc)
        return "failed";
    return run->up_to_date ? "up_to_date" : "succeeded";
}

/* What one worker knows about the job it runs; only that worker touches it. */
struct run_ctx {
    struct job_manager *m;
    struct job *job;
    struct engine_plan *plan;
    bool *reported;                   /* per plan run: view_done was called */
    int final_rc;                     /* set once engine_run returned */
    const char *final_error;
};

static const struct engine_view_run *find_run(const struct run_ctx *c, const char *view, size_t *index)
{
    for (size_t i = 0; i < c->plan->nruns; i++)
        if (strcmp(c->plan->runs[i].view, view) == 0) {
            *index = i;
            return &c->plan->runs[i];
        }
    return NULL;
}

/* One result per job view, in the job's order. While running, views not reached yet are left out;
 * at the end they are "cancelled" or "failed" (not run). A NULL return means the JSON was too big. */
static char *results_json(const struct run_ctx *c, bool final)
{
    struct fbuf b;
    fbuf_init(&b, RESULTS_JSON_MAX);
    fbuf_addc(&b, '[');
    const struct job *j = c->job;
    for (size_t i = 0; i < j->nviews; i++) {
        size_t k = 0;
        const struct engine_view_run *run = find_run(c, j->views[i], &k);
        if (run && c->reported && c->reported[k]) {
            add_result(&b, run->view, run->start_ns, run->end_ns, run_status(run), run, run->rc ? run->error : NULL);
        } else if (final && run && run->rc) {
            /* Failed before any view ran (the source check) */
            add_result(&b, run->view, run->start_ns, run->end_ns, run_status(run), run, run->error);
        } else if (final) {
            int64_t start = run ? run->start_ns : j->start_ns, end = run ? run->end_ns : j->end_ns;
            if (c->final_rc == FERRY_ECANCELED)
                add_result(&b, j->views[i], start, end, "cancelled", NULL, NULL);
            else {
                char msg[FERRY_ERR_MSG_MAX + 16];
                snprintf(msg, sizeof msg, "not run: %s", c->final_error ? c->final_error : "the job failed");
                add_result(&b, j->views[i], start, end, "failed", NULL, msg);
            }
        }
    }
    fbuf_addc(&b, ']');
    return fbuf_take(&b, NULL);
}

static void report_metrics(const struct engine_view_run *run)
{
    if (run->rc == FERRY_ECANCELED)
        return; /* neither a success nor a failure of the view */
    metrics_materialization(run->view, run->rc == 0, run->seconds, run->rows_written);
}

static void on_plan(void *ctx, const struct engine_plan *plan)
{
    struct run_ctx *c = ctx;
    free(c->reported);
    c->reported = xcalloc(plan->nruns + 1, sizeof *c->reported);
}

static void on_view_done(void *ctx, const struct engine_view_run *run)
{
    struct run_ctx *c = ctx;
    size_t k = (size_t)(run - c->plan->runs);
    if (c->reported && k < c->plan->nruns)
        c->reported[k] = true;
    report_metrics(run);
    /* Per-view progress for GET /jobs/{id}; a failed write only delays what readers see. */
    char *json = results_json(c, false);
    struct ferry_err e = {0};
    if (json && state_update_results(c->m->db, c->job->id, json, &e) != 0)
        LOG_WARN("job %s: %s", c->job->id, e.msg);
    free(json);
}

/* Runs one job with no lock held and writes its outcome. */
/* One JSON log line per job event: its id, kind, trigger, views and, when finished, the per-view
 * results and the error. */
static void log_job_event(const struct job *j, const char *event, const char *level, const char *results_json,
                          const char *error)
{
    struct fbuf x;
    fbuf_init(&x, 65536);
    fbuf_adds(&x, ",\"job\":");
    fbuf_add_json_str(&x, j->id, strlen(j->id));
    fbuf_addf(&x, ",\"event\":\"%s\",\"kind\":\"%s\",\"trigger\":", event,
              j->kind == JOB_MATERIALIZE ? "materialize" : "materialize-incremental");
    fbuf_add_json_str(&x, j->trigger ? j->trigger : "", j->trigger ? strlen(j->trigger) : 0);
    fbuf_adds(&x, ",\"views\":[");
    for (size_t i = 0; i < j->nviews; i++) {
        if (i)
            fbuf_addc(&x, ',');
        fbuf_add_json_str(&x, j->views[i], strlen(j->views[i]));
    }
    fbuf_addc(&x, ']');
    if (results_json)
        fbuf_addf(&x, ",\"results\":%s", results_json);
    if (error) {
        fbuf_adds(&x, ",\"error\":");
        fbuf_add_json_str(&x, error, strlen(error));
    }
    svc_log(level, "job", x.data);
    fbuf_cleanup(&x);
}

static void run_job(struct job_manager *m, struct job *j)
{
    struct engine_plan plan = {0};
    struct run_ctx c = {.m = m, .job = j, .plan = &plan};
    struct ferry_err err = {0};
    int rc = 0;
    if (j->cancel) {
        rc = ferry_errf(&err, FERRY_ECANCELED, "canceled");
    } else if (j->nviews) {
        /* Explicit names: the views resolved at submit time, with windows re-planned now, so an
         * incremental job that waited in the queue starts where the previous job ended. */
        struct engine_request req = {
            .mode = j->kind == JOB_MATERIALIZE_INCREMENTAL ? ENGINE_INCREMENTAL : ENGINE_MATERIALIZE,
            .start_ns = j->start_ns == FERRY_TIME_NONE ? 0 : j->start_ns, .end_ns = j->end_ns,
            .views = (const char *const *)j->views, .nviews = j->nviews, .cancel = &j->cancel,
            .now_ns = j->now_ns, .lookback_ns = j->lookback_ns,
            .cb = {.ctx = &c, .plan = on_plan, .view_done = on_view_done},
        };
        rc = engine_run(m->cfg, &req, &plan, &err);
        /* Views that failed before any ran (source checks) have no view_done; count them here. */
        for (size_t i = 0; i < plan.nruns; i++)
            if (plan.runs[i].rc && !(c.reported && c.reported[i]))
                report_metrics(&plan.runs[i]);
    }
    c.final_rc = rc;
    c.final_error = rc ? err.msg : NULL;
    char *results = results_json(&c, true);

    pthread_mutex_lock(&m->mu);
    int status = rc == 0 ? JOB_SUCCEEDED : rc == FERRY_ECANCELED ? JOB_CANCELLED : JOB_FAILED;
    struct state_job row = state_row(j, status);
    row.finished_ns = ferry_now_ns();
    row.results_json = results;
    if (status == JOB_CANCELLED) {
        row.error = j->cancel_reason ? j->cancel_reason : REASON_REQUEST;
        row.error_code = FERRY_ECANCELED;
    } else if (status == JOB_FAILED) {
        row.error = err.msg[0] ? err.msg : ferry_err_name(rc);
        row.error_code = rc;
    }
    struct ferry_err e = {0};
    if (state_update(m->db, &row, &e) != 0)
        LOG_ERROR("job %s: %s", j->id, e.msg);
    remove_job(m, j);
    m->finished[status]++;
    pthread_cond_broadcast(&m->done);
    pthread_cond_broadcast(&m->work); /* its views are free again */
    pthread_mutex_unlock(&m->mu);

    log_job_event(j, job_status_name(status), status == JOB_FAILED ? "warning" : "info", results,
                  status == JOB_SUCCEEDED ? NULL : row.error);
    free(results);
    free(c.reported);
    engine_plan_cleanup(&plan);
    job_free(j);
}

static void *worker_main(void *arg)
{
    struct job_manager *m = arg;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        struct job *j = next_runnable(m);
        if (!j) {
            if (m->stopping)
                break;
            pthread_cond_wait(&m->work, &m->mu);
            continue;
        }
        j->status = JOB_RUNNING;
        j->started_ns = ferry_now_ns();
        struct state_job row = state_row(j, JOB_RUNNING);
        struct ferry_err e = {0};
        if (state_update(m->db, &row, &e) != 0)
            LOG_ERROR("job %s: %s", j->id, e.msg);
        pthread_mutex_unlock(&m->mu);
        log_job_event(j, "running", "info", NULL, NULL);
        run_job(m, j);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void cancel_queued(struct job_manager *m, struct job *j, const char *reason)
{
    struct run_ctx c = {.m = m, .job = j, .plan = &(struct engine_plan){0}, .final_rc = FERRY_ECANCELED};
    char *results = results_json(&c, true);
    struct state_job row = state_row(j, JOB_CANCELLED);
    row.finished_ns = ferry_now_ns();
    row.error = reason;
    row.error_code = FERRY_ECANCELED;
    row.results_json = results;
    struct ferry_err e = {0};
    if (state_update(m->db, &row, &e) != 0)
        LOG_ERROR("job %s: %s", j->id, e.msg);
    free(results);
    remove_job(m, j);
    m->finished[JOB_CANCELLED]++;
    job_free(j);
    pthread_cond_broadcast(&m->done);
    pthread_cond_broadcast(&m->work);
}

/* ---------------------------------------------------------------- public API */

int jobs_start(const struct ferry_config *cfg, struct job_manager **out, struct ferry_err *err)
{
    *out = NULL;
    struct job_manager *m = xcalloc(1, sizeof *m);
    m->cfg = cfg;
    int rc = state_open(cfg->ferry.state_path, true, &m->db, err);
    if (rc) {
        free(m);
        return rc;
    }
    int n = 0;
    if ((rc = state_mark_interrupted(m->db, ferry_now_ns(), &n, err)) != 0) {
        state_close(m->db);
        free(m);
        return rc;
    }
    if (n)
        LOG_WARN("%d job(s) left queued or running by an earlier process marked failed (interrupted)", n);
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* jobs_stop's grace deadline */
    pthread_cond_init(&m->done, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&m->work, NULL);
    int want = cfg->ferry.serve.workers > 0 ? cfg->ferry.serve.workers : 1;
    m->threads = xcalloc((size_t)want, sizeof *m->threads);
    for (; m->nthreads < want; m->nthreads++)
        if (pthread_create(&m->threads[m->nthreads], NULL, worker_main, m) != 0) {
            rc = ferry_errf(err, FERRY_EINTERNAL, "cannot start job worker thread %d of %d", m->nthreads + 1, want);
            jobs_stop(m, 0);
            return rc;
        }
    *out = m;
    return 0;
}

static bool any_running(const struct job_manager *m)
{
    for (size_t i = 0; i < m->njobs; i++)
        if (m->jobs[i]->status == JOB_RUNNING)
            return true;
    return false;
}

void jobs_stop(struct job_manager *m, int grace_seconds)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stopping = true;
    /* Queued jobs go first (from the end, so removal does not skip any), then running ones are told
     * to stop at their next batch boundary. */
    for (size_t i = m->njobs; i-- > 0;)
        if (m->jobs[i]->status == JOB_QUEUED)
            cancel_queued(m, m->jobs[i], REASON_STOPPING);
    for (size_t i = 0; i < m->njobs; i++) {
        m->jobs[i]->cancel_reason = REASON_STOPPING;
        m->jobs[i]->cancel = 1;
    }
    pthread_cond_broadcast(&m->work);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += grace_seconds > 0 ? grace_seconds : 0;
    while (any_running(m))
        if (pthread_cond_timedwait(&m->done, &m->mu, &deadline) == ETIMEDOUT)
            break;
    if (any_running(m))
        LOG_WARN("%zu job(s) still running %d s after the stop request; waiting for their batch boundary",
                 m->njobs, grace_seconds);
    pthread_mutex_unlock(&m->mu);
    /* A worker exits once it has nothing runnable; a cancelled engine run returns at its next batch. */
    for (int i = 0; i < m->nthreads; i++)
        pthread_join(m->threads[i], NULL);
    for (size_t i = 0; i < m->njobs; i++)
        job_free(m->jobs[i]);
    free(m->jobs);
    free(m->threads);
    state_close(m->db);
    pthread_cond_destroy(&m->work);
    pthread_cond_destroy(&m->done);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* 1 with the id when the key was used before, 0 if not, or an error. Caller holds m->mu; every job
 * is in the database before it is in the table, so the database alone answers. */
static int find_key(struct job_manager *m, const char *key, char id[JOB_ID_LEN], struct ferry_err *err)
{
    return state_find_idempotency(m->db, key, id, err);
}

int jobs_submit(struct job_manager *m, const struct job_spec *spec, char id[JOB_ID_LEN], bool *existing,
                struct ferry_err *err)
{
    bool dummy;
    if (!existing)
        existing = &dummy;
    *existing = false;
    id[0] = '\0';
    if (spec->kind != JOB_MATERIALIZE && spec->kind != JOB_MATERIALIZE_INCREMENTAL)
        return ferry_errf(err, FERRY_EINVAL, "unknown job kind %d", spec->kind);
    const char *key = spec->idempotency_key && *spec->idempotency_key ? spec->idempotency_key : NULL;
    int rc;
    /* A retried request returns the first job without re-validating it: the answer must not change
     * because the registry did in between. */
    if (key) {
        pthread_mutex_lock(&m->mu);
        rc = find_key(m, key, id, err);
        pthread_mutex_unlock(&m->mu);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            *existing = true;
            return 0;
        }
    }
    /* Validation reads the registry: no lock. */
    struct engine_request req = {
        .mode = spec->kind == JOB_MATERIALIZE_INCREMENTAL ? ENGINE_INCREMENTAL : ENGINE_MATERIALIZE,
        .start_ns = spec->start_ns, .end_ns = spec->end_ns, .views = spec->views, .nviews = spec->nviews,
        .now_ns = spec->now_ns, .lookback_ns = spec->lookback_ns,
    };
    struct engine_plan plan;
    if ((rc = engine_plan(m->cfg, &req, &plan, err)) != 0) {
        engine_plan_cleanup(&plan);
        return rc;
    }
    struct job *j = xcalloc(1, sizeof *j);
    j->kind = spec->kind;
    j->views = xcalloc(plan.nruns + 1, sizeof *j->views);
    for (size_t i = 0; i < plan.nruns; i++)
        j->views[j->nviews++] = xstrdup(plan.runs[i].view);
    engine_plan_cleanup(&plan);
    j->start_ns = spec->kind == JOB_MATERIALIZE ? spec->start_ns : FERRY_TIME_NONE;
    j->end_ns = spec->end_ns;
    j->now_ns = spec->now_ns;
    j->lookback_ns = spec->kind == JOB_MATERIALIZE_INCREMENTAL ? spec->lookback_ns : 0;
    j->attempt = spec->attempt > 0 ? spec->attempt : 1;
    j->trigger = xstrdup(spec->trigger && *spec->trigger ? spec->trigger : "http");
    j->idempotency_key = xstrdup(key);
    j->status = JOB_QUEUED;
    j->started_ns = FERRY_TIME_NONE;
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, j->id);

    pthread_mutex_lock(&m->mu);
    if (m->stopping) {
        rc = ferry_errf(err, FERRY_ECANCELED, "the service is stopping; job not accepted");
        goto out;
    }
    if (key) {
        /* The same key may have been submitted while we were validating. */
        if ((rc = find_key(m, key, id, err)) != 0) {
            if (rc == 1) {
                *existing = true;
                rc = 0;
            }
            goto out;
        }
    }
    if (!spec->force)
        for (size_t i = 0; i < m->njobs; i++) {
            const char *v = shared_view(m->jobs[i], j->views, j->nviews);
            if (v) {
                rc = ferry_errf(err, FERRY_ECONFLICT, "feature view '%s' already has job %s (%s)", v, m->jobs[i]->id,
                                job_status_name(m->jobs[i]->status));
                goto out;
            }
        }
    j->created_ns = ferry_now_ns();
    struct state_job row = state_row(j, JOB_QUEUED);
    if ((rc = state_insert(m->db, &row, err)) != 0)
        goto out;
    if (m->njobs == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->jobs = xrealloc(m->jobs, m->cap * sizeof *m->jobs);
    }
    log_job_event(j, "queued", "info", NULL, NULL);
    m->jobs[m->njobs++] = j;
    memcpy(id, j->id, JOB_ID_LEN);
    j = NULL;
    pthread_cond_broadcast(&m->work);
out:
    pthread_mutex_unlock(&m->mu);
    job_free(j);
    return rc;
}

int jobs_wait(struct job_manager *m, const char *id, struct ferry_err *err)
{
    pthread_mutex_lock(&m->mu);
    while (find_job(m, id, NULL))
        pthread_cond_wait(&m->done, &m->mu);
    pthread_mutex_unlock(&m->mu);
    int status = -1;
    struct ferry_err job_err = {0};
    int rc = state_get_outcome(m->db, id, &status, &job_err, err);
    if (rc)
        return rc;
    if ((status == JOB_FAILED || status == JOB_CANCELLED) && err)
        *err = job_err;
    return status;
}

int jobs_cancel(struct job_manager *m, const char *id, struct ferry_err *err)
{
    pthread_mutex_lock(&m->mu);
    struct job *j = find_job(m, id, NULL);
    if (j) {
        if (j->status == JOB_QUEUED) {
            cancel_queued(m, j, REASON_REQUEST);
        } else if (!j->cancel) {
            j->cancel_reason = REASON_REQUEST;
            j->cancel = 1;
        }
        pthread_mutex_unlock(&m->mu);
        return 0;
    }
    pthread_mutex_unlock(&m->mu);
    int status = -1;
    struct ferry_err job_err = {0};
    int rc = state_get_outcome(m->db, id, &status, &job_err, err);
    if (rc)
        return rc;
    return ferry_errf(err, FERRY_ECONFLICT, "job %s is already %s", id, job_status_name(status));
}

int jobs_status(struct job_manager *m, const char *id, struct ferry_err *job_err, struct ferry_err *err)
{
    pthread_mutex_lock(&m->mu);
    struct job *j = find_job(m, id, NULL);
    int status = j ? j->status : -1;
    pthread_mutex_unlock(&m->mu);
    if (status >= 0)
        return status;
    struct ferry_err je = {0};
    int rc = state_get_outcome(m->db, id, &status, &je, err);
    if (rc)
        return rc;
    if (job_err)
        *job_err = je;
    return status;
}

struct state_db *jobs_state_db(struct job_manager *m)
{
    return m->db;
}

int jobs_get_json(struct job_manager *m, const char *id, struct fbuf *out, struct ferry_err *err)
{
    return state_get_json(m->db, id, out, err);
}

int jobs_list_json(struct job_manager *m, const char *status, const char *view, int limit, int offset,
                   struct fbuf *out, struct ferry_err *err)
{
    return state_list_json(m->db, status, view, limit, offset, out, err);
}

int jobs_views(struct job_manager *m, const char *id, char ***views, size_t *n)
{
    pthread_mutex_lock(&m->mu);
    struct job *j = find_job(m, id, NULL);
    if (j) {
        *views = xcalloc(j->nviews + 1, sizeof **views);
        for (*n = 0; *n < j->nviews; (*n)++)
            (*views)[*n] = xstrdup(j->views[*n]);
        pthread_mutex_unlock(&m->mu);
        return 0;
    }
    pthread_mutex_unlock(&m->mu);
    return state_get_views(m->db, id, views, n, NULL);
}

void jobs_counts(struct job_manager *m, uint64_t counts[5])
{
    pthread_mutex_lock(&m->mu);
    memcpy(counts, m->finished, sizeof m->finished);
    counts[JOB_QUEUED] = counts[JOB_RUNNING] = 0;
    for (size_t i = 0; i < m->njobs; i++)
        counts[m->jobs[i]->status]++;
    pthread_mutex_unlock(&m->mu);
}
