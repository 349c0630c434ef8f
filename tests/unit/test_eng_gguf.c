/*
 * test_eng_gguf.c — the GGUF reader: real files read right, hostile files
 * refused with an error that names the problem, never a crash.
 *
 * Hostile inputs are (1) a real model cut at every offset of its header and
 * at sampled offsets of its data, (2) a real header with bytes overwritten by
 * a seeded PRNG, (3) files forged by a small writer below with huge counts,
 * lengths, dimensions and offsets. Every parse works on an exact-size heap
 * copy so that ASan (LORE_SANITIZE=ON) flags any read past the end.
 *
 * Paths: LORE_SHARED (../shared under ctest). The forged-file tests need no
 * data; the real-file ones skip when the models are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "engine/engine.h"

static char g_shared[1024];

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- a tiny GGUF writer ------------------------------------------------------ */

struct wb {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct wb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u32(struct wb *b, uint32_t v) { put(b, &v, 4); }
static void u64(struct wb *b, uint64_t v) { put(b, &v, 8); }
static void str(struct wb *b, const char *s) { u64(b, strlen(s)); put(b, s, strlen(s)); }
static void header(struct wb *b, uint32_t version, uint64_t n_t, uint64_t n_kv)
{
    put(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_t);
    u64(b, n_kv);
}
static void kv_u32(struct wb *b, const char *k, uint32_t v)
{
    str(b, k);
    u32(b, ENG_GGUF_U32);
    u32(b, v);
}
static void kv_str(struct wb *b, const char *k, const char *v)
{
    str(b, k);
    u32(b, ENG_GGUF_STR);
    str(b, v);
}
static void tinfo(struct wb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                  uint32_t type, uint64_t off)
{
    str(b, name);
    u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        u64(b, ne[i]);
    u32(b, type);
    u64(b, off);
}
static void pad_to(struct wb *b, size_t a)
{
    while (b->n % a)
        put(b, "", 1);
}
static void zeros(struct wb *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(b, "", 1);
}

/* Parses an exact-size copy; returns the status, message in *err. */
static int open_copy(const void *d, size_t n, struct lore_err *err, struct eng_gguf **unused)
{
    void *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, d, n);
    struct eng_gguf *g = NULL;
    memset(err, 0, sizeof *err);
    int rc = eng_gguf_open_mem(c, n, "x.gguf", &g, err);
    if (rc == 0) {
        assert_non_null(g);
        /* walk everything the handle exposes, so bad indexes would show */
        for (int64_t i = 0; i < eng_gguf_n_kv(g); i++) {
            size_t len;
            assert_non_null(eng_gguf_key(g, i));
            (void)eng_gguf_kv_f64(g, i);
            (void)eng_gguf_kv_str(g, i, &len);
            uint64_t n_el = eng_gguf_arr_len(g, i);
            for (uint64_t j = 0; j < n_el && j < 64; j++) {
                (void)eng_gguf_arr_f64(g, i, j);
                (void)eng_gguf_arr_str(g, i, j, &len);
            }
        }
        for (int64_t i = 0; i < eng_gguf_n_tensors(g); i++) {
            struct eng_tensor_info ti;
            assert_int_equal(eng_gguf_tensor(g, i, &ti), 0);
            assert_true(ti.offset + ti.size <= n);
            if (ti.size) {  /* touch first and last byte */
                volatile uint8_t x = ((const uint8_t *)ti.data)[0];
                x = ((const uint8_t *)ti.data)[ti.size - 1];
                (void)x;
            }
        }
        eng_gguf_close(g);
    } else {
        assert_null(g);
        assert_true(rc < 0);
        assert_true(err->msg[0] != 0);
    }
    (void)unused;
    free(c);
    return rc;
}

static void expect_fail(struct wb *b, int status, const char *needle)
{
    struct lore_err err;
    int rc = open_copy(b->p, b->n, &err, NULL);
    if (rc != status || (needle && !strstr(err.msg, needle)))
        fprintf(stderr, "  got %d \"%s\", want %d \"%s\"\n", rc, err.msg, status,
                needle ? needle : "");
    assert_int_equal(rc, status);
    if (needle)
        assert_non_null(strstr(err.msg, needle));
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- well-formed files ---------------------------------------------------------- */

static void test_forged_valid(void **state)
{
    (void)state;
    struct wb b = {0};
    header(&b, 3, 2, 9);
    kv_u32(&b, "general.alignment", 64);
    kv_str(&b, "general.architecture", "llama");
    str(&b, "a.i8"), u32(&b, ENG_GGUF_I8), put(&b, "\xfe", 1);          /* -2 */
    str(&b, "a.u64"), u32(&b, ENG_GGUF_U64), u64(&b, 1ull << 40);
    str(&b, "a.f64"), u32(&b, ENG_GGUF_F64), put(&b, &(double){0.25}, 8);
    str(&b, "a.bool"), u32(&b, ENG_GGUF_BOOL), put(&b, "\x01", 1);
    str(&b, "a.arr_i16"), u32(&b, ENG_GGUF_ARR), u32(&b, ENG_GGUF_I16), u64(&b, 3);
    put(&b, "\x01\x00\xff\xff\x03\x00", 6);
    str(&b, "a.arr_str"), u32(&b, ENG_GGUF_ARR), u32(&b, ENG_GGUF_STR), u64(&b, 2);
    str(&b, "x"), str(&b, "");
    str(&b, "a.i32"), u32(&b, ENG_GGUF_I32), u32(&b, (uint32_t)-5);
    uint64_t ne1[2] = {64, 3}, ne2[1] = {256};
    tinfo(&b, "w", 2, ne1, ENG_GGML_Q8_0, 0);        /* 2 blocks × 34 × 3 rows = 204 */
    tinfo(&b, "v", 1, ne2, ENG_GGML_Q4_K, 256);
    pad_to(&b, 64);
    size_t data = b.n;
    zeros(&b, 256 + 144);

    struct lore_err err;
    struct eng_gguf *g = NULL;
    assert_int_equal(open_copy(b.p, b.n, &err, NULL), 0);     /* exact-size pass */
    assert_int_equal(eng_gguf_open_mem(b.p, b.n, "t.gguf", &g, &err), 0);
    assert_string_equal(eng_gguf_name(g), "t.gguf");
    assert_int_equal(eng_gguf_version(g), 3);
    assert_int_equal(eng_gguf_alignment(g), 64);
    assert_int_equal(eng_gguf_data_offset(g), data);
    assert_int_equal(eng_gguf_n_kv(g), 9);
    assert_int_equal(eng_gguf_n_tensors(g), 2);

    uint32_t v32;
    int32_t i32;
    uint64_t v64;
    float f;
    bool bo;
    char s[16];
    assert_int_equal(eng_gguf_get_u32(g, "general.alignment", &v32, &err), 0);
    assert_int_equal(v32, 64);
    assert_int_equal(eng_gguf_get_i32(g, "a.i8", &i32, &err), 0);
    assert_int_equal(i32, -2);
    assert_int_equal(eng_gguf_get_u32(g, "a.i8", &v32, &err), LORE_EFORMAT);
    assert_int_equal(eng_gguf_get_i32(g, "a.i32", &i32, &err), 0);
    assert_int_equal(i32, -5);
    assert_int_equal(eng_gguf_get_u32(g, "a.u64", &v32, &err), LORE_EFORMAT);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_int_equal(eng_gguf_get_u64(g, "a.u64", &v64, &err), 0);
    assert_true(v64 == 1ull << 40);
    assert_int_equal(eng_gguf_get_f32(g, "a.f64", &f, &err), 0);
    assert_true(f == 0.25f);
    assert_int_equal(eng_gguf_get_f32(g, "a.u64", &f, &err), LORE_EFORMAT);
    assert_int_equal(eng_gguf_get_bool(g, "a.bool", &bo, &err), 0);
    assert_true(bo);
    assert_int_equal(eng_gguf_get_bool(g, "a.u64", &bo, &err), LORE_EFORMAT);
    assert_int_equal(eng_gguf_get_strz(g, "general.architecture", s, sizeof s, &err), 0);
    assert_string_equal(s, "llama");
    assert_int_equal(eng_gguf_get_strz(g, "general.architecture", s, 3, &err), 0);
    assert_string_equal(s, "ll");
    assert_int_equal(eng_gguf_get_u32(g, "missing.key", &v32, &err), LORE_ENOENT);
    assert_non_null(strstr(err.msg, "'missing.key'"));

    int64_t ai;
    int et;
    uint64_t n;
    assert_int_equal(eng_gguf_get_arr(g, "a.arr_i16", &ai, &et, &n, &err), 0);
    assert_int_equal(et, ENG_GGUF_I16);
    assert_int_equal(n, 3);
    assert_int_equal(eng_gguf_arr_i64(g, ai, 0), 1);
    assert_int_equal(eng_gguf_arr_i64(g, ai, 1), -1);
    assert_int_equal(eng_gguf_arr_i64(g, ai, 2), 3);
    assert_int_equal(eng_gguf_arr_i64(g, ai, 3), 0);           /* out of range */
    assert_non_null(eng_gguf_arr_data(g, ai));
    assert_int_equal(eng_gguf_get_arr(g, "a.arr_str", &ai, &et, &n, &err), 0);
    size_t len;
    const char *e0 = eng_gguf_arr_str(g, ai, 0, &len);
    assert_int_equal(len, 1);
    assert_memory_equal(e0, "x", 1);
    assert_non_null(eng_gguf_arr_str(g, ai, 1, &len));
    assert_int_equal(len, 0);
    assert_null(eng_gguf_arr_str(g, ai, 2, &len));
    assert_null(eng_gguf_arr_data(g, ai));
    assert_int_equal(eng_gguf_get_arr(g, "a.bool", &ai, &et, &n, &err), LORE_EFORMAT);

    struct eng_tensor_info ti;
    assert_int_equal(eng_gguf_find_tensor(g, "v", &ti), 1);
    assert_string_equal(ti.name, "v");
    assert_int_equal(ti.type, ENG_GGML_Q4_K);
    assert_int_equal(ti.n_dims, 1);
    assert_int_equal(ti.ne[0], 256);
    assert_int_equal(ti.ne[1], 1);
    assert_int_equal(ti.size, 144);
    assert_int_equal(ti.offset, data + 256);
    assert_int_equal(eng_gguf_find_tensor(g, "w", &ti), 0);
    assert_int_equal(ti.size, 204);
    assert_int_equal(ti.n_elements, 192);
    assert_int_equal(eng_gguf_find_tensor(g, "nope", NULL), -1);
    assert_int_equal(eng_gguf_tensor(g, 2, &ti), LORE_EINVAL);
    assert_string_equal(eng_ggml_type_name(ENG_GGML_Q6_K), "Q6_K");
    assert_string_equal(eng_ggml_type_name(31), "?");
    eng_gguf_close(g);
    free(b.p);

    /* version 2 is read the same way; a vocabulary-only file may end early */
    memset(&b, 0, sizeof b);
    header(&b, 2, 0, 1);
    kv_str(&b, "general.name", "v2");
    assert_int_equal(open_copy(b.p, b.n, &err, NULL), 0);
    free(b.p);
}

static void test_real_files(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.gguf", g_shared);
    if (!exists(path)) {
        fprintf(stderr, "skip: %s not found\n", path);
        skip();
    }
    struct lore_err err;
    struct eng_gguf *g;
    assert_int_equal(eng_gguf_open(path, &g, &err), 0);
    assert_int_equal(eng_gguf_version(g), 3);
    assert_int_equal(eng_gguf_file_size(g), 1185376);
    assert_int_equal(eng_gguf_data_offset(g), 14176);
    assert_int_equal(eng_gguf_n_tensors(g), 48);
    uint32_t v;
    float f;
    char s[32];
    assert_int_equal(eng_gguf_get_u32(g, "llama.context_length", &v, &err), 0);
    assert_int_equal(v, 2048);
    assert_int_equal(eng_gguf_get_u32(g, "llama.attention.head_count_kv", &v, &err), 0);
    assert_int_equal(v, 4);
    assert_int_equal(eng_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &err), 0);
    assert_true(f > 0.9e-5f && f < 1.1e-5f);
    assert_int_equal(eng_gguf_get_strz(g, "general.architecture", s, sizeof s, &err), 0);
    assert_string_equal(s, "llama");
    int64_t ai;
    int et;
    uint64_t n;
    size_t len;
    assert_int_equal(eng_gguf_get_arr(g, "tokenizer.ggml.tokens", &ai, &et, &n, &err), 0);
    assert_int_equal(n, 512);
    const char *t0 = eng_gguf_arr_str(g, ai, 0, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(t0, "<unk>", 5);
    struct eng_tensor_info ti;
    assert_true(eng_gguf_find_tensor(g, "token_embd.weight", &ti) >= 0);
    assert_int_equal(ti.type, ENG_GGML_F32);
    assert_int_equal(ti.ne[0], 64);
    assert_int_equal(ti.ne[1], 512);
    assert_int_equal(ti.size, 64 * 512 * 4);
    assert_int_equal(ti.offset, 14176);
    /* output.weight is a byte copy of token_embd.weight in this file */
    struct eng_tensor_info to;
    assert_true(eng_gguf_find_tensor(g, "output.weight", &to) >= 0);
    assert_int_equal(to.size, ti.size);
    assert_memory_equal(to.data, ti.data, ti.size);
    assert_int_equal(eng_gguf_chat_family(g), ENG_CHAT_CHATML);
    eng_gguf_close(g);

    snprintf(path, sizeof path, "%s/golden/models/llama-spm-tiny-Q4_K_M.gguf", g_shared);
    if (exists(path)) {
        assert_int_equal(eng_gguf_open(path, &g, &err), 0);
        assert_true(eng_gguf_find_tensor(g, "token_embd.weight", &ti) >= 0);
        assert_int_equal(ti.type, ENG_GGML_Q6_K);
        assert_int_equal(ti.size, 256 / 256 * 210 * 32000);
        assert_true(eng_gguf_find_tensor(g, "blk.0.attn_q.weight", &ti) >= 0);
        assert_int_equal(ti.type, ENG_GGML_Q4_K);
        eng_gguf_close(g);
    }

    assert_int_equal(eng_gguf_open("/nonexistent/x.gguf", &g, &err), LORE_ENOENT);
    assert_null(g);
    assert_non_null(strstr(err.msg, "'/nonexistent/x.gguf'"));
    assert_int_equal(eng_gguf_open(g_shared, &g, &err), LORE_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

/* ---- hostile inputs -------------------------------------------------------------- */

static void test_truncation(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.gguf", g_shared);
    if (!exists(path)) {
        fprintf(stderr, "skip: %s not found\n", path);
        skip();
    }
    char *d;
    size_t n;
    struct lore_err err;
    assert_int_equal(lore_read_file(path, &d, &n, 1 << 26, &err), 0);
    int fails = 0, cuts = 0;
    /* every offset of the header and tensor infos, then every 509th byte */
    for (size_t cut = 0; cut < n; cut += cut < 16384 ? 1 : 509) {
        int rc = open_copy(d, cut, &err, NULL);
        assert_true(rc != 0);   /* the last tensor ends at the end of the file */
        if (cut > 20000)
            assert_non_null(strstr(err.msg, "data extends past end of file"));
        fails += rc != 0;
        cuts++;
    }
    assert_int_equal(open_copy(d, n, &err, NULL), 0);
    fprintf(stderr, "truncation: %d cuts, %d refused\n", cuts, fails);
    free(d);

    /* the 32000-token vocabulary: header only, cut at sampled offsets */
    snprintf(path, sizeof path, "%s/models/tokenizer-vocab-llamacpp/ggml-vocab-llama-spm.gguf",
             g_shared);
    if (exists(path)) {
        assert_int_equal(lore_read_file(path, &d, &n, 1 << 26, &err), 0);
        for (size_t cut = 0; cut < n; cut += cut < 2048 ? 1 : 4093) {
            int rc = open_copy(d, cut, &err, NULL);
            assert_true(rc != 0);
        }
        free(d);
    }
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_byte_flips(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.gguf", g_shared);
    if (!exists(path)) {
        fprintf(stderr, "skip: %s not found\n", path);
        skip();
    }
    char *d;
    size_t n;
    struct lore_err err;
    assert_int_equal(lore_read_file(path, &d, &n, 1 << 26, &err), 0);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int ok = 0, bad = 0;
    char *m = malloc(n);
    assert_non_null(m);
    for (int it = 0; it < 3000; it++) {
        memcpy(m, d, n);
        int k = 1 + (int)(rng(&seed) % 4);
        for (int j = 0; j < k; j++) {
            size_t pos = rng(&seed) % 14176;    /* the header and tensor infos */
            uint64_t r = rng(&seed);
            switch (r % 4) {
            case 0: m[pos] ^= (char)(1u << (r >> 8) % 8); break;
            case 1: m[pos] = (char)0xff; break;
            case 2: m[pos] = 0; break;
            default:    /* a huge little-endian u64 */
                if (pos + 8 <= 14176)
                    memset(m + pos, 0xff, 8 - (r >> 8) % 3);
                break;
            }
        }
        if (open_copy(m, n, &err, NULL) == 0)
            ok++;
        else
            bad++;
    }
    fprintf(stderr, "byte flips: %d still valid, %d refused\n", ok, bad);
    assert_true(bad > 0);
    free(m);
    free(d);
}

static void test_forged(void **state)
{
    (void)state;
    struct wb b = {0};
    uint64_t ne[5] = {32, 2, 1, 1, 1};

    expect_fail(&b, LORE_EFORMAT, "too small");                      /* empty */
    put(&b, "GGUF", 4), u32(&b, 3);
    expect_fail(&b, LORE_EFORMAT, "too small");
    put(&b, "GGML", 4), u32(&b, 3), u64(&b, 0), u64(&b, 0);
    expect_fail(&b, LORE_EFORMAT, "bad magic");
    header(&b, 1, 0, 0);
    expect_fail(&b, LORE_EVERSION, "version 1");
    header(&b, 4, 0, 0);
    expect_fail(&b, LORE_EVERSION, "version 4");
    header(&b, 3u << 24, 0, 0);
    expect_fail(&b, LORE_EUNSUPPORTED, "big-endian");

    header(&b, 3, 0, UINT64_MAX);
    expect_fail(&b, LORE_EFORMAT, "metadata count");
    header(&b, 3, 1ull << 62, 0);
    expect_fail(&b, LORE_EFORMAT, "tensor count");
    header(&b, 3, 0, 2);
    kv_u32(&b, "k", 1);
    expect_fail(&b, LORE_EFORMAT, "metadata count");                 /* 1 of 2 present */
    header(&b, 3, 0, 1);
    u64(&b, UINT64_MAX - 3), put(&b, "abcdefghijklmnop", 16);
    expect_fail(&b, LORE_EFORMAT, "past the end");                   /* key length */
    header(&b, 3, 0, 1);
    u64(&b, 0), u32(&b, ENG_GGUF_U8), put(&b, "\x01", 1);
    expect_fail(&b, LORE_EFORMAT, "empty");                          /* empty key */
    header(&b, 3, 0, 1);
    u64(&b, 3), put(&b, "a\0b", 3), u32(&b, ENG_GGUF_U8), put(&b, "\x01", 1);
    expect_fail(&b, LORE_EFORMAT, "NUL");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, 13), u64(&b, 0);
    expect_fail(&b, LORE_EFORMAT, "unknown value type");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, ENG_GGUF_STR), u64(&b, 1ull << 40), put(&b, "xxxxxxxx", 8);
    expect_fail(&b, LORE_EFORMAT, "value of key 'k'");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, ENG_GGUF_U64), u32(&b, 7);                 /* 4 of 8 bytes */
    expect_fail(&b, LORE_EFORMAT, "truncated");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, ENG_GGUF_ARR), u32(&b, ENG_GGUF_U64), u64(&b, 1ull << 61);
    u64(&b, 0);
    expect_fail(&b, LORE_EFORMAT, "claims");                         /* n * 8 overflows */
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, ENG_GGUF_ARR), u32(&b, ENG_GGUF_STR), u64(&b, UINT64_MAX);
    u64(&b, 0);
    expect_fail(&b, LORE_EFORMAT, "claims");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, ENG_GGUF_ARR), u32(&b, ENG_GGUF_STR), u64(&b, 2);
    str(&b, "ok"), u64(&b, 1000), put(&b, "short", 5);
    expect_fail(&b, LORE_EFORMAT, "value of key 'k'");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, ENG_GGUF_ARR), u32(&b, ENG_GGUF_ARR), u64(&b, 1);
    u32(&b, ENG_GGUF_U8), u64(&b, 0);
    expect_fail(&b, LORE_EUNSUPPORTED, "array of arrays");
    header(&b, 3, 0, 1);
    str(&b, "k"), u32(&b, ENG_GGUF_ARR), u32(&b, 99), u64(&b, 1), u64(&b, 0);
    expect_fail(&b, LORE_EFORMAT, "unknown type");
    header(&b, 3, 0, 2);
    kv_u32(&b, "dup", 1), kv_u32(&b, "dup", 2);
    expect_fail(&b, LORE_EFORMAT, "duplicate key 'dup'");

    /* alignment */
    header(&b, 3, 0, 1);
    kv_u32(&b, "general.alignment", 0);
    expect_fail(&b, LORE_EFORMAT, "power of two");
    header(&b, 3, 0, 1);
    kv_u32(&b, "general.alignment", 48);
    expect_fail(&b, LORE_EFORMAT, "power of two");
    header(&b, 3, 0, 1);
    kv_str(&b, "general.alignment", "32");
    expect_fail(&b, LORE_EFORMAT, "general.alignment");

    /* tensor infos */
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 5, ne, ENG_GGML_F32, 0);
    zeros(&b, 64);
    expect_fail(&b, LORE_EFORMAT, "dimensions");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 0, ne, ENG_GGML_F32, 0);
    zeros(&b, 64);
    expect_fail(&b, LORE_EFORMAT, "dimensions");
    uint64_t big[4] = {1ull << 32, 1ull << 32, 1, 1};
    header(&b, 3, 1, 0);
    tinfo(&b, "blk.0.attn_q.weight", 2, big, ENG_GGML_F32, 0);
    zeros(&b, 64);
    expect_fail(&b, LORE_EFORMAT, "overflows");
    uint64_t neg[1] = {UINT64_MAX};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, neg, ENG_GGML_F32, 0);
    zeros(&b, 64);
    expect_fail(&b, LORE_EFORMAT, "overflows");
    uint64_t wide[2] = {1ull << 62, 1};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 2, wide, ENG_GGML_F32, 0);     /* elements fit, bytes do not */
    zeros(&b, 64);
    expect_fail(&b, LORE_EFORMAT, "overflows");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne, 31, 0);                 /* removed type id */
    zeros(&b, 64);
    expect_fail(&b, LORE_EUNSUPPORTED, "unknown type 31");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne, 1000, 0);
    zeros(&b, 64);
    expect_fail(&b, LORE_EUNSUPPORTED, "unknown type");
    uint64_t odd[1] = {33};
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, odd, ENG_GGML_Q8_0, 0);
    zeros(&b, 64);
    expect_fail(&b, LORE_EFORMAT, "block size");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne, ENG_GGML_F32, 16);
    zeros(&b, 256);
    expect_fail(&b, LORE_EFORMAT, "not a multiple of the alignment");
    header(&b, 3, 1, 0);
    tinfo(&b, "blk.0.attn_q.weight", 1, ne, ENG_GGML_F32, UINT64_MAX - 31);
    zeros(&b, 256);
    expect_fail(&b, LORE_EFORMAT, "'blk.0.attn_q.weight' data extends past end of file");
    header(&b, 3, 1, 0);
    tinfo(&b, "t", 2, ne, ENG_GGML_F32, 0);       /* 256 bytes, 100 present */
    pad_to(&b, 32);
    zeros(&b, 100);
    expect_fail(&b, LORE_EFORMAT, "'t' data extends past end of file");
    header(&b, 3, 2, 0);
    tinfo(&b, "t", 1, ne, ENG_GGML_F32, 0);
    tinfo(&b, "t", 1, ne, ENG_GGML_F32, 128);
    pad_to(&b, 32);
    zeros(&b, 256);
    expect_fail(&b, LORE_EFORMAT, "duplicate tensor 't'");
    header(&b, 3, 1, 0);
    u64(&b, 0), u32(&b, 1), u64(&b, 4), u32(&b, 0), u64(&b, 0);
    zeros(&b, 64);
    expect_fail(&b, LORE_EFORMAT, "empty");
    header(&b, 3, 1, 0);
    str(&b, "t"), u32(&b, 4), u64(&b, 4), u64(&b, 4), put(&b, "abc", 3); /* shape cut */
    expect_fail(&b, LORE_EFORMAT, "truncated");
}

int main(void)
{
    const char *sh = getenv("LORE_SHARED");
    snprintf(g_shared, sizeof g_shared, "%s", sh && *sh ? sh : "../shared");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_valid),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_byte_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
