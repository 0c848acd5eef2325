/* permissions — roles and the role x action permission table.
 *
 * A principal carries a bitmask of roles (a user may hold several).  A route
 * names one `enum perm`; perm_allows() decides from the table in
 * src/auth/permissions.c.  Row-level scoping (a `unit` user sees only its
 * org subtree) is PostgreSQL's job (RLS), not this table's: the table only
 * says whether a role may use an action at all.
 *
 * Everything here is constant data: thread-safe, no allocation; returned
 * strings are static (never free them). */
#ifndef RECTIFY_PERMISSIONS_H
#define RECTIFY_PERMISSIONS_H

#include <stdbool.h>
#include <stddef.h>

/* Roles (DESIGN.md section 1).  One bit each. */
enum perm_role {
    ROLE_ADMIN       = 1u << 0, /* system administration: orgs, users */
    ROLE_OFFICE      = 1u << 1, /* 整改办: everything, province-wide */
    ROLE_LEADER      = 1u << 2, /* 领导小组: read all, approve */
    ROLE_UNIT        = 1u << 3, /* 责任单位: its own org subtree */
    ROLE_ACCEPTOR    = 1u << 4, /* 验收单位 */
    ROLE_INSPECTOR   = 1u << 5, /* checks (明察暗访, 抽查) */
    ROLE_DISCIPLINE  = 1u << 6, /* 纪委监委: accountability clues */
    ROLE_INTEGRATION = 1u << 7, /* machine clients of provincial platforms */
    ROLE_VIEWER      = 1u << 8, /* read-only */
};
#define ROLE_COUNT 9
#define ROLE_ALL   ((1u << ROLE_COUNT) - 1u)

/* Actions.  PERM_PUBLIC (0) needs no authentication at all. */
enum perm {
    PERM_PUBLIC = 0,          /* anyone, even without a token */
    PERM_AUTHENTICATED,       /* any signed-in user holding a known role */
    PERM_ORG_READ,            /* organisation tree */
    PERM_ORG_WRITE,
    PERM_USER_READ,           /* user accounts */
    PERM_USER_WRITE,
    PERM_AUDIT_READ,          /* audit trail and its chain verification */
    PERM_LEDGER_READ,         /* campaigns, problems, tasks, reports, dispatches,
                                 supervisions, inspections, acceptances */
    PERM_LEDGER_WRITE,        /* create/edit campaigns, problems, tasks */
    PERM_TASK_REPORT,         /* submit progress reports */
    PERM_TASK_TRANSITION,     /* workflow actions on tasks */
    PERM_EXTENSION_APPROVE,   /* approve deadline extensions */
    PERM_COMPLAINT_READ,
    PERM_COMPLAINT_WRITE,     /* handle complaints: verdict, figures, states */
    PERM_COMPLAINT_IMPORT,    /* batch import of handed-over complaints */
    PERM_COMPLAINANT_PII,     /* see complainants' personal data */
    PERM_CLUE_READ,           /* accountability clues */
    PERM_CLUE_WRITE,
    PERM_INSPECTION_WRITE,    /* record inspections and findings */
    PERM_ACCEPTANCE_WRITE,    /* acceptance opinions */
    PERM_APPROVE,             /* leading-group approval */
    PERM_DISPATCH_WRITE,      /* schedule dispatches (调度) */
    PERM_SUPERVISION_WRITE,   /* reminders, notices, interviews, listings */
    PERM_PUBLISH,             /* public announcements (公示, 信息公开) */
    PERM_ATTACHMENT_WRITE,    /* upload evidence files (佐证材料) */
    PERM_JOBS_READ,           /* background jobs (operations) */
    PERM_JOBS_WRITE,          /* retry a dead job */
    PERM_COUNT
};

/* The bit of a role name ("admin", "office", ..., exact lowercase match),
 * or 0 when the name is unknown or NULL. */
unsigned perm_role_from_name(const char *name);

/* The name of one role bit, or NULL when `single_role_bit` is not exactly
 * one known role. */
const char *perm_role_name(unsigned single_role_bit);

/* Write the names of the roles in `mask` to `out` as "admin,office" (in
 * bit order; unknown bits ignored; "" for none), NUL-terminated.
 * Returns the length written (excluding the NUL), or -1 when `out` is too
 * small (then out is "" if n > 0). */
int perm_roles_to_csv(unsigned mask, char *out, size_t n);

/* May a principal with roles `role_mask` perform `p`?  PERM_PUBLIC is
 * always allowed (also for mask 0); every other action needs at least one
 * role that the table grants it.  Unknown `p` → false. */
bool perm_allows(unsigned role_mask, enum perm p);

/* Stable name of an action, e.g. "ledger.write" (for logs and docs), or
 * "unknown" when out of range. */
const char *perm_name(enum perm p);

#endif
