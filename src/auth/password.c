/* password — Argon2id hashing, policy and opaque tokens (libsodium).
 * See include/rectify/password.h for the contract. */
#define _POSIX_C_SOURCE 200809L

#include "rectify/password.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

_Static_assert(PASSWORD_HASH_SIZE == crypto_pwhash_STRBYTES,
               "PASSWORD_HASH_SIZE must match libsodium");

/* Argon2id hash of a random string nobody knows, made with the current
 * parameters (m=64 MiB, t=2, p=1): verified against when the user does not
 * exist, so the answer takes as long as for a real user. */
static const char dummy_hash[] =
    "$argon2id$v=19$m=65536,t=2,p=1$ob3RNqjfKt8WZPLnHlrMRA$"
    "OraoPQz0h4l5PFfjUQE1+I8rg1vR4oM0IYeOLu+I0pQ";

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_state; /* written once inside pthread_once, then read-only */

static void sodium_init_once(void)
{
    sodium_state = sodium_init() < 0 ? -1 : 0;
}

int password_init(void)
{
    if (pthread_once(&sodium_once, sodium_init_once) != 0)
        return -1;
    return sodium_state;
}

int password_hash(const char *password, char out[static PASSWORD_HASH_SIZE])
{
    out[0] = '\0';
    if (password_init() != 0 || !password)
        return -1;
    size_t len = strnlen(password, PASSWORD_MAX_BYTES + 1);
    if (len > PASSWORD_MAX_BYTES)
        return -1;
    if (crypto_pwhash_str_alg(out, password, len,
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* A stored hash must be a NUL-terminated Argon2id string that fits in
 * PASSWORD_HASH_SIZE; anything else is treated as "no match". */
static bool hash_well_formed(const char *hash)
{
    static const char prefix[] = "$argon2id$";
    if (!hash)
        return false;
    size_t n = strnlen(hash, PASSWORD_HASH_SIZE);
    return n < PASSWORD_HASH_SIZE && n > sizeof prefix - 1 &&
           memcmp(hash, prefix, sizeof prefix - 1) == 0;
}

bool password_verify(const char *hash, const char *password)
{
    if (password_init() != 0)
        return false;
    bool real = hash != NULL;
    if (!real)
        hash = dummy_hash;
    if (!hash_well_formed(hash))
        return false;
    if (!password)
        password = "";
    size_t len = strnlen(password, PASSWORD_MAX_BYTES + 1);
    if (len > PASSWORD_MAX_BYTES)
        return false;
    /* crypto_pwhash_str_verify() reads the hash as a C string; it was
     * checked above to end inside PASSWORD_HASH_SIZE bytes. */
    int rc = crypto_pwhash_str_verify(hash, password, len);
    return real && rc == 0;
}

bool password_needs_rehash(const char *hash)
{
    if (password_init() != 0 || !hash_well_formed(hash))
        return true;
    return crypto_pwhash_str_needs_rehash(hash,
                                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

/* Decode one UTF-8 sequence at s[*i] (strict: no overlongs, no surrogates,
 * nothing above U+10FFFF).  Returns the code point and advances *i, or
 * returns -1 for invalid input. */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    long cp;
    size_t need;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if (c >= 0xC2 && c <= 0xDF) {
        cp = c & 0x1F;
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        cp = c & 0x0F;
        need = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
        cp = c & 0x07;
        need = 3;
    } else {
        return -1;
    }
    if (*i + need >= len)
        return -1;
    for (size_t k = 1; k <= need; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += need + 1;
    return cp;
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Does `hay` (hlen bytes) contain `needle` (nlen > 0 bytes), comparing
 * ASCII letters case-insensitively and other bytes exactly? */
static bool contains_ci(const char *hay, size_t hlen, const char *needle,
                        size_t nlen)
{
    if (nlen > hlen)
        return false;
    for (size_t i = 0; i + nlen <= hlen; i++) {
        size_t k = 0;
        while (k < nlen && ascii_lower((unsigned char)hay[i + k]) ==
                               ascii_lower((unsigned char)needle[k]))
            k++;
        if (k == nlen)
            return true;
    }
    return false;
}

const char *password_policy_error(const char *username, const char *password)
{
    if (!password || !*password)
        return "password is required";
    size_t len = strnlen(password, PASSWORD_MAX_BYTES + 1);
    if (len > PASSWORD_MAX_BYTES)
        return "password must be at most 1024 bytes long";

    const unsigned char *p = (const unsigned char *)password;
    size_t i = 0, chars = 0;
    long first = -1;
    bool all_same = true;
    while (i < len) {
        long cp = utf8_next(p, len, &i);
        if (cp < 0)
            return "password must be valid UTF-8 text";
        if (cp < 0x20 || cp == 0x7F)
            return "password must not contain control characters";
        if (first < 0)
            first = cp;
        else if (cp != first)
            all_same = false;
        chars++;
    }
    if (chars < PASSWORD_MIN_CHARS)
        return "password must be at least 10 characters long";
    if (all_same)
        return "password must not be a single repeated character";
    if (username && *username) {
        size_t ulen = strlen(username);
        if (contains_ci(password, len, username, ulen))
            return "password must not contain the user name";
    }
    return NULL;
}

void password_random_token(char out[static PASSWORD_TOKEN_SIZE])
{
    unsigned char raw[32];
    if (password_init() != 0) {
        /* libsodium unusable: never hand out a predictable token. */
        out[0] = '\0';
        return;
    }
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, PASSWORD_TOKEN_SIZE, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

void password_sha256_hex(const char *s, char out[static PASSWORD_SHA256_HEX_SIZE])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    if (!s)
        s = "";
    (void)password_init();
    crypto_hash_sha256(digest, (const unsigned char *)s, strlen(s));
    sodium_bin2hex(out, PASSWORD_SHA256_HEX_SIZE, digest, sizeof digest);
}
