/* Helpers shared by the ledger modules; see include/rectify/ledger.h. */
#include "rectify/ledger.h"

#include "rectify/api.h"

#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/json.h"
#include "rectify/utf8.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char ledger_sql_custom_plans[] =
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)";

/* --- errors ------------------------------------------------------------------- */

void lerr_body(struct lerrs *l, const char *pointer, const char *code, const char *message)
{
    if (l->n >= VALIDATE_MAX_ERRORS)
        return;
    l->e[l->n++] = (struct field_error){.pointer = arena_strdup(l->arena, pointer),
                                        .message = message, .code = code};
}

void lerr_param(struct lerrs *l, const char *parameter, const char *code, const char *message)
{
    if (l->n >= VALIDATE_MAX_ERRORS)
        return;
    l->e[l->n++] = (struct field_error){.parameter = parameter, .message = message, .code = code};
}

/* --- values ------------------------------------------------------------------- */

bool ledger_date_ok(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

bool ledger_not_blank(const char *s)
{
    return strspn(s, " \t\r\n") < strlen(s);
}

static bool text_ok(const char *s, size_t min, size_t max)
{
    size_t chars;
    return utf8_valid(s, strlen(s), &chars) && chars >= min && chars <= max;
}

/* The code of a text that text_ok (or ledger_not_blank) refused. */
static const char *text_code(const char *s, size_t min, size_t max)
{
    size_t chars;
    if (!utf8_valid(s, strlen(s), &chars))
        return "invalid_utf8";
    return chars < min ? "too_short" : chars > max ? "too_long" : "blank";
}

/* --- body checks ---------------------------------------------------------------- */

static const char *item_ptr(struct lerrs *l, const char *ptr, int i)
{
    return arena_printf(l->arena, "%s/%d", ptr, i);
}

static bool is_id(const cJSON *it)
{
    return cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble) &&
           it->valuedouble >= 1 && it->valuedouble <= (double)LEDGER_ID_MAX;
}

static bool array_size_or_err(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    if (!cJSON_IsArray(v)) {
        lerr_body(l, ptr, "wrong_type", "must be an array");
        return false;
    }
    if (cJSON_GetArraySize(v) > max) {
        lerr_body(l, ptr, "too_many_items", arena_printf(l->arena, "must have at most %lld items", max));
        return false;
    }
    return true;
}

void lcheck_id_list(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    if (!array_size_or_err(l, ptr, v, max))
        return;
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        if (!is_id(it)) {
            lerr_body(l, item_ptr(l, ptr, i), "invalid_format", "must be a positive integer id");
            continue;
        }
        for (const cJSON *p = v->child; p != it; p = p->next)
            if (cJSON_IsNumber(p) && p->valuedouble == it->valuedouble) {
                lerr_body(l, item_ptr(l, ptr, i), "repeated", "is repeated");
                break;
            }
    }
}

void lcheck_position_list(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    if (!array_size_or_err(l, ptr, v, max))
        return;
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
            it->valuedouble < 1 || it->valuedouble > (double)max) {
            lerr_body(l, item_ptr(l, ptr, i), "out_of_range",
                      arena_printf(l->arena, "must be an integer between 1 and %lld", max));
            continue;
        }
        for (const cJSON *p = v->child; p != it; p = p->next)
            if (cJSON_IsNumber(p) && p->valuedouble == it->valuedouble) {
                lerr_body(l, item_ptr(l, ptr, i), "repeated", "is repeated");
                break;
            }
    }
}

/* Measures (具体措施): 1..2000 characters each, not blank. */
void lcheck_text_list(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    if (!array_size_or_err(l, ptr, v, max))
        return;
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it))
            lerr_body(l, item_ptr(l, ptr, i), "wrong_type", "must be a string");
        else if (!text_ok(it->valuestring, 1, 2000))
            lerr_body(l, item_ptr(l, ptr, i), text_code(it->valuestring, 1, 2000),
                      "must be 1 to 2000 characters of UTF-8 text");
        else if (!ledger_not_blank(it->valuestring))
            lerr_body(l, item_ptr(l, ptr, i), "blank", "must not be blank");
    }
}

/* [{"target": "…", "due": "YYYY-MM-DD"}] */
void lcheck_stage_targets(struct lerrs *l, const char *ptr, const cJSON *v, long long max)
{
    if (!array_size_or_err(l, ptr, v, max))
        return;
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        const char *ip = item_ptr(l, ptr, i);
        if (!cJSON_IsObject(it)) {
            lerr_body(l, ip, "wrong_type", "must be an object with target and due");
            continue;
        }
        const cJSON *t = NULL, *d = NULL;
        for (const cJSON *m = it->child; m; m = m->next) {
            if (strcmp(m->string, "target") == 0 && !t)
                t = m;
            else if (strcmp(m->string, "due") == 0 && !d)
                d = m;
            else {
                bool known = strcmp(m->string, "target") == 0 || strcmp(m->string, "due") == 0;
                lerr_body(l, arena_printf(l->arena, "%s/%s", ip, m->string),
                          known ? "repeated" : "unknown_field",
                          known ? "is repeated" : "is not a known field");
            }
        }
        if (!t)
            lerr_body(l, arena_printf(l->arena, "%s/target", ip), "required", "is required");
        else if (!cJSON_IsString(t) || !text_ok(t->valuestring, 1, 500) ||
                 !ledger_not_blank(t->valuestring))
            lerr_body(l, arena_printf(l->arena, "%s/target", ip),
                      cJSON_IsString(t) ? text_code(t->valuestring, 1, 500) : "wrong_type",
                      "must be 1 to 500 characters of text");
        if (!d)
            lerr_body(l, arena_printf(l->arena, "%s/due", ip), "required", "is required");
        else if (!cJSON_IsString(d) || !ledger_date_ok(d->valuestring))
            lerr_body(l, arena_printf(l->arena, "%s/due", ip), "invalid_date",
                      "must be a date YYYY-MM-DD");
    }
}

static void delete_json(void *p) { cJSON_Delete(p); }

bool ledger_body_or_reply(struct req *r, const struct vfield *f, size_t nf,
                          const struct lfield *x, size_t nx)
{
    struct lerrs l = {.arena = r->arena};
    if (!cJSON_IsObject(r->json)) {
        lerr_body(&l, "", "wrong_type", "must be a JSON object");
        goto out;
    }
    /* The scalar members go to validate_object through a view holding
     * references (the view owns nothing of r->json). */
    cJSON *view = cJSON_CreateObject();
    if (!view || arena_defer(r->arena, delete_json, view)) {
        reply_problem(r, 500, "internal_error", "Out of memory.");
        return false;
    }
    for (const cJSON *m = r->json->child; m; m = m->next) {
        int seen = 0;
        for (const cJSON *p = r->json->child; p != m; p = p->next)
            seen += strcmp(p->string, m->string) == 0;
        if (seen) {
            /* cJSON keeps the first, jsonb the last: refuse both. */
            lerr_body(&l, arena_printf(r->arena, "/%s", m->string), "repeated", "is repeated");
            continue;
        }
        const struct lfield *lf = NULL;
        for (size_t i = 0; i < nx && !lf; i++)
            if (strcmp(x[i].name, m->string) == 0)
                lf = &x[i];
        if (!lf) {
            if (!cJSON_AddItemReferenceToObject(view, m->string, (cJSON *)m)) {
                reply_problem(r, 500, "internal_error", "Out of memory.");
                return false;
            }
            continue;
        }
        const char *ptr = arena_printf(r->arena, "/%s", m->string);
        if (cJSON_IsNull(m)) {
            if (!lf->nullable)
                lerr_body(&l, ptr, "not_null", "must not be null");
        } else {
            lf->check(&l, ptr, m, lf->max);
        }
    }
    for (size_t i = 0; i < nx; i++)
        if (x[i].required && !cJSON_GetObjectItemCaseSensitive(r->json, x[i].name))
            lerr_body(&l, arena_printf(r->arena, "/%s", x[i].name), "required", "is required");
    if (l.n < VALIDATE_MAX_ERRORS)
        l.n += validate_object(r->arena, view, f, nf, l.e + l.n, VALIDATE_MAX_ERRORS - l.n);
out:
    if (l.n == 0)
        return true;
    reply_invalid_body(r, l.e, l.n);
    return false;
}

const char *ledger_json_string(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --- query parameters ---------------------------------------------------------------- */

const char *lq_id(struct req *r, struct lerrs *l, const char *name)
{
    const char *v = req_query(r, name);
    if (!v)
        return NULL;
    char *out = arena_alloc(r->arena, 24);
    if (out && id_parse(v, out))
        return out;
    lerr_param(l, name, "invalid_format", "must be a positive integer id");
    return NULL;
}

const char *lq_bool(struct req *r, struct lerrs *l, const char *name)
{
    const char *v = req_query(r, name);
    if (!v)
        return NULL;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        return v;
    lerr_param(l, name, "wrong_type", "must be true or false");
    return NULL;
}

const char *lq_date(struct req *r, struct lerrs *l, const char *name)
{
    const char *v = req_query(r, name);
    if (!v)
        return NULL;
    if (ledger_date_ok(v))
        return v;
    lerr_param(l, name, "invalid_date", "must be a date YYYY-MM-DD");
    return NULL;
}

static bool in_list(const char *const *list, const char *s, size_t n)
{
    for (; *list; list++)
        if (strlen(*list) == n && strncmp(*list, s, n) == 0)
            return true;
    return false;
}

static const char *one_of_message(struct arena *a, const char *const *allowed)
{
    struct buf b;
    buf_init(&b, 1024);
    int rc = buf_puts(&b, "must be one of: ");
    for (const char *const *p = allowed; *p; p++)
        rc |= buf_printf(&b, "%s%s", p == allowed ? "" : ", ", *p);
    char *msg = arena_strdup(a, !rc && b.data ? b.data : "has the wrong value");
    buf_free(&b);
    return msg;
}

const char *lq_enum(struct req *r, struct lerrs *l, const char *name, const char *const *allowed)
{
    const char *v = req_query(r, name);
    if (!v)
        return NULL;
    if (in_list(allowed, v, strlen(v)))
        return v;
    lerr_param(l, name, "not_in_vocabulary", one_of_message(r->arena, allowed));
    return NULL;
}

const char *lq_enum_list(struct req *r, struct lerrs *l, const char *name,
                         const char *const *allowed)
{
    const char *v = req_query(r, name);
    if (!v)
        return NULL;
    size_t len = strlen(v);
    char *out = arena_alloc(r->arena, len + 3);
    if (!out || !*v)
        goto bad;
    char *o = out;
    *o++ = '{';
    for (const char *p = v;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!in_list(allowed, p, n))
            goto bad;
        memcpy(o, p, n);
        o += n;
        if (!end)
            break;
        *o++ = ',';
        p = end + 1;
    }
    *o++ = '}';
    *o = '\0';
    return out;
bad:
    lerr_param(l, name, "not_in_vocabulary", arena_printf(r->arena, "%s (comma-separated)",
                                     one_of_message(r->arena, allowed)));
    return NULL;
}

const char *lq_like(struct req *r, struct lerrs *l, const char *name)
{
    const char *q = req_query(r, name);
    if (!q)
        return NULL;
    if (!text_ok(q, 1, 100)) {
        lerr_param(l, name, text_code(q, 1, 100), "must be 1 to 100 characters of UTF-8 text");
        return NULL;
    }
    char *out = arena_alloc(r->arena, strlen(q) * 2 + 3);
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

int lq_sort(struct req *r, struct lerrs *l, const char *const *names)
{
    const char *v = req_query(r, "sort");
    if (!v)
        return 0;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    lerr_param(l, "sort", "not_in_vocabulary", one_of_message(r->arena, names));
    return 0;
}

/* base64url without padding → bytes (NUL-terminated), or NULL. */
static char *b64url_decode(struct arena *a, const char *s, size_t *outlen)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t len = strlen(s);
    if (len < 2 || len > 512 || len % 4 == 1)
        return NULL;
    char *out = arena_alloc(a, len);
    if (!out)
        return NULL;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *c = memchr(alphabet, s[i], 64);
        if (!c || !s[i])
            return NULL;
        acc = ((acc << 6) | (unsigned)(c - alphabet)) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    out[n] = '\0';
    *outlen = n;
    return out;
}

static bool timestamp_key_ok(const char *s)
{
    /* 2024-03-01T01:30:00.000000Z, as the list statements write it */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    if (strlen(s) != sizeof shape - 1)
        return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    char date[11];
    memcpy(date, s, 10);
    date[10] = '\0';
    return ledger_date_ok(date) && atoi(s + 11) < 24 && atoi(s + 14) < 60 && atoi(s + 17) < 60;
}

void lq_page(struct req *r, struct lerrs *l, const char *sort, enum lkey kind, char limit[8],
             const char **key, const char **after)
{
    *key = *after = NULL;
    snprintf(limit, 8, "50");
    const char *lv = req_query(r, "limit");
    if (lv) {
        char *end = (char *)lv;
        long v = (*lv >= '0' && *lv <= '9' && strlen(lv) <= 3) ? strtol(lv, &end, 10) : -1;
        if (v < 1 || v > 500 || *end)
            lerr_param(l, "limit", "out_of_range", "must be an integer between 1 and 500");
        else
            snprintf(limit, 8, "%ld", v);
    }
    const char *c = req_query(r, "cursor");
    if (!c)
        return;
    size_t n;
    char *text = b64url_decode(r->arena, c, &n);
    cJSON *doc = NULL;
    if (text && strlen(text) == n)
        json_parse(text, n, &doc, NULL); /* NULL doc: an invalid cursor */
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "s");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(doc, "k");
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(doc, "i");
    bool ok = cJSON_IsString(s) && strcmp(s->valuestring, sort) == 0 && is_id(i) &&
              (kind == LKEY_ID || cJSON_IsString(k));
    if (ok && kind == LKEY_DATE)
        ok = strcmp(k->valuestring, "infinity") == 0 || ledger_date_ok(k->valuestring);
    else if (ok && kind == LKEY_TIMESTAMP)
        ok = timestamp_key_ok(k->valuestring);
    else if (ok && kind == LKEY_TEXT)
        ok = text_ok(k->valuestring, 0, 200);
    if (ok) {
        *key = kind == LKEY_ID ? NULL : arena_strdup(r->arena, k->valuestring);
        *after = arena_printf(r->arena, "%.0f", i->valuedouble);
    } else {
        lerr_param(l, "cursor", "invalid_format", "is not a cursor of this list and sort");
    }
    cJSON_Delete(doc);
}

bool lq_ok_or_reply(struct req *r, struct lerrs *l)
{
    if (l->n == 0)
        return true;
    reply_problem_errors(r, 400, "invalid_parameter",
                         l->n == 1 ? arena_printf(r->arena, "Query parameter %s is invalid.",
                                                  l->e[0].parameter)
                                   : "Some query parameters are invalid.",
                         l->e, l->n);
    return false;
}

/* --- concurrency ------------------------------------------------------------------- */

void ledger_reply_problem_ext(struct req *r, int status, const char *code, const char *detail,
                              const char *extra)
{
    struct buf b;
    buf_init(&b, 64 * 1024);
    size_t elen = extra ? strlen(extra) : 0;
    if (problem_render(&b, status, code, detail, r->path, r->request_id, NULL, 0) ||
        b.len < 2) {
        buf_free(&b);
        reply_problem(r, status, code, "%s", detail);
        return;
    }
    /* extra is "{…}": replace our closing brace by ",…}". */
    if (elen > 2 && extra[0] == '{' && extra[elen - 1] == '}') {
        b.len--;
        if (buf_puts(&b, ",") || buf_append(&b, extra + 1, elen - 1)) {
            buf_free(&b);
            reply_problem(r, status, code, "%s", detail);
            return;
        }
    }
    reply(r, status, "application/problem+json", b.data, b.len);
    buf_free(&b);
}

void ledger_reply_row(struct req *r, int status, PGresult *res, int col, int etag_col)
{
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, col)) {
        reply_problem(r, 404, "not_found", "No resource at %s.", r->path);
        return;
    }
    if (etag_col >= 0)
        reply_etag(r, PQgetvalue(res, 0, etag_col));
    reply_json(r, status, PQgetvalue(res, 0, col), (size_t)PQgetlength(res, 0, col));
}

bool campaign_exists_or_reply(struct req *r, const char *id, const char *param)
{
    const char *p[] = {id};
    struct db_query q = {"SELECT 1 FROM campaigns WHERE id = $1::bigint", 1, p};
    PGresult *res;
    if (!db_run_or_reply(r, &q, 1, &res)) {
        r->close_connection = true;
        return false;
    }
    if (PQntuples(res) != 1) {
        r->close_connection = true;
        struct field_error e = {.parameter = param, .message = "no such campaign"};
        reply_problem_errors(r, 422, "unknown_campaign", "No campaign has this id.", &e, 1);
        return false;
    }
    return true;
}
