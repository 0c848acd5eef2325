/* The recurring work of dispatch and supervision on the jobs runner
 * (schedules in sql/migrations/0046_dispatch.sql):
 *   dispatch.open_due            every 10 minutes: opens the rounds of the
 *                                dispatch schedules that are due;
 *   supervision.escalation_scan  daily at 06:00 Asia/Shanghai: applies the
 *                                escalation rules.
 * Both SQL functions are safe with several instances and reruns on their own
 * (FOR UPDATE SKIP LOCKED and a unique key per period; an advisory lock and a
 * unique key per rule and target), so a job that runs twice changes nothing;
 * each is one transaction marked done in it (job_db_finish). The scan may
 * write tens of thousands of reminders on a large ledger, so its
 * transaction gets a longer statement timeout than a request's. */
#include "rectify/jobs.h"


static const char sql_long_timeout[] = "SELECT set_config('statement_timeout', '600s', true)";
static const char sql_open_due[] = "SELECT rectify.dispatch_open_due()::text";
static const char sql_scan[] = "SELECT rectify.supervision_escalation_scan()::text";

/* The scans get ten minutes (the service's statement timeout is seconds). */
static bool run_one(struct job_ctx *ctx, const char *name, const char *sql, char *err,
                    size_t errlen)
{
    struct db_query q[] = {{sql_long_timeout, 0, NULL}, {sql, 0, NULL}};
    return job_finish_logged(ctx, name, q, 2, err, errlen);
}

static bool open_due(struct job_ctx *ctx, const char *payload, char *err, size_t errlen)
{
    (void)payload;
    return run_one(ctx, "dispatch.open_due", sql_open_due, err, errlen);
}

static bool escalation_scan(struct job_ctx *ctx, const char *payload, char *err, size_t errlen)
{
    (void)payload;
    return run_one(ctx, "supervision.escalation_scan", sql_scan, err, errlen);
}

const struct job_kind dispatch_job_kinds[] = {
    {"dispatch.open_due", open_due},
    {"supervision.escalation_scan", escalation_scan},
};
const size_t dispatch_job_kinds_count = sizeof dispatch_job_kinds / sizeof dispatch_job_kinds[0];
