/* Redis online store in Feast's format (feast-compat.md §6), so Feast's feature servers read what
 * ferry writes and ferry reads what Feast wrote:
 *   hash key  = serialized entity key + project (UTF-8, no separator); one hash holds every view of
 *               that entity;
 *   fields    = MurmurHash3 x86_32 (seed 0) of "view:feature" as 4 bytes little-endian -> Value
 *               bytes ("" for null), and "_ts:view" -> google.protobuf.Timestamp{seconds, nanos}
 *               with nanos at microsecond precision (Feast >= 0.59);
 *   newer-only: a row is written only when strictly newer than the stored _ts (equal is skipped), and
 *               within one batch the first row with the newest time per key wins (Feast >= 0.64);
 *   key_ttl_seconds: EXPIRE on the whole hash after each write, as Feast does.
 * Where ferry differs on purpose: Feast reads every stored _ts (one pipeline) and then writes (a
 * second one), so a concurrent writer can slip in between; ferry does the compare-and-write per key
 * inside one server-side Lua script (EVALSHA, many keys per call, calls pipelined), which is atomic
 * per key and needs one round trip per pipeline window instead of two.
 * Reads answer like Feast's RedisOnlineStore: a missing entity (or one this view never wrote) is
 * *found* with null values and event time 0 (1970-01-01T00:00:00Z), because Feast's read returns
 * empty Values and a zero Timestamp rather than "not found"; its HTTP server then reports PRESENT.
 * Only single-node Redis over hiredis 0.14: redis_cluster, redis_sentinel and ssl=true are rejected
 * at open with a message saying so. All hiredis objects stay inside this file. */
#include "online/online.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "core/time.h"
#include "core/util.h"
#include "online/redis_conn.h"

/* Default timeouts: a dead server fails a command instead of hanging a materialization forever;
 * generous, because draining a pipeline window of many script calls can take a while. */
#define CONNECT_TIMEOUT_S 10.0
#define COMMAND_TIMEOUT_S 300.0
/* One script call covers at most this many keys and about this many argument bytes: long enough to
 * amortize the call, short enough that the server (single-threaded) is never blocked for long. */
#define KEYS_PER_CALL 256
#define CALL_BYTES ((size_t)1 << 20)
/* Commands are sent in windows of about this many bytes, then all their replies read: one round
 * trip per window, with hiredis's output buffer and the server's reply backlog bounded. */
#define WINDOW_BYTES ((size_t)4 << 20)
#define READ_WINDOW_KEYS 1024
#define READ_BYTES_MAX ((size_t)1 << 30)

/* The compare-and-write script. KEYS = hash keys. ARGV = ts field, ttl (0 = none), number of
 * features F, the F field names, then per key: new seconds, new nanos, new _ts bytes, F values.
 * For each key: the stored _ts is decoded (protobuf Timestamp: field 1 seconds int64, field 2 nanos
 * int32, both varints; unknown fields skipped like any protobuf parser); the row is written unless a
 * non-zero stored time is >= the new one (Feast: `latest != 0 and new <= latest` skips). All stored
 * times are decoded before anything is written, so an undecodable _ts fails the call with nothing
 * changed. Returns one character per key: '1' written, '0' skipped.
 * Fields go to HSET 1000 pairs at a time: Lua's unpack() is limited to a few thousand values.
 * Seconds are compared as Lua doubles: exact for |seconds| < 2^53, far beyond any real date. */
static const char write_script[] =
    "local function varint(s, i)\n"
    "  local lo, hi, shift = 0, 0, 0\n"
    "  while true do\n"
    "    local b = string.byte(s, i)\n"
    "    if not b then return nil end\n"
    "    i = i + 1\n"
    "    local v = b % 128\n"
    "    if shift < 28 then lo = lo + v * 2 ^ shift\n"
    "    elseif shift == 28 then lo = lo + (v % 16) * 2 ^ 28; hi = hi + math.floor(v / 16)\n"
    "    elseif shift < 64 then hi = hi + v * 2 ^ (shift - 32) end\n"
    "    if b < 128 then return lo, hi % 4294967296, i end\n"
    "    shift = shift + 7\n"
    "    if shift >= 70 then return nil end\n"
    "  end\n"
    "end\n"
    "local function decode_ts(s)\n"
    "  local sec, nanos, i, n = 0, 0, 1, #s\n"
    "  while i <= n do\n"
    "    local tag, _, j = varint(s, i)\n"
    "    if not tag then return nil end\n"
    "    local field, wt = math.floor(tag / 8), tag % 8\n"
    "    i = j\n"
    "    if wt == 0 then\n"
    "      local lo, hi, k = varint(s, i)\n"
    "      if not lo then return nil end\n"
    "      i = k\n"
    "      if field == 1 then\n"
    "        if hi >= 2147483648 then sec = (hi - 4294967296) * 4294967296 + lo else sec = hi * 4294967296 + lo end\n"
    "      elseif field == 2 then\n"
    "        if lo >= 2147483648 then nanos = lo - 4294967296 else nanos = lo end\n"
    "      end\n"
    "    elseif wt == 1 then i = i + 8\n"
    "    elseif wt == 5 then i = i + 4\n"
    "    elseif wt == 2 then\n"
    "      local len, _, k = varint(s, i)\n"
    "      if not len then return nil end\n"
    "      i = k + len\n"
    "    else return nil end\n"
    "  end\n"
    "  if i ~= n + 1 then return nil end\n"
    "  return sec, nanos\n"
    "end\n"
    "local tsf, ttl, nf = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local per = 3 + nf\n"
    "local out = {}\n"
    "for k = 1, #KEYS do\n"
    "  local a = 3 + nf + (k - 1) * per\n"
    "  local sec, nanos = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])\n"
    "  local prev = redis.call('HGET', KEYS[k], tsf)\n"
    "  out[k] = '1'\n"
    "  if prev and prev ~= '' then\n"
    "    local ps, pn = decode_ts(prev)\n"
    "    if not ps then return redis.error_reply('FERRYTS cannot decode the stored ' .. tsf .. ' of key number ' .. k) end\n"
    "    if (ps ~= 0 or pn ~= 0) and (sec < ps or (sec == ps and nanos <= pn)) then out[k] = '0' end\n"
    "  end\n"
    "end\n"
    "for k = 1, #KEYS do\n"
    "  if out[k] == '1' then\n"
    "    local a = 3 + nf + (k - 1) * per\n"
    "    local args = {tsf, ARGV[a + 3]}\n"
    "    for f = 1, nf do\n"
    "      args[#args + 1] = ARGV[3 + f]\n"
    "      args[#args + 1] = ARGV[a + 3 + f]\n"
    "      if #args >= 2000 then redis.call('HSET', KEYS[k], unpack(args)); args = {} end\n"
    "    end\n"
    "    if #args > 0 then redis.call('HSET', KEYS[k], unpack(args)) end\n"
    "    if ttl > 0 then redis.call('EXPIRE', KEYS[k], ttl) end\n"
    "  end\n"
    "end\n"
    "return table.concat(out)\n";

struct redis_store {
    struct online_store base;  /* first: online.c sees only this */
    struct redis_conn_opts opts;
    char where[REDIS_HOST_MAX + 64];  /* "Redis online store host:port db N", for messages */
    redisContext *c;           /* NULL after a failure that may have left replies unread */
    char sha[41];              /* SHA1 of write_script once loaded; "" before */
    int64_t ttl;
    bool skip_dedup;
};

static struct redis_store *impl(struct online_store *st) { return (struct redis_store *)st; }

static struct timeval seconds_tv(double s)
{
    struct timeval tv;
    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
    return tv;
}

/* Drops the connection (the next call reconnects); used whenever replies may be left unread. */
static void drop_conn(struct redis_store *s)
{
    if (s->c)
        redisFree(s->c);
    s->c = NULL;
}

static int conn_err(struct redis_store *s, struct ferry_err *err, const char *what)
{
    int rc = ferry_errf(err, FERRY_ESTORE, "%s: %s: %s", s->where, what,
                        s->c && s->c->errstr[0] ? s->c->errstr : "connection lost");
    drop_conn(s);
    return rc;
}

/* Runs one command and returns its reply (the caller frees it), or NULL with err set. An error reply
 * is an error; the connection stays usable then (the reply was read). */
static redisReply *command(struct redis_store *s, int argc, const char **argv, const size_t *lens, const char *what,
                           struct ferry_err *err)
{
    redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
    if (!r) {
        conn_err(s, err, what);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        ferry_errf(err, FERRY_ESTORE, "%s: %s: %.*s", s->where, what, (int)r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int connect_store(struct redis_store *s, struct ferry_err *err)
{
    const struct redis_conn_opts *o = &s->opts;
    double ct = o->connect_timeout_s > 0 ? o->connect_timeout_s : CONNECT_TIMEOUT_S;
    s->c = redisConnectWithTimeout(o->host, o->port, seconds_tv(ct));
    if (!s->c)
        return ferry_errf(err, FERRY_ENOMEM, "%s: no memory for a connection", s->where);
    if (s->c->err)
        return conn_err(s, err, "cannot connect");
    if (redisSetTimeout(s->c, seconds_tv(o->socket_timeout_s > 0 ? o->socket_timeout_s : COMMAND_TIMEOUT_S)) !=
        REDIS_OK)
        return conn_err(s, err, "cannot set the socket timeout");
    if (o->keepalive && redisEnableKeepAlive(s->c) != REDIS_OK)
        return conn_err(s, err, "cannot enable TCP keepalive");
    redisReply *r = NULL;
    if (o->password) {
        /* Never echo the password: the server's own error text ("WRONGPASS ...") is enough. */
        const char *av[] = {"AUTH", o->username ? o->username : o->password, o->password};
        int ac = o->username ? 3 : 2;
        if (!(r = command(s, ac, av, NULL, "authentication failed", err))) {
            drop_conn(s);
            return err ? err->code : FERRY_ESTORE;
        }
        freeReplyObject(r);
    }
    if (o->db) {
        char db[32];
        snprintf(db, sizeof db, "%lld", o->db);
        const char *av[] = {"SELECT", db};
        if (!(r = command(s, 2, av, NULL, "cannot select the database", err))) {
            drop_conn(s);
            return err ? err->code : FERRY_ESTORE;
        }
        freeReplyObject(r);
    }
    if (o->client_name) {
        const char *av[] = {"CLIENT", "SETNAME", o->client_name};
        if (!(r = command(s, 3, av, NULL, "cannot set the client name", err))) {
            drop_conn(s);
            return err ? err->code : FERRY_ESTORE;
        }
        freeReplyObject(r);
    }
    return 0;
}

static int ensure_conn(struct redis_store *s, struct ferry_err *err)
{
    if (s->c && s->c->err)
        drop_conn(s);
    return s->c ? 0 : connect_store(s, err);
}

static int redis_open(const struct ferry_config *cfg, struct online_store **out, struct ferry_err *err)
{
    const struct online_config *oc = &cfg->online;
    const char *type = oc->redis_type ? oc->redis_type : "redis";
    /* Feast's cluster and sentinel clients route keys differently; treating them as one node would
     * write to whichever node answers (or fail with MOVED on every other key). */
    if (str_eq(type, "redis_cluster"))
        return ferry_errf(err, FERRY_ECONFIG, "online_store.redis_type redis_cluster is not supported by ferry "
                          "(no slot routing over hiredis 0.14); use a single Redis node (redis_type: redis)");
    if (str_eq(type, "redis_sentinel"))
        return ferry_errf(err, FERRY_ECONFIG, "online_store.redis_type redis_sentinel is not supported by ferry; "
                          "point connection_string at the current master with redis_type: redis");
    if (!str_eq(type, "redis"))
        return ferry_errf(err, FERRY_ECONFIG, "online_store.redis_type '%s' is not one of redis, redis_cluster, "
                          "redis_sentinel", type);
    if (oc->key_ttl_seconds < 0)
        return ferry_errf(err, FERRY_ECONFIG, "online_store.key_ttl_seconds must not be negative");
    struct redis_store *s = xcalloc(1, sizeof *s);
    int rc = redis_conn_parse(oc->connection_string, &s->opts, err);
    if (rc) {
        free(s);
        return rc;
    }
    snprintf(s->where, sizeof s->where, "Redis online store %s:%d db %lld", s->opts.host, s->opts.port, s->opts.db);
    s->ttl = oc->key_ttl_seconds;
    s->skip_dedup = oc->skip_dedup;
    /* Connecting now makes a wrong address or password an error of `apply`/`serve` start-up, not of
     * the first batch. */
    if ((rc = connect_store(s, err))) {
        redis_conn_opts_cleanup(&s->opts);
        free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}

static void redis_close(struct online_store *st)
{
    struct redis_store *s = impl(st);
    drop_conn(s);
    redis_conn_opts_cleanup(&s->opts);
    free(s);
}

/* Redis keeps no schema: every view of an entity shares one hash, created by its first HSET. */
static int redis_prepare(struct online_store *st, const char *project, const struct feast_view *view,
                         struct ferry_err *err)
{
    return 0;
}

/* ---- encodings ---- */

/* An event time as Feast's Timestamp.FromDatetime makes it: floor seconds, and nanos = microseconds
 * * 1000 (Python datetimes hold microseconds, so finer digits never reach Feast). */
static void ts_split(int64_t ns, int64_t *sec, int32_t *nanos)
{
    int64_t q = ns / FERRY_NS_PER_SEC, r = ns % FERRY_NS_PER_SEC;
    if (r < 0) {
        q--;
        r += FERRY_NS_PER_SEC;
    }
    *sec = q;
    *nanos = (int32_t)(r / 1000 * 1000);
}

/* Truncated time as one comparable number (|ns| < 2^63, so it fits). */
static int64_t ts_value(int64_t sec, int32_t nanos) { return sec * FERRY_NS_PER_SEC + nanos; }

#define TS_BYTES_MAX 24
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

/* Serialized google.protobuf.Timestamp; proto3 omits zero fields, so the epoch is "". */
static size_t ts_encode(unsigned char out[TS_BYTES_MAX], int64_t sec, int32_t nanos)
{
    size_t n = 0;
    if (sec) {
        out[n++] = 0x08;
        n += put_varint(out + n, (uint64_t)sec);
    }
    if (nanos) {
        out[n++] = 0x10;
        n += put_varint(out + n, (uint64_t)(int64_t)nanos);
    }
    return n;
}

static int get_varint(const unsigned char *p, size_t n, size_t *i, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*i >= n)
            return -1;
        unsigned char b = p[(*i)++];
        if (shift < 64)
            *v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80)
            return 0;
    }
    return -1;
}

/* Stored _ts -> ns, accepting what protobuf accepts (older Feast wrote seconds only). */
static int ts_decode(const unsigned char *p, size_t n, int64_t *ns)
{
    int64_t sec = 0;
    int32_t nanos = 0;
    size_t i = 0;
    while (i < n) {
        uint64_t tag, v;
        if (get_varint(p, n, &i, &tag))
            return -1;
        switch (tag & 7) {
        case 0:
            if (get_varint(p, n, &i, &v))
                return -1;
            if ((tag >> 3) == 1)
                sec = (int64_t)v;
            else if ((tag >> 3) == 2)
                nanos = (int32_t)(uint32_t)v;
            break;
        case 1: if (n - i < 8) return -1; i += 8; break;
        case 5: if (n - i < 4) return -1; i += 4; break;
        case 2:
            if (get_varint(p, n, &i, &v) || v > n - i)
                return -1;
            i += (size_t)v;
            break;
        default:
            return -1;
        }
    }
    if (sec > INT64_MAX / FERRY_NS_PER_SEC - 1 || sec < INT64_MIN / FERRY_NS_PER_SEC + 1)
        return -1;
    *ns = sec * FERRY_NS_PER_SEC + nanos;
    return 0;
}

/* "key 0100000002000000…+project" for messages: the key's first bytes in hex. */
static const char *key_desc(char buf[96], const void *key, size_t n)
{
    const unsigned char *p = key;
    size_t o = 0, show = n < 24 ? n : 24;
    for (size_t i = 0; i < show; i++)
        o += (size_t)snprintf(buf + o, 96 - o, "%02x", p[i]);
    snprintf(buf + o, 96 - o, "%s", show < n ? "..." : "");
    return buf;
}

/* Field names of one view: 4-byte murmur3 per feature, and "_ts:view". */
struct view_fields {
    size_t n;
    unsigned char (*hash)[4];
    char *ts;
};

static void fields_init(struct view_fields *vf, const char *view, const char *const *features, size_t n)
{
    vf->n = n;
    vf->hash = xcalloc(n ? n : 1, sizeof *vf->hash);
    vf->ts = xasprintf("_ts:%s", view);
    for (size_t f = 0; f < n; f++) {
        char *s = xasprintf("%s:%s", view, features[f]);
        uint32_t h = feast_murmur3_32(s, strlen(s), 0);
        free(s);
        for (int i = 0; i < 4; i++)
            vf->hash[f][i] = (unsigned char)(h >> (8 * i));
    }
}

static void fields_cleanup(struct view_fields *vf)
{
    free(vf->hash);
    free(vf->ts);
}

/* ---- write ---- */

struct wrow {
    size_t row;
    int64_t sec;
    int32_t nanos;
};

struct key_ref { const unsigned char *p; size_t n; size_t row; };

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    if (!c)
        c = (x->n > y->n) - (x->n < y->n);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* The rows to send, one per distinct key, chosen as Feast's in-batch rule would leave the hash if
 * nothing were stored yet: going through the key's rows in input order, a row replaces the queued
 * one unless the queued time is non-zero and the row is not strictly newer (so with equal times the
 * first row wins). The stored time is then checked by the script for that one row, which gives the
 * same final hash as Feast's row-by-row writes (for times after 1970). */
static size_t pick_rows(const struct feast_batch *b, struct wrow *out)
{
    size_t n = b->nrows;
    struct key_ref *refs = xcalloc(n ? n : 1, sizeof *refs);
    for (size_t r = 0; r < n; r++)
        refs[r] = (struct key_ref){feast_batch_key(b, r), b->rows[r].key_len, r};
    qsort(refs, n, sizeof *refs, key_ref_cmp);
    size_t nout = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        bool queued = false;
        int64_t latest = 0;
        struct wrow pick = {0};
        for (; j < n && refs[j].n == refs[i].n && memcmp(refs[j].p, refs[i].p, refs[i].n) == 0; j++) {
            struct wrow w = {refs[j].row, 0, 0};
            ts_split(b->rows[w.row].event_ns, &w.sec, &w.nanos);
            int64_t t = ts_value(w.sec, w.nanos);
            int64_t eff = queued && latest > 0 ? latest : 0;  /* max(prev = 0, queued) */
            if (eff != 0 && t <= eff)
                continue;
            pick = w;
            latest = t;
            queued = true;
        }
        out[nout++] = pick;
        i = j;
    }
    free(refs);
    return nout;
}

/* One EVALSHA: a range of picked rows. */
struct call { size_t start, count; };

struct writer {
    struct redis_store *s;
    const char *project;
    size_t project_len;
    const struct feast_view *view;
    const struct feast_batch *b;
    struct view_fields vf;
    struct wrow *rows;
    struct fbuf scratch;       /* keys and numbers of the call being built */
    const char **argv;
    size_t *lens;
    size_t argv_cap;
    uint64_t written;
};

static size_t row_bytes(const struct writer *w, size_t row)
{
    size_t n = w->b->rows[row].key_len + w->project_len + 64;
    for (size_t f = 0; f < w->vf.n; f++)
        n += feast_batch_cell(w->b, row, f)->val_len + 16;
    return n;
}

static void argv_reserve(struct writer *w, size_t argc)
{
    if (argc <= w->argv_cap)
        return;
    w->argv = xrealloc(w->argv, argc * sizeof *w->argv);
    w->lens = xrealloc(w->lens, argc * sizeof *w->lens);
    w->argv_cap = argc;
}

/* Appends the EVALSHA for one call to the pipeline; returns the bytes appended (about). */
static int append_call(struct writer *w, const struct call *c, size_t *bytes, struct ferry_err *err)
{
    const struct feast_batch *b = w->b;
    size_t nf = w->vf.n, argc = 3 + c->count + 3 + nf + c->count * (3 + nf);
    argv_reserve(w, argc);
    /* Pass 1: the bytes that are not already in stable memory, by offset (the buffer may move). */
    fbuf_reset(&w->scratch);
    char ttl[32], nfs[32], nkeys[32];
    snprintf(ttl, sizeof ttl, "%" PRId64, w->s->ttl);
    snprintf(nfs, sizeof nfs, "%zu", nf);
    snprintf(nkeys, sizeof nkeys, "%zu", c->count);
    size_t *offs = xcalloc(c->count * 4 + 1, sizeof *offs);  /* key, sec, nanos, ts; each then end */
    int rc = 0;
    for (size_t k = 0; k < c->count && !rc; k++) {
        const struct wrow *r = &w->rows[c->start + k];
        unsigned char ts[TS_BYTES_MAX];
        size_t tn = ts_encode(ts, r->sec, r->nanos);
        offs[k * 4] = w->scratch.len;
        rc = fbuf_add(&w->scratch, feast_batch_key(b, r->row), b->rows[r->row].key_len);
        if (!rc) rc = fbuf_add(&w->scratch, w->project, w->project_len);
        if (!rc) { offs[k * 4 + 1] = w->scratch.len; rc = fbuf_addf(&w->scratch, "%" PRId64, r->sec); }
        if (!rc) { offs[k * 4 + 2] = w->scratch.len; rc = fbuf_addf(&w->scratch, "%" PRId32, r->nanos); }
        if (!rc) { offs[k * 4 + 3] = w->scratch.len; rc = fbuf_add(&w->scratch, ts, tn); }
    }
    offs[c->count * 4] = w->scratch.len;
    if (rc) {
        free(offs);
        return ferry_errf(err, rc, "%s: view %s: one script call exceeds %zu bytes", w->s->where, w->view->name,
                          w->scratch.max);
    }
    /* Pass 2: the argument vector. */
    const char *sc = w->scratch.data ? w->scratch.data : "";
    size_t a = 0;
#define ARG(p, n) (w->argv[a] = (p), w->lens[a] = (n), a++)
#define SCR(i) ARG(sc + offs[(i)], offs[(i) + 1] - offs[(i)])
    ARG("EVALSHA", 7);
    ARG(w->s->sha, 40);
    ARG(nkeys, strlen(nkeys));
    for (size_t k = 0; k < c->count; k++)
        SCR(k * 4);
    ARG(w->vf.ts, strlen(w->vf.ts));
    ARG(ttl, strlen(ttl));
    ARG(nfs, strlen(nfs));
    for (size_t f = 0; f < nf; f++)
        ARG((const char *)w->vf.hash[f], 4);
    for (size_t k = 0; k < c->count; k++) {
        size_t row = w->rows[c->start + k].row;
        SCR(k * 4 + 1);
        SCR(k * 4 + 2);
        SCR(k * 4 + 3);
        for (size_t f = 0; f < nf; f++) {
            const struct feast_batch_cell *cell = feast_batch_cell(b, row, f);
            ARG(cell->val_len ? b->bytes.data + cell->val_off : "", cell->val_len);
        }
    }
#undef SCR
#undef ARG
    free(offs);
    *bytes = 0;
    for (size_t i = 0; i < a; i++)
        *bytes += w->lens[i] + 16;
    /* hiredis copies the arguments into its output buffer, so scratch can be reused right away. */
    if (redisAppendCommandArgv(w->s->c, (int)a, w->argv, w->lens) != REDIS_OK)
        return conn_err(w->s, err, "cannot queue a write");
    return 0;
}

static int load_script(struct redis_store *s, struct ferry_err *err)
{
    const char *av[] = {"SCRIPT", "LOAD", write_script};
    redisReply *r = command(s, 3, av, NULL, "cannot load the write script (SCRIPT LOAD)", err);
    if (!r)
        return err ? err->code : FERRY_ESTORE;
    int rc = 0;
    if (r->type != REDIS_REPLY_STRING || r->len != 40)
        rc = ferry_errf(err, FERRY_ESTORE, "%s: SCRIPT LOAD answered something other than a SHA1", s->where);
    else
        memcpy(s->sha, r->str, 41);
    freeReplyObject(r);
    return rc;
}

/* Reads the replies of calls[0..n); calls whose script was missing (NOSCRIPT: the server restarted
 * or SCRIPT FLUSH ran; nothing was executed) are moved to the front of calls, *nretry of them. */
static int drain_calls(struct writer *w, struct call *calls, size_t n, size_t *nretry, struct ferry_err *err)
{
    int rc = 0;
    *nretry = 0;
    for (size_t i = 0; i < n; i++) {
        void *rv = NULL;
        if (redisGetReply(w->s->c, &rv) != REDIS_OK || !rv)
            return conn_err(w->s, err, "write failed");
        redisReply *r = rv;
        if (rc) {
            /* keep reading so the connection stays in step; the first error is the one reported */
        } else if (r->type == REDIS_REPLY_ERROR && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0) {
            calls[(*nretry)++] = calls[i];
        } else if (r->type == REDIS_REPLY_ERROR) {
            char kd[96];
            const struct wrow *first = &w->rows[calls[i].start];
            rc = ferry_errf(err, FERRY_ESTORE, "%s: view %s: write of %zu keys from key %s failed: %.*s", w->s->where,
                            w->view->name, calls[i].count,
                            key_desc(kd, feast_batch_key(w->b, first->row), w->b->rows[first->row].key_len),
                            (int)r->len, r->str);
        } else if (r->type != REDIS_REPLY_STRING || r->len != calls[i].count) {
            rc = ferry_errf(err, FERRY_ESTORE, "%s: view %s: unexpected answer from the write script", w->s->where,
                            w->view->name);
        } else {
            for (size_t k = 0; k < r->len; k++)
                w->written += r->str[k] == '1';
        }
        freeReplyObject(r);
    }
    return rc;
}

/* Sends calls[0..n) and reads their replies, reloading the script once if the server lost it. */
static int flush_calls(struct writer *w, struct call *calls, size_t n, struct ferry_err *err)
{
    size_t nretry = 0;
    int rc = drain_calls(w, calls, n, &nretry, err);
    if (rc || !nretry)
        return rc;
    if ((rc = load_script(w->s, err)))
        return rc;
    for (size_t i = 0; i < nretry && !rc; i++) {
        size_t bytes;
        rc = append_call(w, &calls[i], &bytes, err);
    }
    if (rc)
        drop_conn(w->s);  /* some retries were queued and will never be read */
    else {
        size_t again = 0;
        rc = drain_calls(w, calls, nretry, &again, err);
        if (!rc && again)
            rc = ferry_errf(err, FERRY_ESTORE, "%s: the write script disappears right after SCRIPT LOAD", w->s->where);
    }
    return rc;
}

static int write_dedup(struct writer *w, struct ferry_err *err)
{
    size_t npicked = pick_rows(w->b, w->rows);
    int rc = w->s->sha[0] ? 0 : load_script(w->s, err);
    struct call *calls = xcalloc(npicked + 1, sizeof *calls);
    size_t ncalls = 0, window = 0;
    for (size_t i = 0; !rc && i < npicked;) {
        struct call c = {i, 0};
        size_t bytes = 0;
        while (i < npicked && c.count < KEYS_PER_CALL && (c.count == 0 || bytes < CALL_BYTES)) {
            bytes += row_bytes(w, w->rows[i].row);
            c.count++;
            i++;
        }
        size_t sent = 0;
        if ((rc = append_call(w, &c, &sent, err)))
            break;
        calls[ncalls++] = c;
        window += sent;
        if (window >= WINDOW_BYTES || i == npicked) {
            rc = flush_calls(w, calls, ncalls, err);
            ncalls = 0;
            window = 0;
        }
    }
    if (rc && ncalls)
        drop_conn(w->s);  /* replies of queued calls were never read */
    free(calls);
    return rc;
}

/* skip_dedup: true (Feast v0.66): every row is written in input order with no read, so the last row
 * of a key wins and an older row replaces a newer stored one, as in Feast. */
static int write_plain(struct writer *w, struct ferry_err *err)
{
    const struct feast_batch *b = w->b;
    size_t nf = w->vf.n, argc = 4 + 2 * nf;
    argv_reserve(w, argc);
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%" PRId64, w->s->ttl);
    size_t pending = 0, window = 0;
    int rc = 0;
    for (size_t r = 0; r < b->nrows && !rc; r++) {
        int64_t sec;
        int32_t nanos;
        unsigned char ts[TS_BYTES_MAX];
        ts_split(b->rows[r].event_ns, &sec, &nanos);
        size_t tn = ts_encode(ts, sec, nanos);
        fbuf_reset(&w->scratch);
        if ((rc = fbuf_add(&w->scratch, feast_batch_key(b, r), b->rows[r].key_len)) ||
            (rc = fbuf_add(&w->scratch, w->project, w->project_len))) {
            rc = ferry_errf(err, rc, "%s: view %s: key too long", w->s->where, w->view->name);
            break;
        }
        size_t a = 0;
        w->argv[a] = "HSET"; w->lens[a++] = 4;
        w->argv[a] = w->scratch.data; w->lens[a++] = w->scratch.len;
        w->argv[a] = w->vf.ts; w->lens[a++] = strlen(w->vf.ts);
        w->argv[a] = (const char *)ts; w->lens[a++] = tn;
        for (size_t f = 0; f < nf; f++) {
            const struct feast_batch_cell *c = feast_batch_cell(b, r, f);
            w->argv[a] = (const char *)w->vf.hash[f]; w->lens[a++] = 4;
            w->argv[a] = c->val_len ? b->bytes.data + c->val_off : ""; w->lens[a++] = c->val_len;
        }
        if (redisAppendCommandArgv(w->s->c, (int)a, w->argv, w->lens) != REDIS_OK) {
            rc = conn_err(w->s, err, "cannot queue a write");
            break;
        }
        pending++;
        window += row_bytes(w, r);
        if (w->s->ttl > 0) {
            const char *av[] = {"EXPIRE", w->scratch.data, ttl};
            size_t al[] = {6, w->scratch.len, strlen(ttl)};
            if (redisAppendCommandArgv(w->s->c, 3, av, al) != REDIS_OK) {
                rc = conn_err(w->s, err, "cannot queue a write");
                break;
            }
            pending++;
        }
        if (window < WINDOW_BYTES && r + 1 < b->nrows)
            continue;
        for (; pending; pending--) {
            void *rv = NULL;
            if (redisGetReply(w->s->c, &rv) != REDIS_OK || !rv) {
                rc = conn_err(w->s, err, "write failed");
                pending = 0;
                break;
            }
            redisReply *rep = rv;
            if (!rc && rep->type == REDIS_REPLY_ERROR)
                rc = ferry_errf(err, FERRY_ESTORE, "%s: view %s: write failed: %.*s", w->s->where, w->view->name,
                                (int)rep->len, rep->str);
            freeReplyObject(rep);
        }
        window = 0;
    }
    if (rc && pending)
        drop_conn(w->s);
    if (!rc)
        w->written = b->nrows;
    return rc;
}

static int redis_write(struct online_store *st, const char *project, const struct feast_view *view,
                       const struct feast_batch *b, struct online_write_stats *stats, struct ferry_err *err)
{
    struct redis_store *s = impl(st);
    if (!b->nrows)
        return 0;
    int rc = ensure_conn(s, err);
    if (rc)
        return rc;
    struct writer w = {.s = s, .project = project, .project_len = strlen(project), .view = view, .b = b};
    fields_init(&w.vf, view->name, (const char *const *)b->schema->feature_names, b->schema->nfeatures);
    fbuf_init(&w.scratch, (size_t)64 << 20);
    w.rows = xcalloc(b->nrows, sizeof *w.rows);
    rc = s->skip_dedup ? write_plain(&w, err) : write_dedup(&w, err);
    if (!rc) {
        stats->rows_written = w.written;
        stats->rows_skipped = b->nrows - w.written;
    }
    free(w.rows);
    free(w.argv);
    free(w.lens);
    fbuf_cleanup(&w.scratch);
    fields_cleanup(&w.vf);
    return rc;
}

/* ---- read ---- */

/* Takes one HMGET reply (nfeatures values, then _ts) into key k of the result. */
static int take_reply(struct redis_store *s, const struct feast_view *view, const struct fbuf *key, redisReply *r,
                      size_t k, struct online_read_result *out, struct ferry_err *err)
{
    size_t nf = out->nfeatures;
    char kd[96];
    if (r->type == REDIS_REPLY_ERROR)
        return ferry_errf(err, FERRY_ESTORE, "%s: view %s: reading key %s failed: %.*s", s->where, view->name,
                          key_desc(kd, key->data, key->len), (int)r->len, r->str);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != nf + 1)
        return ferry_errf(err, FERRY_ESTORE, "%s: view %s: unexpected answer to HMGET for key %s", s->where,
                          view->name, key_desc(kd, key->data, key->len));
    /* Feast returns a Timestamp for every entity (zero when _ts is absent) and a Value per feature
     * (empty when absent), so every requested entity is found, as Feast's server reports it. */
    out->found[k] = nf > 0;
    out->event_ns[k] = 0;
    redisReply *ts = r->element[nf];
    if (ts->type == REDIS_REPLY_STRING && ts->len &&
        ts_decode((const unsigned char *)ts->str, ts->len, &out->event_ns[k]) != 0)
        return ferry_errf(err, FERRY_ESTORE, "%s: view %s: key %s: the stored _ts:%s is not a protobuf Timestamp",
                          s->where, view->name, key_desc(kd, key->data, key->len), view->name);
    for (size_t f = 0; f < nf; f++) {
        redisReply *v = r->element[f];
        if (v->type != REDIS_REPLY_STRING || v->len == 0)
            continue;
        if (v->len > UINT32_MAX)
            return ferry_errf(err, FERRY_ELIMIT, "%s: view %s: a stored value is too large", s->where, view->name);
        size_t off = out->bytes.len;
        int rc = fbuf_add(&out->bytes, v->str, v->len);
        if (rc)
            return ferry_errf(err, rc, "%s: view %s: read result exceeds %zu bytes", s->where, view->name,
                              READ_BYTES_MAX);
        out->val_off[k * nf + f] = off;
        out->val_len[k * nf + f] = (uint32_t)v->len;
    }
    return 0;
}

static int redis_read(struct online_store *st, const char *project, const struct feast_view *view,
                      const struct fbuf *keys, size_t nkeys, const char *const *features, size_t nfeatures,
                      struct online_read_result *out, struct ferry_err *err)
{
    struct redis_store *s = impl(st);
    out->nkeys = nkeys;
    out->nfeatures = nfeatures;
    fbuf_init(&out->bytes, READ_BYTES_MAX);
    size_t ncells = nkeys * nfeatures;
    if (nfeatures && ncells / nfeatures != nkeys)
        return ferry_errf(err, FERRY_ELIMIT, "%s: view %s: too many keys", s->where, view->name);
    out->found = calloc(nkeys ? nkeys : 1, sizeof *out->found);
    out->event_ns = calloc(nkeys ? nkeys : 1, sizeof *out->event_ns);
    out->val_off = calloc(ncells ? ncells : 1, sizeof *out->val_off);
    out->val_len = calloc(ncells ? ncells : 1, sizeof *out->val_len);
    if (!out->found || !out->event_ns || !out->val_off || !out->val_len)
        return ferry_errf(err, FERRY_ENOMEM, "%s: view %s: no memory for %zu keys", s->where, view->name, nkeys);
    for (size_t k = 0; k < nkeys; k++)
        out->event_ns[k] = FERRY_TIME_NONE;
    int rc = nkeys ? ensure_conn(s, err) : 0;
    if (rc)
        return rc;
    struct view_fields vf;
    fields_init(&vf, view->name, features, nfeatures);
    size_t argc = 3 + nfeatures;
    const char **argv = xcalloc(argc, sizeof *argv);
    size_t *lens = xcalloc(argc, sizeof *lens);
    struct fbuf hk;
    fbuf_init(&hk, (size_t)64 << 20);
    size_t plen = strlen(project);
    argv[0] = "HMGET";
    lens[0] = 5;
    for (size_t f = 0; f < nfeatures; f++) {
        argv[2 + f] = (const char *)vf.hash[f];
        lens[2 + f] = 4;
    }
    argv[2 + nfeatures] = vf.ts;
    lens[2 + nfeatures] = strlen(vf.ts);
    size_t sent = 0, done = 0;
    while (!rc && done < nkeys) {
        for (; sent < nkeys && sent - done < READ_WINDOW_KEYS; sent++) {
            fbuf_reset(&hk);
            if ((rc = fbuf_add(&hk, keys[sent].len ? keys[sent].data : "", keys[sent].len)) ||
                (rc = fbuf_add(&hk, project, plen))) {
                rc = ferry_errf(err, rc, "%s: view %s: key too long", s->where, view->name);
                break;
            }
            argv[1] = hk.data;
            lens[1] = hk.len;
            if (redisAppendCommandArgv(s->c, (int)argc, argv, lens) != REDIS_OK) {
                rc = conn_err(s, err, "cannot queue a read");
                break;
            }
        }
        int first = rc;
        for (; done < sent && s->c; done++) {
            void *rv = NULL;
            if (redisGetReply(s->c, &rv) != REDIS_OK || !rv) {
                rc = first ? first : conn_err(s, err, "read failed");
                break;
            }
            if (!rc)
                rc = take_reply(s, view, &keys[done], rv, done, out, err);
            freeReplyObject(rv);
        }
    }
    fbuf_cleanup(&hk);
    free(argv);
    free(lens);
    fields_cleanup(&vf);
    return rc;
}

const struct online_store_type online_redis_type = {
    .name = "redis",
    .writes_value_text = false,   /* Feast's Redis hashes hold only the Value bytes */
    .open = redis_open,
    .prepare = redis_prepare,
    .write = redis_write,
    .read = redis_read,
    .close = redis_close,
};
