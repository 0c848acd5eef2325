#include "routes.h"

#include "rectify/api.h"
#include "rectify/router.h"

struct router *routes_build(bool with_test_routes, char *err, size_t errlen)
{
    /* The test routes stay last: they are dropped unless asked for. */
    const struct route *tables[] = {ops_routes, auth_routes, orgs_routes, users_routes,
                                    audit_routes, testing_routes};
    size_t counts[] = {ops_routes_count, auth_routes_count, orgs_routes_count,
                       users_routes_count, audit_routes_count, testing_routes_count};
    size_t n = sizeof tables / sizeof tables[0];
    return router_new(tables, counts, with_test_routes ? n : n - 1, err, errlen);
}
