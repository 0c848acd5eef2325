/* libFuzzer: the CSV reader, fed the input whole and again in pieces whose
 * sizes come from the input itself; both feedings must agree (same records,
 * same first error), and the writer's output of every record must read back
 * as the same fields. On a worker-sized stack (worker_stack.h). */
#include "rectify/buf.h"
#include "rectify/csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker_stack.h"

struct sink {
    struct buf text;     /* the records, length-prefixed */
    struct buf written;  /* the records written back as CSV */
};

static int on_record(void *ctx, const struct csv_record *rec)
{
    struct sink *s = ctx;
    struct csv_writer w;
    csv_writer_init(&w, &s->written, 0);
    if (buf_printf(&s->text, "%zu:", rec->nfields))
        abort();
    for (size_t i = 0; i < rec->nfields; i++) {
        if (strlen(rec->fields[i]) != rec->lens[i])
            abort();
        if (buf_printf(&s->text, "%zu:", rec->lens[i]))
            abort();
        if (buf_append(&s->text, rec->fields[i], rec->lens[i]))
            abort();
        csv_write_field(&w, rec->fields[i], rec->lens[i], 0);
    }
    csv_write_eol(&w);
    return 0;
}

static enum csv_status parse(const uint8_t *data, size_t size, size_t step,
                             struct sink *s, struct csv_error *err)
{
    struct csv_options opt = {.max_field_bytes = 64, .max_record_bytes = 256, .max_fields = 16,
                              .flags = CSV_KEEP_BLANK_LINES};
    buf_init(&s->text, 0);
    buf_init(&s->written, 0);
    if (buf_puts(&s->text, ""))
        abort();
    if (buf_puts(&s->written, ""))
        abort();
    struct csv_reader *r = csv_reader_new(&opt, on_record, s);
    enum csv_status st = CSV_OK;
    for (size_t at = 0; at < size && st == CSV_OK; at += step)
        st = csv_feed(r, data + at, size - at < step ? size - at : step);
    if (st == CSV_OK)
        st = csv_finish(r);
    *err = *csv_reader_error(r);
    csv_reader_free(r);
    return st;
}

static void one(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t step = (data[0] % 17) + 1;
    data++, size--;
    struct sink a, b;
    struct csv_error ea, eb;
    enum csv_status sa = parse(data, size, size ? size : 1, &a, &ea);
    enum csv_status sb = parse(data, size, step, &b, &eb);
    if (sa != sb || ea.line != eb.line || ea.column != eb.column ||
        a.text.len != b.text.len || memcmp(a.text.data, b.text.data, a.text.len) != 0)
        abort();
    if (sa == CSV_OK) {
        /* what we write reads back as the same records (blank lines kept, so
         * a record of one empty field round-trips as a blank line) */
        struct sink c;
        struct csv_error ec;
        if (parse((const uint8_t *)a.written.data, a.written.len, 3, &c, &ec) != CSV_OK ||
            c.text.len != a.text.len || memcmp(c.text.data, a.text.data, a.text.len) != 0)
            abort();
        buf_free(&c.text);
        buf_free(&c.written);
    }
    buf_free(&a.text);
    buf_free(&a.written);
    buf_free(&b.text);
    buf_free(&b.written);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
