/* The jobs runner: background work that is safe with any number of instances
 * (sql/migrations/0041_jobs.sql has the table and the state machine).
 *
 * A module that needs background work
 *   1. enqueues in SQL, in the transaction of its change:
 *        SELECT rectify.job_enqueue('kind', 'key', '{"payload": 1}'::jsonb);
 *      (same kind + key again does nothing), or adds a row to job_schedules
 *      in its migration for recurring work;
 *   2. exports a table of kinds, `const struct job_kind x_job_kinds[]` + count,
 *      which src/job_kinds.c gathers (as src/routes.c gathers routes).
 *
 * A handler runs on a worker thread of `rectify serve`. It gets the payload
 * (JSON object text) and does its database work with job_db_run /
 * job_db_finish, never with db_run directly: those transactions first check
 * that the job still holds its lease, so a worker that lost it (paused past
 * the lease, say) writes nothing. It returns true on success; false with a
 * message in err (logged, stored as last_error) to have the job retried after
 * a backoff, until max_attempts, then it is dead.
 *
 * Delivery is at least once: a process that dies after a handler's write
 * committed but before the job was marked done runs the job again once its
 * lease lapses. A handler whose only (or last) write goes through
 * job_db_finish — which marks the job done in the same transaction — has its
 * effect exactly once. */
#ifndef RECTIFY_JOBS_H
#define RECTIFY_JOBS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "rectify/db.h"

struct buf;
struct job_ctx;

/* err has errlen bytes (>= 256); payload is valid during the call only. */
typedef bool (*job_handler)(struct job_ctx *ctx, const char *payload, char *err,
                            size_t errlen);

struct job_kind {
    const char *name; /* "maintenance.purge": lowercase, dotted (0041's CHECK) */
    job_handler run;
};

/* What a handler may read about its job. */
long long job_id(const struct job_ctx *ctx);
int job_attempt(const struct job_ctx *ctx); /* 1 on the first run */
int job_max_attempts(const struct job_ctx *ctx);
/* "host:pid/n": the worker, for handlers that record who did the work. */
const char *job_worker(const struct job_ctx *ctx);

/* Runs queries in one transaction as the database owner (no row-level
 * security; the audit trail records request id "job-<id>"), after checking
 * that the job still holds its lease (DB_ERROR with hint "lease_lost"
 * otherwise, and nothing is written). Results as db_run: the caller
 * PQclear()s res[i] on DB_OK. */
enum db_status job_db_run(struct job_ctx *ctx, const struct db_query *q, size_t n,
                          PGresult **res, struct db_error *err);
/* job_db_run that also marks the job done in the same transaction: use it
 * for the last write, and the job's effect happens exactly once. After it
 * returned DB_OK the handler returns true. */
enum db_status job_db_finish(struct job_ctx *ctx, const struct db_query *q, size_t n,
                             PGresult **res, struct db_error *err);
/* The whole handler of a job that is one finishing transaction: runs
 * q[0..n) with job_db_finish, logs "job <id> <what>: <first value of the last
 * result>", and on failure writes "<what> failed: <sqlstate> <message>" into
 * err. Returns what the handler returns. */
bool job_finish_logged(struct job_ctx *ctx, const char *what, const struct db_query *q,
                       size_t n, char *err, size_t errlen);

/* --- the runner (main.c) ------------------------------------------------------ */

struct jobs_options {
    int workers;      /* threads claiming jobs; 0 = this instance runs none */
    int poll_ms;      /* idle workers look for due jobs this often */
    int lease_ms;     /* a claim lasts this long; renewed every lease_ms / 3 */
    int backoff_ms;   /* the first retry's delay; doubles per attempt (jobs_backoff_ms) */
};

struct jobs_runner;

/* Starts the workers (none when opt->workers is 0: the runner then only
 * renders metrics). kinds[0..nkinds) must outlive the runner; names must be
 * unique. NULL on failure (err). */
struct jobs_runner *jobs_start(struct db_pool *pool, const struct job_kind *kinds,
                               size_t nkinds, const struct jobs_options *opt, char *err,
                               size_t errlen);
/* Stops claiming at once (for SIGTERM, beside the HTTP drain). */
void jobs_begin_stop(struct jobs_runner *r);
/* Waits up to timeout_ms for the running jobs to finish. Returns 0 when
 * every worker has stopped (then jobs_free may be called), otherwise the
 * number of jobs still running: their leases lapse and another instance
 * takes them over. */
int jobs_wait(struct jobs_runner *r, int timeout_ms);
/* Frees a runner whose workers have stopped (jobs_wait returned 0). NULL ok. */
void jobs_free(struct jobs_runner *r);

/* Appends the jobs metrics (Prometheus text): per-kind counters of this
 * instance, and the lag and counts by state from the database (left out when
 * the database cannot be asked). r may be NULL. Returns 0 or -1 (memory). */
int jobs_metrics_render(struct jobs_runner *r, struct db_pool *pool, struct buf *out);

/* Delay before the retry that follows failed attempt `attempt` (1, 2, ...):
 * base, 2·base, 4·base, ... capped at one hour (never below base). */
long long jobs_backoff_ms(int base_ms, int attempt);

/* Job kinds of the modules (src/job_kinds.c gathers them). */
extern const struct job_kind maintenance_job_kinds[];
extern const size_t maintenance_job_kinds_count;
/* The closing scan of the acceptance flow (src/jobs/acceptance_close.c). */
extern const struct job_kind acceptance_job_kinds[];
extern const size_t acceptance_job_kinds_count;
/* Recurring dispatch rounds and the escalation scan (src/jobs/dispatch_jobs.c). */
extern const struct job_kind dispatch_job_kinds[];
extern const size_t dispatch_job_kinds_count;
/* Only with RECTIFY_TEST_ROUTES (src/api/testing.c). */
extern const struct job_kind testing_job_kinds[];
extern const size_t testing_job_kinds_count;

#endif
