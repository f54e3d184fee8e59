/* Serialized Value -> the JSON Feast's feature server returns for it (feast-compat.md §8.3,
 * SDK/feature_server_utils.py _value_to_native, then json.dumps with ensure_ascii=False).
 * Decoding uses the protobuf-c code generated from proto/feast/types/Value.proto.
 *
 * Deviations, all for values ferry never writes itself or that Feast cannot print:
 *   - NaN and +-Inf render as null (Feast's JSONResponse has allow_nan=False and fails the request);
 *   - zoned_timestamp_val and scalar_map_val render as null (Feast: an ISO string / None);
 *   - a string holding a NUL character is cut at the NUL (protobuf-c's strings are C strings). */
#include "feast/feast.h"

#include <math.h>
#include <string.h>

#include "feast/types/Value.pb-c.h"

#define MAX_DEPTH 64

static int add(struct fbuf *out, const char *s, size_t n) { return fbuf_add(out, s, n); }

/* Python's json string encoder with ensure_ascii=False: only '"', '\\' and control characters
 * are escaped; UTF-8 passes through. */
static int add_json_string(struct fbuf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = fbuf_addc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > run)
            rc = add(out, s + run, i - run);
        run = i + 1;
        char e[7] = {'\\', 0};
        size_t en = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            en = 6;
        }
        if (!rc)
            rc = add(out, e, en);
    }
    if (!rc && n > run)
        rc = add(out, s + run, n - run);
    return rc ? rc : fbuf_addc(out, '"');
}

static int add_base64(struct fbuf *out, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = fbuf_addc(out, '"');
    for (size_t i = 0; i < n && !rc; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], i + 1 < n ? tbl[(v >> 6) & 63] : '=',
                     i + 2 < n ? tbl[v & 63] : '='};
        rc = add(out, q, 4);
    }
    return rc ? rc : fbuf_addc(out, '"');
}

static int add_double(struct fbuf *out, double d)
{
    if (!isfinite(d))
        return fbuf_adds(out, "null");
    char buf[FEAST_PYFLOAT_BUF];
    return fbuf_adds(out, feast_py_float_repr(d, buf));
}

static int add_int(struct fbuf *out, int64_t v) { return fbuf_addf(out, "%lld", (long long)v); }

/* Each repeated wrapper is rendered element by element; a macro keeps the loops uniform. */
#define ARRAY(list, ELEM)                                                               \
    do {                                                                                \
        rc = fbuf_addc(out, '[');                                                       \
        for (size_t i_ = 0; (list) && i_ < (list)->n_val && !rc; i_++) {                \
            if (i_ && (rc = fbuf_addc(out, ',')))                                       \
                break;                                                                  \
            rc = ELEM((list)->val[i_]);                                                 \
        }                                                                               \
        return rc ? rc : fbuf_addc(out, ']');                                           \
    } while (0)

static int render(const Feast__Types__Value *v, struct fbuf *out, int depth);

static int render_map(const Feast__Types__Map *m, struct fbuf *out, int depth)
{
    int rc = fbuf_addc(out, '{');
    for (size_t i = 0; m && i < m->n_val && !rc; i++) {
        const Feast__Types__Map__ValEntry *e = m->val[i];
        if ((i && (rc = fbuf_addc(out, ','))) ||
            (rc = add_json_string(out, e->key ? e->key : "", e->key ? strlen(e->key) : 0)) ||
            (rc = fbuf_addc(out, ':')))
            break;
        rc = e->value ? render(e->value, out, depth + 1) : fbuf_adds(out, "null");
    }
    return rc ? rc : fbuf_addc(out, '}');
}

static int render(const Feast__Types__Value *v, struct fbuf *out, int depth)
{
    int rc = 0;
    if (depth > MAX_DEPTH)
        return FERRY_ELIMIT;
#define STR(s) add_json_string(out, (s), strlen(s))
#define B64(b) add_base64(out, (b).data, (b).len)
#define DBL(d) add_double(out, (d))
#define INT(i) add_int(out, (i))
#define BOOL(b) fbuf_adds(out, (b) ? "true" : "false")
#define VAL(x) render((x), out, depth + 1)
#define MAP(x) render_map((x), out, depth + 1)
    switch (v->val_case) {
    case FEAST__TYPES__VALUE__VAL__NOT_SET:
    case FEAST__TYPES__VALUE__VAL_NULL_VAL:
        return fbuf_adds(out, "null");
    case FEAST__TYPES__VALUE__VAL_BYTES_VAL: return B64(v->bytes_val);
    case FEAST__TYPES__VALUE__VAL_STRING_VAL: return STR(v->string_val);
    case FEAST__TYPES__VALUE__VAL_JSON_VAL: return STR(v->json_val);
    case FEAST__TYPES__VALUE__VAL_UUID_VAL: return STR(v->uuid_val);
    case FEAST__TYPES__VALUE__VAL_TIME_UUID_VAL: return STR(v->time_uuid_val);
    case FEAST__TYPES__VALUE__VAL_DECIMAL_VAL: return STR(v->decimal_val);
    case FEAST__TYPES__VALUE__VAL_INT32_VAL: return INT(v->int32_val);
    case FEAST__TYPES__VALUE__VAL_INT64_VAL: return INT(v->int64_val);
    case FEAST__TYPES__VALUE__VAL_UNIX_TIMESTAMP_VAL: return INT(v->unix_timestamp_val);
    case FEAST__TYPES__VALUE__VAL_DOUBLE_VAL: return DBL(v->double_val);
    case FEAST__TYPES__VALUE__VAL_FLOAT_VAL: return DBL((double)v->float_val);
    case FEAST__TYPES__VALUE__VAL_BOOL_VAL: return BOOL(v->bool_val);
    case FEAST__TYPES__VALUE__VAL_BYTES_LIST_VAL: ARRAY(v->bytes_list_val, B64);
    case FEAST__TYPES__VALUE__VAL_BYTES_SET_VAL: ARRAY(v->bytes_set_val, B64);
    case FEAST__TYPES__VALUE__VAL_STRING_LIST_VAL: ARRAY(v->string_list_val, STR);
    case FEAST__TYPES__VALUE__VAL_JSON_LIST_VAL: ARRAY(v->json_list_val, STR);
    case FEAST__TYPES__VALUE__VAL_UUID_LIST_VAL: ARRAY(v->uuid_list_val, STR);
    case FEAST__TYPES__VALUE__VAL_TIME_UUID_LIST_VAL: ARRAY(v->time_uuid_list_val, STR);
    case FEAST__TYPES__VALUE__VAL_DECIMAL_LIST_VAL: ARRAY(v->decimal_list_val, STR);
    case FEAST__TYPES__VALUE__VAL_STRING_SET_VAL: ARRAY(v->string_set_val, STR);
    case FEAST__TYPES__VALUE__VAL_UUID_SET_VAL: ARRAY(v->uuid_set_val, STR);
    case FEAST__TYPES__VALUE__VAL_TIME_UUID_SET_VAL: ARRAY(v->time_uuid_set_val, STR);
    case FEAST__TYPES__VALUE__VAL_DECIMAL_SET_VAL: ARRAY(v->decimal_set_val, STR);
    case FEAST__TYPES__VALUE__VAL_INT32_LIST_VAL: ARRAY(v->int32_list_val, INT);
    case FEAST__TYPES__VALUE__VAL_INT32_SET_VAL: ARRAY(v->int32_set_val, INT);
    case FEAST__TYPES__VALUE__VAL_INT64_LIST_VAL: ARRAY(v->int64_list_val, INT);
    case FEAST__TYPES__VALUE__VAL_INT64_SET_VAL: ARRAY(v->int64_set_val, INT);
    case FEAST__TYPES__VALUE__VAL_UNIX_TIMESTAMP_LIST_VAL: ARRAY(v->unix_timestamp_list_val, INT);
    case FEAST__TYPES__VALUE__VAL_UNIX_TIMESTAMP_SET_VAL: ARRAY(v->unix_timestamp_set_val, INT);
    case FEAST__TYPES__VALUE__VAL_DOUBLE_LIST_VAL: ARRAY(v->double_list_val, DBL);
    case FEAST__TYPES__VALUE__VAL_DOUBLE_SET_VAL: ARRAY(v->double_set_val, DBL);
    case FEAST__TYPES__VALUE__VAL_FLOAT_LIST_VAL: ARRAY(v->float_list_val, DBL);
    case FEAST__TYPES__VALUE__VAL_FLOAT_SET_VAL: ARRAY(v->float_set_val, DBL);
    case FEAST__TYPES__VALUE__VAL_BOOL_LIST_VAL: ARRAY(v->bool_list_val, BOOL);
    case FEAST__TYPES__VALUE__VAL_BOOL_SET_VAL: ARRAY(v->bool_set_val, BOOL);
    case FEAST__TYPES__VALUE__VAL_LIST_VAL: ARRAY(v->list_val, VAL);
    case FEAST__TYPES__VALUE__VAL_SET_VAL: ARRAY(v->set_val, VAL);
    case FEAST__TYPES__VALUE__VAL_MAP_VAL: return render_map(v->map_val, out, depth + 1);
    case FEAST__TYPES__VALUE__VAL_STRUCT_VAL: return render_map(v->struct_val, out, depth + 1);
    case FEAST__TYPES__VALUE__VAL_MAP_LIST_VAL: ARRAY(v->map_list_val, MAP);
    case FEAST__TYPES__VALUE__VAL_STRUCT_LIST_VAL: ARRAY(v->struct_list_val, MAP);
    default: /* scalar_map_val, zoned_timestamp_val, unknown fields: see the header comment */
        return fbuf_adds(out, "null");
    }
#undef STR
#undef B64
#undef DBL
#undef INT
#undef BOOL
#undef VAL
#undef MAP
}

int feast_value_to_json(const void *val, size_t len, struct fbuf *out, struct ferry_err *err)
{
    int rc;
    if (len == 0) { /* Feast's null: an unset Value */
        if ((rc = fbuf_adds(out, "null")))
            return ferry_errf(err, rc, "value to JSON: output buffer full");
        return 0;
    }
    Feast__Types__Value *v = feast__types__value__unpack(NULL, len, val);
    if (!v)
        return ferry_errf(err, FERRY_EINVAL, "value to JSON: %zu bytes are not a valid feast.types.Value",
                          len);
    size_t start = out->len;
    rc = render(v, out, 0);
    feast__types__value__free_unpacked(v, NULL);
    if (rc == FERRY_ELIMIT && out->data) { /* the depth limit, not a full buffer */
        out->len = start;
        out->data[start] = '\0';
        return ferry_errf(err, rc, "value to JSON: value nested deeper than %d levels", MAX_DEPTH);
    }
    if (rc)
        return ferry_errf(err, rc, "value to JSON: output buffer full");
    return 0;
}
