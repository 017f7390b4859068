/*
 * rerank.h — public API of librerank, a cross-encoder reranking engine.
 *
 * Conventions
 *  - Opaque handles (`rerank_model_t`, `rerank_tokenizer_t`) are created by a
 *    `*_load` function and released by the matching `*_free` (NULL is a no-op).
 *  - Every fallible function returns a `rerank_status_t`. On failure a
 *    human-readable message for the calling thread is available from
 *    `rerank_last_error()`: a thread-local buffer, so another thread's
 *    failure never changes it; its text holds until the next failing call in
 *    that thread, the pointer until the thread exits. Do not free it.
 *    On failure outputs are left untouched (or zeroed) and nothing leaks.
 *    NULL pointers, negative or out-of-range options and oversized lengths
 *    are errors (RERANK_ERR_INVALID_ARGUMENT / RERANK_ERR_LIMIT), never a
 *    crash; a NULL text with length 0 is the empty string.
 *  - Strings are UTF-8 with an explicit byte length; invalid UTF-8 is an error
 *    (RERANK_ERR_INVALID_UTF8), never a crash. Embedded NUL bytes are allowed.
 *  - Thread safety: a tokenizer is immutable after load and may be used by any
 *    number of threads at once. A model may be shared by threads too: scoring
 *    calls on one model are serialized internally (one forward pass at a time,
 *    itself using `threads` cores). Different models run in parallel.
 *    A `*_free` must not overlap any other call on the same handle (nor on
 *    the tokenizer a model owns). Everything else is thread-safe, loading
 *    included.
 *  - Process-wide state is left alone: librerank.so exports the `rerank_*`
 *    functions only and never sets jansson's allocator; a scoring call sets
 *    the calling thread's OpenMP thread count for its duration and restores it.
 *  - ABI: structs are passed by value or filled by the library, and grow
 *    only with a new soname (librerank.so.0.MINOR while the major is 0):
 *    start option structs from their `*_default()` function so that code
 *    rebuilt against a newer header gets the new fields' defaults.
 */
#ifndef RERANK_H
#define RERANK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RERANK_VERSION_MAJOR 0
#define RERANK_VERSION_MINOR 2
#define RERANK_VERSION_PATCH 0
#define RERANK_VERSION "0.2.0"

typedef enum rerank_status {
    RERANK_OK = 0,
    RERANK_ERR_INVALID_ARGUMENT = 1, /* caller passed a bad argument        */
    RERANK_ERR_IO = 2,               /* file missing, unreadable, short     */
    RERANK_ERR_FORMAT = 3,           /* file content malformed or corrupt   */
    RERANK_ERR_UNSUPPORTED = 4,      /* architecture/dtype/feature unknown  */
    RERANK_ERR_NOMEM = 5,            /* allocation failed                   */
    RERANK_ERR_INVALID_UTF8 = 6,     /* input text is not valid UTF-8       */
    RERANK_ERR_LIMIT = 7,            /* input exceeds a documented limit    */
    RERANK_ERR_INTERNAL = 8,         /* backend failure (e.g. GEMM library) */
} rerank_status_t;

/* Static name of a status ("ok", "invalid_argument", ...). */
const char *rerank_status_str(rerank_status_t status);
/* Message describing the last failure in the calling thread ("" if none). */
const char *rerank_last_error(void);
/* The loaded library's version string, e.g. "0.2.0" (compare with the
 * RERANK_VERSION a program was compiled against). Static. */
const char *rerank_version(void);

/* ------------------------------------------------------------------------ */
/* Tokenizer                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct rerank_tokenizer rerank_tokenizer_t;

typedef enum rerank_truncation {
    /* FlagEmbedding's reranker: query cut to max_length*3/4 tokens, document
     * to max_length, special tokens added, then only the document is cut so
     * the pair fits max_length. Default. */
    RERANK_TRUNC_FLAG = 0,
    /* transformers' default for pairs, as Hugging Face tokenizers >= 0.23
     * does it: each side counted up to the word where it reaches max_length;
     * the shorter side kept whole if the other still gets as many tokens,
     * else the budget split in halves (the odd token to the longer side). */
    RERANK_TRUNC_LONGEST_FIRST = 1,
    /* Never cut: max_length is ignored, and a pair longer than a model's
     * positions fails to score (RERANK_ERR_LIMIT) instead. */
    RERANK_TRUNC_NONE = 2,
} rerank_truncation_t;

/* Which end of a sequence loses tokens when it is truncated (Hugging Face
 * tokenizers' TruncationDirection / transformers' `truncation_side`). The
 * pair's length is the same either way. With longest_first, HF counts each
 * side's early exit (up to the word where it reaches max_length) from the
 * kept end, so Left may give the odd token of an odd budget to the other
 * side, and below the pair's special tokens (no cut after the early exit)
 * keep other lengths. Special tokens are added after truncation. */
typedef enum rerank_trunc_direction {
    RERANK_TRUNC_RIGHT = 0, /* keep the first tokens, cut the end. Default. */
    RERANK_TRUNC_LEFT = 1,  /* keep the last tokens, cut the start.         */
} rerank_trunc_direction_t;

/* One encoded sequence or pair. Caller-owned; zero-initialise it, pass it to
 * any number of encode calls (buffers are reused and grown), then release
 * the buffers with rerank_encoding_free. */
typedef struct rerank_encoding {
    int32_t *ids;      /* token ids                                      */
    int32_t *type_ids; /* token type (segment) ids, same length as ids   */
    size_t n;          /* number of tokens                               */
    size_t cap;        /* allocated capacity of ids / type_ids           */
} rerank_encoding_t;

void rerank_encoding_free(rerank_encoding_t *enc);

/* Load a Hugging Face `tokenizer.json` (path to the file or to a directory
 * containing it). Supports Unigram (XLM-R / SentencePiece), WordPiece
 * (BERT) and byte-level BPE (Qwen2/Qwen3, GPT-2 style as ModernBERT) models
 * with their normalizers, pre-tokenizers, added tokens and post-processors. */
rerank_status_t rerank_tokenizer_load(const char *path, rerank_tokenizer_t **out);
void rerank_tokenizer_free(rerank_tokenizer_t *tok);

/* Tokenize `text` (len bytes) without special tokens. enc->type_ids are 0. */
rerank_status_t rerank_tokenize(const rerank_tokenizer_t *tok, const char *text,
                                size_t len, rerank_encoding_t *enc);

/* How a (query, document) pair becomes tokens: one struct for tokenizing
 * and scoring. Start from rerank_pair_options_default(). */
typedef struct rerank_pair_options {
    /* Tokens in all, special tokens (or an LLM reranker's whole prompt)
     * included. > 0: cut the pair to this length. 0: the default: no limit
     * for a bare tokenizer (rerank_tokenize_pair); for a model, the model's
     * default (512 for cross-encoders, 8192 for LLM rerankers). A model caps
     * any length at the positions it has (rerank_model_info_t.max_positions). */
    int32_t max_length;
    rerank_truncation_t truncation;     /* default RERANK_TRUNC_FLAG             */
    rerank_trunc_direction_t direction; /* default RERANK_TRUNC_RIGHT            */
    /* LLM rerankers (e.g. Qwen3-Reranker): the task instruction of the
     * prompt, instruction_len bytes of UTF-8; NULL = the model's default.
     * Cross-encoders take no instruction: non-NULL is an error there. */
    const char *instruction;
    size_t instruction_len;
} rerank_pair_options_t;

/* Defaults: max_length 0, RERANK_TRUNC_FLAG from the right, no instruction. */
rerank_pair_options_t rerank_pair_options_default(void);

/* Encode a (query, document) pair with the tokenizer's pair template
 * (special tokens, token type ids), truncated as `opts` says (NULL:
 * defaults, i.e. not truncated). An instruction is an error here: only a
 * model knows its prompt (rerank_model_tokenize_pair). */
rerank_status_t rerank_tokenize_pair(const rerank_tokenizer_t *tok, const char *query, size_t query_len,
                                     const char *doc, size_t doc_len, const rerank_pair_options_t *opts,
                                     rerank_encoding_t *enc);

/* Number of special tokens the pair template adds (e.g. 4 for XLM-R). */
int32_t rerank_tokenizer_pair_overhead(const rerank_tokenizer_t *tok);
/* Vocabulary size (largest id + 1). */
int32_t rerank_tokenizer_vocab_size(const rerank_tokenizer_t *tok);

/* ------------------------------------------------------------------------ */
/* Model                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct rerank_model rerank_model_t;

typedef enum rerank_precision {
    RERANK_PRECISION_FP32 = 0,
    RERANK_PRECISION_BF16 = 1,
    RERANK_PRECISION_INT8 = 2, /* CPU only                                      */
    RERANK_PRECISION_FP16 = 3, /* CUDA only: fp16, fp32 accumulation (what fp32 computes in on CUDA) */
    RERANK_PRECISION_FP8 = 4,  /* CUDA only, compute capability 8.9+: FP8 E4M3 linear layers        */
} rerank_precision_t;

/* Static names: "fp32", "bf16", "int8", "fp16", "fp8" ("unknown" otherwise). */
const char *rerank_precision_str(rerank_precision_t p);
/* Parse one of those names; RERANK_ERR_INVALID_ARGUMENT (naming the valid
 * ones) for anything else. */
rerank_status_t rerank_precision_parse(const char *name, rerank_precision_t *out);

/* Shared prefixes: a causal (decoder) reranker, e.g. Qwen3-Reranker, sees
 * the same prompt up to the document for every document of a query; ON
 * computes the ids that pairs of one batch share at their start once and
 * each pair's own tokens against them (the same scores, up to float
 * rounding). Cross-encoders have nothing to share. OFF computes every pair
 * in full. The CPU shares; CUDA does not yet. */
typedef enum rerank_shared_prefix {
    RERANK_SHARED_PREFIX_ON = 0, /* default */
    RERANK_SHARED_PREFIX_OFF = 1,
} rerank_shared_prefix_t;

typedef struct rerank_model_options {
    rerank_precision_t precision; /* compute precision (default fp32)          */
    int32_t threads;              /* worker threads; 0 = all available cores   */
    const char *device;           /* NULL or "cpu"; "cuda[:N]" when built in   */
    rerank_shared_prefix_t shared_prefix; /* default ON                        */
} rerank_model_options_t;

/* Defaults: fp32, all cores, cpu, shared prefixes on. */
rerank_model_options_t rerank_model_options_default(void);

/* Load a Hugging Face model directory: config.json, model.safetensors (or a
 * sharded model.safetensors.index.json) and tokenizer.json. Weights are
 * memory-mapped; F32, F16 and BF16 tensors are accepted. `opts` may be NULL. */
rerank_status_t rerank_model_load(const char *dir, const rerank_model_options_t *opts,
                                  rerank_model_t **out);
void rerank_model_free(rerank_model_t *model);

/* What a loaded model is. Every string points into the model and stays
 * valid until rerank_model_free(model). */
typedef struct rerank_model_info {
    const char *architecture; /* e.g. "XLMRobertaForSequenceClassification" */
    const char *model_type;   /* e.g. "xlm-roberta", "bert"                 */
    /* The model family that runs it: "xlm-roberta", "bert", ... */
    const char *family;
    int32_t num_layers;
    int32_t hidden_size;
    int32_t num_heads;
    int32_t num_kv_heads;     /* key/value heads (< num_heads: grouped-query) */
    int32_t head_dim;
    int32_t intermediate_size;
    int32_t max_positions;    /* longest sequence the model accepts          */
    int32_t default_max_length; /* what max_length 0 means for this model    */
    int32_t vocab_size;
    int32_t num_labels;
    rerank_precision_t precision; /* requested precision                        */
    /* What the linear layers really compute in: "fp32", "bf16", "int8" or
     * "fp16" (CUDA). Differs from `precision` where the hardware has no such
     * path, e.g. bf16 requested on a CPU without AVX-512: the engine then
     * computes in fp32 rather than fail. */
    const char *compute;
    const char *weights_dtype; /* dtype of the checkpoint: "F32", "F16", "BF16" */
    const char *device;        /* "cpu", "cuda:0", ...                          */
    int64_t device_memory_bytes; /* bytes held on the device (0 on the CPU)   */
    /* An LLM reranker's prompt recipe (e.g. "qwen3-reranker"), or "" for a
     * cross-encoder (the tokenizer's pair template). */
    const char *prompt;
    /* 1: this model computes shared prefixes once (a causal model on a
     * device that can, the option on); 0: every pair in full. */
    int32_t shared_prefix;
} rerank_model_info_t;

void rerank_model_get_info(const rerank_model_t *model, rerank_model_info_t *info);
/* The model's tokenizer (owned by the model). */
const rerank_tokenizer_t *rerank_model_tokenizer(const rerank_model_t *model);

/* 1 while the model can score; 0 after a device fault (e.g. a CUDA error
 * that poisons the context): every later scoring call fails and the model
 * must be freed and loaded again. Always 1 on the CPU. */
int rerank_model_healthy(const rerank_model_t *model);

/* The ids `model` scores for (query, doc): the tokenizer's pair template for
 * cross-encoders, the model's prompt recipe for LLM rerankers. `opts` NULL:
 * defaults (the model's default max_length). */
rerank_status_t rerank_model_tokenize_pair(const rerank_model_t *model, const char *query, size_t query_len,
                                           const char *doc, size_t doc_len, const rerank_pair_options_t *opts,
                                           rerank_encoding_t *enc);

typedef struct rerank_score_options {
    rerank_pair_options_t pair; /* how text pairs become tokens (rerank_score) */
    int32_t layers;             /* run only the first N layers; 0 = all        */
    int normalize;              /* 1: sigmoid of the logit; 0: raw logit       */
} rerank_score_options_t;

/* Defaults: rerank_pair_options_default() (the model's default length),
 * all layers, raw logits. */
rerank_score_options_t rerank_score_options_default(void);

/* A tokenized pair as the model sees it (special tokens included). */
typedef struct rerank_pair {
    const int32_t *ids;
    const int32_t *type_ids; /* may be NULL: all zeros */
    int32_t n;
} rerank_pair_t;

/* Score pre-tokenized pairs; scores[i] for pairs[i]. Pairs may have
 * different lengths; a pair gets the same score in any batch up to float
 * rounding (about 1e-6 in fp32: the GEMM library blocks rows by batch size;
 * in int8 a causal model's shared prefix, computed once for the batch,
 * moves a score by int8's own error, about 1e-2: rerank_shared_prefix_t).
 * Ids are checked against the vocabulary, lengths against max positions. */
rerank_status_t rerank_score_tokens(rerank_model_t *model, const rerank_pair_t *pairs,
                                    size_t n_pairs, const rerank_score_options_t *opts,
                                    float *scores);

/* Tokenize and score (query, docs[i]) for i < n_docs. doc_lens may be NULL
 * (docs are then NUL-terminated). `opts` may be NULL (defaults). */
rerank_status_t rerank_score(rerank_model_t *model, const char *query, size_t query_len,
                             const char *const *docs, const size_t *doc_lens, size_t n_docs,
                             const rerank_score_options_t *opts, float *scores);


/* ------------------------------------------------------------------------ */
/* Long documents: truncate or score in windows                              */
/* ------------------------------------------------------------------------ */

/* What happens to a document longer than the room the query leaves in a
 * pair of max_length tokens. */
typedef enum rerank_long_docs {
    RERANK_LONG_DOCS_TRUNCATE = 0, /* cut it (rerank_pair_options_t). Default. */
    /* Cut its ids into windows, score each with the query, keep the best:
     * the document is tokenized once and the windows are cuts of its ids,
     * each wrapped in the pair template's special tokens. */
    RERANK_LONG_DOCS_CHUNK = 1,
} rerank_long_docs_t;

/* Start from rerank_long_options_default(). With RERANK_LONG_DOCS_CHUNK the
 * query keeps what the truncation gives it against a long document (flag:
 * up to 3/4 of max_length; longest_first: up to half the room after the
 * special tokens; none: all of it) and the document gets the rest, the
 * "room": a window holds min(chunk_tokens, room) document tokens. */
typedef struct rerank_long_options {
    rerank_long_docs_t mode;
    int32_t chunk_tokens;       /* document tokens per window; 0: the room     */
    int32_t chunk_overlap;      /* tokens two neighbouring windows share;
                                   below chunk_tokens (or the room when 0); a
                                   window the room makes smaller than
                                   chunk_tokens shares overlap * window /
                                   chunk_tokens tokens (rounded down)          */
    /* At most this many windows per document (Cohere v1's name); the rest of
     * a longer document is not scored (truncation, as Cohere does; the
     * chunk info's doc_tokens says how much there was). 0: no bound. */
    int32_t max_chunks_per_doc;
    /* > 0: the document is first cut to this many tokens (Cohere v2's
     * max_tokens_per_doc), from the end the pair options' direction names;
     * in both modes. 0: no cut. */
    int32_t max_tokens_per_doc;
} rerank_long_options_t;

/* Defaults: truncate; chunk_tokens 0 (the room), overlap 0, no bounds. */
rerank_long_options_t rerank_long_options_default(void);

/* Where a window lies in its document, in the document's own tokens (no
 * special tokens, counted after max_tokens_per_doc's cut). */
typedef struct rerank_chunk_info {
    int32_t chunk;       /* window index, 0 = the document's start         */
    int32_t n_chunks;    /* windows the document was scored in             */
    int32_t token_start; /* the window holds document tokens               */
    int32_t token_end;   /*   [token_start, token_end)                     */
    int32_t doc_tokens;  /* the document's tokens in all                   */
} rerank_chunk_info_t;

/* The windows of one (query, document) pair, caller-owned: zero-initialise,
 * reuse across calls (buffers grow), release with rerank_windows_free. */
typedef struct rerank_windows {
    rerank_encoding_t enc;       /* every window's ids and type ids, back to back */
    size_t *offset;              /* window w starts at enc.ids + offset[w]        */
    int32_t *len;                /*   and has len[w] ids                          */
    rerank_chunk_info_t *chunks; /* its place in the document                      */
    size_t n, cap;               /* windows; allocated entries                     */
} rerank_windows_t;

void rerank_windows_free(rerank_windows_t *w);

/* The pairs `model` scores for (query, doc) under `lopts` (NULL: defaults):
 * with RERANK_LONG_DOCS_TRUNCATE one window, the pair
 * rerank_model_tokenize_pair gives (after max_tokens_per_doc's cut); with
 * RERANK_LONG_DOCS_CHUNK one window per cut of the document (one when it
 * fits the room). An LLM reranker (a prompt recipe) cuts the document
 * inside its prompt: each window is the prompt with the instruction and
 * query whole and a cut of the document's ids (the ids of its prompt past
 * those of the same prompt with an empty document); the room is max_length
 * less the rest of the prompt (RERANK_ERR_LIMIT when there is none), and
 * the cut is always from the right (RERANK_TRUNC_LEFT: an error). */
rerank_status_t rerank_model_window_pair(const rerank_model_t *model, const char *query, size_t query_len,
                                         const char *doc, size_t doc_len, const rerank_pair_options_t *popts,
                                         const rerank_long_options_t *lopts, rerank_windows_t *out);

/* rerank_score under `lopts`: scores[i] is the best window's score of
 * docs[i]; best[i] (best may be NULL) says which window it was. */
rerank_status_t rerank_score_long(rerank_model_t *model, const char *query, size_t query_len,
                                  const char *const *docs, const size_t *doc_lens, size_t n_docs,
                                  const rerank_score_options_t *opts, const rerank_long_options_t *lopts,
                                  float *scores, rerank_chunk_info_t *best);

#ifdef __cplusplus
}
#endif
#endif /* RERANK_H */
