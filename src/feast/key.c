/* Entity key serialization, versions 1, 2 and 3 (feast-compat.md §3): the bytes every online store
 * uses as the row key, so they must equal what Feast's serialize_entity_key writes. */
#include "feast/feast.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "feast/feast_internal.h"

/* Byte-wise comparison equals Python's code-point order on UTF-8 strings. */
static int name_cmp(const char *a, const char *b)
{
    return strcmp(a, b);
}

/* Insertion sort of indexes: keys are few (usually 1-3). */
void feast_key_order(size_t n, const char *const *names, size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], j = i;
        while (j > 0 && name_cmp(names[order[j - 1]], names[v]) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

static int add_value(struct fbuf *out, int version, const char *name, const struct feast_scalar *v,
                     struct ferry_err *err)
{
    int rc;
    switch (v->vtype) {
    case FEAST_VT_STRING:
    case FEAST_VT_BYTES:
        if (v->n > UINT32_MAX)
            return ferry_errf(err, FERRY_ELIMIT, "entity key %s: value of %zu bytes is too long", name, v->n);
        if ((rc = fbuf_add_u32le(out, (uint32_t)v->vtype)) || (rc = fbuf_add_u32le(out, (uint32_t)v->n)) ||
            (rc = fbuf_add(out, v->s, v->n)))
            return ferry_errf(err, rc, "entity key %s: output buffer full", name);
        return 0;
    case FEAST_VT_INT32:
        if (v->i < INT32_MIN || v->i > INT32_MAX)
            return ferry_errf(err, FERRY_EINVAL, "entity key %s: %lld does not fit Int32", name,
                              (long long)v->i);
        if ((rc = fbuf_add_u32le(out, FEAST_VT_INT32)) || (rc = fbuf_add_u32le(out, 4)) ||
            (rc = fbuf_add_u32le(out, (uint32_t)(int32_t)v->i)))
            return ferry_errf(err, rc, "entity key %s: output buffer full", name);
        return 0;
    case FEAST_VT_INT64:
        if (version <= 1) {
            /* Version 1 packs int64 as a 4-byte signed value, and Python's struct raises when
             * the value does not fit. */
            if (v->i < INT32_MIN || v->i > INT32_MAX)
                return ferry_errf(err, FERRY_EINVAL,
                                  "entity key %s: %lld does not fit the 4 bytes of key version 1 "
                                  "(use entity_key_serialization_version 3)", name, (long long)v->i);
            if ((rc = fbuf_add_u32le(out, FEAST_VT_INT64)) || (rc = fbuf_add_u32le(out, 4)) ||
                (rc = fbuf_add_u32le(out, (uint32_t)(int32_t)v->i)))
                return ferry_errf(err, rc, "entity key %s: output buffer full", name);
            return 0;
        }
        /* Versions 2 and 3 write 8 bytes, like a timestamp but with the INT64 tag. */
        /* fall through */
    case FEAST_VT_UNIX_TIMESTAMP:
        if ((rc = fbuf_add_u32le(out, (uint32_t)v->vtype)) || (rc = fbuf_add_u32le(out, 8)) ||
            (rc = fbuf_add_u64le(out, (uint64_t)v->i)))
            return ferry_errf(err, rc, "entity key %s: output buffer full", name);
        return 0;
    default:
        return ferry_errf(err, FERRY_EINVAL, "entity key %s: value type %s cannot be an entity key",
                          name, feast_dtype_name(v->vtype));
    }
}

int feast_key_serialize(struct fbuf *out, int version, size_t nkeys, const char *const *names,
                        const struct feast_scalar *values, struct ferry_err *err)
{
    size_t small[8];
    size_t *order = nkeys <= 8 ? small : xcalloc(nkeys, sizeof *order);
    feast_key_order(nkeys, names, order);
    int rc = feast_key_serialize_ordered(out, version, nkeys, names, values, order, err);
    if (order != small)
        free(order);
    return rc;
}

int feast_key_serialize_ordered(struct fbuf *out, int version, size_t nkeys, const char *const *names,
                                const struct feast_scalar *values, const size_t *order,
                                struct ferry_err *err)
{
    if (version < 1 || version > 3)
        return ferry_errf(err, FERRY_EINVAL, "entity key serialization version %d is not supported "
                          "(1, 2 or 3)", version);
    int rc = 0;
    if (version >= 3 && (rc = fbuf_add_u32le(out, (uint32_t)nkeys)))
        return ferry_errf(err, rc, "entity key: output buffer full");
    for (size_t i = 0; i < nkeys; i++) {
        const char *name = names[order[i]];
        size_t n = strlen(name);
        if ((rc = fbuf_add_u32le(out, FEAST_VT_STRING)) ||
            (version >= 3 && (rc = fbuf_add_u32le(out, (uint32_t)n))) || (rc = fbuf_add(out, name, n))) {
            return ferry_errf(err, rc, "entity key: output buffer full");
        }
    }
    for (size_t i = 0; i < nkeys; i++)
        if ((rc = add_value(out, version, names[order[i]], &values[order[i]], err)))
            return rc;
    return 0;
}
