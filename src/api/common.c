/* The request <-> database glue shared by every resource module. */
#include "rectify/api.h"

#include "rectify/app.h"
#include "rectify/arena.h"
#include "rectify/embedded.h"
#include "rectify/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void clear_result(void *p) { PQclear(p); }

bool db_run_or_reply(struct req *r, const struct db_query *q, size_t n, PGresult **res)
{
    return db_run_formats_or_reply(r, q, NULL, n, res);
}

enum db_status api_db_run(struct req *r, const struct db_query *q,
                          const struct db_format *formats, size_t n, PGresult **res,
                          struct db_error *err)
{
    char user_id[24], epoch[16];
    snprintf(user_id, sizeof user_id, "%lld", r->who.user_id);
    snprintf(epoch, sizeof epoch, "%d", r->who.epoch);
    struct db_identity who = {
        .user_id = r->who.authenticated ? user_id : NULL,
        .epoch = r->who.authenticated ? epoch : NULL,
        .request_id = r->request_id,
        .role = r->app->db_role,
    };
    return db_run_formats(r->app->db, &who, q, formats, n, res, err);
}

/* A unique or foreign-key constraint named <table>_<member>_key or
 * <table>_<member>_fkey (PostgreSQL's default for one column) points at
 * /<member> (arena); any other name points nowhere. The constraint's name is
 * used, not the detail: under row-level security PostgreSQL leaves the key
 * out of the detail, and its values must never reach the client anyway. */
static const char *key_pointer(struct arena *a, const struct db_error *err)
{
    const char *suffix = strcmp(err->sqlstate, "23505") == 0   ? "_key"
                         : strcmp(err->sqlstate, "23503") == 0 ? "_fkey"
                                                               : NULL;
    size_t t = strlen(err->table), c = strlen(err->constraint);
    if (!suffix || !t || c <= t + 1 + strlen(suffix) ||
        strncmp(err->constraint, err->table, t) != 0 || err->constraint[t] != '_' ||
        strcmp(err->constraint + c - strlen(suffix), suffix) != 0)
        return NULL;
    return arena_printf(a, "/%.*s", (int)(c - t - 1 - strlen(suffix)), err->constraint + t + 1);
}

bool db_run_formats_or_reply(struct req *r, const struct db_query *q,
                             const struct db_format *formats, size_t n, PGresult **res)
{
    struct db_error err;
    enum db_status st = api_db_run(r, q, formats, n, res, &err);
    switch (st) {
    case DB_OK:
        for (size_t i = 0; i < n; i++) {
            if (arena_defer(r->arena, clear_result, res[i])) { /* res[i] is cleared */
                for (size_t j = i + 1; j < n; j++)
                    PQclear(res[j]);
                reply_problem(r, 503, "service_unavailable", "Out of memory.");
                return false;
            }
        }
        return true;
    case DB_BUSY:
        reply_header(r, "Retry-After", "1");
        reply_problem(r, 503, "service_unavailable",
                      "All database connections are busy; retry shortly.");
        return false;
    case DB_UNAVAILABLE:
        log_msg(LOG_ERROR, r->request_id, "database unavailable: %s", err.message);
        reply_header(r, "Retry-After", "2");
        reply_problem(r, 503, "service_unavailable", "The database is unreachable; retry later.");
        return false;
    case DB_ERROR:
        break;
    }
    struct sqlstate_rule rule = sqlstate_lookup(err.sqlstate);
    log_msg(rule.status >= 500 ? LOG_ERROR : LOG_INFO, r->request_id,
            "database error %s in query %d: %s%s%s", err.sqlstate, err.failed_index,
            err.message, err.detail[0] ? " / " : "", err.detail);
    if (rule.status == 401)
        reply_header(r, "WWW-Authenticate", "Bearer realm=\"rectify\", error=\"invalid_token\"");
    if (!rule.code) {
        /* Our own RAISE (rectify.fail): the message is written for the client,
         * the column names the member the error points at. */
        const char *code = err.hint[0] ? err.hint : "rejected";
        if (!err.column[0]) {
            reply_problem(r, rule.status, code, "%s", err.message);
            return false;
        }
        struct field_error e = {.pointer = arena_printf(r->arena, "/%s", err.column),
                                .message = err.detail[0] ? err.detail : "is invalid",
                                .code = rule.status == 409 ? "already_exists" : NULL};
        reply_problem_errors(r, rule.status, code, err.message, e.pointer ? &e : NULL,
                             e.pointer ? 1 : 0);
        return false;
    }
    if (rule.status == 503)
        reply_header(r, "Retry-After", "2");
    if (rule.status == 422 && strcmp(rule.code, "invalid_reference") == 0 &&
        strcmp(r->method, "DELETE") == 0) {
        reply_problem(r, 409, "conflict", "The record is still referenced by other records.");
        return false;
    }
    const char *key = key_pointer(r->arena, &err);
    bool unique = strcmp(err.sqlstate, "23505") == 0;
    struct field_error e = {.pointer = key,
                            .message = unique ? "already exists" : "does not exist",
                            .code = unique ? "already_exists" : "unknown_reference"};
    reply_problem_errors(r, rule.status, rule.code, rule.detail, key ? &e : NULL, key ? 1 : 0);
    return false;
}

void reply_db_json(struct req *r, int status, const struct db_query *q)
{
    PGresult *res;
    if (!db_run_or_reply(r, q, 1, &res))
        return;
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        reply_problem(r, 404, "not_found", "No resource at %s.", r->path);
        return;
    }
    reply_json(r, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool api_schema_current(struct app *app, char *why, size_t whylen)
{
    size_t pending = 0;
    char err[512];
    atomic_store(&app->schema_checked_ms, monotonic_ms());
    if (db_pool_pending_migrations(app->db, embedded_migrations, embedded_migration_count,
                                   &pending, err, sizeof err)) {
        snprintf(why, whylen, "%s", err);
        return false;
    }
    if (pending) {
        snprintf(why, whylen, "%zu migration(s) pending: run `rectify migrate`", pending);
        atomic_store(&app->schema_current, false);
        return false;
    }
    atomic_store(&app->schema_current, true);
    return true;
}

bool api_ready_or_reply(struct req *r)
{
    struct app *app = r->app;
    if (atomic_load(&app->schema_current))
        return true;
    char why[512] = "schema not checked yet";
    /* Re-check at most once a second so a later `rectify migrate` is noticed. */
    if (monotonic_ms() - atomic_load(&app->schema_checked_ms) >= 1000 &&
        api_schema_current(app, why, sizeof why))
        return true;
    reply_header(r, "Retry-After", "5");
    reply_problem(r, 503, "not_ready", "The service is not ready: %s.", why);
    return false;
}
