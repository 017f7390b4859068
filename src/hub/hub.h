/* hub.h — download models from the Hugging Face Hub into the shared cache.
 *
 * Cache layout (the one huggingface_hub uses, so Python and rerank share it):
 *
 *   <cache>/models--ORG--NAME/
 *       blobs/<etag>                  file contents, named by the Hub's ETag
 *                                     (sha256 for LFS files, git sha1 otherwise)
 *       blobs/<etag>.incomplete       a partial download, resumed with Range
 *       snapshots/<commit>/<file>     symlink -> ../../blobs/<etag>
 *       refs/<revision>               the commit hash <revision> resolved to
 *   <cache>/.locks/models--ORG--NAME/<etag>.lock   flock()ed while downloading
 *                                     (the same lock files Python's filelock uses)
 *
 * <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
 * else ~/.cache/huggingface/hub.
 *
 * Network: GET/HEAD {endpoint}/{ORG/NAME}/resolve/{revision}/{file}, endpoint
 * from $HF_ENDPOINT (default https://huggingface.co). The token ($HF_TOKEN,
 * else the file $HF_TOKEN_PATH or $HF_HOME/token) is sent as
 * "Authorization: Bearer ..." to the endpoint's origin only — never to the
 * host a redirect points to (the Hub redirects LFS files to a CDN).
 * $HF_HUB_OFFLINE=1 forbids the network: only cached snapshots are used.
 *
 * What a pull fetches: config.json, tokenizer.json, and model.safetensors —
 * or model.safetensors.index.json plus every shard it names; plus
 * tokenizer_config.json and special_tokens_map.json when the repo has them.
 * Blobs whose etag is a sha256 are verified after download; a blob is renamed
 * into place only when its size and hash are right, and the snapshot's symlinks
 * are created only after every required file is in blobs/, so a failed pull
 * never leaves a half-populated snapshot behind.
 */
#ifndef RR_HUB_H
#define RR_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "rerank.h"

typedef struct rr_hub_options {
    const char *revision;  /* branch, tag or commit; NULL = "main"                     */
    const char *cache_dir; /* NULL = from the environment (see above)                  */
    const char *endpoint;  /* NULL = $HF_ENDPOINT or https://huggingface.co            */
    const char *token;     /* NULL = $HF_TOKEN / token file; "" = send no token         */
    int quiet;             /* 1: print nothing on stderr                               */
    int progress;          /* 1: progress bar, 0: none, -1: when stderr is a terminal  */
    int retries;           /* extra attempts (resuming) after a failed transfer; -1 = 3 */
    int offline;           /* 1: never use the network (also $HF_HUB_OFFLINE=1)         */
} rr_hub_options_t;

typedef struct rr_hub_stats {
    int files;             /* files in the snapshot                              */
    int downloaded;        /* files whose body was transferred by this pull      */
    uint64_t bytes;        /* body bytes received                                */
    uint64_t resumed;      /* bytes reused from blobs/<etag>.incomplete          */
    int used_network;      /* 0 when the pull was answered from the cache alone  */
    char commit[65];       /* the commit the snapshot belongs to                 */
} rr_hub_stats_t;

/* Defaults: revision "main", everything else from the environment, progress
 * bar when stderr is a terminal, 3 retries. */
void rr_hub_options_init(rr_hub_options_t *opts);

/* Download ORG/NAME (or NAME) at opts->revision into the cache and write the
 * snapshot directory (<cache>/models--ORG--NAME/snapshots/<commit>) to
 * snapshot_dir. A second pull of a complete snapshot transfers no bodies
 * (only HEAD requests; none at all when the revision is a commit hash).
 * If the Hub cannot be reached, or answers 5xx or 429 (an outage, rate
 * limiting), a complete cached snapshot of the revision is used instead (with
 * a warning), as huggingface_hub does. `stats` may be NULL. */
rerank_status_t rr_hub_pull(const char *repo_id, const rr_hub_options_t *opts,
                            char *snapshot_dir, size_t n, rr_hub_stats_t *stats);

/* Resolve a --model argument to a model directory:
 *  - an existing directory is returned as is;
 *  - otherwise an id that looks like ORG/NAME (optionally ORG/NAME@REVISION)
 *    is looked up in the cache; a complete cached snapshot is used without
 *    touching the network (so servers start offline), else it is downloaded
 *    with rr_hub_pull (progress on a terminal, settings from the environment);
 *  - anything else is RERANK_ERR_IO ("no such model directory").
 * out_dir receives a NUL-terminated path (n bytes at most). */
rerank_status_t rr_hub_resolve(const char *name_or_dir, char *out_dir, size_t n);

/* Complete cached snapshot of repo_id at revision (NULL = "main") in
 * cache_dir (NULL = from the environment): RERANK_OK and its path, or
 * RERANK_ERR_IO. "Complete" means config.json, tokenizer.json and the weights
 * (model.safetensors, or the index and all its shards) are present. */
rerank_status_t rr_hub_find_cached(const char *repo_id, const char *revision,
                                   const char *cache_dir, char *out, size_t n);

/* The cache root from the environment (override used when non-NULL). */
rerank_status_t rr_hub_cache_root(const char *override, char *out, size_t n);

/* 1 if s is a valid Hub repo id: NAME or ORG/NAME, [A-Za-z0-9._-], no "--"
 * or "..", not starting or ending with '-' or '.', at most 96 bytes. */
int rr_hub_valid_repo_id(const char *s);

/* 1 if s may be used as a file name inside a snapshot (shard names from an
 * index): non-empty, no '/', '\\', no "..", not starting with '.', <= 255. */
int rr_hub_valid_filename(const char *s);

/* Lowercase hex SHA-256 of buf[0..len) into hex[65]. */
void rr_hub_sha256_hex(const void *buf, size_t len, char hex[65]);

#endif
