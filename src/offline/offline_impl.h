/* Private to src/offline/: the common head of every backend's store object and the backends' type
 * descriptors, so offline.c can dispatch without knowing any backend's library. */
#ifndef FERRY_OFFLINE_IMPL_H
#define FERRY_OFFLINE_IMPL_H

#include "offline/offline.h"

/* Each backend embeds this as the first member of its own store struct; offline_open fills it. */
struct offline_store {
    const struct offline_store_type *type;
};

/* Helpers every backend's pull uses. */
bool offline_pull_canceled(const struct offline_pull *pull);
/* Hands a non-empty *batch to pull->emit (which puts an empty one in its place) and counts its rows;
 * an empty batch is kept. Fails with FERRY_ECANCELED once the pull is canceled. */
int offline_pull_flush(struct offline_pull *pull, struct feast_batch **batch, struct ferry_err *err);

extern const struct offline_store_type offline_duckdb_type;
extern const struct offline_store_type offline_postgres_type;
extern const struct offline_store_type offline_odbc_type;

#endif
