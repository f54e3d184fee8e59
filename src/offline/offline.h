/* Offline stores: read the latest row per entity key of a feature view's source over an inclusive
 * window [start, end], streamed in batches of encoded rows (feast_batch). One backend per Feast
 * offline store `type`, found by name in a compile-time table. A backend's library objects never
 * leave its file. */
#ifndef FERRY_OFFLINE_H
#define FERRY_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "feast/feast.h"

struct offline_store;

struct offline_pull {
    const struct feast_view *view;      /* the view; its source says what to read */
    const struct feast_schema *schema;  /* encoding of the rows */
    int64_t start_ns, end_ns;           /* inclusive window */
    size_t batch_rows;                  /* rows per emitted batch */
    /* Receives each non-empty batch. It takes *batch and puts an empty batch (same schema) in its
     * place, so the reader never waits on a copy. A non-zero return stops the pull with that code.
     * Batches are heap objects (malloc + feast_batch_init); the reader frees the one it holds at
     * the end with feast_batch_cleanup + free, so a replacement must be allocated the same way. */
    int (*emit)(void *ctx, struct feast_batch **batch, struct ferry_err *err);
    void *ctx;
    /* Checked between batches; when it becomes non-zero the pull stops with FERRY_ECANCELED. */
    const volatile int *cancel;
    uint64_t rows_out;                  /* out: rows emitted (one per entity key) */
};

struct offline_store_type {
    const char *name;                   /* Feast's `type:` value */
    int (*open)(const struct ferry_config *cfg, struct offline_store **out, struct ferry_err *err);
    /* Checks that the source exists and has the needed columns with convertible types, without
     * reading rows. Errors are FERRY_ESOURCE naming view, column and types. */
    int (*check)(struct offline_store *st, const struct offline_pull *pull, struct ferry_err *err);
    int (*pull_latest)(struct offline_store *st, struct offline_pull *pull, struct ferry_err *err);
    /* The Feast ValueType that Feast's apply would infer from the source column behind each name
     * (reverse field mapping applied); FEAST_VT_INVALID for a name with no column or an
     * unmappable type. Reads no rows. */
    int (*infer_types)(struct offline_store *st, const struct feast_view *view, const char *const *names,
                       size_t n, int *vtypes, struct ferry_err *err);
    void (*close)(struct offline_store *st);
};

/* Opens the backend named by cfg->offline.type ("file", "dask" and "duckdb" all mean DuckDB over files). */
int offline_open(const struct ferry_config *cfg, struct offline_store **out, struct ferry_err *err);
int offline_check(struct offline_store *st, const struct offline_pull *pull, struct ferry_err *err);
int offline_pull_latest(struct offline_store *st, struct offline_pull *pull, struct ferry_err *err);
int offline_infer_types(struct offline_store *st, const struct feast_view *view, const char *const *names,
                        size_t n, int *vtypes, struct ferry_err *err);
void offline_close(struct offline_store *st);

/* Tests only: a hook called by offline_open/check/pull_latest before the backend (op is "open",
 * "check" or "pull_latest"); a non-zero return fails the call with that code. NULL removes it. */
void offline_set_fault(int (*hook)(const char *op, void *ctx, struct ferry_err *err), void *ctx);

/* Tests only: the DuckDB store fails this many partition queries with FERRY_ENOMEM before running
 * them, as DuckDB does when a partition needs more than memory_limit (which a test cannot make
 * DuckDB do on demand: at small limits it fails on fixed-size allocations whatever the data). */
extern int offline_duckdb_fail_partitions;

#endif
