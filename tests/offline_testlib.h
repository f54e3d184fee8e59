/* Helpers shared by the offline store tests for the SQL backends and the conformance suite:
 * views built by hand, a batch receiver that decodes rows to Feast JSON, expected entity keys from
 * the key serializer, and a PostgreSQL for making source tables (FERRY_TEST_PG, set by
 * scripts/test_services.sh; a test that needs it and finds it unset fails, never skips). */
#ifndef FERRY_TESTS_OFFLINE_TESTLIB_H
#define FERRY_TESTS_OFFLINE_TESTLIB_H

#include <libpq-fe.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "feast/feast.h"
#include "offline/offline.h"

#define OT_NS(sec) ((int64_t)(sec) * FERRY_NS_PER_SEC)

/* Instants by hand, through the C library rather than ferry's own time code. */
int64_t ot_utc(int y, int mo, int d, int h, int mi, int sec, int64_t ns);

/* A view reading `target` (a file path, or a table for the SQL kinds). */
void ot_view_init(struct feast_view *v, const char *name, int kind, const char *target, const char *ts,
                  const char *created);
void ot_view_key(struct feast_view *v, const char *name, int vt);
void ot_view_feat(struct feast_view *v, const char *name, int vt);
void ot_view_map(struct feast_view *v, const char *src, const char *dst);

struct ot_row { char *key; int64_t ev, cr; char *vals; };   /* key in hex, values JSON joined by '|' */
struct ot_got {
    size_t n, cap;
    struct ot_row *rows;
    int emits;
    size_t max_batch;
    volatile int *cancel_on_emit;   /* set to 1 by the first emit, when not NULL */
    int fail_emit;                  /* emit returns this (0: accepts every batch) */
};
/* An offline_pull emit (ctx = struct ot_got): decodes every row, then hands back a fresh batch as
 * the engine does, so ownership transfer is exercised. */
int ot_collect(void *ctx, struct feast_batch **bp, struct ferry_err *err);
void ot_got_cleanup(struct ot_got *g);

struct ot_run {
    struct offline_store *st;
    struct feast_schema schema;
    struct offline_pull pull;
    struct ot_got got;
    struct ferry_err err;
    volatile int cancel;
};
/* Opens the store of cfg; fails the test on error. */
void ot_run_init(struct ot_run *r, const struct ferry_config *cfg, const struct feast_view *v,
                 int64_t start, int64_t end, size_t batch);
int ot_run_pull(struct ot_run *r);
void ot_run_cleanup(struct ot_run *r);

char *ot_key1(const char *name, int vt, int64_t i, const char *s);         /* hex, caller frees */
char *ot_key2(const char *n1, int vt1, int64_t i1, const char *s1,
              const char *n2, int vt2, int64_t i2, const char *s2);
const struct ot_row *ot_find(const struct ot_got *g, const char *key);     /* NULL if absent */
const struct ot_row *ot_find_int(const struct ot_got *g, const char *name, int vt, int64_t v);

/* ---- PostgreSQL ---- */
/* A connection to FERRY_TEST_PG (fails the test when unset or unreachable), in TimeZone UTC. */
PGconn *ot_pg_connect(void);
/* Runs SQL (printf-style); fails the test on error. Returns the result for queries (PQclear it). */
PGresult *ot_pg_sql(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Creates a schema with a name unique to this test process and returns it (static storage). */
const char *ot_pg_schema(PGconn *c);
/* cfg for `type: postgres` from FERRY_TEST_PG (sslmode disable, db_schema public). */
void ot_pg_config(struct ferry_config *cfg);
/* An ODBC connection string for the same server through Debian's "PostgreSQL Unicode" driver. */
const char *ot_odbc_connstr(void);
void ot_config_cleanup(struct ferry_config *cfg);
/* Pulls the latest of `nrows` PostgreSQL rows over `nkeys` keys in batches of 1000 through the store
 * of cfg (a table source of `kind`), checks no batch exceeds 1000 rows and the values against an
 * independent GROUP BY/max query, and prints the rate under `label`. Cleans up cfg. */
void ot_streams_many_rows(struct ferry_config *cfg, int kind, int nkeys, int nrows, const char *label);

#endif
