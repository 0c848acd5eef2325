/* RSA keys for the JWT and JWKS unit tests, and test_key() to parse them
 * (the caller EVP_PKEY_free()s the key). Included by test_jwt.c and
 * test_jwks.c only. */
#ifndef RECTIFY_TEST_KEYS_H
#define RECTIFY_TEST_KEYS_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_FIXTURE __attribute__((unused)) /* not every test uses every key */

/* Fixed RSA keys for tests only (made once with `openssl genpkey`): RSA
 * key generation takes 10-20 s per key under valgrind.  Stored with
 * "TESTING KEY" in the PEM labels so that secret scanners do not flag them;
 * test_key() puts "PRIVATE KEY" back before parsing.  EC keys are cheap and
 * are generated at run time. */
static const char UNIT_FIXTURE RSA_2048_A[] =
    "-----BEGIN TESTING KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDkRjhPtpamSdED\n"
    "2v2VJ8FKrCblo1uHmM/DYLNQLTZjxCTvnT8arBloxJBCFzE1EWEhs59X3Jhl1Als\n"
    "RCuc9hRXXRhhQVJC9A9F7VKGW0ARQZRBxbYDGrnePqA5a0lW+jytJHw/JuOYx2iR\n"
    "gJ3HgnynAREFnXyBMfDobiHAD5YUWHnYFoke8xU5PTcMvWKGrfT1p3BfthqMmFIa\n"
    "NoIe5KUpmB9nvwwsJQUU8PzzGXtqMKY5Xiyqq1M7IZcPj+k383tY4Mn5neS5KZTN\n"
    "y6XCx9Bif5djWiAON2OEzqyGckYEbeABsT9/VD8g1RD0O2H9w3+YEOlRqnDV0N7z\n"
    "VIp8M8NtAgMBAAECggEAON66pDdVuFdfDIIYF3sIR4l0hlTolnNOXXs/qQueh4Pj\n"
    "/NM017kE+oov81syTemGxJ3qpnnFeOb2swOXxvqyjiJaEs6yhw4lKPNrUiA1Kado\n"
    "H2u5gPP9Vt5MzglJw/LDP5J9psESRit1xHwhssTyN6wHGNpHnKs7vLhFTcNETUxW\n"
    "ArueULVd7RD7YOEwa+U6ir+6+q1hqanpv2jwleDnsjJ04JWt9eVfO2LMPApMGNNa\n"
    "7CKLYrup3iPwQs93eBPdMBk972qPclisdsSoE/lA0bZF9oXfqmO3kYbp/8e1t9dg\n"
    "6FFfvetdGEe19ORN1+28WG/UAFRxMTB7d5a0iz3XMQKBgQD7IdBOGzim7iUFNZrJ\n"
    "xRnfKWRVdwL6ofyBUkSVkYm05QjV02pujk59ot0h6KDH+3fSboY+gq85lEK++kcA\n"
    "5R+UoJB9LMkT5iDBHdtK9RJ7JsJkd2B/sO+bQ5erqD+PDgpBmv1dp0RnJNIhzKpH\n"
    "kGUT0SH3BUsuDUTO0gDGAVEfkQKBgQDosvrK7gh28wl7A5K6+5bskMpH2+1bMPzr\n"
    "PR0R1CK9Is/AcZCPlxk5Eo0IAf4OIaeumObHPV3c79FNeGDdcwIaoH10tJVVFK6O\n"
    "Zrv19cSHiXvEM5zNTRLhg6L4gABaUAe36oqpDYfVUxPqQ9IdIdYg08illbeF9ZZN\n"
    "lYkfQpgwHQKBgAw7QWIMgV3gC32NdtSM/Q2ZfoGLImICscG6uAxw4jwlS6DegziP\n"
    "RdNos0yLgAk9fkCJkZBJ3S74wad7mSm5/yfGCkOOgtytQLsnMR8dgKDu6ljqV5Dg\n"
    "lUsCp8h8kVvuWyGG4wBEvVgouvNafJCvv7yPWxAk+dxsWQWZxN/gAIuBAoGAX5Kr\n"
    "KM/NEDXPzgNwr3WHzk/FlPACM7MSHffyyZDMV8xFca/zBNa1WFiDLifLVbiC61YH\n"
    "awuMUqL43w2zEyEaWx9Rh65nqxMcgoY1atbvSg+wkqv0Geou+Aqd09yWyIEYOnSN\n"
    "UNOq13YQtuX2FVsBXGg/f6rXPqDYg7MIJ5utcA0CgYEA9hjnsZ+8lDgaO8xIHBMX\n"
    "fdcH+7v728/f2AdlHIJX46orf1552BmmAIxzrgcElYn4AuAbA1Y5c+Opd+Vf/ZJm\n"
    "ySbblhefKjyrIM3IKx0M1RHGAADLRdc2PEwKjCGnXpr3OI1QodBoSJ2QDpkJIcYI\n"
    "uBkSq3wisdY/Ted4X/O3IfA=\n"
    "-----END TESTING KEY-----\n";
static const char UNIT_FIXTURE RSA_2048_B[] =
    "-----BEGIN TESTING KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCWppizMxMvHqnn\n"
    "qzWqgCp7ifdq0koksgKbYM2nGeLZzIm0Iwr2WGgZT4vL/K9BRD6jKyuywSxvsC8L\n"
    "MzFvGTmqTvEmHHjvVVoqjh/GMCHr+N2+P1XxqWmcFCcjGPe8Qk6MEQhcS0FB91VM\n"
    "CLoi4rq1ZiuONW/sBD+W1l22me9nXrDc73yCfVPJJ3u6Qr9mu7wKuZqhZA36iAjQ\n"
    "UaXgQ3OM1WXI2DSegaTp+ue8BOzyxFbO6X7XPTrDY2Htd6HL4a8mNUDNEXhRUJu7\n"
    "jLy4QwUEGOOptl6mO0hqdTEJsPP9wx46R/ktRqRaGgKxutd7gfnYdLhGZtpxUEhm\n"
    "6aSvBBH7AgMBAAECggEAD/vuILlPFEVLHq7+OzBtEX2CeF2Gi10txKGhQFURSi2X\n"
    "ALtlGt0ncmQLv6F4UNL2WGaotMclOVZ2r1gHqzOAeE727CXCORaTwgchXOxXdQuL\n"
    "L3fV3RWuBGbo/iLUii942Qinm+9KJb8h2Dbm1PO8fqmv/l8yGFcdDhqBh/HOQmfS\n"
    "Zs24X3qGAadtkcaTB/zcstyaw65ocVrkxTRE1MypqZs/rAMOkegFhdbCwh5CybRe\n"
    "WZeHQFFiXnvpVN75LPXTanTjpiis33bPAkG0MMlLKsQlr075sTo6qFAXQkF+Kabp\n"
    "/hwsTDkPCE8CaKZC1cDRZB+u+QkTOr4+GlnvhzmTmQKBgQDLDb81H3wJ0JCaabeT\n"
    "0m/zNAPI/iceB8bPNAtlCOw/gCKTjaIpuRis1wQeAwdm7Zu3UtOwqGKhhc4dy1RP\n"
    "PJdFTJ6IRjKpthfD98I8A+8lyvlsQgFor46RGikxO0iM88o5Un3NomcL6NJKZy3O\n"
    "XQUUXk6cekG1NQz2mjk8KbuyYwKBgQC97tiKM1BQpYjv4uHEv/ttQC1IOtcGrCXR\n"
    "85BOrnTqTBlTOZUww0KEcK/lLGOsRfL2MBVCSbTIHLbngyfB0fIrjAGX/4XXDOvq\n"
    "tEieLQw/iBTm7CDLeG9+zLBgGqmy2y0hd4NlDYnlmGVGbpGxg9F5z5iVmFfePhFn\n"
    "GBrwli1piQKBgArNxXGvJitjhH4ix9i+pqQ7DUSBeVVYtpRJwZ1zlxZd2/kb3Rf5\n"
    "OD3iBt8N7DPmypU7e/X3T6AmfWwKaIb6w1W1mO3JRmLPRH5xzUziLLRHE3RWIrsO\n"
    "NDi2OqDa9aZCRm08XWM2k+MHVUEOMlq7ikymI+qheqOImhL467iuw8TfAoGAJtuW\n"
    "sa+N3vH+8hUY24friI54tS5Uj6jok+ugung2sziedchyHWfVVAM5+Uj7m2M0Menk\n"
    "b4tk0QwO346Vs7GgOgiKyu4cE8MxAPOhZ7sPpm/Q1u24R+h75xU5gG/0CAOPWCl7\n"
    "WFFMxQxIrAAzDn5JfQJb1T81uuI37T+hQ1d2MwECgYBlj0Tx9Ekudn2vQEAZAelT\n"
    "uWkzet1SkqWoA3yE88rxKHhFGpaKemjbtrvDN8cnT/IXytr4L9h97ARGY5jABoi5\n"
    "kat02mxNfAw6AqXFZu7WJnk5CaOy2hy9KeTuDx9igzdTlTPj1rjVlE/ShCXZ10ME\n"
    "ajA211ROBIXhsZR7uCafig==\n"
    "-----END TESTING KEY-----\n";
static const char UNIT_FIXTURE RSA_1024[] =
    "-----BEGIN TESTING KEY-----\n"
    "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAMNFvcru9ec0ajxy\n"
    "f8qiZnFIVJjYGFc14I7q0CeXnLmo5ZbNDwc7LqCgl75i/ebSiAXdgCprh98OSlHu\n"
    "oRQeDQm9ngRXk/j+AKTzyDgx76xb68ECjGO5NZnZNp6VbfRtrDxIfztUiycO2reV\n"
    "LUNLuCpTSF5ni6VLbdMtB0hjSEftAgMBAAECgYBYfATJrUiucPjm1TeFGdvz30O+\n"
    "UsWM1zQfbtXN6wywsJEAqYDy1OWHEd5Q/khxTNsoVTubfUh/UdlpkQlatVdQU2JS\n"
    "Jsfipf8GBjk/+WdS3vVh53SXBv9aM2uoIvPnhUj4DcrNVhE9fvCxbCSFiOL4PDRA\n"
    "IsKMMKbzROhfdihlwQJBAP3Om9iCNAlFkZUK2q7LyqYrpi10z/eTT30Le9itX5st\n"
    "djpAwFDPWXVZO/RcRur9S3MYXLhqcj6rJnhCX90gRx0CQQDE9akxC71wpKmWR1Da\n"
    "FTu2jvypknK8NVyEPMJ1ncs/8+wFncTxuq+tOkZ56bh2e8bgAsxbtEXBH7TnxUIw\n"
    "WZsRAkEA84FvWlkJTb/2PfWM+9lAEw+bvs7s3I3z3HfRGYC1Um9al+cZ3C4jmQfF\n"
    "EtwZmkjsQ3+jLbfK5j9UiFq+GKxoLQJAcf0fK1R5Ef0qbN/fSifpxDEix10LbCOR\n"
    "5LJpdLqbC+s2mNWDSsdZru7AJQSADop6QeE8toIxsKCSCWUfdm4VkQJAOB0Y2h72\n"
    "a2cBtDShcW+5F+2HxgbgTEO7+azh6bcpGXTj9iTRjBLETaft2CnKmDLmbV+HbD15\n"
    "V/Ld/MULuO6Cdg==\n"
    "-----END TESTING KEY-----\n";

static EVP_PKEY *test_key(const char *pem)
{
    char *s = strdup(pem), *p;
    while ((p = strstr(s, "TESTING KEY")))
        memcpy(p, "PRIVATE", 7);
    BIO *b = BIO_new_mem_buf(s, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    free(s);
    return k;
}

#endif
