/*
 * bench_vectors.c — vector search latency and HNSW recall (docs/benchmarks.md,
 * "Vector search").
 *
 *   bench_vectors [-n N] [-d DIM] [-q QUERIES] [-w WORDS] [-c] [-e EF,EF,..]
 *                 [-m M] [-E EFC] [--no-hnsw] [--no-hybrid] [--keep DIR]
 *
 * Builds a temporary knowledge base of N chunks (documents of 100 chunks,
 * WORDS synthetic words of text each, Zipf-like) with one unit vector each:
 * uniformly random, or with -c clustered (N/100 centres, each vector
 * centre + noise, cos ≈ 0.85 to its centre; queries drawn the same way).
 * Then, over the same QUERIES queries, k = 10:
 *   exact   idx_search_vector with the exact index (threshold above N):
 *           first-search (build) time, p50 / p99 latency
 *   hybrid  idx_search_hybrid (BM25 on two or three words ∥ vectors)
 *   hnsw    vec_hnsw_threshold set to 1, so the index is rebuilt as HNSW:
 *           build time, then for each efSearch p50 / p99 and recall@10
 *           against the exact top 10. -m / -E set vec_hnsw_m and
 *           vec_hnsw_ef_construction (defaults 64 / 64).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "index/index.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = urand(), v = urand();
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static void normalise(float *v, int d)
{
    double ss = 0;
    for (int i = 0; i < d; i++)
        ss += (double)v[i] * v[i];
    for (int i = 0; i < d; i++)
        v[i] = (float)(v[i] / sqrt(ss));
}

static int dim = 384, clustered, ncent;
static float *cent;

static void make_vec(float *v)
{
    if (!clustered) {
        for (int i = 0; i < dim; i++)
            v[i] = (float)gauss();
    } else {
        const float *c = cent + (size_t)(urand() * ncent) * dim;
        for (int i = 0; i < dim; i++)
            v[i] = c[i] + (float)(0.62 * gauss() / sqrt(dim));
    }
    normalise(v, dim);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pct(double *t, int n, double *p50, double *p99)
{
    qsort(t, n, sizeof *t, cmpd);
    *p50 = t[n / 2] * 1e3;
    int i = (int)ceil(0.99 * n) - 1;
    *p99 = t[i < 0 ? 0 : i] * 1e3;
}

static void die(const char *what, struct lore_err *e)
{
    fprintf(stderr, "bench_vectors: %s: %s\n", what, e->msg);
    exit(1);
}

static void word(char *buf, size_t cap)
{
    double u = urand();
    snprintf(buf, cap, "w%dx", (int)(5000 * u * u));
}

int main(int argc, char **argv)
{
    long n = 100000;
    int nq = 200, words = 40, hnsw = 1, hybrid = 1;
    const char *efs = "64,128,160,256", *keep = NULL, *hnsw_m = NULL, *hnsw_efc = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atol(argv[++i]);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            dim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-q") && i + 1 < argc)
            nq = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-w") && i + 1 < argc)
            words = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-e") && i + 1 < argc)
            efs = argv[++i];
        else if (!strcmp(argv[i], "-m") && i + 1 < argc)
            hnsw_m = argv[++i];
        else if (!strcmp(argv[i], "-E") && i + 1 < argc)
            hnsw_efc = argv[++i];
        else if (!strcmp(argv[i], "-c"))
            clustered = 1;
        else if (!strcmp(argv[i], "--no-hnsw"))
            hnsw = 0;
        else if (!strcmp(argv[i], "--no-hybrid"))
            hybrid = 0;
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
            keep = argv[++i];
        else {
            fprintf(stderr, "usage: bench_vectors [-n N] [-d DIM] [-q QUERIES] [-w WORDS] [-c] [-e EF,..] "
                            "[-m M] [-E EFC] [--no-hnsw] [--no-hybrid] [--keep DIR]\n");
            return 2;
        }
    }
    if (n < 100 || dim < 1 || nq < 1)
        return 2;
    char dir[256];
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
    } else {
        snprintf(dir, sizeof dir, "/tmp/lore-bench-vec-XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    struct lore_err e;
    struct idx_kb *kb;
    if (idx_open(dir, IDX_CREATE | IDX_WRITE, &kb, &e))
        die("open", &e);
    if (clustered) {
        ncent = (int)(n / 100);
        cent = malloc((size_t)ncent * dim * sizeof *cent);
        for (int c = 0; c < ncent; c++) {
            for (int i = 0; i < dim; i++)
                cent[(size_t)c * dim + i] = (float)gauss();
            normalise(cent + (size_t)c * dim, dim);
        }
    }
    printf("bench_vectors: n=%ld dim=%d queries=%d data=%s words/chunk=%d\n", n, dim, nq,
           clustered ? "clustered" : "random", words);

    /* the knowledge base: documents of 100 chunks */
    double t0 = now();
    int64_t coll;
    float *v = malloc((size_t)dim * sizeof *v);
    char *text = malloc((size_t)words * 12 + 16);
    if (idx_collection_ensure(kb, "bench", &coll, &e) || idx_vectors_set_model(kb, "bench", dim, &e))
        die("setup", &e);
    char th[32];
    snprintf(th, sizeof th, "%ld", n + 1);
    if (idx_meta_set(kb, "vec_hnsw_threshold", th, &e))
        die("meta", &e);
    for (long d = 0; d * 100 < n; d++) {
        if (idx_begin(kb, &e))
            die("begin", &e);
        char uri[64];
        snprintf(uri, sizeof uri, "/bench/doc%06ld", d);
        struct idx_doc_in in = {coll, uri, uri, "text/plain", "h", 1000, 0, 1, "ok", NULL, NULL};
        int64_t doc;
        if (idx_doc_put(kb, &in, &doc, &e))
            die("doc", &e);
        for (int c = 0; c < 100 && d * 100 + c < n; c++) {
            size_t len = 0;
            for (int w = 0; w < words; w++) {
                char wb[16];
                word(wb, sizeof wb);
                len += (size_t)sprintf(text + len, "%s%s", w ? " " : "", wb);
            }
            text[len] = 0;
            struct idx_chunk_in ci = {text, "", 1, 1, c * 100, c * 100 + 99, words, NULL, 0};
            int64_t cid;
            if (idx_chunk_add(kb, doc, c, &ci, &cid, &e))
                die("chunk", &e);
            make_vec(v);
            if (idx_vector_put(kb, cid, v, dim, &e))
                die("vector", &e);
        }
        if (idx_commit(kb, &e))
            die("commit", &e);
    }
    printf("  kb built: %.1f s\n", now() - t0);

    float *qs = malloc((size_t)nq * dim * sizeof *qs);
    char (*qtext)[64] = malloc((size_t)nq * sizeof *qtext);
    for (int i = 0; i < nq; i++) {
        make_vec(qs + (size_t)i * dim);
        char a[16], b[16], c[16];
        word(a, sizeof a);
        word(b, sizeof b);
        word(c, sizeof c);
        snprintf(qtext[i], sizeof qtext[i], i % 2 ? "%s %s" : "%s %s %s", a, b, c);
    }
    int64_t *truth = calloc((size_t)nq * 10, sizeof *truth);
    double *lat = malloc((size_t)nq * sizeof *lat), p50, p99;
    struct idx_hits *h;

    /* exact */
    t0 = now();
    if (idx_search_vector(kb, qs, dim, 10, NULL, &h, &e))
        die("search", &e);
    idx_hits_free(h);
    struct idx_vectors_info info;
    idx_vectors_info(kb, &info, &e);
    printf("  exact: first search (index build) %.2f s, in memory %lld, hnsw %d\n", now() - t0,
           (long long)info.in_memory, info.hnsw);
    for (int rep = 0; rep < 2; rep++) {
        for (int i = 0; i < nq; i++) {
            double t = now();
            if (idx_search_vector(kb, qs + (size_t)i * dim, dim, 10, NULL, &h, &e))
                die("search", &e);
            lat[i] = now() - t;
            for (size_t j = 0; j < h->n && j < 10; j++)
                truth[i * 10 + j] = h->v[j].chunk_id;
            idx_hits_free(h);
        }
        pct(lat, nq, &p50, &p99);
        printf("  exact  k=10: p50 %.2f ms  p99 %.2f ms%s\n", p50, p99, rep ? "" : "  (pass 1)");
    }

    if (hybrid) {
        struct idx_hybrid_opts ho;
        idx_hybrid_opts_default(&ho);
        for (int rep = 0; rep < 2; rep++) {
            for (int i = 0; i < nq; i++) {
                double t = now();
                if (idx_search_hybrid(kb, qtext[i], qs + (size_t)i * dim, dim, &ho, &h, &e))
                    die("hybrid", &e);
                lat[i] = now() - t;
                idx_hits_free(h);
            }
            pct(lat, nq, &p50, &p99);
            printf("  hybrid k=10 (bm25 50 + vec 50, %s): p50 %.2f ms  p99 %.2f ms%s\n",
                   info.hnsw ? "hnsw" : "exact", p50, p99, rep ? "" : "  (pass 1)");
        }
        /* BM25 alone, for reference */
        struct idx_search_opts bo;
        idx_search_opts_default(&bo);
        bo.k = 50;
        for (int i = 0; i < nq; i++) {
            double t = now();
            if (idx_search_bm25(kb, qtext[i], &bo, &h, &e))
                die("bm25", &e);
            lat[i] = now() - t;
            idx_hits_free(h);
        }
        pct(lat, nq, &p50, &p99);
        printf("  (bm25 alone, k=50: p50 %.2f ms  p99 %.2f ms)\n", p50, p99);
    }

    if (hnsw) {
        if (idx_meta_set(kb, "vec_hnsw_threshold", "1", &e) ||
            (hnsw_m && idx_meta_set(kb, "vec_hnsw_m", hnsw_m, &e)) ||
            (hnsw_efc && idx_meta_set(kb, "vec_hnsw_ef_construction", hnsw_efc, &e)))
            die("meta", &e);
        t0 = now();
        if (idx_search_vector(kb, qs, dim, 10, NULL, &h, &e))
            die("search", &e);
        idx_hits_free(h);
        idx_vectors_info(kb, &info, &e);
        printf("  hnsw: build %.1f s (M %s, efConstruction %s), hnsw %d\n", now() - t0,
               hnsw_m ? hnsw_m : "64", hnsw_efc ? hnsw_efc : "64", info.hnsw);
        char buf[256];
        snprintf(buf, sizeof buf, "%s", efs);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            struct idx_vsearch_opts o = {0, atoi(tok)};
            double hit = 0;
            for (int rep = 0; rep < 2; rep++)
                for (int i = 0; i < nq; i++) {
                    double t = now();
                    if (idx_search_vector_ex(kb, qs + (size_t)i * dim, dim, 10, NULL, &o, &h, &e))
                        die("search", &e);
                    lat[i] = now() - t;
                    if (rep)
                        for (size_t j = 0; j < h->n && j < 10; j++)
                            for (int t2 = 0; t2 < 10; t2++)
                                hit += h->v[j].chunk_id == truth[i * 10 + t2];
                    idx_hits_free(h);
                }
            pct(lat, nq, &p50, &p99);
            printf("  hnsw   k=10 efSearch=%-4d: p50 %.3f ms  p99 %.3f ms  recall@10 %.4f\n", o.ef_search, p50,
                   p99, hit / (nq * 10.0));
        }
        /* exact over the HNSW index's own rows */
        struct idx_vsearch_opts o = {1, 0};
        for (int i = 0; i < nq; i++) {
            double t = now();
            if (idx_search_vector_ex(kb, qs + (size_t)i * dim, dim, 10, NULL, &o, &h, &e))
                die("search", &e);
            lat[i] = now() - t;
            idx_hits_free(h);
        }
        pct(lat, nq, &p50, &p99);
        printf("  (exact over the hnsw index's rows: p50 %.2f ms  p99 %.2f ms)\n", p50, p99);
    }
    idx_close(kb);
    if (!keep) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    free(v);
    free(text);
    free(qs);
    free(qtext);
    free(truth);
    free(lat);
    free(cent);
    return 0;
}
