/* Typed access to libyaml documents with file:line error messages (see yaml_util.h). Only the
 * document API is used: files are at most YDOC_MAX_BYTES, so holding the node tree is cheap, and
 * every node keeps its start mark for error messages. */
#include "config/yaml_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"

/* How much of a bad value to quote in messages, so the explanation still fits the message buffer. */
#define VALUE_QUOTE_MAX 60

int ydoc_load(struct ydoc *d, const char *text, size_t len, const char *name, struct ferry_err *err)
{
    memset(d, 0, sizeof *d);
    d->name = name;
    d->err = err;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return ferry_errf(err, FERRY_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, &d->doc)) {
        rc = ferry_errf(err, FERRY_ECONFIG, "%s:%zu:%zu: YAML syntax error: %s%s%s", name,
                        parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                        parser.problem ? parser.problem : "unknown problem",
                        parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return rc;
    }
    d->loaded = true;
    /* Like PyYAML's safe_load, a second document in the stream is an error, not silently dropped. */
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
        rc = ferry_errf(err, FERRY_ECONFIG, "%s:%zu:%zu: YAML syntax error: %s", name,
                        parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                        parser.problem ? parser.problem : "unknown problem");
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&extra);
        if (root)
            rc = ferry_errf(err, FERRY_ECONFIG, "%s:%zu: expected a single YAML document, found another",
                            name, root->start_mark.line + 1);
        yaml_document_delete(&extra);
    }
    yaml_parser_delete(&parser);
    if (rc)
        ydoc_cleanup(d);
    return rc;
}

void ydoc_cleanup(struct ydoc *d)
{
    if (d->loaded)
        yaml_document_delete(&d->doc);
    d->loaded = false;
}

yaml_node_t *ydoc_root(struct ydoc *d) { return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL; }

yaml_node_t *ynode(struct ydoc *d, int id) { return yaml_document_get_node(&d->doc, id); }

int yline(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

int yerr(struct ydoc *d, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[FERRY_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        return ferry_errf(d->err, FERRY_ECONFIG, "%s:%d: %s", d->name, yline(n), msg);
    return ferry_errf(d->err, FERRY_ECONFIG, "%s: %s", d->name, msg);
}

bool yis_map(const yaml_node_t *n) { return n && n->type == YAML_MAPPING_NODE; }
bool yis_seq(const yaml_node_t *n) { return n && n->type == YAML_SEQUENCE_NODE; }
bool yis_scalar(const yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE; }

const char *yscalar(const yaml_node_t *n)
{
    return yis_scalar(n) ? (const char *)n->data.scalar.value : NULL;
}

bool yis_null(const yaml_node_t *n)
{
    if (!yis_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = yscalar(n);
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

const char *ykind(const yaml_node_t *n)
{
    if (!n)
        return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE: return yis_null(n) ? "null" : "a scalar";
    default: return "an empty node";
    }
}

yaml_node_t *ymap_get(struct ydoc *d, const yaml_node_t *map, const char *key)
{
    if (!yis_map(map))
        return NULL;
    yaml_node_t *found = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = yscalar(ynode(d, p->key));
        if (k && strcmp(k, key) == 0)
            found = ynode(d, p->value);
    }
    return found;
}

int ymap_check_keys(struct ydoc *d, const yaml_node_t *map, const char *ctx,
                    const char *const *allowed, bool no_dups)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = ynode(d, p->key);
        const char *k = yscalar(kn);
        if (!k)
            return yerr(d, kn, "%s: keys must be plain names, got %s", ctx, ykind(kn));
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok) {
            /* List the valid keys: the usual cause is a typo. */
            char list[160] = "";
            size_t used = 0;
            for (const char *const *a = allowed; *a; a++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *a);
                if (w < 0 || (size_t)w >= sizeof list - used)
                    break;
                used += (size_t)w;
            }
            return yerr(d, kn, "%s: unknown key '%.*s' (valid keys: %s)", ctx, VALUE_QUOTE_MAX, k, list);
        }
        if (no_dups)
            for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
                const char *prev = yscalar(ynode(d, q->key));
                if (prev && strcmp(prev, k) == 0)
                    return yerr(d, kn, "%s: key '%s' appears twice", ctx, k);
            }
    }
    return 0;
}

/* "got 'abc'" or "got a mapping" */
static int type_error(struct ydoc *d, const yaml_node_t *n, const char *key, const char *want)
{
    if (yis_scalar(n) && !yis_null(n)) {
        const char *v = yscalar(n);
        return yerr(d, n, "%s: expected %s, got '%.*s'%s", key, want, VALUE_QUOTE_MAX, v,
                    strlen(v) > VALUE_QUOTE_MAX ? "..." : "");
    }
    return yerr(d, n, "%s: expected %s, got %s", key, want, ykind(n));
}

int yget_str(struct ydoc *d, const yaml_node_t *n, const char *key, char **out)
{
    if (!yis_scalar(n) || yis_null(n))
        return type_error(d, n, key, "a string");
    /* A NUL from a "\0" escape would silently truncate the value everywhere downstream. */
    if (strlen(yscalar(n)) != n->data.scalar.length)
        return yerr(d, n, "%s: the value contains a NUL character", key);
    free(*out);
    *out = xstrdup(yscalar(n));
    return 0;
}

int yget_bool(struct ydoc *d, const yaml_node_t *n, const char *key, bool *out)
{
    /* YAML 1.1 booleans, as PyYAML (and so Feast) reads them. */
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    const char *v = yis_null(n) ? NULL : yscalar(n);
    if (v) {
        for (size_t i = 0; i < FERRY_ARRAY_LEN(yes); i++)
            if (strcasecmp(v, yes[i]) == 0) {
                *out = true;
                return 0;
            }
        for (size_t i = 0; i < FERRY_ARRAY_LEN(no); i++)
            if (strcasecmp(v, no[i]) == 0) {
                *out = false;
                return 0;
            }
    }
    return type_error(d, n, key, "a boolean (true/false)");
}

int yget_int(struct ydoc *d, const yaml_node_t *n, const char *key, int64_t *out)
{
    const char *v = yis_null(n) ? NULL : yscalar(n);
    if (!v)
        return type_error(d, n, key, "an integer");
    const char *p = v;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    int64_t x = 0;
    int digits = 0;
    for (; *p; p++) {
        if (*p == '_' && digits)          /* YAML 1.1 digit separators: 1_000 */
            continue;
        if (*p < '0' || *p > '9')
            return type_error(d, n, key, "an integer");
        if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *p - '0', &x))
            return yerr(d, n, "%s: integer '%.*s' is too large", key, VALUE_QUOTE_MAX, v);
        digits++;
    }
    if (!digits)
        return type_error(d, n, key, "an integer");
    *out = neg ? -x : x;
    return 0;
}

bool yvalid_name(const char *name)
{
    if (!name || !*name || *name == '_' || *name == '-')
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}
