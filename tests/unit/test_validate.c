#include "rectify/arena.h"
#include "rectify/http.h"
#include "rectify/utf8.h"
#include "rectify/validate.h"
#include "unit.h"

#include <cJSON.h>

static const char *const kinds[] = {"county", "prefecture", NULL};

static bool upper(const char *s)
{
    for (; *s; s++)
        if (*s < 'A' || *s > 'Z')
            return false;
    return true;
}

static const struct vfield fields[] = {
    {"code", V_STRING, true, false, 2, 8, NULL, upper, "must be upper-case letters"},
    {"name", V_STRING, true, false, 1, 4, NULL, NULL, NULL},
    {"kind", V_STRING, false, false, 1, 32, kinds, NULL, NULL},
    {"parent_id", V_INT, false, true, 1, 1000, NULL, NULL, NULL},
    {"roles", V_STRING_ARRAY, false, false, 1, 3, NULL, NULL, NULL},
    {"disabled", V_BOOL, false, false, 0, 0, NULL, NULL, NULL},
};
#define NF (sizeof fields / sizeof fields[0])

static size_t run(const char *json, struct field_error *errs)
{
    struct arena *a = arena_new();
    cJSON *doc = cJSON_Parse(json);
    size_t n = validate_object(a, doc, fields, NF, errs, VALIDATE_MAX_ERRORS);
    /* Pointers and messages may live in the arena: copy them out first. */
    static char keep[VALIDATE_MAX_ERRORS][2][128];
    for (size_t i = 0; i < n; i++) {
        snprintf(keep[i][0], sizeof keep[i][0], "%s", errs[i].pointer);
        snprintf(keep[i][1], sizeof keep[i][1], "%s", errs[i].message);
        errs[i].pointer = keep[i][0];
        errs[i].message = keep[i][1];
    }
    cJSON_Delete(doc);
    arena_free(a);
    return n;
}

int main(void)
{
    struct field_error e[VALIDATE_MAX_ERRORS];
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"兰州\"}", e), 0);
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"兰州\",\"kind\":\"county\",\"parent_id\":null,"
                  "\"roles\":[\"a\",\"b\"],\"disabled\":true}", e), 0);
    /* Lengths count characters, not bytes: 4 Chinese characters are fine, 5 not. */
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"甘肃省兰\"}", e), 0);
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"甘肃省兰州\"}", e), 1);
    CHECK_STR(e[0].pointer, "/name");
    CHECK_STR(e[0].code, "too_long");      /* codes are static strings */

    CHECK_INT(run("{}", e), 2);                                  /* both required */
    CHECK_STR(e[0].code, "required");
    CHECK_INT(run("[]", e), 1);
    CHECK_STR(e[0].pointer, "");
    CHECK_INT(run("{\"code\":\"ab\",\"name\":\"x\"}", e), 1);    /* check function */
    CHECK_STR(e[0].message, "must be upper-case letters");
    CHECK_STR(e[0].code, "invalid_format");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"extra\":1}", e), 1);
    CHECK_STR(e[0].pointer, "/extra");
    CHECK_STR(e[0].code, "unknown_field");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"a/b~c\":1}", e), 1);
    CHECK_STR(e[0].pointer, "/a~1b~0c");                         /* RFC 6901 escaping */
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"name\":\"y\"}", e), 1);
    CHECK_STR(e[0].message, "is repeated");
    CHECK_STR(e[0].code, "repeated");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":null}", e), 1);     /* not nullable */
    CHECK_STR(e[0].code, "not_null");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"kind\":\"city\"}", e), 1);
    CHECK(strstr(e[0].message, "county, prefecture") != NULL);
    CHECK_STR(e[0].code, "not_in_vocabulary");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"parent_id\":1.5}", e), 1);
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"parent_id\":1001}", e), 1);
    CHECK_STR(e[0].code, "out_of_range");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"parent_id\":\"1\"}", e), 1);
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"parent_id\":1e300}", e), 1);
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"disabled\":1}", e), 1);
    CHECK_STR(e[0].code, "wrong_type");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"roles\":[]}", e), 1);
    CHECK_STR(e[0].code, "too_few_items");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"roles\":[\"a\",\"a\"]}", e), 1);
    CHECK_STR(e[0].pointer, "/roles/1");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"x\",\"roles\":[\"a\",2]}", e), 1);
    CHECK_STR(e[0].pointer, "/roles/1");
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"\\u0000x\"}", e), 1); /* embedded NUL */
    CHECK_INT(run("{\"code\":\"AB\",\"name\":\"\\ud800\"}", e), 1);   /* lone surrogate */

    size_t chars;
    CHECK(utf8_valid("兰州 ok", strlen("兰州 ok"), &chars));
    CHECK_INT(chars, 5);
    CHECK(!utf8_valid("\xC0\xAF", 2, &chars));          /* overlong '/' */
    CHECK(!utf8_valid("\xED\xA0\x80", 3, &chars));      /* surrogate */
    CHECK(!utf8_valid("\xF4\x90\x80\x80", 4, &chars));  /* > U+10FFFF */
    CHECK(!utf8_valid("\xE5\x85", 2, &chars));          /* truncated */
    CHECK(!utf8_valid("a\0b", 3, &chars));
    CHECK(utf8_valid("\xF0\x9F\x98\x80", 4, &chars));   /* emoji */
    return UNIT_DONE();
}
