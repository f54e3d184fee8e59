/* The default offline store: DuckDB (in-memory database) reading a view's Parquet or CSV source.
 * "Latest row per entity key in [start, end]" (feast-compat.md §2.4-2.5) is found by pushed-down
 * queries whose window filter compares the timestamp column with bounds of its own type, so DuckDB
 * can prune row groups; ties on the event time go to the newest created time, nulls last. Large
 * windows are cut into partitions of the key space sized from DuckDB's memory limit (see "the
 * queries" below). Results are streamed chunk by chunk into feast_batch rows, so ferry's memory is
 * bounded by the batch size, not by the file. DuckDB objects never leave this file. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* duckdb.h declares a few functions as f() rather than f(void); it is third-party, so the warning
 * is silenced for it alone. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "duckdb.h"
#pragma GCC diagnostic pop

#include "core/buf.h"
#include "core/log.h"
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
    uint64_t partition_rows;     /* ferry.duckdb.partition_rows; 0 = derived from the memory limit */
    char *temp_dir;              /* DuckDB's spill directory, private to this store; removed at close */
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
    if (d->temp_dir) {
        rmdir(d->temp_dir);  /* DuckDB removed its files when it closed */
        free(d->temp_dir);
    }
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
    /* DuckDB spills to ".tmp" in the working directory unless told otherwise: give it a directory of
     * its own under TMPDIR instead, so ferry never litters the directory it was started from. */
    const char *tmp = getenv("TMPDIR");
    d->temp_dir = xasprintf("%s/ferry-duckdb-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->temp_dir)) {
        rc = ferry_errf(err, FERRY_EIO, "duckdb: cannot create a temporary directory %s: %s", d->temp_dir,
                        strerror(errno));
        free(d->temp_dir);
        d->temp_dir = NULL;
        goto fail;
    }
    if (duckdb_set_config(dc, "temp_directory", d->temp_dir) == DuckDBError) {
        rc = ferry_errf(err, FERRY_EINTERNAL, "duckdb: temp_directory not accepted");
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
    d->partition_rows = cfg->ferry.duckdb_partition_rows;
    /* Rows of an unordered stream may come in any order; DuckDB then buffers less. */
    if (duckdb_query(d->con, "SET preserve_insertion_order = false", &r) == DuckDBError) {
        rc = ferry_errf(err, FERRY_EIO, "duckdb: cannot set preserve_insertion_order: %s", duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        goto fail;
    }
    duckdb_destroy_result(&r);
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

/* ---- the queries ---- */

/* How the newest row per entity key is found, chosen per pull (run_query) from the window's size
 * against DuckDB's memory limit. DuckDB's window, sort and hash-aggregate operators need memory in
 * proportion to what they hold, and at the default 128MB limit a single QUALIFY row_number() query
 * over 5M entities x 4 rows fails with "Out of Memory" instead of spilling, so large windows are
 * cut into partitions of the key space, each small enough:
 *   top-1  (entity-less view): ORDER BY time DESC LIMIT 1, constant memory;
 *   window (run_window): QUALIFY row_number() = 1 per partition, in key order when the store
 *          wants it;
 *   pick   (run_pick, Parquet, no order wanted): pass 1 finds each key's newest row (file, row
 *          number) per hash partition with a narrow aggregate; pass 2 streams the window once and
 *          keeps those rows. */
enum part_kind {
    PART_HASH,  /* hash(keys) % $4 = $5 */
    PART_RANGE, /* key_prefix BETWEEN $4 AND $5: partitions in serialized-key order, so their
                 * concatenation keeps the ORDER BY's global order */
};

/* Rows a window partition may hold, and keys a pick partition may aggregate, per byte of DuckDB's
 * memory limit: measured on bench/run's data (ten features, 4 rows per key) at 128MB, where a
 * key-range window partition of 650k rows failed and one of 500k rows peaked at 180 MB RSS, and a
 * pick partition of 625k keys at 137 MB. A partition that still runs out of memory is split. */
#define WINDOW_BYTES_PER_ROW 256
#define PICK_BYTES_PER_KEY 200
/* A pick reference packs (file index, row number in that file) into one BIGINT. */
#define ROW_BITS 40
#define FILE_MAX ((uint64_t)1 << 22)

static void add_keys(struct fbuf *sql, const struct plan *p)
{
    size_t n = 0;
    for (size_t k = 0; k < p->nkeys; k++) {
        if (p->keys[k].col < 0)
            continue;
        fbuf_adds(sql, n++ ? ", " : "");
        sql_quote_ident(sql, p->keys[k].src);
    }
}

/* The columns the reader expects, in its positional order: keys, features, ts[, created]. */
static void add_select_cols(struct fbuf *sql, const struct plan *p)
{
    add_keys(sql, p);
    size_t n = 0;
    for (size_t k = 0; k < p->nkeys; k++)
        n += p->keys[k].col >= 0;
    for (size_t f = 0; f < p->nfeatures; f++) {
        fbuf_adds(sql, n++ ? ", " : "");
        sql_quote_ident(sql, p->features[f].src);
    }
    fbuf_adds(sql, n ? ", " : "");
    sql_quote_ident(sql, p->ts.src);
    if (p->has_created) {
        fbuf_adds(sql, ", ");
        sql_quote_ident(sql, p->created.src);
    }
}

/* " FROM scan WHERE ts BETWEEN $2 AND $3" */
static void add_from_window(struct fbuf *sql, const struct plan *p)
{
    const char *tt = time_sql_type(p->d.cols[p->ts.col].t.s.id);
    fbuf_adds(sql, " FROM ");
    add_scan(sql, &p->d);
    fbuf_adds(sql, " WHERE ");
    sql_quote_ident(sql, p->ts.src);
    fbuf_addf(sql, " BETWEEN CAST($2 AS %s) AND CAST($3 AS %s)", tt, tt);
}

/* "ts DESC NULLS LAST[, created DESC NULLS LAST]": Feast's newest-first order (§2.5). */
static void add_newest_first(struct fbuf *sql, const struct plan *p)
{
    sql_quote_ident(sql, p->ts.src);
    fbuf_adds(sql, " DESC NULLS LAST");
    if (p->has_created) {
        fbuf_adds(sql, ", ");
        sql_quote_ident(sql, p->created.src);
        fbuf_adds(sql, " DESC NULLS LAST");
    }
}

/* Appends the little-endian bytes of an integer column (or of lenfn(column), a string's byte length)
 * as one unsigned number whose order is the byte order (byte 0 most significant): how memcmp orders
 * the serialized value. */
static void add_le_order(struct fbuf *sql, const char *col, const char *lenfn, int nbytes)
{
    fbuf_adds(sql, "(");
    for (int i = 0; i < nbytes; i++) {
        fbuf_addf(sql, "%s(CAST(((CAST(", i ? " | " : "");
        if (lenfn)
            fbuf_addf(sql, "%s(", lenfn);
        sql_quote_ident(sql, col);
        if (lenfn)
            fbuf_adds(sql, ")");
        fbuf_addf(sql, " AS BIGINT) >> %d) & 255) AS UBIGINT) << %d)", 8 * i, 8 * (nbytes - 1 - i));
    }
    fbuf_adds(sql, ")");
}

/* Whether DuckDB can compute the serialized key order (feast/key.c: per key in name order, a fixed
 * type tag, then a little-endian int32/int64, or a little-endian length and the bytes) exactly for
 * these key and source types, which is the order of the SQLite primary key (entity_key,
 * feature_name). */
static bool key_order_ok(const struct plan *p, const struct feast_schema *s)
{
    if (s->dummy_key || p->nkeys == 0)
        return false;
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct need *n = &p->keys[i];
        const struct coltype *t = &p->d.cols[n->col].t;
        if (t->is_list)
            return false;
        bool small_int = t->s.id == DUCKDB_TYPE_TINYINT || t->s.id == DUCKDB_TYPE_SMALLINT ||
                         t->s.id == DUCKDB_TYPE_INTEGER || t->s.id == DUCKDB_TYPE_BIGINT ||
                         t->s.id == DUCKDB_TYPE_UTINYINT || t->s.id == DUCKDB_TYPE_USMALLINT ||
                         t->s.id == DUCKDB_TYPE_UINTEGER;
        bool ok = (n->vtype == FEAST_VT_INT64 || n->vtype == FEAST_VT_INT32) ? small_int
                  : n->vtype == FEAST_VT_STRING ? t->s.id == DUCKDB_TYPE_VARCHAR
                  : n->vtype == FEAST_VT_BYTES ? t->s.id == DUCKDB_TYPE_BLOB
                  : false;
        if (!ok)
            return false;
    }
    return true;
}

/* DuckDB's byte length of a string or blob key column. */
static const char *len_fn(const struct need *n)
{
    return n->vtype == FEAST_VT_STRING ? "strlen" : "octet_length";
}

static int int_key_bytes(const struct need *n, const struct feast_schema *s)
{
    return n->vtype == FEAST_VT_INT64 && s->key_version >= 2 ? 8 : 4;
}

/* " ORDER BY ..." putting rows in the byte order of their serialized entity keys. Rows written in
 * that order append to SQLite's B-trees instead of touching pages all over them in every batch's
 * transaction (bench/run at 1M entities: 130.7 s -> 25.0 s). Only when key_order_ok. */
static void add_key_order(const struct plan *p, const struct feast_schema *s, struct fbuf *sql)
{
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct need *n = &p->keys[s->key_order[i]];
        fbuf_adds(sql, i ? ", " : " ORDER BY ");
        if (n->vtype == FEAST_VT_INT64 || n->vtype == FEAST_VT_INT32) {
            add_le_order(sql, n->src, NULL, int_key_bytes(n, s));
        } else {
            /* strings and blobs: the length's bytes, then DuckDB's byte-wise comparison */
            add_le_order(sql, n->src, len_fn(n), 4);
            fbuf_adds(sql, ", ");
            sql_quote_ident(sql, n->src);
        }
    }
}

/* A UBIGINT that never decreases along the serialized key order (the first key's ordering number,
 * or for a string its length's bytes then its first four bytes), for range partitions. */
static void add_key_prefix(const struct plan *p, const struct feast_schema *s, struct fbuf *sql)
{
    const struct need *n = &p->keys[s->key_order[0]];
    if (n->vtype == FEAST_VT_INT64 || n->vtype == FEAST_VT_INT32) {
        add_le_order(sql, n->src, NULL, int_key_bytes(n, s));
        return;
    }
    fbuf_adds(sql, "((");
    add_le_order(sql, n->src, len_fn(n), 4);
    fbuf_adds(sql, " << 32) | CAST('0x' || rpad(left(hex(");
    sql_quote_ident(sql, n->src);
    fbuf_adds(sql, "), 8), 8, '0') AS UBIGINT))");
}

static void add_partition(struct fbuf *sql, const struct plan *p, const struct feast_schema *s,
                          enum part_kind kind)
{
    if (kind == PART_HASH) {
        fbuf_adds(sql, " AND hash(");
        add_keys(sql, p);
        fbuf_adds(sql, ") % $4 = $5");
    } else {
        fbuf_adds(sql, " AND ");
        add_key_prefix(p, s, sql);
        fbuf_adds(sql, " BETWEEN $4 AND $5");
    }
}

/* SELECT cols FROM scan WHERE window AND partition
 * QUALIFY row_number() OVER (PARTITION BY keys ORDER BY newest first) = 1 [ORDER BY key order] */
static int build_window_sql(const struct plan *p, const struct feast_schema *s, enum part_kind kind,
                            bool ordered, struct fbuf *sql)
{
    fbuf_adds(sql, "SELECT ");
    add_select_cols(sql, p);
    add_from_window(sql, p);
    add_partition(sql, p, s, kind);
    fbuf_adds(sql, " QUALIFY row_number() OVER (PARTITION BY ");
    add_keys(sql, p);
    fbuf_adds(sql, " ORDER BY ");
    add_newest_first(sql, p);
    fbuf_adds(sql, ") = 1");
    if (ordered)
        add_key_order(p, s, sql);
    return fbuf_adds(sql, "");
}

/* Entity-less view: the single newest row of the window. */
static int build_top1_sql(const struct plan *p, struct fbuf *sql)
{
    fbuf_adds(sql, "SELECT ");
    add_select_cols(sql, p);
    add_from_window(sql, p);
    fbuf_adds(sql, " ORDER BY ");
    add_newest_first(sql, p);
    return fbuf_adds(sql, " LIMIT 1");
}

/* Pass 1 of the pick: per key, the reference of its newest row. The ordering value packs the event
 * time and the created time (nulls lowest) into one HUGEINT so the aggregate state stays small:
 * ts_ns * 2^64 + (created_ns + 2^63), or 0 for a null created. */
static int build_pick_sql(const struct plan *p, struct fbuf *sql)
{
    fbuf_addf(sql, "SELECT arg_max((CAST(file_index AS BIGINT) << %d) | CAST(file_row_number AS BIGINT), ",
              ROW_BITS);
    if (p->has_created) {
        fbuf_adds(sql, "CAST(epoch_ns(");
        sql_quote_ident(sql, p->ts.src);
        fbuf_adds(sql, ") AS HUGEINT) * 18446744073709551616 + coalesce(CAST(epoch_ns(");
        sql_quote_ident(sql, p->created.src);
        fbuf_adds(sql, ") AS HUGEINT) + 9223372036854775808, 0))");
    } else {
        fbuf_adds(sql, "epoch_ns(");
        sql_quote_ident(sql, p->ts.src);
        fbuf_adds(sql, "))");
    }
    add_from_window(sql, p);
    add_partition(sql, p, NULL, PART_HASH);
    fbuf_adds(sql, " GROUP BY ");
    add_keys(sql, p);
    return fbuf_adds(sql, "");
}

/* Pass 2 of the pick: every row of the window with its reference; the reader keeps picked ones. */
static int build_stream_sql(const struct plan *p, struct fbuf *sql)
{
    fbuf_adds(sql, "SELECT ");
    add_select_cols(sql, p);
    fbuf_adds(sql, ", file_index, file_row_number");
    add_from_window(sql, p);
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

static int flush(struct reader *rd, struct ferry_err *err) { return offline_pull_flush(rd->pull, &rd->batch, err); }

/* ---- picked rows (the pick) ---- */

/* One bit per row of each source file, set for the rows pass 1 picked: 20M rows take 2.5 MB. */
struct picks {
    size_t nfiles;
    uint64_t **bits;
    size_t *nwords;
};

static void picks_cleanup(struct picks *pk)
{
    for (size_t f = 0; f < pk->nfiles; f++)
        free(pk->bits[f]);
    free(pk->bits);
    free(pk->nwords);
    memset(pk, 0, sizeof *pk);
}

static void picks_set(struct picks *pk, uint64_t file, uint64_t row)
{
    if (file >= pk->nfiles) {
        size_t n = (size_t)file + 1;
        pk->bits = xrealloc(pk->bits, n * sizeof *pk->bits);
        pk->nwords = xrealloc(pk->nwords, n * sizeof *pk->nwords);
        for (size_t f = pk->nfiles; f < n; f++) {
            pk->bits[f] = NULL;
            pk->nwords[f] = 0;
        }
        pk->nfiles = n;
    }
    size_t w = (size_t)(row / 64);
    if (w >= pk->nwords[file]) {
        size_t n = pk->nwords[file] ? pk->nwords[file] : 1024;
        while (n <= w)
            n *= 2;
        pk->bits[file] = xrealloc(pk->bits[file], n * sizeof **pk->bits);
        memset(pk->bits[file] + pk->nwords[file], 0, (n - pk->nwords[file]) * sizeof **pk->bits);
        pk->nwords[file] = n;
    }
    pk->bits[file][w] |= (uint64_t)1 << (row % 64);
}

static bool picks_has(const struct picks *pk, uint64_t file, uint64_t row)
{
    size_t w = (size_t)(row / 64);
    return file < pk->nfiles && w < pk->nwords[file] && (pk->bits[file][w] >> (row % 64) & 1);
}

/* ---- running queries ---- */

/* Prepares a query whose parameters are $1 path, $2/$3 window[, $4/$5 partition] and binds the
 * first three. */
static int prepare_query(struct duck_store *ds, const struct plan *p, const struct offline_pull *pull,
                         const struct fbuf *sql, duckdb_prepared_statement *ps, struct ferry_err *err)
{
    const char *view = pull->view->name;
    if (sql->len == 0 || sql->len >= sql->max - 1)
        return ferry_errf(err, FERRY_ELIMIT, "view %s: query text too long", view);
    if (duckdb_prepare(ds->con, sql->data, ps) == DuckDBError) {
        int rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot query %s: %s", view, p->d.path,
                            duckdb_prepare_error(*ps));
        duckdb_destroy_prepare(ps);
        *ps = NULL;
        return rc;
    }
    if (bind_path(*ps, &p->d) != 0 ||
        bind_window(*ps, p->d.cols[p->ts.col].t.s.id, pull->start_ns, pull->end_ns) != 0)
        return ferry_errf(err, FERRY_EINTERNAL, "view %s: cannot bind query parameters", view);
    return 0;
}

static int bind_part(duckdb_prepared_statement ps, uint64_t a, uint64_t b)
{
    return duckdb_bind_uint64(ps, 4, a) == DuckDBError || duckdb_bind_uint64(ps, 5, b) == DuckDBError ? -1 : 0;
}

/* A failed query's error. DuckDB's "Out of Memory" becomes FERRY_ENOMEM, which the partition
 * loops answer by splitting the partition; its advice lines are dropped for ferry's own. */
static int query_error(struct ferry_err *err, const struct plan *p, const char *view, const char *what,
                       const char *e)
{
    if (!e)
        e = "unknown error";
    if (strstr(e, "Out of Memory")) {
        const char *nl = strchr(e, '\n');
        return ferry_errf(err, FERRY_ENOMEM, "view %s: %s %s failed: %.*s (raise ferry.duckdb.memory_limit "
                          "or lower ferry.duckdb.partition_rows)", view, what, p->d.path,
                          (int)(nl ? (size_t)(nl - e) : strlen(e)), e);
    }
    return ferry_errf(err, FERRY_ESOURCE, "view %s: %s %s failed: %s", view, what, p->d.path, e);
}

/* Executes a bound statement as a streaming result (DuckDB produces chunks as they are fetched). */
static int execute(const struct plan *p, const char *view, duckdb_prepared_statement ps, duckdb_result *res,
                   struct ferry_err *err)
{
    duckdb_pending_result pending = NULL;
    int rc = 0;
    if (duckdb_pending_prepared_streaming(ps, &pending) == DuckDBError) {
        rc = query_error(err, p, view, "query on", duckdb_pending_error(pending));
    } else if (duckdb_execute_pending(pending, res) == DuckDBError) {
        rc = query_error(err, p, view, "query on", duckdb_result_error(res));
        duckdb_destroy_result(res);
    }
    duckdb_destroy_pending(&pending);
    return rc;
}

/* Fetches the next chunk; *chunk = NULL at the end. */
static int next_chunk(const struct plan *p, const struct offline_pull *pull, duckdb_result *res,
                      duckdb_data_chunk *chunk, struct ferry_err *err)
{
    const char *view = pull->view->name;
    if (offline_pull_canceled(pull))
        return ferry_errf(err, FERRY_ECANCELED, "view %s: pull canceled", view);
    *chunk = duckdb_fetch_chunk(*res);
    const char *e = *chunk ? NULL : duckdb_result_error(res);
    return e ? query_error(err, p, view, "reading", e) : 0;
}

/* Runs one bound query and turns its rows into batches. With pk, the result's last two columns are
 * file_index and file_row_number and only the picked rows are kept. */
static int stream_rows(struct reader *rd, duckdb_prepared_statement ps, const struct picks *pk,
                       struct ferry_err *err)
{
    const char *view = rd->pull->view->name;
    duckdb_result res;
    int rc = execute(rd->p, view, ps, &res, err);
    if (rc)
        return rc;
    size_t extra = pk ? 2 : 0;
    if (duckdb_column_count(&res) != rd->ncols + extra) {
        rc = ferry_errf(err, FERRY_EINTERNAL, "view %s: query returned %zu columns, expected %zu", view,
                        (size_t)duckdb_column_count(&res), rd->ncols + extra);
        goto out;
    }
    for (size_t i = 0; i < rd->ncols; i++) {
        duckdb_logical_type lt = duckdb_column_logical_type(&res, i);
        coltype_from(lt, &rd->cols[i].t);
        duckdb_destroy_logical_type(&lt);
    }
    for (;;) {
        duckdb_data_chunk chunk;
        if ((rc = next_chunk(rd->p, rd->pull, &res, &chunk, err)) || !chunk)
            break;
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (size_t i = 0; i < rd->ncols; i++) {
            duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, i);
            struct rcol *c = &rd->cols[i];
            c->data = duckdb_vector_get_data(vec);
            c->validity = duckdb_vector_get_validity(vec);
            if (c->t.is_list) {
                duckdb_vector child = duckdb_list_vector_get_child(vec);
                c->child_data = duckdb_vector_get_data(child);
                c->child_validity = duckdb_vector_get_validity(child);
            }
        }
        const uint64_t *file = NULL, *rown = NULL;
        if (pk) {
            file = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, rd->ncols));
            rown = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, rd->ncols + 1));
        }
        for (idx_t r = 0; r < n && !rc; r++) {
            if (pk && !picks_has(pk, file[r], rown[r]))
                continue;
            rc = read_row(rd, r, err);
            /* The batch arena is full (FEAST_BATCH_MAX_BYTES): send the rows so far and build
             * this row again in the empty batch; a row too big on its own still fails. */
            if (rc == FERRY_ELIMIT && rd->batch->nrows > 0) {
                ferry_err_clear(err);
                if (!(rc = flush(rd, err)))
                    rc = read_row(rd, r, err);
            }
            if (!rc && rd->batch->nrows >= rd->pull->batch_rows)
                rc = flush(rd, err);
        }
        duckdb_destroy_data_chunk(&chunk);
        if (rc)
            break;
    }
out:
    duckdb_destroy_result(&res);
    return rc;
}

/* Runs a bound query whose first column is a UBIGINT/BIGINT, handing each value to fn. */
static int each_u64(const struct plan *p, const struct offline_pull *pull, duckdb_prepared_statement ps,
                    int (*fn)(void *ctx, uint64_t v, struct ferry_err *err), void *ctx, struct ferry_err *err)
{
    duckdb_result res;
    int rc = execute(p, pull->view->name, ps, &res, err);
    if (rc)
        return rc;
    duckdb_type t = duckdb_column_type(&res, 0);
    if (t != DUCKDB_TYPE_UBIGINT && t != DUCKDB_TYPE_BIGINT)
        rc = ferry_errf(err, FERRY_EINTERNAL, "view %s: internal query returned type %d, not a 64-bit integer",
                        pull->view->name, (int)t);
    while (!rc) {
        duckdb_data_chunk chunk;
        if ((rc = next_chunk(p, pull, &res, &chunk, err)) || !chunk)
            break;
        duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, 0);
        const uint64_t *v = duckdb_vector_get_data(vec);
        uint64_t *validity = duckdb_vector_get_validity(vec);
        idx_t n = duckdb_data_chunk_get_size(chunk);
        for (idx_t r = 0; r < n && !rc; r++)
            if (valid(validity, r))
                rc = fn(ctx, v[r], err);
        duckdb_destroy_data_chunk(&chunk);
        if (rc)
            break;
    }
    duckdb_destroy_result(&res);
    return rc;
}

static int take_pick(void *ctx, uint64_t ref, struct ferry_err *err)
{
    uint64_t file = ref >> ROW_BITS;
    if (file >= FILE_MAX)
        return ferry_errf(err, FERRY_ELIMIT, "more than %" PRIu64 " source files", FILE_MAX);
    picks_set(ctx, file, ref & (((uint64_t)1 << ROW_BITS) - 1));
    return 0;
}

struct u64_list { uint64_t *v; size_t n, cap; };

static int take_u64(void *ctx, uint64_t v, struct ferry_err *err)
{
    (void)err;
    struct u64_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = v;
    return 0;
}

/* Runs a small query (parameters $1-$3, plus $4 = arg4 when non-zero) collecting its first column. */
static int query_u64s(struct duck_store *ds, const struct plan *p, const struct offline_pull *pull,
                      const struct fbuf *sql, uint64_t arg4, struct u64_list *out, struct ferry_err *err)
{
    duckdb_prepared_statement ps = NULL;
    int rc = prepare_query(ds, p, pull, sql, &ps, err);
    if (!rc && arg4 && duckdb_bind_uint64(ps, 4, arg4) == DuckDBError)
        rc = ferry_errf(err, FERRY_EINTERNAL, "view %s: cannot bind query parameters", pull->view->name);
    if (!rc)
        rc = each_u64(p, pull, ps, take_u64, out, err);
    if (ps)
        duckdb_destroy_prepare(&ps);
    return rc;
}

/* ---- choosing the strategy ---- */

/* DuckDB's memory limit in bytes, as DuckDB reports it ("122.0 MiB"); 128 MiB if unreadable. */
static double memory_budget(struct duck_store *ds)
{
    double bytes = 128.0 * 1024 * 1024;
    duckdb_result r;
    if (duckdb_query(ds->con, "SELECT current_setting('memory_limit')", &r) == DuckDBError) {
        duckdb_destroy_result(&r);
        return bytes;
    }
    char *s = duckdb_value_varchar(&r, 0, 0);
    double v;
    char unit[8] = "";
    if (s && sscanf(s, "%lf %7s", &v, unit) == 2 && v > 0) {
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        static const char *const dec[] = {"bytes", "KB", "MB", "GB", "TB"};
        for (int i = 0; i < 5; i++) {
            if (!strcmp(unit, units[i]))
                bytes = v * (double)((uint64_t)1 << (10 * i));
            else if (!strcmp(unit, dec[i])) {
                double m = 1;
                for (int k = 0; k < i; k++)
                    m *= 1000;
                bytes = v * m;
            }
        }
    }
    if (s)
        duckdb_free(s);
    duckdb_destroy_result(&r);
    return bytes;
}

static uint64_t ceil_div_u(uint64_t a, uint64_t b) { return b ? (a + b - 1) / b : 1; }

/* ---- partitions ---- */

/* One partition: a key-prefix range [a, b] (ordered), or the keys with hash % a == b. */
struct part { uint64_t a, b; };

/* Partitions still to run, the next one on top; ranges are pushed highest first so they run in
 * key order. A partition that runs out of DuckDB memory is replaced by its two halves. */
struct parts {
    struct part *v;
    size_t n, cap;
    enum part_kind kind;
    uint64_t ran;          /* partitions run so far, splits included */
};

#define SPLIT_MAX 4096

int offline_duckdb_fail_partitions;     /* partitions beyond this are not split further: the error stands */

static void parts_push(struct parts *ps, uint64_t a, uint64_t b)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 16;
        ps->v = xrealloc(ps->v, ps->cap * sizeof *ps->v);
    }
    ps->v[ps->n++] = (struct part){a, b};
}

/* Splits a hash partition (keys with hash % m == r) into r and r + m of modulus 2m, or a range at
 * a sampled median of the keys inside it (the midpoint when the sample cannot tell). Returns false
 * when the partition cannot be split: one key prefix, or too many partitions already. */
static bool parts_split(struct duck_store *ds, const struct plan *p, const struct offline_pull *pull,
                        struct parts *ps, struct part pt, struct ferry_err *err)
{
    if (ps->ran + ps->n >= SPLIT_MAX)
        return false;
    if (ps->kind == PART_HASH) {
        if (pt.a > UINT64_MAX / 2)
            return false;
        parts_push(ps, 2 * pt.a, pt.b + pt.a);
        parts_push(ps, 2 * pt.a, pt.b);
        return true;
    }
    if (pt.a == pt.b)
        return false;
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    fbuf_adds(&sql, "SELECT CAST(reservoir_quantile(");
    add_key_prefix(p, pull->schema, &sql);
    fbuf_adds(&sql, ", 0.5, 8192) AS UBIGINT)");
    add_from_window(&sql, p);
    add_partition(&sql, p, pull->schema, PART_RANGE);
    struct u64_list m = {0};
    duckdb_prepared_statement st = NULL;
    int rc = prepare_query(ds, p, pull, &sql, &st, err);
    if (!rc && bind_part(st, pt.a, pt.b) != 0)
        rc = ferry_errf(err, FERRY_EINTERNAL, "view %s: cannot bind query parameters", pull->view->name);
    if (!rc)
        rc = each_u64(p, pull, st, take_u64, &m, err);
    if (st)
        duckdb_destroy_prepare(&st);
    fbuf_cleanup(&sql);
    uint64_t mid = !rc && m.n == 1 && m.v[0] > pt.a && m.v[0] <= pt.b ? m.v[0] : pt.a + (pt.b - pt.a) / 2 + 1;
    free(m.v);
    ferry_err_clear(err);
    parts_push(ps, mid, pt.b);
    parts_push(ps, pt.a, mid - 1);
    return true;
}

/* Runs the prepared statement (parameters $4/$5 = the partition) over every partition, splitting
 * any that runs out of memory before it produced a row. fn runs one bound partition. */
static int run_parts(struct duck_store *ds, const struct plan *p, struct reader *rd, struct parts *ps,
                     duckdb_prepared_statement st, int (*fn)(struct reader *, duckdb_prepared_statement, void *,
                                                             struct ferry_err *),
                     void *ctx, struct ferry_err *err)
{
    const struct offline_pull *pull = rd->pull;
    int rc = 0;
    while (ps->n && !rc) {
        struct part pt = ps->v[--ps->n];
        if (bind_part(st, pt.a, pt.b) != 0)
            return ferry_errf(err, FERRY_EINTERNAL, "view %s: cannot bind query parameters", pull->view->name);
        uint64_t before = pull->rows_out + rd->batch->nrows;
        if (offline_duckdb_fail_partitions > 0) {
            offline_duckdb_fail_partitions--;
            rc = ferry_errf(err, FERRY_ENOMEM, "view %s: injected out-of-memory", pull->view->name);
        } else {
            rc = fn(rd, st, ctx, err);
        }
        ps->ran++;
        if (rc == FERRY_ENOMEM && pull->rows_out + rd->batch->nrows == before) {
            LOG_DEBUG("view %s: partition %" PRIu64 "/%" PRIu64 " ran out of DuckDB memory; splitting it",
                      pull->view->name, pt.a, pt.b);
            struct ferry_err keep = *err;
            ferry_err_clear(err);
            if (parts_split(ds, p, pull, ps, pt, err))
                rc = 0;
            else
                *err = keep;
        }
    }
    return rc;
}

static int stream_part(struct reader *rd, duckdb_prepared_statement st, void *ctx, struct ferry_err *err)
{
    (void)ctx;
    return stream_rows(rd, st, NULL, err);
}

static int pick_part(struct reader *rd, duckdb_prepared_statement st, void *ctx, struct ferry_err *err)
{
    return each_u64(rd->p, rd->pull, st, take_pick, ctx, err);
}


/* The window query over nparts partitions: key ranges (from sampled quantiles of the key prefix) when the
 * rows must come in key order, else hash partitions. */
static int run_window(struct duck_store *ds, const struct plan *p, struct reader *rd, bool ordered,
                      uint64_t nparts, struct ferry_err *err)
{
    const struct offline_pull *pull = rd->pull;
    const struct feast_schema *s = pull->schema;
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    struct u64_list lows = {0};
    struct parts ps = {.kind = ordered ? PART_RANGE : PART_HASH};
    duckdb_prepared_statement st = NULL;
    int rc = 0;
    if (ordered) {
        if (nparts > 1) {
            /* Lower bounds of the ranges: DuckDB's reservoir quantiles of the prefix, deduplicated. */
            fbuf_adds(&sql, "SELECT DISTINCT CAST(b AS UBIGINT) AS b FROM (SELECT unnest(reservoir_quantile(");
            add_key_prefix(p, s, &sql);
            fbuf_adds(&sql, ", list_transform(range(1, CAST($4 AS BIGINT)), x -> x / CAST($4 AS DOUBLE)), 8192)) AS b");
            add_from_window(&sql, p);
            fbuf_adds(&sql, ") WHERE b > 0 ORDER BY b");
            if ((rc = query_u64s(ds, p, pull, &sql, nparts, &lows, err)))
                goto out;
            fbuf_reset(&sql);
        }
        for (size_t i = lows.n + 1; i-- > 0;)
            parts_push(&ps, i ? lows.v[i - 1] : 0, i < lows.n ? lows.v[i] - 1 : UINT64_MAX);
    } else {
        for (uint64_t i = nparts; i-- > 0;)
            parts_push(&ps, nparts, i);
    }
    LOG_DEBUG("view %s: %s window query in %zu %s partition(s)", pull->view->name,
              ordered ? "key-ordered" : "unordered", ps.n, ordered ? "key-range" : "hash");
    /* Always partitioned, even into one: a partition that runs out of memory can then be split. */
    build_window_sql(p, s, ps.kind, ordered, &sql);
    if (!(rc = prepare_query(ds, p, pull, &sql, &st, err)))
        rc = run_parts(ds, p, rd, &ps, st, stream_part, NULL, err);
out:
    if (st)
        duckdb_destroy_prepare(&st);
    free(lows.v);
    free(ps.v);
    fbuf_cleanup(&sql);
    return rc;
}

/* The pick: pass 1 per hash partition into a bitmap of rows (setting a bit twice is harmless, so a
 * partition can always be split and rerun), then pass 2 streams the picked rows. */
static int run_pick(struct duck_store *ds, const struct plan *p, struct reader *rd, uint64_t rows,
                    double budget, struct ferry_err *err)
{
    const struct offline_pull *pull = rd->pull;
    uint64_t keys_per_part = ds->partition_rows ? ds->partition_rows : (uint64_t)(budget / PICK_BYTES_PER_KEY) + 1;
    uint64_t nparts = 1;
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    struct picks pk = {0};
    struct parts ps = {.kind = PART_HASH};
    duckdb_prepared_statement st = NULL;
    int rc = 0;
    if (rows > keys_per_part) {
        /* rows bound the number of keys from above, often by several times: count them (roughly). */
        struct u64_list n = {0};
        fbuf_adds(&sql, "SELECT CAST(approx_count_distinct(hash(");
        add_keys(&sql, p);
        fbuf_adds(&sql, ")) AS UBIGINT)");
        add_from_window(&sql, p);
        rc = query_u64s(ds, p, pull, &sql, 0, &n, err);
        if (!rc && n.n == 1)
            nparts = ceil_div_u(n.v[0] + n.v[0] / 8, keys_per_part);  /* +12%: the estimate's error */
        free(n.v);
        fbuf_reset(&sql);
        if (rc)
            goto out;
    }
    LOG_DEBUG("view %s: two-pass pick in %" PRIu64 " hash partition(s)", pull->view->name, nparts);
    for (uint64_t i = nparts; i-- > 0;)
        parts_push(&ps, nparts, i);
    build_pick_sql(p, &sql);
    if ((rc = prepare_query(ds, p, pull, &sql, &st, err)) ||
        (rc = run_parts(ds, p, rd, &ps, st, pick_part, &pk, err)))
        goto out;
    duckdb_destroy_prepare(&st);
    st = NULL;
    fbuf_reset(&sql);
    build_stream_sql(p, &sql);
    if (!(rc = prepare_query(ds, p, pull, &sql, &st, err)))
        rc = stream_rows(rd, st, &pk, err);
out:
    if (st)
        duckdb_destroy_prepare(&st);
    picks_cleanup(&pk);
    free(ps.v);
    fbuf_cleanup(&sql);
    return rc;
}

static int run_query(struct duck_store *ds, const struct plan *p, struct reader *rd, struct ferry_err *err)
{
    const struct offline_pull *pull = rd->pull;
    const struct feast_schema *s = pull->schema;
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    duckdb_prepared_statement ps = NULL;
    struct u64_list count = {0};
    int rc = 0;
    if (s->dummy_key) {
        build_top1_sql(p, &sql);
        if (!(rc = prepare_query(ds, p, pull, &sql, &ps, err)))
            rc = stream_rows(rd, ps, NULL, err);
        goto out;
    }
    fbuf_adds(&sql, "SELECT CAST(count(*) AS UBIGINT)");
    add_from_window(&sql, p);
    if ((rc = query_u64s(ds, p, pull, &sql, 0, &count, err)) || count.n != 1 || count.v[0] == 0)
        goto out;
    double budget = memory_budget(ds);
    bool ordered = p->key_order && key_order_ok(p, s);
    /* Parquet files number their rows (file_index, file_row_number); CSV scans do not. */
    if (!ordered && strcmp(p->d.fn, "read_parquet") == 0)
        rc = run_pick(ds, p, rd, count.v[0], budget, err);
    else
        rc = run_window(ds, p, rd, ordered,
                        ceil_div_u(count.v[0], ds->partition_rows ? ds->partition_rows
                                                                  : (uint64_t)(budget / WINDOW_BYTES_PER_ROW) + 1),
                        err);
out:
    if (ps)
        duckdb_destroy_prepare(&ps);
    free(count.v);
    fbuf_cleanup(&sql);
    return rc;
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

    /* Result columns by position: keys (but not __dummy_id), features, ts[, created]. */
    struct reader rd = {.pull = pull, .p = &p};
    rd.ncols = p.nfeatures + 1 + p.has_created;
    for (size_t k = 0; k < p.nkeys; k++)
        rd.ncols += p.keys[k].col >= 0;
    rd.cols = xcalloc(rd.ncols, sizeof *rd.cols);
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

    rd.batch = xmalloc(sizeof *rd.batch);
    if ((rc = feast_batch_init(rd.batch, pull->schema, pull->batch_rows)) != 0) {
        free(rd.batch);
        rd.batch = NULL;
        rc = ferry_errf(err, rc, "view %s: cannot allocate a batch of %zu rows", view, pull->batch_rows);
        goto out;
    }
    rc = run_query(ds, &p, &rd, err);
    if (!rc)
        rc = flush(&rd, err);
out:
    if (rd.batch) {
        feast_batch_cleanup(rd.batch);
        free(rd.batch);
    }
    free(rd.cols);
    free(rd.key_col);
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
