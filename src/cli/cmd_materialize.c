/* `ferry materialize START END` and `ferry materialize-incremental END`, with Feast's options
 * (-v/--views, --disable-event-timestamp) plus --json. */
#include "cli/cli_internal.h"

#include "core/time.h"
#include "core/util.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile int interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static void usage(FILE *out, bool incremental)
{
    if (incremental)
        fprintf(out,
                "Usage: ferry materialize-incremental END_TS [-v VIEW]... [--json]\n\n"
                "Materializes each view from the end of its last materialized interval (or now - ttl,\n"
                "or one year ago when ttl is 0) up to END_TS. An END_TS in the future is clamped to now.\n\n");
    else
        fprintf(out,
                "Usage: ferry materialize START_TS END_TS [-v VIEW]... [--json]\n"
                "       ferry materialize --disable-event-timestamp [-v VIEW]... [--json]\n\n"
                "Writes the latest row per entity key with event time in [START_TS, END_TS] (both\n"
                "inclusive) of each view into the online store, then records the interval in the registry.\n\n");
    fprintf(out,
            "Timestamps: ISO 8601 such as 2021-04-12, 2021-04-12T07:00:00, 2021-04-12 07:00:00.5+02:00,\n"
            "2021-04-12T07:00:00Z; without a zone they are UTC.\n\n"
            "Options:\n"
            "  -v, --views VIEW   a view to materialize (repeatable; default: every online view)\n"
            "%s"
            "      --json         print one JSON summary instead of text\n"
            "  -h, --help         this help\n",
            incremental ? "" : "      --disable-event-timestamp  use the window 1970-01-01 .. now\n");
}

static int run(struct cli_ctx *ctx, int argc, char **argv, bool incremental)
{
    const char *cmd = incremental ? "materialize-incremental" : "materialize";
    static const struct option opts[] = {
        {"views", required_argument, NULL, 'v'},
        {"disable-event-timestamp", no_argument, NULL, 'D'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char **views = xcalloc((size_t)argc + 1, sizeof *views);
    size_t nviews = 0;
    bool json = false, no_event_ts = false;
    int c, status = 0;
    while ((c = getopt_long(argc, argv, "v:h", opts, NULL)) != -1) {
        switch (c) {
        case 'v': views[nviews++] = optarg; break;
        case 'D':
            if (incremental) {
                status = cli_usage_error(cmd, "--disable-event-timestamp is an option of materialize only");
                goto out;
            }
            no_event_ts = true;
            break;
        case 'J': json = true; break;
        case 'h': usage(stdout, incremental); goto out;
        default: status = cli_usage_error("materialize ", "unknown option"); goto out;
        }
    }
    struct engine_request req = {.mode = incremental ? ENGINE_INCREMENTAL : ENGINE_MATERIALIZE,
                                 .views = views, .nviews = nviews, .cancel = &interrupted};
    int npos = argc - optind;
    char **pos = argv + optind;
    if (incremental) {
        if (npos != 1) {
            status = cli_usage_error("materialize-incremental ", "expected exactly one argument END_TS, got %d", npos);
            goto out;
        }
        if ((status = cli_parse_time(cmd, "END_TS", pos[0], &req.end_ns)) != 0)
            goto out;
    } else if (no_event_ts) {
        if (npos != 0) {
            status = cli_usage_error("materialize ", "START_TS and END_TS cannot be given with --disable-event-timestamp");
            goto out;
        }
        req.start_ns = 0;
        req.end_ns = ferry_now_ns();
    } else {
        if (npos != 2) {
            status = cli_usage_error("materialize ", "expected START_TS and END_TS, got %d argument%s", npos,
                                     npos == 1 ? "" : "s");
            goto out;
        }
        if ((status = cli_parse_time(cmd, "START_TS", pos[0], &req.start_ns)) != 0 ||
            (status = cli_parse_time(cmd, "END_TS", pos[1], &req.end_ns)) != 0)
            goto out;
        if (req.start_ns > req.end_ns) {
            char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
            status = cli_usage_error("materialize ", "START_TS %s is after END_TS %s",
                                     ferry_time_format_iso(req.start_ns, a), ferry_time_format_iso(req.end_ns, b));
            goto out;
        }
    }

    struct ferry_config cfg;
    if ((status = cli_load_config(ctx, &cfg)) != 0)
        goto out;
    struct cli_progress progress;
    cli_progress_init(&progress, json);
    req.cb = cli_progress_callbacks(&progress);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct engine_plan plan;
    struct ferry_err err = {0};
    int rc = engine_run(&cfg, &req, &plan, &err);
    if (json)
        cli_print_plan_json(&plan, rc, &err);
    if (rc)
        status = json ? ferry_err_exit_status(rc) : cli_fail(&err);
    engine_plan_cleanup(&plan);
    config_cleanup(&cfg);
out:
    free(views);
    return status;
}

int cli_materialize(struct cli_ctx *ctx, int argc, char **argv) { return run(ctx, argc, argv, false); }
int cli_materialize_incremental(struct cli_ctx *ctx, int argc, char **argv) { return run(ctx, argc, argv, true); }
