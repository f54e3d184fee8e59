/* Private to engine/: planning over already-loaded views, the pipeline for one view and window. */
#ifndef FERRY_ENGINE_INTERNAL_H
#define FERRY_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "offline/offline.h"
#include "online/online.h"

int engine_load_views(const struct ferry_config *cfg, struct feast_view **views, size_t *n,
                      struct ferry_err *err);
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
