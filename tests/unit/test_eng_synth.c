/*
 * test_eng_synth.c — the GGUF writer (engine/gguf_write.c) and the
 * synthetic-model writer (engine/synth.c).
 *
 * The writer is checked against the reader: every metadata type (string
 * arrays included) round-trips, tensors land aligned with their bytes
 * intact, a copy of every key of a file equals the original, and failures
 * (missing directory, disk full at any point, too much or too little data,
 * bad declarations) leave neither the target nor a temporary file behind.
 *
 * Synthetic models are checked against an independent oracle, the golden
 * fixtures made with llama.cpp's tools (shared/golden/models): with the
 * fixtures' sizes, a synthetic file must have the same tensor names, shapes
 * and types (the Q4_K_M mix and its fallbacks included) and the same
 * architecture metadata; its tokenizer must tokenize like the vocabulary it
 * was copied from; and the dequantised weights must have the mean and σ the
 * recipe asks for. Every tensor type is exercised on a small model over the
 * 512-token stories260K vocabulary.
 *
 * Paths: LORE_SHARED (../shared under ctest); exits 77 when it is missing.
 * Output goes to a fresh directory under TMPDIR (or /tmp), removed at the end.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/gguf_write.h"
#include "engine/kernels.h"
#include "engine/synth.h"

static char g_shared[1024];
static char g_tmp[1024];

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_tmp, name);
}

static void vocab_path(char *buf, size_t cap, const char *file)
{
    snprintf(buf, cap, "%s/models/tokenizer-vocab-llamacpp/%s", g_shared, file);
}

static void golden_path(char *buf, size_t cap, const char *file)
{
    snprintf(buf, cap, "%s/golden/models/%s", g_shared, file);
}

/* Number of directory entries in g_tmp (".", ".." excluded). */
static int tmp_entries(void)
{
    DIR *d = opendir(g_tmp);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static struct eng_gguf *open_ok(const char *path)
{
    struct eng_gguf *g = NULL;
    struct lore_err err = {0};
    int rc = eng_gguf_open(path, &g, &err);
    if (rc)
        fail_msg("cannot open '%s': %s", path, err.msg);
    return g;
}

/* ---- comparing metadata entries -------------------------------------------------------- */

static size_t elem_size(int t)
{
    switch (t) {
    case ENG_GGUF_U8: case ENG_GGUF_I8: case ENG_GGUF_BOOL: return 1;
    case ENG_GGUF_U16: case ENG_GGUF_I16: return 2;
    case ENG_GGUF_U32: case ENG_GGUF_I32: case ENG_GGUF_F32: return 4;
    default: return 8;
    }
}

/* Entry ia of a equals entry ib of b: type, value, every array element. */
static void assert_kv_equal(const struct eng_gguf *a, int64_t ia, const struct eng_gguf *b,
                            int64_t ib)
{
    const char *key = eng_gguf_key(a, ia);
    int t = eng_gguf_kv_type(a, ia);
    if (t != eng_gguf_kv_type(b, ib))
        fail_msg("'%s': type %d vs %d", key, t, eng_gguf_kv_type(b, ib));
    if (t == ENG_GGUF_STR) {
        size_t la, lb;
        const char *sa = eng_gguf_kv_str(a, ia, &la), *sb = eng_gguf_kv_str(b, ib, &lb);
        assert_int_equal(la, lb);
        if (la)
            assert_memory_equal(sa, sb, la);
    } else if (t == ENG_GGUF_ARR) {
        int et = eng_gguf_arr_type(a, ia);
        uint64_t n = eng_gguf_arr_len(a, ia);
        assert_int_equal(et, eng_gguf_arr_type(b, ib));
        assert_int_equal(n, eng_gguf_arr_len(b, ib));
        if (et == ENG_GGUF_STR) {
            for (uint64_t j = 0; j < n; j++) {
                size_t la, lb;
                const char *sa = eng_gguf_arr_str(a, ia, j, &la);
                const char *sb = eng_gguf_arr_str(b, ib, j, &lb);
                if (la != lb || (la && memcmp(sa, sb, la)))
                    fail_msg("'%s'[%llu] differs", key, (unsigned long long)j);
            }
        } else if (n) {
            assert_memory_equal(eng_gguf_arr_data(a, ia), eng_gguf_arr_data(b, ib),
                                n * elem_size(et));
        }
    } else if (t == ENG_GGUF_F32 || t == ENG_GGUF_F64) {
        assert_true(eng_gguf_kv_f64(a, ia) == eng_gguf_kv_f64(b, ib));
    } else {
        assert_int_equal(eng_gguf_kv_i64(a, ia), eng_gguf_kv_i64(b, ib));
    }
}

/* Every tensor lies inside the file, aligned, sized right, without overlap. */
static void assert_tensors_sane(const struct eng_gguf *g)
{
    uint64_t a = eng_gguf_alignment(g), data = eng_gguf_data_offset(g), end = data;
    assert_int_equal(data % a, 0);
    for (int64_t i = 0; i < eng_gguf_n_tensors(g); i++) {
        struct eng_tensor_info ti;
        assert_int_equal(eng_gguf_tensor(g, i, &ti), 0);
        assert_int_equal((ti.offset - data) % a, 0);
        uint64_t rows = ti.n_elements / ti.ne[0];
        assert_int_equal(ti.size, eng_row_bytes((int)ti.type, (int64_t)ti.ne[0]) * rows);
        assert_true(ti.offset >= end);   /* written in order, no overlap */
        end = ti.offset + ti.size;
        assert_true(end <= eng_gguf_file_size(g));
    }
    /* the last tensor is padded too */
    assert_int_equal(eng_gguf_file_size(g), (end + a - 1) / a * a);
}

/* ---- the writer ---------------------------------------------------------------------------- */

static const char *const k_strs[] = {"", "a", "héllo wörld", "<|endoftext|>", "\xe2\x96\x81x"};

/* Declares the metadata and three tensors used by the writer tests. */
static void fill_writer(struct eng_gguf_w *w, uint32_t align)
{
    assert_int_equal(eng_gguf_w_set_str(w, "general.architecture", "test", 4), 0);
    assert_int_equal(eng_gguf_w_set_u8(w, "t.u8", 250), 0);
    assert_int_equal(eng_gguf_w_set_i8(w, "t.i8", -100), 0);
    assert_int_equal(eng_gguf_w_set_u16(w, "t.u16", 65000), 0);
    assert_int_equal(eng_gguf_w_set_i16(w, "t.i16", -32000), 0);
    assert_int_equal(eng_gguf_w_set_u32(w, "t.u32", 4000000000u), 0);
    assert_int_equal(eng_gguf_w_set_i32(w, "t.i32", -2000000000), 0);
    assert_int_equal(eng_gguf_w_set_u64(w, "t.u64", 1ull << 40), 0);
    assert_int_equal(eng_gguf_w_set_i64(w, "t.i64", -(1ll << 50)), 0);
    assert_int_equal(eng_gguf_w_set_f32(w, "t.f32", 1e-6f), 0);
    assert_int_equal(eng_gguf_w_set_f64(w, "t.f64", 3.141592653589793), 0);
    assert_int_equal(eng_gguf_w_set_bool(w, "t.bool", true), 0);
    assert_int_equal(eng_gguf_w_set_str(w, "t.empty", "", 0), 0);
    assert_int_equal(eng_gguf_w_set_str(w, "t.replaced", "first", 5), 0);
    int32_t iv[5] = {1, -2, 3, -4, 5};
    float fv[3] = {0.5f, -1.25f, 1e30f};
    uint8_t bv[4] = {1, 0, 1, 1};
    assert_int_equal(eng_gguf_w_set_arr(w, "t.arr_i32", ENG_GGUF_I32, iv, 5), 0);
    assert_int_equal(eng_gguf_w_set_arr(w, "t.arr_f32", ENG_GGUF_F32, fv, 3), 0);
    assert_int_equal(eng_gguf_w_set_arr(w, "t.arr_bool", ENG_GGUF_BOOL, bv, 4), 0);
    assert_int_equal(eng_gguf_w_set_arr(w, "t.arr_empty", ENG_GGUF_U64, NULL, 0), 0);
    assert_int_equal(eng_gguf_w_set_arr_str(w, "t.arr_str", k_strs, NULL, 5), 0);
    /* replacing keeps the position and changes the type */
    assert_int_equal(eng_gguf_w_set_u32(w, "t.replaced", 7), 0);
    assert_int_equal(eng_gguf_w_set_str(w, "t.removed", "x", 1), 0);
    assert_int_equal(eng_gguf_w_remove(w, "t.removed"), 0);
    if (align)
        assert_int_equal(eng_gguf_w_set_u32(w, "general.alignment", align), 0);

    uint64_t ne_a[2] = {7, 3}, ne_b[1] = {64}, ne_c[3] = {256, 2, 2};
    assert_int_equal(eng_gguf_w_add_tensor(w, "a", ENG_TYPE_F32, 2, ne_a), 0);
    assert_int_equal(eng_gguf_w_add_tensor(w, "b.q8", ENG_TYPE_Q8_0, 1, ne_b), 1);
    assert_int_equal(eng_gguf_w_add_tensor(w, "c.q4k", ENG_TYPE_Q4_K, 3, ne_c), 2);
}

/* Deterministic bytes for the three tensors, concatenated. */
static uint8_t *tensor_bytes(struct eng_gguf_w *w, size_t *total)
{
    *total = 0;
    for (int i = 0; i < 3; i++)
        *total += eng_gguf_w_tensor_size(w, i);
    uint8_t *p = malloc(*total);
    assert_non_null(p);
    uint32_t s = 12345;
    for (size_t i = 0; i < *total; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (uint8_t)(s >> 16);
    }
    /* keep the fp16 scales finite so nobody trips on NaN */
    return p;
}

static void check_written(const char *path, uint32_t align, const uint8_t *bytes)
{
    struct eng_gguf *g = open_ok(path);
    assert_int_equal(eng_gguf_version(g), 3);
    assert_int_equal(eng_gguf_alignment(g), align ? align : 32);
    uint32_t u32;
    float f;
    bool b;
    char s[64];
    assert_int_equal(eng_gguf_get_u32(g, "t.u32", &u32, NULL), 0);
    assert_int_equal(u32, 4000000000u);
    assert_int_equal(eng_gguf_get_f32(g, "t.f32", &f, NULL), 0);
    assert_true(f == 1e-6f);
    assert_int_equal(eng_gguf_get_bool(g, "t.bool", &b, NULL), 0);
    assert_true(b);
    assert_int_equal(eng_gguf_get_strz(g, "general.architecture", s, sizeof s, NULL), 0);
    assert_string_equal(s, "test");
    int64_t i = eng_gguf_find_key(g, "t.u8");
    assert_int_equal(eng_gguf_kv_type(g, i), ENG_GGUF_U8);
    assert_int_equal(eng_gguf_kv_i64(g, i), 250);
    assert_int_equal(eng_gguf_kv_i64(g, eng_gguf_find_key(g, "t.i8")), -100);
    assert_int_equal(eng_gguf_kv_i64(g, eng_gguf_find_key(g, "t.u16")), 65000);
    assert_int_equal(eng_gguf_kv_i64(g, eng_gguf_find_key(g, "t.i16")), -32000);
    assert_int_equal(eng_gguf_kv_i64(g, eng_gguf_find_key(g, "t.i32")), -2000000000);
    assert_int_equal(eng_gguf_kv_i64(g, eng_gguf_find_key(g, "t.u64")), 1ll << 40);
    assert_int_equal(eng_gguf_kv_i64(g, eng_gguf_find_key(g, "t.i64")), -(1ll << 50));
    assert_true(eng_gguf_kv_f64(g, eng_gguf_find_key(g, "t.f64")) == 3.141592653589793);
    assert_int_equal(eng_gguf_kv_type(g, eng_gguf_find_key(g, "t.f64")), ENG_GGUF_F64);
    size_t len = 99;
    assert_non_null(eng_gguf_kv_str(g, eng_gguf_find_key(g, "t.empty"), &len));
    assert_int_equal(len, 0);
    /* replaced in place: still right after t.empty, now a u32 */
    i = eng_gguf_find_key(g, "t.replaced");
    assert_int_equal(i, eng_gguf_find_key(g, "t.empty") + 1);
    assert_int_equal(eng_gguf_kv_type(g, i), ENG_GGUF_U32);
    assert_int_equal(eng_gguf_kv_i64(g, i), 7);
    assert_int_equal(eng_gguf_find_key(g, "t.removed"), -1);

    int64_t ai;
    int et;
    uint64_t n;
    assert_int_equal(eng_gguf_get_arr(g, "t.arr_i32", &ai, &et, &n, NULL), 0);
    assert_int_equal(et, ENG_GGUF_I32);
    assert_int_equal(n, 5);
    assert_int_equal(eng_gguf_arr_i64(g, ai, 3), -4);
    assert_int_equal(eng_gguf_get_arr(g, "t.arr_f32", &ai, &et, &n, NULL), 0);
    assert_true(eng_gguf_arr_f64(g, ai, 2) == (double)1e30f);
    assert_int_equal(eng_gguf_get_arr(g, "t.arr_bool", &ai, &et, &n, NULL), 0);
    assert_int_equal(et, ENG_GGUF_BOOL);
    assert_int_equal(eng_gguf_arr_i64(g, ai, 1), 0);
    assert_int_equal(eng_gguf_get_arr(g, "t.arr_empty", &ai, &et, &n, NULL), 0);
    assert_int_equal(et, ENG_GGUF_U64);
    assert_int_equal(n, 0);
    assert_int_equal(eng_gguf_get_arr(g, "t.arr_str", &ai, &et, &n, NULL), 0);
    assert_int_equal(et, ENG_GGUF_STR);
    assert_int_equal(n, 5);
    for (uint64_t j = 0; j < n; j++) {
        const char *p = eng_gguf_arr_str(g, ai, j, &len);
        assert_int_equal(len, strlen(k_strs[j]));
        if (len)
            assert_memory_equal(p, k_strs[j], len);
    }

    assert_int_equal(eng_gguf_n_tensors(g), 3);
    assert_tensors_sane(g);
    static const char *const names[3] = {"a", "b.q8", "c.q4k"};
    static const uint32_t types[3] = {ENG_TYPE_F32, ENG_TYPE_Q8_0, ENG_TYPE_Q4_K};
    size_t off = 0;
    for (int t = 0; t < 3; t++) {
        struct eng_tensor_info ti;
        assert_int_equal(eng_gguf_find_tensor(g, names[t], &ti), t);
        assert_int_equal(ti.type, types[t]);
        assert_memory_equal(ti.data, bytes + off, ti.size);
        off += ti.size;
    }
    struct eng_tensor_info ti;
    eng_gguf_find_tensor(g, "c.q4k", &ti);
    assert_int_equal(ti.n_dims, 3);
    assert_int_equal(ti.ne[0], 256);
    assert_int_equal(ti.ne[2], 2);
    assert_int_equal(ti.size, 4 * 144);
    eng_gguf_close(g);
}

static void test_writer_roundtrip(void **state)
{
    (void)state;
    static const uint32_t aligns[2] = {0, 64};
    static const size_t pieces[3] = {1, 13, 1u << 20};
    for (int a = 0; a < 2; a++) {
        for (int pc = 0; pc < 3; pc++) {
            char path[1200];
            path_in(path, sizeof path, "rt.gguf");
            struct eng_gguf_w *w;
            struct lore_err err = {0};
            assert_int_equal(eng_gguf_w_new(&w, &err), 0);
            fill_writer(w, aligns[a]);
            size_t total;
            uint8_t *bytes = tensor_bytes(w, &total);
            assert_int_equal(eng_gguf_w_begin(w, path, &err), 0);
            /* pieces of 1 byte, of 13 (spanning tensors), and all at once */
            for (size_t o = 0; o < total; o += pieces[pc]) {
                size_t k = total - o < pieces[pc] ? total - o : pieces[pc];
                assert_int_equal(eng_gguf_w_write(w, bytes + o, k, &err), 0);
            }
            assert_int_equal(eng_gguf_w_finish(w, &err), 0);
            uint64_t written = eng_gguf_w_bytes_written(w);
            eng_gguf_w_free(w);
            struct stat st;
            assert_int_equal(stat(path, &st), 0);
            assert_int_equal((uint64_t)st.st_size, written);
            assert_int_equal(st.st_mode & 0777, 0644);
            assert_int_equal(tmp_entries(), 1);   /* no temporary file left */
            check_written(path, aligns[a], bytes);
            free(bytes);
            unlink(path);
        }
    }
}

/* Copying every key of a file (all value types) gives equal entries. */
static void test_writer_copy_kv(void **state)
{
    (void)state;
    char src[1200], dst[1200];
    path_in(src, sizeof src, "src.gguf");
    path_in(dst, sizeof dst, "dst.gguf");
    struct lore_err err = {0};
    struct eng_gguf_w *w;
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    fill_writer(w, 0);
    size_t total;
    uint8_t *bytes = tensor_bytes(w, &total);
    assert_int_equal(eng_gguf_w_begin(w, src, &err), 0);
    assert_int_equal(eng_gguf_w_write(w, bytes, total, &err), 0);
    assert_int_equal(eng_gguf_w_finish(w, &err), 0);
    eng_gguf_w_free(w);
    free(bytes);

    struct eng_gguf *a = open_ok(src);
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    for (int64_t i = 0; i < eng_gguf_n_kv(a); i++)
        assert_int_equal(eng_gguf_w_copy_kv(w, a, i), 0);
    assert_int_equal(eng_gguf_w_n_kv(w), eng_gguf_n_kv(a));
    assert_int_equal(eng_gguf_w_begin(w, dst, &err), 0);
    assert_int_equal(eng_gguf_w_finish(w, &err), 0);
    eng_gguf_w_free(w);
    struct eng_gguf *b = open_ok(dst);
    assert_int_equal(eng_gguf_n_kv(b), eng_gguf_n_kv(a));
    assert_int_equal(eng_gguf_n_tensors(b), 0);
    for (int64_t i = 0; i < eng_gguf_n_kv(a); i++) {
        assert_string_equal(eng_gguf_key(a, i), eng_gguf_key(b, i));
        assert_kv_equal(a, i, b, i);
    }
    eng_gguf_close(a);
    eng_gguf_close(b);
    unlink(src);
    unlink(dst);
}

/* Writes the sample file (plus, with big, a 4 MiB tensor written in 3 MiB
 * pieces, which bypass the output buffer) with a fake disk of fail_at bytes. */
static int write_sample(const char *path, uint64_t fail_at, int big, uint64_t *size,
                        struct lore_err *err)
{
    struct eng_gguf_w *w;
    assert_int_equal(eng_gguf_w_new(&w, err), 0);
    fill_writer(w, 0);
    size_t total;
    uint8_t *bytes = tensor_bytes(w, &total);
    uint64_t ne[2] = {1024, 1024};
    if (big)
        assert_int_equal(eng_gguf_w_add_tensor(w, "big", ENG_TYPE_F32, 2, ne), 3);
    eng_gguf_w_set_fail_at(w, fail_at);
    int rc = eng_gguf_w_begin(w, path, err);
    if (!rc)
        rc = eng_gguf_w_write(w, bytes, total, err);
    if (!rc && big) {
        size_t n = 4u << 20, piece = 3u << 20;
        char *z = calloc(1, n);
        assert_non_null(z);
        for (size_t o = 0; o < n && !rc; o += piece)
            rc = eng_gguf_w_write(w, z + o, n - o < piece ? n - o : piece, err);
        free(z);
    }
    if (!rc)
        rc = eng_gguf_w_finish(w, err);
    if (size)
        *size = eng_gguf_w_bytes_written(w);
    eng_gguf_w_free(w);
    free(bytes);
    return rc;
}

static void test_writer_errors(void **state)
{
    (void)state;
    char path[1200];
    struct lore_err err = {0};
    struct eng_gguf_w *w;

    /* a directory that does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir/x.gguf", g_tmp);
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    fill_writer(w, 0);
    assert_int_equal(eng_gguf_w_begin(w, path, &err), LORE_ENOENT);
    assert_non_null(strstr(err.msg, "x.gguf"));
    eng_gguf_w_free(w);
    assert_int_equal(tmp_entries(), 0);

    /* disk full at every kind of point: header, tensor table, data, last flush */
    path_in(path, sizeof path, "full.gguf");
    uint64_t size = 0;
    assert_int_equal(write_sample(path, 0, 0, &size, &err), 0);
    unlink(path);
    const uint64_t limits[] = {1, 24, size / 4, size / 2, size - 33, size - 1};
    for (int big = 0; big < 2; big++) {
        for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
            memset(&err, 0, sizeof err);
            uint64_t lim = big ? (3u << 20) + limits[li] : limits[li];
            assert_int_equal(write_sample(path, lim, big, NULL, &err), LORE_EFULL);
            assert_int_equal(err.status, LORE_EFULL);
            assert_non_null(strstr(err.msg, "full.gguf"));
            assert_non_null(strstr(err.msg, "No space"));
            assert_false(exists(path));
            assert_int_equal(tmp_entries(), 0);
        }
    }

    /* an existing file is replaced only on success */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    assert_int_equal(write_sample(path, size / 2, 0, NULL, &err), LORE_EFULL);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(write_sample(path, 0, 0, NULL, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, size);
    unlink(path);
    assert_int_equal(tmp_entries(), 0);

    size_t total;
    uint8_t *bytes;
    /* too much data, too little data */
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    fill_writer(w, 0);
    bytes = tensor_bytes(w, &total);
    assert_int_equal(eng_gguf_w_begin(w, path, &err), 0);
    assert_int_equal(eng_gguf_w_write(w, bytes, total, &err), 0);
    assert_int_equal(eng_gguf_w_write(w, bytes, 1, &err), LORE_EINVAL);
    eng_gguf_w_free(w);
    assert_int_equal(tmp_entries(), 0);
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    fill_writer(w, 0);
    assert_int_equal(eng_gguf_w_begin(w, path, &err), 0);
    assert_int_equal(eng_gguf_w_write(w, bytes, total - 1, &err), 0);
    assert_int_equal(eng_gguf_w_finish(w, &err), LORE_EINVAL);
    assert_non_null(strstr(err.msg, "c.q4k"));
    eng_gguf_w_free(w);
    assert_int_equal(tmp_entries(), 0);
    free(bytes);

    /* unfinished: freeing removes the temporary file */
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    fill_writer(w, 0);
    assert_int_equal(eng_gguf_w_begin(w, path, &err), 0);
    assert_int_equal(tmp_entries(), 1);
    eng_gguf_w_free(w);
    assert_int_equal(tmp_entries(), 0);

    /* bad declarations are reported by begin, the first one in full */
    uint64_t ne[2] = {30, 2}, ne0[2] = {0, 2};
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    assert_int_equal(eng_gguf_w_add_tensor(w, "q", ENG_TYPE_Q8_0, 2, ne), LORE_EINVAL);
    assert_int_equal(eng_gguf_w_add_tensor(w, "z", ENG_TYPE_F32, 2, ne0), LORE_EINVAL);
    assert_int_equal(eng_gguf_w_begin(w, path, &err), LORE_EINVAL);
    assert_non_null(strstr(err.msg, "'q'"));
    assert_non_null(strstr(err.msg, "block"));
    eng_gguf_w_free(w);
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    assert_int_equal(eng_gguf_w_add_tensor(w, "t", ENG_TYPE_F32, 2, ne), 0);
    assert_int_equal(eng_gguf_w_add_tensor(w, "t", ENG_TYPE_F32, 2, ne), LORE_EINVAL);
    assert_int_equal(eng_gguf_w_begin(w, path, &err), LORE_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate"));
    eng_gguf_w_free(w);
    char longname[80];
    memset(longname, 'x', 64);
    longname[64] = 0;
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    assert_int_equal(eng_gguf_w_add_tensor(w, longname, ENG_TYPE_F32, 2, ne), LORE_EINVAL);
    assert_int_equal(eng_gguf_w_add_tensor(w, "u", 4, 2, ne), LORE_EINVAL);   /* no type 4 */
    assert_int_equal(eng_gguf_w_set_str(w, "", "x", 1), LORE_EINVAL);
    eng_gguf_w_free(w);
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    assert_int_equal(eng_gguf_w_set_u32(w, "general.alignment", 48), 0);
    assert_int_equal(eng_gguf_w_begin(w, path, &err), LORE_EINVAL);
    assert_non_null(strstr(err.msg, "power of two"));
    eng_gguf_w_free(w);
    assert_int_equal(tmp_entries(), 0);
}

/* ---- synthetic models ------------------------------------------------------------------------ */

/* What the recipe in synth.h asks of tensor name (the oracle for the stats). */
static void expected_init(const char *name, int bert, uint64_t ne0, uint32_t n_embd,
                          double *mean, double *sigma)
{
    *mean = 0;
    if (strstr(name, "norm.weight")) {
        *mean = 1, *sigma = 0.1;
    } else if (strstr(name, ".bias")) {
        *sigma = 0.02;
    } else if (!strcmp(name, "token_embd.weight") || !strcmp(name, "output.weight") ||
               !strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight")) {
        *sigma = bert ? 0.02 : 0.1;
    } else if (strstr(name, "attn_q.weight") || strstr(name, "attn_k.weight")) {
        *sigma = 1.2 / sqrt((double)n_embd);
    } else {
        *sigma = (bert ? 1.0 : 1.3) / sqrt((double)ne0);
    }
}

/* Dequantises each tensor and checks its mean and σ against the recipe; for
 * F32 tensors of at least 64k numbers also the Gaussian shape (fraction
 * within 1σ and 2σ, kurtosis). */
static void check_stats(const struct eng_gguf *g, int bert, uint32_t n_embd)
{
    for (int64_t i = 0; i < eng_gguf_n_tensors(g); i++) {
        struct eng_tensor_info ti;
        eng_gguf_tensor(g, i, &ti);
        const struct eng_type_info *tt = eng_type_get((int)ti.type);
        assert_non_null(tt);
        assert_non_null(tt->to_float);
        uint64_t n = ti.n_elements;
        float *x = malloc(n * sizeof *x);
        assert_non_null(x);
        tt->to_float(ti.data, x, (int64_t)n);
        double mean, sigma, s = 0, s2 = 0, s4 = 0;
        expected_init(ti.name, bert, ti.ne[0], n_embd, &mean, &sigma);
        for (uint64_t j = 0; j < n; j++)
            s += x[j];
        double m = s / (double)n;
        uint64_t in1 = 0, in2 = 0;
        for (uint64_t j = 0; j < n; j++) {
            double d = x[j] - m;
            s2 += d * d;
            s4 += d * d * d * d;
            in1 += fabs(d) < sigma;
            in2 += fabs(d) < 2 * sigma;
        }
        double sd = sqrt(s2 / (double)n);
        /* sampling error (5 standard errors) plus what quantising may add */
        int plain = ti.type == ENG_TYPE_F32 || ti.type == ENG_TYPE_F16 ||
                    ti.type == ENG_TYPE_BF16;
        double tol_sd = 5.0 / sqrt(2.0 * (double)n) + (plain ? 0.005 : 0.04);
        double tol_m = 5.0 * sigma / sqrt((double)n) + (plain ? 0 : 0.02 * sigma);
        if (fabs(sd / sigma - 1) > tol_sd || fabs(m - mean) > tol_m)
            fail_msg("%s (%s, %llu values): mean %.5f sd %.5f, expected %.5f / %.5f", ti.name,
                     eng_ggml_type_name(ti.type), (unsigned long long)n, m, sd, mean, sigma);
        if (ti.type == ENG_TYPE_F32 && n >= 65536) {
            double f1 = (double)in1 / (double)n, f2 = (double)in2 / (double)n;
            double kurt = s4 / (double)n / (sd * sd * sd * sd);
            if (fabs(f1 - 0.6827) > 0.01 || fabs(f2 - 0.9545) > 0.005 || fabs(kurt - 3) > 0.1)
                fail_msg("%s is not Gaussian: within 1σ %.4f, 2σ %.4f, kurtosis %.3f",
                         ti.name, f1, f2, kurt);
        }
        free(x);
    }
}

static void synth_ok(const struct eng_synth_opts *o, const struct eng_gguf *vocab,
                     const char *path, struct eng_synth_stats *st)
{
    struct lore_err err = {0};
    int rc = eng_synth_write(o, vocab, path, st, &err);
    if (rc)
        fail_msg("synth '%s': %s", path, err.msg);
}

/* Tokenizes some strings with both files' tokenizers and compares. */
static void assert_same_tokens(const struct eng_gguf *a, const struct eng_gguf *b)
{
    static const char *const texts[] = {
        "Hello world! This is a test.", "  leading spaces and\ttabs\n",
        "numbers 12345 3.14159 1e-9", "Ünïcödé ελληνικά кириллица 日本語 한국어 🙂",
        "<s>[CLS]<|endoftext|> special text",
    };
    struct eng_tok *ta, *tb;
    struct lore_err err = {0};
    if (eng_tok_new_from_gguf(a, &ta, &err) || eng_tok_new_from_gguf(b, &tb, &err))
        fail_msg("tokenizer: %s", err.msg);
    assert_int_equal(eng_tok_n_vocab(ta), eng_tok_n_vocab(tb));
    assert_int_equal(eng_tok_kind(ta), eng_tok_kind(tb));
    assert_string_equal(eng_tok_pre_name(ta), eng_tok_pre_name(tb));
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int sp = 0; sp < 2; sp++) {
            int32_t ia[256], ib[256];
            int64_t na = eng_tok_encode(ta, texts[i], strlen(texts[i]), sp, sp, ia, 256);
            int64_t nb = eng_tok_encode(tb, texts[i], strlen(texts[i]), sp, sp, ib, 256);
            assert_true(na >= 0 && na <= 256);
            assert_int_equal(na, nb);
            if (na)
                assert_memory_equal(ia, ib, (size_t)na * sizeof *ia);
        }
    }
    eng_tok_free(ta);
    eng_tok_free(tb);
}

/* Every tokenizer.* key of the vocabulary is in the model, equal (except
 * the keys listed in skip, which the qwen2 rule rewrites). */
static void assert_tokenizer_copied(const struct eng_gguf *vocab, const struct eng_gguf *m,
                                    const char *skip)
{
    int n = 0;
    for (int64_t i = 0; i < eng_gguf_n_kv(vocab); i++) {
        const char *k = eng_gguf_key(vocab, i);
        if (strncmp(k, "tokenizer.", 10) != 0 || (skip && strstr(skip, k)))
            continue;
        int64_t j = eng_gguf_find_key(m, k);
        if (j < 0)
            fail_msg("'%s' not copied", k);
        assert_kv_equal(vocab, i, m, j);
        n++;
    }
    assert_true(n >= 4);
}

/* The oracle: a fixture made by llama.cpp's tools. Same tensor set with the
 * same shapes and types, and every non-tokenizer key equal except the name
 * and description. */
static void assert_like_fixture(const struct eng_gguf *m, const char *fixture)
{
    char path[1200];
    golden_path(path, sizeof path, fixture);
    if (!exists(path)) {
        fprintf(stderr, "  (fixture %s missing: comparison skipped)\n", fixture);
        return;
    }
    struct eng_gguf *f = open_ok(path);
    assert_int_equal(eng_gguf_n_tensors(m), eng_gguf_n_tensors(f));
    for (int64_t i = 0; i < eng_gguf_n_tensors(f); i++) {
        struct eng_tensor_info a, b;
        eng_gguf_tensor(f, i, &a);
        if (eng_gguf_find_tensor(m, a.name, &b) < 0)
            fail_msg("%s: tensor '%s' missing", fixture, a.name);
        if (a.type != b.type || a.n_dims != b.n_dims ||
            memcmp(a.ne, b.ne, sizeof a.ne) != 0)
            fail_msg("%s: '%s' is %s [%llu, %llu], synthetic %s [%llu, %llu]", fixture, a.name,
                     eng_ggml_type_name(a.type), (unsigned long long)a.ne[0],
                     (unsigned long long)a.ne[1], eng_ggml_type_name(b.type),
                     (unsigned long long)b.ne[0], (unsigned long long)b.ne[1]);
    }
    for (int64_t i = 0; i < eng_gguf_n_kv(f); i++) {
        const char *k = eng_gguf_key(f, i);
        if (!strcmp(k, "general.name") || !strcmp(k, "general.description"))
            continue;
        int64_t j = eng_gguf_find_key(m, k);
        if (j < 0)
            fail_msg("%s: key '%s' missing", fixture, k);
        assert_kv_equal(f, i, m, j);
    }
    eng_gguf_close(f);
}

/* llama with the fixture's sizes: F16 and Q4_K_M against llama-spm-tiny-*,
 * the SPM tokenizer round trip, the statistics. */
static void test_synth_llama(void **state)
{
    (void)state;
    char vp[1200], out[1200];
    vocab_path(vp, sizeof vp, "ggml-vocab-llama-spm.gguf");
    if (!exists(vp))
        skip();
    struct eng_gguf *vocab = open_ok(vp);
    struct eng_synth_opts o;
    eng_synth_defaults(&o, ENG_SYNTH_LLAMA);
    o.n_threads = 2;
    static const int types[2] = {ENG_TYPE_F16, ENG_SYNTH_Q4_K_M};
    static const char *const fixtures[2] = {"llama-spm-tiny-F16.gguf",
                                            "llama-spm-tiny-Q4_K_M.gguf"};
    for (int k = 0; k < 2; k++) {
        o.type = types[k];
        path_in(out, sizeof out, "llama.gguf");
        struct eng_synth_stats st;
        synth_ok(&o, vocab, out, &st);
        struct eng_gguf *m = open_ok(out);
        assert_int_equal(st.n_tensors, 2 + 9 * 2);
        assert_int_equal(st.n_vocab, 32000);
        assert_int_equal(st.file_bytes, eng_gguf_file_size(m));
        assert_tensors_sane(m);
        assert_like_fixture(m, fixtures[k]);
        assert_tokenizer_copied(vocab, m, NULL);
        assert_same_tokens(vocab, m);
        char s[64];
        uint32_t v;
        float f;
        eng_gguf_get_strz(m, "general.architecture", s, sizeof s, NULL);
        assert_string_equal(s, "llama");
        assert_int_equal(eng_gguf_get_u32(m, "llama.rope.dimension_count", &v, NULL), 0);
        assert_int_equal(v, 32);
        assert_int_equal(eng_gguf_get_u32(m, "general.file_type", &v, NULL), 0);
        assert_int_equal(v, k ? 15 : 1);
        assert_int_equal(eng_gguf_get_f32(m, "llama.rope.freq_base", &f, NULL), 0);
        assert_true(f == 10000.0f);
        assert_true(eng_gguf_find_tensor(m, "output.weight", NULL) < 0);   /* tied */
        check_stats(m, 0, o.n_embd);
        eng_gguf_close(m);
    }
    /* untied: output.weight appears, Q6_K under Q4_K_M, and token_embd Q4_K */
    o.tied = false;
    o.n_layer = 1;
    synth_ok(&o, vocab, out, NULL);
    struct eng_gguf *m = open_ok(out);
    struct eng_tensor_info ti;
    assert_true(eng_gguf_find_tensor(m, "output.weight", &ti) >= 0);
    assert_int_equal(ti.type, ENG_TYPE_Q6_K);
    assert_int_equal(ti.ne[0], 256);
    assert_int_equal(ti.ne[1], 32000);
    assert_true(eng_gguf_find_tensor(m, "token_embd.weight", &ti) >= 0);
    assert_int_equal(ti.type, ENG_TYPE_Q4_K);
    /* a single layer is one of the "more bits" layers */
    eng_gguf_find_tensor(m, "blk.0.attn_v.weight", &ti);
    assert_int_equal(ti.type, ENG_TYPE_Q6_K);
    check_stats(m, 0, o.n_embd);
    eng_gguf_close(m);
    unlink(out);
    eng_gguf_close(vocab);
}

/* qwen2 with the fixtures' sizes over the GPT-2 vocabulary: pre becomes
 * qwen2 (so the tokenizer must equal the fixture's, not the vocab's), the
 * tiny Q4_K_M and the mini Q4_K_M (n_embd 128: Q5_0/Q8_0 fallbacks). */
static void test_synth_qwen2(void **state)
{
    (void)state;
    char vp[1200], out[1200], fx[1200];
    vocab_path(vp, sizeof vp, "ggml-vocab-gpt-2.gguf");
    if (!exists(vp))
        skip();
    struct eng_gguf *vocab = open_ok(vp);
    struct eng_synth_opts o;
    eng_synth_defaults(&o, ENG_SYNTH_QWEN2);
    o.type = ENG_SYNTH_Q4_K_M;
    o.n_threads = 3;
    path_in(out, sizeof out, "qwen2.gguf");
    synth_ok(&o, vocab, out, NULL);
    struct eng_gguf *m = open_ok(out);
    assert_tensors_sane(m);
    assert_like_fixture(m, "qwen2-bpe-tiny-Q4_K_M.gguf");
    assert_tokenizer_copied(vocab, m, "tokenizer.ggml.pre");
    char s[64];
    eng_gguf_get_strz(m, "tokenizer.ggml.pre", s, sizeof s, NULL);
    assert_string_equal(s, "qwen2");
    golden_path(fx, sizeof fx, "qwen2-bpe-tiny-F16.gguf");
    if (exists(fx)) {
        struct eng_gguf *f = open_ok(fx);
        assert_same_tokens(f, m);
        eng_gguf_close(f);
    }
    check_stats(m, 0, o.n_embd);
    eng_gguf_close(m);

    o.n_embd = 128, o.n_head = 4, o.n_ff = 512;
    synth_ok(&o, vocab, out, NULL);
    m = open_ok(out);
    assert_like_fixture(m, "qwen2-bpe-mini-Q4_K_M.gguf");
    eng_gguf_close(m);
    /* the same bytes as a single-threaded run */
    char out1[1200];
    path_in(out1, sizeof out1, "qwen2-1t.gguf");
    o.n_threads = 1;
    synth_ok(&o, vocab, out1, NULL);
    char *a, *b;
    size_t la, lb;
    struct lore_err err = {0};
    assert_int_equal(lore_read_file(out, &a, &la, 1u << 30, &err), 0);
    assert_int_equal(lore_read_file(out1, &b, &lb, 1u << 30, &err), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(b);
    /* another seed changes the weights, not the layout */
    o.seed = 99;
    synth_ok(&o, vocab, out1, NULL);
    assert_int_equal(lore_read_file(out1, &b, &lb, 1u << 30, &err), 0);
    assert_int_equal(la, lb);
    assert_memory_not_equal(a + la - 4096, b + lb - 4096, 4096);
    free(a);
    free(b);
    /* an explicit --tok-pre keeps the vocab's other keys untouched */
    snprintf(o.tok_pre, sizeof o.tok_pre, "gpt-2");
    synth_ok(&o, vocab, out1, NULL);
    m = open_ok(out1);
    assert_tokenizer_copied(vocab, m, NULL);
    assert_same_tokens(vocab, m);
    assert_int_equal(eng_gguf_find_key(m, "tokenizer.ggml.add_bos_token"), -1);
    eng_gguf_close(m);
    unlink(out);
    unlink(out1);
    eng_gguf_close(vocab);
}

static void test_synth_bert(void **state)
{
    (void)state;
    char vp[1200], out[1200];
    vocab_path(vp, sizeof vp, "ggml-vocab-bert-bge.gguf");
    if (!exists(vp))
        skip();
    struct eng_gguf *vocab = open_ok(vp);
    struct eng_synth_opts o;
    eng_synth_defaults(&o, ENG_SYNTH_BERT);
    o.type = ENG_TYPE_Q8_0;
    path_in(out, sizeof out, "bert.gguf");
    synth_ok(&o, vocab, out, NULL);
    struct eng_gguf *m = open_ok(out);
    assert_tensors_sane(m);
    assert_like_fixture(m, "bert-bge-tiny-Q8_0.gguf");
    assert_tokenizer_copied(vocab, m, NULL);
    assert_same_tokens(vocab, m);
    bool causal = true;
    uint32_t pool = 0;
    float eps = 0;
    assert_int_equal(eng_gguf_get_bool(m, "bert.attention.causal", &causal, NULL), 0);
    assert_false(causal);
    assert_int_equal(eng_gguf_get_u32(m, "bert.pooling_type", &pool, NULL), 0);
    assert_int_equal(pool, 1);
    assert_int_equal(eng_gguf_get_f32(m, "bert.attention.layer_norm_epsilon", &eps, NULL), 0);
    assert_true(eps == 1e-12f);
    struct eng_tensor_info ti;
    assert_true(eng_gguf_find_tensor(m, "position_embd.weight", &ti) >= 0);
    assert_int_equal(ti.type, ENG_TYPE_F32);
    assert_int_equal(ti.ne[1], 512);
    check_stats(m, 1, o.n_embd);
    eng_gguf_close(m);
    unlink(out);
    eng_gguf_close(vocab);
}

/* Every --type over the 512-token stories260K vocabulary: types as the rules
 * say, statistics right, and a 64-wide model falling back like llama-quantize. */
static void test_synth_all_types(void **state)
{
    (void)state;
    char vp[1200], out[1200];
    snprintf(vp, sizeof vp, "%s/models/stories260K/stories260K.gguf", g_shared);
    if (!exists(vp))
        skip();
    struct eng_gguf *vocab = open_ok(vp);
    static const char *const names[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1",
                                        "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M"};
    path_in(out, sizeof out, "types.gguf");
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        int type = eng_synth_parse_type(names[k]);
        assert_true(type >= 0);
        assert_string_equal(eng_synth_type_name(type), names[k]);
        for (int narrow = 0; narrow < 2; narrow++) {
            struct eng_synth_opts o;
            eng_synth_defaults(&o, k % 2 ? ENG_SYNTH_QWEN2 : ENG_SYNTH_LLAMA);
            o.type = type;
            o.n_layer = 8;
            o.n_ff = 512;
            o.tied = k % 3 != 0;
            if (narrow)   /* rows of 64 (and 512 for ffn_down) */
                o.n_embd = 64, o.n_head = 4, o.n_head_kv = 2;
            synth_ok(&o, vocab, out, NULL);
            struct eng_gguf *m = open_ok(out);
            assert_tensors_sane(m);
            uint32_t ft;
            assert_int_equal(eng_gguf_get_u32(m, "general.file_type", &ft, NULL), 0);
            assert_int_equal((int)ft, eng_synth_file_type(type));
            assert_int_equal(eng_gguf_find_key(m, "general.quantization_version") >= 0,
                             type != ENG_TYPE_F32 && type != ENG_TYPE_F16 &&
                                 type != ENG_TYPE_BF16);
            for (int64_t i = 0; i < eng_gguf_n_tensors(m); i++) {
                struct eng_tensor_info ti;
                eng_gguf_tensor(m, i, &ti);
                int want = type;
                if (ti.n_dims == 1) {
                    want = ENG_TYPE_F32;
                } else {
                    int layer = -1;
                    sscanf(ti.name, "blk.%d.", &layer);
                    if (type == ENG_SYNTH_Q4_K_M) {
                        int more = layer == 0 || layer == 7 || layer == 3 || layer == 6;
                        int out_m = !strcmp(ti.name, "output.weight") ||
                                    (o.tied && !strcmp(ti.name, "token_embd.weight"));
                        want = out_m || (more && (strstr(ti.name, "attn_v") ||
                                                  strstr(ti.name, "ffn_down")))
                                   ? ENG_TYPE_Q6_K
                                   : ENG_TYPE_Q4_K;
                    }
                    if (ti.ne[0] % 256) {
                        if (want == ENG_TYPE_Q4_K) want = ENG_TYPE_Q5_0;
                        if (want == ENG_TYPE_Q5_K) want = ENG_TYPE_Q5_1;
                        if (want == ENG_TYPE_Q6_K) want = ENG_TYPE_Q8_0;
                    }
                }
                if ((int)ti.type != want)
                    fail_msg("%s/%s: '%s' is %s, expected %s", names[k],
                             narrow ? "narrow" : "wide", ti.name,
                             eng_ggml_type_name(ti.type), eng_ggml_type_name((uint32_t)want));
            }
            check_stats(m, 0, o.n_embd);
            eng_gguf_close(m);
        }
    }
    unlink(out);
    eng_gguf_close(vocab);
}

static void test_synth_errors(void **state)
{
    (void)state;
    char vp[1200], out[1200];
    snprintf(vp, sizeof vp, "%s/models/stories260K/stories260K.gguf", g_shared);
    if (!exists(vp))
        skip();
    struct eng_gguf *vocab = open_ok(vp);
    struct eng_synth_opts o;
    struct lore_err err = {0};
    eng_synth_defaults(&o, ENG_SYNTH_LLAMA);

    /* writing into a directory that does not exist fails cleanly */
    snprintf(out, sizeof out, "%s/missing-dir/model.gguf", g_tmp);
    assert_int_equal(eng_synth_write(&o, vocab, out, NULL, &err), LORE_ENOENT);
    assert_non_null(strstr(err.msg, "missing-dir/model.gguf"));
    assert_int_equal(tmp_entries(), 0);

    path_in(out, sizeof out, "bad.gguf");
    o.n_head = 7;   /* 256 % 7 */
    assert_int_equal(eng_synth_write(&o, vocab, out, NULL, &err), LORE_EINVAL);
    assert_non_null(strstr(err.msg, "n_head"));
    eng_synth_defaults(&o, ENG_SYNTH_LLAMA);
    o.n_head_kv = 3;
    assert_int_equal(eng_synth_write(&o, vocab, out, NULL, &err), LORE_EINVAL);
    eng_synth_defaults(&o, ENG_SYNTH_LLAMA);
    o.type = ENG_TYPE_Q8_K;   /* activations only */
    assert_int_equal(eng_synth_write(&o, vocab, out, NULL, &err), LORE_EINVAL);
    assert_int_equal(tmp_entries(), 0);
    eng_gguf_close(vocab);

    /* a file without a tokenizer */
    char src[1200];
    path_in(src, sizeof src, "notok.gguf");
    struct eng_gguf_w *w;
    assert_int_equal(eng_gguf_w_new(&w, &err), 0);
    eng_gguf_w_set_str(w, "general.architecture", "x", 1);
    assert_int_equal(eng_gguf_w_begin(w, src, &err), 0);
    assert_int_equal(eng_gguf_w_finish(w, &err), 0);
    eng_gguf_w_free(w);
    vocab = open_ok(src);
    eng_synth_defaults(&o, ENG_SYNTH_BERT);
    assert_int_equal(eng_synth_write(&o, vocab, out, NULL, &err), LORE_EFORMAT);
    assert_non_null(strstr(err.msg, "tokenizer"));
    eng_gguf_close(vocab);
    unlink(src);
    assert_int_equal(tmp_entries(), 0);
}

static void test_presets(void **state)
{
    (void)state;
    struct eng_synth_opts o;
    struct lore_err err = {0};
    assert_int_equal(eng_synth_preset(&o, "qwen2-0.5b", &err), 0);
    assert_int_equal(o.arch, ENG_SYNTH_QWEN2);
    assert_int_equal(o.n_embd, 896);
    assert_int_equal(o.n_layer, 24);
    assert_int_equal(o.n_head, 14);
    assert_int_equal(o.n_head_kv, 2);
    assert_int_equal(o.n_ff, 4864);
    assert_int_equal(o.n_ctx, 32768);
    assert_true(o.rope_theta == 1e6f);
    assert_true(o.tied);
    assert_int_equal(eng_synth_preset(&o, "llama-1b", &err), 0);
    assert_int_equal(o.arch, ENG_SYNTH_LLAMA);
    assert_int_equal(o.n_embd, 2048);
    assert_int_equal(o.n_layer, 16);
    assert_int_equal(o.n_head, 32);
    assert_int_equal(o.n_head_kv, 8);
    assert_int_equal(o.n_ff, 8192);
    assert_true(o.rope_theta == 500000.0f);
    assert_true(o.tied);
    assert_int_equal(eng_synth_preset(&o, "minilm-l6", &err), 0);
    assert_int_equal(o.arch, ENG_SYNTH_BERT);
    assert_int_equal(o.n_embd, 384);
    assert_int_equal(o.n_layer, 6);
    assert_int_equal(o.n_head, 12);
    assert_int_equal(o.n_ff, 1536);
    assert_int_equal(o.pooling, 1);
    assert_int_equal(eng_synth_preset(&o, "bge-small", &err), 0);
    assert_int_equal(o.n_layer, 12);
    assert_int_equal(o.pooling, 2);
    assert_int_equal(eng_synth_preset(&o, "gpt-5", &err), LORE_EINVAL);
    assert_non_null(strstr(err.msg, "gpt-5"));
    assert_int_equal(eng_synth_parse_arch("qwen2"), ENG_SYNTH_QWEN2);
    assert_int_equal(eng_synth_parse_arch("gemma"), -1);
    assert_int_equal(eng_synth_parse_type("q4_k_m"), ENG_SYNTH_Q4_K_M);
    assert_int_equal(eng_synth_parse_type("Q8_K"), -1);
    assert_int_equal(eng_synth_file_type(ENG_TYPE_Q8_0), 7);
    assert_int_equal(eng_synth_file_type(ENG_TYPE_BF16), 32);
}

static void rm_tmp(void)
{
    DIR *d = opendir(g_tmp);
    if (!d)
        return;
    struct dirent *de;
    char p[2400];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", g_tmp, de->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(g_tmp);
}

int main(void)
{
    const char *sh = getenv("LORE_SHARED");
    snprintf(g_shared, sizeof g_shared, "%s", sh && *sh ? sh : "../shared");
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/models/tokenizer-vocab-llamacpp", g_shared);
    if (!exists(probe)) {
        fprintf(stderr, "test_eng_synth: no vocabularies under '%s' (set LORE_SHARED): "
                        "skipped\n", g_shared);
        return 77;
    }
    const char *td = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/lore-synth-XXXXXX", td && *td ? td : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_writer_copy_kv),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_synth_errors),
        cmocka_unit_test(test_synth_llama),
        cmocka_unit_test(test_synth_qwen2),
        cmocka_unit_test(test_synth_bert),
        cmocka_unit_test(test_synth_all_types),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_tmp();
    return rc;
}
