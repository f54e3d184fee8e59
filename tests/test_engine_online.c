/* engine_get_online_features in-process: the registry snapshot it caches between requests is
 * replaced as soon as the registry file changes (a view applied after the first request is seen by
 * the next one). */
#include "dbcheck.h"
#include "test.h"

#include "config/config.h"
#include "engine/engine.h"

#include <sys/stat.h>

static void write_in(const char *dir, const char *rel, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    test_write_file(p, text);
}

static void apply(const char *dir)
{
    const char *argv[] = {"-c", dir, "apply", NULL};
    struct run_result r;
    if (test_run_ferry(&r, NULL, argv) != 0)
        test_fail(__FILE__, __LINE__, "apply failed: %s", r.err);
    run_result_cleanup(&r);
}

#define FEATURES_A                                                                                 \
    "entities:\n  - {name: driver, join_key: driver_id, value_type: Int64}\n"                     \
    "sources:\n  - {name: s, path: data/d.parquet, timestamp_field: event_timestamp}\n"            \
    "feature_views:\n  - name: a\n    entities: [driver]\n    source: s\n"                         \
    "    schema:\n      - {name: conv_rate, dtype: Float32}\n"

static int read_feature(const struct ferry_config *cfg, const char *ref, struct fbuf *json, struct ferry_err *err)
{
    char *features[] = {(char *)ref};
    char *values[] = {"1001"};
    struct engine_entity_column ent = {.name = "driver_id", .values = values, .nvalues = 1};
    struct engine_features_request req = {.features = features, .nfeatures = 1, .entities = &ent, .nentities = 1};
    fbuf_reset(json);
    return engine_get_online_features(cfg, &req, json, err);
}

TEST(online_features_cache_follows_registry_changes)
{
    const char *dir = test_tmpdir();
    char data[1024], pq[1100], yaml[1100];
    snprintf(data, sizeof data, "%s/data", dir);
    mkdir(data, 0755);
    snprintf(pq, sizeof pq, "%s/d.parquet", data);
    char sql[1400];
    snprintf(sql, sizeof sql, "COPY (SELECT * FROM '%s') TO '%s' (FORMAT parquet)", test_fixture("driver_stats.parquet"), pq);
    struct qtable t;
    duck_query(sql, &t);
    qtable_free(&t);
    snprintf(yaml, sizeof yaml, "project: c\nregistry: data/registry.db\nonline_store: {path: data/online.db}\n");
    write_in(dir, "feature_store.yaml", yaml);
    write_in(dir, "features.yaml", FEATURES_A);
    apply(dir);

    struct ferry_config cfg;
    struct ferry_err err = {0};
    ASSERT_OK(config_load(dir, NULL, &cfg, &err), &err);
    struct fbuf json;
    fbuf_init(&json, 1 << 20);
    ASSERT_OK(read_feature(&cfg, "a:conv_rate", &json, &err), &err);
    ASSERT_CONTAINS(json.data, "\"NOT_FOUND\"");
    ASSERT_EQ_INT(read_feature(&cfg, "b:acc_rate", &json, &err), FERRY_ENOTFOUND);

    /* A second view applied while the first snapshot is cached. */
    write_in(dir, "features.yaml", FEATURES_A "  - name: b\n    entities: [driver]\n    source: s\n"
                                              "    schema:\n      - {name: acc_rate, dtype: Float32}\n");
    apply(dir);
    ASSERT_OK(read_feature(&cfg, "b:acc_rate", &json, &err), &err);
    ASSERT_CONTAINS(json.data, "\"feature_names\":[\"driver_id\",\"acc_rate\"]");
    fbuf_cleanup(&json);
    config_cleanup(&cfg);
}
