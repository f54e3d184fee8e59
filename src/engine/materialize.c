/* engine_run: plan, check every selected view's source before writing anything, then for each
 * view run the pipeline and record the interval in the registry only when every row is written.
 * A view that fails records nothing; the other views still run and the first failure is returned. */
#include "engine/engine_internal.h"

#include "core/log.h"
#include "core/util.h"
#include "registry/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct feast_view *view_by_name(const struct feast_view *views, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (views[i].kind != FEAST_VIEW_ON_DEMAND && strcmp(views[i].name, name) == 0)
            return &views[i];
    return NULL;
}

static void fail_run(struct engine_view_run *run, const struct ferry_err *e)
{
    run->rc = e->code;
    snprintf(run->error, sizeof run->error, "%s", e->msg);
}

/* Source problems (missing file, column, wrong type) and undefined key types are found here for
 * every view, before any write, so bad input changes nothing. */
static int check_views(const struct ferry_config *cfg, struct offline_store *off, const struct feast_view *views,
                       size_t nviews, struct engine_plan *plan, struct ferry_err *err)
{
    for (size_t i = 0; i < plan->nruns; i++) {
        struct engine_view_run *run = &plan->runs[i];
        if (run->up_to_date)
            continue;
        const struct feast_view *v = view_by_name(views, nviews, run->view);
        struct feast_schema schema;
        int rc = feast_schema_init(&schema, v, cfg->key_version, err);
        if (rc) {
            fail_run(run, err);
            return rc;
        }
        struct offline_pull pull = {.view = v, .schema = &schema, .start_ns = run->start_ns,
                                    .end_ns = run->end_ns};
        rc = offline_check(off, &pull, err);
        feast_schema_cleanup(&schema);
        if (rc) {
            fail_run(run, err);
            return rc;
        }
    }
    return 0;
}

static int run_view(const struct ferry_config *cfg, const struct engine_request *req, const struct feast_view *v,
                    struct offline_store *off, struct online_store *on, struct engine_view_run *run,
                    struct ferry_err *err)
{
    struct feast_schema schema;
    int rc = feast_schema_init(&schema, v, cfg->key_version, err);
    if (rc)
        return rc;
    schema.no_value_text = !online_writes_value_text(on);
    /* No online_prepare here: the store creates a missing table on first write and writes an
     * existing table in whatever Feast schema it has, without migrating it behind `apply`'s back. */
    struct pipeline_args args = {.cfg = cfg, .view = v, .schema = &schema, .offline = off, .online = on,
                                 .cancel = req->cancel, .cb = &req->cb};
    if ((rc = engine_pipeline_run(&args, run, err)) != 0)
        goto out;
    rc = registry_record_materialization(cfg->registry_path, cfg->project, v->name, run->start_ns,
                                         run->end_ns, err);
out:
    feast_schema_cleanup(&schema);
    return rc;
}

int engine_run(const struct ferry_config *cfg, const struct engine_request *req, struct engine_plan *plan,
               struct ferry_err *err)
{
    struct feast_view *views = NULL;
    size_t nviews = 0;
    struct offline_store *off = NULL;
    struct online_store *on = NULL;
    memset(plan, 0, sizeof *plan);
    int rc = engine_load_views(cfg, &views, &nviews, err);
    if (rc)
        return rc;
    if ((rc = engine_plan_views(cfg, req, views, nviews, plan, err)) != 0)
        goto out;

    size_t todo = 0;
    for (size_t i = 0; i < plan->nruns; i++)
        todo += !plan->runs[i].up_to_date;
    if (todo) {
        if ((rc = offline_open(cfg, &off, err)) != 0)
            goto out;
        if ((rc = check_views(cfg, off, views, nviews, plan, err)) != 0)
            goto out;
        if ((rc = online_open(cfg, &on, err)) != 0)
            goto out;
    }
    if (req->cb.plan)
        req->cb.plan(req->cb.ctx, plan);

    int first_rc = 0;
    struct ferry_err first_err = {0};
    for (size_t i = 0; i < plan->nruns; i++) {
        struct engine_view_run *run = &plan->runs[i];
        if (req->cb.view_start)
            req->cb.view_start(req->cb.ctx, run);
        if (!run->up_to_date) {
            struct ferry_err e = {0};
            int vrc = run_view(cfg, req, view_by_name(views, nviews, run->view), off, on, run, &e);
            if (vrc) {
                if (!strstr(e.msg, run->view))
                    ferry_err_prefix(&e, "feature view '%s': ", run->view);
                fail_run(run, &e);
                LOG_DEBUG("%s", e.msg);
                if (!first_rc) {
                    first_rc = vrc;
                    first_err = e;
                }
            }
        }
        if (req->cb.view_done)
            req->cb.view_done(req->cb.ctx, run);
        if (req->cancel && *req->cancel && !first_rc) {
            first_rc = ferry_errf(&first_err, FERRY_ECANCELED, "canceled");
            break;
        }
    }
    if (first_rc) {
        rc = first_rc;
        if (err)
            *err = first_err;
    }
out:
    online_close(on);
    offline_close(off);
    registry_views_free(views, nviews);
    return rc;
}
