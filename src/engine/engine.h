/* The engine: which views to materialize and over which windows (Feast's rules, feast-compat.md
 * §2.1-2.3), the read -> encode -> write pipeline for one view and window, recording the interval
 * in the registry only after every row is written, and online feature retrieval (§8.3).
 * Callers (cli, service) own the request and the results; the engine owns nothing after return. */
#ifndef FERRY_ENGINE_H
#define FERRY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "feast/feast.h"

enum engine_mode { ENGINE_MATERIALIZE = 1, ENGINE_INCREMENTAL = 2 };

/* One view's planned window and, after the run, its outcome. */
struct engine_view_run {
    char *view;
    int64_t start_ns, end_ns;     /* window actually used (end clamped to now) */
    bool incremental;             /* planned by materialize-incremental */
    bool ttl_zero_default;        /* incremental start defaulted to 1 year because ttl is 0 */
    bool up_to_date;              /* nothing to do: start is at or after the (clamped) end */
    int rc;                       /* 0 or FERRY_E* */
    char error[FERRY_ERR_MSG_MAX];
    uint64_t rows_read;           /* entity rows read from the offline store (latest per key) */
    uint64_t rows_written;        /* entity rows stored */
    uint64_t rows_skipped;        /* entity rows not stored: the online store had a newer row */
    uint64_t batches;
    double seconds;
};

struct engine_plan {
    int mode;
    int64_t start_ns, end_ns;     /* as requested (end after clamping); start unused for incremental */
    char *online_type;            /* for the header line */
    struct engine_view_run *runs;
    size_t nruns;
};
void engine_plan_cleanup(struct engine_plan *p);

struct engine_callbacks {
    void *ctx;
    void (*plan)(void *ctx, const struct engine_plan *plan);                    /* before any view */
    void (*view_start)(void *ctx, const struct engine_view_run *run);
    void (*progress)(void *ctx, const struct engine_view_run *run, uint64_t rows, double seconds);
    void (*view_done)(void *ctx, const struct engine_view_run *run);
};

struct engine_request {
    int mode;                     /* enum engine_mode */
    int64_t start_ns;             /* ENGINE_MATERIALIZE only */
    int64_t end_ns;
    const char *const *views;     /* NULL or empty = every eligible view */
    size_t nviews;
    int64_t lookback_ns;          /* ENGINE_INCREMENTAL: start this much before the last recorded end,
                                   * to re-read late-arriving rows (0 = none) */
    int64_t now_ns;               /* 0 = the real clock (tests and the scheduler pass their time) */
    const volatile int *cancel;   /* may be NULL */
    struct engine_callbacks cb;
};

/* Plans without running: loads the registry, selects views, computes windows. Errors (unknown
 * view, disabled view, start after end, missing registry) leave everything untouched. */
int engine_plan(const struct ferry_config *cfg, const struct engine_request *req, struct engine_plan *plan,
                struct ferry_err *err);
/* Plans and runs every view in order. Returns 0 when every view succeeded; otherwise the first
 * failure's code (err names the view). Each view's outcome is in plan->runs. */
int engine_run(const struct ferry_config *cfg, const struct engine_request *req, struct engine_plan *plan,
               struct ferry_err *err);

/* ---- online feature retrieval (get-online-features) ---- */
struct engine_entity_column {
    char *name;                   /* join key */
    char **values;                /* textual values as given; converted by the view's key type */
    size_t nvalues;
    int *json_types;              /* optional: per value, 1 = was a JSON number, 2 = JSON string, 0 = text */
};
struct engine_features_request {
    char **features;              /* "view:feature" */
    size_t nfeatures;
    struct engine_entity_column *entities;
    size_t nentities;
    bool full_feature_names;      /* name columns view__feature */
};
/* Reads the online store and appends Feast's JSON response (column-major results, then metadata). */
int engine_get_online_features(const struct ferry_config *cfg, const struct engine_features_request *req,
                               struct fbuf *json, struct ferry_err *err);

/* Interval helper shared with the service: a view's freshness end, FERRY_TIME_NONE if never. */
int64_t engine_view_last_end(const struct feast_view *v);

#endif
