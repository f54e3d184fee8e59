/* The default offline store: DuckDB (in-memory database) reading a view's Parquet or CSV source.
 * "Latest row per entity key in [start, end]" is one pushed-down query (feast-compat.md §2.4-2.5):
 * the window filter compares the timestamp column with bounds of its own type, so DuckDB can prune
 * row groups, and QUALIFY row_number() keeps the newest row per key (event ts, then created ts, both
 * descending, nulls last). Results are streamed chunk by chunk into feast_batch rows, so ferry's
 * memory is bounded by the batch size, not by the file. DuckDB objects never leave this file. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* duckdb.h declares a few functions as f() rather than f(void); it is third-party, so the warning
 * is silenced for it alone. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "duckdb.h"
#pragma GCC diagnostic pop

#include "core/buf.h"
#include "core/time.h"
#include "core/util.h"
#include "offline/offline_impl.h"

#define SQL_MAX (1u << 20)
#define DUCK_DEFAULT_MEMORY_LIMIT "128MB"

struct duck_store {
    struct offline_store base;   /* must be first: offline.c sees only this */
    duckdb_database db;
    duckdb_connection con;
    char *repo_dir;
    bool key_order;              /* ORDER BY serialized key: only the SQLite online store gains */
};

static struct duck_store *duck(struct offline_store *st) { return (struct duck_store *)st; }

/* ---- types ---- */

/* One DuckDB scalar type as the reader needs it. */
struct scal {
    duckdb_type id;
    duckdb_type internal;  /* DECIMAL: storage type */
    uint8_t scale;         /* DECIMAL */
};
struct coltype {
    struct scal s;         /* the type itself, or the element type when is_list */
    bool is_list;
    bool nested_list;      /* a list of lists, or of something else not scalar: unsupported */
};

static void scal_from(duckdb_logical_type lt, struct scal *s)
{
    s->id = duckdb_get_type_id(lt);
    s->internal = DUCKDB_TYPE_INVALID;
    s->scale = 0;
    if (s->id == DUCKDB_TYPE_DECIMAL) {
        s->internal = duckdb_decimal_internal_type(lt);
        s->scale = duckdb_decimal_scale(lt);
    }
}

static void coltype_from(duckdb_logical_type lt, struct coltype *t)
{
    memset(t, 0, sizeof *t);
    if (duckdb_get_type_id(lt) == DUCKDB_TYPE_LIST) {
        duckdb_logical_type child = duckdb_list_type_child_type(lt);
        t->is_list = true;
        scal_from(child, &t->s);
        t->nested_list = t->s.id == DUCKDB_TYPE_LIST || t->s.id == DUCKDB_TYPE_ARRAY;
        duckdb_destroy_logical_type(&child);
    } else {
        scal_from(lt, &t->s);
    }
}

/* DuckDB type -> the native kind Feast's conversion rules are written for (feast_src_compatible).
 * 0 = a type ferry cannot read (STRUCT, MAP, INTERVAL, UUID, TIME, ...). */
static int scal_kind(const struct scal *s)
{
    switch (s->id) {
    case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT: case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT: case DUCKDB_TYPE_UTINYINT: case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT: case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
        return FEAST_SRC_INT;
    case DUCKDB_TYPE_FLOAT: case DUCKDB_TYPE_DOUBLE:
        return FEAST_SRC_FLOAT;
    case DUCKDB_TYPE_DECIMAL:
        return FEAST_SRC_DECIMAL;
    case DUCKDB_TYPE_VARCHAR:
        return FEAST_SRC_STRING;
    case DUCKDB_TYPE_BLOB:
        return FEAST_SRC_BYTES;
    case DUCKDB_TYPE_BOOLEAN:
        return FEAST_SRC_BOOL;
    case DUCKDB_TYPE_TIMESTAMP: case DUCKDB_TYPE_TIMESTAMP_S: case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS: case DUCKDB_TYPE_TIMESTAMP_TZ: case DUCKDB_TYPE_DATE:
        return FEAST_SRC_TIMESTAMP;
    default:
        return 0;
    }
}

static bool is_time_type(duckdb_type id)
{
    struct scal s = {.id = id};
    return scal_kind(&s) == FEAST_SRC_TIMESTAMP;
}

/* SQL type name used to cast the window bounds to the timestamp column's own type. */
static const char *time_sql_type(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_TIMESTAMP_S: return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS: return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS: return "TIMESTAMP_NS";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMPTZ";
    case DUCKDB_TYPE_DATE: return "DATE";
    default: return "TIMESTAMP";
    }
}

/* Nanoseconds per unit of a time type's stored integer. */
static int64_t time_unit_ns(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_TIMESTAMP_S: return FERRY_NS_PER_SEC;
    case DUCKDB_TYPE_TIMESTAMP_MS: return INT64_C(1000000);
    case DUCKDB_TYPE_TIMESTAMP_NS: return 1;
    case DUCKDB_TYPE_DATE: return 86400 * FERRY_NS_PER_SEC;
    default: return 1000;   /* TIMESTAMP, TIMESTAMPTZ: microseconds */
    }
}

static int64_t floor_div(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && a < 0) ? q - 1 : q; }
static int64_t ceil_div(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && a > 0) ? q + 1 : q; }

/* ---- open / close ---- */

static void duck_close(struct offline_store *st)
{
    struct duck_store *d = duck(st);
    if (!d)
        return;
    if (d->con)
        duckdb_disconnect(&d->con);
    if (d->db)
        duckdb_close(&d->db);
    free(d->repo_dir);
    free(d);
}

static int duck_open(const struct ferry_config *cfg, struct offline_store **out, struct ferry_err *err)
{
    struct duck_store *d = xcalloc(1, sizeof *d);
    duckdb_config dc = NULL;
    char *open_err = NULL;
    int rc = 0;
    if (duckdb_create_config(&dc) == DuckDBError) {
        rc = ferry_errf(err, FERRY_ENOMEM, "duckdb: cannot create a configuration");
        goto fail;
    }
    /* DuckDB's own default is 80% of the machine's memory, and the window sort of a large window
     * takes what it is given (about 0.9 GB of RSS at 1M entities x 4 rows in bench/run). A bounded
     * default makes DuckDB spill to its temporary directory instead; 128MB kept peak RSS near
     * 300 MB there at a cost within the run-to-run noise. `ferry: duckdb: memory_limit` overrides. */
    const char *mem = cfg->ferry.duckdb_memory_limit && *cfg->ferry.duckdb_memory_limit
                          ? cfg->ferry.duckdb_memory_limit : DUCK_DEFAULT_MEMORY_LIMIT;
    if (duckdb_set_config(dc, "memory_limit", mem) == DuckDBError) {
        rc = ferry_errf(err, FERRY_ECONFIG, "ferry.duckdb_memory_limit '%s' is not accepted by DuckDB", mem);
        goto fail;
    }
    if (cfg->ferry.duckdb_threads > 0) {
        char n[24];
        snprintf(n, sizeof n, "%d", cfg->ferry.duckdb_threads);
        if (duckdb_set_config(dc, "threads", n) == DuckDBError) {
            rc = ferry_errf(err, FERRY_ECONFIG, "ferry.duckdb_threads %s is not accepted by DuckDB", n);
            goto fail;
        }
    }
    if (duckdb_open_ext(NULL, &d->db, dc, &open_err) == DuckDBError) {
        /* memory_limit is only parsed here ("1XB" passes set_config), so blame it when it is set. */
        rc = ferry_errf(err, FERRY_ECONFIG, "duckdb: cannot open an in-memory database%s%s: %s",
                        cfg->ferry.duckdb_memory_limit ? " with memory_limit " : "",
                        cfg->ferry.duckdb_memory_limit ? cfg->ferry.duckdb_memory_limit : "",
                        open_err ? open_err : "unknown error");
        d->db = NULL;
        goto fail;
    }
    if (duckdb_connect(d->db, &d->con) == DuckDBError) {
        rc = ferry_errf(err, FERRY_EIO, "duckdb: cannot connect to the in-memory database");
        d->con = NULL;
        goto fail;
    }
    /* Naive timestamps are UTC in Feast (§2.7); with the session in UTC, any cast DuckDB makes
     * between TIMESTAMP and TIMESTAMPTZ (CSV sniffing, comparisons) is the identity. */
    duckdb_result r;
    if (duckdb_query(d->con, "SET TimeZone = 'UTC'", &r) == DuckDBError) {
        rc = ferry_errf(err, FERRY_EIO, "duckdb: cannot set TimeZone to UTC: %s", duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        goto fail;
    }
    duckdb_destroy_result(&r);
    d->repo_dir = xstrdup(cfg->repo_dir ? cfg->repo_dir : ".");
    /* The key order costs a sort in DuckDB, which only pays off where the online store is a B-tree
     * keyed by the serialized entity key: SQLite (the default store when type is unset). */
    d->key_order = !cfg->online.type || str_eq(cfg->online.type, "sqlite");
    duckdb_destroy_config(&dc);
    *out = &d->base;
    return 0;
fail:
    if (open_err)
        duckdb_free(open_err);
    if (dc)
        duckdb_destroy_config(&dc);
    duck_close(&d->base);
    return rc;
}

/* ---- describing the source ---- */

struct src_col {
    char *name;
    char *type_name;       /* DuckDB's spelling, for messages */
    struct coltype t;
};

struct src_desc {
    char *path;            /* absolute path of the file (or directory) */
    char *scan;            /* path as given to the table function (a glob for directories) */
    const char *fn;        /* read_parquet or read_csv */
    size_t ncols;
    struct src_col *cols;
};

static void desc_cleanup(struct src_desc *d)
{
    for (size_t i = 0; i < d->ncols; i++) {
        free(d->cols[i].name);
        free(d->cols[i].type_name);
    }
    free(d->cols);
    free(d->path);
    free(d->scan);
    memset(d, 0, sizeof *d);
}

/* Appends "fn($1, options)": the path is always parameter $1 (DuckDB accepts parameters in table
 * function arguments), so no path ever becomes SQL text. */
static int add_scan(struct fbuf *sql, const struct src_desc *d)
{
    if (strcmp(d->fn, "read_csv") == 0)
        return fbuf_adds(sql, "read_csv($1, auto_detect = true)");
    return fbuf_adds(sql, "read_parquet($1)");
}

static int bind_path(duckdb_prepared_statement ps, const struct src_desc *d)
{
    return duckdb_bind_varchar(ps, 1, d->scan) == DuckDBError ? -1 : 0;
}

/* Runs a prepared statement whose only parameter is the path, returning a materialized result. */
static int run_meta(struct duck_store *ds, const struct src_desc *d, const char *sql,
                    duckdb_result *r, const char *view, struct ferry_err *err)
{
    duckdb_prepared_statement ps = NULL;
    int rc = 0;
    if (duckdb_prepare(ds->con, sql, &ps) == DuckDBError) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot read source file %s: %s", view, d->path,
                        duckdb_prepare_error(ps));
        duckdb_destroy_prepare(&ps);
        return rc;
    }
    if (bind_path(ps, d) != 0) {
        duckdb_destroy_prepare(&ps);
        return ferry_errf(err, FERRY_EINTERNAL, "view %s: cannot bind the source path", view);
    }
    if (duckdb_execute_prepared(ps, r) == DuckDBError) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot read source file %s: %s", view, d->path,
                        duckdb_result_error(r));
        duckdb_destroy_result(r);
    }
    duckdb_destroy_prepare(&ps);
    return rc;
}

/* Reads the source's column names and types without reading rows: DESCRIBE for DuckDB's own type
 * spelling (messages), LIMIT 0 for the logical types (the reader). */
static int describe(struct duck_store *ds, const struct feast_view *v, struct src_desc *d,
                    struct ferry_err *err)
{
    memset(d, 0, sizeof *d);
    d->path = path_join(ds->repo_dir, v->source.path);
    d->fn = v->source.file_format == FEAST_FORMAT_CSV ? "read_csv" : "read_parquet";
    struct stat st;
    if (stat(d->path, &st) != 0) {
        int rc = ferry_errf(err, FERRY_ESOURCE, "view %s: source file %s does not exist", v->name, d->path);
        desc_cleanup(d);
        return rc;
    }
    /* Feast's FileSource may name a directory of files (e.g. a partitioned dataset). */
    if (S_ISDIR(st.st_mode))
        d->scan = xasprintf("%s/**/*.%s", d->path, strcmp(d->fn, "read_csv") == 0 ? "csv" : "parquet");
    else
        d->scan = xstrdup(d->path);

    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    duckdb_result rd, rl;
    int rc = 0;
    fbuf_adds(&sql, "DESCRIBE SELECT * FROM ");
    add_scan(&sql, d);
    rc = run_meta(ds, d, sql.data, &rd, v->name, err);
    if (rc)
        goto out;
    fbuf_reset(&sql);
    fbuf_adds(&sql, "SELECT * FROM ");
    add_scan(&sql, d);
    fbuf_adds(&sql, " LIMIT 0");
    rc = run_meta(ds, d, sql.data, &rl, v->name, err);
    if (rc) {
        duckdb_destroy_result(&rd);
        goto out;
    }
    d->ncols = duckdb_column_count(&rl);
    d->cols = xcalloc(d->ncols ? d->ncols : 1, sizeof *d->cols);
    idx_t ndesc = duckdb_row_count(&rd);
    for (size_t i = 0; i < d->ncols; i++) {
        d->cols[i].name = xstrdup(duckdb_column_name(&rl, i));
        duckdb_logical_type lt = duckdb_column_logical_type(&rl, i);
        coltype_from(lt, &d->cols[i].t);
        duckdb_destroy_logical_type(&lt);
        char *tn = i < ndesc ? duckdb_value_varchar(&rd, 1, i) : NULL;
        d->cols[i].type_name = xstrdup(tn ? tn : "?");
        if (tn)
            duckdb_free(tn);
    }
    duckdb_destroy_result(&rd);
    duckdb_destroy_result(&rl);
out:
    fbuf_cleanup(&sql);
    if (rc)
        desc_cleanup(d);
    return rc;
}

/* ---- planning: which source column serves each key, feature and timestamp ---- */

struct need {
    const char *name;      /* Feast name (key, feature) */
    const char *src;       /* source column name after reverse field mapping */
    int vtype;             /* declared type */
    ssize_t col;           /* index in src_desc; -1 for the constant __dummy_id key */
};

struct plan {
    struct src_desc d;
    size_t nkeys, nfeatures;
    struct need *keys, *features;
    struct need ts, created;
    bool has_created;
    bool key_order;        /* the store asked for rows in serialized key order */
};

static void plan_cleanup(struct plan *p)
{
    desc_cleanup(&p->d);
    free(p->keys);
    free(p->features);
    memset(p, 0, sizeof *p);
}

/* Feast asks the source for the column that field_mapping renames into this name (§2.4). */
static const char *reverse_map(const struct feast_source *s, const char *name)
{
    for (size_t i = 0; i < s->nfield_mapping; i++)
        if (str_eq(s->field_mapping[i].value, name))
            return s->field_mapping[i].key;
    return name;
}

static ssize_t find_col(const struct src_desc *d, const char *name)
{
    for (size_t i = 0; i < d->ncols; i++)
        if (strcmp(d->cols[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

static int missing_col(const struct feast_view *v, const struct src_desc *d, const char *what,
                       const struct need *n, struct ferry_err *err)
{
    struct fbuf avail;
    fbuf_init(&avail, 4096);
    for (size_t i = 0; i < d->ncols; i++)
        fbuf_addf(&avail, "%s%s", i ? ", " : "", d->cols[i].name);
    char mapped[160] = "";
    if (strcmp(n->name, n->src) != 0)
        snprintf(mapped, sizeof mapped, " (mapped to %s %s)", what, n->name);
    else
        snprintf(mapped, sizeof mapped, " (%s)", what);
    int rc = ferry_errf(err, FERRY_ESOURCE, "view %s: column %s%s not found in %s; available: %s",
                        v->name, n->src, mapped, d->path, avail.data ? avail.data : "(none)");
    fbuf_cleanup(&avail);
    return rc;
}

static int resolve(const struct feast_view *v, struct plan *p, const char *what, struct need *n,
                   struct ferry_err *err)
{
    n->src = reverse_map(&v->source, n->name);
    n->col = find_col(&p->d, n->src);
    return n->col < 0 ? missing_col(v, &p->d, what, n, err) : 0;
}

static int check_type(const struct feast_view *v, const struct plan *p, const struct need *n,
                      bool key, struct ferry_err *err)
{
    const struct src_col *c = &p->d.cols[n->col];
    int kind = c->t.is_list ? FEAST_SRC_LIST : scal_kind(&c->t.s);
    int elem = c->t.is_list && !c->t.nested_list ? scal_kind(&c->t.s) : 0;
    bool ok = kind != 0 && (!c->t.is_list || elem != 0) &&
              (key ? feast_key_src_compatible(n->vtype, kind) : feast_src_compatible(n->vtype, kind, elem));
    if (!ok)
        return ferry_errf(err, FERRY_ESOURCE,
                          "view %s: column %s has DuckDB type %s, which cannot become the declared "
                          "Feast type %s", v->name, c->name, c->type_name, feast_dtype_name(n->vtype));
    return 0;
}

static int check_time_col(const struct feast_view *v, const struct plan *p, const struct need *n,
                          const char *what, struct ferry_err *err)
{
    const struct src_col *c = &p->d.cols[n->col];
    if (c->t.is_list || !is_time_type(c->t.s.id))
        return ferry_errf(err, FERRY_ESOURCE,
                          "view %s: %s column %s has DuckDB type %s; expected TIMESTAMP, "
                          "TIMESTAMP WITH TIME ZONE or DATE", v->name, what, c->name, c->type_name);
    return 0;
}

/* Describes the source and matches every needed column; all of check() happens here. */
static int make_plan(struct duck_store *ds, const struct offline_pull *pull, struct plan *p,
                     struct ferry_err *err)
{
    const struct feast_view *v = pull->view;
    const struct feast_schema *s = pull->schema;
    memset(p, 0, sizeof *p);
    int rc = describe(ds, v, &p->d, err);
    if (rc)
        return rc;
    p->nkeys = s->nkeys;
    p->nfeatures = s->nfeatures;
    p->keys = xcalloc(p->nkeys ? p->nkeys : 1, sizeof *p->keys);
    p->features = xcalloc(p->nfeatures ? p->nfeatures : 1, sizeof *p->features);
    for (size_t k = 0; k < p->nkeys && !rc; k++) {
        struct need *n = &p->keys[k];
        n->name = s->key_names[k];
        n->vtype = s->key_vtypes[k];
        /* Entity-less views key every row by the constant __dummy_id = "" (dask.py adds it; the
         * batch fills it in), so nothing is read and the whole window has one latest row. */
        if (s->dummy_key) {
            n->src = n->name;
            n->col = -1;
            continue;
        }
        rc = resolve(v, p, "join key", n, err);
        if (!rc)
            rc = check_type(v, p, n, true, err);
    }
    for (size_t f = 0; f < p->nfeatures && !rc; f++) {
        struct need *n = &p->features[f];
        n->name = s->feature_names[f];
        n->vtype = s->feature_vtypes[f];
        rc = resolve(v, p, "feature", n, err);
        if (!rc)
            rc = check_type(v, p, n, false, err);
    }
    if (!rc) {
        p->ts.name = v->source.timestamp_field;
        rc = resolve(v, p, "timestamp field", &p->ts, err);
        if (!rc)
            rc = check_time_col(v, p, &p->ts, "timestamp field", err);
    }
    if (!rc && v->source.created_column && *v->source.created_column) {
        p->has_created = true;
        p->created.name = v->source.created_column;
        rc = resolve(v, p, "created timestamp column", &p->created, err);
        if (!rc)
            rc = check_time_col(v, p, &p->created, "created timestamp column", err);
    }
    if (rc)
        plan_cleanup(p);
    return rc;
}

static int duck_check(struct offline_store *st, const struct offline_pull *pull, struct ferry_err *err)
{
    struct plan p;
    int rc = make_plan(duck(st), pull, &p, err);
    if (!rc)
        plan_cleanup(&p);
    return rc;
}

/* ---- the query ---- */

/* Appends the little-endian bytes of an integer expression as one unsigned number whose order is
 * the byte order (byte 0 most significant): how memcmp orders the serialized value. */
static void add_le_order(struct fbuf *sql, const char *col, int nbytes)
{
    fbuf_adds(sql, "(");
    for (int i = 0; i < nbytes; i++) {
        fbuf_addf(sql, "%s(CAST(((CAST(", i ? " | " : "");
        sql_quote_ident(sql, col);
        fbuf_addf(sql, " AS BIGINT) >> %d) & 255) AS UBIGINT) << %d)", 8 * i, 8 * (nbytes - 1 - i));
    }
    fbuf_adds(sql, ")");
}

/* " ORDER BY ..." putting rows in the byte order of their serialized entity keys (feast/key.c:
 * per key in name order, a fixed type tag, then a little-endian int32/int64, or a little-endian
 * length and the bytes), which is the order of the SQLite primary key (entity_key, feature_name).
 * Rows written in that order append to the B-tree instead of touching pages all over it in every
 * batch's transaction: measured in bench/run at 1M entities, see the commit message. Only for the
 * key and source types whose serialized order DuckDB can compute exactly; otherwise nothing (any
 * order is correct, just slower to write). */
static void add_key_order(const struct plan *p, const struct feast_schema *s, struct fbuf *sql)
{
    if (s->dummy_key || p->nkeys == 0 || !p->key_order)
        return;
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct need *n = &p->keys[i];
        const struct coltype *t = &p->d.cols[n->col].t;
        if (t->is_list)
            return;
        bool small_int = t->s.id == DUCKDB_TYPE_TINYINT || t->s.id == DUCKDB_TYPE_SMALLINT ||
                         t->s.id == DUCKDB_TYPE_INTEGER || t->s.id == DUCKDB_TYPE_BIGINT ||
                         t->s.id == DUCKDB_TYPE_UTINYINT || t->s.id == DUCKDB_TYPE_USMALLINT ||
                         t->s.id == DUCKDB_TYPE_UINTEGER;
        bool ok = (n->vtype == FEAST_VT_INT64 || n->vtype == FEAST_VT_INT32) ? small_int
                  : n->vtype == FEAST_VT_STRING ? t->s.id == DUCKDB_TYPE_VARCHAR
                  : n->vtype == FEAST_VT_BYTES ? t->s.id == DUCKDB_TYPE_BLOB
                  : false;
        if (!ok)
            return;
    }
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct need *n = &p->keys[s->key_order[i]];
        fbuf_adds(sql, i ? ", " : " ORDER BY ");
        if (n->vtype == FEAST_VT_INT64 || n->vtype == FEAST_VT_INT32) {
            add_le_order(sql, n->src, n->vtype == FEAST_VT_INT64 && s->key_version >= 2 ? 8 : 4);
        } else {
            /* strings and blobs: the length's bytes, then DuckDB's byte-wise comparison */
            fbuf_adds(sql, "(");
            for (int b = 0; b < 4; b++) {
                fbuf_addf(sql, "%s(CAST(((%s(", b ? " | " : "", n->vtype == FEAST_VT_STRING ? "strlen" : "octet_length");
                sql_quote_ident(sql, n->src);
                fbuf_addf(sql, ") >> %d) & 255) AS UBIGINT) << %d)", 8 * b, 8 * (3 - b));
            }
            fbuf_adds(sql, "), ");
            sql_quote_ident(sql, n->src);
        }
    }
}

/* SELECT keys, features, ts[, created] FROM scan WHERE ts BETWEEN $2 AND $3
 * QUALIFY row_number() OVER (PARTITION BY keys ORDER BY ts DESC, created DESC) = 1
 * [ORDER BY serialized key order]
 * Output columns are positional: the reader knows column i by its place. */
static int build_sql(const struct plan *p, const struct feast_schema *s, struct fbuf *sql)
{
    const struct src_desc *d = &p->d;
    const char *tt = time_sql_type(d->cols[p->ts.col].t.s.id);
    size_t nsel = 0;
    fbuf_adds(sql, "SELECT ");
    for (size_t k = 0; k < p->nkeys; k++) {
        if (p->keys[k].col < 0)
            continue;
        fbuf_adds(sql, nsel++ ? ", " : "");
        sql_quote_ident(sql, p->keys[k].src);
    }
    for (size_t f = 0; f < p->nfeatures; f++) {
        fbuf_adds(sql, nsel++ ? ", " : "");
        sql_quote_ident(sql, p->features[f].src);
    }
    fbuf_adds(sql, nsel++ ? ", " : "");
    sql_quote_ident(sql, p->ts.src);
    if (p->has_created) {
        fbuf_adds(sql, ", ");
        sql_quote_ident(sql, p->created.src);
    }
    fbuf_adds(sql, " FROM ");
    add_scan(sql, d);
    fbuf_adds(sql, " WHERE ");
    sql_quote_ident(sql, p->ts.src);
    fbuf_addf(sql, " BETWEEN CAST($2 AS %s) AND CAST($3 AS %s)", tt, tt);
    fbuf_adds(sql, " QUALIFY row_number() OVER (");
    size_t npart = 0;
    for (size_t k = 0; k < p->nkeys; k++) {
        if (p->keys[k].col < 0)
            continue;
        fbuf_adds(sql, npart++ ? ", " : "PARTITION BY ");
        sql_quote_ident(sql, p->keys[k].src);
    }
    fbuf_adds(sql, npart ? " ORDER BY " : "ORDER BY ");
    sql_quote_ident(sql, p->ts.src);
    fbuf_adds(sql, " DESC NULLS LAST");
    if (p->has_created) {
        fbuf_adds(sql, ", ");
        sql_quote_ident(sql, p->created.src);
        fbuf_adds(sql, " DESC NULLS LAST");
    }
    fbuf_adds(sql, ") = 1");
    add_key_order(p, s, sql);
    return fbuf_adds(sql, "");
}

/* Binds the inclusive ns window as values of the timestamp column's own type, rounded inwards
 * (ceil for start, floor for end), so "col BETWEEN lo AND hi" selects exactly the rows whose
 * instant lies in [start_ns, end_ns] and DuckDB can push the filter into the scan. */
static int bind_window(duckdb_prepared_statement ps, duckdb_type tid, int64_t start_ns, int64_t end_ns)
{
    int64_t unit = time_unit_ns(tid);
    int64_t lo = ceil_div(start_ns, unit), hi = floor_div(end_ns, unit);
    duckdb_value vlo, vhi;
    switch (tid) {
    case DUCKDB_TYPE_TIMESTAMP_S:
        vlo = duckdb_create_timestamp_s((duckdb_timestamp_s){lo});
        vhi = duckdb_create_timestamp_s((duckdb_timestamp_s){hi});
        break;
    case DUCKDB_TYPE_TIMESTAMP_MS:
        vlo = duckdb_create_timestamp_ms((duckdb_timestamp_ms){lo});
        vhi = duckdb_create_timestamp_ms((duckdb_timestamp_ms){hi});
        break;
    case DUCKDB_TYPE_TIMESTAMP_NS:
        vlo = duckdb_create_timestamp_ns((duckdb_timestamp_ns){lo});
        vhi = duckdb_create_timestamp_ns((duckdb_timestamp_ns){hi});
        break;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        vlo = duckdb_create_timestamp_tz((duckdb_timestamp){lo});
        vhi = duckdb_create_timestamp_tz((duckdb_timestamp){hi});
        break;
    case DUCKDB_TYPE_DATE:
        /* Any ns window is within ±292 years, so days fit in int32. */
        vlo = duckdb_create_date((duckdb_date){(int32_t)lo});
        vhi = duckdb_create_date((duckdb_date){(int32_t)hi});
        break;
    default:
        vlo = duckdb_create_timestamp((duckdb_timestamp){lo});
        vhi = duckdb_create_timestamp((duckdb_timestamp){hi});
        break;
    }
    int rc = (duckdb_bind_value(ps, 2, vlo) == DuckDBError || duckdb_bind_value(ps, 3, vhi) == DuckDBError)
                 ? -1 : 0;
    duckdb_destroy_value(&vlo);
    duckdb_destroy_value(&vhi);
    return rc;
}

/* ---- reading values ---- */

enum nkind { NV_INT, NV_DOUBLE, NV_STR, NV_BYTES, NV_BOOL, NV_TIME };
struct nval {
    enum nkind kind;
    int64_t i;           /* NV_INT, NV_TIME (ns) */
    double d;
    const char *s;       /* NV_STR, NV_BYTES: points into the chunk */
    size_t n;
    bool b;
};

/* Where a value came from, for error messages. */
struct where {
    const char *view, *col;
    struct ferry_err *err;
};

static char *i128_str(__int128 v, char buf[48])
{
    char tmp[48];
    size_t n = 0;
    unsigned __int128 u = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    while (n)
        buf[o++] = tmp[--n];
    buf[o] = 0;
    return buf;
}

static int int_range(const struct where *w, __int128 v, struct nval *out)
{
    if (v < INT64_MIN || v > INT64_MAX) {
        char b[48];
        return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s: value %s does not fit in a "
                          "64-bit integer", w->view, w->col, i128_str(v, b));
    }
    out->kind = NV_INT;
    out->i = (int64_t)v;
    return 0;
}

/* A DECIMAL becomes the double nearest to its exact value, as Python's float(Decimal) does:
 * print the scaled integer with the point in place and let strtod round once. */
static void decimal_to_double(__int128 raw, uint8_t scale, struct nval *out)
{
    char digits[48], text[96];
    i128_str(raw < 0 ? -raw : raw, digits);
    size_t nd = strlen(digits), o = 0;
    if (raw < 0)
        text[o++] = '-';
    if (nd <= scale) {
        text[o++] = '0';
        text[o++] = '.';
        for (size_t z = nd; z < scale; z++)
            text[o++] = '0';
        memcpy(text + o, digits, nd);
        o += nd;
    } else {
        memcpy(text + o, digits, nd - scale);
        o += nd - scale;
        text[o++] = '.';
        memcpy(text + o, digits + nd - scale, scale);
        o += scale;
        text[o++] = '0';
    }
    text[o] = 0;
    out->kind = NV_DOUBLE;
    out->d = strtod(text, NULL);
}

static int time_value(const struct where *w, int64_t raw, duckdb_type tid, struct nval *out)
{
    int64_t ns;
    if (__builtin_mul_overflow(raw, time_unit_ns(tid), &ns))
        return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s: timestamp %" PRId64 " %s is "
                          "outside the nanosecond range (years 1677-2262) or infinite", w->view,
                          w->col, raw, tid == DUCKDB_TYPE_DATE ? "days" : "units");
    out->kind = NV_TIME;
    out->i = ns;
    return 0;
}

/* Reads element i of a flat vector's data as the native value the feast setters take. */
static int read_val(const struct where *w, const struct scal *t, const void *data, idx_t i,
                    struct nval *out)
{
    switch (t->id) {
    case DUCKDB_TYPE_TINYINT: out->kind = NV_INT; out->i = ((const int8_t *)data)[i]; return 0;
    case DUCKDB_TYPE_SMALLINT: out->kind = NV_INT; out->i = ((const int16_t *)data)[i]; return 0;
    case DUCKDB_TYPE_INTEGER: out->kind = NV_INT; out->i = ((const int32_t *)data)[i]; return 0;
    case DUCKDB_TYPE_BIGINT: out->kind = NV_INT; out->i = ((const int64_t *)data)[i]; return 0;
    case DUCKDB_TYPE_UTINYINT: out->kind = NV_INT; out->i = ((const uint8_t *)data)[i]; return 0;
    case DUCKDB_TYPE_USMALLINT: out->kind = NV_INT; out->i = ((const uint16_t *)data)[i]; return 0;
    case DUCKDB_TYPE_UINTEGER: out->kind = NV_INT; out->i = ((const uint32_t *)data)[i]; return 0;
    case DUCKDB_TYPE_UBIGINT: return int_range(w, ((const uint64_t *)data)[i], out);
    case DUCKDB_TYPE_HUGEINT: {
        duckdb_hugeint h = ((const duckdb_hugeint *)data)[i];
        return int_range(w, (__int128)(((unsigned __int128)(uint64_t)h.upper << 64) | h.lower), out);
    }
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_uhugeint h = ((const duckdb_uhugeint *)data)[i];
        if (h.upper)
            return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s: value %" PRIu64 "*2^64+%"
                              PRIu64 " does not fit in a 64-bit integer", w->view, w->col, h.upper, h.lower);
        return int_range(w, h.lower, out);
    }
    case DUCKDB_TYPE_FLOAT: out->kind = NV_DOUBLE; out->d = ((const float *)data)[i]; return 0;
    case DUCKDB_TYPE_DOUBLE: out->kind = NV_DOUBLE; out->d = ((const double *)data)[i]; return 0;
    case DUCKDB_TYPE_DECIMAL: {
        __int128 raw;
        switch (t->internal) {
        case DUCKDB_TYPE_SMALLINT: raw = ((const int16_t *)data)[i]; break;
        case DUCKDB_TYPE_INTEGER: raw = ((const int32_t *)data)[i]; break;
        case DUCKDB_TYPE_BIGINT: raw = ((const int64_t *)data)[i]; break;
        default: {
            duckdb_hugeint h = ((const duckdb_hugeint *)data)[i];
            raw = (__int128)(((unsigned __int128)(uint64_t)h.upper << 64) | h.lower);
        }
        }
        decimal_to_double(raw, t->scale, out);
        return 0;
    }
    case DUCKDB_TYPE_VARCHAR: case DUCKDB_TYPE_BLOB: {
        duckdb_string_t *sv = (duckdb_string_t *)data + i;
        out->kind = t->id == DUCKDB_TYPE_BLOB ? NV_BYTES : NV_STR;
        out->s = duckdb_string_t_data(sv);
        out->n = duckdb_string_t_length(*sv);
        return 0;
    }
    case DUCKDB_TYPE_BOOLEAN: out->kind = NV_BOOL; out->b = ((const bool *)data)[i]; return 0;
    case DUCKDB_TYPE_DATE:
        return time_value(w, ((const int32_t *)data)[i], t->id, out);
    case DUCKDB_TYPE_TIMESTAMP: case DUCKDB_TYPE_TIMESTAMP_S: case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS: case DUCKDB_TYPE_TIMESTAMP_TZ:
        return time_value(w, ((const int64_t *)data)[i], t->id, out);
    default:
        return ferry_errf(w->err, FERRY_EINTERNAL, "view %s: column %s: unexpected DuckDB type id %d",
                          w->view, w->col, (int)t->id);
    }
}

static bool valid(uint64_t *validity, idx_t i)
{
    return !validity || duckdb_validity_row_is_valid(validity, i);
}

/* A setter's FERRY_EINVAL ("value does not fit the declared type") is a fact about the source's
 * data, so it is reported as FERRY_ESOURCE with the view and column in front. */
static int setter_fail(const struct where *w, int rc)
{
    if (!w->err)
        return rc == FERRY_EINVAL ? FERRY_ESOURCE : rc;
    if (w->err->code == 0)
        ferry_errf(w->err, rc, "value rejected");
    ferry_err_prefix(w->err, "view %s: column %s: ", w->view, w->col);
    if (rc == FERRY_EINVAL)
        w->err->code = rc = FERRY_ESOURCE;
    return rc;
}

static int set_key(struct feast_batch *b, size_t k, const struct where *w, const struct nval *v)
{
    int rc;
    switch (v->kind) {
    case NV_INT: rc = feast_row_key_int(b, k, v->i, w->err); break;
    case NV_STR: case NV_BYTES: rc = feast_row_key_str(b, k, v->s, v->n, w->err); break;
    case NV_TIME: rc = feast_row_key_time(b, k, v->i, w->err); break;
    default:
        return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s cannot be an entity key",
                          w->view, w->col);
    }
    return rc ? setter_fail(w, rc) : 0;
}

static int set_feature(struct feast_batch *b, size_t f, const struct where *w, const struct nval *v)
{
    int rc;
    switch (v->kind) {
    case NV_INT: rc = feast_row_int(b, f, v->i, w->err); break;
    case NV_DOUBLE: rc = feast_row_double(b, f, v->d, w->err); break;
    case NV_STR: rc = feast_row_str(b, f, v->s, v->n, w->err); break;
    case NV_BYTES: rc = feast_row_bytes(b, f, v->s, v->n, w->err); break;
    case NV_BOOL: rc = feast_row_bool(b, f, v->b, w->err); break;
    default: rc = feast_row_time(b, f, v->i, w->err); break;
    }
    return rc ? setter_fail(w, rc) : 0;
}

static int set_elem(struct feast_batch *b, const struct where *w, const struct nval *v)
{
    int rc;
    switch (v->kind) {
    case NV_INT: rc = feast_row_list_int(b, v->i, w->err); break;
    case NV_DOUBLE: rc = feast_row_list_double(b, v->d, w->err); break;
    case NV_STR: case NV_BYTES: rc = feast_row_list_str(b, v->s, v->n, w->err); break;
    case NV_BOOL: rc = feast_row_list_bool(b, v->b, w->err); break;
    default: rc = feast_row_list_time(b, v->i, w->err); break;
    }
    return rc ? setter_fail(w, rc) : 0;
}

/* One result column as the reader walks a chunk. */
struct rcol {
    struct coltype t;
    const char *src;
    void *data;
    uint64_t *validity;
    /* lists */
    void *child_data;
    uint64_t *child_validity;
};

struct reader {
    struct offline_pull *pull;
    const struct plan *p;
    size_t ncols;            /* result columns */
    struct rcol *cols;
    size_t *key_col;         /* result column of key k, or SIZE_MAX for __dummy_id */
    size_t feat0, ts_col, created_col;
    struct feast_batch *batch;
};

static int read_row(struct reader *rd, idx_t r, struct ferry_err *err)
{
    const struct plan *p = rd->p;
    struct feast_batch *b = rd->batch;
    const char *view = rd->pull->view->name;
    int rc = feast_row_begin(b);
    if (rc)
        return ferry_errf(err, rc, "view %s: cannot start a row", view);
    for (size_t k = 0; k < p->nkeys; k++) {
        if (rd->key_col[k] == SIZE_MAX)
            continue;   /* __dummy_id, filled in by feast_row_end */
        struct rcol *c = &rd->cols[rd->key_col[k]];
        struct where w = {view, c->src, err};
        if (!valid(c->validity, r))
            return ferry_errf(err, FERRY_ESOURCE, "view %s: column %s: null entity key value",
                              view, c->src);
        struct nval v;
        if ((rc = read_val(&w, &c->t.s, c->data, r, &v)) || (rc = set_key(b, k, &w, &v)))
            return rc;
    }
    for (size_t f = 0; f < p->nfeatures; f++) {
        struct rcol *c = &rd->cols[rd->feat0 + f];
        struct where w = {view, c->src, err};
        if (!valid(c->validity, r)) {
            if ((rc = feast_row_null(b, f)))
                return setter_fail(&w, rc);
            continue;
        }
        struct nval v;
        if (!c->t.is_list) {
            if ((rc = read_val(&w, &c->t.s, c->data, r, &v)) || (rc = set_feature(b, f, &w, &v)))
                return rc;
            continue;
        }
        duckdb_list_entry e = ((const duckdb_list_entry *)c->data)[r];
        if ((rc = feast_row_list_begin(b, f)))
            return setter_fail(&w, rc);
        for (idx_t j = e.offset; j < e.offset + e.length; j++) {
            if (!valid(c->child_validity, j)) {
                if ((rc = feast_row_list_null(b, err)))
                    rc = setter_fail(&w, rc);
            } else if (!(rc = read_val(&w, &c->t.s, c->child_data, j, &v)))
                rc = set_elem(b, &w, &v);
            if (rc)
                return rc;
        }
        if ((rc = feast_row_list_end(b, err)))
            return setter_fail(&w, rc);
    }
    struct nval ts, cr = {.i = FERRY_TIME_NONE};
    struct rcol *c = &rd->cols[rd->ts_col];
    struct where w = {view, c->src, err};
    /* The window filter already dropped null event timestamps. */
    if ((rc = read_val(&w, &c->t.s, c->data, r, &ts)))
        return rc;
    if (p->has_created) {
        c = &rd->cols[rd->created_col];
        w.col = c->src;
        if (valid(c->validity, r) && (rc = read_val(&w, &c->t.s, c->data, r, &cr)))
            return rc;
    }
    if ((rc = feast_row_end(b, ts.i, cr.i, err)))
        return setter_fail(&w, rc);
    return 0;
}

static bool canceled(const struct offline_pull *pull) { return pull->cancel && *pull->cancel; }

static int flush(struct reader *rd, struct ferry_err *err)
{
    struct offline_pull *pull = rd->pull;
    if (rd->batch->nrows == 0)
        return 0;
    if (canceled(pull))
        return ferry_errf(err, FERRY_ECANCELED, "view %s: pull canceled", pull->view->name);
    size_t n = rd->batch->nrows;
    int rc = pull->emit(pull->ctx, &rd->batch, err);
    if (rc) {
        if (err && err->code == 0)
            ferry_errf(err, rc, "view %s: the batch receiver stopped the pull", pull->view->name);
        return rc;
    }
    if (!rd->batch)
        return ferry_errf(err, FERRY_EINTERNAL, "view %s: emit left no batch in place", pull->view->name);
    pull->rows_out += n;
    return 0;
}

static int duck_pull_latest(struct offline_store *st, struct offline_pull *pull, struct ferry_err *err)
{
    struct duck_store *ds = duck(st);
    const char *view = pull->view->name;
    struct plan p;
    int rc = make_plan(ds, pull, &p, err);
    if (rc)
        return rc;
    p.key_order = ds->key_order;

    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    duckdb_prepared_statement ps = NULL;
    duckdb_pending_result pending = NULL;
    duckdb_result res;
    bool have_res = false;
    struct reader rd = {.pull = pull, .p = &p};

    if (build_sql(&p, pull->schema, &sql) != 0) {
        rc = ferry_errf(err, FERRY_ELIMIT, "view %s: query text too long", view);
        goto out;
    }
    if (duckdb_prepare(ds->con, sql.data, &ps) == DuckDBError) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot query %s: %s", view, p.d.path,
                        duckdb_prepare_error(ps));
        goto out;
    }
    if (bind_path(ps, &p.d) != 0 ||
        bind_window(ps, p.d.cols[p.ts.col].t.s.id, pull->start_ns, pull->end_ns) != 0) {
        rc = ferry_errf(err, FERRY_EINTERNAL, "view %s: cannot bind query parameters", view);
        goto out;
    }
    /* Streaming: DuckDB produces chunks as they are fetched instead of materializing the result. */
    if (duckdb_pending_prepared_streaming(ps, &pending) == DuckDBError) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot query %s: %s", view, p.d.path,
                        duckdb_pending_error(pending));
        goto out;
    }
    if (duckdb_execute_pending(pending, &res) == DuckDBError) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: query on %s failed: %s", view, p.d.path,
                        duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        goto out;
    }
    have_res = true;

    rd.ncols = duckdb_column_count(&res);
    rd.cols = xcalloc(rd.ncols ? rd.ncols : 1, sizeof *rd.cols);
    rd.key_col = xcalloc(p.nkeys ? p.nkeys : 1, sizeof *rd.key_col);
    size_t ci = 0;
    for (size_t k = 0; k < p.nkeys; k++) {
        rd.key_col[k] = p.keys[k].col < 0 ? SIZE_MAX : ci;
        if (p.keys[k].col >= 0)
            rd.cols[ci++].src = p.keys[k].src;
    }
    rd.feat0 = ci;
    for (size_t f = 0; f < p.nfeatures; f++)
        rd.cols[ci++].src = p.features[f].src;
    rd.ts_col = ci;
    rd.cols[ci++].src = p.ts.src;
    if (p.has_created) {
        rd.created_col = ci;
        rd.cols[ci++].src = p.created.src;
    }
    if (ci != rd.ncols) {
        rc = ferry_errf(err, FERRY_EINTERNAL, "view %s: query returned %zu columns, expected %zu",
                        view, (size_t)rd.ncols, ci);
        goto out;
    }
    for (size_t i = 0; i < rd.ncols; i++) {
        duckdb_logical_type lt = duckdb_column_logical_type(&res, i);
        coltype_from(lt, &rd.cols[i].t);
        duckdb_destroy_logical_type(&lt);
    }

    rd.batch = xmalloc(sizeof *rd.batch);
    if ((rc = feast_batch_init(rd.batch, pull->schema, pull->batch_rows)) != 0) {
        free(rd.batch);
        rd.batch = NULL;
        rc = ferry_errf(err, rc, "view %s: cannot allocate a batch of %zu rows", view, pull->batch_rows);
        goto out;
    }

    for (;;) {
        if (canceled(pull)) {
            rc = ferry_errf(err, FERRY_ECANCELED, "view %s: pull canceled", view);
            goto out;
        }
        duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
        if (!chunk) {
            const char *e = duckdb_result_error(&res);
            if (e) {
                rc = ferry_errf(err, FERRY_ESOURCE, "view %s: reading %s failed: %s", view, p.d.path, e);
                goto out;
            }
            break;
        }
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (size_t i = 0; i < rd.ncols; i++) {
            duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, i);
            struct rcol *c = &rd.cols[i];
            c->data = duckdb_vector_get_data(vec);
            c->validity = duckdb_vector_get_validity(vec);
            if (c->t.is_list) {
                duckdb_vector child = duckdb_list_vector_get_child(vec);
                c->child_data = duckdb_vector_get_data(child);
                c->child_validity = duckdb_vector_get_validity(child);
            }
        }
        for (idx_t r = 0; r < n && !rc; r++) {
            rc = read_row(&rd, r, err);
            /* The batch arena is full (FEAST_BATCH_MAX_BYTES): send the rows so far and build
             * this row again in the empty batch; a row too big on its own still fails. */
            if (rc == FERRY_ELIMIT && rd.batch->nrows > 0) {
                ferry_err_clear(err);
                if (!(rc = flush(&rd, err)))
                    rc = read_row(&rd, r, err);
            }
            if (!rc && rd.batch->nrows >= pull->batch_rows)
                rc = flush(&rd, err);
        }
        duckdb_destroy_data_chunk(&chunk);
        if (rc)
            goto out;
    }
    rc = flush(&rd, err);

out:
    if (rd.batch) {
        feast_batch_cleanup(rd.batch);
        free(rd.batch);
    }
    free(rd.cols);
    free(rd.key_col);
    if (have_res)
        duckdb_destroy_result(&res);
    if (pending)
        duckdb_destroy_pending(&pending);
    if (ps)
        duckdb_destroy_prepare(&ps);
    fbuf_cleanup(&sql);
    plan_cleanup(&p);
    return rc;
}

/* Feast's type inference from an Arrow column (type_map.py): 8/16/32-bit integers are Int32, wider
 * ones Int64; timestamps and dates UnixTimestamp. */
static int inferred_vtype(const struct coltype *t)
{
    int scalar;
    switch (t->s.id) {
    case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT: case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_UTINYINT: case DUCKDB_TYPE_USMALLINT:
        scalar = FEAST_VT_INT32; break;
    case DUCKDB_TYPE_BIGINT: case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT: case DUCKDB_TYPE_UHUGEINT:
        scalar = FEAST_VT_INT64; break;
    case DUCKDB_TYPE_FLOAT: scalar = FEAST_VT_FLOAT; break;
    case DUCKDB_TYPE_DOUBLE: case DUCKDB_TYPE_DECIMAL: scalar = FEAST_VT_DOUBLE; break;
    case DUCKDB_TYPE_VARCHAR: scalar = FEAST_VT_STRING; break;
    case DUCKDB_TYPE_BLOB: scalar = FEAST_VT_BYTES; break;
    case DUCKDB_TYPE_BOOLEAN: scalar = FEAST_VT_BOOL; break;
    default: scalar = is_time_type(t->s.id) ? FEAST_VT_UNIX_TIMESTAMP : FEAST_VT_INVALID;
    }
    if (!t->is_list || t->nested_list || scalar == FEAST_VT_INVALID)
        return t->is_list ? FEAST_VT_INVALID : scalar;
    for (int lt = FEAST_VT_BYTES_LIST; lt <= FEAST_VT_UNIX_TIMESTAMP_LIST; lt++)
        if (feast_vtype_list_elem(lt) == scalar)
            return lt;
    return FEAST_VT_INVALID;
}

static int duck_infer_types(struct offline_store *st, const struct feast_view *v, const char *const *names,
                            size_t n, int *vtypes, struct ferry_err *err)
{
    struct src_desc d;
    int rc = describe(duck(st), v, &d, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        ssize_t col = find_col(&d, reverse_map(&v->source, names[i]));
        vtypes[i] = col < 0 ? FEAST_VT_INVALID : inferred_vtype(&d.cols[col].t);
    }
    desc_cleanup(&d);
    return 0;
}

const struct offline_store_type offline_duckdb_type = {
    .name = "duckdb",
    .open = duck_open,
    .check = duck_check,
    .pull_latest = duck_pull_latest,
    .infer_types = duck_infer_types,
    .close = duck_close,
};
