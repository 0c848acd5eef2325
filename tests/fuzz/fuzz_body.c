/* libFuzzer: a request body through the JSON parser, the validator and the
 * problem renderer, as a JSON route sees it. */
#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/http.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <stdint.h>

static const char *const kinds[] = {"province", "prefecture", "county", NULL};

static const struct vfield fields[] = {
    {"code", V_STRING, true, false, 2, 32, NULL, NULL, NULL},
    {"name", V_STRING, true, false, 1, 200, NULL, NULL, NULL},
    {"kind", V_STRING, false, false, 1, 32, kinds, NULL, NULL},
    {"parent_id", V_INT, false, true, 1, 1LL << 53, NULL, NULL, NULL},
    {"roles", V_STRING_ARRAY, false, false, 1, 9, NULL, NULL, NULL},
    {"disabled", V_BOOL, false, false, 0, 0, NULL, NULL, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts((const char *)data, size, &end, 0);
    struct arena *a = arena_new();
    struct field_error errs[VALIDATE_MAX_ERRORS];
    size_t n = json ? validate_object(a, json, fields, sizeof fields / sizeof fields[0], errs,
                                      VALIDATE_MAX_ERRORS)
                    : 0;
    struct buf b;
    buf_init(&b, 0);
    problem_render(&b, 422, "validation_failed", "fuzz", "/x", "rid", errs, n);
    buf_free(&b);
    size_t chars;
    utf8_valid((const char *)data, size, &chars);
    arena_free(a);
    cJSON_Delete(json);
    return 0;
}
