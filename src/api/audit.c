/* The audit trail (0002_audit.sql): entries newest first, and the check of
 * the hash chain. Who may read it is decided twice: the permission table
 * (audit.read) and the audit_log read policy (admin, office, discipline). */
#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/params.h"
#include "rectify/permissions.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1 table, $2 row id, $3 before id (newest first), $4 limit. row_id is text
 * in the log; every audited table has a bigint id, the spec says integer. */
static const char sql_list[] =
    "WITH page AS (SELECT a.*, row_number() OVER (ORDER BY a.id DESC) AS n FROM ("
    "  SELECT * FROM audit_log a"
    "   WHERE ($1::text IS NULL OR a.table_name = $1::text)"
    "     AND ($2::text IS NULL OR a.row_id = $2::text)"
    "     AND ($3::bigint IS NULL OR a.id < $3::bigint)"
    "   ORDER BY a.id DESC LIMIT $4::int + 1) a)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(json_build_object('id', p.id, 'at', p.at,"
    "      'user_id', p.user_id, 'org_id', p.org_id, 'request_id', p.request_id,"
    "      'table', p.table_name,"
    "      'row_id', CASE WHEN p.row_id ~ '^[0-9]{1,18}$' THEN to_json(p.row_id::bigint)"
    "                     ELSE to_json(p.row_id) END,"
    "      'action', p.action, 'before', p.before, 'after', p.after) ORDER BY p.id DESC)"
    "    FROM page p WHERE p.n <= $4::int), '[]'),"
    "  'next_cursor', (SELECT " SQL_CURSOR_OF("p.id") " FROM page p WHERE p.n = $4::int"
    "                  AND EXISTS (SELECT 1 FROM page q WHERE q.n > $4::int)))::text";

static const char sql_verify[] =
    "SELECT json_build_object('ok', (v->>'ok')::boolean, 'entries', (v->>'entries')::bigint,"
    " 'first_broken_id', (v->>'first_broken_id')::bigint, 'reason', v->>'reason')::text"
    " FROM rectify.audit_verify() AS v";

/* --- small helpers (the same as in orgs.c and users.c) ------------------------ */

/* Lowercase SQL identifier, as the spec's pattern for `table`. */
static bool table_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 63 && !(*s >= '0' && *s <= '9') &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* --- handlers ---------------------------------------------------------------- */

static void list_audit(struct req *r)
{
    struct field_error errs[6];
    size_t n = 0;
    const char *table = req_query(r, "table");
    if (table && !table_ok(table))
        errs[n++] = (struct field_error){.parameter = "table", .message = "is not a table name", .code = "not_in_vocabulary"};
    const char *row_raw = req_query(r, "row_id");
    char row_id[24];
    if (row_raw && !id_parse(row_raw, row_id))
        errs[n++] = (struct field_error){.parameter = "row_id", .message = "must be a positive integer id", .code = "invalid_format"};
    else if (row_raw && !table)
        errs[n++] = (struct field_error){.parameter = "row_id", .message = "requires the table parameter", .code = "required"};
    char limit[8], before[24];
    bool has_before;
    page_params(r, errs, &n, limit, before, &has_before);
    if (n) {
        reply_invalid_params(r, errs, n);
        return;
    }
    const char *params[] = {table, row_raw ? row_id : NULL, has_before ? before : NULL, limit};
    struct db_query q = {sql_list, 4, params};
    reply_db_json(r, 200, &q);
}

static void verify_audit(struct req *r)
{
    struct db_query q = {sql_verify, 0, NULL};
    reply_db_json(r, 200, &q);
}

const struct route audit_routes[] = {
    {"GET", "/api/v1/audit", list_audit, PERM_AUDIT_READ, 0},
    {"GET", "/api/v1/audit/verify", verify_audit, PERM_AUDIT_READ, 0},
};
const size_t audit_routes_count = sizeof audit_routes / sizeof audit_routes[0];
