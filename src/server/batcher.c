/* batcher.c — dynamic batch aggregator (see batcher.h). */
#include "server/batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "server/server_limits.h"

/* One worker thread and the scratch of the batch it runs, sized cap. A
 * worker owns its batch from take_batch to complete_batch, so these arrays
 * are its own: the lock guards only the queue and the counters. */
typedef struct worker {
    rr_batcher_t *b;
    pthread_t thread;
    rr_job_t **slot_job; /* slot i: pair slot_idx[i] of job slot_job[i] */
    size_t *slot_idx;
    rerank_pair_t *pairs;
    float *scores;
    rr_job_t **notify; /* jobs completed by this batch */
} worker_t;

struct rr_batcher {
    rr_batcher_config_t cfg;
    rr_score_fn score;
    void *score_ctx;
    rr_batch_observer_t obs;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* idle workers wait here for a batch to be due */
    int sync_ready;    /* mu and cv initialized */
    int n_workers, n_started;
    worker_t *workers;
    int closed;   /* submit refuses */
    int stopping; /* workers drain without waiting, then exit */

    rr_job_t *head, *tail; /* FIFO of jobs with untaken pairs */
    size_t queued_pairs, queued_tokens, queued_jobs;
    size_t running; /* batches taken and not yet completed */
    /* taken numbers the batches as they are formed (the one being formed
     * is number `taken`: a job's batch_seq_); batches counts completed
     * ones, which finish in any order once several run at once. */
    unsigned long long taken, batches, pairs_scored, tokens_scored;
    size_t cap; /* pairs per batch */
};

static size_t pair_cost(const rerank_pair_t *p) { return p->n > 0 ? (size_t)p->n : 1; }

static void q_remove(rr_batcher_t *b, rr_job_t *j) {
    if (!j->queued_) return;
    if (j->qprev_) j->qprev_->qnext_ = j->qnext_; else b->head = j->qnext_;
    if (j->qnext_) j->qnext_->qprev_ = j->qprev_; else b->tail = j->qprev_;
    j->qnext_ = j->qprev_ = NULL;
    j->queued_ = 0;
    b->queued_jobs--;
}

/* Drop the untaken pairs of j from the queue counters and the queue. */
static void drop_rest(rr_batcher_t *b, rr_job_t *j) {
    if (!j->queued_) return;
    b->queued_pairs -= j->n_pairs - j->next_;
    b->queued_tokens -= j->tokens_left_;
    j->tokens_left_ = 0;
    q_remove(b, j); /* next_ stays: pairs taken so far, maybe in flight */
}

/* 1 if j has no pair queued or in flight and was not yet notified. */
static int ready_to_notify(const rr_job_t *j) {
    if (j->notified_ || j->queued_) return 0;
    return j->finished_ == j->next_;
}

/* Wait (b->mu held) until a batch is due: the queue holds a batch's worth
 * of tokens or pairs, the oldest pair's max_wait_ms is over, or the batcher
 * is stopping. Returns 0 when stopping with an empty queue. */
static int wait_for_batch(rr_batcher_t *b) {
    for (;;) {
        while (!b->head && !b->stopping) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head) return 0; /* stopping and drained */
        if (b->stopping || b->queued_tokens >= b->cfg.max_batch_tokens || b->queued_pairs >= b->cfg.max_batch_pairs)
            return 1;
        double deadline = b->head->t_submit_ + b->cfg.max_wait_ms * 1e-3;
        if (rr_now_s() >= deadline) return 1;
        struct timespec ts = rr_clock_timespec(deadline);
        pthread_cond_timedwait(&b->cv, &b->mu, &ts); /* then re-evaluate: more pairs, cancel, or deadline */
    }
}

/* Tokens j already has in the batch being formed (fair share). */
static size_t tokens_in_batch(const rr_batcher_t *b, const rr_job_t *j) {
    return j->batch_seq_ == b->taken ? j->batch_tokens_ : 0;
}

/* Pairs j already has in the batch being formed (fair share of the cap). */
static size_t pairs_in_batch(const rr_batcher_t *b, const rr_job_t *j) {
    return j->batch_seq_ == b->taken ? j->batch_pairs_ : 0;
}

/* Take j's next pair into w's batch slot *n (b->mu held); removes j from
 * the queue once all its pairs are taken. */
static void take_pair(rr_batcher_t *b, worker_t *w, rr_job_t *j, size_t *n, size_t *tokens, double now) {
    size_t c = pair_cost(&j->pairs[j->next_]);
    if (!j->first_taken_) {
        j->first_taken_ = 1;
        j->queue_s = now - j->t_submit_;
        if (b->obs.on_queue_wait) b->obs.on_queue_wait(b->obs.ctx, j->queue_s);
    }
    j->batch_tokens_ = tokens_in_batch(b, j) + c;
    j->batch_pairs_ = pairs_in_batch(b, j) + 1;
    j->batch_seq_ = b->taken;
    w->slot_job[*n] = j;
    w->slot_idx[*n] = j->next_;
    w->pairs[*n] = j->pairs[j->next_];
    (*n)++;
    *tokens += c;
    j->next_++;
    j->tokens_left_ -= c;
    b->queued_pairs--;
    b->queued_tokens -= c;
    if (j->next_ == j->n_pairs) q_remove(b, j);
}

/* 1 if j's next pair fits the batch (the first pair always does). */
static int fits(const rr_batcher_t *b, const rr_job_t *j, size_t n, size_t tokens) {
    return n < b->cap && (n == 0 || tokens + pair_cost(&j->pairs[j->next_]) <= b->cfg.max_batch_tokens);
}

/* Take pairs from the head of the queue, in order, into w's batch slots
 * (b->mu held) until the token budget or the pair cap; returns the number
 * of pairs and their tokens in *tokens_out. The batch counts as running
 * from here to complete_batch. */
static size_t take_batch(rr_batcher_t *b, worker_t *w, size_t *tokens_out) {
    size_t n = 0, tokens = 0;
    double now = rr_now_s();
    b->taken++; /* this batch's number, before any take_pair reads it */
    b->running++;
    if (b->cfg.fair && b->head) {
        /* the oldest job's next pair first, then every job up to its share
         * of the token budget and of the pair cap (a job of many short
         * pairs would otherwise fill the cap within its token share) */
        size_t jobs = b->queued_jobs ? b->queued_jobs : 1;
        size_t share = b->cfg.max_batch_tokens / jobs, pair_share = b->cap / jobs ? b->cap / jobs : 1;
        take_pair(b, w, b->head, &n, &tokens, now);
        for (rr_job_t *j = b->head, *nx; j && n < b->cap; j = nx) {
            nx = j->qnext_;
            while (j->queued_ && fits(b, j, n, tokens) && pairs_in_batch(b, j) < pair_share &&
                   tokens_in_batch(b, j) + pair_cost(&j->pairs[j->next_]) <= share)
                take_pair(b, w, j, &n, &tokens, now);
        }
    }
    /* in submission order until the first pair that does not fit */
    for (rr_job_t *j = b->head, *nx; j; j = nx) {
        nx = j->qnext_;
        while (j->queued_ && fits(b, j, n, tokens)) take_pair(b, w, j, &n, &tokens, now);
        if (j->queued_) break;
    }
    *tokens_out = tokens;
    return n;
}

/* Hand w's batch results to its jobs (b->mu held): scores on success,
 * else the failure (st, msg) to every job in it, whose queued pairs leave
 * the queue (its pairs in other running batches finish: the job is
 * notified after the last). Jobs now complete go to w->notify; returns
 * their number. */
static size_t complete_batch(rr_batcher_t *b, worker_t *w, size_t n, rerank_status_t st, const char *msg) {
    b->batches++;
    b->running--;
    for (size_t i = 0; i < n; i++) {
        rr_job_t *j = w->slot_job[i];
        j->finished_++;
        if (st == RERANK_OK) {
            j->scores[w->slot_idx[i]] = w->scores[i];
            b->pairs_scored++;
            b->tokens_scored += pair_cost(&w->pairs[i]);
        } else if (j->status == RR_JOB_OK) {
            j->status = RR_JOB_FAILED;
            snprintf(j->error, sizeof j->error, "%s", msg);
            drop_rest(b, j);
        }
    }
    size_t n_notify = 0;
    const double now = rr_now_s();
    for (size_t i = 0; i < n; i++) {
        rr_job_t *j = w->slot_job[i];
        if (ready_to_notify(j)) {
            j->notified_ = 1;
            j->infer_s = now - (j->t_submit_ + j->queue_s);
            w->notify[n_notify++] = j;
        }
    }
    return n_notify;
}

/* A worker: wait and take under the lock, score without it, complete
 * under it, call the jobs' `done` without it. Several workers overlap one
 * batch's scoring with the next one's taking and host-side work. */
static void *worker_main(void *arg) {
    worker_t *w = arg;
    rr_batcher_t *b = w->b;
    pthread_mutex_lock(&b->mu);
    while (wait_for_batch(b)) {
        size_t tokens = 0;
        size_t n = take_batch(b, w, &tokens);
        /* what is left may be due already: let an idle worker look (a
         * submit's signal woke this one only) */
        if (b->head) pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);

        double t0 = rr_now_s();
        rerank_status_t st = b->score(b->score_ctx, w->pairs, n, w->scores);
        double dt = rr_now_s() - t0;
        char msg[256] = "";
        if (st != RERANK_OK) snprintf(msg, sizeof msg, "%s: %s", rerank_status_str(st), rerank_last_error());
        if (b->obs.on_batch) b->obs.on_batch(b->obs.ctx, n, tokens, dt, st == RERANK_OK);

        pthread_mutex_lock(&b->mu);
        size_t n_notify = complete_batch(b, w, n, st, msg);
        pthread_mutex_unlock(&b->mu);
        for (size_t i = 0; i < n_notify; i++) w->notify[i]->done(w->notify[i], w->notify[i]->user);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* w's per-batch scratch for cap pairs; 0 or -1 on out of memory (what was
 * allocated is freed by worker_release). */
static int worker_alloc(worker_t *w, rr_batcher_t *b) {
    w->b = b;
    w->slot_job = rr_calloc(b->cap, sizeof *w->slot_job);
    w->slot_idx = rr_calloc(b->cap, sizeof *w->slot_idx);
    w->pairs = rr_calloc(b->cap, sizeof *w->pairs);
    w->scores = rr_calloc(b->cap, sizeof *w->scores);
    w->notify = rr_calloc(b->cap, sizeof *w->notify);
    return w->slot_job && w->slot_idx && w->pairs && w->scores && w->notify ? 0 : -1;
}

static void worker_release(worker_t *w) {
    rr_free(w->slot_job);
    rr_free(w->slot_idx);
    rr_free(w->pairs);
    rr_free(w->scores);
    rr_free(w->notify);
}

static void sync_init(rr_batcher_t *b) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->mu, NULL);
    b->sync_ready = 1;
}

static int config_valid(const rr_batcher_config_t *cfg) {
    return cfg->max_batch_tokens > 0 && cfg->max_batch_pairs > 0 && cfg->max_batch_pairs <= RR_SRV_MAX_BATCH_PAIRS &&
           cfg->max_queue_pairs > 0 && cfg->max_wait_ms >= 0 && cfg->workers >= 0 &&
           cfg->workers <= RR_SRV_MAX_WORKERS;
}

rerank_status_t rr_batcher_new(const rr_batcher_config_t *cfg, rr_score_fn score,
                                  void *score_ctx, const rr_batch_observer_t *obs,
                                  rr_batcher_t **out) {
    *out = NULL;
    if (!cfg || !score || !config_valid(cfg))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "batcher: invalid configuration");
    rr_batcher_t *b = rr_calloc(1, sizeof *b);
    if (!b) return rr_error(RERANK_ERR_NOMEM, "batcher: out of memory");
    b->cfg = *cfg;
    b->score = score;
    b->score_ctx = score_ctx;
    if (obs) b->obs = *obs;
    b->cap = cfg->max_batch_pairs;
    if (b->cap > cfg->max_batch_tokens) b->cap = cfg->max_batch_tokens; /* >= 1 token per pair */
    b->n_workers = cfg->workers > 0 ? cfg->workers : 1;
    sync_init(b);
    b->workers = rr_calloc((size_t)b->n_workers, sizeof *b->workers);
    int ok = b->workers != NULL;
    for (int i = 0; ok && i < b->n_workers; i++) ok = worker_alloc(&b->workers[i], b) == 0;
    if (!ok) {
        rr_batcher_free(b);
        return rr_error(RERANK_ERR_NOMEM, "batcher: out of memory");
    }
    for (; b->n_started < b->n_workers; b->n_started++) {
        worker_t *w = &b->workers[b->n_started];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            rr_batcher_free(b); /* stops the workers started so far */
            return rr_error(RERANK_ERR_INTERNAL, "batcher: cannot start worker thread");
        }
    }
    *out = b;
    return RERANK_OK;
}

rr_submit_result_t rr_batcher_submit(rr_batcher_t *b, rr_job_t *job) {
    if (job->n_pairs == 0 || job->n_pairs > b->cfg.max_queue_pairs || !job->done) return RR_SUBMIT_INVALID;
    size_t tokens = 0;
    for (size_t i = 0; i < job->n_pairs; i++) tokens += pair_cost(&job->pairs[i]);
    job->status = RR_JOB_OK;
    job->error[0] = 0;
    job->next_ = job->finished_ = 0;
    job->tokens_left_ = tokens;
    job->notified_ = job->first_taken_ = 0;
    job->queue_s = job->infer_s = 0;
    job->batch_tokens_ = job->batch_pairs_ = 0;
    job->batch_seq_ = 0;
    job->qnext_ = job->qprev_ = NULL;
    pthread_mutex_lock(&b->mu);
    if (b->closed) { pthread_mutex_unlock(&b->mu); return RR_SUBMIT_CLOSED; }
    if (b->queued_pairs + job->n_pairs > b->cfg.max_queue_pairs) {
        pthread_mutex_unlock(&b->mu);
        return RR_SUBMIT_FULL;
    }
    job->t_submit_ = rr_now_s();
    job->queued_ = 1;
    job->qprev_ = b->tail;
    if (b->tail) b->tail->qnext_ = job; else b->head = job;
    b->tail = job;
    b->queued_jobs++;
    b->queued_pairs += job->n_pairs;
    b->queued_tokens += tokens;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return RR_SUBMIT_OK;
}

void rr_batcher_cancel(rr_batcher_t *b, rr_job_t *job) {
    pthread_mutex_lock(&b->mu);
    if (job->notified_) { pthread_mutex_unlock(&b->mu); return; }
    if (job->status == RR_JOB_OK) job->status = RR_JOB_CANCELLED;
    drop_rest(b, job);
    int now = ready_to_notify(job);
    if (now) job->notified_ = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (now) job->done(job, job->user);
}

void rr_batcher_cancel_all(rr_batcher_t *b) {
    rr_job_t *chain = NULL;
    pthread_mutex_lock(&b->mu);
    while (b->head) {
        rr_job_t *j = b->head;
        if (j->status == RR_JOB_OK) j->status = RR_JOB_CANCELLED;
        drop_rest(b, j); /* unlinks j: its qnext_ is free for the chain */
        if (ready_to_notify(j)) {
            j->notified_ = 1;
            j->qnext_ = chain;
            chain = j;
        }
    }
    pthread_mutex_unlock(&b->mu);
    while (chain) {
        rr_job_t *j = chain;
        chain = j->qnext_;
        j->qnext_ = NULL;
        j->done(j, j->user);
    }
}

void rr_batcher_get_stats(rr_batcher_t *b, rr_batcher_stats_t *st) {
    pthread_mutex_lock(&b->mu);
    st->queued_pairs = b->queued_pairs;
    st->queued_tokens = b->queued_tokens;
    st->queued_jobs = b->queued_jobs;
    st->running = b->running;
    st->batches = b->batches;
    st->pairs_scored = b->pairs_scored;
    st->tokens_scored = b->tokens_scored;
    pthread_mutex_unlock(&b->mu);
}

int rr_batcher_has_room(rr_batcher_t *b, size_t n) {
    pthread_mutex_lock(&b->mu);
    int ok = b->queued_pairs + n <= b->cfg.max_queue_pairs;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void rr_batcher_close(rr_batcher_t *b) {
    pthread_mutex_lock(&b->mu);
    b->closed = 1;
    pthread_mutex_unlock(&b->mu);
}

void rr_batcher_free(rr_batcher_t *b) {
    if (!b) return;
    if (b->sync_ready) {
        pthread_mutex_lock(&b->mu);
        b->closed = 1;
        b->stopping = 1;
        pthread_cond_broadcast(&b->cv); /* every idle worker drains and exits */
        pthread_mutex_unlock(&b->mu);
        for (int i = 0; i < b->n_started; i++) pthread_join(b->workers[i].thread, NULL);
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
    }
    if (b->workers)
        for (int i = 0; i < b->n_workers; i++) worker_release(&b->workers[i]);
    rr_free(b->workers);
    rr_free(b);
}
