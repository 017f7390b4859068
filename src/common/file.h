/* file.h — reading a whole file into memory, bounded: the size is checked before anything is allocated. */
#ifndef RR_FILE_H
#define RR_FILE_H

#include <stddef.h>

#include "rerank.h"

/* Read the regular file `path` into *buf (rr_malloc'd, NUL-terminated one
 * byte past the content; rr_free it) and its length into *len. Errors, with
 * the path and the reason in the message (*buf = NULL, *len = 0):
 *   RERANK_ERR_IO     cannot open (strerror: missing, permission, ...), a
 *                     directory or other non-regular file, a read error, or
 *                     the file shrank while being read;
 *   RERANK_ERR_LIMIT  larger than max_bytes (nothing allocated);
 *   RERANK_ERR_NOMEM  out of memory;
 *   RERANK_ERR_INVALID_ARGUMENT  path NULL or empty. */
rerank_status_t rr_file_read(const char *path, size_t max_bytes, char **buf, size_t *len);

#endif
