/* Organisations: the directory (list, one org with its ancestors) and the
 * admin's writes (create, change, move a subtree).
 *
 * Every answer is built by PostgreSQL; writes are one statement each whose
 * first column says what happened (ok / not_found / stale / a rule that
 * failed), so 404, 412, 422 and 409 are told apart in one round trip without
 * relying on error texts. The checks in the statement mirror the schema's own
 * (0003_orgs.sql), which stays the last word: a concurrent change that slips
 * past them still fails there (23503 / 23514 → 422). */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/params.h"
#include "rectify/permissions.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- shared SQL fragments -------------------------------------------------- */

/* The members of the Org schema (o: a row of orgs). */
#define ORG_FIELDS(o)                                                                     \
    "'id', " o ".id, 'code', " o ".code, 'name', " o ".name,"                             \
    " 'name_en', " o ".name_en, 'kind', " o ".kind, 'parent_id', " o ".parent_id,"        \
    " 'path', " o ".path::text, 'version', " o ".version,"                                 \
    " 'created_at', " o ".created_at, 'updated_at', " o ".updated_at"
#define ORG_JSON(o) "json_build_object(" ORG_FIELDS(o) ")"

/* OrgDetail: the Org plus its ancestors from the root down to the parent.
 * The ancestors are read from the statement's snapshot: after a move the
 * moved subtree has new paths, but the new ancestors are outside it and so
 * unchanged. */
#define ORG_DETAIL(o)                                                                      \
    "json_build_object(" ORG_FIELDS(o) ", 'ancestors', (SELECT"                            \
    " coalesce(json_agg(json_build_object('id', a.id, 'code', a.code, 'name', a.name,"     \
    " 'kind', a.kind) ORDER BY nlevel(a.path)), '[]') FROM orgs a"                          \
    " WHERE a.path @> " o ".path AND a.id <> " o ".id))"

static const char sql_get[] =
    "SELECT o.version, " ORG_DETAIL("o") " AS json FROM orgs o WHERE o.id = $1::bigint";

/* $1 kind, $2 parent, $3 ILIKE pattern, $4 after id, $5 limit. */
static const char sql_list[] =
    "WITH page AS (SELECT o.*, row_number() OVER (ORDER BY o.id) AS n FROM ("
    "  SELECT * FROM orgs o"
    "   WHERE ($1::text IS NULL OR o.kind = $1::text)"
    "     AND ($2::bigint IS NULL OR o.parent_id = $2::bigint)"
    "     AND ($3::text IS NULL OR o.name ILIKE $3::text OR o.name_en ILIKE $3::text"
    "          OR o.code ILIKE $3::text)"
    "     AND ($4::bigint IS NULL OR o.id > $4::bigint)"
    "   ORDER BY o.id LIMIT $5::int + 1) o)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(" ORG_JSON("p") " ORDER BY p.id) FROM page p"
    "                     WHERE p.n <= $5::int), '[]'),"
    "  'next_cursor', (SELECT " SQL_CURSOR_OF("p.id") " FROM page p WHERE p.n = $5::int"
    "                  AND EXISTS (SELECT 1 FROM page q WHERE q.n > $5::int)))::text";

/* $1 the validated body. Status: ok | no_parent | duplicate. */
static const char sql_create[] =
    "WITH b AS (SELECT $1::jsonb AS j),"
    " bad AS (SELECT 1 FROM b WHERE j->>'parent_id' IS NOT NULL AND NOT EXISTS"
    "         (SELECT 1 FROM orgs p WHERE p.id = (j->>'parent_id')::bigint)),"
    " ins AS (INSERT INTO orgs (code, name, name_en, kind, parent_id)"
    "         SELECT j->>'code', j->>'name', j->>'name_en', j->>'kind', (j->>'parent_id')::bigint"
    "           FROM b WHERE NOT EXISTS (SELECT 1 FROM bad)"
    "         ON CONFLICT (code) DO NOTHING RETURNING *)"
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM bad) THEN 'no_parent'"
    "             WHEN o.id IS NULL THEN 'duplicate' ELSE 'ok' END,"
    "        o.id, o.version, CASE WHEN o.id IS NOT NULL THEN " ORG_DETAIL("o") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN ins o ON true";

/* $1 id, $2 If-Match version, $3 the validated body (merge semantics).
 * Status: ok | unchanged | not_found | stale | parent_required | no_parent | cycle. */
static const char sql_patch[] =
    "WITH b AS (SELECT $3::jsonb AS j),"
    " cur AS (SELECT o.* FROM orgs o WHERE o.id = $1::bigint),"
    " nv AS (SELECT cur.id,"
    "   CASE WHEN j ? 'name' THEN j->>'name' ELSE cur.name END AS name,"
    "   CASE WHEN j ? 'name_en' THEN j->>'name_en' ELSE cur.name_en END AS name_en,"
    "   CASE WHEN j ? 'kind' THEN j->>'kind' ELSE cur.kind END AS kind,"
    "   CASE WHEN j ? 'parent_id' THEN (j->>'parent_id')::bigint ELSE cur.parent_id END"
    "     AS parent_id"
    "   FROM cur, b),"
    " chk AS (SELECT CASE"
    "   WHEN cur.version <> $2::int THEN 'stale'"
    "   WHEN nv.parent_id IS NULL AND nv.kind NOT IN ('province', 'inspection_team')"
    "     THEN 'parent_required'"
    "   WHEN nv.parent_id IS DISTINCT FROM cur.parent_id AND nv.parent_id IS NOT NULL"
    "     AND NOT EXISTS (SELECT 1 FROM orgs p WHERE p.id = nv.parent_id) THEN 'no_parent'"
    "   WHEN nv.parent_id IS DISTINCT FROM cur.parent_id AND EXISTS"
    "     (SELECT 1 FROM orgs p WHERE p.id = nv.parent_id AND p.path <@ cur.path) THEN 'cycle'"
    "   WHEN (nv.name, nv.name_en, nv.kind, nv.parent_id)"
    "        IS NOT DISTINCT FROM (cur.name, cur.name_en, cur.kind, cur.parent_id)"
    "     THEN 'unchanged'"
    "   ELSE 'change' END AS s FROM cur, nv),"
    " upd AS (UPDATE orgs o SET name = nv.name, name_en = nv.name_en, kind = nv.kind,"
    "                           parent_id = nv.parent_id"
    "           FROM nv, chk"
    "          WHERE o.id = nv.id AND chk.s = 'change' AND o.version = $2::int"
    "         RETURNING o.*)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found'"
    "             WHEN chk.s = 'change' AND upd.id IS NULL THEN 'stale'"
    "             WHEN chk.s = 'change' THEN 'ok' ELSE chk.s END,"
    "        coalesce(upd.version, cur.version),"
    "        CASE WHEN upd.id IS NOT NULL THEN " ORG_DETAIL("upd") "::text"
    "             WHEN chk.s = 'unchanged' THEN " ORG_DETAIL("cur") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN upd ON true";

/* --- validation tables ----------------------------------------------------- */

static const char *const org_kinds[] = {
    "province", "prefecture", "county", "department", "leading_group",
    "rectification_office", "discipline", "inspection_team", "other", NULL,
};

/* The schema's orgs_code_format: upper-case letters, digits and '-', not
 * starting with '-', 2..32 characters. */
static bool code_ok(const char *s)
{
    if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z')))
        return false;
    return strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-") == strlen(s);
}

/* The schema trims before it counts (orgs_name_length). */
static bool not_blank(const char *s)
{
    return strspn(s, " \t\r\n") < strlen(s);
}

#define ID_MAX 9007199254740991LL

static const struct vfield create_fields[] = {
    {"code", V_STRING, true, false, 2, 32, NULL, code_ok,
     "must be upper-case letters, digits and '-', not starting with '-'"},
    {"name", V_STRING, true, false, 1, 200, NULL, not_blank, "must not be blank"},
    {"name_en", V_STRING, false, true, 1, 300, NULL, not_blank, "must not be blank"},
    {"kind", V_STRING, true, false, 1, 0, org_kinds, NULL, NULL},
    {"parent_id", V_INT, false, true, 1, ID_MAX, NULL, NULL, NULL},
};
#define NCREATE (sizeof create_fields / sizeof create_fields[0])

static const struct vfield patch_fields[] = {
    {"name", V_STRING, false, false, 1, 200, NULL, not_blank, "must not be blank"},
    {"name_en", V_STRING, false, true, 1, 300, NULL, not_blank, "must not be blank"},
    {"kind", V_STRING, false, false, 1, 0, org_kinds, NULL, NULL},
    {"parent_id", V_INT, false, true, 1, ID_MAX, NULL, NULL, NULL},
};
#define NPATCH (sizeof patch_fields / sizeof patch_fields[0])

static bool is_root_kind(const char *kind)
{
    return strcmp(kind, "province") == 0 || strcmp(kind, "inspection_team") == 0;
}

/* --- handlers ---------------------------------------------------------------- */

static void list_orgs(struct req *r)
{
    struct field_error errs[6];
    size_t n = 0;
    const char *kind = req_query(r, "kind");
    if (kind) {
        bool known = false;
        for (const char *const *k = org_kinds; *k && !known; k++)
            known = strcmp(*k, kind) == 0;
        if (!known)
            errs[n++] = (struct field_error){.parameter = "kind", .message = "is not an organisation kind"};
    }
    const char *parent_raw = req_query(r, "parent");
    char parent[24];
    if (parent_raw && !id_parse(parent_raw, parent))
        errs[n++] = (struct field_error){.parameter = "parent", .message = "must be a positive integer id"};
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
    const char *params[] = {kind, parent_raw ? parent : NULL, q ? like_pattern(r->arena, q) : NULL,
                            has_after ? after : NULL, limit};
    struct db_query query = {sql_list, 5, params};
    reply_db_json(r, 200, &query);
}

static void get_org(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "organisation", id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_get, 1, params};
    /* Rows hidden by row-level security answer the same 404. */
    reply_query_row(r, 200, &q, "organisation");
}

static void create_org(struct req *r)
{
    if (!validate_or_reply(r, r->json, create_fields, NCREATE))
        return;
    const char *kind = cJSON_GetObjectItemCaseSensitive(r->json, "kind")->valuestring;
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(r->json, "parent_id");
    bool has_parent = parent && !cJSON_IsNull(parent);
    if (is_root_kind(kind) && has_parent) {
        reply_field_error(r, 422, "validation_failed", "The request body has 1 invalid field.",
                    "/parent_id", arena_printf(r->arena, "must be null for kind %s", kind));
        return;
    }
    if (!is_root_kind(kind) && !has_parent) {
        reply_field_error(r, 422, "validation_failed", "The request body has 1 invalid field.",
                    "/parent_id", arena_printf(r->arena, "is required for kind %s", kind));
        return;
    }
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {body};
    struct db_query q = {sql_create, 1, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    const char *status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "no_parent") == 0) {
        reply_field_error(r, 422, "validation_failed", "The parent organisation does not exist.",
                    "/parent_id", "does not exist");
        return;
    }
    if (strcmp(status, "duplicate") == 0) {
        reply_field_error(r, 409, "conflict", "An organisation with this code already exists.",
                    "/code", "already exists");
        return;
    }
    reply_header(r, "Location", arena_printf(r->arena, "/api/v1/orgs/%s", PQgetvalue(res, 0, 1)));
    reply_etag(r, PQgetvalue(res, 0, 2));
    reply_json(r, 201, PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0, 3));
}

static void patch_org(struct req *r)
{
    char id[24], version[16];
    if (!id_param_or_reply(r, "id", "organisation", id))
        return;
    if (!if_match_or_reply(r, version) || !validate_or_reply(r, r->json, patch_fields, NPATCH))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, version, body};
    struct db_query q = {sql_patch, 3, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    const char *status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "not_found") == 0) {
        reply_no_such(r, "organisation");
    } else if (strcmp(status, "stale") == 0) {
        reply_precondition_failed(r, PQgetvalue(res, 0, 1));
    } else if (strcmp(status, "parent_required") == 0) {
        reply_field_error(r, 422, "validation_failed", "Only a province or the inspection team has no parent.",
                    "/parent_id", "is required for this kind of organisation");
    } else if (strcmp(status, "no_parent") == 0) {
        reply_field_error(r, 422, "validation_failed", "The parent organisation does not exist.",
                    "/parent_id", "does not exist");
    } else if (strcmp(status, "cycle") == 0) {
        reply_field_error(r, 422, "validation_failed",
                    "An organisation cannot move under itself or one of its descendants.",
                    "/parent_id", "is the organisation itself or one of its descendants");
    } else {
        reply_etag(r, PQgetvalue(res, 0, 1));
        reply_json(r, 200, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
    }
}

const struct route orgs_routes[] = {
    {"GET", "/api/v1/orgs", list_orgs, PERM_ORG_READ, 0},
    {"POST", "/api/v1/orgs", create_org, PERM_ORG_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/orgs/{id}", get_org, PERM_ORG_READ, 0},
    {"PATCH", "/api/v1/orgs/{id}", patch_org, PERM_ORG_WRITE, ROUTE_JSON_BODY},
};
const size_t orgs_routes_count = sizeof orgs_routes / sizeof orgs_routes[0];
