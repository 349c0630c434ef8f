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
 *   32-blocks  x = Q8_0 byte; Q8_0 weights w signed:
 *              madd(maddubs(|w|, sign(x, w)), 1)   → 8 × int32, exact
 *              Q4_0/Q5_0 codes u = w + off unsigned:
 *              madd(maddubs(u, x), 1) − off·Σx     → 8 × int32, exact
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

#include <float.h>
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

/* One weight block as 32 bytes, *d its scale: Q8_0 signed values, Q4_0 and
 * Q5_0 unsigned codes (value = code - 8 / 16). */
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
        return nibbles32(b->qs);
    }
    const struct eng_block_q5_0 *b = (const void *)blk;
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    *d = h2f(b->d);
    __m256i hi = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(16));
    return _mm256_or_si256(nibbles32(b->qs), hi);
}

/* Q8_0 weights are signed: |w| · sign(x, w) through maddubs.  Q4_0 / Q5_0
 * codes u are unsigned and small, so maddubs(u, x) cannot saturate; the
 * offset comes off as off·Σx, computed once per activation block. */
INLINE void tile_b32(int64_t n, const char *w, size_t ws, const char *x, size_t xs,
                     float *y, size_t ldy, const int R, const int C, const int kind,
                     const size_t bsz)
{
    const int64_t nb = n / ENG_QK;
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i off = _mm256_set1_epi8(kind == B_Q4_0 ? 8 : 16);
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
            if (kind == B_Q8_0)
                av[r] = _mm256_abs_epi8(wv[r]);
            dw[r] = _mm256_set1_ps(d);
        }
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const struct eng_block_q8_0 *xb =
                (const struct eng_block_q8_0 *)(x + (size_t)c * xs) + ib;
            __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);
            __m256 dx = _mm256_set1_ps(h2f(xb->d));
            __m256i xoff = _mm256_setzero_si256();
            if (kind != B_Q8_0)
                xoff = _mm256_madd_epi16(_mm256_maddubs_epi16(off, xv), ones);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m256i p;
                if (kind == B_Q8_0) {
                    p = _mm256_maddubs_epi16(av[r], _mm256_sign_epi8(xv, wv[r]));
                    p = _mm256_madd_epi16(p, ones);
                } else {
                    p = _mm256_madd_epi16(_mm256_maddubs_epi16(wv[r], xv), ones);
                    p = _mm256_sub_epi32(p, xoff);
                }
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
 *   scv    int16 scales, 8 per 128-bit lane, such that broadcasting element
 *          k within each lane (shuffle SV_IDX(k)) gives the scale vector sv_k
 *          of chunk k: lanes 0-7 for elements 32k..32k+15, 8-15 the next 16
 *          Q4_K/Q5_K: both lanes sc0..sc7      (sv_k = sub-block k's scale)
 *          Q6_K:      sc0,sc2,..,sc14 | sc1,sc3,..,sc15   (scales[e/16])
 *   c16    16 × int16 weights of the activations' bsums in the correction
 *   dot = dx * (d * Σ_k Σ sv_k·u·x  −  dc * Σ_i c16[i]·bsums[i])
 *   Q4_K/Q5_K: c16[i] = min of sub-block i/2, dc = dmin
 *   Q6_K:      c16[i] = 32·scales[i],        dc = d                          */
struct kq {
    __m256i u[8];
    __m256i scv;
    __m256i c16;
    float d, dc;
};

#define SV_IDX(k) _mm256_set1_epi16((short)((2 * (k) + 1) << 8 | 2 * (k)))

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
        __m128i s8 = _mm_loadu_si128((const __m128i *)b->scales);
        const __m128i evens_odds = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14,
                                                 1, 3, 5, 7, 9, 11, 13, 15);
        U->scv = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s8, evens_odds));
        __m256i s16 = _mm256_cvtepi8_epi16(s8);
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
    uint64_t sc64, m64;
    memcpy(&sc64, sc, 8);
    memcpy(&m64, m, 8);
    U->scv = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc64)));
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
                    __m256i sv = _mm256_shuffle_epi8(U[r].scv, SV_IDX(k));
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sv));
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

/* ---- GEMV (one activation row) ------------------------------------------------------
 * As in kernels_avx512.c: each worker's chunk of rows is read one row at a
 * time as one linear stream (the hardware prefetcher's best case), two
 * accumulator chains per row, and the activation side (scales as floats,
 * the off·Σx term of Q4_0/Q5_0) prepared once per call.  Rows are
 * independent, so results do not depend on how the pool splits them. */

#define GEMV_SEG 8192

INLINE void gemv_b32(int64_t n, const char *w, size_t ws, int nr, const char *x, float *y,
                     const int kind, const size_t bsz)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i off = _mm256_set1_epi8(kind == B_Q4_0 ? 8 : 16);
    float dx[GEMV_SEG / ENG_QK];
    __m256i xoff[GEMV_SEG / ENG_QK];  /* unused for Q8_0 */
    for (int64_t s0 = 0; s0 < n; s0 += GEMV_SEG) {
        const int64_t nb = (n - s0 < GEMV_SEG ? n - s0 : GEMV_SEG) / ENG_QK;
        const struct eng_block_q8_0 *xb = (const struct eng_block_q8_0 *)x + s0 / ENG_QK;
        for (int64_t ib = 0; ib < nb; ib++) {
            dx[ib] = h2f(xb[ib].d);
            if (kind != B_Q8_0)
                xoff[ib] = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(off, _mm256_loadu_si256((const __m256i *)xb[ib].qs)),
                    ones);
        }
        const char *wseg = w + (size_t)(s0 / ENG_QK) * bsz;
        for (int r = 0; r < nr; r++) {
            const char *rp = wseg + (size_t)r * ws;
            __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int64_t ib = 0; ib < nb; ib++) {
                float d;
                __m256i wv = unpack32(rp + (size_t)ib * bsz, kind, &d);
                __m256i xv = _mm256_loadu_si256((const __m256i *)xb[ib].qs);
                __m256i p;
                if (kind == B_Q8_0) {
                    p = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
                    p = _mm256_madd_epi16(p, ones);
                } else {
                    p = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, xv), ones);
                    p = _mm256_sub_epi32(p, xoff[ib]);
                }
                acc[ib & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * dx[ib]),
                                              acc[ib & 1]);
            }
            float v = hsum(_mm256_add_ps(acc[0], acc[1]));
            y[r] = s0 > 0 ? y[r] + v : v;
        }
    }
}

INLINE void gemv_k(int64_t n, const char *w, size_t ws, int nr, const char *x, float *y,
                   const int kind, const size_t bsz)
{
    const int64_t nb = n / ENG_QK_K;
    const struct eng_block_q8_K *xb = (const struct eng_block_q8_K *)x;
    for (int r = 0; r < nr; r++) {
        const char *rp = w + (size_t)r * ws;
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int64_t ib = 0; ib < nb; ib++) {
            struct kq U;
            unpack_k(rp + (size_t)ib * bsz, kind, &U);
            __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xb[ib].qs + 32 * k));
                __m256i p = _mm256_maddubs_epi16(U.u[k], xv);
                __m256i sv = _mm256_shuffle_epi8(U.scv, SV_IDX(k));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sv));
            }
            __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb[ib].bsums),
                                             U.c16);
            __m256 a = acc[ib & 1];
            a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(U.d * xb[ib].d), a);
            a = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr), _mm256_set1_ps(U.dc * xb[ib].d), a);
            acc[ib & 1] = a;
        }
        y[r] = hsum(_mm256_add_ps(acc[0], acc[1]));
    }
}

/* F16 / F32 weights × float activations: four accumulators per row. */
INLINE void gemv_float(int64_t n, const char *w, size_t ws, int nr, const char *x, float *y,
                       const int kind, const size_t esz)
{
    const float *xf = (const float *)x;
    for (int r = 0; r < nr; r++) {
        const char *rp = w + (size_t)r * ws;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int64_t i = 0;
        for (; i + 32 <= n; i += 32) {
            a0 = _mm256_fmadd_ps(load8(rp + (size_t)i * esz, kind), _mm256_loadu_ps(xf + i), a0);
            a1 = _mm256_fmadd_ps(load8(rp + (size_t)(i + 8) * esz, kind),
                                 _mm256_loadu_ps(xf + i + 8), a1);
            a2 = _mm256_fmadd_ps(load8(rp + (size_t)(i + 16) * esz, kind),
                                 _mm256_loadu_ps(xf + i + 16), a2);
            a3 = _mm256_fmadd_ps(load8(rp + (size_t)(i + 24) * esz, kind),
                                 _mm256_loadu_ps(xf + i + 24), a3);
        }
        for (; i + 8 <= n; i += 8)
            a0 = _mm256_fmadd_ps(load8(rp + (size_t)i * esz, kind), _mm256_loadu_ps(xf + i), a0);
        float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; i < n; i++)
            s += load1(rp, i, kind) * xf[i];
        y[r] = s;
    }
}

#define DEF_GEMV(name, FN, KIND, BSZ)                                                   \
    static void name(int64_t n, const void *w, size_t ws, int nr, const void *x, float *y) \
    {                                                                                   \
        FN(n, w, ws, nr, x, y, KIND, BSZ);                                              \
    }

DEF_GEMV(gemv_f32, gemv_float, WF32, 4)
DEF_GEMV(gemv_f16, gemv_float, WF16, 2)
DEF_GEMV(gemv_bf16, gemv_float, WBF16, 2)
DEF_GEMV(gemv_q8_0, gemv_b32, B_Q8_0, sizeof(struct eng_block_q8_0))
DEF_GEMV(gemv_q4_0, gemv_b32, B_Q4_0, sizeof(struct eng_block_q4_0))
DEF_GEMV(gemv_q5_0, gemv_b32, B_Q5_0, sizeof(struct eng_block_q5_0))
DEF_GEMV(gemv_q4_K, gemv_k, K_Q4, sizeof(struct eng_block_q4_K))
DEF_GEMV(gemv_q5_K, gemv_k, K_Q5, sizeof(struct eng_block_q5_K))
DEF_GEMV(gemv_q6_K, gemv_k, K_Q6, sizeof(struct eng_block_q6_K))

/* ---- activation quantisers -------------------------------------------------------------
 * Bit-identical to quant.c: the same float operations in the same order
 * (max |x|, d = amax / 127, id = 1 / d, q = trunc(x·id ± 0.5) clamped to
 * ±127; NaN → INT_MIN → -127), eight lanes at a time. */

INLINE float amax8(const float *x, int n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8)      /* max(a, m) keeps m when a is NaN, as quant.c */
        m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), m);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* 32 floats × id → 32 int8 codes, and (if sums) their sum of each 16. */
INLINE void quant32(const float *x, float id, int8_t *q)
{
    const __m256 vid = _mm256_set1_ps(id), sign = _mm256_set1_ps(-0.0f),
                 half = _mm256_set1_ps(0.5f);
    const __m256i lim = _mm256_set1_epi32(127), nlim = _mm256_set1_epi32(-127);
    __m256i i32[4];
    for (int k = 0; k < 4; k++) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid);
        v = _mm256_add_ps(v, _mm256_or_ps(_mm256_and_ps(v, sign), half));
        __m256i t = _mm256_cvttps_epi32(v);
        i32[k] = _mm256_max_epi32(_mm256_min_epi32(t, lim), nlim);
    }
    /* pack 4×8 int32 → 32 int8 in order: packs work per 128-bit lane, so
     * undo the lane interleave with one permute */
    __m256i a = _mm256_packs_epi32(i32[0], i32[1]);
    __m256i b = _mm256_packs_epi32(i32[2], i32[3]);
    __m256i c = _mm256_packs_epi16(a, b);
    c = _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, c);
}

static void quantize_q8_0_avx2(const float *x, void *y, int64_t n)
{
    struct eng_block_q8_0 *b = y;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, x += ENG_QK) {
        float amax = amax8(x, ENG_QK);
        float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
        id = id <= FLT_MAX ? id : 0.0f;
        b->d = eng_fp32_to_fp16(d);
        quant32(x, id, b->qs);
    }
}

static void quantize_q8_K_avx2(const float *x, void *y, int64_t n)
{
    struct eng_block_q8_K *b = y;
    const __m256i ones8 = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, x += ENG_QK_K) {
        float amax = amax8(x, ENG_QK_K);
        float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
        id = id <= FLT_MAX ? id : 0.0f;
        b->d = d;
        for (int k = 0; k < ENG_QK_K / 32; k++) {
            quant32(x + 32 * k, id, b->qs + 32 * k);
            /* sums of 16: maddubs with ones gives pairs, madd/hadd the rest */
            __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * k));
            __m256i s16 = _mm256_maddubs_epi16(ones8, q);               /* 16 × pair sums */
            __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));  /* 8 × quad sums */
            __m128i lo = _mm256_castsi256_si128(s32), hi = _mm256_extracti128_si256(s32, 1);
            __m128i t = _mm_hadd_epi32(lo, hi);                          /* 4 × octets */
            t = _mm_hadd_epi32(t, t);                                    /* 2 × sixteens */
            b->bsums[2 * k] = (int16_t)_mm_cvtsi128_si32(t);
            b->bsums[2 * k + 1] = (int16_t)_mm_extract_epi32(t, 1);
        }
    }
}

void eng_kernels_fill_avx2(struct eng_kernels *k)
{
    k->quantize_q8_0 = quantize_q8_0_avx2;
    k->quantize_q8_K = quantize_q8_K_avx2;
    k->t[ENG_TYPE_F32] = (struct eng_type_kernel){tile_f32, 4, 2, gemv_f32};
    k->t[ENG_TYPE_F16] = (struct eng_type_kernel){tile_f16, 4, 2, gemv_f16};
    k->t[ENG_TYPE_BF16] = (struct eng_type_kernel){tile_bf16, 4, 2, gemv_bf16};
    k->t[ENG_TYPE_Q8_0] = (struct eng_type_kernel){tile_q8_0, 4, 2, gemv_q8_0};
    k->t[ENG_TYPE_Q4_0] = (struct eng_type_kernel){tile_q4_0, 4, 2, gemv_q4_0};
    k->t[ENG_TYPE_Q5_0] = (struct eng_type_kernel){tile_q5_0, 4, 2, gemv_q5_0};
    k->t[ENG_TYPE_Q4_K] = (struct eng_type_kernel){tile_q4_K, 1, 8, gemv_q4_K};
    k->t[ENG_TYPE_Q5_K] = (struct eng_type_kernel){tile_q5_K, 1, 8, gemv_q5_K};
    k->t[ENG_TYPE_Q6_K] = (struct eng_type_kernel){tile_q6_K, 1, 8, gemv_q6_K};
}
