/* online/: ONE suite of cases run against every online store (sqlite and redis), through the
 * online.h interface only, with the same inputs and the same expected values. Where Feast's stores
 * genuinely answer differently, the difference is a named trait of the backend below (never a
 * different case), so a new store states up front where it departs from the others:
 *   equal_time_overwrites  sqlite upserts on an equal time (Feast overwrites unconditionally, ferry
 *                          keeps >=); redis skips it (Feast: new <= latest is skipped).
 *   missing_is_found       redis: Feast's Redis read returns empty Values and Timestamp 0 for a
 *                          missing entity (its server says PRESENT); sqlite: not found.
 *   time_precision_ns      sqlite stores whole seconds; redis a Timestamp with microseconds.
 * Values are hand-made golden bytes (feast-compat.md §3.2, §4.4); each test gets a fresh store.
 * The redis backend needs FERRY_TEST_REDIS (scripts/test_services.sh) and FAILS without it. */
#include "test.h"

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/time.h"
#include "online/online.h"

#define T0 INT64_C(1640991600)   /* 2021-12-31T23:00:00Z */
#define SEC(s) ((int64_t)(s) * FERRY_NS_PER_SEC)
#define K(id) "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 " id "00000000000000"
#define F_HALF "350000003f"
#define F_DOC "35f5696d3f"
#define I_308 "20b402"
#define REDIS_DB 2

static struct ferry_err *E(struct ferry_err *e) { return e; }

struct backend {
    const char *name;
    struct online_store *(*open)(void);
    bool equal_time_overwrites;
    bool missing_is_found;
    int64_t time_precision_ns;
};

/* ---- backends ---- */

static struct online_store *open_sqlite(void)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/online.db", test_tmpdir());
    struct ferry_config cfg = {0};
    cfg.project = "p";
    cfg.key_version = 3;
    cfg.online.type = "sqlite";
    cfg.online.path = path;
    struct online_store *st = NULL;
    struct ferry_err e = {0};
    ASSERT_OK(online_open(&cfg, &st, &e), E(&e));
    return st;
}

static struct online_store *open_redis(void)
{
    const char *addr = getenv("FERRY_TEST_REDIS");
    if (!addr || !*addr)
        test_fail(__FILE__, __LINE__, "FERRY_TEST_REDIS is not set: the redis conformance cases need a redis-server; "
                  "run them as scripts/test_services.sh make test-one T=conformance");
    char host[128];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host)
        test_fail(__FILE__, __LINE__, "FERRY_TEST_REDIS '%s' is not host:port", addr);
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    redisContext *c = redisConnect(host, atoi(colon + 1));
    if (!c || c->err)
        test_fail(__FILE__, __LINE__, "cannot connect to %s", addr);
    redisReply *r = redisCommand(c, "SELECT %d", REDIS_DB);
    freeReplyObject(r);
    r = redisCommand(c, "FLUSHDB");
    if (!r || r->type == REDIS_REPLY_ERROR)
        test_fail(__FILE__, __LINE__, "FLUSHDB on %s failed", addr);
    freeReplyObject(r);
    redisFree(c);
    static char cs[256];
    snprintf(cs, sizeof cs, "%s,db=%d", addr, REDIS_DB);
    struct ferry_config cfg = {0};
    cfg.project = "p";
    cfg.key_version = 3;
    cfg.online.type = "redis";
    cfg.online.redis_type = "redis";
    cfg.online.connection_string = cs;
    struct online_store *st = NULL;
    struct ferry_err e = {0};
    ASSERT_OK(online_open(&cfg, &st, &e), E(&e));
    return st;
}

static const struct backend sqlite_backend = {"sqlite", open_sqlite, true, false, FERRY_NS_PER_SEC};
static const struct backend redis_backend = {"redis", open_redis, false, true, 1000};

/* Every case, once per backend. */
#define CONFORMANCE(fn)                                  \
    static void fn(const struct backend *be);            \
    TEST(conformance_sqlite_##fn) { fn(&sqlite_backend); } \
    TEST(conformance_redis_##fn) { fn(&redis_backend); }  \
    static void fn(const struct backend *be)

/* ---- batches by hand ---- */

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

struct fixture {
    struct feast_schema schema;
    struct feast_view view;
    struct feast_feature feats[16];
};

static void fixture_init(struct fixture *fx, const char *view, size_t n, char **names, const int *vtypes)
{
    memset(fx, 0, sizeof *fx);
    fx->schema.key_version = 3;
    fx->schema.nfeatures = n;
    fx->schema.feature_names = names;
    for (size_t i = 0; i < n; i++)
        fx->feats[i] = (struct feast_feature){names[i], vtypes[i], NULL};
    fx->view.name = (char *)view;
    fx->view.features = fx->feats;
    fx->view.nfeatures = n;
}

static char *two_names[] = {"conv_rate", "avg_daily_trips"};
static const int two_types[] = {FEAST_VT_FLOAT, FEAST_VT_INT64};

/* Writes rows (key hex, time, values hex...) as one batch; returns the stats. */
struct row { const char *key; int64_t ns; const char *vals[16]; };

static struct online_write_stats write_rows(struct online_store *st, const char *project, struct fixture *fx,
                                            const struct row *rows, size_t n)
{
    struct feast_batch b;
    memset(&b, 0, sizeof b);
    b.schema = &fx->schema;
    b.cap_rows = n;
    b.rows = calloc(n, sizeof *b.rows);
    b.cells = calloc(n * fx->schema.nfeatures + 1, sizeof *b.cells);
    fbuf_init(&b.bytes, 1 << 20);
    for (size_t r = 0; r < n; r++) {
        b.rows[r].key_off = b.bytes.len;
        b.rows[r].key_len = (uint32_t)add_hex(&b.bytes, rows[r].key);
        b.rows[r].event_ns = rows[r].ns;
        b.rows[r].created_ns = FERRY_TIME_NONE;
        for (size_t f = 0; f < fx->schema.nfeatures; f++) {
            struct feast_batch_cell *c = &b.cells[r * fx->schema.nfeatures + f];
            c->val_off = b.bytes.len;
            c->val_len = (uint32_t)add_hex(&b.bytes, rows[r].vals[f]);
            c->text_len = -1;
        }
        b.nrows++;
    }
    struct online_write_stats s = {0};
    struct ferry_err e = {0};
    ASSERT_OK(online_prepare(st, project, &fx->view, &e), E(&e));
    ASSERT_OK(online_write(st, project, &fx->view, &b, &s, &e), E(&e));
    free(b.rows);
    free(b.cells);
    fbuf_cleanup(&b.bytes);
    return s;
}

/* Reads the given keys and all the fixture's features. */
static void read_keys(struct online_store *st, const char *project, struct fixture *fx, const char *const *keys,
                      size_t n, struct online_read_result *r)
{
    struct fbuf kb[16];
    for (size_t i = 0; i < n; i++) {
        fbuf_init(&kb[i], 4096);
        add_hex(&kb[i], keys[i]);
    }
    const char *feats[16];
    for (size_t f = 0; f < fx->schema.nfeatures; f++)
        feats[f] = fx->schema.feature_names[f];
    struct ferry_err e = {0};
    ASSERT_OK(online_read(st, project, &fx->view, kb, n, feats, fx->schema.nfeatures, r, &e), E(&e));
    for (size_t i = 0; i < n; i++)
        fbuf_cleanup(&kb[i]);
}

#define ASSERT_CELL(r, k, f, hex) \
    ASSERT_EQ_HEX((r)->bytes.data + (r)->val_off[(k) * (r)->nfeatures + (f)], (r)->val_len[(k) * (r)->nfeatures + (f)], hex)

static int64_t truncated(const struct backend *be, int64_t ns) { return ns - ns % be->time_precision_ns; }

/* ---- cases ---- */

CONFORMANCE(types_round_trip_byte_for_byte)
{
    static char *names[] = {"f32", "f64", "i32", "i64", "b", "s", "raw", "ts", "i64s", "strs", "nul"};
    static const int types[] = {FEAST_VT_FLOAT, FEAST_VT_DOUBLE, FEAST_VT_INT32, FEAST_VT_INT64, FEAST_VT_BOOL,
                                FEAST_VT_STRING, FEAST_VT_BYTES, FEAST_VT_UNIX_TIMESTAMP, FEAST_VT_INT64_LIST,
                                FEAST_VT_STRING_LIST, FEAST_VT_STRING};
    /* §4.4 encodings; lists: Int64List{1,2} in field 14, StringList{"a",""} in field 12; bytes 00 ff. */
    static const char *vals[] = {F_HALF, "29000000000000e03f", "18ffffffff0f", "20ffffffffffffffffff01", "3800",
                                 "1203616263", "0a0200ff", "40f096be8e06", "72040a020102", "620512016112 00", ""};
    struct fixture fx;
    fixture_init(&fx, "types", 11, names, types);
    struct online_store *st = be->open();
    struct row r = {K("e9"), SEC(T0), {0}};
    memcpy(r.vals, vals, sizeof vals);
    struct online_write_stats s = write_rows(st, "p", &fx, &r, 1);
    ASSERT_EQ_INT(s.rows_written, 1);
    struct online_read_result res;
    const char *keys[] = {K("e9")};
    read_keys(st, "p", &fx, keys, 1, &res);
    ASSERT_TRUE(res.found[0]);
    ASSERT_EQ_INT(res.event_ns[0], SEC(T0));
    for (size_t f = 0; f < 11; f++)
        ASSERT_CELL(&res, 0, f, vals[f]);
    online_read_result_cleanup(&res);
    online_close(st);
}

CONFORMANCE(null_replaces_value_and_value_replaces_null)
{
    struct fixture fx;
    fixture_init(&fx, "v", 2, two_names, two_types);
    struct online_store *st = be->open();
    struct row r1 = {K("e9"), SEC(T0), {F_HALF, ""}};
    write_rows(st, "p", &fx, &r1, 1);
    struct row r2 = {K("e9"), SEC(T0 + 1), {"", I_308}};
    ASSERT_EQ_INT(write_rows(st, "p", &fx, &r2, 1).rows_written, 1);
    struct online_read_result res;
    const char *keys[] = {K("e9")};
    read_keys(st, "p", &fx, keys, 1, &res);
    ASSERT_TRUE(res.found[0]);
    ASSERT_CELL(&res, 0, 0, "");      /* a null written later hides the older value */
    ASSERT_CELL(&res, 0, 1, I_308);
    ASSERT_EQ_INT(res.event_ns[0], SEC(T0 + 1));
    online_read_result_cleanup(&res);
    online_close(st);
}

CONFORMANCE(multi_key_entities_are_distinct)
{
    /* customer_id (string) + driver_id (int64), sorted by name (§3.1-3.2). */
#define MK(cust_hex, id) "02000000 02000000 0b000000 637573746f6d65725f6964 02000000 09000000 6472697665725f6964 " \
                         "02000000 01000000 " cust_hex " 04000000 08000000 " id "00000000000000"
    struct fixture fx;
    fixture_init(&fx, "v", 2, two_names, two_types);
    struct online_store *st = be->open();
    struct row rows[] = {
        {MK("61", "e9"), SEC(T0), {F_HALF, "2001"}},
        {MK("62", "e9"), SEC(T0), {F_DOC, "2002"}},
        {MK("61", "ea"), SEC(T0), {"", "2003"}},
    };
    ASSERT_EQ_INT(write_rows(st, "p", &fx, rows, 3).rows_written, 3);
    struct online_read_result res;
    const char *keys[] = {MK("61", "ea"), MK("61", "e9"), MK("62", "e9"), MK("62", "ea")};
    read_keys(st, "p", &fx, keys, 4, &res);
    ASSERT_CELL(&res, 0, 1, "2003");
    ASSERT_CELL(&res, 1, 0, F_HALF);
    ASSERT_CELL(&res, 1, 1, "2001");
    ASSERT_CELL(&res, 2, 0, F_DOC);
    ASSERT_CELL(&res, 3, 0, "");
    ASSERT_CELL(&res, 3, 1, "");
    ASSERT_EQ_INT(res.found[3], be->missing_is_found);
    online_read_result_cleanup(&res);
    online_close(st);
#undef MK
}

CONFORMANCE(older_row_never_replaces_newer)
{
    struct fixture fx;
    fixture_init(&fx, "v", 2, two_names, two_types);
    struct online_store *st = be->open();
    struct row r1 = {K("e9"), SEC(T0), {F_HALF, I_308}};
    write_rows(st, "p", &fx, &r1, 1);
    struct row r2 = {K("e9"), SEC(T0 - 3600), {F_DOC, ""}};
    struct online_write_stats s = write_rows(st, "p", &fx, &r2, 1);
    ASSERT_EQ_INT(s.rows_written, 0);
    ASSERT_EQ_INT(s.rows_skipped, 1);
    struct row r3 = {K("e9"), SEC(T0 + 3600), {F_DOC, ""}};
    s = write_rows(st, "p", &fx, &r3, 1);
    ASSERT_EQ_INT(s.rows_written, 1);
    struct online_read_result res;
    const char *keys[] = {K("e9")};
    read_keys(st, "p", &fx, keys, 1, &res);
    ASSERT_CELL(&res, 0, 0, F_DOC);
    ASSERT_CELL(&res, 0, 1, "");
    ASSERT_EQ_INT(res.event_ns[0], SEC(T0 + 3600));
    online_read_result_cleanup(&res);
    online_close(st);
}

CONFORMANCE(equal_timestamp_follows_the_store_rule)
{
    struct fixture fx;
    fixture_init(&fx, "v", 2, two_names, two_types);
    struct online_store *st = be->open();
    struct row r1 = {K("e9"), SEC(T0), {F_HALF, I_308}};
    write_rows(st, "p", &fx, &r1, 1);
    struct row r2 = {K("e9"), SEC(T0), {F_DOC, "2001"}};
    struct online_write_stats s = write_rows(st, "p", &fx, &r2, 1);
    ASSERT_EQ_INT(s.rows_written, be->equal_time_overwrites ? 1 : 0);
    ASSERT_EQ_INT(s.rows_skipped, be->equal_time_overwrites ? 0 : 1);
    struct online_read_result res;
    const char *keys[] = {K("e9")};
    read_keys(st, "p", &fx, keys, 1, &res);
    ASSERT_CELL(&res, 0, 0, be->equal_time_overwrites ? F_DOC : F_HALF);
    ASSERT_CELL(&res, 0, 1, be->equal_time_overwrites ? "2001" : I_308);
    online_read_result_cleanup(&res);
    online_close(st);
}

CONFORMANCE(missing_keys_read_as_the_store_answers)
{
    struct fixture fx;
    fixture_init(&fx, "v", 2, two_names, two_types);
    struct online_store *st = be->open();
    struct row r1 = {K("e9"), SEC(T0), {F_HALF, I_308}};
    write_rows(st, "p", &fx, &r1, 1);
    struct online_read_result res;
    const char *keys[] = {K("ff"), K("e9"), K("00"), K("e9")};
    read_keys(st, "p", &fx, keys, 4, &res);
    ASSERT_EQ_INT(res.nkeys, 4);
    for (size_t k = 0; k < 4; k += 2) {
        ASSERT_EQ_INT(res.found[k], be->missing_is_found);
        /* Feast's Redis read: Timestamp 0; sqlite: no time at all. */
        ASSERT_EQ_INT(res.event_ns[k], be->missing_is_found ? 0 : FERRY_TIME_NONE);
        ASSERT_CELL(&res, k, 0, "");
        ASSERT_CELL(&res, k, 1, "");
    }
    for (size_t k = 1; k < 4; k += 2) {  /* a repeated key gets the same answer */
        ASSERT_TRUE(res.found[k]);
        ASSERT_EQ_INT(res.event_ns[k], SEC(T0));
        ASSERT_CELL(&res, k, 0, F_HALF);
        ASSERT_CELL(&res, k, 1, I_308);
    }
    online_read_result_cleanup(&res);
    online_close(st);
}

CONFORMANCE(event_time_is_kept_at_the_store_precision)
{
    struct fixture fx;
    fixture_init(&fx, "v", 2, two_names, two_types);
    struct online_store *st = be->open();
    int64_t ns = SEC(T0) + 123456789;
    struct row r1 = {K("e9"), ns, {F_HALF, I_308}};
    write_rows(st, "p", &fx, &r1, 1);
    struct online_read_result res;
    const char *keys[] = {K("e9")};
    read_keys(st, "p", &fx, keys, 1, &res);
    ASSERT_EQ_INT(res.event_ns[0], truncated(be, ns));
    online_read_result_cleanup(&res);
    online_close(st);
}

CONFORMANCE(views_and_projects_do_not_see_each_other)
{
    struct fixture a, b;
    fixture_init(&a, "view_a", 2, two_names, two_types);
    fixture_init(&b, "view_b", 2, two_names, two_types);
    struct online_store *st = be->open();
    struct row ra = {K("e9"), SEC(T0), {F_HALF, "2001"}};
    struct row rb = {K("e9"), SEC(T0 + 7), {F_DOC, "2002"}};
    struct row rp = {K("e9"), SEC(T0 + 9), {"", "2003"}};
    write_rows(st, "p", &a, &ra, 1);
    write_rows(st, "p", &b, &rb, 1);
    write_rows(st, "q", &a, &rp, 1);
    const char *keys[] = {K("e9")};
    struct online_read_result res;
    read_keys(st, "p", &a, keys, 1, &res);
    ASSERT_CELL(&res, 0, 0, F_HALF);
    ASSERT_CELL(&res, 0, 1, "2001");
    ASSERT_EQ_INT(res.event_ns[0], SEC(T0));
    online_read_result_cleanup(&res);
    read_keys(st, "p", &b, keys, 1, &res);
    ASSERT_CELL(&res, 0, 1, "2002");
    ASSERT_EQ_INT(res.event_ns[0], SEC(T0 + 7));
    online_read_result_cleanup(&res);
    read_keys(st, "q", &a, keys, 1, &res);
    ASSERT_CELL(&res, 0, 0, "");
    ASSERT_CELL(&res, 0, 1, "2003");
    ASSERT_EQ_INT(res.event_ns[0], SEC(T0 + 9));
    online_read_result_cleanup(&res);
    online_close(st);
}

CONFORMANCE(batch_with_repeated_keys_ends_with_the_newest_row)
{
    /* The final state is the same in both stores when times differ (equal times are the case above). */
    struct fixture fx;
    fixture_init(&fx, "v", 2, two_names, two_types);
    struct online_store *st = be->open();
    struct row rows[] = {
        {K("e9"), SEC(T0 + 1), {F_HALF, "2001"}},
        {K("e9"), SEC(T0 + 3), {F_DOC, "2003"}},
        {K("e9"), SEC(T0 + 2), {"", "2002"}},
    };
    write_rows(st, "p", &fx, rows, 3);
    const char *keys[] = {K("e9")};
    struct online_read_result res;
    read_keys(st, "p", &fx, keys, 1, &res);
    ASSERT_CELL(&res, 0, 0, F_DOC);
    ASSERT_CELL(&res, 0, 1, "2003");
    ASSERT_EQ_INT(res.event_ns[0], SEC(T0 + 3));
    online_read_result_cleanup(&res);
    online_close(st);
}
