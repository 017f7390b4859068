/* test_weights.c — a linear layer's weights materialized on demand
 * (rr_weights_dense_f32 / _bf16 / _keep / drop) against the checkpoint's
 * tensors read element by element, for F32, F16 and BF16 fixtures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "families/family.h"
#include "kernels/kernels.h"
#include "model/weights.h"
#include "test.h"

/* Element i of a part, converted by the scalar helpers. */
static float part_elem(const rr_dense_part_t *pt, size_t i) {
    const unsigned char *p = pt->p;
    if (pt->dtype == RR_DT_F32) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return pt->dtype == RR_DT_F16 ? rr_f16_to_f32(h) : rr_bf16_to_f32(h);
}

/* Bind fixture `name`; check every linear layer; return the dtype seen. */
static void check_fixture(const char *name, rr_dtype_t want) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), name);
    rr_config_t cfg;
    const rr_family_t *fam;
    rr_weights_t w;
    CHECK(rr_family_config_load(dir, &cfg, &fam) == RERANK_OK);
    if (rr_weights_open(&w, dir) != RERANK_OK || fam->bind(&w, &cfg) != RERANK_OK) {
        CHECK_MSG(0, "%s: %s", name, rerank_last_error());
        rr_weights_release(&w);
        return;
    }
    CHECK(w.n_dense > 0);
    float *buf = rr_malloc(rr_weights_dense_max(&w) * sizeof *buf);
    uint16_t *q = rr_malloc(rr_weights_dense_max(&w) * sizeof *q);
    int stacked = 0, bad = 0;
    for (int32_t id = 0; id < w.n_dense && buf && q; id++) {
        rr_dense_t *d = w.dense[id];
        const size_t in = (size_t)d->w.cols, n = (size_t)d->w.rows * in;
        /* the parts cover the layer's rows, in the checkpoint's dtype */
        int32_t rows = 0;
        for (int32_t i = 0; i < d->n_parts; i++) rows += d->part[i].rows;
        CHECK(rows == d->w.rows);
        CHECK(rr_weights_dense_dtype(&w, id) == want);
        stacked += d->n_parts > 1;
        /* an F32 checkpoint's single aligned part is a view; others are not materialized at bind */
        if (want == RR_DT_F32 && d->n_parts == 1) CHECK(d->w.p == d->part[0].p);
        else CHECK(d->w.p == NULL);
        /* F32: every element equals the parts', stacked in order */
        memset(buf, 0xff, n * sizeof *buf);
        rr_weights_dense_f32(&w, id, buf);
        size_t at = 0;
        for (int32_t i = 0; i < d->n_parts; i++)
            for (size_t e = 0; e < (size_t)d->part[i].rows * in; e++, at++) {
                const float r = part_elem(&d->part[i], e);
                bad += memcmp(&buf[at], &r, 4) != 0;
            }
        /* BF16: the bits the F32 round trip gives */
        if (want == RR_DT_BF16) {
            rr_weights_dense_bf16(&w, id, q);
            for (size_t e = 0; e < n; e++) bad += q[e] != rr_f32_to_bf16(buf[e]);
        }
        /* keep: an F32 copy (or the view) equal to the materialized one */
        CHECK(rr_weights_dense_keep(&w, id) == RERANK_OK);
        CHECK(d->w.p && memcmp(d->w.p, buf, n * sizeof *buf) == 0);
        /* drop: w.p cleared, the parts still read the same */
        rr_weights_drop_dense(&w, id);
        CHECK(d->w.p == NULL);
        float *again = rr_malloc(n * sizeof *again);
        CHECK(again != NULL);
        if (again) {
            rr_weights_dense_f32(&w, id, again);
            CHECK(memcmp(again, buf, n * sizeof *buf) == 0);
        }
        rr_free(again);
    }
    CHECK_MSG(bad == 0, "%s: %d elements differ", name, bad);
    CHECK_MSG(stacked > 0, "%s: no stacked layer", name);
    printf("  %-16s %s: %d linear layers (%d stacked) match the checkpoint\n", name, rr_dtype_name(want), w.n_dense,
           stacked);
    rr_free(buf);
    rr_free(q);
    rr_weights_release(&w);
}

TEST(f32_fixture) { check_fixture("tiny-xlmr", RR_DT_F32); }
TEST(f16_fixture) { check_fixture("tiny-xlmr-f16", RR_DT_F16); }
TEST(bf16_fixture) { check_fixture("tiny-xlmr-bf16", RR_DT_BF16); }
TEST(qwen3_bf16_fixture) { check_fixture("tiny-qwen3-bf16", RR_DT_BF16); }

/* Binding records, it does not convert: a layer costs no F32 copy until a
 * backend asks for one. */
TEST(bind_converts_nothing) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-qwen3-bf16", t_shared());
    rr_config_t cfg;
    const rr_family_t *fam;
    rr_weights_t w;
    CHECK(rr_family_config_load(dir, &cfg, &fam) == RERANK_OK);
    CHECK(rr_weights_open(&w, dir) == RERANK_OK && fam->bind(&w, &cfg) == RERANK_OK);
    for (int32_t i = 0; i < w.n_dense; i++) CHECK(w.dense[i]->w.p == NULL && w.dense[i]->n_parts >= 1);
    rr_weights_release(&w);
}

/* Write dir/model.safetensors with tensors "a.weight" (BF16) and
 * "b.weight" (F16), each [256, 256] holding every 16-bit pattern once. */
static int write_all_patterns(const char *dir) {
    char path[600], header[160];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const size_t n = 65536, bytes = 2 * n;
    int hl = snprintf(header, sizeof header,
                      "{\"a.weight\":{\"dtype\":\"BF16\",\"shape\":[256,256],\"data_offsets\":[0,%zu]},"
                      "\"b.weight\":{\"dtype\":\"F16\",\"shape\":[256,256],\"data_offsets\":[%zu,%zu]}}",
                      bytes, bytes, 2 * bytes);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned char len[8] = {0};
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(header, 1, (size_t)hl, f);
    for (int t = 0; t < 2; t++)
        for (uint32_t v = 0; v < n; v++) {
            uint16_t h = (uint16_t)v;
            fwrite(&h, 2, 1, f);
        }
    return fclose(f);
}

/* Every BF16 bit pattern (NaNs, infinities, subnormals) passes through
 * rr_weights_dense_bf16 as the F32 round trip gives it, and every F16 and
 * BF16 pattern converts as the scalar helpers do. */
TEST(every_bit_pattern) {
    char dir[] = "/tmp/rr_test_weights_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK(write_all_patterns(dir) == 0);
    rr_weights_t w;
    rr_dense_t a, b;
    CHECK(rr_weights_open(&w, dir) == RERANK_OK);
    CHECK(rr_weights_dense(&w, "", "a", 256, 256, 0, &a) == RERANK_OK);
    CHECK(rr_weights_dense(&w, "", "b", 256, 256, 0, &b) == RERANK_OK);
    float *f = rr_malloc(65536 * sizeof *f);
    uint16_t *q = rr_malloc(65536 * sizeof *q);
    int bad = 0, nans = 0;
    if (f && q && w.n_dense == 2) {
        rr_weights_dense_f32(&w, a.id, f);
        rr_weights_dense_bf16(&w, a.id, q);
        for (uint32_t v = 0; v < 65536; v++) {
            const float r = rr_bf16_to_f32((uint16_t)v);
            bad += memcmp(&f[v], &r, 4) != 0;
            bad += q[v] != rr_f32_to_bf16(r);
            nans += q[v] != v; /* only NaNs change: made quiet */
        }
        rr_weights_dense_f32(&w, b.id, f);
        for (uint32_t v = 0; v < 65536; v++) {
            const float r = rr_f16_to_f32((uint16_t)v);
            bad += memcmp(&f[v], &r, 4) != 0;
        }
    } else CHECK(!"setup");
    CHECK_MSG(bad == 0, "%d patterns differ", bad);
    /* signalling NaNs: exponent all ones, quiet bit clear, mantissa != 0: 2 x 63 */
    CHECK_MSG(nans == 126, "%d patterns changed", nans);
    rr_free(f);
    rr_free(q);
    rr_weights_release(&w);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    RUN(every_bit_pattern);
    RUN(f32_fixture);
    RUN(f16_fixture);
    RUN(bf16_fixture);
    RUN(qwen3_bf16_fixture);
    RUN(bind_converts_nothing);
    TEST_MAIN_END();
}
