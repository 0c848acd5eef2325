/* task_workflow — THE transition table of rectification tasks.
 *
 * To change who may move a task, edit the table below (and the matrix in
 * tests/unit/test_task_workflow.c, which spells it out again on purpose).
 * A new move also needs its row in the database's task_status_transitions
 * (a new migration), which otherwise refuses the status change.
 *
 * Decisions worth knowing:
 *  - start, complete, request_acceptance: the responsible unit does them,
 *    and the office may do them on its behalf (整改办 drives everything).
 *  - reopen (重新纳入整改): the office and the leading group, after a spot
 *    check (抽查核验), a rebound or a faked rectification; from completed and
 *    every later state, so that a closed task comes back into the ledger.
 *  - the acceptance flow (验收销号): the office records a joint on-site
 *    check, or the one acceptance org its own (record_check); an acceptor
 *    whose org disagrees rejects the round (reject_acceptance); the leading
 *    group approves closing or returns the task; the office announces;
 *    the closing scan (no role) closes when the period ends. An upheld
 *    objection (office) and a failed spot check (office or inspector,
 *    through the spot-check route) are `reopen` moves with their reason.
 *  - admin administers the system and moves no task. */
#include "rectify/task_workflow.h"

#include "rectify/permissions.h"

#include <string.h>

static const char *const state_names[TASK_STATE_COUNT] = {
    [TASK_PENDING] = "pending",
    [TASK_IN_PROGRESS] = "in_progress",
    [TASK_COMPLETED] = "completed",
    [TASK_ACCEPTANCE_REQUESTED] = "acceptance_requested",
    [TASK_ACCEPTANCE_REVIEW] = "acceptance_review",
    [TASK_APPROVED] = "approved",
    [TASK_ANNOUNCED] = "announced",
    [TASK_CLOSED] = "closed",
};

static const char *const action_names[TASK_ACTION_COUNT] = {
    [TASK_START] = "start",
    [TASK_COMPLETE] = "complete",
    [TASK_REQUEST_ACCEPTANCE] = "request_acceptance",
    [TASK_REOPEN] = "reopen",
    [TASK_RECORD_CHECK] = "record_check",
    [TASK_REJECT_ACCEPTANCE] = "reject_acceptance",
    [TASK_APPROVE] = "approve",
    [TASK_RETURN_ACCEPTANCE] = "return_acceptance",
    [TASK_ANNOUNCE] = "announce",
    [TASK_CLOSE] = "close",
};

#define UNIT_OR_OFFICE (ROLE_UNIT | ROLE_OFFICE)
#define REOPENERS (ROLE_OFFICE | ROLE_LEADER)

static const struct task_transition table[] = {
    /* from                       action                   to                 roles */
    {TASK_PENDING,              TASK_START,              TASK_IN_PROGRESS,  UNIT_OR_OFFICE},
    {TASK_IN_PROGRESS,          TASK_COMPLETE,           TASK_COMPLETED,    UNIT_OR_OFFICE},
    {TASK_COMPLETED,            TASK_REQUEST_ACCEPTANCE, TASK_ACCEPTANCE_REQUESTED, UNIT_OR_OFFICE},
    {TASK_COMPLETED,            TASK_REOPEN,             TASK_IN_PROGRESS,  REOPENERS},
    {TASK_ACCEPTANCE_REQUESTED, TASK_REOPEN,             TASK_IN_PROGRESS,  REOPENERS},
    {TASK_ACCEPTANCE_REVIEW,    TASK_REOPEN,             TASK_IN_PROGRESS,  REOPENERS},
    {TASK_APPROVED,             TASK_REOPEN,             TASK_IN_PROGRESS,  REOPENERS},
    {TASK_ANNOUNCED,            TASK_REOPEN,             TASK_IN_PROGRESS,  REOPENERS},
    {TASK_CLOSED,               TASK_REOPEN,             TASK_IN_PROGRESS,  REOPENERS},
    {TASK_ACCEPTANCE_REQUESTED, TASK_RECORD_CHECK,       TASK_ACCEPTANCE_REVIEW, ROLE_OFFICE | ROLE_ACCEPTOR},
    {TASK_ACCEPTANCE_REVIEW,    TASK_REJECT_ACCEPTANCE,  TASK_IN_PROGRESS,  ROLE_ACCEPTOR},
    {TASK_ACCEPTANCE_REVIEW,    TASK_APPROVE,            TASK_APPROVED,     ROLE_LEADER},
    {TASK_ACCEPTANCE_REVIEW,    TASK_RETURN_ACCEPTANCE,  TASK_IN_PROGRESS,  ROLE_LEADER},
    {TASK_APPROVED,             TASK_ANNOUNCE,           TASK_ANNOUNCED,    ROLE_OFFICE},
    {TASK_ANNOUNCED,            TASK_CLOSE,              TASK_CLOSED,       0},
};
#define TABLE_LEN (sizeof table / sizeof table[0])

const char *const task_reopen_reasons[] = {"rebound", "faked", "spot_check_failed", NULL};

const char *task_state_name(enum task_state s)
{
    return (unsigned)s < TASK_STATE_COUNT ? state_names[s] : NULL;
}

const char *task_action_name(enum task_action a)
{
    return (unsigned)a < TASK_ACTION_COUNT ? action_names[a] : NULL;
}

bool task_state_parse(const char *name, enum task_state *out)
{
    for (unsigned i = 0; name && i < TASK_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum task_state)i;
            return true;
        }
    return false;
}

bool task_action_parse(const char *name, enum task_action *out)
{
    for (unsigned i = 0; name && i < TASK_ACTION_COUNT; i++)
        if (strcmp(name, action_names[i]) == 0) {
            *out = (enum task_action)i;
            return true;
        }
    return false;
}

const struct task_transition *task_workflow_table(size_t *count)
{
    *count = TABLE_LEN;
    return table;
}

static const struct task_transition *find(enum task_state from, enum task_action action)
{
    for (size_t i = 0; i < TABLE_LEN; i++)
        if (table[i].from == from && table[i].action == action)
            return &table[i];
    return NULL;
}

enum task_wf_result task_workflow_check(enum task_state from, enum task_action action,
                                        unsigned roles, enum task_state *to)
{
    const struct task_transition *t = find(from, action);
    if (!t)
        return TASK_WF_INVALID;
    if (!(t->roles & roles & ROLE_ALL))
        return TASK_WF_FORBIDDEN;
    if (to)
        *to = t->to;
    return TASK_WF_OK;
}

size_t task_workflow_allowed(enum task_state from, unsigned roles, enum task_action *out,
                             size_t max)
{
    size_t n = 0;
    for (unsigned a = 0; a < TASK_ACTION_COUNT; a++) {
        if (task_workflow_check(from, (enum task_action)a, roles, NULL) != TASK_WF_OK)
            continue;
        if (n < max)
            out[n] = (enum task_action)a;
        n++;
    }
    return n;
}

size_t task_workflow_moves(enum task_action action, unsigned roles, enum task_state *from,
                           enum task_state *to)
{
    size_t n = 0;
    for (size_t i = 0; i < TABLE_LEN && n < TASK_STATE_COUNT; i++) {
        if (table[i].action != action || !(table[i].roles & roles & ROLE_ALL))
            continue;
        from[n] = table[i].from;
        to[n] = table[i].to;
        n++;
    }
    return n;
}

bool task_action_needs_reason(enum task_action a)
{
    return a == TASK_REOPEN;
}

bool task_reopen_reason_valid(const char *reason)
{
    for (const char *const *p = task_reopen_reasons; reason && *p; p++)
        if (strcmp(*p, reason) == 0)
            return true;
    return false;
}
