/* Unit tests for src/auth/permissions.c.  The whole role x action matrix is
 * written out here a second time, as a list of the roles allowed per
 * action: a change to the table must be made in both places. */
#include "rectify/permissions.h"
#include "unit.h"

#include <string.h>

struct expect {
    enum perm perm;
    const char *name;
    const char *allowed; /* comma-separated role names, in role-bit order */
};

#define EVERYONE "admin,office,leader,unit,acceptor,inspector,discipline,integration,viewer"

static const struct expect matrix[] = {
    {PERM_PUBLIC, "public", EVERYONE},
    {PERM_AUTHENTICATED, "authenticated", EVERYONE},
    {PERM_ORG_READ, "org.read", EVERYONE},
    {PERM_ORG_WRITE, "org.write", "admin"},
    {PERM_USER_READ, "user.read", "admin,office"},
    {PERM_USER_WRITE, "user.write", "admin,office"},
    {PERM_AUDIT_READ, "audit.read", "admin,office,discipline"},
    {PERM_LEDGER_READ, "ledger.read",
     "admin,office,leader,unit,acceptor,inspector,discipline,viewer"},
    {PERM_LEDGER_WRITE, "ledger.write", "admin,office"},
    {PERM_TASK_REPORT, "task.report", "office,unit"},
    {PERM_TASK_TRANSITION, "task.transition", "office,leader,unit,acceptor"},
    {PERM_EXTENSION_APPROVE, "extension.approve", "office"},
    {PERM_COMPLAINT_READ, "complaint.read", EVERYONE},
    {PERM_COMPLAINT_WRITE, "complaint.write", "admin,office,unit"},
    {PERM_COMPLAINT_IMPORT, "complaint.import", "admin,office,integration"},
    {PERM_COMPLAINANT_PII, "complainant.pii", "admin,office"},
    {PERM_CLUE_READ, "clue.read", "office,discipline"},
    {PERM_CLUE_WRITE, "clue.write", "office,discipline"},
    {PERM_INSPECTION_WRITE, "inspection.write", "office,inspector"},
    {PERM_ACCEPTANCE_WRITE, "acceptance.write", "office,leader,acceptor"},
    {PERM_APPROVE, "approve", "leader"},
    {PERM_DISPATCH_WRITE, "dispatch.write", "office"},
    {PERM_SUPERVISION_WRITE, "supervision.write", "office,leader"},
    {PERM_PUBLISH, "publish", "office"},
    {PERM_ATTACHMENT_WRITE, "attachment.write", "office,unit,acceptor,inspector,discipline"},
    {PERM_JOBS_READ, "jobs.read", "admin,office"},
    {PERM_JOBS_WRITE, "jobs.write", "admin,office"},
};

static const struct { unsigned bit; const char *name; } roles[] = {
    {ROLE_ADMIN, "admin"},       {ROLE_OFFICE, "office"},
    {ROLE_LEADER, "leader"},     {ROLE_UNIT, "unit"},
    {ROLE_ACCEPTOR, "acceptor"}, {ROLE_INSPECTOR, "inspector"},
    {ROLE_DISCIPLINE, "discipline"}, {ROLE_INTEGRATION, "integration"},
    {ROLE_VIEWER, "viewer"},
};
#define NROLES (sizeof roles / sizeof roles[0])

/* Is `role` one of the comma-separated names in `list`? */
static bool listed(const char *list, const char *role)
{
    size_t n = strlen(role);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, role, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

static void test_roles(void)
{
    CHECK_INT(NROLES, ROLE_COUNT);
    unsigned all = 0;
    for (size_t i = 0; i < NROLES; i++) {
        CHECK_INT(perm_role_from_name(roles[i].name), roles[i].bit);
        CHECK_STR(perm_role_name(roles[i].bit), roles[i].name);
        CHECK((roles[i].bit & all) == 0); /* distinct bits */
        all |= roles[i].bit;
    }
    CHECK_INT(all, ROLE_ALL);
    CHECK_INT(perm_role_from_name("Admin"), 0); /* exact match only */
    CHECK_INT(perm_role_from_name("root"), 0);
    CHECK_INT(perm_role_from_name(""), 0);
    CHECK_INT(perm_role_from_name(NULL), 0);
    CHECK(perm_role_name(0) == NULL);
    CHECK(perm_role_name(ROLE_ADMIN | ROLE_OFFICE) == NULL);
    CHECK(perm_role_name(1u << 20) == NULL);
}

static void test_csv(void)
{
    char buf[256];
    CHECK_INT(perm_roles_to_csv(0, buf, sizeof buf), 0);
    CHECK_STR(buf, "");
    CHECK_INT(perm_roles_to_csv(ROLE_UNIT, buf, sizeof buf), 4);
    CHECK_STR(buf, "unit");
    CHECK_INT(perm_roles_to_csv(ROLE_VIEWER | ROLE_ADMIN | ROLE_UNIT, buf, sizeof buf), 17);
    CHECK_STR(buf, "admin,unit,viewer");
    CHECK_INT(perm_roles_to_csv(ROLE_ALL | (1u << 30), buf, sizeof buf),
              (int)strlen(EVERYONE));
    CHECK_STR(buf, EVERYONE);
    /* exact fit and one byte short */
    char small[11];
    CHECK_INT(perm_roles_to_csv(ROLE_ADMIN | ROLE_UNIT, small, 11), 10);
    CHECK_STR(small, "admin,unit");
    CHECK_INT(perm_roles_to_csv(ROLE_ADMIN | ROLE_UNIT, small, 10), -1);
    CHECK_STR(small, "");
    CHECK_INT(perm_roles_to_csv(ROLE_ADMIN, small, 0), -1);
    CHECK_INT(perm_roles_to_csv(ROLE_ADMIN, NULL, 10), -1);
}

static void test_matrix(void)
{
    CHECK_INT(sizeof matrix / sizeof matrix[0], PERM_COUNT);
    for (size_t i = 0; i < sizeof matrix / sizeof matrix[0]; i++) {
        const struct expect *e = &matrix[i];
        CHECK_INT(e->perm, i); /* rows in enum order: none forgotten */
        CHECK_STR(perm_name(e->perm), e->name);
        for (size_t r = 0; r < NROLES; r++) {
            bool want = listed(e->allowed, roles[r].name);
            bool got = perm_allows(roles[r].bit, e->perm);
            if (want != got)
                fprintf(stderr, "matrix: %s x %s: want %d got %d\n", e->name,
                        roles[r].name, want, got);
            CHECK(want == got);
            /* combined with any other role the answer can only widen */
            for (size_t o = 0; o < NROLES; o++)
                CHECK(perm_allows(roles[r].bit | roles[o].bit, e->perm) ==
                      (want || listed(e->allowed, roles[o].name)));
        }
        /* no role at all: only the public action */
        CHECK(perm_allows(0, e->perm) == (e->perm == PERM_PUBLIC));
        /* unknown bits grant nothing */
        CHECK(perm_allows(1u << 30, e->perm) == (e->perm == PERM_PUBLIC));
    }
    CHECK(!perm_allows(ROLE_ALL, PERM_COUNT));
    CHECK(!perm_allows(ROLE_ALL, (enum perm)-1));
    CHECK_STR(perm_name(PERM_COUNT), "unknown");
    CHECK_STR(perm_name((enum perm)999), "unknown");
}

int main(void)
{
    test_roles();
    test_csv();
    test_matrix();
    return UNIT_DONE();
}
