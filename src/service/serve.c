/* service_serve: `ferry serve` from start to exit. Order matters: signals are blocked before any
 * thread exists (so only the main thread receives SIGTERM/SIGINT, via sigwait), the job workers
 * start before the HTTP server (a request may submit at once), and shutdown runs the other way:
 * stop accepting connections, stop the jobs (which also wakes synchronous requests waiting for
 * them), then close the remaining connections. */
#include "service/service.h"

#include "core/log.h"
#include "core/time.h"
#include "service/http.h"
#include "service/jobs.h"
#include "service/metrics.h"
#include "service/scheduler.h"
#include "service/svc_log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int service_serve(const struct ferry_config *cfg, const char *host, int port, struct ferry_err *err)
{
    const struct serve_config *sc = &cfg->ferry.serve;
    if (!host)
        host = sc->host ? sc->host : "127.0.0.1";
    if (port < 0)
        port = sc->port;
    /* Materialization and job control must not be open to the network without a token. */
    if (!sc->token && !http_host_is_loopback(host))
        return ferry_errf(err, FERRY_ECONFIG,
                          "refusing to serve on non-loopback address '%s' without a token: set ferry.serve.token_env "
                          "in feature_store.yaml to an environment variable holding a bearer token, or bind 127.0.0.1",
                          host);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a client that hangs up must not kill the server */

    metrics_init();
    struct service_ctx svc = {.cfg = cfg};
    int rc = jobs_start(cfg, &svc.jobs, err);
    if (rc != 0) {
        metrics_cleanup();
        return rc;
    }
    /* Schedules are validated here (cron, zones, views against the registry): a bad one stops the
     * start with its feature_store.yaml line, before anything listens. */
    rc = scheduler_start(cfg, svc.jobs, sched_real_clock(), true, &svc.sched, err);
    if (rc != 0) {
        jobs_stop(svc.jobs, 0);
        metrics_cleanup();
        return rc;
    }
    struct http_server *http = NULL;
    int bound = 0;
    rc = http_start(&svc, host, port, &http, &bound, err);
    if (rc != 0) {
        scheduler_stop(svc.sched);
        jobs_stop(svc.jobs, 0);
        metrics_cleanup();
        return rc;
    }
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "ferry: listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "", bound);
    fflush(stderr);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    char extra[96];
    snprintf(extra, sizeof extra, ",\"signal\":\"%s\",\"grace_seconds\":%d", sig == SIGINT ? "SIGINT" : "SIGTERM",
             sc->shutdown_grace_seconds);
    svc_log("info", "shutdown", extra);
    http_quiesce(http);
    /* No new scheduled jobs once stopping (and none after the job manager is gone); the running ones
     * are the job manager's to stop. Freed only when no request can read the schedule list. */
    scheduler_halt(svc.sched);
    jobs_stop(svc.jobs, sc->shutdown_grace_seconds);
    http_stop(http);
    scheduler_stop(svc.sched);
    metrics_cleanup();
    return 0;
}
