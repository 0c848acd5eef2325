/* Text helpers shared by the batch imports: a set of natural keys seen in a
 * file (duplicate detection), trimming, lenient Chinese/ISO date parsing,
 * media types. No global state; callers own everything they pass in. */
#ifndef RECTIFY_IMPORT_TEXT_H
#define RECTIFY_IMPORT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* Open addressing: key -> the row it first appeared on. Zero-initialise;
 * release with seen_free (the set owns copies of the keys). */
struct seen {
    char **keys;
    long long *rows;
    size_t cap, n;
};

/* The first row of key, or 0 after recording it with row; -1 = out of memory. */
long long seen_put(struct seen *s, const char *key, long long row);
void seen_free(struct seen *s);

/* s[0..len) without ASCII white space or the full-width space (U+3000) at
 * either end, copied into the arena; NULL when nothing is left. */
char *import_trimmed(struct arena *a, const char *s, size_t len);

/* 2024-06-30, 2024/6/30, 2024.6.30 or 2024年6月30日 -> out "2024-06-30" (a real
 * calendar date, years 1900..2999); *rest points after the date. */
bool import_parse_date(const char *s, char out[11], const char **rest);

/* ct is type, optionally with parameters; a charset other than UTF-8 is not. */
bool import_media_type_is(const char *ct, const char *type);

/* The body formats both imports take, by Content-Type: text/csv,
 * application/x-ndjson (or application/jsonl), application/json (an array). */
enum import_format { IMPORT_CSV, IMPORT_NDJSON, IMPORT_JSON, IMPORT_UNSUPPORTED };
enum import_format import_format_of(const char *content_type);

#endif
