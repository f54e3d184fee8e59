/* Private to service/: the HTTP layer. http.c owns the libmicrohttpd daemon, routing, auth, body
 * limits, error bodies and the request log; routes_*.c hold the handlers. A handler gets the whole
 * request (body already read and bounded) and fills a response; it may block (a synchronous
 * materialize waits for its job) because every connection has its own thread. */
#ifndef FERRY_SERVICE_HTTP_H
#define FERRY_SERVICE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "service/jobs.h"

struct MHD_Connection;

struct scheduler;

/* What handlers share: the config, the job manager and the scheduler (all outlive the server). */
struct service_ctx {
    const struct ferry_config *cfg;
    struct job_manager *jobs;
    struct scheduler *sched;    /* NULL when not started (GET /schedules then lists none) */
};

struct http_request {
    struct service_ctx *svc;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body;          /* NUL-terminated; "" when there is none */
    size_t body_len;
    const char *param;         /* the {id} of /jobs/{id} routes, NULL otherwise */
};

#define HTTP_RESPONSE_MAX (256u << 20)   /* a get-online-features answer for many rows stays below */

struct http_response {
    int status;
    const char *content_type;  /* default application/json */
    struct fbuf body;          /* initialised by the caller with HTTP_RESPONSE_MAX */
};

/* Query-string argument, NULL if absent. */
const char *http_query(const struct http_request *rq, const char *name);
/* Request header, NULL if absent. */
const char *http_header(const struct http_request *rq, const char *name);
/* A boolean query flag: true for "true"/"1"/"yes" (case-insensitive). */
bool http_query_flag(const struct http_request *rq, const char *name);

/* Replaces the body with {"error": msg, "detail": detail_json} (detail_json NULL = null) and sets
 * the status. Returns 0 so handlers can `return http_error(...)`. */
int http_error(struct http_response *rs, int status, const char *msg, const char *detail_json);
/* The same for a ferry error: status from ferry_err_http_status, detail {"code": NAME}. */
int http_error_ferry(struct http_response *rs, const struct ferry_err *err);

/* ---- request bodies (http_body.c): each helper answers 400 itself and returns NULL/false ---- */
int http_bad_request(struct http_response *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The body as a JSON object (caller json_decref's it). */
json_t *http_body_object(const struct http_request *rq, struct http_response *rs);
/* A required timestamp string (lenient ISO 8601, naive = UTC). */
bool http_body_ts(json_t *doc, const char *name, int64_t *out, struct http_response *rs);
/* start_ts and end_ts, with start not after end. */
bool http_body_window(json_t *doc, int64_t *start_ns, int64_t *end_ns, struct http_response *rs);
/* feature_views: null/absent (n = 0) or an array of non-empty names, which point into doc. The
 * array is the caller's to free, also after a failure. */
bool http_body_views(json_t *doc, const char ***views, size_t *n, struct http_response *rs);

/* Handlers (routes_*.c). Each returns 0 after filling rs (errors included). */
int route_health(struct http_request *rq, struct http_response *rs);
int route_metrics(struct http_request *rq, struct http_response *rs);
int route_materialize(struct http_request *rq, struct http_response *rs);
int route_materialize_incremental(struct http_request *rq, struct http_response *rs);
int route_get_online_features(struct http_request *rq, struct http_response *rs);
int route_jobs_list(struct http_request *rq, struct http_response *rs);
int route_job_get(struct http_request *rq, struct http_response *rs);
int route_job_cancel(struct http_request *rq, struct http_response *rs);
int route_backfill(struct http_request *rq, struct http_response *rs);
int route_schedules(struct http_request *rq, struct http_response *rs);
int route_feature_views(struct http_request *rq, struct http_response *rs);

/* The server. host is an address or name; port 0 picks a free port, written to *bound_port. */
struct http_server;
int http_start(struct service_ctx *svc, const char *host, int port, struct http_server **out, int *bound_port,
               struct ferry_err *err);
/* Stops accepting new connections; requests in flight go on. */
void http_quiesce(struct http_server *s);
/* Closes every connection, joins the connection threads and frees the server. */
void http_stop(struct http_server *s);

/* True when host names only loopback addresses (127.0.0.0/8, ::1, localhost). */
bool http_host_is_loopback(const char *host);

#endif
