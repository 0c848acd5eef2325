/* export — stream a keyset-paged SQL result as a CSV or XLSX download with
 * Chinese column headers (the ledger exports; usable by any list).
 *
 * The statement is run again and again, one batch of EXPORT_BATCH rows at a
 * time, each in its own transaction as the caller (row-level security
 * scopes every batch), so an export of 100 000 rows never holds more than
 * one batch. Its result columns are:
 *   0  the sort key of the row as text (the keyset key; may equal column 1)
 *   1  the row id (the keyset tie-breaker)
 *   2… the cells, one per struct export_column, as text (NULL = empty cell)
 * and its last three parameters are the keyset key, the id after which to
 * continue (both NULL for the first batch) and the batch size; the exporter
 * sets them. The statement must ORDER BY (key, id) and use
 * `(key, id) > ($k, $id)` for the keyset (see src/api/ledger_io.c).
 *
 * CSV: UTF-8 with BOM, CRLF, formulas neutralised (csv.h), streamed with
 * chunked transfer encoding as each batch arrives. The first batch is read
 * before anything is sent, so a database error at the start is still a
 * problem+json; a failure later aborts the transfer (the client sees a
 * truncated download, never a short but complete-looking one).
 *
 * XLSX: libxlsxwriter in constant_memory mode (one row in memory) writing to
 * a temporary file made with mkstemp in $TMPDIR (default /tmp), unlinked as
 * soon as it is open; once complete it is streamed. Header row bold and
 * frozen, column widths set, dates and timestamps written as Excel dates,
 * integers as numbers; text over Excel's 32 767-character cell limit is cut.
 *
 * Cells computed in C (optional; the complaints export decrypts
 * complainants' personal data this way): the last `nextra` of the columns
 * are not statement columns. For every batch with rows, batch() runs once
 * before its rows are written (a nonzero return fails the export like a
 * database error: a problem before anything is sent, an aborted transfer
 * later), then row() fills the nextra cells of each row (NULL = empty
 * cell). The ledger exports leave these zero.
 *
 * Consistency: each batch is its own snapshot. A row whose sort key changes
 * during a long export may be missed or appear twice; nothing else can. */
#ifndef RECTIFY_EXPORT_H
#define RECTIFY_EXPORT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct req;

#define EXPORT_BATCH 1000
#define EXPORT_MAX_EXTRA 8 /* at most this many cells computed in C */

enum export_format { EXPORT_CSV, EXPORT_XLSX };

#define EXPORT_CSV_TYPE "text/csv"
#define EXPORT_XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

enum export_type {
    EXPORT_TEXT,     /* as is */
    EXPORT_INT,      /* a decimal integer: a number in XLSX */
    EXPORT_DATE,     /* YYYY-MM-DD: a date in XLSX */
    EXPORT_DATETIME, /* YYYY-MM-DD HH:MM[:SS] (local time): a date-time in XLSX */
};

struct export_column {
    const char *header; /* the Chinese column header (static) */
    enum export_type type;
    double width;       /* XLSX column width in characters */
};

struct export_spec {
    const char *sql;            /* a string literal (db.h: it keys the statement cache) */
    const char *const *params;  /* nparams values; the last three are set by export_run */
    int nparams;
    const struct export_column *cols;
    size_t ncols;
    const char *sheet;          /* worksheet name (at most 31 characters) */
    const char *filename;       /* download name without extension, UTF-8 */
    const char *ascii_filename; /* its ASCII fallback (disposition_build), e.g. "tasks-20261202" */
    /* Cells computed in C (see the top); all zero for none. res is the
     * batch's result (the exporter owns it); cells[] must stay valid until
     * the next call of row() or batch(). */
    size_t nextra;              /* the last nextra of cols, at most EXPORT_MAX_EXTRA */
    int (*batch)(void *ctx, struct req *r, const PGresult *res);
    void (*row)(void *ctx, const PGresult *res, int i, const char *cells[]);
    void *ctx;
};

/* The format: ?format=csv|xlsx wins (400 for another value); otherwise the
 * Accept header: text/csv, the XLSX type, text/ *, application/ * or * / *
 * (by q-value; CSV when equal or when there is no Accept). An Accept naming
 * neither format answers 406. Returns false when it has answered. */
bool export_format_or_reply(struct req *r, enum export_format *fmt);

/* Runs the export and answers the request (always). */
void export_run(struct req *r, enum export_format fmt, const struct export_spec *spec);

/* Accept negotiation alone (unit-tested): 1 = CSV, 2 = XLSX, 0 = neither
 * acceptable. accept may be NULL (anything goes: CSV). */
int export_negotiate(const char *accept);

#endif
