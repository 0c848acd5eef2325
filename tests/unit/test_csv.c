/* The CSV reader and writer: a table of tricky inputs, each fed whole, in
 * every two-piece split and in chunks of every size from 1 byte up; all
 * feedings must give the same records or the same first error. */
#include "unit.h"

#include "rectify/buf.h"
#include "rectify/csv.h"

#include <stdlib.h>

struct out {
    struct buf b;
    int stop_after; /* abort after this many records (0 = never) */
    int seen;
};

/* Records as text: fields joined by '|', each record on its own line, the
 * record's starting line in front: "1:a|b\n". */
static int collect(void *ctx, const struct csv_record *rec)
{
    struct out *o = ctx;
    CHECK(buf_printf(&o->b, "%llu:", rec->line) == 0);
    for (size_t i = 0; i < rec->nfields; i++) {
        if (i)
            CHECK(buf_append(&o->b, "|", 1) == 0);
        CHECK(buf_append(&o->b, rec->fields[i], rec->lens[i]) == 0);
        if (strlen(rec->fields[i]) != rec->lens[i])
            CHECK(buf_puts(&o->b, "<LEN MISMATCH>") == 0);
    }
    CHECK(buf_append(&o->b, "\n", 1) == 0);
    o->seen++;
    return o->stop_after && o->seen >= o->stop_after;
}

struct tcase {
    const char *name;
    const char *in;
    size_t len; /* 0 = strlen */
    const char *want; /* records, or NULL when an error is expected */
    enum csv_status err;
    unsigned long long line, col;
    struct csv_options opt;
};

#define BOM "\xEF\xBB\xBF"

static const struct tcase cases[] = {
    {"simple", "a,b,c\n1,2,3\n", 0, "1:a|b|c\n2:1|2|3\n", 0, 0, 0, {0}},
    {"no final newline", "a,b\n1,2", 0, "1:a|b\n2:1|2\n", 0, 0, 0, {0}},
    {"crlf", "a,b\r\n1,2\r\n", 0, "1:a|b\n2:1|2\n", 0, 0, 0, {0}},
    {"lone cr", "a,b\r1,2\r", 0, "1:a|b\n2:1|2\n", 0, 0, 0, {0}},
    {"empty fields", ",a,,\n", 0, "1:|a||\n", 0, 0, 0, {0}},
    {"trailing delimiter at eof", "a,", 0, "1:a|\n", 0, 0, 0, {0}},
    {"blank lines skipped", "\na\n\r\n\nb\n\n", 0, "2:a\n5:b\n", 0, 0, 0, {0}},
    {"blank lines kept", "a\n\nb", 0, "1:a\n2:\n3:b\n", 0, 0, 0,
     {.flags = CSV_KEEP_BLANK_LINES}},
    {"quoted", "\"a,b\",\"c\"\"d\",\"\"\n", 0, "1:a,b|c\"d|\n", 0, 0, 0, {0}},
    {"quoted newline", "\"line1\nline2\",x\ny,z\n", 0, "1:line1\nline2|x\n3:y|z\n", 0, 0, 0, {0}},
    {"quoted crlf", "\"a\r\nb\",c\r\nd\r\n", 0, "1:a\r\nb|c\n3:d\n", 0, 0, 0, {0}},
    {"only quotes", "\"\"\"\"\n", 0, "1:\"\n", 0, 0, 0, {0}},
    {"quoted empty record", "\"\"\n", 0, "1:\n", 0, 0, 0, {0}},
    {"bom", BOM "编号,县区\nA-1,城关区\n", 0, "1:编号|县区\n2:A-1|城关区\n", 0, 0, 0, {0}},
    {"bom only", BOM, 0, "", 0, 0, 0, {0}},
    {"bom-like char kept", "\xEF\xBB\x80x\n", 0, "1:\xEF\xBB\x80x\n", 0, 0, 0, {0}},
    {"chinese", "交办编号,内容\nGS-001,\"夜间噪声扰民，\"\"严重\"\"\"\n", 0,
     "1:交办编号|内容\n2:GS-001|夜间噪声扰民，\"严重\"\n", 0, 0, 0, {0}},
    {"4-byte utf8", "\xF0\x9F\x98\x80,x\n", 0, "1:\xF0\x9F\x98\x80|x\n", 0, 0, 0, {0}},
    {"semicolon", "a;b,c\n", 0, "1:a|b,c\n", 0, 0, 0, {.delimiter = ';'}},
    {"empty input", "", 0, "", 0, 0, 0, {0}},
    /* errors: status, line, column (characters) */
    {"stray quote", "a,b\"c\n", 0, NULL, CSV_ERR_QUOTE, 1, 4, {0}},
    {"junk after quote", "a,\"b\"x,c\n", 0, NULL, CSV_ERR_QUOTE, 1, 6, {0}},
    {"junk after quote line 3", "a\n\"x\ny\"z\n", 0, NULL, CSV_ERR_QUOTE, 3, 3, {0}},
    {"unterminated", "a,b\nc,\"open\nmore\n", 0, NULL, CSV_ERR_UNTERMINATED, 2, 3, {0}},
    {"invalid utf8 byte", "ab,\xFF\n", 0, NULL, CSV_ERR_UTF8, 1, 4, {0}},
    {"invalid continuation", "城关,\xE5\x9F" "x\n", 0, NULL, CSV_ERR_UTF8, 1, 4, {0}},
    {"truncated at eof", "ok\n\xE5\x9F", 0, NULL, CSV_ERR_UTF8, 2, 1, {0}},
    {"overlong", "\xC0\xAF\n", 0, NULL, CSV_ERR_UTF8, 1, 1, {0}},
    {"overlong e0", "\xE0\x80\xAF\n", 0, NULL, CSV_ERR_UTF8, 1, 1, {0}},
    {"surrogate", "x\xED\xA0\x80\n", 0, NULL, CSV_ERR_UTF8, 1, 2, {0}},
    {"past 10ffff", "\xF4\x90\x80\x80\n", 0, NULL, CSV_ERR_UTF8, 1, 1, {0}},
    {"nul", "a\0b\n", 4, NULL, CSV_ERR_UTF8, 1, 2, {0}},
    {"field cap", "abcd,abcde\n", 0, NULL, CSV_ERR_FIELD_TOO_LONG, 1, 10,
     {.max_field_bytes = 4}},
    {"field cap exact ok", "abcd,abcd\n", 0, "1:abcd|abcd\n", 0, 0, 0, {.max_field_bytes = 4}},
    {"record cap", "ab,cd\nabc,def\n", 0, NULL, CSV_ERR_RECORD_TOO_LONG, 2, 7,
     {.max_record_bytes = 5}},
    {"field count cap", "a,b\na,b,c\n", 0, NULL, CSV_ERR_TOO_MANY_FIELDS, 2, 5,
     {.max_fields = 2}},
    {"field count cap, empty last", "a,b,\n", 0, NULL, CSV_ERR_TOO_MANY_FIELDS, 1, 5,
     {.max_fields = 2}},
    {"error after bom counts columns from 1", BOM "x\"\n", 0, NULL, CSV_ERR_QUOTE, 1, 2, {0}},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Feeds in[0..len) in pieces given by cut points; returns the output text
 * (malloc'd) and the error. */
static char *run(const struct tcase *t, size_t len, const size_t *cuts, size_t ncuts,
                 struct csv_error *err)
{
    struct out o = {.stop_after = 0};
    buf_init(&o.b, 0);
    CHECK(buf_puts(&o.b, "") == 0);
    struct csv_reader *r = csv_reader_new(&t->opt, collect, &o);
    size_t from = 0;
    enum csv_status s = CSV_OK;
    for (size_t i = 0; i <= ncuts && s == CSV_OK; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        s = csv_feed(r, t->in + from, to - from);
        from = to;
    }
    if (s == CSV_OK)
        s = csv_finish(r);
    *err = *csv_reader_error(r);
    if (s != err->status)
        err->status = 99; /* inconsistent */
    csv_reader_free(r);
    return buf_detach(&o.b);
}

static bool same(const struct tcase *t, const char *got, const struct csv_error *e)
{
    if (t->want)
        return e->status == CSV_OK && strcmp(got, t->want) == 0;
    return e->status == t->err && e->line == t->line && e->column == t->col;
}

static void check_case(const struct tcase *t)
{
    size_t len = t->len ? t->len : strlen(t->in);
    struct csv_error e;
    char *got = run(t, len, NULL, 0, &e);
    if (!same(t, got, &e))
        fprintf(stderr, "case \"%s\" whole: got \"%s\" status %d at %llu:%llu\n", t->name, got,
                e.status, e.line, e.column);
    CHECK(same(t, got, &e));
    free(got);
    /* every two-piece split */
    bool ok = true;
    for (size_t cut = 0; cut <= len && ok; cut++) {
        got = run(t, len, &cut, 1, &e);
        ok = same(t, got, &e);
        if (!ok)
            fprintf(stderr, "case \"%s\" split at %zu: got \"%s\" status %d at %llu:%llu\n",
                    t->name, cut, got, e.status, e.line, e.column);
        free(got);
    }
    CHECK(ok);
    /* chunks of every size, 1 byte included */
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    for (size_t k = 1; k <= len && ok; k++) {
        size_t n = 0;
        for (size_t at = k; at < len; at += k)
            cuts[n++] = at;
        got = run(t, len, cuts, n, &e);
        ok = same(t, got, &e);
        if (!ok)
            fprintf(stderr, "case \"%s\" chunks of %zu: got \"%s\" status %d at %llu:%llu\n",
                    t->name, k, got, e.status, e.line, e.column);
        free(got);
    }
    free(cuts);
    CHECK(ok);
}

static void test_abort_and_sticky_error(void)
{
    struct out o = {.stop_after = 2};
    buf_init(&o.b, 0);
    struct csv_reader *r = csv_reader_new(NULL, collect, &o);
    CHECK_INT(csv_feed(r, "a\nb\nc\n", 6), CSV_ERR_ABORTED);
    CHECK_INT(o.seen, 2);
    CHECK_INT(csv_feed(r, "d\n", 2), CSV_ERR_ABORTED);
    CHECK_INT(o.seen, 2);
    csv_reader_free(r);
    buf_free(&o.b);

    struct out o2 = {0};
    buf_init(&o2.b, 0);
    r = csv_reader_new(NULL, collect, &o2);
    CHECK_INT(csv_feed(r, "x\"\n", 3), CSV_ERR_QUOTE);
    CHECK_INT(csv_feed(r, "ok\n", 3), CSV_ERR_QUOTE);
    CHECK_INT(csv_finish(r), CSV_ERR_QUOTE);
    CHECK_INT(csv_reader_error(r)->record, 1);
    CHECK_INT(o2.seen, 0);
    csv_reader_free(r);
    buf_free(&o2.b);
}

static void test_record_numbers(void)
{
    struct out o = {0};
    buf_init(&o.b, 0);
    struct csv_reader *r = csv_reader_new(NULL, collect, &o);
    CHECK_INT(csv_feed(r, "h\n\n1\n2\n\"3\n\"4\n", 13), CSV_ERR_QUOTE);
    CHECK_INT(csv_reader_error(r)->record, 4);
    CHECK_INT(csv_reader_error(r)->line, 6);
    CHECK_INT(csv_reader_error(r)->column, 2);
    CHECK_INT(o.seen, 3);
    csv_reader_free(r);
    buf_free(&o.b);
}

static void test_large_streamed(void)
{
    /* 100 000 records in 7-byte chunks: memory stays one record. */
    struct out o = {0};
    buf_init(&o.b, 0);
    struct csv_options opt = {.max_record_bytes = 64};
    struct csv_reader *r = csv_reader_new(&opt, NULL, NULL);
    char line[64];
    enum csv_status s = CSV_OK;
    for (int i = 0; i < 100000 && s == CSV_OK; i++) {
        int n = snprintf(line, sizeof line, "GS-%06d,\"内容,%d\"\r\n", i, i);
        for (int at = 0; at < n && s == CSV_OK; at += 7)
            s = csv_feed(r, line + at, (size_t)(n - at < 7 ? n - at : 7));
    }
    CHECK_INT(s, CSV_OK);
    CHECK_INT(csv_finish(r), CSV_OK);
    csv_reader_free(r);
    buf_free(&o.b);
}

static void writer_roundtrip(const char *const *fields, size_t n, unsigned flags,
                             const char *want)
{
    struct buf b;
    buf_init(&b, 0);
    struct csv_writer w;
    csv_writer_init(&w, &b, 0);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(csv_write_field(&w, fields[i], fields[i] ? strlen(fields[i]) : 0, flags), 0);
    CHECK_INT(csv_write_eol(&w), 0);
    CHECK_STR(b.data, want);
    /* and the reader reads back what was written (neutralised text aside) */
    if (!(flags & CSV_WRITE_NEUTRALIZE)) {
        struct out o = {0};
        buf_init(&o.b, 0);
        struct csv_options opt = {.flags = CSV_KEEP_BLANK_LINES};
        struct csv_reader *r = csv_reader_new(&opt, collect, &o);
        CHECK_INT(csv_feed(r, b.data, b.len), CSV_OK);
        CHECK_INT(csv_finish(r), CSV_OK);
        struct buf expect;
        buf_init(&expect, 0);
        CHECK(buf_puts(&expect, "1:") == 0);
        for (size_t i = 0; i < n; i++) {
            if (i)
                CHECK(buf_puts(&expect, "|") == 0);
            CHECK(buf_puts(&expect, fields[i] ? fields[i] : "") == 0);
        }
        CHECK(buf_puts(&expect, "\n") == 0);
        CHECK_STR(o.b.data, expect.data);
        buf_free(&expect);
        csv_reader_free(r);
        buf_free(&o.b);
    }
    buf_free(&b);
}

static void test_writer(void)
{
    const char *plain[] = {"a", "城关区", NULL, "12"};
    writer_roundtrip(plain, 4, 0, "a,城关区,,12\r\n");
    const char *tricky[] = {"a,b", "say \"hi\"", "two\nlines", " pad", "cr\r"};
    writer_roundtrip(tricky, 5, 0,
                     "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\",\"cr\r\"\r\n");
    const char *formulas[] = {"=1+1", "+86", "-x", "@SUM(A1)", "ok", "a=b"};
    writer_roundtrip(formulas, 6, CSV_WRITE_NEUTRALIZE,
                     "\"'=1+1\",\"'+86\",\"'-x\",\"'@SUM(A1)\",ok,a=b\r\n");
    struct buf b;
    buf_init(&b, 0);
    struct csv_writer w;
    csv_writer_init(&w, &b, 0);
    CHECK_INT(csv_write_bom(&w), 0);
    CHECK_INT(csv_write_field(&w, "x", 1, 0), 0);
    CHECK_INT((int)b.len, 4);
    CHECK(memcmp(b.data, BOM "x", 4) == 0);
    buf_free(&b);
    /* a full buffer reports -1 */
    buf_init(&b, 4);
    csv_writer_init(&w, &b, 0);
    CHECK_INT(csv_write_field(&w, "abcdef", 6, 0), -1);
    buf_free(&b);
}

int main(void)
{
    for (size_t i = 0; i < NCASES; i++)
        check_case(&cases[i]);
    test_abort_and_sticky_error();
    test_record_numbers();
    test_large_streamed();
    test_writer();
    return UNIT_DONE();
}
