/*
 * bench_matmul.c — GEMV and GEMM speed of the engine's matrix kernels.
 *
 * For each weight type, each SIMD level this CPU has, the Qwen2.5-0.5B
 * projection shapes (rows × cols: 896×896 attention, 4864×896 FFN up/gate,
 * 896×4864 FFN down), batch 1 (decode) and 512 (prompt), and 1 and 2
 * threads, prints GFLOP/s = 2·rows·cols·batch / time, time being the best
 * of repeated calls over --min-ms (the fastest call is the least disturbed
 * by other work on the machine).  Activations are quantised inside the
 * timed call, as in the decoder.
 *
 *   bench_matmul [--types Q4_K,Q8_0,...] [--levels avx2,avx512vnni,...]
 *                [--batch 1,512] [--threads 1,2] [--min-ms 300]
 *
 * The generic (portable C) level is only timed at batch 1 unless named in
 * --levels: at batch 512 it takes seconds per shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"

static int in_list(const char *list, const char *name)
{
    if (!list)
        return -1;                       /* no list: caller decides */
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
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

static uint64_t rng = 88172645463325252ull;

static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
}

int main(int argc, char **argv)
{
    const char *types_arg = NULL, *levels_arg = NULL;
    int batches[8] = {1, 512}, nbatch = 2, threads[8] = {1, 2}, nthreads = 2;
    double min_ms = 300;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--types") && i + 1 < argc)
            types_arg = argv[++i];
        else if (!strcmp(argv[i], "--levels") && i + 1 < argc)
            levels_arg = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            nbatch = parse_ints(argv[++i], batches, 8);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nthreads = parse_ints(argv[++i], threads, 8);
        else if (!strcmp(argv[i], "--min-ms") && i + 1 < argc)
            min_ms = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--types T,..] [--levels L,..] [--batch N,..] "
                            "[--threads N,..] [--min-ms MS]\n", argv[0]);
            return 2;
        }
    }
    static const int types[] = {ENG_TYPE_F32,  ENG_TYPE_F16,  ENG_TYPE_BF16, ENG_TYPE_Q8_0,
                                ENG_TYPE_Q4_0, ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1,
                                ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
    static const int shapes[][2] = {{896, 896}, {4864, 896}, {896, 4864}};
    const int maxrows = 4864, maxcols = 4864, maxbatch = 512;

    int maxb = 0;
    for (int i = 0; i < nbatch; i++)
        maxb = batches[i] > maxb ? batches[i] : maxb;
    if (maxb < 1 || maxb > 4096) {
        fprintf(stderr, "batch must be 1..4096\n");
        return 2;
    }
    (void)maxbatch;
    float *wf = malloc((size_t)maxrows * maxcols * sizeof(float));
    float *x = malloc((size_t)maxb * maxcols * sizeof(float));
    float *y = malloc((size_t)maxb * maxrows * sizeof(float));
    void *w = malloc((size_t)maxrows * maxcols * 4);
    if (!wf || !x || !y || !w) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)maxrows * maxcols; i++)
        wf[i] = frand() * 0.1f;
    for (size_t i = 0; i < (size_t)maxb * maxcols; i++)
        x[i] = frand();

    struct eng_pool *pools[8] = {0};
    for (int t = 0; t < nthreads; t++)
        if (eng_pool_new(threads[t], &pools[t], NULL)) {
            fprintf(stderr, "cannot start a pool of %d threads\n", threads[t]);
            return 1;
        }

    printf("# bench_matmul: best level %s, %d physical cores\n",
           eng_cpu_level_name(eng_cpu_best_level()), eng_cpu_physical_cores());
    printf("%-5s %-11s %-10s %5s %3s %9s %9s\n", "type", "level", "shape", "batch", "thr",
           "GFLOP/s", "ms/call");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int t = types[ti];
        const struct eng_type_info *info = eng_type_get(t);
        if (types_arg && !in_list(types_arg, info->name))
            continue;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            int rows = shapes[si][0], cols = shapes[si][1];
            if (cols % info->blck) {
                printf("%-5s %-11s %4dx%-5d   (n/a: %d is not a multiple of %d)\n",
                       info->name, "-", rows, cols, cols, info->blck);
                continue;
            }
            size_t rb = eng_row_bytes(t, cols);
            for (int r = 0; r < rows; r++)
                info->from_float(wf + (size_t)r * cols, (char *)w + (size_t)r * rb, cols);
            for (int level = 0; level < ENG_CPU_LEVELS; level++) {
                const struct eng_kernels *k = eng_kernels_for_level(level);
                if (!k)
                    continue;
                int listed = in_list(levels_arg, k->name);
                if (listed == 0)
                    continue;
                for (int bi = 0; bi < nbatch; bi++) {
                    int batch = batches[bi];
                    if (level == ENG_CPU_GENERIC && batch > 8 && listed != 1)
                        continue;
                    for (int pi = 0; pi < nthreads; pi++) {
                        double flop = 2.0 * rows * cols * batch, start, ms = 1e30;
                        int reps = 0;
                        eng_matmul_k(k, pools[pi], t, w, rows, cols, x, batch, y, NULL);
                        start = lore_now_ms();
                        do {      /* best of the calls: robust to a busy machine */
                            double t0 = lore_now_ms();
                            eng_matmul_k(k, pools[pi], t, w, rows, cols, x, batch, y, NULL);
                            double t1 = lore_now_ms();
                            ms = t1 - t0 < ms ? t1 - t0 : ms;
                            reps++;
                        } while (lore_now_ms() - start < min_ms || reps < 3);
                        printf("%-5s %-11s %4dx%-5d %5d %3d %9.1f %9.3f\n", info->name, k->name,
                               rows, cols, batch, threads[pi], flop / (ms * 1e6), ms);
                        fflush(stdout);
                    }
                }
            }
        }
    }
    for (int t = 0; t < nthreads; t++)
        eng_pool_free(pools[t]);
    free(wf);
    free(x);
    free(y);
    free(w);
    return 0;
}
