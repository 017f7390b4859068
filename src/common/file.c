/* file.c — bounded whole-file reads (see file.h). */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"

rerank_status_t rr_file_read(const char *path, size_t max_bytes, char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    if (!path || !*path) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "no file name given");
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused
     * below as not a regular file); it changes nothing for regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return rr_error(RERANK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return rr_error(RERANK_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rr_error(RERANK_ERR_IO, "%s: %s, not a regular file", path,
                        S_ISDIR(sb.st_mode) ? "a directory" : "a special file");
    }
    if ((unsigned long long)sb.st_size > (unsigned long long)max_bytes) {
        close(fd);
        return rr_error(RERANK_ERR_LIMIT, "%s: %lld bytes, more than the limit of %zu bytes", path,
                        (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *b = rr_malloc(n + 1);
    if (!b) {
        close(fd);
        return rr_error(RERANK_ERR_NOMEM, "%s: out of memory for %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            rr_free(b);
            return rr_error(RERANK_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (got != n) {
        rr_free(b);
        return rr_error(RERANK_ERR_IO, "%s: short read: %zu of %zu bytes (did the file change while being read?)",
                        path, got, n);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return RERANK_OK;
}

#define LFS_POINTER_PREFIX "version https://git-lfs"

int rr_is_lfs_pointer(const void *p, size_t n) {
    return n >= sizeof LFS_POINTER_PREFIX - 1 && !memcmp(p, LFS_POINTER_PREFIX, sizeof LFS_POINTER_PREFIX - 1);
}
