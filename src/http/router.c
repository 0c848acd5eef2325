#include "rectify/router.h"

#include "rectify/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct segment {
    const char *text; /* literal text, or the parameter name for {name} */
    size_t len;
    bool is_param;
};

struct compiled_route {
    const struct route *route;
    struct segment segs[ROUTER_MAX_SEGMENTS];
    int nsegs;
};

struct router {
    struct compiled_route *routes;
    size_t n;
};

static int compile(const struct route *route, struct compiled_route *out, char *err,
                   size_t errlen)
{
    const char *p = route->pattern;
    out->route = route;
    out->nsegs = 0;
    if (p[0] != '/') {
        snprintf(err, errlen, "route %s must start with /", route->pattern);
        return -1;
    }
    if (strcmp(p, "/") == 0)
        return 0;
    while (*p == '/') {
        p++;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || out->nsegs == ROUTER_MAX_SEGMENTS) {
            snprintf(err, errlen, "route %s: empty or too many segments", route->pattern);
            return -1;
        }
        struct segment *s = &out->segs[out->nsegs++];
        s->is_param = p[0] == '{';
        if (s->is_param && (len < 3 || p[len - 1] != '}')) {
            snprintf(err, errlen, "route %s: bad parameter", route->pattern);
            return -1;
        }
        s->text = s->is_param ? p + 1 : p;
        s->len = s->is_param ? len - 2 : len;
        p += len;
    }
    return 0;
}

struct router *router_new(const struct route *const *tables, const size_t *counts,
                          size_t ntables, char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t t = 0; t < ntables; t++)
        total += counts[t];
    struct router *rt = calloc(1, sizeof *rt);
    if (!rt || !(rt->routes = calloc(total ? total : 1, sizeof *rt->routes))) {
        free(rt);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t t = 0; t < ntables; t++) {
        for (size_t i = 0; i < counts[t]; i++) {
            if (compile(&tables[t][i], &rt->routes[rt->n], err, errlen)) {
                router_free(rt);
                return NULL;
            }
            rt->n++;
        }
    }
    return rt;
}

void router_free(struct router *rt)
{
    if (rt) {
        free(rt->routes);
        free(rt);
    }
}

size_t router_count(const struct router *rt) { return rt->n; }
const struct route *router_at(const struct router *rt, size_t i) { return rt->routes[i].route; }

size_t router_index(const struct router *rt, const struct route *route)
{
    for (size_t i = 0; i < rt->n; i++)
        if (rt->routes[i].route == route)
            return i;
    return rt->n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long url_decode(const char *s, size_t n, char *out, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* Splits path into segments (pointers into path). Returns the count, or -1
 * for an empty segment ("//", trailing "/") or too many segments. */
static int split(const char *path, const char **seg, size_t *len)
{
    if (path[0] != '/')
        return -1;
    if (strcmp(path, "/") == 0)
        return 0;
    int n = 0;
    const char *p = path;
    while (*p == '/') {
        p++;
        const char *end = strchr(p, '/');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == 0 || n == ROUTER_MAX_SEGMENTS)
            return -1;
        seg[n] = p;
        len[n] = l;
        n++;
        p += l;
    }
    return n;
}

static bool segments_match(const struct compiled_route *cr, int n, const char **seg,
                           const size_t *len)
{
    if (cr->nsegs != n)
        return false;
    for (int i = 0; i < n; i++) {
        const struct segment *s = &cr->segs[i];
        if (!s->is_param && (s->len != len[i] || memcmp(s->text, seg[i], len[i]) != 0))
            return false;
    }
    return true;
}

enum router_result router_match(const struct router *rt, const char *method,
                                const char *path, struct arena *arena,
                                struct route_match *m)
{
    const char *seg[ROUTER_MAX_SEGMENTS];
    size_t len[ROUTER_MAX_SEGMENTS];
    memset(m, 0, sizeof *m);
    int n = split(path, seg, len);
    if (n < 0)
        return ROUTER_NOT_FOUND;

    bool path_known = false, bad_param = false, no_memory = false;
    size_t allow_len = 0;
    int best_literals = -1;
    for (size_t i = 0; i < rt->n; i++) {
        const struct compiled_route *cr = &rt->routes[i];
        if (!segments_match(cr, n, seg, len))
            continue;
        path_known = true;
        size_t ml = strlen(cr->route->method);
        if (!strstr(m->allow, cr->route->method) &&
            allow_len + ml + 2 < sizeof m->allow) {
            if (allow_len) {
                memcpy(m->allow + allow_len, ", ", 2);
                allow_len += 2;
            }
            memcpy(m->allow + allow_len, cr->route->method, ml + 1);
            allow_len += ml;
        }
        if (strcmp(cr->route->method, method) != 0)
            continue;
        /* The most specific route wins: more literal segments beat
         * parameters (GET /tasks/export over GET /tasks/{id}), whatever
         * the order of the tables. */
        int literals = 0;
        for (int k = 0; k < n; k++)
            literals += !cr->segs[k].is_param;
        if (m->route && literals <= best_literals)
            continue;
        /* Decode the parameters; a value that decodes to '/' or NUL cannot be
         * an identifier and does not match. */
        /* Decode into a scratch list: a candidate that fails must not
         * disturb the parameters of the route already chosen. */
        struct route_param params[ROUTER_MAX_PARAMS];
        int nparams = 0;
        bool ok = true;
        for (int k = 0; k < n && ok; k++) {
            const struct segment *s = &cr->segs[k];
            if (!s->is_param)
                continue;
            char *v = arena_alloc(arena, len[k] + 1);
            no_memory |= !v;
            long vl = v ? url_decode(seg[k], len[k], v, false) : -1;
            if (vl < 0 || (size_t)vl != strlen(v) || strchr(v, '/') ||
                nparams == ROUTER_MAX_PARAMS) {
                ok = false;
                break;
            }
            params[nparams++] = (struct route_param){s->text, s->len, v};
        }
        if (ok) {
            m->route = cr->route;
            memcpy(m->params, params, sizeof params[0] * (size_t)nparams);
            m->nparams = nparams;
            best_literals = literals;
        } else {
            bad_param = true;
        }
    }
    if (m->route)
        return ROUTER_MATCH;
    if (no_memory)
        return ROUTER_NO_MEMORY;
    return path_known && !bad_param ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

const char *route_param(const struct route_match *m, const char *name)
{
    size_t nl = strlen(name);
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].name_len == nl && memcmp(m->params[i].name, name, nl) == 0)
            return m->params[i].value;
    return NULL;
}
