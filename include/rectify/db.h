/* The database layer: a bounded pool of libpq connections and a transaction
 * helper that sends "set identity; statements" as one pipeline (one round
 * trip, one implicit transaction committed at the pipeline's Sync).
 *
 * Every SQL text is a string with $n parameters: nothing is ever formatted
 * into SQL. SQL texts passed to db_run must be string literals (or otherwise
 * live for the whole process): their address keys the per-connection cache
 * of prepared statements. */
#ifndef RECTIFY_DB_H
#define RECTIFY_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct db_pool;

struct db_pool_options {
    const char *url;
    int size;
    int acquire_timeout_ms;
    int statement_timeout_ms;
};

/* Connections are opened lazily, so the pool can be created while the
 * database is down. Returns NULL only when out of memory. */
struct db_pool *db_pool_new(const struct db_pool_options *opt);
/* Closes every connection; no request may be running. */
void db_pool_free(struct db_pool *pool);
void db_pool_stats(struct db_pool *pool, int *size, int *in_use, int *waiting);

/* The caller: rectify.begin_request (sql/migrations/0008) checks the user
 * and epoch and sets the transaction-local rectify.* settings; then the
 * transaction switches to role (row-level security applies to it).
 * user_id and epoch are NULL for anonymous requests. */
struct db_identity {
    const char *user_id, *epoch, *request_id, *role;
};

struct db_query {
    const char *sql;
    int nparams;
    const char *const *params; /* text values; NULL = SQL NULL */
};

enum db_status {
    DB_OK = 0,
    DB_ERROR,          /* the database refused a statement: see sqlstate */
    DB_BUSY,           /* no connection became free within the timeout */
    DB_UNAVAILABLE,    /* cannot reach the database */
};

struct db_error {
    char sqlstate[6];
    char message[512];  /* primary message: for logs, never for clients */
    char detail[512];
    char hint[128];     /* our own RAISE ... HINT carries a stable code */
    char column[64];    /* rectify.fail's field: the body member the error points at */
    char constraint[128];
    char table[64];
    int failed_index;   /* which query failed (-1: the identity settings) */
};

/* Runs the queries in one transaction as identity. On DB_OK, res[i] holds
 * each query's result (the caller PQclear()s them). On any other status no
 * result is returned and nothing was committed. Serialization failures and
 * deadlocks are retried (3 times), and so is a request whose connection
 * turned out dead before anything ran (e.g. after a database restart). */
enum db_status db_run(struct db_pool *pool, const struct db_identity *who,
                      const struct db_query *queries, size_t n, PGresult **res,
                      struct db_error *err);

/* Binary parameters and results (file contents), one entry per query, beside
 * the queries rather than inside struct db_query so that every existing
 * `{sql, n, params}` initializer stays complete. A 20 MiB bytea sent as a
 * binary parameter travels as 20 MiB; as text it would be 40 MiB of hex.
 * param_lengths / param_formats as for PQexecParams (NULL = all text);
 * result_format 1 asks for every column of the result in binary. The SQL
 * must name the type of a binary parameter ($1::bytea). */
struct db_format {
    const int *param_lengths;
    const int *param_formats;
    int result_format;
};

/* db_run with formats[i] for queries[i]; formats NULL = db_run. */
enum db_status db_run_formats(struct db_pool *pool, const struct db_identity *who,
                              const struct db_query *queries, const struct db_format *formats,
                              size_t n, PGresult **res, struct db_error *err);

/* --- SQLSTATE -> HTTP, one table (sqlstate.c) ------------------------------ */
struct sqlstate_rule {
    const char *prefix; /* a full SQLSTATE or a class prefix */
    int status;
    const char *code;   /* stable problem code */
    const char *detail; /* what the client is told */
};
/* Returns the rule for state (unknown states map to 500). Custom states
 * "RX" + three digits map to that HTTP status with code and detail NULL:
 * their message is meant for the client and the HINT carries the code. */
struct sqlstate_rule sqlstate_lookup(const char *state);
bool sqlstate_is_retryable(const char *state);
bool sqlstate_is_connection_error(const char *state);

/* --- migrations (migrate.c) ------------------------------------------------- */
struct migration {
    const char *name; /* "0001_orgs" */
    const char *sql;
    size_t len;
};

/* Applies the pending migrations of list[0..n), each in its own transaction,
 * under an advisory lock. Returns 0, or -1 with the PostgreSQL error in err. */
int db_migrate(const char *url, const struct migration *list, size_t n, char *err,
               size_t errlen);
/* Names the migrations of list not yet applied: *pending gets their count.
 * Returns 0, or -1 when the database cannot be asked (err). Also fails when
 * an applied migration's text changed since (checksum mismatch). */
int db_pending_migrations(PGconn *conn, const struct migration *list, size_t n,
                          size_t *pending, char *err, size_t errlen);
/* Same, through the pool. */
int db_pool_pending_migrations(struct db_pool *pool, const struct migration *list,
                               size_t n, size_t *pending, char *err, size_t errlen);

#endif
