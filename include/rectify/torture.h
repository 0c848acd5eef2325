/* Torture mode, in the spirit of curl's: a test build (cmake -DRECTIFY_TORTURE=ON)
 * in which a request that carries "X-Rectify-Torture: N" sees its Nth heap
 * allocation fail. tests/torture/torture.py runs a request suite for every
 * N = 1, 2, ... until no allocation fails any more.
 *
 * What counts: malloc, calloc, realloc, strdup and strndup called by our code
 * (the link wraps them: -Wl,--wrap=...), which includes every allocation of
 * cJSON (its hooks call our malloc, src/core/json.c), on the thread that handles the request, from torture_begin to
 * torture_end. libpq, libsodium, libjwt and CivetWeb allocate with the
 * C library directly and are not counted. Only the Nth allocation fails
 * (later ones succeed again): what is tested is that every failure path is
 * clean, not how the service behaves when memory stays exhausted.
 *
 * In other builds both functions are empty and the header is ignored. */
#ifndef RECTIFY_TORTURE_H
#define RECTIFY_TORTURE_H

#ifdef RECTIFY_TORTURE
/* Arms the calling thread: header is the X-Rectify-Torture value (a positive
 * number) or NULL (disarmed). Resets the count. */
void torture_begin(const char *header);
/* Disarms the calling thread; when it was armed, logs (at info, with the
 * request id) how many allocations the request made and whether one failed:
 * "torture: n=N allocations=A injected=0|1". */
void torture_end(const char *request_id);
#else
static inline void torture_begin(const char *header) { (void)header; }
static inline void torture_end(const char *request_id) { (void)request_id; }
#endif

#endif
