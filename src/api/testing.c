/* Routes that exist only for the black-box tests (mounted with
 * --test-routes / RECTIFY_TEST_ROUTES=1, never in production): they exercise
 * the body reader, the database layer and the SQLSTATE mapping before any
 * business resource exists. Not part of the public contract. */
#include "rectify/api.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        {"unique", "DO $$BEGIN CREATE TEMP TABLE t_u (a int, code text, UNIQUE (a, code))"
                   " ON COMMIT DROP; INSERT INTO t_u VALUES (1, 'x'), (1, 'x'); END$$"},
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
