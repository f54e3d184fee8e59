/* The built-in scheduler (scheduler.h).
 *
 * Each schedule is an entry with its cron timing, the tick it will consider next, and a short list
 * of runs: a run is one window (end = its tick; window mode also has a start) that is pending,
 * active (a job was submitted) or waiting for a retry. scheduler_step does everything due at the
 * clock's "now" in one pass and returns the next time anything is due; the thread (or a test) calls
 * it again then. Only one thread ever runs scheduler_step, so it reads its entries without a lock;
 * s->mu guards what other threads read (the per-schedule snapshot behind GET /schedules) and the
 * stop flag. It is never held across jobs_*, registry or engine calls.
 *
 * Never losing time: incremental runs end at their tick and the engine starts each view at its last
 * recorded end (minus lookback), so a failed, skipped or timed-out run leaves its time to the next
 * run. The newest fully handled tick is what the state database keeps (schedules.last_tick); after
 * a restart the ticks after it are "missed" and go through the catch-up policy.
 *
 * Several replicas (shared state in PostgreSQL): every process runs this scheduler, and each
 * handles a due tick only after claiming it in the database (state_schedule_claim: a conditional
 * update on the schedule's row), so exactly one process submits each tick; the others move on to
 * the next tick. The winner follows its run (retries, timeout) in memory; busy views are checked
 * by the database at submission, so a tick won by one process still skips (or queues) behind a
 * run another process submitted. GET /schedules reads the shared row. */
#include "service/scheduler.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/time.h"
#include "core/tz.h"
#include "core/util.h"
#include "engine/engine.h"
#include "registry/registry.h"
#include "service/cron.h"
#include "service/metrics.h"
#include "service/service.h"
#include "service/state.h"
#include "service/svc_log.h"

/* While a run is active the scheduler looks at its job at least this often (real time). */
#define POLL_NS (1 * FERRY_NS_PER_SEC)
/* Enumerating missed ticks stops after this many (a minutely cron over years); older ones are
 * counted as skipped without being looked at one by one. */
#define MAX_TICK_SCAN 1000000
#define MAX_RUNS 100100   /* catchup_max (<= 100000) plus retries of earlier runs */

enum run_state { RUN_PENDING = 0, RUN_ACTIVE, RUN_RETRY };

struct sched_run {
    int64_t tick;                 /* the run's end */
    int64_t start_ns;             /* window mode; FERRY_TIME_NONE for incremental */
    int attempt;
    int state;                    /* enum run_state */
    bool force;                   /* queue behind a busy view (catch-up "all", concurrency "queue") */
    bool timed_out;               /* cancelled by the scheduler because of timeout */
    char job[JOB_ID_LEN];
    int64_t submitted;            /* clock time of the current attempt's submission */
    int64_t retry_at;
};

struct sched_entry {
    const struct schedule_config *sc;
    struct ferry_tz *tz;
    struct cron_spec *cron;
    char trigger[160];
    int64_t next_tick;            /* first tick not yet considered */
    int64_t done_tick;            /* newest tick fully handled (persisted as last_tick) */
    struct sched_run *runs;       /* in tick order */
    size_t nruns, cap;
    /* Guarded by s->mu: what GET /schedules shows. */
    struct state_schedule row;
    int64_t shown_next;
};

struct sla_view {
    char *view;
    int64_t sla_ns;
    int state;                    /* -1 unknown (not checked yet), 0 met, 1 breached */
};

struct scheduler {
    const struct ferry_config *cfg;
    struct job_manager *jobs;
    struct state_db *db;
    const struct sched_clock *clock;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool has_thread;
    pthread_t thread;
    struct sched_entry *e;
    size_t n;
    struct sla_view *slas;
    size_t nslas;
    uint64_t rng;
};

/* ---------------------------------------------------------------- the real clock */

static int64_t real_now(void *ctx)
{
    (void)ctx;
    return ferry_now_ns();
}

static void real_wait_until(void *ctx, pthread_cond_t *cv, pthread_mutex_t *mu, int64_t t_ns)
{
    (void)ctx;
    /* Bounded so that a clock change (NTP step) is noticed within a minute. */
    int64_t now = ferry_now_ns(), cap = now + 60 * FERRY_NS_PER_SEC;
    if (t_ns > cap)
        t_ns = cap;
    if (t_ns <= now)
        return;
    struct timespec ts = {.tv_sec = (time_t)(t_ns / FERRY_NS_PER_SEC), .tv_nsec = (long)(t_ns % FERRY_NS_PER_SEC)};
    pthread_cond_timedwait(cv, mu, &ts);
}

const struct sched_clock *sched_real_clock(void)
{
    static const struct sched_clock real = {.ctx = NULL, .now = real_now, .wait_until = real_wait_until};
    return &real;
}

/* ---------------------------------------------------------------- helpers */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* "15m", "1h30m", "45s", "2d": the shortest form of a whole-second duration. */
static void format_duration(int64_t ns, char *buf, size_t n)
{
    int64_t s = ns / FERRY_NS_PER_SEC;
    static const struct { int64_t secs; char unit; } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < FERRY_ARRAY_LEN(units) && used < n; i++)
        if (s >= units[i].secs) {
            used += (size_t)snprintf(buf + used, n - used, "%" PRId64 "%c", s / units[i].secs, units[i].unit);
            s %= units[i].secs;
        }
    if (!buf[0])
        snprintf(buf, n, "0s");
}

static void add_time(struct fbuf *b, const char *key, int64_t ns)
{
    char t[FERRY_TIME_BUF];
    if (ns == FERRY_TIME_NONE || ns == INT64_MAX)
        fbuf_addf(b, ",\"%s\":null", key);
    else
        fbuf_addf(b, ",\"%s\":\"%s\"", key, ferry_time_format_iso(ns, t));
}

static void add_str(struct fbuf *b, const char *key, const char *v)
{
    fbuf_addf(b, ",\"%s\":", key);
    if (v && *v)
        fbuf_add_json_str(b, v, strlen(v));
    else
        fbuf_adds(b, "null");
}

/* One schedule as GET /schedules and `ferry schedules --json` show it. */
static void render_schedule(struct fbuf *b, const struct schedule_config *sc, int64_t next_run,
                            const struct state_schedule *row)
{
    static const char *const modes[] = {"incremental", "window"};
    static const char *const catchups[] = {"none", "one", "all"};
    static const char *const concs[] = {"skip", "queue"};
    fbuf_adds(b, "{\"name\":");
    fbuf_add_json_str(b, sc->name, strlen(sc->name));
    fbuf_adds(b, ",\"views\":");
    if (!sc->nviews) {
        fbuf_adds(b, "null");
    } else {
        fbuf_addc(b, '[');
        for (size_t i = 0; i < sc->nviews; i++) {
            if (i)
                fbuf_addc(b, ',');
            fbuf_add_json_str(b, sc->views[i], strlen(sc->views[i]));
        }
        fbuf_addc(b, ']');
    }
    char d[64];
    if (sc->cron) {
        add_str(b, "cron", sc->cron);
    } else {
        format_duration(sc->every_ns, d, sizeof d);
        add_str(b, "every", d);
    }
    add_str(b, "timezone", sc->timezone);
    fbuf_addf(b, ",\"mode\":\"%s\",\"catchup\":\"%s\",\"concurrency\":\"%s\",\"retries\":%d", modes[sc->mode],
              catchups[sc->catchup], concs[sc->concurrency], sc->retries);
    add_time(b, "next_run", next_run);
    add_time(b, "last_run", row->last_run);
    add_time(b, "last_tick", row->last_tick);
    add_str(b, "last_job", row->last_job);
    add_str(b, "last_status", row->last_status);
    if (row->attempt > 0)
        fbuf_addf(b, ",\"attempt\":%d}", row->attempt);
    else
        fbuf_adds(b, ",\"attempt\":null}");
}

/* xorshift64*: jitter only needs to spread retries, not to be unpredictable. */
static double rand_unit(struct scheduler *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

/* The delay before retry number `failed_attempt + 1`: retry_backoff doubled per earlier attempt,
 * capped at retry_backoff_max, times a jitter factor in [0.5, 1.0]. */
static int64_t backoff_ns(struct scheduler *s, const struct schedule_config *sc, int failed_attempt)
{
    int64_t d = sc->retry_backoff_ns;
    for (int i = 1; i < failed_attempt && d < sc->retry_backoff_max_ns; i++)
        d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    if (d > sc->retry_backoff_max_ns)
        d = sc->retry_backoff_max_ns;
    return (int64_t)((double)d * (0.5 + 0.5 * rand_unit(s)));
}

static void sched_log(const char *level, const char *msg, const struct sched_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* {"schedule": name, ...fmt} as one service log line; fmt is a JSON fragment starting with ','. */
static void sched_log(const char *level, const char *msg, const struct sched_entry *e, const char *fmt, ...)
{
    struct fbuf x;
    fbuf_init(&x, 8192);
    fbuf_adds(&x, ",\"schedule\":");
    fbuf_add_json_str(&x, e->sc->name, strlen(e->sc->name));
    if (fmt) {
        char more[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(more, sizeof more, fmt, ap);
        va_end(ap);
        fbuf_adds(&x, more);
    }
    svc_log(level, msg, x.data);
    fbuf_cleanup(&x);
}

/* Writes the entry's row to the snapshot (under s->mu) and then to the state database (without:
 * with shared state it is a network round trip; only this thread writes rows). */
static void persist(struct scheduler *s, struct sched_entry *e)
{
    struct ferry_err err = {0};
    pthread_mutex_lock(&s->mu);
    e->row.last_tick = e->done_tick;
    e->shown_next = e->next_tick;
    struct state_schedule row = e->row;
    pthread_mutex_unlock(&s->mu);
    if (state_schedule_put(s->db, e->sc->name, &row, &err) != 0)
        LOG_WARN("schedule '%s': %s", e->sc->name, err.msg);
}

static void set_status(struct scheduler *s, struct sched_entry *e, const char *status)
{
    pthread_mutex_lock(&s->mu);
    snprintf(e->row.last_status, sizeof e->row.last_status, "%s", status);
    pthread_mutex_unlock(&s->mu);
}

static void remove_run(struct sched_entry *e, size_t i)
{
    memmove(&e->runs[i], &e->runs[i + 1], (e->nruns - i - 1) * sizeof *e->runs);
    e->nruns--;
}

static struct sched_run *add_run(struct sched_entry *e, int64_t tick, int64_t start, bool force)
{
    if (e->nruns >= MAX_RUNS)
        return NULL;
    if (e->nruns == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->runs = xrealloc(e->runs, e->cap * sizeof *e->runs);
    }
    struct sched_run *r = &e->runs[e->nruns++];
    memset(r, 0, sizeof *r);
    r->tick = tick;
    r->start_ns = start;
    r->attempt = 1;
    r->state = RUN_PENDING;
    r->force = force;
    return r;
}

/* A run is over (succeeded, or failed with no retry left): its tick counts as handled. */
static void finish_tick(struct sched_entry *e, int64_t tick)
{
    if (e->done_tick == FERRY_TIME_NONE || tick > e->done_tick)
        e->done_tick = tick;
}

/* ---------------------------------------------------------------- submitting and following runs */

static bool fail_attempt(struct scheduler *s, struct sched_entry *e, size_t i, int64_t now, const char *result,
                         const char *error);

/* Submits run i now. A busy view without force means the previous run of these views is still
 * going: the tick is skipped (concurrency skip). */
static void submit_run(struct scheduler *s, struct sched_entry *e, size_t i, int64_t now)
{
    struct sched_run *r = &e->runs[i];
    const struct schedule_config *sc = e->sc;
    struct job_spec spec = {
        .kind = sc->mode == SCHEDULE_WINDOW ? JOB_MATERIALIZE : JOB_MATERIALIZE_INCREMENTAL,
        .views = (const char *const *)sc->views, .nviews = sc->nviews,
        .start_ns = sc->mode == SCHEDULE_WINDOW ? r->start_ns : 0, .end_ns = r->tick,
        .trigger = e->trigger, .force = r->force, .now_ns = now,
        .lookback_ns = sc->mode == SCHEDULE_INCREMENTAL ? sc->lookback_ns : 0, .attempt = r->attempt,
    };
    struct ferry_err err = {0};
    char id[JOB_ID_LEN];
    int rc = jobs_submit(s->jobs, &spec, id, NULL, &err);
    char t[FERRY_TIME_BUF];
    if (rc == FERRY_ECONFLICT && !r->force) {
        sched_log("info", "schedule tick skipped", e, ",\"tick\":\"%s\",\"reason\":\"%s\"",
                  ferry_time_format_iso(r->tick, t), "the previous run of these views is still queued or running");
        metrics_schedule_run(sc->name, "skipped");
        finish_tick(e, r->tick);
        remove_run(e, i);
        set_status(s, e, "skipped");
        persist(s, e);
        return;
    }
    if (rc == FERRY_ECANCELED) {
        remove_run(e, i);   /* the service is stopping; the tick stays "missed" for the next start */
        return;
    }
    if (rc) {
        fail_attempt(s, e, i, now, "failed", err.msg);
        return;
    }
    r->state = RUN_ACTIVE;
    r->submitted = now;
    r->timed_out = false;
    memcpy(r->job, id, JOB_ID_LEN);
    pthread_mutex_lock(&s->mu);
    e->row.last_run = now;
    memcpy(e->row.last_job, id, JOB_ID_LEN);
    snprintf(e->row.last_status, sizeof e->row.last_status, "queued");
    e->row.attempt = r->attempt;
    pthread_mutex_unlock(&s->mu);
    persist(s, e);
    sched_log("info", "schedule run submitted", e, ",\"job\":\"%s\",\"tick\":\"%s\",\"attempt\":%d", id,
              ferry_time_format_iso(r->tick, t), r->attempt);
}

/* The current attempt of run i failed (result "failed" or "timeout"): retry after the backoff when
 * attempts are left (returns true: the run stays at i), else give up on the run (its time is left
 * to the next run; returns false, the run is gone). */
static bool fail_attempt(struct scheduler *s, struct sched_entry *e, size_t i, int64_t now, const char *result,
                         const char *error)
{
    struct sched_run *r = &e->runs[i];
    metrics_schedule_run(e->sc->name, result);
    set_status(s, e, result);
    char t[FERRY_TIME_BUF];
    if (r->attempt <= e->sc->retries) {
        int64_t delay = backoff_ns(s, e->sc, r->attempt);
        r->state = RUN_RETRY;
        r->retry_at = now + delay;
        r->attempt++;
        r->force = r->force || e->sc->concurrency == SCHEDULE_QUEUE;
        sched_log("warning", "schedule run failed; retrying", e,
                  ",\"job\":\"%s\",\"tick\":\"%s\",\"result\":\"%s\",\"error\":\"%.300s\",\"next_attempt\":%d,"
                  "\"retry_in_seconds\":%.3f",
                  r->job, ferry_time_format_iso(r->tick, t), result, error ? error : "", r->attempt,
                  (double)delay / 1e9);
        persist(s, e);
        return true;
    }
    sched_log("warning", "schedule run failed", e,
              ",\"job\":\"%s\",\"tick\":\"%s\",\"result\":\"%s\",\"error\":\"%.300s\",\"attempts\":%d", r->job,
              ferry_time_format_iso(r->tick, t), result, error ? error : "", r->attempt);
    finish_tick(e, r->tick);
    remove_run(e, i);
    persist(s, e);
    return false;
}

/* Follows run i's job. Returns true when the run left the list (i now names the next run). */
static bool follow_run(struct scheduler *s, struct sched_entry *e, size_t i, int64_t now, int64_t *due)
{
    struct sched_run *r = &e->runs[i];
    struct ferry_err job_err = {0}, err = {0};
    int st = jobs_status(s->jobs, r->job, &job_err, &err);
    if (st < 0) {
        if (!fail_attempt(s, e, i, now, "failed", err.msg))
            return true;
        if (e->runs[i].retry_at < *due)
            *due = e->runs[i].retry_at;
        return false;
    }
    if (st == JOB_QUEUED || st == JOB_RUNNING) {
        set_status(s, e, job_status_name(st));
        if (e->sc->timeout_ns > 0 && !r->timed_out) {
            int64_t deadline = r->submitted + e->sc->timeout_ns;
            if (now >= deadline) {
                r->timed_out = true;
                char t[FERRY_TIME_BUF];
                sched_log("warning", "schedule run timed out; cancelling", e,
                          ",\"job\":\"%s\",\"tick\":\"%s\",\"timeout_seconds\":%.3f", r->job,
                          ferry_time_format_iso(r->tick, t), (double)e->sc->timeout_ns / 1e9);
                if (jobs_cancel(s->jobs, r->job, &err) != 0)
                    LOG_DEBUG("schedule '%s': cancel %s: %s", e->sc->name, r->job, err.msg);
            } else if (deadline < *due) {
                *due = deadline;
            }
        }
        if (now + POLL_NS < *due)
            *due = now + POLL_NS;
        return false;
    }
    if (st == JOB_SUCCEEDED) {
        metrics_schedule_run(e->sc->name, "succeeded");
        finish_tick(e, r->tick);
        remove_run(e, i);
        pthread_mutex_lock(&s->mu);
        snprintf(e->row.last_status, sizeof e->row.last_status, "succeeded");
        pthread_mutex_unlock(&s->mu);
        persist(s, e);
        return true;
    }
    if (st == JOB_CANCELLED && !r->timed_out) {
        /* Cancelled by a person (or by shutdown): not retried; its time goes to the next run. */
        metrics_schedule_run(e->sc->name, "cancelled");
        finish_tick(e, r->tick);
        remove_run(e, i);
        set_status(s, e, "cancelled");
        persist(s, e);
        return true;
    }
    if (!fail_attempt(s, e, i, now, r->timed_out ? "timeout" : "failed", job_err.msg))
        return true;
    if (e->runs[i].retry_at < *due)
        *due = e->runs[i].retry_at;
    return false;
}

/* ---------------------------------------------------------------- ticks */

static bool entry_busy(const struct sched_entry *e)
{
    return e->nruns > 0;
}

/* New ticks up to now, by the catch-up and concurrency policies. */
static void take_ticks(struct scheduler *s, struct sched_entry *e, int64_t now)
{
    const struct schedule_config *sc = e->sc;
    int64_t first = e->next_tick, last = FERRY_TIME_NONE;
    size_t keep = sc->catchup == SCHEDULE_CATCHUP_ALL ? (size_t)sc->catchup_max : 1;
    int64_t *ring = xcalloc(keep, sizeof *ring);
    uint64_t count = 0;
    for (int64_t t = e->next_tick; t <= now;) {
        ring[count % keep] = t;
        count++;
        last = t;
        t = cron_next(e->cron, t);
        if (count == MAX_TICK_SCAN && t <= now) {
            /* Years of minutely ticks: jump to the last day; ticks in between count as skipped. */
            int64_t jump = cron_next(e->cron, now - 86400 * FERRY_NS_PER_SEC);
            if (jump > t)
                t = jump;
        }
    }
    e->next_tick = cron_next(e->cron, last);
    char t1[FERRY_TIME_BUF], t2[FERRY_TIME_BUF];
    if (state_is_shared(s->db)) {
        /* One replica per tick: the loser leaves the tick (and the ones it covers) to the winner. */
        struct ferry_err cerr = {0};
        int won = state_schedule_claim(s->db, sc->name, last, jobs_owner(s->jobs), &cerr);
        if (won <= 0) {
            if (won < 0)
                sched_log("warning", "schedule tick not claimed", e, ",\"tick\":\"%s\",\"error\":\"%s\"",
                          ferry_time_format_iso(last, t1), cerr.msg);
            else
                LOG_DEBUG("schedule '%s': tick %s taken by another process", sc->name,
                          ferry_time_format_iso(last, t1));
            free(ring);
            return;
        }
    }
    if (count > 1)
        sched_log("info", "schedule missed ticks", e,
                  ",\"missed\":%" PRIu64 ",\"first\":\"%s\",\"last\":\"%s\",\"catchup\":\"%s\"", count - 1,
                  ferry_time_format_iso(first, t1), ferry_time_format_iso(last, t2),
                  sc->catchup == SCHEDULE_CATCHUP_NONE ? "none" : sc->catchup == SCHEDULE_CATCHUP_ONE ? "one" : "all");
    bool busy = entry_busy(e);
    if (busy && sc->concurrency == SCHEDULE_SKIP) {
        sched_log("info", "schedule tick skipped", e,
                  ",\"tick\":\"%s\",\"ticks\":%" PRIu64 ",\"reason\":\"the previous run is still queued, running or "
                  "waiting for a retry\"",
                  ferry_time_format_iso(last, t1), count);
        for (uint64_t k = 0; k < count && k < keep; k++)
            metrics_schedule_run(sc->name, "skipped");
        /* The ticks are handled (skipped), but done_tick must not pass a run still in progress: the
         * newest handled tick only moves when that run ends. */
        set_status(s, e, "skipped");
        persist(s, e);
        free(ring);
        return;
    }
    size_t before = e->nruns;
    if (sc->catchup == SCHEDULE_CATCHUP_ALL) {
        uint64_t n = count < keep ? count : keep;
        if (count > keep)
            sched_log("warning", "schedule catch-up bounded", e, ",\"missed\":%" PRIu64 ",\"catchup_max\":%d,\"skipped\":%" PRIu64,
                      count, sc->catchup_max, count - keep);
        for (uint64_t k = count - n; k < count; k++) {
            int64_t tick = ring[k % keep];
            int64_t start = sc->mode == SCHEDULE_WINDOW ? tick - sc->window_ns : FERRY_TIME_NONE;
            /* The first queues only when asked to; the others line up behind it. */
            if (!add_run(e, tick, start, busy || k > count - n || sc->concurrency == SCHEDULE_QUEUE))
                break;
        }
    } else {
        /* none: the latest tick alone; one: a single run over everything missed. */
        int64_t from = sc->catchup == SCHEDULE_CATCHUP_ONE ? first : last;
        int64_t start = sc->mode == SCHEDULE_WINDOW ? from - sc->window_ns : FERRY_TIME_NONE;
        add_run(e, last, start, busy || sc->concurrency == SCHEDULE_QUEUE);
    }
    if (sc->catchup == SCHEDULE_CATCHUP_NONE && count > 1)
        for (uint64_t k = 1; k < count && k <= 100000; k++)
            metrics_schedule_run(sc->name, "skipped");
    free(ring);
    for (size_t i = before; i < e->nruns;) {
        size_t n_before = e->nruns;
        submit_run(s, e, i, now);
        if (e->nruns == n_before)
            i++;
    }
}

/* ---------------------------------------------------------------- freshness SLAs */

/* Updates breach states from the registry; returns when the next breach would start. */
static int64_t check_slas(struct scheduler *s, int64_t now)
{
    if (!s->nslas)
        return INT64_MAX;
    struct registry *reg = NULL;
    struct feast_view *vs = NULL;
    size_t n = 0;
    struct ferry_err err = {0};
    if (registry_load(s->cfg->registry_path, &reg, &err) != 0 || registry_views(reg, s->cfg->project, &vs, &n, &err) != 0) {
        LOG_WARN("freshness SLAs not checked: %s", err.msg);
        registry_free(reg);
        return now + 60 * FERRY_NS_PER_SEC;
    }
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < s->nslas; i++) {
        struct sla_view *sv = &s->slas[i];
        int64_t last = FERRY_TIME_NONE;
        for (size_t k = 0; k < n; k++)
            if (strcmp(vs[k].name, sv->view) == 0)
                last = engine_view_last_end(&vs[k]);
        /* Never materialized counts as stale: nothing fresh is being served. */
        bool breached = last == FERRY_TIME_NONE || now - last > sv->sla_ns;
        if (!breached && last + sv->sla_ns + 1 < due)
            due = last + sv->sla_ns + 1;
        int state = breached ? 1 : 0;
        if (state == sv->state)
            continue;
        char extra[1024], t[FERRY_TIME_BUF];
        struct fbuf x;
        fbuf_init(&x, sizeof extra);
        fbuf_adds(&x, ",\"feature_view\":");
        fbuf_add_json_str(&x, sv->view, strlen(sv->view));
        fbuf_addf(&x, ",\"freshness_sla_seconds\":%.3f", (double)sv->sla_ns / 1e9);
        if (last == FERRY_TIME_NONE)
            fbuf_adds(&x, ",\"last_end\":null,\"freshness_seconds\":null");
        else
            fbuf_addf(&x, ",\"last_end\":\"%s\",\"freshness_seconds\":%.3f", ferry_time_format_iso(last, t),
                      (double)(now - last) / 1e9);
        /* The first check logs only a breach: "met" at startup is not news. */
        if (breached || sv->state == 1)
            svc_log(breached ? "warning" : "info", breached ? "freshness SLA breached" : "freshness SLA met again",
                    x.data);
        fbuf_cleanup(&x);
        sv->state = state;
        metrics_sla(sv->view, breached);
    }
    registry_views_free(vs, n);
    registry_free(reg);
    return due;
}

/* ---------------------------------------------------------------- step */

int64_t scheduler_step(struct scheduler *s)
{
    int64_t now = s->clock->now(s->clock->ctx);
    int64_t due = INT64_MAX;
    for (size_t k = 0; k < s->n; k++) {
        struct sched_entry *e = &s->e[k];
        /* Runs in progress first, so a finished run frees its views for this step's tick. */
        for (size_t i = 0; i < e->nruns;) {
            struct sched_run *r = &e->runs[i];
            if (r->state == RUN_ACTIVE) {
                if (!follow_run(s, e, i, now, &due))
                    i++;
            } else if (r->state == RUN_RETRY && now >= r->retry_at) {
                size_t n_before = e->nruns;
                submit_run(s, e, i, now);
                if (e->nruns == n_before) {
                    if (e->runs[i].state == RUN_RETRY && e->runs[i].retry_at < due)
                        due = e->runs[i].retry_at;
                    if (e->runs[i].state == RUN_ACTIVE && now + POLL_NS < due)
                        due = now + POLL_NS;
                    i++;
                }
            } else {
                if (r->state == RUN_RETRY && r->retry_at < due)
                    due = r->retry_at;
                i++;
            }
        }
        if (e->next_tick <= now)
            take_ticks(s, e, now);
        for (size_t i = 0; i < e->nruns; i++)
            if (e->runs[i].state == RUN_ACTIVE && now + POLL_NS < due)
                due = now + POLL_NS;
        if (e->next_tick < due)
            due = e->next_tick;
        pthread_mutex_lock(&s->mu);
        e->shown_next = e->next_tick;
        pthread_mutex_unlock(&s->mu);
    }
    int64_t sla_due = check_slas(s, now);
    return sla_due < due ? sla_due : due;
}

void scheduler_wait_jobs(struct scheduler *s)
{
    for (size_t k = 0; k < s->n; k++)
        for (size_t i = 0; i < s->e[k].nruns; i++)
            if (s->e[k].runs[i].state == RUN_ACTIVE)
                jobs_wait(s->jobs, s->e[k].runs[i].job, NULL);
}

/* ---------------------------------------------------------------- start and stop */

static void *thread_main(void *arg)
{
    struct scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->mu);
        int64_t due = scheduler_step(s);
        pthread_mutex_lock(&s->mu);
        if (!s->stopping)
            s->clock->wait_until(s->clock->ctx, &s->cv, &s->mu, due);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The timing of a schedule: cron in its zone, or a fixed interval. Errors name the yaml line. */
static int entry_timing(const struct ferry_config *cfg, struct sched_entry *e, struct ferry_err *err)
{
    const struct schedule_config *sc = e->sc;
    const char *file = base_name(cfg->yaml_path);
    struct ferry_err e2 = {0};
    if (ferry_tz_load(sc->timezone ? sc->timezone : "UTC", &e->tz, &e2) != 0)
        return ferry_errf(err, FERRY_ECONFIG, "%s:%d: schedule '%s': timezone: %s", file, sc->timezone_line,
                          sc->name, e2.msg);
    int rc = sc->cron ? cron_parse(sc->cron, e->tz, &e->cron, &e2) : cron_every(sc->every_ns, &e->cron, &e2);
    if (rc)
        return ferry_errf(err, FERRY_ECONFIG, "%s:%d: schedule '%s': %s '%s': %s", file, sc->cron_line, sc->name,
                          sc->cron ? "cron" : "every", sc->cron ? sc->cron : "", e2.msg);
    return 0;
}

/* Views named by schedules (views and freshness_sla keys) must exist and be materializable. */
static int check_views(const struct ferry_config *cfg, const struct feast_view *vs, size_t n, struct ferry_err *err)
{
    const char *file = base_name(cfg->yaml_path);
    for (size_t i = 0; i < cfg->ferry.nschedules; i++) {
        const struct schedule_config *sc = &cfg->ferry.schedules[i];
        for (size_t k = 0; k < sc->nviews + sc->nslas; k++) {
            const char *name = k < sc->nviews ? sc->views[k] : sc->slas[k - sc->nviews].view;
            int line = k < sc->nviews ? sc->view_lines[k] : sc->slas[k - sc->nviews].line;
            const struct feast_view *v = NULL;
            for (size_t j = 0; j < n && !v; j++)
                if (strcmp(vs[j].name, name) == 0)
                    v = &vs[j];
            if (!v)
                return ferry_errf(err, FERRY_ECONFIG, "%s:%d: schedule '%s': %s: unknown feature view '%s' in project '%s'",
                                  file, line, sc->name, k < sc->nviews ? "views" : "freshness_sla", name, cfg->project);
            if (k < sc->nviews && (!v->online || v->kind == FEAST_VIEW_ON_DEMAND))
                return ferry_errf(err, FERRY_ECONFIG, "%s:%d: schedule '%s': views: feature view '%s' cannot be "
                                  "materialized (%s)", file, line, sc->name, name,
                                  v->kind == FEAST_VIEW_ON_DEMAND ? "on-demand" : "online: false");
        }
    }
    return 0;
}

/* The views with an SLA and their (smallest) SLA: config_view_sla over the registry's views. */
static void collect_slas(struct scheduler *s, const struct feast_view *vs, size_t n)
{
    s->slas = xcalloc(n + 1, sizeof *s->slas);
    for (size_t i = 0; i < n; i++) {
        int64_t sla = config_view_sla(s->cfg, vs[i].name);
        if (!sla)
            continue;
        s->slas[s->nslas++] = (struct sla_view){.view = xstrdup(vs[i].name), .sla_ns = sla, .state = -1};
    }
}

static void free_entries(struct scheduler *s)
{
    for (size_t k = 0; k < s->n; k++) {
        cron_free(s->e[k].cron);
        ferry_tz_free(s->e[k].tz);
        free(s->e[k].runs);
    }
    free(s->e);
    for (size_t i = 0; i < s->nslas; i++)
        free(s->slas[i].view);
    free(s->slas);
}

int scheduler_start(const struct ferry_config *cfg, struct job_manager *jobs, const struct sched_clock *clock,
                    bool run_thread, struct scheduler **out, struct ferry_err *err)
{
    *out = NULL;
    struct scheduler *s = xcalloc(1, sizeof *s);
    s->cfg = cfg;
    s->jobs = jobs;
    s->db = jobs_state_db(jobs);
    s->clock = clock ? clock : sched_real_clock();
    s->n = cfg->ferry.nschedules;
    s->e = xcalloc(s->n + 1, sizeof *s->e);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int64_t now = s->clock->now(s->clock->ctx);
    s->rng = (uint64_t)now ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
    if (!s->rng)
        s->rng = 0x9e3779b97f4a7c15u;
    int rc = 0;
    for (size_t k = 0; k < s->n && !rc; k++) {
        s->e[k].sc = &cfg->ferry.schedules[k];
        snprintf(s->e[k].trigger, sizeof s->e[k].trigger, "schedule:%s", cfg->ferry.schedules[k].name);
        rc = entry_timing(cfg, &s->e[k], err);
    }
    if (!rc && s->n) {
        struct registry *reg = NULL;
        struct feast_view *vs = NULL;
        size_t n = 0;
        rc = registry_load(cfg->registry_path, &reg, err);
        if (rc == FERRY_ENOTFOUND)
            rc = ferry_errf(err, FERRY_ECONFIG, "schedules need the registry, but %s does not exist: run `ferry apply` "
                            "first", cfg->registry_path);
        if (!rc)
            rc = registry_views(reg, cfg->project, &vs, &n, err);
        if (!rc)
            rc = check_views(cfg, vs, n, err);
        if (!rc)
            collect_slas(s, vs, n);
        registry_views_free(vs, n);
        registry_free(reg);
    }
    /* Where each schedule left off: ticks after its last handled one are missed (catch-up);
     * a schedule never run before starts with the next tick. */
    for (size_t k = 0; k < s->n && !rc; k++) {
        struct sched_entry *e = &s->e[k];
        int found = state_schedule_get(s->db, e->sc->name, &e->row, err);
        if (found < 0) {
            rc = found;
            break;
        }
        e->done_tick = e->row.last_tick;
        e->next_tick = e->done_tick != FERRY_TIME_NONE ? cron_next(e->cron, e->done_tick) : cron_next(e->cron, now);
        e->shown_next = e->next_tick;
        /* A run left by a dead process was marked interrupted by jobs_start; it is simply missed.
         * (Shared: a queued or running run may be another replica's, live; shown as it is.) */
        if (!state_is_shared(s->db) &&
            (strcmp(e->row.last_status, "queued") == 0 || strcmp(e->row.last_status, "running") == 0))
            snprintf(e->row.last_status, sizeof e->row.last_status, "interrupted");
    }
    if (!rc && run_thread) {
        if (pthread_create(&s->thread, NULL, thread_main, s) != 0)
            rc = ferry_errf(err, FERRY_EINTERNAL, "cannot start the scheduler thread");
        else
            s->has_thread = true;
    }
    if (rc) {
        free_entries(s);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return rc;
    }
    if (s->n) {
        char extra[64];
        snprintf(extra, sizeof extra, ",\"schedules\":%zu", s->n);
        svc_log("info", "scheduler started", extra);
    }
    *out = s;
    return 0;
}

void scheduler_halt(struct scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->has_thread)
        pthread_join(s->thread, NULL);
    s->has_thread = false;
}

void scheduler_stop(struct scheduler *s)
{
    if (!s)
        return;
    scheduler_halt(s);
    free_entries(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---------------------------------------------------------------- listings */

int scheduler_list_json(struct scheduler *s, struct fbuf *out, struct ferry_err *err)
{
    /* Shared: another replica may have run the last tick, so the row comes from the database (read
     * before taking s->mu: network I/O). */
    bool shared = state_is_shared(s->db);
    struct state_schedule *rows = shared ? xcalloc(s->n + 1, sizeof *rows) : NULL;
    for (size_t k = 0; shared && k < s->n; k++) {
        int rc = state_schedule_get(s->db, s->e[k].sc->name, &rows[k], err);
        if (rc < 0) {
            free(rows);
            return rc;
        }
    }
    fbuf_addc(out, '[');
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < s->n; k++) {
        if (k)
            fbuf_addc(out, ',');
        render_schedule(out, s->e[k].sc, s->e[k].shown_next, shared ? &rows[k] : &s->e[k].row);
    }
    pthread_mutex_unlock(&s->mu);
    free(rows);
    fbuf_addc(out, ']');
    if (!out->data || !out->len)
        return ferry_errf(err, FERRY_ELIMIT, "the schedule list does not fit in the response");
    return 0;
}

int service_schedules_json(const struct ferry_config *cfg, int64_t now, struct fbuf *out, struct ferry_err *err)
{
    struct state_db *db = NULL;
    int rc = state_open(cfg->ferry.state_path, false, &db, err);
    if (rc == FERRY_ENOTFOUND) {
        db = NULL;   /* never served: no runs yet */
        rc = 0;
    }
    if (rc)
        return rc;
    fbuf_addc(out, '[');
    for (size_t k = 0; k < cfg->ferry.nschedules && !rc; k++) {
        struct sched_entry e = {.sc = &cfg->ferry.schedules[k]};
        if ((rc = entry_timing(cfg, &e, err)) != 0)
            break;
        struct state_schedule row = {.last_tick = FERRY_TIME_NONE, .last_run = FERRY_TIME_NONE};
        if (db && (rc = state_schedule_get(db, e.sc->name, &row, err)) > 0)
            rc = 0;
        if (!rc) {
            if (k)
                fbuf_addc(out, ',');
            /* Without the service's memory, the next run is the next tick after now (a stopped
             * service also catches up on the missed ones when it starts, per catchup). */
            render_schedule(out, e.sc, cron_next(e.cron, now), &row);
        }
        cron_free(e.cron);
        ferry_tz_free(e.tz);
    }
    fbuf_addc(out, ']');
    state_close(db);
    if (!rc && (!out->data || !out->len))
        rc = ferry_errf(err, FERRY_ELIMIT, "the schedule list is too large");
    return rc;
}
