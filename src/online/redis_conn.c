/* Feast's Redis connection_string grammar (feast-compat.md §1.4; RedisOnlineStore._parse_connection_string):
 *   host[:port][,host[:port]...][,key=value...]
 * redis-py receives the k=v items as keyword arguments after json.loads (so `db=1` is an int, `ssl=true`
 * a bool, `password=abc` stays text). ferry maps the keywords it can honour onto hiredis 0.14 and
 * rejects the rest by name: a keyword silently dropped (TLS above all) would connect differently
 * from Feast's own client. */
#include "online/redis_conn.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/util.h"

#define REDIS_DEFAULT_PORT 6379
/* The longest item ferry looks at; longer ones are certainly not a host or a keyword ferry knows. */
#define ITEM_MAX 4096

static const char supported_keys[] =
    "db, password, username, ssl (false only), ssl_* (ignored when ssl is off), socket_timeout, "
    "socket_connect_timeout, socket_keepalive, client_name";

/* A value as redis-py would see it: JSON when it parses, else the text itself. */
struct kw_value {
    json_t *json;       /* NULL when the text is not JSON */
    const char *text;   /* the raw text after '=' */
};

/* Python truthiness of the value (ssl=... is tested with `if ssl:` in redis-py). */
static bool kw_truthy(const struct kw_value *v)
{
    if (!v->json)
        return v->text[0] != '\0';
    switch (json_typeof(v->json)) {
    case JSON_TRUE: return true;
    case JSON_FALSE: case JSON_NULL: return false;
    case JSON_INTEGER: return json_integer_value(v->json) != 0;
    case JSON_REAL: return json_real_value(v->json) != 0.0;
    case JSON_STRING: return json_string_length(v->json) != 0;
    case JSON_ARRAY: return json_array_size(v->json) != 0;
    case JSON_OBJECT: return json_object_size(v->json) != 0;
    }
    return true;
}

/* Text-like keyword (password, username, client_name): a string, or a number redis-py would send as
 * its decimal text; null means "not set". Returns 1 when set, 0 when null, <0 on a bad type. */
static int kw_string(const struct kw_value *v, char **out)
{
    if (!v->json) {
        *out = xstrdup(v->text);
        return 1;
    }
    switch (json_typeof(v->json)) {
    case JSON_NULL:
        return 0;
    case JSON_STRING:
        *out = xstrndup(json_string_value(v->json), json_string_length(v->json));
        return 1;
    case JSON_INTEGER:
        *out = xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v->json));
        return 1;
    default:
        return -1;
    }
}

/* Seconds for the timeout keywords: a positive number, or null for ferry's default. */
static int kw_seconds(const struct kw_value *v, double *out)
{
    if (v->json && json_is_null(v->json)) {
        *out = 0;
        return 0;
    }
    if (!v->json || !json_is_number(v->json))
        return -1;
    double d = json_number_value(v->json);
    if (!(d > 0 && d < 1e7))
        return -1;
    *out = d;
    return 0;
}

static int parse_node(const char *item, size_t n, struct redis_conn_opts *o, struct ferry_err *err)
{
    /* Feast zips item.split(":") with ("host", "port"): anything after a second ':' is dropped, so
     * "h:1:x" is h:1 there too. */
    const char *colon = memchr(item, ':', n);
    size_t hl = colon ? (size_t)(colon - item) : n;
    if (hl == 0)
        return ferry_errf(err, FERRY_ECONFIG, "online_store.connection_string: item '%.*s' has no host name",
                          (int)n, item);
    if (hl >= sizeof o->host)
        return ferry_errf(err, FERRY_ECONFIG, "online_store.connection_string: host name longer than %zu bytes",
                          sizeof o->host - 1);
    memcpy(o->host, item, hl);
    o->host[hl] = '\0';
    o->port = REDIS_DEFAULT_PORT;
    if (colon) {
        const char *p = colon + 1, *end = item + n;
        const char *c2 = memchr(p, ':', (size_t)(end - p));
        if (c2)
            end = c2;
        long port = 0;
        const char *q = p;
        for (; q < end && *q >= '0' && *q <= '9' && port <= 65535; q++)
            port = port * 10 + (*q - '0');
        if (q == p || q != end || port < 1 || port > 65535)
            return ferry_errf(err, FERRY_ECONFIG, "online_store.connection_string: port '%.*s' of '%s' is not a "
                              "number from 1 to 65535", (int)(end - p), p, o->host);
        o->port = (int)port;
    }
    return 0;
}

static int parse_kw(const char *key, const struct kw_value *v, struct redis_conn_opts *o, bool *ssl,
                    struct ferry_err *err)
{
    const char *where = "online_store.connection_string";
    int r;
    if (str_eq(key, "db")) {
        /* redis-py sends db with SELECT as given, so "2" works as well as 2. */
        long long db = -1;
        if (v->json && json_is_integer(v->json)) {
            db = json_integer_value(v->json);
        } else {
            const char *t = v->json && json_is_string(v->json) ? json_string_value(v->json) : v->text;
            char *end = NULL;
            errno = 0;
            long long x = strtoll(t, &end, 10);
            if (*t && !errno && end && !*end)
                db = x;
        }
        if (db < 0 || db > INT_MAX)
            return ferry_errf(err, FERRY_ECONFIG, "%s: db=%s is not a database number", where, v->text);
        o->db = db;
        return 0;
    }
    if (str_eq(key, "password") || str_eq(key, "username") || str_eq(key, "client_name")) {
        char **dst = str_eq(key, "password") ? &o->password : str_eq(key, "username") ? &o->username : &o->client_name;
        char *s = NULL;
        if ((r = kw_string(v, &s)) < 0)  /* the value is not echoed: it may be a secret */
            return ferry_errf(err, FERRY_ECONFIG, "%s: %s must be a string", where, key);
        free(*dst);
        *dst = s;
        return 0;
    }
    if (str_eq(key, "ssl")) {
        *ssl = kw_truthy(v);
        return 0;
    }
    if (strncmp(key, "ssl_", 4) == 0)
        return 0;  /* redis-py only uses these when ssl is on, and ssl on is rejected below */
    if (str_eq(key, "socket_timeout") || str_eq(key, "socket_connect_timeout")) {
        double *dst = str_eq(key, "socket_timeout") ? &o->socket_timeout_s : &o->connect_timeout_s;
        if (kw_seconds(v, dst))
            return ferry_errf(err, FERRY_ECONFIG, "%s: %s=%s is not a positive number of seconds", where, key, v->text);
        return 0;
    }
    if (str_eq(key, "socket_keepalive")) {
        o->keepalive = kw_truthy(v);
        return 0;
    }
    return ferry_errf(err, FERRY_ECONFIG, "%s: keyword '%s' is not supported by ferry (supported: %s)", where, key,
                      supported_keys);
}

void redis_conn_opts_cleanup(struct redis_conn_opts *o)
{
    if (!o)
        return;
    free(o->username);
    free(o->password);
    free(o->client_name);
    memset(o, 0, sizeof *o);
}

int redis_conn_parse(const char *cs, struct redis_conn_opts *o, struct ferry_err *err)
{
    memset(o, 0, sizeof *o);
    if (!cs)
        cs = "localhost:6379";  /* Feast's default */
    bool have_node = false, ssl = false;
    int rc = 0;
    char item[ITEM_MAX + 1];
    for (const char *p = cs; !rc;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (n > ITEM_MAX) {
            rc = ferry_errf(err, FERRY_ECONFIG, "online_store.connection_string: an item is longer than %d bytes",
                            ITEM_MAX);
            break;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (eq) {
            item[eq - p] = '\0';
            struct kw_value v = {NULL, item + (eq - p) + 1};
            json_error_t je;
            v.json = json_loads(v.text, JSON_DECODE_ANY, &je);
            rc = parse_kw(item, &v, o, &ssl, err);
            json_decref(v.json);
        } else if (!have_node) {
            /* Later nodes matter only to a cluster client, which ferry rejects before parsing. */
            rc = parse_node(item, n, o, err);
            have_node = true;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    if (!rc && !have_node)
        rc = ferry_errf(err, FERRY_ECONFIG, "online_store.connection_string names no host:port");
    if (!rc && ssl)
        rc = ferry_errf(err, FERRY_ECONFIG, "online_store.connection_string: ssl=true is not supported by ferry "
                        "(its Redis client, hiredis 0.14, has no TLS); use a TLS tunnel or a plain-text endpoint");
    if (rc)
        redis_conn_opts_cleanup(o);
    return rc;
}
