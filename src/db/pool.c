/* Connection pool and the one-round-trip transaction runner (db.h). */
#include "rectify/db.h"

#include "rectify/log.h"
#include "rectify/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STMT_CACHE_SIZE 256
#define MAX_ATTEMPTS 3

struct cached_stmt {
    const char *sql; /* the literal's address is the key */
    char name[16];
};

struct conn_slot {
    PGconn *pg;
    bool in_use;
    struct cached_stmt cache[STMT_CACHE_SIZE];
    int ncache;
    int next_name;
};

/* A request waiting for a connection. Freed connections are handed to the
 * oldest waiter directly (FIFO), so a newcomer never overtakes a request
 * that has been waiting: without it, tail latency under load was unbounded. */
struct waiter {
    struct waiter *next;
    pthread_cond_t handed;
    struct conn_slot *slot; /* set by release() */
};

struct db_pool {
    struct db_pool_options opt;
    char *url;
    pthread_mutex_t mu;
    struct conn_slot *slots;
    int in_use, waiting;
    struct waiter *head, *tail; /* FIFO of waiting requests */
};

/* The first statement of every request transaction (see db_identity). */
static const char sql_identity[] =
    "SELECT rectify.begin_request($1::bigint, $2::integer, $3), set_config('role', $4, true)";
static const char sql_session[] =
    "SELECT set_config('statement_timeout', $1, false),"
    " set_config('TimeZone', 'Asia/Shanghai', false),"
    " set_config('application_name', 'rectify', false)";

struct db_pool *db_pool_new(const struct db_pool_options *opt)
{
    struct db_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->opt = *opt;
    p->url = strdup(opt->url);
    p->slots = calloc((size_t)opt->size, sizeof *p->slots);
    if (!p->url || !p->slots || pthread_mutex_init(&p->mu, NULL)) {
        free(p->url);
        free(p->slots);
        free(p);
        return NULL;
    }
    p->opt.url = p->url;
    return p;
}

static void slot_close(struct conn_slot *s)
{
    if (s->pg)
        PQfinish(s->pg);
    s->pg = NULL;
    s->ncache = 0;
}

void db_pool_free(struct db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->opt.size; i++)
        slot_close(&p->slots[i]);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p->url);
    free(p);
}

void db_pool_stats(struct db_pool *p, int *size, int *in_use, int *waiting)
{
    pthread_mutex_lock(&p->mu);
    *size = p->opt.size;
    *in_use = p->in_use;
    *waiting = p->waiting;
    pthread_mutex_unlock(&p->mu);
}

static void copy_field(char *dst, size_t n, const PGresult *r, int field)
{
    const char *v = r ? PQresultErrorField(r, field) : NULL;
    snprintf(dst, n, "%s", v ? v : "");
}

static void fill_error(struct db_error *err, const PGresult *r, PGconn *pg, int index)
{
    memset(err, 0, sizeof *err);
    err->failed_index = index;
    copy_field(err->sqlstate, sizeof err->sqlstate, r, PG_DIAG_SQLSTATE);
    copy_field(err->message, sizeof err->message, r, PG_DIAG_MESSAGE_PRIMARY);
    copy_field(err->detail, sizeof err->detail, r, PG_DIAG_MESSAGE_DETAIL);
    copy_field(err->hint, sizeof err->hint, r, PG_DIAG_MESSAGE_HINT);
    copy_field(err->constraint, sizeof err->constraint, r, PG_DIAG_CONSTRAINT_NAME);
    copy_field(err->column, sizeof err->column, r, PG_DIAG_COLUMN_NAME);
    copy_field(err->table, sizeof err->table, r, PG_DIAG_TABLE_NAME);
    if (!err->message[0] && pg)
        snprintf(err->message, sizeof err->message, "%s", PQerrorMessage(pg));
    /* A lost connection has no SQLSTATE: call it what it is. */
    if (!err->sqlstate[0] && (!pg || PQstatus(pg) == CONNECTION_BAD))
        memcpy(err->sqlstate, "08006", 6);
}

/* Opens the slot's connection if needed. Returns 0 or -1 (err filled). */
static int slot_connect(struct db_pool *p, struct conn_slot *s, struct db_error *err)
{
    if (s->pg && PQstatus(s->pg) == CONNECTION_OK)
        return 0;
    slot_close(s);
    s->pg = PQconnectdb(p->url);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        fill_error(err, NULL, s->pg, -1);
        slot_close(s);
        return -1;
    }
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%d", p->opt.statement_timeout_ms);
    const char *params[] = {timeout};
    PGresult *r = PQexecParams(s->pg, sql_session, 1, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fill_error(err, r, s->pg, -1);
    PQclear(r);
    if (!ok) {
        slot_close(s);
        return -1;
    }
    return 0;
}

/* Hands s to the oldest waiter, or marks it free. */
static void release_slot(struct db_pool *p, struct conn_slot *s)
{
    pthread_mutex_lock(&p->mu);
    struct waiter *w = p->head;
    if (w) {
        p->head = w->next;
        if (!p->head)
            p->tail = NULL;
        p->waiting--;
        w->slot = s; /* stays in use: it changes hands */
        pthread_cond_signal(&w->handed);
    } else {
        s->in_use = false;
        p->in_use--;
    }
    pthread_mutex_unlock(&p->mu);
}

static void dequeue(struct db_pool *p, struct waiter *w)
{
    struct waiter **pp = &p->head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = w->next;
    if (p->tail == w)
        p->tail = prev;
    p->waiting--;
}

static enum db_status acquire(struct db_pool *p, struct conn_slot **out, struct db_error *err)
{
    pthread_mutex_lock(&p->mu);
    struct conn_slot *s = NULL;
    if (!p->head) {
        /* Nobody waits: take a free slot, preferring an open connection. */
        for (int i = 0; i < p->opt.size; i++) {
            if (p->slots[i].in_use)
                continue;
            if (!s || (!s->pg && p->slots[i].pg))
                s = &p->slots[i];
        }
        if (s) {
            s->in_use = true;
            p->in_use++;
        }
    }
    if (!s) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += p->opt.acquire_timeout_ms / 1000;
        deadline.tv_nsec += (long)(p->opt.acquire_timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        struct waiter w = {.next = NULL, .slot = NULL};
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w.handed, &ca);
        pthread_condattr_destroy(&ca);
        if (p->tail)
            p->tail->next = &w;
        else
            p->head = &w;
        p->tail = &w;
        p->waiting++;
        while (!w.slot)
            if (pthread_cond_timedwait(&w.handed, &p->mu, &deadline) == ETIMEDOUT)
                break;
        s = w.slot;
        if (!s)
            dequeue(p, &w); /* timed out before a connection was handed over */
        pthread_cond_destroy(&w.handed);
        if (!s) {
            pthread_mutex_unlock(&p->mu);
            metrics_db_error(DB_ERR_ACQUIRE);
            memset(err, 0, sizeof *err);
            snprintf(err->message, sizeof err->message, "no database connection free");
            return DB_BUSY;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (slot_connect(p, s, err)) {
        metrics_db_error(DB_ERR_CONNECTION);
        release_slot(p, s);
        return DB_UNAVAILABLE;
    }
    *out = s;
    return DB_OK;
}

/* A connection goes back idle or closed: a pipeline that opened a
 * transaction (BEGIN ... ROLLBACK, as the import's dry run sends) and failed
 * half-way leaves it aborted, and the next request would get 25P02. */
static void release(struct db_pool *p, struct conn_slot *s, bool broken)
{
    if (!broken && s->pg && PQtransactionStatus(s->pg) != PQTRANS_IDLE) {
        PQclear(PQexec(s->pg, "ROLLBACK"));
        broken = PQtransactionStatus(s->pg) != PQTRANS_IDLE;
    }
    if (broken)
        slot_close(s);
    release_slot(p, s);
}

/* One item of a pipeline: a Parse (prepare) or an Execute. */
struct pipe_item {
    int query;              /* -1 = identity, >= 0 = queries[i] */
    struct cached_stmt *to_cache; /* set for a Parse whose success we record */
};

static struct cached_stmt *cache_find(struct conn_slot *s, const char *sql)
{
    for (int i = 0; i < s->ncache; i++)
        if (s->cache[i].sql == sql)
            return &s->cache[i];
    return NULL;
}

/* Queues Parse (first time on this connection) + Execute for sql. */
static int send_stmt(struct conn_slot *s, const char *sql, int nparams,
                     const char *const *params, const struct db_format *fmt, int query,
                     struct pipe_item *items, int *nitems, struct cached_stmt *pending)
{
    const int *lengths = fmt ? fmt->param_lengths : NULL;
    const int *formats = fmt ? fmt->param_formats : NULL;
    int result_format = fmt ? fmt->result_format : 0;
    struct cached_stmt *c = cache_find(s, sql);
    if (!c && s->ncache < STMT_CACHE_SIZE) {
        c = pending;
        c->sql = sql;
        snprintf(c->name, sizeof c->name, "r%d", s->next_name++);
        if (!PQsendPrepare(s->pg, c->name, sql, nparams, NULL))
            return -1;
        items[*nitems].query = -2;
        items[*nitems].to_cache = c;
        (*nitems)++;
    }
    int ok = c ? PQsendQueryPrepared(s->pg, c->name, nparams, params, lengths, formats,
                                     result_format)
               : PQsendQueryParams(s->pg, sql, nparams, NULL, params, lengths, formats,
                                   result_format);
    if (!ok)
        return -1;
    items[*nitems].query = query;
    items[*nitems].to_cache = NULL;
    (*nitems)++;
    return 0;
}

enum pipe_outcome { PIPE_OK, PIPE_SQL_ERROR, PIPE_CONN_LOST, PIPE_CONN_LOST_BEFORE_START };

static enum pipe_outcome run_pipeline(struct conn_slot *s, const struct db_identity *who,
                                      const struct db_query *q, const struct db_format *fmt,
                                      size_t n, PGresult **res, struct db_error *err)
{
    PGconn *pg = s->pg;
    size_t max_items = 2 * (n + 1);
    struct pipe_item *items = calloc(max_items, sizeof *items);
    struct cached_stmt *pending = calloc(n + 1, sizeof *pending);
    int nitems = 0;
    enum pipe_outcome outcome = PIPE_OK;
    bool any_result = false;
    memset(err, 0, sizeof *err);

    if (!items || !pending || !PQenterPipelineMode(pg)) {
        free(items);
        free(pending);
        fill_error(err, NULL, pg, -1);
        return PIPE_CONN_LOST_BEFORE_START;
    }
    const char *idp[4] = {
        who ? who->user_id : NULL,
        who ? who->epoch : NULL,
        who && who->request_id ? who->request_id : "",
        who && who->role ? who->role : "rectify_api",
    };
    int sent = send_stmt(s, sql_identity, 4, idp, NULL, -1, items, &nitems, &pending[n]);
    for (size_t i = 0; sent == 0 && i < n; i++)
        sent = send_stmt(s, q[i].sql, q[i].nparams, q[i].params, fmt ? &fmt[i] : NULL, (int)i,
                         items, &nitems, &pending[i]);
    if (sent || !PQpipelineSync(pg)) {
        fill_error(err, NULL, pg, -1);
        outcome = PIPE_CONN_LOST_BEFORE_START;
        goto done;
    }

    for (int k = 0; k < nitems; k++) {
        PGresult *r = PQgetResult(pg);
        if (!r) {
            fill_error(err, NULL, pg, items[k].query);
            outcome = any_result ? PIPE_CONN_LOST : PIPE_CONN_LOST_BEFORE_START;
            goto done;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_FATAL_ERROR) {
            if (PQstatus(pg) == CONNECTION_BAD ||
                sqlstate_is_connection_error(PQresultErrorField(r, PG_DIAG_SQLSTATE))) {
                fill_error(err, r, pg, items[k].query);
                PQclear(r);
                outcome = any_result ? PIPE_CONN_LOST : PIPE_CONN_LOST_BEFORE_START;
                goto done;
            }
            if (outcome == PIPE_OK) {
                fill_error(err, r, pg, items[k].query);
                outcome = PIPE_SQL_ERROR;
            }
            PQclear(r);
        } else if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(r);
        } else {
            any_result = true;
            if (items[k].to_cache) {
                s->cache[s->ncache++] = *items[k].to_cache;
                PQclear(r);
            } else if (items[k].query >= 0) {
                res[items[k].query] = r;
            } else {
                PQclear(r);
            }
        }
        PGresult *end = PQgetResult(pg); /* each query's results end with NULL */
        if (end) {
            PQclear(end);
            fill_error(err, NULL, pg, items[k].query);
            outcome = PIPE_CONN_LOST;
            goto done;
        }
    }
    PGresult *sync = PQgetResult(pg);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
        PQclear(sync);
        fill_error(err, NULL, pg, -1);
        outcome = PIPE_CONN_LOST;
        goto done;
    }
    PQclear(sync);
    if (!PQexitPipelineMode(pg))
        outcome = PIPE_CONN_LOST;

done:
    free(items);
    free(pending);
    if (outcome != PIPE_OK) {
        for (size_t i = 0; i < n; i++) {
            PQclear(res[i]);
            res[i] = NULL;
        }
    }
    return outcome;
}

enum db_status db_run(struct db_pool *p, const struct db_identity *who,
                      const struct db_query *queries, size_t n, PGresult **res,
                      struct db_error *err)
{
    return db_run_formats(p, who, queries, NULL, n, res, err);
}

enum db_status db_run_formats(struct db_pool *p, const struct db_identity *who,
                              const struct db_query *queries, const struct db_format *formats,
                              size_t n, PGresult **res, struct db_error *err)
{
    for (size_t i = 0; i < n; i++)
        res[i] = NULL;
    for (int attempt = 1;; attempt++) {
        struct conn_slot *s;
        enum db_status st = acquire(p, &s, err);
        if (st != DB_OK)
            return st;
        enum pipe_outcome o = run_pipeline(s, who, queries, formats, n, res, err);
        release(p, s, o == PIPE_CONN_LOST || o == PIPE_CONN_LOST_BEFORE_START);
        switch (o) {
        case PIPE_OK:
            return DB_OK;
        case PIPE_SQL_ERROR:
            if (sqlstate_is_retryable(err->sqlstate) && attempt < MAX_ATTEMPTS)
                continue;
            metrics_db_error(strcmp(err->sqlstate, "57014") == 0 ? DB_ERR_TIMEOUT
                                                                 : DB_ERR_QUERY);
            return DB_ERROR;
        case PIPE_CONN_LOST_BEFORE_START:
            /* Nothing ran on the dead connection: safe to try a fresh one. */
            /* After a database restart every idle connection is dead, so
             * allow one try per pooled connection plus a fresh one. */
            metrics_db_error(DB_ERR_CONNECTION);
            if (attempt <= p->opt.size)
                continue;
            return DB_UNAVAILABLE;
        case PIPE_CONN_LOST:
            metrics_db_error(DB_ERR_CONNECTION);
            return DB_UNAVAILABLE;
        }
    }
}

int db_pool_pending_migrations(struct db_pool *p, const struct migration *list, size_t n,
                               size_t *pending, char *errbuf, size_t errlen)
{
    struct conn_slot *s;
    struct db_error err;
    if (acquire(p, &s, &err) != DB_OK) {
        snprintf(errbuf, errlen, "database unreachable: %s", err.message);
        return -1;
    }
    int rc = db_pending_migrations(s->pg, list, n, pending, errbuf, errlen);
    release(p, s, PQstatus(s->pg) != CONNECTION_OK);
    return rc;
}
