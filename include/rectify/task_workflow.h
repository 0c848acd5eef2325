/* task_workflow — the state machine of rectification tasks as one table:
 * state x action -> state, and the roles that may take the action.
 *
 * States and their meaning are documented at the top of
 * sql/migrations/0011_ledger.sql; the database holds the same moves in
 * task_status_transitions (plus those of later issues) and refuses any other
 * status change, so this table decides who may do what and the database
 * guarantees what may happen at all.
 *
 * Row scoping is not decided here: a `unit` user acts only on tasks led by
 * its org subtree (checked by the SQL statement). Everything is constant
 * data: thread-safe, no allocation; returned strings are static. */
#ifndef RECTIFY_TASK_WORKFLOW_H
#define RECTIFY_TASK_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>

enum task_state {
    TASK_PENDING,
    TASK_IN_PROGRESS,
    TASK_COMPLETED,
    TASK_ACCEPTANCE_REQUESTED,
    TASK_ACCEPTANCE_REVIEW,
    TASK_APPROVED,
    TASK_ANNOUNCED,
    TASK_CLOSED,
    TASK_STATE_COUNT
};

enum task_action {
    TASK_START,              /* pending -> in_progress */
    TASK_COMPLETE,           /* in_progress -> completed (the unit declares it done) */
    TASK_REQUEST_ACCEPTANCE, /* completed -> acceptance_requested */
    TASK_REOPEN,             /* completed or later -> in_progress, with a reason */
    /* The acceptance flow (src/api/acceptance.c, one route per step; the
     * SQL functions of 0044_acceptance.sql also check the org: 谁验收谁负责): */
    TASK_RECORD_CHECK,       /* acceptance_requested -> acceptance_review (现场核查) */
    TASK_REJECT_ACCEPTANCE,  /* acceptance_review -> in_progress (an org disagreed) */
    TASK_APPROVE,            /* acceptance_review -> approved (同意销号) */
    TASK_RETURN_ACCEPTANCE,  /* acceptance_review -> in_progress (the leading group returned it) */
    TASK_ANNOUNCE,           /* approved -> announced (公示) */
    TASK_CLOSE,              /* announced -> closed: the scan, no role (roles 0) */
    TASK_ACTION_COUNT
};

struct task_transition {
    enum task_state from;
    enum task_action action;
    enum task_state to;
    unsigned roles; /* ROLE_* bits (permissions.h) allowed to take it; 0 = the system only */
};

enum task_wf_result {
    TASK_WF_OK,        /* allowed: *to is the new state */
    TASK_WF_INVALID,   /* the action does not apply to this state (409) */
    TASK_WF_FORBIDDEN, /* it applies, but none of the caller's roles may take it (403) */
};

/* Names: "pending", …; "start", …. NULL when out of range. */
const char *task_state_name(enum task_state s);
const char *task_action_name(enum task_action a);
/* Exact lowercase names; false when unknown or NULL. */
bool task_state_parse(const char *name, enum task_state *out);
bool task_action_parse(const char *name, enum task_action *out);

/* The whole table (for tests and docs). */
const struct task_transition *task_workflow_table(size_t *count);

/* May a caller with roles take action in state from? */
enum task_wf_result task_workflow_check(enum task_state from, enum task_action action,
                                        unsigned roles, enum task_state *to);

/* The actions the caller may take in state from, in enum order: writes up to
 * max of them to out and returns how many there are. */
size_t task_workflow_allowed(enum task_state from, unsigned roles, enum task_action *out,
                             size_t max);

/* The states an action leads away from, and where to, for a caller: fills
 * from[]/to[] (size TASK_STATE_COUNT) and returns the count. Used to hand the
 * applicable moves to the SQL statement. */
size_t task_workflow_moves(enum task_action action, unsigned roles, enum task_state *from,
                           enum task_state *to);

/* reopen needs a reason: "rebound" (问题反弹), "faked" (弄虚作假),
 * "spot_check_failed" (抽查核验未通过). */
bool task_action_needs_reason(enum task_action a);
bool task_reopen_reason_valid(const char *reason);
extern const char *const task_reopen_reasons[]; /* NULL-terminated */

#endif
