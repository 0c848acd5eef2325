/* Progress reports (进展报送) on a task by its lead org (subtree), one of its
 * co-operating orgs, or the office: period, narrative, percent, the measures
 * done (1-based positions in the task's measures) and evidence attachments.
 * The task's percent and last_reported_at follow the newest report. Reports
 * are append-only.
 *
 * One transaction, three statements: the report (with every check), the
 * attachment links (a later statement, because the link policy must see the
 * new report), and the answer. A refused report writes nothing.
 *
 * The later statements find the new report by its id, which the first one
 * takes from its INSERT's RETURNING and leaves in the transaction-local
 * setting rectify.report_id (THIS_REPORT). Nothing else names the row:
 * task, author and created_at = now() do not (two transactions can share
 * now(); the other one's report was linked and the answer had two rows).
 *
 * A report naming a dispatch round (round_id) answers the task's item of
 * that round; a trigger of 0046_dispatch.sql checks the round (open, has
 * an item for the task) and raises the 409/422 itself. */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/ledger.h"
#include "rectify/permissions.h"

#include <cJSON.h>
#include <string.h>

#define REPORT_JSON(r)                                                                      \
    "json_build_object('id', " r ".id, 'task_id', " r ".task_id, 'period', " r ".period,"   \
    " 'narrative', " r ".narrative, 'percent', " r ".percent,"                              \
    " 'measures_done', " r ".measures_done,"                                                \
    " 'attachment_ids', (SELECT coalesce(json_agg(a.attachment_id ORDER BY a.position), '[]')" \
    "   FROM report_attachments a WHERE a.report_id = " r ".id),"                            \
    " 'round_id', " r ".round_id, 'user_id', " r ".user_id, 'org', " LEDGER_ORG_REF(r ".org_id") ","                     \
    " 'created_at', " r ".created_at)"

#define ARRAY_OF(expr, type)                                                               \
    "ARRAY(SELECT e.x" type " FROM jsonb_array_elements_text(" expr ") WITH ORDINALITY"     \
    " AS e(x, n) ORDER BY e.n)"

/* $1 task id, $2 body. Status: ok | not_found | not_responsible | not_open
 * | measures_done | attachment_ids. Sets rectify.report_id to the new
 * report's id ('' when refused), always: the one row's set_config. */
static const char sql_report[] =
    "WITH v AS (SELECT $2::jsonb AS j,"
    "   " ARRAY_OF("coalesce($2::jsonb->'measures_done', '[]')", "::int") " AS done,"
    "   " ARRAY_OF("coalesce($2::jsonb->'attachment_ids', '[]')", "::bigint") " AS att),"
    " cur AS (SELECT t.* FROM tasks t WHERE t.id = $1::bigint),"
    " chk AS (SELECT CASE"
    "   WHEN NOT (rectify.sees_province() OR rectify.in_scope(cur.owner_org_path)"
    "             OR cur.co_org_ids @> ARRAY[rectify.org_id()]) THEN 'not_responsible'"
    "   WHEN cur.status NOT IN ('pending', 'in_progress', 'completed') THEN 'not_open'"
    "   WHEN EXISTS (SELECT 1 FROM unnest(v.done) d WHERE d > cardinality(cur.measures))"
    "     THEN 'measures_done'"
    "   WHEN (SELECT count(*) FROM attachments a WHERE a.id = ANY (v.att)) <> cardinality(v.att)"
    "     THEN 'attachment_ids'"
    "   ELSE 'ok' END AS s, cardinality(cur.measures) AS nm FROM cur, v),"
    " ins AS (INSERT INTO task_reports (task_id, period, narrative, percent, measures_done, round_id)"
    "   SELECT cur.id, j->>'period', j->>'narrative', (j->>'percent')::int, v.done,"
    "          (j->>'round_id')::bigint"
    "     FROM cur, v, chk WHERE chk.s = 'ok' RETURNING *),"
    " upd AS (UPDATE tasks t SET percent = ins.percent, last_reported_at = ins.created_at"
    "   FROM ins WHERE t.id = ins.task_id RETURNING t.id)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found' ELSE chk.s END, chk.nm, cur.status,"
    "        set_config('rectify.report_id', coalesce(ins.id::text, ''), true)"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN ins ON true";

/* The report this transaction made (NULL when it made none). */
#define THIS_REPORT "nullif(current_setting('rectify.report_id'), '')::bigint"

/* $1 body. */
static const char sql_links[] =
    "INSERT INTO report_attachments (report_id, attachment_id, position)"
    " SELECT " THIS_REPORT ", e.x::bigint, e.n"
    "   FROM jsonb_array_elements_text(coalesce($1::jsonb->'attachment_ids', '[]'))"
    "          WITH ORDINALITY AS e(x, n)"
    "  WHERE " THIS_REPORT " IS NOT NULL";

static const char sql_answer[] =
    "SELECT r.id, " REPORT_JSON("r") "::text FROM task_reports r WHERE r.id = " THIS_REPORT;

/* $1 task id, $2 after id, $3 limit; newest first. NULL when the task is
 * not visible. */
static const char sql_list[] =
    "WITH page AS (SELECT r.*, row_number() OVER (ORDER BY r.id DESC) AS n FROM ("
    "  SELECT r.* FROM task_reports r WHERE r.task_id = $1::bigint"
    "     AND ($2::bigint IS NULL OR r.id < $2::bigint)"
    "   ORDER BY r.id DESC LIMIT $3::int + 1) r)"
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM tasks t WHERE t.id = $1::bigint) THEN"
    " json_build_object("
    "  'items', coalesce((SELECT json_agg(" REPORT_JSON("p") " ORDER BY p.n) FROM page p"
    "                     WHERE p.n <= $3::int), '[]'),"
    "  'next_cursor', (SELECT " LEDGER_CURSOR("id", "NULL::text", "p.id") " FROM page p"
    "                  WHERE p.n = $3::int AND EXISTS (SELECT 1 FROM page q WHERE q.n > $3::int)))::text"
    " END";

static const struct vfield report_fields[] = {
    {"period", V_STRING, true, false, 1, 50, NULL, ledger_not_blank, "must not be blank"},
    {"narrative", V_STRING, true, false, 1, 20000, NULL, ledger_not_blank, "must not be blank"},
    {"percent", V_INT, true, false, 0, 100, NULL, NULL, NULL},
    /* the dispatch round answered (0046: trigger rectify.dispatch_answer) */
    {"round_id", V_INT, false, true, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
};
static const struct lfield report_x[] = {
    {"measures_done", false, false, 50, lcheck_position_list},
    {"attachment_ids", false, false, 50, lcheck_id_list},
};
#define N(a) (sizeof a / sizeof a[0])

static bool task_id_or_reply(struct req *r, char id[24])
{
    if (id_parse(req_param(r, "id"), id))
        return true;
    reply_problem(r, 404, "not_found", "No such task.");
    return false;
}

static void list_reports(struct req *r)
{
    char id[24];
    if (!task_id_or_reply(r, id))
        return;
    struct lerrs l = {.arena = r->arena};
    char limit[8];
    const char *key, *after;
    lq_page(r, &l, "id", LKEY_ID, limit, &key, &after);
    if (!lq_ok_or_reply(r, &l))
        return;
    const char *params[] = {id, after, limit};
    struct db_query q = {sql_list, 3, params};
    reply_db_json(r, 200, &q);
}

static void create_report(struct req *r)
{
    char id[24];
    if (!task_id_or_reply(r, id) ||
        !ledger_body_or_reply(r, report_fields, N(report_fields), report_x, N(report_x)))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, body};
    struct db_query q[] = {
        {sql_report, 2, params},
        {sql_links, 1, params + 1},
        {sql_answer, 0, NULL},
    };
    PGresult *res[3];
    if (!db_run_or_reply(r, q, 3, res))
        return;
    const char *s = PQgetvalue(res[0], 0, 0);
    if (strcmp(s, "not_found") == 0)
        reply_problem(r, 404, "not_found", "No such task.");
    else if (strcmp(s, "not_responsible") == 0)
        reply_problem(r, 403, "forbidden",
                      "Only the lead or a co-operating organisation reports on this task.");
    else if (strcmp(s, "not_open") == 0)
        reply_problem(r, 409, "invalid_state",
                      "Progress is reported on pending, in-progress or completed tasks; this one"
                      " is %s.", PQgetvalue(res[0], 0, 2));
    else if (strcmp(s, "measures_done") == 0)
        reply_field_error(r, 422, "validation_failed", "A measure position is out of range.",
                           "/measures_done",
                           arena_printf(r->arena, "positions must be between 1 and %s",
                                        PQgetvalue(res[0], 0, 1)));
    else if (strcmp(s, "attachment_ids") == 0)
        reply_field_error(r, 422, "validation_failed", "An attachment does not exist.",
                           "/attachment_ids", "names an attachment that does not exist");
    else if (PQntuples(res[2]) == 1)
        ledger_reply_row(r, 201, res[2], 1, -1);
    else
        reply_problem(r, 500, "internal_error", "The report could not be read back.");
}

const struct route task_reports_routes[] = {
    {"GET", "/api/v1/tasks/{id}/reports", list_reports, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/tasks/{id}/reports", create_report, PERM_TASK_REPORT, ROUTE_JSON_BODY},
};
const size_t task_reports_routes_count =
    sizeof task_reports_routes / sizeof task_reports_routes[0];
