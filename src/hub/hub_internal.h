/* hub_internal.h — the cache-layout helpers of hub_cache.c that hub.c (network) and hub_resolve.c use; not public. */
#ifndef RR_HUB_INTERNAL_H
#define RR_HUB_INTERNAL_H

#include <stddef.h>

#include "rerank.h"

#define RR_HUB_PATH 4096

/* snprintf that returns -1 on truncation, 0 otherwise. */
int rr_hub_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* mkdir -p (0755). */
int rr_hub_mkdirs(const char *path);
/* stat() succeeds (symlinks followed). */
int rr_hub_exists(const char *path);

int rr_hub_valid_revision(const char *s); /* branch/tag/commit: [A-Za-z0-9._-/], no ".." */
int rr_hub_is_commit(const char *s);      /* 40 or 64 lowercase hex digits */
int rr_hub_is_sha256(const char *s);      /* 64 lowercase hex digits */
int rr_hub_valid_etag(const char *s);     /* [A-Za-z0-9_-]{1,128}: safe as a file name */
int rr_hub_env_offline(void);             /* $HF_HUB_OFFLINE is 1/true/yes/on */

/* Token from $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, $HF_TOKEN_PATH or
 * $HF_HOME/token: 1 and the token in out, or 0 when there is none. */
int rr_hub_read_token(char *out, size_t n);

/* <cache>/models--ORG--NAME */
int rr_hub_repo_dir(const char *cache, const char *repo_id, char *out, size_t n);

/* 1 if the snapshot directory has config, tokenizer and all weights. */
int rr_hub_snapshot_complete(const char *snapshot_dir);

/* Unique shard file names of a model.safetensors.index.json, each validated
 * with rr_hub_valid_filename. Free with rr_hub_free_names. */
rerank_status_t rr_hub_index_shards(const char *index_path, char ***names, size_t *n);
void rr_hub_free_names(char **names, size_t n);

#endif
