/* The Feast file registry (feast-compat.md §7): parsing registry.db into ferry's object model, and
 * the locked read-modify-write updates ferry makes (materialization intervals, lifecycle state,
 * apply). The parsed protobuf-c tree is the single source of truth: model objects are copies, and
 * writes edit the tree in place so fields ferry does not model (unknown to our .proto subset) are
 * re-emitted untouched. Every node of the tree is malloc'd (protobuf-c's default allocator), so
 * nodes we create or replace are freed by protobuf_c_message_free_unpacked like parsed ones. */
#include "registry/registry.h"
#include "registry/registry_pb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <uuid/uuid.h>

#include "core/time.h"
#include "core/util.h"

struct registry {
    Feast__Core__Registry *msg;
};

/* ---------------------------------------------------------------- loading */

int reg_parse(const char *path, const void *data, size_t len, Feast__Core__Registry **out,
              struct ferry_err *err)
{
    *out = feast__core__registry__unpack(NULL, len, data);
    if (!*out)
        return ferry_errf(err, FERRY_ECONFIG, "%s: not a Feast registry (protobuf parse failed)", path);
    return 0;
}

int reg_read(const char *path, Feast__Core__Registry **out, struct ferry_err *err)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = file_read_all(path, REG_MAX_BYTES, &data, &len, err);
    if (rc)
        return rc;
    rc = reg_parse(path, data, len, out, err);
    free(data);
    return rc;
}

int registry_load(const char *path, struct registry **out, struct ferry_err *err)
{
    *out = NULL;
    Feast__Core__Registry *msg;
    int rc = reg_read(path, &msg, err);
    if (rc)
        return rc;
    struct registry *r = xcalloc(1, sizeof *r);
    r->msg = msg;
    *out = r;
    return 0;
}

void registry_free(struct registry *reg)
{
    if (!reg)
        return;
    if (reg->msg)
        protobuf_c_message_free_unpacked(&reg->msg->base, NULL);
    free(reg);
}

/* ---------------------------------------------------------------- time */

int64_t reg_ts_ns(const Feast__Core__Timestamp *ts)
{
    if (!ts)
        return FERRY_TIME_NONE;
    return ts->seconds * FERRY_NS_PER_SEC + ts->nanos;
}

Feast__Core__Timestamp *reg_ts_new(int64_t ns)
{
    Feast__Core__Timestamp *ts = xmalloc(sizeof *ts);
    Feast__Core__Timestamp init = FEAST__CORE__TIMESTAMP__INIT;
    *ts = init;
    /* Floor division: protobuf Timestamps have non-negative nanos even before 1970. */
    int64_t sec = ns / FERRY_NS_PER_SEC, rem = ns % FERRY_NS_PER_SEC;
    if (rem < 0) {
        sec--;
        rem += FERRY_NS_PER_SEC;
    }
    ts->seconds = sec;
    ts->nanos = (int32_t)rem;
    return ts;
}

void reg_ts_set(Feast__Core__Timestamp **field, int64_t ns)
{
    if (*field)
        protobuf_c_message_free_unpacked(&(*field)->base, NULL);
    *field = reg_ts_new(ns);
}

int64_t reg_now_ns(void)
{
    /* Python's datetime has microseconds: Feast writes nanos = µs * 1000. Do the same. */
    int64_t now = ferry_now_ns();
    return now - now % 1000;
}

char *reg_str_new(const char *s)
{
    return s && *s ? xstrdup(s) : (char *)protobuf_c_empty_string;
}

void reg_str_set(char **field, const char *s)
{
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = reg_str_new(s);
}

char *reg_uuid4(void)
{
    uuid_t u;
    uuid_generate_random(u);
    char *out = xmalloc(37);
    uuid_unparse_lower(u, out);
    return out;
}

static int64_t duration_ns(const Feast__Core__Duration *d)
{
    return d ? d->seconds * FERRY_NS_PER_SEC + d->nanos : 0;
}

/* ---------------------------------------------------------------- proto -> model */

/* Every map<string,string> entry type protobuf-c generates has this layout. */
struct pb_kv {
    ProtobufCMessage base;
    char *key;
    char *value;
};

static char *dup_nonempty(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

static struct feast_kv *kvs_from_pb(void *const *entries, size_t n, size_t *nout)
{
    *nout = n;
    if (!n)
        return NULL;
    struct feast_kv *kv = xcalloc(n, sizeof *kv);
    for (size_t i = 0; i < n; i++) {
        const struct pb_kv *e = entries[i];
        kv[i].key = xstrdup(e->key ? e->key : "");
        kv[i].value = xstrdup(e->value ? e->value : "");
    }
    return kv;
}

static struct feast_feature *features_from_pb(Feast__Core__FeatureSpecV2 *const *f, size_t n,
                                              size_t *nout)
{
    *nout = n;
    if (!n)
        return NULL;
    struct feast_feature *out = xcalloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].name = xstrdup(f[i]->name ? f[i]->name : "");
        out[i].vtype = f[i]->value_type;
        out[i].description = dup_nonempty(f[i]->description);
    }
    return out;
}

static void source_from_pb(struct feast_source *s, const Feast__Core__DataSource *d)
{
    memset(s, 0, sizeof *s);
    if (!d)
        return;
    s->name = dup_nonempty(d->name);
    s->timestamp_field = dup_nonempty(d->timestamp_field);
    s->created_column = dup_nonempty(d->created_timestamp_column);
    s->description = dup_nonempty(d->description);
    s->field_mapping = kvs_from_pb((void *const *)d->field_mapping, d->n_field_mapping,
                                   &s->nfield_mapping);
    if (d->options_case == FEAST__CORE__DATA_SOURCE__OPTIONS_FILE_OPTIONS && d->file_options) {
        s->kind = FEAST_SOURCE_FILE;
        s->path = dup_nonempty(d->file_options->uri);
        /* Feast's FileSource reads CSV only through a file name; anything else is parquet. */
        s->file_format = s->path && str_ends_with(s->path, ".csv") ? FEAST_FORMAT_CSV
                                                                    : FEAST_FORMAT_PARQUET;
    } else if (d->options_case == FEAST__CORE__DATA_SOURCE__OPTIONS_SNOWFLAKE_OPTIONS && d->snowflake_options) {
        const Feast__Core__DataSource__SnowflakeOptions *o = d->snowflake_options;
        s->kind = FEAST_SOURCE_SNOWFLAKE;
        s->table = dup_nonempty(o->table);
        s->query = dup_nonempty(o->query);
        s->schema = dup_nonempty(o->schema);
        s->database = dup_nonempty(o->database);
    } else if (d->options_case == FEAST__CORE__DATA_SOURCE__OPTIONS_CUSTOM_OPTIONS && d->custom_options &&
               d->data_source_class_type && str_ends_with(d->data_source_class_type, ".PostgreSQLSource")) {
        /* PostgreSQLSource keeps json.dumps({"name", "query", "table"}) in the custom options; an
         * unreadable one leaves the source without a table or query, which the offline store
         * reports by view name. */
        s->kind = FEAST_SOURCE_POSTGRES;
        const ProtobufCBinaryData *c = &d->custom_options->configuration;
        json_t *j = c->len ? json_loadb((const char *)c->data, c->len, 0, NULL) : NULL;
        const char *t = j ? json_string_value(json_object_get(j, "table")) : NULL;
        const char *q = j ? json_string_value(json_object_get(j, "query")) : NULL;
        s->table = dup_nonempty(t);
        s->query = dup_nonempty(q);
        json_decref(j);
    }
}

static void intervals_from_meta(struct feast_view *v, const Feast__Core__FeatureViewMeta *m)
{
    if (!m || !m->n_materialization_intervals)
        return;
    v->intervals = xcalloc(m->n_materialization_intervals, sizeof *v->intervals);
    for (size_t i = 0; i < m->n_materialization_intervals; i++) {
        const Feast__Core__MaterializationInterval *iv = m->materialization_intervals[i];
        v->intervals[v->nintervals].start_ns = reg_ts_ns(iv->start_time);
        v->intervals[v->nintervals].end_ns = reg_ts_ns(iv->end_time);
        /* A missing Timestamp reads back as the epoch in Python. */
        if (v->intervals[v->nintervals].start_ns == FERRY_TIME_NONE)
            v->intervals[v->nintervals].start_ns = 0;
        if (v->intervals[v->nintervals].end_ns == FERRY_TIME_NONE)
            v->intervals[v->nintervals].end_ns = 0;
        v->nintervals++;
    }
}

static char **strs_copy(char *const *s, size_t n, size_t *nout)
{
    *nout = n;
    if (!n)
        return NULL;
    char **out = xcalloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(s[i] ? s[i] : "");
    return out;
}

static bool in_project(const char *p, const char *project)
{
    return str_eq(p ? p : "", project);
}

/* Entity columns were added to FeatureViewSpec late; older registries lack them. Then the key
 * types come from the entities' join keys and declared types, like Feast's from_proto does. */
static void infer_entity_columns(struct feast_view *v, const Feast__Core__Registry *r, const char *project)
{
    if (v->nentity_columns || !v->nentities)
        return;
    v->entity_columns = xcalloc(v->nentities, sizeof *v->entity_columns);
    for (size_t i = 0; i < v->nentities; i++) {
        struct feast_feature *c = &v->entity_columns[v->nentity_columns];
        if (str_eq(v->entities[i], FEAST_DUMMY_ENTITY)) {
            c->name = xstrdup(FEAST_DUMMY_ENTITY_ID);
            c->vtype = FEAST_VT_STRING;
            v->nentity_columns++;
            continue;
        }
        for (size_t j = 0; j < r->n_entities; j++) {
            const Feast__Core__EntitySpecV2 *es = r->entities[j]->spec;
            if (!es || !in_project(es->project, project) || !str_eq(es->name, v->entities[i]))
                continue;
            c->name = xstrdup(es->join_key && *es->join_key ? es->join_key : es->name);
            c->vtype = es->value_type;
            v->nentity_columns++;
            break;
        }
    }
}

/* Batch and stream views share FeatureViewMeta: intervals, state and timestamps. */
static void meta_from_pb(struct feast_view *v, const Feast__Core__FeatureViewMeta *m)
{
    intervals_from_meta(v, m);
    v->state = m ? m->state : 0;
    v->created_ns = m ? reg_ts_ns(m->created_timestamp) : FERRY_TIME_NONE;
    v->updated_ns = m ? reg_ts_ns(m->last_updated_timestamp) : FERRY_TIME_NONE;
}

/* The batch and stream view specs are different generated types with the same field names for
 * what the model needs, so one macro reads both. */
#define VIEW_SPEC_COMMON(v, s, m)                                                                  \
    do {                                                                                           \
        (v)->name = xstrdup((s)->name);                                                            \
        (v)->entities = strs_copy((s)->entities, (s)->n_entities, &(v)->nentities);                \
        (v)->entity_columns = features_from_pb((s)->entity_columns, (s)->n_entity_columns,        \
                                               &(v)->nentity_columns);                             \
        (v)->features = features_from_pb((s)->features, (s)->n_features, &(v)->nfeatures);         \
        (v)->ttl_ns = duration_ns((s)->ttl);                                                       \
        (v)->online = (s)->online;                                                                 \
        (v)->disabled = (s)->disabled;                                                             \
        source_from_pb(&(v)->source, (s)->batch_source);                                           \
        (v)->description = dup_nonempty((s)->description);                                         \
        (v)->tags = kvs_from_pb((void *const *)(s)->tags, (s)->n_tags, &(v)->ntags);               \
        meta_from_pb((v), (m));                                                                    \
    } while (0)

static void view_from_fv(struct feast_view *v, const Feast__Core__FeatureView *fv)
{
    v->kind = FEAST_VIEW_BATCH;
    VIEW_SPEC_COMMON(v, fv->spec, fv->meta);
    v->offline = fv->spec->offline;
}

static void view_from_sfv(struct feast_view *v, const Feast__Core__StreamFeatureView *fv)
{
    v->kind = FEAST_VIEW_STREAM;
    VIEW_SPEC_COMMON(v, fv->spec, fv->meta);
    v->offline = false;            /* stream views have no offline flag */
}

static void view_from_odfv(struct feast_view *v, const Feast__Core__OnDemandFeatureView *fv)
{
    const Feast__Core__OnDemandFeatureViewSpec *s = fv->spec;
    const Feast__Core__OnDemandFeatureViewMeta *m = fv->meta;
    v->kind = FEAST_VIEW_ON_DEMAND;
    v->name = xstrdup(s->name);
    v->entities = strs_copy(s->entities, s->n_entities, &v->nentities);
    v->entity_columns = features_from_pb(s->entity_columns, s->n_entity_columns, &v->nentity_columns);
    v->features = features_from_pb(s->features, s->n_features, &v->nfeatures);
    v->write_to_online_store = s->write_to_online_store;
    v->online = s->write_to_online_store;
    v->disabled = s->disabled;
    v->description = dup_nonempty(s->description);
    v->tags = kvs_from_pb((void *const *)s->tags, s->n_tags, &v->ntags);
    v->state = m ? m->state : 0;
    v->created_ns = m ? reg_ts_ns(m->created_timestamp) : FERRY_TIME_NONE;
    v->updated_ns = m ? reg_ts_ns(m->last_updated_timestamp) : FERRY_TIME_NONE;
}

/* ---------------------------------------------------------------- listing */

static void add_name(char ***names, size_t *n, size_t *cap, const char *name)
{
    if (!name || !*name)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*names)[i], name) == 0)
            return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *names = xrealloc(*names, *cap * sizeof **names);
    }
    (*names)[(*n)++] = xstrdup(name);
}

int registry_projects(const struct registry *reg, char ***names, size_t *n)
{
    const Feast__Core__Registry *r = reg->msg;
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    for (size_t i = 0; i < r->n_projects; i++)
        if (r->projects[i]->spec)
            add_name(names, n, &cap, r->projects[i]->spec->name);
    for (size_t i = 0; i < r->n_project_metadata; i++)
        add_name(names, n, &cap, r->project_metadata[i]->project);
    for (size_t i = 0; i < r->n_entities; i++)
        if (r->entities[i]->spec)
            add_name(names, n, &cap, r->entities[i]->spec->project);
    for (size_t i = 0; i < r->n_feature_views; i++)
        if (r->feature_views[i]->spec)
            add_name(names, n, &cap, r->feature_views[i]->spec->project);
    for (size_t i = 0; i < r->n_stream_feature_views; i++)
        if (r->stream_feature_views[i]->spec)
            add_name(names, n, &cap, r->stream_feature_views[i]->spec->project);
    for (size_t i = 0; i < r->n_on_demand_feature_views; i++)
        if (r->on_demand_feature_views[i]->spec)
            add_name(names, n, &cap, r->on_demand_feature_views[i]->spec->project);
    for (size_t i = 0; i < r->n_data_sources; i++)
        add_name(names, n, &cap, r->data_sources[i]->project);
    return 0;
}

int registry_entities(const struct registry *reg, const char *project, struct feast_entity **out,
                      size_t *n, struct ferry_err *err)
{
    const Feast__Core__Registry *r = reg->msg;
    *out = NULL;
    *n = 0;
    if (!r->n_entities)
        return 0;
    struct feast_entity *es = xcalloc(r->n_entities, sizeof *es);
    for (size_t i = 0; i < r->n_entities; i++) {
        const Feast__Core__EntitySpecV2 *s = r->entities[i]->spec;
        if (!s || !in_project(s->project, project))
            continue;
        struct feast_entity *e = &es[(*n)++];
        e->name = xstrdup(s->name);
        e->join_key = xstrdup(s->join_key && *s->join_key ? s->join_key : s->name);
        e->vtype = s->value_type;
        /* The dummy entity is stored without a type; its key is always the empty string. */
        if (str_eq(s->name, FEAST_DUMMY_ENTITY) && e->vtype == FEAST_VT_INVALID)
            e->vtype = FEAST_VT_STRING;
        e->description = dup_nonempty(s->description);
        e->tags = kvs_from_pb((void *const *)s->tags, s->n_tags, &e->ntags);
    }
    if (!*n) {
        free(es);
        es = NULL;
    }
    *out = es;
    return 0;
}

int registry_views(const struct registry *reg, const char *project, struct feast_view **out, size_t *n,
                   struct ferry_err *err)
{
    const Feast__Core__Registry *r = reg->msg;
    size_t total = r->n_feature_views + r->n_stream_feature_views + r->n_on_demand_feature_views;
    *out = NULL;
    *n = 0;
    if (!total)
        return 0;
    struct feast_view *vs = xcalloc(total, sizeof *vs);
    for (size_t i = 0; i < r->n_feature_views; i++) {
        const Feast__Core__FeatureView *fv = r->feature_views[i];
        if (fv->spec && in_project(fv->spec->project, project))
            view_from_fv(&vs[(*n)++], fv);
    }
    for (size_t i = 0; i < r->n_stream_feature_views; i++) {
        const Feast__Core__StreamFeatureView *fv = r->stream_feature_views[i];
        if (fv->spec && in_project(fv->spec->project, project))
            view_from_sfv(&vs[(*n)++], fv);
    }
    for (size_t i = 0; i < r->n_on_demand_feature_views; i++) {
        const Feast__Core__OnDemandFeatureView *fv = r->on_demand_feature_views[i];
        if (fv->spec && in_project(fv->spec->project, project))
            view_from_odfv(&vs[(*n)++], fv);
    }
    for (size_t i = 0; i < *n; i++)
        infer_entity_columns(&vs[i], r, project);
    if (!*n) {
        free(vs);
        vs = NULL;
    }
    *out = vs;
    return 0;
}

void registry_views_free(struct feast_view *views, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feast_view_cleanup(&views[i]);
    free(views);
}

void registry_entities_free(struct feast_entity *entities, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feast_entity_cleanup(&entities[i]);
    free(entities);
}

/* ---------------------------------------------------------------- intervals */

static int cmp_interval(const void *a, const void *b)
{
    const struct feast_interval *x = a, *y = b;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return (x->end_ns > y->end_ns) - (x->end_ns < y->end_ns);
}

/* Feast only appends, so registries it wrote may hold overlapping intervals in any order; the
 * whole list is therefore sorted and coalesced, not just the new interval inserted. */
void registry_merge_interval(struct feast_interval **list, size_t *n, struct feast_interval add)
{
    struct feast_interval *l = xrealloc(*list, (*n + 1) * sizeof *l);
    l[(*n)++] = add;
    qsort(l, *n, sizeof *l, cmp_interval);
    size_t out = 0;
    for (size_t i = 0; i < *n; i++) {
        /* Both window ends are inclusive (§2.5), so [a,b] and [b,c] touch and become [a,c]. */
        if (out > 0 && l[i].start_ns <= l[out - 1].end_ns) {
            if (l[i].end_ns > l[out - 1].end_ns)
                l[out - 1].end_ns = l[i].end_ns;
        } else {
            l[out++] = l[i];
        }
    }
    *n = out;
    *list = l;
}

/* ---------------------------------------------------------------- locked updates */

static struct registry_update_lock update_lock;   /* registry_set_update_lock; zero = none */

void registry_set_update_lock(const struct registry_update_lock *l)
{
    if (l)
        update_lock = *l;
    else
        memset(&update_lock, 0, sizeof update_lock);
}

int reg_update(const char *path, bool create, reg_edit_fn edit, void *ctx, struct ferry_err *err)
{
    if (create) {
        int rc = file_mkdir_parent(path, err);
        if (rc)
            return rc;
    }
    char *lock_path = xasprintf("%s.lock", path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        int rc = ferry_errf(err, e == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO, "%s: cannot open lock file: %s",
                            lock_path, strerror(e));
        free(lock_path);
        return rc;
    }
    int rc = 0;
    bool hooked = false;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rc = ferry_errf(err, FERRY_EIO, "%s: cannot lock: %s", lock_path, strerror(errno));
            goto out;
        }
    }
    /* The cross-machine lock (if any) nests inside the local one, so a process holds it only while
     * it is about to write. */
    if (update_lock.lock) {
        if ((rc = update_lock.lock(update_lock.ctx, path, err)) != 0)
            goto out;
        hooked = true;
    }
    /* Reload under the lock: another process may have written since our caller last read. */
    Feast__Core__Registry *msg = NULL;
    rc = reg_read(path, &msg, err);
    if (rc == FERRY_ENOTFOUND && create) {
        ferry_err_clear(err);
        msg = xmalloc(sizeof *msg);
        Feast__Core__Registry init = FEAST__CORE__REGISTRY__INIT;
        *msg = init;
        msg->registry_schema_version = xstrdup("1");
        rc = 0;
    }
    if (rc)
        goto out;
    int64_t now = reg_now_ns();
    rc = edit(msg, ctx, now, err);
    if (rc == 0) {
        reg_str_set(&msg->version_id, NULL);
        msg->version_id = reg_uuid4();
        reg_ts_set(&msg->last_updated, now);
        size_t len = feast__core__registry__get_packed_size(msg);
        uint8_t *buf = xmalloc(len ? len : 1);
        feast__core__registry__pack(msg, buf);
        rc = file_write_atomic(path, buf, len, err);
        free(buf);
    }
    protobuf_c_message_free_unpacked(&msg->base, NULL);
out:
    if (hooked && update_lock.unlock)
        update_lock.unlock(update_lock.ctx, path);
    flock(fd, LOCK_UN);
    close(fd);
    free(lock_path);
    return rc;
}

/* ---------------------------------------------------------------- record / state */

/* Index of the view in feature_views (*stream false) or stream_feature_views (*stream true), or -1. */
static long find_view(const Feast__Core__Registry *r, const char *project, const char *view, bool *stream)
{
    for (size_t i = 0; i < r->n_feature_views; i++) {
        const Feast__Core__FeatureViewSpec *s = r->feature_views[i]->spec;
        if (s && str_eq(s->name, view) && in_project(s->project, project)) {
            *stream = false;
            return (long)i;
        }
    }
    for (size_t i = 0; i < r->n_stream_feature_views; i++) {
        const Feast__Core__StreamFeatureViewSpec *s = r->stream_feature_views[i]->spec;
        if (s && str_eq(s->name, view) && in_project(s->project, project)) {
            *stream = true;
            return (long)i;
        }
    }
    return -1;
}

static Feast__Core__FeatureViewMeta **meta_slot(Feast__Core__Registry *r, long idx, bool stream)
{
    return stream ? &r->stream_feature_views[idx]->meta : &r->feature_views[idx]->meta;
}

static Feast__Core__FeatureViewMeta *meta_get(Feast__Core__Registry *r, long idx, bool stream)
{
    Feast__Core__FeatureViewMeta **slot = meta_slot(r, idx, stream);
    if (!*slot) {
        *slot = xmalloc(sizeof **slot);
        Feast__Core__FeatureViewMeta init = FEAST__CORE__FEATURE_VIEW_META__INIT;
        **slot = init;
    }
    return *slot;
}

/* Moves element idx of a repeated field of pointers to the end, as Feast's delete + append does. */
static void move_to_end(void **items, size_t n, size_t idx)
{
    void *item = items[idx];
    memmove(&items[idx], &items[idx + 1], (n - idx - 1) * sizeof *items);
    items[n - 1] = item;
}

struct record_ctx {
    const char *project, *view;
    int64_t start_ns, end_ns;
};

static int record_edit(Feast__Core__Registry *r, void *vctx, int64_t now, struct ferry_err *err)
{
    struct record_ctx *c = vctx;
    bool stream;
    long idx = find_view(r, c->project, c->view, &stream);
    if (idx < 0)
        return ferry_errf(err, FERRY_ENOTFOUND, "feature view %s not found in project %s", c->view,
                          c->project);
    Feast__Core__FeatureViewMeta *m = meta_get(r, idx, stream);
    struct feast_interval *list = NULL;
    size_t n = 0;
    if (m->n_materialization_intervals)
        list = xcalloc(m->n_materialization_intervals, sizeof *list);
    for (size_t i = 0; i < m->n_materialization_intervals; i++) {
        const Feast__Core__MaterializationInterval *iv = m->materialization_intervals[i];
        int64_t s = reg_ts_ns(iv->start_time), e = reg_ts_ns(iv->end_time);
        list[n].start_ns = s == FERRY_TIME_NONE ? 0 : s;
        list[n].end_ns = e == FERRY_TIME_NONE ? 0 : e;
        n++;
    }
    registry_merge_interval(&list, &n, (struct feast_interval){c->start_ns, c->end_ns});
    for (size_t i = 0; i < m->n_materialization_intervals; i++)
        protobuf_c_message_free_unpacked(&m->materialization_intervals[i]->base, NULL);
    free(m->materialization_intervals);
    m->materialization_intervals = xcalloc(n, sizeof *m->materialization_intervals);
    m->n_materialization_intervals = n;
    for (size_t i = 0; i < n; i++) {
        Feast__Core__MaterializationInterval *iv = xmalloc(sizeof *iv);
        Feast__Core__MaterializationInterval init = FEAST__CORE__MATERIALIZATION_INTERVAL__INIT;
        *iv = init;
        iv->start_time = reg_ts_new(list[i].start_ns);
        iv->end_time = reg_ts_new(list[i].end_ns);
        m->materialization_intervals[i] = iv;
    }
    free(list);
    reg_ts_set(&m->last_updated_timestamp, now);
    m->state = FEAST_STATE_AVAILABLE_ONLINE;
    if (stream)
        move_to_end((void **)r->stream_feature_views, r->n_stream_feature_views, (size_t)idx);
    else
        move_to_end((void **)r->feature_views, r->n_feature_views, (size_t)idx);
    return 0;
}

int registry_record_materialization(const char *path, const char *project, const char *view,
                                    int64_t start_ns, int64_t end_ns, struct ferry_err *err)
{
    if (start_ns > end_ns)
        return ferry_errf(err, FERRY_EINVAL, "view %s: materialization interval starts after it ends",
                          view);
    struct record_ctx c = {project, view, start_ns, end_ns};
    int rc = reg_update(path, false, record_edit, &c, err);
    if (rc)
        ferry_err_prefix(err, "recording materialization of %s in %s: ", view, path);
    return rc;
}

struct state_ctx {
    const char *project, *view;
    int state;
    int prev;
};

static int state_edit(Feast__Core__Registry *r, void *vctx, int64_t now, struct ferry_err *err)
{
    struct state_ctx *c = vctx;
    bool stream;
    long idx = find_view(r, c->project, c->view, &stream);
    if (idx < 0)
        return ferry_errf(err, FERRY_ENOTFOUND, "feature view %s not found in project %s", c->view,
                          c->project);
    Feast__Core__FeatureViewMeta *m = meta_get(r, idx, stream);
    c->prev = m->state;
    m->state = c->state;
    reg_ts_set(&m->last_updated_timestamp, now);
    return 0;
}

int registry_set_state(const char *path, const char *project, const char *view, int state, int *prev,
                       struct ferry_err *err)
{
    if (state < FEAST_STATE_UNSPECIFIED || state > FEAST_STATE_AVAILABLE_ONLINE)
        return ferry_errf(err, FERRY_EINVAL, "view %s: invalid lifecycle state %d", view, state);
    struct state_ctx c = {project, view, state, 0};
    int rc = reg_update(path, false, state_edit, &c, err);
    if (rc)
        return ferry_err_prefix(err, "setting the state of %s in %s: ", view, path);
    if (prev)
        *prev = c.prev;
    return 0;
}
