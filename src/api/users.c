/* User accounts: the admin's and the office's directory of users, and the
 * admin's writes. Passwords are hashed here (Argon2id, password.h) and only
 * the hash reaches the database; the body sent to SQL never carries the
 * password. password_hash is not readable by rectify_api, so every statement
 * names its columns.
 *
 * Tokens: a change of password, roles or org, or disabling the user, bumps
 * users.token_epoch in the schema's trigger (0005_users.sql), which kills the
 * user's access tokens (rectify.begin_request) and refresh-token families;
 * nothing here touches the epoch. */
#include "rectify/api.h"

#include "rectify/params.h"
#include "rectify/password.h"
#include "rectify/permissions.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- SQL ------------------------------------------------------------------- */

static const char sql_get[] = "SELECT u.version, rectify.user_json(u.id) AS json"
                             "  FROM users u WHERE u.id = $1::bigint";

static const char sql_username[] = "SELECT username FROM users WHERE id = $1::bigint";

/* $1 org, $2 role, $3 disabled, $4 ILIKE pattern, $5 after id, $6 limit. */
static const char sql_list[] =
    "WITH page AS (SELECT u.*, row_number() OVER (ORDER BY u.id) AS n FROM ("
    "  SELECT u.id FROM users u"
    "   WHERE ($1::bigint IS NULL OR u.org_id = $1::bigint)"
    "     AND ($2::text IS NULL OR $2::text = ANY (u.roles))"
    "     AND ($3::boolean IS NULL OR u.disabled = $3::boolean)"
    "     AND ($4::text IS NULL OR u.username ILIKE $4::text OR u.display_name ILIKE $4::text)"
    "     AND ($5::bigint IS NULL OR u.id > $5::bigint)"
    "   ORDER BY u.id LIMIT $6::int + 1) u)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(rectify.user_json(p.id) ORDER BY p.id)"
    "                       FROM page p WHERE p.n <= $6::int), '[]'),"
    "  'next_cursor', (SELECT " SQL_CURSOR_OF("p.id") " FROM page p WHERE p.n = $6::int"
    "                  AND EXISTS (SELECT 1 FROM page q WHERE q.n > $6::int)))::text";

/* Every outcome but success is raised by the functions (0040_handler_protocol.sql).
 * $1 the validated body without the password, $2 the hash (NULL: keep it). */
static const char sql_create[] = "SELECT * FROM rectify.user_create($1::jsonb, $2::text)";
static const char sql_patch[] =
    "SELECT * FROM rectify.user_patch($1::bigint, $2::int, $3::jsonb, $4::text)";

/* --- validation tables ----------------------------------------------------- */

static const char *const role_names[] = {
    "admin", "office", "leader", "unit", "acceptor",
    "inspector", "discipline", "integration", "viewer", NULL,
};

/* The spec's ^[a-z0-9._-]{3,64}$, starting with a letter or digit as the
 * schema's users_username_format requires. */
static bool username_ok(const char *s)
{
    return ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(s);
}

/* The schema trims before it counts (users_display_name_length). */
static bool not_blank(const char *s)
{
    return strspn(s, " \t\r\n") < strlen(s);
}

#define ID_MAX 9007199254740991LL

/* display_name: at most 100 characters, the schema's limit (the spec says 200). */
static const struct vfield create_fields[] = {
    {"username", V_STRING, true, false, 3, 64, NULL, username_ok,
     "must be 3 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"},
    {"display_name", V_STRING, true, false, 1, 100, NULL, not_blank, "must not be blank"},
    {"org_id", V_INT, true, false, 1, ID_MAX, NULL, NULL, NULL},
    {"roles", V_STRING_ARRAY, true, false, 1, 9, role_names, NULL, NULL},
    {"password", V_STRING, true, false, PASSWORD_MIN_CHARS, 256, NULL, NULL, NULL},
};
#define NCREATE (sizeof create_fields / sizeof create_fields[0])

static const struct vfield patch_fields[] = {
    {"display_name", V_STRING, false, false, 1, 100, NULL, not_blank, "must not be blank"},
    {"org_id", V_INT, false, false, 1, ID_MAX, NULL, NULL, NULL},
    {"roles", V_STRING_ARRAY, false, false, 1, 9, role_names, NULL, NULL},
    {"disabled", V_BOOL, false, false, 0, 0, NULL, NULL, NULL},
    {"password", V_STRING, false, false, PASSWORD_MIN_CHARS, 256, NULL, NULL, NULL},
};
#define NPATCH (sizeof patch_fields / sizeof patch_fields[0])

/* Checks the password against the policy, hashes it into out and removes it
 * from the body (so that it never travels to the database). */
static bool password_or_reply(struct req *r, const char *username, char out[PASSWORD_HASH_SIZE])
{
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(r->json, "password");
    const char *why = password_policy_error(username, pw->valuestring);
    if (why) {
        reply_field_error(r, 422, "validation_failed", "The password is not acceptable.", "/password",
                    why);
        return false;
    }
    if (password_hash(pw->valuestring, out) != 0) {
        reply_problem(r, 500, "internal_error", "The password could not be hashed.");
        return false;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(r->json, "password");
    return true;
}

/* --- handlers ---------------------------------------------------------------- */

static void list_users(struct req *r)
{
    struct field_error errs[8];
    size_t n = 0;
    const char *org_raw = req_query(r, "org");
    char org[24];
    if (org_raw && !id_parse(org_raw, org))
        errs[n++] = (struct field_error){.parameter = "org", .message = "must be a positive integer id", .code = "invalid_format"};
    const char *role = req_query(r, "role");
    if (role && !perm_role_from_name(role))
        errs[n++] = (struct field_error){.parameter = "role", .message = "is not a role", .code = "not_in_vocabulary"};
    const char *disabled = req_query(r, "disabled");
    if (disabled && strcmp(disabled, "true") != 0 && strcmp(disabled, "false") != 0)
        errs[n++] = (struct field_error){.parameter = "disabled", .message = "must be true or false", .code = "wrong_type"};
    const char *q = req_query(r, "q");
    if (q && !q_valid(q))
        errs[n++] = (struct field_error){.parameter = "q", .message = "must be 1 to 100 characters of UTF-8 text"};
    char limit[8], after[24];
    bool has_after;
    page_params(r, errs, &n, limit, after, &has_after);
    if (n) {
        reply_invalid_params(r, errs, n);
        return;
    }
    const char *params[] = {org_raw ? org : NULL, role, disabled,
                            q ? like_pattern(r->arena, q) : NULL, has_after ? after : NULL, limit};
    struct db_query query = {sql_list, 6, params};
    reply_db_json(r, 200, &query);
}

static void get_user(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "user", id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_get, 1, params};
    /* Rows hidden by row-level security answer the same 404. */
    reply_query_row(r, 200, &q, "user");
}

static void create_user(struct req *r)
{
    char hash[PASSWORD_HASH_SIZE];
    const char *body;
    if (!validate_or_reply(r, r->json, create_fields, NCREATE) ||
        !password_or_reply(r, cJSON_GetObjectItemCaseSensitive(r->json, "username")->valuestring,
                           hash) ||
        !(body = json_body_text_or_reply(r)))
        return;
    const char *params[] = {body, hash};
    reply_query_row(r, 201, &(struct db_query){sql_create, 2, params}, "user");
}

static void patch_user(struct req *r)
{
    char id[24], version[16], hash[PASSWORD_HASH_SIZE];
    if (!id_param_or_reply(r, "id", "user", id) || !if_match_or_reply(r, version) ||
        !validate_or_reply(r, r->json, patch_fields, NPATCH))
        return;
    const char *params[] = {id, version, NULL, NULL};
    if (cJSON_GetObjectItemCaseSensitive(r->json, "password")) {
        /* The policy refuses passwords containing the user name: read it
         * first (one more round trip, only when a password is set). */
        PGresult *u;
        if (!db_run_or_reply(r, &(struct db_query){sql_username, 1, params}, 1, &u))
            return;
        if (PQntuples(u) != 1) {
            reply_no_such(r, "user");
            return;
        }
        if (!password_or_reply(r, PQgetvalue(u, 0, 0), hash))
            return;
        params[3] = hash;
    }
    if (!(params[2] = json_body_text_or_reply(r)))
        return;
    reply_query_row(r, 200, &(struct db_query){sql_patch, 4, params}, "user");
}

const struct route users_routes[] = {
    {"GET", "/api/v1/users", list_users, PERM_USER_READ, 0},
    {"POST", "/api/v1/users", create_user, PERM_USER_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/users/{id}", get_user, PERM_USER_READ, 0},
    {"PATCH", "/api/v1/users/{id}", patch_user, PERM_USER_WRITE, ROUTE_JSON_BODY},
};
const size_t users_routes_count = sizeof users_routes / sizeof users_routes[0];
