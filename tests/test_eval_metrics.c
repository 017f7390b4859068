/* test_eval_metrics.c — `rerank eval`: metrics against hand-computed values,
 * the published BM25 figures on TREC DL 2019/2020, data parsing, --compare
 * parsing, the SVG plot, and an end-to-end run on the tiny fixture model. */
#include <jansson.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "eval/config.h"
#include "eval/data.h"
#include "eval/evaluate.h"
#include "eval/metrics.h"
#include "eval/runner.h"
#include "eval/svg.h"
#include "test.h"

static char g_path[4096];
static const char *sp(const char *rel) {
    snprintf(g_path, sizeof g_path, "%s/%s", t_shared(), rel);
    return g_path;
}

/* ---- metrics -------------------------------------------------------- */

TEST(ndcg_hand_computed) {
    /* ranked grades 3, 0, 2; judged grades 3, 2, 1, 0 (the grade-1 document
     * was not retrieved). DCG = 3/1 + 0 + 2/log2(4) = 4;
     * IDCG = 3/1 + 2/log2(3) + 1/log2(4) = 3 + 1.2618595 + 0.5. */
    double scores[] = {3, 2, 1}, grades[] = {3, 0, 2}, judged[] = {0, 1, 2, 3};
    const char *ids[] = {"a", "b", "c"};
    rr_ranked_list_t l = {3, scores, ids, grades, 4, judged};
    size_t order[3];
    rr_rank_order(3, scores, ids, order);
    CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2);
    CHECK_NEAR(rr_ndcg_at(&l, order, 10), 4.0 / (3.0 + 2.0 / log2(3.0) + 0.5), 1e-12);
    CHECK_NEAR(rr_ndcg_at(&l, order, 10), 0.8400080, 1e-6);
    /* @1: DCG 3, IDCG 3 */
    CHECK_NEAR(rr_ndcg_at(&l, order, 1), 1.0, 1e-12);
    /* @2: DCG 3, IDCG 3 + 2/log2(3) */
    CHECK_NEAR(rr_ndcg_at(&l, order, 2), 3.0 / (3.0 + 2.0 / log2(3.0)), 1e-12);
    /* relevance threshold 2: ranks 1 and 3 relevant; 2 relevant judged */
    CHECK_NEAR(rr_mrr_at(&l, order, 10, 2), 1.0, 0);
    CHECK_NEAR(rr_recall_at(&l, order, 100, 2), 1.0, 0);
    CHECK_NEAR(rr_recall_at(&l, order, 2, 2), 0.5, 0);
    CHECK_NEAR(rr_top1(&l, order, 2), 1.0, 0);
    /* threshold 1: three relevant judged (grades 1, 2, 3), two retrieved */
    CHECK_NEAR(rr_recall_at(&l, order, 100, 1), 2.0 / 3.0, 1e-12);
}

TEST(ndcg_duplicate_grades_in_ideal) {
    /* judged 2, 2, 2, 1: IDCG@2 = 2 + 2/log2(3); ranked 1, 2 */
    double scores[] = {2, 1}, grades[] = {1, 2}, judged[] = {2, 1, 2, 2};
    rr_ranked_list_t l = {2, scores, NULL, grades, 4, judged};
    size_t order[2];
    rr_rank_order(2, scores, NULL, order);
    CHECK_NEAR(rr_ndcg_at(&l, order, 2), (1.0 + 2.0 / log2(3.0)) / (2.0 + 2.0 / log2(3.0)), 1e-12);
    /* @10 over 4 judged: IDCG = 2 + 2/log2 3 + 2/2 + 1/log2 5 */
    CHECK_NEAR(rr_ndcg_at(&l, order, 10),
               (1.0 + 2.0 / log2(3.0)) / (2.0 + 2.0 / log2(3.0) + 1.0 + 1.0 / log2(5.0)), 1e-12);
}

TEST(ties_broken_by_docid_descending) {
    double scores[] = {1, 1, 1, 5}, grades[] = {0, 3, 0, 0}, judged[] = {3};
    const char *ids[] = {"a", "c", "b", "z0"};
    size_t order[4];
    rr_rank_order(4, scores, ids, order);
    /* 5 first, then the tie "c" > "b" > "a" */
    CHECK(order[0] == 3 && order[1] == 1 && order[2] == 2 && order[3] == 0);
    rr_ranked_list_t l = {4, scores, ids, grades, 1, judged};
    CHECK_NEAR(rr_mrr_at(&l, order, 10, 2), 0.5, 0);
    CHECK_NEAR(rr_ndcg_at(&l, order, 10), 1.0 / log2(3.0), 1e-12);
    CHECK_NEAR(rr_top1(&l, order, 2), 0.0, 0);
    /* independent of input order: reverse the arrays */
    double s2[] = {5, 1, 1, 1};
    const char *id2[] = {"z0", "b", "c", "a"};
    rr_rank_order(4, s2, id2, order);
    CHECK(order[0] == 0 && order[1] == 2 && order[2] == 1 && order[3] == 3);
    /* NaN ranks last */
    double s3[] = {NAN, 0, -1};
    rr_rank_order(3, s3, NULL, order);
    CHECK(order[0] == 1 && order[1] == 2 && order[2] == 0);
}

TEST(mrr_cutoff_and_threshold) {
    double scores[12], grades[12] = {0}, judged[1] = {2};
    for (int i = 0; i < 12; i++) scores[i] = 12 - i;
    grades[10] = 2; /* rank 11 */
    size_t order[12];
    rr_ranked_list_t l = {12, scores, NULL, grades, 1, judged};
    rr_rank_order(12, scores, NULL, order);
    CHECK_NEAR(rr_mrr_at(&l, order, 10, 2), 0.0, 0);
    CHECK_NEAR(rr_mrr_at(&l, order, 100, 2), 1.0 / 11, 1e-15);
    CHECK_NEAR(rr_recall_at(&l, order, 10, 2), 0.0, 0);
    CHECK_NEAR(rr_recall_at(&l, order, 11, 2), 1.0, 0);
    grades[2] = 1; /* grade 1 is not relevant at threshold 2 ... */
    CHECK_NEAR(rr_mrr_at(&l, order, 10, 2), 0.0, 0);
    CHECK_NEAR(rr_mrr_at(&l, order, 10, 1), 1.0 / 3, 1e-15); /* ... but is at 1 */
}

TEST(query_without_relevant_documents) {
    double scores[] = {3, 2, 1}, grades[] = {0, 0, 0}, judged[] = {0, 0, 0, 0};
    rr_ranked_list_t l = {3, scores, NULL, grades, 4, judged};
    size_t order[3];
    rr_query_metrics_t m;
    rr_query_metrics(&l, 2, order, &m);
    CHECK(m.ndcg10 == 0 && m.mrr10 == 0 && m.recall100 == 0 && m.top1 == 0);
    /* grade 1 only, threshold 2: nDCG > 0 (gains are grades) but no relevant */
    double g1[] = {0, 1, 0}, j1[] = {1};
    rr_ranked_list_t l1 = {3, scores, NULL, g1, 1, j1};
    rr_query_metrics(&l1, 2, order, &m);
    CHECK_NEAR(m.ndcg10, 1.0 / log2(3.0), 1e-12);
    CHECK(m.mrr10 == 0 && m.recall100 == 0 && m.top1 == 0);
    /* empty list */
    rr_ranked_list_t l0 = {0, NULL, NULL, NULL, 0, NULL};
    rr_query_metrics(&l0, 2, order, &m);
    CHECK(m.ndcg10 == 0 && m.top1 == 0);
}

TEST(kendall_tau_b) {
    double tau = 9;
    double x[] = {1, 2, 3, 4}, y[] = {1, 3, 2, 4};
    CHECK(rr_kendall_tau_b(4, x, y, &tau) == 0); /* 5 concordant, 1 discordant */
    CHECK_NEAR(tau, 4.0 / 6.0, 1e-12);
    double r[] = {4, 3, 2, 1};
    CHECK(rr_kendall_tau_b(4, x, r, &tau) == 0);
    CHECK_NEAR(tau, -1.0, 1e-12);
    CHECK(rr_kendall_tau_b(4, x, x, &tau) == 0);
    CHECK_NEAR(tau, 1.0, 1e-12);
    /* ties: pairs (1,2) tied in x, (2,3) tied in y; 4 concordant, 0 discordant:
     * 4 / sqrt((6-1)(6-1)) = 0.8 */
    double tx[] = {1, 2, 2, 3}, ty[] = {1, 2, 3, 3};
    CHECK(rr_kendall_tau_b(4, tx, ty, &tau) == 0);
    CHECK_NEAR(tau, 0.8, 1e-12);
    /* ties on both sides of one pair: x = 1 1 2, y = 1 1 2:
     * 2 concordant, n0 = 3, tx = ty = 1 -> 2 / 2 = 1 */
    double ax[] = {1, 1, 2};
    CHECK(rr_kendall_tau_b(3, ax, ax, &tau) == 0);
    CHECK_NEAR(tau, 1.0, 1e-12);
    /* 5 items, x = 1 2 3 4 5, y = 1 1 2 2 3: tx = 0, ty = 2, conc = 8, disc = 0
     * -> 8 / sqrt(10 * 8) = 0.894427191 */
    double fx[] = {1, 2, 3, 4, 5}, fy[] = {1, 1, 2, 2, 3};
    CHECK(rr_kendall_tau_b(5, fx, fy, &tau) == 0);
    CHECK_NEAR(tau, 8.0 / sqrt(80.0), 1e-12);
    /* undefined */
    double c[] = {7, 7, 7};
    CHECK(rr_kendall_tau_b(3, x, c, &tau) == -1);
    CHECK(rr_kendall_tau_b(1, x, y, &tau) == -1);
}

/* ---- data ----------------------------------------------------------- */

static const char k_trec[] =
    "[{\"query\": \"q one\", \"hits\": ["
    " {\"qid\": 1, \"docid\": \"d1\", \"rank\": 1, \"score\": 9.5, \"content\": \"doc 1\"},"
    " {\"qid\": 1, \"docid\": \"d2\", \"rank\": 2, \"score\": 7.0, \"content\": \"doc 2\"},"
    " {\"qid\": 1, \"docid\": \"d3\", \"rank\": 3, \"score\": 7.0, \"content\": \"doc 3\"}]},"
    " {\"query\": \"q two\", \"hits\": ["
    " {\"qid\": 2, \"docid\": \"e1\", \"rank\": 1, \"score\": 3.0, \"content\": \"x\"},"
    " {\"qid\": 2, \"docid\": \"e2\", \"rank\": 2, \"score\": 2.0, \"content\": \"y\"}]},"
    " {\"query\": \"not judged\", \"hits\": ["
    " {\"qid\": 3, \"docid\": \"f1\", \"rank\": 1, \"score\": 1.0, \"content\": \"z\"}]}]";
static const char k_qrels[] =
    "{\"1\": {\"d2\": \"2\", \"d9\": \"3\", \"d1\": \"0\"},"
    " \"2\": {\"e1\": \"0\", \"e2\": 1}}";

TEST(trec_parse_unjudged_and_skipped) {
    rr_eval_data_t d;
    CHECK(rr_eval_parse_trec_dl(k_trec, strlen(k_trec), k_qrels, strlen(k_qrels), "mem", &d) ==
          RERANK_OK);
    CHECK(d.n_queries == 2 && d.skipped == 1 && d.n_pairs == 5);
    CHECK(d.default_rel_threshold == 2.0);
    if (d.n_queries != 2) { rr_eval_data_release(&d); return; }
    rr_eval_query_t *q = &d.queries[0];
    CHECK(!strcmp(q->qid, "1") && !strcmp(q->text, "q one") && q->n == 3 && q->n_judged == 3);
    CHECK(q->grades[0] == 0 && q->grades[1] == 2 && q->grades[2] == 0); /* d3 unjudged = 0 */
    CHECK(q->first_scores[0] == 9.5 && q->doc_lens[2] == 5 && !strcmp(q->docs[2], "doc 3"));
    /* first stage: d1 (9.5), tie 7.0: d3 > d2 by docid descending -> d2 at rank 3.
     * q1: DCG = 2/log2(4) = 1; IDCG = 3 + 2/log2(3); MRR 1/3; recall 1/2 (d9
     * judged 3 but not retrieved); top1 0.
     * q2: all grades < 2 -> nDCG = (1/log2 3)/1, MRR/recall/top1 = 0. */
    rr_query_metrics_t m;
    CHECK(rr_eval_quality(&d, NULL, 2.0, &m) == RERANK_OK);
    double n1 = 1.0 / (3.0 + 2.0 / log2(3.0)), n2 = 1.0 / log2(3.0);
    CHECK_NEAR(m.ndcg10, (n1 + n2) / 2, 1e-12);
    CHECK_NEAR(m.mrr10, (1.0 / 3) / 2, 1e-12);
    CHECK_NEAR(m.recall100, 0.5 / 2, 1e-12);
    CHECK_NEAR(m.top1, 0.0, 0);
    /* reranked scores (flat): put d2 first in q1, e2 first in q2 */
    double s[] = {0.1, 0.9, 0.2, 0.0, 0.5};
    CHECK(rr_eval_quality(&d, s, 2.0, &m) == RERANK_OK);
    CHECK_NEAR(m.top1, 0.5, 0);
    CHECK_NEAR(m.mrr10, 0.5, 0);
    /* agreement of s with itself and with the first stage */
    rr_eval_agreement_t a;
    CHECK(rr_eval_agreement(&d, s, s, &a) == RERANK_OK);
    CHECK(a.top1 == 1.0 && a.kendall_tau == 1.0 && a.max_abs_diff == 0 && a.tau_queries == 2);
    double fs[] = {9.5, 7.0, 7.0, 3.0, 2.0};
    CHECK(rr_eval_agreement(&d, fs, s, &a) == RERANK_OK);
    CHECK(a.top1 == 0.0);
    CHECK_NEAR(a.max_abs_diff, 9.4, 1e-12);
    /* q1: x = 9.5 7 7, y = .1 .9 .2: pairs (0,1) disc, (0,2) disc, (1,2) tied in x
     * -> -2 / sqrt(2 * 3); q2: x = 3 2, y = 0 .5 -> -1 */
    CHECK_NEAR(a.kendall_tau, (-2.0 / sqrt(6.0) - 1.0) / 2, 1e-12);
    rr_eval_data_truncate(&d, 1);
    CHECK(d.n_queries == 1 && d.n_pairs == 3);
    rr_eval_data_release(&d);
}

TEST(trec_parse_errors) {
    rr_eval_data_t d;
    const char *bad_qrels = "{\"1\": {\"d2\": \"two\"}}";
    CHECK(rr_eval_parse_trec_dl(k_trec, strlen(k_trec), bad_qrels, strlen(bad_qrels), "mem", &d) ==
          RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "grade") != NULL);
    CHECK(d.n_queries == 0 && d.queries == NULL);
    const char *bad = "[{\"query\": \"q\", \"hits\": [{\"qid\": 1, \"docid\": \"d1\"}]}]";
    CHECK(rr_eval_parse_trec_dl(bad, strlen(bad), k_qrels, strlen(k_qrels), "mem", &d) ==
          RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "content") != NULL);
    CHECK(rr_eval_parse_trec_dl("[1,", 3, k_qrels, strlen(k_qrels), "mem", &d) == RERANK_ERR_FORMAT);
    CHECK(rr_eval_parse_trec_dl("[]", 2, k_qrels, strlen(k_qrels), "mem", &d) == RERANK_ERR_FORMAT);
}

/* A hand-made run and qrels with every trec_eval corner at once, parsed from
 * the TREC DL shape. Query 5, hits (docid, BM25 score):
 *   p1 2.0, p3 2.0, p2 2.0, p0 5.0, p4 1.0     (given out of order)
 * qrels 5: p0 1, p1 3, p2 0, p4 2, p9 1 (p9 not retrieved), p3 unjudged.
 * trec_eval ranks score descending, then docno descending:
 *   p0 (5.0), p3, p2, p1 (the 2.0 tie, "p3" > "p2" > "p1"), p4 (1.0)
 *   grades 1, 0 (unjudged), 0 (judged 0), 3, 2
 * nDCG@10 = (1 + 3/log2 5 + 2/log2 6) / (3 + 2/log2 3 + 1/log2 4 + 1/log2 5)
 *   (ideal from all five judged grades 3, 2, 1, 1, 0, p9 included)
 * threshold 2 (TREC DL passage): relevant p1, p4 -> MRR@10 1/4, Recall@100
 *   2/2, top-1 0;  threshold 1: relevant p0, p1, p4, p9 -> MRR@10 1,
 *   Recall@100 3/4 (p9 not retrieved), top-1 1.
 * Unjudged p3 and judged-0 p2 are the same to every metric. */
static const char k_trec_corners[] =
    "[{\"query\": \"q5\", \"hits\": ["
    " {\"qid\": 5, \"docid\": \"p1\", \"score\": 2.0, \"content\": \"a\"},"
    " {\"qid\": 5, \"docid\": \"p3\", \"score\": 2.0, \"content\": \"b\"},"
    " {\"qid\": 5, \"docid\": \"p2\", \"score\": 2.0, \"content\": \"c\"},"
    " {\"qid\": 5, \"docid\": \"p0\", \"score\": 5.0, \"content\": \"d\"},"
    " {\"qid\": 5, \"docid\": \"p4\", \"score\": 1.0, \"content\": \"e\"}]}]";
static const char k_qrels_corners[] =
    "{\"5\": {\"p0\": \"1\", \"p1\": \"3\", \"p2\": \"0\", \"p4\": \"2\", \"p9\": \"1\"}}";

TEST(trec_hand_computed_corners) {
    rr_eval_data_t d;
    rerank_status_t st = rr_eval_parse_trec_dl(k_trec_corners, strlen(k_trec_corners), k_qrels_corners,
                                               strlen(k_qrels_corners), "mem", &d);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    if (st) return;
    CHECK(d.n_queries == 1 && d.queries[0].n_judged == 5);
    rr_query_metrics_t m;
    CHECK(rr_eval_quality(&d, NULL, 2.0, &m) == RERANK_OK);
    double dcg = 1.0 + 3.0 / log2(5.0) + 2.0 / log2(6.0);
    double idcg = 3.0 + 2.0 / log2(3.0) + 0.5 + 1.0 / log2(5.0);
    CHECK_NEAR(m.ndcg10, dcg / idcg, 1e-12);
    CHECK_NEAR(m.ndcg10, 0.5904119, 1e-6);
    CHECK_NEAR(m.mrr10, 0.25, 0);
    CHECK_NEAR(m.recall100, 1.0, 0);
    CHECK_NEAR(m.top1, 0.0, 0);
    CHECK(rr_eval_quality(&d, NULL, 1.0, &m) == RERANK_OK);
    CHECK_NEAR(m.ndcg10, dcg / idcg, 1e-12); /* the threshold leaves the gains alone */
    CHECK_NEAR(m.mrr10, 1.0, 0);
    CHECK_NEAR(m.recall100, 0.75, 0);
    CHECK_NEAR(m.top1, 1.0, 0);
    rr_eval_data_release(&d);
}

static void expect_trec_error(const char *run, const char *qrels, const char *needle) {
    rr_eval_data_t d;
    rerank_status_t st = rr_eval_parse_trec_dl(run, strlen(run), qrels, strlen(qrels), "r.json", &d);
    CHECK_MSG(st == RERANK_ERR_FORMAT, "accepted (%d): %s", (int)st, run);
    CHECK_MSG(strstr(rerank_last_error(), needle) != NULL, "'%s' lacks '%s'", rerank_last_error(),
              needle);
    CHECK(d.queries == NULL && d.n_queries == 0);
}

/* trec_eval refuses a document twice in one query's ranking ("duplicate
 * docs"); accepted, the copy added its gain again: this run gave nDCG@10 =
 * (3 + 3/log2 3) / 3 = 1.63. A qid in two entries counted twice in the mean;
 * a hit with another qid was judged against the wrong query's qrels; a qrels
 * docid given twice was last-wins; a non-numeric "score" silently fell back
 * to the rank, mixing two scales in one query. */
TEST(trec_parse_rejects_what_trec_eval_rejects) {
#define HIT(q, id, sc) "{\"qid\": " #q ", \"docid\": \"" id "\", \"score\": " sc ", \"content\": \"t\"}"
    const char *qrels = "{\"1\": {\"a\": \"3\", \"b\": \"0\"}, \"2\": {\"c\": \"1\", \"d\": \"2\"}}";
    expect_trec_error("[{\"query\": \"q\", \"hits\": [" HIT(1, "a", "3") ", " HIT(1, "a", "2") ", "
                      HIT(1, "b", "1") "]}]",
                      qrels, "r.json: entry 0: qid 1: docid a is a candidate twice");
    expect_trec_error("[{\"query\": \"q\", \"hits\": [" HIT(1, "a", "3") "]},"
                      " {\"query\": \"q\", \"hits\": [" HIT(1, "b", "3") "]}]",
                      qrels, "entry 1: qid 1 already appeared in entry 0");
    expect_trec_error("[{\"query\": \"r\", \"hits\": [" HIT(2, "c", "3") ", " HIT(9, "d", "3") "]}]",
                      qrels, "entry 0: hit 1 has qid 9 but hit 0 has qid 2");
    expect_trec_error("[{\"query\": \"q\", \"hits\": [" HIT(1, "a", "3") "]}]",
                      "{\"1\": {\"a\": \"1\", \"a\": \"3\"}}", "duplicate object key");
    expect_trec_error("[{\"query\": \"q\", \"hits\": [" HIT(1, "a", "\"3\"") "]}]", qrels,
                      "entry 0: hit 0: \"score\" is not a finite number");
    expect_trec_error("[{\"query\": \"q\", \"hits\": [" HIT(1, "a", "3")
                      ", {\"qid\": 1, \"docid\": \"b\", \"rank\": 2, \"content\": \"t\"}]}]",
                      qrels, "entry 0: hit 1: \"score\" is missing");
#undef HIT
    /* the same docid under two different queries is fine, and so is a run
     * ranked by "rank" alone (rank 1 first) */
    const char *ok = "[{\"query\": \"q\", \"hits\": [{\"qid\": 1, \"docid\": \"b\", \"rank\": 2, \"content\": \"t\"},"
                     " {\"qid\": 1, \"docid\": \"a\", \"rank\": 1, \"content\": \"t\"}]},"
                     " {\"query\": \"r\", \"hits\": [{\"qid\": 2, \"docid\": \"a\", \"rank\": 1, \"content\": \"t\"}]}]";
    rr_eval_data_t d;
    CHECK(rr_eval_parse_trec_dl(ok, strlen(ok), qrels, strlen(qrels), "r.json", &d) == RERANK_OK);
    rr_query_metrics_t m;
    CHECK(d.n_queries == 2 && rr_eval_quality(&d, NULL, 2.0, &m) == RERANK_OK);
    CHECK_NEAR(m.top1, 0.5, 0); /* q1: a (grade 3) ranked first by rank 1 */
    rr_eval_data_release(&d);
}

TEST(default_qrels_path) {
    char *p = rr_eval_default_qrels("../shared/eval/trec-dl/retrieve_results_dl19.json");
    CHECK(p && !strcmp(p, "../shared/eval/trec-dl/qrels_dl19.json"));
    rr_free(p);
    p = rr_eval_default_qrels("retrieve_results_x/data.json"); /* only the file name counts */
    CHECK(p == NULL);
}

static double round4(double v) { return floor(v * 1e4 + 0.5) / 1e4; }

static void check_trec_figure(const char *year, size_t queries, double expect) {
    char data[512], qrels[512];
    snprintf(data, sizeof data, "%s/eval/trec-dl/retrieve_results_%s.json", t_shared(), year);
    snprintf(qrels, sizeof qrels, "%s/eval/trec-dl/qrels_%s.json", t_shared(), year);
    rr_eval_data_t d;
    rerank_status_t st = rr_eval_data_load(data, qrels, RR_EVAL_FMT_AUTO, &d);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    if (st) return;
    CHECK(d.format == RR_EVAL_FMT_TREC_DL);
    CHECK(d.n_queries == queries && d.skipped == 0 && d.n_pairs == queries * 100);
    rr_query_metrics_t m;
    CHECK(rr_eval_quality(&d, NULL, d.default_rel_threshold, &m) == RERANK_OK);
    CHECK_MSG(round4(m.ndcg10) == expect, "%s nDCG@10 %.6f, expected %.4f", year, m.ndcg10, expect);
    CHECK(m.mrr10 > 0 && m.mrr10 <= 1 && m.recall100 > 0 && m.recall100 <= 1);
    rr_eval_data_release(&d);
}

TEST(trec_dl19_bm25_ndcg10) { check_trec_figure("dl19", 43, 0.5058); }
TEST(trec_dl20_bm25_ndcg10) { check_trec_figure("dl20", 54, 0.4796); }

static const char k_jsonl[] =
    "{\"query\": \"a\", \"docs\": [\"x\", \"y\", \"z\"], \"labels\": [0, 2, 1], \"qid\": 7}\n"
    "\n"
    "{\"query\": \"b\", \"pos\": [\"p1\"], \"neg\": [\"n1\", \"n2\", \"n3\", \"n4\"]}\r\n"
    "{\"query\": \"c\", \"neg\": [\"only negatives\"]}";

TEST(jsonl_both_shapes) {
    rr_eval_data_t d;
    rerank_status_t st = rr_eval_parse_jsonl(k_jsonl, strlen(k_jsonl), "mem.jsonl", &d);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    if (st) return;
    CHECK(d.n_queries == 3 && d.n_pairs == 9 && d.n_shuffled == 2 && d.default_rel_threshold == 1);
    rr_eval_query_t *a = &d.queries[0], *b = &d.queries[1];
    CHECK(!strcmp(a->qid, "7") && !strcmp(b->qid, "line-3") && !strcmp(d.queries[2].qid, "line-4"));
    /* docs/labels: order kept, labels are the judgments */
    CHECK(!strcmp(a->docs[0], "x") && !strcmp(a->docs[2], "z"));
    CHECK(a->grades[1] == 2 && a->n_judged == 3 && a->first_scores[0] > a->first_scores[1]);
    /* docids decrease along the first-stage order, so ties keep it */
    CHECK(strcmp(a->docids[0], a->docids[1]) > 0 && strcmp(a->docids[1], a->docids[2]) > 0);
    /* pos/neg: every document once, the positive labelled 1 */
    int seen = 0;
    double label_sum = 0;
    for (size_t i = 0; i < b->n; i++) {
        label_sum += b->grades[i];
        if (!strcmp(b->docs[i], "p1")) { seen++; CHECK(b->grades[i] == 1); }
    }
    CHECK(seen == 1 && label_sum == 1 && b->n == 5 && b->n_judged == 5);
    /* deterministic */
    rr_eval_data_t d2;
    CHECK(rr_eval_parse_jsonl(k_jsonl, strlen(k_jsonl), "mem.jsonl", &d2) == RERANK_OK);
    for (size_t i = 0; i < b->n && d2.n_queries == 3; i++)
        CHECK(!strcmp(b->docs[i], d2.queries[1].docs[i]));
    rr_eval_data_release(&d2);
    rr_eval_data_release(&d);
}

static void expect_jsonl_error(const char *text, const char *needle) {
    rr_eval_data_t d;
    rerank_status_t st = rr_eval_parse_jsonl(text, strlen(text), "f.jsonl", &d);
    CHECK_MSG(st != RERANK_OK, "accepted: %s", text);
    CHECK_MSG(strstr(rerank_last_error(), needle) != NULL, "'%s' lacks '%s'", rerank_last_error(),
              needle);
    CHECK(d.queries == NULL && d.n_queries == 0);
}

TEST(jsonl_malformed_lines) {
    const char *ok = "{\"query\": \"a\", \"pos\": [\"p\"], \"neg\": [\"n\"]}\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s\n%s{\"query\": \"b\", \"pos\": [\"p\"", ok, ok);
    expect_jsonl_error(buf, "f.jsonl:4: invalid JSON"); /* line 2 is blank */
    snprintf(buf, sizeof buf, "%s{\"pos\": [\"p\"]}\n", ok);
    expect_jsonl_error(buf, "f.jsonl:2: missing string member \"query\"");
    expect_jsonl_error("{\"query\": \"q\", \"docs\": [\"a\", \"b\"], \"labels\": [1]}",
                       "f.jsonl:1: 2 docs but 1 labels");
    expect_jsonl_error("{\"query\": \"q\", \"docs\": [\"a\"], \"labels\": [\"x\"]}",
                       "f.jsonl:1: \"labels\"[0] is not a number");
    expect_jsonl_error("{\"query\": \"q\", \"docs\": [\"a\"]}", "f.jsonl:1: \"docs\" needs");
    expect_jsonl_error("{\"query\": \"q\", \"pos\": [], \"neg\": []}", "f.jsonl:1: no candidate");
    expect_jsonl_error("{\"query\": \"q\", \"pos\": [3]}", "f.jsonl:1: \"pos\"[0] is not a string");
    expect_jsonl_error("{\"query\": \"q\"}", "f.jsonl:1: needs");
    expect_jsonl_error("[1, 2]", "f.jsonl:1: not a JSON object");
    expect_jsonl_error("{\"query\": \"q\", \"pos\": [\"a\"]} trailing", "f.jsonl:1: invalid JSON");
    expect_jsonl_error("\n\n", "no queries");
}

TEST(jsonl_alloc_failures) {
    /* jansson itself asserts on some allocation failures inside its lexer,
     * so only our own allocations are failed here (libc's allocator for
     * jansson, whoever set another before) */
    int completed = 0;
    for (unsigned long n = 1; n < 2000 && !completed; n++) {
        rr_eval_data_t d;
        json_set_alloc_funcs(malloc, free);
        rr_alloc_fail_at(n);
        rerank_status_t st = rr_eval_parse_jsonl(k_jsonl, strlen(k_jsonl), "m", &d);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        if (st == RERANK_OK) {
            CHECK(d.n_queries == 3);
            rr_eval_data_release(&d);
            if (!failed) completed = 1;
        } else {
            CHECK(d.queries == NULL);
        }
    }
    CHECK(completed);
}

TEST(toy_jsonl_file) {
    rr_eval_data_t d;
    rerank_status_t st =
        rr_eval_data_load(sp("eval/toy/reranker_examples_msmarco.jsonl"), NULL, RR_EVAL_FMT_AUTO, &d);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    if (st) return;
    CHECK(d.format == RR_EVAL_FMT_JSONL && d.n_queries == 10 && d.n_pairs == 260);
    CHECK(d.n_shuffled == 10);
    rr_query_metrics_t m;
    CHECK(rr_eval_quality(&d, NULL, 1, &m) == RERANK_OK);
    CHECK(m.recall100 == 1.0); /* every positive is among the candidates */
    CHECK(m.ndcg10 < 1.0);     /* the shuffle is not the perfect pos-first order */
    rr_eval_data_release(&d);
}

/* ---- --compare ------------------------------------------------------ */

TEST(compare_spec) {
    rr_eval_config_t base = {.precision = RERANK_PRECISION_FP32, .layers = 0, .max_length = 384};
    rr_eval_config_t c[RR_EVAL_MAX_CONFIGS];
    size_t n = 0;
    CHECK(rr_eval_parse_compare("fp32,bf16+layers=12,int8,max_length=256,layers=6+max-length=128,base",
                                &base, c, &n) == RERANK_OK);
    CHECK(n == 6);
    CHECK(!strcmp(c[1].name, "bf16+layers=12") && c[1].precision == RERANK_PRECISION_BF16 &&
          c[1].layers == 12 && c[1].max_length == 384);
    CHECK(c[2].precision == RERANK_PRECISION_INT8);
    CHECK(c[3].max_length == 256 && c[3].precision == RERANK_PRECISION_FP32);
    CHECK(c[4].layers == 6 && c[4].max_length == 128);
    CHECK(c[5].layers == 0 && c[5].max_length == 384);
    const char *bad[] = {"fp16", "layers=0", "fp32,,bf16", "bf16+int8", "layers=x", "+fp32",
                         "fp32+", "max_length=1", "layers=3+layers=4", "", "fp32,"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(rr_eval_parse_compare(bad[i], &base, c, &n) != RERANK_OK, "accepted '%s'", bad[i]);
    rr_eval_config_t x = {.precision = RERANK_PRECISION_BF16, .layers = 12};
    rr_eval_config_name(&x);
    CHECK(!strcmp(x.name, "bf16+layers=12"));
}

/* ---- SVG ------------------------------------------------------------ */

/* Minimal well-formedness check for the SVG subset we write: balanced
 * elements, quoted attributes, no bare '&' or '<' in text. */
static int xml_well_formed(const char *s) {
    const char *stack[64];
    size_t stack_len[64], depth = 0;
    int roots = 0;
    while (*s) {
        if (*s == '&') {
            if (strncmp(s, "&amp;", 5) && strncmp(s, "&lt;", 4) && strncmp(s, "&gt;", 4) &&
                strncmp(s, "&quot;", 6))
                return 0;
            s++;
            continue;
        }
        if (*s != '<') { if (*s == '>') return 0; s++; continue; }
        if (s[1] == '?') {
            const char *e = strstr(s, "?>");
            if (!e) return 0;
            s = e + 2;
            continue;
        }
        int closing = s[1] == '/';
        const char *name = s + 1 + closing;
        size_t nl = strcspn(name, " \t\n/>");
        if (nl == 0) return 0;
        const char *p = name + nl;
        int in_q = 0;
        while (*p && (in_q || (*p != '>'))) {
            if (*p == '"') in_q = !in_q;
            else if (!in_q && *p == '<') return 0;
            p++;
        }
        if (!*p) return 0;
        int self = p[-1] == '/';
        if (closing) {
            if (depth == 0 || stack_len[depth - 1] != nl || strncmp(stack[depth - 1], name, nl))
                return 0;
            depth--;
        } else if (!self) {
            if (depth == 64) return 0;
            if (depth == 0) roots++;
            stack[depth] = name;
            stack_len[depth++] = nl;
        } else if (depth == 0) {
            roots++;
        }
        s = p + 1;
    }
    return depth == 0 && roots == 1;
}

static size_t count(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static char *svg_string(const rr_eval_run_t *runs, size_t n, rr_plot_y_t y) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    rerank_status_t st = rr_eval_svg_write(f, runs, n, y);
    fclose(f);
    if (st) { free(buf); return NULL; }
    return buf;
}

TEST(svg_plot) {
    rr_eval_run_t runs[4];
    memset(runs, 0, sizeof runs);
    const char *names[] = {"fp32", "bf16", "layers=6 <&>", "int8"};
    double pps[] = {120, 260, 400, 0}, nd[] = {0.71, 0.705, 0.62, 0};
    for (int i = 0; i < 4; i++) {
        snprintf(runs[i].cfg.name, sizeof runs[i].cfg.name, "%s", names[i]);
        runs[i].ok = i < 3;
        runs[i].pairs_per_s = pps[i];
        runs[i].quality.ndcg10 = nd[i];
        runs[i].has_agreement = i < 3;
        runs[i].agree.top1 = 1.0 - 0.1 * i;
    }
    snprintf(runs[3].error, sizeof runs[3].error, "unsupported");
    for (int y = 0; y < 2; y++) {
        char *svg = svg_string(runs, 4, (rr_plot_y_t)y);
        CHECK(svg != NULL);
        if (!svg) continue;
        CHECK(!strncmp(svg, "<?xml", 5) && strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
        CHECK_MSG(xml_well_formed(svg), "%s", svg);
        CHECK(count(svg, "<circle") == 3);
        CHECK(strstr(svg, ">fp32</text>") && strstr(svg, ">bf16</text>"));
        CHECK(strstr(svg, "layers=6 &lt;&amp;&gt;</text>"));
        CHECK(strstr(svg, "not plotted (no result): int8"));
        CHECK(count(svg, "<g class=\"xticks\">") == 1 && count(svg, "text-anchor=\"end\"") >= 3);
        free(svg);
    }
    /* nothing ran: still a valid document */
    char *svg = svg_string(runs + 3, 1, RR_PLOT_NDCG);
    CHECK(svg && xml_well_formed(svg) && count(svg, "<circle") == 0);
    free(svg);
    /* the file writer */
    char path[] = "/tmp/rr_eval_svg_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
        CHECK(rr_eval_svg_save(path, runs, 4, RR_PLOT_NDCG) == RERANK_OK);
        unlink(path);
    }
    CHECK(rr_eval_svg_save("/nonexistent-dir/x.svg", runs, 4, RR_PLOT_NDCG) == RERANK_ERR_IO);
}

TEST(nice_ticks) {
    double t[32];
    size_t n = rr_nice_ticks(0, 1, 5, t, 32);
    CHECK(n == 6);
    CHECK_NEAR(t[0], 0, 0);
    CHECK_NEAR(t[5], 1.0, 1e-12);
    n = rr_nice_ticks(95, 460, 8, t, 32); /* raw step 45.6 -> 50: 100 .. 450 */
    CHECK(n == 8 && fabs(t[0] - 100) < 1e-9 && fabs(t[7] - 450) < 1e-9);
    n = rr_nice_ticks(95, 460, 6, t, 32); /* raw step 60.8 -> 100: 100 .. 400 */
    CHECK(n == 4 && fabs(t[0] - 100) < 1e-9 && fabs(t[3] - 400) < 1e-9);
    CHECK(rr_nice_ticks(1, 1, 5, t, 32) == 0);
}

/* ---- the command ----------------------------------------------------- */

/* Run `rerank eval ARGS...` in-process with stdout captured. Returns the exit
 * code; *out gets stdout (malloc'd). */
static int run_eval(char **argv, int argc, char **out) {
    char path[] = "/tmp/rr_eval_out_XXXXXX";
    int fd = mkstemp(path);
    *out = NULL;
    if (fd < 0) return -1;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    int rc = rr_cmd_eval(argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    if (buf && read(fd, buf, (size_t)len) == len) buf[len] = 0;
    else { free(buf); buf = NULL; }
    close(fd);
    unlink(path);
    *out = buf;
    return rc;
}

static double json_num(json_t *o, const char *a, const char *b) {
    json_t *v = json_object_get(o, a);
    if (b) v = json_object_get(v, b);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

TEST(cmd_first_stage_only_dl19_dl20) {
    const char *years[] = {"dl19", "dl20"};
    double expect[] = {0.5058, 0.4796};
    for (int y = 0; y < 2; y++) {
        char data[512];
        snprintf(data, sizeof data, "%s/eval/trec-dl/retrieve_results_%s.json", t_shared(), years[y]);
        char *argv[] = {"eval", "--data", data, "--first-stage-only", "--json", NULL};
        char *out;
        int rc = run_eval(argv, 5, &out);
        CHECK(rc == 0 && out);
        json_t *o = out ? json_loads(out, 0, NULL) : NULL;
        CHECK_MSG(o != NULL, "not JSON: %s", out ? out : "(null)");
        if (o) {
            CHECK_MSG(round4(json_num(o, "first_stage", "ndcg@10")) == expect[y], "%s: %.6f",
                      years[y], json_num(o, "first_stage", "ndcg@10"));
            CHECK(json_is_null(json_object_get(o, "reranked")));
            CHECK(json_num(o, "pairs", NULL) == (y ? 5400 : 4300));
            CHECK(json_num(o, "config", "rel_threshold") == 2);
            CHECK(json_is_string(json_object_get(json_object_get(o, "config"), "qrels")));
            json_decref(o);
        }
        free(out);
    }
    /* the table */
    char data[512];
    snprintf(data, sizeof data, "%s/eval/trec-dl/retrieve_results_dl19.json", t_shared());
    char *argv[] = {"eval", "--data", data, "--first-stage-only", NULL};
    char *out;
    CHECK(run_eval(argv, 4, &out) == 0);
    CHECK(out && strstr(out, "first stage") && strstr(out, "0.5058"));
    free(out);
}

TEST(cmd_usage_errors) {
    char *out;
    char *a1[] = {"eval", "--first-stage-only", NULL};
    CHECK(run_eval(a1, 2, &out) == 2);
    free(out);
    char *a2[] = {"eval", "--data", "x.json", NULL};
    CHECK(run_eval(a2, 3, &out) == 2); /* no --model */
    free(out);
    char *a3[] = {"eval", "--data", "x.json", "--model", "m", "--precision", "fp16", NULL};
    CHECK(run_eval(a3, 7, &out) == 2);
    free(out);
    char *a4[] = {"eval", "--data", "x.json", "--model", "m", "--compare", "fp32,,", NULL};
    CHECK(run_eval(a4, 7, &out) == 2);
    free(out);
    char *a5[] = {"eval", "--data", "/nonexistent.json", "--first-stage-only", NULL};
    CHECK(run_eval(a5, 4, &out) == 1);
    free(out);
    char *a6[] = {"eval", "--data", "x.json", "--bogus", NULL};
    CHECK(run_eval(a6, 4, &out) == 2);
    free(out);
}

/* --rel-threshold must be a finite G > 0: unjudged candidates are stored with
 * grade 0, so at G <= 0 an unjudged first document counted as relevant
 * (MRR@10 and top-1 of 1 here, where trec_eval gives 0 at any -l level). */
TEST(cmd_rel_threshold_positive) {
    char data[512];
    snprintf(data, sizeof data, "%s/eval/trec-dl/retrieve_results_dl19.json", t_shared());
    const char *bad[] = {"0", "-1", "inf", "nan", "2x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *argv[] = {"eval", "--data", data, "--first-stage-only", "--rel-threshold",
                        (char *)bad[i], NULL};
        char *out;
        CHECK_MSG(run_eval(argv, 6, &out) == 2, "--rel-threshold '%s' accepted", bad[i]);
        free(out);
    }
    char *argv[] = {"eval", "--data", data, "--first-stage-only", "--rel-threshold", "1", "--json", NULL};
    char *out;
    CHECK(run_eval(argv, 7, &out) == 0);
    json_t *o = out ? json_loads(out, 0, NULL) : NULL;
    CHECK(o && json_num(o, "config", "rel_threshold") == 1);
    /* grade >= 1 is a looser bar than >= 2: MRR@10 cannot drop */
    CHECK(o && json_num(o, "first_stage", "mrr@10") >= 0.7024);
    json_decref(o);
    free(out);
}

/* End to end on the tiny fixture model. Fails (does not skip) until the
 * model engine is in the tree. */
TEST(e2e_tiny_xlmr_toy) {
    char model[512], data[512], plot[] = "/tmp/rr_eval_plot_XXXXXX";
    snprintf(model, sizeof model, "%s/fixtures/models/tiny-xlmr", t_shared());
    snprintf(data, sizeof data, "%s/eval/toy/reranker_examples_msmarco.jsonl", t_shared());
    int fd = mkstemp(plot);
    if (fd >= 0) close(fd);
    char *argv[] = {"eval", "--model", model, "--data", data, "--max-queries", "3", "--json",
                    "--compare", "fp32,layers=1,bf16,max_length=64", "--plot", plot, "--batch", "7",
                    NULL};
    char *out;
    int rc = run_eval(argv, 14, &out);
    json_t *o = out ? json_loads(out, 0, NULL) : NULL;
    json_t *re = o ? json_object_get(o, "reranked") : NULL;
    CHECK_MSG(rc == 0 && json_is_object(re),
              "end-to-end eval on tiny-xlmr failed (exit %d; needs the tokenizer and model "
              "engine): %s", rc, o ? json_string_value(json_object_get(o, "error")) : "no JSON");
    if (!json_is_object(re)) {
        json_decref(o);
        free(out);
        unlink(plot);
        return;
    }
    {
        CHECK(json_num(o, "pairs", NULL) == 78);
        double nd = json_num(o, "reranked", "ndcg@10");
        CHECK(nd >= 0 && nd <= 1);
        CHECK(json_num(o, "pairs_per_s", NULL) > 0);
        json_t *cmp = json_object_get(o, "compare");
        CHECK(json_array_size(cmp) == 4);
        json_t *ref = json_array_get(cmp, 0);
        CHECK(json_num(ref, "top1_agreement", NULL) == 1.0);
        CHECK(json_num(ref, "kendall_tau", NULL) == 1.0);
        CHECK(json_num(ref, "max_abs_score_diff", NULL) == 0.0);
        json_t *l1 = json_array_get(cmp, 1);
        CHECK(json_is_true(json_object_get(l1, "ok")));
        CHECK(json_num(l1, "max_abs_score_diff", NULL) > 0); /* one layer differs */
        /* bf16 either ran or reports why not; the run went on either way */
        json_t *bf = json_array_get(cmp, 2);
        CHECK(json_is_true(json_object_get(bf, "ok")) || json_is_string(json_object_get(bf, "error")));
        CHECK(json_is_true(json_object_get(json_array_get(cmp, 3), "ok")));
        json_decref(o);
    }
    free(out);
    FILE *f = fopen(plot, "r");
    if (f) {
        char buf[65536];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        CHECK(xml_well_formed(buf));
        CHECK(count(buf, "<circle") >= 3);
    }
    unlink(plot);
}

/* --runs 3: the speed is the median pass, with the slowest and fastest
 * around it; the device and what the model computed in are reported. */
TEST(cmd_runs_median_and_spread) {
    char model[512], data[512];
    snprintf(model, sizeof model, "%s/fixtures/models/tiny-xlmr", t_shared());
    snprintf(data, sizeof data, "%s/eval/toy/reranker_examples_msmarco.jsonl", t_shared());
    char *argv[] = {"eval", "--model", model, "--data", data, "--max-queries", "2", "--threads", "1",
                    "--runs", "3", "--json", "--compare", "fp32,layers=1", NULL};
    char *out;
    int rc = run_eval(argv, 14, &out);
    json_t *o = out ? json_loads(out, 0, NULL) : NULL;
    CHECK_MSG(rc == 0 && o, "exit %d: %s", rc, out ? out : "(no output)");
    if (o) {
        double med = json_num(o, "pairs_per_s", NULL), lo = json_num(o, "pairs_per_s_min", NULL),
               hi = json_num(o, "pairs_per_s_max", NULL);
        CHECK_MSG(lo > 0 && lo <= med && med <= hi, "%g <= %g <= %g", lo, med, hi);
        CHECK(json_num(o, "runs", NULL) == 3);
        CHECK(!strcmp(json_string_value(json_object_get(o, "compute")), "fp32"));
        CHECK(!strcmp(json_string_value(json_object_get(o, "device")), "cpu"));
        json_t *l1 = json_array_get(json_object_get(o, "compare"), 1);
        CHECK(json_num(l1, "runs", NULL) == 3 && json_num(l1, "pairs_per_s_min", NULL) <= json_num(l1, "pairs_per_s", NULL));
        json_decref(o);
    }
    free(out);
    char *bad_runs[] = {"eval", "--model", model, "--data", data, "--runs", "101", NULL};
    CHECK(run_eval(bad_runs, 7, &out) == 2);
    free(out);
}

int main(void) {
    RUN(ndcg_hand_computed);
    RUN(ndcg_duplicate_grades_in_ideal);
    RUN(ties_broken_by_docid_descending);
    RUN(mrr_cutoff_and_threshold);
    RUN(query_without_relevant_documents);
    RUN(kendall_tau_b);
    RUN(trec_parse_unjudged_and_skipped);
    RUN(trec_parse_errors);
    RUN(trec_hand_computed_corners);
    RUN(trec_parse_rejects_what_trec_eval_rejects);
    RUN(default_qrels_path);
    RUN(trec_dl19_bm25_ndcg10);
    RUN(trec_dl20_bm25_ndcg10);
    RUN(jsonl_both_shapes);
    RUN(jsonl_malformed_lines);
    RUN(jsonl_alloc_failures);
    RUN(toy_jsonl_file);
    RUN(compare_spec);
    RUN(svg_plot);
    RUN(nice_ticks);
    RUN(cmd_first_stage_only_dl19_dl20);
    RUN(cmd_usage_errors);
    RUN(cmd_rel_threshold_positive);
    RUN(e2e_tiny_xlmr_toy);
    RUN(cmd_runs_median_and_spread);
    TEST_MAIN_END();
}
