/* Unit tests for src/auth/password.c: Argon2id hash/verify, policy,
 * random tokens, SHA-256 hex.  Hashing costs 64 MiB and ~0.1 s per call
 * (seconds under valgrind), so the hash tests are few on purpose. */
#define _POSIX_C_SOURCE 200809L

#include "rectify/password.h"
#include "unit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void test_hash_verify(void)
{
    char h1[PASSWORD_HASH_SIZE], h2[PASSWORD_HASH_SIZE];
    CHECK_INT(password_init(), 0);
    CHECK_INT(password_init(), 0); /* idempotent */

    CHECK_INT(password_hash("correct horse battery", h1), 0);
    CHECK_INT(password_hash("correct horse battery", h2), 0);
    CHECK(strncmp(h1, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    CHECK(strcmp(h1, h2) != 0); /* random salt */
    CHECK(strlen(h1) < PASSWORD_HASH_SIZE);

    CHECK(password_verify(h1, "correct horse battery"));
    CHECK(!password_verify(h1, "correct horse batterY"));
    CHECK(!password_verify(h1, NULL));
    CHECK(!password_needs_rehash(h1));
}

static void test_verify_rejects(void)
{
    /* Unknown user: dummy hash, always false. */
    CHECK(!password_verify(NULL, "anything at all"));

    /* Malformed hashes never verify and never crash. */
    static const char *const bad[] = {
        "",
        "plaintext-password",
        "$2y$10$abcdefghijklmnopqrstuuZ3hQzGzLZrJ3x2l9c4E8o7dWqk2Wm",
        "$argon2id$",
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$argon2id$v=19$m=65536,t=2,p=1$###$###",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!password_verify(bad[i], "plaintext-password"));
        CHECK(password_needs_rehash(bad[i]));
    }
    /* A "hash" without a NUL inside PASSWORD_HASH_SIZE bytes. */
    char *unterminated = malloc(PASSWORD_HASH_SIZE + 8);
    memset(unterminated, 'a', PASSWORD_HASH_SIZE + 7);
    memcpy(unterminated, "$argon2id$", 10);
    unterminated[PASSWORD_HASH_SIZE + 7] = '\0';
    CHECK(!password_verify(unterminated, "x"));
    free(unterminated);
    CHECK(password_needs_rehash(NULL));

    /* Too long passwords are refused by hash and verify. */
    char *long_pw = malloc(PASSWORD_MAX_BYTES + 2);
    memset(long_pw, 'x', PASSWORD_MAX_BYTES + 1);
    long_pw[PASSWORD_MAX_BYTES + 1] = '\0';
    char out[PASSWORD_HASH_SIZE];
    CHECK_INT(password_hash(long_pw, out), -1);
    CHECK_STR(out, "");
    CHECK_INT(password_hash(NULL, out), -1);
    free(long_pw);

    /* Different (older, cheaper) parameters → needs rehash. */
    char cheap[crypto_pwhash_STRBYTES];
    CHECK_INT(crypto_pwhash_str_alg(cheap, "abc", 3, crypto_pwhash_OPSLIMIT_MIN,
                                    crypto_pwhash_MEMLIMIT_MIN,
                                    crypto_pwhash_ALG_ARGON2ID13), 0);
    CHECK(password_needs_rehash(cheap));
    CHECK(password_verify(cheap, "abc"));
}

struct policy_case {
    const char *username;
    const char *password;
    const char *error; /* NULL = accepted, else the exact message */
};

static const char E_REQUIRED[] = "password is required";
static const char E_SHORT[] = "password must be at least 10 characters long";
static const char E_LONG[] = "password must be at most 1024 bytes long";
static const char E_USER[] = "password must not contain the user name";
static const char E_SAME[] = "password must not be a single repeated character";
static const char E_UTF8[] = "password must be valid UTF-8 text";
static const char E_CTRL[] = "password must not contain control characters";

static const struct policy_case policy_cases[] = {
    {"alice", "correct horse battery", NULL},
    {"alice", "0123456789", NULL},
    {NULL, "a long enough one", NULL},
    {"", "a long enough one", NULL},
    {"alice", NULL, E_REQUIRED},
    {"alice", "", E_REQUIRED},
    {"alice", "123456789", E_SHORT},              /* 9 */
    {"alice", "shortpw", E_SHORT},
    {"alice", "整改办密码安全", E_SHORT},         /* 7 code points, 21 bytes */
    {"alice", "整改办密码安全要求足够", NULL},     /* 11 code points */
    {"alice", "aaaaaaaaaaaa", E_SAME},
    {"alice", "\xe6\x95\xb4\xe6\x95\xb4\xe6\x95\xb4\xe6\x95\xb4\xe6\x95\xb4"
              "\xe6\x95\xb4\xe6\x95\xb4\xe6\x95\xb4\xe6\x95\xb4\xe6\x95\xb4", E_SAME},
    {"alice", "alice", E_SHORT},                  /* short wins: checked first */
    {"alice.wang", "alice.wang", E_USER},
    {"alice.wang", "ALICE.WANG", E_USER},
    {"alice", "my-ALIce-password", E_USER},
    {"alice", "xxALICExx1", E_USER},
    {"Bob", "bobbobbobbob", E_USER},
    {"alice", "alic e is here", NULL},
    {"alice", "bad utf8 \xff\xfe here", E_UTF8},
    {"alice", "overlong \xc0\xaf slash", E_UTF8},
    {"alice", "surrogate \xed\xa0\x80 x", E_UTF8},
    {"alice", "truncated seq \xe6\x95", E_UTF8},
    {"alice", "tab\tinside password", E_CTRL},
};

static void test_policy(void)
{
    for (size_t i = 0; i < sizeof policy_cases / sizeof policy_cases[0]; i++) {
        const struct policy_case *c = &policy_cases[i];
        const char *got = password_policy_error(c->username, c->password);
        if (c->error == NULL) {
            if (got)
                fprintf(stderr, "policy case %zu: unexpected \"%s\"\n", i, got);
            CHECK(got == NULL);
        } else {
            CHECK_STR(got, c->error);
        }
    }
    /* Length bounds in bytes. */
    char *pw = malloc(PASSWORD_MAX_BYTES + 2);
    for (size_t i = 0; i < PASSWORD_MAX_BYTES + 1; i++)
        pw[i] = (char)('a' + i % 26);
    pw[PASSWORD_MAX_BYTES] = '\0';
    CHECK(password_policy_error("zz-not-there", pw) == NULL);
    pw[PASSWORD_MAX_BYTES] = 'x';
    pw[PASSWORD_MAX_BYTES + 1] = '\0';
    CHECK_STR(password_policy_error("zz", pw), E_LONG);
    free(pw);
}

static bool is_b64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

static void test_tokens(void)
{
    char a[PASSWORD_TOKEN_SIZE], b[PASSWORD_TOKEN_SIZE];
    password_random_token(a);
    password_random_token(b);
    CHECK_INT(strlen(a), 43);
    CHECK_INT(strlen(b), 43);
    CHECK(is_b64url(a));
    CHECK(strcmp(a, b) != 0);

    struct { const char *in, *hex; } vec[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {NULL, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char hex[PASSWORD_SHA256_HEX_SIZE];
        password_sha256_hex(vec[i].in, hex);
        CHECK_STR(hex, vec[i].hex);
    }
}

int main(void)
{
    test_hash_verify();
    test_verify_rejects();
    test_policy();
    test_tokens();
    return UNIT_DONE();
}
