/* ceiling: the benchmark's reference measurements (bench/run), i.e. what the machine can do with the
 * same data and no ferry machinery in the way. Each mode reads the repository's first feature view
 * exactly as ferry would (same config, same offline store, same encoder), so the bytes written are
 * the bytes ferry writes; only the timed part differs:
 *
 *   ceiling duckdb REPO START END          DuckDB's latest-per-entity window query alone, in one
 *                                          query with no memory limit (what DuckDB needs when nothing
 *                                          is partitioned), every chunk fetched, no encoding
 *   ceiling read   REPO START END [YAML]   ferry's offline pull (query + Feast encoding), batches
 *                                          discarded: the read side of the pipeline on its own, for
 *                                          the store of REPO's feature_store.yaml or of YAML
 *   ceiling sqlite REPO START END DB       rows pulled and encoded first (untimed), sorted by
 *                                          (entity key, feature name); timed: a plain INSERT with one
 *                                          prepared statement in one transaction into Feast's table
 *                                          (same DDL and page cache as ferry) in a fresh file DB
 *   ceiling redis  REPO START END H:P      rows pulled and encoded first (untimed); timed: pipelined
 *                                          HSET key+project _ts:view ts f1 v1 … of the same payloads
 *
 * Prints one line: "seconds=S rows=R entities=E" (rows = entities x features for the stores, source
 * rows scanned for duckdb). Timing starts after the data is in memory and ends when the last write
 * is acknowledged (COMMIT returned / last reply read). Exits non-zero on any error. */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "duckdb.h"
#pragma GCC diagnostic pop

#include "config/config.h"
#include "core/time.h"
#include "core/util.h"
#include "engine/engine_internal.h"
#include "feast/feast.h"
#include "offline/offline.h"
#include "registry/registry.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "ceiling: %s: %s\n", what, msg);
    exit(1);
}

/* ---- the data: every encoded batch of the window, kept in memory ---- */

struct held {
    struct feast_batch **b;
    size_t n, cap;
    const struct feast_schema *schema;
    size_t batch_rows;
    uint64_t rows;
    bool keep;            /* false: count and reuse (the "read" mode) */
};

static int hold_emit(void *ctx, struct feast_batch **batch, struct ferry_err *err)
{
    struct held *h = ctx;
    h->rows += (*batch)->nrows;
    if (!h->keep) {
        feast_batch_reset(*batch);
        return 0;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->b = xrealloc(h->b, h->cap * sizeof *h->b);
    }
    h->b[h->n++] = *batch;
    struct feast_batch *next = xmalloc(sizeof *next);
    if (feast_batch_init(next, h->schema, h->batch_rows) != 0)
        return ferry_errf(err, FERRY_ENOMEM, "no memory for a batch");
    *batch = next;
    return 0;
}

struct ctx {
    struct ferry_config cfg;
    struct feast_view *views;
    size_t nviews;
    const struct feast_view *v;
    struct feast_schema schema;
    int64_t start_ns, end_ns;
    const char *start, *end;
};

static void load(struct ctx *c, const char *repo, const char *yaml, const char *start, const char *end)
{
    struct ferry_err err = {0};
    if (config_load(repo, yaml, &c->cfg, &err) || engine_load_views(&c->cfg, &c->views, &c->nviews, &err))
        die("config", err.msg);
    if (!c->nviews)
        die("config", "no feature view");
    c->v = &c->views[0];
    if (feast_schema_init(&c->schema, c->v, c->cfg.key_version, &err))
        die("schema", err.msg);
    /* as the engine does: only SQLite keeps value_text */
    c->schema.no_value_text = c->cfg.online.type && str_eq(c->cfg.online.type, "redis");
    if (ferry_time_parse(start, &c->start_ns, NULL) || ferry_time_parse(end, &c->end_ns, NULL))
        die("window", "bad START or END");
    if (strchr(start, '\'') || strchr(end, '\''))
        die("window", "quote in START or END");
    c->start = start;
    c->end = end;
}

static void pull(struct ctx *c, struct held *h)
{
    struct ferry_err err = {0};
    struct offline_store *off = NULL;
    if (offline_open(&c->cfg, &off, &err))
        die("offline store", err.msg);
    h->schema = &c->schema;
    h->batch_rows = c->cfg.ferry.batch_rows ? c->cfg.ferry.batch_rows : 10000;
    struct offline_pull p = {.view = c->v, .schema = &c->schema, .start_ns = c->start_ns, .end_ns = c->end_ns,
                             .batch_rows = h->batch_rows, .emit = hold_emit, .ctx = h};
    if (offline_pull_latest(off, &p, &err))
        die("pull", err.msg);
    offline_close(off);
}

/* ---- duckdb: the query alone ---- */

static double run_duckdb(struct ctx *c, uint64_t *source_rows, uint64_t *entities)
{
    const struct feast_view *v = c->v;
    duckdb_config dc;
    duckdb_database db;
    duckdb_connection con;
    duckdb_create_config(&dc);
    /* DuckDB's own memory default (80% of RAM): at ferry's 128MB default this one query fails at
     * 5M entities, which is why ferry partitions it */
    if (c->cfg.ferry.duckdb_threads > 0) {
        char n[24];
        snprintf(n, sizeof n, "%d", c->cfg.ferry.duckdb_threads);
        duckdb_set_config(dc, "threads", n);
    }
    char *oe = NULL;
    if (duckdb_open_ext(NULL, &db, dc, &oe) == DuckDBError || duckdb_connect(db, &con) == DuckDBError)
        die("duckdb", oe ? oe : "cannot open");
    duckdb_destroy_config(&dc);
    char *path = path_join(c->cfg.repo_dir, v->source.path);
    const char *s = c->start, *e = c->end;  /* checked by ferry_time_parse; ISO text DuckDB casts */
    struct fbuf sql, cols;
    fbuf_init(&sql, 1 << 20);
    fbuf_init(&cols, 1 << 20);
    for (size_t k = 0; k < c->schema.nkeys; k++)
        fbuf_addf(&cols, "%s\"%s\"", k ? ", " : "", c->schema.key_names[k]);
    for (size_t f = 0; f < c->schema.nfeatures; f++)
        fbuf_addf(&cols, ", \"%s\"", c->schema.feature_names[f]);
    const char *ts = v->source.timestamp_field, *cr = v->source.created_column;
    fbuf_addf(&sql, "SET TimeZone = 'UTC'; SELECT count(*) FROM read_parquet('%s') WHERE \"%s\" BETWEEN "
              "CAST('%s' AS TIMESTAMP) AND CAST('%s' AS TIMESTAMP)", path, ts, s, e);
    duckdb_result r;
    if (duckdb_query(con, sql.data, &r) == DuckDBError)
        die("duckdb count", duckdb_result_error(&r));
    *source_rows = (uint64_t)duckdb_value_int64(&r, 0, 0);
    duckdb_destroy_result(&r);
    fbuf_reset(&sql);
    fbuf_addf(&sql, "SELECT %s, \"%s\"%s%s%s FROM read_parquet('%s') WHERE \"%s\" BETWEEN CAST('%s' AS TIMESTAMP) "
              "AND CAST('%s' AS TIMESTAMP) QUALIFY row_number() OVER (PARTITION BY %s ORDER BY \"%s\" DESC NULLS LAST",
              cols.data, ts, cr ? ", \"" : "", cr ? cr : "", cr ? "\"" : "", path, ts, s, e, c->schema.key_names[0], ts);
    if (cr)
        fbuf_addf(&sql, ", \"%s\" DESC NULLS LAST", cr);
    fbuf_adds(&sql, ") = 1");
    double t0 = now_s();
    duckdb_prepared_statement ps;
    duckdb_pending_result pending;
    if (duckdb_prepare(con, sql.data, &ps) == DuckDBError)
        die("duckdb prepare", duckdb_prepare_error(ps));
    if (duckdb_pending_prepared_streaming(ps, &pending) == DuckDBError)
        die("duckdb pending", duckdb_pending_error(pending));
    if (duckdb_execute_pending(pending, &r) == DuckDBError)
        die("duckdb query", duckdb_result_error(&r));
    *entities = 0;
    duckdb_data_chunk ch;
    while ((ch = duckdb_fetch_chunk(r)) != NULL) {
        *entities += duckdb_data_chunk_get_size(ch);
        duckdb_destroy_data_chunk(&ch);
    }
    double secs = now_s() - t0;
    duckdb_destroy_result(&r);
    duckdb_destroy_pending(&pending);
    duckdb_destroy_prepare(&ps);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    fbuf_cleanup(&sql);
    fbuf_cleanup(&cols);
    free(path);
    return secs;
}

/* ---- row references, for ordering ---- */

struct ref { const struct feast_batch *b; size_t row; };

static int ref_cmp(const void *x, const void *y)
{
    const struct ref *a = x, *b = y;
    size_t an = a->b->rows[a->row].key_len, bn = b->b->rows[b->row].key_len;
    int c = memcmp(feast_batch_key(a->b, a->row), feast_batch_key(b->b, b->row), an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static struct ref *refs_of(const struct held *h, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < h->n; i++)
        total += h->b[i]->nrows;
    struct ref *refs = xcalloc(total ? total : 1, sizeof *refs);
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++)
        for (size_t r = 0; r < h->b[i]->nrows; r++)
            refs[k++] = (struct ref){h->b[i], r};
    *n = total;
    return refs;
}

static int64_t floor_sec(int64_t ns)
{
    int64_t q = ns / FERRY_NS_PER_SEC;
    return (ns % FERRY_NS_PER_SEC < 0) ? q - 1 : q;
}

/* ---- sqlite: one prepared INSERT, one transaction, key order ---- */

static double run_sqlite(struct ctx *c, const struct held *h, const char *dbpath)
{
    size_t n;
    struct ref *refs = refs_of(h, &n);
    /* The best order for a B-tree keyed (entity_key, feature_name): ascending, so every insert
     * appends to the rightmost leaf. Sorting is preparation, not timed. */
    qsort(refs, n, sizeof *refs, ref_cmp);
    sqlite3 *db;
    remove(dbpath);
    if (sqlite3_open(dbpath, &db) != SQLITE_OK)
        die("sqlite open", sqlite3_errmsg(db));
    char *table = xasprintf("%s_%s", c->cfg.project, c->v->name);
    char *ddl = xasprintf("CREATE TABLE \"%s\" (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT,"
                          "  vector_value BLOB, event_ts timestamp, created_ts timestamp,"
                          "  PRIMARY KEY(entity_key, feature_name));"
                          " CREATE INDEX \"%s_ek\" ON \"%s\" (entity_key);", table, table, table);
    char *ins = xasprintf("INSERT INTO \"%s\" (entity_key, feature_name, value, value_text, event_ts, created_ts)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", table);
    /* Same connection setting as ferry's store, nothing more (journal and sync stay SQLite's
     * defaults, which are what Feast's readers see). */
    if (sqlite3_exec(db, "PRAGMA cache_size = -16384", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, ddl, NULL, NULL, NULL) != SQLITE_OK)
        die("sqlite schema", sqlite3_errmsg(db));
    double t0 = now_s();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, ins, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        die("sqlite prepare", sqlite3_errmsg(db));
    size_t nf = c->schema.nfeatures;
    /* Features in name order too, the primary key's second column. */
    size_t *ford = xcalloc(nf ? nf : 1, sizeof *ford);
    for (size_t f = 0; f < nf; f++)
        ford[f] = f;
    for (size_t i = 1; i < nf; i++)
        for (size_t j = i; j > 0 && strcmp(c->schema.feature_names[ford[j - 1]], c->schema.feature_names[ford[j]]) > 0; j--) {
            size_t t = ford[j];
            ford[j] = ford[j - 1];
            ford[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        const struct feast_batch *b = refs[i].b;
        size_t r = refs[i].row;
        const char *arena = b->bytes.data;
        const struct feast_batch_row *row = &b->rows[r];
        for (size_t fi = 0; fi < nf; fi++) {
            size_t f = ford[fi];
            const struct feast_batch_cell *cell = feast_batch_cell(b, r, f);
            sqlite3_bind_blob(st, 1, arena + row->key_off, (int)row->key_len, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, c->schema.feature_names[f], -1, SQLITE_STATIC);
            if (cell->val_len)
                sqlite3_bind_blob(st, 3, arena + cell->val_off, (int)cell->val_len, SQLITE_STATIC);
            else
                sqlite3_bind_zeroblob(st, 3, 0);
            if (cell->text_len < 0)
                sqlite3_bind_null(st, 4);
            else
                sqlite3_bind_text(st, 4, cell->text_len ? arena + cell->text_off : "", cell->text_len, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, floor_sec(row->event_ns));
            if (row->created_ns == FERRY_TIME_NONE)
                sqlite3_bind_null(st, 6);
            else
                sqlite3_bind_int64(st, 6, floor_sec(row->created_ns));
            if (sqlite3_step(st) != SQLITE_DONE)
                die("sqlite insert", sqlite3_errmsg(db));
            sqlite3_reset(st);
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        die("sqlite commit", sqlite3_errmsg(db));
    double secs = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(ford);
    free(table);
    free(ddl);
    free(ins);
    free(refs);
    return secs;
}

/* ---- redis: pipelined HSETs ---- */

#define PIPE_CMDS 1000

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static double run_redis(struct ctx *c, const struct held *h, const char *addr)
{
    char host[256];
    int port = 6379;
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    if (colon) {
        *colon = 0;
        port = atoi(colon + 1);
    }
    redisContext *rc = redisConnect(host, port);
    if (!rc || rc->err)
        die("redis connect", rc ? rc->errstr : "no memory");
    size_t nf = c->schema.nfeatures;
    /* Feast's field names: murmur3 of "view:feature", and "_ts:view". */
    unsigned char (*hash)[4] = xcalloc(nf ? nf : 1, sizeof *hash);
    for (size_t f = 0; f < nf; f++) {
        char *s = xasprintf("%s:%s", c->v->name, c->schema.feature_names[f]);
        uint32_t hv = feast_murmur3_32(s, strlen(s), 0);
        for (int i = 0; i < 4; i++)
            hash[f][i] = (unsigned char)(hv >> (8 * i));
        free(s);
    }
    char *tsf = xasprintf("_ts:%s", c->v->name);
    size_t plen = strlen(c->cfg.project);
    size_t argc = 4 + 2 * nf;
    const char **argv = xcalloc(argc, sizeof *argv);
    size_t *lens = xcalloc(argc, sizeof *lens);
    char key[4096];
    double t0 = now_s();
    size_t pending = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct feast_batch *b = h->b[i];
        for (size_t r = 0; r < b->nrows; r++) {
            const struct feast_batch_row *row = &b->rows[r];
            if (row->key_len + plen > sizeof key)
                die("redis", "key too long");
            memcpy(key, feast_batch_key(b, r), row->key_len);
            memcpy(key + row->key_len, c->cfg.project, plen);
            /* google.protobuf.Timestamp{seconds, nanos at µs precision}, as ferry and Feast write */
            int64_t sec = floor_sec(row->event_ns);
            int64_t nanos = (row->event_ns - sec * FERRY_NS_PER_SEC) / 1000 * 1000;
            unsigned char ts[24];
            size_t tn = 0;
            if (sec) {
                ts[tn++] = 0x08;
                tn += put_varint(ts + tn, (uint64_t)sec);
            }
            if (nanos) {
                ts[tn++] = 0x10;
                tn += put_varint(ts + tn, (uint64_t)nanos);
            }
            size_t a = 0;
            argv[a] = "HSET"; lens[a++] = 4;
            argv[a] = key; lens[a++] = row->key_len + plen;
            argv[a] = tsf; lens[a++] = strlen(tsf);
            argv[a] = (const char *)ts; lens[a++] = tn;
            for (size_t f = 0; f < nf; f++) {
                const struct feast_batch_cell *cell = feast_batch_cell(b, r, f);
                argv[a] = (const char *)hash[f]; lens[a++] = 4;
                argv[a] = cell->val_len ? b->bytes.data + cell->val_off : ""; lens[a++] = cell->val_len;
            }
            if (redisAppendCommandArgv(rc, (int)a, argv, lens) != REDIS_OK)
                die("redis append", rc->errstr);
            if (++pending == PIPE_CMDS) {
                for (; pending; pending--) {
                    void *rep;
                    if (redisGetReply(rc, &rep) != REDIS_OK)
                        die("redis reply", rc->errstr);
                    if (((redisReply *)rep)->type == REDIS_REPLY_ERROR)
                        die("redis HSET", ((redisReply *)rep)->str);
                    freeReplyObject(rep);
                }
            }
        }
    }
    for (; pending; pending--) {
        void *rep;
        if (redisGetReply(rc, &rep) != REDIS_OK)
            die("redis reply", rc->errstr);
        freeReplyObject(rep);
    }
    double secs = now_s() - t0;
    redisFree(rc);
    free(hash);
    free(tsf);
    free(argv);
    free(lens);
    return secs;
}

int main(int argc, char **argv)
{
    if (argc < 5 || ((!strcmp(argv[1], "sqlite") || !strcmp(argv[1], "redis")) && argc < 6)) {
        fprintf(stderr, "usage: ceiling duckdb REPO START END | ceiling read REPO START END [YAML]\n"
                        "       ceiling sqlite REPO START END DB | ceiling redis REPO START END HOST:PORT\n");
        return 2;
    }
    const char *mode = argv[1];
    struct ctx c = {0};
    load(&c, argv[2], !strcmp(mode, "read") && argc > 5 ? argv[5] : NULL, argv[3], argv[4]);
    double secs;
    uint64_t rows, entities;
    if (!strcmp(mode, "duckdb")) {
        secs = run_duckdb(&c, &rows, &entities);
    } else {
        struct held h = {.keep = strcmp(mode, "read") != 0};
        double t0 = now_s();
        pull(&c, &h);
        secs = now_s() - t0;
        entities = h.rows;
        rows = entities * c.schema.nfeatures;
        if (!strcmp(mode, "sqlite"))
            secs = run_sqlite(&c, &h, argv[5]);
        else if (!strcmp(mode, "redis"))
            secs = run_redis(&c, &h, argv[5]);
        else if (strcmp(mode, "read") != 0)
            die("mode", mode);
        for (size_t i = 0; i < h.n; i++) {
            feast_batch_cleanup(h.b[i]);
            free(h.b[i]);
        }
        free(h.b);
    }
    printf("seconds=%.4f rows=%" PRIu64 " entities=%" PRIu64 "\n", secs, rows, entities);
    feast_schema_cleanup(&c.schema);
    registry_views_free(c.views, c.nviews);
    config_cleanup(&c.cfg);
    return 0;
}
