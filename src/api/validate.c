#include "rectify/validate.h"

#include "rectify/arena.h"
#include "rectify/http.h"
#include "rectify/utf8.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

struct collector {
    struct arena *arena;
    struct field_error *errs;
    size_t n, max;
};

/* One finding: its machine code (the spec's FieldError.code) and message. */
struct finding {
    const char *code, *message;
};

static void add(struct collector *c, const char *name, long index, struct finding f)
{
    if (c->n >= c->max)
        return;
    /* JSON pointer escaping: ~ -> ~0, / -> ~1 (names are ours or the client's). */
    char esc[256];
    size_t o = 0;
    for (const char *p = name; *p && o + 3 < sizeof esc; p++) {
        if (*p == '~' || *p == '/') {
            esc[o++] = '~';
            esc[o++] = *p == '~' ? '0' : '1';
        } else {
            esc[o++] = *p;
        }
    }
    esc[o] = '\0';
    c->errs[c->n].pointer = index >= 0 ? arena_printf(c->arena, "/%s/%ld", esc, index)
                                       : arena_printf(c->arena, "/%s", esc);
    c->errs[c->n].message = f.message;
    c->errs[c->n].code = f.code;
    c->errs[c->n].parameter = NULL;
    c->n++;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

#define FINDING(code, message) ((struct finding){code, message})
static const struct finding fine = {NULL, NULL};

/* The code of a failed extra rule. The field tables name a rule by its
 * function and message only; the two rules shared by most tables are known
 * by their message (ledger_date_ok, ledger_not_blank and orgs' not_blank). */
static const char *check_code(const struct vfield *f)
{
    const char *m = f->check_message ? f->check_message : "";
    if (strcmp(m, "must not be blank") == 0)
        return "blank";
    if (strncmp(m, "must be a date", 14) == 0)
        return "invalid_date";
    return "invalid_format";
}

/* Checks one string value; .message is NULL when it is fine. */
static struct finding check_string(struct arena *a, const struct vfield *f, const cJSON *v)
{
    if (!cJSON_IsString(v))
        return FINDING("wrong_type", "must be a string");
    size_t chars;
    if (!utf8_valid(v->valuestring, strlen(v->valuestring), &chars))
        return FINDING("invalid_utf8", "must be valid UTF-8 text");
    if ((long long)chars < f->min || (f->max && (long long)chars > f->max))
        return FINDING((long long)chars < f->min ? "too_short" : "too_long",
                       f->max ? arena_printf(a, "must be %lld to %lld characters long", f->min,
                                             f->max)
                              : arena_printf(a, "must be at least %lld characters long", f->min));
    if (f->one_of && !in_list(f->one_of, v->valuestring)) {
        char list[512] = "";
        for (const char *const *p = f->one_of; *p; p++) {
            if (list[0])
                strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, *p, sizeof list - strlen(list) - 1);
        }
        return FINDING("not_in_vocabulary", arena_printf(a, "must be one of: %s", list));
    }
    if (f->check && !f->check(v->valuestring))
        return FINDING(check_code(f), f->check_message ? f->check_message : "has the wrong form");
    return fine;
}

size_t validate_object(struct arena *arena, const cJSON *obj, const struct vfield *fields,
                       size_t nfields, struct field_error *errs, size_t maxerrs)
{
    struct collector c = {arena, errs, 0, maxerrs};
    if (!cJSON_IsObject(obj)) {
        errs[0] = (struct field_error){.pointer = "", .message = "must be a JSON object",
                                       .code = "wrong_type"};
        return 1;
    }
    for (const cJSON *m = obj->child; m; m = m->next) {
        bool known = false;
        for (size_t i = 0; i < nfields && !known; i++)
            known = strcmp(fields[i].name, m->string) == 0;
        if (!known) {
            add(&c, m->string, -1, FINDING("unknown_field", "is not a known field"));
            continue;
        }
        /* cJSON reads the first of a repeated member, jsonb keeps the last:
         * refuse repeats so that what is validated is what is stored. */
        for (const cJSON *prev = obj->child; prev != m; prev = prev->next)
            if (strcmp(prev->string, m->string) == 0) {
                add(&c, m->string, -1, FINDING("repeated", "is repeated"));
                break;
            }
    }
    for (size_t i = 0; i < nfields; i++) {
        const struct vfield *f = &fields[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
        if (!v) {
            if (f->required)
                add(&c, f->name, -1, FINDING("required", "is required"));
            continue;
        }
        if (cJSON_IsNull(v)) {
            if (!f->nullable)
                add(&c, f->name, -1, FINDING("not_null", "must not be null"));
            continue;
        }
        struct finding bad = fine;
        switch (f->type) {
        case V_STRING:
            bad = check_string(arena, f, v);
            break;
        case V_INT:
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
                fabs(v->valuedouble) > 9007199254740991.0)
                bad = FINDING("wrong_type", "must be an integer");
            else if (v->valuedouble < (double)f->min || v->valuedouble > (double)f->max)
                bad = FINDING("out_of_range", arena_printf(arena, "must be between %lld and %lld",
                                                           f->min, f->max));
            break;
        case V_BOOL:
            if (!cJSON_IsBool(v))
                bad = FINDING("wrong_type", "must be true or false");
            break;
        case V_STRING_ARRAY: {
            if (!cJSON_IsArray(v)) {
                bad = FINDING("wrong_type", "must be an array");
                break;
            }
            int count = cJSON_GetArraySize(v);
            if (count < f->min || (f->max && count > f->max)) {
                bad = FINDING(count < f->min ? "too_few_items" : "too_many_items",
                              arena_printf(arena, "must have %lld to %lld items", f->min, f->max));
                break;
            }
            struct vfield item = *f;
            item.min = 1;
            item.max = 200;
            long idx = 0;
            for (const cJSON *it = v->child; it; it = it->next, idx++) {
                struct finding ib = check_string(arena, &item, it);
                for (const cJSON *prev = v->child; !ib.message && prev != it; prev = prev->next)
                    if (cJSON_IsString(prev) && strcmp(prev->valuestring, it->valuestring) == 0)
                        ib = FINDING("repeated", "is repeated");
                if (ib.message)
                    add(&c, f->name, idx, ib);
            }
            break;
        }
        }
        if (bad.message)
            add(&c, f->name, -1, bad);
    }
    return c.n;
}

bool validate_or_reply(struct req *r, const cJSON *obj, const struct vfield *fields,
                       size_t nfields)
{
    struct field_error errs[VALIDATE_MAX_ERRORS];
    size_t n = validate_object(r->arena, obj, fields, nfields, errs, VALIDATE_MAX_ERRORS);
    if (n == 0)
        return true;
    reply_invalid_body(r, errs, n);
    return false;
}

void reply_invalid_body(struct req *r, const struct field_error *errs, size_t n)
{
    reply_problem_errors(r, 422, "validation_failed",
                         n == 1 ? "The request body has 1 invalid field."
                                : arena_printf(r->arena, "The request body has %zu invalid fields.", n),
                         errs, n);
}
