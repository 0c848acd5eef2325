/* Content sniffing for uploaded evidence files (佐证材料): which of the
 * accepted types a byte string really is, judged by its content alone.
 *
 * Accepted, and how each is recognised (the whole file is given):
 *   image/jpeg       FF D8 FF
 *   image/png        the 8-byte PNG signature followed by an IHDR chunk
 *   image/gif        "GIF87a" or "GIF89a"
 *   image/webp       "RIFF" <size> "WEBP" then a "VP8 ", "VP8L" or "VP8X" chunk
 *   application/pdf  "%PDF-" + digit at offset 0 (stricter than readers,
 *                    which look in the first 1024 bytes: no polyglot prefix)
 *   OOXML            a ZIP (local header "PK\3\4" at 0, end-of-central-
 *                    directory record found, every central-directory entry
 *                    parsed within bounds) holding "[Content_Types].xml" and
 *                    exactly one main part: word/document.xml (docx),
 *                    xl/workbook.xml (xlsx), ppt/presentation.xml (pptx)
 *   application/ofd  a ZIP with "OFD.xml" at its root (GB/T 33190 OFD)
 *   legacy Office    an OLE2 compound file (D0 CF 11 E0 A1 B1 1A E1) whose
 *                    directory, followed through the FAT, has a stream named
 *                    "WordDocument" (doc), "Workbook"/"Book" (xls) or
 *                    "PowerPoint Document" (ppt)
 * Refused: everything else, including plain text (HTML and scripts would pass
 * as text), ZIP64 and other ZIPs, macro-enabled Office files (a
 * vbaProject.bin part; OLE2 "Macros", "_VBA_PROJECT_CUR" or "VBA" storages).
 *
 * Pure functions on constant data: thread-safe, no allocation; returned
 * strings are static. */
#ifndef RECTIFY_SNIFF_H
#define RECTIFY_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

struct sniff_result {
    const char *type; /* the accepted media type, or NULL when refused */
    const char *ext;  /* usual file extension without the dot ("pdf"), or NULL */
    const char *why;  /* when refused: a short reason for the client */
};

struct sniff_result sniff_content(const unsigned char *data, size_t len);

/* The file extensions (lower case, without the dot) a stored name of an
 * accepted type may end in, NULL-terminated, the canonical one first (the
 * `ext` sniff_content gives): {"jpg", "jpeg", "jpe", "jfif", NULL} for
 * image/jpeg, exactly one for every other type. NULL for a type that is not
 * accepted. */
const char *const *sniff_type_extensions(const char *type);

/* The declared Content-Type, normalised into out: lower case, parameters
 * dropped, aliases mapped (image/jpg -> image/jpeg, application/x-pdf ->
 * application/pdf, ...). "" when nothing useful was declared (absent,
 * application/octet-stream). Returns false when ct is not a type/subtype. */
bool sniff_declared_type(const char *ct, char *out, size_t n);

/* Does a normalised declared type agree with the sniffed one? "" agrees with
 * everything; application/zip with every ZIP-based type; the generic OLE2
 * types (application/vnd.ms-office, application/x-ole-storage) with every
 * legacy Office type. */
bool sniff_declared_matches(const char *declared, const char *sniffed);

#endif
