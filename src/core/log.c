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

static void write_all(const char *p, size_t left)
{
    while (left > 0) {
        ssize_t n = write(STDERR_FILENO, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
}

/* Writes the line, or when it could not be built (rc != 0: too long for
 * its buffer, or out of memory) a fixed line that says so. */
static void emit(struct buf *b, int rc, const char *now)
{
    if (rc == 0 && b->data && buf_append(b, "\n", 1) == 0) {
        write_all(b->data, b->len);
        return;
    }
    char line[128];
    int n = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"level\":\"error\",\"msg\":\"log line dropped "
                     "(too long or out of memory)\"}\n", now);
    if (n > 0)
        write_all(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
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
    buf_init(&b, 16384); /* msg (2048) escaped, 6 bytes a byte at worst */
    int rc = buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\"", now, level_names[level]);
    if (request_id) {
        rc |= buf_puts(&b, ",\"request_id\":");
        rc |= buf_json_string(&b, request_id);
    }
    rc |= buf_puts(&b, ",\"msg\":");
    rc |= buf_json_string(&b, msg);
    rc |= buf_puts(&b, "}");
    emit(&b, rc, now);
    buf_free(&b);
}

void log_access(const struct access_log_entry *e)
{
    if (LOG_INFO < atomic_load(&current_level))
        return;
    char now[32];
    log_format_time(now);
    struct buf b;
    buf_init(&b, 128u << 10); /* the head is <= 16 KiB (max_request_size), escaped 6x at worst */
    int rc = buf_printf(&b, "{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":", now);
    rc |= buf_json_string(&b, e->request_id ? e->request_id : "");
    rc |= buf_puts(&b, ",\"method\":");
    rc |= buf_json_string(&b, e->method ? e->method : "");
    rc |= buf_puts(&b, ",\"route\":");
    rc |= buf_json_string(&b, e->route ? e->route : "");
    rc |= buf_puts(&b, ",\"path\":");
    rc |= buf_json_string(&b, e->path ? e->path : "");
    rc |= buf_puts(&b, ",\"remote_addr\":");
    rc |= buf_json_string(&b, e->remote_addr ? e->remote_addr : "");
    rc |= buf_printf(&b, ",\"status\":%d,\"duration_ms\":%.3f,\"bytes\":%lld}", e->status,
                     e->duration_ms, e->bytes_out);
    emit(&b, rc, now);
    buf_free(&b);
}
