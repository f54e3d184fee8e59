/* ferry's command line: global options (Feast's -c/--chdir, -f/--feature-store-yaml, --log-level),
 * then one command from the table below, each in its own file. */
#include "cli/cli.h"
#include "cli/cli_internal.h"

#include "core/log.h"
#include "core/time.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FERRY_VERSION "0.1.0"

static const struct cli_command commands[] = {
    {"apply", cli_apply, "validate features.yaml, write the registry, create online tables"},
    {"materialize", cli_materialize, "materialize views over [START, END]"},
    {"materialize-incremental", cli_materialize_incremental, "materialize views from their last end up to END"},
    {"backfill", cli_backfill, "materialize [START, END] in windows, skipping recorded ones (resumable)"},
    {"get-online-features", cli_get_online_features, "read feature values from the online store (Feast's JSON)"},
    {"feature-views", cli_feature_views, "list feature views, their intervals and freshness"},
    {"serve", cli_serve, "serve Feast's HTTP API for materialization and online reads, with jobs and metrics"},
    {"jobs", cli_jobs, "list the service's jobs from its job history (no server needed)"},
    {"job", cli_job, "show one service job with its per-view results"},
    {"schedules", cli_schedules, "list the built-in schedules with next run, last run and result (no server needed)"},
};

static void print_help(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [-c REPO_DIR] [-f FEATURE_STORE_YAML] [--log-level LEVEL] COMMAND [ARGS]...\n\n"
            "Materializes a Feast feature repository into its online store.\n\n"
            "Options:\n"
            "  -c, --chdir DIR                the feature repository (default: current directory)\n"
            "  -f, --feature-store-yaml PATH  the feature_store.yaml (default: DIR/feature_store.yaml)\n"
            "      --log-level LEVEL          debug, info, warning (default) or error\n"
            "  -h, --help                     this help; COMMAND --help for a command's\n"
            "      --version                  print the version\n\n"
            "Commands:\n",
            prog);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-25s %s\n", commands[i].name, commands[i].summary);
}

int cli_fail(const struct ferry_err *err)
{
    fprintf(stderr, "ferry: error: %s\n", err->msg[0] ? err->msg : ferry_err_name(err->code));
    return ferry_err_exit_status(err->code);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ferry: usage error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fprintf(stderr, "Try 'ferry %s--help'.\n", command ? command : "");
    return CLI_EXIT_USAGE;
}

int cli_load_config(const struct cli_ctx *ctx, struct ferry_config *cfg)
{
    struct ferry_err err = {0};
    if (config_load(ctx->repo_dir, ctx->yaml_path, cfg, &err) != 0)
        return cli_fail(&err);
    return 0;
}

int cli_parse_time(const char *command, const char *what, const char *text, int64_t *out)
{
    struct ferry_err err = {0};
    if (ferry_time_parse(text, out, &err) != 0) {
        fprintf(stderr, "ferry: usage error: %s: %s\n", what, err.msg);
        fprintf(stderr, "Try 'ferry %s --help'.\n", command);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int use_color = -1;

const char *cli_bold(void)
{
    if (use_color < 0)
        use_color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    return use_color ? "\033[1m\033[32m" : "";
}

const char *cli_reset(void)
{
    if (use_color < 0)
        cli_bold();
    return use_color ? "\033[0m" : "";
}

int cli_main(int argc, char **argv)
{
    struct cli_ctx ctx = {.prog = "ferry"};
    ctx.repo_dir = getenv("FEATURE_REPO_DIR_ENV_VAR");
    static const struct option opts[] = {
        {"chdir", required_argument, NULL, 'c'},
        {"feature-store-yaml", required_argument, NULL, 'f'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0, 0, 0, 0},
    };
    int c;
    /* '+' stops at the command name, so its options are left for the command. */
    while ((c = getopt_long(argc, argv, "+c:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': ctx.repo_dir = optarg; break;
        case 'f': ctx.yaml_path = optarg; break;
        case 'L': {
            enum ferry_log_level level;
            if (ferry_log_parse_level(optarg, &level) != 0)
                return cli_usage_error(NULL, "--log-level: unknown level '%s' (debug, info, warning, error)", optarg);
            ferry_log_set_level(level);
            break;
        }
        case 'h': print_help(stdout, ctx.prog); return CLI_EXIT_OK;
        case 'V': printf("ferry %s\n", FERRY_VERSION); return CLI_EXIT_OK;
        default: return cli_usage_error(NULL, "unknown option");
        }
    }
    if (optind >= argc) {
        print_help(stderr, ctx.prog);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* reset getopt for the command's own options */
            return commands[i].run(&ctx, sub_argc, sub_argv);
        }
    return cli_usage_error(NULL, "unknown command '%s'", name);
}
