/* Declarations shared between the files of src/feast/ only (not part of the public API). */
#ifndef FERRY_FEAST_INTERNAL_H
#define FERRY_FEAST_INTERNAL_H

#include "feast/feast.h"

/* feast_key_serialize with the sorted order already computed (order[i] = index of the i-th key to
 * write), so row batches sort their key names once per schema instead of once per row. */
int feast_key_serialize_ordered(struct fbuf *out, int version, size_t nkeys, const char *const *names,
                                const struct feast_scalar *values, const size_t *order,
                                struct ferry_err *err);
/* Fills order with the serialization order of the names (byte order; identity for one key). */
void feast_key_order(size_t nkeys, const char *const *names, size_t *order);

#endif
