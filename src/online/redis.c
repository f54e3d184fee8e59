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
 * A batch is written with Feast's own two pipelines (§6.2): one HGET of "_ts:view" per entity, the
 * comparison here in the client, then one HSET (+ EXPIRE) per entity that is newer. As in Feast, the
 * read and the write are not atomic: another writer of the same view that writes between them can
 * have its newer row replaced by an older one. ferry's service never runs two jobs of one view at
 * once (across replicas too), so only an uncoordinated writer (Feast itself, or a second `ferry
 * materialize` started by hand on the same view) can hit this.
 * When the database is empty at the start of a view's run (DBSIZE 0, see redis_begin_view) the read
 * pipeline is skipped for that run: nothing can be stored for keys the run has not written, and the
 * run writes each key once.
 * Commands are formatted into RESP here and sent in windows, the next window going out before the
 * replies of the previous one are read, so the server never waits for the client to format.
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
 * generous, because one pipeline window of a big batch can keep the server busy for a while. */
#define CONNECT_TIMEOUT_S 10.0
#define COMMAND_TIMEOUT_S 300.0
/* Writes go out in windows of about this many bytes of commands, with at most two windows
 * unanswered: enough to keep the server busy while the client formats the next window, small
 * enough that the client's buffer and the server's reply backlog stay small. */
#define WINDOW_BYTES ((size_t)256 << 10)
/* One window holds at most one command past WINDOW_BYTES; a command is one row of a batch (at most
 * FEAST_BATCH_MAX_BYTES of values) plus its framing, so this limit is only a backstop. */
#define WINDOW_MAX ((size_t)2 << 30)
#define READ_WINDOW_KEYS 1024
#define READ_BYTES_MAX ((size_t)1 << 30)

struct redis_store {
    struct online_store base;  /* first: online.c sees only this */
    struct redis_conn_opts opts;
    char where[REDIS_HOST_MAX + 64];  /* "Redis online store host:port db N", for messages */
    redisContext *c;           /* NULL after a failure that may have left replies unread */
    int64_t ttl;
    bool skip_dedup;
    /* Set by redis_begin_view when the database was empty: writes of this view (and project) need
     * not read the stored _ts first. NULL otherwise; cleared by the next begin_view, by a failed
     * write and by a dropped connection (what the server holds is then no longer known). */
    char *blind_view, *blind_project;
};

static struct redis_store *impl(struct online_store *st) { return (struct redis_store *)st; }

static struct timeval seconds_tv(double s)
{
    struct timeval tv;
    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
    return tv;
}

static void end_blind(struct redis_store *s)
{
    free(s->blind_view);
    free(s->blind_project);
    s->blind_view = s->blind_project = NULL;
}

/* Drops the connection (the next call reconnects); used whenever replies may be left unread. */
static void drop_conn(struct redis_store *s)
{
    if (s->c)
        redisFree(s->c);
    s->c = NULL;
    end_blind(s);
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


/* A stored _ts as its two fields, accepting what protobuf accepts: fields in any order, a repeated
 * field's last value, unknown fields skipped (older Feast wrote seconds only). -1 when malformed. */
static int ts_parse(const unsigned char *p, size_t n, int64_t *sec, int32_t *nanos)
{
    *sec = 0;
    *nanos = 0;
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
                *sec = (int64_t)v;
            else if ((tag >> 3) == 2)
                *nanos = (int32_t)(uint32_t)v;
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
    return 0;
}

/* Stored _ts -> ns, for reads; a time outside ferry's ns range is malformed too. */
static int ts_decode(const unsigned char *p, size_t n, int64_t *ns)
{
    int64_t sec;
    int32_t nanos;
    if (ts_parse(p, n, &sec, &nanos))
        return -1;
    if (sec > INT64_MAX / FERRY_NS_PER_SEC - 1 || sec < INT64_MIN / FERRY_NS_PER_SEC + 1)
        return -1;
    *ns = sec * FERRY_NS_PER_SEC + nanos;
    return 0;
}

/* Feast's skip rule (§6.2: `latest != 0 and new <= latest`): a stored time wins unless it is zero or
 * older than the row's. Compared as (seconds, nanos) pairs, so any int64 seconds a foreign writer
 * stored is ordered correctly even where seconds * 10^9 would not fit. */
static bool stored_wins(int64_t ps, int32_t pn, int64_t sec, int32_t nanos)
{
    if (ps == 0 && pn == 0)
        return false;
    return sec < ps || (sec == ps && nanos <= pn);
}

/* A key for messages, in hex: whole when short, else its first and last bytes, since Feast's
 * serialized keys differ mostly at the end (the entity's value). */
#define KEY_DESC_MAX 112
static const char *key_desc(char buf[KEY_DESC_MAX], const void *key, size_t n)
{
    const unsigned char *p = key;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (n > 48 && i == 12) {
            o += (size_t)snprintf(buf + o, KEY_DESC_MAX - o, "...");
            i = n - 36;
        }
        o += (size_t)snprintf(buf + o, KEY_DESC_MAX - o, "%02x", p[i]);
    }
    buf[o] = '\0';
    return buf;
}

/* Field names of one view: 4-byte murmur3 per feature, and "_ts:view". */
struct view_fields {
    size_t n;
    unsigned char (*hash)[4];
    char *ts;
    size_t ts_len;
};

static void fields_init(struct view_fields *vf, const char *view, const char *const *features, size_t n)
{
    vf->n = n;
    vf->hash = xcalloc(n ? n : 1, sizeof *vf->hash);
    vf->ts = xasprintf("_ts:%s", view);
    vf->ts_len = strlen(vf->ts);
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

/* ---- RESP ---- */

/* Commands are formatted here in Redis's protocol: "*<argc>\r\n", then "$<len>\r\n<bytes>\r\n" per
 * argument. That is all hiredis's redisAppendCommandArgv does too, but it grows an sds string
 * argument by argument (~6% of the writer's profile); here each command's size is computed first
 * and it is written into one buffer in one pass. */

static size_t dec_len(size_t v)
{
    size_t n = 1;
    for (; v >= 10000; v /= 10000)
        n += 4;
    return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* "<c><v>\r\n": an array header ('*') or a bulk string header ('$'). */
static size_t head_len(size_t v) { return 1 + dec_len(v) + 2; }
static size_t bulk_len(size_t n) { return head_len(n) + n + 2; }

static char *put_head(char *p, char c, size_t v)
{
    if (v < 10) {  /* most values and every field name */
        p[0] = c;
        p[1] = (char)('0' + v);
        p[2] = '\r';
        p[3] = '\n';
        return p + 4;
    }
    char d[24];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    *p++ = c;
    while (n)
        *p++ = d[--n];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* A bulk string made of a then b (a hash key: entity key, then project). */
static char *put_bulk2(char *p, const void *a, size_t an, const void *b, size_t bn)
{
    p = put_head(p, '$', an + bn);
    if (an)
        memcpy(p, a, an);
    p += an;
    if (bn)
        memcpy(p, b, bn);
    p += bn;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static char *put_bulk(char *p, const void *s, size_t n) { return put_bulk2(p, s, n, NULL, 0); }

/* A feature's field name as a bulk string, "$4\r\n" + 4 bytes + "\r\n", formatted once per view. */
#define FIELD_RESP 10

/* ---- pipelines ---- */

/* One pipeline of commands, sent in windows of about WINDOW_BYTES. A window goes out before the
 * replies of the previous one are read, so the server works on window k+1 while the client reads the
 * replies of k and formats k+2; at most two windows are unanswered. Replies are numbered from 0 in
 * sending order and handed to on_reply. After the first failed reply nothing more is sent, but the
 * replies already due are still read so that the connection stays in step. */
struct pipe {
    struct redis_store *s;
    struct fbuf out;            /* RESP of the window being built */
    size_t queued;              /* commands in out */
    size_t sent, answered;      /* commands sent, replies read */
    int rc;                     /* first failure; err holds its message */
    int (*on_reply)(void *ctx, size_t i, const redisReply *r, struct ferry_err *err);
    void *ctx;
};

static void pipe_init(struct pipe *p, struct redis_store *s,
                      int (*on_reply)(void *, size_t, const redisReply *, struct ferry_err *), void *ctx)
{
    memset(p, 0, sizeof *p);
    p->s = s;
    p->on_reply = on_reply;
    p->ctx = ctx;
    fbuf_init(&p->out, WINDOW_MAX);
}

/* Fails the pipeline (the first failure's message is kept) and returns its code. */
static int pipe_fail(struct pipe *p, int rc, struct ferry_err *err, const struct ferry_err *e)
{
    if (!p->rc) {
        p->rc = rc;
        if (err && e != err)
            *err = *e;
    }
    return p->rc;
}

/* Room for one command of `need` bytes at the end of the window; NULL with the pipeline failed. */
static char *pipe_reserve(struct pipe *p, size_t need, const char *view, struct ferry_err *err)
{
    int rc = fbuf_reserve(&p->out, need);
    if (!rc)
        return p->out.data + p->out.len;
    struct ferry_err e;
    ferry_errf(&e, rc, "%s: view %s: one command exceeds %zu bytes", p->s->where, view, p->out.max);
    pipe_fail(p, rc, err, &e);
    return NULL;
}

static void pipe_commit(struct pipe *p, char *end)
{
    p->out.len = (size_t)(end - p->out.data);
    p->out.data[p->out.len] = '\0';
    p->queued++;
}

/* Reads replies until `upto` have been read. A lost connection stops everything (and drops it). */
static int pipe_read(struct pipe *p, size_t upto, struct ferry_err *err)
{
    while (p->answered < upto) {
        void *rv = NULL;
        if (redisGetReply(p->s->c, &rv) != REDIS_OK || !rv) {
            struct ferry_err e;
            int rc = conn_err(p->s, &e, "no answer to a pipelined command");
            return pipe_fail(p, rc, err, &e);
        }
        if (!p->rc) {
            struct ferry_err e;
            int rc = p->on_reply(p->ctx, p->answered, rv, &e);
            if (rc)
                pipe_fail(p, rc, err, &e);
        }
        freeReplyObject(rv);
        p->answered++;
    }
    return p->rc;
}

/* Sends the window being built, then reads the replies of the window before it. */
static int pipe_send(struct pipe *p, struct ferry_err *err)
{
    if (p->rc || !p->queued)
        return p->rc;
    size_t due = p->sent;
    redisContext *c = p->s->c;
    int done = 0;
    /* hiredis only copies the bytes into its output buffer; writing it out now (rather than at the
     * next reply read) starts the server on this window while the previous replies are read. */
    if (redisAppendFormattedCommand(c, p->out.data, p->out.len) != REDIS_OK)
        done = -1;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            done = -1;
    if (done < 0) {
        struct ferry_err e;
        int rc = conn_err(p->s, &e, "cannot send a pipelined command");
        return pipe_fail(p, rc, err, &e);
    }
    p->sent += p->queued;
    p->queued = 0;
    fbuf_reset(&p->out);
    return pipe_read(p, due, err);
}

static int pipe_maybe_send(struct pipe *p, struct ferry_err *err)
{
    return p->out.len >= WINDOW_BYTES ? pipe_send(p, err) : p->rc;
}

/* Ends the pipeline: sends what is queued (unless it failed) and reads every reply due. */
static int pipe_end(struct pipe *p, struct ferry_err *err)
{
    pipe_send(p, err);
    if (p->s->c)
        pipe_read(p, p->sent, err);
    fbuf_cleanup(&p->out);
    return p->rc;
}

/* ---- write ---- */

struct wrow {
    size_t row;      /* in the batch */
    int64_t sec;     /* the row's time as Feast stores it */
    int32_t nanos;
};

static struct wrow wrow_of(const struct feast_batch *b, size_t row)
{
    struct wrow w = {row, 0, 0};
    ts_split(b->rows[row].event_ns, &w.sec, &w.nanos);
    return w;
}

static bool same_key(const struct feast_batch *b, size_t r1, size_t r2)
{
    size_t n = b->rows[r1].key_len;
    return n == b->rows[r2].key_len && memcmp(feast_batch_key(b, r1), feast_batch_key(b, r2), n) == 0;
}

/* The rows to send, one per distinct key (in order of first appearance), chosen as Feast's in-batch
 * rule would leave the hash if nothing were stored yet: going through the key's rows in input order,
 * a row replaces the queued one unless the queued time is non-zero and the row is not strictly newer
 * (so with equal times the first row wins). That one row is then compared with the stored time,
 * which gives the same final hash as Feast's row-by-row writes (for times after 1970). Keys are
 * matched through an open-addressing hash table: linear in the batch, where sorting the keys was a
 * quarter of the writer's time. */
static size_t pick_rows(const struct feast_batch *b, struct wrow *out)
{
    size_t n = b->nrows, cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    size_t *slot = xcalloc(cap, sizeof *slot);  /* 1 + index into out; 0 = free */
    size_t nout = 0;
    for (size_t r = 0; r < n; r++) {
        struct wrow w = wrow_of(b, r);
        size_t h = feast_murmur3_32(feast_batch_key(b, r), b->rows[r].key_len, 0) & (cap - 1);
        while (slot[h] && !same_key(b, out[slot[h] - 1].row, r))
            h = (h + 1) & (cap - 1);
        if (!slot[h]) {
            out[nout] = w;
            slot[h] = ++nout;
            continue;
        }
        struct wrow *q = &out[slot[h] - 1];
        int64_t latest = ts_value(q->sec, q->nanos), t = ts_value(w.sec, w.nanos);
        if (latest > 0 && t <= latest)  /* Feast: max(prev = 0, queued) != 0 and new <= it */
            continue;
        *q = w;
    }
    free(slot);
    return nout;
}

struct writer {
    struct redis_store *s;
    const char *project;
    size_t project_len;
    const struct feast_view *view;
    const struct feast_batch *b;
    struct view_fields vf;
    struct wrow *rows;         /* the rows to consider, in sending order */
    bool *newer;               /* per rows[i]: newer than the stored time (read pipeline) */
    char (*field_resp)[FIELD_RESP]; /* per feature: its field name in RESP */
    char ttl[32];              /* key_ttl_seconds as text; "" for none */
    size_t ttl_len;
};

static const char *row_key_desc(const struct writer *w, size_t i, char buf[KEY_DESC_MAX])
{
    size_t row = w->rows[i].row;
    return key_desc(buf, feast_batch_key(w->b, row), w->b->rows[row].key_len);
}

/* HGET <key+project> _ts:<view> */
static int add_hget(struct writer *w, struct pipe *p, size_t i, struct ferry_err *err)
{
    size_t row = w->rows[i].row, kn = w->b->rows[row].key_len;
    size_t need = head_len(3) + bulk_len(4) + bulk_len(kn + w->project_len) + bulk_len(w->vf.ts_len);
    char *o = pipe_reserve(p, need, w->view->name, err);
    if (!o)
        return p->rc;
    o = put_head(o, '*', 3);
    o = put_bulk(o, "HGET", 4);
    o = put_bulk2(o, feast_batch_key(w->b, row), kn, w->project, w->project_len);
    o = put_bulk(o, w->vf.ts, w->vf.ts_len);
    pipe_commit(p, o);
    return 0;
}

/* HSET <key+project> _ts:<view> <Timestamp> <field_1> <value_1> ... in the view's feature order,
 * then EXPIRE <key+project> <ttl> when key_ttl_seconds is set. */
static int add_hset(struct writer *w, struct pipe *p, size_t i, struct ferry_err *err)
{
    const struct feast_batch *b = w->b;
    const struct wrow *r = &w->rows[i];
    size_t nf = w->vf.n, kn = b->rows[r->row].key_len;
    unsigned char ts[TS_BYTES_MAX];
    size_t tn = ts_encode(ts, r->sec, r->nanos);
    size_t need = head_len(4 + 2 * nf) + bulk_len(4) + bulk_len(kn + w->project_len) + bulk_len(w->vf.ts_len) +
                  bulk_len(tn) + nf * FIELD_RESP;
    for (size_t f = 0; f < nf; f++)
        need += bulk_len(feast_batch_cell(b, r->row, f)->val_len);
    if (w->ttl_len)
        need += head_len(3) + bulk_len(6) + bulk_len(kn + w->project_len) + bulk_len(w->ttl_len);
    char *o = pipe_reserve(p, need, w->view->name, err);
    if (!o)
        return p->rc;
    const unsigned char *key = feast_batch_key(b, r->row);
    o = put_head(o, '*', 4 + 2 * nf);
    o = put_bulk(o, "HSET", 4);
    o = put_bulk2(o, key, kn, w->project, w->project_len);
    o = put_bulk(o, w->vf.ts, w->vf.ts_len);
    o = put_bulk(o, ts, tn);
    for (size_t f = 0; f < nf; f++) {
        const struct feast_batch_cell *c = feast_batch_cell(b, r->row, f);
        memcpy(o, w->field_resp[f], FIELD_RESP);
        o = put_bulk(o + FIELD_RESP, c->val_len ? b->bytes.data + c->val_off : "", c->val_len);
    }
    if (w->ttl_len) {
        pipe_commit(p, o);
        o = put_head(o, '*', 3);
        o = put_bulk(o, "EXPIRE", 6);
        o = put_bulk2(o, key, kn, w->project, w->project_len);
        o = put_bulk(o, w->ttl, w->ttl_len);
    }
    pipe_commit(p, o);
    return 0;
}

/* Reply i of the read pipeline: the stored _ts of rows[i], or nil. */
static int on_stored_ts(void *ctx, size_t i, const redisReply *r, struct ferry_err *err)
{
    struct writer *w = ctx;
    char kd[KEY_DESC_MAX];
    if (r->type == REDIS_REPLY_NIL) {
        w->newer[i] = true;
        return 0;
    }
    if (r->type == REDIS_REPLY_ERROR)
        return ferry_errf(err, FERRY_ESTORE, "%s: view %s: key %s: reading the stored %s failed: %.*s", w->s->where,
                          w->view->name, row_key_desc(w, i, kd), w->vf.ts, (int)r->len, r->str);
    int64_t ps = 0;
    int32_t pn = 0;
    if (r->type != REDIS_REPLY_STRING || ts_parse((const unsigned char *)r->str, r->len, &ps, &pn) != 0)
        return ferry_errf(err, FERRY_ESTORE, "%s: view %s: key %s: cannot decode the stored %s as a protobuf "
                          "Timestamp; nothing of this batch was written", w->s->where, w->view->name,
                          row_key_desc(w, i, kd), w->vf.ts);
    w->newer[i] = !stored_wins(ps, pn, w->rows[i].sec, w->rows[i].nanos);
    return 0;
}

/* Feast's pipeline 1: reads the stored _ts of rows[0..n) and keeps, in order, the rows that are
 * newer; *n becomes their number. Every reply is read before anything is written, so a stored _ts
 * that cannot be decoded fails the batch with nothing of it written. */
static int keep_newer(struct writer *w, size_t *n, struct ferry_err *err)
{
    struct pipe p;
    pipe_init(&p, w->s, on_stored_ts, w);
    w->newer = xcalloc(*n ? *n : 1, sizeof *w->newer);
    for (size_t i = 0; i < *n && !p.rc; i++)
        if (!add_hget(w, &p, i, err))
            pipe_maybe_send(&p, err);
    int rc = pipe_end(&p, err);
    if (rc)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (w->newer[i])
            w->rows[k++] = w->rows[i];
    *n = k;
    return 0;
}

/* Reply i of the write pipeline: HSET (and EXPIRE, when set) answer integers. */
static int on_written(void *ctx, size_t i, const redisReply *r, struct ferry_err *err)
{
    struct writer *w = ctx;
    size_t row = w->ttl_len ? i / 2 : i;
    char kd[KEY_DESC_MAX];
    if (r->type == REDIS_REPLY_ERROR)
        return ferry_errf(err, FERRY_ESTORE, "%s: view %s: key %s: write failed: %.*s", w->s->where, w->view->name,
                          row_key_desc(w, row, kd), (int)r->len, r->str);
    if (r->type != REDIS_REPLY_INTEGER)
        return ferry_errf(err, FERRY_ESTORE, "%s: view %s: key %s: unexpected answer to %s", w->s->where,
                          w->view->name, row_key_desc(w, row, kd), w->ttl_len && i % 2 ? "EXPIRE" : "HSET");
    return 0;
}

/* Feast's pipeline 2: HSET (+ EXPIRE) for rows[0..n), in order. */
static int write_rows(struct writer *w, size_t n, struct ferry_err *err)
{
    struct pipe p;
    pipe_init(&p, w->s, on_written, w);
    for (size_t i = 0; i < n && !p.rc; i++)
        if (!add_hset(w, &p, i, err))
            pipe_maybe_send(&p, err);
    return pipe_end(&p, err);
}

/* Whether this store's begin_view found the database empty for this view's run. */
static bool blind_for(const struct redis_store *s, const char *project, const struct feast_view *view)
{
    return s->blind_view && str_eq(s->blind_view, view->name) && str_eq(s->blind_project, project);
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
    if (s->ttl > 0)
        w.ttl_len = (size_t)snprintf(w.ttl, sizeof w.ttl, "%" PRId64, s->ttl);
    w.field_resp = xcalloc(w.vf.n ? w.vf.n : 1, sizeof *w.field_resp);
    for (size_t f = 0; f < w.vf.n; f++)
        put_bulk(w.field_resp[f], w.vf.hash[f], 4);
    w.rows = xcalloc(b->nrows, sizeof *w.rows);
    size_t n = b->nrows;
    if (s->skip_dedup) {
        /* skip_dedup: true (Feast v0.66): every row in input order with no read, so the last row of
         * a key wins and an older row replaces a newer stored one, as in Feast. */
        for (size_t r = 0; r < n; r++)
            w.rows[r] = wrow_of(b, r);
    } else {
        n = pick_rows(b, w.rows);
        if (!blind_for(s, project, view))
            rc = keep_newer(&w, &n, err);
    }
    if (!rc)
        rc = write_rows(&w, n, err);
    if (rc)
        end_blind(s);  /* part of the batch may be written: the store is no longer known to be empty */
    else {
        stats->rows_written = n;
        stats->rows_skipped = b->nrows - n;
    }
    free(w.rows);
    free(w.newer);
    free(w.field_resp);
    fields_cleanup(&w.vf);
    return rc;
}

/* The start of one view's run. On an empty database the run writes without reading the stored _ts:
 * nothing is stored for any key, the run's one offline pull yields at most one row per entity key
 * (so the run writes each key at most once, and never reads back its own rows), and the service
 * never runs two jobs of one view at once. Other views' jobs may write meanwhile; they never touch
 * this view's _ts field. Any non-empty database (even with only other projects' keys) is read as
 * usual. An uncoordinated writer of the same view during the run (see the top of this file) could
 * have its rows overwritten for the whole run instead of between one read and one write. */
static int redis_begin_view(struct online_store *st, const char *project, const struct feast_view *view,
                            struct ferry_err *err)
{
    struct redis_store *s = impl(st);
    end_blind(s);
    if (s->skip_dedup)
        return 0;  /* never reads anyway */
    int rc = ensure_conn(s, err);
    if (rc)
        return rc;
    const char *av[] = {"DBSIZE"};
    redisReply *r = command(s, 1, av, NULL, "DBSIZE failed", err);
    if (!r)
        return err ? err->code : FERRY_ESTORE;
    if (r->type != REDIS_REPLY_INTEGER)
        rc = ferry_errf(err, FERRY_ESTORE, "%s: unexpected answer to DBSIZE", s->where);
    else if (r->integer == 0) {
        s->blind_view = xstrdup(view->name);
        s->blind_project = xstrdup(project);
    }
    freeReplyObject(r);
    return rc;
}

/* ---- read ---- */

/* Takes one HMGET reply (nfeatures values, then _ts) into key k of the result. */
static int take_reply(struct redis_store *s, const struct feast_view *view, const struct fbuf *key, redisReply *r,
                      size_t k, struct online_read_result *out, struct ferry_err *err)
{
    size_t nf = out->nfeatures;
    char kd[KEY_DESC_MAX];
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
    .begin_view = redis_begin_view,
    .write = redis_write,
    .read = redis_read,
    .close = redis_close,
};
