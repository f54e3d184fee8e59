/* Private to service/: schedule timing. A cron expression (5 fields: minute hour day-of-month month
 * day-of-week; '*', lists, ranges, steps, month and day names; @hourly, @daily, @midnight,
 * @weekly, @monthly, @yearly, @annually) in a time zone, or a fixed interval ("every: 15m").
 * Semantics follow cron as its users expect across DST: a local time that does not exist (spring
 * forward) fires once, right after the gap; a local time that occurs twice (fall back) fires once,
 * at its first occurrence. Day-of-month and day-of-week combine with OR when both are restricted
 * (Vixie cron). A struct cron_spec is immutable after parsing. */
#ifndef FERRY_SERVICE_CRON_H
#define FERRY_SERVICE_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/tz.h"

struct cron_spec;

/* Parses expr; tz is borrowed (must outlive the spec; NULL means UTC). Errors (FERRY_ECONFIG) say which
 * field and why, e.g. "field 2 (hour): 25 is out of range 0-23"; an expression that can never fire
 * because its day-of-month never occurs in its months ("0 0 30 2 *") is an error too. */
int cron_parse(const char *expr, const struct ferry_tz *tz, struct cron_spec **out, struct ferry_err *err);
/* A fixed interval anchored at the Unix epoch (so "every: 15m" fires at :00, :15, :30, :45 UTC). */
int cron_every(int64_t interval_ns, struct cron_spec **out, struct ferry_err *err);
void cron_free(struct cron_spec *c);

/* The first firing instant strictly after t_ns (UTC ns); INT64_MAX if none within 5 years. */
int64_t cron_next(const struct cron_spec *c, int64_t t_ns);

#endif
