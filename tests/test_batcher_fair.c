/* test_batcher_fair.c — the batcher's fair order (batcher.h): a short job
 * queued behind long ones is in the very next batch, a big pair at the head
 * is never passed over, scores still reach the right pairs; FIFO order for
 * comparison. A fake scorer records the batch each pair ran in. */
#include <pthread.h>
#include <stdatomic.h>

#include "server/batcher.h"
#include "test.h"

#define MAX_KEYS 4096

/* Fake scorer: score = key (ids[0]); batch_of[key] = the batch number (1, 2,
 * ...) the pair ran in, numbered as batches enter the scorer. A closed gate
 * holds every batch numbered above `released`. */
typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_closed, n_in; /* n_in: calls in the scorer now */
    size_t released;
    int batch_of[MAX_KEYS];
    size_t batches, tokens_max;
} fake_t;

static rerank_status_t fake_score(void *ctx, const rerank_pair_t *pairs, size_t n, float *scores) {
    fake_t *f = ctx;
    pthread_mutex_lock(&f->mu);
    size_t k = ++f->batches;
    f->n_in++;
    size_t tokens = 0;
    for (size_t i = 0; i < n; i++) {
        int key = pairs[i].ids[0];
        if (key >= 0 && key < MAX_KEYS) f->batch_of[key] = (int)k;
        tokens += (size_t)pairs[i].n;
        scores[i] = (float)key;
    }
    if (tokens > f->tokens_max) f->tokens_max = tokens;
    pthread_cond_broadcast(&f->cv);
    while (f->gate_closed && k > f->released) pthread_cond_wait(&f->cv, &f->mu);
    f->n_in--;
    pthread_mutex_unlock(&f->mu);
    return RERANK_OK;
}

static void fake_init(fake_t *f) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

static void fake_gate(fake_t *f, int closed) {
    pthread_mutex_lock(&f->mu);
    f->gate_closed = closed;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Let batches 1..k through a closed gate. */
static void fake_release(fake_t *f, size_t k) {
    pthread_mutex_lock(&f->mu);
    f->released = k;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Until k batches entered the scorer (all scored into batch_of). */
static void fake_wait_entered(fake_t *f, size_t k) {
    pthread_mutex_lock(&f->mu);
    while (f->batches < k) pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static void fake_wait_in_score(fake_t *f) { fake_wait_entered(f, 1); }

/* A job of n pairs of `len` tokens with keys key0, key0 + 1, ... */
typedef struct tjob {
    rr_job_t job;
    int32_t ids[64];
    rerank_pair_t pairs[64];
    float scores[64];
    atomic_int done;
} tjob_t;

static void tjob_done(rr_job_t *job, void *user) {
    (void)job;
    atomic_store(&((tjob_t *)user)->done, 1);
}

static void tjob_init(tjob_t *t, size_t n, int key0, int len) {
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t->ids[i] = key0 + (int)i;
        t->pairs[i] = (rerank_pair_t){&t->ids[i], NULL, len};
        t->scores[i] = -1;
    }
    t->job = (rr_job_t){.pairs = t->pairs, .n_pairs = n, .scores = t->scores, .done = tjob_done, .user = t};
}

/* The batch the job's last pair ran in; checks every score. */
static int last_batch(const fake_t *f, const tjob_t *t) {
    int b = 0;
    for (size_t i = 0; i < t->job.n_pairs; i++) {
        CHECK(t->scores[i] == (float)t->ids[i]);
        if (f->batch_of[t->ids[i]] > b) b = f->batch_of[t->ids[i]];
    }
    return b;
}

/* While the first batches run (one per worker), 4 long jobs (20 pairs of
 * 100 tokens: 8 batches of a 1000-token budget) then a short one (3 pairs
 * of 50) queue. */
static void flood(int fair, int workers, fake_t *f, tjob_t *blockers, tjob_t *longs, tjob_t *shorty) {
    fake_init(f);
    rr_batcher_config_t c = {.max_batch_tokens = 1000, .max_batch_pairs = 256, .max_wait_ms = 0,
                             .max_queue_pairs = 1000, .fair = fair, .workers = workers};
    rr_batcher_t *b;
    CHECK(rr_batcher_new(&c, fake_score, f, NULL, &b) == RERANK_OK);
    fake_gate(f, 1);
    for (int k = 0; k < workers; k++) {
        tjob_init(&blockers[k], 1, k, 10);
        CHECK(rr_batcher_submit(b, &blockers[k].job) == RR_SUBMIT_OK);
        fake_wait_entered(f, (size_t)k + 1); /* every worker busy: the rest queues */
    }
    for (int k = 0; k < 4; k++) {
        tjob_init(&longs[k], 20, 100 + 100 * k, 100);
        CHECK(rr_batcher_submit(b, &longs[k].job) == RR_SUBMIT_OK);
    }
    tjob_init(shorty, 3, 1000, 50);
    CHECK(rr_batcher_submit(b, &shorty->job) == RR_SUBMIT_OK);
    fake_gate(f, 0);
    rr_batcher_free(b); /* drains the queue */
    CHECK(atomic_load(&shorty->done));
    for (int k = 0; k < workers; k++) CHECK(atomic_load(&blockers[k].done));
    for (int k = 0; k < 4; k++) CHECK(atomic_load(&longs[k].done));
    CHECK(f->tokens_max <= 1000);
}

TEST(short_job_in_next_batch) {
    fake_t f;
    tjob_t blocker, longs[4], shorty;
    flood(1, 1, &f, &blocker, longs, &shorty);
    CHECK(last_batch(&f, &blocker) == 1);
    /* fair: the short job whole in batch 2, right behind the running one */
    CHECK_MSG(last_batch(&f, &shorty) == 2, "short job done in batch %d", last_batch(&f, &shorty));
    /* the long jobs still progress together and all finish */
    for (int k = 0; k < 4; k++) CHECK(f.batch_of[longs[k].ids[0]] == 2);
    CHECK(f.batches == 10);
    /* FIFO for comparison: the short job waits for all 8000 long tokens */
    flood(0, 1, &f, &blocker, longs, &shorty);
    CHECK_MSG(last_batch(&f, &shorty) >= 9, "FIFO: short job in batch %d", last_batch(&f, &shorty));
    for (int k = 0; k < 3; k++) CHECK(last_batch(&f, &longs[k]) <= f.batch_of[longs[k + 1].ids[19]]);
}

/* Two batches in flight: the short job is still whole in the first batch
 * taken after the flood, beside every long job's first pairs. (Which
 * worker's batch enters the scorer first is up to the scheduler, so the
 * check names the batch by its company, not its number.) */
TEST(short_job_in_next_batch_two_workers) {
    fake_t f;
    tjob_t blockers[2], longs[4], shorty;
    flood(1, 2, &f, blockers, longs, &shorty);
    int sb = f.batch_of[shorty.ids[0]];
    CHECK(sb > 2 && last_batch(&f, &shorty) == sb && f.batch_of[shorty.ids[2]] == sb);
    for (int k = 0; k < 4; k++) CHECK_MSG(f.batch_of[longs[k].ids[0]] == sb, "long %d starts in batch %d, short in %d", k,
                                          f.batch_of[longs[k].ids[0]], sb);
    CHECK(f.batches == 11); /* 2 blockers, then the same 9 batches as one worker takes */
    /* FIFO for comparison: the short job waits for all 8000 long tokens,
     * taken last (entered 10th or 11th: the last two batches overlap) */
    flood(0, 2, &f, blockers, longs, &shorty);
    CHECK_MSG(f.batch_of[shorty.ids[0]] >= 10, "FIFO: short job in batch %d", f.batch_of[shorty.ids[0]]);
}

/* A pair bigger than any share at the head of the queue goes in the next
 * batch even while short jobs keep it company: nothing starves. */
TEST(big_pair_not_passed_over) {
    fake_t f;
    fake_init(&f);
    rr_batcher_config_t c = {.max_batch_tokens = 1000, .max_batch_pairs = 256, .max_wait_ms = 0,
                             .max_queue_pairs = 1000, .fair = 1};
    rr_batcher_t *b;
    CHECK(rr_batcher_new(&c, fake_score, &f, NULL, &b) == RERANK_OK);
    fake_gate(&f, 1);
    static tjob_t blocker, big, shorts[8];
    tjob_init(&blocker, 1, 0, 10);
    CHECK(rr_batcher_submit(b, &blocker.job) == RR_SUBMIT_OK);
    fake_wait_in_score(&f);
    tjob_init(&big, 2, 10, 900); /* two pairs of 900: over the 1000 budget together */
    CHECK(rr_batcher_submit(b, &big.job) == RR_SUBMIT_OK);
    for (int k = 0; k < 8; k++) {
        tjob_init(&shorts[k], 1, 100 + k, 60);
        CHECK(rr_batcher_submit(b, &shorts[k].job) == RR_SUBMIT_OK);
    }
    fake_gate(&f, 0);
    rr_batcher_free(b);
    /* batch 2: the big head pair and one short (share 1000 / 9 = 111 each, 100 left) */
    CHECK(f.batch_of[10] == 2 && f.batch_of[100] == 2 && f.batch_of[101] == 3);
    /* batch 3: the big job is still the oldest: its second pair, then shorts */
    CHECK(f.batch_of[11] == 3);
    for (int k = 0; k < 8; k++) CHECK(atomic_load(&shorts[k].done) && shorts[k].scores[0] == (float)(100 + k));
    CHECK(f.tokens_max <= 1000);
}

/* The pair cap is shared too: a job of many short pairs (a request with
 * hundreds of small documents) fills the cap long before its token share,
 * so a share by tokens alone would leave a short job behind all of it. */
TEST(short_job_shares_pair_cap) {
    fake_t f;
    fake_init(&f);
    rr_batcher_config_t c = {.max_batch_tokens = 1000, .max_batch_pairs = 8, .max_wait_ms = 0,
                             .max_queue_pairs = 1000, .fair = 1};
    rr_batcher_t *b;
    CHECK(rr_batcher_new(&c, fake_score, &f, NULL, &b) == RERANK_OK);
    fake_gate(&f, 1);
    static tjob_t blocker, many, shorty;
    tjob_init(&blocker, 1, 0, 10);
    CHECK(rr_batcher_submit(b, &blocker.job) == RR_SUBMIT_OK);
    fake_wait_in_score(&f);
    tjob_init(&many, 40, 100, 10); /* 400 tokens: within its 500-token share, 5 batches of 8 pairs */
    CHECK(rr_batcher_submit(b, &many.job) == RR_SUBMIT_OK);
    tjob_init(&shorty, 2, 1000, 10);
    CHECK(rr_batcher_submit(b, &shorty.job) == RR_SUBMIT_OK);
    fake_gate(&f, 0);
    rr_batcher_free(b);
    CHECK(atomic_load(&many.done) && atomic_load(&shorty.done));
    /* batch 2: 4 pairs each (8 / 2 jobs), then the rest of the cap in order */
    CHECK_MSG(last_batch(&f, &shorty) == 2, "short job done in batch %d", last_batch(&f, &shorty));
    CHECK(f.batch_of[100] == 2 && f.batch_of[105] == 2 && f.batch_of[106] == 3);
    CHECK(last_batch(&f, &many) == 7 && f.batches == 7); /* 6 + 8 + 8 + 8 + 8 + 2 */
}

/* A lone job in fair order is taken as in FIFO: whole budgets. */
TEST(lone_job_full_batches) {
    fake_t f;
    fake_init(&f);
    rr_batcher_config_t c = {.max_batch_tokens = 1000, .max_batch_pairs = 256, .max_wait_ms = 0,
                             .max_queue_pairs = 1000, .fair = 1};
    rr_batcher_t *b;
    CHECK(rr_batcher_new(&c, fake_score, &f, NULL, &b) == RERANK_OK);
    fake_gate(&f, 1);
    static tjob_t blocker, one;
    tjob_init(&blocker, 1, 0, 10);
    CHECK(rr_batcher_submit(b, &blocker.job) == RR_SUBMIT_OK);
    fake_wait_in_score(&f);
    tjob_init(&one, 30, 10, 100);
    CHECK(rr_batcher_submit(b, &one.job) == RR_SUBMIT_OK);
    fake_gate(&f, 0);
    rr_batcher_free(b);
    CHECK(f.batches == 4 && f.batch_of[19] == 2 && f.batch_of[20] == 3 && last_batch(&f, &one) == 4);
}

/* A job whose `done` holds its worker (between completing a batch and
 * taking the next) until the test opens it. */
typedef struct holder {
    tjob_t t; /* first: t.job.user is the holder too */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in, open;
} holder_t;

static void holder_done(rr_job_t *job, void *user) {
    holder_t *h = user;
    (void)job;
    pthread_mutex_lock(&h->mu);
    h->in = 1;
    pthread_cond_broadcast(&h->cv);
    while (!h->open) pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    atomic_store(&h->t.done, 1);
}

static void holder_open(holder_t *h) {
    pthread_mutex_lock(&h->mu);
    h->open = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* The share counts a job's tokens per batch taken, not per batch completed.
 * Two workers: worker A completes batch 1 and stays in its job's `done`;
 * worker B completes batch 2 and takes batch 3 (two long jobs H, J: a share
 * of 500 each); then A takes batch 4 while batch 3 still runs, so no
 * batch completed in between. Batch 4 is a new batch: J gets its share
 * again (numbering batches by completions would count J's batch-3 tokens
 * against it and give batch 4 to H alone). */
TEST(share_per_batch_taken) {
    fake_t f;
    fake_init(&f);
    rr_batcher_config_t c = {.max_batch_tokens = 1000, .max_batch_pairs = 256, .max_wait_ms = 0,
                             .max_queue_pairs = 1000, .fair = 1, .workers = 2};
    rr_batcher_t *b;
    CHECK(rr_batcher_new(&c, fake_score, &f, NULL, &b) == RERANK_OK);
    static holder_t d;
    static tjob_t e, h, j;
    fake_gate(&f, 1);
    tjob_init(&d.t, 1, 0, 10);
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    d.t.job.done = holder_done;
    d.t.job.user = &d;
    CHECK(rr_batcher_submit(b, &d.t.job) == RR_SUBMIT_OK);
    fake_wait_entered(&f, 1); /* worker A: batch 1 */
    tjob_init(&e, 1, 1, 10);
    CHECK(rr_batcher_submit(b, &e.job) == RR_SUBMIT_OK);
    fake_wait_entered(&f, 2); /* worker B: batch 2 */
    tjob_init(&h, 20, 100, 100);
    tjob_init(&j, 20, 200, 100);
    CHECK(rr_batcher_submit(b, &h.job) == RR_SUBMIT_OK);
    CHECK(rr_batcher_submit(b, &j.job) == RR_SUBMIT_OK);
    fake_release(&f, 1);
    pthread_mutex_lock(&d.mu);
    while (!d.in) pthread_cond_wait(&d.cv, &d.mu); /* A is held in d's done */
    pthread_mutex_unlock(&d.mu);
    fake_release(&f, 2);
    fake_wait_entered(&f, 3); /* B took batch 3 */
    holder_open(&d);
    fake_wait_entered(&f, 4); /* A took batch 4 */
    for (int i = 0; i < 5; i++) {
        CHECK_MSG(f.batch_of[100 + i] == 3 && f.batch_of[200 + i] == 3, "pair %d: H in %d, J in %d", i,
                  f.batch_of[100 + i], f.batch_of[200 + i]);
        CHECK_MSG(f.batch_of[105 + i] == 4 && f.batch_of[205 + i] == 4, "pair %d: H in %d, J in %d", 5 + i,
                  f.batch_of[105 + i], f.batch_of[205 + i]);
    }
    fake_gate(&f, 0);
    rr_batcher_free(b);
    CHECK(atomic_load(&d.t.done) && atomic_load(&e.done) && atomic_load(&h.done) && atomic_load(&j.done));
    CHECK(last_batch(&f, &h) > 4 && last_batch(&f, &j) > 4);
}

int main(void) {
    RUN(short_job_in_next_batch);
    RUN(short_job_in_next_batch_two_workers);
    RUN(share_per_batch_taken);
    RUN(big_pair_not_passed_over);
    RUN(short_job_shares_pair_cap);
    RUN(lone_job_full_batches);
    TEST_MAIN_END();
}
