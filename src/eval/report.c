/* report.c — table and JSON output of `rerank eval` (see report.h). */
#include "eval/report.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#define TIE_RULE "score descending, then docid descending (trec_eval)"

const char *rr_eval_first_stage_note(const rr_eval_data_t *d) {
    if (d->format == RR_EVAL_FMT_TREC_DL) return "first-stage (BM25) scores as given";
    if (d->n_shuffled == d->n_queries)
        return "pos/neg data has no first stage: candidates in a deterministic pseudo-random "
               "order (chance baseline)";
    if (d->n_shuffled)
        return "mixed: 'docs' lines in the given order, pos/neg lines in a deterministic "
               "pseudo-random order (chance baseline)";
    return "candidate order as given in the file";
}

/* ---- table ---------------------------------------------------------- */

static void row(FILE *f, const char *name, const rr_query_metrics_t *m) {
    fprintf(f, "  %-26s %8.4f %8.4f %10.4f %7.4f", name, m->ndcg10, m->mrr10, m->recall100,
            m->top1);
}

/* "fp32", or "bf16->fp32" when the model computed in another precision. */
static const char *precision_shown(const rr_eval_run_t *x, char *buf, size_t cap) {
    const char *asked = rr_eval_precision_name(x->cfg.precision);
    if (!x->compute[0] || !strcmp(x->compute, asked)) snprintf(buf, cap, "%s", asked);
    else snprintf(buf, cap, "%s->%s", asked, x->compute);
    return buf;
}

/* pairs/s of the median pass, then its spread when there were several. */
static void speed(FILE *f, const rr_eval_run_t *x) {
    fprintf(f, " %10.1f", x->pairs_per_s);
    if (x->runs > 1) fprintf(f, " %9.1f..%.1f", x->pairs_per_s_min, x->pairs_per_s_max);
}

static void speed_note(FILE *f, const rr_eval_run_t *x) {
    if (x->runs > 1)
        fprintf(f, "speed    pairs/s of the median of %d timed passes; spread: slowest..fastest pass\n", x->runs);
    else
        fprintf(f, "speed    pairs/s of one timed pass: indicative only (--runs N: median and spread)\n");
}

void rr_eval_report_table(FILE *f, const rr_eval_report_t *r) {
    const rr_eval_data_t *d = r->data;
    fprintf(f, "data     %s (%s)\n", r->data_path, rr_eval_format_str(d->format));
    if (r->qrels_path) fprintf(f, "qrels    %s\n", r->qrels_path);
    if (r->model_dir) {
        fprintf(f, "model    %s", r->model_dir);
        if (r->n_runs && r->runs[0].device[0]) fprintf(f, " (device %s)", r->runs[0].device);
        fputc('\n', f);
    }
    fprintf(f, "queries  %zu evaluated", d->n_queries);
    if (d->skipped) fprintf(f, ", %zu skipped (not in the qrels or no candidates)", d->skipped);
    fprintf(f, "; %zu pairs\n", d->n_pairs);
    fprintf(f, "rules    relevant = grade >= %g (MRR, recall, top-1); nDCG gains = grades; "
               "ties: " TIE_RULE "\n", r->rel_threshold);
    fprintf(f, "first    %s\n", rr_eval_first_stage_note(d));
    if (r->n_runs && r->runs[0].ok) speed_note(f, &r->runs[0]);
    fputc('\n', f);

    const int spread = r->n_runs && r->runs[0].runs > 1;
    fprintf(f, "  %-26s %8s %8s %10s %7s %10s%s\n", "", "nDCG@10", "MRR@10", "Recall@100", "Top-1",
            "pairs/s", spread ? "   spread" : "");
    row(f, "first stage", &r->first_stage);
    fputc('\n', f);
    if (r->n_runs > 0) {
        const rr_eval_run_t *ref = &r->runs[0];
        char name[96], prec[40];
        if (strcmp(ref->cfg.name, rr_eval_precision_name(ref->cfg.precision)))
            snprintf(name, sizeof name, "reranked (%s, %s)", ref->cfg.name, precision_shown(ref, prec, sizeof prec));
        else
            snprintf(name, sizeof name, "reranked (%s)", precision_shown(ref, prec, sizeof prec));
        if (ref->ok) {
            row(f, name, &ref->quality);
            speed(f, ref);
            fputc('\n', f);
            fprintf(f, "  %-26s %+8.4f %+8.4f %+10.4f %+7.4f\n", "gain",
                    ref->quality.ndcg10 - r->first_stage.ndcg10,
                    ref->quality.mrr10 - r->first_stage.mrr10,
                    ref->quality.recall100 - r->first_stage.recall100,
                    ref->quality.top1 - r->first_stage.top1);
        } else {
            fprintf(f, "  %-26s error: %s\n", name, ref->error);
        }
    }
    if (!r->compare) return;
    fprintf(f, "\ncompare (reference: %s)\n", r->runs[0].cfg.name);
    fprintf(f, "  %-24s %-10s %10s %8s %8s %8s %12s %11s %12s%s\n", "config", "compute", "pairs/s", "nDCG@10",
            "MRR@10", "Top-1", "top1-agree", "kendall-tau", "max|dscore|", spread ? "   spread" : "");
    for (size_t i = 0; i < r->n_runs; i++) {
        const rr_eval_run_t *x = &r->runs[i];
        if (!x->ok) {
            fprintf(f, "  %-24s error: %s\n", x->cfg.name, x->error);
            continue;
        }
        fprintf(f, "  %-24s %-10s %10.1f %8.4f %8.4f %8.4f", x->cfg.name, x->compute, x->pairs_per_s,
                x->quality.ndcg10, x->quality.mrr10, x->quality.top1);
        if (x->has_agreement) {
            fprintf(f, " %12.4f", x->agree.top1);
            if (isfinite(x->agree.kendall_tau)) fprintf(f, " %11.4f", x->agree.kendall_tau);
            else fprintf(f, " %11s", "n/a");
            fprintf(f, " %12.3g", x->agree.max_abs_diff);
        } else {
            fprintf(f, " %12s %11s %12s", "n/a", "n/a", "n/a");
        }
        if (x->runs > 1) fprintf(f, " %9.1f..%.1f", x->pairs_per_s_min, x->pairs_per_s_max);
        fputc('\n', f);
    }
}

/* ---- JSON ----------------------------------------------------------- */

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *metrics_json(const rr_query_metrics_t *m) {
    return json_pack("{s:o, s:o, s:o, s:o}", "ndcg@10", num(m->ndcg10), "mrr@10",
                     num(m->mrr10), "recall@100", num(m->recall100), "top1", num(m->top1));
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *run_json(const rr_eval_run_t *x) {
    json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:b}", "config", x->cfg.name, "precision",
                          rr_eval_precision_name(x->cfg.precision), "layers", (int)x->cfg.layers,
                          "max_length", (int)x->cfg.max_length, "ok", x->ok);
    if (!o) return NULL;
    if (!x->ok) {
        json_object_set_new(o, "error", json_string(x->error));
        return o;
    }
    json_object_set_new(o, "pairs", json_integer((json_int_t)x->pairs));
    json_object_set_new(o, "seconds", num(x->seconds));
    json_object_set_new(o, "pairs_per_s", num(x->pairs_per_s));
    json_object_set_new(o, "pairs_per_s_min", num(x->pairs_per_s_min));
    json_object_set_new(o, "pairs_per_s_max", num(x->pairs_per_s_max));
    json_object_set_new(o, "runs", json_integer(x->runs));
    json_object_set_new(o, "compute", json_string(x->compute));
    json_object_set_new(o, "device", json_string(x->device));
    json_object_set_new(o, "ndcg@10", num(x->quality.ndcg10));
    json_object_set_new(o, "mrr@10", num(x->quality.mrr10));
    json_object_set_new(o, "recall@100", num(x->quality.recall100));
    json_object_set_new(o, "top1", num(x->quality.top1));
    if (x->has_agreement) {
        json_object_set_new(o, "top1_agreement", num(x->agree.top1));
        json_object_set_new(o, "kendall_tau", num(x->agree.kendall_tau));
        json_object_set_new(o, "kendall_tau_queries", json_integer((json_int_t)x->agree.tau_queries));
        json_object_set_new(o, "max_abs_score_diff", num(x->agree.max_abs_diff));
    }
    return o;
}

int rr_eval_report_json(FILE *f, const rr_eval_report_t *r) {
    const rr_eval_data_t *d = r->data;
    const rr_eval_run_t *ref = r->n_runs ? &r->runs[0] : NULL;
    json_t *cfg = json_pack(
        "{s:o, s:s, s:o, s:s, s:s, s:i, s:i, s:i, s:I, s:f, s:I, s:b, s:s, s:s}", "model",
        str_or_null(r->model_dir), "data", r->data_path, "qrels", str_or_null(r->qrels_path),
        "format", rr_eval_format_str(d->format), "precision",
        ref ? rr_eval_precision_name(ref->cfg.precision) : "none", "layers",
        ref ? (int)ref->cfg.layers : 0, "max_length", ref ? (int)ref->cfg.max_length : 0,
        "threads", (int)r->threads, "batch", (json_int_t)r->batch, "rel_threshold",
        r->rel_threshold, "max_queries", (json_int_t)r->max_queries, "first_stage_only",
        r->n_runs == 0, "first_stage_order", rr_eval_first_stage_note(d), "tie_rule", TIE_RULE);
    json_t *o = json_pack("{s:o, s:I, s:I, s:o}", "config", cfg, "queries",
                          (json_int_t)d->n_queries, "queries_skipped", (json_int_t)d->skipped,
                          "first_stage", metrics_json(&r->first_stage));
    if (!o) return -1;
    if (ref && ref->ok) {
        json_object_set_new(o, "reranked", metrics_json(&ref->quality));
        json_object_set_new(o, "pairs", json_integer((json_int_t)ref->pairs));
        json_object_set_new(o, "pairs_per_s", num(ref->pairs_per_s));
        json_object_set_new(o, "pairs_per_s_min", num(ref->pairs_per_s_min));
        json_object_set_new(o, "pairs_per_s_max", num(ref->pairs_per_s_max));
        json_object_set_new(o, "runs", json_integer(ref->runs));
        json_object_set_new(o, "compute", json_string(ref->compute));
        json_object_set_new(o, "device", json_string(ref->device));
        json_object_set_new(o, "seconds", num(ref->seconds));
    } else {
        json_object_set_new(o, "reranked", json_null());
        json_object_set_new(o, "pairs", json_integer((json_int_t)d->n_pairs));
        json_object_set_new(o, "pairs_per_s", json_null());
        if (ref) json_object_set_new(o, "error", json_string(ref->error));
    }
    if (r->compare) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < r->n_runs; i++) json_array_append_new(arr, run_json(&r->runs[i]));
        json_object_set_new(o, "compare", arr);
    }
    int rc = json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    if (!rc) fputc('\n', f);
    json_decref(o);
    return rc;
}
