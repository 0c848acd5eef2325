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
/* Body error at pointer (copied into the arena). */
void lerr_body(struct lerrs *l, const char *pointer, const char *message);
/* Query-parameter error. */
void lerr_param(struct lerrs *l, const char *parameter, const char *message);

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

#endif
