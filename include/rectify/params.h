/* Request parameters shared by the resource modules: ids, keyset pages,
 * text search, If-Match/ETag, the body as jsonb text. Outputs are written
 * into caller buffers or the request arena; nothing to free. */
#ifndef RECTIFY_PARAMS_H
#define RECTIFY_PARAMS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct arena;
struct field_error;
struct req;

/* A positive decimal id that fits a bigint, normalised into out. */
bool id_parse(const char *s, char out[24]);
/* The {name} path parameter as an id; otherwise answers 404 "No such <what>." */
bool id_param_or_reply(struct req *r, const char *name, const char *what, char out[24]);
/* 404 not_found "No such <what>." */
void reply_no_such(struct req *r, const char *what);

/* The outcome protocol (docs/developing.md): a statement that succeeds
 * returns one row whose columns are read by name —
 *   json      the answer body (required),
 *   version   sent as ETag "N" (optional),
 *   location  sent as Location (optional; with 201) —
 * and every other outcome is an error raised in SQL (rectify.fail), which
 * db_run_or_reply answers. No row, or a NULL json (absent, or hidden by
 * row-level security), answers 404 "No such <what>.". */
void reply_row(struct req *r, int status, const PGresult *res, const char *what);
struct db_query;
/* Runs q (one statement) and answers its row with reply_row. */
void reply_query_row(struct req *r, int status, const struct db_query *q, const char *what);

/* SQL expression of the opaque keyset cursor for an id column: base64url of
 * {"id":N}. Use it to build next_cursor in the list statement. */
#define SQL_CURSOR_OF(id)                                                                  \
    "translate(rtrim(encode(convert_to('{\"id\":' || " id " || '}', 'UTF8'), 'base64'),"  \
    " '='), '+/', '-_')"
/* The id inside a cursor made by SQL_CURSOR_OF, or false. */
bool cursor_parse(const char *s, char out[24]);

/* limit (1..500, default 50) and cursor; errors are appended to errs[*n]
 * (room for 2 more needed). has_after tells whether a cursor was given. */
void page_params(struct req *r, struct field_error *errs, size_t *n, char limit[8],
                 char after[24], bool *has_after);

/* A q= text: 1..100 characters of valid UTF-8. */
bool q_valid(const char *q);
/* The ILIKE pattern %q% with LIKE's wildcards escaped (arena). */
char *like_pattern(struct arena *a, const char *q);

/* 400 invalid_parameter with the collected query-parameter errors. */
void reply_invalid_params(struct req *r, const struct field_error *errs, size_t n);
/* One error with a JSON pointer into the body; its code is already_exists
 * for a 409, otherwise invalid (a rule of the domain the message names). */
void reply_field_error(struct req *r, int status, const char *code, const char *detail,
                       const char *pointer, const char *message);

/* If-Match → the version it names. Missing or "*" answers 428. A value that
 * is not one strong "N" can never match: version "0" (the write says 412). */
bool if_match_or_reply(struct req *r, char version[16]);
/* 412 naming the current version. */
void reply_precondition_failed(struct req *r, const char *current_version);
/* ETag: "<version>" */
void reply_etag(struct req *r, const char *version);

/* The parsed JSON body printed again, for a $n::jsonb parameter (arena). */
const char *json_body_text_or_reply(struct req *r);

#endif
