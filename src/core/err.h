/* Errors: one table of codes with their names, process exit codes and HTTP statuses.
 * Every fallible function returns 0 or a negative FERRY_E* code, and writes the message into a
 * caller-owned struct ferry_err (which may be NULL when the caller does not want the text). */
#ifndef FERRY_CORE_ERR_H
#define FERRY_CORE_ERR_H

/* X(name, code, exit status, http status, description) */
#define FERRY_ERRNO_MAP(X)                                                                  \
    X(USAGE,    -1, 2, 400, "bad command-line usage or request")                           \
    X(CONFIG,   -2, 3, 400, "invalid configuration or definitions")                        \
    X(NOTFOUND, -3, 3, 404, "no such object")                                              \
    X(INVAL,    -4, 3, 400, "invalid argument")                                            \
    X(SOURCE,   -5, 4, 422, "offline source unusable: missing file, column or wrong type") \
    X(IO,       -6, 1, 500, "input/output failure")                                        \
    X(STORE,    -7, 1, 500, "store failure")                                               \
    X(NOMEM,    -8, 1, 500, "out of memory")                                               \
    X(LIMIT,    -9, 1, 413, "input exceeds a limit")                                       \
    X(CANCELED, -10, 1, 409, "canceled")                                                   \
    X(CONFLICT, -11, 1, 409, "conflicting concurrent work")                                \
    X(INTERNAL, -12, 1, 500, "internal error")

enum ferry_errno {
    FERRY_OK = 0,
#define FERRY_X_ENUM(name, code, exit_status, http, desc) FERRY_E##name = code,
    FERRY_ERRNO_MAP(FERRY_X_ENUM)
#undef FERRY_X_ENUM
};

#define FERRY_ERR_MSG_MAX 256

struct ferry_err {
    int code;                     /* 0 or a FERRY_E* value */
    char msg[FERRY_ERR_MSG_MAX];  /* human-readable, names what is wrong and where */
};

/* Sets code and a printf-style message; returns code so callers can `return ferry_errf(...)`. */
int ferry_errf(struct ferry_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message with context ("view x: " + old message); returns err->code. */
int ferry_err_prefix(struct ferry_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ferry_err_clear(struct ferry_err *err);

const char *ferry_err_name(int code);        /* "CONFIG", "SOURCE", ... */
int ferry_err_exit_status(int code);         /* process exit status for a failed command */
int ferry_err_http_status(int code);         /* HTTP status for a failed request */

#endif
