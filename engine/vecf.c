/* vecf.c — the portable float primitives and the dispatch (see vecf.h). */
#include "engine/vecf.h"

#include <math.h>
#include "engine/kernels.h"

static float dot_ref(const float *a, const float *b, int n)
{
    float s[4] = {0, 0, 0, 0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static void axpy_ref(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void dot_i8_rows_ref(const float *q, const int8_t *rows, int dim, size_t n, float *out)
{
    for (size_t r = 0; r < n; r++, rows += dim) {
        float s[4] = {0, 0, 0, 0};
        int i = 0;
        for (; i + 4 <= dim; i += 4)
            for (int k = 0; k < 4; k++)
                s[k] += q[i + k] * (float)rows[i + k];
        for (; i < dim; i++)
            s[0] += q[i] * (float)rows[i];
        out[r] = (s[0] + s[1]) + (s[2] + s[3]);
    }
}

static void dots_ref(const float *q, const float *k, size_t kstride, int np, int n, float *out)
{
    for (int p = 0; p < np; p++)
        out[p] = dot_ref(q, k + (size_t)p * kstride, n);
}

static void wsum_ref(float *o, const float *a, const float *v, size_t vstride, int np, int n)
{
    for (int i = 0; i < n; i++)
        o[i] = 0;
    for (int p = 0; p < np; p++)
        axpy_ref(o, a[p], v + (size_t)p * vstride, n);
}

static float exp_sum_ref(float *x, int n, float mx)
{
    float sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    return sum;
}

static const struct eng_vecf vf_ref = {dot_ref, axpy_ref, dot_i8_rows_ref, dots_ref, wsum_ref,
                                       exp_sum_ref};
static const struct eng_vecf vf_avx2 = {eng_vecf_dot_avx2, eng_vecf_axpy_avx2, eng_vecf_dot_i8_rows_avx2,
                                        eng_vecf_dots_avx2, eng_vecf_wsum_avx2,
                                        eng_vecf_exp_sum_avx2};
static const struct eng_vecf vf_avx512 = {eng_vecf_dot_avx512, eng_vecf_axpy_avx512,
                                          eng_vecf_dot_i8_rows_avx512, eng_vecf_dots_avx512,
                                          eng_vecf_wsum_avx512, eng_vecf_exp_sum_avx512};

const struct eng_vecf *eng_vecf_for_level(int level)
{
    if (level >= ENG_CPU_AVX512)
        return &vf_avx512;
    if (level >= ENG_CPU_AVX2)
        return &vf_avx2;
    return &vf_ref;
}

const struct eng_vecf *eng_vecf_get(void)
{
    return eng_vecf_for_level(eng_kernels_get()->level);
}
