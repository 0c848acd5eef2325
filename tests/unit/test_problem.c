#include "rectify/buf.h"
#include "rectify/http.h"
#include "unit.h"

#include <cJSON.h>

int main(void)
{
    struct buf b;
    buf_init(&b, 0);
    struct field_error errs[] = {
        {.pointer = "/name", .message = "must not be empty"},
        {.parameter = "limit", .message = "between 1 and 500", .code = "out_of_range"},
        {.pointer = "/x\"y", .message = "quote \" and \\ and \n"},
    };
    CHECK_INT(problem_render(&b, 422, "validation_failed", "2 \"fields\" 兰州", "/api/v1/orgs",
                             "rid-1", errs, 3), 0);
    cJSON *doc = cJSON_Parse(b.data);
    CHECK(doc != NULL);
    CHECK_STR(cJSON_GetObjectItem(doc, "type")->valuestring,
              "https://rectify.example/problems/validation_failed");
    CHECK_STR(cJSON_GetObjectItem(doc, "title")->valuestring, "Unprocessable Content");
    CHECK_INT(cJSON_GetObjectItem(doc, "status")->valueint, 422);
    CHECK_STR(cJSON_GetObjectItem(doc, "code")->valuestring, "validation_failed");
    CHECK_STR(cJSON_GetObjectItem(doc, "detail")->valuestring, "2 \"fields\" 兰州");
    CHECK_STR(cJSON_GetObjectItem(doc, "instance")->valuestring, "/api/v1/orgs");
    CHECK_STR(cJSON_GetObjectItem(doc, "request_id")->valuestring, "rid-1");
    cJSON *e = cJSON_GetObjectItem(doc, "errors");
    CHECK_INT(cJSON_GetArraySize(e), 3);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 0), "pointer")->valuestring, "/name");
    /* every field error has a code; "invalid" when none was given */
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 0), "code")->valuestring, "invalid");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 1), "code")->valuestring, "out_of_range");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 1), "parameter")->valuestring, "limit");
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 1), "pointer") == NULL);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 2), "message")->valuestring,
              "quote \" and \\ and \n");
    cJSON_Delete(doc);

    /* Without detail or errors the detail falls back to the title. */
    buf_reset(&b);
    CHECK_INT(problem_render(&b, 404, "not_found", NULL, "/x", "r", NULL, 0), 0);
    doc = cJSON_Parse(b.data);
    CHECK(doc != NULL);
    CHECK_STR(cJSON_GetObjectItem(doc, "detail")->valuestring, "Not Found");
    CHECK(cJSON_GetObjectItem(doc, "errors") == NULL);
    cJSON_Delete(doc);
    buf_free(&b);

    CHECK_STR(http_status_title(413), "Content Too Large");
    CHECK_STR(http_status_title(499), "Client Error");
    CHECK_STR(http_status_title(599), "Server Error");

    /* Control characters are escaped so the output stays valid JSON. */
    buf_init(&b, 0);
    CHECK_INT(buf_json_string(&b, "a\x01" "b\tc"), 0);
    CHECK_STR(b.data, "\"a\\u0001b\\tc\"");
    CHECK_INT(buf_json_string(&b, NULL), 0); /* NULL is JSON null */
    CHECK_STR(b.data, "\"a\\u0001b\\tc\"null");
    buf_free(&b);

    /* A bounded buffer refuses to grow past its maximum and stays intact. */
    buf_init(&b, 8);
    CHECK_INT(buf_puts(&b, "12345"), 0);
    CHECK_INT(buf_puts(&b, "6789"), -1);
    CHECK_STR(b.data, "12345");
    CHECK_INT(buf_json_string(&b, "abcdef"), -1);
    CHECK_STR(b.data, "12345");
    buf_free(&b);
    return UNIT_DONE();
}
