#include "rectify/log.h"

#include "rectify/buf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    atomic_store(&current_level, (int)level);
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

void log_format_time(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void emit(struct buf *b)
{
    if (!b->data)
        return;
    buf_append(b, "\n", 1);
    const char *p = b->data;
    size_t left = b->len;
    while (left > 0) {
        ssize_t n = write(STDERR_FILENO, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
}

void log_msg(enum log_level level, const char *request_id, const char *fmt, ...)
{
    if ((int)level < atomic_load(&current_level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char now[32];
    log_format_time(now);
    struct buf b;
    buf_init(&b, 8192);
    buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\"", now, level_names[level]);
    if (request_id) {
        buf_puts(&b, ",\"request_id\":");
        buf_json_string(&b, request_id);
    }
    buf_puts(&b, ",\"msg\":");
    buf_json_string(&b, msg);
    buf_puts(&b, "}");
    emit(&b);
    buf_free(&b);
}

void log_access(const struct access_log_entry *e)
{
    if (LOG_INFO < atomic_load(&current_level))
        return;
    char now[32];
    log_format_time(now);
    struct buf b;
    buf_init(&b, 8192);
    buf_printf(&b, "{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":", now);
    buf_json_string(&b, e->request_id ? e->request_id : "");
    buf_puts(&b, ",\"method\":");
    buf_json_string(&b, e->method ? e->method : "");
    buf_puts(&b, ",\"route\":");
    buf_json_string(&b, e->route ? e->route : "");
    buf_puts(&b, ",\"path\":");
    buf_json_string(&b, e->path ? e->path : "");
    buf_puts(&b, ",\"remote_addr\":");
    buf_json_string(&b, e->remote_addr ? e->remote_addr : "");
    buf_printf(&b, ",\"status\":%d,\"duration_ms\":%.3f,\"bytes\":%lld}", e->status,
               e->duration_ms, e->bytes_out);
    emit(&b);
    buf_free(&b);
}
