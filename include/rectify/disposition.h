/* Content-Disposition (RFC 6266) with RFC 8187/5987 extended values: the
 * file name of an uploaded body, made safe to store, and the header of a
 * download. Pure functions, no allocation beyond the caller's buffers. */
#ifndef RECTIFY_DISPOSITION_H
#define RECTIFY_DISPOSITION_H

#include <stddef.h>

struct buf;

enum disposition_status {
    DISP_OK = 0,
    DISP_NO_FILENAME,   /* well-formed, but carries no filename parameter */
    DISP_MALFORMED,     /* not `type *(; param=value)`, bad quoting, duplicates */
    DISP_BAD_CHARSET,   /* filename* in a charset other than UTF-8 / ISO-8859-1 */
    DISP_BAD_ENCODING,  /* bad %-escape, or the name is not valid UTF-8 */
};

/* Parses a request's Content-Disposition header value. On DISP_OK, out
 * (of size n, at least strlen(header) + 1 is always enough) holds the file
 * name as UTF-8: filename* when present (it wins over filename), else
 * filename (a quoted-string may carry raw UTF-8, as browsers send it). */
enum disposition_status disposition_filename(const char *header, char *out, size_t n);

/* A short English description of a status, for the client. */
const char *disposition_status_text(enum disposition_status st);

/* Makes a UTF-8 file name safe to store and serve: keeps only the part after
 * the last '/' or '\\' (no paths, no traversal); drops control characters
 * (C0, DEL, C1) and invisible ones that change how a name reads (Unicode's
 * Default_Ignorable_Code_Point set: bidirectional marks, embeddings,
 * overrides and isolates, zero-width characters, word joiner, invisible
 * operators, soft hyphen, variation selectors, tags, BOM; and the line and
 * paragraph separators); replaces
 * <>:"|?* by '_'; trims spaces and dots at both ends; shortens the name to
 * max_chars code points, keeping an extension of up to 16 characters. The
 * result (in out, size n >= strlen(in) + 1) may be "" when nothing is left.
 * Invalid UTF-8 yields "" as well. Returns the length in bytes. */
size_t filename_sanitize(const char *in, char *out, size_t n, size_t max_chars);

/* Gives a sanitised name (filename_sanitize) the extension of its content
 * type. exts: the type's extensions without the dot, canonical first,
 * NULL-terminated (sniff_type_extensions). The extension of a name is what
 * follows its last '.' when that is 1-16 ASCII letters and digits with at
 * least one letter ("v1.2", "2024.11" and "报告.第一版" have none).
 *   - an extension in exts, in any case, is kept: "photo.JPEG" stays;
 *   - another one is replaced by the canonical one: "x.exe" -> "x.pdf";
 *     when the rest already ends in one of exts the wrong one just goes:
 *     "scan.pdf.exe" -> "scan.pdf";
 *   - a name without one gets it: "整改报告" -> "整改报告.pdf"; "" ->
 *     "attachment.pdf".
 * The base name is shortened (code points, no space or dot left at its end)
 * so the result has at most max_chars code points (max_chars >= 18). out
 * (size n >= strlen(in) + 30) must not overlap in. Applying it again, or
 * filename_sanitize to its result, changes nothing. Returns the length in
 * bytes; 0 (out "") when exts is NULL or empty or n is too small. */
size_t filename_with_extension(const char *in, const char *const *exts, char *out, size_t n,
                               size_t max_chars);

/* Appends `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<pct>`
 * for a sanitised name. A name of printable ASCII is its own fallback (with
 * '_' for '"', '\\' and '%'); any other is offered to clients that read only
 * `filename` (curl -OJ) as fallback_stem plus the name's extension:
 * ("整改报告.pdf", "attachment-17") → "attachment-17.pdf". fallback_stem is
 * ASCII ('_' replaces anything else); NULL or "" means "download". Returns
 * 0, or -1 when out is full. */
int disposition_build(struct buf *out, const char *filename, const char *fallback_stem);

#endif
