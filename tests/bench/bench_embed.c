/*
 * bench_embed.c — embedding throughput of embed/ (engine/bert.c underneath)
 * on a file of sentences, one per line, comparable to llama.cpp's
 * `llama-embedding -f FILE -t 2 -c B -b B -ub B --pooling mean` (golden/
 * README.md §6: "compute" there = our encode time, "end-to-end" adds the
 * load).
 *
 *   bench_embed MODEL.gguf [--file sentences.txt] [--threads 2]
 *               [--batch 512,1024,2048] [--runs 3] [--one-by-one] [--limit N]
 *
 * For each batch size (emb_opts.max_batch_tokens) it opens the model, warms
 * up on the first 32 sentences, then embeds the whole file in one emb_embed
 * call --runs times and prints the best and mean run: sentences/s,
 * tokens/s (CLS and SEP included, as llama.cpp counts them), ms in the
 * encoder and ms wall (tokenising, sorting and copying included).
 * --one-by-one calls emb_embed once per sentence instead (a batch of one);
 * --limit N uses only the first N sentences. tok/cpu-s is tokens per CPU
 * second the process used (all threads): on a machine shared with other
 * jobs, wall-clock rates fall with the load but this one mostly does not,
 * and threads × tok/cpu-s bounds what an idle machine would give.
 *
 * Build and run: docs/benchmarks.md, section "Embeddings" (until it is
 * listed in tests/bench/CMakeLists.txt it is compiled by hand against
 * liblore.a).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "embed/embed.h"

/* CPU seconds (user + system) this process has used. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int parse_ints(const char *s, int *out, int max)
{
    int n = 0;
    while (s && *s && n < max) {
        out[n++] = atoi(s);
        s = strchr(s, ',');
        if (s)
            s++;
    }
    return n;
}

/* Splits data into its non-empty lines (in place). */
static size_t split_lines(char *data, const char ***out)
{
    size_t n = 0, cap = 1024;
    const char **v = malloc(cap * sizeof *v);
    for (char *p = data; v && *p;) {
        char *e = strchr(p, '\n');
        if (e)
            *e = 0;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r')
            p[--len] = 0;
        if (len) {
            if (n == cap) {
                const char **w = realloc(v, (cap *= 2) * sizeof *v);
                if (!w) {
                    free(v);
                    return 0;
                }
                v = w;
            }
            v[n++] = p;
        }
        if (!e)
            break;
        p = e + 1;
    }
    *out = v;
    return n;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *file = "../shared/golden/perf/sentences-1000x40.txt";
    int threads = 2, runs = 3, one_by_one = 0, limit = 0;
    int batches[16] = {512, 1024, 2048}, nbatch = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            nbatch = parse_ints(argv[++i], batches, 16);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--one-by-one"))
            one_by_one = 1;
        else if (argv[i][0] != '-' && !model)
            model = argv[i];
        else {
            model = NULL;
            break;
        }
    }
    if (!model || runs < 1) {
        fprintf(stderr, "usage: %s MODEL.gguf [--file FILE] [--threads N] [--batch B,..] "
                        "[--runs N] [--one-by-one] [--limit N]\n", argv[0]);
        return 2;
    }
    struct lore_err err = {0};
    char *data = NULL;
    size_t len = 0;
    if (lore_read_file(file, &data, &len, (size_t)1 << 30, &err)) {
        fprintf(stderr, "bench_embed: %s\n", err.msg);
        return 1;
    }
    const char **lines = NULL;
    size_t n = split_lines(data, &lines);
    if (limit > 0 && (size_t)limit < n)
        n = (size_t)limit;
    if (!n) {
        fprintf(stderr, "bench_embed: '%s' has no sentences\n", file);
        return 1;
    }
    printf("# bench_embed: %s, %zu sentences from %s, %d threads, %s\n", model, n, file, threads,
           one_by_one ? "one sentence per call" : "all sentences in one call");
    printf("%6s %8s %10s %10s %10s %10s %9s %11s\n", "batch", "load_ms", "sent/s", "tok/s",
           "tok/s_avg", "encode_ms", "wall_ms", "tok/cpu-s");
    for (int b = 0; b < nbatch; b++) {
        struct emb_opts o;
        emb_opts_default(&o);
        o.threads = threads;
        o.max_batch_tokens = batches[b];
        struct emb *e = NULL;
        double t0 = lore_now_ms();
        if (emb_open(model, &o, &e, &err)) {
            fprintf(stderr, "bench_embed: %s\n", err.msg);
            return 1;
        }
        double load_ms = lore_now_ms() - t0;
        int dim = emb_dim(e);
        float *out = malloc(n * (size_t)dim * sizeof *out);
        if (!out || emb_embed(e, lines, n < 32 ? n : 32, out, false, &err)) {
            fprintf(stderr, "bench_embed: %s\n", out ? err.msg : "out of memory");
            return 1;
        }
        double best_wall = 1e30, best_enc = 0, sum_enc = 0, best_cpu = 1e30;
        uint64_t tokens = 0;
        for (int r = 0; r < runs; r++) {
            struct emb_stats s0, s1;
            emb_get_stats(e, &s0);
            double w0 = lore_now_ms(), c0 = cpu_s();
            int rc = 0;
            if (one_by_one)
                for (size_t i = 0; i < n && !rc; i++)
                    rc = emb_embed(e, lines + i, 1, out + i * (size_t)dim, false, &err);
            else
                rc = emb_embed(e, lines, n, out, false, &err);
            double wall = lore_now_ms() - w0, cpu = cpu_s() - c0;
            if (rc) {
                fprintf(stderr, "bench_embed: %s\n", err.msg);
                return 1;
            }
            emb_get_stats(e, &s1);
            double enc = s1.encode_ms - s0.encode_ms;
            tokens = s1.tokens - s0.tokens;
            sum_enc += enc;
            if (cpu < best_cpu)
                best_cpu = cpu;
            if (wall < best_wall) {
                best_wall = wall;
                best_enc = enc;
            }
        }
        printf("%6d %8.0f %10.1f %10.0f %10.0f %10.1f %9.1f %11.0f\n", batches[b], load_ms,
               (double)n / (best_enc / 1000), (double)tokens / (best_enc / 1000),
               (double)tokens / (sum_enc / runs / 1000), best_enc, best_wall,
               (double)tokens / best_cpu);
        fflush(stdout);
        free(out);
        emb_close(e);
    }
    free(lines);
    free(data);
    return 0;
}
