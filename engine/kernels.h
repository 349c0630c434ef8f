/*
 * kernels.h — engine-internal: tensor types, the quantised block layouts as
 * they are stored in GGUF files, the matrix kernels (portable reference,
 * AVX2, AVX-512) with the table that picks them at start-up from CPUID, and
 * the persistent thread pool that runs them.
 *
 * Not a public header: only the engine's own .c files and its tests include it.
 *
 * How a matrix product runs (eng_matmul):
 *
 *     X float [n][cols] ──quantise once──► Xq [n][cols] in the weight type's
 *                                          "dot type" (Q8_0, Q8_K or F32)
 *     Y[c][r] = dot(W row r, Xq row c)     rows split over the pool; each
 *                                          worker walks its rows in tiles of
 *                                          tile_r weight rows × tile_c
 *                                          activation rows so every weight
 *                                          block is unpacked once and reused;
 *                                          n == 1 (decode) runs the type's
 *                                          GEMV kernel instead, which streams
 *                                          W row by row at memory speed.
 *
 * Every type has a plain-C reference (types.c) — dequantise, quantise, and a
 * dot product of one weight row with one activation row.  SIMD kernels
 * (kernels_avx2.c, kernels_avx512.c) must give the reference's result up to
 * float summation order; tests/unit/test_eng_kernels.c holds them to that.
 */
#ifndef ENG_KERNELS_H
#define ENG_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/lore.h"

#if defined(__x86_64__) || defined(__i386__)
#define LORE_HAVE_AVX2 1
#define LORE_HAVE_AVX512 1
#endif

/* ---- tensor types ----------------------------------------------------------
 * Numbers are GGML's type ids as written in GGUF tensor infos; they never
 * change.  Gaps are ids we do not know (4, 5 were removed from the format,
 * 16..23 are the IQ types, 29 IQ1_M). */
enum eng_type {
    ENG_TYPE_F32 = 0,
    ENG_TYPE_F16 = 1,
    ENG_TYPE_Q4_0 = 2,
    ENG_TYPE_Q4_1 = 3,
    ENG_TYPE_Q5_0 = 6,
    ENG_TYPE_Q5_1 = 7,
    ENG_TYPE_Q8_0 = 8,
    ENG_TYPE_Q8_1 = 9,
    ENG_TYPE_Q2_K = 10,
    ENG_TYPE_Q3_K = 11,
    ENG_TYPE_Q4_K = 12,
    ENG_TYPE_Q5_K = 13,
    ENG_TYPE_Q6_K = 14,
    ENG_TYPE_Q8_K = 15,
    ENG_TYPE_I8 = 24,
    ENG_TYPE_I16 = 25,
    ENG_TYPE_I32 = 26,
    ENG_TYPE_I64 = 27,
    ENG_TYPE_F64 = 28,
    ENG_TYPE_BF16 = 30,
    ENG_TYPE_COUNT = 31
};

typedef uint16_t eng_half;  /* IEEE 754 binary16 bits, little-endian in files */

float eng_fp16_to_fp32(eng_half h);
eng_half eng_fp32_to_fp16(float f);        /* round to nearest even */
float eng_bf16_to_fp32(uint16_t h);
uint16_t eng_fp32_to_bf16(float f);        /* round to nearest even, NaN kept */

/* ---- block layouts ---------------------------------------------------------
 * All multi-byte fields little-endian.  "d" is a scale, "m"/"dmin" an offset.
 * Blocks of 32 elements (QK = 32):
 *
 *  Q4_0 (18 B)  | d:f16 | qs[16] |                 x = d * (q - 8)
 *  Q4_1 (20 B)  | d:f16 | m:f16 | qs[16] |         x = d * q + m
 *               qs[j] low nibble = element j, high nibble = element j+16
 *  Q5_0 (22 B)  | d:f16 | qh[4] | qs[16] |         x = d * (q - 16)
 *  Q5_1 (24 B)  | d:f16 | m:f16 | qh[4] | qs[16] | x = d * q + m
 *               low 4 bits as Q4; bit 4 of element j is bit j of qh (as a
 *               little-endian uint32)
 *  Q8_0 (34 B)  | d:f16 | qs[32]:i8 |              x = d * q
 *
 * K-quants, super-blocks of 256 elements (QK_K = 256):
 *
 *  Q4_K (144 B) | d:f16 | dmin:f16 | scales[12] | qs[128] |
 *      8 sub-blocks of 32, each with a 6-bit scale sc and 6-bit min m:
 *      x = d * sc * q - dmin * m.  scales[12] packs them:
 *          j < 4:  sc = scales[j] & 63,        m = scales[j+4] & 63
 *          j >= 4: sc = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4
 *                  m  = (scales[j+4] >> 4) | (scales[j]   >> 6) << 4
 *      qs: four 32-byte groups; group g's low nibbles are sub-block 2g
 *      (elements 64g..64g+31), its high nibbles sub-block 2g+1.
 *  Q5_K (176 B) | d:f16 | dmin:f16 | scales[12] | qh[32] | qs[128] |
 *      as Q4_K plus a fifth bit: element 32s+l (sub-block s) takes bit s of
 *      qh[l] as its bit 4.
 *  Q6_K (210 B) | ql[128] | qh[64] | scales[16]:i8 | d:f16 |
 *      16 sub-blocks of 16, x = d * scales[e/16] * (q - 32), q 6 bits.
 *      Two halves h of 128 elements; for l < 32, with L = ql + 64h,
 *      H = qh + 32h, element 128h + 32t + l (t = 0..3) is
 *          low 4 bits:  t=0: L[l] & 15   t=1: L[l+32] & 15
 *                       t=2: L[l] >> 4   t=3: L[l+32] >> 4
 *          high 2 bits: (H[l] >> 2t) & 3
 *  Q8_K (292 B) | d:f32 | qs[256]:i8 | bsums[16]:i16 |
 *      activations only: x = d * q; bsums[i] = sum of qs[16i..16i+15].
 */
#define ENG_QK 32
#define ENG_QK_K 256

struct eng_block_q4_0 { eng_half d; uint8_t qs[ENG_QK / 2]; };
struct eng_block_q4_1 { eng_half d, m; uint8_t qs[ENG_QK / 2]; };
struct eng_block_q5_0 { eng_half d; uint8_t qh[4]; uint8_t qs[ENG_QK / 2]; };
struct eng_block_q5_1 { eng_half d, m; uint8_t qh[4]; uint8_t qs[ENG_QK / 2]; };
struct eng_block_q8_0 { eng_half d; int8_t qs[ENG_QK]; };
struct eng_block_q4_K {
    eng_half d, dmin;
    uint8_t scales[12];
    uint8_t qs[ENG_QK_K / 2];
};
struct eng_block_q5_K {
    eng_half d, dmin;
    uint8_t scales[12];
    uint8_t qh[ENG_QK_K / 8];
    uint8_t qs[ENG_QK_K / 2];
};
struct eng_block_q6_K {
    uint8_t ql[ENG_QK_K / 2];
    uint8_t qh[ENG_QK_K / 4];
    int8_t scales[ENG_QK_K / 16];
    eng_half d;
};
struct eng_block_q8_K {
    float d;
    int8_t qs[ENG_QK_K];
    int16_t bsums[ENG_QK_K / 16];
};

_Static_assert(sizeof(struct eng_block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(struct eng_block_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(struct eng_block_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(struct eng_block_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(struct eng_block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(struct eng_block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(struct eng_block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(struct eng_block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(struct eng_block_q8_K) == 292, "q8_K layout");

/* Decodes the 6-bit scale and min of sub-block j (0..7) of Q4_K/Q5_K. */
static inline void eng_k4_scale_min(const uint8_t scales[12], int j,
                                    uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4));
        *m = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

/* ---- the type table ---------------------------------------------------------
 * n counts elements and must be a multiple of the type's block size. */
typedef void (*eng_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*eng_from_float_fn)(const float *src, void *dst, int64_t n);
/* *s = dot(weight row w, activation row x); x is in the type's dot_type. */
typedef void (*eng_vec_dot_fn)(int64_t n, float *s, const void *w, const void *x);

struct eng_type_info {
    const char *name;         /* "Q4_K", as GGUF tools print it */
    int blck;                 /* elements per block (1 for plain types) */
    int bytes;                /* bytes per block */
    int dot_type;             /* activations' type for vec_dot; -1 if none */
    eng_to_float_fn to_float;     /* reference dequantise; NULL if unsupported */
    eng_from_float_fn from_float; /* reference quantise; NULL if unsupported */
    eng_vec_dot_fn vec_dot;       /* reference dot; NULL if no matmul */
};

/* The entry for a GGML type id; NULL for ids we do not know.  Known but
 * unsupported types (Q2_K, I32, ...) have sizes but NULL functions, so a
 * GGUF reader can still size their tensors. */
const struct eng_type_info *eng_type_get(int type);
/* Bytes of a row of n elements; 0 if the type is unknown or n is not a
 * multiple of its block size. */
size_t eng_row_bytes(int type, int64_t n);

/* Activation quantisers (also the from_float of Q8_0 / Q8_K).  Q8_0 and Q8_K
 * use d = max|x| / 127, q = round(x / d), so q is never -128. */
void eng_quantize_row_q8_0(const float *x, void *y, int64_t n);
void eng_quantize_row_q8_K(const float *x, void *y, int64_t n);

/* Reference quantise-from-float for every weight type (quant.c). */
void eng_quantize_row_f32(const float *x, void *y, int64_t n);
void eng_quantize_row_f16(const float *x, void *y, int64_t n);
void eng_quantize_row_bf16(const float *x, void *y, int64_t n);
void eng_quantize_row_q4_0(const float *x, void *y, int64_t n);
void eng_quantize_row_q4_1(const float *x, void *y, int64_t n);
void eng_quantize_row_q5_0(const float *x, void *y, int64_t n);
void eng_quantize_row_q5_1(const float *x, void *y, int64_t n);
void eng_quantize_row_q4_K(const float *x, void *y, int64_t n);
void eng_quantize_row_q5_K(const float *x, void *y, int64_t n);
void eng_quantize_row_q6_K(const float *x, void *y, int64_t n);

/* ---- CPU levels and the kernel table --------------------------------------- */
enum eng_cpu_level {
    ENG_CPU_GENERIC = 0,      /* portable C */
    ENG_CPU_AVX2 = 1,         /* AVX2 + FMA + F16C */
    ENG_CPU_AVX512 = 2,       /* AVX-512 F/BW/VL/DQ, no VNNI */
    ENG_CPU_AVX512_VNNI = 3,  /* the above + AVX512_VNNI */
    ENG_CPU_LEVELS = 4
};

/* Tile kernel: for r < nr, c < nc
 *     y[c * ldy + r] = dot(W row r, X row c)
 * W rows are wstride bytes apart, X rows (in the dot type) xstride bytes
 * apart, n elements each.  nr <= ENG_TILE_MAX and nc <= ENG_TILE_MAX. */
typedef void (*eng_tile_fn)(int64_t n, const void *w, size_t wstride, int nr,
                            const void *x, size_t xstride, int nc,
                            float *y, size_t ldy);
#define ENG_TILE_MAX 8

/* GEMV kernel (decode: one activation row): for r < nr
 *     y[r] = dot(W row r, x)
 * W rows wstride bytes apart, x one row in the dot type, n elements.  Each
 * weight byte is used once, so these are written to stream W at memory
 * speed (several rows in flight, activation-side work hoisted out of the
 * row loop).  A row's result must not depend on nr or on which rows share
 * the call, so threaded and unthreaded products stay bit-identical. */
typedef void (*eng_gemv_fn)(int64_t n, const void *w, size_t wstride, int nr,
                            const void *x, float *y);

struct eng_type_kernel {
    eng_tile_fn tile;  /* NULL: no matrix product for this type */
    int tile_r;        /* preferred weight rows per call (<= ENG_TILE_MAX) */
    int tile_c;        /* preferred activation rows per call */
    eng_gemv_fn gemv;  /* n == 1 products; NULL: the tile serves them */
};

struct eng_kernels {
    int level;                 /* enum eng_cpu_level */
    const char *name;          /* "generic", "avx2", "avx512", "avx512vnni" */
    struct eng_type_kernel t[ENG_TYPE_COUNT];
    /* activation quantisers; bit-identical to eng_quantize_row_q8_0/_K */
    eng_from_float_fn quantize_q8_0, quantize_q8_K;
};

/* The table for the best level this CPU has, or the one LORE_CPU asks for
 * (generic|avx2|avx512|avx512bw); chosen once, thread-safe, never NULL. */
const struct eng_kernels *eng_kernels_get(void);
/* The table for one level; NULL if the CPU (or this build) lacks it. */
const struct eng_kernels *eng_kernels_for_level(int level);
/* Best level the CPU supports (ignores LORE_CPU). */
int eng_cpu_best_level(void);
const char *eng_cpu_level_name(int level);
/* Physical cores available to this process (>= 1). */
int eng_cpu_physical_cores(void);

/* Filling the tables (called once by cpu.c): the reference fills every
 * supported type; the SIMD levels then override the types they speed up. */
void eng_kernels_fill_ref(struct eng_kernels *k);
void eng_kernels_fill_avx2(struct eng_kernels *k);
void eng_kernels_fill_avx512(struct eng_kernels *k, int vnni);

/* dot(W row, X row) through a table's tile kernel (tests, odd callers). */
float eng_vec_dot(const struct eng_kernels *k, int type, int64_t n,
                  const void *w, const void *x);

/* ---- thread pool ------------------------------------------------------------
 * A pool (and its scratch buffer) serves one calling thread at a time: give
 * each thread that runs model code its own pool. */
struct eng_pool;

/* Work item of a parallel-for: handle [begin, end); worker is 0..size-1
 * (0 is the calling thread). */
typedef void (*eng_pool_fn)(void *ctx, int64_t begin, int64_t end, int worker);

/* Starts a pool of nthreads threads in all (the caller counts as one);
 * nthreads <= 0 means eng_cpu_physical_cores().  Free with eng_pool_free. */
int eng_pool_new(int nthreads, struct eng_pool **out, struct lore_err *e);
void eng_pool_free(struct eng_pool *p);
/* Number of threads, the caller included; 1 for a NULL pool. */
int eng_pool_size(const struct eng_pool *p);
/* Calls fn over [0, n) in chunks whose sizes are multiples of grain (the
 * last may be shorter), spread over the pool, and returns when all are
 * done.  A NULL pool runs fn(ctx, 0, n, 0) inline.  One caller at a time;
 * fn must not call back into the same pool.  No allocation. */
void eng_pool_for(struct eng_pool *p, int64_t n, int64_t grain,
                  eng_pool_fn fn, void *ctx);
/* A pool-owned buffer of at least bytes (64-byte aligned), kept between
 * calls and grown when asked for more; NULL if that fails.  Valid until the
 * next eng_pool_scratch or eng_pool_free; the pool frees it. */
void *eng_pool_scratch(struct eng_pool *p, size_t bytes);

/* ---- matrix products ----------------------------------------------------------
 * Y[c][r] = sum_k W[r][k] * X[c][k]   for r < rows, c < n
 *   W: rows × cols of type wtype, rows eng_row_bytes(wtype, cols) apart
 *   X: n × cols floats; Y: n × rows floats (must not alias X)
 * Quantises X once (into the pool's scratch, or a temporary buffer when
 * pool is NULL) and splits W's rows over the pool.  Returns 0, LORE_EINVAL
 * (no kernel for wtype, cols not a multiple of its block) or LORE_ENOMEM. */
int eng_matmul(struct eng_pool *pool, int wtype, const void *w, int64_t rows,
               int64_t cols, const float *x, int64_t n, float *y,
               struct lore_err *e);
/* The same with an explicit kernel table (tests, benchmarks). */
int eng_matmul_k(const struct eng_kernels *k, struct eng_pool *pool, int wtype,
                 const void *w, int64_t rows, int64_t cols, const float *x,
                 int64_t n, float *y, struct lore_err *e);

/* ---- model weights (weights.c) ---------------------------------------------- */

struct eng_gguf;

/* A weight matrix as the model graphs use it: ne0 = row length, ne1 = rows. */
struct eng_weight {
    int type;
    const void *data;     /* into the GGUF mapping */
    int64_t ne0, ne1;
};

/* Tensor `name` of shape [ne0, ne1] (ne1 < 0: any number of rows), of a type
 * lore can compute with and whose rows are whole blocks. A missing tensor is
 * an error unless optional (then w->data is NULL). */
int eng_weight_get(const struct eng_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                   int optional, struct eng_weight *w, struct lore_err *e);
/* A vector [n] (rows 0), or the first `rows` rows of a table [n][>= rows],
 * as floats the caller frees; *out stays NULL for a missing optional tensor. */
int eng_weight_floats(const struct eng_gguf *g, const char *name, int64_t n, int64_t rows,
                      int optional, float **out, struct lore_err *e);

#endif
