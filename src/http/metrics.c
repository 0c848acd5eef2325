#include "rectify/metrics.h"

#include "rectify/buf.h"
#include "rectify/router.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Statuses get their own series; anything else is counted as its class. */
static const int tracked_status[] = {200, 201, 202, 204, 207, 304, 400, 401, 403, 404, 405,
                                     409, 412, 413, 415, 422, 428, 429, 500, 503, 504};
#define N_STATUS (sizeof tracked_status / sizeof tracked_status[0])
#define N_SLOTS (N_STATUS + 5) /* + 1xx..5xx "other" */

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5, 10};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

struct route_stats {
    atomic_llong by_status[N_SLOTS];
    atomic_llong bucket[N_BUCKETS + 1];
    atomic_llong count;
    atomic_llong sum_us;
};

static struct route_stats *stats;
static size_t n_routes;
static atomic_int in_flight;
static atomic_llong db_errors[DB_ERR_KINDS];
static const char *const db_error_names[DB_ERR_KINDS] = {"connection", "timeout", "query",
                                                         "acquire_timeout"};

int metrics_init(size_t nroutes)
{
    free(stats);
    n_routes = nroutes;
    stats = calloc(nroutes + 1, sizeof *stats);
    return stats ? 0 : -1;
}

void metrics_free(void)
{
    free(stats);
    stats = NULL;
}

void metrics_in_flight(int delta) { atomic_fetch_add(&in_flight, delta); }

void metrics_db_error(enum db_error_kind kind)
{
    if (kind < DB_ERR_KINDS)
        atomic_fetch_add(&db_errors[kind], 1);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < N_STATUS; i++)
        if (tracked_status[i] == status)
            return i;
    int cls = status / 100;
    return N_STATUS + (size_t)(cls >= 1 && cls <= 5 ? cls - 1 : 4);
}

void metrics_observe(size_t route_idx, int status, double seconds)
{
    if (!stats)
        return;
    if (route_idx > n_routes)
        route_idx = n_routes;
    struct route_stats *s = &stats[route_idx];
    atomic_fetch_add(&s->by_status[status_slot(status)], 1);
    size_t b = 0;
    while (b < N_BUCKETS && seconds > buckets[b])
        b++;
    atomic_fetch_add(&s->bucket[b], 1);
    atomic_fetch_add(&s->count, 1);
    atomic_fetch_add(&s->sum_us, (long long)(seconds * 1e6));
}

static int route_labels(struct buf *out, const struct router *rt, size_t i)
{
    if (i < n_routes) {
        const struct route *r = router_at(rt, i);
        return buf_printf(out, "method=\"%s\",route=\"%s\"", r->method, r->pattern);
    }
    return buf_puts(out, "method=\"\",route=\"unmatched\"");
}

int metrics_render(struct buf *out, const struct router *rt,
                   const struct metrics_pool_stats *pool)
{
    if (!stats)
        return -1;
    int rc = 0;
    rc |= buf_puts(out, "# HELP rectify_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE rectify_http_requests_total counter\n");
    for (size_t i = 0; i <= n_routes; i++) {
        for (size_t k = 0; k < N_SLOTS; k++) {
            long long v = atomic_load(&stats[i].by_status[k]);
            if (!v)
                continue;
            rc |= buf_puts(out, "rectify_http_requests_total{");
            rc |= route_labels(out, rt, i);
            if (k < N_STATUS)
                rc |= buf_printf(out, ",status=\"%d\"} %lld\n", tracked_status[k], v);
            else
                rc |= buf_printf(out, ",status=\"%zuxx\"} %lld\n", k - N_STATUS + 1, v);
        }
    }
    rc |= buf_puts(out, "# HELP rectify_http_request_duration_seconds Time from request to response.\n"
                  "# TYPE rectify_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= n_routes; i++) {
        long long count = atomic_load(&stats[i].count);
        if (!count)
            continue;
        long long cum = 0;
        for (size_t b = 0; b <= N_BUCKETS; b++) {
            cum += atomic_load(&stats[i].bucket[b]);
            rc |= buf_puts(out, "rectify_http_request_duration_seconds_bucket{");
            rc |= route_labels(out, rt, i);
            if (b < N_BUCKETS)
                rc |= buf_printf(out, ",le=\"%g\"} %lld\n", buckets[b], cum);
            else
                rc |= buf_printf(out, ",le=\"+Inf\"} %lld\n", cum);
        }
        rc |= buf_puts(out, "rectify_http_request_duration_seconds_sum{");
        rc |= route_labels(out, rt, i);
        rc |= buf_printf(out, "} %.6f\n", (double)atomic_load(&stats[i].sum_us) / 1e6);
        rc |= buf_puts(out, "rectify_http_request_duration_seconds_count{");
        rc |= route_labels(out, rt, i);
        rc |= buf_printf(out, "} %lld\n", count);
    }
    rc |= buf_printf(out,
               "# HELP rectify_http_requests_in_flight Requests being handled now.\n"
               "# TYPE rectify_http_requests_in_flight gauge\n"
               "rectify_http_requests_in_flight %d\n",
               atomic_load(&in_flight));
    if (pool)
        rc |= buf_printf(out,
                   "# HELP rectify_db_pool_connections Database connections in the pool.\n"
                   "# TYPE rectify_db_pool_connections gauge\n"
                   "rectify_db_pool_connections %d\n"
                   "# HELP rectify_db_pool_in_use Database connections lent to requests.\n"
                   "# TYPE rectify_db_pool_in_use gauge\n"
                   "rectify_db_pool_in_use %d\n"
                   "# HELP rectify_db_pool_waiting Requests waiting for a connection.\n"
                   "# TYPE rectify_db_pool_waiting gauge\n"
                   "rectify_db_pool_waiting %d\n",
                   pool->size, pool->in_use, pool->waiting);
    rc |= buf_puts(out, "# HELP rectify_db_errors_total Database errors by kind.\n"
                  "# TYPE rectify_db_errors_total counter\n");
    for (int k = 0; k < DB_ERR_KINDS; k++)
        rc |= buf_printf(out, "rectify_db_errors_total{kind=\"%s\"} %lld\n", db_error_names[k],
                   atomic_load(&db_errors[k]));
    return rc ? -1 : 0;
}
