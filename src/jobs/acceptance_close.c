/* acceptance.close_due: the closing scan of the acceptance flow (销号), every
 * 15 minutes (schedule 'acceptance.close_due', 0044_acceptance.sql).
 *
 * rectify.acceptance_close_due() closes the announced tasks whose period has
 * ended without an upheld or undecided objection; it claims rows with FOR
 * UPDATE SKIP LOCKED, so instances (and the test route that runs it) never
 * close a task twice. One transaction that also marks the job done
 * (job_db_finish): a crash before the commit leaves nothing half closed, and
 * the next occurrence takes what this one left (at most 1000 a run). */
#include "rectify/jobs.h"

static bool close_due(struct job_ctx *ctx, const char *payload, char *err, size_t errlen)
{
    (void)payload;
    struct db_query q = {"SELECT rectify.acceptance_close_due(1000)", 0, NULL};
    return job_finish_logged(ctx, "acceptance.close_due closed", &q, 1, err, errlen);
}

const struct job_kind acceptance_job_kinds[] = {
    {"acceptance.close_due", close_due},
};
const size_t acceptance_job_kinds_count =
    sizeof acceptance_job_kinds / sizeof acceptance_job_kinds[0];
