/* `ferry apply`: validates features.yaml and each view's source, then writes the registry and
 * creates the online tables. Everything that can be wrong with the input is checked before the
 * registry is touched. */
#include "cli/cli_internal.h"

#include "core/log.h"
#include "core/util.h"
#include "offline/offline.h"
#include "online/online.h"
#include "registry/registry.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: ferry apply\n\n"
            "Reads the definitions in features.yaml (path: `ferry: features:` in feature_store.yaml,\n"
            "default <repo>/features.yaml), checks every view's source file, columns and types, writes\n"
            "entities, data sources and feature views into the registry, and creates the online tables.\n"
            "A registry written by `feast apply` needs no `ferry apply`.\n");
}

/* Feast's last inference step for an entity key's type: the source column's type. Only for
 * columns that neither a schema entry nor the entity's value_type typed. */
static int infer_key_types(struct offline_store *off, struct feast_view *v, bool source_exists,
                           struct ferry_err *err)
{
    for (size_t k = 0; k < v->nentity_columns; k++) {
        struct feast_feature *col = &v->entity_columns[k];
        if (col->vtype != FEAST_VT_INVALID)
            continue;
        if (source_exists) {
            const char *name = col->name;
            int rc = offline_infer_types(off, v, &name, 1, &col->vtype, err);
            if (rc)
                return rc;
        }
        if (!feast_vtype_is_entity_key(col->vtype))
            return ferry_errf(err, FERRY_ECONFIG,
                              "feature view '%s': the type of join key '%s' is unknown%s: give the entity a "
                              "value_type or add {name: %s, dtype: ...} to the view's schema",
                              v->name, col->name,
                              !source_exists ? " (the source file does not exist yet)"
                              : col->vtype == FEAST_VT_INVALID ? " (no such source column)"
                                                               : " (its source column cannot be a key)",
                              col->name);
    }
    return 0;
}

/* Checks every view's source; a source file that does not exist yet only warns, as Feast's apply
 * does not read data either. Fills key types that only the source can tell. */
static int check_sources(const struct ferry_config *cfg, struct feast_defs *defs, struct ferry_err *err)
{
    struct offline_store *off = NULL;
    int rc = offline_open(cfg, &off, err);
    for (size_t i = 0; i < defs->nviews && !rc; i++) {
        struct feast_view *v = &defs->views[i];
        /* A SQL source lives in the offline store's database: check it there. */
        bool exists = true;
        if (!feast_source_is_sql(&v->source)) {
            char *path = path_join(cfg->repo_dir, v->source.path);
            exists = file_exists(path);
            free(path);
        }
        if ((rc = infer_key_types(off, v, exists, err)) != 0)
            break;
        struct feast_schema schema;
        if ((rc = feast_schema_init(&schema, v, cfg->key_version, err)) != 0)
            break;
        if (exists) {
            struct offline_pull pull = {.view = v, .schema = &schema};
            rc = offline_check(off, &pull, err);
        } else {
            LOG_WARN("feature view '%s': source file %s does not exist yet", v->name, v->source.path);
        }
        feast_schema_cleanup(&schema);
    }
    offline_close(off);
    return rc;
}

int cli_apply(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        return cli_usage_error("apply ", "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("apply ", "unexpected argument '%s'", argv[optind]);

    struct ferry_config cfg;
    int status = cli_load_config(ctx, &cfg);
    if (status)
        return status;
    struct feast_defs defs = {0};
    struct ferry_err err = {0};
    struct online_store *on = NULL;
    int rc;
    if (!file_exists(cfg.ferry.features_path)) {
        rc = ferry_errf(&err, FERRY_ECONFIG,
                        "%s does not exist: `ferry apply` reads definitions from it (a registry written by "
                        "`feast apply` needs no `ferry apply`)",
                        cfg.ferry.features_path);
        goto out;
    }
    if ((rc = defs_load(cfg.ferry.features_path, &defs, &err)) != 0)
        goto out;
    if ((rc = check_sources(&cfg, &defs, &err)) != 0)
        goto out;
    bool sqlite = cfg.online.type && strcmp(cfg.online.type, "sqlite") == 0;
    if (cfg.online.type && (rc = online_open(&cfg, &on, &err)) != 0)
        goto out;
    if ((rc = registry_apply(cfg.registry_path, cfg.project, &defs, sqlite ? cfg.online.path : NULL, &err)) != 0)
        goto out;
    size_t tables = 0;
    for (size_t i = 0; on && i < defs.nviews; i++)
        if (defs.views[i].online) {
            if ((rc = online_prepare(on, cfg.project, &defs.views[i], &err)) != 0)
                goto out;
            tables++;
        }
    printf("Applied %zu entit%s, %zu data source%s and %zu feature view%s to project %s%s%s in %s.\n",
           defs.nentities, defs.nentities == 1 ? "y" : "ies", defs.nsources, defs.nsources == 1 ? "" : "s",
           defs.nviews, defs.nviews == 1 ? "" : "s", cli_bold(), cfg.project, cli_reset(), cfg.registry_path);
    if (tables)
        printf("Online store (%s): %zu table%s ready%s%s.\n", cfg.online.type, tables, tables == 1 ? "" : "s",
               sqlite ? " in " : "", sqlite ? cfg.online.path : "");
out:
    if (rc)
        status = cli_fail(&err);
    online_close(on);
    feast_defs_cleanup(&defs);
    config_cleanup(&cfg);
    return status;
}
