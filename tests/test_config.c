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
                        "  queue_batches: 8\n  duckdb:\n    memory_limit: 2GB\n    threads: 4\n"
                        "  serve: {port: 6566}\n  schedules: []\n  state: {}\n", &cfg, e, &repo), e);
    char *want = joined(repo, "defs/my_features.yaml");
    ASSERT_EQ_STR(cfg.ferry.features_path, want);
    ASSERT_EQ_INT(cfg.ferry.batch_rows, 5000);
    ASSERT_EQ_INT(cfg.ferry.queue_batches, 8);
    ASSERT_EQ_STR(cfg.ferry.duckdb_memory_limit, "2GB");
    ASSERT_EQ_INT(cfg.ferry.duckdb_threads, 4);
    config_cleanup(&cfg);
    free(want);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  batch_row: 5\n",
                        "feature_store.yaml:4: ferry: unknown key 'batch_row'", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  batch_rows: 0\n",
                        "feature_store.yaml:4: ferry.batch_rows: 0 is out of range", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  batch_rows: 100000000\n", "ferry.batch_rows", "out of range");
    expect_config_error("project: p\nregistry: r.db\nferry:\n  batch_rows: many\n",
                        "feature_store.yaml:4: ferry.batch_rows: expected an integer, got 'many'", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  duckdb:\n    memory_limit: \"1GB'; DROP\"\n",
                        "feature_store.yaml:5: ferry.duckdb.memory_limit", NULL);
    expect_config_error("project: p\nregistry: r.db\nferry:\n  duckdb:\n    memory: 1GB\n",
                        "feature_store.yaml:5: ferry.duckdb: unknown key 'memory'", NULL);
}
