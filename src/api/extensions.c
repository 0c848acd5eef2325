/* What task and complaint deadline extensions share (extensions.h). */
#include "rectify/extensions.h"

#include "rectify/api.h"
#include "rectify/arena.h"
#include "rectify/ledger.h"
#include "rectify/params.h"

#include <string.h>

const struct vfield extension_request_fields[] = {
    {"new_deadline", V_STRING, true, false, 10, 10, NULL, ledger_date_ok,
     "must be a date YYYY-MM-DD"},
    {"reason", V_STRING, true, false, 1, 2000, NULL, ledger_not_blank, "must not be blank"},
};
const size_t extension_request_field_count =
    sizeof extension_request_fields / sizeof extension_request_fields[0];

static const char *const decisions[] = {"approve", "reject", NULL};
const struct vfield extension_decision_fields[] = {
    {"decision", V_STRING, true, false, 1, 0, decisions, NULL, NULL},
    {"comment", V_STRING, false, true, 0, 2000, NULL, NULL, NULL},
};
const size_t extension_decision_field_count =
    sizeof extension_decision_fields / sizeof extension_decision_fields[0];

const char *extension_decision(const struct req *r)
{
    return strcmp(ledger_json_string(r->json, "decision"), "approve") == 0 ? "approved"
                                                                          : "rejected";
}

bool extension_reply_common(struct req *r, PGresult *res, const char *what, const char *owner)
{
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "not_found") == 0)
        reply_no_such(r, what);
    else if (strcmp(s, "not_later") == 0)
        reply_field_error(r, 422, "validation_failed",
                          "The new deadline must be after the current one.", "/new_deadline",
                          arena_printf(r->arena, "must be after %s", PQgetvalue(res, 0, 1)));
    else if (strcmp(s, "pending_request") == 0)
        reply_problem(r, 409, "extension_pending",
                      "The %s already has an extension request awaiting a decision.", owner);
    else if (strcmp(s, "decided") == 0)
        reply_problem(r, 409, "already_decided", "The extension request is already %s.",
                      PQgetvalue(res, 0, 1));
    else
        return false;
    return true;
}
