/* Time inside ferry is int64_t UTC nanoseconds since the Unix epoch ("ns"). Time zones exist only
 * at the edges: parsing user input (naive means UTC) and formatting for display. */
#ifndef FERRY_CORE_TIME_H
#define FERRY_CORE_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FERRY_NS_PER_SEC INT64_C(1000000000)
#define FERRY_TIME_NONE INT64_MIN   /* "no timestamp" (e.g. a view without a created column) */

int64_t ferry_now_ns(void);

/* Lenient ISO 8601 as users type it, like dateutil/fromisoformat:
 *   2021-04-12 | 2021-04-12T07:00 | 2021-04-12T07:00:00 | 2021-04-12 07:00:00.123456
 *   with an optional zone: Z | +02:00 | +0200 | -05 ; no zone means UTC.
 * Fractions of up to 9 digits. Errors (FERRY_EINVAL) quote the text and say what is wrong. */
int ferry_time_parse(const char *text, int64_t *out_ns, struct ferry_err *err);

/* Civil UTC <-> ns helpers (proleptic Gregorian). */
int64_t ferry_time_from_civil(int year, int month, int day, int hour, int min, int sec, int64_t nsec);
void ferry_time_to_civil(int64_t ns, int *year, int *month, int *day, int *hour, int *min, int *sec,
                         int64_t *nsec);

/* Durations as in features.yaml ttl: "1d", "2h", "30m", "45s", "1h30m", "3600" (seconds), "0".
 * Also "1w". Errors name the text. */
int ferry_duration_parse(const char *text, int64_t *out_ns, struct ferry_err *err);

#define FERRY_TIME_BUF 48
/* RFC 3339 UTC as Feast's HTTP server prints it: "2021-12-31T23:00:00Z", the fraction omitted when
 * 0, else 3, 6 or 9 digits (the fewest that are exact). */
char *ferry_time_format_rfc3339(int64_t ns, char buf[FERRY_TIME_BUF]);
/* Python str() of an aware UTC datetime with microseconds dropped: "2021-09-09 17:00:00+00:00". */
char *ferry_time_format_py(int64_t ns, char buf[FERRY_TIME_BUF]);
/* ISO 8601 with microseconds when non-zero, "2021-09-09T17:00:00.123456Z" (for JSON output). */
char *ferry_time_format_iso(int64_t ns, char buf[FERRY_TIME_BUF]);

/* Floor division of ns to whole seconds (correct for negative times). */
int64_t ferry_time_floor_sec(int64_t ns);

#endif
