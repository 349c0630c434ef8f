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
 *                [--batch 1,512] [--threads 1,2] [--min-ms 300] [--cold]
 *                [--shapes 896x896,4864x896,...] [--tiles-too]
 *
 * --tiles-too also times batch 1 through the tile kernels (the GEMV kernels
 * switched off), printed with level "<level>-tile".
 *
 * GB/s is weight bytes read per second.  --cold cycles through enough
 * copies of the weights (>= 96 MiB) that they come from DRAM, not L3, as in
 * a real decode step; then the mean call time is reported (a best-of would
 * pick the call that found its copy still cached) — with one thread the
 * calling thread's CPU time, which a busy machine does not inflate.
 *
 * The generic (portable C) level is only timed at batch 1 unless named in
 * --levels: at batch 512 it takes seconds per shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* CPU time of the calling thread: with one thread the product runs inline,
 * so this excludes time the OS gave to other processes (a shared machine). */
static double thread_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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
    int cold = 0, tiles_too = 0;
    const char *shapes_arg = NULL;
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
        else if (!strcmp(argv[i], "--cold"))
            cold = 1;
        else if (!strcmp(argv[i], "--tiles-too"))
            tiles_too = 1;
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc)
            shapes_arg = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--types T,..] [--levels L,..] [--batch N,..] "
                            "[--threads N,..] [--min-ms MS]\n", argv[0]);
            return 2;
        }
    }
    static const int types[] = {ENG_TYPE_F32,  ENG_TYPE_F16,  ENG_TYPE_BF16, ENG_TYPE_Q8_0,
                                ENG_TYPE_Q4_0, ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1,
                                ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
    int shapes[16][2] = {{896, 896}, {4864, 896}, {896, 4864}}, nshapes = 3;
    if (shapes_arg) {
        nshapes = 0;
        for (const char *p = shapes_arg; p && *p && nshapes < 16; ) {
            shapes[nshapes][0] = atoi(p);
            const char *xp = strchr(p, 'x');
            shapes[nshapes][1] = xp ? atoi(xp + 1) : 0;
            if (shapes[nshapes][0] > 0 && shapes[nshapes][1] > 0)
                nshapes++;
            p = strchr(p, ',');
            if (p)
                p++;
        }
    }
    size_t maxelems = 0;
    int maxcols = 0, maxrows = 0;
    for (int i = 0; i < nshapes; i++) {
        maxrows = shapes[i][0] > maxrows ? shapes[i][0] : maxrows;
        size_t ne = (size_t)shapes[i][0] * (size_t)shapes[i][1];
        maxelems = ne > maxelems ? ne : maxelems;
        maxcols = shapes[i][1] > maxcols ? shapes[i][1] : maxcols;
    }
    const int maxbatch = 512;

    int maxb = 0;
    for (int i = 0; i < nbatch; i++)
        maxb = batches[i] > maxb ? batches[i] : maxb;
    if (maxb < 1 || maxb > 4096) {
        fprintf(stderr, "batch must be 1..4096\n");
        return 2;
    }
    (void)maxbatch;
    const size_t cold_bytes = (size_t)96 << 20;
    float *wf = malloc(maxelems * sizeof(float));
    float *x = malloc((size_t)maxb * maxcols * sizeof(float));
    float *y = malloc((size_t)maxb * (size_t)maxrows * sizeof(float));
    size_t wcap = maxelems * 4 > cold_bytes ? 2 * maxelems * 4 : cold_bytes + maxelems * 4;
    char *w = malloc(cold ? wcap : maxelems * 4);
    if (!wf || !x || !y || !w) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < maxelems; i++)
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
    printf("%-5s %-11s %-11s %5s %3s %9s %9s %7s%s\n", "type", "level", "shape", "batch", "thr",
           "GFLOP/s", "ms/call", "GB/s", cold ? "  (cold: weights from DRAM)" : "");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int t = types[ti];
        const struct eng_type_info *info = eng_type_get(t);
        if (types_arg && !in_list(types_arg, info->name))
            continue;
        for (int si = 0; si < nshapes; si++) {
            int rows = shapes[si][0], cols = shapes[si][1];
            if (cols % info->blck) {
                printf("%-5s %-11s %4dx%-5d   (n/a: %d is not a multiple of %d)\n",
                       info->name, "-", rows, cols, cols, info->blck);
                continue;
            }
            size_t rb = eng_row_bytes(t, cols);
            for (int r = 0; r < rows; r++)
                info->from_float(wf + (size_t)r * cols, (char *)w + (size_t)r * rb, cols);
            size_t mbytes = rb * (size_t)rows, ncopy = 1;
            if (cold) {
                ncopy = (cold_bytes + mbytes - 1) / mbytes + 1;
                if (ncopy * mbytes > wcap)
                    ncopy = wcap / mbytes;
                for (size_t i = 1; i < ncopy; i++)
                    memcpy(w + i * mbytes, w, mbytes);
            }
            for (int level = 0; level < ENG_CPU_LEVELS; level++) {
                const struct eng_kernels *k = eng_kernels_for_level(level);
                if (!k)
                    continue;
                int listed = in_list(levels_arg, k->name);
                if (listed == 0)
                    continue;
                struct eng_kernels notile = *k;
                for (int i = 0; i < ENG_TYPE_COUNT; i++)
                    notile.t[i].gemv = NULL;
                char tname[32];
                snprintf(tname, sizeof tname, "%s-tile", k->name);
                notile.name = tname;
                for (int bi = 0; bi < nbatch; bi++)
                for (int pass = 0; pass < (tiles_too && batches[bi] == 1 ? 2 : 1); pass++) {
                    int batch = batches[bi];
                    const struct eng_kernels *kk = pass ? &notile : k;
                    if (level == ENG_CPU_GENERIC && batch > 8 && listed != 1)
                        continue;
                    for (int pi = 0; pi < nthreads; pi++) {
                        double flop = 2.0 * rows * cols * batch, start, ms = 1e30;
                        int reps = 0;
                        eng_matmul_k(kk, pools[pi], t, w, rows, cols, x, batch, y, NULL);
                        start = lore_now_ms();
                        double cpu0 = thread_ms();
                        do {      /* best of the calls: robust to a busy machine */
                            double t0 = lore_now_ms();
                            eng_matmul_k(kk, pools[pi], t, w + (size_t)(reps % ncopy) * mbytes,
                                         rows, cols, x, batch, y, NULL);
                            double t1 = lore_now_ms();
                            ms = t1 - t0 < ms ? t1 - t0 : ms;
                            reps++;
                        } while (lore_now_ms() - start < min_ms || reps < 3);
                        if (cold)   /* mean: every call streams its copy from DRAM */
                            ms = (lore_now_ms() - start) / reps;
                        if (cold && threads[pi] == 1)   /* CPU time: robust to load */
                            ms = (thread_ms() - cpu0) / reps;
                        printf("%-5s %-11s %5dx%-5d %5d %3d %9.1f %9.3f %7.1f\n", info->name,
                               kk->name, rows, cols, batch, threads[pi], flop / (ms * 1e6), ms,
                               (double)mbytes / (ms * 1e6));
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
