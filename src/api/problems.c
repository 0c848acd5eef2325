/* Feedback problems (反馈问题) of a campaign. The lead org owns a problem
 * (org scope); its status is derived from its tasks by the database. The
 * detail answer carries a summary of the tasks the caller can see: counts by
 * status and by warning level. */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/ledger.h"
#include "rectify/permissions.h"

#include <cJSON.h>
#include <string.h>

#define PROBLEM_FIELDS(p)                                                                  \
    "'id', " p ".id, 'campaign_id', " p ".campaign_id, 'code', " p ".code,"                \
    " 'title', " p ".title, 'description', " p ".description, 'category', " p ".category," \
    " 'source', " p ".source, 'region_org_ids', " p ".region_org_ids,"                      \
    " 'lead_org', " LEDGER_ORG_REF(p ".owner_org_id") ","                                   \
    " 'responsible_name', " p ".responsible_name, 'responsible_post', " p ".responsible_post," \
    " 'target', " p ".target, 'deadline', " p ".deadline, 'status', " p ".status,"         \
    " 'version', " p ".version, 'created_at', " p ".created_at, 'updated_at', " p ".updated_at"
#define PROBLEM_JSON(p) "json_build_object(" PROBLEM_FIELDS(p) ")"

#define COUNT_STATUS(s) "'" s "', count(*) FILTER (WHERE w.status = '" s "')"
#define COUNT_LEVEL(s) "'" s "', count(*) FILTER (WHERE w.level = '" s "')"
/* The problem plus tasks_summary over the tasks the caller can see (RLS). */
#define PROBLEM_DETAIL(p)                                                                  \
    "json_build_object(" PROBLEM_FIELDS(p) ", 'tasks_summary', (SELECT json_build_object(" \
    " 'total', count(*),"                                                                  \
    " 'by_status', json_build_object(" COUNT_STATUS("pending") ", " COUNT_STATUS("in_progress") \
    ", " COUNT_STATUS("completed") ", " COUNT_STATUS("acceptance_requested") ", "          \
    COUNT_STATUS("acceptance_review") ", " COUNT_STATUS("approved") ", "                   \
    COUNT_STATUS("announced") ", " COUNT_STATUS("closed") "),"                              \
    " 'by_warning', json_build_object(" COUNT_LEVEL("red") ", " COUNT_LEVEL("yellow") ", "  \
    COUNT_LEVEL("green") "),"                                                              \
    " 'overdue', count(*) FILTER (WHERE w.overdue))"                                       \
    " FROM (SELECT x.status, " LEDGER_WARNING("x", "s") " AS level, " LEDGER_OVERDUE("x")   \
    " AS overdue FROM tasks x CROSS JOIN ledger_settings s WHERE x.problem_id = " p ".id) w))"

static const char sql_get[] =
    "SELECT p.version, " PROBLEM_DETAIL("p") "::text FROM problems p WHERE p.id = $1::bigint";

/* PROBLEM_FILTERS ($1..$10) are in ledger.h: the list and the export share
 * them. The list runs custom plans (ledger_sql_custom_plans) and its
 * filters are leakproof or go through functions returning ids, so that
 * they are index conditions under row-level security; visibility is one
 * estimable condition (0035): docs/ledger.md "Lists and indexes". */

#define PROBLEM_LIST(SORT, KEY, KEYARG, KEYOUT, DIR, CMP)                                   \
    "WITH page AS (SELECT t.*, row_number() OVER (ORDER BY " KEY " " DIR ", t.id " DIR     \
    ") AS n FROM (SELECT t.* FROM problems t" PROBLEM_FILTERS                               \
    "   AND ($12::bigint IS NULL OR (" KEY ", t.id) " CMP " (" KEYARG ", $12::bigint))"      \
    " ORDER BY " KEY " " DIR ", t.id " DIR " LIMIT $13::int + 1) t)"                         \
    PROBLEM_LIST_ANSWER(SORT, KEYOUT)
#define PROBLEM_LIST_ANSWER(SORT, KEYOUT)                                                   \
    " SELECT json_build_object('items', coalesce((SELECT json_agg(" PROBLEM_JSON("t")       \
    " ORDER BY t.n) FROM page t WHERE t.n <= $13::int), '[]'::json),"                        \
    " 'next_cursor', (SELECT " LEDGER_CURSOR(SORT, KEYOUT, "t.id") " FROM page t"             \
    " WHERE t.n = $13::int AND EXISTS (SELECT 1 FROM page z WHERE z.n > $13::int)))::text"

/* With q= ($9): limit-aware, as the task list (tasks.c TASK_LIST_Q: a
 * bounded walk in list order testing each row for province-wide callers,
 * else — or when the walk finds less than a page — the search's ids through
 * the primary key). */
#define PROBLEM_LIST_Q(SORT, KEY, KEYARG, KEYOUT, DIR, CMP)                                 \
    LEDGER_LIST_Q_FOUND("problems", PROBLEM_FILTERS_BUT_Q, "$9", "$12", "$13",                \
                        "rectify.problem_search_ids", KEY, KEYARG, DIR, CMP)                  \
    " page AS (SELECT t.*, row_number() OVER (ORDER BY " KEY " " DIR ", t.id " DIR           \
    ") AS n FROM (SELECT t.* FROM found t"                                                    \
    " ORDER BY " KEY " " DIR ", t.id " DIR " LIMIT $13::int + 1) t)"                         \
    PROBLEM_LIST_ANSWER(SORT, KEYOUT)

static const char *const sorts[] = {"code", "-code", "deadline", "-deadline", "updated_at",
                                    "-updated_at", NULL};
static const enum lkey sort_keys[] = {LKEY_TEXT, LKEY_TEXT, LKEY_DATE, LKEY_DATE,
                                      LKEY_TIMESTAMP, LKEY_TIMESTAMP};
static const char *const sql_lists[] = {
    PROBLEM_LIST("code", "t.code", "$11::text", "t.code", "ASC", ">"),
    PROBLEM_LIST("-code", "t.code", "$11::text", "t.code", "DESC", "<"),
    PROBLEM_LIST("deadline", "t.deadline_key", "$11::date", "t.deadline_key::text", "ASC", ">"),
    PROBLEM_LIST("-deadline", "t.deadline_key", "$11::date", "t.deadline_key::text", "DESC", "<"),
    PROBLEM_LIST("updated_at", "t.updated_at", "$11::timestamptz", LEDGER_TS_KEY("t"), "ASC", ">"),
    PROBLEM_LIST("-updated_at", "t.updated_at", "$11::timestamptz", LEDGER_TS_KEY("t"), "DESC", "<"),
};
static const char *const sql_lists_q[] = {
    PROBLEM_LIST_Q("code", "t.code", "$11::text", "t.code", "ASC", ">"),
    PROBLEM_LIST_Q("-code", "t.code", "$11::text", "t.code", "DESC", "<"),
    PROBLEM_LIST_Q("deadline", "t.deadline_key", "$11::date", "t.deadline_key::text", "ASC", ">"),
    PROBLEM_LIST_Q("-deadline", "t.deadline_key", "$11::date", "t.deadline_key::text", "DESC", "<"),
    PROBLEM_LIST_Q("updated_at", "t.updated_at", "$11::timestamptz", LEDGER_TS_KEY("t"), "ASC", ">"),
    PROBLEM_LIST_Q("-updated_at", "t.updated_at", "$11::timestamptz", LEDGER_TS_KEY("t"), "DESC", "<"),
};

#define ID_ARRAY(expr) \
    "ARRAY(SELECT e.x::bigint FROM jsonb_array_elements_text(" expr ") WITH ORDINALITY" \
    " AS e(x, n) ORDER BY e.n)"

/* $1 body. Status: ok | bad_ref (+field) | duplicate. */
static const char sql_create[] =
    "WITH v AS (SELECT $1::jsonb AS j,"
    "   " ID_ARRAY("coalesce($1::jsonb->'region_org_ids', '[]')") " AS regions),"
    " bad AS (SELECT CASE"
    "   WHEN NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = (j->>'campaign_id')::bigint)"
    "     THEN 'campaign_id'"
    "   WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = (j->>'lead_org_id')::bigint)"
    "     THEN 'lead_org_id'"
    "   WHEN (SELECT count(*) FROM orgs o WHERE o.id = ANY (v.regions)) <> cardinality(v.regions)"
    "     THEN 'region_org_ids' END AS f FROM v),"
    " ins AS (INSERT INTO problems (campaign_id, code, title, description, category, source,"
    "     region_org_ids, owner_org_id, responsible_name, responsible_post, target, deadline)"
    "   SELECT (j->>'campaign_id')::bigint, j->>'code', j->>'title', j->>'description',"
    "          j->>'category', coalesce(j->>'source', 'report'), v.regions,"
    "          (j->>'lead_org_id')::bigint, j->>'responsible_name', j->>'responsible_post',"
    "          j->>'target', (j->>'deadline')::date"
    "     FROM v, bad WHERE bad.f IS NULL"
    "   ON CONFLICT ON CONSTRAINT problems_code_key DO NOTHING RETURNING *)"
    " SELECT CASE WHEN bad.f IS NOT NULL THEN 'bad_ref' WHEN p.id IS NULL THEN 'duplicate'"
    "             ELSE 'ok' END, bad.f, p.id, p.version,"
    "        CASE WHEN p.id IS NOT NULL THEN " PROBLEM_DETAIL("p") "::text END"
    "   FROM bad LEFT JOIN ins p ON true";

#define PICK(col, cast) \
    " CASE WHEN j ? '" col "' THEN (j->>'" col "')" cast " ELSE cur." col " END AS " col ","
#define PROBLEM_COLS(x)                                                                     \
    x ".title, " x ".description, " x ".category, " x ".source, " x ".region_org_ids, "      \
    x ".owner_org_id, " x ".responsible_name, " x ".responsible_post, " x ".target, " x ".deadline"

/* $1 id, $2 If-Match version, $3 body (merge). Status: ok | unchanged |
 * not_found | stale | bad_ref (+field). */
static const char sql_patch[] =
    "WITH b AS (SELECT $3::jsonb AS j),"
    " cur AS (SELECT p.* FROM problems p WHERE p.id = $1::bigint),"
    " nv AS (SELECT" PICK("title", "") PICK("description", "") PICK("category", "")
    PICK("source", "")
    "   CASE WHEN j ? 'region_org_ids' THEN " ID_ARRAY("j->'region_org_ids'")
    "        ELSE cur.region_org_ids END AS region_org_ids,"
    "   CASE WHEN j ? 'lead_org_id' THEN (j->>'lead_org_id')::bigint ELSE cur.owner_org_id END"
    "     AS owner_org_id," PICK("responsible_name", "") PICK("responsible_post", "")
    PICK("target", "") PICK("deadline", "::date") " cur.id FROM cur, b),"
    " chk AS (SELECT CASE"
    "   WHEN cur.version <> $2::int THEN 'stale'"
    "   WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = nv.owner_org_id) THEN 'bad_ref'"
    "   WHEN (SELECT count(*) FROM orgs o WHERE o.id = ANY (nv.region_org_ids))"
    "        <> cardinality(nv.region_org_ids) THEN 'bad_ref'"
    "   WHEN (" PROBLEM_COLS("nv") ") IS NOT DISTINCT FROM (" PROBLEM_COLS("cur") ")"
    "     THEN 'unchanged'"
    "   ELSE 'change' END AS s,"
    "   CASE WHEN NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = nv.owner_org_id)"
    "        THEN 'lead_org_id' ELSE 'region_org_ids' END AS f"
    "   FROM cur, nv),"
    " upd AS (UPDATE problems t SET title = nv.title, description = nv.description,"
    "     category = nv.category, source = nv.source, region_org_ids = nv.region_org_ids,"
    "     owner_org_id = nv.owner_org_id, responsible_name = nv.responsible_name,"
    "     responsible_post = nv.responsible_post, target = nv.target, deadline = nv.deadline"
    "   FROM nv, chk WHERE t.id = nv.id AND chk.s = 'change' AND t.version = $2::int"
    "   RETURNING t.*)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found'"
    "             WHEN chk.s = 'change' AND upd.id IS NULL THEN 'stale'"
    "             WHEN chk.s = 'change' THEN 'ok' ELSE chk.s END, chk.f,"
    "        coalesce(upd.version, cur.version),"
    "        CASE WHEN upd.id IS NOT NULL THEN " PROBLEM_DETAIL("upd") "::text"
    "             WHEN chk.s = 'unchanged' THEN " PROBLEM_DETAIL("cur") "::text END"
    "   FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN chk ON true LEFT JOIN upd ON true";

static const char *const categories[] = {"macro_common", "provincial_sector", "local_specific",
                                         NULL};
static const char *const sources[] = {"report", "warning_film", "clue_transfer", NULL};
static const char *const statuses[] = {"pending", "in_progress", "completed", "closed", NULL};

static bool code_ok(const char *s)
{
    size_t n = strlen(s);
    return n && s[0] != ' ' && s[n - 1] != ' ' && strpbrk(s, "\t\r\n") == NULL;
}

#define TEXT(name, req, nul, min, max) \
    {name, V_STRING, req, nul, min, max, NULL, ledger_not_blank, "must not be blank"}
static const struct vfield create_fields[] = {
    {"campaign_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    {"code", V_STRING, true, false, 1, 32, NULL, code_ok,
     "must not start or end with white space or contain line breaks"},
    TEXT("title", true, false, 1, 500),
    {"description", V_STRING, false, true, 0, 20000, NULL, NULL, NULL},
    {"category", V_STRING, true, false, 1, 0, categories, NULL, NULL},
    {"source", V_STRING, false, false, 1, 0, sources, NULL, NULL},
    {"lead_org_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    TEXT("responsible_name", false, true, 1, 100),
    TEXT("responsible_post", false, true, 1, 200),
    {"target", V_STRING, false, true, 0, 5000, NULL, NULL, NULL},
    {"deadline", V_STRING, false, true, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
};
static const struct vfield patch_fields[] = {
    TEXT("title", false, false, 1, 500),
    {"description", V_STRING, false, true, 0, 20000, NULL, NULL, NULL},
    {"category", V_STRING, false, false, 1, 0, categories, NULL, NULL},
    {"source", V_STRING, false, false, 1, 0, sources, NULL, NULL},
    {"lead_org_id", V_INT, false, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    TEXT("responsible_name", false, true, 1, 100),
    TEXT("responsible_post", false, true, 1, 200),
    {"target", V_STRING, false, true, 0, 5000, NULL, NULL, NULL},
    {"deadline", V_STRING, false, true, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
};
static const struct lfield create_x[] = {
    {"region_org_ids", false, false, 200, lcheck_id_list},
};
#define N(a) (sizeof a / sizeof a[0])

static void reply_not_found(struct req *r)
{
    reply_problem(r, 404, "not_found", "No such problem.");
}

static void list_problems(struct req *r)
{
    struct lerrs l = {.arena = r->arena};
    const char *p[13];
    p[0] = lq_id(r, &l, "campaign");
    p[1] = lq_enum(r, &l, "category", categories);
    p[2] = lq_enum(r, &l, "source", sources);
    p[3] = lq_enum_list(r, &l, "status", statuses);
    p[4] = lq_id(r, &l, "lead_org");
    p[5] = lq_official(r, &l);
    p[6] = lq_date(r, &l, "due_before");
    p[7] = lq_date(r, &l, "due_after");
    p[8] = lq_like(r, &l, "q");
    p[9] = lq_id(r, &l, "region");
    int sort = lq_sort(r, &l, sorts);
    char limit[8];
    lq_page(r, &l, sorts[sort], sort_keys[sort], limit, &p[10], &p[11]);
    p[12] = limit;
    if (!lq_ok_or_reply(r, &l))
        return;
    struct db_query q[] = {{ledger_sql_custom_plans, 0, NULL},
                           {p[8] ? sql_lists_q[sort] : sql_lists[sort], 13, p}};
    PGresult *res[2];
    if (!db_run_or_reply(r, q, 2, res))
        return;
    ledger_reply_row(r, 200, res[1], 0, -1);
}

static void get_problem(struct req *r)
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
                       strcmp(field, "campaign_id") == 0 ? "The campaign does not exist."
                                                         : "A referenced organisation does not exist.",
                       arena_printf(r->arena, "/%s", field), "does not exist");
}

static void create_problem(struct req *r)
{
    if (!ledger_body_or_reply(r, create_fields, N(create_fields), create_x, N(create_x)))
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
        reply_field_error(r, 409, "conflict", "The campaign already has a problem with this code.",
                           "/code", "already exists in this campaign");
    } else {
        reply_header(r, "Location",
                     arena_printf(r->arena, "/api/v1/problems/%s", PQgetvalue(res, 0, 2)));
        ledger_reply_row(r, 201, res, 4, 3);
    }
}

static void patch_problem(struct req *r)
{
    char id[24], version[16];
    if (!id_parse(req_param(r, "id"), id)) {
        reply_not_found(r);
        return;
    }
    if (!if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, patch_fields, N(patch_fields), create_x, N(create_x)))
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
    else
        ledger_reply_row(r, 200, res, 3, 2);
}

const struct route problems_routes[] = {
    {"GET", "/api/v1/problems", list_problems, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/problems", create_problem, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/problems/{id}", get_problem, PERM_LEDGER_READ, 0},
    {"PATCH", "/api/v1/problems/{id}", patch_problem, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
};
const size_t problems_routes_count = sizeof problems_routes / sizeof problems_routes[0];
