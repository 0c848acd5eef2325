/* libFuzzer: a request body through the JSON entry point, the validator and
 * the problem renderer, as a JSON route sees it, on a worker-sized stack. */
#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/http.h"
#include "rectify/json.h"
#include "rectify/utf8.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <stdint.h>

#include "worker_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[] = {"province", "prefecture", "county", NULL};

static const struct vfield fields[] = {
    {"code", V_STRING, true, false, 2, 32, NULL, NULL, NULL},
    {"name", V_STRING, true, false, 1, 200, NULL, NULL, NULL},
    {"kind", V_STRING, false, false, 1, 32, kinds, NULL, NULL},
    {"parent_id", V_INT, false, true, 1, 1LL << 53, NULL, NULL, NULL},
    {"roles", V_STRING_ARRAY, false, false, 1, 9, NULL, NULL, NULL},
    {"disabled", V_BOOL, false, false, 0, 0, NULL, NULL, NULL},
};

static void one(const uint8_t *data, size_t size)
{
    cJSON *json = NULL;
    json_parse((const char *)data, size, &json, NULL);
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
