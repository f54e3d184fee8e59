/* Private to state.c: the PostgreSQL backend of the state database (`ferry: state: postgresql://…`),
 * shared by several `ferry serve` processes. Same tables' meaning as the SQLite backend (jobs and
 * schedules, as ferry_jobs and ferry_schedules), plus what sharing needs: the job queue lives in the
 * database (a queued row is the queue entry), a running job has an owner and a lease, cancellation
 * is a flag the owner polls, and schedule ticks are claimed by a conditional update. state.h
 * documents each operation; these are the backend halves it dispatches to. */
#ifndef FERRY_SERVICE_STATE_PG_H
#define FERRY_SERVICE_STATE_PG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "service/state.h"

struct state_pg;

bool state_pg_is_uri(const char *loc);
/* The location without a password or query string, for messages and logs. */
void state_pg_redact(const char *uri, char *out, size_t n);

int state_pg_open(const char *uri, bool create, struct state_pg **out, struct ferry_err *err);
void state_pg_close(struct state_pg *p);

int state_pg_insert(struct state_pg *p, const struct state_job *job, struct ferry_err *err);
int state_pg_update(struct state_pg *p, const struct state_job *job, struct ferry_err *err);
int state_pg_update_results(struct state_pg *p, const char *id, const char *results_json, struct ferry_err *err);
int state_pg_get_json(struct state_pg *p, const char *id, struct fbuf *out, struct ferry_err *err);
int state_pg_get_outcome(struct state_pg *p, const char *id, int *status, struct ferry_err *job_err,
                         struct ferry_err *err);
int state_pg_get_views(struct state_pg *p, const char *id, char ***views, size_t *n, struct ferry_err *err);
int state_pg_list_json(struct state_pg *p, const char *status, const char *view, int limit, int offset,
                       struct fbuf *out, struct ferry_err *err);
int state_pg_find_idempotency(struct state_pg *p, const char *key, char id[JOB_ID_LEN], struct ferry_err *err);
int state_pg_schedule_get(struct state_pg *p, const char *name, struct state_schedule *out, struct ferry_err *err);
int state_pg_schedule_put(struct state_pg *p, const char *name, const struct state_schedule *row,
                          struct ferry_err *err);

int state_pg_submit(struct state_pg *p, const struct state_job *job, bool force, char existing[JOB_ID_LEN],
                    struct ferry_err *err);
int state_pg_claim(struct state_pg *p, const char *owner, int lease_seconds, int64_t started_ns,
                   struct state_claim *out, struct ferry_err *err);
int state_pg_load(struct state_pg *p, const char *id, struct state_claim *out, struct ferry_err *err);
int state_pg_heartbeat(struct state_pg *p, const char *owner, int lease_seconds, char ***ids, bool **cancel,
                       size_t *n, struct ferry_err *err);
int state_pg_finish(struct state_pg *p, const struct state_job *row, const char *owner, struct ferry_err *err);
int state_pg_release(struct state_pg *p, const char *id, const char *owner, struct ferry_err *err);
int state_pg_cancel_queued(struct state_pg *p, const struct state_job *row, struct ferry_err *err);
int state_pg_request_cancel(struct state_pg *p, const char *id, struct ferry_err *err);
int state_pg_active_counts(struct state_pg *p, uint64_t *queued, uint64_t *running, struct ferry_err *err);
int state_pg_schedule_claim(struct state_pg *p, const char *name, int64_t tick, const char *owner,
                            struct ferry_err *err);
int state_pg_registry_lock(struct state_pg *p, struct ferry_err *err);
void state_pg_registry_unlock(struct state_pg *p);

#endif
