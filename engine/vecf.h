/*
 * vecf.h — engine-private float vector primitives for attention: dot
 * product and y += a·x, in portable C and in AVX2 / AVX-512 variants
 * (vecf_avx2.c, vecf_avx512.c), picked once from the CPU level the kernel
 * table uses (so LORE_CPU forces these too).
 */
#ifndef LORE_ENGINE_VECF_H
#define LORE_ENGINE_VECF_H

#include <stdint.h>

struct eng_vecf {
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
};

const struct eng_vecf *eng_vecf_get(void);
const struct eng_vecf *eng_vecf_for_level(int level);

float eng_vecf_dot_avx2(const float *a, const float *b, int n);
void eng_vecf_axpy_avx2(float *y, float a, const float *x, int n);
float eng_vecf_dot_avx512(const float *a, const float *b, int n);
void eng_vecf_axpy_avx512(float *y, float a, const float *x, int n);

#endif
