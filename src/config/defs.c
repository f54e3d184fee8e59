/* features.yaml (defs_load in config.h): ferry's Python-free way to declare entities, file sources
 * and batch feature views. The result is the same model the registry reader produces, with
 * entity_columns inferred in Feast's order (feast-compat.md Appendix A.1): a schema field named
 * like the join key, then the entity's value_type, else FEAST_VT_INVALID (the caller infers it from
 * the source column). Every error names the file, the line and the object. */
#include "config/config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/yaml_util.h"
#include "core/time.h"
#include "core/util.h"

/* Anchors/aliases let a small file reference the same list many times; this caps the total number
 * of list items processed so such a file cannot make ferry build a huge model. */
#define MAX_ITEMS 1000000

#define VALID_DTYPES "Bytes, String, Int32, Int64, Float32, Float64, Bool, UnixTimestamp, Json, " \
                     "or Array(<one of these>)"

struct defs_ctx {
    struct ydoc d;
    struct feast_defs *out;
    size_t items;
};

static size_t seq_len(const yaml_node_t *n) { return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start); }

static int count_items(struct defs_ctx *c, const yaml_node_t *at, size_t n)
{
    c->items += n;
    if (c->items > MAX_ITEMS)
        return yerr(&c->d, at, "more than %d list items in total (anchors/aliases included)", MAX_ITEMS);
    return 0;
}

/* A list, or nothing (missing/null) as an empty list. */
static int get_list(struct defs_ctx *c, yaml_node_t *n, const char *what, size_t *len)
{
    *len = 0;
    if (!n || yis_null(n))
        return 0;
    if (!yis_seq(n))
        return yerr(&c->d, n, "%s: expected a list, got %s", what, ykind(n));
    *len = seq_len(n);
    return count_items(c, n, *len);
}

static yaml_node_t *seq_item(struct defs_ctx *c, yaml_node_t *seq, size_t i)
{
    return ynode(&c->d, seq->data.sequence.items.start[i]);
}

/* Required name of a list item; ctx is e.g. "entity #2" for the message. */
static int get_name(struct defs_ctx *c, yaml_node_t *item, const char *kind, size_t index, bool required_valid,
                    char **out)
{
    if (!yis_map(item))
        return yerr(&c->d, item, "%s #%zu: expected a mapping, got %s", kind, index + 1, ykind(item));
    yaml_node_t *n = ymap_get(&c->d, item, "name");
    if (!n)
        return yerr(&c->d, item, "%s #%zu: name: required", kind, index + 1);
    char key[64];
    snprintf(key, sizeof key, "%s #%zu: name", kind, index + 1);
    int rc = yget_str(&c->d, n, key, out);
    if (rc)
        return rc;
    if (required_valid && !yvalid_name(*out))
        return yerr(&c->d, n, "%s '%.60s': not a valid name (letters, digits, '_' and '-', not starting with "
                    "'_' or '-')", kind, *out);
    if (!required_valid && !**out)
        return yerr(&c->d, n, "%s #%zu: name: must not be empty", kind, index + 1);
    return 0;
}

static int get_opt_str(struct defs_ctx *c, yaml_node_t *map, const char *key, const char *ctx, char **out)
{
    yaml_node_t *n = ymap_get(&c->d, map, key);
    if (!n || yis_null(n))
        return 0;
    char what[128];
    snprintf(what, sizeof what, "%s: %s", ctx, key);
    return yget_str(&c->d, n, what, out);
}

static int get_req_str(struct defs_ctx *c, yaml_node_t *map, const char *key, const char *ctx, char **out)
{
    yaml_node_t *n = ymap_get(&c->d, map, key);
    if (!n || yis_null(n))
        return yerr(&c->d, n ? n : map, "%s: %s: required", ctx, key);
    int rc = get_opt_str(c, map, key, ctx, out);
    if (!rc && !**out)
        return yerr(&c->d, n, "%s: %s: must not be empty", ctx, key);
    return rc;
}

/* A string -> string mapping (tags, field_mapping). */
static int get_kvs(struct defs_ctx *c, yaml_node_t *map, const char *key, const char *ctx,
                   struct feast_kv **kv, size_t *n)
{
    yaml_node_t *m = ymap_get(&c->d, map, key);
    if (!m || yis_null(m))
        return 0;
    if (!yis_map(m))
        return yerr(&c->d, m, "%s: %s: expected a mapping, got %s", ctx, key, ykind(m));
    size_t len = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    int rc = count_items(c, m, len);
    if (rc || !len)
        return rc;
    *kv = xcalloc(len, sizeof **kv);
    char what[128];
    snprintf(what, sizeof what, "%s: %s", ctx, key);
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        struct feast_kv *e = &(*kv)[(*n)++];
        if ((rc = yget_str(&c->d, ynode(&c->d, p->key), what, &e->key)) ||
            (rc = yget_str(&c->d, ynode(&c->d, p->value), what, &e->value)))
            return rc;
        for (size_t i = 0; i + 1 < *n; i++)
            if (strcmp((*kv)[i].key, e->key) == 0)
                return yerr(&c->d, ynode(&c->d, p->key), "%s: key '%.60s' appears twice", what, e->key);
    }
    return 0;
}

static int parse_dtype(struct defs_ctx *c, yaml_node_t *n, const char *ctx, int *vtype)
{
    char *s = NULL;
    int rc = yget_str(&c->d, n, ctx, &s);
    if (rc)
        return rc;
    *vtype = feast_dtype_parse(s);
    if (*vtype == FEAST_VT_INVALID)
        rc = yerr(&c->d, n, "%s: unknown dtype '%.40s' (valid: " VALID_DTYPES ")", ctx, s);
    free(s);
    return rc;
}

/* ---- entities ---- */

static int parse_entity(struct defs_ctx *c, yaml_node_t *item, size_t index, struct feast_entity *e)
{
    int rc = get_name(c, item, "entity", index, true, &e->name);
    if (rc)
        return rc;
    char ctx[96];
    snprintf(ctx, sizeof ctx, "entity '%s'", e->name);
    static const char *const keys[] = {"name", "join_key", "join_keys", "value_type", "description", "tags", NULL};
    if ((rc = ymap_check_keys(&c->d, item, ctx, keys, true)))
        return rc;
    yaml_node_t *jk = ymap_get(&c->d, item, "join_key"), *jks = ymap_get(&c->d, item, "join_keys");
    if (jk && jks)
        return yerr(&c->d, jks, "%s: give join_key or join_keys, not both", ctx);
    if (jk) {
        if ((rc = get_req_str(c, item, "join_key", ctx, &e->join_key)))
            return rc;
    } else if (jks) {
        /* Feast entities have exactly one join key; the list form exists for Feast's own syntax. */
        if (!yis_seq(jks) || seq_len(jks) != 1)
            return yerr(&c->d, jks, "%s: join_keys: expected a list with exactly one name", ctx);
        char what[128];
        snprintf(what, sizeof what, "%s: join_keys", ctx);
        if ((rc = yget_str(&c->d, seq_item(c, jks, 0), what, &e->join_key)))
            return rc;
        if (!*e->join_key)
            return yerr(&c->d, jks, "%s: join_keys: the name must not be empty", ctx);
    } else {
        e->join_key = xstrdup(e->name);
    }
    yaml_node_t *vt = ymap_get(&c->d, item, "value_type");
    if (vt && !yis_null(vt)) {
        char what[128];
        snprintf(what, sizeof what, "%s: value_type", ctx);
        if ((rc = parse_dtype(c, vt, what, &e->vtype)))
            return rc;
        if (!feast_vtype_is_entity_key(e->vtype))
            return yerr(&c->d, vt, "%s: value_type %s cannot be an entity key (use String, Bytes, Int32, Int64 "
                        "or UnixTimestamp)", ctx, feast_dtype_name(e->vtype));
    }
    if ((rc = get_opt_str(c, item, "description", ctx, &e->description)))
        return rc;
    return get_kvs(c, item, "tags", ctx, &e->tags, &e->ntags);
}

/* ---- sources ---- */

static int parse_source(struct defs_ctx *c, yaml_node_t *item, size_t index, const char *view,
                        struct feast_source *s)
{
    int rc;
    char ctx[128];
    if (view) {
        /* Inline in a view: the name is optional and, as in Feast's FileSource, defaults to the path. */
        snprintf(ctx, sizeof ctx, "feature view '%s': source", view);
        if ((rc = get_opt_str(c, item, "name", ctx, &s->name)))
            return rc;
    } else {
        if ((rc = get_name(c, item, "source", index, true, &s->name)))
            return rc;
        snprintf(ctx, sizeof ctx, "source '%s'", s->name);
    }
    static const char *const keys[] = {"name", "kind", "path", "table", "query", "database", "schema",
                                       "timestamp_field", "created_timestamp_column",
                                       "field_mapping", "description", NULL};
    if ((rc = ymap_check_keys(&c->d, item, ctx, keys, true)))
        return rc;
    s->kind = FEAST_SOURCE_FILE;
    char *kind = NULL;
    if ((rc = get_opt_str(c, item, "kind", ctx, &kind)))
        return rc;
    if (kind) {
        if (strcmp(kind, "postgres") == 0)
            s->kind = FEAST_SOURCE_POSTGRES;
        else if (strcmp(kind, "snowflake") == 0)
            s->kind = FEAST_SOURCE_SNOWFLAKE;
        else if (strcmp(kind, "odbc") == 0)
            s->kind = FEAST_SOURCE_ODBC;
        else if (strcmp(kind, "file") != 0) {
            rc = yerr(&c->d, ymap_get(&c->d, item, "kind"),
                      "%s: kind '%.40s' is not supported (file, postgres, snowflake or odbc)", ctx, kind);
            free(kind);
            return rc;
        }
    }
    free(kind);
    if (feast_source_is_sql(s)) {
        /* A SQL source names exactly one of a table or a query, as Feast's PostgreSQLSource and
         * SnowflakeSource require; the query text is the user's own and runs as a subquery. */
        yaml_node_t *pn = ymap_get(&c->d, item, "path");
        if (pn)
            return yerr(&c->d, pn, "%s: path: not used by a %s source (use table or query)", ctx,
                        s->kind == FEAST_SOURCE_POSTGRES ? "postgres" :
                        s->kind == FEAST_SOURCE_SNOWFLAKE ? "snowflake" : "odbc");
        if ((rc = get_opt_str(c, item, "table", ctx, &s->table)) ||
            (rc = get_opt_str(c, item, "query", ctx, &s->query)))
            return rc;
        if (s->table && !*s->table) { free(s->table); s->table = NULL; }
        if (s->query && !*s->query) { free(s->query); s->query = NULL; }
        if (!s->table == !s->query)
            return yerr(&c->d, item, "%s: exactly one of table or query is required", ctx);
        if (s->kind == FEAST_SOURCE_SNOWFLAKE &&
            ((rc = get_opt_str(c, item, "database", ctx, &s->database)) ||
             (rc = get_opt_str(c, item, "schema", ctx, &s->schema))))
            return rc;
        if (s->kind != FEAST_SOURCE_SNOWFLAKE) {
            yaml_node_t *qn = ymap_get(&c->d, item, "database");
            if (!qn)
                qn = ymap_get(&c->d, item, "schema");
            if (qn)
                return yerr(&c->d, qn, "%s: database and schema are snowflake source keys (write "
                            "schema.table in table)", ctx);
        }
        /* Feast's PostgreSQLSource and SnowflakeSource have no name default; ferry uses the table
         * (or "query") so inline sources still get one. */
        if (!s->name)
            s->name = xstrdup(s->table ? s->table : "query");
    } else {
        static const char *const sql_only[] = {"table", "query", "database", "schema"};
        for (size_t i = 0; i < sizeof sql_only / sizeof *sql_only; i++) {
            yaml_node_t *qn = ymap_get(&c->d, item, sql_only[i]);
            if (qn)
                return yerr(&c->d, qn, "%s: %s: only for postgres, snowflake or odbc sources (set kind)",
                            ctx, sql_only[i]);
        }
        if ((rc = get_req_str(c, item, "path", ctx, &s->path)))
            return rc;
        if (str_ends_with(s->path, ".parquet") || str_ends_with(s->path, ".pq") ||
            str_ends_with(s->path, ".PARQUET") || str_ends_with(s->path, ".PQ"))
            s->file_format = FEAST_FORMAT_PARQUET;
        else if (str_ends_with(s->path, ".csv") || str_ends_with(s->path, ".CSV"))
            s->file_format = FEAST_FORMAT_CSV;
        else
            return yerr(&c->d, ymap_get(&c->d, item, "path"),
                        "%s: path '%.80s' must end in .parquet, .pq or .csv (the file format comes from it)", ctx, s->path);
        if (!s->name)
            s->name = xstrdup(s->path);
    }
    if ((rc = get_req_str(c, item, "timestamp_field", ctx, &s->timestamp_field)) ||
        (rc = get_opt_str(c, item, "created_timestamp_column", ctx, &s->created_column)) ||
        (rc = get_kvs(c, item, "field_mapping", ctx, &s->field_mapping, &s->nfield_mapping)) ||
        (rc = get_opt_str(c, item, "description", ctx, &s->description)))
        return rc;
    if (s->created_column && !*s->created_column) {     /* Feast writes "" for "not set" */
        free(s->created_column);
        s->created_column = NULL;
    }
    return 0;
}

/* ---- feature views ---- */

static const struct feast_entity *find_entity(const struct feast_defs *d, const char *name)
{
    for (size_t i = 0; i < d->nentities; i++)
        if (strcmp(d->entities[i].name, name) == 0)
            return &d->entities[i];
    return NULL;
}

static const struct feast_source *find_source(const struct feast_defs *d, const char *name)
{
    for (size_t i = 0; i < d->nsources; i++)
        if (strcmp(d->sources[i].name, name) == 0)
            return &d->sources[i];
    return NULL;
}

static int parse_view_entities(struct defs_ctx *c, yaml_node_t *item, const char *ctx, struct feast_view *v,
                               const struct feast_entity ***ents)
{
    yaml_node_t *list = ymap_get(&c->d, item, "entities");
    size_t n;
    char what[128];
    snprintf(what, sizeof what, "%s: entities", ctx);
    int rc = get_list(c, list, what, &n);
    if (rc)
        return rc;
    if (n == 0) {
        /* Entity-less view: Feast stores the dummy entity and no entity columns. */
        v->entities = xcalloc(1, sizeof *v->entities);
        v->entities[v->nentities++] = xstrdup(FEAST_DUMMY_ENTITY);
        return 0;
    }
    v->entities = xcalloc(n, sizeof *v->entities);
    *ents = xcalloc(n, sizeof **ents);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *en = seq_item(c, list, i);
        char *name = NULL;
        if ((rc = yget_str(&c->d, en, what, &name)))
            return rc;
        v->entities[v->nentities++] = name;
        const struct feast_entity *e = find_entity(c->out, name);
        if (!e)
            return yerr(&c->d, en, "%s: unknown entity '%.60s'", ctx, name);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(v->entities[j], name) == 0)
                return yerr(&c->d, en, "%s: entity '%.60s' is listed twice", ctx, name);
            if (strcmp((*ents)[j]->join_key, e->join_key) == 0)
                return yerr(&c->d, en, "%s: entities '%s' and '%s' have the same join key '%s'", ctx,
                            (*ents)[j]->name, name, e->join_key);
        }
        (*ents)[i] = e;
    }
    return 0;
}

static int parse_view_source(struct defs_ctx *c, yaml_node_t *item, const char *ctx, struct feast_view *v)
{
    yaml_node_t *sn = ymap_get(&c->d, item, "source");
    if (!sn || yis_null(sn))
        return yerr(&c->d, sn ? sn : item, "%s: source: required", ctx);
    if (yis_map(sn))
        return parse_source(c, sn, 0, v->name, &v->source);
    char *name = NULL;
    char what[128];
    snprintf(what, sizeof what, "%s: source", ctx);
    int rc = yget_str(&c->d, sn, what, &name);
    if (rc)
        return rc;
    const struct feast_source *s = find_source(c->out, name);
    if (!s)
        rc = yerr(&c->d, sn, "%s: unknown source '%.60s'", ctx, name);
    else
        feast_source_copy(&v->source, s);
    free(name);
    return rc;
}

/* One schema entry; is_key tells whether it names a join key of the view. */
static int parse_field(struct defs_ctx *c, yaml_node_t *fn, size_t index, const char *ctx, struct feast_feature *f)
{
    if (!yis_map(fn))
        return yerr(&c->d, fn, "%s: schema #%zu: expected a mapping {name, dtype}, got %s", ctx, index + 1, ykind(fn));
    char fctx[160];
    snprintf(fctx, sizeof fctx, "%s: schema #%zu", ctx, index + 1);
    int rc = get_req_str(c, fn, "name", fctx, &f->name);
    if (rc)
        return rc;
    snprintf(fctx, sizeof fctx, "%s: field '%.60s'", ctx, f->name);
    static const char *const keys[] = {"name", "dtype", "description", NULL};
    if ((rc = ymap_check_keys(&c->d, fn, fctx, keys, true)))
        return rc;
    yaml_node_t *dt = ymap_get(&c->d, fn, "dtype");
    if (!dt)
        return yerr(&c->d, fn, "%s: dtype: required", fctx);
    char what[200];
    snprintf(what, sizeof what, "%s: dtype", fctx);
    if ((rc = parse_dtype(c, dt, what, &f->vtype)))
        return rc;
    return get_opt_str(c, fn, "description", fctx, &f->description);
}

static int parse_view(struct defs_ctx *c, yaml_node_t *item, size_t index, struct feast_view *v)
{
    v->kind = FEAST_VIEW_BATCH;
    v->online = true;
    v->created_ns = v->updated_ns = FERRY_TIME_NONE;
    int rc = get_name(c, item, "feature view", index, true, &v->name);
    if (rc)
        return rc;
    char ctx[96];
    snprintf(ctx, sizeof ctx, "feature view '%s'", v->name);
    static const char *const keys[] = {"name", "entities", "ttl", "online", "offline", "source", "schema",
                                       "tags", "description", NULL};
    if ((rc = ymap_check_keys(&c->d, item, ctx, keys, true)))
        return rc;
    const struct feast_entity **ents = NULL;   /* the view's entities, in order (borrowed) */
    struct feast_feature *fields = NULL;
    size_t nfields = 0;
    yaml_node_t *n;
    if ((rc = parse_view_entities(c, item, ctx, v, &ents)))
        goto out;
    if ((n = ymap_get(&c->d, item, "ttl")) && !yis_null(n)) {
        struct ferry_err te = {0};
        const char *t = yscalar(n);
        if (!t)
            rc = yerr(&c->d, n, "%s: ttl: expected a duration like 1d, 2h or 3600, got %s", ctx, ykind(n));
        else if (ferry_duration_parse(t, &v->ttl_ns, &te))
            rc = yerr(&c->d, n, "%s: ttl: %s", ctx, te.msg);
        if (rc)
            goto out;
    }
    char bkey[128];
    snprintf(bkey, sizeof bkey, "%s: online", ctx);
    if ((n = ymap_get(&c->d, item, "online")) && (rc = yget_bool(&c->d, n, bkey, &v->online)))
        goto out;
    snprintf(bkey, sizeof bkey, "%s: offline", ctx);
    if ((n = ymap_get(&c->d, item, "offline")) && (rc = yget_bool(&c->d, n, bkey, &v->offline)))
        goto out;
    if ((rc = parse_view_source(c, item, ctx, v)))
        goto out;

    yaml_node_t *schema = ymap_get(&c->d, item, "schema");
    char what[128];
    snprintf(what, sizeof what, "%s: schema", ctx);
    if ((rc = get_list(c, schema, what, &nfields)))
        goto out;
    size_t nparsed = 0;
    fields = nfields ? xcalloc(nfields, sizeof *fields) : NULL;
    for (size_t i = 0; i < nfields; i++) {
        yaml_node_t *fn = seq_item(c, schema, i);
        rc = parse_field(c, fn, i, ctx, &fields[i]);
        nparsed = i + 1;
        if (rc)
            goto out_fields;
        for (size_t j = 0; j < i; j++)
            if (strcmp(fields[j].name, fields[i].name) == 0) {
                rc = yerr(&c->d, fn, "%s: field '%.60s' appears twice in the schema", ctx, fields[i].name);
                goto out_fields;
            }
    }

    /* Split: schema fields named like a join key are entity columns, the rest are features. */
    size_t nkeys = ents ? v->nentities : 0;
    if (nkeys)
        v->entity_columns = xcalloc(nkeys, sizeof *v->entity_columns);
    for (size_t k = 0; k < nkeys; k++) {
        struct feast_feature *col = &v->entity_columns[v->nentity_columns++];
        col->name = xstrdup(ents[k]->join_key);
        col->vtype = ents[k]->vtype;                       /* 2nd choice: the entity's value_type */
        for (size_t i = 0; i < nfields; i++)
            if (strcmp(fields[i].name, col->name) == 0) {  /* 1st choice: the schema field */
                col->vtype = fields[i].vtype;
                col->description = xstrdup(fields[i].description);
                if (!feast_vtype_is_entity_key(col->vtype)) {
                    rc = yerr(&c->d, seq_item(c, schema, i), "%s: join key '%s' has dtype %s, which cannot be an "
                              "entity key", ctx, col->name, feast_dtype_name(col->vtype));
                    goto out_fields;
                }
            }
    }
    v->features = nfields ? xcalloc(nfields, sizeof *v->features) : NULL;
    for (size_t i = 0; i < nfields; i++) {
        bool is_key = false;
        for (size_t k = 0; k < nkeys && !is_key; k++)
            is_key = strcmp(fields[i].name, ents[k]->join_key) == 0;
        if (!is_key) {
            v->features[v->nfeatures++] = fields[i];       /* moves the strings */
            memset(&fields[i], 0, sizeof fields[i]);
        }
    }
    if (v->nfeatures == 0) {
        rc = yerr(&c->d, schema ? schema : item, "%s: has no features (the schema lists only join keys or is empty)", ctx);
        goto out_fields;
    }
    if ((rc = get_kvs(c, item, "tags", ctx, &v->tags, &v->ntags)) ||
        (rc = get_opt_str(c, item, "description", ctx, &v->description)))
        goto out_fields;
out_fields:
    for (size_t i = 0; i < nparsed; i++) {
        free(fields[i].name);
        free(fields[i].description);
    }
out:
    free(fields);
    free(ents);
    return rc;
}

/* ---- top level ---- */

static int parse_defs(struct defs_ctx *c)
{
    struct ydoc *d = &c->d;
    struct feast_defs *out = c->out;
    yaml_node_t *root = ydoc_root(d);
    if (!root || yis_null(root))
        return yerr(d, NULL, "the file is empty (expected entities, sources and feature_views)");
    if (!yis_map(root))
        return yerr(d, root, "expected a mapping with entities, sources and feature_views, got %s", ykind(root));
    static const char *const keys[] = {"entities", "sources", "feature_views", NULL};
    int rc = ymap_check_keys(d, root, "top level", keys, true);
    if (rc)
        return rc;

    yaml_node_t *list = ymap_get(d, root, "entities");
    size_t n;
    if ((rc = get_list(c, list, "entities", &n)))
        return rc;
    out->entities = n ? xcalloc(n, sizeof *out->entities) : NULL;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = seq_item(c, list, i);
        struct feast_entity *e = &out->entities[out->nentities++];
        if ((rc = parse_entity(c, item, i, e)))
            return rc;
        for (size_t j = 0; j + 1 < out->nentities; j++)
            if (strcmp(out->entities[j].name, e->name) == 0)
                return yerr(d, item, "entity '%s': the name is used twice", e->name);
    }

    list = ymap_get(d, root, "sources");
    if ((rc = get_list(c, list, "sources", &n)))
        return rc;
    out->sources = n ? xcalloc(n, sizeof *out->sources) : NULL;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = seq_item(c, list, i);
        struct feast_source *s = &out->sources[out->nsources++];
        if ((rc = parse_source(c, item, i, NULL, s)))
            return rc;
        for (size_t j = 0; j + 1 < out->nsources; j++)
            if (strcmp(out->sources[j].name, s->name) == 0)
                return yerr(d, item, "source '%s': the name is used twice", s->name);
    }

    list = ymap_get(d, root, "feature_views");
    if ((rc = get_list(c, list, "feature_views", &n)))
        return rc;
    out->views = n ? xcalloc(n, sizeof *out->views) : NULL;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = seq_item(c, list, i);
        struct feast_view *v = &out->views[out->nviews++];
        if ((rc = parse_view(c, item, i, v)))
            return rc;
        for (size_t j = 0; j + 1 < out->nviews; j++)
            if (strcmp(out->views[j].name, v->name) == 0)
                return yerr(d, item, "feature view '%s': the name is used twice", v->name);
    }
    return 0;
}

int defs_load(const char *path, struct feast_defs *out, struct ferry_err *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, YDOC_MAX_BYTES, &text, &len, err);
    if (rc) {
        if (err)
            err->code = FERRY_ECONFIG;    /* the message from file_read_all names the file */
        return FERRY_ECONFIG;
    }
    const char *slash = strrchr(path, '/');
    struct defs_ctx c = {.out = out};
    rc = ydoc_load(&c.d, text, len, slash ? slash + 1 : path, err);
    if (!rc)
        rc = parse_defs(&c);
    ydoc_cleanup(&c.d);
    free(text);
    if (rc)
        feast_defs_cleanup(out);
    return rc;
}
