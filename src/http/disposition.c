/* Content-Disposition parsing and building (disposition.h).
 *
 *   content-disposition = disposition-type *( OWS ";" OWS disposition-parm )
 *   disposition-parm    = "filename" "=" ( token / quoted-string )
 *                       / "filename*" "=" charset "'" [ language ] "'" value-chars
 *                       / token "=" ( token / quoted-string )      ; ignored
 */
#include "rectify/disposition.h"

#include "rectify/buf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one UTF-8 sequence at s (at most n bytes); returns its length and
 * the code point, or 0 when invalid (overlong, surrogate, > U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static bool utf8_ok(const char *s, size_t n)
{
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (!l || cp == 0)
            return false;
        i += l;
    }
    return true;
}

/* RFC 8187 ext-value: charset'lang'pct-encoded. */
static enum disposition_status ext_value(const char *v, size_t vlen, char *out, size_t n)
{
    const char *q1 = memchr(v, '\'', vlen);
    const char *q2 = q1 ? memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - v)) : NULL;
    if (!q2)
        return DISP_MALFORMED;
    size_t cslen = (size_t)(q1 - v);
    bool utf8 = cslen == 5 && strncasecmp(v, "utf-8", 5) == 0;
    bool latin1 = cslen == 10 && strncasecmp(v, "iso-8859-1", 10) == 0;
    if (!utf8 && !latin1)
        return DISP_BAD_CHARSET;
    size_t o = 0;
    for (const char *p = q2 + 1; p < v + vlen; p++) {
        unsigned char c;
        if (*p == '%') {
            if ((size_t)(v + vlen - p) < 3)
                return DISP_BAD_ENCODING;
            int hi = hexval(p[1]), lo = hexval(p[2]);
            if (hi < 0 || lo < 0)
                return DISP_BAD_ENCODING;
            c = (unsigned char)(hi << 4 | lo);
            p += 2;
        } else if (is_tchar((unsigned char)*p) && *p != '*' && *p != '\'' && *p != '%') {
            c = (unsigned char)*p;
        } else {
            return DISP_MALFORMED;
        }
        if (latin1 && c >= 0x80) {
            if (o + 2 >= n)
                return DISP_MALFORMED;
            out[o++] = (char)(0xC0 | c >> 6);
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            if (o + 1 >= n)
                return DISP_MALFORMED;
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return utf8_ok(out, o) ? DISP_OK : DISP_BAD_ENCODING;
}

enum disposition_status disposition_filename(const char *header, char *out, size_t n)
{
    if (!n)
        return DISP_MALFORMED;
    out[0] = '\0';
    const char *p = skip_ows(header);
    const char *type = p;
    while (is_tchar((unsigned char)*p))
        p++;
    if (p == type)
        return DISP_MALFORMED;
    bool have_plain = false, have_ext = false;
    enum disposition_status ext_status = DISP_OK;
    char *plain = out; /* filename goes to out unless filename* comes too */
    for (;;) {
        p = skip_ows(p);
        if (!*p)
            break;
        if (*p != ';')
            return DISP_MALFORMED;
        p = skip_ows(p + 1);
        if (!*p)
            break; /* a trailing ';' is tolerated */
        const char *name = p;
        while (is_tchar((unsigned char)*p))
            p++;
        size_t nlen = (size_t)(p - name);
        p = skip_ows(p);
        if (!nlen || *p != '=')
            return DISP_MALFORMED;
        p = skip_ows(p + 1);
        bool is_plain = nlen == 8 && strncasecmp(name, "filename", 8) == 0;
        bool is_ext = nlen == 9 && strncasecmp(name, "filename*", 9) == 0;
        if ((is_plain && have_plain) || (is_ext && have_ext))
            return DISP_MALFORMED;
        if (*p == '"') {
            if (is_ext)
                return DISP_MALFORMED; /* ext-value is never quoted */
            size_t o = 0;
            for (p++; *p != '"'; p++) {
                if (!*p)
                    return DISP_MALFORMED;
                if (*p == '\\' && p[1])
                    p++;
                if (is_plain && !have_ext) {
                    if (o + 1 >= n)
                        return DISP_MALFORMED;
                    plain[o++] = *p;
                }
            }
            p++;
            if (is_plain && !have_ext) {
                plain[o] = '\0';
                if (!utf8_ok(plain, o))
                    return DISP_BAD_ENCODING;
            }
        } else {
            const char *v = p;
            while (is_tchar((unsigned char)*p) || (is_ext && (*p == '\'' || *p == '%')))
                p++;
            size_t vlen = (size_t)(p - v);
            if (!vlen)
                return DISP_MALFORMED;
            if (is_ext) {
                ext_status = ext_value(v, vlen, out, n);
            } else if (is_plain && !have_ext) {
                if (vlen + 1 > n)
                    return DISP_MALFORMED;
                memcpy(plain, v, vlen);
                plain[vlen] = '\0';
            }
        }
        have_plain |= is_plain;
        have_ext |= is_ext;
    }
    if (have_ext)
        return ext_status;
    return have_plain ? DISP_OK : DISP_NO_FILENAME;
}

const char *disposition_status_text(enum disposition_status st)
{
    switch (st) {
    case DISP_OK:
        return "ok";
    case DISP_NO_FILENAME:
        return "Content-Disposition has no filename parameter";
    case DISP_MALFORMED:
        return "Content-Disposition is malformed (expected: attachment; "
               "filename=\"name\" or filename*=UTF-8''%-encoded-name)";
    case DISP_BAD_CHARSET:
        return "filename* must be encoded as UTF-8 (or ISO-8859-1)";
    case DISP_BAD_ENCODING:
        return "the file name is not valid UTF-8 or has a bad %-escape";
    }
    return "Content-Disposition is malformed";
}

/* Characters a name loses: controls (C0, DEL, C1), and everything that is
 * invisible yet changes what the reader sees, so a name could show one
 * extension and carry another: Unicode's Default_Ignorable_Code_Point set
 * (zero-width characters, bidi marks, embeddings, overrides and isolates,
 * word joiner and invisible operators, soft hyphen, variation selectors,
 * Hangul fillers, tags, BOM) plus the line and paragraph separators and the
 * interlinear annotation characters. */
static bool dropped(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
           cp == 0x00AD ||                    /* soft hyphen */
           cp == 0x034F ||                    /* combining grapheme joiner */
           cp == 0x061C ||                    /* Arabic letter mark */
           cp == 0x115F || cp == 0x1160 ||    /* Hangul choseong/jungseong fillers */
           cp == 0x17B4 || cp == 0x17B5 ||    /* Khmer inherent vowels */
           (cp >= 0x180B && cp <= 0x180F) ||  /* Mongolian variation selectors, MVS */
           (cp >= 0x200B && cp <= 0x200F) ||  /* zero-width space/(non-)joiner, LRM, RLM */
           (cp >= 0x2028 && cp <= 0x202E) ||  /* line/paragraph separators, bidi
                                               * embeddings and overrides */
           (cp >= 0x2060 && cp <= 0x206F) ||  /* word joiner, invisible operators,
                                               * bidi isolates, deprecated formats */
           cp == 0x3164 || cp == 0xFFA0 ||    /* Hangul fillers */
           (cp >= 0xFE00 && cp <= 0xFE0F) ||  /* variation selectors */
           cp == 0xFEFF ||                    /* BOM / zero-width no-break space */
           (cp >= 0xFFF0 && cp <= 0xFFFB) ||  /* unassigned, interlinear annotation */
           (cp >= 0x1BCA0 && cp <= 0x1BCA3) || /* shorthand format controls */
           (cp >= 0x1D173 && cp <= 0x1D17A) || /* musical symbol format controls */
           (cp >= 0xE0000 && cp <= 0xE0FFF);   /* tags, variation selectors supplement */
}

size_t filename_sanitize(const char *in, char *out, size_t n, size_t max_chars)
{
    if (!n)
        return 0;
    out[0] = '\0';
    size_t inlen = strlen(in);
    if (!utf8_ok(in, inlen))
        return 0;
    const char *base = in;
    for (const char *p = in; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    /* Filter into out; remember the start offset of each kept code point. */
    size_t o = 0, chars;
    uint32_t cp;
    for (size_t i = 0; base[i];) {
        size_t l = utf8_next((const unsigned char *)base + i, strlen(base + i), &cp);
        if (!l || o + l >= n)
            break;
        if (!dropped(cp)) {
            if (cp < 0x80 && strchr("<>:\"|?*", (int)cp)) {
                out[o++] = '_';
            } else {
                memcpy(out + o, base + i, l);
                o += l;
            }
        }
        i += l;
    }
    out[o] = '\0';
    /* Trim spaces and dots at both ends. */
    size_t start = 0;
    while (start < o && (out[start] == ' ' || out[start] == '.'))
        start++;
    while (o > start && (out[o - 1] == ' ' || out[o - 1] == '.'))
        o--;
    memmove(out, out + start, o - start);
    o -= start;
    out[o] = '\0';
    chars = 0;
    for (size_t i = 0; i < o; i++)
        chars += ((unsigned char)out[i] & 0xC0) != 0x80;
    if (chars <= max_chars)
        return o;
    /* Too long: keep the extension (".pdf", up to 16 characters). */
    const char *dot = strrchr(out, '.');
    size_t ext_bytes = 0, ext_chars = 0;
    if (dot && dot != out) {
        for (const char *q = dot; *q; q++)
            ext_chars += ((unsigned char)*q & 0xC0) != 0x80;
        if (ext_chars <= 16 && ext_chars < max_chars)
            ext_bytes = strlen(dot);
        else
            ext_chars = 0;
    }
    size_t keep = max_chars - ext_chars, cut = 0, seen = 0;
    while (cut < o && seen < keep) {
        cut++;
        while (cut < o && ((unsigned char)out[cut] & 0xC0) == 0x80)
            cut++;
        seen++;
    }
    /* Without an extension the cut is the end: no space or dot there either. */
    while (!ext_bytes && cut > 1 && (out[cut - 1] == ' ' || out[cut - 1] == '.'))
        cut--;
    memmove(out + cut, out + o - ext_bytes, ext_bytes);
    o = cut + ext_bytes;
    out[o] = '\0';
    return o;
}

/* The extension of a name: what follows its last '.', when that is 1 to 16
 * ASCII letters and digits with at least one letter and the dot is not the
 * first character ("v1.2", "2024.11" and "报告.第一版" have none). NULL when
 * there is none. */
static const char *extension_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return NULL;
    size_t len = 0;
    bool letter = false;
    for (const char *p = dot + 1; *p; p++, len++) {
        if ((unsigned char)*p >= 0x80 || !isalnum((unsigned char)*p))
            return NULL;
        letter |= isalpha((unsigned char)*p) != 0;
    }
    return len >= 1 && len <= 16 && letter ? dot + 1 : NULL;
}

static bool extension_allowed(const char *ext, const char *const *exts)
{
    for (; ext && *exts; exts++)
        if (strcasecmp(ext, *exts) == 0)
            return true;
    return false;
}

size_t filename_with_extension(const char *in, const char *const *exts, char *out, size_t n,
                               size_t max_chars)
{
    if (!n)
        return 0;
    out[0] = '\0';
    size_t inlen = strlen(in);
    if (!exts || !exts[0] || strlen(exts[0]) > 16 || n < inlen + 30)
        return 0;
    const char *ext = extension_of(in);
    if (extension_allowed(ext, exts)) {
        memcpy(out, in, inlen + 1);
        return inlen;
    }
    /* The base name: without a wrong extension; when that leaves a name
     * with a right one ("photo.jpg.exe"), the wrong one just goes. */
    size_t blen = ext ? (size_t)(ext - 1 - in) : inlen;
    memcpy(out, in, blen);
    out[blen] = '\0';
    if (ext && extension_allowed(extension_of(out), exts))
        return blen;
    /* Room for "." + the canonical extension within max_chars. */
    size_t ext_chars = 1 + strlen(exts[0]);
    size_t keep = max_chars > ext_chars ? max_chars - ext_chars : 1;
    size_t cut = 0, seen = 0;
    while (cut < blen && seen < keep) {
        cut++;
        while (cut < blen && ((unsigned char)out[cut] & 0xC0) == 0x80)
            cut++;
        seen++;
    }
    while (cut > 0 && (out[cut - 1] == ' ' || out[cut - 1] == '.'))
        cut--;
    if (cut == 0) {
        memcpy(out, "attachment", 10);
        cut = 10;
    }
    out[cut++] = '.';
    for (const char *p = exts[0]; *p; p++)
        out[cut++] = *p;
    out[cut] = '\0';
    return cut;
}

/* True when every byte of s is printable ASCII. */
static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s >= 0x7F)
            return false;
    return true;
}

/* Appends s to out as a quoted-string's content that every client reads
 * alike: '_' for what is not printable ASCII and for '"', '\\' and '%'. */
static int append_ascii(struct buf *out, const char *s)
{
    int rc = 0;
    for (; *s; s++) {
        char c = (*s < 0x20 || *s >= 0x7F || *s == '"' || *s == '\\' || *s == '%') ? '_' : *s;
        rc |= buf_append(out, &c, 1);
    }
    return rc;
}

int disposition_build(struct buf *out, const char *filename, const char *fallback_stem)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = buf_puts(out, "attachment; filename=\"");
    if (printable_ascii(filename)) {
        rc |= append_ascii(out, filename);
    } else {
        /* "整改报告.pdf" → "attachment-17.pdf": the stem, with the
         * extension when the name has one (extension_of: ASCII only). */
        const char *ext = extension_of(filename);
        rc |= append_ascii(out, fallback_stem && *fallback_stem ? fallback_stem : "download");
        if (ext) {
            rc |= buf_puts(out, ".");
            rc |= buf_puts(out, ext);
        }
    }
    const unsigned char *s = (const unsigned char *)filename;
    rc |= buf_puts(out, "\"; filename*=UTF-8''");
    for (; *s; s++) {
        /* attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~" */
        if (isalnum(*s) || strchr("!#$&+-.^_`|~", *s)) {
            rc |= buf_append(out, s, 1);
        } else {
            char e[3] = {'%', hex[*s >> 4], hex[*s & 15]};
            rc |= buf_append(out, e, 3);
        }
    }
    return rc ? -1 : 0;
}
