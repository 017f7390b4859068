/* fuzz_config — arbitrary bytes as a config.json. Parsing either fails with
 * a status and a message, or yields dimensions inside src/common/limits.h
 * that are consistent with each other. */
#include <stdint.h>

#include "common/limits.h"
#include "fuzz.h"
#include "model/config.h"

RR_FUZZ_TARGET(config);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 16)) return 0;
    rr_config_t c;
    if (rr_config_parse((const char *)data, size, "fuzz", &c) != RERANK_OK) {
        RR_FUZZ_CHECK(rerank_last_error()[0] != 0);
        return 0;
    }
    RR_FUZZ_CHECK(c.hidden > 0 && c.hidden <= RR_MAX_HIDDEN);
    RR_FUZZ_CHECK(c.layers > 0 && c.layers <= RR_MAX_LAYERS);
    RR_FUZZ_CHECK(c.heads > 0 && c.heads <= RR_MAX_HEADS && c.hidden % c.heads == 0);
    RR_FUZZ_CHECK(c.head_dim * c.heads == c.hidden);
    RR_FUZZ_CHECK(c.ffn > 0 && c.vocab > 0 && c.vocab <= RR_MAX_VOCAB);
    RR_FUZZ_CHECK(c.usable_pos > 0 && c.usable_pos <= c.max_pos);
    RR_FUZZ_CHECK(c.num_labels == 1);
    RR_FUZZ_CHECK(c.arch == RR_ARCH_XLMR || c.arch == RR_ARCH_BERT);
    return 0;
}
