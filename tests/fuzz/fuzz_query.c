/* libFuzzer: query strings, on a worker-sized stack (worker_stack.h).
 *
 * The input is a request's query string (what follows '?'). Every query
 * parameter reader runs over it: req_query (src/http/response.c: splitting
 * and URL-decoding), the typed readers of the ledger lists (lq_*,
 * src/api/ledger_common.c) and of the other lists (page_params, q_valid,
 * like_pattern, id_parse; src/api/params.c). Checks: a decoded value is
 * never longer than the query; what a typed reader accepts has its type. */
#include "rectify/arena.h"
#include "rectify/http.h"
#include "rectify/ledger.h"
#include "rectify/params.h"
#include "rectify/validate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker_stack.h"

static const char *const statuses[] = {"pending", "in_progress", "completed", "closed", NULL};
static const char *const sorts[] = {"-updated_at", "updated_at", "deadline", "code", NULL};
static const char *const names[] = {"q", "limit", "cursor", "status", "sort", "official",
                                    "campaign_id", "overdue", "due_before", "", "a%20b", NULL};

static bool is_id(const char *s)
{
    char copy[24];
    return s && id_parse(s, copy) && strcmp(copy, s) == 0;
}

static void one(const uint8_t *data, size_t size)
{
    char *query = strndup((const char *)data, size);
    struct req r;
    memset(&r, 0, sizeof r);
    if (!query || !(r.arena = arena_new())) {
        free(query);
        return;
    }
    r.query = query;
    size_t qlen = strlen(query);
    for (const char *const *n = names; *n; n++) {
        const char *v = req_query(&r, *n);
        if (v && strlen(v) > qlen)
            abort();
    }
    struct lerrs l = {.arena = r.arena};
    const char *v;
    if ((v = lq_id(&r, &l, "campaign_id")) && !is_id(v))
        abort();
    if ((v = lq_bool(&r, &l, "overdue")) && strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
        abort();
    if ((v = lq_date(&r, &l, "due_before")) && !ledger_date_ok(v))
        abort();
    if ((v = lq_enum(&r, &l, "status", statuses))) {
        bool known = false;
        for (const char *const *s = statuses; *s; s++)
            known = known || strcmp(*s, v) == 0;
        if (!known)
            abort();
    }
    if ((v = lq_enum_list(&r, &l, "status", statuses)) &&
        (v[0] != '{' || v[strlen(v) - 1] != '}'))
        abort();
    if ((v = lq_like(&r, &l, "q")) && (v[0] != '%' || strlen(v) < 3))
        abort();
    (void)lq_official(&r, &l);
    int s = lq_sort(&r, &l, sorts);
    if (s < 0 || s >= 4)
        abort();
    char limit[8];
    const char *key, *after;
    lq_page(&r, &l, sorts[s], LKEY_TIMESTAMP, limit, &key, &after);
    if (after && (!is_id(after) || !key))
        abort();
    long lim = strtol(limit, NULL, 10);
    if (lim < 1 || lim > 500)
        abort();
    (void)lq_ok_or_reply; /* answers through CivetWeb: not here */

    struct field_error errs[4];
    size_t ne = 0;
    char after24[24];
    bool has_after;
    page_params(&r, errs, &ne, limit, after24, &has_after);
    if (ne > 2 || (has_after && !is_id(after24)))
        abort();
    const char *q = req_query(&r, "q");
    if (q && q_valid(q)) {
        char *p = like_pattern(r.arena, q);
        if (!p || p[0] != '%' || strlen(p) < strlen(q) + 2)
            abort();
    }
    char id[24];
    if (id_parse(query, id) && !is_id(id))
        abort();
    arena_free(r.arena);
    free(query);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
