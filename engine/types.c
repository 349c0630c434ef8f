/*
 * types.c — the tensor type table: FP16/BF16 conversion, and for every
 * supported type the reference dequantiser and the reference dot product of
 * one weight row with one activation row.
 *
 * These are the ground truth the SIMD kernels are tested against, so they
 * are written for clarity: one block at a time, integer sums kept exact, and
 * floats combined per block in the same order the SIMD kernels use
 * (sum_int * (d_w * d_x)).  Block layouts are drawn in kernels.h.
 */
#include "engine/kernels.h"

#include <math.h>
#include <string.h>

/* ---- half and bfloat16 -------------------------------------------------------- */

float eng_fp16_to_fp32(eng_half h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, x;
    float f;
    if (e == 0) {                 /* zero or subnormal: m * 2^-24 */
        f = (float)m * (1.0f / 16777216.0f);
        memcpy(&x, &f, 4);
        x |= sign;
    } else if (e == 31) {         /* inf or NaN */
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112) << 23) | (m << 13);
    }
    memcpy(&f, &x, 4);
    return f;
}

eng_half eng_fp32_to_fp16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)        /* inf stays inf, NaN stays a (quiet) NaN */
        return (eng_half)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u)        /* >= 65520 rounds past the largest half */
        return (eng_half)(sign | 0x7c00);
    if (ax < 0x38800000u) {       /* below 2^-14: a subnormal half */
        float a;
        memcpy(&a, &ax, 4);
        return (eng_half)(sign | (uint32_t)nearbyintf(a * 16777216.0f));
    }
    uint32_t r = ax - 0x38000000u;               /* rebias 127 -> 15 */
    r += 0x0fffu + ((r >> 13) & 1);              /* round to nearest even */
    return (eng_half)(sign | (r >> 13));
}

float eng_bf16_to_fp32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t eng_fp32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

#define H2F eng_fp16_to_fp32

/* ---- dequantise ------------------------------------------------------------------ */

static void to_float_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void to_float_f16(const void *src, float *dst, int64_t n)
{
    const eng_half *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = H2F(s[i]);
}

static void to_float_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = eng_bf16_to_fp32(s[i]);
}

static void to_float_q4_0(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, dst += ENG_QK) {
        float d = H2F(b->d);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * ((b->qs[j] & 15) - 8);
            dst[j + 16] = d * ((b->qs[j] >> 4) - 8);
        }
    }
}

static void to_float_q4_1(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, dst += ENG_QK) {
        float d = H2F(b->d), m = H2F(b->m);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * (b->qs[j] & 15) + m;
            dst[j + 16] = d * (b->qs[j] >> 4) + m;
        }
    }
}

static uint32_t load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void to_float_q5_0(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, dst += ENG_QK) {
        float d = H2F(b->d);
        uint32_t qh = load_u32le(b->qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = d * (lo - 16);
            dst[j + 16] = d * (hi - 16);
        }
    }
}

static void to_float_q5_1(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, dst += ENG_QK) {
        float d = H2F(b->d), m = H2F(b->m);
        uint32_t qh = load_u32le(b->qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = d * lo + m;
            dst[j + 16] = d * hi + m;
        }
    }
}

static void to_float_q8_0(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / ENG_QK; i++, b++, dst += ENG_QK) {
        float d = H2F(b->d);
        for (int j = 0; j < ENG_QK; j++)
            dst[j] = d * b->qs[j];
    }
}

static void to_float_q8_K(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q8_K *b = src;
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, dst += ENG_QK_K)
        for (int j = 0; j < ENG_QK_K; j++)
            dst[j] = b->d * b->qs[j];
}

/* The 6-bit codes of one Q4_K/Q5_K super-block as plain bytes, in element
 * order; shared by dequantise and dot so both read the layout one way. */
static void unpack_q4_K(const struct eng_block_q4_K *b, uint8_t q[ENG_QK_K])
{
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            q[64 * g + l] = b->qs[32 * g + l] & 15;
            q[64 * g + 32 + l] = b->qs[32 * g + l] >> 4;
        }
}

static void unpack_q5_K(const struct eng_block_q5_K *b, uint8_t q[ENG_QK_K])
{
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            int s0 = 2 * g, s1 = 2 * g + 1;
            q[64 * g + l] = (uint8_t)((b->qs[32 * g + l] & 15) |
                                      ((b->qh[l] >> s0) & 1) << 4);
            q[64 * g + 32 + l] = (uint8_t)((b->qs[32 * g + l] >> 4) |
                                           ((b->qh[l] >> s1) & 1) << 4);
        }
}

/* Q6_K codes 0..63 (the stored value is q - 32). */
static void unpack_q6_K(const struct eng_block_q6_K *b, uint8_t q[ENG_QK_K])
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *L = b->ql + 64 * h, *H = b->qh + 32 * h;
        uint8_t *o = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            o[l] = (uint8_t)((L[l] & 15) | ((H[l] >> 0) & 3) << 4);
            o[l + 32] = (uint8_t)((L[l + 32] & 15) | ((H[l] >> 2) & 3) << 4);
            o[l + 64] = (uint8_t)((L[l] >> 4) | ((H[l] >> 4) & 3) << 4);
            o[l + 96] = (uint8_t)((L[l + 32] >> 4) | ((H[l] >> 6) & 3) << 4);
        }
    }
}

static void to_float_q4_K(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q4_K *b = src;
    uint8_t q[ENG_QK_K];
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, dst += ENG_QK_K) {
        float d = H2F(b->d), dmin = H2F(b->dmin);
        unpack_q4_K(b, q);
        for (int s = 0; s < 8; s++) {
            uint8_t sc, m;
            eng_k4_scale_min(b->scales, s, &sc, &m);
            float ds = d * sc, dm = dmin * m;
            for (int l = 0; l < 32; l++)
                dst[32 * s + l] = ds * q[32 * s + l] - dm;
        }
    }
}

static void to_float_q5_K(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q5_K *b = src;
    uint8_t q[ENG_QK_K];
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, dst += ENG_QK_K) {
        float d = H2F(b->d), dmin = H2F(b->dmin);
        unpack_q5_K(b, q);
        for (int s = 0; s < 8; s++) {
            uint8_t sc, m;
            eng_k4_scale_min(b->scales, s, &sc, &m);
            float ds = d * sc, dm = dmin * m;
            for (int l = 0; l < 32; l++)
                dst[32 * s + l] = ds * q[32 * s + l] - dm;
        }
    }
}

static void to_float_q6_K(const void *src, float *dst, int64_t n)
{
    const struct eng_block_q6_K *b = src;
    uint8_t q[ENG_QK_K];
    for (int64_t i = 0; i < n / ENG_QK_K; i++, b++, dst += ENG_QK_K) {
        float d = H2F(b->d);
        unpack_q6_K(b, q);
        for (int e = 0; e < ENG_QK_K; e++)
            dst[e] = d * b->scales[e / 16] * (q[e] - 32);
    }
}

/* ---- reference dot products ---------------------------------------------------
 * Weight row · activation row.  Float weights take float activations; the
 * 32-blocks take Q8_0, the K-quants Q8_K. */

static void dot_f32(int64_t n, float *s, const void *w, const void *x)
{
    const float *a = w, *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    *s = sum;
}

static void dot_f16(int64_t n, float *s, const void *w, const void *x)
{
    const eng_half *a = w;
    const float *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += H2F(a[i]) * b[i];
    *s = sum;
}

static void dot_bf16(int64_t n, float *s, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += eng_bf16_to_fp32(a[i]) * b[i];
    *s = sum;
}

static void dot_q4_0(int64_t n, float *s, const void *w, const void *x)
{
    const struct eng_block_q4_0 *a = w;
    const struct eng_block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / ENG_QK; i++) {
        int isum = 0;
        for (int j = 0; j < 16; j++)
            isum += ((a[i].qs[j] & 15) - 8) * b[i].qs[j] +
                    ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        sum += (float)isum * (H2F(a[i].d) * H2F(b[i].d));
    }
    *s = sum;
}

static void dot_q4_1(int64_t n, float *s, const void *w, const void *x)
{
    const struct eng_block_q4_1 *a = w;
    const struct eng_block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / ENG_QK; i++) {
        int isum = 0, xsum = 0;
        for (int j = 0; j < 16; j++) {
            isum += (a[i].qs[j] & 15) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
            xsum += b[i].qs[j] + b[i].qs[j + 16];
        }
        float dx = H2F(b[i].d);
        sum += (float)isum * (H2F(a[i].d) * dx) + (float)xsum * (H2F(a[i].m) * dx);
    }
    *s = sum;
}

static void dot_q5_0(int64_t n, float *s, const void *w, const void *x)
{
    const struct eng_block_q5_0 *a = w;
    const struct eng_block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / ENG_QK; i++) {
        uint32_t qh = load_u32le(a[i].qh);
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (a[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (a[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            isum += (lo - 16) * b[i].qs[j] + (hi - 16) * b[i].qs[j + 16];
        }
        sum += (float)isum * (H2F(a[i].d) * H2F(b[i].d));
    }
    *s = sum;
}

static void dot_q5_1(int64_t n, float *s, const void *w, const void *x)
{
    const struct eng_block_q5_1 *a = w;
    const struct eng_block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / ENG_QK; i++) {
        uint32_t qh = load_u32le(a[i].qh);
        int isum = 0, xsum = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (a[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (a[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            isum += lo * b[i].qs[j] + hi * b[i].qs[j + 16];
            xsum += b[i].qs[j] + b[i].qs[j + 16];
        }
        float dx = H2F(b[i].d);
        sum += (float)isum * (H2F(a[i].d) * dx) + (float)xsum * (H2F(a[i].m) * dx);
    }
    *s = sum;
}

static void dot_q8_0(int64_t n, float *s, const void *w, const void *x)
{
    const struct eng_block_q8_0 *a = w;
    const struct eng_block_q8_0 *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n / ENG_QK; i++) {
        int isum = 0;
        for (int j = 0; j < ENG_QK; j++)
            isum += a[i].qs[j] * b[i].qs[j];
        sum += (float)isum * (H2F(a[i].d) * H2F(b[i].d));
    }
    *s = sum;
}

/* Q4_K/Q5_K · Q8_K: sum over sub-blocks of d*sc*Σq·x − dmin*m*Σx, where
 * Σx of sub-block s is bsums[2s] + bsums[2s+1]. */
static float dot_k4_block(const uint8_t q[ENG_QK_K], const uint8_t scales[12],
                          float d, float dmin, const struct eng_block_q8_K *b)
{
    int isum = 0, msum = 0;
    for (int s = 0; s < 8; s++) {
        uint8_t sc, m;
        eng_k4_scale_min(scales, s, &sc, &m);
        int t = 0;
        for (int l = 0; l < 32; l++)
            t += q[32 * s + l] * b->qs[32 * s + l];
        isum += sc * t;
        msum += m * (b->bsums[2 * s] + b->bsums[2 * s + 1]);
    }
    return (float)isum * (d * b->d) - (float)msum * (dmin * b->d);
}

static void dot_q4_K(int64_t n, float *s, const void *w, const void *x)
{
    const struct eng_block_q4_K *a = w;
    const struct eng_block_q8_K *b = x;
    uint8_t q[ENG_QK_K];
    float sum = 0;
    for (int64_t i = 0; i < n / ENG_QK_K; i++) {
        unpack_q4_K(&a[i], q);
        sum += dot_k4_block(q, a[i].scales, H2F(a[i].d), H2F(a[i].dmin), &b[i]);
    }
    *s = sum;
}

static void dot_q5_K(int64_t n, float *s, const void *w, const void *x)
{
    const struct eng_block_q5_K *a = w;
    const struct eng_block_q8_K *b = x;
    uint8_t q[ENG_QK_K];
    float sum = 0;
    for (int64_t i = 0; i < n / ENG_QK_K; i++) {
        unpack_q5_K(&a[i], q);
        sum += dot_k4_block(q, a[i].scales, H2F(a[i].d), H2F(a[i].dmin), &b[i]);
    }
    *s = sum;
}

/* Q6_K · Q8_K: d * Σ_i sc_i (Σ q·x − 32 Σx), Σx of sub-block i = bsums[i]. */
static void dot_q6_K(int64_t n, float *s, const void *w, const void *x)
{
    const struct eng_block_q6_K *a = w;
    const struct eng_block_q8_K *b = x;
    uint8_t q[ENG_QK_K];
    float sum = 0;
    for (int64_t i = 0; i < n / ENG_QK_K; i++) {
        unpack_q6_K(&a[i], q);
        int isum = 0, osum = 0;
        for (int k = 0; k < 16; k++) {
            int t = 0;
            for (int l = 0; l < 16; l++)
                t += q[16 * k + l] * b[i].qs[16 * k + l];
            isum += a[i].scales[k] * t;
            osum += 32 * a[i].scales[k] * b[i].bsums[k];
        }
        float dd = H2F(a[i].d) * b[i].d;
        sum += (float)isum * dd - (float)osum * dd;
    }
    *s = sum;
}

/* ---- the table ------------------------------------------------------------------- */

static const struct eng_type_info types[ENG_TYPE_COUNT] = {
    [ENG_TYPE_F32] = {"F32", 1, 4, ENG_TYPE_F32, to_float_f32,
                      eng_quantize_row_f32, dot_f32},
    [ENG_TYPE_F16] = {"F16", 1, 2, ENG_TYPE_F32, to_float_f16,
                      eng_quantize_row_f16, dot_f16},
    [ENG_TYPE_Q4_0] = {"Q4_0", ENG_QK, 18, ENG_TYPE_Q8_0, to_float_q4_0,
                       eng_quantize_row_q4_0, dot_q4_0},
    [ENG_TYPE_Q4_1] = {"Q4_1", ENG_QK, 20, ENG_TYPE_Q8_0, to_float_q4_1,
                       eng_quantize_row_q4_1, dot_q4_1},
    [ENG_TYPE_Q5_0] = {"Q5_0", ENG_QK, 22, ENG_TYPE_Q8_0, to_float_q5_0,
                       eng_quantize_row_q5_0, dot_q5_0},
    [ENG_TYPE_Q5_1] = {"Q5_1", ENG_QK, 24, ENG_TYPE_Q8_0, to_float_q5_1,
                       eng_quantize_row_q5_1, dot_q5_1},
    [ENG_TYPE_Q8_0] = {"Q8_0", ENG_QK, 34, ENG_TYPE_Q8_0, to_float_q8_0,
                       eng_quantize_row_q8_0, dot_q8_0},
    [ENG_TYPE_Q8_1] = {"Q8_1", ENG_QK, 36, -1, NULL, NULL, NULL},
    [ENG_TYPE_Q2_K] = {"Q2_K", ENG_QK_K, 84, -1, NULL, NULL, NULL},
    [ENG_TYPE_Q3_K] = {"Q3_K", ENG_QK_K, 110, -1, NULL, NULL, NULL},
    [ENG_TYPE_Q4_K] = {"Q4_K", ENG_QK_K, 144, ENG_TYPE_Q8_K, to_float_q4_K,
                       eng_quantize_row_q4_K, dot_q4_K},
    [ENG_TYPE_Q5_K] = {"Q5_K", ENG_QK_K, 176, ENG_TYPE_Q8_K, to_float_q5_K,
                       eng_quantize_row_q5_K, dot_q5_K},
    [ENG_TYPE_Q6_K] = {"Q6_K", ENG_QK_K, 210, ENG_TYPE_Q8_K, to_float_q6_K,
                       eng_quantize_row_q6_K, dot_q6_K},
    [ENG_TYPE_Q8_K] = {"Q8_K", ENG_QK_K, 292, -1, to_float_q8_K,
                       eng_quantize_row_q8_K, NULL},
    [ENG_TYPE_I8] = {"I8", 1, 1, -1, NULL, NULL, NULL},
    [ENG_TYPE_I16] = {"I16", 1, 2, -1, NULL, NULL, NULL},
    [ENG_TYPE_I32] = {"I32", 1, 4, -1, NULL, NULL, NULL},
    [ENG_TYPE_I64] = {"I64", 1, 8, -1, NULL, NULL, NULL},
    [ENG_TYPE_F64] = {"F64", 1, 8, -1, NULL, NULL, NULL},
    [ENG_TYPE_BF16] = {"BF16", 1, 2, ENG_TYPE_F32, to_float_bf16,
                       eng_quantize_row_bf16, dot_bf16},
};

const struct eng_type_info *eng_type_get(int type)
{
    if (type < 0 || type >= ENG_TYPE_COUNT || !types[type].name)
        return NULL;
    return &types[type];
}

size_t eng_row_bytes(int type, int64_t n)
{
    const struct eng_type_info *t = eng_type_get(type);
    if (!t || n < 0 || n % t->blck)
        return 0;
    return (size_t)(n / t->blck) * (size_t)t->bytes;
}
