/* Online stores: write encoded batches in Feast's layout and read them back. One backend per Feast
 * online store `type`, found by name in a compile-time table. Writes are idempotent and never let an
 * older row replace a newer one (an equal timestamp overwrites in SQLite and is skipped in Redis, as
 * Feast's Redis store skips it). */
#ifndef FERRY_ONLINE_H
#define FERRY_ONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "feast/feast.h"

/* Every backend's store begins with this header (its first member), so the wrappers can find the
 * backend of any open store; online_open sets it. Backends keep everything else private. */
struct online_store {
    const struct online_store_type *type;
};

struct online_write_stats {
    uint64_t rows_written;    /* entity rows stored */
    uint64_t rows_skipped;    /* entity rows not stored because the stored row is newer */
};

/* Result of a read: for each key, found + event time; for each (key, feature), the Value bytes. */
struct online_read_result {
    size_t nkeys, nfeatures;
    bool *found;              /* nkeys */
    int64_t *event_ns;        /* nkeys; FERRY_TIME_NONE when not found */
    size_t *val_off;          /* nkeys * nfeatures, into bytes */
    uint32_t *val_len;        /* nkeys * nfeatures; 0 = null or missing */
    struct fbuf bytes;
};
/* Frees the arrays and bytes and zeroes the struct; safe on a zeroed or already cleaned result. */
void online_read_result_cleanup(struct online_read_result *r);

struct online_store_type {
    const char *name;         /* Feast's `type:` value */
    bool writes_value_text;   /* reads cells' value_text (SQLite's column); false lets the encoder skip it */
    int (*open)(const struct ferry_config *cfg, struct online_store **out, struct ferry_err *err);
    /* Creates (or migrates) the view's table/keyspace; called by apply and before writes. */
    int (*prepare)(struct online_store *st, const char *project, const struct feast_view *view,
                   struct ferry_err *err);
    /* Optional (NULL = nothing to do): called once before the first batch of one view's run (one
     * offline pull, so at most one row per entity key over all its batches); no other job of that
     * view runs meanwhile (the service runs one job per view at a time). A backend may use what it
     * learns here for that run's writes only, e.g. that nothing is stored yet so nothing needs
     * reading before writing. The run's writes follow on the same store, for the same view. */
    int (*begin_view)(struct online_store *st, const char *project, const struct feast_view *view,
                      struct ferry_err *err);
    /* Writes every row of the batch atomically (all or nothing for SQLite). */
    int (*write)(struct online_store *st, const char *project, const struct feast_view *view,
                 const struct feast_batch *batch, struct online_write_stats *stats, struct ferry_err *err);
    /* Reads the named features of a view for serialized keys. */
    int (*read)(struct online_store *st, const char *project, const struct feast_view *view,
                const struct fbuf *keys, size_t nkeys, const char *const *features, size_t nfeatures,
                struct online_read_result *out, struct ferry_err *err);
    void (*close)(struct online_store *st);
};

/* Backends, for the table in online.c. */
extern const struct online_store_type online_sqlite_type;
extern const struct online_store_type online_redis_type;

/* Opens the store named by cfg->online.type. A store is used by one thread at a time. */
int online_open(const struct ferry_config *cfg, struct online_store **out, struct ferry_err *err);
int online_prepare(struct online_store *st, const char *project, const struct feast_view *view,
                   struct ferry_err *err);
/* Starts one view's run (see begin_view above): call it before the run's first online_write. A
 * write without it (or after a write of another view) makes no assumption about what is stored. */
int online_begin_view(struct online_store *st, const char *project, const struct feast_view *view,
                      struct ferry_err *err);
/* stats (may be NULL) is ADDED to, and only when the whole batch was committed, so a caller can sum
 * over batches from a zeroed struct. The batch's schema must list the view's features in order. */
int online_write(struct online_store *st, const char *project, const struct feast_view *view,
                 const struct feast_batch *batch, struct online_write_stats *stats, struct ferry_err *err);
/* keys[i] holds one serialized entity key. out is overwritten (any previous contents are not
 * freed); on error it is left cleaned. A missing table is FERRY_ENOTFOUND. */
int online_read(struct online_store *st, const char *project, const struct feast_view *view,
                const struct fbuf *keys, size_t nkeys, const char *const *features, size_t nfeatures,
                struct online_read_result *out, struct ferry_err *err);
/* Whether the store uses value_text (the engine skips formatting it otherwise). */
bool online_writes_value_text(const struct online_store *st);
void online_close(struct online_store *st);

#endif
