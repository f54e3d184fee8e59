/* online/: the backend table and the SQLite online store. Batches are built by hand from the golden
 * bytes in feast-compat.md §3.8/§4.4 (independent of the feast_row_* builders), and every result is
 * checked with separate SQL through sqlite3 directly, not through ferry's read path. */
#include "test.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "core/time.h"
#include "online/online.h"

/* Golden bytes: driver_id = int64 1001/1002/1003 as v3 keys, Values from §4.4. */
#define KEY_1001 "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 e903000000000000"
#define KEY_1002 "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 ea03000000000000"
#define KEY_1003 "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 eb03000000000000"
#define HEX_1001 "0100000002000000090000006472697665725F696404000000" "08000000E903000000000000"
#define F_HALF "350000003f"      /* float_val 0.5 */
#define I_308 "20b402"           /* int64_val 308 */
#define I_M1 "20ffffffffffffffffff01" /* int64_val -1 */
#define T0 INT64_C(1640991600)   /* 2021-12-31T23:00:00Z */
#define SEC(s) ((int64_t)(s) * FERRY_NS_PER_SEC)

/* ASSERT_OK wants a pointer that may be NULL; passing &e directly trips -Waddress. */
static struct ferry_err *E(struct ferry_err *e) { return e; }

/* ---- fixtures built by hand ---- */

static struct feast_feature driver_features[] = {
    {"conv_rate", FEAST_VT_FLOAT, NULL}, {"acc_rate", FEAST_VT_FLOAT, NULL}, {"avg_daily_trips", FEAST_VT_INT64, NULL},
};
static char *driver_feature_names[] = {"conv_rate", "acc_rate", "avg_daily_trips"};

static struct feast_view driver_view(const char *name)
{
    struct feast_view v = {0};
    v.name = (char *)name;
    v.features = driver_features;
    v.nfeatures = 3;
    return v;
}

static struct feast_schema driver_schema = {
    .key_version = 3, .nfeatures = 3, .feature_names = driver_feature_names,
};

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

struct cell_spec { const char *val_hex; const char *text; };  /* NULL text = SQL NULL */

static void batch_init(struct feast_batch *b, const struct feast_schema *s)
{
    memset(b, 0, sizeof *b);
    b->schema = s;
    b->cap_rows = 4096;
    b->rows = calloc(b->cap_rows, sizeof *b->rows);
    b->cells = calloc(b->cap_rows * (s->nfeatures ? s->nfeatures : 1), sizeof *b->cells);
    fbuf_init(&b->bytes, 1 << 24);
}

static void batch_free(struct feast_batch *b)
{
    free(b->rows);
    free(b->cells);
    fbuf_cleanup(&b->bytes);
}

/* Appends a row; cells has schema->nfeatures entries. */
static void batch_row(struct feast_batch *b, const char *key_hex, int64_t event_ns, int64_t created_ns,
                      const struct cell_spec *cells)
{
    if (b->nrows == b->cap_rows)
        test_fail(__FILE__, __LINE__, "test batch full");
    struct feast_batch_row *r = &b->rows[b->nrows];
    r->key_off = b->bytes.len;
    r->key_len = (uint32_t)add_hex(&b->bytes, key_hex);
    r->event_ns = event_ns;
    r->created_ns = created_ns;
    for (size_t f = 0; f < b->schema->nfeatures; f++) {
        struct feast_batch_cell *c = &b->cells[b->nrows * b->schema->nfeatures + f];
        c->val_off = b->bytes.len;
        c->val_len = (uint32_t)add_hex(&b->bytes, cells[f].val_hex);
        c->text_off = b->bytes.len;
        c->text_len = -1;
        if (cells[f].text) {
            fbuf_adds(&b->bytes, cells[f].text);
            c->text_len = (int32_t)strlen(cells[f].text);
        }
    }
    b->nrows++;
}

static struct ferry_config sqlite_cfg(const char *path)
{
    struct ferry_config c = {0};
    c.project = "p";
    c.key_version = 3;
    c.online.type = "sqlite";
    c.online.path = (char *)path;
    return c;
}

static struct online_store *open_at(const char *path)
{
    struct ferry_config cfg = sqlite_cfg(path);
    struct online_store *st = NULL;
    struct ferry_err e = {0};
    ASSERT_OK(online_open(&cfg, &st, &e), E(&e));
    return st;
}

static const char *db_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", test_tmpdir(), name);
    return p;
}

/* ---- independent checks through sqlite3 ---- */

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        test_fail(__FILE__, __LINE__, "sqlite3 open %s failed", path);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* The rows of a query as "a|b|c\n" lines (NULL as "NULL"); static storage. */
static const char *q(sqlite3 *db, const char *sql)
{
    static char out[16384];
    out[0] = '\0';
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        test_fail(__FILE__, __LINE__, "prepare %s: %s", sql, sqlite3_errmsg(db));
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "|" : "", t ? t : "NULL");
        }
        n += (size_t)snprintf(out + n, sizeof out - n, "\n");
    }
    sqlite3_finalize(st);
    return out;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        test_fail(__FILE__, __LINE__, "exec %s: %s", sql, msg);
}

/* ---- backend table ---- */

TEST(online_open_rejects_unknown_and_missing_type)
{
    struct ferry_config cfg = sqlite_cfg("/nonexistent/x.db");
    struct online_store *st = (struct online_store *)&cfg;  /* must be reset to NULL */
    struct ferry_err e = {0};
    cfg.online.type = "redis_like";
    ASSERT_EQ_INT(online_open(&cfg, &st, &e), FERRY_ECONFIG);
    ASSERT_EQ_STR(e.msg, "online store type 'redis_like' is not supported by ferry (supported: sqlite, redis)");
    ASSERT_TRUE(st == NULL);
    cfg.online.type = NULL;
    ASSERT_EQ_INT(online_open(&cfg, &st, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "no online store configured");
    cfg.online.type = "none";
    ASSERT_EQ_INT(online_open(&cfg, &st, &e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e.msg, "no online store configured");
}

TEST(online_sqlite_open_creates_parent_directory)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/data", test_tmpdir());
    snprintf(path, sizeof path, "%s/online.db", dir);
    struct stat sb;
    ASSERT_TRUE(stat(dir, &sb) != 0);
    struct online_store *st = open_at(path);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct ferry_err e = {0};
    ASSERT_OK(online_prepare(st, "p", &v, &e), E(&e));
    online_close(st);
    ASSERT_TRUE(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
    ASSERT_TRUE(stat(path, &sb) == 0 && sb.st_size > 0);
}

/* ---- schema ---- */

TEST(online_sqlite_prepare_creates_feast_066_schema)
{
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct ferry_err e = {0};
    ASSERT_OK(online_prepare(st, "my_project", &v, &e), E(&e));
    ASSERT_OK(online_prepare(st, "my_project", &v, &e), E(&e));  /* idempotent, as Feast's apply */
    online_close(st);

    sqlite3 *db = raw_open(path);
    ASSERT_EQ_STR(q(db, "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"),
                  "table|my_project_driver_hourly_stats|my_project_driver_hourly_stats\n"
                  "index|my_project_driver_hourly_stats_ek|my_project_driver_hourly_stats\n");
    ASSERT_EQ_STR(q(db, "SELECT cid, name, type, pk FROM pragma_table_info('my_project_driver_hourly_stats')"),
                  "0|entity_key|BLOB|1\n1|feature_name|TEXT|2\n2|value|BLOB|0\n3|value_text|TEXT|0\n"
                  "4|vector_value|BLOB|0\n5|event_ts|timestamp|0\n6|created_ts|timestamp|0\n");
    ASSERT_EQ_STR(q(db, "SELECT name FROM pragma_index_info('my_project_driver_hourly_stats_ek')"), "entity_key\n");
    /* The DDL text itself, as Feast's SqliteOnlineStore.update writes it (sqlite.py, v0.66), so a
     * store created by ferry is indistinguishable from one created by `FeatureStore.apply`. */
    ASSERT_EQ_STR(q(db, "SELECT sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type DESC"),
                  "CREATE TABLE \"my_project_driver_hourly_stats\" (entity_key BLOB, feature_name TEXT, value BLOB,"
                  " value_text TEXT,  vector_value BLOB, event_ts timestamp, created_ts timestamp,"
                  "  PRIMARY KEY(entity_key, feature_name))\n"
                  "CREATE INDEX \"my_project_driver_hourly_stats_ek\" ON \"my_project_driver_hourly_stats\" (entity_key)\n");
    sqlite3_close(db);
}

/* ---- write ---- */

TEST(online_sqlite_write_stores_feast_bytes)
{
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct feast_batch b;
    batch_init(&b, &driver_schema);
    /* 0.75 s past T0 is stored as T0 (floor); the second row is before 1970 to check flooring. */
    batch_row(&b, KEY_1001, SEC(T0) + 750000000, FERRY_TIME_NONE,
              (struct cell_spec[]){{F_HALF, "0.5"}, {"", NULL}, {I_308, "308"}});
    batch_row(&b, KEY_1002, -1500000000, SEC(T0 + 7),
              (struct cell_spec[]){{"", NULL}, {"", NULL}, {I_M1, "-1"}});
    struct online_write_stats stats = {0};
    struct ferry_err e = {0};
    ASSERT_OK(online_write(st, "p", &v, &b, &stats, &e), E(&e));  /* no prepare: write creates the table */
    ASSERT_EQ_INT(stats.rows_written, 2);
    ASSERT_EQ_INT(stats.rows_skipped, 0);
    online_close(st);
    batch_free(&b);

    sqlite3 *db = raw_open(path);
    ASSERT_EQ_STR(q(db, "SELECT hex(entity_key), feature_name, hex(value), typeof(value), value_text, typeof(event_ts),"
                        " event_ts, quote(created_ts) FROM p_driver_hourly_stats ORDER BY entity_key, feature_name"),
                  HEX_1001 "|acc_rate||blob|NULL|integer|1640991600|NULL\n"
                  HEX_1001 "|avg_daily_trips|20B402|blob|308|integer|1640991600|NULL\n"
                  HEX_1001 "|conv_rate|350000003F|blob|0.5|integer|1640991600|NULL\n"
                  "0100000002000000090000006472697665725F696404000000" "08000000EA03000000000000|acc_rate||blob|NULL|integer|-2|1640991607\n"
                  "0100000002000000090000006472697665725F696404000000" "08000000EA03000000000000|avg_daily_trips|20FFFFFFFFFFFFFFFFFF01|blob|-1|integer|-2|1640991607\n"
                  "0100000002000000090000006472697665725F696404000000" "08000000EA03000000000000|conv_rate||blob|NULL|integer|-2|1640991607\n");
    /* Nulls are zero-length BLOBs, never SQL NULL: Feast parses every value as a Value message. */
    ASSERT_EQ_STR(q(db, "SELECT count(*) FROM p_driver_hourly_stats WHERE value IS NULL"), "0\n");
    ASSERT_EQ_STR(q(db, "SELECT name FROM pragma_table_info('p_driver_hourly_stats') WHERE name = 'value_text'"),
                  "value_text\n");
    sqlite3_close(db);
}

static void write_one(struct online_store *st, const char *project, const char *view, const char *key_hex,
                      int64_t event_ns, const char *conv_hex, struct online_write_stats *stats)
{
    struct feast_view v = driver_view(view);
    struct feast_batch b;
    batch_init(&b, &driver_schema);
    batch_row(&b, key_hex, event_ns, FERRY_TIME_NONE,
              (struct cell_spec[]){{conv_hex, NULL}, {"", NULL}, {I_308, "308"}});
    struct ferry_err e = {0};
    ASSERT_OK(online_write(st, project, &v, &b, stats, &e), E(&e));
    batch_free(&b);
}

TEST(online_sqlite_older_row_never_overwrites_newer)
{
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    sqlite3 *db = raw_open(path);
    const char *sel = "SELECT hex(value), event_ts FROM p_v WHERE feature_name = 'conv_rate'";
    struct online_write_stats s = {0};

    write_one(st, "p", "v", KEY_1001, SEC(T0), "3500000040", &s);        /* 2.0 */
    ASSERT_EQ_STR(q(db, sel), "3500000040|1640991600\n");
    write_one(st, "p", "v", KEY_1001, SEC(T0 - 3600), "350000803f", &s); /* older: skipped */
    ASSERT_EQ_STR(q(db, sel), "3500000040|1640991600\n");
    ASSERT_EQ_INT(s.rows_written, 1);
    ASSERT_EQ_INT(s.rows_skipped, 1);
    write_one(st, "p", "v", KEY_1001, SEC(T0), F_HALF, &s);              /* same time: overwrites */
    ASSERT_EQ_STR(q(db, sel), "350000003F|1640991600\n");
    write_one(st, "p", "v", KEY_1001, SEC(T0 + 1), "3500004040", &s);    /* newer: overwrites */
    ASSERT_EQ_STR(q(db, sel), "3500004040|1640991601\n");
    ASSERT_EQ_INT(s.rows_written, 3);
    ASSERT_EQ_INT(s.rows_skipped, 1);
    ASSERT_EQ_STR(q(db, "SELECT count(*) FROM p_v"), "3\n");
    sqlite3_close(db);
    online_close(st);
}

TEST(online_sqlite_newer_rule_reads_pre042_text_timestamps)
{
    /* Stores written before Feast v0.42 hold text times; SQLite orders any INTEGER below any TEXT, so
     * a naive comparison would never overwrite them. */
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct feast_view v = driver_view("v");
    struct ferry_err e = {0};
    ASSERT_OK(online_prepare(st, "p", &v, &e), E(&e));
    sqlite3 *db = raw_open(path);
    raw_exec(db, "INSERT INTO p_v (entity_key, feature_name, value, event_ts) VALUES "
                 "(X'" "010000000200000009000000" "6472697665725f696404000000" "08000000e903000000000000"
                 "', 'conv_rate', X'3500000040', '2021-12-31 23:00:00.500000')");
    const char *sel = "SELECT hex(value), event_ts FROM p_v WHERE feature_name = 'conv_rate'";
    struct online_write_stats s = {0};
    write_one(st, "p", "v", KEY_1001, SEC(T0 - 1), F_HALF, &s);
    ASSERT_EQ_STR(q(db, sel), "3500000040|2021-12-31 23:00:00.500000\n");
    write_one(st, "p", "v", KEY_1001, SEC(T0), F_HALF, &s);
    ASSERT_EQ_STR(q(db, sel), "350000003F|1640991600\n");
    sqlite3_close(db);
    online_close(st);
}

/* ---- older schema ---- */

TEST(online_sqlite_writes_pre066_table_without_altering_it)
{
    const char *path = db_path("online_store.db");
    test_copy_file(test_fixture("online_store_pre066_schema.db"), path);
    sqlite3 *db = raw_open(path);
    char schema_before[4096];
    snprintf(schema_before, sizeof schema_before, "%s", q(db, "SELECT type, name, sql FROM sqlite_master ORDER BY name"));
    ASSERT_CONTAINS(schema_before, "offline_server_driver_hourly_stats (entity_key BLOB");

    struct online_store *st = open_at(path);
    struct online_write_stats s = {0};
    write_one(st, "offline_server", "driver_hourly_stats", KEY_1001, SEC(T0), F_HALF, &s);
    write_one(st, "offline_server", "driver_hourly_stats", KEY_1001, SEC(T0 - 10), "3500000040", &s);
    ASSERT_EQ_INT(s.rows_written, 1);
    ASSERT_EQ_INT(s.rows_skipped, 1);
    online_close(st);

    ASSERT_EQ_STR(q(db, "SELECT type, name, sql FROM sqlite_master ORDER BY name"), schema_before);
    ASSERT_EQ_STR(q(db, "SELECT hex(entity_key), feature_name, hex(value), typeof(value), event_ts, quote(created_ts)"
                        " FROM offline_server_driver_hourly_stats ORDER BY feature_name"),
                  HEX_1001 "|acc_rate||blob|1640991600|NULL\n"
                  HEX_1001 "|avg_daily_trips|20B402|blob|1640991600|NULL\n"
                  HEX_1001 "|conv_rate|350000003F|blob|1640991600|NULL\n");
    ASSERT_EQ_STR(q(db, "SELECT count(*) FROM offline_server_driver_hourly_stats_fresh"), "0\n");
    sqlite3_close(db);
}

TEST(online_sqlite_prepare_migrates_pre066_table)
{
    const char *path = db_path("online_store.db");
    test_copy_file(test_fixture("online_store_pre066_schema.db"), path);
    struct online_store *st = open_at(path);
    struct online_write_stats s = {0};
    write_one(st, "offline_server", "driver_hourly_stats", KEY_1001, SEC(T0), F_HALF, &s);
    struct feast_view v = driver_view("driver_hourly_stats");
    struct ferry_err e = {0};
    ASSERT_OK(online_prepare(st, "offline_server", &v, &e), E(&e));
    ASSERT_OK(online_prepare(st, "offline_server", &v, &e), E(&e));  /* "duplicate column" is not an error */

    sqlite3 *db = raw_open(path);
    ASSERT_EQ_STR(q(db, "SELECT group_concat(name, ',') FROM pragma_table_info('offline_server_driver_hourly_stats')"),
                  "entity_key,feature_name,value,event_ts,created_ts,value_text\n");
    /* Rows written before the migration survive, with value_text NULL. */
    ASSERT_EQ_STR(q(db, "SELECT feature_name, hex(value), quote(value_text) FROM offline_server_driver_hourly_stats"
                        " ORDER BY feature_name"),
                  "acc_rate||NULL\navg_daily_trips|20B402|NULL\nconv_rate|350000003F|NULL\n");
    /* The other view's table is only migrated when it is prepared. */
    ASSERT_EQ_STR(q(db, "SELECT count(*) FROM pragma_table_info('offline_server_driver_hourly_stats_fresh')"
                        " WHERE name = 'value_text'"), "0\n");
    write_one(st, "offline_server", "driver_hourly_stats", KEY_1001, SEC(T0 + 1), F_HALF, &s);
    ASSERT_EQ_STR(q(db, "SELECT value_text FROM offline_server_driver_hourly_stats WHERE feature_name = 'avg_daily_trips'"),
                  "308\n");
    sqlite3_close(db);
    online_close(st);
}

/* ---- read ---- */

static void key_buf(struct fbuf *k, const char *hex)
{
    fbuf_init(k, 1024);
    add_hex(k, hex);
}

TEST(online_sqlite_read_found_and_missing_keys)
{
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct online_write_stats s = {0};
    write_one(st, "p", "v", KEY_1001, SEC(T0) + 999999999, F_HALF, &s);
    write_one(st, "p", "v", KEY_1002, SEC(T0 + 60), "3500000040", &s);
    /* A pre-v0.42 row with a text time, inserted behind ferry's back. */
    sqlite3 *db = raw_open(path);
    raw_exec(db, "INSERT INTO p_v (entity_key, feature_name, value, event_ts) VALUES (X'"
                 "010000000200000009000000" "6472697665725f696404000000" "08000000eb03000000000000"
                 "', 'avg_daily_trips', X'20b402', '2021-04-12 07:00:00.250000')");
    sqlite3_close(db);

    struct fbuf keys[5];
    key_buf(&keys[0], KEY_1001);
    key_buf(&keys[1], "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 0000000000000000");
    key_buf(&keys[2], KEY_1002);
    key_buf(&keys[3], KEY_1001);  /* duplicates get the same answer */
    key_buf(&keys[4], KEY_1003);
    const char *feats[] = {"avg_daily_trips", "acc_rate", "no_such_feature", "conv_rate"};
    struct online_read_result r;
    struct feast_view v = driver_view("v");
    struct ferry_err e = {0};
    ASSERT_OK(online_read(st, "p", &v, keys, 5, feats, 4, &r, &e), E(&e));
    ASSERT_EQ_INT(r.nkeys, 5);
    ASSERT_EQ_INT(r.nfeatures, 4);
    bool found[] = {true, false, true, true, true};
    /* 2021-04-12T07:00:00Z = 1618210800 (date -u -d 2021-04-12T07:00:00Z +%s). */
    int64_t ts[] = {SEC(T0), FERRY_TIME_NONE, SEC(T0 + 60), SEC(T0), SEC(1618210800) + 250000000};
    for (size_t k = 0; k < 5; k++) {
        ASSERT_EQ_INT(r.found[k], found[k]);
        ASSERT_EQ_INT(r.event_ns[k], ts[k]);
    }
    const char *want[5][4] = {
        {I_308, "", "", F_HALF}, {"", "", "", ""}, {I_308, "", "", "3500000040"}, {I_308, "", "", F_HALF},
        {I_308, "", "", ""},
    };
    for (size_t k = 0; k < 5; k++)
        for (size_t f = 0; f < 4; f++)
            ASSERT_EQ_HEX(r.bytes.data + r.val_off[k * 4 + f], r.val_len[k * 4 + f], want[k][f]);
    online_read_result_cleanup(&r);
    ASSERT_TRUE(r.found == NULL && r.bytes.data == NULL);
    online_read_result_cleanup(&r);  /* twice is safe */

    struct feast_view missing = driver_view("never_applied");
    ASSERT_EQ_INT(online_read(st, "p", &missing, keys, 1, feats, 1, &r, &e), FERRY_ENOTFOUND);
    ASSERT_CONTAINS(e.msg, "p_never_applied");
    for (size_t k = 0; k < 5; k++)
        fbuf_cleanup(&keys[k]);
    online_close(st);
}

TEST(online_sqlite_read_many_keys_in_chunks)
{
    /* More keys than one statement binds, so chunking (and a shorter last chunk) is exercised. */
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct feast_view v = driver_view("v");
    struct feast_batch b;
    batch_init(&b, &driver_schema);
    enum { N = 1203 };
    char hex[128];
    for (int i = 0; i < N; i += 2) {  /* even ids only */
        snprintf(hex, sizeof hex, "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 %02x%02x000000000000",
                 i & 0xff, (i >> 8) & 0xff);
        batch_row(&b, hex, SEC(T0 + i), FERRY_TIME_NONE, (struct cell_spec[]){{F_HALF, "0.5"}, {"", NULL}, {I_308, "308"}});
    }
    struct ferry_err e = {0};
    struct online_write_stats s = {0};
    ASSERT_OK(online_write(st, "p", &v, &b, &s, &e), E(&e));
    ASSERT_EQ_INT(s.rows_written, (N + 1) / 2);
    batch_free(&b);

    struct fbuf *keys = calloc(N, sizeof *keys);
    for (int i = 0; i < N; i++) {
        snprintf(hex, sizeof hex, "01000000 02000000 09000000 6472697665725f6964 04000000 08000000 %02x%02x000000000000",
                 i & 0xff, (i >> 8) & 0xff);
        key_buf(&keys[i], hex);
    }
    const char *feats[] = {"conv_rate"};
    struct online_read_result r;
    ASSERT_OK(online_read(st, "p", &v, keys, N, feats, 1, &r, &e), E(&e));
    for (int i = 0; i < N; i++) {
        ASSERT_EQ_INT(r.found[i], i % 2 == 0);
        ASSERT_EQ_INT(r.event_ns[i], i % 2 == 0 ? SEC(T0 + i) : FERRY_TIME_NONE);
        ASSERT_EQ_HEX(r.bytes.data + r.val_off[i], r.val_len[i], i % 2 == 0 ? F_HALF : "");
    }
    online_read_result_cleanup(&r);
    for (int i = 0; i < N; i++)
        fbuf_cleanup(&keys[i]);
    free(keys);
    online_close(st);
}

/* ---- failures ---- */

TEST(online_sqlite_failed_write_leaves_table_unchanged)
{
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct online_write_stats s = {0};
    write_one(st, "p", "v", KEY_1001, SEC(T0), F_HALF, &s);
    sqlite3 *db = raw_open(path);
    const char *dump = "SELECT hex(entity_key), feature_name, hex(value), quote(value_text), event_ts FROM p_v"
                       " ORDER BY entity_key, feature_name";
    char before[4096];
    snprintf(before, sizeof before, "%s", q(db, dump));
    /* The third row's insert fails inside SQLite, after two rows (one an update) went in. */
    raw_exec(db, "CREATE TRIGGER boom BEFORE INSERT ON p_v WHEN NEW.entity_key = X'"
                 "010000000200000009000000" "6472697665725f696404000000" "08000000eb03000000000000"
                 "' BEGIN SELECT RAISE(ABORT, 'injected failure'); END");

    struct feast_view v = driver_view("v");
    struct feast_batch b;
    batch_init(&b, &driver_schema);
    batch_row(&b, KEY_1001, SEC(T0 + 5), FERRY_TIME_NONE, (struct cell_spec[]){{"3500000040", NULL}, {"", NULL}, {"", NULL}});
    batch_row(&b, KEY_1002, SEC(T0 + 5), FERRY_TIME_NONE, (struct cell_spec[]){{F_HALF, "0.5"}, {"", NULL}, {"", NULL}});
    batch_row(&b, KEY_1003, SEC(T0 + 5), FERRY_TIME_NONE, (struct cell_spec[]){{F_HALF, "0.5"}, {"", NULL}, {"", NULL}});
    struct online_write_stats s2 = {7, 9};
    struct ferry_err e = {0};
    ASSERT_EQ_INT(online_write(st, "p", &v, &b, &s2, &e), FERRY_ESTORE);
    ASSERT_CONTAINS(e.msg, "p_v");
    ASSERT_CONTAINS(e.msg, "injected failure");
    ASSERT_EQ_INT(s2.rows_written, 7);  /* a failed batch adds nothing */
    ASSERT_EQ_INT(s2.rows_skipped, 9);
    ASSERT_EQ_STR(q(db, dump), before);

    /* The store is usable again: the failed transaction was rolled back, not left open. */
    raw_exec(db, "DROP TRIGGER boom");
    ASSERT_OK(online_write(st, "p", &v, &b, &s2, &e), E(&e));
    ASSERT_EQ_STR(q(db, "SELECT count(*) FROM p_v"), "9\n");
    batch_free(&b);
    sqlite3_close(db);
    online_close(st);
}

TEST(online_write_rejects_batch_that_does_not_match_view)
{
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct feast_schema two = {.key_version = 3, .nfeatures = 2, .feature_names = driver_feature_names};
    struct feast_batch b;
    batch_init(&b, &two);
    batch_row(&b, KEY_1001, SEC(T0), FERRY_TIME_NONE, (struct cell_spec[]){{F_HALF, NULL}, {"", NULL}});
    struct feast_view v = driver_view("v");
    struct ferry_err e = {0};
    ASSERT_EQ_INT(online_write(st, "p", &v, &b, NULL, &e), FERRY_EINVAL);
    ASSERT_CONTAINS(e.msg, "view v has 3 features but the batch has 2");
    batch_free(&b);

    batch_init(&b, &driver_schema);
    batch_row(&b, KEY_1001, SEC(T0), FERRY_TIME_NONE, (struct cell_spec[]){{F_HALF, NULL}, {"", NULL}, {"", NULL}});
    b.cells[2].val_off = b.bytes.len;  /* a value running past the arena */
    b.cells[2].val_len = 1;
    ASSERT_EQ_INT(online_write(st, "p", &v, &b, NULL, &e), FERRY_EINVAL);
    ASSERT_CONTAINS(e.msg, "avg_daily_trips");
    ASSERT_EQ_INT(online_write(st, "", &v, &b, NULL, &e), FERRY_EINVAL);
    ASSERT_EQ_INT(online_write(st, "p", &v, NULL, NULL, &e), FERRY_EINVAL);
    batch_free(&b);
    online_close(st);
    /* Nothing reached the database: not even the table was created. */
    sqlite3 *db = raw_open(path);
    ASSERT_EQ_STR(q(db, "SELECT count(*) FROM sqlite_master"), "0\n");
    sqlite3_close(db);
}

/* ---- names ---- */

TEST(online_sqlite_names_with_quotes_round_trip)
{
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct online_write_stats s = {0};
    write_one(st, "my\"proj", "dr\"iver'); DROP TABLE x; --", KEY_1001, SEC(T0), F_HALF, &s);
    ASSERT_EQ_INT(s.rows_written, 1);
    sqlite3 *db = raw_open(path);
    ASSERT_EQ_STR(q(db, "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type DESC"),
                  "table|my\"proj_dr\"iver'); DROP TABLE x; --\n"
                  "index|my\"proj_dr\"iver'); DROP TABLE x; --_ek\n");
    ASSERT_EQ_STR(q(db, "SELECT hex(value) FROM \"my\"\"proj_dr\"\"iver'); DROP TABLE x; --\" WHERE feature_name = 'conv_rate'"),
                  "350000003F\n");
    sqlite3_close(db);

    struct fbuf key;
    key_buf(&key, KEY_1001);
    const char *feats[] = {"conv_rate"};
    struct feast_view v = driver_view("dr\"iver'); DROP TABLE x; --");
    struct online_read_result r;
    struct ferry_err e = {0};
    ASSERT_OK(online_read(st, "my\"proj", &v, &key, 1, feats, 1, &r, &e), E(&e));
    ASSERT_TRUE(r.found[0]);
    ASSERT_EQ_HEX(r.bytes.data + r.val_off[0], r.val_len[0], F_HALF);
    online_read_result_cleanup(&r);
    fbuf_cleanup(&key);
    online_close(st);
}

/* ---- concurrency ---- */

TEST(online_sqlite_write_waits_for_a_concurrent_lock)
{
    /* Another process (e.g. Feast's server or a second writer) holds the write lock for a moment;
     * ferry must wait for it rather than fail with "database is locked". */
    const char *path = db_path("online.db");
    struct online_store *st = open_at(path);
    struct feast_view v = driver_view("v");
    struct ferry_err e = {0};
    ASSERT_OK(online_prepare(st, "p", &v, &e), E(&e));
    int fds[2];
    ASSERT_EQ_INT(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *db = raw_open(path);
        sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        usleep(400000);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    char c;
    ASSERT_EQ_INT(read(fds[0], &c, 1), 1);
    struct online_write_stats s = {0};
    write_one(st, "p", "v", KEY_1001, SEC(T0), F_HALF, &s);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_EQ_INT(status, 0);
    ASSERT_EQ_INT(s.rows_written, 1);
    online_close(st);
}
