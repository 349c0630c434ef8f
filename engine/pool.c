/*
 * pool.c — the engine's persistent thread pool: a parallel-for over rows.
 *
 * Threads are started once and live as long as the pool.  A call publishes
 * the job (function, context, range) and bumps a generation counter; idle
 * workers spin briefly on that counter and then sleep on a condition
 * variable, so a decode step's ~hundreds of small products do not pay a
 * futex wake each, yet an idle pool uses no CPU.  Work is handed out in
 * grain-aligned chunks from an atomic cursor, so a slow or descheduled
 * thread delays the end by at most one chunk.  The calling thread works too
 * (as worker 0) and waits only for chunks others have claimed, so a worker
 * the OS has not scheduled costs nothing.  Nothing is allocated per call.
 */
#include "engine/kernels.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SPIN_ITERS 4000
#define CHUNKS_PER_THREAD 4

/* The job cursor packs the job's generation with the next unclaimed index:
 *     state = gen << IDX_BITS | next
 * A chunk is claimed by a compare-and-swap that also checks the generation,
 * so a worker that wakes late, or reads the job fields while the caller is
 * already writing the next job's, can never claim work with the wrong
 * fields: when a job ends its cursor is closed (next = IDX_CLOSED), and the
 * next job is published by storing a new generation with release order
 * after its fields.  The caller therefore waits only for the chunks that
 * were claimed, never for threads that did not get a turn. */
#define IDX_BITS 36
#define IDX_MASK ((UINT64_C(1) << IDX_BITS) - 1)
#define IDX_CLOSED IDX_MASK
#define GEN_MASK ((UINT64_C(1) << (64 - IDX_BITS)) - 1)

struct eng_pool {
    int n;                        /* threads, the caller included */
    pthread_t *threads;           /* n - 1 workers */
    pthread_mutex_t mu;           /* guards sleeping on / waking the cvs */
    pthread_cond_t cv_work, cv_done;
    pthread_mutex_t call_mu;      /* one eng_pool_for at a time */
    uint64_t gen;                 /* last generation published (caller only) */

    /* the current job: written by the caller before it publishes state;
     * atomics so a late reader sees old or new values, never torn ones */
    _Atomic(eng_pool_fn) fn;
    _Atomic(void *) ctx;
    _Atomic int64_t total, chunk;
    _Atomic uint64_t state;       /* gen << IDX_BITS | next index */
    _Atomic int64_t done;         /* items finished in the current job */
    _Atomic int stop;

    void *scratch;
    size_t scratch_cap;
};

struct worker_arg {
    struct eng_pool *p;
    int id;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims the next chunk of job gen; 0 when it has none left (or has ended). */
static int claim(struct eng_pool *p, uint64_t gen, int64_t total, int64_t chunk, int64_t *b)
{
    uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
    for (;;) {
        if (s >> IDX_BITS != gen)
            return 0;
        int64_t i = (int64_t)(s & IDX_MASK);
        if (i >= total)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&p->state, &s, s + (uint64_t)chunk,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *b = i;
            return 1;
        }
    }
}

/* Runs chunks of job gen until none are left; wakes the caller if this
 * thread finished the job's last items. */
static void run_job(struct eng_pool *p, uint64_t gen, int worker)
{
    eng_pool_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
    int64_t total = atomic_load_explicit(&p->total, memory_order_relaxed);
    int64_t chunk = atomic_load_explicit(&p->chunk, memory_order_relaxed);
    int64_t b;
    while (claim(p, gen, total, chunk, &b)) {
        int64_t e = b + chunk < total ? b + chunk : total;
        fn(ctx, b, e, worker);
        int64_t before = atomic_fetch_add_explicit(&p->done, e - b, memory_order_acq_rel);
        if (before + (e - b) == total && worker != 0) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static uint64_t current_gen(struct eng_pool *p)
{
    return atomic_load_explicit(&p->state, memory_order_acquire) >> IDX_BITS;
}

static void *worker_main(void *arg)
{
    struct worker_arg wa = *(struct worker_arg *)arg;
    struct eng_pool *p = wa.p;
    free(arg);
    uint64_t seen = current_gen(p);
    for (;;) {
        uint64_t g = current_gen(p);
        for (int i = 0; g == seen && i < SPIN_ITERS; i++) {
            cpu_relax();
            g = current_gen(p);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = current_gen(p)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv_work, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        run_job(p, g, wa.id);
    }
}

static void stop_workers(struct eng_pool *p, int started)
{
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++)
        pthread_join(p->threads[i], NULL);
}

int eng_pool_new(int nthreads, struct eng_pool **out, struct lore_err *e)
{
    *out = NULL;
    if (nthreads <= 0)
        nthreads = eng_cpu_physical_cores();
    if (nthreads > 1024)
        return lore_err_set(e, LORE_EINVAL, "thread pool: %d threads is too many",
                            nthreads);
    struct eng_pool *p = calloc(1, sizeof *p);
    if (!p)
        return lore_err_set(e, LORE_ENOMEM, "thread pool: out of memory");
    p->n = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->call_mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    if (nthreads > 1) {
        p->threads = calloc((size_t)nthreads - 1, sizeof *p->threads);
        if (!p->threads) {
            eng_pool_free(p);
            return lore_err_set(e, LORE_ENOMEM, "thread pool: out of memory");
        }
    }
    for (int i = 0; i < nthreads - 1; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        int rc = wa ? 0 : ENOMEM;
        if (wa) {
            *wa = (struct worker_arg){p, i + 1};
            rc = pthread_create(&p->threads[i], NULL, worker_main, wa);
            if (rc)
                free(wa);
        }
        if (rc) {
            stop_workers(p, i);
            p->n = 1;             /* the rest were never started */
            eng_pool_free(p);
            return lore_err_set(e, LORE_ENOMEM, "thread pool: cannot start thread %d "
                                "of %d: %s", i + 2, nthreads, strerror(rc));
        }
    }
    *out = p;
    return 0;
}

void eng_pool_free(struct eng_pool *p)
{
    if (!p)
        return;
    if (p->n > 1)
        stop_workers(p, p->n - 1);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->call_mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    free(p->threads);
    free(p->scratch);
    free(p);
}

int eng_pool_size(const struct eng_pool *p)
{
    return p ? p->n : 1;
}

void eng_pool_for(struct eng_pool *p, int64_t n, int64_t grain, eng_pool_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    if (!p || p->n == 1 || n <= grain || n >= (int64_t)IDX_CLOSED / 2) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->call_mu);
    int64_t chunks = (int64_t)p->n * CHUNKS_PER_THREAD;
    int64_t chunk = (n + chunks - 1) / chunks;
    chunk = (chunk + grain - 1) / grain * grain;
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->total, n, memory_order_relaxed);
    atomic_store_explicit(&p->chunk, chunk, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    p->gen = (p->gen + 1) & GEN_MASK;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->state, p->gen << IDX_BITS, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);

    run_job(p, p->gen, 0);

    /* wait for the chunks other threads claimed */
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) != n &&
                    i < SPIN_ITERS; i++)
        cpu_relax();
    if (atomic_load_explicit(&p->done, memory_order_acquire) != n) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->done, memory_order_acquire) != n)
            pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    /* close the cursor: a late worker holding this job's fields finds no work */
    atomic_store_explicit(&p->state, p->gen << IDX_BITS | IDX_CLOSED, memory_order_release);
    pthread_mutex_unlock(&p->call_mu);
}

void *eng_pool_scratch(struct eng_pool *p, size_t bytes)
{
    if (bytes <= p->scratch_cap)
        return p->scratch;
    size_t cap = (bytes + bytes / 4 + 63) & ~(size_t)63;
    void *s = aligned_alloc(64, cap);
    if (!s)
        return NULL;
    free(p->scratch);
    p->scratch = s;
    p->scratch_cap = cap;
    return s;
}
