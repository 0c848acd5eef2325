/* Accountability leads (问题线索, clues): registered by the office from the
 * inspection team's transfers, from rectification (整改不力, 虚假整改 …),
 * inspections, faked spot checks and complaints; transferred to the
 * discipline commission, received, investigated and concluded with an
 * outcome per person concerned; the office decides what of the outcome is
 * published.
 *
 * Only office and discipline see clues: every route is ROUTE_HIDDEN (any
 * other role gets 404, as for an unknown path) and RLS admits only those two
 * roles. The logic is in SQL (0045_clues.sql, rectify.clue_*): a handler
 * validates, seals personal data, calls one function and answers its row.
 *
 * Personal data of the persons concerned (name, post, org) follows the
 * complainants' mechanism (complaints.c, pii.h): sealed here with
 * RECTIFY_PII_KEY before it reaches the database, masked copies in clear,
 * clear values only on ?pii=true from rectify.clue_person_secrets(), which
 * records the read in pii_reads (audited). Never logged. */
#include "complaints_internal.h"

#include "rectify/api.h"
#include "rectify/arena.h"
#include "rectify/json.h"
#include "rectify/ledger.h"
#include "rectify/params.h"
#include "rectify/permissions.h"
#include "rectify/pii.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- SQL ------------------------------------------------------------------------ */

/* $1 campaign, $2 status, $3 source, $4 after id, $5 limit. */
static const char sql_list[] =
    "WITH page AS (SELECT c.id, row_number() OVER (ORDER BY c.id) AS n FROM clues c"
    "  WHERE ($1::bigint IS NULL OR c.campaign_id = $1::bigint)"
    "    AND ($2::text IS NULL OR c.status = $2::text)"
    "    AND ($3::text IS NULL OR c.source = $3::text)"
    "    AND ($4::bigint IS NULL OR c.id > $4::bigint)"
    "  ORDER BY c.id LIMIT $5::int + 1)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg((SELECT rectify.clue_json(x) FROM clues x"
    "     WHERE x.id = p.id) ORDER BY p.id) FROM page p WHERE p.n <= $5::int), '[]'),"
    "  'next_cursor', (SELECT " SQL_CURSOR_OF("p.id") " FROM page p WHERE p.n = $5::int"
    "                  AND EXISTS (SELECT 1 FROM page q WHERE q.n > $5::int)))::text";

static const char sql_get[] =
    "SELECT c.version, rectify.clue_json(c)::text AS json FROM clues c WHERE c.id = $1::bigint";

static const char sql_secrets[] =
    "SELECT id, ref, name_enc, post_enc, org_enc FROM rectify.clue_person_secrets($1::bigint, $2)";

static const char sql_person_ref[] =
    "SELECT ref FROM clue_persons WHERE id = $2::bigint AND clue_id = $1::bigint";

static const char sql_stats[] = "SELECT rectify.clue_stats($1::bigint)::text";

static const char sql_create[] =
    "SELECT version, json::text AS json, location FROM rectify.clue_create($1::jsonb)";
static const char sql_update[] =
    "SELECT version, json::text AS json FROM rectify.clue_update($1::bigint, $2::int, $3::jsonb)";
static const char sql_transition[] =
    "SELECT version, json::text AS json FROM rectify.clue_transition($1::bigint, $2::int, $3::jsonb)";
static const char sql_person_create[] =
    "SELECT version, json::text AS json, location"
    " FROM rectify.clue_person_create($1::bigint, $2::int, $3::jsonb)";
static const char sql_person_update[] =
    "SELECT version, json::text AS json"
    " FROM rectify.clue_person_update($1::bigint, $2::bigint, $3::int, $4::jsonb)";
/* Checks everything clue_publish checks, writing nothing: run in the same
 * transaction as the secrets read, so a refused publication reads nothing. */
static const char sql_publish_check[] =
    "SELECT rectify.clue_publish_check($1::bigint, $2::int, $3::jsonb)";
static const char sql_publish[] =
    "SELECT version, json::text AS json FROM rectify.clue_publish($1::bigint, $2::int, $3::jsonb)";
static const char sql_unpublish[] =
    "SELECT version, json::text AS json FROM rectify.clue_unpublish($1::bigint, $2::int)";

static const char sql_public[] = "SELECT rectify.public_accountability($1::bigint)::text";

/* --- vocabularies (the tables of 0045 hold the labels) ----------------------------- */

static const char *const sources[] = {"inspection_transfer", "rectification", "inspection_finding",
                                      "spot_check_faked", "complaint", NULL};
static const char *const kinds[] = {"ineffective", "shirking", "overdue", "superficial", "fake",
                                    "perfunctory", NULL};
static const char *const levels[] = {"department", "division", "section", "other", NULL};
static const char *const outcomes[] = {"party_discipline", "government_sanction", "admonishment",
                                       "organisational", "judicial_transfer", "no_action", NULL};
static const char *const statuses[] = {"registered", "transferred", "received",
                                       "under_investigation", "concluded", NULL};
static const char *const actions[] = {"transfer", "receive", "investigate", "conclude", NULL};

#define ID_MAX 9007199254740991LL

/* --- helpers ------------------------------------------------------------------------ */

static bool clue_id_or_reply(struct req *r, char id[24])
{
    return id_param_or_reply(r, "id", "clue", id);
}

static void delete_json(void *p) { cJSON_Delete(p); }

static const struct vfield person_fields[] = {
    {"name", V_STRING, true, false, 1, 50, NULL, ledger_not_blank, "must not be blank"},
    {"post", V_STRING, true, false, 1, 100, NULL, ledger_not_blank, "must not be blank"},
    {"org", V_STRING, true, false, 1, 100, NULL, ledger_not_blank, "must not be blank"},
    {"level", V_STRING, true, false, 1, 20, levels, NULL, NULL},
};
#define NPERSON (sizeof person_fields / sizeof person_fields[0])

/* lfield check: an array of person objects (person_fields each). */
static void lcheck_persons(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    if (!cJSON_IsArray(v)) {
        lerr_body(l, ptr, "wrong_type", "must be an array");
        return;
    }
    if (cJSON_GetArraySize(v) > max) {
        lerr_body(l, ptr, "too_many_items", arena_printf(l->arena, "must have at most %lld items", max));
        return;
    }
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        struct field_error e[8];
        size_t n = validate_object(l->arena, it, person_fields, NPERSON, e, 8);
        for (size_t k = 0; k < n; k++)
            lerr_body(l, arena_printf(l->arena, "%s/%d%s", ptr, i, e[k].pointer ? e[k].pointer : ""),
                      e[k].code, e[k].message);
    }
}

/* Seals the clear identity members (name, post, org) of person object o in
 * place: each becomes <field>_enc (hex) and <field>_masked, bound to ref
 * (associated data "rectify-pii:v1:clue-person:<ref>:<field>"). The clear
 * strings are wiped. Returns false when out of memory (o may be half done). */
static bool seal_person(struct req *r, const unsigned char key[PII_KEY_BYTES], cJSON *o,
                        const char *ref)
{
    static const char *const fields[] = {"name", "post", "org"};
    for (size_t i = 0; i < 3; i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(o, fields[i]);
        if (!v)
            continue;
        size_t len = strlen(v->valuestring), slen = len + PII_SEAL_OVERHEAD;
        unsigned char *sealed = arena_alloc(r->arena, slen);
        char *hex = arena_alloc(r->arena, 2 * slen + 1);
        char ad[160], masked[256];
        bool ok = sealed && hex && pii_ad(ad, sizeof ad, "clue-person", ref, fields[i]) == 0 &&
                  pii_seal(key, ad, v->valuestring, len, sealed) == 0;
        if (ok) {
            sodium_bin2hex(hex, 2 * slen + 1, sealed, slen);
            if (i == 0)
                pii_mask_name(v->valuestring, masked, sizeof masked);
            else
                pii_mask_address(v->valuestring, masked, sizeof masked);
            ok = cJSON_AddStringToObject(o, arena_printf(r->arena, "%s_enc", fields[i]), hex) &&
                 cJSON_AddStringToObject(o, arena_printf(r->arena, "%s_masked", fields[i]), masked);
        }
        sodium_memzero(v->valuestring, len);
        cJSON_Delete(v);
        if (!ok)
            return false;
    }
    return true;
}

/* A fresh random ref (32 hex digits) for a new person. */
static char *new_ref(struct req *r)
{
    unsigned char raw[16];
    char *ref = arena_alloc(r->arena, 33);
    if (!ref)
        return NULL;
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(ref, 33, raw, sizeof raw);
    return ref;
}

/* Gives person object o a new ref and seals it (answers 503 on failure). */
static bool seal_new_person_or_reply(struct req *r, const unsigned char key[PII_KEY_BYTES], cJSON *o)
{
    char *ref = new_ref(r);
    if (ref && cJSON_AddStringToObject(o, "ref", ref) && seal_person(r, key, o, ref))
        return true;
    reply_problem(r, 503, "service_unavailable", "Out of memory.");
    return false;
}

/* Opens one sealed bytea column (text format) of a secrets row; NULL when
 * it cannot be opened (wrong key, tampered) or out of memory (*oom). The
 * clear text is in the arena; the caller wipes it after use. */
static char *open_column(struct req *r, const unsigned char key[PII_KEY_BYTES], PGresult *res,
                         int row, int col, const char *field, bool *oom)
{
    size_t blen, olen;
    unsigned char *bin = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &blen);
    char *out = bin ? arena_alloc(r->arena, blen + 1) : NULL;
    char ad[160];
    if (!out) {
        *oom = true;
    } else if (pii_ad(ad, sizeof ad, "clue-person", PQgetvalue(res, row, 1), field) != 0 ||
               pii_open(key, ad, bin, blen, out, &olen) != 0) {
        out = NULL;
    }
    PQfreemem(bin);
    return out;
}

/* The row of person id in a secrets result, or -1. */
static int secrets_row(PGresult *res, double id)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (strtod(PQgetvalue(res, i, 0), NULL) == id)
            return i;
    return -1;
}

static void wipe_string(void *s) { sodium_memzero(s, strlen(s)); }
/* For malloc'd text holding clear values (cJSON_Print…). */
static void wipe_free(void *s)
{
    wipe_string(s);
    free(s);
}

/* Sets member name of o to the clear value of column col of row (or null
 * when it cannot be opened); the clear copy is wiped with the request. */
static bool put_clear(struct req *r, const unsigned char key[PII_KEY_BYTES], cJSON *o,
                      PGresult *res, int row, int col, const char *name)
{
    bool oom = false;
    char *clear = open_column(r, key, res, row, col, name, &oom);
    if (oom || (clear && arena_defer(r->arena, wipe_string, clear)))
        return false;
    cJSON *v = clear ? cJSON_CreateString(clear) : cJSON_CreateNull();
    if (v && cJSON_ReplaceItemInObjectCaseSensitive(o, name, v))
        return true;
    cJSON_Delete(v);
    return false;
}

static bool pii_wanted_or_reply(struct req *r, bool *pii)
{
    const char *v = req_query(r, "pii");
    *pii = v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
    if (v && !*pii && strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
        struct field_error e = {.parameter = "pii", .message = "must be true or false"};
        reply_invalid_params(r, &e, 1);
        return false;
    }
    return true;
}

/* --- reads -------------------------------------------------------------------------- */

static void list_clues(struct req *r)
{
    struct lerrs l = {.arena = r->arena};
    const char *campaign = lq_id(r, &l, "campaign_id");
    const char *status = lq_enum(r, &l, "status", statuses);
    const char *source = lq_enum(r, &l, "source", sources);
    struct field_error pe[2];
    size_t np = 0;
    char limit[8], after[24];
    bool has_after;
    page_params(r, pe, &np, limit, after, &has_after);
    for (size_t i = 0; i < np; i++)
        lerr_param(&l, pe[i].parameter, pe[i].code, pe[i].message);
    if (!lq_ok_or_reply(r, &l))
        return;
    const char *p[] = {campaign, status, source, has_after ? after : NULL, limit};
    struct db_query q = {sql_list, 5, p};
    reply_db_json(r, 200, &q);
}

static void clue_stats(struct req *r)
{
    struct lerrs l = {.arena = r->arena};
    const char *campaign = lq_id(r, &l, "campaign_id");
    if (!lq_ok_or_reply(r, &l))
        return;
    const char *p[] = {campaign};
    struct db_query q = {sql_stats, 1, p};
    reply_db_json(r, 200, &q);
}

/* The detail; with ?pii=true the persons' clear identities (the read is
 * recorded in pii_reads by clue_person_secrets, in the same transaction). */
static void get_clue(struct req *r)
{
    char id[24];
    bool pii;
    if (!clue_id_or_reply(r, id) || !pii_wanted_or_reply(r, &pii))
        return;
    unsigned char key[PII_KEY_BYTES];
    if (pii && !complaint_pii_key_or_reply(r, key))
        return;
    const char *p[] = {id}, *ps[] = {id, "view"};
    struct db_query q[] = {{sql_get, 1, p}, {sql_secrets, 2, ps}};
    PGresult *res[2];
    bool ran = db_run_or_reply(r, q, pii ? 2 : 1, res);
    if (ran)
        reply_header(r, "Cache-Control", pii ? "no-store" : "private, no-cache");
    if (ran && (!pii || PQntuples(res[0]) != 1))
        reply_row(r, 200, res[0], "clue");
    if (!ran || !pii || PQntuples(res[0]) != 1) {
        sodium_memzero(key, sizeof key);
        return;
    }
    /* put the clear identities into the persons of the document */
    cJSON *doc = NULL;
    const char *text = PQgetvalue(res[0], 0, PQfnumber(res[0], "json"));
    bool ok = json_parse(text, strlen(text), &doc, NULL) == JSON_OK &&
              !arena_defer(r->arena, delete_json, doc);
    cJSON *persons = ok ? cJSON_GetObjectItemCaseSensitive(doc, "persons") : NULL;
    for (cJSON *o = persons ? persons->child : NULL; ok && o; o = o->next) {
        int row = secrets_row(res[1], cJSON_GetObjectItemCaseSensitive(o, "id")->valuedouble);
        if (row < 0)
            continue; /* added after the read: stays masked */
        ok = put_clear(r, key, o, res[1], row, 2, "name") &&
             put_clear(r, key, o, res[1], row, 3, "post") &&
             put_clear(r, key, o, res[1], row, 4, "org");
        cJSON *f = ok ? cJSON_CreateFalse() : NULL;
        ok = f && cJSON_ReplaceItemInObjectCaseSensitive(o, "masked", f);
        if (!ok)
            cJSON_Delete(f);
    }
    sodium_memzero(key, sizeof key);
    char *out = ok ? cJSON_PrintUnformatted(doc) : NULL;
    if (!out || arena_defer(r->arena, wipe_free, out)) {
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }
    reply_etag(r, PQgetvalue(res[0], 0, PQfnumber(res[0], "version")));
    reply_json(r, 200, out, strlen(out));
}

/* --- writes ------------------------------------------------------------------------- */

static const struct vfield clue_fields[] = {
    {"campaign_id", V_INT, true, false, 1, ID_MAX, NULL, NULL, NULL},
    {"source", V_STRING, true, false, 1, 40, sources, NULL, NULL},
    {"kind", V_STRING, false, true, 1, 40, kinds, NULL, NULL},
    {"summary", V_STRING, true, false, 1, 5000, NULL, ledger_not_blank, "must not be blank"},
    {"team_doc_no", V_STRING, false, true, 1, 100, NULL, ledger_not_blank, "must not be blank"},
    {"team_transferred_on", V_STRING, false, true, 10, 10, NULL, ledger_date_ok,
     "must be a date YYYY-MM-DD"},
};
static const struct lfield clue_lists[] = {
    {"problem_ids", false, false, 100, lcheck_id_list},
    {"task_ids", false, false, 100, lcheck_id_list},
    {"complaint_ids", false, false, 100, lcheck_id_list},
    {"finding_ids", false, false, 100, lcheck_id_list},
    {"spot_check_ids", false, false, 100, lcheck_id_list},
    {"persons", false, false, 50, lcheck_persons},
};
#define N(a) (sizeof a / sizeof a[0])

static void create_clue(struct req *r)
{
    if (!ledger_body_or_reply(r, clue_fields, N(clue_fields), clue_lists, N(clue_lists)))
        return;
    cJSON *persons = cJSON_GetObjectItemCaseSensitive(r->json, "persons");
    if (cJSON_GetArraySize(persons) > 0) {
        unsigned char key[PII_KEY_BYTES];
        if (!complaint_pii_key_or_reply(r, key))
            return;
        bool ok = true;
        for (cJSON *o = persons->child; ok && o; o = o->next)
            ok = seal_new_person_or_reply(r, key, o);
        sodium_memzero(key, sizeof key);
        if (!ok)
            return;
    }
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *p[] = {body};
    reply_query_row(r, 201, &(struct db_query){sql_create, 1, p}, "clue");
}

static const struct vfield clue_patch_fields[] = {
    {"kind", V_STRING, false, true, 1, 40, kinds, NULL, NULL},
    {"summary", V_STRING, false, false, 1, 5000, NULL, ledger_not_blank, "must not be blank"},
    {"team_doc_no", V_STRING, false, true, 1, 100, NULL, ledger_not_blank, "must not be blank"},
    {"team_transferred_on", V_STRING, false, true, 10, 10, NULL, ledger_date_ok,
     "must be a date YYYY-MM-DD"},
};

/* An empty change is refused: the client meant something else. */
static bool not_empty_or_reply(struct req *r)
{
    if (r->json->child)
        return true;
    reply_field_error(r, 422, "validation_failed", "The body changes nothing.", "",
                      "must name at least one member");
    return false;
}

static void update_clue(struct req *r)
{
    char id[24], version[16];
    if (!clue_id_or_reply(r, id) ||
        !ledger_body_or_reply(r, clue_patch_fields, N(clue_patch_fields), clue_lists,
                              N(clue_lists) - 1) ||
        !not_empty_or_reply(r) || !if_match_or_reply(r, version))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *p[] = {id, version, body};
    reply_query_row(r, 200, &(struct db_query){sql_update, 3, p}, "clue");
}

static const struct vfield transition_fields[] = {
    {"action", V_STRING, true, false, 1, 40, actions, NULL, NULL},
    {"transferred_on", V_STRING, false, false, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
    {"doc_no", V_STRING, false, false, 1, 100, NULL, ledger_not_blank, "must not be blank"},
    {"received_on", V_STRING, false, false, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
    {"started_on", V_STRING, false, false, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
    {"concluded_on", V_STRING, false, false, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
    {"conclusion", V_STRING, false, false, 1, 20000, NULL, ledger_not_blank, "must not be blank"},
};

/* Which members each action takes (required ones first, then optional). */
static const struct {
    const char *action;
    const char *required[2];
    const char *optional[2];
} action_members[] = {
    {"transfer", {"transferred_on", "doc_no"}, {NULL, NULL}},
    {"receive", {NULL, NULL}, {"received_on", NULL}},
    {"investigate", {NULL, NULL}, {"started_on", NULL}},
    {"conclude", {"conclusion", NULL}, {"concluded_on", NULL}},
};

static void transition_clue(struct req *r)
{
    char id[24], version[16];
    if (!clue_id_or_reply(r, id) ||
        !validate_or_reply(r, r->json, transition_fields, N(transition_fields)))
        return;
    const char *action = ledger_json_string(r->json, "action");
    size_t a = 0;
    while (strcmp(action_members[a].action, action) != 0)
        a++;
    struct field_error errs[N(transition_fields) + 2];
    size_t ne = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *m = action_members[a].required[i];
        if (m && !cJSON_GetObjectItemCaseSensitive(r->json, m))
            errs[ne++] = (struct field_error){.pointer = arena_printf(r->arena, "/%s", m),
                                              .message = arena_printf(r->arena, "is required for %s", action)};
    }
    for (const cJSON *m = r->json->child; m; m = m->next) {
        bool used = strcmp(m->string, "action") == 0;
        for (size_t i = 0; i < 2 && !used; i++)
            used = (action_members[a].required[i] && strcmp(action_members[a].required[i], m->string) == 0) ||
                   (action_members[a].optional[i] && strcmp(action_members[a].optional[i], m->string) == 0);
        if (!used)
            errs[ne++] = (struct field_error){.pointer = arena_printf(r->arena, "/%s", m->string),
                                              .message = arena_printf(r->arena, "is not used by %s", action)};
    }
    if (ne) {
        reply_problem_errors(r, 422, "validation_failed", "The transition's members do not fit its action.",
                             errs, ne);
        return;
    }
    if (!if_match_or_reply(r, version))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *p[] = {id, version, body};
    reply_query_row(r, 200, &(struct db_query){sql_transition, 3, p}, "clue");
}

static void add_person(struct req *r)
{
    char id[24], version[16];
    unsigned char key[PII_KEY_BYTES];
    if (!clue_id_or_reply(r, id) || !validate_or_reply(r, r->json, person_fields, NPERSON) ||
        !if_match_or_reply(r, version) || !complaint_pii_key_or_reply(r, key))
        return;
    bool ok = seal_new_person_or_reply(r, key, r->json);
    sodium_memzero(key, sizeof key);
    const char *body = ok ? json_body_text_or_reply(r) : NULL;
    if (!body)
        return;
    const char *p[] = {id, version, body};
    reply_query_row(r, 201, &(struct db_query){sql_person_create, 3, p}, "clue");
}

static const struct vfield person_patch_fields[] = {
    {"name", V_STRING, false, false, 1, 50, NULL, ledger_not_blank, "must not be blank"},
    {"post", V_STRING, false, false, 1, 100, NULL, ledger_not_blank, "must not be blank"},
    {"org", V_STRING, false, false, 1, 100, NULL, ledger_not_blank, "must not be blank"},
    {"level", V_STRING, false, false, 1, 20, levels, NULL, NULL},
    {"outcome", V_STRING, false, false, 1, 40, outcomes, NULL, NULL},
    {"outcome_detail", V_STRING, false, true, 1, 500, NULL, ledger_not_blank, "must not be blank"},
    {"outcome_on", V_STRING, false, false, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
};

/* Identity changes are sealed to the person's ref (read first: the one
 * extra round trip, only when the identity changes). */
static void update_person(struct req *r)
{
    char id[24], pid[24], version[16];
    if (!clue_id_or_reply(r, id))
        return;
    if (!id_parse(req_param(r, "person_id"), pid)) {
        reply_no_such(r, "person concerned");
        return;
    }
    if (!validate_or_reply(r, r->json, person_patch_fields, N(person_patch_fields)) ||
        !not_empty_or_reply(r) || !if_match_or_reply(r, version))
        return;
    if (cJSON_GetObjectItemCaseSensitive(r->json, "name") ||
        cJSON_GetObjectItemCaseSensitive(r->json, "post") ||
        cJSON_GetObjectItemCaseSensitive(r->json, "org")) {
        unsigned char key[PII_KEY_BYTES];
        const char *p0[] = {id, pid};
        struct db_query q0 = {sql_person_ref, 2, p0};
        PGresult *res0;
        if (!complaint_pii_key_or_reply(r, key))
            return;
        bool ok = db_run_or_reply(r, &q0, 1, &res0);
        if (ok && PQntuples(res0) != 1) {
            reply_no_such(r, "person concerned");
            ok = false;
        }
        if (ok && !seal_person(r, key, r->json, PQgetvalue(res0, 0, 0))) {
            reply_problem(r, 503, "service_unavailable", "Out of memory.");
            ok = false;
        }
        sodium_memzero(key, sizeof key);
        if (!ok)
            return;
    }
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const char *p[] = {id, pid, version, body};
    reply_query_row(r, 200, &(struct db_query){sql_person_update, 4, p}, "clue");
}

static const struct vfield publish_fields[] = {
    {"public_summary", V_STRING, true, false, 1, 5000, NULL, ledger_not_blank, "must not be blank"},
};
static const struct lfield publish_lists[] = {
    {"named_person_ids", false, false, 50, lcheck_id_list},
};

/* The identities [{id, name, post, org}] of the persons named, opened from
 * a secrets result; NULL when out of memory, or when a value cannot be
 * opened (*unreadable: wrong key or tampered row). */
static cJSON *identities(struct req *r, const unsigned char key[PII_KEY_BYTES],
                         const cJSON *named, PGresult *sec, bool *unreadable)
{
    cJSON *list = cJSON_CreateArray();
    if (!list || arena_defer(r->arena, delete_json, list))
        return NULL;
    for (const cJSON *n = named->child; n; n = n->next) {
        int row = secrets_row(sec, n->valuedouble);
        if (row < 0)
            continue; /* not this clue's: the publication refuses it */
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(list, o) || !cJSON_AddNumberToObject(o, "id", n->valuedouble))
            return NULL;
        for (int c = 2; c <= 4; c++) {
            static const char *const names[] = {"name", "post", "org"};
            bool oom = false;
            char *clear = open_column(r, key, sec, row, c, names[c - 2], &oom);
            *unreadable = !clear && !oom;
            if (!clear || arena_defer(r->arena, wipe_string, clear) ||
                !cJSON_AddStringToObject(o, names[c - 2], clear))
                return NULL;
        }
    }
    return list;
}

static void publish_clue(struct req *r)
{
    char id[24], version[16];
    if (!clue_id_or_reply(r, id) ||
        !ledger_body_or_reply(r, publish_fields, N(publish_fields), publish_lists, N(publish_lists)) ||
        !if_match_or_reply(r, version))
        return;
    const char *body = json_body_text_or_reply(r);
    if (!body)
        return;
    const cJSON *named = cJSON_GetObjectItemCaseSensitive(r->json, "named_person_ids");
    if (cJSON_GetArraySize(named) > 0) {
        /* the chosen identities are opened here and copied in clear into the
         * publication: checks first, in the transaction of the (audited) read */
        unsigned char key[PII_KEY_BYTES];
        if (!complaint_pii_key_or_reply(r, key))
            return;
        const char *pc[] = {id, version, body}, *ps[] = {id, "publish"};
        struct db_query q0[] = {{sql_publish_check, 3, pc}, {sql_secrets, 2, ps}};
        PGresult *res0[2];
        cJSON *ids = NULL;
        bool unreadable = false;
        if (db_run_or_reply(r, q0, 2, res0)) {
            ids = identities(r, key, named, res0[1], &unreadable);
            if (!ids && unreadable)
                reply_problem(r, 500, "internal_error", "A person's sealed data cannot be opened.");
            else if (!ids)
                reply_problem(r, 503, "service_unavailable", "Out of memory.");
        }
        sodium_memzero(key, sizeof key);
        if (!ids)
            return;
        char *ids_text = cJSON_PrintUnformatted(ids);
        if (!ids_text || arena_defer(r->arena, wipe_free, ids_text)) {
            reply_problem(r, 503, "service_unavailable", "Out of memory.");
            return;
        }
        size_t bl = strlen(body);
        body = arena_printf(r->arena, "%.*s,\"identities\":%s}", (int)(bl - 1), body, ids_text);
        if (!body || arena_defer(r->arena, wipe_string, (char *)body)) {
            reply_problem(r, 503, "service_unavailable", "Out of memory.");
            return;
        }
    }
    const char *p[] = {id, version, body};
    reply_query_row(r, 200, &(struct db_query){sql_publish, 3, p}, "clue");
}

static void unpublish_clue(struct req *r)
{
    char id[24], version[16];
    if (!clue_id_or_reply(r, id) || !if_match_or_reply(r, version))
        return;
    const char *p[] = {id, version};
    reply_query_row(r, 200, &(struct db_query){sql_unpublish, 2, p}, "clue");
}

/* --- public ------------------------------------------------------------------------- */

/* The published outcomes (no account): exactly rectify.clue_public_json(). */
static void public_accountability(struct req *r)
{
    struct lerrs l = {.arena = r->arena};
    const char *campaign = lq_id(r, &l, "campaign_id");
    if (!lq_ok_or_reply(r, &l))
        return;
    const char *p[] = {campaign};
    struct db_query q = {sql_public, 1, p};
    reply_header(r, "Cache-Control", "public, max-age=60");
    reply_db_json(r, 200, &q);
}

#define H ROUTE_HIDDEN
const struct route clue_routes[] = {
    {"GET", "/api/v1/clues", list_clues, PERM_CLUE_READ, H},
    {"POST", "/api/v1/clues", create_clue, PERM_CLUE_WRITE, H | ROUTE_JSON_BODY},
    {"GET", "/api/v1/clues/stats", clue_stats, PERM_CLUE_READ, H},
    {"GET", "/api/v1/clues/{id}", get_clue, PERM_CLUE_READ, H},
    {"PATCH", "/api/v1/clues/{id}", update_clue, PERM_CLUE_WRITE, H | ROUTE_JSON_BODY},
    {"POST", "/api/v1/clues/{id}/transitions", transition_clue, PERM_CLUE_WRITE, H | ROUTE_JSON_BODY},
    {"POST", "/api/v1/clues/{id}/persons", add_person, PERM_CLUE_WRITE, H | ROUTE_JSON_BODY},
    {"PATCH", "/api/v1/clues/{id}/persons/{person_id}", update_person, PERM_CLUE_WRITE,
     H | ROUTE_JSON_BODY},
    {"PUT", "/api/v1/clues/{id}/publication", publish_clue, PERM_CLUE_WRITE, H | ROUTE_JSON_BODY},
    {"DELETE", "/api/v1/clues/{id}/publication", unpublish_clue, PERM_CLUE_WRITE, H},
    {"GET", "/public/v1/accountability", public_accountability, PERM_PUBLIC, 0},
};
const size_t clue_routes_count = sizeof clue_routes / sizeof clue_routes[0];
