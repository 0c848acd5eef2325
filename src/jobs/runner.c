/* The jobs runner (jobs.h): worker threads that claim due jobs, run their
 * handlers and record the outcome, and one keeper thread that renews the
 * leases of the running jobs and enqueues due schedule occurrences. The
 * state machine and every claim rule live in SQL (0041_jobs.sql); this file
 * only drives it. */
#include "rectify/jobs.h"

#include "rectify/buf.h"
#include "rectify/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_CAP_MS (3600LL * 1000)
#define ERR_LEN 512
#define ERROR_PAUSE_MS 5000 /* after a failed claim */

/* Workers run as the database owner: set_config('role', 'none') switches
 * back to the session user (see db_identity). */
#define OWNER_ROLE "none"

static const char sql_claim[] =
    "SELECT id, kind, payload, attempt, max_attempts, lease_token"
    " FROM rectify.job_claim($1::text[], $2::int, $3)";
static const char sql_hold[] = "SELECT rectify.job_hold($1::bigint, $2::uuid)";
static const char sql_done[] = "SELECT rectify.job_done($1::bigint, $2::uuid)";
static const char sql_failed[] =
    "SELECT rectify.job_failed($1::bigint, $2::uuid, $3, $4::bigint)";
static const char sql_renew[] =
    "SELECT rectify.job_renew($1::bigint[], $2::uuid[], $3::int)";
static const char sql_schedules[] = "SELECT rectify.job_schedules_run()";
static const char sql_stats[] =
    "SELECT lag_seconds, queued_due, running, dead FROM rectify.jobs_stats()";

struct kind_stats {
    atomic_llong runs, succeeded, failures, dead, lease_lost;
};

struct worker {
    struct jobs_runner *r;
    pthread_t thread;
    char name[96];
    /* The job held right now, read by the keeper under r->mu. */
    bool busy;
    char id[24], token[40];
};

struct jobs_runner {
    struct db_pool *pool;
    const struct job_kind *kinds;
    size_t nkinds;
    struct jobs_options opt;
    char *kind_list;          /* "{a,b}": the text[] of kinds this instance runs */
    struct kind_stats *stats; /* one per kind */
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* stop requested, or a worker ended */
    bool stopping;
    int alive;                /* worker threads not yet ended */
    int nworkers;             /* started */
    struct worker *workers;
    pthread_t keeper;
    bool keeper_started;
};

#define JOB_FINISH_MAX_QUERIES 4

struct job_ctx {
    struct jobs_runner *r;
    struct worker *w;
    long long id;
    const char *id_text, *token;
    char request_id[32];
    int attempt, max_attempts;
    bool finished; /* job_db_finish marked it done */
};

long long jobs_backoff_ms(int base_ms, int attempt)
{
    long long d = base_ms > 0 ? base_ms : 1;
    for (int i = 1; i < attempt && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    return d < base_ms ? base_ms : d;
}

/* --- what a handler sees ------------------------------------------------------- */

long long job_id(const struct job_ctx *c) { return c->id; }
int job_attempt(const struct job_ctx *c) { return c->attempt; }
int job_max_attempts(const struct job_ctx *c) { return c->max_attempts; }
const char *job_worker(const struct job_ctx *c) { return c->w->name; }

/* [hold] + q[0..n) (+ [done]) in one transaction. */
static enum db_status fenced_run(struct job_ctx *c, const struct db_query *q, size_t n,
                                 PGresult **res, struct db_error *err, bool finish)
{
    size_t total = n + 1 + (finish ? 1 : 0);
    struct db_query *all = calloc(total, sizeof *all);
    PGresult **out = calloc(total, sizeof *out);
    if (!all || !out) {
        free(all);
        free(out);
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "out of memory");
        return DB_ERROR;
    }
    const char *lease[] = {c->id_text, c->token};
    all[0] = (struct db_query){sql_hold, 2, lease};
    memcpy(all + 1, q, n * sizeof *q);
    if (finish)
        all[total - 1] = (struct db_query){sql_done, 2, lease};
    struct db_identity who = {.request_id = c->request_id, .role = OWNER_ROLE};
    enum db_status st = db_run(c->r->pool, &who, all, total, out, err);
    for (size_t i = 0; i < n; i++)
        res[i] = out[i + 1];
    if (st == DB_OK) {
        PQclear(out[0]);
        if (finish) {
            c->finished = true;
            PQclear(out[total - 1]);
        }
    }
    free(all);
    free(out);
    return st;
}

enum db_status job_db_run(struct job_ctx *c, const struct db_query *q, size_t n,
                          PGresult **res, struct db_error *err)
{
    return fenced_run(c, q, n, res, err, false);
}

enum db_status job_db_finish(struct job_ctx *c, const struct db_query *q, size_t n,
                             PGresult **res, struct db_error *err)
{
    return fenced_run(c, q, n, res, err, true);
}

bool job_finish_logged(struct job_ctx *c, const char *what, const struct db_query *q,
                       size_t n, char *err, size_t errlen)
{
    PGresult *res[JOB_FINISH_MAX_QUERIES];
    struct db_error e;
    if (n == 0 || n > JOB_FINISH_MAX_QUERIES) {
        snprintf(err, errlen, "%s: %zu queries", what, n);
        return false;
    }
    if (job_db_finish(c, q, n, res, &e) != DB_OK) {
        snprintf(err, errlen, "%s failed: %s %s", what, e.sqlstate, e.message);
        return false;
    }
    log_info("job %lld %s: %s", c->id, what, PQgetvalue(res[n - 1], 0, 0));
    for (size_t i = 0; i < n; i++)
        PQclear(res[i]);
    return true;
}

/* --- small helpers ---------------------------------------------------------------- */

static bool stopping(struct jobs_runner *r)
{
    pthread_mutex_lock(&r->mu);
    bool s = r->stopping;
    pthread_mutex_unlock(&r->mu);
    return s;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Sleeps ms unless a stop is requested meanwhile. */
static void nap(struct jobs_runner *r, int ms)
{
    struct timespec until;
    deadline_in(&until, ms);
    pthread_mutex_lock(&r->mu);
    while (!r->stopping && pthread_cond_timedwait(&r->wake, &r->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&r->mu);
}

/* One statement as the owner, outside any job; logs failures. */
static PGresult *run_one(struct jobs_runner *r, const char *sql, int nparams,
                         const char *const *params)
{
    struct db_query q = {sql, nparams, params};
    struct db_identity who = {.request_id = "jobs", .role = OWNER_ROLE};
    struct db_error err;
    PGresult *res;
    if (db_run(r->pool, &who, &q, 1, &res, &err) != DB_OK) {
        log_warn("jobs: %s failed: %s %s", sql, err.sqlstate, err.message);
        return NULL;
    }
    return res;
}

static size_t kind_index(const struct jobs_runner *r, const char *name)
{
    for (size_t i = 0; i < r->nkinds; i++)
        if (strcmp(r->kinds[i].name, name) == 0)
            return i;
    return r->nkinds;
}

/* --- the worker ------------------------------------------------------------------- */

/* After the handler: record the outcome (unless job_db_finish already did). */
static void settle(struct job_ctx *c, size_t k, bool ok, const char *why)
{
    struct jobs_runner *r = c->r;
    struct kind_stats *st = &r->stats[k];
    const char *kind = r->kinds[k].name;
    if (c->finished) {
        atomic_fetch_add(&st->succeeded, 1);
        return;
    }
    const char *lease[] = {c->id_text, c->token};
    if (ok) {
        PGresult *res = run_one(r, sql_done, 2, lease);
        bool held = res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        if (held) {
            atomic_fetch_add(&st->succeeded, 1);
        } else if (res) {
            atomic_fetch_add(&st->lease_lost, 1);
            log_msg(LOG_WARN, c->request_id, "job %lld (%s) finished after losing its lease",
                    c->id, kind);
        }
        PQclear(res);
        return;
    }
    atomic_fetch_add(&st->failures, 1);
    long long delay = jobs_backoff_ms(r->opt.backoff_ms, c->attempt);
    char delay_text[24];
    snprintf(delay_text, sizeof delay_text, "%lld", delay);
    const char *params[] = {c->id_text, c->token, why, delay_text};
    PGresult *res = run_one(r, sql_failed, 4, params);
    const char *state = res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL;
    if (state && strcmp(state, "dead") == 0) {
        atomic_fetch_add(&st->dead, 1);
        log_msg(LOG_ERROR, c->request_id, "job %lld (%s) is dead after %d attempts: %s", c->id,
                kind, c->attempt, why);
    } else if (state) {
        log_msg(LOG_WARN, c->request_id, "job %lld (%s) attempt %d of %d failed: %s; retry in %lld ms",
                c->id, kind, c->attempt, c->max_attempts, why, delay);
    } else if (res) {
        atomic_fetch_add(&st->lease_lost, 1);
        log_msg(LOG_WARN, c->request_id, "job %lld (%s) failed after losing its lease: %s",
                c->id, kind, why);
    }
    PQclear(res);
}

static void run_job(struct worker *w, PGresult *job)
{
    struct jobs_runner *r = w->r;
    struct job_ctx c = {.r = r, .w = w};
    c.id_text = PQgetvalue(job, 0, 0);
    c.id = strtoll(c.id_text, NULL, 10);
    const char *kind = PQgetvalue(job, 0, 1);
    const char *payload = PQgetvalue(job, 0, 2);
    c.attempt = atoi(PQgetvalue(job, 0, 3));
    c.max_attempts = atoi(PQgetvalue(job, 0, 4));
    c.token = PQgetvalue(job, 0, 5);
    snprintf(c.request_id, sizeof c.request_id, "job-%lld", c.id);
    size_t k = kind_index(r, kind);
    if (k == r->nkinds) /* cannot happen: we claim only our kinds */
        return;

    pthread_mutex_lock(&r->mu);
    w->busy = true;
    snprintf(w->id, sizeof w->id, "%s", c.id_text);
    snprintf(w->token, sizeof w->token, "%s", c.token);
    pthread_mutex_unlock(&r->mu);

    atomic_fetch_add(&r->stats[k].runs, 1);
    log_msg(LOG_DEBUG, c.request_id, "job %lld (%s) attempt %d", c.id, kind, c.attempt);
    char why[ERR_LEN] = "";
    bool ok = r->kinds[k].run(&c, payload, why, sizeof why);
    settle(&c, k, ok, why[0] ? why : "the handler failed without saying why");

    pthread_mutex_lock(&r->mu);
    w->busy = false;
    pthread_mutex_unlock(&r->mu);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct jobs_runner *r = w->r;
    char lease[16];
    snprintf(lease, sizeof lease, "%d", r->opt.lease_ms);
    const char *params[] = {r->kind_list, lease, w->name};
    while (!stopping(r)) {
        PGresult *job = run_one(r, sql_claim, 3, params);
        if (job && PQntuples(job) == 1) {
            run_job(w, job); /* then look for the next one at once */
            PQclear(job);
            continue;
        }
        /* Nothing due, or the database refused (down, or migrations pending:
         * then wait longer, the warning was logged). */
        nap(r, job || r->opt.poll_ms >= ERROR_PAUSE_MS ? r->opt.poll_ms : ERROR_PAUSE_MS);
        PQclear(job);
    }
    pthread_mutex_lock(&r->mu);
    r->alive--;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* --- the keeper: leases and schedules ------------------------------------------------ */

static void renew_leases(struct jobs_runner *r)
{
    struct buf ids, tokens;
    buf_init(&ids, 0);
    buf_init(&tokens, 0);
    int n = 0, rc = buf_puts(&ids, "{") | buf_puts(&tokens, "{");
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->nworkers; i++) {
        if (!r->workers[i].busy)
            continue;
        rc |= buf_printf(&ids, "%s%s", n ? "," : "", r->workers[i].id);
        rc |= buf_printf(&tokens, "%s%s", n ? "," : "", r->workers[i].token);
        n++;
    }
    pthread_mutex_unlock(&r->mu);
    rc |= buf_puts(&ids, "}") | buf_puts(&tokens, "}");
    if (n && !rc) {
        char lease[16];
        snprintf(lease, sizeof lease, "%d", r->opt.lease_ms);
        const char *params[] = {ids.data, tokens.data, lease};
        PGresult *res = run_one(r, sql_renew, 3, params);
        if (res && PQntuples(res) < n)
            log_warn("jobs: %d of %d running jobs lost their lease", n - PQntuples(res), n);
        PQclear(res);
    } else if (rc) {
        log_error("jobs: out of memory renewing leases");
    }
    buf_free(&ids);
    buf_free(&tokens);
}

static void *keeper_main(void *arg)
{
    struct jobs_runner *r = arg;
    int renew_every = r->opt.lease_ms / 3;
    int tick = r->opt.poll_ms < renew_every ? r->opt.poll_ms : renew_every;
    struct timespec last_renew;
    clock_gettime(CLOCK_MONOTONIC, &last_renew);
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bool stop = r->stopping, workers_left = r->alive > 0;
        pthread_mutex_unlock(&r->mu);
        /* Leases are renewed until the last job of a drain has finished. */
        if (stop && !workers_left)
            break;
        if (!stop)
            PQclear(run_one(r, sql_schedules, 0, NULL));
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long since = (now.tv_sec - last_renew.tv_sec) * 1000LL +
                          (now.tv_nsec - last_renew.tv_nsec) / 1000000L;
        if (since >= renew_every) {
            renew_leases(r);
            last_renew = now;
        }
        struct timespec until;
        deadline_in(&until, tick);
        pthread_mutex_lock(&r->mu);
        pthread_cond_timedwait(&r->wake, &r->mu, &until);
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

/* --- start and stop ------------------------------------------------------------------ */

static bool kind_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 && s[0] >= 'a' && s[0] <= 'z' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

struct jobs_runner *jobs_start(struct db_pool *pool, const struct job_kind *kinds,
                               size_t nkinds, const struct jobs_options *opt, char *err,
                               size_t errlen)
{
    struct jobs_runner *r = calloc(1, sizeof *r);
    struct buf list;
    buf_init(&list, 0);
    if (!r || buf_puts(&list, "{")) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->pool = pool;
    r->kinds = kinds;
    r->nkinds = nkinds;
    r->opt = *opt;
    for (size_t i = 0; i < nkinds; i++) {
        if (!kind_name_ok(kinds[i].name) || !kinds[i].run || kind_index(r, kinds[i].name) != i) {
            snprintf(err, errlen, "job kind \"%s\": bad or duplicate name, or no handler",
                     kinds[i].name ? kinds[i].name : "");
            goto fail;
        }
        if (buf_printf(&list, "%s%s", i ? "," : "", kinds[i].name))
            goto oom;
    }
    if (buf_puts(&list, "}"))
        goto oom;
    r->kind_list = buf_detach(&list);
    r->stats = calloc(nkinds ? nkinds : 1, sizeof *r->stats);
    r->workers = calloc(opt->workers > 0 ? (size_t)opt->workers : 1, sizeof *r->workers);
    if (!r->kind_list || !r->stats || !r->workers)
        goto oom;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (opt->workers <= 0 || nkinds == 0)
        return r;

    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (int i = 0; i < opt->workers; i++) {
        struct worker *w = &r->workers[i];
        w->r = r;
        snprintf(w->name, sizeof w->name, "%s:%ld/%d", host, (long)getpid(), i + 1);
        pthread_mutex_lock(&r->mu);
        r->alive++;
        pthread_mutex_unlock(&r->mu);
        if (pthread_create(&w->thread, NULL, worker_main, w)) {
            pthread_mutex_lock(&r->mu);
            r->alive--;
            pthread_mutex_unlock(&r->mu);
            snprintf(err, errlen, "cannot start job worker %d", i + 1);
            jobs_begin_stop(r);
            jobs_wait(r, -1);
            jobs_free(r);
            return NULL;
        }
        r->nworkers++;
    }
    if (pthread_create(&r->keeper, NULL, keeper_main, r)) {
        snprintf(err, errlen, "cannot start the job keeper thread");
        jobs_begin_stop(r);
        jobs_wait(r, -1);
        jobs_free(r);
        return NULL;
    }
    r->keeper_started = true;
    return r;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    buf_free(&list);
    free(r->kind_list);
    free(r->stats);
    free(r->workers);
    free(r);
    return NULL;
}

void jobs_begin_stop(struct jobs_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->mu);
}

int jobs_wait(struct jobs_runner *r, int timeout_ms)
{
    if (!r)
        return 0;
    struct timespec until;
    deadline_in(&until, timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&r->mu);
    while (r->alive > 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&r->wake, &r->mu);
        else if (pthread_cond_timedwait(&r->wake, &r->mu, &until) == ETIMEDOUT)
            break;
    }
    int busy = 0;
    for (int i = 0; i < r->nworkers; i++)
        busy += r->workers[i].busy;
    int alive = r->alive;
    pthread_mutex_unlock(&r->mu);
    if (alive > 0)
        return busy > 0 ? busy : alive;
    for (int i = 0; i < r->nworkers; i++)
        pthread_join(r->workers[i].thread, NULL);
    r->nworkers = 0;
    if (r->keeper_started) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_broadcast(&r->wake);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->keeper, NULL);
        r->keeper_started = false;
    }
    return 0;
}

void jobs_free(struct jobs_runner *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->wake);
    free(r->kind_list);
    free(r->stats);
    free(r->workers);
    free(r);
}

/* --- metrics ---------------------------------------------------------------------- */

static int counter(struct buf *out, const struct jobs_runner *r, const char *name,
                   const char *help, size_t offset)
{
    int rc = buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; r && i < r->nkinds; i++) {
        const atomic_llong *v = (const atomic_llong *)((const char *)&r->stats[i] + offset);
        rc |= buf_printf(out, "%s{kind=\"%s\"} %lld\n", name, r->kinds[i].name,
                         atomic_load(v));
    }
    return rc;
}

int jobs_metrics_render(struct jobs_runner *r, struct db_pool *pool, struct buf *out)
{
    int rc = 0;
    rc |= counter(out, r, "rectify_jobs_runs_total", "Job attempts started by this instance.",
                  offsetof(struct kind_stats, runs));
    rc |= counter(out, r, "rectify_jobs_succeeded_total", "Job attempts that succeeded.",
                  offsetof(struct kind_stats, succeeded));
    rc |= counter(out, r, "rectify_jobs_failures_total", "Job attempts that failed.",
                  offsetof(struct kind_stats, failures));
    rc |= counter(out, r, "rectify_jobs_dead_total", "Jobs that failed their last attempt here.",
                  offsetof(struct kind_stats, dead));
    rc |= counter(out, r, "rectify_jobs_lease_lost_total",
                  "Job attempts that ended after another worker took the job over.",
                  offsetof(struct kind_stats, lease_lost));
    rc |= buf_printf(out, "# HELP rectify_jobs_workers Job worker threads of this instance.\n"
                          "# TYPE rectify_jobs_workers gauge\nrectify_jobs_workers %d\n",
                     r ? r->nworkers : 0);
    struct db_query q = {sql_stats, 0, NULL};
    struct db_identity who = {.request_id = "metrics", .role = OWNER_ROLE};
    struct db_error err;
    PGresult *res;
    if (pool && db_run(pool, &who, &q, 1, &res, &err) == DB_OK) {
        if (PQntuples(res) == 1)
            rc |= buf_printf(out,
                       "# HELP rectify_jobs_lag_seconds Now minus run_at of the oldest due job "
                       "(0: none waiting), all instances.\n"
                       "# TYPE rectify_jobs_lag_seconds gauge\nrectify_jobs_lag_seconds %s\n"
                       "# HELP rectify_jobs Jobs by state (queued: due now), all instances.\n"
                       "# TYPE rectify_jobs gauge\n"
                       "rectify_jobs{state=\"queued\"} %s\nrectify_jobs{state=\"running\"} %s\n"
                       "rectify_jobs{state=\"dead\"} %s\n",
                       PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                       PQgetvalue(res, 0, 3));
        PQclear(res);
    }
    return rc ? -1 : 0;
}
