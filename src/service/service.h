/* The service: `ferry serve`. An HTTP server (libmicrohttpd) that speaks Feast's feature-server API
 * for materialization and online reads, plus jobs, metrics and health; a fixed pool of worker
 * threads runs jobs; job history lives in a state database. The HTTP threads never materialize. */
#ifndef FERRY_SERVICE_H
#define FERRY_SERVICE_H

#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"

/* Runs until SIGTERM or SIGINT, then stops accepting work, lets running jobs reach a batch boundary
 * within cfg->ferry.serve.shutdown_grace_seconds, cancels them there, and returns 0.
 * host/port override the config when non-NULL/non-negative. Prints the bound address on stderr
 * ("ferry: listening on http://127.0.0.1:6566") once ready; port 0 picks a free port. */
int service_serve(const struct ferry_config *cfg, const char *host, int port, struct ferry_err *err);

/* `ferry jobs` and `ferry job ID` read the state database directly (no server needed). */
int service_jobs_list_json(const struct ferry_config *cfg, const char *status, const char *view, int limit,
                           int offset, struct fbuf *out, struct ferry_err *err);
int service_job_get_json(const struct ferry_config *cfg, const char *id, struct fbuf *out, struct ferry_err *err);

/* `ferry schedules --json`: the schedules of the config with next run (the next tick after now),
 * last run, job and result from the state database (no server needed). Invalid cron or time zone
 * is FERRY_ECONFIG naming the line. */
int service_schedules_json(const struct ferry_config *cfg, int64_t now, struct fbuf *out, struct ferry_err *err);
/* `ferry feature-views --json` and GET /feature-views: every view of the project with its intervals,
 * freshness (now minus the newest interval end), freshness_sla_seconds and sla_breached. */
int service_feature_views_json(const struct ferry_config *cfg, int64_t now, struct fbuf *out, struct ferry_err *err);

#endif
