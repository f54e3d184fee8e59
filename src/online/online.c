/* Online store front end: the compile-time table of backends by Feast `type` name, and the wrappers
 * every caller goes through. The wrappers are the single choke point that checks arguments (and the
 * internal consistency of a batch) so backends can trust what they receive. */
#include "online/online.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "core/util.h"

static const struct online_store_type *const backends[] = {
    &online_sqlite_type,
    &online_redis_type,
};

static const struct online_store_type *find_backend(const char *name)
{
    for (size_t i = 0; i < FERRY_ARRAY_LEN(backends); i++)
        if (str_eq(backends[i]->name, name))
            return backends[i];
    return NULL;
}

int online_open(const struct ferry_config *cfg, struct online_store **out, struct ferry_err *err)
{
    if (!cfg || !out)
        return ferry_errf(err, FERRY_EINVAL, "online_open: config and output must not be NULL");
    *out = NULL;
    const char *type = cfg->online.type;
    if (!type || !*type || str_eq(type, "none"))
        return ferry_errf(err, FERRY_ECONFIG, "no online store configured (feature_store.yaml online_store)");
    const struct online_store_type *t = find_backend(type);
    if (!t) {
        /* The list is built from the table so the message never goes stale. */
        char names[128] = "";
        size_t used = 0;
        for (size_t i = 0; i < FERRY_ARRAY_LEN(backends) && used < sizeof names; i++) {
            int n = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", backends[i]->name);
            if (n > 0)
                used += (size_t)n;
        }
        return ferry_errf(err, FERRY_ECONFIG, "online store type '%s' is not supported by ferry (supported: %s)",
                          type, names);
    }
    struct online_store *st = NULL;
    int rc = t->open(cfg, &st, err);
    if (rc)
        return rc;
    st->type = t;
    *out = st;
    return 0;
}

static int check_view(const char *fn, struct online_store *st, const char *project,
                      const struct feast_view *view, struct ferry_err *err)
{
    if (!st)
        return ferry_errf(err, FERRY_EINVAL, "%s: store is NULL", fn);
    if (!project || !*project)
        return ferry_errf(err, FERRY_EINVAL, "%s: project name is empty", fn);
    if (!view || !view->name || !*view->name)
        return ferry_errf(err, FERRY_EINVAL, "%s: feature view or its name is missing", fn);
    return 0;
}

int online_prepare(struct online_store *st, const char *project, const struct feast_view *view,
                   struct ferry_err *err)
{
    int rc = check_view("online_prepare", st, project, view, err);
    return rc ? rc : st->type->prepare(st, project, view, err);
}

int online_begin_view(struct online_store *st, const char *project, const struct feast_view *view,
                      struct ferry_err *err)
{
    int rc = check_view("online_begin_view", st, project, view, err);
    if (rc)
        return rc;
    return st->type->begin_view ? st->type->begin_view(st, project, view, err) : 0;
}

/* A range [off, off+len) inside an arena of n bytes, without overflow. */
static bool in_arena(size_t off, size_t len, size_t n) { return off <= n && len <= n - off; }

static int check_batch(const struct feast_view *view, const struct feast_batch *b, struct ferry_err *err)
{
    const struct feast_schema *s = b->schema;
    if (!s)
        return ferry_errf(err, FERRY_EINVAL, "online_write: view %s: batch has no schema", view->name);
    if (s->nfeatures != view->nfeatures)
        return ferry_errf(err, FERRY_EINVAL, "online_write: view %s has %zu features but the batch has %zu",
                          view->name, view->nfeatures, s->nfeatures);
    for (size_t f = 0; f < s->nfeatures; f++)
        if (!s->feature_names || !str_eq(s->feature_names[f], view->features[f].name))
            return ferry_errf(err, FERRY_EINVAL, "online_write: view %s: batch feature %zu is '%s', view has '%s'",
                              view->name, f, s->feature_names ? s->feature_names[f] : "(none)",
                              view->features[f].name);
    if (b->nrows && (!b->rows || (s->nfeatures && !b->cells)))
        return ferry_errf(err, FERRY_EINVAL, "online_write: view %s: batch has rows but no row storage",
                          view->name);
    size_t n = b->bytes.len;
    for (size_t r = 0; r < b->nrows; r++) {
        const struct feast_batch_row *row = &b->rows[r];
        if (!in_arena(row->key_off, row->key_len, n))
            return ferry_errf(err, FERRY_EINVAL, "online_write: view %s: row %zu: entity key outside the batch bytes",
                              view->name, r);
        if (row->event_ns == FERRY_TIME_NONE)
            return ferry_errf(err, FERRY_EINVAL, "online_write: view %s: row %zu has no event timestamp",
                              view->name, r);
        for (size_t f = 0; f < s->nfeatures; f++) {
            const struct feast_batch_cell *c = feast_batch_cell(b, r, f);
            if (!in_arena(c->val_off, c->val_len, n) || c->text_len < -1 ||
                (c->text_len >= 0 && !in_arena(c->text_off, (size_t)c->text_len, n)))
                return ferry_errf(err, FERRY_EINVAL, "online_write: view %s: row %zu feature %s: value outside the batch bytes",
                                  view->name, r, s->feature_names[f]);
        }
    }
    return 0;
}

int online_write(struct online_store *st, const char *project, const struct feast_view *view,
                 const struct feast_batch *batch, struct online_write_stats *stats, struct ferry_err *err)
{
    int rc = check_view("online_write", st, project, view, err);
    if (rc)
        return rc;
    if (!batch)
        return ferry_errf(err, FERRY_EINVAL, "online_write: view %s: batch is NULL", view->name);
    if ((rc = check_batch(view, batch, err)))
        return rc;
    struct online_write_stats local = {0};
    if ((rc = st->type->write(st, project, view, batch, &local, err)))
        return rc;
    if (stats) {
        stats->rows_written += local.rows_written;
        stats->rows_skipped += local.rows_skipped;
    }
    return 0;
}

int online_read(struct online_store *st, const char *project, const struct feast_view *view,
                const struct fbuf *keys, size_t nkeys, const char *const *features, size_t nfeatures,
                struct online_read_result *out, struct ferry_err *err)
{
    if (!out)
        return ferry_errf(err, FERRY_EINVAL, "online_read: result is NULL");
    memset(out, 0, sizeof *out);
    int rc = check_view("online_read", st, project, view, err);
    if (rc)
        return rc;
    if ((nkeys && !keys) || (nfeatures && !features))
        return ferry_errf(err, FERRY_EINVAL, "online_read: view %s: keys or features are NULL", view->name);
    for (size_t i = 0; i < nfeatures; i++)
        if (!features[i])
            return ferry_errf(err, FERRY_EINVAL, "online_read: view %s: feature name %zu is NULL", view->name, i);
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i].len && !keys[i].data)
            return ferry_errf(err, FERRY_EINVAL, "online_read: view %s: key %zu has no bytes", view->name, i);
    rc = st->type->read(st, project, view, keys, nkeys, features, nfeatures, out, err);
    if (rc)
        online_read_result_cleanup(out);
    return rc;
}

bool online_writes_value_text(const struct online_store *st)
{
    return st && st->type->writes_value_text;
}

void online_close(struct online_store *st)
{
    if (st)
        st->type->close(st);
}

void online_read_result_cleanup(struct online_read_result *r)
{
    if (!r)
        return;
    free(r->found);
    free(r->event_ns);
    free(r->val_off);
    free(r->val_len);
    fbuf_cleanup(&r->bytes);
    memset(r, 0, sizeof *r);
}
