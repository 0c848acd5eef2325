/* JSON log lines on stderr, one per event, written with a single write(2) so
 * lines from concurrent threads never interleave. */
#ifndef RECTIFY_LOG_H
#define RECTIFY_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn", "error"; returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

/* request_id may be NULL. The message is escaped; never pass secrets. */
void log_msg(enum log_level level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)

struct access_log_entry {
    const char *request_id, *method, *route, *path, *remote_addr;
    int status;
    double duration_ms;
    long long bytes_out;
};
void log_access(const struct access_log_entry *e);

/* Writes the current time as RFC 3339 with milliseconds in UTC into out. */
void log_format_time(char out[32]);

#endif
