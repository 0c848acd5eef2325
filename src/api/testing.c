/* Routes that exist only for the black-box tests (mounted with
 * --test-routes / RECTIFY_TEST_ROUTES=1, never in production): they exercise
 * the body reader, the database layer and the SQLSTATE mapping before any
 * business resource exists. Not part of the public contract. */
#include "rectify/api.h"

#include "rectify/jobs.h"
#include "rectify/json.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void echo(struct req *r)
{
    char *text = cJSON_PrintUnformatted(r->json);
    if (!text) {
        reply_problem(r, 500, "internal_error", "Cannot print the body.");
        return;
    }
    reply_json(r, 200, text, strlen(text));
    free(text);
}

/* Holds a database connection for ?ms= milliseconds (drain and pool tests). */
static void sleep_ms(struct req *r)
{
    const char *ms = req_query(r, "ms");
    char *end;
    long v = ms ? strtol(ms, &end, 10) : -1;
    if (!ms || *end || v < 0 || v > 60000) {
        struct field_error e = {.parameter = "ms", .message = "an integer between 0 and 60000"};
        reply_problem_errors(r, 400, "invalid_parameter", "Bad query parameter.", &e, 1);
        return;
    }
    const char *params[] = {ms};
    struct db_query q = {
        "SELECT json_build_object('slept_ms', $1::int, 'request_id',"
        " current_setting('rectify.request_id'))::text FROM pg_sleep($1::int / 1000.0)",
        1, params};
    reply_db_json(r, 200, &q);
}

/* Raises a chosen database error to check its HTTP mapping. */
static void sqlstate(struct req *r)
{
    static const struct {
        const char *name, *sql;
    } cases[] = {
        {"unique", "DO $$BEGIN CREATE TEMP TABLE t_u (a int, code text UNIQUE)"
                   " ON COMMIT DROP; INSERT INTO t_u VALUES (1, 'x'), (2, 'x'); END$$"},
        {"foreign_key", "DO $$BEGIN CREATE TEMP TABLE t_p (id int PRIMARY KEY) ON COMMIT DROP;"
                        " CREATE TEMP TABLE t_c (p int REFERENCES t_p) ON COMMIT DROP;"
                        " INSERT INTO t_c VALUES (7); END$$"},
        {"check", "DO $$BEGIN CREATE TEMP TABLE t_k (n int CHECK (n > 0)) ON COMMIT DROP;"
                  " INSERT INTO t_k VALUES (-1); END$$"},
        {"not_null", "DO $$BEGIN CREATE TEMP TABLE t_n (n int NOT NULL) ON COMMIT DROP;"
                     " INSERT INTO t_n VALUES (NULL); END$$"},
        {"bad_value", "SELECT 'not a number'::int"},
        {"custom", "DO $$BEGIN RAISE EXCEPTION 'The task is already closed.'"
                   " USING ERRCODE = 'RX409', HINT = 'task_closed'; END$$"},
        {"fail_field", "SELECT rectify.fail(422, 'validation_failed', 'The stay ends before it starts.',"
                       " 'stay_end', 'must not be before stay_start')"},
        {"fail_version", "SELECT rectify.check_version(3, 2)"},
        {"slow", "SELECT pg_sleep(5)"}, /* run with a short statement timeout */
        {"syntax", "SELECT FROM WHERE"},
        {"serialization", "DO $$BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40001'; END$$"},
    };
    const char *name = req_query(r, "case");
    if (name && strcmp(name, "left_open") == 0) {
        /* a pipeline that opens a transaction and fails inside it */
        struct db_query q[] = {{"BEGIN", 0, NULL},
                               {"SELECT rectify.fail(409, 'conflict', 'Failed inside BEGIN.')", 0, NULL}};
        PGresult *res[2];
        if (db_run_or_reply(r, q, 2, res))
            reply_json(r, 200, "{}", 2);
        return;
    }
    for (size_t i = 0; name && i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(name, cases[i].name) == 0) {
            struct db_query q = {cases[i].sql, 0, NULL};
            PGresult *res;
            if (db_run_or_reply(r, &q, 1, &res))
                reply_json(r, 200, "{}", 2);
            return;
        }
    }
    struct field_error e = {.parameter = "case", .message = "unknown case"};
    reply_problem_errors(r, 400, "invalid_parameter", "Bad query parameter.", &e, 1);
}

/* Streams ?lines= numbered lines as a chunked answer. */
static void stream(struct req *r)
{
    const char *n = req_query(r, "lines");
    long lines = n ? strtol(n, NULL, 10) : 0;
    if (lines < 0 || lines > 1000000)
        lines = 0;
    reply_stream_begin(r, 200, "text/plain; charset=utf-8");
    char line[32];
    for (long i = 0; i < lines; i++) {
        int len = snprintf(line, sizeof line, "%ld\n", i);
        if (reply_stream_write(r, line, (size_t)len))
            return;
    }
    reply_stream_end(r);
}

/* Reads a raw body of any size in pieces; answers its length. */
static void count(struct req *r)
{
    char chunk[65536];
    long long total = 0;
    long n;
    while ((n = req_read(r, chunk, sizeof chunk)) > 0)
        total += n;
    if (n < 0) {
        reply_problem(r, 400, "incomplete_body", "The request body ended early.");
        return;
    }
    char body[64];
    int len = snprintf(body, sizeof body, "{\"bytes\":%lld}", total);
    reply_json(r, 200, body, (size_t)len);
}

/* Runs the closing scan of the acceptance flow now (in production the jobs
 * runner calls rectify.acceptance_close_due()): {"closed": n}. */
static void acceptance_close_due(struct req *r)
{
    struct db_query q = {"SELECT json_build_object('closed', rectify.acceptance_close_due(100))::text",
                         0, NULL};
    reply_db_json(r, 200, &q);
}

const struct route testing_routes[] = {
    {"POST", "/api/v1/_test/acceptance-close-due", acceptance_close_due, 0, ROUTE_INTERNAL},
    {"GET", "/api/v1/_test/stream", stream, 0, ROUTE_INTERNAL},
    {"POST", "/api/v1/_test/count", count, 0, ROUTE_RAW_BODY | ROUTE_INTERNAL},
    {"POST", "/api/v1/_test/echo", echo, 0, ROUTE_JSON_BODY | ROUTE_INTERNAL},
    {"GET", "/api/v1/_test/sleep", sleep_ms, 0, ROUTE_INTERNAL},
    {"GET", "/api/v1/_test/sqlstate", sqlstate, 0, ROUTE_INTERNAL},
};
const size_t testing_routes_count = sizeof testing_routes / sizeof testing_routes[0];

/* --- test.record: a job kind for tests/api/test_jobs.py ----------------------
 * Payload {"tag": "...", "sleep_ms": N, "first_sleep_ms": N, "fail_attempts": N}:
 * sleeps sleep_ms on every attempt and first_sleep_ms more on the first one
 * (a slow job, to be killed while it holds its lease), fails attempts
 * 1..fail_attempts (-1: always), and records each attempt as a row of
 * test_job_runs, which the test creates: failed attempts with job_db_run, the
 * successful one with job_db_finish (exactly once). */
static const char sql_record[] =
    "INSERT INTO test_job_runs (job_id, attempt, tag, worker, ok)"
    " VALUES ($1::bigint, $2::int, $3, $4, $5::boolean)";

static bool test_record(struct job_ctx *ctx, const char *payload, char *err, size_t errlen)
{
    cJSON *p = NULL;
    if (json_parse(payload, strlen(payload), &p, NULL) != JSON_OK) {
        snprintf(err, errlen, "payload is not JSON");
        return false;
    }
    const cJSON *tag = cJSON_GetObjectItemCaseSensitive(p, "tag");
    const cJSON *sleep = cJSON_GetObjectItemCaseSensitive(p, "sleep_ms");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(p, "first_sleep_ms");
    const cJSON *fails = cJSON_GetObjectItemCaseSensitive(p, "fail_attempts");
    char tag_text[128];
    snprintf(tag_text, sizeof tag_text, "%s", cJSON_IsString(tag) ? tag->valuestring : "");
    long ms = cJSON_IsNumber(sleep) ? (long)sleep->valuedouble : 0;
    if (job_attempt(ctx) == 1 && cJSON_IsNumber(first))
        ms += (long)first->valuedouble;
    int fail_until = cJSON_IsNumber(fails) ? (int)fails->valuedouble : 0;
    cJSON_Delete(p);
    if (ms > 0) {
        struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&t, NULL);
    }
    bool fail = fail_until < 0 || job_attempt(ctx) <= fail_until;
    char id[24], attempt[12];
    snprintf(id, sizeof id, "%lld", job_id(ctx));
    snprintf(attempt, sizeof attempt, "%d", job_attempt(ctx));
    const char *params[] = {id, attempt, tag_text, job_worker(ctx), fail ? "false" : "true"};
    struct db_query q = {sql_record, 5, params};
    struct db_error e;
    PGresult *res;
    enum db_status st = fail ? job_db_run(ctx, &q, 1, &res, &e) : job_db_finish(ctx, &q, 1, &res, &e);
    if (st != DB_OK) {
        snprintf(err, errlen, "recording failed: %s %s", e.sqlstate, e.message);
        return false;
    }
    PQclear(res);
    if (fail)
        snprintf(err, errlen, "told to fail attempt %d", job_attempt(ctx));
    return !fail;
}

const struct job_kind testing_job_kinds[] = {
    {"test.record", test_record},
};
const size_t testing_job_kinds_count = sizeof testing_job_kinds / sizeof testing_job_kinds[0];
