/* registry_apply: writes definitions into the registry the way `feast apply` stores them
 * (feast-compat.md §7.2, §7.3): the project (fields 17 and 15), entities, file data sources (in
 * views and in Registry.data_sources), feature views and SqliteTable infra objects. Existing
 * objects are replaced in place, keeping what Feast keeps across applies: created timestamps,
 * materialization intervals and the lifecycle state. New views get no state (STATE_UNSPECIFIED),
 * as Feast's FeatureView constructor leaves it and to_proto then omits it. */
#include "registry/registry.h"
#include "registry/registry_pb.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"

#define FILE_SOURCE_CLASS "feast.infra.offline_stores.file_source.FileSource"
#define POSTGRES_SOURCE_CLASS \
    "feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source.PostgreSQLSource"
#define SNOWFLAKE_SOURCE_CLASS "feast.infra.offline_stores.snowflake_source.SnowflakeSource"
#define SOURCE_TYPE_CUSTOM 6
#define SOURCE_TYPE_BATCH_SNOWFLAKE 8
#define SQLITE_TABLE_CLASS "feast.infra.online_stores.sqlite.SqliteTable"
#define SOURCE_TYPE_BATCH_FILE 1

/* Allocates a message of generated type T initialised with its INIT macro (a compound literal). */
#define PB_NEW(T, ...) ((T *)pb_dup(&(T)__VA_ARGS__, sizeof(T)))

static void *pb_dup(const void *init, size_t size)
{
    void *m = xmalloc(size);
    memcpy(m, init, size);
    return m;
}

/* Fills a map<string,string> field (array of entry pointers) from model key/values. */
#define PB_MAP_FILL(T, INIT, dst, ndst, kv, nkv)                               \
    do {                                                                        \
        (ndst) = (nkv);                                                         \
        (dst) = (nkv) ? xcalloc((nkv), sizeof *(dst)) : NULL;                   \
        for (size_t k_ = 0; k_ < (nkv); k_++) {                                 \
            T *e_ = PB_NEW(T, INIT);                                            \
            e_->key = reg_str_new((kv)[k_].key);                                \
            e_->value = reg_str_new((kv)[k_].value);                            \
            (dst)[k_] = e_;                                                     \
        }                                                                       \
    } while (0)

/* Appends item to a repeated field of pointers. */
#define PB_APPEND(arr, n, item)                                                 \
    do {                                                                        \
        (arr) = xrealloc((arr), ((n) + 1) * sizeof *(arr));                     \
        (arr)[(n)++] = (item);                                                  \
    } while (0)

static void pb_free(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

static bool in_project(const char *p, const char *project)
{
    return str_eq(p ? p : "", project);
}

/* ---------------------------------------------------------------- builders */

static Feast__Core__FeatureSpecV2 *feature_pb(const struct feast_feature *f)
{
    Feast__Core__FeatureSpecV2 *m = PB_NEW(Feast__Core__FeatureSpecV2, FEAST__CORE__FEATURE_SPEC_V2__INIT);
    m->name = reg_str_new(f->name);
    m->value_type = f->vtype;
    m->description = reg_str_new(f->description);
    return m;
}

static Feast__Core__FeatureSpecV2 **features_pb(const struct feast_feature *f, size_t n)
{
    Feast__Core__FeatureSpecV2 **out = n ? xcalloc(n, sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = feature_pb(&f[i]);
    return out;
}

/* FileSource names default to the path (Feast's FileSource constructor). */
static const char *source_name(const struct feast_source *s)
{
    return s->name && *s->name ? s->name : feast_source_target(s);
}

/* PostgreSQLSource's custom options: json.dumps({"name": n, "query": q, "table": t}) exactly as
 * Python writes it (", " and ": " separators, ASCII with \\u escapes), so the bytes match. */
static void postgres_options_pb(Feast__Core__DataSource *d, const struct feast_source *s)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(source_name(s) ? source_name(s) : ""));
    json_object_set_new(j, "query", json_string(s->query ? s->query : ""));
    json_object_set_new(j, "table", json_string(s->table ? s->table : ""));
    char *text = json_dumps(j, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(j);
    Feast__Core__DataSource__CustomSourceOptions *co = PB_NEW(Feast__Core__DataSource__CustomSourceOptions,
        FEAST__CORE__DATA_SOURCE__CUSTOM_SOURCE_OPTIONS__INIT);
    size_t n = text ? strlen(text) : 0;
    co->configuration.data = xmalloc(n ? n : 1);
    memcpy(co->configuration.data, text ? text : "", n);
    co->configuration.len = n;
    free(text);
    d->options_case = FEAST__CORE__DATA_SOURCE__OPTIONS_CUSTOM_OPTIONS;
    d->custom_options = co;
}

static void snowflake_options_pb(Feast__Core__DataSource *d, const struct feast_source *s)
{
    Feast__Core__DataSource__SnowflakeOptions *o = PB_NEW(Feast__Core__DataSource__SnowflakeOptions,
        FEAST__CORE__DATA_SOURCE__SNOWFLAKE_OPTIONS__INIT);
    o->table = reg_str_new(s->table);
    o->query = reg_str_new(s->query);
    o->schema = reg_str_new(s->schema);
    o->database = reg_str_new(s->database);
    d->options_case = FEAST__CORE__DATA_SOURCE__OPTIONS_SNOWFLAKE_OPTIONS;
    d->snowflake_options = o;
}

static Feast__Core__DataSource *source_pb(const struct feast_source *s, const char *project)
{
    Feast__Core__DataSource *d = PB_NEW(Feast__Core__DataSource, FEAST__CORE__DATA_SOURCE__INIT);
    d->type = SOURCE_TYPE_BATCH_FILE;
    PB_MAP_FILL(Feast__Core__DataSource__FieldMappingEntry, FEAST__CORE__DATA_SOURCE__FIELD_MAPPING_ENTRY__INIT,
                d->field_mapping, d->n_field_mapping, s->field_mapping, s->nfield_mapping);
    d->timestamp_field = reg_str_new(s->timestamp_field);
    d->created_timestamp_column = reg_str_new(s->created_column);
    d->data_source_class_type = reg_str_new(FILE_SOURCE_CLASS);
    d->name = reg_str_new(source_name(s));
    d->project = reg_str_new(project);
    d->description = reg_str_new(s->description);
    if (s->kind == FEAST_SOURCE_POSTGRES || s->kind == FEAST_SOURCE_SNOWFLAKE) {
        bool pg = s->kind == FEAST_SOURCE_POSTGRES;
        d->type = pg ? SOURCE_TYPE_CUSTOM : SOURCE_TYPE_BATCH_SNOWFLAKE;
        reg_str_set(&d->data_source_class_type, pg ? POSTGRES_SOURCE_CLASS : SNOWFLAKE_SOURCE_CLASS);
        if (pg)
            postgres_options_pb(d, s);
        else
            snowflake_options_pb(d, s);
        d->meta = PB_NEW(Feast__Core__DataSource__SourceMeta, FEAST__CORE__DATA_SOURCE__SOURCE_META__INIT);
        return d;
    }
    Feast__Core__DataSource__FileOptions *fo =
        PB_NEW(Feast__Core__DataSource__FileOptions, FEAST__CORE__DATA_SOURCE__FILE_OPTIONS__INIT);
    fo->uri = reg_str_new(s->path);
    /* Feast writes ParquetFormat for parquet files; CSV is ferry's extension and has no format. */
    if (s->file_format != FEAST_FORMAT_CSV) {
        Feast__Core__FileFormat *ff = PB_NEW(Feast__Core__FileFormat, FEAST__CORE__FILE_FORMAT__INIT);
        ff->format_case = FEAST__CORE__FILE_FORMAT__FORMAT_PARQUET_FORMAT;
        ff->parquet_format = PB_NEW(Feast__Core__FileFormat__ParquetFormat,
                                    FEAST__CORE__FILE_FORMAT__PARQUET_FORMAT__INIT);
        fo->file_format = ff;
    }
    d->options_case = FEAST__CORE__DATA_SOURCE__OPTIONS_FILE_OPTIONS;
    d->file_options = fo;
    /* Current Feast always emits an empty SourceMeta (field 50). */
    d->meta = PB_NEW(Feast__Core__DataSource__SourceMeta, FEAST__CORE__DATA_SOURCE__SOURCE_META__INIT);
    return d;
}

static Feast__Core__Duration *duration_pb(int64_t ns)
{
    Feast__Core__Duration *d = PB_NEW(Feast__Core__Duration, FEAST__CORE__DURATION__INIT);
    d->seconds = ns / FERRY_NS_PER_SEC;
    d->nanos = (int32_t)(ns % FERRY_NS_PER_SEC);
    return d;
}

/* Entity names of a view: "__dummy" for an entity-less one, as Feast stores it. */
static char **entity_names_pb(const struct feast_view *v, size_t *n)
{
    if (!v->nentities) {
        char **out = xcalloc(1, sizeof *out);
        out[0] = reg_str_new(FEAST_DUMMY_ENTITY);
        *n = 1;
        return out;
    }
    char **out = xcalloc(v->nentities, sizeof *out);
    for (size_t i = 0; i < v->nentities; i++)
        out[i] = reg_str_new(v->entities[i]);
    *n = v->nentities;
    return out;
}

/* Entity columns as given; when the caller has none, from the entities' join keys and declared
 * types (Feast's inference order minus the source-column step, which needs the data). */
static Feast__Core__FeatureSpecV2 **entity_columns_pb(const struct feast_view *v, const struct feast_defs *defs,
                                                      size_t *n)
{
    if (v->nentity_columns) {
        *n = v->nentity_columns;
        return features_pb(v->entity_columns, v->nentity_columns);
    }
    Feast__Core__FeatureSpecV2 **out = v->nentities ? xcalloc(v->nentities, sizeof *out) : NULL;
    *n = 0;
    for (size_t i = 0; i < v->nentities; i++)
        for (size_t j = 0; j < defs->nentities; j++) {
            const struct feast_entity *e = &defs->entities[j];
            if (!str_eq(e->name, v->entities[i]) || e->vtype == FEAST_VT_INVALID)
                continue;
            struct feast_feature f = {e->join_key ? e->join_key : e->name, e->vtype, NULL};
            out[(*n)++] = feature_pb(&f);
            break;
        }
    return out;
}

static Feast__Core__FeatureViewSpec *fv_spec_pb(const struct feast_view *v, const char *project,
                                                const struct feast_defs *defs)
{
    Feast__Core__FeatureViewSpec *s = PB_NEW(Feast__Core__FeatureViewSpec, FEAST__CORE__FEATURE_VIEW_SPEC__INIT);
    s->name = reg_str_new(v->name);
    s->project = reg_str_new(project);
    s->entities = entity_names_pb(v, &s->n_entities);
    s->features = features_pb(v->features, v->nfeatures);
    s->n_features = v->nfeatures;
    PB_MAP_FILL(Feast__Core__FeatureViewSpec__TagsEntry, FEAST__CORE__FEATURE_VIEW_SPEC__TAGS_ENTRY__INIT,
                s->tags, s->n_tags, v->tags, v->ntags);
    /* Feast emits the ttl even when zero (an empty Duration). */
    s->ttl = duration_pb(v->ttl_ns);
    s->batch_source = source_pb(&v->source, NULL);
    s->online = v->online;
    s->offline = v->offline;
    s->disabled = v->disabled;
    s->description = reg_str_new(v->description);
    s->entity_columns = entity_columns_pb(v, defs, &s->n_entity_columns);
    s->version = reg_str_new("latest");
    return s;
}

static Feast__Core__StreamFeatureViewSpec *sfv_spec_pb(const struct feast_view *v, const char *project,
                                                       const struct feast_defs *defs)
{
    Feast__Core__StreamFeatureViewSpec *s =
        PB_NEW(Feast__Core__StreamFeatureViewSpec, FEAST__CORE__STREAM_FEATURE_VIEW_SPEC__INIT);
    s->name = reg_str_new(v->name);
    s->project = reg_str_new(project);
    s->entities = entity_names_pb(v, &s->n_entities);
    s->features = features_pb(v->features, v->nfeatures);
    s->n_features = v->nfeatures;
    s->entity_columns = entity_columns_pb(v, defs, &s->n_entity_columns);
    s->description = reg_str_new(v->description);
    PB_MAP_FILL(Feast__Core__StreamFeatureViewSpec__TagsEntry,
                FEAST__CORE__STREAM_FEATURE_VIEW_SPEC__TAGS_ENTRY__INIT, s->tags, s->n_tags, v->tags, v->ntags);
    s->ttl = duration_pb(v->ttl_ns);
    s->batch_source = source_pb(&v->source, NULL);
    s->online = v->online;
    s->disabled = v->disabled;
    s->timestamp_field = reg_str_new(v->source.timestamp_field);
    return s;
}

/* ---------------------------------------------------------------- upserts */

static void upsert_entity(Feast__Core__Registry *r, const struct feast_entity *e, const char *project,
                          int64_t now, bool keep_existing)
{
    Feast__Core__Entity *ent = NULL;
    for (size_t i = 0; i < r->n_entities && !ent; i++) {
        const Feast__Core__EntitySpecV2 *s = r->entities[i]->spec;
        if (s && str_eq(s->name, e->name) && in_project(s->project, project))
            ent = r->entities[i];
    }
    if (ent && keep_existing)
        return;
    Feast__Core__EntitySpecV2 *s = PB_NEW(Feast__Core__EntitySpecV2, FEAST__CORE__ENTITY_SPEC_V2__INIT);
    s->name = reg_str_new(e->name);
    s->project = reg_str_new(project);
    s->value_type = e->vtype;
    s->description = reg_str_new(e->description);
    s->join_key = reg_str_new(e->join_key && *e->join_key ? e->join_key : e->name);
    PB_MAP_FILL(Feast__Core__EntitySpecV2__TagsEntry, FEAST__CORE__ENTITY_SPEC_V2__TAGS_ENTRY__INIT, s->tags,
                s->n_tags, e->tags, e->ntags);
    if (!ent) {
        ent = PB_NEW(Feast__Core__Entity, FEAST__CORE__ENTITY__INIT);
        PB_APPEND(r->entities, r->n_entities, ent);
    }
    pb_free(ent->spec);
    ent->spec = s;
    if (!ent->meta)
        ent->meta = PB_NEW(Feast__Core__EntityMeta, FEAST__CORE__ENTITY_META__INIT);
    if (!ent->meta->created_timestamp)
        reg_ts_set(&ent->meta->created_timestamp, now);
    reg_ts_set(&ent->meta->last_updated_timestamp, now);
}

static void upsert_source(Feast__Core__Registry *r, const struct feast_source *src, const char *project)
{
    Feast__Core__DataSource *d = source_pb(src, project);
    for (size_t i = 0; i < r->n_data_sources; i++) {
        Feast__Core__DataSource *old = r->data_sources[i];
        if (str_eq(old->name, d->name) && in_project(old->project, project)) {
            r->data_sources[i] = d;
            pb_free(old);
            return;
        }
    }
    PB_APPEND(r->data_sources, r->n_data_sources, d);
}

/* Feast refuses a name used by a view of another kind in the same project. */
static int check_kind_conflict(const Feast__Core__Registry *r, const struct feast_view *v, const char *project,
                               struct ferry_err *err)
{
    bool in_fv = false, in_sfv = false, in_odfv = false;
    for (size_t i = 0; i < r->n_feature_views; i++) {
        const Feast__Core__FeatureViewSpec *s = r->feature_views[i]->spec;
        in_fv |= s && str_eq(s->name, v->name) && in_project(s->project, project);
    }
    for (size_t i = 0; i < r->n_stream_feature_views; i++) {
        const Feast__Core__StreamFeatureViewSpec *s = r->stream_feature_views[i]->spec;
        in_sfv |= s && str_eq(s->name, v->name) && in_project(s->project, project);
    }
    for (size_t i = 0; i < r->n_on_demand_feature_views; i++) {
        const Feast__Core__OnDemandFeatureViewSpec *s = r->on_demand_feature_views[i]->spec;
        in_odfv |= s && str_eq(s->name, v->name) && in_project(s->project, project);
    }
    const char *other = NULL;
    if (v->kind == FEAST_VIEW_BATCH && (in_sfv || in_odfv))
        other = in_sfv ? "stream feature view" : "on-demand feature view";
    if (v->kind == FEAST_VIEW_STREAM && (in_fv || in_odfv))
        other = in_fv ? "feature view" : "on-demand feature view";
    if (other)
        return ferry_errf(err, FERRY_ECONFIG, "view %s: project %s already has a %s with this name", v->name,
                          project, other);
    return 0;
}

static Feast__Core__FeatureViewMeta *new_meta(int64_t now)
{
    Feast__Core__FeatureViewMeta *m = PB_NEW(Feast__Core__FeatureViewMeta, FEAST__CORE__FEATURE_VIEW_META__INIT);
    reg_ts_set(&m->created_timestamp, now);
    reg_ts_set(&m->last_updated_timestamp, now);
    return m;
}

/* Replaces the spec of an existing view (keeping its meta: created timestamp, intervals, state,
 * version fields) or appends a new one. */
static void upsert_view(Feast__Core__Registry *r, const struct feast_view *v, const char *project,
                        const struct feast_defs *defs, int64_t now)
{
    if (v->kind == FEAST_VIEW_STREAM) {
        Feast__Core__StreamFeatureViewSpec *s = sfv_spec_pb(v, project, defs);
        for (size_t i = 0; i < r->n_stream_feature_views; i++) {
            Feast__Core__StreamFeatureView *fv = r->stream_feature_views[i];
            if (fv->spec && str_eq(fv->spec->name, v->name) && in_project(fv->spec->project, project)) {
                pb_free(fv->spec);
                fv->spec = s;
                if (!fv->meta)
                    fv->meta = new_meta(now);
                reg_ts_set(&fv->meta->last_updated_timestamp, now);
                return;
            }
        }
        Feast__Core__StreamFeatureView *fv =
            PB_NEW(Feast__Core__StreamFeatureView, FEAST__CORE__STREAM_FEATURE_VIEW__INIT);
        fv->spec = s;
        fv->meta = new_meta(now);
        PB_APPEND(r->stream_feature_views, r->n_stream_feature_views, fv);
        return;
    }
    Feast__Core__FeatureViewSpec *s = fv_spec_pb(v, project, defs);
    for (size_t i = 0; i < r->n_feature_views; i++) {
        Feast__Core__FeatureView *fv = r->feature_views[i];
        if (fv->spec && str_eq(fv->spec->name, v->name) && in_project(fv->spec->project, project)) {
            pb_free(fv->spec);
            fv->spec = s;
            if (!fv->meta)
                fv->meta = new_meta(now);
            reg_ts_set(&fv->meta->last_updated_timestamp, now);
            return;
        }
    }
    Feast__Core__FeatureView *fv = PB_NEW(Feast__Core__FeatureView, FEAST__CORE__FEATURE_VIEW__INIT);
    fv->spec = s;
    fv->meta = new_meta(now);
    PB_APPEND(r->feature_views, r->n_feature_views, fv);
}

static void ensure_project(Feast__Core__Registry *r, const char *project, int64_t now)
{
    bool have = false, have_md = false;
    for (size_t i = 0; i < r->n_projects; i++)
        have |= r->projects[i]->spec && str_eq(r->projects[i]->spec->name, project);
    for (size_t i = 0; i < r->n_project_metadata; i++)
        have_md |= str_eq(r->project_metadata[i]->project, project);
    if (!have) {
        Feast__Core__Project *p = PB_NEW(Feast__Core__Project, FEAST__CORE__PROJECT__INIT);
        p->spec = PB_NEW(Feast__Core__ProjectSpec, FEAST__CORE__PROJECT_SPEC__INIT);
        p->spec->name = reg_str_new(project);
        p->meta = PB_NEW(Feast__Core__ProjectMeta, FEAST__CORE__PROJECT_META__INIT);
        reg_ts_set(&p->meta->created_timestamp, now);
        reg_ts_set(&p->meta->last_updated_timestamp, now);
        PB_APPEND(r->projects, r->n_projects, p);
    }
    /* Feast adds the deprecated ProjectMetadata together with a new Project (unless purged). */
    if (!have && !have_md) {
        Feast__Core__ProjectMetadata *md = PB_NEW(Feast__Core__ProjectMetadata, FEAST__CORE__PROJECT_METADATA__INIT);
        md->project = reg_str_new(project);
        md->project_uuid = reg_uuid4();
        PB_APPEND(r->project_metadata, r->n_project_metadata, md);
    }
}

static void upsert_sqlite_table(Feast__Core__Registry *r, const char *db_path, const char *table)
{
    if (!r->infra)
        r->infra = PB_NEW(Feast__Core__Infra, FEAST__CORE__INFRA__INIT);
    Feast__Core__Infra *inf = r->infra;
    for (size_t i = 0; i < inf->n_infra_objects; i++) {
        Feast__Core__InfraObject *o = inf->infra_objects[i];
        if (o->infra_object_case == FEAST__CORE__INFRA_OBJECT__INFRA_OBJECT_SQLITE_TABLE && o->sqlite_table &&
            str_eq(o->sqlite_table->name, table)) {
            reg_str_set(&o->sqlite_table->path, db_path);
            return;
        }
    }
    Feast__Core__InfraObject *o = PB_NEW(Feast__Core__InfraObject, FEAST__CORE__INFRA_OBJECT__INIT);
    o->infra_object_class_type = reg_str_new(SQLITE_TABLE_CLASS);
    o->infra_object_case = FEAST__CORE__INFRA_OBJECT__INFRA_OBJECT_SQLITE_TABLE;
    o->sqlite_table = PB_NEW(Feast__Core__SqliteTable, FEAST__CORE__SQLITE_TABLE__INIT);
    o->sqlite_table->path = reg_str_new(db_path);
    o->sqlite_table->name = reg_str_new(table);
    PB_APPEND(inf->infra_objects, inf->n_infra_objects, o);
}

/* ---------------------------------------------------------------- apply */

struct apply_ctx {
    const char *project;
    const struct feast_defs *defs;
    const char *online_db_path;
};

/* A file source needs a path; a postgres or snowflake source a table or a query. ODBC sources have
 * no form Feast can read back, so they are not written to a registry. */
static int check_source(const struct feast_source *s, const char *owner, struct ferry_err *err)
{
    const char *who = owner ? owner : "(unnamed)";
    if (s->kind == FEAST_SOURCE_ODBC)
        return ferry_errf(err, FERRY_ECONFIG, "apply: %s: odbc sources have no Feast registry form; use "
                          "kind postgres or snowflake (both also read through type: odbc)", who);
    if (feast_source_is_sql(s)) {
        if ((!s->table || !*s->table) && (!s->query || !*s->query))
            return ferry_errf(err, FERRY_ECONFIG, "apply: %s: source has no table or query", who);
        return 0;
    }
    if (!s->path || !*s->path)
        return ferry_errf(err, FERRY_ECONFIG, "apply: %s: source has no path", who);
    return 0;
}

static int validate(const struct apply_ctx *c, struct ferry_err *err)
{
    int rc;
    if (!c->project || !*c->project)
        return ferry_errf(err, FERRY_EINVAL, "apply: empty project name");
    for (size_t i = 0; i < c->defs->nentities; i++)
        if (!c->defs->entities[i].name || !*c->defs->entities[i].name)
            return ferry_errf(err, FERRY_ECONFIG, "apply: entity %zu has no name", i + 1);
    for (size_t i = 0; i < c->defs->nsources; i++)
        if ((rc = check_source(&c->defs->sources[i], c->defs->sources[i].name, err)))
            return rc;
    for (size_t i = 0; i < c->defs->nviews; i++) {
        const struct feast_view *v = &c->defs->views[i];
        if (!v->name || !*v->name)
            return ferry_errf(err, FERRY_ECONFIG, "apply: view %zu has no name", i + 1);
        if (v->kind != FEAST_VIEW_BATCH && v->kind != FEAST_VIEW_STREAM)
            return ferry_errf(err, FERRY_ECONFIG, "apply: view %s: only batch and stream views can be applied",
                              v->name);
        if ((rc = check_source(&v->source, v->name, err)))
            return rc;
    }
    return 0;
}

static int apply_edit(Feast__Core__Registry *r, void *vctx, int64_t now, struct ferry_err *err)
{
    const struct apply_ctx *c = vctx;
    const struct feast_defs *d = c->defs;
    for (size_t i = 0; i < d->nviews; i++) {
        int rc = check_kind_conflict(r, &d->views[i], c->project, err);
        if (rc)
            return rc;
    }
    ensure_project(r, c->project, now);
    for (size_t i = 0; i < d->nentities; i++)
        upsert_entity(r, &d->entities[i], c->project, now, false);
    for (size_t i = 0; i < d->nviews; i++)
        if (!d->views[i].nentities) {
            /* Stored without a value type, as Feast's DUMMY_ENTITY is. */
            struct feast_entity dummy = {.name = FEAST_DUMMY_ENTITY, .join_key = FEAST_DUMMY_ENTITY_ID};
            upsert_entity(r, &dummy, c->project, now, true);
            break;
        }
    for (size_t i = 0; i < d->nsources; i++)
        upsert_source(r, &d->sources[i], c->project);
    for (size_t i = 0; i < d->nviews; i++) {
        const struct feast_view *v = &d->views[i];
        upsert_source(r, &v->source, c->project);
        upsert_view(r, v, c->project, d, now);
        if (c->online_db_path && v->online) {
            char *table = xasprintf("%s_%s", c->project, v->name);
            upsert_sqlite_table(r, c->online_db_path, table);
            free(table);
        }
    }
    return 0;
}

int registry_apply(const char *path, const char *project, const struct feast_defs *defs,
                   const char *online_db_path, struct ferry_err *err)
{
    struct apply_ctx c = {project, defs, online_db_path};
    int rc = validate(&c, err);
    if (rc == 0)
        rc = reg_update(path, true, apply_edit, &c, err);
    if (rc)
        ferry_err_prefix(err, "applying to %s: ", path);
    return rc;
}
