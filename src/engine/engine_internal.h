/* Private to engine/: planning over already-loaded views, the pipeline for one view and window. */
#ifndef FERRY_ENGINE_INTERNAL_H
#define FERRY_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "offline/offline.h"
#include "online/online.h"

int engine_load_views(const struct ferry_config *cfg, struct feast_view **views, size_t *n,
                      struct ferry_err *err);
/* The error for a registry file that does not exist. */
int engine_registry_missing(const struct ferry_config *cfg, struct ferry_err *err);
/* A shared read-only snapshot of the project's views, reloaded when the registry file changes. */
struct views_snapshot;
int engine_views_acquire(const struct ferry_config *cfg, struct views_snapshot **snap, const struct feast_view **views,
                         size_t *n, struct ferry_err *err);
void engine_views_release(struct views_snapshot *snap);

int engine_plan_views(const struct ferry_config *cfg, const struct engine_request *req,
                      const struct feast_view *views, size_t nviews, struct engine_plan *plan,
                      struct ferry_err *err);

/* Reads the window from the offline store and writes it to the online store, a reader thread
 * filling a bounded queue of batches and the calling thread draining it. Records nothing. */
struct pipeline_args {
    const struct ferry_config *cfg;
    const struct feast_view *view;
    const struct feast_schema *schema;
    struct offline_store *offline;
    struct online_store *online;
    const volatile int *cancel;
    const struct engine_callbacks *cb;
};
int engine_pipeline_run(const struct pipeline_args *a, struct engine_view_run *run, struct ferry_err *err);

#endif
