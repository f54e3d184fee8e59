/* GET /health and GET /metrics: the two routes open without a token, for probes and scrapers. */
#include "service/http.h"

#include "registry/registry.h"
#include "service/metrics.h"

#include <stdio.h>
#include <stdlib.h>

/* As Feast: 200 with an empty body when the registry loads and lists a project, else 503, so a
 * load balancer stops sending traffic to a server that cannot answer. */
int route_health(struct http_request *rq, struct http_response *rs)
{
    struct registry *reg = NULL;
    struct ferry_err err = {0};
    if (registry_load(rq->svc->cfg->registry_path, &reg, &err) != 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "{\"code\":\"%s\"}", ferry_err_name(err.code));
        return http_error(rs, 503, err.msg, detail);
    }
    char **names = NULL;
    size_t n = 0;
    int rc = registry_projects(reg, &names, &n);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    registry_free(reg);
    if (rc != 0 || n == 0)
        return http_error(rs, 503, "the registry lists no project", NULL);
    rs->status = 200;
    return 0;
}

int route_metrics(struct http_request *rq, struct http_response *rs)
{
    uint64_t counts[5] = {0};
    jobs_counts(rq->svc->jobs, counts);
    if (metrics_render(rq->svc->cfg, counts, &rs->body) != 0) {
        return http_error(rs, 500, "cannot render metrics", NULL);
    }
    rs->status = 200;
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}
