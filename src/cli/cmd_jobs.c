/* `ferry jobs [--status S] [--view V] [--limit N] [--offset N] [--json]` and `ferry job ID [--json]`:
 * the service's job history, read from the state database directly (no server needed). --json
 * prints exactly what GET /jobs and GET /jobs/{id} answer; the text forms are rendered from that
 * same JSON, so the two can never disagree. */
#include "cli/cli_internal.h"

#include "core/buf.h"
#include "service/service.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define JOBS_JSON_MAX ((size_t)256 << 20)

static void usage_jobs(FILE *out)
{
    fprintf(out, "Usage: ferry jobs [--status STATUS] [--view VIEW] [--limit N] [--offset N] [--json]\n\n"
                 "Lists the jobs of `ferry serve`, newest first, from its job history database\n"
                 "(ferry.state_path, default next to the registry). No server is needed.\n\n"
                 "Options:\n"
                 "      --status STATUS  only jobs in this status: queued, running, succeeded, failed, cancelled\n"
                 "      --view VIEW      only jobs that include this feature view\n"
                 "      --limit N        at most N jobs (default 50, at most 1000)\n"
                 "      --offset N       skip the N newest matching jobs\n"
                 "      --json           print the list as GET /jobs does\n"
                 "  -h, --help           this help\n");
}

static void usage_job(FILE *out)
{
    fprintf(out, "Usage: ferry job ID [--json]\n\n"
                 "Shows one job of `ferry serve` with its per-view results, from the job history\n"
                 "database. No server is needed.\n\n"
                 "Options:\n"
                 "      --json   print the job as GET /jobs/{id} does\n"
                 "  -h, --help   this help\n");
}

static int parse_count(const char *opt, const char *text, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < 0 || v > 1000000000)
        return cli_usage_error("jobs ", "%s: '%s' is not a non-negative integer", opt, text);
    *out = (int)v;
    return 0;
}

static const char *jstr(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* "2021-04-12T07:00:00.123456Z" -> "2021-04-12 07:00:00": seconds are enough in a table. */
static const char *short_time(const char *iso, char *buf, size_t n)
{
    if (!iso || strlen(iso) < 19)
        return "-";
    snprintf(buf, n, "%.19s", iso);
    if (buf[10] == 'T')
        buf[10] = ' ';
    return buf;
}

static const char *duration_text(const json_t *job, char *buf, size_t n)
{
    const json_t *d = json_object_get(job, "duration_seconds");
    if (!json_is_number(d))
        return "-";
    snprintf(buf, n, "%.2fs", json_number_value(d));
    return buf;
}

static void join_views(const json_t *views, char *buf, size_t n, size_t max_shown)
{
    size_t used = 0, i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(views, i, v) {
        if (used >= n)
            break;
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "", json_string_value(v));
    }
    if (strlen(buf) > max_shown && max_shown > 3)
        strcpy(buf + max_shown - 3, "...");
    if (!buf[0])
        snprintf(buf, n, "-");
}

static int print_list(const char *json)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (!root) {
        fprintf(stderr, "ferry: error: cannot read the job list: %s\n", je.text);
        return CLI_EXIT_RUNTIME;
    }
    const json_t *jobs = json_object_get(root, "jobs");
    printf("%-36s  %-23s  %-9s  %-30s  %-19s  %9s  %s\n", "ID", "KIND", "STATUS", "VIEWS", "CREATED", "DURATION",
           "TRIGGER");
    size_t i;
    json_t *job;
    json_array_foreach(jobs, i, job) {
        char views[512], created[32], dur[32];
        join_views(json_object_get(job, "views"), views, sizeof views, 30);
        printf("%-36s  %-23s  %-9s  %-30s  %-19s  %9s  %s\n", jstr(job, "id", "?"), jstr(job, "kind", "?"),
               jstr(job, "status", "?"), views, short_time(jstr(job, "created_at", NULL), created, sizeof created),
               duration_text(job, dur, sizeof dur), jstr(job, "trigger", ""));
    }
    json_int_t total = json_integer_value(json_object_get(root, "total"));
    json_int_t offset = json_integer_value(json_object_get(root, "offset"));
    size_t shown = json_array_size(jobs);
    if ((json_int_t)shown < total)
        printf("(%zu of %lld jobs shown, from offset %lld; use --limit and --offset for more)\n", shown,
               (long long)total, (long long)offset);
    json_decref(root);
    return 0;
}

static int print_job(const char *json)
{
    json_error_t je;
    json_t *job = json_loads(json, 0, &je);
    if (!job) {
        fprintf(stderr, "ferry: error: cannot read the job: %s\n", je.text);
        return CLI_EXIT_RUNTIME;
    }
    char views[1024], dur[32];
    join_views(json_object_get(job, "views"), views, sizeof views, sizeof views - 1);
    printf("Job %s%s%s\n", cli_bold(), jstr(job, "id", "?"), cli_reset());
    printf("  kind:      %s\n", jstr(job, "kind", "?"));
    printf("  status:    %s\n", jstr(job, "status", "?"));
    printf("  views:     %s\n", views);
    printf("  window:    %s .. %s\n", jstr(job, "start", "(incremental)"), jstr(job, "end", "-"));
    printf("  trigger:   %s\n", jstr(job, "trigger", ""));
    printf("  attempt:   %lld\n", (long long)json_integer_value(json_object_get(job, "attempt")));
    printf("  created:   %s\n", jstr(job, "created_at", "-"));
    printf("  started:   %s\n", jstr(job, "started_at", "-"));
    printf("  finished:  %s\n", jstr(job, "finished_at", "-"));
    printf("  duration:  %s\n", duration_text(job, dur, sizeof dur));
    if (jstr(job, "error", NULL))
        printf("  error:     %s\n", jstr(job, "error", ""));
    const json_t *results = json_object_get(job, "results");
    if (json_array_size(results)) {
        printf("\n%-28s  %-10s  %-27s  %-27s  %10s  %10s  %10s  %8s  %s\n", "VIEW", "STATUS", "START", "END",
               "ROWS READ", "WRITTEN", "SKIPPED", "SECONDS", "ERROR");
        size_t i;
        json_t *r;
        json_array_foreach(results, i, r) {
            printf("%-28s  %-10s  %-27s  %-27s  %10lld  %10lld  %10lld  %8.2f  %s\n", jstr(r, "view", "?"),
                   jstr(r, "status", "?"), jstr(r, "start", "-"), jstr(r, "end", "-"),
                   (long long)json_integer_value(json_object_get(r, "rows_read")),
                   (long long)json_integer_value(json_object_get(r, "rows_written")),
                   (long long)json_integer_value(json_object_get(r, "rows_skipped")),
                   json_number_value(json_object_get(r, "seconds")), jstr(r, "error", ""));
        }
    }
    json_decref(job);
    return 0;
}

static const char *const statuses[] = {"queued", "running", "succeeded", "failed", "cancelled"};

int cli_jobs(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, 'S'}, {"view", required_argument, NULL, 'v'},
        {"limit", required_argument, NULL, 'n'},  {"offset", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'J'},         {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *status_filter = NULL, *view = NULL;
    int limit = 0, offset = 0, c, status;
    bool json = false;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'S': status_filter = optarg; break;
        case 'v': view = optarg; break;
        case 'n':
            if ((status = parse_count("--limit", optarg, &limit)) != 0)
                return status;
            break;
        case 'o':
            if ((status = parse_count("--offset", optarg, &offset)) != 0)
                return status;
            break;
        case 'J': json = true; break;
        case 'h': usage_jobs(stdout); return 0;
        default: return cli_usage_error("jobs ", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("jobs ", "unexpected argument '%s'", argv[optind]);
    if (status_filter) {
        bool known = false;
        for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
            known |= strcmp(statuses[i], status_filter) == 0;
        if (!known)
            return cli_usage_error("jobs ", "--status: unknown status '%s' (queued, running, succeeded, failed, cancelled)",
                                   status_filter);
    }
    struct ferry_config cfg;
    if ((status = cli_load_config(ctx, &cfg)) != 0)
        return status;
    struct fbuf out;
    fbuf_init(&out, JOBS_JSON_MAX);
    struct ferry_err err = {0};
    if (service_jobs_list_json(&cfg, status_filter, view, limit, offset, &out, &err) != 0)
        status = cli_fail(&err);
    else if (json)
        printf("%s\n", out.data);
    else
        status = print_list(out.data);
    fbuf_cleanup(&out);
    config_cleanup(&cfg);
    return status;
}

int cli_job(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'J'}, {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    bool json = false;
    int c, status;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'J')
            json = true;
        else if (c == 'h') {
            usage_job(stdout);
            return 0;
        } else
            return cli_usage_error("job ", "unknown option");
    }
    if (argc - optind != 1)
        return cli_usage_error("job ", "expected exactly one argument ID, got %d", argc - optind);
    const char *id = argv[optind];
    struct ferry_config cfg;
    if ((status = cli_load_config(ctx, &cfg)) != 0)
        return status;
    struct fbuf out;
    fbuf_init(&out, JOBS_JSON_MAX);
    struct ferry_err err = {0};
    if (service_job_get_json(&cfg, id, &out, &err) != 0)
        status = cli_fail(&err);
    else if (json)
        printf("%s\n", out.data);
    else
        status = print_job(out.data);
    fbuf_cleanup(&out);
    config_cleanup(&cfg);
    return status;
}
