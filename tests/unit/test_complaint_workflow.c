/* The complaint transition table, written out again as a matrix, and the
 * database's complaint_status_transitions kept as a superset of it. */
#include "unit.h"

#include "rectify/complaint_workflow.h"
#include "rectify/permissions.h"

static void test_names(void)
{
    for (unsigned s = 0; s < CS_COUNT; s++) {
        enum complaint_state back;
        CHECK(complaint_state_parse(complaint_state_name((enum complaint_state)s), &back));
        CHECK_INT(back, s);
    }
    for (unsigned a = 0; a < CA_COUNT; a++) {
        enum complaint_action back;
        CHECK(complaint_action_parse(complaint_action_name((enum complaint_action)a), &back));
        CHECK_INT(back, a);
    }
    enum complaint_action a;
    CHECK(!complaint_action_parse("Assign", &a));
    CHECK(!complaint_action_parse(NULL, &a));
    CHECK(complaint_state_name(CS_COUNT) == NULL);
}

static void expect(enum complaint_state from, enum complaint_action a, unsigned roles,
                   enum complaint_wf_result want, enum complaint_state want_to)
{
    enum complaint_state to = CS_COUNT;
    enum complaint_wf_result got = complaint_workflow_check(from, a, roles, &to);
    if (got != want)
        fprintf(stderr, "%s --%s--> roles %x: got %d want %d\n", complaint_state_name(from),
                complaint_action_name(a), roles, got, want);
    CHECK_INT(got, want);
    if (want == CWF_OK)
        CHECK_INT(to, want_to);
}

static void test_matrix(void)
{
    expect(CS_RECEIVED, CA_ASSIGN, ROLE_OFFICE, CWF_OK, CS_ASSIGNED);
    expect(CS_RECEIVED, CA_ASSIGN, ROLE_UNIT, CWF_FORBIDDEN, 0);
    expect(CS_RECEIVED, CA_START, ROLE_OFFICE, CWF_INVALID, 0);
    expect(CS_ASSIGNED, CA_START, ROLE_UNIT, CWF_OK, CS_INVESTIGATING);
    expect(CS_ASSIGNED, CA_START, ROLE_VIEWER, CWF_FORBIDDEN, 0);
    expect(CS_INVESTIGATING, CA_RESOLVE, ROLE_UNIT, CWF_OK, CS_RESOLVED);
    expect(CS_INVESTIGATING, CA_STAGE_RESOLVE, ROLE_UNIT, CWF_OK, CS_STAGE_RESOLVED);
    expect(CS_STAGE_RESOLVED, CA_RESOLVE, ROLE_UNIT, CWF_OK, CS_RESOLVED);
    expect(CS_INVESTIGATING, CA_REJECT, ROLE_UNIT, CWF_OK, CS_REJECTED);
    expect(CS_RECEIVED, CA_REJECT, ROLE_UNIT, CWF_FORBIDDEN, 0);
    expect(CS_RESOLVED, CA_CLOSE, ROLE_OFFICE, CWF_OK, CS_CLOSED);
    expect(CS_RESOLVED, CA_CLOSE, ROLE_UNIT, CWF_FORBIDDEN, 0);
    expect(CS_REJECTED, CA_CLOSE, ROLE_ADMIN, CWF_OK, CS_CLOSED);
    expect(CS_CLOSED, CA_REOPEN, ROLE_OFFICE, CWF_OK, CS_INVESTIGATING);
    expect(CS_CLOSED, CA_CLOSE, ROLE_OFFICE, CWF_INVALID, 0);
    expect(CS_INVESTIGATING, CA_REASSIGN, ROLE_OFFICE, CWF_OK, CS_ASSIGNED);
    expect(CS_RESOLVED, CA_REASSIGN, ROLE_OFFICE, CWF_INVALID, 0);
    expect(CS_CLOSED, CA_RESOLVE, ROLE_ADMIN | ROLE_OFFICE | ROLE_UNIT, CWF_INVALID, 0);
    /* the leading group reads, it does not handle complaints */
    for (unsigned s = 0; s < CS_COUNT; s++)
        for (unsigned a = 0; a < CA_COUNT; a++) {
            enum complaint_state to;
            CHECK(complaint_workflow_check((enum complaint_state)s, (enum complaint_action)a,
                                           ROLE_LEADER | ROLE_VIEWER | ROLE_INSPECTOR, &to) !=
                  CWF_OK);
        }
}

static void test_allowed_and_needs(void)
{
    enum complaint_action out[CA_COUNT];
    size_t n = complaint_workflow_allowed(CS_INVESTIGATING, ROLE_UNIT, out, CA_COUNT);
    CHECK_INT(n, 3);
    CHECK_INT(out[0], CA_RESOLVE);
    CHECK_INT(out[1], CA_STAGE_RESOLVE);
    CHECK_INT(out[2], CA_REJECT);
    n = complaint_workflow_allowed(CS_INVESTIGATING, ROLE_OFFICE, out, CA_COUNT);
    CHECK_INT(n, 4); /* + reassign */
    CHECK_INT(complaint_workflow_allowed(CS_CLOSED, ROLE_UNIT, out, CA_COUNT), 0);
    CHECK(complaint_action_needs(CA_ASSIGN) == (CN_ORG | CN_DEADLINE));
    CHECK(complaint_action_needs(CA_RESOLVE) & CN_VERDICT);
    CHECK(complaint_action_needs(CA_REJECT) == CN_REASON);
    CHECK(complaint_reopen_reason_valid("dissatisfied"));
    CHECK(complaint_reopen_reason_valid("spot_check_failed"));
    CHECK(complaint_reopen_reason_valid("repeat"));
    CHECK(!complaint_reopen_reason_valid("bored"));
    CHECK(!complaint_reopen_reason_valid(NULL));
}

/* Every move of the C table must be one the database accepts
 * (0030_complaints.sql, complaint_status_transitions), written again here. */
static void test_database_superset(void)
{
    static const char *const db[][2] = {
        {"received", "assigned"}, {"assigned", "assigned"}, {"investigating", "assigned"},
        {"stage_resolved", "assigned"}, {"assigned", "investigating"},
        {"investigating", "resolved"}, {"investigating", "stage_resolved"},
        {"investigating", "rejected"}, {"assigned", "rejected"}, {"received", "rejected"},
        {"stage_resolved", "investigating"}, {"stage_resolved", "resolved"},
        {"resolved", "closed"}, {"rejected", "closed"}, {"resolved", "investigating"},
        {"closed", "investigating"}, {"stage_resolved", "stage_resolved"},
    };
    size_t n;
    const struct complaint_transition *t = complaint_workflow_table(&n);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t k = 0; k < sizeof db / sizeof db[0] && !found; k++)
            found = strcmp(db[k][0], complaint_state_name(t[i].from)) == 0 &&
                    strcmp(db[k][1], complaint_state_name(t[i].to)) == 0;
        if (!found)
            fprintf(stderr, "move %s -> %s missing in the database table\n",
                    complaint_state_name(t[i].from), complaint_state_name(t[i].to));
        CHECK(found);
    }
}

int main(void)
{
    test_names();
    test_matrix();
    test_allowed_and_needs();
    test_database_superset();
    return UNIT_DONE();
}
