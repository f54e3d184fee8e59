/* `ferry schedules [--json]`: each schedule of feature_store.yaml (ferry: schedules:) with its
 * next run, last run and result. Computed from the config and the state database, so no server is
 * needed; --json prints the same objects as GET /schedules. The text form is rendered from that
 * JSON, so the two cannot disagree. */
#include "cli/cli_internal.h"

#include "core/buf.h"
#include "core/time.h"
#include "service/service.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SCHEDULES_JSON_MAX ((size_t)16 << 20)

static void usage(FILE *out)
{
    fprintf(out, "Usage: ferry schedules [--json]\n\n"
                 "Lists the schedules of feature_store.yaml (ferry: schedules:) with their next run,\n"
                 "last run and last result, from the service's state database. No server is needed.\n\n"
                 "Options:\n"
                 "      --json   print the list as GET /schedules does\n"
                 "  -h, --help   this help\n");
}

static const char *jstr(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static int print_text(const char *json)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (!root) {
        fprintf(stderr, "ferry: error: cannot read the schedule list: %s\n", je.text);
        return CLI_EXIT_RUNTIME;
    }
    printf("%-24s  %-16s  %-18s  %-11s  %-20s  %-20s  %s\n", "NAME", "TIMING", "TIMEZONE", "MODE", "NEXT RUN",
           "LAST RUN", "LAST RESULT");
    size_t i;
    json_t *s;
    json_array_foreach(root, i, s) {
        char timing[80], result[64];
        if (jstr(s, "cron", NULL))
            snprintf(timing, sizeof timing, "%s", jstr(s, "cron", ""));
        else
            snprintf(timing, sizeof timing, "every %s", jstr(s, "every", "?"));
        const json_t *attempt = json_object_get(s, "attempt");
        if (json_integer_value(attempt) > 1)
            snprintf(result, sizeof result, "%s (attempt %lld)", jstr(s, "last_status", "-"),
                     (long long)json_integer_value(attempt));
        else
            snprintf(result, sizeof result, "%s", jstr(s, "last_status", "-"));
        printf("%-24s  %-16s  %-18s  %-11s  %-20s  %-20s  %s\n", jstr(s, "name", "?"), timing,
               jstr(s, "timezone", "UTC"), jstr(s, "mode", "?"), jstr(s, "next_run", "-"), jstr(s, "last_run", "-"),
               result);
    }
    if (!json_array_size(root))
        printf("(no schedules: add them under ferry: schedules: in feature_store.yaml)\n");
    json_decref(root);
    return 0;
}

int cli_schedules(struct cli_ctx *ctx, int argc, char **argv)
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
            return cli_usage_error("schedules ", "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("schedules ", "unexpected argument '%s'", argv[optind]);
    struct ferry_config cfg;
    int status = cli_load_config(ctx, &cfg);
    if (status)
        return status;
    struct fbuf b;
    fbuf_init(&b, SCHEDULES_JSON_MAX);
    struct ferry_err err = {0};
    if (service_schedules_json(&cfg, ferry_now_ns(), &b, &err) != 0) {
        status = cli_fail(&err);
    } else if (json) {
        fbuf_addc(&b, '\n');
        fwrite(b.data, 1, b.len, stdout);
    } else {
        status = print_text(b.data);
    }
    fbuf_cleanup(&b);
    config_cleanup(&cfg);
    return status;
}
