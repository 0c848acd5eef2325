/* Deadline extensions (延期): a unit of the lead org (or the office) asks for
 * a later deadline with a reason; the office approves or rejects. An
 * approved extension sets the task's extended_deadline, which becomes its
 * effective deadline (overdue and warnings follow it); the planned deadline
 * and every request stay on record. One open request per task. */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/extensions.h"
#include "rectify/ledger.h"
#include "rectify/permissions.h"

#include <cJSON.h>
#include <string.h>

#define EXT_JSON(e) EXTENSION_JSON(e, "task_id")

/* $1 task id. NULL (→ 404) when the task is not visible. */
static const char sql_list[] =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM tasks t WHERE t.id = $1::bigint) THEN"
    " json_build_object('items', coalesce((SELECT json_agg(" EXT_JSON("e") " ORDER BY e.id)"
    "   FROM task_extensions e WHERE e.task_id = $1::bigint), '[]'))::text END";

/* $1 task id, $2 body {new_deadline, reason}.
 * Status: ok | not_found | not_lead | no_deadline | not_open | not_later | pending_request. */
static const char sql_request[] =
    "WITH b AS (SELECT $2::jsonb AS j),"
    " cur AS (SELECT t.* FROM tasks t WHERE t.id = $1::bigint),"
    " chk AS (SELECT CASE"
    "   WHEN NOT (rectify.sees_province() OR rectify.in_scope(cur.owner_org_path)) THEN 'not_lead'"
    "   WHEN cur.deadline_kind <> 'date' THEN 'no_deadline'"
    "   WHEN cur.status NOT IN ('pending', 'in_progress') THEN 'not_open'"
    "   WHEN (j->>'new_deadline')::date <= cur.effective_deadline THEN 'not_later'"
    "   WHEN EXISTS (SELECT 1 FROM task_extensions e WHERE e.task_id = cur.id"
    "                AND e.status = 'requested') THEN 'pending_request'"
    "   ELSE 'ok' END AS s FROM cur, b),"
    " ins AS (INSERT INTO task_extensions (task_id, previous_deadline, new_deadline, reason)"
    "   SELECT cur.id, cur.effective_deadline, (j->>'new_deadline')::date, j->>'reason'"
    "     FROM cur, b, chk WHERE chk.s = 'ok'"
    "   ON CONFLICT (task_id) WHERE status = 'requested' DO NOTHING RETURNING *)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found' WHEN chk.s <> 'ok' THEN chk.s"
    "             WHEN e.id IS NULL THEN 'pending_request' ELSE 'ok' END,"
    "        cur.effective_deadline, e.id, e.version,"
    "        CASE WHEN e.id IS NOT NULL THEN " EXT_JSON("e") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN ins e ON true";

/* $1 task id, $2 extension id, $3 'approved' | 'rejected', $4 comment.
 * Status: ok | not_found | decided (column 2: the decision already made). */
static const char sql_decide[] =
    "WITH cur AS (SELECT e.* FROM task_extensions e JOIN tasks t ON t.id = e.task_id"
    "             WHERE e.id = $2::bigint AND e.task_id = $1::bigint),"
    " upd AS (UPDATE task_extensions e SET status = $3::text, decided_by = rectify.user_id(),"
    "     decided_at = now(), decision_comment = $4::text"
    "   FROM cur WHERE e.id = cur.id AND e.status = 'requested' RETURNING e.*),"
    " tk AS (UPDATE tasks t SET extended_deadline = upd.new_deadline FROM upd"
    "   WHERE t.id = upd.task_id AND upd.status = 'approved' AND t.deadline_kind = 'date'"
    "   RETURNING t.id)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found' WHEN upd.id IS NULL THEN 'decided'"
    "             ELSE 'ok' END, cur.status, upd.version,"
    "        CASE WHEN upd.id IS NOT NULL THEN " EXT_JSON("upd") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN upd ON true";

static bool task_id_or_reply(struct req *r, char id[24])
{
    if (id_parse(req_param(r, "id"), id))
        return true;
    reply_problem(r, 404, "not_found", "No such task.");
    return false;
}

static void list_extensions(struct req *r)
{
    char id[24];
    if (!task_id_or_reply(r, id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_list, 1, params};
    reply_db_json(r, 200, &q);
}

static void request_extension(struct req *r)
{
    char id[24];
    if (!task_id_or_reply(r, id) ||
        !ledger_body_or_reply(r, extension_request_fields, extension_request_field_count, NULL,
                              0))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, body};
    struct db_query q = {sql_request, 2, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res) || extension_reply_common(r, res, "task", "task"))
        return;
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "not_lead") == 0)
        reply_problem(r, 403, "forbidden",
                      "Only the lead organisation (or the office) asks for an extension.");
    else if (strcmp(s, "no_deadline") == 0)
        reply_problem(r, 409, "not_extendable",
                      "The task has no dated deadline (immediate_then_ongoing or ongoing).");
    else if (strcmp(s, "not_open") == 0)
        reply_problem(r, 409, "not_extendable",
                      "Only pending or in-progress tasks can have their deadline extended.");
    else
        ledger_reply_row(r, 201, res, 4, 3);
}

static void decide_extension(struct req *r)
{
    char id[24], ext[24];
    if (!task_id_or_reply(r, id))
        return;
    if (!id_parse(req_param(r, "ext_id"), ext)) {
        reply_no_such(r, "extension request");
        return;
    }
    if (!ledger_body_or_reply(r, extension_decision_fields, extension_decision_field_count,
                              NULL, 0))
        return;
    const char *params[] = {id, ext, extension_decision(r),
                            ledger_json_string(r->json, "comment")};
    struct db_query q = {sql_decide, 4, params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res) ||
        extension_reply_common(r, res, "extension request", "task"))
        return;
    ledger_reply_row(r, 200, res, 3, 2);
}

const struct route task_extensions_routes[] = {
    {"GET", "/api/v1/tasks/{id}/extensions", list_extensions, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/tasks/{id}/extensions", request_extension, PERM_TASK_REPORT,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/tasks/{id}/extensions/{ext_id}/decision", decide_extension,
     PERM_EXTENSION_APPROVE, ROUTE_JSON_BODY},
};
const size_t task_extensions_routes_count =
    sizeof task_extensions_routes / sizeof task_extensions_routes[0];
