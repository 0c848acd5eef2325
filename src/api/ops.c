/* Operations endpoints: liveness, readiness, metrics and the contract. */
#include "rectify/api.h"

#include "rectify/app.h"
#include "rectify/buf.h"
#include "rectify/embedded.h"
#include "rectify/jobs.h"
#include "rectify/metrics.h"

#include <stdio.h>
#include <string.h>

static void healthz(struct req *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    reply_json(r, 200, body, sizeof body - 1);
}

static void readyz(struct req *r)
{
    char why[512];
    if (!api_schema_current(r->app, why, sizeof why)) {
        reply_header(r, "Retry-After", "5");
        reply_problem(r, 503, "not_ready", "Not ready: %s.", why);
        return;
    }
    const char *version = embedded_migration_count
                              ? embedded_migrations[embedded_migration_count - 1].name
                              : "";
    char body[256];
    int n = snprintf(body, sizeof body, "{\"status\":\"ready\",\"schema_version\":\"%s\"}",
                     version);
    reply_json(r, 200, body, (size_t)n);
}

static void metrics(struct req *r)
{
    struct metrics_pool_stats pool;
    db_pool_stats(r->app->db, &pool.size, &pool.in_use, &pool.waiting);
    struct buf b;
    buf_init(&b, 0);
    if (metrics_render(&b, r->app->router, &pool) ||
        jobs_metrics_render(r->app->jobs, r->app->db, &b)) {
        buf_free(&b);
        reply_problem(r, 500, "internal_error", "Metrics are not available.");
        return;
    }
    reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

static void openapi(struct req *r)
{
    reply_json(r, 200, embedded_openapi_json, embedded_openapi_json_len);
}

/* The API reference: generated from the spec at build time, self-contained. */
static void docs(struct req *r)
{
    reply(r, 200, "text/html; charset=utf-8", embedded_docs_html, embedded_docs_html_len);
}

const struct route ops_routes[] = {
    {"GET", "/healthz", healthz, 0, ROUTE_OPS},
    {"GET", "/readyz", readyz, 0, ROUTE_OPS},
    {"GET", "/metrics", metrics, 0, ROUTE_OPS},
    {"GET", "/api/v1/openapi.json", openapi, 0, ROUTE_OPS},
    {"GET", "/docs", docs, 0, ROUTE_OPS},
};
const size_t ops_routes_count = sizeof ops_routes / sizeof ops_routes[0];
