/* GET /schedules and GET /feature-views, and the feature-view listing they share with `ferry
 * feature-views --json` (service_feature_views_json), so the CLI and the API print the same
 * document: intervals, freshness and the freshness SLA of each view. */
#include "service/http.h"

#include "core/time.h"
#include "registry/registry.h"
#include "service/scheduler.h"
#include "service/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int route_schedules(struct http_request *rq, struct http_response *rs)
{
    struct ferry_err err = {0};
    if (!rq->svc->sched) {
        fbuf_adds(&rs->body, "[]");
    } else if (scheduler_list_json(rq->svc->sched, &rs->body, &err) != 0) {
        return http_error_ferry(rs, &err);
    }
    rs->status = 200;
    return 0;
}

int route_feature_views(struct http_request *rq, struct http_response *rs)
{
    struct ferry_err err = {0};
    if (service_feature_views_json(rq->svc->cfg, ferry_now_ns(), &rs->body, &err) != 0)
        return http_error_ferry(rs, &err);
    rs->status = 200;
    return 0;
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case FEAST_VIEW_STREAM: return "stream";
    case FEAST_VIEW_ON_DEMAND: return "on_demand";
    default: return "batch";
    }
}

static const char *state_name(int state)
{
    static const char *const names[] = {"unspecified", "created", "generated", "materializing", "available_online"};
    return state >= 0 && state <= 4 ? names[state] : "unknown";
}

static void render_views(const struct ferry_config *cfg, const struct feast_view *views, size_t n, int64_t now,
                         struct fbuf *b)
{
    char t1[FERRY_TIME_BUF], t2[FERRY_TIME_BUF];
    fbuf_adds(b, "[");
    for (size_t i = 0; i < n; i++) {
        const struct feast_view *v = &views[i];
        fbuf_adds(b, i ? ",{\"name\":" : "{\"name\":");
        fbuf_add_json_str(b, v->name, strlen(v->name));
        fbuf_addf(b, ",\"kind\":\"%s\",\"entities\":[", kind_name(v->kind));
        for (size_t k = 0; k < v->nentities; k++) {
            if (k)
                fbuf_addc(b, ',');
            fbuf_add_json_str(b, v->entities[k], strlen(v->entities[k]));
        }
        fbuf_adds(b, "],\"entity_columns\":[");
        for (size_t k = 0; k < v->nentity_columns; k++) {
            fbuf_adds(b, k ? ",{\"name\":" : "{\"name\":");
            fbuf_add_json_str(b, v->entity_columns[k].name, strlen(v->entity_columns[k].name));
            fbuf_addf(b, ",\"dtype\":\"%s\"}", feast_dtype_name(v->entity_columns[k].vtype));
        }
        fbuf_adds(b, "],\"features\":[");
        for (size_t k = 0; k < v->nfeatures; k++) {
            fbuf_adds(b, k ? ",{\"name\":" : "{\"name\":");
            fbuf_add_json_str(b, v->features[k].name, strlen(v->features[k].name));
            fbuf_addf(b, ",\"dtype\":\"%s\"}", feast_dtype_name(v->features[k].vtype));
        }
        fbuf_addf(b, "],\"ttl_seconds\":%lld,\"online\":%s,\"disabled\":%s,\"state\":\"%s\",\"source\":",
                  (long long)(v->ttl_ns / FERRY_NS_PER_SEC), v->online ? "true" : "false",
                  v->disabled ? "true" : "false", state_name(v->state));
        const char *src = feast_source_target(&v->source);
        fbuf_add_json_str(b, src, strlen(src));
        fbuf_adds(b, ",\"intervals\":[");
        for (size_t k = 0; k < v->nintervals; k++)
            fbuf_addf(b, "%s{\"start\":\"%s\",\"end\":\"%s\"}", k ? "," : "",
                      ferry_time_format_iso(v->intervals[k].start_ns, t1),
                      ferry_time_format_iso(v->intervals[k].end_ns, t2));
        int64_t last = feast_view_max_end(v);
        if (last == FERRY_TIME_NONE)
            fbuf_adds(b, "],\"last_end\":null,\"freshness_seconds\":null");
        else
            fbuf_addf(b, "],\"last_end\":\"%s\",\"freshness_seconds\":%.3f", ferry_time_format_iso(last, t1),
                      (double)(now - last) / 1e9);
        /* The scheduler's rule: never materialized, or staler than the SLA, is a breach. */
        int64_t sla = config_view_sla(cfg, v->name);
        if (sla)
            fbuf_addf(b, ",\"freshness_sla_seconds\":%.3f,\"sla_breached\":%s}", (double)sla / 1e9,
                      last == FERRY_TIME_NONE || now - last > sla ? "true" : "false");
        else
            fbuf_adds(b, ",\"freshness_sla_seconds\":null,\"sla_breached\":null}");
    }
    fbuf_adds(b, "]");
}

int service_feature_views_json(const struct ferry_config *cfg, int64_t now, struct fbuf *out, struct ferry_err *err)
{
    struct registry *reg = NULL;
    struct feast_view *views = NULL;
    size_t n = 0;
    int rc = registry_load(cfg->registry_path, &reg, err);
    if (rc == FERRY_ENOTFOUND)
        rc = ferry_errf(err, FERRY_ENOTFOUND, "registry %s does not exist: run `ferry apply` first", cfg->registry_path);
    if (!rc)
        rc = registry_views(reg, cfg->project, &views, &n, err);
    if (!rc) {
        render_views(cfg, views, n, now, out);
        if (!out->data || !out->len)
            rc = ferry_errf(err, FERRY_ELIMIT, "the feature view list is too large");
    }
    registry_views_free(views, n);
    registry_free(reg);
    return rc;
}
