/* Unit tests for src/core/sniff.c: every accepted type from a minimal file
 * built here, the refusals (other ZIPs, macros, damaged containers,
 * executables, text), and declared-type normalisation and matching. */
#include "rectify/sniff.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *type_of(const void *d, size_t n)
{
    struct sniff_result r = sniff_content(d, n);
    return r.type ? r.type : "(refused)";
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A stored ZIP with the given entry names (empty contents); CRCs are not
 * checked by the sniffer. Returns its length in out (caller frees). */
static size_t zip(const char *const *names, size_t n, unsigned char **out)
{
    unsigned char *z = calloc(1, 8192);
    size_t p = 0, offs[16];
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        offs[i] = p;
        memcpy(z + p, "PK\3\4", 4);
        put16(z + p + 4, 20);
        put16(z + p + 26, (unsigned)l);
        memcpy(z + p + 30, names[i], l);
        p += 30 + l;
    }
    size_t cd = p;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        memcpy(z + p, "PK\1\2", 4);
        put16(z + p + 4, 20);
        put16(z + p + 6, 20);
        put16(z + p + 28, (unsigned)l);
        put32(z + p + 42, (uint32_t)offs[i]);
        memcpy(z + p + 46, names[i], l);
        p += 46 + l;
    }
    memcpy(z + p, "PK\5\6", 4);
    put16(z + p + 8, (unsigned)n);
    put16(z + p + 10, (unsigned)n);
    put32(z + p + 12, (uint32_t)(p - cd));
    put32(z + p + 16, (uint32_t)cd);
    p += 22;
    *out = z;
    return p;
}

static void put_name(unsigned char *e, const char *name, unsigned type)
{
    size_t l = strlen(name);
    for (size_t i = 0; i < l; i++)
        e[2 * i] = (unsigned char)name[i];
    put16(e + 64, (unsigned)(2 * (l + 1)));
    e[66] = (unsigned char)type;
}

/* A minimal OLE2 file (512-byte sectors): sector 0 = FAT, sector 1 = the
 * directory with a root entry and the given entries. */
static size_t ole(const char *const *names, const unsigned *types, size_t n, unsigned char **out)
{
    size_t len = 512 * 3;
    unsigned char *d = calloc(1, len);
    memcpy(d, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
    put16(d + 24, 0x3E);
    put16(d + 26, 3);
    put16(d + 28, 0xFFFE);
    put16(d + 30, 9);
    put16(d + 32, 6);
    put32(d + 44, 1);          /* FAT sectors */
    put32(d + 48, 1);          /* first directory sector */
    put32(d + 60, 0xFFFFFFFE); /* mini FAT */
    put32(d + 68, 0xFFFFFFFE); /* DIFAT chain */
    for (int i = 0; i < 109; i++)
        put32(d + 76 + 4 * i, i == 0 ? 0 : 0xFFFFFFFF);
    unsigned char *fat = d + 512;
    for (int i = 0; i < 128; i++)
        put32(fat + 4 * i, i == 0 ? 0xFFFFFFFD : i == 1 ? 0xFFFFFFFE : 0xFFFFFFFF);
    unsigned char *dir = d + 1024;
    put_name(dir, "Root Entry", 5);
    for (size_t i = 0; i < n && i < 3; i++)
        put_name(dir + 128 * (i + 1), names[i], types[i]);
    *out = d;
    return len;
}

static void test_images_and_pdf(void)
{
    static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'};
    static const unsigned char png[] = "\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR\0\0\0\1\0\0\0\1\x08\x06\0\0\0";
    static const unsigned char png_no_ihdr[] = "\x89PNG\r\n\x1A\n\0\0\0\x0DIDAT";
    CHECK_STR(type_of(jpeg, sizeof jpeg), "image/jpeg");
    CHECK_STR(sniff_content(jpeg, sizeof jpeg).ext, "jpg");
    CHECK_STR(type_of(png, sizeof png - 1), "image/png");
    CHECK_STR(type_of(png_no_ihdr, sizeof png_no_ihdr - 1), "(refused)");
    CHECK_STR(type_of("GIF89a\1\0\1\0", 10), "image/gif");
    CHECK_STR(type_of("GIF87a", 6), "image/gif");
    CHECK_STR(type_of("RIFF\x24\0\0\0WEBPVP8 ", 16), "image/webp");
    CHECK_STR(type_of("RIFF\x24\0\0\0WAVEfmt ", 16), "(refused)"); /* a WAV file */
    CHECK_STR(type_of("%PDF-1.7\n", 9), "application/pdf");
    CHECK_STR(type_of("%PDF-", 5), "(refused)");
    CHECK_STR(type_of(" %PDF-1.4", 9), "(refused)"); /* nothing before the header */
}

static void test_refused(void)
{
    struct sniff_result r = sniff_content((const unsigned char *)"\x7F" "ELF\2\1\1", 7);
    CHECK(r.type == NULL);
    CHECK(r.why && strstr(r.why, "not one of the accepted types"));
    CHECK_STR(type_of("#!/bin/sh\nrm -rf /\n", 19), "(refused)");
    CHECK_STR(type_of("<html><script>", 14), "(refused)");
    CHECK_STR(type_of("plain text is not evidence", 26), "(refused)");
    CHECK_STR(type_of("MZ\x90\0", 4), "(refused)");
    CHECK(sniff_content((const unsigned char *)"", 0).type == NULL);
    CHECK_STR(type_of("\xFF\xD8", 2), "(refused)");
}

static void test_zip(void)
{
    unsigned char *z;
    size_t n;
    const char *docx[] = {"[Content_Types].xml", "_rels/.rels", "word/document.xml"};
    const char *xlsx[] = {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"};
    const char *pptx[] = {"[Content_Types].xml", "ppt/presentation.xml"};
    const char *docm[] = {"[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"};
    const char *both[] = {"[Content_Types].xml", "word/document.xml", "xl/workbook.xml"};
    const char *ofd[] = {"OFD.xml", "Doc_0/Document.xml"};
    const char *plain[] = {"readme.txt", "evil.exe"};
    const char *no_ct[] = {"word/document.xml"};

    n = zip(docx, 3, &z);
    CHECK_STR(type_of(z, n),
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    CHECK_STR(sniff_content(z, n).ext, "docx");
    /* Truncated: the end-of-central-directory record is gone. */
    CHECK_STR(type_of(z, n - 5), "(refused)");
    /* A central directory offset pointing past its end. */
    put32(z + n - 6, 0x7FFFFFFF);
    CHECK_STR(type_of(z, n), "(refused)");
    free(z);
    n = zip(xlsx, 3, &z);
    CHECK_STR(type_of(z, n), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    free(z);
    n = zip(pptx, 2, &z);
    CHECK_STR(type_of(z, n),
              "application/vnd.openxmlformats-officedocument.presentationml.presentation");
    free(z);
    n = zip(docm, 3, &z);
    struct sniff_result r = sniff_content(z, n);
    CHECK(r.type == NULL && strstr(r.why, "macro"));
    free(z);
    n = zip(both, 3, &z);
    CHECK_STR(type_of(z, n), "(refused)");
    free(z);
    n = zip(ofd, 2, &z);
    CHECK_STR(type_of(z, n), "application/ofd");
    free(z);
    n = zip(plain, 2, &z);
    CHECK_STR(type_of(z, n), "(refused)");
    free(z);
    n = zip(no_ct, 1, &z);
    CHECK_STR(type_of(z, n), "(refused)");
    /* The entry count claims more entries than the directory holds. */
    put16(z + n - 12, 50);
    CHECK_STR(type_of(z, n), "(refused)");
    free(z);
}

static void test_ole(void)
{
    unsigned char *d;
    size_t n;
    const char *doc[] = {"WordDocument", "1Table"};
    const char *xls[] = {"Workbook"};
    const char *xls5[] = {"Book"};
    const char *ppt[] = {"PowerPoint Document", "Current User"};
    const char *macro[] = {"WordDocument", "Macros"};
    const char *msg[] = {"__substg1.0_0037001F"};
    const unsigned streams[] = {2, 2, 2}, with_storage[] = {2, 1};

    n = ole(doc, streams, 2, &d);
    CHECK_STR(type_of(d, n), "application/msword");
    CHECK_STR(sniff_content(d, n).ext, "doc");
    /* A directory chain that loops onto itself must end. */
    put32(d + 512 + 4, 1);
    CHECK_STR(type_of(d, n), "(refused)");
    free(d);
    n = ole(xls, streams, 1, &d);
    CHECK_STR(type_of(d, n), "application/vnd.ms-excel");
    free(d);
    n = ole(xls5, streams, 1, &d);
    CHECK_STR(type_of(d, n), "application/vnd.ms-excel");
    free(d);
    n = ole(ppt, streams, 2, &d);
    CHECK_STR(type_of(d, n), "application/vnd.ms-powerpoint");
    free(d);
    n = ole(macro, with_storage, 2, &d);
    CHECK_STR(type_of(d, n), "(refused)");
    free(d);
    n = ole(msg, streams, 1, &d);
    CHECK_STR(type_of(d, n), "(refused)"); /* an Outlook message */
    /* Truncated inside the directory sector; bad sector size. */
    CHECK_STR(type_of(d, 1100), "(refused)");
    d[30] = 10;
    CHECK_STR(type_of(d, n), "(refused)");
    free(d);
}

static void test_declared(void)
{
    char out[128];
    CHECK(sniff_declared_type(NULL, out, sizeof out));
    CHECK_STR(out, "");
    CHECK(sniff_declared_type("application/octet-stream", out, sizeof out));
    CHECK_STR(out, "");
    CHECK(sniff_declared_type(" Image/JPG; q=1", out, sizeof out));
    CHECK_STR(out, "image/jpeg");
    CHECK(sniff_declared_type("application/pdf;charset=binary", out, sizeof out));
    CHECK_STR(out, "application/pdf");
    CHECK(sniff_declared_type("application/x-zip-compressed", out, sizeof out));
    CHECK_STR(out, "application/zip");
    CHECK(!sniff_declared_type("pdf", out, sizeof out));
    CHECK(!sniff_declared_type("a/b/c", out, sizeof out));
    CHECK(!sniff_declared_type("/pdf", out, sizeof out));
    CHECK(!sniff_declared_type("image/jp\"eg", out, sizeof out));

    CHECK(sniff_declared_matches("", "image/png"));
    CHECK(sniff_declared_matches("image/png", "image/png"));
    CHECK(!sniff_declared_matches("application/pdf", "image/png"));
    CHECK(!sniff_declared_matches("image/png", NULL));
    CHECK(sniff_declared_matches("application/zip", "application/ofd"));
    CHECK(sniff_declared_matches(
        "application/zip", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    CHECK(!sniff_declared_matches("application/zip", "application/pdf"));
    CHECK(sniff_declared_matches("application/vnd.ms-office", "application/msword"));
    CHECK(!sniff_declared_matches("application/msword", "application/vnd.ms-excel"));
}

int main(void)
{
    test_images_and_pdf();
    test_refused();
    test_zip();
    test_ole();
    test_declared();
    return UNIT_DONE();
}
