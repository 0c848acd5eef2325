/* Who is calling: filled by authentication, carried into every database
 * transaction as transaction-local settings. Fixed-size fields: no ownership. */
#ifndef RECTIFY_PRINCIPAL_H
#define RECTIFY_PRINCIPAL_H

#include <stdbool.h>

struct principal {
    bool authenticated;
    long long user_id;
    long long org_id;
    char username[129];
    char org_path[512]; /* ltree path of the caller's org, e.g. "1.5.23" */
    unsigned roles;      /* bitmask of ROLE_* (permissions.h) */
    char roles_csv[160]; /* the same roles as "office,leader" */
};

#endif
