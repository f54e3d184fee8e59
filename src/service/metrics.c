/* Prometheus metrics for `ferry serve` (text exposition format 0.0.4). Series live in small arrays
 * under one mutex and are found by linear search: label values come from a bounded set (view
 * names of the registry, route patterns, a fixed list of methods, status codes), and a hard cap on
 * series keeps a misbehaving client from growing memory anyway. */
#include "service/metrics.h"

#include "core/time.h"
#include "core/util.h"
#include "engine/engine.h"
#include "registry/registry.h"
#include "service/jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 4096

/* Feast's materialization buckets (seconds), and Prometheus' default ones for HTTP latency. */
static const double mat_buckets[] = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
static const double http_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NMAT (sizeof mat_buckets / sizeof mat_buckets[0])
#define NHTTP (sizeof http_buckets / sizeof http_buckets[0])

struct view_series {
    char *view;
    uint64_t success, failure, rows;
    uint64_t dur_buckets[NMAT];   /* non-cumulative; summed at render time */
    uint64_t dur_count;
    double dur_sum;
};

struct req_series {
    char method[8];
    const char *route;            /* a pattern from the route table (static storage) */
    int status;
    uint64_t count;
};

struct route_series {
    const char *route;
    uint64_t buckets[NHTTP];
    uint64_t count;
    double sum;
};

/* Scheduler series: SLA breach state per view (set by the scheduler), runs per schedule and result. */
struct sla_series {
    char *view;
    bool breached;
};
struct sched_series {
    char *schedule;
    char result[16];
    uint64_t count;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct sla_series *slas;
static size_t nslas;
static struct sched_series *scheds;
static size_t nscheds;
static struct view_series *views;
static size_t nviews;
static struct req_series *reqs;
static size_t nreqs;
static struct route_series *routes;
static size_t nroutes;

void metrics_init(void) {}

void metrics_cleanup(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nviews; i++)
        free(views[i].view);
    free(views);
    free(reqs);
    free(routes);
    for (size_t i = 0; i < nslas; i++)
        free(slas[i].view);
    for (size_t i = 0; i < nscheds; i++)
        free(scheds[i].schedule);
    free(slas);
    free(scheds);
    slas = NULL;
    scheds = NULL;
    nslas = nscheds = 0;
    views = NULL;
    reqs = NULL;
    routes = NULL;
    nviews = nreqs = nroutes = 0;
    pthread_mutex_unlock(&mu);
}

/* Grows an array by one element when under the cap; NULL when full. */
static void *grow(void *arr, size_t *n, size_t size)
{
    if (*n >= MAX_SERIES)
        return NULL;
    char *p = xrealloc(arr, (*n + 1) * size);
    memset(p + *n * size, 0, size);
    (*n)++;
    return p;
}

void metrics_materialization(const char *view, bool success, double seconds, uint64_t rows_written)
{
    pthread_mutex_lock(&mu);
    struct view_series *s = NULL;
    for (size_t i = 0; i < nviews && !s; i++)
        if (strcmp(views[i].view, view) == 0)
            s = &views[i];
    if (!s) {
        struct view_series *g = grow(views, &nviews, sizeof *views);
        if (g) {
            views = g;
            s = &views[nviews - 1];
            s->view = xstrdup(view);
        }
    }
    if (s) {
        if (success)
            s->success++;
        else
            s->failure++;
        s->rows += rows_written;
        size_t b = 0;
        while (b < NMAT && seconds > mat_buckets[b])
            b++;
        if (b < NMAT)
            s->dur_buckets[b]++;
        s->dur_count++;
        s->dur_sum += seconds;
    }
    pthread_mutex_unlock(&mu);
}

void metrics_sla(const char *view, bool breached)
{
    pthread_mutex_lock(&mu);
    struct sla_series *s = NULL;
    for (size_t i = 0; i < nslas && !s; i++)
        if (strcmp(slas[i].view, view) == 0)
            s = &slas[i];
    if (!s) {
        struct sla_series *g = grow(slas, &nslas, sizeof *slas);
        if (g) {
            slas = g;
            s = &slas[nslas - 1];
            s->view = xstrdup(view);
        }
    }
    if (s)
        s->breached = breached;
    pthread_mutex_unlock(&mu);
}

void metrics_schedule_run(const char *schedule, const char *result)
{
    pthread_mutex_lock(&mu);
    struct sched_series *s = NULL;
    for (size_t i = 0; i < nscheds && !s; i++)
        if (strcmp(scheds[i].schedule, schedule) == 0 && strcmp(scheds[i].result, result) == 0)
            s = &scheds[i];
    if (!s) {
        struct sched_series *g = grow(scheds, &nscheds, sizeof *scheds);
        if (g) {
            scheds = g;
            s = &scheds[nscheds - 1];
            s->schedule = xstrdup(schedule);
            snprintf(s->result, sizeof s->result, "%s", result);
        }
    }
    if (s)
        s->count++;
    pthread_mutex_unlock(&mu);
}

/* Methods outside the usual set share one label: clients choose the method string. */
static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < FERRY_ARRAY_LEN(known); i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "OTHER";
}

void metrics_http(const char *method, const char *route, int status, double seconds)
{
    const char *m = method_label(method);
    pthread_mutex_lock(&mu);
    struct req_series *r = NULL;
    for (size_t i = 0; i < nreqs && !r; i++)
        if (reqs[i].status == status && strcmp(reqs[i].route, route) == 0 && strcmp(reqs[i].method, m) == 0)
            r = &reqs[i];
    if (!r) {
        struct req_series *g = grow(reqs, &nreqs, sizeof *reqs);
        if (g) {
            reqs = g;
            r = &reqs[nreqs - 1];
            snprintf(r->method, sizeof r->method, "%s", m);
            r->route = route;
            r->status = status;
        }
    }
    if (r)
        r->count++;
    struct route_series *h = NULL;
    for (size_t i = 0; i < nroutes && !h; i++)
        if (strcmp(routes[i].route, route) == 0)
            h = &routes[i];
    if (!h) {
        struct route_series *g = grow(routes, &nroutes, sizeof *routes);
        if (g) {
            routes = g;
            h = &routes[nroutes - 1];
            h->route = route;
        }
    }
    if (h) {
        size_t b = 0;
        while (b < NHTTP && seconds > http_buckets[b])
            b++;
        if (b < NHTTP)
            h->buckets[b]++;
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&mu);
}

/* A label value: backslash, double quote and newline escaped as the format requires. */
static void add_label(struct fbuf *out, const char *s)
{
    fbuf_addc(out, '"');
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fbuf_addc(out, '\\');
        if (*s == '\n') {
            fbuf_adds(out, "\\n");
            continue;
        }
        fbuf_addc(out, *s);
    }
    fbuf_addc(out, '"');
}

static void add_bucket_le(struct fbuf *out, double le)
{
    fbuf_addf(out, "le=\"%g\"", le);
}

static void render_freshness(const struct ferry_config *cfg, struct fbuf *out)
{
    fbuf_adds(out, "# HELP feast_feature_freshness_seconds Seconds since the newest materialized interval end of a feature view.\n"
                   "# TYPE feast_feature_freshness_seconds gauge\n");
    struct registry *reg = NULL;
    if (registry_load(cfg->registry_path, &reg, NULL) != 0)
        return;   /* no registry yet: no gauges, /health reports the problem */
    struct feast_view *vs = NULL;
    size_t n = 0;
    if (registry_views(reg, cfg->project, &vs, &n, NULL) == 0) {
        int64_t now = ferry_now_ns();
        for (size_t i = 0; i < n; i++) {
            int64_t end = engine_view_last_end(&vs[i]);
            if (end == FERRY_TIME_NONE)
                continue;   /* never materialized: no freshness to report */
            fbuf_adds(out, "feast_feature_freshness_seconds{feature_view=");
            add_label(out, vs[i].name);
            fbuf_adds(out, ",project=");
            add_label(out, cfg->project);
            fbuf_addf(out, "} %.3f\n", (double)(now - end) / 1e9);
        }
        registry_views_free(vs, n);
    }
    registry_free(reg);
}

int metrics_render(const struct ferry_config *cfg, const uint64_t job_counts[5], struct fbuf *out)
{
    pthread_mutex_lock(&mu);
    fbuf_adds(out, "# HELP feast_materialization_result_total Feature view materializations by outcome.\n"
                   "# TYPE feast_materialization_result_total counter\n");
    for (size_t i = 0; i < nviews; i++)
        for (int ok = 1; ok >= 0; ok--) {
            fbuf_adds(out, "feast_materialization_result_total{feature_view=");
            add_label(out, views[i].view);
            fbuf_addf(out, ",status=\"%s\"} %llu\n", ok ? "success" : "failure",
                      (unsigned long long)(ok ? views[i].success : views[i].failure));
        }
    fbuf_adds(out, "# HELP feast_materialization_duration_seconds Duration of one feature view's materialization.\n"
                   "# TYPE feast_materialization_duration_seconds histogram\n");
    for (size_t i = 0; i < nviews; i++) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= NMAT; b++) {
            fbuf_adds(out, "feast_materialization_duration_seconds_bucket{feature_view=");
            add_label(out, views[i].view);
            fbuf_addc(out, ',');
            if (b < NMAT) {
                cum += views[i].dur_buckets[b];
                add_bucket_le(out, mat_buckets[b]);
            } else {
                cum = views[i].dur_count;
                fbuf_adds(out, "le=\"+Inf\"");
            }
            fbuf_addf(out, "} %llu\n", (unsigned long long)cum);
        }
        fbuf_adds(out, "feast_materialization_duration_seconds_sum{feature_view=");
        add_label(out, views[i].view);
        fbuf_addf(out, "} %.6f\n", views[i].dur_sum);
        fbuf_adds(out, "feast_materialization_duration_seconds_count{feature_view=");
        add_label(out, views[i].view);
        fbuf_addf(out, "} %llu\n", (unsigned long long)views[i].dur_count);
    }
    fbuf_adds(out, "# HELP ferry_rows_written_total Entity rows written to the online store.\n"
                   "# TYPE ferry_rows_written_total counter\n");
    for (size_t i = 0; i < nviews; i++) {
        fbuf_adds(out, "ferry_rows_written_total{feature_view=");
        add_label(out, views[i].view);
        fbuf_addf(out, "} %llu\n", (unsigned long long)views[i].rows);
    }
    fbuf_adds(out, "# HELP ferry_jobs Jobs known to this process by status.\n# TYPE ferry_jobs gauge\n");
    for (int s = 0; s < 5; s++)
        fbuf_addf(out, "ferry_jobs{status=\"%s\"} %llu\n", job_status_name(s), (unsigned long long)job_counts[s]);
    fbuf_adds(out, "# HELP ferry_http_requests_total HTTP requests answered.\n# TYPE ferry_http_requests_total counter\n");
    for (size_t i = 0; i < nreqs; i++) {
        fbuf_addf(out, "ferry_http_requests_total{method=\"%s\",route=", reqs[i].method);
        add_label(out, reqs[i].route);
        fbuf_addf(out, ",status=\"%d\"} %llu\n", reqs[i].status, (unsigned long long)reqs[i].count);
    }
    fbuf_adds(out, "# HELP ferry_http_request_duration_seconds Time to answer an HTTP request.\n"
                   "# TYPE ferry_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < nroutes; i++) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= NHTTP; b++) {
            fbuf_adds(out, "ferry_http_request_duration_seconds_bucket{route=");
            add_label(out, routes[i].route);
            fbuf_addc(out, ',');
            if (b < NHTTP) {
                cum += routes[i].buckets[b];
                add_bucket_le(out, http_buckets[b]);
            } else {
                cum = routes[i].count;
                fbuf_adds(out, "le=\"+Inf\"");
            }
            fbuf_addf(out, "} %llu\n", (unsigned long long)cum);
        }
        fbuf_adds(out, "ferry_http_request_duration_seconds_sum{route=");
        add_label(out, routes[i].route);
        fbuf_addf(out, "} %.6f\n", routes[i].sum);
        fbuf_adds(out, "ferry_http_request_duration_seconds_count{route=");
        add_label(out, routes[i].route);
        fbuf_addf(out, "} %llu\n", (unsigned long long)routes[i].count);
    }
    fbuf_adds(out, "# HELP ferry_freshness_sla_breached 1 while a feature view is staler than its freshness_sla.\n"
                   "# TYPE ferry_freshness_sla_breached gauge\n");
    for (size_t i = 0; i < nslas; i++) {
        fbuf_adds(out, "ferry_freshness_sla_breached{feature_view=");
        add_label(out, slas[i].view);
        fbuf_addf(out, "} %d\n", slas[i].breached ? 1 : 0);
    }
    fbuf_adds(out, "# HELP ferry_schedule_runs_total Scheduled runs by schedule and result.\n"
                   "# TYPE ferry_schedule_runs_total counter\n");
    for (size_t i = 0; i < nscheds; i++) {
        fbuf_adds(out, "ferry_schedule_runs_total{schedule=");
        add_label(out, scheds[i].schedule);
        fbuf_adds(out, ",result=");
        add_label(out, scheds[i].result);
        fbuf_addf(out, "} %llu\n", (unsigned long long)scheds[i].count);
    }
    pthread_mutex_unlock(&mu);
    render_freshness(cfg, out);
    /* The series caps keep this output far below the response buffer's limit; a failed append
     * (out of memory) empties the buffer, which the caller sees here. */
    return out->data && out->len ? 0 : FERRY_ELIMIT;
}
