/* `ferry get-online-features -F view:feature... -e key=value...`: prints Feast's feature-server
 * JSON response for the given entity rows. Values of one key form rows in the order given, so
 * `-e driver_id=1001 -e driver_id=1002` asks for two rows. */
#include "cli/cli_internal.h"

#include "core/util.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: ferry get-online-features -F VIEW:FEATURE... -e KEY=VALUE... [--full-feature-names]\n\n"
            "Reads feature values from the online store and prints the same JSON as Feast's\n"
            "POST /get-online-features (column-major results, then metadata.feature_names).\n\n"
            "Options:\n"
            "  -F, --feature VIEW:FEATURE  a feature to read (repeatable; commas separate several)\n"
            "  -e, --entity KEY=VALUE      a join-key value; the i-th value of each key forms row i\n"
            "      --full-feature-names    name feature columns VIEW__FEATURE\n"
            "  -h, --help                  this help\n");
}

static struct engine_entity_column *entity_for(struct engine_features_request *req, const char *name, size_t len,
                                               size_t max)
{
    for (size_t i = 0; i < req->nentities; i++)
        if (strlen(req->entities[i].name) == len && strncmp(req->entities[i].name, name, len) == 0)
            return &req->entities[i];
    struct engine_entity_column *e = &req->entities[req->nentities++];
    e->name = xstrndup(name, len);
    e->values = xcalloc(max, sizeof *e->values);
    return e;
}

int cli_get_online_features(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"feature", required_argument, NULL, 'F'},
        {"features", required_argument, NULL, 'F'},
        {"entity", required_argument, NULL, 'e'},
        {"full-feature-names", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    size_t max = (size_t)argc + 1;
    struct engine_features_request req = {0};
    req.features = xcalloc(max * 8, sizeof *req.features);
    req.entities = xcalloc(max, sizeof *req.entities);
    int c, status = 0;
    while ((c = getopt_long(argc, argv, "F:e:h", opts, NULL)) != -1) {
        switch (c) {
        case 'F': {
            /* Commas separate several references in one argument. */
            const char *p = optarg;
            while (*p) {
                size_t n = strcspn(p, ",");
                if (n && req.nfeatures < max * 8)
                    req.features[req.nfeatures++] = xstrndup(p, n);
                p += n + (p[n] == ',');
            }
            break;
        }
        case 'e': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                status = cli_usage_error("get-online-features ", "--entity expects KEY=VALUE, got '%s'", optarg);
                goto out;
            }
            struct engine_entity_column *e = entity_for(&req, optarg, (size_t)(eq - optarg), max);
            e->values[e->nvalues++] = xstrdup(eq + 1);
            break;
        }
        case 'N': req.full_feature_names = true; break;
        case 'h': usage(stdout); goto out;
        default: status = cli_usage_error("get-online-features ", "unknown option"); goto out;
        }
    }
    if (optind < argc) {
        status = cli_usage_error("get-online-features ", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!req.nfeatures || !req.nentities) {
        status = cli_usage_error("get-online-features ", "give at least one -F VIEW:FEATURE and one -e KEY=VALUE");
        goto out;
    }
    struct ferry_config cfg;
    if ((status = cli_load_config(ctx, &cfg)) != 0)
        goto out;
    struct fbuf json;
    fbuf_init(&json, 256u << 20);
    struct ferry_err err = {0};
    if (engine_get_online_features(&cfg, &req, &json, &err) != 0)
        status = cli_fail(&err);
    else
        printf("%s\n", json.data);
    fbuf_cleanup(&json);
    config_cleanup(&cfg);
out:
    for (size_t i = 0; i < req.nfeatures; i++)
        free(req.features[i]);
    for (size_t i = 0; i < req.nentities; i++) {
        for (size_t j = 0; j < req.entities[i].nvalues; j++)
            free(req.entities[i].values[j]);
        free(req.entities[i].values);
        free(req.entities[i].name);
    }
    free(req.features);
    free(req.entities);
    return status;
}
