/* csv — an incremental RFC 4180 reader and a writer, for imports and exports.
 *
 * Reader: a push parser. Feed it the bytes of a file in chunks of any size
 * (one byte at a time works); it calls a callback once per complete record.
 * It never holds more than one record, so a 200 MB file costs as much memory
 * as its longest record. It accepts:
 *   - fields separated by the delimiter (default ','), records ending in
 *     CRLF, LF or a lone CR; the last record may lack its line end;
 *   - quoted fields ("…") containing delimiters, line ends and "" for a quote;
 *   - a UTF-8 byte order mark at the very start (dropped);
 *   - blank lines (skipped, unless CSV_KEEP_BLANK_LINES).
 * and stops at the first error with its physical line and column (1-based;
 * the column counts characters, not bytes):
 *   - bytes that are not UTF-8 (or NUL),
 *   - a quote inside an unquoted field, or anything but a delimiter or line
 *     end after a closing quote,
 *   - a quoted field still open at the end of the input,
 *   - a field, record or field count over the configured caps.
 * After an error every further feed returns the same error.
 *
 * Writer: appends fields to a struct buf (buf.h), quoting only when needed,
 * with CRLF line ends (what Excel and RFC 4180 expect), an optional BOM so
 * Excel detects UTF-8, and optional neutralisation of spreadsheet formulas
 * (a text field starting with = + - @ TAB or CR gets a leading apostrophe:
 * citizen text must never run as a formula in an office's Excel).
 *
 * Thread safety: a reader or writer belongs to one thread. Ownership is
 * stated at each function. */
#ifndef RECTIFY_CSV_H
#define RECTIFY_CSV_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

enum csv_status {
    CSV_OK = 0,
    CSV_ERR_UTF8,           /* invalid UTF-8 or a NUL byte */
    CSV_ERR_QUOTE,          /* a stray quote, or junk after a closing quote */
    CSV_ERR_UNTERMINATED,   /* end of input inside a quoted field */
    CSV_ERR_FIELD_TOO_LONG, /* one field over max_field_bytes */
    CSV_ERR_RECORD_TOO_LONG,/* one record over max_record_bytes */
    CSV_ERR_TOO_MANY_FIELDS,/* over max_fields in one record */
    CSV_ERR_NOMEM,
    CSV_ERR_ABORTED,        /* the record callback asked to stop */
};

enum csv_flags {
    CSV_KEEP_BLANK_LINES = 1u << 0, /* report an empty line as a record of one "" */
};

struct csv_options {
    char delimiter;          /* 0 = ',' */
    size_t max_field_bytes;  /* 0 = 1 MiB */
    size_t max_record_bytes; /* 0 = 4 MiB */
    size_t max_fields;       /* 0 = 1024 */
    unsigned flags;
};

/* One record as handed to the callback. Everything points into the reader
 * and is valid only during the callback. Fields are NUL-terminated (a field
 * cannot contain NUL: that is an error), lens[i] is strlen(fields[i]). */
struct csv_record {
    size_t nfields;
    const char *const *fields;
    const size_t *lens;
    const bool *quoted;        /* the field was written in quotes */
    unsigned long long number; /* 1 for the first record (the header, usually) */
    unsigned long long line;   /* physical line where the record starts */
};

/* Return 0 to continue, anything else to stop (the feed then returns
 * CSV_ERR_ABORTED; the reader keeps no error position for it). */
typedef int (*csv_record_fn)(void *ctx, const struct csv_record *rec);

struct csv_error {
    enum csv_status status;
    unsigned long long line, column; /* where the error was found */
    unsigned long long record;       /* number of the record it is in */
};

struct csv_reader;

/* A new reader (opt may be NULL for the defaults); NULL when out of memory.
 * The caller frees it with csv_reader_free. */
struct csv_reader *csv_reader_new(const struct csv_options *opt, csv_record_fn fn, void *ctx);
void csv_reader_free(struct csv_reader *r);

/* Parses len more bytes, calling fn for each record they complete. */
enum csv_status csv_feed(struct csv_reader *r, const void *data, size_t len);
/* Ends the input: emits a last record without line end, or reports an
 * unterminated quote / an incomplete UTF-8 sequence. */
enum csv_status csv_finish(struct csv_reader *r);

/* The first error (status CSV_OK when none). */
const struct csv_error *csv_reader_error(const struct csv_reader *r);
/* A short English sentence for a status (static). */
const char *csv_status_message(enum csv_status s);
/* A stable snake_case code for a status (static), e.g. "csv_quote". */
const char *csv_status_code(enum csv_status s);

/* --- writer ------------------------------------------------------------------ */

enum csv_write_flags {
    CSV_WRITE_NEUTRALIZE = 1u << 0, /* prefix ' to text that a spreadsheet would run */
};

struct csv_writer {
    struct buf *out;    /* not owned */
    char delimiter;     /* 0 = ',' */
    size_t column;      /* fields written in the current row */
};

void csv_writer_init(struct csv_writer *w, struct buf *out, char delimiter);
/* The UTF-8 byte order mark (call first, for Excel). */
int csv_write_bom(struct csv_writer *w);
/* One field; s may be NULL (an empty field). Returns 0 or -1 (buffer full). */
int csv_write_field(struct csv_writer *w, const char *s, size_t len, unsigned flags);
/* Ends the row with CRLF. */
int csv_write_eol(struct csv_writer *w);

#endif
