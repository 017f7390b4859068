/* regress_main.c — replays a fuzz target's corpus as an ordinary test, so
 * `make test` exercises every saved input without libFuzzer. Linked with one
 * fuzz_<name>.c; run as `regress_<name> DIR...` (default: fuzz/corpus/<name>).
 * A target reports a wrong result by aborting (RR_FUZZ_CHECK), which the
 * sanitizer builds turn into a failed test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
extern const char *rr_fuzz_name;

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) { free(buf); fclose(f); return -1; }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    char def[512];
    snprintf(def, sizeof def, "fuzz/corpus/%s", rr_fuzz_name);
    const char *dirs_default[] = {def};
    const char **dirs = argc > 1 ? (const char **)argv + 1 : dirs_default;
    int ndirs = argc > 1 ? argc - 1 : 1, files = 0, errors = 0;
    for (int d = 0; d < ndirs; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) { fprintf(stderr, "regress %s: cannot open %s\n", rr_fuzz_name, dirs[d]); errors++; continue; }
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
            struct stat st;
            if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
            if (run_file(path)) { fprintf(stderr, "regress: cannot read %s\n", path); errors++; }
            else files++;
        }
        closedir(dir);
    }
    /* Every input ran without aborting: one passed test per file. An empty
     * corpus is a failure: the replay must exercise something. */
    if (files == 0) errors++;
    printf("regress %s: %d inputs replayed\n", rr_fuzz_name, files);
    printf("RESULT passed=%d failed=%d\n", files, errors);
    return errors ? 1 : 0;
}
