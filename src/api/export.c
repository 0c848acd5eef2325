/* Streaming CSV / XLSX downloads of a keyset-paged statement (export.h). */
#include "rectify/export.h"

#include "rectify/api.h"
#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/csv.h"
#include "rectify/disposition.h"
#include "rectify/log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define XLSX_MAX_CHARS 32767
#define PIECE 65536

/* --- negotiation ------------------------------------------------------------------ */

/* q of the most specific range of accept that matches type/sub (0 when none). */
static double accept_q(const char *accept, const char *type, const char *sub)
{
    double best_q = 0;
    int best_spec = -1;
    size_t tl = strlen(type), sl = strlen(sub);
    for (const char *p = accept; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        const char *semi = memchr(p, ';', len);
        size_t mlen = semi ? (size_t)(semi - p) : len;
        while (mlen && (p[mlen - 1] == ' ' || p[mlen - 1] == '\t'))
            mlen--;
        double q = 1;
        for (const char *s = semi; s && s < p + len;) {
            s++;
            while (s < p + len && *s == ' ')
                s++;
            if (p + len - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
                q = strtod(s + 2, NULL);
            s = memchr(s, ';', (size_t)(p + len - s));
        }
        const char *slash = memchr(p, '/', mlen);
        if (slash) {
            size_t t = (size_t)(slash - p), s = mlen - t - 1;
            bool tany = t == 1 && p[0] == '*', sany = s == 1 && slash[1] == '*';
            bool tmatch = tany || (t == tl && strncasecmp(p, type, tl) == 0);
            bool smatch = sany || (s == sl && strncasecmp(slash + 1, sub, sl) == 0);
            int spec = (tany ? 0 : 1) + (sany ? 0 : 1);
            if (tmatch && smatch && spec > best_spec) {
                best_spec = spec;
                best_q = q;
            }
        }
        p = end ? end + 1 : NULL;
    }
    return best_q < 0 ? 0 : best_q > 1 ? 1 : best_q;
}

int export_negotiate(const char *accept)
{
    if (!accept || !*accept)
        return 1;
    double csv = accept_q(accept, "text", "csv");
    double xlsx = accept_q(accept, "application",
                           "vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    if (csv <= 0 && xlsx <= 0)
        return 0;
    return csv >= xlsx ? 1 : 2;
}

bool export_format_or_reply(struct req *r, enum export_format *fmt)
{
    const char *f = req_query(r, "format");
    if (f) {
        if (strcmp(f, "csv") == 0) {
            *fmt = EXPORT_CSV;
            return true;
        }
        if (strcmp(f, "xlsx") == 0) {
            *fmt = EXPORT_XLSX;
            return true;
        }
        struct field_error e = {.parameter = "format", .message = "must be csv or xlsx", .code = "not_in_vocabulary"};
        reply_problem_errors(r, 400, "invalid_parameter", "Query parameter format is invalid.",
                             &e, 1);
        return false;
    }
    switch (export_negotiate(req_header(r, "Accept"))) {
    case 1:
        *fmt = EXPORT_CSV;
        return true;
    case 2:
        *fmt = EXPORT_XLSX;
        return true;
    }
    reply_problem(r, 406, "not_acceptable",
                  "This export is available as " EXPORT_CSV_TYPE " or " EXPORT_XLSX_TYPE
                  " (or choose with ?format=csv|xlsx).");
    return false;
}

/* --- the export -------------------------------------------------------------------- */

struct exporter {
    struct req *r;
    const struct export_spec *spec;
    enum export_format fmt;
    /* CSV */
    struct buf out;
    struct csv_writer w;
    /* XLSX */
    char path[4096];
    int fd;
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *f_head, *f_date, *f_time;
    lxw_row_t row;
    struct buf cell; /* scratch for XLSX text */
    bool truncated;  /* over Excel's row limit */
    size_t nstmt;    /* columns from the statement: cols minus the extra cells */
    const char *extra[EXPORT_MAX_EXTRA]; /* this row's cells computed in C */
};

/* Cell c of row i: from the statement, or computed in C (then extra[] was
 * filled for the row by fill_extra). NULL = empty. */
static const char *cell_of(const struct exporter *x, const PGresult *res, int i, size_t c,
                           size_t *len)
{
    if (c >= x->nstmt) {
        const char *v = x->extra[c - x->nstmt];
        *len = v ? strlen(v) : 0;
        return v;
    }
    int col = (int)c + 2;
    if (PQgetisnull(res, i, col)) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)PQgetlength(res, i, col);
    return PQgetvalue(res, i, col);
}

static void fill_extra(struct exporter *x, const PGresult *res, int i)
{
    for (size_t k = 0; k < EXPORT_MAX_EXTRA; k++)
        x->extra[k] = NULL;
    if (x->spec->nextra && x->spec->row)
        x->spec->row(x->spec->ctx, res, i, x->extra);
}

static bool parse_datetime(const char *s, lxw_datetime *dt, bool with_time)
{
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    memset(dt, 0, sizeof *dt);
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return false;
    if (with_time && s[10]) {
        int m = 0;
        if (sscanf(s + 10, " %2d:%2d%n", &h, &mi, &m) != 2)
            return false;
        if (s[10 + m] == ':')
            sec = strtod(s + 11 + m, NULL);
    } else if (s[10]) {
        return false;
    }
    if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59)
        return false;
    *dt = (lxw_datetime){y, mo, d, h, mi, sec};
    return true;
}

/* Text for an XLSX cell: XML 1.0 forbids C0 controls other than TAB, LF,
 * CR (replaced by spaces); at most 32 767 characters. */
static const char *xlsx_text(struct exporter *x, const char *s)
{
    buf_reset(&x->cell);
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80 && ++chars > XLSX_MAX_CHARS)
            break;
        char c = (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') ? ' ' : (char)*p;
        if (buf_append(&x->cell, &c, 1))
            return "";
    }
    return x->cell.data ? x->cell.data : "";
}

static int xlsx_open(struct exporter *x)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(x->path, sizeof x->path, "%s/rectify-export-XXXXXX", tmp);
    x->fd = mkstemp(x->path);
    if (x->fd < 0)
        return -1;
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = (char *)tmp};
    x->wb = workbook_new_opt(x->path, &opt);
    if (!x->wb)
        return -1;
    x->ws = workbook_add_worksheet(x->wb, x->spec->sheet);
    x->f_head = workbook_add_format(x->wb);
    x->f_date = workbook_add_format(x->wb);
    x->f_time = workbook_add_format(x->wb);
    if (!x->ws || !x->f_head || !x->f_date || !x->f_time)
        return -1;
    format_set_bold(x->f_head);
    format_set_bg_color(x->f_head, 0xDDEBF7);
    format_set_num_format(x->f_date, "yyyy-mm-dd");
    format_set_num_format(x->f_time, "yyyy-mm-dd hh:mm");
    for (size_t c = 0; c < x->spec->ncols; c++)
        worksheet_set_column(x->ws, (lxw_col_t)c, (lxw_col_t)c, x->spec->cols[c].width, NULL);
    worksheet_freeze_panes(x->ws, 1, 0);
    for (size_t c = 0; c < x->spec->ncols; c++)
        worksheet_write_string(x->ws, 0, (lxw_col_t)c, x->spec->cols[c].header, x->f_head);
    x->row = 0;
    return 0;
}

/* workbook_close zips the parts with large buffers on the stack: more than
 * a CivetWeb worker thread has (it overflowed under ASan). It runs on a
 * thread of its own with a generous stack. */
struct close_job {
    lxw_workbook *wb;
    lxw_error err;
};

static void *close_thread(void *p)
{
    struct close_job *j = p;
    j->err = workbook_close(j->wb);
    return NULL;
}

static lxw_error workbook_close_big_stack(lxw_workbook *wb)
{
    struct close_job j = {wb, LXW_NO_ERROR};
    pthread_attr_t attr;
    pthread_t t;
    bool started = false;
    if (pthread_attr_init(&attr) == 0) {
        started = pthread_attr_setstacksize(&attr, 16u << 20) == 0 &&
                  pthread_create(&t, &attr, close_thread, &j) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started)
        return workbook_close(wb);
    pthread_join(t, NULL);
    return j.err;
}

static void xlsx_discard(struct exporter *x)
{
    if (x->wb) {
        workbook_close_big_stack(x->wb); /* frees it; the file is removed below */
        x->wb = NULL;
    }
    if (x->fd >= 0) {
        close(x->fd);
        x->fd = -1;
        unlink(x->path);
    }
}

static void xlsx_row(struct exporter *x, PGresult *res, int i)
{
    if (x->row + 1 >= LXW_ROW_MAX) {
        x->truncated = true;
        return;
    }
    lxw_row_t row = ++x->row;
    for (size_t c = 0; c < x->spec->ncols; c++) {
        size_t len;
        const char *v = cell_of(x, res, i, c, &len);
        if (!v || len == 0)
            continue;
        lxw_datetime dt;
        switch (x->spec->cols[c].type) {
        case EXPORT_INT:
            worksheet_write_number(x->ws, row, (lxw_col_t)c, strtod(v, NULL), NULL);
            continue;
        case EXPORT_DATE:
            if (parse_datetime(v, &dt, false)) {
                worksheet_write_datetime(x->ws, row, (lxw_col_t)c, &dt, x->f_date);
                continue;
            }
            break;
        case EXPORT_DATETIME:
            if (parse_datetime(v, &dt, true)) {
                worksheet_write_datetime(x->ws, row, (lxw_col_t)c, &dt, x->f_time);
                continue;
            }
            break;
        case EXPORT_TEXT:
            break;
        }
        worksheet_write_string(x->ws, row, (lxw_col_t)c, xlsx_text(x, v), NULL);
    }
}

static int csv_row(struct exporter *x, PGresult *res, int i)
{
    int rc = 0;
    for (size_t c = 0; c < x->spec->ncols; c++) {
        size_t len;
        const char *v = cell_of(x, res, i, c, &len);
        rc |= csv_write_field(&x->w, v, len,
                              x->spec->cols[c].type == EXPORT_TEXT ? CSV_WRITE_NEUTRALIZE : 0);
    }
    return rc | csv_write_eol(&x->w);
}

/* Sends the finished workbook. */
static void xlsx_send(struct exporter *x)
{
    struct req *r = x->r;
    lxw_error e = workbook_close_big_stack(x->wb);
    x->wb = NULL;
    unlink(x->path); /* the descriptor keeps the data until it is closed */
    if (e != LXW_NO_ERROR) {
        log_msg(LOG_ERROR, r->request_id, "xlsx export: %s", lxw_strerror(e));
        close(x->fd);
        x->fd = -1;
        reply_problem(r, 500, "internal_error", "The export file could not be written.");
        return;
    }
    char *chunk = arena_alloc(r->arena, PIECE);
    if (!chunk || lseek(x->fd, 0, SEEK_SET) != 0) {
        close(x->fd);
        x->fd = -1;
        reply_problem(r, 500, "internal_error", "Cannot read the export file.");
        return;
    }
    reply_stream_begin(r, 200, EXPORT_XLSX_TYPE);
    ssize_t got;
    bool ok = true;
    while ((got = read(x->fd, chunk, PIECE)) > 0)
        if (reply_stream_write(r, chunk, (size_t)got)) {
            ok = false;
            break;
        }
    close(x->fd);
    x->fd = -1;
    if (got < 0)
        ok = false;
    if (ok)
        reply_stream_end(r);
    else
        reply_stream_abort(r);
}

static void exporter_free(void *p)
{
    struct exporter *x = p;
    xlsx_discard(x);
    buf_free(&x->out);
    buf_free(&x->cell);
}

void export_run(struct req *r, enum export_format fmt, const struct export_spec *spec)
{
    int n = spec->nparams;
    const char **p = arena_alloc(r->arena, (size_t)n * sizeof *p);
    struct exporter *x = arena_alloc(r->arena, sizeof *x);
    if (n < 3 || spec->nextra > EXPORT_MAX_EXTRA || spec->nextra > spec->ncols) {
        log_msg(LOG_ERROR, r->request_id, "export: bad export_spec");
        reply_problem(r, 500, "internal_error", "The export is misconfigured.");
        return;
    }
    if (!p || !x || arena_defer(r->arena, exporter_free, x)) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return;
    }
    memcpy(p, spec->params, (size_t)n * sizeof *p);
    char batch[16], key[128] = "", after[24] = "";
    snprintf(batch, sizeof batch, "%d", EXPORT_BATCH);
    p[n - 3] = NULL;
    p[n - 2] = NULL;
    p[n - 1] = batch;
    x->r = r;
    x->spec = spec;
    x->fmt = fmt;
    x->fd = -1;
    x->nstmt = spec->ncols - spec->nextra;
    buf_init(&x->out, 0);
    buf_init(&x->cell, 0);
    csv_writer_init(&x->w, &x->out, 0);

    /* The first batch before anything is sent: its errors are problems.
     * JIT off: the export statements are large and, over a big table, cost
     * enough for PostgreSQL to JIT-compile (with optimisation and inlining)
     * every batch again — seconds each, for nothing. Custom plans: the
     * keyset terms are `$id IS NULL OR …` (NULL in the first batch only);
     * a generic plan, which PostgreSQL may pick after five executions on a
     * connection, could not use them as index conditions. */
    struct db_query q[2] = {{"SELECT set_config('jit', 'off', true),"
                             " set_config('plan_cache_mode', 'force_custom_plan', true)", 0, NULL},
                            {spec->sql, n, p}};
    PGresult *pair[2], *res;
    if (!db_run_or_reply(r, q, 2, pair))
        return;
    res = pair[1];
    bool owned = false; /* the first result belongs to the arena */
    if (PQntuples(res) > 0 && spec->batch && spec->batch(spec->ctx, r, res)) {
        reply_header(r, "Retry-After", "2");
        reply_problem(r, 503, "service_unavailable", "The export could not be completed; retry.");
        return;
    }

    struct buf disp;
    buf_init(&disp, 2048);
    const char *ext = fmt == EXPORT_CSV ? ".csv" : ".xlsx";
    char *name = arena_printf(r->arena, "%s%s", spec->filename, ext);
    if (!name || disposition_build(&disp, name, spec->ascii_filename) || !disp.data) {
        buf_free(&disp);
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return;
    }
    reply_header(r, "Content-Disposition", disp.data);
    buf_free(&disp);
    reply_header(r, "Cache-Control", "no-store");

    if (fmt == EXPORT_XLSX) {
        if (xlsx_open(x)) {
            log_msg(LOG_ERROR, r->request_id, "xlsx export: cannot create %s", x->path);
            reply_problem(r, 500, "internal_error", "Cannot create the export file.");
            return;
        }
    } else {
        int rc = csv_write_bom(&x->w);
        for (size_t c = 0; c < spec->ncols; c++)
            rc |= csv_write_field(&x->w, spec->cols[c].header, strlen(spec->cols[c].header), 0);
        if (rc | csv_write_eol(&x->w)) {
            reply_problem(r, 500, "internal_error", "Out of memory.");
            return;
        }
        reply_stream_begin(r, 200, "text/csv; charset=utf-8");
    }

    long long rows = 0;
    bool failed = false;
    for (;;) {
        int nt = PQntuples(res);
        if (PQnfields(res) < (int)x->nstmt + 2) {
            failed = true;
            log_msg(LOG_ERROR, r->request_id, "export: the statement has too few columns");
            nt = 0;
        }
        for (int i = 0; i < nt; i++) {
            fill_extra(x, res, i);
            if (fmt == EXPORT_XLSX) {
                xlsx_row(x, res, i);
            } else if (csv_row(x, res, i)) {
                failed = true;
                break;
            }
        }
        rows += nt;
        if (nt > 0) {
            snprintf(key, sizeof key, "%s", PQgetvalue(res, nt - 1, 0));
            snprintf(after, sizeof after, "%s", PQgetvalue(res, nt - 1, 1));
        }
        if (owned)
            PQclear(res);
        res = NULL;
        if (fmt == EXPORT_CSV && !failed && x->out.len) {
            if (reply_stream_write(r, x->out.data, x->out.len))
                failed = true; /* the client went away */
            buf_reset(&x->out);
        }
        if (failed || nt < EXPORT_BATCH || x->truncated)
            break;
        p[n - 3] = key;
        p[n - 2] = after;
        struct db_error err;
        enum db_status st = api_db_run(r, q, NULL, 2, pair, &err);
        if (st == DB_OK) {
            PQclear(pair[0]);
            res = pair[1];
        }
        if (st != DB_OK) {
            log_msg(LOG_ERROR, r->request_id, "export failed after %lld rows: %s %s", rows,
                    err.sqlstate, err.message);
            failed = true;
            break;
        }
        owned = true; /* cleared above once its rows are written */
        if (PQntuples(res) > 0 && spec->batch && spec->batch(spec->ctx, r, res)) {
            log_msg(LOG_ERROR, r->request_id, "export failed after %lld rows", rows);
            PQclear(res);
            failed = true;
            break;
        }
    }
    log_msg(LOG_INFO, r->request_id, "export: %lld rows (%s)%s", rows,
            fmt == EXPORT_CSV ? "csv" : "xlsx", failed ? " FAILED" : "");
    if (fmt == EXPORT_CSV) {
        if (failed)
            reply_stream_abort(r);
        else
            reply_stream_end(r);
        return;
    }
    if (failed) {
        reply_header(r, "Retry-After", "2");
        reply_problem(r, 503, "service_unavailable", "The export could not be completed; retry.");
        return;
    }
    xlsx_send(x);
}
