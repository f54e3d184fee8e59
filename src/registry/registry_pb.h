/* Private to src/registry: the generated protobuf-c types and the helpers registry.c and apply.c
 * share (timestamps, strings in the malloc'd tree, the locked read-modify-write). */
#ifndef FERRY_REGISTRY_PB_H
#define FERRY_REGISTRY_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "feast/core/Registry.pb-c.h"

/* Largest registry.db ferry will read; Feast registries are kilobytes to a few megabytes. */
#define REG_MAX_BYTES ((size_t)256 << 20)

int reg_parse(const char *path, const void *data, size_t len, Feast__Core__Registry **out,
              struct ferry_err *err);
int reg_read(const char *path, Feast__Core__Registry **out, struct ferry_err *err);

int64_t reg_ts_ns(const Feast__Core__Timestamp *ts);         /* NULL -> FERRY_TIME_NONE */
Feast__Core__Timestamp *reg_ts_new(int64_t ns);
void reg_ts_set(Feast__Core__Timestamp **field, int64_t ns);  /* frees the old one */
int64_t reg_now_ns(void);                                     /* microsecond precision, like Python */

/* Strings in the tree are malloc'd, or protobuf_c_empty_string for "" (never freed). */
char *reg_str_new(const char *s);
void reg_str_set(char **field, const char *s);
char *reg_uuid4(void);                                        /* lowercase, 36 characters */

/* Edits the freshly reloaded registry under the lock; a non-zero return aborts without writing. */
typedef int (*reg_edit_fn)(Feast__Core__Registry *r, void *ctx, int64_t now, struct ferry_err *err);
/* Locks "<path>.lock", reloads the file (an empty registry when missing and create is set), runs
 * edit, stamps version_id/last_updated and replaces the file atomically. */
int reg_update(const char *path, bool create, reg_edit_fn edit, void *ctx, struct ferry_err *err);

#endif
