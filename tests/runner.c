/* The test runner: runs every registered test (or those whose name contains argv[1]) in its own
 * child process with a time limit, prints one line per test and a final "N passed, N failed" line,
 * and exits non-zero if anything failed. */
#include "test.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 2048
#define TEST_TIMEOUT_SEC 300

struct test_entry { const char *name, *file; test_fn fn; };
static struct test_entry tests[MAX_TESTS];
static size_t ntests;

void test_register(const char *name, const char *file, test_fn fn)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "runner: too many tests\n");
        exit(2);
    }
    tests[ntests++] = (struct test_entry){name, file, fn};
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(NULL);
    _exit(1);
}

void test_assert_hex(const char *file, int line, const void *p, size_t n, const char *hex)
{
    char got[4096] = "", want[4096] = "";
    size_t g = 0, w = 0;
    const unsigned char *b = p;
    for (size_t i = 0; i < n && g + 3 < sizeof got; i++)
        g += (size_t)snprintf(got + g, sizeof got - g, "%02x", b[i]);
    for (const char *h = hex; *h && w + 2 < sizeof want; h++)
        if (*h != ' ')
            want[w++] = (char)((*h >= 'A' && *h <= 'F') ? *h + 32 : *h);
    want[w] = '\0';
    if (strcmp(got, want) != 0)
        test_fail(file, line, "bytes differ:\n  got:      %s\n  expected: %s", got, want);
}

static int cmp_entry(const void *a, const void *b)
{
    const struct test_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    qsort(tests, ntests, sizeof tests[0], cmp_entry);
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < ntests; i++) {
        if (filter && !strstr(tests[i].name, filter) && !strstr(tests[i].file, filter))
            continue;
        fflush(NULL);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(TEST_TIMEOUT_SEC);
            tests[i].fn();
            fflush(NULL);
            exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (ok) {
            passed++;
            printf("ok     %s (%.2fs)\n", tests[i].name, secs);
        } else {
            failed++;
            if (WIFSIGNALED(st))
                printf("FAILED %s: killed by signal %d%s\n", tests[i].name, WTERMSIG(st),
                       WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
            else
                printf("FAILED %s (exit %d)\n", tests[i].name, WEXITSTATUS(st));
        }
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
