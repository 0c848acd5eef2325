/* The request context and the response helpers every handler uses.
 *
 * One struct req per request, created by the server: memory comes from
 * r->arena and is released after the response. A handler answers exactly
 * once through reply*() / reply_problem*(); helpers whose name ends in
 * _or_reply have already answered when they fail, so the handler just
 * returns. The HTTP layer knows nothing about resources or the database. */
#ifndef RECTIFY_HTTP_H
#define RECTIFY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "rectify/principal.h"
#include "rectify/router.h"

struct mg_connection;
struct cJSON;
struct app;
struct buf;

struct resp_header {
    struct resp_header *next;
    const char *name, *value;
};

struct req {
    struct mg_connection *conn;
    struct app *app;        /* the service's shared state (owned by main) */
    struct arena *arena;
    const char *method, *path, *query, *remote_addr;
    char request_id[65];
    struct route_match match;
    const char *body;       /* arena-owned, NUL-terminated; NULL when none */
    size_t body_len;
    struct cJSON *json;     /* parsed body for ROUTE_JSON_BODY routes (arena-owned) */
    struct principal who;
    const char *cors_origin;      /* set when the Origin is allowed */
    struct resp_header *headers;  /* extra response headers (arena) */
    int status;
    long long bytes_out;
    bool responded;
    bool close_connection;
    bool streaming;         /* reply_stream_begin was called */
    bool continue_sent;     /* "100 Continue" answered */
};

/* --- reading the request --------------------------------------------------- */
const char *req_header(const struct req *r, const char *name);
/* Decoded value of query parameter name (arena), or NULL when absent. */
const char *req_query(struct req *r, const char *name);
/* Decoded path parameter, or NULL. */
const char *req_param(const struct req *r, const char *name);

/* --- answering ------------------------------------------------------------- */
/* Adds a response header; name and value are copied into the arena. */
void reply_header(struct req *r, const char *name, const char *value);
void reply(struct req *r, int status, const char *content_type, const void *body,
           size_t len);
void reply_json(struct req *r, int status, const char *json, size_t len);
void reply_empty(struct req *r, int status);

/* One validation error: either a JSON pointer into the body ("/name", ""
 * for the whole body) or the name of a query parameter. */
/* Streaming answers (exports, downloads): chunked transfer encoding, so no
 * length is needed up front and nothing has to be held in memory. begin
 * sends the status and headers (plus those added by reply_header); write
 * returns 0, or -1 when the client went away (stop producing); end sends the
 * last chunk. A streamed answer counts as answered from begin on. */
void reply_stream_begin(struct req *r, int status, const char *content_type);
int reply_stream_write(struct req *r, const void *data, size_t len);
void reply_stream_end(struct req *r);
/* Gives up on a streamed answer that cannot be completed (e.g. the database
 * failed half-way through a download): no last chunk is sent and the
 * connection is closed, so the client sees a truncated transfer, never a
 * short but seemingly complete one. */
void reply_stream_abort(struct req *r);

/* Reading a ROUTE_RAW_BODY body in pieces: answers "Expect: 100-continue"
 * on the first call, then returns bytes read, 0 at the end, -1 on error. */
long req_read(struct req *r, void *buf, size_t len);

/* code: what is wrong, for a front end to translate (FIELD_ERROR_CODES in
 * the spec's FieldError: required, too_long, not_in_vocabulary, ...); NULL
 * is rendered as "invalid". message: the same in English, for people. */
struct field_error {
    const char *pointer;
    const char *message;
    const char *parameter;
    const char *code;
};

/* RFC 9457 problem+json with a stable machine code. */
void reply_problem(struct req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void reply_problem_errors(struct req *r, int status, const char *code,
                          const char *detail, const struct field_error *errors,
                          size_t nerrors);

/* Renders a problem document into out (used by reply_problem; unit-tested). */
int problem_render(struct buf *out, int status, const char *code, const char *detail,
                   const char *instance, const char *request_id,
                   const struct field_error *errors, size_t nerrors);
/* True when an If-None-Match value ("*", or a list of entity-tags) names
 * etag, by weak comparison (W/ ignored on both sides). The response
 * writers use it: a 200 to GET or HEAD with an ETag the request names is
 * sent as 304 without a body, for every resource (RFC 9110 13.1.2). */
bool etag_list_matches(const char *if_none_match, const char *etag);
/* Reason phrase / problem title for a status code. */
const char *http_status_title(int status);

#define PROBLEM_TYPE_BASE "https://rectify.example/problems/"

/* --- request bodies (server internals, exposed for unit tests) -------------- */
/* Reads a body through fn in a loop, never storing more than max bytes.
 * content_length < 0 means unknown (chunked). */
typedef long (*body_read_fn)(void *ctx, char *buf, size_t len);
enum body_result { BODY_OK, BODY_TOO_LARGE, BODY_IO_ERROR, BODY_NO_MEMORY };
enum body_result body_read_all(body_read_fn fn, void *ctx, long long content_length,
                               long long max, struct buf *out);

/* True for application/json and application/<x>+json, with optional
 * parameters (a charset other than utf-8 is refused). */
bool content_type_is_json(const char *content_type);

/* A request id from the client is kept when it is 1..64 chars of
 * [A-Za-z0-9._:-]; otherwise a new random one is made. */
bool request_id_is_sane(const char *id);

#endif
