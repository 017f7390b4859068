/* fuzz_config — arbitrary bytes as a config.json. Parsing either fails with
 * a status and a message, or yields dimensions inside src/common/limits.h
 * that are consistent with each other. */
#include <stdint.h>

#include "common/limits.h"
#include "fuzz.h"
#include "families/family.h"

RR_FUZZ_TARGET(config);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 16)) return 0;
    rr_config_t c;
    const rr_family_t *fam = NULL;
    if (rr_family_config_parse((const char *)data, size, "fuzz", &c, &fam) != RERANK_OK) {
        RR_FUZZ_CHECK(rerank_last_error()[0] != 0);
        return 0;
    }
    RR_FUZZ_CHECK(c.hidden > 0 && c.hidden <= RR_MAX_HIDDEN);
    RR_FUZZ_CHECK(c.layers > 0 && c.layers <= RR_MAX_LAYERS);
    RR_FUZZ_CHECK(c.heads > 0 && c.heads <= RR_MAX_HEADS);
    RR_FUZZ_CHECK(c.kv_heads > 0 && c.kv_heads <= c.heads && c.heads % c.kv_heads == 0);
    RR_FUZZ_CHECK(c.head_dim > 0 && c.head_dim <= RR_MAX_HEAD_DIM);
    RR_FUZZ_CHECK(c.ffn > 0 && c.vocab > 0 && c.vocab <= RR_MAX_VOCAB);
    RR_FUZZ_CHECK(c.usable_pos > 0 && c.usable_pos <= c.max_pos && c.usable_pos <= RR_MAX_SEQ_TOKENS);
    RR_FUZZ_CHECK(fam != NULL && rr_family_find(c.architecture) == fam);
    return 0;
}
