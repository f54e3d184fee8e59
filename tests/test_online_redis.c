/* online/: the Redis online store against a real redis-server (scripts/test_services.sh exports
 * FERRY_TEST_REDIS; without it every test here FAILS, it never skips). Batches are built by hand from
 * the golden bytes of feast-compat.md §3.8/§4.4, and every write is checked with raw hiredis commands
 * (HGET/HGETALL/TTL) against the golden key, field names and _ts bytes of §6.4, not through ferry's
 * read path. Each test FLUSHes its own database number first. */
#include "test.h"

#include <hiredis/hiredis.h>
#include <sys/stat.h>
#include <time.h>

#include "config/config.h"
#include "core/time.h"
#include "online/online.h"
#include "online/redis_conn.h"

#define KEY_1001 "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 e903000000000000"
#define KEY_1002 "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 ea03000000000000"
#define KEY_1003 "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 eb03000000000000"
#define KEY_1002_FLAT "0100000002000000090000006472697665725f69640400000008000000ea03000000000000"
#define PROJ_HEX "666561747572655f7265706f"   /* "feature_repo" */
#define F_HALF "350000003f"
#define F_DOC "35f5696d3f"
#define I_308 "20b402"
#define T0 INT64_C(1640991600)               /* 2021-12-31T23:00:00Z */
#define TS_T0 "08f096be8e06"                  /* §6.4 */
#define SEC(s) ((int64_t)(s) * FERRY_NS_PER_SEC)
/* Field names from §6.4. */
#define FLD_CONV "6160e3da"
#define FLD_ACC "fa5e58ad"
#define FLD_TRIPS "18a5e5a3"
#define TSF "_ts:driver_hourly_stats"

static struct ferry_err *E(struct ferry_err *e) { return e; }

/* ---- the test server ---- */

static const char *redis_addr(void)
{
    const char *a = getenv("FERRY_TEST_REDIS");
    if (!a || !*a)
        test_fail(__FILE__, __LINE__, "FERRY_TEST_REDIS is not set: these tests need a redis-server; run them "
                  "as scripts/test_services.sh make test-one T=redis");
    return a;
}

static redisContext *raw_connect(int db)
{
    char host[128];
    int port = 0;
    const char *a = redis_addr();
    const char *colon = strrchr(a, ':');
    if (!colon || (size_t)(colon - a) >= sizeof host)
        test_fail(__FILE__, __LINE__, "FERRY_TEST_REDIS '%s' is not host:port", a);
    memcpy(host, a, (size_t)(colon - a));
    host[colon - a] = '\0';
    port = atoi(colon + 1);
    redisContext *c = redisConnect(host, port);
    if (!c || c->err)
        test_fail(__FILE__, __LINE__, "cannot connect to %s: %s", a, c ? c->errstr : "no memory");
    redisReply *r = redisCommand(c, "SELECT %d", db);
    if (!r || r->type == REDIS_REPLY_ERROR)
        test_fail(__FILE__, __LINE__, "SELECT %d failed", db);
    freeReplyObject(r);
    return c;
}

/* A clean database `db` for this test; returns a raw connection to it. */
static redisContext *fresh_db(int db)
{
    redisContext *c = raw_connect(db);
    redisReply *r = redisCommand(c, "FLUSHDB");
    if (!r || r->type == REDIS_REPLY_ERROR)
        test_fail(__FILE__, __LINE__, "FLUSHDB failed");
    freeReplyObject(r);
    return c;
}

/* ---- bytes ---- */

static size_t add_hex(struct fbuf *b, const char *hex)
{
    size_t start = b->len;
    for (const char *p = hex; *p;) {
        if (*p == ' ') { p++; continue; }
        unsigned v;
        if (sscanf(p, "%2x", &v) != 1)
            test_fail(__FILE__, __LINE__, "bad hex %s", hex);
        char c = (char)v;
        fbuf_add(b, &c, 1);
        p += 2;
    }
    return b->len - start;
}

/* Hex of bytes; a few rotating static buffers. */
static const char *hexs(const void *p, size_t n)
{
    static char bufs[4][8192];
    static int next;
    char *o = bufs[next++ % 4];
    const unsigned char *b = p;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 3 < sizeof bufs[0]; i++)
        k += (size_t)snprintf(o + k, sizeof bufs[0] - k, "%02x", b[i]);
    o[k] = '\0';
    return o;
}

/* The raw field of a hash, as hex; "(nil)" when absent. keyhex and fieldhex are hex strings. */
static const char *raw_hget(redisContext *c, const char *keyhex, const char *field, bool field_is_hex)
{
    struct fbuf k, f;
    fbuf_init(&k, 1 << 20);
    fbuf_init(&f, 1 << 20);
    add_hex(&k, keyhex);
    if (field_is_hex)
        add_hex(&f, field);
    else
        fbuf_adds(&f, field);
    redisReply *r = redisCommand(c, "HGET %b %b", k.data, k.len, f.data, f.len);
    if (!r)
        test_fail(__FILE__, __LINE__, "HGET failed");
    const char *out = r->type == REDIS_REPLY_NIL ? "(nil)" : hexs(r->str, r->len);
    if (r->type == REDIS_REPLY_ERROR)
        test_fail(__FILE__, __LINE__, "HGET: %s", r->str);
    freeReplyObject(r);
    fbuf_cleanup(&k);
    fbuf_cleanup(&f);
    return out;
}

static long long raw_int(redisContext *c, const char *cmd, const char *keyhex)
{
    struct fbuf k;
    fbuf_init(&k, 1 << 20);
    add_hex(&k, keyhex);
    redisReply *r = redisCommand(c, "%s %b", cmd, k.data, k.len);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        test_fail(__FILE__, __LINE__, "%s: no integer reply", cmd);
    long long v = r->integer;
    freeReplyObject(r);
    fbuf_cleanup(&k);
    return v;
}

static void raw_cmd_key(redisContext *c, const char *cmd, const char *keyhex, const char *a1, const char *a2hex)
{
    struct fbuf k, v;
    fbuf_init(&k, 1 << 20);
    fbuf_init(&v, 1 << 20);
    add_hex(&k, keyhex);
    if (a2hex)
        add_hex(&v, a2hex);
    redisReply *r = a1 ? redisCommand(c, "%s %b %s %b", cmd, k.data, k.len, a1, v.data ? v.data : "", v.len)
                       : redisCommand(c, "%s %b", cmd, k.data, k.len);
    if (!r || r->type == REDIS_REPLY_ERROR)
        test_fail(__FILE__, __LINE__, "%s failed: %s", cmd, r ? r->str : "no reply");
    freeReplyObject(r);
    fbuf_cleanup(&k);
    fbuf_cleanup(&v);
}

static long long raw_simple_int(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        test_fail(__FILE__, __LINE__, "%s: no integer reply", cmd);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* How many times the server has run `cmd` (lower case, e.g. "hget") since it started, from INFO
 * commandstats: a count kept by the server, independent of ferry. Tests run one at a time. */
static long long raw_calls(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    if (!r || r->type == REDIS_REPLY_ERROR)
        test_fail(__FILE__, __LINE__, "INFO commandstats failed");
    char pat[64];
    snprintf(pat, sizeof pat, "cmdstat_%s:calls=", cmd);
    const char *p = strstr(r->str, pat);
    long long n = p ? atoll(p + strlen(pat)) : 0;
    freeReplyObject(r);
    return n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every field=value of a hash, in hex, sorted: equal strings mean equal hashes. Caller frees. */
static char *raw_hash_dump(redisContext *c, const char *keyhex)
{
    struct fbuf k, out;
    fbuf_init(&k, 1 << 20);
    fbuf_init(&out, 1 << 20);
    add_hex(&k, keyhex);
    redisReply *r = redisCommand(c, "HGETALL %b", k.data, k.len);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        test_fail(__FILE__, __LINE__, "HGETALL failed");
    size_t n = r->elements / 2;
    char **pairs = calloc(n ? n : 1, sizeof *pairs);
    for (size_t i = 0; i < n; i++) {
        char f[256], *v = NULL;
        snprintf(f, sizeof f, "%s", hexs(r->element[2 * i]->str, r->element[2 * i]->len));
        v = strdup(hexs(r->element[2 * i + 1]->str, r->element[2 * i + 1]->len));
        size_t len = strlen(f) + strlen(v) + 2;
        pairs[i] = malloc(len);
        snprintf(pairs[i], len, "%s=%s", f, v);
        free(v);
    }
    qsort(pairs, n, sizeof *pairs, cmp_str);
    for (size_t i = 0; i < n; i++) {
        fbuf_adds(&out, pairs[i]);
        fbuf_adds(&out, ";");
        free(pairs[i]);
    }
    free(pairs);
    freeReplyObject(r);
    fbuf_cleanup(&k);
    char *res = strdup(out.data ? out.data : "");
    fbuf_cleanup(&out);
    return res;
}

/* The v3 key of driver_id = i (int64 little-endian), as hex. */
static const char *driver_key(int i)
{
    static char hex[4][128];
    static int next;
    char *o = hex[next++ % 4];
    snprintf(o, sizeof hex[0], "0100000002000000090000006472697665725f69640400000008000000%02x%02x%02x%02x00000000",
             i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, (i >> 24) & 0xff);
    return o;
}

/* HSET key+project field value for many keys in one pipeline (raw hiredis, behind ferry's back). */
static void raw_hset_many(redisContext *c, const int *ids, size_t n, const char *field, const char *valhex,
                          bool field_is_hex)
{
    struct fbuf f, v;
    fbuf_init(&f, 1 << 10);
    fbuf_init(&v, 1 << 10);
    if (field_is_hex)
        add_hex(&f, field);
    else
        fbuf_adds(&f, field);
    add_hex(&v, valhex);
    for (size_t i = 0; i < n; i++) {
        struct fbuf k;
        fbuf_init(&k, 1 << 10);
        add_hex(&k, driver_key(ids[i]));
        add_hex(&k, PROJ_HEX);
        redisAppendCommand(c, "HSET %b %b %b", k.data, k.len, f.data, f.len, v.data ? v.data : "", v.len);
        fbuf_cleanup(&k);
    }
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || ((redisReply *)r)->type == REDIS_REPLY_ERROR)
            test_fail(__FILE__, __LINE__, "pipelined HSET failed");
        freeReplyObject(r);
    }
    fbuf_cleanup(&f);
    fbuf_cleanup(&v);
}

/* ---- fixtures ---- */

static struct feast_feature driver_features[] = {
    {"conv_rate", FEAST_VT_FLOAT, NULL}, {"acc_rate", FEAST_VT_FLOAT, NULL}, {"avg_daily_trips", FEAST_VT_INT64, NULL},
};
static char *driver_feature_names[] = {"conv_rate", "acc_rate", "avg_daily_trips"};
static struct feast_schema driver_schema = {.key_version = 3, .nfeatures = 3, .feature_names = driver_feature_names};

static struct feast_view driver_view(const char *name)
{
    struct feast_view v = {0};
    v.name = (char *)name;
    v.features = driver_features;
    v.nfeatures = 3;
    return v;
}

static void batch_init(struct feast_batch *b, const struct feast_schema *s, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->schema = s;
    b->cap_rows = cap;
    b->rows = calloc(cap, sizeof *b->rows);
    b->cells = calloc(cap * (s->nfeatures ? s->nfeatures : 1), sizeof *b->cells);
    fbuf_init(&b->bytes, (size_t)1 << 28);
}

static void batch_free(struct feast_batch *b)
{
    free(b->rows);
    free(b->cells);
    fbuf_cleanup(&b->bytes);
}

/* vals has schema->nfeatures hex strings ("" = null). */
static void batch_row(struct feast_batch *b, const char *key_hex, int64_t event_ns, const char *const *vals)
{
    if (b->nrows == b->cap_rows)
        test_fail(__FILE__, __LINE__, "test batch full");
    struct feast_batch_row *r = &b->rows[b->nrows];
    r->key_off = b->bytes.len;
    r->key_len = (uint32_t)add_hex(&b->bytes, key_hex);
    r->event_ns = event_ns;
    r->created_ns = FERRY_TIME_NONE;
    for (size_t f = 0; f < b->schema->nfeatures; f++) {
        struct feast_batch_cell *c = &b->cells[b->nrows * b->schema->nfeatures + f];
        c->val_off = b->bytes.len;
        c->val_len = (uint32_t)add_hex(&b->bytes, vals[f]);
        c->text_len = -1;
    }
    b->nrows++;
}

struct rcfg {
    struct ferry_config cfg;
    char cs[512];
};

static void redis_cfg(struct rcfg *rc, int db, const char *extra)
{
    memset(rc, 0, sizeof *rc);
    snprintf(rc->cs, sizeof rc->cs, "%s,db=%d%s", redis_addr(), db, extra ? extra : "");
    rc->cfg.project = "feature_repo";
    rc->cfg.key_version = 3;
    rc->cfg.online.type = "redis";
    rc->cfg.online.redis_type = "redis";
    rc->cfg.online.connection_string = rc->cs;
}

static struct online_store *open_cfg(struct rcfg *rc)
{
    struct online_store *st = NULL;
    struct ferry_err e = {0};
    ASSERT_OK(online_open(&rc->cfg, &st, &e), E(&e));
    return st;
}

static struct online_store *open_db(int db)
{
    struct rcfg rc;
    redis_cfg(&rc, db, NULL);
    return open_cfg(&rc);
}

/* Writes one driver row for key_hex at ns; returns the stats of that write. */
static struct online_write_stats write_row(struct online_store *st, const char *view, const char *key_hex, int64_t ns,
                                           const char *conv, const char *acc, const char *trips)
{
    struct feast_batch b;
    batch_init(&b, &driver_schema, 4);
    const char *vals[] = {conv, acc, trips};
    batch_row(&b, key_hex, ns, vals);
    struct feast_view v = driver_view(view);
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    batch_free(&b);
    return s;
}

static void key_buf(struct fbuf *b, const char *hex)
{
    fbuf_init(b, 1 << 20);
    add_hex(b, hex);
}

/* ---- format ---- */

TEST(online_redis_write_uses_feast_key_fields_and_ts)
{
    redisContext *c = fresh_db(1);
    struct online_store *st = open_db(1);
    struct online_write_stats s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0), F_HALF, "", I_308);
    ASSERT_EQ_INT(s.rows_written, 1);
    ASSERT_EQ_INT(s.rows_skipped, 0);
    /* §6.4: the key is the v3 key followed by the project's bytes. */
    const char *key = "0100000002000000090000006472697665725f69640400000008000000e903000000000000" PROJ_HEX;
    ASSERT_EQ_INT(raw_simple_int(c, "DBSIZE"), 1);
    ASSERT_EQ_INT(raw_int(c, "HLEN", key), 4);
    ASSERT_EQ_STR(raw_hget(c, key, TSF, false), TS_T0);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), F_HALF);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_ACC, true), "");       /* null = empty string, not absent */
    ASSERT_EQ_STR(raw_hget(c, key, FLD_TRIPS, true), I_308);
    ASSERT_EQ_INT(raw_int(c, "TTL", key), -1);                /* no key_ttl_seconds: no expiry */
    online_close(st);
    redisFree(c);
}

TEST(online_redis_field_names_match_feast_test_redis)
{
    /* The three names of sdk/python/tests/unit/infra/online_store/test_redis.py (§6.4). */
    redisContext *c = fresh_db(1);
    struct online_store *st = open_db(1);
    static char *names[] = {"feature_10", "feature_11", "feature_12"};
    static struct feast_feature feats[] = {{"feature_10", FEAST_VT_INT64, NULL}, {"feature_11", FEAST_VT_INT64, NULL},
                                           {"feature_12", FEAST_VT_INT64, NULL}};
    struct feast_schema sc = {.key_version = 3, .nfeatures = 3, .feature_names = names};
    struct feast_view v = {0};
    v.name = "feature_view_1";
    v.features = feats;
    v.nfeatures = 3;
    struct feast_batch b;
    batch_init(&b, &sc, 2);
    const char *vals[] = {"2001", "2002", "2003"};
    /* entity = int32 1, project "test": 01000000 02000000 06000000 "entity" 03000000 04000000 01000000 */
    const char *ek = "01000000 02000000 06000000 656e74697479 03000000 04000000 01000000";
    batch_row(&b, ek, SEC(T0), vals);
    struct ferry_err e = {0};
    struct online_write_stats s = {0};
    ASSERT_OK(online_write(st, "test", &v, &b, &s, &e), E(&e));
    const char *key = "01000000 02000000 06000000 656e74697479 03000000 04000000 01000000 74657374";
    ASSERT_EQ_STR(raw_hget(c, key, "266d5f39", true), "2001");
    ASSERT_EQ_STR(raw_hget(c, key, "c3379abf", true), "2002");
    ASSERT_EQ_STR(raw_hget(c, key, "7772b564", true), "2003");
    ASSERT_EQ_STR(raw_hget(c, key, "_ts:feature_view_1", false), TS_T0);
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

TEST(online_redis_ts_has_microsecond_nanos_and_reads_back)
{
    redisContext *c = fresh_db(1);
    struct online_store *st = open_db(1);
    /* 123456789 ns past T0: Feast keeps microseconds, so nanos = 123456000 (varint 80 94 ef 3a). */
    write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0) + 123456789, F_HALF, "", "");
    /* 1.5 s before the epoch: seconds -2 (ten-byte varint), nanos 500000000. */
    write_row(st, "driver_hourly_stats", KEY_1002, -1500000000, F_HALF, "", "");
    /* The epoch itself: both fields zero, so the Timestamp is empty. */
    write_row(st, "driver_hourly_stats", KEY_1003, 0, F_HALF, "", "");
    ASSERT_EQ_STR(raw_hget(c, KEY_1001 PROJ_HEX, TSF, false), TS_T0 "108094ef3a");
    ASSERT_EQ_STR(raw_hget(c, KEY_1002 PROJ_HEX, TSF, false), "08feffffffffffffffff01" "1080cab5ee01");
    ASSERT_EQ_STR(raw_hget(c, KEY_1003 PROJ_HEX, TSF, false), "");

    struct fbuf keys[3];
    key_buf(&keys[0], KEY_1001);
    key_buf(&keys[1], KEY_1002);
    key_buf(&keys[2], KEY_1003);
    const char *feats[] = {"conv_rate"};
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_read_result r;
    struct ferry_err e = {0};
    ASSERT_OK(online_read(st, "feature_repo", &v, keys, 3, feats, 1, &r, &e), E(&e));
    ASSERT_EQ_INT(r.event_ns[0], SEC(T0) + 123456000);
    ASSERT_EQ_INT(r.event_ns[1], -1500000000);
    ASSERT_EQ_INT(r.event_ns[2], 0);
    online_read_result_cleanup(&r);
    for (int i = 0; i < 3; i++)
        fbuf_cleanup(&keys[i]);
    online_close(st);
    redisFree(c);
}

/* ---- newer-only ---- */

TEST(online_redis_writes_only_strictly_newer_rows)
{
    redisContext *c = fresh_db(1);
    struct online_store *st = open_db(1);
    const char *key = KEY_1001 PROJ_HEX;
    struct online_write_stats s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0), F_HALF, "", I_308);
    ASSERT_EQ_INT(s.rows_written, 1);
    s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0 - 60), F_DOC, "", "");
    ASSERT_EQ_INT(s.rows_written, 0);
    ASSERT_EQ_INT(s.rows_skipped, 1);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), F_HALF);
    /* Equal times are skipped too (Feast: new <= latest). */
    s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0), F_DOC, "", "");
    ASSERT_EQ_INT(s.rows_skipped, 1);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), F_HALF);
    /* A difference below a microsecond is no difference to Feast either. */
    s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0) + 999, F_DOC, "", "");
    ASSERT_EQ_INT(s.rows_skipped, 1);
    /* One microsecond newer is newer: every field of the view is replaced, nulls included. */
    s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0) + 1000, F_DOC, "", "");
    ASSERT_EQ_INT(s.rows_written, 1);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), F_DOC);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_TRIPS, true), "");
    ASSERT_EQ_STR(raw_hget(c, key, TSF, false), TS_T0 "10e807");
    online_close(st);
    redisFree(c);
}

TEST(online_redis_newer_rule_reads_seconds_only_ts_of_old_feast)
{
    /* Feast <= 0.58 stored Timestamp{seconds} only; a hash written that way, behind ferry's back. */
    redisContext *c = fresh_db(1);
    const char *key = KEY_1001 PROJ_HEX;
    raw_cmd_key(c, "HSET", key, TSF, TS_T0);
    struct online_store *st = open_db(1);
    struct online_write_stats s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0), F_DOC, "", "");
    ASSERT_EQ_INT(s.rows_skipped, 1);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), "(nil)");
    s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0) + 500000000, F_DOC, "", "");
    ASSERT_EQ_INT(s.rows_written, 1);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), F_DOC);
    /* An unparseable stored _ts fails the write (as Timestamp.ParseFromString would), naming the key,
     * and nothing of the batch is written: every stored _ts is read before the first HSET. */
    raw_cmd_key(c, "HSET", KEY_1002 PROJ_HEX, TSF, "ff");
    struct feast_batch b;
    batch_init(&b, &driver_schema, 4);
    const char *vals[] = {F_HALF, "", ""};
    batch_row(&b, KEY_1003, SEC(T0), vals);
    batch_row(&b, KEY_1002, SEC(T0), vals);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_write_stats s2 = {7, 7};
    struct ferry_err e = {0};
    ASSERT_EQ_INT(online_write(st, "feature_repo", &v, &b, &s2, &e), FERRY_ESTORE);
    ASSERT_CONTAINS(e.msg, "cannot decode the stored _ts:driver_hourly_stats");
    ASSERT_CONTAINS(e.msg, "key " KEY_1002_FLAT);
    ASSERT_CONTAINS(e.msg, redis_addr());
    ASSERT_EQ_INT(s2.rows_written, 7);  /* stats untouched on failure */
    ASSERT_EQ_STR(raw_hget(c, KEY_1003 PROJ_HEX, TSF, false), "(nil)");  /* same batch: not written */
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

TEST(online_redis_batch_keeps_first_newest_row_per_key)
{
    redisContext *c = fresh_db(1);
    struct online_store *st = open_db(1);
    write_row(st, "driver_hourly_stats", KEY_1003, SEC(T0 + 100), F_HALF, "", "");
    struct feast_batch b;
    batch_init(&b, &driver_schema, 8);
    const char *a[] = {"3500000040", "", ""}, *bb[] = {"3500004040", "", ""}, *cc[] = {"3500008040", "", ""},
               *d[] = {"350000a040", "", ""}, *x[] = {F_DOC, "", ""};
    batch_row(&b, KEY_1001, SEC(T0), a);
    batch_row(&b, KEY_1001, SEC(T0 + 2), bb);     /* newest, first of its time: wins */
    batch_row(&b, KEY_1002, SEC(T0), x);
    batch_row(&b, KEY_1001, SEC(T0 + 2), cc);     /* equal: skipped */
    batch_row(&b, KEY_1001, SEC(T0 + 1), d);      /* older: skipped */
    batch_row(&b, KEY_1003, SEC(T0 + 50), x);     /* older than stored: skipped */
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    ASSERT_EQ_INT(s.rows_written, 2);
    ASSERT_EQ_INT(s.rows_skipped, 4);
    ASSERT_EQ_STR(raw_hget(c, KEY_1001 PROJ_HEX, FLD_CONV, true), "3500004040");
    ASSERT_EQ_STR(raw_hget(c, KEY_1002 PROJ_HEX, FLD_CONV, true), F_DOC);
    ASSERT_EQ_STR(raw_hget(c, KEY_1003 PROJ_HEX, FLD_CONV, true), F_HALF);
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

/* ---- read then write, and the empty-database shortcut ---- */

#define TS_T0_MINUS_60 "08b496be8e06"   /* 2021-12-31T22:59:00Z, seconds only */

TEST(online_redis_stored_ts_is_compared_across_pipeline_windows)
{
    /* 20000 entities: several pipeline windows of HGETs and of HSETs, so every reply must be matched
     * to its own key. Stored before the write, behind ferry's back: i % 3 == 0 holds T0 (equal to
     * the batch: skipped), i % 3 == 1 holds T0 - 60 s (older: replaced), i % 3 == 2 nothing. */
    enum { N = 20000 };
    redisContext *c = fresh_db(6);
    static int equal[N], older[N];
    size_t ne = 0, no = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            equal[ne++] = i;
        else if (i % 3 == 1)
            older[no++] = i;
    }
    raw_hset_many(c, equal, ne, TSF, TS_T0, false);
    raw_hset_many(c, equal, ne, FLD_CONV, F_DOC, true);
    raw_hset_many(c, older, no, TSF, TS_T0_MINUS_60, false);
    raw_hset_many(c, older, no, FLD_CONV, F_DOC, true);
    struct online_store *st = open_db(6);
    struct feast_batch b;
    batch_init(&b, &driver_schema, N);
    const char *vals[] = {F_HALF, "", I_308};
    for (int i = 0; i < N; i++)
        batch_row(&b, driver_key(i), SEC(T0), vals);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    long long hget0 = raw_calls(c, "hget");
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    ASSERT_EQ_INT(raw_calls(c, "hget") - hget0, N);  /* no begin_view: every stored _ts is read */
    ASSERT_EQ_INT(s.rows_written, N - (N + 2) / 3);
    ASSERT_EQ_INT(s.rows_skipped, (N + 2) / 3);
    char key[256];
    for (int i = 0; i < N; i += 7) {
        snprintf(key, sizeof key, "%s" PROJ_HEX, driver_key(i));
        ASSERT_EQ_STR(raw_hget(c, key, TSF, false), TS_T0);
        ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), i % 3 == 0 ? F_DOC : F_HALF);
        ASSERT_EQ_STR(raw_hget(c, key, FLD_TRIPS, true), i % 3 == 0 ? "(nil)" : I_308);
    }
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

TEST(online_redis_large_batch_with_repeated_keys_keeps_each_keys_first_newest_row)
{
    /* 3000 entities, each in four rows spread over the batch: rep r at T0 + (i + r) % 3 seconds for
     * r = 0..2 (one of them the newest), then rep 3 at T0 + 2 s again (equal to the newest: the
     * earlier row wins). Enough keys that the batch's key matching must tell colliding keys apart. */
    enum { N = 3000 };
    redisContext *c = fresh_db(6);
    struct online_store *st = open_db(6);
    static const char *conv[] = {"3500000040", "3500004040", "3500008040", "350000a040"};
    struct feast_batch b;
    batch_init(&b, &driver_schema, 4 * N);
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < N; i++) {
            const char *vals[] = {conv[r], "", ""};
            batch_row(&b, driver_key(i), SEC(T0 + (r < 3 ? (i + r) % 3 : 2)), vals);
        }
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    ASSERT_EQ_INT(s.rows_written, N);
    ASSERT_EQ_INT(s.rows_skipped, 3 * N);
    ASSERT_EQ_INT(raw_simple_int(c, "DBSIZE"), N);
    char key[256];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "%s" PROJ_HEX, driver_key(i));
        ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), conv[(5 - i % 3) % 3]);  /* (i + r) % 3 == 2 */
    }
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

TEST(online_redis_undecodable_ts_fails_the_batch_before_any_write)
{
    enum { N = 20000, BAD = 15000 };
    redisContext *c = fresh_db(6);
    int bad[] = {BAD};
    raw_hset_many(c, bad, 1, TSF, "ff", false);   /* a truncated varint */
    struct online_store *st = open_db(6);
    struct feast_batch b;
    batch_init(&b, &driver_schema, N);
    const char *vals[] = {F_HALF, "", I_308};
    for (int i = 0; i < N; i++)
        batch_row(&b, driver_key(i), SEC(T0), vals);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    ASSERT_EQ_INT(online_write(st, "feature_repo", &v, &b, &s, &e), FERRY_ESTORE);
    /* 15000 = 0x3a98: the whole key, the view, the field and the server are named. */
    ASSERT_CONTAINS(e.msg, "key 0100000002000000090000006472697665725f69640400000008000000983a000000000000");
    ASSERT_CONTAINS(e.msg, "cannot decode the stored _ts:driver_hourly_stats");
    ASSERT_CONTAINS(e.msg, "view driver_hourly_stats");
    ASSERT_CONTAINS(e.msg, redis_addr());
    ASSERT_EQ_INT(s.rows_written, 0);
    ASSERT_EQ_INT(raw_simple_int(c, "DBSIZE"), 1);   /* only the bad key: nothing of the batch */
    /* The connection is still usable, and the same batch without the bad key goes through. */
    char key[256];
    snprintf(key, sizeof key, "%s" PROJ_HEX, driver_key(BAD));
    raw_cmd_key(c, "DEL", key, NULL, NULL);
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    ASSERT_EQ_INT(s.rows_written, N);
    ASSERT_EQ_INT(raw_simple_int(c, "DBSIZE"), N);
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

/* Writes the same batch through begin_view + write into db (with key_ttl_seconds 3600); returns
 * how many HGETs the server ran for it. */
static long long begin_and_write(redisContext *c, int db, const struct feast_batch *b, struct online_write_stats *s)
{
    struct rcfg rc;
    redis_cfg(&rc, db, NULL);
    rc.cfg.online.key_ttl_seconds = 3600;
    struct online_store *st = open_cfg(&rc);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct ferry_err e = {0};
    long long h0 = raw_calls(c, "hget");
    ASSERT_OK(online_begin_view(st, "feature_repo", &v, &e), E(&e));
    ASSERT_OK(online_write(st, "feature_repo", &v, b, s, &e), E(&e));
    long long n = raw_calls(c, "hget") - h0;
    online_close(st);
    return n;
}

TEST(online_redis_empty_db_is_written_without_reading_and_gives_the_same_hashes)
{
    redisContext *c6 = fresh_db(6), *c7 = fresh_db(7);
    redisReply *r = redisCommand(c7, "SET unrelated x");   /* db 7 is not empty: read, then write */
    freeReplyObject(r);
    struct feast_batch b;
    batch_init(&b, &driver_schema, 8);
    const char *a[] = {"3500000040", "", ""}, *bb[] = {"3500004040", F_DOC, I_308}, *cc[] = {"3500008040", "", ""},
               *x[] = {F_HALF, "", ""};
    batch_row(&b, KEY_1001, SEC(T0 - 2), a);
    batch_row(&b, KEY_1002, SEC(T0) + 123456789, x);
    batch_row(&b, KEY_1001, SEC(T0), bb);        /* newest, first of its time: wins */
    batch_row(&b, KEY_1003, -1500000000, x);     /* before the epoch */
    batch_row(&b, KEY_1001, SEC(T0), cc);        /* equal: skipped */
    struct online_write_stats s6 = {0}, s7 = {0};
    ASSERT_EQ_INT(begin_and_write(c6, 6, &b, &s6), 0);   /* empty: no read at all */
    ASSERT_EQ_INT(begin_and_write(c7, 7, &b, &s7), 3);   /* one HGET per distinct key */
    ASSERT_EQ_INT(s6.rows_written, 3);
    ASSERT_EQ_INT(s6.rows_skipped, 2);
    ASSERT_EQ_INT(s7.rows_written, 3);
    ASSERT_EQ_INT(s7.rows_skipped, 2);
    ASSERT_EQ_INT(raw_simple_int(c6, "DBSIZE"), 3);
    ASSERT_EQ_INT(raw_simple_int(c7, "DBSIZE"), 4);
    const char *keys[] = {KEY_1001 PROJ_HEX, KEY_1002 PROJ_HEX, KEY_1003 PROJ_HEX};
    for (int i = 0; i < 3; i++) {
        char *h6 = raw_hash_dump(c6, keys[i]), *h7 = raw_hash_dump(c7, keys[i]);
        ASSERT_EQ_STR(h6, h7);
        free(h6);
        free(h7);
        long long ttl = raw_int(c6, "TTL", keys[i]);
        ASSERT_TRUE(ttl > 3500 && ttl <= 3600);
        ttl = raw_int(c7, "TTL", keys[i]);
        ASSERT_TRUE(ttl > 3500 && ttl <= 3600);
    }
    /* ... and they are Feast's bytes (§6.4 golden key, field names and _ts). */
    ASSERT_EQ_STR(raw_hget(c6, KEY_1001 PROJ_HEX, TSF, false), TS_T0);
    ASSERT_EQ_STR(raw_hget(c6, KEY_1001 PROJ_HEX, FLD_CONV, true), "3500004040");
    ASSERT_EQ_STR(raw_hget(c6, KEY_1001 PROJ_HEX, FLD_ACC, true), F_DOC);
    ASSERT_EQ_STR(raw_hget(c6, KEY_1001 PROJ_HEX, FLD_TRIPS, true), I_308);
    ASSERT_EQ_STR(raw_hget(c6, KEY_1002 PROJ_HEX, TSF, false), TS_T0 "108094ef3a");
    ASSERT_EQ_STR(raw_hget(c6, KEY_1003 PROJ_HEX, TSF, false), "08feffffffffffffffff01" "1080cab5ee01");
    ASSERT_EQ_INT(raw_int(c6, "HLEN", KEY_1003 PROJ_HEX), 4);
    batch_free(&b);
    redisFree(c6);
    redisFree(c7);
}

TEST(online_redis_empty_start_is_trusted_for_that_view_run_only)
{
    /* After begin_view found the database empty, the view's writes do not read: a _ts slipped in
     * behind ferry's back is overwritten, which is why this needs ferry's rule of one job per view
     * at a time. The next begin_view sees a non-empty database and reads again. */
    redisContext *c = fresh_db(8);
    struct online_store *st = open_db(8);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct ferry_err e = {0};
    ASSERT_OK(online_begin_view(st, "feature_repo", &v, &e), E(&e));
    raw_cmd_key(c, "HSET", KEY_1001 PROJ_HEX, TSF, TS_T0);
    struct online_write_stats s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0 - 60), F_DOC, "", "");
    ASSERT_EQ_INT(s.rows_written, 1);
    ASSERT_EQ_STR(raw_hget(c, KEY_1001 PROJ_HEX, TSF, false), TS_T0_MINUS_60);
    /* Another view's writes were not started on the empty database: they read first. */
    long long h0 = raw_calls(c, "hget");
    write_row(st, "other_view", KEY_1001, SEC(T0), F_DOC, "", "");
    ASSERT_EQ_INT(raw_calls(c, "hget") - h0, 1);
    ASSERT_OK(online_begin_view(st, "feature_repo", &v, &e), E(&e));
    raw_cmd_key(c, "HSET", KEY_1001 PROJ_HEX, TSF, TS_T0);
    s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0 - 60), F_HALF, "", "");
    ASSERT_EQ_INT(s.rows_skipped, 1);
    ASSERT_EQ_STR(raw_hget(c, KEY_1001 PROJ_HEX, FLD_CONV, true), F_DOC);
    online_close(st);
    redisFree(c);
}

TEST(online_redis_failed_write_names_the_key_and_ends_the_empty_start)
{
    redisContext *c = fresh_db(8);
    struct online_store *st = open_db(8);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct ferry_err e = {0};
    ASSERT_OK(online_begin_view(st, "feature_repo", &v, &e), E(&e));
    struct fbuf k;
    key_buf(&k, KEY_1002 PROJ_HEX);
    redisReply *r = redisCommand(c, "SET %b x", k.data, k.len);   /* not a hash: HSET fails */
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    fbuf_cleanup(&k);
    struct feast_batch b;
    batch_init(&b, &driver_schema, 2);
    const char *vals[] = {F_HALF, "", ""};
    batch_row(&b, KEY_1002, SEC(T0), vals);
    struct online_write_stats s = {0};
    ASSERT_EQ_INT(online_write(st, "feature_repo", &v, &b, &s, &e), FERRY_ESTORE);
    ASSERT_CONTAINS(e.msg, "WRONGTYPE");
    ASSERT_CONTAINS(e.msg, "view driver_hourly_stats");
    ASSERT_CONTAINS(e.msg, "key " KEY_1002_FLAT);
    ASSERT_CONTAINS(e.msg, redis_addr());
    /* The failure ended the empty-start mode: the next write reads, and skips an older row. */
    raw_cmd_key(c, "HSET", KEY_1003 PROJ_HEX, TSF, TS_T0);
    long long h0 = raw_calls(c, "hget");
    s = write_row(st, "driver_hourly_stats", KEY_1003, SEC(T0 - 60), F_DOC, "", "");
    ASSERT_EQ_INT(raw_calls(c, "hget") - h0, 1);
    ASSERT_EQ_INT(s.rows_skipped, 1);
    ASSERT_EQ_STR(raw_hget(c, KEY_1003 PROJ_HEX, FLD_CONV, true), "(nil)");
    /* Read-then-write on the string key fails at the read, naming it too. */
    ASSERT_EQ_INT(online_write(st, "feature_repo", &v, &b, &s, &e), FERRY_ESTORE);
    ASSERT_CONTAINS(e.msg, "WRONGTYPE");
    ASSERT_CONTAINS(e.msg, "key " KEY_1002_FLAT);
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

TEST(online_redis_key_ttl_expires_whole_hash_on_write_only)
{
    redisContext *c = fresh_db(1);
    struct rcfg rc;
    redis_cfg(&rc, 1, NULL);
    rc.cfg.online.key_ttl_seconds = 3600;
    struct online_store *st = open_cfg(&rc);
    const char *key = KEY_1001 PROJ_HEX;
    write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0), F_HALF, "", "");
    long long ttl = raw_int(c, "TTL", key);
    ASSERT_TRUE(ttl > 3500 && ttl <= 3600);
    /* A skipped row does not touch the key, so not its TTL either (Feast queues EXPIRE with the HSET). */
    raw_cmd_key(c, "PERSIST", key, NULL, NULL);
    write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0 - 1), F_DOC, "", "");
    ASSERT_EQ_INT(raw_int(c, "TTL", key), -1);
    /* Another view's write renews the TTL of the whole entity hash. */
    write_row(st, "other_view", KEY_1001, SEC(T0 - 1), F_DOC, "", "");
    ttl = raw_int(c, "TTL", key);
    ASSERT_TRUE(ttl > 3500 && ttl <= 3600);
    ASSERT_EQ_INT(raw_int(c, "HLEN", key), 8);  /* two views share the hash: 2 x (_ts + 3 features) */
    online_close(st);
    redisFree(c);
}

TEST(online_redis_skip_dedup_writes_every_row_in_order)
{
    redisContext *c = fresh_db(1);
    struct rcfg rc;
    redis_cfg(&rc, 1, NULL);
    rc.cfg.online.skip_dedup = true;
    rc.cfg.online.key_ttl_seconds = 60;
    struct online_store *st = open_cfg(&rc);
    const char *key = KEY_1001 PROJ_HEX;
    write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0), F_HALF, "", "");
    /* No read: an older row replaces the stored one, and the last row of a key wins. */
    long long hget0 = raw_calls(c, "hget");
    struct online_write_stats s = write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0 - 60), F_DOC, "", "");
    ASSERT_EQ_INT(raw_calls(c, "hget"), hget0);
    ASSERT_EQ_INT(s.rows_written, 1);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), F_DOC);
    ASSERT_EQ_STR(raw_hget(c, key, TSF, false), "08b496be8e06");  /* T0 - 60 */
    struct feast_batch b;
    batch_init(&b, &driver_schema, 4);
    const char *x[] = {"3500004040", "", ""}, *y[] = {"3500008040", "", ""};
    batch_row(&b, KEY_1001, SEC(T0 + 5), x);
    batch_row(&b, KEY_1001, SEC(T0 + 1), y);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct ferry_err e = {0};
    s = (struct online_write_stats){0};
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    ASSERT_EQ_INT(s.rows_written, 2);
    ASSERT_EQ_STR(raw_hget(c, key, FLD_CONV, true), "3500008040");
    long long ttl = raw_int(c, "TTL", key);
    ASSERT_TRUE(ttl > 0 && ttl <= 60);
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

TEST(online_redis_view_with_many_features_is_written_whole)
{
    /* One HSET of 1 + 1500 fields: a command far longer than the short ones of the usual views. */
    enum { NF = 1500 };
    redisContext *c = fresh_db(1);
    struct online_store *st = open_db(1);
    static char *names[NF];
    static struct feast_feature feats[NF];
    for (int i = 0; i < NF; i++) {
        char n[16];
        snprintf(n, sizeof n, "f%d", i);
        names[i] = strdup(n);
        feats[i] = (struct feast_feature){names[i], FEAST_VT_INT64, NULL};
    }
    struct feast_schema sc = {.key_version = 3, .nfeatures = NF, .feature_names = names};
    struct feast_view v = {0};
    v.name = "wide";
    v.features = feats;
    v.nfeatures = NF;
    struct feast_batch b;
    batch_init(&b, &sc, 2);
    static const char *vals[NF];
    for (int i = 0; i < NF; i++)
        vals[i] = I_308;
    batch_row(&b, KEY_1001, SEC(T0), vals);
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    ASSERT_EQ_INT(raw_int(c, "HLEN", KEY_1001 PROJ_HEX), NF + 1);
    /* The last feature: its field is murmur3("wide:f1499"), checked against the hash function. */
    uint32_t h = feast_murmur3_32("wide:f1499", 10, 0);
    unsigned char f[4] = {(unsigned char)h, (unsigned char)(h >> 8), (unsigned char)(h >> 16), (unsigned char)(h >> 24)};
    ASSERT_EQ_STR(raw_hget(c, KEY_1001 PROJ_HEX, hexs(f, 4), true), I_308);
    batch_free(&b);
    for (int i = 0; i < NF; i++)
        free(names[i]);
    online_close(st);
    redisFree(c);
}

/* ---- read ---- */

TEST(online_redis_read_answers_like_feast_for_missing_entities)
{
    redisContext *c = fresh_db(1);
    /* A hash exactly as Feast writes it (golden bytes), for driver 1001. */
    const char *key = KEY_1001 PROJ_HEX;
    raw_cmd_key(c, "HSET", key, TSF, TS_T0 "10c0843d");   /* nanos 1000000 */
    struct fbuf k, f;
    fbuf_init(&k, 4096);
    fbuf_init(&f, 64);
    add_hex(&k, key);
    add_hex(&f, FLD_CONV);
    redisReply *r0 = redisCommand(c, "HSET %b %b %b %b %b", k.data, k.len, f.data, f.len, "\x35\xf5\x69\x6d\x3f",
                                  (size_t)5, "\x18\xa5\xe5\xa3", (size_t)4, "\x20\xb4\x02", (size_t)3);
    ASSERT_TRUE(r0 && r0->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r0);
    /* Driver 1002 has only another view's fields. */
    raw_cmd_key(c, "HSET", KEY_1002 PROJ_HEX, "_ts:other", TS_T0);
    struct online_store *st = open_db(1);
    struct fbuf keys[4];
    key_buf(&keys[0], KEY_1001);
    key_buf(&keys[1], KEY_1002);
    key_buf(&keys[2], KEY_1003);
    key_buf(&keys[3], KEY_1001);
    const char *feats[] = {"avg_daily_trips", "acc_rate", "conv_rate"};
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_read_result r;
    struct ferry_err e = {0};
    ASSERT_OK(online_read(st, "feature_repo", &v, keys, 4, feats, 3, &r, &e), E(&e));
    /* Feast's Redis read returns empty Values and Timestamp 0 for a missing entity, which its server
     * reports as PRESENT, null, 1970-01-01T00:00:00Z: so every key is found, at time 0. */
    int64_t ts[] = {SEC(T0) + 1000000, 0, 0, SEC(T0) + 1000000};
    const char *want[4][3] = {{I_308, "", F_DOC}, {"", "", ""}, {"", "", ""}, {I_308, "", F_DOC}};
    for (size_t i = 0; i < 4; i++) {
        ASSERT_TRUE(r.found[i]);
        ASSERT_EQ_INT(r.event_ns[i], ts[i]);
        for (size_t j = 0; j < 3; j++)
            ASSERT_EQ_HEX(r.bytes.data + r.val_off[i * 3 + j], r.val_len[i * 3 + j], want[i][j]);
    }
    online_read_result_cleanup(&r);
    /* A key holding something other than a hash is an error naming the server and the view. */
    redisReply *r1 = redisCommand(c, "SET %b x", k.data, k.len);
    freeReplyObject(r1);
    ASSERT_EQ_INT(online_read(st, "feature_repo", &v, keys, 1, feats, 3, &r, &e), FERRY_ESTORE);
    ASSERT_CONTAINS(e.msg, "WRONGTYPE");
    ASSERT_CONTAINS(e.msg, "driver_hourly_stats");
    ASSERT_CONTAINS(e.msg, redis_addr());
    ASSERT_TRUE(r.found == NULL);
    /* The connection is still in step after the error. */
    ASSERT_OK(online_read(st, "feature_repo", &v, keys + 1, 2, feats, 3, &r, &e), E(&e));
    online_read_result_cleanup(&r);
    for (int i = 0; i < 4; i++)
        fbuf_cleanup(&keys[i]);
    fbuf_cleanup(&k);
    fbuf_cleanup(&f);
    online_close(st);
    redisFree(c);
}

/* ---- connection ---- */

TEST(online_redis_db_keyword_selects_the_database)
{
    redisContext *c0 = fresh_db(0), *c3 = fresh_db(3);
    struct online_store *st = open_db(3);
    write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0), F_HALF, "", "");
    ASSERT_EQ_INT(raw_simple_int(c3, "DBSIZE"), 1);
    ASSERT_EQ_INT(raw_simple_int(c0, "DBSIZE"), 0);
    online_close(st);
    redisFree(c0);
    redisFree(c3);
}

TEST(online_redis_connection_string_grammar)
{
    struct redis_conn_opts o;
    struct ferry_err e = {0};
    ASSERT_OK(redis_conn_parse("h1:7000,h2:7001,db=\"4\",password=123,username=u,socket_timeout=2.5,"
                               "socket_keepalive=true,ssl=false,ssl_cert_reqs=none,client_name=\"ferry\"", &o, &e), E(&e));
    ASSERT_EQ_STR(o.host, "h1");
    ASSERT_EQ_INT(o.port, 7000);
    ASSERT_EQ_INT(o.db, 4);
    ASSERT_EQ_STR(o.password, "123");      /* json int 123, sent as its text by redis-py */
    ASSERT_EQ_STR(o.username, "u");
    ASSERT_EQ_STR(o.client_name, "ferry"); /* JSON string: quotes removed */
    ASSERT_EQ_DBL(o.socket_timeout_s, 2.5);
    ASSERT_TRUE(o.keepalive);
    redis_conn_opts_cleanup(&o);
    ASSERT_OK(redis_conn_parse("redis", &o, &e), E(&e));
    ASSERT_EQ_STR(o.host, "redis");
    ASSERT_EQ_INT(o.port, 6379);
    ASSERT_TRUE(o.password == NULL);
    redis_conn_opts_cleanup(&o);
    ASSERT_OK(redis_conn_parse("db=2,localhost:6380,password=null", &o, &e), E(&e));
    ASSERT_EQ_INT(o.port, 6380);
    ASSERT_TRUE(o.password == NULL);
    redis_conn_opts_cleanup(&o);

    ASSERT_EQ_INT(redis_conn_parse("db=1", &o, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "names no host:port");
    ASSERT_EQ_INT(redis_conn_parse("h:6379,ssl=true", &o, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "ssl=true is not supported");
    ASSERT_EQ_INT(redis_conn_parse("h:6379,ssl=yes", &o, &e), FERRY_ECONFIG);  /* a non-empty string is truthy */
    ASSERT_EQ_INT(redis_conn_parse("h:6379,retry_on_timeout=true", &o, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "keyword 'retry_on_timeout' is not supported");
    ASSERT_EQ_INT(redis_conn_parse("h:port", &o, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "port 'port'");
    ASSERT_EQ_INT(redis_conn_parse(":6379", &o, &e), FERRY_ECONFIG);
    ASSERT_EQ_INT(redis_conn_parse("h:6379,db=-1", &o, &e), FERRY_ECONFIG);
    ASSERT_EQ_INT(redis_conn_parse("h:6379,password=[1]", &o, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "password must be a string");
}

TEST(online_redis_open_rejects_what_it_cannot_honour)
{
    struct rcfg rc;
    struct online_store *st = NULL;
    struct ferry_err e = {0};
    redis_cfg(&rc, 1, NULL);
    rc.cfg.online.redis_type = "redis_cluster";
    ASSERT_EQ_INT(online_open(&rc.cfg, &st, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "redis_cluster is not supported by ferry");
    rc.cfg.online.redis_type = "redis_sentinel";
    ASSERT_EQ_INT(online_open(&rc.cfg, &st, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "redis_sentinel is not supported by ferry");
    redis_cfg(&rc, 1, ",ssl=true");
    ASSERT_EQ_INT(online_open(&rc.cfg, &st, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "ssl=true");
    ASSERT_TRUE(st == NULL);
    /* Nothing listens on port 1: the error names the address. */
    rc.cfg.online.connection_string = "127.0.0.1:1,socket_connect_timeout=2";
    ASSERT_EQ_INT(online_open(&rc.cfg, &st, &e), FERRY_ESTORE);
    ASSERT_CONTAINS(e.msg, "127.0.0.1:1");
    ASSERT_CONTAINS(e.msg, "cannot connect");
    /* A password the server does not expect: its error, never the password itself. */
    redis_cfg(&rc, 1, ",password=s3cret-pw");
    ASSERT_EQ_INT(online_open(&rc.cfg, &st, &e), FERRY_ESTORE);
    ASSERT_CONTAINS(e.msg, "authentication failed");
    ASSERT_TRUE(strstr(e.msg, "s3cret-pw") == NULL);
}

TEST(online_redis_reconnects_after_the_connection_is_killed)
{
    redisContext *c = fresh_db(1);
    struct rcfg rc;
    redis_cfg(&rc, 1, ",client_name=ferry_reconnect_test");
    struct online_store *st = open_cfg(&rc);
    write_row(st, "driver_hourly_stats", KEY_1001, SEC(T0), F_HALF, "", "");
    redisReply *r = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 1);
    freeReplyObject(r);
    /* The first call after the kill may fail (the socket is dead); the next one reconnects. */
    struct feast_batch b;
    batch_init(&b, &driver_schema, 2);
    const char *vals[] = {F_DOC, "", ""};
    batch_row(&b, KEY_1001, SEC(T0 + 1), vals);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    if (online_write(st, "feature_repo", &v, &b, &s, &e) != 0) {
        ASSERT_CONTAINS(e.msg, redis_addr());
        ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    }
    ASSERT_EQ_STR(raw_hget(c, KEY_1001 PROJ_HEX, FLD_CONV, true), F_DOC);
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

/* ---- volume ---- */

TEST(online_redis_100k_entities_write_skip_and_read)
{
    enum { N = 100000 };
    redisContext *c = fresh_db(4);
    struct online_store *st = open_db(4);
    struct feast_batch b;
    batch_init(&b, &driver_schema, N);
    const char *vals[] = {F_HALF, F_DOC, I_308};
    char hex[128];
    for (int i = 0; i < N; i++) {
        snprintf(hex, sizeof hex, "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 %02x%02x%02x%02x00000000",
                 i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, (i >> 24) & 0xff);
        batch_row(&b, hex, SEC(T0) + i, vals);
    }
    struct feast_view v = driver_view("driver_hourly_stats");
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ASSERT_EQ_INT(s.rows_written, N);
    ASSERT_EQ_INT(raw_simple_int(c, "DBSIZE"), N);
    /* The same batch again: every row is equal to what is stored, so nothing is written. */
    s = (struct online_write_stats){0};
    ASSERT_OK(online_write(st, "feature_repo", &v, &b, &s, &e), E(&e));
    clock_gettime(CLOCK_MONOTONIC, &t2);
    ASSERT_EQ_INT(s.rows_written, 0);
    ASSERT_EQ_INT(s.rows_skipped, N);
    double w = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double k = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    fprintf(stderr, "  redis: %d entities written in %.3fs (%.0f rows/s), re-sent and skipped in %.3fs (%.0f rows/s)\n",
            N, w, N / w, k, N / k);
    /* Read them all back through ferry. */
    struct fbuf *keys = calloc(N, sizeof *keys);
    for (int i = 0; i < N; i++) {
        fbuf_init(&keys[i], 64);
        fbuf_add(&keys[i], feast_batch_key(&b, (size_t)i), b.rows[i].key_len);
    }
    const char *feats[] = {"avg_daily_trips"};
    struct online_read_result r;
    struct timespec t3;
    ASSERT_OK(online_read(st, "feature_repo", &v, keys, N, feats, 1, &r, &e), E(&e));
    clock_gettime(CLOCK_MONOTONIC, &t3);
    double rd = (double)(t3.tv_sec - t2.tv_sec) + (double)(t3.tv_nsec - t2.tv_nsec) / 1e9;
    fprintf(stderr, "  redis: %d entities read in %.3fs (%.0f keys/s, key setup included)\n", N, rd, N / rd);
    for (int i = 0; i < N; i += 997) {
        ASSERT_EQ_INT(r.event_ns[i], SEC(T0) + i / 1000 * 1000);
        ASSERT_EQ_HEX(r.bytes.data + r.val_off[i], r.val_len[i], I_308);
    }
    online_read_result_cleanup(&r);
    for (int i = 0; i < N; i++)
        fbuf_cleanup(&keys[i]);
    free(keys);
    batch_free(&b);
    online_close(st);
    redisFree(c);
}

/* ---- end to end ---- */

static void write_repo(const char *dir, const char *online_yaml)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/data", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/feature_store.yaml", dir);
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "project: e2e\nregistry: data/registry.db\nprovider: local\nonline_store:\n%s"
             "entity_key_serialization_version: 3\n", online_yaml);
    test_write_file(p, yaml);
    snprintf(p, sizeof p, "%s/features.yaml", dir);
    test_write_file(p,
                    "entities:\n  - name: driver\n    join_key: driver_id\n"
                    "sources:\n  - name: driver_source\n    path: data/driver_stats.parquet\n"
                    "    timestamp_field: event_timestamp\n    created_timestamp_column: created\n"
                    "feature_views:\n  - name: driver_hourly_stats\n    entities: [driver]\n    ttl: 1d\n"
                    "    source: driver_source\n    schema:\n      - {name: driver_id, dtype: Int64}\n"
                    "      - {name: conv_rate, dtype: Float32}\n      - {name: acc_rate, dtype: Float32}\n"
                    "      - {name: avg_daily_trips, dtype: Int64}\n");
    size_t n = 0;
    char *data = test_read_file(test_fixture("driver_stats.parquet"), &n);
    if (!data)
        test_fail(__FILE__, __LINE__, "cannot read the driver_stats fixture");
    snprintf(p, sizeof p, "%s/data/driver_stats.parquet", dir);
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    free(data);
}

static char *run_ok(const char *dir, const char *const *args)
{
    const char *argv[16] = {"-c", dir};
    size_t i = 2;
    for (; args[i - 2] && i < 15; i++)
        argv[i] = args[i - 2];
    argv[i] = NULL;
    struct run_result r;
    test_run_ferry(&r, NULL, argv);
    if (r.status != 0)
        test_fail(__FILE__, __LINE__, "ferry %s exited %d\nstdout: %s\nstderr: %s", args[0], r.status, r.out, r.err);
    char *out = strdup(r.out);
    run_result_cleanup(&r);
    return out;
}

/* Replaces every "NOT_FOUND" by "PRESENT" (in place, shifting the tail). */
static void not_found_to_present(char *s)
{
    char *p;
    while ((p = strstr(s, "\"NOT_FOUND\""))) {
        memcpy(p, "\"PRESENT\"", 9);
        memmove(p + 9, p + 11, strlen(p + 11) + 1);
    }
}

TEST(online_redis_e2e_get_online_features_answers_like_feast_redis)
{
    /* The same repository materialized into SQLite and into Redis must answer get-online-features
     * identically, except that Feast's Redis store reports a missing entity as PRESENT (null values,
     * time 0) where SQLite says NOT_FOUND (feast-compat.md §6.3, §8.3). */
    redisContext *c = fresh_db(5);
    char sdir[1024], rdir[1024], ryaml[512];
    snprintf(sdir, sizeof sdir, "%s/sqlite_repo", test_tmpdir());
    snprintf(rdir, sizeof rdir, "%s/redis_repo", test_tmpdir());
    mkdir(sdir, 0755);
    mkdir(rdir, 0755);
    write_repo(sdir, "  type: sqlite\n  path: data/online.db\n");
    snprintf(ryaml, sizeof ryaml, "  type: redis\n  connection_string: \"%s,db=5\"\n", redis_addr());
    write_repo(rdir, ryaml);
    const char *apply[] = {"apply", NULL};
    const char *mat[] = {"materialize", "2021-04-12", "2021-04-13", NULL};
    const char *get[] = {"get-online-features", "-F", "driver_hourly_stats:conv_rate", "-F",
                         "driver_hourly_stats:avg_daily_trips", "-e", "driver_id=1001", "-e", "driver_id=9999",
                         "-e", "driver_id=1005", NULL};
    free(run_ok(sdir, apply));
    free(run_ok(rdir, apply));
    free(run_ok(sdir, mat));
    /* The engine starts the view's run on the empty database: written without one HGET. */
    long long hget0 = raw_calls(c, "hget");
    free(run_ok(rdir, mat));
    ASSERT_EQ_INT(raw_calls(c, "hget"), hget0);
    ASSERT_TRUE(raw_simple_int(c, "DBSIZE") > 0);
    char *want = run_ok(sdir, get), *got = run_ok(rdir, get);
    ASSERT_CONTAINS(want, "\"NOT_FOUND\"");   /* 9999 is not in the data */
    not_found_to_present(want);
    ASSERT_EQ_STR(got, want);
    /* ... so 9999's feature cells read PRESENT, null, at the epoch. */
    ASSERT_CONTAINS(got, ",null,0.4");
    ASSERT_CONTAINS(got, "\"statuses\":[\"PRESENT\",\"PRESENT\",\"PRESENT\"],\"event_timestamps\":"
                         "[\"2021-04-12T07:00:00Z\",\"1970-01-01T00:00:00Z\",\"2021-04-12T07:00:00Z\"]");
    /* Materializing the same window again reads every stored _ts, writes nothing new in Redis and
     * changes no answer. */
    free(run_ok(rdir, mat));
    ASSERT_EQ_INT(raw_calls(c, "hget") - hget0, raw_simple_int(c, "DBSIZE"));
    char *again = run_ok(rdir, get);
    ASSERT_EQ_STR(again, want);
    free(want);
    free(got);
    free(again);
    redisFree(c);
}
