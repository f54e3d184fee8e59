/* What a materialization prints: Feast's header and per-view lines (feast-compat.md §9.3, colored
 * only on a terminal), a live progress line on stderr when it is a terminal, and one summary line
 * per view; or, with --json, a single JSON document at the end. */
#include "cli/cli_internal.h"

#include "core/buf.h"
#include "core/time.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_progress_init(struct cli_progress *p, bool json)
{
    memset(p, 0, sizeof *p);
    p->json = json;
    p->live = !json && isatty(STDERR_FILENO);
}

static void on_plan(void *ctx, const struct engine_plan *plan)
{
    struct cli_progress *p = ctx;
    if (p->json)
        return;
    char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
    const char *B = cli_bold(), *R = cli_reset();
    if (plan->mode == ENGINE_MATERIALIZE)
        printf("Materializing %s%zu%s feature views from %s%s%s to %s%s%s into the %s%s%s online store.\n\n", B,
               plan->nruns, R, B, ferry_time_format_py(plan->start_ns, a), R, B,
               ferry_time_format_py(plan->end_ns, b), R, B, plan->online_type, R);
    else
        printf("Materializing %s%zu%s feature views to %s%s%s into the %s%s%s online store.\n\n", B, plan->nruns, R,
               B, ferry_time_format_py(plan->end_ns, b), R, B, plan->online_type, R);
    fflush(stdout);
}

static void on_view_start(void *ctx, const struct engine_view_run *run)
{
    struct cli_progress *p = ctx;
    if (p->json)
        return;
    const char *B = cli_bold(), *R = cli_reset();
    char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
    if (run->ttl_zero_default)
        printf("Since the ttl is 0 for feature view %s%s%s, the start date will be set to 1 year before the current time.\n",
               B, run->view, R);
    /* Feast's per-view lines: the name alone for materialize, the window for incremental. */
    if (run->incremental)
        printf("%s%s%s from %s%s%s to %s%s%s:\n", B, run->view, R, B, ferry_time_format_py(run->start_ns, a), R, B,
               ferry_time_format_py(run->end_ns, b), R);
    else
        printf("%s%s%s:\n", B, run->view, R);
    fflush(stdout);
    p->last_draw = 0;
}

static void on_progress(void *ctx, const struct engine_view_run *run, uint64_t rows, double secs)
{
    struct cli_progress *p = ctx;
    if (!p->live || secs - p->last_draw < 0.1)
        return;
    p->last_draw = secs;
    fprintf(stderr, "\r\033[K  %s: %llu rows, %.0f rows/s, %.1fs", run->view, (unsigned long long)rows,
            secs > 0 ? (double)rows / secs : 0.0, secs);
    fflush(stderr);
}

static void on_view_done(void *ctx, const struct engine_view_run *run)
{
    struct cli_progress *p = ctx;
    if (p->json)
        return;
    if (p->live)
        fprintf(stderr, "\r\033[K");
    if (run->up_to_date)
        printf("  up to date: nothing to materialize in this window\n");
    else if (run->rc)
        printf("  failed after %.2fs: %s\n", run->seconds, run->error);
    else
        printf("  %llu rows read, %llu written, %llu skipped (newer row already stored), %.2fs, %.0f rows/s\n",
               (unsigned long long)run->rows_read, (unsigned long long)run->rows_written,
               (unsigned long long)run->rows_skipped, run->seconds,
               run->seconds > 0 ? (double)run->rows_read / run->seconds : 0.0);
    fflush(stdout);
}

struct engine_callbacks cli_progress_callbacks(struct cli_progress *p)
{
    return (struct engine_callbacks){.ctx = p, .plan = on_plan, .view_start = on_view_start,
                                     .progress = on_progress, .view_done = on_view_done};
}

void cli_print_plan_json(const struct engine_plan *plan, int rc, const struct ferry_err *err)
{
    struct fbuf b;
    fbuf_init(&b, 64u << 20);
    char t1[FERRY_TIME_BUF], t2[FERRY_TIME_BUF];
    fbuf_addf(&b, "{\"ok\":%s,", rc ? "false" : "true");
    if (rc) {
        fbuf_addf(&b, "\"error\":{\"code\":\"%s\",\"message\":", ferry_err_name(rc));
        fbuf_add_json_str(&b, err->msg, strlen(err->msg));
        fbuf_adds(&b, "},");
    }
    fbuf_addf(&b, "\"mode\":\"%s\",\"online_store\":", plan->mode == ENGINE_INCREMENTAL ? "incremental" : "materialize");
    fbuf_add_json_str(&b, plan->online_type ? plan->online_type : "", plan->online_type ? strlen(plan->online_type) : 0);
    fbuf_adds(&b, ",\"views\":[");
    for (size_t i = 0; i < plan->nruns; i++) {
        const struct engine_view_run *r = &plan->runs[i];
        fbuf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
        fbuf_add_json_str(&b, r->view, strlen(r->view));
        const char *status = r->up_to_date ? "up_to_date" : r->rc ? "failed" : rc == 0 || r->batches || r->seconds > 0 ? "succeeded" : "not_run";
        fbuf_addf(&b,
                  ",\"start\":\"%s\",\"end\":\"%s\",\"status\":\"%s\",\"rows_read\":%llu,\"rows_written\":%llu,"
                  "\"rows_skipped\":%llu,\"seconds\":%.3f",
                  ferry_time_format_iso(r->start_ns, t1), ferry_time_format_iso(r->end_ns, t2), status,
                  (unsigned long long)r->rows_read, (unsigned long long)r->rows_written,
                  (unsigned long long)r->rows_skipped, r->seconds);
        if (r->rc) {
            fbuf_adds(&b, ",\"error\":");
            fbuf_add_json_str(&b, r->error, strlen(r->error));
        }
        fbuf_addc(&b, '}');
    }
    fbuf_adds(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    fbuf_cleanup(&b);
}
