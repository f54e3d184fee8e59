/* Private to service/: the built-in scheduler. One thread sleeps until the next due time of any
 * schedule (ferry: schedules: in feature_store.yaml), then submits ordinary jobs (trigger
 * "schedule:<name>", attempt N) through the job manager, and follows them for retries, timeouts and
 * freshness SLAs. All time comes from a clock interface so tests replace it with a simulated one.
 * Schedule state (last tick, last job, last result) is kept in the state database so catch-up after
 * downtime knows what was missed. */
#ifndef FERRY_SERVICE_SCHEDULER_H
#define FERRY_SERVICE_SCHEDULER_H

#include <pthread.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "service/jobs.h"

struct sched_clock {
    void *ctx;
    int64_t (*now)(void *ctx);                            /* UTC ns */
    /* Waits on cv (mu held, as pthread_cond_timedwait) until t_ns or a signal; may return early. */
    void (*wait_until)(void *ctx, pthread_cond_t *cv, pthread_mutex_t *mu, int64_t t_ns);
};
/* The real clock: CLOCK_REALTIME and pthread_cond_timedwait. */
const struct sched_clock *sched_real_clock(void);

struct scheduler;

/* Validates every schedule (cron syntax, time zone, views exist, options) — errors name the
 * schedule and the feature_store.yaml line — and, unless run_thread is false (tests drive
 * scheduler_step themselves), starts the scheduler thread. jobs and cfg must outlive it. */
int scheduler_start(const struct ferry_config *cfg, struct job_manager *jobs, const struct sched_clock *clock,
                    bool run_thread, struct scheduler **out, struct ferry_err *err);
/* Stops the thread (no new submissions; jobs already submitted are the job manager's), then frees.
 * scheduler_halt only stops the thread, so GET /schedules can still answer until the HTTP server
 * is gone; scheduler_stop after it frees. */
void scheduler_halt(struct scheduler *s);
void scheduler_stop(struct scheduler *s);

/* Does everything due at the clock's now: submits due runs (with catch-up and concurrency policy),
 * checks running scheduled jobs for timeouts, resubmits failed ones after their backoff, updates
 * SLA breach state. Returns the next time anything is due (INT64_MAX if never). */
int64_t scheduler_step(struct scheduler *s);

/* Blocks until every job the scheduler is following has finished (tests: step, wait, step). Not
 * with the thread running. */
void scheduler_wait_jobs(struct scheduler *s);

/* GET /schedules: [{"name","views","cron"|"every","timezone","mode","next_run","last_run",
 * "last_job","last_status","attempt"}] (also "catchup", "concurrency", "retries", "last_tick"). */
int scheduler_list_json(struct scheduler *s, struct fbuf *out, struct ferry_err *err);

#endif
