/* POST /backfill {"start_ts","end_ts","chunk":"1d","feature_views":null|[...]}: plans the windows
 * (engine/backfill.c), skips those already recorded in the registry and queues one materialize job
 * per remaining window and view, trigger "backfill:<backfill id>". Jobs are submitted with force so
 * that a view's windows queue behind each other (the job manager runs one job per view at a time,
 * in submission order) instead of the second answering 409; different views run on different
 * workers. Answers 202 {"backfill_id","windows_total","windows_skipped","job_ids":[...]} at once;
 * progress is GET /jobs?view=... or each job. Rerunning the same request resumes: windows whose
 * jobs succeeded are recorded and skipped. */
#include "service/http.h"

#include "core/time.h"
#include "engine/engine.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#define MAX_VIEWS 4096

static int bad_request(struct http_response *rs, const char *fmt, const char *arg)
{
    char msg[FERRY_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, fmt, arg);
    return http_error(rs, 400, msg, NULL);
}

/* A required timestamp string (lenient ISO 8601, naive = UTC); false after writing a 400. */
static bool parse_ts(json_t *doc, const char *name, int64_t *out, struct http_response *rs)
{
    json_t *v = json_object_get(doc, name);
    if (!v || json_is_null(v)) {
        bad_request(rs, "%s is required", name);
        return false;
    }
    if (!json_is_string(v)) {
        bad_request(rs, "%s must be a string (ISO 8601 timestamp)", name);
        return false;
    }
    struct ferry_err err = {0};
    if (ferry_time_parse(json_string_value(v), out, &err) != 0) {
        char msg[FERRY_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s: %s", name, err.msg);
        http_error(rs, 400, msg, NULL);
        return false;
    }
    return true;
}

/* Parses and checks the body into req (views point into doc); false after writing a 4xx. */
static bool parse_body(const struct http_request *rq, json_t **docp, struct backfill_request *req,
                       struct http_response *rs)
{
    json_error_t jerr;
    json_t *doc = json_loadb(rq->body, rq->body_len, 0, &jerr);
    *docp = doc;
    if (!doc) {
        struct fbuf d;
        fbuf_init(&d, FERRY_ERR_MSG_MAX + 64);
        fbuf_addf(&d, "{\"line\":%d,\"column\":%d,\"reason\":", jerr.line, jerr.column);
        fbuf_add_json_str(&d, jerr.text, strlen(jerr.text));
        fbuf_addc(&d, '}');
        http_error(rs, 400, "request body is not valid JSON", d.data);
        fbuf_cleanup(&d);
        return false;
    }
    if (!json_is_object(doc)) {
        bad_request(rs, "request body must be a JSON object%s", "");
        return false;
    }
    json_t *fv = json_object_get(doc, "feature_views");
    if (fv && !json_is_null(fv)) {
        if (!json_is_array(fv)) {
            bad_request(rs, "feature_views must be null or an array of view names%s", "");
            return false;
        }
        if (json_array_size(fv) > MAX_VIEWS) {
            bad_request(rs, "feature_views names too many views%s", "");
            return false;
        }
        const char **views = calloc(json_array_size(fv) + 1, sizeof *views);
        if (!views) {
            http_error(rs, 500, "out of memory", NULL);
            return false;
        }
        req->views = views;
        size_t i;
        json_t *el;
        json_array_foreach(fv, i, el) {
            if (!json_is_string(el) || !json_string_value(el)[0]) {
                bad_request(rs, "feature_views must contain only non-empty strings%s", "");
                return false;
            }
            views[req->nviews++] = json_string_value(el);
        }
    }
    json_t *chunk = json_object_get(doc, "chunk");
    req->chunk_ns = BACKFILL_DEFAULT_CHUNK_NS;
    if (chunk && !json_is_null(chunk)) {
        if (!json_is_string(chunk)) {
            bad_request(rs, "chunk must be a duration string such as \"1d\", \"6h\" or \"30m\"%s", "");
            return false;
        }
        struct ferry_err err = {0};
        if (ferry_duration_parse(json_string_value(chunk), &req->chunk_ns, &err) != 0) {
            char msg[FERRY_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "chunk: %s", err.msg);
            http_error(rs, 400, msg, NULL);
            return false;
        }
        if (req->chunk_ns <= 0) {
            bad_request(rs, "chunk must be longer than 0, got \"%s\"", json_string_value(chunk));
            return false;
        }
    }
    if (!parse_ts(doc, "start_ts", &req->start_ns, rs) || !parse_ts(doc, "end_ts", &req->end_ns, rs))
        return false;
    if (req->start_ns > req->end_ns) {
        char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF], msg[160];
        snprintf(msg, sizeof msg, "start_ts %s is after end_ts %s", ferry_time_format_iso(req->start_ns, a),
                 ferry_time_format_iso(req->end_ns, b));
        http_error(rs, 400, msg, NULL);
        return false;
    }
    return true;
}

static void add_ids(struct fbuf *b, char (*ids)[JOB_ID_LEN], size_t n)
{
    fbuf_adds(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            fbuf_addc(b, ',');
        fbuf_add_json_str(b, ids[i], strlen(ids[i]));
    }
    fbuf_adds(b, "]");
}

int route_backfill(struct http_request *rq, struct http_response *rs)
{
    json_t *doc = NULL;
    struct backfill_request req = {0};
    struct backfill_plan plan = {0};
    char (*ids)[JOB_ID_LEN] = NULL;
    if (!parse_body(rq, &doc, &req, rs))
        goto out;

    /* Plans against the registry: unknown views are 404, too many windows 400, before any job. */
    struct ferry_err err = {0};
    if (backfill_plan(rq->svc->cfg, &req, &plan, &err) != 0) {
        http_error_ferry(rs, &err);
        goto out;
    }
    uuid_t u;
    char bid[JOB_ID_LEN], trigger[16 + JOB_ID_LEN];
    uuid_generate_random(u);
    uuid_unparse_lower(u, bid);
    snprintf(trigger, sizeof trigger, "backfill:%s", bid);

    size_t todo = plan.windows_total - plan.windows_skipped, nids = 0;
    ids = calloc(todo + 1, sizeof *ids);
    if (!ids) {
        http_error(rs, 500, "out of memory", NULL);
        goto out;
    }
    for (size_t i = 0; i < plan.nviews; i++) {
        const struct backfill_view *bv = &plan.views[i];
        const char *names[1] = {bv->view};
        for (size_t k = 0; k < bv->nwindows; k++) {
            const struct backfill_window *w = &bv->windows[k];
            if (w->status == BACKFILL_SKIPPED)
                continue;
            struct job_spec spec = {.kind = JOB_MATERIALIZE, .views = names, .nviews = 1, .start_ns = w->start_ns,
                                    .end_ns = w->end_ns, .trigger = trigger, .force = true};
            int rc = jobs_submit(rq->svc->jobs, &spec, ids[nids], NULL, &err);
            if (rc) {
                /* The jobs queued so far stay queued (they are valid windows); the answer lists them
                 * so the caller can cancel them or simply retry, which skips what they record. */
                struct fbuf d;
                fbuf_init(&d, 64u << 20);
                fbuf_addf(&d, "{\"code\":\"%s\",\"backfill_id\":\"%s\",\"job_ids\":", ferry_err_name(rc), bid);
                add_ids(&d, ids, nids);
                fbuf_addc(&d, '}');
                ferry_err_prefix(&err, "feature view '%s', window %zu of %zu: ", bv->view, k + 1, bv->nwindows);
                http_error(rs, rc == FERRY_ECANCELED ? 503 : ferry_err_http_status(rc), err.msg, d.data);
                fbuf_cleanup(&d);
                goto out;
            }
            nids++;
        }
    }
    rs->status = 202;
    fbuf_adds(&rs->body, "{\"backfill_id\":");
    fbuf_add_json_str(&rs->body, bid, strlen(bid));
    fbuf_addf(&rs->body, ",\"windows_total\":%zu,\"windows_skipped\":%zu,\"job_ids\":", plan.windows_total,
              plan.windows_skipped);
    add_ids(&rs->body, ids, nids);
    fbuf_addc(&rs->body, '}');
out:
    free(ids);
    backfill_plan_cleanup(&plan);
    free((void *)req.views);
    json_decref(doc);
    return 0;
}
