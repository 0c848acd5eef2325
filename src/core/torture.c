/* Torture mode: include/rectify/torture.h. Compiled to nothing unless the
 * build defines RECTIFY_TORTURE (cmake -DRECTIFY_TORTURE=ON), which also
 * links with -Wl,--wrap=malloc,... so that our calls land here. */
#include "rectify/torture.h"

#ifdef RECTIFY_TORTURE

#include "rectify/log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The C library's functions, as the linker's --wrap names them. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static _Thread_local long fail_at; /* 0: disarmed */
static _Thread_local long count;
static _Thread_local bool injected;

static bool fail_now(void)
{
    if (!fail_at)
        return false;
    if (++count != fail_at)
        return false;
    injected = true;
    return true;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }

void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }

/* A failed realloc leaves the old block alone, as the C library's does. */
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }

char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }

char *__wrap_strndup(const char *s, size_t n) { return fail_now() ? NULL : __real_strndup(s, n); }

void torture_begin(const char *header)
{
    count = 0;
    injected = false;
    fail_at = 0;
    if (!header)
        return;
    char *end;
    long n = strtol(header, &end, 10);
    if (end != header && *end == '\0' && n > 0)
        fail_at = n;
}

void torture_end(const char *request_id)
{
    long n = fail_at;
    fail_at = 0;
    if (n)
        log_msg(LOG_INFO, request_id, "torture: n=%ld allocations=%ld injected=%d", n, count,
                injected ? 1 : 0);
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int torture_unused;
#endif
