/* hub_resolve.c — rr_hub_resolve: a --model argument to a model directory (a directory, the cache, or a pull). */
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "hub/hub.h"
#include "hub/hub_internal.h"

rerank_status_t rr_hub_resolve(const char *name_or_dir, char *out_dir, size_t n) {
    if (!name_or_dir || !*name_or_dir || !out_dir || n == 0)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_hub_resolve: empty model name");
    struct stat st;
    if (stat(name_or_dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return rr_error(RERANK_ERR_IO, "%s: not a directory (--model expects a model directory or ORG/NAME)", name_or_dir);
        if (rr_hub_fmt(out_dir, n, "%s", name_or_dir))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "path too long: %s", name_or_dir);
        return RERANK_OK;
    }
    /* ORG/NAME or ORG/NAME@REVISION; a bare NAME is not taken as a Hub id
     * here, so a mistyped directory name does not start a download. */
    char id[128], rev[256] = "main";
    const char *at = strchr(name_or_dir, '@');
    size_t idlen = at ? (size_t)(at - name_or_dir) : strlen(name_or_dir);
    if (idlen < sizeof id) {
        memcpy(id, name_or_dir, idlen);
        id[idlen] = 0;
    } else {
        id[0] = 0;
    }
    if (at && rr_hub_fmt(rev, sizeof rev, "%s", at + 1)) rev[0] = 0;
    if (!strchr(id, '/') || !rr_hub_valid_repo_id(id) || !rr_hub_valid_revision(rev))
        return rr_error(RERANK_ERR_IO, "%s: no such model directory (and not a Hub id ORG/NAME[@REVISION])",
                        name_or_dir);
    if (rr_hub_find_cached(id, rev, NULL, out_dir, n) == RERANK_OK) return RERANK_OK;
    rr_hub_options_t o;
    rr_hub_options_init(&o);
    o.revision = rev;
    rerank_status_t s = rr_hub_pull(id, &o, out_dir, n, NULL);
    if (s) rr_error_prefix("--model %s", name_or_dir);
    return s;
}
