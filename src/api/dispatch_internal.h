/* Shared between the dispatch and supervision modules (dispatch.c,
 * supervision.c); not a public header. */
#ifndef RECTIFY_DISPATCH_INTERNAL_H
#define RECTIFY_DISPATCH_INTERNAL_H

#include <stdbool.h>

struct db_query;
struct lerrs;
struct cJSON;
struct req;

/* Runs q, whose one row has the columns json (the answer), optional version
 * (ETag) and optional location (Location), read by name; answers status, or
 * 404 "No such <what>." when there is no row or json is NULL. Every domain
 * outcome is an error raised by SQL (answered by db_run_or_reply). */
void dispatch_reply_row(struct req *r, int status, const struct db_query *q, const char *what);

/* RFC 3339 date-time with an offset: 2026-11-25T18:00:00+08:00, Z allowed. */
bool dispatch_timestamp_ok(const char *s);

/* lfield check: a JSON object (its members are checked by SQL). */
void dispatch_check_object(struct lerrs *l, const char *ptr, const struct cJSON *v, long long max);

#endif
