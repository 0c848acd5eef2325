/* Strict UTF-8: no overlong forms, surrogates, code points past U+10FFFF,
 * and no NUL byte (nothing we store may hold one). */
#ifndef RECTIFY_UTF8_H
#define RECTIFY_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Offset of the first byte of s[0..len) that starts an invalid sequence (or
 * is NUL), or len when all of it is valid. */
size_t utf8_bad_at(const char *s, size_t len);

/* True when s[0..len) is valid; *chars (may be NULL) gets its code points. */
bool utf8_valid(const char *s, size_t len, size_t *chars);

#endif
