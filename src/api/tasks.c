/* Rectification tasks (整改任务): the ledger's rows. Lists with the filters an
 * office uses, one task with its history, create/edit by the office, and the
 * workflow (POST /tasks/{id}/transitions) driven by the transition table in
 * src/workflow/task_workflow.c.
 *
 * Lists are keyset-paginated; each whitelisted sort has its own static
 * statement (built from one macro), every filter is an optional
 * `($n IS NULL OR …)` term. Warning levels come from rectify.task_warning
 * (rules in sql/migrations/0011_ledger.sql). What keeps a page fast over
 * 100 000 tasks (custom plans, leakproof filters under row-level security,
 * warning levels as column conditions): docs/ledger.md "Lists and indexes". */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/ledger.h"
#include "rectify/permissions.h"
#include "rectify/task_workflow.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#define TASK_FIELDS(t, W)                                                                   \
    "'id', " t ".id, 'campaign_id', " t ".campaign_id, 'problem_id', " t ".problem_id,"      \
    " 'code', " t ".code, 'title', " t ".title, 'target', " t ".target,"                     \
    " 'measures', " t ".measures, 'lead_org', " LEDGER_ORG_REF(t ".owner_org_id") ","         \
    " 'co_org_ids', " t ".co_org_ids, 'acceptance_org_ids', " t ".acceptance_org_ids,"       \
    " 'responsible_name', " t ".responsible_name, 'responsible_post', " t ".responsible_post," \
    " 'deadline_kind', " t ".deadline_kind, 'deadline', " t ".deadline,"                     \
    " 'extended_deadline', " t ".extended_deadline, 'effective_deadline', " t ".effective_deadline," \
    " 'stage_targets', " t ".stage_targets, 'percent', " t ".percent, 'status', " t ".status," \
    " 'reopened', " t ".reopened, 'reopen_count', " t ".reopen_count,"                       \
    " 'started_at', " t ".started_at, 'completed_at', " t ".completed_at,"                   \
    " 'last_reported_at', " t ".last_reported_at, 'overdue', " LEDGER_OVERDUE(t) ","          \
    " 'warning', " W ", 'version', " t ".version, 'created_at', " t ".created_at,"            \
    " 'updated_at', " t ".updated_at"

#define ORG_LIST(arr)                                                                       \
    "(SELECT coalesce(json_agg(json_build_object('id', o.id, 'code', o.code, 'name', o.name)" \
    " ORDER BY array_position(" arr ", o.id)), '[]') FROM orgs o WHERE o.id = ANY (" arr "))"

/* One task with its problem, org names and workflow history. */
#define TASK_DETAIL(t)                                                                      \
    "json_build_object(" TASK_FIELDS(t, "(SELECT " LEDGER_WARNING(t, "s")                   \
    " FROM ledger_settings s)") ","                                                          \
    " 'problem', (SELECT json_build_object('id', p.id, 'code', p.code, 'title', p.title,"    \
    "   'category', p.category) FROM problems p WHERE p.id = " t ".problem_id),"             \
    " 'co_orgs', " ORG_LIST(t ".co_org_ids") ","                                              \
    " 'acceptance_orgs', " ORG_LIST(t ".acceptance_org_ids") ","                              \
    " 'transitions', (SELECT coalesce(json_agg(json_build_object('id', h.id,"                \
    "   'action', h.action, 'from_status', h.from_status, 'to_status', h.to_status,"        \
    "   'reason', h.reason, 'comment', h.comment, 'user_id', h.user_id, 'org_id', h.org_id," \
    "   'at', h.at) ORDER BY h.id), '[]') FROM task_transitions h WHERE h.task_id = " t ".id))"

static const char sql_get[] =
    "SELECT t.version, " TASK_DETAIL("t") "::text FROM tasks t WHERE t.id = $1::bigint";

/* TASK_FILTERS ($1..$12) are in ledger.h: the lists and the exports share them. */

#define TASK_LIST(SORT, KEY, KEYARG, KEYOUT, DIR, CMP)                                       \
    "WITH page AS (SELECT t.*, row_number() OVER (ORDER BY " KEY " " DIR ", t.id " DIR       \
    ") AS n FROM (SELECT t.*, " LEDGER_WARNING("t", "s") " AS warning_level"                 \
    " FROM tasks t CROSS JOIN ledger_settings s" TASK_FILTERS                                  \
    "   AND ($14::bigint IS NULL OR (" KEY ", t.id) " CMP " (" KEYARG ", $14::bigint))"       \
    " ORDER BY " KEY " " DIR ", t.id " DIR " LIMIT $15::int + 1) t)"                          \
    TASK_LIST_ANSWER(SORT, KEYOUT)
/* The answer from `page` (rows numbered n in list order, at most limit + 1). */
#define TASK_LIST_ANSWER(SORT, KEYOUT)                                                        \
    " SELECT json_build_object('items', coalesce((SELECT json_agg(json_build_object("        \
    TASK_FIELDS("t", "t.warning_level") ") ORDER BY t.n) FROM page t WHERE t.n <= $15::int)," \
    " '[]'::json), 'next_cursor', (SELECT " LEDGER_CURSOR(SORT, KEYOUT, "t.id")               \
    " FROM page t WHERE t.n = $15::int AND EXISTS (SELECT 1 FROM page z"                      \
    " WHERE z.n > $15::int)))::text"

/* The same list with q= ($12), limit-aware. A common term (尾矿库: 5 % of
 * the ledger) is best found by walking the sort order and testing each row
 * (about 20 rows per match); a rare one through the trigram index
 * (rectify.task_search_ids: every match, then the page). Which one is not
 * known before running, so the statement tries the walk first, bounded:
 * `cand` is at most LEDGER_SEARCH_WALK rows in list order passing the other
 * filters — only their ids, sort keys and match flags (whole rows made the
 * walk three times dearer) — read lazily; `walk` takes the ids of the first
 * limit + 1 matches. If it found them, or the candidates ran out, those rows
 * (read by id) are the page; otherwise (fewer than a page of matches in LEDGER_SEARCH_WALK rows: a
 * rare term) the second branch runs — its one-time filter is false in the
 * first case, so it costs nothing then — and reads the search's ids through
 * the primary key. LIKE in the select list is evaluated on rows the policy
 * has let through, like any output column.
 * Only province-wide callers walk (task_scope_key() = 0, in `cand` itself: a
 * one-time filter there, as the planner may evaluate the other terms of
 * LEDGER_SEARCH_WALK_DONE first): for the others the search's own plan ANDs the
 * trigram and visibility indexes (a county's matches are a few hundred),
 * cheaper than walking its tasks in order. The statement's shared part is
 * LEDGER_LIST_Q_FOUND (ledger.h). */
#define TASK_LIST_Q(SORT, KEY, KEYARG, KEYOUT, DIR, CMP)                                     \
    LEDGER_LIST_Q_FOUND("tasks", TASK_FILTERS_BUT_Q, "$12", "$14", "$15",                     \
                        "rectify.task_search_ids", KEY, KEYARG, DIR, CMP)                     \
    " page AS (SELECT t.*, row_number() OVER (ORDER BY " KEY " " DIR ", t.id " DIR           \
    ") AS n FROM (SELECT t.*, " LEDGER_WARNING("t", "s") " AS warning_level"                  \
    " FROM found t CROSS JOIN ledger_settings s"                                               \
    " ORDER BY " KEY " " DIR ", t.id " DIR " LIMIT $15::int + 1) t)"                          \
    TASK_LIST_ANSWER(SORT, KEYOUT)

static const char *const sorts[] = {"deadline", "-deadline", "updated_at", "-updated_at",
                                    "code", "-code", NULL};
static const enum lkey sort_keys[] = {LKEY_DATE, LKEY_DATE, LKEY_TIMESTAMP, LKEY_TIMESTAMP,
                                      LKEY_TEXT, LKEY_TEXT};
static const char *const sql_lists[] = {
    TASK_LIST("deadline", "t.deadline_key", "$13::date", "t.deadline_key::text", "ASC", ">"),
    TASK_LIST("-deadline", "t.deadline_key", "$13::date", "t.deadline_key::text", "DESC", "<"),
    TASK_LIST("updated_at", "t.updated_at", "$13::timestamptz", LEDGER_TS_KEY("t"), "ASC", ">"),
    TASK_LIST("-updated_at", "t.updated_at", "$13::timestamptz", LEDGER_TS_KEY("t"), "DESC", "<"),
    TASK_LIST("code", "t.code", "$13::text", "t.code", "ASC", ">"),
    TASK_LIST("-code", "t.code", "$13::text", "t.code", "DESC", "<"),
};
static const char *const sql_lists_q[] = {
    TASK_LIST_Q("deadline", "t.deadline_key", "$13::date", "t.deadline_key::text", "ASC", ">"),
    TASK_LIST_Q("-deadline", "t.deadline_key", "$13::date", "t.deadline_key::text", "DESC", "<"),
    TASK_LIST_Q("updated_at", "t.updated_at", "$13::timestamptz", LEDGER_TS_KEY("t"), "ASC", ">"),
    TASK_LIST_Q("-updated_at", "t.updated_at", "$13::timestamptz", LEDGER_TS_KEY("t"), "DESC", "<"),
    TASK_LIST_Q("code", "t.code", "$13::text", "t.code", "ASC", ">"),
    TASK_LIST_Q("-code", "t.code", "$13::text", "t.code", "DESC", "<"),
};

#define ARRAY_OF(expr, type)                                                               \
    "ARRAY(SELECT e.x" type " FROM jsonb_array_elements_text(" expr ") WITH ORDINALITY"     \
    " AS e(x, n) ORDER BY e.n)"
#define ORGS_MISSING(arr) \
    "(SELECT count(*) FROM orgs o WHERE o.id = ANY (" arr ")) <> cardinality(" arr ")"

/* $1 body. Status: ok | bad_ref (+field) | duplicate. */
static const char sql_create[] =
    "WITH v AS (SELECT $1::jsonb AS j,"
    "   " ARRAY_OF("coalesce($1::jsonb->'measures', '[]')", "") " AS measures,"
    "   " ARRAY_OF("coalesce($1::jsonb->'co_org_ids', '[]')", "::bigint") " AS co,"
    "   " ARRAY_OF("coalesce($1::jsonb->'acceptance_org_ids', '[]')", "::bigint") " AS acc),"
    " pr AS (SELECT p.id, p.campaign_id FROM problems p, v WHERE p.id = (j->>'problem_id')::bigint),"
    " bad AS (SELECT CASE"
    "   WHEN NOT EXISTS (SELECT 1 FROM pr) THEN 'problem_id'"
    "   WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = (j->>'lead_org_id')::bigint)"
    "     THEN 'lead_org_id'"
    "   WHEN " ORGS_MISSING("v.co") " THEN 'co_org_ids'"
    "   WHEN " ORGS_MISSING("v.acc") " THEN 'acceptance_org_ids' END AS f FROM v),"
    " ins AS (INSERT INTO tasks (campaign_id, problem_id, code, title, target, measures,"
    "     owner_org_id, co_org_ids, acceptance_org_ids, responsible_name, responsible_post,"
    "     deadline_kind, deadline, stage_targets)"
    "   SELECT pr.campaign_id, pr.id, j->>'code', j->>'title', j->>'target', v.measures,"
    "          (j->>'lead_org_id')::bigint, v.co, v.acc, j->>'responsible_name',"
    "          j->>'responsible_post', coalesce(j->>'deadline_kind', 'date'),"
    "          (j->>'deadline')::date, coalesce(j->'stage_targets', '[]')"
    "     FROM v, pr, bad WHERE bad.f IS NULL"
    "   ON CONFLICT ON CONSTRAINT tasks_code_key DO NOTHING RETURNING *)"
    " SELECT CASE WHEN bad.f IS NOT NULL THEN 'bad_ref' WHEN t.id IS NULL THEN 'duplicate'"
    "             ELSE 'ok' END, bad.f, t.id, t.version,"
    "        CASE WHEN t.id IS NOT NULL THEN " TASK_DETAIL("t") "::text END"
    "   FROM bad LEFT JOIN ins t ON true";

#define PICK(col, cast) \
    " CASE WHEN j ? '" col "' THEN (j->>'" col "')" cast " ELSE cur." col " END AS " col ","
#define PICK_ARRAY(col, type) \
    " CASE WHEN j ? '" col "' THEN " ARRAY_OF("j->'" col "'", type) " ELSE cur." col " END AS " col ","
#define TASK_COLS(x)                                                                        \
    x ".title, " x ".target, " x ".measures, " x ".owner_org_id, " x ".co_org_ids, "         \
    x ".acceptance_org_ids, " x ".responsible_name, " x ".responsible_post, "               \
    x ".deadline_kind, " x ".deadline, " x ".stage_targets"

/* $1 id, $2 If-Match version, $3 body (merge). Status: ok | unchanged |
 * not_found | stale | bad_ref (+field) | deadline_required | deadline_forbidden. */
static const char sql_patch[] =
    "WITH b AS (SELECT $3::jsonb AS j),"
    " cur AS (SELECT t.* FROM tasks t WHERE t.id = $1::bigint),"
    " nv AS (SELECT" PICK("title", "") PICK("target", "") PICK_ARRAY("measures", "")
    "   CASE WHEN j ? 'lead_org_id' THEN (j->>'lead_org_id')::bigint ELSE cur.owner_org_id END"
    "     AS owner_org_id," PICK_ARRAY("co_org_ids", "::bigint")
    PICK_ARRAY("acceptance_org_ids", "::bigint") PICK("responsible_name", "")
    PICK("responsible_post", "") PICK("deadline_kind", "") PICK("deadline", "::date")
    "   CASE WHEN j ? 'stage_targets' THEN j->'stage_targets' ELSE cur.stage_targets END"
    "     AS stage_targets, cur.id FROM cur, b),"
    " chk AS (SELECT CASE"
    "   WHEN cur.version <> $2::int THEN 'stale'"
    "   WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = nv.owner_org_id) THEN 'bad_ref'"
    "   WHEN " ORGS_MISSING("nv.co_org_ids") " THEN 'bad_ref'"
    "   WHEN " ORGS_MISSING("nv.acceptance_org_ids") " THEN 'bad_ref'"
    "   WHEN nv.deadline_kind = 'date' AND nv.deadline IS NULL THEN 'deadline_required'"
    "   WHEN nv.deadline_kind <> 'date' AND nv.deadline IS NOT NULL THEN 'deadline_forbidden'"
    "   WHEN (" TASK_COLS("nv") ") IS NOT DISTINCT FROM (" TASK_COLS("cur") ")"
    "     THEN 'unchanged'"
    "   ELSE 'change' END AS s,"
    "   CASE WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = nv.owner_org_id) THEN 'lead_org_id'"
    "        WHEN " ORGS_MISSING("nv.co_org_ids") " THEN 'co_org_ids'"
    "        ELSE 'acceptance_org_ids' END AS f"
    "   FROM cur, nv),"
    " upd AS (UPDATE tasks t SET title = nv.title, target = nv.target, measures = nv.measures,"
    "     owner_org_id = nv.owner_org_id, co_org_ids = nv.co_org_ids,"
    "     acceptance_org_ids = nv.acceptance_org_ids, responsible_name = nv.responsible_name,"
    "     responsible_post = nv.responsible_post, deadline_kind = nv.deadline_kind,"
    "     deadline = nv.deadline, stage_targets = nv.stage_targets,"
    "     extended_deadline = CASE WHEN nv.deadline_kind = 'date' THEN t.extended_deadline END"
    "   FROM nv, chk WHERE t.id = nv.id AND chk.s = 'change' AND t.version = $2::int"
    "   RETURNING t.*)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found'"
    "             WHEN chk.s = 'change' AND upd.id IS NULL THEN 'stale'"
    "             WHEN chk.s = 'change' THEN 'ok' ELSE chk.s END, chk.f,"
    "        coalesce(upd.version, cur.version),"
    "        CASE WHEN upd.id IS NOT NULL THEN " TASK_DETAIL("upd") "::text"
    "             WHEN chk.s = 'unchanged' THEN " TASK_DETAIL("cur") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN upd ON true";

/* $1 id, $2 If-Match version, $3 action, $4/$5 the moves of the action the
 * caller's roles allow (from states, to states), $6 reason, $7 comment.
 * A unit acts only on tasks led by its org subtree (co-operating and
 * acceptance orgs see the task but do not move it).
 * Status: ok | not_found | stale | invalid | not_lead; column 2 = current state.
 * The UPDATE names the from-state and version: of two concurrent requests
 * at most one matches (the other is told 'stale'), and the tasks_guard
 * trigger refuses any move outside task_status_transitions. */
static const char sql_transition[] =
    "WITH cur AS (SELECT t.* FROM tasks t WHERE t.id = $1::bigint),"
    " mv AS (SELECT m.to_status FROM cur, unnest($4::text[], $5::text[]) AS m(from_status, to_status)"
    "        WHERE m.from_status = cur.status),"
    " chk AS (SELECT CASE"
    "   WHEN cur.version <> $2::int THEN 'stale'"
    "   WHEN NOT EXISTS (SELECT 1 FROM mv) THEN 'invalid'"
    "   WHEN NOT (rectify.sees_province() OR rectify.in_scope(cur.owner_org_path)) THEN 'not_lead'"
    "   ELSE 'ok' END AS s FROM cur),"
    " upd AS (UPDATE tasks t SET status = mv.to_status,"
    "     reopened = t.reopened OR $3::text = 'reopen',"
    "     reopen_count = t.reopen_count + CASE WHEN $3::text = 'reopen' THEN 1 ELSE 0 END"
    "   FROM mv, chk, cur"
    "   WHERE t.id = cur.id AND chk.s = 'ok' AND t.version = $2::int AND t.status = cur.status"
    "   RETURNING t.id, t.status, t.version),"
    " hist AS (INSERT INTO task_transitions (task_id, action, from_status, to_status, reason, comment)"
    "   SELECT upd.id, $3::text, cur.status, upd.status, $6::text, $7::text FROM upd, cur"
    "   RETURNING id)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found' WHEN chk.s <> 'ok' THEN chk.s"
    "             WHEN upd.id IS NULL THEN 'stale' ELSE 'ok' END,"
    "        cur.status, coalesce(upd.version, cur.version)"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN upd ON true";

/* Read back after the transition (a later statement sees the new history row). */
static const char sql_after_transition[] =
    "SELECT t.version, " TASK_DETAIL("t") "::text FROM tasks t WHERE t.id = $1::bigint";

static const char *const categories[] = {"macro_common", "provincial_sector", "local_specific",
                                         NULL};
static const char *const statuses[] = {"pending", "in_progress", "completed",
                                       "acceptance_requested", "acceptance_review", "approved",
                                       "announced", "closed", NULL};
static const char *const levels[] = {"red", "yellow", "green", NULL};
static const char *const deadline_kinds[] = {"date", "immediate_then_ongoing", "ongoing", NULL};
static const char *const actions[] = {"start", "complete", "request_acceptance", "reopen", NULL};

static bool code_ok(const char *s)
{
    size_t n = strlen(s);
    return n && s[0] != ' ' && s[n - 1] != ' ' && strpbrk(s, "\t\r\n") == NULL;
}

#define TEXT(name, req, nul, min, max) \
    {name, V_STRING, req, nul, min, max, NULL, ledger_not_blank, "must not be blank"}
#define DEADLINE_FIELDS                                                                     \
    {"deadline_kind", V_STRING, false, false, 1, 0, deadline_kinds, NULL, NULL},             \
    {"deadline", V_STRING, false, true, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"}

static const struct vfield create_fields[] = {
    {"problem_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    {"code", V_STRING, true, false, 1, 32, NULL, code_ok,
     "must not start or end with white space or contain line breaks"},
    TEXT("title", true, false, 1, 500),
    {"target", V_STRING, false, true, 0, 5000, NULL, NULL, NULL},
    {"lead_org_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    TEXT("responsible_name", false, true, 1, 100),
    TEXT("responsible_post", false, true, 1, 200),
    DEADLINE_FIELDS,
};
static const struct vfield patch_fields[] = {
    TEXT("title", false, false, 1, 500),
    {"target", V_STRING, false, true, 0, 5000, NULL, NULL, NULL},
    {"lead_org_id", V_INT, false, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    TEXT("responsible_name", false, true, 1, 100),
    TEXT("responsible_post", false, true, 1, 200),
    DEADLINE_FIELDS,
};
static const struct lfield task_x[] = {
    {"measures", false, false, 50, lcheck_text_list},
    {"co_org_ids", false, false, 100, lcheck_id_list},
    {"acceptance_org_ids", false, false, 20, lcheck_id_list},
    {"stage_targets", false, false, 20, lcheck_stage_targets},
};
static const struct vfield transition_fields[] = {
    {"action", V_STRING, true, false, 1, 0, actions, NULL, NULL},
    {"reason", V_STRING, false, true, 1, 0, task_reopen_reasons, NULL, NULL},
    {"comment", V_STRING, false, true, 0, 2000, NULL, NULL, NULL},
};
#define N(a) (sizeof a / sizeof a[0])

static void reply_not_found(struct req *r)
{
    reply_problem(r, 404, "not_found", "No such task.");
}

static void list_tasks(struct req *r)
{
    struct lerrs l = {.arena = r->arena};
    const char *p[15];
    p[0] = lq_id(r, &l, "campaign");
    p[1] = lq_id(r, &l, "problem");
    p[2] = lq_enum(r, &l, "category", categories);
    p[3] = lq_enum_list(r, &l, "status", statuses);
    p[4] = lq_id(r, &l, "lead_org");
    p[5] = lq_official(r, &l);
    p[6] = lq_bool(r, &l, "overdue");
    p[7] = lq_date(r, &l, "due_before");
    p[8] = lq_date(r, &l, "due_after");
    p[9] = lq_enum(r, &l, "warning", levels);
    p[10] = lq_bool(r, &l, "reopened");
    p[11] = lq_like(r, &l, "q");
    int sort = lq_sort(r, &l, sorts);
    char limit[8];
    lq_page(r, &l, sorts[sort], sort_keys[sort], limit, &p[12], &p[13]);
    p[14] = limit;
    if (!lq_ok_or_reply(r, &l))
        return;
    struct db_query q[] = {{ledger_sql_custom_plans, 0, NULL},
                           {p[11] ? sql_lists_q[sort] : sql_lists[sort], 15, p}};
    PGresult *res[2];
    if (!db_run_or_reply(r, q, 2, res))
        return;
    ledger_reply_row(r, 200, res[1], 0, -1);
}

static void get_task(struct req *r)
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
    if (PQntuples(res) != 1)
        reply_not_found(r);
    else
        ledger_reply_row(r, 200, res, 1, 0);
}

static void reply_bad_ref(struct req *r, const char *field)
{
    reply_field_error(r, 422, "validation_failed",
                       strcmp(field, "problem_id") == 0 ? "The problem does not exist."
                                                        : "A referenced organisation does not exist.",
                       arena_printf(r->arena, "/%s", field),
                       strcmp(field, "co_org_ids") == 0 || strcmp(field, "acceptance_org_ids") == 0
                           ? "names an organisation that does not exist"
                           : "does not exist");
}

/* deadline_kind "date" needs a deadline; the other kinds have none. */
static bool deadline_consistent_or_reply(struct req *r)
{
    const char *kind = ledger_json_string(r->json, "deadline_kind");
    const char *deadline = ledger_json_string(r->json, "deadline");
    if (!kind)
        kind = "date";
    if (strcmp(kind, "date") == 0 && !deadline) {
        reply_field_error(r, 422, "validation_failed", "A dated task needs a deadline.",
                           "/deadline", "is required when deadline_kind is date");
        return false;
    }
    if (strcmp(kind, "date") != 0 && deadline) {
        reply_field_error(r, 422, "validation_failed",
                           "Only tasks with deadline_kind date have a deadline.", "/deadline",
                           arena_printf(r->arena, "must be null when deadline_kind is %s", kind));
        return false;
    }
    return true;
}

static void create_task(struct req *r)
{
    if (!ledger_body_or_reply(r, create_fields, N(create_fields), task_x, N(task_x)) ||
        !deadline_consistent_or_reply(r))
        return;
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
        reply_field_error(r, 409, "conflict", "The campaign already has a task with this code.",
                           "/code", "already exists in this campaign");
    } else {
        reply_header(r, "Location",
                     arena_printf(r->arena, "/api/v1/tasks/%s", PQgetvalue(res, 0, 2)));
        ledger_reply_row(r, 201, res, 4, 3);
    }
}

static void patch_task(struct req *r)
{
    char id[24], version[16];
    if (!id_parse(req_param(r, "id"), id)) {
        reply_not_found(r);
        return;
    }
    if (!if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, patch_fields, N(patch_fields), task_x, N(task_x)))
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
    else if (strcmp(status, "deadline_required") == 0)
        reply_field_error(r, 422, "validation_failed", "A dated task needs a deadline.",
                           "/deadline", "is required when deadline_kind is date");
    else if (strcmp(status, "deadline_forbidden") == 0)
        reply_field_error(r, 422, "validation_failed",
                           "Only tasks with deadline_kind date have a deadline.", "/deadline",
                           "must be null unless deadline_kind is date");
    else
        ledger_reply_row(r, 200, res, 3, 2);
}

/* A text[] literal of state names: {a,b}. Names are our own [a-z_]. */
static const char *states_literal(struct req *r, const enum task_state *s, size_t n)
{
    struct buf b;
    buf_init(&b, 1024);
    int rc = buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++)
        rc |= buf_printf(&b, "%s%s", i ? "," : "", task_state_name(s[i]));
    rc |= buf_puts(&b, "}");
    char *out = rc ? NULL : arena_strdup(r->arena, b.data);
    buf_free(&b);
    return out;
}

/* 409 invalid_transition naming the current state and what the caller may do. */
static void reply_invalid_transition(struct req *r, enum task_state cur, const char *action)
{
    enum task_action allowed[TASK_ACTION_COUNT];
    size_t n = task_workflow_allowed(cur, r->who.roles, allowed, TASK_ACTION_COUNT);
    struct buf list, extra;
    buf_init(&list, 1024);
    buf_init(&extra, 2048);
    int rc = buf_puts(&extra, "{\"current_state\":");
    rc |= buf_json_string(&extra, task_state_name(cur));
    rc |= buf_puts(&extra, ",\"allowed_actions\":[");
    for (size_t i = 0; i < n; i++) {
        rc |= buf_printf(&list, "%s%s", i ? ", " : "", task_action_name(allowed[i]));
        rc |= buf_printf(&extra, "%s\"%s\"", i ? "," : "", task_action_name(allowed[i]));
    }
    rc |= buf_puts(&extra, "]}");
    const char *detail = arena_printf(r->arena,
                                      "The action %s is not possible while the task is %s;"
                                      " allowed actions: %s.",
                                      action, task_state_name(cur),
                                      n && list.data ? list.data : "none");
    if (rc)
        reply_problem(r, 409, "invalid_transition", "%s", detail);
    else
        ledger_reply_problem_ext(r, 409, "invalid_transition", detail, extra.data);
    buf_free(&list);
    buf_free(&extra);
}

static void transition_task(struct req *r)
{
    char id[24], version[16];
    if (!id_parse(req_param(r, "id"), id)) {
        reply_not_found(r);
        return;
    }
    if (!if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, transition_fields, N(transition_fields), NULL, 0))
        return;
    const char *name = ledger_json_string(r->json, "action");
    const char *reason = ledger_json_string(r->json, "reason");
    const char *comment = ledger_json_string(r->json, "comment");
    enum task_action action;
    if (!task_action_parse(name, &action)) { /* cannot happen: validated */
        reply_problem(r, 422, "validation_failed", "Unknown action.");
        return;
    }
    if (task_action_needs_reason(action) && !reason) {
        reply_field_error(r, 422, "validation_failed", "Re-opening a task needs a reason.",
                           "/reason", "is required for reopen");
        return;
    }
    if (!task_action_needs_reason(action) && reason) {
        reply_field_error(r, 422, "validation_failed", "Only reopen takes a reason.", "/reason",
                           arena_printf(r->arena, "must be absent for %s", name));
        return;
    }
    enum task_state from[TASK_STATE_COUNT], to[TASK_STATE_COUNT];
    size_t n = task_workflow_moves(action, r->who.roles, from, to);
    const char *froms = states_literal(r, from, n), *tos = states_literal(r, to, n);
    if (!froms || !tos) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return;
    }
    const char *params[] = {id, version, name, froms, tos, reason, comment};
    struct db_query q[] = {
        {sql_transition, 7, params},
        {sql_after_transition, 1, params},
    };
    PGresult *res[2];
    if (!db_run_or_reply(r, q, 2, res))
        return;
    const char *status = PQgetvalue(res[0], 0, 0);
    enum task_state cur = TASK_PENDING;
    bool known = task_state_parse(PQgetvalue(res[0], 0, 1), &cur);
    if (strcmp(status, "not_found") == 0) {
        reply_not_found(r);
    } else if (strcmp(status, "stale") == 0) {
        reply_precondition_failed(r, PQgetvalue(res[0], 0, 2));
    } else if (strcmp(status, "not_lead") == 0) {
        reply_problem(r, 403, "forbidden",
                      "Only the lead organisation (or the office) moves this task.");
    } else if (strcmp(status, "invalid") == 0 && known) {
        if (task_workflow_check(cur, action, r->who.roles, NULL) == TASK_WF_FORBIDDEN)
            reply_problem(r, 403, "forbidden", "Your roles may not %s a task that is %s.", name,
                          task_state_name(cur));
        else
            reply_invalid_transition(r, cur, name);
    } else if (strcmp(status, "ok") == 0) {
        ledger_reply_row(r, 200, res[1], 1, 0);
    } else {
        reply_problem(r, 500, "internal_error", "The transition could not be completed.");
    }
}

const struct route tasks_routes[] = {
    {"GET", "/api/v1/tasks", list_tasks, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/tasks", create_task, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/tasks/{id}", get_task, PERM_LEDGER_READ, 0},
    {"PATCH", "/api/v1/tasks/{id}", patch_task, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
    {"POST", "/api/v1/tasks/{id}/transitions", transition_task, PERM_TASK_TRANSITION,
     ROUTE_JSON_BODY},
};
const size_t tasks_routes_count = sizeof tasks_routes / sizeof tasks_routes[0];
