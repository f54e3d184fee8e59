/* Lifetime of the Feast object model (feast.h): cleanup and deep copies. */
#include "feast/feast.h"
#include "core/time.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

void feast_kvs_free(struct feast_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static struct feast_kv *kvs_copy(const struct feast_kv *kv, size_t n)
{
    if (!n)
        return NULL;
    struct feast_kv *out = xcalloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].key = xstrdup(kv[i].key);
        out[i].value = xstrdup(kv[i].value);
    }
    return out;
}

static void features_free(struct feast_feature *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].description);
    }
    free(f);
}

static struct feast_feature *features_copy(const struct feast_feature *f, size_t n)
{
    if (!n)
        return NULL;
    struct feast_feature *out = xcalloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].name = xstrdup(f[i].name);
        out[i].vtype = f[i].vtype;
        out[i].description = xstrdup(f[i].description);
    }
    return out;
}

void feast_entity_cleanup(struct feast_entity *e)
{
    free(e->name);
    free(e->join_key);
    free(e->description);
    feast_kvs_free(e->tags, e->ntags);
    memset(e, 0, sizeof *e);
}

void feast_source_cleanup(struct feast_source *s)
{
    free(s->name);
    free(s->path);
    free(s->table);
    free(s->query);
    free(s->database);
    free(s->schema);
    free(s->timestamp_field);
    free(s->created_column);
    free(s->description);
    feast_kvs_free(s->field_mapping, s->nfield_mapping);
    memset(s, 0, sizeof *s);
}

void feast_source_copy(struct feast_source *dst, const struct feast_source *src)
{
    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->path = xstrdup(src->path);
    dst->table = xstrdup(src->table);
    dst->query = xstrdup(src->query);
    dst->database = xstrdup(src->database);
    dst->schema = xstrdup(src->schema);
    dst->timestamp_field = xstrdup(src->timestamp_field);
    dst->created_column = xstrdup(src->created_column);
    dst->description = xstrdup(src->description);
    dst->field_mapping = kvs_copy(src->field_mapping, src->nfield_mapping);
}

bool feast_source_is_sql(const struct feast_source *s)
{
    return s->kind == FEAST_SOURCE_POSTGRES || s->kind == FEAST_SOURCE_SNOWFLAKE ||
           s->kind == FEAST_SOURCE_ODBC;
}

const char *feast_source_target(const struct feast_source *s)
{
    if (!feast_source_is_sql(s))
        return s->path ? s->path : "";
    if (s->table && *s->table)
        return s->table;
    return "query";
}

void feast_view_cleanup(struct feast_view *v)
{
    free(v->name);
    for (size_t i = 0; i < v->nentities; i++)
        free(v->entities[i]);
    free(v->entities);
    features_free(v->entity_columns, v->nentity_columns);
    features_free(v->features, v->nfeatures);
    feast_source_cleanup(&v->source);
    free(v->description);
    feast_kvs_free(v->tags, v->ntags);
    free(v->intervals);
    memset(v, 0, sizeof *v);
}

void feast_view_copy(struct feast_view *dst, const struct feast_view *src)
{
    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->entities = src->nentities ? xcalloc(src->nentities, sizeof *dst->entities) : NULL;
    for (size_t i = 0; i < src->nentities; i++)
        dst->entities[i] = xstrdup(src->entities[i]);
    dst->entity_columns = features_copy(src->entity_columns, src->nentity_columns);
    dst->features = features_copy(src->features, src->nfeatures);
    feast_source_copy(&dst->source, &src->source);
    dst->description = xstrdup(src->description);
    dst->tags = kvs_copy(src->tags, src->ntags);
    dst->intervals = NULL;
    if (src->nintervals) {
        dst->intervals = xcalloc(src->nintervals, sizeof *dst->intervals);
        memcpy(dst->intervals, src->intervals, src->nintervals * sizeof *dst->intervals);
    }
}

void feast_defs_cleanup(struct feast_defs *d)
{
    for (size_t i = 0; i < d->nentities; i++)
        feast_entity_cleanup(&d->entities[i]);
    for (size_t i = 0; i < d->nsources; i++)
        feast_source_cleanup(&d->sources[i]);
    for (size_t i = 0; i < d->nviews; i++)
        feast_view_cleanup(&d->views[i]);
    free(d->entities);
    free(d->sources);
    free(d->views);
    memset(d, 0, sizeof *d);
}

int64_t feast_view_max_end(const struct feast_view *v)
{
    int64_t best = FERRY_TIME_NONE;
    for (size_t i = 0; i < v->nintervals; i++)
        if (v->intervals[i].end_ns > best)
            best = v->intervals[i].end_ns;
    return best;
}
