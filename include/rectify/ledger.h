/* Helpers shared by the ledger modules (campaigns.c, problems.c, tasks.c,
 * task_extensions.c, task_reports.c): request-body validation beyond the
 * scalar field table of validate.h (id lists, measures, stage targets),
 * typed query parameters, keyset cursors, If-Match / ETag.
 *
 * Everything a function returns lives in the request's arena. Functions
 * named *_or_reply have answered the request when they return false. */
#ifndef RECTIFY_LEDGER_H
#define RECTIFY_LEDGER_H

#include "rectify/params.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "rectify/http.h"
#include "rectify/validate.h"

struct cJSON;

#define LEDGER_ID_MAX 9007199254740991LL

/* --- SQL fragments (string literals, pasted into static statements) -------- */
/* Warning level and overdue flag of task row t; s is a row of ledger_settings
 * (rules: rectify.task_warning in sql/migrations/0011_ledger.sql). */
#define LEDGER_WARNING(t, s)                                                              \
    "rectify.task_warning(" t ".status, " t ".deadline_kind, " t ".effective_deadline, "  \
    t ".percent, coalesce(" t ".started_at, " t ".created_at), " t ".last_reported_at, "  \
    s ".report_interval_days, " s ".due_soon_days, " s ".schedule_tolerance_pct)"
#define LEDGER_OVERDUE(t) \
    "rectify.task_overdue(" t ".status, " t ".deadline_kind, " t ".effective_deadline)"
/* {"id","code","name"} of the org with id expression e. */
#define LEDGER_ORG_REF(e)                                                                  \
    "(SELECT json_build_object('id', o.id, 'code', o.code, 'name', o.name) FROM orgs o"   \
    " WHERE o.id = " e ")"
/* The opaque keyset cursor: base64url (no padding, no line breaks) of
 * {"s": sort, "k": key text, "i": id}; parsed back by lq_page. */
#define LEDGER_CURSOR(sort, key, id)                                                       \
    "translate(encode(convert_to(json_build_object('s', '" sort "', 'k', " key ", 'i', "  \
    id ")::text, 'UTF8'), 'base64'), '+/=' || chr(10), '-_')"
/* Keyset sort keys: the key column, its cursor text and the cast back. */
#define LEDGER_TS_KEY(t) \
    "to_char(" t ".updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* A statement to run before a list statement in the same request (one
 * pipeline, one transaction): custom plans for the rest of the transaction.
 * List statements have optional filters `($n IS NULL OR …)` that fold away
 * only in a custom plan; PostgreSQL may switch a prepared statement to a
 * generic plan after five executions, which keeps every term and cannot
 * use the index a filter needs. Point lookups keep their cached generic
 * plans (replanning the task detail would cost more than it runs). */
extern const char ledger_sql_custom_plans[];

/* --- collected errors ------------------------------------------------------- */
struct lerrs {
    struct arena *arena;
    struct field_error e[VALIDATE_MAX_ERRORS];
    size_t n;
};
/* Body error at pointer (copied into the arena); code as in field_error. */
void lerr_body(struct lerrs *l, const char *pointer, const char *code, const char *message);
/* Query-parameter error. */
void lerr_param(struct lerrs *l, const char *parameter, const char *code, const char *message);

/* --- request bodies ------------------------------------------------------------ */
/* A member whose value validate.h cannot describe: check is called with the
 * member's value (never NULL; JSON null is handled by nullable) and its
 * pointer ("/measures"), and adds its own errors. max is the checker's limit. */
struct lfield {
    const char *name;
    bool required;
    bool nullable;
    long long max;
    void (*check)(struct lerrs *l, const char *pointer, const struct cJSON *v, long long max);
};
/* Checks for lfield: */
void lcheck_id_list(struct lerrs *l, const char *ptr, const struct cJSON *v, long long max);
void lcheck_text_list(struct lerrs *l, const char *ptr, const struct cJSON *v, long long max);
void lcheck_position_list(struct lerrs *l, const char *ptr, const struct cJSON *v, long long max);
void lcheck_stage_targets(struct lerrs *l, const char *ptr, const struct cJSON *v, long long max);

/* Validates r->json: scalar fields through validate_object, the others
 * through their checks; unknown and repeated members are errors. Answers
 * 422 validation_failed with every error when invalid. */
bool ledger_body_or_reply(struct req *r, const struct vfield *f, size_t nf,
                          const struct lfield *x, size_t nx);

/* Member helpers (NULL when absent or JSON null). */
const char *ledger_json_string(const struct cJSON *obj, const char *name);

/* --- values ------------------------------------------------------------------- */
/* YYYY-MM-DD, a real calendar date, years 1900..2999. */
bool ledger_date_ok(const char *s);
/* Not only white space. */
bool ledger_not_blank(const char *s);

/* --- query parameters ------------------------------------------------------------
 * Each reads one parameter; absent → returns NULL (nothing recorded); bad →
 * records an error and returns NULL. */
const char *lq_id(struct req *r, struct lerrs *l, const char *name);
const char *lq_bool(struct req *r, struct lerrs *l, const char *name);        /* "true"/"false" */
const char *lq_date(struct req *r, struct lerrs *l, const char *name);
const char *lq_enum(struct req *r, struct lerrs *l, const char *name, const char *const *allowed);
/* Comma-separated values of allowed as a text[] literal "{a,b}". */
const char *lq_enum_list(struct req *r, struct lerrs *l, const char *name,
                         const char *const *allowed);
/* Free text (1..100 characters) as an ILIKE '%…%' pattern. */
const char *lq_like(struct req *r, struct lerrs *l, const char *name);
/* official=: 1..100 characters, not blank, passed as typed (the SQL
 * normalises it: LEDGER_OFFICIAL_FILTER). Shared by the lists and exports. */
static inline const char *lq_official(struct req *r, struct lerrs *l)
{
    if (!lq_like(r, l, "official"))
        return NULL;
    const char *v = req_query(r, "official");
    if (!ledger_not_blank(v)) {
        lerr_param(l, "official", "blank", "must not be blank");
        return NULL;
    }
    return v;
}

/* Sort keys of a list: the client's sort= must be one of names (default
 * names[0]); returns its index. */
int lq_sort(struct req *r, struct lerrs *l, const char *const *names);

enum lkey { LKEY_DATE, LKEY_TIMESTAMP, LKEY_TEXT, LKEY_ID };
/* limit (1..500, default 50) and cursor. A cursor is base64url of
 * {"s": sort, "k": key, "i": id} made by the list statement; it must match
 * the requested sort. *key and *after are NULL without a cursor. */
void lq_page(struct req *r, struct lerrs *l, const char *sort, enum lkey kind, char limit[8],
             const char **key, const char **after);

/* 400 invalid_parameter when l has errors; returns true when there were none. */
bool lq_ok_or_reply(struct req *r, struct lerrs *l);

/* --- concurrency: if_match_or_reply, reply_etag, reply_precondition_failed
 * (params.h) --------------------------------------------------------------- */
/* A problem document with extra members: extra is a JSON object text whose
 * members are appended (e.g. {"current_state": "…"}). */
void ledger_reply_problem_ext(struct req *r, int status, const char *code, const char *detail,
                              const char *extra);

/* Answers text of column col of row 0 with status (and ETag from column
 * etag_col when >= 0). */
void ledger_reply_row(struct req *r, int status, PGresult *res, int col, int etag_col);

/* --- the task list filters, shared by GET /tasks and GET /tasks/export ---- */

/* official=: the responsible official's name or its beginning (王, 王建军),
 * compared after rectify.official_key (0035: lower case, no white space, no
 * name dots) on both sides, as a range on the stored key in the "C"
 * collation: `>=` / `<` on text are leakproof, so the btree index on
 * official_key serves it under row-level security (ILIKE could not). */
#define LEDGER_OFFICIAL_FILTER(t, n)                                                        \
    "   AND (" n "::text IS NULL OR (" t ".official_key >= rectify.official_key(" n "::text)"  \
    "        AND " t ".official_key < rectify.official_key(" n "::text) || chr(1114111)))"

/* The warning filter, level by level, as the conditions of
 * rectify.task_warning (0011) spelled out over the columns instead of
 * `task_warning(…) = $10`: the planner estimates these from the column
 * statistics (a computed level always looks 0.5 % selective, so a level that
 * matches half the tasks got a bitmap scan of all of them and a sort), and
 * their simple parts are index conditions — red: the two partial indexes of
 * 0011 (no report for too long; open dated overdue), yellow: open dated
 * tasks from today on. With custom plans (ledger_sql_custom_plans) the
 * terms of the other levels fold away. Keep in step with
 * rectify.task_warning; the Warnings test of tests/api/test_ledger.py checks
 * both against each other. */
#define W_OPEN(t) t ".status IN ('pending', 'in_progress')"
#define W_SILENT(t)                                                                         \
    "coalesce(" t ".last_reported_at, " t ".started_at, " t ".created_at) < now() -"         \
    " make_interval(days => (SELECT z.report_interval_days FROM ledger_settings z))"
#define W_SOON "current_date + (SELECT z.due_soon_days FROM ledger_settings z)"
#define W_START(t) "coalesce(" t ".started_at, " t ".created_at)::date"
#define W_BEHIND(t)                                                                         \
    t ".percent < 100.0 * least(greatest(current_date - " W_START(t) ", 0),"                 \
    " greatest(" t ".effective_deadline - " W_START(t) ", 1))"                              \
    " / greatest(" t ".effective_deadline - " W_START(t) ", 1)"                              \
    " - (SELECT z.schedule_tolerance_pct FROM ledger_settings z)"
#define TASK_WARNING_FILTER(t)                                                              \
    "   AND ($10::text IS NULL OR $10::text <> 'red' OR (" W_OPEN(t) " AND (" W_SILENT(t)    \
    "        OR (" t ".deadline_kind = 'date' AND " t ".effective_deadline < current_date))))" \
    "   AND ($10::text IS NULL OR $10::text <> 'yellow' OR (" W_OPEN(t)                      \
    "        AND " t ".deadline_kind = 'date' AND " t ".effective_deadline >= current_date"   \
    "        AND " t ".deadline_key >= current_date"                                          \
    "        AND NOT (" W_SILENT(t) ") AND (" t ".effective_deadline <= " W_SOON              \
    "             OR " W_BEHIND(t) ")))"                                                      \
    "   AND ($10::text IS NULL OR $10::text <> 'green' OR NOT (" W_OPEN(t) ")"               \
    "        OR (NOT (" W_SILENT(t) ") AND (" t ".deadline_kind <> 'date'"                    \
    "            OR (" t ".effective_deadline > " W_SOON " AND NOT (" W_BEHIND(t) ")))))"

/* lead_org: the lead org or any org below it. Written as `owner_org_id =
 * ANY (ids)` because equality on a bigint is leakproof: under row-level
 * security only leakproof conditions may become index conditions, and
 * ltree's `<@` or an array's `@>` are not (they stay filters). */
#define TASK_LEAD_FILTER(t)                                                                 \
    "   AND ($5::bigint IS NULL OR " t ".owner_org_id = ANY (ARRAY(SELECT o.id FROM orgs o"  \
    "        WHERE o.path <@ (SELECT p.path FROM orgs p WHERE p.id = $5::bigint))))"

/* q: trigram search. ILIKE is not leakproof either, so under row-level
 * security the planner will not use the trigram index for it; the search
 * runs in rectify.task_search_ids (0012, SECURITY DEFINER, applying the same
 * visibility itself), which returns the ids of the matching visible tasks. */
#define TASK_SEARCH_FILTER(t)                                                               \
    "   AND ($12::text IS NULL OR " t ".id IN (SELECT rectify.task_search_ids($12::text)))"

/* Filters: $1 campaign, $2 problem, $3 category, $4 statuses, $5 lead org
 * (subtree), $6 official (name prefix), $7 overdue, $8 due before, $9 due after
 * (effective deadline, inclusive), $10 warning, $11 reopened, $12 q (ILIKE
 * over code, title, target, measures); keyset $13 key, $14 id; $15 limit. */
#define TASK_FILTERS TASK_FILTERS_BUT_Q TASK_SEARCH_FILTER("t")
/* All but q= ($12): the lists' search variant (tasks.c) walks these first. */
#define TASK_FILTERS_BUT_Q                                                                  \
    " WHERE ($1::bigint IS NULL OR t.campaign_id = $1::bigint)"                              \
    "   AND ($2::bigint IS NULL OR t.problem_id = $2::bigint)"                               \
    "   AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM problems p"                           \
    "        WHERE p.id = t.problem_id AND p.category = $3::text))"                           \
    /* one status: `=` (folds in a custom plan), so (status, key, id) gives the order;  \
       several: `= ANY`. Never both: the planner would count the selectivity twice */   \
    "   AND ($4::text[] IS NULL OR cardinality($4::text[]) <> 1 OR t.status = ($4::text[])[1])" \
    "   AND ($4::text[] IS NULL OR cardinality($4::text[]) = 1 OR t.status = ANY ($4::text[]))" \
    TASK_LEAD_FILTER("t")                                                                    \
    LEDGER_OFFICIAL_FILTER("t", "$6")                                                        \
    "   AND ($7::boolean IS NULL OR NOT $7::boolean OR (" LEDGER_OVERDUE("t")               \
    "        AND t.deadline_key < current_date))"                                             \
    "   AND ($7::boolean IS NULL OR $7::boolean OR NOT " LEDGER_OVERDUE("t") ")"              \
    /* deadline_key = effective_deadline, or infinity without one: the same  \
     * conditions, and the (…, deadline_key, id) indexes can start there. */  \
    "   AND ($8::date IS NULL OR t.deadline_key <= $8::date)"                                \
    "   AND ($9::date IS NULL OR (t.effective_deadline >= $9::date"                           \
    "        AND t.deadline_key >= $9::date))"                                                \
    TASK_WARNING_FILTER("t")                                                                 \
    "   AND ($11::boolean IS NULL OR t.reopened = $11::boolean)"


/* --- the problem list filters, shared by GET /problems and its export --- */

/* Filters: $1 campaign, $2 category, $3 source, $4 statuses, $5 lead org
 * (subtree), $6 official (name prefix), $7 due before, $8 due after, $9 q
 * (ILIKE pattern over code, title, target), $10 region org; keyset $11 key,
 * $12 id; $13 limit. As for tasks, every condition that should be an index
 * condition is leakproof (`=`, `= ANY`, date and text comparisons); q= and
 * region= (LIKE and array `@>` are not) go through SECURITY DEFINER
 * functions of 0035 that return the ids of matching visible problems. */
#define PROBLEM_FILTERS_BUT_Q                                                              \
    " WHERE ($1::bigint IS NULL OR t.campaign_id = $1::bigint)"                            \
    "   AND ($2::text IS NULL OR t.category = $2::text)"                                   \
    "   AND ($3::text IS NULL OR t.source = $3::text)"                                     \
    "   AND ($4::text[] IS NULL OR cardinality($4::text[]) <> 1 OR t.status = ($4::text[])[1])" \
    "   AND ($4::text[] IS NULL OR cardinality($4::text[]) = 1 OR t.status = ANY ($4::text[]))" \
    "   AND ($5::bigint IS NULL OR t.owner_org_id = ANY (ARRAY(SELECT o.id FROM orgs o"     \
    "        WHERE o.path <@ (SELECT p.path FROM orgs p WHERE p.id = $5::bigint))))"         \
    LEDGER_OFFICIAL_FILTER("t", "$6")                                                      \
    "   AND ($7::date IS NULL OR t.deadline_key <= $7::date)"                              \
    "   AND ($8::date IS NULL OR (t.deadline >= $8::date AND t.deadline_key >= $8::date))" \
    "   AND ($10::bigint IS NULL OR t.id = ANY (ARRAY(SELECT rectify.problem_region_ids($10::bigint))))"
#define PROBLEM_SEARCH_FILTER(t)                                                            \
    "   AND ($9::text IS NULL OR " t ".id IN (SELECT rectify.problem_search_ids($9::text)))"
#define PROBLEM_FILTERS PROBLEM_FILTERS_BUT_Q PROBLEM_SEARCH_FILTER("t")


/* The import target: 422 unknown_campaign (naming query parameter param)
 * when no campaign has this id. Closes the connection when it answers: the
 * body has not been read. */
bool campaign_exists_or_reply(struct req *r, const char *id, const char *param);

/* The limit-aware q= list of tasks and problems (why: tasks.c, above
 * TASK_LIST_Q): `cand`, `walk` and `found` — the rows of the page, read by
 * id, from a bounded walk in list order or from SEARCH_FN's ids. TABLE and
 * FILTERS name the list; QARG, AFTER and LIMIT are its parameters for q=,
 * the cursor's id and the page size; KEY, KEYARG, DIR and CMP its order. The
 * walk's cap is a sub-select so that the planner, not knowing it, plans
 * `cand` as an ordered index walk that stops early. */
#define LEDGER_SEARCH_WALK "2000"
#define LEDGER_SEARCH_WALK_DONE(LIMIT)                                                       \
    "(rectify.task_scope_key() = 0 AND ((SELECT count(*) FROM walk) > " LIMIT "::int"       \
    " OR (SELECT count(*) FROM cand) < " LEDGER_SEARCH_WALK "))"
#define LEDGER_LIST_Q_FOUND(TABLE, FILTERS, QARG, AFTER, LIMIT, SEARCH_FN, KEY, KEYARG, DIR,  \
                            CMP)                                                              \
    "WITH cand AS MATERIALIZED (SELECT t.id, t.deadline_key, t.updated_at, t.code,"         \
    "   t.search_folded LIKE lower(" QARG "::text) AS hit"                                     \
    " FROM " TABLE " t" FILTERS " AND rectify.task_scope_key() = 0"                           \
    "   AND (" AFTER "::bigint IS NULL OR (" KEY ", t.id) " CMP " (" KEYARG ", " AFTER        \
    "::bigint))"                                                                              \
    " ORDER BY " KEY " " DIR ", t.id " DIR " LIMIT (SELECT " LEDGER_SEARCH_WALK ")),"         \
    " walk AS MATERIALIZED (SELECT c.id FROM cand c WHERE c.hit LIMIT " LIMIT "::int + 1),"    \
    " found AS (SELECT t.* FROM " TABLE " t"                                                   \
    "   WHERE t.id = ANY (ARRAY(SELECT w.id FROM walk w)) AND "                                \
    LEDGER_SEARCH_WALK_DONE(LIMIT)                                                             \
    "   UNION ALL (SELECT t.* FROM " TABLE " t" FILTERS                                         \
    "   AND t.id = ANY (ARRAY(SELECT " SEARCH_FN "(" QARG "::text)))"                            \
    "   AND (" AFTER "::bigint IS NULL OR (" KEY ", t.id) " CMP " (" KEYARG ", " AFTER        \
    "::bigint))"                                                                              \
    "   AND NOT " LEDGER_SEARCH_WALK_DONE(LIMIT)                                                \
    "   ORDER BY " KEY " " DIR ", t.id " DIR " LIMIT " LIMIT "::int + 1)),"

#endif
