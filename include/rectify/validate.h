/* Request-body validation against a small field table: types, required and
 * nullable fields, lengths (in characters, UTF-8 checked), ranges, enums and
 * patterns; unknown members are errors. Every problem is collected as a
 * field_error with a JSON pointer, so the client gets all of them at once. */
#ifndef RECTIFY_VALIDATE_H
#define RECTIFY_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;
struct req;
struct arena;
struct field_error;

enum vtype { V_STRING, V_INT, V_BOOL, V_STRING_ARRAY };

struct vfield {
    const char *name;
    enum vtype type;
    bool required;
    bool nullable;
    long long min, max;          /* string: characters; int: value; array: items */
    const char *const *one_of;   /* NULL-terminated allowed strings (or items) */
    bool (*check)(const char *s); /* extra rule for strings (or items) */
    const char *check_message;
};

#define VALIDATE_MAX_ERRORS 32

/* Validates obj (must be a JSON object). Errors go to errs (pointers and
 * messages allocated in arena). Returns the number of errors (0 = valid). */
size_t validate_object(struct arena *arena, const struct cJSON *obj,
                       const struct vfield *fields, size_t nfields,
                       struct field_error *errs, size_t maxerrs);

/* The same, answering 422 validation_failed when invalid. */
bool validate_or_reply(struct req *r, const struct cJSON *obj, const struct vfield *fields,
                       size_t nfields);
/* 422 validation_failed with the body's field errors (n >= 1): the one
 * answer to an invalid body. */
void reply_invalid_body(struct req *r, const struct field_error *errs, size_t n);


#endif
