/* Accept negotiation of the exports (export.h): 1 = CSV, 2 = XLSX, 0 = 406. */
#include "unit.h"

#include "rectify/export.h"

static const struct {
    const char *accept;
    int want;
} cases[] = {
    {NULL, 1},
    {"", 1},
    {"*/*", 1},
    {"text/csv", 1},
    {"text/csv; charset=utf-8", 1},
    {"TEXT/CSV", 1},
    {"text/*", 1},
    {EXPORT_XLSX_TYPE, 2},
    {"application/*", 2},
    {"application/json, " EXPORT_XLSX_TYPE ";q=0.9", 2},
    {"text/csv;q=0.5, " EXPORT_XLSX_TYPE, 2},
    {"text/csv, " EXPORT_XLSX_TYPE, 1},               /* equal: CSV */
    {EXPORT_XLSX_TYPE ";q=0.2, */*;q=0.1", 2},
    {"*/*;q=0.1, text/csv;q=0", 2},                   /* CSV refused; XLSX through the wildcard */
    {"text/csv;q=0", 0},
    {"application/pdf", 0},
    {"application/json", 0},
    {"text/html, application/xml;q=0.9", 0},
    {"text/csvx", 0},
    {"garbage", 0},
    {",,,", 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = export_negotiate(cases[i].accept);
        if (got != cases[i].want)
            fprintf(stderr, "Accept: %s\n", cases[i].accept ? cases[i].accept : "(none)");
        CHECK_INT(got, cases[i].want);
    }
    return UNIT_DONE();
}
