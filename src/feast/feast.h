/* Feast's wire formats and object model, as ferry needs them (shared/docs/feast-compat.md):
 *   - ValueType numbers and dtype names (§3.7),
 *   - the model of entities, data sources and feature views (§7.2) used by config, registry and
 *     engine alike,
 *   - entity key serialization v1/v2/v3 (§3),
 *   - Value protobuf encoding (§4) into row batches, and decoding for reads,
 *   - Python's float repr (value_text, JSON), MurmurHash3 (Redis field names).
 * Knows nothing of stores or I/O. Model objects own all their strings (freed by feast_*_cleanup). */
#ifndef FERRY_FEAST_H
#define FERRY_FEAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* ---- ValueType (protos/feast/types/Value.proto ValueType.Enum) ---- */
enum feast_vtype {
    FEAST_VT_INVALID = 0, FEAST_VT_BYTES = 1, FEAST_VT_STRING = 2, FEAST_VT_INT32 = 3,
    FEAST_VT_INT64 = 4, FEAST_VT_DOUBLE = 5, FEAST_VT_FLOAT = 6, FEAST_VT_BOOL = 7,
    FEAST_VT_UNIX_TIMESTAMP = 8, FEAST_VT_BYTES_LIST = 11, FEAST_VT_STRING_LIST = 12,
    FEAST_VT_INT32_LIST = 13, FEAST_VT_INT64_LIST = 14, FEAST_VT_DOUBLE_LIST = 15,
    FEAST_VT_FLOAT_LIST = 16, FEAST_VT_BOOL_LIST = 17, FEAST_VT_UNIX_TIMESTAMP_LIST = 18,
    FEAST_VT_NULL = 19, FEAST_VT_MAP = 20, FEAST_VT_JSON = 32, FEAST_VT_JSON_LIST = 33,
};

/* "Float32" -> FEAST_VT_FLOAT, "Array(Int64)" -> FEAST_VT_INT64_LIST, "Json", ...
 * Returns FEAST_VT_INVALID for a name ferry does not support. */
int feast_dtype_parse(const char *name);
/* FEAST_VT_FLOAT -> "Float32", FEAST_VT_INT64_LIST -> "Array(Int64)"; "Invalid" when unknown. */
const char *feast_dtype_name(int vtype);
bool feast_vtype_is_list(int vtype);
int feast_vtype_list_elem(int vtype);          /* FEAST_VT_INT64_LIST -> FEAST_VT_INT64, else INVALID */
bool feast_vtype_is_entity_key(int vtype);     /* STRING, BYTES, INT32, INT64, UNIX_TIMESTAMP */

/* ---- object model ---- */
struct feast_kv { char *key, *value; };

struct feast_entity {
    char *name;
    char *join_key;        /* defaults to name */
    int vtype;             /* declared value type, FEAST_VT_INVALID if unset */
    char *description;
    struct feast_kv *tags; size_t ntags;
};

/* FILE reads `path`; the SQL kinds read `table` (a name, dotted parts = schema.table) or `query`
 * (the text of a SELECT, run as a subquery) from the offline store's database. */
enum feast_source_kind { FEAST_SOURCE_FILE = 1, FEAST_SOURCE_POSTGRES = 2, FEAST_SOURCE_SNOWFLAKE = 3,
                         FEAST_SOURCE_ODBC = 4 };
enum feast_file_format { FEAST_FORMAT_PARQUET = 1, FEAST_FORMAT_CSV = 2 };

struct feast_source {
    char *name;
    int kind;                          /* enum feast_source_kind */
    char *path;                        /* FILE: file path or URI as written (relative to the repo dir) */
    int file_format;                   /* FILE: enum feast_file_format, from the path's extension */
    char *table;                       /* SQL kinds: table name, or NULL when query is set */
    char *query;                       /* SQL kinds: SELECT text (the user's own definition), or NULL */
    char *database, *schema;           /* SNOWFLAKE: qualifiers of table (NULL = connection's) */
    char *timestamp_field;             /* event timestamp column, required */
    char *created_column;              /* NULL when not configured */
    struct feast_kv *field_mapping; size_t nfield_mapping; /* source column -> feature/key name */
    char *description;
};

struct feast_feature {
    char *name;
    int vtype;
    char *description;
};

struct feast_interval { int64_t start_ns, end_ns; };

enum feast_view_kind { FEAST_VIEW_BATCH = 1, FEAST_VIEW_STREAM = 2, FEAST_VIEW_ON_DEMAND = 3 };
enum feast_view_state { FEAST_STATE_UNSPECIFIED = 0, FEAST_STATE_CREATED = 1, FEAST_STATE_GENERATED = 2,
                        FEAST_STATE_MATERIALIZING = 3, FEAST_STATE_AVAILABLE_ONLINE = 4 };

struct feast_view {
    char *name;
    int kind;                          /* enum feast_view_kind */
    char **entities; size_t nentities; /* entity names; "__dummy" for entity-less views */
    struct feast_feature *entity_columns; size_t nentity_columns; /* join keys and their key types */
    struct feast_feature *features; size_t nfeatures;
    int64_t ttl_ns;                    /* 0 = no ttl */
    bool online, offline, disabled;
    bool write_to_online_store;        /* on-demand views only */
    struct feast_source source;        /* batch source */
    char *description;
    struct feast_kv *tags; size_t ntags;
    struct feast_interval *intervals; size_t nintervals; /* materialization intervals */
    int state;                         /* enum feast_view_state */
    int64_t created_ns, updated_ns;    /* meta timestamps, FERRY_TIME_NONE if unset */
};

/* A set of definitions (from features.yaml or a registry). */
struct feast_defs {
    struct feast_entity *entities; size_t nentities;
    struct feast_source *sources; size_t nsources;
    struct feast_view *views; size_t nviews;
};

void feast_kvs_free(struct feast_kv *kv, size_t n);
void feast_entity_cleanup(struct feast_entity *e);
void feast_source_cleanup(struct feast_source *s);
void feast_view_cleanup(struct feast_view *v);
void feast_defs_cleanup(struct feast_defs *d);
/* Deep copies (abort on out-of-memory, like xmalloc). */
void feast_source_copy(struct feast_source *dst, const struct feast_source *src);
/* True for the kinds read through a SQL offline store (table or query instead of a path). */
bool feast_source_is_sql(const struct feast_source *s);
/* What a source reads, for messages and listings: the path, the table, or "query". Never NULL. */
const char *feast_source_target(const struct feast_source *s);
void feast_view_copy(struct feast_view *dst, const struct feast_view *src);
/* Latest interval end, or FERRY_TIME_NONE when the view has none. */
int64_t feast_view_max_end(const struct feast_view *v);

#define FEAST_DUMMY_ENTITY "__dummy"
#define FEAST_DUMMY_ENTITY_ID "__dummy_id"

/* ---- entity keys (§3) ---- */
struct feast_scalar {
    int vtype;            /* STRING, BYTES, INT32, INT64 or UNIX_TIMESTAMP */
    int64_t i;            /* INT32, INT64, UNIX_TIMESTAMP (seconds) */
    const char *s;        /* STRING, BYTES */
    size_t n;
};

/* Appends the serialized entity key (version 1, 2 or 3) to out. Keys are sorted by name when there
 * are two or more, as Feast does. Errors: a value type that cannot be a key, an int64 outside int32
 * for version 1. */
int feast_key_serialize(struct fbuf *out, int version, size_t nkeys, const char *const *names,
                        const struct feast_scalar *values, struct ferry_err *err);

/* ---- encoded row batches ---- */
/* How one view's rows are encoded: key names/types in entity_columns order and feature types.
 * Built once per materialization from the view; owns copies of what it needs. */
struct feast_schema {
    int key_version;
    size_t nkeys;
    char **key_names;
    int *key_vtypes;
    size_t nfeatures;
    char **feature_names;
    int *feature_vtypes;
    size_t *key_order;                 /* key indexes in serialization (sorted-name) order */
    bool dummy_key;                    /* entity-less view: key __dummy_id = "" is implied */
    bool no_value_text;                /* set by the caller when the online store never reads cells'
                                        * value_text (Redis): numbers are then not formatted */
};
int feast_schema_init(struct feast_schema *s, const struct feast_view *v, int key_version,
                      struct ferry_err *err);
void feast_schema_cleanup(struct feast_schema *s);

struct feast_batch_row {
    size_t key_off; uint32_t key_len;  /* serialized entity key in bytes */
    int64_t event_ns;
    int64_t created_ns;                /* FERRY_TIME_NONE when the view has no created column */
};
struct feast_batch_cell {
    size_t val_off; uint32_t val_len;  /* serialized Value; length 0 = null (unset Value) */
    size_t text_off; int32_t text_len; /* SQLite value_text; -1 = SQL NULL */
};
/* Rows of one view, encoded in Feast's formats, ready for any online store. Owns its memory. */
struct feast_batch {
    const struct feast_schema *schema;
    size_t nrows, cap_rows;
    struct feast_batch_row *rows;      /* nrows */
    struct feast_batch_cell *cells;    /* nrows * schema->nfeatures, row-major */
    struct fbuf bytes;                 /* arena holding keys, values and texts */
    /* private state of the row being built */
    struct feast_scalar *pending_keys;
    struct fbuf scratch;
    int in_list; size_t list_feature; size_t list_count;
    struct fbuf keybuf;                /* string key bytes of the row being built */
    bool in_row;
};

/* The arena of one batch never exceeds this; a row that would cross it fails with FERRY_ELIMIT,
 * leaving the rows already ended intact (flush them, feast_batch_reset, then rebuild the row). */
#define FEAST_BATCH_MAX_BYTES ((size_t)1 << 30)

int feast_batch_init(struct feast_batch *b, const struct feast_schema *s, size_t cap_rows);
void feast_batch_reset(struct feast_batch *b);   /* nrows = 0, keeps memory */
void feast_batch_cleanup(struct feast_batch *b);
static inline const unsigned char *feast_batch_key(const struct feast_batch *b, size_t row)
{ return (const unsigned char *)b->bytes.data + b->rows[row].key_off; }
static inline const struct feast_batch_cell *feast_batch_cell(const struct feast_batch *b, size_t row, size_t f)
{ return &b->cells[row * b->schema->nfeatures + f]; }

/* Native kinds a source column can have; the declared dtype decides the Value written. */
enum feast_src_kind { FEAST_SRC_INT = 1, FEAST_SRC_FLOAT, FEAST_SRC_STRING, FEAST_SRC_BOOL,
                      FEAST_SRC_TIMESTAMP, FEAST_SRC_BYTES, FEAST_SRC_DECIMAL, FEAST_SRC_LIST };
/* Whether a source column of this kind (and element kind, for lists) can become the declared
 * type, following Feast's conversion rules (§2.6). The matrix (scalar columns):
 *   Bytes <- BYTES              String <- INT, FLOAT, STRING, BOOL, DECIMAL
 *   Int32, Int64 <- INT, FLOAT (truncated), BOOL, DECIMAL; Int64 also <- TIMESTAMP (seconds)
 *   Float64 <- INT, FLOAT, DECIMAL        Float32 <- INT, FLOAT, BOOL, DECIMAL
 *   Bool <- BOOL, INT (non-zero)          UnixTimestamp <- TIMESTAMP (floor seconds), INT (seconds)
 *   Json <- STRING (must parse), INT, FLOAT, BOOL (json.dumps)
 * List columns (kind LIST) by element kind: Array(Int32|Int64) <- INT; Array(Float32|Float64) <-
 * FLOAT; Array(Bool) <- BOOL; Array(String) <- STRING; Array(Bytes) <- BYTES; Array(UnixTimestamp)
 * <- TIMESTAMP, INT; Array(Json) <- STRING, INT, FLOAT, BOOL.
 * Setter per kind: INT feast_row_int, FLOAT feast_row_double, STRING feast_row_str, BOOL
 * feast_row_bool, TIMESTAMP feast_row_time, BYTES feast_row_bytes (list elements:
 * feast_row_list_str), DECIMAL feast_row_str with the decimal text for String and feast_row_double
 * otherwise. A NaN passed to a scalar setter is null (pd.isnull), except for Json ("NaN"). */
bool feast_src_compatible(int vtype, int kind, int elem_kind);
const char *feast_src_kind_name(int kind);
/* The same for entity key columns, which take the kinds of the feast_row_key_* setters only:
 * INT -> Int32, Int64, UnixTimestamp (as seconds), String (decimal); STRING -> String;
 * BYTES -> Bytes (passed through feast_row_key_str); TIMESTAMP -> UnixTimestamp, Int64 (seconds). */
bool feast_key_src_compatible(int vtype, int kind);

/* Building one row: begin, set every key (index in entity_columns order) and every feature
 * (index in schema feature order), end. Setters convert the native value to the declared type;
 * they fail with FERRY_EINVAL for values that do not fit (e.g. int64 into Int32). Features not set
 * are null. */
int feast_row_begin(struct feast_batch *b);
int feast_row_key_int(struct feast_batch *b, size_t k, int64_t v, struct ferry_err *err);
int feast_row_key_str(struct feast_batch *b, size_t k, const char *p, size_t n, struct ferry_err *err);
int feast_row_key_time(struct feast_batch *b, size_t k, int64_t ns, struct ferry_err *err);
int feast_row_null(struct feast_batch *b, size_t f);
int feast_row_int(struct feast_batch *b, size_t f, int64_t v, struct ferry_err *err);
int feast_row_double(struct feast_batch *b, size_t f, double v, struct ferry_err *err);
int feast_row_bool(struct feast_batch *b, size_t f, bool v, struct ferry_err *err);
int feast_row_str(struct feast_batch *b, size_t f, const char *p, size_t n, struct ferry_err *err);
int feast_row_bytes(struct feast_batch *b, size_t f, const void *p, size_t n, struct ferry_err *err);
int feast_row_time(struct feast_batch *b, size_t f, int64_t ns, struct ferry_err *err);
/* Lists: begin, then one element setter per element (a null element becomes the type's default,
 * as Feast does), then end. */
int feast_row_list_begin(struct feast_batch *b, size_t f);
int feast_row_list_int(struct feast_batch *b, int64_t v, struct ferry_err *err);
int feast_row_list_double(struct feast_batch *b, double v, struct ferry_err *err);
int feast_row_list_bool(struct feast_batch *b, bool v, struct ferry_err *err);
int feast_row_list_str(struct feast_batch *b, const char *p, size_t n, struct ferry_err *err);
int feast_row_list_time(struct feast_batch *b, int64_t ns, struct ferry_err *err);
int feast_row_list_null(struct feast_batch *b, struct ferry_err *err);
int feast_row_list_end(struct feast_batch *b, struct ferry_err *err);
int feast_row_end(struct feast_batch *b, int64_t event_ns, int64_t created_ns, struct ferry_err *err);

/* ---- reading values back ---- */
/* Appends the Feast JSON rendering of a serialized Value (§8.3): numbers as JSON numbers, float32
 * widened to double in Python's repr, bytes as base64, lists as arrays, unset -> null. */
int feast_value_to_json(const void *val, size_t len, struct fbuf *out, struct ferry_err *err);

/* Python repr() of a double: shortest round-trip digits, "1.0", "1e+16", "inf", "nan". */
#define FEAST_PYFLOAT_BUF 32
char *feast_py_float_repr(double d, char buf[FEAST_PYFLOAT_BUF]);

/* MurmurHash3 x86_32 (Redis feature field names, §6.1). */
uint32_t feast_murmur3_32(const void *data, size_t len, uint32_t seed);

#endif
