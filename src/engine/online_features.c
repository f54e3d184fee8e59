/* get-online-features: resolves "view:feature" references against the registry, builds each
 * view's entity keys from the request's join-key values (typed by the view's entity columns,
 * feast-compat.md Appendix A.1), reads the online store and renders Feast's column-major JSON
 * response (§8.3): join-key columns first, then each view's features in order of first reference. */
#include "engine/engine_internal.h"

#include "core/time.h"
#include "core/util.h"
#include "registry/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_MAX (256u << 20)   /* a response never grows past 256 MiB */
#define EPOCH_TS "\"1970-01-01T00:00:00Z\""

struct view_ref {
    const struct feast_view *view;
    const char **features;          /* feature names requested from this view, request order */
    size_t nfeatures;
    struct online_read_result res;
    bool have_res;
};

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/* Converts a textual entity value to the key type of the view's column. */
static int to_scalar(const char *key, const char *text, int vtype, struct feast_scalar *out,
                     struct ferry_err *err)
{
    memset(out, 0, sizeof *out);
    out->vtype = vtype;
    switch (vtype) {
    case FEAST_VT_STRING:
    case FEAST_VT_BYTES:
        out->s = text;
        out->n = strlen(text);
        return 0;
    case FEAST_VT_INT32:
    case FEAST_VT_INT64:
        if (parse_int(text, &out->i) != 0)
            return ferry_errf(err, FERRY_EINVAL, "entity '%s': '%s' is not an integer (the key is %s)",
                              key, text, feast_dtype_name(vtype));
        if (vtype == FEAST_VT_INT32 && (out->i < INT32_MIN || out->i > INT32_MAX))
            return ferry_errf(err, FERRY_EINVAL, "entity '%s': %s does not fit Int32", key, text);
        return 0;
    case FEAST_VT_UNIX_TIMESTAMP: {
        if (parse_int(text, &out->i) == 0)
            return 0;
        int64_t ns;
        if (ferry_time_parse(text, &ns, err) != 0)
            return ferry_err_prefix(err, "entity '%s': ", key);
        out->i = ferry_time_floor_sec(ns);
        return 0;
    }
    default:
        return ferry_errf(err, FERRY_ECONFIG, "entity '%s' has key type %s, which cannot be an entity key",
                          key, feast_dtype_name(vtype));
    }
}

static const struct engine_entity_column *find_entity(const struct engine_features_request *req,
                                                      const char *name)
{
    for (size_t i = 0; i < req->nentities; i++)
        if (strcmp(req->entities[i].name, name) == 0)
            return &req->entities[i];
    return NULL;
}

static bool is_dummy_key(const struct feast_view *v)
{
    return v->nentity_columns == 0 ||
           (v->nentity_columns == 1 && strcmp(v->entity_columns[0].name, FEAST_DUMMY_ENTITY_ID) == 0);
}

static int build_keys(const struct ferry_config *cfg, const struct engine_features_request *req,
                      const struct feast_view *v, size_t nrows, struct fbuf *keys, struct ferry_err *err)
{
    size_t nk = is_dummy_key(v) ? 1 : v->nentity_columns;
    const char **names = xcalloc(nk, sizeof *names);
    struct feast_scalar *vals = xcalloc(nk, sizeof *vals);
    int rc = 0;
    for (size_t r = 0; r < nrows && !rc; r++) {
        fbuf_init(&keys[r], 1 << 20);
        if (is_dummy_key(v)) {
            names[0] = FEAST_DUMMY_ENTITY_ID;
            vals[0] = (struct feast_scalar){.vtype = FEAST_VT_STRING, .s = "", .n = 0};
        } else {
            for (size_t k = 0; k < nk && !rc; k++) {
                const struct feast_feature *col = &v->entity_columns[k];
                const struct engine_entity_column *ent = find_entity(req, col->name);
                if (!ent) {
                    rc = ferry_errf(err, FERRY_EINVAL, "feature view '%s' needs entity key '%s', which the request does not give",
                                    v->name, col->name);
                    break;
                }
                names[k] = col->name;
                rc = to_scalar(col->name, ent->values[r], col->vtype, &vals[k], err);
            }
        }
        if (!rc)
            rc = feast_key_serialize(&keys[r], cfg->key_version, nk, names, vals, err);
    }
    free(names);
    free(vals);
    return rc;
}

/* A join-key column renders as its key type would: a number for integer keys, else a string. */
static int render_entity_value(struct fbuf *out, const struct engine_entity_column *ent, size_t r, int vtype)
{
    const char *text = ent->values[r];
    int64_t i;
    bool numeric = vtype == FEAST_VT_INT32 || vtype == FEAST_VT_INT64 || vtype == FEAST_VT_UNIX_TIMESTAMP;
    /* A key no requested view types renders as it was given: a JSON number stays a number, and
     * command-line text that is an integer is taken as one. */
    if (vtype == FEAST_VT_INVALID)
        numeric = ent->json_types ? ent->json_types[r] == 1 : true;
    if (numeric && parse_int(text, &i) == 0)
        return fbuf_addf(out, "%lld", (long long)i);
    return fbuf_add_json_str(out, text, strlen(text));
}

static int key_type_of(const struct view_ref *refs, size_t nrefs, const char *name)
{
    for (size_t i = 0; i < nrefs; i++)
        for (size_t k = 0; k < refs[i].view->nentity_columns; k++)
            if (strcmp(refs[i].view->entity_columns[k].name, name) == 0)
                return refs[i].view->entity_columns[k].vtype;
    return FEAST_VT_INVALID;
}

static int render(const struct engine_features_request *req, struct view_ref *refs, size_t nrefs,
                  size_t nrows, struct fbuf *out, struct ferry_err *err)
{
    int rc = fbuf_adds(out, "{\"results\":[");
    bool first_col = true;
    for (size_t e = 0; e < req->nentities && !rc; e++) {
        const struct engine_entity_column *ent = &req->entities[e];
        int vtype = key_type_of(refs, nrefs, ent->name);
        rc = fbuf_adds(out, first_col ? "{\"values\":[" : ",{\"values\":[");
        first_col = false;
        for (size_t r = 0; r < nrows && !rc; r++) {
            if (r)
                rc = fbuf_addc(out, ',');
            if (!rc)
                rc = render_entity_value(out, ent, r, vtype);
        }
        if (!rc)
            rc = fbuf_adds(out, "],\"statuses\":[");
        for (size_t r = 0; r < nrows && !rc; r++)
            rc = fbuf_adds(out, r ? ",\"PRESENT\"" : "\"PRESENT\"");
        if (!rc)
            rc = fbuf_adds(out, "],\"event_timestamps\":[");
        for (size_t r = 0; r < nrows && !rc; r++)
            rc = fbuf_adds(out, r ? "," EPOCH_TS : EPOCH_TS);
        if (!rc)
            rc = fbuf_adds(out, "]}");
    }
    for (size_t i = 0; i < nrefs && !rc; i++) {
        struct view_ref *ref = &refs[i];
        for (size_t f = 0; f < ref->nfeatures && !rc; f++) {
            rc = fbuf_adds(out, first_col ? "{\"values\":[" : ",{\"values\":[");
            first_col = false;
            for (size_t r = 0; r < nrows && !rc; r++) {
                if (r)
                    rc = fbuf_addc(out, ',');
                size_t cell = r * ref->res.nfeatures + f;
                if (!rc && ref->res.found[r] && ref->res.val_len[cell])
                    rc = feast_value_to_json(ref->res.bytes.data + ref->res.val_off[cell], ref->res.val_len[cell],
                                             out, err);
                else if (!rc)
                    rc = fbuf_adds(out, "null");
            }
            if (!rc)
                rc = fbuf_adds(out, "],\"statuses\":[");
            for (size_t r = 0; r < nrows && !rc; r++)
                rc = fbuf_addf(out, "%s\"%s\"", r ? "," : "", ref->res.found[r] ? "PRESENT" : "NOT_FOUND");
            if (!rc)
                rc = fbuf_adds(out, "],\"event_timestamps\":[");
            for (size_t r = 0; r < nrows && !rc; r++) {
                char ts[FERRY_TIME_BUF];
                if (r)
                    rc = fbuf_addc(out, ',');
                if (!rc && ref->res.found[r] && ref->res.event_ns[r] != FERRY_TIME_NONE)
                    rc = fbuf_addf(out, "\"%s\"", ferry_time_format_rfc3339(ref->res.event_ns[r], ts));
                else if (!rc)
                    rc = fbuf_adds(out, EPOCH_TS);
            }
            if (!rc)
                rc = fbuf_adds(out, "]}");
        }
    }
    if (!rc)
        rc = fbuf_adds(out, "],\"metadata\":{\"feature_names\":[");
    first_col = true;
    for (size_t e = 0; e < req->nentities && !rc; e++, first_col = false)
        if (!(rc = first_col ? 0 : fbuf_addc(out, ',')))
            rc = fbuf_add_json_str(out, req->entities[e].name, strlen(req->entities[e].name));
    for (size_t i = 0; i < nrefs && !rc; i++)
        for (size_t f = 0; f < refs[i].nfeatures && !rc; f++, first_col = false) {
            if (!first_col)
                rc = fbuf_addc(out, ',');
            char *name = req->full_feature_names ? xasprintf("%s__%s", refs[i].view->name, refs[i].features[f])
                                                 : xstrdup(refs[i].features[f]);
            if (!rc)
                rc = fbuf_add_json_str(out, name, strlen(name));
            free(name);
        }
    if (!rc)
        rc = fbuf_adds(out, "]}}");
    if (rc && !err->code)
        ferry_errf(err, rc, "response exceeds %u bytes", RESPONSE_MAX);
    return rc;
}

/* Each serving thread keeps its online store open between requests (libmicrohttpd runs a thread
 * per connection, so a keep-alive client reuses it): opening SQLite or connecting to Redis on every
 * read cost more than the read. A store is used by its own thread only; it is closed when the
 * thread exits or when the configuration names another store. */
struct cached_store {
    struct online_store *st;
    char *key;                  /* type + path/connection string it was opened for */
};

static pthread_key_t store_key;
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

static void cached_store_free(void *p)
{
    struct cached_store *c = p;
    if (c) {
        online_close(c->st);
        free(c->key);
        free(c);
    }
}

static void store_key_init(void) { (void)pthread_key_create(&store_key, cached_store_free); }

static int thread_store(const struct ferry_config *cfg, struct online_store **out, struct ferry_err *err)
{
    pthread_once(&store_once, store_key_init);
    char *key = xasprintf("%s|%s|%s", cfg->online.type ? cfg->online.type : "",
                          cfg->online.path ? cfg->online.path : "",
                          cfg->online.connection_string ? cfg->online.connection_string : "");
    struct cached_store *c = pthread_getspecific(store_key);
    if (c && strcmp(c->key, key) == 0) {
        free(key);
        *out = c->st;
        return 0;
    }
    cached_store_free(c);
    pthread_setspecific(store_key, NULL);
    struct online_store *st = NULL;
    int rc = online_open(cfg, &st, err);
    if (rc) {
        free(key);
        return rc;
    }
    c = xcalloc(1, sizeof *c);
    c->st = st;
    c->key = key;
    pthread_setspecific(store_key, c);
    *out = st;
    return 0;
}

int engine_get_online_features(const struct ferry_config *cfg, const struct engine_features_request *req,
                               struct fbuf *json, struct ferry_err *err)
{
    const struct feast_view *views = NULL;
    struct views_snapshot *snap = NULL;
    size_t nviews = 0, nrefs = 0, nrows = 0;
    struct view_ref *refs = NULL;
    struct online_store *on = NULL;
    struct fbuf *keys = NULL;
    char **split = NULL;
    int rc;

    if (req->nfeatures == 0)
        return ferry_errf(err, FERRY_EINVAL, "no features requested");
    if (req->nentities == 0)
        return ferry_errf(err, FERRY_EINVAL, "no entities given");
    nrows = req->entities[0].nvalues;
    for (size_t e = 1; e < req->nentities; e++)
        if (req->entities[e].nvalues != nrows)
            return ferry_errf(err, FERRY_EINVAL,
                              "entity '%s' has %zu values but '%s' has %zu: every entity key needs one value per row",
                              req->entities[e].name, req->entities[e].nvalues, req->entities[0].name, nrows);
    for (size_t e = 0; e < req->nentities; e++)
        for (size_t j = e + 1; j < req->nentities; j++)
            if (strcmp(req->entities[e].name, req->entities[j].name) == 0)
                return ferry_errf(err, FERRY_EINVAL, "entity '%s' is given twice", req->entities[e].name);
    if ((rc = engine_views_acquire(cfg, &snap, &views, &nviews, err)) != 0)
        return rc;

    refs = xcalloc(req->nfeatures, sizeof *refs);
    split = xcalloc(req->nfeatures, sizeof *split);
    for (size_t i = 0; i < req->nfeatures; i++) {
        const char *ref = req->features[i];
        const char *colon = strchr(ref, ':');
        if (!colon || colon == ref || !colon[1]) {
            rc = ferry_errf(err, FERRY_EINVAL, "feature reference '%s' is not of the form view:feature", ref);
            goto out;
        }
        split[i] = xstrndup(ref, (size_t)(colon - ref));
        const char *fname = colon + 1;
        const struct feast_view *v = NULL;
        for (size_t k = 0; k < nviews && !v; k++)
            if (views[k].kind != FEAST_VIEW_ON_DEMAND && strcmp(views[k].name, split[i]) == 0)
                v = &views[k];
        if (!v) {
            rc = ferry_errf(err, FERRY_ENOTFOUND, "feature view '%s' not found in project '%s'", split[i],
                            cfg->project);
            goto out;
        }
        bool known = false;
        for (size_t k = 0; k < v->nfeatures; k++)
            known |= strcmp(v->features[k].name, fname) == 0;
        if (!known) {
            rc = ferry_errf(err, FERRY_ENOTFOUND, "feature '%s' not found in feature view '%s'", fname, v->name);
            goto out;
        }
        struct view_ref *r = NULL;
        for (size_t k = 0; k < nrefs && !r; k++)
            if (refs[k].view == v)
                r = &refs[k];
        if (!r) {
            r = &refs[nrefs++];
            r->view = v;
            r->features = xcalloc(req->nfeatures, sizeof *r->features);
        }
        bool dup = false;
        for (size_t k = 0; k < r->nfeatures; k++)
            dup |= strcmp(r->features[k], fname) == 0;
        if (!dup)
            r->features[r->nfeatures++] = fname;
    }

    rc = req->keep_store_open ? thread_store(cfg, &on, err) : online_open(cfg, &on, err);
    if (rc)
        goto out;
    keys = xcalloc(nrows ? nrows : 1, sizeof *keys);
    for (size_t i = 0; i < nrefs; i++) {
        for (size_t r = 0; r < nrows; r++)
            fbuf_cleanup(&keys[r]);
        if ((rc = build_keys(cfg, req, refs[i].view, nrows, keys, err)) != 0)
            goto out;
        rc = online_read(on, cfg->project, refs[i].view, keys, nrows, refs[i].features, refs[i].nfeatures,
                         &refs[i].res, err);
        if (rc)
            goto out;
        refs[i].have_res = true;
    }
    rc = render(req, refs, nrefs, nrows, json, err);
out:
    if (keys)
        for (size_t r = 0; r < nrows; r++)
            fbuf_cleanup(&keys[r]);
    free(keys);
    for (size_t i = 0; i < nrefs; i++) {
        if (refs[i].have_res)
            online_read_result_cleanup(&refs[i].res);
        free(refs[i].features);
    }
    for (size_t i = 0; i < req->nfeatures; i++)
        free(split[i]);
    free(split);
    free(refs);
    if (!req->keep_store_open)
        online_close(on);
    engine_views_release(snap);
    return rc;
}
