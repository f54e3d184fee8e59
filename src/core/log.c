/* stderr logging with one global threshold; one line per call, written with one fprintf so lines
 * from different threads do not interleave. */
#include "core/log.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum ferry_log_level threshold = FERRY_LOG_WARNING;
static const char *const level_names[] = {"debug", "info", "warning", "error"};

void ferry_log_set_level(enum ferry_log_level level) { threshold = level; }

int ferry_log_parse_level(const char *name, enum ferry_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum ferry_log_level)i;
            return 0;
        }
    if (strcasecmp(name, "warn") == 0) {
        *out = FERRY_LOG_WARNING;
        return 0;
    }
    return FERRY_EUSAGE;
}

void ferry_log(enum ferry_log_level level, const char *fmt, ...)
{
    if (level < threshold)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ferry: %s: %s\n", level_names[level], line);
}
