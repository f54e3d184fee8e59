/* The error table's lookups and the message helpers. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ferry_errf(struct ferry_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int ferry_err_prefix(struct ferry_err *err, const char *fmt, ...)
{
    if (!err)
        return FERRY_EINTERNAL;
    char prefix[FERRY_ERR_MSG_MAX], old[FERRY_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s%s", prefix, old);
    return err->code;
}

void ferry_err_clear(struct ferry_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *ferry_err_name(int code)
{
    switch (code) {
    case FERRY_OK: return "OK";
#define FERRY_X_NAME(name, c, e, h, d) case c: return #name;
    FERRY_ERRNO_MAP(FERRY_X_NAME)
#undef FERRY_X_NAME
    }
    return "UNKNOWN";
}

int ferry_err_exit_status(int code)
{
    switch (code) {
    case FERRY_OK: return 0;
#define FERRY_X_EXIT(name, c, e, h, d) case c: return e;
    FERRY_ERRNO_MAP(FERRY_X_EXIT)
#undef FERRY_X_EXIT
    }
    return 1;
}

int ferry_err_http_status(int code)
{
    switch (code) {
    case FERRY_OK: return 200;
#define FERRY_X_HTTP(name, c, e, h, d) case c: return h;
    FERRY_ERRNO_MAP(FERRY_X_HTTP)
#undef FERRY_X_HTTP
    }
    return 500;
}
