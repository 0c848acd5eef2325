/* The HTTP server: CivetWeb with one entry point (begin_request) that runs
 * every request through the same steps: request id, CORS, routing (404/405),
 * readiness, authorization, body limits and parsing (413/415/400), the
 * handler, the access log line and the metrics. */
#ifndef RECTIFY_SERVER_H
#define RECTIFY_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct config;
struct req;
struct router;

struct server_hooks {
    struct app *app;
    const struct router *router;
    const struct config *cfg;
    /* For every route without ROUTE_OPS: false means "not serving" and the
     * hook has already answered (503). */
    bool (*ready_or_reply)(struct req *r);
    /* For routes with a permission: false means the hook has answered 401/403.
     * It also fills r->who. */
    bool (*authorize_or_reply)(struct req *r);
};

struct server;

/* Starts listening; hooks must outlive the server. NULL on failure (err). */
struct server *server_start(const struct server_hooks *hooks, char *err, size_t errlen);
/* Starts a graceful shutdown: from now on new requests are refused with 503
 * + Connection: close (and /readyz fails), requests already running go on. */
void server_begin_drain(struct server *s);
/* Requests being handled right now. */
int server_in_flight(const struct server *s);
/* One request being handled: what server_each_in_flight shows of it. The
 * path is the raw one without the query string (which may carry secrets). */
struct server_request {
    const char *request_id, *method, *path;
    double seconds; /* running for */
};
/* Calls fn(rq, ctx) for every request being handled right now (the drain
 * timeout logs the ones it cuts); returns how many. fn runs under the lock
 * that requests take to start and end: keep it short; rq's strings are
 * valid only during the call. */
int server_each_in_flight(struct server *s, void (*fn)(const struct server_request *, void *),
                          void *ctx);
/* Closes the listener and every connection, frees the server. CivetWeb drops
 * responses written after this starts: drain first. */
void server_stop(struct server *s);
/* The port actually bound (useful with port 0). */
int server_port(const struct server *s);

#endif
