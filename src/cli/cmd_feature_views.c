/* `ferry feature-views [--json]`: every view of the project with its entities, features, ttl,
 * materialized intervals, freshness (now minus the newest interval end) and freshness SLA (from
 * ferry: schedules:). --json prints the document GET /feature-views answers (same code). */
#include "cli/cli_internal.h"

#include "core/time.h"
#include "core/util.h"
#include "registry/registry.h"
#include "service/service.h"

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

static void print_text(const struct ferry_config *cfg, const struct feast_view *views, size_t n, int64_t now)
{
    printf("%-28s %-9s %-22s %8s %6s %9s  %-25s %-9s %s\n", "NAME", "KIND", "ENTITIES", "FEATURES", "ONLINE",
           "INTERVALS", "MATERIALIZED UP TO", "FRESHNESS", "SLA");
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
        /* SLA: the duration, and BREACHED while staler than it (or never materialized). */
        char sla_text[64] = "-";
        int64_t sla = config_view_sla(cfg, v->name);
        if (sla) {
            char d[32];
            format_age((double)sla / 1e9, d, sizeof d);
            bool breached = last == FERRY_TIME_NONE || now - last > sla;
            snprintf(sla_text, sizeof sla_text, "%s%s", d, breached ? " BREACHED" : " ok");
        }
        printf("%-28s %-9s %-22s %8zu %6s %9zu  %-25s %-9s %s\n", v->name, kind_name(v->kind), ents, v->nfeatures,
               v->online ? "yes" : "no", v->nintervals, t, age, sla_text);
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
    if (json) {
        struct fbuf b;
        fbuf_init(&b, 64u << 20);
        int rc = service_feature_views_json(&cfg, ferry_now_ns(), &b, &err);
        if (rc)
            status = cli_fail(&err);
        else {
            fbuf_addc(&b, '\n');
            fwrite(b.data, 1, b.len, stdout);
        }
        fbuf_cleanup(&b);
        config_cleanup(&cfg);
        return status;
    }
    int rc = registry_load(cfg.registry_path, &reg, &err);
    if (rc == FERRY_ENOTFOUND)
        rc = ferry_errf(&err, FERRY_ENOTFOUND, "registry %s does not exist: run `ferry apply` first", cfg.registry_path);
    if (!rc)
        rc = registry_views(reg, cfg.project, &views, &n, &err);
    if (rc)
        status = cli_fail(&err);
    else
        print_text(&cfg, views, n, ferry_now_ns());
    registry_views_free(views, n);
    registry_free(reg);
    config_cleanup(&cfg);
    return status;
}
