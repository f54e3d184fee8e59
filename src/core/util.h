/* Small utilities shared by every module: checked allocation, strings, files, SQL identifier quoting.
 * Functions returning char * give the caller ownership of the result (free()). */
#ifndef FERRY_CORE_UTIL_H
#define FERRY_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

#define FERRY_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that aborts on failure: only for small, bounded, internal sizes. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);          /* xstrdup(NULL) == NULL */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

bool str_eq(const char *a, const char *b);   /* NULL-safe */
bool str_ends_with(const char *s, const char *suffix);

/* Reads a whole file of at most max bytes into a NUL-terminated heap buffer. */
int file_read_all(const char *path, size_t max, char **out, size_t *len, struct ferry_err *err);
/* Writes bytes to path atomically: temp file in the same directory, fsync, rename, fsync dir. */
int file_write_atomic(const char *path, const void *data, size_t len, struct ferry_err *err);
bool file_exists(const char *path);
/* Creates the parent directory of path (one level, like Feast) if it does not exist. */
int file_mkdir_parent(const char *path, struct ferry_err *err);
/* Joins dir and a relative path; an absolute path is returned as is (copied). */
char *path_join(const char *dir, const char *path);

/* Appends name as a double-quoted SQL identifier, doubling any '"'. The one quoting helper for
 * SQLite, DuckDB and PostgreSQL identifiers; values always go through bound parameters. */
int sql_quote_ident(struct fbuf *b, const char *name);
/* Appends s as a single-quoted SQL string literal, doubling any '\''. Only for contexts that do not
 * accept parameters (file paths in DuckDB table functions). */
int sql_quote_literal(struct fbuf *b, const char *s);

#endif
