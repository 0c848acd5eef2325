/* Shared between the dispatch and supervision modules (dispatch.c,
 * supervision.c); not a public header. */
#ifndef RECTIFY_DISPATCH_INTERNAL_H
#define RECTIFY_DISPATCH_INTERNAL_H

#include <stdbool.h>

struct lerrs;
struct cJSON;
struct req;

/* RFC 3339 date-time with an offset: 2026-11-25T18:00:00+08:00, Z allowed. */
bool dispatch_timestamp_ok(const char *s);

/* lfield check: a JSON object (its members are checked by SQL). */
void dispatch_check_object(struct lerrs *l, const char *ptr, const struct cJSON *v, long long max);

#endif
