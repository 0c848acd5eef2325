/* The retry backoff of the jobs runner (jobs_backoff_ms, src/jobs/runner.c).
 * The schedule arithmetic is SQL (rectify.schedule_next): tests/sql/jobs.sql. */
#include "rectify/jobs.h"

#include "unit.h"

int main(void)
{
    /* base, 2·base, 4·base, ... */
    CHECK(jobs_backoff_ms(10000, 1) == 10000);
    CHECK(jobs_backoff_ms(10000, 2) == 20000);
    CHECK(jobs_backoff_ms(10000, 3) == 40000);
    CHECK(jobs_backoff_ms(10000, 5) == 160000);
    CHECK(jobs_backoff_ms(200, 4) == 1600);
    /* capped at one hour, also for absurd attempt counts (no overflow) */
    CHECK(jobs_backoff_ms(10000, 9) == 2560000);
    CHECK(jobs_backoff_ms(10000, 10) == 3600000);
    CHECK(jobs_backoff_ms(10000, 100) == 3600000);
    CHECK(jobs_backoff_ms(10000, 2147483647) == 3600000);
    /* a base above the cap is kept as it is; nonsense inputs stay positive */
    CHECK(jobs_backoff_ms(7200000, 3) == 7200000);
    CHECK(jobs_backoff_ms(10000, 0) == 10000);
    CHECK(jobs_backoff_ms(10000, -5) == 10000);
    CHECK(jobs_backoff_ms(0, 1) == 1);
    return UNIT_DONE();
}
