/* Files compiled into the binary by cmake/embed.cmake (build/generated). */
#ifndef RECTIFY_EMBEDDED_H
#define RECTIFY_EMBEDDED_H

#include <stddef.h>

#include "rectify/db.h"

extern const char *const embedded_openapi_json;
extern const size_t embedded_openapi_json_len;

#define embedded_migration migration
extern const struct migration embedded_migrations[];
extern const size_t embedded_migration_count;

#endif
