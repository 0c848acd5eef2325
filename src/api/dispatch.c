/* Dispatch rounds (清单化调度): the office calls on the responsible orgs to
 * report on a fixed list of tasks by a due time; units see what they owe in
 * their inbox and answer with progress reports naming the round
 * (task_reports.c, round_id); the board counts who answered on time, late
 * or not at all, and exports as the 调度表. Recurring rounds come from
 * schedules. Rules, states and concurrency: sql/migrations/0046_dispatch.sql.
 *
 * Writes are SQL functions returning (version, json, location); every
 * domain outcome is raised there, so the handlers only validate the body's
 * form and pass it on. */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/export.h"
#include "rectify/ledger.h"
#include "rectify/permissions.h"

#include "dispatch_internal.h"

#include <cJSON.h>
#include <ctype.h>
#include <string.h>

#define N(a) (sizeof a / sizeof a[0])

/* ------------------------------------------------------------ shared helpers */

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

bool dispatch_timestamp_ok(const char *s)
{
    /* YYYY-MM-DDTHH:MM[:SS[.frac]](Z|±HH:MM); the calendar is checked by
     * ledger_date_ok, the clock by ranges. */
    if (!s || strlen(s) < 17 || strlen(s) > 40)
        return false;
    char date[11];
    memcpy(date, s, 10);
    date[10] = 0;
    if (!ledger_date_ok(date) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) ||
        s[13] != ':' || !digits(s + 14, 2))
        return false;
    if ((s[11] - '0') * 10 + (s[12] - '0') > 23 || (s[14] - '0') * 10 + (s[15] - '0') > 59)
        return false;
    const char *p = s + 16;
    if (*p == ':') {
        if (!digits(p + 1, 2) || (p[1] - '0') * 10 + (p[2] - '0') > 59)
            return false;
        p += 3;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                return false;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if ((*p == 'Z' || *p == 'z') && !p[1])
        return true;
    return (*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
           !p[6] && (p[1] - '0') * 10 + (p[2] - '0') <= 14;
}

void dispatch_check_object(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    (void)max;
    if (!cJSON_IsObject(v))
        lerr_body(l, ptr, "wrong_type", "must be an object");
}

/* 2026-11, or a ten-day period 2026-11上旬 / 中旬 / 下旬. */
static bool period_ok(const char *s)
{
    if (!s || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2))
        return false;
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    if (m < 1 || m > 12)
        return false;
    return !s[7] || strcmp(s + 7, "上旬") == 0 || strcmp(s + 7, "中旬") == 0 ||
           strcmp(s + 7, "下旬") == 0;
}

/* scope: {"kind": all_open | orgs | problems, "org_ids": [...], "problem_ids": [...]}. */
static void check_scope(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    (void)max;
    if (!cJSON_IsObject(v)) {
        lerr_body(l, ptr, "wrong_type", "must be an object");
        return;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(v, "kind");
    const char *k = cJSON_IsString(kind) ? kind->valuestring : NULL;
    if (!k || (strcmp(k, "all_open") && strcmp(k, "orgs") && strcmp(k, "problems")))
        lerr_body(l, arena_printf(l->arena, "%s/kind", ptr), k ? "not_in_vocabulary" : "required",
                  "must be one of all_open, orgs, problems");
    for (const cJSON *m = v->child; m; m = m->next) {
        const char *sub = arena_printf(l->arena, "%s/%s", ptr, m->string);
        if (strcmp(m->string, "org_ids") == 0 || strcmp(m->string, "problem_ids") == 0)
            lcheck_id_list(l, sub, m, 500);
        else if (strcmp(m->string, "kind"))
            lerr_body(l, sub, "unknown_field", "is not a member of a scope");
    }
    if (!k)
        return;
    bool orgs = cJSON_GetObjectItemCaseSensitive(v, "org_ids") != NULL;
    bool problems = cJSON_GetObjectItemCaseSensitive(v, "problem_ids") != NULL;
    if (strcmp(k, "orgs") == 0 && !orgs)
        lerr_body(l, arena_printf(l->arena, "%s/org_ids", ptr), "required",
                  "is required for kind orgs");
    if (strcmp(k, "problems") == 0 && !problems)
        lerr_body(l, arena_printf(l->arena, "%s/problem_ids", ptr), "required",
                  "is required for kind problems");
    if (strcmp(k, "orgs") && orgs)
        lerr_body(l, arena_printf(l->arena, "%s/org_ids", ptr), "invalid",
                  "is only for kind orgs");
    if (strcmp(k, "problems") && problems)
        lerr_body(l, arena_printf(l->arena, "%s/problem_ids", ptr), "invalid",
                  "is only for kind problems");
}

static bool round_id_or_reply(struct req *r, char id[24])
{
    return id_param_or_reply(r, "id", "dispatch round", id);
}

/* ------------------------------------------------------------------ rounds */

#define ROUND_JSON(x) "rectify.dispatch_round_json(" x ")"

/* $1 campaign, $2 status, $3 after id, $4 limit; newest first. */
static const char sql_list[] =
    "WITH page AS (SELECT s.x, s.id, row_number() OVER (ORDER BY s.id DESC) AS n FROM ("
    "  SELECT r AS x, r.id FROM dispatch_rounds r"
    "   WHERE ($1::bigint IS NULL OR r.campaign_id = $1::bigint)"
    "     AND ($2::text IS NULL OR r.status = $2::text)"
    "     AND ($3::bigint IS NULL OR r.id < $3::bigint)"
    "   ORDER BY r.id DESC LIMIT $4::int + 1) s)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(" ROUND_JSON("p.x") " ORDER BY p.n) FROM page p"
    "                     WHERE p.n <= $4::int), '[]'),"
    "  'next_cursor', (SELECT " LEDGER_CURSOR("id", "NULL::text", "p.id") " FROM page p"
    "                  WHERE p.n = $4::int AND EXISTS (SELECT 1 FROM page q WHERE q.n > $4::int))"
    " ) AS json";

static const char sql_get[] =
    "SELECT r.version, " ROUND_JSON("r") " AS json FROM dispatch_rounds r WHERE r.id = $1::bigint";

static const char sql_open[] = "SELECT version, json, location FROM rectify.dispatch_round_open($1::jsonb)";

static const char sql_transition[] =
    "SELECT version, json FROM rectify.dispatch_round_transition($1::bigint, $2::int, $3::jsonb)";

/* Counts of the states of the rows of `it` (column s), with percentages. */
#define PCT(cond) "round(100.0 * count(*) FILTER (WHERE " cond ") / nullif(count(*), 0), 1)"
#define STATS                                                                              \
    "'items', count(*), 'on_time', count(*) FILTER (WHERE s = 'on_time'),"                 \
    " 'late', count(*) FILTER (WHERE s = 'late'),"                                          \
    " 'pending', count(*) FILTER (WHERE s = 'pending'),"                                    \
    " 'missing', count(*) FILTER (WHERE s = 'missing'),"                                    \
    " 'on_time_pct', " PCT("s = 'on_time'") ", 'late_pct', " PCT("s = 'late'") ","         \
    " 'missing_pct', " PCT("s = 'missing'") ","                                             \
    " 'reported_pct', " PCT("s IN ('on_time', 'late')")

/* $1 round id. Per org: the items the caller sees, by org code. */
static const char sql_board[] =
    "WITH rd AS (SELECT r FROM dispatch_rounds r WHERE r.id = $1::bigint),"
    " it AS (SELECT i.owner_org_id AS org,"
    "   rectify.dispatch_item_state(i.reported_at, (rd.r).due_at, (rd.r).status) AS s"
    "   FROM dispatch_items i, rd WHERE i.round_id = $1::bigint),"
    " g AS (SELECT org, jsonb_build_object(" STATS ") AS j FROM it GROUP BY org)"
    " SELECT json_build_object('round', " ROUND_JSON("rd.r") ","
    "   'totals', (SELECT json_build_object(" STATS ") FROM it),"
    "   'orgs', coalesce((SELECT json_agg(jsonb_build_object('org', jsonb_build_object("
    "       'id', o.id, 'code', o.code, 'name', o.name)) || g.j ORDER BY o.code)"
    "     FROM g JOIN orgs o ON o.id = g.org), '[]')) AS json FROM rd";

static const char *const item_states[] = {"on_time", "late", "pending", "missing", NULL};
static const char *const round_statuses[] = {"open", "closed", NULL};

#define ITEM_JSON(i, s)                                                                    \
    "json_build_object('id', " i ".id, 'round_id', " i ".round_id,"                        \
    " 'task', (SELECT json_build_object('id', t.id, 'code', t.code, 'title', t.title,"      \
    "   'status', t.status, 'percent', t.percent) FROM tasks t WHERE t.id = " i ".task_id)," \
    " 'org', " LEDGER_ORG_REF(i ".owner_org_id") ", 'state', " s ","                        \
    " 'report_id', " i ".report_id, 'reported_at', " i ".reported_at,"                      \
    " 'answers', " i ".answers)"

/* $1 round, $2 state, $3 org, $4 after id, $5 limit; in id order. NULL
 * when there is no such round. */
static const char sql_items[] =
    "WITH rd AS (SELECT r.* FROM dispatch_rounds r WHERE r.id = $1::bigint),"
    " page AS (SELECT x.*, row_number() OVER (ORDER BY x.id) AS n FROM ("
    "  SELECT i.*, rectify.dispatch_item_state(i.reported_at, rd.due_at, rd.status) AS st"
    "    FROM dispatch_items i, rd WHERE i.round_id = $1::bigint"
    "     AND ($3::bigint IS NULL OR i.owner_org_id = $3::bigint)"
    "     AND ($2::text IS NULL"
    "          OR rectify.dispatch_item_state(i.reported_at, rd.due_at, rd.status) = $2::text)"
    "     AND ($4::bigint IS NULL OR i.id > $4::bigint)"
    "   ORDER BY i.id LIMIT $5::int + 1) x)"
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM rd) THEN json_build_object("
    "  'items', coalesce((SELECT json_agg(" ITEM_JSON("p", "p.st") " ORDER BY p.n) FROM page p"
    "                     WHERE p.n <= $5::int), '[]'),"
    "  'next_cursor', (SELECT " LEDGER_CURSOR("id", "NULL::text", "p.id") " FROM page p"
    "                  WHERE p.n = $5::int AND EXISTS (SELECT 1 FROM page q WHERE q.n > $5::int)))"
    " END AS json";

static const struct vfield open_fields[] = {
    {"campaign_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    {"name", V_STRING, true, false, 1, 200, NULL, ledger_not_blank, "must not be blank"},
    {"period", V_STRING, true, false, 7, 12, NULL, period_ok,
     "must be a month YYYY-MM or a ten-day period YYYY-MM上旬/中旬/下旬"},
    {"due_at", V_STRING, true, false, 17, 40, NULL, dispatch_timestamp_ok,
     "must be an RFC 3339 date-time with an offset"},
    {"requirements", V_STRING, true, false, 1, 5000, NULL, ledger_not_blank, "must not be blank"},
};
static const struct lfield open_x[] = {
    {"scope", true, false, 0, check_scope},
};

static const char *const round_actions[] = {"close", NULL};
static const struct vfield transition_fields[] = {
    {"action", V_STRING, true, false, 1, 20, round_actions, NULL, NULL},
};

static void list_rounds(struct req *r)
{
    struct lerrs l = {.arena = r->arena};
    const char *campaign = lq_id(r, &l, "campaign");
    const char *status = lq_enum(r, &l, "status", round_statuses);
    char limit[8];
    const char *key, *after;
    lq_page(r, &l, "id", LKEY_ID, limit, &key, &after);
    if (!lq_ok_or_reply(r, &l))
        return;
    const char *params[] = {campaign, status, after, limit};
    struct db_query q = {sql_list, 4, params};
    reply_query_row(r, 200, &q, "dispatch round");
}

static void open_round(struct req *r)
{
    if (!ledger_body_or_reply(r, open_fields, N(open_fields), open_x, N(open_x)))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {body};
    struct db_query q = {sql_open, 1, params};
    reply_query_row(r, 201, &q, "dispatch round");
}

static void get_round(struct req *r)
{
    char id[24];
    if (!round_id_or_reply(r, id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_get, 1, params};
    reply_query_row(r, 200, &q, "dispatch round");
}

static void transition_round(struct req *r)
{
    char id[24], version[16];
    if (!round_id_or_reply(r, id) || !if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, transition_fields, N(transition_fields), NULL, 0))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, version, body};
    struct db_query q = {sql_transition, 3, params};
    reply_query_row(r, 200, &q, "dispatch round");
}

static void round_board(struct req *r)
{
    char id[24];
    if (!round_id_or_reply(r, id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_board, 1, params};
    reply_query_row(r, 200, &q, "dispatch round");
}

static void round_items(struct req *r)
{
    char id[24];
    if (!round_id_or_reply(r, id))
        return;
    struct lerrs l = {.arena = r->arena};
    const char *state = lq_enum(r, &l, "state", item_states);
    const char *org = lq_id(r, &l, "org");
    char limit[8];
    const char *key, *after;
    lq_page(r, &l, "id", LKEY_ID, limit, &key, &after);
    if (!lq_ok_or_reply(r, &l))
        return;
    const char *params[] = {id, state, org, after, limit};
    struct db_query q = {sql_items, 5, params};
    reply_query_row(r, 200, &q, "dispatch round");
}

/* ------------------------------------------------------------------ export */

static const struct export_column board_cols[] = {
    {"单位代码", EXPORT_TEXT, 12},
    {"牵头单位", EXPORT_TEXT, 20},
    {"任务编号", EXPORT_TEXT, 12},
    {"任务名称", EXPORT_TEXT, 36},
    {"责任人", EXPORT_TEXT, 10},
    {"报送截止时间", EXPORT_DATETIME, 18},
    {"报送情况", EXPORT_TEXT, 10},
    {"报送时间", EXPORT_DATETIME, 18},
    {"报送进度(%)", EXPORT_INT, 10},
    {"报送内容", EXPORT_TEXT, 60},
    {"报送次数", EXPORT_INT, 8},
};

/* The 调度表: items by org code and id; keyset $2 org code, $3 id; $4 batch. */
static const char sql_export[] =
    "SELECT o.code, i.id, o.code, o.name, t.code, t.title, t.responsible_name,"
    " to_char(d.due_at, 'YYYY-MM-DD HH24:MI:SS'),"
    " CASE rectify.dispatch_item_state(i.reported_at, d.due_at, d.status)"
    "   WHEN 'on_time' THEN '按时报送' WHEN 'late' THEN '逾期报送'"
    "   WHEN 'pending' THEN '待报送' ELSE '未报送' END,"
    " to_char(i.reported_at, 'YYYY-MM-DD HH24:MI:SS'), rp.percent::text, rp.narrative,"
    " i.answers::text"
    " FROM dispatch_items i JOIN dispatch_rounds d ON d.id = i.round_id"
    " JOIN tasks t ON t.id = i.task_id JOIN orgs o ON o.id = i.owner_org_id"
    " LEFT JOIN task_reports rp ON rp.id = i.report_id"
    " WHERE i.round_id = $1::bigint"
    "   AND ($3::bigint IS NULL OR (o.code, i.id) > ($2::text, $3::bigint))"
    " ORDER BY o.code, i.id LIMIT $4::int";

static const char sql_export_name[] =
    "SELECT r.name || '-' || r.period FROM dispatch_rounds r WHERE r.id = $1::bigint";

static void export_board(struct req *r)
{
    char id[24];
    enum export_format fmt;
    if (!round_id_or_reply(r, id) || !export_format_or_reply(r, &fmt))
        return;
    const char *one[] = {id};
    struct db_query q = {sql_export_name, 1, one};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    if (PQntuples(res) != 1) {
        reply_no_such(r, "dispatch round");
        return;
    }
    const char *p[4] = {id, NULL, NULL, NULL}; /* the keyset and batch: set by export_run */
    struct export_spec spec = {
        .sql = sql_export, .params = p, .nparams = 4, .cols = board_cols,
        .ncols = N(board_cols), .sheet = "调度表",
        .filename = arena_printf(r->arena, "调度表-%s", PQgetvalue(res, 0, 0)),
    };
    export_run(r, fmt, &spec);
}

/* ------------------------------------------------------------------- inbox */

/* What the caller's org (and its subtree) owes: unanswered items of open
 * rounds, and supervision to sign for or answer; soonest due first. */
static const char sql_inbox[] =
    "SELECT json_build_object("
    " 'dispatch_items', coalesce((SELECT json_agg(json_build_object("
    "     'id', x.id, 'round', json_build_object('id', x.rid, 'name', x.name, 'period', x.period,"
    "       'requirements', x.requirements), 'due_at', x.due_at,"
    "     'task', json_build_object('id', x.tid, 'code', x.code, 'title', x.title),"
    "     'org', " LEDGER_ORG_REF("x.owner_org_id") ","
    "     'state', rectify.dispatch_item_state(NULL, x.due_at, 'open')) ORDER BY x.due_at, x.id)"
    "   FROM (SELECT i.id, i.owner_org_id, d.id AS rid, d.name, d.period, d.requirements, d.due_at,"
    "                t.id AS tid, t.code, t.title"
    "           FROM dispatch_items i JOIN dispatch_rounds d ON d.id = i.round_id"
    "           JOIN tasks t ON t.id = i.task_id"
    "          WHERE i.owner_org_path <@ rectify.org_path() AND i.report_id IS NULL"
    "            AND d.status = 'open' ORDER BY d.due_at, i.id LIMIT 500) x), '[]'),"
    " 'supervisions', coalesce((SELECT json_agg(json_build_object("
    "     'id', s.id, 'kind', s.kind, 'status', s.status, 'title', s.title,"
    "     'org', " LEDGER_ORG_REF("s.owner_org_id") ", 'response_due', s.response_due,"
    "     'overdue', s.response_due < current_date,"
    "     'next_action', CASE s.status WHEN 'issued' THEN 'sign' ELSE 'respond' END)"
    "     ORDER BY s.response_due NULLS LAST, s.id)"
    "   FROM (SELECT * FROM supervisions s WHERE s.owner_org_path <@ rectify.org_path()"
    "          AND s.status IN ('issued', 'signed')"
    "          ORDER BY s.response_due NULLS LAST, s.id LIMIT 500) s), '[]')) AS json";

static void inbox(struct req *r)
{
    struct db_query q = {sql_inbox, 0, NULL};
    reply_query_row(r, 200, &q, "inbox");
}

/* --------------------------------------------------------------- schedules */

static const struct vfield schedule_fields[] = {
    {"campaign_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    {"name", V_STRING, true, false, 1, 200, NULL, ledger_not_blank, "must not be blank"},
    {"day_of_month", V_INT, true, false, 1, 28, NULL, NULL, NULL},
    {"due_days", V_INT, true, false, 1, 60, NULL, NULL, NULL},
    {"requirements", V_STRING, true, false, 1, 5000, NULL, ledger_not_blank, "must not be blank"},
    {"first_run_at", V_STRING, false, true, 17, 40, NULL, dispatch_timestamp_ok,
     "must be an RFC 3339 date-time with an offset"},
};
static const struct lfield schedule_x[] = {
    {"scope", true, false, 0, check_scope},
};

static const char sql_schedule_create[] =
    "SELECT version, json, location FROM rectify.dispatch_schedule_create($1::jsonb)";
static const char sql_schedule_list[] =
    "SELECT json_build_object('items', coalesce(json_agg(rectify.dispatch_schedule_json(s)"
    " ORDER BY s.id), '[]')) AS json FROM dispatch_schedules s";
static const char sql_open_due[] =
    "SELECT json_build_object('opened', rectify.dispatch_open_due()) AS json";

static void create_schedule(struct req *r)
{
    if (!ledger_body_or_reply(r, schedule_fields, N(schedule_fields), schedule_x,
                              N(schedule_x)))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {body};
    struct db_query q = {sql_schedule_create, 1, params};
    reply_query_row(r, 201, &q, "dispatch schedule");
}

static void list_schedules(struct req *r)
{
    struct db_query q = {sql_schedule_list, 0, NULL};
    reply_query_row(r, 200, &q, "dispatch schedule");
}

static void open_due(struct req *r)
{
    struct db_query q = {sql_open_due, 0, NULL};
    reply_query_row(r, 200, &q, "dispatch schedule");
}

const struct route dispatch_routes[] = {
    {"GET", "/api/v1/dispatch-rounds", list_rounds, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/dispatch-rounds", open_round, PERM_DISPATCH_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/dispatch-rounds/{id}", get_round, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/dispatch-rounds/{id}/transitions", transition_round, PERM_DISPATCH_WRITE,
     ROUTE_JSON_BODY},
    {"GET", "/api/v1/dispatch-rounds/{id}/board", round_board, PERM_LEDGER_READ, 0},
    {"GET", "/api/v1/dispatch-rounds/{id}/items", round_items, PERM_LEDGER_READ, 0},
    {"GET", "/api/v1/dispatch-rounds/{id}/export", export_board, PERM_LEDGER_READ, 0},
    {"GET", "/api/v1/dispatch-schedules", list_schedules, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/dispatch-schedules", create_schedule, PERM_DISPATCH_WRITE,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/dispatch-schedules/open-due", open_due, PERM_DISPATCH_WRITE, 0},
    {"GET", "/api/v1/me/inbox", inbox, PERM_LEDGER_READ, 0},
};
const size_t dispatch_routes_count = sizeof dispatch_routes / sizeof dispatch_routes[0];
