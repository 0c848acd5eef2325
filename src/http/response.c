/* Response helpers: every answer goes through send_response so that each one
 * carries Content-Length, X-Request-Id, the security and CORS headers. */
#include "rectify/http.h"

#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/log.h"

#include <civetweb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct {
    int status;
    const char *title;
} titles[] = {
    {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
    {207, "Multi-Status"}, {304, "Not Modified"}, {400, "Bad Request"},
    {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
    {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {409, "Conflict"},
    {410, "Gone"}, {412, "Precondition Failed"}, {413, "Content Too Large"},
    {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
    {428, "Precondition Required"}, {429, "Too Many Requests"},
    {500, "Internal Server Error"}, {501, "Not Implemented"},
    {503, "Service Unavailable"}, {504, "Gateway Timeout"},
};

const char *http_status_title(int status)
{
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (titles[i].status == status)
            return titles[i].title;
    return status < 500 ? "Client Error" : "Server Error";
}

const char *req_header(const struct req *r, const char *name)
{
    return mg_get_header(r->conn, name);
}

const char *req_param(const struct req *r, const char *name)
{
    return route_param(&r->match, name);
}

const char *req_query(struct req *r, const char *name)
{
    if (!r->query)
        return NULL;
    size_t nl = strlen(name);
    const char *p = r->query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (klen == nl && memcmp(p, name, nl) == 0) {
            const char *v = eq ? eq + 1 : p + len;
            size_t vlen = (size_t)(p + len - v);
            char *out = arena_alloc(r->arena, vlen + 1);
            if (!out)
                return NULL;
            /* A broken %-escape ("100%", "%zz"): the value as sent, which the
             * typed readers refuse, rather than NULL, which reads as absent
             * (found by fuzz_cursor). */
            if (url_decode(v, vlen, out, true) < 0) {
                memcpy(out, v, vlen);
                out[vlen] = '\0';
            }
            return out;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return NULL;
}

void reply_header(struct req *r, const char *name, const char *value)
{
    struct resp_header *h = arena_alloc(r->arena, sizeof *h);
    if (!h)
        return;
    h->name = arena_strdup(r->arena, name);
    h->value = arena_strdup(r->arena, value);
    if (!h->name || !h->value)
        return;
    h->next = r->headers;
    r->headers = h;
}

/* The value of an extra response header (reply_header), or NULL. */
static const char *resp_header(const struct req *r, const char *name)
{
    for (const struct resp_header *h = r->headers; h; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

/* The opaque part of an entity-tag at p ([W/]"..."): its start and length
 * including the quotes, or 0 when p holds none. */
static size_t etag_token(const char *p, const char **start)
{
    if (p[0] == 'W' && p[1] == '/')
        p += 2;
    if (*p != '"')
        return 0;
    const char *end = strchr(p + 1, '"');
    if (!end)
        return 0;
    *start = p;
    return (size_t)(end + 1 - p);
}

bool etag_list_matches(const char *if_none_match, const char *etag)
{
    const char *want;
    size_t wlen = etag ? etag_token(etag, &want) : 0;
    if (!if_none_match || !wlen)
        return false;
    const char *p = if_none_match;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '*') {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        return *q == '\0';
    }
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *tag;
        size_t len = etag_token(p, &tag);
        if (len) {
            if (len == wlen && memcmp(tag, want, len) == 0)
                return true;
            p = tag + len;
        } else {
            p += strcspn(p, ","); /* not an entity-tag: skip the member */
        }
    }
    return false;
}

/* RFC 9110 13.1.2, in one place for every resource: a GET (or HEAD) whose
 * 200 carries an ETag that the request's If-None-Match names (weak
 * comparison) or "*" covers is answered 304 without a body. */
static bool not_modified(const struct req *r, int status)
{
    if (status != 200 || (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0))
        return false;
    return etag_list_matches(req_header(r, "If-None-Match"), resp_header(r, "ETag"));
}

#define LEN_NONE (-2) /* build_head: no Content-Length or Transfer-Encoding (304) */

/* Writes status line, headers and body ourselves in one mg_write: CivetWeb's
 * mg_response_header_* cannot follow an interim "100 Continue", and one
 * write per response is also the fastest. */
/* Status line and headers, with the blank line that ends them. len -1
 * means a chunked body, LEN_NONE no body at all (304: neither header). */
static int build_head(struct req *r, struct buf *b, int status, const char *content_type,
                       long long len)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);

    int rc = buf_printf(b,
               "HTTP/1.1 %d %s\r\nDate: %s\r\nX-Request-Id: %s\r\n"
               "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n",
               status, http_status_title(status), date, r->request_id);
    if (len >= 0)
        rc |= buf_printf(b, "Content-Length: %lld\r\n", len);
    else if (len == -1)
        rc |= buf_puts(b, "Transfer-Encoding: chunked\r\n");
    if (content_type && len != LEN_NONE)
        rc |= buf_printf(b, "Content-Type: %s\r\n", content_type);
    if (r->cors_origin)
        rc |= buf_printf(b,
                   "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
                   "Access-Control-Expose-Headers: X-Request-Id, ETag, Location, "
                   "Retry-After, Allow, Content-Disposition, Idempotent-Replayed\r\n",
                   r->cors_origin);
    const char *conn_hdr = req_header(r, "Connection");
    if (r->close_connection)
        rc |= buf_puts(b, "Connection: close\r\n");
    else if (conn_hdr && strcasecmp(conn_hdr, "keep-alive") == 0)
        rc |= buf_puts(b, "Connection: keep-alive\r\n");
    for (struct resp_header *h = r->headers; h; h = h->next)
        rc |= buf_printf(b, "%s: %s\r\n", h->name, h->value);
    rc |= buf_puts(b, "\r\n");
    return rc;
}

static bool answer_once(struct req *r, int status)
{
    if (r->responded) {
        log_msg(LOG_ERROR, r->request_id, "handler answered twice (status %d)", status);
        return false;
    }
    r->responded = true;
    r->status = status;
    return true;
}

/* The answer when not even the head of the real one can be built: a 503
 * problem formatted on the stack (no allocation), then the connection closes. */
static void send_no_memory(struct req *r)
{
    char body[320], head[320];
    int bn = snprintf(body, sizeof body,
                      "{\"type\":\"" PROBLEM_TYPE_BASE "service_unavailable\","
                      "\"title\":\"Service Unavailable\",\"status\":503,"
                      "\"code\":\"service_unavailable\",\"detail\":\"Out of memory.\","
                      "\"request_id\":\"%s\"}", r->request_id);
    if (bn < 0 || (size_t)bn >= sizeof body)
        bn = 0;
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 503 Service Unavailable\r\nX-Request-Id: %s\r\n"
                      "Content-Type: application/problem+json\r\nContent-Length: %d\r\n"
                      "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                      r->request_id, bn);
    r->status = 503;
    r->close_connection = true;
    mg_disable_connection_keep_alive(r->conn);
    if (hn > 0 && (size_t)hn < sizeof head && mg_write(r->conn, head, (size_t)hn) >= 0 &&
        strcmp(r->method, "HEAD") != 0)
        mg_write(r->conn, body, (size_t)bn);
    r->bytes_out = bn;
}

#define HEAD_MAX (64u << 10) /* status line and headers */

/* Whether a failed allocation spoiled this answer, which then becomes a 503
 * (retry): a 4xx, since req_query may have read a parameter as absent, and a
 * success to GET or HEAD, since reply_header may have dropped its ETag or
 * Content-Disposition. A write's success goes out as it is (its change is
 * committed; a 503 would invite a second one) and the loss is logged. */
static bool memory_spoiled(const struct req *r, int status)
{
    if (!r->arena || !arena_failed(r->arena) || status >= 500)
        return false;
    bool safe = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (status < 400 && !safe) {
        log_msg(LOG_WARN, r->request_id, "memory ran out: answer %d may lack a header", status);
        return false;
    }
    log_msg(LOG_WARN, r->request_id, "answering 503, not %d: memory ran out", status);
    return true;
}

static void send_response(struct req *r, int status, const char *content_type,
                          const void *body, size_t len)
{
    bool unchanged = not_modified(r, status);
    if (unchanged)
        status = 304;
    if (!answer_once(r, status))
        return;
    if (memory_spoiled(r, status)) {
        send_no_memory(r);
        return;
    }
    if (unchanged)
        len = 0;
    struct buf b;
    buf_init(&b, HEAD_MAX + len);
    if (build_head(r, &b, status, content_type, unchanged ? LEN_NONE : (long long)len) ||
        !b.data) {
        buf_free(&b);
        send_no_memory(r);
        return;
    }
    bool with_body = len && strcmp(r->method, "HEAD") != 0;
    int wrote;
    if (with_body && buf_append(&b, body, len) != 0) /* no room to copy: two writes */
        wrote = mg_write(r->conn, b.data, b.len) < 0 ? -1 : mg_write(r->conn, body, len);
    else
        wrote = mg_write(r->conn, b.data, b.len);
    if (wrote < 0)
        log_msg(LOG_INFO, r->request_id, "client went away before the response was sent");
    buf_free(&b);
    r->bytes_out = (long long)len;
}

void reply_stream_begin(struct req *r, int status, const char *content_type)
{
    bool unchanged = not_modified(r, status);
    if (unchanged)
        status = 304;
    if (!answer_once(r, status))
        return;
    if (memory_spoiled(r, status)) {
        send_no_memory(r);
        return;
    }
    r->streaming = true;
    struct buf b;
    buf_init(&b, HEAD_MAX);
    if (build_head(r, &b, status, content_type, unchanged ? LEN_NONE : -1) || !b.data) {
        buf_free(&b);
        r->streaming = false; /* producers see -1 from reply_stream_write and stop */
        send_no_memory(r);
        return;
    }
    if (mg_write(r->conn, b.data, b.len) < 0)
        r->streaming = false;
    if (unchanged || strcmp(r->method, "HEAD") == 0)
        r->streaming = false; /* the head is all a HEAD or a 304 gets: producers stop */
    buf_free(&b);
}

int reply_stream_write(struct req *r, const void *data, size_t len)
{
    if (!r->streaming)
        return -1;
    if (len == 0)
        return 0;
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    if (mg_write(r->conn, size, (size_t)n) < 0 || mg_write(r->conn, data, len) < 0 ||
        mg_write(r->conn, "\r\n", 2) < 0) {
        r->streaming = false;
        log_msg(LOG_INFO, r->request_id, "client went away during a streamed answer");
        return -1;
    }
    r->bytes_out += (long long)len;
    return 0;
}

void reply_stream_end(struct req *r)
{
    if (r->streaming)
        mg_write(r->conn, "0\r\n\r\n", 5);
    r->streaming = false;
}

void reply_stream_abort(struct req *r)
{
    r->streaming = false;
    r->close_connection = true;
    mg_disable_connection_keep_alive(r->conn);
}

long req_read(struct req *r, void *buf, size_t len)
{
    if (!r->continue_sent) {
        r->continue_sent = true;
        const char *expect = req_header(r, "Expect");
        if (expect && strcasecmp(expect, "100-continue") == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            mg_write(r->conn, cont, sizeof cont - 1);
        }
    }
    int n = mg_read(r->conn, buf, len);
    return n < 0 ? -1 : n;
}

void reply(struct req *r, int status, const char *content_type, const void *body,
           size_t len)
{
    send_response(r, status, content_type, body, len);
}

void reply_json(struct req *r, int status, const char *json, size_t len)
{
    send_response(r, status, "application/json; charset=utf-8", json, len);
}

void reply_empty(struct req *r, int status)
{
    send_response(r, status, NULL, NULL, 0);
}

int problem_render(struct buf *out, int status, const char *code, const char *detail,
                   const char *instance, const char *request_id,
                   const struct field_error *errors, size_t nerrors)
{
    /* Codes are our own identifiers ([a-z_]), safe inside a JSON string. */
    int rc = buf_printf(out, "{\"type\":\"%s%s\",\"title\":", PROBLEM_TYPE_BASE, code);
    rc |= buf_json_string(out, http_status_title(status));
    rc |= buf_printf(out, ",\"status\":%d,\"code\":", status);
    rc |= buf_json_string(out, code);
    rc |= buf_puts(out, ",\"detail\":");
    rc |= buf_json_string(out, detail && *detail ? detail : http_status_title(status));
    if (instance) {
        rc |= buf_puts(out, ",\"instance\":");
        rc |= buf_json_string(out, instance);
    }
    if (request_id) {
        rc |= buf_puts(out, ",\"request_id\":");
        rc |= buf_json_string(out, request_id);
    }
    if (nerrors) {
        rc |= buf_puts(out, ",\"errors\":[");
        for (size_t i = 0; i < nerrors; i++) {
            rc |= buf_puts(out, i ? ",{" : "{");
            if (errors[i].parameter) {
                rc |= buf_puts(out, "\"parameter\":");
                rc |= buf_json_string(out, errors[i].parameter);
            } else {
                rc |= buf_puts(out, "\"pointer\":");
                rc |= buf_json_string(out, errors[i].pointer ? errors[i].pointer : "");
            }
            rc |= buf_puts(out, ",\"code\":");
            rc |= buf_json_string(out, errors[i].code ? errors[i].code : "invalid");
            rc |= buf_puts(out, ",\"message\":");
            rc |= buf_json_string(out, errors[i].message ? errors[i].message : "");
            rc |= buf_puts(out, "}");
        }
        rc |= buf_puts(out, "]");
    }
    rc |= buf_puts(out, "}");
    return rc ? -1 : 0;
}

void reply_problem_errors(struct req *r, int status, const char *code,
                          const char *detail, const struct field_error *errors,
                          size_t nerrors)
{
    struct buf b;
    buf_init(&b, 0);
    if (problem_render(&b, status, code, detail, r->path, r->request_id, errors, nerrors)) {
        buf_free(&b);
        static const char fallback[] = "{\"status\":500,\"code\":\"internal_error\"}";
        send_response(r, 500, "application/problem+json", fallback, sizeof fallback - 1);
        return;
    }
    send_response(r, status, "application/problem+json", b.data, b.len);
    buf_free(&b);
}

void reply_problem(struct req *r, int status, const char *code, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    reply_problem_errors(r, status, code, detail, NULL, 0);
}
