/* Sign-in, token refresh, sign-out, the caller's profile and our public keys.
 * Passwords are checked outside any database transaction (Argon2id takes
 * ~50-100 ms and 64 MiB), with at most ARGON2_CONCURRENCY at once. */
#include "rectify/api.h"

#include "rectify/app.h"
#include "rectify/arena.h"
#include "rectify/config.h"
#include "rectify/jwt.h"
#include "rectify/log.h"
#include "rectify/params.h"
#include "rectify/password.h"
#include "rectify/permissions.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARGON2_CONCURRENCY 4
#define ARGON2_WAIT_SECONDS 5

static pthread_mutex_t argon2_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t argon2_cv = PTHREAD_COND_INITIALIZER;
static int argon2_running;

static bool argon2_enter(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ARGON2_WAIT_SECONDS;
    pthread_mutex_lock(&argon2_mu);
    while (argon2_running >= ARGON2_CONCURRENCY) {
        if (pthread_cond_timedwait(&argon2_cv, &argon2_mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&argon2_mu);
            return false;
        }
    }
    argon2_running++;
    pthread_mutex_unlock(&argon2_mu);
    return true;
}

static void argon2_leave(void)
{
    pthread_mutex_lock(&argon2_mu);
    argon2_running--;
    pthread_cond_signal(&argon2_cv);
    pthread_mutex_unlock(&argon2_mu);
}

/* "\x<sha256 hex>" — a bytea literal for refresh_* functions. */
static void token_hash_param(const char *token, char out[2 + PASSWORD_SHA256_HEX_SIZE])
{
    out[0] = '\\';
    out[1] = 'x';
    password_sha256_hex(token, out + 2);
}

/* Signs an access token and answers the token response. */
static void reply_tokens(struct req *r, long long user_id, long long org_id, unsigned roles,
                         int epoch, const char *refresh_token)
{
    const struct config *cfg = r->app->cfg;
    char sub[24], org[24];
    snprintf(sub, sizeof sub, "%lld", user_id);
    snprintf(org, sizeof org, "%lld", org_id);
    struct jwt_claims_in in = {
        .sub = sub, .org = org, .roles = roles, .epoch = epoch,
        .iat = time(NULL), .ttl = cfg->access_token_ttl,
    };
    char *access = NULL;
    int rc = jwt_sign_access(r->app->keys, &in, &access);
    if (rc) {
        log_msg(LOG_ERROR, r->request_id, "signing failed: %s", jwt_error_name(rc));
        reply_problem(r, 500, "internal_error", "The token could not be issued.");
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "access_token", access);
    cJSON_AddStringToObject(doc, "token_type", "Bearer");
    cJSON_AddNumberToObject(doc, "expires_in", cfg->access_token_ttl);
    cJSON_AddStringToObject(doc, "refresh_token", refresh_token);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    free(access);
    if (!text) {
        reply_problem(r, 500, "internal_error", "The token could not be issued.");
        return;
    }
    reply_header(r, "Pragma", "no-cache");
    reply_json(r, 200, text, strlen(text));
    free(text);
}

static const struct vfield token_fields[] = {
    {"username", V_STRING, true, false, 1, 64, NULL, NULL, NULL},
    {"password", V_STRING, true, false, 1, 256, NULL, NULL, NULL},
};

static void create_token(struct req *r)
{
    if (!validate_or_reply(r, r->json, token_fields, 2))
        return;
    const char *username = cJSON_GetObjectItem(r->json, "username")->valuestring;
    const char *password = cJSON_GetObjectItem(r->json, "password")->valuestring;
    char *ukey = arena_printf(r->arena, "u:%s", username);
    char *ikey = arena_printf(r->arena, "ip:%s", r->remote_addr);
    const char *keys[] = {ukey, ikey, username};
    struct db_query lookup[] = {
        {"SELECT rectify.login_throttle_check(ARRAY[$1, $2])", 2, keys},
        {"SELECT id, org_id, array_to_string(roles, ','), password_hash, disabled, token_epoch"
         " FROM rectify.auth_lookup($1)", 1, keys + 2},
    };
    PGresult *res[2];
    if (!db_run_or_reply(r, lookup, 2, res))
        return;
    int wait = atoi(PQgetvalue(res[0], 0, 0));
    if (wait > 0) {
        char retry[16];
        snprintf(retry, sizeof retry, "%d", wait);
        reply_header(r, "Retry-After", retry);
        reply_problem(r, 429, "too_many_requests",
                      "Too many failed sign-ins; try again in %d seconds.", wait);
        return;
    }
    bool found = PQntuples(res[1]) == 1;
    const char *hash = found && !PQgetisnull(res[1], 0, 3) ? PQgetvalue(res[1], 0, 3) : NULL;
    if (!argon2_enter()) {
        reply_header(r, "Retry-After", "1");
        reply_problem(r, 503, "service_unavailable", "Too many sign-ins at once; retry.");
        return;
    }
    /* Unknown users cost the same time (dummy hash): no username oracle. */
    bool ok = password_verify(hash, password);
    argon2_leave();
    if (!ok || !found || strcmp(PQgetvalue(res[1], 0, 4), "t") == 0) {
        struct db_query failed = {"SELECT rectify.login_failed(ARRAY[$1, $2])", 2, keys};
        PGresult *f;
        if (!db_run_or_reply(r, &failed, 1, &f))
            return;
        reply_unauthorized(r, "invalid_credentials", "The username or password is wrong.");
        return;
    }
    char refresh[PASSWORD_TOKEN_SIZE], refresh_hash[2 + PASSWORD_SHA256_HEX_SIZE], ttl[32];
    password_random_token(refresh);
    token_hash_param(refresh, refresh_hash);
    snprintf(ttl, sizeof ttl, "%d seconds", r->app->cfg->refresh_token_ttl);
    const char *p[] = {ukey, ikey, PQgetvalue(res[1], 0, 0), refresh_hash, ttl};
    struct db_query issue[] = {
        {"SELECT rectify.login_succeeded(ARRAY[$1, $2], $3::bigint)", 3, p},
        {"SELECT rectify.refresh_issue($1::bigint, NULL, $2::bytea, $3::interval)", 3, p + 2},
    };
    PGresult *ir[2];
    if (!db_run_or_reply(r, issue, 2, ir))
        return;
    reply_tokens(r, atoll(PQgetvalue(res[1], 0, 0)), atoll(PQgetvalue(res[1], 0, 1)),
                 roles_from_csv(PQgetvalue(res[1], 0, 2)), atoi(PQgetvalue(res[1], 0, 5)),
                 refresh);
}

static const struct vfield refresh_fields[] = {
    {"refresh_token", V_STRING, true, false, 1, 512, NULL, NULL, NULL},
};

static void refresh_token(struct req *r)
{
    if (!validate_or_reply(r, r->json, refresh_fields, 1))
        return;
    const char *old = cJSON_GetObjectItem(r->json, "refresh_token")->valuestring;
    char old_hash[2 + PASSWORD_SHA256_HEX_SIZE], fresh[PASSWORD_TOKEN_SIZE],
        fresh_hash[2 + PASSWORD_SHA256_HEX_SIZE], ttl[32];
    token_hash_param(old, old_hash);
    password_random_token(fresh);
    token_hash_param(fresh, fresh_hash);
    snprintf(ttl, sizeof ttl, "%d seconds", r->app->cfg->refresh_token_ttl);
    const char *p[] = {old_hash, fresh_hash, ttl};
    /* The function commits a family revocation on reuse: it must not fail. */
    struct db_query q = {
        "SELECT r->>'status', r->'user'->>'id', r->'user'->>'org_id',"
        " array_to_string(ARRAY(SELECT jsonb_array_elements_text(r->'user'->'roles')), ','),"
        " r->'user'->>'token_epoch'"
        " FROM rectify.refresh_rotate($1::bytea, $2::bytea, $3::interval) AS r",
        3, p};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    const char *status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "ok") != 0) {
        if (strcmp(status, "reused") == 0)
            log_msg(LOG_WARN, r->request_id,
                    "refresh token reused: the whole token family is revoked");
        reply_unauthorized(r, "invalid_refresh_token",
                           "The refresh token is not valid; sign in again.");
        return;
    }
    reply_tokens(r, atoll(PQgetvalue(res, 0, 1)), atoll(PQgetvalue(res, 0, 2)),
                 roles_from_csv(PQgetvalue(res, 0, 3)), atoi(PQgetvalue(res, 0, 4)), fresh);
}

static void logout(struct req *r)
{
    if (!validate_or_reply(r, r->json, refresh_fields, 1))
        return;
    char hash[2 + PASSWORD_SHA256_HEX_SIZE];
    token_hash_param(cJSON_GetObjectItem(r->json, "refresh_token")->valuestring, hash);
    const char *p[] = {hash};
    struct db_query q = {"SELECT rectify.refresh_revoke($1::bytea)", 1, p};
    PGresult *res;
    if (db_run_or_reply(r, &q, 1, &res))
        reply_empty(r, 204);
}

/* With the user's ETag, as GET /api/v1/users/{id} sends it. */
static void me(struct req *r)
{
    struct db_query q = {"SELECT u.version, rectify.user_json(u.id) AS json"
                         "  FROM users u WHERE u.id = rectify.user_id()",
                         0, NULL};
    reply_query_row(r, 200, &q, "user");
}

static void jwks(struct req *r)
{
    const char *doc = r->app->public_jwks ? r->app->public_jwks : "{\"keys\":[]}";
    reply(r, 200, "application/jwk-set+json", doc, strlen(doc));
}

const struct route auth_routes[] = {
    {"GET", "/.well-known/jwks.json", jwks, PERM_PUBLIC, ROUTE_OPS},
    {"POST", "/api/v1/auth/token", create_token, PERM_PUBLIC, ROUTE_JSON_BODY},
    {"POST", "/api/v1/auth/refresh", refresh_token, PERM_PUBLIC, ROUTE_JSON_BODY},
    {"POST", "/api/v1/auth/logout", logout, PERM_PUBLIC, ROUTE_JSON_BODY},
    {"GET", "/api/v1/me", me, PERM_AUTHENTICATED, 0},
};
const size_t auth_routes_count = sizeof auth_routes / sizeof auth_routes[0];
