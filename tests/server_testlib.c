/* The `ferry serve` test harness (see server_testlib.h). */
#include "server_testlib.h"
#include "dbcheck.h"
#include "test.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double srv_now_sec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void start_server(struct server *s, const char *dir)
{
    const char *bin = getenv("FERRY_BIN");
    if (!bin || !*bin)
        bin = test_source_path("build/release/ferry");
    static int seq;
    snprintf(s->errpath, sizeof s->errpath, "%s/.serve%d.err", test_tmpdir(), ++seq);
    fflush(NULL);
    s->pid = fork();
    if (s->pid == 0) {
        int e = open(s->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDWR);
        dup2(in, 0);
        dup2(in, 1);
        dup2(e, 2);
        execl(bin, bin, "-c", dir, "serve", "--port", "0", (char *)NULL);
        _exit(127);
    }
    /* Ready once it prints the bound address (ASan builds start slowly). */
    for (double t0 = srv_now_sec(); srv_now_sec() - t0 < 60;) {
        char *err = test_read_file(s->errpath, NULL);
        const char *at = err ? strstr(err, "listening on http://127.0.0.1:") : NULL;
        if (at) {
            s->port = atoi(at + strlen("listening on http://127.0.0.1:"));
            free(err);
            return;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid)
            test_fail(__FILE__, __LINE__, "server exited early: %s", err ? err : "");
        free(err);
        usleep(20000);
    }
    test_fail(__FILE__, __LINE__, "server did not start");
}

/* SIGTERM, then the exit status (128+signal if killed); the server must exit by itself. */
int stop_server(struct server *s)
{
    kill(s->pid, SIGTERM);
    int st = 0;
    for (double t0 = srv_now_sec(); srv_now_sec() - t0 < 60; usleep(20000))
        if (waitpid(s->pid, &st, WNOHANG) == s->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    test_fail(__FILE__, __LINE__, "server did not stop on SIGTERM");
}

void expect_clean_stop(struct server *s)
{
    int st = stop_server(s);
    if (st != 0) {
        char *err = test_read_file(s->errpath, NULL);
        test_fail(__FILE__, __LINE__, "server exited %d: %s", st, err ? err : "");
    }
}

/* ---- the HTTP client ---- */

struct sink {
    char *data;
    size_t len;
};

static size_t sink_write(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    s->data = realloc(s->data, s->len + size * n + 1);
    memcpy(s->data + s->len, p, size * n);
    s->len += size * n;
    s->data[s->len] = 0;
    return size * n;
}

/* One request. extra: NULL-terminated list of header lines. chunked: send the body without a
 * Content-Length. */
struct resp request_ex(const struct server *s, const char *method, const char *path, const char *body,
                       const char *const *extra, bool chunked)
{
    CURL *c = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    struct sink b = {0}, h = {0};
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    for (size_t i = 0; extra && extra[i]; i++)
        hdrs = curl_slist_append(hdrs, extra[i]);
    if (chunked)
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    struct resp r = {0};
    if (rc != CURLE_OK)
        test_fail(__FILE__, __LINE__, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    r.body = b.data ? b.data : calloc(1, 1);
    r.len = b.len;
    r.headers = h.data ? h.data : calloc(1, 1);
    r.hlen = h.len;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return r;
}

struct resp request(const struct server *s, const char *method, const char *path, const char *body)
{
    return request_ex(s, method, path, body, NULL, false);
}

void resp_free(struct resp *r)
{
    free(r->body);
    free(r->headers);
}

/* A string field of a JSON object body; the caller frees. */
char *json_field(const char *body, const char *name)
{
    json_t *doc = json_loads(body, 0, NULL);
    const char *v = doc ? json_string_value(json_object_get(doc, name)) : NULL;
    char *out = v ? strdup(v) : NULL;
    json_decref(doc);
    return out;
}

/* Polls GET /jobs/{id} until the job reaches want (or any final status); returns the status. */
char *wait_job(const struct server *s, const char *id, const char *want, double seconds)
{
    char path[128];
    snprintf(path, sizeof path, "/jobs/%s", id);
    for (double t0 = srv_now_sec(); srv_now_sec() - t0 < seconds; usleep(20000)) {
        struct resp r = request(s, "GET", path, NULL);
        EXPECT_STATUS(r, 200);
        char *st = json_field(r.body, "status");
        resp_free(&r);
        if (st && (strcmp(st, want) == 0 || strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
                   strcmp(st, "cancelled") == 0))
            return st;
        free(st);
    }
    test_fail(__FILE__, __LINE__, "job %s did not reach %s in %.0f s", id, want, seconds);
}


const char *srv_make_repo(const char *feature_store_yaml, const char *features_yaml, bool big)
{
    const char *dir = test_tmpdir();
    char *p = test_path(dir, "data");
    mkdir(p, 0755);
    free(p);
    p = test_path(dir, "feature_store.yaml");
    test_write_file(p, feature_store_yaml);
    free(p);
    p = test_path(dir, "features.yaml");
    test_write_file(p, features_yaml);
    free(p);
    if (big) {
        char *pq = test_path(dir, "data/big.parquet"), sql[1024];
        snprintf(sql, sizeof sql,
                 "COPY (SELECT i AS driver_id, (i %% 1000)::FLOAT / 1000 AS conv_rate, 0.5::FLOAT AS acc_rate,"
                 " i AS avg_daily_trips, TIMESTAMPTZ '2021-04-15 00:00:00+00' AS event_timestamp,"
                 " TIMESTAMPTZ '2021-04-15 00:00:00+00' AS created FROM range(60000) t(i)) TO '%s' (FORMAT PARQUET)",
                 pq);
        struct qtable t;
        duck_query(sql, &t);
        qtable_free(&t);
        free(pq);
    } else {
        p = test_path(dir, "data/driver_stats.parquet");
        test_copy_file(test_fixture("driver_stats.parquet"), p);
        free(p);
    }
    const char *argv[] = {"-c", dir, "apply", NULL};
    struct run_result r;
    if (test_run_ferry(&r, NULL, argv) != 0)
        test_fail(__FILE__, __LINE__, "apply failed: %s", r.err);
    run_result_cleanup(&r);
    return dir;
}
