#include "routes.h"

#include "rectify/api.h"
#include "rectify/jobs.h"
#include "rectify/router.h"

#include <stdlib.h>
#include <string.h>

struct router *routes_build(bool with_test_routes, char *err, size_t errlen)
{
    /* The test routes stay last: they are dropped unless asked for. */
    const struct route *tables[] = {ops_routes, auth_routes, orgs_routes, users_routes,
                                    audit_routes, attachment_routes, campaigns_routes,
                                    ledger_io_routes,
                                    problems_routes, tasks_routes, task_extensions_routes,
                                    task_reports_routes, complaint_routes, jobs_routes,
                                    clue_routes, acceptance_routes, dispatch_routes,
                                    supervision_routes, testing_routes};
    size_t counts[] = {ops_routes_count, auth_routes_count, orgs_routes_count,
                       users_routes_count, audit_routes_count, attachment_routes_count,
                       campaigns_routes_count, ledger_io_routes_count, problems_routes_count, tasks_routes_count,
                       task_extensions_routes_count, task_reports_routes_count, complaint_routes_count,
                       jobs_routes_count, clue_routes_count, acceptance_routes_count,
                       dispatch_routes_count, supervision_routes_count, testing_routes_count};
    size_t n = sizeof tables / sizeof tables[0];
    return router_new(tables, counts, with_test_routes ? n : n - 1, err, errlen);
}

struct job_kind *job_kinds_build(bool with_test_kinds, size_t *n)
{
    /* The testing kinds stay last, like the test routes. */
    const struct job_kind *tables[] = {maintenance_job_kinds, acceptance_job_kinds,
                                       dispatch_job_kinds, testing_job_kinds};
    size_t counts[] = {maintenance_job_kinds_count, acceptance_job_kinds_count,
                       dispatch_job_kinds_count,
                       testing_job_kinds_count};
    size_t ntables = sizeof tables / sizeof tables[0] - (with_test_kinds ? 0 : 1);
    size_t total = 0;
    for (size_t i = 0; i < ntables; i++)
        total += counts[i];
    struct job_kind *all = calloc(total ? total : 1, sizeof *all);
    if (!all)
        return NULL;
    *n = 0;
    for (size_t i = 0; i < ntables; i++) {
        memcpy(all + *n, tables[i], counts[i] * sizeof *all);
        *n += counts[i];
    }
    return all;
}
