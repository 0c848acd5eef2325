/* Helpers shared by the resource modules in src/api/: they join the HTTP
 * request to the database layer. Each *_or_reply function has answered the
 * request when it returns false. */
#ifndef RECTIFY_API_H
#define RECTIFY_API_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "rectify/db.h"
#include "rectify/http.h"
#include "rectify/router.h"

/* Runs queries in one transaction as the caller (r->who). On success res[i]
 * belong to the request's arena (cleared after the response). On failure the
 * request has been answered with the mapped problem (see sqlstate.c). */
bool db_run_or_reply(struct req *r, const struct db_query *q, size_t n, PGresult **res);
/* The same with binary parameters/results (db_format, db.h); formats may be NULL. */
bool db_run_formats_or_reply(struct req *r, const struct db_query *q,
                             const struct db_format *formats, size_t n, PGresult **res);
/* db_run_formats as the caller, without answering (for work after a
 * streamed answer has begun). On DB_OK the caller owns res[i] and
 * PQclear()s them (a download frees each piece before fetching the next). */
enum db_status api_db_run(struct req *r, const struct db_query *q,
                          const struct db_format *formats, size_t n, PGresult **res,
                          struct db_error *err);

/* The common read: one query whose first row's first column is a JSON text;
 * answers it with status, or 404 when there is no row or it is NULL. */
void reply_db_json(struct req *r, int status, const struct db_query *q);

/* Authentication + permission check for the server (authn.c). */
bool api_authorize_or_reply(struct req *r);
/* 401 with WWW-Authenticate; code "invalid_token" adds error="invalid_token". */
void reply_unauthorized(struct req *r, const char *code, const char *detail);
/* "office,unit" -> ROLE_* bitmask (unknown names ignored). */
unsigned roles_from_csv(const char *csv);

/* Readiness gate for the server (server_hooks.ready_or_reply). */
bool api_ready_or_reply(struct req *r);
/* Checks the database for pending migrations now and caches the answer. */
bool api_schema_current(struct app *app, char *why, size_t whylen);

/* Route tables of the resource modules. */
extern const struct route ops_routes[];
extern const size_t ops_routes_count;
extern const struct route auth_routes[];
extern const size_t auth_routes_count;
extern const struct route orgs_routes[];
extern const size_t orgs_routes_count;
extern const struct route users_routes[];
extern const size_t users_routes_count;
extern const struct route audit_routes[];
extern const size_t audit_routes_count;
extern const struct route attachment_routes[];
extern const size_t attachment_routes_count;
extern const struct route campaigns_routes[];
extern const size_t campaigns_routes_count;
extern const struct route problems_routes[];
extern const size_t problems_routes_count;
extern const struct route tasks_routes[];
extern const size_t tasks_routes_count;
extern const struct route task_extensions_routes[];
extern const size_t task_extensions_routes_count;
extern const struct route task_reports_routes[];
extern const size_t task_reports_routes_count;
/* Ledger exports and imports (ledger_io.c). */
extern const struct route ledger_io_routes[];
extern const size_t ledger_io_routes_count;
extern const struct route complaint_routes[];
extern const size_t complaint_routes_count;
/* Background jobs, read-only plus retry (jobs.c). */
extern const struct route jobs_routes[];
extern const size_t jobs_routes_count;
/* Accountability leads (clues.c). */
extern const struct route clue_routes[];
extern const size_t clue_routes_count;
extern const struct route acceptance_routes[];
extern const size_t acceptance_routes_count;
/* Dispatch rounds and supervision (dispatch.c, supervision.c). */
extern const struct route dispatch_routes[];
extern const size_t dispatch_routes_count;
extern const struct route supervision_routes[];
extern const size_t supervision_routes_count;
extern const struct route testing_routes[];
extern const size_t testing_routes_count;

#endif
