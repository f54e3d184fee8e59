/* End-to-end test helpers: temporary directories, fixture paths, running the ferry binary with its
 * output captured. Each test is its own process, so the static state here is per test. */
#include "test.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FERRY_SOURCE_DIR
#define FERRY_SOURCE_DIR "."
#endif

static char tmpdir[256];
static char paths[64][1024];
static size_t npaths;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void remove_tmpdir(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/ferry-test-XXXXXX");
        if (!mkdtemp(tmpdir))
            test_fail(__FILE__, __LINE__, "mkdtemp failed");
        /* Kept on failure (the test process exits via _exit, which skips atexit) for inspection. */
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

static const char *keep_path(const char *fmt, ...)
{
    if (npaths == 64)
        test_fail(__FILE__, __LINE__, "too many paths in one test");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(paths[npaths], sizeof paths[npaths], fmt, ap);
    va_end(ap);
    return paths[npaths++];
}

const char *test_fixture(const char *name)
{
    const char *dir = getenv("FERRY_FIXTURES");
    if (dir && *dir)
        return keep_path("%s/%s", dir, name);
    return keep_path("%s/../shared/fixtures/feast/%s", FERRY_SOURCE_DIR, name);
}

const char *test_source_path(const char *rel) { return keep_path("%s/%s", FERRY_SOURCE_DIR, rel); }

void test_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (!f)
        test_fail(__FILE__, __LINE__, "cannot write %s", path);
    fputs(content, f);
    fclose(f);
}

char *test_path(const char *dir, const char *rel)
{
    char *p = malloc(strlen(dir) + strlen(rel) + 2);
    sprintf(p, "%s/%s", dir, rel);
    return p;
}

void test_copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *data = test_read_file(from, &n);
    if (!data)
        test_fail(__FILE__, __LINE__, "cannot read %s", from);
    FILE *f = fopen(to, "wb");
    if (!f || fwrite(data, 1, n, f) != n)
        test_fail(__FILE__, __LINE__, "cannot write %s", to);
    fclose(f);
    free(data);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *p = malloc(cap);
    size_t r;
    while ((r = fread(p + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2)
            p = realloc(p, cap *= 2);
    }
    fclose(f);
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

int test_run_ferry(struct run_result *r, const char *cwd, const char *const *argv)
{
    const char *bin = getenv("FERRY_BIN");
    if (!bin || !*bin)
        bin = keep_path("%s/build/release/ferry", FERRY_SOURCE_DIR);
    const char *dir = test_tmpdir();
    static int seq;
    seq++;
    char outp[512], errp[512];
    snprintf(outp, sizeof outp, "%s/.run%d.out", dir, seq);
    snprintf(errp, sizeof errp, "%s/.run%d.err", dir, seq);
    size_t argc = 0;
    while (argv[argc])
        argc++;
    const char **full = calloc(argc + 2, sizeof *full);
    full[0] = bin;
    for (size_t i = 0; i < argc; i++)
        full[i + 1] = argv[i];
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(bin, (char *const *)full);
        _exit(127);
    }
    free(full);
    int st = 0;
    waitpid(pid, &st, 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = test_read_file(outp, NULL);
    r->err = test_read_file(errp, NULL);
    if (!r->out)
        r->out = calloc(1, 1);
    if (!r->err)
        r->err = calloc(1, 1);
    return r->status;
}

void run_result_cleanup(struct run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

uint64_t test_file_hash(const char *path)
{
    size_t n = 0;
    char *p = test_read_file(path, &n);
    if (!p)
        return 0;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    free(p);
    return h ^ n;
}
