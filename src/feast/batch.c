/* Row batches: a view's rows encoded in Feast's formats (feast-compat.md §2.6, §3, §4, §5.3).
 * Owns the schema of a view (key names/types, feature types, key order), the conversion of native
 * source values to the declared Feast types, the hand-written Value protobuf encoder, and the
 * SQLite value_text of each cell. Values are written straight into the batch's arena (one growing
 * buffer) so that encoding costs no allocation per value. */
#include "feast/feast.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"
#include "feast/feast_internal.h"

/* ---- schema ---- */

static bool feature_vtype_supported(int vt)
{
    switch (vt) {
    case FEAST_VT_BYTES: case FEAST_VT_STRING: case FEAST_VT_INT32: case FEAST_VT_INT64:
    case FEAST_VT_DOUBLE: case FEAST_VT_FLOAT: case FEAST_VT_BOOL: case FEAST_VT_UNIX_TIMESTAMP:
    case FEAST_VT_JSON:
        return true;
    default:
        return feast_vtype_is_list(vt);
    }
}

int feast_schema_init(struct feast_schema *s, const struct feast_view *v, int key_version,
                      struct ferry_err *err)
{
    memset(s, 0, sizeof *s);
    if (key_version < 1 || key_version > 3)
        return ferry_errf(err, FERRY_ECONFIG, "view %s: entity key serialization version %d is not "
                          "supported (1, 2 or 3)", v->name, key_version);
    s->key_version = key_version;

    /* Entity-less views write one key __dummy_id = "" (SDK/feature_view.py DUMMY_ENTITY_*). */
    bool dummy = v->nentity_columns == 0 ||
                 (v->nentities == 1 && str_eq(v->entities[0], FEAST_DUMMY_ENTITY));
    if (dummy) {
        s->dummy_key = true;
        s->nkeys = 1;
        s->key_names = xcalloc(1, sizeof *s->key_names);
        s->key_vtypes = xcalloc(1, sizeof *s->key_vtypes);
        s->key_names[0] = xstrdup(FEAST_DUMMY_ENTITY_ID);
        s->key_vtypes[0] = FEAST_VT_STRING;
    } else {
        s->nkeys = v->nentity_columns;
        s->key_names = xcalloc(s->nkeys, sizeof *s->key_names);
        s->key_vtypes = xcalloc(s->nkeys, sizeof *s->key_vtypes);
        for (size_t i = 0; i < s->nkeys; i++) {
            s->key_names[i] = xstrdup(v->entity_columns[i].name);
            s->key_vtypes[i] = v->entity_columns[i].vtype;
        }
    }
    s->key_order = xcalloc(s->nkeys, sizeof *s->key_order);
    feast_key_order(s->nkeys, (const char *const *)s->key_names, s->key_order);

    s->nfeatures = v->nfeatures;
    s->feature_names = xcalloc(s->nfeatures ? s->nfeatures : 1, sizeof *s->feature_names);
    s->feature_vtypes = xcalloc(s->nfeatures ? s->nfeatures : 1, sizeof *s->feature_vtypes);
    for (size_t i = 0; i < s->nfeatures; i++) {
        s->feature_names[i] = xstrdup(v->features[i].name);
        s->feature_vtypes[i] = v->features[i].vtype;
    }

    int rc = 0;
    for (size_t i = 0; i < s->nkeys && !rc; i++) {
        if (!feast_vtype_is_entity_key(s->key_vtypes[i]))
            rc = ferry_errf(err, FERRY_ECONFIG, "view %s: join key %s has type %s, which cannot be an "
                            "entity key (String, Bytes, Int32, Int64 or UnixTimestamp)", v->name,
                            s->key_names[i], feast_dtype_name(s->key_vtypes[i]));
        /* Python would compare two Values and raise; say it plainly instead. */
        else if (i > 0 && strcmp(s->key_names[s->key_order[i]], s->key_names[s->key_order[i - 1]]) == 0)
            rc = ferry_errf(err, FERRY_ECONFIG, "view %s: join key %s appears twice", v->name,
                            s->key_names[s->key_order[i]]);
    }
    for (size_t i = 0; i < s->nfeatures && !rc; i++)
        if (!feature_vtype_supported(s->feature_vtypes[i]))
            rc = ferry_errf(err, FERRY_ECONFIG, "view %s: feature %s has type %s, which ferry cannot "
                            "materialize", v->name, s->feature_names[i],
                            feast_dtype_name(s->feature_vtypes[i]));
    if (rc)
        feast_schema_cleanup(s);
    return rc;
}

void feast_schema_cleanup(struct feast_schema *s)
{
    for (size_t i = 0; i < s->nkeys; i++)
        free(s->key_names[i]);
    for (size_t i = 0; i < s->nfeatures; i++)
        free(s->feature_names[i]);
    free(s->key_names);
    free(s->key_vtypes);
    free(s->key_order);
    free(s->feature_names);
    free(s->feature_vtypes);
    memset(s, 0, sizeof *s);
}

/* ---- batch memory ---- */

int feast_batch_init(struct feast_batch *b, const struct feast_schema *s, size_t cap_rows)
{
    memset(b, 0, sizeof *b);
    b->schema = s;
    b->cap_rows = cap_rows ? cap_rows : 256;
    b->rows = calloc(b->cap_rows, sizeof *b->rows);
    b->cells = calloc(b->cap_rows * (s->nfeatures ? s->nfeatures : 1), sizeof *b->cells);
    b->pending_keys = calloc(s->nkeys ? s->nkeys : 1, sizeof *b->pending_keys);
    fbuf_init(&b->bytes, FEAST_BATCH_MAX_BYTES);
    fbuf_init(&b->scratch, FEAST_BATCH_MAX_BYTES);
    fbuf_init(&b->keybuf, FEAST_BATCH_MAX_BYTES);
    if (!b->rows || !b->cells || !b->pending_keys) {
        feast_batch_cleanup(b);
        return FERRY_ENOMEM;
    }
    return 0;
}

void feast_batch_reset(struct feast_batch *b)
{
    b->nrows = 0;
    b->in_row = false;
    b->in_list = 0;
    fbuf_reset(&b->bytes);
    fbuf_reset(&b->scratch);
    fbuf_reset(&b->keybuf);
}

void feast_batch_cleanup(struct feast_batch *b)
{
    free(b->rows);
    free(b->cells);
    free(b->pending_keys);
    fbuf_cleanup(&b->bytes);
    fbuf_cleanup(&b->scratch);
    fbuf_cleanup(&b->keybuf);
    b->rows = NULL;
    b->cells = NULL;
    b->pending_keys = NULL;
    b->nrows = b->cap_rows = 0;
    b->in_row = false;
}

/* Room for n more arena bytes. The limit is checked here, before fbuf would free the arena, so the
 * rows already ended stay usable; only running out of memory loses the batch. */
static int arena_reserve(struct feast_batch *b, size_t n, struct ferry_err *err)
{
    if (n > b->bytes.max - b->bytes.len)
        return ferry_errf(err, FERRY_ELIMIT, "row batch: encoded data would exceed %zu MiB; "
                          "write the batch out in smaller parts", b->bytes.max >> 20);
    int rc = fbuf_reserve(&b->bytes, n);
    if (rc) {
        b->nrows = 0;
        b->in_row = false;
        return ferry_errf(err, rc, "row batch: out of memory growing the arena to %zu bytes",
                          b->bytes.len + n);
    }
    return 0;
}

static inline unsigned char *arena_end(struct feast_batch *b)
{
    return (unsigned char *)b->bytes.data + b->bytes.len;
}

static inline void arena_commit(struct feast_batch *b, unsigned char *end)
{
    b->bytes.len = (size_t)(end - (unsigned char *)b->bytes.data);
    b->bytes.data[b->bytes.len] = '\0';
}

static int grow_rows(struct feast_batch *b)
{
    size_t nf = b->schema->nfeatures ? b->schema->nfeatures : 1;
    size_t cap = b->cap_rows * 2;
    if (cap > SIZE_MAX / (nf * sizeof *b->cells))
        return FERRY_ELIMIT;
    struct feast_batch_row *rows = realloc(b->rows, cap * sizeof *rows);
    if (!rows)
        return FERRY_ENOMEM;
    b->rows = rows;
    struct feast_batch_cell *cells = realloc(b->cells, cap * nf * sizeof *cells);
    if (!cells)
        return FERRY_ENOMEM;
    b->cells = cells;
    b->cap_rows = cap;
    return 0;
}

/* ---- row structure ---- */

static inline struct feast_batch_cell *cur_cell(struct feast_batch *b, size_t f)
{
    return &b->cells[b->nrows * b->schema->nfeatures + f];
}

int feast_row_begin(struct feast_batch *b)
{
    if (b->in_row && b->bytes.data) { /* an abandoned row: drop the bytes it wrote */
        b->bytes.len = b->rows[b->nrows].key_off;
        b->bytes.data[b->bytes.len] = '\0';
    }
    if (b->nrows == b->cap_rows) {
        int rc = grow_rows(b);
        if (rc)
            return rc;
    }
    b->in_row = true;
    b->in_list = 0;
    b->rows[b->nrows].key_off = b->bytes.len; /* where this row's bytes start */
    for (size_t f = 0; f < b->schema->nfeatures; f++) {
        struct feast_batch_cell *c = cur_cell(b, f);
        c->val_off = 0;
        c->val_len = 0;
        c->text_off = 0;
        c->text_len = -1;
    }
    for (size_t k = 0; k < b->schema->nkeys; k++)
        b->pending_keys[k].vtype = FEAST_VT_INVALID;
    fbuf_reset(&b->keybuf);
    return 0;
}

static int check_feature(struct feast_batch *b, size_t f, struct ferry_err *err)
{
    if (!b->in_row)
        return ferry_errf(err, FERRY_EINTERNAL, "row batch: value set outside feast_row_begin/end");
    if (b->in_list)
        return ferry_errf(err, FERRY_EINTERNAL, "row batch: value set inside an unfinished list");
    if (f >= b->schema->nfeatures)
        return ferry_errf(err, FERRY_EINTERNAL, "row batch: feature index %zu out of range", f);
    return 0;
}

/* ---- Value encoding (§4.3): a oneof member is written even when it holds its default ---- */

enum {
    TAG_BYTES = 0x0a, TAG_STRING = 0x12, TAG_INT32 = 0x18, TAG_INT64 = 0x20, TAG_DOUBLE = 0x29,
    TAG_FLOAT = 0x35, TAG_BOOL = 0x38, TAG_TS = 0x40,
};
/* Tag bytes of a length-delimited field number (numbers up to 2047). */
static size_t ld_tag(unsigned field, unsigned char *out)
{
    unsigned t = field << 3 | 2;
    if (t < 0x80) {
        out[0] = (unsigned char)t;
        return 1;
    }
    out[0] = (unsigned char)(t | 0x80);
    out[1] = (unsigned char)(t >> 7);
    return 2;
}

static inline unsigned char *put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline unsigned char *put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static inline unsigned char *put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static inline uint32_t float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline uint64_t double_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* Writes one cell: the Value bytes (header + payload) and its value_text. text_len -1 means SQL
 * NULL; TEXT_IS_PAYLOAD makes the text point at the payload (string_val needs no second copy). */
#define TEXT_IS_PAYLOAD (-2)
static int cell_write(struct feast_batch *b, size_t f, const unsigned char *hdr, size_t hlen,
                      const void *payload, size_t plen, const char *text, int text_len,
                      struct ferry_err *err)
{
    if (plen > UINT32_MAX - hlen)
        return ferry_errf(err, FERRY_ELIMIT, "feature %s: value of %zu bytes is too long",
                          b->schema->feature_names[f], plen);
    if (text_len == TEXT_IS_PAYLOAD && plen > INT32_MAX)
        return ferry_errf(err, FERRY_ELIMIT, "feature %s: text of %zu bytes is too long",
                          b->schema->feature_names[f], plen);
    size_t tlen = text_len > 0 ? (size_t)text_len : 0;
    int rc = arena_reserve(b, hlen + plen + tlen, err);
    if (rc)
        return rc;
    struct feast_batch_cell *c = cur_cell(b, f);
    unsigned char *p = arena_end(b);
    c->val_off = b->bytes.len;
    c->val_len = (uint32_t)(hlen + plen);
    memcpy(p, hdr, hlen);
    p += hlen;
    if (plen)
        memcpy(p, payload, plen);
    p += plen;
    if (text_len == TEXT_IS_PAYLOAD) {
        c->text_off = c->val_off + hlen;
        c->text_len = (int32_t)plen;
    } else if (text_len >= 0) {
        c->text_off = (size_t)(p - (unsigned char *)b->bytes.data);
        c->text_len = text_len;
        memcpy(p, text, tlen);
        p += tlen;
    } else {
        c->text_off = 0;
        c->text_len = -1;
    }
    arena_commit(b, p);
    return 0;
}

static int emit_int32(struct feast_batch *b, size_t f, int32_t v, struct ferry_err *err)
{
    unsigned char h[11], *p = h;
    *p++ = TAG_INT32;
    p = put_varint(p, (uint64_t)(int64_t)v); /* negative int32 is sign-extended: 10 bytes */
    char t[16];
    int tn = b->schema->no_value_text ? -1 : snprintf(t, sizeof t, "%d", (int)v);
    return cell_write(b, f, h, (size_t)(p - h), NULL, 0, t, tn, err);
}

static int emit_int64(struct feast_batch *b, size_t f, int64_t v, struct ferry_err *err)
{
    unsigned char h[11], *p = h;
    *p++ = TAG_INT64;
    p = put_varint(p, (uint64_t)v);
    char t[24];
    int tn = b->schema->no_value_text ? -1 : snprintf(t, sizeof t, "%lld", (long long)v);
    return cell_write(b, f, h, (size_t)(p - h), NULL, 0, t, tn, err);
}

static int emit_float(struct feast_batch *b, size_t f, float v, struct ferry_err *err)
{
    unsigned char h[5];
    h[0] = TAG_FLOAT;
    put_le32(h + 1, float_bits(v));
    if (b->schema->no_value_text)
        return cell_write(b, f, h, 5, NULL, 0, NULL, -1, err);
    /* Python reads the float field back as a double before str(): float32 0.7 -> 0.699999988079071 */
    char t[FEAST_PYFLOAT_BUF];
    feast_py_float_repr((double)v, t);
    return cell_write(b, f, h, 5, NULL, 0, t, (int)strlen(t), err);
}

static int emit_double(struct feast_batch *b, size_t f, double v, struct ferry_err *err)
{
    unsigned char h[9];
    h[0] = TAG_DOUBLE;
    put_le64(h + 1, double_bits(v));
    if (b->schema->no_value_text)
        return cell_write(b, f, h, 9, NULL, 0, NULL, -1, err);
    char t[FEAST_PYFLOAT_BUF];
    feast_py_float_repr(v, t);
    return cell_write(b, f, h, 9, NULL, 0, t, (int)strlen(t), err);
}

static int emit_bool(struct feast_batch *b, size_t f, bool v, struct ferry_err *err)
{
    unsigned char h[2] = {TAG_BOOL, v ? 1 : 0};
    return cell_write(b, f, h, 2, NULL, 0, v ? "True" : "False", v ? 4 : 5, err);
}

static int emit_ts(struct feast_batch *b, size_t f, int64_t secs, struct ferry_err *err)
{
    unsigned char h[11], *p = h;
    *p++ = TAG_TS;
    p = put_varint(p, (uint64_t)secs);
    return cell_write(b, f, h, (size_t)(p - h), NULL, 0, NULL, -1, err);
}

/* Length-delimited scalar: string_val (2, with text), bytes_val (1), json_val (32). */
static int emit_ld(struct feast_batch *b, size_t f, unsigned field, const void *s, size_t n,
                   struct ferry_err *err)
{
    unsigned char h[12];
    size_t hl = ld_tag(field, h);
    hl = (size_t)(put_varint(h + hl, n) - h);
    return cell_write(b, f, h, hl, s, n, NULL, field == 2 ? TEXT_IS_PAYLOAD : -1, err);
}

/* ---- conversions (§2.6) ---- */

static int type_err(struct feast_batch *b, size_t f, const char *what, struct ferry_err *err)
{
    return ferry_errf(err, FERRY_EINVAL, "feature %s: a %s value cannot become %s",
                      b->schema->feature_names[f], what, feast_dtype_name(b->schema->feature_vtypes[f]));
}

static int int32_range(struct feast_batch *b, const char *name, int64_t v, struct ferry_err *err)
{
    if (v < INT32_MIN || v > INT32_MAX)
        return ferry_errf(err, FERRY_EINVAL, "%s: %lld does not fit Int32", name, (long long)v);
    (void)b;
    return 0;
}

/* Python's int(x) for a finite double: truncation toward zero, then the Int64 range. */
static int double_to_int64(const char *name, double d, int64_t *out, struct ferry_err *err)
{
    if (!isfinite(d))
        return ferry_errf(err, FERRY_EINVAL, "%s: %s cannot become an integer", name,
                          d > 0 ? "inf" : "-inf");
    double t = trunc(d);
    if (t < -9223372036854775808.0 || t >= 9223372036854775808.0)
        return ferry_errf(err, FERRY_EINVAL, "%s: %.17g does not fit Int64", name, d);
    *out = (int64_t)t;
    return 0;
}

/* json.dumps of a float: repr, with Python's spellings of the non-finite values. */
static const char *json_float(double d, char buf[FEAST_PYFLOAT_BUF])
{
    if (isnan(d))
        return "NaN";
    if (isinf(d))
        return d > 0 ? "Infinity" : "-Infinity";
    return feast_py_float_repr(d, buf);
}

static int json_check(const char *name, const char *p, size_t n, struct ferry_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        return ferry_errf(err, FERRY_EINVAL, "%s: invalid JSON string for Json type: %s (at char %d)",
                          name, je.text, je.position);
    json_decref(j);
    return 0;
}

int feast_row_null(struct feast_batch *b, size_t f)
{
    if (check_feature(b, f, NULL))
        return FERRY_EINTERNAL;
    struct feast_batch_cell *c = cur_cell(b, f);
    c->val_len = 0;
    c->text_len = -1;
    return 0;
}

int feast_row_int(struct feast_batch *b, size_t f, int64_t v, struct ferry_err *err)
{
    int rc = check_feature(b, f, err);
    if (rc)
        return rc;
    const char *name = b->schema->feature_names[f];
    char t[24];
    switch (b->schema->feature_vtypes[f]) {
    case FEAST_VT_INT32:
        if ((rc = int32_range(b, name, v, err)))
            return rc;
        return emit_int32(b, f, (int32_t)v, err);
    case FEAST_VT_INT64: return emit_int64(b, f, v, err);
    case FEAST_VT_FLOAT: return emit_float(b, f, (float)v, err);
    case FEAST_VT_DOUBLE: return emit_double(b, f, (double)v, err);
    case FEAST_VT_BOOL: return emit_bool(b, f, v != 0, err);
    case FEAST_VT_UNIX_TIMESTAMP: return emit_ts(b, f, v, err); /* int(value): already seconds */
    case FEAST_VT_STRING:
    case FEAST_VT_JSON: {
        int n = snprintf(t, sizeof t, "%lld", (long long)v);
        return emit_ld(b, f, b->schema->feature_vtypes[f] == FEAST_VT_STRING ? 2 : 32, t, (size_t)n, err);
    }
    default: return type_err(b, f, "integer", err);
    }
}

int feast_row_double(struct feast_batch *b, size_t f, double v, struct ferry_err *err)
{
    int rc = check_feature(b, f, err);
    if (rc)
        return rc;
    const char *name = b->schema->feature_names[f];
    int vt = b->schema->feature_vtypes[f];
    char t[FEAST_PYFLOAT_BUF];
    if (vt == FEAST_VT_JSON) { /* json.dumps runs before any null check: NaN stays "NaN" */
        const char *s = json_float(v, t);
        return emit_ld(b, f, 32, s, strlen(s), err);
    }
    if (isnan(v)) /* pd.isnull(NaN): Feast writes an empty Value */
        return feast_row_null(b, f);
    int64_t i;
    switch (vt) {
    case FEAST_VT_FLOAT: return emit_float(b, f, (float)v, err);
    case FEAST_VT_DOUBLE: return emit_double(b, f, v, err);
    case FEAST_VT_INT32:
        if ((rc = double_to_int64(name, v, &i, err)) || (rc = int32_range(b, name, i, err)))
            return rc;
        return emit_int32(b, f, (int32_t)i, err);
    case FEAST_VT_INT64:
        if ((rc = double_to_int64(name, v, &i, err)))
            return rc;
        return emit_int64(b, f, i, err);
    case FEAST_VT_STRING:
        feast_py_float_repr(v, t);
        return emit_ld(b, f, 2, t, strlen(t), err);
    default: return type_err(b, f, "floating-point", err);
    }
}

int feast_row_bool(struct feast_batch *b, size_t f, bool v, struct ferry_err *err)
{
    int rc = check_feature(b, f, err);
    if (rc)
        return rc;
    switch (b->schema->feature_vtypes[f]) {
    case FEAST_VT_BOOL: return emit_bool(b, f, v, err);
    case FEAST_VT_INT32: return emit_int32(b, f, v, err);
    case FEAST_VT_INT64: return emit_int64(b, f, v, err);
    case FEAST_VT_FLOAT: return emit_float(b, f, v ? 1.0f : 0.0f, err);
    case FEAST_VT_STRING: return emit_ld(b, f, 2, v ? "True" : "False", v ? 4 : 5, err);
    case FEAST_VT_JSON: return emit_ld(b, f, 32, v ? "true" : "false", v ? 4 : 5, err);
    default: return type_err(b, f, "boolean", err);
    }
}

int feast_row_str(struct feast_batch *b, size_t f, const char *p, size_t n, struct ferry_err *err)
{
    int rc = check_feature(b, f, err);
    if (rc)
        return rc;
    switch (b->schema->feature_vtypes[f]) {
    case FEAST_VT_STRING: return emit_ld(b, f, 2, p, n, err);
    case FEAST_VT_JSON:
        if ((rc = json_check(b->schema->feature_names[f], p, n, err)))
            return rc;
        return emit_ld(b, f, 32, p, n, err);
    default: return type_err(b, f, "string", err);
    }
}

int feast_row_bytes(struct feast_batch *b, size_t f, const void *p, size_t n, struct ferry_err *err)
{
    int rc = check_feature(b, f, err);
    if (rc)
        return rc;
    if (b->schema->feature_vtypes[f] != FEAST_VT_BYTES)
        return type_err(b, f, "bytes", err);
    return emit_ld(b, f, 1, p, n, err);
}

int feast_row_time(struct feast_batch *b, size_t f, int64_t ns, struct ferry_err *err)
{
    int rc = check_feature(b, f, err);
    if (rc)
        return rc;
    switch (b->schema->feature_vtypes[f]) {
    /* datetime64 cast to [s] floors */
    case FEAST_VT_UNIX_TIMESTAMP: return emit_ts(b, f, ferry_time_floor_sec(ns), err);
    /* int(ts.timestamp()) truncates toward zero */
    case FEAST_VT_INT64: return emit_int64(b, f, ns / FERRY_NS_PER_SEC, err);
    default: return type_err(b, f, "timestamp", err);
    }
}

/* ---- lists: elements go to scratch, the Value is framed at the end ---- */

static int list_elem_vtype(struct feast_batch *b, struct ferry_err *err)
{
    if (!b->in_row || !b->in_list) {
        ferry_errf(err, FERRY_EINTERNAL, "row batch: list element outside feast_row_list_begin/end");
        return FEAST_VT_INVALID;
    }
    return feast_vtype_list_elem(b->schema->feature_vtypes[b->list_feature]);
}

int feast_row_list_begin(struct feast_batch *b, size_t f)
{
    int rc = check_feature(b, f, NULL);
    if (rc)
        return rc;
    if (!feast_vtype_is_list(b->schema->feature_vtypes[f]))
        return FERRY_EINVAL;
    b->in_list = 1;
    b->list_feature = f;
    b->list_count = 0;
    fbuf_reset(&b->scratch);
    return 0;
}

static int scratch_fail(struct feast_batch *b, int rc, struct ferry_err *err)
{
    return ferry_errf(err, rc, "feature %s: list too long", b->schema->feature_names[b->list_feature]);
}

static int list_add_varint(struct feast_batch *b, uint64_t v, struct ferry_err *err)
{
    int rc = fbuf_add_varint(&b->scratch, v);
    if (rc)
        return scratch_fail(b, rc, err);
    b->list_count++;
    return 0;
}

/* A length-delimited element of a repeated string/bytes field: 0a len bytes. */
static int list_add_ld(struct feast_batch *b, const void *p, size_t n, struct ferry_err *err)
{
    int rc;
    if ((rc = fbuf_addc(&b->scratch, 0x0a)) || (rc = fbuf_add_varint(&b->scratch, n)) ||
        (rc = fbuf_add(&b->scratch, p, n)))
        return scratch_fail(b, rc, err);
    b->list_count++;
    return 0;
}

static int list_add_float(struct feast_batch *b, float v, struct ferry_err *err)
{
    int rc = fbuf_add_u32le(&b->scratch, float_bits(v));
    if (rc)
        return scratch_fail(b, rc, err);
    b->list_count++;
    return 0;
}

static int list_add_double(struct feast_batch *b, double v, struct ferry_err *err)
{
    int rc = fbuf_add_u64le(&b->scratch, double_bits(v));
    if (rc)
        return scratch_fail(b, rc, err);
    b->list_count++;
    return 0;
}

static int list_type_err(struct feast_batch *b, const char *what, struct ferry_err *err)
{
    size_t f = b->list_feature;
    return ferry_errf(err, FERRY_EINVAL, "feature %s: a %s list element cannot become %s",
                      b->schema->feature_names[f], what, feast_dtype_name(b->schema->feature_vtypes[f]));
}

int feast_row_list_int(struct feast_batch *b, int64_t v, struct ferry_err *err)
{
    int et = list_elem_vtype(b, err), rc;
    char t[24];
    switch (et) {
    case FEAST_VT_INVALID: return FERRY_EINTERNAL;
    case FEAST_VT_INT32:
        if ((rc = int32_range(b, b->schema->feature_names[b->list_feature], v, err)))
            return rc;
        return list_add_varint(b, (uint64_t)v, err);
    case FEAST_VT_INT64:
    case FEAST_VT_UNIX_TIMESTAMP:
        return list_add_varint(b, (uint64_t)v, err);
    case FEAST_VT_JSON:
        return list_add_ld(b, t, (size_t)snprintf(t, sizeof t, "%lld", (long long)v), err);
    default: return list_type_err(b, "integer", err);
    }
}

int feast_row_list_double(struct feast_batch *b, double v, struct ferry_err *err)
{
    int et = list_elem_vtype(b, err);
    char t[FEAST_PYFLOAT_BUF];
    switch (et) {
    case FEAST_VT_INVALID: return FERRY_EINTERNAL;
    case FEAST_VT_FLOAT: return list_add_float(b, (float)v, err);
    case FEAST_VT_DOUBLE: return list_add_double(b, v, err);
    case FEAST_VT_JSON: {
        const char *s = json_float(v, t);
        return list_add_ld(b, s, strlen(s), err);
    }
    default: return list_type_err(b, "floating-point", err);
    }
}

int feast_row_list_bool(struct feast_batch *b, bool v, struct ferry_err *err)
{
    int et = list_elem_vtype(b, err);
    switch (et) {
    case FEAST_VT_INVALID: return FERRY_EINTERNAL;
    case FEAST_VT_BOOL: return list_add_varint(b, v ? 1 : 0, err);
    case FEAST_VT_JSON: return list_add_ld(b, v ? "true" : "false", v ? 4 : 5, err);
    default: return list_type_err(b, "boolean", err);
    }
}

int feast_row_list_str(struct feast_batch *b, const char *p, size_t n, struct ferry_err *err)
{
    int et = list_elem_vtype(b, err), rc;
    switch (et) {
    case FEAST_VT_INVALID: return FERRY_EINTERNAL;
    case FEAST_VT_STRING:
    case FEAST_VT_BYTES: /* bytes elements come through here too */
        return list_add_ld(b, p, n, err);
    case FEAST_VT_JSON:
        if ((rc = json_check(b->schema->feature_names[b->list_feature], p, n, err)))
            return rc;
        return list_add_ld(b, p, n, err);
    default: return list_type_err(b, "string", err);
    }
}

int feast_row_list_time(struct feast_batch *b, int64_t ns, struct ferry_err *err)
{
    int et = list_elem_vtype(b, err);
    switch (et) {
    case FEAST_VT_INVALID: return FERRY_EINTERNAL;
    case FEAST_VT_UNIX_TIMESTAMP: return list_add_varint(b, (uint64_t)ferry_time_floor_sec(ns), err);
    default: return list_type_err(b, "timestamp", err);
    }
}

/* Feast replaces a None element by the type's default (type_map.py _LIST_NONE_DEFAULTS); a
 * timestamp gets NaT's integer value, and a Json element json.dumps(None) = "null". */
int feast_row_list_null(struct feast_batch *b, struct ferry_err *err)
{
    int et = list_elem_vtype(b, err);
    switch (et) {
    case FEAST_VT_INVALID: return FERRY_EINTERNAL;
    case FEAST_VT_STRING: case FEAST_VT_BYTES: return list_add_ld(b, "", 0, err);
    case FEAST_VT_INT32: case FEAST_VT_INT64: case FEAST_VT_BOOL: return list_add_varint(b, 0, err);
    case FEAST_VT_UNIX_TIMESTAMP: return list_add_varint(b, (uint64_t)INT64_MIN, err);
    case FEAST_VT_FLOAT: return list_add_float(b, 0.0f, err);
    case FEAST_VT_DOUBLE: return list_add_double(b, 0.0, err);
    case FEAST_VT_JSON: return list_add_ld(b, "null", 4, err);
    default: return list_type_err(b, "null", err);
    }
}

static unsigned list_field(int vt)
{
    switch (vt) {
    case FEAST_VT_JSON_LIST: return 33;
    default: return (unsigned)vt; /* BYTES_LIST 11 .. UNIX_TIMESTAMP_LIST 18: field = type number */
    }
}

int feast_row_list_end(struct feast_batch *b, struct ferry_err *err)
{
    int et = list_elem_vtype(b, err);
    if (et == FEAST_VT_INVALID)
        return FERRY_EINTERNAL;
    size_t f = b->list_feature;
    bool packed = et != FEAST_VT_STRING && et != FEAST_VT_BYTES && et != FEAST_VT_JSON;
    size_t plen = b->scratch.len;
    /* The wrapper message: packed numerics are one field-1 record (absent when empty); strings are
     * already field-1 records. */
    size_t inner = packed ? (plen ? 1 + varint_len(plen) + plen : 0) : plen;
    unsigned char h[2 + 10 + 1 + 10];
    size_t hl = ld_tag(list_field(b->schema->feature_vtypes[f]), h);
    unsigned char *p = put_varint(h + hl, inner);
    if (packed && plen) {
        *p++ = 0x0a;
        p = put_varint(p, plen);
    }
    b->in_list = 0;
    return cell_write(b, f, h, (size_t)(p - h), b->scratch.data, plen, NULL, -1, err);
}

/* ---- keys ---- */

static int check_key(struct feast_batch *b, size_t k, struct ferry_err *err)
{
    if (!b->in_row)
        return ferry_errf(err, FERRY_EINTERNAL, "row batch: key set outside feast_row_begin/end");
    if (k >= b->schema->nkeys)
        return ferry_errf(err, FERRY_EINTERNAL, "row batch: key index %zu out of range", k);
    return 0;
}

static int key_set_str(struct feast_batch *b, size_t k, int vt, const char *p, size_t n,
                       struct ferry_err *err)
{
    /* keybuf may move while the row is built, so remember an offset; row_end makes the pointer. */
    size_t off = b->keybuf.len;
    int rc = fbuf_add(&b->keybuf, p, n);
    if (rc)
        return ferry_errf(err, rc, "entity key %s: value too long", b->schema->key_names[k]);
    b->pending_keys[k] = (struct feast_scalar){.vtype = vt, .i = (int64_t)off, .n = n};
    return 0;
}

static int key_type_err(struct feast_batch *b, size_t k, const char *what, struct ferry_err *err)
{
    return ferry_errf(err, FERRY_EINVAL, "join key %s: a %s value cannot become %s",
                      b->schema->key_names[k], what, feast_dtype_name(b->schema->key_vtypes[k]));
}

int feast_row_key_int(struct feast_batch *b, size_t k, int64_t v, struct ferry_err *err)
{
    int rc = check_key(b, k, err);
    if (rc)
        return rc;
    int vt = b->schema->key_vtypes[k];
    switch (vt) {
    case FEAST_VT_INT32:
        if ((rc = int32_range(b, b->schema->key_names[k], v, err)))
            return rc;
        /* fall through */
    case FEAST_VT_INT64:
    case FEAST_VT_UNIX_TIMESTAMP:
        b->pending_keys[k] = (struct feast_scalar){.vtype = vt, .i = v};
        return 0;
    case FEAST_VT_STRING: {
        char t[24];
        return key_set_str(b, k, vt, t, (size_t)snprintf(t, sizeof t, "%lld", (long long)v), err);
    }
    default: return key_type_err(b, k, "integer", err);
    }
}

int feast_row_key_str(struct feast_batch *b, size_t k, const char *p, size_t n, struct ferry_err *err)
{
    int rc = check_key(b, k, err);
    if (rc)
        return rc;
    int vt = b->schema->key_vtypes[k];
    if (vt != FEAST_VT_STRING && vt != FEAST_VT_BYTES)
        return key_type_err(b, k, "string", err);
    return key_set_str(b, k, vt, p, n, err);
}

int feast_row_key_time(struct feast_batch *b, size_t k, int64_t ns, struct ferry_err *err)
{
    int rc = check_key(b, k, err);
    if (rc)
        return rc;
    int vt = b->schema->key_vtypes[k];
    if (vt == FEAST_VT_UNIX_TIMESTAMP)
        b->pending_keys[k] = (struct feast_scalar){.vtype = vt, .i = ferry_time_floor_sec(ns)};
    else if (vt == FEAST_VT_INT64)
        b->pending_keys[k] = (struct feast_scalar){.vtype = vt, .i = ns / FERRY_NS_PER_SEC};
    else
        return key_type_err(b, k, "timestamp", err);
    return 0;
}

int feast_row_end(struct feast_batch *b, int64_t event_ns, int64_t created_ns, struct ferry_err *err)
{
    if (!b->in_row)
        return ferry_errf(err, FERRY_EINTERNAL, "row batch: feast_row_end without feast_row_begin");
    if (b->in_list)
        return ferry_errf(err, FERRY_EINTERNAL, "row batch: row ended inside an unfinished list");
    const struct feast_schema *s = b->schema;
    for (size_t k = 0; k < s->nkeys; k++) {
        struct feast_scalar *v = &b->pending_keys[k];
        if (v->vtype == FEAST_VT_INVALID) {
            if (!s->dummy_key)
                return ferry_errf(err, FERRY_EINVAL, "join key %s is null; Feast cannot serialize an "
                                  "entity key with an empty value", s->key_names[k]);
            *v = (struct feast_scalar){.vtype = FEAST_VT_STRING, .s = "", .n = 0};
        } else if ((v->vtype == FEAST_VT_STRING || v->vtype == FEAST_VT_BYTES) && !v->s) {
            v->s = b->keybuf.data ? b->keybuf.data + v->i : ""; /* set by key_set_str */
        }
    }
    /* Serialize into scratch first: the arena's own limit check must run before it grows. */
    fbuf_reset(&b->scratch);
    int rc = feast_key_serialize_ordered(&b->scratch, s->key_version, s->nkeys,
                                         (const char *const *)s->key_names, b->pending_keys,
                                         s->key_order, err);
    if (rc)
        return rc;
    if (b->scratch.len > UINT32_MAX)
        return ferry_errf(err, FERRY_ELIMIT, "entity key of %zu bytes is too long", b->scratch.len);
    if ((rc = arena_reserve(b, b->scratch.len, err)))
        return rc;
    struct feast_batch_row *r = &b->rows[b->nrows];
    r->key_off = b->bytes.len;
    r->key_len = (uint32_t)b->scratch.len;
    unsigned char *p = arena_end(b);
    if (b->scratch.len)
        memcpy(p, b->scratch.data, b->scratch.len);
    arena_commit(b, p + b->scratch.len);
    r->event_ns = event_ns;
    r->created_ns = created_ns;
    b->nrows++;
    b->in_row = false;
    return 0;
}

/* ---- source compatibility (kept in step with the setters above) ---- */

#define K(x) (1u << FEAST_SRC_##x)
static unsigned scalar_kinds(int vt)
{
    switch (vt) {
    case FEAST_VT_BYTES: return K(BYTES);
    case FEAST_VT_STRING: return K(INT) | K(FLOAT) | K(STRING) | K(BOOL) | K(DECIMAL);
    case FEAST_VT_INT32: return K(INT) | K(FLOAT) | K(BOOL) | K(DECIMAL);
    case FEAST_VT_INT64: return K(INT) | K(FLOAT) | K(BOOL) | K(DECIMAL) | K(TIMESTAMP);
    case FEAST_VT_DOUBLE: return K(INT) | K(FLOAT) | K(DECIMAL);
    case FEAST_VT_FLOAT: return K(INT) | K(FLOAT) | K(BOOL) | K(DECIMAL);
    case FEAST_VT_BOOL: return K(BOOL) | K(INT);
    case FEAST_VT_UNIX_TIMESTAMP: return K(TIMESTAMP) | K(INT);
    case FEAST_VT_JSON: return K(STRING) | K(INT) | K(FLOAT) | K(BOOL);
    default: return 0;
    }
}

static unsigned list_kinds(int vt)
{
    switch (vt) {
    case FEAST_VT_BYTES_LIST: return K(BYTES);
    case FEAST_VT_STRING_LIST: return K(STRING);
    case FEAST_VT_INT32_LIST: case FEAST_VT_INT64_LIST: return K(INT);
    case FEAST_VT_FLOAT_LIST: case FEAST_VT_DOUBLE_LIST: return K(FLOAT);
    case FEAST_VT_BOOL_LIST: return K(BOOL);
    case FEAST_VT_UNIX_TIMESTAMP_LIST: return K(TIMESTAMP) | K(INT);
    case FEAST_VT_JSON_LIST: return K(STRING) | K(INT) | K(FLOAT) | K(BOOL);
    default: return 0;
    }
}

bool feast_src_compatible(int vtype, int kind, int elem_kind)
{
    if (kind < FEAST_SRC_INT || kind > FEAST_SRC_LIST)
        return false;
    if (kind == FEAST_SRC_LIST)
        return elem_kind >= FEAST_SRC_INT && elem_kind < FEAST_SRC_LIST &&
               (list_kinds(vtype) & (1u << elem_kind)) != 0;
    return (scalar_kinds(vtype) & (1u << kind)) != 0;
}

bool feast_key_src_compatible(int vtype, int kind)
{
    switch (vtype) {
    case FEAST_VT_STRING: return kind == FEAST_SRC_STRING || kind == FEAST_SRC_INT;
    case FEAST_VT_BYTES: return kind == FEAST_SRC_BYTES;
    case FEAST_VT_INT32: return kind == FEAST_SRC_INT;
    case FEAST_VT_INT64:
    case FEAST_VT_UNIX_TIMESTAMP: return kind == FEAST_SRC_INT || kind == FEAST_SRC_TIMESTAMP;
    default: return false;
    }
}
#undef K

const char *feast_src_kind_name(int kind)
{
    switch (kind) {
    case FEAST_SRC_INT: return "integer";
    case FEAST_SRC_FLOAT: return "floating-point";
    case FEAST_SRC_STRING: return "string";
    case FEAST_SRC_BOOL: return "boolean";
    case FEAST_SRC_TIMESTAMP: return "timestamp";
    case FEAST_SRC_BYTES: return "bytes";
    case FEAST_SRC_DECIMAL: return "decimal";
    case FEAST_SRC_LIST: return "list";
    default: return "unknown";
    }
}
