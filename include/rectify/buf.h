/* A growable byte buffer that knows its maximum size (like curl's dynbuf).
 * The buffer owns data (malloc); buf_free releases it, buf_detach hands it
 * to the caller (who then frees it with free()). data is always
 * NUL-terminated after a successful append. */
#ifndef RECTIFY_BUF_H
#define RECTIFY_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len, cap, max;
};

/* Every buffer has a maximum: max bytes of content (the NUL not counted), or
 * BUF_DEFAULT_MAX when max is 0. Give the real bound of what the buffer
 * holds (a header, a log line, one row) wherever there is one. */
#define BUF_DEFAULT_MAX ((size_t)64 << 20)
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
char *buf_detach(struct buf *b);
void buf_reset(struct buf *b);

/* Each returns 0, or -1 when the result would exceed max or memory ran out
 * (the buffer is then unchanged). The result must be checked: a caller that
 * goes on after -1 sends or stores a truncated document. */
#define BUF_MUST_CHECK __attribute__((warn_unused_result))
BUF_MUST_CHECK int buf_append(struct buf *b, const void *data, size_t n);
BUF_MUST_CHECK int buf_puts(struct buf *b, const char *s);
BUF_MUST_CHECK int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included; NULL as null. */
BUF_MUST_CHECK int buf_json_string(struct buf *b, const char *s);

#endif
