/* The HTTP server of `ferry serve`: libmicrohttpd with one thread per connection (a synchronous
 * materialize blocks only its own connection while it waits for its job), a route table, bearer
 * auth, a request body limit, JSON error bodies, one JSON log line per request and the HTTP metrics.
 * Every request body is read into a bounded buffer before its handler runs; oversized bodies are
 * refused with 413 from the Content-Length header when there is one, else once the bytes received
 * pass the limit (the rest is drained, never stored). Idle connections time out and the number of
 * connections is capped, so no client can pin the server. */
#include "service/http.h"
#include "service/svc_log.h"

#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "service/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTP_IDLE_TIMEOUT_SEC 30      /* Feast's keep-alive; also bounds slow uploads */

struct http_server {
    struct service_ctx *svc;
    struct MHD_Daemon *daemon;
    int listen_fd;                   /* ours until handed to MHD; -1 once MHD gave it back and we closed it */
    bool quiesced;
};

/* Per-request state, created on the first callback of a request and freed when it completes. */
struct req_state {
    struct fbuf body;
    bool too_large;
    bool answered;
    struct timespec t0;
};

struct route {
    const char *method;
    const char *pattern;             /* "{id}" matches one non-empty path segment */
    int (*fn)(struct http_request *, struct http_response *);
    bool open;                       /* reachable without the bearer token */
};

static const struct route routes[] = {
    {"GET", "/health", route_health, true},
    {"GET", "/metrics", route_metrics, true},
    {"POST", "/materialize", route_materialize, false},
    {"POST", "/materialize-incremental", route_materialize_incremental, false},
    {"POST", "/get-online-features", route_get_online_features, false},
    {"POST", "/backfill", route_backfill, false},
    {"GET", "/jobs", route_jobs_list, false},
    {"GET", "/jobs/{id}", route_job_get, false},
    {"POST", "/jobs/{id}/cancel", route_job_cancel, false},
    {"GET", "/schedules", route_schedules, false},
    {"GET", "/feature-views", route_feature_views, false},
};

/* ---- small helpers for handlers ---- */

const char *http_query(const struct http_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

bool http_query_flag(const struct http_request *rq, const char *name)
{
    const char *v = http_query(rq, name);
    return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0);
}

int http_error(struct http_response *rs, int status, const char *msg, const char *detail_json)
{
    fbuf_reset(&rs->body);
    rs->status = status;
    rs->content_type = "application/json";
    /* The message is short and bounded (FERRY_ERR_MSG_MAX), so this cannot hit the buffer limit. */
    fbuf_adds(&rs->body, "{\"error\":");
    fbuf_add_json_str(&rs->body, msg, strlen(msg));
    fbuf_adds(&rs->body, ",\"detail\":");
    fbuf_adds(&rs->body, detail_json ? detail_json : "null");
    fbuf_addc(&rs->body, '}');
    return 0;
}

int http_error_ferry(struct http_response *rs, const struct ferry_err *err)
{
    char detail[64];
    snprintf(detail, sizeof detail, "{\"code\":\"%s\"}", ferry_err_name(err->code));
    return http_error(rs, ferry_err_http_status(err->code), err->msg[0] ? err->msg : ferry_err_name(err->code),
                      detail);
}

/* ---- routing ---- */

/* Matches path against pattern; writes the {id} segment (a pointer into path, length) if any. */
static bool route_match(const char *pattern, const char *path, const char **param, size_t *param_len)
{
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t n = strcspn(s, "/");
            if (n == 0)
                return false;
            *param = s;
            *param_len = n;
            p += 4;
            s += n;
        } else if (*p++ != *s++) {
            return false;
        }
    }
    return *p == 0 && *s == 0;
}

/* ---- the request log and the answer ---- */

static double elapsed_sec(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void log_request(const char *method, const char *path, int status, double seconds)
{
    struct fbuf extra;
    fbuf_init(&extra, 8192);
    fbuf_adds(&extra, ",\"method\":");
    fbuf_add_json_str(&extra, method, strlen(method));
    fbuf_adds(&extra, ",\"path\":");
    /* A path longer than the line buffer is cut, not dropped: the log line must still be written. */
    fbuf_add_json_str(&extra, path, strnlen(path, 2048));
    fbuf_addf(&extra, ",\"status\":%d,\"ms\":%.3f", status, seconds * 1e3);
    svc_log(status >= 500 ? "error" : "info", "request", extra.data);
    fbuf_cleanup(&extra);
}

static enum MHD_Result answer(struct MHD_Connection *conn, struct req_state *st, const char *method,
                              const char *path, const char *route, struct http_response *rs,
                              const char *hdr_name, const char *hdr_value)
{
    size_t len = rs->body.len;
    char *data = len ? fbuf_take(&rs->body, &len) : NULL;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, data ? data : (void *)"", data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    if (len)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                rs->content_type ? rs->content_type : "application/json");
    if (hdr_name)
        MHD_add_response_header(resp, hdr_name, hdr_value);
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)rs->status, resp);
    MHD_destroy_response(resp);
    st->answered = true;
    double secs = elapsed_sec(&st->t0);
    log_request(method, path, rs->status, secs);
    metrics_http(method, route, rs->status, secs);
    return r;
}

static enum MHD_Result answer_error(struct MHD_Connection *conn, struct req_state *st, const char *method,
                                    const char *path, const char *route, int status, const char *msg,
                                    const char *hdr_name, const char *hdr_value)
{
    struct http_response rs = {0};
    fbuf_init(&rs.body, HTTP_RESPONSE_MAX);
    http_error(&rs, status, msg, NULL);
    enum MHD_Result r = answer(conn, st, method, path, route, &rs, hdr_name, hdr_value);
    fbuf_cleanup(&rs.body);
    return r;
}

/* Constant-time comparison, so response timing does not reveal how much of a token matched. */
static bool token_ok(const char *header, const char *token)
{
    if (!header || strncmp(header, "Bearer ", 7) != 0)
        return false;
    const char *given = header + 7;
    size_t n = strlen(given), m = strlen(token);
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < m; i++)
        diff |= (unsigned)(unsigned char)token[i] ^ (unsigned)(unsigned char)(i < n ? given[i] : 0);
    return diff == 0;
}

/* ---- the libmicrohttpd callbacks ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct http_server *s = cls;
    const struct serve_config *sc = &s->svc->cfg->ferry.serve;
    struct req_state *st = *req_cls;

    if (st && st->answered) {       /* answered early (401, 413): drop whatever body follows */
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* Find the route first: the metrics label, the auth rule and 404/405 depend on it. */
    const struct route *hit = NULL, *first = NULL;
    const char *param = NULL;
    size_t param_len = 0;
    char allow[64] = "";
    for (size_t i = 0; i < FERRY_ARRAY_LEN(routes); i++) {
        const char *pp = NULL;
        size_t pl = 0;
        if (!route_match(routes[i].pattern, url, &pp, &pl))
            continue;
        if (!first)
            first = &routes[i];
        size_t used = strlen(allow);
        snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, method) == 0) {
            hit = &routes[i];
            param = pp;
            param_len = pl;
        }
    }
    /* Unknown paths share one label, so clients cannot grow the metric series without bound. */
    const char *label = hit ? hit->pattern : first ? first->pattern : "unmatched";

    if (!st) {
        /* First call: only the headers are in. Refuse early what needs no body to refuse. */
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->t0);
        fbuf_init(&st->body, sc->max_body_bytes);
        *req_cls = st;
        if (sc->token && !(first && first->open) &&
            !token_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), sc->token))
            return answer_error(conn, st, method, url, label, 401, "missing or invalid bearer token", "WWW-Authenticate",
                                "Bearer realm=\"ferry\"");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || n > sc->max_body_bytes) {
                char msg[128];
                snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", sc->max_body_bytes);
                return answer_error(conn, st, method, url, label, 413, msg, NULL, NULL);
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        /* A body without Content-Length (chunked) is counted as it arrives; once too large, the
         * rest is drained without being stored and the answer is 413 at its end. */
        if (!st->too_large && fbuf_add(&st->body, upload_data, *upload_data_size) != 0)
            st->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (st->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", sc->max_body_bytes);
        return answer_error(conn, st, method, url, label, 413, msg, NULL, NULL);
    }
    if (!first)
        return answer_error(conn, st, method, url, label, 404, "no such route", NULL, NULL);
    if (!hit) {
        char msg[128];
        snprintf(msg, sizeof msg, "method %.16s not allowed here (allowed: %s)", method, allow);
        return answer_error(conn, st, method, url, label, 405, msg, MHD_HTTP_HEADER_ALLOW, allow);
    }

    char idbuf[128];
    if (param) {
        if (param_len >= sizeof idbuf)
            return answer_error(conn, st, method, url, label, 404, "no such job", NULL, NULL);
        memcpy(idbuf, param, param_len);
        idbuf[param_len] = 0;
    }
    struct http_request rq = {
        .svc = s->svc,
        .conn = conn,
        .method = method,
        .path = url,
        .body = st->body.data ? st->body.data : "",
        .body_len = st->body.len,
        .param = param ? idbuf : NULL,
    };
    struct http_response rs = {.status = 200, .content_type = "application/json"};
    fbuf_init(&rs.body, HTTP_RESPONSE_MAX);
    hit->fn(&rq, &rs);
    /* A handler may have blocked for long (a synchronous materialize): restart the idle clock so the
     * answer is not dropped as if the client had been idle. */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_SEC);
    enum MHD_Result r = answer(conn, st, method, url, label, &rs, NULL, NULL);
    fbuf_cleanup(&rs.body);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    struct req_state *st = *req_cls;
    if (!st)
        return;
    fbuf_cleanup(&st->body);
    free(st);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    char ts[FERRY_TIME_BUF];
    struct fbuf line;
    fbuf_init(&line, 2048);
    fbuf_addf(&line, "{\"ts\":\"%s\",\"level\":\"warning\",\"msg\":\"http\",\"detail\":", ferry_time_format_iso(ferry_now_ns(), ts));
    fbuf_add_json_str(&line, msg, n);
    fbuf_adds(&line, "}\n");
    if (line.data)
        fputs(line.data, stderr);
    fbuf_cleanup(&line);
}

/* ---- start and stop ---- */

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return a->s6_addr[12] == 127;
    }
    return false;
}

bool http_host_is_loopback(const char *host)
{
    if (!host || !*host)
        return false;   /* empty means every interface */
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return false;
    bool all = res != NULL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (!addr_is_loopback(ai->ai_addr))
            all = false;
    freeaddrinfo(res);
    return all;
}

int http_start(struct service_ctx *svc, const char *host, int port, struct http_server **out, int *bound_port,
               struct ferry_err *err)
{
    if (port < 0 || port > 65535)
        return ferry_errf(err, FERRY_EINVAL, "port %d is out of range (0-65535)", port);
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    int gai = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
    if (gai != 0)
        return ferry_errf(err, FERRY_ECONFIG, "cannot resolve host '%s': %s", host ? host : "", gai_strerror(gai));
    /* We bind the socket ourselves: it makes port 0 and the bound address easy to report. */
    int fd = -1, family = AF_INET, last_errno = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
            continue;
        }
        family = ai->ai_family;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return ferry_errf(err, FERRY_EIO, "cannot listen on %s:%d: %s", host ? host : "", port, strerror(last_errno));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    else
        *bound_port = port;

    struct http_server *s = xcalloc(1, sizeof *s);
    s->svc = svc;
    s->listen_fd = fd;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger goes first: MHD reports through the default logger until it sees this option. */
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)svc->cfg->ferry.serve.max_connections, /* = threads */
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_SEC,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        free(s);
        return ferry_errf(err, FERRY_EIO, "cannot start the HTTP server on %s:%d", host ? host : "", *bound_port);
    }
    *out = s;
    return 0;
}

void http_quiesce(struct http_server *s)
{
    if (!s || s->quiesced)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);   /* MHD gave the listening socket back: closing it refuses new connections */
    s->quiesced = true;
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
