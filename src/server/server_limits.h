/* server_limits.h — every hard limit of `rerank serve`, with its reason; the defaults live in config.c's option table. */
#ifndef RR_SERVER_LIMITS_H
#define RR_SERVER_LIMITS_H

/* Configurable values are clamped to [MIN, MAX] by config.c; the request
 * decoders refuse input beyond them with 413 (too large) before allocating
 * for it. Limits shared with the library and the CLI (threads, text bytes,
 * sequence length) are in common/limits.h. */
#include "common/limits.h"

/* Request body: a 1000-document request of ~2 KB passages is ~2 MB of JSON
 * (hence the default of 8 MiB, room for long documents). Hard cap 256 MiB:
 * the body is held in memory and parsed into a tree (~3x) per connection. */
#define RR_SRV_MAX_BODY_BYTES (256ull << 20)
/* JSON values (array elements, object members) per body: a valid request
 * has ~2 per document; this bounds jansson's tree for bodies like
 * [1,1,1,...] (~40 bytes of tree per value) before parsing. */
#define RR_SRV_JSON_VALUES_PER_DOC 8
#define RR_SRV_JSON_VALUES_BASE 256
/* Documents per request: Cohere's API caps at 1000 (the default). Hard cap
 * 100000. */
#define RR_SRV_MAX_DOCS 100000
/* Bytes of one query or document: a 512-token pair needs at most a few KB
 * of text, so the default of 1 MiB is generous yet bounds tokenizer work
 * per text. Never above the library's RR_MAX_TEXT_BYTES. */
#define RR_SRV_MAX_TEXT_BYTES RR_MAX_TEXT_BYTES
/* Batcher: token budget per forward pass (sum of pair lengths). The default
 * 16384 is 32 full 512-token pairs: enough to fill a CPU's GEMMs, small
 * enough that one batch takes well under a second on a server CPU. It must
 * hold one pair of max length (serve raises it to the max length if not). */
#define RR_SRV_MIN_BATCH_TOKENS 16
#define RR_SRV_MAX_BATCH_TOKENS (1 << 22)
/* Pairs per batch: bounds the per-batch arrays (tiny pairs would otherwise
 * make batches of 16384 pairs of one token). */
#define RR_SRV_MAX_BATCH_PAIRS 65536
/* Batches in flight per model (--batches-in-flight): the next batch's host
 * work (taking, packing, copying in) overlaps the running one's device
 * work, so 2 keeps a GPU busy; more only queue on the model's lock, each
 * holding a batch's worth of pairs out of the queue (and of fair order). */
#define RR_SRV_MAX_WORKERS 4
/* Longest time the oldest queued pair waits for a batch to fill. */
#define RR_SRV_MAX_WAIT_MS 10000.0
/* Queue bound (pairs waiting, not yet in a batch). Beyond it requests get
 * 429 at once instead of queueing for seconds: the default of 4096 pairs is
 * ~1-2 s of work for a base-size model on a large CPU. Must be >= --max-docs
 * so that any valid request fits an empty queue. */
#define RR_SRV_MAX_QUEUE_PAIRS (1 << 24)
/* Retry-After seconds sent with 429 / 503. */
#define RR_SRV_RETRY_AFTER_S 1
/* Connections: each holds a socket and MHD's per-connection pool; the
 * default of 1000 stays below the usual 1024-fd soft limit with the
 * listening socket, epoll and model files accounted for via MHD's own fd
 * checks. */
#define RR_SRV_MAX_CONNECTIONS 65536
/* MHD per-connection memory pool (request line, headers, write buffer).
 * Bodies are copied out into our own bounded buffer. */
#define RR_SRV_CONNECTION_MEMORY (64u << 10)
/* Idle/read/write timeout per connection and the graceful-shutdown timeout
 * (seconds; MHD semantics for the former: no progress for this long closes
 * the connection). */
#define RR_SRV_MAX_TIMEOUT_S 3600
/* API keys longer than this are refused at startup (and bound the
 * Authorization header we compare against). */
#define RR_SRV_MAX_API_KEY_BYTES 1024
/* Disconnect watcher poll period for suspended (queued) connections. */
#define RR_SRV_WATCH_PERIOD_MS 20

/* Windows per document a request may ask for (max_chunks_per_doc): 1024
 * windows of 512 tokens cover 500k tokens, more than RR_MAX_TEXT_BYTES of
 * any real text needs; the queue bound limits a whole request anyway. */
#define RR_SRV_MAX_CHUNKS_PER_DOC 1024

#endif
