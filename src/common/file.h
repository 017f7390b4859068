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

/* 1 when the n bytes at p are a Git LFS pointer ("version
 * https://git-lfs..."), what `git clone` of a Hugging Face repo without
 * git-lfs leaves in place of a large file (weights, tokenizer.json). */
int rr_is_lfs_pointer(const void *p, size_t n);

#endif
