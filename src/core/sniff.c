/* Content sniffing of uploaded files (sniff.h). Every read is bounds-checked
 * against len; loops over file structures are bounded by the file's size, so
 * a crafted ZIP or OLE2 file cannot make them run away. */
#include "rectify/sniff.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define T_DOCX "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#define T_XLSX "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define T_PPTX "application/vnd.openxmlformats-officedocument.presentationml.presentation"
#define T_DOC "application/msword"
#define T_XLS "application/vnd.ms-excel"
#define T_PPT "application/vnd.ms-powerpoint"
#define T_OFD "application/ofd"

static struct sniff_result ok(const char *type, const char *ext)
{
    return (struct sniff_result){type, ext, NULL};
}

static struct sniff_result refused(const char *why)
{
    return (struct sniff_result){NULL, NULL, why};
}

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool has(const unsigned char *d, size_t len, size_t off, const char *s, size_t n)
{
    return off <= len && n <= len - off && memcmp(d + off, s, n) == 0;
}

/* --- ZIP: OOXML and OFD ----------------------------------------------------- */

static bool name_is(const unsigned char *name, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(name, s, n) == 0;
}

static bool name_ends(const unsigned char *name, size_t n, const char *s)
{
    size_t l = strlen(s);
    return n >= l && memcmp(name + n - l, s, l) == 0;
}

static struct sniff_result sniff_zip(const unsigned char *d, size_t len)
{
    /* The end-of-central-directory record: 22 bytes + a comment < 64 KiB. */
    if (len < 22 + 30)
        return refused("a truncated ZIP archive");
    size_t eocd = 0;
    bool found = false;
    size_t lowest = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lowest;) {
        if (memcmp(d + i, "PK\5\6", 4) == 0 && i + 22 + le16(d + i + 20) == len) {
            eocd = i;
            found = true;
            break;
        }
    }
    if (!found)
        return refused("a ZIP archive without a readable central directory");
    uint16_t entries = le16(d + eocd + 10);
    uint32_t cd_size = le32(d + eocd + 12), cd_off = le32(d + eocd + 16);
    if (entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu)
        return refused("a ZIP64 archive");
    if ((size_t)cd_off > eocd || (size_t)cd_size > eocd - cd_off)
        return refused("a ZIP archive with a broken central directory");

    bool content_types = false, ofd = false, macros = false;
    int word = 0, xl = 0, ppt = 0;
    size_t p = cd_off, end = (size_t)cd_off + cd_size;
    for (unsigned i = 0; i < entries; i++) {
        if (p + 46 > end || memcmp(d + p, "PK\1\2", 4) != 0)
            return refused("a ZIP archive with a broken central directory");
        size_t nlen = le16(d + p + 28);
        size_t total = 46 + nlen + le16(d + p + 30) + le16(d + p + 32);
        if (total > end - p)
            return refused("a ZIP archive with a broken central directory");
        const unsigned char *name = d + p + 46;
        if (name_is(name, nlen, "[Content_Types].xml"))
            content_types = true;
        else if (name_is(name, nlen, "word/document.xml"))
            word++;
        else if (name_is(name, nlen, "xl/workbook.xml"))
            xl++;
        else if (name_is(name, nlen, "ppt/presentation.xml"))
            ppt++;
        else if (name_is(name, nlen, "OFD.xml"))
            ofd = true;
        if (name_ends(name, nlen, "vbaProject.bin"))
            macros = true;
        p += total;
    }
    if (content_types && word + xl + ppt == 1) {
        if (macros)
            return refused("a macro-enabled Office document");
        return word ? ok(T_DOCX, "docx") : xl ? ok(T_XLSX, "xlsx") : ok(T_PPTX, "pptx");
    }
    if (ofd && !content_types)
        return ok(T_OFD, "ofd");
    return refused("a ZIP archive that is not an Office (docx, xlsx, pptx) or OFD document");
}

/* --- OLE2 compound files: doc, xls, ppt -------------------------------------- */

#define OLE_END 0xFFFFFFFAu /* ids from here up are end-of-chain / free / special */

struct ole {
    const unsigned char *d;
    size_t len, ssz;
    uint32_t ndifat, first_difat;
};

/* Offset of sector sid, or 0 when it is not wholly inside the file. */
static size_t ole_sector(const struct ole *o, uint32_t sid)
{
    if (sid >= OLE_END)
        return 0;
    size_t off = ((size_t)sid + 1) * o->ssz;
    if (off / o->ssz != (size_t)sid + 1 || off > o->len || o->ssz > o->len - off)
        return 0;
    return off;
}

/* The sector holding FAT block k (header DIFAT, then the DIFAT chain). */
static uint32_t ole_fat_sector(const struct ole *o, uint32_t k)
{
    if (k < 109)
        return le32(o->d + 76 + 4 * k);
    k -= 109;
    uint32_t per = (uint32_t)(o->ssz / 4 - 1);
    uint32_t sid = o->first_difat;
    for (uint32_t hop = 0; hop < k / per; hop++) {
        size_t off = ole_sector(o, sid);
        if (!off || hop >= o->ndifat)
            return OLE_END;
        sid = le32(o->d + off + 4 * per);
    }
    size_t off = ole_sector(o, sid);
    return off ? le32(o->d + off + 4 * (k % per)) : OLE_END;
}

static uint32_t ole_next(const struct ole *o, uint32_t sid)
{
    uint32_t per = (uint32_t)(o->ssz / 4);
    size_t off = ole_sector(o, ole_fat_sector(o, sid / per));
    return off ? le32(o->d + off + 4 * (sid % per)) : OLE_END;
}

/* A directory entry's name (UTF-16LE) equals the ASCII s. */
static bool ole_name_is(const unsigned char *e, const char *s)
{
    size_t bytes = le16(e + 64), n = strlen(s);
    if (bytes != 2 * (n + 1) || bytes > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (e[2 * i] != (unsigned char)s[i] || e[2 * i + 1] != 0)
            return false;
    return true;
}

static struct sniff_result sniff_ole(const unsigned char *d, size_t len)
{
    if (len < 512 || le16(d + 28) != 0xFFFE)
        return refused("a damaged OLE2 compound file");
    uint16_t shift = le16(d + 30);
    if (shift != 9 && shift != 12)
        return refused("a damaged OLE2 compound file");
    struct ole o = {d, len, (size_t)1 << shift, le32(d + 72), le32(d + 68)};
    bool word = false, excel = false, ppt = false, macros = false;
    uint32_t sid = le32(d + 48);
    size_t max_steps = len / o.ssz + 1;
    for (size_t step = 0; sid < OLE_END; step++) {
        size_t off = ole_sector(&o, sid);
        if (!off || step >= max_steps)
            return refused("a damaged OLE2 compound file");
        for (size_t e = off; e < off + o.ssz; e += 128) {
            const unsigned char *ent = d + e;
            unsigned type = ent[66]; /* 1 storage, 2 stream, 5 root */
            if (type == 2 && ole_name_is(ent, "WordDocument"))
                word = true;
            else if (type == 2 && (ole_name_is(ent, "Workbook") || ole_name_is(ent, "Book")))
                excel = true;
            else if (type == 2 && ole_name_is(ent, "PowerPoint Document"))
                ppt = true;
            else if (type == 1 && (ole_name_is(ent, "Macros") ||
                                   ole_name_is(ent, "_VBA_PROJECT_CUR") ||
                                   ole_name_is(ent, "VBA")))
                macros = true;
        }
        sid = ole_next(&o, sid);
    }
    if (macros)
        return refused("a legacy Office document with macros");
    if (word + excel + ppt != 1)
        return refused("an OLE2 compound file that is not a Word, Excel or PowerPoint document");
    return word ? ok(T_DOC, "doc") : excel ? ok(T_XLS, "xls") : ok(T_PPT, "ppt");
}

/* --- the entry point ---------------------------------------------------------- */

struct sniff_result sniff_content(const unsigned char *d, size_t len)
{
    if (len == 0)
        return refused("empty");
    if (has(d, len, 0, "\xFF\xD8\xFF", 3))
        return ok("image/jpeg", "jpg");
    if (has(d, len, 0, "\x89PNG\r\n\x1A\n", 8) && has(d, len, 12, "IHDR", 4))
        return ok("image/png", "png");
    if (has(d, len, 0, "GIF87a", 6) || has(d, len, 0, "GIF89a", 6))
        return ok("image/gif", "gif");
    if (has(d, len, 0, "RIFF", 4) && has(d, len, 8, "WEBP", 4) &&
        (has(d, len, 12, "VP8 ", 4) || has(d, len, 12, "VP8L", 4) || has(d, len, 12, "VP8X", 4)))
        return ok("image/webp", "webp");
    if (has(d, len, 0, "%PDF-", 5) && len > 5 && isdigit(d[5]))
        return ok("application/pdf", "pdf");
    if (has(d, len, 0, "PK\3\4", 4))
        return sniff_zip(d, len);
    if (has(d, len, 0, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
        return sniff_ole(d, len);
    return refused("not one of the accepted types (JPEG, PNG, GIF, WebP, PDF, OFD, "
                   "Word, Excel, PowerPoint)");
}

/* --- file extensions ------------------------------------------------------------ */

static const char *const ext_jpeg[] = {"jpg", "jpeg", "jpe", "jfif", NULL};
static const char *const ext_png[] = {"png", NULL}, *const ext_gif[] = {"gif", NULL};
static const char *const ext_webp[] = {"webp", NULL}, *const ext_pdf[] = {"pdf", NULL};
static const char *const ext_ofd[] = {"ofd", NULL}, *const ext_docx[] = {"docx", NULL};
static const char *const ext_xlsx[] = {"xlsx", NULL}, *const ext_pptx[] = {"pptx", NULL};
static const char *const ext_doc[] = {"doc", NULL}, *const ext_xls[] = {"xls", NULL};
static const char *const ext_ppt[] = {"ppt", NULL};

static const struct {
    const char *type;
    const char *const *exts;
} type_exts[] = {
    {"image/jpeg", ext_jpeg}, {"image/png", ext_png},   {"image/gif", ext_gif},
    {"image/webp", ext_webp}, {"application/pdf", ext_pdf}, {T_OFD, ext_ofd},
    {T_DOCX, ext_docx},       {T_XLSX, ext_xlsx},       {T_PPTX, ext_pptx},
    {T_DOC, ext_doc},         {T_XLS, ext_xls},         {T_PPT, ext_ppt},
};

const char *const *sniff_type_extensions(const char *type)
{
    for (size_t i = 0; type && i < sizeof type_exts / sizeof type_exts[0]; i++)
        if (strcmp(type, type_exts[i].type) == 0)
            return type_exts[i].exts;
    return NULL;
}

/* --- declared types ---------------------------------------------------------- */

static const struct {
    const char *alias, *type;
} aliases[] = {
    {"image/jpg", "image/jpeg"},
    {"image/pjpeg", "image/jpeg"},
    {"image/x-png", "image/png"},
    {"application/x-pdf", "application/pdf"},
    {"application/acrobat", "application/pdf"},
    {"application/x-ofd", T_OFD},
    {"application/x-zip-compressed", "application/zip"},
    {"application/x-ole-storage", "application/vnd.ms-office"},
    {"application/octet-stream", ""},
    {"binary/octet-stream", ""},
};

bool sniff_declared_type(const char *ct, char *out, size_t n)
{
    if (n == 0)
        return false;
    out[0] = '\0';
    if (!ct)
        return true;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t len = strcspn(ct, "; \t");
    if (len == 0)
        return *ct == '\0';
    if (len >= n)
        return false;
    const char *slash = memchr(ct, '/', len);
    if (!slash || slash == ct || slash == ct + len - 1 || memchr(slash + 1, '/', len - 1 - (size_t)(slash - ct)))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)ct[i];
        if (!(isalnum(c) || strchr("/!#$&^_.+-", c)))
            return false;
        out[i] = (char)tolower(c);
    }
    out[len] = '\0';
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(out, aliases[i].alias) == 0) {
            snprintf(out, n, "%s", aliases[i].type);
            break;
        }
    return true;
}

bool sniff_declared_matches(const char *declared, const char *sniffed)
{
    if (!sniffed)
        return false;
    if (!declared || !*declared || strcmp(declared, sniffed) == 0)
        return true;
    bool zip = strcmp(sniffed, T_DOCX) == 0 || strcmp(sniffed, T_XLSX) == 0 ||
               strcmp(sniffed, T_PPTX) == 0 || strcmp(sniffed, T_OFD) == 0;
    bool ole = strcmp(sniffed, T_DOC) == 0 || strcmp(sniffed, T_XLS) == 0 ||
               strcmp(sniffed, T_PPT) == 0;
    return (zip && strcmp(declared, "application/zip") == 0) ||
           (ole && strcmp(declared, "application/vnd.ms-office") == 0);
}
