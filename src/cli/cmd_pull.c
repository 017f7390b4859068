/* cmd_pull.c — `rerank pull ORG/NAME`: download a model into the Hugging Face
 * cache (a thin CLI over src/hub/hub.h). Prints the snapshot directory on
 * stdout, so `rerank score --model "$(rerank pull ORG/NAME)"` works. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "hub/hub.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: rerank pull ORG/NAME [--revision R] [--dir D] [--endpoint URL] [--quiet]\n"
            "\n"
            "Download config.json, tokenizer.json and model.safetensors (or the sharded\n"
            "model.safetensors.index.json and its shards) of a Hugging Face Hub model into\n"
            "the Hugging Face cache, where Python's huggingface_hub finds and reuses them\n"
            "(and vice versa). Interrupted downloads resume; LFS files are checked against\n"
            "their sha256. Prints the snapshot directory on stdout.\n"
            "\n"
            "options:\n"
            "  --revision R     branch, tag or commit hash (default: main)\n"
            "  --dir D          cache directory (default: $HF_HUB_CACHE, else $HF_HOME/hub,\n"
            "                   else ~/.cache/huggingface/hub); alias --cache-dir\n"
            "  --endpoint URL   Hub URL (default: $HF_ENDPOINT, else https://huggingface.co)\n"
            "  --retries N      extra attempts after an interrupted transfer (default 3)\n"
            "  --offline        use only the cache (also HF_HUB_OFFLINE=1)\n"
            "  --quiet, -q      no progress or messages on stderr\n"
            "\n"
            "environment: HF_TOKEN (sent as a Bearer token to the endpoint only),\n"
            "HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE, HF_HUB_DISABLE_PROGRESS_BARS.\n");
}

int rr_cmd_pull(int argc, char **argv) {
    rr_hub_options_t o;
    rr_hub_options_init(&o);
    const char *repo = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--revision")) {
            if (!(o.revision = rr_cli_value("pull", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--dir") || !strcmp(a, "--cache-dir")) {
            if (!(o.cache_dir = rr_cli_value("pull", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--endpoint")) {
            if (!(o.endpoint = rr_cli_value("pull", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--retries")) {
            const char *v = rr_cli_value("pull", argc, argv, &i);
            int32_t r;
            if (!v || rr_cli_int("pull", "--retries", v, 0, 100, &r)) return 2;
            o.retries = r;
        } else if (!strcmp(a, "--offline")) {
            o.offline = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.quiet = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "rerank pull: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (repo) {
            fprintf(stderr, "rerank pull: one model at a time ('%s' and '%s')\n", repo, a);
            return 2;
        } else {
            repo = a;
        }
    }
    if (!repo) {
        usage(stderr);
        return 2;
    }
    if (!rr_hub_valid_repo_id(repo)) {
        fprintf(stderr, "rerank pull: '%s' is not a Hub model id (expected ORG/NAME)\n", repo);
        return 2;
    }
    char dir[4096];
    rr_hub_stats_t stats;
    rerank_status_t st = rr_hub_pull(repo, &o, dir, sizeof dir, &stats);
    if (st != RERANK_OK) {
        fprintf(stderr, "rerank pull: %s\n", rerank_last_error());
        return 1;
    }
    if (!o.quiet) {
        if (stats.downloaded)
            fprintf(stderr, "rerank pull: %s@%.12s: %d files, %d downloaded (%.1f MB)\n", repo,
                    stats.commit, stats.files, stats.downloaded, stats.bytes / 1e6);
        else
            fprintf(stderr, "rerank pull: %s@%.12s: up to date%s\n", repo, stats.commit,
                    stats.used_network ? "" : " (from the cache)");
    }
    printf("%s\n", dir);
    return 0;
}
