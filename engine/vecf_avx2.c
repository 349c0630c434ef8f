/* vecf_avx2.c — AVX2 + FMA float primitives (compiled with -mavx2 -mfma). */
#include "engine/vecf.h"

#include <immintrin.h>

float eng_vecf_dot_avx2(const float *a, const float *b, int n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

void eng_vecf_axpy_avx2(float *y, float a, const float *x, int n)
{
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

void eng_vecf_dot_i8_rows_avx2(const float *q, const int8_t *rows, int dim, size_t n, float *out)
{
    for (size_t r = 0; r < n; r++, rows += dim) {
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 16 <= dim; i += 16) {
            __m128i b = _mm_loadu_si128((const __m128i *)(rows + i));
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8),
                                 _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8))), s1);
        }
        s0 = _mm256_add_ps(s0, s1);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        float s = _mm_cvtss_f32(h);
        for (; i < dim; i++)
            s += q[i] * (float)rows[i];
        out[r] = s;
    }
}

static inline float hsum8(__m256 v)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

void eng_vecf_dots_avx2(const float *q, const float *k, size_t kstride, int np, int n,
                        float *out)
{
    int p = 0;
    for (; p + 4 <= np; p += 4) {
        const float *k0 = k + (size_t)p * kstride, *k1 = k0 + kstride, *k2 = k1 + kstride,
                    *k3 = k2 + kstride;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 qv = _mm256_loadu_ps(q + i);
            s0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + i), s0);
            s1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + i), s1);
            s2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + i), s2);
            s3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + i), s3);
        }
        __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
        __m128 r = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
        float tmp[4];
        _mm_storeu_ps(tmp, r);
        for (; i < n; i++) {
            tmp[0] += q[i] * k0[i];
            tmp[1] += q[i] * k1[i];
            tmp[2] += q[i] * k2[i];
            tmp[3] += q[i] * k3[i];
        }
        for (int c = 0; c < 4; c++)
            out[p + c] = tmp[c];
    }
    for (; p < np; p++)
        out[p] = eng_vecf_dot_avx2(q, k + (size_t)p * kstride, n);
}

void eng_vecf_wsum_avx2(float *o, const float *a, const float *v, size_t vstride, int np, int n)
{
    int j = 0;
    for (; j + 32 <= n; j += 32) {               /* 32 outputs in four registers */
        __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        const float *vp = v + j;
        for (int p = 0; p < np; p++, vp += vstride) {
            __m256 ap = _mm256_set1_ps(a[p]);
            o0 = _mm256_fmadd_ps(ap, _mm256_loadu_ps(vp), o0);
            o1 = _mm256_fmadd_ps(ap, _mm256_loadu_ps(vp + 8), o1);
            o2 = _mm256_fmadd_ps(ap, _mm256_loadu_ps(vp + 16), o2);
            o3 = _mm256_fmadd_ps(ap, _mm256_loadu_ps(vp + 24), o3);
        }
        _mm256_storeu_ps(o + j, o0);
        _mm256_storeu_ps(o + j + 8, o1);
        _mm256_storeu_ps(o + j + 16, o2);
        _mm256_storeu_ps(o + j + 24, o3);
    }
    if (j < n) {
        for (int i = j; i < n; i++)
            o[i] = 0;
        for (int p = 0; p < np; p++)
            eng_vecf_axpy_avx2(o + j, a[p], v + (size_t)p * vstride + j, n - j);
    }
}

/* exp(x) for x <= 0 (softmax after subtracting the max): x = k·ln2 + r with
 * |r| <= ln2/2 (ln2 split in two for exactness), exp(r) by its Taylor
 * polynomial to r^7 (relative error < 2e-7), times 2^k built in the
 * exponent bits; x < -87 (below FLT_MIN) gives 0. */
static inline __m256 exp256(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.0f);
    __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

float eng_vecf_exp_sum_avx2(float *x, int n, float mx)
{
    const __m256 m = _mm256_set1_ps(mx);
    __m256 s = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, v);
        s = _mm256_add_ps(s, v);
    }
    float sum = hsum8(s);
    for (; i < n; i++) {
        float t[8] = {x[i] - mx, 0, 0, 0, 0, 0, 0, 0};
        float v = _mm256_cvtss_f32(exp256(_mm256_loadu_ps(t)));
        x[i] = v;
        sum += v;
    }
    return sum;
}
