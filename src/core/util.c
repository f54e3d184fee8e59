/* Allocation, string, file and quoting helpers (see util.h). */
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

char *xstrdup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int file_read_all(const char *path, size_t max, char **out, size_t *len, struct ferry_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ferry_errf(err, errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO, "%s: %s", path,
                          strerror(errno));
    struct fbuf b;
    fbuf_init(&b, max);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if ((rc = fbuf_add(&b, chunk, n)) != 0)
            break;
    if (!rc && ferror(f))
        rc = FERRY_EIO;
    fclose(f);
    if (rc) {
        fbuf_cleanup(&b);
        return ferry_errf(err, rc, "%s: %s", path,
                          rc == FERRY_ELIMIT ? "file is larger than the limit" : "read failed");
    }
    if (fbuf_reserve(&b, 0)) /* make sure an empty file still yields a buffer */
        return ferry_errf(err, FERRY_ENOMEM, "%s: out of memory", path);
    *out = fbuf_take(&b, len);
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, struct ferry_err *err)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return ferry_errf(err, FERRY_EIO, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    /* Make the rename itself durable. */
    char *dircopy = xstrdup(path);
    int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dircopy);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
fail: {
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return ferry_errf(err, FERRY_EIO, "%s: write failed: %s", path, strerror(e));
}
}

bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int file_mkdir_parent(const char *path, struct ferry_err *err)
{
    char *copy = xstrdup(path);
    const char *dir = dirname(copy);
    int rc = 0;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        rc = ferry_errf(err, FERRY_EIO, "cannot create directory %s: %s", dir, strerror(errno));
    free(copy);
    return rc;
}

char *path_join(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir || !dir[0])
        return xstrdup(path);
    size_t n = strlen(dir);
    return xasprintf("%s%s%s", dir, (n && dir[n - 1] == '/') ? "" : "/", path);
}

static int quote_with(struct fbuf *b, const char *s, char q)
{
    int rc = fbuf_addc(b, q);
    for (; !rc && *s; s++)
        rc = (*s == q) ? fbuf_add(b, (char[]){q, q}, 2) : fbuf_addc(b, *s);
    return rc ? rc : fbuf_addc(b, q);
}

int sql_quote_ident(struct fbuf *b, const char *name) { return quote_with(b, name, '"'); }
int sql_quote_literal(struct fbuf *b, const char *s) { return quote_with(b, s, '\''); }
