/* Per-request memory: allocations live until arena_free, which also runs the
 * cleanup hooks (PQclear, cJSON_Delete, ...) in reverse order of registration.
 * Not thread-safe: one arena belongs to one request. */
#ifndef RECTIFY_ARENA_H
#define RECTIFY_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* Returns a new arena or NULL when out of memory; release with arena_free. */
struct arena *arena_new(void);
/* Runs the cleanup hooks, then frees every block and the arena itself. */
void arena_free(struct arena *a);

/* Memory owned by the arena (8-byte aligned, zeroed); NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True once an allocation from a has failed: helpers that answer NULL for
 * "absent" (req_query, ...) cannot tell the caller, so the response writer
 * turns a 4xx of such a request into 503 (src/http/response.c). */
bool arena_failed(const struct arena *a);

/* Registers fn(ptr) to run at arena_free; a NULL ptr is ignored. Returns 0,
 * or -1 when out of memory: then fn(ptr) has ALREADY RUN (nothing leaks) and
 * ptr is dead, so the caller must not touch it again and answers 503. The
 * result must be checked (warn_unused_result, an error with -Werror). */
__attribute__((warn_unused_result))
int arena_defer(struct arena *a, void (*fn)(void *), void *ptr);

#endif
