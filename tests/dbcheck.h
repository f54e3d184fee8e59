/* Independent views of what ferry wrote and read: DuckDB and SQLite queries run by the tests
 * themselves, with every cell rendered as text (BLOBs as lowercase hex). */
#ifndef FERRY_TEST_DBCHECK_H
#define FERRY_TEST_DBCHECK_H

#include <stddef.h>

struct qtable {
    size_t nrows, ncols;
    char **cells;      /* nrows * ncols, NULL for SQL NULL */
};
#define QCELL(t, r, c) ((t)->cells[(r) * (t)->ncols + (c)])

/* Runs sql in a fresh in-memory DuckDB (TimeZone UTC); fails the test on error. */
void duck_query(const char *sql, struct qtable *out);
/* Runs sql against a SQLite file; fails the test on error. */
void sqlite_query(const char *db_path, const char *sql, struct qtable *out);
void qtable_free(struct qtable *t);

/* Hex helpers for building expected bytes by hand. */
void hex_le32(char *out, unsigned int v);                 /* 8 hex chars */
void hex_le64(char *out, unsigned long long v);           /* 16 hex chars */
void hex_varint(char *out, unsigned long long v);         /* protobuf varint */
void hex_str(char *out, const char *s);                   /* bytes of s */
/* Feast v3 entity key for one int64 join key, per feast-compat.md §3.2. */
void hex_key_int64(char *out, const char *name, long long v);

#endif
