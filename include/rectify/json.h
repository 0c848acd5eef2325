/* The one way the service parses JSON text: request bodies, tokens, JWKS
 * documents, import rows and cursors all go through json_parse.
 *
 * cJSON recurses once per nesting level (up to 1000) and the HTTP workers
 * have small stacks, so the nesting depth is checked by a flat scan before
 * cJSON sees the text. */
#ifndef RECTIFY_JSON_H
#define RECTIFY_JSON_H

#include <cJSON.h>
#include <stddef.h>

/* Deepest nesting of arrays and objects accepted anywhere (documented in
 * docs/design-notes.md and the OpenAPI description of 400 too_deep). */
#define JSON_MAX_DEPTH 64

enum json_status {
    JSON_OK,
    JSON_MALFORMED,     /* not JSON, something but whitespace after the value, a raw
                           control character or \u0000 in a string */
    JSON_TOO_DEEP,      /* nested deeper than JSON_MAX_DEPTH */
    JSON_INVALID_UTF8,  /* invalid UTF-8 or a NUL byte */
    JSON_DUPLICATE_KEY, /* an object names a member twice */
    JSON_NO_MEMORY,
};

/* Parses exactly one JSON value from s[0..len) (s need not be
 * NUL-terminated); whitespace may follow it. On JSON_OK *out is the tree,
 * owned by the caller (cJSON_Delete). Otherwise *out is NULL and, when at is
 * not NULL, *at is the byte offset where the text went wrong. */
enum json_status json_parse(const char *s, size_t len, cJSON **out, size_t *at);

/* For problem answers about a failed json_parse: the stable code
 * ("malformed_json", "too_deep", "invalid_utf8", "duplicate_key",
 * "service_unavailable") and a phrase that follows "The body " or "Line 3 ".
 * Static strings. */
const char *json_status_code(enum json_status st);
const char *json_status_message(enum json_status st);

#endif
