/* test_safetensors.c — the safetensors parser on hand-built valid,
 * truncated and corrupt files, and sharded indexes. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "model/safetensors.h"
#include "test.h"

static char g_dir[256];

static void path_of(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

/* Write 8-byte LE header length, header, then `data_len` bytes of data
 * (byte i = i & 0xff), truncated to `cut` bytes in all if cut >= 0. */
static void write_st(const char *name, const char *header, size_t data_len, long cut) {
    char path[512];
    path_of(path, sizeof path, name);
    size_t hl = strlen(header), total = 8 + hl + data_len;
    unsigned char *buf = malloc(total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) buf[8 + hl + i] = (unsigned char)i;
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, cut >= 0 && (size_t)cut < total ? (size_t)cut : total, f);
    fclose(f);
    free(buf);
}

static void write_raw(const char *name, const void *p, size_t n) {
    char path[512];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static rerank_status_t open_st(const char *name, rr_st_file_t **f) {
    char path[512];
    path_of(path, sizeof path, name);
    return rr_st_open(path, f);
}

/* 24 + 8 + 8 + 8 = 48 data bytes. */
static const char *k_valid =
    "{\"__metadata__\": {\"format\": \"pt\"},"
    " \"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},"
    " \"b\": {\"dtype\": \"F16\", \"shape\": [4], \"data_offsets\": [24, 32]},"
    " \"c\": {\"dtype\": \"BF16\", \"shape\": [2, 2], \"data_offsets\": [32, 40]},"
    " \"d\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [40, 48]},"
    " \"e\": {\"dtype\": \"F32\", \"shape\": [0, 5], \"data_offsets\": [48, 48]}}";

TEST(valid_file) {
    write_st("v.safetensors", k_valid, 48, -1);
    rr_st_file_t *f = NULL;
    CHECK(open_st("v.safetensors", &f) == RERANK_OK);
    if (!f) return;
    CHECK(rr_st_count(f) == 5);
    const rr_st_tensor_t *a = rr_st_find(f, "a"), *b = rr_st_find(f, "b"), *c = rr_st_find(f, "c"),
                         *d = rr_st_find(f, "d"), *e = rr_st_find(f, "e");
    CHECK(a && b && c && d && e);
    CHECK(rr_st_find(f, "__metadata__") == NULL && rr_st_find(f, "zz") == NULL);
    if (a && b && c && d && e) {
        CHECK(a->dtype == RR_DT_F32 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3 && a->numel == 6);
        CHECK(a->nbytes == 24 && ((const unsigned char *)a->data)[1] == 1);
        CHECK(b->dtype == RR_DT_F16 && ((const unsigned char *)b->data)[0] == 24);
        CHECK(c->dtype == RR_DT_BF16 && c->numel == 4);
        CHECK(d->dtype == RR_DT_OTHER && !strcmp(d->dtype_str, "I64"));
        CHECK(e->numel == 0 && e->nbytes == 0);
        CHECK((const char *)b->data - (const char *)a->data == 24);
    }
    rr_st_close(f);
}

/* Every prefix of a valid file is rejected cleanly (never a crash). */
TEST(truncated_files) {
    size_t hl = strlen(k_valid), total = 8 + hl + 48;
    for (long cut = 0; cut < (long)total; cut++) {
        write_st("t.safetensors", k_valid, 48, cut);
        rr_st_file_t *f = NULL;
        rerank_status_t st = open_st("t.safetensors", &f);
        CHECK_MSG(st == RERANK_ERR_FORMAT && f == NULL, "cut at %ld: status %d", cut, st);
        rr_st_close(f);
    }
    rr_st_file_t *f = NULL;
    CHECK(open_st("does-not-exist.safetensors", &f) == RERANK_ERR_IO);
}

static rerank_status_t try_header(const char *header, size_t data_len) {
    write_st("c.safetensors", header, data_len, -1);
    rr_st_file_t *f = NULL;
    rerank_status_t st = open_st("c.safetensors", &f);
    rr_st_close(f);
    return st;
}

#define T(body) "{\"w\": " body "}"
TEST(corrupt_headers) {
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}"), 8) == RERANK_OK);
    CHECK(try_header("not json", 8) == RERANK_ERR_FORMAT);
    CHECK(try_header("[1, 2]", 8) == RERANK_ERR_FORMAT);
    CHECK(try_header("{", 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("3"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"shape\": [2], \"data_offsets\": [0, 8]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"data_offsets\": [0, 8]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [2]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 8]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "Q4") != NULL);
    CHECK(try_header(T("{\"dtype\": 5, \"shape\": [2], \"data_offsets\": [0, 8]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [2.0], \"data_offsets\": [0, 8]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, -8]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "'w'") != NULL);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 16]}"), 8) == RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 8]}"), 8) ==
          RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [4611686018427387904], \"data_offsets\": [0, 8]}"), 8) ==
          RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,2], \"data_offsets\": [0, 8]}"), 8) ==
          RERANK_ERR_FORMAT);
    CHECK(try_header(T("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 99999999999999999999]}"), 8) ==
          RERANK_ERR_FORMAT);
    /* overlapping tensors, duplicate names, bad metadata */
    CHECK(try_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                     " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12) == RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "overlap") != NULL);
    CHECK(try_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                     " \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 16) == RERANK_ERR_FORMAT);
    CHECK(try_header("{\"__metadata__\": 3}", 0) == RERANK_ERR_FORMAT);
    CHECK(try_header("{}", 0) == RERANK_OK);

    /* header length fields */
    unsigned char tiny[5] = {1, 2, 3, 4, 5};
    write_raw("c.safetensors", tiny, sizeof tiny);
    rr_st_file_t *f = NULL;
    CHECK(open_st("c.safetensors", &f) == RERANK_ERR_FORMAT);
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    write_raw("c.safetensors", huge, sizeof huge);
    CHECK(open_st("c.safetensors", &f) == RERANK_ERR_FORMAT);
    unsigned char big[16] = {0, 0, 0, 0x10, 0, 0, 0, 0, '{', '}'}; /* 256 MB > limit */
    write_raw("c.safetensors", big, sizeof big);
    CHECK(open_st("c.safetensors", &f) == RERANK_ERR_FORMAT);
    unsigned char zero[10] = {0, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_raw("c.safetensors", zero, sizeof zero);
    CHECK(open_st("c.safetensors", &f) == RERANK_ERR_FORMAT);
    CHECK(f == NULL);
}

/* Flip bytes of a valid file's header at random: any outcome but a crash. */
TEST(random_corruption) {
    size_t hl = strlen(k_valid);
    char *h = malloc(hl + 1);
    unsigned seed = 12345;
    int ok = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(h, k_valid, hl + 1);
        for (int k = 0; k < 1 + it % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % hl;
            seed = seed * 1103515245u + 12345u;
            h[pos] = it % 2 ? "0123456789[]{},:\"-e. "[(seed >> 8) % 21] : (char)((seed >> 8) & 0x7f);
            if (!h[pos]) h[pos] = ' ';
        }
        write_st("r.safetensors", h, 48, -1);
        rr_st_file_t *f = NULL;
        if (open_st("r.safetensors", &f) == RERANK_OK) {
            ok++;
            for (size_t i = 0; i < rr_st_count(f); i++) {
                const rr_st_tensor_t *t = rr_st_at(f, i);
                volatile unsigned char sum = 0;
                for (size_t j = 0; j < t->nbytes; j++) sum ^= ((const unsigned char *)t->data)[j];
                (void)sum;
            }
        }
        rr_st_close(f);
    }
    free(h);
    CHECK(ok > 0);
}

TEST(sharded_index) {
    write_st("model-00001-of-00002.safetensors",
             "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, -1);
    write_st("model-00002-of-00002.safetensors",
             "{\"b\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4, -1);
    char idx[512], single[512];
    path_of(idx, sizeof idx, "model.safetensors.index.json");
    path_of(single, sizeof single, "model.safetensors");
    unlink(single);
    const char *good = "{\"metadata\": {\"total_size\": 12}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\","
                       " \"b\": \"model-00002-of-00002.safetensors\"}}";
    write_raw("model.safetensors.index.json", good, strlen(good));
    rr_st_set_t set;
    CHECK(rr_st_set_open(g_dir, &set) == RERANK_OK);
    CHECK(set.n_files == 2);
    const rr_st_tensor_t *a = rr_st_set_find(&set, "a"), *b = rr_st_set_find(&set, "b");
    CHECK(a && a->dtype == RR_DT_F32 && b && b->dtype == RR_DT_BF16);
    CHECK(rr_st_set_find(&set, "c") == NULL);
    rr_st_set_close(&set);

    const char *bad[] = {
        "{\"weight_map\": {\"a\": \"../model-00001-of-00002.safetensors\"}}",
        "{\"weight_map\": {\"a\": \"/etc/passwd\"}}",
        "{\"weight_map\": {\"a\": \"sub/x.safetensors\"}}",
        "{\"weight_map\": {\"a\": \"..\"}}",
        "{\"weight_map\": {\"a\": 3}}",
        "{\"weight_map\": {}}",
        "{\"weights\": {}}",
        "{\"weight_map\": {\"a\": \"missing.safetensors\"}}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_raw("model.safetensors.index.json", bad[i], strlen(bad[i]));
        rerank_status_t st = rr_st_set_open(g_dir, &set);
        CHECK_MSG(st != RERANK_OK && set.n_files == 0, "index %zu accepted", i);
    }
    write_raw("model.safetensors.index.json", bad[0], strlen(bad[0]));
    rr_st_set_open(g_dir, &set);
    CHECK(strstr(rerank_last_error(), "..") != NULL);
    unlink(idx);
    CHECK(rr_st_set_open(g_dir, &set) == RERANK_ERR_IO);
}

/* A Git LFS pointer in place of the weights (a clone without git-lfs), as
 * the single file or as a shard, and a directory with only a PyTorch
 * pickle: each refused with a message that says so. */
TEST(lfs_pointer_and_pickle_only) {
    const char *lfs = "version https://git-lfs.github.com/spec/v1\n"
                      "oid sha256:2f1e2b4ab5a0b1b0c2f5f9a7e1d9c3b4a5d6e7f8091a2b3c4d5e6f708192a3b4\nsize 2271064456\n";
    char single[512], idx[512], bin[512];
    path_of(single, sizeof single, "model.safetensors");
    path_of(idx, sizeof idx, "model.safetensors.index.json");
    path_of(bin, sizeof bin, "pytorch_model.bin");
    rr_st_set_t set;
    write_raw("model.safetensors", lfs, strlen(lfs));
    CHECK(rr_st_set_open(g_dir, &set) == RERANK_ERR_FORMAT && set.n_files == 0);
    CHECK_MSG(strstr(rerank_last_error(), "model.safetensors: a Git LFS pointer") != NULL, "%s", rerank_last_error());
    unlink(single);
    write_raw("model-00002-of-00002.safetensors", lfs, strlen(lfs));
    write_st("model-00001-of-00002.safetensors",
             "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, -1);
    const char *index = "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\","
                        " \"b\": \"model-00002-of-00002.safetensors\"}}";
    write_raw("model.safetensors.index.json", index, strlen(index));
    CHECK(rr_st_set_open(g_dir, &set) == RERANK_ERR_FORMAT && set.n_files == 0);
    CHECK_MSG(strstr(rerank_last_error(), "model-00002-of-00002.safetensors: a Git LFS pointer") != NULL, "%s",
              rerank_last_error());
    unlink(idx);
    write_raw("pytorch_model.bin", "PK\3\4", 4);
    CHECK(rr_st_set_open(g_dir, &set) == RERANK_ERR_UNSUPPORTED && set.n_files == 0);
    CHECK_MSG(strstr(rerank_last_error(), "only pytorch_model.bin") != NULL, "%s", rerank_last_error());
    unlink(bin);
    CHECK(rr_st_set_open(g_dir, &set) == RERANK_ERR_IO);
}

TEST(alloc_failures) {
    write_st("v.safetensors", k_valid, 48, -1);
    int done = 0;
    for (unsigned long k = 1; k < 500 && !done; k++) {
        rr_st_file_t *f = NULL;
        rr_alloc_fail_at(k);
        rerank_status_t st = open_st("v.safetensors", &f);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        if (!failed) { CHECK(st == RERANK_OK); done = 1; }
        else CHECK(st != RERANK_OK && f == NULL);
        rr_st_close(f);
    }
    CHECK(done);
}

static void cleanup(void) {
    const char *names[] = {"v.safetensors", "t.safetensors", "c.safetensors", "r.safetensors",
                           "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                           "model.safetensors.index.json", "model.safetensors", "pytorch_model.bin"};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_of(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(g_dir);
}

int main(void) {
    rr_alloc_init_json(); /* jansson's allocations count in the fault loops (the library never routes them) */
    snprintf(g_dir, sizeof g_dir, "/tmp/rr_test_st_%d", (int)getpid());
    mkdir(g_dir, 0700);
    RUN(valid_file);
    RUN(truncated_files);
    RUN(corrupt_headers);
    RUN(random_corruption);
    RUN(sharded_index);
    RUN(lfs_pointer_and_pickle_only);
    RUN(alloc_failures);
    cleanup();
    TEST_MAIN_END();
}
