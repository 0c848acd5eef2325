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

#include "rectify/arena.h"
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

/* One user as the User schema (u: users columns, o: its org). */
#define USER_JSON(u, o)                                                                    \
    "json_build_object('id', " u ".id, 'username', " u ".username,"                        \
    " 'display_name', " u ".display_name, 'org_id', " u ".org_id,"                         \
    " 'org', json_build_object('id', " o ".id, 'code', " o ".code, 'name', " o ".name,"    \
    " 'kind', " o ".kind),"                                                                \
    " 'roles', " u ".roles, 'disabled', " u ".disabled, 'version', " u ".version,"         \
    " 'created_at', " u ".created_at, 'updated_at', " u ".updated_at,"                     \
    " 'last_login_at', " u ".last_login_at)"

/* The columns rectify_api may read (never password_hash). */
#define USER_COLUMNS                                                                       \
    "id, username, display_name, org_id, roles, disabled, version, created_at,"            \
    " updated_at, last_login_at"

static const char sql_get[] =
    "SELECT u.version, " USER_JSON("u", "o") " AS json"
    "  FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = $1::bigint";

static const char sql_username[] = "SELECT username FROM users WHERE id = $1::bigint";

/* $1 org, $2 role, $3 disabled, $4 ILIKE pattern, $5 after id, $6 limit. */
static const char sql_list[] =
    "WITH page AS (SELECT u.*, row_number() OVER (ORDER BY u.id) AS n FROM ("
    "  SELECT " USER_COLUMNS " FROM users u"
    "   WHERE ($1::bigint IS NULL OR u.org_id = $1::bigint)"
    "     AND ($2::text IS NULL OR $2::text = ANY (u.roles))"
    "     AND ($3::boolean IS NULL OR u.disabled = $3::boolean)"
    "     AND ($4::text IS NULL OR u.username ILIKE $4::text OR u.display_name ILIKE $4::text)"
    "     AND ($5::bigint IS NULL OR u.id > $5::bigint)"
    "   ORDER BY u.id LIMIT $6::int + 1) u)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(" USER_JSON("p", "o") " ORDER BY p.id)"
    "                       FROM page p JOIN orgs o ON o.id = p.org_id WHERE p.n <= $6::int), '[]'),"
    "  'next_cursor', (SELECT " SQL_CURSOR_OF("p.id") " FROM page p WHERE p.n = $6::int"
    "                  AND EXISTS (SELECT 1 FROM page q WHERE q.n > $6::int)))::text";

/* $1 the validated body without the password, $2 the password hash.
 * Status: ok | no_org | duplicate. */
static const char sql_create[] =
    "WITH b AS (SELECT $1::jsonb AS j),"
    " bad AS (SELECT 1 FROM b WHERE NOT EXISTS"
    "         (SELECT 1 FROM orgs o WHERE o.id = (j->>'org_id')::bigint)),"
    " ins AS (INSERT INTO users (username, display_name, org_id, roles, password_hash)"
    "         SELECT j->>'username', j->>'display_name', (j->>'org_id')::bigint,"
    "                ARRAY(SELECT jsonb_array_elements_text(j->'roles')), $2::text"
    "           FROM b WHERE NOT EXISTS (SELECT 1 FROM bad)"
    "         ON CONFLICT (username) DO NOTHING RETURNING " USER_COLUMNS ")"
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM bad) THEN 'no_org'"
    "             WHEN u.id IS NULL THEN 'duplicate' ELSE 'ok' END,"
    "        u.id, u.version, CASE WHEN u.id IS NOT NULL THEN " USER_JSON("u", "o") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN ins u ON true LEFT JOIN orgs o ON o.id = u.org_id";

/* $1 id, $2 If-Match version, $3 the validated body without the password
 * (merge semantics), and with SET_PASSWORD $4 the new hash. Two texts because
 * rectify_api may not read password_hash, not even to keep it as it is.
 * Status: ok | unchanged | not_found | forbidden (only an admin touches
 * admins) | stale | no_org. */
#define SQL_PATCH(new_password, set_password)                                              \
    "WITH b AS (SELECT $3::jsonb AS j),"                                                   \
    " cur AS (SELECT " USER_COLUMNS " FROM users u WHERE u.id = $1::bigint),"              \
    " nv AS (SELECT cur.id,"                                                               \
    "   CASE WHEN j ? 'display_name' THEN j->>'display_name' ELSE cur.display_name END"    \
    "     AS display_name,"                                                                \
    "   CASE WHEN j ? 'org_id' THEN (j->>'org_id')::bigint ELSE cur.org_id END AS org_id," \
    "   CASE WHEN j ? 'roles' THEN ARRAY(SELECT DISTINCT x"                                \
    "          FROM jsonb_array_elements_text(j->'roles') AS x ORDER BY x)"                \
    "        ELSE cur.roles END AS roles,"                                                 \
    "   CASE WHEN j ? 'disabled' THEN (j->>'disabled')::boolean ELSE cur.disabled END"     \
    "     AS disabled"                                                                     \
    "   FROM cur, b),"                                                                     \
    " chk AS (SELECT CASE"                                                                 \
    "   WHEN NOT rectify.has_role('admin')"                                                \
    "     AND ('admin' = ANY (cur.roles) OR 'admin' = ANY (nv.roles)) THEN 'forbidden'"    \
    "   WHEN cur.version <> $2::int THEN 'stale'"                                          \
    "   WHEN nv.org_id <> cur.org_id"                                                      \
    "     AND NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = nv.org_id) THEN 'no_org'"      \
    "   WHEN NOT " new_password " AND (nv.display_name, nv.org_id, nv.roles, nv.disabled)" \
    "        IS NOT DISTINCT FROM (cur.display_name, cur.org_id, cur.roles, cur.disabled)" \
    "     THEN 'unchanged'"                                                                \
    "   ELSE 'change' END AS s FROM cur, nv),"                                             \
    " upd AS (UPDATE users u SET display_name = nv.display_name, org_id = nv.org_id,"      \
    "                            roles = nv.roles, disabled = nv.disabled" set_password    \
    "           FROM nv, chk"                                                              \
    "          WHERE u.id = nv.id AND chk.s = 'change' AND u.version = $2::int"            \
    "         RETURNING u.id, u.username, u.display_name, u.org_id, u.roles, u.disabled,"  \
    "                   u.version, u.created_at, u.updated_at, u.last_login_at),"          \
    " res AS (SELECT * FROM upd UNION ALL"                                                 \
    "         SELECT * FROM cur WHERE (SELECT s FROM chk) = 'unchanged')"                  \
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found'"                                    \
    "             WHEN chk.s = 'change' AND upd.id IS NULL THEN 'stale'"                   \
    "             WHEN chk.s = 'change' THEN 'ok' ELSE chk.s END,"                         \
    "        coalesce(upd.version, cur.version),"                                          \
    "        (SELECT " USER_JSON("x", "o") "::text FROM res x JOIN orgs o ON o.id = x.org_id)" \
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN upd ON true"

static const char sql_patch[] = SQL_PATCH("false", "");
static const char sql_patch_password[] = SQL_PATCH("true", ", password_hash = $4::text");

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
        errs[n++] = (struct field_error){.parameter = "org", .message = "must be a positive integer id"};
    const char *role = req_query(r, "role");
    if (role && !perm_role_from_name(role))
        errs[n++] = (struct field_error){.parameter = "role", .message = "is not a role"};
    const char *disabled = req_query(r, "disabled");
    if (disabled && strcmp(disabled, "true") != 0 && strcmp(disabled, "false") != 0)
        errs[n++] = (struct field_error){.parameter = "disabled", .message = "must be true or false"};
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
    /* The office manages every non-admin account: creating an admin is
     * refused by row-level security (42501 -> 403). */
    if (!validate_or_reply(r, r->json, create_fields, NCREATE) ||
        !password_or_reply(r, cJSON_GetObjectItemCaseSensitive(r->json, "username")->valuestring,
                           hash))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {body, hash};
    struct db_query q = {sql_create, 2, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    const char *status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "no_org") == 0) {
        reply_field_error(r, 422, "validation_failed", "The organisation does not exist.", "/org_id",
                    "does not exist");
        return;
    }
    if (strcmp(status, "duplicate") == 0) {
        reply_field_error(r, 409, "conflict", "A user with this username already exists.", "/username",
                    "already exists");
        return;
    }
    reply_header(r, "Location", arena_printf(r->arena, "/api/v1/users/%s", PQgetvalue(res, 0, 1)));
    reply_etag(r, PQgetvalue(res, 0, 2));
    reply_json(r, 201, PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0, 3));
}

static void patch_user(struct req *r)
{
    char id[24], version[16], hash[PASSWORD_HASH_SIZE];
    if (!id_param_or_reply(r, "id", "user", id))
        return;
    if (!if_match_or_reply(r, version) || !validate_or_reply(r, r->json, patch_fields, NPATCH))
        return;
    const char *params[] = {id, version, NULL, hash};
    bool new_password = cJSON_GetObjectItemCaseSensitive(r->json, "password") != NULL;
    if (new_password) {
        /* The policy refuses passwords containing the user name: read it
         * first (one more round trip, only when a password is set). */
        struct db_query lookup = {sql_username, 1, params};
        PGresult *u;
        if (!db_run_or_reply(r, &lookup, 1, &u))
            return;
        if (PQntuples(u) != 1) {
            reply_no_such(r, "user");
            return;
        }
        if (!password_or_reply(r, PQgetvalue(u, 0, 0), hash))
            return;
    }
    if (!(params[2] = json_body_text_or_reply(r)))
        return;
    struct db_query q = {new_password ? sql_patch_password : sql_patch, new_password ? 4 : 3,
                         params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    const char *status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "not_found") == 0) {
        reply_no_such(r, "user");
    } else if (strcmp(status, "forbidden") == 0) {
        reply_problem(r, 403, "forbidden", "Only an admin may change an admin or grant admin.");
    } else if (strcmp(status, "stale") == 0) {
        reply_precondition_failed(r, PQgetvalue(res, 0, 1));
    } else if (strcmp(status, "no_org") == 0) {
        reply_field_error(r, 422, "validation_failed", "The organisation does not exist.", "/org_id",
                    "does not exist");
    } else {
        reply_etag(r, PQgetvalue(res, 0, 1));
        reply_json(r, 200, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
    }
}

const struct route users_routes[] = {
    {"GET", "/api/v1/users", list_users, PERM_USER_READ, 0},
    {"POST", "/api/v1/users", create_user, PERM_USER_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/users/{id}", get_user, PERM_USER_READ, 0},
    {"PATCH", "/api/v1/users/{id}", patch_user, PERM_USER_WRITE, ROUTE_JSON_BODY},
};
const size_t users_routes_count = sizeof users_routes / sizeof users_routes[0];
