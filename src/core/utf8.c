#include "rectify/utf8.h"

size_t utf8_bad_at(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], lo = 0x80, hi = 0xBF;
        size_t n;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80; /* overlong */
            hi = c == 0xED ? 0x9F : 0xBF; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            lo = c == 0xF0 ? 0x90 : 0x80; /* overlong */
            hi = c == 0xF4 ? 0x8F : 0xBF; /* past U+10FFFF */
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            unsigned b = s[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
                return i;
        }
        i += n + 1;
    }
    return len;
}

bool utf8_valid(const char *s, size_t len, size_t *chars)
{
    if (utf8_bad_at(s, len) != len)
        return false;
    if (chars) {
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
            n += ((unsigned char)s[i] & 0xC0) != 0x80;
        *chars = n;
    }
    return true;
}
