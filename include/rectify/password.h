/* password — password hashing (Argon2id), password policy, opaque tokens.
 *
 * Built on libsodium.  Every function is thread-safe and may be called from
 * any HTTP worker thread.  libsodium is initialised once through
 * pthread_once(); password_init() does it eagerly (call it from main before
 * the server starts so a broken libsodium fails the start, not a request).
 *
 * Cost of one hash or verification: Argon2id with
 * crypto_pwhash_OPSLIMIT_INTERACTIVE (2 passes) and
 * crypto_pwhash_MEMLIMIT_INTERACTIVE (64 MiB), i.e. about 50-100 ms of one
 * core and 64 MiB of memory for the duration of the call.  N concurrent
 * sign-ins therefore need N x 64 MiB: the caller should bound how many run at
 * once (e.g. a semaphore around the token endpoint) and rate-limit sign-ins.
 *
 * No function here returns allocated memory: outputs go to caller buffers,
 * messages are static strings. */
#ifndef RECTIFY_PASSWORD_H
#define RECTIFY_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Size of a stored hash string including the terminating NUL
 * (== crypto_pwhash_STRBYTES).  The encoded string is ASCII, starts with
 * "$argon2id$" and is shorter than this; store it in a text column. */
#define PASSWORD_HASH_SIZE 128
/* Policy bounds. */
#define PASSWORD_MIN_CHARS 10   /* Unicode code points */
#define PASSWORD_MAX_BYTES 1024 /* UTF-8 bytes */
/* password_random_token(): 43 base64url characters + NUL. */
#define PASSWORD_TOKEN_SIZE 44
/* password_sha256_hex(): 64 lowercase hex digits + NUL. */
#define PASSWORD_SHA256_HEX_SIZE 65

/* Initialise libsodium (once; later calls are cheap no-ops).
 * Returns 0 on success, -1 when libsodium cannot be initialised. */
int password_init(void);

/* Hash `password` (NUL-terminated, at most PASSWORD_MAX_BYTES bytes) with
 * Argon2id into `out` as a NUL-terminated "$argon2id$..." string.
 * Returns 0 on success, -1 on error (NULL/too long password, out of memory);
 * on error out[0] == '\0'. */
int password_hash(const char *password, char out[static PASSWORD_HASH_SIZE]);

/* Check `password` against a hash made by password_hash().
 * Returns true only when it matches.  Malformed hashes, passwords longer
 * than PASSWORD_MAX_BYTES and NULL password give false.
 * Pass hash == NULL when the user does not exist: the call then spends the
 * same time verifying against an internal dummy hash and returns false, so
 * response timing does not reveal which user names exist. */
bool password_verify(const char *hash, const char *password);

/* True when `hash` was made with other parameters than the current ones
 * (or is malformed): re-hash the password after a successful sign-in. */
bool password_needs_rehash(const char *hash);

/* Password policy.  Returns NULL when `password` is acceptable for
 * `username` (which may be NULL or empty), otherwise a static English
 * message suitable for a validation error (never free it):
 *   - at least PASSWORD_MIN_CHARS characters (code points), valid UTF-8,
 *     at most PASSWORD_MAX_BYTES bytes;
 *   - not equal to the user name and not containing it (ASCII letters
 *     compared case-insensitively);
 *   - not one character repeated. */
const char *password_policy_error(const char *username, const char *password);

/* 32 random bytes from libsodium's CSPRNG, base64url without padding:
 * 43 characters + NUL.  For opaque refresh tokens; store only their
 * password_sha256_hex() in the database.  out is "" only if libsodium
 * could not be initialised (see password_init). */
void password_random_token(char out[static PASSWORD_TOKEN_SIZE]);

/* SHA-256 of the NUL-terminated string `s` as 64 lowercase hex digits + NUL.
 * (NULL is hashed as the empty string.) */
void password_sha256_hex(const char *s, char out[static PASSWORD_SHA256_HEX_SIZE]);

#endif
