/* Schema migrations: embedded SQL files applied in name order, each once, each
 * in its own transaction, under an advisory lock so that several instances
 * starting together apply each migration exactly once. */
#include "rectify/db.h"

#include "rectify/log.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Any constant shared by all instances; "rectify" in ASCII. */
#define MIGRATION_LOCK_KEY "7521983431542233"

static const char sql_create_table[] =
    "CREATE TABLE IF NOT EXISTS rectify_schema_migrations ("
    " name text PRIMARY KEY,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static void checksum(const struct migration *m, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)m->sql, m->len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

int db_pending_migrations(PGconn *c, const struct migration *list, size_t n,
                          size_t *pending, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT name, checksum FROM rectify_schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        bool no_table = state && strcmp(state, "42P01") == 0;
        if (!no_table)
            snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        if (no_table) {
            *pending = n;
            return 0;
        }
        return -1;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        char sum[65];
        checksum(&list[i], sum);
        bool applied = false;
        for (int row = 0; row < PQntuples(r); row++) {
            if (strcmp(PQgetvalue(r, row, 0), list[i].name) != 0)
                continue;
            applied = true;
            if (strcmp(PQgetvalue(r, row, 1), sum) != 0) {
                snprintf(err, errlen,
                         "migration %s was changed after it was applied (checksum mismatch)",
                         list[i].name);
                PQclear(r);
                return -1;
            }
        }
        if (!applied)
            count++;
    }
    PQclear(r);
    *pending = count;
    return 0;
}

static int apply_one(PGconn *c, const struct migration *m, char *err, size_t errlen)
{
    char sum[65];
    checksum(m, sum);
    if (exec_ok(c, "BEGIN", err, errlen))
        return -1;
    /* PQexec runs the whole file (several statements) in this transaction. */
    PGresult *r = PQexec(c, m->sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        snprintf(err, errlen, "migration %s failed: %s", m->name, PQresultErrorMessage(r));
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    const char *params[] = {m->name, sum};
    r = PQexecParams(c, "INSERT INTO rectify_schema_migrations (name, checksum) VALUES ($1, $2)",
                     2, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "recording migration %s failed: %s", m->name,
                 PQresultErrorMessage(r));
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    if (exec_ok(c, "COMMIT", err, errlen))
        return -1;
    log_info("applied migration %s", m->name);
    return 0;
}

int db_migrate(const char *url, const struct migration *list, size_t n, char *err,
               size_t errlen)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    int rc = -1;
    /* Quiet NOTICEs such as "relation already exists, skipping". */
    if (exec_ok(c, "SET client_min_messages = warning", err, errlen) ||
        exec_ok(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", err, errlen))
        goto out;
    if (exec_ok(c, sql_create_table, err, errlen))
        goto unlock;
    /* Re-read what is applied only now, under the lock. */
    size_t pending;
    if (db_pending_migrations(c, list, n, &pending, err, errlen))
        goto unlock;
    PGresult *r = PQexec(c, "SELECT name FROM rectify_schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        goto unlock;
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool applied = false;
        for (int row = 0; row < PQntuples(r) && !applied; row++)
            applied = strcmp(PQgetvalue(r, row, 0), list[i].name) == 0;
        if (!applied)
            rc = apply_one(c, &list[i], err, errlen);
    }
    PQclear(r);
unlock:
    {
        char ignore[256];
        exec_ok(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", ignore, sizeof ignore);
    }
out:
    PQfinish(c);
    return rc;
}
