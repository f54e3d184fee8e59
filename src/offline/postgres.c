/* The PostgreSQL offline store (Feast's `type: postgres`, feast-compat.md §1.5) over libpq.
 * A source names a table or a query (FEAST_SOURCE_POSTGRES); the latest row per entity key in the
 * inclusive window is one pushed-down query (sqlsrc.c) with the bounds as typed parameters of the
 * timestamp column's own type, so an index on it can be used. Results come back in binary format
 * (no text parsing, exact floats and timestamps) through a server-side cursor read FETCH by FETCH,
 * so ferry's memory is bounded by the batch size (README: measured against single-row mode).
 * The session runs in TimeZone UTC: timestamp without time zone is UTC in Feast (§2.7).
 * libpq objects never leave this file. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"
#include "offline/offline_impl.h"
#include "offline/sqlsrc.h"

#define SQL_MAX (1u << 20)
#define PG_EPOCH_DAYS 10957                 /* 2000-01-01 - 1970-01-01 */
#define PG_EPOCH_US (INT64_C(946684800) * 1000000)

/* Built-in type OIDs (pg_type.dat); they are fixed across PostgreSQL versions. */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_CHAR = 18, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21,
    OID_INT4 = 23, OID_TEXT = 25, OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701,
    OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700, OID_UUID = 2950, OID_JSONB = 3802,
};

/* Each readable scalar type: its kind, Feast's inferred ValueType (type_map.py
 * pg_type_to_feast_value_type), and its array type. */
static const struct pgtype {
    Oid oid, array_oid;
    const char *name;
    int kind;
    int infer, infer_list;
} pgtypes[] = {
    {OID_BOOL, 1000, "boolean", FEAST_SRC_BOOL, FEAST_VT_BOOL, FEAST_VT_BOOL_LIST},
    {OID_BYTEA, 1001, "bytea", FEAST_SRC_BYTES, FEAST_VT_BYTES, FEAST_VT_BYTES_LIST},
    {OID_CHAR, 1002, "\"char\"", FEAST_SRC_STRING, FEAST_VT_STRING, FEAST_VT_STRING_LIST},
    {OID_NAME, 1003, "name", FEAST_SRC_STRING, FEAST_VT_INVALID, FEAST_VT_INVALID},
    {OID_INT2, 1005, "smallint", FEAST_SRC_INT, FEAST_VT_INT32, FEAST_VT_INT32_LIST},
    {OID_INT4, 1007, "integer", FEAST_SRC_INT, FEAST_VT_INT32, FEAST_VT_INT32_LIST},
    {OID_INT8, 1016, "bigint", FEAST_SRC_INT, FEAST_VT_INT64, FEAST_VT_INT64_LIST},
    {OID_TEXT, 1009, "text", FEAST_SRC_STRING, FEAST_VT_STRING, FEAST_VT_STRING_LIST},
    {OID_BPCHAR, 1014, "character", FEAST_SRC_STRING, FEAST_VT_STRING, FEAST_VT_STRING_LIST},
    {OID_VARCHAR, 1015, "character varying", FEAST_SRC_STRING, FEAST_VT_STRING, FEAST_VT_INVALID},
    {OID_FLOAT4, 1021, "real", FEAST_SRC_FLOAT, FEAST_VT_FLOAT, FEAST_VT_FLOAT_LIST},
    {OID_FLOAT8, 1022, "double precision", FEAST_SRC_FLOAT, FEAST_VT_DOUBLE, FEAST_VT_DOUBLE_LIST},
    {OID_NUMERIC, 1231, "numeric", FEAST_SRC_DECIMAL, FEAST_VT_DOUBLE, FEAST_VT_DOUBLE_LIST},
    {OID_DATE, 1182, "date", FEAST_SRC_TIMESTAMP, FEAST_VT_UNIX_TIMESTAMP, FEAST_VT_UNIX_TIMESTAMP_LIST},
    {OID_TIMESTAMP, 1115, "timestamp without time zone", FEAST_SRC_TIMESTAMP, FEAST_VT_UNIX_TIMESTAMP,
     FEAST_VT_UNIX_TIMESTAMP_LIST},
    {OID_TIMESTAMPTZ, 1185, "timestamp with time zone", FEAST_SRC_TIMESTAMP, FEAST_VT_UNIX_TIMESTAMP,
     FEAST_VT_UNIX_TIMESTAMP_LIST},
    /* Feast infers UUID and MAP types for these, which ferry does not model: readable as text
     * into a declared String (or Json), never inferred. */
    {OID_UUID, 2951, "uuid", FEAST_SRC_STRING, FEAST_VT_INVALID, FEAST_VT_INVALID},
    {OID_JSON, 199, "json", FEAST_SRC_STRING, FEAST_VT_INVALID, FEAST_VT_INVALID},
    {OID_JSONB, 3807, "jsonb", FEAST_SRC_STRING, FEAST_VT_INVALID, FEAST_VT_INVALID},
};

static const struct pgtype *find_type(Oid oid, bool *is_array)
{
    for (size_t i = 0; i < FERRY_ARRAY_LEN(pgtypes); i++) {
        if (pgtypes[i].oid == oid) {
            *is_array = false;
            return &pgtypes[i];
        }
        if (pgtypes[i].array_oid == oid) {
            *is_array = true;
            return &pgtypes[i];
        }
    }
    return NULL;
}

struct pg_store {
    struct offline_store base;   /* must be first: offline.c sees only this */
    PGconn *conn;
    char *where;                 /* "host:port/database", for messages */
};

static struct pg_store *pgs(struct offline_store *st) { return (struct pg_store *)st; }

/* libpq's messages end in a newline; messages here are one line. */
static const char *pg_msg(const PGconn *c, const PGresult *r)
{
    static __thread char buf[512];
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(c);
    snprintf(buf, sizeof buf, "%s", m && *m ? m : "unknown error");
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return buf;
}

/* ---- open / close ---- */

static void pg_close(struct offline_store *st)
{
    struct pg_store *s = pgs(st);
    if (!s)
        return;
    if (s->conn)
        PQfinish(s->conn);
    free(s->where);
    free(s);
}

static int pg_exec_ok(struct pg_store *s, const char *sql, int nparams, const char *const *params,
                      const char *what, struct ferry_err *err)
{
    PGresult *r = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = ferry_errf(err, FERRY_EIO, "postgres %s: cannot %s: %s", s->where, what, pg_msg(s->conn, r));
    PQclear(r);
    return rc;
}

static int pg_open(const struct ferry_config *cfg, struct offline_store **out, struct ferry_err *err)
{
    const struct offline_config *o = &cfg->offline;
    struct pg_store *s = xcalloc(1, sizeof *s);
    char port[16], keep[24];
    snprintf(port, sizeof port, "%d", o->port ? o->port : 5432);
    snprintf(keep, sizeof keep, "%" PRId64, o->keepalives_idle);
    s->where = xasprintf("%s:%s/%s", o->host ? o->host : "", port, o->database ? o->database : "");
    const char *keys[16], *vals[16];
    size_t n = 0;
    const char *portp = port, *keepp = keep;
#define KV(k, v) do { const char *v_ = (v); if (v_ && *v_) { keys[n] = (k); vals[n] = v_; n++; } } while (0)
    KV("host", o->host);
    KV("port", portp);
    KV("dbname", o->database);
    KV("user", o->user);
    KV("password", o->password);
    KV("sslmode", o->sslmode);
    KV("sslkey", o->sslkey_path);
    KV("sslcert", o->sslcert_path);
    KV("sslrootcert", o->sslrootcert_path);
    if (o->keepalives_idle > 0)
        KV("keepalives_idle", keepp);
    KV("application_name", "ferry");
    KV("client_encoding", "UTF8");
#undef KV
    keys[n] = vals[n] = NULL;
    /* expand_dbname = 0: a database name is never read as a connection string. */
    s->conn = PQconnectdbParams(keys, vals, 0);
    int rc = 0;
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        rc = ferry_errf(err, FERRY_EIO, "postgres %s: cannot connect as %s: %s", s->where,
                        o->user ? o->user : "(default user)", s->conn ? pg_msg(s->conn, NULL) : "out of memory");
        goto fail;
    }
    /* Feast's connection sets search_path to db_schema (or the user), then public. Set through a
     * parameter with each schema quoted, so any schema name is safe. */
    struct fbuf sp;
    fbuf_init(&sp, 4096);
    const char *schema = o->db_schema && *o->db_schema ? o->db_schema : o->user;
    if (schema && *schema) {
        sql_quote_ident(&sp, schema);
        if (strcmp(schema, "public") != 0)
            fbuf_adds(&sp, ",public");
        const char *p[1] = {sp.data};
        rc = pg_exec_ok(s, "SELECT pg_catalog.set_config('search_path', $1, false)", 1, p,
                        "set search_path", err);
    }
    fbuf_cleanup(&sp);
    if (rc || (rc = pg_exec_ok(s, "SET TimeZone = 'UTC'", 0, NULL, "set TimeZone to UTC", err)))
        goto fail;
    *out = &s->base;
    return 0;
fail:
    pg_close(&s->base);
    return rc;
}

/* ---- describing the source ---- */

static char *server_type_name(struct pg_store *s, Oid oid)
{
    char o[16];
    snprintf(o, sizeof o, "%u", (unsigned)oid);
    const char *p[1] = {o};
    PGresult *r = PQexecParams(s->conn, "SELECT pg_catalog.format_type($1::oid, NULL)", 1, NULL, p,
                               NULL, NULL, 0);
    char *name = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        name = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return name ? name : xasprintf("oid %u", (unsigned)oid);
}

static const struct sq_dialect pg_dialect = {.quote = '"', .dollar_params = true};

/* Column names and types without running the query: an unnamed prepared statement, described. */
static int describe(struct pg_store *s, const struct feast_view *v, struct sq_desc *d, struct ferry_err *err)
{
    memset(d, 0, sizeof *d);
    d->what = sq_source_what(&v->source);
    if (!feast_source_is_sql(&v->source) || (!v->source.table && !v->source.query)) {
        int rc = ferry_errf(err, FERRY_ESOURCE, "view %s: source %s is not a postgres source (set "
                            "kind: postgres with table or query)", v->name,
                            v->source.name ? v->source.name : feast_source_target(&v->source));
        sq_desc_cleanup(d);
        return rc;
    }
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    int rc = 0;
    PGresult *r = NULL;
    if (sq_build_describe(&sql, &pg_dialect, &v->source) != 0) {
        rc = ferry_errf(err, FERRY_ELIMIT, "view %s: query text too long", v->name);
        goto out;
    }
    r = PQprepare(s->conn, "", sql.data, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot read %s on postgres %s: %s", v->name,
                        d->what, s->where, pg_msg(s->conn, r));
        goto out;
    }
    PQclear(r);
    r = PQdescribePrepared(s->conn, "");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot describe %s on postgres %s: %s", v->name,
                        d->what, s->where, pg_msg(s->conn, r));
        goto out;
    }
    for (int i = 0; i < PQnfields(r); i++) {
        Oid oid = PQftype(r, i);
        bool arr = false;
        const struct pgtype *t = find_type(oid, &arr);
        char *tn = t ? (arr ? xasprintf("%s[]", t->name) : xstrdup(t->name)) : server_type_name(s, oid);
        struct sq_col *c = sq_desc_add(d, PQfname(r, i), tn);
        free(tn);
        c->code = (int)oid;
        if (!t)
            continue;          /* kind 0: unreadable, check() names it */
        c->aux = (int)t->oid;
        if (arr) {
            c->kind = FEAST_SRC_LIST;
            c->elem_kind = t->kind;
            c->infer_vtype = t->infer_list;
        } else {
            c->kind = t->kind;
            c->infer_vtype = t->infer;
            c->is_date = t->oid == OID_DATE;
        }
    }
out:
    PQclear(r);
    fbuf_cleanup(&sql);
    if (rc)
        sq_desc_cleanup(d);
    return rc;
}

static int make_plan(struct pg_store *s, const struct offline_pull *pull, struct sq_plan *p,
                     struct ferry_err *err)
{
    struct sq_desc d;
    int rc = describe(s, pull->view, &d, err);
    return rc ? rc : sq_plan_make(pull, &d, "PostgreSQL", p, err);
}

static int pg_check(struct offline_store *st, const struct offline_pull *pull, struct ferry_err *err)
{
    struct sq_plan p;
    int rc = make_plan(pgs(st), pull, &p, err);
    if (!rc)
        sq_plan_cleanup(&p);
    return rc;
}

static int pg_infer_types(struct offline_store *st, const struct feast_view *v, const char *const *names,
                          size_t n, int *vtypes, struct ferry_err *err)
{
    struct sq_desc d;
    int rc = describe(pgs(st), v, &d, err);
    if (rc)
        return rc;
    sq_infer(&d, &v->source, names, n, vtypes);
    sq_desc_cleanup(&d);
    return 0;
}

/* ---- binary values ---- */

/* Where a value came from, for messages. */
struct where { const char *view, *col; struct ferry_err *err; };

static uint16_t be16(const char *p) { uint16_t v; memcpy(&v, p, 2); return ntohs(v); }
static uint32_t be32(const char *p) { uint32_t v; memcpy(&v, p, 4); return ntohl(v); }
static uint64_t be64(const char *p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }

static int bad_len(const struct where *w, const char *type, int len)
{
    return ferry_errf(w->err, FERRY_EIO, "view %s: column %s: malformed %s value (%d bytes)", w->view,
                      w->col, type, len);
}

/* numeric's binary form: ndigits, weight, sign, dscale, then base-10000 digits. Written out the
 * way numeric_out does, so String features get PostgreSQL's own text. */
static int numeric_text(const struct where *w, const char *p, int len, struct fbuf *out, struct sq_val *v)
{
    if (len < 8)
        return bad_len(w, "numeric", len);
    int nd = (int16_t)be16(p), weight = (int16_t)be16(p + 2);
    uint16_t sign = be16(p + 4), dscale = be16(p + 6);
    if (nd < 0 || len < 8 + 2 * nd)
        return bad_len(w, "numeric", len);
    size_t start = out->len;
    if (sign == 0xC000 || sign == 0xD000 || sign == 0xF000) {
        fbuf_adds(out, sign == 0xC000 ? "NaN" : sign == 0xD000 ? "Infinity" : "-Infinity");
    } else {
        if (sign == 0x4000)
            fbuf_addc(out, '-');
        if (weight < 0)
            fbuf_addc(out, '0');
        for (int i = 0; i <= weight; i++) {
            int dg = i < nd ? (int16_t)be16(p + 8 + 2 * i) : 0;
            fbuf_addf(out, i == 0 ? "%d" : "%04d", dg);
        }
        if (dscale > 0) {
            fbuf_addc(out, '.');
            size_t fstart = out->len;
            for (int i = weight + 1; out->len - fstart < dscale; i++) {
                int dg = i >= 0 && i < nd ? (int16_t)be16(p + 8 + 2 * i) : 0;
                fbuf_addf(out, "%04d", dg);
            }
            out->len = fstart + dscale;
        }
    }
    if (fbuf_reserve(out, 0))
        return ferry_errf(w->err, FERRY_ENOMEM, "view %s: column %s: out of memory", w->view, w->col);
    v->kind = SQ_DECIMAL;
    /* The text's offset, turned into a pointer once the row is complete (the buffer may move). */
    v->i = (int64_t)start;
    v->n = out->len - start;
    v->s = NULL;
    return 0;
}

static int time_ns(const struct where *w, int64_t us, struct sq_val *v)
{
    int64_t ns;
    if (us == INT64_MAX || us == INT64_MIN || __builtin_add_overflow(us, PG_EPOCH_US, &us) ||
        __builtin_mul_overflow(us, 1000, &ns))
        return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s: timestamp is outside the "
                          "nanosecond range (years 1677-2262) or infinite", w->view, w->col);
    v->kind = SQ_TIME;
    v->i = ns;
    return 0;
}

/* One binary value of a scalar type. Strings point into the PGresult; decimal text goes to tmp. */
static int read_scalar(const struct where *w, Oid oid, const char *p, int len, struct fbuf *tmp,
                       struct sq_val *v)
{
    memset(v, 0, sizeof *v);
    switch (oid) {
    case OID_BOOL:
        if (len != 1) return bad_len(w, "boolean", len);
        v->kind = SQ_BOOL; v->b = *p != 0; return 0;
    case OID_INT2:
        if (len != 2) return bad_len(w, "smallint", len);
        v->kind = SQ_INT; v->i = (int16_t)be16(p); return 0;
    case OID_INT4:
        if (len != 4) return bad_len(w, "integer", len);
        v->kind = SQ_INT; v->i = (int32_t)be32(p); return 0;
    case OID_INT8:
        if (len != 8) return bad_len(w, "bigint", len);
        v->kind = SQ_INT; v->i = (int64_t)be64(p); return 0;
    case OID_FLOAT4: {
        if (len != 4) return bad_len(w, "real", len);
        uint32_t u = be32(p); float f; memcpy(&f, &u, 4);
        v->kind = SQ_DOUBLE; v->d = f; return 0;
    }
    case OID_FLOAT8: {
        if (len != 8) return bad_len(w, "double precision", len);
        uint64_t u = be64(p); double d; memcpy(&d, &u, 8);
        v->kind = SQ_DOUBLE; v->d = d; return 0;
    }
    case OID_NUMERIC:
        return numeric_text(w, p, len, tmp, v);
    case OID_BYTEA:
        v->kind = SQ_BYTES; v->s = p; v->n = (size_t)len; return 0;
    case OID_JSONB:
        /* jsonb's binary form is a version byte (1) and the text. */
        if (len < 1 || *p != 1) return bad_len(w, "jsonb", len);
        v->kind = SQ_STR; v->s = p + 1; v->n = (size_t)len - 1; return 0;
    case OID_UUID: {
        if (len != 16) return bad_len(w, "uuid", len);
        size_t start = tmp->len;
        for (int i = 0; i < 16; i++)
            fbuf_addf(tmp, (i == 4 || i == 6 || i == 8 || i == 10) ? "-%02x" : "%02x", (unsigned char)p[i]);
        v->kind = SQ_DECIMAL;   /* text in tmp, fixed up like a decimal */
        v->i = (int64_t)start; v->n = tmp->len - start;
        v->b = true;            /* marks "a string", not a number */
        return 0;
    }
    case OID_DATE: {
        if (len != 4) return bad_len(w, "date", len);
        int32_t days = (int32_t)be32(p);
        if (days == INT32_MAX || days == INT32_MIN)
            return time_ns(w, INT64_MAX, v);
        return time_ns(w, (int64_t)days * 86400 * 1000000, v);
    }
    case OID_TIMESTAMP: case OID_TIMESTAMPTZ:
        if (len != 8) return bad_len(w, "timestamp", len);
        return time_ns(w, (int64_t)be64(p), v);
    default:   /* text, varchar, bpchar, name, "char", json: the bytes are the UTF-8 text */
        v->kind = SQ_STR; v->s = p; v->n = (size_t)len; return 0;
    }
}

/* A one-dimensional array: ndim, has-null flag, element OID, (size, lower bound), elements. */
static int read_array(const struct where *w, Oid elem_oid, const char *p, int len, struct fbuf *tmp,
                      struct sq_val **elems, size_t *cap, struct sq_val *v)
{
    if (len < 12)
        return bad_len(w, "array", len);
    int32_t ndim = (int32_t)be32(p);
    v->kind = SQ_LIST;
    v->nelems = 0;
    if (ndim == 0)
        return 0;
    if (ndim != 1)
        return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s: %d-dimensional arrays are not "
                          "supported (Feast lists have one dimension)", w->view, w->col, (int)ndim);
    if (len < 20)
        return bad_len(w, "array", len);
    int32_t n = (int32_t)be32(p + 12);
    if (n < 0)
        return bad_len(w, "array", len);
    if ((size_t)n > *cap) {
        *cap = (size_t)n;
        *elems = xrealloc(*elems, *cap * sizeof **elems);
    }
    const char *q = p + 20, *end = p + len;
    for (int32_t j = 0; j < n; j++) {
        if (end - q < 4)
            return bad_len(w, "array", len);
        int32_t el = (int32_t)be32(q);
        q += 4;
        struct sq_val *e = &(*elems)[j];
        if (el < 0) {
            memset(e, 0, sizeof *e);
            continue;
        }
        if (end - q < el)
            return bad_len(w, "array", len);
        int rc = read_scalar(w, elem_oid, q, el, tmp, e);
        if (rc)
            return rc;
        q += el;
    }
    v->nelems = (size_t)n;
    return 0;
}

/* ---- pulling ---- */

/* Per-result-column state of the reader. */
struct pcol {
    Oid oid, elem_oid;
    bool is_list;
    struct sq_val *elems; size_t cap;
};

/* Text of a bound: microseconds or days since 1970, as PostgreSQL's input syntax, always UTC. */
static void bound_text(int64_t v, bool days, char out[64])
{
    int64_t d = days ? v : (v >= 0 ? v / 86400000000 : -((-v + 86400000000 - 1) / 86400000000));
    int64_t us = days ? 0 : v - d * 86400000000;
    /* civil_from_days (Hinnant). */
    int64_t z = d + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned dd = doy - (153 * mp + 2) / 5 + 1;
    unsigned mm = mp < 10 ? mp + 3 : mp - 9;
    y += mm <= 2;
    if (days)
        snprintf(out, 64, "%04" PRId64 "-%02u-%02u", y, mm, dd);
    else
        snprintf(out, 64, "%04" PRId64 "-%02u-%02u %02d:%02d:%02d.%06d+00", y, mm, dd,
                 (int)(us / 3600000000), (int)(us / 60000000 % 60), (int)(us / 1000000 % 60),
                 (int)(us % 1000000));
}

/* Rows per FETCH: enough to amortize the round trip, small next to a batch. */
#define FETCH_ROWS 10000

static int pg_pull_latest(struct offline_store *st, struct offline_pull *pull, struct ferry_err *err)
{
    struct pg_store *s = pgs(st);
    const char *view = pull->view->name;
    struct sq_plan p;
    int rc = make_plan(s, pull, &p, err);
    if (rc)
        return rc;
    struct fbuf sql, tmp;
    fbuf_init(&sql, SQL_MAX);
    fbuf_init(&tmp, (size_t)1 << 30);
    struct sq_writer w = {0};
    struct pcol *cols = xcalloc(p.nresult, sizeof *cols);
    struct sq_val *vals = xcalloc(p.nresult, sizeof *vals);
    PGresult *r = NULL;
    bool in_tx = false;

    for (size_t i = 0; i < p.nresult; i++) {
        const struct sq_col *c = sq_result_col(&p, i);
        cols[i].oid = (Oid)c->code;
        cols[i].is_list = c->kind == FEAST_SRC_LIST;
        cols[i].elem_oid = (Oid)c->aux;
    }
    /* The bounds are parameters of the timestamp column's own type, rounded inwards to its
     * resolution, so "ts BETWEEN $1 AND $2" selects exactly [start, end] and can use an index. */
    const struct sq_col *tc = sq_result_col(&p, p.nresult - 1 - (p.has_created ? 1 : 0));
    int64_t lo, hi;
    sq_window(pull->start_ns, pull->end_ns, tc->is_date, &lo, &hi);
    char lo_s[64], hi_s[64];
    bound_text(lo, tc->is_date, lo_s);
    bound_text(hi, tc->is_date, hi_s);
    const char *params[2] = {lo_s, hi_s};
    Oid ptypes[2] = {(Oid)tc->code, (Oid)tc->code};

    fbuf_adds(&sql, "DECLARE ");
    sql_quote_ident(&sql, "ferry_pull");
    fbuf_adds(&sql, " NO SCROLL CURSOR FOR ");
    if (sq_build_latest(&sql, &pg_dialect, &pull->view->source, &p) != 0) {
        rc = ferry_errf(err, FERRY_ELIMIT, "view %s: query text too long", view);
        goto out;
    }
    if ((rc = sq_writer_init(&w, pull, &p, err)))
        goto out;
    /* A cursor lives in a transaction; READ ONLY says what ferry does with the source. */
    if ((rc = pg_exec_ok(s, "BEGIN TRANSACTION READ ONLY", 0, NULL, "begin a transaction", err)))
        goto out;
    in_tx = true;
    r = PQexecParams(s->conn, sql.data, 2, ptypes, params, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: query on %s failed on postgres %s: %s", view,
                        p.d.what, s->where, pg_msg(s->conn, r));
        goto out;
    }
    char fetch[64];
    snprintf(fetch, sizeof fetch, "FETCH FORWARD %d FROM \"ferry_pull\"", FETCH_ROWS);
    for (;;) {
        if (offline_pull_canceled(pull)) {
            rc = ferry_errf(err, FERRY_ECANCELED, "view %s: pull canceled", view);
            goto out;
        }
        PQclear(r);
        r = PQexecParams(s->conn, fetch, 0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = ferry_errf(err, FERRY_ESOURCE, "view %s: reading %s failed on postgres %s: %s", view,
                            p.d.what, s->where, pg_msg(s->conn, r));
            goto out;
        }
        int nrows = PQntuples(r);
        if (nrows == 0)
            break;
        if ((size_t)PQnfields(r) != p.nresult) {
            rc = ferry_errf(err, FERRY_EINTERNAL, "view %s: query returned %d columns, expected %zu",
                            view, PQnfields(r), p.nresult);
            goto out;
        }
        for (int row = 0; row < nrows && !rc; row++) {
            fbuf_reset(&tmp);
            for (size_t i = 0; i < p.nresult && !rc; i++) {
                struct where wh = {view, sq_result_src(&p, i), err};
                memset(&vals[i], 0, sizeof vals[i]);
                if (PQgetisnull(r, row, (int)i))
                    continue;
                const char *d = PQgetvalue(r, row, (int)i);
                int len = PQgetlength(r, row, (int)i);
                rc = cols[i].is_list
                         ? read_array(&wh, cols[i].elem_oid, d, len, &tmp, &cols[i].elems, &cols[i].cap, &vals[i])
                         : read_scalar(&wh, cols[i].oid, d, len, &tmp, &vals[i]);
            }
            if (rc)
                break;
            /* Text made in tmp (numeric, uuid) is addressed once the buffer has stopped moving. */
            for (size_t i = 0; i < p.nresult; i++) {
                struct sq_val *v = &vals[i];
                size_t ne = v->kind == SQ_LIST ? v->nelems : 1;
                for (size_t j = 0; j < ne; j++) {
                    struct sq_val *e = v->kind == SQ_LIST ? &cols[i].elems[j] : v;
                    if (e->kind == SQ_DECIMAL) {
                        e->s = tmp.data + e->i;
                        if (e->b)
                            e->kind = SQ_STR;   /* uuid text */
                    }
                }
                if (v->kind == SQ_LIST)
                    v->elems = cols[i].elems;
            }
            rc = sq_writer_row(&w, vals, err);
        }
        if (rc)
            goto out;
    }
    rc = sq_writer_finish(&w, err);
out:
    PQclear(r);
    if (in_tx) {
        /* COMMIT closes the cursor; after an error the transaction is aborted and this ends it. */
        PGresult *e = PQexec(s->conn, rc ? "ROLLBACK" : "COMMIT");
        PQclear(e);
    }
    for (size_t i = 0; i < p.nresult; i++)
        free(cols[i].elems);
    free(cols);
    free(vals);
    sq_writer_cleanup(&w);
    fbuf_cleanup(&sql);
    fbuf_cleanup(&tmp);
    sq_plan_cleanup(&p);
    return rc;
}

const struct offline_store_type offline_postgres_type = {
    .name = "postgres",
    .open = pg_open,
    .check = pg_check,
    .pull_latest = pg_pull_latest,
    .infer_types = pg_infer_types,
    .close = pg_close,
};
