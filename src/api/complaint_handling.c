/* Handling a complaint outside the workflow's moves: editing (PATCH),
 * deadline extensions (延期, as for tasks) and the acknowledgement of a
 * hand-over batch. The routes are in complaints.c's table.
 *
 * Who edits what (PATCH /complaints/{id}):
 * - the responsible unit (role unit, the complaint's responsible org or an
 *   ancestor of it) edits the handling results while the complaint is open
 *   (assigned, investigating, stage_resolved): verdict, result, enforcement;
 * - the office and admin edit every editable field in any state: the above,
 *   public_summary, grade, address, latitude/longitude, entity_name,
 *   entity_credit_code, pollution_types.
 * The hand-over data (number, batch, channel, received time, content,
 * county) is the import's; responsible org, deadline and status are the
 * workflow's (transitions, extensions). */
#include "complaints_internal.h"

#include "rectify/extensions.h"

#include "rectify/api.h"
#include "rectify/arena.h"
#include "rectify/ledger.h"
#include "rectify/params.h"
#include "rectify/permissions.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

#define N(a) (sizeof a / sizeof a[0])
#define OPEN_STATES "('assigned', 'investigating', 'stage_resolved')"

/* --- PATCH ------------------------------------------------------------------- */

/* $1 id, $2 If-Match version, $3 body, $4 office/admin, $5 body has
 * office-only members. Status: not_found | not_responsible | office_fields |
 * stale | not_open | coordinates | unchanged | ok; column 2 the version. */
static const char sql_patch[] =
    "WITH b AS (SELECT $3::jsonb AS j),"
    " cur AS (SELECT c.* FROM complaints c WHERE c.id = $1::bigint),"
    " nv AS (SELECT cur.id,"
    "   CASE WHEN j ? 'verdict' THEN j->>'verdict' ELSE cur.verdict END AS verdict,"
    "   CASE WHEN j ? 'result' THEN j->>'result' ELSE cur.result END AS result,"
    "   coalesce((j->'enforcement'->>'ordered_rectify')::int, cur.ordered_rectify) AS ordered_rectify,"
    "   coalesce((j->'enforcement'->>'cases_filed')::int, cur.cases_filed) AS cases_filed,"
    "   coalesce((j->'enforcement'->>'fines_yuan')::numeric, cur.fines_yuan) AS fines_yuan,"
    "   coalesce((j->'enforcement'->>'people_interviewed')::int, cur.people_interviewed)"
    "     AS people_interviewed,"
    "   coalesce((j->'enforcement'->>'people_accountable')::int, cur.people_accountable)"
    "     AS people_accountable,"
    "   CASE WHEN j ? 'public_summary' THEN j->>'public_summary' ELSE cur.public_summary END"
    "     AS public_summary,"
    "   CASE WHEN j ? 'grade' THEN j->>'grade' ELSE cur.grade END AS grade,"
    "   CASE WHEN j ? 'pollution_types'"
    "     THEN ARRAY(SELECT jsonb_array_elements_text(j->'pollution_types'))"
    "     ELSE cur.pollution_types END AS pollution_types,"
    "   CASE WHEN j ? 'address' THEN j->>'address' ELSE cur.address END AS address,"
    "   CASE WHEN j ? 'latitude' THEN round((j->>'latitude')::numeric, 6) ELSE cur.latitude END"
    "     AS latitude,"
    "   CASE WHEN j ? 'longitude' THEN round((j->>'longitude')::numeric, 6) ELSE cur.longitude END"
    "     AS longitude,"
    "   CASE WHEN j ? 'entity_name' THEN j->>'entity_name' ELSE cur.entity_name END AS entity_name,"
    "   CASE WHEN j ? 'entity_credit_code' THEN j->>'entity_credit_code'"
    "     ELSE cur.entity_credit_code END AS entity_credit_code"
    "   FROM cur, b),"
    " chk AS (SELECT CASE"
    "   WHEN NOT ($4::bool OR coalesce(rectify.in_scope(cur.owner_org_path), false))"
    "     THEN 'not_responsible'"
    "   WHEN NOT $4::bool AND $5::bool THEN 'office_fields'"
    "   WHEN cur.version <> $2::int THEN 'stale'"
    "   WHEN NOT $4::bool AND cur.status NOT IN " OPEN_STATES " THEN 'not_open'"
    "   WHEN (nv.latitude IS NULL) <> (nv.longitude IS NULL) THEN 'coordinates'"
    "   WHEN (nv.verdict, nv.result, nv.ordered_rectify, nv.cases_filed, nv.fines_yuan,"
    "         nv.people_interviewed, nv.people_accountable, nv.public_summary, nv.grade,"
    "         nv.pollution_types, nv.address, nv.latitude, nv.longitude, nv.entity_name,"
    "         nv.entity_credit_code)"
    "        IS NOT DISTINCT FROM"
    "        (cur.verdict, cur.result, cur.ordered_rectify, cur.cases_filed, cur.fines_yuan,"
    "         cur.people_interviewed, cur.people_accountable, cur.public_summary, cur.grade,"
    "         cur.pollution_types, cur.address, cur.latitude, cur.longitude, cur.entity_name,"
    "         cur.entity_credit_code)"
    "     THEN 'unchanged'"
    "   ELSE 'change' END AS s FROM cur, nv),"
    " upd AS (UPDATE complaints c SET verdict = nv.verdict, result = nv.result,"
    "     ordered_rectify = nv.ordered_rectify, cases_filed = nv.cases_filed,"
    "     fines_yuan = nv.fines_yuan, people_interviewed = nv.people_interviewed,"
    "     people_accountable = nv.people_accountable, public_summary = nv.public_summary,"
    "     grade = nv.grade, pollution_types = nv.pollution_types, address = nv.address,"
    "     latitude = nv.latitude, longitude = nv.longitude, entity_name = nv.entity_name,"
    "     entity_credit_code = nv.entity_credit_code"
    "   FROM nv, chk WHERE c.id = nv.id AND chk.s = 'change' AND c.version = $2::int"
    "   RETURNING c.id, c.version)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found'"
    "             WHEN chk.s = 'change' AND upd.id IS NULL THEN 'stale'"
    "             WHEN chk.s = 'change' THEN 'ok' ELSE chk.s END,"
    "        coalesce(upd.version, cur.version), cur.status"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN upd ON true";

static const char *const verdicts[] = {"true", "partly_true", "false", NULL};
static const char *const grades[] = {"general", "key", NULL};
static const char *const ptypes[] = {"air", "water", "soil", "noise", "solid_waste", "ecology",
                                     "radiation", "other", NULL};

/* 统一社会信用代码: 18 characters, the pattern of 0030's CHECK. */
static bool credit_code_ok(const char *s)
{
    static const char set[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    if (strlen(s) != 18)
        return false;
    for (int i = 0; i < 18; i++) {
        bool digit = s[i] >= '0' && s[i] <= '9';
        if (i >= 2 && i < 8 ? !digit : !strchr(set, s[i]))
            return false;
    }
    return true;
}

/* Handling results: the responsible unit's. Everything else is office-only. */
static const struct vfield patch_fields[] = {
    {"verdict", V_STRING, false, true, 1, 20, verdicts, NULL, NULL},
    {"result", V_STRING, false, true, 1, 20000, NULL, ledger_not_blank, "must not be blank"},
    {"public_summary", V_STRING, false, true, 1, 5000, NULL, ledger_not_blank, "must not be blank"},
    {"grade", V_STRING, false, false, 1, 20, grades, NULL, NULL},
    {"pollution_types", V_STRING_ARRAY, false, false, 1, 8, ptypes, NULL, NULL},
    {"address", V_STRING, false, true, 1, 500, NULL, ledger_not_blank, "must not be blank"},
    {"entity_name", V_STRING, false, true, 1, 200, NULL, ledger_not_blank, "must not be blank"},
    {"entity_credit_code", V_STRING, false, true, 18, 18, NULL, credit_code_ok,
     "must be an 18-character unified social credit code"},
};
static const char *const unit_members[] = {"verdict", "result", "enforcement", NULL};

static const struct vfield enforcement_fields[] = {
    {"ordered_rectify", V_INT, false, false, 0, 100000, NULL, NULL, NULL},
    {"cases_filed", V_INT, false, false, 0, 100000, NULL, NULL, NULL},
    {"fines_yuan", V_INT, false, false, 0, 1000000000000LL, NULL, NULL, NULL},
    {"people_interviewed", V_INT, false, false, 0, 100000, NULL, NULL, NULL},
    {"people_accountable", V_INT, false, false, 0, 100000, NULL, NULL, NULL},
};

static void delete_json(void *p) { cJSON_Delete(p); }

static bool is_office(const struct req *r)
{
    return (r->who.roles & (ROLE_ADMIN | ROLE_OFFICE)) != 0;
}

/* latitude/longitude: a number in range, or null. */
static void check_coordinate(struct req *r, const cJSON *v, const char *pointer, double lim,
                             struct field_error *errs, size_t *n)
{
    if (!v || cJSON_IsNull(v))
        return;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < -lim ||
        v->valuedouble > lim)
        errs[(*n)++] = (struct field_error){
            .pointer = pointer,
            .message = arena_printf(r->arena, "must be a number from %.0f to %.0f", -lim, lim),
            .code = "out_of_range"};
}

void complaint_patch(struct req *r)
{
    char id[24], version[16];
    if (!id_param_or_reply(r, "id", "complaint", id) || !if_match_or_reply(r, version))
        return;
    /* nested and numeric members are checked on their own, then put back */
    cJSON *enf = cJSON_DetachItemFromObjectCaseSensitive(r->json, "enforcement");
    cJSON *lat = cJSON_DetachItemFromObjectCaseSensitive(r->json, "latitude");
    cJSON *lon = cJSON_DetachItemFromObjectCaseSensitive(r->json, "longitude");
    cJSON *detached[] = {enf, lat, lon};
    for (size_t i = 0; i < N(detached); i++) {
        if (arena_defer(r->arena, delete_json, detached[i])) { /* detached[i] is deleted */
            for (size_t j = i + 1; j < N(detached); j++)
                cJSON_Delete(detached[j]);
            reply_problem(r, 503, "service_unavailable", "Out of memory.");
            return;
        }
    }
    if (!validate_or_reply(r, r->json, patch_fields, N(patch_fields)))
        return;
    struct field_error errs[3 + VALIDATE_MAX_ERRORS];
    size_t ne = 0;
    check_coordinate(r, lat, "/latitude", 90, errs, &ne);
    check_coordinate(r, lon, "/longitude", 180, errs, &ne);
    if (enf && !cJSON_IsObject(enf)) {
        errs[ne++] = (struct field_error){.pointer = "/enforcement", .message = "must be an object", .code = "wrong_type"};
    } else if (enf) {
        /* the figures' pointers are below /enforcement */
        size_t k = validate_object(r->arena, enf, enforcement_fields, N(enforcement_fields),
                                   errs + ne, VALIDATE_MAX_ERRORS);
        for (size_t i = ne; i < ne + k; i++)
            if (errs[i].pointer)
                errs[i].pointer = arena_printf(r->arena, "/enforcement%s", errs[i].pointer);
        ne += k;
    }
    if (ne) {
        reply_problem_errors(r, 422, "validation_failed", "The request body is invalid.", errs, ne);
        return;
    }
    bool office_fields = lat || lon;
    for (const cJSON *m = r->json->child; m; m = m->next) {
        bool unit_ok = false;
        for (size_t i = 0; unit_members[i]; i++)
            unit_ok |= strcmp(m->string, unit_members[i]) == 0;
        office_fields |= !unit_ok;
    }
    const char *names[] = {"enforcement", "latitude", "longitude"};
    for (size_t i = 0; i < N(detached); i++)
        if (detached[i]) {
            cJSON *copy = cJSON_Duplicate(detached[i], 1);
            if (!copy || !cJSON_AddItemToObjectCS(r->json, names[i], copy)) {
                cJSON_Delete(copy);
                reply_problem(r, 500, "internal_error", "Out of memory.");
                return;
            }
        }
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *p[] = {id, version, body, is_office(r) ? "true" : "false",
                       office_fields ? "true" : "false"};
    const char *pg[] = {id, "true"};
    struct db_query q[] = {{sql_patch, 5, p}, {complaint_sql_get, 2, pg}};
    PGresult *res[2];
    if (!db_run_or_reply(r, q, 2, res))
        return;
    const char *s = PQgetvalue(res[0], 0, 0);
    if (strcmp(s, "not_found") == 0)
        reply_no_such(r, "complaint");
    else if (strcmp(s, "not_responsible") == 0)
        reply_problem(r, 403, "forbidden",
                      "Only the responsible organisation (or the office) edits a complaint.");
    else if (strcmp(s, "office_fields") == 0)
        reply_problem(r, 403, "forbidden",
                      "The responsible unit edits verdict, result and enforcement only; the "
                      "other fields are the office's.");
    else if (strcmp(s, "stale") == 0)
        reply_precondition_failed(r, PQgetvalue(res[0], 0, 1));
    else if (strcmp(s, "not_open") == 0)
        reply_problem(r, 409, "not_editable",
                      "A complaint in state %s is no longer edited by the responsible unit.",
                      PQgetvalue(res[0], 0, 2));
    else if (strcmp(s, "coordinates") == 0)
        reply_field_error(r, 422, "validation_failed",
                          "Latitude and longitude are given together or not at all.",
                          lat ? "/longitude" : "/latitude",
                          "is required with the other coordinate");
    else if (PQntuples(res[1]) != 1)
        reply_no_such(r, "complaint");
    else {
        reply_etag(r, PQgetvalue(res[1], 0, 0));
        reply_json(r, 200, PQgetvalue(res[1], 0, 1), (size_t)PQgetlength(res[1], 0, 1));
    }
}

/* --- deadline extensions ------------------------------------------------------- */

#define EXT_JSON(e) EXTENSION_JSON(e, "complaint_id")

/* $1 complaint id. NULL (→ 404) when the complaint is not visible. */
static const char sql_ext_list[] =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM complaints c WHERE c.id = $1::bigint) THEN"
    " json_build_object('items', coalesce((SELECT json_agg(" EXT_JSON("e") " ORDER BY e.id)"
    "   FROM complaint_extensions e WHERE e.complaint_id = $1::bigint), '[]'))::text END";

/* $1 complaint id, $2 body {new_deadline, reason}, $3 office/admin.
 * Status: ok | not_found | not_responsible | not_open | not_later | pending_request. */
static const char sql_ext_request[] =
    "WITH b AS (SELECT $2::jsonb AS j),"
    " cur AS (SELECT c.* FROM complaints c WHERE c.id = $1::bigint),"
    " chk AS (SELECT CASE"
    "   WHEN NOT ($3::bool OR coalesce(rectify.in_scope(cur.owner_org_path), false))"
    "     THEN 'not_responsible'"
    "   WHEN cur.status NOT IN " OPEN_STATES " OR cur.deadline IS NULL THEN 'not_open'"
    "   WHEN (j->>'new_deadline')::date <= cur.deadline THEN 'not_later'"
    "   WHEN EXISTS (SELECT 1 FROM complaint_extensions e WHERE e.complaint_id = cur.id"
    "                AND e.status = 'requested') THEN 'pending_request'"
    "   ELSE 'ok' END AS s FROM cur, b),"
    " ins AS (INSERT INTO complaint_extensions (complaint_id, previous_deadline, new_deadline,"
    "     reason)"
    "   SELECT cur.id, cur.deadline, (j->>'new_deadline')::date, j->>'reason'"
    "     FROM cur, b, chk WHERE chk.s = 'ok'"
    "   ON CONFLICT (complaint_id) WHERE status = 'requested' DO NOTHING RETURNING *)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found' WHEN chk.s <> 'ok' THEN chk.s"
    "             WHEN e.id IS NULL THEN 'pending_request' ELSE 'ok' END,"
    "        cur.deadline, e.id, e.version,"
    "        CASE WHEN e.id IS NOT NULL THEN " EXT_JSON("e") "::text END, cur.status"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN ins e ON true";

/* $1 complaint id, $2 extension id, $3 'approved' | 'rejected', $4 comment.
 * Status: ok | not_found | decided (column 2: the decision already made) |
 * not_open (approving for a complaint that is no longer open). An approval
 * replaces the complaint's deadline and records an 'extend' event. */
static const char sql_ext_decide[] =
    "WITH cur AS (SELECT e.*, c.status AS complaint_status FROM complaint_extensions e"
    "             JOIN complaints c ON c.id = e.complaint_id"
    "             WHERE e.id = $2::bigint AND e.complaint_id = $1::bigint),"
    " chk AS (SELECT CASE WHEN cur.status <> 'requested' THEN 'decided'"
    "   WHEN $3::text = 'approved' AND cur.complaint_status NOT IN " OPEN_STATES " THEN 'not_open'"
    "   ELSE 'ok' END AS s FROM cur),"
    " upd AS (UPDATE complaint_extensions e SET status = $3::text, decided_by = rectify.user_id(),"
    "     decided_at = now(), decision_comment = $4::text"
    "   FROM cur, chk WHERE e.id = cur.id AND chk.s = 'ok' AND e.status = 'requested'"
    "   RETURNING e.*),"
    " cu AS (UPDATE complaints c SET deadline = upd.new_deadline FROM upd"
    "   WHERE c.id = upd.complaint_id AND upd.status = 'approved'"
    "   RETURNING c.id, c.status, c.responsible_org_id, c.deadline),"
    " ev AS (INSERT INTO complaint_events (complaint_id, action, from_status, to_status,"
    "     responsible_org_id, deadline, reason, comment)"
    "   SELECT cu.id, 'extend', cu.status, cu.status, cu.responsible_org_id, cu.deadline,"
    "     upd.reason, $4::text FROM cu, upd RETURNING id)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found' WHEN chk.s <> 'ok' THEN chk.s"
    "             WHEN upd.id IS NULL THEN 'decided' ELSE 'ok' END, cur.status, upd.version,"
    "        CASE WHEN upd.id IS NOT NULL THEN " EXT_JSON("upd") "::text END,"
    "        cur.complaint_status, (SELECT count(*) FROM ev)"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN upd ON true";

void complaint_extensions_list(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "complaint", id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_ext_list, 1, params};
    reply_db_json(r, 200, &q);
}

void complaint_extension_request(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "complaint", id) ||
        !validate_or_reply(r, r->json, extension_request_fields, extension_request_field_count))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, body, is_office(r) ? "true" : "false"};
    struct db_query q = {sql_ext_request, 3, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res) ||
        extension_reply_common(r, res, "complaint", "complaint"))
        return;
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "not_responsible") == 0)
        reply_problem(r, 403, "forbidden",
                      "Only the responsible organisation (or the office) asks for an extension.");
    else if (strcmp(s, "not_open") == 0)
        reply_problem(r, 409, "not_extendable",
                      "Only an assigned, investigating or stage-resolved complaint can have its "
                      "deadline extended (the complaint is %s).",
                      PQgetvalue(res, 0, 5));
    else
        ledger_reply_row(r, 201, res, 4, 3);
}

void complaint_extension_decide(struct req *r)
{
    char id[24], ext[24];
    if (!id_param_or_reply(r, "id", "complaint", id) ||
        !id_param_or_reply(r, "ext_id", "extension request", ext) ||
        !validate_or_reply(r, r->json, extension_decision_fields, extension_decision_field_count))
        return;
    const char *params[] = {id, ext, extension_decision(r),
                            ledger_json_string(r->json, "comment")};
    struct db_query q = {sql_ext_decide, 4, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res) ||
        extension_reply_common(r, res, "extension request", "complaint"))
        return;
    if (strcmp(PQgetvalue(res, 0, 0), "not_open") == 0)
        reply_problem(r, 409, "not_extendable",
                      "The complaint is %s: an extension can no longer be approved (reject it).",
                      PQgetvalue(res, 0, 4));
    else
        ledger_reply_row(r, 200, res, 3, 2);
}

/* --- batch acknowledgement ------------------------------------------------------- */

#define BATCH_JSON(b)                                                                       \
    "json_build_object('id', " b ".id, 'campaign_id', " b ".campaign_id, 'batch_no', "      \
    b ".batch_no, 'handed_over_on', " b ".handed_over_on, 'expected_count', "               \
    b ".expected_count, 'complaint_count', (SELECT count(*) FROM complaints c"             \
    " WHERE c.batch_id = " b ".id), 'note', " b ".note, 'acknowledged_at', "                \
    b ".acknowledged_at, 'acknowledged_by', " b ".acknowledged_by, 'version', " b ".version," \
    " 'created_at', " b ".created_at)"

/* $1 batch id. Status: ok | not_found | acknowledged (column 2: when). */
static const char sql_ack[] =
    "WITH cur AS (SELECT * FROM complaint_batches WHERE id = $1::bigint),"
    " upd AS (UPDATE complaint_batches b SET acknowledged_at = now(),"
    "     acknowledged_by = rectify.user_id()"
    "   FROM cur WHERE b.id = cur.id AND b.acknowledged_at IS NULL RETURNING b.*)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found' WHEN upd.id IS NULL THEN 'acknowledged'"
    "             ELSE 'ok' END, cur.acknowledged_at, upd.version,"
    "        CASE WHEN upd.id IS NOT NULL THEN " BATCH_JSON("upd") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN upd ON true";

void complaint_batch_acknowledge(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "batch", id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_ack, 1, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "not_found") == 0)
        reply_no_such(r, "batch");
    else if (strcmp(s, "acknowledged") == 0)
        reply_problem(r, 409, "already_acknowledged", "The batch was acknowledged at %s.",
                      PQgetvalue(res, 0, 1));
    else
        ledger_reply_row(r, 200, res, 3, 2);
}
