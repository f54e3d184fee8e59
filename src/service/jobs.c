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
 * with it, so jobs on one view run strictly in submission order even when force let them queue.
 *
 * Shared state (ferry.state is a PostgreSQL URI, state_is_shared): the queue is the database, the
 * same rules applied by state_submit/state_claim for every process at once. The table then holds
 * only the jobs this process runs (for cancel flags and shutdown), and m->mu is never held across a
 * database call (they are network round trips). Workers claim with a lease and, when nothing is
 * runnable, wait for a local submission or poll (POLL_MS); a heartbeat thread renews the leases
 * every lease/3, picks up cancel requests made through other processes, and stops a run whose
 * claim another process took over. A process that dies stops renewing; once its leases expire the
 * other processes claim and re-run its jobs. On shutdown a running job is given back to the queue
 * (another replica, or this one after a restart, runs it) and queued jobs stay queued. Registry
 * updates take a PostgreSQL advisory lock (registry_set_update_lock) while the process runs. */
#include "service/jobs.h"
#include "service/svc_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "engine/engine.h"
#include "registry/registry.h"
#include "service/metrics.h"
#include "service/state.h"

#define RESULTS_JSON_MAX ((size_t)16 << 20)
/* Shared state: how long an idle worker waits before asking the database again, and how often
 * jobs_wait looks at a job another process may be running. */
#define POLL_MS 200
#define WAIT_POLL_MS 100

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
    int64_t added_mono;               /* shared: when it entered the table (heartbeat's lost check) */
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
    /* Shared state only. */
    bool shared;
    char owner[160];                  /* host:pid:uuid, this process's name on claimed jobs */
    int lease_seconds;
    uint64_t work_gen;                /* bumped by local submissions: a worker's claim may be stale */
    pthread_t hb_thread;
    bool has_hb, hb_stop;
    pthread_cond_t hb_cv;             /* wakes the heartbeat to stop */
};

static const char *const REASON_REQUEST = "cancelled by request";
static const char *const REASON_STOPPING = "cancelled: the service is stopping";
static const char *const REASON_LOST = "cancelled: another process took the job over (its lease had expired)";

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * FERRY_NS_PER_SEC + t.tv_nsec;
}

/* Waits on cv (mu held) at most ms milliseconds; cv must use CLOCK_MONOTONIC. */
static void wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    int64_t t = mono_ns() + ms * 1000000;
    struct timespec ts = {.tv_sec = (time_t)(t / FERRY_NS_PER_SEC), .tv_nsec = (long)(t % FERRY_NS_PER_SEC)};
    pthread_cond_timedwait(cv, mu, &ts);
}

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
        .started_ns = j->started_ns, .finished_ns = FERRY_TIME_NONE, .now_ns = j->now_ns,
        .lookback_ns = j->lookback_ns,
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

/* Shared state: writes a run's outcome while this process still owns the job (no lock held), or
 * gives the job back to the queue when the service is stopping, then drops it from the table. */
static void finish_shared(struct job_manager *m, struct job *j, int status, int rc, const struct ferry_err *err,
                          const char *results)
{
    struct state_job row = state_row(j, status);
    row.finished_ns = ferry_now_ns();
    row.results_json = results;
    const char *reason = j->cancel_reason ? j->cancel_reason : REASON_REQUEST;
    if (status == JOB_CANCELLED) {
        row.error = reason;
        row.error_code = FERRY_ECANCELED;
    } else if (status == JOB_FAILED) {
        row.error = err->msg[0] ? err->msg : ferry_err_name(rc);
        row.error_code = rc;
    }
    struct ferry_err e = {0};
    const char *event = job_status_name(status);
    int n;
    if (status == JOB_CANCELLED && reason == REASON_STOPPING) {
        /* Nothing of the unfinished window was recorded: another replica can run it from the start. */
        n = state_release(m->db, j->id, m->owner, &e);
        event = "released";
    } else if (status == JOB_CANCELLED && reason == REASON_LOST) {
        n = 0;
    } else {
        n = state_finish(m->db, &row, m->owner, &e);
    }
    if (n < 0)
        LOG_ERROR("job %s: %s", j->id, e.msg);
    else if (n == 0)
        event = "lost";   /* another process re-ran it after our lease expired; its outcome stands */
    pthread_mutex_lock(&m->mu);
    remove_job(m, j);
    if (n > 0 && strcmp(event, "released") != 0)
        m->finished[status]++;
    pthread_cond_broadcast(&m->done);
    pthread_mutex_unlock(&m->mu);
    log_job_event(j, event, status == JOB_FAILED || n <= 0 ? "warning" : "info", results,
                  status == JOB_SUCCEEDED ? NULL : row.error);
}

/* Runs one job with no lock held and writes its outcome. */
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

    int status = rc == 0 ? JOB_SUCCEEDED : rc == FERRY_ECANCELED ? JOB_CANCELLED : JOB_FAILED;
    if (m->shared) {
        finish_shared(m, j, status, rc, &err, results);
        free(results);
        free(c.reported);
        engine_plan_cleanup(&plan);
        job_free(j);
        return;
    }
    pthread_mutex_lock(&m->mu);
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

/* ---------------------------------------------------------------- shared state: workers, heartbeat */

static struct job *job_from_claim(const struct state_claim *c)
{
    struct job *j = xcalloc(1, sizeof *j);
    memcpy(j->id, c->id, JOB_ID_LEN);
    j->kind = c->kind;
    j->views = xcalloc(c->nviews + 1, sizeof *j->views);
    for (; j->nviews < c->nviews; j->nviews++)
        j->views[j->nviews] = xstrdup(c->views[j->nviews]);
    j->start_ns = c->start_ns;
    j->end_ns = c->end_ns;
    j->now_ns = c->now_ns == FERRY_TIME_NONE ? 0 : c->now_ns;
    j->lookback_ns = c->lookback_ns == FERRY_TIME_NONE ? 0 : c->lookback_ns;
    j->attempt = c->attempt > 0 ? c->attempt : 1;
    j->trigger = xstrdup(c->trigger ? c->trigger : "");
    j->idempotency_key = xstrdup(c->idempotency_key);
    j->created_ns = c->created_ns;
    j->started_ns = FERRY_TIME_NONE;
    j->status = c->status;
    return j;
}

static void *worker_shared(void *arg)
{
    struct job_manager *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        bool stop = m->stopping;
        uint64_t gen = m->work_gen;
        pthread_mutex_unlock(&m->mu);
        if (stop)
            break;
        struct state_claim c;
        struct ferry_err e = {0};
        int64_t started = ferry_now_ns();
        int rc = state_claim(m->db, m->owner, m->lease_seconds, started, &c, &e);
        if (rc == 1) {
            struct job *j = job_from_claim(&c);
            j->status = JOB_RUNNING;
            /* Taken again after the claim (the final write stores it): the claim may have waited
             * on the queue lock while an earlier job of the view finished, and a start must not
             * appear to precede that finish. */
            j->started_ns = ferry_now_ns();
            bool again = c.claims > 1, cancel = c.cancel_requested;
            state_claim_cleanup(&c);
            pthread_mutex_lock(&m->mu);
            j->added_mono = mono_ns();
            if (cancel) {
                j->cancel_reason = REASON_REQUEST;
                j->cancel = 1;
            } else if (m->stopping) {
                j->cancel_reason = REASON_STOPPING;
                j->cancel = 1;
            }
            if (m->njobs == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 16;
                m->jobs = xrealloc(m->jobs, m->cap * sizeof *m->jobs);
            }
            m->jobs[m->njobs++] = j;
            pthread_mutex_unlock(&m->mu);
            log_job_event(j, again ? "reclaimed" : "running", again ? "warning" : "info", NULL,
                          again ? "claimed again: the process that ran it stopped renewing its lease" : NULL);
            run_job(m, j);
            continue;
        }
        if (rc < 0)
            LOG_WARN("job queue: %s", e.msg);
        pthread_mutex_lock(&m->mu);
        if (!m->stopping && m->work_gen == gen)
            wait_ms(&m->work, &m->mu, POLL_MS);
        pthread_mutex_unlock(&m->mu);
    }
    return NULL;
}

static bool id_in(char *const *ids, size_t n, const char *id, size_t *at)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0) {
            *at = i;
            return true;
        }
    return false;
}

static void *heartbeat_main(void *arg)
{
    struct job_manager *m = arg;
    int64_t every_ms = (int64_t)m->lease_seconds * 1000 / 3;
    pthread_mutex_lock(&m->mu);
    while (!m->hb_stop) {
        pthread_mutex_unlock(&m->mu);
        int64_t t0 = mono_ns();
        char **ids = NULL;
        bool *cancel = NULL;
        size_t n = 0;
        struct ferry_err e = {0};
        int rc = state_heartbeat(m->db, m->owner, m->lease_seconds, &ids, &cancel, &n, &e);
        if (rc)
            LOG_WARN("job leases not renewed: %s", e.msg);
        pthread_mutex_lock(&m->mu);
        for (size_t i = 0; !rc && i < m->njobs; i++) {
            struct job *j = m->jobs[i];
            size_t at;
            if (j->cancel || j->status != JOB_RUNNING)
                continue;
            if (id_in(ids, n, j->id, &at)) {
                if (cancel[at]) {   /* requested through another process */
                    j->cancel_reason = REASON_REQUEST;
                    j->cancel = 1;
                }
            } else if (j->added_mono < t0) {
                /* Claimed before this renewal, yet no longer ours: our lease lapsed (a stall, a lost
                 * connection) and another process runs it now. Stop at the next batch. */
                LOG_WARN("job %s: lease lost to another process; stopping this run", j->id);
                j->cancel_reason = REASON_LOST;
                j->cancel = 1;
            }
        }
        if (!m->hb_stop)
            wait_ms(&m->hb_cv, &m->mu, every_ms);
        jobs_free_views(ids, n);
        free(cancel);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static int registry_lock_hook(void *ctx, const char *path, struct ferry_err *err)
{
    int rc = state_registry_lock(ctx, err);
    return rc ? ferry_err_prefix(err, "registry %s", path) : 0;
}

static void registry_unlock_hook(void *ctx, const char *path)
{
    state_registry_unlock(ctx);
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
    m->shared = state_is_shared(m->db);
    int n = 0;
    if (!m->shared && (rc = state_mark_interrupted(m->db, ferry_now_ns(), &n, err)) != 0) {
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
    pthread_cond_init(&m->work, &ca);   /* shared workers wait on it with a timeout */
    pthread_cond_init(&m->hb_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (m->shared) {
        char host[64] = "";
        gethostname(host, sizeof host - 1);
        uuid_t u;
        char us[JOB_ID_LEN];
        uuid_generate_random(u);
        uuid_unparse_lower(u, us);
        snprintf(m->owner, sizeof m->owner, "%s:%ld:%.8s", host, (long)getpid(), us);
        m->lease_seconds = cfg->ferry.serve.lease_seconds >= 3 ? cfg->ferry.serve.lease_seconds : 30;
        static struct registry_update_lock hook;
        hook = (struct registry_update_lock){.ctx = m->db, .lock = registry_lock_hook, .unlock = registry_unlock_hook};
        registry_set_update_lock(&hook);
        if (pthread_create(&m->hb_thread, NULL, heartbeat_main, m) != 0) {
            rc = ferry_errf(err, FERRY_EINTERNAL, "cannot start the job lease heartbeat thread");
            jobs_stop(m, 0);
            return rc;
        }
        m->has_hb = true;
        char where[256], extra[600];
        state_location_display(cfg->ferry.state_path, where, sizeof where);
        snprintf(extra, sizeof extra, ",\"state\":\"%s\",\"owner\":\"%s\",\"lease_seconds\":%d", where, m->owner,
                 m->lease_seconds);
        svc_log("info", "shared state", extra);
    }
    int want = cfg->ferry.serve.workers > 0 ? cfg->ferry.serve.workers : 1;
    m->threads = xcalloc((size_t)want, sizeof *m->threads);
    for (; m->nthreads < want; m->nthreads++)
        if (pthread_create(&m->threads[m->nthreads], NULL, m->shared ? worker_shared : worker_main, m) != 0) {
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
     * to stop at their next batch boundary. Shared: queued jobs are the other replicas' work too and
     * stay queued; the table has only running jobs, which are given back to the queue when they
     * stop (a job already being cancelled by request stays cancelled). */
    for (size_t i = m->njobs; i-- > 0;)
        if (m->jobs[i]->status == JOB_QUEUED)
            cancel_queued(m, m->jobs[i], REASON_STOPPING);
    for (size_t i = 0; i < m->njobs; i++) {
        if (m->shared && m->jobs[i]->cancel)
            continue;
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
    /* Leases are renewed until the last run has been written or released. */
    if (m->has_hb) {
        pthread_mutex_lock(&m->mu);
        m->hb_stop = true;
        pthread_cond_broadcast(&m->hb_cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->hb_thread, NULL);
    }
    if (m->shared)
        registry_set_update_lock(NULL);
    for (size_t i = 0; i < m->njobs; i++)
        job_free(m->jobs[i]);
    free(m->jobs);
    free(m->threads);
    state_close(m->db);
    pthread_cond_destroy(&m->work);
    pthread_cond_destroy(&m->done);
    pthread_cond_destroy(&m->hb_cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* 1 with the id when the key was used before, 0 if not, or an error. Caller holds m->mu; every job
 * is in the database before it is in the table, so the database alone answers. */
static int find_key(struct job_manager *m, const char *key, char id[JOB_ID_LEN], struct ferry_err *err)
{
    return state_find_idempotency(m->db, key, id, err);
}

/* Shared: the database checks the key and busy views and queues in one transaction; the job is
 * not kept here (a worker of any process claims it). Takes j. */
static int submit_shared(struct job_manager *m, struct job *j, bool force, char id[JOB_ID_LEN], bool *existing,
                         struct ferry_err *err)
{
    pthread_mutex_lock(&m->mu);
    bool stopping = m->stopping;
    pthread_mutex_unlock(&m->mu);
    int rc;
    if (stopping) {
        rc = ferry_errf(err, FERRY_ECANCELED, "the service is stopping; job not accepted");
    } else {
        j->created_ns = ferry_now_ns();
        struct state_job row = state_row(j, JOB_QUEUED);
        rc = state_submit(m->db, &row, force, id, err);
        if (rc == 1) {
            *existing = true;
            rc = 0;
        } else if (rc == 0) {
            log_job_event(j, "queued", "info", NULL, NULL);
            memcpy(id, j->id, JOB_ID_LEN);
            pthread_mutex_lock(&m->mu);
            m->work_gen++;
            pthread_cond_broadcast(&m->work);
            pthread_mutex_unlock(&m->mu);
        }
    }
    job_free(j);
    return rc;
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
        /* Shared: a database round trip, not under the table lock. */
        if (!m->shared)
            pthread_mutex_lock(&m->mu);
        rc = find_key(m, key, id, err);
        if (!m->shared)
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
    if (m->shared)
        return submit_shared(m, j, spec->force, id, existing, err);

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

/* Shared: the job may run in any process, so its row is polled (a local finish wakes it early).
 * A stopping service stops waiting: the job is left to the other replicas. */
static int wait_shared(struct job_manager *m, const char *id, struct ferry_err *err)
{
    for (;;) {
        int status = -1;
        struct ferry_err job_err = {0};
        int rc = state_get_outcome(m->db, id, &status, &job_err, err);
        if (rc)
            return rc;
        if (status != JOB_QUEUED && status != JOB_RUNNING) {
            if ((status == JOB_FAILED || status == JOB_CANCELLED) && err)
                *err = job_err;
            return status;
        }
        pthread_mutex_lock(&m->mu);
        bool stopping = m->stopping;
        if (!stopping)
            wait_ms(&m->done, &m->mu, WAIT_POLL_MS);
        pthread_mutex_unlock(&m->mu);
        if (stopping)
            return ferry_errf(err, FERRY_ECANCELED, "the service is stopping; job %s stays %s for the other replicas", id,
                              job_status_name(status));
    }
}

int jobs_wait(struct job_manager *m, const char *id, struct ferry_err *err)
{
    if (m->shared)
        return wait_shared(m, id, err);
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

/* Shared: a job running here is flagged at once; otherwise the database decides — a queued job is
 * cancelled in place, a running one is flagged for its owner's heartbeat (it stops at its next
 * batch within lease/3). A job that changes state in between is looked at again. */
static int cancel_shared(struct job_manager *m, const char *id, struct ferry_err *err)
{
    for (int tries = 0; tries < 5; tries++) {
        pthread_mutex_lock(&m->mu);
        struct job *lj = find_job(m, id, NULL);
        if (lj && !lj->cancel) {
            lj->cancel_reason = REASON_REQUEST;
            lj->cancel = 1;
        }
        pthread_mutex_unlock(&m->mu);
        if (lj)
            return 0;
        struct state_claim c;
        int rc = state_load(m->db, id, &c, err);
        if (rc)
            return rc;
        int status = c.status;
        int n = 0;
        if (status == JOB_QUEUED) {
            struct job *j = job_from_claim(&c);
            struct run_ctx rc2 = {.m = m, .job = j, .plan = &(struct engine_plan){0}, .final_rc = FERRY_ECANCELED};
            char *results = results_json(&rc2, true);
            struct state_job row = state_row(j, JOB_CANCELLED);
            row.finished_ns = ferry_now_ns();
            row.error = REASON_REQUEST;
            row.error_code = FERRY_ECANCELED;
            row.results_json = results;
            n = state_cancel_queued(m->db, &row, err);
            if (n > 0) {
                log_job_event(j, "cancelled", "info", results, REASON_REQUEST);
                pthread_mutex_lock(&m->mu);
                m->finished[JOB_CANCELLED]++;
                pthread_mutex_unlock(&m->mu);
            }
            free(results);
            job_free(j);
        } else if (status == JOB_RUNNING) {
            n = state_request_cancel(m->db, id, err);
        }
        state_claim_cleanup(&c);
        if (n < 0)
            return n;
        if (n > 0)
            return 0;
        if (status != JOB_QUEUED && status != JOB_RUNNING)
            return ferry_errf(err, FERRY_ECONFLICT, "job %s is already %s", id, job_status_name(status));
    }
    return ferry_errf(err, FERRY_ECONFLICT, "job %s kept changing state; try again", id);
}

int jobs_cancel(struct job_manager *m, const char *id, struct ferry_err *err)
{
    if (m->shared)
        return cancel_shared(m, id, err);
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
    /* Shared: the database is the only complete picture (the job may run elsewhere). */
    pthread_mutex_lock(&m->mu);
    struct job *j = m->shared ? NULL : find_job(m, id, NULL);
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

const char *jobs_owner(struct job_manager *m)
{
    return m->owner;
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
    if (m->shared) {
        /* Queued and running over every replica; finished by this process. */
        uint64_t q = 0, r = 0;
        struct ferry_err e = {0};
        if (state_active_counts(m->db, &q, &r, &e) != 0)
            LOG_WARN("job counts: %s", e.msg);
        pthread_mutex_lock(&m->mu);
        memcpy(counts, m->finished, sizeof m->finished);
        pthread_mutex_unlock(&m->mu);
        counts[JOB_QUEUED] = q;
        counts[JOB_RUNNING] = r;
        return;
    }
    pthread_mutex_lock(&m->mu);
    memcpy(counts, m->finished, sizeof m->finished);
    counts[JOB_QUEUED] = counts[JOB_RUNNING] = 0;
    for (size_t i = 0; i < m->njobs; i++)
        counts[m->jobs[i]->status]++;
    pthread_mutex_unlock(&m->mu);
}
