/* Shared helpers of the offline store tests (offline_testlib.h). */
#include "offline_testlib.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/time.h"
#include "core/util.h"
#include "test.h"

int64_t ot_utc(int y, int mo, int d, int h, int mi, int sec, int64_t ns)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
                    .tm_sec = sec};
    return (int64_t)timegm(&tm) * FERRY_NS_PER_SEC + ns;
}

static void add_feature(struct feast_feature **a, size_t *n, const char *name, int vt)
{
    *a = xrealloc(*a, (*n + 1) * sizeof **a);
    (*a)[*n] = (struct feast_feature){.name = xstrdup(name), .vtype = vt};
    (*n)++;
}

void ot_view_init(struct feast_view *v, const char *name, int kind, const char *target, const char *ts,
                  const char *created)
{
    memset(v, 0, sizeof *v);
    v->name = xstrdup(name);
    v->kind = FEAST_VIEW_BATCH;
    v->online = true;
    v->source.name = xstrdup(name);
    v->source.kind = kind;
    if (kind == FEAST_SOURCE_FILE) {
        v->source.path = xstrdup(target);
        v->source.file_format = str_ends_with(target, ".csv") ? FEAST_FORMAT_CSV : FEAST_FORMAT_PARQUET;
    } else {
        v->source.table = xstrdup(target);
    }
    v->source.timestamp_field = xstrdup(ts);
    v->source.created_column = xstrdup(created);
    v->created_ns = v->updated_ns = FERRY_TIME_NONE;
}

void ot_view_key(struct feast_view *v, const char *name, int vt)
{
    v->entities = xrealloc(v->entities, (v->nentities + 1) * sizeof *v->entities);
    v->entities[v->nentities++] = xstrdup(name);
    add_feature(&v->entity_columns, &v->nentity_columns, name, vt);
}

void ot_view_feat(struct feast_view *v, const char *name, int vt) { add_feature(&v->features, &v->nfeatures, name, vt); }

void ot_view_map(struct feast_view *v, const char *src, const char *dst)
{
    struct feast_source *s = &v->source;
    s->field_mapping = xrealloc(s->field_mapping, (s->nfield_mapping + 1) * sizeof *s->field_mapping);
    s->field_mapping[s->nfield_mapping++] = (struct feast_kv){xstrdup(src), xstrdup(dst)};
}

static char *hex(const unsigned char *p, size_t n)
{
    char *s = xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + 2 * i, "%02x", p[i]);
    s[2 * n] = 0;
    return s;
}

int ot_collect(void *ctx, struct feast_batch **bp, struct ferry_err *err)
{
    struct ot_got *g = ctx;
    struct feast_batch *b = *bp;
    g->emits++;
    if (b->nrows > g->max_batch)
        g->max_batch = b->nrows;
    for (size_t r = 0; r < b->nrows; r++) {
        if (g->n == g->cap) {
            g->cap = g->cap ? 2 * g->cap : 16;
            g->rows = xrealloc(g->rows, g->cap * sizeof *g->rows);
        }
        struct ot_row *o = &g->rows[g->n++];
        o->key = hex(feast_batch_key(b, r), b->rows[r].key_len);
        o->ev = b->rows[r].event_ns;
        o->cr = b->rows[r].created_ns;
        struct fbuf j;
        fbuf_init(&j, 1 << 20);
        for (size_t f = 0; f < b->schema->nfeatures; f++) {
            const struct feast_batch_cell *c = feast_batch_cell(b, r, f);
            if (f)
                fbuf_addc(&j, '|');
            if (feast_value_to_json(b->bytes.data + c->val_off, c->val_len, &j, err) != 0)
                test_fail(__FILE__, __LINE__, "value_to_json: %s", err->msg);
        }
        o->vals = fbuf_take(&j, NULL);
        if (!o->vals)
            o->vals = xstrdup("");
    }
    struct feast_batch *nb = xmalloc(sizeof *nb);
    if (feast_batch_init(nb, b->schema, b->cap_rows) != 0)
        test_fail(__FILE__, __LINE__, "feast_batch_init");
    feast_batch_cleanup(b);
    free(b);
    *bp = nb;
    if (g->cancel_on_emit)
        *g->cancel_on_emit = 1;
    if (g->fail_emit)
        return ferry_errf(err, g->fail_emit, "test emit refused");
    return 0;
}

void ot_got_cleanup(struct ot_got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->rows[i].key);
        free(g->rows[i].vals);
    }
    free(g->rows);
}

void ot_run_init(struct ot_run *r, const struct ferry_config *cfg, const struct feast_view *v,
                 int64_t start, int64_t end, size_t batch)
{
    memset(r, 0, sizeof *r);
    if (offline_open(cfg, &r->st, &r->err) != 0)
        test_fail(__FILE__, __LINE__, "offline_open: %s", r->err.msg);
    if (feast_schema_init(&r->schema, v, 3, &r->err) != 0)
        test_fail(__FILE__, __LINE__, "schema: %s", r->err.msg);
    r->pull = (struct offline_pull){.view = v, .schema = &r->schema, .start_ns = start, .end_ns = end,
                                    .batch_rows = batch, .emit = ot_collect, .ctx = &r->got,
                                    .cancel = &r->cancel};
}

int ot_run_pull(struct ot_run *r) { return offline_pull_latest(r->st, &r->pull, &r->err); }

void ot_run_cleanup(struct ot_run *r)
{
    offline_close(r->st);
    feast_schema_cleanup(&r->schema);
    ot_got_cleanup(&r->got);
}

static char *keyn(size_t n, const char *const *names, const struct feast_scalar *v)
{
    struct fbuf b;
    fbuf_init(&b, 4096);
    if (feast_key_serialize(&b, 3, n, names, v, NULL) != 0)
        test_fail(__FILE__, __LINE__, "key serialize");
    char *h = hex((const unsigned char *)b.data, b.len);
    fbuf_cleanup(&b);
    return h;
}

char *ot_key1(const char *name, int vt, int64_t i, const char *s)
{
    struct feast_scalar v = {.vtype = vt, .i = i, .s = s, .n = s ? strlen(s) : 0};
    const char *names[] = {name};
    return keyn(1, names, &v);
}

char *ot_key2(const char *n1, int vt1, int64_t i1, const char *s1, const char *n2, int vt2, int64_t i2,
              const char *s2)
{
    struct feast_scalar v[2] = {{.vtype = vt1, .i = i1, .s = s1, .n = s1 ? strlen(s1) : 0},
                                {.vtype = vt2, .i = i2, .s = s2, .n = s2 ? strlen(s2) : 0}};
    const char *names[] = {n1, n2};
    return keyn(2, names, v);
}

const struct ot_row *ot_find(const struct ot_got *g, const char *key)
{
    const struct ot_row *found = NULL;
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->rows[i].key, key) == 0) {
            if (found)
                test_fail(__FILE__, __LINE__, "key %s emitted twice", key);
            found = &g->rows[i];
        }
    return found;
}

const struct ot_row *ot_find_int(const struct ot_got *g, const char *name, int vt, int64_t v)
{
    char *k = ot_key1(name, vt, v, NULL);
    const struct ot_row *r = ot_find(g, k);
    free(k);
    return r;
}

/* ---- PostgreSQL ---- */

static const char *pg_env(void)
{
    const char *e = getenv("FERRY_TEST_PG");
    if (!e || !*e)
        test_fail(__FILE__, __LINE__, "FERRY_TEST_PG is not set: this test needs PostgreSQL; run it as "
                  "scripts/test_services.sh make test-one T=offline");
    return e;
}

PGconn *ot_pg_connect(void)
{
    PGconn *c = PQconnectdb(pg_env());
    if (PQstatus(c) != CONNECTION_OK)
        test_fail(__FILE__, __LINE__, "cannot connect to FERRY_TEST_PG (%s): %s", pg_env(), PQerrorMessage(c));
    PQclear(ot_pg_sql(c, "SET TimeZone = 'UTC'"));
    return c;
}

PGresult *ot_pg_sql(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = NULL;
    if (vasprintf(&sql, fmt, ap) < 0)
        test_fail(__FILE__, __LINE__, "vasprintf");
    va_end(ap);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        test_fail(__FILE__, __LINE__, "test SQL failed: %s\n  %s", PQresultErrorMessage(r), sql);
    free(sql);
    return r;
}

const char *ot_pg_schema(PGconn *c)
{
    static char name[64];
    static int n;
    snprintf(name, sizeof name, "ferry_test_%ld_%d", (long)getpid(), n++);
    PQclear(ot_pg_sql(c, "CREATE SCHEMA %s", name));
    return name;
}

/* FERRY_TEST_PG as libpq parses it. */
static char *pg_opt(const char *key)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(pg_env(), &msg);
    if (!opts)
        test_fail(__FILE__, __LINE__, "FERRY_TEST_PG: %s", msg ? msg : "unparsable");
    char *v = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val)
            v = xstrdup(o->val);
    PQconninfoFree(opts);
    return v;
}

void ot_pg_config(struct ferry_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->repo_dir = xstrdup(test_tmpdir());
    struct offline_config *o = &cfg->offline;
    o->type = xstrdup("postgres");
    o->host = pg_opt("host");
    char *port = pg_opt("port");
    o->port = port ? atoi(port) : 5432;
    free(port);
    o->database = pg_opt("dbname");
    o->user = pg_opt("user");
    o->password = pg_opt("password");
    if (!o->password)
        o->password = xstrdup("");
    o->db_schema = xstrdup("public");
    o->sslmode = xstrdup("disable");
}

const char *ot_odbc_connstr(void)
{
    static char s[1024];
    char *host = pg_opt("host"), *port = pg_opt("port"), *db = pg_opt("dbname"), *user = pg_opt("user"),
         *pw = pg_opt("password");
    /* BoolsAsChar=0: booleans as SQL_BIT; UseDeclareFetch: the driver streams through a cursor
     * instead of reading the whole result into memory. */
    snprintf(s, sizeof s, "Driver={PostgreSQL Unicode};Server=%s;Port=%s;Database=%s;Uid=%s;Pwd=%s;"
             "SSLmode=disable;BoolsAsChar=0;UseDeclareFetch=1;Fetch=1000", host ? host : "127.0.0.1",
             port ? port : "5432", db ? db : "postgres", user ? user : "postgres", pw ? pw : "");
    free(host); free(port); free(db); free(user); free(pw);
    return s;
}

void ot_config_cleanup(struct ferry_config *cfg) { config_cleanup(cfg); }

void ot_streams_many_rows(struct ferry_config *cfg, int kind, int nkeys, int nrows, const char *label)
{
    PGconn *c = ot_pg_connect();
    const char *sc = ot_pg_schema(c);
    PQclear(ot_pg_sql(c, "CREATE TABLE %s.big AS SELECT (g %% %d)::int8 AS id, g::float8 AS v, "
                      "timestamptz '2021-01-01 00:00:00+00' + g * interval '1 second' AS ts "
                      "FROM generate_series(1, %d) AS g", sc, nkeys, nrows));
    PGresult *want = ot_pg_sql(c, "SELECT count(*), sum(m) FROM (SELECT id, max(v) AS m FROM %s.big "
                               "WHERE ts >= '2021-01-01 00:00:10+00' AND ts <= '2021-01-03 00:00:00+00' "
                               "GROUP BY id) AS x", sc);
    long long want_n = atoll(PQgetvalue(want, 0, 0));
    double want_sum = atof(PQgetvalue(want, 0, 1));
    PQclear(want);
    PQfinish(c);
    char *table = xasprintf("%s.big", sc);
    struct feast_view v;
    ot_view_init(&v, "big", kind, table, "ts", NULL);
    ot_view_key(&v, "id", FEAST_VT_INT64);
    ot_view_feat(&v, "v", FEAST_VT_DOUBLE);
    struct ot_run r;
    ot_run_init(&r, cfg, &v, ot_utc(2021, 1, 1, 0, 0, 10, 0), ot_utc(2021, 1, 3, 0, 0, 0, 0), 1000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASSERT_OK(ot_run_pull(&r), &r.err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "  %s pull: %zu latest rows of %d in %.3fs (%.0f source rows/s)\n", label, r.got.n, nrows,
            secs, nrows / secs);
    ASSERT_EQ_INT(r.got.n, want_n);
    ASSERT_EQ_INT(r.got.max_batch, 1000);
    double sum = 0;
    for (size_t i = 0; i < r.got.n; i++)
        sum += atof(r.got.rows[i].vals);
    ASSERT_EQ_DBL(sum, want_sum);
    ot_run_cleanup(&r);
    feast_view_cleanup(&v);
    free(table);
    config_cleanup(cfg);
}
