/* The client's address behind trusted reverse proxies (RECTIFY_TRUSTED_PROXIES).
 *
 * Only when the TCP peer is a trusted proxy are Forwarded (RFC 7239) or, when
 * it is absent, X-Forwarded-For read; the client is the rightmost hop that is
 * not itself a trusted proxy. A hop that is not an IP address ("unknown", an
 * obfuscated name, garbage) ends the walk at the proxy that added it. */
#ifndef RECTIFY_CLIENT_ADDR_H
#define RECTIFY_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define CLIENT_ADDR_MAX 46 /* INET6_ADDRSTRLEN */

struct proxy_list; /* parsed CIDR list; immutable, shared by all threads */

/* Parses a comma-separated CIDR list ("10.0.0.0/8, ::1, 192.168.1.7"; a bare
 * address is a /32 or /128). "" gives an empty list. Returns NULL with a
 * message in err when an entry is not a CIDR or memory runs out. The caller
 * owns the list (proxy_list_free). */
struct proxy_list *proxy_list_parse(const char *text, char *err, size_t errlen);
void proxy_list_free(struct proxy_list *l);

/* True when addr (textual IPv4 or IPv6) lies in one of the list's ranges. */
bool proxy_list_contains(const struct proxy_list *l, const char *addr);

/* Writes the client address into out[CLIENT_ADDR_MAX]: peer itself unless
 * peer is trusted, else the rightmost untrusted hop of forwarded (the
 * Forwarded header, may be NULL) or else xff (X-Forwarded-For, may be NULL). */
void client_addr(const struct proxy_list *l, const char *peer, const char *forwarded,
                 const char *xff, char out[CLIENT_ADDR_MAX]);

#endif
