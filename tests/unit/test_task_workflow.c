/* The task transition table, spelled out again: every state x action x role. */
#include "rectify/permissions.h"
#include "rectify/task_workflow.h"

#include "unit.h"

/* Expected target state per (state, action), -1 = invalid; and the roles
 * (0 = the system only: the closing scan). */
#define X (-1)
#define IP TASK_IN_PROGRESS
static const int expected_to[TASK_STATE_COUNT][TASK_ACTION_COUNT] = {
    /*                          start             complete         request_acc.               reopen  record_check            reject  approve        return  announce        close */
    [TASK_PENDING]              = {TASK_IN_PROGRESS, X,              X,                         X,  X,                      X,  X,             X,  X,              X},
    [TASK_IN_PROGRESS]          = {X,                TASK_COMPLETED, X,                         X,  X,                      X,  X,             X,  X,              X},
    [TASK_COMPLETED]            = {X,                X,              TASK_ACCEPTANCE_REQUESTED, IP, X,                      X,  X,             X,  X,              X},
    [TASK_ACCEPTANCE_REQUESTED] = {X,                X,              X,                         IP, TASK_ACCEPTANCE_REVIEW, X,  X,             X,  X,              X},
    [TASK_ACCEPTANCE_REVIEW]    = {X,                X,              X,                         IP, X,                      IP, TASK_APPROVED, IP, X,              X},
    [TASK_APPROVED]             = {X,                X,              X,                         IP, X,                      X,  X,             X,  TASK_ANNOUNCED, X},
    [TASK_ANNOUNCED]            = {X,                X,              X,                         IP, X,                      X,  X,             X,  X,              TASK_CLOSED},
    [TASK_CLOSED]               = {X,                X,              X,                         IP, X,                      X,  X,             X,  X,              X},
};
static const unsigned expected_roles[TASK_ACTION_COUNT] = {
    [TASK_START] = ROLE_UNIT | ROLE_OFFICE,
    [TASK_COMPLETE] = ROLE_UNIT | ROLE_OFFICE,
    [TASK_REQUEST_ACCEPTANCE] = ROLE_UNIT | ROLE_OFFICE,
    [TASK_REOPEN] = ROLE_OFFICE | ROLE_LEADER,
    [TASK_RECORD_CHECK] = ROLE_OFFICE | ROLE_ACCEPTOR,
    [TASK_REJECT_ACCEPTANCE] = ROLE_ACCEPTOR,
    [TASK_APPROVE] = ROLE_LEADER,
    [TASK_RETURN_ACCEPTANCE] = ROLE_LEADER,
    [TASK_ANNOUNCE] = ROLE_OFFICE,
    [TASK_CLOSE] = 0,
};

static void test_matrix(void)
{
    for (unsigned s = 0; s < TASK_STATE_COUNT; s++)
        for (unsigned a = 0; a < TASK_ACTION_COUNT; a++)
            for (unsigned bit = 0; bit < ROLE_COUNT; bit++) {
                unsigned role = 1u << bit;
                enum task_state to = TASK_STATE_COUNT;
                enum task_wf_result r = task_workflow_check(s, a, role, &to);
                if (expected_to[s][a] == X) {
                    CHECK_INT(r, TASK_WF_INVALID);
                } else if (expected_roles[a] & role) {
                    CHECK_INT(r, TASK_WF_OK);
                    CHECK_INT(to, expected_to[s][a]);
                } else {
                    CHECK_INT(r, TASK_WF_FORBIDDEN);
                }
            }
    /* Several roles: any one suffices; no role at all never does. */
    CHECK_INT(task_workflow_check(TASK_PENDING, TASK_START, ROLE_VIEWER | ROLE_UNIT, NULL), TASK_WF_OK);
    CHECK_INT(task_workflow_check(TASK_PENDING, TASK_START, 0, NULL), TASK_WF_FORBIDDEN);
    CHECK_INT(task_workflow_check(TASK_PENDING, TASK_START, 1u << 20, NULL), TASK_WF_FORBIDDEN);
    /* Out-of-range input is invalid, not a crash. */
    CHECK_INT(task_workflow_check(TASK_STATE_COUNT, TASK_START, ROLE_ALL, NULL), TASK_WF_INVALID);
    CHECK_INT(task_workflow_check(TASK_PENDING, TASK_ACTION_COUNT, ROLE_ALL, NULL), TASK_WF_INVALID);
}

static void test_table_consistent(void)
{
    size_t n;
    const struct task_transition *t = task_workflow_table(&n);
    CHECK_INT(n, 15);
    for (size_t i = 0; i < n; i++) {
        CHECK(t[i].from != t[i].to);
        CHECK(t[i].roles != 0 || t[i].action == TASK_CLOSE); /* only the scan has no role */
        CHECK((t[i].roles & ~ROLE_ALL) == 0);
        for (size_t j = 0; j < i; j++) /* state x action is a function */
            CHECK(!(t[i].from == t[j].from && t[i].action == t[j].action));
    }
}

static void test_names(void)
{
    static const char *const states[] = {"pending", "in_progress", "completed",
                                         "acceptance_requested", "acceptance_review",
                                         "approved", "announced", "closed"};
    for (unsigned s = 0; s < TASK_STATE_COUNT; s++) {
        enum task_state back;
        CHECK_STR(task_state_name(s), states[s]);
        CHECK(task_state_parse(states[s], &back) && back == s);
    }
    enum task_state st;
    enum task_action ac;
    CHECK(!task_state_parse("Pending", &st));
    CHECK(!task_state_parse("", &st));
    CHECK(!task_state_parse(NULL, &st));
    CHECK(task_state_name(TASK_STATE_COUNT) == NULL);
    CHECK(task_action_parse("request_acceptance", &ac) && ac == TASK_REQUEST_ACCEPTANCE);
    CHECK(task_action_parse("reopen", &ac) && ac == TASK_REOPEN);
    CHECK(task_action_parse("close", &ac) && ac == TASK_CLOSE);
    CHECK(!task_action_parse("closed", &ac));
    static const char *const actions[] = {"start", "complete", "request_acceptance", "reopen",
                                          "record_check", "reject_acceptance", "approve",
                                          "return_acceptance", "announce", "close"};
    for (unsigned a = 0; a < TASK_ACTION_COUNT; a++)
        CHECK_STR(task_action_name(a), actions[a]);
    CHECK(!task_action_parse(NULL, &ac));
    CHECK_STR(task_action_name(TASK_COMPLETE), "complete");
    CHECK(task_action_name(TASK_ACTION_COUNT) == NULL);
}

static void test_allowed_and_moves(void)
{
    enum task_action out[TASK_ACTION_COUNT];
    CHECK_INT(task_workflow_allowed(TASK_COMPLETED, ROLE_UNIT, out, TASK_ACTION_COUNT), 1);
    CHECK_INT(out[0], TASK_REQUEST_ACCEPTANCE);
    CHECK_INT(task_workflow_allowed(TASK_COMPLETED, ROLE_OFFICE, out, TASK_ACTION_COUNT), 2);
    CHECK_INT(out[0], TASK_REQUEST_ACCEPTANCE);
    CHECK_INT(out[1], TASK_REOPEN);
    CHECK_INT(task_workflow_allowed(TASK_CLOSED, ROLE_UNIT, out, TASK_ACTION_COUNT), 0);
    CHECK_INT(task_workflow_allowed(TASK_CLOSED, ROLE_LEADER, out, TASK_ACTION_COUNT), 1);
    CHECK_INT(task_workflow_allowed(TASK_PENDING, ROLE_VIEWER, out, TASK_ACTION_COUNT), 0);
    /* the acceptance flow: the leader decides, the acceptor may reject, nobody closes by hand */
    CHECK_INT(task_workflow_allowed(TASK_ACCEPTANCE_REVIEW, ROLE_LEADER, out, TASK_ACTION_COUNT), 3);
    CHECK_INT(out[0], TASK_REOPEN);
    CHECK_INT(out[1], TASK_APPROVE);
    CHECK_INT(out[2], TASK_RETURN_ACCEPTANCE);
    CHECK_INT(task_workflow_allowed(TASK_ACCEPTANCE_REVIEW, ROLE_ACCEPTOR, out, TASK_ACTION_COUNT), 1);
    CHECK_INT(out[0], TASK_REJECT_ACCEPTANCE);
    CHECK_INT(task_workflow_allowed(TASK_ANNOUNCED, ROLE_ALL & ~(ROLE_OFFICE | ROLE_LEADER), out,
                                    TASK_ACTION_COUNT), 0);
    CHECK_INT(task_workflow_check(TASK_ANNOUNCED, TASK_CLOSE, ROLE_ALL, NULL), TASK_WF_FORBIDDEN);
    /* max smaller than the count: count returned, out not overrun */
    enum task_action one[1] = {TASK_ACTION_COUNT};
    CHECK_INT(task_workflow_allowed(TASK_COMPLETED, ROLE_OFFICE, one, 1), 2);
    CHECK_INT(one[0], TASK_REQUEST_ACCEPTANCE);

    enum task_state from[TASK_STATE_COUNT], to[TASK_STATE_COUNT];
    CHECK_INT(task_workflow_moves(TASK_REOPEN, ROLE_OFFICE, from, to), 6);
    for (int i = 0; i < 6; i++)
        CHECK_INT(to[i], TASK_IN_PROGRESS);
    CHECK_INT(task_workflow_moves(TASK_REOPEN, ROLE_UNIT, from, to), 0);
    CHECK_INT(task_workflow_moves(TASK_START, ROLE_UNIT, from, to), 1);
    CHECK_INT(from[0], TASK_PENDING);
}

static void test_reasons(void)
{
    CHECK(task_action_needs_reason(TASK_REOPEN));
    CHECK(!task_action_needs_reason(TASK_START));
    CHECK(task_reopen_reason_valid("rebound"));
    CHECK(task_reopen_reason_valid("faked"));
    CHECK(task_reopen_reason_valid("spot_check_failed"));
    CHECK(!task_reopen_reason_valid("other"));
    CHECK(!task_reopen_reason_valid(""));
    CHECK(!task_reopen_reason_valid(NULL));
}

int main(void)
{
    test_matrix();
    test_table_consistent();
    test_names();
    test_allowed_and_moves();
    test_reasons();
    return UNIT_DONE();
}
