/* jwks — keys of the external identity platform (JSON Web Key Sets).
 *
 *   jwks_parse()   JWKS JSON → public keys as PEM (RSA and EC P-256 only)
 *   jwks_fetch()   bounded HTTPS GET with libcurl
 *   jwks_source    fetch + parse + jwt_keyset_replace_external(), refreshed
 *                  hourly and on an unknown `kid` (at most every 30 s)
 *
 * All functions are thread-safe.  libcurl must be initialised once before
 * threads start: call curl_global_init(CURL_GLOBAL_DEFAULT) in main (this
 * module also calls it through pthread_once, which is refcounted and
 * harmless when main did it first). */
#ifndef RECTIFY_JWKS_H
#define RECTIFY_JWKS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct jwt_keyset;

#define JWKS_MAX_KEYS 32
#define JWKS_KID_MAX 255
/* Defaults used by jwks_source. */
#define JWKS_REFRESH_INTERVAL   3600        /* seconds: refresh a good cache */
#define JWKS_MIN_INTERVAL       30          /* seconds between two attempts */
#define JWKS_FETCH_TIMEOUT_MS   5000L       /* total; connect gets half */
#define JWKS_FETCH_MAX_BYTES    (256u * 1024u)

enum jwks_error {
    JWKS_OK = 0,
    JWKS_E_ARG = -1,        /* NULL or invalid argument */
    JWKS_E_NOMEM = -2,
    JWKS_E_URL = -3,        /* not https (nor http to 127.0.0.1/localhost) */
    JWKS_E_NETWORK = -4,    /* DNS, connect, TLS, transfer failure */
    JWKS_E_TIMEOUT = -5,
    JWKS_E_TOO_LARGE = -6,  /* body larger than max_bytes */
    JWKS_E_HTTP_STATUS = -7,/* answer other than 200 (redirects included) */
    JWKS_E_JSON = -8,       /* not a JWKS document */
    JWKS_E_NO_KEYS = -9,    /* a JWKS without any usable signing key */
    JWKS_E_KEYSET = -10,    /* the keys could not be installed in the keyset */
};

/* One usable public key. */
struct jwks_key {
    char kid[JWKS_KID_MAX + 1]; /* non-empty */
    char alg[8];                /* pinned: "RS256" or "ES256" */
    char *pem;                  /* "-----BEGIN PUBLIC KEY-----..." NUL-terminated;
                                   owned by the enclosing jwks_keys */
};

struct jwks_keys {
    size_t count;               /* 1..JWKS_MAX_KEYS */
    struct jwks_key keys[JWKS_MAX_KEYS];
};

/* Parse a JWKS document (`json`, `len` bytes, need not be NUL-terminated).
 * Keeps keys with kty RSA (2048..8192-bit modulus, alg absent or RS256) and
 * kty EC with crv P-256 (alg absent or ES256), a non-empty unique kid, and
 * use absent or "sig".  Everything else (oct keys, other curves or algs,
 * use "enc", missing kid, invalid numbers) is skipped; at most
 * JWKS_MAX_KEYS keys are kept.
 * Returns 0 and *out (caller frees with jwks_keys_free), or a negative
 * enum jwks_error with a message in err (if err != NULL); JWKS_E_NO_KEYS
 * when no key was usable. */
int jwks_parse(const char *json, size_t len, struct jwks_keys **out,
               char *err, size_t errlen);

/* Free what jwks_parse() returned (NULL is fine). */
void jwks_keys_free(struct jwks_keys *keys);

/* GET `url` and return its body.  Rules: https:// only, except
 * http://127.0.0.1[:port]/ and http://localhost[:port]/ (tests); TLS peer
 * and host verification on; no redirects (a 3xx is an error); protocols
 * limited to http/https; connect timeout = timeout_ms/2, total timeout =
 * timeout_ms; the transfer is aborted as soon as the body would exceed
 * max_bytes; only status 200 is accepted.
 * Returns 0 with *body_out (malloc'd, NUL-terminated, caller frees with
 * free()) and *len_out, or a negative enum jwks_error with a message in err;
 * on error *body_out is NULL. */
int jwks_fetch(const char *url, long timeout_ms, size_t max_bytes,
               char **body_out, size_t *len_out, char *err, size_t errlen);

/* A refresher of the external keys in `ks` (tokens of `issuer` for
 * `audience`).  `ks` must outlive the source.  url/issuer/audience are
 * copied.  Returns NULL on bad arguments or out of memory; free with
 * jwks_source_free(). */
struct jwks_source *jwks_source_new(const char *url, struct jwt_keyset *ks,
                                    const char *issuer, const char *audience);

void jwks_source_free(struct jwks_source *src);

/* Refresh the keys when due, or do nothing:
 *   due when never loaded, or the last good load is JWKS_REFRESH_INTERVAL
 *   old, or `unknown_kid` is true (a token named a kid we do not know);
 *   but never sooner than JWKS_MIN_INTERVAL after the previous attempt
 *   (good or failed), and never two refreshes at once (a second caller
 *   returns 0 at once instead of waiting).
 * Returns 1 when new keys were installed, 0 when nothing was due (or
 * another thread is refreshing), or a negative enum jwks_error when the
 * refresh failed — the old keys stay in place; the message is kept for
 * jwks_source_last_error().
 * Typical use after jwt_verify() gave JWT_E_UNKNOWN_KID:
 *     if (jwks_source_refresh_if_due(src, now, true) == 1)
 *         rc = jwt_verify(ks, token, now, &claims);   (one retry) */
int jwks_source_refresh_if_due(struct jwks_source *src, time_t now,
                               bool unknown_kid);

/* Copy the message of the last failed refresh ("" if the last refresh
 * succeeded or none happened) into buf (NUL-terminated, truncated). */
void jwks_source_last_error(struct jwks_source *src, char *buf, size_t n);

/* Time of the last successful refresh, 0 if none. */
time_t jwks_source_last_success(struct jwks_source *src);

#endif
