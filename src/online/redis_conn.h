/* Private to the Redis online store: Feast's `connection_string` grammar (feast-compat.md §1.4).
 * Items are separated by commas; an item without '=' is host[:port] (the first one is the node ferry
 * connects to, as Feast's single-node client does); an item k=v is a redis-py keyword argument whose
 * value is JSON-decoded when it parses as JSON, else kept as text. Only keywords that ferry can honour
 * over hiredis 0.14 are accepted; anything else is an error rather than silently ignored. */
#ifndef FERRY_ONLINE_REDIS_CONN_H
#define FERRY_ONLINE_REDIS_CONN_H

#include <stdbool.h>

#include "core/err.h"

#define REDIS_HOST_MAX 256

struct redis_conn_opts {
    char host[REDIS_HOST_MAX];
    int port;                   /* default 6379 (redis-py's) */
    long long db;               /* SELECT; default 0 */
    char *username;             /* AUTH user pass (Redis 6 ACL); NULL = none */
    char *password;             /* AUTH; NULL = none */
    char *client_name;          /* CLIENT SETNAME; NULL = none */
    double connect_timeout_s;   /* socket_connect_timeout; 0 = ferry's default */
    double socket_timeout_s;    /* socket_timeout; 0 = ferry's default */
    bool keepalive;             /* socket_keepalive */
};

/* Parses cs into o (zeroed first). Errors are FERRY_ECONFIG and name the offending item, never a
 * password. On error o holds nothing to free; on success free it with redis_conn_opts_cleanup. */
int redis_conn_parse(const char *cs, struct redis_conn_opts *o, struct ferry_err *err);
void redis_conn_opts_cleanup(struct redis_conn_opts *o);

#endif
