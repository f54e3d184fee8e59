/* `ferry backfill START END [--chunk 1d] [-v VIEW]... [--parallel N] [--json]`: materializes a
 * long range as chunk-sized windows (engine/backfill.c), skipping windows already recorded in the
 * registry, so rerunning the same command resumes after a failure, a kill or Ctrl-C. On a terminal
 * a live progress line (windows done/total, rows, rows/s, ETA) is drawn on stderr; the summary
 * goes to stdout, or one JSON document with --json. */
#include "cli/cli_internal.h"

#include "core/buf.h"
#include "core/time.h"
#include "core/util.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: ferry backfill START_TS END_TS [--chunk DURATION] [-v VIEW]... [--parallel N] [--json]\n\n"
            "Materializes [START_TS, END_TS] in windows of DURATION (default 1d), each recorded in the\n"
            "registry as soon as it is written. Windows already covered by a recorded interval are\n"
            "skipped, so running the same command again resumes after a failure. A view stops at its\n"
            "first failed window; the other views go on. An END_TS in the future is clamped to now.\n\n"
            "Timestamps: ISO 8601 such as 2021-04-12, 2021-04-12T07:00:00, 2021-04-12T07:00:00Z;\n"
            "without a zone they are UTC. Durations: 1d, 6h, 30m, 1w, 1h30m, or seconds.\n\n"
            "Options:\n"
            "  -v, --views VIEW     a view to backfill (repeatable; default: every online view)\n"
            "      --chunk DURATION window length (default 1d)\n"
            "      --parallel N     views backfilled at once, 1..%d (default 1); a view's own windows\n"
            "                       always run one after another, in order\n"
            "      --json           print one JSON summary instead of text\n"
            "  -h, --help           this help\n",
            BACKFILL_MAX_PARALLEL);
}

struct bf_output {
    bool json, live;
    double last_draw;
};

static void clear_live(struct bf_output *o)
{
    if (o->live) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}

static void draw(struct bf_output *o, const struct backfill_progress *p, bool force)
{
    if (!o->live || (!force && p->seconds - o->last_draw < 0.1))
        return;
    o->last_draw = p->seconds;
    size_t finished = p->windows_done + p->windows_failed;
    char eta[32] = "?";
    /* ETA from the pace of this run's finished windows; unknown before the first one. */
    if (finished && p->windows_to_run >= finished)
        snprintf(eta, sizeof eta, "%.0fs", p->seconds / (double)finished * (double)(p->windows_to_run - finished));
    fprintf(stderr, "\r\033[K  backfill: %zu/%zu windows (%zu skipped), %llu rows, %.0f rows/s, ETA %s",
            p->windows_skipped + p->windows_done, p->windows_total, p->windows_skipped, (unsigned long long)p->rows,
            p->seconds > 0 ? (double)p->rows / p->seconds : 0.0, eta);
    fflush(stderr);
}

static void on_progress(void *ctx, const struct backfill_plan *plan, const struct backfill_progress *p)
{
    (void)plan;
    draw(ctx, p, false);
}

static void on_window_done(void *ctx, const struct backfill_plan *plan, size_t view, size_t window,
                           const struct backfill_progress *p)
{
    struct bf_output *o = ctx;
    const struct backfill_view *bv = &plan->views[view];
    const struct backfill_window *w = &bv->windows[window];
    if (!o->json && w->status == BACKFILL_FAILED) {
        clear_live(o);
        printf("%s%s%s: window %zu of %zu failed: %s\n", cli_bold(), bv->view, cli_reset(), window + 1,
               bv->nwindows, w->error);
        fflush(stdout);
    }
    draw(o, p, true);
}

static void count_view(const struct backfill_view *bv, size_t counts[5], uint64_t rows[3])
{
    for (size_t k = 0; k < bv->nwindows; k++) {
        const struct backfill_window *w = &bv->windows[k];
        counts[w->status]++;
        rows[0] += w->rows_read;
        rows[1] += w->rows_written;
        rows[2] += w->rows_skipped;
    }
}

static void print_text(const struct backfill_plan *plan, double secs)
{
    char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
    size_t tot[5] = {0};
    uint64_t trows[3] = {0};
    for (size_t i = 0; i < plan->nviews; i++) {
        const struct backfill_view *bv = &plan->views[i];
        count_view(bv, tot, trows);
        size_t c[5] = {0};
        uint64_t rows[3] = {0};
        count_view(bv, c, rows);
        printf("%s%s%s: %zu windows: %zu succeeded, %zu skipped (already recorded)", cli_bold(), bv->view, cli_reset(),
               bv->nwindows, c[BACKFILL_SUCCEEDED], c[BACKFILL_SKIPPED]);
        if (c[BACKFILL_FAILED] || c[BACKFILL_NOT_RUN])
            printf(", %zu failed, %zu not run", c[BACKFILL_FAILED], c[BACKFILL_NOT_RUN]);
        printf("; %llu rows read, %llu written, %llu skipped (newer row already stored)\n",
               (unsigned long long)rows[0], (unsigned long long)rows[1], (unsigned long long)rows[2]);
        if (bv->failed_window >= 0) {
            const struct backfill_window *w = &bv->windows[bv->failed_window];
            printf("  stopped at window %ld [%s, %s]; rerun the same command to resume there\n",
                   bv->failed_window + 1, ferry_time_format_py(w->start_ns, a), ferry_time_format_py(w->end_ns, b));
        }
    }
    printf("Backfill of %zu feature views from %s to %s in %.2fs: %zu of %zu windows recorded (%zu in this run,"
           " %zu already), %llu rows read.\n",
           plan->nviews, ferry_time_format_py(plan->start_ns, a), ferry_time_format_py(plan->end_ns, b), secs,
           tot[BACKFILL_SKIPPED] + tot[BACKFILL_SUCCEEDED], plan->windows_total, tot[BACKFILL_SUCCEEDED],
           tot[BACKFILL_SKIPPED], (unsigned long long)trows[0]);
}

static void print_json(const struct backfill_plan *plan, int rc, const struct ferry_err *err, double secs)
{
    struct fbuf b;
    fbuf_init(&b, 64u << 20);
    char t1[FERRY_TIME_BUF], t2[FERRY_TIME_BUF];
    size_t tot[5] = {0};
    uint64_t trows[3] = {0};
    for (size_t i = 0; i < plan->nviews; i++)
        count_view(&plan->views[i], tot, trows);
    fbuf_addf(&b, "{\"ok\":%s,", rc ? "false" : "true");
    if (rc) {
        fbuf_addf(&b, "\"error\":{\"code\":\"%s\",\"message\":", ferry_err_name(rc));
        fbuf_add_json_str(&b, err->msg, strlen(err->msg));
        fbuf_adds(&b, "},");
    }
    fbuf_addf(&b,
              "\"mode\":\"backfill\",\"start\":\"%s\",\"end\":\"%s\",\"chunk_seconds\":%lld,\"windows_total\":%zu,"
              "\"windows_skipped\":%zu,\"windows_succeeded\":%zu,\"windows_failed\":%zu,\"windows_not_run\":%zu,"
              "\"rows_read\":%llu,\"rows_written\":%llu,\"seconds\":%.3f,\"views\":[",
              ferry_time_format_iso(plan->start_ns, t1), ferry_time_format_iso(plan->end_ns, t2),
              (long long)(plan->chunk_ns / FERRY_NS_PER_SEC), plan->windows_total, tot[BACKFILL_SKIPPED],
              tot[BACKFILL_SUCCEEDED], tot[BACKFILL_FAILED], tot[BACKFILL_NOT_RUN] + tot[BACKFILL_PENDING],
              (unsigned long long)trows[0], (unsigned long long)trows[1], secs);
    for (size_t i = 0; i < plan->nviews; i++) {
        const struct backfill_view *bv = &plan->views[i];
        size_t c[5] = {0};
        uint64_t rows[3] = {0};
        count_view(bv, c, rows);
        fbuf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
        fbuf_add_json_str(&b, bv->view, strlen(bv->view));
        const char *status = bv->failed_window >= 0 ? "failed" : c[BACKFILL_NOT_RUN] || c[BACKFILL_PENDING] ? "not_run" : "succeeded";
        fbuf_addf(&b,
                  ",\"status\":\"%s\",\"windows_total\":%zu,\"windows_skipped\":%zu,\"windows_succeeded\":%zu,"
                  "\"windows_not_run\":%zu,\"rows_read\":%llu,\"rows_written\":%llu,\"rows_skipped\":%llu,\"failed_window\":",
                  status, bv->nwindows, c[BACKFILL_SKIPPED], c[BACKFILL_SUCCEEDED], c[BACKFILL_NOT_RUN] + c[BACKFILL_PENDING],
                  (unsigned long long)rows[0], (unsigned long long)rows[1], (unsigned long long)rows[2]);
        if (bv->failed_window < 0) {
            fbuf_adds(&b, "null}");
            continue;
        }
        const struct backfill_window *w = &bv->windows[bv->failed_window];
        fbuf_addf(&b, "{\"index\":%ld,\"start\":\"%s\",\"end\":\"%s\",\"code\":\"%s\",\"error\":", bv->failed_window,
                  ferry_time_format_iso(w->start_ns, t1), ferry_time_format_iso(w->end_ns, t2), ferry_err_name(w->rc));
        fbuf_add_json_str(&b, w->error, strlen(w->error));
        fbuf_adds(&b, "}}");
    }
    fbuf_adds(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    fbuf_cleanup(&b);
}

static double mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int cli_backfill(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"views", required_argument, NULL, 'v'},
        {"chunk", required_argument, NULL, 'C'},
        {"parallel", required_argument, NULL, 'P'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char **views = xcalloc((size_t)argc + 1, sizeof *views);
    struct backfill_request req = {.chunk_ns = BACKFILL_DEFAULT_CHUNK_NS, .parallel = 1, .views = views,
                                   .cancel = &interrupted};
    bool json = false;
    int c, status = 0;
    while ((c = getopt_long(argc, argv, "v:h", opts, NULL)) != -1) {
        switch (c) {
        case 'v': views[req.nviews++] = optarg; break;
        case 'C': {
            struct ferry_err e = {0};
            if (ferry_duration_parse(optarg, &req.chunk_ns, &e) != 0) {
                status = cli_usage_error("backfill ", "--chunk: %s", e.msg);
                goto out;
            }
            if (req.chunk_ns <= 0) {
                status = cli_usage_error("backfill ", "--chunk must be longer than 0, got '%s'", optarg);
                goto out;
            }
            break;
        }
        case 'P': {
            char *end = NULL;
            long n = strtol(optarg, &end, 10);
            if (!*optarg || *end || n < 1 || n > BACKFILL_MAX_PARALLEL) {
                status = cli_usage_error("backfill ", "--parallel must be a whole number from 1 to %d, got '%s'",
                                         BACKFILL_MAX_PARALLEL, optarg);
                goto out;
            }
            req.parallel = (int)n;
            break;
        }
        case 'J': json = true; break;
        case 'h': usage(stdout); goto out;
        default: status = cli_usage_error("backfill ", "unknown option"); goto out;
        }
    }
    int npos = argc - optind;
    if (npos != 2) {
        status = cli_usage_error("backfill ", "expected START_TS and END_TS, got %d argument%s", npos,
                                 npos == 1 ? "" : "s");
        goto out;
    }
    if ((status = cli_parse_time("backfill", "START_TS", argv[optind], &req.start_ns)) != 0 ||
        (status = cli_parse_time("backfill", "END_TS", argv[optind + 1], &req.end_ns)) != 0)
        goto out;
    if (req.start_ns > req.end_ns) {
        char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
        status = cli_usage_error("backfill ", "START_TS %s is after END_TS %s", ferry_time_format_iso(req.start_ns, a),
                                 ferry_time_format_iso(req.end_ns, b));
        goto out;
    }

    struct ferry_config cfg;
    if ((status = cli_load_config(ctx, &cfg)) != 0)
        goto out;
    struct bf_output o = {.json = json, .live = !json && isatty(STDERR_FILENO)};
    req.cb = (struct backfill_callbacks){.ctx = &o, .window_done = on_window_done, .progress = on_progress};
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double t0 = mono_now();
    struct backfill_plan plan;
    struct ferry_err err = {0};
    int rc = backfill_run(&cfg, &req, &plan, &err);
    double secs = mono_now() - t0;
    clear_live(&o);
    /* A planning error (unknown view, too many windows) has no plan to summarize. */
    bool planned = plan.nviews > 0 || rc == 0;
    if (json && planned)
        print_json(&plan, rc, &err, secs);
    else if (planned)
        print_text(&plan, secs);
    if (rc)
        status = json && planned ? ferry_err_exit_status(rc) : cli_fail(&err);
    backfill_plan_cleanup(&plan);
    config_cleanup(&cfg);
out:
    free(views);
    return status;
}
