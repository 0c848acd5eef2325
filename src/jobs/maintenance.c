/* maintenance.purge: the nightly housekeeping job (schedule
 * 'maintenance.purge', 03:30 Asia/Shanghai, 0041_jobs.sql).
 *
 * Why it matters: without it every sign-in leaves refresh-token rows
 * (0006) and every mistyped password a throttle row (0007) forever, the
 * Idempotency-Key store (0030) keeps every POST answer although it promises
 * only 24 hours, crashed complaint imports leave their staged batches, and
 * the jobs table grows by every job run. The purge functions existed and
 * nobody called them. One transaction, marked done in it (job_db_finish):
 * re-running it is harmless anyway. */
#include "rectify/jobs.h"


static const char sql_purge[] =
    "SELECT json_build_object("
    " 'refresh_tokens', rectify.refresh_purge(),"
    " 'login_attempts', rectify.login_attempts_purge(),"
    " 'idempotency_keys', rectify.idempotency_keys_purge(),"
    " 'jobs', rectify.jobs_purge(),"
    " 'complaint_import_chunks', (SELECT 0 FROM rectify.complaint_import_gc()))::text";

static bool purge(struct job_ctx *ctx, const char *payload, char *err, size_t errlen)
{
    (void)payload;
    struct db_query q = {sql_purge, 0, NULL};
    return job_finish_logged(ctx, "maintenance.purge removed", &q, 1, err, errlen);
}

const struct job_kind maintenance_job_kinds[] = {
    {"maintenance.purge", purge},
};
const size_t maintenance_job_kinds_count =
    sizeof maintenance_job_kinds / sizeof maintenance_job_kinds[0];
