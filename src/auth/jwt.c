/* jwt — strict JWT verification (RFC 8725) and signing on libjwt 1.10.
 *
 * Why it looks the way it does:
 *  - libjwt 1.10 trusts the token header: it takes `alg` from it (an RS256
 *    public key then becomes an HMAC secret), skips verification for a
 *    NULL/empty key or alg "none", and checks no claim.  So everything
 *    before and after the signature is done here: the header is parsed by
 *    us (cJSON), the key is chosen by us and its algorithm is pinned, and
 *    the claims are read by us from the payload with their JSON types.
 *  - The signature is checked twice with the same pinned key: by our own
 *    OpenSSL code (constant-time HMAC compare, exact signature sizes), and
 *    by libjwt's jwt_decode() followed by jwt_get_alg() == pinned alg.
 *    libjwt 1.10 refuses any `typ` other than "JWT", so for RFC 9068
 *    access tokens (typ "at+jwt") only our own check runs.
 *  - Parser differentials: header and payload must be valid UTF-8 JSON
 *    objects without duplicate member names, so cJSON (ours) and jansson
 *    (libjwt's) cannot read different values from the same token.
 *  - The key set is copy-on-write (see keyset_* below). */
#define _POSIX_C_SOURCE 200809L

#include "rectify/jwt.h"
#include "rectify/json.h"
#include "rectify/jwks.h"
#include "rectify/permissions.h"
#include "rectify/utf8.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <jwt.h> /* libjwt */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define MAX_HEADER_MEMBERS 32
#define MAX_PAYLOAD_MEMBERS 256
#define MAX_NUMERIC_DATE 253402300799.0 /* 9999-12-31T23:59:59Z */
#define MAX_TTL (86400L * 30)
#define MAX_KEY_FILE_BYTES (64 * 1024)

/* ---- algorithms ----------------------------------------------------- */

enum kalg { KALG_HS256, KALG_RS256, KALG_ES256, KALG_COUNT };

static const char *const kalg_names[KALG_COUNT] = {"HS256", "RS256", "ES256"};
static const jwt_alg_t kalg_libjwt[KALG_COUNT] = {JWT_ALG_HS256, JWT_ALG_RS256,
                                                  JWT_ALG_ES256};

/* Exact, case-sensitive match (RFC 7515: "alg" values are case-sensitive,
 * so "none", "None" and "NONE" are all simply unsupported). */
static int kalg_from_name(const char *name)
{
    for (int i = 0; i < KALG_COUNT; i++)
        if (name && strcmp(name, kalg_names[i]) == 0)
            return i;
    return -1;
}

/* ---- errors --------------------------------------------------------- */

const char *jwt_error_name(int code)
{
    switch (code) {
    case JWT_OK: return "ok";
    case JWT_E_ARG: return "invalid_argument";
    case JWT_E_NOMEM: return "out_of_memory";
    case JWT_E_KEY: return "bad_key";
    case JWT_E_SIGN: return "sign_failed";
    case JWT_E_TOO_LONG: return "too_long";
    case JWT_E_FORMAT: return "bad_format";
    case JWT_E_BASE64: return "bad_base64";
    case JWT_E_HEADER: return "bad_header";
    case JWT_E_ALG: return "bad_alg";
    case JWT_E_TYP: return "bad_typ";
    case JWT_E_CRIT: return "crit_header";
    case JWT_E_UNKNOWN_KID: return "unknown_kid";
    case JWT_E_NO_KEY: return "no_key";
    case JWT_E_SIGNATURE: return "bad_signature";
    case JWT_E_PAYLOAD: return "bad_payload";
    case JWT_E_CLAIM_TYPE: return "bad_claim_type";
    case JWT_E_EXP_MISSING: return "exp_missing";
    case JWT_E_EXPIRED: return "expired";
    case JWT_E_NOT_YET_VALID: return "not_yet_valid";
    case JWT_E_IAT_FUTURE: return "iat_in_future";
    case JWT_E_ISSUER: return "bad_issuer";
    case JWT_E_AUDIENCE: return "bad_audience";
    case JWT_E_SUBJECT: return "bad_subject";
    default: return "unknown_error";
    }
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* ---- base64url ------------------------------------------------------ */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t jwt_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

long jwt_b64url_decode(const char *in, size_t n, unsigned char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    if (!in || !out || n % 4 == 1 || n > (size_t)LONG_MAX / 2)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    /* Canonical encodings only: the 2 or 4 unused bits must be zero, so a
     * token (and its signature) has exactly one textual form. */
    if (bits && acc != 0)
        return -1;
    return (long)o;
}

/* ---- JSON ----------------------------------------------------------- */

/* Does the JSON text contain the escape \u0000?  cJSON would cut the
 * string there, jansson refuses it: we refuse it too.  (A literal
 * backslash followed by "u0000" is refused as well; no real token has it.) */
static bool has_nul_escape(const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++)
        if (buf[i] == '\\' && memcmp(buf + i + 1, "u0000", 5) == 0)
            return true;
    return false;
}

/* Parse exactly one JSON object from buf[0..n) (no BOM, no NUL, valid
 * UTF-8, nothing but whitespace after it, at most max_members members, no
 * duplicate member names).  Returns the tree (free with cJSON_Delete) or
 * NULL, with *nomem set when memory ran out. */
static cJSON *parse_object(const unsigned char *buf, size_t n, int max_members, bool *nomem)
{
    *nomem = false;
    if (n == 0 || memchr(buf, '\0', n) || !utf8_valid((const char *)buf, n, NULL) ||
        has_nul_escape(buf, n))
        return NULL;
    if (n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
        return NULL;
    cJSON *root;
    enum json_status st = json_parse((const char *)buf, n, &root, NULL);
    if (st != JSON_OK) {
        *nomem = st == JSON_NO_MEMORY;
        return NULL;
    }
    if (!cJSON_IsObject(root))
        goto fail;
    int count = 0;
    for (const cJSON *a = root->child; a; a = a->next) {
        if (++count > max_members || !a->string)
            goto fail;
        for (const cJSON *b = a->next; b; b = b->next)
            if (b->string && strcmp(a->string, b->string) == 0)
                goto fail;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

/* Case-sensitive member lookup (cJSON_GetObjectItem ignores case!). */
static const cJSON *member(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static bool has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return true;
    return false;
}

/* ---- keys and the copy-on-write key list ----------------------------- */

struct key {
    atomic_int refs;
    char *kid;                /* "" when none */
    enum kalg alg;            /* pinned */
    unsigned char *material;  /* HS256 secret, or public key PEM (NUL-terminated) */
    size_t material_len;      /* > 0; without the NUL for PEM */
    EVP_PKEY *pub;            /* parsed public key (RS/ES), shared read-only */
    char *private_pem;        /* PKCS#8 PEM when this key signs (RS/ES), else NULL */
    size_t private_len;
    char *issuer;
    char *audience;
    bool external;
};

struct keylist {
    atomic_int refs;
    size_t n;
    struct key *keys[];       /* local keys first (in order added), then external */
};

struct jwt_keyset {
    pthread_mutex_t mu;       /* guards `cur` and the reference taken on it */
    pthread_mutex_t write_mu; /* serialises writers (add, replace) */
    struct keylist *cur;      /* never NULL */
};

static void key_unref(struct key *k)
{
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    if (k->material) {
        OPENSSL_cleanse(k->material, k->material_len);
        free(k->material);
    }
    if (k->private_pem) {
        OPENSSL_cleanse(k->private_pem, k->private_len);
        free(k->private_pem);
    }
    EVP_PKEY_free(k->pub);
    free(k->kid);
    free(k->issuer);
    free(k->audience);
    free(k);
}

static struct keylist *keylist_new(size_t n)
{
    struct keylist *l = calloc(1, sizeof *l + n * sizeof l->keys[0]);
    if (l)
        atomic_init(&l->refs, 1);
    return l;
}

static void keylist_unref(struct keylist *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    for (size_t i = 0; i < l->n; i++)
        key_unref(l->keys[i]);
    free(l);
}

static void keylist_push(struct keylist *l, struct key *k)
{
    atomic_fetch_add(&k->refs, 1);
    l->keys[l->n++] = k;
}

/* Take a reference on the current list; release with keylist_unref(). */
static struct keylist *keyset_acquire(const struct jwt_keyset *cks)
{
    struct jwt_keyset *ks = (struct jwt_keyset *)cks; /* the mutex only */
    pthread_mutex_lock(&ks->mu);
    struct keylist *l = ks->cur;
    atomic_fetch_add(&l->refs, 1);
    pthread_mutex_unlock(&ks->mu);
    return l;
}

/* Install `nl` (its reference passes to the keyset); caller holds write_mu. */
static void keyset_install(struct jwt_keyset *ks, struct keylist *nl)
{
    pthread_mutex_lock(&ks->mu);
    struct keylist *old = ks->cur;
    ks->cur = nl;
    pthread_mutex_unlock(&ks->mu);
    keylist_unref(old);
}

struct jwt_keyset *jwt_keyset_new(void)
{
    struct jwt_keyset *ks = calloc(1, sizeof *ks);
    if (!ks)
        return NULL;
    ks->cur = keylist_new(0);
    if (!ks->cur || pthread_mutex_init(&ks->mu, NULL) != 0) {
        free(ks->cur);
        free(ks);
        return NULL;
    }
    if (pthread_mutex_init(&ks->write_mu, NULL) != 0) {
        pthread_mutex_destroy(&ks->mu);
        free(ks->cur);
        free(ks);
        return NULL;
    }
    return ks;
}

void jwt_keyset_free(struct jwt_keyset *ks)
{
    if (!ks)
        return;
    keylist_unref(ks->cur);
    pthread_mutex_destroy(&ks->mu);
    pthread_mutex_destroy(&ks->write_mu);
    free(ks);
}

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

static bool valid_name(const char *s, size_t max)
{
    return s && *s && strnlen(s, max + 1) <= max && !has_control_chars(s);
}

/* A new key with one reference.  Takes ownership of `pub` (also on error). */
static struct key *key_new(const char *kid, enum kalg alg,
                           const unsigned char *material, size_t material_len,
                           EVP_PKEY *pub, const char *private_pem,
                           const char *issuer, const char *audience,
                           bool external)
{
    struct key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pub);
        return NULL;
    }
    atomic_init(&k->refs, 1);
    k->alg = alg;
    k->pub = pub;
    k->external = external;
    k->kid = dup_str(kid);
    k->issuer = dup_str(issuer);
    k->audience = dup_str(audience);
    k->material = malloc(material_len + 1);
    if (k->material) {
        memcpy(k->material, material, material_len);
        k->material[material_len] = '\0';
        k->material_len = material_len;
    }
    if (private_pem) {
        k->private_pem = strdup(private_pem);
        k->private_len = strlen(private_pem);
    }
    if (!k->kid || !k->issuer || !k->audience || !k->material ||
        (private_pem && !k->private_pem)) {
        key_unref(k);
        return NULL;
    }
    return k;
}

/* Add a local key: the new list is old locals + k + old externals. */
static int keyset_add_local(struct jwt_keyset *ks, struct key *k)
{
    int rc = 0;
    pthread_mutex_lock(&ks->write_mu);
    struct keylist *old = keyset_acquire(ks);
    for (size_t i = 0; i < old->n; i++)
        if (!old->keys[i]->external && *k->kid &&
            strcmp(old->keys[i]->kid, k->kid) == 0) {
            rc = JWT_E_KEY; /* two local keys with one kid */
            goto out;
        }
    struct keylist *nl = keylist_new(old->n + 1);
    if (!nl) {
        rc = JWT_E_NOMEM;
        goto out;
    }
    size_t i = 0;
    for (; i < old->n && !old->keys[i]->external; i++)
        keylist_push(nl, old->keys[i]);
    keylist_push(nl, k);
    for (; i < old->n; i++)
        if (!old->keys[i]->external || strcmp(old->keys[i]->kid, k->kid) != 0)
            keylist_push(nl, old->keys[i]);
    keyset_install(ks, nl);
out:
    keylist_unref(old);
    pthread_mutex_unlock(&ks->write_mu);
    return rc;
}

int jwt_keyset_add_hs256(struct jwt_keyset *ks, const char *kid,
                         const unsigned char *secret, size_t len,
                         const char *issuer, const char *audience)
{
    if (!ks || !secret || !valid_name(issuer, 1024) || !valid_name(audience, 1024) ||
        (kid && *kid && !valid_name(kid, JWKS_KID_MAX)))
        return JWT_E_ARG;
    if (len < JWT_MIN_SECRET_BYTES || len > 4096)
        return JWT_E_KEY;
    struct key *k = key_new(kid, KALG_HS256, secret, len, NULL, NULL, issuer,
                            audience, false);
    if (!k)
        return JWT_E_NOMEM;
    int rc = keyset_add_local(ks, k);
    key_unref(k);
    return rc;
}

/* ---- OpenSSL key helpers --------------------------------------------- */

/* Never prompt for a pass phrase: encrypted private keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static EVP_PKEY *pem_read_public(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (!b)
        return NULL;
    EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    return k;
}

static EVP_PKEY *pem_read_private(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (!b)
        return NULL;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    return k;
}

/* Copy a memory BIO's contents into a malloc'd NUL-terminated string. */
static char *bio_to_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0 || !data)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

static char *pem_write_public(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b && PEM_write_bio_PUBKEY(b, k) == 1)
        s = bio_to_string(b);
    BIO_free(b);
    return s;
}

static char *pem_write_private(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1)
        s = bio_to_string(b);
    if (b) {
        /* scrub the PEM copy inside the BIO before freeing it */
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && data)
            OPENSSL_cleanse(data, (size_t)n);
        BIO_free(b);
    }
    return s;
}

/* Is `k` usable for `alg`?  RS256: RSA 2048..8192 bits; ES256: EC P-256. */
static bool pkey_fits(EVP_PKEY *k, enum kalg alg)
{
    if (alg == KALG_RS256)
        return EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) >= 2048 &&
               EVP_PKEY_get_bits(k) <= 8192;
    if (alg == KALG_ES256) {
        char group[64];
        size_t glen = 0;
        return EVP_PKEY_is_a(k, "EC") &&
               EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
                                              group, sizeof group, &glen) == 1 &&
               strcmp(group, "prime256v1") == 0;
    }
    return false;
}

/* base64url of a big number, left-padded with zeros to `pad` bytes
 * (0 = minimal length).  Returns a malloc'd string or NULL. */
static char *bn_b64url(const BIGNUM *bn, int pad)
{
    int len = pad ? pad : BN_num_bytes(bn);
    if (len <= 0 || len > 2048)
        return NULL;
    unsigned char *bin = malloc((size_t)len);
    char *out = malloc(jwt_b64url_encoded_len((size_t)len));
    if (!bin || !out || BN_bn2binpad(bn, bin, len) != len) {
        free(bin);
        free(out);
        return NULL;
    }
    jwt_b64url_encode(bin, (size_t)len, out);
    free(bin);
    return out;
}

/* The JWK members of a public key, base64url: RSA → a = n, b = e;
 * EC P-256 → a = x, b = y.  Both malloc'd; caller frees.  0 or -1. */
static int pkey_jwk_parts(EVP_PKEY *k, enum kalg alg, char **a, char **b)
{
    BIGNUM *x = NULL, *y = NULL;
    *a = *b = NULL;
    if (alg == KALG_RS256) {
        if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &x) == 1 &&
            EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &y) == 1) {
            *a = bn_b64url(x, 0);
            *b = bn_b64url(y, 0);
        }
    } else if (alg == KALG_ES256) {
        if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
            EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1) {
            *a = bn_b64url(x, 32);
            *b = bn_b64url(y, 32);
        }
    }
    BN_free(x);
    BN_free(y);
    if (!*a || !*b) {
        free(*a);
        free(*b);
        *a = *b = NULL;
        return -1;
    }
    return 0;
}

/* RFC 7638 JWK thumbprint: base64url(SHA-256(canonical JWK JSON)), 43 chars. */
static int pkey_thumbprint(EVP_PKEY *k, enum kalg alg, char out[44])
{
    char *a, *b;
    if (pkey_jwk_parts(k, alg, &a, &b) != 0)
        return -1;
    size_t cap = strlen(a) + strlen(b) + 64;
    char *json = malloc(cap);
    int rc = -1;
    if (json) {
        if (alg == KALG_RS256)
            snprintf(json, cap, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", b, a);
        else
            snprintf(json, cap,
                     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                     a, b);
        unsigned char digest[32];
        unsigned int dlen = 0;
        if (EVP_Digest(json, strlen(json), digest, &dlen, EVP_sha256(), NULL) == 1 &&
            dlen == 32) {
            jwt_b64url_encode(digest, 32, out);
            rc = 0;
        }
        free(json);
    }
    free(a);
    free(b);
    return rc;
}

/* Build a key from PEM text (public and/or private); see jwt_keyset_add_pem. */
static int key_from_pem(const char *kid, enum kalg alg, const char *pem_public,
                        const char *pem_private, const char *issuer,
                        const char *audience, bool external, struct key **out)
{
    EVP_PKEY *pub = NULL, *priv = NULL;
    char *pub_pem = NULL, *priv_pem = NULL;
    char thumb[44];
    int rc = JWT_E_KEY;
    *out = NULL;

    if (pem_public) {
        pub = pem_read_public(pem_public);
        if (!pub)
            goto done;
    }
    if (pem_private) {
        priv = pem_read_private(pem_private);
        if (!priv || !pkey_fits(priv, alg))
            goto done;
        if (pub && EVP_PKEY_eq(pub, priv) != 1)
            goto done; /* the pair does not match */
        if (!pub) {
            char *derived = pem_write_public(priv);
            pub = derived ? pem_read_public(derived) : NULL;
            free(derived);
            if (!pub)
                goto done;
        }
        priv_pem = pem_write_private(priv);
        if (!priv_pem)
            goto done;
    }
    if (!pub || !pkey_fits(pub, alg))
        goto done;
    pub_pem = pem_write_public(pub); /* canonical SPKI PEM for libjwt */
    if (!pub_pem)
        goto done;
    if (!kid || !*kid) {
        if (pkey_thumbprint(pub, alg, thumb) != 0)
            goto done;
        kid = thumb;
    }
    *out = key_new(kid, alg, (const unsigned char *)pub_pem, strlen(pub_pem),
                   pub, priv_pem, issuer, audience, external);
    pub = NULL; /* owned by the key now (or freed by key_new) */
    rc = *out ? 0 : JWT_E_NOMEM;
done:
    EVP_PKEY_free(pub);
    EVP_PKEY_free(priv);
    free(pub_pem);
    if (priv_pem) {
        OPENSSL_cleanse(priv_pem, strlen(priv_pem));
        free(priv_pem);
    }
    return rc;
}

int jwt_keyset_add_pem(struct jwt_keyset *ks, const char *kid, const char *alg,
                       const char *pem_public, const char *pem_private_or_null,
                       const char *issuer, const char *audience)
{
    int a = kalg_from_name(alg);
    if (!ks || a < 0 || a == KALG_HS256 || (!pem_public && !pem_private_or_null) ||
        !valid_name(issuer, 1024) || !valid_name(audience, 1024) ||
        (kid && *kid && !valid_name(kid, JWKS_KID_MAX)))
        return JWT_E_ARG;
    struct key *k;
    int rc = key_from_pem(kid, (enum kalg)a, pem_public, pem_private_or_null,
                          issuer, audience, false, &k);
    if (rc)
        return rc;
    rc = keyset_add_local(ks, k);
    key_unref(k);
    return rc;
}

int jwt_keyset_replace_external(struct jwt_keyset *ks,
                                const struct jwks_keys *keys,
                                const char *issuer, const char *audience)
{
    size_t n = keys ? keys->count : 0;
    if (!ks || n > JWKS_MAX_KEYS ||
        (n && (!valid_name(issuer, 1024) || !valid_name(audience, 1024))))
        return JWT_E_ARG;

    /* Build the new external keys before taking any lock. */
    struct key *fresh[JWKS_MAX_KEYS] = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct jwks_key *jk = &keys->keys[i];
        int a = kalg_from_name(jk->alg);
        if (a < 0 || a == KALG_HS256 || !jk->pem || !valid_name(jk->kid, JWKS_KID_MAX))
            rc = JWT_E_KEY;
        else
            rc = key_from_pem(jk->kid, (enum kalg)a, jk->pem, NULL, issuer,
                              audience, true, &fresh[i]);
    }
    if (rc == 0) {
        pthread_mutex_lock(&ks->write_mu);
        struct keylist *old = keyset_acquire(ks);
        struct keylist *nl = keylist_new(old->n + n);
        if (!nl) {
            rc = JWT_E_NOMEM;
        } else {
            for (size_t i = 0; i < old->n; i++)
                if (!old->keys[i]->external)
                    keylist_push(nl, old->keys[i]);
            for (size_t i = 0; i < n; i++) {
                bool clash = false;
                for (size_t j = 0; j < nl->n && !clash; j++)
                    clash = strcmp(nl->keys[j]->kid, fresh[i]->kid) == 0;
                if (!clash)
                    keylist_push(nl, fresh[i]);
            }
            keyset_install(ks, nl);
        }
        keylist_unref(old);
        pthread_mutex_unlock(&ks->write_mu);
    }
    for (size_t i = 0; i < n; i++)
        key_unref(fresh[i]);
    return rc;
}

/* ---- configuration ---------------------------------------------------- */

static char *read_small_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot open private key file: %s", strerror(errno));
        set_err(err, errlen, msg);
        return NULL;
    }
    char *buf = malloc(MAX_KEY_FILE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_KEY_FILE_BYTES + 1, f) : 0;
    int bad = buf ? ferror(f) : 1;
    fclose(f);
    if (bad || n == 0 || n > MAX_KEY_FILE_BYTES) {
        set_err(err, errlen, buf ? "private key file is empty, unreadable or larger than 64 KiB"
                                 : "out of memory");
        if (buf) {
            OPENSSL_cleanse(buf, n > MAX_KEY_FILE_BYTES ? MAX_KEY_FILE_BYTES + 1 : n);
            free(buf);
        }
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int jwt_keyset_from_config(struct jwt_keyset *ks, const char *hs256_secret_or_null,
                           const char *private_key_file_or_null,
                           const char *issuer, const char *audience,
                           char *err, size_t errlen)
{
    set_err(err, errlen, "");
    if (!ks) {
        set_err(err, errlen, "no key set");
        return JWT_E_ARG;
    }
    if (!valid_name(issuer, 1024) || !valid_name(audience, 1024)) {
        set_err(err, errlen, "JWT issuer and audience must be non-empty");
        return JWT_E_ARG;
    }
    bool have_secret = hs256_secret_or_null && *hs256_secret_or_null;
    bool have_file = private_key_file_or_null && *private_key_file_or_null;
    if (!have_secret && !have_file) {
        set_err(err, errlen,
                "no JWT signing key: set RECTIFY_JWT_SECRET or a private key file");
        return JWT_E_KEY;
    }
    size_t secret_len = have_secret ? strlen(hs256_secret_or_null) : 0;
    if (have_secret && (secret_len < JWT_MIN_SECRET_BYTES || secret_len > 4096)) {
        set_err(err, errlen, secret_len < JWT_MIN_SECRET_BYTES
                                 ? "RECTIFY_JWT_SECRET must be at least 32 bytes"
                                 : "RECTIFY_JWT_SECRET must be at most 4096 bytes");
        return JWT_E_KEY;
    }

    /* The key file first: everything that can be wrong with the
     * configuration is found before the key set is changed. */
    if (have_file) {
        char *pem = read_small_file(private_key_file_or_null, err, errlen);
        if (!pem)
            return JWT_E_KEY;
        EVP_PKEY *k = pem_read_private(pem);
        int rc = JWT_E_KEY;
        if (!k) {
            set_err(err, errlen,
                    "private key file holds no readable unencrypted PEM private key");
        } else if (EVP_PKEY_is_a(k, "RSA")) {
            if (EVP_PKEY_get_bits(k) < 2048 || EVP_PKEY_get_bits(k) > 8192)
                set_err(err, errlen, "RSA private key must have 2048 to 8192 bits");
            else
                rc = jwt_keyset_add_pem(ks, NULL, "RS256", NULL, pem, issuer, audience);
        } else if (EVP_PKEY_is_a(k, "EC")) {
            if (!pkey_fits(k, KALG_ES256))
                set_err(err, errlen, "EC private key must be on curve P-256 (prime256v1)");
            else
                rc = jwt_keyset_add_pem(ks, NULL, "ES256", NULL, pem, issuer, audience);
        } else {
            set_err(err, errlen, "private key must be RSA or EC P-256");
        }
        if (rc && err && errlen && !*err)
            set_err(err, errlen, rc == JWT_E_NOMEM ? "out of memory"
                                                   : "private key is not usable");
        EVP_PKEY_free(k);
        OPENSSL_cleanse(pem, strlen(pem));
        free(pem);
        if (rc)
            return rc;
    }
    if (have_secret) {
        int rc = jwt_keyset_add_hs256(ks, NULL, (const unsigned char *)hs256_secret_or_null,
                                      secret_len, issuer, audience);
        if (rc) {
            set_err(err, errlen, rc == JWT_E_NOMEM ? "out of memory"
                                                   : "RECTIFY_JWT_SECRET is not usable");
            return rc;
        }
    }
    return 0;
}

/* ---- publishing ------------------------------------------------------- */

int jwt_keyset_public_jwks(const struct jwt_keyset *ks, char **json_out)
{
    if (!json_out)
        return JWT_E_ARG;
    *json_out = NULL;
    if (!ks)
        return JWT_E_ARG;
    int rc = JWT_E_NOMEM;
    struct keylist *l = keyset_acquire(ks);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "keys") : NULL;
    if (!arr)
        goto done;
    for (size_t i = 0; i < l->n; i++) {
        const struct key *k = l->keys[i];
        if (k->external || k->alg == KALG_HS256)
            continue;
        char *a, *b;
        if (pkey_jwk_parts(k->pub, k->alg, &a, &b) != 0) {
            rc = JWT_E_KEY;
            goto done;
        }
        cJSON *jwk = cJSON_CreateObject();
        bool ok = jwk && cJSON_AddItemToArray(arr, jwk);
        if (!ok)
            cJSON_Delete(jwk);
        if (ok && k->alg == KALG_RS256)
            ok = cJSON_AddStringToObject(jwk, "kty", "RSA") &&
                 cJSON_AddStringToObject(jwk, "n", a) &&
                 cJSON_AddStringToObject(jwk, "e", b);
        else if (ok)
            ok = cJSON_AddStringToObject(jwk, "kty", "EC") &&
                 cJSON_AddStringToObject(jwk, "crv", "P-256") &&
                 cJSON_AddStringToObject(jwk, "x", a) &&
                 cJSON_AddStringToObject(jwk, "y", b);
        free(a);
        free(b);
        ok = ok && cJSON_AddStringToObject(jwk, "kid", k->kid) &&
             cJSON_AddStringToObject(jwk, "alg", kalg_names[k->alg]) &&
             cJSON_AddStringToObject(jwk, "use", "sig");
        if (!ok)
            goto done;
    }
    char *printed = cJSON_PrintUnformatted(root);
    if (printed) {
        *json_out = strdup(printed); /* our malloc, whatever cJSON's hooks are */
        cJSON_free(printed);
        if (*json_out)
            rc = 0;
    }
done:
    cJSON_Delete(root);
    keylist_unref(l);
    return rc;
}

/* The signing key: the last local key with a private key, else the last
 * local HS256 key; NULL if none. */
static const struct key *signing_key(const struct keylist *l)
{
    for (size_t i = l->n; i-- > 0;)
        if (!l->keys[i]->external && l->keys[i]->private_pem)
            return l->keys[i];
    for (size_t i = l->n; i-- > 0;)
        if (!l->keys[i]->external && l->keys[i]->alg == KALG_HS256)
            return l->keys[i];
    return NULL;
}

void jwt_keyset_describe(const struct jwt_keyset *ks, char *buf, size_t n)
{
    if (!buf || !n)
        return;
    if (!ks) {
        snprintf(buf, n, "no keyset");
        return;
    }
    struct keylist *l = keyset_acquire(ks);
    size_t local = 0, ext = 0;
    for (size_t i = 0; i < l->n; i++)
        l->keys[i]->external ? ext++ : local++;
    const struct key *s = signing_key(l);
    snprintf(buf, n, "signing=%s kid=%s local=%zu external=%zu",
             s ? kalg_names[s->alg] : "none", s && *s->kid ? s->kid : "-",
             local, ext);
    keylist_unref(l);
}

/* ---- signing ---------------------------------------------------------- */

int jwt_sign_access(const struct jwt_keyset *ks, const struct jwt_claims_in *in,
                    char **out_token)
{
    if (!out_token)
        return JWT_E_ARG;
    *out_token = NULL;
    if (!ks || !in || !valid_name(in->sub, 128) ||
        (in->org && (strlen(in->org) >= 64 || has_control_chars(in->org))) ||
        in->ttl <= 0 || in->ttl > MAX_TTL || in->iat < 0 ||
        (double)in->iat + (double)in->ttl > MAX_NUMERIC_DATE)
        return JWT_E_ARG;

    int rc = JWT_E_NOMEM;
    jwt_t *j = NULL;
    char *payload = NULL;
    cJSON *root = NULL;
    struct keylist *l = keyset_acquire(ks);
    const struct key *k = signing_key(l);
    if (!k) {
        rc = JWT_E_KEY;
        goto done;
    }

    unsigned char rnd[16];
    char jti[33];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        rc = JWT_E_SIGN;
        goto done;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(jti + 2 * i, 3, "%02x", rnd[i]);

    long long iat = (long long)in->iat;
    root = cJSON_CreateObject();
    cJSON *roles = root ? cJSON_AddArrayToObject(root, "roles") : NULL;
    bool ok = roles && cJSON_AddStringToObject(root, "iss", k->issuer) &&
              cJSON_AddStringToObject(root, "aud", k->audience) &&
              cJSON_AddStringToObject(root, "sub", in->sub) &&
              (!in->org || cJSON_AddStringToObject(root, "org", in->org)) &&
              cJSON_AddNumberToObject(root, "iat", (double)iat) &&
              cJSON_AddNumberToObject(root, "nbf", (double)iat) &&
              cJSON_AddNumberToObject(root, "exp", (double)(iat + in->ttl)) &&
              cJSON_AddStringToObject(root, "jti", jti) &&
              (in->epoch < 0 || cJSON_AddNumberToObject(root, "ep", in->epoch));
    for (unsigned bit = 1; ok && bit <= ROLE_ALL; bit <<= 1) {
        if (!(in->roles & bit))
            continue;
        cJSON *s = cJSON_CreateString(perm_role_name(bit));
        ok = s && cJSON_AddItemToArray(roles, s);
        if (!ok)
            cJSON_Delete(s);
    }
    payload = ok ? cJSON_PrintUnformatted(root) : NULL;
    if (!payload)
        goto done;

    rc = JWT_E_SIGN;
    if (jwt_new(&j) != 0 || !j) {
        rc = JWT_E_NOMEM;
        goto done;
    }
    if (jwt_add_grants_json(j, payload) != 0)
        goto done;
    if (*k->kid && jwt_add_header(j, "kid", k->kid) != 0)
        goto done;
    const unsigned char *key_bytes = k->private_pem
                                         ? (const unsigned char *)k->private_pem
                                         : k->material;
    size_t key_len = k->private_pem ? k->private_len : k->material_len;
    if (key_len == 0 || key_len > INT_MAX ||
        jwt_set_alg(j, kalg_libjwt[k->alg], key_bytes, (int)key_len) != 0)
        goto done;
    char *tok = jwt_encode_str(j); /* malloc'd by libjwt 1.10 */
    if (!tok)
        goto done;
    *out_token = tok;
    rc = 0;
done:
    if (j)
        jwt_free(j);
    cJSON_free(payload);
    cJSON_Delete(root);
    keylist_unref(l);
    return rc;
}

/* ---- verification ----------------------------------------------------- */

struct token_parts {
    const char *seg[3];
    size_t len[3];
    unsigned char *dec[3]; /* into one buffer */
    size_t dec_len[3];
};

/* Three non-empty segments, canonical base64url each.  `buf` must hold
 * len + 8 bytes. */
static int split_token(const char *token, size_t len, unsigned char *buf,
                       struct token_parts *p)
{
    const char *start = token, *end = token + len;
    for (int i = 0; i < 3; i++) {
        const char *dot = memchr(start, '.', (size_t)(end - start));
        if (i < 2 && !dot)
            return JWT_E_FORMAT;
        if (i == 2 && dot)
            return JWT_E_FORMAT; /* a fourth segment (JWE has five) */
        const char *stop = i < 2 ? dot : end;
        p->seg[i] = start;
        p->len[i] = (size_t)(stop - start);
        if (p->len[i] == 0)
            return JWT_E_FORMAT;
        start = stop + 1;
    }
    for (int i = 0; i < 3; i++) {
        p->dec[i] = buf;
        long n = jwt_b64url_decode(p->seg[i], p->len[i], buf);
        if (n <= 0)
            return JWT_E_BASE64;
        p->dec_len[i] = (size_t)n;
        buf += n;
    }
    return 0;
}

/* Our own signature check over "header.payload" with the pinned key. */
static int own_signature_check(const struct key *k, const struct token_parts *p)
{
    const unsigned char *msg = (const unsigned char *)p->seg[0];
    size_t msg_len = p->len[0] + 1 + p->len[1];
    const unsigned char *sig = p->dec[2];
    size_t sig_len = p->dec_len[2];
    int ok = 0;

    if (k->alg == KALG_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        if (sig_len != 32 || k->material_len > INT_MAX)
            return JWT_E_SIGNATURE;
        if (!HMAC(EVP_sha256(), k->material, (int)k->material_len, msg, msg_len,
                  mac, &mac_len) || mac_len != 32)
            return JWT_E_SIGNATURE;
        return CRYPTO_memcmp(mac, sig, 32) == 0 ? 0 : JWT_E_SIGNATURE;
    }

    unsigned char *der = NULL;
    int der_len = 0;
    if (k->alg == KALG_ES256) {
        /* JWS carries R||S (32 bytes each); OpenSSL wants DER. */
        if (sig_len != 64)
            return JWT_E_SIGNATURE;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return JWT_E_NOMEM;
        }
        der_len = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (der_len <= 0)
            return JWT_E_NOMEM;
        sig = der;
        sig_len = (size_t)der_len;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(k->pub)) {
        return JWT_E_SIGNATURE; /* RS256: exactly the modulus size */
    }

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pub) == 1 &&
        EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1)
        ok = 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok ? 0 : JWT_E_SIGNATURE;
}

/* The second, independent check of a token whose signature our own code
 * accepted with key k: libjwt's jwt_decode() with exactly that key (never
 * NULL/empty: libjwt would skip verification), then the algorithm libjwt
 * used must be the pinned one. */
static int libjwt_check(const struct key *k, const char *token)
{
    if (k->material_len == 0 || k->material_len > INT_MAX)
        return JWT_E_KEY;
    jwt_t *j = NULL;
    int r = jwt_decode(&j, token, k->material, (int)k->material_len);
    if (r != 0 || !j) {
        if (j)
            jwt_free(j);
        return r == ENOMEM ? JWT_E_NOMEM : JWT_E_SIGNATURE;
    }
    jwt_alg_t used = jwt_get_alg(j);
    jwt_free(j);
    return used == kalg_libjwt[k->alg] ? 0 : JWT_E_ALG;
}

/* Pick the key(s) for the header's kid and alg and check the signature
 * with our own code.  On success *used is the key that verified. */
static int select_and_check(const struct keylist *l, const struct token_parts *p,
                            enum kalg alg, const char *kid,
                            const struct key **used)
{
    if (kid) {
        for (size_t i = 0; i < l->n; i++) {
            const struct key *k = l->keys[i];
            if (strcmp(k->kid, kid) != 0)
                continue;
            if (k->alg != alg)
                return JWT_E_ALG;
            int rc = own_signature_check(k, p);
            if (rc == 0)
                *used = k;
            return rc;
        }
        return JWT_E_UNKNOWN_KID;
    }
    bool any = false, alg_match = false;
    int last = JWT_E_SIGNATURE;
    for (size_t i = 0; i < l->n; i++) {
        const struct key *k = l->keys[i];
        if (*k->kid)
            continue;
        any = true;
        if (k->alg != alg)
            continue;
        alg_match = true;
        last = own_signature_check(k, p);
        if (last == 0) {
            *used = k;
            return 0;
        }
    }
    if (!any)
        return JWT_E_NO_KEY;
    return alg_match ? last : JWT_E_ALG;
}

/* A NumericDate claim: absent (0, *present = false) or an integral JSON
 * number in 0..9999-12-31.  Returns 0 or JWT_E_CLAIM_TYPE. */
static int numeric_date(const cJSON *payload, const char *name, bool *present,
                        long long *out)
{
    const cJSON *it = member(payload, name);
    *present = it != NULL;
    *out = 0;
    if (!it)
        return 0;
    if (!cJSON_IsNumber(it))
        return JWT_E_CLAIM_TYPE;
    double d = it->valuedouble;
    if (!(d >= 0.0 && d <= MAX_NUMERIC_DATE)) /* also rejects NaN */
        return JWT_E_CLAIM_TYPE;
    long long v = (long long)d;
    if ((double)v != d)
        return JWT_E_CLAIM_TYPE; /* 1.5 */
    *out = v;
    return 0;
}

/* Copy an optional string claim into dst (size cap): absent → "", wrong
 * type, too long or control characters → JWT_E_CLAIM_TYPE. */
static int string_claim(const cJSON *payload, const char *name, char *dst, size_t cap)
{
    const cJSON *it = member(payload, name);
    dst[0] = '\0';
    if (!it)
        return 0;
    if (!cJSON_IsString(it) || !it->valuestring)
        return JWT_E_CLAIM_TYPE;
    size_t n = strlen(it->valuestring);
    if (n >= cap || has_control_chars(it->valuestring))
        return JWT_E_CLAIM_TYPE;
    memcpy(dst, it->valuestring, n + 1);
    return 0;
}

static int check_claims(const struct key *k, const cJSON *pl, long long now,
                        struct jwt_claims *out)
{
    bool have;
    long long exp, nbf, iat;
    int rc;

    if ((rc = numeric_date(pl, "exp", &have, &exp)))
        return rc;
    if (!have)
        return JWT_E_EXP_MISSING;
    if (now >= exp + JWT_LEEWAY_SECONDS)
        return JWT_E_EXPIRED;
    if ((rc = numeric_date(pl, "nbf", &have, &nbf)))
        return rc;
    if (have && nbf > now + JWT_LEEWAY_SECONDS)
        return JWT_E_NOT_YET_VALID;
    if ((rc = numeric_date(pl, "iat", &have, &iat)))
        return rc;
    if (have && iat > now + JWT_LEEWAY_SECONDS)
        return JWT_E_IAT_FUTURE;

    const cJSON *iss = member(pl, "iss");
    if (iss && !cJSON_IsString(iss))
        return JWT_E_CLAIM_TYPE;
    if (!iss || strcmp(iss->valuestring, k->issuer) != 0)
        return JWT_E_ISSUER;

    const cJSON *aud = member(pl, "aud");
    bool aud_ok = false;
    if (cJSON_IsString(aud)) {
        aud_ok = strcmp(aud->valuestring, k->audience) == 0;
    } else if (cJSON_IsArray(aud)) {
        for (const cJSON *a = aud->child; a; a = a->next) {
            if (!cJSON_IsString(a))
                return JWT_E_CLAIM_TYPE;
            if (strcmp(a->valuestring, k->audience) == 0)
                aud_ok = true;
        }
    } else if (aud) {
        return JWT_E_CLAIM_TYPE;
    }
    if (!aud_ok)
        return JWT_E_AUDIENCE;

    const cJSON *sub = member(pl, "sub");
    if (sub && !cJSON_IsString(sub))
        return JWT_E_CLAIM_TYPE;
    if (!sub || !valid_name(sub->valuestring, 128))
        return JWT_E_SUBJECT;
    memcpy(out->sub, sub->valuestring, strlen(sub->valuestring) + 1);

    if ((rc = string_claim(pl, "org", out->org, sizeof out->org)) ||
        (rc = string_claim(pl, "jti", out->jti, sizeof out->jti)) ||
        (rc = string_claim(pl, "preferred_username", out->username,
                           sizeof out->username)))
        return rc;

    const cJSON *roles = member(pl, "roles");
    if (roles) {
        if (!cJSON_IsArray(roles))
            return JWT_E_CLAIM_TYPE;
        for (const cJSON *r = roles->child; r; r = r->next) {
            if (!cJSON_IsString(r))
                return JWT_E_CLAIM_TYPE;
            out->roles |= perm_role_from_name(r->valuestring);
        }
    }

    const cJSON *ep = member(pl, "ep");
    if (ep) {
        double d = cJSON_IsNumber(ep) ? ep->valuedouble : -1.0;
        if (!(d >= 0.0 && d <= (double)INT_MAX) || (double)(int)d != d)
            return JWT_E_CLAIM_TYPE;
        out->epoch = (int)d;
    }
    out->exp = exp;
    out->iat = iat;
    out->external = k->external;
    return 0;
}

static void claims_reset(struct jwt_claims *c)
{
    memset(c, 0, sizeof *c);
    c->epoch = -1;
}

static bool ascii_caseeq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return *a == *b;
}

/* typ values we accept (media types: case-insensitive).  libjwt 1.10
 * itself accepts only "JWT", so for the others only our own signature
 * check runs. */
static bool typ_acceptable(const char *typ, bool *libjwt_can)
{
    *libjwt_can = ascii_caseeq(typ, "JWT");
    return *libjwt_can || ascii_caseeq(typ, "at+jwt") ||
           ascii_caseeq(typ, "application/at+jwt");
}

int jwt_verify(const struct jwt_keyset *ks, const char *token, time_t now,
               struct jwt_claims *out)
{
    if (!out)
        return JWT_E_ARG;
    claims_reset(out);
    if (!ks || !token)
        return JWT_E_ARG;

    size_t len = strnlen(token, JWT_MAX_TOKEN_BYTES + 1);
    if (len > JWT_MAX_TOKEN_BYTES)
        return JWT_E_TOO_LONG;

    unsigned char *buf = malloc(len + 8);
    if (!buf)
        return JWT_E_NOMEM;
    struct token_parts p;
    cJSON *header = NULL, *payload = NULL;
    struct keylist *l = NULL;
    int rc = split_token(token, len, buf, &p);
    if (rc)
        goto done;

    /* header */
    bool nomem;
    header = parse_object(p.dec[0], p.dec_len[0], MAX_HEADER_MEMBERS, &nomem);
    if (!header) {
        rc = nomem ? JWT_E_NOMEM : JWT_E_HEADER;
        goto done;
    }
    const cJSON *alg_j = member(header, "alg");
    int alg = cJSON_IsString(alg_j) ? kalg_from_name(alg_j->valuestring) : -1;
    if (alg < 0) {
        rc = JWT_E_ALG;
        goto done;
    }
    const cJSON *typ = member(header, "typ");
    bool libjwt_can = true;
    if (typ && (!cJSON_IsString(typ) || !typ_acceptable(typ->valuestring, &libjwt_can))) {
        rc = JWT_E_TYP;
        goto done;
    }
    if (member(header, "crit")) {
        rc = JWT_E_CRIT;
        goto done;
    }
    if (member(header, "enc") || member(header, "zip")) {
        rc = JWT_E_HEADER; /* JWE or compressed: not for us */
        goto done;
    }
    const cJSON *kid_j = member(header, "kid");
    const char *kid = NULL;
    if (kid_j) {
        if (!cJSON_IsString(kid_j) || !valid_name(kid_j->valuestring, JWKS_KID_MAX)) {
            rc = JWT_E_HEADER;
            goto done;
        }
        kid = kid_j->valuestring;
    }

    /* key and signature */
    const struct key *k = NULL;
    l = keyset_acquire(ks);
    rc = select_and_check(l, &p, (enum kalg)alg, kid, &k);
    if (rc)
        goto done;

    /* payload (signed, so now worth parsing), then libjwt's own check */
    payload = parse_object(p.dec[1], p.dec_len[1], MAX_PAYLOAD_MEMBERS, &nomem);
    if (!payload) {
        rc = nomem ? JWT_E_NOMEM : JWT_E_PAYLOAD;
        goto done;
    }
    if (libjwt_can && (rc = libjwt_check(k, token)))
        goto done;

    /* claims */
    rc = check_claims(k, payload, (long long)now, out);
done:
    if (rc)
        claims_reset(out);
    cJSON_Delete(header);
    cJSON_Delete(payload);
    keylist_unref(l);
    OPENSSL_cleanse(buf, len + 8);
    free(buf);
    return rc;
}
