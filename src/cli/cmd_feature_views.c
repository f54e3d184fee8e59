/* `ferry feature-views [--json]`: every view of the project with its entities, features, ttl,
 * materialized intervals and freshness (now minus the newest interval end). */
#include "cli/cli_internal.h"

#include "core/time.h"
#include "core/util.h"
#include "registry/registry.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "Usage: ferry feature-views [--json]\n\n"
                 "Lists the project's feature views: kind, entities, features, ttl, online, source,\n"
                 "materialized intervals and freshness.\n");
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case FEAST_VIEW_STREAM: return "stream";
    case FEAST_VIEW_ON_DEMAND: return "on_demand";
    default: return "batch";
    }
}

static const char *state_name(int state)
{
    static const char *const names[] = {"unspecified", "created", "generated", "materializing", "available_online"};
    return state >= 0 && state <= 4 ? names[state] : "unknown";
}

static void print_json(const struct feast_view *views, size_t n, int64_t now)
{
    struct fbuf b;
    fbuf_init(&b, 64u << 20);
    char t1[FERRY_TIME_BUF], t2[FERRY_TIME_BUF];
    fbuf_adds(&b, "[");
    for (size_t i = 0; i < n; i++) {
        const struct feast_view *v = &views[i];
        fbuf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
        fbuf_add_json_str(&b, v->name, strlen(v->name));
        fbuf_addf(&b, ",\"kind\":\"%s\",\"entities\":[", kind_name(v->kind));
        for (size_t k = 0; k < v->nentities; k++) {
            if (k)
                fbuf_addc(&b, ',');
            fbuf_add_json_str(&b, v->entities[k], strlen(v->entities[k]));
        }
        fbuf_adds(&b, "],\"entity_columns\":[");
        for (size_t k = 0; k < v->nentity_columns; k++) {
            fbuf_adds(&b, k ? ",{\"name\":" : "{\"name\":");
            fbuf_add_json_str(&b, v->entity_columns[k].name, strlen(v->entity_columns[k].name));
            fbuf_addf(&b, ",\"dtype\":\"%s\"}", feast_dtype_name(v->entity_columns[k].vtype));
        }
        fbuf_adds(&b, "],\"features\":[");
        for (size_t k = 0; k < v->nfeatures; k++) {
            fbuf_adds(&b, k ? ",{\"name\":" : "{\"name\":");
            fbuf_add_json_str(&b, v->features[k].name, strlen(v->features[k].name));
            fbuf_addf(&b, ",\"dtype\":\"%s\"}", feast_dtype_name(v->features[k].vtype));
        }
        fbuf_addf(&b, "],\"ttl_seconds\":%lld,\"online\":%s,\"disabled\":%s,\"state\":\"%s\",\"source\":",
                  (long long)(v->ttl_ns / FERRY_NS_PER_SEC), v->online ? "true" : "false",
                  v->disabled ? "true" : "false", state_name(v->state));
        const char *src = v->source.path ? v->source.path : "";
        fbuf_add_json_str(&b, src, strlen(src));
        fbuf_adds(&b, ",\"intervals\":[");
        for (size_t k = 0; k < v->nintervals; k++)
            fbuf_addf(&b, "%s{\"start\":\"%s\",\"end\":\"%s\"}", k ? "," : "",
                      ferry_time_format_iso(v->intervals[k].start_ns, t1),
                      ferry_time_format_iso(v->intervals[k].end_ns, t2));
        int64_t last = feast_view_max_end(v);
        if (last == FERRY_TIME_NONE)
            fbuf_adds(&b, "],\"last_end\":null,\"freshness_seconds\":null}");
        else
            fbuf_addf(&b, "],\"last_end\":\"%s\",\"freshness_seconds\":%.3f}", ferry_time_format_iso(last, t1),
                      (double)(now - last) / 1e9);
    }
    fbuf_adds(&b, "]\n");
    fwrite(b.data, 1, b.len, stdout);
    fbuf_cleanup(&b);
}

static void format_age(double secs, char *buf, size_t n)
{
    if (secs < 120)
        snprintf(buf, n, "%.0fs", secs);
    else if (secs < 7200)
        snprintf(buf, n, "%.0fm", secs / 60);
    else if (secs < 172800)
        snprintf(buf, n, "%.1fh", secs / 3600);
    else
        snprintf(buf, n, "%.1fd", secs / 86400);
}

static void print_text(const struct feast_view *views, size_t n, int64_t now)
{
    printf("%-28s %-9s %-22s %8s %6s %9s  %-25s %s\n", "NAME", "KIND", "ENTITIES", "FEATURES", "ONLINE",
           "INTERVALS", "MATERIALIZED UP TO", "FRESHNESS");
    for (size_t i = 0; i < n; i++) {
        const struct feast_view *v = &views[i];
        char ents[256] = "";
        size_t used = 0;
        for (size_t k = 0; k < v->nentities && used < sizeof ents; k++)
            used += (size_t)snprintf(ents + used, sizeof ents - used, "%s%s", k ? "," : "", v->entities[k]);
        int64_t last = feast_view_max_end(v);
        char t[FERRY_TIME_BUF] = "-", age[32] = "-";
        if (last != FERRY_TIME_NONE) {
            ferry_time_format_iso(last, t);
            format_age((double)(now - last) / 1e9, age, sizeof age);
        }
        printf("%-28s %-9s %-22s %8zu %6s %9zu  %-25s %s\n", v->name, kind_name(v->kind), ents, v->nfeatures,
               v->online ? "yes" : "no", v->nintervals, t, age);
    }
}

int cli_feature_views(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'J'}, {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'J')
            json = true;
        else if (c == 'h') {
            usage(stdout);
            return 0;
        } else
            return cli_usage_error("feature-views ", "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("feature-views ", "unexpected argument '%s'", argv[optind]);
    struct ferry_config cfg;
    int status = cli_load_config(ctx, &cfg);
    if (status)
        return status;
    struct registry *reg = NULL;
    struct feast_view *views = NULL;
    size_t n = 0;
    struct ferry_err err = {0};
    int rc = registry_load(cfg.registry_path, &reg, &err);
    if (rc == FERRY_ENOTFOUND)
        rc = ferry_errf(&err, FERRY_ENOTFOUND, "registry %s does not exist: run `ferry apply` first", cfg.registry_path);
    if (!rc)
        rc = registry_views(reg, cfg.project, &views, &n, &err);
    if (rc) {
        status = cli_fail(&err);
    } else if (json) {
        print_json(views, n, ferry_now_ns());
    } else {
        print_text(views, n, ferry_now_ns());
    }
    registry_views_free(views, n);
    registry_free(reg);
    config_cleanup(&cfg);
    return status;
}
