/* etag_list_matches: the If-None-Match comparison behind every 304. */
#include "rectify/http.h"
#include "unit.h"

int main(void)
{
    CHECK(etag_list_matches("\"3\"", "\"3\""));
    CHECK(!etag_list_matches("\"3\"", "\"31\""));
    CHECK(!etag_list_matches("\"31\"", "\"3\""));
    CHECK(etag_list_matches("\"1\", \"2\",\"3\"", "\"3\""));
    CHECK(etag_list_matches(" \"1\" ,\t\"3\" ", "\"3\""));
    /* weak comparison: W/ on either side does not matter */
    CHECK(etag_list_matches("W/\"3\"", "\"3\""));
    CHECK(etag_list_matches("\"3\"", "W/\"3\""));
    CHECK(etag_list_matches("*", "\"3\""));
    CHECK(etag_list_matches("  * ", "\"abc\""));
    CHECK(!etag_list_matches("*, \"3\"", "\"4\""));
    /* the quotes are part of the tag: no match inside another one */
    CHECK(!etag_list_matches("\"a3b\"", "\"3\""));
    CHECK(!etag_list_matches("3", "\"3\""));
    CHECK(!etag_list_matches("junk, \"4\"", "\"3\""));
    CHECK(etag_list_matches("junk, \"3\"", "\"3\""));
    CHECK(!etag_list_matches("\"3", "\"3\""));
    CHECK(!etag_list_matches("", "\"3\""));
    CHECK(!etag_list_matches(NULL, "\"3\""));
    CHECK(!etag_list_matches("*", NULL));
    CHECK(!etag_list_matches("\"3\"", "3")); /* not an entity-tag: never matches */
    return UNIT_DONE();
}
