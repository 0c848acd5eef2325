/* Service configuration: every setting comes from an environment variable and
 * can be overridden by a command-line flag; one table (config.c) describes
 * them all, including their --help text. Strings point into the environment,
 * argv or static storage: they live as long as the process. */
#ifndef RECTIFY_CONFIG_H
#define RECTIFY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rectify/log.h"

struct config {
    const char *database_url;
    const char *listen;
    int threads;
    long long worker_stack;       /* bytes of stack per HTTP worker thread */
    int request_timeout_ms;       /* headers in total; any pause within a body */
    const char *trusted_proxies;  /* CIDR list, "" = none (client_addr.h) */
    int db_pool;
    long long max_body;
    long long max_upload;         /* largest attachment upload, bytes */
    enum log_level log_level;
    const char *cors_origins;     /* comma-separated allow-list, "" = none */
    const char *db_role;          /* role request transactions switch to */
    int db_acquire_timeout_ms;
    int statement_timeout_ms;
    int drain_timeout_ms;
    int import_workers;           /* complaint import: batches in flight at once */
    int import_timeout;           /* seconds: an import's database time budget */
    int job_workers;              /* background job threads; 0 = run no jobs */
    int job_poll_ms;              /* idle job workers look for work this often */
    int job_lease_ms;             /* a claimed job's lease, renewed every third */
    int job_backoff_ms;           /* first retry delay, doubling per attempt */
    bool migrate;                 /* serve: apply pending migrations first */
    const char *jwt_secret;           /* HS256 secret (>= 32 bytes), or NULL */
    const char *jwt_private_key_file; /* ES256/RS256 PEM, or NULL */
    const char *jwt_issuer, *jwt_audience;
    int access_token_ttl;             /* seconds */
    int refresh_token_ttl;            /* seconds */
    const char *jwks_url;             /* provincial identity platform, or NULL */
    const char *external_issuer, *external_audience;
    bool test_routes;             /* mounts the /api/v1/_test routes (tests only) */
    const char *pii_key;          /* RECTIFY_PII_KEY: 32 bytes, base64 or hex (pii.h) */
};

enum config_command { CMD_SERVE, CMD_MIGRATE, CMD_USER };

/* Fills cfg from defaults, then the environment (envp-style lookup through
 * getenv), then argv flags. On error returns -1 with one line in err naming
 * the variable or flag. Returns 1 when --help was asked (help already printed
 * to out). */
int config_load(struct config *cfg, enum config_command cmd, int argc, char **argv,
                char *err, size_t errlen, FILE *out);

/* Prints the option table for cmd. */
void config_usage(enum config_command cmd, FILE *out);

/* Strict integer parsing with optional binary suffix (k, m, g for sizes).
 * Returns 0 and *out, or -1 when s is not entirely a number in [min, max]. */
int config_parse_int(const char *s, long long min, long long max, bool size_suffix,
                     long long *out);

/* True when origin (exact, case-sensitive) is in the comma-separated list;
 * "*" in the list allows any origin. */
bool config_origin_allowed(const char *list, const char *origin);

#endif
