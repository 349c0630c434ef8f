/* vecf_avx512.c — AVX-512F float primitives (compiled with -mavx512f …). */
#include "engine/vecf.h"

#include <immintrin.h>

float eng_vecf_dot_avx512(const float *a, const float *b, int n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

void eng_vecf_axpy_avx512(float *y, float a, const float *x, int n)
{
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

void eng_vecf_dot_i8_rows_avx512(const float *q, const int8_t *rows, int dim, size_t n, float *out)
{
    for (size_t r = 0; r < n; r++, rows += dim) {
        if (r + 4 < n)
            _mm_prefetch((const char *)(rows + 4 * (size_t)dim), _MM_HINT_T0);
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        int i = 0;
        for (; i + 32 <= dim; i += 32) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(rows + i));
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i),
                                 _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(b))), s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16),
                                 _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(b, 1))), s1);
        }
        for (; i + 16 <= dim; i += 16)
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i),
                                 _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(rows + i)))),
                                 s0);
        if (i < dim) {
            __mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
            s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i),
                                 _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, rows + i))), s1);
        }
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    }
}

/* Four rows' dot products with q; lane i of the result is row i's. */
static inline __m128 dots4(const float *q, const float *k0, const float *k1, const float *k2,
                           const float *k3, int n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 qv = _mm512_loadu_ps(q + i);
        s0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + i), s0);
        s1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k1 + i), s1);
        s2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k2 + i), s2);
        s3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k3 + i), s3);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
        s0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k0 + i), s0);
        s1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k1 + i), s1);
        s2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k2 + i), s2);
        s3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k3 + i), s3);
    }
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(s0), _mm512_extractf32x8_ps(s0, 1));
    __m256 b = _mm256_add_ps(_mm512_castps512_ps256(s1), _mm512_extractf32x8_ps(s1, 1));
    __m256 c = _mm256_add_ps(_mm512_castps512_ps256(s2), _mm512_extractf32x8_ps(s2, 1));
    __m256 d = _mm256_add_ps(_mm512_castps512_ps256(s3), _mm512_extractf32x8_ps(s3, 1));
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

void eng_vecf_dots_avx512(const float *q, const float *k, size_t kstride, int np, int n,
                          float *out)
{
    int p = 0;
    for (; p + 4 <= np; p += 4) {
        const float *kp = k + (size_t)p * kstride;
        _mm_storeu_ps(out + p, dots4(q, kp, kp + kstride, kp + 2 * kstride, kp + 3 * kstride, n));
    }
    for (; p < np; p++)
        out[p] = eng_vecf_dot_avx512(q, k + (size_t)p * kstride, n);
}

void eng_vecf_wsum_avx512(float *o, const float *a, const float *v, size_t vstride, int np, int n)
{
    for (int j = 0; j < n; j += 64) {           /* 64 outputs in four registers */
        int m = n - j < 64 ? n - j : 64;
        __mmask16 mk[4];
        for (int r = 0; r < 4; r++) {
            int c = m - 16 * r;
            mk[r] = c >= 16 ? (__mmask16)0xffff : c > 0 ? (__mmask16)((1u << c) - 1) : 0;
        }
        __m512 o0 = _mm512_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        const float *vp = v + j;
        for (int p = 0; p < np; p++, vp += vstride) {
            __m512 ap = _mm512_set1_ps(a[p]);
            o0 = _mm512_fmadd_ps(ap, _mm512_maskz_loadu_ps(mk[0], vp), o0);
            o1 = _mm512_fmadd_ps(ap, _mm512_maskz_loadu_ps(mk[1], vp + 16), o1);
            o2 = _mm512_fmadd_ps(ap, _mm512_maskz_loadu_ps(mk[2], vp + 32), o2);
            o3 = _mm512_fmadd_ps(ap, _mm512_maskz_loadu_ps(mk[3], vp + 48), o3);
        }
        _mm512_mask_storeu_ps(o + j, mk[0], o0);
        _mm512_mask_storeu_ps(o + j + 16, mk[1], o1);
        _mm512_mask_storeu_ps(o + j + 32, mk[2], o2);
        _mm512_mask_storeu_ps(o + j + 48, mk[3], o3);
    }
}

/* exp(x) for x <= 0 (softmax after subtracting the max): x = k·ln2 + r with
 * |r| <= ln2/2 (ln2 split in two for exactness), exp(r) by its Taylor
 * polynomial to r^7 (relative error < 2e-7), times 2^k built in the
 * exponent bits; x < -87 (below FLT_MIN) gives 0. */
static inline __m512 exp512(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-87.0f);
    __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_max_ps(x, lo);
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps((__mmask16)~under, p, _mm512_castsi512_ps(e));
}

float eng_vecf_exp_sum_avx512(float *x, int n, float mx)
{
    const __m512 m = _mm512_set1_ps(mx);
    __m512 s = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), m));
        _mm512_storeu_ps(x + i, v);
        s = _mm512_add_ps(s, v);
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m512 v = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m));
        _mm512_mask_storeu_ps(x + i, k, v);
        s = _mm512_add_ps(s, _mm512_maskz_mov_ps(k, v));
    }
    return _mm512_reduce_add_ps(s);
}
