/* Private to service/: the job history, a SQLite database of ferry's own at cfg->ferry.state_path.
 * One table `jobs`, one row per job, written on every state change so that `GET /jobs`, `ferry
 * jobs` and a restarted service see the same history. One connection guarded by one mutex: every
 * statement is short (a row insert or update, an indexed read), so callers may hold their own locks
 * around these calls. Renderings are JSON, built here so the HTTP layer and the CLI print the same. */
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

#endif
