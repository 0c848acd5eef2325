#include "rectify/config.h"

#include "rectify/pii.h"

#include <sodium.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STRING, OPT_INT, OPT_SIZE, OPT_BOOL, OPT_LEVEL };

/* Which commands an option applies to. */
#define FOR_SERVE 1u
#define FOR_MIGRATE 2u
#define FOR_USER 4u
#define FOR_ALL (FOR_SERVE | FOR_MIGRATE | FOR_USER)

struct option_def {
    const char *flag, *env, *def, *help;
    enum opt_type type;
    long long min, max;
    size_t offset;
    unsigned commands;
};

#define OFF(field) offsetof(struct config, field)

static const struct option_def options[] = {
    {"--database-url", "RECTIFY_DATABASE_URL", NULL,
     "libpq connection string or URI (required)", OPT_STRING, 0, 0,
     OFF(database_url), FOR_ALL},
    {"--listen", "RECTIFY_LISTEN", "127.0.0.1:8080", "address:port to listen on",
     OPT_STRING, 0, 0, OFF(listen), FOR_SERVE},
    {"--threads", "RECTIFY_THREADS", "1024",
     "HTTP worker threads (each open connection holds one; see docs/design-notes.md)",
     OPT_INT, 1, 4096, OFF(threads), FOR_SERVE},
    {"--worker-stack", "RECTIFY_WORKER_STACK", "1m",
     "stack size of each HTTP worker thread in bytes (k/m suffixes allowed)", OPT_SIZE,
     256LL << 10, 64LL << 20, OFF(worker_stack), FOR_SERVE},
    {"--request-timeout-ms", "RECTIFY_REQUEST_TIMEOUT_MS", "10000",
     "longest a client may take to send a request's headers, and longest pause while "
     "a body is sent or received", OPT_INT, 100, 600000, OFF(request_timeout_ms), FOR_SERVE},
    {"--trusted-proxies", "RECTIFY_TRUSTED_PROXIES", "",
     "comma-separated CIDRs of proxies whose Forwarded / X-Forwarded-For is believed",
     OPT_STRING, 0, 0, OFF(trusted_proxies), FOR_SERVE},
    {"--db-pool", "RECTIFY_DB_POOL", "0",
     "database connections (0: two per CPU core, see docs/design-notes.md)", OPT_INT, 0, 256,
     OFF(db_pool), FOR_SERVE},
    {"--max-body", "RECTIFY_MAX_BODY", "1048576",
     "largest accepted JSON body in bytes (k/m suffixes allowed)", OPT_SIZE, 1,
     1LL << 30, OFF(max_body), FOR_SERVE},
    {"--max-upload", "RECTIFY_MAX_UPLOAD", "20m",
     "largest accepted attachment upload in bytes (k/m suffixes allowed)", OPT_SIZE, 1,
     256LL << 20, OFF(max_upload), FOR_SERVE},
    {"--log-level", "RECTIFY_LOG_LEVEL", "info", "debug, info, warn or error",
     OPT_LEVEL, 0, 0, OFF(log_level), FOR_ALL},
    {"--cors-origins", "RECTIFY_CORS_ORIGINS", "",
     "comma-separated origins allowed to call the API from a browser", OPT_STRING, 0,
     0, OFF(cors_origins), FOR_SERVE},
    {"--db-role", "RECTIFY_DB_ROLE", "rectify_api",
     "database role every request runs as (row-level security applies to it)", OPT_STRING,
     0, 0, OFF(db_role), FOR_SERVE},
    {"--db-acquire-timeout-ms", "RECTIFY_DB_ACQUIRE_TIMEOUT_MS", "2000",
     "wait for a free database connection before answering 503", OPT_INT, 1,
     600000, OFF(db_acquire_timeout_ms), FOR_SERVE},
    {"--statement-timeout-ms", "RECTIFY_STATEMENT_TIMEOUT_MS", "10000",
     "PostgreSQL statement_timeout for request transactions", OPT_INT, 1, 3600000,
     OFF(statement_timeout_ms), FOR_SERVE},
    {"--import-workers", "RECTIFY_IMPORT_WORKERS", "2",
     "batches of one complaint import written at the same time (each holds a database "
     "connection)", OPT_INT, 1, 8, OFF(import_workers), FOR_SERVE},
    {"--import-timeout", "RECTIFY_IMPORT_TIMEOUT", "600",
     "seconds one import (complaints, problems, tasks) may take in the database: each "
     "batch's statements get what is left of it as their timeout, instead of "
     "--statement-timeout-ms", OPT_INT, 1, 86400, OFF(import_timeout),
     FOR_SERVE},
    {"--drain-timeout-ms", "RECTIFY_DRAIN_TIMEOUT_MS", "10000",
     "on SIGTERM, how long in-flight requests may take to finish", OPT_INT, 0,
     600000, OFF(drain_timeout_ms), FOR_SERVE},
    {"--job-workers", "RECTIFY_JOB_WORKERS", "2",
     "background job worker threads (0: this instance runs no jobs; see docs/design-notes.md)",
     OPT_INT, 0, 64, OFF(job_workers), FOR_SERVE},
    {"--job-poll-ms", "RECTIFY_JOB_POLL_MS", "1000",
     "how often idle job workers look for due jobs and schedules", OPT_INT, 10, 60000,
     OFF(job_poll_ms), FOR_SERVE},
    {"--job-lease-ms", "RECTIFY_JOB_LEASE_MS", "60000",
     "lease of a running job, renewed every third of it; a dead instance's jobs are taken "
     "over after it", OPT_INT, 300, 3600000, OFF(job_lease_ms), FOR_SERVE},
    {"--job-backoff-ms", "RECTIFY_JOB_BACKOFF_MS", "10000",
     "delay before a failed job's first retry, doubling per attempt up to an hour", OPT_INT, 10,
     3600000, OFF(job_backoff_ms), FOR_SERVE},
    {"--migrate", "RECTIFY_MIGRATE", "false",
     "apply pending migrations before serving", OPT_BOOL, 0, 0, OFF(migrate),
     FOR_SERVE},
    {"--jwt-secret", "RECTIFY_JWT_SECRET", NULL,
     "HS256 signing secret, at least 32 bytes (prefer the variable: flags show in ps)",
     OPT_STRING, 0, 0, OFF(jwt_secret), FOR_SERVE},
    {"--jwt-private-key-file", "RECTIFY_JWT_PRIVATE_KEY_FILE", NULL,
     "PEM private key (EC P-256 -> ES256, RSA >= 2048 -> RS256); public key at "
     "/.well-known/jwks.json", OPT_STRING, 0, 0, OFF(jwt_private_key_file), FOR_SERVE},
    {"--jwt-issuer", "RECTIFY_JWT_ISSUER", "rectify", "iss of the tokens we issue", OPT_STRING,
     0, 0, OFF(jwt_issuer), FOR_SERVE},
    {"--jwt-audience", "RECTIFY_JWT_AUDIENCE", "rectify-api", "aud of the tokens we issue",
     OPT_STRING, 0, 0, OFF(jwt_audience), FOR_SERVE},
    {"--access-token-ttl", "RECTIFY_ACCESS_TOKEN_TTL", "900", "access token lifetime, seconds",
     OPT_INT, 60, 86400, OFF(access_token_ttl), FOR_SERVE},
    {"--refresh-token-ttl", "RECTIFY_REFRESH_TOKEN_TTL", "1209600",
     "refresh token lifetime, seconds", OPT_INT, 300, 7776000, OFF(refresh_token_ttl),
     FOR_SERVE},
    {"--jwks-url", "RECTIFY_JWKS_URL", NULL,
     "JWKS of the provincial identity platform (its tokens are accepted too)", OPT_STRING, 0,
     0, OFF(jwks_url), FOR_SERVE},
    {"--external-issuer", "RECTIFY_EXTERNAL_ISSUER", NULL, "iss of the platform's tokens",
     OPT_STRING, 0, 0, OFF(external_issuer), FOR_SERVE},
    {"--external-audience", "RECTIFY_EXTERNAL_AUDIENCE", NULL,
     "aud the platform's tokens must carry for us", OPT_STRING, 0, 0, OFF(external_audience),
     FOR_SERVE},
    {"--test-routes", "RECTIFY_TEST_ROUTES", "false",
     "mount /api/v1/_test/* routes used by the test suite; never in production",
     OPT_BOOL, 0, 0, OFF(test_routes), FOR_SERVE},
    {"--pii-key", "RECTIFY_PII_KEY", NULL,
     "32-byte key (base64 or hex) encrypting complainants' personal data (required; prefer "
     "the variable: flags show in ps)", OPT_STRING, 0, 0, OFF(pii_key), FOR_SERVE},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

int config_parse_int(const char *s, long long min, long long max, bool size_suffix,
                     long long *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || s[0] == ' ' || s[0] == '+')
        return -1;
    long long mult = 1;
    if (size_suffix && *end) {
        switch (*end) {
        case 'k': case 'K': mult = 1LL << 10; break;
        case 'm': case 'M': mult = 1LL << 20; break;
        case 'g': case 'G': mult = 1LL << 30; break;
        default: return -1;
        }
        end++;
        if (*end == 'i' && end[1] == 'B')
            end += 2;
        else if (*end == 'B')
            end++;
    }
    if (*end)
        return -1;
    if (v != 0 && (v > LLONG_MAX / mult || v < LLONG_MIN / mult))
        return -1;
    v *= mult;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, yes[i]) == 0)
            return *out = true, 0;
    for (size_t i = 0; i < 5; i++)
        if (strcmp(s, no[i]) == 0)
            return *out = false, 0;
    return -1;
}

static int apply(struct config *cfg, const struct option_def *o, const char *value,
                 const char *source, char *err, size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    long long v;
    switch (o->type) {
    case OPT_STRING:
        *(const char **)field = value;
        return 0;
    case OPT_INT:
    case OPT_SIZE:
        if (config_parse_int(value, o->min, o->max, o->type == OPT_SIZE, &v)) {
            snprintf(err, errlen, "%s: \"%s\" is not a number between %lld and %lld",
                     source, value, o->min, o->max);
            return -1;
        }
        if (o->type == OPT_INT)
            *(int *)field = (int)v;
        else
            *(long long *)field = v;
        return 0;
    case OPT_BOOL:
        if (parse_bool(value, (bool *)field)) {
            snprintf(err, errlen, "%s: \"%s\" is not true/false", source, value);
            return -1;
        }
        return 0;
    case OPT_LEVEL:
        if (log_level_parse(value, (enum log_level *)field)) {
            snprintf(err, errlen, "%s: \"%s\" is not one of debug, info, warn, error",
                     source, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

static unsigned command_mask(enum config_command cmd)
{
    return cmd == CMD_SERVE ? FOR_SERVE : cmd == CMD_MIGRATE ? FOR_MIGRATE : FOR_USER;
}

void config_usage(enum config_command cmd, FILE *out)
{
    unsigned mask = command_mask(cmd);
    fprintf(out, "Options (each flag can also be set by its environment variable):\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        if (!(o->commands & mask))
            continue;
        fprintf(out, "  %-26s %-31s %s", o->flag, o->env, o->help);
        if (o->def && *o->def)
            fprintf(out, " [default: %s]", o->def);
        fputc('\n', out);
    }
}

int config_load(struct config *cfg, enum config_command cmd, int argc, char **argv,
                char *err, size_t errlen, FILE *out)
{
    unsigned mask = command_mask(cmd);
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        if (o->def && apply(cfg, o, o->def, o->flag, err, errlen))
            return -1;
        const char *env = getenv(o->env);
        if ((o->commands & mask) && env && apply(cfg, o, env, o->env, err, errlen))
            return -1;
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_usage(cmd, out);
            return 1;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct option_def *o = NULL;
        for (size_t k = 0; k < N_OPTIONS; k++)
            if ((options[k].commands & mask) && strlen(options[k].flag) == name_len &&
                strncmp(options[k].flag, arg, name_len) == 0)
                o = &options[k];
        if (!o) {
            snprintf(err, errlen, "unknown option %s (see --help)", arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && o->type == OPT_BOOL)
            value = "true";
        if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "%s needs a value", o->flag);
                return -1;
            }
            value = argv[++i];
        }
        if (apply(cfg, o, value, o->flag, err, errlen))
            return -1;
    }
    if (!cfg->database_url || !*cfg->database_url) {
        snprintf(err, errlen, "RECTIFY_DATABASE_URL is not set (or pass --database-url)");
        return -1;
    }
    if (cmd == CMD_SERVE) {
        if (cfg->jwt_secret && !*cfg->jwt_secret)
            cfg->jwt_secret = NULL;
        if (cfg->jwt_private_key_file && !*cfg->jwt_private_key_file)
            cfg->jwt_private_key_file = NULL;
        if (!cfg->jwt_secret && !cfg->jwt_private_key_file) {
            snprintf(err, errlen,
                     "RECTIFY_JWT_SECRET or RECTIFY_JWT_PRIVATE_KEY_FILE must be set");
            return -1;
        }
        unsigned char pii[PII_KEY_BYTES];
        if (!cfg->pii_key || pii_key_decode(cfg->pii_key, pii)) {
            snprintf(err, errlen, "RECTIFY_PII_KEY must be set to 32 random bytes in base64 or "
                                  "hex (e.g. openssl rand -base64 32)");
            return -1;
        }
        sodium_memzero(pii, sizeof pii);
        if (cfg->jwks_url && *cfg->jwks_url &&
            (!cfg->external_issuer || !*cfg->external_issuer || !cfg->external_audience ||
             !*cfg->external_audience)) {
            snprintf(err, errlen, "RECTIFY_JWKS_URL needs RECTIFY_EXTERNAL_ISSUER and "
                                  "RECTIFY_EXTERNAL_AUDIENCE");
            return -1;
        }
    }
    return 0;
}

bool config_origin_allowed(const char *list, const char *origin)
{
    if (!list || !origin || !*origin)
        return false;
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *tail = end;
        while (tail > p && tail[-1] == ' ')
            tail--;
        size_t n = (size_t)(tail - p);
        if ((n == 1 && *p == '*') || (n == olen && n && memcmp(p, origin, n) == 0))
            return true;
        p = end;
    }
    return false;
}
