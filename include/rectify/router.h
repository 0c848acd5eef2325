/* The route table: {method, "/api/v1/things/{id}", handler, permission}.
 * Matching is exact and case-sensitive, segment by segment; "{name}" matches
 * one non-empty segment. The router answers nothing itself: it tells the
 * server whether the path is unknown (404), known with another method (405
 * + Allow) or matched, with the path parameters. */
#ifndef RECTIFY_ROUTER_H
#define RECTIFY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct req;
typedef void (*route_handler)(struct req *r);

enum route_flags {
    ROUTE_JSON_BODY = 1u << 0, /* the body must be JSON; it is parsed for the handler */
    ROUTE_RAW_BODY = 1u << 1,  /* the handler reads the body itself */
    ROUTE_OPS = 1u << 2,       /* operations route: served even when not ready */
    ROUTE_INTERNAL = 1u << 3,  /* not part of the public contract (tests only) */
    ROUTE_HIDDEN = 1u << 4,    /* a signed-in caller without the permission gets 404, as
                                  for an unknown path, not 403 (clues: existence is secret) */
};

struct route {
    const char *method;
    const char *pattern;
    route_handler handler;
    int permission; /* 0 = public; otherwise checked by the server's auth hook */
    unsigned flags;
};

#define ROUTER_MAX_PARAMS 8
#define ROUTER_MAX_SEGMENTS 16

struct route_param {
    const char *name;  /* points into the route pattern */
    size_t name_len;
    char *value;       /* percent-decoded, owned by the caller's arena */
};

struct route_match {
    const struct route *route;
    struct route_param params[ROUTER_MAX_PARAMS];
    int nparams;
    char allow[128]; /* "GET, POST" when the path exists (405 and preflight) */
};

/* ROUTER_NO_MEMORY: no route matched because a parameter could not be decoded
 * for want of memory (answer 503, not 404). */
enum router_result { ROUTER_MATCH, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED, ROUTER_NO_MEMORY };

struct router;
struct arena;

/* Builds a router over routes (not copied: must outlive the router). Returns
 * NULL when out of memory or when a pattern is malformed (message in err). */
struct router *router_new(const struct route *const *tables, const size_t *counts,
                          size_t ntables, char *err, size_t errlen);
void router_free(struct router *rt);

/* path is the raw (not yet percent-decoded) path without the query string.
 * Parameter values are decoded into arena memory; a value that decodes to
 * contain '/' or NUL does not match. */
enum router_result router_match(const struct router *rt, const char *method,
                                const char *path, struct arena *arena,
                                struct route_match *m);

/* Iterates over all routes (for `rectify routes` and metrics). */
size_t router_count(const struct router *rt);
const struct route *router_at(const struct router *rt, size_t i);
/* Index of a route in the table, for per-route metrics. */
size_t router_index(const struct router *rt, const struct route *route);

/* Value of parameter name, or NULL. */
const char *route_param(const struct route_match *m, const char *name);

/* Percent-decodes s[0..n) into out (size n+1); returns decoded length, or -1
 * on a malformed escape. '+' is left alone (paths) unless plus_is_space. */
long url_decode(const char *s, size_t n, char *out, bool plus_is_space);

#endif
