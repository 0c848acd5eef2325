/* Shared between the complaint modules (complaints.c, complaint_import.c,
 * complaint_handling.c); not a public header. */
#ifndef RECTIFY_COMPLAINTS_INTERNAL_H
#define RECTIFY_COMPLAINTS_INTERNAL_H

#include <stdbool.h>

struct req;

void complaints_import(struct req *r);

/* Maximum raw size of one import body and number of rows. */
#define IMPORT_MAX_BYTES (1LL << 30)
#define IMPORT_MAX_ROWS 2000000

/* The list filters (complaints.c) as statement parameters $1..$14 for both the
 * list and the export; false = answered (400). out gets COMPLAINT_FILTER_PARAMS
 * values. */
#define COMPLAINT_FILTER_PARAMS 14
bool complaint_filters_or_reply(struct req *r, const char *out[COMPLAINT_FILTER_PARAMS]);

/* Decodes the configured RECTIFY_PII_KEY; false = answered 500. */
bool complaint_pii_key_or_reply(struct req *r, unsigned char key[32]);

/* The complaint detail (complaints.c): $1 id, $2 masked complainant (bool);
 * one row (version, json, campaign_id, handover_no) or none. */
extern const char complaint_sql_get[];

/* Handlers of complaint_handling.c (routes in complaints.c's table): PATCH,
 * deadline extensions, batch acknowledgement. */
void complaint_patch(struct req *r);
void complaint_extensions_list(struct req *r);
void complaint_extension_request(struct req *r);
void complaint_extension_decide(struct req *r);
void complaint_batch_acknowledge(struct req *r);

#endif
