#include "rectify/json.h"

#include "rectify/utf8.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* cJSON answers NULL both for bad text and when memory ran out: its
 * allocations go through this hook, which notes a failure for the thread. */
static _Thread_local bool alloc_failed;

static void *json_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        alloc_failed = true;
    return p;
}

__attribute__((constructor)) static void json_hooks(void)
{
    cJSON_Hooks hooks = {.malloc_fn = json_malloc, .free_fn = free};
    cJSON_InitHooks(&hooks);
}

/* Checks what cJSON does not, before it recurses: nesting depth, control
 * characters and \u0000 inside strings. Returns the offset of the first
 * offence (and its status in *st), or len. Brackets inside strings do not
 * count; the rest of the syntax is cJSON's to check. */
static size_t scan(const char *s, size_t len, enum json_status *st)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (in_string) {
            if (c < 0x20) {
                *st = JSON_MALFORMED;
                return i;
            }
            if (c == '\\') {
                if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0) {
                    *st = JSON_MALFORMED;
                    return i;
                }
                i++; /* the escaped character cannot end the string */
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > JSON_MAX_DEPTH) {
                *st = JSON_TOO_DEEP;
                return i;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return len;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* True when some object in the tree has two members of the same name
 * (cJSON keeps both; PostgreSQL's jsonb would keep the last while our
 * validators read the first). Depth is bounded by JSON_MAX_DEPTH. Small
 * objects are compared pairwise, large ones sorted. *oom on allocation
 * failure. */
static bool has_duplicate(const cJSON *node, bool *oom)
{
    if (cJSON_IsObject(node)) {
        size_t n = 0;
        for (const cJSON *c = node->child; c; c = c->next)
            n++;
        if (n > 16) {
            const cJSON **v = malloc(n * sizeof *v);
            if (!v) {
                *oom = true;
                return true;
            }
            size_t i = 0;
            for (const cJSON *c = node->child; c; c = c->next)
                v[i++] = c;
            qsort(v, n, sizeof *v, by_name);
            bool dup = false;
            for (i = 1; i < n && !dup; i++)
                dup = strcmp(v[i - 1]->string, v[i]->string) == 0;
            free(v);
            if (dup)
                return true;
        } else {
            for (const cJSON *a = node->child; a; a = a->next)
                for (const cJSON *b = a->next; b; b = b->next)
                    if (strcmp(a->string, b->string) == 0)
                        return true;
        }
    }
    if (cJSON_IsObject(node) || cJSON_IsArray(node))
        for (const cJSON *c = node->child; c; c = c->next)
            if (has_duplicate(c, oom))
                return true;
    return false;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

enum json_status json_parse(const char *s, size_t len, cJSON **out, size_t *at)
{
    *out = NULL;
    size_t where = 0;
    enum json_status st = JSON_OK;
    size_t bad = utf8_bad_at(s, len);
    if (bad < len) {
        where = bad;
        st = JSON_INVALID_UTF8;
    } else if ((where = scan(s, len, &st)) == len) {
        const char *end = NULL;
        alloc_failed = false;
        cJSON *root = len ? cJSON_ParseWithLengthOpts(s, len, &end, 0) : NULL;
        where = end && end >= s ? (size_t)(end - s) : 0;
        if (root)
            while (where < len && is_space(s[where]))
                where++;
        bool oom = false;
        if (!root && alloc_failed) {
            st = JSON_NO_MEMORY;
            where = 0;
        } else if (!root || where != len) {
            st = JSON_MALFORMED;
        } else if (has_duplicate(root, &oom)) {
            st = oom ? JSON_NO_MEMORY : JSON_DUPLICATE_KEY;
            where = 0;
        } else {
            *out = root;
            return JSON_OK;
        }
        cJSON_Delete(root);
    }
    if (at)
        *at = where;
    return st;
}

const char *json_status_code(enum json_status st)
{
    switch (st) {
    case JSON_TOO_DEEP: return "too_deep";
    case JSON_INVALID_UTF8: return "invalid_utf8";
    case JSON_DUPLICATE_KEY: return "duplicate_key";
    case JSON_NO_MEMORY: return "service_unavailable";
    default: return "malformed_json";
    }
}

const char *json_status_message(enum json_status st)
{
    switch (st) {
    case JSON_TOO_DEEP: return "nests arrays and objects deeper than 64 levels";
    case JSON_INVALID_UTF8: return "is not valid UTF-8 text (or holds a NUL byte)";
    case JSON_DUPLICATE_KEY: return "has an object with two members of the same name";
    case JSON_NO_MEMORY: return "could not be parsed for lack of memory";
    default: return "is not valid JSON";
    }
}
