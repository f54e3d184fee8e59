/* Private to service/: the service's log, one JSON object per line on stderr, written with a single
 * call so that lines of different threads never interleave. */
#ifndef FERRY_SERVICE_LOG_H
#define FERRY_SERVICE_LOG_H

#include "core/buf.h"

/* Writes {"ts":"<now>","level":level,"msg":msg<extra>}; extra is either NULL or a JSON fragment of
 * further members that starts with a comma (",\"job\":\"...\""). */
void svc_log(const char *level, const char *msg, const char *extra);

#endif
