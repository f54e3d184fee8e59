/* Private to src/offline/: what the SQL offline stores (postgres.c, odbc.c) share, so both push
 * down the same query and treat columns, errors and rows the same way:
 *   - a source description (column names, server type names, feast_src_kind of each column),
 *   - the plan: which column serves each key, feature and timestamp, with check()'s messages,
 *   - the query text, written for a dialect (identifier quote, parameter style),
 *   - a row writer that turns one result row of native values into feast_batch rows and hands
 *     full batches to the pull's emit callback.
 * Library handles never come here: backends convert their values to struct sq_val first. */
#ifndef FERRY_OFFLINE_SQLSRC_H
#define FERRY_OFFLINE_SQLSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "offline/offline.h"

/* ---- source description ---- */
struct sq_col {
    char *name;
    char *type_name;       /* the server's spelling, for messages */
    int kind;              /* enum feast_src_kind; 0 = a type ferry cannot read */
    int elem_kind;         /* FEAST_SRC_LIST: the element kind (0 = unreadable) */
    int infer_vtype;       /* the ValueType Feast's apply infers from this type */
    bool is_date;          /* a DATE column (window bounds are rounded to days) */
    int code, aux;         /* the backend's own type codes (OID, SQL type, scale...) */
};
struct sq_desc {
    char *what;            /* "table x" or "the query of source y", for messages */
    size_t ncols;
    struct sq_col *cols;
};
struct sq_col *sq_desc_add(struct sq_desc *d, const char *name, const char *type_name);
void sq_desc_cleanup(struct sq_desc *d);
/* "table \"s\".\"t\"" or "the query of source <name>", owned by the caller. */
char *sq_source_what(const struct feast_source *s);

/* ---- plan ---- */
struct sq_need {
    const char *name;      /* Feast name */
    const char *src;       /* source column after reverse field mapping */
    int vtype;
    ssize_t col;           /* index in the description; -1 for the implied __dummy_id key */
};
struct sq_plan {
    const char *store;     /* "PostgreSQL" or "ODBC", in type messages */
    struct sq_desc d;
    size_t nkeys, nfeatures;
    struct sq_need *keys, *features;
    struct sq_need ts, created;
    bool has_created;
    size_t nresult;        /* columns the pushed-down query returns */
};
/* Takes ownership of *d (also on failure) and matches every needed column, checking types the way
 * the DuckDB backend does (same messages with the store's name). */
int sq_plan_make(const struct offline_pull *pull, struct sq_desc *d, const char *store,
                 struct sq_plan *p, struct ferry_err *err);
void sq_plan_cleanup(struct sq_plan *p);
/* Source column name behind result column i (keys without __dummy_id, features, ts, created). */
const char *sq_result_src(const struct sq_plan *p, size_t i);
const struct sq_col *sq_result_col(const struct sq_plan *p, size_t i);
/* Feast's infer_types over a description: FEAST_VT_INVALID for names without a column. */
void sq_infer(const struct sq_desc *d, const struct feast_source *s, const char *const *names, size_t n,
              int *vtypes);

/* ---- query text ---- */
struct sq_dialect {
    char quote;            /* identifier quote: '"' (standard) or '`' (Databricks, MySQL) */
    bool dollar_params;    /* $1, $2 (libpq) instead of ? (ODBC) */
};
int sq_add_ident(struct fbuf *b, const struct sq_dialect *dl, const char *name);
/* A table name (dotted parts are qualifiers, each quoted; snowflake's database and schema first)
 * or "( <query> ) AS "src"": the query text comes from the user's own definitions. */
int sq_add_from(struct fbuf *b, const struct sq_dialect *dl, const struct feast_source *s);
/* SELECT * FROM <from> WHERE 1 = 0: the columns without rows. */
int sq_build_describe(struct fbuf *b, const struct sq_dialect *dl, const struct feast_source *s);
/* The latest row per key in [lo, hi] (two parameters), portable to PostgreSQL, Snowflake, SQL Server
 * and Databricks:
 *   SELECT aliases FROM (SELECT col AS alias..., ROW_NUMBER() OVER (PARTITION BY keys ORDER BY ts DESC,
 *     CASE WHEN created IS NULL THEN 1 ELSE 0 END, created DESC) AS "_feast_row"
 *     FROM <from> WHERE ts BETWEEN lo AND hi) AS "_ferry_latest" WHERE "_feast_row" = 1 */
int sq_build_latest(struct fbuf *b, const struct sq_dialect *dl, const struct feast_source *s,
                    const struct sq_plan *p);

/* ---- values and rows ---- */
enum sq_vkind { SQ_NULL = 0, SQ_INT, SQ_DOUBLE, SQ_STR, SQ_BYTES, SQ_BOOL, SQ_TIME, SQ_DECIMAL, SQ_LIST };
struct sq_val {
    int kind;              /* enum sq_vkind */
    int64_t i;             /* SQ_INT; SQ_TIME in ns */
    double d;
    const char *s;         /* SQ_STR, SQ_BYTES, SQ_DECIMAL (its text): not owned */
    size_t n;
    bool b;
    const struct sq_val *elems; size_t nelems;   /* SQ_LIST */
};

struct sq_writer {
    struct offline_pull *pull;
    const struct sq_plan *p;
    struct feast_batch *batch;
};
int sq_writer_init(struct sq_writer *w, struct offline_pull *pull, const struct sq_plan *p,
                   struct ferry_err *err);
/* One result row (p->nresult values); emits the batch when it is full. */
int sq_writer_row(struct sq_writer *w, const struct sq_val *vals, struct ferry_err *err);
int sq_writer_finish(struct sq_writer *w, struct ferry_err *err);   /* emits the last rows */
void sq_writer_cleanup(struct sq_writer *w);

/* Days from 1970-01-01 of y-m-d (proleptic Gregorian); for drivers that return dates as fields. */
int64_t sq_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inclusive ns window rounded inwards to microseconds, or to whole days for DATE columns. */
void sq_window(int64_t start_ns, int64_t end_ns, bool days, int64_t *lo, int64_t *hi);

#endif
