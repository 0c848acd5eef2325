/* json_parse: the one JSON entry point (depth, UTF-8, strings, duplicates). */
#include "rectify/json.h"
#include "unit.h"

#include <stdlib.h>

static enum json_status parse(const char *s, size_t *at)
{
    cJSON *root;
    enum json_status st = json_parse(s, strlen(s), &root, at);
    CHECK((st == JSON_OK) == (root != NULL));
    cJSON_Delete(root);
    return st;
}

static char *nested(int depth, char open, char close)
{
    char *s = malloc((size_t)depth * 2 + 1);
    if (!s)
        exit(2);
    memset(s, open, (size_t)depth);
    memset(s + depth, close, (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

int main(void)
{
    size_t at = 99;
    CHECK_INT(parse("{\"a\": [1, 2, {\"b\": null}]} \n", NULL), JSON_OK);
    CHECK_INT(parse("42", NULL), JSON_OK);
    CHECK_INT(parse("", &at), JSON_MALFORMED);
    CHECK_INT(parse("{\"a\": 1} x", &at), JSON_MALFORMED);
    CHECK_INT(at, 9);
    CHECK_INT(parse("{\"a\": }", &at), JSON_MALFORMED);
    CHECK_INT(parse("{\"a\": 1", &at), JSON_MALFORMED);

    /* depth: 64 is fine, 65 is refused at the 65th bracket, whatever the total */
    for (int d = 1; d <= 2; d++) {
        char open = d == 1 ? '[' : '{', close = d == 1 ? ']' : '}';
        char *ok = nested(JSON_MAX_DEPTH, '[', ']');
        CHECK_INT(parse(ok, NULL), JSON_OK);
        free(ok);
        char *deep = nested(100000, open, close);
        CHECK_INT(parse(deep, &at), JSON_TOO_DEEP);
        CHECK_INT(at, JSON_MAX_DEPTH);
        free(deep);
    }
    CHECK_INT(parse("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]",
                    NULL),
              JSON_OK); /* brackets in strings do not nest */
    CHECK_INT(parse("[\"\\\"[\"]", NULL), JSON_OK); /* an escaped quote does not end it */

    /* strings: raw control characters and \u0000 are refused, escapes are fine */
    CHECK_INT(parse("[\"a\tb\"]", &at), JSON_MALFORMED);
    CHECK_INT(at, 3);
    CHECK_INT(parse("[\"a\\u0000b\"]", NULL), JSON_MALFORMED);
    CHECK_INT(parse("[\"a\\u0001\\n\"]", NULL), JSON_OK);

    /* UTF-8 */
    CHECK_INT(parse("[\"兰州\"]", NULL), JSON_OK);
    CHECK_INT(parse("[\"\xc0\xaf\"]", &at), JSON_INVALID_UTF8); /* overlong '/' */
    CHECK_INT(at, 2);
    CHECK_INT(parse("[\"\xed\xa0\x80\"]", NULL), JSON_INVALID_UTF8); /* surrogate */
    CHECK_INT(parse("[\"\xf4\x90\x80\x80\"]", NULL), JSON_INVALID_UTF8);
    cJSON *root;
    CHECK_INT(json_parse("[1]\0", 4, &root, NULL), JSON_INVALID_UTF8); /* NUL byte */

    /* duplicate member names, small and large objects, nested */
    CHECK_INT(parse("{\"a\": 1, \"b\": 2, \"a\": 3}", NULL), JSON_DUPLICATE_KEY);
    CHECK_INT(parse("[{\"x\": {\"k\": 1, \"k\": 1}}]", NULL), JSON_DUPLICATE_KEY);
    CHECK_INT(parse("{\"a\": 1, \"A\": 2}", NULL), JSON_OK); /* names are case-sensitive */
    char big[4096] = "{";
    for (int i = 0; i < 200; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%s\"k%d\": %d", i ? ", " : "", i, i);
    strcat(big, "}");
    CHECK_INT(parse(big, NULL), JSON_OK);
    big[strlen(big) - 1] = '\0';
    strcat(big, ", \"k117\": 0}");
    CHECK_INT(parse(big, NULL), JSON_DUPLICATE_KEY);

    CHECK_STR(json_status_code(JSON_TOO_DEEP), "too_deep");
    CHECK_STR(json_status_code(JSON_DUPLICATE_KEY), "duplicate_key");
    CHECK_STR(json_status_code(JSON_MALFORMED), "malformed_json");
    return UNIT_DONE();
}
