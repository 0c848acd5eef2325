/* permissions — roles and THE permission table.
 *
 * To change who may do what, edit the one table below: one row per action,
 * one column per role, 1 = allowed.  tests/unit/test_permissions.c holds the
 * same matrix written out again, so every change shows up in two places
 * on purpose. */
#include "rectify/permissions.h"

#include <string.h>

static const char *const role_names[ROLE_COUNT] = {
    "admin", "office", "leader", "unit", "acceptor",
    "inspector", "discipline", "integration", "viewer",
};

_Static_assert(ROLE_VIEWER == 1u << (ROLE_COUNT - 1), "ROLE_COUNT out of date");

struct perm_row {
    const char *name;
    unsigned roles;
};

#define ROW(p, name, adm, off, ldr, unt, acc, ins, dis, itg, vie)         \
    [p] = {name, (adm ? ROLE_ADMIN : 0u) | (off ? ROLE_OFFICE : 0u) |      \
                     (ldr ? ROLE_LEADER : 0u) | (unt ? ROLE_UNIT : 0u) |   \
                     (acc ? ROLE_ACCEPTOR : 0u) |                          \
                     (ins ? ROLE_INSPECTOR : 0u) |                         \
                     (dis ? ROLE_DISCIPLINE : 0u) |                        \
                     (itg ? ROLE_INTEGRATION : 0u) | (vie ? ROLE_VIEWER : 0u)}

/* Decisions worth knowing:
 *  - integration clients (machines) get only what they need: the org tree
 *    to map codes, complaint import and reading complaints back; they push
 *    nothing into the ledger and read no ledger (webhooks carry news).
 *  - complainants' personal data: office and admin only; everyone else
 *    reading complaints gets them without PII.
 *  - clues (纪委): discipline and office only, not even admin.
 *  - evidence files are uploaded by whoever produces evidence: units
 *    (reports, complaint handling), acceptors, inspectors, discipline and
 *    the office; not admin, leader, integration or viewer.  The attachments
 *    INSERT policy (0010_attachments.sql) names the same roles.
 *  - PERM_PUBLIC is special-cased in perm_allows() (also for no token). */
static const struct perm_row perm_table[PERM_COUNT] = {
    /*                                                adm off ldr unt acc ins dis itg vie */
    ROW(PERM_PUBLIC,            "public",              1,  1,  1,  1,  1,  1,  1,  1,  1),
    ROW(PERM_AUTHENTICATED,     "authenticated",       1,  1,  1,  1,  1,  1,  1,  1,  1),
    ROW(PERM_ORG_READ,          "org.read",            1,  1,  1,  1,  1,  1,  1,  1,  1),
    ROW(PERM_ORG_WRITE,         "org.write",           1,  0,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_USER_READ,         "user.read",           1,  1,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_USER_WRITE,        "user.write",          1,  1,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_AUDIT_READ,        "audit.read",          1,  1,  0,  0,  0,  0,  1,  0,  0),
    ROW(PERM_LEDGER_READ,       "ledger.read",         1,  1,  1,  1,  1,  1,  1,  0,  1),
    ROW(PERM_LEDGER_WRITE,      "ledger.write",        1,  1,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_TASK_REPORT,       "task.report",         0,  1,  0,  1,  0,  0,  0,  0,  0),
    ROW(PERM_TASK_TRANSITION,   "task.transition",     0,  1,  1,  1,  1,  0,  0,  0,  0),
    ROW(PERM_EXTENSION_APPROVE, "extension.approve",   0,  1,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_COMPLAINT_READ,    "complaint.read",      1,  1,  1,  1,  1,  1,  1,  1,  1),
    ROW(PERM_COMPLAINT_WRITE,   "complaint.write",     1,  1,  0,  1,  0,  0,  0,  0,  0),
    ROW(PERM_COMPLAINT_IMPORT,  "complaint.import",    1,  1,  0,  0,  0,  0,  0,  1,  0),
    ROW(PERM_COMPLAINANT_PII,   "complainant.pii",     1,  1,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_CLUE_READ,         "clue.read",           0,  1,  0,  0,  0,  0,  1,  0,  0),
    ROW(PERM_CLUE_WRITE,        "clue.write",          0,  1,  0,  0,  0,  0,  1,  0,  0),
    ROW(PERM_INSPECTION_WRITE,  "inspection.write",    0,  1,  0,  0,  0,  1,  0,  0,  0),
    ROW(PERM_ACCEPTANCE_WRITE,  "acceptance.write",    0,  1,  1,  0,  1,  0,  0,  0,  0),
    ROW(PERM_APPROVE,           "approve",             0,  0,  1,  0,  0,  0,  0,  0,  0),
    ROW(PERM_DISPATCH_WRITE,    "dispatch.write",      0,  1,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_SUPERVISION_WRITE, "supervision.write",   0,  1,  1,  0,  0,  0,  0,  0,  0),
    ROW(PERM_PUBLISH,           "publish",             0,  1,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_ATTACHMENT_WRITE,  "attachment.write",    0,  1,  0,  1,  1,  1,  1,  0,  0),
    ROW(PERM_JOBS_READ,         "jobs.read",           1,  1,  0,  0,  0,  0,  0,  0,  0),
    ROW(PERM_JOBS_WRITE,        "jobs.write",          1,  1,  0,  0,  0,  0,  0,  0,  0),
};

#undef ROW

unsigned perm_role_from_name(const char *name)
{
    if (!name)
        return 0;
    for (unsigned i = 0; i < ROLE_COUNT; i++)
        if (strcmp(name, role_names[i]) == 0)
            return 1u << i;
    return 0;
}

const char *perm_role_name(unsigned single_role_bit)
{
    for (unsigned i = 0; i < ROLE_COUNT; i++)
        if (single_role_bit == 1u << i)
            return role_names[i];
    return NULL;
}

int perm_roles_to_csv(unsigned mask, char *out, size_t n)
{
    size_t used = 0;
    if (!out || n == 0)
        return -1;
    out[0] = '\0';
    for (unsigned i = 0; i < ROLE_COUNT; i++) {
        if (!(mask & (1u << i)))
            continue;
        size_t len = strlen(role_names[i]);
        size_t need = len + (used ? 1 : 0);
        if (used + need + 1 > n) {
            out[0] = '\0';
            return -1;
        }
        if (used)
            out[used++] = ',';
        memcpy(out + used, role_names[i], len);
        used += len;
        out[used] = '\0';
    }
    return (int)used;
}

bool perm_allows(unsigned role_mask, enum perm p)
{
    if ((unsigned)p >= PERM_COUNT)
        return false;
    if (p == PERM_PUBLIC)
        return true;
    return (perm_table[p].roles & role_mask & ROLE_ALL) != 0;
}

const char *perm_name(enum perm p)
{
    if ((unsigned)p >= PERM_COUNT || !perm_table[p].name)
        return "unknown";
    return perm_table[p].name;
}
