/* fuzz_tokenizer_json — arbitrary bytes as a tokenizer.json. Loading either
 * fails with a status and a message, or gives a tokenizer that tokenizes a
 * few fixed strings with ids inside its vocabulary. Never a crash or leak. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "rerank.h"
#include "../tests/tok_pair.h"

RR_FUZZ_TARGET(tokenizer_json);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    int fd = memfd_create("tokenizer.json", 0);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) { close(fd); return 0; }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    rerank_tokenizer_t *tok = NULL;
    rerank_status_t st = rerank_tokenizer_load(path, &tok);
    if (st != RERANK_OK) {
        RR_FUZZ_CHECK(tok == NULL);
        RR_FUZZ_CHECK(rerank_last_error()[0] != 0);
    } else {
        static const char *texts[] = {"", "hello world", "Hello, WORLD! 123", "<s> x </s>", "日本語テキスト", "  a  b  "};
        int32_t vocab = rerank_tokenizer_vocab_size(tok);
        rerank_encoding_t enc = {0};
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            if (rerank_tokenize(tok, texts[i], strlen(texts[i]), &enc) != RERANK_OK) continue;
            for (size_t k = 0; k < enc.n; k++) RR_FUZZ_CHECK(enc.ids[k] >= 0 && enc.ids[k] < vocab);
        }
        if (tok_pair(tok, "q", 1, "doc", 3, 16, RERANK_TRUNC_LONGEST_FIRST, RERANK_TRUNC_RIGHT, &enc) == RERANK_OK)
            for (size_t k = 0; k < enc.n; k++) RR_FUZZ_CHECK(enc.ids[k] >= 0 && enc.ids[k] < vocab);
        rerank_encoding_free(&enc);
        rerank_tokenizer_free(tok);
    }
    close(fd);
    return 0;
}
