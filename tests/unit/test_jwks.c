/* Unit tests for src/auth/jwks.c: JWKS parsing (RSA and EC P-256 → PEM,
 * then verifying tokens signed by the matching private keys), jwks_fetch's
 * URL rules, size cap, timeout and status handling against a tiny HTTP
 * server on 127.0.0.1, and the refresher's rate limits. */
#define _POSIX_C_SOURCE 200809L

#include "rectify/jwks.h"
#include "rectify/jwt.h"
#include "unit.h"
#include "test_keys.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define EXT_ISS "https://idp.gansu.example/realms/gov"
#define EXT_AUD "rectify"
static const time_t NOW = 1750000000;

static EVP_PKEY *rsa_key, *ec_key;
static char *rsa_priv, *ec_priv;

/* ---- helpers ------------------------------------------------------------- */

static char *pem_private(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = strndup(data, (size_t)n);
    BIO_free(b);
    return s;
}

static char *bn_param_b64(EVP_PKEY *k, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(k, param, &bn);
    int len = pad ? pad : BN_num_bytes(bn);
    unsigned char *bin = malloc((size_t)len);
    BN_bn2binpad(bn, bin, len);
    char *s = malloc(jwt_b64url_encoded_len((size_t)len));
    jwt_b64url_encode(bin, (size_t)len, s);
    free(bin);
    BN_free(bn);
    return s;
}

/* JWK members of our test keys, base64url. */
static char *rsa_n, *rsa_e, *ec_x, *ec_y, *ec_y_bad, *small_n, *p384_x, *p384_y;

static void make_members(void)
{
    rsa_n = bn_param_b64(rsa_key, OSSL_PKEY_PARAM_RSA_N, 0);
    rsa_e = bn_param_b64(rsa_key, OSSL_PKEY_PARAM_RSA_E, 0);
    ec_x = bn_param_b64(ec_key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    ec_y = bn_param_b64(ec_key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    /* y with one bit changed: not on the curve */
    unsigned char yb[40];
    long n = jwt_b64url_decode(ec_y, strlen(ec_y), yb);
    CHECK_INT(n, 32);
    yb[31] ^= 1;
    ec_y_bad = malloc(jwt_b64url_encoded_len(32));
    jwt_b64url_encode(yb, 32, ec_y_bad);
    EVP_PKEY *small = test_key(RSA_1024), *p384 = EVP_EC_gen("P-384");
    small_n = bn_param_b64(small, OSSL_PKEY_PARAM_RSA_N, 0);
    p384_x = bn_param_b64(p384, OSSL_PKEY_PARAM_EC_PUB_X, 48);
    p384_y = bn_param_b64(p384, OSSL_PKEY_PARAM_EC_PUB_Y, 48);
    EVP_PKEY_free(small);
    EVP_PKEY_free(p384);
}

static void free_members(void)
{
    free(rsa_n);
    free(rsa_e);
    free(ec_x);
    free(ec_y);
    free(ec_y_bad);
    free(small_n);
    free(p384_x);
    free(p384_y);
}

/* Expand a JWK template: $N $E (RSA), $X $Y (EC), $B (bad y), $S (1024-bit
 * n), $PX $PY (P-384).  Returns malloc'd text. */
static char *jwk_expand(const char *t)
{
    size_t cap = strlen(t) + 4096, o = 0;
    char *out = malloc(cap);
    while (*t) {
        const char *v = NULL;
        size_t skip = 2;
        if (t[0] == '$') {
            switch (t[1]) {
            case 'N': v = rsa_n; break;
            case 'E': v = rsa_e; break;
            case 'X': v = ec_x; break;
            case 'Y': v = ec_y; break;
            case 'B': v = ec_y_bad; break;
            case 'S': v = small_n; break;
            case 'P':
                v = t[2] == 'X' ? p384_x : p384_y;
                skip = 3;
                break;
            }
        }
        if (v) {
            size_t n = strlen(v);
            if (o + n + 1 >= cap)
                out = realloc(out, cap = cap * 2 + n);
            memcpy(out + o, v, n);
            o += n;
            t += skip;
        } else {
            if (o + 2 >= cap)
                out = realloc(out, cap *= 2);
            out[o++] = *t++;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- parsing --------------------------------------------------------------- */

#define RSA_OK "{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"$N\",\"e\":\"$E\"}"
#define EC_OK "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e1\",\"x\":\"$X\",\"y\":\"$Y\"}"

struct parse_case {
    const char *name;
    const char *jwks;    /* template */
    int want_rc;
    const char *want;    /* "kid:alg kid:alg" of the kept keys, in order */
};

static const struct parse_case parse_cases[] = {
    {"rsa without alg", "{\"keys\":[" RSA_OK "]}", 0, "r1:RS256"},
    {"ec without alg", "{\"keys\":[" EC_OK "]}", 0, "e1:ES256"},
    {"both, with alg and use", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"$N\",\"e\":\"$E\"},"
     "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"kid\":\"e\",\"x\":\"$X\",\"y\":\"$Y\",\"key_ops\":[\"verify\"]}]}", 0, "r:RS256 e:ES256"},
    {"rsa RS384 skipped", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"alg\":\"RS384\",\"n\":\"$N\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"rsa PS256 skipped", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"alg\":\"PS256\",\"n\":\"$N\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"rsa 1024 skipped", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"$S\",\"e\":\"AQAB\"}," EC_OK "]}", 0, "e1:ES256"},
    {"rsa even exponent skipped", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"$N\",\"e\":\"AQAA\"}," EC_OK "]}", 0, "e1:ES256"},
    {"rsa exponent 1 skipped", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"$N\",\"e\":\"AQ\"}," EC_OK "]}", 0, "e1:ES256"},
    {"rsa n not base64url", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"$N==\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"rsa n missing", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"ec P-384 skipped", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"x\",\"x\":\"$PX\",\"y\":\"$PY\"}," RSA_OK "]}", 0, "r1:RS256"},
    {"ec ES384 alg skipped", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\",\"kid\":\"x\",\"x\":\"$X\",\"y\":\"$Y\"}," RSA_OK "]}", 0, "r1:RS256"},
    {"ec point not on curve", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"x\",\"x\":\"$X\",\"y\":\"$B\"}," RSA_OK "]}", 0, "r1:RS256"},
    {"ec short x", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"x\",\"x\":\"AAAA\",\"y\":\"$Y\"}," RSA_OK "]}", 0, "r1:RS256"},
    {"oct key skipped", "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"x\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\"}," RSA_OK "]}", 0, "r1:RS256"},
    {"OKP key skipped", "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"x\",\"x\":\"$X\"}," RSA_OK "]}", 0, "r1:RS256"},
    {"use enc skipped", "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"x\",\"n\":\"$N\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"key_ops without verify skipped", "{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":[\"encrypt\"],\"kid\":\"x\",\"n\":\"$N\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"missing kid skipped", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"$N\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"empty kid skipped", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"\",\"n\":\"$N\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"kid not a string skipped", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":7,\"n\":\"$N\",\"e\":\"$E\"}," EC_OK "]}", 0, "e1:ES256"},
    {"duplicate kid: first kept", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"d\",\"x\":\"$X\",\"y\":\"$Y\"},"
     "{\"kty\":\"RSA\",\"kid\":\"d\",\"n\":\"$N\",\"e\":\"$E\"}]}", 0, "d:ES256"},
    {"non-objects skipped", "{\"keys\":[1,\"x\",null,[]," EC_OK "]}", 0, "e1:ES256"},
    {"private member ignored", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e\",\"x\":\"$X\",\"y\":\"$Y\",\"d\":\"AAAA\"}]}", 0, "e:ES256"},
    {"no usable key", "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"x\",\"k\":\"AAAA\"}]}", JWKS_E_NO_KEYS, ""},
    {"empty keys", "{\"keys\":[]}", JWKS_E_NO_KEYS, ""},
    {"no keys member", "{\"kty\":\"RSA\"}", JWKS_E_JSON, ""},
    {"keys not an array", "{\"keys\":{}}", JWKS_E_JSON, ""},
    {"not JSON", "<html>", JWKS_E_JSON, ""},
    {"JSON array", "[]", JWKS_E_JSON, ""},
    {"empty", "", JWKS_E_JSON, ""},
};

static void describe_keys(const struct jwks_keys *k, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; k && i < k->count && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s:%s", i ? " " : "",
                              k->keys[i].kid, k->keys[i].alg);
}

static void test_parse(void)
{
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        char *json = jwk_expand(c->jwks);
        struct jwks_keys *keys = (struct jwks_keys *)1;
        char err[256] = "x";
        int rc = jwks_parse(json, strlen(json), &keys, err, sizeof err);
        char got[512];
        describe_keys(rc == 0 ? keys : NULL, got, sizeof got);
        if (rc != c->want_rc || strcmp(got, c->want) != 0)
            fprintf(stderr, "parse case \"%s\": rc %d \"%s\" (%s)\n", c->name, rc, got, err);
        CHECK_INT(rc, c->want_rc);
        CHECK_STR(got, c->want);
        if (rc == 0) {
            CHECK_STR(err, "");
            for (size_t k = 0; k < keys->count; k++)
                CHECK(strncmp(keys->keys[k].pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);
            jwks_keys_free(keys);
        } else {
            CHECK(keys == NULL);
            CHECK(err[0] != '\0');
        }
        free(json);
    }

    /* length-bounded: the bytes after len are not read */
    char *json = jwk_expand("{\"keys\":[" EC_OK "]}GARBAGE");
    struct jwks_keys *keys = NULL;
    CHECK_INT(jwks_parse(json, strlen(json) - 7, &keys, NULL, 0), 0);
    jwks_keys_free(keys);
    CHECK_INT(jwks_parse(json, strlen(json), &keys, NULL, 0), JWKS_E_JSON);
    free(json);

    /* the cap: 40 usable keys → 32 kept */
    size_t cap = 40 * 300 + 64, o = 0;
    char *many = malloc(cap);
    o += (size_t)snprintf(many, cap, "{\"keys\":[");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(many + o, cap - o,
                              "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k%d\",\"x\":\"$X\",\"y\":\"$Y\"}",
                              i ? "," : "", i);
    snprintf(many + o, cap - o, "]}");
    json = jwk_expand(many);
    CHECK_INT(jwks_parse(json, strlen(json), &keys, NULL, 0), 0);
    CHECK_INT(keys ? keys->count : 0, JWKS_MAX_KEYS);
    CHECK_STR(keys ? keys->keys[31].kid : "", "k31");
    jwks_keys_free(keys);
    free(json);
    free(many);

    /* arguments */
    CHECK_INT(jwks_parse("{}", 2, NULL, NULL, 0), JWKS_E_ARG);
    CHECK_INT(jwks_parse(NULL, 0, &keys, NULL, 0), JWKS_E_ARG);
    CHECK_INT(jwks_parse("{}", 2u * 1024u * 1024u, &keys, NULL, 0), JWKS_E_JSON);
    jwks_keys_free(NULL);
}

/* Tokens signed with the private keys verify with the parsed public keys. */
static void test_parse_then_verify(void)
{
    char *json = jwk_expand("{\"keys\":[" RSA_OK "," EC_OK "]}");
    struct jwks_keys *keys = NULL;
    CHECK_INT(jwks_parse(json, strlen(json), &keys, NULL, 0), 0);
    free(json);
    struct jwt_keyset *verifier = jwt_keyset_new();
    CHECK_INT(jwt_keyset_replace_external(verifier, keys, EXT_ISS, EXT_AUD), 0);
    jwks_keys_free(keys);

    struct { const char *kid, *alg, *priv; } signers[] = {
        {"r1", "RS256", rsa_priv}, {"e1", "ES256", ec_priv}};
    for (size_t i = 0; i < 2; i++) {
        struct jwt_keyset *idp = jwt_keyset_new();
        CHECK_INT(jwt_keyset_add_pem(idp, signers[i].kid, signers[i].alg, NULL,
                                     signers[i].priv, EXT_ISS, EXT_AUD), 0);
        struct jwt_claims_in in = {.sub = "idp-user", .iat = NOW, .ttl = 300, .epoch = -1};
        char *tok = NULL;
        struct jwt_claims c;
        CHECK_INT(jwt_sign_access(idp, &in, &tok), 0);
        CHECK_INT(jwt_verify(verifier, tok, NOW, &c), 0);
        CHECK(c.external);
        CHECK_STR(c.sub, "idp-user");
        /* wrong audience configured → rejected */
        struct jwt_keyset *other = jwt_keyset_new();
        char *again = jwk_expand("{\"keys\":[" RSA_OK "," EC_OK "]}");
        struct jwks_keys *k2 = NULL;
        CHECK_INT(jwks_parse(again, strlen(again), &k2, NULL, 0), 0);
        CHECK_INT(jwt_keyset_replace_external(other, k2, EXT_ISS, "someone-else"), 0);
        CHECK_INT(jwt_verify(other, tok, NOW, &c), JWT_E_AUDIENCE);
        jwks_keys_free(k2);
        free(again);
        jwt_keyset_free(other);
        free(tok);
        jwt_keyset_free(idp);
    }
    jwt_keyset_free(verifier);
}

/* ---- a tiny HTTP server on 127.0.0.1 ----------------------------------------- */

struct reply {
    const char *head;  /* status line + headers, without the blank line */
    const char *body;
    size_t body_len;
    int delay_ms;      /* before answering */
};

struct server {
    int fd, port, n, served;
    struct reply replies[8];
    pthread_t th;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* client gave up: expected in the size-cap tests */
        p += w;
        n -= (size_t)w;
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    for (int i = 0; i < s->n; i++) {
        struct pollfd pfd = {s->fd, POLLIN, 0};
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            break;
        char req[4096];
        size_t got = 0;
        while (got < sizeof req - 1) {
            struct pollfd cp = {c, POLLIN, 0};
            if (poll(&cp, 1, 3000) <= 0)
                break;
            ssize_t r = recv(c, req + got, sizeof req - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        const struct reply *rp = &s->replies[i];
        if (rp->delay_ms)
            sleep_ms(rp->delay_ms);
        send_all(c, rp->head, strlen(rp->head));
        send_all(c, "\r\n\r\n", 4);
        if (rp->body)
            send_all(c, rp->body, rp->body_len);
        shutdown(c, SHUT_WR);
        sleep_ms(20);
        close(c);
        s->served++;
    }
    return NULL;
}

static void server_start(struct server *s)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(s->fd, (struct sockaddr *)&a, sizeof a);
    listen(s->fd, 8);
    getsockname(s->fd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    s->served = 0;
    pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(struct server *s)
{
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* ---- fetching ------------------------------------------------------------------ */

static void test_fetch_url_rules(void)
{
    static const char *const refused[] = {
        "http://example.com/jwks",
        "http://10.0.0.1/jwks",
        "HTTP://example.com/jwks",
        "ftp://127.0.0.1/jwks",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "http://localhost.example.com/",
        "http://127.0.0.1.example.com/",
        "http://user@example.com/",
        "http://localhost:80@example.com/",
        "not a url",
        "",
        "//127.0.0.1/jwks",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char *body = (char *)1;
        size_t len = 7;
        char err[256];
        int rc = jwks_fetch(refused[i], 1000, 1024, &body, &len, err, sizeof err);
        if (rc != JWKS_E_URL)
            fprintf(stderr, "url %s: %d %s\n", refused[i], rc, err);
        CHECK_INT(rc, JWKS_E_URL);
        CHECK(body == NULL);
        CHECK_INT(len, 0);
        CHECK(strstr(err, "https://") != NULL);
    }
    char *body;
    size_t len;
    CHECK_INT(jwks_fetch(NULL, 1000, 1024, &body, &len, NULL, 0), JWKS_E_ARG);
    CHECK_INT(jwks_fetch("https://x/", 0, 1024, &body, &len, NULL, 0), JWKS_E_ARG);
    CHECK_INT(jwks_fetch("https://x/", 1000, 0, &body, &len, NULL, 0), JWKS_E_ARG);
    CHECK_INT(jwks_fetch("https://x/", 1000, 1024, NULL, &len, NULL, 0), JWKS_E_ARG);
    /* https to a closed local port: allowed URL, connection refused */
    char err[256];
    CHECK_INT(jwks_fetch("https://127.0.0.1:1/jwks", 2000, 1024, &body, &len, err,
                         sizeof err), JWKS_E_NETWORK);
    CHECK(err[0] != '\0');
}

static char *big_body(size_t n)
{
    char *b = malloc(n);
    memset(b, ' ', n);
    return b;
}

static void test_fetch_server(void)
{
    static const char doc[] = "{\"keys\":[]}";
    char head_ok[128], head_big[128];
    snprintf(head_ok, sizeof head_ok,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close",
             strlen(doc));
    size_t big_n = 300 * 1024;
    char *big = big_body(big_n);
    snprintf(head_big, sizeof head_big,
             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close", big_n);

    struct server s = {.n = 8};
    s.replies[0] = (struct reply){head_ok, doc, strlen(doc), 0};
    s.replies[1] = (struct reply){head_big, big, big_n, 0};                 /* announced too big */
    s.replies[2] = (struct reply){"HTTP/1.1 200 OK\r\nConnection: close", big, big_n, 0}; /* streamed too big */
    s.replies[3] = (struct reply){"HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1:1/x\r\nContent-Length: 0\r\nConnection: close", NULL, 0, 0};
    s.replies[4] = (struct reply){"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close", NULL, 0, 0};
    s.replies[5] = (struct reply){head_ok, doc, strlen(doc), 1500};        /* too slow */
    s.replies[6] = (struct reply){head_ok, doc, strlen(doc), 0};           /* via "localhost" */
    s.replies[7] = (struct reply){"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close", NULL, 0, 0};
    server_start(&s);

    char url[128], url_localhost[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/jwks", s.port);
    snprintf(url_localhost, sizeof url_localhost, "http://localhost:%d/jwks", s.port);
    char *body = NULL;
    size_t len = 0;
    char err[256];

    CHECK_INT(jwks_fetch(url, 3000, 1024, &body, &len, err, sizeof err), 0);
    CHECK_INT(len, strlen(doc));
    CHECK_STR(body, doc);
    free(body);

    CHECK_INT(jwks_fetch(url, 3000, 256 * 1024, &body, &len, err, sizeof err), JWKS_E_TOO_LARGE);
    CHECK(body == NULL);
    CHECK_INT(jwks_fetch(url, 3000, 256 * 1024, &body, &len, err, sizeof err), JWKS_E_TOO_LARGE);
    CHECK(body == NULL);
    CHECK_INT(jwks_fetch(url, 3000, 1024, &body, &len, err, sizeof err), JWKS_E_HTTP_STATUS);
    CHECK(strstr(err, "302") != NULL);
    CHECK_INT(jwks_fetch(url, 3000, 1024, &body, &len, err, sizeof err), JWKS_E_HTTP_STATUS);
    CHECK(strstr(err, "500") != NULL);
    CHECK_INT(jwks_fetch(url, 300, 1024, &body, &len, err, sizeof err), JWKS_E_TIMEOUT);
    CHECK(body == NULL);
    CHECK_INT(jwks_fetch(url_localhost, 3000, 1024, &body, &len, err, sizeof err), 0);
    CHECK_STR(body, doc);
    free(body);
    CHECK_INT(jwks_fetch(url, 3000, 1024, &body, &len, err, sizeof err), 0);
    CHECK_INT(len, 0);
    CHECK_STR(body, "");
    free(body);

    server_stop(&s);
    CHECK_INT(s.served, 8);
    free(big);
}

/* ---- the refresher ------------------------------------------------------------- */

struct racer {
    struct jwks_source *src;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    r->rc = jwks_source_refresh_if_due(r->src, NOW + 20000, true);
    return NULL;
}

static void test_source(void)
{
    char *doc = jwk_expand("{\"keys\":[" EC_OK "]}");
    char head[160];
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close", strlen(doc));
    const char *fail = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close";
    struct server s = {.n = 5};
    s.replies[0] = (struct reply){head, doc, strlen(doc), 0};
    s.replies[1] = (struct reply){head, doc, strlen(doc), 0};
    s.replies[2] = (struct reply){head, doc, strlen(doc), 0};
    s.replies[3] = (struct reply){fail, NULL, 0, 0};
    s.replies[4] = (struct reply){head, doc, strlen(doc), 400}; /* slow: racers overlap */
    server_start(&s);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/jwks", s.port);

    struct jwt_keyset *ks = jwt_keyset_new();
    CHECK(jwks_source_new(NULL, ks, EXT_ISS, EXT_AUD) == NULL);
    CHECK(jwks_source_new(url, NULL, EXT_ISS, EXT_AUD) == NULL);
    CHECK(jwks_source_new(url, ks, "", EXT_AUD) == NULL);
    struct jwks_source *src = jwks_source_new(url, ks, EXT_ISS, EXT_AUD);
    CHECK(src != NULL);
    if (!src) {
        server_stop(&s);
        return;
    }
    struct jwt_keyset *idp = jwt_keyset_new();
    CHECK_INT(jwt_keyset_add_pem(idp, "e1", "ES256", NULL, ec_priv, EXT_ISS, EXT_AUD), 0);
    struct jwt_claims_in in = {.sub = "u", .iat = NOW, .ttl = 86400 * 2, .epoch = -1};
    char *tok = NULL;
    struct jwt_claims c;
    CHECK_INT(jwt_sign_access(idp, &in, &tok), 0);
    CHECK_INT(jwt_verify(ks, tok, NOW, &c), JWT_E_UNKNOWN_KID);
    CHECK_INT(jwks_source_last_success(src), 0);

    time_t t = NOW;
    CHECK_INT(jwks_source_refresh_if_due(src, t, false), 1);          /* never loaded */
    CHECK_INT(jwt_verify(ks, tok, NOW, &c), 0);
    CHECK_INT(jwks_source_last_success(src), t);
    CHECK_INT(jwks_source_refresh_if_due(src, t + 1, false), 0);      /* fresh */
    CHECK_INT(jwks_source_refresh_if_due(src, t + 10, true), 0);      /* rate limit */
    CHECK_INT(jwks_source_refresh_if_due(src, t + 31, false), 0);     /* not due */
    CHECK_INT(jwks_source_refresh_if_due(src, t + 31, true), 1);      /* unknown kid */
    CHECK_INT(jwks_source_refresh_if_due(src, t + 31 + 3599, false), 0);
    CHECK_INT(jwks_source_refresh_if_due(src, t + 31 + 3600, false), 1); /* hourly */
    t += 31 + 3600;
    CHECK_INT(jwks_source_refresh_if_due(src, t + 3600, false), JWKS_E_HTTP_STATUS);
    char err[256];
    jwks_source_last_error(src, err, sizeof err);
    CHECK(strstr(err, "503") != NULL);
    CHECK_INT(jwks_source_last_success(src), t);
    CHECK_INT(jwt_verify(ks, tok, NOW, &c), 0);                       /* old keys kept */
    CHECK_INT(jwks_source_refresh_if_due(src, t + 3600 + 5, true), 0); /* failures rate-limited too */

    /* two threads at once: exactly one refreshes */
    struct racer r[2] = {{src, -99}, {src, -99}};
    pthread_t th[2];
    pthread_create(&th[0], NULL, race, &r[0]);
    sleep_ms(100);
    pthread_create(&th[1], NULL, race, &r[1]);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    CHECK_INT(r[0].rc + r[1].rc, 1);
    CHECK(r[0].rc == 1 || r[1].rc == 1);
    jwks_source_last_error(src, err, sizeof err);
    CHECK_STR(err, "");

    server_stop(&s);
    CHECK_INT(s.served, 5);
    CHECK_INT(jwks_source_refresh_if_due(NULL, t, true), JWKS_E_ARG);
    jwks_source_free(src);
    jwks_source_free(NULL);
    jwt_keyset_free(idp);
    jwt_keyset_free(ks);
    free(tok);
    free(doc);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rsa_key = test_key(RSA_2048_A);
    ec_key = EVP_EC_gen("P-256");
    if (!rsa_key || !ec_key)
        return 1;
    rsa_priv = pem_private(rsa_key);
    ec_priv = pem_private(ec_key);
    make_members();

    test_parse();
    test_parse_then_verify();
    test_fetch_url_rules();
    test_fetch_server();
    test_source();

    free_members();
    free(rsa_priv);
    free(ec_priv);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ec_key);
    curl_global_cleanup();
    return UNIT_DONE();
}
