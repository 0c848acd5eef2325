/* Deadline extensions (延期) of tasks and complaints: the same request →
 * office decision shape over two tables (task_extensions, complaint_extensions).
 * Each resource keeps its own SQL (the rules differ: a task's effective
 * deadline vs. a complaint's deadline and event history); this is what they
 * share: the JSON of a request, the body fields, and the answers both give. */
#ifndef RECTIFY_EXTENSIONS_H
#define RECTIFY_EXTENSIONS_H

#include "rectify/validate.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct req;

/* json_build_object of extension row e; parent_key names its owner column. */
#define EXTENSION_JSON(e, parent_key)                                                       \
    "json_build_object('id', " e ".id, '" parent_key "', " e "." parent_key ","            \
    " 'previous_deadline', " e ".previous_deadline, 'new_deadline', " e ".new_deadline,"    \
    " 'reason', " e ".reason, 'status', " e ".status, 'requested_by', " e ".requested_by,"  \
    " 'requested_org_id', " e ".requested_org_id, 'decided_by', " e ".decided_by,"           \
    " 'decided_at', " e ".decided_at, 'decision_comment', " e ".decision_comment,"           \
    " 'version', " e ".version, 'created_at', " e ".created_at, 'updated_at', " e ".updated_at)"

/* {new_deadline, reason} and {decision: approve|reject, comment}. */
extern const struct vfield extension_request_fields[];
extern const size_t extension_request_field_count;
extern const struct vfield extension_decision_fields[];
extern const size_t extension_decision_field_count;

/* "approved" or "rejected" for a validated decision body. */
const char *extension_decision(const struct req *r);

/* Answers the outcomes both resources' statements report in column 0 —
 * not_found (404 "No such <what>"), not_later (422, column 1 = the current
 * deadline), pending_request (409, "The <owner> already has …"), decided
 * (409, column 1 = the decision) — and returns true; false for any other
 * status (the caller answers it). */
bool extension_reply_common(struct req *r, PGresult *res, const char *what, const char *owner);

#endif
