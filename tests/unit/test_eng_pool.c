/*
 * test_eng_pool.c — the engine's thread pool: a parallel-for covers every
 * index exactly once, in grain-aligned chunks, with valid worker ids, for
 * 1..8 threads; many back-to-back calls (the decode pattern) neither lose
 * nor repeat work; the scratch buffer grows and keeps its pointer when it
 * need not grow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"

struct cover {
    _Atomic int *hits;
    int64_t grain;
    int nthreads;
    _Atomic int bad;          /* misaligned chunk or bad worker id */
};

static void mark(void *ctx, int64_t b, int64_t e, int worker)
{
    struct cover *c = ctx;
    if (b % c->grain || worker < 0 || worker >= c->nthreads || b >= e)
        atomic_store(&c->bad, 1);
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

static void check_cover(struct eng_pool *p, int64_t n, int64_t grain)
{
    struct cover c = {.grain = grain, .nthreads = eng_pool_size(p)};
    c.hits = calloc((size_t)(n > 0 ? n : 1), sizeof *c.hits);
    assert_non_null(c.hits);
    eng_pool_for(p, n, grain, mark, &c);
    assert_int_equal(atomic_load(&c.bad), 0);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(atomic_load(&c.hits[i]), 1);
    free(c.hits);
}

static void test_cover_each_index_once(void **state)
{
    (void)state;
    static const int64_t sizes[] = {0, 1, 2, 7, 64, 1000, 100003};
    static const int64_t grains[] = {1, 4, 64};
    for (int t = 1; t <= 8; t++) {
        struct eng_pool *p = NULL;
        struct lore_err err = {0};
        assert_int_equal(eng_pool_new(t, &p, &err), 0);
        assert_int_equal(eng_pool_size(p), t);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
                check_cover(p, sizes[i], grains[g]);
        eng_pool_free(p);
    }
    check_cover(NULL, 1000, 3);    /* no pool: inline */
}

struct sum {
    _Atomic int64_t total;
    _Atomic int used[8];
};

static void add_range(void *ctx, int64_t b, int64_t e, int worker)
{
    struct sum *s = ctx;
    int64_t t = 0;
    for (int64_t i = b; i < e; i++)
        t += i;
    atomic_fetch_add(&s->total, t);
    atomic_store(&s->used[worker], 1);
}

/* Thousands of small jobs back to back, as a decode loop issues them. */
static void test_many_calls(void **state)
{
    (void)state;
    for (int t = 2; t <= 4; t++) {
        struct eng_pool *p = NULL;
        assert_int_equal(eng_pool_new(t, &p, NULL), 0);
        struct sum s;
        memset(&s, 0, sizeof s);
        const int calls = 3000;
        const int64_t n = 257;
        for (int i = 0; i < calls; i++)
            eng_pool_for(p, n, 1, add_range, &s);
        assert_int_equal(atomic_load(&s.total), (int64_t)calls * n * (n - 1) / 2);
        assert_int_equal(atomic_load(&s.used[0]), 1);   /* the caller works too */
        eng_pool_free(p);
    }
}

static void test_default_size_and_scratch(void **state)
{
    (void)state;
    struct eng_pool *p = NULL;
    assert_int_equal(eng_pool_new(0, &p, NULL), 0);
    assert_int_equal(eng_pool_size(p), eng_cpu_physical_cores());
    char *a = eng_pool_scratch(p, 100);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 64, 0);
    memset(a, 1, 100);
    assert_ptr_equal(eng_pool_scratch(p, 50), a);
    char *b = eng_pool_scratch(p, 1 << 20);
    assert_non_null(b);
    memset(b, 2, 1 << 20);
    eng_pool_free(p);
    eng_pool_free(NULL);
    assert_int_equal(eng_pool_size(NULL), 1);

    struct lore_err err = {0};
    assert_int_equal(eng_pool_new(100000, &p, &err), LORE_EINVAL);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cover_each_index_once),
        cmocka_unit_test(test_many_calls),
        cmocka_unit_test(test_default_size_and_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
