/* Planning: which views a request covers (feast-compat.md §2.1) and the window of each (§2.2,
 * §2.3), with ferry's improvements: an end in the future is clamped to now, and an incremental run
 * whose start is not before its end is reported as up to date instead of recording an empty or
 * inverted interval. Planning reads the registry and changes nothing. */
#include "engine/engine_internal.h"

#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "registry/registry.h"

#include <stdlib.h>
#include <string.h>

#define WEEK_NS (INT64_C(7) * 24 * 3600 * FERRY_NS_PER_SEC)

void engine_plan_cleanup(struct engine_plan *p)
{
    for (size_t i = 0; i < p->nruns; i++)
        free(p->runs[i].view);
    free(p->runs);
    free(p->online_type);
    memset(p, 0, sizeof *p);
}

int64_t engine_view_last_end(const struct feast_view *v) { return feast_view_max_end(v); }

int engine_registry_missing(const struct ferry_config *cfg, struct ferry_err *err)
{
    return ferry_errf(err, FERRY_ENOTFOUND, "registry %s does not exist: run `ferry apply` (or `feast apply`) first",
                      cfg->registry_path);
}

int engine_load_views(const struct ferry_config *cfg, struct feast_view **views, size_t *n,
                      struct ferry_err *err)
{
    struct registry *reg = NULL;
    int rc = registry_load(cfg->registry_path, &reg, err);
    if (rc == FERRY_ENOTFOUND)
        return engine_registry_missing(cfg, err);
    if (rc)
        return rc;
    rc = registry_views(reg, cfg->project, views, n, err);
    registry_free(reg);
    return rc;
}

/* Finds a view by name, preferring batch, then stream, then on-demand views, as Feast looks them up. */
static const struct feast_view *find_view(const struct feast_view *views, size_t n, const char *name)
{
    static const int order[] = {FEAST_VIEW_BATCH, FEAST_VIEW_STREAM, FEAST_VIEW_ON_DEMAND};
    for (size_t k = 0; k < FERRY_ARRAY_LEN(order); k++)
        for (size_t i = 0; i < n; i++)
            if (views[i].kind == order[k] && strcmp(views[i].name, name) == 0)
                return &views[i];
    return NULL;
}

static int unknown_view_error(const struct feast_view *views, size_t n, const char *project,
                              const char *name, struct ferry_err *err)
{
    struct fbuf names;
    fbuf_init(&names, 1024);
    for (size_t i = 0; i < n && names.len < 900; i++)
        fbuf_addf(&names, "%s%s", i ? ", " : "", views[i].name);
    ferry_errf(err, FERRY_ENOTFOUND, "feature view '%s' not found in project '%s' (available: %s)", name,
               project, names.len ? names.data : "none");
    fbuf_cleanup(&names);
    return FERRY_ENOTFOUND;
}

/* Feast's eligibility for an explicitly named view (§2.1). */
static int check_named(const struct feast_view *v, struct ferry_err *err)
{
    if (v->kind == FEAST_VIEW_ON_DEMAND)
        return ferry_errf(err, FERRY_EINVAL,
                          "'%s' is an on-demand feature view; ferry does not materialize those yet",
                          v->name);
    if (v->disabled)
        return ferry_errf(err, FERRY_EINVAL, "feature view '%s' is disabled", v->name);
    if (!v->online && !v->offline)
        return ferry_errf(err, FERRY_EINVAL, "feature view '%s' has online and offline both false",
                          v->name);
    if (!v->online)
        return ferry_errf(err, FERRY_EINVAL,
                          "feature view '%s' is offline-only (online: false); ferry writes online stores only",
                          v->name);
    return 0;
}

static bool eligible_by_default(const struct feast_view *v)
{
    if (v->kind == FEAST_VIEW_ON_DEMAND) {
        if (v->write_to_online_store && !v->disabled)
            LOG_WARN("skipping on-demand feature view '%s': not supported by ferry yet", v->name);
        return false;
    }
    return v->online && !v->disabled;
}

static void plan_window(const struct engine_request *req, const struct feast_view *v, int64_t now,
                        struct engine_view_run *run)
{
    int64_t end = req->end_ns < now ? req->end_ns : now;
    int64_t start;
    if (req->mode == ENGINE_MATERIALIZE) {
        start = req->start_ns;
    } else {
        int64_t last = feast_view_max_end(v);
        if (last != FERRY_TIME_NONE) {
            start = last - (req->lookback_ns > 0 ? req->lookback_ns : 0);
        } else if (v->ttl_ns > 0) {
            start = now - v->ttl_ns;
        } else {
            start = now - 52 * WEEK_NS;
            run->ttl_zero_default = true;
        }
    }
    run->incremental = req->mode == ENGINE_INCREMENTAL;
    run->start_ns = start;
    run->end_ns = end;
    /* A materialize over [t, t] is allowed (Feast allows start == end); an incremental run whose
     * start reached its end has nothing new to read. */
    run->up_to_date = req->mode == ENGINE_MATERIALIZE ? start > end : start >= end;
}

int engine_plan_views(const struct ferry_config *cfg, const struct engine_request *req,
                      const struct feast_view *views, size_t nviews, struct engine_plan *plan,
                      struct ferry_err *err)
{
    memset(plan, 0, sizeof *plan);
    int64_t now = req->now_ns ? req->now_ns : ferry_now_ns();
    /* Versioned tables ({project}_{view}_v{N}) would need the version from the registry; writing
     * the unversioned table instead would silently feed readers stale data. */
    if (cfg->registry_versioning)
        return ferry_errf(err, FERRY_ECONFIG,
                          "registry.enable_online_feature_view_versioning is not supported by ferry yet");
    if (req->mode == ENGINE_MATERIALIZE && req->start_ns > req->end_ns) {
        char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
        return ferry_errf(err, FERRY_EINVAL, "start %s is after end %s",
                          ferry_time_format_iso(req->start_ns, a), ferry_time_format_iso(req->end_ns, b));
    }
    const struct feast_view **chosen = xcalloc(nviews + req->nviews + 1, sizeof *chosen);
    size_t nchosen = 0;
    int rc = 0;
    if (req->nviews) {
        for (size_t i = 0; i < req->nviews; i++) {
            const struct feast_view *v = find_view(views, nviews, req->views[i]);
            if (!v) {
                rc = unknown_view_error(views, nviews, cfg->project, req->views[i], err);
                goto out;
            }
            if ((rc = check_named(v, err)) != 0)
                goto out;
            bool dup = false;
            for (size_t j = 0; j < nchosen; j++)
                dup |= chosen[j] == v;
            if (!dup)
                chosen[nchosen++] = v;
        }
    } else {
        for (size_t i = 0; i < nviews; i++)
            if (eligible_by_default(&views[i]))
                chosen[nchosen++] = &views[i];
    }
    plan->mode = req->mode;
    plan->start_ns = req->start_ns;
    plan->end_ns = req->end_ns < now ? req->end_ns : now;
    plan->online_type = xstrdup(cfg->online.type ? cfg->online.type : "none");
    plan->runs = xcalloc(nchosen + 1, sizeof *plan->runs);
    for (size_t i = 0; i < nchosen; i++) {
        struct engine_view_run *run = &plan->runs[plan->nruns++];
        run->view = xstrdup(chosen[i]->name);
        plan_window(req, chosen[i], now, run);
    }
out:
    free(chosen);
    return rc;
}

int engine_plan(const struct ferry_config *cfg, const struct engine_request *req, struct engine_plan *plan,
                struct ferry_err *err)
{
    struct feast_view *views = NULL;
    size_t n = 0;
    memset(plan, 0, sizeof *plan);
    int rc = engine_load_views(cfg, &views, &n, err);
    if (rc)
        return rc;
    rc = engine_plan_views(cfg, req, views, n, plan, err);
    registry_views_free(views, n);
    return rc;
}
