/* rectify: the command line. `serve` runs the API, `migrate` applies the
 * schema, `routes` prints the route table (for the contract test). */
#include "rectify/api.h"
#include "rectify/app.h"
#include "rectify/config.h"
#include "rectify/db.h"
#include "rectify/embedded.h"
#include "rectify/jobs.h"
#include "rectify/log.h"
#include "rectify/metrics.h"
#include "rectify/router.h"
#include "rectify/server.h"
#include "cli_user.h"
#include "rectify/jwks.h"
#include "rectify/jwt.h"
#include "rectify/password.h"
#include "routes.h"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define EXIT_DRAIN_CUT 3 /* SIGTERM: the drain timeout cut running requests */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rectify <command> [options]\n\n"
            "commands:\n"
            "  serve     run the HTTP API\n"
            "  migrate   apply pending database migrations and exit\n"
            "  user      create a user or set a password (rectify user --help)\n"
            "  routes    print the route table (METHOD PATH per line)\n\n"
            "`rectify <command> --help` lists the options of a command.\n");
}

static int load_config(struct config *cfg, enum config_command cmd, int argc, char **argv)
{
    char err[512];
    int rc = config_load(cfg, cmd, argc, argv, err, sizeof err, stdout);
    if (rc < 0) {
        fprintf(stderr, "rectify: %s\n", err);
        return EXIT_USAGE;
    }
    if (rc > 0)
        return 0; /* --help printed */
    log_set_level(cfg->log_level);
    return -1;    /* go on */
}

static int cmd_migrate(int argc, char **argv)
{
    struct config cfg;
    int rc = load_config(&cfg, CMD_MIGRATE, argc, argv);
    if (rc >= 0)
        return rc;
    char err[2048];
    if (db_migrate(cfg.database_url, embedded_migrations, embedded_migration_count, err,
                   sizeof err)) {
        log_error("migration failed: %s", err);
        fprintf(stderr, "rectify: %s\n", err);
        return 1;
    }
    log_info("schema is current (%zu migrations)", embedded_migration_count);
    return 0;
}

static int cmd_routes(void)
{
    char err[256];
    struct router *rt = routes_build(false, err, sizeof err);
    if (!rt) {
        fprintf(stderr, "rectify: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < router_count(rt); i++)
        printf("%s %s\n", router_at(rt, i)->method, router_at(rt, i)->pattern);
    router_free(rt);
    return 0;
}

/* One request the drain timeout cuts: its id, method, path (no query
 * string, which may carry secrets) and how long it ran. */
static void log_cut(const struct server_request *rq, void *ctx)
{
    (void)ctx;
    log_msg(LOG_ERROR, rq->request_id, "drain timeout: cutting %s %s after %.0f ms",
            rq->method, rq->path, rq->seconds * 1000.0);
}

/* Graceful shutdown: refuse new requests, let the running ones finish (up
 * to timeout_ms), then stop the server. On timeout, logs every request still
 * running and returns how many there are (the server is left running: its
 * workers are still inside those requests); 0 once stopped. */
static int drain(struct server *server, int timeout_ms)
{
    server_begin_drain(server);
    struct timespec tick = {0, 10 * 1000000L};
    for (int waited = 0; server_in_flight(server) > 0; waited += 10) {
        if (waited >= timeout_ms) {
            int cut = server_each_in_flight(server, log_cut, NULL);
            if (cut > 0)
                return cut;
            /* Counted but not listed: requests between their first and
             * last steps, over in microseconds; a little longer, then give
             * up without names. */
            int left = server_in_flight(server);
            if (waited >= timeout_ms + 1000 && left > 0)
                return left;
        }
        nanosleep(&tick, NULL);
    }
    server_stop(server);
    return 0;
}

/* Two connections per core: more backends than that only queue on the CPUs
 * and lengthen the tail (single-task GET at 32 clients on 2 cores: pool 4
 * p99 11 ms, pool 8 p99 80-126 ms; docs/design-notes.md). */
static int default_pool_size(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    return cores > 32 ? 64 : (int)(2 * cores);
}

static int cmd_serve(int argc, char **argv)
{
    struct config cfg;
    int rc = load_config(&cfg, CMD_SERVE, argc, argv);
    if (rc >= 0)
        return rc;

    /* Signals are taken by sigwait in this thread; workers never see them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[2048];
    if (cfg.migrate &&
        db_migrate(cfg.database_url, embedded_migrations, embedded_migration_count, err,
                   sizeof err)) {
        log_error("migration failed: %s", err);
        return 1;
    }

    struct router *router = routes_build(cfg.test_routes, err, sizeof err);
    if (!router || metrics_init(router_count(router))) {
        log_error("cannot build the route table: %s", err);
        router_free(router);
        return 1;
    }
    if (cfg.db_pool == 0)
        cfg.db_pool = default_pool_size();
    struct db_pool_options po = {
        .url = cfg.database_url,
        .size = cfg.db_pool,
        .acquire_timeout_ms = cfg.db_acquire_timeout_ms,
        .statement_timeout_ms = cfg.statement_timeout_ms,
    };
    struct app app = {.cfg = &cfg, .router = router, .db = db_pool_new(&po),
                      .db_role = cfg.db_role};
    int status = 1;
    struct job_kind *job_kinds = NULL;
    if (!app.db || !(app.keys = jwt_keyset_new())) {
        log_error("out of memory");
        goto out;
    }
    if (jwt_keyset_from_config(app.keys, cfg.jwt_secret, cfg.jwt_private_key_file,
                               cfg.jwt_issuer, cfg.jwt_audience, err, sizeof err)) {
        fprintf(stderr, "rectify: %s\n", err);
        status = EXIT_USAGE;
        goto out;
    }
    char *jwks_doc = NULL;
    if (jwt_keyset_public_jwks(app.keys, &jwks_doc) == 0)
        app.public_jwks = jwks_doc;
    if (cfg.jwks_url && *cfg.jwks_url) {
        app.jwks = jwks_source_new(cfg.jwks_url, app.keys, cfg.external_issuer,
                                   cfg.external_audience);
        if (!app.jwks) {
            log_error("out of memory");
            goto out;
        }
        if (jwks_source_refresh_if_due(app.jwks, time(NULL), false) < 0) {
            char why[256];
            jwks_source_last_error(app.jwks, why, sizeof why);
            log_warn("identity platform keys not loaded yet (%s); retrying on demand", why);
        }
    }
    char keys_desc[256];
    jwt_keyset_describe(app.keys, keys_desc, sizeof keys_desc);
    log_info("token keys: %s", keys_desc);
    if (!api_schema_current(&app, err, sizeof err))
        log_error("not ready: %s; API requests get 503 until this is fixed", err);

    struct server_hooks hooks = {
        .app = &app,
        .router = router,
        .cfg = &cfg,
        .ready_or_reply = api_ready_or_reply,
        .authorize_or_reply = api_authorize_or_reply,
    };
    size_t nkinds = 0;
    job_kinds = job_kinds_build(cfg.test_routes, &nkinds);
    struct jobs_options jo = {.workers = cfg.job_workers, .poll_ms = cfg.job_poll_ms,
                              .lease_ms = cfg.job_lease_ms, .backoff_ms = cfg.job_backoff_ms};
    if (!job_kinds || !(app.jobs = jobs_start(app.db, job_kinds, nkinds, &jo, err, sizeof err))) {
        log_error("cannot start the job runner: %s", job_kinds ? err : "out of memory");
        goto out;
    }
    struct server *server = server_start(&hooks, err, sizeof err);
    if (!server) {
        log_error("%s", err);
        jobs_begin_stop(app.jobs);
        if (jobs_wait(app.jobs, cfg.drain_timeout_ms) == 0)
            jobs_free(app.jobs);
        app.jobs = NULL;
        goto out;
    }
    log_info("listening on %s (port %d), %d threads, %d database connections, %d job workers "
             "(%zu kinds)", cfg.listen, server_port(server), cfg.threads, cfg.db_pool,
             cfg.job_workers, nkinds);

    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("received %s: draining (up to %d ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
             cfg.drain_timeout_ms);
    /* Job workers stop claiming at once; a job already running finishes
     * within the same drain budget as the requests. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    jobs_begin_stop(app.jobs);
    int cut = drain(server, cfg.drain_timeout_ms);
    if (cut > 0) {
        /* Non-zero, so a supervisor sees that requests were lost. _exit:
         * the workers are still inside those requests, nothing may be freed
         * under them (the log is written with write(2), nothing is buffered). */
        log_error("drain timeout (%d ms): exiting with status %d, %d request%s cut",
                  cfg.drain_timeout_ms, EXIT_DRAIN_CUT, cut, cut == 1 ? "" : "s");
        _exit(EXIT_DRAIN_CUT);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long spent = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    int left = cfg.drain_timeout_ms > spent ? cfg.drain_timeout_ms - (int)spent : 0;
    int running = jobs_wait(app.jobs, left);
    if (running > 0) {
        /* The same rule as for cut requests: exit 3. Their leases are no
         * longer renewed; another instance takes the jobs over when they lapse. */
        log_error("drain timeout (%d ms): exiting with status %d, %d job%s still running "
                  "(retried elsewhere once the lease lapses)", cfg.drain_timeout_ms,
                  EXIT_DRAIN_CUT, running, running == 1 ? "" : "s");
        _exit(EXIT_DRAIN_CUT);
    }
    jobs_free(app.jobs);
    app.jobs = NULL;
    log_info("stopped");
    status = 0;
out:
    free(job_kinds);
    jwks_source_free(app.jwks);
    jwt_keyset_free(app.keys);
    free((char *)app.public_jwks);
    db_pool_free(app.db);
    router_free(router);
    metrics_free();
    return status;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || password_init() < 0) {
        fprintf(stderr, "rectify: libsodium failed to initialise\n");
        return 1;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("rectify 0.1.0\n");
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 2, argv + 2);
    if (strcmp(argv[1], "migrate") == 0)
        return cmd_migrate(argc - 2, argv + 2);
    if (strcmp(argv[1], "routes") == 0)
        return cmd_routes();
    if (strcmp(argv[1], "user") == 0)
        return cli_user(argc - 2, argv + 2);
    fprintf(stderr, "rectify: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
