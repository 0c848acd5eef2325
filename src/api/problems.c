/* Feedback problems (反馈问题) of a campaign. The lead org owns a problem
 * (org scope); its status is derived from its tasks by the database. The
 * detail answer carries a summary of the tasks the caller can see: counts by
 * status and by warning level. */
#include "rectify/api.h"

#include "rectify/params.h"
#include "rectify/ledger.h"
#include "rectify/permissions.h"

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
    "SELECT p.version, " PROBLEM_DETAIL("p") " AS json FROM problems p WHERE p.id = $1::bigint";

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

/* Writes are functions of 0040_handler_protocol.sql that raise every outcome
 * but success and return the row, rendered here as get renders it. */
static const char sql_create[] =
    "SELECT p.version, " PROBLEM_DETAIL("p") " AS json, '/api/v1/problems/' || p.id AS location"
    "  FROM rectify.problem_create($1::jsonb) p";
static const char sql_patch[] =
    "SELECT p.version, " PROBLEM_DETAIL("p") " AS json"
    "  FROM rectify.problem_patch($1::bigint, $2::int, $3::jsonb) p";

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
    if (!id_param_or_reply(r, "id", "problem", id))
        return;
    const char *params[] = {id};
    reply_query_row(r, 200, &(struct db_query){sql_get, 1, params}, "problem");
}

static void create_problem(struct req *r)
{
    const char *body;
    if (!ledger_body_or_reply(r, create_fields, N(create_fields), create_x, N(create_x)) ||
        !(body = json_body_text_or_reply(r)))
        return;
    const char *params[] = {body};
    reply_query_row(r, 201, &(struct db_query){sql_create, 1, params}, "problem");
}

static void patch_problem(struct req *r)
{
    char id[24], version[16];
    const char *body;
    if (!id_param_or_reply(r, "id", "problem", id) || !if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, patch_fields, N(patch_fields), create_x, N(create_x)) ||
        !(body = json_body_text_or_reply(r)))
        return;
    const char *params[] = {id, version, body};
    reply_query_row(r, 200, &(struct db_query){sql_patch, 3, params}, "problem");
}

const struct route problems_routes[] = {
    {"GET", "/api/v1/problems", list_problems, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/problems", create_problem, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/problems/{id}", get_problem, PERM_LEDGER_READ, 0},
    {"PATCH", "/api/v1/problems/{id}", patch_problem, PERM_LEDGER_WRITE, ROUTE_JSON_BODY},
};
const size_t problems_routes_count = sizeof problems_routes / sizeof problems_routes[0];
