#include "rectify/server.h"

#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/client_addr.h"
#include "rectify/config.h"
#include "rectify/http.h"
#include "rectify/json.h"
#include "rectify/log.h"
#include "rectify/metrics.h"
#include "rectify/router.h"
#include "rectify/torture.h"

#include <cJSON.h>
#include <civetweb.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A request being handled, linked into server.running for
 * server_each_in_flight; lives on its worker's stack. */
struct running {
    struct running *prev, *next;
    const struct req *r;
    double start;
};

struct server {
    struct mg_context *ctx;
    const struct server_hooks *hooks;
    int port;
    atomic_bool draining;
    atomic_int in_flight;
    struct proxy_list *proxies; /* RECTIFY_TRUSTED_PROXIES */
    pthread_mutex_t running_lock;
    struct running running; /* list head */
};

/* CivetWeb 1.15 as Debian builds it gives every worker thread a fixed
 * 100 KiB stack (USE_STACK_SIZE) and has no option to change it. It sets
 * the size through pthread_attr_setstacksize, so this definition, which the
 * dynamic linker prefers to libc's, raises any smaller request to
 * RECTIFY_WORKER_STACK (set by server_start before the workers start). */
static atomic_size_t worker_stack;

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size)
{
    static int (*libc_setstacksize)(pthread_attr_t *, size_t);
    if (!libc_setstacksize) {
        void *sym = dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
        if (!sym)
            return 22; /* EINVAL: the thread keeps the default stack */
        memcpy(&libc_setstacksize, &sym, sizeof sym); /* object -> function pointer */
    }
    size_t floor = atomic_load(&worker_stack);
    return libc_setstacksize(attr, size < floor ? floor : size);
}

/* The stack the calling thread actually has (for the start-up log). */
static size_t own_stack_size(void)
{
    pthread_attr_t a;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstacksize(&a, &size);
        pthread_attr_destroy(&a);
    }
    return size;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void new_request_id(char out[65])
{
    unsigned char raw[12];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, 65, raw, sizeof raw);
}

static long request_read(void *ctx, char *buf, size_t len)
{
    return req_read(ctx, buf, len);
}

static void delete_json(void *p) { cJSON_Delete(p); }

static bool method_has_body(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

/* Reads and (for JSON routes) parses the body. False = already answered. */
static bool body_or_reply(struct req *r, const struct mg_request_info *ri,
                          const struct config *cfg)
{
    const struct route *route = r->match.route;
    if (!(route->flags & (ROUTE_JSON_BODY | ROUTE_RAW_BODY)))
        return true;
    const char *te = req_header(r, "Transfer-Encoding");
    bool has_body = ri->content_length > 0 || (te && strcasecmp(te, "identity") != 0);
    if (!has_body) {
        if (route->flags & ROUTE_JSON_BODY) {
            reply_problem(r, 400, "malformed_json", "The request needs a JSON body.");
            return false;
        }
        return true;
    }
    if (route->flags & ROUTE_RAW_BODY)
        return true; /* the handler streams it with its own limit */
    if (!content_type_is_json(req_header(r, "Content-Type"))) {
        reply_problem(r, 415, "unsupported_media_type",
                      "Send the body as application/json (UTF-8).");
        r->close_connection = true;
        return false;
    }
    if (ri->content_length > cfg->max_body) {
        /* Refused before reading: the client may not even send it (Expect). */
        r->close_connection = true;
        reply_problem(r, 413, "payload_too_large",
                      "The body is %lld bytes; the limit is %lld bytes.",
                      ri->content_length, cfg->max_body);
        return false;
    }
    /* req_read answers "Expect: 100-continue" (CivetWeb does not), only
     * now that the body is known to be acceptable. */
    struct buf b;
    buf_init(&b, (size_t)cfg->max_body);
    enum body_result br = body_read_all(request_read, r, ri->content_length,
                                        cfg->max_body, &b);
    if (br != BODY_OK) {
        buf_free(&b);
        r->close_connection = true;
        if (br == BODY_TOO_LARGE)
            reply_problem(r, 413, "payload_too_large", "The body exceeds the limit of %lld bytes.",
                          cfg->max_body);
        else if (br == BODY_NO_MEMORY)
            reply_problem(r, 503, "service_unavailable", "Out of memory.");
        else
            reply_problem(r, 400, "incomplete_body", "The request body ended early.");
        return false;
    }
    if (arena_defer(r->arena, free, b.data)) { /* b.data is freed */
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return false;
    }
    r->body_len = b.len;
    r->body = b.data;

    cJSON *json;
    size_t at = 0;
    enum json_status st = json_parse(r->body, r->body_len, &json, &at);
    if (st != JSON_OK) {
        reply_problem(r, st == JSON_NO_MEMORY ? 503 : 400, json_status_code(st),
                      "The body %s (near byte %zu).", json_status_message(st), at);
        return false;
    }
    if (arena_defer(r->arena, delete_json, json)) { /* json is deleted */
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return false;
    }
    r->json = json;
    return true;
}

/* CORS: remembers an allowed Origin; answers preflight requests. Returns
 * true when the request was a preflight and has been answered. */
static bool cors_preflight(struct req *r, const struct config *cfg, enum router_result rr)
{
    const char *origin = req_header(r, "Origin");
    if (origin && config_origin_allowed(cfg->cors_origins, origin))
        r->cors_origin = origin;
    if (strcmp(r->method, "OPTIONS") != 0 || !req_header(r, "Access-Control-Request-Method"))
        return false;
    if (rr == ROUTER_NOT_FOUND) {
        reply_problem(r, 404, "not_found", "No resource at %s.", r->path);
    } else if (!r->cors_origin) {
        reply_problem(r, 403, "cors_origin_denied", "This origin may not call the API.");
    } else {
        reply_header(r, "Access-Control-Allow-Methods", r->match.allow);
        reply_header(r, "Access-Control-Allow-Headers",
                     "Authorization, Content-Type, If-Match, If-None-Match, "
                     "Idempotency-Key, X-Request-Id");
        reply_header(r, "Access-Control-Max-Age", "600");
        reply_empty(r, 204);
    }
    return true;
}

/* A %00 in the query string: every reader of the decoded value would see it
 * end there (?status=pending%00x read as "pending"), so the request is
 * refused, 400 invalid_parameter naming the parameter, before any handler. */
static bool query_ok_or_reply(struct req *r)
{
    const char *nul = r->query ? strstr(r->query, "%00") : NULL;
    if (!nul)
        return true;
    const char *start = nul;
    while (start > r->query && start[-1] != '&')
        start--;
    size_t klen = strcspn(start, "=&");
    char name[65];
    snprintf(name, sizeof name, "%.*s", (int)(klen < 64 ? klen : 64), start);
    struct field_error e = {.parameter = name,
                            .message = "must not contain a NUL character (%00)"};
    r->close_connection = true; /* a body, if any, is not read */
    reply_problem_errors(r, 400, "invalid_parameter",
                         "A query parameter contains a NUL character (%00).", &e, 1);
    return false;
}

static void dispatch(struct server *s, struct req *r, const struct mg_request_info *ri)
{
    const struct server_hooks *h = s->hooks;
    if (atomic_load(&s->draining)) {
        r->close_connection = true;
        reply_header(r, "Retry-After", "1");
        reply_problem(r, 503, "shutting_down", "This instance is shutting down; retry.");
        return;
    }
    /* HEAD is GET without the body (the response writer drops it). */
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    enum router_result rr = router_match(h->router, method, r->path, r->arena, &r->match);
    if (rr == ROUTER_NO_MEMORY) {
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }
    if (cors_preflight(r, h->cfg, rr))
        return;
    if (rr == ROUTER_NOT_FOUND) {
        reply_problem(r, 404, "not_found", "No resource at %s.", r->path);
        return;
    }
    if (rr == ROUTER_METHOD_NOT_ALLOWED) {
        reply_header(r, "Allow", r->match.allow);
        reply_problem(r, 405, "method_not_allowed", "%s is not allowed here; use %s.",
                      r->method, r->match.allow);
        return;
    }
    const struct route *route = r->match.route;
    if (!(route->flags & ROUTE_OPS) && h->ready_or_reply && !h->ready_or_reply(r))
        return;
    if (route->permission && h->authorize_or_reply && !h->authorize_or_reply(r))
        return;
    if (!query_ok_or_reply(r))
        return;
    if (method_has_body(r->method) && !body_or_reply(r, ri, h->cfg))
        return;
    route->handler(r);
    if (!r->responded) {
        log_msg(LOG_ERROR, r->request_id, "handler for %s %s did not answer", route->method,
                route->pattern);
        reply_problem(r, 500, "internal_error", "The request could not be completed.");
    }
}

static void running_remove(struct server *s, struct running *me)
{
    pthread_mutex_lock(&s->running_lock);
    me->prev->next = me->next;
    me->next->prev = me->prev;
    pthread_mutex_unlock(&s->running_lock);
}

static int begin_request(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct server *s = ri->user_data;
    const struct server_hooks *h = s->hooks;
    double start = now_seconds();
    atomic_fetch_add(&s->in_flight, 1);
    metrics_in_flight(1);
    static atomic_flag stack_logged = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set(&stack_logged))
        log_msg(LOG_INFO, NULL, "HTTP worker stack: %zu KiB", own_stack_size() / 1024);

    torture_begin(mg_get_header(conn, "X-Rectify-Torture")); /* torture builds only */
    struct req r;
    memset(&r, 0, sizeof r);
    r.conn = conn;
    r.app = h->app;
    r.arena = arena_new();
    r.method = ri->request_method;
    r.path = ri->local_uri_raw ? ri->local_uri_raw : "";
    r.query = ri->query_string;
    char client[CLIENT_ADDR_MAX];
    client_addr(s->proxies, ri->remote_addr, mg_get_header(conn, "Forwarded"),
                mg_get_header(conn, "X-Forwarded-For"), client);
    r.remote_addr = client;
    const char *rid = mg_get_header(conn, "X-Request-Id");
    if (request_id_is_sane(rid))
        snprintf(r.request_id, sizeof r.request_id, "%s", rid);
    else
        new_request_id(r.request_id);

    struct running me = {.r = &r, .start = start}; /* appended: oldest first */
    pthread_mutex_lock(&s->running_lock);
    me.prev = s->running.prev;
    me.next = &s->running;
    me.prev->next = &me;
    s->running.prev = &me;
    pthread_mutex_unlock(&s->running_lock);

    if (!r.arena) {
        /* Out of memory: answer without the arena. */
        static const char body[] = "{\"status\":503,\"code\":\"service_unavailable\"}";
        mg_response_header_start(conn, 503);
        mg_response_header_add(conn, "Content-Type", "application/problem+json", -1);
        mg_response_header_add(conn, "Content-Length", "43", -1);
        mg_response_header_send(conn);
        mg_write(conn, body, sizeof body - 1);
        torture_end(r.request_id);
        metrics_in_flight(-1);
        running_remove(s, &me);
        atomic_fetch_sub(&s->in_flight, 1);
        return 503;
    }

    dispatch(s, &r, ri);

    double elapsed = now_seconds() - start;
    size_t idx = r.match.route ? router_index(h->router, r.match.route)
                               : router_count(h->router);
    metrics_observe(idx, r.status, elapsed);
    struct access_log_entry e = {
        .request_id = r.request_id,
        .method = r.method,
        .route = r.match.route ? r.match.route->pattern : NULL,
        .path = r.path,
        .remote_addr = r.remote_addr,
        .status = r.status,
        .duration_ms = elapsed * 1000.0,
        .bytes_out = r.bytes_out,
    };
    log_access(&e);
    int status = r.status ? r.status : 500;
    arena_free(r.arena);
    torture_end(r.request_id);
    metrics_in_flight(-1);
    running_remove(s, &me);
    atomic_fetch_sub(&s->in_flight, 1);
    return status;
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_msg(LOG_WARN, NULL, "civetweb: %s", message);
    return 1;
}

struct server *server_start(const struct server_hooks *hooks, char *err, size_t errlen)
{
    struct server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->hooks = hooks;
    pthread_mutex_init(&s->running_lock, NULL);
    s->running.next = s->running.prev = &s->running;
    const struct config *cfg = hooks->cfg;
    s->proxies = proxy_list_parse(cfg->trusted_proxies, err, errlen);
    if (!s->proxies) {
        free(s);
        return NULL;
    }
    char threads[16], request_timeout[16];
    snprintf(threads, sizeof threads, "%d", cfg->threads);
    snprintf(request_timeout, sizeof request_timeout, "%d", cfg->request_timeout_ms);
    atomic_store(&worker_stack, (size_t)cfg->worker_stack);
    const char *options[] = {
        "listening_ports", cfg->listen,
        "num_threads", threads,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "15000",
        "request_timeout_ms", request_timeout,
        "tcp_nodelay", "1",
        "decode_url", "no",
        "max_request_size", "16384",
        "enable_directory_listing", "no",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.begin_request = begin_request;
    cb.log_message = log_message;
    s->ctx = mg_start(&cb, s, options);
    if (!s->ctx) {
        snprintf(err, errlen, "cannot listen on %s (RECTIFY_LISTEN)", cfg->listen);
        proxy_list_free(s->proxies);
        free(s);
        return NULL;
    }
    struct mg_server_port ports[4];
    memset(ports, 0, sizeof ports);
    if (mg_get_server_ports(s->ctx, 4, ports) > 0)
        s->port = ports[0].port;
    return s;
}

int server_port(const struct server *s) { return s->port; }

void server_begin_drain(struct server *s) { atomic_store(&s->draining, true); }

int server_in_flight(const struct server *s) { return atomic_load(&s->in_flight); }

int server_each_in_flight(struct server *s, void (*fn)(const struct server_request *, void *),
                          void *ctx)
{
    int n = 0;
    double now = now_seconds();
    pthread_mutex_lock(&s->running_lock);
    for (struct running *p = s->running.next; p != &s->running; p = p->next, n++) {
        struct server_request rq = {p->r->request_id, p->r->method, p->r->path,
                                    now - p->start};
        fn(&rq, ctx);
    }
    pthread_mutex_unlock(&s->running_lock);
    return n;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    mg_stop(s->ctx);
    pthread_mutex_destroy(&s->running_lock);
    proxy_list_free(s->proxies);
    free(s);
}
