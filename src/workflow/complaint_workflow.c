/* The complaint state machine: THE table (see complaint_workflow.h). */
#include "rectify/complaint_workflow.h"

#include "rectify/permissions.h"

#include <string.h>

static const char *const state_names[CS_COUNT] = {
    "received", "assigned", "investigating", "stage_resolved", "resolved", "rejected", "closed",
};
static const char *const action_names[CA_COUNT] = {
    "assign", "reassign", "start", "resolve", "stage_resolve", "reject", "close", "reopen",
};

#define OFFICE (ROLE_ADMIN | ROLE_OFFICE)
#define HANDLER (ROLE_ADMIN | ROLE_OFFICE | ROLE_UNIT)

/* Who does what: the office assigns, reassigns, closes (销号) and reopens;
 * the responsible unit (or the office for it) investigates and reports the
 * outcome. A unit may refuse a complaint it was given (不受理, with reason);
 * refusing one not yet assigned is the office's call. */
static const struct complaint_transition table[] = {
    {CS_RECEIVED, CA_ASSIGN, CS_ASSIGNED, OFFICE},
    {CS_ASSIGNED, CA_REASSIGN, CS_ASSIGNED, OFFICE},
    {CS_INVESTIGATING, CA_REASSIGN, CS_ASSIGNED, OFFICE},
    {CS_STAGE_RESOLVED, CA_REASSIGN, CS_ASSIGNED, OFFICE},
    {CS_ASSIGNED, CA_START, CS_INVESTIGATING, HANDLER},
    {CS_INVESTIGATING, CA_RESOLVE, CS_RESOLVED, HANDLER},
    {CS_STAGE_RESOLVED, CA_RESOLVE, CS_RESOLVED, HANDLER},
    {CS_INVESTIGATING, CA_STAGE_RESOLVE, CS_STAGE_RESOLVED, HANDLER},
    {CS_STAGE_RESOLVED, CA_STAGE_RESOLVE, CS_STAGE_RESOLVED, HANDLER},
    {CS_RECEIVED, CA_REJECT, CS_REJECTED, OFFICE},
    {CS_ASSIGNED, CA_REJECT, CS_REJECTED, HANDLER},
    {CS_INVESTIGATING, CA_REJECT, CS_REJECTED, HANDLER},
    {CS_RESOLVED, CA_CLOSE, CS_CLOSED, OFFICE},
    {CS_REJECTED, CA_CLOSE, CS_CLOSED, OFFICE},
    {CS_RESOLVED, CA_REOPEN, CS_INVESTIGATING, OFFICE},
    {CS_CLOSED, CA_REOPEN, CS_INVESTIGATING, OFFICE},
};
#define NTABLE (sizeof table / sizeof table[0])

static const unsigned needs[CA_COUNT] = {
    [CA_ASSIGN] = CN_ORG | CN_DEADLINE,
    [CA_REASSIGN] = CN_ORG | CN_DEADLINE,
    [CA_START] = 0,
    [CA_RESOLVE] = CN_VERDICT | CN_RESULT,
    [CA_STAGE_RESOLVE] = CN_DEADLINE | CN_RESULT,
    [CA_REJECT] = CN_REASON,
    [CA_CLOSE] = 0,
    [CA_REOPEN] = CN_REASON,
};

const char *complaint_state_name(enum complaint_state s)
{
    return (unsigned)s < CS_COUNT ? state_names[s] : NULL;
}

const char *complaint_action_name(enum complaint_action a)
{
    return (unsigned)a < CA_COUNT ? action_names[a] : NULL;
}

bool complaint_state_parse(const char *name, enum complaint_state *out)
{
    for (unsigned i = 0; name && i < CS_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0)
            return *out = (enum complaint_state)i, true;
    return false;
}

bool complaint_action_parse(const char *name, enum complaint_action *out)
{
    for (unsigned i = 0; name && i < CA_COUNT; i++)
        if (strcmp(name, action_names[i]) == 0)
            return *out = (enum complaint_action)i, true;
    return false;
}

const struct complaint_transition *complaint_workflow_table(size_t *count)
{
    *count = NTABLE;
    return table;
}

unsigned complaint_action_needs(enum complaint_action a)
{
    return (unsigned)a < CA_COUNT ? needs[a] : 0;
}

enum complaint_wf_result complaint_workflow_check(enum complaint_state from,
                                                  enum complaint_action action, unsigned roles,
                                                  enum complaint_state *to)
{
    for (size_t i = 0; i < NTABLE; i++) {
        if (table[i].from != from || table[i].action != action)
            continue;
        if (!(table[i].roles & roles))
            return CWF_FORBIDDEN;
        *to = table[i].to;
        return CWF_OK;
    }
    return CWF_INVALID;
}

size_t complaint_workflow_allowed(enum complaint_state from, unsigned roles,
                                  enum complaint_action *out, size_t max)
{
    size_t n = 0;
    for (unsigned a = 0; a < CA_COUNT; a++) {
        enum complaint_state to;
        if (complaint_workflow_check(from, (enum complaint_action)a, roles, &to) == CWF_OK) {
            if (n < max)
                out[n] = (enum complaint_action)a;
            n++;
        }
    }
    return n;
}

bool complaint_reopen_reason_valid(const char *reason)
{
    return reason && (strcmp(reason, "dissatisfied") == 0 ||
                      strcmp(reason, "spot_check_failed") == 0 || strcmp(reason, "repeat") == 0);
}
