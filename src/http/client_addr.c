#include "rectify/client_addr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PROXIES 64
#define MAX_HOPS 32 /* hops read from one header; more are ignored (leftmost) */

struct range {
    unsigned char net[16]; /* IPv4 as IPv4-mapped IPv6 */
    int bits;              /* prefix length over the 128-bit form */
};

struct proxy_list {
    size_t n;
    struct range r[MAX_PROXIES];
};

/* Textual address -> 16 bytes (IPv4 mapped into ::ffff:0:0/96). */
static bool addr16(const char *s, unsigned char out[16], bool *v4)
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        *v4 = true;
        return true;
    }
    *v4 = false;
    return inet_pton(AF_INET6, s, out) == 1;
}

static bool in_range(const struct range *r, const unsigned char a[16])
{
    int full = r->bits / 8, rest = r->bits % 8;
    if (memcmp(r->net, a, (size_t)full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (r->net[full] & mask) == (a[full] & mask);
}

static bool parse_range(const char *s, size_t len, struct range *out)
{
    char text[64];
    if (len == 0 || len >= sizeof text)
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits < 0)
            return false;
    }
    bool v4;
    if (!addr16(text, out->net, &v4))
        return false;
    long max = v4 ? 32 : 128;
    if (bits > max)
        return false;
    out->bits = (int)((bits < 0 ? max : bits) + (v4 ? 96 : 0));
    return true;
}

struct proxy_list *proxy_list_parse(const char *text, char *err, size_t errlen)
{
    struct proxy_list *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (!len)
            break;
        if (l->n == MAX_PROXIES || !parse_range(p, len, &l->r[l->n])) {
            snprintf(err, errlen, "RECTIFY_TRUSTED_PROXIES: \"%.*s\" is not %s", (int)len, p,
                     l->n == MAX_PROXIES ? "allowed (more than 64 ranges)"
                                         : "an address or CIDR range");
            free(l);
            return NULL;
        }
        l->n++;
        p += len;
    }
    return l;
}

void proxy_list_free(struct proxy_list *l) { free(l); }

bool proxy_list_contains(const struct proxy_list *l, const char *addr)
{
    unsigned char a[16];
    bool v4;
    if (!l || !l->n || !addr || !addr16(addr, a, &v4))
        return false;
    for (size_t i = 0; i < l->n; i++)
        if (in_range(&l->r[i], a))
            return true;
    return false;
}

/* One hop of a header into out (a bare IP address), or false when it is
 * not one. Forwarded hops are "for=..." among other parameters, possibly
 * quoted, IPv6 in brackets, maybe with a port; X-Forwarded-For hops are bare
 * addresses. */
static bool hop_addr(const char *s, size_t len, bool forwarded, char out[CLIENT_ADDR_MAX])
{
    if (forwarded) {
        const char *f = NULL;
        for (size_t i = 0; i + 4 <= len; i++)
            if ((i == 0 || s[i - 1] == ';' || s[i - 1] == ' ') && strncasecmp(s + i, "for=", 4) == 0) {
                f = s + i + 4;
                break;
            }
        if (!f)
            return false;
        size_t rest = (size_t)(s + len - f), k = 0;
        while (k < rest && f[k] != ';')
            k++;
        s = f;
        len = k;
    }
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
        s++, len -= 2;
    if (len && s[0] == '[') { /* [v6] or [v6]:port */
        const char *close = memchr(s, ']', len);
        if (!close)
            return false;
        s++;
        len = (size_t)(close - s);
    } else if (memchr(s, '.', len) && memchr(s, ':', len)) { /* v4:port */
        len = (size_t)((const char *)memchr(s, ':', len) - s);
    }
    if (len == 0 || len >= CLIENT_ADDR_MAX)
        return false;
    char text[CLIENT_ADDR_MAX];
    memcpy(text, s, len);
    text[len] = '\0';
    unsigned char a[16];
    bool v4;
    if (!addr16(text, a, &v4))
        return false;
    memcpy(out, text, len + 1);
    return true;
}

void client_addr(const struct proxy_list *l, const char *peer, const char *forwarded,
                 const char *xff, char out[CLIENT_ADDR_MAX])
{
    snprintf(out, CLIENT_ADDR_MAX, "%s", peer ? peer : "");
    if (!proxy_list_contains(l, peer))
        return;
    bool fwd = forwarded && *forwarded;
    const char *h = fwd ? forwarded : xff;
    if (!h)
        return;
    /* Hops left to right; then walk them from the right. */
    const char *start[MAX_HOPS];
    size_t len[MAX_HOPS], n = 0;
    for (const char *p = h; *p && n < MAX_HOPS;) {
        size_t k = strcspn(p, ",");
        start[n] = p;
        len[n++] = k;
        p += k;
        if (*p == ',')
            p++;
    }
    for (size_t i = n; i-- > 0;) {
        char hop[CLIENT_ADDR_MAX];
        if (!hop_addr(start[i], len[i], fwd, hop))
            return; /* unreadable: the proxy that added it is the client */
        snprintf(out, CLIENT_ADDR_MAX, "%s", hop);
        if (!proxy_list_contains(l, hop))
            return;
    }
}
