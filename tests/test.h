/* ferry's test runner interface: TEST(name) registers a test; each test runs in its own process
 * (fork) with a time limit, so a crash or a hang fails that test alone. Asserts print file:line and
 * the two values, then end the test process. The runner ends with "N passed, N failed". */
#ifndef FERRY_TEST_H
#define FERRY_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
_Noreturn void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                                     \
    static void name(void);                                                            \
    __attribute__((constructor)) static void name##_register(void)                     \
    { test_register(#name, __FILE__, name); }                                          \
    static void name(void)

#define ASSERT_TRUE(c) do { if (!(c)) test_fail(__FILE__, __LINE__, "expected true: %s", #c); } while (0)
#define ASSERT_FALSE(c) do { if (c) test_fail(__FILE__, __LINE__, "expected false: %s", #c); } while (0)
#define ASSERT_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b);            \
    if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); } while (0)
#define ASSERT_EQ_DBL(a, b) do { double a_ = (a), b_ = (b);                                       \
    if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %.17g != %.17g", #a, #b, a_, b_); } while (0)
#define ASSERT_EQ_STR(a, b) do { const char *a_ = (a), *b_ = (b);                                  \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                         \
        test_fail(__FILE__, __LINE__, "%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"", #a, #b, \
                  a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)
/* Compares bytes with a hex string; spaces in the hex string are ignored. */
#define ASSERT_EQ_HEX(p, n, hex) test_assert_hex(__FILE__, __LINE__, (const void *)(p), (n), (hex))
#define ASSERT_CONTAINS(hay, needle) do { const char *h_ = (hay), *n_ = (needle);                  \
    if (!h_ || !strstr(h_, n_)) test_fail(__FILE__, __LINE__, "expected \"%s\" to contain \"%s\"",  \
                                          h_ ? h_ : "(null)", n_); } while (0)
/* For functions returning 0 or a FERRY_E* code with a struct ferry_err. */
#define ASSERT_OK(expr, errp) do { int rc_ = (expr); __typeof__(errp) e_ = (errp);              \
    if (rc_ != 0) test_fail(__FILE__, __LINE__, "%s failed with %d: %s", #expr, rc_,              \
                            e_ ? e_->msg : ""); } while (0)

void test_assert_hex(const char *file, int line, const void *p, size_t n, const char *hex);

/* ---- harness for end-to-end tests (tests/harness.c) ---- */
/* A fresh temporary directory, removed when the test process exits successfully. */
const char *test_tmpdir(void);
/* Absolute path of shared/fixtures/feast/<name> (env FERRY_FIXTURES overrides the folder). */
const char *test_fixture(const char *name);
/* Absolute path inside the source tree. Returned pointers stay valid for the test's lifetime. */
const char *test_source_path(const char *rel);
void test_write_file(const char *path, const char *content);
/* dir + "/" + rel in a new heap string (caller frees). */
char *test_path(const char *dir, const char *rel);
/* Copies a file byte for byte (fails the test if it cannot). */
void test_copy_file(const char *from, const char *to);
char *test_read_file(const char *path, size_t *len);   /* caller frees */

struct run_result {
    int status;      /* exit status, or 128+signal */
    char *out;       /* captured stdout (NUL-terminated, caller frees via run_result_cleanup) */
    char *err;       /* captured stderr */
};
/* Runs the ferry binary (env FERRY_BIN) with the given arguments (NULL-terminated) in cwd. */
int test_run_ferry(struct run_result *r, const char *cwd, const char *const *argv);
void run_result_cleanup(struct run_result *r);
/* sha-like fingerprint of a file's bytes, to check a file was left untouched. */
uint64_t test_file_hash(const char *path);

#endif
