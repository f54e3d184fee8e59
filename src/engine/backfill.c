/* Backfills (engine.h): a pure planner that splits [start, end] into chunk-sized windows per view
 * and marks those already covered by the view's recorded intervals, and a runner that materializes
 * the rest with one engine_run per view and window.
 *
 * Why one engine_run per window: each window is then recorded in the registry the moment its rows
 * are in the online store, so a failure or a kill loses at most the window that was running, and
 * a rerun (which re-plans against the registry) resumes at the first unfinished window.
 *
 * Why a view's windows run in order and never in parallel: a view stops at its first failed
 * window, so what it recorded is a prefix [start, failed window's start] that merges into one
 * interval. (Running them in parallel would be safe for the online store, whose upsert keeps the
 * newer row, but a failure would leave holes and a less obvious resume point.) Parallelism is
 * across views, each view on one worker thread at a time. */
#include "engine/engine_internal.h"

#include "core/time.h"
#include "core/util.h"
#include "registry/registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *backfill_status_name(int status)
{
    static const char *const names[] = {"pending", "skipped", "succeeded", "failed", "not_run"};
    return status >= 0 && status < (int)FERRY_ARRAY_LEN(names) ? names[status] : "unknown";
}

void backfill_plan_cleanup(struct backfill_plan *p)
{
    for (size_t i = 0; i < p->nviews; i++) {
        free(p->views[i].view);
        free(p->views[i].windows);
    }
    free(p->views);
    memset(p, 0, sizeof *p);
}

bool backfill_covered(const struct feast_interval *intervals, size_t n, int64_t start_ns, int64_t end_ns)
{
    if (!n)
        return false;
    /* Merge a copy the way the registry does (touching inclusive intervals join), so a window that
     * straddles two recorded pieces which touch still counts as covered. */
    struct feast_interval *merged = NULL;
    size_t nm = 0;
    for (size_t i = 0; i < n; i++)
        registry_merge_interval(&merged, &nm, intervals[i]);
    bool covered = false;
    for (size_t i = 0; i < nm && !covered; i++)
        covered = merged[i].start_ns <= start_ns && end_ns <= merged[i].end_ns;
    free(merged);
    return covered;
}

/* Number of windows of [start, end] (start <= end, chunk > 0): ceil((end - start) / chunk), and
 * one for an empty range. Computed in unsigned arithmetic: end - start may not fit in int64. */
static uint64_t window_count(int64_t start_ns, int64_t end_ns, int64_t chunk_ns)
{
    uint64_t span = (uint64_t)end_ns - (uint64_t)start_ns;
    uint64_t c = (uint64_t)chunk_ns;
    uint64_t k = span / c + (span % c != 0);
    return k ? k : 1;
}

int backfill_plan_windows(const struct feast_view *const *views, size_t nviews, int64_t start_ns, int64_t end_ns,
                          int64_t chunk_ns, size_t max_windows, struct backfill_plan *plan, struct ferry_err *err)
{
    memset(plan, 0, sizeof *plan);
    char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
    if (start_ns > end_ns)
        return ferry_errf(err, FERRY_EUSAGE, "backfill start %s is after end %s", ferry_time_format_iso(start_ns, a),
                          ferry_time_format_iso(end_ns, b));
    if (chunk_ns <= 0)
        return ferry_errf(err, FERRY_EUSAGE, "backfill chunk must be positive, got %lld ns", (long long)chunk_ns);
    uint64_t per_view = window_count(start_ns, end_ns, chunk_ns);
    if (per_view > max_windows || (nviews && per_view * nviews > max_windows))
        return ferry_errf(err, FERRY_EUSAGE,
                          "backfill from %s to %s in chunks of %llds is %llu windows for %zu views, over the limit of %zu;"
                          " use a larger chunk or a shorter range",
                          ferry_time_format_iso(start_ns, a), ferry_time_format_iso(end_ns, b),
                          (long long)(chunk_ns / FERRY_NS_PER_SEC), (unsigned long long)(per_view * (nviews ? nviews : 1)),
                          nviews, max_windows);
    plan->start_ns = start_ns;
    plan->end_ns = end_ns;
    plan->chunk_ns = chunk_ns;
    plan->views = xcalloc(nviews + 1, sizeof *plan->views);
    for (size_t i = 0; i < nviews; i++) {
        const struct feast_view *v = views[i];
        struct backfill_view *bv = &plan->views[plan->nviews++];
        bv->view = xstrdup(v->name);
        bv->failed_window = -1;
        bv->windows = xcalloc((size_t)per_view, sizeof *bv->windows);
        int64_t s = start_ns;
        for (uint64_t k = 0; k < per_view; k++) {
            struct backfill_window *w = &bv->windows[bv->nwindows++];
            /* end - s fits: s < end here (or s == end for the single empty window). */
            int64_t e = (uint64_t)end_ns - (uint64_t)s > (uint64_t)chunk_ns ? s + chunk_ns : end_ns;
            w->start_ns = s;
            w->end_ns = e;
            if (backfill_covered(v->intervals, v->nintervals, s, e)) {
                w->status = BACKFILL_SKIPPED;
                bv->nskipped++;
            }
            s = e;
        }
        plan->windows_total += bv->nwindows;
        plan->windows_skipped += bv->nskipped;
    }
    return 0;
}

int backfill_plan(const struct ferry_config *cfg, const struct backfill_request *req, struct backfill_plan *plan,
                  struct ferry_err *err)
{
    memset(plan, 0, sizeof *plan);
    int64_t chunk = req->chunk_ns ? req->chunk_ns : BACKFILL_DEFAULT_CHUNK_NS;
    if (chunk <= 0)
        return ferry_errf(err, FERRY_EUSAGE, "backfill chunk must be positive");
    if (req->start_ns > req->end_ns) {   /* a usage error here, not the materialize planner's EINVAL */
        char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
        return ferry_errf(err, FERRY_EUSAGE, "backfill start %s is after end %s",
                          ferry_time_format_iso(req->start_ns, a), ferry_time_format_iso(req->end_ns, b));
    }
    struct feast_view *views = NULL;
    size_t nviews = 0;
    int rc = engine_load_views(cfg, &views, &nviews, err);
    if (rc)
        return rc;
    /* The materialize planner does the view selection and its checks, and clamps the end to now. */
    struct engine_request ereq = {.mode = ENGINE_MATERIALIZE, .start_ns = req->start_ns, .end_ns = req->end_ns,
                                  .views = req->views, .nviews = req->nviews, .now_ns = req->now_ns};
    struct engine_plan ep;
    if ((rc = engine_plan_views(cfg, &ereq, views, nviews, &ep, err)) != 0)
        goto out;
    const struct feast_view **chosen = xcalloc(ep.nruns + 1, sizeof *chosen);
    for (size_t i = 0; i < ep.nruns; i++)
        for (size_t k = 0; k < nviews && !chosen[i]; k++)
            if (views[k].kind != FEAST_VIEW_ON_DEMAND && strcmp(views[k].name, ep.runs[i].view) == 0)
                chosen[i] = &views[k];
    /* A start after the clamped end (a range wholly in the future) leaves nothing to do. */
    if (req->start_ns > ep.end_ns) {
        plan->start_ns = req->start_ns;
        plan->end_ns = ep.end_ns;
        plan->chunk_ns = chunk;
        plan->views = xcalloc(ep.nruns + 1, sizeof *plan->views);
        for (size_t i = 0; i < ep.nruns; i++) {
            plan->views[plan->nviews].view = xstrdup(ep.runs[i].view);
            plan->views[plan->nviews++].failed_window = -1;
        }
    } else {
        rc = backfill_plan_windows(chosen, ep.nruns, req->start_ns, ep.end_ns, chunk, BACKFILL_MAX_WINDOWS, plan,
                                   err);
    }
    free(chosen);
    engine_plan_cleanup(&ep);
out:
    registry_views_free(views, nviews);
    return rc;
}

/* ---------------------------------------------------------------- the runner */

struct runner {
    const struct ferry_config *cfg;
    const struct backfill_request *req;
    struct backfill_plan *plan;
    pthread_mutex_t mu;           /* guards everything below and every callback */
    size_t next_view;
    uint64_t *running_rows;       /* per view: rows read so far by its running window */
    struct backfill_progress prog;
    struct timespec t0;
    int first_rc;
    struct ferry_err first_err;
};

struct window_ctx {
    struct runner *r;
    size_t view;
};

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Caller holds r->mu. Rows of finished windows are in prog.rows already; add the running ones. */
static struct backfill_progress snapshot(struct runner *r)
{
    struct backfill_progress p = r->prog;
    for (size_t i = 0; i < r->plan->nviews; i++)
        p.rows += r->running_rows[i];
    p.seconds = since(&r->t0);
    return p;
}

static void on_engine_progress(void *ctx, const struct engine_view_run *run, uint64_t rows, double secs)
{
    (void)run;
    (void)secs;
    struct window_ctx *w = ctx;
    struct runner *r = w->r;
    pthread_mutex_lock(&r->mu);
    r->running_rows[w->view] = rows;
    if (r->req->cb.progress) {
        struct backfill_progress p = snapshot(r);
        r->req->cb.progress(r->req->cb.ctx, r->plan, &p);
    }
    pthread_mutex_unlock(&r->mu);
}

static bool canceled(const struct runner *r)
{
    return r->req->cancel && *r->req->cancel;
}

/* Runs one view's pending windows in order; stops at the first failure. */
static void run_view(struct runner *r, size_t vi)
{
    struct backfill_view *bv = &r->plan->views[vi];
    const char *names[1] = {bv->view};
    for (size_t k = 0; k < bv->nwindows; k++) {
        struct backfill_window *w = &bv->windows[k];
        if (w->status != BACKFILL_PENDING)
            continue;
        if (canceled(r) || bv->failed_window >= 0) {
            w->status = BACKFILL_NOT_RUN;
            continue;
        }
        pthread_mutex_lock(&r->mu);
        if (r->req->cb.window_start)
            r->req->cb.window_start(r->req->cb.ctx, r->plan, vi, k);
        pthread_mutex_unlock(&r->mu);

        struct window_ctx wc = {.r = r, .view = vi};
        struct engine_request ereq = {
            .mode = ENGINE_MATERIALIZE, .start_ns = w->start_ns, .end_ns = w->end_ns, .views = names, .nviews = 1,
            .now_ns = r->req->now_ns, .cancel = r->req->cancel,
            .cb = {.ctx = &wc, .progress = on_engine_progress},
        };
        struct engine_plan ep;
        struct ferry_err e = {0};
        int rc = engine_run(r->cfg, &ereq, &ep, &e);
        if (ep.nruns == 1) {
            w->rows_read = ep.runs[0].rows_read;
            w->rows_written = ep.runs[0].rows_written;
            w->rows_skipped = ep.runs[0].rows_skipped;
            w->seconds = ep.runs[0].seconds;
        }
        engine_plan_cleanup(&ep);

        pthread_mutex_lock(&r->mu);
        r->running_rows[vi] = 0;
        r->prog.rows += w->rows_read;
        if (rc) {
            char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
            if (!strstr(e.msg, bv->view))
                ferry_err_prefix(&e, "feature view '%s': ", bv->view);
            ferry_err_prefix(&e, "backfill window %zu of %zu [%s, %s]: ", k + 1, bv->nwindows,
                             ferry_time_format_iso(w->start_ns, a), ferry_time_format_iso(w->end_ns, b));
            w->status = BACKFILL_FAILED;
            w->rc = rc;
            snprintf(w->error, sizeof w->error, "%s", e.msg);
            bv->failed_window = (long)k;
            r->prog.windows_failed++;
            if (!r->first_rc) {
                r->first_rc = rc;
                r->first_err = e;
            }
        } else {
            w->status = BACKFILL_SUCCEEDED;
            r->prog.windows_done++;
        }
        if (r->req->cb.window_done) {
            struct backfill_progress p = snapshot(r);
            r->req->cb.window_done(r->req->cb.ctx, r->plan, vi, k, &p);
        }
        pthread_mutex_unlock(&r->mu);
    }
}

static void *worker_main(void *arg)
{
    struct runner *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        size_t vi = r->next_view++;
        pthread_mutex_unlock(&r->mu);
        if (vi >= r->plan->nviews)
            return NULL;
        run_view(r, vi);
    }
}

int backfill_run(const struct ferry_config *cfg, const struct backfill_request *req, struct backfill_plan *plan,
                 struct ferry_err *err)
{
    int rc = backfill_plan(cfg, req, plan, err);
    if (rc)
        return rc;
    struct runner r = {.cfg = cfg, .req = req, .plan = plan};
    pthread_mutex_init(&r.mu, NULL);
    r.running_rows = xcalloc(plan->nviews + 1, sizeof *r.running_rows);
    r.prog.windows_total = plan->windows_total;
    r.prog.windows_skipped = plan->windows_skipped;
    r.prog.windows_to_run = plan->windows_total - plan->windows_skipped;
    clock_gettime(CLOCK_MONOTONIC, &r.t0);

    size_t busy_views = 0;
    for (size_t i = 0; i < plan->nviews; i++)
        busy_views += plan->views[i].nskipped < plan->views[i].nwindows;
    int parallel = req->parallel < 1 ? 1 : req->parallel > BACKFILL_MAX_PARALLEL ? BACKFILL_MAX_PARALLEL : req->parallel;
    size_t nthreads = (size_t)parallel < busy_views ? (size_t)parallel : busy_views;
    pthread_t threads[BACKFILL_MAX_PARALLEL];
    size_t started = 0;
    /* The calling thread is one of the workers; extra threads only when asked for and useful. */
    for (size_t i = 1; i < nthreads; i++) {
        if (pthread_create(&threads[started], NULL, worker_main, &r) != 0)
            break;   /* fewer workers is slower, not wrong */
        started++;
    }
    worker_main(&r);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);

    if (!r.first_rc && canceled(&r))
        for (size_t i = 0; i < plan->nviews && !r.first_rc; i++)
            for (size_t k = 0; k < plan->views[i].nwindows; k++)
                if (plan->views[i].windows[k].status == BACKFILL_NOT_RUN) {
                    r.first_rc = ferry_errf(&r.first_err, FERRY_ECANCELED, "backfill canceled before feature view '%s' finished",
                                            plan->views[i].view);
                    break;
                }
    rc = r.first_rc;
    if (rc && err)
        *err = r.first_err;
    free(r.running_rows);
    pthread_mutex_destroy(&r.mu);
    return rc;
}
