/* POST /api/v1/complaints/import — the inspection team's hand-over list.
 *
 * The body (text/csv with Chinese or English headers, application/x-ndjson,
 * or a JSON array) is read in 64 KiB pieces with req_read and parsed
 * incrementally (csv.h; NDJSON line by line), so memory stays at one record
 * plus one batch of 1000 normalised rows plus the set of hand-over numbers
 * seen (for duplicates inside the file). A JSON array is the exception: it
 * is parsed whole and capped at RECTIFY_MAX_BODY.
 *
 * Two kinds of error:
 *   - the FILE is malformed (CSV quoting, invalid UTF-8, unknown or missing
 *     columns, too large): 400 with the code, line and column of the first
 *     error; nothing more is read.
 *   - a ROW is invalid (missing/oversized field, bad date, unknown or
 *     ambiguous county, duplicate number in the file, malformed NDJSON line):
 *     reported in the per-row results; other rows go on.
 *
 * Modes:
 *   partial (default) each batch of 1000 rows is one transaction: batches
 *                     missing in complaint_batches are created, rows upserted
 *                     by (campaign, hand-over number), only the office-
 *                     changeable columns updated and only when they differ
 *                     (so a re-import writes nothing and answers
 *                     "unchanged"). A crash or a malformed file half-way
 *                     leaves the earlier batches committed; re-sending the
 *                     file is safe (the upsert is idempotent).
 *   atomic            pass 1 validates and resolves every row (no writes to
 *                     complaints) and stages the normalised batches in
 *                     complaint_import_chunks; any bad row → 422 with the
 *                     per-row errors and nothing written; otherwise pass 2
 *                     applies every staged batch in ONE transaction.
 *   dry_run=true      runs each batch's real statements and rolls them
 *                     back: says for each row what the real run would
 *                     (inserted / updated / unchanged / failed), writing
 *                     nothing.
 *
 * Time budget: RECTIFY_IMPORT_TIMEOUT seconds from the import's start; each
 * batch's transaction gets what is left as its statement_timeout (sql_budget).
 *
 * Idempotency-Key: the key is claimed in idempotency_keys before the body is
 * read; the body's SHA-256 is computed while streaming; the answer (< 500)
 * is stored. Same key + same body → the stored answer (Idempotent-Replayed:
 * true); same key + other body → 422; the first request still running → 409.
 * Keys live 24 hours. */
#include "complaints_internal.h"

#include "rectify/api.h"
#include "rectify/app.h"
#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/config.h"
#include "rectify/csv.h"
#include "rectify/import_text.h"
#include "rectify/json.h"
#include "rectify/ledger.h"
#include "rectify/log.h"
#include "rectify/params.h"
#include "rectify/permissions.h"
#include "rectify/pii.h"
#include "rectify/utf8.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BATCH_ROWS 1000
#define MAX_RESULTS 1000   /* per-row entries in the answer; counts stay complete */
#define MAX_ROW_ERRORS 8
#define MAX_WORKERS 8     /* RECTIFY_IMPORT_WORKERS is at most this */

/* --- the columns ------------------------------------------------------------ */

enum field {
    F_HANDOVER_NO, F_BATCH_NO, F_HANDED_OVER_ON, F_RECEIVED_AT, F_CHANNEL, F_CONTENT,
    F_TYPES, F_COUNTY, F_ADDRESS, F_LONGITUDE, F_LATITUDE, F_ENTITY_NAME, F_CREDIT_CODE,
    F_GRADE, F_RESPONSIBLE_ORG, F_DEADLINE, F_C_NAME, F_C_PHONE, F_C_ID, F_C_ADDRESS,
    F_COUNT,
    F_IGNORED = -2,
};

struct column {
    const char *key;        /* English name (NDJSON/JSON member, CSV header) */
    const char *zh[4];      /* Chinese headers */
    bool required;
    unsigned max_chars;
};

/* The documented hand-over list columns (api-spec: ComplaintImportRow). */
static const struct column columns[F_COUNT] = {
    [F_HANDOVER_NO] = {"handover_no", {"交办编号", "编号"}, true, 40},
    [F_BATCH_NO] = {"batch_no", {"交办批次", "批次"}, true, 20},
    [F_HANDED_OVER_ON] = {"handed_over_on", {"交办日期"}, false, 20},
    [F_RECEIVED_AT] = {"received_at", {"受理时间", "举报时间"}, true, 40},
    [F_CHANNEL] = {"channel", {"来源渠道", "举报方式", "受理渠道"}, true, 20},
    [F_CONTENT] = {"content", {"举报内容", "反映问题"}, true, 10000},
    [F_TYPES] = {"pollution_types", {"污染类型"}, true, 100},
    [F_COUNTY] = {"county", {"所在县区", "县区", "行政区域"}, true, 100},
    [F_ADDRESS] = {"address", {"详细地址", "地址"}, false, 500},
    [F_LONGITUDE] = {"longitude", {"经度"}, false, 20},
    [F_LATITUDE] = {"latitude", {"纬度"}, false, 20},
    [F_ENTITY_NAME] = {"entity_name", {"被举报对象", "被举报单位"}, false, 200},
    [F_CREDIT_CODE] = {"entity_credit_code", {"统一社会信用代码"}, false, 18},
    [F_GRADE] = {"grade", {"件别", "等级"}, false, 10},
    [F_RESPONSIBLE_ORG] = {"responsible_org", {"责任单位"}, false, 200},
    [F_DEADLINE] = {"deadline", {"办理时限", "办结时限"}, false, 20},
    [F_C_NAME] = {"complainant_name", {"举报人姓名", "举报人"}, false, 50},
    [F_C_PHONE] = {"complainant_phone", {"联系电话", "举报人电话"}, false, 20},
    [F_C_ID] = {"complainant_id_number", {"身份证号", "举报人身份证号"}, false, 18},
    [F_C_ADDRESS] = {"complainant_address", {"举报人地址"}, false, 500},
};
/* Headers accepted and ignored (a clerk's spreadsheet numbers its rows). */
static const char *const ignored_headers[] = {"序号", "row", "备注", NULL};

static int column_of(const char *name)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (strcmp(name, columns[f].key) == 0)
            return f;
        for (int k = 0; k < 4 && columns[f].zh[k]; k++)
            if (strcmp(name, columns[f].zh[k]) == 0)
                return f;
    }
    for (const char *const *p = ignored_headers; *p; p++)
        if (strcmp(name, *p) == 0)
            return F_IGNORED;
    return -1;
}

/* --- value vocabularies -------------------------------------------------------- */

struct word {
    const char *in, *out;
};

static const struct word channels[] = {
    {"phone", "phone"}, {"电话", "phone"}, {"来电", "phone"}, {"电话举报", "phone"},
    {"letter", "letter"}, {"来信", "letter"}, {"信件", "letter"}, {"信访", "letter"},
    {"online", "online"}, {"网络", "online"}, {"网络平台", "online"}, {"网络举报", "online"},
    {"邮箱", "online"}, {"hotline_12345", "hotline_12345"}, {"12345", "hotline_12345"},
    {"12345热线", "hotline_12345"}, {"visit", "visit"}, {"来访", "visit"},
    {"other", "other"}, {"其他", "other"}, {NULL, NULL},
};
static const struct word types[] = {
    {"air", "air"}, {"大气", "air"}, {"水", "water"}, {"water", "water"},
    {"土壤", "soil"}, {"soil", "soil"}, {"噪声", "noise"}, {"噪音", "noise"},
    {"noise", "noise"}, {"固废", "solid_waste"}, {"固体废物", "solid_waste"},
    {"solid_waste", "solid_waste"}, {"生态", "ecology"}, {"生态破坏", "ecology"},
    {"ecology", "ecology"}, {"辐射", "radiation"}, {"radiation", "radiation"},
    {"其他", "other"}, {"other", "other"}, {NULL, NULL},
};
static const struct word grades[] = {
    {"general", "general"}, {"一般件", "general"}, {"一般", "general"},
    {"key", "key"}, {"重点件", "key"}, {"重点", "key"}, {NULL, NULL},
};

static const char *lookup(const struct word *w, const char *s)
{
    for (; w->in; w++)
        if (strcmp(w->in, s) == 0)
            return w->out;
    return NULL;
}

/* --- the import state ------------------------------------------------------------ */


/* One batch of normalised rows, and (partial mode) its write by a worker
 * thread. The worker touches only `st`, `err` and `res`; everything else
 * belongs to the request thread. */
struct batch {
    struct buf rows; /* JSON array text of the normalised rows */
    /* the same rows' batch_no, handed_over_on and received_at only: what
     * sql_batches needs (a tenth of the size to send and parse) */
    struct buf keys;
    size_t n;
    long long row_no[BATCH_ROWS];
    unsigned long long line[BATCH_ROWS];

    const struct import *im; /* read-only for the worker */
    char budget_ms[24];      /* what was left of the time budget when sent */
    pthread_t thread;
    enum db_status st;
    struct db_error err;
    PGresult *res[3]; /* budget, batches, upsert: cleared once joined and taken */
};


struct import {
    struct req *r;
    enum import_format fmt;
    bool dry_run, atomic, verbose;
    char campaign_id[24];
    unsigned char key[PII_KEY_BYTES];

    /* CSV header */
    bool have_header;
    int *colmap;
    size_t ncols;

    /* Batches: b is the one being collected. In partial mode up to
     * `workers` earlier ones are being written by their own threads at the
     * same time (slots[sent % nslots] is b; those of sequence numbers
     * joined … sent-1 are in flight); they are joined, and their results
     * taken, in the order they were sent. */
    struct batch slots[MAX_WORKERS + 1];
    struct batch *b;
    int workers, nslots;
    long long sent, joined;

    struct seen seen;
    long long rows, inserted, updated, unchanged, failed;
    struct buf results;
    size_t nresults;
    bool truncated;

    /* atomic staging */
    char import_id[40];
    int seq;

    /* the time budget (RECTIFY_IMPORT_TIMEOUT): CLOCK_MONOTONIC seconds */
    double deadline;

    /* a fatal (file-level or database) outcome: already answered */
    bool stopped;
    int fatal_status;
    const char *fatal_code;
    char fatal_detail[300];
    unsigned long long fatal_line, fatal_col;
    bool has_fatal_pos;

    /* Per-row memory (trimmed values, messages): renewed every BATCH_ROWS
     * rows, so that a 500 000-row file does not grow the request arena. */
    struct arena *scratch;
    int scratch_rows;

    /* NDJSON line assembly */
    struct buf line;
    unsigned long long line_no;
    long long body_bytes;

    crypto_hash_sha256_state sha;

    /* scratch for sealing (worker stacks are small) */
    unsigned char sealed[4096 + PII_SEAL_OVERHEAD];
    char hex[2 * (4096 + PII_SEAL_OVERHEAD) + 1];
};

/* --- small helpers ------------------------------------------------------------- */

static void import_free(void *p)
{
    struct import *im = p;
    seen_free(&im->seen);
    for (int i = 0; i < im->nslots; i++) {
        buf_free(&im->slots[i].rows);
        buf_free(&im->slots[i].keys);
    }
    buf_free(&im->results);
    buf_free(&im->line);
    free(im->colmap);
    sodium_memzero(im->key, sizeof im->key);
    if (im->scratch)
        arena_free(im->scratch);
}

static void stop(struct import *im, int status, const char *code, unsigned long long line,
                 unsigned long long col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* After each row: the row's values are copied (batch, results) or dropped. */
static void row_done(struct import *im)
{
    if (arena_failed(im->scratch)) /* the row's checks may have read a NULL as "absent" */
        stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
    if (++im->scratch_rows < BATCH_ROWS)
        return;
    struct arena *fresh = arena_new();
    if (!fresh)
        return; /* keep the old one */
    arena_free(im->scratch);
    im->scratch = fresh;
    im->scratch_rows = 0;
}

/* Reads an unsigned number of 1..maxd digits at *p. */
static bool digits(const char **p, int maxd, int *out)
{
    int n = 0, v = 0;
    while (**p >= '0' && **p <= '9' && n < maxd) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (!n || (**p >= '0' && **p <= '9'))
        return false;
    *out = v;
    return true;
}

/* The shared date parser (import_text.h), and the complaint's plausible
 * years: a hand-over list from before 1990 or after 2100 is a typo. */
static bool parse_date(const char *s, char out[11], const char **rest)
{
    if (!import_parse_date(s, out, rest))
        return false;
    int year = atoi(out);
    return year >= 1990 && year <= 2100;
}

static bool parse_date_only(const char *s, char out[11])
{
    const char *rest;
    return parse_date(s, out, &rest) && *rest == '\0';
}

/* A date, optionally with HH:MM[:SS] (after a space or T) and an offset
 * (Z or ±HH:MM); China time when none. → RFC 3339. */
static bool parse_timestamp(const char *s, char out[40])
{
    char date[11];
    const char *p;
    if (!parse_date(s, date, &p))
        return false;
    int h = 0, mi = 0, se = 0;
    if (*p == ' ' || *p == 'T') {
        p++;
        while (*p == ' ')
            p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &se))
                return false;
        }
        if (h > 23 || mi > 59 || se > 59)
            return false;
    }
    char off[8] = "+08:00";
    if (*p == 'Z' && p[1] == '\0') {
        snprintf(off, sizeof off, "Z");
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && isdigit((unsigned char)p[1]) &&
               isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
               isdigit((unsigned char)p[5])) {
        snprintf(off, sizeof off, "%s", p);
    } else if (*p) {
        return false;
    }
    snprintf(out, 40, "%sT%02d:%02d:%02d%s", date, h, mi, se, off);
    return true;
}

static bool parse_coord(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool credit_code_ok(char *s)
{
    if (strlen(s) != 18)
        return false;
    for (char *p = s; *p; p++) {
        *p = (char)toupper((unsigned char)*p);
        if (!strchr("0123456789ABCDEFGHJKLMNPQRTUWXY", *p))
            return false;
    }
    for (int i = 2; i < 8; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool phone_ok(const char *s)
{
    int d = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p))
            d++;
        else if (!strchr("+- ", *p))
            return false;
    }
    return d >= 5;
}

static bool id_number_ok(char *s)
{
    size_t n = strlen(s);
    if (n != 15 && n != 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (i == 17 && (s[i] == 'x' || s[i] == 'X')) {
            s[i] = 'X';
            continue;
        }
        if (!isdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* "第3批" or "3" → 3. */
static bool parse_batch_no(const char *s, int *out)
{
    const char *p = s;
    if (strncmp(p, "第", 3) == 0)
        p += 3;
    int v;
    if (!digits(&p, 5, &v))
        return false;
    if (strncmp(p, "批", 3) == 0)
        p += 3;
    if (*p || v < 1 || v > 10000)
        return false;
    *out = v;
    return true;
}

/* --- results --------------------------------------------------------------------- */

struct row_error {
    const char *field, *code, *message;
};

static void add_result(struct import *im, long long row, unsigned long long line,
                       const char *handover, const char *status, const struct row_error *e,
                       size_t ne)
{
    if (im->nresults >= MAX_RESULTS) {
        im->truncated = true;
        return;
    }
    struct buf *b = &im->results;
    int rc = buf_puts(b, im->nresults++ ? ",{" : "{");
    rc |= buf_printf(b, "\"row\":%lld", row);
    if (line)
        rc |= buf_printf(b, ",\"line\":%llu", line);
    rc |= buf_puts(b, ",\"handover_no\":");
    rc |= buf_json_string(b, handover);
    rc |= buf_printf(b, ",\"status\":\"%s\"", status);
    if (ne) {
        rc |= buf_puts(b, ",\"errors\":[");
        for (size_t i = 0; i < ne; i++) {
            rc |= buf_puts(b, i ? ",{\"field\":" : "{\"field\":");
            rc |= buf_json_string(b, e[i].field);
            rc |= buf_printf(b, ",\"code\":\"%s\",\"message\":", e[i].code);
            rc |= buf_json_string(b, e[i].message);
            rc |= buf_puts(b, "}");
        }
        rc |= buf_puts(b, "]");
    }
    rc |= buf_puts(b, "}");
    if (rc)
        stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
}

static void row_failed(struct import *im, long long row, unsigned long long line,
                       const char *handover, const struct row_error *e, size_t ne)
{
    im->failed++;
    add_result(im, row, line, handover, "failed", e, ne);
}

/* Stops the import with a file-level (or database) error. */
static void stop(struct import *im, int status, const char *code, unsigned long long line,
                 unsigned long long col, const char *fmt, ...)
{
    if (im->stopped)
        return;
    im->stopped = true;
    im->fatal_status = status;
    im->fatal_code = code;
    im->fatal_line = line;
    im->fatal_col = col;
    im->has_fatal_pos = line > 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->fatal_detail, sizeof im->fatal_detail, fmt, ap);
    va_end(ap);
    if (status < 500 && im->scratch && arena_failed(im->scratch)) { /* a NULL read as "absent" */
        im->fatal_status = 503;
        im->fatal_code = "service_unavailable";
        im->has_fatal_pos = false;
        snprintf(im->fatal_detail, sizeof im->fatal_detail, "Out of memory.");
    }
}

/* --- the database ------------------------------------------------------------------ */

/* The rows of one batch, as $2 (or staged), resolved: county by code, name or
 * prefecture+name among counties and prefectures; responsible org by code,
 * name or parent+name; the batch by number. A hand-over number that a
 * complaint outside the caller's scope already uses (one call per batch,
 * 0042) fails the row as `conflict`: the upsert would otherwise meet that
 * invisible row in ON CONFLICT and the UPDATE policy would refuse the whole
 * statement (403 for the file, where the dry run said "inserted"). The
 * message does not say where the number is used. `err` names the first problem, `ok`
 * is `err IS NULL` spelled so that the planner estimates it (0.5, not 0.005:
 * with the estimate of 1 row the joins on ins were nested loops over CTE
 * scans, 1000 x 1000 per batch). rectify.complaint_import_rows (0032) types
 * the rows and tells the planner a batch has about 1000 of them. */
#define SQL_RESOLVED(rows)                                                                       \
    "WITH src AS (SELECT * FROM rectify.complaint_import_rows(" rows ") AS x),"                  \
    " okeys AS (SELECT k, count(DISTINCT id) AS n, min(id) AS id, bool_or(area) AS area,"        \
    "   string_agg(DISTINCT label, '、') AS names FROM ("                                        \
    "     SELECT o.id, o.kind IN ('county', 'prefecture') AS area,"                              \
    "            coalesce(p.name, '') || o.name || '（' || o.code || '）' AS label,"              \
    "            unnest(ARRAY[o.code, o.name, p.name || o.name]) AS k"                           \
    "       FROM orgs o LEFT JOIN orgs p ON p.id = o.parent_id) t"                               \
    "   WHERE k IS NOT NULL GROUP BY k),"                                                        \
    " akeys AS (SELECT k, count(DISTINCT id) AS n, min(id) AS id,"                               \
    "   string_agg(DISTINCT label, '、') AS names FROM ("                                        \
    "     SELECT o.id, coalesce(p.name, '') || o.name || '（' || o.code || '）' AS label,"        \
    "            unnest(ARRAY[o.code, o.name, p.name || o.name]) AS k"                           \
    "       FROM orgs o LEFT JOIN orgs p ON p.id = o.parent_id"                                  \
    "      WHERE o.kind IN ('county', 'prefecture')) t"                                          \
    "   WHERE k IS NOT NULL GROUP BY k),"                                                        \
    " elsewhere AS (SELECT h FROM rectify.complaint_handovers_elsewhere($1::bigint,"            \
    "   ARRAY(SELECT handover_no FROM src)) AS h),"                                              \
    " chk AS (SELECT s.*, a.id AS county_id, r.id AS resp_id, b.id AS batch_id,"                 \
    "   (a.k IS NOT NULL AND a.n = 1 AND (s.responsible_org IS NULL OR r.k IS NOT NULL)"         \
    "    AND (r.n IS NULL OR r.n = 1) AND sc.reach AND w.h IS NULL) AS ok,"                      \
    "   CASE WHEN a.k IS NULL THEN 'unknown_county' WHEN a.n > 1 THEN 'ambiguous_county'"        \
    "        WHEN s.responsible_org IS NOT NULL AND r.k IS NULL THEN 'unknown_org'"              \
    "        WHEN r.n > 1 THEN 'ambiguous_org' WHEN NOT sc.reach THEN 'out_of_scope'"            \
    "        WHEN w.h IS NOT NULL THEN 'conflict' END AS err,"                                   \
    "   CASE WHEN a.n > 1 THEN a.names WHEN r.n > 1 THEN r.names END AS candidates"              \
    "   FROM src s LEFT JOIN akeys a ON a.k = s.county"                                          \
    "   LEFT JOIN okeys r ON r.k = s.responsible_org"                                            \
    /* the insert/update policies' scope, asked per row (its county or its owner) */          \
    "   CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM orgs o WHERE o.id IN (a.id, r.id)"      \
    "     AND rectify.in_scope(o.path)) AS reach) sc"                                            \
    "   LEFT JOIN elsewhere w ON w.h = s.handover_no"                                            \
    "   LEFT JOIN complaint_batches b ON b.campaign_id = $1::bigint AND b.batch_no = s.batch_no)"

/* The office-changeable columns, existing row e vs. the incoming values n. */
#define CHANGEABLE_OLD(e)                                                                        \
    "(" e ".batch_id, " e ".channel, " e ".received_at, " e ".content, " e ".pollution_types, " \
    e ".county_org_id, " e ".address, " e ".latitude, " e ".longitude, " e ".entity_name, "     \
    e ".entity_credit_code, " e ".grade)"

/* The same columns of a resolved row (chk), coerced as the table will. */
#define CHANGEABLE_NEW(n)                                                                        \
    "(" n ".batch_id, " n ".channel, " n ".received_at, " n ".content, " n ".pollution_types, " \
    n ".county_id, " n ".address, round(" n ".latitude, 6), round(" n ".longitude, 6), "        \
    n ".entity_name, " n ".entity_credit_code, " n ".grade)"

/* Missing batches are created first (own statement: the upsert's snapshot
 * then sees them). handed_over_on: the column if given, else the earliest
 * received date of the batch's rows. */
#define SQL_BATCHES(rows)                                                                        \
    "INSERT INTO complaint_batches (campaign_id, batch_no, handed_over_on)"                      \
    " SELECT $1::bigint, x.batch_no, min(coalesce(x.handed_over_on, x.received_at::date))"       \
    "   FROM jsonb_to_recordset(" rows ") AS x(batch_no int, handed_over_on date,"              \
    "        received_at timestamptz)"                                                           \
    "  GROUP BY x.batch_no ON CONFLICT (campaign_id, batch_no) DO NOTHING"

/* The upsert. Returns every row: row_no, handover_no, status
 * (inserted | updated | unchanged | failed), err, candidates. The guard
 * ($n::bool true) raises when any row failed (atomic pass 2). */
#define SQL_UPSERT(rows, guard)                                                                  \
    SQL_RESOLVED(rows) ","                                                                       \
    " ins AS (INSERT INTO complaints AS c (campaign_id, handover_no, batch_id, channel,"         \
    "   received_at, content, pollution_types, county_org_id, address, latitude, longitude,"     \
    "   entity_name, entity_credit_code, grade, responsible_org_id, deadline, status)"           \
    "  SELECT $1::bigint, handover_no, batch_id, channel, received_at, content, pollution_types," \
    "   county_id, address, latitude, longitude, entity_name, entity_credit_code, grade,"        \
    "   resp_id, deadline,"                                                                      \
    "   CASE WHEN resp_id IS NOT NULL AND deadline IS NOT NULL THEN 'assigned' ELSE 'received' END" \
    "   FROM chk WHERE ok"                                                                       \
    /* rows that would change nothing skip the INSERT (its BEFORE triggers fire for     \
       conflicting rows too); the same comparison as the dry run's. A scalar subquery,  \
       not NOT EXISTS: that became a hash anti join over every complaint of the campaign */ \
    "    AND NOT coalesce((SELECT " CHANGEABLE_OLD("u") " IS NOT DISTINCT FROM "                  \
    "      " CHANGEABLE_NEW("chk") " FROM complaints u WHERE u.campaign_id = $1::bigint"         \
    "      AND u.handover_no = chk.handover_no), false)"                                         \
    "  ON CONFLICT (campaign_id, handover_no) DO UPDATE SET batch_id = excluded.batch_id,"       \
    "   channel = excluded.channel, received_at = excluded.received_at,"                         \
    "   content = excluded.content, pollution_types = excluded.pollution_types,"                 \
    "   county_org_id = excluded.county_org_id, address = excluded.address,"                     \
    "   latitude = excluded.latitude, longitude = excluded.longitude,"                           \
    "   entity_name = excluded.entity_name, entity_credit_code = excluded.entity_credit_code,"   \
    "   grade = excluded.grade"                                                                  \
    "  WHERE " CHANGEABLE_OLD("c") " IS DISTINCT FROM " CHANGEABLE_OLD("excluded")               \
    "  RETURNING c.id, c.handover_no, (c.xmax = 0) AS inserted),"                                \
    /* old_id: a scalar subquery (an index probe per row); as a join it became a hash   \
       join over every complaint of the campaign, each batch */                            \
    " ids AS (SELECT x.handover_no, x.pii, coalesce(x.new_id, x.old_id) AS id,"                  \
    "   (x.old_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM complainants q"                      \
    "                                          WHERE q.id = x.old_id)) AS first_pii"             \
    "  FROM (SELECT chk.handover_no, chk.pii, ins.id AS new_id,"                                 \
    "          (SELECT e.id FROM complaints e WHERE e.campaign_id = $1::bigint"                  \
    "              AND e.handover_no = chk.handover_no) AS old_id"                               \
    "          FROM chk LEFT JOIN ins ON ins.handover_no = chk.handover_no"                      \
    "         WHERE chk.ok AND chk.pii IS NOT NULL OFFSET 0) x),"                                \
    " pins AS (INSERT INTO complainants (id, name_enc, phone_enc, id_number_enc,"                \
    "   address_enc, name_masked, phone_masked, id_number_masked, address_masked, digest)"       \
    "  SELECT id, decode(pii->>'name_enc', 'hex'), decode(pii->>'phone_enc', 'hex'),"            \
    "   decode(pii->>'id_number_enc', 'hex'), decode(pii->>'address_enc', 'hex'),"               \
    "   pii->>'name_masked', pii->>'phone_masked', pii->>'id_number_masked',"                    \
    "   pii->>'address_masked', decode(pii->>'digest', 'hex') FROM ids"                          \
    "  WHERE id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM complainants q WHERE q.id = ids.id)),"  \
    /* no ON CONFLICT: DO UPDATE reading excluded.* would need SELECT on the sealed columns, \
       and any ON CONFLICT (like RETURNING) checks the SELECT policy, which cannot see the    \
       complaint inserted by this same statement. A concurrent import of the same new row     \
       fails this batch with 23505 (retry is safe). */                                         \
    " pupd AS (UPDATE complainants p SET name_enc = decode(ids.pii->>'name_enc', 'hex'),"        \
    "   phone_enc = decode(ids.pii->>'phone_enc', 'hex'),"                                       \
    "   id_number_enc = decode(ids.pii->>'id_number_enc', 'hex'),"                               \
    "   address_enc = decode(ids.pii->>'address_enc', 'hex'),"                                   \
    "   name_masked = ids.pii->>'name_masked', phone_masked = ids.pii->>'phone_masked',"        \
    "   id_number_masked = ids.pii->>'id_number_masked',"                                        \
    "   address_masked = ids.pii->>'address_masked', digest = decode(ids.pii->>'digest', 'hex')" \
    "  FROM ids WHERE p.id = ids.id AND p.digest IS DISTINCT FROM decode(ids.pii->>'digest', 'hex')" \
    "  RETURNING p.id),"                                                                         \
    " guard AS (SELECT rectify.complaint_import_guard(" guard ","                                \
    "   (SELECT count(*) FROM chk WHERE err IS NOT NULL)) AS ok)"                                \
    " SELECT chk.row_no, chk.handover_no,"                                                       \
    "   CASE WHEN chk.err IS NOT NULL THEN 'failed' WHEN ins.inserted THEN 'inserted'"           \
    "        WHEN ins.id IS NOT NULL OR pset.handover_no IS NOT NULL THEN 'updated'"            \
    "        ELSE 'unchanged' END,"                                                              \
    "   chk.err, chk.candidates"                                                                 \
    "  FROM chk LEFT JOIN ins ON ins.handover_no = chk.handover_no"                              \
    "  LEFT JOIN (SELECT ids.handover_no FROM ids"                                               \
    "              WHERE ids.first_pii OR ids.id IN (SELECT id FROM pupd)) pset"                 \
    "    ON pset.handover_no = chk.handover_no CROSS JOIN guard"                                 \
    "  ORDER BY chk.row_no"

static const char sql_batches[] = SQL_BATCHES("$2::jsonb");
static const char sql_upsert[] = SQL_UPSERT("$2::jsonb", "false");

/* Atomic pass 1: what would happen, writing nothing. (The dry run runs the
 * real statements and rolls them back: see flush.) */
static const char sql_check[] =
    SQL_RESOLVED("$2::jsonb")
    " SELECT chk.row_no, chk.handover_no,"
    "   CASE WHEN chk.err IS NOT NULL THEN 'failed' WHEN e.id IS NULL THEN 'inserted'"
    "        WHEN " CHANGEABLE_OLD("e") " IS DISTINCT FROM " CHANGEABLE_NEW("chk")
    "          OR (chk.pii IS NOT NULL AND decode(chk.pii->>'digest', 'hex') IS DISTINCT FROM"
    "              (SELECT p.digest FROM complainants p WHERE p.id = e.id)) THEN 'updated'"
    "        ELSE 'unchanged' END,"
    "   chk.err, chk.candidates"
    "  FROM chk LEFT JOIN LATERAL (SELECT * FROM complaints e0 WHERE e0.campaign_id = $1::bigint"
    "   AND e0.handover_no = chk.handover_no OFFSET 0) e ON true"   /* an index probe per row */
    "  ORDER BY chk.row_no";

/* Atomic: staging and the applying statements over the staged chunks. */
static const char sql_stage[] =
    "INSERT INTO complaint_import_chunks (import_id, seq, rows)"
    " VALUES ($1::uuid, $2::int, $3::jsonb)";
#define STAGED "(SELECT rows FROM complaint_import_chunks WHERE import_id = $2::uuid AND seq = $3::int)"
static const char sql_batches_staged[] = SQL_BATCHES(STAGED);
static const char sql_upsert_staged[] = SQL_UPSERT(STAGED, "true");
static const char sql_unstage[] = "DELETE FROM complaint_import_chunks WHERE import_id = $1::uuid";
static const char sql_gc[] = "SELECT rectify.complaint_import_gc()";

/* Idempotency keys. */
static const char sql_idem_expire[] =
    "DELETE FROM idempotency_keys WHERE user_id = rectify.user_id() AND route = $1 AND key = $2"
    " AND (created_at < now() - interval '24 hours'"
    "      OR (status IS NULL AND created_at < now() - interval '1 hour'))";
static const char sql_idem_claim[] =
    "WITH ins AS (INSERT INTO idempotency_keys (user_id, route, key)"
    "   VALUES (rectify.user_id(), $1, $2) ON CONFLICT DO NOTHING RETURNING 1)"
    " SELECT EXISTS (SELECT 1 FROM ins), k.status, encode(k.body_hash, 'hex'), k.content_type,"
    "   k.response FROM (SELECT 1) one LEFT JOIN idempotency_keys k"
    "   ON k.user_id = rectify.user_id() AND k.route = $1 AND k.key = $2";
static const char sql_idem_store[] =
    "UPDATE idempotency_keys SET status = $3::int, body_hash = decode($4, 'hex'),"
    " content_type = $5, response = $6, completed_at = now()"
    " WHERE user_id = rectify.user_id() AND route = $1 AND key = $2";
static const char sql_idem_drop[] =
    "DELETE FROM idempotency_keys WHERE user_id = rectify.user_id() AND route = $1 AND key = $2"
    " AND status IS NULL";

#define IDEM_ROUTE "POST /api/v1/complaints/import"

/* Before each batch: its transaction's statement_timeout is what is left of
 * the import's time budget ($1 ms when the transaction was sent, less the
 * time since it began), instead of RECTIFY_STATEMENT_TIMEOUT_MS per
 * statement; as in ledger_io.c.
 * And a fresh plan for every batch statement (plan_cache_mode): a
 * connection's prepared statements otherwise settle, after five runs, on a
 * generic plan made when complaints was small. Seen: right after a 20 000-row
 * import, one 1000-row check statement of the next import ran > 27 s (the
 * per-row lookups of the stored row by campaign and hand-over number, we
 * infer, planned for a tiny table); with a fresh plan it takes the usual
 * fraction of a second. Planning afresh costs a few ms per 1000 rows. */
static const char sql_budget[] =
    "SELECT set_config('statement_timeout', greatest(1, $1::bigint"
    " - (extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint)::text, true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)";
static const char sql_begin[] = "BEGIN";
static const char sql_rollback[] = "ROLLBACK";

static void clear_result(void *p) { PQclear(p); }

/* Runs queries as the request's identity (any thread: reads only im->r). */
static enum db_status exec(const struct import *im, const struct db_query *q, size_t n,
                           PGresult **res, struct db_error *err)
{
    const struct req *r = im->r;
    char user_id[24], epoch[16];
    snprintf(user_id, sizeof user_id, "%lld", r->who.user_id);
    snprintf(epoch, sizeof epoch, "%d", r->who.epoch);
    struct db_identity who = {.user_id = user_id, .epoch = epoch, .request_id = r->request_id,
                              .role = r->app->db_role};
    return db_run(r->app->db, &who, q, n, res, err);
}

/* The outcome of exec: true when it ran; otherwise stops the import (the
 * database said why, logged). */
static bool ran(struct import *im, enum db_status st, const struct db_error *err)
{
    struct req *r = im->r;
    if (st == DB_OK)
        return true;
    if (st == DB_BUSY || st == DB_UNAVAILABLE) {
        stop(im, 503, "service_unavailable", 0, 0,
             "The database is busy or unreachable; retry the import (it is safe to re-send).");
        return false;
    }
    struct sqlstate_rule rule = sqlstate_lookup(err->sqlstate);
    log_msg(rule.status >= 500 ? LOG_ERROR : LOG_INFO, r->request_id,
            "complaint import: database error %s in query %d: %s", err->sqlstate,
            err->failed_index, err->message);
    if (!rule.code)
        stop(im, rule.status, err->hint[0] ? err->hint : "rejected", 0, 0, "%s", err->message);
    else
        stop(im, rule.status, rule.code, 0, 0, "%s", rule.detail);
    return false;
}

static bool run(struct import *im, const struct db_query *q, size_t n, PGresult **res)
{
    struct db_error err;
    if (!ran(im, exec(im, q, n, res, &err), &err))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (arena_defer(im->r->arena, clear_result, res[i])) { /* res[i] is cleared */
            for (size_t j = i + 1; j < n; j++)
                PQclear(res[j]);
            stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
            return false;
        }
    }
    return true;
}

/* Batch results are cleared as soon as they are taken: the request arena
 * would otherwise hold every batch's answer until the end. */
static void clear_batch_results(PGresult **res, size_t n)
{
    for (size_t i = 0; i < n; i++)
        PQclear(res[i]);
}

static const char *message_for(const char *err, const char *candidates, struct arena *a,
                               const char **field)
{
    if (strcmp(err, "unknown_county") == 0) {
        *field = "county";
        return "no county or prefecture has this name or division code (use e.g. 城关区, "
               "兰州市城关区 or 620102)";
    }
    if (strcmp(err, "ambiguous_county") == 0) {
        *field = "county";
        return arena_printf(a, "the name is shared by %s: write the prefecture in front "
                               "(兰州市城关区) or the division code", candidates ? candidates : "several");
    }
    if (strcmp(err, "unknown_org") == 0) {
        *field = "responsible_org";
        return "no organisation has this name or code";
    }
    if (strcmp(err, "ambiguous_org") == 0) {
        *field = "responsible_org";
        return arena_printf(a, "the name is shared by %s: use the org code",
                            candidates ? candidates : "several");
    }
    if (strcmp(err, "out_of_scope") == 0) {
        *field = "county";
        return "neither this county nor the responsible org is within your organisation; "
               "ask the rectification office (整改办) to import the row";
    }
    if (strcmp(err, "conflict") == 0) {
        /* the same words whoever uses the number: nothing about where */
        *field = "handover_no";
        return "cannot be imported with this account; check the number, or ask the "
               "rectification office (整改办) to import the row";
    }
    *field = NULL;
    return "rejected";
}

/* Folds a statement's per-row answer into the counts and results; b (or
 * NULL) gives the rows' line numbers. */
static void take_results(struct import *im, const struct batch *b, PGresult *res)
{
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        long long row = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        const char *handover = PQgetvalue(res, i, 1);
        const char *status = PQgetvalue(res, i, 2);
        unsigned long long line = 0;
        size_t lo = 0, hi = b ? b->n : 0; /* row numbers ascend within a batch */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (b->row_no[mid] < row)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (b && lo < b->n && b->row_no[lo] == row)
            line = b->line[lo];
        if (strcmp(status, "failed") == 0) {
            struct row_error e = {NULL, PQgetvalue(res, i, 3), NULL};
            e.message = message_for(e.code, PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
                                    im->scratch, &e.field);
            row_failed(im, row, line, handover, &e, 1);
            continue;
        }
        if (strcmp(status, "inserted") == 0)
            im->inserted++;
        else if (strcmp(status, "updated") == 0)
            im->updated++;
        else
            im->unchanged++;
        if (im->verbose)
            add_result(im, row, line, handover, status, NULL, 0);
    }
}

/* The write of one batch (partial mode): created batches, then the upsert,
 * one transaction. Runs in the batch's worker thread. */
static void *write_batch(void *arg)
{
    struct batch *b = arg;
    const char *p_budget[] = {b->budget_ms};
    const char *p[] = {b->im->campaign_id, b->rows.data};
    const char *p_keys[] = {b->im->campaign_id, b->keys.data};
    struct db_query q[] = {{sql_budget, 1, p_budget}, {sql_batches, 2, p_keys}, {sql_upsert, 2, p}};
    b->st = exec(b->im, q, 3, b->res, &b->err);
    return NULL;
}

/* What is left of the import's time budget, in ms (text for sql_budget);
 * false, and the import stopped, when nothing is. */
static bool budget_left(struct import *im, char out[24])
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ms = (long long)((im->deadline - ((double)ts.tv_sec + ts.tv_nsec / 1e9)) * 1000);
    if (ms < 1) {
        stop(im, 503, "timeout", 0, 0,
             "The import took longer than its time budget (RECTIFY_IMPORT_TIMEOUT, %d s); "
             "re-sending the file is safe.", im->r->app->cfg->import_timeout);
        return false;
    }
    snprintf(out, 24, "%lld", ms);
    return true;
}

static void reset_batch(struct batch *b)
{
    buf_reset(&b->rows);
    buf_reset(&b->keys);
    b->n = 0;
}

/* Waits for the oldest batch in flight and takes its results. After a stop
 * the results are dropped (the batch committed or not on its own: the answer
 * says re-sending is safe). */
static void join_oldest(struct import *im)
{
    struct batch *b = &im->slots[im->joined++ % im->nslots];
    pthread_join(b->thread, NULL);
    bool stopped = im->stopped;
    if (ran(im, b->st, &b->err)) {
        if (!stopped)
            take_results(im, b, b->res[2]);
        clear_batch_results(b->res, 3);
    }
    reset_batch(b);
}

/* Joins every batch in flight. */
static void join_all(struct import *im)
{
    while (im->joined < im->sent)
        join_oldest(im);
}

/* Sends the collected batch: atomic and dry-run batches at once, in this
 * thread; partial ones to a worker thread, so that up to im->workers
 * batches are written at the same time while the next one is parsed. */
static void flush(struct import *im)
{
    struct batch *b = im->b;
    if (im->stopped || b->n == 0)
        return;
    int rc = buf_puts(&b->rows, "]");
    rc |= buf_puts(&b->keys, "]");
    if (rc || !b->rows.data || !b->keys.data) {
        stop(im, 500, "internal_error", 0, 0, "Out of memory.");
        return;
    }
    if (!budget_left(im, b->budget_ms))
        return;
    const char *p_budget[] = {b->budget_ms};
    if (im->atomic) {
        char seq[16];
        snprintf(seq, sizeof seq, "%d", ++im->seq);
        const char *p_check[] = {im->campaign_id, b->rows.data};
        const char *p_stage[] = {im->import_id, seq, b->rows.data};
        struct db_query q[] = {{sql_budget, 1, p_budget}, {sql_check, 2, p_check},
                               {sql_stage, 3, p_stage}};
        PGresult *res[3];
        struct db_error err;
        if (ran(im, exec(im, q, 3, res, &err), &err)) {
            take_results(im, b, res[1]);
            clear_batch_results(res, 3);
        }
    } else if (im->dry_run) {
        /* The real statements of the batch, then ROLLBACK: the dry run
         * answers what the real run would, row by row, because it is the
         * real run (its checks, constraints and policies), undone. */
        const char *p[] = {im->campaign_id, b->rows.data};
        const char *p_keys[] = {im->campaign_id, b->keys.data};
        struct db_query q[] = {{sql_begin, 0, NULL}, {sql_budget, 1, p_budget},
                               {sql_batches, 2, p_keys}, {sql_upsert, 2, p},
                               {sql_rollback, 0, NULL}};
        PGresult *res[5];
        struct db_error err;
        if (ran(im, exec(im, q, 5, res, &err), &err)) {
            take_results(im, b, res[3]);
            clear_batch_results(res, 5);
        }
    } else {
        if (im->sent - im->joined == im->workers)
            join_oldest(im);
        b->im = im;
        if (pthread_create(&b->thread, NULL, write_batch, b) == 0) {
            im->sent++;
            im->b = &im->slots[im->sent % im->nslots]; /* free: its last batch was joined */
            return;
        }
        join_all(im); /* no thread to be had: write it here, after the earlier ones */
        write_batch(b);
        if (ran(im, b->st, &b->err)) {
            take_results(im, b, b->res[2]);
            clear_batch_results(b->res, 3);
        }
    }
    reset_batch(b);
}

/* --- one row ------------------------------------------------------------------- */

struct row {
    const char *v[F_COUNT]; /* trimmed values (arena) or NULL */
};

static int seal_field(struct import *im, struct buf *b, const char *name, const char *handover,
                       const char *value, bool *first)
{
    if (!value)
        return 0;
    char ad[160];
    if (pii_ad(ad, sizeof ad, im->campaign_id, handover, name))
        return 0;
    size_t len = strlen(value);
    if (len > 4096 || pii_seal(im->key, ad, value, len, im->sealed))
        return 0;
    sodium_bin2hex(im->hex, sizeof im->hex, im->sealed, len + PII_SEAL_OVERHEAD);
    int rc = buf_printf(b, "%s\"%s_enc\":\"%s\"", *first ? "" : ",", name, im->hex);
    *first = false;
    return rc;
}

static int json_member(struct buf *b, const char *name, const char *value)
{
    return buf_printf(b, ",\"%s\":", name) | buf_json_string(b, value);
}

/* Validates and normalises one row; appends it to the batch or reports it. */
static void take_row(struct import *im, struct row *w, long long row_no, unsigned long long line,
                     struct row_error *errs, size_t ne)
{
    struct arena *a = im->scratch;
    im->rows++;
    if (im->rows > IMPORT_MAX_ROWS) {
        stop(im, 413, "payload_too_large", line, 0, "An import holds at most %d rows.",
             IMPORT_MAX_ROWS);
        return;
    }
#define ERR(f, c, m)                                                                          \
    do {                                                                                      \
        if (ne < MAX_ROW_ERRORS)                                                              \
            errs[ne++] = (struct row_error){columns[f].key, c, m};                            \
    } while (0)
    for (int f = 0; f < F_COUNT; f++) {
        size_t chars = 0;
        if (!w->v[f]) {
            if (columns[f].required)
                ERR(f, "required", "is required");
            continue;
        }
        if (!utf8_valid(w->v[f], strlen(w->v[f]), &chars)) {
            ERR(f, "invalid_utf8", "is not valid UTF-8 text");
            w->v[f] = NULL;
        } else if (chars > columns[f].max_chars) {
            ERR(f, "too_long", arena_printf(a, "is %zu characters long; at most %u are allowed",
                                            chars, columns[f].max_chars));
            w->v[f] = NULL;
        }
    }
    const char *handover = w->v[F_HANDOVER_NO];
    if (handover && strpbrk(handover, " \t\r\n")) {
        ERR(F_HANDOVER_NO, "invalid", "must not contain spaces");
        handover = NULL;
    }
    int batch_no = 0;
    if (w->v[F_BATCH_NO] && !parse_batch_no(w->v[F_BATCH_NO], &batch_no))
        ERR(F_BATCH_NO, "invalid", "must be a batch number between 1 and 10000 (3 or 第3批)");
    char handed[11] = "", deadline[11] = "", received[40] = "";
    if (w->v[F_HANDED_OVER_ON] && !parse_date_only(w->v[F_HANDED_OVER_ON], handed))
        ERR(F_HANDED_OVER_ON, "invalid_date", "must be a date such as 2023-12-01");
    if (w->v[F_DEADLINE] && !parse_date_only(w->v[F_DEADLINE], deadline))
        ERR(F_DEADLINE, "invalid_date", "must be a date such as 2023-12-31");
    if (w->v[F_RECEIVED_AT] && !parse_timestamp(w->v[F_RECEIVED_AT], received))
        ERR(F_RECEIVED_AT, "invalid_date",
            "must be a date with an optional time, such as 2023-11-25 14:30");
    const char *channel = w->v[F_CHANNEL] ? lookup(channels, w->v[F_CHANNEL]) : NULL;
    if (w->v[F_CHANNEL] && !channel)
        ERR(F_CHANNEL, "invalid",
            "must be one of 电话, 来信, 网络, 12345, 来访, 其他 (or phone, letter, online, "
            "hotline_12345, visit, other)");
    const char *grade = w->v[F_GRADE] ? lookup(grades, w->v[F_GRADE]) : "general";
    if (!grade)
        ERR(F_GRADE, "invalid", "must be 一般件 or 重点件 (general or key)");
    /* pollution types: separated by 、，,;；/ or spaces; "大气污染" = 大气 */
    struct buf tj;
    buf_init(&tj, 1024); /* at most 8 names */
    int tjrc = buf_puts(&tj, "[");
    if (w->v[F_TYPES]) {
        char *s = arena_strdup(a, w->v[F_TYPES]);
        static const char *const seps[] = {"、", "，", "；", ",", ";", "/", " ", "|", NULL};
        int nt = 0, bad = 0;
        const char *seen_types[8];
        while (s && *s) {
            char *cut = NULL;
            size_t cutlen = 0;
            for (const char *const *sp = seps; *sp; sp++) {
                char *at = strstr(s, *sp);
                if (at && (!cut || at < cut)) {
                    cut = at;
                    cutlen = strlen(*sp);
                }
            }
            if (cut)
                *cut = '\0';
            size_t l = strlen(s);
            if (l > 6 && strcmp(s + l - 6, "污染") == 0)
                s[l - 6] = '\0';
            if (*s) {
                const char *t = lookup(types, s);
                if (!t) {
                    bad++;
                    ERR(F_TYPES, "invalid",
                        arena_printf(a, "\"%s\" is not one of 大气, 水, 土壤, 噪声, 固废, 生态, "
                                        "辐射, 其他", s));
                } else {
                    bool dup = false;
                    for (int k = 0; k < nt; k++)
                        dup = dup || strcmp(seen_types[k], t) == 0;
                    if (!dup && nt < 8) {
                        seen_types[nt] = t;
                        tjrc |= buf_printf(&tj, "%s\"%s\"", nt++ ? "," : "", t);
                    }
                }
            }
            s = cut ? cut + cutlen : NULL;
        }
        if (nt == 0 && !bad)
            ERR(F_TYPES, "required", "names no pollution type");
    }
    tjrc |= buf_puts(&tj, "]");
    if (tjrc) {
        buf_free(&tj);
        stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
        return;
    }
    if (arena_defer(a, free, tj.data)) { /* tj.data is freed */
        stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
        return;
    }
    double lat = 0, lon = 0;
    bool has_lat = w->v[F_LATITUDE] != NULL, has_lon = w->v[F_LONGITUDE] != NULL;
    if (has_lat && !parse_coord(w->v[F_LATITUDE], -90, 90, &lat))
        ERR(F_LATITUDE, "invalid", "must be a latitude in degrees (-90 to 90)");
    if (has_lon && !parse_coord(w->v[F_LONGITUDE], -180, 180, &lon))
        ERR(F_LONGITUDE, "invalid", "must be a longitude in degrees (-180 to 180)");
    if (has_lat != has_lon)
        ERR(has_lat ? F_LONGITUDE : F_LATITUDE, "required",
            "latitude and longitude go together");
    char *credit = w->v[F_CREDIT_CODE] ? arena_strdup(a, w->v[F_CREDIT_CODE]) : NULL;
    if (credit && !credit_code_ok(credit))
        ERR(F_CREDIT_CODE, "invalid", "must be an 18-character unified social credit code");
    if (w->v[F_C_PHONE] && !phone_ok(w->v[F_C_PHONE]))
        ERR(F_C_PHONE, "invalid", "must be a phone number");
    char *idno = w->v[F_C_ID] ? arena_strdup(a, w->v[F_C_ID]) : NULL;
    if (idno && !id_number_ok(idno))
        ERR(F_C_ID, "invalid", "must be a 15- or 18-character resident ID number");
    if (handover && ne == 0) {
        long long first = seen_put(&im->seen, handover, row_no);
        if (first < 0) {
            stop(im, 500, "internal_error", 0, 0, "Out of memory.");
            return;
        }
        if (first > 0)
            ERR(F_HANDOVER_NO, "duplicate_in_file",
                arena_printf(a, "repeats the hand-over number of row %lld", first));
    }
#undef ERR
    if (ne) {
        row_failed(im, row_no, line, w->v[F_HANDOVER_NO], errs, ne);
        return;
    }

    /* the normalised row */
    struct buf *b = &im->b->rows;
    int rc = buf_puts(b, im->b->n ? "," : "[");
    rc |= buf_printf(b, "{\"row_no\":%lld", row_no);
    rc |= json_member(b, "handover_no", handover);
    rc |= buf_printf(b, ",\"batch_no\":%d", batch_no);
    rc |= json_member(b, "handed_over_on", handed[0] ? handed : NULL);
    rc |= json_member(b, "received_at", received);
    rc |= json_member(b, "channel", channel);
    rc |= json_member(b, "content", w->v[F_CONTENT]);
    rc |= buf_printf(b, ",\"pollution_types\":%s", tj.data ? tj.data : "[]");
    rc |= json_member(b, "county", w->v[F_COUNTY]);
    rc |= json_member(b, "address", w->v[F_ADDRESS]);
    if (has_lat)
        rc |= buf_printf(b, ",\"latitude\":%.6f,\"longitude\":%.6f", lat, lon);
    rc |= json_member(b, "entity_name", w->v[F_ENTITY_NAME]);
    rc |= json_member(b, "entity_credit_code", credit);
    rc |= json_member(b, "grade", grade);
    rc |= json_member(b, "responsible_org", w->v[F_RESPONSIBLE_ORG]);
    rc |= json_member(b, "deadline", deadline[0] ? deadline : NULL);
    struct buf *k = &im->b->keys;
    rc |= buf_puts(k, im->b->n ? "," : "[");
    rc |= buf_printf(k, "{\"batch_no\":%d", batch_no);
    rc |= json_member(k, "handed_over_on", handed[0] ? handed : NULL);
    rc |= json_member(k, "received_at", received);
    rc |= buf_puts(k, "}");
    const char *pv[4] = {w->v[F_C_NAME], w->v[F_C_PHONE], idno, w->v[F_C_ADDRESS]};
    if (pv[0] || pv[1] || pv[2] || pv[3]) {
        bool first = true;
        rc |= buf_puts(b, ",\"pii\":{");
        rc |= seal_field(im, b, "name", handover, pv[0], &first);
        rc |= seal_field(im, b, "phone", handover, pv[1], &first);
        rc |= seal_field(im, b, "id_number", handover, pv[2], &first);
        rc |= seal_field(im, b, "address", handover, pv[3], &first);
        char m[600];
        static const char *const mnames[] = {"name_masked", "phone_masked", "id_number_masked",
                                             "address_masked"};
        for (int k = 0; k < 4; k++) {
            if (!pv[k])
                continue;
            if (k == 0)
                pii_mask_name(pv[k], m, sizeof m);
            else if (k == 1)
                pii_mask_phone(pv[k], m, sizeof m);
            else if (k == 2)
                pii_mask_id_number(pv[k], m, sizeof m);
            else
                pii_mask_address(pv[k], m, sizeof m);
            rc |= buf_printf(b, "%s\"%s\":", first ? "" : ",", mnames[k]);
            rc |= buf_json_string(b, m);
            first = false;
        }
        unsigned char dg[32];
        char dhex[65];
        pii_digest(im->key, pv, 4, dg);
        sodium_bin2hex(dhex, sizeof dhex, dg, sizeof dg);
        rc |= buf_printf(b, ",\"digest\":\"%s\"}", dhex);
    }
    rc |= buf_puts(b, "}");
    if (rc) {
        stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
        return;
    }
    im->b->row_no[im->b->n] = row_no;
    im->b->line[im->b->n] = line;
    if (++im->b->n == BATCH_ROWS)
        flush(im);
}

/* --- CSV --------------------------------------------------------------------------- */

static int on_csv_record(void *ctx, const struct csv_record *rec)
{
    struct import *im = ctx;
    struct arena *a = im->scratch;
    if (!im->have_header) {
        im->have_header = true;
        im->ncols = rec->nfields;
        im->colmap = calloc(rec->nfields, sizeof *im->colmap);
        if (!im->colmap) {
            stop(im, 500, "internal_error", 0, 0, "Out of memory.");
            return 1;
        }
        bool have[F_COUNT] = {false};
        for (size_t i = 0; i < rec->nfields; i++) {
            char *name = import_trimmed(a, rec->fields[i], rec->lens[i]);
            int f = name ? column_of(name) : -1;
            if (f == -1) {
                stop(im, 400, "unknown_column", rec->line, 0,
                     "Column %zu of the header (\"%s\") is not a column of the hand-over list.",
                     i + 1, name ? name : "");
                return 1;
            }
            if (f >= 0 && have[f]) {
                stop(im, 400, "duplicate_column", rec->line, 0,
                     "Column %zu of the header (\"%s\") appears twice.", i + 1, name);
                return 1;
            }
            if (f >= 0)
                have[f] = true;
            im->colmap[i] = f;
        }
        for (int f = 0; f < F_COUNT; f++)
            if (columns[f].required && !have[f]) {
                stop(im, 400, "missing_column", rec->line, 0,
                     "The header has no column %s (%s).", columns[f].zh[0], columns[f].key);
                return 1;
            }
        return 0;
    }
    long long row_no = (long long)rec->number - 1;
    struct row w = {{0}};
    struct row_error errs[MAX_ROW_ERRORS];
    size_t ne = 0;
    bool any = false;
    for (size_t i = 0; i < rec->nfields; i++) {
        if (i >= im->ncols) {
            if (rec->lens[i] && ne < MAX_ROW_ERRORS)
                errs[ne++] = (struct row_error){NULL, "extra_field",
                                                "the row has more fields than the header"};
            continue;
        }
        if (im->colmap[i] < 0)
            continue;
        w.v[im->colmap[i]] = import_trimmed(a, rec->fields[i], rec->lens[i]);
        any = any || w.v[im->colmap[i]];
    }
    if (!any && ne == 0)
        return 0; /* a row of empty cells (spreadsheets leave them) */
    take_row(im, &w, row_no, rec->line, errs, ne);
    row_done(im);
    return im->stopped ? 1 : 0;
}

/* --- NDJSON and JSON ------------------------------------------------------------- */

static void json_object_row(struct import *im, const cJSON *obj, long long row_no,
                            unsigned long long line)
{
    struct arena *a = im->scratch;
    struct row w = {{0}};
    struct row_error errs[MAX_ROW_ERRORS];
    size_t ne = 0;
    if (!cJSON_IsObject(obj)) {
        errs[ne++] = (struct row_error){NULL, "not_an_object", "must be a JSON object"};
        im->rows++;
        row_failed(im, row_no, line, NULL, errs, ne);
        return;
    }
    for (const cJSON *m = obj->child; m; m = m->next) {
        int f = column_of(m->string);
        if (f == F_IGNORED)
            continue;
        if (f < 0 || strcmp(columns[f].key, m->string) != 0) {
            if (ne < MAX_ROW_ERRORS)
                errs[ne++] = (struct row_error){arena_strdup(a, m->string), "unknown_field",
                                                "is not a field of a complaint import row"};
            continue;
        }
        if (cJSON_IsNull(m))
            continue;
        if (cJSON_IsString(m)) {
            w.v[f] = import_trimmed(a, m->valuestring, strlen(m->valuestring));
        } else if (cJSON_IsNumber(m)) {
            w.v[f] = arena_printf(a, "%.10g", m->valuedouble);
        } else if (f == F_TYPES && cJSON_IsArray(m)) {
            struct buf t;
            buf_init(&t, 4096);
            int trc = 0;
            for (const cJSON *it = m->child; it; it = it->next)
                if (cJSON_IsString(it))
                    trc |= buf_puts(&t, t.len ? "," : "") | buf_puts(&t, it->valuestring);
            w.v[f] = t.data ? arena_strdup(a, t.data) : NULL;
            buf_free(&t);
            if (trc && ne < MAX_ROW_ERRORS) /* longer than 4 KiB, or out of memory */
                errs[ne++] = (struct row_error){columns[f].key, "invalid", "is too long"};
        } else if (ne < MAX_ROW_ERRORS) {
            errs[ne++] = (struct row_error){columns[f].key, "invalid", "must be a string"};
        }
    }
    take_row(im, &w, row_no, line, errs, ne);
    row_done(im);
}

static void ndjson_line(struct import *im)
{
    im->line_no++;
    const char *s = im->line.data ? im->line.data : "";
    size_t len = im->line.len;
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    size_t start = 0;
    if (im->line_no == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        start = 3;
    while (start < len && (s[start] == ' ' || s[start] == '\t'))
        start++;
    if (start == len) {
        buf_reset(&im->line);
        return;
    }
    if (!utf8_valid(s + start, len - start, NULL)) {
        stop(im, 400, "invalid_utf8", im->line_no, 0,
             "Line %llu is not valid UTF-8 text (or contains a NUL byte).", im->line_no);
        return;
    }
    long long row_no = im->rows + 1;
    cJSON *obj;
    size_t at = 0;
    enum json_status st = json_parse(s + start, len - start, &obj, &at);
    if (st != JSON_OK) {
        struct row_error e = {NULL, json_status_code(st),
                              arena_printf(im->scratch, "line %llu %s (near character %zu)",
                                           im->line_no, json_status_message(st), start + at + 1)};
        im->rows++;
        row_failed(im, row_no, im->line_no, NULL, &e, 1);
        row_done(im);
        cJSON_Delete(obj);
    } else {
        json_object_row(im, obj, row_no, im->line_no);
        cJSON_Delete(obj);
    }
    buf_reset(&im->line);
}

static void ndjson_feed(struct import *im, const char *data, size_t len)
{
    while (len && !im->stopped) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (buf_append(&im->line, data, take)) {
            stop(im, 400, "line_too_long", im->line_no + 1, 0,
                 "Line %llu is longer than 1 MiB.", im->line_no + 1);
            return;
        }
        if (!nl)
            return;
        ndjson_line(im);
        data += take + 1;
        len -= take + 1;
    }
}

/* --- answering ------------------------------------------------------------------- */

/* Builds the summary answer (malloc'd); NULL when out of memory. */
static char *summary_json(struct import *im)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_printf(&b,
               "{\"mode\":\"%s\",\"dry_run\":%s,\"summary\":{\"rows\":%lld,\"inserted\":%lld,"
               "\"updated\":%lld,\"unchanged\":%lld,\"failed\":%lld},\"results\":[",
               im->atomic ? "atomic" : "partial", im->dry_run ? "true" : "false", im->rows,
               im->inserted, im->updated, im->unchanged, im->failed);
    if (im->results.data)
        rc |= buf_append(&b, im->results.data, im->results.len);
    rc |= buf_printf(&b, "],\"results_truncated\":%s}", im->truncated ? "true" : "false");
    if (rc)
        buf_free(&b); /* NULL: the caller answers 503 */
    return b.data;
}

struct answer {
    int status;
    const char *content_type;
    char *body; /* malloc'd */
};

static struct answer problem_answer(struct import *im, int status, const char *code,
                                    const char *detail, const char *extra)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = problem_render(&b, status, code, detail, im->r->path, im->r->request_id, NULL, 0);
    if (!rc && extra && b.len && b.data[b.len - 1] == '}') {
        b.len--;
        rc = buf_puts(&b, ",") | buf_puts(&b, extra) | buf_puts(&b, "}");
    }
    if (rc)
        buf_free(&b); /* body NULL: store_and_reply answers 503 */
    return (struct answer){status, "application/problem+json", b.data};
}

static struct answer fatal_answer(struct import *im)
{
    char extra[512] = "";
    char *partial = NULL;
    if (im->has_fatal_pos)
        snprintf(extra, sizeof extra, "\"line\":%llu,\"column\":%llu", im->fatal_line,
                 im->fatal_col);
    if (!im->atomic && !im->dry_run && (im->inserted || im->updated)) {
        partial = arena_printf(im->r->arena,
                               "%s%s\"committed_before_error\":{\"inserted\":%lld,\"updated\":%lld}",
                               extra, extra[0] ? "," : "", im->inserted, im->updated);
    }
    return problem_answer(im, im->fatal_status, im->fatal_code, im->fatal_detail,
                          partial ? partial : extra[0] ? extra : NULL);
}

/* --- the handler ------------------------------------------------------------------- */

static bool flag_param(struct req *r, const char *name, bool *out, struct field_error *errs,
                       size_t *n)
{
    const char *v = req_query(r, name);
    *out = false;
    if (!v)
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
        errs[(*n)++] = (struct field_error){.parameter = name, .message = "must be true or false", .code = "wrong_type"};
        return false;
    }
    return true;
}

static bool idem_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 200)
        return false;
    for (const char *p = k; *p; p++)
        if (*p < 0x21 || *p > 0x7E)
            return false;
    return true;
}

bool complaint_pii_key_or_reply(struct req *r, unsigned char key[32])
{
    if (pii_key_decode(r->app->cfg->pii_key, key)) {
        log_msg(LOG_ERROR, r->request_id, "RECTIFY_PII_KEY is not usable");
        reply_problem(r, 500, "internal_error", "The service is misconfigured.");
        return false;
    }
    return true;
}

static void store_and_reply(struct import *im, const char *idem, struct answer a,
                            const char *body_hash_hex)
{
    struct req *r = im->r;
    if (!a.body)
        a.status = 503; /* out of memory: not stored for the key */
    if (idem) {
        PGresult *res;
        if (a.status < 500) {
            char st[16];
            snprintf(st, sizeof st, "%d", a.status);
            const char *p[] = {IDEM_ROUTE, idem, st, body_hash_hex, a.content_type, a.body};
            struct db_query q = {sql_idem_store, 6, p};
            run(im, &q, 1, &res); /* the answer is decided: errors only logged */
        } else {
            const char *p[] = {IDEM_ROUTE, idem};
            struct db_query q = {sql_idem_drop, 2, p};
            run(im, &q, 1, &res); /* the answer is decided: errors only logged */
        }
    }
    if (!a.body) {
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }
    reply(r, a.status, a.content_type, a.body, strlen(a.body));
    free(a.body);
}

/* Reads (and hashes) the rest of the body, discarding it. */
static bool drain_hash(struct req *r, crypto_hash_sha256_state *sha, char hex[65])
{
    char *chunk = arena_alloc(r->arena, 65536);
    long n = -1;
    long long total = 0;
    while (chunk && (n = req_read(r, chunk, 65536)) > 0) {
        crypto_hash_sha256_update(sha, (unsigned char *)chunk, (unsigned long long)n);
        if ((total += n) > IMPORT_MAX_BYTES)
            return false;
    }
    unsigned char h[32];
    crypto_hash_sha256_final(sha, h);
    sodium_bin2hex(hex, 65, h, 32);
    return n == 0;
}

void complaints_import(struct req *r)
{
    struct field_error perrs[4];
    size_t pn = 0;
    const char *campaign = req_query(r, "campaign_id");
    char campaign_id[24];
    if (!campaign || !id_parse(campaign, campaign_id))
        perrs[pn++] = (struct field_error){.parameter = "campaign_id",
                                           .message = "is required: the id of the campaign", .code = "required"};
    bool dry_run, verbose;
    flag_param(r, "dry_run", &dry_run, perrs, &pn);
    flag_param(r, "verbose", &verbose, perrs, &pn);
    const char *mode = req_query(r, "mode");
    bool atomic = mode && strcmp(mode, "atomic") == 0;
    if (mode && !atomic && strcmp(mode, "partial") != 0)
        perrs[pn++] = (struct field_error){.parameter = "mode",
                                           .message = "must be partial or atomic", .code = "not_in_vocabulary"};
    if (pn) {
        r->close_connection = true;
        reply_invalid_params(r, perrs, pn);
        return;
    }
    const char *ct = req_header(r, "Content-Type");
    enum import_format fmt = import_format_of(ct);
    if (fmt == IMPORT_UNSUPPORTED) {
        r->close_connection = true;
        reply_problem(r, 415, "unsupported_media_type",
                      "Send the hand-over list as text/csv, application/x-ndjson or "
                      "application/json (UTF-8).");
        return;
    }
    const char *idem = req_header(r, "Idempotency-Key");
    if (idem && !idem_key_ok(idem)) {
        r->close_connection = true;
        struct field_error e = {.parameter = "Idempotency-Key",
                                .message = "must be 1 to 200 visible ASCII characters", .code = "invalid_format"};
        reply_problem_errors(r, 400, "invalid_parameter", "The Idempotency-Key header is invalid.",
                             &e, 1);
        return;
    }

    struct import *im = arena_alloc(r->arena, sizeof *im);
    if (!im || arena_defer(r->arena, import_free, im)) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return;
    }
    im->r = r;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        im->deadline = (double)ts.tv_sec + ts.tv_nsec / 1e9 + r->app->cfg->import_timeout;
    }
    im->fmt = fmt;
    im->dry_run = dry_run;
    im->atomic = atomic && !dry_run;
    im->verbose = verbose;
    snprintf(im->campaign_id, sizeof im->campaign_id, "%s", campaign_id);
    im->workers = r->app->cfg->import_workers;
    im->nslots = im->workers + 1;
    for (int i = 0; i < im->nslots; i++) {
        buf_init(&im->slots[i].rows, 0);
        buf_init(&im->slots[i].keys, 0);
    }
    im->b = &im->slots[0];
    im->scratch = arena_new();
    if (!im->scratch) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return;
    }
    buf_init(&im->results, 0);
    buf_init(&im->line, 1u << 20);
    crypto_hash_sha256_init(&im->sha);
    if (!complaint_pii_key_or_reply(r, im->key))
        return;

    /* the campaign exists (and the identity is valid) before any reading */
    if (!campaign_exists_or_reply(r, campaign_id, "campaign_id"))
        return;
    /* claim the idempotency key */
    if (idem) {
        const char *p[] = {IDEM_ROUTE, idem};
        struct db_query q[] = {{sql_idem_expire, 2, p}, {sql_idem_claim, 2, p}};
        PGresult *res[2];
        if (!db_run_or_reply(r, q, 2, res)) {
            r->close_connection = true;
            return;
        }
        if (strcmp(PQgetvalue(res[1], 0, 0), "t") != 0) {
            if (PQgetisnull(res[1], 0, 1)) {
                r->close_connection = true;
                reply_header(r, "Retry-After", "5");
                reply_problem(r, 409, "idempotency_in_progress",
                              "A request with this Idempotency-Key is still running.");
                return;
            }
            char hex[65];
            if (!drain_hash(r, &im->sha, hex)) {
                r->close_connection = true;
                reply_problem(r, 400, "incomplete_body", "The request body ended early.");
                return;
            }
            if (strcmp(hex, PQgetvalue(res[1], 0, 2)) != 0) {
                reply_problem(r, 422, "idempotency_key_reused",
                              "This Idempotency-Key was used with a different body.");
                return;
            }
            reply_header(r, "Idempotent-Replayed", "true");
            reply(r, atoi(PQgetvalue(res[1], 0, 1)), PQgetvalue(res[1], 0, 3),
                  PQgetvalue(res[1], 0, 4), (size_t)PQgetlength(res[1], 0, 4));
            return;
        }
    }
    if (im->atomic) {
        unsigned char u[16];
        randombytes_buf(u, sizeof u);
        u[6] = (u[6] & 0x0F) | 0x40;
        u[8] = (u[8] & 0x3F) | 0x80;
        snprintf(im->import_id, sizeof im->import_id,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                 u[14], u[15]);
        struct db_query q = {sql_gc, 0, NULL};
        PGresult *res;
        run(im, &q, 1, &res);
    }

    /* stream the body */
    struct csv_reader *csv = NULL;
    struct buf whole;
    buf_init(&whole, (size_t)r->app->cfg->max_body);
    if (fmt == IMPORT_CSV) {
        struct csv_options opt = {.max_field_bytes = 64 * 1024, .max_record_bytes = 256 * 1024,
                                  .max_fields = 64};
        csv = csv_reader_new(&opt, on_csv_record, im);
        if (!csv) {
            reply_problem(r, 500, "internal_error", "Out of memory.");
            return;
        }
    }
    char *chunk = malloc(65536);
    if (!chunk)
        stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
    long n = 0;
    bool read_error = false;
    while (chunk && !im->stopped && (n = req_read(r, chunk, 65536)) > 0) {
        crypto_hash_sha256_update(&im->sha, (unsigned char *)chunk, (unsigned long long)n);
        im->body_bytes += n;
        if (im->body_bytes > IMPORT_MAX_BYTES) {
            stop(im, 413, "payload_too_large", 0, 0, "An import body may be at most %lld bytes.",
                 IMPORT_MAX_BYTES);
            break;
        }
        if (fmt == IMPORT_CSV) {
            enum csv_status s = csv_feed(csv, chunk, (size_t)n);
            if (s == CSV_ERR_NOMEM) {
                stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
            } else if (s != CSV_OK && s != CSV_ERR_ABORTED) {
                const struct csv_error *e = csv_reader_error(csv);
                stop(im, 400, csv_status_code(s), e->line, e->column,
                     "The file is not valid CSV at line %llu, column %llu: %s.", e->line,
                     e->column, csv_status_message(s));
            }
        } else if (fmt == IMPORT_NDJSON) {
            ndjson_feed(im, chunk, (size_t)n);
        } else if (buf_append(&whole, chunk, (size_t)n)) {
            if (whole.len + (size_t)n <= whole.max) /* within the limit: out of memory */
                stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
            stop(im, 413, "payload_too_large",  0, 0,
                 "A JSON array import may be at most %lld bytes (RECTIFY_MAX_BODY); send "
                 "larger lists as CSV or NDJSON.", r->app->cfg->max_body);
        }
    }
    if (n < 0 && !im->stopped) {
        read_error = true;
        stop(im, 400, "incomplete_body", 0, 0, "The request body ended early.");
    }
    free(chunk);
    if (!im->stopped) {
        if (fmt == IMPORT_CSV) {
            enum csv_status s = csv_finish(csv);
            if (s == CSV_ERR_NOMEM) {
                stop(im, 503, "service_unavailable", 0, 0, "Out of memory.");
            } else if (s != CSV_OK && s != CSV_ERR_ABORTED) {
                const struct csv_error *e = csv_reader_error(csv);
                stop(im, 400, csv_status_code(s), e->line, e->column,
                     "The file is not valid CSV at line %llu, column %llu: %s.", e->line,
                     e->column, csv_status_message(s));
            } else if (!im->have_header && !im->stopped) {
                stop(im, 400, "empty_file", 0, 0, "The file is empty: it needs a header row.");
            }
        } else if (fmt == IMPORT_NDJSON) {
            if (im->line.len)
                ndjson_line(im);
        } else {
            cJSON *arr;
            enum json_status st = json_parse(whole.data ? whole.data : "", whole.len, &arr, NULL);
            if (st != JSON_OK) {
                stop(im, st == JSON_NO_MEMORY ? 503 : 400, json_status_code(st), 0, 0,
                     "The body %s.", json_status_message(st));
            } else if (!cJSON_IsArray(arr)) {
                stop(im, 400, "malformed_json", 0, 0,
                     "The body must be a JSON array of import rows.");
            } else {
                long long i = 0;
                for (const cJSON *it = arr->child; it && !im->stopped; it = it->next)
                    json_object_row(im, it, ++i, 0);
            }
            cJSON_Delete(arr);
        }
    }
    buf_free(&whole);
    csv_reader_free(csv);
    flush(im);
    join_all(im);
    if (im->stopped && read_error)
        r->close_connection = true;

    char hash_hex[65] = "";
    {
        unsigned char h[32];
        crypto_hash_sha256_final(&im->sha, h);
        sodium_bin2hex(hash_hex, sizeof hash_hex, h, 32);
    }
    if (im->stopped && !read_error) {
        /* not everything was read: the connection cannot be reused */
        if (fmt != IMPORT_JSON || im->fatal_status == 413)
            r->close_connection = true;
    }

    /* atomic pass 2 */
    if (im->atomic && !im->stopped) {
        /* one transaction; before each staged batch its statement_timeout
         * is set to what is left of the budget (sql_budget) */
        char budget[24];
        if (im->failed == 0 && im->seq > 0 && budget_left(im, budget)) {
            size_t nq = (size_t)im->seq * 3 + 1;
            struct db_query *q = arena_alloc(r->arena, nq * sizeof *q);
            const char **params = arena_alloc(r->arena, (size_t)im->seq * 4 * sizeof *params);
            PGresult **res = arena_alloc(r->arena, nq * sizeof *res);
            if (!q || !params || !res) {
                stop(im, 500, "internal_error", 0, 0, "Out of memory.");
            } else {
                for (int s = 0; s < im->seq; s++) {
                    const char **p = params + 4 * s;
                    p[0] = im->campaign_id;
                    p[1] = im->import_id;
                    p[2] = arena_printf(r->arena, "%d", s + 1);
                    p[3] = budget;
                    q[3 * s] = (struct db_query){sql_budget, 1, p + 3};
                    q[3 * s + 1] = (struct db_query){sql_batches_staged, 3, p};
                    q[3 * s + 2] = (struct db_query){sql_upsert_staged, 3, p};
                }
                const char *pu[] = {im->import_id};
                q[nq - 1] = (struct db_query){sql_unstage, 1, pu};
                long long counted = im->rows;
                im->inserted = im->updated = im->unchanged = 0;
                im->nresults = 0;
                im->truncated = false;
                buf_reset(&im->results);
                if (run(im, q, nq, res))
                    for (int s = 0; s < im->seq; s++)
                        take_results(im, NULL, res[3 * s + 2]); /* lines are not kept */
                im->rows = counted;
            }
        } else if (!im->stopped) {
            const char *pu[] = {im->import_id};
            struct db_query q = {sql_unstage, 1, pu};
            PGresult *res;
            run(im, &q, 1, &res); /* the answer is decided: errors only logged */
        }
    }

    struct answer a;
    if (im->stopped) {
        if (im->atomic) {
            const char *pu[] = {im->import_id};
            struct db_query q = {sql_unstage, 1, pu};
            PGresult *res;
            run(im, &q, 1, &res); /* the answer is decided: errors only logged */
        }
        a = fatal_answer(im);
    } else if (im->atomic && im->failed) {
        char *summary = summary_json(im);
        /* the summary object's members, spliced into the problem */
        char *extra = summary && strlen(summary) > 2
                          ? arena_strndup(r->arena, summary + 1, strlen(summary) - 2)
                          : NULL;
        free(summary);
        a = problem_answer(im, 422, "import_rejected",
                           arena_printf(r->arena,
                                        "%lld of %lld rows are invalid; nothing was imported "
                                        "(mode=atomic).", im->failed, im->rows),
                           extra);
    } else {
        a = (struct answer){207, "application/json; charset=utf-8", summary_json(im)};
    }
    log_msg(LOG_INFO, r->request_id,
            "complaint import: %lld rows, %lld inserted, %lld updated, %lld unchanged, %lld "
            "failed%s%s",
            im->rows, im->inserted, im->updated, im->unchanged, im->failed,
            im->dry_run ? " (dry run)" : "", im->atomic ? " (atomic)" : "");
    store_and_reply(im, idem, a, hash_hex);
}
