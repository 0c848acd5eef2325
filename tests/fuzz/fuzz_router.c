/* libFuzzer: the router and URL decoding with arbitrary paths and methods,
 * on a worker-sized stack (worker_stack.h). */
#include "rectify/arena.h"
#include "rectify/router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker_stack.h"

static void h(struct req *r) { (void)r; }

static const struct route table[] = {
    {"GET", "/healthz", h, 0, 0},
    {"GET", "/api/v1/orgs/{id}", h, 0, 0},
    {"PATCH", "/api/v1/orgs/{id}", h, 0, 0},
    {"GET", "/api/v1/tasks/{task_id}/reports/{report_id}", h, 0, 0},
    {"POST", "/api/v1/tasks/import", h, 0, 0},
};

static void one(const uint8_t *data, size_t size)
{
    static struct router *rt;
    if (!rt) {
        const struct route *tables[] = {table};
        size_t counts[] = {sizeof table / sizeof table[0]};
        char err[64];
        rt = router_new(tables, counts, 1, err, sizeof err);
    }
    char *path = malloc(size + 1);
    if (!path)
        return;
    memcpy(path, data, size);
    path[size] = '\0';
    struct arena *a = arena_new();
    struct route_match m;
    router_match(rt, size % 2 ? "GET" : "PATCH", path, a, &m);
    char *out = malloc(size + 1);
    if (out)
        url_decode(path, strlen(path), out, true);
    free(out);
    arena_free(a);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}
