/* watch.c — notices clients that disconnect while their request is queued,
 * enforces the header deadline and closes connections whose peer hung up
 * mid-request (see rr_sock_t).
 * libmicrohttpd does not poll suspended connections, so a thread polls their
 * sockets for POLLRDHUP/POLLHUP every RR_SRV_WATCH_PERIOD_MS and cancels the
 * request's queued pairs; the request then resumes and is closed. */
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
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

void rr_sock_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode code) {
    rr_server_t *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        rr_sock_t *k = ci ? rr_calloc(1, sizeof *k) : NULL;
        *socket_context = k;
        if (!k) return; /* out of memory: this connection has only MHD's idle timeout */
        k->fd = ci->connect_fd;
        k->start = rr_now_s();
        pthread_mutex_lock(&s->watch_mu);
        k->next = s->socks;
        if (s->socks) s->socks->prev = k;
        s->socks = k;
        s->n_socks++;
        pthread_mutex_unlock(&s->watch_mu);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        rr_sock_t *k = *socket_context;
        if (!k) return;
        /* MHD closes the socket after this returns: once k is off the list
         * (under the lock) the watcher can no longer shut its fd down. */
        pthread_mutex_lock(&s->watch_mu);
        if (k->prev) k->prev->next = k->next; else s->socks = k->next;
        if (k->next) k->next->prev = k->prev;
        s->n_socks--;
        pthread_mutex_unlock(&s->watch_mu);
        rr_free(k);
        *socket_context = NULL;
    }
}

void rr_sock_set_phase(rr_server_t *s, struct MHD_Connection *conn, rr_sock_phase_t phase) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    rr_sock_t *k = ci ? ci->socket_context : NULL;
    if (!k) return;
    pthread_mutex_lock(&s->watch_mu);
    k->phase = phase;
    k->gone = 0; /* progress: what the watcher saw before no longer counts */
    if (phase == RR_SOCK_HEADERS) k->start = rr_now_s(); /* keep-alive: the next request's headers start now */
    pthread_mutex_unlock(&s->watch_mu);
}

void rr_req_received(rr_conn_req_t *r) {
    if (r->received) return;
    r->received = 1;
    rr_sock_set_phase(r->srv, r->conn, RR_SOCK_ANSWER);
}

/* Shut down (not close: MHD owns the fd) connections whose headers are
 * late; MHD then reads EOF and closes them. Called with watch_mu held. */
static void header_deadline(rr_server_t *s, double now) {
    double limit = (double)s->cfg->timeout_s;
    for (rr_sock_t *k = s->socks; k; k = k->next) {
        if (k->phase != RR_SOCK_HEADERS || k->cut || now - k->start <= limit) continue;
        k->cut = 1;
        shutdown(k->fd, SHUT_RDWR);
    }
}

/* 1 if k's peer hung up and MHD has read every byte it sent: a request
 * still waiting for headers or body can then never complete. */
static int peer_gone(const rr_sock_t *k, const struct pollfd *p) {
    if (!(p->revents & (POLLRDHUP | POLLHUP | POLLERR))) return 0;
    int unread = 0;
    return ioctl(k->fd, FIONREAD, &unread) == 0 && unread == 0;
}

/* Sockets to poll and, beside each, what it belongs to (an rr_sock_t or an
 * rr_conn_req_t); grown as the lists grow, kept across rounds. */
typedef struct poll_set {
    struct pollfd *pfd;
    void **who;
    size_t cap;
} poll_set_t;

/* Room for `want` entries (doubled); on failure the old room stays and the
 * round polls the first `cap` (the rest next round). */
static void poll_set_grow(poll_set_t *ps, size_t want) {
    if (want <= ps->cap) return;
    const size_t nc = want * 2;
    struct pollfd *np = rr_realloc(ps->pfd, nc * sizeof *np);
    if (np) ps->pfd = np;
    void **nw = np ? rr_realloc(ps->who, nc * sizeof *nw) : NULL;
    if (nw) ps->who = nw;
    if (np && nw) ps->cap = nc;
}

static void poll_set_free(poll_set_t *ps) {
    rr_free(ps->pfd);
    rr_free(ps->who);
}

/* Shut down connections whose peer hung up before its request was
 * complete (headers or body), which MHD may otherwise keep until the idle
 * timeout (see rr_sock_t); MHD then reads EOF and closes them, and the
 * request ends as 499. A connection is cut only when found gone by two
 * rounds in a row without progress between them, so a request sent whole
 * with a FIN right after it (HTTP/1.0 style) is not cut in the moment
 * between MHD reading it and parsing it. Requests complete (RR_SOCK_ANSWER)
 * are left alone: a queued one is cancelled by the request watch below.
 * Called with watch_mu held. */
static void hung_up(rr_server_t *s, poll_set_t *ps) {
    poll_set_grow(ps, s->n_socks);
    size_t n = 0;
    for (rr_sock_t *k = s->socks; k && n < ps->cap; k = k->next) {
        if (k->phase == RR_SOCK_ANSWER || k->cut) continue;
        ps->pfd[n] = (struct pollfd){.fd = k->fd, .events = POLLRDHUP};
        ps->who[n++] = k;
    }
    if (!n || poll(ps->pfd, (nfds_t)n, 0) < 0) return;
    for (size_t i = 0; i < n; i++) {
        rr_sock_t *k = ps->who[i];
        k->gone = peer_gone(k, &ps->pfd[i]) ? k->gone + 1 : 0;
        if (k->gone < 2) continue;
        k->cut = 1;
        shutdown(k->fd, SHUT_RDWR);
    }
}

static void *watch_main(void *arg) {
    rr_server_t *s = arg;
    poll_set_t reqs = {0}, socks = {0}; /* queued requests; connections (hung_up) */
    while (!atomic_load(&s->watch_stop)) {
        usleep(RR_SRV_WATCH_PERIOD_MS * 1000);
        pthread_mutex_lock(&s->watch_mu);
        header_deadline(s, rr_now_s());
        hung_up(s, &socks);
        poll_set_grow(&reqs, s->watch_n);
        size_t n = 0;
        for (rr_conn_req_t *r = s->watch_head; r && n < reqs.cap; r = r->wnext) {
            if (r->watch_cancelled) continue;
            const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
            if (!ci) continue;
            reqs.pfd[n] = (struct pollfd){.fd = ci->connect_fd, .events = POLLRDHUP};
            reqs.who[n++] = r;
        }
        /* Zero timeout, under the lock: every r stays valid (a request
         * leaves the list before it is released). */
        if (n && poll(reqs.pfd, (nfds_t)n, 0) > 0) {
            for (size_t i = 0; i < n; i++) {
                if (!(reqs.pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) continue;
                rr_conn_req_t *r = reqs.who[i];
                r->watch_cancelled = 1;
                rr_batcher_cancel(r->model->batcher, &r->job); /* may resume it */
            }
        }
        pthread_mutex_unlock(&s->watch_mu);
    }
    poll_set_free(&reqs);
    poll_set_free(&socks);
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
