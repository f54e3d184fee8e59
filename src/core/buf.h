/* Bounded growable byte buffers. A struct fbuf is embedded by its owner (fbuf_init/fbuf_cleanup);
 * it owns its bytes. Every buffer has a hard maximum size: growing past it, or failing to allocate,
 * frees the contents and returns FERRY_ELIMIT/FERRY_ENOMEM, so a half-built buffer never leaks or
 * lingers. The contents are always NUL-terminated (the NUL is not counted in len). */
#ifndef FERRY_CORE_BUF_H
#define FERRY_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct fbuf {
    char *data;     /* NULL until the first byte is added */
    size_t len;     /* bytes in use */
    size_t cap;     /* bytes allocated */
    size_t max;     /* hard limit for len */
};

void fbuf_init(struct fbuf *b, size_t max);
void fbuf_cleanup(struct fbuf *b);        /* frees the bytes; the buffer can be reused */
void fbuf_reset(struct fbuf *b);          /* len = 0, keeps the allocation */
int fbuf_reserve(struct fbuf *b, size_t extra);
int fbuf_add(struct fbuf *b, const void *p, size_t n);
int fbuf_addc(struct fbuf *b, char c);
int fbuf_adds(struct fbuf *b, const char *s);
int fbuf_addf(struct fbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fbuf_add_u32le(struct fbuf *b, uint32_t v);
int fbuf_add_u64le(struct fbuf *b, uint64_t v);
int fbuf_add_varint(struct fbuf *b, uint64_t v);   /* protobuf base-128 varint */
/* Appends s[0..n) as a JSON string literal (quotes, escapes; UTF-8 passes through). */
int fbuf_add_json_str(struct fbuf *b, const char *s, size_t n);
/* Hands the bytes to the caller (who frees them) and leaves the buffer empty. */
char *fbuf_take(struct fbuf *b, size_t *len);

#endif
