/*
 * quant.c — float → block quantisers.
 *
 * Two jobs: (1) the activation quantisers Q8_0 and Q8_K that every matrix
 * product runs once over its input rows, so they are on the hot path and
 * kept branch-light; (2) a quantiser for every weight type, so tests and the
 * synthetic model writer can make weights in each format.  The weight
 * quantisers are plain round-to-nearest with min/max scales — simple and
 * deterministic, not the error-minimising searches of production tools; any
 * file that follows the layouts in kernels.h reads back the same way.
 */
#include "engine/kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Round half away from zero, as roundf, without the libm call. */
static inline int round_i(float v)
{
    return (int)(v + (v >= 0 ? 0.5f : -0.5f));
}

static inline int clamp_i(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- activations --------------------------------------------------------------------
 * q = trunc(v ± 0.5) of v = x / d, limited to ±127 first so the conversion is
 * always defined: NaN becomes -127, exactly as the SIMD quantisers (whose
 * float → int conversion of NaN gives INT_MIN, then clamped) — the kernels
 * are tested to produce the same bytes.  A block of values so small that
 * 1/d overflows quantises to zeros. */

static inline int8_t q8(float v)
{
    if (v > 127.0f)
        v = 127.0f;
    if (!(v >= -127.0f))
        v = -127.0f;
    return (int8_t)round_i(v);
}

static inline float inv_scale(float d)
{
    float id = d > 0 ? 1.0f / d : 0.0f;
    return id <= FLT_MAX ? id : 0.0f;
}

void eng_quantize_row_q8_0(const float *x, void *y, int64_t n)
{
    struct eng_block_q8_0 *b = y;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, x += ENG_QK) {
        float amax = 0;
        for (int j = 0; j < ENG_QK; j++) {
            float a = fabsf(x[j]);
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f, id = inv_scale(d);
        b->d = eng_fp32_to_fp16(d);
        for (int j = 0; j < ENG_QK; j++)
            b->qs[j] = q8(x[j] * id);
    }
}

void eng_quantize_row_q8_K(const float *x, void *y, int64_t n)
{
    struct eng_block_q8_K *b = y;
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, x += ENG_QK_K) {
        float amax = 0;
        for (int j = 0; j < ENG_QK_K; j++) {
            float a = fabsf(x[j]);
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f, id = inv_scale(d);
        b->d = d;
        for (int j = 0; j < ENG_QK_K; j++)
            b->qs[j] = q8(x[j] * id);
        for (int k = 0; k < ENG_QK_K / 16; k++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += b->qs[16 * k + l];
            b->bsums[k] = (int16_t)s;
        }
    }
}

/* ---- plain types --------------------------------------------------------------------- */

void eng_quantize_row_f32(const float *x, void *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

void eng_quantize_row_f16(const float *x, void *y, int64_t n)
{
    eng_half *h = y;
    for (int64_t i = 0; i < n; i++)
        h[i] = eng_fp32_to_fp16(x[i]);
}

void eng_quantize_row_bf16(const float *x, void *y, int64_t n)
{
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++)
        h[i] = eng_fp32_to_bf16(x[i]);
}

/* ---- 32-element blocks ----------------------------------------------------------------
 * Symmetric types (Q4_0, Q5_0) map the element of largest magnitude to the
 * most negative code (-8 / -16), which uses the whole code range; the
 * offset types (Q4_1, Q5_1) span [min, max]. */

static float signed_absmax(const float *x, int n)
{
    float best = 0, amax = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            best = x[j];
        }
    return best;
}

static void minmax(const float *x, int n, float *mn, float *mx)
{
    *mn = x[0];
    *mx = x[0];
    for (int j = 1; j < n; j++) {
        *mn = x[j] < *mn ? x[j] : *mn;
        *mx = x[j] > *mx ? x[j] : *mx;
    }
}

void eng_quantize_row_q4_0(const float *x, void *y, int64_t n)
{
    struct eng_block_q4_0 *b = y;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, x += ENG_QK) {
        float d = signed_absmax(x, ENG_QK) / -8.0f;
        b->d = eng_fp32_to_fp16(d);
        float id = d != 0 ? 1.0f / eng_fp16_to_fp32(b->d) : 0.0f;
        for (int j = 0; j < 16; j++) {
            int lo = clamp_i(round_i(x[j] * id) + 8, 0, 15);
            int hi = clamp_i(round_i(x[j + 16] * id) + 8, 0, 15);
            b->qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

void eng_quantize_row_q4_1(const float *x, void *y, int64_t n)
{
    struct eng_block_q4_1 *b = y;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, x += ENG_QK) {
        float mn, mx;
        minmax(x, ENG_QK, &mn, &mx);
        b->d = eng_fp32_to_fp16((mx - mn) / 15.0f);
        b->m = eng_fp32_to_fp16(mn);
        float d = eng_fp16_to_fp32(b->d), m = eng_fp16_to_fp32(b->m);
        float id = d != 0 ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; j++) {
            int lo = clamp_i(round_i((x[j] - m) * id), 0, 15);
            int hi = clamp_i(round_i((x[j + 16] - m) * id), 0, 15);
            b->qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void eng_quantize_row_q5_0(const float *x, void *y, int64_t n)
{
    struct eng_block_q5_0 *b = y;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, x += ENG_QK) {
        float d = signed_absmax(x, ENG_QK) / -16.0f;
        b->d = eng_fp32_to_fp16(d);
        float id = d != 0 ? 1.0f / eng_fp16_to_fp32(b->d) : 0.0f;
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = clamp_i(round_i(x[j] * id) + 16, 0, 31);
            int hi = clamp_i(round_i(x[j + 16] * id) + 16, 0, 31);
            b->qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        put_u32le(b->qh, qh);
    }
}

void eng_quantize_row_q5_1(const float *x, void *y, int64_t n)
{
    struct eng_block_q5_1 *b = y;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, x += ENG_QK) {
        float mn, mx;
        minmax(x, ENG_QK, &mn, &mx);
        b->d = eng_fp32_to_fp16((mx - mn) / 31.0f);
        b->m = eng_fp32_to_fp16(mn);
        float d = eng_fp16_to_fp32(b->d), m = eng_fp16_to_fp32(b->m);
        float id = d != 0 ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = clamp_i(round_i((x[j] - m) * id), 0, 31);
            int hi = clamp_i(round_i((x[j + 16] - m) * id), 0, 31);
            b->qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        put_u32le(b->qh, qh);
    }
}

/* ---- K-quants ----------------------------------------------------------------------------
 * Q4_K / Q5_K: each sub-block of 32 gets scale (max - min') / qmax and min
 * -min' (min' = min(min, 0), so the offset is never negative); the eight
 * scales and mins are then quantised to 6 bits against the super-block's d
 * and dmin, and the elements requantised with the rounded scales. */

static void pack_k4_scales(uint8_t scales[12], const uint8_t sc[8], const uint8_t m[8])
{
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        scales[j + 4] = (uint8_t)((m[j] & 63) | (m[j + 4] >> 4) << 6);
        scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
}

/* Fills d, dmin, scales and codes q[256] (0..qmax) for one super-block. */
static void quantize_k4_block(const float *x, int qmax, eng_half *pd, eng_half *pdmin,
                              uint8_t scales[12], uint8_t q[ENG_QK_K])
{
    float fsc[8], fmn[8], maxsc = 0, maxmn = 0;
    for (int s = 0; s < 8; s++) {
        float mn, mx;
        minmax(x + 32 * s, 32, &mn, &mx);
        if (mn > 0)
            mn = 0;
        fsc[s] = (mx - mn) / (float)qmax;
        fmn[s] = -mn;
        maxsc = fsc[s] > maxsc ? fsc[s] : maxsc;
        maxmn = fmn[s] > maxmn ? fmn[s] : maxmn;
    }
    *pd = eng_fp32_to_fp16(maxsc / 63.0f);
    *pdmin = eng_fp32_to_fp16(maxmn / 63.0f);
    float d = eng_fp16_to_fp32(*pd), dmin = eng_fp16_to_fp32(*pdmin);
    uint8_t sc[8], m[8];
    for (int s = 0; s < 8; s++) {
        sc[s] = (uint8_t)(d > 0 ? clamp_i(round_i(fsc[s] / d), 0, 63) : 0);
        m[s] = (uint8_t)(dmin > 0 ? clamp_i(round_i(fmn[s] / dmin), 0, 63) : 0);
        float ds = d * sc[s], dm = dmin * m[s];
        float ids = ds > 0 ? 1.0f / ds : 0.0f;
        for (int l = 0; l < 32; l++)
            q[32 * s + l] = (uint8_t)clamp_i(round_i((x[32 * s + l] + dm) * ids), 0, qmax);
    }
    pack_k4_scales(scales, sc, m);
}

void eng_quantize_row_q4_K(const float *x, void *y, int64_t n)
{
    struct eng_block_q4_K *b = y;
    uint8_t q[ENG_QK_K];
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, x += ENG_QK_K) {
        quantize_k4_block(x, 15, &b->d, &b->dmin, b->scales, q);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++)
                b->qs[32 * g + l] = (uint8_t)(q[64 * g + l] | q[64 * g + 32 + l] << 4);
    }
}

void eng_quantize_row_q5_K(const float *x, void *y, int64_t n)
{
    struct eng_block_q5_K *b = y;
    uint8_t q[ENG_QK_K];
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, x += ENG_QK_K) {
        quantize_k4_block(x, 31, &b->d, &b->dmin, b->scales, q);
        memset(b->qh, 0, sizeof b->qh);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) {
                int lo = q[64 * g + l], hi = q[64 * g + 32 + l];
                b->qs[32 * g + l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
                b->qh[l] |= (uint8_t)((lo >> 4) << (2 * g) | (hi >> 4) << (2 * g + 1));
            }
    }
}

/* Q6_K: sub-blocks of 16, scale amax/31 (codes -31..31 of -32..31), the 16
 * scales quantised to int8 against d = max scale / 127. */
void eng_quantize_row_q6_K(const float *x, void *y, int64_t n)
{
    struct eng_block_q6_K *b = y;
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, x += ENG_QK_K) {
        float fsc[16], maxsc = 0;
        for (int k = 0; k < 16; k++) {
            float amax = 0;
            for (int l = 0; l < 16; l++)
                amax = fabsf(x[16 * k + l]) > amax ? fabsf(x[16 * k + l]) : amax;
            fsc[k] = amax / 31.0f;
            maxsc = fsc[k] > maxsc ? fsc[k] : maxsc;
        }
        b->d = eng_fp32_to_fp16(maxsc / 127.0f);
        float d = eng_fp16_to_fp32(b->d);
        uint8_t q[ENG_QK_K];
        for (int k = 0; k < 16; k++) {
            int sc = d > 0 ? clamp_i(round_i(fsc[k] / d), -128, 127) : 0;
            b->scales[k] = (int8_t)sc;
            float ds = d * sc, ids = ds != 0 ? 1.0f / ds : 0.0f;
            for (int l = 0; l < 16; l++)
                q[16 * k + l] = (uint8_t)(clamp_i(round_i(x[16 * k + l] * ids), -32, 31) + 32);
        }
        for (int h = 0; h < 2; h++) {
            uint8_t *L = b->ql + 64 * h, *H = b->qh + 32 * h;
            const uint8_t *o = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                L[l] = (uint8_t)((o[l] & 15) | (o[l + 64] & 15) << 4);
                L[l + 32] = (uint8_t)((o[l + 32] & 15) | (o[l + 96] & 15) << 4);
                H[l] = (uint8_t)((o[l] >> 4) | (o[l + 32] >> 4) << 2 |
                                 (o[l + 64] >> 4) << 4 | (o[l + 96] >> 4) << 6);
            }
        }
    }
}
