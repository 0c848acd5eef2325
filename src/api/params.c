/* Request parameter helpers (params.h). */
#include "rectify/params.h"

#include "rectify/api.h"
#include "rectify/arena.h"
#include "rectify/http.h"
#include "rectify/utf8.h"
#include "rectify/validate.h"

#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A positive decimal id that fits a bigint, normalised into out. */
bool id_parse(const char *s, char out[24])
{
    if (!s || !*s || strlen(s) > 19)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    unsigned long long v = strtoull(s, NULL, 10);
    if (v == 0 || v > LLONG_MAX)
        return false;
    snprintf(out, 24, "%llu", v);
    return true;
}

bool cursor_parse(const char *s, char out[24])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t len = strlen(s);
    if (len < 2 || len > 40 || len % 4 == 1)
        return false;
    char buf[32];
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *c = memchr(alphabet, s[i], 64);
        if (!c)
            return false;
        acc = (acc << 6) | (unsigned)(c - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    buf[n] = '\0';
    if (n < 8 || memcmp(buf, "{\"id\":", 6) != 0 || buf[n - 1] != '}' || buf[6] == '0')
        return false;
    buf[n - 1] = '\0';
    return id_parse(buf + 6, out);
}

/* limit (1..500, default 50) and cursor; errors are collected into errs. */
void page_params(struct req *r, struct field_error *errs, size_t *n, char limit[8],
                        char after[24], bool *has_after)
{
    const char *l = req_query(r, "limit");
    snprintf(limit, 8, "50");
    if (l) {
        char *end = (char *)l;
        long v = (*l >= '0' && *l <= '9') ? strtol(l, &end, 10) : -1;
        if (v < 1 || v > 500 || *end || strlen(l) > 3)
            errs[(*n)++] = (struct field_error){
                .parameter = "limit", .message = "must be an integer between 1 and 500"};
        else
            snprintf(limit, 8, "%ld", v);
    }
    const char *c = req_query(r, "cursor");
    *has_after = false;
    if (c) {
        if (cursor_parse(c, after))
            *has_after = true;
        else
            errs[(*n)++] = (struct field_error){
                .parameter = "cursor", .message = "is not a cursor of this list"};
    }
}

/* The ILIKE pattern of a q= search (LIKE's wildcards and escape escaped). */
char *like_pattern(struct arena *a, const char *q)
{
    char *out = arena_alloc(a, strlen(q) * 2 + 3);
    if (!out)
        return NULL;
    char *o = out;
    *o++ = '%';
    for (; *q; q++) {
        if (*q == '%' || *q == '_' || *q == '\\')
            *o++ = '\\';
        *o++ = *q;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

bool q_valid(const char *q)
{
    size_t chars;
    return utf8_valid(q, strlen(q), &chars) && chars >= 1 && chars <= 100;
}

void reply_invalid_params(struct req *r, const struct field_error *errs, size_t n)
{
    reply_problem_errors(r, 400, "invalid_parameter",
                         n == 1 ? arena_printf(r->arena, "Query parameter %s is invalid.",
                                               errs[0].parameter)
                                : "Some query parameters are invalid.",
                         errs, n);
}

/* If-Match → the version it names. Missing or "*" answers 428. Anything but
 * one strong "N" can never match: version "0" (the statement says 412). */
bool if_match_or_reply(struct req *r, char version[16])
{
    const char *h = req_header(r, "If-Match");
    while (h && (*h == ' ' || *h == '\t'))
        h++;
    if (!h || !*h || (h[0] == '*' && strspn(h + 1, " \t") == strlen(h + 1))) {
        reply_problem(r, 428, "precondition_required",
                      "This request requires an If-Match header with the resource's ETag.");
        return false;
    }
    snprintf(version, 16, "0");
    size_t digits = h[0] == '"' ? strspn(h + 1, "0123456789") : 0;
    if (digits >= 1 && digits <= 9 && h[1 + digits] == '"' &&
        strspn(h + 2 + digits, " \t") == strlen(h + 2 + digits))
        snprintf(version, 16, "%ld", strtol(h + 1, NULL, 10));
    return true;
}

void reply_precondition_failed(struct req *r, const char *current_version)
{
    reply_problem(r, 412, "precondition_failed",
                  "If-Match does not match the current version \"%s\"; re-read and retry.",
                  current_version);
}

void reply_etag(struct req *r, const char *version)
{
    reply_header(r, "ETag", arena_printf(r->arena, "\"%s\"", version));
}

const char *json_body_text_or_reply(struct req *r)
{
    char *text = cJSON_PrintUnformatted(r->json);
    if (!text || arena_defer(r->arena, free, text)) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return NULL;
    }
    return text;
}

void reply_field_error(struct req *r, int status, const char *code, const char *detail,
                        const char *pointer, const char *message)
{
    /* Every 409 with a field is a uniqueness rule ("already exists"); the
     * other domain rules are told apart by their message only. */
    struct field_error e = {.pointer = pointer, .message = message,
                            .code = status == 409 ? "already_exists" : NULL};
    reply_problem_errors(r, status, code, detail, &e, 1);
}


void reply_no_such(struct req *r, const char *what)
{
    reply_problem(r, 404, "not_found", "No such %s.", what);
}

bool id_param_or_reply(struct req *r, const char *name, const char *what, char out[24])
{
    if (id_parse(req_param(r, name), out))
        return true;
    reply_no_such(r, what);
    return false;
}

/* The value of the named column of row 0, or NULL (absent column or SQL NULL). */
static const char *column(const PGresult *res, const char *name, int *len)
{
    int c = PQfnumber(res, name);
    if (c < 0 || PQgetisnull(res, 0, c))
        return NULL;
    if (len)
        *len = PQgetlength(res, 0, c);
    return PQgetvalue(res, 0, c);
}

void reply_row(struct req *r, int status, const PGresult *res, const char *what)
{
    int len = 0;
    const char *json = PQntuples(res) == 1 ? column(res, "json", &len) : NULL;
    if (!json) {
        reply_no_such(r, what);
        return;
    }
    const char *version = column(res, "version", NULL);
    const char *location = column(res, "location", NULL);
    if (version)
        reply_etag(r, version);
    if (location)
        reply_header(r, "Location", location);
    reply_json(r, status, json, (size_t)len);
}

void reply_query_row(struct req *r, int status, const struct db_query *q, const char *what)
{
    PGresult *res;
    if (db_run_or_reply(r, q, 1, &res))
        reply_row(r, status, res, what);
}
