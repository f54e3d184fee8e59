/* Shared part of the SQL offline stores (sqlsrc.h): planning and checking against a described
 * source, the one pushed-down "latest row per key" query in a portable form, and turning native
 * row values into feast_batch rows. The semantics are the DuckDB backend's (feast-compat.md
 * §2.4-2.6): window inclusive at both ends, newest event timestamp first, ties broken by the newest
 * created timestamp with nulls last (pandas' sort), every name reverse-mapped through field_mapping. */
#include "offline/sqlsrc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "offline/offline_impl.h"
#include "core/util.h"

/* ---- description ---- */

struct sq_col *sq_desc_add(struct sq_desc *d, const char *name, const char *type_name)
{
    d->cols = xrealloc(d->cols, (d->ncols + 1) * sizeof *d->cols);
    struct sq_col *c = &d->cols[d->ncols++];
    memset(c, 0, sizeof *c);
    c->name = xstrdup(name ? name : "");
    c->type_name = xstrdup(type_name ? type_name : "?");
    return c;
}

void sq_desc_cleanup(struct sq_desc *d)
{
    for (size_t i = 0; i < d->ncols; i++) {
        free(d->cols[i].name);
        free(d->cols[i].type_name);
    }
    free(d->cols);
    free(d->what);
    memset(d, 0, sizeof *d);
}

char *sq_source_what(const struct feast_source *s)
{
    if (s->table && *s->table)
        return xasprintf("table %s", s->table);
    return xasprintf("the query of source %s", s->name ? s->name : "(unnamed)");
}

/* ---- plan ---- */

static const char *reverse_map(const struct feast_source *s, const char *name)
{
    for (size_t i = 0; i < s->nfield_mapping; i++)
        if (str_eq(s->field_mapping[i].value, name))
            return s->field_mapping[i].key;
    return name;
}

static ssize_t find_col(const struct sq_desc *d, const char *name)
{
    for (size_t i = 0; i < d->ncols; i++)
        if (strcmp(d->cols[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

static int resolve(const struct feast_view *v, struct sq_plan *p, const char *what, struct sq_need *n,
                   struct ferry_err *err)
{
    n->src = reverse_map(&v->source, n->name);
    n->col = find_col(&p->d, n->src);
    if (n->col >= 0)
        return 0;
    struct fbuf avail;
    fbuf_init(&avail, 4096);
    for (size_t i = 0; i < p->d.ncols; i++)
        fbuf_addf(&avail, "%s%s", i ? ", " : "", p->d.cols[i].name);
    char mapped[160];
    if (strcmp(n->name, n->src) != 0)
        snprintf(mapped, sizeof mapped, " (mapped to %s %s)", what, n->name);
    else
        snprintf(mapped, sizeof mapped, " (%s)", what);
    int rc = ferry_errf(err, FERRY_ESOURCE, "view %s: column %s%s not found in %s; available: %s",
                        v->name, n->src, mapped, p->d.what, avail.data ? avail.data : "(none)");
    fbuf_cleanup(&avail);
    return rc;
}

static int check_type(const struct feast_view *v, const struct sq_plan *p, const struct sq_need *n,
                      bool key, struct ferry_err *err)
{
    const struct sq_col *c = &p->d.cols[n->col];
    bool ok = c->kind != 0 && (c->kind != FEAST_SRC_LIST || c->elem_kind != 0) &&
              (key ? feast_key_src_compatible(n->vtype, c->kind)
                   : feast_src_compatible(n->vtype, c->kind, c->elem_kind));
    if (!ok)
        return ferry_errf(err, FERRY_ESOURCE,
                          "view %s: column %s has %s type %s, which cannot become the declared "
                          "Feast type %s", v->name, c->name, p->store, c->type_name,
                          feast_dtype_name(n->vtype));
    return 0;
}

static int check_time_col(const struct feast_view *v, const struct sq_plan *p, const struct sq_need *n,
                          const char *what, struct ferry_err *err)
{
    const struct sq_col *c = &p->d.cols[n->col];
    if (c->kind != FEAST_SRC_TIMESTAMP)
        return ferry_errf(err, FERRY_ESOURCE,
                          "view %s: %s column %s has %s type %s; expected TIMESTAMP, "
                          "TIMESTAMP WITH TIME ZONE or DATE", v->name, what, c->name, p->store,
                          c->type_name);
    return 0;
}

void sq_plan_cleanup(struct sq_plan *p)
{
    sq_desc_cleanup(&p->d);
    free(p->keys);
    free(p->features);
    memset(p, 0, sizeof *p);
}

int sq_plan_make(const struct offline_pull *pull, struct sq_desc *d, const char *store,
                 struct sq_plan *p, struct ferry_err *err)
{
    const struct feast_view *v = pull->view;
    const struct feast_schema *s = pull->schema;
    memset(p, 0, sizeof *p);
    p->store = store;
    p->d = *d;
    memset(d, 0, sizeof *d);
    p->nkeys = s->nkeys;
    p->nfeatures = s->nfeatures;
    p->keys = xcalloc(p->nkeys ? p->nkeys : 1, sizeof *p->keys);
    p->features = xcalloc(p->nfeatures ? p->nfeatures : 1, sizeof *p->features);
    int rc = 0;
    for (size_t k = 0; k < p->nkeys && !rc; k++) {
        struct sq_need *n = &p->keys[k];
        n->name = s->key_names[k];
        n->vtype = s->key_vtypes[k];
        /* Entity-less views: every row has the constant key __dummy_id = "" (the batch fills it). */
        if (s->dummy_key) {
            n->src = n->name;
            n->col = -1;
            continue;
        }
        if (!(rc = resolve(v, p, "join key", n, err)))
            rc = check_type(v, p, n, true, err);
        p->nresult++;
    }
    for (size_t f = 0; f < p->nfeatures && !rc; f++) {
        struct sq_need *n = &p->features[f];
        n->name = s->feature_names[f];
        n->vtype = s->feature_vtypes[f];
        if (!(rc = resolve(v, p, "feature", n, err)))
            rc = check_type(v, p, n, false, err);
        p->nresult++;
    }
    if (!rc) {
        p->ts.name = v->source.timestamp_field;
        if (!(rc = resolve(v, p, "timestamp field", &p->ts, err)))
            rc = check_time_col(v, p, &p->ts, "timestamp field", err);
        p->nresult++;
    }
    if (!rc && v->source.created_column && *v->source.created_column) {
        p->has_created = true;
        p->created.name = v->source.created_column;
        if (!(rc = resolve(v, p, "created timestamp column", &p->created, err)))
            rc = check_time_col(v, p, &p->created, "created timestamp column", err);
        p->nresult++;
    }
    if (rc)
        sq_plan_cleanup(p);
    return rc;
}

static const struct sq_need *result_need(const struct sq_plan *p, size_t i)
{
    for (size_t k = 0; k < p->nkeys; k++) {
        if (p->keys[k].col < 0)
            continue;
        if (i-- == 0)
            return &p->keys[k];
    }
    if (i < p->nfeatures)
        return &p->features[i];
    i -= p->nfeatures;
    return i == 0 ? &p->ts : &p->created;
}

const char *sq_result_src(const struct sq_plan *p, size_t i) { return result_need(p, i)->src; }

const struct sq_col *sq_result_col(const struct sq_plan *p, size_t i)
{
    return &p->d.cols[result_need(p, i)->col];
}

void sq_infer(const struct sq_desc *d, const struct feast_source *s, const char *const *names, size_t n,
              int *vtypes)
{
    for (size_t i = 0; i < n; i++) {
        ssize_t c = find_col(d, reverse_map(s, names[i]));
        vtypes[i] = c < 0 ? FEAST_VT_INVALID : d->cols[c].infer_vtype;
    }
}

/* ---- query text ---- */

int sq_add_ident(struct fbuf *b, const struct sq_dialect *dl, const char *name)
{
    if (dl->quote == '"')
        return sql_quote_ident(b, name);
    /* Backtick dialects double the quote character the same way. */
    int rc = fbuf_addc(b, dl->quote);
    for (const char *c = name; *c && !rc; c++)
        rc = *c == dl->quote ? fbuf_addc(b, *c) || fbuf_addc(b, *c) : fbuf_addc(b, *c);
    return rc ? rc : fbuf_addc(b, dl->quote);
}

/* "a.b.c" -> "a"."b"."c": Feast pastes a PostgreSQL table name into the SQL unquoted, so a dotted
 * name means schema.table there; ferry keeps that meaning and quotes each part. */
static int add_dotted(struct fbuf *b, const struct sq_dialect *dl, const char *name)
{
    int rc = 0;
    const char *p = name;
    for (;;) {
        const char *dot = strchr(p, '.');
        char *part = dot ? xstrndup(p, (size_t)(dot - p)) : xstrdup(p);
        rc = sq_add_ident(b, dl, part);
        free(part);
        if (rc || !dot)
            return rc;
        if ((rc = fbuf_addc(b, '.')))
            return rc;
        p = dot + 1;
    }
}

int sq_add_from(struct fbuf *b, const struct sq_dialect *dl, const struct feast_source *s)
{
    if (s->table && *s->table) {
        /* Snowflake's database and schema qualify the table, as Feast's SnowflakeSource does. */
        if (s->database && *s->database) {
            sq_add_ident(b, dl, s->database);
            fbuf_addc(b, '.');
            if (s->schema && *s->schema)
                sq_add_ident(b, dl, s->schema);
            fbuf_addc(b, '.');   /* database..table: the database's default schema */
        } else if (s->schema && *s->schema) {
            sq_add_ident(b, dl, s->schema);
            fbuf_addc(b, '.');
        }
        return add_dotted(b, dl, s->table);
    }
    /* The query is the user's own SQL from their definitions, run with their credentials: it is
     * wrapped as a subquery, never spliced into anything else. */
    fbuf_adds(b, "( ");
    fbuf_adds(b, s->query ? s->query : "");
    fbuf_adds(b, " ) AS ");
    return sq_add_ident(b, dl, "src");
}

int sq_build_describe(struct fbuf *b, const struct sq_dialect *dl, const struct feast_source *s)
{
    fbuf_adds(b, "SELECT * FROM ");
    sq_add_from(b, dl, s);
    return fbuf_adds(b, " WHERE 1 = 0");
}

/* The inner query names result column i "_ferry_c<i>" so the outer one selects by position:
 * one source column may serve two names (a key and a feature, or two mapped features), which
 * would otherwise be an ambiguous column reference. */
static int add_cols(struct fbuf *b, const struct sq_dialect *dl, const struct sq_plan *p, bool inner)
{
    for (size_t i = 0; i < p->nresult; i++) {
        char alias[32];
        snprintf(alias, sizeof alias, "_ferry_c%zu", i);
        if (i)
            fbuf_adds(b, ", ");
        if (inner) {
            sq_add_ident(b, dl, sq_result_src(p, i));
            fbuf_adds(b, " AS ");
        }
        sq_add_ident(b, dl, alias);
    }
    return 0;
}

int sq_build_latest(struct fbuf *b, const struct sq_dialect *dl, const struct feast_source *s,
                    const struct sq_plan *p)
{
    fbuf_adds(b, "SELECT ");
    add_cols(b, dl, p, false);
    fbuf_adds(b, " FROM (SELECT ");
    add_cols(b, dl, p, true);
    fbuf_adds(b, ", ROW_NUMBER() OVER (");
    size_t npart = 0;
    for (size_t k = 0; k < p->nkeys; k++) {
        if (p->keys[k].col < 0)
            continue;
        fbuf_adds(b, npart++ ? ", " : "PARTITION BY ");
        sq_add_ident(b, dl, p->keys[k].src);
    }
    fbuf_adds(b, npart ? " ORDER BY " : "ORDER BY ");
    sq_add_ident(b, dl, p->ts.src);
    fbuf_adds(b, " DESC");
    if (p->has_created) {
        /* NULLS LAST is not in SQL Server; this CASE says the same everywhere. PostgreSQL would
         * otherwise put null created timestamps first in a DESC order. */
        fbuf_adds(b, ", CASE WHEN ");
        sq_add_ident(b, dl, p->created.src);
        fbuf_adds(b, " IS NULL THEN 1 ELSE 0 END, ");
        sq_add_ident(b, dl, p->created.src);
        fbuf_adds(b, " DESC");
    }
    fbuf_adds(b, ") AS ");
    sq_add_ident(b, dl, "_feast_row");
    fbuf_adds(b, " FROM ");
    sq_add_from(b, dl, s);
    fbuf_adds(b, " WHERE ");
    sq_add_ident(b, dl, p->ts.src);
    fbuf_adds(b, dl->dollar_params ? " BETWEEN $1 AND $2" : " BETWEEN ? AND ?");
    fbuf_adds(b, ") AS ");
    sq_add_ident(b, dl, "_ferry_latest");
    fbuf_adds(b, " WHERE ");
    sq_add_ident(b, dl, "_feast_row");
    return fbuf_adds(b, " = 1");
}

/* ---- rows ---- */


/* A setter's FERRY_EINVAL ("value does not fit the declared type") is a fact about the source's
 * data, so it is reported as FERRY_ESOURCE with the view and column in front. */
static int setter_fail(const char *view, const char *col, int rc, struct ferry_err *err)
{
    if (!err)
        return rc == FERRY_EINVAL ? FERRY_ESOURCE : rc;
    if (err->code == 0)
        ferry_errf(err, rc, "value rejected");
    ferry_err_prefix(err, "view %s: column %s: ", view, col);
    if (rc == FERRY_EINVAL)
        err->code = rc = FERRY_ESOURCE;
    return rc;
}

/* DECIMAL values arrive as text; everything but String takes the double nearest to it, as
 * Python's float(Decimal) does (strtod rounds once). */
static double decimal_double(const struct sq_val *v)
{
    char buf[128];
    size_t n = v->n < sizeof buf - 1 ? v->n : sizeof buf - 1;
    memcpy(buf, v->s, n);
    buf[n] = 0;
    return strtod(buf, NULL);
}

static int set_key(struct feast_batch *b, size_t k, const struct sq_val *v, struct ferry_err *err)
{
    switch (v->kind) {
    case SQ_INT: return feast_row_key_int(b, k, v->i, err);
    case SQ_STR: case SQ_BYTES: return feast_row_key_str(b, k, v->s, v->n, err);
    case SQ_TIME: return feast_row_key_time(b, k, v->i, err);
    default: return ferry_errf(err, FERRY_EINVAL, "cannot be an entity key");
    }
}

static int set_feature(struct feast_batch *b, size_t f, int vtype, const struct sq_val *v,
                       struct ferry_err *err)
{
    switch (v->kind) {
    case SQ_NULL: return feast_row_null(b, f);
    case SQ_INT: return feast_row_int(b, f, v->i, err);
    case SQ_DOUBLE: return feast_row_double(b, f, v->d, err);
    case SQ_STR: return feast_row_str(b, f, v->s, v->n, err);
    case SQ_BYTES: return feast_row_bytes(b, f, v->s, v->n, err);
    case SQ_BOOL: return feast_row_bool(b, f, v->b, err);
    case SQ_TIME: return feast_row_time(b, f, v->i, err);
    case SQ_DECIMAL:
        if (vtype == FEAST_VT_STRING)
            return feast_row_str(b, f, v->s, v->n, err);
        return feast_row_double(b, f, decimal_double(v), err);
    default: break;
    }
    int rc = feast_row_list_begin(b, f);
    for (size_t j = 0; j < v->nelems && !rc; j++) {
        const struct sq_val *e = &v->elems[j];
        switch (e->kind) {
        case SQ_NULL: rc = feast_row_list_null(b, err); break;
        case SQ_INT: rc = feast_row_list_int(b, e->i, err); break;
        case SQ_DOUBLE: rc = feast_row_list_double(b, e->d, err); break;
        case SQ_DECIMAL: rc = feast_row_list_double(b, decimal_double(e), err); break;
        case SQ_STR: case SQ_BYTES: rc = feast_row_list_str(b, e->s, e->n, err); break;
        case SQ_BOOL: rc = feast_row_list_bool(b, e->b, err); break;
        case SQ_TIME: rc = feast_row_list_time(b, e->i, err); break;
        default: rc = ferry_errf(err, FERRY_EINVAL, "nested lists are not supported");
        }
    }
    return rc ? rc : feast_row_list_end(b, err);
}

static int build_row(struct sq_writer *w, const struct sq_val *vals, struct ferry_err *err)
{
    const struct sq_plan *p = w->p;
    struct feast_batch *b = w->batch;
    const char *view = w->pull->view->name;
    int rc = feast_row_begin(b);
    if (rc)
        return ferry_errf(err, rc, "view %s: cannot start a row", view);
    size_t i = 0;
    for (size_t k = 0; k < p->nkeys; k++) {
        if (p->keys[k].col < 0)
            continue;   /* __dummy_id, filled in by feast_row_end */
        if (vals[i].kind == SQ_NULL)
            return ferry_errf(err, FERRY_ESOURCE, "view %s: column %s: null entity key value", view,
                              p->keys[k].src);
        if ((rc = set_key(b, k, &vals[i], err)))
            return setter_fail(view, p->keys[k].src, rc, err);
        i++;
    }
    for (size_t f = 0; f < p->nfeatures; f++, i++)
        if ((rc = set_feature(b, f, p->features[f].vtype, &vals[i], err)))
            return setter_fail(view, p->features[f].src, rc, err);
    /* The window filter dropped null event timestamps; a null created timestamp is "none". */
    int64_t ts = vals[i].i, cr = FERRY_TIME_NONE;
    if (p->has_created && vals[i + 1].kind == SQ_TIME)
        cr = vals[i + 1].i;
    if ((rc = feast_row_end(b, ts, cr, err)))
        return setter_fail(view, p->ts.src, rc, err);
    return 0;
}

static int flush(struct sq_writer *w, struct ferry_err *err) { return offline_pull_flush(w->pull, &w->batch, err); }

int sq_writer_init(struct sq_writer *w, struct offline_pull *pull, const struct sq_plan *p,
                   struct ferry_err *err)
{
    w->pull = pull;
    w->p = p;
    w->batch = xmalloc(sizeof *w->batch);
    int rc = feast_batch_init(w->batch, pull->schema, pull->batch_rows);
    if (rc) {
        free(w->batch);
        w->batch = NULL;
        return ferry_errf(err, rc, "view %s: cannot allocate a batch of %zu rows", pull->view->name,
                          pull->batch_rows);
    }
    return 0;
}

int sq_writer_row(struct sq_writer *w, const struct sq_val *vals, struct ferry_err *err)
{
    int rc = build_row(w, vals, err);
    /* The batch arena is full (FEAST_BATCH_MAX_BYTES): send the rows so far and build this row
     * again in the empty batch; a row too big on its own still fails. */
    if (rc == FERRY_ELIMIT && w->batch->nrows > 0) {
        ferry_err_clear(err);
        if (!(rc = flush(w, err)))
            rc = build_row(w, vals, err);
    }
    if (!rc && w->batch->nrows >= w->pull->batch_rows)
        rc = flush(w, err);
    return rc;
}

int sq_writer_finish(struct sq_writer *w, struct ferry_err *err) { return flush(w, err); }

void sq_writer_cleanup(struct sq_writer *w)
{
    if (w->batch) {
        feast_batch_cleanup(w->batch);
        free(w->batch);
    }
    w->batch = NULL;
}

/* ---- time ---- */

/* Howard Hinnant's days_from_civil. */
int64_t sq_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t floor_div(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && a < 0) ? q - 1 : q; }
static int64_t ceil_div(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && a > 0) ? q + 1 : q; }

void sq_window(int64_t start_ns, int64_t end_ns, bool days, int64_t *lo, int64_t *hi)
{
    int64_t unit = days ? 86400 * FERRY_NS_PER_SEC : 1000;
    *lo = ceil_div(start_ns, unit);
    *hi = floor_div(end_ns, unit);
}
