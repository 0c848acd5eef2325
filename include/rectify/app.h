/* The service's shared state, created by main and handed to every request as
 * r->app. Everything here is either immutable after start-up or atomic. */
#ifndef RECTIFY_APP_H
#define RECTIFY_APP_H

#include <stdatomic.h>
#include <stdbool.h>

struct config;
struct db_pool;
struct jobs_runner;
struct jwks_source;
struct jwt_keyset;
struct router;

struct app {
    const struct config *cfg;
    struct db_pool *db;
    const struct router *router;
    /* Database role every request transaction switches to (row-level
     * security applies to it); NULL means "rectify_api". */
    const char *db_role;
    struct jwt_keyset *keys;     /* our signing key and the platform's keys */
    struct jwks_source *jwks;    /* NULL without RECTIFY_JWKS_URL */
    const char *public_jwks;     /* GET /.well-known/jwks.json (malloc'd) */
    struct jobs_runner *jobs;    /* background workers (jobs.h); metrics read it */
    atomic_bool schema_current;
    atomic_llong schema_checked_ms; /* monotonic ms of the last check */
};

#endif
