/* `ferry jobs` and `ferry job ID` without a server: the same JSON as GET /jobs and GET /jobs/{id},
 * read straight from the state database. Opening never creates it: a repository that never ran
 * `ferry serve` has no history, which is an empty list rather than a new file (with shared state in
 * PostgreSQL: a database without ferry's tables). This file depends on state.c only, so the CLI
 * links without the worker pool. Locations are printed without a URI's password. */
#include "service/service.h"

#include "service/state.h"

int service_jobs_list_json(const struct ferry_config *cfg, const char *status, const char *view, int limit,
                           int offset, struct fbuf *out, struct ferry_err *err)
{
    struct state_db *db = NULL;
    int rc = state_open(cfg->ferry.state_path, false, &db, err);
    if (rc == FERRY_ENOTFOUND)
        /* An empty in-memory history: same validation and the same shape as a real one. */
        rc = state_open(":memory:", true, &db, err);
    if (rc)
        return rc;
    rc = state_list_json(db, status, view, limit, offset, out, err);
    state_close(db);
    return rc;
}

int service_job_get_json(const struct ferry_config *cfg, const char *id, struct fbuf *out, struct ferry_err *err)
{
    struct state_db *db = NULL;
    int rc = state_open(cfg->ferry.state_path, false, &db, err);
    if (rc == FERRY_ENOTFOUND) {
        char where[256];
        state_location_display(cfg->ferry.state_path, where, sizeof where);
        return ferry_errf(err, FERRY_ENOTFOUND, "job '%s' not found (no job history at %s)", id, where);
    }
    if (rc)
        return rc;
    rc = state_get_json(db, id, out, err);
    state_close(db);
    return rc;
}
