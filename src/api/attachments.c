/* Attachments: evidence files (佐证材料) uploaded as raw bodies, stored in
 * PostgreSQL (0010_attachments.sql), streamed back in 1 MiB pieces.
 *
 * Upload (POST /api/v1/attachments): the body is the file itself — no
 * multipart, no base64 — with the declared type in Content-Type and the name
 * in Content-Disposition (filename or filename*=UTF-8''…). Order of checks:
 * size by Content-Length (413 before a byte is read, so "Expect:
 * 100-continue" is refused without the upload), the Content-Type and
 * Content-Disposition headers (422), then the body is read in a loop into a
 * buffer capped at RECTIFY_MAX_UPLOAD (413 for chunked bodies that grow past
 * it), hashed (SHA-256) as it arrives, sniffed (415 when the content is not
 * an accepted type or disagrees with the declared one), and stored with the
 * bytes as one binary parameter (no hex doubling). The stored name is the
 * sent one sanitised, with the extension of the sniffed type (a PDF sent as
 * "x.exe" is "x.pdf"; docs/attachments.md).
 *
 * Memory: an upload holds its body (≤ RECTIFY_MAX_UPLOAD) once in this
 * process and once in libpq's output buffer while it is sent. A download
 * holds one 1 MiB piece at a time. */
#include "rectify/api.h"
#include "rectify/params.h"

#include "rectify/app.h"
#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/config.h"
#include "rectify/disposition.h"
#include "rectify/log.h"
#include "rectify/permissions.h"
#include "rectify/sniff.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE (1024 * 1024) /* download piece, bytes */
#define FILENAME_MAX_CHARS 255

/* The Attachment schema (a: a row of attachments). */
#define ATTACHMENT_JSON(a)                                                                 \
    "json_build_object('id', " a ".id, 'filename', " a ".filename,"                        \
    " 'content_type', " a ".content_type, 'size_bytes', " a ".size_bytes,"                 \
    " 'sha256', encode(" a ".sha256, 'hex'), 'uploaded_by', " a ".uploaded_by,"            \
    " 'owner_org_id', " a ".owner_org_id, 'created_at', " a ".created_at)"

/* $1 filename, $2 content type, $3 size, $4 sha256 hex, $5 the bytes (binary).
 * The bytes go in through the same statement as the metadata (see the
 * attachment_contents policies in 0010). */
static const char sql_create[] =
    "WITH a AS (INSERT INTO attachments (filename, content_type, size_bytes, sha256)"
    "           VALUES ($1, $2, $3::bigint, decode($4, 'hex')) RETURNING *),"
    " c AS (INSERT INTO attachment_contents (attachment_id, content)"
    "       SELECT a.id, $5::bytea FROM a)"
    " SELECT a.id, " ATTACHMENT_JSON("a") "::text FROM a";

/* $1 id: sha256 hex, content type, filename, size, metadata JSON. */
static const char sql_meta[] =
    "SELECT encode(a.sha256, 'hex'), a.content_type, a.filename, a.size_bytes, "
    ATTACHMENT_JSON("a") "::text FROM attachments a WHERE a.id = $1::bigint";

/* $1 id, $2 1-based offset, $3 length: one piece of the bytes (binary
 * result). With STORAGE EXTERNAL only the TOAST chunks of the piece are read. */
static const char sql_piece[] =
    "SELECT substring(c.content from $2::int for $3::int) FROM attachment_contents c"
    " WHERE c.attachment_id = $1::bigint";

static void reply_invalid_header(struct req *r, const char *header, const char *message)
{
    struct field_error e = {.parameter = header, .message = message};
    r->close_connection = true; /* the body was not read */
    reply_problem_errors(r, 422, "invalid_header", "A request header is invalid.", &e, 1);
}

static void reply_too_large(struct req *r, long long max)
{
    r->close_connection = true;
    reply_problem(r, 413, "payload_too_large",
                  "The file exceeds the upload limit of %lld bytes.", max);
}

/* The file name from Content-Disposition, as sent (named_for_type cleans it
 * once the type is known); NULL when the request has been answered. A
 * missing header (or one without a filename) gives "". */
static const char *filename_or_reply(struct req *r)
{
    const char *cd = req_header(r, "Content-Disposition");
    if (!cd)
        return "";
    size_t n = strlen(cd) + 1;
    char *raw = arena_alloc(r->arena, n);
    if (!raw) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return NULL;
    }
    enum disposition_status st = disposition_filename(cd, raw, n);
    if (st == DISP_NO_FILENAME)
        return "";
    if (st != DISP_OK) {
        reply_invalid_header(r, "Content-Disposition", disposition_status_text(st));
        return NULL;
    }
    return raw;
}

/* The name as stored and served: sanitised (no path, control or invisible
 * characters; a no-op for a name stored by create_attachment) and with the
 * extension of the sniffed type (filename_with_extension): "x.exe" holding
 * a PDF is "x.pdf", a name without an extension gets one, "" and "../" are
 * "attachment.<ext>". NULL when out of memory. */
static const char *named_for_type(struct req *r, const char *name, const char *type)
{
    const char *const *exts = sniff_type_extensions(type);
    size_t n = strlen(name) + 32;
    char *clean = arena_alloc(r->arena, n), *out = arena_alloc(r->arena, n);
    if (!clean || !out)
        return NULL;
    filename_sanitize(name, clean, n, FILENAME_MAX_CHARS);
    if (!exts)
        return *clean ? clean : "attachment";
    filename_with_extension(clean, exts, out, n, FILENAME_MAX_CHARS);
    return out;
}

static void sha256_hex(crypto_hash_sha256_state *st, char hex[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(st, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
}

static void create_attachment(struct req *r)
{
    long long max = r->app->cfg->max_upload;
    const char *cl = req_header(r, "Content-Length");
    if (cl && strtoll(cl, NULL, 10) > max) {
        reply_too_large(r, max);
        return;
    }
    char declared[128];
    if (!sniff_declared_type(req_header(r, "Content-Type"), declared, sizeof declared)) {
        reply_invalid_header(r, "Content-Type", "is not a media type (type/subtype)");
        return;
    }
    const char *filename = filename_or_reply(r);
    if (!filename)
        return;

    struct buf body;
    buf_init(&body, (size_t)max);
    crypto_hash_sha256_state hash;
    crypto_hash_sha256_init(&hash);
    char chunk[16384]; /* worker threads have small stacks (cf. body.c) */
    long n;
    while ((n = req_read(r, chunk, sizeof chunk)) > 0) {
        if (buf_append(&body, chunk, (size_t)n)) {
            bool too_large = body.len + (size_t)n > (size_t)max; /* else out of memory */
            buf_free(&body);
            if (too_large)
                reply_too_large(r, max);
            else
                reply_problem(r, 503, "service_unavailable", "Out of memory.");
            return;
        }
        crypto_hash_sha256_update(&hash, (const unsigned char *)chunk, (unsigned long long)n);
    }
    if (n < 0) {
        buf_free(&body);
        r->close_connection = true;
        reply_problem(r, 400, "incomplete_body", "The request body ended early.");
        return;
    }
    if (body.len == 0) {
        buf_free(&body);
        reply_problem(r, 422, "empty_body", "The file is empty; send its bytes as the body.");
        return;
    }
    if (arena_defer(r->arena, free, body.data)) { /* body.data is freed */
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }

    struct sniff_result t = sniff_content((const unsigned char *)body.data, body.len);
    if (!t.type) {
        reply_problem(r, 415, "unsupported_media_type",
                      "The content is %s. Accepted: JPEG, PNG, GIF, WebP, PDF, OFD, "
                      "Word, Excel and PowerPoint files (doc, docx, xls, xlsx, ppt, pptx).",
                      t.why);
        return;
    }
    if (!sniff_declared_matches(declared, t.type)) {
        reply_problem(r, 415, "content_type_mismatch",
                      "The content is %s but was declared as %s.", t.type, declared);
        return;
    }
    filename = named_for_type(r, filename, t.type);
    if (!filename) {
        reply_problem(r, 503, "service_unavailable", "Out of memory.");
        return;
    }

    char hex[65], size[24];
    sha256_hex(&hash, hex);
    snprintf(size, sizeof size, "%zu", body.len);
    const char *params[] = {filename, t.type, size, hex, body.data};
    const int lengths[] = {0, 0, 0, 0, (int)body.len};
    const int formats[] = {0, 0, 0, 0, 1};
    struct db_query q = {sql_create, 5, params};
    struct db_format f = {lengths, formats, 0};
    PGresult *res;
    if (!db_run_formats_or_reply(r, &q, &f, 1, &res))
        return;
    reply_header(r, "Location",
                 arena_printf(r->arena, "/api/v1/attachments/%s", PQgetvalue(res, 0, 0)));
    reply_header(r, "ETag", arena_printf(r->arena, "\"%s\"", hex));
    reply_json(r, 201, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

/* The metadata row of {id}, or NULL when answered (404 included). With
 * piece != NULL the first piece of the bytes comes in the same round trip. */
static PGresult *meta_or_reply(struct req *r, char id[24], PGresult **piece)
{
    if (!id_parse(req_param(r, "id"), id)) {
        reply_problem(r, 404, "not_found", "No resource at %s.", r->path);
        return NULL;
    }
    char len[16];
    snprintf(len, sizeof len, "%d", PIECE);
    const char *params[] = {id, "1", len};
    struct db_query q[] = {{sql_meta, 1, params}, {sql_piece, 3, params}};
    struct db_format f[] = {{NULL, NULL, 0}, {NULL, NULL, 1}};
    PGresult *res[2];
    if (!db_run_formats_or_reply(r, q, f, piece ? 2 : 1, res))
        return NULL;
    if (PQntuples(res[0]) != 1 || (piece && PQntuples(res[1]) != 1)) {
        reply_problem(r, 404, "not_found", "No resource at %s.", r->path);
        return NULL;
    }
    if (piece)
        *piece = res[1];
    return res[0];
}

static void get_meta(struct req *r)
{
    char id[24];
    PGresult *m = meta_or_reply(r, id, NULL);
    if (!m)
        return;
    reply_header(r, "ETag", arena_printf(r->arena, "\"%s\"", PQgetvalue(m, 0, 0)));
    reply_json(r, 200, PQgetvalue(m, 0, 4), (size_t)PQgetlength(m, 0, 4));
}

static void download(struct req *r)
{
    char id[24];
    PGresult *first = NULL;
    PGresult *m = meta_or_reply(r, id, &first);
    if (!m)
        return;
    const char *etag = arena_printf(r->arena, "\"%s\"", PQgetvalue(m, 0, 0));
    long long size = atoll(PQgetvalue(m, 0, 3));
    reply_header(r, "ETag", etag); /* If-None-Match → 304: reply_stream_begin */
    /* Names stored before the extension followed the content keep their
     * `filename` in the metadata, but are served corrected. */
    const char *name = named_for_type(r, PQgetvalue(m, 0, 2), PQgetvalue(m, 0, 1));
    struct buf cd;
    buf_init(&cd, 4096);
    /* curl -OJ and other clients that read only `filename` get
     * "attachment-17.pdf" for "整改报告.pdf". */
    if (name && disposition_build(&cd, name, arena_printf(r->arena, "attachment-%s", id)) == 0)
        reply_header(r, "Content-Disposition", cd.data);
    buf_free(&cd);

    reply_stream_begin(r, 200, PQgetvalue(m, 0, 1));
    long long sent = PQgetlength(first, 0, 0);
    if (reply_stream_write(r, PQgetvalue(first, 0, 0), (size_t)sent))
        return;
    while (sent < size) {
        char off[24], len[16];
        snprintf(off, sizeof off, "%lld", sent + 1);
        snprintf(len, sizeof len, "%d", PIECE);
        const char *params[] = {id, off, len};
        struct db_query q = {sql_piece, 3, params};
        struct db_format f = {NULL, NULL, 1};
        struct db_error err;
        PGresult *res = NULL;
        enum db_status st = api_db_run(r, &q, &f, 1, &res, &err);
        if (st != DB_OK || PQntuples(res) != 1 || PQgetlength(res, 0, 0) == 0) {
            log_msg(LOG_ERROR, r->request_id,
                    "download of attachment %s stopped at byte %lld of %lld: %s", id, sent,
                    size, st == DB_OK ? "the content changed" : err.message);
            PQclear(res);
            reply_stream_abort(r);
            return;
        }
        int w = reply_stream_write(r, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        sent += PQgetlength(res, 0, 0);
        PQclear(res);
        if (w)
            return; /* the client went away */
    }
    reply_stream_end(r);
}

const struct route attachment_routes[] = {
    {"POST", "/api/v1/attachments", create_attachment, PERM_ATTACHMENT_WRITE, ROUTE_RAW_BODY},
    {"GET", "/api/v1/attachments/{id}", download, PERM_LEDGER_READ, 0},
    {"GET", "/api/v1/attachments/{id}/meta", get_meta, PERM_LEDGER_READ, 0},
};
const size_t attachment_routes_count = sizeof attachment_routes / sizeof attachment_routes[0];
