/* libFuzzer target for the JWT verifier and the JWKS parser.
 *
 * Each input is used four ways:
 *   1. as a whole token for jwt_verify();
 *   2. as the PAYLOAD of a correctly HS256-signed token (so the claim
 *      checks behind the signature are reached, which random bytes never do);
 *   3. as the HEADER of a correctly HS256-signed token;
 *   4. as a JWKS document for jwks_parse(), whose keys are then installed
 *      into a scratch key set.
 * On a worker-sized stack (worker_stack.h).
 *
 * Build (the lead's CMake does this with -DRECTIFY_FUZZ=ON):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *     tests/fuzz/fuzz_jwt.c src/auth/{jwt,jwks,password,permissions}.c $(pkg-config --cflags --libs \
 *     libjwt libcjson libsodium libcurl) -lcrypto
 * Without libFuzzer, -DFUZZ_STANDALONE gives a main() that runs the files
 * named on the command line once each (a corpus regression run). */
#define _POSIX_C_SOURCE 200809L

#include "rectify/jwks.h"
#include "rectify/jwt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "worker_stack.h"

#define ISS "rectify"
#define AUD "rectify-api"
static const char SECRET[] = "fuzz-secret-fuzz-secret-fuzz-secret!";
static const time_t NOW = 1750000000;

/* Built once in LLVMFuzzerInitialize, read-only afterwards (and the key
 * set is thread-safe anyway). */
static struct jwt_keyset *keyset;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    keyset = jwt_keyset_new();
    if (!keyset ||
        jwt_keyset_add_hs256(keyset, NULL, (const unsigned char *)SECRET,
                             strlen(SECRET), ISS, AUD) != 0)
        abort();
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    if (!ec || !b || PEM_write_bio_PUBKEY(b, ec) != 1)
        abort();
    long n = BIO_get_mem_data(b, &pem);
    char *copy = malloc((size_t)n + 1);
    if (!copy)
        abort();
    memcpy(copy, pem, (size_t)n);
    copy[n] = '\0';
    if (jwt_keyset_add_pem(keyset, "ec1", "ES256", copy, NULL, ISS, AUD) != 0)
        abort();
    free(copy);
    BIO_free(b);
    EVP_PKEY_free(ec);
    return 0;
}

/* "<b64url(header)>.<b64url(payload)>.<b64url(HS256)>", malloc'd. */
static char *signed_token(const uint8_t *h, size_t hn, const uint8_t *p, size_t pn)
{
    size_t cap = jwt_b64url_encoded_len(hn) + jwt_b64url_encoded_len(pn) + 64;
    char *tok = malloc(cap);
    if (!tok)
        return NULL;
    size_t o = jwt_b64url_encode(h, hn, tok);
    tok[o++] = '.';
    o += jwt_b64url_encode(p, pn, tok + o);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok, o,
         mac, &mac_len);
    tok[o++] = '.';
    jwt_b64url_encode(mac, mac_len, tok + o);
    return tok;
}

static void one(const uint8_t *data, size_t size)
{
    struct jwt_claims c;
    if (!keyset)
        LLVMFuzzerInitialize(NULL, NULL);

    /* 1. the input as a token */
    char *tok = malloc(size + 1);
    if (!tok)
        return;
    memcpy(tok, data, size);
    tok[size] = '\0';
    (void)jwt_verify(keyset, tok, NOW, &c);
    free(tok);

    if (size <= 6000) {
        /* 2. the input as the payload of a validly signed token */
        static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        tok = signed_token((const uint8_t *)header, strlen(header), data, size);
        if (tok) {
            if (jwt_verify(keyset, tok, NOW, &c) == 0 && (!c.sub[0] || c.exp <= 0))
                abort(); /* accepted claims must be complete */
            free(tok);
        }
        /* 3. the input as the header of a validly signed token */
        static const char payload[] =
            "{\"iss\":\"rectify\",\"aud\":\"rectify-api\",\"sub\":\"f\",\"exp\":1750000600}";
        tok = signed_token(data, size, (const uint8_t *)payload, strlen(payload));
        if (tok) {
            (void)jwt_verify(keyset, tok, NOW, &c);
            free(tok);
        }
    }

    /* 4. the input as a JWKS document */
    struct jwks_keys *keys = NULL;
    if (jwks_parse((const char *)data, size, &keys, NULL, 0) == 0) {
        if (keys->count == 0 || keys->count > JWKS_MAX_KEYS)
            abort();
        struct jwt_keyset *scratch = jwt_keyset_new();
        if (scratch) {
            (void)jwt_keyset_replace_external(scratch, keys, "iss", "aud");
            jwt_keyset_free(scratch);
        }
        jwks_keys_free(keys);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return worker_stack_run(one, data, size);
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    jwt_keyset_free(keyset);
    printf("%d inputs\n", argc - 1);
    return 0;
}
#endif
