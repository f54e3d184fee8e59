/* feature_store.yaml (Feast's keys and defaults, feast-compat.md §1, plus ferry's own `ferry:` block)
 * and features.yaml (ferry's Python-free definitions). struct ferry_config owns all its strings;
 * config_cleanup frees them. Paths in it are already resolved against the repo directory. */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "feast/feast.h"

struct online_config {
    char *type;               /* "sqlite" (default), "redis", ...; NULL when online_store is none */
    char *path;               /* sqlite: absolute or repo-resolved path of the database file */
    char *connection_string;  /* redis */
    char *redis_type;         /* redis */
    int64_t key_ttl_seconds;  /* redis; 0 = none */
    char *sentinel_master;    /* redis (redis_type redis_sentinel); default "mymaster" */
    bool full_scan_for_deletion; /* redis; default true */
    bool skip_dedup;          /* redis; default false */
    bool openai_compatible;   /* sqlite enable_openai_compatible_store: tables get a value_num column */
};

struct offline_config {
    char *type;               /* "file" (default "dask" maps here), "duckdb", "postgres",
                               * "snowflake.offline", "odbc" */
    /* postgres (Feast's PostgreSQLConfig, feast-compat.md §1.4/§1.5); also database/user/password
     * for snowflake.offline */
    char *host;               /* required */
    int port;                 /* default 5432 */
    char *database;           /* required (postgres, snowflake.offline) */
    char *db_schema;          /* default "public"; the session's search_path */
    char *user, *password;    /* required (postgres) */
    char *sslmode;            /* default "require" (Feast's default) */
    char *sslkey_path, *sslcert_path, *sslrootcert_path;
    int64_t keepalives_idle;  /* 0 = unset */
    char *entity_select_mode; /* temp_table (default) | embed_query; not used by materialization */
    /* snowflake.offline (Feast's SnowflakeOfflineStoreConfig; unknown keys are allowed) */
    char *account, *role, *warehouse, *authenticator;
    char *schema;             /* default "PUBLIC" */
    char *private_key;        /* path of a PKCS#8 key file */
    char *private_key_passphrase;
    /* odbc, and ferry's extras for snowflake.offline */
    char *driver;             /* ODBC driver name; snowflake.offline default "SnowflakeDSIIDriver" */
    char *dsn;                /* odbc: a data source name from odbc.ini */
    char *connection_string;  /* odbc: a full connection string; snowflake.offline: used as is */
};

/* `ferry: serve:` — the HTTP service. */
struct serve_config {
    char *host;               /* default "127.0.0.1" */
    int port;                 /* default 6566 (Feast's) */
    int workers;              /* job worker threads, default 2 */
    char *token_env;          /* name of the env var holding the bearer token; NULL = no auth */
    char *token;              /* the token read from that variable at load time; NULL = no auth */
    size_t max_body_bytes;    /* request body limit, default 1 MiB */
    int shutdown_grace_seconds; /* how long running jobs get to reach a batch boundary, default 30 */
    int http_threads;         /* HTTP connection threads (libmicrohttpd pool), default 4 */
};

struct ferry_settings {
    char *features_path;      /* features.yaml, resolved; default <repo>/features.yaml */
    size_t batch_rows;        /* rows per batch through the pipeline (default 10000) */
    size_t queue_batches;     /* bounded queue between reader and writer (default 4) */
    char *duckdb_memory_limit;/* DuckDB's memory_limit setting, e.g. "1GB"; NULL = DuckDB default */
    int duckdb_threads;       /* 0 = DuckDB default */
    char *state_path;         /* job history database; default <registry dir>/ferry_state.db */
    struct serve_config serve;
};

struct ferry_config {
    char *repo_dir;           /* absolute repo directory */
    char *yaml_path;          /* the feature_store.yaml that was read */
    char *project;
    char *provider;
    char *registry_path;      /* resolved path of registry.db */
    char *registry_type;      /* "file" */
    int64_t registry_cache_ttl_seconds; /* registry.cache_ttl_seconds, default 600 */
    bool registry_versioning; /* registry.enable_online_feature_view_versioning: _v{N} table names */
    int key_version;          /* entity_key_serialization_version, default 3 */
    bool pull_latest;         /* materialization.pull_latest_features */
    int64_t online_write_batch_size; /* 0 = unset */
    struct online_config online;
    struct offline_config offline;
    struct ferry_settings ferry;
};

/* Loads the config. repo_dir is -c (NULL = current directory); yaml_path is -f (NULL = the env var
 * FEAST_FS_YAML_FILE_PATH, else <repo>/feature_store.yaml). $VAR and ${VAR} are expanded first.
 * Errors are FERRY_ECONFIG with the file, line and key. */
int config_load(const char *repo_dir, const char *yaml_path, struct ferry_config *cfg,
                struct ferry_err *err);
void config_cleanup(struct ferry_config *cfg);

/* Reads features.yaml into definitions. Validates names, references (entities and sources a view
 * names must exist), dtypes, ttl syntax; fills entity_columns by Feast's inference order
 * (schema field with the join key's name, then the entity's value_type). Errors name file and line. */
int defs_load(const char *path, struct feast_defs *out, struct ferry_err *err);

#endif
