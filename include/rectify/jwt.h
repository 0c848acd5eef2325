/* jwt — signing and strict verification of JSON Web Tokens (RFC 7519),
 * following the JWT best current practices (RFC 8725), on top of libjwt 1.10.
 *
 * Keys live in a `struct jwt_keyset`.  Each key has a `kid` (empty for our
 * own HS256 key), ONE pinned algorithm (HS256, RS256 or ES256), its key
 * material, and the issuer and audience of the tokens it may verify:
 *   local     our own tokens (POST /api/v1/auth/token); may sign;
 *   external  the provincial identity platform, from its JWKS
 *             (see rectify/jwks.h); verify only; replaced as a whole.
 *
 * Thread safety: every function may be called from any thread at any time.
 * The keyset is copy-on-write: readers take a reference to the current key
 * list under a mutex held for a few instructions; writers (add, replace)
 * build a new list and swap it in, so JWKS refreshes never block
 * verification and verification never sees a half-updated set.
 *
 * Never include <jwt.h> (libjwt) through this header: it is only used
 * inside src/auth/jwt.c. */
#ifndef RECTIFY_JWT_H
#define RECTIFY_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct jwks_keys;

#define JWT_MAX_TOKEN_BYTES 8192 /* longer tokens are rejected unread */
#define JWT_LEEWAY_SECONDS  30   /* clock skew allowed for exp, nbf, iat */
#define JWT_MIN_SECRET_BYTES 32  /* HS256 secrets shorter than this refused */

/* Error codes: 0 is success, everything else is negative.  Give the names
 * (jwt_error_name) to the LOG only; clients always get a uniform 401. */
enum jwt_error {
    JWT_OK = 0,
    /* configuration and signing */
    JWT_E_ARG = -1,            /* NULL or invalid argument */
    JWT_E_NOMEM = -2,
    JWT_E_KEY = -3,            /* invalid key material, or no signing key */
    JWT_E_SIGN = -4,           /* libjwt/OpenSSL failed to sign */
    /* verification, in the order the checks run */
    JWT_E_TOO_LONG = -10,      /* token longer than JWT_MAX_TOKEN_BYTES */
    JWT_E_FORMAT = -11,        /* not exactly three non-empty segments */
    JWT_E_BASE64 = -12,        /* a segment is not canonical base64url */
    JWT_E_HEADER = -13,        /* header not a JSON object, wrong member
                                  types, duplicate names, JWE/zip, bad kid */
    JWT_E_ALG = -14,           /* alg missing, unsupported (none, RS384...)
                                  or not the one pinned for the key */
    JWT_E_TYP = -15,           /* typ present and not JWT / at+jwt */
    JWT_E_CRIT = -16,          /* crit header present */
    JWT_E_UNKNOWN_KID = -17,   /* kid names no key: refresh the JWKS */
    JWT_E_NO_KEY = -18,        /* no kid, and no key without kid */
    JWT_E_SIGNATURE = -19,     /* signature does not verify */
    JWT_E_PAYLOAD = -20,       /* payload not a JSON object / duplicates */
    JWT_E_CLAIM_TYPE = -21,    /* a claim has the wrong JSON type or range */
    JWT_E_EXP_MISSING = -22,
    JWT_E_EXPIRED = -23,       /* now >= exp + leeway */
    JWT_E_NOT_YET_VALID = -24, /* nbf > now + leeway */
    JWT_E_IAT_FUTURE = -25,    /* iat > now + leeway */
    JWT_E_ISSUER = -26,        /* iss missing or not the key's issuer */
    JWT_E_AUDIENCE = -27,      /* aud missing or without the key's audience */
    JWT_E_SUBJECT = -28,       /* sub missing, empty, > 128 bytes, control chars */
};

/* Static, stable name of an error code ("expired", "unknown_kid", ...);
 * "unknown_error" for codes not listed.  For logs only. */
const char *jwt_error_name(int code);

/* ---- key set -------------------------------------------------------- */

/* New empty key set, or NULL when out of memory.  Free with
 * jwt_keyset_free() once no thread uses it any more. */
struct jwt_keyset *jwt_keyset_new(void);
void jwt_keyset_free(struct jwt_keyset *ks);

/* Add a local HS256 key.  kid may be NULL or "" (tokens then carry no kid
 * and verification without kid tries the kid-less keys).  secret is
 * copied and must be at least JWT_MIN_SECRET_BYTES long.  issuer and
 * audience (non-empty, copied) are what its tokens must carry.
 * The key can sign: see jwt_sign_access() for which key signs.
 * Returns 0 or JWT_E_ARG / JWT_E_KEY / JWT_E_NOMEM. */
int jwt_keyset_add_hs256(struct jwt_keyset *ks, const char *kid,
                         const unsigned char *secret, size_t len,
                         const char *issuer, const char *audience);

/* Add a local asymmetric key.  alg is "RS256" (RSA >= 2048 bits) or
 * "ES256" (EC P-256).  pem_public is a "BEGIN PUBLIC KEY" PEM; it may be
 * NULL when pem_private_or_null is given (it is then derived).  With a
 * private key (any PEM OpenSSL reads, unencrypted) the key can sign; the
 * pair must match.  kid NULL or "" → the RFC 7638 JWK thumbprint
 * (base64url SHA-256), which is also what jwt_keyset_from_config() uses.
 * All inputs are copied.  Returns 0 or JWT_E_ARG / JWT_E_KEY / JWT_E_NOMEM. */
int jwt_keyset_add_pem(struct jwt_keyset *ks, const char *kid,
                       const char *alg, const char *pem_public,
                       const char *pem_private_or_null,
                       const char *issuer, const char *audience);

/* Replace ALL external keys atomically by `keys` (from jwks_parse; copied,
 * the caller still owns and frees `keys`), verifying tokens of `issuer`
 * for `audience`.  keys == NULL removes every external key.  An external
 * key whose kid equals a local key's kid is skipped (local keys win).
 * Returns 0 or JWT_E_ARG / JWT_E_KEY (a PEM does not parse) / JWT_E_NOMEM;
 * on error the previous keys stay. */
int jwt_keyset_replace_external(struct jwt_keyset *ks,
                                const struct jwks_keys *keys,
                                const char *issuer, const char *audience);

/* Configure our own signing key from the service configuration:
 *   hs256_secret_or_null       RECTIFY_JWT_SECRET, >= 32 bytes, kid ""
 *   private_key_file_or_null   path of an unencrypted PEM private key:
 *                              EC P-256 → ES256, RSA >= 2048 bits → RS256;
 *                              kid = RFC 7638 thumbprint
 * At least one must be given.  With both, the asymmetric key signs and the
 * HS256 key still verifies (useful while migrating).  On error returns a
 * negative jwt_error and writes an English message into err (if not NULL),
 * e.g. "RECTIFY_JWT_SECRET must be at least 32 bytes"; the key set is then
 * unchanged (short of out-of-memory).  Treat an error as fatal at start. */
int jwt_keyset_from_config(struct jwt_keyset *ks,
                           const char *hs256_secret_or_null,
                           const char *private_key_file_or_null,
                           const char *issuer, const char *audience,
                           char *err, size_t errlen);

/* The public JWKS document of our local asymmetric keys:
 * {"keys":[{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"alg":"ES256",
 * "use":"sig"}, ...]} — {"keys":[]} when only HS256 keys exist.  Secrets
 * and external keys are never included.  *json_out is malloc'd and
 * NUL-terminated; the caller frees it with free().
 * Returns 0 or JWT_E_ARG / JWT_E_NOMEM / JWT_E_KEY. */
int jwt_keyset_public_jwks(const struct jwt_keyset *ks, char **json_out);

/* One line for the startup log, e.g.
 * "signing=ES256 kid=Nz3... local=2 external=3", NUL-terminated in buf
 * (truncated to n).  No secrets. */
void jwt_keyset_describe(const struct jwt_keyset *ks, char *buf, size_t n);

/* ---- signing -------------------------------------------------------- */

struct jwt_claims_in {
    const char *sub;  /* user id, required, 1..128 bytes, no control chars */
    const char *org;  /* org id, optional (NULL = omitted), < 64 bytes */
    unsigned roles;   /* role bitmask → "roles": ["admin", ...] */
    int epoch;        /* token epoch → "ep"; < 0 = omitted */
    time_t iat;       /* issue time (pass the current time) */
    long ttl;         /* lifetime in seconds, 1..86400*30; exp = iat + ttl */
};

/* Sign an access token with the keyset's signing key: the most recently
 * added local key with a private key, or else the most recently added
 * local HS256 key.  Claims: iss, aud (the key's), sub, org, roles, iat,
 * nbf (= iat), exp, jti (128 random bits, 32 hex digits), ep.  Header:
 * alg, typ "JWT", and kid when the key has one.
 * Returns 0 with *out_token (malloc'd, NUL-terminated; caller frees with
 * free()), or a negative jwt_error (JWT_E_KEY when there is no signing
 * key); *out_token is NULL on error. */
int jwt_sign_access(const struct jwt_keyset *ks, const struct jwt_claims_in *in,
                    char **out_token);

/* ---- verification --------------------------------------------------- */

/* Verified claims.  Fixed-size fields: nothing to free. */
struct jwt_claims {
    char sub[129];       /* subject (user id for local tokens) */
    char org[64];        /* "org" claim, "" if absent */
    unsigned roles;      /* perm_role_from_name() of each "roles" entry;
                            unknown names ignored */
    long long exp;
    long long iat;       /* 0 if absent */
    char jti[65];        /* "" if absent */
    int epoch;           /* "ep" claim, -1 if absent */
    bool external;       /* verified with an external (JWKS) key */
    char username[129];  /* "preferred_username", "" if absent */
};

/* Verify `token` (NUL-terminated) at time `now`.  Returns 0 and fills *out,
 * or a negative jwt_error (then *out is zeroed, epoch -1).
 * Checks, in order: size; three non-empty canonical base64url segments;
 * header is a JSON object without duplicate names; alg one of HS256, RS256,
 * ES256; typ (if any) JWT or at+jwt; no crit; key by kid (unknown kid →
 * JWT_E_UNKNOWN_KID; no kid → only kid-less keys); alg equal to the key's
 * pinned alg; signature by libjwt with exactly that key (and libjwt's alg
 * checked again); payload a JSON object without duplicate names; exp
 * required integral NumericDate, now < exp + leeway; nbf and iat (if any)
 * <= now + leeway; iss equal to the key's issuer; aud equal to / an array
 * of strings containing the key's audience; sub a non-empty string of at
 * most 128 bytes; org, roles, jti, ep, preferred_username well-typed. */
int jwt_verify(const struct jwt_keyset *ks, const char *token, time_t now,
               struct jwt_claims *out);

/* ---- base64url helpers (RFC 4648 section 5, no padding) ------------- */

/* Encode n bytes into out (room for jwt_b64url_encoded_len(n) bytes,
 * including the NUL).  Returns the string length. */
size_t jwt_b64url_encode(const unsigned char *in, size_t n, char *out);
#define jwt_b64url_encoded_len(n) ((((n) + 2) / 3) * 4 + 1)

/* Strictly decode `n` characters of unpadded base64url: only the URL-safe
 * alphabet, no padding, no whitespace, n % 4 != 1, unused bits zero.
 * out needs room for (n / 4) * 3 + 2 bytes.  Returns the decoded length or
 * -1 when the input is not canonical base64url. */
long jwt_b64url_decode(const char *in, size_t n, unsigned char *out);

#endif
