/* Prometheus counters kept in process memory with atomics (per instance; the
 * scraper aggregates across instances). metrics_init must be called once
 * before the server starts; everything else is thread-safe. */
#ifndef RECTIFY_METRICS_H
#define RECTIFY_METRICS_H

#include <stddef.h>

struct buf;
struct router;

enum db_error_kind { DB_ERR_CONNECTION, DB_ERR_TIMEOUT, DB_ERR_QUERY, DB_ERR_ACQUIRE, DB_ERR_KINDS };

int metrics_init(size_t nroutes);
void metrics_free(void);

void metrics_in_flight(int delta);
/* route_idx == nroutes counts requests that matched no route. */
void metrics_observe(size_t route_idx, int status, double seconds);
void metrics_db_error(enum db_error_kind kind);

struct metrics_pool_stats {
    int size, in_use, waiting;
};

int metrics_render(struct buf *out, const struct router *rt,
                   const struct metrics_pool_stats *pool);

#endif
