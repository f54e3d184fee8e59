/* Bounded growable buffers (see buf.h). Growth doubles; a failure frees the contents. */
#include "core/buf.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fbuf_init(struct fbuf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void fbuf_cleanup(struct fbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void fbuf_reset(struct fbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int fbuf_reserve(struct fbuf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) {
        fbuf_cleanup(b);
        return FERRY_ELIMIT;
    }
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        fbuf_cleanup(b);
        return FERRY_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int fbuf_add(struct fbuf *b, const void *p, size_t n)
{
    int rc = fbuf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int fbuf_addc(struct fbuf *b, char c) { return fbuf_add(b, &c, 1); }
int fbuf_adds(struct fbuf *b, const char *s) { return fbuf_add(b, s, strlen(s)); }

int fbuf_addf(struct fbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return FERRY_EINTERNAL;
    int rc = fbuf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int fbuf_add_u32le(struct fbuf *b, uint32_t v)
{
    unsigned char o[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return fbuf_add(b, o, 4);
}

int fbuf_add_u64le(struct fbuf *b, uint64_t v)
{
    unsigned char o[8];
    for (int i = 0; i < 8; i++)
        o[i] = (unsigned char)(v >> (8 * i));
    return fbuf_add(b, o, 8);
}

int fbuf_add_varint(struct fbuf *b, uint64_t v)
{
    unsigned char o[10];
    size_t n = 0;
    do {
        unsigned char byte = v & 0x7f;
        v >>= 7;
        o[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    return fbuf_add(b, o, n);
}

int fbuf_add_json_str(struct fbuf *b, const char *s, size_t n)
{
    int rc = fbuf_addc(b, '"');
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': rc = fbuf_add(b, "\\\"", 2); break;
        case '\\': rc = fbuf_add(b, "\\\\", 2); break;
        case '\n': rc = fbuf_add(b, "\\n", 2); break;
        case '\r': rc = fbuf_add(b, "\\r", 2); break;
        case '\t': rc = fbuf_add(b, "\\t", 2); break;
        case '\b': rc = fbuf_add(b, "\\b", 2); break;
        case '\f': rc = fbuf_add(b, "\\f", 2); break;
        default:
            rc = c < 0x20 ? fbuf_addf(b, "\\u%04x", c) : fbuf_addc(b, (char)c);
        }
    }
    return rc ? rc : fbuf_addc(b, '"');
}

char *fbuf_take(struct fbuf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
