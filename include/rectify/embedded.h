/* Files compiled into the binary (build/generated): the OpenAPI document and
 * the migrations by cmake/embed.cmake, the API reference page of GET /docs by
 * scripts/embed_docs.py. */
#ifndef RECTIFY_EMBEDDED_H
#define RECTIFY_EMBEDDED_H

#include <stddef.h>

#include "rectify/db.h"

extern const char *const embedded_openapi_json;
extern const size_t embedded_openapi_json_len;

/* Redoc's static page for the spec (redocly build-docs, bundle inlined). */
extern const char *const embedded_docs_html;
extern const size_t embedded_docs_html_len;

#define embedded_migration migration
extern const struct migration embedded_migrations[];
extern const size_t embedded_migration_count;

#endif
