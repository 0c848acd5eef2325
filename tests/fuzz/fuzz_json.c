/* libFuzzer: json_parse, the service's one JSON entry point (bodies, tokens,
 * JWKS, import rows, cursors), on a worker-sized stack (worker_stack.h).
 *
 * Checks: an accepted tree nests at most JSON_MAX_DEPTH levels and has no
 * object with two members of one name; printed again it parses back to an
 * equal tree; a refusal names an offset inside the text; whatever is
 * accepted is also what cJSON alone accepts. */
#include "rectify/json.h"

#include "worker_stack.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int depth_of(const cJSON *n)
{
    int deepest = 0;
    for (const cJSON *c = n->child; c; c = c->next) {
        int d = depth_of(c);
        if (d > deepest)
            deepest = d;
    }
    return deepest + (cJSON_IsArray(n) || cJSON_IsObject(n));
}

static bool has_duplicate(const cJSON *n)
{
    if (cJSON_IsObject(n))
        for (const cJSON *a = n->child; a; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return true;
    for (const cJSON *c = n->child; c; c = c->next)
        if (has_duplicate(c))
            return true;
    return false;
}

/* cJSON prints inf (1e999) as null: such trees do not round-trip. */
static bool all_finite(const cJSON *n)
{
    if (cJSON_IsNumber(n) && !isfinite(n->valuedouble))
        return false;
    for (const cJSON *c = n->child; c; c = c->next)
        if (!all_finite(c))
            return false;
    return true;
}

static void one(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    cJSON *doc = NULL;
    size_t at = (size_t)-1;
    enum json_status st = json_parse(s, size, &doc, &at);
    if (st != JSON_OK) {
        if (doc || at > size || !json_status_code(st) || !json_status_message(st))
            abort();
        return;
    }
    if (!doc || depth_of(doc) > JSON_MAX_DEPTH || has_duplicate(doc))
        abort();
    /* cJSON on its own accepts it too (the checks only refuse more; cJSON_Compare
     * finds inf unequal to itself) */
    bool finite = all_finite(doc);
    const char *end = NULL;
    cJSON *plain = cJSON_ParseWithLengthOpts(s, size, &end, 0);
    if (!plain || (finite && !cJSON_Compare(doc, plain, true)))
        abort();
    cJSON_Delete(plain);
    /* the printed tree reads back the same */
    char *text = finite ? cJSON_PrintUnformatted(doc) : NULL;
    if (text) {
        cJSON *again = NULL;
        enum json_status st2 = json_parse(text, strlen(text), &again, NULL);
        if (st2 != JSON_OK && st2 != JSON_NO_MEMORY)
            abort();
        if (again && !cJSON_Compare(doc, again, true))
            abort();
        cJSON_Delete(again);
        free(text);
    }
    cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
