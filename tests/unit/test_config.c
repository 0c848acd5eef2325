#include "rectify/config.h"
#include "unit.h"

#include <stdlib.h>

static int load(struct config *c, int argc, char **argv, char *err)
{
    return config_load(c, CMD_SERVE, argc, argv, err, 256, stdout);
}

int main(void)
{
    long long v;
    CHECK_INT(config_parse_int("42", 0, 100, false, &v), 0);
    CHECK_INT(v, 42);
    CHECK_INT(config_parse_int("1k", 0, 1LL << 40, true, &v), 0);
    CHECK_INT(v, 1024);
    CHECK_INT(config_parse_int("20MiB", 0, 1LL << 40, true, &v), 0);
    CHECK_INT(v, 20LL << 20);
    CHECK_INT(config_parse_int("2m", 0, 1LL << 40, false, &v), -1);   /* no suffix for counts */
    CHECK_INT(config_parse_int("", 0, 100, false, &v), -1);
    CHECK_INT(config_parse_int(" 4", 0, 100, false, &v), -1);
    CHECK_INT(config_parse_int("+4", 0, 100, false, &v), -1);
    CHECK_INT(config_parse_int("4 ", 0, 100, false, &v), -1);
    CHECK_INT(config_parse_int("101", 0, 100, false, &v), -1);
    CHECK_INT(config_parse_int("-1", 0, 100, false, &v), -1);
    CHECK_INT(config_parse_int("99999999999999999999", 0, 100, false, &v), -1);
    CHECK_INT(config_parse_int("9000000000g", 0, 1LL << 62, true, &v), -1); /* overflow */

    char err[256];
    struct config c;
    unsetenv("RECTIFY_DATABASE_URL");
    CHECK_INT(load(&c, 0, NULL, err), -1);
    CHECK(strstr(err, "RECTIFY_DATABASE_URL") != NULL);

    setenv("RECTIFY_DATABASE_URL", "postgresql:///x", 1);
    unsetenv("RECTIFY_JWT_SECRET");
    unsetenv("RECTIFY_JWT_PRIVATE_KEY_FILE");
    CHECK_INT(load(&c, 0, NULL, err), -1); /* serve needs a signing key */
    CHECK(strstr(err, "RECTIFY_JWT_SECRET") != NULL);
    setenv("RECTIFY_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    unsetenv("RECTIFY_PII_KEY");
    CHECK_INT(load(&c, 0, NULL, err), -1); /* serve needs the personal-data key */
    CHECK(strstr(err, "RECTIFY_PII_KEY") != NULL);
    setenv("RECTIFY_PII_KEY", "0123", 1);
    CHECK_INT(load(&c, 0, NULL, err), -1); /* not 32 bytes */
    setenv("RECTIFY_PII_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
    setenv("RECTIFY_THREADS", "12", 1);
    CHECK_INT(load(&c, 0, NULL, err), 0);
    CHECK_STR(c.database_url, "postgresql:///x");
    CHECK_STR(c.listen, "127.0.0.1:8080");
    CHECK_INT(c.threads, 12);
    CHECK_INT(c.db_pool, 0); /* 0 = two per core, resolved by serve */
    CHECK_INT(c.import_workers, 2);
    CHECK_INT(c.max_body, 1048576);
    CHECK(!c.migrate);
    CHECK_INT(c.access_token_ttl, 900);
    CHECK_STR(c.jwt_issuer, "rectify");
    setenv("RECTIFY_JWKS_URL", "https://idp.example/jwks", 1);
    CHECK_INT(load(&c, 0, NULL, err), -1); /* needs the external issuer/audience */
    setenv("RECTIFY_EXTERNAL_ISSUER", "https://idp.example", 1);
    setenv("RECTIFY_EXTERNAL_AUDIENCE", "rectify", 1);
    CHECK_INT(load(&c, 0, NULL, err), 0);
    unsetenv("RECTIFY_JWKS_URL");

    char *argv[] = {"--threads", "3", "--max-body=2k", "--migrate", "--log-level", "warn"};
    CHECK_INT(load(&c, 6, argv, err), 0);
    CHECK_INT(c.threads, 3);
    CHECK_INT(c.max_body, 2048);
    CHECK(c.migrate);
    CHECK_INT(c.log_level, LOG_WARN);

    setenv("RECTIFY_DB_POOL", "lots", 1);
    CHECK_INT(load(&c, 0, NULL, err), -1);
    CHECK(strstr(err, "RECTIFY_DB_POOL") != NULL);
    unsetenv("RECTIFY_DB_POOL");

    char *bad_flag[] = {"--nope"};
    CHECK_INT(load(&c, 1, bad_flag, err), -1);
    CHECK(strstr(err, "--nope") != NULL);
    char *missing_value[] = {"--threads"};
    CHECK_INT(load(&c, 1, missing_value, err), -1);
    char *bad_bool[] = {"--migrate=perhaps"};
    CHECK_INT(load(&c, 1, bad_bool, err), -1);

    /* The migrate command ignores serve-only variables... */
    setenv("RECTIFY_THREADS", "zero", 1);
    CHECK_INT(config_load(&c, CMD_MIGRATE, 0, NULL, err, sizeof err, stdout), 0);
    /* ...and does not accept their flags. */
    char *serve_flag[] = {"--threads", "2"};
    CHECK_INT(config_load(&c, CMD_MIGRATE, 2, serve_flag, err, sizeof err, stdout), -1);
    unsetenv("RECTIFY_THREADS");

    CHECK(config_origin_allowed("https://a.example, https://b.example", "https://b.example"));
    CHECK(config_origin_allowed("https://a.example,https://b.example", "https://a.example"));
    CHECK(!config_origin_allowed("https://a.example", "https://a.example.evil"));
    CHECK(!config_origin_allowed("https://a.example", "https://a.exampl"));
    CHECK(!config_origin_allowed("", "https://a.example"));
    CHECK(!config_origin_allowed("https://a.example", ""));
    CHECK(config_origin_allowed("*", "https://anything.example"));
    return UNIT_DONE();
}
