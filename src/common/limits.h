/* limits.h — the hard limits of the library, and those the CLI and the server share, each with its reason.
 * (The server's own limits are in server/server_limits.h.) Inputs beyond a limit get RERANK_ERR_LIMIT (library/CLI) or 413/422
 * (server), never an attempt to allocate for them. */
#ifndef RR_LIMITS_H
#define RR_LIMITS_H

/* A limit's value as a string literal, for help and error texts (the
 * limits used this way are plain integer literals). */
#define RR_LIMIT_STR(x) RR_LIMIT_STR_(x)
#define RR_LIMIT_STR_(x) #x

/* tokenizer.json larger than this is refused: the biggest real ones (XLM-R,
 * 250k pieces) are 17 MB; 512 MB bounds the JSON parser's memory. */
#define RR_MAX_TOKENIZER_JSON_BYTES (512ull << 20)
/* config.json: real ones are ~1 KB. */
#define RR_MAX_CONFIG_JSON_BYTES (16u << 20)
/* Data files read whole (eval datasets and qrels, bench workloads): TREC DL
 * files are ~3 MB, the bench workloads ~130 KB; 1 GiB bounds memory for
 * anything plausible. */
#define RR_MAX_DATA_FILE_BYTES (1ull << 30)
/* safetensors JSON header: the format itself caps it at 100 MB. */
#define RR_MAX_SAFETENSORS_HEADER_BYTES (100u << 20)
/* Tensors per safetensors file / shards per index: generous for any BERT-like
 * encoder (bge-reranker-v2-m3 has ~390 tensors). */
#define RR_MAX_TENSORS 65536
#define RR_MAX_SHARDS 4096
/* Tensor rank: encoders use rank <= 2; 8 leaves room. */
#define RR_MAX_TENSOR_DIMS 8
/* Vocabulary entries; also bounds token ids. 1<<24 covers any real model. */
#define RR_MAX_VOCAB (1 << 24)
/* Bytes of one token string in a tokenizer.json (vocab entries, merges,
 * added tokens): real ones are under 300 (XLM-R's longest piece is 16 chars,
 * Qwen's 128-space token 256 bytes once byte-level mapped). */
#define RR_MAX_TOKEN_BYTES 4096
/* Bytes of one text given to the tokenizer (1 query or document). A pair is
 * truncated to <= 8192 tokens anyway; 16 MB of text is far beyond useful and
 * bounds the tokenizer's O(n) scratch. */
#define RR_MAX_TEXT_BYTES (16u << 20)
/* Longest model input in tokens (max_position_embeddings of any supported
 * model, e.g. 8194 for bge-m3 family). */
#define RR_MAX_SEQ_TOKENS 8192
/* A cross-encoder's pair length when the caller names none: what
 * FlagEmbedding and sentence-transformers use for bge-reranker-v2-m3 and
 * ms-marco-MiniLM (capped at the model's positions). */
#define RR_DEFAULT_MAX_LENGTH 512
/* Compute threads (--threads, rerank_model_options_t.threads): far above
 * any CPU's cores; bounds the per-thread scratch arrays. */
#define RR_MAX_THREADS 4096
/* HTTP threads of `rerank serve` (request parsing and tokenization run
 * there): more only adds contention for the one batcher. */
#define RR_MAX_HTTP_THREADS 256
/* Model dimensions accepted from config.json (bounds scratch sizes). */
#define RR_MAX_HIDDEN 16384
#define RR_MAX_LAYERS 256
#define RR_MAX_HEADS 256
/* Head size: 64 or 128 in every supported model; 512 bounds per-head
 * scratch and stack buffers. */
#define RR_MAX_HEAD_DIM 512
/* max_position_embeddings accepted: Qwen3 declares 40960 (rotary positions,
 * no table); inputs stay capped at RR_MAX_SEQ_TOKENS whatever it says. */
#define RR_MAX_POSITIONS (1 << 20)
/* oneDNN matmul primitives one GEMM context keeps (src/cpu/gemm.c). With
 * blocked weights a primitive is made for one M (tokens of a layer group),
 * a JIT compile on first use; a model has 4-6 layer shapes, so 256 keeps dozens of
 * group sizes per shape hot, and the least recently used goes first (oneDNN's
 * own primitive cache, 1024 by default, makes a re-creation cheaper still). */
#define RR_GEMM_MAX_PRIMS 256

#endif
