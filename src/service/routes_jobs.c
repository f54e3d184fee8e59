/* GET /jobs, GET /jobs/{id}, POST /jobs/{id}/cancel: job history and control over HTTP. The JSON of
 * a job comes from the jobs layer (jobs_get_json), so these handlers only validate and map errors. */
#include "service/http.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define JOBS_LIMIT_DEFAULT 50
#define JOBS_LIMIT_MAX 1000

/* A non-negative integer query argument within [lo, hi]; false when present and invalid. */
static bool query_int(const struct http_request *rq, const char *name, int lo, int hi, int *out)
{
    const char *v = http_query(rq, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return false;
    *out = (int)n;
    return true;
}

int route_jobs_list(struct http_request *rq, struct http_response *rs)
{
    const char *status = http_query(rq, "status");
    const char *view = http_query(rq, "view");
    if (status && job_status_parse(status) < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "status '%.64s' is not one of queued, running, succeeded, failed, cancelled", status);
        return http_error(rs, 400, msg, NULL);
    }
    int limit = JOBS_LIMIT_DEFAULT, offset = 0;
    if (!query_int(rq, "limit", 1, JOBS_LIMIT_MAX, &limit))
        return http_error(rs, 400, "limit must be an integer from 1 to 1000", NULL);
    if (!query_int(rq, "offset", 0, 1 << 30, &offset))
        return http_error(rs, 400, "offset must be a non-negative integer", NULL);
    struct ferry_err err = {0};
    if (jobs_list_json(rq->svc->jobs, status, view && *view ? view : NULL, limit, offset, &rs->body, &err) != 0)
        return http_error_ferry(rs, &err);
    rs->status = 200;
    return 0;
}

int route_job_get(struct http_request *rq, struct http_response *rs)
{
    struct ferry_err err = {0};
    if (jobs_get_json(rq->svc->jobs, rq->param, &rs->body, &err) != 0)
        return http_error_ferry(rs, &err);
    rs->status = 200;
    return 0;
}

/* 200 when the job is cancelled by the time we answer (it was queued), 202 when cancellation was
 * requested and the running job stops at its next batch boundary. */
int route_job_cancel(struct http_request *rq, struct http_response *rs)
{
    struct ferry_err err = {0};
    if (jobs_cancel(rq->svc->jobs, rq->param, &err) != 0)
        return http_error_ferry(rs, &err);
    if (jobs_get_json(rq->svc->jobs, rq->param, &rs->body, &err) != 0)
        return http_error_ferry(rs, &err);
    json_t *doc = json_loadb(rs->body.data, rs->body.len, 0, NULL);
    const char *st = doc ? json_string_value(json_object_get(doc, "status")) : NULL;
    rs->status = st && strcmp(st, "cancelled") == 0 ? 200 : 202;
    json_decref(doc);
    return 0;
}
