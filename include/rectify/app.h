/* The service's shared state, created by main and handed to every request as
 * r->app. Everything here is either immutable after start-up or atomic. */
#ifndef RECTIFY_APP_H
#define RECTIFY_APP_H

#include <stdatomic.h>
#include <stdbool.h>

struct config;
struct db_pool;
struct router;

struct app {
    const struct config *cfg;
    struct db_pool *db;
    const struct router *router;
    /* Database role every request transaction switches to (row-level
     * security applies to it); NULL means "rectify_api". */
    const char *db_role;
    atomic_bool schema_current;
    atomic_llong schema_checked_ms; /* monotonic ms of the last check */
};

#endif
