/* libFuzzer: the task and problem imports' row normalisation
 * (src/api/ledger_io.c, with the text helpers of src/core/import_text.c),
 * on a worker-sized stack (worker_stack.h).
 *
 * The handler reads the body, splits it into rows (CSV with its header,
 * NDJSON lines or a JSON array) and normalises each row's cells (norm:
 * codes, texts, lists, organisations, dates, vocabularies, stage targets)
 * into batches of JSON rows for the database. That code is static and tied
 * to the import's state, so this target includes the handler's source and
 * drives its own functions the way run_import does, up to the point where
 * the batches go to the database (write_batches, not called).
 *
 * The first byte: bits 0-1 the format (CSV, NDJSON, JSON array), bit 2 the
 * kind (task or problem), bits 3-7 the size of the pieces the body is fed
 * in. Checks: every row is counted once, as normalised or as failed; every
 * batch and the failure list are valid JSON of the expected shape. */
#include "../../src/api/ledger_io.c"

#include "worker_stack.h"

static size_t array_size(const char *text, size_t len)
{
    cJSON *doc = NULL;
    if (json_parse(text, len, &doc, NULL) != JSON_OK || !cJSON_IsArray(doc))
        abort();
    for (const cJSON *row = doc->child; row; row = row->next)
        if (!cJSON_IsObject(row))
            abort();
    size_t n = (size_t)cJSON_GetArraySize(doc);
    cJSON_Delete(doc);
    return n;
}

static void one(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return;
    enum import_format fmt = (enum import_format)(data[0] % 3);
    const struct kind *k = data[0] & 4 ? &problem_kind : &task_kind;
    size_t step = (size_t)(data[0] >> 3) * 193 + 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    struct req r;
    memset(&r, 0, sizeof r);
    struct import *im = calloc(1, sizeof *im);
    if (!im || !(r.arena = arena_new()))
        abort();
    im->r = &r;
    im->k = k;
    im->fmt = fmt;
    im->dry_run = true;
    im->campaign = "7";
    buf_init(&im->cur, 0);
    buf_init(&im->failures, 0);
    buf_init(&im->line_buf, 1u << 20);

    /* as run_import streams the body */
    struct csv_reader *csv = NULL;
    if (fmt == IMPORT_CSV) {
        struct csv_options opt = {.max_field_bytes = 256 * 1024, .max_record_bytes = 1u << 20,
                                  .max_fields = 64};
        if (!(csv = csv_reader_new(&opt, on_csv_record, im)))
            abort();
    }
    struct buf whole;
    buf_init(&whole, 0);
    for (size_t at = 0; at < len && !im->stopped; at += step) {
        size_t n = len - at < step ? len - at : step;
        if (fmt == IMPORT_CSV) {
            enum csv_status s = csv_feed(csv, body + at, n);
            if (s != CSV_OK && s != CSV_ERR_ABORTED)
                stop(im, 400, csv_status_code(s), 0, 0, "not CSV");
        } else if (fmt == IMPORT_NDJSON) {
            ndjson_feed(im, body + at, n);
        } else {
            if (buf_append(&whole, body + at, n))
                abort();
        }
    }
    if (!im->stopped) {
        if (fmt == IMPORT_CSV) {
            enum csv_status s = csv_finish(csv);
            if (s != CSV_OK && s != CSV_ERR_ABORTED)
                stop(im, 400, csv_status_code(s), 0, 0, "not CSV");
        } else if (fmt == IMPORT_NDJSON) {
            if (im->line_buf.len)
                ndjson_line(im);
        } else {
            cJSON *arr;
            if (json_parse(whole.data ? whole.data : "", whole.len, &arr, NULL) == JSON_OK &&
                cJSON_IsArray(arr))
                for (const cJSON *it = arr->child; it && !im->stopped; it = it->next)
                    json_row(im, it, 0);
            cJSON_Delete(arr);
        }
    }
    buf_free(&whole);
    csv_reader_free(csv);
    if (!im->stopped)
        end_batch(im);

    if (!im->stopped) {
        long long ok = 0;
        for (size_t i = 0; i < im->nbatches; i++)
            ok += (long long)array_size(im->batches[i], strlen(im->batches[i]));
        if (im->cur_rows || im->rows != im->failed + ok)
            abort();
    }
    struct buf f;
    buf_init(&f, 0);
    if (buf_puts(&f, "["))
        abort();
    if (im->failures.data)
        if (buf_append(&f, im->failures.data, im->failures.len))
            abort();
    if (buf_puts(&f, "]"))
        abort();
    if (!f.data || array_size(f.data, f.len) != im->nfailures)
        abort();
    buf_free(&f);

    import_free(im);
    free(im);
    arena_free(r.arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
