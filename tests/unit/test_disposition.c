/* Unit tests for src/http/disposition.c: Content-Disposition parsing (RFC
 * 6266 + RFC 8187 ext-values), file name sanitising and the download header. */
#include "rectify/buf.h"
#include "rectify/disposition.h"
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

static void test_build(void)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(disposition_build(&b, "整改报告 v2.pdf"), 0);
    CHECK_STR(b.data, "attachment; filename=\"____ v2.pdf\"; "
                      "filename*=UTF-8''%E6%95%B4%E6%94%B9%E6%8A%A5%E5%91%8A%20v2.pdf");
    buf_reset(&b);
    CHECK_INT(disposition_build(&b, "a\"b\\c%d;e.pdf"), 0);
    CHECK_STR(b.data, "attachment; filename=\"a_b_c_d;e.pdf\"; "
                      "filename*=UTF-8''a%22b%5Cc%25d%3Be.pdf");
    buf_free(&b);
    /* Round trip: what we build, we parse back. */
    buf_init(&b, 0);
    disposition_build(&b, "甘肃省 整改.pdf");
    CHECK_INT(parse(b.data), DISP_OK);
    CHECK_STR(out, "甘肃省 整改.pdf");
    buf_free(&b);
}

int main(void)
{
    test_parse();
    test_sanitize();
    test_build();
    return UNIT_DONE();
}
