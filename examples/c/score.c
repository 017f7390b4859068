/* score.c — use librerank from C: load a cross-encoder, score a query against
 * two documents, print the scores.
 *
 * Build against an installed rerank (`make install`):
 *     cc -o score score.c $(pkg-config --cflags --libs rerank)
 * or from the source tree:
 *     cc -Iinclude -o score examples/c/score.c build/librerank.so -Wl,-rpath,$PWD/build
 * Run (from the source tree, or pass any Hugging Face model directory):
 *     ./score [MODEL_DIR] [QUERY] [DOC...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rerank.h>

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "../shared/fixtures/models/tiny-xlmr";
    const char *query = argc > 2 ? argv[2] : "what is panda?";
    const char *default_docs[] = {
        "hi",
        "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply "
        "panda, is a bear species endemic to China.",
    };
    const char *const *docs = default_docs;
    size_t n_docs = 2;
    if (argc > 3) {
        docs = (const char *const *)(argv + 3);
        n_docs = (size_t)(argc - 3);
    }

    rerank_model_options_t mopts = rerank_model_options_default();
    mopts.threads = 1;
    rerank_model_t *model = NULL;
    rerank_status_t st = rerank_model_load(dir, &mopts, &model);
    if (st != RERANK_OK) {
        fprintf(stderr, "score: cannot load %s: %s (%s)\n", dir, rerank_last_error(),
                rerank_status_str(st));
        return 1;
    }
    rerank_model_info_t info;
    rerank_model_get_info(model, &info);
    printf("model %s (%s, %d layers, hidden %d, weights %s), librerank %s\n", dir,
           info.architecture, info.num_layers, info.hidden_size, info.weights_dtype,
           rerank_version());

    float *scores = calloc(n_docs, sizeof *scores);
    if (!scores) {
        rerank_model_free(model);
        return 1;
    }
    rerank_score_options_t sopts = rerank_score_options_default(); /* raw logits */
    st = rerank_score(model, query, strlen(query), docs, NULL, n_docs, &sopts, scores);
    if (st != RERANK_OK) {
        fprintf(stderr, "score: %s (%s)\n", rerank_last_error(), rerank_status_str(st));
        free(scores);
        rerank_model_free(model);
        return 1;
    }
    printf("query: %s\n", query);
    for (size_t i = 0; i < n_docs; i++) printf("%+.6f  %.70s\n", scores[i], docs[i]);
    free(scores);
    rerank_model_free(model);
    return 0;
}
