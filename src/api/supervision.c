/* Supervision (督办): reminders 催办, notices 通报, interviews 约谈, listed
 * supervision 挂牌督办 and on-site supervision 现场督办 of an org about some
 * tasks and complaints. The office issues (or confirms what an escalation
 * rule proposed), the unit signs for it and answers, the office closes it.
 * Escalation rules are data (escalation_rules); the scan applies them.
 * States, moves, rules: sql/migrations/0046_dispatch.sql.
 *
 * Who may make a move depends on the move (supervision_moves.actor), so the
 * transitions route only needs ledger.read and the SQL function answers 403
 * for the wrong actor; another org's supervision is invisible (404). */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/ledger.h"
#include "rectify/permissions.h"

#include "dispatch_internal.h"

#include <cJSON.h>
#include <string.h>

#define N(a) (sizeof a / sizeof a[0])

static const char *const kinds[] = {"reminder", "notice", "interview", "listed", "onsite", NULL};
static const char *const statuses[] = {"proposed", "issued", "signed", "responded",
                                       "closed", "dismissed", NULL};
static const char *const actions[] = {"confirm", "dismiss", "sign", "respond", "close", NULL};

#define DATE_FIELD(name, req) \
    {name, V_STRING, req, !(req), 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"}
#define TEXT_FIELD(name, max) \
    {name, V_STRING, false, true, 1, max, NULL, ledger_not_blank, "must not be blank"}

static const struct vfield create_fields[] = {
    {"kind", V_STRING, true, false, 1, 20, kinds, NULL, NULL},
    {"org_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    {"title", V_STRING, true, false, 1, 300, NULL, ledger_not_blank, "must not be blank"},
    {"content", V_STRING, false, true, 0, 20000, NULL, NULL, NULL},
    DATE_FIELD("response_due", false),
    TEXT_FIELD("doc_number", 100),
    TEXT_FIELD("interviewee", 500),
    TEXT_FIELD("interviewer", 500),
    DATE_FIELD("interview_date", false),
    {"minutes_attachment_id", V_INT, false, true, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    TEXT_FIELD("removal_conditions", 5000),
    DATE_FIELD("onsite_date", false),
    TEXT_FIELD("onsite_place", 500),
};
static const struct lfield create_x[] = {
    {"task_ids", false, false, 500, lcheck_id_list},
    {"complaint_ids", false, false, 500, lcheck_id_list},
    {"circulated_org_ids", false, false, 200, lcheck_id_list},
};

/* Members that belong to one kind only (the others refuse them). */
static const struct {
    const char *field, *kind;
} kind_fields[] = {
    {"doc_number", "notice"},          {"circulated_org_ids", "notice"},
    {"interviewee", "interview"},      {"interviewer", "interview"},
    {"interview_date", "interview"},   {"minutes_attachment_id", "interview"},
    {"removal_conditions", "listed"},  {"onsite_date", "onsite"},
    {"onsite_place", "onsite"},
};

static const struct vfield transition_fields[] = {
    {"action", V_STRING, true, false, 1, 20, actions, NULL, NULL},
    {"comment", V_STRING, false, true, 0, 2000, NULL, NULL, NULL},
    {"response", V_STRING, false, false, 1, 20000, NULL, ledger_not_blank, "must not be blank"},
    TEXT_FIELD("doc_number", 100),
    TEXT_FIELD("interviewee", 500),
    TEXT_FIELD("interviewer", 500),
    DATE_FIELD("interview_date", false),
    TEXT_FIELD("removal_conditions", 5000),
    DATE_FIELD("response_due", false),
    DATE_FIELD("delisted_on", false),
};
static const struct lfield transition_x[] = {
    {"attachment_ids", false, false, 50, lcheck_id_list},
    {"circulated_org_ids", false, false, 200, lcheck_id_list},
};

/* Members that go with one action only. */
static const struct {
    const char *field, *action;
} action_fields[] = {
    {"response", "respond"},           {"attachment_ids", "respond"},
    {"doc_number", "confirm"},         {"circulated_org_ids", "confirm"},
    {"interviewee", "confirm"},        {"interviewer", "confirm"},
    {"interview_date", "confirm"},     {"removal_conditions", "confirm"},
    {"response_due", "confirm"},       {"delisted_on", "close"},
};

static const struct vfield rule_fields[] = {
    {"name", V_STRING, true, false, 1, 200, NULL, ledger_not_blank, "must not be blank"},
    {"condition", V_STRING, true, false, 1, 40, NULL, NULL, NULL},
    {"kind", V_STRING, true, false, 1, 20, kinds, NULL, NULL},
    {"response_days", V_INT, false, false, 1, 90, NULL, NULL, NULL},
    {"active", V_BOOL, false, false, 0, 0, NULL, NULL, NULL},
};
static const struct vfield rule_patch_fields[] = {
    {"name", V_STRING, false, false, 1, 200, NULL, ledger_not_blank, "must not be blank"},
    {"condition", V_STRING, false, false, 1, 40, NULL, NULL, NULL},
    {"kind", V_STRING, false, false, 1, 20, kinds, NULL, NULL},
    {"response_days", V_INT, false, false, 1, 90, NULL, NULL, NULL},
    {"active", V_BOOL, false, false, 0, 0, NULL, NULL, NULL},
};
static const struct lfield rule_x[] = {
    {"params", true, false, 0, dispatch_check_object},
};
static const struct lfield rule_patch_x[] = {
    {"params", false, false, 0, dispatch_check_object},
};

#define SUP_JSON(x) "rectify.supervision_json(" x ")"

/* $1 kind, $2 statuses, $3 overdue, $4 org (subtree), $5 task, $6 after id,
 * $7 limit; newest first. */
static const char sql_list[] =
    "WITH page AS (SELECT s.x, s.id, row_number() OVER (ORDER BY s.id DESC) AS n FROM ("
    "  SELECT v AS x, v.id FROM supervisions v"
    "   WHERE ($1::text IS NULL OR v.kind = $1::text)"
    "     AND ($2::text[] IS NULL OR v.status = ANY ($2::text[]))"
    "     AND ($3::boolean IS NULL OR $3::boolean = coalesce(v.status IN ('issued', 'signed')"
    "          AND v.response_due < current_date, false))"
    "     AND ($4::bigint IS NULL OR v.owner_org_path <@ (SELECT o.path FROM orgs o"
    "          WHERE o.id = $4::bigint))"
    "     AND ($5::bigint IS NULL OR v.task_ids @> ARRAY[$5::bigint])"
    "     AND ($6::bigint IS NULL OR v.id < $6::bigint)"
    "   ORDER BY v.id DESC LIMIT $7::int + 1) s)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(" SUP_JSON("p.x") " ORDER BY p.n) FROM page p"
    "                     WHERE p.n <= $7::int), '[]'),"
    "  'next_cursor', (SELECT " LEDGER_CURSOR("id", "NULL::text", "p.id") " FROM page p"
    "                  WHERE p.n = $7::int AND EXISTS (SELECT 1 FROM page q WHERE q.n > $7::int))"
    " ) AS json";

static const char sql_get[] =
    "SELECT s.version, " SUP_JSON("s") " AS json FROM supervisions s WHERE s.id = $1::bigint";

static const char sql_create[] =
    "SELECT version, json, location FROM rectify.supervision_create($1::jsonb)";

static const char sql_transition[] =
    "SELECT version, json FROM rectify.supervision_transition($1::bigint, $2::int, $3::jsonb)";

/* $1 task. NULL (404) when the task is not visible. */
static const char sql_task_history[] =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM tasks t WHERE t.id = $1::bigint) THEN"
    " json_build_object('items', coalesce((SELECT json_agg(" SUP_JSON("s") " ORDER BY s.id)"
    "   FROM supervisions s WHERE s.task_ids @> ARRAY[$1::bigint]), '[]')) END AS json";

static const char sql_scan[] = "SELECT rectify.supervision_escalation_scan() AS json";

static const char sql_rules[] =
    "SELECT json_build_object('items', coalesce((SELECT json_agg("
    "   rectify.escalation_rule_json(r) ORDER BY r.id) FROM escalation_rules r), '[]'),"
    " 'conditions', (SELECT json_agg(json_build_object('code', c.code, 'params', c.params,"
    "   'label', c.label, 'description', c.description) ORDER BY c.code)"
    "   FROM escalation_conditions c)) AS json";

static const char sql_rule_create[] =
    "SELECT version, json, location FROM rectify.escalation_rule_create($1::jsonb)";

static const char sql_rule_patch[] =
    "SELECT version, json FROM rectify.escalation_rule_patch($1::bigint, $2::int, $3::jsonb)";

/* ------------------------------------------------------------------ handlers */

static void list_supervisions(struct req *r)
{
    struct lerrs l = {.arena = r->arena};
    const char *kind = lq_enum(r, &l, "kind", kinds);
    const char *status = lq_enum_list(r, &l, "status", statuses);
    const char *overdue = lq_bool(r, &l, "overdue");
    const char *org = lq_id(r, &l, "org");
    const char *task = lq_id(r, &l, "task");
    char limit[8];
    const char *key, *after;
    lq_page(r, &l, "id", LKEY_ID, limit, &key, &after);
    if (!lq_ok_or_reply(r, &l))
        return;
    const char *params[] = {kind, status, overdue, org, task, after, limit};
    struct db_query q = {sql_list, 7, params};
    reply_query_row(r, 200, &q, "supervision");
}

static void create_supervision(struct req *r)
{
    if (!ledger_body_or_reply(r, create_fields, N(create_fields), create_x, N(create_x)))
        return;
    const char *kind = ledger_json_string(r->json, "kind");
    struct lerrs l = {.arena = r->arena};
    for (size_t i = 0; i < N(kind_fields); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, kind_fields[i].field);
        if (v && !cJSON_IsNull(v) && strcmp(kind, kind_fields[i].kind) != 0)
            lerr_body(&l, arena_printf(r->arena, "/%s", kind_fields[i].field), "invalid",
                      arena_printf(r->arena, "is only for kind %s", kind_fields[i].kind));
    }
    if (l.n) {
        reply_invalid_body(r, l.e, l.n);
        return;
    }
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {body};
    struct db_query q = {sql_create, 1, params};
    reply_query_row(r, 201, &q, "supervision");
}

static void get_supervision(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "supervision", id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_get, 1, params};
    reply_query_row(r, 200, &q, "supervision");
}

static void transition_supervision(struct req *r)
{
    char id[24], version[16];
    if (!id_param_or_reply(r, "id", "supervision", id) || !if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, transition_fields, N(transition_fields), transition_x,
                              N(transition_x)))
        return;
    const char *action = ledger_json_string(r->json, "action");
    struct lerrs l = {.arena = r->arena};
    for (size_t i = 0; i < N(action_fields); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, action_fields[i].field);
        if (v && !cJSON_IsNull(v) && strcmp(action, action_fields[i].action) != 0)
            lerr_body(&l, arena_printf(r->arena, "/%s", action_fields[i].field), "invalid",
                      arena_printf(r->arena, "is only for action %s", action_fields[i].action));
    }
    if (strcmp(action, "respond") == 0 && !ledger_json_string(r->json, "response"))
        lerr_body(&l, "/response", "required", "is required to respond");
    if (l.n) {
        reply_invalid_body(r, l.e, l.n);
        return;
    }
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, version, body};
    struct db_query q = {sql_transition, 3, params};
    reply_query_row(r, 200, &q, "supervision");
}

static void task_supervisions(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "task", id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_task_history, 1, params};
    reply_query_row(r, 200, &q, "task");
}

static void escalation_scan(struct req *r)
{
    struct db_query q = {sql_scan, 0, NULL};
    reply_query_row(r, 200, &q, "supervision");
}

static void list_rules(struct req *r)
{
    struct db_query q = {sql_rules, 0, NULL};
    reply_query_row(r, 200, &q, "escalation rule");
}

static void create_rule(struct req *r)
{
    if (!ledger_body_or_reply(r, rule_fields, N(rule_fields), rule_x, N(rule_x)))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {body};
    struct db_query q = {sql_rule_create, 1, params};
    reply_query_row(r, 201, &q, "escalation rule");
}

static void patch_rule(struct req *r)
{
    char id[24], version[16];
    if (!id_param_or_reply(r, "id", "escalation rule", id) || !if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, rule_patch_fields, N(rule_patch_fields), rule_patch_x,
                              N(rule_patch_x)))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, version, body};
    struct db_query q = {sql_rule_patch, 3, params};
    reply_query_row(r, 200, &q, "escalation rule");
}

const struct route supervision_routes[] = {
    {"GET", "/api/v1/supervisions", list_supervisions, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/supervisions", create_supervision, PERM_SUPERVISION_WRITE,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/supervisions/escalation-scan", escalation_scan, PERM_SUPERVISION_WRITE, 0},
    {"GET", "/api/v1/supervisions/{id}", get_supervision, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/supervisions/{id}/transitions", transition_supervision, PERM_LEDGER_READ,
     ROUTE_JSON_BODY},
    {"GET", "/api/v1/tasks/{id}/supervisions", task_supervisions, PERM_LEDGER_READ, 0},
    {"GET", "/api/v1/escalation-rules", list_rules, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/escalation-rules", create_rule, PERM_SUPERVISION_WRITE, ROUTE_JSON_BODY},
    {"PATCH", "/api/v1/escalation-rules/{id}", patch_rule, PERM_SUPERVISION_WRITE,
     ROUTE_JSON_BODY},
};
const size_t supervision_routes_count = sizeof supervision_routes / sizeof supervision_routes[0];
