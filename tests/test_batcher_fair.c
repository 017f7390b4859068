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
 * ...) the pair ran in. The first batch can be held on a gate. */
typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_closed, in_score;
    int batch_of[MAX_KEYS];
    size_t batches, tokens_max;
} fake_t;

static rerank_status_t fake_score(void *ctx, const rerank_pair_t *pairs, size_t n, float *scores) {
    fake_t *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->in_score = 1;
    pthread_cond_broadcast(&f->cv);
    while (f->gate_closed) pthread_cond_wait(&f->cv, &f->mu);
    f->batches++;
    size_t tokens = 0;
    for (size_t i = 0; i < n; i++) {
        int key = pairs[i].ids[0];
        if (key >= 0 && key < MAX_KEYS) f->batch_of[key] = (int)f->batches;
        tokens += (size_t)pairs[i].n;
        scores[i] = (float)key;
    }
    if (tokens > f->tokens_max) f->tokens_max = tokens;
    pthread_mutex_unlock(&f->mu);
    return RERANK_OK;
}

static void fake_gate(fake_t *f, int closed) {
    pthread_mutex_lock(&f->mu);
    f->gate_closed = closed;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fake_wait_in_score(fake_t *f) {
    pthread_mutex_lock(&f->mu);
    while (!f->in_score) pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

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

/* While a first batch runs, 4 long jobs (20 pairs of 100 tokens: 8 batches
 * of a 1000-token budget) then a short one (3 pairs of 50) queue. */
static void flood(int fair, fake_t *f, tjob_t *blocker, tjob_t *longs, tjob_t *shorty) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    rr_batcher_config_t c = {.max_batch_tokens = 1000, .max_batch_pairs = 256, .max_wait_ms = 0,
                             .max_queue_pairs = 1000, .fair = fair};
    rr_batcher_t *b;
    CHECK(rr_batcher_new(&c, fake_score, f, NULL, &b) == RERANK_OK);
    fake_gate(f, 1);
    tjob_init(blocker, 1, 0, 10);
    CHECK(rr_batcher_submit(b, &blocker->job) == RR_SUBMIT_OK);
    fake_wait_in_score(f);
    for (int k = 0; k < 4; k++) {
        tjob_init(&longs[k], 20, 100 + 100 * k, 100);
        CHECK(rr_batcher_submit(b, &longs[k].job) == RR_SUBMIT_OK);
    }
    tjob_init(shorty, 3, 1000, 50);
    CHECK(rr_batcher_submit(b, &shorty->job) == RR_SUBMIT_OK);
    fake_gate(f, 0);
    rr_batcher_free(b); /* drains the queue */
    CHECK(atomic_load(&blocker->done) && atomic_load(&shorty->done));
    for (int k = 0; k < 4; k++) CHECK(atomic_load(&longs[k].done));
    CHECK(f->tokens_max <= 1000);
}

TEST(short_job_in_next_batch) {
    fake_t f;
    tjob_t blocker, longs[4], shorty;
    flood(1, &f, &blocker, longs, &shorty);
    CHECK(last_batch(&f, &blocker) == 1);
    /* fair: the short job whole in batch 2, right behind the running one */
    CHECK_MSG(last_batch(&f, &shorty) == 2, "short job done in batch %d", last_batch(&f, &shorty));
    /* the long jobs still progress together and all finish */
    for (int k = 0; k < 4; k++) CHECK(f.batch_of[longs[k].ids[0]] == 2);
    CHECK(f.batches == 10);
    /* FIFO for comparison: the short job waits for all 8000 long tokens */
    flood(0, &f, &blocker, longs, &shorty);
    CHECK_MSG(last_batch(&f, &shorty) >= 9, "FIFO: short job in batch %d", last_batch(&f, &shorty));
    for (int k = 0; k < 3; k++) CHECK(last_batch(&f, &longs[k]) <= f.batch_of[longs[k + 1].ids[19]]);
}

/* A pair bigger than any share at the head of the queue goes in the next
 * batch even while short jobs keep it company: nothing starves. */
TEST(big_pair_not_passed_over) {
    fake_t f;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
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

/* A lone job in fair order is taken as in FIFO: whole budgets. */
TEST(lone_job_full_batches) {
    fake_t f;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
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

int main(void) {
    RUN(short_job_in_next_batch);
    RUN(big_pair_not_passed_over);
    RUN(lone_job_full_batches);
    TEST_MAIN_END();
}
