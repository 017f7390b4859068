/* watch.c — notices clients that disconnect while their request is queued.
 * libmicrohttpd does not poll suspended connections, so a thread polls their
 * sockets for POLLRDHUP/POLLHUP every RR_SRV_WATCH_PERIOD_MS and cancels the
 * request's queued pairs; the request then resumes and is closed. */
#include <poll.h>
#include <unistd.h>

#include "common/alloc.h"
#include "server/server_internal.h"
#include "server/server_limits.h"

void rr_watch_add(rr_server_t *s, rr_conn_req_t *r) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return;
    pthread_mutex_lock(&s->watch_mu);
    r->wprev = NULL;
    r->wnext = s->watch_head;
    if (s->watch_head) s->watch_head->wprev = r;
    s->watch_head = r;
    s->watch_n++;
    r->watched = 1;
    pthread_mutex_unlock(&s->watch_mu);
}

void rr_watch_remove(rr_server_t *s, rr_conn_req_t *r) {
    pthread_mutex_lock(&s->watch_mu);
    if (r->watched) {
        if (r->wprev) r->wprev->wnext = r->wnext; else s->watch_head = r->wnext;
        if (r->wnext) r->wnext->wprev = r->wprev;
        r->wnext = r->wprev = NULL;
        r->watched = 0;
        s->watch_n--;
    }
    pthread_mutex_unlock(&s->watch_mu);
}

static void *watch_main(void *arg) {
    rr_server_t *s = arg;
    struct pollfd *pfd = NULL;
    rr_conn_req_t **who = NULL;
    size_t cap = 0;
    while (!atomic_load(&s->watch_stop)) {
        usleep(RR_SRV_WATCH_PERIOD_MS * 1000);
        pthread_mutex_lock(&s->watch_mu);
        if (s->watch_n > cap) {
            size_t nc = s->watch_n * 2;
            struct pollfd *np = rr_realloc(pfd, nc * sizeof *np);
            if (np) pfd = np;
            rr_conn_req_t **nw = np ? rr_realloc(who, nc * sizeof *nw) : NULL;
            if (nw) who = nw;
            if (np && nw) cap = nc;
        }
        size_t n = 0;
        for (rr_conn_req_t *r = s->watch_head; r && n < cap; r = r->wnext) {
            if (r->watch_cancelled) continue;
            const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
            if (!ci) continue;
            pfd[n].fd = ci->connect_fd;
            pfd[n].events = POLLRDHUP;
            pfd[n].revents = 0;
            who[n++] = r;
        }
        /* Zero timeout, under the lock: every r stays valid (a request
         * leaves the list before it is released). */
        if (n && poll(pfd, (nfds_t)n, 0) > 0) {
            for (size_t i = 0; i < n; i++) {
                if (!(pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) continue;
                who[i]->watch_cancelled = 1;
                rr_batcher_cancel(s->batcher, &who[i]->job); /* may resume it */
            }
        }
        pthread_mutex_unlock(&s->watch_mu);
    }
    rr_free(pfd);
    rr_free(who);
    return NULL;
}

int rr_watch_start(rr_server_t *s) {
    if (pthread_create(&s->watch_thread, NULL, watch_main, s) != 0) return -1;
    s->watch_started = 1;
    return 0;
}

void rr_watch_stop(rr_server_t *s) {
    if (!s->watch_started) return;
    atomic_store(&s->watch_stop, 1);
    pthread_join(s->watch_thread, NULL);
    s->watch_started = 0;
}
