/* feature_store.yaml loading (config.h): Feast's keys, defaults and validation (feast-compat.md §1,
 * Feast's repo_config.py) plus ferry's own `ferry:` block. The raw text goes through $VAR expansion
 * like Python's os.path.expandvars before YAML parsing, as Feast does. Every error names the file,
 * the line and the key. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/yaml_util.h"
#include "core/buf.h"
#include "core/time.h"
#include "core/tz.h"
#include "core/util.h"

#define DEFAULT_BATCH_ROWS 10000
#define MAX_BATCH_ROWS 1000000        /* rows held in memory per batch; more only wastes memory */
#define DEFAULT_QUEUE_BATCHES 4
#define MAX_QUEUE_BATCHES 64
#define MAX_DUCKDB_THREADS 1024
#define MAX_ENV_NAME 256              /* longer "names" cannot be real variables: left as text */

/* os.path.expandvars (posixpath): "$name" with name = [A-Za-z0-9_]+, or "${anything but }}".
 * Set variables are replaced (even by ""), unset ones stay as written; replaced text is not
 * expanded again. The output is bounded like the input. */
static int expand_vars(const char *in, size_t len, struct fbuf *out)
{
    size_t i = 0;
    int rc = 0;
    while (i < len && !rc) {
        const char *dollar = memchr(in + i, '$', len - i);
        if (!dollar)
            return fbuf_add(out, in + i, len - i);
        size_t at = (size_t)(dollar - in);
        if ((rc = fbuf_add(out, in + i, at - i)))
            break;
        size_t name_start, name_len, end;
        if (at + 1 < len && in[at + 1] == '{') {
            const char *close = memchr(in + at + 2, '}', len - at - 2);
            if (!close) {                       /* no match: a literal '$' */
                rc = fbuf_addc(out, '$');
                i = at + 1;
                continue;
            }
            name_start = at + 2;
            name_len = (size_t)(close - (in + name_start));
            end = (size_t)(close - in) + 1;
        } else {
            name_start = at + 1;
            name_len = 0;
            while (name_start + name_len < len &&
                   (isalnum((unsigned char)in[name_start + name_len]) || in[name_start + name_len] == '_'))
                name_len++;
            if (!name_len) {
                rc = fbuf_addc(out, '$');
                i = at + 1;
                continue;
            }
            end = name_start + name_len;
        }
        const char *value = NULL;
        if (name_len && name_len < MAX_ENV_NAME && !memchr(in + name_start, '\0', name_len)) {
            char name[MAX_ENV_NAME];
            memcpy(name, in + name_start, name_len);
            name[name_len] = '\0';
            value = getenv(name);
        }
        rc = value ? fbuf_adds(out, value) : fbuf_add(out, in + at, end - at);
        i = end;
    }
    return rc;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A relative path resolves against the repo dir; URIs (s3://, gs://, file://...) are kept. */
static char *resolve_path(const char *repo, const char *path)
{
    if (strstr(path, "://"))
        return xstrdup(path);
    return path_join(repo, path);
}

/* ---- online_store ---- */

static void online_defaults(struct online_config *o, const char *type, const char *repo)
{
    /* The dotted class path is an accepted spelling of sqlite in Feast. */
    if (strcmp(type, "feast.infra.online_stores.sqlite.SqliteOnlineStore") == 0)
        type = "sqlite";
    o->type = xstrdup(type);
    if (strcmp(type, "sqlite") == 0) {
        o->path = path_join(repo, "data/online.db");
    } else if (strcmp(type, "redis") == 0) {
        o->redis_type = xstrdup("redis");
        o->connection_string = xstrdup("localhost:6379");
        o->sentinel_master = xstrdup("mymaster");
        o->full_scan_for_deletion = true;
    }
}

static bool is_none_string(const yaml_node_t *n)
{
    const char *v = yscalar(n);
    return yis_null(n) || (v && (strcasecmp(v, "none") == 0 || strcasecmp(v, "null") == 0));
}

static int parse_online_sqlite(struct ydoc *d, yaml_node_t *map, const char *repo, struct online_config *o)
{
    static const char *const keys[] = {"type", "path", "text_search_enabled",
                                       "enable_openai_compatible_store", "vector_enabled", "similarity", NULL};
    int rc = ymap_check_keys(d, map, "online_store (sqlite)", keys, false);
    if (rc)
        return rc;
    yaml_node_t *n;
    bool b;
    char *s = NULL;
    if ((n = ymap_get(d, map, "path"))) {
        if ((rc = yget_str(d, n, "online_store.path", &s)))
            return rc;
        if (!*s) {
            free(s);
            return yerr(d, n, "online_store.path: must not be empty");
        }
        free(o->path);
        o->path = resolve_path(repo, s);
        free(s);
        s = NULL;
    }
    if ((n = ymap_get(d, map, "text_search_enabled")) && (rc = yget_bool(d, n, "online_store.text_search_enabled", &b)))
        return rc;
    if ((n = ymap_get(d, map, "enable_openai_compatible_store")) &&
        (rc = yget_bool(d, n, "online_store.enable_openai_compatible_store", &o->openai_compatible)))
        return rc;
    if ((n = ymap_get(d, map, "vector_enabled")) && !yis_null(n) &&
        (rc = yget_bool(d, n, "online_store.vector_enabled", &b)))
        return rc;
    if ((n = ymap_get(d, map, "similarity")) && !yis_null(n)) {
        rc = yget_str(d, n, "online_store.similarity", &s);
        free(s);
    }
    return rc;
}

static int parse_online_redis(struct ydoc *d, yaml_node_t *map, struct online_config *o)
{
    static const char *const keys[] = {"type", "redis_type", "sentinel_master", "connection_string",
                                       "key_ttl_seconds", "full_scan_for_deletion", "skip_dedup", NULL};
    int rc = ymap_check_keys(d, map, "online_store (redis)", keys, false);
    if (rc)
        return rc;
    yaml_node_t *n;
    if ((n = ymap_get(d, map, "redis_type"))) {
        if ((rc = yget_str(d, n, "online_store.redis_type", &o->redis_type)))
            return rc;
        if (strcmp(o->redis_type, "redis") && strcmp(o->redis_type, "redis_cluster") &&
            strcmp(o->redis_type, "redis_sentinel"))
            return yerr(d, n, "online_store.redis_type: '%s' is not one of redis, redis_cluster, redis_sentinel",
                        o->redis_type);
    }
    if ((n = ymap_get(d, map, "sentinel_master")) &&
        (rc = yget_str(d, n, "online_store.sentinel_master", &o->sentinel_master)))
        return rc;
    if ((n = ymap_get(d, map, "connection_string")) &&
        (rc = yget_str(d, n, "online_store.connection_string", &o->connection_string)))
        return rc;
    if ((n = ymap_get(d, map, "key_ttl_seconds")) && !yis_null(n)) {
        if ((rc = yget_int(d, n, "online_store.key_ttl_seconds", &o->key_ttl_seconds)))
            return rc;
        if (o->key_ttl_seconds < 0)
            return yerr(d, n, "online_store.key_ttl_seconds: must not be negative");
    }
    if ((n = ymap_get(d, map, "full_scan_for_deletion"))) {
        if (yis_null(n))
            o->full_scan_for_deletion = false;
        else if ((rc = yget_bool(d, n, "online_store.full_scan_for_deletion", &o->full_scan_for_deletion)))
            return rc;
    }
    if ((n = ymap_get(d, map, "skip_dedup")) && (rc = yget_bool(d, n, "online_store.skip_dedup", &o->skip_dedup)))
        return rc;
    return 0;
}

static int parse_online(struct ydoc *d, yaml_node_t *n, const char *repo, struct online_config *o)
{
    if (!n) {
        online_defaults(o, "sqlite", repo);
        return 0;
    }
    if (is_none_string(n))
        return 0;                                   /* no online store: type stays NULL */
    if (yis_scalar(n)) {
        if (!*yscalar(n))
            return yerr(d, n, "online_store: empty type");
        online_defaults(o, yscalar(n), repo);
        return 0;
    }
    if (!yis_map(n))
        return yerr(d, n, "online_store: expected a mapping, a store type or null, got %s", ykind(n));
    yaml_node_t *t = ymap_get(d, n, "type");
    char *type = NULL;
    if (t) {
        int rc = yget_str(d, t, "online_store.type", &type);
        if (rc)
            return rc;
    }
    online_defaults(o, type ? type : "sqlite", repo);
    free(type);
    if (strcmp(o->type, "sqlite") == 0)
        return parse_online_sqlite(d, n, repo, o);
    if (strcmp(o->type, "redis") == 0)
        return parse_online_redis(d, n, o);
    return 0;   /* other stores: only the type is kept; online_open reports them as unsupported */
}

/* ---- offline_store ---- */

static void offline_cleanup(struct offline_config *o)
{
    char **strs[] = {&o->type, &o->host, &o->database, &o->db_schema, &o->user, &o->password,
                     &o->sslmode, &o->sslkey_path, &o->sslcert_path, &o->sslrootcert_path,
                     &o->entity_select_mode, &o->account, &o->role, &o->warehouse, &o->authenticator,
                     &o->schema, &o->private_key, &o->private_key_passphrase, &o->driver, &o->dsn,
                     &o->connection_string};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    memset(o, 0, sizeof *o);
}

/* Optional string keys: each name in keys[] (NULL-terminated) fills the matching out[] slot. */
static int offline_strs(struct ydoc *d, yaml_node_t *map, const char *const *keys, char **const *out)
{
    for (size_t i = 0; keys[i]; i++) {
        yaml_node_t *v = ymap_get(d, map, keys[i]);
        if (!v || yis_null(v))
            continue;
        char what[64];
        snprintf(what, sizeof what, "offline_store.%s", keys[i]);
        int rc = yget_str(d, v, what, out[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int offline_required(struct ydoc *d, yaml_node_t *map, const char *store, const char *key,
                            const char *value)
{
    if (value && *value)
        return 0;
    return yerr(d, map, "offline_store (%s): %s: required", store, key);
}

/* Feast's PostgreSQLOfflineStoreConfig: PostgreSQLConfig plus entity_select_mode. */
static int parse_offline_postgres(struct ydoc *d, yaml_node_t *n, struct offline_config *o)
{
    static const char *const keys[] = {"type", "host", "port", "database", "db_schema", "user",
                                       "password", "sslmode", "sslkey_path", "sslcert_path",
                                       "sslrootcert_path", "min_conn", "max_conn", "conn_type",
                                       "keepalives_idle", "entity_select_mode", NULL};
    int rc = ymap_check_keys(d, n, "offline_store (postgres)", keys, false);
    if (rc)
        return rc;
    static const char *const strs[] = {"host", "database", "db_schema", "user", "password", "sslmode",
                                       "sslkey_path", "sslcert_path", "sslrootcert_path",
                                       "entity_select_mode", NULL};
    char **const outs[] = {&o->host, &o->database, &o->db_schema, &o->user, &o->password, &o->sslmode,
                           &o->sslkey_path, &o->sslcert_path, &o->sslrootcert_path, &o->entity_select_mode};
    if ((rc = offline_strs(d, n, strs, outs)))
        return rc;
    o->port = 5432;
    yaml_node_t *v;
    int64_t i;
    if ((v = ymap_get(d, n, "port")) && !yis_null(v)) {
        if ((rc = yget_int(d, v, "offline_store.port", &i)))
            return rc;
        if (i < 1 || i > 65535)
            return yerr(d, v, "offline_store.port: %lld is not a TCP port (1-65535)", (long long)i);
        o->port = (int)i;
    }
    if ((v = ymap_get(d, n, "keepalives_idle")) && !yis_null(v)) {
        if ((rc = yget_int(d, v, "offline_store.keepalives_idle", &o->keepalives_idle)))
            return rc;
        if (o->keepalives_idle < 0)
            return yerr(d, v, "offline_store.keepalives_idle: must not be negative");
    }
    /* Pool settings only matter to Feast's Python connection pool; ferry uses one connection per
     * pull, so they are checked for type and otherwise ignored. */
    if ((v = ymap_get(d, n, "min_conn")) && (rc = yget_int(d, v, "offline_store.min_conn", &i)))
        return rc;
    if ((v = ymap_get(d, n, "max_conn")) && (rc = yget_int(d, v, "offline_store.max_conn", &i)))
        return rc;
    if ((v = ymap_get(d, n, "conn_type"))) {
        char *ct = NULL;
        if ((rc = yget_str(d, v, "offline_store.conn_type", &ct)))
            return rc;
        bool ok = strcmp(ct, "singleton") == 0 || strcmp(ct, "pool") == 0;
        free(ct);
        if (!ok)
            return yerr(d, v, "offline_store.conn_type: must be singleton or pool");
    }
    if (o->entity_select_mode && strcmp(o->entity_select_mode, "temp_table") &&
        strcmp(o->entity_select_mode, "embed_query"))
        return yerr(d, ymap_get(d, n, "entity_select_mode"),
                    "offline_store.entity_select_mode: must be temp_table or embed_query");
    if (!o->db_schema)
        o->db_schema = xstrdup("public");
    if (!o->sslmode)
        o->sslmode = xstrdup("require");   /* Feast's PostgreSQLConfig default */
    if ((rc = offline_required(d, n, "postgres", "host", o->host)) ||
        (rc = offline_required(d, n, "postgres", "database", o->database)) ||
        (rc = offline_required(d, n, "postgres", "user", o->user)))
        return rc;
    if (!o->password)                      /* required by Feast; "" is a legal password */
        return yerr(d, n, "offline_store (postgres): password: required");
    return 0;
}

/* Feast's SnowflakeOfflineStoreConfig allows unknown keys; the ones ferry uses are read here.
 * ferry adds driver and connection_string (the ODBC side, see README). */
static int parse_offline_snowflake(struct ydoc *d, yaml_node_t *n, struct offline_config *o)
{
    static const char *const strs[] = {"account", "user", "password", "role", "warehouse", "database",
                                       "schema", "authenticator", "private_key", "private_key_passphrase",
                                       "driver", "connection_string", NULL};
    char **const outs[] = {&o->account, &o->user, &o->password, &o->role, &o->warehouse, &o->database,
                           &o->schema, &o->authenticator, &o->private_key, &o->private_key_passphrase,
                           &o->driver, &o->connection_string};
    int rc = offline_strs(d, n, strs, outs);
    if (rc)
        return rc;
    yaml_node_t *v;
    if ((v = ymap_get(d, n, "private_key_content")) && !yis_null(v))
        return yerr(d, v, "offline_store.private_key_content: not supported by ferry (use private_key, "
                    "the path of the key file)");
    if (!o->schema)
        o->schema = xstrdup("PUBLIC");
    if (!o->connection_string && (rc = offline_required(d, n, "snowflake.offline", "database", o->database)))
        return rc;
    return 0;
}

static int parse_offline_odbc(struct ydoc *d, yaml_node_t *n, struct offline_config *o)
{
    static const char *const keys[] = {"type", "dsn", "connection_string", "user", "password", NULL};
    int rc = ymap_check_keys(d, n, "offline_store (odbc)", keys, false);
    if (rc)
        return rc;
    static const char *const strs[] = {"dsn", "connection_string", "user", "password", NULL};
    char **const outs[] = {&o->dsn, &o->connection_string, &o->user, &o->password};
    if ((rc = offline_strs(d, n, strs, outs)))
        return rc;
    if (!o->dsn == !o->connection_string)
        return yerr(d, n, "offline_store (odbc): exactly one of dsn or connection_string is required");
    return 0;
}

static int parse_offline(struct ydoc *d, yaml_node_t *n, struct offline_config *o)
{
    if (!n || yis_null(n)) {
        o->type = xstrdup("dask");
        return 0;
    }
    if (yis_scalar(n)) {
        if (!*yscalar(n))
            return yerr(d, n, "offline_store: empty type");
        o->type = xstrdup(yscalar(n));
        if (strcmp(o->type, "postgres") == 0 || strcmp(o->type, "snowflake.offline") == 0 ||
            strcmp(o->type, "odbc") == 0)
            return yerr(d, n, "offline_store: type %s needs connection settings (write a mapping)", o->type);
        return 0;
    }
    if (!yis_map(n))
        return yerr(d, n, "offline_store: expected a mapping or a store type, got %s", ykind(n));
    int rc;
    yaml_node_t *t = ymap_get(d, n, "type");
    if (t && (rc = yget_str(d, t, "offline_store.type", &o->type)))
        return rc;
    if (!o->type)
        o->type = xstrdup("dask");
    if (strcmp(o->type, "file") == 0 || strcmp(o->type, "dask") == 0) {
        static const char *const keys[] = {"type", NULL};
        return ymap_check_keys(d, n, "offline_store (file)", keys, false);
    }
    if (strcmp(o->type, "duckdb") == 0) {
        static const char *const keys[] = {"type", "staging_location", "staging_location_endpoint_override", NULL};
        return ymap_check_keys(d, n, "offline_store (duckdb)", keys, false);
    }
    if (strcmp(o->type, "postgres") == 0)
        return parse_offline_postgres(d, n, o);
    if (strcmp(o->type, "snowflake.offline") == 0)
        return parse_offline_snowflake(d, n, o);
    if (strcmp(o->type, "odbc") == 0)
        return parse_offline_odbc(d, n, o);
    return 0;
}

/* ---- registry ---- */

static int parse_registry(struct ydoc *d, yaml_node_t *root, yaml_node_t *n, const char *repo,
                          struct ferry_config *cfg)
{
    if (!n || yis_null(n))
        return yerr(d, n ? n : root, "registry: not set, but it is required (e.g. registry: data/registry.db)");
    char *path = NULL;
    int rc = 0;
    cfg->registry_cache_ttl_seconds = 600;
    if (yis_scalar(n)) {
        if ((rc = yget_str(d, n, "registry", &path)))
            return rc;
        cfg->registry_type = xstrdup("file");
    } else if (yis_map(n)) {
        /* RegistryConfig allows extra keys, so only the ones ferry uses are checked. */
        yaml_node_t *v;
        if ((v = ymap_get(d, n, "registry_type")) && (rc = yget_str(d, v, "registry.registry_type", &cfg->registry_type)))
            return rc;
        if (!cfg->registry_type)
            cfg->registry_type = xstrdup("file");
        if (strcmp(cfg->registry_type, "file") != 0)
            return yerr(d, v, "registry.registry_type: '%s' is not supported yet (ferry reads file registries only)",
                        cfg->registry_type);
        if ((v = ymap_get(d, n, "cache_ttl_seconds")) &&
            (rc = yget_int(d, v, "registry.cache_ttl_seconds", &cfg->registry_cache_ttl_seconds)))
            return rc;
        if ((v = ymap_get(d, n, "enable_online_feature_view_versioning")) &&
            (rc = yget_bool(d, v, "registry.enable_online_feature_view_versioning", &cfg->registry_versioning)))
            return rc;
        if ((v = ymap_get(d, n, "purge_feast_metadata"))) {
            bool b;
            if ((rc = yget_bool(d, v, "registry.purge_feast_metadata", &b)))
                return rc;
        }
        if (!(v = ymap_get(d, n, "path")))
            return yerr(d, n, "registry.path: not set, but it is required");
        if ((rc = yget_str(d, v, "registry.path", &path)))
            return rc;
        n = v;
    } else {
        return yerr(d, n, "registry: expected a path or a mapping, got %s", ykind(n));
    }
    if (!*path) {
        free(path);
        return yerr(d, n, "registry: the path is empty");
    }
    cfg->registry_path = resolve_path(repo, path);
    free(path);
    return 0;
}

/* ---- the ferry: block ---- */

/* DuckDB memory sizes: a number, an optional space and a unit ("1GB", "512 MiB", "80%"). The value
 * ends up in a SET statement, so only this shape is let through. */
static bool memory_limit_ok(const char *s)
{
    static const char *const units[] = {"b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "%", NULL};
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == ' ')
        p++;
    for (const char *const *u = units; *u; u++)
        if (strcasecmp(p, *u) == 0)
            return true;
    return false;
}

static int get_bounded(struct ydoc *d, yaml_node_t *n, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    int rc = yget_int(d, n, key, out);
    if (rc)
        return rc;
    if (*out < lo || *out > hi)
        return yerr(d, n, "%s: %lld is out of range (%lld..%lld)", key, (long long)*out, (long long)lo,
                    (long long)hi);
    return 0;
}

static void serve_defaults(struct serve_config *s)
{
    s->host = xstrdup("127.0.0.1");
    s->port = 6566;
    s->workers = 2;
    s->max_body_bytes = (size_t)1 << 20;
    s->shutdown_grace_seconds = 30;
    s->max_connections = 256;
    s->lease_seconds = 30;
}

static int parse_serve(struct ydoc *d, yaml_node_t *n, struct serve_config *s)
{
    if (!n || yis_null(n))
        return 0;
    if (!yis_map(n))
        return yerr(d, n, "ferry.serve: expected a mapping, got %s", ykind(n));
    static const char *const keys[] = {"host", "port", "workers", "token_env", "max_body_bytes",
                                       "shutdown_grace_seconds", "max_connections", "lease_seconds", NULL};
    int rc = ymap_check_keys(d, n, "ferry.serve", keys, true);
    if (rc)
        return rc;
    yaml_node_t *v;
    int64_t x;
    if ((v = ymap_get(d, n, "host"))) {
        free(s->host);
        s->host = NULL;
        if ((rc = yget_str(d, v, "ferry.serve.host", &s->host)))
            return rc;
    }
    if ((v = ymap_get(d, n, "port"))) {
        if ((rc = get_bounded(d, v, "ferry.serve.port", 0, 65535, &x)))
            return rc;
        s->port = (int)x;
    }
    if ((v = ymap_get(d, n, "workers"))) {
        if ((rc = get_bounded(d, v, "ferry.serve.workers", 1, 64, &x)))
            return rc;
        s->workers = (int)x;
    }
    if ((v = ymap_get(d, n, "max_connections"))) {
        if ((rc = get_bounded(d, v, "ferry.serve.max_connections", 1, 4096, &x)))
            return rc;
        s->max_connections = (int)x;
    }
    if ((v = ymap_get(d, n, "max_body_bytes"))) {
        if ((rc = get_bounded(d, v, "ferry.serve.max_body_bytes", 1024, (int64_t)1 << 30, &x)))
            return rc;
        s->max_body_bytes = (size_t)x;
    }
    if ((v = ymap_get(d, n, "shutdown_grace_seconds"))) {
        if ((rc = get_bounded(d, v, "ferry.serve.shutdown_grace_seconds", 0, 3600, &x)))
            return rc;
        s->shutdown_grace_seconds = (int)x;
    }
    if ((v = ymap_get(d, n, "lease_seconds"))) {
        /* At least 3 s: the heartbeat renews every lease_seconds / 3. */
        if ((rc = get_bounded(d, v, "ferry.serve.lease_seconds", 3, 86400, &x)))
            return rc;
        s->lease_seconds = (int)x;
    }
    if ((v = ymap_get(d, n, "token_env"))) {
        if ((rc = yget_str(d, v, "ferry.serve.token_env", &s->token_env)))
            return rc;
        const char *tok = getenv(s->token_env);
        if (!tok || !*tok)
            return yerr(d, v, "ferry.serve.token_env: environment variable %s is not set or empty",
                        s->token_env);
        s->token = xstrdup(tok);
    }
    return 0;
}

/* ---- ferry: schedules: ---- */

#define MAX_SCHEDULES 256
#define MAX_CATCHUP 100000
#define MAX_RETRIES 100

/* A duration setting of a schedule ("15m", "1h30m", seconds); zero_ok says whether 0 is allowed. */
static int get_duration(struct ydoc *d, yaml_node_t *n, const char *ctx, const char *key, bool zero_ok,
                        int64_t *out)
{
    const char *t = yscalar(n);
    if (!t || yis_null(n))
        return yerr(d, n, "%s: %s: expected a duration like 15m, 1h or 3600, got %s", ctx, key, ykind(n));
    struct ferry_err te = {0};
    if (ferry_duration_parse(t, out, &te))
        return yerr(d, n, "%s: %s: %s", ctx, key, te.msg);
    if (!zero_ok && *out <= 0)
        return yerr(d, n, "%s: %s: must be greater than 0", ctx, key);
    return 0;
}

/* One of the names in choices (NULL-terminated); *out is its index. */
static int get_choice(struct ydoc *d, yaml_node_t *n, const char *ctx, const char *key,
                      const char *const *choices, int *out)
{
    const char *t = yscalar(n);
    for (int i = 0; t && choices[i]; i++)
        if (strcmp(t, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[128] = "";
    size_t used = 0;
    for (int i = 0; choices[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", choices[i]);
    return yerr(d, n, "%s: %s: '%.40s' is not one of %s", ctx, key, t ? t : ykind(n), list);
}

static int parse_schedule_sla(struct ydoc *d, yaml_node_t *n, const char *ctx, struct schedule_config *s)
{
    if (yis_scalar(n))
        return get_duration(d, n, ctx, "freshness_sla", false, &s->sla_ns);
    if (!yis_map(n))
        return yerr(d, n, "%s: freshness_sla: expected a duration or a mapping of view -> duration, got %s", ctx,
                    ykind(n));
    size_t cap = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    s->slas = xcalloc(cap + 1, sizeof *s->slas);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ynode(d, p->key), *v = ynode(d, p->value);
        const char *view = yscalar(k);
        if (!view || !*view)
            return yerr(d, k, "%s: freshness_sla: expected a feature view name as key, got %s", ctx, ykind(k));
        for (size_t i = 0; i < s->nslas; i++)
            if (strcmp(s->slas[i].view, view) == 0)
                return yerr(d, k, "%s: freshness_sla: view '%.100s' is listed twice", ctx, view);
        struct schedule_sla *e = &s->slas[s->nslas];
        int rc = get_duration(d, v, ctx, "freshness_sla", false, &e->sla_ns);
        if (rc)
            return rc;
        e->view = xstrdup(view);
        e->line = yline(k);
        s->nslas++;
    }
    return 0;
}

static int parse_schedule(struct ydoc *d, yaml_node_t *n, size_t index, struct schedule_config *s)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "ferry.schedules[%zu]", index);
    s->line = yline(n);
    s->catchup = SCHEDULE_CATCHUP_ONE;
    s->catchup_max = 100;
    s->retry_backoff_ns = 30 * FERRY_NS_PER_SEC;
    s->retry_backoff_max_ns = 3600 * FERRY_NS_PER_SEC;
    if (!yis_map(n))
        return yerr(d, n, "%s: expected a mapping (name, cron or every, ...), got %s", ctx, ykind(n));
    yaml_node_t *v = ymap_get(d, n, "name");
    int rc;
    if (!v)
        return yerr(d, n, "%s: name: not set, but it is required", ctx);
    if ((rc = yget_str(d, v, "name", &s->name)))
        return rc;
    if (!yvalid_name(s->name))
        return yerr(d, v, "%s: name: '%.60s' may only contain letters, digits, '_' and '-', and must not start "
                          "with '_' or '-'", ctx, s->name);
    snprintf(ctx, sizeof ctx, "ferry.schedules: schedule '%.100s'", s->name);
    static const char *const keys[] = {"name", "views", "cron", "every", "timezone", "mode", "window", "lookback",
                                       "catchup", "catchup_max", "concurrency", "retries", "retry_backoff",
                                       "retry_backoff_max", "timeout", "freshness_sla", NULL};
    if ((rc = ymap_check_keys(d, n, ctx, keys, true)))
        return rc;
    if ((v = ymap_get(d, n, "views")) && !yis_null(v)) {
        if (!yis_seq(v))
            return yerr(d, v, "%s: views: expected a list of feature view names, got %s", ctx, ykind(v));
        size_t cap = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        s->views = xcalloc(cap + 1, sizeof *s->views);
        s->view_lines = xcalloc(cap + 1, sizeof *s->view_lines);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *e = ynode(d, *it);
            const char *name = yscalar(e);
            if (!name || !*name)
                return yerr(d, e, "%s: views: expected a feature view name, got %s", ctx, ykind(e));
            for (size_t i = 0; i < s->nviews; i++)
                if (strcmp(s->views[i], name) == 0)
                    return yerr(d, e, "%s: views: '%.100s' is listed twice", ctx, name);
            s->view_lines[s->nviews] = yline(e);
            s->views[s->nviews++] = xstrdup(name);
        }
    }
    yaml_node_t *cron = ymap_get(d, n, "cron"), *every = ymap_get(d, n, "every");
    if (cron && every)
        return yerr(d, every, "%s: set either cron or every, not both", ctx);
    if (!cron && !every)
        return yerr(d, n, "%s: needs cron (e.g. \"*/15 * * * *\" or @hourly) or every (e.g. 15m)", ctx);
    if (cron) {
        if ((rc = yget_str(d, cron, "cron", &s->cron)))
            return rc;
        if (!*s->cron)
            return yerr(d, cron, "%s: cron: the expression is empty", ctx);
        s->cron_line = yline(cron);
    } else {
        if ((rc = get_duration(d, every, ctx, "every", false, &s->every_ns)))
            return rc;
        s->cron_line = yline(every);
    }
    if ((v = ymap_get(d, n, "timezone")) && !yis_null(v)) {
        if ((rc = yget_str(d, v, "timezone", &s->timezone)))
            return rc;
        s->timezone_line = yline(v);
        struct ferry_tz *tz = NULL;
        struct ferry_err te = {0};
        if (ferry_tz_load(s->timezone, &tz, &te))
            return yerr(d, v, "%s: timezone: %s", ctx, te.msg);
        ferry_tz_free(tz);
        if (every && strcmp(s->timezone, "UTC") != 0 && strcmp(s->timezone, "Etc/UTC") != 0)
            return yerr(d, v, "%s: timezone: only applies to cron (every: runs at fixed UTC intervals)", ctx);
    } else {
        s->timezone = xstrdup("UTC");
        s->timezone_line = s->line;
    }
    static const char *const modes[] = {"incremental", "window", NULL};
    if ((v = ymap_get(d, n, "mode")) && (rc = get_choice(d, v, ctx, "mode", modes, &s->mode)))
        return rc;
    if ((v = ymap_get(d, n, "window"))) {
        if (s->mode != SCHEDULE_WINDOW)
            return yerr(d, v, "%s: window: only applies with mode: window", ctx);
        if ((rc = get_duration(d, v, ctx, "window", false, &s->window_ns)))
            return rc;
    } else if (s->mode == SCHEDULE_WINDOW) {
        return yerr(d, n, "%s: mode window needs window (e.g. window: 1h)", ctx);
    }
    if ((v = ymap_get(d, n, "lookback"))) {
        if (s->mode != SCHEDULE_INCREMENTAL)
            return yerr(d, v, "%s: lookback: only applies with mode: incremental", ctx);
        if ((rc = get_duration(d, v, ctx, "lookback", true, &s->lookback_ns)))
            return rc;
    }
    static const char *const catchups[] = {"none", "one", "all", NULL};
    if ((v = ymap_get(d, n, "catchup")) && (rc = get_choice(d, v, ctx, "catchup", catchups, &s->catchup)))
        return rc;
    int64_t x;
    char key[200];
    if ((v = ymap_get(d, n, "catchup_max"))) {
        snprintf(key, sizeof key, "%s: catchup_max", ctx);
        if ((rc = get_bounded(d, v, key, 1, MAX_CATCHUP, &x)))
            return rc;
        s->catchup_max = (int)x;
    }
    static const char *const concs[] = {"skip", "queue", NULL};
    if ((v = ymap_get(d, n, "concurrency")) && (rc = get_choice(d, v, ctx, "concurrency", concs, &s->concurrency)))
        return rc;
    if ((v = ymap_get(d, n, "retries"))) {
        snprintf(key, sizeof key, "%s: retries", ctx);
        if ((rc = get_bounded(d, v, key, 0, MAX_RETRIES, &x)))
            return rc;
        s->retries = (int)x;
    }
    if ((v = ymap_get(d, n, "retry_backoff")) &&
        (rc = get_duration(d, v, ctx, "retry_backoff", true, &s->retry_backoff_ns)))
        return rc;
    if ((v = ymap_get(d, n, "retry_backoff_max")) &&
        (rc = get_duration(d, v, ctx, "retry_backoff_max", true, &s->retry_backoff_max_ns)))
        return rc;
    if (s->retry_backoff_max_ns < s->retry_backoff_ns)
        return yerr(d, v ? v : n, "%s: retry_backoff_max is smaller than retry_backoff", ctx);
    if ((v = ymap_get(d, n, "timeout")) && (rc = get_duration(d, v, ctx, "timeout", false, &s->timeout_ns)))
        return rc;
    if ((v = ymap_get(d, n, "freshness_sla")) && !yis_null(v) && (rc = parse_schedule_sla(d, v, ctx, s)))
        return rc;
    return 0;
}

static int parse_schedules(struct ydoc *d, yaml_node_t *n, struct ferry_settings *f)
{
    if (!n || yis_null(n))
        return 0;
    if (!yis_seq(n))
        return yerr(d, n, "ferry.schedules: expected a list of schedules, got %s", ykind(n));
    size_t cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cap > MAX_SCHEDULES)
        return yerr(d, n, "ferry.schedules: %zu schedules; at most %d are supported", cap, MAX_SCHEDULES);
    f->schedules = xcalloc(cap + 1, sizeof *f->schedules);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = ynode(d, *it);
        struct schedule_config *s = &f->schedules[f->nschedules++];
        int rc = parse_schedule(d, e, f->nschedules - 1, s);
        if (rc)
            return rc;
        for (size_t i = 0; i + 1 < f->nschedules; i++)
            if (strcmp(f->schedules[i].name, s->name) == 0)
                return yerr(d, e, "ferry.schedules: name '%.100s' is used twice (also line %d)", s->name,
                            f->schedules[i].line);
    }
    return 0;
}

static void schedule_cleanup(struct schedule_config *s)
{
    free(s->name);
    for (size_t i = 0; i < s->nviews; i++)
        free(s->views[i]);
    free(s->views);
    free(s->view_lines);
    free(s->cron);
    free(s->timezone);
    for (size_t i = 0; i < s->nslas; i++)
        free(s->slas[i].view);
    free(s->slas);
}

int64_t config_view_sla(const struct ferry_config *cfg, const char *view)
{
    int64_t best = 0;
    for (size_t i = 0; i < cfg->ferry.nschedules; i++) {
        const struct schedule_config *s = &cfg->ferry.schedules[i];
        int64_t sla = 0;
        for (size_t k = 0; k < s->nslas; k++)
            if (strcmp(s->slas[k].view, view) == 0)
                sla = s->slas[k].sla_ns;
        if (!sla && s->sla_ns) {
            bool listed = s->nviews == 0;
            for (size_t k = 0; k < s->nviews && !listed; k++)
                listed = strcmp(s->views[k], view) == 0;
            if (listed)
                sla = s->sla_ns;
        }
        if (sla && (!best || sla < best))
            best = sla;
    }
    return best;
}

static int parse_ferry(struct ydoc *d, yaml_node_t *n, const char *repo, struct ferry_settings *f)
{
    f->batch_rows = DEFAULT_BATCH_ROWS;
    f->queue_batches = DEFAULT_QUEUE_BATCHES;
    serve_defaults(&f->serve);
    if (!n || yis_null(n)) {
        f->features_path = path_join(repo, "features.yaml");
        return 0;
    }
    if (!yis_map(n))
        return yerr(d, n, "ferry: expected a mapping, got %s", ykind(n));
    static const char *const keys[] = {"features", "batch_rows", "queue_batches", "duckdb",
                                       "serve", "schedules", "state", NULL};
    int rc = ymap_check_keys(d, n, "ferry", keys, true);
    if (rc)
        return rc;
    yaml_node_t *v;
    int64_t x;
    char *s = NULL;
    if ((v = ymap_get(d, n, "features"))) {
        if ((rc = yget_str(d, v, "ferry.features", &s)))
            return rc;
        if (!*s) {
            free(s);
            return yerr(d, v, "ferry.features: the path is empty");
        }
        f->features_path = path_join(repo, s);
        free(s);
        s = NULL;
    } else {
        f->features_path = path_join(repo, "features.yaml");
    }
    if ((v = ymap_get(d, n, "batch_rows"))) {
        if ((rc = get_bounded(d, v, "ferry.batch_rows", 1, MAX_BATCH_ROWS, &x)))
            return rc;
        f->batch_rows = (size_t)x;
    }
    if ((v = ymap_get(d, n, "queue_batches"))) {
        if ((rc = get_bounded(d, v, "ferry.queue_batches", 1, MAX_QUEUE_BATCHES, &x)))
            return rc;
        f->queue_batches = (size_t)x;
    }
    if ((rc = parse_serve(d, ymap_get(d, n, "serve"), &f->serve)))
        return rc;
    if ((rc = parse_schedules(d, ymap_get(d, n, "schedules"), f)))
        return rc;
    if ((v = ymap_get(d, n, "state"))) {
        if ((rc = yget_str(d, v, "ferry.state", &s)))
            return rc;
        if (!*s) {
            free(s);
            return yerr(d, v, "ferry.state: the path is empty");
        }
        /* A PostgreSQL URI (shared state for several replicas) is a location, not a file: kept as
         * written, whatever the repository directory. */
        bool uri = strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
        f->state_path = uri ? xstrdup(s) : path_join(repo, s);
        free(s);
        s = NULL;
    }
    yaml_node_t *db = ymap_get(d, n, "duckdb");
    if (db && !yis_null(db)) {
        if (!yis_map(db))
            return yerr(d, db, "ferry.duckdb: expected a mapping, got %s", ykind(db));
        static const char *const dkeys[] = {"memory_limit", "threads", "partition_rows", NULL};
        if ((rc = ymap_check_keys(d, db, "ferry.duckdb", dkeys, true)))
            return rc;
        if ((v = ymap_get(d, db, "memory_limit"))) {
            if ((rc = yget_str(d, v, "ferry.duckdb.memory_limit", &f->duckdb_memory_limit)))
                return rc;
            if (!memory_limit_ok(f->duckdb_memory_limit))
                return yerr(d, v, "ferry.duckdb.memory_limit: '%.40s' is not a size like 1GB or 512MiB",
                            f->duckdb_memory_limit);
        }
        if ((v = ymap_get(d, db, "threads"))) {
            if ((rc = get_bounded(d, v, "ferry.duckdb.threads", 1, MAX_DUCKDB_THREADS, &x)))
                return rc;
            f->duckdb_threads = (int)x;
        }
        if ((v = ymap_get(d, db, "partition_rows"))) {
            if ((rc = get_bounded(d, v, "ferry.duckdb.partition_rows", 1, INT64_MAX, &x)))
                return rc;
            f->duckdb_partition_rows = (uint64_t)x;
        }
    }
    return 0;
}

/* ---- top level ---- */

static int parse_project(struct ydoc *d, yaml_node_t *root, const struct online_config *o, struct ferry_config *cfg)
{
    yaml_node_t *n = ymap_get(d, root, "project");
    if (!n)
        return yerr(d, root, "project: not set, but it is required");
    int rc = yget_str(d, n, "project", &cfg->project);
    if (rc)
        return rc;
    if (!yvalid_name(cfg->project))
        return yerr(d, n, "project: '%.60s' may only contain letters, digits, '_' and '-', and must not start "
                    "with '_' or '-'", cfg->project);
    /* Feast rejects '-' when the store is sqlite (the name is part of table names) and, by the way
     * its validator is written, also when online_store is null. */
    if (strchr(cfg->project, '-') && (!o->type || strcmp(o->type, "sqlite") == 0))
        return yerr(d, n, "project: '%.60s': names of projects with a SQLite online store cannot contain '-' "
                    "(they are used in table names)", cfg->project);
    return 0;
}

static int parse_materialization(struct ydoc *d, yaml_node_t *n, struct ferry_config *cfg)
{
    if (!n || yis_null(n))
        return 0;
    if (!yis_map(n))
        return yerr(d, n, "materialization: expected a mapping, got %s", ykind(n));
    int rc;
    yaml_node_t *v;
    if ((v = ymap_get(d, n, "pull_latest_features")) &&
        (rc = yget_bool(d, v, "materialization.pull_latest_features", &cfg->pull_latest)))
        return rc;
    if ((v = ymap_get(d, n, "online_write_batch_size")) && !yis_null(v)) {
        if ((rc = yget_int(d, v, "materialization.online_write_batch_size", &cfg->online_write_batch_size)))
            return rc;
        if (cfg->online_write_batch_size <= 0)
            return yerr(d, v, "materialization.online_write_batch_size: must be greater than 0");
    }
    return 0;
}

static int parse_root(struct ydoc *d, const char *repo, struct ferry_config *cfg)
{
    yaml_node_t *root = ydoc_root(d);
    if (!root || yis_null(root))
        return yerr(d, NULL, "the file is empty (expected at least project and registry)");
    if (!yis_map(root))
        return yerr(d, root, "expected a mapping of settings at the top level, got %s", ykind(root));
    int rc;
    /* The online store comes first: whether the project may contain '-' depends on it. */
    if ((rc = parse_online(d, ymap_get(d, root, "online_store"), repo, &cfg->online)) ||
        (rc = parse_project(d, root, &cfg->online, cfg)) ||
        (rc = parse_registry(d, root, ymap_get(d, root, "registry"), repo, cfg)) ||
        (rc = parse_offline(d, ymap_get(d, root, "offline_store"), &cfg->offline)))
        return rc;
    yaml_node_t *n;
    if ((n = ymap_get(d, root, "provider")) && !yis_null(n)) {
        if ((rc = yget_str(d, n, "provider", &cfg->provider)))
            return rc;
    }
    if (!cfg->provider)
        cfg->provider = xstrdup("local");
    cfg->key_version = 3;
    if ((n = ymap_get(d, root, "entity_key_serialization_version"))) {
        int64_t v;
        if ((rc = yget_int(d, n, "entity_key_serialization_version", &v)))
            return rc;
        if (v < 1 || v > 3)
            return yerr(d, n, "entity_key_serialization_version: %lld is not supported (use 1, 2 or 3)", (long long)v);
        cfg->key_version = (int)v;
    }
    if ((rc = parse_materialization(d, ymap_get(d, root, "materialization"), cfg)))
        return rc;
    if ((n = ymap_get(d, root, "coerce_tz_aware")) && !yis_null(n)) {
        bool b;
        if ((rc = yget_bool(d, n, "coerce_tz_aware", &b)))
            return rc;
    }
    /* auth, feature_server, flags, batch_engine and unknown top-level keys: accepted, unused. */
    if ((rc = parse_ferry(d, ymap_get(d, root, "ferry"), repo, &cfg->ferry)))
        return rc;
    if (!cfg->ferry.state_path) {
        /* Job history lives next to the registry by default. */
        char *dir = xstrdup(cfg->registry_path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        cfg->ferry.state_path = slash ? path_join(dir, "ferry_state.db") : xstrdup("ferry_state.db");
        free(dir);
    }
    return 0;
}

int config_load(const char *repo_dir, const char *yaml_path, struct ferry_config *cfg, struct ferry_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    const char *repo_arg = repo_dir ? repo_dir : ".";
    char *repo = realpath(repo_arg, NULL);
    if (!repo)
        return ferry_errf(err, FERRY_ECONFIG, "repo directory '%.100s': %s", repo_arg, strerror(errno));
    cfg->repo_dir = repo;

    const char *env = getenv("FEAST_FS_YAML_FILE_PATH");
    if (yaml_path)
        cfg->yaml_path = xstrdup(yaml_path);
    else if (env && *env)
        cfg->yaml_path = xstrdup(env);
    else
        cfg->yaml_path = path_join(repo, "feature_store.yaml");

    char *raw = NULL;
    size_t len = 0;
    struct fbuf text;
    fbuf_init(&text, YDOC_MAX_BYTES);
    struct ydoc d;
    memset(&d, 0, sizeof d);
    int rc = file_read_all(cfg->yaml_path, YDOC_MAX_BYTES, &raw, &len, err);
    if (rc) {
        /* A missing or unreadable config is a configuration problem for the caller. */
        if (rc == FERRY_ENOTFOUND)
            rc = ferry_errf(err, FERRY_ECONFIG, "%.150s: no such file (is %s the feature repo?)",
                            cfg->yaml_path, repo_dir ? "the -c directory" : "the current directory");
        else if (err)
            err->code = FERRY_ECONFIG;    /* keep file_read_all's message, which names the file */
        rc = FERRY_ECONFIG;
        goto out;
    }
    if ((rc = expand_vars(raw, len, &text)) || (rc = fbuf_reserve(&text, 0))) {
        rc = ferry_errf(err, FERRY_ECONFIG, "%s: %s", base_name(cfg->yaml_path),
                        rc == FERRY_ELIMIT ? "larger than 4 MiB after $VAR expansion" : "out of memory");
        goto out;
    }
    if ((rc = ydoc_load(&d, text.data, text.len, base_name(cfg->yaml_path), err)))
        goto out;
    rc = parse_root(&d, repo, cfg);
out:
    ydoc_cleanup(&d);
    fbuf_cleanup(&text);
    free(raw);
    if (rc)
        config_cleanup(cfg);
    return rc;
}

void config_cleanup(struct ferry_config *cfg)
{
    free(cfg->repo_dir);
    free(cfg->yaml_path);
    free(cfg->project);
    free(cfg->provider);
    free(cfg->registry_path);
    free(cfg->registry_type);
    free(cfg->online.type);
    free(cfg->online.path);
    free(cfg->online.connection_string);
    free(cfg->online.redis_type);
    free(cfg->online.sentinel_master);
    offline_cleanup(&cfg->offline);
    free(cfg->ferry.features_path);
    free(cfg->ferry.duckdb_memory_limit);
    free(cfg->ferry.state_path);
    free(cfg->ferry.serve.host);
    free(cfg->ferry.serve.token_env);
    free(cfg->ferry.serve.token);
    for (size_t i = 0; i < cfg->ferry.nschedules; i++)
        schedule_cleanup(&cfg->ferry.schedules[i]);
    free(cfg->ferry.schedules);
    memset(cfg, 0, sizeof *cfg);
}
