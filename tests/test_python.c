/* test_python.c — run the Python package's test (tests/python/test_python.py) against this build.
 * Compiled with include/rerank.h, it hands the test the header's struct layouts (sizeof, offsetof)
 * and enum values as JSON, which the test compares with the package's ctypes declarations, then
 * replaces itself with Debian's python3 running the test (RERANK_PYTHON overrides the interpreter).
 * The test prints the RESULT line tests/run.sh counts. Under ASan the sanitized librerank.so can
 * only be loaded into python with the ASan runtime preloaded: the path of libasan.so goes along.
 * ThreadSanitizer builds do not run it (an uninstrumented python would report every ctypes call). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "rerank.h"

/* a field as [offset, size] */
#define FIELD(obj, type, f)                                                                          \
    json_object_set_new(obj, #f, json_pack("[I, I]", (json_int_t)offsetof(type, f),                  \
                                           (json_int_t)sizeof(((type *)0)->f)))
#define STRUCT(root, type, ...)                                                     \
    do {                                                                            \
        json_t *s = json_object(), *fl = json_object();                             \
        json_object_set_new(s, "size", json_integer((json_int_t)sizeof(type)));     \
        __VA_ARGS__                                                                 \
        json_object_set_new(s, "fields", fl);                                       \
        json_object_set_new(root, #type, s);                                        \
    } while (0)
#define CONST(obj, name) json_object_set_new(obj, #name, json_integer(name))

/* The layout of every struct the binding passes through ctypes: its size, each field's offset and size. */
static char *layout_json(void) {
    json_t *root = json_object(), *structs = json_object(), *consts = json_object();
    STRUCT(structs, rerank_encoding_t, FIELD(fl, rerank_encoding_t, ids); FIELD(fl, rerank_encoding_t, type_ids);
           FIELD(fl, rerank_encoding_t, n); FIELD(fl, rerank_encoding_t, cap););
    STRUCT(structs, rerank_pair_options_t, FIELD(fl, rerank_pair_options_t, max_length);
           FIELD(fl, rerank_pair_options_t, truncation); FIELD(fl, rerank_pair_options_t, direction);
           FIELD(fl, rerank_pair_options_t, instruction); FIELD(fl, rerank_pair_options_t, instruction_len););
    STRUCT(structs, rerank_model_options_t, FIELD(fl, rerank_model_options_t, precision);
           FIELD(fl, rerank_model_options_t, threads); FIELD(fl, rerank_model_options_t, device);
           FIELD(fl, rerank_model_options_t, shared_prefix););
    STRUCT(structs, rerank_model_info_t, FIELD(fl, rerank_model_info_t, architecture);
           FIELD(fl, rerank_model_info_t, model_type); FIELD(fl, rerank_model_info_t, family);
           FIELD(fl, rerank_model_info_t, num_layers); FIELD(fl, rerank_model_info_t, hidden_size);
           FIELD(fl, rerank_model_info_t, num_heads); FIELD(fl, rerank_model_info_t, num_kv_heads);
           FIELD(fl, rerank_model_info_t, head_dim); FIELD(fl, rerank_model_info_t, intermediate_size);
           FIELD(fl, rerank_model_info_t, max_positions); FIELD(fl, rerank_model_info_t, default_max_length);
           FIELD(fl, rerank_model_info_t, vocab_size); FIELD(fl, rerank_model_info_t, num_labels);
           FIELD(fl, rerank_model_info_t, precision); FIELD(fl, rerank_model_info_t, compute);
           FIELD(fl, rerank_model_info_t, weights_dtype); FIELD(fl, rerank_model_info_t, device);
           FIELD(fl, rerank_model_info_t, device_memory_bytes);
           FIELD(fl, rerank_model_info_t, prompt); FIELD(fl, rerank_model_info_t, shared_prefix););
    STRUCT(structs, rerank_score_options_t, FIELD(fl, rerank_score_options_t, pair);
           FIELD(fl, rerank_score_options_t, layers); FIELD(fl, rerank_score_options_t, normalize););
    STRUCT(structs, rerank_pair_t, FIELD(fl, rerank_pair_t, ids); FIELD(fl, rerank_pair_t, type_ids);
           FIELD(fl, rerank_pair_t, n););
    STRUCT(structs, rerank_long_options_t, FIELD(fl, rerank_long_options_t, mode);
           FIELD(fl, rerank_long_options_t, chunk_tokens); FIELD(fl, rerank_long_options_t, chunk_overlap);
           FIELD(fl, rerank_long_options_t, max_chunks_per_doc);
           FIELD(fl, rerank_long_options_t, max_tokens_per_doc););
    STRUCT(structs, rerank_chunk_info_t, FIELD(fl, rerank_chunk_info_t, chunk);
           FIELD(fl, rerank_chunk_info_t, n_chunks); FIELD(fl, rerank_chunk_info_t, token_start);
           FIELD(fl, rerank_chunk_info_t, token_end); FIELD(fl, rerank_chunk_info_t, doc_tokens););
    json_object_set_new(structs, "enum", json_pack("{s:I}", "size", (json_int_t)sizeof(rerank_status_t)));
    CONST(consts, RERANK_OK);
    CONST(consts, RERANK_ERR_INVALID_ARGUMENT);
    CONST(consts, RERANK_ERR_IO);
    CONST(consts, RERANK_ERR_FORMAT);
    CONST(consts, RERANK_ERR_UNSUPPORTED);
    CONST(consts, RERANK_ERR_NOMEM);
    CONST(consts, RERANK_ERR_INVALID_UTF8);
    CONST(consts, RERANK_ERR_LIMIT);
    CONST(consts, RERANK_ERR_INTERNAL);
    CONST(consts, RERANK_TRUNC_FLAG);
    CONST(consts, RERANK_TRUNC_LONGEST_FIRST);
    CONST(consts, RERANK_TRUNC_NONE);
    CONST(consts, RERANK_TRUNC_RIGHT);
    CONST(consts, RERANK_TRUNC_LEFT);
    CONST(consts, RERANK_LONG_DOCS_TRUNCATE);
    CONST(consts, RERANK_LONG_DOCS_CHUNK);
    json_object_set_new(root, "structs", structs);
    json_object_set_new(root, "constants", consts);
    json_object_set_new(root, "version", json_string(RERANK_VERSION));
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return s;
}

int main(int argc, char **argv) {
    char build[256] = "build";
    if (argc > 0 && strstr(argv[0], "/tests/"))
        snprintf(build, sizeof build, "%.*s", (int)(strstr(argv[0], "/tests/") - argv[0]), argv[0]);
#if defined(__SANITIZE_THREAD__)
    printf("SKIP test_python: a ThreadSanitizer librerank cannot run inside an uninstrumented python\n");
    printf("RESULT passed=0 failed=0\n");
    return 0;
#endif
    char *layout = layout_json();
    if (!layout) {
        printf("cannot build the layout JSON\nRESULT passed=0 failed=1\n");
        return 1;
    }
    const char *python = getenv("RERANK_PYTHON");
    if (!python || !*python) python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    char *args[16];
    int n = 0;
    args[n++] = (char *)python;
    args[n++] = "tests/python/test_python.py";
    args[n++] = "--build";
    args[n++] = build;
    args[n++] = "--layout";
    args[n++] = layout;
#if defined(__SANITIZE_ADDRESS__)
    /* the runtime the sanitized library was linked with, to preload into python */
    static char asan[1024];
    FILE *p = popen("${CC:-cc} -print-file-name=libasan.so", "r");
    if (!p || !fgets(asan, sizeof asan, p)) asan[0] = 0;
    if (p) pclose(p);
    asan[strcspn(asan, "\n")] = 0;
    args[n++] = "--preload";
    args[n++] = asan;
    args[n++] = "--make-args"; /* `make install` of this build directory */
    args[n++] = "SAN=asan OPT=-O1";
#endif
    args[n] = NULL;
    fflush(stdout);
    execvp(python, args);
    printf("cannot run %s: ", python);
    fflush(stdout);
    perror("execvp");
    printf("RESULT passed=0 failed=1\n");
    free(layout);
    return 1;
}
