/* Account bootstrap from the command line. Runs as the database owner (no
 * row-level security), so it is how the first admin comes to exist. The
 * password is read from standard input, never from argv (visible in ps). */
#include "cli_user.h"

#include "rectify/config.h"
#include "rectify/log.h"
#include "rectify/password.h"
#include "rectify/permissions.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rectify user create --username U --org CODE --role R [--role R2 ...]\n"
            "                          [--display-name NAME] [--if-missing] --password-stdin\n"
            "       rectify user passwd --username U --password-stdin\n\n"
            "The password is read from standard input (one line). Roles: admin, office,\n"
            "leader, unit, acceptor, inspector, discipline, integration, viewer.\n"
            "--if-missing leaves an existing user as it is (exit 0).\n\n");
    config_usage(CMD_USER, out);
}

struct user_args {
    const char *username, *org, *display_name;
    const char *roles[ROLE_COUNT];
    int nroles;
    bool password_stdin;
    bool if_missing;
    char *rest[16]; /* options left for config_load */
    int nrest;
};

static int parse(int argc, char **argv, struct user_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        if (strcmp(arg, "--username") == 0)
            slot = &a->username;
        else if (strcmp(arg, "--org") == 0)
            slot = &a->org;
        else if (strcmp(arg, "--display-name") == 0)
            slot = &a->display_name;
        else if (strcmp(arg, "--role") == 0) {
            if (a->nroles == ROLE_COUNT) {
                fprintf(stderr, "rectify: too many --role options\n");
                return -1;
            }
            slot = &a->roles[a->nroles++];
        } else if (strcmp(arg, "--password-stdin") == 0) {
            a->password_stdin = true;
            continue;
        } else if (strcmp(arg, "--if-missing") == 0) {
            a->if_missing = true;
            continue;
        } else {
            if (a->nrest == 16) {
                fprintf(stderr, "rectify: too many options\n");
                return -1;
            }
            a->rest[a->nrest++] = argv[i];
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "rectify: %s needs a value\n", arg);
            return -1;
        }
        *slot = argv[++i];
    }
    return 0;
}

static int read_password(char *out, size_t n)
{
    if (!fgets(out, (int)n, stdin)) {
        fprintf(stderr, "rectify: no password on standard input\n");
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* Runs one parameterized statement as the owner; 0 on success. */
static int exec(PGconn *c, const char *sql, int n, const char *const *params, int *rows)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "rectify: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    if (rows)
        *rows = atoi(PQcmdTuples(r));
    PQclear(r);
    return 0;
}

int cli_user(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : 0;
    }
    bool create = strcmp(argv[0], "create") == 0;
    if (!create && strcmp(argv[0], "passwd") != 0) {
        fprintf(stderr, "rectify: unknown user command \"%s\"\n", argv[0]);
        return EXIT_USAGE;
    }
    struct user_args a = {0};
    if (parse(argc - 1, argv + 1, &a))
        return EXIT_USAGE;
    for (int i = 0; i < a.nrest; i++)
        if (strcmp(a.rest[i], "--help") == 0 || strcmp(a.rest[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    struct config cfg;
    char err[512];
    if (config_load(&cfg, CMD_USER, a.nrest, a.rest, err, sizeof err, stdout)) {
        fprintf(stderr, "rectify: %s\n", err);
        return EXIT_USAGE;
    }
    if (!a.username || !a.password_stdin || (create && (!a.org || a.nroles == 0))) {
        fprintf(stderr, "rectify: missing %s\n",
                !a.username ? "--username" : !a.password_stdin ? "--password-stdin"
                : !a.org ? "--org" : "--role");
        return EXIT_USAGE;
    }
    unsigned mask = 0;
    for (int i = 0; i < a.nroles; i++) {
        unsigned bit = perm_role_from_name(a.roles[i]);
        if (!bit) {
            fprintf(stderr, "rectify: unknown role \"%s\"\n", a.roles[i]);
            return EXIT_USAGE;
        }
        mask |= bit;
    }
    char password[PASSWORD_MAX_BYTES + 2];
    if (read_password(password, sizeof password))
        return EXIT_USAGE;
    const char *policy = password_policy_error(a.username, password);
    if (policy) {
        fprintf(stderr, "rectify: password rejected: %s\n", policy);
        return EXIT_USAGE;
    }
    char hash[PASSWORD_HASH_SIZE];
    if (password_hash(password, hash)) {
        fprintf(stderr, "rectify: cannot hash the password\n");
        return 1;
    }
    memset(password, 0, sizeof password);

    PGconn *c = PQconnectdb(cfg.database_url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "rectify: cannot connect to the database: %s", PQerrorMessage(c));
        PQfinish(c);
        return 1;
    }
    int rc = 1, rows = 0;
    const char *ctx[] = {create ? "cli:user-create" : "cli:user-passwd"};
    if (exec(c, "BEGIN", 0, NULL, NULL) ||
        exec(c, "SELECT set_config('rectify.request_id', $1, true)", 1, ctx, NULL))
        goto out;
    if (create && a.if_missing) {
        const char *p[] = {a.username};
        if (exec(c, "SELECT 1 FROM users WHERE username = lower($1)", 1, p, &rows))
            goto out;
        if (rows == 1) {
            printf("user %s exists; left as it is\n", a.username);
            rc = 0;
            goto out;
        }
    }
    if (create) {
        char roles[160], pgroles[170];
        perm_roles_to_csv(mask, roles, sizeof roles);
        snprintf(pgroles, sizeof pgroles, "{%s}", roles);
        const char *p[] = {a.username, a.display_name ? a.display_name : a.username, a.org,
                           pgroles, hash};
        if (exec(c,
                 "INSERT INTO users (username, display_name, org_id, roles, password_hash)"
                 " SELECT $1, $2, o.id, $4::text[], $5 FROM orgs o WHERE o.code = $3",
                 5, p, &rows))
            goto out;
        if (rows != 1) {
            fprintf(stderr, "rectify: no org with code \"%s\"\n", a.org);
            goto out;
        }
    } else {
        const char *p[] = {a.username, hash};
        if (exec(c, "UPDATE users SET password_hash = $2 WHERE username = lower($1)", 2, p,
                 &rows))
            goto out;
        if (rows != 1) {
            fprintf(stderr, "rectify: no user \"%s\"\n", a.username);
            goto out;
        }
    }
    if (exec(c, "COMMIT", 0, NULL, NULL) == 0) {
        printf("%s %s\n", create ? "created user" : "changed the password of", a.username);
        rc = 0;
    }
out:
    PQfinish(c);
    return rc;
}
