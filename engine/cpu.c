/*
 * cpu.c — what this CPU can run, and the kernel tables built from it.
 *
 * CPUID (plus XGETBV: the OS must save the wide registers) gives the SIMD
 * level once; one kernel table per level is filled the first time anyone
 * asks, and never changes after.  LORE_CPU=generic|avx2|avx512|avx512bw
 * forces a level (for tests, benchmarks and bug reports); a level the CPU
 * lacks is refused with a message on stderr and the best real level used.
 * Also here: the number of physical cores, the pool's default size.
 */
#include "engine/kernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(LORE_HAVE_AVX2)
#include <cpuid.h>
#endif

static const char *level_names[ENG_CPU_LEVELS] = {"generic", "avx2", "avx512",
                                                  "avx512vnni"};

const char *eng_cpu_level_name(int level)
{
    return level >= 0 && level < ENG_CPU_LEVELS ? level_names[level] : "unknown";
}

/* ---- detection -------------------------------------------------------------------- */

#if defined(LORE_HAVE_AVX2)
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static int detect_level(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return ENG_CPU_GENERIC;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1,
        f16c = (c >> 29) & 1;
    if (!osxsave || !avx)
        return ENG_CPU_GENERIC;
    uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6)            /* XMM and YMM state */
        return ENG_CPU_GENERIC;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return ENG_CPU_GENERIC;
    int avx2 = (b >> 5) & 1, bmi2 = (b >> 8) & 1;
    if (!(avx2 && fma && f16c && bmi2))
        return ENG_CPU_GENERIC;
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    int vnni = (c >> 11) & 1;
    if (!(f && dq && bw && vl) || (xcr0 & 0xe0) != 0xe0)  /* opmask, ZMM state */
        return ENG_CPU_AVX2;
    return vnni ? ENG_CPU_AVX512_VNNI : ENG_CPU_AVX512;
}
#else
static int detect_level(void)
{
    return ENG_CPU_GENERIC;
}
#endif

/* ---- tables ---------------------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int best_level;
static int chosen_level;
static struct eng_kernels tables[ENG_CPU_LEVELS];

static int level_from_env(const char *v, int best)
{
    int want;
    if (!strcmp(v, "generic"))
        want = ENG_CPU_GENERIC;
    else if (!strcmp(v, "avx2"))
        want = ENG_CPU_AVX2;
    else if (!strcmp(v, "avx512"))
        want = best == ENG_CPU_AVX512_VNNI ? ENG_CPU_AVX512_VNNI : ENG_CPU_AVX512;
    else if (!strcmp(v, "avx512bw"))
        want = ENG_CPU_AVX512;
    else if (!strcmp(v, "avx512vnni"))
        want = ENG_CPU_AVX512_VNNI;
    else {
        fprintf(stderr, "lore: LORE_CPU='%s' is not one of generic, avx2, avx512, "
                        "avx512bw; using %s\n", v, level_names[best]);
        return best;
    }
    if (want > best) {
        fprintf(stderr, "lore: LORE_CPU='%s' asks for %s, which this CPU lacks; "
                        "using %s\n", v, level_names[want], level_names[best]);
        return best;
    }
    return want;
}

static void init_tables(void)
{
    best_level = detect_level();
    for (int l = 0; l <= best_level; l++) {
        struct eng_kernels *k = &tables[l];
        k->level = l;
        k->name = level_names[l];
        eng_kernels_fill_ref(k);
#if defined(LORE_HAVE_AVX2)
        if (l >= ENG_CPU_AVX2)
            eng_kernels_fill_avx2(k);
#endif
#if defined(LORE_HAVE_AVX512)
        if (l >= ENG_CPU_AVX512)
            eng_kernels_fill_avx512(k, l == ENG_CPU_AVX512_VNNI);
#endif
    }
    const char *env = getenv("LORE_CPU");
    chosen_level = env && *env ? level_from_env(env, best_level) : best_level;
}

const struct eng_kernels *eng_kernels_get(void)
{
    pthread_once(&once, init_tables);
    return &tables[chosen_level];
}

const struct eng_kernels *eng_kernels_for_level(int level)
{
    pthread_once(&once, init_tables);
    if (level < 0 || level > best_level)
        return NULL;
    return &tables[level];
}

int eng_cpu_best_level(void)
{
    pthread_once(&once, init_tables);
    return best_level;
}

/* ---- cores ---------------------------------------------------------------------------- */

static int read_int_file(const char *path, int *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fscanf(f, "%d", v) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

int eng_cpu_physical_cores(void)
{
    cpu_set_t set;
    int logical = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        logical = CPU_COUNT(&set);
    if (logical <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
    /* Count distinct (package, core) pairs among the CPUs we may run on. */
    enum { MAXC = 1024 };
    int seen_pkg[MAXC], seen_core[MAXC];
    int nseen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && nseen < MAXC; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        char path[128];
        int pkg, core;
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        if (read_int_file(path, &pkg))
            return logical;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        if (read_int_file(path, &core))
            return logical;
        int dup = 0;
        for (int i = 0; i < nseen && !dup; i++)
            dup = seen_pkg[i] == pkg && seen_core[i] == core;
        if (!dup) {
            seen_pkg[nseen] = pkg;
            seen_core[nseen] = core;
            nseen++;
        }
    }
    return nseen > 0 ? nseen : logical;
}
