/* Runs the fuzz inputs on a stack of an HTTP worker's size.
 *
 * The service handles every request on a CivetWeb worker thread whose stack
 * is RECTIFY_WORKER_STACK bytes (default 1m, src/core/config.c; CivetWeb on
 * its own gives 100 KiB). libFuzzer's own main() calls the target on the
 * main thread (8 MiB), where a recursion that would overflow a worker goes
 * unnoticed. So this header defines main(): it starts one thread created
 * with pthread_attr_setstacksize(RECTIFY_WORKER_STACK), as the workers are,
 * and runs libFuzzer's driver (LLVMFuzzerRunDriver: every input, every mode)
 * on it. A too-deep recursion overflows that stack and ASan reports the
 * stack-overflow as a crash. (Handing each input to such a thread instead
 * cost two thirds of the executions per second.)
 *
 *   RECTIFY_WORKER_STACK=100k ./fuzz_json corpus/   # CivetWeb's own size
 *   WORKER_STACK_VERBOSE=1 ...                      # print the size used
 *
 * Use: put the work in `static void one(const uint8_t *data, size_t size)`
 * and `return worker_stack_run(one, data, size);` in LLVMFuzzerTestOneInput;
 * worker_stack_run aborts when the input is not on the worker thread (say,
 * libFuzzer's main() was linked instead of this one). Include it from the
 * target's .c only (it defines main and static functions); with
 * -DFUZZ_STANDALONE it defines no main and runs inputs where they come. */
#ifndef RECTIFY_FUZZ_WORKER_STACK_H
#define RECTIFY_FUZZ_WORKER_STACK_H

#include "rectify/config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define WORKER_STACK_DEFAULT "1m" /* RECTIFY_WORKER_STACK's default (config.c) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* libFuzzer's driver, what its own main() calls (LLVM >= 12). */
int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*cb)(const uint8_t *data, size_t size));

#ifndef FUZZ_STANDALONE
static _Thread_local bool worker_stack_here; /* set on the worker thread only */
#endif

typedef void (*worker_stack_fn)(const uint8_t *data, size_t size);

static int worker_stack_run(worker_stack_fn fn, const uint8_t *data, size_t size)
{
#ifndef FUZZ_STANDALONE /* a target's own main() replays files without libFuzzer */
    if (!worker_stack_here) {
        fprintf(stderr, "worker_stack: the input is not on the worker thread\n");
        abort();
    }
#endif
    fn(data, size);
    return 0;
}

#ifndef FUZZ_STANDALONE
/* The worker stack size: RECTIFY_WORKER_STACK as the service reads it (but
 * down to 16 KiB, so a smaller stack than the service allows can be tried). */
static size_t worker_stack_size(void)
{
    const char *s = getenv("RECTIFY_WORKER_STACK");
    long long v;
    if (config_parse_int(s && *s ? s : WORKER_STACK_DEFAULT, 16LL << 10, 64LL << 20, true,
                         &v) != 0) {
        fprintf(stderr, "worker_stack: RECTIFY_WORKER_STACK=%s is not a size\n", s);
        exit(2);
    }
    return (size_t)v;
}

struct worker_stack_args {
    int argc;
    char **argv;
    int rc;
};

static void *worker_stack_thread(void *p)
{
    struct worker_stack_args *a = p;
    worker_stack_here = true;
    a->rc = LLVMFuzzerRunDriver(&a->argc, &a->argv, LLVMFuzzerTestOneInput);
    return NULL;
}

int main(int argc, char **argv)
{
    struct worker_stack_args a = {argc, argv, 1};
    size_t size = worker_stack_size();
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, size) != 0 ||
        pthread_create(&t, &attr, worker_stack_thread, &a) != 0) {
        fprintf(stderr, "worker_stack: cannot start a thread with a %zu-byte stack\n", size);
        return 2;
    }
    pthread_attr_destroy(&attr);
    if (getenv("WORKER_STACK_VERBOSE"))
        fprintf(stderr, "worker_stack: inputs run on a %zu-byte stack\n", size);
    pthread_join(t, NULL);
    return a.rc;
}
#endif

#endif
