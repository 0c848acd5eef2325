/* The incremental CSV reader and the writer (see csv.h).
 *
 * The reader is a byte-at-a-time state machine, so a chunk boundary can fall
 * anywhere (inside a UTF-8 sequence, between the CR and LF of a line end,
 * between the two quotes of an escaped quote, inside the BOM) without any
 * special case: all state lives in struct csv_reader. One record is
 * accumulated in a growable buffer (capped), fields NUL-terminated in it. */
#include "rectify/csv.h"

#include "rectify/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum state { S_FIELD_START, S_UNQUOTED, S_QUOTED, S_QUOTE_IN_QUOTED };

struct csv_reader {
    struct csv_options opt;
    csv_record_fn fn;
    void *ctx;
    enum state state;
    struct csv_error err;

    /* the record being read */
    char *rb;
    size_t rlen, rcap;
    size_t *starts, *lens;
    bool *quoted;
    const char **ptrs;
    size_t nf, fcap;
    size_t field_start;
    unsigned long long records;   /* records emitted so far */
    unsigned long long rec_line;  /* line where the current record starts */

    /* position */
    unsigned long long line, col;
    bool prev_cr;       /* the previous byte was a CR (line accounting) */
    bool skip_lf;       /* a CR ended a record: an LF right after it is part of it */
    unsigned long long quote_line, quote_col; /* opening quote of the open field */

    /* UTF-8 validation across chunks */
    unsigned u8_need;   /* continuation bytes still expected */
    unsigned char u8_lo, u8_hi; /* allowed range of the next continuation byte */
    unsigned long long u8_line, u8_col;

    /* BOM detection at the very start */
    unsigned char bom[3];
    unsigned bom_n;
    bool bom_done;
};

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

struct csv_reader *csv_reader_new(const struct csv_options *opt, csv_record_fn fn, void *ctx)
{
    struct csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (opt)
        r->opt = *opt;
    if (!r->opt.delimiter)
        r->opt.delimiter = ',';
    if (!r->opt.max_field_bytes)
        r->opt.max_field_bytes = 1u << 20;
    if (!r->opt.max_record_bytes)
        r->opt.max_record_bytes = 4u << 20;
    if (!r->opt.max_fields)
        r->opt.max_fields = 1024;
    r->fn = fn;
    r->ctx = ctx;
    r->line = 1;
    r->rec_line = 1;
    return r;
}

void csv_reader_free(struct csv_reader *r)
{
    if (!r)
        return;
    free(r->rb);
    free(r->starts);
    free(r->lens);
    free(r->quoted);
    free(r->ptrs);
    free(r);
}

const struct csv_error *csv_reader_error(const struct csv_reader *r) { return &r->err; }

const char *csv_status_message(enum csv_status s)
{
    switch (s) {
    case CSV_OK: return "no error";
    case CSV_ERR_UTF8: return "the file is not valid UTF-8 text (or contains a NUL byte)";
    case CSV_ERR_QUOTE: return "a quote character is misplaced: a field with quotes must be"
                               " enclosed in quotes and its quotes doubled";
    case CSV_ERR_UNTERMINATED: return "a quoted field is not closed before the end of the file";
    case CSV_ERR_FIELD_TOO_LONG: return "a field is longer than the limit";
    case CSV_ERR_RECORD_TOO_LONG: return "a record is longer than the limit";
    case CSV_ERR_TOO_MANY_FIELDS: return "a record has more fields than the limit";
    case CSV_ERR_NOMEM: return "out of memory";
    case CSV_ERR_ABORTED: return "stopped";
    }
    return "unknown error";
}

const char *csv_status_code(enum csv_status s)
{
    switch (s) {
    case CSV_OK: return "ok";
    case CSV_ERR_UTF8: return "csv_invalid_utf8";
    case CSV_ERR_QUOTE: return "csv_quote";
    case CSV_ERR_UNTERMINATED: return "csv_unterminated_quote";
    case CSV_ERR_FIELD_TOO_LONG: return "csv_field_too_long";
    case CSV_ERR_RECORD_TOO_LONG: return "csv_record_too_long";
    case CSV_ERR_TOO_MANY_FIELDS: return "csv_too_many_fields";
    case CSV_ERR_NOMEM: return "csv_out_of_memory";
    case CSV_ERR_ABORTED: return "csv_aborted";
    }
    return "csv_error";
}

static enum csv_status fail(struct csv_reader *r, enum csv_status s, unsigned long long line,
                            unsigned long long col)
{
    r->err.status = s;
    r->err.line = line;
    r->err.column = col;
    r->err.record = r->records + 1;
    return s;
}

static int grow_fields(struct csv_reader *r)
{
    size_t cap = r->fcap ? r->fcap * 2 : 16;
    if (cap > r->opt.max_fields + 1)
        cap = r->opt.max_fields + 1;
    size_t *s = realloc(r->starts, cap * sizeof *s);
    if (!s)
        return -1;
    r->starts = s;
    size_t *l = realloc(r->lens, cap * sizeof *l);
    if (!l)
        return -1;
    r->lens = l;
    bool *q = realloc(r->quoted, cap * sizeof *q);
    if (!q)
        return -1;
    r->quoted = q;
    const char **p = realloc(r->ptrs, cap * sizeof *p);
    if (!p)
        return -1;
    r->ptrs = p;
    r->fcap = cap;
    return 0;
}

/* Appends one byte of the record (field content or a terminator). */
static enum csv_status put(struct csv_reader *r, char c)
{
    if (r->rlen + 1 > r->opt.max_record_bytes + r->opt.max_fields)
        return fail(r, CSV_ERR_RECORD_TOO_LONG, r->line, r->col);
    if (r->rlen == r->rcap) {
        size_t cap = r->rcap ? r->rcap * 2 : 256;
        char *p = realloc(r->rb, cap);
        if (!p)
            return fail(r, CSV_ERR_NOMEM, r->line, r->col);
        r->rb = p;
        r->rcap = cap;
    }
    r->rb[r->rlen++] = c;
    return CSV_OK;
}

static enum csv_status append(struct csv_reader *r, char c)
{
    if (r->rlen - r->field_start >= r->opt.max_field_bytes)
        return fail(r, CSV_ERR_FIELD_TOO_LONG, r->line, r->col);
    /* content bytes of the record, not counting the NUL terminators */
    if (r->rlen - (r->nf - 1) >= r->opt.max_record_bytes)
        return fail(r, CSV_ERR_RECORD_TOO_LONG, r->line, r->col);
    return put(r, c);
}

static enum csv_status open_field(struct csv_reader *r, bool quoted)
{
    if (r->nf >= r->opt.max_fields)
        return fail(r, CSV_ERR_TOO_MANY_FIELDS, r->line, r->col);
    if (r->nf == r->fcap && grow_fields(r))
        return fail(r, CSV_ERR_NOMEM, r->line, r->col);
    if (r->nf == 0)
        r->rec_line = r->line;
    r->field_start = r->rlen;
    r->starts[r->nf] = r->rlen;
    r->quoted[r->nf] = quoted;
    r->nf++;
    return CSV_OK;
}

static enum csv_status close_field(struct csv_reader *r)
{
    r->lens[r->nf - 1] = r->rlen - r->field_start;
    /* the terminator does not count against the field cap */
    enum csv_status s = put(r, '\0');
    r->field_start = r->rlen;
    return s;
}

static enum csv_status emit(struct csv_reader *r)
{
    enum csv_status s = CSV_OK;
    if (r->nf > 0 || (r->opt.flags & CSV_KEEP_BLANK_LINES)) {
        if (r->nf == 0) { /* a kept blank line: one empty field */
            if ((s = open_field(r, false)) || (s = close_field(r)))
                return s;
        }
        for (size_t i = 0; i < r->nf; i++)
            r->ptrs[i] = r->rb + r->starts[i];
        struct csv_record rec = {
            .nfields = r->nf,
            .fields = r->ptrs,
            .lens = r->lens,
            .quoted = r->quoted,
            .number = r->records + 1,
            .line = r->rec_line,
        };
        r->records++;
        if (r->fn && r->fn(r->ctx, &rec)) {
            r->err.status = CSV_ERR_ABORTED;
            s = CSV_ERR_ABORTED;
        }
    }
    r->nf = 0;
    r->rlen = 0;
    r->field_start = 0;
    return s;
}

/* A line end outside quotes ends the record. */
static enum csv_status end_record(struct csv_reader *r)
{
    enum csv_status s;
    switch (r->state) {
    case S_FIELD_START:
        if (r->nf > 0 && ((s = open_field(r, false)) || (s = close_field(r))))
            return s;
        break;
    case S_UNQUOTED:
    case S_QUOTE_IN_QUOTED:
        if ((s = close_field(r)))
            return s;
        break;
    case S_QUOTED:
        break; /* not reached */
    }
    r->state = S_FIELD_START;
    return emit(r);
}

/* One byte, already checked as part of valid UTF-8. */
static enum csv_status parse(struct csv_reader *r, unsigned char c)
{
    const char d = r->opt.delimiter;
    bool brk = c == '\r' || c == '\n';
    enum csv_status s;

    if (r->skip_lf) {
        r->skip_lf = false;
        if (c == '\n')
            return CSV_OK;
    }
    switch (r->state) {
    case S_FIELD_START:
        if (c == '"') {
            if ((s = open_field(r, true)))
                return s;
            r->quote_line = r->line;
            r->quote_col = r->col;
            r->state = S_QUOTED;
            return CSV_OK;
        }
        if (c == (unsigned char)d)
            return (s = open_field(r, false)) ? s : close_field(r);
        if (brk) {
            r->skip_lf = c == '\r';
            return end_record(r);
        }
        if ((s = open_field(r, false)))
            return s;
        r->state = S_UNQUOTED;
        return append(r, (char)c);
    case S_UNQUOTED:
        if (c == (unsigned char)d) {
            r->state = S_FIELD_START;
            return close_field(r);
        }
        if (brk) {
            r->skip_lf = c == '\r';
            return end_record(r);
        }
        if (c == '"')
            return fail(r, CSV_ERR_QUOTE, r->line, r->col);
        return append(r, (char)c);
    case S_QUOTED:
        if (c == '"') {
            r->state = S_QUOTE_IN_QUOTED;
            return CSV_OK;
        }
        return append(r, (char)c);
    case S_QUOTE_IN_QUOTED:
        if (c == '"') {
            r->state = S_QUOTED;
            return append(r, '"');
        }
        if (c == (unsigned char)d) {
            r->state = S_FIELD_START;
            return close_field(r);
        }
        if (brk) {
            r->skip_lf = c == '\r';
            return end_record(r);
        }
        return fail(r, CSV_ERR_QUOTE, r->line, r->col);
    }
    return CSV_OK;
}

/* Position bookkeeping, UTF-8 validation, then the parser. */
static enum csv_status byte(struct csv_reader *r, unsigned char c)
{
    if (r->u8_need) {
        if (c < r->u8_lo || c > r->u8_hi)
            return fail(r, CSV_ERR_UTF8, r->u8_line, r->u8_col);
        r->u8_lo = 0x80;
        r->u8_hi = 0xBF;
        r->u8_need--;
        return parse(r, c);
    }
    if (c == '\n' || c == '\r') {
        /* the line end belongs to the line it ends (for errors on it) */
        bool second_of_crlf = c == '\n' && r->prev_cr;
        if (!second_of_crlf)
            r->col++;
        enum csv_status s = parse(r, c);
        if (!second_of_crlf) {
            r->line++;
            r->col = 0;
        }
        r->prev_cr = c == '\r';
        return s;
    }
    r->prev_cr = false;
    r->col++;
    if (c == 0)
        return fail(r, CSV_ERR_UTF8, r->line, r->col);
    if (c >= 0x80) {
        r->u8_line = r->line;
        r->u8_col = r->col;
        r->u8_lo = 0x80;
        r->u8_hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            r->u8_need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            r->u8_need = 2;
            if (c == 0xE0)
                r->u8_lo = 0xA0; /* overlong */
            else if (c == 0xED)
                r->u8_hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            r->u8_need = 3;
            if (c == 0xF0)
                r->u8_lo = 0x90;
            else if (c == 0xF4)
                r->u8_hi = 0x8F; /* past U+10FFFF */
        } else {
            return fail(r, CSV_ERR_UTF8, r->line, r->col);
        }
    }
    return parse(r, c);
}

static enum csv_status replay_bom(struct csv_reader *r)
{
    enum csv_status s = CSV_OK;
    r->bom_done = true;
    for (unsigned i = 0; i < r->bom_n && s == CSV_OK; i++)
        s = byte(r, r->bom[i]);
    return s;
}

enum csv_status csv_feed(struct csv_reader *r, const void *data, size_t len)
{
    if (r->err.status)
        return r->err.status;
    const unsigned char *p = data;
    size_t i = 0;
    enum csv_status s = CSV_OK;
    while (!r->bom_done && i < len) {
        r->bom[r->bom_n] = p[i];
        if (p[i] != BOM[r->bom_n]) {
            r->bom_n++;
            i++;
            if ((s = replay_bom(r)))
                return s;
            break;
        }
        r->bom_n++;
        i++;
        if (r->bom_n == 3)
            r->bom_done = true; /* dropped */
    }
    for (; i < len; i++)
        if ((s = byte(r, p[i])))
            return s;
    return CSV_OK;
}

enum csv_status csv_finish(struct csv_reader *r)
{
    if (r->err.status)
        return r->err.status;
    enum csv_status s;
    if (!r->bom_done && (s = replay_bom(r)))
        return s;
    if (r->u8_need)
        return fail(r, CSV_ERR_UTF8, r->u8_line, r->u8_col);
    switch (r->state) {
    case S_QUOTED:
        return fail(r, CSV_ERR_UNTERMINATED, r->quote_line, r->quote_col);
    case S_FIELD_START:
        /* "a," at the end has a last, empty field; nothing read: no record */
        return r->nf == 0 ? CSV_OK : end_record(r);
    case S_UNQUOTED:
    case S_QUOTE_IN_QUOTED:
        return end_record(r);
    }
    return CSV_OK;
}

/* --- writer ---------------------------------------------------------------- */

void csv_writer_init(struct csv_writer *w, struct buf *out, char delimiter)
{
    w->out = out;
    w->delimiter = delimiter ? delimiter : ',';
    w->column = 0;
}

int csv_write_bom(struct csv_writer *w) { return buf_append(w->out, BOM, 3); }

int csv_write_field(struct csv_writer *w, const char *s, size_t len, unsigned flags)
{
    if (w->column++ && buf_append(w->out, &w->delimiter, 1))
        return -1;
    if (!s || !len)
        return 0;
    bool neutralize = (flags & CSV_WRITE_NEUTRALIZE) && strchr("=+-@\t\r", s[0]) != NULL;
    /* a leading U+FEFF would be taken for a BOM at the start of a file */
    bool quote = neutralize || s[0] == ' ' || s[len - 1] == ' ' ||
                 (len >= 3 && memcmp(s, BOM, 3) == 0);
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == w->delimiter || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote)
        return buf_append(w->out, s, len);
    if (buf_append(w->out, "\"", 1) || (neutralize && buf_append(w->out, "'", 1)))
        return -1;
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            if (buf_append(w->out, s + from, i + 1 - from) || buf_append(w->out, "\"", 1))
                return -1;
            from = i + 1;
        }
    }
    return buf_append(w->out, s + from, len - from) || buf_append(w->out, "\"", 1) ? -1 : 0;
}

int csv_write_eol(struct csv_writer *w)
{
    w->column = 0;
    return buf_append(w->out, "\r\n", 2);
}
