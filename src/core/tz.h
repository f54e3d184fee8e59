/* Time zones from the system's zoneinfo (IANA names such as "Europe/Berlin", read from
 * /usr/share/zoneinfo or $TZDIR): UTC offsets at an instant, and local civil time -> instants with
 * DST gaps and overlaps made explicit. A struct ferry_tz is immutable after loading and may be
 * shared by threads; ferry_tz_free releases it. */
#ifndef FERRY_CORE_TZ_H
#define FERRY_CORE_TZ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct ferry_tz;

/* Loads a zone by IANA name ("UTC" and "Etc/UTC" always work, even without tzdata). Errors:
 * FERRY_ECONFIG "unknown time zone 'X'" (names with "..", a leading '/', or no such file). */
int ferry_tz_load(const char *name, struct ferry_tz **out, struct ferry_err *err);
void ferry_tz_free(struct ferry_tz *tz);
const char *ferry_tz_name(const struct ferry_tz *tz);

/* UTC offset in seconds (east positive) in effect at the instant t (UTC ns). */
int32_t ferry_tz_offset_at(const struct ferry_tz *tz, int64_t t_ns);

/* The instants whose local wall time is the given civil time (seconds precision):
 *   1 = normal (out[0]); 2 = the time occurs twice (fall-back overlap: out[0] < out[1]);
 *   0 = the time does not exist (spring-forward gap): out[0] is the first instant after the gap. */
int ferry_tz_local_to_utc(const struct ferry_tz *tz, int year, int month, int day, int hour, int min, int sec,
                          int64_t out_ns[2]);

/* Civil local time of an instant. */
void ferry_tz_utc_to_local(const struct ferry_tz *tz, int64_t t_ns, int *year, int *month, int *day, int *hour,
                           int *min, int *sec, int *wday /* 0 = Sunday */);

#endif
