/* libFuzzer: the keyset cursors of the lists, on a worker-sized stack
 * (worker_stack.h).
 *
 * The first byte chooses how the rest is used:
 *   even: as the JSON text inside a ledger cursor, which is base64url-encoded
 *         and given as ?cursor= to lq_page (src/api/ledger_common.c: decode,
 *         json_parse, the "s"/"k"/"i" checks) for each key kind, and to
 *         cursor_parse (src/api/params.c, the {"id":N} cursors);
 *   odd:  as the cursor text itself (?cursor=<text>, URL-decoded first).
 * Checks: an accepted cursor gives a positive id that fits a bigint, and the
 * key its kind promises; a cursor made the way the list statements make it
 * is accepted. */
#include "rectify/arena.h"
#include "rectify/http.h"
#include "rectify/ledger.h"
#include "rectify/params.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_stack.h"

static const char *const kinds_sort[] = {"deadline", "updated_at", "code", "id"};

/* base64url without padding, as LEDGER_CURSOR / SQL_CURSOR_OF make it. */
static char *b64url(const uint8_t *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n / 3 * 4 + 8);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = al[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = al[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return out;
}

/* A positive integer of at most max_len digits, no leading zero. */
static bool digits_upto(const char *s, size_t max_len)
{
    if (!s || !*s || *s == '0' || strlen(s) > max_len)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The ledger cursors carry the id as a JSON number: exact to 2^53, 16 digits. */
static bool digits_only(const char *s)
{
    return digits_upto(s, 16);
}

/* lq_page over ?<query> for each kind; returns how many accepted it. */
static int pages(const char *query)
{
    int accepted = 0;
    for (int kind = LKEY_DATE; kind <= LKEY_ID; kind++) {
        struct req r;
        memset(&r, 0, sizeof r);
        if (!(r.arena = arena_new()))
            return accepted;
        r.query = query;
        struct lerrs l = {.arena = r.arena};
        char limit[8];
        const char *key, *after;
        lq_page(&r, &l, kinds_sort[kind], (enum lkey)kind, limit, &key, &after);
        size_t refused = 0; /* errors about the cursor (the query may hold a bad limit too) */
        for (size_t i = 0; i < l.n; i++)
            refused += strcmp(l.e[i].parameter, "cursor") == 0;
        if (after) {
            accepted++;
            if (refused || !digits_only(after) || (kind == LKEY_ID) != (key == NULL))
                abort();
            if (kind == LKEY_DATE && strcmp(key, "infinity") != 0 && !ledger_date_ok(key))
                abort();
        } else if (key || refused != 1) {
            abort(); /* a cursor was given: either used or refused */
        }
        struct field_error errs[4];
        size_t n = 0;
        char after24[24];
        bool has_after;
        page_params(&r, errs, &n, limit, after24, &has_after);
        if (has_after && !digits_upto(after24, 19)) /* a bigint id (id_parse) */
            abort();
        arena_free(r.arena);
    }
    return accepted;
}

static void one(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 600)
        return;
    bool as_json = data[0] % 2 == 0;
    data++, size--;
    char *cursor = as_json ? b64url(data, size) : strndup((const char *)data, size);
    if (!cursor)
        return;
    char *query = malloc(strlen(cursor) + 8);
    if (query) {
        sprintf(query, "cursor=%s", cursor);
        pages(query);
        free(query);
    }
    char id[24];
    if (cursor_parse(cursor, id) && !digits_upto(id, 19))
        abort();
    free(cursor);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
