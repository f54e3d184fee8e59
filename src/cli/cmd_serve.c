/* `ferry serve [--host H] [--port P]`: runs the HTTP service (src/service) until SIGTERM/SIGINT.
 * Host and port default to ferry.serve in feature_store.yaml, else 127.0.0.1:6566 as Feast. */
#include "cli/cli_internal.h"

#include "service/service.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: ferry serve [--host HOST] [--port PORT]\n\n"
            "Serves Feast's feature-server API for materialization and online reads, plus jobs,\n"
            "metrics and health, until SIGTERM or SIGINT.\n\n"
            "Options:\n"
            "  -h, --host HOST  address to bind (default: ferry.serve.host, else 127.0.0.1);\n"
            "                   a non-loopback address needs ferry.serve.token_env\n"
            "  -p, --port PORT  port (default: ferry.serve.port, else 6566; 0 picks a free port)\n"
            "      --help       this help\n");
}

int cli_serve(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'H'},
        {0, 0, 0, 0},
    };
    const char *host = NULL;
    int port = -1, c;
    while ((c = getopt_long(argc, argv, "h:p:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': host = optarg; break;
        case 'p': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || v > 65535)
                return cli_usage_error("serve ", "--port expects 0-65535, got '%s'", optarg);
            port = (int)v;
            break;
        }
        case 'H': usage(stdout); return CLI_EXIT_OK;
        default: return cli_usage_error("serve ", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("serve ", "unexpected argument '%s'", argv[optind]);
    struct ferry_config cfg;
    int status = cli_load_config(ctx, &cfg);
    if (status != 0)
        return status;
    struct ferry_err err = {0};
    if (service_serve(&cfg, host, port, &err) != 0)
        status = cli_fail(&err);
    config_cleanup(&cfg);
    return status;
}
