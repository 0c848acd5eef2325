/* Request bodies: the bounded reader, content types, request ids, arena. */
#include "rectify/arena.h"
#include "rectify/buf.h"
#include "rectify/http.h"
#include "unit.h"

#include <stdlib.h>

struct source {
    const char *data;
    size_t len, pos, step;
    int fail_at; /* call number that returns -1, or -1 */
    int calls;
};

static long src_read(void *ctx, char *buf, size_t len)
{
    struct source *s = ctx;
    if (s->calls++ == s->fail_at)
        return -1;
    size_t n = s->len - s->pos;
    if (n > s->step)
        n = s->step;
    if (n > len)
        n = len;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (long)n;
}

static enum body_result read_all(const char *data, size_t step, long long clen, long long max,
                                 int fail_at, struct buf *out)
{
    struct source s = {data, strlen(data), 0, step, fail_at, 0};
    buf_reset(out);
    return body_read_all(src_read, &s, clen, max, out);
}

int main(void)
{
    struct buf b;
    buf_init(&b, 0);
    const char *body = "{\"a\":\"0123456789\"}";
    long long len = (long long)strlen(body);

    /* Partial reads are joined (one byte at a time). */
    CHECK_INT(read_all(body, 1, len, 100, -1, &b), BODY_OK);
    CHECK_STR(b.data, body);
    /* Unknown length (chunked). */
    CHECK_INT(read_all(body, 7, -1, 100, -1, &b), BODY_OK);
    CHECK_INT(b.len, len);
    /* Exactly at the limit is fine; one over is not, with or without a length. */
    CHECK_INT(read_all(body, 5, len, len, -1, &b), BODY_OK);
    CHECK_INT(read_all(body, 5, len, len - 1, -1, &b), BODY_TOO_LARGE);
    CHECK_INT(read_all(body, 5, -1, len - 1, -1, &b), BODY_TOO_LARGE);
    CHECK(b.len <= (size_t)len - 1);
    /* A declared length over the limit is refused before reading anything. */
    struct source s = {body, (size_t)len, 0, 4, -1, 0};
    buf_reset(&b);
    CHECK_INT(body_read_all(src_read, &s, 1LL << 40, 100, &b), BODY_TOO_LARGE);
    CHECK_INT(s.calls, 0);
    /* A client that lies about the length, or a read error. */
    CHECK_INT(read_all(body, 5, len + 10, 100, -1, &b), BODY_IO_ERROR);
    CHECK_INT(read_all(body, 5, len, 100, 2, &b), BODY_IO_ERROR);
    /* An empty body is a valid empty string. */
    CHECK_INT(read_all("", 5, 0, 100, -1, &b), BODY_OK);
    CHECK(b.data != NULL && b.len == 0);
    buf_free(&b);

    CHECK(content_type_is_json("application/json"));
    CHECK(content_type_is_json("Application/JSON"));
    CHECK(content_type_is_json("application/json; charset=utf-8"));
    CHECK(content_type_is_json("application/json;charset=\"UTF-8\""));
    CHECK(content_type_is_json("application/merge-patch+json"));
    CHECK(content_type_is_json("application/problem+json"));
    CHECK(!content_type_is_json("application/json; charset=latin1"));
    CHECK(!content_type_is_json("application/jsonx"));
    CHECK(!content_type_is_json("text/json"));
    CHECK(!content_type_is_json("application/+json"));
    CHECK(!content_type_is_json("text/plain"));
    CHECK(!content_type_is_json(""));
    CHECK(!content_type_is_json(NULL));

    CHECK(request_id_is_sane("abc-123_x.y:z"));
    CHECK(request_id_is_sane("a"));
    CHECK(!request_id_is_sane(""));
    CHECK(!request_id_is_sane(NULL));
    CHECK(!request_id_is_sane("has space"));
    CHECK(!request_id_is_sane("new\nline"));
    char long_id[70];
    memset(long_id, 'a', 65);
    long_id[65] = 0;
    CHECK(!request_id_is_sane(long_id));
    long_id[64] = 0;
    CHECK(request_id_is_sane(long_id));

    /* Arena: small and large allocations, cleanups in reverse order. */
    struct arena *a = arena_new();
    char *p = arena_strdup(a, "hello");
    CHECK_STR(p, "hello");
    char *big = arena_alloc(a, 100000);
    CHECK(big != NULL);
    big[99999] = 1;
    CHECK_STR(arena_printf(a, "%s-%d", "x", 7), "x-7");
    CHECK_STR(p, "hello"); /* untouched by the large block */
    buf_init(&b, 0);
    CHECK_INT(buf_puts(&b, "owned"), 0);
    CHECK_INT(arena_defer(a, free, buf_detach(&b)), 0);
    CHECK_INT(arena_defer(a, free, NULL), 0);
    arena_free(a);
    return UNIT_DONE();
}
