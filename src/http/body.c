/* Request bodies: bounded reading, content types, request ids. */
#include "rectify/buf.h"
#include "rectify/http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

enum body_result body_read_all(body_read_fn fn, void *ctx, long long content_length,
                               long long max, struct buf *out)
{
    if (content_length > max)
        return BODY_TOO_LARGE;
    char chunk[16384];
    for (;;) {
        long n = fn(ctx, chunk, sizeof chunk);
        if (n == 0)
            break;
        if (n < 0)
            return BODY_IO_ERROR;
        if ((long long)(out->len + (size_t)n) > max)
            return BODY_TOO_LARGE;
        if (buf_append(out, chunk, (size_t)n)) /* within max: out of memory */
            return BODY_NO_MEMORY;
    }
    if (content_length >= 0 && (long long)out->len != content_length)
        return BODY_IO_ERROR; /* the client went away before sending it all */
    if (!out->data && buf_append(out, "", 0))
        return BODY_NO_MEMORY;
    return BODY_OK;
}

bool content_type_is_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t len = strcspn(ct, "; ");
    bool json = (len == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
                (len > 17 && strncasecmp(ct, "application/", 12) == 0 &&
                 strncasecmp(ct + len - 5, "+json", 5) == 0);
    if (!json)
        return false;
    /* Parameters: only charset=utf-8 means anything to us. */
    const char *p = ct + len;
    while (*p) {
        while (*p == ';' || *p == ' ')
            p++;
        if (!*p)
            break;
        size_t plen = strcspn(p, ";");
        if (plen >= 8 && strncasecmp(p, "charset=", 8) == 0) {
            const char *v = p + 8;
            size_t vlen = plen - 8;
            while (vlen && v[vlen - 1] == ' ')
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (!((vlen == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
                  (vlen == 4 && strncasecmp(v, "utf8", 4) == 0)))
                return false;
        }
        p += plen;
    }
    return true;
}

bool request_id_is_sane(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!(isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}
