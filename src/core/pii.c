/* Complainants' personal data: key, sealing, digests, masks (see pii.h). */
#include "rectify/pii.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int pii_key_decode(const char *text, unsigned char key[PII_KEY_BYTES])
{
    if (!text)
        return -1;
    size_t len = strlen(text), out = 0;
    if (len == 2 * PII_KEY_BYTES &&
        sodium_hex2bin(key, PII_KEY_BYTES, text, len, NULL, &out, NULL) == 0 &&
        out == PII_KEY_BYTES)
        return 0;
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
                                   sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        const char *end = NULL;
        if (sodium_base642bin(key, PII_KEY_BYTES, text, len, NULL, &out, &end, variants[i]) == 0 &&
            out == PII_KEY_BYTES && end == text + len)
            return 0;
    }
    sodium_memzero(key, PII_KEY_BYTES);
    return -1;
}

int pii_ad(char *out, size_t n, const char *campaign_id, const char *handover_no,
           const char *field)
{
    int w = snprintf(out, n, "rectify-pii:v1:%s:%s:%s", campaign_id, handover_no, field);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int pii_seal(const unsigned char key[PII_KEY_BYTES], const char *ad, const char *m, size_t mlen,
             unsigned char *out)
{
    unsigned char *nonce = out;
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen;
    return crypto_aead_xchacha20poly1305_ietf_encrypt(
               out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
               (const unsigned char *)m, mlen, (const unsigned char *)ad, strlen(ad), NULL,
               nonce, key) == 0 ? 0 : -1;
}

int pii_open(const unsigned char key[PII_KEY_BYTES], const char *ad, const unsigned char *in,
             size_t inlen, char *out, size_t *outlen)
{
    if (inlen < PII_SEAL_OVERHEAD)
        return -1;
    unsigned long long mlen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)out, &mlen, NULL,
            in + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            inlen - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const unsigned char *)ad,
            strlen(ad), in, key) != 0)
        return -1;
    out[mlen] = '\0';
    *outlen = (size_t)mlen;
    return 0;
}

int pii_digest(const unsigned char key[PII_KEY_BYTES], const char *const *values, size_t n,
               unsigned char out[32])
{
    unsigned char sub[32];
    if (crypto_kdf_derive_from_key(sub, sizeof sub, 1, "rctf_pii", key))
        return -1;
    crypto_generichash_state st;
    crypto_generichash_init(&st, sub, sizeof sub, 32);
    for (size_t i = 0; i < n; i++) {
        /* length-prefixed, absent marked apart from empty */
        unsigned char tag = values[i] ? 1 : 0;
        unsigned long long len = values[i] ? strlen(values[i]) : 0;
        crypto_generichash_update(&st, &tag, 1);
        crypto_generichash_update(&st, (const unsigned char *)&len, sizeof len);
        if (values[i])
            crypto_generichash_update(&st, (const unsigned char *)values[i], len);
    }
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(sub, sizeof sub);
    return 0;
}

/* Byte length of the UTF-8 character at s (1 for a stray byte). */
static size_t u8len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if (!s[i])
            return i;
    return n;
}

static size_t u8count(const char *s)
{
    size_t n = 0;
    for (; *s; s += u8len(s))
        n++;
    return n;
}

/* Appends the first k characters of s, then stars, then the last tail
 * characters, truncating at n. */
static void mask(const char *s, size_t keep_head, size_t stars, size_t keep_tail, char *out,
                 size_t n)
{
    size_t o = 0, total = u8count(s), i = 0;
    if (n == 0)
        return;
    for (const char *p = s; *p; i++) {
        size_t l = u8len(p);
        if (i < keep_head || i >= total - keep_tail) {
            if (o + l >= n)
                break;
            memcpy(out + o, p, l);
            o += l;
        } else if (i == keep_head) {
            for (size_t k = 0; k < stars && o + 1 < n; k++)
                out[o++] = '*';
        }
        p += l;
    }
    if (total <= keep_head + keep_tail && stars && total > 0) {
        /* too short to keep anything safely: all stars */
        o = 0;
        for (size_t k = 0; k < total && o + 1 < n; k++)
            out[o++] = '*';
    }
    out[o] = '\0';
}

void pii_mask_name(const char *s, char *out, size_t n)
{
    size_t c = u8count(s);
    if (c <= 1) {
        snprintf(out, n, "%s", c ? "*" : "");
        return;
    }
    mask(s, 1, c - 1, 0, out, n);
}

void pii_mask_phone(const char *s, char *out, size_t n)
{
    size_t c = u8count(s);
    if (c >= 11)
        mask(s, 3, c - 7, 4, out, n);
    else if (c >= 7)
        mask(s, 0, c - 4, 4, out, n);
    else
        mask(s, 0, c, 0, out, n);
}

void pii_mask_id_number(const char *s, char *out, size_t n)
{
    size_t c = u8count(s);
    if (c >= 15)
        mask(s, 6, c - 10, 4, out, n);
    else if (c >= 4)
        mask(s, 1, c - 2, 1, out, n);
    else
        mask(s, 0, c, 0, out, n);
}

void pii_mask_address(const char *s, char *out, size_t n)
{
    size_t c = u8count(s);
    size_t keep = c / 2 < 6 ? c / 2 : 6;
    if (c == 0) {
        snprintf(out, n, "%s", "");
        return;
    }
    mask(s, keep, 4, 0, out, n);
    if (keep == 0)
        snprintf(out, n, "****");
}
