/* SQLite online store in Feast v0.66's layout (feast-compat.md §5): one table "{project}_{view}" per
 * feature view, one row per (entity key, feature), Value bytes in `value`, the text form in
 * `value_text`, event/created times as INTEGER epoch seconds. Feast's feature server reads these
 * files directly, so the schema, names and encodings follow Feast exactly. Where ferry differs on
 * purpose: a write never replaces a stored row that is newer (Feast's last write wins), and times are
 * true UTC seconds (Feast uses the process's local time zone, equal under TZ=UTC).
 * All sqlite3 objects stay inside this file. */
#include "online/online.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/time.h"
#include "core/util.h"

/* Readers (Feast's feature server) and other writers hold locks briefly; waiting this long before
 * giving up turns contention into a delay instead of an error. */
#define SQLITE_BUSY_MS 30000
/* Keys bound per SELECT: below SQLite's historical 999-variable limit, whatever the build. */
#define READ_CHUNK 500
/* Upper bound for the bytes of one read result and for generated SQL text. */
#define READ_BYTES_MAX ((size_t)1 << 30)
#define SQL_MAX ((size_t)1 << 16)

struct sqlite_store {
    struct online_store base;  /* first: online.c sees only this */
    sqlite3 *db;
    char *path;
};

static struct sqlite_store *impl(struct online_store *st) { return (struct sqlite_store *)st; }

/* Columns of an existing table that matter to ferry. */
enum {
    COL_ENTITY_KEY = 1 << 0, COL_FEATURE_NAME = 1 << 1, COL_VALUE = 1 << 2, COL_VALUE_TEXT = 1 << 3,
    COL_EVENT_TS = 1 << 4, COL_CREATED_TS = 1 << 5,
};
static const struct { const char *name; int bit; } known_cols[] = {
    {"entity_key", COL_ENTITY_KEY}, {"feature_name", COL_FEATURE_NAME}, {"value", COL_VALUE},
    {"value_text", COL_VALUE_TEXT}, {"event_ts", COL_EVENT_TS}, {"created_ts", COL_CREATED_TS},
};
#define COLS_REQUIRED (COL_ENTITY_KEY | COL_FEATURE_NAME | COL_VALUE | COL_EVENT_TS | COL_CREATED_TS)

static int db_err(struct sqlite_store *s, struct ferry_err *err, const char *table, const char *what)
{
    return ferry_errf(err, FERRY_ESTORE, "SQLite online store %s: table %s: %s: %s", s->path, table, what,
                      sqlite3_errmsg(s->db));
}

static int sql_err(struct ferry_err *err, const char *table, int rc)
{
    return ferry_errf(err, rc, "SQLite online store: table %s: SQL text too long", table);
}

static char *table_name(const char *project, const struct feast_view *view)
{
    return xasprintf("%s_%s", project, view->name);
}

static int exec(struct sqlite_store *s, const char *sql, const char *table, const char *what,
                struct ferry_err *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s, err, table, what);
    return 0;
}

static void rollback(struct sqlite_store *s)
{
    /* Keeps the caller's error message: the first failure is the one that matters. */
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Whether the table exists and which of the known columns it has (PRAGMA table_info gives one row
 * per column, none for a missing table). */
static int table_info(struct sqlite_store *s, const char *table, bool *exists, int *cols, struct ferry_err *err)
{
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    int rc = fbuf_adds(&sql, "PRAGMA table_info(");
    if (!rc) rc = sql_quote_ident(&sql, table);
    if (!rc) rc = fbuf_addc(&sql, ')');
    if (rc)
        return sql_err(err, table, rc);
    *exists = false;
    *cols = 0;
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL);
    fbuf_cleanup(&sql);
    if (rc != SQLITE_OK)
        return db_err(s, err, table, "reading the column list");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        *exists = true;
        const char *name = (const char *)sqlite3_column_text(st, 1);
        for (size_t i = 0; name && i < FERRY_ARRAY_LEN(known_cols); i++)
            if (sqlite3_stricmp(name, known_cols[i].name) == 0)
                *cols |= known_cols[i].bit;
    }
    rc = (step == SQLITE_DONE) ? 0 : db_err(s, err, table, "reading the column list");
    sqlite3_finalize(st);
    return rc;
}

static int sqlite_open(const struct ferry_config *cfg, struct online_store **out, struct ferry_err *err)
{
    const char *path = cfg->online.path;
    if (!path || !*path)
        return ferry_errf(err, FERRY_ECONFIG, "online store type sqlite: no database path configured");
    int rc = file_mkdir_parent(path, err);
    if (rc)
        return ferry_err_prefix(err, "SQLite online store %s: ", path);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        rc = ferry_errf(err, FERRY_ESTORE, "SQLite online store %s: cannot open: %s", path,
                        db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, SQLITE_BUSY_MS);
    /* A connection setting only (nothing persists in the file, so Feast's readers are unaffected):
     * SQLite's default 2 MB page cache makes every batch re-read the B-trees' pages from the OS.
     * Rows come in key order from the DuckDB store, so the pages in use are few: 16 MB was as fast
     * as 64 MB at 1M entities in bench/run, with 50-60 MB less peak RSS. */
    sqlite3_exec(db, "PRAGMA cache_size = -16384", NULL, NULL, NULL);
    struct sqlite_store *s = xcalloc(1, sizeof *s);
    s->db = db;
    s->path = xstrdup(path);
    *out = &s->base;
    return 0;
}

static void sqlite_close(struct online_store *st)
{
    struct sqlite_store *s = impl(st);
    sqlite3_close(s->db);  /* every statement is finalized where it was made */
    free(s->path);
    free(s);
}

/* Feast's DDL (SqliteOnlineStore.update), text included, so sqlite_master looks as if Feast made it;
 * then the v0.66 migration of older tables. One transaction so a half-migrated table never shows. */
static int prepare_table(struct sqlite_store *s, const char *table, struct ferry_err *err)
{
    struct fbuf q, sql;
    fbuf_init(&q, SQL_MAX);
    fbuf_init(&sql, SQL_MAX);
    char *ek = xasprintf("%s_ek", table);
    int rc = sql_quote_ident(&q, table);
    if (!rc) rc = fbuf_adds(&sql, "CREATE TABLE IF NOT EXISTS ");
    if (!rc) rc = fbuf_adds(&sql, q.data);
    if (!rc) rc = fbuf_adds(&sql, " (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT,  vector_value BLOB,"
                                  " event_ts timestamp, created_ts timestamp,  PRIMARY KEY(entity_key, feature_name));"
                                  " CREATE INDEX IF NOT EXISTS ");
    if (!rc) rc = sql_quote_ident(&sql, ek);
    if (!rc) rc = fbuf_adds(&sql, " ON ");
    if (!rc) rc = fbuf_adds(&sql, q.data);
    if (!rc) rc = fbuf_adds(&sql, " (entity_key);");
    free(ek);
    if (rc) {
        fbuf_cleanup(&q);
        fbuf_cleanup(&sql);
        return sql_err(err, table, rc);
    }
    bool exists = false;
    int cols = 0;
    rc = exec(s, "BEGIN IMMEDIATE", table, "starting the schema transaction", err);
    if (!rc) rc = exec(s, sql.data, table, "creating the table and its index", err);
    if (!rc) rc = table_info(s, table, &exists, &cols, err);
    if (!rc && !(cols & COL_VALUE_TEXT)) {
        fbuf_reset(&sql);
        rc = fbuf_adds(&sql, "ALTER TABLE ");
        if (!rc) rc = fbuf_adds(&sql, q.data);
        if (!rc) rc = fbuf_adds(&sql, " ADD COLUMN value_text TEXT");
        if (rc)
            rc = sql_err(err, table, rc);
        /* Feast ignores "duplicate column name"; the column check above already makes that moot. */
        else if (sqlite3_exec(s->db, sql.data, NULL, NULL, NULL) != SQLITE_OK &&
                 !strstr(sqlite3_errmsg(s->db), "duplicate column name"))
            rc = db_err(s, err, table, "adding column value_text");
    }
    if (!rc) rc = exec(s, "COMMIT", table, "committing the schema", err);
    if (rc)
        rollback(s);
    fbuf_cleanup(&q);
    fbuf_cleanup(&sql);
    return rc;
}

static int sqlite_prepare(struct online_store *st, const char *project, const struct feast_view *view,
                          struct ferry_err *err)
{
    char *table = table_name(project, view);
    int rc = prepare_table(impl(st), table, err);
    free(table);
    return rc;
}

/* The upsert for the columns the table has. The WHERE keeps a newer stored row: stored times may be
 * INTEGER seconds (v0.42+) or the older text form, which compares after conversion to seconds (an
 * INTEGER is otherwise always less than TEXT in SQLite). A NULL or unreadable stored time is
 * overwritten. Parameters: ?1 key, ?2 feature, ?3 value, ?4 value_text, ?5 event_ts, ?6 created_ts. */
static int build_upsert(struct fbuf *sql, const char *table, int cols)
{
    bool text = cols & COL_VALUE_TEXT;
    int rc = fbuf_adds(sql, "INSERT INTO ");
    if (!rc) rc = sql_quote_ident(sql, table);
    if (!rc) rc = fbuf_addf(sql, " (entity_key, feature_name, value, %sevent_ts, created_ts) VALUES (?1, ?2, ?3, %s?5, ?6)"
                                 " ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, %s"
                                 "event_ts = excluded.event_ts, created_ts = excluded.created_ts"
                                 " WHERE excluded.event_ts >= IFNULL(CASE typeof(event_ts)"
                                 " WHEN 'text' THEN CAST(strftime('%%s', event_ts) AS INTEGER)"
                                 " WHEN 'blob' THEN NULL ELSE event_ts END, excluded.event_ts)",
                          text ? "value_text, " : "", text ? "?4, " : "",
                          text ? "value_text = excluded.value_text, " : "");
    return rc;
}

/* floor(ns / 1e9), correct for times before 1970. */
static int64_t floor_sec(int64_t ns)
{
    int64_t q = ns / FERRY_NS_PER_SEC;
    return (ns % FERRY_NS_PER_SEC < 0) ? q - 1 : q;
}

static int bind_row_cell(sqlite3_stmt *st, const struct feast_batch *b, size_t r, size_t f, bool text)
{
    const struct feast_batch_row *row = &b->rows[r];
    const struct feast_batch_cell *c = feast_batch_cell(b, r, f);
    const char *arena = b->bytes.data;
    /* SQLite takes lengths as int; anything larger could never be stored anyway. */
    if (row->key_len > INT_MAX || c->val_len > INT_MAX)
        return SQLITE_TOOBIG;
    int rc = row->key_len ? sqlite3_bind_blob(st, 1, arena + row->key_off, (int)row->key_len, SQLITE_STATIC)
                          : sqlite3_bind_zeroblob(st, 1, 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, b->schema->feature_names[f], -1, SQLITE_STATIC);
    /* A null feature is a zero-length BLOB, never SQL NULL (Feast parses value as a Value). */
    if (rc == SQLITE_OK)
        rc = c->val_len ? sqlite3_bind_blob(st, 3, arena + c->val_off, (int)c->val_len, SQLITE_STATIC)
                        : sqlite3_bind_zeroblob(st, 3, 0);
    if (rc == SQLITE_OK && text)
        rc = c->text_len < 0 ? sqlite3_bind_null(st, 4)
                             : sqlite3_bind_text(st, 4, c->text_len ? arena + c->text_off : "", c->text_len,
                                                 SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, floor_sec(row->event_ns));
    if (rc == SQLITE_OK)
        rc = row->created_ns == FERRY_TIME_NONE ? sqlite3_bind_null(st, 6)
                                                : sqlite3_bind_int64(st, 6, floor_sec(row->created_ns));
    return rc;
}

static int sqlite_write(struct online_store *st, const char *project, const struct feast_view *view,
                        const struct feast_batch *b, struct online_write_stats *stats, struct ferry_err *err)
{
    struct sqlite_store *s = impl(st);
    char *table = table_name(project, view);
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    sqlite3_stmt *ins = NULL;
    bool exists = false;
    int cols = 0;
    /* Columns are read per batch, not cached: another process (feast apply) may migrate the table
     * between batches, and a stale column list would leave value_text stale. */
    int rc = table_info(s, table, &exists, &cols, err);
    if (!rc && !exists) {
        rc = prepare_table(s, table, err);
        if (!rc) rc = table_info(s, table, &exists, &cols, err);
    }
    if (!rc && (cols & COLS_REQUIRED) != COLS_REQUIRED) {
        for (size_t i = 0; i < FERRY_ARRAY_LEN(known_cols); i++)
            if ((COLS_REQUIRED & known_cols[i].bit) && !(cols & known_cols[i].bit)) {
                rc = ferry_errf(err, FERRY_ESTORE, "SQLite online store %s: table %s has no column %s; it is not"
                                " a Feast online store table", s->path, table, known_cols[i].name);
                break;
            }
    }
    if (!rc && (rc = build_upsert(&sql, table, cols)))
        rc = sql_err(err, table, rc);
    if (!rc && sqlite3_prepare_v2(s->db, sql.data, -1, &ins, NULL) != SQLITE_OK)
        rc = db_err(s, err, table, "preparing the upsert");
    /* IMMEDIATE takes the write lock now, where the busy timeout applies, rather than failing later
     * on a read-to-write upgrade. */
    if (!rc) rc = exec(s, "BEGIN IMMEDIATE", table, "starting the write transaction", err);
    bool text = cols & COL_VALUE_TEXT;
    size_t nf = b->schema->nfeatures;
    for (size_t r = 0; !rc && r < b->nrows; r++) {
        bool changed = nf == 0;
        for (size_t f = 0; !rc && f < nf; f++) {
            if (bind_row_cell(ins, b, r, f, text) != SQLITE_OK)
                rc = db_err(s, err, table, "binding a row");
            else if (sqlite3_step(ins) != SQLITE_DONE)
                rc = db_err(s, err, table, "writing a row");
            else if (sqlite3_changes(s->db) > 0)
                changed = true;  /* an upsert whose WHERE fails changes nothing */
            sqlite3_reset(ins);
        }
        if (!rc) {
            if (changed)
                stats->rows_written++;
            else
                stats->rows_skipped++;
        }
    }
    if (!rc) rc = exec(s, "COMMIT", table, "committing the batch", err);
    if (rc) {
        rollback(s);
        stats->rows_written = stats->rows_skipped = 0;
    }
    sqlite3_finalize(ins);
    fbuf_cleanup(&sql);
    free(table);
    return rc;
}

/* ---- read ---- */

/* The pre-v0.42 text form written by Python's default adapter, "YYYY-MM-DD HH:MM:SS[.ffffff]"
 * (naive UTC), is one of the forms ferry's own timestamp parser reads. */
static bool parse_text_ts(const char *t, int64_t *ns)
{
    return ferry_time_parse(t, ns, NULL) == 0;
}

/* The stored event_ts as ns; FERRY_TIME_NONE for NULL. */
static int column_ts(sqlite3_stmt *st, int col, int64_t *ns)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        *ns = FERRY_TIME_NONE;
        return 0;
    case SQLITE_INTEGER: {
        int64_t sec = sqlite3_column_int64(st, col);
        if (sec > INT64_MAX / FERRY_NS_PER_SEC || sec <= INT64_MIN / FERRY_NS_PER_SEC)
            return -1;
        *ns = sec * FERRY_NS_PER_SEC;
        return 0;
    }
    case SQLITE_FLOAT: {
        double d = floor(sqlite3_column_double(st, col));
        if (!(d < 9.2e9 && d > -9.2e9))
            return -1;
        *ns = (int64_t)d * FERRY_NS_PER_SEC;
        return 0;
    }
    case SQLITE_TEXT:
        return parse_text_ts((const char *)sqlite3_column_text(st, col), ns) ? 0 : -1;
    default:
        return -1;
    }
}

struct key_ref { const void *p; size_t n; size_t idx; };

static int key_cmp_bytes(const void *ap, size_t an, const void *bp, size_t bn)
{
    int c = memcmp(ap, bp, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    int c = key_cmp_bytes(x->p, x->n, y->p, y->n);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* First entry of refs (sorted) equal to the key, or nrefs. */
static size_t key_find(const struct key_ref *refs, size_t nrefs, const void *p, size_t n)
{
    size_t lo = 0, hi = nrefs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp_bytes(refs[mid].p, refs[mid].n, p, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < nrefs && key_cmp_bytes(refs[lo].p, refs[lo].n, p, n) == 0) ? lo : nrefs;
}

/* Applies one result row to every requested key equal to its entity_key. */
static int take_row(struct sqlite_store *s, const char *table, sqlite3_stmt *st, const struct key_ref *refs,
                    size_t nrefs, const char *const *features, size_t nfeatures, struct online_read_result *out,
                    struct ferry_err *err)
{
    const void *kp = sqlite3_column_blob(st, 0);
    size_t kn = (size_t)sqlite3_column_bytes(st, 0);
    size_t i = key_find(refs, nrefs, kp ? kp : "", kn);
    if (i == nrefs)
        return 0;  /* SQLite matched it, so this cannot happen unless a key is not a BLOB */
    int64_t ns;
    if (column_ts(st, 3, &ns) != 0)
        return ferry_errf(err, FERRY_ESTORE, "SQLite online store %s: table %s: unreadable event_ts '%s'", s->path,
                          table, (const char *)sqlite3_column_text(st, 3));
    const char *fname = (const char *)sqlite3_column_text(st, 1);
    const void *vp = sqlite3_column_blob(st, 2);
    size_t vn = (size_t)sqlite3_column_bytes(st, 2);
    size_t voff = out->bytes.len;
    bool wanted = false;
    for (size_t f = 0; fname && f < nfeatures; f++)
        wanted |= strcmp(features[f], fname) == 0;
    if (wanted && vn) {
        int rc = fbuf_add(&out->bytes, vp, vn);
        if (rc)
            return ferry_errf(err, rc, "SQLite online store %s: table %s: read result exceeds %zu bytes", s->path,
                              table, (size_t)READ_BYTES_MAX);
    }
    if (vn > UINT32_MAX)
        return ferry_errf(err, FERRY_ELIMIT, "SQLite online store %s: table %s: value too large", s->path, table);
    for (; i < nrefs && key_cmp_bytes(refs[i].p, refs[i].n, kp ? kp : "", kn) == 0; i++) {
        size_t k = refs[i].idx;
        /* Feast takes the time of whichever row comes last; ferry takes the newest, which is the
         * same when all features of a row were written together (always, for ferry and Feast). */
        if (!out->found[k] || (ns != FERRY_TIME_NONE && (out->event_ns[k] == FERRY_TIME_NONE || ns > out->event_ns[k])))
            out->event_ns[k] = ns;
        out->found[k] = true;
        for (size_t f = 0; wanted && f < nfeatures; f++)
            if (strcmp(features[f], fname) == 0) {
                out->val_off[k * nfeatures + f] = voff;
                out->val_len[k * nfeatures + f] = (uint32_t)vn;
            }
    }
    return 0;
}

static int build_select(struct fbuf *sql, const char *table, size_t n)
{
    int rc = fbuf_adds(sql, "SELECT entity_key, feature_name, value, event_ts FROM ");
    if (!rc) rc = sql_quote_ident(sql, table);
    if (!rc) rc = fbuf_adds(sql, " WHERE entity_key IN (");
    for (size_t i = 0; !rc && i < n; i++)
        rc = fbuf_adds(sql, i ? ", ?" : "?");
    if (!rc) rc = fbuf_addc(sql, ')');
    return rc;
}

static int sqlite_read(struct online_store *st, const char *project, const struct feast_view *view,
                       const struct fbuf *keys, size_t nkeys, const char *const *features, size_t nfeatures,
                       struct online_read_result *out, struct ferry_err *err)
{
    struct sqlite_store *s = impl(st);
    char *table = table_name(project, view);
    out->nkeys = nkeys;
    out->nfeatures = nfeatures;
    fbuf_init(&out->bytes, READ_BYTES_MAX);
    size_t ncells = nkeys * nfeatures;
    if (nfeatures && ncells / nfeatures != nkeys) {
        int rc = ferry_errf(err, FERRY_ELIMIT, "SQLite online store: table %s: too many keys", table);
        free(table);
        return rc;
    }
    out->found = calloc(nkeys ? nkeys : 1, sizeof *out->found);
    out->event_ns = calloc(nkeys ? nkeys : 1, sizeof *out->event_ns);
    out->val_off = calloc(ncells ? ncells : 1, sizeof *out->val_off);
    out->val_len = calloc(ncells ? ncells : 1, sizeof *out->val_len);
    struct key_ref *refs = calloc(nkeys ? nkeys : 1, sizeof *refs);
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    sqlite3_stmt *sel = NULL;
    size_t sel_n = 0;
    int rc = 0;
    if (!out->found || !out->event_ns || !out->val_off || !out->val_len || !refs)
        rc = ferry_errf(err, FERRY_ENOMEM, "SQLite online store: table %s: no memory for %zu keys", table, nkeys);
    for (size_t k = 0; !rc && k < nkeys; k++) {
        out->event_ns[k] = FERRY_TIME_NONE;
        refs[k] = (struct key_ref){keys[k].len ? keys[k].data : "", keys[k].len, k};
    }
    bool exists = false;
    int cols = 0;
    if (!rc) rc = table_info(s, table, &exists, &cols, err);
    if (!rc && !exists)
        rc = ferry_errf(err, FERRY_ENOTFOUND, "SQLite online store %s: table %s does not exist (run apply or "
                        "materialize first)", s->path, table);
    if (!rc && nkeys)
        qsort(refs, nkeys, sizeof *refs, key_ref_cmp);
    /* Each distinct key is bound once: duplicates in the request share the rows read. */
    size_t next = 0;
    while (!rc && next < nkeys) {
        size_t uniq[READ_CHUNK], nu = 0;
        for (; next < nkeys && nu < READ_CHUNK; next++)
            if (next == 0 || key_cmp_bytes(refs[next].p, refs[next].n, refs[next - 1].p, refs[next - 1].n) != 0)
                uniq[nu++] = next;
        if (nu != sel_n) {  /* full chunks reuse one statement; only the last may differ */
            sqlite3_finalize(sel);
            sel = NULL;
            fbuf_reset(&sql);
            if ((rc = build_select(&sql, table, nu))) {
                rc = sql_err(err, table, rc);
                break;
            }
            if (sqlite3_prepare_v2(s->db, sql.data, -1, &sel, NULL) != SQLITE_OK) {
                rc = db_err(s, err, table, "preparing the read");
                break;
            }
            sel_n = nu;
        }
        for (size_t i = 0; i < nu && !rc; i++) {
            const struct key_ref *r = &refs[uniq[i]];
            if (sqlite3_bind_blob(sel, (int)i + 1, r->p, (int)r->n, SQLITE_STATIC) != SQLITE_OK)
                rc = db_err(s, err, table, "binding a key");
        }
        int step = SQLITE_DONE;
        while (!rc && (step = sqlite3_step(sel)) == SQLITE_ROW)
            rc = take_row(s, table, sel, refs, nkeys, features, nfeatures, out, err);
        if (!rc && step != SQLITE_DONE)
            rc = db_err(s, err, table, "reading rows");
        sqlite3_reset(sel);
        sqlite3_clear_bindings(sel);
    }
    sqlite3_finalize(sel);
    fbuf_cleanup(&sql);
    free(refs);
    free(table);
    return rc;
}

const struct online_store_type online_sqlite_type = {
    .name = "sqlite",
    .writes_value_text = true,
    .open = sqlite_open,
    .prepare = sqlite_prepare,
    .write = sqlite_write,
    .read = sqlite_read,
    .close = sqlite_close,
};
