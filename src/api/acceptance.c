/* Acceptance and closing (验收销号, plan 四(三)): a task's request with its
 * self-assessment and evidence, the on-site check, the opinion of every
 * acceptance org (谁验收谁负责), the leading group's decision, the dossier;
 * announcements (公示) with the public's objections; spot checks (抽查核验).
 *
 * Every write is one SQL function (sql/migrations/0044_acceptance.sql) that
 * decides every domain outcome and raises it (RXnnn: 403, 404, 409, 412,
 * 422); the handlers validate the body's shape, pass it as jsonb and answer
 * the one row (json, version → ETag, location → Location). Closing is not a
 * route: rectify.acceptance_close_due() is a background scan (job kind
 * acceptance.close_due, src/jobs/acceptance_close.c; the test routes
 * trigger it synchronously). */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/ledger.h"
#include "rectify/params.h"
#include "rectify/permissions.h"
#include "rectify/pii.h"

#include <cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "complaints_internal.h" /* complaint_pii_key_or_reply: the one PII key */

/* Objections per client address and hour (the public write). */
#define OBJECTIONS_PER_HOUR "5"

#define N(a) (sizeof a / sizeof a[0])

static void run_and_reply(struct req *r, int status, const char *sql, int n, const char **params,
                          const char *what)
{
    struct db_query q = {sql, n, params};
    reply_query_row(r, status, &q, what);
}

/* id path parameter, If-Match, body shape; then fn($1 id, $2 version, $3 body). */
static void task_step(struct req *r, const char *sql, const struct vfield *f, size_t nf,
                      const struct lfield *x, size_t nx, int status)
{
    char id[24], version[16];
    if (!id_param_or_reply(r, "id", "task", id) || !if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, f, nf, x, nx))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, version, body};
    run_and_reply(r, status, sql, 3, params, "task");
}

#define TEXT(name, req, max) \
    {name, V_STRING, req, false, 1, max, NULL, ledger_not_blank, "must not be blank"}
#define EVIDENCE(req) {"evidence", req, false, 20, lcheck_id_list}

/* --- the task's steps ----------------------------------------------------------- */

static const struct vfield request_fields[] = {
    TEXT("self_assessment", true, 20000),
    {"measure_results", V_STRING_ARRAY, false, false, 0, 50, NULL, ledger_not_blank,
     "must not be blank"},
    {"target_met", V_STRING, false, true, 0, 5000, NULL, NULL, NULL},
};
static const struct lfield request_x[] = {EVIDENCE(true)};

static void request_acceptance(struct req *r)
{
    const cJSON *ev = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, "evidence") : NULL;
    if (cJSON_IsArray(ev) && cJSON_GetArraySize(ev) == 0) {
        reply_field_error(r, 422, "evidence_required",
                          "A request for acceptance needs evidence (佐证材料): upload the files and"
                          " name them in evidence.",
                          "/evidence", "must name at least one attachment");
        return;
    }
    task_step(r, "SELECT * FROM rectify.acceptance_request($1::bigint, $2::int, $3::jsonb)",
              request_fields, N(request_fields), request_x, N(request_x), 201);
}

static const struct vfield check_fields[] = {
    {"check_date", V_STRING, true, false, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
    {"team", V_STRING_ARRAY, true, false, 1, 50, NULL, ledger_not_blank, "must not be blank"},
    TEXT("findings", true, 20000),
};
static const struct lfield evidence_x[] = {EVIDENCE(false)};

static void record_check(struct req *r)
{
    task_step(r, "SELECT * FROM rectify.acceptance_check($1::bigint, $2::int, $3::jsonb)",
              check_fields, N(check_fields), evidence_x, N(evidence_x), 201);
}

static const char *const opinion_decisions[] = {"agree", "disagree", NULL};
static const struct vfield opinion_fields[] = {
    {"decision", V_STRING, true, false, 1, 0, opinion_decisions, NULL, NULL},
    TEXT("reasons", true, 20000),
    {"corrects", V_INT, false, true, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
};

static void give_opinion(struct req *r)
{
    task_step(r, "SELECT * FROM rectify.acceptance_opinion($1::bigint, $2::int, $3::jsonb)",
              opinion_fields, N(opinion_fields), evidence_x, N(evidence_x), 201);
}

static const char *const approval_decisions[] = {"approve", "return", NULL};
static const struct vfield approval_fields[] = {
    {"decision", V_STRING, true, false, 1, 0, approval_decisions, NULL, NULL},
    {"comment", V_STRING, false, true, 0, 5000, NULL, NULL, NULL},
};

static void decide_approval(struct req *r)
{
    if (cJSON_IsObject(r->json)) {
        const char *d = ledger_json_string(r->json, "decision");
        const char *c = ledger_json_string(r->json, "comment");
        if (d && strcmp(d, "return") == 0 && (!c || !ledger_not_blank(c))) {
            reply_field_error(r, 422, "validation_failed", "Returning a task needs the reasons.",
                              "/comment", "is required when decision is return");
            return;
        }
    }
    task_step(r, "SELECT * FROM rectify.acceptance_decide($1::bigint, $2::int, $3::jsonb)",
              approval_fields, N(approval_fields), NULL, 0, 200);
}

static void get_dossier(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "task", id))
        return;
    const char *params[] = {id};
    run_and_reply(r, 200, "SELECT * FROM rectify.acceptance_dossier($1::bigint)", 1, params,
                  "task");
}

/* --- announcements ---------------------------------------------------------------- */

/* items: [{task_id, version, summary}], 1..500, no task twice. */
static void lcheck_items(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > max) {
        lerr_body(l, ptr, "wrong_type", arena_printf(l->arena, "must be an array of 1 to %lld items", max));
        return;
    }
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        const char *p = arena_printf(l->arena, "%s/%d", ptr, i);
        if (!cJSON_IsObject(it)) {
            lerr_body(l, p, "wrong_type", "must be an object {task_id, version, summary}");
            continue;
        }
        int members = 0;
        for (const cJSON *m = it->child; m; m = m->next)
            members++;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "task_id");
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(it, "version");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "summary");
        if (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > (double)LEDGER_ID_MAX ||
            t->valuedouble != (double)(long long)t->valuedouble)
            lerr_body(l, arena_printf(l->arena, "%s/task_id", p), "invalid_format", "must be a positive integer id");
        else
            for (const cJSON *o = v->child; o != it; o = o->next) {
                const cJSON *ot = cJSON_GetObjectItemCaseSensitive(o, "task_id");
                if (cJSON_IsNumber(ot) && ot->valuedouble == t->valuedouble) {
                    lerr_body(l, arena_printf(l->arena, "%s/task_id", p), "repeated", "is repeated");
                    break;
                }
            }
        if (!cJSON_IsNumber(ver) || ver->valuedouble < 1 || ver->valuedouble > 2147483647.0 ||
            ver->valuedouble != (double)(long long)ver->valuedouble)
            lerr_body(l, arena_printf(l->arena, "%s/version", p), "invalid_format",
                      "must be the task's version (its ETag)");
        if (!cJSON_IsString(s) || !ledger_not_blank(s->valuestring) ||
            strlen(s->valuestring) > 15000)
            lerr_body(l, arena_printf(l->arena, "%s/summary", p), "invalid_format",
                      "must be the text shown to the public (1 to 5000 characters)");
        if (members != 3 || (members == 3 && (!t || !ver || !s)))
            lerr_body(l, p, "invalid_format", "must have exactly task_id, version and summary");
    }
}

static const struct vfield announce_fields[] = {
    TEXT("title", true, 300),
    TEXT("body", true, 20000),
    {"period_start", V_STRING, false, true, 10, 10, NULL, ledger_date_ok,
     "must be a date YYYY-MM-DD"},
    {"working_days", V_INT, false, true, 1, 60, NULL, NULL, NULL},
};
static const struct lfield announce_x[] = {{"items", true, false, 500, lcheck_items}};

static void publish_announcement(struct req *r)
{
    if (!ledger_body_or_reply(r, announce_fields, N(announce_fields), announce_x, N(announce_x)))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {body};
    run_and_reply(r, 201, "SELECT * FROM rectify.announcement_publish($1::jsonb)", 1, params,
                  "announcement");
}

static void get_announcement(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "announcement", id))
        return;
    const char *params[] = {id};
    run_and_reply(r, 200, "SELECT * FROM rectify.announcement_get($1::bigint)", 1, params,
                  "announcement");
}

static const char *const objection_decisions[] = {"upheld", "dismissed", NULL};
static const struct vfield objection_decision_fields[] = {
    {"decision", V_STRING, true, false, 1, 0, objection_decisions, NULL, NULL},
    TEXT("reasons", true, 5000),
};

static void decide_objection(struct req *r)
{
    char id[24], oid[24], version[16];
    if (!id_param_or_reply(r, "id", "announcement", id) ||
        !id_param_or_reply(r, "objection_id", "objection", oid) || !if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, objection_decision_fields, N(objection_decision_fields), NULL, 0))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, oid, version, body};
    run_and_reply(r, 200,
                  "SELECT * FROM rectify.objection_decide($1::bigint, $2::bigint, $3::int, $4::jsonb)",
                  4, params, "objection");
}

/* --- the public side ---------------------------------------------------------------- */

/* GET /public/v1/announcements: current and past, newest first; ETag/304. */
static void public_announcements(struct req *r)
{
    struct field_error errs[4];
    size_t n = 0;
    char limit[8], before[24];
    bool has_before = false;
    page_params(r, errs, &n, limit, before, &has_before);
    if (n) {
        reply_invalid_params(r, errs, n);
        return;
    }
    const char *params[] = {limit, has_before ? before : NULL};
    struct db_query q = {"SELECT * FROM rectify.public_announcements($1::int, $2::bigint)", 2,
                         params};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    const char *etag = PQgetvalue(res, 0, 0);
    reply_header(r, "ETag", etag);
    reply_header(r, "Cache-Control", "public, max-age=60");
    const char *inm = req_header(r, "If-None-Match");
    if (inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
        reply_empty(r, 304);
        return;
    }
    reply_json(r, 200, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

static const struct vfield objection_fields[] = {
    {"task_id", V_INT, true, false, 1, LEDGER_ID_MAX, NULL, NULL, NULL},
    TEXT("text", true, 5000),
    {"contact", V_STRING, false, true, 1, 200, NULL, ledger_not_blank, "must not be blank"},
};

/* A random (version 4) UUID as text. */
static void uuid4(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* The contact sealed like complainants' data ("\x…" bytea text) and masked;
 * false = answered. */
static bool seal_contact_or_reply(struct req *r, const char *contact, const char *ref,
                                  const char **hex, const char **masked)
{
    unsigned char key[PII_KEY_BYTES];
    char ad[160];
    size_t len = strlen(contact);
    unsigned char *sealed = arena_alloc(r->arena, len + PII_SEAL_OVERHEAD);
    char *text = arena_alloc(r->arena, 2 * (len + PII_SEAL_OVERHEAD) + 3);
    char *mask = arena_alloc(r->arena, 256);
    if (!sealed || !text || !mask) {
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return false;
    }
    if (!complaint_pii_key_or_reply(r, key))
        return false;
    if (pii_ad(ad, sizeof ad, "objection", ref, "contact") ||
        pii_seal(key, ad, contact, len, sealed)) {
        sodium_memzero(key, sizeof key);
        reply_problem(r, 500, "internal_error", "The contact could not be stored.");
        return false;
    }
    sodium_memzero(key, sizeof key);
    memcpy(text, "\\x", 2);
    sodium_bin2hex(text + 2, 2 * (len + PII_SEAL_OVERHEAD) + 1, sealed, len + PII_SEAL_OVERHEAD);
    /* A phone number keeps its first and last digits; anything else its first characters. */
    if (strspn(contact, "0123456789+- ") == len)
        pii_mask_phone(contact, mask, 256);
    else
        pii_mask_address(contact, mask, 256);
    *hex = text;
    *masked = mask;
    return true;
}

/* POST /public/v1/announcements/{id}/objections: no account; throttled per
 * address (every attempt counts, also refused ones). */
static void public_objection(struct req *r)
{
    char id[24], task[24], ref[37];
    if (!id_param_or_reply(r, "id", "announcement", id) ||
        !ledger_body_or_reply(r, objection_fields, N(objection_fields), NULL, 0))
        return;
    const char *key = arena_printf(r->arena, "objection:%s", r->remote_addr);
    const char *tp[] = {key};
    struct db_query tq = {"SELECT rectify.public_throttle_hit($1, " OBJECTIONS_PER_HOUR
                          ", interval '1 hour')",
                          1, tp};
    PGresult *tres;
    if (!key || !db_run_or_reply(r, &tq, 1, &tres))
        return;
    const char *wait = PQgetvalue(tres, 0, 0);
    if (strcmp(wait, "0") != 0) {
        reply_header(r, "Retry-After", wait);
        reply_problem(r, 429, "too_many_requests",
                      "Too many objections from your address; retry in %s seconds.", wait);
        return;
    }
    snprintf(task, sizeof task, "%lld",
             (long long)cJSON_GetObjectItemCaseSensitive(r->json, "task_id")->valuedouble);
    uuid4(ref);
    const char *contact = ledger_json_string(r->json, "contact"), *hex = NULL, *masked = NULL;
    if (contact && !seal_contact_or_reply(r, contact, ref, &hex, &masked))
        return;
    const char *params[] = {id, task, ledger_json_string(r->json, "text"), ref, hex, masked,
                            r->remote_addr};
    run_and_reply(r, 201,
                  "SELECT * FROM rectify.public_objection_submit($1::bigint, $2::bigint, $3, $4::uuid,"
                  " $5::bytea, $6, $7)",
                  7, params, "announcement");
}

/* --- spot checks -------------------------------------------------------------------- */

static const struct vfield draw_fields[] = {
    TEXT("title", true, 300),
    {"percent", V_INT, false, true, 1, 100, NULL, NULL, NULL},
    {"seed", V_INT, false, true, 0, LEDGER_ID_MAX, NULL, NULL, NULL},
};
static const struct lfield draw_x[] = {
    {"prefecture_org_ids", false, true, 14, lcheck_id_list},
    {"task_ids", false, false, 500, lcheck_id_list},
};

static void draw_spot_check(struct req *r)
{
    if (!ledger_body_or_reply(r, draw_fields, N(draw_fields), draw_x, N(draw_x)))
        return;
    bool pct = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r->json, "percent"));
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r->json, "task_ids");
    const cJSON *prefs = cJSON_GetObjectItemCaseSensitive(r->json, "prefecture_org_ids");
    if (pct == (ids != NULL) || (ids && cJSON_GetArraySize(ids) == 0)) {
        reply_field_error(r, 422, "validation_failed",
                          "A spot check draws a percentage (percent) or names tasks (task_ids).",
                          pct ? "/task_ids" : "/percent", "give exactly one of percent and task_ids");
        return;
    }
    if (prefs && !pct) {
        reply_field_error(r, 422, "validation_failed",
                          "prefecture_org_ids narrows a percentage draw.", "/prefecture_org_ids",
                          "needs percent");
        return;
    }
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {body};
    run_and_reply(r, 201, "SELECT * FROM rectify.spot_check_draw($1::jsonb)", 1, params,
                  "spot check");
}

static void get_spot_check(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "spot check", id))
        return;
    const char *params[] = {id};
    run_and_reply(r, 200, "SELECT * FROM rectify.spot_check_get($1::bigint)", 1, params,
                  "spot check");
}

static const char *const results[] = {"consolidated", "rebounded", "faked", NULL};
static const struct vfield result_fields[] = {
    {"result", V_STRING, true, false, 1, 0, results, NULL, NULL},
    TEXT("findings", true, 20000),
};

static void record_spot_result(struct req *r)
{
    char id[24], item[24], version[16];
    if (!id_param_or_reply(r, "id", "spot check", id) ||
        !id_param_or_reply(r, "item_id", "spot-check item", item) ||
        !if_match_or_reply(r, version) ||
        !ledger_body_or_reply(r, result_fields, N(result_fields), evidence_x, N(evidence_x)))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *params[] = {id, item, version, body};
    run_and_reply(r, 200,
                  "SELECT * FROM rectify.spot_check_result($1::bigint, $2::bigint, $3::int, $4::jsonb)",
                  4, params, "spot-check item");
}

const struct route acceptance_routes[] = {
    {"GET", "/api/v1/tasks/{id}/acceptance", get_dossier, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/tasks/{id}/acceptance/requests", request_acceptance, PERM_TASK_TRANSITION,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/tasks/{id}/acceptance/check", record_check, PERM_ACCEPTANCE_WRITE,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/tasks/{id}/acceptance/opinions", give_opinion, PERM_ACCEPTANCE_WRITE,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/tasks/{id}/acceptance/approval", decide_approval, PERM_APPROVE,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/announcements", publish_announcement, PERM_PUBLISH, ROUTE_JSON_BODY},
    {"GET", "/api/v1/announcements/{id}", get_announcement, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/announcements/{id}/objections/{objection_id}/decision", decide_objection,
     PERM_PUBLISH, ROUTE_JSON_BODY},
    {"GET", "/public/v1/announcements", public_announcements, PERM_PUBLIC, 0},
    {"POST", "/public/v1/announcements/{id}/objections", public_objection, PERM_PUBLIC,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/spot-checks", draw_spot_check, PERM_INSPECTION_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/spot-checks/{id}", get_spot_check, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/spot-checks/{id}/items/{item_id}/result", record_spot_result,
     PERM_INSPECTION_WRITE, ROUTE_JSON_BODY},
};
const size_t acceptance_routes_count = sizeof acceptance_routes / sizeof acceptance_routes[0];
