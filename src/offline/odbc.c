/* The ODBC offline store (unixODBC): one backend for every database with an ODBC driver —
 * Snowflake (its official driver; `type: snowflake.offline` maps Feast's keys to a connection
 * string, see README), Databricks SQL, SQL Server, PostgreSQL (tested here through Debian's
 * psqlODBC) — `type: odbc` takes a DSN or a connection string. The pushed-down query is sqlsrc.c's
 * portable ROW_NUMBER form with the driver's identifier quote and '?' parameters bound as
 * timestamps (or dates), so no value becomes SQL text. Rows are read with SQLFetch and SQLGetData
 * one at a time, long values in pieces, so ferry's memory is bounded by the batch size (whether
 * the driver itself streams is the driver's setting: psqlODBC needs UseDeclareFetch=1). Text is
 * read as SQLWCHAR (UTF-16) and converted to UTF-8, so the result does not depend on the driver's
 * or the locale's narrow encoding. ODBC handles never leave this file. */
#include <errno.h>
#include <inttypes.h>
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"
#include "offline/offline_impl.h"
#include "offline/sqlsrc.h"

#define SQL_MAX (1u << 20)
#define VALUE_MAX ((size_t)1 << 30)     /* one row's variable-length values */

struct odbc_store {
    struct offline_store base;   /* must be first: offline.c sees only this */
    SQLHENV env;
    SQLHDBC dbc;
    bool connected;
    struct sq_dialect dialect;
    char dbms[64];               /* SQL_DBMS_NAME, for messages and session setup */
};

static struct odbc_store *ods(struct offline_store *st) { return (struct odbc_store *)st; }

/* The first diagnostic records of a handle as "STATE: message; ...". */
static const char *diag(SQLSMALLINT type, SQLHANDLE h)
{
    static __thread char out[1024];
    size_t o = 0;
    out[0] = 0;
    for (SQLSMALLINT i = 1; i <= 3 && h; i++) {
        SQLCHAR state[6], msg[512];
        SQLINTEGER native;
        SQLSMALLINT len;
        if (!SQL_SUCCEEDED(SQLGetDiagRec(type, h, i, state, &native, msg, sizeof msg, &len)))
            break;
        int n = snprintf(out + o, sizeof out - o, "%s%s: %s", i > 1 ? "; " : "", (char *)state, (char *)msg);
        if (n < 0 || (size_t)n >= sizeof out - o)
            break;
        o += (size_t)n;
    }
    while (o && (out[o - 1] == '\n' || out[o - 1] == ' '))
        out[--o] = 0;
    return o ? out : "no diagnostic from the driver";
}

/* ---- connection strings ---- */

/* key=value; with the value in braces when it has characters that end or open one. */
static void conn_add(struct fbuf *b, const char *key, const char *val)
{
    if (!val || !*val)
        return;
    fbuf_addf(b, "%s=", key);
    if (strpbrk(val, ";{}=") || val[0] == ' ' || val[strlen(val) - 1] == ' ') {
        fbuf_addc(b, '{');
        for (const char *c = val; *c; c++) {
            if (*c == '}')
                fbuf_addc(b, '}');
            fbuf_addc(b, *c);
        }
        fbuf_addc(b, '}');
    } else {
        fbuf_adds(b, val);
    }
    fbuf_addc(b, ';');
}

/* Feast's Snowflake keys as the Snowflake ODBC driver's connection parameters (README). */
static void snowflake_connstr(const struct offline_config *o, struct fbuf *b)
{
    conn_add(b, "Driver", o->driver ? o->driver : "SnowflakeDSIIDriver");
    if (o->account) {
        char *server = strstr(o->account, ".snowflakecomputing.com")
                           ? xstrdup(o->account) : xasprintf("%s.snowflakecomputing.com", o->account);
        conn_add(b, "Server", server);
        free(server);
    }
    conn_add(b, "UID", o->user);
    conn_add(b, "PWD", o->password);
    conn_add(b, "Database", o->database);
    conn_add(b, "Schema", o->schema);
    conn_add(b, "Warehouse", o->warehouse);
    conn_add(b, "Role", o->role);
    conn_add(b, "Authenticator", o->authenticator);
    conn_add(b, "PRIV_KEY_FILE", o->private_key);
    conn_add(b, "PRIV_KEY_FILE_PWD", o->private_key_passphrase);
}

/* ---- open / close ---- */

static void odbc_close(struct offline_store *st)
{
    struct odbc_store *s = ods(st);
    if (!s)
        return;
    if (s->connected)
        SQLDisconnect(s->dbc);
    if (s->dbc)
        SQLFreeHandle(SQL_HANDLE_DBC, s->dbc);
    if (s->env)
        SQLFreeHandle(SQL_HANDLE_ENV, s->env);
    free(s);
}

static int exec_simple(struct odbc_store *s, const char *sql, struct ferry_err *err)
{
    SQLHSTMT h = NULL;
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, s->dbc, &h)))
        return ferry_errf(err, FERRY_EIO, "odbc: cannot allocate a statement: %s", diag(SQL_HANDLE_DBC, s->dbc));
    SQLRETURN r = SQLExecDirect(h, (SQLCHAR *)sql, SQL_NTS);
    int rc = 0;
    if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA)
        rc = ferry_errf(err, FERRY_EIO, "odbc (%s): %s failed: %s", s->dbms, sql, diag(SQL_HANDLE_STMT, h));
    SQLFreeHandle(SQL_HANDLE_STMT, h);
    return rc;
}

static int odbc_open(const struct ferry_config *cfg, struct offline_store **out, struct ferry_err *err)
{
    const struct offline_config *o = &cfg->offline;
    struct odbc_store *s = xcalloc(1, sizeof *s);
    struct fbuf cs;
    fbuf_init(&cs, 1 << 16);
    int rc = 0;
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &s->env)) ||
        !SQL_SUCCEEDED(SQLSetEnvAttr(s->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0)) ||
        !SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, s->env, &s->dbc))) {
        rc = ferry_errf(err, FERRY_EIO, "odbc: cannot set up the driver manager (unixODBC)");
        goto fail;
    }
    const char *what;
    if (str_eq(o->type, "snowflake.offline")) {
        what = "snowflake.offline";
        if (o->connection_string)
            fbuf_adds(&cs, o->connection_string);
        else
            snowflake_connstr(o, &cs);
    } else {
        what = o->dsn ? "odbc dsn" : "odbc connection string";
        if (o->dsn)
            conn_add(&cs, "DSN", o->dsn);
        else
            fbuf_adds(&cs, o->connection_string ? o->connection_string : "");
        if (cs.len && cs.data[cs.len - 1] != ';')
            fbuf_addc(&cs, ';');
        conn_add(&cs, "UID", o->user);
        conn_add(&cs, "PWD", o->password);
    }
    if (fbuf_reserve(&cs, 0) || !cs.data) {
        rc = ferry_errf(err, FERRY_ECONFIG, "%s: empty connection settings", what);
        goto fail;
    }
    SQLRETURN r = SQLDriverConnect(s->dbc, NULL, (SQLCHAR *)cs.data, SQL_NTS, NULL, 0, NULL,
                                   SQL_DRIVER_NOPROMPT);
    if (!SQL_SUCCEEDED(r)) {
        /* The connection string may hold a password: name the driver or DSN only. */
        const char *drv = strstr(cs.data, "Driver=");
        rc = ferry_errf(err, FERRY_EIO, "odbc: cannot connect (%s%s%.*s): %s", what, drv ? ", " : "",
                        drv ? (int)strcspn(drv, ";") : 0, drv ? drv : "", diag(SQL_HANDLE_DBC, s->dbc));
        goto fail;
    }
    s->connected = true;
    SQLCHAR q[8] = "";
    SQLSMALLINT len = 0;
    SQLGetInfo(s->dbc, SQL_DBMS_NAME, (SQLCHAR *)s->dbms, sizeof s->dbms, &len);
    if (!SQL_SUCCEEDED(SQLGetInfo(s->dbc, SQL_IDENTIFIER_QUOTE_CHAR, q, sizeof q, &len)) || !q[0] || q[0] == ' ') {
        rc = ferry_errf(err, FERRY_ECONFIG, "odbc (%s): the driver reports no identifier quote character; "
                        "ferry quotes every identifier", s->dbms);
        goto fail;
    }
    s->dialect.quote = (char)q[0];
    s->dialect.dollar_params = false;
    /* Naive timestamps are UTC in Feast (§2.7): put the session in UTC where the database has a
     * session time zone, so aware columns come back as UTC wall time. */
    if (strstr(s->dbms, "PostgreSQL") || strstr(s->dbms, "Spark") || strstr(s->dbms, "Databricks"))
        rc = exec_simple(s, "SET TIME ZONE 'UTC'", err);
    else if (strstr(s->dbms, "Snowflake"))
        rc = exec_simple(s, "ALTER SESSION SET TIMEZONE = 'UTC'", err);
    if (rc)
        goto fail;
    fbuf_cleanup(&cs);
    *out = &s->base;
    return 0;
fail:
    fbuf_cleanup(&cs);
    odbc_close(&s->base);
    return rc;
}

/* ---- describing ---- */

/* SQL type -> kind and Feast's inferred type (Feast's Snowflake map: NUMBER(p,0) is Int64). */
static void classify(struct sq_col *c, SQLSMALLINT t, SQLSMALLINT scale)
{
    c->code = t;
    c->aux = scale;
    switch (t) {
    case SQL_BIT: c->kind = FEAST_SRC_BOOL; c->infer_vtype = FEAST_VT_BOOL; break;
    case SQL_TINYINT: case SQL_SMALLINT: case SQL_INTEGER:
        c->kind = FEAST_SRC_INT; c->infer_vtype = FEAST_VT_INT32; break;
    case SQL_BIGINT: c->kind = FEAST_SRC_INT; c->infer_vtype = FEAST_VT_INT64; break;
    case SQL_REAL: c->kind = FEAST_SRC_FLOAT; c->infer_vtype = FEAST_VT_FLOAT; break;
    case SQL_FLOAT: case SQL_DOUBLE: c->kind = FEAST_SRC_FLOAT; c->infer_vtype = FEAST_VT_DOUBLE; break;
    case SQL_DECIMAL: case SQL_NUMERIC:
        if (scale == 0) {
            c->kind = FEAST_SRC_INT; c->infer_vtype = FEAST_VT_INT64;
        } else {
            c->kind = FEAST_SRC_DECIMAL; c->infer_vtype = FEAST_VT_DOUBLE;
        }
        break;
    case SQL_CHAR: case SQL_VARCHAR: case SQL_LONGVARCHAR: case SQL_WCHAR: case SQL_WVARCHAR:
    case SQL_WLONGVARCHAR: case SQL_GUID:
        c->kind = FEAST_SRC_STRING; c->infer_vtype = FEAST_VT_STRING; break;
    case SQL_BINARY: case SQL_VARBINARY: case SQL_LONGVARBINARY:
        c->kind = FEAST_SRC_BYTES; c->infer_vtype = FEAST_VT_BYTES; break;
    case SQL_TYPE_DATE: case SQL_DATE:
        c->is_date = true;
        /* fall through */
    case SQL_TYPE_TIMESTAMP: case SQL_TIMESTAMP:
        c->kind = FEAST_SRC_TIMESTAMP; c->infer_vtype = FEAST_VT_UNIX_TIMESTAMP; break;
    default: c->kind = 0; c->infer_vtype = FEAST_VT_INVALID;
    }
}

static int describe(struct odbc_store *s, const struct feast_view *v, struct sq_desc *d, struct ferry_err *err)
{
    memset(d, 0, sizeof *d);
    d->what = sq_source_what(&v->source);
    if (!feast_source_is_sql(&v->source)) {
        int rc = ferry_errf(err, FERRY_ESOURCE, "view %s: source %s is not a SQL source (set kind: odbc, "
                            "snowflake or postgres with table or query)", v->name,
                            v->source.name ? v->source.name : feast_source_target(&v->source));
        sq_desc_cleanup(d);
        return rc;
    }
    struct fbuf sql;
    fbuf_init(&sql, SQL_MAX);
    SQLHSTMT h = NULL;
    int rc = 0;
    if (sq_build_describe(&sql, &s->dialect, &v->source) != 0) {
        rc = ferry_errf(err, FERRY_ELIMIT, "view %s: query text too long", v->name);
        goto out;
    }
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, s->dbc, &h))) {
        rc = ferry_errf(err, FERRY_EIO, "odbc: cannot allocate a statement: %s", diag(SQL_HANDLE_DBC, s->dbc));
        h = NULL;
        goto out;
    }
    /* WHERE 1 = 0 returns no rows; executing it is the one description every driver gives. */
    SQLRETURN r = SQLExecDirect(h, (SQLCHAR *)sql.data, SQL_NTS);
    if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot read %s on odbc (%s): %s", v->name, d->what,
                        s->dbms, diag(SQL_HANDLE_STMT, h));
        goto out;
    }
    SQLSMALLINT ncols = 0;
    SQLNumResultCols(h, &ncols);
    for (SQLSMALLINT i = 1; i <= ncols; i++) {
        SQLCHAR name[512], tname[128] = "";
        SQLSMALLINT nlen, type, digits, nullable, tlen;
        SQLULEN size;
        if (!SQL_SUCCEEDED(SQLDescribeCol(h, (SQLUSMALLINT)i, name, sizeof name, &nlen, &type, &size,
                                          &digits, &nullable))) {
            rc = ferry_errf(err, FERRY_ESOURCE, "view %s: cannot describe column %d of %s: %s", v->name,
                            (int)i, d->what, diag(SQL_HANDLE_STMT, h));
            goto out;
        }
        SQLColAttribute(h, (SQLUSMALLINT)i, SQL_DESC_TYPE_NAME, tname, sizeof tname, &tlen, NULL);
        char *tn = tname[0] ? xstrdup((char *)tname) : xasprintf("SQL type %d", (int)type);
        if (type == SQL_DECIMAL || type == SQL_NUMERIC) {
            char *full = xasprintf("%s(%lu,%d)", tn, (unsigned long)size, (int)digits);
            free(tn);
            tn = full;
        }
        classify(sq_desc_add(d, (char *)name, tn), type, digits);
        free(tn);
    }
out:
    if (h)
        SQLFreeHandle(SQL_HANDLE_STMT, h);
    fbuf_cleanup(&sql);
    if (rc)
        sq_desc_cleanup(d);
    return rc;
}

static int make_plan(struct odbc_store *s, const struct offline_pull *pull, struct sq_plan *p,
                     struct ferry_err *err)
{
    struct sq_desc d;
    int rc = describe(s, pull->view, &d, err);
    return rc ? rc : sq_plan_make(pull, &d, "ODBC", p, err);
}

static int odbc_check(struct offline_store *st, const struct offline_pull *pull, struct ferry_err *err)
{
    struct sq_plan p;
    int rc = make_plan(ods(st), pull, &p, err);
    if (!rc)
        sq_plan_cleanup(&p);
    return rc;
}

static int odbc_infer_types(struct offline_store *st, const struct feast_view *v, const char *const *names,
                            size_t n, int *vtypes, struct ferry_err *err)
{
    struct sq_desc d;
    int rc = describe(ods(st), v, &d, err);
    if (rc)
        return rc;
    sq_infer(&d, &v->source, names, n, vtypes);
    sq_desc_cleanup(&d);
    return 0;
}

/* ---- reading ---- */

/* UTF-16 (SQLWCHAR) to UTF-8; an unpaired surrogate becomes U+FFFD. */
static int utf16_to_utf8(const SQLWCHAR *w, size_t n, struct fbuf *out)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        uint32_t c = w[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && w[i + 1] >= 0xDC00 && w[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (w[i + 1] - 0xDC00);
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        char b[4];
        size_t k;
        if (c < 0x80) { b[0] = (char)c; k = 1; }
        else if (c < 0x800) { b[0] = (char)(0xC0 | c >> 6); b[1] = (char)(0x80 | (c & 0x3F)); k = 2; }
        else if (c < 0x10000) { b[0] = (char)(0xE0 | c >> 12); b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
                                b[2] = (char)(0x80 | (c & 0x3F)); k = 3; }
        else { b[0] = (char)(0xF0 | c >> 18); b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
               b[2] = (char)(0x80 | ((c >> 6) & 0x3F)); b[3] = (char)(0x80 | (c & 0x3F)); k = 4; }
        rc = fbuf_add(out, b, k);
    }
    return rc;
}

struct where { const char *view, *col; struct ferry_err *err; };

/* A variable-length value in pieces (SQL_C_WCHAR, SQL_C_CHAR or SQL_C_BINARY) appended to out.
 * Returns 1 for SQL NULL. */
static int get_long(SQLHSTMT h, SQLUSMALLINT col, SQLSMALLINT ctype, struct fbuf *out, struct fbuf *wide,
                    const struct where *w)
{
    char chunk[8192];
    size_t term = ctype == SQL_C_BINARY ? 0 : ctype == SQL_C_WCHAR ? sizeof(SQLWCHAR) : 1;
    struct fbuf *dst = ctype == SQL_C_WCHAR ? wide : out;
    if (ctype == SQL_C_WCHAR)
        fbuf_reset(wide);
    for (;;) {
        SQLLEN ind = 0;
        SQLRETURN r = SQLGetData(h, col, ctype, chunk, sizeof chunk, &ind);
        if (r == SQL_NO_DATA)
            break;
        if (!SQL_SUCCEEDED(r))
            return ferry_errf(w->err, FERRY_EIO, "view %s: column %s: reading a value failed: %s", w->view,
                              w->col, diag(SQL_HANDLE_STMT, h));
        if (ind == SQL_NULL_DATA)
            return 1;
        size_t got = (r == SQL_SUCCESS_WITH_INFO && (ind == SQL_NO_TOTAL || (size_t)ind > sizeof chunk - term))
                         ? sizeof chunk - term - (ctype == SQL_C_WCHAR ? (sizeof chunk - term) % sizeof(SQLWCHAR) : 0)
                         : (size_t)ind;
        if (fbuf_add(dst, chunk, got))
            return ferry_errf(w->err, FERRY_ELIMIT, "view %s: column %s: value larger than 1 GiB", w->view, w->col);
        if (r == SQL_SUCCESS)
            break;
    }
    if (ctype == SQL_C_WCHAR && utf16_to_utf8((const SQLWCHAR *)wide->data, wide->len / sizeof(SQLWCHAR), out))
        return ferry_errf(w->err, FERRY_ELIMIT, "view %s: column %s: value larger than 1 GiB", w->view, w->col);
    return 0;
}

static int64_t ts_ns(const SQL_TIMESTAMP_STRUCT *t)
{
    int64_t days = sq_days_from_civil(t->year, t->month, t->day);
    return ((days * 86400 + t->hour * 3600 + t->minute * 60 + t->second) * FERRY_NS_PER_SEC) + t->fraction;
}

static int read_col(SQLHSTMT h, SQLUSMALLINT col, const struct sq_col *c, struct fbuf *buf, struct fbuf *wide,
                    size_t *off, const struct where *w, struct sq_val *v)
{
    SQLLEN ind = 0;
    SQLRETURN r = SQL_SUCCESS;
    memset(v, 0, sizeof *v);
    switch (c->kind) {
    case FEAST_SRC_BOOL: {
        unsigned char b = 0;
        r = SQLGetData(h, col, SQL_C_BIT, &b, sizeof b, &ind);
        v->kind = SQ_BOOL; v->b = b != 0;
        break;
    }
    case FEAST_SRC_FLOAT:
        r = SQLGetData(h, col, SQL_C_DOUBLE, &v->d, sizeof v->d, &ind);
        v->kind = SQ_DOUBLE;
        break;
    case FEAST_SRC_TIMESTAMP:
        if (c->is_date) {
            SQL_DATE_STRUCT d;
            r = SQLGetData(h, col, SQL_C_TYPE_DATE, &d, sizeof d, &ind);
            SQL_TIMESTAMP_STRUCT t = {.year = d.year, .month = d.month, .day = d.day};
            v->i = ts_ns(&t);
        } else {
            SQL_TIMESTAMP_STRUCT t;
            r = SQLGetData(h, col, SQL_C_TYPE_TIMESTAMP, &t, sizeof t, &ind);
            if (SQL_SUCCEEDED(r) && ind != SQL_NULL_DATA && (t.year < 1678 || t.year > 2261))
                return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s: timestamp year %d is outside "
                                  "the nanosecond range (years 1678-2261)", w->view, w->col, (int)t.year);
            v->i = ts_ns(&t);
        }
        v->kind = SQ_TIME;
        break;
    case FEAST_SRC_INT:
        if (c->code != SQL_DECIMAL && c->code != SQL_NUMERIC) {
            SQLBIGINT i = 0;
            r = SQLGetData(h, col, SQL_C_SBIGINT, &i, sizeof i, &ind);
            v->kind = SQ_INT; v->i = i;
            break;
        }
        /* NUMBER(p,0): as text, so a value beyond int64 is an error rather than a wrapped number. */
        /* fall through */
    case FEAST_SRC_DECIMAL: case FEAST_SRC_STRING: case FEAST_SRC_BYTES: {
        *off = buf->len;
        SQLSMALLINT ct = c->kind == FEAST_SRC_BYTES ? SQL_C_BINARY : c->kind == FEAST_SRC_STRING ? SQL_C_WCHAR
                                                                                                  : SQL_C_CHAR;
        int g = get_long(h, col, ct, buf, wide, w);
        if (g < 0)
            return g;
        if (g == 1)
            return 0;     /* SQ_NULL */
        v->n = buf->len - *off;
        v->kind = c->kind == FEAST_SRC_BYTES ? SQ_BYTES : c->kind == FEAST_SRC_STRING ? SQ_STR : SQ_DECIMAL;
        if (c->kind == FEAST_SRC_INT) {
            char tmp[64];
            if (v->n >= sizeof tmp)
                return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s: value does not fit in a "
                                  "64-bit integer", w->view, w->col);
            memcpy(tmp, buf->data + *off, v->n);
            tmp[v->n] = 0;
            char *end;
            errno = 0;
            long long ll = strtoll(tmp, &end, 10);
            /* "12.000" style text from a scale-0 decimal is an integer too. */
            bool frac_zero = *end == '.' && strspn(end + 1, "0") == strlen(end + 1);
            if (errno || end == tmp || (*end && !frac_zero))
                return ferry_errf(w->err, FERRY_ESOURCE, "view %s: column %s: value %s does not fit in a "
                                  "64-bit integer", w->view, w->col, tmp);
            buf->len = *off;
            v->kind = SQ_INT; v->i = ll; v->n = 0;
        }
        return 0;
    }
    default:
        return ferry_errf(w->err, FERRY_EINTERNAL, "view %s: column %s: unreadable type", w->view, w->col);
    }
    if (!SQL_SUCCEEDED(r))
        return ferry_errf(w->err, FERRY_EIO, "view %s: column %s: reading a value failed: %s", w->view,
                          w->col, diag(SQL_HANDLE_STMT, h));
    if (ind == SQL_NULL_DATA)
        memset(v, 0, sizeof *v);
    return 0;
}

static int odbc_pull_latest(struct offline_store *st, struct offline_pull *pull, struct ferry_err *err)
{
    struct odbc_store *s = ods(st);
    const char *view = pull->view->name;
    struct sq_plan p;
    int rc = make_plan(s, pull, &p, err);
    if (rc)
        return rc;
    struct fbuf sql, buf, wide;
    fbuf_init(&sql, SQL_MAX);
    fbuf_init(&buf, VALUE_MAX);
    fbuf_init(&wide, VALUE_MAX);
    struct sq_writer w = {0};
    struct sq_val *vals = xcalloc(p.nresult, sizeof *vals);
    size_t *offs = xcalloc(p.nresult, sizeof *offs);
    SQLHSTMT h = NULL;

    if (sq_build_latest(&sql, &s->dialect, &pull->view->source, &p) != 0) {
        rc = ferry_errf(err, FERRY_ELIMIT, "view %s: query text too long", view);
        goto out;
    }
    if ((rc = sq_writer_init(&w, pull, &p, err)))
        goto out;
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, s->dbc, &h))) {
        h = NULL;
        rc = ferry_errf(err, FERRY_EIO, "odbc: cannot allocate a statement: %s", diag(SQL_HANDLE_DBC, s->dbc));
        goto out;
    }
    /* The bounds as typed parameters of the timestamp column's kind, rounded inwards. */
    const struct sq_col *tc = sq_result_col(&p, p.nresult - 1 - (p.has_created ? 1 : 0));
    int64_t lo, hi;
    sq_window(pull->start_ns, pull->end_ns, tc->is_date, &lo, &hi);
    SQL_TIMESTAMP_STRUCT tsb[2];
    SQL_DATE_STRUCT db[2];
    int64_t bounds[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
        int64_t days = tc->is_date ? bounds[i] : (bounds[i] >= 0 ? bounds[i] / 86400000000
                                                                 : -((-bounds[i] + 86399999999) / 86400000000));
        int64_t us = tc->is_date ? 0 : bounds[i] - days * 86400000000;
        int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        unsigned dd = doy - (153 * mp + 2) / 5 + 1, mm = mp < 10 ? mp + 3 : mp - 9;
        int64_t y = (int64_t)yoe + era * 400 + (mm <= 2);
        db[i] = (SQL_DATE_STRUCT){.year = (SQLSMALLINT)y, .month = (SQLUSMALLINT)mm, .day = (SQLUSMALLINT)dd};
        tsb[i] = (SQL_TIMESTAMP_STRUCT){.year = (SQLSMALLINT)y, .month = (SQLUSMALLINT)mm, .day = (SQLUSMALLINT)dd,
                                        .hour = (SQLUSMALLINT)(us / 3600000000),
                                        .minute = (SQLUSMALLINT)(us / 60000000 % 60),
                                        .second = (SQLUSMALLINT)(us / 1000000 % 60),
                                        .fraction = (SQLUINTEGER)(us % 1000000 * 1000)};
        SQLRETURN r = tc->is_date
            ? SQLBindParameter(h, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT, SQL_C_TYPE_DATE, SQL_TYPE_DATE, 10, 0,
                               &db[i], sizeof db[i], NULL)
            : SQLBindParameter(h, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT, SQL_C_TYPE_TIMESTAMP,
                               SQL_TYPE_TIMESTAMP, 26, 6, &tsb[i], sizeof tsb[i], NULL);
        if (!SQL_SUCCEEDED(r)) {
            rc = ferry_errf(err, FERRY_EIO, "view %s: cannot bind the window bounds: %s", view,
                            diag(SQL_HANDLE_STMT, h));
            goto out;
        }
    }
    SQLRETURN r = SQLExecDirect(h, (SQLCHAR *)sql.data, SQL_NTS);
    if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA) {
        rc = ferry_errf(err, FERRY_ESOURCE, "view %s: query on %s failed on odbc (%s): %s", view, p.d.what,
                        s->dbms, diag(SQL_HANDLE_STMT, h));
        goto out;
    }
    while (r != SQL_NO_DATA) {
        if (offline_pull_canceled(pull)) {
            rc = ferry_errf(err, FERRY_ECANCELED, "view %s: pull canceled", view);
            goto out;
        }
        r = SQLFetch(h);
        if (r == SQL_NO_DATA)
            break;
        if (!SQL_SUCCEEDED(r)) {
            rc = ferry_errf(err, FERRY_ESOURCE, "view %s: reading %s failed on odbc (%s): %s", view, p.d.what,
                            s->dbms, diag(SQL_HANDLE_STMT, h));
            goto out;
        }
        fbuf_reset(&buf);
        for (size_t i = 0; i < p.nresult && !rc; i++) {
            struct where wh = {view, sq_result_src(&p, i), err};
            rc = read_col(h, (SQLUSMALLINT)(i + 1), sq_result_col(&p, i), &buf, &wide, &offs[i], &wh, &vals[i]);
        }
        if (rc)
            goto out;
        /* Text and bytes point into buf once it has stopped moving. */
        for (size_t i = 0; i < p.nresult; i++)
            if (vals[i].kind == SQ_STR || vals[i].kind == SQ_BYTES || vals[i].kind == SQ_DECIMAL)
                vals[i].s = buf.data ? buf.data + offs[i] : "";
        if ((rc = sq_writer_row(&w, vals, err)))
            goto out;
    }
    rc = sq_writer_finish(&w, err);
out:
    if (h) {
        SQLCloseCursor(h);
        SQLFreeHandle(SQL_HANDLE_STMT, h);
    }
    free(vals);
    free(offs);
    sq_writer_cleanup(&w);
    fbuf_cleanup(&sql);
    fbuf_cleanup(&buf);
    fbuf_cleanup(&wide);
    sq_plan_cleanup(&p);
    return rc;
}

const struct offline_store_type offline_odbc_type = {
    .name = "odbc",
    .open = odbc_open,
    .check = odbc_check,
    .pull_latest = odbc_pull_latest,
    .infer_types = odbc_infer_types,
    .close = odbc_close,
};
