/* The service's JSON line log (see svc_log.h). */
#include "service/svc_log.h"

#include "core/time.h"

#include <stdio.h>
#include <string.h>

void svc_log(const char *level, const char *msg, const char *extra)
{
    char ts[FERRY_TIME_BUF];
    struct fbuf line;
    fbuf_init(&line, 16384);
    fbuf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ferry_time_format_iso(ferry_now_ns(), ts), level);
    fbuf_add_json_str(&line, msg, strlen(msg));
    if (extra)
        fbuf_adds(&line, extra);
    fbuf_adds(&line, "}\n");
    /* A line too long for the buffer is lost by fbuf; say so rather than print nothing. */
    fputs(line.data ? line.data : "{\"level\":\"error\",\"msg\":\"log line too long\"}\n", stderr);
    fbuf_cleanup(&line);
}
