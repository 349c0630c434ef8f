/*
 * kernels_avx512.c — AVX-512 tiles for F32, F16, BF16, Q8_0, Q4_0, Q5_0,
 * Q4_K, Q5_K and Q6_K, in two flavours filled from one source: with VNNI
 * (vpdpbusd / vpdpwssd) and with AVX-512BW only (vpmaddubsw + vpmaddwd).
 * Built with -mavx512f/bw/vl/dq/vnni; cpu.c picks the flavour the CPU has.
 *
 * Same tile shape as kernels_avx2.c (R weight rows × C activation rows,
 * weight blocks unpacked once per tile), at twice the width:
 *
 *   32-blocks  two blocks per 512-bit register (an odd last block runs with
 *              the upper half zero).  VNNI: weights as unsigned codes
 *              u = w + off (off = 128 for Q8_0, 8 for Q4_0, 16 for Q5_0 —
 *              for the last two that is simply the stored code) so one
 *              dpbusd gives Σu·x, and the accumulator starts at −off·Σx
 *              (itself one dpbusd per activation block, shared by the R
 *              rows).  BW: |w| × sign-adjusted x with maddubs, as AVX2.
 *   K-quants   64 elements per register; maddubs of unsigned codes with the
 *              activations, then the int16 sub-block scales with dpwssd
 *              (VNNI) or madd + add (BW); mins / Q6_K offset via bsums.
 *
 * Integer sums are exact, so results equal the reference up to float
 * summation order.
 */
#include "engine/kernels.h"

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))
#define VNNI 16               /* added to a kind: use the VNNI instructions */

INLINE float h2f(eng_half h)
{
    return _cvtsh_ss(h);
}

INLINE __m512i join256(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* See kernels_avx2.c: runs FN over an nr × nc tile in TR×TC, TR×1, 1×TC, 1×1
 * pieces with constant R, C. */
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

#define DEF_TILE(name, FN, KIND, BSZ, TR, TC)                                      \
    static void name(int64_t n, const void *w, size_t ws, int nr, const void *x,   \
                     size_t xs, int nc, float *y, size_t ldy)                      \
    {                                                                              \
        SPLIT_TILE(TR, TC, FN, KIND, BSZ)                                          \
    }

/* ---- float weights ------------------------------------------------------------------- */

enum { WF32, WF16, WBF16 };

/* Up to 16 weights from element i of a row (mask selects the valid ones). */
INLINE __m512 loadw16(const char *row, int64_t i, __mmask16 m, int kind)
{
    if (kind == WF32)
        return m == 0xffff ? _mm512_loadu_ps((const float *)row + i)
                           : _mm512_maskz_loadu_ps(m, (const float *)row + i);
    __m256i h = m == 0xffff ? _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i))
                            : _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i);
    if (kind == WF16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE void tile_float(int64_t n, const char *w, size_t ws, const char *x, size_t xs,
                       float *y, size_t ldy, const int R, const int C, const int kind,
                       const size_t unused)
{
    (void)unused;
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            acc[r][c] = _mm512_setzero_ps();
    /* full vectors, then one masked pass for the tail */
    for (int64_t i = 0; i < n; i += 16) {
        const int full = n - i >= 16;
        __mmask16 m = full ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 wv[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            wv[r] = loadw16(w + (size_t)r * ws, i, m, kind);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const float *xr = (const float *)(x + (size_t)c * xs) + i;
            __m512 xv = full ? _mm512_loadu_ps(xr) : _mm512_maskz_loadu_ps(m, xr);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                acc[r][c] = _mm512_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            y[(size_t)c * ldy + (size_t)r] = _mm512_reduce_add_ps(acc[r][c]);
}

DEF_TILE(tile_f32, tile_float, WF32, 4, 4, 4)
DEF_TILE(tile_f16, tile_float, WF16, 2, 4, 4)
DEF_TILE(tile_bf16, tile_float, WBF16, 2, 4, 4)

/* ---- 32-element blocks × Q8_0, two blocks per register ------------------------------- */

enum { B_Q8_0, B_Q4_0, B_Q5_0 };

/* The fp16 scales of two blocks as 16 lanes: 0-7 = d0, 8-15 = d1 (0 if !two). */
INLINE __m512 scales2(const eng_half *d0, const eng_half *d1, int two)
{
    uint32_t h = *d0 | (uint32_t)(two ? *d1 : 0) << 16;
    __m512 v = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)h)));
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    return _mm512_permutexvar_ps(idx, v);
}

/* Two blocks' 16 nibble bytes as 64 codes in element order:
 * [b0 low nibbles, b0 high nibbles, b1 low, b1 high]. */
INLINE __m512i nibbles64(const uint8_t *qs0, const uint8_t *qs1, int two)
{
    __m128i t0 = _mm_loadu_si128((const __m128i *)qs0);
    __m128i t1 = two ? _mm_loadu_si128((const __m128i *)qs1) : _mm_setzero_si128();
    __m512i t = _mm512_castsi256_si512(_mm256_set_m128i(t1, t0));
    t = _mm512_shuffle_i64x2(t, t, _MM_SHUFFLE(1, 1, 0, 0));      /* qs0 qs0 qs1 qs1 */
    const __m512i sh = _mm512_setr_epi64(0, 0, 0x0004000400040004ll, 0x0004000400040004ll,
                                         0, 0, 0x0004000400040004ll, 0x0004000400040004ll);
    return _mm512_and_si512(_mm512_srlv_epi16(t, sh), _mm512_set1_epi8(15));
}

/* Blocks ib (and ib+1 if two) of a weight row as 64 codes, *dw their scales.
 * Q8_0: signed values; Q4_0 / Q5_0: unsigned codes (value = code - 8 / 16).
 * When !two the upper 32 codes are zero. */
INLINE __m512i unpack2(const char *row, int64_t ib, int two, int kind, size_t bsz,
                       __m512 *dw)
{
    const char *b0 = row + (size_t)ib * bsz, *b1 = b0 + bsz;
    if (kind == B_Q8_0) {
        const struct eng_block_q8_0 *x0 = (const void *)b0, *x1 = (const void *)b1;
        *dw = scales2(&x0->d, &x1->d, two);
        __m256i lo = _mm256_loadu_si256((const __m256i *)x0->qs);
        if (!two)
            return _mm512_zextsi256_si512(lo);
        return join256(lo, _mm256_loadu_si256((const __m256i *)x1->qs));
    }
    if (kind == B_Q4_0) {
        const struct eng_block_q4_0 *x0 = (const void *)b0, *x1 = (const void *)b1;
        *dw = scales2(&x0->d, &x1->d, two);
        return nibbles64(x0->qs, x1->qs, two);
    }
    const struct eng_block_q5_0 *x0 = (const void *)b0, *x1 = (const void *)b1;
    *dw = scales2(&x0->d, &x1->d, two);
    __m512i v = nibbles64(x0->qs, x1->qs, two);
    /* qh into mask registers (qh is not 4-byte aligned: memcpy) */
    uint32_t h0, h1 = 0;
    memcpy(&h0, x0->qh, 4);
    if (two)
        memcpy(&h1, x1->qh, 4);
    __mmask64 hb = _mm512_kunpackd(_cvtu32_mask32(h1), _cvtu32_mask32(h0));
    return _mm512_mask_add_epi8(v, hb, v, _mm512_set1_epi8(16));
}

INLINE void tile_b32(int64_t n, const char *w, size_t ws, const char *x, size_t xs,
                     float *y, size_t ldy, const int R, const int C, const int kindv,
                     const size_t bsz)
{
    const int kind = kindv & (VNNI - 1), vnni = kindv & VNNI;
    const int64_t nb = n / ENG_QK;
    const __m512i ones = _mm512_set1_epi16(1);
    const __m512i off = _mm512_set1_epi8((char)(kind == B_Q8_0 ? 128 : kind == B_Q4_0 ? 8 : 16));
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            acc[r][c] = _mm512_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib += 2) {
        const int two = ib + 1 < nb;
        __m512i wq[4], aw[4];
        __mmask64 neg[4];
        __m512 dw[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m512i v = unpack2(w + (size_t)r * ws, ib, two, kind, bsz, &dw[r]);
            if (vnni) {                   /* unsigned codes: Q8_0 gets +128 */
                wq[r] = kind == B_Q8_0 ? _mm512_xor_si512(v, off) : v;
            } else {                      /* signed values */
                if (kind != B_Q8_0)
                    v = _mm512_sub_epi8(v, off);
                wq[r] = v;
                aw[r] = _mm512_abs_epi8(v);
                neg[r] = _mm512_movepi8_mask(v);
            }
        }
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const struct eng_block_q8_0 *xb =
                (const struct eng_block_q8_0 *)(x + (size_t)c * xs) + ib;
            __m256i xlo = _mm256_loadu_si256((const __m256i *)xb[0].qs);
            __m512 dx = scales2(&xb[0].d, &xb[1].d, two);
            __m512i xv = two ? join256(xlo, _mm256_loadu_si256((const __m256i *)xb[1].qs))
                             : _mm512_zextsi256_si512(xlo);
            __m512i nxc = _mm512_setzero_si512();
            if (vnni)
                nxc = _mm512_sub_epi32(nxc, _mm512_dpbusd_epi32(nxc, off, xv));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m512i p;
                if (vnni) {
                    p = _mm512_dpbusd_epi32(nxc, wq[r], xv);
                } else {
                    __m512i sx = _mm512_mask_sub_epi8(xv, neg[r], _mm512_setzero_si512(), xv);
                    p = _mm512_madd_epi16(_mm512_maddubs_epi16(aw[r], sx), ones);
                }
                acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw[r], dx),
                                            acc[r][c]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            y[(size_t)c * ldy + (size_t)r] = _mm512_reduce_add_ps(acc[r][c]);
}

#define Q8S sizeof(struct eng_block_q8_0)
#define Q4S sizeof(struct eng_block_q4_0)
#define Q5S sizeof(struct eng_block_q5_0)
DEF_TILE(tile_q8_0_bw, tile_b32, B_Q8_0, Q8S, 4, 4)
DEF_TILE(tile_q4_0_bw, tile_b32, B_Q4_0, Q4S, 4, 4)
DEF_TILE(tile_q5_0_bw, tile_b32, B_Q5_0, Q5S, 4, 4)
DEF_TILE(tile_q8_0_vnni, tile_b32, B_Q8_0 + VNNI, Q8S, 4, 4)
DEF_TILE(tile_q4_0_vnni, tile_b32, B_Q4_0 + VNNI, Q4S, 4, 4)
DEF_TILE(tile_q5_0_vnni, tile_b32, B_Q5_0 + VNNI, Q5S, 4, 4)

/* ---- GEMV: 32-element blocks × one Q8_0 activation row ----------------------------------
 * Decode's products: every weight byte is used once, so what counts is
 * streaming W at memory speed.  Measured on the target (Zen 4 VM, weights
 * in DRAM, 896-element rows): the 4-row × 1 tiles read ~7 GB/s per core, a
 * plain linear read ~22 GB/s.  Four short rows interleaved are four short
 * streams the hardware prefetcher keeps losing; what gets close is
 *   - one row at a time, so a worker's chunk of rows (adjacent in memory)
 *     is one linear stream, with two accumulator chains per row;
 *   - all activation-side work (two blocks per register, their scales
 *     spread to lanes, the −off·Σx term) done once per call into an
 *     L1-resident buffer rather than once per row.
 * Software prefetch (T0/T1, 2-64 KiB ahead) helped the 4-row order but not
 * this one, so there is none.  Each row's arithmetic is independent of the
 * others: results do not depend on how the pool splits the rows. */

#define GEMV_SEG 8192     /* activation elements prepared per pass */

struct xpair {
    __m512i xv;           /* two activation blocks */
    __m512i nxc;          /* −off·Σx per int32 lane */
    __m512 dx;            /* their scales, 8 lanes each */
};

/* Product of one pair of weight blocks (v from unpack2) with xp, as 16 int32. */
INLINE __m512i pair_dot(__m512i v, const struct xpair *xp, int kind, int vnni)
{
    const __m512i off = _mm512_set1_epi8((char)(kind == B_Q8_0 ? 128 : kind == B_Q4_0 ? 8 : 16));
    if (vnni)
        return _mm512_dpbusd_epi32(xp->nxc, kind == B_Q8_0 ? _mm512_xor_si512(v, off) : v, xp->xv);
    const __m512i ones = _mm512_set1_epi16(1);
    if (kind == B_Q8_0) {
        __m512i sx = _mm512_mask_sub_epi8(xp->xv, _mm512_movepi8_mask(v), _mm512_setzero_si512(),
                                          xp->xv);
        return _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(v), sx), ones);
    }
    return _mm512_add_epi32(_mm512_madd_epi16(_mm512_maddubs_epi16(v, xp->xv), ones), xp->nxc);
}

INLINE void gemv_b32(int64_t n, const char *w, size_t ws, int nr, const char *x, float *y,
                     const int kindv, const size_t bsz)
{
    const int kind = kindv & (VNNI - 1), vnni = kindv & VNNI;
    const __m512i off = _mm512_set1_epi8((char)(kind == B_Q8_0 ? 128 : kind == B_Q4_0 ? 8 : 16));
    struct xpair xp[GEMV_SEG / 64];
    for (int64_t s0 = 0; s0 < n; s0 += GEMV_SEG) {
        const int64_t nb = (n - s0 < GEMV_SEG ? n - s0 : GEMV_SEG) / ENG_QK;
        const int64_t np = nb / 2;           /* full pairs; an odd block is the tail */
        const struct eng_block_q8_0 *xb = (const struct eng_block_q8_0 *)x + s0 / ENG_QK;
        for (int64_t p = 0; p < (nb + 1) / 2; p++) {
            const int two = 2 * p + 1 < nb;
            const struct eng_block_q8_0 *b = xb + 2 * p;
            __m256i lo = _mm256_loadu_si256((const __m256i *)b[0].qs);
            xp[p].xv = two ? join256(lo, _mm256_loadu_si256((const __m256i *)b[1].qs))
                           : _mm512_zextsi256_si512(lo);
            xp[p].dx = scales2(&b[0].d, &b[1].d, two);
            __m512i sx = vnni ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, xp[p].xv)
                              : _mm512_madd_epi16(_mm512_maddubs_epi16(off, xp[p].xv),
                                                  _mm512_set1_epi16(1));
            xp[p].nxc = _mm512_sub_epi32(_mm512_setzero_si512(), sx);
        }
        const char *wseg = w + (size_t)(s0 / ENG_QK) * bsz;
        for (int r = 0; r < nr; r++) {
            const char *rp = wseg + (size_t)r * ws;
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
            int64_t p = 0;
            for (; p + 2 <= np; p += 2) {
                __m512 dw0, dw1;
                __m512i v0 = unpack2(rp, 2 * p, 1, kind, bsz, &dw0);
                __m512i v1 = unpack2(rp, 2 * p + 2, 1, kind, bsz, &dw1);
                __m512i d0 = pair_dot(v0, &xp[p], kind, vnni);
                __m512i d1 = pair_dot(v1, &xp[p + 1], kind, vnni);
                a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), _mm512_mul_ps(dw0, xp[p].dx), a0);
                a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1), _mm512_mul_ps(dw1, xp[p + 1].dx),
                                     a1);
            }
            for (; p < (nb + 1) / 2; p++) {  /* a last full pair, then an odd block */
                __m512 dw;
                __m512i v;
                if (2 * p + 1 < nb)
                    v = unpack2(rp, 2 * p, 1, kind, bsz, &dw);
                else
                    v = unpack2(rp, 2 * p, 0, kind, bsz, &dw);
                __m512i d = pair_dot(v, &xp[p], kind, vnni);
                a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(dw, xp[p].dx), a0);
            }
            float v = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
            y[r] = s0 > 0 ? y[r] + v : v;
        }
    }
}

#define DEF_GEMV(name, FN, KIND, BSZ)                                                   \
    static void name(int64_t n, const void *w, size_t ws, int nr, const void *x, float *y) \
    {                                                                                   \
        FN(n, w, ws, nr, x, y, KIND, BSZ);                                              \
    }

DEF_GEMV(gemv_q8_0_bw, gemv_b32, B_Q8_0, sizeof(struct eng_block_q8_0))
DEF_GEMV(gemv_q4_0_bw, gemv_b32, B_Q4_0, sizeof(struct eng_block_q4_0))
DEF_GEMV(gemv_q5_0_bw, gemv_b32, B_Q5_0, sizeof(struct eng_block_q5_0))
DEF_GEMV(gemv_q8_0_vnni, gemv_b32, B_Q8_0 + VNNI, sizeof(struct eng_block_q8_0))
DEF_GEMV(gemv_q4_0_vnni, gemv_b32, B_Q4_0 + VNNI, sizeof(struct eng_block_q4_0))
DEF_GEMV(gemv_q5_0_vnni, gemv_b32, B_Q5_0 + VNNI, sizeof(struct eng_block_q5_0))

/* ---- K-quants × Q8_K ---------------------------------------------------------------------
 * Unpacked super-block, as in kernels_avx2.c but 64 elements per register:
 *   u[j]   codes of elements 64j..64j+63 (unsigned bytes)
 *   sv[j]  32 × int16 scales for the maddubs pairs of those elements
 *   c16    16 × int16 weights of the activations' bsums in the correction
 *   dot = dx * (d * Σ sv·u·x − dc * Σ c16·bsums)                            */
struct kq {
    __m512i u[4];
    __m512i sv[4];
    __m256i c16;
    float d, dc;
};

enum { K_Q4, K_Q5, K_Q6 };

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

/* The four scale vectors from s16 (the int16 scale of each 16 elements):
 * sv[j] lane l = s16[4j + l/8], matching maddubs pairs of elements 64j... */
INLINE void spread_scales(__m256i s16, __m512i sv[4])
{
    const __m512i base = _mm512_cvtepu8_epi16(_mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    __m512i s = _mm512_castsi256_si512(s16);
    for (int j = 0; j < 4; j++)
        sv[j] = _mm512_permutexvar_epi16(_mm512_add_epi16(base, _mm512_set1_epi16((short)(4 * j))),
                                         s);
}

INLINE void unpack_k(const char *blk, int kind, struct kq *U)
{
    const __m256i m4 = _mm256_set1_epi8(15);
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
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(L0, m4), h0);
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(L1, m4), h1);
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m4), h2);
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m4), h3);
            U->u[2 * h] = join256(q0, q1);
            U->u[2 * h + 1] = join256(q2, q3);
        }
        __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        spread_scales(s16, U->sv);
        U->c16 = _mm256_slli_epi16(s16, 5);
        U->d = U->dc = h2f(b->d);
        return;
    }
    const struct eng_block_q4_K *b4 = (const void *)blk;
    const struct eng_block_q5_K *b5 = (const void *)blk;
    const uint8_t *qs = kind == K_Q4 ? b4->qs : b5->qs;
    uint8_t sc[8], m[8];
    k4_scales(b4->scales, sc, m);
    __m256i hb = _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi8(1);
    if (kind == K_Q5)
        hb = _mm256_loadu_si256((const __m256i *)b5->qh);
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
        U->u[g] = join256(lo, hi);
    }
    uint64_t sc64, m64;
    memcpy(&sc64, sc, 8);
    memcpy(&m64, m, 8);
    const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    spread_scales(_mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_cvtsi64_si128((long long)sc64), dup)),
                  U->sv);
    U->c16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_cvtsi64_si128((long long)m64), dup));
    U->d = h2f(b4->d);
    U->dc = h2f(b4->dmin);
}

INLINE void tile_k(int64_t n, const char *w, size_t ws, const char *x, size_t xs,
                   float *y, size_t ldy, const int R, const int C, const int kindv,
                   const size_t bsz)
{
    const int kind = kindv & (VNNI - 1), vnni = kindv & VNNI;
    const int64_t nb = n / ENG_QK_K;
    __m512 acc[2][8];
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int c = 0; c < C; c++)
            acc[r][c] = _mm512_setzero_ps();
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
                __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    __m512i xv = _mm512_loadu_si512((const void *)(xb->qs + 64 * j));
                    __m512i p = _mm512_maddubs_epi16(U[r].u[j], xv);
                    if (vnni)
                        sumi = _mm512_dpwssd_epi32(sumi, p, U[r].sv[j]);
                    else
                        sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(p, U[r].sv[j]));
                }
                __m256i corr = _mm256_madd_epi16(
                    _mm256_loadu_si256((const __m256i *)xb->bsums), U[r].c16);
                acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi),
                                            _mm512_set1_ps(U[r].d * xb->d), acc[r][c]);
                acc[r][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(corr)),
                                             _mm512_set1_ps(U[r].dc * xb->d), acc[r][c]);
            }
        }
    }
#pragma GCC unroll 2
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int c = 0; c < C; c++)
            y[(size_t)c * ldy + (size_t)r] = _mm512_reduce_add_ps(acc[r][c]);
}

#define Q4KS sizeof(struct eng_block_q4_K)
#define Q5KS sizeof(struct eng_block_q5_K)
#define Q6KS sizeof(struct eng_block_q6_K)
DEF_TILE(tile_q4_K_bw, tile_k, K_Q4, Q4KS, 1, 8)
DEF_TILE(tile_q5_K_bw, tile_k, K_Q5, Q5KS, 1, 8)
DEF_TILE(tile_q6_K_bw, tile_k, K_Q6, Q6KS, 1, 8)
DEF_TILE(tile_q4_K_vnni, tile_k, K_Q4 + VNNI, Q4KS, 1, 8)
DEF_TILE(tile_q5_K_vnni, tile_k, K_Q5 + VNNI, Q5KS, 1, 8)
DEF_TILE(tile_q6_K_vnni, tile_k, K_Q6 + VNNI, Q6KS, 1, 8)

void eng_kernels_fill_avx512(struct eng_kernels *k, int vnni)
{
    /* GEMV of the float types and K-quants: the AVX2 kernels (filled before
     * this) already stream at the per-core memory rate (a 512-bit K-quant
     * GEMV measured no faster), so they are kept. */
    eng_gemv_fn keep[ENG_TYPE_COUNT];
    for (int i = 0; i < ENG_TYPE_COUNT; i++)
        keep[i] = k->t[i].gemv;
    k->t[ENG_TYPE_F32] = (struct eng_type_kernel){tile_f32, 4, 4, NULL};
    k->t[ENG_TYPE_F16] = (struct eng_type_kernel){tile_f16, 4, 4, NULL};
    k->t[ENG_TYPE_BF16] = (struct eng_type_kernel){tile_bf16, 4, 4, NULL};
    k->t[ENG_TYPE_Q8_0] = (struct eng_type_kernel){vnni ? tile_q8_0_vnni : tile_q8_0_bw, 4, 4, NULL};
    k->t[ENG_TYPE_Q4_0] = (struct eng_type_kernel){vnni ? tile_q4_0_vnni : tile_q4_0_bw, 4, 4, NULL};
    k->t[ENG_TYPE_Q5_0] = (struct eng_type_kernel){vnni ? tile_q5_0_vnni : tile_q5_0_bw, 4, 4, NULL};
    k->t[ENG_TYPE_Q4_K] = (struct eng_type_kernel){vnni ? tile_q4_K_vnni : tile_q4_K_bw, 1, 8, NULL};
    k->t[ENG_TYPE_Q5_K] = (struct eng_type_kernel){vnni ? tile_q5_K_vnni : tile_q5_K_bw, 1, 8, NULL};
    k->t[ENG_TYPE_Q6_K] = (struct eng_type_kernel){vnni ? tile_q6_K_vnni : tile_q6_K_bw, 1, 8, NULL};
    k->t[ENG_TYPE_Q8_0].gemv = vnni ? gemv_q8_0_vnni : gemv_q8_0_bw;
    k->t[ENG_TYPE_Q4_0].gemv = vnni ? gemv_q4_0_vnni : gemv_q4_0_bw;
    k->t[ENG_TYPE_Q5_0].gemv = vnni ? gemv_q5_0_vnni : gemv_q5_0_bw;
    static const int kept[] = {ENG_TYPE_F32, ENG_TYPE_F16, ENG_TYPE_BF16,
                               ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        k->t[kept[i]].gemv = keep[kept[i]];
}
