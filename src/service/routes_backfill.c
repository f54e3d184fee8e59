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


/* Parses and checks the body into req (views point into doc); false after writing a 4xx. */
static bool parse_body(const struct http_request *rq, json_t **docp, struct backfill_request *req,
                       struct http_response *rs)
{
    json_t *doc = http_body_object(rq, rs);
    *docp = doc;
    const char **views = NULL;
    bool ok = doc && http_body_views(doc, &views, &req->nviews, rs);
    req->views = views;   /* freed by the caller, also after a failure */
    if (!ok)
        return false;
    json_t *chunk = json_object_get(doc, "chunk");
    req->chunk_ns = BACKFILL_DEFAULT_CHUNK_NS;
    if (chunk && !json_is_null(chunk)) {
        if (!json_is_string(chunk)) {
            http_bad_request(rs, "chunk must be a duration string such as \"1d\", \"6h\" or \"30m\"");
            return false;
        }
        struct ferry_err err = {0};
        if (ferry_duration_parse(json_string_value(chunk), &req->chunk_ns, &err) != 0) {
            http_bad_request(rs, "chunk: %s", err.msg);
            return false;
        }
        if (req->chunk_ns <= 0) {
            http_bad_request(rs, "chunk must be longer than 0, got \"%s\"", json_string_value(chunk));
            return false;
        }
    }
    return http_body_window(doc, &req->start_ns, &req->end_ns, rs);
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
