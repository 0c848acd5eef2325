#include "rectify/arena.h"
#include "rectify/import_text.h"
#include "unit.h"

#include <stdio.h>

int main(void)
{
    struct seen s = {0};
    char key[32];
    for (int i = 1; i <= 5000; i++) { /* grows several times */
        snprintf(key, sizeof key, "GS-2024-%05d", i);
        CHECK_INT(seen_put(&s, key, i) == 0, 1);
    }
    CHECK_INT(seen_put(&s, "GS-2024-00042", 9999), 42);
    CHECK_INT(seen_put(&s, "甘交办-1", 7), 0);
    CHECK_INT(seen_put(&s, "甘交办-1", 8), 7);
    seen_free(&s);
    CHECK(s.keys == NULL && s.n == 0);

    struct arena *a = arena_new();
    CHECK_STR(import_trimmed(a, "  兰州市\t", strlen("  兰州市\t")), "兰州市");
    CHECK_STR(import_trimmed(a, "\xE3\x80\x80城关区\xE3\x80\x80", 15), "城关区");
    CHECK(import_trimmed(a, " \t\xE3\x80\x80 ", 6) == NULL);
    arena_free(a);

    char d[11];
    const char *rest;
    CHECK(import_parse_date("2024-06-30", d, &rest));
    CHECK_STR(d, "2024-06-30");
    CHECK(import_parse_date("2024/6/3 10:00", d, &rest));
    CHECK_STR(d, "2024-06-03");
    CHECK_STR(rest, " 10:00");
    CHECK(import_parse_date("2024年2月29日", d, &rest));
    CHECK_STR(d, "2024-02-29");
    CHECK(!import_parse_date("2023年2月29日", d, &rest)); /* not a leap year */
    CHECK(!import_parse_date("2024-13-01", d, &rest));
    CHECK(!import_parse_date("2024-06/30", d, &rest));   /* mixed separators */
    CHECK(!import_parse_date("24-06-30", d, &rest));
    CHECK(!import_parse_date("2024-006-30", d, &rest));

    CHECK(import_media_type_is("text/csv", "text/csv"));
    CHECK(import_media_type_is("Text/CSV; charset=utf-8", "text/csv"));
    CHECK(!import_media_type_is("text/csv; charset=gbk", "text/csv"));
    CHECK(!import_media_type_is("text/csvx", "text/csv"));
    CHECK(!import_media_type_is(NULL, "text/csv"));

    CHECK(import_format_of("text/csv; charset=utf-8") == IMPORT_CSV);
    CHECK(import_format_of("application/x-ndjson") == IMPORT_NDJSON);
    CHECK(import_format_of("application/jsonl") == IMPORT_NDJSON);
    CHECK(import_format_of("application/json") == IMPORT_JSON);
    CHECK(import_format_of("application/xml") == IMPORT_UNSUPPORTED);
    CHECK(import_format_of("text/csv; charset=gbk") == IMPORT_UNSUPPORTED);
    CHECK(import_format_of(NULL) == IMPORT_UNSUPPORTED);
    return UNIT_DONE();
}
