/* Organisations: the directory (list, one org with its ancestors) and the
 * admin's writes (create, change, move a subtree). Every answer is built by
 * PostgreSQL (rectify.org_json); writes follow the outcome protocol
 * (docs/developing.md): rectify.org_create / rectify.org_patch check the rules
 * and raise every outcome but success. The schema (0003_orgs.sql) stays the
 * last word: a concurrent change that slips past the checks still fails there. */
#include "rectify/api.h"

#include "rectify/params.h"
#include "rectify/permissions.h"
#include "rectify/validate.h"

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

static const char sql_get[] =
    "SELECT o.version, rectify.org_json(o) AS json FROM orgs o WHERE o.id = $1::bigint";

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

/* The rules beyond the body's own (roots, parents, cycles, codes) and every
 * outcome are in the functions of 0040_handler_protocol.sql. */
static const char sql_create[] = "SELECT * FROM rectify.org_create($1::jsonb)";
static const char sql_patch[] = "SELECT * FROM rectify.org_patch($1::bigint, $2::int, $3::jsonb)";

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
    const char *body;
    if (!validate_or_reply(r, r->json, create_fields, NCREATE) ||
        !(body = json_body_text_or_reply(r)))
        return;
    const char *params[] = {body};
    reply_query_row(r, 201, &(struct db_query){sql_create, 1, params}, "organisation");
}

static void patch_org(struct req *r)
{
    char id[24], version[16];
    const char *body;
    if (!id_param_or_reply(r, "id", "organisation", id) || !if_match_or_reply(r, version) ||
        !validate_or_reply(r, r->json, patch_fields, NPATCH) ||
        !(body = json_body_text_or_reply(r)))
        return;
    const char *params[] = {id, version, body};
    reply_query_row(r, 200, &(struct db_query){sql_patch, 3, params}, "organisation");
}

const struct route orgs_routes[] = {
    {"GET", "/api/v1/orgs", list_orgs, PERM_ORG_READ, 0},
    {"POST", "/api/v1/orgs", create_org, PERM_ORG_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/orgs/{id}", get_org, PERM_ORG_READ, 0},
    {"PATCH", "/api/v1/orgs/{id}", patch_org, PERM_ORG_WRITE, ROUTE_JSON_BODY},
};
const size_t orgs_routes_count = sizeof orgs_routes / sizeof orgs_routes[0];
