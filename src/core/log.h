/* Logging to stderr with a level threshold (set once at start-up from --log-level). */
#ifndef FERRY_CORE_LOG_H
#define FERRY_CORE_LOG_H

enum ferry_log_level { FERRY_LOG_DEBUG, FERRY_LOG_INFO, FERRY_LOG_WARNING, FERRY_LOG_ERROR };

void ferry_log_set_level(enum ferry_log_level level);
int ferry_log_parse_level(const char *name, enum ferry_log_level *out); /* 0 or FERRY_EUSAGE */
void ferry_log(enum ferry_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...) ferry_log(FERRY_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) ferry_log(FERRY_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) ferry_log(FERRY_LOG_WARNING, __VA_ARGS__)
#define LOG_ERROR(...) ferry_log(FERRY_LOG_ERROR, __VA_ARGS__)

#endif
