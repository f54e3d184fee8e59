/* Private to src/config: a thin layer over libyaml's document API that turns YAML nodes into typed
 * values with error messages in one style, "<file>:<line>: <context>: <problem>" (line from the
 * node's start mark, 1-based). Not part of the public config API. */
#ifndef FERRY_CONFIG_YAML_UTIL_H
#define FERRY_CONFIG_YAML_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "core/err.h"

/* Config files are small; anything larger is almost surely a mistake (or hostile). */
#define YDOC_MAX_BYTES ((size_t)4 << 20)

struct ydoc {
    yaml_document_t doc;
    bool loaded;
    const char *name;           /* file name used in messages (not owned) */
    struct ferry_err *err;
};

/* Parses text as a single YAML document. Syntax errors are FERRY_ECONFIG
 * "<name>:<line>:<col>: YAML syntax error: ...". The root may be NULL for an empty document. */
int ydoc_load(struct ydoc *d, const char *text, size_t len, const char *name, struct ferry_err *err);
void ydoc_cleanup(struct ydoc *d);
yaml_node_t *ydoc_root(struct ydoc *d);
yaml_node_t *ynode(struct ydoc *d, int id);

int yline(const yaml_node_t *n);
/* FERRY_ECONFIG "<name>:<line of n>: <message>". */
int yerr(struct ydoc *d, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

bool yis_map(const yaml_node_t *n);
bool yis_seq(const yaml_node_t *n);
bool yis_scalar(const yaml_node_t *n);
/* YAML null: a plain "~", "null"/"Null"/"NULL" or empty scalar. */
bool yis_null(const yaml_node_t *n);
const char *yscalar(const yaml_node_t *n);     /* NULL unless a scalar */
const char *ykind(const yaml_node_t *n);       /* "a mapping", "a list", ... for messages */

/* The value of key in a mapping (the last one when repeated, like PyYAML), or NULL. */
yaml_node_t *ymap_get(struct ydoc *d, const yaml_node_t *map, const char *key);
/* Fails on a key not in allowed (NULL-terminated) or a non-scalar key; with no_dups, also on a
 * repeated key. ctx names the block in the message ("online_store", "feature view 'x'"). */
int ymap_check_keys(struct ydoc *d, const yaml_node_t *map, const char *ctx,
                    const char *const *allowed, bool no_dups);

/* Typed reads of a value node; key names the setting in messages. */
int yget_str(struct ydoc *d, const yaml_node_t *n, const char *key, char **out);
int yget_bool(struct ydoc *d, const yaml_node_t *n, const char *key, bool *out);
int yget_int(struct ydoc *d, const yaml_node_t *n, const char *key, int64_t *out);

/* Feast's is_valid_name (repo_operations.py): [A-Za-z0-9_-]+, not starting with '_' or '-'.
 * ASCII only (Python's \w would also take other Unicode letters; names go into table names). */
bool yvalid_name(const char *name);

#endif
