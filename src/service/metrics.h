/* Private to service/: Prometheus metrics. Feast's names where Feast has one
 * (feast_materialization_result_total{feature_view,status="success"|"failure"},
 * feast_materialization_duration_seconds{feature_view} with Feast's buckets,
 * feast_feature_freshness_seconds{feature_view,project}), ferry's own for the rest. Thread-safe;
 * one mutex guards all series. */
#ifndef FERRY_SERVICE_METRICS_H
#define FERRY_SERVICE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"

void metrics_init(void);
void metrics_cleanup(void);
/* One view of one job finished: success or failure, its duration and rows written. */
void metrics_materialization(const char *view, bool success, double seconds, uint64_t rows_written);
/* One HTTP request answered. route is the pattern ("/jobs/{id}"), not the raw path. */
void metrics_http(const char *method, const char *route, int status, double seconds);
/* The scheduler's view of a freshness SLA: ferry_freshness_sla_breached{feature_view} 0 or 1. */
void metrics_sla(const char *view, bool breached);
/* One scheduled run ended (result "succeeded", "failed", "timeout", "cancelled") or a tick was
 * "skipped": ferry_schedule_runs_total{schedule,result}. */
void metrics_schedule_run(const char *schedule, const char *result);
/* Renders every series in the text exposition format. Freshness gauges are computed from the
 * registry at render time (now - newest interval end per view); job gauges from jobs_counts. */
int metrics_render(const struct ferry_config *cfg, const uint64_t job_counts[5], struct fbuf *out);

#endif
