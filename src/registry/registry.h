/* The Feast file registry (registry.db = serialized feast.core.Registry, feast-compat.md §7).
 * A struct registry holds one parsed snapshot; fields ferry does not model are kept and written
 * back unchanged. Every change is a locked read-modify-write of the file (exclusive lock on
 * <path>.lock, reload, change, atomic replace), so concurrent ferry processes never lose updates.
 * Functions returning model objects give the caller copies to clean up with feast_*_cleanup. */
#ifndef FERRY_REGISTRY_H
#define FERRY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "feast/feast.h"

struct registry;

/* Parses the file. A missing file gives FERRY_ENOTFOUND; a malformed one FERRY_ECONFIG. */
int registry_load(const char *path, struct registry **out, struct ferry_err *err);
void registry_free(struct registry *reg);

/* Projects present (field 17 names, plus projects referenced by objects). Caller frees each and the array. */
int registry_projects(const struct registry *reg, char ***names, size_t *n);
/* Entities, feature views (batch and stream), and on-demand views of one project, in registry order. */
int registry_entities(const struct registry *reg, const char *project, struct feast_entity **out,
                      size_t *n, struct ferry_err *err);
int registry_views(const struct registry *reg, const char *project, struct feast_view **out, size_t *n,
                   struct ferry_err *err);
void registry_views_free(struct feast_view *views, size_t n);
void registry_entities_free(struct feast_entity *entities, size_t n);

/* Applies definitions to the project: creates the registry file if missing, adds the project,
 * replaces entities/data sources/feature views with the same names (keeping their materialization
 * intervals when the view already existed), adds SqliteTable infra objects when online_db_path is
 * given. Existing objects not named in defs are left alone. */
int registry_apply(const char *path, const char *project, const struct feast_defs *defs,
                   const char *online_db_path, struct ferry_err *err);

/* Records that [start, end] of a view was fully written: appends the interval, merging it with
 * intervals that touch or overlap it, sets last_updated_timestamp=now and state AVAILABLE_ONLINE,
 * moves the view to the end of its list (as Feast does), and sets a new version_id/last_updated. */
int registry_record_materialization(const char *path, const char *project, const char *view,
                                    int64_t start_ns, int64_t end_ns, struct ferry_err *err);

/* Sets a view's lifecycle state (e.g. MATERIALIZING); returns the previous one in *prev if given. */
int registry_set_state(const char *path, const char *project, const char *view, int state, int *prev,
                       struct ferry_err *err);

/* An optional process-wide lock taken around every locked update, inside the <path>.lock flock
 * (which serializes processes of one machine). `ferry serve` with shared state in PostgreSQL sets
 * it to a PostgreSQL advisory lock so replicas on different machines serialize their
 * read-modify-writes of a shared registry file too. lock returns 0 or a FERRY_E* (the update then
 * fails with that error); unlock is called only after a successful lock. NULL clears it. Set it
 * before any thread may update the registry, and clear it after they are done. */
struct registry_update_lock {
    void *ctx;
    int (*lock)(void *ctx, const char *path, struct ferry_err *err);
    void (*unlock)(void *ctx, const char *path);
};
void registry_set_update_lock(const struct registry_update_lock *l);

/* Merges an interval into a sorted, non-overlapping list (touching intervals merge). */
void registry_merge_interval(struct feast_interval **list, size_t *n, struct feast_interval add);

#endif
