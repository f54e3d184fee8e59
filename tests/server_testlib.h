/* The `ferry serve` test harness shared by the HTTP, shared-state and other service tests: start
 * the real binary on a free loopback port, stop it with SIGTERM, and talk to it over libcurl. */
#ifndef FERRY_TEST_SERVER_TESTLIB_H
#define FERRY_TEST_SERVER_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct server {
    pid_t pid;
    int port;
    char errpath[512];     /* the server's stderr (its JSON log) */
};

double srv_now_sec(void);
/* Starts `ferry -c dir serve --port 0` (FERRY_BIN) and waits for its "listening on" line. */
void start_server(struct server *s, const char *dir);
/* SIGTERM, then the exit status (128+signal if killed); fails the test if it does not stop. */
int stop_server(struct server *s);
/* stop_server, and the exit status must be 0. */
void expect_clean_stop(struct server *s);

struct resp {
    long status;
    char *body;
    size_t len;
    char *headers;
    size_t hlen;
};
/* One request. extra: NULL-terminated header lines; chunked: no Content-Length. */
struct resp request_ex(const struct server *s, const char *method, const char *path, const char *body,
                       const char *const *extra, bool chunked);
struct resp request(const struct server *s, const char *method, const char *path, const char *body);
void resp_free(struct resp *r);

#define EXPECT_STATUS(r, want)                                                                       \
    do {                                                                                             \
        if ((r).status != (want))                                                                    \
            test_fail(__FILE__, __LINE__, "status %ld, expected %d; body: %s", (r).status, (want), (r).body); \
    } while (0)

/* Makes an applied repository in the test's temp dir: data/, the two YAML files as given, and the
 * source the features name: data/driver_stats.parquet (the Feast fixture), or with big a generated
 * data/big.parquet of 60,000 drivers (driver_id, conv_rate, acc_rate, avg_daily_trips,
 * event_timestamp, created) so a job with small batches runs for a while. */
const char *srv_make_repo(const char *feature_store_yaml, const char *features_yaml, bool big);

/* A string field of a JSON object body; the caller frees. */
char *json_field(const char *body, const char *name);
/* Polls GET /jobs/{id} until the job reaches want (or any final status) within seconds. */
char *wait_job(const struct server *s, const char *id, const char *want, double seconds);

#endif
