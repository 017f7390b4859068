/* loadgen.c — HTTP load generator for `rerank serve`.
 *
 *   build/loadgen --url http://127.0.0.1:8080 [--api tei|cohere] [-c N]
 *                 [-d SECONDS] [--requests N] [--rate R [--poisson]]
 *                 [--pairs FILE.jsonl] [--docs D] [--doc-bytes B]
 *                 [--timeout S] [--pid PID] [--api-key KEY] [--model NAME] [--extra MEMBERS] [--json]
 *
 * N threads each keep one keep-alive connection (a curl handle). Requests
 * take a global ticket 0, 1, 2, ... and cycle over the request bodies.
 *   closed loop (default): each thread sends its next request as soon as the
 *     previous one is answered; latency = that request's own round trip.
 *   open loop (--rate R): ticket i is scheduled at t0 + i/R (fixed intervals;
 *     --poisson: exponential gaps of mean 1/R, seeded); a free thread takes
 *     the next ticket and sleeps until its scheduled time. Latency is measured
 *     from the SCHEDULED time, so client-side queueing when every connection
 *     is busy counts (no coordinated omission). Tickets scheduled before the
 *     end that no thread could start by then are reported as "unsent".
 * The run stops at -d seconds or after --requests tickets, whichever first;
 * requests in flight finish (--timeout: per request, default 60 s).
 * Bodies: --pairs reads {"query", "doc"} lines (as `rerank bench --input`),
 * groups consecutive lines into requests of --docs documents (a group uses
 * the query of its first line); without it, 32 synthetic bodies of --docs
 * random-word documents of ~--doc-bytes, with --extra's JSON members (e.g.
 * '"long_docs":"chunk","max_chunks_per_doc":16') added to each. --model NAME
 * (with --api cohere) adds "model": NAME to every body, for a server serving
 * several models.
 * Reports requests, req/s, pairs/s (documents of 200 responses / elapsed),
 * status counts, transport errors, p50/p90/p99/max latency of 200s, the
 * server's VmRSS (--pid); --json prints one JSON line instead. Exit status 1
 * on any transport error or when nothing was answered; 2 for bad arguments
 * or a bad --pairs file. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline, rand_r, clock_nanosleep */
#endif
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct opts {
    const char *url, *api, *key, *pairs, *extra, *model;
    int conns, docs, doc_bytes, json, poisson;
    double seconds, rate, timeout;
    long pid, max_requests;
} opts_t;

typedef struct shared { /* the ticket dispenser, shared by all workers */
    pthread_mutex_t mu;
    long next;          /* next ticket */
    double t_next;      /* open loop: scheduled time of ticket `next` */
    double t0, end;
    unsigned seed;      /* --poisson */
    long unsent;        /* open loop: tickets due before `end` never started */
} shared_t;

typedef struct worker {
    const opts_t *o;
    shared_t *sh;
    char **bodies;
    const int *body_docs;
    long n_bodies;
    double *lat; /* ms, 200s only */
    size_t n_lat, cap_lat;
    long status[600];
    long transport_errors, ok_docs;
    double last_done;
} worker_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_until(double t) {
    struct timespec ts = {(time_t)t, (long)((t - floor(t)) * 1e9)};
    if (ts.tv_nsec > 999999999) ts.tv_nsec = 999999999;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static size_t sink(char *p, size_t sz, size_t n, void *u) { (void)p; (void)u; return sz * n; }

static const char *k_words[] = {"panda", "bamboo", "forest", "china", "bear", "species", "the", "a", "of", "in",
                                "mountain", "habitat", "eats", "leaves", "conservation", "wild", "zoo", "black",
                                "white", "fur", "endangered", "population", "research", "sichuan", "climate"};

static char *make_body(const opts_t *o, unsigned *seed) {
    size_t cap = (size_t)o->docs * (2 * (size_t)o->doc_bytes + 64) + 256 + (o->extra ? strlen(o->extra) + 1 : 0);
    /* docs are <= 1.5 x doc_bytes + one word */
    if (o->model) cap += strlen(o->model) + 16;
    char *b = malloc(cap);
    if (!b) return NULL;
    int h = snprintf(b, cap, "{%s%s%s\"query\":\"where do giant pandas live in the wild?\",\"%s\":[",
                     o->model ? "\"model\":\"" : "", o->model ? o->model : "", o->model ? "\"," : "",
                     !strcmp(o->api, "tei") ? "texts" : "documents");
    char *p = b + (h > 0 ? h : 0);
    for (int d = 0; d < o->docs; d++) {
        *p++ = d ? ',' : ' ';
        *p++ = '"';
        int target = o->doc_bytes / 2 + (int)(rand_r(seed) % (unsigned)(o->doc_bytes + 1));
        int n = 0;
        while (n < target) {
            const char *w = k_words[rand_r(seed) % (sizeof k_words / sizeof *k_words)];
            size_t wl = strlen(w);
            if (n) *p++ = ' ', n++;
            memcpy(p, w, wl);
            p += wl, n += (int)wl;
        }
        *p++ = '"';
    }
    *p++ = ']';
    if (o->extra) p += sprintf(p, ",%s", o->extra);
    memcpy(p, "}", 2);
    return b;
}

/* --pairs: one body per group of --docs consecutive lines (the last group may
 * be shorter). Returns the number of bodies; on error prints why and returns
 * minus the number of bodies made so far (0 if none), which the caller frees. */
enum { MAX_LINE = 16 << 20, MAX_LINES = 10000000 };
static int add_body(json_t **req, char ***bodies, int **body_docs, long *n, long *alloc, const char *key) {
    int ok = 1;
    if (*n == *alloc) {
        long na = *alloc ? 2 * *alloc : 64;
        char **nb = realloc(*bodies, (size_t)na * sizeof *nb);
        if (nb) *bodies = nb;
        int *nd = realloc(*body_docs, (size_t)na * sizeof *nd);
        if (nd) *body_docs = nd;
        if (nb && nd) *alloc = na; else ok = 0;
    }
    if (ok) {
        (*body_docs)[*n] = (int)json_array_size(json_object_get(*req, key));
        if (((*bodies)[*n] = json_dumps(*req, JSON_COMPACT))) (*n)++; else ok = 0;
    }
    if (!ok) fprintf(stderr, "loadgen: out of memory\n");
    json_decref(*req);
    *req = NULL;
    return ok;
}

static long load_pairs(const opts_t *o, char ***bodies, int **body_docs) {
    FILE *f = fopen(o->pairs, "r");
    if (!f) { fprintf(stderr, "loadgen: cannot open %s\n", o->pairs); return 0; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long n = 0, alloc = 0, lines = 0, lineno = 0, mixed = 0, ok = 1;
    json_t *req = NULL;
    const char *key = !strcmp(o->api, "tei") ? "texts" : "documents";
    while (ok && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        if (len > MAX_LINE || lines >= MAX_LINES) {
            fprintf(stderr, "loadgen: %s:%ld: line longer than %d bytes or more than %d lines\n", o->pairs, lineno,
                    MAX_LINE, MAX_LINES);
            ok = 0;
            break;
        }
        json_error_t e;
        json_t *r = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &e);
        json_t *q = json_object_get(r, "query"), *d = json_object_get(r, "doc");
        if (!json_is_string(q) || !json_is_string(d)) {
            fprintf(stderr, "loadgen: %s:%ld: expected {\"query\": STRING, \"doc\": STRING}\n", o->pairs, lineno);
            ok = 0;
        } else {
            if (!req) {
                req = json_pack("{s:O,s:[]}", "query", q, key);
                if (req && o->model) json_object_set_new(req, "model", json_string(o->model));
            }
            else if (!json_equal(q, json_object_get(req, "query"))) mixed++;
            if (!req || json_array_append(json_object_get(req, key), d)) {
                fprintf(stderr, "loadgen: out of memory\n");
                ok = 0;
            }
            lines++;
        }
        json_decref(r);
        if (ok && (int)json_array_size(json_object_get(req, key)) == o->docs)
            ok = add_body(&req, bodies, body_docs, &n, &alloc, key);
    }
    if (ok && req) ok = add_body(&req, bodies, body_docs, &n, &alloc, key); /* the last, shorter group */
    json_decref(req);
    free(line);
    fclose(f);
    if (mixed)
        fprintf(stderr, "loadgen: warning: %ld lines differ in query from the first line of their group\n", mixed);
    if (ok && !n) fprintf(stderr, "loadgen: %s has no {\"query\", \"doc\"} lines\n", o->pairs);
    return ok ? n : -n;
}

/* Next ticket; returns 0 when the run is over. *sched: its scheduled time
 * (open loop) or 0. */
static int take_ticket(worker_t *w, long *ticket, double *sched) {
    shared_t *s = w->sh;
    const opts_t *o = w->o;
    int go = 0;
    pthread_mutex_lock(&s->mu);
    int more = o->max_requests <= 0 || s->next < o->max_requests;
    if (o->rate > 0 && !o->poisson) s->t_next = s->t0 + (double)s->next / o->rate;
    if (more && now_s() < s->end && (o->rate <= 0 || s->t_next < s->end)) {
        *ticket = s->next++;
        *sched = s->t_next;
        go = 1;
        if (o->poisson) s->t_next -= log((rand_r(&s->seed) + 1.0) / ((double)RAND_MAX + 2.0)) / o->rate;
    } else if (more && o->rate > 0 && s->t_next < s->end) {
        /* Due before the end, but no thread could start them by then: count
         * them once (exactly for fixed intervals, the mean for --poisson). */
        long due = (long)ceil((s->end - s->t_next) * o->rate);
        if (o->max_requests > 0 && due > o->max_requests - s->next) due = o->max_requests - s->next;
        s->unsent += due;
        s->next += due;
        s->t_next = s->end;
    }
    pthread_mutex_unlock(&s->mu);
    return go;
}

static void *work(void *arg) {
    worker_t *w = arg;
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", w->o->url, !strcmp(w->o->api, "tei") ? "/rerank" : "/v1/rerank");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    char auth[1100];
    if (w->o->key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", w->o->key);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(w->o->timeout * 1e3));
    long ticket;
    double sched;
    while (take_ticket(w, &ticket, &sched)) {
        long b = ticket % w->n_bodies;
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->bodies[b]);
        if (w->o->rate > 0) sleep_until(sched);
        double t0 = w->o->rate > 0 ? sched : now_s();
        CURLcode rc = curl_easy_perform(c);
        double done = now_s(), ms = (done - t0) * 1e3;
        w->last_done = done;
        if (rc != CURLE_OK) { w->transport_errors++; continue; }
        long st = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 0 && st < 600) w->status[st]++;
        if (st != 200) continue;
        if (w->n_lat == w->cap_lat) {
            size_t nc = w->cap_lat ? w->cap_lat * 2 : 4096;
            double *nl = realloc(w->lat, nc * sizeof *nl);
            if (!nl) continue;
            w->lat = nl, w->cap_lat = nc;
        }
        w->lat[w->n_lat++] = ms;
        w->ok_docs += w->body_docs[b];
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static long rss_kib(long pid) {
    if (pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = atol(line + 6);
    fclose(f);
    return kib;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double pct(const double *v, size_t n, double p) {
    if (!n) return NAN;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    if (i > 0) i--;
    return v[i < n ? i : n - 1];
}
static void jnum(json_t *o, const char *k, double v) {
    json_object_set_new(o, k, isfinite(v) ? json_real(v) : json_null());
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen --url http://HOST:PORT [--api tei|cohere] [-c CONNECTIONS] [-d SECONDS]\n"
                    "               [--requests N] [--rate REQ_PER_S [--poisson]] [--pairs FILE.jsonl]\n"
                    "               [--docs N] [--doc-bytes B] [--timeout S] [--pid SERVER_PID] [--api-key KEY]\n"
                    "               [--model NAME] [--extra JSON_MEMBERS] [--json]\n");
}

int main(int argc, char **argv) {
    opts_t o = {.url = "http://127.0.0.1:8080", .api = "tei", .conns = 8, .docs = 20, .doc_bytes = 400,
                .seconds = 10, .timeout = 60};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(); return 0; }
        if (!strcmp(a, "--json")) { o.json = 1; continue; }
        if (!strcmp(a, "--poisson")) { o.poisson = 1; continue; }
        if (!v) { usage(); return 2; }
        if (!strcmp(a, "--url")) o.url = v;
        else if (!strcmp(a, "--api")) o.api = v;
        else if (!strcmp(a, "-c") || !strcmp(a, "--connections")) o.conns = atoi(v);
        else if (!strcmp(a, "-d") || !strcmp(a, "--duration")) o.seconds = atof(v);
        else if (!strcmp(a, "--docs")) o.docs = atoi(v);
        else if (!strcmp(a, "--doc-bytes")) o.doc_bytes = atoi(v);
        else if (!strcmp(a, "--pid")) o.pid = atol(v);
        else if (!strcmp(a, "--api-key")) o.key = v;
        else if (!strcmp(a, "--pairs")) o.pairs = v;
        else if (!strcmp(a, "--rate")) o.rate = atof(v);
        else if (!strcmp(a, "--requests")) o.max_requests = atol(v);
        else if (!strcmp(a, "--timeout")) o.timeout = atof(v);
        else if (!strcmp(a, "--extra")) o.extra = v;
        else if (!strcmp(a, "--model")) o.model = v;
        else { usage(); return 2; }
        i++;
    }
    if (o.conns < 1 || o.conns > 4096 || o.docs < 1 || o.docs > 100000 || o.doc_bytes < 1 || o.doc_bytes > 1 << 20 ||
        !(o.seconds > 0 && o.seconds <= 1e6) || !(o.rate >= 0 && o.rate <= 1e7) || o.max_requests < 0 ||
        !(o.timeout >= 0.001 && o.timeout <= 86400) ||
        strlen(o.url) > 400 || (o.key && strlen(o.key) > 1000) || (o.extra && strlen(o.extra) > 4096) ||
        (strcmp(o.api, "tei") && strcmp(o.api, "cohere")) ||
        (o.model && (strcmp(o.api, "cohere") || !*o.model || strlen(o.model) > 200 || strpbrk(o.model, "\"\\\n")))) {
        usage();
        return 2;
    }
    char **bodies = NULL;
    int *body_docs = NULL;
    long nb = 0;
    if (o.pairs) {
        nb = load_pairs(&o, &bodies, &body_docs);
    } else {
        unsigned seed = 12345;
        bodies = calloc(32, sizeof *bodies);
        body_docs = calloc(32, sizeof *body_docs);
        for (nb = 0; bodies && body_docs && nb < 32; nb++) {
            if (!(bodies[nb] = make_body(&o, &seed))) { nb = -nb; break; }
            body_docs[nb] = o.docs;
        }
    }
    int rc = 2;
    if (nb <= 0) goto out;
    size_t body_bytes = 0;
    long n_docs = 0;
    for (long i = 0; i < nb; i++) body_bytes += strlen(bodies[i]), n_docs += body_docs[i];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long rss0 = rss_kib(o.pid);
    worker_t *w = calloc((size_t)o.conns, sizeof *w);
    pthread_t *th = calloc((size_t)o.conns, sizeof *th);
    if (!w || !th) { free(w); free(th); curl_global_cleanup(); goto out; }
    double t0 = now_s() + (o.rate > 0 ? 0.05 : 0); /* open loop: let the threads start first */
    shared_t sh = {.mu = PTHREAD_MUTEX_INITIALIZER, .t_next = t0, .t0 = t0, .end = t0 + o.seconds, .seed = 4242u};
    int started = 0;
    for (int i = 0; i < o.conns; i++) {
        w[i] = (worker_t){.o = &o, .sh = &sh, .bodies = bodies, .body_docs = body_docs, .n_bodies = nb,
                          .last_done = t0};
        if (pthread_create(&th[i], NULL, work, &w[i])) break;
        started++;
    }
    long peak = rss0;
    for (;;) { /* sample the server's RSS until the run is over */
        pthread_mutex_lock(&sh.mu);
        int over = now_s() >= sh.end || (o.max_requests > 0 && sh.next >= o.max_requests);
        pthread_mutex_unlock(&sh.mu);
        long r = rss_kib(o.pid);
        if (r > peak) peak = r;
        if (over) break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    double t_end = t0;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (w[i].last_done > t_end) t_end = w[i].last_done;
    }
    double dt = t_end > t0 ? t_end - t0 : 1e-9;
    long rss1 = rss_kib(o.pid);
    long status[600] = {0}, terr = 0, total = 0, ok_docs = 0;
    size_t n_lat = 0, k = 0;
    for (int i = 0; i < started; i++) {
        for (int s = 0; s < 600; s++) { status[s] += w[i].status[s]; total += w[i].status[s]; }
        terr += w[i].transport_errors;
        n_lat += w[i].n_lat;
        ok_docs += w[i].ok_docs;
    }
    double *lat = malloc((n_lat ? n_lat : 1) * sizeof *lat), sum = 0;
    for (int i = 0; i < started; i++) {
        if (lat && w[i].n_lat) memcpy(lat + k, w[i].lat, w[i].n_lat * sizeof *lat);
        k += w[i].n_lat;
        free(w[i].lat);
    }
    if (!lat) n_lat = 0;
    for (size_t i = 0; i < n_lat; i++) sum += lat[i];
    qsort(lat, n_lat, sizeof *lat, cmp_d);
    double p50 = pct(lat, n_lat, 50), p90 = pct(lat, n_lat, 90), p99 = pct(lat, n_lat, 99);
    double mx = n_lat ? lat[n_lat - 1] : NAN, mean = n_lat ? sum / (double)n_lat : NAN;
    if (o.json) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "url", o.url, "api", o.api, "mode",
                              o.rate > 0 ? (o.poisson ? "open-poisson" : "open") : "closed", "connections", o.conns,
                              "elapsed_s", dt, "requests", (json_int_t)(total + terr), "ok", (json_int_t)status[200],
                              "non_200", (json_int_t)(total - status[200]), "transport_errors", (json_int_t)terr,
                              "unsent", (json_int_t)sh.unsent, "bodies", (json_int_t)nb, "ok_docs", (json_int_t)ok_docs);
        jnum(j, "rate", o.rate > 0 ? o.rate : NAN);
        jnum(j, "docs_per_request", (double)n_docs / (double)nb);
        jnum(j, "req_per_s", (double)status[200] / dt);
        jnum(j, "pairs_per_s", (double)ok_docs / dt);
        jnum(j, "p50_ms", p50), jnum(j, "p90_ms", p90), jnum(j, "p99_ms", p99);
        jnum(j, "max_ms", mx), jnum(j, "mean_ms", mean);
        if (o.pid > 0) {
            jnum(j, "rss_start_mib", rss0 / 1024.0), jnum(j, "rss_end_mib", rss1 / 1024.0);
            jnum(j, "rss_peak_mib", peak / 1024.0);
        }
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
        if (s) printf("%s\n", s);
        free(s);
        json_decref(j);
    } else {
        printf("loadgen: %s %s, %d connections, %s, %.1f s, %ld bodies (%s), %.1f docs/request, ~%zu B bodies\n", o.url,
               o.api, o.conns, o.rate > 0 ? (o.poisson ? "open loop (Poisson)" : "open loop") : "closed loop", dt, nb,
               o.pairs ? o.pairs : "synthetic", (double)n_docs / (double)nb, body_bytes / (size_t)nb);
        if (o.rate > 0)
            printf("rate: %.2f req/s scheduled, %ld unsent (due before the end, never started)\n", o.rate, sh.unsent);
        printf("requests: %ld answered (%.1f req/s, %.1f pairs/s), transport errors %ld\n", total,
               (double)status[200] / dt, (double)ok_docs / dt, terr);
        printf("status:");
        for (int s = 0; s < 600; s++)
            if (status[s]) printf(" %d=%ld", s, status[s]);
        printf("\n");
        printf("latency (200s%s) ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  mean %.2f\n",
               o.rate > 0 ? ", from scheduled start" : "", p50, p90, p99, mx, mean);
        if (o.pid > 0)
            printf("server rss: start %.1f MiB, end %.1f MiB, peak %.1f MiB (pid %ld)\n", rss0 / 1024.0,
                   rss1 / 1024.0, peak / 1024.0, o.pid);
    }
    rc = terr || total == 0 || started < o.conns ? 1 : 0;
    free(lat);
    free(w);
    free(th);
    curl_global_cleanup();
out:
    for (long i = 0; bodies && i < (nb < 0 ? -nb : nb); i++) free(bodies[i]);
    free(bodies);
    free(body_docs);
    return rc;
}
