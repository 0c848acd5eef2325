/* Campaigns (督察轮次): one inspection round of one province. Read by every
 * ledger reader, written by the office and admin. Answers are built by
 * PostgreSQL; writes return a status column telling 404 / 412 / 409 / 422
 * apart in the same statement (pattern of src/api/orgs.c). */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/ledger.h"
#include "rectify/permissions.h"

#include <cJSON.h>
#include <string.h>

#define CAMPAIGN_JSON(c)                                                                  \
    "json_build_object('id', " c ".id, 'name', " c ".name, 'round', " c ".round,"         \
    " 'province_org_id', " c ".province_org_id, 'team_org_id', " c ".team_org_id,"        \
    " 'stay_start', " c ".stay_start, 'stay_end', " c ".stay_end,"                        \
    " 'feedback_date', " c ".feedback_date, 'plan_published_date', " c ".plan_published_date," \
    " 'description', " c ".description, 'version', " c ".version,"                        \
    " 'created_at', " c ".created_at, 'updated_at', " c ".updated_at)"


static const char sql_get[] =
    "SELECT c.version, " CAMPAIGN_JSON("c") "::text FROM campaigns c WHERE c.id = $1::bigint";

/* $1 province org, $2 ILIKE pattern, $3 after id, $4 limit; newest first. */
static const char sql_list[] =
    "WITH page AS (SELECT c.*, row_number() OVER (ORDER BY c.id DESC) AS n FROM ("
    "  SELECT * FROM campaigns c"
    "   WHERE ($1::bigint IS NULL OR c.province_org_id = $1::bigint)"
    "     AND ($2::text IS NULL OR c.name ILIKE $2::text OR c.description ILIKE $2::text)"
    "     AND ($3::bigint IS NULL OR c.id < $3::bigint)"
    "   ORDER BY c.id DESC LIMIT $4::int + 1) c)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(" CAMPAIGN_JSON("p") " ORDER BY p.n) FROM page p"
    "                     WHERE p.n <= $4::int), '[]'),"
    "  'next_cursor', (SELECT " LEDGER_CURSOR("id", "NULL::text", "p.id") " FROM page p"
    "                  WHERE p.n = $4::int AND EXISTS (SELECT 1 FROM page q WHERE q.n > $4::int)))::text";

/* $1 body. Status: ok | bad_ref (column 2 names the field) | duplicate. */
static const char sql_create[] =
    "WITH b AS (SELECT $1::jsonb AS j),"
    " bad AS (SELECT CASE"
    "   WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = (j->>'province_org_id')::bigint)"
    "     THEN 'province_org_id'"
    "   WHEN j->>'team_org_id' IS NOT NULL AND NOT EXISTS"
    "     (SELECT 1 FROM orgs o WHERE o.id = (j->>'team_org_id')::bigint) THEN 'team_org_id'"
    "   END AS f FROM b),"
    " ins AS (INSERT INTO campaigns (name, round, province_org_id, team_org_id, stay_start, stay_end,"
    "                                feedback_date, plan_published_date, description)"
    "   SELECT j->>'name', (j->>'round')::int, (j->>'province_org_id')::bigint,"
    "          (j->>'team_org_id')::bigint, (j->>'stay_start')::date, (j->>'stay_end')::date,"
    "          (j->>'feedback_date')::date, (j->>'plan_published_date')::date, j->>'description'"
    "     FROM b, bad WHERE bad.f IS NULL"
    "   ON CONFLICT ON CONSTRAINT campaigns_round_key DO NOTHING RETURNING *)"
    " SELECT CASE WHEN bad.f IS NOT NULL THEN 'bad_ref' WHEN c.id IS NULL THEN 'duplicate'"
    "             ELSE 'ok' END, bad.f, c.id, c.version,"
    "        CASE WHEN c.id IS NOT NULL THEN " CAMPAIGN_JSON("c") "::text END"
    "   FROM bad LEFT JOIN ins c ON true";

#define CAMPAIGN_COLS(x) x ".name, " x ".round, " x ".province_org_id, " x ".team_org_id, " \
    x ".stay_start, " x ".stay_end, " x ".feedback_date, " x ".plan_published_date, " x ".description"
#define PICK(col, cast) \
    " CASE WHEN j ? '" col "' THEN (j->>'" col "')" cast " ELSE cur." col " END AS " col ","

/* $1 id, $2 If-Match version, $3 body (merge). Status: ok | unchanged |
 * not_found | stale | bad_ref (+field) | bad_stay | duplicate. */
static const char sql_patch[] =
    "WITH b AS (SELECT $3::jsonb AS j),"
    " cur AS (SELECT c.* FROM campaigns c WHERE c.id = $1::bigint),"
    " nv AS (SELECT" PICK("name", "") PICK("round", "::int") PICK("province_org_id", "::bigint")
    PICK("team_org_id", "::bigint") PICK("stay_start", "::date") PICK("stay_end", "::date")
    PICK("feedback_date", "::date") PICK("plan_published_date", "::date")
    PICK("description", "") " cur.id FROM cur, b),"
    " chk AS (SELECT CASE"
    "   WHEN cur.version <> $2::int THEN 'stale'"
    "   WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = nv.province_org_id) THEN 'bad_ref'"
    "   WHEN nv.team_org_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orgs o"
    "        WHERE o.id = nv.team_org_id) THEN 'bad_ref'"
    "   WHEN nv.stay_end < nv.stay_start THEN 'bad_stay'"
    "   WHEN (" CAMPAIGN_COLS("nv") ") IS NOT DISTINCT FROM (" CAMPAIGN_COLS("cur") ")"
    "     THEN 'unchanged'"
    "   WHEN EXISTS (SELECT 1 FROM campaigns o WHERE o.province_org_id = nv.province_org_id"
    "        AND o.round = nv.round AND o.id <> nv.id) THEN 'duplicate'"
    "   ELSE 'change' END AS s,"
    "   CASE WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = nv.province_org_id)"
    "        THEN 'province_org_id' ELSE 'team_org_id' END AS f"
    "   FROM cur, nv),"
    " upd AS (UPDATE campaigns c SET name = nv.name, round = nv.round,"
    "     province_org_id = nv.province_org_id, team_org_id = nv.team_org_id,"
    "     stay_start = nv.stay_start, stay_end = nv.stay_end, feedback_date = nv.feedback_date,"
    "     plan_published_date = nv.plan_published_date, description = nv.description"
    "   FROM nv, chk WHERE c.id = nv.id AND chk.s = 'change' AND c.version = $2::int"
    "   RETURNING c.*)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found'"
    "             WHEN chk.s = 'change' AND upd.id IS NULL THEN 'stale'"
    "             WHEN chk.s = 'change' THEN 'ok' ELSE chk.s END, chk.f,"
    "        coalesce(upd.version, cur.version),"
    "        CASE WHEN upd.id IS NOT NULL THEN " CAMPAIGN_JSON("upd") "::text"
    "             WHEN chk.s = 'unchanged' THEN " CAMPAIGN_JSON("cur") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN upd ON true";

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

static void reply_not_found(struct req *r)
{
    reply_problem(r, 404, "not_found", "No such campaign.");
}

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
    if (!id_parse(req_param(r, "id"), id)) {
        reply_not_found(r);
        return;
    }
    const char *params[] = {id};
    struct db_query q = {sql_get, 1, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    if (PQntuples(res) != 1) {
        reply_not_found(r);
        return;
    }
    ledger_reply_row(r, 200, res, 1, 0);
}

static void reply_bad_ref(struct req *r, const char *field)
{
    reply_field_error(r, 422, "validation_failed", "A referenced organisation does not exist.",
                       arena_printf(r->arena, "/%s", field), "does not exist");
}

static void reply_duplicate(struct req *r)
{
    reply_field_error(r, 409, "conflict",
                       "The province already has a campaign with this round number.", "/round",
                       "already exists for this province");
}

static void create_campaign(struct req *r)
{
    if (!ledger_body_or_reply(r, create_fields, NCREATE, NULL, 0))
        return;
    const char *start = ledger_json_string(r->json, "stay_start");
    const char *end = ledger_json_string(r->json, "stay_end");
    if (start && end && strcmp(end, start) < 0) {
        reply_field_error(r, 422, "validation_failed", "The stay ends before it starts.",
                           "/stay_end", "must not be before stay_start");
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
    if (strcmp(status, "bad_ref") == 0) {
        reply_bad_ref(r, PQgetvalue(res, 0, 1));
    } else if (strcmp(status, "duplicate") == 0) {
        reply_duplicate(r);
    } else {
        reply_header(r, "Location",
                     arena_printf(r->arena, "/api/v1/campaigns/%s", PQgetvalue(res, 0, 2)));
        ledger_reply_row(r, 201, res, 4, 3);
    }
}

static void patch_campaign(struct req *r)
{
    char id[24], version[16];
    if (!id_parse(req_param(r, "id"), id)) {
        reply_not_found(r);
        return;
    }
    if (!if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, patch_fields, NPATCH, NULL, 0))
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
    if (strcmp(status, "not_found") == 0)
        reply_not_found(r);
    else if (strcmp(status, "stale") == 0)
        reply_precondition_failed(r, PQgetvalue(res, 0, 2));
    else if (strcmp(status, "bad_ref") == 0)
        reply_bad_ref(r, PQgetvalue(res, 0, 1));
    else if (strcmp(status, "bad_stay") == 0)
        reply_field_error(r, 422, "validation_failed", "The stay ends before it starts.",
                           "/stay_end", "must not be before stay_start");
    else if (strcmp(status, "duplicate") == 0)
        reply_duplicate(r);
    else
        ledger_reply_row(r, 200, res, 3, 2);
}

const struct route campaigns_routes[] = {
    {"GET", "/api/v1/campaigns", list_campaigns, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/campaigns", create_campaign, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/campaigns/{id}", get_campaign, PERM_LEDGER_READ, 0},
    {"PATCH", "/api/v1/campaigns/{id}", patch_campaign, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
};
const size_t campaigns_routes_count = sizeof campaigns_routes / sizeof campaigns_routes[0];
