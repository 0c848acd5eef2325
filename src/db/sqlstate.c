/* SQLSTATE -> HTTP status and problem code: the one place that decides. */
#include "rectify/db.h"

#include <stdlib.h>
#include <string.h>

/* Longest prefix wins; order does not matter. */
static const struct sqlstate_rule rules[] = {
    {"23505", 409, "conflict", "A record with the same unique value already exists."},
    {"23P01", 409, "conflict", "The change conflicts with an existing record."},
    /* 23503 on insert/update: the referenced row does not exist. Handlers
     * that delete turn it into 409 (the row is still referenced). */
    {"23503", 422, "invalid_reference", "A referenced record does not exist."},
    {"23502", 422, "validation_failed", "A required value is missing."},
    {"23514", 422, "validation_failed", "A value breaks a rule of the record."},
    {"22", 422, "validation_failed", "A value has the wrong form or is out of range."},
    {"40001", 409, "serialization_failure", "The record changed concurrently; retry."},
    {"40P01", 409, "serialization_failure", "The record changed concurrently; retry."},
    {"55P03", 409, "conflict", "The record is locked by another change; retry."},
    {"42501", 403, "forbidden", "Not allowed."},
    {"57014", 503, "timeout", "The database took too long to answer; retry later."},
    {"57P", 503, "service_unavailable", "The database is restarting; retry later."},
    {"08", 503, "service_unavailable", "The database is unreachable; retry later."},
    {"53", 503, "service_unavailable", "The database is overloaded; retry later."},
    {"P0002", 404, "not_found", "The record does not exist."},
};

static const struct sqlstate_rule fallback = {"", 500, "internal_error",
                                              "The request could not be completed."};

struct sqlstate_rule sqlstate_lookup(const char *state)
{
    if (!state)
        return fallback;
    /* "RX" + HTTP status: raised by our own SQL functions; the message is for
     * the client and the HINT carries the code. */
    if (state[0] == 'R' && state[1] == 'X' && (state[2] == '4' || state[2] == '5') &&
        state[3] >= '0' && state[3] <= '9' && state[4] >= '0' && state[4] <= '9' &&
        !state[5])
        return (struct sqlstate_rule){"RX", atoi(state + 2), NULL, NULL};
    const struct sqlstate_rule *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        size_t l = strlen(rules[i].prefix);
        if (l > best_len && strncmp(state, rules[i].prefix, l) == 0) {
            best = &rules[i];
            best_len = l;
        }
    }
    return best ? *best : fallback;
}

bool sqlstate_is_retryable(const char *state)
{
    return state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

bool sqlstate_is_connection_error(const char *state)
{
    return state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0);
}
