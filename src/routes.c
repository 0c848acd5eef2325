#include "routes.h"

#include "rectify/api.h"
#include "rectify/router.h"

struct router *routes_build(bool with_test_routes, char *err, size_t errlen)
{
    /* The test routes stay last: they are dropped unless asked for. */
    const struct route *tables[] = {ops_routes, auth_routes, orgs_routes, users_routes,
                                    audit_routes, attachment_routes, campaigns_routes,
                                    ledger_io_routes,
                                    problems_routes, tasks_routes, task_extensions_routes,
                                    task_reports_routes, complaint_routes, acceptance_routes,
                                    testing_routes};
    size_t counts[] = {ops_routes_count, auth_routes_count, orgs_routes_count,
                       users_routes_count, audit_routes_count, attachment_routes_count,
                       campaigns_routes_count, ledger_io_routes_count, problems_routes_count, tasks_routes_count,
                       task_extensions_routes_count, task_reports_routes_count, complaint_routes_count,
                       acceptance_routes_count, testing_routes_count};
    size_t n = sizeof tables / sizeof tables[0];
    return router_new(tables, counts, with_test_routes ? n : n - 1, err, errlen);
}
