/* Request-body helpers shared by the JSON routes: parsing the body as a JSON object, and the fields
 * several endpoints take (timestamps, feature_views), each answering 400 with the same wording. */
#include "service/http.h"

#include "core/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VIEWS 4096

int http_bad_request(struct http_response *rs, const char *fmt, ...)
{
    char msg[FERRY_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return http_error(rs, 400, msg, NULL);
}

json_t *http_body_object(const struct http_request *rq, struct http_response *rs)
{
    json_error_t jerr;
    json_t *doc = json_loadb(rq->body, rq->body_len, 0, &jerr);
    if (!doc) {
        struct fbuf d;
        fbuf_init(&d, FERRY_ERR_MSG_MAX + 64);
        fbuf_addf(&d, "{\"line\":%d,\"column\":%d,\"reason\":", jerr.line, jerr.column);
        fbuf_add_json_str(&d, jerr.text, strlen(jerr.text));
        fbuf_addc(&d, '}');
        http_error(rs, 400, "request body is not valid JSON", d.data);
        fbuf_cleanup(&d);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        http_bad_request(rs, "request body must be a JSON object");
        return NULL;
    }
    return doc;
}

bool http_body_ts(json_t *doc, const char *name, int64_t *out, struct http_response *rs)
{
    json_t *v = json_object_get(doc, name);
    if (!v || json_is_null(v)) {
        http_bad_request(rs, "%s is required", name);
        return false;
    }
    if (!json_is_string(v)) {
        http_bad_request(rs, "%s must be a string (ISO 8601 timestamp)", name);
        return false;
    }
    struct ferry_err err = {0};
    if (ferry_time_parse(json_string_value(v), out, &err) != 0) {
        http_bad_request(rs, "%s: %s", name, err.msg);
        return false;
    }
    return true;
}

bool http_body_window(json_t *doc, int64_t *start_ns, int64_t *end_ns, struct http_response *rs)
{
    if (!http_body_ts(doc, "start_ts", start_ns, rs) || !http_body_ts(doc, "end_ts", end_ns, rs))
        return false;
    if (*start_ns > *end_ns) {
        char a[FERRY_TIME_BUF], b[FERRY_TIME_BUF];
        http_bad_request(rs, "start_ts %s is after end_ts %s", ferry_time_format_iso(*start_ns, a),
                         ferry_time_format_iso(*end_ns, b));
        return false;
    }
    return true;
}

bool http_body_views(json_t *doc, const char ***views, size_t *n, struct http_response *rs)
{
    *views = NULL;
    *n = 0;
    json_t *fv = json_object_get(doc, "feature_views");
    if (!fv || json_is_null(fv))
        return true;
    if (!json_is_array(fv)) {
        http_bad_request(rs, "feature_views must be null or an array of view names");
        return false;
    }
    if (json_array_size(fv) > MAX_VIEWS) {
        http_bad_request(rs, "feature_views names too many views (at most %d)", MAX_VIEWS);
        return false;
    }
    const char **list = calloc(json_array_size(fv) + 1, sizeof *list);
    if (!list) {
        http_error(rs, 500, "out of memory", NULL);
        return false;
    }
    *views = list;
    size_t i;
    json_t *el;
    json_array_foreach(fv, i, el) {
        if (!json_is_string(el) || !json_string_value(el)[0]) {
            http_bad_request(rs, "feature_views must contain only non-empty strings");
            return false;
        }
        list[(*n)++] = json_string_value(el);
    }
    return true;
}
