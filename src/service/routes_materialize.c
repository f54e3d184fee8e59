/* POST /materialize and POST /materialize-incremental, Feast's bodies and answers (feast-compat.md
 * §8.2): synchronous by default (200 with body `null` once the job is done), `?async=true` answers
 * 202 with the job id at once, `?force=true` queues behind a busy view instead of answering 409.
 * The handler only validates and submits; a worker thread runs the job. Where Feast answers 500 for
 * a bad request (start after end, bad timestamps) ferry answers 400: a 5xx always means a fault of
 * ferry or of a store. */
#include "service/http.h"

#include "core/time.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>


struct mat_body {
    const char **views;     /* points into the parsed document */
    size_t nviews;
    int64_t start_ns, end_ns;
};

/* Parses and checks the body; false after writing a 400 into rs. */
static bool parse_body(const struct http_request *rq, int kind, json_t **docp, struct mat_body *mb,
                       struct http_response *rs)
{
    json_t *doc = http_body_object(rq, rs);
    *docp = doc;
    if (!doc || !http_body_views(doc, &mb->views, &mb->nviews, rs))
        return false;
    json_t *det = json_object_get(doc, "disable_event_timestamp");
    if (det && !json_is_null(det) && !json_is_boolean(det)) {
        http_bad_request(rs, "disable_event_timestamp must be a boolean");
        return false;
    }
    json_t *ffn = json_object_get(doc, "full_feature_names");
    if (ffn && !json_is_null(ffn) && !json_is_boolean(ffn)) {
        http_bad_request(rs, "full_feature_names must be a boolean");
        return false;
    }
    if (kind == JOB_MATERIALIZE && json_is_true(det)) {
        /* Feast's window for views without event timestamps: the epoch up to now. */
        mb->start_ns = 0;
        mb->end_ns = ferry_now_ns();
        return true;
    }
    if (kind == JOB_MATERIALIZE)
        return http_body_window(doc, &mb->start_ns, &mb->end_ns, rs);
    return http_body_ts(doc, "end_ts", &mb->end_ns, rs);
}

/* {"status":"accepted","feature_views":[...],"job_id":"..."} — Feast's 202 body plus the job id. */
static void accepted(struct http_request *rq, const char *id, struct http_response *rs)
{
    char **views = NULL;
    size_t n = 0;
    jobs_views(rq->svc->jobs, id, &views, &n);
    rs->status = 202;
    fbuf_adds(&rs->body, "{\"status\":\"accepted\",\"feature_views\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            fbuf_addc(&rs->body, ',');
        fbuf_add_json_str(&rs->body, views[i], strlen(views[i]));
    }
    fbuf_adds(&rs->body, "],\"job_id\":");
    fbuf_add_json_str(&rs->body, id, strlen(id));
    fbuf_addc(&rs->body, '}');
    jobs_free_views(views, n);
}

static int materialize(struct http_request *rq, struct http_response *rs, int kind)
{
    json_t *doc = NULL;
    struct mat_body mb = {0};
    if (!parse_body(rq, kind, &doc, &mb, rs))
        goto out;

    const char *key = http_header(rq, "Idempotency-Key");
    if (key && (!*key || strlen(key) > 255)) {
        http_error(rs, 400, "Idempotency-Key must be 1 to 255 characters", NULL);
        goto out;
    }
    struct job_spec spec = {
        .kind = kind,
        .views = mb.views,
        .nviews = mb.nviews,
        .start_ns = mb.start_ns,
        .end_ns = mb.end_ns,
        .trigger = "http",
        .idempotency_key = key,
        .force = http_query_flag(rq, "force"),
    };
    char id[JOB_ID_LEN];
    bool existing = false;
    struct ferry_err err = {0};
    int rc = jobs_submit(rq->svc->jobs, &spec, id, &existing, &err);
    if (rc != 0) {
        if (rc == FERRY_ECANCELED)   /* the server is stopping: the request may be retried elsewhere */
            http_error(rs, 503, err.msg[0] ? err.msg : "the server is shutting down", "{\"code\":\"CANCELED\"}");
        else
            http_error_ferry(rs, &err);
        goto out;
    }
    if (http_query_flag(rq, "async")) {
        accepted(rq, id, rs);
        goto out;
    }
    /* Synchronous: this connection's thread waits; the job runs on a worker. */
    int st = jobs_wait(rq->svc->jobs, id, &err);
    char detail[FERRY_ERR_MSG_MAX];
    snprintf(detail, sizeof detail, "{\"job_id\":\"%s\",\"code\":\"%s\"}", id, ferry_err_name(err.code));
    if (st == JOB_SUCCEEDED) {
        rs->status = 200;
        fbuf_adds(&rs->body, "null");
    } else if (st == JOB_CANCELLED) {
        http_error(rs, 409, err.msg[0] ? err.msg : "the job was cancelled", detail);
    } else if (st == JOB_FAILED) {
        http_error(rs, 500, err.msg[0] ? err.msg : "the job failed", detail);
    } else {
        http_error(rs, st < 0 ? ferry_err_http_status(st) : 500, err.msg[0] ? err.msg : "cannot wait for the job",
                   detail);
    }
out:
    free(mb.views);
    json_decref(doc);
    return 0;
}

int route_materialize(struct http_request *rq, struct http_response *rs)
{
    return materialize(rq, rs, JOB_MATERIALIZE);
}

int route_materialize_incremental(struct http_request *rq, struct http_response *rs)
{
    return materialize(rq, rs, JOB_MATERIALIZE_INCREMENTAL);
}
