/* A shared, read-only snapshot of the project's views for the online-read hot path. Parsing the
 * registry on every get-online-features request dominated its cost; the snapshot is reused while
 * the registry file is the same file (device, inode, size and nanosecond mtime unchanged — ferry
 * replaces it by rename, Feast rewrites it in place, both change one of these). Snapshots are
 * reference-counted so a reader keeps its views while a newer snapshot replaces the cached one. */
#include "engine/engine_internal.h"

#include "core/util.h"
#include "registry/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct views_snapshot {
    int refs;                   /* guarded by cache_mu */
    char *path, *project;
    struct stat st;
    struct feast_view *views;
    size_t n;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct views_snapshot *cached;

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void snapshot_unref_locked(struct views_snapshot *s)
{
    if (s && --s->refs == 0) {
        registry_views_free(s->views, s->n);
        free(s->path);
        free(s->project);
        free(s);
    }
}

int engine_views_acquire(const struct ferry_config *cfg, struct views_snapshot **out, const struct feast_view **views,
                         size_t *n, struct ferry_err *err)
{
    struct stat st;
    if (stat(cfg->registry_path, &st) != 0)
        return engine_registry_missing(cfg, err);
    pthread_mutex_lock(&cache_mu);
    struct views_snapshot *s = cached;
    if (s && str_eq(s->path, cfg->registry_path) && str_eq(s->project, cfg->project) && same_file(&s->st, &st)) {
        s->refs++;
        pthread_mutex_unlock(&cache_mu);
        goto done;
    }
    pthread_mutex_unlock(&cache_mu);

    /* Load outside the lock; two threads may both load after a change, the last one wins. */
    s = xcalloc(1, sizeof *s);
    int rc = engine_load_views(cfg, &s->views, &s->n, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->path = xstrdup(cfg->registry_path);
    s->project = xstrdup(cfg->project);
    s->st = st;    /* the stat from before the read: a change during the read forces a reload next time */
    s->refs = 2;   /* the cache's and the caller's */
    pthread_mutex_lock(&cache_mu);
    snapshot_unref_locked(cached);
    cached = s;
    pthread_mutex_unlock(&cache_mu);
done:
    *out = s;
    *views = s->views;
    *n = s->n;
    return 0;
}

void engine_views_release(struct views_snapshot *s)
{
    pthread_mutex_lock(&cache_mu);
    snapshot_unref_locked(s);
    pthread_mutex_unlock(&cache_mu);
}
