/* config/: feature_store.yaml (Feast's keys, defaults and validation, feast-compat.md §1, plus the
 * ferry: block) and features.yaml (ferry's Python-free definitions). Expected defaults come from
 * Feast's repo_config.py and the store config classes. */
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "core/time.h"
#include "core/util.h"

/* Writes feature_store.yaml into a fresh repo dir and loads it with -c <repo>. */
static int load_yaml(const char *yaml, struct ferry_config *cfg, struct ferry_err *e, const char **repo_out)
{
    const char *repo = test_tmpdir();
    char *p = path_join(repo, "feature_store.yaml");
    test_write_file(p, yaml);
    free(p);
    if (repo_out)
        *repo_out = repo;
    unsetenv("FEAST_FS_YAML_FILE_PATH");
    return config_load(repo, NULL, cfg, e);
}

static void expect_config_error(const char *yaml, const char *part1, const char *part2)
{
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    int rc = load_yaml(yaml, &cfg, e, NULL);
    if (rc != FERRY_ECONFIG)
        test_fail(__FILE__, __LINE__, "expected FERRY_ECONFIG, got %d (%s) for:\n%s", rc, e->msg, yaml);
    ASSERT_CONTAINS(e->msg, part1);
    if (part2)
        ASSERT_CONTAINS(e->msg, part2);
    ASSERT_TRUE(cfg.project == NULL && cfg.repo_dir == NULL);   /* cleaned up on failure */
}

static char *joined(const char *repo, const char *rel)
{
    char *real = realpath(repo, NULL);
    char *p = path_join(real, rel);
    free(real);
    return p;
}

TEST(config_minimal_defaults)
{
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    const char *repo;
    ASSERT_OK(load_yaml("project: my_project\nregistry: data/registry.db\n", &cfg, e, &repo), e);
    char *want_reg = joined(repo, "data/registry.db");
    char *want_db = joined(repo, "data/online.db");
    char *want_feat = joined(repo, "features.yaml");
    char *want_yaml = joined(repo, "feature_store.yaml");
    ASSERT_EQ_STR(cfg.project, "my_project");
    ASSERT_EQ_STR(cfg.provider, "local");
    ASSERT_EQ_STR(cfg.registry_type, "file");
    ASSERT_EQ_STR(cfg.registry_path, want_reg);
    ASSERT_EQ_INT(cfg.registry_cache_ttl_seconds, 600);
    ASSERT_FALSE(cfg.registry_versioning);
    ASSERT_EQ_STR(cfg.online.type, "sqlite");
    ASSERT_EQ_STR(cfg.online.path, want_db);
    ASSERT_EQ_STR(cfg.offline.type, "dask");
    ASSERT_EQ_INT(cfg.key_version, 3);
    ASSERT_FALSE(cfg.pull_latest);
    ASSERT_EQ_INT(cfg.online_write_batch_size, 0);
    ASSERT_EQ_STR(cfg.ferry.features_path, want_feat);
    ASSERT_EQ_INT(cfg.ferry.batch_rows, 10000);
    ASSERT_EQ_INT(cfg.ferry.queue_batches, 4);
    ASSERT_TRUE(cfg.ferry.duckdb_memory_limit == NULL);
    ASSERT_EQ_INT(cfg.ferry.duckdb_threads, 0);
    ASSERT_EQ_STR(cfg.yaml_path, want_yaml);
    ASSERT_TRUE(cfg.repo_dir[0] == '/');
    config_cleanup(&cfg);
    free(want_reg); free(want_db); free(want_feat); free(want_yaml);
}

TEST(config_feast_template_and_all_keys)
{
    /* Feast's `feast init` template plus every Feast key ferry accepts. */
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    const char *repo;
    ASSERT_OK(load_yaml("project: my_project\n"
                        "registry: /abs/registry.db\n"
                        "provider: local\n"
                        "online_store:\n  type: sqlite\n  path: data/online_store.db\n"
                        "  text_search_enabled: false\n  enable_openai_compatible_store: yes\n"
                        "  vector_enabled: off\n  similarity: cosine\n"
                        "offline_store:\n  type: file\n"
                        "entity_key_serialization_version: 2\n"
                        "materialization:\n  pull_latest_features: True\n  online_write_batch_size: 500\n"
                        "coerce_tz_aware: false\n"
                        "auth: {type: no_auth}\n"
                        "feature_server: {type: local, enabled: true}\n"
                        "flags: {alpha_features: true}\n"
                        "batch_engine: local\n"
                        "project_description: demo\n"
                        "some_future_key: [1, 2]\n", &cfg, e, &repo), e);
    char *want_db = joined(repo, "data/online_store.db");
    ASSERT_EQ_STR(cfg.registry_path, "/abs/registry.db");
    ASSERT_EQ_STR(cfg.online.path, want_db);
    ASSERT_TRUE(cfg.online.openai_compatible);
    ASSERT_EQ_STR(cfg.offline.type, "file");
    ASSERT_EQ_INT(cfg.key_version, 2);
    ASSERT_TRUE(cfg.pull_latest);
    ASSERT_EQ_INT(cfg.online_write_batch_size, 500);
    config_cleanup(&cfg);
    free(want_db);
}

TEST(config_registry_mapping)
{
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    const char *repo;
    ASSERT_OK(load_yaml("project: p\nregistry:\n  path: reg/registry.pb\n  cache_ttl_seconds: 0\n"
                        "  cache_mode: thread\n  enable_online_feature_view_versioning: true\n", &cfg, e, &repo), e);
    char *want = joined(repo, "reg/registry.pb");
    ASSERT_EQ_STR(cfg.registry_type, "file");
    ASSERT_EQ_STR(cfg.registry_path, want);
    ASSERT_EQ_INT(cfg.registry_cache_ttl_seconds, 0);
    ASSERT_TRUE(cfg.registry_versioning);
    config_cleanup(&cfg);
    free(want);
    expect_config_error("project: p\nregistry:\n  registry_type: sql\n  path: postgresql://x\n",
                        "feature_store.yaml:3: registry.registry_type: 'sql' is not supported yet", NULL);
    expect_config_error("project: p\nregistry:\n  cache_ttl_seconds: 5\n", "feature_store.yaml:3: registry.path", "required");
    expect_config_error("project: p\n", "registry", "required");
    expect_config_error("project: p\nregistry: [a]\n", "feature_store.yaml:2: registry: expected a path or a mapping", NULL);
}

TEST(config_online_store_forms)
{
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    /* null, "None" and "null" all mean: no online store. */
    const char *none_forms[] = {"online_store: null\n", "online_store: None\n", "online_store: \"null\"\n",
                                "online_store:\n", "online_store: ~\n"};
    for (size_t i = 0; i < FERRY_ARRAY_LEN(none_forms); i++) {
        char yaml[200];
        snprintf(yaml, sizeof yaml, "project: p\nregistry: r.db\n%s", none_forms[i]);
        ASSERT_OK(load_yaml(yaml, &cfg, e, NULL), e);
        if (cfg.online.type)
            test_fail(__FILE__, __LINE__, "'%s' gave type %s", none_forms[i], cfg.online.type);
        config_cleanup(&cfg);
    }
    /* String form: a type name with that store's defaults. */
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\nonline_store: redis\n", &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.online.type, "redis");
    ASSERT_EQ_STR(cfg.online.connection_string, "localhost:6379");
    ASSERT_EQ_STR(cfg.online.redis_type, "redis");
    ASSERT_EQ_STR(cfg.online.sentinel_master, "mymaster");
    ASSERT_TRUE(cfg.online.full_scan_for_deletion);
    ASSERT_FALSE(cfg.online.skip_dedup);
    ASSERT_EQ_INT(cfg.online.key_ttl_seconds, 0);
    config_cleanup(&cfg);
    /* Mapping without type = sqlite (Feast's go test repo writes exactly this). */
    const char *repo;
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\nonline_store:\n  path: data/online_store.db\n", &cfg, e, &repo), e);
    char *want = joined(repo, "data/online_store.db");
    ASSERT_EQ_STR(cfg.online.type, "sqlite");
    ASSERT_EQ_STR(cfg.online.path, want);
    config_cleanup(&cfg);
    free(want);
    /* Redis mapping with every key. */
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\nonline_store:\n  type: redis\n  redis_type: redis_cluster\n"
                        "  connection_string: \"redis:6379,db=0\"\n  key_ttl_seconds: 3600\n"
                        "  full_scan_for_deletion: false\n  skip_dedup: true\n  sentinel_master: m\n",
                        &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.online.redis_type, "redis_cluster");
    ASSERT_EQ_STR(cfg.online.connection_string, "redis:6379,db=0");
    ASSERT_EQ_STR(cfg.online.sentinel_master, "m");
    ASSERT_EQ_INT(cfg.online.key_ttl_seconds, 3600);
    ASSERT_FALSE(cfg.online.full_scan_for_deletion);
    ASSERT_TRUE(cfg.online.skip_dedup);
    config_cleanup(&cfg);
    /* A store ferry does not know: only its type is kept, its keys are not judged here. */
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\nonline_store:\n  type: dynamodb\n  region: us-west-2\n",
                        &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.online.type, "dynamodb");
    config_cleanup(&cfg);
    /* The dotted class path is sqlite. */
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\nonline_store:\n  type: feast.infra.online_stores.sqlite.SqliteOnlineStore\n",
                        &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.online.type, "sqlite");
    config_cleanup(&cfg);
}

TEST(config_unknown_keys_in_store_blocks)
{
    expect_config_error("project: p\nregistry: r.db\nonline_store:\n  type: sqlite\n  pth: x.db\n",
                        "feature_store.yaml:5: online_store (sqlite): unknown key 'pth'", "path");
    expect_config_error("project: p\nregistry: r.db\nonline_store:\n  type: redis\n  conection_string: x\n",
                        "feature_store.yaml:5: online_store (redis): unknown key 'conection_string'", NULL);
    expect_config_error("project: p\nregistry: r.db\noffline_store:\n  type: file\n  path: x\n",
                        "feature_store.yaml:5: offline_store (file): unknown key 'path'", NULL);
    expect_config_error("project: p\nregistry: r.db\noffline_store:\n  type: duckdb\n  staging: x\n",
                        "feature_store.yaml:5: offline_store (duckdb): unknown key 'staging'", NULL);
    expect_config_error("project: p\nregistry: r.db\nonline_store:\n  type: redis\n  redis_type: memcache\n",
                        "feature_store.yaml:5: online_store.redis_type: 'memcache'", NULL);
}

TEST(config_offline_store_forms)
{
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\noffline_store: duckdb\n", &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.offline.type, "duckdb");
    config_cleanup(&cfg);
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\noffline_store: {}\n", &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.offline.type, "dask");
    config_cleanup(&cfg);
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\noffline_store:\n  type: duckdb\n  staging_location: s3://b/x\n",
                        &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.offline.type, "duckdb");
    config_cleanup(&cfg);
}

TEST(config_env_expansion)
{
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    setenv("FERRY_TEST_PROJECT", "proj_from_env", 1);
    setenv("FERRY_TEST_HOST", "redis.internal", 1);
    unsetenv("FERRY_TEST_UNSET");
    ASSERT_OK(load_yaml("project: $FERRY_TEST_PROJECT\nregistry: /r/${FERRY_TEST_PROJECT}.db\n"
                        "online_store:\n  type: redis\n  connection_string: \"${FERRY_TEST_HOST}:6379,password=$FERRY_TEST_UNSET\"\n"
                        "  sentinel_master: \"${FERRY_TEST_UNSET}x\"\n",
                        &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.project, "proj_from_env");
    ASSERT_EQ_STR(cfg.registry_path, "/r/proj_from_env.db");
    /* Unset variables stay as written, like os.path.expandvars. */
    ASSERT_EQ_STR(cfg.online.connection_string, "redis.internal:6379,password=$FERRY_TEST_UNSET");
    ASSERT_EQ_STR(cfg.online.sentinel_master, "${FERRY_TEST_UNSET}x");
    config_cleanup(&cfg);
    /* A lone '$' and an unterminated ${ are literal text. */
    ASSERT_OK(load_yaml("project: p\nregistry: \"/r/$/${x.db\"\n", &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.registry_path, "/r/$/${x.db");
    config_cleanup(&cfg);
}

TEST(config_yaml_path_selection)
{
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    const char *repo = test_tmpdir();
    char *other = path_join(repo, "other.yaml");
    test_write_file(other, "project: from_env\nregistry: r.db\n");
    /* No feature_store.yaml in the repo: -f and the env var are what make it work. */
    setenv("FEAST_FS_YAML_FILE_PATH", other, 1);
    ASSERT_OK(config_load(repo, NULL, &cfg, e), e);
    ASSERT_EQ_STR(cfg.project, "from_env");
    ASSERT_EQ_STR(cfg.yaml_path, other);
    config_cleanup(&cfg);
    char *explicit_path = path_join(repo, "explicit.yaml");
    test_write_file(explicit_path, "project: from_flag\nregistry: r.db\n");
    ASSERT_OK(config_load(repo, explicit_path, &cfg, e), e);   /* -f beats the env var */
    ASSERT_EQ_STR(cfg.project, "from_flag");
    config_cleanup(&cfg);
    unsetenv("FEAST_FS_YAML_FILE_PATH");
    ASSERT_EQ_INT(config_load(repo, NULL, &cfg, e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e->msg, "feature_store.yaml: no such file");
    /* Without -c the current directory is the repo. */
    char *fs = path_join(repo, "feature_store.yaml");
    test_write_file(fs, "project: cwd\nregistry: r.db\n");
    ASSERT_EQ_INT(chdir(repo), 0);
    ASSERT_OK(config_load(NULL, NULL, &cfg, e), e);
    ASSERT_EQ_STR(cfg.project, "cwd");
    char *want = joined(repo, "r.db");
    ASSERT_EQ_STR(cfg.registry_path, want);
    config_cleanup(&cfg);
    free(want); free(fs); free(other); free(explicit_path);
}

TEST(config_project_names)
{
    expect_config_error("project: _hidden\nregistry: r.db\n", "feature_store.yaml:1: project: '_hidden'", NULL);
    expect_config_error("project: -x\nregistry: r.db\n", "project: '-x'", NULL);
    expect_config_error("project: my project\nregistry: r.db\n", "project: 'my project'", NULL);
    expect_config_error("project: a.b\nregistry: r.db\n", "project: 'a.b'", NULL);
    expect_config_error("project: [a]\nregistry: r.db\n", "feature_store.yaml:1: project: expected a string", NULL);
    expect_config_error("registry: r.db\n", "project", "required");
    /* '-' only fails with a SQLite online store (the default) - fine with redis. */
    expect_config_error("project: my-proj\nregistry: r.db\n", "feature_store.yaml:1:", "cannot contain '-'");
    expect_config_error("project: my-proj\nregistry: r.db\nonline_store: {type: sqlite}\n", "cannot contain '-'", NULL);
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    ASSERT_OK(load_yaml("project: my-proj\nregistry: r.db\nonline_store: {type: redis}\n", &cfg, e, NULL), e);
    ASSERT_EQ_STR(cfg.project, "my-proj");
    config_cleanup(&cfg);
    ASSERT_OK(load_yaml("project: Proj_2\nregistry: r.db\n", &cfg, e, NULL), e);
    config_cleanup(&cfg);
}

TEST(config_type_errors_name_key_and_line)
{
    expect_config_error("project: p\nregistry: r.db\n\nentity_key_serialization_version: abc\n",
                        "feature_store.yaml:4: entity_key_serialization_version: expected an integer, got 'abc'", NULL);
    expect_config_error("project: p\nregistry: r.db\nentity_key_serialization_version: 4\n",
                        "feature_store.yaml:3: entity_key_serialization_version: 4 is not supported", NULL);
    expect_config_error("project: p\nregistry: r.db\nmaterialization:\n  pull_latest_features: maybe\n",
                        "feature_store.yaml:4: materialization.pull_latest_features: expected a boolean", "'maybe'");
    expect_config_error("project: p\nregistry: r.db\nmaterialization:\n  online_write_batch_size: 0\n",
                        "feature_store.yaml:4: materialization.online_write_batch_size: must be greater than 0", NULL);
    expect_config_error("project: p\nregistry: r.db\nonline_store:\n  type: redis\n  key_ttl_seconds: 1.5\n",
                        "feature_store.yaml:5: online_store.key_ttl_seconds: expected an integer, got '1.5'", NULL);
    expect_config_error("project: p\nregistry: r.db\nonline_store: [sqlite]\n", "feature_store.yaml:3: online_store", NULL);
    expect_config_error("project: p\nregistry: r.db\ncoerce_tz_aware: 2\n", "feature_store.yaml:3: coerce_tz_aware", NULL);
    expect_config_error("- a\n- b\n", "feature_store.yaml:1: expected a mapping", NULL);
    expect_config_error("", "feature_store.yaml: the file is empty", NULL);
    expect_config_error("project: p\nregistry: [r.db\n", "feature_store.yaml:3:", "YAML syntax error");
}

TEST(config_ferry_block)
{
    struct ferry_config cfg;
    struct ferry_err eb = {0}, *e = &eb;
    const char *repo;
    ASSERT_OK(load_yaml("project: p\nregistry: r.db\nferry:\n  features: defs/my_features.yaml\n  batch_rows: 5000\n"
                        "  queue_batches: 8\n  duckdb:\n    memory_limit: 2GB\n    threads: 4\n    partition_rows: 250000\n"
                        "  serve: {port: 7000, workers: 3, max_connections: 64}\n  schedules: []\n  state: jobs/state.db\n", &cfg, e, &repo), e);
    char *want = joined(repo, "defs/my_features.yaml");
    char *state = joined(repo, "jobs/state.db");
    ASSERT_EQ_STR(cfg.ferry.state_path, state);
    free(state);
    ASSERT_EQ_INT(cfg.ferry.serve.port, 7000);
    ASSERT_EQ_INT(cfg.ferry.serve.workers, 3);
    ASSERT_EQ_INT(cfg.ferry.serve.max_connections, 64);
    ASSERT_EQ_STR(cfg.ferry.serve.host, "127.0.0.1");
    ASSERT_EQ_STR(cfg.ferry.features_path, want);
    ASSERT_EQ_INT(cfg.ferry.batch_rows, 5000);
    ASSERT_EQ_INT(cfg.ferry.queue_batches, 8);
    ASSERT_EQ_STR(cfg.ferry.duckdb_memory_limit, "2GB");
    ASSERT_EQ_INT(cfg.ferry.duckdb_threads, 4);
    ASSERT_EQ_INT(cfg.ferry.duckdb_partition_rows, 250000);
    config_cleanup(&cfg);
    free(want);
    /* defaults: the state database sits next to the registry; Feast's port; loopback */
    ASSERT_OK(load_yaml("project: p\nregistry: data/r.db\n", &cfg, e, &repo), e);
    state = joined(repo, "data/ferry_state.db");
    ASSERT_EQ_STR(cfg.ferry.state_path, state);
    free(state);
    ASSERT_EQ_INT(cfg.ferry.serve.port, 6566);
    ASSERT_TRUE(cfg.ferry.serve.token == NULL);
    config_cleanup(&cfg);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  serve:\n    token_env: FERRY_TEST_SURELY_UNSET\n",
                        "feature_store.yaml:5: ferry.serve.token_env: environment variable FERRY_TEST_SURELY_UNSET", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  serve:\n    port: 70000\n", "ferry.serve.port", "out of range");
    expect_config_error("project: p\nregistry: r.db\nferry:\n  features: \"\"\n",
                        "feature_store.yaml:4: ferry.features: the path is empty", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  batch_row: 5\n",
                        "feature_store.yaml:4: ferry: unknown key 'batch_row'", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  batch_rows: 0\n",
                        "feature_store.yaml:4: ferry.batch_rows: 0 is out of range", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  batch_rows: 100000000\n", "ferry.batch_rows", "out of range");
    expect_config_error("project: p\nregistry: r.db\nferry:\n  batch_rows: many\n",
                        "feature_store.yaml:4: ferry.batch_rows: expected an integer, got 'many'", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  duckdb:\n    memory_limit: \"1GB'; DROP\"\n",
                        "feature_store.yaml:5: ferry.duckdb.memory_limit", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  duckdb:\n    partition_rows: 0\n",
                        "feature_store.yaml:5: ferry.duckdb.partition_rows: 0 is out of range", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  duckdb:\n    memory: 1GB\n",
                        "feature_store.yaml:5: ferry.duckdb: unknown key 'memory'", NULL);
}

/* ---- features.yaml ---- */

static int load_defs(const char *yaml, struct feast_defs *defs, struct ferry_err *e)
{
    char *p = path_join(test_tmpdir(), "features.yaml");
    test_write_file(p, yaml);
    int rc = defs_load(p, defs, e);
    free(p);
    return rc;
}

static void expect_defs_error(const char *yaml, const char *part1, const char *part2)
{
    struct feast_defs defs;
    struct ferry_err eb = {0}, *e = &eb;
    int rc = load_defs(yaml, &defs, e);
    if (rc != FERRY_ECONFIG)
        test_fail(__FILE__, __LINE__, "expected FERRY_ECONFIG, got %d (%s) for:\n%s", rc, e->msg, yaml);
    ASSERT_CONTAINS(e->msg, part1);
    if (part2)
        ASSERT_CONTAINS(e->msg, part2);
    ASSERT_TRUE(defs.entities == NULL && defs.nviews == 0);   /* cleaned up on failure */
}

static const char *const FULL_DEFS =
    "entities:\n"
    "  - name: driver\n"
    "    join_key: driver_id\n"
    "    value_type: Int64\n"
    "    description: \"A driver\"\n"
    "    tags: {team: drivers}\n"
    "  - name: customer\n"
    "    join_keys: [customer_id]\n"
    "  - name: city\n"
    "sources:\n"
    "  - name: driver_stats_source\n"
    "    kind: file\n"
    "    path: data/driver_stats.parquet\n"
    "    timestamp_field: event_timestamp\n"
    "    created_timestamp_column: created\n"
    "    field_mapping: {trips: avg_daily_trips}\n"
    "    description: \"Hourly stats\"\n"
    "  - name: csv_source\n"
    "    path: data/x.csv\n"
    "    timestamp_field: ts\n"
    "feature_views:\n"
    "  - name: driver_hourly_stats\n"
    "    entities: [driver, customer, city]\n"
    "    ttl: 1d\n"
    "    online: true\n"
    "    offline: false\n"
    "    source: driver_stats_source\n"
    "    schema:\n"
    "      - {name: customer_id, dtype: String}\n"
    "      - {name: conv_rate, dtype: Float32}\n"
    "      - {name: avg_daily_trips, dtype: Int64, description: \"trips\"}\n"
    "      - {name: driver_id, dtype: Int32}\n"
    "      - {name: ratings, dtype: Array(Float64)}\n"
    "    tags: {team: drivers, tier: gold}\n"
    "    description: \"Driver stats\"\n"
    "  - name: global_stats\n"
    "    ttl: 3600\n"
    "    online: no\n"
    "    offline: yes\n"
    "    source: csv_source\n"
    "    schema:\n"
    "      - {name: total, dtype: Float64}\n";

TEST(config_defs_happy_path_all_fields)
{
    struct feast_defs d;
    struct ferry_err eb = {0}, *e = &eb;
    ASSERT_OK(load_defs(FULL_DEFS, &d, e), e);
    ASSERT_EQ_INT(d.nentities, 3);
    ASSERT_EQ_STR(d.entities[0].name, "driver");
    ASSERT_EQ_STR(d.entities[0].join_key, "driver_id");
    ASSERT_EQ_INT(d.entities[0].vtype, FEAST_VT_INT64);
    ASSERT_EQ_STR(d.entities[0].description, "A driver");
    ASSERT_EQ_INT(d.entities[0].ntags, 1);
    ASSERT_EQ_STR(d.entities[0].tags[0].key, "team");
    ASSERT_EQ_STR(d.entities[0].tags[0].value, "drivers");
    ASSERT_EQ_STR(d.entities[1].join_key, "customer_id");
    ASSERT_EQ_INT(d.entities[1].vtype, FEAST_VT_INVALID);
    ASSERT_EQ_STR(d.entities[2].join_key, "city");          /* join key defaults to the name */

    ASSERT_EQ_INT(d.nsources, 2);
    const struct feast_source *s = &d.sources[0];
    ASSERT_EQ_STR(s->name, "driver_stats_source");
    ASSERT_EQ_INT(s->kind, FEAST_SOURCE_FILE);
    ASSERT_EQ_STR(s->path, "data/driver_stats.parquet");
    ASSERT_EQ_INT(s->file_format, FEAST_FORMAT_PARQUET);
    ASSERT_EQ_STR(s->timestamp_field, "event_timestamp");
    ASSERT_EQ_STR(s->created_column, "created");
    ASSERT_EQ_INT(s->nfield_mapping, 1);
    ASSERT_EQ_STR(s->field_mapping[0].key, "trips");
    ASSERT_EQ_STR(s->field_mapping[0].value, "avg_daily_trips");
    ASSERT_EQ_STR(s->description, "Hourly stats");
    ASSERT_EQ_INT(d.sources[1].file_format, FEAST_FORMAT_CSV);
    ASSERT_TRUE(d.sources[1].created_column == NULL);

    ASSERT_EQ_INT(d.nviews, 2);
    const struct feast_view *v = &d.views[0];
    ASSERT_EQ_STR(v->name, "driver_hourly_stats");
    ASSERT_EQ_INT(v->kind, FEAST_VIEW_BATCH);
    ASSERT_EQ_INT(v->nentities, 3);
    ASSERT_EQ_STR(v->entities[0], "driver");
    ASSERT_EQ_STR(v->entities[2], "city");
    ASSERT_EQ_INT(v->ttl_ns, INT64_C(86400) * FERRY_NS_PER_SEC);
    ASSERT_TRUE(v->online);
    ASSERT_FALSE(v->offline);
    ASSERT_EQ_STR(v->source.name, "driver_stats_source");
    ASSERT_EQ_STR(v->source.created_column, "created");
    ASSERT_EQ_STR(v->source.field_mapping[0].value, "avg_daily_trips");
    ASSERT_TRUE(v->source.path != s->path);                /* a copy, not shared */
    /* Features: schema minus join keys, in schema order. */
    ASSERT_EQ_INT(v->nfeatures, 3);
    ASSERT_EQ_STR(v->features[0].name, "conv_rate");
    ASSERT_EQ_INT(v->features[0].vtype, FEAST_VT_FLOAT);
    ASSERT_EQ_STR(v->features[1].name, "avg_daily_trips");
    ASSERT_EQ_INT(v->features[1].vtype, FEAST_VT_INT64);
    ASSERT_EQ_STR(v->features[1].description, "trips");
    ASSERT_EQ_STR(v->features[2].name, "ratings");
    ASSERT_EQ_INT(v->features[2].vtype, FEAST_VT_DOUBLE_LIST);
    ASSERT_EQ_INT(v->ntags, 2);
    ASSERT_EQ_STR(v->tags[1].key, "tier");
    ASSERT_EQ_STR(v->description, "Driver stats");
    ASSERT_EQ_INT(v->created_ns, FERRY_TIME_NONE);
    ASSERT_EQ_INT(v->nintervals, 0);

    const struct feast_view *g = &d.views[1];
    ASSERT_EQ_INT(g->ttl_ns, INT64_C(3600) * FERRY_NS_PER_SEC);
    ASSERT_FALSE(g->online);
    ASSERT_TRUE(g->offline);
    ASSERT_EQ_INT(g->source.file_format, FEAST_FORMAT_CSV);
    feast_defs_cleanup(&d);
}

TEST(config_defs_entity_column_inference_order)
{
    /* Feast's order: the schema field with the join key's name, then Entity.value_type, then unknown
     * (left to the caller, which looks at the source column). */
    struct feast_defs d;
    struct ferry_err eb = {0}, *e = &eb;
    ASSERT_OK(load_defs(FULL_DEFS, &d, e), e);
    const struct feast_view *v = &d.views[0];
    ASSERT_EQ_INT(v->nentity_columns, 3);
    /* Order follows `entities`, not the schema. */
    ASSERT_EQ_STR(v->entity_columns[0].name, "driver_id");
    ASSERT_EQ_INT(v->entity_columns[0].vtype, FEAST_VT_INT32);   /* schema Int32 beats value_type Int64 */
    ASSERT_EQ_STR(v->entity_columns[1].name, "customer_id");
    ASSERT_EQ_INT(v->entity_columns[1].vtype, FEAST_VT_STRING);  /* schema only */
    ASSERT_EQ_STR(v->entity_columns[2].name, "city");
    ASSERT_EQ_INT(v->entity_columns[2].vtype, FEAST_VT_INVALID); /* neither: inferred later */
    feast_defs_cleanup(&d);

    ASSERT_OK(load_defs("entities:\n  - {name: driver, join_key: driver_id, value_type: Int64}\n"
                        "feature_views:\n  - name: v\n    entities: [driver]\n"
                        "    source: {path: a.parquet, timestamp_field: ts}\n"
                        "    schema: [{name: f, dtype: Bool}]\n", &d, e), e);
    ASSERT_EQ_INT(d.views[0].entity_columns[0].vtype, FEAST_VT_INT64);  /* from value_type */
    ASSERT_EQ_INT(d.views[0].ttl_ns, 0);
    ASSERT_TRUE(d.views[0].online);
    ASSERT_FALSE(d.views[0].offline);
    /* Inline source: the name defaults to the path, as Feast's FileSource does. */
    ASSERT_EQ_STR(d.views[0].source.name, "a.parquet");
    ASSERT_EQ_INT(d.views[0].source.file_format, FEAST_FORMAT_PARQUET);
    feast_defs_cleanup(&d);
}

TEST(config_defs_entityless_view)
{
    struct feast_defs d;
    struct ferry_err eb = {0}, *e = &eb;
    ASSERT_OK(load_defs("sources:\n  - {name: s, path: x.pq, timestamp_field: ts}\n"
                        "feature_views:\n  - name: a\n    source: s\n    schema: [{name: f, dtype: Int64}]\n"
                        "  - name: b\n    entities: []\n    source: s\n    schema: [{name: g, dtype: String}]\n",
                        &d, e), e);
    for (size_t i = 0; i < 2; i++) {
        ASSERT_EQ_INT(d.views[i].nentities, 1);
        ASSERT_EQ_STR(d.views[i].entities[0], "__dummy");
        ASSERT_EQ_INT(d.views[i].nentity_columns, 0);
        ASSERT_EQ_INT(d.views[i].nfeatures, 1);
    }
    ASSERT_EQ_INT(d.views[0].source.file_format, FEAST_FORMAT_PARQUET);
    feast_defs_cleanup(&d);
}

#define SRC "sources:\n  - {name: s, path: x.parquet, timestamp_field: ts}\n"
#define ENT "entities:\n  - {name: driver, join_key: driver_id}\n"

TEST(config_defs_validation_errors)
{
    /* line 8 is the `- drivr` item */
    expect_defs_error(ENT SRC "feature_views:\n  - name: v\n    entities:\n      - drivr\n    source: s\n"
                      "    schema: [{name: f, dtype: Int64}]\n",
                      "features.yaml:8: feature view 'v': unknown entity 'drivr'", NULL);
    expect_defs_error(ENT SRC "feature_views:\n  - name: v\n    entities: [driver]\n    source: t\n"
                      "    schema: [{name: f, dtype: Int64}]\n",
                      "features.yaml:8: feature view 'v': unknown source 't'", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n    schema:\n      - {name: f, dtype: Float16}\n",
                      "features.yaml:7: feature view 'v': field 'f': dtype: unknown dtype 'Float16'", "Float32");
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n    ttl: 1 day\n    schema: [{name: f, dtype: Int64}]\n",
                      "features.yaml:6: feature view 'v': ttl: invalid duration '1 day'", NULL);
    expect_defs_error(ENT SRC "feature_views:\n  - name: v\n    entities: [driver]\n    source: s\n"
                      "    schema: [{name: driver_id, dtype: Int64}]\n",
                      "features.yaml:9: feature view 'v': has no features", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n",
                      "features.yaml:4: feature view 'v': has no features", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n    schema: [{name: f, dtype: Int64}]\n"
                      "  - name: v\n    source: s\n    schema: [{name: f, dtype: Int64}]\n",
                      "features.yaml:7: feature view 'v': the name is used twice", NULL);
    expect_defs_error("entities:\n  - name: a\n  - name: a\n", "features.yaml:3: entity 'a': the name is used twice", NULL);
    expect_defs_error(SRC "  - {name: s, path: y.parquet, timestamp_field: ts}\n",
                      "features.yaml:3: source 's': the name is used twice", NULL);
    expect_defs_error("entities:\n  - name: _private\n", "features.yaml:2: entity '_private': not a valid name", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: my view\n    source: s\n    schema: [{name: f, dtype: Int64}]\n",
                      "features.yaml:4: feature view 'my view': not a valid name", NULL);
    expect_defs_error("entities:\n  - join_key: x\n", "features.yaml:2: entity #1: name: required", NULL);
    expect_defs_error("sources:\n  - name: s\n    path: x.parquet\n", "features.yaml:2: source 's': timestamp_field: required", NULL);
    expect_defs_error("sources:\n  - name: s\n    timestamp_field: ts\n", "features.yaml:2: source 's': path: required", NULL);
    expect_defs_error("sources:\n  - name: s\n    path: x.json\n    timestamp_field: ts\n",
                      "features.yaml:3: source 's': path 'x.json' must end in .parquet", NULL);
    expect_defs_error("sources:\n  - name: s\n    kind: bigquery\n    path: x.csv\n    timestamp_field: ts\n",
                      "features.yaml:3: source 's': kind 'bigquery' is not supported", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    schema: [{name: f, dtype: Int64}]\n",
                      "features.yaml:4: feature view 'v': source: required", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n    schema:\n      - {name: f}\n",
                      "features.yaml:7: feature view 'v': field 'f': dtype: required", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n    schema:\n      - {name: f, dtype: Int64}\n"
                      "      - {name: f, dtype: Int32}\n",
                      "features.yaml:8: feature view 'v': field 'f' appears twice", NULL);
    expect_defs_error("entities:\n  - name: d\n    value_type: Float32\n",
                      "features.yaml:3: entity 'd': value_type Float32 cannot be an entity key", NULL);
    expect_defs_error("entities:\n  - name: d\n    join_keys: [a, b]\n",
                      "features.yaml:3: entity 'd': join_keys: expected a list with exactly one name", NULL);
    expect_defs_error(ENT SRC "feature_views:\n  - name: v\n    entities: [driver]\n    source: s\n"
                      "    schema:\n      - {name: driver_id, dtype: Float64}\n      - {name: f, dtype: Int64}\n",
                      "features.yaml:10: feature view 'v': join key 'driver_id' has dtype Float64", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n    online: sometimes\n"
                      "    schema: [{name: f, dtype: Int64}]\n",
                      "features.yaml:6: feature view 'v': online: expected a boolean", NULL);
}

TEST(config_defs_unknown_keys_are_errors)
{
    expect_defs_error("entities:\n  - name: driver\n    joinkey: driver_id\n",
                      "features.yaml:3: entity 'driver': unknown key 'joinkey'", "join_key");
    expect_defs_error("sources:\n  - name: s\n    path: x.parquet\n    timestamp_field: ts\n    timestamp_column: ts\n",
                      "features.yaml:5: source 's': unknown key 'timestamp_column'", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n    ttl: 1d\n    tll: 2d\n"
                      "    schema: [{name: f, dtype: Int64}]\n",
                      "features.yaml:7: feature view 'v': unknown key 'tll'", NULL);
    expect_defs_error(SRC "feature_views:\n  - name: v\n    source: s\n    schema:\n      - {name: f, type: Int64}\n",
                      "features.yaml:7: feature view 'v': field 'f': unknown key 'type'", NULL);
    expect_defs_error("entitys:\n  - name: d\n", "features.yaml:1: top level: unknown key 'entitys'", NULL);
}

TEST(config_defs_malformed_yaml)
{
    expect_defs_error("entities:\n  - name: driver\n   join_key: x\n", "features.yaml:3:", "YAML syntax error");
    expect_defs_error("entities: [driver\n", "features.yaml:2:", "YAML syntax error");
    expect_defs_error("entities:\n\t- name: x\n", "features.yaml:2:", "YAML syntax error");
    expect_defs_error("- a\n- b\n", "features.yaml:1: expected a mapping", NULL);
    expect_defs_error("", "features.yaml: the file is empty", NULL);
    expect_defs_error("entities: []\n---\nentities: []\n", "features.yaml:3: expected a single YAML document", NULL);
    expect_defs_error("entities: 5\n", "features.yaml:1: entities: expected a list", NULL);
    struct feast_defs d;
    struct ferry_err eb = {0}, *e = &eb;
    ASSERT_EQ_INT(defs_load("/nonexistent/features.yaml", &d, e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e->msg, "/nonexistent/features.yaml");
}

TEST(config_defs_alias_bomb_is_bounded)
{
    /* One 100-field schema referenced through an alias by 12000 views: 1.2 million list items from
     * a file of a few hundred kilobytes. The item budget (1,000,000) must stop it. */
    struct fbuf y;
    fbuf_init(&y, 4 << 20);
    fbuf_adds(&y, "sources:\n  - {name: s, path: x.parquet, timestamp_field: ts}\nfeature_views:\n"
                  "  - {name: v0, source: s, schema: &l [");
    for (int i = 0; i < 100; i++)
        fbuf_addf(&y, "%s{name: f%d, dtype: Int64}", i ? ", " : "", i);
    fbuf_adds(&y, "]}\n");
    for (int i = 1; i < 12000; i++)
        fbuf_addf(&y, "  - {name: v%d, source: s, schema: *l}\n", i);
    ASSERT_TRUE(y.data != NULL);
    struct feast_defs d;
    struct ferry_err eb = {0}, *e = &eb;
    char *p = path_join(test_tmpdir(), "features.yaml");
    test_write_file(p, y.data);
    ASSERT_EQ_INT(defs_load(p, &d, e), FERRY_ECONFIG);
    ASSERT_CONTAINS(e->msg, "list items in total");
    free(p);
    fbuf_cleanup(&y);
}
