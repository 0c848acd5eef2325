/* complaint_workflow — the state machine of citizen complaints as one table:
 * state x action -> state, the roles that may take the action, and what the
 * action needs in its request.
 *
 *   received --assign--> assigned --start--> investigating
 *   investigating --resolve--> resolved        (办结: verdict + result)
 *   investigating --stage_resolve--> stage_resolved (阶段办结: new deadline)
 *   stage_resolved --resolve | stage_resolve--> …
 *   received | assigned | investigating --reject--> rejected (不受理: reason)
 *   resolved | rejected --close--> closed      (销号, after office review)
 *   resolved | closed --reopen--> investigating (reason: dissatisfied,
 *                                               spot_check_failed, repeat)
 *   assigned | investigating | stage_resolved --reassign--> assigned
 *                                               (another org; history kept)
 *
 * The database holds the same moves in complaint_status_transitions and
 * refuses any other status change (0030_complaints.sql). Row scope (a unit
 * acts only on complaints in its subtree) is RLS's job. Constant data:
 * thread-safe; returned strings are static. */
#ifndef RECTIFY_COMPLAINT_WORKFLOW_H
#define RECTIFY_COMPLAINT_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>

enum complaint_state {
    CS_RECEIVED,
    CS_ASSIGNED,
    CS_INVESTIGATING,
    CS_STAGE_RESOLVED,
    CS_RESOLVED,
    CS_REJECTED,
    CS_CLOSED,
    CS_COUNT
};

enum complaint_action {
    CA_ASSIGN,
    CA_REASSIGN,
    CA_START,
    CA_RESOLVE,
    CA_STAGE_RESOLVE,
    CA_REJECT,
    CA_CLOSE,
    CA_REOPEN,
    CA_COUNT
};

/* What the request body must carry for an action. */
enum complaint_needs {
    CN_ORG = 1u << 0,      /* responsible_org_id */
    CN_DEADLINE = 1u << 1, /* deadline */
    CN_REASON = 1u << 2,   /* reason */
    CN_VERDICT = 1u << 3,  /* verdict + result */
    CN_RESULT = 1u << 4,   /* result */
};

struct complaint_transition {
    enum complaint_state from;
    enum complaint_action action;
    enum complaint_state to;
    unsigned roles; /* ROLE_* bits */
};

enum complaint_wf_result { CWF_OK, CWF_INVALID, CWF_FORBIDDEN };

const char *complaint_state_name(enum complaint_state s);
const char *complaint_action_name(enum complaint_action a);
bool complaint_state_parse(const char *name, enum complaint_state *out);
bool complaint_action_parse(const char *name, enum complaint_action *out);
const struct complaint_transition *complaint_workflow_table(size_t *count);
unsigned complaint_action_needs(enum complaint_action a);

/* May a caller with roles take action in state from? *to gets the target. */
enum complaint_wf_result complaint_workflow_check(enum complaint_state from,
                                                  enum complaint_action action, unsigned roles,
                                                  enum complaint_state *to);
/* The actions the caller may take in from (enum order); returns the count. */
size_t complaint_workflow_allowed(enum complaint_state from, unsigned roles,
                                  enum complaint_action *out, size_t max);

/* reopen reasons: dissatisfied (群众不满意), spot_check_failed (抽查未通过),
 * repeat (重复举报). */
bool complaint_reopen_reason_valid(const char *reason);

#endif
