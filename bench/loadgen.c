/* loadgen.c — HTTP load generator for `rerank serve`.
 *
 *   build/loadgen --url http://127.0.0.1:8080 [--api tei|cohere] [-c N]
 *                 [-d SECONDS] [--docs D] [--doc-bytes B] [--pid PID]
 *                 [--api-key KEY]
 *
 * N threads each keep one keep-alive connection and send rerank requests
 * back to back for T seconds. Reports requests, throughput, responses by
 * status, transport errors, latency percentiles, and the server's resident
 * memory (VmRSS of --pid) at start and end. */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct opts {
    const char *url, *api, *key;
    int conns, docs, doc_bytes;
    double seconds;
    long pid;
} opts_t;

typedef struct worker {
    const opts_t *o;
    char **bodies;
    int n_bodies;
    double end;
    double *lat; /* ms */
    size_t n_lat, cap_lat;
    long status[600];
    long transport_errors;
    unsigned seed;
} worker_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t sink(char *p, size_t sz, size_t n, void *u) { (void)p; (void)u; return sz * n; }

static const char *k_words[] = {"panda", "bamboo", "forest", "china", "bear", "species", "the", "a", "of", "in",
                                "mountain", "habitat", "eats", "leaves", "conservation", "wild", "zoo", "black",
                                "white", "fur", "endangered", "population", "research", "sichuan", "climate"};

static char *make_body(const opts_t *o, unsigned *seed) {
    size_t cap = (size_t)o->docs * (2 * (size_t)o->doc_bytes + 64) + 256; /* docs are <= 1.5 x doc_bytes + one word */
    char *b = malloc(cap), *p = b;
    p += sprintf(p, "{\"query\":\"where do giant pandas live in the wild?\",\"%s\":[", !strcmp(o->api, "tei") ? "texts" : "documents");
    for (int d = 0; d < o->docs; d++) {
        *p++ = d ? ',' : ' ';
        *p++ = '"';
        int target = o->doc_bytes / 2 + (int)(rand_r(seed) % (unsigned)(o->doc_bytes + 1));
        int n = 0;
        while (n < target) {
            const char *w = k_words[rand_r(seed) % (sizeof k_words / sizeof *k_words)];
            n += sprintf(p, "%s%s", n ? " " : "", w);
            p += strlen(p);
        }
        *p++ = '"';
    }
    sprintf(p, "]}");
    return b;
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
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    int k = (int)(w->seed % (unsigned)w->n_bodies);
    while (now_s() < w->end) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->bodies[k]);
        k = (k + 1) % w->n_bodies;
        double t0 = now_s();
        CURLcode rc = curl_easy_perform(c);
        double ms = (now_s() - t0) * 1e3;
        if (rc != CURLE_OK) { w->transport_errors++; continue; }
        long st = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 0 && st < 600) w->status[st]++;
        if (w->n_lat == w->cap_lat) {
            w->cap_lat = w->cap_lat ? w->cap_lat * 2 : 4096;
            w->lat = realloc(w->lat, w->cap_lat * sizeof *w->lat);
        }
        if (st == 200) w->lat[w->n_lat++] = ms;
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

static void usage(void) {
    fprintf(stderr, "usage: loadgen --url http://HOST:PORT [--api tei|cohere] [-c CONNECTIONS] [-d SECONDS]\n"
                    "               [--docs N] [--doc-bytes B] [--pid SERVER_PID] [--api-key KEY]\n");
}

int main(int argc, char **argv) {
    opts_t o = {.url = "http://127.0.0.1:8080", .api = "tei", .conns = 8, .docs = 20, .doc_bytes = 400, .seconds = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(); return 0; }
        if (!v) { usage(); return 2; }
        if (!strcmp(a, "--url")) o.url = v;
        else if (!strcmp(a, "--api")) o.api = v;
        else if (!strcmp(a, "-c") || !strcmp(a, "--connections")) o.conns = atoi(v);
        else if (!strcmp(a, "-d") || !strcmp(a, "--duration")) o.seconds = atof(v);
        else if (!strcmp(a, "--docs")) o.docs = atoi(v);
        else if (!strcmp(a, "--doc-bytes")) o.doc_bytes = atoi(v);
        else if (!strcmp(a, "--pid")) o.pid = atol(v);
        else if (!strcmp(a, "--api-key")) o.key = v;
        else { usage(); return 2; }
        i++;
    }
    if (o.conns < 1 || o.conns > 4096 || o.docs < 1 || o.docs > 100000 || o.doc_bytes < 1 || o.doc_bytes > 1 << 20 ||
        !(o.seconds > 0) || (strcmp(o.api, "tei") && strcmp(o.api, "cohere"))) {
        usage();
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    enum { NB = 32 };
    char *bodies[NB];
    unsigned seed = 12345;
    size_t body_bytes = 0;
    for (int i = 0; i < NB; i++) {
        bodies[i] = make_body(&o, &seed);
        body_bytes += strlen(bodies[i]);
    }
    long rss0 = rss_kib(o.pid);
    worker_t *w = calloc((size_t)o.conns, sizeof *w);
    pthread_t *th = calloc((size_t)o.conns, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < o.conns; i++) {
        w[i].o = &o;
        w[i].bodies = bodies;
        w[i].n_bodies = NB;
        w[i].end = t0 + o.seconds;
        w[i].seed = (unsigned)i * 7919u;
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    long peak = rss0;
    while (now_s() < t0 + o.seconds) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        long r = rss_kib(o.pid);
        if (r > peak) peak = r;
    }
    for (int i = 0; i < o.conns; i++) pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    long rss1 = rss_kib(o.pid);
    long status[600] = {0}, terr = 0, total = 0;
    size_t n_lat = 0;
    for (int i = 0; i < o.conns; i++) {
        for (int s = 0; s < 600; s++) { status[s] += w[i].status[s]; total += w[i].status[s]; }
        terr += w[i].transport_errors;
        n_lat += w[i].n_lat;
    }
    double *lat = malloc((n_lat ? n_lat : 1) * sizeof *lat);
    size_t k = 0;
    double sum = 0;
    for (int i = 0; i < o.conns; i++) {
        memcpy(lat + k, w[i].lat, w[i].n_lat * sizeof *lat);
        k += w[i].n_lat;
        free(w[i].lat);
    }
    for (size_t i = 0; i < n_lat; i++) sum += lat[i];
    qsort(lat, n_lat, sizeof *lat, cmp_d);
    printf("loadgen: %s %s, %d connections, %.1f s, %d docs/request (%d-%d bytes each, ~%zu B bodies)\n", o.url,
           o.api, o.conns, dt, o.docs, o.doc_bytes / 2, o.doc_bytes / 2 + o.doc_bytes, body_bytes / NB);
    printf("requests: %ld answered (%.1f req/s, %.1f docs/s), transport errors %ld\n", total, (double)status[200] / dt,
           (double)status[200] * o.docs / dt, terr);
    printf("status:");
    for (int s = 0; s < 600; s++)
        if (status[s]) printf(" %d=%ld", s, status[s]);
    printf("\n");
    printf("latency (200s) ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  mean %.2f\n", pct(lat, n_lat, 50),
           pct(lat, n_lat, 90), pct(lat, n_lat, 99), n_lat ? lat[n_lat - 1] : NAN, n_lat ? sum / (double)n_lat : NAN);
    if (o.pid > 0)
        printf("server rss: start %.1f MiB, end %.1f MiB, peak %.1f MiB (pid %ld)\n", rss0 / 1024.0, rss1 / 1024.0,
               peak / 1024.0, o.pid);
    for (int i = 0; i < NB; i++) free(bodies[i]);
    free(lat);
    free(w);
    free(th);
    curl_global_cleanup();
    return terr || total == 0 ? 1 : 0;
}
