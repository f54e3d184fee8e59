/* Offline store front door: a compile-time table from Feast's offline store `type:` to a backend,
 * and wrappers that check every call's arguments once, so backends can trust them. The wrappers are
 * also the single choke point where tests can inject faults (offline_set_fault). */
#include "offline/offline.h"

#include <stdlib.h>

#include "core/util.h"
#include "offline/offline_impl.h"

/* Feast's file offline store was called "dask" before it was "file"; its DuckDB store is "duckdb".
 * All three read the same files with the same semantics (feast-compat.md §2.5), so one backend
 * serves them. */
static const struct { const char *name; const struct offline_store_type *type; } backends[] = {
    {"file", &offline_duckdb_type},
    {"dask", &offline_duckdb_type},
    {"duckdb", &offline_duckdb_type},
    {"postgres", &offline_postgres_type},
    /* Snowflake through its official ODBC driver; Feast's keys become a connection string. */
    {"snowflake.offline", &offline_odbc_type},
    {"odbc", &offline_odbc_type},
};
#define DEFAULT_TYPE "dask"

static int (*fault_hook)(const char *op, void *ctx, struct ferry_err *err);
static void *fault_ctx;

void offline_set_fault(int (*hook)(const char *op, void *ctx, struct ferry_err *err), void *ctx)
{
    fault_hook = hook;
    fault_ctx = ctx;
}

static int fault(const char *op, struct ferry_err *err)
{
    return fault_hook ? fault_hook(op, fault_ctx, err) : 0;
}

static const struct offline_store_type *find_type(const char *name)
{
    for (size_t i = 0; i < FERRY_ARRAY_LEN(backends); i++)
        if (str_eq(backends[i].name, name))
            return backends[i].type;
    return NULL;
}

int offline_open(const struct ferry_config *cfg, struct offline_store **out, struct ferry_err *err)
{
    if (!cfg || !out)
        return ferry_errf(err, FERRY_EINVAL, "offline_open: missing config or output");
    *out = NULL;
    const char *name = cfg->offline.type ? cfg->offline.type : DEFAULT_TYPE;
    const struct offline_store_type *t = find_type(name);
    if (!t)
        return ferry_errf(err, FERRY_ECONFIG,
                          "offline_store type '%s' is not supported; supported: file, dask, duckdb, postgres, snowflake.offline, odbc",
                          name);
    int rc = fault("open", err);
    if (rc)
        return rc;
    struct offline_store *st = NULL;
    rc = t->open(cfg, &st, err);
    if (rc)
        return rc;
    st->type = t;
    *out = st;
    return 0;
}

/* A file source has a path; a SQL source a table or a query. */
static bool has_target(const struct feast_source *s)
{
    if (feast_source_is_sql(s))
        return (s->table && *s->table) || (s->query && *s->query);
    return s->path && *s->path;
}

/* What every backend relies on: a view with a source, a schema that matches the view's keys and
 * features, and (for pulls) somewhere to send rows. */
static int check_pull(struct offline_store *st, const struct offline_pull *pull, const char *fn,
                      struct ferry_err *err)
{
    if (!st || !pull || !pull->view || !pull->schema)
        return ferry_errf(err, FERRY_EINVAL, "%s: missing store, pull, view or schema", fn);
    const struct feast_view *v = pull->view;
    if (!has_target(&v->source))
        return ferry_errf(err, FERRY_EINVAL, "%s: view %s has no source path, table or query", fn, v->name);
    if (!v->source.timestamp_field || !*v->source.timestamp_field)
        return ferry_errf(err, FERRY_EINVAL, "%s: view %s has no timestamp field", fn, v->name);
    /* An entity-less view's schema has the one implied key __dummy_id. */
    if ((!pull->schema->dummy_key && pull->schema->nkeys != v->nentity_columns) ||
        pull->schema->nfeatures != v->nfeatures)
        return ferry_errf(err, FERRY_EINVAL,
                          "%s: view %s: schema has %zu keys/%zu features, view has %zu/%zu", fn,
                          v->name, pull->schema->nkeys, pull->schema->nfeatures,
                          v->nentity_columns, v->nfeatures);
    return 0;
}

int offline_check(struct offline_store *st, const struct offline_pull *pull, struct ferry_err *err)
{
    int rc = check_pull(st, pull, "offline_check", err);
    if (rc)
        return rc;
    rc = fault("check", err);
    if (rc)
        return rc;
    return st->type->check(st, pull, err);
}

int offline_pull_latest(struct offline_store *st, struct offline_pull *pull, struct ferry_err *err)
{
    int rc = check_pull(st, pull, "offline_pull_latest", err);
    if (rc)
        return rc;
    if (!pull->emit || pull->batch_rows == 0)
        return ferry_errf(err, FERRY_EINVAL, "offline_pull_latest: view %s: no emit callback or "
                          "batch_rows is 0", pull->view->name);
    pull->rows_out = 0;
    rc = fault("pull_latest", err);
    if (rc)
        return rc;
    return st->type->pull_latest(st, pull, err);
}

int offline_infer_types(struct offline_store *st, const struct feast_view *view, const char *const *names,
                        size_t n, int *vtypes, struct ferry_err *err)
{
    if (!st || !view || !has_target(&view->source) || (n && (!names || !vtypes)))
        return ferry_errf(err, FERRY_EINVAL, "offline_infer_types: missing store, view, source or names");
    return st->type->infer_types(st, view, names, n, vtypes, err);
}

void offline_close(struct offline_store *st)
{
    if (st)
        st->type->close(st);
}

bool offline_pull_canceled(const struct offline_pull *pull) { return pull->cancel && *pull->cancel; }

int offline_pull_flush(struct offline_pull *pull, struct feast_batch **batch, struct ferry_err *err)
{
    if ((*batch)->nrows == 0)
        return 0;
    if (offline_pull_canceled(pull))
        return ferry_errf(err, FERRY_ECANCELED, "view %s: pull canceled", pull->view->name);
    size_t n = (*batch)->nrows;
    int rc = pull->emit(pull->ctx, batch, err);
    if (rc) {
        if (err && err->code == 0)
            ferry_errf(err, rc, "view %s: the batch receiver stopped the pull", pull->view->name);
        return rc;
    }
    if (!*batch)
        return ferry_errf(err, FERRY_EINTERNAL, "view %s: emit left no batch in place", pull->view->name);
    pull->rows_out += n;
    return 0;
}
