/* Ledger exports and imports (issue 4, "Ledger views"):
 *
 *   GET  /api/v1/tasks/export      the filtered task list as CSV or XLSX
 *   GET  /api/v1/problems/export   the filtered problem list as CSV or XLSX
 *   POST /api/v1/tasks/import      upsert tasks by (campaign, code)
 *   POST /api/v1/problems/import   upsert problems by (campaign, code)
 *
 * Exports take the list's filters (same names, same meaning) and its default
 * sort, and stream through src/api/export.c in keyset batches of 1000. The
 * filter SQL is TASK_FILTERS / PROBLEM_FILTERS of ledger.h, shared with
 * the lists (tasks.c, problems.c).
 *
 * Imports read the body with req_read in 64 KiB pieces and parse it as it
 * arrives (CSV through csv.h, NDJSON line by line; a JSON array is parsed
 * whole and capped at RECTIFY_MAX_BODY). Every row is checked and
 * normalised in C (types, lengths, dates, vocabularies, duplicates in the
 * file) into batches of 1000 rows; nothing is written before the whole file
 * has been read, so a malformed FILE (CSV quoting, invalid UTF-8, an NDJSON
 * line that is not JSON, unknown or repeated columns, too large) is refused
 * with 400 and the first error's line and column, writing nothing. Then all
 * batches go to PostgreSQL in ONE transaction (one pipeline), one
 * INSERT … ON CONFLICT … DO UPDATE … WHERE (columns) IS DISTINCT FROM … per
 * batch with the rows as a jsonb parameter; the statement resolves the
 * references (problem by code, organisations by code, name or parent name +
 * name) and answers, for every row, inserted / updated / unchanged / failed
 * (with the reason). Rows that fail are skipped; the others are written.
 * dry_run=true runs a read-only statement that says the same, writing
 * nothing. Memory: the normalised rows of the file (about the size of the
 * file, capped by RECTIFY_MAX_UPLOAD) and one record being parsed.
 *
 * Columns: a column the file does not have (a member a JSON row does not
 * have) leaves that field of an existing row unchanged; an empty cell sets
 * it empty. Export-only columns (status, progress, warning, …) are accepted
 * and ignored, so an exported file imports back as "unchanged". */
#include "rectify/api.h"

#include "rectify/app.h"
#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/config.h"
#include "rectify/csv.h"
#include "rectify/export.h"
#include "rectify/import_text.h"
#include "rectify/json.h"
#include "rectify/ledger.h"
#include "rectify/log.h"
#include "rectify/permissions.h"
#include "rectify/utf8.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define N(a) (sizeof a / sizeof a[0])

/* ===================================================================== SQL */

/* An org as a clerk names it: its name, or parent name + name when another
 * org has the same name (so the export imports back unambiguously). The
 * statements build every label once, as a jsonb object id -> label (lbl.m),
 * so a row's references are lookups rather than subqueries over orgs. */
#define ORG_LABEL_MAP                                                                      \
    " CROSS JOIN (SELECT jsonb_object_agg(x.id::text, x.label) AS m FROM (SELECT o.id,"    \
    "   CASE WHEN count(*) OVER (PARTITION BY o.name) > 1"                                   \
    "        THEN coalesce(op.name, '') || o.name ELSE o.name END AS label"                  \
    "   FROM orgs o LEFT JOIN orgs op ON op.id = o.parent_id) x) lbl"
#define ORG_LABEL(e) "(lbl.m ->> (" e ")::text)"
#define ORG_LABELS(arr)                                                                    \
    "(SELECT string_agg(lbl.m ->> u.id::text, '、' ORDER BY u.n)"                          \
    " FROM unnest(" arr ") WITH ORDINALITY AS u(id, n))"
#define TS_TEXT(e) "to_char(" e ", 'YYYY-MM-DD HH24:MI:SS')"
#define DATE_TEXT(e) "to_char(" e ", 'YYYY-MM-DD')"

/* Tasks in the list's default order (deadline, id); keyset $13 key, $14 id;
 * $15 batch size. Columns: key, id, then task_cols. */
static const char sql_task_export[] =
    "SELECT t.deadline_key::text, t.id, t.code,"
    " (SELECT p.code FROM problems p WHERE p.id = t.problem_id), t.title, t.target,"
    " array_to_string(t.measures, E'\\n'), " ORG_LABEL("t.owner_org_id") ","
    " " ORG_LABELS("t.co_org_ids") ", " ORG_LABELS("t.acceptance_org_ids") ","
    " t.responsible_name, t.responsible_post,"
    " CASE t.deadline_kind WHEN 'date' THEN '限期完成' WHEN 'immediate_then_ongoing'"
    "   THEN '立行立改、长期坚持' ELSE '长期坚持' END, " DATE_TEXT("t.deadline") ","
    " (SELECT string_agg((e.s->>'due') || ' ' || (e.s->>'target'), E'\\n' ORDER BY e.n)"
    "   FROM jsonb_array_elements(t.stage_targets) WITH ORDINALITY AS e(s, n)),"
    " " DATE_TEXT("t.extended_deadline") ", t.percent::text,"
    " CASE t.status WHEN 'pending' THEN '待启动' WHEN 'in_progress' THEN '整改中'"
    "   WHEN 'completed' THEN '整改完成' WHEN 'acceptance_requested' THEN '申请验收'"
    "   WHEN 'acceptance_review' THEN '验收中' WHEN 'approved' THEN '验收通过'"
    "   WHEN 'announced' THEN '公示中' WHEN 'closed' THEN '已销号' ELSE t.status END,"
    " CASE " LEDGER_WARNING("t", "s") " WHEN 'red' THEN '红色' WHEN 'yellow' THEN '黄色'"
    "   ELSE '绿色' END,"
    " CASE WHEN " LEDGER_OVERDUE("t") " THEN '是' ELSE '否' END,"
    " CASE WHEN t.reopened THEN '是' ELSE '否' END, t.reopen_count::text,"
    " " TS_TEXT("t.last_reported_at") ", " TS_TEXT("t.updated_at")
    " FROM tasks t CROSS JOIN ledger_settings s" ORG_LABEL_MAP TASK_FILTERS
    "   AND ($14::bigint IS NULL OR (t.deadline_key, t.id) > ($13::date, $14::bigint))"
    " ORDER BY t.deadline_key, t.id LIMIT $15::int";

/* Problems in the list's default order (code, id); keyset $11 key, $12 id;
 * $13 batch size. */
static const char sql_problem_export[] =
    "SELECT t.code, t.id, t.code, t.title, t.description,"
    " CASE t.category WHEN 'macro_common' THEN '宏观共性' WHEN 'provincial_sector'"
    "   THEN '省级行业主管领域' WHEN 'local_specific' THEN '辖区具体' ELSE t.category END,"
    " CASE t.source WHEN 'report' THEN '督察报告' WHEN 'warning_film' THEN '警示片'"
    "   WHEN 'clue_transfer' THEN '移交线索' ELSE t.source END,"
    " " ORG_LABELS("t.region_org_ids") ", " ORG_LABEL("t.owner_org_id") ","
    " t.responsible_name, t.responsible_post, t.target, " DATE_TEXT("t.deadline") ","
    " CASE t.status WHEN 'pending' THEN '待启动' WHEN 'in_progress' THEN '整改中'"
    "   WHEN 'completed' THEN '整改完成' WHEN 'closed' THEN '已销号' ELSE t.status END,"
    " (SELECT count(*) FROM tasks x WHERE x.problem_id = t.id)::text,"
    " " TS_TEXT("t.updated_at")
    " FROM problems t" ORG_LABEL_MAP PROBLEM_FILTERS
    "   AND ($12::bigint IS NULL OR (t.code, t.id) > ($11::text, $12::bigint))"
    " ORDER BY t.code, t.id LIMIT $13::int";

/* --- import ---------------------------------------------------------------------- */

/* Organisations by every name a row may use: code, name, parent name +
 * name, and "id:N" (a JSON row's numeric id). n > 1: ambiguous. */
#define IO_OKEYS                                                                           \
    " okeys AS (SELECT z.k, count(DISTINCT z.id) AS n, min(z.id) AS id,"                   \
    "   string_agg(DISTINCT z.label, '、') AS names FROM ("                                 \
    "     SELECT o.id, coalesce(op.name, '') || o.name || '（' || o.code || '）' AS label,"   \
    "            unnest(ARRAY[o.code, o.name, op.name || o.name, 'id:' || o.id]) AS k"       \
    "       FROM orgs o LEFT JOIN orgs op ON op.id = o.parent_id) z"                          \
    "   WHERE z.k IS NOT NULL GROUP BY z.k)"
/* The same as one jsonb object key -> {id, n, names} (om.m), for the lists:
 * a lookup per name instead of a scan of okeys per row. */
#define IO_OKMAP                                                                           \
    " okmap AS (SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('id', id, 'n', n,"  \
    "   'names', names)), '{}') AS m FROM okeys)"
/* A list of org names: ids in order, the first unresolvable name (bad) with
 * the candidates when it is ambiguous, and whether an org repeats. */
#define IO_ORG_BAD "(om.m -> u.k IS NULL OR (om.m -> u.k ->> 'n')::int > 1)"
#define IO_ORG_LIST(col, alias)                                                            \
    " LEFT JOIN LATERAL (SELECT array_agg((om.m -> u.k ->> 'id')::bigint ORDER BY u.n) AS ids," \
    "   (array_agg(u.k ORDER BY u.n) FILTER (WHERE " IO_ORG_BAD "))[1] AS bad,"            \
    "   (array_agg(coalesce(om.m -> u.k ->> 'names', '') ORDER BY u.n)"                    \
    "      FILTER (WHERE " IO_ORG_BAD "))[1] AS amb,"                                      \
    "   count(DISTINCT om.m -> u.k ->> 'id') < count(*) AS rep"                            \
    "   FROM unnest(s." col ") WITH ORDINALITY AS u(k, n)) " alias " ON true"
#define HAS(f) "s.present @> '{" f "}'"

/* Tasks: $1 campaign, $2 rows. v = each row with the current task (c_*),
 * the new values (n_*) and the first error (err, info). */
#define TASK_RESOLVED                                                                      \
    "WITH src AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(row_no bigint,"        \
    "   present text[], code text, problem_code text, problem_id bigint, title text,"      \
    "   target text, measures text[], lead_org text, co_orgs text[], acceptance_orgs text[]," \
    "   responsible_name text, responsible_post text, deadline_kind text, deadline date,"  \
    "   stage_targets jsonb)),"                                                              \
    IO_OKEYS "," IO_OKMAP ","                                                              \
    /* The current rows and the problems, fetched by key arrays: index scans on    \
       the unique keys whatever the (after a bulk load, stale) statistics say;     \
       joined to the batch by hash. */                                             \
    " cur AS MATERIALIZED (SELECT c.* FROM tasks c WHERE c.campaign_id = $1::bigint"       \
    "   AND c.code = ANY ((SELECT array_agg(code) FROM src)::text[])),"                    \
    " prob AS MATERIALIZED (SELECT p.id, p.code FROM problems p"                           \
    "   WHERE p.campaign_id = $1::bigint"                                                  \
    "     AND (p.code = ANY ((SELECT array_agg(problem_code) FROM src)::text[])"           \
    "       OR p.id = ANY ((SELECT array_agg(problem_id) FROM src)::bigint[]))),"          \
    " r AS (SELECT s.*, c.id AS c_id, c.problem_id AS c_problem, c.title AS c_title,"      \
    "   c.target AS c_target, c.measures AS c_measures, c.owner_org_id AS c_lead,"         \
    "   c.co_org_ids AS c_co, c.acceptance_org_ids AS c_acc, c.responsible_name AS c_rname," \
    "   c.responsible_post AS c_rpost, c.deadline_kind AS c_kind, c.deadline AS c_deadline," \
    "   c.stage_targets AS c_stages, coalesce(pi.id, pr.id) AS p_id, lo.k AS lead_k,"      \
    "   lo.id AS lead_id,"                                                                 \
    "   lo.n AS lead_n, lo.names AS lead_names, co.ids AS co_ids, co.bad AS co_bad,"       \
    "   co.amb AS co_amb, co.rep AS co_rep, ac.ids AS ac_ids, ac.bad AS ac_bad,"          \
    "   ac.amb AS ac_amb, ac.rep AS ac_rep,"                                              \
    "   CASE WHEN " HAS("deadline_kind") " AND s.deadline_kind IS NOT NULL"                \
    "        THEN s.deadline_kind"                                                         \
    "        WHEN " HAS("deadline") " AND s.deadline IS NOT NULL THEN 'date'"              \
    "        ELSE coalesce(c.deadline_kind, 'date') END AS n_kind"                         \
    "   FROM src s CROSS JOIN okmap om"                                                    \
    "   LEFT JOIN cur c ON c.code = s.code"                                                \
    "   LEFT JOIN prob pr ON s.problem_id IS NULL AND pr.code = s.problem_code"            \
    "   LEFT JOIN prob pi ON pi.id = s.problem_id"                                         \
    "   LEFT JOIN okeys lo ON lo.k = s.lead_org"                                           \
    IO_ORG_LIST("co_orgs", "co") IO_ORG_LIST("acceptance_orgs", "ac") "),"                \
    " n AS (SELECT s.*,"                                                                   \
    "   CASE WHEN " HAS("problem_code") " THEN p_id ELSE c_problem END AS n_problem,"      \
    "   CASE WHEN " HAS("title") " THEN title ELSE c_title END AS n_title,"                \
    "   CASE WHEN " HAS("target") " THEN target ELSE c_target END AS n_target,"            \
    "   CASE WHEN " HAS("measures") " THEN coalesce(measures, '{}')"                       \
    "        ELSE coalesce(c_measures, '{}') END AS n_measures,"                            \
    "   CASE WHEN " HAS("lead_org") " THEN lead_id ELSE c_lead END AS n_lead,"             \
    "   CASE WHEN " HAS("co_orgs") " THEN coalesce(co_ids, '{}')"                          \
    "        ELSE coalesce(c_co, '{}') END AS n_co,"                                       \
    "   CASE WHEN " HAS("acceptance_orgs") " THEN coalesce(ac_ids, '{}')"                  \
    "        ELSE coalesce(c_acc, '{}') END AS n_acc,"                                     \
    "   CASE WHEN " HAS("responsible_name") " THEN responsible_name ELSE c_rname END AS n_rname," \
    "   CASE WHEN " HAS("responsible_post") " THEN responsible_post ELSE c_rpost END AS n_rpost," \
    "   CASE WHEN " HAS("deadline") " THEN deadline WHEN n_kind <> 'date' THEN NULL"       \
    "        ELSE c_deadline END AS n_deadline,"                                           \
    "   CASE WHEN " HAS("stage_targets") " THEN coalesce(stage_targets, '[]')"             \
    "        ELSE coalesce(c_stages, '[]') END AS n_stages"                                \
    "   FROM r s),"                                                                        \
    " v AS (SELECT s.*, CASE"                                                              \
    "   WHEN " HAS("problem_code") " AND p_id IS NULL THEN 'unknown_problem'"              \
    "   WHEN c_id IS NULL AND n_problem IS NULL THEN 'required_problem'"                   \
    "   WHEN c_id IS NOT NULL AND n_problem <> c_problem THEN 'problem_mismatch'"          \
    "   WHEN " HAS("lead_org") " AND lead_k IS NULL THEN 'unknown_lead_org'"               \
    "   WHEN " HAS("lead_org") " AND lead_n > 1 THEN 'ambiguous_lead_org'"                 \
    "   WHEN c_id IS NULL AND n_lead IS NULL THEN 'required_lead_org'"                     \
    "   WHEN " HAS("co_orgs") " AND co_bad IS NOT NULL THEN 'bad_co_orgs'"                 \
    "   WHEN " HAS("co_orgs") " AND co_rep THEN 'repeated_co_orgs'"                        \
    "   WHEN " HAS("acceptance_orgs") " AND ac_bad IS NOT NULL THEN 'bad_acceptance_orgs'" \
    "   WHEN " HAS("acceptance_orgs") " AND ac_rep THEN 'repeated_acceptance_orgs'"        \
    "   WHEN n_title IS NULL THEN 'required_title'"                                        \
    "   WHEN n_kind = 'date' AND n_deadline IS NULL THEN 'deadline_required'"              \
    "   WHEN n_kind <> 'date' AND n_deadline IS NOT NULL THEN 'deadline_forbidden'"        \
    "   END AS err,"                                                                       \
    "   CASE WHEN c_id IS NOT NULL AND n_problem <> c_problem"                             \
    "        THEN (SELECT p.code FROM problems p WHERE p.id = c_problem)"                  \
    "        WHEN " HAS("lead_org") " AND lead_n > 1 THEN lead_names"                      \
    "        WHEN " HAS("co_orgs") " AND co_bad IS NOT NULL THEN co_bad || '|' || co_amb"  \
    "        WHEN " HAS("acceptance_orgs") " AND ac_bad IS NOT NULL"                       \
    "          THEN ac_bad || '|' || ac_amb END AS info"                                   \
    "   FROM n s)"

#define TASK_COLS(x)                                                                       \
    "(" x "title, " x "target, " x "measures, " x "owner_org_id, " x "co_org_ids, "        \
    x "acceptance_org_ids, " x "responsible_name, " x "responsible_post, "                 \
    x "deadline_kind, " x "deadline, " x "stage_targets)"

/* The current and the new values of the changeable columns (rows of v). */
#define TASK_CUR                                                                           \
    "(c_title, c_target, c_measures, c_lead, c_co, c_acc, c_rname, c_rpost, c_kind,"        \
    " c_deadline, c_stages)"
#define TASK_NEW                                                                           \
    "(n_title, n_target, n_measures, n_lead, n_co, n_acc, n_rname, n_rpost, n_kind,"        \
    " n_deadline, n_stages)"

/* Rows known to be unchanged do not reach the INSERT (its BEFORE triggers
 * would run for them, conflict or not); ON CONFLICT still decides for rows
 * inserted concurrently. */
static const char sql_task_upsert[] =
    TASK_RESOLVED ","
    " ins AS (INSERT INTO tasks AS t (campaign_id, problem_id, code, title, target, measures,"
    "     owner_org_id, co_org_ids, acceptance_org_ids, responsible_name, responsible_post,"
    "     deadline_kind, deadline, stage_targets)"
    "   SELECT $1::bigint, n_problem, code, n_title, n_target, n_measures, n_lead, n_co, n_acc,"
    "          n_rname, n_rpost, n_kind, n_deadline, n_stages FROM v WHERE err IS NULL"
    "     AND (c_id IS NULL OR " TASK_CUR " IS DISTINCT FROM " TASK_NEW ")"
    "   ON CONFLICT ON CONSTRAINT tasks_code_key DO UPDATE SET title = excluded.title,"
    "     target = excluded.target, measures = excluded.measures,"
    "     owner_org_id = excluded.owner_org_id, co_org_ids = excluded.co_org_ids,"
    "     acceptance_org_ids = excluded.acceptance_org_ids,"
    "     responsible_name = excluded.responsible_name,"
    "     responsible_post = excluded.responsible_post, deadline_kind = excluded.deadline_kind,"
    "     deadline = excluded.deadline, stage_targets = excluded.stage_targets,"
    "     extended_deadline = CASE WHEN excluded.deadline_kind = 'date'"
    "                              THEN t.extended_deadline END"
    "   WHERE " TASK_COLS("t.") " IS DISTINCT FROM " TASK_COLS("excluded.")
    "   RETURNING t.code, (t.xmax = 0) AS inserted)"
    " SELECT v.row_no, v.code, CASE WHEN v.err IS NOT NULL THEN 'failed'"
    "   WHEN ins.inserted THEN 'inserted' WHEN ins.code IS NOT NULL THEN 'updated'"
    "   ELSE 'unchanged' END, v.err, v.info"
    " FROM v LEFT JOIN ins ON ins.code = v.code ORDER BY v.row_no";

static const char sql_task_check[] =
    TASK_RESOLVED
    " SELECT row_no, code, CASE WHEN err IS NOT NULL THEN 'failed'"
    "   WHEN c_id IS NULL THEN 'inserted'"
    "   WHEN " TASK_CUR " IS DISTINCT FROM " TASK_NEW " THEN 'updated'"
    "   ELSE 'unchanged' END, err, info FROM v ORDER BY row_no";

/* Problems: $1 campaign, $2 rows. */
#define PROBLEM_RESOLVED                                                                   \
    "WITH src AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(row_no bigint,"        \
    "   present text[], code text, title text, description text, category text,"          \
    "   source text, regions text[], lead_org text, responsible_name text,"                \
    "   responsible_post text, target text, deadline date)),"                               \
    IO_OKEYS "," IO_OKMAP ","                                                              \
    " cur AS MATERIALIZED (SELECT c.* FROM problems c WHERE c.campaign_id = $1::bigint"    \
    "   AND c.code = ANY ((SELECT array_agg(code) FROM src)::text[])),"                    \
    " r AS (SELECT s.*, c.id AS c_id, c.title AS c_title, c.description AS c_description," \
    "   c.category AS c_category, c.source AS c_source, c.region_org_ids AS c_regions,"    \
    "   c.owner_org_id AS c_lead, c.responsible_name AS c_rname,"                          \
    "   c.responsible_post AS c_rpost, c.target AS c_target, c.deadline AS c_deadline,"    \
    "   lo.k AS lead_k, lo.id AS lead_id, lo.n AS lead_n, lo.names AS lead_names,"        \
    "   rg.ids AS rg_ids, rg.bad AS rg_bad, rg.amb AS rg_amb, rg.rep AS rg_rep"             \
    "   FROM src s CROSS JOIN okmap om"                                                    \
    "   LEFT JOIN cur c ON c.code = s.code"                                                \
    "   LEFT JOIN okeys lo ON lo.k = s.lead_org"                                           \
    IO_ORG_LIST("regions", "rg") "),"                                                      \
    " n AS (SELECT s.*,"                                                                   \
    "   CASE WHEN " HAS("title") " THEN title ELSE c_title END AS n_title,"                \
    "   CASE WHEN " HAS("description") " THEN description ELSE c_description END"          \
    "     AS n_description,"                                                               \
    "   CASE WHEN " HAS("category") " THEN category ELSE c_category END AS n_category,"    \
    "   CASE WHEN " HAS("source") " AND source IS NOT NULL THEN source"                    \
    "        ELSE coalesce(c_source, 'report') END AS n_source,"                           \
    "   CASE WHEN " HAS("regions") " THEN coalesce(rg_ids, '{}')"                          \
    "        ELSE coalesce(c_regions, '{}') END AS n_regions,"                              \
    "   CASE WHEN " HAS("lead_org") " THEN lead_id ELSE c_lead END AS n_lead,"             \
    "   CASE WHEN " HAS("responsible_name") " THEN responsible_name ELSE c_rname END AS n_rname," \
    "   CASE WHEN " HAS("responsible_post") " THEN responsible_post ELSE c_rpost END AS n_rpost," \
    "   CASE WHEN " HAS("target") " THEN target ELSE c_target END AS n_target,"            \
    "   CASE WHEN " HAS("deadline") " THEN deadline ELSE c_deadline END AS n_deadline"     \
    "   FROM r s),"                                                                        \
    " v AS (SELECT s.*, CASE"                                                              \
    "   WHEN " HAS("lead_org") " AND lead_k IS NULL THEN 'unknown_lead_org'"               \
    "   WHEN " HAS("lead_org") " AND lead_n > 1 THEN 'ambiguous_lead_org'"                 \
    "   WHEN c_id IS NULL AND n_lead IS NULL THEN 'required_lead_org'"                     \
    "   WHEN " HAS("regions") " AND rg_bad IS NOT NULL THEN 'bad_regions'"                 \
    "   WHEN " HAS("regions") " AND rg_rep THEN 'repeated_regions'"                        \
    "   WHEN n_title IS NULL THEN 'required_title'"                                        \
    "   WHEN n_category IS NULL THEN 'required_category' END AS err,"                      \
    "   CASE WHEN " HAS("lead_org") " AND lead_n > 1 THEN lead_names"                      \
    "        WHEN " HAS("regions") " AND rg_bad IS NOT NULL THEN rg_bad || '|' || rg_amb"  \
    "        END AS info"                                                                  \
    "   FROM n s)"

#define PROBLEM_COLS(x)                                                                    \
    "(" x "title, " x "description, " x "category, " x "source, " x "region_org_ids, "     \
    x "owner_org_id, " x "responsible_name, " x "responsible_post, " x "target, "          \
    x "deadline)"

#define PROBLEM_CUR                                                                        \
    "(c_title, c_description, c_category, c_source, c_regions, c_lead, c_rname, c_rpost,"   \
    " c_target, c_deadline)"
#define PROBLEM_NEW                                                                        \
    "(n_title, n_description, n_category, n_source, n_regions, n_lead, n_rname, n_rpost,"   \
    " n_target, n_deadline)"

static const char sql_problem_upsert[] =
    PROBLEM_RESOLVED ","
    " ins AS (INSERT INTO problems AS t (campaign_id, code, title, description, category,"
    "     source, region_org_ids, owner_org_id, responsible_name, responsible_post, target,"
    "     deadline)"
    "   SELECT $1::bigint, code, n_title, n_description, n_category, n_source, n_regions,"
    "          n_lead, n_rname, n_rpost, n_target, n_deadline FROM v WHERE err IS NULL"
    "     AND (c_id IS NULL OR " PROBLEM_CUR " IS DISTINCT FROM " PROBLEM_NEW ")"
    "   ON CONFLICT ON CONSTRAINT problems_code_key DO UPDATE SET title = excluded.title,"
    "     description = excluded.description, category = excluded.category,"
    "     source = excluded.source, region_org_ids = excluded.region_org_ids,"
    "     owner_org_id = excluded.owner_org_id, responsible_name = excluded.responsible_name,"
    "     responsible_post = excluded.responsible_post, target = excluded.target,"
    "     deadline = excluded.deadline"
    "   WHERE " PROBLEM_COLS("t.") " IS DISTINCT FROM " PROBLEM_COLS("excluded.")
    "   RETURNING t.code, (t.xmax = 0) AS inserted)"
    " SELECT v.row_no, v.code, CASE WHEN v.err IS NOT NULL THEN 'failed'"
    "   WHEN ins.inserted THEN 'inserted' WHEN ins.code IS NOT NULL THEN 'updated'"
    "   ELSE 'unchanged' END, v.err, v.info"
    " FROM v LEFT JOIN ins ON ins.code = v.code ORDER BY v.row_no";

static const char sql_problem_check[] =
    PROBLEM_RESOLVED
    " SELECT row_no, code, CASE WHEN err IS NOT NULL THEN 'failed'"
    "   WHEN c_id IS NULL THEN 'inserted'"
    "   WHEN " PROBLEM_CUR " IS DISTINCT FROM " PROBLEM_NEW " THEN 'updated'"
    "   ELSE 'unchanged' END, err, info FROM v ORDER BY row_no";

/* ================================================================ exports */

static const struct export_column task_cols[] = {
    {"编号", EXPORT_TEXT, 12},
    {"问题编号", EXPORT_TEXT, 10},
    {"任务名称", EXPORT_TEXT, 36},
    {"整改目标", EXPORT_TEXT, 40},
    {"具体措施", EXPORT_TEXT, 60},
    {"牵头单位", EXPORT_TEXT, 18},
    {"配合单位", EXPORT_TEXT, 28},
    {"验收单位", EXPORT_TEXT, 18},
    {"责任人", EXPORT_TEXT, 10},
    {"职务", EXPORT_TEXT, 14},
    {"完成时限类型", EXPORT_TEXT, 18},
    {"完成时限", EXPORT_DATE, 12},
    {"阶段性目标", EXPORT_TEXT, 36},
    {"延期后时限", EXPORT_DATE, 12},
    {"进度(%)", EXPORT_INT, 8},
    {"状态", EXPORT_TEXT, 10},
    {"预警等级", EXPORT_TEXT, 9},
    {"是否逾期", EXPORT_TEXT, 9},
    {"是否重新整改", EXPORT_TEXT, 12},
    {"重新整改次数", EXPORT_INT, 12},
    {"最近报送时间", EXPORT_DATETIME, 18},
    {"更新时间", EXPORT_DATETIME, 18},
};

static const struct export_column problem_cols[] = {
    {"编号", EXPORT_TEXT, 10},
    {"问题名称", EXPORT_TEXT, 36},
    {"问题描述", EXPORT_TEXT, 60},
    {"问题类别", EXPORT_TEXT, 16},
    {"问题来源", EXPORT_TEXT, 10},
    {"涉及地区", EXPORT_TEXT, 24},
    {"牵头单位", EXPORT_TEXT, 18},
    {"责任人", EXPORT_TEXT, 10},
    {"职务", EXPORT_TEXT, 14},
    {"整改目标", EXPORT_TEXT, 40},
    {"完成时限", EXPORT_DATE, 12},
    {"状态", EXPORT_TEXT, 10},
    {"任务数", EXPORT_INT, 8},
    {"更新时间", EXPORT_DATETIME, 18},
};

static const char *const categories[] = {"macro_common", "provincial_sector", "local_specific",
                                         NULL};
static const char *const sources[] = {"report", "warning_film", "clue_transfer", NULL};
static const char *const task_statuses[] = {"pending", "in_progress", "completed",
                                            "acceptance_requested", "acceptance_review",
                                            "approved", "announced", "closed", NULL};
static const char *const problem_statuses[] = {"pending", "in_progress", "completed", "closed",
                                               NULL};
static const char *const levels[] = {"red", "yellow", "green", NULL};

static const char *today_suffix(struct req *r)
{
    time_t now = time(NULL) + 8 * 3600; /* Asia/Shanghai has no DST */
    struct tm tm;
    gmtime_r(&now, &tm);
    return arena_printf(r->arena, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The list's filters (tasks.c list_tasks), same names and checks. */
static void export_tasks(struct req *r)
{
    enum export_format fmt;
    struct lerrs l = {.arena = r->arena};
    const char *p[15] = {0};
    p[0] = lq_id(r, &l, "campaign");
    p[1] = lq_id(r, &l, "problem");
    p[2] = lq_enum(r, &l, "category", categories);
    p[3] = lq_enum_list(r, &l, "status", task_statuses);
    p[4] = lq_id(r, &l, "lead_org");
    p[5] = lq_official(r, &l);
    p[6] = lq_bool(r, &l, "overdue");
    p[7] = lq_date(r, &l, "due_before");
    p[8] = lq_date(r, &l, "due_after");
    p[9] = lq_enum(r, &l, "warning", levels);
    p[10] = lq_bool(r, &l, "reopened");
    p[11] = lq_like(r, &l, "q");
    if (!lq_ok_or_reply(r, &l) || !export_format_or_reply(r, &fmt))
        return;
    struct export_spec spec = {
        .sql = sql_task_export, .params = p, .nparams = 15, .cols = task_cols,
        .ncols = N(task_cols), .sheet = "整改任务台账",
        .filename = arena_printf(r->arena, "整改任务台账-%s", today_suffix(r)),
        .ascii_filename = arena_printf(r->arena, "tasks-%s", today_suffix(r)),
    };
    export_run(r, fmt, &spec);
}

static void export_problems(struct req *r)
{
    enum export_format fmt;
    struct lerrs l = {.arena = r->arena};
    const char *p[13] = {0};
    p[0] = lq_id(r, &l, "campaign");
    p[1] = lq_enum(r, &l, "category", categories);
    p[2] = lq_enum(r, &l, "source", sources);
    p[3] = lq_enum_list(r, &l, "status", problem_statuses);
    p[4] = lq_id(r, &l, "lead_org");
    p[5] = lq_official(r, &l);
    p[6] = lq_date(r, &l, "due_before");
    p[7] = lq_date(r, &l, "due_after");
    p[8] = lq_like(r, &l, "q");
    p[9] = lq_id(r, &l, "region");
    if (!lq_ok_or_reply(r, &l) || !export_format_or_reply(r, &fmt))
        return;
    struct export_spec spec = {
        .sql = sql_problem_export, .params = p, .nparams = 13, .cols = problem_cols,
        .ncols = N(problem_cols), .sheet = "反馈问题清单",
        .filename = arena_printf(r->arena, "反馈问题清单-%s", today_suffix(r)),
        .ascii_filename = arena_printf(r->arena, "problems-%s", today_suffix(r)),
    };
    export_run(r, fmt, &spec);
}

/* ================================================================ imports */

#define BATCH_ROWS 1000
#define MAX_ROW_ERRORS 8
#define MAX_FAILED 1000 /* failed rows listed in the answer; the counts stay complete */
#define MAX_ROWS 1000000

struct word {
    const char *in, *out;
};

enum ctype {
    C_CODE,    /* text, 1..max, no line breaks: the natural key */
    C_TEXT,    /* text up to max characters; empty = null */
    C_LINES,   /* list of texts: CSV one per line; JSON array of strings */
    C_ORG,     /* one org: code, name, parent+name; JSON also an id or {"code"/"id"} */
    C_ORGS,    /* list of orgs: CSV separated by 、，,；; or lines; JSON array */
    C_DATE,    /* YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日 */
    C_ENUM,    /* one of vocab (Chinese or API name) */
    C_STAGES,  /* stage targets: CSV lines "YYYY-MM-DD target"; JSON [{target, due}] */
    C_PROBLEM, /* the problem's code (JSON also problem_id) */
};

struct icol {
    const char *key;   /* JSON name, and the member in the normalised row */
    const char *zh;    /* CSV header (as exported) */
    enum ctype type;
    unsigned max;      /* characters (texts) or items (lists) */
    bool not_null;     /* a given value must not be empty */
    const struct word *vocab;
    const char *alt;   /* JSON name carrying ids instead (lead_org_id, …) */
};

static const struct word kinds[] = {
    {"date", "date"}, {"限期完成", "date"}, {"按期完成", "date"},
    {"immediate_then_ongoing", "immediate_then_ongoing"},
    {"立行立改、长期坚持", "immediate_then_ongoing"}, {"立行立改，长期坚持", "immediate_then_ongoing"},
    {"立行立改,长期坚持", "immediate_then_ongoing"}, {"立行立改", "immediate_then_ongoing"},
    {"ongoing", "ongoing"}, {"长期坚持", "ongoing"}, {NULL, NULL},
};
static const struct word category_words[] = {
    {"macro_common", "macro_common"}, {"宏观共性", "macro_common"},
    {"宏观共性问题", "macro_common"}, {"provincial_sector", "provincial_sector"},
    {"省级行业主管领域", "provincial_sector"}, {"省级行业主管领域问题", "provincial_sector"},
    {"local_specific", "local_specific"}, {"辖区具体", "local_specific"},
    {"辖区具体问题", "local_specific"}, {NULL, NULL},
};
static const struct word source_words[] = {
    {"report", "report"}, {"督察报告", "report"}, {"反馈报告", "report"},
    {"warning_film", "warning_film"}, {"警示片", "warning_film"},
    {"clue_transfer", "clue_transfer"}, {"移交线索", "clue_transfer"},
    {"问题线索", "clue_transfer"}, {NULL, NULL},
};

static const struct icol task_icols[] = {
    {"code", "编号", C_CODE, 32, true, NULL, NULL},
    {"problem_code", "问题编号", C_PROBLEM, 32, true, NULL, "problem_id"},
    {"title", "任务名称", C_TEXT, 500, true, NULL, NULL},
    {"target", "整改目标", C_TEXT, 5000, false, NULL, NULL},
    {"measures", "具体措施", C_LINES, 50, false, NULL, NULL},
    {"lead_org", "牵头单位", C_ORG, 0, true, NULL, "lead_org_id"},
    {"co_orgs", "配合单位", C_ORGS, 100, false, NULL, "co_org_ids"},
    {"acceptance_orgs", "验收单位", C_ORGS, 20, false, NULL, "acceptance_org_ids"},
    {"responsible_name", "责任人", C_TEXT, 100, false, NULL, NULL},
    {"responsible_post", "职务", C_TEXT, 200, false, NULL, NULL},
    {"deadline_kind", "完成时限类型", C_ENUM, 0, false, kinds, NULL},
    {"deadline", "完成时限", C_DATE, 0, false, NULL, NULL},
    {"stage_targets", "阶段性目标", C_STAGES, 20, false, NULL, NULL},
};
/* Export-only columns and read-only API members: accepted, ignored. */
static const char *const task_ignored[] = {
    "序号", "延期后时限", "进度(%)", "状态", "预警等级", "是否逾期", "是否重新整改",
    "重新整改次数", "最近报送时间", "更新时间", "备注",
    "id", "campaign_id", "extended_deadline", "effective_deadline", "percent", "status",
    "warning", "overdue", "reopened", "reopen_count", "started_at", "completed_at",
    "last_reported_at", "version", "created_at", "updated_at", "problem", "transitions",
    NULL};

static const struct icol problem_icols[] = {
    {"code", "编号", C_CODE, 32, true, NULL, NULL},
    {"title", "问题名称", C_TEXT, 500, true, NULL, NULL},
    {"description", "问题描述", C_TEXT, 20000, false, NULL, NULL},
    {"category", "问题类别", C_ENUM, 0, true, category_words, NULL},
    {"source", "问题来源", C_ENUM, 0, false, source_words, NULL},
    {"regions", "涉及地区", C_ORGS, 200, false, NULL, "region_org_ids"},
    {"lead_org", "牵头单位", C_ORG, 0, true, NULL, "lead_org_id"},
    {"responsible_name", "责任人", C_TEXT, 100, false, NULL, NULL},
    {"responsible_post", "职务", C_TEXT, 200, false, NULL, NULL},
    {"target", "整改目标", C_TEXT, 5000, false, NULL, NULL},
    {"deadline", "完成时限", C_DATE, 0, false, NULL, NULL},
};
static const char *const problem_ignored[] = {
    "序号", "状态", "任务数", "更新时间", "备注",
    "id", "campaign_id", "status", "version", "created_at", "updated_at", "tasks_summary",
    NULL};

struct kind {
    const char *noun;        /* "task" */
    const struct icol *cols;
    size_t ncols;
    const char *const *ignored;
    const char *sql_upsert, *sql_check;
};

static const struct kind task_kind = {"task", task_icols, N(task_icols), task_ignored,
                                      sql_task_upsert, sql_task_check};
static const struct kind problem_kind = {"problem", problem_icols, N(problem_icols),
                                         problem_ignored, sql_problem_upsert, sql_problem_check};

#define MAX_COLS 16
#define MAX_LIST_ITEMS 201 /* > the largest icol.max of a list */


struct rerr {
    const char *pointer, *column, *message;
};


struct import {
    struct req *r;
    const struct kind *k;
    enum import_format fmt;
    bool dry_run;
    const char *campaign;

    /* CSV header: column of each field (-1 ignored) */
    bool have_header;
    int *colmap;
    size_t ncols;
    bool file_has[MAX_COLS];

    /* normalised rows: batches of BATCH_ROWS as JSON array texts */
    struct buf cur;
    size_t cur_rows;
    char **batches;
    size_t nbatches, cap_batches;
    unsigned long long *lines; /* physical line of each row (index row-1) */
    size_t cap_lines;

    struct seen seen;
    long long rows, inserted, updated, unchanged, failed;
    struct buf failures; /* JSON array members */
    size_t nfailures;
    bool truncated;

    /* a file-level error (answered at the end) */
    bool stopped;
    int status;
    const char *code;
    char detail[400];
    unsigned long long line, column;
    const char *extra; /* more members for the problem (JSON, without braces) */

    /* memory of the row being read, freed after it (row_done) */
    struct arena *ra;

    /* NDJSON line assembly */
    struct buf line_buf;
    unsigned long long line_no;
    long long bytes;
};

/* --- small helpers ----------------------------------------------------------------- */



/* A row's values live in an arena of their own, freed once the row is
 * normalised: the request's arena would keep every cell of a 20 MiB file. */
static struct arena *row_arena(struct import *im)
{
    if (!im->ra)
        im->ra = arena_new();
    return im->ra ? im->ra : im->r->arena;
}

static void oom(struct import *im);

static void row_done(struct import *im)
{
    if (im->ra && arena_failed(im->ra))
        oom(im); /* the row's checks may have read a NULL as "absent" */
    if (im->ra) {
        arena_free(im->ra);
        im->ra = NULL;
    }
}

static void import_free(void *p)
{
    struct import *im = p;
    row_done(im);
    seen_free(&im->seen);
    for (size_t i = 0; i < im->nbatches; i++)
        free(im->batches[i]);
    free(im->batches);
    free(im->lines);
    free(im->colmap);
    buf_free(&im->cur);
    buf_free(&im->failures);
    buf_free(&im->line_buf);
}

static void stop(struct import *im, int status, const char *code, unsigned long long line,
                 unsigned long long column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void stop(struct import *im, int status, const char *code, unsigned long long line,
                 unsigned long long column, const char *fmt, ...)
{
    if (im->stopped)
        return;
    im->stopped = true;
    im->status = status;
    im->code = code;
    im->line = line;
    im->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->detail, sizeof im->detail, fmt, ap);
    va_end(ap);
    if (status < 500 && im->ra && arena_failed(im->ra)) { /* a NULL read as "absent" */
        im->status = 503;
        im->code = "service_unavailable";
        im->line = im->column = 0;
        snprintf(im->detail, sizeof im->detail, "Out of memory.");
    }
}

static void oom(struct import *im) { stop(im, 503, "service_unavailable", 0, 0, "Out of memory."); }


static size_t chars_of(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}



static const char *lookup(const struct word *w, const char *s)
{
    for (; w && w->in; w++)
        if (strcmp(w->in, s) == 0)
            return w->out;
    return NULL;
}

static const char *vocab_message(struct arena *a, const struct word *w)
{
    struct buf b;
    buf_init(&b, 2048);
    int rc = buf_puts(&b, "must be one of: ");
    for (const struct word *p = w; p->in; p++)
        rc |= buf_printf(&b, "%s%s", p == w ? "" : ", ", p->in);
    char *out = arena_strdup(a, !rc && b.data ? b.data : "has an unknown value");
    buf_free(&b);
    return out;
}

/* --- one row ------------------------------------------------------------------------ */

/* A row's values before normalisation: for each column either text (CSV
 * cell, JSON string/number) or a JSON value; present when the file has the
 * column (the object has the member). */
struct cell {
    bool present;
    const char *text;       /* trimmed; NULL = empty */
    const cJSON *json;      /* JSON rows: the member (arrays, objects, ids) */
    bool is_id;             /* the alternative id member was used */
};

struct rowctx {
    struct import *im;
    long long row_no;
    unsigned long long line;
    struct rerr e[MAX_ROW_ERRORS];
    size_t ne;
    struct buf *out;
    int oom; /* an append to out failed */
};

static void rerr(struct rowctx *x, const struct icol *c, const char *message)
{
    if (x->ne < MAX_ROW_ERRORS)
        x->e[x->ne++] = (struct rerr){
            arena_printf(row_arena(x->im), "/%s", c ? c->key : ""), c ? c->zh : NULL, message};
}

/* Splits s at any of seps (and line breaks); trimmed non-empty parts. */
static size_t split(struct arena *a, const char *s, const char *const *seps, char **parts,
                    size_t max, bool *too_many)
{
    size_t n = 0;
    char *copy = arena_strdup(a, s);
    *too_many = false;
    while (copy && *copy) {
        char *cut = NULL;
        size_t cutlen = 0;
        for (const char *const *sp = seps; *sp; sp++) {
            char *at = strstr(copy, *sp);
            if (at && (!cut || at < cut)) {
                cut = at;
                cutlen = strlen(*sp);
            }
        }
        if (cut)
            *cut = '\0';
        char *t = import_trimmed(a, copy, strlen(copy));
        if (t) {
            if (n == max)
                *too_many = true;
            else
                parts[n++] = t;
        }
        copy = cut ? cut + cutlen : NULL;
    }
    return n;
}

static const char *const line_seps[] = {"\r\n", "\n", "\r", NULL};
static const char *const org_seps[] = {"、", "，", "；", ",", ";", "\r\n", "\n", "\r", NULL};

/* A text value of a list item or a single org from JSON. */
static const char *json_org_key(struct arena *a, const cJSON *v)
{
    if (cJSON_IsString(v))
        return import_trimmed(a, v->valuestring, strlen(v->valuestring));
    if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= (double)LEDGER_ID_MAX &&
        v->valuedouble == floor(v->valuedouble))
        return arena_printf(a, "id:%.0f", v->valuedouble);
    if (cJSON_IsObject(v)) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(v, "code");
        if (cJSON_IsString(code))
            return import_trimmed(a, code->valuestring, strlen(code->valuestring));
        return json_org_key(a, cJSON_GetObjectItemCaseSensitive(v, "id"));
    }
    return NULL;
}

static int put_str(struct buf *b, const char *key, const char *v)
{
    return buf_printf(b, ",\"%s\":", key) | buf_json_string(b, v);
}

/* Normalises one column's value into x->out; errors into x. */
static void norm(struct rowctx *x, const struct icol *c, const struct cell *v)
{
    struct arena *a = row_arena(x->im);
    struct buf *b = x->out;
    const char *t = v->text;
    size_t nc;
    if (t && !utf8_valid(t, strlen(t), &nc)) {
        rerr(x, c, "is not valid UTF-8 text");
        return;
    }
    switch (c->type) {
    case C_CODE:
    case C_TEXT:
    case C_PROBLEM:
        if (v->is_id) { /* problem_id */
            const char *id = v->json && cJSON_IsNumber(v->json) ? json_org_key(a, v->json) : NULL;
            if (!id) {
                rerr(x, c, "problem_id must be a positive integer id");
                return;
            }
            x->oom |= buf_printf(b, ",\"problem_id\":%s", id + 3);
            return;
        }
        if (v->json && !cJSON_IsString(v->json) && !cJSON_IsNull(v->json) &&
            !(c->type != C_TEXT && cJSON_IsNumber(v->json))) {
            rerr(x, c, "must be a string");
            return;
        }
        if (!t) {
            if (c->not_null)
                rerr(x, c, "is required");
            else
                x->oom |= put_str(b, c->key, NULL);
            return;
        }
        if (chars_of(t) > c->max) {
            rerr(x, c, arena_printf(a, "must be at most %u characters", c->max));
            return;
        }
        if (c->type != C_TEXT && strpbrk(t, "\t\r\n")) {
            rerr(x, c, "must not contain tabs or line breaks");
            return;
        }
        x->oom |= put_str(b, c->key, t);
        return;
    case C_ENUM: {
        if (v->json && !cJSON_IsString(v->json) && !cJSON_IsNull(v->json)) {
            rerr(x, c, "must be a string");
            return;
        }
        const char *w = t ? lookup(c->vocab, t) : NULL;
        if (t && !w) {
            rerr(x, c, vocab_message(a, c->vocab));
            return;
        }
        if (!w && c->not_null && v->present) {
            rerr(x, c, "is required");
            return;
        }
        x->oom |= put_str(b, c->key, w);
        return;
    }
    case C_DATE: {
        if (v->json && !cJSON_IsString(v->json) && !cJSON_IsNull(v->json)) {
            rerr(x, c, "must be a date string");
            return;
        }
        char d[11];
        const char *rest;
        if (t && !(import_parse_date(t, d, &rest) && *rest == '\0')) {
            rerr(x, c, "must be a date such as 2025-06-30 (or 2025/6/30, 2025年6月30日)");
            return;
        }
        x->oom |= put_str(b, c->key, t ? d : NULL);
        return;
    }
    case C_ORG: {
        const char *key = v->json ? json_org_key(a, v->json) : t;
        if (v->json && !key && !cJSON_IsNull(v->json)) {
            rerr(x, c, v->is_id ? "must be a positive integer id"
                                : "must be an organisation code or name");
            return;
        }
        if (!key) {
            if (c->not_null)
                rerr(x, c, "is required");
            else
                x->oom |= put_str(b, c->key, NULL);
            return;
        }
        x->oom |= put_str(b, c->key, key);
        return;
    }
    case C_LINES:
    case C_ORGS: {
        char *parts[MAX_LIST_ITEMS]; /* not the arena: it lives as long as the request */
        size_t n = 0;
        bool too_many = false;
        if (v->json && cJSON_IsArray(v->json)) {
            for (const cJSON *it = v->json->child; it; it = it->next) {
                const char *s = c->type == C_ORGS ? json_org_key(a, it)
                                : cJSON_IsString(it) ? import_trimmed(a, it->valuestring,
                                                               strlen(it->valuestring))
                                                     : NULL;
                if (!s) {
                    rerr(x, c, c->type == C_ORGS ? "items must be organisation codes, names or ids"
                                                 : "items must be non-blank strings");
                    return;
                }
                if (n == c->max) {
                    too_many = true;
                    break;
                }
                parts[n++] = (char *)s;
            }
        } else if (v->json && !cJSON_IsNull(v->json) && !cJSON_IsString(v->json)) {
            rerr(x, c, "must be an array");
            return;
        } else if (t) {
            n = split(a, t, c->type == C_ORGS ? org_seps : line_seps, parts, c->max, &too_many);
        }
        if (too_many) {
            rerr(x, c, arena_printf(a, "must have at most %u items", c->max));
            return;
        }
        x->oom |= buf_printf(b, ",\"%s\":[", c->key);
        for (size_t i = 0; i < n; i++) {
            size_t len = chars_of(parts[i]);
            if (c->type == C_LINES && len > 2000) {
                rerr(x, c, arena_printf(a, "item %zu is longer than 2000 characters", i + 1));
                return;
            }
            if (i)
                x->oom |= buf_puts(b, ",");
            x->oom |= buf_json_string(b, parts[i]);
        }
        x->oom |= buf_puts(b, "]");
        return;
    }
    case C_STAGES: {
        x->oom |= buf_printf(b, ",\"%s\":[", c->key);
        size_t n = 0;
        if (v->json && cJSON_IsArray(v->json)) {
            for (const cJSON *it = v->json->child; it; it = it->next, n++) {
                const char *tg = ledger_json_string(it, "target");
                const char *due = ledger_json_string(it, "due");
                char *tt = tg ? import_trimmed(a, tg, strlen(tg)) : NULL;
                if (!cJSON_IsObject(it) || !tt || !due || !ledger_date_ok(due) ||
                    cJSON_GetArraySize(it) != 2 || chars_of(tt) > 500) {
                    rerr(x, c, "items must be {\"target\": text (1..500), \"due\": YYYY-MM-DD}");
                    return;
                }
                if (n == c->max) {
                    rerr(x, c, arena_printf(a, "must have at most %u items", c->max));
                    return;
                }
                x->oom |= buf_puts(b, n ? ",{\"target\":" : "{\"target\":");
                x->oom |= buf_json_string(b, tt);
                x->oom |= buf_printf(b, ",\"due\":\"%s\"}", due);
            }
        } else if (v->json && !cJSON_IsNull(v->json) && !cJSON_IsString(v->json)) {
            rerr(x, c, "must be an array");
            return;
        } else if (t) {
            char *parts[MAX_LIST_ITEMS];
            bool too_many = false;
            size_t np = split(a, t, line_seps, parts, c->max, &too_many);
            if (too_many) {
                rerr(x, c, arena_printf(a, "must have at most %u items", c->max));
                return;
            }
            for (size_t i = 0; i < np; i++) {
                char d[11];
                const char *rest;
                if (!import_parse_date(parts[i], d, &rest)) {
                    rerr(x, c, "each line must be a date and a target, e.g. 2025-06-30 完成验收");
                    return;
                }
                while (*rest == ' ' || *rest == '\t' || *rest == ':' || strncmp(rest, "：", 3) == 0)
                    rest += strncmp(rest, "：", 3) == 0 ? 3 : 1;
                char *tt = import_trimmed(a, rest, strlen(rest));
                if (!tt || chars_of(tt) > 500) {
                    rerr(x, c, "each line must be a date and a target, e.g. 2025-06-30 完成验收");
                    return;
                }
                x->oom |= buf_puts(b, n++ ? ",{\"target\":" : "{\"target\":");
                x->oom |= buf_json_string(b, tt);
                x->oom |= buf_printf(b, ",\"due\":\"%s\"}", d);
            }
        }
        x->oom |= buf_puts(b, "]");
        return;
    }
    }
}

static void add_failure(struct import *im, long long row, unsigned long long line,
                        const char *code, const struct rerr *e, size_t ne)
{
    im->failed++;
    if (im->nfailures >= MAX_FAILED) {
        im->truncated = true;
        return;
    }
    struct buf *b = &im->failures;
    int rc = buf_puts(b, im->nfailures++ ? ",{" : "{");
    rc |= buf_printf(b, "\"row\":%lld", row);
    if (line)
        rc |= buf_printf(b, ",\"line\":%llu", line);
    rc |= buf_puts(b, ",\"code\":");
    rc |= buf_json_string(b, code);
    rc |= buf_puts(b, ",\"errors\":[");
    for (size_t i = 0; i < ne; i++) {
        rc |= buf_puts(b, i ? ",{\"pointer\":" : "{\"pointer\":");
        rc |= buf_json_string(b, e[i].pointer);
        if (e[i].column && im->fmt == IMPORT_CSV) {
            rc |= buf_puts(b, ",\"column\":");
            rc |= buf_json_string(b, e[i].column);
        }
        rc |= buf_puts(b, ",\"message\":");
        rc |= buf_json_string(b, e[i].message);
        rc |= buf_puts(b, "}");
    }
    rc |= buf_puts(b, "]}");
    if (rc)
        oom(im);
}

static void end_batch(struct import *im)
{
    if (!im->cur_rows)
        return;
    if (buf_puts(&im->cur, "]") || !im->cur.data) {
        oom(im);
        return;
    }
    if (im->nbatches == im->cap_batches) {
        size_t cap = im->cap_batches ? im->cap_batches * 2 : 16;
        char **p = realloc(im->batches, cap * sizeof *p);
        if (!p) {
            oom(im);
            return;
        }
        im->batches = p;
        im->cap_batches = cap;
    }
    im->batches[im->nbatches++] = buf_detach(&im->cur);
    buf_init(&im->cur, 0);
    im->cur_rows = 0;
}

/* Checks and normalises a row (cells indexed like the kind's columns). */
static void take_row(struct import *im, struct cell *cells, unsigned long long line,
                     const struct rerr *pre, size_t npre)
{
    struct arena *a = row_arena(im);
    const struct kind *k = im->k;
    long long row_no = ++im->rows;
    if (im->rows > MAX_ROWS) {
        stop(im, 413, "payload_too_large", line, 0, "An import holds at most %d rows.", MAX_ROWS);
        return;
    }
    if ((size_t)row_no > im->cap_lines) {
        size_t cap = im->cap_lines ? im->cap_lines * 2 : 1024;
        unsigned long long *p = realloc(im->lines, cap * sizeof *p);
        if (!p) {
            oom(im);
            return;
        }
        im->lines = p;
        im->cap_lines = cap;
    }
    im->lines[row_no - 1] = line;

    struct buf row;
    buf_init(&row, 0);
    struct rowctx x = {.im = im, .row_no = row_no, .line = line, .out = &row};
    for (size_t i = 0; i < npre && x.ne < MAX_ROW_ERRORS; i++)
        x.e[x.ne++] = pre[i];

    /* The task plan's habit: 完成时限 "立行立改、长期坚持" instead of a date. */
    if (k == &task_kind) {
        struct cell *kind = &cells[10], *dl = &cells[11];
        const char *w = dl->text ? lookup(kinds, dl->text) : NULL;
        const char *kw = kind->text ? lookup(kinds, kind->text) : NULL;
        if (w && (!kind->text || (kw && strcmp(kw, w) == 0))) {
            kind->present = true;
            kind->text = w;
            kind->json = NULL;
            dl->text = NULL;
            dl->json = NULL;
        }
    }
    x.oom |= buf_printf(&row, "{\"row_no\":%lld,\"present\":[", row_no);
    bool first = true;
    for (size_t c = 0; c < k->ncols; c++)
        if (cells[c].present) {
            x.oom |= buf_printf(&row, "%s\"%s\"", first ? "" : ",", k->cols[c].key);
            first = false;
        }
    x.oom |= buf_puts(&row, "]");
    const char *code = cells[0].text;
    if (!cells[0].present) {
        rerr(&x, &k->cols[0], "is required");
        code = NULL;
    }
    for (size_t c = 0; c < k->ncols; c++)
        if (cells[c].present)
            norm(&x, &k->cols[c], &cells[c]);
    if (x.ne == 0 && code) {
        long long firstrow = seen_put(&im->seen, code, row_no);
        if (firstrow < 0) {
            buf_free(&row);
            oom(im);
            return;
        }
        if (firstrow > 0)
            rerr(&x, &k->cols[0], arena_printf(a, "repeats the code of row %lld", firstrow));
    }
    if (x.ne) {
        add_failure(im, row_no, line, code && utf8_valid(code, strlen(code), NULL) ? code : NULL,
                    x.e, x.ne);
        buf_free(&row);
        return;
    }
    if (x.oom || buf_puts(&row, "}") || !row.data || buf_puts(&im->cur, im->cur_rows ? "," : "[") ||
        buf_append(&im->cur, row.data, row.len)) {
        buf_free(&row);
        oom(im);
        return;
    }
    buf_free(&row);
    if (++im->cur_rows == BATCH_ROWS)
        end_batch(im);
}

/* --- CSV ----------------------------------------------------------------------------- */

static int column_by_name(const struct kind *k, const char *name, bool english)
{
    for (size_t c = 0; c < k->ncols; c++)
        if (strcmp(name, k->cols[c].zh) == 0 || (english && strcmp(name, k->cols[c].key) == 0))
            return (int)c;
    for (const char *const *p = k->ignored; *p; p++)
        if (strcmp(name, *p) == 0)
            return -1;
    return -2;
}

static int on_csv_record(void *ctx, const struct csv_record *rec)
{
    struct import *im = ctx;
    struct arena *a = im->r->arena;
    const struct kind *k = im->k;
    if (!im->have_header) {
        im->have_header = true;
        im->ncols = rec->nfields;
        im->colmap = calloc(rec->nfields, sizeof *im->colmap);
        if (!im->colmap) {
            oom(im);
            return 1;
        }
        struct buf unknown, list;
        buf_init(&unknown, 4096);
        buf_init(&list, 4096);
        int rc = 0;
        for (size_t i = 0; i < rec->nfields; i++) {
            char *name = import_trimmed(a, rec->fields[i], rec->lens[i]);
            int c = name ? column_by_name(k, name, true) : -2;
            if (c == -2) {
                rc |= buf_printf(&unknown, "%s\"%s\"", unknown.len ? ", " : "", name ? name : "");
                rc |= buf_puts(&list, list.len ? "," : "");
                rc |= buf_json_string(&list, name ? name : "");
            } else if (c >= 0 && im->file_has[c]) {
                buf_free(&unknown);
                buf_free(&list);
                stop(im, 400, "duplicate_column", rec->line, 0,
                     "The column %s appears twice in the header.", k->cols[c].zh);
                return 1;
            } else if (c >= 0) {
                im->file_has[c] = true;
            }
            im->colmap[i] = c;
        }
        if (rc) { /* 4 KiB of unknown names, or out of memory */
            stop(im, 400, "unknown_column", rec->line, 0,
                 "The header names too many columns that a %s import does not know.", k->noun);
        } else if (unknown.len) {
            stop(im, 400, "unknown_column", rec->line, 0,
                 "The header names columns that a %s import does not know: %s.", k->noun,
                 unknown.data);
            im->extra = arena_printf(a, "\"columns\":[%s]", list.data ? list.data : "");
        } else if (!im->file_has[0]) {
            stop(im, 400, "missing_column", rec->line, 0, "The header has no column %s (%s).",
                 k->cols[0].zh, k->cols[0].key);
        }
        buf_free(&unknown);
        buf_free(&list);
        return im->stopped;
    }
    a = row_arena(im);
    struct cell cells[MAX_COLS];
    memset(cells, 0, sizeof cells);
    struct rerr pre[1];
    size_t npre = 0;
    bool any = false;
    for (size_t i = 0; i < rec->nfields; i++) {
        if (i >= im->ncols) {
            if (rec->lens[i] && !npre)
                pre[npre++] = (struct rerr){"", NULL, "the row has more fields than the header"};
            continue;
        }
        int c = im->colmap[i];
        if (c < 0)
            continue;
        char *t = import_trimmed(a, rec->fields[i], rec->lens[i]);
        /* undo the export's formula neutralisation ('=…, '+…, '-…, '@…) */
        if (t && t[0] == '\'' && t[1] && strchr("=+-@", t[1]))
            t++;
        cells[c].text = t;
        any = any || t;
    }
    for (size_t c = 0; c < k->ncols; c++)
        cells[c].present = im->file_has[c];
    if (any || npre)
        take_row(im, cells, rec->line, pre, npre);
    /* else: a row of empty cells (spreadsheets leave them) */
    row_done(im);
    return im->stopped;
}

/* --- JSON rows ------------------------------------------------------------------------ */

static void json_row_cells(struct import *im, const cJSON *obj, unsigned long long line);

static void json_row(struct import *im, const cJSON *obj, unsigned long long line)
{
    json_row_cells(im, obj, line);
    row_done(im);
}

static void json_row_cells(struct import *im, const cJSON *obj, unsigned long long line)
{
    struct arena *a = row_arena(im);
    const struct kind *k = im->k;
    struct cell cells[MAX_COLS];
    memset(cells, 0, sizeof cells);
    struct rerr pre[MAX_ROW_ERRORS];
    size_t npre = 0;
    if (!cJSON_IsObject(obj)) {
        pre[npre++] = (struct rerr){"", NULL, "must be a JSON object"};
        take_row(im, cells, line, pre, npre);
        return;
    }
    for (const cJSON *m = obj->child; m; m = m->next) {
        int c = -2;
        bool alt = false;
        for (size_t i = 0; i < k->ncols && c == -2; i++) {
            if (strcmp(m->string, k->cols[i].key) == 0)
                c = (int)i;
            else if (k->cols[i].alt && strcmp(m->string, k->cols[i].alt) == 0)
                c = (int)i, alt = true;
        }
        if (c == -2)
            for (const char *const *p = k->ignored; *p; p++)
                if (strcmp(m->string, *p) == 0)
                    c = -1;
        if (c == -1)
            continue;
        if (c == -2 || cells[c].present) {
            if (npre < MAX_ROW_ERRORS)
                pre[npre++] = (struct rerr){
                    arena_printf(a, "/%s", m->string), NULL,
                    c == -2 ? arena_printf(a, "is not a field of a %s import row", k->noun)
                            : "repeats a field given under another name"};
            continue;
        }
        struct cell *v = &cells[c];
        v->present = true;
        v->json = m; /* norm() checks the JSON type */
        v->is_id = alt && k->cols[c].type == C_PROBLEM;
        if (cJSON_IsString(m))
            v->text = import_trimmed(a, m->valuestring, strlen(m->valuestring));
        else if (cJSON_IsNumber(m) && !alt && k->cols[c].type != C_ORG)
            v->text = arena_printf(a, "%.15g", m->valuedouble);
    }
    take_row(im, cells, line, pre, npre);
}

/* 1-based character column of byte offset off in s. */
static unsigned long long char_column(const char *s, size_t off)
{
    unsigned long long col = 1;
    for (size_t i = 0; i < off; i++)
        col += ((unsigned char)s[i] & 0xC0) != 0x80;
    return col;
}

static void ndjson_line(struct import *im)
{
    im->line_no++;
    const char *s = im->line_buf.data ? im->line_buf.data : "";
    size_t len = im->line_buf.len;
    while (len && strchr("\r \t", s[len - 1]))
        len--;
    size_t start = 0;
    if (im->line_no == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        start = 3;
    while (start < len && (s[start] == ' ' || s[start] == '\t'))
        start++;
    if (start < len) {
        size_t bad = utf8_bad_at(s, len);
        if (bad < len) {
            stop(im, 400, "invalid_utf8", im->line_no, char_column(s, bad),
                 "Line %llu is not valid UTF-8 text at column %llu.", im->line_no,
                 char_column(s, bad));
        } else {
            cJSON *obj;
            size_t at = 0;
            enum json_status st = json_parse(s + start, len - start, &obj, &at);
            if (st != JSON_OK) {
                at += start;
                stop(im, st == JSON_NO_MEMORY ? 503 : 400, json_status_code(st), im->line_no,
                     char_column(s, at), "Line %llu %s (column %llu).", im->line_no,
                     json_status_message(st), char_column(s, at));
            } else {
                json_row(im, obj, im->line_no);
            }
            cJSON_Delete(obj);
        }
    }
    buf_reset(&im->line_buf);
}

static void ndjson_feed(struct import *im, const char *data, size_t len)
{
    while (len && !im->stopped) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (memchr(data, '\0', take)) {
            stop(im, 400, "invalid_utf8", im->line_no + 1, 0,
                 "Line %llu contains a NUL byte.", im->line_no + 1);
            return;
        }
        if (buf_append(&im->line_buf, data, take)) {
            stop(im, 400, "line_too_long", im->line_no + 1, 0, "Line %llu is longer than 1 MiB.",
                 im->line_no + 1);
            return;
        }
        if (!nl)
            return;
        ndjson_line(im);
        data += take + 1;
        len -= take + 1;
    }
}

/* --- the database ---------------------------------------------------------------------- */

static const char *error_message(struct import *im, const char *err, const char *info,
                                 const char **pointer, const char **column)
{
    struct arena *a = im->r->arena;
    const struct kind *k = im->k;
    const char *field = NULL, *msg = "was refused";
    const char *bad = NULL, *amb = NULL;
    if (info) {
        const char *bar = strrchr(info, '|');
        bad = bar ? arena_strndup(a, info, (size_t)(bar - info)) : info;
        amb = bar && bar[1] ? bar + 1 : NULL;
    }
    if (strcmp(err, "unknown_problem") == 0) {
        field = "problem_code";
        msg = "no problem of this campaign has this code (import the problems first)";
    } else if (strcmp(err, "required_problem") == 0) {
        field = "problem_code";
        msg = "is required for a new task";
    } else if (strcmp(err, "problem_mismatch") == 0) {
        field = "problem_code";
        msg = arena_printf(a, "the task belongs to problem %s; a task cannot move to another "
                              "problem", info ? info : "?");
    } else if (strcmp(err, "unknown_lead_org") == 0) {
        field = "lead_org";
        msg = "no organisation has this code or name (e.g. 620102, 城关区, 兰州市城关区, GS-EE)";
    } else if (strcmp(err, "ambiguous_lead_org") == 0) {
        field = "lead_org";
        msg = arena_printf(a, "the name is shared by %s: use the code or write the parent in "
                              "front", info ? info : "several organisations");
    } else if (strcmp(err, "required_lead_org") == 0) {
        field = "lead_org";
        msg = arena_printf(a, "is required for a new %s", k->noun);
    } else if (strncmp(err, "bad_", 4) == 0 || strncmp(err, "repeated_", 9) == 0) {
        field = strchr(err, '_') + 1;
        if (err[0] == 'r')
            msg = "names the same organisation twice";
        else if (amb)
            msg = arena_printf(a, "\"%s\" is shared by %s: use the code or write the parent "
                                  "in front", bad, amb);
        else
            msg = arena_printf(a, "\"%s\" is not an organisation code or name", bad ? bad : "");
    } else if (strcmp(err, "required_title") == 0) {
        field = "title";
        msg = arena_printf(a, "is required for a new %s", k->noun);
    } else if (strcmp(err, "required_category") == 0) {
        field = "category";
        msg = "is required for a new problem";
    } else if (strcmp(err, "deadline_required") == 0) {
        field = "deadline";
        msg = "is required when 完成时限类型 is 限期完成 (deadline_kind date)";
    } else if (strcmp(err, "deadline_forbidden") == 0) {
        field = "deadline";
        msg = "must be empty unless 完成时限类型 is 限期完成 (deadline_kind date)";
    }
    *pointer = field ? arena_printf(a, "/%s", field) : "";
    *column = NULL;
    for (size_t c = 0; field && c < k->ncols; c++)
        if (strcmp(k->cols[c].key, field) == 0)
            *column = k->cols[c].zh;
    return msg;
}

static void take_results(struct import *im, PGresult *res)
{
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        long long row = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        const char *status = PQgetvalue(res, i, 2);
        if (strcmp(status, "inserted") == 0) {
            im->inserted++;
        } else if (strcmp(status, "updated") == 0) {
            im->updated++;
        } else if (strcmp(status, "unchanged") == 0) {
            im->unchanged++;
        } else {
            struct rerr e;
            e.message = error_message(im, PQgetvalue(res, i, 3),
                                      PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
                                      &e.pointer, &e.column);
            unsigned long long line =
                row >= 1 && (size_t)row <= im->cap_lines ? im->lines[row - 1] : 0;
            add_failure(im, row, line, PQgetvalue(res, i, 1), &e, 1);
        }
    }
}

/* All batches in one transaction; false = answered. */
static bool write_batches(struct import *im)
{
    struct req *r = im->r;
    if (im->nbatches == 0)
        return true;
    /* query 0 turns JIT off: a batch statement is large, and JIT-compiling
     * it again for every batch costs seconds (see export.c). Before each
     * batch, its statement_timeout is set (for this transaction) to what is
     * left of the import's time budget, RECTIFY_IMPORT_TIMEOUT, since the
     * transaction began: the one transaction of a large file is bounded as
     * a whole by the budget, not by RECTIFY_STATEMENT_TIMEOUT_MS per batch. */
    size_t nq = 2 * im->nbatches + 1;
    struct db_query *q = arena_alloc(r->arena, nq * sizeof *q);
    const char **params = arena_alloc(r->arena, im->nbatches * 2 * sizeof *params);
    PGresult **res = arena_alloc(r->arena, nq * sizeof *res);
    const char **budget = arena_alloc(r->arena, sizeof *budget);
    if (!q || !params || !res || !budget ||
        !(*budget = arena_printf(r->arena, "%lld", (long long)r->app->cfg->import_timeout * 1000))) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return false;
    }
    q[0] = (struct db_query){"SELECT set_config('jit', 'off', true),"
                             " set_config('plan_cache_mode', 'force_custom_plan', true)", 0, NULL};
    for (size_t i = 0; i < im->nbatches; i++) {
        params[2 * i] = im->campaign;
        params[2 * i + 1] = im->batches[i];
        q[2 * i + 1] = (struct db_query){
            "SELECT set_config('statement_timeout', greatest(1, $1::bigint"
            " - (extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint)::text, true)",
            1, budget};
        q[2 * i + 2] = (struct db_query){im->dry_run ? im->k->sql_check : im->k->sql_upsert, 2,
                                         params + 2 * i};
    }
    if (!db_run_or_reply(r, q, nq, res))
        return false;
    for (size_t i = 2; i < nq; i += 2)
        take_results(im, res[i]);
    return true;
}

/* --- answering --------------------------------------------------------------------------- */

static void reply_stopped(struct import *im)
{
    struct req *r = im->r;
    struct buf b;
    buf_init(&b, 0);
    int rc = problem_render(&b, im->status, im->code, im->detail, r->path, r->request_id, NULL, 0);
    if (!rc && b.len && b.data[b.len - 1] == '}' && (im->line || im->extra)) {
        b.len--;
        if (im->line)
            rc |= buf_printf(&b, ",\"line\":%llu,\"column\":%llu", im->line, im->column);
        if (im->extra)
            rc |= buf_printf(&b, ",%s", im->extra);
        rc |= buf_puts(&b, "}");
    }
    if (rc || !b.data)
        reply_problem(r, im->status, im->code, "%s", im->detail);
    else
        reply(r, im->status, "application/problem+json", b.data, b.len);
    buf_free(&b);
}

static void reply_summary(struct import *im)
{
    struct req *r = im->r;
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_printf(&b,
                        "{\"dry_run\":%s,\"campaign_id\":%s,\"summary\":{\"rows\":%lld,"
                        "\"inserted\":%lld,\"updated\":%lld,\"unchanged\":%lld,\"failed\":%lld},"
                        "\"failed\":[",
                        im->dry_run ? "true" : "false", im->campaign, im->rows, im->inserted,
                        im->updated, im->unchanged, im->failed);
    if (im->failures.data)
        rc |= buf_append(&b, im->failures.data, im->failures.len);
    rc |= buf_printf(&b, "],\"failed_truncated\":%s}", im->truncated ? "true" : "false");
    if (rc || !b.data)
        reply_problem(r, 500, "internal_error", "Out of memory.");
    else
        reply(r, 207, "application/json; charset=utf-8", b.data, b.len);
    buf_free(&b);
}


static void run_import(struct req *r, const struct kind *k)
{
    struct lerrs l = {.arena = r->arena};
    const char *campaign = lq_id(r, &l, "campaign");
    if (!campaign && !req_query(r, "campaign"))
        lerr_param(&l, "campaign", "required",
                   "is required: the id of the campaign the rows belong to");
    const char *dry = lq_bool(r, &l, "dry_run");
    if (l.n) {
        r->close_connection = true; /* the body is not read */
        lq_ok_or_reply(r, &l);
        return;
    }
    const char *ct = req_header(r, "Content-Type");
    enum import_format fmt = import_format_of(ct);
    if (fmt == IMPORT_UNSUPPORTED) {
        r->close_connection = true;
        reply_problem(r, 415, "unsupported_media_type",
                      "Send the rows as text/csv, application/x-ndjson or application/json "
                      "(a JSON array), in UTF-8.");
        return;
    }
    long long max = fmt == IMPORT_JSON ? r->app->cfg->max_body : r->app->cfg->max_upload;
    const char *cl = req_header(r, "Content-Length");
    if (cl && strtoll(cl, NULL, 10) > max) {
        r->close_connection = true;
        reply_problem(r, 413, "payload_too_large",
                      "The import is larger than the limit of %lld bytes%s.", max,
                      fmt == IMPORT_JSON ? " for a JSON array (send CSV or NDJSON)" : "");
        return;
    }
    /* the campaign exists (and the identity is valid) before any reading */
    if (!campaign_exists_or_reply(r, campaign, "campaign"))
        return;

    struct import *im = arena_alloc(r->arena, sizeof *im);
    if (!im || arena_defer(r->arena, import_free, im)) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return;
    }
    im->r = r;
    im->k = k;
    im->fmt = fmt;
    im->dry_run = dry && strcmp(dry, "true") == 0;
    im->campaign = campaign;
    buf_init(&im->cur, 0);
    buf_init(&im->failures, 0);
    buf_init(&im->line_buf, 1u << 20);

    struct csv_reader *csv = NULL;
    struct buf whole;
    buf_init(&whole, (size_t)max);
    if (fmt == IMPORT_CSV) {
        struct csv_options opt = {.max_field_bytes = 256 * 1024, .max_record_bytes = 1u << 20,
                                  .max_fields = 64};
        if (!(csv = csv_reader_new(&opt, on_csv_record, im))) {
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
        im->bytes += n;
        if (im->bytes > max) {
            stop(im, 413, "payload_too_large", 0, 0,
                 "The import is larger than the limit of %lld bytes.", max);
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
            stop(im, 413, "payload_too_large", 0, 0,
                 "The import is larger than the limit of %lld bytes.", max);
        }
    }
    if (!chunk)
        oom(im);
    free(chunk);
    if (n < 0 && !im->stopped) {
        read_error = true;
        stop(im, 400, "incomplete_body", 0, 0, "The request body ended early.");
    }
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
            } else if (!im->have_header) {
                stop(im, 400, "empty_file", 0, 0, "The file is empty: it needs a header row.");
            }
        } else if (fmt == IMPORT_NDJSON) {
            if (im->line_buf.len)
                ndjson_line(im);
        } else {
            size_t len = whole.len;
            const char *s = whole.data ? whole.data : "";
            cJSON *arr;
            size_t at = 0;
            enum json_status st = json_parse(s, len, &arr, &at);
            if (!cJSON_IsArray(arr)) {
                if (st == JSON_OK)
                    at = 0; /* valid JSON, but not an array */
                unsigned long long line = 1;
                size_t ls = 0;
                for (size_t i = 0; i < at && i < len; i++)
                    if (s[i] == '\n')
                        line++, ls = i + 1;
                stop(im, st == JSON_NO_MEMORY ? 503 : 400,
                     st == JSON_OK ? "malformed_json" : json_status_code(st), line,
                     char_column(s + ls, at - ls), "The body %s (line %llu, column %llu).",
                     st == JSON_OK ? "must be a JSON array of rows" : json_status_message(st),
                     line, char_column(s + ls, at - ls));
            } else {
                for (const cJSON *it = arr->child; it && !im->stopped; it = it->next)
                    json_row(im, it, 0);
            }
            cJSON_Delete(arr);
        }
    }
    buf_free(&whole);
    csv_reader_free(csv);
    if (!im->stopped)
        end_batch(im);
    if (im->stopped) {
        /* not all was read (or it ended early): the connection cannot be reused */
        if (read_error || fmt != IMPORT_JSON || im->status == 413)
            r->close_connection = true;
        log_msg(LOG_INFO, r->request_id, "%s import refused: %s", k->noun, im->code);
        reply_stopped(im);
        return;
    }
    if (!write_batches(im))
        return;
    log_msg(LOG_INFO, r->request_id,
            "%s import: %lld rows, %lld inserted, %lld updated, %lld unchanged, %lld failed%s",
            k->noun, im->rows, im->inserted, im->updated, im->unchanged, im->failed,
            im->dry_run ? " (dry run)" : "");
    reply_summary(im);
}

static void import_tasks(struct req *r) { run_import(r, &task_kind); }
static void import_problems(struct req *r) { run_import(r, &problem_kind); }

/* /tasks/export beside /tasks/{id}: the router prefers literal segments. */
const struct route ledger_io_routes[] = {
    {"GET", "/api/v1/tasks/export", export_tasks, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/tasks/import", import_tasks, PERM_LEDGER_WRITE, ROUTE_RAW_BODY},
    {"GET", "/api/v1/problems/export", export_problems, PERM_LEDGER_READ, 0},
    {"POST", "/api/v1/problems/import", import_problems, PERM_LEDGER_WRITE, ROUTE_RAW_BODY},
};
const size_t ledger_io_routes_count = sizeof ledger_io_routes / sizeof ledger_io_routes[0];
