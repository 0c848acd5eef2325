/* Citizen complaints (群众举报件): batches, the list and one complaint, the
 * workflow (transitions), repeats (links, similar) and exports. The import
 * is in complaint_import.c.
 *
 * Personal data: every answer carries the masked complainant (张*,
 * 138****5678) computed at import. The clear values are returned only to
 * callers with PERM_COMPLAINANT_PII (office, admin) who ask for them
 * (?pii=true): they come from rectify.complainant_secrets(), which records
 * the read in pii_reads (audited, so in the hash chain), and are decrypted
 * here. They are never logged. */
#include "complaints_internal.h"

#include "rectify/api.h"
#include "rectify/ledger.h"
#include "rectify/app.h"
#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/complaint_workflow.h"
#include "rectify/config.h"
#include "rectify/export.h"
#include "rectify/log.h"
#include "rectify/params.h"
#include "rectify/permissions.h"
#include "rectify/pii.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- SQL fragments ------------------------------------------------------------ */

#define ORG_REF(e)                                                                          \
    "(SELECT json_build_object('id', o.id, 'code', o.code, 'name', o.name) FROM orgs o"    \
    " WHERE o.id = " e ")"

#define MASKED(c)                                                                           \
    "(SELECT json_build_object('name', cpii.name_masked, 'phone', cpii.phone_masked,"      \
    " 'id_number', cpii.id_number_masked, 'address', cpii.address_masked, 'masked', true)" \
    " FROM complainants cpii WHERE cpii.id = " c ".id)"

#define COMPLAINT_FIELDS(c)                                                                 \
    "'id', " c ".id, 'campaign_id', " c ".campaign_id, 'handover_no', " c ".handover_no,"  \
    " 'batch', (SELECT json_build_object('id', b.id, 'batch_no', b.batch_no,"             \
    "   'handed_over_on', b.handed_over_on) FROM complaint_batches b WHERE b.id = " c ".batch_id)," \
    " 'channel', " c ".channel, 'received_at', " c ".received_at, 'content', " c ".content," \
    " 'pollution_types', " c ".pollution_types, 'county', " ORG_REF(c ".county_org_id") "," \
    " 'address', " c ".address, 'latitude', " c ".latitude, 'longitude', " c ".longitude,"  \
    " 'entity_name', " c ".entity_name, 'entity_credit_code', " c ".entity_credit_code,"    \
    " 'grade', " c ".grade, 'responsible_org', " ORG_REF(c ".responsible_org_id") ","       \
    " 'deadline', " c ".deadline, 'status', " c ".status,"                                  \
    " 'overdue', rectify.complaint_overdue(" c ".status, " c ".deadline),"                  \
    " 'verdict', " c ".verdict, 'result', " c ".result, 'rejection_reason', " c ".rejection_reason," \
    " 'enforcement', json_build_object('ordered_rectify', " c ".ordered_rectify,"           \
    "   'cases_filed', " c ".cases_filed, 'fines_yuan', " c ".fines_yuan,"                   \
    "   'people_interviewed', " c ".people_interviewed,"                                     \
    "   'people_accountable', " c ".people_accountable),"                                    \
    " 'public_summary', " c ".public_summary, 'repeat_group_id', " c ".repeat_group_id,"    \
    " 'resolved_at', " c ".resolved_at, 'closed_at', " c ".closed_at,"                      \
    " 'version', " c ".version, 'created_at', " c ".created_at, 'updated_at', " c ".updated_at"

#define COMPLAINT_JSON(c) "json_build_object(" COMPLAINT_FIELDS(c) ", 'complainant', " MASKED(c) ")"

/* The detail: + history, repeat group with its members. $2 false leaves the
 * complainant out (the handler adds the clear values). */
#define COMPLAINT_DETAIL(c)                                                                  \
    "json_build_object(" COMPLAINT_FIELDS(c) ","                                            \
    " 'complainant', CASE WHEN $2::bool THEN " MASKED(c) " END,"                             \
    " 'history', (SELECT coalesce(json_agg(json_build_object('id', e.id, 'action', e.action," \
    "   'from_status', e.from_status, 'to_status', e.to_status, 'responsible_org',"          \
    "   " ORG_REF("e.responsible_org_id") ", 'deadline', e.deadline, 'reason', e.reason,"    \
    "   'comment', e.comment, 'user_id', e.user_id, 'at', e.at) ORDER BY e.id), '[]')"       \
    "   FROM complaint_events e WHERE e.complaint_id = " c ".id),"                           \
    " 'repeat_group', (SELECT json_build_object('id', g.id, 'case_plan', g.case_plan,"       \
    "   'leading_official', g.leading_official, 'leading_post', g.leading_post,"             \
    "   'complaints', (SELECT json_agg(json_build_object('id', m.id, 'handover_no',"         \
    "     m.handover_no, 'status', m.status) ORDER BY m.id) FROM complaints m"               \
    "     WHERE m.repeat_group_id = g.id)) FROM complaint_repeat_groups g"                   \
    "   WHERE g.id = " c ".repeat_group_id))"

/* The list filters: $1 campaign, $2 batch, $3 status, $4 grade, $5 type,
 * $6 county org (its subtree), $7 responsible org, $8 overdue, $9 verdict,
 * $10 has_repeats, $11 received_from, $12 received_to, $13 q pattern,
 * $14 after id. The page's ids come from rectify.complaint_list_ids (0038):
 * it applies the caller's visibility and every filter as the owner, so each
 * filter can use its index (under row-level security only leakproof
 * conditions can: docs/design-notes.md), plans with the request's values
 * and returns the ids of one page in id order; the rows are read here
 * through row-level security by primary key (a leakproof index condition).
 * AFTER and LIMIT are the keyset and page size as SQL. */
#define COMPLAINT_PAGE_IDS(AFTER, LIMIT)                                                        \
    "c.id = ANY (ARRAY(SELECT rectify.complaint_list_ids($1::bigint, $2::bigint, $3::text,"    \
    " $4::text, $5::text, $6::bigint, $7::bigint, $8::bool, $9::text, $10::bool, $11::date,"    \
    " $12::date, $13::text, " AFTER ", " LIMIT ")))"

static const char sql_list[] =
    "WITH page AS (SELECT c.*, row_number() OVER (ORDER BY c.id) AS n FROM ("
    "  SELECT * FROM complaints c WHERE " COMPLAINT_PAGE_IDS("$14::bigint", "$15::int + 1")
    "  ORDER BY c.id LIMIT $15::int + 1) c)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(" COMPLAINT_JSON("p") " ORDER BY p.id) FROM page p"
    "                     WHERE p.n <= $15::int), '[]'),"
    "  'next_cursor', (SELECT " SQL_CURSOR_OF("p.id") " FROM page p WHERE p.n = $15::int"
    "                  AND EXISTS (SELECT 1 FROM page q WHERE q.n > $15::int)))::text";

const char complaint_sql_get[] =
    "SELECT c.version, " COMPLAINT_DETAIL("c") "::text, c.campaign_id, c.handover_no"
    " FROM complaints c WHERE c.id = $1::bigint";

static const char sql_secrets[] =
    "SELECT id, campaign_id, handover_no, name_enc, phone_enc, id_number_enc, address_enc"
    " FROM rectify.complainant_secrets($1::bigint[], $2) ORDER BY id";

static const char sql_state[] =
    "SELECT status, version FROM complaints WHERE id = $1::bigint";

/* $1 id, $2 action, $3 to, $4 body, $5 from, $6 If-Match version or NULL. */
static const char sql_transition[] =
    "WITH b AS (SELECT $4::jsonb AS j),"
    " cur AS (SELECT c.id, c.status, c.version FROM complaints c WHERE c.id = $1::bigint),"
    " upd AS (UPDATE complaints c SET status = $3::text,"
    "   responsible_org_id = CASE WHEN $2 IN ('assign', 'reassign')"
    "     THEN (j->>'responsible_org_id')::bigint ELSE c.responsible_org_id END,"
    "   deadline = CASE WHEN j ? 'deadline' THEN (j->>'deadline')::date ELSE c.deadline END,"
    "   verdict = CASE WHEN j ? 'verdict' THEN j->>'verdict' ELSE c.verdict END,"
    "   result = CASE WHEN j ? 'result' THEN j->>'result' ELSE c.result END,"
    "   rejection_reason = CASE WHEN $2 = 'reject' THEN j->>'reason'"
    "     WHEN $3::text = 'investigating' THEN NULL ELSE c.rejection_reason END,"
    "   ordered_rectify = coalesce((j->'enforcement'->>'ordered_rectify')::int, c.ordered_rectify),"
    "   cases_filed = coalesce((j->'enforcement'->>'cases_filed')::int, c.cases_filed),"
    "   fines_yuan = coalesce((j->'enforcement'->>'fines_yuan')::numeric, c.fines_yuan),"
    "   people_interviewed = coalesce((j->'enforcement'->>'people_interviewed')::int,"
    "     c.people_interviewed),"
    "   people_accountable = coalesce((j->'enforcement'->>'people_accountable')::int,"
    "     c.people_accountable),"
    "   public_summary = CASE WHEN j ? 'public_summary' THEN j->>'public_summary'"
    "     ELSE c.public_summary END,"
    "   resolved_at = CASE WHEN $3::text = 'resolved' THEN now()"
    "     WHEN $3::text = 'investigating' THEN NULL ELSE c.resolved_at END,"
    "   closed_at = CASE WHEN $3::text = 'closed' THEN now()"
    "     WHEN $3::text = 'investigating' THEN NULL ELSE c.closed_at END"
    "   FROM b WHERE c.id = $1::bigint AND c.status = $5::text"
    "    AND ($6::int IS NULL OR c.version = $6::int) RETURNING c.*),"
    " ev AS (INSERT INTO complaint_events (complaint_id, action, from_status, to_status,"
    "   responsible_org_id, deadline, reason, comment)"
    "  SELECT upd.id, $2, $5::text, $3::text, upd.responsible_org_id,"
    "   CASE WHEN j ? 'deadline' THEN upd.deadline END, j->>'reason', j->>'comment'"
    "   FROM upd, b RETURNING id)"
    " SELECT CASE WHEN cur.id IS NULL THEN 'not_found' WHEN upd.id IS NOT NULL THEN 'ok'"
    "   WHEN cur.status <> $5::text THEN 'conflict' ELSE 'stale' END, cur.version, cur.status"
    " FROM (SELECT 1) one LEFT JOIN cur ON true LEFT JOIN upd ON true";

static const char sql_link[] =
    "SELECT rectify.complaint_link($1::bigint, $2::bigint, $3, $4, $5, $6)";

/* $1 id, $2 limit. Same county or within ~5 km, and similar text or entity.
 * The candidates (at most 300 ids, the nearest by trigram distance per
 * branch) come from a SECURITY DEFINER function that uses the indexes
 * (0033, 0034); the rows are read here through RLS by primary key
 * (`id = ANY (…)` is leakproof, so an index condition), so only rows the
 * caller may see are scored and suggested. When the complaint itself is not
 * visible, x is empty and nothing is looked up. */
static const char sql_similar[] =
    "WITH x AS (SELECT * FROM complaints WHERE id = $1::bigint),"
    " cand AS (SELECT c.*, similarity(c.content, x.content) AS s_text,"
    "   coalesce(similarity(c.entity_name, x.entity_name), 0) AS s_entity,"
    "   (c.county_org_id = x.county_org_id) AS same_county,"
    "   CASE WHEN c.latitude IS NOT NULL AND x.latitude IS NOT NULL THEN"
    "     111.2 * sqrt(power(c.latitude - x.latitude, 2)"
    "       + power((c.longitude - x.longitude) * cos(radians(x.latitude)), 2)) END AS km"
    "   FROM complaints c, x"
    "   WHERE c.id = ANY (ARRAY(SELECT rectify.complaint_similar_candidates(x1.id) FROM x x1)))"
    " SELECT (SELECT json_build_object('id', id, 'handover_no', handover_no) FROM x)::text,"
    "  json_build_object('items', coalesce(json_agg(json_build_object('score', score,"
    "   'text_similarity', round(s_text::numeric, 3), 'entity_similarity',"
    "   round(s_entity::numeric, 3), 'same_county', same_county, 'distance_km',"
    "   round(km::numeric, 2), 'complaint', json_build_object('id', id, 'campaign_id',"
    "   campaign_id, 'handover_no', handover_no, 'status', status, 'received_at', received_at,"
    "   'county', " ORG_REF("county_org_id") ", 'entity_name', entity_name, 'content', content,"
    "   'repeat_group_id', repeat_group_id)) ORDER BY score DESC, id), '[]'))::text"
    " FROM (SELECT *, round((0.6 * s_text + 0.3 * s_entity"
    "   + 0.1 * CASE WHEN same_county OR km < 5 THEN 1 ELSE 0 END)::numeric, 3) AS score"
    "   FROM cand WHERE same_county OR km < 5 ORDER BY score DESC, id LIMIT $2::int) s";

static const char sql_batch_list[] =
    "SELECT coalesce(json_agg(json_build_object('id', b.id, 'campaign_id', b.campaign_id,"
    " 'batch_no', b.batch_no, 'handed_over_on', b.handed_over_on, 'expected_count',"
    " b.expected_count, 'complaint_count', (SELECT count(*) FROM complaints c"
    " WHERE c.batch_id = b.id), 'note', b.note, 'acknowledged_at', b.acknowledged_at,"
    " 'version', b.version, 'created_at', b.created_at) ORDER BY b.campaign_id, b.batch_no),"
    " '[]')::text FROM complaint_batches b WHERE ($1::bigint IS NULL OR b.campaign_id = $1::bigint)";

static const char sql_batch_create[] =
    "WITH b AS (SELECT $1::jsonb AS j),"
    " ins AS (INSERT INTO complaint_batches (campaign_id, batch_no, handed_over_on,"
    "   expected_count, note, acknowledged_at, acknowledged_by)"
    "  SELECT (j->>'campaign_id')::bigint, (j->>'batch_no')::int, (j->>'handed_over_on')::date,"
    "   (j->>'expected_count')::int, j->>'note',"
    "   CASE WHEN (j->>'acknowledged')::bool THEN now() END,"
    "   CASE WHEN (j->>'acknowledged')::bool THEN rectify.user_id() END FROM b"
    "  ON CONFLICT (campaign_id, batch_no) DO NOTHING RETURNING *)"
    " SELECT json_build_object('id', id, 'campaign_id', campaign_id, 'batch_no', batch_no,"
    "  'handed_over_on', handed_over_on, 'expected_count', expected_count, 'note', note,"
    "  'acknowledged_at', acknowledged_at, 'version', version, 'created_at', created_at)::text"
    " FROM ins";

/* --- helpers ------------------------------------------------------------------ */

static bool wants_pii_or_reply(struct req *r, bool *pii)
{
    const char *v = req_query(r, "pii");
    *pii = v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
    if (v && !*pii && strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
        struct field_error e = {.parameter = "pii", .message = "must be true or false", .code = "wrong_type"};
        reply_invalid_params(r, &e, 1);
        return false;
    }
    if (*pii && !perm_allows(r->who.roles, PERM_COMPLAINANT_PII)) {
        reply_problem(r, 403, "forbidden",
                      "Only the rectification office may see complainants' personal data.");
        return false;
    }
    return true;
}

/* Opens one sealed bytea (binary) column into a JSON member. Returns 0, or
 * -1 when out of memory. */
static int open_member(struct buf *b, const unsigned char key[32], PGresult *res, int row,
                        int col, const char *campaign, const char *handover, const char *name,
                        bool *first)
{
    int rc = buf_printf(b, "%s\"%s\":", *first ? "" : ",", name);
    *first = false;
    if (PQgetisnull(res, row, col))
        return rc | buf_puts(b, "null");
    size_t blen;
    unsigned char *bin = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &blen);
    char ad[160];
    char *out = bin ? malloc(blen + 1) : NULL;
    size_t olen;
    if (!out) {
        rc = -1; /* out of memory (not "cannot be opened") */
    } else if (pii_ad(ad, sizeof ad, campaign, handover, name) == 0 &&
               pii_open(key, ad, bin, blen, out, &olen) == 0) {
        rc |= buf_json_string(b, out);
        sodium_memzero(out, olen);
    } else {
        rc |= buf_puts(b, "null"); /* cannot be opened: wrong key or tampered */
    }
    free(out);
    PQfreemem(bin);
    return rc;
}

static void delete_json(void *p) { cJSON_Delete(p); }

/* The clear complainant of row `row` of a complainant_secrets() result.
 * Returns 0, or -1 when out of memory. */
static int clear_complainant(struct buf *b, const unsigned char key[32], PGresult *res, int row)
{
    const char *campaign = PQgetvalue(res, row, 1), *handover = PQgetvalue(res, row, 2);
    bool first = true;
    int rc = buf_puts(b, "{");
    rc |= open_member(b, key, res, row, 3, campaign, handover, "name", &first);
    rc |= open_member(b, key, res, row, 4, campaign, handover, "phone", &first);
    rc |= open_member(b, key, res, row, 5, campaign, handover, "id_number", &first);
    rc |= open_member(b, key, res, row, 6, campaign, handover, "address", &first);
    return rc | buf_puts(b, ",\"masked\":false}");
}

static const char *const statuses[] = {"received", "assigned", "investigating", "stage_resolved",
                                       "resolved", "rejected", "closed", NULL};
static const char *const grades[] = {"general", "key", NULL};
static const char *const verdicts[] = {"true", "partly_true", "false", NULL};
static const char *const ptypes[] = {"air", "water", "soil", "noise", "solid_waste", "ecology",
                                     "radiation", "other", NULL};

static bool in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (strcmp(*l, s) == 0)
            return true;
    return false;
}

bool complaint_filters_or_reply(struct req *r, const char *out[COMPLAINT_FILTER_PARAMS])
{
    struct field_error errs[20];
    size_t n = 0;
    static const char *const ids[] = {"campaign_id", "batch_id", "county", "responsible_org_id"};
    static const int id_slot[] = {0, 1, 5, 6};
    for (int i = 0; i < COMPLAINT_FILTER_PARAMS; i++)
        out[i] = NULL;
    for (int i = 0; i < 4; i++) {
        const char *v = req_query(r, ids[i]);
        if (!v)
            continue;
        char *id = arena_alloc(r->arena, 24);
        if (id && id_parse(v, id))
            out[id_slot[i]] = id;
        else
            errs[n++] = (struct field_error){.parameter = ids[i], .message = "must be an id", .code = "invalid_format"};
    }
    static const struct {
        const char *name;
        const char *const *list;
        int slot;
    } enums[] = {{"status", statuses, 2}, {"grade", grades, 3}, {"type", ptypes, 4},
                 {"verdict", verdicts, 8}};
    for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
        const char *v = req_query(r, enums[i].name);
        if (!v)
            continue;
        if (in_list(enums[i].list, v))
            out[enums[i].slot] = v;
        else
            errs[n++] = (struct field_error){.parameter = enums[i].name,
                                             .message = "is not one of the allowed values", .code = "not_in_vocabulary"};
    }
    static const struct {
        const char *name;
        int slot;
    } bools[] = {{"overdue", 7}, {"has_repeats", 9}};
    for (size_t i = 0; i < 2; i++) {
        const char *v = req_query(r, bools[i].name);
        if (!v)
            continue;
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
            out[bools[i].slot] = v;
        else
            errs[n++] = (struct field_error){.parameter = bools[i].name,
                                             .message = "must be true or false", .code = "wrong_type"};
    }
    static const struct {
        const char *name;
        int slot;
    } dates[] = {{"received_from", 10}, {"received_to", 11}};
    for (size_t i = 0; i < 2; i++) {
        const char *v = req_query(r, dates[i].name);
        if (!v)
            continue;
        if (ledger_date_ok(v))
            out[dates[i].slot] = v;
        else
            errs[n++] = (struct field_error){.parameter = dates[i].name,
                                             .message = "must be a date YYYY-MM-DD", .code = "invalid_date"};
    }
    const char *q = req_query(r, "q");
    if (q) {
        if (q_valid(q))
            out[12] = like_pattern(r->arena, q);
        else
            errs[n++] = (struct field_error){.parameter = "q",
                                             .message = "must be 1 to 100 characters of UTF-8 text"};
    }
    if (n) {
        reply_invalid_params(r, errs, n);
        return false;
    }
    return true;
}

/* --- handlers ------------------------------------------------------------------ */

static void list_complaints(struct req *r)
{
    const char *p[COMPLAINT_FILTER_PARAMS + 1];
    if (!complaint_filters_or_reply(r, p))
        return;
    struct field_error errs[2];
    size_t n = 0;
    char limit[8], after[24];
    bool has_after;
    page_params(r, errs, &n, limit, after, &has_after);
    if (n) {
        reply_invalid_params(r, errs, n);
        return;
    }
    p[13] = has_after ? after : NULL;
    p[14] = limit;
    struct db_query q = {sql_list, 15, p};
    reply_db_json(r, 200, &q);
}

static void get_complaint(struct req *r)
{
    char id[24];
    bool pii;
    if (!id_parse(req_param(r, "id"), id)) {
        reply_problem(r, 404, "not_found", "No such complaint.");
        return;
    }
    if (!wants_pii_or_reply(r, &pii))
        return;
    unsigned char key[32];
    if (pii && !complaint_pii_key_or_reply(r, key))
        return;
    const char *ids = arena_printf(r->arena, "{%s}", id);
    const char *p[] = {id, pii ? "false" : "true"};
    const char *ps[] = {ids, "view"};
    struct db_query q[] = {{complaint_sql_get, 2, p}, {sql_secrets, 2, ps}};
    PGresult *res[2];
    if (!db_run_or_reply(r, q, pii ? 2 : 1, res))
        return;
    if (PQntuples(res[0]) != 1) {
        reply_problem(r, 404, "not_found", "No such complaint.");
        return;
    }
    reply_etag(r, PQgetvalue(res[0], 0, 0));
    reply_header(r, "Cache-Control", pii ? "no-store" : "private, no-cache");
    if (!pii) {
        reply_json(r, 200, PQgetvalue(res[0], 0, 1), (size_t)PQgetlength(res[0], 0, 1));
        return;
    }
    /* put the clear complainant where the detail has "complainant" : null
     * (json_build_object's spacing; the statement left it null for us) */
    const char *doc = PQgetvalue(res[0], 0, 1);
    static const char hole[] = "\"complainant\" : null";
    const char *at = strstr(doc, hole);
    if (!at) {
        reply_problem(r, 500, "internal_error", "Unexpected complaint document.");
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_append(&b, doc, (size_t)(at - doc));
    rc |= buf_puts(&b, "\"complainant\":");
    if (PQntuples(res[1]) == 1)
        rc |= clear_complainant(&b, key, res[1], 0);
    else
        rc |= buf_puts(&b, "null");
    rc |= buf_puts(&b, at + sizeof hole - 1);
    sodium_memzero(key, sizeof key);
    if (rc || !b.data) {
        if (b.data)
            sodium_memzero(b.data, b.len);
        buf_free(&b);
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }
    reply_json(r, 200, b.data, strlen(b.data));
    sodium_memzero(b.data, b.len);
    buf_free(&b);
}

static void list_batches(struct req *r)
{
    const char *c = req_query(r, "campaign_id");
    char id[24];
    if (c && !id_parse(c, id)) {
        struct field_error e = {.parameter = "campaign_id", .message = "must be an id", .code = "invalid_format"};
        reply_invalid_params(r, &e, 1);
        return;
    }
    const char *p[] = {c ? id : NULL};
    struct db_query q = {sql_batch_list, 1, p};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    struct buf b;
    buf_init(&b, 0);
    if (buf_puts(&b, "{\"items\":") || buf_puts(&b, PQgetvalue(res, 0, 0)) ||
        buf_puts(&b, "}")) {
        buf_free(&b);
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }
    reply_json(r, 200, b.data, b.len);
    buf_free(&b);
}


static const struct vfield batch_fields[] = {
    {"campaign_id", V_INT, true, false, 1, 9007199254740991LL, NULL, NULL, NULL},
    {"batch_no", V_INT, true, false, 1, 10000, NULL, NULL, NULL},
    {"handed_over_on", V_STRING, true, false, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
    {"expected_count", V_INT, false, true, 0, 1000000, NULL, NULL, NULL},
    {"note", V_STRING, false, true, 1, 2000, NULL, ledger_not_blank, "must not be blank"},
    {"acknowledged", V_BOOL, false, false, 0, 0, NULL, NULL, NULL},
};

static void create_batch(struct req *r)
{
    if (!validate_or_reply(r, r->json, batch_fields, sizeof batch_fields / sizeof batch_fields[0]))
        return;
    char *body = cJSON_PrintUnformatted(r->json);
    if (!body || arena_defer(r->arena, free, body)) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return;
    }
    const char *p[] = {body};
    struct db_query q = {sql_batch_create, 1, p};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    if (PQntuples(res) != 1) {
        reply_problem(r, 409, "duplicate", "The campaign already has a batch with this number.");
        return;
    }
    reply_json(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static const char *const reopen_reasons[] = {"dissatisfied", "spot_check_failed", "repeat", NULL};

static const struct vfield transition_fields[] = {
    {"action", V_STRING, true, false, 1, 40, NULL, NULL, NULL},
    {"responsible_org_id", V_INT, false, false, 1, 9007199254740991LL, NULL, NULL, NULL},
    {"deadline", V_STRING, false, false, 10, 10, NULL, ledger_date_ok, "must be a date YYYY-MM-DD"},
    {"reason", V_STRING, false, false, 1, 2000, NULL, ledger_not_blank, "must not be blank"},
    {"verdict", V_STRING, false, false, 1, 20, verdicts, NULL, NULL},
    {"result", V_STRING, false, false, 1, 20000, NULL, ledger_not_blank, "must not be blank"},
    {"comment", V_STRING, false, false, 1, 2000, NULL, NULL, NULL},
    {"public_summary", V_STRING, false, false, 1, 5000, NULL, NULL, NULL},
};

static const struct vfield enforcement_fields[] = {
    {"ordered_rectify", V_INT, false, false, 0, 100000, NULL, NULL, NULL},
    {"cases_filed", V_INT, false, false, 0, 100000, NULL, NULL, NULL},
    {"fines_yuan", V_INT, false, false, 0, 1000000000000LL, NULL, NULL, NULL},
    {"people_interviewed", V_INT, false, false, 0, 100000, NULL, NULL, NULL},
    {"people_accountable", V_INT, false, false, 0, 100000, NULL, NULL, NULL},
};

static void transition(struct req *r)
{
    char id[24];
    if (!id_parse(req_param(r, "id"), id)) {
        reply_problem(r, 404, "not_found", "No such complaint.");
        return;
    }
    /* enforcement is a nested object: validate it on its own */
    cJSON *enf = cJSON_DetachItemFromObjectCaseSensitive(r->json, "enforcement");
    if (arena_defer(r->arena, delete_json, enf)) { /* enf is deleted */
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }
    if (!validate_or_reply(r, r->json, transition_fields,
                           sizeof transition_fields / sizeof transition_fields[0]))
        return;
    if (enf && (!cJSON_IsObject(enf) ||
                !validate_or_reply(r, enf, enforcement_fields,
                                   sizeof enforcement_fields / sizeof enforcement_fields[0])))
        return;
    const char *action_name = cJSON_GetObjectItemCaseSensitive(r->json, "action")->valuestring;
    enum complaint_action action;
    if (!complaint_action_parse(action_name, &action)) {
        reply_field_error(r, 422, "validation_failed", "Unknown action.", "/action",
                          "must be one of assign, reassign, start, resolve, stage_resolve, "
                          "reject, close, reopen");
        return;
    }
    unsigned needs = complaint_action_needs(action);
    static const struct {
        unsigned need;
        const char *field, *pointer;
    } need_fields[] = {{CN_ORG, "responsible_org_id", "/responsible_org_id"},
                       {CN_DEADLINE, "deadline", "/deadline"},
                       {CN_REASON, "reason", "/reason"},
                       {CN_VERDICT, "verdict", "/verdict"},
                       {CN_RESULT, "result", "/result"}};
    struct field_error errs[6];
    size_t ne = 0;
    for (size_t i = 0; i < sizeof need_fields / sizeof need_fields[0]; i++)
        if ((needs & need_fields[i].need) &&
            !cJSON_GetObjectItemCaseSensitive(r->json, need_fields[i].field))
            errs[ne++] = (struct field_error){
                .pointer = need_fields[i].pointer,
                .message = arena_printf(r->arena, "is required for %s", action_name),
                .code = "required"};
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(r->json, "reason");
    if (action == CA_REOPEN && reason && !in_list(reopen_reasons, reason->valuestring))
        errs[ne++] = (struct field_error){
            .pointer = "/reason", .message = "must be dissatisfied, spot_check_failed or repeat", .code = "not_in_vocabulary"};
    if (ne) {
        reply_problem_errors(r, 422, "validation_failed", "The transition is missing fields.",
                             errs, ne);
        return;
    }
    char version[16];
    const char *if_match = req_header(r, "If-Match");
    if (if_match && !if_match_or_reply(r, version))
        return;

    const char *p0[] = {id};
    struct db_query q0 = {sql_state, 1, p0};
    PGresult *res;
    if (!db_run_or_reply(r, &q0, 1, &res))
        return;
    if (PQntuples(res) != 1) {
        reply_problem(r, 404, "not_found", "No such complaint.");
        return;
    }
    const char *from_name = PQgetvalue(res, 0, 0);
    enum complaint_state from, to;
    complaint_state_parse(from_name, &from);
    switch (complaint_workflow_check(from, action, r->who.roles, &to)) {
    case CWF_OK:
        break;
    case CWF_FORBIDDEN:
        reply_problem(r, 403, "forbidden", "Your role may not %s a complaint.", action_name);
        return;
    case CWF_INVALID: {
        enum complaint_action allowed[CA_COUNT];
        size_t na = complaint_workflow_allowed(from, r->who.roles, allowed, CA_COUNT);
        struct buf b;
        buf_init(&b, 1024);
        int rc = 0;
        for (size_t i = 0; i < na; i++)
            rc |= buf_printf(&b, "%s%s", i ? ", " : "", complaint_action_name(allowed[i]));
        if (rc || (na && !b.data)) {
            buf_free(&b);
            reply_problem(r, 503, "service_unavailable", "Out of memory.");
            return;
        }
        reply_problem(r, 409, "invalid_transition",
                      "A complaint in state %s cannot %s; allowed now: %s.", from_name,
                      action_name, na ? b.data : "none for your role");
        buf_free(&b);
        return;
    }
    }
    char *body = cJSON_PrintUnformatted(r->json);
    if (arena_defer(r->arena, free, body))
        body = NULL; /* freed */
    char *enf_text = enf ? cJSON_PrintUnformatted(enf) : NULL;
    if (arena_defer(r->arena, free, enf_text))
        enf_text = NULL; /* freed */
    if (!body || (enf && !enf_text)) {
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }
    if (enf_text) {
        /* put the enforcement figures back for the statement */
        size_t bl = strlen(body);
        body = arena_printf(r->arena, "%.*s,\"enforcement\":%s}", (int)(bl - 1), body, enf_text);
        if (!body) {
            reply_problem(r, 503, "service_unavailable", "Out of memory.");
            return;
        }
    }
    const char *p[] = {id, action_name, complaint_state_name(to), body,
                       complaint_state_name(from), if_match ? version : NULL};
    const char *pg[] = {id, "true"};
    struct db_query q[] = {{sql_transition, 6, p}, {complaint_sql_get, 2, pg}};
    PGresult *rr[2];
    if (!db_run_or_reply(r, q, 2, rr))
        return;
    const char *st = PQgetvalue(rr[0], 0, 0);
    if (strcmp(st, "not_found") == 0) {
        reply_problem(r, 404, "not_found", "No such complaint.");
    } else if (strcmp(st, "conflict") == 0) {
        reply_problem(r, 409, "invalid_transition",
                      "The complaint changed to state %s meanwhile; re-read and retry.",
                      PQgetvalue(rr[0], 0, 2));
    } else if (strcmp(st, "stale") == 0) {
        reply_precondition_failed(r, PQgetvalue(rr[0], 0, 1));
    } else {
        reply_etag(r, PQgetvalue(rr[1], 0, 0));
        reply_json(r, 200, PQgetvalue(rr[1], 0, 1), (size_t)PQgetlength(rr[1], 0, 1));
    }
}

static const struct vfield link_fields[] = {
    {"repeat_of_id", V_INT, true, false, 1, 9007199254740991LL, NULL, NULL, NULL},
    {"note", V_STRING, false, true, 1, 2000, NULL, NULL, NULL},
    {"case_plan", V_STRING, false, true, 1, 5000, NULL, ledger_not_blank, "must not be blank"},
    {"leading_official", V_STRING, false, true, 1, 100, NULL, ledger_not_blank, "must not be blank"},
    {"leading_post", V_STRING, false, true, 1, 100, NULL, ledger_not_blank, "must not be blank"},
};

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

static void link_complaint(struct req *r)
{
    char id[24];
    if (!id_parse(req_param(r, "id"), id)) {
        reply_problem(r, 404, "not_found", "No such complaint.");
        return;
    }
    if (!validate_or_reply(r, r->json, link_fields, sizeof link_fields / sizeof link_fields[0]))
        return;
    const char *other =
        arena_printf(r->arena, "%.0f",
                     cJSON_GetObjectItemCaseSensitive(r->json, "repeat_of_id")->valuedouble);
    const char *p[] = {id, other, str_member(r->json, "note"), str_member(r->json, "case_plan"),
                       str_member(r->json, "leading_official"),
                       str_member(r->json, "leading_post")};
    const char *pg[] = {id, "true"};
    struct db_query q[] = {{sql_link, 6, p}, {complaint_sql_get, 2, pg}};
    PGresult *res[2];
    if (!db_run_or_reply(r, q, 2, res))
        return;
    reply_etag(r, PQgetvalue(res[1], 0, 0));
    reply_json(r, 201, PQgetvalue(res[1], 0, 1), (size_t)PQgetlength(res[1], 0, 1));
}

static void similar(struct req *r)
{
    char id[24];
    if (!id_parse(req_param(r, "id"), id)) {
        reply_problem(r, 404, "not_found", "No such complaint.");
        return;
    }
    const char *l = req_query(r, "limit");
    long limit = 10;
    if (l) {
        char *end;
        limit = strtol(l, &end, 10);
        if (*end || limit < 1 || limit > 50) {
            struct field_error e = {.parameter = "limit", .message = "must be 1 to 50", .code = "out_of_range"};
            reply_invalid_params(r, &e, 1);
            return;
        }
    }
    const char *p[] = {id, arena_printf(r->arena, "%ld", limit)};
    struct db_query q = {sql_similar, 2, p};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res))
        return;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        reply_problem(r, 404, "not_found", "No such complaint.");
        return;
    }
    reply_json(r, 200, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

/* --- export -------------------------------------------------------------------- */

/* Streamed by export.c in keyset batches of EXPORT_BATCH, each its own
 * transaction as the caller (row-level security scopes every batch). With
 * ?pii=true (office, admin) four more columns carry the complainant's clear
 * values: for each batch rectify.complainant_secrets() returns the sealed
 * values (and records the read in pii_reads), opened here row by row. */
static const struct export_column export_cols[] = {
    {"交办编号", EXPORT_TEXT, 16},
    {"交办批次", EXPORT_INT, 8},
    {"受理时间", EXPORT_DATETIME, 17},
    {"来源渠道", EXPORT_TEXT, 8},
    {"举报内容", EXPORT_TEXT, 60},
    {"污染类型", EXPORT_TEXT, 14},
    {"所在县区", EXPORT_TEXT, 16},
    {"详细地址", EXPORT_TEXT, 30},
    {"被举报对象", EXPORT_TEXT, 26},
    {"统一社会信用代码", EXPORT_TEXT, 20},
    {"件别", EXPORT_TEXT, 8},
    {"责任单位", EXPORT_TEXT, 18},
    {"办理时限", EXPORT_DATE, 12},
    {"办理状态", EXPORT_TEXT, 10},
    {"调查核实情况", EXPORT_TEXT, 12},
    {"办理结果", EXPORT_TEXT, 40},
    {"责令整改", EXPORT_INT, 9},
    {"立案处罚", EXPORT_INT, 9},
    {"罚款（元）", EXPORT_INT, 12}, /* numeric(14,2): a number in XLSX */
    {"约谈（人）", EXPORT_INT, 10},
    {"问责（人）", EXPORT_INT, 10},
    {"公开情况", EXPORT_TEXT, 40},
    /* ?pii=true only: opened in C (pii_export_row) */
    {"举报人姓名", EXPORT_TEXT, 12},
    {"联系电话", EXPORT_TEXT, 14},
    {"身份证号", EXPORT_TEXT, 20},
    {"举报人地址", EXPORT_TEXT, 30},
};
#define N_PII_COLS 4
#define N_EXPORT_COLS (sizeof export_cols / sizeof export_cols[0] - N_PII_COLS)

/* The list's filters $1..$13; keyset (export.h): $14 key = the id as text
 * (the list's "after" slot), $15 the id, $16 batch size. Columns:
 * key, id, then export_cols (Chinese labels for the codes). The batch is
 * chosen first and only its rows are joined to the org and batch labels
 * (joined before the LIMIT, or as a subquery per row, the labels cost more
 * than the batch itself). */
static const char sql_export[] =
    "SELECT c.id::text, c.id, c.handover_no, b.batch_no::text,"
    " to_char(c.received_at, 'YYYY-MM-DD HH24:MI'),"
    " CASE c.channel WHEN 'phone' THEN '电话' WHEN 'letter' THEN '来信' WHEN 'online' THEN '网络'"
    "   WHEN 'hotline_12345' THEN '12345' WHEN 'visit' THEN '来访' WHEN 'other' THEN '其他'"
    "   ELSE c.channel END,"
    " c.content, array_to_string(c.pollution_types, '、'), county.label, c.address,"
    " c.entity_name, c.entity_credit_code,"
    " CASE c.grade WHEN 'general' THEN '一般件' WHEN 'key' THEN '重点件' ELSE c.grade END,"
    " resp.name, c.deadline::text,"
    " CASE c.status WHEN 'received' THEN '已接收' WHEN 'assigned' THEN '已交办'"
    "   WHEN 'investigating' THEN '办理中' WHEN 'stage_resolved' THEN '阶段办结'"
    "   WHEN 'resolved' THEN '办结' WHEN 'rejected' THEN '不受理' WHEN 'closed' THEN '已销号'"
    "   ELSE c.status END,"
    " CASE c.verdict WHEN 'true' THEN '属实' WHEN 'partly_true' THEN '部分属实'"
    "   WHEN 'false' THEN '不属实' ELSE c.verdict END,"
    " c.result, c.ordered_rectify::text, c.cases_filed::text, c.fines_yuan::text,"
    " c.people_interviewed::text, c.people_accountable::text, c.public_summary"
    " FROM (SELECT * FROM complaints c"
    "       WHERE " COMPLAINT_PAGE_IDS("coalesce($15::bigint, $14::bigint)", "$16::int")
    "       ORDER BY c.id LIMIT $16::int) c"
    " LEFT JOIN complaint_batches b ON b.id = c.batch_id"
    " LEFT JOIN (SELECT o.id, coalesce(p.name, '') || o.name AS label FROM orgs o"
    "            LEFT JOIN orgs p ON p.id = o.parent_id) county ON county.id = c.county_org_id"
    " LEFT JOIN orgs resp ON resp.id = c.responsible_org_id"
    " ORDER BY c.id";

/* The clear values of one batch (?pii=true). */
struct pii_export {
    unsigned char key[32];
    PGresult *sec;         /* the batch's complainant_secrets() rows, by id */
    int next;              /* where the next row's search starts */
    char clear[N_PII_COLS][4000]; /* the current row's values (sealed: at most 4000) */
    size_t len[N_PII_COLS];
};

static void pii_export_wipe_row(struct pii_export *e)
{
    for (int k = 0; k < N_PII_COLS; k++) {
        sodium_memzero(e->clear[k], e->len[k]);
        e->len[k] = 0;
    }
}

static void pii_export_free(void *p)
{
    struct pii_export *e = p;
    PQclear(e->sec);
    e->sec = NULL;
    pii_export_wipe_row(e);
    sodium_memzero(e->key, sizeof e->key);
}

/* Before each batch: the sealed values of its complaints (one pii_reads
 * row per batch, purpose "export"). */
static int pii_export_batch(void *ctx, struct req *r, const PGresult *res)
{
    struct pii_export *e = ctx;
    PQclear(e->sec);
    e->sec = NULL;
    e->next = 0;
    struct buf ids;
    buf_init(&ids, 0);
    int rc = buf_puts(&ids, "{");
    for (int i = 0; i < PQntuples(res); i++)
        rc |= buf_printf(&ids, "%s%s", i ? "," : "", PQgetvalue(res, i, 1));
    rc |= buf_puts(&ids, "}");
    if (rc) {
        buf_free(&ids);
        return -1;
    }
    const char *ps[] = {ids.data, "export"};
    struct db_query q = {sql_secrets, 2, ps};
    struct db_error err;
    enum db_status st = api_db_run(r, &q, NULL, 1, &e->sec, &err);
    buf_free(&ids);
    if (st != DB_OK) {
        e->sec = NULL;
        log_msg(LOG_ERROR, r->request_id, "complaint export: complainant_secrets: %s %s",
                err.sqlstate, err.message);
        return -1;
    }
    return 0;
}

/* Each row: the complainant's four values opened (NULL when absent, or when
 * a value cannot be opened: wrong key or tampered). */
static void pii_export_row(void *ctx, const PGresult *res, int i, const char *cells[])
{
    static const char *const names[N_PII_COLS] = {"name", "phone", "id_number", "address"};
    struct pii_export *e = ctx;
    pii_export_wipe_row(e);
    int n = e->sec ? PQntuples(e->sec) : 0;
    const char *id = PQgetvalue(res, i, 1);
    int row = -1;
    for (int k = 0; k < n && row < 0; k++) { /* both in id order: usually at once */
        int j = (e->next + k) % n;
        if (strcmp(PQgetvalue(e->sec, j, 0), id) == 0)
            row = j;
    }
    if (row < 0)
        return;
    e->next = row + 1;
    const char *campaign = PQgetvalue(e->sec, row, 1), *handover = PQgetvalue(e->sec, row, 2);
    for (int k = 0; k < N_PII_COLS; k++) {
        if (PQgetisnull(e->sec, row, 3 + k))
            continue;
        size_t blen, olen;
        unsigned char *bin =
            PQunescapeBytea((const unsigned char *)PQgetvalue(e->sec, row, 3 + k), &blen);
        char ad[160];
        if (bin && blen >= PII_SEAL_OVERHEAD && blen - PII_SEAL_OVERHEAD < sizeof e->clear[k] &&
            pii_ad(ad, sizeof ad, campaign, handover, names[k]) == 0 &&
            pii_open(e->key, ad, bin, blen, e->clear[k], &olen) == 0) {
            e->len[k] = olen + 1;
            cells[k] = e->clear[k];
        }
        PQfreemem(bin);
    }
}

/* ?format=csv|xlsx; without it, an Accept naming the spreadsheet type gives
 * XLSX and anything else CSV (the contract of this endpoint: unlike the
 * ledger exports' export_format_or_reply, never 406). */
static bool complaint_format_or_reply(struct req *r, enum export_format *fmt)
{
    const char *f = req_query(r, "format");
    if (!f) {
        const char *accept = req_header(r, "Accept");
        *fmt = accept && strstr(accept, "spreadsheetml") ? EXPORT_XLSX : EXPORT_CSV;
        return true;
    }
    if (strcmp(f, "csv") == 0 || strcmp(f, "xlsx") == 0) {
        *fmt = f[0] == 'c' ? EXPORT_CSV : EXPORT_XLSX;
        return true;
    }
    struct field_error e = {.parameter = "format", .message = "must be csv or xlsx", .code = "not_in_vocabulary"};
    reply_invalid_params(r, &e, 1);
    return false;
}

static void export_complaints(struct req *r)
{
    enum export_format fmt;
    const char *p[COMPLAINT_FILTER_PARAMS + 2];
    bool pii;
    if (!complaint_format_or_reply(r, &fmt) || !complaint_filters_or_reply(r, p) ||
        !wants_pii_or_reply(r, &pii))
        return;
    p[COMPLAINT_FILTER_PARAMS] = p[COMPLAINT_FILTER_PARAMS + 1] = NULL; /* set by export_run */
    struct export_spec spec = {
        .sql = sql_export, .params = p, .nparams = COMPLAINT_FILTER_PARAMS + 2,
        .cols = export_cols, .ncols = N_EXPORT_COLS, .sheet = "举报件", .filename = "举报件",
        .ascii_filename = "complaints",
    };
    if (pii) {
        struct pii_export *e = arena_alloc(r->arena, sizeof *e);
        if (!e) {
            reply_problem(r, 500, "internal_error", "Out of memory.");
            return;
        }
        memset(e, 0, sizeof *e);
        if (arena_defer(r->arena, pii_export_free, e)) {
            reply_problem(r, 500, "internal_error", "Out of memory.");
            return;
        }
        if (!complaint_pii_key_or_reply(r, e->key))
            return;
        spec.ncols += N_PII_COLS;
        spec.nextra = N_PII_COLS;
        spec.batch = pii_export_batch;
        spec.row = pii_export_row;
        spec.ctx = e;
    }
    export_run(r, fmt, &spec);
}

const struct route complaint_routes[] = {
    {"GET", "/api/v1/complaint-batches", list_batches, PERM_COMPLAINT_READ, 0},
    {"POST", "/api/v1/complaint-batches", create_batch, PERM_COMPLAINT_IMPORT, ROUTE_JSON_BODY},
    {"POST", "/api/v1/complaint-batches/{id}/acknowledgement", complaint_batch_acknowledge,
     PERM_COMPLAINT_IMPORT, 0},
    {"GET", "/api/v1/complaints", list_complaints, PERM_COMPLAINT_READ, 0},
    {"POST", "/api/v1/complaints/import", complaints_import, PERM_COMPLAINT_IMPORT,
     ROUTE_RAW_BODY},
    {"GET", "/api/v1/complaints/export", export_complaints, PERM_COMPLAINT_READ, 0},
    {"GET", "/api/v1/complaints/{id}", get_complaint, PERM_COMPLAINT_READ, 0},
    {"PATCH", "/api/v1/complaints/{id}", complaint_patch, PERM_COMPLAINT_WRITE, ROUTE_JSON_BODY},
    {"GET", "/api/v1/complaints/{id}/extensions", complaint_extensions_list, PERM_COMPLAINT_READ,
     0},
    {"POST", "/api/v1/complaints/{id}/extensions", complaint_extension_request,
     PERM_COMPLAINT_WRITE, ROUTE_JSON_BODY},
    {"POST", "/api/v1/complaints/{id}/extensions/{ext_id}/decision", complaint_extension_decide,
     PERM_EXTENSION_APPROVE, ROUTE_JSON_BODY},
    {"POST", "/api/v1/complaints/{id}/transitions", transition, PERM_COMPLAINT_WRITE,
     ROUTE_JSON_BODY},
    {"POST", "/api/v1/complaints/{id}/links", link_complaint, PERM_COMPLAINT_WRITE,
     ROUTE_JSON_BODY},
    {"GET", "/api/v1/complaints/{id}/similar", similar, PERM_COMPLAINT_READ, 0},
};
const size_t complaint_routes_count = sizeof complaint_routes / sizeof complaint_routes[0];
