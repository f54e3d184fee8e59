/* POST /get-online-features: Feast's request body {features, entities, full_feature_names} read
 * with jansson, entity values kept with their JSON type (a JSON 1001 and "1001" differ for Feast),
 * then the engine reads the online store and renders Feast's column-major JSON. */
#include "service/http.h"

#include "engine/engine.h"
#include "core/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FEATURES 10000
#define MAX_ROWS 100000

static void request_free(struct engine_features_request *req)
{
    for (size_t i = 0; i < req->nentities; i++) {
        struct engine_entity_column *e = &req->entities[i];
        for (size_t j = 0; j < e->nvalues; j++)
            free(e->values[j]);
        free(e->values);
        free(e->json_types);
        free(e->name);
    }
    free(req->entities);
    free(req->features);   /* the strings belong to the JSON document */
}

/* One entity value as text plus its JSON type; NULL for a type Feast's key conversion rejects. */
static char *entity_text(json_t *v, int *json_type)
{
    if (json_is_integer(v)) {
        *json_type = 1;
        return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    }
    if (json_is_real(v)) {
        *json_type = 1;
        return xasprintf("%.17g", json_real_value(v));
    }
    if (json_is_string(v)) {
        *json_type = 2;
        return xstrdup(json_string_value(v));
    }
    return NULL;
}

static int parse(const struct http_request *rq, json_t *doc, struct engine_features_request *req,
                 struct http_response *rs)
{
    if (json_object_get(doc, "feature_service"))
        return http_error(rs, 400,
                          "feature_service is not supported by ferry; list the features as \"view:feature\" in features",
                          NULL), -1;
    json_t *features = json_object_get(doc, "features");
    if (!json_is_array(features) || json_array_size(features) == 0)
        return http_error(rs, 400, "features must be a non-empty array of \"view:feature\" strings", NULL), -1;
    if (json_array_size(features) > MAX_FEATURES)
        return http_error(rs, 400, "too many features", NULL), -1;
    req->features = xcalloc(json_array_size(features), sizeof *req->features);
    size_t i;
    json_t *el;
    json_array_foreach(features, i, el) {
        const char *s = json_string_value(el);
        if (!s || !strchr(s, ':') || s[0] == ':' || !strchr(s, ':')[1])
            return http_error(rs, 400, "every element of features must be a \"view:feature\" string", NULL), -1;
        req->features[req->nfeatures++] = (char *)s;
    }
    json_t *ffn = json_object_get(doc, "full_feature_names");
    if (ffn && !json_is_null(ffn) && !json_is_boolean(ffn))
        return http_error(rs, 400, "full_feature_names must be a boolean", NULL), -1;
    req->full_feature_names = json_is_true(ffn);

    json_t *entities = json_object_get(doc, "entities");
    if (!json_is_object(entities) || json_object_size(entities) == 0)
        return http_error(rs, 400, "entities must be a non-empty object of join key to array of values", NULL), -1;
    req->entities = xcalloc(json_object_size(entities), sizeof *req->entities);
    const char *name;
    json_t *col;
    size_t rows = 0;
    /* jansson keeps insertion order, which is the column order Feast answers in. */
    json_object_foreach(entities, name, col) {
        char msg[FERRY_ERR_MSG_MAX];
        if (!json_is_array(col)) {
            snprintf(msg, sizeof msg, "entities.%.128s must be an array of values", name);
            return http_error(rs, 400, msg, NULL), -1;
        }
        size_t n = json_array_size(col);
        if (req->nentities == 0)
            rows = n;
        if (n != rows) {
            snprintf(msg, sizeof msg, "entities.%.128s has %zu values but the first key has %zu; every key needs one value per row",
                     name, n, rows);
            return http_error(rs, 400, msg, NULL), -1;
        }
        if (n > MAX_ROWS)
            return http_error(rs, 400, "too many entity rows", NULL), -1;
        struct engine_entity_column *e = &req->entities[req->nentities++];
        e->name = xstrdup(name);
        e->values = xcalloc(n ? n : 1, sizeof *e->values);
        e->json_types = xcalloc(n ? n : 1, sizeof *e->json_types);
        json_array_foreach(col, i, el) {
            char *text = entity_text(el, &e->json_types[e->nvalues]);
            if (!text) {
                snprintf(msg, sizeof msg, "entities.%.128s[%zu] must be a number or a string", name, i);
                return http_error(rs, 400, msg, NULL), -1;
            }
            e->values[e->nvalues++] = text;
        }
    }
    if (rows == 0)
        return http_error(rs, 400, "entities has no rows", NULL), -1;
    return 0;
}

int route_get_online_features(struct http_request *rq, struct http_response *rs)
{
    json_t *doc = http_body_object(rq, rs);
    if (!doc)
        return 0;
    struct engine_features_request req = {.keep_store_open = true};
    if (parse(rq, doc, &req, rs) == 0) {
        struct ferry_err err = {0};
        if (engine_get_online_features(rq->svc->cfg, &req, &rs->body, &err) != 0)
            http_error_ferry(rs, &err);
        else
            rs->status = 200;
    }
    request_free(&req);
    json_decref(doc);
    return 0;
}
