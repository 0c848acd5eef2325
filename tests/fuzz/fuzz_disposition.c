/* libFuzzer: Content-Disposition (src/http/disposition.c), on a
 * worker-sized stack (worker_stack.h). The first byte picks the length
 * limit of the sanitised name; the rest is a request's header value.
 *
 * Checks, for the header's file name and for the raw input as a name:
 *   - a parsed file name is valid UTF-8 and no longer than the header;
 *   - a sanitised name is valid UTF-8 with no path separator, control,
 *     bidi or zero-width character, none of <>:"|?*, at most the limit of
 *     code points, no space or dot at either end, and sanitising it again
 *     changes nothing;
 *   - the download header built for it parses back to the same name. */
#include "rectify/buf.h"
#include "rectify/disposition.h"
#include "rectify/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker_stack.h"

/* Next code point of valid UTF-8 (checked by the caller). */
static uint32_t next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (len > 1) {
        c &= 0x3F >> (len - 1);
        for (size_t i = 1; i < len; i++)
            c = (c << 6) | (s[i] & 0x3F);
    }
    *p = s + len;
    return c;
}

static bool forbidden(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
           (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF ||
           (cp < 0x80 && strchr("/\\<>:\"|?*", (int)cp));
}

static void check_sanitised(const char *name, size_t max_chars)
{
    size_t n = strlen(name) + 1;
    char *clean = malloc(n), *again = malloc(n);
    if (!clean || !again)
        abort();
    size_t len = filename_sanitize(name, clean, n, max_chars);
    size_t chars;
    if (len != strlen(clean) || !utf8_valid(clean, len, &chars) || chars > max_chars)
        abort();
    for (const unsigned char *p = (const unsigned char *)clean; *p;)
        if (forbidden(next_cp(&p)))
            abort();
    if (len && (clean[0] == ' ' || clean[0] == '.' || clean[len - 1] == ' ' ||
                clean[len - 1] == '.'))
        abort();
    if (filename_sanitize(clean, again, n, max_chars) != len || strcmp(again, clean) != 0)
        abort();
    if (len) {
        struct buf h;
        buf_init(&h, 0);
        if (disposition_build(&h, clean, "attachment-1") != 0 || !h.data)
            abort();
        char *back = malloc(h.len + 1);
        if (!back)
            abort();
        if (disposition_filename(h.data, back, h.len + 1) != DISP_OK || strcmp(back, clean) != 0)
            abort();
        free(back);
        buf_free(&h);
    }
    free(clean);
    free(again);
}

static void one(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t max_chars = 1 + data[0] % 64;
    char *header = strndup((const char *)data + 1, size - 1);
    if (!header)
        return;
    size_t hlen = strlen(header);
    char *name = malloc(hlen + 1);
    if (!name)
        abort();
    enum disposition_status st = disposition_filename(header, name, hlen + 1);
    if (!disposition_status_text(st))
        abort();
    if (st == DISP_OK) {
        if (strlen(name) > hlen || !utf8_valid(name, strlen(name), NULL))
            abort();
        check_sanitised(name, max_chars);
    }
    check_sanitised(header, max_chars);
    free(name);
    free(header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
