#include "rectify/arena.h"
#include "rectify/http.h"
#include "rectify/router.h"
#include "unit.h"

static void h(struct req *r) { (void)r; }

static const struct route table[] = {
    {"GET", "/healthz", h, 0, 0},
    {"GET", "/api/v1/orgs", h, 0, 0},
    {"POST", "/api/v1/orgs", h, 1, 0},
    {"GET", "/api/v1/orgs/{id}", h, 0, 0},
    {"PATCH", "/api/v1/orgs/{id}", h, 0, 0},
    {"GET", "/api/v1/tasks/{task_id}/reports/{report_id}", h, 0, 0},
    {"POST", "/api/v1/tasks/import", h, 0, 0},
    {"GET", "/api/v1/tasks/{id}", h, 0, 0},
    {"GET", "/api/v1/tasks/export", h, 0, 0}, /* after {id} on purpose */
};

int main(void)
{
    const struct route *tables[] = {table};
    size_t counts[] = {sizeof table / sizeof table[0]};
    char err[128];
    struct router *rt = router_new(tables, counts, 1, err, sizeof err);
    CHECK(rt != NULL);
    struct arena *a = arena_new();
    struct route_match m;

    CHECK_INT(router_match(rt, "GET", "/healthz", a, &m), ROUTER_MATCH);
    CHECK(m.route == &table[0]);
    CHECK_INT(router_match(rt, "GET", "/api/v1/orgs/42", a, &m), ROUTER_MATCH);
    CHECK(m.route == &table[3]);
    CHECK_STR(route_param(&m, "id"), "42");
    CHECK(route_param(&m, "other") == NULL);

    /* Several parameters, percent-decoding (UTF-8 kept). */
    CHECK_INT(router_match(rt, "GET", "/api/v1/tasks/T%201/reports/%E5%85%B0", a, &m), ROUTER_MATCH);
    CHECK_STR(route_param(&m, "task_id"), "T 1");
    CHECK_STR(route_param(&m, "report_id"), "\xE5\x85\xB0");

    /* A literal segment beside a parameter route. */
    CHECK_INT(router_match(rt, "POST", "/api/v1/tasks/import", a, &m), ROUTER_MATCH);
    CHECK(m.route == &table[6]);
    CHECK_INT(router_match(rt, "GET", "/api/v1/tasks/import", a, &m), ROUTER_MATCH);
    CHECK(m.route == &table[7]);
    CHECK_STR(route_param(&m, "id"), "import");

    /* 405 with the methods that exist, in table order, without duplicates. */
    CHECK_INT(router_match(rt, "DELETE", "/api/v1/orgs", a, &m), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_STR(m.allow, "GET, POST");
    CHECK_INT(router_match(rt, "DELETE", "/api/v1/orgs/7", a, &m), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_STR(m.allow, "GET, PATCH");

    /* 404: unknown, trailing slash, double slash, case, bad escapes, %2F. */
    const char *missing[] = {"/nope", "/healthz/", "//healthz", "/HEALTHZ", "/api/v1/orgs/",
                             "/api/v1//orgs", "/api/v1/orgs/1/2", "", "healthz",
                             "/api/v1/orgs/%zz", "/api/v1/orgs/%4", "/api/v1/orgs/a%2Fb",
                             "/api/v1/orgs/a%00b"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        int rr = router_match(rt, "GET", missing[i], a, &m);
        if (rr != ROUTER_NOT_FOUND)
            fprintf(stderr, "expected 404 for \"%s\"\n", missing[i]);
        CHECK_INT(rr, ROUTER_NOT_FOUND);
    }

    /* Too many segments never overflows. */
    char deep[512] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "/x");
    CHECK_INT(router_match(rt, "GET", deep, a, &m), ROUTER_NOT_FOUND);

    /* Specificity, not order: the literal route wins over {id}. */
    CHECK_INT(router_match(rt, "GET", "/api/v1/tasks/export", a, &m), ROUTER_MATCH);
    CHECK(m.route == &table[8]);
    CHECK_INT(m.nparams, 0);
    CHECK_INT(router_match(rt, "GET", "/api/v1/tasks/77", a, &m), ROUTER_MATCH);
    CHECK(m.route == &table[7]);

    CHECK_INT(router_count(rt), 9);
    CHECK_INT(router_index(rt, &table[4]), 4);

    /* Malformed patterns are refused at build time. */
    static const struct route bad[] = {{"GET", "/a/{}/b", h, 0, 0}};
    const struct route *bt[] = {bad};
    size_t bc[] = {1};
    CHECK(router_new(bt, bc, 1, err, sizeof err) == NULL);
    static const struct route bad2[] = {{"GET", "no-slash", h, 0, 0}};
    const struct route *bt2[] = {bad2};
    CHECK(router_new(bt2, bc, 1, err, sizeof err) == NULL);

    /* url_decode */
    char out[32];
    CHECK_INT(url_decode("a+b%20c", 7, out, true), 5);
    CHECK_STR(out, "a b c");
    CHECK_INT(url_decode("a+b", 3, out, false), 3);
    CHECK_STR(out, "a+b");
    CHECK_INT(url_decode("%", 1, out, false), -1);
    CHECK_INT(url_decode("%G0", 3, out, false), -1);

    /* req_query: decoded values; a broken %-escape is kept as sent, not absent */
    struct req r = {.arena = a, .query = "q=a+b%21&limit=%zz&cursor=100%&empty=&flag"};
    CHECK_STR(req_query(&r, "q"), "a b!");
    CHECK_STR(req_query(&r, "limit"), "%zz");
    CHECK_STR(req_query(&r, "cursor"), "100%");
    CHECK_STR(req_query(&r, "empty"), "");
    CHECK_STR(req_query(&r, "flag"), "");
    CHECK(req_query(&r, "other") == NULL);

    arena_free(a);
    router_free(rt);
    return UNIT_DONE();
}
