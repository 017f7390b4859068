/* data.c — loading TREC DL and JSONL reranking data (see data.h). */
#include "eval/data.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"
#include "common/limits.h"

const char *rr_eval_format_str(rr_eval_format_t f) {
    switch (f) {
    case RR_EVAL_FMT_TREC_DL: return "trec-dl";
    case RR_EVAL_FMT_JSONL: return "jsonl";
    default: return "auto";
    }
}

int rr_eval_format_parse(const char *name, rr_eval_format_t *out) {
    if (!strcmp(name, "trec-dl") || !strcmp(name, "trec")) *out = RR_EVAL_FMT_TREC_DL;
    else if (!strcmp(name, "jsonl")) *out = RR_EVAL_FMT_JSONL;
    else if (!strcmp(name, "auto")) *out = RR_EVAL_FMT_AUTO;
    else return -1;
    return 0;
}

/* ---- files ---------------------------------------------------------- */

rerank_status_t rr_eval_detect_format(const char *path, rr_eval_format_t *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return rr_error(RERANK_ERR_IO, "%s: %s", path, strerror(errno));
    int c;
    do c = fgetc(f);
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    fclose(f);
    if (c == '[') *out = RR_EVAL_FMT_TREC_DL;
    else if (c == '{') *out = RR_EVAL_FMT_JSONL;
    else
        return rr_error(RERANK_ERR_FORMAT,
                        "%s: cannot tell the format (expected '[' for trec-dl or '{' for "
                        "jsonl); use --format",
                        path);
    return RERANK_OK;
}

char *rr_eval_default_qrels(const char *data_path) {
    static const char from[] = "retrieve_results_", to[] = "qrels_";
    const char *base = strrchr(data_path, '/');
    base = base ? base + 1 : data_path;
    const char *hit = strstr(base, from);
    if (!hit) {
        rr_error(RERANK_ERR_INVALID_ARGUMENT,
                 "%s: no qrels given and the name has no 'retrieve_results_' to derive them "
                 "from; use --qrels",
                 data_path);
        return NULL;
    }
    size_t pre = (size_t)(hit - data_path), rest = strlen(hit + sizeof from - 1);
    char *p = rr_malloc(pre + sizeof to - 1 + rest + 1);
    if (!p) {
        rr_error(RERANK_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(p, data_path, pre);
    memcpy(p + pre, to, sizeof to - 1);
    memcpy(p + pre + sizeof to - 1, hit + sizeof from - 1, rest + 1);
    return p;
}

/* ---- queries -------------------------------------------------------- */

static void query_release(rr_eval_query_t *q) {
    for (size_t i = 0; i < q->n; i++) {
        if (q->docids) rr_free(q->docids[i]);
        if (q->docs) rr_free(q->docs[i]);
    }
    rr_free(q->qid);
    rr_free(q->text);
    rr_free(q->docids);
    rr_free(q->docs);
    rr_free(q->doc_lens);
    rr_free(q->first_scores);
    rr_free(q->grades);
    rr_free(q->judged);
    memset(q, 0, sizeof *q);
}

void rr_eval_data_release(rr_eval_data_t *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n_queries; i++) query_release(&d->queries[i]);
    rr_free(d->queries);
    memset(d, 0, sizeof *d);
}

void rr_eval_data_truncate(rr_eval_data_t *d, size_t max_queries) {
    if (max_queries == 0 || max_queries >= d->n_queries) return;
    for (size_t i = max_queries; i < d->n_queries; i++) {
        d->n_pairs -= d->queries[i].n;
        query_release(&d->queries[i]);
    }
    d->n_queries = max_queries;
}

/* Allocate the per-candidate arrays of `q` for n candidates (strings NULL).
 * q->n is set first so query_release can release partial work. */
static rerank_status_t query_alloc(rr_eval_query_t *q, size_t n, size_t n_judged) {
    q->n = n;
    q->docids = rr_calloc(n, sizeof *q->docids);
    q->docs = rr_calloc(n, sizeof *q->docs);
    q->doc_lens = rr_calloc(n, sizeof *q->doc_lens);
    q->first_scores = rr_calloc(n, sizeof *q->first_scores);
    q->grades = rr_calloc(n, sizeof *q->grades);
    q->judged = rr_calloc(n_judged, sizeof *q->judged);
    q->n_judged = n_judged;
    if (!q->docids || !q->docs || !q->doc_lens || !q->first_scores || !q->grades ||
        !q->judged)
        return rr_error(RERANK_ERR_NOMEM, "out of memory");
    return RERANK_OK;
}

/* Append a zeroed query to d (growing geometrically). */
static rerank_status_t push_query(rr_eval_data_t *d, size_t *cap, rr_eval_query_t **out) {
    if (d->n_queries >= RR_EVAL_MAX_QUERIES)
        return rr_error(RERANK_ERR_LIMIT, "more than %u queries", RR_EVAL_MAX_QUERIES);
    if (d->n_queries == *cap) {
        size_t nc = *cap ? *cap * 2 : 64, bytes;
        if (rr_mul_size(nc, sizeof *d->queries, &bytes))
            return rr_error(RERANK_ERR_NOMEM, "out of memory");
        rr_eval_query_t *nq = rr_realloc(d->queries, bytes);
        if (!nq) return rr_error(RERANK_ERR_NOMEM, "out of memory");
        d->queries = nq;
        *cap = nc;
    }
    *out = &d->queries[d->n_queries++];
    memset(*out, 0, sizeof **out);
    return RERANK_OK;
}

/* Copy a JSON string member's text (bounded). */
static rerank_status_t dup_text(const json_t *s, char **out, size_t *len) {
    size_t n = json_string_length(s);
    if (n > RR_MAX_TEXT_BYTES)
        return rr_error(RERANK_ERR_LIMIT, "text of %zu bytes exceeds the %u-byte limit", n,
                        RR_MAX_TEXT_BYTES);
    *out = rr_strndup(json_string_value(s), n);
    if (!*out) return rr_error(RERANK_ERR_NOMEM, "out of memory");
    if (len) *len = n;
    return RERANK_OK;
}

/* A JSON id (string or integer) as an allocated string. */
static rerank_status_t dup_id(const json_t *v, char **out) {
    char tmp[32];
    if (json_is_string(v)) return dup_text(v, out, NULL);
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = rr_strndup(tmp, strlen(tmp));
        return *out ? RERANK_OK : rr_error(RERANK_ERR_NOMEM, "out of memory");
    }
    return rr_error(RERANK_ERR_FORMAT, "id is neither a string nor an integer");
}

static rerank_status_t set_docid_num(rr_eval_query_t *q, size_t i, size_t num) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%08zu", num);
    q->docids[i] = rr_strndup(tmp, strlen(tmp));
    return q->docids[i] ? RERANK_OK : rr_error(RERANK_ERR_NOMEM, "out of memory");
}

/* A grade: a JSON number or a string holding one (qrels use "2"). */
static int parse_grade(const json_t *v, double *g) {
    if (json_is_number(v)) {
        *g = json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        *g = strtod(s, &end);
        if (end == s || *end || errno) return -1;
    } else {
        return -1;
    }
    return isfinite(*g) ? 0 : -1;
}

/* ---- JSONL ---------------------------------------------------------- */

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static uint64_t splitmix(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Candidate strings from array `arr` into q at positions pos[k], label g. */
static rerank_status_t take_docs(rr_eval_query_t *q, const json_t *arr, const char *what,
                                 const size_t *pos, size_t base, const json_t *labels) {
    for (size_t k = 0; k < json_array_size(arr); k++) {
        const json_t *s = json_array_get(arr, k);
        if (!json_is_string(s))
            return rr_error(RERANK_ERR_FORMAT, "\"%s\"[%zu] is not a string", what, k);
        size_t at = pos[base + k];
        rerank_status_t st = dup_text(s, &q->docs[at], &q->doc_lens[at]);
        if (st) return st;
        double g = 0;
        if (labels) {
            if (parse_grade(json_array_get(labels, k), &g))
                return rr_error(RERANK_ERR_FORMAT, "\"labels\"[%zu] is not a number", k);
        } else {
            g = !strcmp(what, "pos") ? 1.0 : 0.0;
        }
        q->grades[at] = g;
        q->judged[at] = g;
    }
    return RERANK_OK;
}

/* One parsed JSONL object into a new query of d. */
static rerank_status_t jsonl_record(rr_eval_data_t *d, size_t *cap, const json_t *o,
                                    size_t line) {
    if (!json_is_object(o)) return rr_error(RERANK_ERR_FORMAT, "not a JSON object");
    const json_t *query = json_object_get(o, "query");
    if (!json_is_string(query))
        return rr_error(RERANK_ERR_FORMAT, "missing string member \"query\"");
    const json_t *docs = json_object_get(o, "docs"), *labels = json_object_get(o, "labels");
    const json_t *pos = json_object_get(o, "pos"), *neg = json_object_get(o, "neg");
    int posneg = docs == NULL;
    size_t n;
    if (!posneg) {
        if (!json_is_array(docs)) return rr_error(RERANK_ERR_FORMAT, "\"docs\" is not an array");
        if (!json_is_array(labels))
            return rr_error(RERANK_ERR_FORMAT, "\"docs\" needs a \"labels\" array");
        if (json_array_size(labels) != json_array_size(docs))
            return rr_error(RERANK_ERR_FORMAT, "%zu docs but %zu labels", json_array_size(docs),
                            json_array_size(labels));
        n = json_array_size(docs);
    } else {
        if (!pos && !neg)
            return rr_error(RERANK_ERR_FORMAT,
                            "needs \"docs\"+\"labels\" or \"pos\"/\"neg\" arrays");
        if ((pos && !json_is_array(pos)) || (neg && !json_is_array(neg)))
            return rr_error(RERANK_ERR_FORMAT, "\"pos\" and \"neg\" must be arrays");
        n = json_array_size(pos) + json_array_size(neg);
    }
    if (n == 0) return rr_error(RERANK_ERR_FORMAT, "no candidate documents");
    if (n > RR_EVAL_MAX_CANDIDATES)
        return rr_error(RERANK_ERR_LIMIT, "%zu candidates, more than the limit of %u", n,
                        RR_EVAL_MAX_CANDIDATES);

    rr_eval_query_t *q;
    rerank_status_t st = push_query(d, cap, &q);
    if (st) return st;
    if ((st = query_alloc(q, n, n))) return st;
    if ((st = dup_text(query, &q->text, &q->text_len))) return st;
    const json_t *qid = json_object_get(o, "qid");
    if (qid) {
        if ((st = dup_id(qid, &q->qid))) {
            rr_error_prefix("\"qid\"");
            return st;
        }
    } else {
        char tmp[40];
        snprintf(tmp, sizeof tmp, "line-%zu", line);
        if (!(q->qid = rr_strndup(tmp, strlen(tmp))))
            return rr_error(RERANK_ERR_NOMEM, "out of memory");
    }

    /* place[k]: first-stage position of the k-th candidate in file order */
    size_t *place = rr_malloc(n * sizeof *place);
    if (!place) return rr_error(RERANK_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) place[k] = k;
    if (posneg) {
        uint64_t state = fnv1a(q->text, q->text_len);
        for (size_t k = n - 1; k > 0; k--) {
            size_t j = (size_t)(splitmix(&state) % (k + 1));
            size_t t = place[k];
            place[k] = place[j];
            place[j] = t;
        }
        d->n_shuffled++;
        if (pos) st = take_docs(q, pos, "pos", place, 0, NULL);
        if (!st && neg) st = take_docs(q, neg, "neg", place, json_array_size(pos), NULL);
    } else {
        st = take_docs(q, docs, "docs", place, 0, labels);
    }
    rr_free(place);
    if (st) return st;
    for (size_t i = 0; i < n && !st; i++) {
        q->first_scores[i] = (double)(n - i);
        st = set_docid_num(q, i, n - 1 - i);
    }
    d->n_pairs += n;
    return st;
}

rerank_status_t rr_eval_parse_jsonl(const char *buf, size_t len, const char *name,
                                    rr_eval_data_t *out) {
    memset(out, 0, sizeof *out);
    out->format = RR_EVAL_FMT_JSONL;
    out->default_rel_threshold = 1.0;
    size_t cap = 0, line = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        p = nl ? nl + 1 : end;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        if (s == le) continue;
        json_error_t jerr;
        json_t *o = json_loadb(s, (size_t)(le - s), 0, &jerr);
        rerank_status_t st;
        if (!o) {
            st = rr_error(RERANK_ERR_FORMAT, "%s:%zu: invalid JSON: %s (column %d)", name, line,
                          jerr.text, jerr.column);
        } else {
            st = jsonl_record(out, &cap, o, line);
            json_decref(o);
            if (st) rr_error_prefix("%s:%zu", name, line);
        }
        if (st) {
            rr_eval_data_release(out);
            return st;
        }
    }
    if (out->n_queries == 0) {
        rr_eval_data_release(out);
        return rr_error(RERANK_ERR_FORMAT, "%s: no queries", name);
    }
    return RERANK_OK;
}

/* ---- TREC DL -------------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first docid that occurs twice in ids[0..n), or NULL. trec_eval refuses
 * a run with a document twice for one query ("duplicate docs"): the copy
 * would add its gain to the DCG again (nDCG above 1) and could count as a
 * second relevant hit. Sorts a copy of the pointers: O(n log n). */
static rerank_status_t find_duplicate(char *const *ids, size_t n, const char **dup) {
    *dup = NULL;
    if (n < 2) return RERANK_OK;
    const char **s = rr_malloc(n * sizeof *s);
    if (!s) return rr_error(RERANK_ERR_NOMEM, "out of memory");
    memcpy(s, ids, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_str_ptr);
    for (size_t i = 1; i < n && !*dup; i++)
        if (!strcmp(s[i - 1], s[i])) *dup = s[i];
    /* *dup points into ids[], which outlives s */
    rr_free(s);
    return RERANK_OK;
}

/* Which member of a hit gives its first-stage position. Every hit of a query
 * must use the same one: a BM25 score and a negated rank are not on one
 * scale, so a query mixing them would get an arbitrary first-stage order. */
typedef enum { FS_SCORE, FS_RANK, FS_POSITION } first_stage_key_t;

static first_stage_key_t first_stage_key(const json_t *hit0) {
    if (json_object_get(hit0, "score")) return FS_SCORE;
    if (json_object_get(hit0, "rank")) return FS_RANK;
    return FS_POSITION;
}

/* First-stage score of hit i under `key` (higher = better). */
static rerank_status_t first_stage_score(const json_t *h, first_stage_key_t key, size_t i,
                                         double *out) {
    const char *name = key == FS_SCORE ? "score" : "rank";
    if (key == FS_POSITION) {
        *out = -(double)i;
        return RERANK_OK;
    }
    const json_t *v = json_object_get(h, name);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return rr_error(RERANK_ERR_FORMAT,
                        "hit %zu: \"%s\" is %s; every hit of a query needs a numeric \"%s\" "
                        "when hit 0 has one",
                        i, name, v ? "not a finite number" : "missing", name);
    *out = key == FS_SCORE ? json_number_value(v) : -json_number_value(v);
    return RERANK_OK;
}

/* Every hit of one entry must carry the query's qid: a stray hit would be
 * judged against another query's qrels. */
static rerank_status_t check_hit_qid(const json_t *h, const char *qid, size_t i) {
    char *hq = NULL;
    rerank_status_t st = dup_id(json_object_get(h, "qid"), &hq);
    if (st) {
        rr_error_prefix("hit %zu: \"qid\"", i);
        return st;
    }
    if (strcmp(hq, qid))
        st = rr_error(RERANK_ERR_FORMAT, "hit %zu has qid %s but hit 0 has qid %s", i, hq, qid);
    rr_free(hq);
    return st;
}

/* `seen` maps each judged qid already loaded to its entry index: a qid in two
 * entries would enter the mean twice (trec_eval pools a run's lines by qid). */
static rerank_status_t check_new_qid(json_t *seen, const char *qid, size_t idx) {
    const json_t *prev = json_object_get(seen, qid);
    if (prev)
        return rr_error(RERANK_ERR_FORMAT, "entry %zu: qid %s already appeared in entry %" JSON_INTEGER_FORMAT,
                        idx, qid, json_integer_value(prev));
    if (json_object_set_new(seen, qid, json_integer((json_int_t)idx)))
        return rr_error(RERANK_ERR_NOMEM, "out of memory");
    return RERANK_OK;
}

static rerank_status_t trec_query(rr_eval_data_t *d, size_t *cap, const json_t *item,
                                  const json_t *qrels, json_t *seen, size_t idx) {
    if (!json_is_object(item)) return rr_error(RERANK_ERR_FORMAT, "entry %zu is not an object", idx);
    const json_t *query = json_object_get(item, "query"), *hits = json_object_get(item, "hits");
    if (!json_is_string(query) || !json_is_array(hits))
        return rr_error(RERANK_ERR_FORMAT, "entry %zu needs \"query\" (string) and \"hits\" (array)",
                        idx);
    size_t n = json_array_size(hits);
    if (n == 0) { d->skipped++; return RERANK_OK; }
    if (n > RR_EVAL_MAX_CANDIDATES)
        return rr_error(RERANK_ERR_LIMIT, "entry %zu: %zu candidates, more than the limit of %u",
                        idx, n, RR_EVAL_MAX_CANDIDATES);
    char *qid = NULL;
    rerank_status_t st = dup_id(json_object_get(json_array_get(hits, 0), "qid"), &qid);
    if (st) {
        rr_error_prefix("entry %zu: hit 0: \"qid\"", idx);
        return st;
    }
    const json_t *qj = json_object_get(qrels, qid);
    if (!json_is_object(qj)) { /* not judged: trec_eval skips it */
        rr_free(qid);
        d->skipped++;
        return RERANK_OK;
    }
    if ((st = check_new_qid(seen, qid, idx))) { rr_free(qid); return st; }
    rr_eval_query_t *q;
    if ((st = push_query(d, cap, &q))) { rr_free(qid); return st; }
    q->qid = qid;
    if ((st = query_alloc(q, n, json_object_size(qj)))) return st;
    if ((st = dup_text(query, &q->text, &q->text_len))) return st;
    const char *key;
    const json_t *val;
    size_t j = 0;
    json_object_foreach((json_t *)qj, key, val) {
        if (parse_grade(val, &q->judged[j]))
            return rr_error(RERANK_ERR_FORMAT, "qrels: qid %s docid %s: grade is not a number",
                            qid, key);
        j++;
    }
    first_stage_key_t fs = first_stage_key(json_array_get(hits, 0));
    for (size_t i = 0; i < n; i++) {
        const json_t *h = json_array_get(hits, i);
        const json_t *content = json_object_get(h, "content");
        if (!json_is_object(h) || !json_is_string(content))
            return rr_error(RERANK_ERR_FORMAT, "entry %zu: hit %zu needs a string \"content\"", idx, i);
        if ((st = check_hit_qid(h, qid, i)) || (st = first_stage_score(h, fs, i, &q->first_scores[i]))) {
            rr_error_prefix("entry %zu", idx);
            return st;
        }
        if ((st = dup_id(json_object_get(h, "docid"), &q->docids[i]))) {
            rr_error_prefix("entry %zu: hit %zu: \"docid\"", idx, i);
            return st;
        }
        if ((st = dup_text(content, &q->docs[i], &q->doc_lens[i]))) {
            rr_error_prefix("entry %zu: hit %zu", idx, i);
            return st;
        }
        const json_t *g = json_object_get(qj, q->docids[i]);
        q->grades[i] = 0;
        if (g && parse_grade(g, &q->grades[i]))
            return rr_error(RERANK_ERR_FORMAT, "qrels: qid %s docid %s: grade is not a number",
                            qid, q->docids[i]);
    }
    const char *dup;
    if ((st = find_duplicate(q->docids, n, &dup))) return st;
    if (dup)
        return rr_error(RERANK_ERR_FORMAT,
                        "entry %zu: qid %s: docid %s is a candidate twice (as in trec_eval, a "
                        "document may be ranked once per query)",
                        idx, qid, dup);
    d->n_pairs += n;
    return RERANK_OK;
}

rerank_status_t rr_eval_parse_trec_dl(const char *buf, size_t len, const char *qrels_buf,
                                      size_t qrels_len, const char *name, rr_eval_data_t *out) {
    memset(out, 0, sizeof *out);
    out->format = RR_EVAL_FMT_TREC_DL;
    out->default_rel_threshold = 2.0;
    json_error_t jerr;
    /* duplicate keys are refused, not last-wins: a docid judged twice for a
     * query is an error in trec_eval ("duplicate docs") */
    json_t *qrels = json_loadb(qrels_buf, qrels_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!qrels)
        return rr_error(RERANK_ERR_FORMAT, "qrels: invalid JSON at line %d column %d: %s",
                        jerr.line, jerr.column, jerr.text);
    if (!json_is_object(qrels)) {
        json_decref(qrels);
        return rr_error(RERANK_ERR_FORMAT, "qrels: expected an object {qid: {docid: grade}}");
    }
    json_t *root = json_loadb(buf, len, 0, &jerr);
    if (!root) {
        json_decref(qrels);
        return rr_error(RERANK_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", name,
                        jerr.line, jerr.column, jerr.text);
    }
    rerank_status_t st = RERANK_OK;
    if (!json_is_array(root)) {
        st = rr_error(RERANK_ERR_FORMAT, "%s: expected an array [{query, hits}]", name);
    } else {
        size_t cap = 0;
        json_t *seen = json_object(); /* judged qid -> entry index */
        if (!seen) st = rr_error(RERANK_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(root) && !st; i++)
            if ((st = trec_query(out, &cap, json_array_get(root, i), qrels, seen, i)))
                rr_error_prefix("%s", name);
        json_decref(seen);
        if (!st && out->n_queries == 0)
            st = rr_error(RERANK_ERR_FORMAT, "%s: no query has judgments in the qrels", name);
    }
    json_decref(root);
    json_decref(qrels);
    if (st) rr_eval_data_release(out);
    return st;
}

rerank_status_t rr_eval_data_load(const char *path, const char *qrels_path,
                                  rr_eval_format_t format, rr_eval_data_t *out) {
    memset(out, 0, sizeof *out);
    rerank_status_t st;
    if (format == RR_EVAL_FMT_AUTO && (st = rr_eval_detect_format(path, &format))) return st;
    char *buf = NULL, *qbuf = NULL, *derived = NULL;
    size_t len = 0, qlen = 0;
    if ((st = rr_file_read(path, RR_MAX_DATA_FILE_BYTES, &buf, &len))) return st;
    if (format == RR_EVAL_FMT_JSONL) {
        st = rr_eval_parse_jsonl(buf, len, path, out);
    } else {
        if (!qrels_path) qrels_path = derived = rr_eval_default_qrels(path);
        if (!qrels_path) st = RERANK_ERR_INVALID_ARGUMENT;
        else if (!(st = rr_file_read(qrels_path, RR_MAX_DATA_FILE_BYTES, &qbuf, &qlen))) {
            st = rr_eval_parse_trec_dl(buf, len, qbuf, qlen, path, out);
            if (st && !strncmp(rerank_last_error(), "qrels:", 6))
                rr_error_prefix("%s", qrels_path);
        }
    }
    rr_free(buf);
    rr_free(qbuf);
    rr_free(derived);
    return st;
}
