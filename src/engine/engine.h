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
    bool keep_store_open;         /* the calling thread keeps the online store open for its next read
                                   * (service threads); closed when the thread exits */
};
/* Reads the online store and appends Feast's JSON response (column-major results, then metadata). */
int engine_get_online_features(const struct ferry_config *cfg, const struct engine_features_request *req,
                               struct fbuf *json, struct ferry_err *err);

/* Interval helper shared with the service: a view's freshness end, FERRY_TIME_NONE if never. */
int64_t engine_view_last_end(const struct feast_view *v);

/* ---- backfills (backfill.c) ----
 * A backfill splits [start, end] into windows of `chunk` per view: [start + k*chunk,
 * min(start + (k+1)*chunk, end)], both ends inclusive like every materialize window. A window is
 * done when one of the view's recorded intervals (merged, inclusive) covers it, so rerunning a
 * backfill skips what earlier runs finished and resumes at the first unfinished window. Each
 * window runs as its own engine_run (one view, one window), so each is recorded on its own. */
#define BACKFILL_DEFAULT_CHUNK_NS (INT64_C(86400) * 1000000000)
#define BACKFILL_MAX_WINDOWS 10000       /* over every view; more is a usage error */
#define BACKFILL_MAX_PARALLEL 16

enum backfill_window_status {
    BACKFILL_PENDING = 0,         /* planned, not run (yet) */
    BACKFILL_SKIPPED,             /* already covered by a recorded interval */
    BACKFILL_SUCCEEDED,
    BACKFILL_FAILED,
    BACKFILL_NOT_RUN,             /* an earlier window of the view failed, or the run was canceled */
};
const char *backfill_status_name(int status);   /* "pending", "skipped", "succeeded", "failed", "not_run" */

struct backfill_window {
    int64_t start_ns, end_ns;
    int status;                   /* enum backfill_window_status */
    int rc;                       /* FERRY_E* of a failed window */
    char error[FERRY_ERR_MSG_MAX];
    uint64_t rows_read, rows_written, rows_skipped;
    double seconds;
};

struct backfill_view {
    char *view;
    struct backfill_window *windows;
    size_t nwindows;
    size_t nskipped;              /* windows already done when planned */
    long failed_window;           /* index of the window that stopped the view, -1 if none */
};

struct backfill_plan {
    int64_t start_ns, end_ns;     /* end clamped to now, as engine_plan does */
    int64_t chunk_ns;
    struct backfill_view *views;
    size_t nviews;
    size_t windows_total, windows_skipped;
};
void backfill_plan_cleanup(struct backfill_plan *p);

/* True when [start, end] lies inside one interval of the list once touching or overlapping
 * intervals are merged (the list need not be sorted or merged). */
bool backfill_covered(const struct feast_interval *intervals, size_t n, int64_t start_ns, int64_t end_ns);

/* The pure planner: windows of each view over [start, end], marked BACKFILL_SKIPPED when covered by
 * the view's intervals. Errors (FERRY_EUSAGE): start after end, chunk <= 0, more than max_windows
 * windows in all (checked before allocating). start == end is one window [start, start]. */
int backfill_plan_windows(const struct feast_view *const *views, size_t nviews, int64_t start_ns, int64_t end_ns,
                          int64_t chunk_ns, size_t max_windows, struct backfill_plan *plan, struct ferry_err *err);

struct backfill_progress {
    size_t windows_total;         /* windows planned over every view */
    size_t windows_skipped;
    size_t windows_done;          /* succeeded in this run */
    size_t windows_failed, windows_to_run;  /* to_run = total - skipped */
    uint64_t rows;                /* entity rows read in this run, including the running windows */
    double seconds;               /* since the run started */
};

struct backfill_callbacks {
    void *ctx;
    /* Called with the runner's lock held, so output from several threads never interleaves.
     * view/window index into plan->views[view].windows[window]. */
    void (*window_start)(void *ctx, const struct backfill_plan *plan, size_t view, size_t window);
    void (*window_done)(void *ctx, const struct backfill_plan *plan, size_t view, size_t window,
                        const struct backfill_progress *progress);
    void (*progress)(void *ctx, const struct backfill_plan *plan, const struct backfill_progress *progress);
};

struct backfill_request {
    int64_t start_ns, end_ns;
    int64_t chunk_ns;             /* 0 = BACKFILL_DEFAULT_CHUNK_NS */
    const char *const *views;     /* NULL or empty = every eligible view (as engine_plan) */
    size_t nviews;
    int parallel;                 /* views run at once, 1..BACKFILL_MAX_PARALLEL (0 = 1) */
    int64_t now_ns;               /* 0 = the real clock */
    const volatile int *cancel;   /* may be NULL; stops at the next batch, later windows not run */
    struct backfill_callbacks cb;
};

/* Selects views as engine_plan does (unknown, disabled, offline-only views are errors), reads
 * their recorded intervals from the registry and plans the windows. Changes nothing. */
int backfill_plan(const struct ferry_config *cfg, const struct backfill_request *req, struct backfill_plan *plan,
                  struct ferry_err *err);
/* Plans, then runs every view's not-done windows in chronological order, one engine_run per window,
 * up to req->parallel views at once. A view stops at its first failed window (failed_window; the
 * later ones are BACKFILL_NOT_RUN), so what it recorded is a clean prefix; other views go on.
 * Returns 0 when every window succeeded or was skipped, else the first failure's code (err names
 * the view and window). */
int backfill_run(const struct ferry_config *cfg, const struct backfill_request *req, struct backfill_plan *plan,
                 struct ferry_err *err);

#endif
