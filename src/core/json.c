#include "rectify/json.h"

#include <stdbool.h>

/* Offset of the first bracket that opens level JSON_MAX_DEPTH + 1, or len.
 * Brackets inside strings do not count; the scan does not validate. */
static size_t too_deep_at(const char *s, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > JSON_MAX_DEPTH)
                return i;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return len;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

enum json_status json_parse(const char *s, size_t len, cJSON **out, size_t *at)
{
    *out = NULL;
    size_t deep = too_deep_at(s, len);
    if (deep < len) {
        if (at)
            *at = deep;
        return JSON_TOO_DEEP;
    }
    const char *end = NULL;
    cJSON *root = len ? cJSON_ParseWithLengthOpts(s, len, &end, 0) : NULL;
    size_t off = end && end >= s ? (size_t)(end - s) : 0;
    if (root)
        while (off < len && is_space(s[off]))
            off++;
    if (!root || off != len) {
        cJSON_Delete(root);
        if (at)
            *at = off;
        return JSON_MALFORMED;
    }
    *out = root;
    return JSON_OK;
}

const char *json_status_code(enum json_status st)
{
    return st == JSON_TOO_DEEP ? "too_deep" : "malformed_json";
}
