/*
 * kernels_ref.c — the portable kernel table and the multithreaded matrix
 * product driver that every level shares.
 *
 * The reference "tile" of a type just calls the type's reference dot product
 * (types.c) for every (weight row, activation row) pair; SIMD levels replace
 * the tiles of the types they speed up.  eng_matmul quantises the
 * activations once, then hands row ranges of W to the pool; each worker
 * walks its rows in tiles and the activations in cache-sized slabs, so a
 * slab of X stays in L2 while the worker's weight rows stream past it.  A
 * single activation row (n == 1, decode) goes to the type's GEMV kernel
 * instead, over chunks of at least GEMV_GRAIN rows.
 */
#include "engine/kernels.h"

#include <stdlib.h>

/* ---- reference tiles ------------------------------------------------------------ */

static void tile_by_dot(eng_vec_dot_fn dot, int64_t n, const void *w, size_t wstride,
                        int nr, const void *x, size_t xstride, int nc, float *y,
                        size_t ldy)
{
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++)
            dot(n, &y[(size_t)c * ldy + (size_t)r], (const char *)w + (size_t)r * wstride,
                (const char *)x + (size_t)c * xstride);
}

#define REF_TILE(T)                                                                  \
    static void tile_ref_##T(int64_t n, const void *w, size_t ws, int nr,            \
                             const void *x, size_t xs, int nc, float *y, size_t ldy) \
    {                                                                                \
        tile_by_dot(eng_type_get(ENG_TYPE_##T)->vec_dot, n, w, ws, nr, x, xs, nc, y,  \
                    ldy);                                                            \
    }
REF_TILE(F32)
REF_TILE(F16)
REF_TILE(BF16)
REF_TILE(Q4_0)
REF_TILE(Q4_1)
REF_TILE(Q5_0)
REF_TILE(Q5_1)
REF_TILE(Q8_0)
REF_TILE(Q4_K)
REF_TILE(Q5_K)
REF_TILE(Q6_K)

#define REF_GEMV(T)                                                                  \
    static void gemv_ref_##T(int64_t n, const void *w, size_t ws, int nr, const void *x, \
                             float *y)                                               \
    {                                                                                \
        tile_by_dot(eng_type_get(ENG_TYPE_##T)->vec_dot, n, w, ws, nr, x, 0, 1, y, 0); \
    }
REF_GEMV(F32)
REF_GEMV(F16)
REF_GEMV(BF16)
REF_GEMV(Q4_0)
REF_GEMV(Q4_1)
REF_GEMV(Q5_0)
REF_GEMV(Q5_1)
REF_GEMV(Q8_0)
REF_GEMV(Q4_K)
REF_GEMV(Q5_K)
REF_GEMV(Q6_K)

void eng_kernels_fill_ref(struct eng_kernels *k)
{
    static const struct { int type; eng_tile_fn fn; eng_gemv_fn gemv; } tiles[] = {
        {ENG_TYPE_F32, tile_ref_F32, gemv_ref_F32},    {ENG_TYPE_F16, tile_ref_F16, gemv_ref_F16},
        {ENG_TYPE_BF16, tile_ref_BF16, gemv_ref_BF16}, {ENG_TYPE_Q4_0, tile_ref_Q4_0, gemv_ref_Q4_0},
        {ENG_TYPE_Q4_1, tile_ref_Q4_1, gemv_ref_Q4_1}, {ENG_TYPE_Q5_0, tile_ref_Q5_0, gemv_ref_Q5_0},
        {ENG_TYPE_Q5_1, tile_ref_Q5_1, gemv_ref_Q5_1}, {ENG_TYPE_Q8_0, tile_ref_Q8_0, gemv_ref_Q8_0},
        {ENG_TYPE_Q4_K, tile_ref_Q4_K, gemv_ref_Q4_K}, {ENG_TYPE_Q5_K, tile_ref_Q5_K, gemv_ref_Q5_K},
        {ENG_TYPE_Q6_K, tile_ref_Q6_K, gemv_ref_Q6_K},
    };
    for (int i = 0; i < ENG_TYPE_COUNT; i++)
        k->t[i] = (struct eng_type_kernel){NULL, 1, 1, NULL};
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++)
        k->t[tiles[i].type] = (struct eng_type_kernel){tiles[i].fn, 1, 4, tiles[i].gemv};
    k->quantize_q8_0 = eng_quantize_row_q8_0;
    k->quantize_q8_K = eng_quantize_row_q8_K;
}

float eng_vec_dot(const struct eng_kernels *k, int type, int64_t n, const void *w,
                  const void *x)
{
    float s = 0;
    if (type >= 0 && type < ENG_TYPE_COUNT && k->t[type].tile)
        k->t[type].tile(n, w, 0, 1, x, 0, 1, &s, 1);
    return s;
}

/* ---- the matrix product driver -------------------------------------------------- */

/* Activation rows per slab: about this many bytes of quantised X. */
#define SLAB_BYTES (128 * 1024)
/* GEMV rows per pool chunk at least: a multiple of every kernel's row group. */
#define GEMV_GRAIN 16

struct mm_job {
    const struct eng_type_kernel *tk;
    eng_from_float_fn quant;      /* NULL when W takes float activations */
    const float *x;
    int64_t rows, cols, n;
    const char *w;
    size_t wstride;
    char *xq;
    size_t xstride;
    float *y;
    int64_t slab;                 /* activation rows per slab */
};

static void mm_quantize(void *ctx, int64_t b, int64_t e, int worker)
{
    const struct mm_job *j = ctx;
    for (int64_t c = b; c < e; c++)
        j->quant(j->x + c * j->cols, j->xq + (size_t)c * j->xstride, j->cols);
}

static void mm_gemv(void *ctx, int64_t r0, int64_t r1, int worker)
{
    const struct mm_job *j = ctx;
    (void)worker;
    j->tk->gemv(j->cols, j->w + (size_t)r0 * j->wstride, j->wstride, (int)(r1 - r0), j->xq,
                j->y + r0);
}

static void mm_rows(void *ctx, int64_t r0, int64_t r1, int worker)
{
    const struct mm_job *j = ctx;
    const int tr = j->tk->tile_r, tc = j->tk->tile_c;
    for (int64_t c0 = 0; c0 < j->n; c0 += j->slab) {
        int64_t c1 = c0 + j->slab < j->n ? c0 + j->slab : j->n;
        for (int64_t r = r0; r < r1; r += tr) {
            int nr = (int)(r1 - r < tr ? r1 - r : tr);
            for (int64_t c = c0; c < c1; c += tc) {
                int nc = (int)(c1 - c < tc ? c1 - c : tc);
                j->tk->tile(j->cols, j->w + (size_t)r * j->wstride, j->wstride, nr,
                            j->xq + (size_t)c * j->xstride, j->xstride, nc,
                            j->y + (size_t)c * (size_t)j->rows + (size_t)r,
                            (size_t)j->rows);
            }
        }
    }
}

int eng_matmul_k(const struct eng_kernels *k, struct eng_pool *pool, int wtype,
                 const void *w, int64_t rows, int64_t cols, const float *x,
                 int64_t n, float *y, struct lore_err *e)
{
    const struct eng_type_info *ti = eng_type_get(wtype);
    if (!ti || !k->t[wtype].tile)
        return lore_err_set(e, LORE_EINVAL, "matmul: no kernel for weight type %d (%s)",
                            wtype, ti ? ti->name : "unknown");
    if (rows < 0 || n < 0 || cols <= 0 || cols % ti->blck)
        return lore_err_set(e, LORE_EINVAL,
                            "matmul: %s row of %lld elements is not a multiple of %d",
                            ti->name, (long long)cols, ti->blck);
    if (rows == 0 || n == 0)
        return 0;

    struct mm_job j = {
        .tk = &k->t[wtype], .x = x, .rows = rows, .cols = cols, .n = n,
        .w = w, .wstride = eng_row_bytes(wtype, cols), .y = y,
    };
    void *tmp = NULL;
    if (ti->dot_type == ENG_TYPE_F32) {
        j.xq = (char *)(uintptr_t)x;  /* read only: float activations as they are */
        j.xstride = (size_t)cols * sizeof(float);
    } else {
        j.quant = ti->dot_type == ENG_TYPE_Q8_K ? k->quantize_q8_K : k->quantize_q8_0;
        j.xstride = eng_row_bytes(ti->dot_type, cols);
        size_t need = j.xstride * (size_t)n;
        j.xq = pool ? eng_pool_scratch(pool, need) : (tmp = malloc(need));
        if (!j.xq)
            return lore_err_set(e, LORE_ENOMEM, "matmul: no memory for %zu bytes of "
                                "quantised activations", need);
        eng_pool_for(pool, n, 1, mm_quantize, &j);
    }
    if (n == 1 && j.tk->gemv) {
        eng_pool_for(pool, rows, GEMV_GRAIN, mm_gemv, &j);
        free(tmp);
        return 0;
    }
    j.slab = (int64_t)(SLAB_BYTES / j.xstride);
    j.slab -= j.slab % j.tk->tile_c;
    if (j.slab < j.tk->tile_c)
        j.slab = j.tk->tile_c;
    eng_pool_for(pool, rows, j.tk->tile_r, mm_rows, &j);
    free(tmp);
    return 0;
}

int eng_matmul(struct eng_pool *pool, int wtype, const void *w, int64_t rows,
               int64_t cols, const float *x, int64_t n, float *y, struct lore_err *e)
{
    return eng_matmul_k(eng_kernels_get(), pool, wtype, w, rows, cols, x, n, y, e);
}
