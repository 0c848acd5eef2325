/* Who is calling: filled by authentication, carried into every database
 * transaction as transaction-local settings. Fixed-size fields: no ownership. */
#ifndef RECTIFY_PRINCIPAL_H
#define RECTIFY_PRINCIPAL_H

#include <stdbool.h>

struct principal {
    bool authenticated;
    long long user_id;
    int epoch;           /* users.token_epoch the token was issued for */
    long long org_id;
    unsigned roles;      /* bitmask of ROLE_* (permissions.h) */
};

#endif
