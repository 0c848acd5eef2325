/* Gathers every resource module's route table for the router. */
#ifndef RECTIFY_ROUTES_H
#define RECTIFY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

struct job_kind;
struct router;

/* Builds the router; with_test_routes mounts the ROUTE_INTERNAL test routes.
 * Returns NULL on error (message in err). Free with router_free. */
struct router *routes_build(bool with_test_routes, char *err, size_t errlen);

/* Every module's job kinds in one array (malloc'd, the caller frees it);
 * with_test_kinds adds the testing module's. NULL when out of memory. */
struct job_kind *job_kinds_build(bool with_test_kinds, size_t *n);

#endif
