/*
 * vecf.h — engine-private float vector primitives for attention: dot
 * product, y += a·x, a query's scores against a run of keys and the
 * score-weighted sum of a run of values, in portable C and in AVX2 / AVX-512 variants
 * (vecf_avx2.c, vecf_avx512.c), picked once from the CPU level the kernel
 * table uses (so LORE_CPU forces these too).
 */
#ifndef LORE_ENGINE_VECF_H
#define LORE_ENGINE_VECF_H

#include <stddef.h>
#include <stdint.h>

struct eng_vecf {
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
    /* out[r] = q · rows[r] for r < n, rows = n × dim int8 values (row-major):
     * the first pass of index/vectors.c's exact search over quantised rows */
    void (*dot_i8_rows)(const float *q, const int8_t *rows, int dim, size_t n, float *out);
    /* out[p] = dot(q, k + p·kstride) for p < np (attention scores; kstride
     * in floats), four rows at a time with one horizontal sum per four */
    void (*dots)(const float *q, const float *k, size_t kstride, int np, int n, float *out);
    /* o[0..n) = Σ_p a[p] · v[p·vstride + 0..n) (attention output), o held
     * in registers across all p (in pieces of 64 / 32 floats) */
    void (*wsum)(float *o, const float *a, const float *v, size_t vstride, int np, int n);
    /* x[i] = exp(x[i] - mx) for i < n, returns their sum (softmax; the SIMD
     * versions use a polynomial exp, relative error < 1e-6 vs expf) */
    float (*exp_sum)(float *x, int n, float mx);
};

const struct eng_vecf *eng_vecf_get(void);
const struct eng_vecf *eng_vecf_for_level(int level);

float eng_vecf_dot_avx2(const float *a, const float *b, int n);
void eng_vecf_dots_avx2(const float *q, const float *k, size_t kstride, int np, int n,
                        float *out);
void eng_vecf_wsum_avx2(float *o, const float *a, const float *v, size_t vstride, int np, int n);
void eng_vecf_dots_avx512(const float *q, const float *k, size_t kstride, int np, int n,
                          float *out);
void eng_vecf_wsum_avx512(float *o, const float *a, const float *v, size_t vstride, int np,
                          int n);
float eng_vecf_exp_sum_avx2(float *x, int n, float mx);
float eng_vecf_exp_sum_avx512(float *x, int n, float mx);
void eng_vecf_axpy_avx2(float *y, float a, const float *x, int n);
float eng_vecf_dot_avx512(const float *a, const float *b, int n);
void eng_vecf_axpy_avx512(float *y, float a, const float *x, int n);

void eng_vecf_dot_i8_rows_avx2(const float *q, const int8_t *rows, int dim, size_t n, float *out);
void eng_vecf_dot_i8_rows_avx512(const float *q, const int8_t *rows, int dim, size_t n, float *out);

#endif
