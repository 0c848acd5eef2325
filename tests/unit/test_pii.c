/* Personal data: key formats, sealing bound to row and field, digests, masks. */
#include "unit.h"

#include "rectify/pii.h"

#include <sodium.h>

static void test_key(void)
{
    unsigned char k[PII_KEY_BYTES];
    CHECK_INT(pii_key_decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", k), 0);
    CHECK_INT(k[31], 31);
    CHECK_INT(pii_key_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", k), 0);
    CHECK_INT(k[1], 1);
    CHECK_INT(pii_key_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", k), 0);
    CHECK_INT(pii_key_decode("short", k), -1);
    CHECK_INT(pii_key_decode("", k), -1);
    CHECK_INT(pii_key_decode(NULL, k), -1);
    CHECK_INT(pii_key_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==", k), -1); /* 34 */
}

static void test_seal(void)
{
    unsigned char k[PII_KEY_BYTES], k2[PII_KEY_BYTES];
    randombytes_buf(k, sizeof k);
    randombytes_buf(k2, sizeof k2);
    char ad[256], ad2[256];
    CHECK_INT(pii_ad(ad, sizeof ad, "1", "GS-001", "phone"), 0);
    CHECK_INT(pii_ad(ad2, sizeof ad2, "1", "GS-002", "phone"), 0);
    const char *m = "13812345678";
    unsigned char sealed[64], sealed2[64];
    CHECK_INT(pii_seal(k, ad, m, strlen(m), sealed), 0);
    CHECK_INT(pii_seal(k, ad, m, strlen(m), sealed2), 0);
    CHECK(memcmp(sealed, sealed2, strlen(m) + PII_SEAL_OVERHEAD) != 0); /* random nonce */
    char out[64];
    size_t len;
    CHECK_INT(pii_open(k, ad, sealed, strlen(m) + PII_SEAL_OVERHEAD, out, &len), 0);
    CHECK_STR(out, m);
    CHECK_INT(len, strlen(m));
    CHECK_INT(pii_open(k, ad2, sealed, strlen(m) + PII_SEAL_OVERHEAD, out, &len), -1); /* moved */
    CHECK_INT(pii_open(k2, ad, sealed, strlen(m) + PII_SEAL_OVERHEAD, out, &len), -1); /* key */
    sealed[30] ^= 1;
    CHECK_INT(pii_open(k, ad, sealed, strlen(m) + PII_SEAL_OVERHEAD, out, &len), -1); /* forged */
    CHECK_INT(pii_open(k, ad, sealed, 10, out, &len), -1);
    char tiny[8];
    CHECK_INT(pii_ad(tiny, sizeof tiny, "1", "GS-001", "phone"), -1);
}

static void test_digest(void)
{
    unsigned char k[PII_KEY_BYTES], a[32], b[32];
    randombytes_buf(k, sizeof k);
    const char *v1[] = {"张三", "138", NULL, ""};
    const char *v2[] = {"张三", "138", "", NULL};
    const char *v3[] = {"张三", "138", NULL, ""};
    CHECK_INT(pii_digest(k, v1, 4, a), 0);
    CHECK_INT(pii_digest(k, v2, 4, b), 0);
    CHECK(memcmp(a, b, 32) != 0);
    CHECK_INT(pii_digest(k, v3, 4, b), 0);
    CHECK(memcmp(a, b, 32) == 0);
    const char *s1[] = {"ab", "c"}, *s2[] = {"a", "bc"};
    pii_digest(k, s1, 2, a);
    pii_digest(k, s2, 2, b);
    CHECK(memcmp(a, b, 32) != 0);
}

static void test_masks(void)
{
    char out[128];
    pii_mask_name("张三", out, sizeof out);
    CHECK_STR(out, "张*");
    pii_mask_name("欧阳娜娜", out, sizeof out);
    CHECK_STR(out, "欧***");
    pii_mask_name("李", out, sizeof out);
    CHECK_STR(out, "*");
    pii_mask_name("", out, sizeof out);
    CHECK_STR(out, "");
    pii_mask_phone("13812345678", out, sizeof out);
    CHECK_STR(out, "138****5678");
    pii_mask_phone("09318123456", out, sizeof out);
    CHECK_STR(out, "093****3456");
    pii_mask_phone("8123456", out, sizeof out);
    CHECK_STR(out, "***3456");
    pii_mask_phone("12345", out, sizeof out);
    CHECK_STR(out, "*****");
    pii_mask_id_number("620102199001011234", out, sizeof out);
    CHECK_STR(out, "620102********1234");
    pii_mask_id_number("62010219900101X", out, sizeof out);
    CHECK_STR(out, "620102*****101X");
    pii_mask_address("兰州市城关区张掖路街道123号", out, sizeof out);
    CHECK_STR(out, "兰州市城关区****");
    pii_mask_address("城关区", out, sizeof out);
    CHECK_STR(out, "城****");
    pii_mask_address("x", out, sizeof out);
    CHECK_STR(out, "****");
    pii_mask_phone("13812345678", out, 5); /* truncated, still terminated */
    CHECK_INT(strlen(out), 4);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_key();
    test_seal();
    test_digest();
    test_masks();
    return UNIT_DONE();
}
