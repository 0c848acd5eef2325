/* Background jobs (0041_jobs.sql), for operators: list, one job, and the
 * retry of a dead one. Read-only apart from the retry; admin and office
 * (the permission table and the jobs read policy say it twice). */
#include "rectify/api.h"

#include "rectify/params.h"
#include "rectify/permissions.h"

#include <stdio.h>
#include <string.h>

#define SQL_JOB_JSON(j)                                                                     \
    "json_build_object('id', " j ".id, 'kind', " j ".kind, 'key', " j ".key,"               \
    " 'state', " j ".state, 'payload', " j ".payload, 'run_at', " j ".run_at,"             \
    " 'attempts', " j ".attempts, 'max_attempts', " j ".max_attempts,"                     \
    " 'lease_until', " j ".lease_until, 'locked_by', " j ".locked_by,"                     \
    " 'last_error', " j ".last_error, 'created_at', " j ".created_at,"                     \
    " 'updated_at', " j ".updated_at, 'started_at', " j ".started_at,"                     \
    " 'finished_at', " j ".finished_at)"

/* $1 kind, $2 state, $3 before id (newest first), $4 limit. */
static const char sql_list[] =
    "WITH page AS (SELECT j.*, row_number() OVER (ORDER BY j.id DESC) AS n FROM ("
    "  SELECT * FROM jobs j"
    "   WHERE ($1::text IS NULL OR j.kind = $1::text)"
    "     AND ($2::text IS NULL OR j.state = $2::text)"
    "     AND ($3::bigint IS NULL OR j.id < $3::bigint)"
    "   ORDER BY j.id DESC LIMIT $4::int + 1) j)"
    " SELECT json_build_object("
    "  'items', coalesce((SELECT json_agg(" SQL_JOB_JSON("p") " ORDER BY p.id DESC)"
    "    FROM page p WHERE p.n <= $4::int), '[]'),"
    "  'next_cursor', (SELECT " SQL_CURSOR_OF("p.id") " FROM page p WHERE p.n = $4::int"
    "                  AND EXISTS (SELECT 1 FROM page q WHERE q.n > $4::int)))::text";

static const char sql_get[] = "SELECT " SQL_JOB_JSON("j") "::text FROM jobs j WHERE j.id = $1::bigint";

/* The retried job as GET answers it: job_retry's row change is visible to
 * the next statement of the same transaction. */
static const char sql_retry[] = "SELECT rectify.job_retry($1::bigint)";

/* The same rule as the kind column's CHECK, so a bad filter is a 400. */
static bool kind_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && s[0] >= 'a' && s[0] <= 'z' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

static bool state_ok(const char *s)
{
    return !strcmp(s, "queued") || !strcmp(s, "running") || !strcmp(s, "done") ||
           !strcmp(s, "dead");
}

static void list_jobs(struct req *r)
{
    struct field_error errs[4];
    size_t n = 0;
    const char *kind = req_query(r, "kind");
    if (kind && !kind_ok(kind))
        errs[n++] = (struct field_error){.parameter = "kind", .message = "is not a job kind"};
    const char *state = req_query(r, "state");
    if (state && !state_ok(state))
        errs[n++] = (struct field_error){.parameter = "state",
                                         .message = "must be queued, running, done or dead"};
    char limit[8], before[24];
    bool has_before;
    page_params(r, errs, &n, limit, before, &has_before);
    if (n) {
        reply_invalid_params(r, errs, n);
        return;
    }
    const char *params[] = {kind, state, has_before ? before : NULL, limit};
    struct db_query q = {sql_list, 4, params};
    reply_db_json(r, 200, &q);
}

static void get_job(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "job", id))
        return;
    const char *params[] = {id};
    struct db_query q = {sql_get, 1, params};
    reply_db_json(r, 200, &q);
}

static void retry_job(struct req *r)
{
    char id[24];
    if (!id_param_or_reply(r, "id", "job", id))
        return;
    const char *params[] = {id};
    struct db_query q[] = {{sql_retry, 1, params}, {sql_get, 1, params}};
    PGresult *res[2];
    if (!db_run_or_reply(r, q, 2, res))
        return;
    if (PQgetisnull(res[0], 0, 0) || PQntuples(res[1]) != 1) {
        reply_no_such(r, "job");
        return;
    }
    reply_json(r, 200, PQgetvalue(res[1], 0, 0), (size_t)PQgetlength(res[1], 0, 0));
}

const struct route jobs_routes[] = {
    {"GET", "/api/v1/jobs", list_jobs, PERM_JOBS_READ, 0},
    {"GET", "/api/v1/jobs/{id}", get_job, PERM_JOBS_READ, 0},
    {"POST", "/api/v1/jobs/{id}/retry", retry_job, PERM_JOBS_WRITE, 0},
};
const size_t jobs_routes_count = sizeof jobs_routes / sizeof jobs_routes[0];
