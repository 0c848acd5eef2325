#include "rectify/db.h"
#include "unit.h"

static void expect(const char *state, int status, const char *code)
{
    struct sqlstate_rule r = sqlstate_lookup(state);
    if (r.status != status)
        fprintf(stderr, "%s -> %d, expected %d\n", state ? state : "(null)", r.status, status);
    CHECK_INT(r.status, status);
    if (code)
        CHECK_STR(r.code, code);
    else
        CHECK(r.code == NULL);
}

int main(void)
{
    expect("23505", 409, "conflict");
    expect("23503", 422, "invalid_reference");
    expect("23514", 422, "validation_failed");
    expect("23502", 422, "validation_failed");
    expect("22P02", 422, "validation_failed");
    expect("22003", 422, "validation_failed");
    expect("40001", 409, "serialization_failure");
    expect("40P01", 409, "serialization_failure");
    expect("42501", 403, "forbidden");
    expect("57014", 503, "timeout");
    expect("57P01", 503, "service_unavailable");
    expect("08006", 503, "service_unavailable");
    expect("53300", 503, "service_unavailable");
    expect("P0002", 404, "not_found");
    expect("42601", 500, "internal_error");
    expect("XX000", 500, "internal_error");
    expect(NULL, 500, "internal_error");
    expect("", 500, "internal_error");
    /* Our own RAISE ... USING ERRCODE = 'RX4nn'. */
    expect("RX409", 409, NULL);
    expect("RX422", 422, NULL);
    expect("RX503", 503, NULL);
    expect("RX309", 500, "internal_error");
    expect("RX4a9", 500, "internal_error");
    expect("RX4091", 500, "internal_error");

    CHECK(sqlstate_is_retryable("40001"));
    CHECK(sqlstate_is_retryable("40P01"));
    CHECK(!sqlstate_is_retryable("23505"));
    CHECK(!sqlstate_is_retryable(NULL));
    CHECK(sqlstate_is_connection_error("08006"));
    CHECK(sqlstate_is_connection_error("57P01"));
    CHECK(!sqlstate_is_connection_error("57014"));
    CHECK(!sqlstate_is_connection_error(NULL));
    return UNIT_DONE();
}
