/* Private to service/: jobs and the worker pool.
 *
 * A job is one materialize or materialize-incremental request over a set of views. Submitting
 * validates it (engine_plan: unknown views, start after end) and resolves "all views" to names, so
 * the caller can answer 4xx at once. Jobs run on a fixed pool of worker threads in FIFO order, with
 * at most one queued-or-running job per feature view: a submission touching a busy view fails with
 * FERRY_ECONFLICT naming the busy job, unless force is set (then it queues behind it). An
 * idempotency key returns the job first submitted with that key. Every state change is written to
 * the state database (state.h) before it becomes visible, so history survives restarts. With shared
 * state (a PostgreSQL ferry.state) the queue is in the database and several processes' workers
 * share it: see jobs.c for claims, leases and what a stop does.
 * The manager owns its jobs; callers get JSON renderings or copies. */
#ifndef FERRY_SERVICE_JOBS_H
#define FERRY_SERVICE_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"

#define JOB_ID_LEN 37   /* uuid4 text + NUL */

enum job_kind { JOB_MATERIALIZE = 1, JOB_MATERIALIZE_INCREMENTAL = 2 };
enum job_status { JOB_QUEUED = 0, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED };
const char *job_status_name(int status);      /* "queued", "running", "succeeded", "failed", "cancelled" */
int job_status_parse(const char *name);       /* -1 if unknown */

struct job_spec {
    int kind;                       /* enum job_kind */
    const char *const *views;       /* NULL/empty = every eligible view */
    size_t nviews;
    int64_t start_ns;               /* JOB_MATERIALIZE only */
    int64_t end_ns;
    const char *trigger;            /* "http", "cli", "schedule:<name>" */
    const char *idempotency_key;    /* NULL = none */
    bool force;                     /* queue even if a view is busy */
    int64_t now_ns;                 /* the engine's "now" (end clamp, ttl start); 0 = the real clock */
    int64_t lookback_ns;            /* materialize-incremental: re-read this much before the last end */
    int attempt;                    /* 1, 2, ... for retries of one scheduled run; 0 means 1 */
};

struct job_manager;

/* Opens the state database (marking jobs left queued/running by a dead process as failed with
 * error "interrupted") and starts cfg->ferry.serve.workers worker threads. cfg must outlive it. */
int jobs_start(const struct ferry_config *cfg, struct job_manager **out, struct ferry_err *err);
/* Stops taking submissions, cancels queued jobs, asks running jobs to stop at their next batch
 * boundary, waits up to grace_seconds for them, joins the workers and frees everything. A job still
 * running when the grace period ends is logged and still joined (it stops at its next batch).
 * Every other jobs_* call must have returned before this is called (stop the HTTP server first). */
void jobs_stop(struct job_manager *m, int grace_seconds);

/* Validates and queues. On success writes the job id (a new one, or the earlier job's for a repeated
 * idempotency key; *existing tells which). Errors: FERRY_EINVAL/ENOTFOUND for bad requests,
 * FERRY_ECONFLICT for a busy view (message names the job and view), FERRY_ECANCELED when stopping. */
int jobs_submit(struct job_manager *m, const struct job_spec *spec, char id[JOB_ID_LEN], bool *existing,
                struct ferry_err *err);
/* Blocks until the job is finished (succeeded, failed or cancelled); returns its status and, for a
 * failure, its error code and message in err. */
int jobs_wait(struct job_manager *m, const char *id, struct ferry_err *err);
/* Requests cancellation: a queued job is cancelled at once, a running one at its next batch
 * boundary (nothing is recorded for the cancelled window). FERRY_ENOTFOUND for an unknown id;
 * cancelling a finished job is FERRY_ECONFLICT. */
int jobs_cancel(struct job_manager *m, const char *id, struct ferry_err *err);

/* The job's status without waiting: queued/running from the table, else the recorded final status
 * (with its error in job_err when failed or cancelled, job_err may be NULL). FERRY_ENOTFOUND (< 0)
 * for an unknown id. */
int jobs_status(struct job_manager *m, const char *id, struct ferry_err *job_err, struct ferry_err *err);
/* The manager's state database (the scheduler keeps its schedule rows there); owned by the manager. */
struct state_db *jobs_state_db(struct job_manager *m);
/* This process's name on shared state (host:pid:uuid prefix) for claims; "" with SQLite state. */
const char *jobs_owner(struct job_manager *m);

/* JSON for GET /jobs/{id} and GET /jobs (newest first; status/view filters may be NULL). Read
 * from the state database, so finished jobs of earlier processes are included. */
int jobs_get_json(struct job_manager *m, const char *id, struct fbuf *out, struct ferry_err *err);
int jobs_list_json(struct job_manager *m, const char *status, const char *view, int limit, int offset,
                   struct fbuf *out, struct ferry_err *err);
/* Views of a job (for the 202 answer); caller frees with jobs_free_views. */
int jobs_views(struct job_manager *m, const char *id, char ***views, size_t *n);
void jobs_free_views(char **views, size_t n);
/* Counts by status, for /metrics: [JOB_QUEUED] and [JOB_RUNNING] are the jobs queued and running
 * now; [JOB_SUCCEEDED], [JOB_FAILED] and [JOB_CANCELLED] count jobs finished by this process since
 * jobs_start (monotonic, fit for counters). */
void jobs_counts(struct job_manager *m, uint64_t counts[5]);

#endif
