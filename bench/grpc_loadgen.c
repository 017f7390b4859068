/* grpc_loadgen.c — closed-loop load on `rerank serve --grpc-port`: TEI's tei.v1 Rerank over one HTTP/2 channel.
 *
 *   build/grpc_loadgen --target 127.0.0.1:PORT [-c STREAMS] [-d SECONDS] [--docs D] [--doc-bytes B]
 *                      [--api-key KEY] [--model NAME] [--json]
 *
 * STREAMS calls are kept in flight on one channel (HTTP/2 streams), each
 * sending its next Rerank request as soon as the previous one is answered;
 * bodies are the same random-word documents as bench/loadgen's (query "where
 * do giant pandas live in the wild?", D documents of ~B bytes), so the two
 * tools' figures compare HTTP and gRPC on the same work. Reports requests,
 * req/s, pairs/s, non-OK statuses and p50/p90/p99 latency; exit 1 if nothing
 * was answered. --model NAME sends the metadata "model" (a served model by
 * name; the server's default without it). */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tei.pb-c.h"

typedef struct slot {
    grpc_call *call;
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    grpc_metadata md[2];
    double t0;
} slot_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *k_words[] = {"panda", "bamboo", "forest", "china", "bear", "species", "the", "a", "of", "in",
                                "mountain", "habitat", "eats", "leaves", "conservation", "wild", "zoo", "black",
                                "white", "fur", "endangered", "population", "research", "sichuan", "climate"};

/* One packed RerankRequest of `docs` random-word documents. */
static grpc_slice make_body(int docs, int doc_bytes, unsigned *seed) {
    char **texts = calloc((size_t)docs, sizeof *texts);
    for (int d = 0; d < docs; d++) {
        int target = doc_bytes / 2 + (int)(rand_r(seed) % (unsigned)(doc_bytes + 1));
        char *t = malloc((size_t)target + 32), *p = t;
        int n = 0;
        while (n < target) {
            const char *w = k_words[rand_r(seed) % (sizeof k_words / sizeof *k_words)];
            size_t wl = strlen(w);
            if (n) *p++ = ' ', n++;
            memcpy(p, w, wl);
            p += wl, n += (int)wl;
        }
        *p = 0;
        texts[d] = t;
    }
    Tei__V1__RerankRequest q = TEI__V1__RERANK_REQUEST__INIT;
    q.query = "where do giant pandas live in the wild?";
    q.n_texts = (size_t)docs;
    q.texts = texts;
    grpc_slice s = grpc_slice_malloc(tei__v1__rerank_request__get_packed_size(&q));
    tei__v1__rerank_request__pack(&q, GRPC_SLICE_START_PTR(s));
    for (int d = 0; d < docs; d++) free(texts[d]);
    free(texts);
    return s;
}

static void start(grpc_channel *ch, grpc_completion_queue *cq, slot_t *s, grpc_slice body, const char *key,
                  const char *model, double timeout) {
    memset(s, 0, sizeof *s);
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trail_md);
    s->t0 = now_s();
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis((int64_t)(timeout * 1e3), GPR_TIMESPAN));
    s->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                       grpc_slice_from_static_string("/tei.v1.Rerank/Rerank"), NULL, dl, NULL);
    s->send = grpc_raw_byte_buffer_create(&body, 1); /* takes its own reference */
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    size_t n_md = 0;
    if (key) {
        static char hdr[1100];
        snprintf(hdr, sizeof hdr, "Bearer %s", key);
        s->md[n_md].key = grpc_slice_from_static_string("authorization");
        s->md[n_md++].value = grpc_slice_from_static_string(hdr);
    }
    if (model) {
        s->md[n_md].key = grpc_slice_from_static_string("model");
        s->md[n_md++].value = grpc_slice_from_static_string(model);
    }
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = s->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trail_md;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    grpc_call_start_batch(s->call, ops, 6, s, NULL);
}

static void finish(slot_t *s) {
    if (s->send) grpc_byte_buffer_destroy(s->send);
    if (s->recv) grpc_byte_buffer_destroy(s->recv);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trail_md);
    grpc_slice_unref(s->details);
    grpc_call_unref(s->call);
}

int main(int argc, char **argv) {
    const char *target = "127.0.0.1:50051", *key = NULL, *model = NULL;
    int conc = 32, docs = 8, doc_bytes = 400, json = 0;
    double seconds = 10, timeout = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!v) goto usage;
        if (!strcmp(a, "--target")) target = v;
        else if (!strcmp(a, "-c")) conc = atoi(v);
        else if (!strcmp(a, "-d")) seconds = atof(v);
        else if (!strcmp(a, "--docs")) docs = atoi(v);
        else if (!strcmp(a, "--doc-bytes")) doc_bytes = atoi(v);
        else if (!strcmp(a, "--api-key")) key = v;
        else if (!strcmp(a, "--model")) model = v;
        else goto usage;
        i++;
    }
    if (conc < 1 || conc > 4096 || docs < 1 || docs > 100000 || doc_bytes < 1 || doc_bytes > 1 << 20 ||
        !(seconds > 0 && seconds <= 1e6) || (key && strlen(key) > 1000) || (model && strlen(model) > 200))
        goto usage;
    grpc_init();
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, cr, NULL);
    grpc_channel_credentials_release(cr);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    enum { N_BODIES = 32 };
    grpc_slice bodies[N_BODIES];
    unsigned seed = 12345;
    for (int i = 0; i < N_BODIES; i++) bodies[i] = make_body(docs, doc_bytes, &seed);
    slot_t *slots = calloc((size_t)conc, sizeof *slots);
    size_t cap = 1 << 16, n_lat = 0;
    double *lat = malloc(cap * sizeof *lat);
    long sent = 0, ok = 0, non_ok = 0;
    double t0 = now_s(), end = t0 + seconds;
    for (int i = 0; i < conc; i++, sent++) start(ch, cq, &slots[i], bodies[sent % N_BODIES], key, model, timeout);
    int in_flight = conc;
    while (in_flight > 0) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type != GRPC_OP_COMPLETE) break;
        slot_t *s = ev.tag;
        double t = now_s();
        if (ev.success && s->status == GRPC_STATUS_OK && s->recv) {
            ok++;
            if (n_lat == cap) lat = realloc(lat, (cap *= 2) * sizeof *lat);
            lat[n_lat++] = (t - s->t0) * 1e3;
        } else {
            non_ok++;
        }
        finish(s);
        in_flight--;
        if (t < end) {
            start(ch, cq, s, bodies[sent % N_BODIES], key, model, timeout);
            sent++;
            in_flight++;
        }
    }
    double elapsed = now_s() - t0;
    qsort(lat, n_lat, sizeof *lat, cmp_double);
#define PCT(p) (n_lat ? lat[(size_t)fmin((double)n_lat - 1, floor((p) / 100.0 * (double)n_lat))] : NAN)
    if (json)
        printf("{\"target\":\"%s\",\"streams\":%d,\"elapsed_s\":%g,\"requests\":%ld,\"ok\":%ld,\"non_ok\":%ld,"
               "\"req_per_s\":%g,\"pairs_per_s\":%g,\"p50_ms\":%g,\"p90_ms\":%g,\"p99_ms\":%g}\n",
               target, conc, elapsed, sent, ok, non_ok, ok / elapsed, ok * (double)docs / elapsed, PCT(50), PCT(90),
               PCT(99));
    else
        printf("%ld requests in %.1f s over %d streams: %ld OK, %ld not; %.1f req/s, %.1f pairs/s; "
               "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms\n",
               sent, elapsed, conc, ok, non_ok, ok / elapsed, ok * (double)docs / elapsed, PCT(50), PCT(90), PCT(99));
    for (int i = 0; i < N_BODIES; i++) grpc_slice_unref(bodies[i]);
    free(slots);
    free(lat);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    grpc_shutdown();
    return ok ? 0 : 1;
usage:
    fprintf(stderr, "usage: grpc_loadgen --target HOST:PORT [-c STREAMS] [-d SECONDS] [--docs D] [--doc-bytes B] "
                    "[--api-key KEY] [--model NAME] [--json]\n");
    return 2;
}
