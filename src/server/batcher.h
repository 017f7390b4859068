/* batcher.h — dynamic batch aggregator.
 *
 * Requests ("jobs") submit pre-tokenized pairs to one FIFO queue. A worker
 * thread forms a batch when the queued tokens reach the batch token budget
 * (or the pair cap) or when the oldest queued pair has waited max_wait_ms,
 * and calls the scoring callback. `workers` threads do so: up to that many
 * batches are in flight at once, so while one is scored (on a GPU: computes
 * on the device), another worker takes the next and runs the scorer's host
 * side of it (validating, packing, copying in). Batches are taken in queue
 * order but may finish in any order. A job's pairs may be split across
 * batches (several of them running at once) and a batch holds pairs of
 * many jobs. In FIFO order (fair = 0) pairs are taken strictly in
 * submission order, so a job never waits behind a later one, but a short
 * job waits behind every pair queued before it. Fair order (fair = 1)
 * bounds that: a batch first takes the oldest job's next pair (whatever its
 * size: nothing starves), then from every queued job in turn up to an
 * equal share of the token budget (budget / queued jobs) and of the pair
 * cap (max_batch_pairs / queued jobs, at least 1), then fills up in
 * submission order. A job whose pairs fit its share is in the next batch
 * whole: a short request waits for at most the batches running when it
 * arrives, however long the queue of chunked long documents or big pairs
 * before it.
 *
 * Each job's `done` callback is called exactly once: when all its pairs are
 * scored, when scoring failed, or after rr_batcher_cancel once none of its
 * pairs is in a running batch. When a batch fails, each job in it fails
 * once: its queued pairs leave the queue, and its pairs in other running
 * batches finish first (the job is notified after the last of them). It
 * runs on a worker thread or on the thread calling rr_batcher_cancel,
 * never under the batcher's lock; after it returns the batcher does not
 * touch the job again. */
#ifndef RR_SERVER_BATCHER_H
#define RR_SERVER_BATCHER_H

#include <stddef.h>

#include "rerank.h"

/* Scores pairs[0..n) into scores[0..n) (raw logits). On failure returns a
 * status and leaves a message in rerank_last_error(). */
typedef rerank_status_t (*rr_score_fn)(void *ctx, const rerank_pair_t *pairs, size_t n,
                                       float *scores);

typedef struct rr_batcher_config {
    size_t max_batch_tokens; /* token budget per batch (sum of pair lengths) */
    size_t max_batch_pairs;  /* pairs per batch                              */
    double max_wait_ms;      /* longest wait of the oldest pair              */
    size_t max_queue_pairs;  /* queued (not yet batched) pairs bound         */
    int fair;                /* 1: fair share per job (above); 0: FIFO       */
    int workers;             /* batches in flight at once, 1..RR_SRV_MAX_WORKERS; 0: 1 */
} rr_batcher_config_t;

/* Optional observer (metrics); any member may be NULL. */
typedef struct rr_batch_observer {
    void *ctx;
    /* every forward pass run; ok 0: it failed (its pairs were not scored) */
    void (*on_batch)(void *ctx, size_t pairs, size_t tokens, double seconds, int ok);
    void (*on_queue_wait)(void *ctx, double seconds); /* per job, first pair */
} rr_batch_observer_t;

typedef enum rr_job_status {
    RR_JOB_OK = 0,
    RR_JOB_FAILED = 1,    /* scoring failed; job->error holds the message */
    RR_JOB_CANCELLED = 2, /* rr_batcher_cancel or shutdown timeout        */
} rr_job_status_t;

typedef struct rr_job rr_job_t;
struct rr_job {
    /* set by the caller before submit */
    const rerank_pair_t *pairs;
    size_t n_pairs;
    float *scores; /* n_pairs outputs (raw logits) */
    void (*done)(rr_job_t *job, void *user);
    void *user;
    /* results */
    rr_job_status_t status;
    char error[256];
    /* Its times, set by the time `done` is called (TEI's queue and inference
     * times): queue_s from submit until the batch that took its first pair
     * was formed; infer_s from then until the batch with its last pair was
     * scored (its pairs' forward passes, and any wait between them). */
    double queue_s, infer_s;
    /* private to the batcher */
    size_t next_, finished_, tokens_left_;
    size_t batch_tokens_;            /* tokens taken into batch number batch_seq_ */
    size_t batch_pairs_;             /*   and pairs                                */
    unsigned long long batch_seq_;   /* the batch numbered by taking order, not completion */
    double t_submit_;
    int queued_, notified_, first_taken_;
    rr_job_t *qnext_, *qprev_;
};

typedef enum rr_submit_result {
    RR_SUBMIT_OK = 0,
    RR_SUBMIT_FULL = 1,     /* queue bound reached: retry later (429)   */
    RR_SUBMIT_CLOSED = 2,   /* shutting down (503)                       */
    RR_SUBMIT_INVALID = 3,  /* n_pairs == 0 or > max_queue_pairs         */
} rr_submit_result_t;

typedef struct rr_batcher rr_batcher_t;

typedef struct rr_batcher_stats {
    size_t queued_pairs, queued_tokens, queued_jobs;
    size_t running; /* batches being scored now (at most `workers`) */
    unsigned long long batches, pairs_scored, tokens_scored; /* completed */
} rr_batcher_stats_t;

rerank_status_t rr_batcher_new(const rr_batcher_config_t *cfg, rr_score_fn score,
                                  void *score_ctx, const rr_batch_observer_t *obs,
                                  rr_batcher_t **out);
/* Queue a job (its pairs must stay valid until `done`). */
rr_submit_result_t rr_batcher_submit(rr_batcher_t *b, rr_job_t *job);
/* Drop the job's queued pairs; `done` follows (maybe on this thread) with
 * RR_JOB_CANCELLED unless the job already completed. Safe to call more
 * than once and after completion (until the job's memory is released). */
void rr_batcher_cancel(rr_batcher_t *b, rr_job_t *job);
void rr_batcher_get_stats(rr_batcher_t *b, rr_batcher_stats_t *st);
/* 1 if n more pairs fit in the queue now (a hint: submit still decides). */
int rr_batcher_has_room(rr_batcher_t *b, size_t n);
/* Refuse new jobs; queued work still runs. */
void rr_batcher_close(rr_batcher_t *b);
/* Cancel every queued job (shutdown timeout). */
void rr_batcher_cancel_all(rr_batcher_t *b);
/* Close, finish the queue, join the workers, free. NULL is a no-op. */
void rr_batcher_free(rr_batcher_t *b);

#endif
