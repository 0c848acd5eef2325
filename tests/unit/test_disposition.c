/* Unit tests for src/http/disposition.c: Content-Disposition parsing (RFC
 * 6266 + RFC 8187 ext-values), file name sanitising, the extension that
 * follows the content type (with sniff_type_extensions) and the download
 * header. */
#include "rectify/buf.h"
#include "rectify/disposition.h"
#include "rectify/sniff.h"
#include "unit.h"

#include <string.h>

static char out[1024];

static enum disposition_status parse(const char *h)
{
    return disposition_filename(h, out, sizeof out);
}

static void test_parse(void)
{
    CHECK_INT(parse("attachment; filename=\"report.pdf\""), DISP_OK);
    CHECK_STR(out, "report.pdf");
    CHECK_INT(parse("attachment;filename=report.pdf"), DISP_OK);
    CHECK_STR(out, "report.pdf");
    CHECK_INT(parse("ATTACHMENT ; FileName = \"a \\\"b\\\" c.pdf\" ;"), DISP_OK);
    CHECK_STR(out, "a \"b\" c.pdf");
    /* filename* (UTF-8, percent-encoded) wins, in either order. */
    CHECK_INT(parse("attachment; filename=\"fallback.pdf\"; "
                    "filename*=UTF-8''%E6%95%B4%E6%94%B9%E6%8A%A5%E5%91%8A.pdf"), DISP_OK);
    CHECK_STR(out, "整改报告.pdf");
    CHECK_INT(parse("attachment; filename*=utf-8'zh-CN'%E6%95%B4.pdf; filename=x.pdf"), DISP_OK);
    CHECK_STR(out, "整.pdf");
    /* Raw UTF-8 in a quoted filename, as browsers and curl send it. */
    CHECK_INT(parse("attachment; filename=\"祁连山.jpg\""), DISP_OK);
    CHECK_STR(out, "祁连山.jpg");
    CHECK_INT(parse("attachment; filename*=ISO-8859-1''caf%E9.pdf"), DISP_OK);
    CHECK_STR(out, "café.pdf");
    CHECK_INT(parse("inline; name=\"x\""), DISP_NO_FILENAME);
    CHECK_INT(parse("attachment"), DISP_NO_FILENAME);

    CHECK_INT(parse(""), DISP_MALFORMED);
    CHECK_INT(parse("; filename=a.pdf"), DISP_MALFORMED);
    CHECK_INT(parse("attachment; filename=\"unterminated"), DISP_MALFORMED);
    CHECK_INT(parse("attachment; filename"), DISP_MALFORMED);
    CHECK_INT(parse("attachment; filename=a.pdf; filename=b.pdf"), DISP_MALFORMED);
    CHECK_INT(parse("attachment filename=a.pdf"), DISP_MALFORMED);
    CHECK_INT(parse("attachment; filename*=\"UTF-8''a.pdf\""), DISP_MALFORMED);
    CHECK_INT(parse("attachment; filename*=a.pdf"), DISP_MALFORMED);
    CHECK_INT(parse("attachment; filename*=GBK''%D5%FB.pdf"), DISP_BAD_CHARSET);
    CHECK_INT(parse("attachment; filename*=UTF-8''%E6%95.pdf"), DISP_BAD_ENCODING);
    CHECK_INT(parse("attachment; filename*=UTF-8''%G1.pdf"), DISP_BAD_ENCODING);
    CHECK_INT(parse("attachment; filename*=UTF-8''abc%4"), DISP_BAD_ENCODING);
    CHECK_INT(parse("attachment; filename*=UTF-8''a%00b"), DISP_BAD_ENCODING);
    CHECK_INT(parse("attachment; filename=\"\xC3\x28.pdf\""), DISP_BAD_ENCODING);
    CHECK(strlen(disposition_status_text(DISP_MALFORMED)) > 10);
}

static const char *clean(const char *in)
{
    filename_sanitize(in, out, sizeof out, 255);
    return out;
}

static void test_sanitize(void)
{
    CHECK_STR(clean("report.pdf"), "report.pdf");
    CHECK_STR(clean("../../etc/passwd"), "passwd");
    CHECK_STR(clean("..\\..\\windows\\win.ini"), "win.ini");
    CHECK_STR(clean("C:\\Users\\张三\\整改报告.docx"), "整改报告.docx");
    CHECK_STR(clean("../"), "");
    CHECK_STR(clean(".."), "");
    CHECK_STR(clean("  .hidden. "), "hidden");
    CHECK_STR(clean("a\tb\r\nc\x7F.pdf"), "abc.pdf");
    CHECK_STR(clean("a\xC2\x85" "b.pdf"), "ab.pdf");                 /* C1 control */
    CHECK_STR(clean("invoice\xE2\x80\xAE" "fdp.exe"), "invoicefdp.exe"); /* RLO */
    CHECK_STR(clean("a<b>c:d\"e|f?g*.pdf"), "a_b_c_d_e_f_g_.pdf");
    CHECK_STR(clean("\xFF\xFE"), "");                                 /* not UTF-8 */
    /* Shortened to 255 characters, the extension kept. */
    char longname[1200];
    memset(longname, 0, sizeof longname);
    for (int i = 0; i < 300; i++)
        strcat(longname, "报");
    strcat(longname, ".pdf");
    size_t n = filename_sanitize(longname, out, sizeof out, 255);
    CHECK_INT(n, 251 * 3 + 4);
    CHECK(strcmp(out + n - 4, ".pdf") == 0);
    CHECK(memcmp(out, "报", 3) == 0);
    /* A long "extension" is not kept whole. */
    memset(longname, 'a', 300);
    longname[0] = 'x';
    longname[1] = '.';
    longname[300] = 0;
    CHECK_INT(filename_sanitize(longname, out, sizeof out, 255), 255);
    /* Where the name is cut, no space or dot is left at the end (fuzz_disposition). */
    CHECK_INT(filename_sanitize("my report", out, sizeof out, 3), 2);
    CHECK_STR(out, "my");
    CHECK_INT(filename_sanitize("a. b.tar.gz.verylongextension17", out, sizeof out, 3), 1);
    CHECK_STR(out, "a");
    CHECK_INT(filename_sanitize("ab cd.pdf", out, sizeof out, 7), 7);
    CHECK_STR(out, "ab .pdf");
}

/* Appends the UTF-8 encoding of cp to s. */
static void put_cp(char *s, unsigned cp)
{
    char *p = s + strlen(s);
    if (cp < 0x80) {
        *p++ = (char)cp;
    } else if (cp < 0x800) {
        *p++ = (char)(0xC0 | cp >> 6);
        *p++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *p++ = (char)(0xE0 | cp >> 12);
        *p++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *p++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *p++ = (char)(0xF0 | cp >> 18);
        *p++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *p++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *p++ = (char)(0x80 | (cp & 0x3F));
    }
    *p = '\0';
}

/* Invisible characters that change how a name reads are dropped: the
 * ones a reader cannot see but that reorder or hide part of the name. */
static void test_sanitize_invisible(void)
{
    static const unsigned invisible[] = {
        0x200B, 0x200C, 0x200D, 0x200E, 0x200F,  /* zero-width, LRM, RLM */
        0x202A, 0x202B, 0x202C, 0x202D, 0x202E,  /* bidi embeddings, overrides */
        0x2066, 0x2067, 0x2068, 0x2069,          /* bidi isolates */
        0x2060, 0x2061, 0x2062, 0x2063, 0x2064,  /* word joiner, invisible operators */
        0xFEFF,                                  /* BOM */
        0x00AD, 0x034F, 0x061C, 0x180E,          /* soft hyphen, CGJ, ALM, MVS */
        0x2028, 0x2029,                          /* line, paragraph separators */
        0xFE0F, 0xFFF9, 0x3164,                  /* VS16, annotation anchor, filler */
        0xE0001, 0xE007F, 0xE0100,               /* tags, VS17 */
    };
    for (size_t i = 0; i < sizeof invisible / sizeof invisible[0]; i++) {
        char name[64] = "";
        const char *parts[] = {"re", "po", "rt.pdf", ""};
        for (size_t k = 0; k < 4; k++) {
            put_cp(name, invisible[i]);
            strcat(name, parts[k]);
        }
        CHECK_STR(clean(name), "report.pdf");
    }
    /* What stays: visible text of every script, and the separators around it. */
    CHECK_STR(clean("整改报告（第一批）.pdf"), "整改报告（第一批）.pdf");
    CHECK_STR(clean("تقرير.pdf"), "تقرير.pdf");
    CHECK_STR(clean("가 — x.pdf"), "가 — x.pdf");
    /* Only invisible characters: nothing left. */
    CHECK_STR(clean("\xE2\x80\xAE\xE2\x81\xA0\xEF\xBB\xBF"), "");
}

static const char *with_ext(const char *name, const char *type)
{
    static char clean_name[1024];
    filename_sanitize(name, clean_name, sizeof clean_name, 255);
    filename_with_extension(clean_name, sniff_type_extensions(type), out, sizeof out, 255);
    return out;
}

#define PDF "application/pdf"
#define DOCX "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

static void test_extension(void)
{
    /* The table: every accepted type, canonical extension first. */
    CHECK_STR(sniff_type_extensions("image/jpeg")[0], "jpg");
    CHECK_STR(sniff_type_extensions("image/jpeg")[1], "jpeg");
    CHECK_STR(sniff_type_extensions(PDF)[0], "pdf");
    CHECK(sniff_type_extensions(PDF)[1] == NULL);
    CHECK_STR(sniff_type_extensions(DOCX)[0], "docx");
    CHECK_STR(sniff_type_extensions("application/ofd")[0], "ofd");
    CHECK_STR(sniff_type_extensions("application/vnd.ms-powerpoint")[0], "ppt");
    CHECK(sniff_type_extensions("text/html") == NULL);
    CHECK(sniff_type_extensions(NULL) == NULL);
    /* sniff_content's ext is the canonical one. */
    struct sniff_result t = sniff_content((const unsigned char *)"%PDF-1.7\n", 9);
    CHECK_STR(t.ext, sniff_type_extensions(t.type)[0]);
    t = sniff_content((const unsigned char *)"\xFF\xD8\xFF\xE0", 4);
    CHECK_STR(t.ext, sniff_type_extensions(t.type)[0]);

    /* Right extension: kept, in any case, alternatives of the type included. */
    CHECK_STR(with_ext("plan.pdf", PDF), "plan.pdf");
    CHECK_STR(with_ext("PLAN.PDF", PDF), "PLAN.PDF");
    CHECK_STR(with_ext("photo.jpeg", "image/jpeg"), "photo.jpeg");
    CHECK_STR(with_ext("photo.JPG", "image/jpeg"), "photo.JPG");
    CHECK_STR(with_ext("photo.jfif", "image/jpeg"), "photo.jfif");
    CHECK_STR(with_ext("a.exe.pdf", PDF), "a.exe.pdf");
    /* Wrong extension: replaced by the canonical one, the base name kept. */
    CHECK_STR(with_ext("x.exe", PDF), "x.pdf");
    CHECK_STR(with_ext("整改报告.html", PDF), "整改报告.pdf");
    CHECK_STR(with_ext("photo.jpg", "image/png"), "photo.png");
    CHECK_STR(with_ext("photo.jpeg", "image/webp"), "photo.webp");
    CHECK_STR(with_ext("report.doc", DOCX), "report.docx");
    CHECK_STR(with_ext("report.docm", DOCX), "report.docx");
    CHECK_STR(with_ext("x.tar.gz", PDF), "x.tar.pdf");
    CHECK_STR(with_ext("scan.pdf.exe", PDF), "scan.pdf");     /* the wrong one just goes */
    CHECK_STR(with_ext("photo.jpeg.scr", "image/jpeg"), "photo.jpeg");
    CHECK_STR(with_ext("a .exe", PDF), "a.pdf");             /* no space before the dot */
    CHECK_STR(with_ext("a . exe", PDF), "a . exe.pdf");     /* " exe" is no extension */
    /* Bidi override: "\u202Efdp.exe" shows as "exe.pdf" but is an .exe. */
    CHECK_STR(with_ext("\xE2\x80\xAE" "fdp.exe", PDF), "fdp.pdf");
    CHECK_STR(with_ext("invoice\xE2\x80\xAE" "fdp.exe", PDF), "invoicefdp.pdf");
    CHECK_STR(with_ext("\xE2\x81\xA6" "report\xE2\x81\xA9\xE2\x81\xA0.exe", PDF), "report.pdf");
    /* No extension: one is added. Not extensions: digits only, non-ASCII,
     * more than 16 characters, a leading dot (sanitize trims it). */
    CHECK_STR(with_ext("整改报告", PDF), "整改报告.pdf");
    CHECK_STR(with_ext("方案 v1.2", PDF), "方案 v1.2.pdf");
    CHECK_STR(with_ext("2024.11", PDF), "2024.11.pdf");
    CHECK_STR(with_ext("报告.第一版", PDF), "报告.第一版.pdf");
    CHECK_STR(with_ext("a.abcdefghijklmnopq", PDF), "a.abcdefghijklmnopq.pdf");
    CHECK_STR(with_ext(".exe", PDF), "exe.pdf");
    CHECK_STR(with_ext("", PDF), "attachment.pdf");
    CHECK_STR(with_ext("../", "image/png"), "attachment.png");
    CHECK_STR(with_ext(".exe", "image/gif"), "exe.gif");
    /* Unknown type: nothing. */
    CHECK_INT(filename_with_extension("x.exe", NULL, out, sizeof out, 255), 0);
    CHECK_STR(out, "");
    /* Too small a buffer: nothing. */
    char small[8];
    CHECK_INT(filename_with_extension("x.exe", sniff_type_extensions(PDF), small, sizeof small, 255), 0);

    /* Within max_chars: the base name is shortened, never the extension. */
    char longname[1200] = "";
    for (int i = 0; i < 255; i++)
        strcat(longname, "报");
    size_t n = filename_with_extension(longname, sniff_type_extensions(PDF), out, sizeof out, 255);
    CHECK_INT(n, 251 * 3 + 4);
    CHECK(strcmp(out + n - 4, ".pdf") == 0);
    strcpy(longname + 250 * 3, "  .exe");  /* 250 chars, spaces, .exe: 256 chars */
    filename_sanitize(longname, out, sizeof out, 255);
    char cleaned[1200];
    strcpy(cleaned, out);
    n = filename_with_extension(cleaned, sniff_type_extensions(PDF), out, sizeof out, 255);
    CHECK_INT(n, 250 * 3 + 4);                 /* the spaces before the new dot go */
    CHECK(strcmp(out + n - 4, ".pdf") == 0);
    n = filename_with_extension("abcdefgh", sniff_type_extensions(PDF), out, sizeof out, 8);
    CHECK_STR(out, "abcd.pdf");
    n = filename_with_extension("ab  cdefgh", sniff_type_extensions(PDF), out, sizeof out, 8);
    CHECK_STR(out, "ab.pdf");

    /* Stable: sanitising or fixing the result again changes nothing. */
    static const char *const names[] = {
        "x.exe", ("\xE2\x80\xAE" "fdp.exe") /* U+202E */, "整改报告", "", "scan.pdf.exe",
        "a .exe", "方案 v1.2", "photo.JPG"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char once[256], again[256];
        strcpy(once, with_ext(names[i], PDF));
        filename_sanitize(once, again, sizeof again, 255);
        CHECK_STR(again, once);
        filename_with_extension(once, sniff_type_extensions(PDF), again, sizeof again, 255);
        CHECK_STR(again, once);
    }
}

static void test_build(void)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(disposition_build(&b, "整改报告 v2.pdf", "attachment-17"), 0);
    CHECK_STR(b.data, "attachment; filename=\"attachment-17.pdf\"; "
                      "filename*=UTF-8''%E6%95%B4%E6%94%B9%E6%8A%A5%E5%91%8A%20v2.pdf");
    buf_reset(&b);
    /* An export: the stem carries the date; no extension, no dot. */
    CHECK_INT(disposition_build(&b, "整改任务台账-20261202.xlsx", "tasks-20261202"), 0);
    CHECK_STR(b.data, "attachment; filename=\"tasks-20261202.xlsx\"; filename*=UTF-8''"
                      "%E6%95%B4%E6%94%B9%E4%BB%BB%E5%8A%A1%E5%8F%B0%E8%B4%A6-20261202.xlsx");
    buf_reset(&b);
    CHECK_INT(disposition_build(&b, "整改报告", "attachment-3"), 0);
    CHECK_STR(b.data, "attachment; filename=\"attachment-3\"; filename*=UTF-8''"
                      "%E6%95%B4%E6%94%B9%E6%8A%A5%E5%91%8A");
    buf_reset(&b);
    CHECK_INT(disposition_build(&b, "报告.第一版", NULL), 0); /* no extension, no stem */
    CHECK_STR(b.data, "attachment; filename=\"download\"; filename*=UTF-8''"
                      "%E6%8A%A5%E5%91%8A.%E7%AC%AC%E4%B8%80%E7%89%88");
    buf_reset(&b);
    CHECK_INT(disposition_build(&b, "é.PDF", "x\"é"), 0); /* the stem is made safe too */
    CHECK_STR(b.data, "attachment; filename=\"x___.PDF\"; filename*=UTF-8''%C3%A9.PDF");
    buf_reset(&b);
    CHECK_INT(disposition_build(&b, "report v2.pdf", "attachment-17"), 0); /* ASCII: itself */
    CHECK_STR(b.data, "attachment; filename=\"report v2.pdf\"; filename*=UTF-8''report%20v2.pdf");
    buf_reset(&b);
    CHECK_INT(disposition_build(&b, "a\"b\\c%d;e.pdf", "attachment-1"), 0);
    CHECK_STR(b.data, "attachment; filename=\"a_b_c_d;e.pdf\"; "
                      "filename*=UTF-8''a%22b%5Cc%25d%3Be.pdf");
    buf_free(&b);
    /* Round trip: what we build, we parse back. */
    buf_init(&b, 0);
    disposition_build(&b, "甘肃省 整改.pdf", "attachment-1");
    CHECK_INT(parse(b.data), DISP_OK);
    CHECK_STR(out, "甘肃省 整改.pdf");
    buf_free(&b);
}

int main(void)
{
    test_parse();
    test_sanitize();
    test_sanitize_invisible();
    test_extension();
    test_build();
    return UNIT_DONE();
}
