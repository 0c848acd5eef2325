/* Text helpers shared by the batch imports (ledger_io.c, complaint_import.c). */
#include "rectify/import_text.h"

#include "rectify/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The first row of key, or 0 after recording it; -1 when out of memory. */
long long seen_put(struct seen *s, const char *key, long long row)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        char **keys = calloc(cap, sizeof *keys);
        long long *rows = calloc(cap, sizeof *rows);
        if (!keys || !rows) {
            free(keys);
            free(rows);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i])
                continue;
            size_t j = hash_str(s->keys[i]) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = s->keys[i];
            rows[j] = s->rows[i];
        }
        free(s->keys);
        free(s->rows);
        s->keys = keys;
        s->rows = rows;
        s->cap = cap;
    }
    size_t j = hash_str(key) & (s->cap - 1);
    while (s->keys[j]) {
        if (strcmp(s->keys[j], key) == 0)
            return s->rows[j];
        j = (j + 1) & (s->cap - 1);
    }
    if (!(s->keys[j] = strdup(key)))
        return -1;
    s->rows[j] = row;
    s->n++;
    return 0;
}

void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

/* ASCII white space and the full-width space trimmed; NULL when empty. */
char *import_trimmed(struct arena *a, const char *s, size_t len)
{
    size_t b = 0, e = len;
    for (;;) {
        if (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n'))
            b++;
        else if (e - b >= 3 && memcmp(s + b, "\xE3\x80\x80", 3) == 0)
            b += 3;
        else
            break;
    }
    for (;;) {
        if (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
            e--;
        else if (e - b >= 3 && memcmp(s + e - 3, "\xE3\x80\x80", 3) == 0)
            e -= 3;
        else
            break;
    }
    return e > b ? arena_strndup(a, s + b, e - b) : NULL;
}

static bool digits(const char **p, int maxd, int *out)
{
    int n = 0, v = 0;
    while (**p >= '0' && **p <= '9' && n < maxd) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (!n || (**p >= '0' && **p <= '9'))
        return false;
    *out = v;
    return true;
}

static bool calendar_date_ok(int y, int m, int d)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

/* 2024-06-30, 2024/6/30, 2024.6.30, 2024年6月30日 → out "2024-06-30";
 * *rest = what follows. */
bool import_parse_date(const char *s, char out[11], const char **rest)
{
    const char *p = s;
    int y, m, d;
    if (!digits(&p, 4, &y) || p - s != 4)
        return false;
    bool zh = strncmp(p, "年", 3) == 0;
    char sep = *p;
    if (zh)
        p += 3;
    else if (sep == '-' || sep == '/' || sep == '.')
        p++;
    else
        return false;
    if (!digits(&p, 2, &m))
        return false;
    if (zh) {
        if (strncmp(p, "月", 3) != 0)
            return false;
        p += 3;
    } else if (*p++ != sep) {
        return false;
    }
    if (!digits(&p, 2, &d))
        return false;
    if (zh && strncmp(p, "日", 3) == 0)
        p += 3;
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
    snprintf(out, 11, "%.10s", tmp);
    *rest = p;
    return calendar_date_ok(y, m, d);
}

bool import_media_type_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    if (!ct || strncasecmp(ct, type, n) != 0)
        return false;
    const char *p = ct + n;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return true;
    if (*p != ';')
        return false;
    const char *cs = strcasestr(p, "charset=");
    if (!cs)
        return true;
    cs += 8;
    if (*cs == '"')
        cs++;
    return strncasecmp(cs, "utf-8", 5) == 0 || strncasecmp(cs, "utf8", 4) == 0;
}

enum import_format import_format_of(const char *ct)
{
    if (import_media_type_is(ct, "text/csv"))
        return IMPORT_CSV;
    if (import_media_type_is(ct, "application/x-ndjson") ||
        import_media_type_is(ct, "application/jsonl"))
        return IMPORT_NDJSON;
    if (import_media_type_is(ct, "application/json"))
        return IMPORT_JSON;
    return IMPORT_UNSUPPORTED;
}
