/* Campaigns (督察轮次): one inspection round of one province. Read by every
 * ledger reader, written by the office and admin. The exemplar of the outcome
 * protocol (docs/developing.md): PostgreSQL builds every answer
 * (rectify.campaign_json), writes are functions of 0040_handler_protocol.sql
 * that raise every outcome but success, and the handlers stay flat. */
#include "rectify/api.h"

#include "rectify/ledger.h"
#include "rectify/params.h"
#include "rectify/permissions.h"

static const char sql_get[] =
    "SELECT c.version, rectify.campaign_json(c) AS json FROM campaigns c WHERE c.id = $1::bigint";

/* $1 province org, $2 ILIKE pattern, $3 after id, $4 limit; newest first. */
static const char sql_list[] =
    "WITH page AS (SELECT c, c.id, row_number() OVER (ORDER BY c.id DESC) AS n"
    "   FROM campaigns c"
    "  WHERE ($1::bigint IS NULL OR c.province_org_id = $1::bigint)"
    "    AND ($2::text IS NULL OR c.name ILIKE $2::text OR c.description ILIKE $2::text)"
    "    AND ($3::bigint IS NULL OR c.id < $3::bigint)"
    "  ORDER BY c.id DESC LIMIT $4::int + 1)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(rectify.campaign_json(p.c) ORDER BY p.n) FROM page p"
    "                     WHERE p.n <= $4::int), '[]'),"
    "  'next_cursor', (SELECT " LEDGER_CURSOR("id", "NULL::text", "p.id") " FROM page p"
    "                  WHERE p.n = $4::int AND EXISTS (SELECT 1 FROM page q WHERE q.n > $4::int)))::text";

static const char sql_create[] = "SELECT * FROM rectify.campaign_create($1::jsonb)";
static const char sql_patch[] =
    "SELECT * FROM rectify.campaign_patch($1::bigint, $2::int, $3::jsonb)";

#define DATE_FIELD(name) \
    {name, V_STRING, false, true, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"}

static const struct vfield create_fields[] = {
    {"name", V_STRING, true, false, 1, 200, NULL, ledger_not_blank, "must not be blank"},
    {"round", V_INT, true, false, 1, 100, NULL, NULL, NULL},
    {"province_org_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    {"team_org_id", V_INT, false, true, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    DATE_FIELD("stay_start"),
    DATE_FIELD("stay_end"),
    DATE_FIELD("feedback_date"),
    DATE_FIELD("plan_published_date"),
    {"description", V_STRING, false, true, 0, 5000, NULL, NULL, NULL},
};
#define NCREATE (sizeof create_fields / sizeof create_fields[0])

static const struct vfield patch_fields[] = {
    {"name", V_STRING, false, false, 1, 200, NULL, ledger_not_blank, "must not be blank"},
    {"round", V_INT, false, false, 1, 100, NULL, NULL, NULL},
    {"province_org_id", V_INT, false, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    {"team_org_id", V_INT, false, true, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    DATE_FIELD("stay_start"),
    DATE_FIELD("stay_end"),
    DATE_FIELD("feedback_date"),
    DATE_FIELD("plan_published_date"),
    {"description", V_STRING, false, true, 0, 5000, NULL, NULL, NULL},
};
#define NPATCH (sizeof patch_fields / sizeof patch_fields[0])

static void list_campaigns(struct req *r)
{
    struct lerrs l = {.arena = r->arena};
    const char *province = lq_id(r, &l, "province_org");
    const char *q = lq_like(r, &l, "q");
    char limit[8];
    const char *key, *after;
    lq_page(r, &l, "id", LKEY_ID, limit, &key, &after);
    if (!lq_ok_or_reply(r, &l))
        return;
    const char *params[] = {province, q, after, limit};
    struct db_query query = {sql_list, 4, params};
    reply_db_json(r, 200, &query);
}

static void get_campaign(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "campaign", id))
        return;
    const char *params[] = {id};
    reply_query_row(r, 200, &(struct db_query){sql_get, 1, params}, "campaign");
}

static void create_campaign(struct req *r)
{
    const char *body;
    if (!ledger_body_or_reply(r, create_fields, NCREATE, NULL, 0) ||
        !(body = json_body_text_or_reply(r)))
        return;
    const char *params[] = {body};
    reply_query_row(r, 201, &(struct db_query){sql_create, 1, params}, "campaign");
}

static void patch_campaign(struct req *r)
{
    char id[24], version[16];
    const char *body;
    if (!id_param_or_reply(r, "id", "campaign", id) || !if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, patch_fields, NPATCH, NULL, 0) ||
        !(body = json_body_text_or_reply(r)))
        return;
    const char *params[] = {id, version, body};
    reply_query_row(r, 200, &(struct db_query){sql_patch, 3, params}, "campaign");
}

const struct route campaigns_routes[] = {
    {"GET", "/api/v1/campaigns", list_campaigns, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/campaigns", create_campaign, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/campaigns/{id}", get_campaign, PERM_LEDGER_READ, 0},
    {"PATCH", "/api/v1/campaigns/{id}", patch_campaign, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
};
const size_t campaigns_routes_count = sizeof campaigns_routes / sizeof campaigns_routes[0];
