/* Gathers every resource module's route table for the router. */
#ifndef RECTIFY_ROUTES_H
#define RECTIFY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

struct router;

/* Builds the router; with_test_routes mounts the ROUTE_INTERNAL test routes.
 * Returns NULL on error (message in err). Free with router_free. */
struct router *routes_build(bool with_test_routes, char *err, size_t errlen);

#endif
