/* Private to service/: the state database — job history and schedule state — behind one interface
 * with two backends, chosen by cfg->ferry.state_path:
 *  - a path: a SQLite database of ferry's own, for one `ferry serve` process. One table `jobs`, one
 *    row per job, written on every state change so that `GET /jobs`, `ferry jobs` and a restarted
 *    service see the same history; the queue itself is in the job manager's memory.
 *  - a postgresql:// or postgres:// URI: PostgreSQL shared by several `ferry serve` processes
 *    (state_pg.c). There the queue lives in the database too: the "shared" operations below submit,
 *    claim (with a lease), renew, finish and cancel jobs, and claim schedule ticks.
 * One connection per handle guarded by one mutex: every statement is short (a row insert or update,
 * an indexed read). With SQLite callers may hold their own locks around these calls; with
 * PostgreSQL each call is network I/O, so callers should not (jobs.c and scheduler.c do not).
 * Renderings are JSON, built here so the HTTP layer and the CLI print the same. */
#ifndef FERRY_SERVICE_STATE_H
#define FERRY_SERVICE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "service/jobs.h"

#define STATE_LIST_DEFAULT 50
#define STATE_LIST_MAX 1000

struct state_db;

/* A job row as the manager writes it. Times are ns; FERRY_TIME_NONE for "not set" (NULL). */
struct state_job {
    const char *id;
    int kind;                       /* enum job_kind */
    const char *const *views;
    size_t nviews;
    int64_t start_ns, end_ns;       /* start is FERRY_TIME_NONE for materialize-incremental */
    int status;                     /* enum job_status */
    const char *trigger;
    int attempt;
    const char *idempotency_key;    /* NULL = none */
    int64_t created_ns, started_ns, finished_ns;
    int error_code;                 /* 0 or FERRY_E* of a failed job */
    const char *error;              /* NULL = none */
    const char *results_json;       /* a JSON array; NULL = "[]" */
    int64_t now_ns, lookback_ns;    /* the engine's "now" (0 = real clock) and lookback; kept by the
                                     * shared backend so another process can run the job */
};

/* Opens the database. With create, makes the parent directory, the file and the schema as needed;
 * without (readers such as `ferry jobs`), a missing file is FERRY_ENOTFOUND and nothing is created. */
int state_open(const char *path, bool create, struct state_db **out, struct ferry_err *err);
void state_close(struct state_db *db);

int state_insert(struct state_db *db, const struct state_job *job, struct ferry_err *err);
/* Writes status, started/finished times, error and results of job->id. */
int state_update(struct state_db *db, const struct state_job *job, struct ferry_err *err);
/* Replaces the results column only (per-view progress of a running job). */
int state_update_results(struct state_db *db, const char *id, const char *results_json, struct ferry_err *err);

/* Appends the job's JSON; FERRY_ENOTFOUND for an unknown id. */
int state_get_json(struct state_db *db, const char *id, struct fbuf *out, struct ferry_err *err);
/* Status, error code and message of a job; FERRY_ENOTFOUND for an unknown id. */
int state_get_outcome(struct state_db *db, const char *id, int *status, struct ferry_err *job_err,
                      struct ferry_err *err);
/* Views of a job (caller frees with jobs_free_views). */
int state_get_views(struct state_db *db, const char *id, char ***views, size_t *n, struct ferry_err *err);
/* {"jobs":[...],"total":N,"limit":L,"offset":O}, newest first. status/view may be NULL; limit <= 0
 * means STATE_LIST_DEFAULT, more than STATE_LIST_MAX is clamped; an unknown status or a negative
 * offset is FERRY_EINVAL. */
int state_list_json(struct state_db *db, const char *status, const char *view, int limit, int offset,
                    struct fbuf *out, struct ferry_err *err);
/* Writes the id of the job submitted with this key into id: 1 if found, 0 if not, or an error. */
int state_find_idempotency(struct state_db *db, const char *key, char id[JOB_ID_LEN], struct ferry_err *err);
/* Every queued or running job (left by a process that died) becomes failed, error "interrupted",
 * finished now. *count (may be NULL) gets how many. */
int state_mark_interrupted(struct state_db *db, int64_t now_ns, int *count, struct ferry_err *err);

/* A schedule's row (scheduler.c). Times FERRY_TIME_NONE when unset; strings "" when unset. */
struct state_schedule {
    int64_t last_tick;              /* newest tick fully handled: its run finished or it was skipped */
    int64_t last_run;               /* when the newest run was submitted (scheduler clock) */
    char last_job[JOB_ID_LEN];
    char last_status[24];           /* queued, running, succeeded, failed, cancelled, timeout, skipped */
    int attempt;
};
/* 1 with the row, 0 when the schedule has none yet, or an error. */
int state_schedule_get(struct state_db *db, const char *name, struct state_schedule *out, struct ferry_err *err);
/* Inserts or replaces the row. */
int state_schedule_put(struct state_db *db, const char *name, const struct state_schedule *row,
                       struct ferry_err *err);

/* ---------------------------------------------------------------- shared state (PostgreSQL)
 * Only the PostgreSQL backend implements these; the SQLite one answers FERRY_EINTERNAL (its queue
 * is the job manager's memory), except state_schedule_claim, which always wins there. */

/* True for the PostgreSQL backend. */
bool state_is_shared(const struct state_db *db);
/* A state location fit for messages: a URI loses its password and query string. */
void state_location_display(const char *loc, char *out, size_t n);

/* A job as a worker needs it to run. state_claim_cleanup frees the strings. */
struct state_claim {
    char id[JOB_ID_LEN];
    int kind;
    char **views;
    size_t nviews;
    int64_t start_ns, end_ns, now_ns, lookback_ns, created_ns;
    int attempt;
    int status;                     /* state_load: the current status */
    char *trigger;
    char *idempotency_key;
    bool cancel_requested;
    int claims;                     /* how many times a process claimed it (2+ = re-run after a lease) */
};
void state_claim_cleanup(struct state_claim *c);

/* Inserts a queued job in one transaction that also checks its idempotency key (returns 1 with the
 * earlier job's id in existing) and, unless force, that no queued or running job shares a view
 * (FERRY_ECONFLICT naming the job and view). 0 when inserted. */
int state_submit(struct state_db *db, const struct state_job *job, bool force, char existing[JOB_ID_LEN],
                 struct ferry_err *err);
/* Claims the oldest runnable job — queued, or running with an expired lease (its owner died) — that
 * no older queued or live running job shares a view with: it becomes running, owned by owner, with
 * a lease of lease_seconds from the database's clock. 1 with the job in out, 0 when none. */
int state_claim(struct state_db *db, const char *owner, int lease_seconds, int64_t started_ns,
                struct state_claim *out, struct ferry_err *err);
/* A job's row (status in out->status); FERRY_ENOTFOUND for an unknown id. */
int state_load(struct state_db *db, const char *id, struct state_claim *out, struct ferry_err *err);
/* Renews the leases of owner's running jobs; returns their ids and cancel flags (caller frees both
 * arrays and the ids). A job of the owner missing from the answer was claimed by another process. */
int state_heartbeat(struct state_db *db, const char *owner, int lease_seconds, char ***ids, bool **cancel,
                    size_t *n, struct ferry_err *err);
/* Writes a final status if owner still holds the job: 1 written, 0 the claim was lost. */
int state_finish(struct state_db *db, const struct state_job *row, const char *owner, struct ferry_err *err);
/* Gives a running job of owner back to the queue (shutdown): 1 released, 0 not held. */
int state_release(struct state_db *db, const char *id, const char *owner, struct ferry_err *err);
/* Cancels a job that is still queued: 1 done, 0 it is not queued (any more). */
int state_cancel_queued(struct state_db *db, const struct state_job *row, struct ferry_err *err);
/* Flags a running job for cancellation (its owner stops at the next batch): 1 flagged, 0 not running. */
int state_request_cancel(struct state_db *db, const char *id, struct ferry_err *err);
/* Jobs queued and running now, over every process. */
int state_active_counts(struct state_db *db, uint64_t *queued, uint64_t *running, struct ferry_err *err);
/* Claims a schedule's tick for owner: 1 when this caller is the one process to run it, 0 when
 * another process already claimed this tick or a later one. */
int state_schedule_claim(struct state_db *db, const char *name, int64_t tick, const char *owner,
                         struct ferry_err *err);
/* Serializes registry read-modify-writes across processes (a session advisory lock on a connection
 * of its own, held until unlock; callers in one process queue on a mutex). */
int state_registry_lock(struct state_db *db, struct ferry_err *err);
void state_registry_unlock(struct state_db *db);

#endif
