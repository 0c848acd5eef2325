/* pii — complainants' personal data: the key, encryption at rest, change
 * digests and the masked forms shown to everyone who may not see it.
 *
 * Encryption is XChaCha20-Poly1305 (libsodium, random 192-bit nonce) with
 * associated data naming the complaint and the field ("rectify-pii:v1:
 * <campaign_id>:<handover_no>:<field>"), so a ciphertext moved to another
 * row or column fails to open. Sealed form: nonce (24) || ciphertext || tag
 * (16). The digest is keyed BLAKE2b-256 (key derived from the PII key) of
 * the clear values, to tell changed from unchanged without decrypting.
 *
 * All functions are thread-safe, use only caller buffers, and never log. */
#ifndef RECTIFY_PII_H
#define RECTIFY_PII_H

#include <stddef.h>

#define PII_KEY_BYTES 32
#define PII_SEAL_OVERHEAD 40 /* nonce 24 + tag 16 */

/* 32 bytes from 64 hex digits or base64 (standard or URL alphabet, padding
 * optional). Returns 0, or -1 when text is anything else. */
int pii_key_decode(const char *text, unsigned char key[PII_KEY_BYTES]);

/* The associated data for one field of one complaint (NUL-terminated in out;
 * -1 when it does not fit). */
int pii_ad(char *out, size_t n, const char *campaign_id, const char *handover_no,
           const char *field);

/* Seals m[0..mlen) into out (mlen + PII_SEAL_OVERHEAD bytes). 0 or -1. */
int pii_seal(const unsigned char key[PII_KEY_BYTES], const char *ad, const char *m, size_t mlen,
             unsigned char *out);
/* Opens in[0..inlen) into out (at least inlen - PII_SEAL_OVERHEAD + 1 bytes,
 * NUL-terminated), *outlen the clear length. -1 when forged, truncated or
 * sealed for another row/field. */
int pii_open(const unsigned char key[PII_KEY_BYTES], const char *ad, const unsigned char *in,
             size_t inlen, char *out, size_t *outlen);

/* Keyed digest of n values (NULL = absent, distinct from ""). 0 or -1. */
int pii_digest(const unsigned char key[PII_KEY_BYTES], const char *const *values, size_t n,
               unsigned char out[32]);

/* Masked forms (UTF-8 aware, NUL-terminated into out; truncated to n):
 *   name     张三 -> 张*, 欧阳娜娜 -> 欧***
 *   phone    13812345678 -> 138****5678; shorter: last 4 kept at most
 *   id       620102199001011234 -> 620102********1234
 *   address  first characters (at most 6, at most half) then **** */
void pii_mask_name(const char *s, char *out, size_t n);
void pii_mask_phone(const char *s, char *out, size_t n);
void pii_mask_id_number(const char *s, char *out, size_t n);
void pii_mask_address(const char *s, char *out, size_t n);

#endif
