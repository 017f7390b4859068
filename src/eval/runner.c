/* runner.c — model loading and scoring for `rerank eval` (see runner.h). */
#include "eval/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/model_notes.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "eval/progress.h"

rerank_status_t rr_eval_score(rerank_model_t *model, const rr_eval_data_t *d,
                              const rr_eval_config_t *cfg, size_t batch, const char *instruction,
                              double *scores, double *seconds) {
    rerank_score_options_t so = rerank_score_options_default();
    so.pair.instruction = instruction;
    so.pair.instruction_len = instruction ? strlen(instruction) : 0;
    so.layers = cfg->layers;
    so.pair.max_length = cfg->max_length;
    so.normalize = 0;
    size_t maxn = 1;
    for (size_t i = 0; i < d->n_queries; i++)
        if (d->queries[i].n > maxn) maxn = d->queries[i].n;
    float *buf = rr_malloc(maxn * sizeof *buf);
    if (!buf) return rr_error(RERANK_ERR_NOMEM, "out of memory");
    /* one untimed warm-up call, so lazy initialisation and cold caches do
     * not count against whichever configuration runs first */
    rerank_status_t st = RERANK_OK;
    if (d->n_queries > 0) {
        const rr_eval_query_t *q = &d->queries[0];
        size_t cnt = q->n < 4 ? q->n : 4;
        st = rerank_score(model, q->text, q->text_len, (const char *const *)q->docs, q->doc_lens,
                          cnt, &so, buf);
        if (st) {
            rr_error_prefix("query %s", q->qid);
            rr_free(buf);
            *seconds = 0;
            return st;
        }
    }
    rr_progress_t prog;
    rr_progress_start(&prog, d->n_pairs, cfg->name);
    double t0 = rr_now_s();
    size_t off = 0;
    for (size_t i = 0; i < d->n_queries && !st; i++) {
        const rr_eval_query_t *q = &d->queries[i];
        size_t step = batch ? batch : q->n;
        for (size_t k = 0; k < q->n && !st; k += step) {
            size_t cnt = q->n - k < step ? q->n - k : step;
            st = rerank_score(model, q->text, q->text_len, (const char *const *)q->docs + k,
                              q->doc_lens + k, cnt, &so, buf);
            if (st) {
                rr_error_prefix("query %s", q->qid);
                break;
            }
            for (size_t j = 0; j < cnt; j++) scores[off + k + j] = buf[j];
            rr_progress_add(&prog, cnt);
        }
        off += q->n;
    }
    *seconds = rr_now_s() - t0;
    rr_progress_end(&prog);
    rr_free(buf);
    return st;
}

static void fail(rr_eval_run_t *r, const char *what) {
    r->ok = 0;
    snprintf(r->error, sizeof r->error, "%s: %s", what, rerank_last_error());
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Score the data set o->runs times under r->cfg; the median pass gives the
 * speed. Returns 0 or -1 (r->error set). */
static int score_runs(rerank_model_t *model, const rr_eval_runner_opts_t *o, const rr_eval_data_t *d,
                      rr_eval_run_t *r) {
    if (r->cfg.layers > r->model_layers) {
        snprintf(r->error, sizeof r->error, "out of range: the model has %d layers (1..%d)", (int)r->model_layers,
                 (int)r->model_layers);
        return -1;
    }
    r->scores = rr_calloc(d->n_pairs ? d->n_pairs : 1, sizeof *r->scores);
    if (!r->scores) {
        rr_error(RERANK_ERR_NOMEM, "out of memory");
        fail(r, "scoring");
        return -1;
    }
    double secs[RR_EVAL_MAX_RUNS];
    r->runs = o->runs < 1 ? 1 : o->runs > RR_EVAL_MAX_RUNS ? RR_EVAL_MAX_RUNS : o->runs;
    for (int k = 0; k < r->runs; k++)
        if (rr_eval_score(model, d, &r->cfg, o->batch, o->instruction, r->scores, &secs[k])) {
            fail(r, "scoring");
            rr_free(r->scores);
            r->scores = NULL;
            return -1;
        }
    qsort(secs, (size_t)r->runs, sizeof *secs, cmp_double);
    r->pairs = d->n_pairs;
    r->seconds = r->runs % 2 ? secs[r->runs / 2] : 0.5 * (secs[r->runs / 2 - 1] + secs[r->runs / 2]);
    r->pairs_per_s = r->seconds > 0 ? (double)r->pairs / r->seconds : 0;
    r->pairs_per_s_min = secs[r->runs - 1] > 0 ? (double)r->pairs / secs[r->runs - 1] : 0;
    r->pairs_per_s_max = secs[0] > 0 ? (double)r->pairs / secs[0] : 0;
    if (rr_eval_quality(d, r->scores, o->rel_threshold, &r->quality)) {
        fail(r, "metrics");
        return -1;
    }
    return 0;
}

size_t rr_eval_run_all(const rr_eval_runner_opts_t *o, const rr_eval_data_t *d,
                       rr_eval_run_t *runs, size_t n) {
    size_t ok = 0;
    int done[RR_EVAL_MAX_CONFIGS] = {0};
    RR_ASSERT(n <= RR_EVAL_MAX_CONFIGS);
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        /* one model load per precision, used by every run with it */
        rerank_precision_t prec = runs[i].cfg.precision;
        rerank_model_options_t mo = rerank_model_options_default();
        mo.precision = prec;
        mo.threads = o->threads;
        mo.device = o->device;
        rerank_model_t *model = NULL;
        rerank_status_t st = rerank_model_load(o->model_dir, &mo, &model);
        char what[96];
        snprintf(what, sizeof what, "loading the model (%s)", rr_eval_precision_name(prec));
        rerank_model_info_t info;
        memset(&info, 0, sizeof info);
        if (!st) {
            rerank_model_get_info(model, &info);
            rr_cli_note_compute("eval", &info);
            if (o->instruction && !info.prompt[0]) {
                st = rr_error(RERANK_ERR_INVALID_ARGUMENT, "%s is a cross-encoder: it takes no instruction (only LLM "
                              "rerankers such as Qwen3-Reranker do)", info.architecture);
                snprintf(what, sizeof what, "--instruction");
            }
        }
        for (size_t j = i; j < n; j++) {
            rr_eval_run_t *r = &runs[j];
            if (done[j] || r->cfg.precision != prec) continue;
            done[j] = 1;
            if (st) { fail(r, what); continue; }
            r->model_layers = info.num_layers;
            snprintf(r->compute, sizeof r->compute, "%s", info.compute);
            snprintf(r->device, sizeof r->device, "%s", info.device);
            rr_cli_note_max_length("eval", &info, r->cfg.max_length);
            if (score_runs(model, o, d, r)) continue;
            r->ok = 1;
            ok++;
        }
        rerank_model_free(model);
    }
    if (n > 0 && runs[0].ok)
        for (size_t j = 0; j < n; j++)
            if (runs[j].ok && !rr_eval_agreement(d, runs[0].scores, runs[j].scores, &runs[j].agree))
                runs[j].has_agreement = 1;
    return ok;
}

void rr_eval_runs_free(rr_eval_run_t *runs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        rr_free(runs[i].scores);
        runs[i].scores = NULL;
    }
}
