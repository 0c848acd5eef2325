/* libFuzzer: the complaint import's row normalisation
 * (src/api/complaint_import.c), on a worker-sized stack (worker_stack.h).
 *
 * The handler reads the body, splits it into rows (CSV with its header,
 * NDJSON lines or a JSON array) and normalises each row (take_row: trimmed
 * values, dates, channel, pollution types, coordinates, codes, the sealed
 * and masked personal data) into a batch of JSON rows for the database.
 * That code is static and tied to the import's state, so this target
 * includes the handler's source and drives its own functions the way
 * complaints_import does, up to the point where a batch goes to the
 * database (never reached: at most 16 KiB of input, far fewer than
 * BATCH_ROWS rows).
 *
 * The first byte: bits 0-1 the format (CSV, NDJSON, JSON array), bits 2-7
 * the size of the pieces the body is fed in. Checks: every row is counted
 * once, as normalised or as failed; the normalised batch, its key list and
 * the per-row results are valid JSON of the expected shape. */
#include "../../src/api/complaint_import.c"

#include "worker_stack.h"

static void check_json_array(const char *text, size_t len, size_t want)
{
    cJSON *doc = NULL;
    if (json_parse(text, len, &doc, NULL) != JSON_OK || !cJSON_IsArray(doc) ||
        (want != (size_t)-1 && (size_t)cJSON_GetArraySize(doc) != want))
        abort();
    cJSON_Delete(doc);
}

/* "[" + b + "]" (b holds members after a leading "[" or nothing) */
static void check_batch(struct buf *b, size_t n)
{
    if (n == 0) {
        if (b->len)
            abort();
        return;
    }
    if (buf_puts(b, "]") || !b->data)
        abort();
    check_json_array(b->data, b->len, n);
}

static void check_rows(const struct buf *rows)
{
    cJSON *doc = NULL;
    if (json_parse(rows->data, rows->len, &doc, NULL) != JSON_OK)
        abort();
    for (const cJSON *row = doc->child; row; row = row->next) {
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(row, "received_at");
        const cJSON *types = cJSON_GetObjectItemCaseSensitive(row, "pollution_types");
        const cJSON *ho = cJSON_GetObjectItemCaseSensitive(row, "handover_no");
        if (!cJSON_IsString(rec) || strlen(rec->valuestring) < 20 || !cJSON_IsArray(types) ||
            cJSON_GetArraySize(types) < 1 || cJSON_GetArraySize(types) > 8 ||
            !cJSON_IsString(ho) || !*ho->valuestring)
            abort();
    }
    cJSON_Delete(doc);
}

static void one(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return;
    enum import_format fmt = (enum import_format)(data[0] % 3);
    size_t step = (size_t)(data[0] >> 2) * 97 + 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    struct req r;
    memset(&r, 0, sizeof r);
    static struct import state; /* 150 KiB: not a fresh mapping each time */
    struct import *im = &state;
    memset(im, 0, sizeof *im);
    if (!(r.arena = arena_new()) || !(im->scratch = arena_new()))
        abort();
    im->r = &r;
    im->fmt = fmt;
    im->dry_run = true;
    snprintf(im->campaign_id, sizeof im->campaign_id, "7");
    im->workers = 1;
    im->nslots = 2;
    for (int i = 0; i < im->nslots; i++) {
        buf_init(&im->slots[i].rows, 0);
        buf_init(&im->slots[i].keys, 0);
    }
    im->b = &im->slots[0];
    buf_init(&im->results, 0);
    buf_init(&im->line, 1u << 20);

    /* as complaints_import streams the body */
    struct csv_reader *csv = NULL;
    if (fmt == IMPORT_CSV) {
        struct csv_options opt = {.max_field_bytes = 64 * 1024, .max_record_bytes = 256 * 1024,
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
            if (im->line.len)
                ndjson_line(im);
        } else {
            cJSON *arr;
            if (json_parse(whole.data ? whole.data : "", whole.len, &arr, NULL) == JSON_OK &&
                cJSON_IsArray(arr)) {
                long long i = 0;
                for (const cJSON *it = arr->child; it && !im->stopped; it = it->next)
                    json_object_row(im, it, ++i, 0);
            }
            cJSON_Delete(arr);
        }
    }
    buf_free(&whole);
    csv_reader_free(csv);

    /* no batch was sent; every row is in it or failed */
    if (im->sent != 0 || im->b != &im->slots[0] || im->b->n >= BATCH_ROWS)
        abort();
    if (!im->stopped && im->rows != im->failed + (long long)im->b->n)
        abort();
    check_batch(&im->b->rows, im->b->n);
    check_batch(&im->b->keys, im->b->n);
    if (im->b->n)
        check_rows(&im->b->rows);
    struct buf res;
    buf_init(&res, 0);
    if (buf_puts(&res, "["))
        abort();
    if (im->results.data)
        if (buf_append(&res, im->results.data, im->results.len))
            abort();
    if (buf_puts(&res, "]"))
        abort();
    if (!res.data)
        abort();
    check_json_array(res.data, res.len, im->nresults);
    buf_free(&res);

    import_free(im);
    arena_free(r.arena);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
