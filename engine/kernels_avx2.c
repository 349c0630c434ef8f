/*
 * kernels_avx2.c — AVX2 + FMA + F16C tiles for F32, F16, BF16, Q8_0, Q4_0,
 * Q5_0, Q4_K, Q5_K and Q6_K.  Built with -mavx2 -mfma -mf16c -mbmi2; only
 * called when cpu.c found those features.
 *
 * Shape of every kernel: a tile of R weight rows × C activation rows keeps
 * R*C float accumulators; each weight block is unpacked once (to signed or
 * unsigned bytes plus scales) and reused for the C activation rows, then
 * multiplied with 8-bit integer dot products:
 *
 *   32-blocks  w = signed byte, x = Q8_0 byte:
 *              madd(maddubs(|w|, sign(x, w)), 1)   → 8 × int32, exact
 *   K-quants   u = unsigned code 0..63, x = Q8_K byte:
 *              Σ_k madd(maddubs(u_k, x_k), scale16_k) → 8 × int32, exact,
 *              then the per-sub-block mins (Q4_K/Q5_K) or the -32 offset
 *              (Q6_K) come from the activations' bsums in one more madd.
 *
 * The int32 sums are the reference's integer sums exactly, so results differ
 * from types.c only by float summation order.  Partial tiles are split into
 * R×1, 1×C and 1×1 instances of the same code.
 */
#include "engine/kernels.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE float h2f(eng_half h)
{
    return _cvtsh_ss(h);
}

/* Runs FN over an nr × nc tile in pieces of TR×TC, TR×1, 1×TC and 1×1, each
 * an instance of FN with constant R, C (so its accumulators live in
 * registers).  FN(n, w, ws, x, xs, y, ldy, R, C, KIND, BSZ). */
#define SPLIT_TILE(TR, TC, FN, KIND, BSZ)                                          \
    for (int r_ = 0; r_ < nr;) {                                                   \
        int rr_ = nr - r_ >= (TR) ? (TR) : 1;                                      \
        for (int c_ = 0; c_ < nc;) {                                               \
            int cc_ = nc - c_ >= (TC) ? (TC) : 1;                                  \
            const char *wp = (const char *)w + (size_t)r_ * ws;                    \
            const char *xp = (const char *)x + (size_t)c_ * xs;                    \
            float *yp = y + (size_t)c_ * ldy + (size_t)r_;                         \
            if (rr_ == (TR) && cc_ == (TC))                                        \
                FN(n, wp, ws, xp, xs, yp, ldy, TR, TC, KIND, BSZ);                 \
            else if (rr_ == (TR))                                                  \
                FN(n, wp, ws, xp, xs, yp, ldy, TR, 1, KIND, BSZ);                  \
            else if (cc_ == (TC))                                                  \
                FN(n, wp, ws, xp, xs, yp, ldy, 1, TC, KIND, BSZ);                  \
            else                                                                   \
                FN(n, wp, ws, xp, xs, yp, ldy, 1, 1, KIND, BSZ);                   \
            c_ += cc_;                                                             \
        }                                                                          \
        r_ += rr_;                                                                 \
    }

/* Defines tile kernel `name` from the inline FN. */
#define DEF_TILE(name, FN, KIND, BSZ, TR, TC)                                      \
    static void name(int64_t n, const void *w, size_t ws, int nr, const void *x,   \
                     size_t xs, int nc, float *y, size_t ldy)                      \
    {                                                                              \
        SPLIT_TILE(TR, TC, FN, KIND, BSZ)                                          \
    }

/* ---- float weights: F32, F16, BF16 × float activations -------------------------- */

enum { WF32, WF16, WBF16 };

INLINE __m256 load8(const char *p, int kind)
{
    if (kind == WF32)
        return _mm256_loadu_ps((const float *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (kind == WF16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE float load1(const char *p, int64_t i, int kind)
{
    if (kind == WF32)
        return ((const float *)p)[i];
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return kind == WF16 ? h2f(h) : eng_bf16_to_fp32(h);
}

INLINE void tile_float(int64_t n, const char *w, size_t ws, const char *x, size_t xs,
                       float *y, size_t ldy, const int R, const int C, const int kind,
                       const size_t esz)
{
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            acc[r][c] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 wv[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            wv[r] = load8(w + (size_t)r * ws + (size_t)i * esz, kind);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            __m256 xv = _mm256_loadu_ps((const float *)(x + (size_t)c * xs) + i);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            float s = hsum(acc[r][c]);
            const float *xr = (const float *)(x + (size_t)c * xs);
            for (int64_t k = i; k < n; k++)
                s += load1(w + (size_t)r * ws, k, kind) * xr[k];
            y[(size_t)c * ldy + (size_t)r] = s;
        }
}

DEF_TILE(tile_f32, tile_float, WF32, 4, 4, 2)
DEF_TILE(tile_f16, tile_float, WF16, 2, 4, 2)
DEF_TILE(tile_bf16, tile_float, WBF16, 2, 4, 2)

/* ---- 32-element blocks × Q8_0 ------------------------------------------------------- */

/* 32 bits → 32 bytes, 0xFF where the bit is set (bit j → byte j). */
INLINE __m256i bits_to_bytes(uint32_t bits)
{
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* Low nibbles of 16 bytes as elements 0..15, high nibbles as 16..31. */
INLINE __m256i nibbles32(const uint8_t *qs)
{
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

enum { B_Q8_0, B_Q4_0, B_Q5_0 };

/* One weight block as 32 signed bytes; *d its scale. */
INLINE __m256i unpack32(const char *blk, int kind, float *d)
{
    if (kind == B_Q8_0) {
        const struct eng_block_q8_0 *b = (const void *)blk;
        *d = h2f(b->d);
        return _mm256_loadu_si256((const __m256i *)b->qs);
    }
    if (kind == B_Q4_0) {
        const struct eng_block_q4_0 *b = (const void *)blk;
        *d = h2f(b->d);
        return _mm256_sub_epi8(nibbles32(b->qs), _mm256_set1_epi8(8));
    }
    const struct eng_block_q5_0 *b = (const void *)blk;
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    *d = h2f(b->d);
    __m256i hi = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(16));
    return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b->qs), hi), _mm256_set1_epi8(16));
}

INLINE void tile_b32(int64_t n, const char *w, size_t ws, const char *x, size_t xs,
                     float *y, size_t ldy, const int R, const int C, const int kind,
                     const size_t bsz)
{
    const int64_t nb = n / ENG_QK;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            acc[r][c] = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        __m256i wv[4], av[4];
        __m256 dw[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            float d;
            wv[r] = unpack32(w + (size_t)r * ws + (size_t)ib * bsz, kind, &d);
            av[r] = _mm256_abs_epi8(wv[r]);
            dw[r] = _mm256_set1_ps(d);
        }
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const struct eng_block_q8_0 *xb =
                (const struct eng_block_q8_0 *)(x + (size_t)c * xs) + ib;
            __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);
            __m256 dx = _mm256_set1_ps(h2f(xb->d));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m256i p = _mm256_maddubs_epi16(av[r], _mm256_sign_epi8(xv, wv[r]));
                p = _mm256_madd_epi16(p, ones);
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw[r], dx),
                                            acc[r][c]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            y[(size_t)c * ldy + (size_t)r] = hsum(acc[r][c]);
}

DEF_TILE(tile_q8_0, tile_b32, B_Q8_0, sizeof(struct eng_block_q8_0), 4, 2)
DEF_TILE(tile_q4_0, tile_b32, B_Q4_0, sizeof(struct eng_block_q4_0), 4, 2)
DEF_TILE(tile_q5_0, tile_b32, B_Q5_0, sizeof(struct eng_block_q5_0), 4, 2)

/* ---- K-quants × Q8_K -------------------------------------------------------------------
 * A super-block unpacked for dotting:
 *   u[k]   codes of elements 32k..32k+31 as unsigned bytes
 *   sv[k]  16 × int16 scale for those elements' products (lanes 0-7 cover
 *          elements 32k..32k+15, lanes 8-15 the next 16)
 *   c16    16 × int16 weights of the activations' bsums in the correction
 *   dot = dx * (d * Σ_k Σ sv·u·x  −  dc * Σ_i c16[i]·bsums[i])
 *   Q4_K/Q5_K: sv = sub-block scale, c16[i] = min of sub-block i/2, dc = dmin
 *   Q6_K:      sv = scales[e/16],   c16[i] = 32·scales[i],        dc = d     */
struct kq {
    __m256i u[8];
    __m256i sv[8];
    __m256i c16;
    float d, dc;
};

enum { K_Q4, K_Q5, K_Q6 };

/* Q4_K/Q5_K 6-bit scales and mins from the packed 12 bytes, 8 each. */
INLINE void k4_scales(const uint8_t *packed, uint8_t sc[8], uint8_t m[8])
{
    uint32_t s[3], o[4];
    memcpy(s, packed, 12);
    o[0] = s[0] & 0x3f3f3f3fu;
    o[1] = (s[2] & 0x0f0f0f0fu) | ((s[0] >> 6) & 0x03030303u) << 4;
    o[2] = s[1] & 0x3f3f3f3fu;
    o[3] = ((s[2] >> 4) & 0x0f0f0f0fu) | ((s[1] >> 6) & 0x03030303u) << 4;
    memcpy(sc, o, 8);
    memcpy(m, o + 2, 8);
}

INLINE void unpack_k(const char *blk, int kind, struct kq *U)
{
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    if (kind == K_Q6) {
        const struct eng_block_q6_K *b = (const void *)blk;
        const __m256i m3 = _mm256_set1_epi8(3);
        for (int h = 0; h < 2; h++) {
            __m256i L0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
            __m256i L1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
            __m256i H = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
            __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(H, m3), 4);
            __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2), m3), 4);
            __m256i h2 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 4), m3), 4);
            __m256i h3 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 6), m3), 4);
            U->u[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(L0, m4), h0);
            U->u[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(L1, m4), h1);
            U->u[4 * h + 2] =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m4), h2);
            U->u[4 * h + 3] =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m4), h3);
        }
        for (int k = 0; k < 8; k++)
            U->sv[k] = _mm256_set_m128i(_mm_set1_epi16(b->scales[2 * k + 1]),
                                        _mm_set1_epi16(b->scales[2 * k]));
        __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        U->c16 = _mm256_slli_epi16(s16, 5);
        U->d = U->dc = h2f(b->d);
        return;
    }
    /* Q4_K and Q5_K share the head: d, dmin, scales[12] */
    const struct eng_block_q4_K *b4 = (const void *)blk;
    const uint8_t *qs = kind == K_Q4 ? b4->qs : ((const struct eng_block_q5_K *)(const void *)blk)->qs;
    uint8_t sc[8], m[8];
    k4_scales(b4->scales, sc, m);
    __m256i hb = _mm256_setzero_si256();
    if (kind == K_Q5)
        hb = _mm256_loadu_si256((const __m256i *)((const struct eng_block_q5_K *)(const void *)blk)->qh);
    for (int g = 0; g < 4; g++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
        __m256i lo = _mm256_and_si256(q, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (kind == K_Q5) {
            __m128i s0 = _mm_cvtsi32_si128(2 * g), s1 = _mm_cvtsi32_si128(2 * g + 1);
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(
                                         _mm256_and_si256(_mm256_srl_epi16(hb, s0), one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(
                                         _mm256_and_si256(_mm256_srl_epi16(hb, s1), one), 4));
        }
        U->u[2 * g] = lo;
        U->u[2 * g + 1] = hi;
    }
    for (int k = 0; k < 8; k++)
        U->sv[k] = _mm256_set1_epi16(sc[k]);
    uint64_t m64;
    memcpy(&m64, m, 8);
    const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    U->c16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_cvtsi64_si128((long long)m64), dup));
    U->d = h2f(b4->d);
    U->dc = h2f(b4->dmin);
}

INLINE void tile_k(int64_t n, const char *w, size_t ws, const char *x, size_t xs,
                   float *y, size_t ldy, const int R, const int C, const int kind,
                   const size_t bsz)
{
    const int64_t nb = n / ENG_QK_K;
    __m256 acc[2][8];
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int c = 0; c < C; c++)
            acc[r][c] = _mm256_setzero_ps();
    struct kq U[2];
    for (int64_t ib = 0; ib < nb; ib++) {
#pragma GCC unroll 2
        for (int r = 0; r < R; r++)
            unpack_k(w + (size_t)r * ws + (size_t)ib * bsz, kind, &U[r]);
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            const struct eng_block_q8_K *xb =
                (const struct eng_block_q8_K *)(x + (size_t)c * xs) + ib;
#pragma GCC unroll 2
            for (int r = 0; r < R; r++) {
                __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++) {
                    __m256i xv = _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * k));
                    __m256i p = _mm256_maddubs_epi16(U[r].u[k], xv);
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, U[r].sv[k]));
                }
                __m256i corr = _mm256_madd_epi16(
                    _mm256_loadu_si256((const __m256i *)xb->bsums), U[r].c16);
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi),
                                            _mm256_set1_ps(U[r].d * xb->d), acc[r][c]);
                acc[r][c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr),
                                             _mm256_set1_ps(U[r].dc * xb->d), acc[r][c]);
            }
        }
    }
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int c = 0; c < C; c++)
            y[(size_t)c * ldy + (size_t)r] = hsum(acc[r][c]);
}

DEF_TILE(tile_q4_K, tile_k, K_Q4, sizeof(struct eng_block_q4_K), 1, 8)
DEF_TILE(tile_q5_K, tile_k, K_Q5, sizeof(struct eng_block_q5_K), 1, 8)
DEF_TILE(tile_q6_K, tile_k, K_Q6, sizeof(struct eng_block_q6_K), 1, 8)

void eng_kernels_fill_avx2(struct eng_kernels *k)
{
    k->t[ENG_TYPE_F32] = (struct eng_type_kernel){tile_f32, 4, 2};
    k->t[ENG_TYPE_F16] = (struct eng_type_kernel){tile_f16, 4, 2};
    k->t[ENG_TYPE_BF16] = (struct eng_type_kernel){tile_bf16, 4, 2};
    k->t[ENG_TYPE_Q8_0] = (struct eng_type_kernel){tile_q8_0, 4, 2};
    k->t[ENG_TYPE_Q4_0] = (struct eng_type_kernel){tile_q4_0, 4, 2};
    k->t[ENG_TYPE_Q5_0] = (struct eng_type_kernel){tile_q5_0, 4, 2};
    k->t[ENG_TYPE_Q4_K] = (struct eng_type_kernel){tile_q4_K, 1, 8};
    k->t[ENG_TYPE_Q5_K] = (struct eng_type_kernel){tile_q5_K, 1, 8};
    k->t[ENG_TYPE_Q6_K] = (struct eng_type_kernel){tile_q6_K, 1, 8};
}
