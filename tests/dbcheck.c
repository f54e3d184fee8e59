/* Test-side DuckDB/SQLite queries and hand-built expected bytes (see dbcheck.h). */
#include "dbcheck.h"
#include "test.h"

#include <duckdb.h>
#include <sqlite3.h>

void qtable_free(struct qtable *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->ncols = 0;
}

void duck_query(const char *sql, struct qtable *out)
{
    duckdb_database db;
    duckdb_connection con;
    duckdb_result res;
    if (duckdb_open(NULL, &db) == DuckDBError || duckdb_connect(db, &con) == DuckDBError)
        test_fail(__FILE__, __LINE__, "duckdb open failed");
    duckdb_query(con, "SET TimeZone='UTC'", NULL);
    if (duckdb_query(con, sql, &res) == DuckDBError)
        test_fail(__FILE__, __LINE__, "duckdb: %s\n  in: %s", duckdb_result_error(&res), sql);
    out->ncols = duckdb_column_count(&res);
    out->nrows = duckdb_row_count(&res);
    out->cells = calloc(out->nrows * out->ncols + 1, sizeof *out->cells);
    for (size_t r = 0; r < out->nrows; r++)
        for (size_t c = 0; c < out->ncols; c++) {
            if (duckdb_value_is_null(&res, c, r))
                continue;
            char *s = duckdb_value_varchar(&res, c, r);
            QCELL(out, r, c) = strdup(s);
            duckdb_free(s);
        }
    duckdb_destroy_result(&res);
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

void sqlite_query(const char *db_path, const char *sql, struct qtable *out)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        test_fail(__FILE__, __LINE__, "sqlite open %s failed", db_path);
    sqlite3_busy_timeout(db, 10000);   /* the store may be in the middle of a write transaction */
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        test_fail(__FILE__, __LINE__, "sqlite: %s\n  in: %s", sqlite3_errmsg(db), sql);
    out->ncols = (size_t)sqlite3_column_count(st);
    out->nrows = 0;
    size_t cap = 16;
    out->cells = calloc(cap * out->ncols + 1, sizeof *out->cells);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (out->nrows == cap) {
            cap *= 2;
            out->cells = realloc(out->cells, (cap * out->ncols + 1) * sizeof *out->cells);
        }
        for (size_t c = 0; c < out->ncols; c++) {
            char *cell = NULL;
            int type = sqlite3_column_type(st, (int)c);
            if (type == SQLITE_BLOB) {
                int n = sqlite3_column_bytes(st, (int)c);
                const unsigned char *p = sqlite3_column_blob(st, (int)c);
                cell = malloc((size_t)n * 2 + 1);
                for (int i = 0; i < n; i++)
                    sprintf(cell + 2 * i, "%02x", p[i]);
                cell[2 * n] = '\0';
            } else if (type != SQLITE_NULL) {
                cell = strdup((const char *)sqlite3_column_text(st, (int)c));
            }
            QCELL(out, out->nrows, c) = cell;
        }
        out->nrows++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

void hex_le32(char *out, unsigned int v)
{
    for (int i = 0; i < 4; i++)
        sprintf(out + 2 * i, "%02x", (v >> (8 * i)) & 0xff);
}

void hex_le64(char *out, unsigned long long v)
{
    for (int i = 0; i < 8; i++)
        sprintf(out + 2 * i, "%02x", (unsigned)((v >> (8 * i)) & 0xff));
}

void hex_varint(char *out, unsigned long long v)
{
    int n = 0;
    do {
        unsigned b = v & 0x7f;
        v >>= 7;
        sprintf(out + 2 * n++, "%02x", b | (v ? 0x80 : 0));
    } while (v);
}

void hex_str(char *out, const char *s)
{
    for (; *s; s++, out += 2)
        sprintf(out, "%02x", (unsigned char)*s);
    *out = '\0';
}

void hex_key_int64(char *out, const char *name, long long v)
{
    char *p = out;
    hex_le32(p, 1), p += 8;
    hex_le32(p, 2), p += 8;
    hex_le32(p, (unsigned)strlen(name)), p += 8;
    hex_str(p, name), p += 2 * strlen(name);
    hex_le32(p, 4), p += 8;
    hex_le32(p, 8), p += 8;
    hex_le64(p, (unsigned long long)v);
}
