/* data.h — relevance-labelled reranking data for `rerank eval`.
 *
 * Two input formats:
 *  - trec-dl: a JSON array [{query, hits: [{qid, docid, rank, score,
 *    content}]}] (first-stage candidates, e.g. BM25 top-100) plus qrels
 *    {qid: {docid: grade}} (grade a string like "2" or a number).
 *    First-stage order: the given `score` (rank when score is absent), ties
 *    by docid descending, as trec_eval ranks a run. Candidates without a
 *    judgment get grade 0. Queries absent from the qrels are skipped (and
 *    counted in `skipped`), as trec_eval does; queries in the qrels whose
 *    grades are all 0 are kept (their nDCG is 0). Refused, as trec_eval
 *    refuses them or because a figure would be wrong: a docid twice in one
 *    query's hits, a judged qid in two entries, a hit whose qid is not hit
 *    0's, duplicate keys in the qrels, and hits that lack the first-stage
 *    member (score, else rank) that hit 0 has.
 *  - jsonl: one object per line, either
 *      {"query": q, "docs": [d...], "labels": [g...]}   or
 *      {"query": q, "pos": [d...], "neg": [d...]}       (pos = 1, neg = 0),
 *    optional "qid" (string or integer; default "line-N"). Other members are
 *    ignored. Every candidate is judged by its label (labels are the qrels).
 *    First-stage order: "docs" lines keep the given order. "pos"/"neg" lines
 *    have no first stage (pos-then-neg would make the first-stage figures a
 *    perfect 1.0, which is meaningless), so their candidates are put in a
 *    deterministic pseudo-random order (Fisher-Yates seeded by an FNV-1a hash
 *    of the query text): the first-stage figures are then a chance baseline.
 *    Synthetic docids decrease along the first-stage order, so the
 *    trec_eval tie rule (docid descending) falls back to first-stage order.
 *    Blank lines are skipped; a malformed line is an error naming its line.
 */
#ifndef RR_EVAL_DATA_H
#define RR_EVAL_DATA_H

#include <stddef.h>

#include "rerank.h"

/* Candidates per query and queries per file. */
#define RR_EVAL_MAX_CANDIDATES 100000u
#define RR_EVAL_MAX_QUERIES 10000000u

typedef enum rr_eval_format {
    RR_EVAL_FMT_AUTO = 0,
    RR_EVAL_FMT_TREC_DL = 1,
    RR_EVAL_FMT_JSONL = 2,
} rr_eval_format_t;

const char *rr_eval_format_str(rr_eval_format_t f);
/* "trec-dl" / "jsonl" / "auto"; returns -1 on unknown names. */
int rr_eval_format_parse(const char *name, rr_eval_format_t *out);

typedef struct rr_eval_query {
    char *qid;
    char *text;
    size_t text_len;
    size_t n;             /* candidates                                   */
    char **docids;        /* n                                           */
    char **docs;          /* n document texts                             */
    size_t *doc_lens;     /* n                                           */
    double *first_scores; /* n first-stage scores (higher = better)       */
    double *grades;       /* n grades (unjudged = 0)                      */
    size_t n_judged;      /* judged documents of the query                */
    double *judged;       /* their grades                                 */
} rr_eval_query_t;

typedef struct rr_eval_data {
    rr_eval_format_t format;
    size_t n_queries;
    rr_eval_query_t *queries;
    size_t skipped;       /* queries dropped: not in the qrels / no candidates */
    size_t n_pairs;       /* total candidates                                   */
    size_t n_shuffled;    /* pos/neg queries whose first stage is a shuffle     */
    double default_rel_threshold; /* 2 for trec-dl, 1 for jsonl                */
} rr_eval_data_t;

/* Look at the first non-blank byte of `path`: '[' = trec-dl, '{' = jsonl. */
rerank_status_t rr_eval_detect_format(const char *path, rr_eval_format_t *out);

/* The qrels path that goes with a TREC DL results file: the same directory,
 * "retrieve_results_" replaced by "qrels_" in the file name. Returns an
 * rr_malloc'd string, or NULL (with rr_error set) when the name has no such
 * part. */
char *rr_eval_default_qrels(const char *data_path);

/* Load `path` (format AUTO detects it). `qrels_path` is needed for trec-dl
 * (NULL: rr_eval_default_qrels) and ignored for jsonl. On failure `out` is
 * zeroed and the error names the file (and line for jsonl). */
rerank_status_t rr_eval_data_load(const char *path, const char *qrels_path,
                                  rr_eval_format_t format, rr_eval_data_t *out);

/* Parsers over in-memory text (`name` is used in error messages). */
rerank_status_t rr_eval_parse_jsonl(const char *buf, size_t len, const char *name,
                                    rr_eval_data_t *out);
rerank_status_t rr_eval_parse_trec_dl(const char *buf, size_t len, const char *qrels_buf,
                                      size_t qrels_len, const char *name, rr_eval_data_t *out);

/* Keep only the first `max_queries` queries (0 = all). */
void rr_eval_data_truncate(rr_eval_data_t *d, size_t max_queries);
/* Release the buffers of d (the struct is the caller's; zeroed after). */
void rr_eval_data_release(rr_eval_data_t *d);

#endif
