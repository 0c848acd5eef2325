/* Authentication and authorization of every route that names a permission:
 * Bearer JWT → principal → permission table. Whether the token's user is
 * still enabled (and the token's epoch current) is checked by the first
 * statement of the request's own transaction (rectify.begin_request), so a
 * disabled user's tokens die at once without an extra round trip here. */
#include "rectify/api.h"

#include "rectify/app.h"
#include "rectify/jwks.h"
#include "rectify/jwt.h"
#include "rectify/log.h"
#include "rectify/permissions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void reply_unauthorized(struct req *r, const char *code, const char *detail)
{
    bool bad_token = strcmp(code, "invalid_token") == 0;
    reply_header(r, "WWW-Authenticate",
                 bad_token ? "Bearer realm=\"rectify\", error=\"invalid_token\""
                           : "Bearer realm=\"rectify\"");
    reply_problem(r, 401, code, "%s", detail);
}

unsigned roles_from_csv(const char *csv)
{
    unsigned mask = 0;
    char name[32];
    while (csv && *csv) {
        size_t n = strcspn(csv, ",");
        if (n < sizeof name) {
            memcpy(name, csv, n);
            name[n] = '\0';
            mask |= perm_role_from_name(name);
        }
        csv += n;
        if (*csv == ',')
            csv++;
    }
    return mask;
}

/* Tokens of the provincial identity platform name a user by username: map
 * it to our account (auto-provisioning is off: unknown users are refused). */
static bool external_principal(struct req *r, const struct jwt_claims *c)
{
    if (!c->username[0]) {
        reply_unauthorized(r, "invalid_token", "The access token is not valid.");
        return false;
    }
    const char *params[] = {c->username};
    struct db_query q = {"SELECT id, org_id, array_to_string(roles, ','), token_epoch, disabled"
                         " FROM rectify.auth_lookup($1)",
                         1, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return false;
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
        log_msg(LOG_INFO, r->request_id, "external token for unknown or disabled user");
        reply_unauthorized(r, "invalid_token", "The access token is not valid.");
        return false;
    }
    r->who.user_id = atoll(PQgetvalue(res, 0, 0));
    r->who.org_id = atoll(PQgetvalue(res, 0, 1));
    r->who.roles = roles_from_csv(PQgetvalue(res, 0, 2));
    r->who.epoch = atoi(PQgetvalue(res, 0, 3));
    return true;
}

static bool parse_id(const char *s, long long *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0)
        return false;
    *out = v;
    return true;
}

bool api_authorize_or_reply(struct req *r)
{
    struct app *app = r->app;
    const char *h = req_header(r, "Authorization");
    if (!h) {
        reply_unauthorized(r, "unauthorized", "Sign in: send Authorization: Bearer <token>.");
        return false;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        reply_unauthorized(r, "invalid_token", "The access token is not valid.");
        return false;
    }
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    struct jwt_claims c;
    time_t now = time(NULL);
    int rc = jwt_verify(app->keys, token, now, &c);
    if (rc == JWT_E_UNKNOWN_KID && app->jwks &&
        jwks_source_refresh_if_due(app->jwks, now, true) > 0)
        rc = jwt_verify(app->keys, token, now, &c);
    if (rc == JWT_E_NOMEM) {
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return false;
    }
    if (rc) {
        /* The reason goes to the log only: the client learns nothing more. */
        log_msg(LOG_INFO, r->request_id, "token rejected: %s", jwt_error_name(rc));
        reply_unauthorized(r, "invalid_token", "The access token is not valid.");
        return false;
    }
    if (c.external) {
        if (!external_principal(r, &c))
            return false;
    } else {
        long long org = 0;
        if (!parse_id(c.sub, &r->who.user_id) || c.epoch < 0 || (c.org[0] && !parse_id(c.org, &org))) {
            log_msg(LOG_INFO, r->request_id, "token rejected: malformed local claims");
            reply_unauthorized(r, "invalid_token", "The access token is not valid.");
            return false;
        }
        r->who.org_id = org;
        r->who.roles = c.roles;
        r->who.epoch = c.epoch;
    }
    r->who.authenticated = true;
    int perm = r->match.route->permission;
    if (!perm_allows(r->who.roles, (enum perm)perm)) {
        if (r->match.route->flags & ROUTE_HIDDEN)
            reply_problem(r, 404, "not_found", "No resource at %s.", r->path);
        else
            reply_problem(r, 403, "forbidden", "Your role may not %s.", perm_name((enum perm)perm));
        return false;
    }
    return true;
}
