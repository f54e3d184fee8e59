/* Private to cli/: the command table, shared option handling and output helpers. */
#ifndef FERRY_CLI_INTERNAL_H
#define FERRY_CLI_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "core/err.h"
#include "engine/engine.h"

/* Global options, parsed before the command name. */
struct cli_ctx {
    const char *repo_dir;     /* -c/--chdir, or env FEATURE_REPO_DIR_ENV_VAR */
    const char *yaml_path;    /* -f/--feature-store-yaml, or env FEAST_FS_YAML_FILE_PATH */
    const char *prog;
};

struct cli_command {
    const char *name;
    int (*run)(struct cli_ctx *ctx, int argc, char **argv);
    const char *summary;
};

/* Exit statuses (README: "Exit status"). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };

int cli_apply(struct cli_ctx *ctx, int argc, char **argv);
int cli_materialize(struct cli_ctx *ctx, int argc, char **argv);
int cli_materialize_incremental(struct cli_ctx *ctx, int argc, char **argv);
int cli_get_online_features(struct cli_ctx *ctx, int argc, char **argv);
int cli_feature_views(struct cli_ctx *ctx, int argc, char **argv);
int cli_serve(struct cli_ctx *ctx, int argc, char **argv);
int cli_jobs(struct cli_ctx *ctx, int argc, char **argv);
int cli_job(struct cli_ctx *ctx, int argc, char **argv);
int cli_backfill(struct cli_ctx *ctx, int argc, char **argv);
int cli_schedules(struct cli_ctx *ctx, int argc, char **argv);

/* Prints "ferry: error: <msg>" and returns the exit status for the error's code. */
int cli_fail(const struct ferry_err *err);
/* Prints a usage error with the command's help hint; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_load_config(const struct cli_ctx *ctx, struct ferry_config *cfg);
/* Parses a user timestamp (lenient ISO 8601; naive = UTC) or prints a usage error naming `what`. */
int cli_parse_time(const char *command, const char *what, const char *text, int64_t *out);

/* Terminal styling: bold green as Feast prints names, only when stdout is a terminal. */
const char *cli_bold(void);
const char *cli_reset(void);

/* Progress and summary output for materializations (progress.c). */
struct cli_progress {
    bool json;                /* print one JSON document at the end instead of text */
    bool live;                /* a live progress line on stderr (stderr is a terminal) */
    double last_draw;
};
void cli_progress_init(struct cli_progress *p, bool json);
struct engine_callbacks cli_progress_callbacks(struct cli_progress *p);
void cli_print_plan_json(const struct engine_plan *plan, int rc, const struct ferry_err *err);

#endif
