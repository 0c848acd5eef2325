/* jwks — JWK Set parsing (JWK → PEM with OpenSSL 3), bounded fetching with
 * libcurl, and the rate-limited refresher of the external keys.
 * See include/rectify/jwks.h for the contract. */
#define _POSIX_C_SOURCE 200809L

#include "rectify/jwks.h"
#include "rectify/json.h"
#include "rectify/jwt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#define JWKS_MAX_DOCUMENT (1024u * 1024u)

/* err = msg followed by detail (may be NULL), truncated to errlen. */
static void set_err(char *err, size_t errlen, const char *msg, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s", msg, detail ? detail : "");
}

/* ---- JWK → PEM -------------------------------------------------------- */

/* Decode a base64url JWK member into a fresh buffer.  Returns the length
 * (> 0) and *out (malloc'd), or -1. */
static long b64_member(const cJSON *jwk, const char *name, size_t max_len,
                       unsigned char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(jwk, name);
    *out = NULL;
    if (!cJSON_IsString(it))
        return -1;
    size_t n = strlen(it->valuestring);
    if (n == 0 || n > (max_len / 3 + 1) * 4)
        return -1;
    unsigned char *buf = malloc(n / 4 * 3 + 3);
    if (!buf)
        return -1;
    long len = jwt_b64url_decode(it->valuestring, n, buf);
    if (len <= 0 || (size_t)len > max_len) {
        free(buf);
        return -1;
    }
    *out = buf;
    return len;
}

/* Build a public EVP_PKEY from OSSL params, then check it. */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (pkey) {
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!check || EVP_PKEY_public_check(check) != 1) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        EVP_PKEY_CTX_free(check);
    }
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(const cJSON *jwk)
{
    unsigned char *n_bin = NULL, *e_bin = NULL;
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    long n_len = b64_member(jwk, "n", 1024, &n_bin);
    long e_len = b64_member(jwk, "e", 8, &e_bin);
    if (n_len < 0 || e_len < 0)
        goto done;
    n = BN_bin2bn(n_bin, (int)n_len, NULL);
    e = BN_bin2bn(e_bin, (int)e_len, NULL);
    if (!n || !e || BN_num_bits(n) < 2048 || BN_num_bits(n) > 8192 ||
        !BN_is_odd(e) || BN_is_one(e))
        goto done;
    bld = OSSL_PARAM_BLD_new();
    if (!bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
        goto done;
    pkey = pkey_from_params("RSA", bld);
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(n_bin);
    free(e_bin);
    return pkey;
}

static EVP_PKEY *ec_from_jwk(const cJSON *jwk)
{
    unsigned char *x = NULL, *y = NULL;
    unsigned char point[65];
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    if (b64_member(jwk, "x", 32, &x) != 32 || b64_member(jwk, "y", 32, &y) != 32)
        goto done;
    point[0] = 0x04; /* uncompressed */
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    bld = OSSL_PARAM_BLD_new();
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                         sizeof point) != 1)
        goto done;
    pkey = pkey_from_params("EC", bld); /* rejects points not on the curve */
done:
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pkey;
}

static char *pem_of(EVP_PKEY *pkey)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *s = NULL;
    if (b && PEM_write_bio_PUBKEY(b, pkey) == 1) {
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && data && (s = malloc((size_t)n + 1))) {
            memcpy(s, data, (size_t)n);
            s[n] = '\0';
        }
    }
    BIO_free(b);
    return s;
}

static bool str_member_is(const cJSON *obj, const char *name, const char *want)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(it) && strcmp(it->valuestring, want) == 0;
}

/* Turn one JWK into slot `k`; false = skip it. */
static bool jwk_to_key(const cJSON *jwk, const struct jwks_keys *have,
                       struct jwks_key *k)
{
    if (!cJSON_IsObject(jwk))
        return false;
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(jwk, "use");
    if (use && !str_member_is(jwk, "use", "sig"))
        return false;
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(jwk, "key_ops");
    if (ops) {
        bool verify = false;
        if (cJSON_IsArray(ops))
            for (const cJSON *o = ops->child; o; o = o->next)
                verify |= cJSON_IsString(o) && strcmp(o->valuestring, "verify") == 0;
        if (!verify)
            return false;
    }
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");
    if (!cJSON_IsString(kid) || !*kid->valuestring ||
        strlen(kid->valuestring) > JWKS_KID_MAX)
        return false;
    for (const char *c = kid->valuestring; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F)
            return false;
    for (size_t i = 0; i < have->count; i++)
        if (strcmp(have->keys[i].kid, kid->valuestring) == 0)
            return false; /* duplicate kid: keep the first */
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(jwk, "alg");

    EVP_PKEY *pkey = NULL;
    const char *pinned;
    if (str_member_is(jwk, "kty", "RSA")) {
        pinned = "RS256";
        if (alg && !str_member_is(jwk, "alg", pinned))
            return false;
        pkey = rsa_from_jwk(jwk);
    } else if (str_member_is(jwk, "kty", "EC")) {
        pinned = "ES256";
        if (!str_member_is(jwk, "crv", "P-256") ||
            (alg && !str_member_is(jwk, "alg", pinned)))
            return false;
        pkey = ec_from_jwk(jwk);
    } else {
        return false; /* oct (symmetric!), OKP, ... */
    }
    if (!pkey)
        return false;
    k->pem = pem_of(pkey);
    EVP_PKEY_free(pkey);
    if (!k->pem)
        return false;
    snprintf(k->kid, sizeof k->kid, "%s", kid->valuestring);
    snprintf(k->alg, sizeof k->alg, "%s", pinned);
    return true;
}

int jwks_parse(const char *json, size_t len, struct jwks_keys **out,
               char *err, size_t errlen)
{
    set_err(err, errlen, "", NULL);
    if (!out)
        return JWKS_E_ARG;
    *out = NULL;
    if (!json) {
        set_err(err, errlen, "no JWKS document", NULL);
        return JWKS_E_ARG;
    }
    if (len > JWKS_MAX_DOCUMENT) {
        set_err(err, errlen, "JWKS document larger than 1 MiB", NULL);
        return JWKS_E_JSON;
    }
    cJSON *root;
    json_parse(json, len, &root, NULL); /* NULL root: answered below */
    const cJSON *arr = cJSON_IsObject(root)
                           ? cJSON_GetObjectItemCaseSensitive(root, "keys")
                           : NULL;
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(root);
        set_err(err, errlen, "not a JWKS document (no \"keys\" array)", NULL);
        return JWKS_E_JSON;
    }
    struct jwks_keys *keys = calloc(1, sizeof *keys);
    if (!keys) {
        cJSON_Delete(root);
        set_err(err, errlen, "out of memory", NULL);
        return JWKS_E_NOMEM;
    }
    for (const cJSON *jwk = arr->child; jwk && keys->count < JWKS_MAX_KEYS;
         jwk = jwk->next)
        if (jwk_to_key(jwk, keys, &keys->keys[keys->count]))
            keys->count++;
    cJSON_Delete(root);
    if (keys->count == 0) {
        jwks_keys_free(keys);
        set_err(err, errlen,
                "JWKS has no usable signing key (RSA >= 2048 bits / RS256 or "
                "EC P-256 / ES256, with kid)", NULL);
        return JWKS_E_NO_KEYS;
    }
    *out = keys;
    return 0;
}

void jwks_keys_free(struct jwks_keys *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < JWKS_MAX_KEYS; i++)
        free(keys->keys[i].pem);
    free(keys);
}

/* ---- fetching ----------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT; /* written once, in curl_once */

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
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

/* Parse and check the URL; returns a CURLU the caller frees, or NULL.
 * *loopback tells whether it is one of the plain-http test URLs. */
static CURLU *url_checked(const char *url, bool *loopback, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        *loopback = ascii_caseeq(host, "127.0.0.1") || ascii_caseeq(host, "localhost") ||
                    strcmp(host, "[::1]") == 0;
        if (ascii_caseeq(scheme, "https"))
            ok = true;
        else if (ascii_caseeq(scheme, "http"))
            ok = *loopback;
    }
    curl_free(scheme);
    curl_free(host);
    if (!ok) {
        curl_url_cleanup(u);
        set_err(err, errlen,
                "JWKS URL must be https:// (http:// only to 127.0.0.1 or localhost)",
                NULL);
        return NULL;
    }
    return u;
}

struct sink {
    char *buf;
    size_t len, cap, max;
    bool too_large, nomem;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (n > s->max - s->len) {
        s->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        if (cap > s->max + 1)
            cap = s->max + 1;
        char *nb = realloc(s->buf, cap);
        if (!nb) {
            s->nomem = true;
            return 0;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

int jwks_fetch(const char *url, long timeout_ms, size_t max_bytes,
               char **body_out, size_t *len_out, char *err, size_t errlen)
{
    set_err(err, errlen, "", NULL);
    if (body_out)
        *body_out = NULL;
    if (len_out)
        *len_out = 0;
    if (!url || !body_out || !len_out || timeout_ms <= 0 || max_bytes == 0 ||
        max_bytes > 64u * 1024u * 1024u) {
        set_err(err, errlen, "invalid arguments", NULL);
        return JWKS_E_ARG;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        set_err(err, errlen, "libcurl initialisation failed", NULL);
        return JWKS_E_NETWORK;
    }
    bool loopback = false;
    CURLU *u = url_checked(url, &loopback, err, errlen);
    if (!u)
        return JWKS_E_URL;

    struct sink s = {.max = max_bytes};
    char curl_err[CURL_ERROR_SIZE] = "";
    long status = 0;
    int rc = JWKS_E_NOMEM;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/jwk-set+json, application/json");
    CURL *c = curl_easy_init();
    if (!c || !hdrs) {
        set_err(err, errlen, "out of memory", NULL);
        goto done;
    }
    long connect_ms = timeout_ms / 2 > 0 ? timeout_ms / 2 : 1;
    curl_easy_setopt(c, CURLOPT_CURLU, u);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "rectify-jwks/1");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    if (loopback) /* never send a loopback request through a proxy */
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");

    CURLcode cr = curl_easy_perform(c);
    if (cr == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    if (s.too_large || cr == CURLE_FILESIZE_EXCEEDED) {
        rc = JWKS_E_TOO_LARGE;
        set_err(err, errlen, "JWKS response larger than the limit", NULL);
    } else if (s.nomem) {
        rc = JWKS_E_NOMEM;
        set_err(err, errlen, "out of memory", NULL);
    } else if (cr == CURLE_OPERATION_TIMEDOUT) {
        rc = JWKS_E_TIMEOUT;
        set_err(err, errlen, "JWKS fetch timed out: ", curl_err);
    } else if (cr != CURLE_OK) {
        rc = JWKS_E_NETWORK;
        set_err(err, errlen, "JWKS fetch failed: ",
                *curl_err ? curl_err : curl_easy_strerror(cr));
    } else if (status != 200) {
        char msg[64];
        snprintf(msg, sizeof msg, "%ld (want 200)", status);
        rc = JWKS_E_HTTP_STATUS;
        set_err(err, errlen, "JWKS fetch answered HTTP ", msg);
    } else {
        if (!s.buf) { /* empty 200 body */
            s.buf = calloc(1, 1);
            if (!s.buf) {
                rc = JWKS_E_NOMEM;
                goto done;
            }
        }
        *body_out = s.buf;
        *len_out = s.len;
        s.buf = NULL;
        rc = 0;
    }
done:
    free(s.buf);
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    curl_url_cleanup(u);
    return rc;
}

/* ---- refresher ---------------------------------------------------------- */

struct jwks_source {
    char *url, *issuer, *audience;   /* immutable after new */
    struct jwt_keyset *ks;
    pthread_mutex_t mu;              /* guards the fields below */
    bool refreshing, attempted, loaded;
    time_t last_attempt, last_success;
    char last_error[256];
};

struct jwks_source *jwks_source_new(const char *url, struct jwt_keyset *ks,
                                    const char *issuer, const char *audience)
{
    if (!url || !*url || !ks || !issuer || !*issuer || !audience || !*audience)
        return NULL;
    struct jwks_source *src = calloc(1, sizeof *src);
    if (!src)
        return NULL;
    src->url = strdup(url);
    src->issuer = strdup(issuer);
    src->audience = strdup(audience);
    src->ks = ks;
    if (!src->url || !src->issuer || !src->audience ||
        pthread_mutex_init(&src->mu, NULL) != 0) {
        free(src->url);
        free(src->issuer);
        free(src->audience);
        free(src);
        return NULL;
    }
    return src;
}

void jwks_source_free(struct jwks_source *src)
{
    if (!src)
        return;
    pthread_mutex_destroy(&src->mu);
    free(src->url);
    free(src->issuer);
    free(src->audience);
    free(src);
}

int jwks_source_refresh_if_due(struct jwks_source *src, time_t now,
                               bool unknown_kid)
{
    if (!src)
        return JWKS_E_ARG;
    pthread_mutex_lock(&src->mu);
    bool due = !src->loaded ||
               now - src->last_success >= JWKS_REFRESH_INTERVAL || unknown_kid;
    /* Rate limit every attempt; a clock that went backwards does not block. */
    if (src->attempted && now >= src->last_attempt &&
        now - src->last_attempt < JWKS_MIN_INTERVAL)
        due = false;
    if (!due || src->refreshing) {
        pthread_mutex_unlock(&src->mu);
        return 0;
    }
    src->refreshing = true;
    src->attempted = true;
    src->last_attempt = now;
    pthread_mutex_unlock(&src->mu);

    char err[256] = "";
    char *body = NULL;
    size_t len = 0;
    struct jwks_keys *keys = NULL;
    int rc = jwks_fetch(src->url, JWKS_FETCH_TIMEOUT_MS, JWKS_FETCH_MAX_BYTES,
                        &body, &len, err, sizeof err);
    if (rc == 0)
        rc = jwks_parse(body, len, &keys, err, sizeof err);
    if (rc == 0 && jwt_keyset_replace_external(src->ks, keys, src->issuer,
                                               src->audience) != 0) {
        rc = JWKS_E_KEYSET;
        snprintf(err, sizeof err, "could not install the JWKS keys");
    }
    jwks_keys_free(keys);
    free(body);

    pthread_mutex_lock(&src->mu);
    src->refreshing = false;
    if (rc == 0) {
        src->loaded = true;
        src->last_success = now;
        src->last_error[0] = '\0';
    } else {
        snprintf(src->last_error, sizeof src->last_error, "%s", err);
    }
    pthread_mutex_unlock(&src->mu);
    return rc == 0 ? 1 : rc;
}

void jwks_source_last_error(struct jwks_source *src, char *buf, size_t n)
{
    if (!buf || !n)
        return;
    buf[0] = '\0';
    if (!src)
        return;
    pthread_mutex_lock(&src->mu);
    snprintf(buf, n, "%s", src->last_error);
    pthread_mutex_unlock(&src->mu);
}

time_t jwks_source_last_success(struct jwks_source *src)
{
    if (!src)
        return 0;
    pthread_mutex_lock(&src->mu);
    time_t t = src->last_success;
    pthread_mutex_unlock(&src->mu);
    return t;
}
