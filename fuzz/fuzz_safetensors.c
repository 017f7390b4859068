/* fuzz_safetensors — arbitrary bytes as a .safetensors file. Opening either
 * fails with a status and a message, or every tensor it reports lies inside
 * the file, has a size that matches dtype x shape, and can be read in full
 * (ASan catches any read past the mapping). */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "model/safetensors.h"

RR_FUZZ_TARGET(safetensors);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    int fd = memfd_create("model.safetensors", 0);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) { close(fd); return 0; }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    rr_st_file_t *f = NULL;
    if (rr_st_open(path, &f) != RERANK_OK) {
        RR_FUZZ_CHECK(f == NULL);
        RR_FUZZ_CHECK(rerank_last_error()[0] != 0);
    } else {
        size_t n = rr_st_count(f);
        RR_FUZZ_CHECK(n <= RR_MAX_TENSORS);
        for (size_t i = 0; i < n; i++) {
            const rr_st_tensor_t *t = rr_st_at(f, i);
            RR_FUZZ_CHECK(t && t->name && t->ndim >= 0 && t->ndim <= RR_MAX_TENSOR_DIMS);
            int64_t numel = 1;
            for (int d = 0; d < t->ndim; d++) { RR_FUZZ_CHECK(t->shape[d] >= 0); numel *= t->shape[d]; }
            RR_FUZZ_CHECK(numel == t->numel);
            size_t es = rr_dtype_size(t->dtype);
            if (es) RR_FUZZ_CHECK((size_t)t->numel * es == t->nbytes);
            RR_FUZZ_CHECK(t->nbytes <= size);
            if (t->nbytes) {
                const uint8_t *p = t->data;
                unsigned acc = 0;
                for (size_t b = 0; b < t->nbytes; b++) acc += p[b];
                (void)acc;
            }
            RR_FUZZ_CHECK(rr_st_find(f, t->name) == t);
        }
        rr_st_close(f);
    }
    close(fd);
    return 0;
}
