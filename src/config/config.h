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
    int max_connections;      /* concurrent HTTP connections (one thread each), default 256 */
    int lease_seconds;        /* shared state: a claimed job's lease, renewed every third of it, default 30 */
};

/* `ferry: schedules:` — one built-in schedule (the scheduler runs it inside `ferry serve`). Cron
 * syntax and view names are checked when the service starts (they need the cron parser and the
 * registry); everything else here. The *_line members are feature_store.yaml lines for those errors. */
enum schedule_mode { SCHEDULE_INCREMENTAL = 0, SCHEDULE_WINDOW = 1 };
enum schedule_catchup { SCHEDULE_CATCHUP_NONE = 0, SCHEDULE_CATCHUP_ONE = 1, SCHEDULE_CATCHUP_ALL = 2 };
enum schedule_concurrency { SCHEDULE_SKIP = 0, SCHEDULE_QUEUE = 1 };

struct schedule_sla {
    char *view;
    int64_t sla_ns;
    int line;
};

struct schedule_config {
    char *name;
    char **views;             /* NULL/empty = every eligible view */
    size_t nviews;
    int *view_lines;          /* line of each entry of views */
    char *cron;               /* 5 fields or @hourly...; NULL when every is used */
    int64_t every_ns;         /* 0 when cron is used */
    char *timezone;           /* IANA name, default "UTC" */
    int mode;                 /* enum schedule_mode */
    int64_t window_ns;        /* mode window: materialize [tick - window, tick] */
    int64_t lookback_ns;      /* incremental: start this much before the last recorded end */
    int catchup;              /* enum schedule_catchup, default one */
    int catchup_max;          /* all: at most this many missed ticks, default 100 */
    int concurrency;          /* enum schedule_concurrency, default skip */
    int retries;              /* default 0 */
    int64_t retry_backoff_ns; /* default 30s, doubled per attempt */
    int64_t retry_backoff_max_ns; /* default 1h */
    int64_t timeout_ns;       /* 0 = none */
    int64_t sla_ns;           /* freshness_sla as one duration for all views; 0 = none */
    struct schedule_sla *slas;/* freshness_sla as a mapping view -> duration */
    size_t nslas;
    int line, cron_line, timezone_line;
};

struct ferry_settings {
    char *features_path;      /* features.yaml, resolved; default <repo>/features.yaml */
    size_t batch_rows;        /* rows per batch through the pipeline (default 10000) */
    size_t queue_batches;     /* bounded queue between reader and writer (default 4) */
    char *duckdb_memory_limit;/* DuckDB's memory_limit setting, e.g. "1GB"; NULL = DuckDB default */
    int duckdb_threads;       /* 0 = DuckDB default */
    uint64_t duckdb_partition_rows; /* source rows (window query) or keys (pick) per partition; 0 = from memory_limit */
    char *state_path;         /* job history database; default <registry dir>/ferry_state.db; or a
                               * postgresql:// / postgres:// URI (shared state), kept as written */
    struct serve_config serve;
    struct schedule_config *schedules;
    size_t nschedules;
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

/* The freshness SLA of a view from the schedules (the smallest when several name it); 0 = none.
 * A schedule without views applies its single-duration SLA to every view. */
int64_t config_view_sla(const struct ferry_config *cfg, const char *view);

/* Reads features.yaml into definitions. Validates names, references (entities and sources a view
 * names must exist), dtypes, ttl syntax; fills entity_columns by Feast's inference order
 * (schema field with the join key's name, then the entity's value_type). Errors name file and line. */
int defs_load(const char *path, struct feast_defs *out, struct ferry_err *err);

#endif
