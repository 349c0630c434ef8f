/*
 * test_eng_bert.c — the BERT encoder (engine/bert.c) against llama.cpp.
 *
 * Oracle: shared/golden/bert-bge-tiny (random-weight bge-shaped model, F32
 * and Q8_0): embed-{mean,cls}.*.json (pooled, L2-normalised, 20 sentences)
 * and hidden.*.json (per-token last-layer states, 3 sentences). Tolerances
 * are golden/README.md §4. Every sentence is run alone and again packed
 * with all the others into one batch (per-sequence attention must keep
 * them apart). Also: the tokenizer reproduces each item's ids, GELU follows
 * llama.cpp's F16 table, bad input gives errors, not crashes.
 *
 * Paths: LORE_TEST_MODELS (default $LORE_SHARED/golden/models) holds the
 * GGUFs, the goldens are in its sibling bert-bge-tiny/. Exits 77 (skipped)
 * when a file is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/engine.h"
#include "engine/kernels.h"

static char g_models[1024];
static char g_golden[1100];

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static struct eng_bert *open_model(const char *variant)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/bert-bge-tiny-%s.gguf", g_models, variant);
    struct lore_err err = {0};
    struct eng_bert *m = NULL;
    int rc = eng_bert_open(path, &m, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    return m;
}

static json_t *load_json(const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", g_golden, name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        print_error("%s: %s\n", path, je.text);
    assert_non_null(j);
    return j;
}

static double cosine(const float *a, const double *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static double max_abs(const float *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void json_vec(json_t *arr, double *out, int n)
{
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), n);
    for (int i = 0; i < n; i++)
        out[i] = json_number_value(json_array_get(arr, (size_t)i));
}

/* Tokenizes text and checks the ids equal the golden's; returns them. */
static int32_t *check_ids(const struct eng_bert *m, json_t *item, int *n)
{
    const char *text = json_string_value(json_object_get(item, "text"));
    json_t *gids = json_object_get(item, "ids");
    int64_t k = eng_tok_encode(eng_bert_tok(m), text, strlen(text), true, true, NULL, 0);
    assert_true(k > 0);
    int32_t *ids = malloc((size_t)k * sizeof *ids);
    assert_non_null(ids);
    assert_int_equal(eng_tok_encode(eng_bert_tok(m), text, strlen(text), true, true, ids, (size_t)k), k);
    assert_int_equal((size_t)k, json_array_size(gids));
    for (int64_t i = 0; i < k; i++)
        assert_int_equal(ids[i], json_integer_value(json_array_get(gids, (size_t)i)));
    *n = (int)k;
    return ids;
}

/* Pooled embeddings, one at a time and all in one batch. */
static void run_embed(const char *variant, const char *pool_name, int pooling, double min_cos,
                      double max_diff)
{
    struct eng_bert *m = open_model(variant);
    const int E = eng_bert_hparams(m)->n_embd;
    assert_int_equal(E, 128);
    char name[128];
    snprintf(name, sizeof name, "embed-%s.%s.json", pool_name, variant);
    json_t *root = load_json(name);
    json_t *items = json_object_get(root, "items");
    int n = (int)json_array_size(items);
    assert_true(n >= 20);

    int32_t *all = NULL;
    int *lens = calloc((size_t)n, sizeof *lens), total = 0;
    assert_non_null(lens);
    for (int i = 0; i < n; i++) {
        int32_t *ids = check_ids(m, json_array_get(items, (size_t)i), &lens[i]);
        all = realloc(all, (size_t)(total + lens[i]) * sizeof *all);
        assert_non_null(all);
        memcpy(all + total, ids, (size_t)lens[i] * sizeof *ids);
        total += lens[i];
        free(ids);
    }
    struct eng_bert_ctx *c = NULL;
    struct lore_err err = {0};
    assert_int_equal(eng_bert_ctx_new(m, total, 2, &c, &err), 0);
    float *one = malloc((size_t)n * E * sizeof *one), *batch = malloc((size_t)n * E * sizeof *batch);
    double *gold = malloc((size_t)E * sizeof *gold);
    assert_true(one && batch && gold);
    for (int i = 0, off = 0; i < n; off += lens[i], i++) {
        int rc = eng_bert_encode(c, all + off, &lens[i], 1, pooling, NULL, one + (size_t)i * E, &err);
        if (rc)
            print_error("%s\n", err.msg);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(eng_bert_encode(c, all, lens, n, pooling, NULL, batch, &err), 0);
    double worst_cos[2] = {1, 1}, worst_abs[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        json_vec(json_object_get(json_array_get(items, (size_t)i), "embedding"), gold, E);
        const float *got[2] = {one + (size_t)i * E, batch + (size_t)i * E};
        for (int v = 0; v < 2; v++) {
            double cs = cosine(got[v], gold, E), ma = max_abs(got[v], gold, E);
            worst_cos[v] = fmin(worst_cos[v], cs);
            worst_abs[v] = fmax(worst_abs[v], ma);
            if (cs < min_cos || ma > max_diff)
                print_error("%s %s item %d (%s): cos %.9f max abs %.3g\n", name,
                            v ? "batched" : "alone", i, v ? "batch" : "single", cs, ma);
        }
    }
    fprintf(stderr, "    %-22s alone: min cos %.9f (1-cos %.1e) max abs %.3g | batch of %d: min cos %.9f max abs %.3g\n",
            name, worst_cos[0], 1 - worst_cos[0], worst_abs[0], n, worst_cos[1], worst_abs[1]);
    for (int v = 0; v < 2; v++) {
        assert_true(worst_cos[v] >= min_cos);
        assert_true(worst_abs[v] <= max_diff);
    }
    free(gold);
    free(one);
    free(batch);
    free(all);
    free(lens);
    json_decref(root);
    eng_bert_ctx_free(c);
    eng_bert_free(m);
}

static void test_embed_mean_f32(void **s) { run_embed("F32", "mean", ENG_BERT_POOL_MEAN, 0.99999, 2e-4); }
static void test_embed_cls_f32(void **s) { run_embed("F32", "cls", ENG_BERT_POOL_CLS, 0.99999, 2e-4); }
static void test_embed_mean_q8(void **s) { run_embed("Q8_0", "mean", ENG_BERT_POOL_MEAN, 0.9999, 1e-2); }
static void test_embed_cls_q8(void **s) { run_embed("Q8_0", "cls", ENG_BERT_POOL_CLS, 0.9999, 1e-2); }

/* Per-token hidden states of three sentences, batched together. */
static void run_hidden(const char *variant, double min_cos)
{
    struct eng_bert *m = open_model(variant);
    const int E = eng_bert_hparams(m)->n_embd;
    char name[64];
    snprintf(name, sizeof name, "hidden.%s.json", variant);
    json_t *root = load_json(name);
    json_t *items = json_object_get(root, "items");
    int n = (int)json_array_size(items);
    assert_int_equal(n, 3);
    int lens[3], total = 0;
    int32_t ids[1024];
    for (int i = 0; i < n; i++) {
        json_t *gids = json_object_get(json_array_get(items, (size_t)i), "ids");
        lens[i] = (int)json_array_size(gids);
        assert_true(total + lens[i] <= 1024);
        for (int t = 0; t < lens[i]; t++)
            ids[total + t] = (int32_t)json_integer_value(json_array_get(gids, (size_t)t));
        total += lens[i];
    }
    struct eng_bert_ctx *c = NULL;
    struct lore_err err = {0};
    assert_int_equal(eng_bert_ctx_new(m, 0, 2, &c, &err), 0);
    float *h = malloc((size_t)total * E * sizeof *h);
    double *gold = malloc((size_t)E * sizeof *gold);
    assert_true(h && gold);
    assert_int_equal(eng_bert_encode(c, ids, lens, n, 0, h, NULL, &err), 0);
    double worst = 1, wabs = 0;
    for (int i = 0, row = 0; i < n; i++) {
        json_t *hid = json_object_get(json_array_get(items, (size_t)i), "hidden");
        assert_int_equal(json_array_size(hid), lens[i]);
        for (int t = 0; t < lens[i]; t++, row++) {
            json_vec(json_array_get(hid, (size_t)t), gold, E);
            worst = fmin(worst, cosine(h + (size_t)row * E, gold, E));
            wabs = fmax(wabs, max_abs(h + (size_t)row * E, gold, E));
        }
    }
    fprintf(stderr, "    %-22s per-token min cos %.9f (1-cos %.1e) max abs %.3g\n", name, worst, 1 - worst, wabs);
    assert_true(worst >= min_cos);
    free(h);
    free(gold);
    json_decref(root);
    eng_bert_ctx_free(c);
    eng_bert_free(m);
}

static void test_hidden_f32(void **s) { run_hidden("F32", 0.99999); }
static void test_hidden_q8(void **s) { run_hidden("Q8_0", 0.9995); }

static void test_hparams(void **s)
{
    struct eng_bert *m = open_model("Q8_0");
    const struct eng_bert_hparams *hp = eng_bert_hparams(m);
    assert_string_equal(hp->arch, "bert");
    assert_int_equal(hp->n_embd, 128);
    assert_int_equal(hp->n_layer, 2);
    assert_int_equal(hp->n_head, 4);
    assert_int_equal(hp->head_dim, 32);
    assert_int_equal(hp->n_ff, 512);
    assert_int_equal(hp->n_ctx_train, 512);
    assert_int_equal(hp->n_vocab, 30522);
    assert_int_equal(hp->pooling, ENG_BERT_POOL_MEAN);
    assert_true(hp->n_token_types >= 1);
    assert_true(fabsf(hp->norm_eps - 1e-12f) < 1e-15f);
    assert_int_equal(eng_bert_weight_type(m), ENG_GGML_Q8_0);
    eng_bert_free(m);
}

/* GELU: the table path rounds x and the result to F16; the tails are exact. */
static void test_gelu(void **s)
{
    struct eng_bert *m = open_model("Q8_0");
    assert_true(eng_bert_gelu(m, -10.0f) == 0.0f);
    assert_true(eng_bert_gelu(m, -50.0f) == 0.0f);
    assert_true(eng_bert_gelu(m, 10.0f) == 10.0f);
    assert_true(eng_bert_gelu(m, 123.5f) == 123.5f);
    assert_true(eng_bert_gelu(m, 0.0f) == 0.0f);
    for (float x = -9.99f; x < 9.99f; x += 0.0137f) {
        float xr = eng_fp16_to_fp32(eng_fp32_to_fp16(x));
        double g = 0.5 * xr * (1 + tanh(0.7978845608028654 * xr * (1 + 0.044715 * xr * xr)));
        float y = eng_bert_gelu(m, x);
        /* y is an F16 value within half an F16 ulp (plus tanhf error) of g */
        assert_true(eng_fp16_to_fp32(eng_fp32_to_fp16(y)) == y);
        assert_true(fabs(y - g) <= fabs(g) * 6e-4 + 1e-7);
    }
    /* 1.0 is exact in F16; gelu(1) = 0.841192 rounds to 0.8413086 */
    assert_true(fabsf(eng_bert_gelu(m, 1.0f) - 0.84130859375f) < 1e-7f);
    eng_bert_free(m);
}

static void test_bad_input(void **s)
{
    struct eng_bert *m = open_model("Q8_0");
    struct eng_bert_ctx *c = NULL;
    struct lore_err err = {0};
    assert_int_equal(eng_bert_ctx_new(m, 16, 1, &c, &err), 0);
    assert_int_equal(eng_bert_ctx_max_tokens(c), 512);  /* at least one full context */
    int32_t ids[600];
    for (int i = 0; i < 600; i++)
        ids[i] = 1000 + i;
    float out[128];
    int len = 5;
    ids[2] = 30522;
    assert_int_equal(eng_bert_encode(c, ids, &len, 1, ENG_BERT_POOL_MEAN, NULL, out, &err), LORE_EINVAL);
    assert_non_null(strstr(err.msg, "vocabulary"));
    ids[2] = -1;
    assert_int_equal(eng_bert_encode(c, ids, &len, 1, ENG_BERT_POOL_MEAN, NULL, out, &err), LORE_EINVAL);
    ids[2] = 1002;
    len = 0;
    assert_int_equal(eng_bert_encode(c, ids, &len, 1, ENG_BERT_POOL_MEAN, NULL, out, &err), LORE_EINVAL);
    len = 513;
    assert_int_equal(eng_bert_encode(c, ids, &len, 1, ENG_BERT_POOL_MEAN, NULL, out, &err), LORE_EINVAL);
    int two[2] = {300, 300};
    float out2[256];
    assert_int_equal(eng_bert_encode(c, ids, two, 2, ENG_BERT_POOL_MEAN, NULL, out2, &err), LORE_ELIMIT);
    len = 5;
    assert_int_equal(eng_bert_encode(c, ids, &len, 1, 7, NULL, out, &err), LORE_EINVAL);
    assert_int_equal(eng_bert_encode(c, ids, &len, 0, ENG_BERT_POOL_MEAN, NULL, out, &err), LORE_EINVAL);
    /* a full 512-token sequence works, and LAST pooling picks the last row */
    len = 512;
    float *h = malloc(512 * 128 * sizeof *h);
    assert_non_null(h);
    assert_int_equal(eng_bert_encode(c, ids, &len, 1, ENG_BERT_POOL_LAST, h, out, &err), 0);
    double ss = 0, dot = 0;
    for (int i = 0; i < 128; i++) {
        ss += (double)h[511 * 128 + i] * h[511 * 128 + i];
        dot += (double)out[i] * h[511 * 128 + i];
    }
    assert_true(fabs(dot - sqrt(ss)) < 1e-3 * sqrt(ss));
    free(h);
    eng_bert_ctx_free(c);
    eng_bert_free(m);
}

static void test_wrong_arch(void **s)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/llama-spm-tiny-Q4_0.gguf", g_models);
    if (!exists(path))
        skip();
    struct lore_err err = {0};
    struct eng_bert *m = NULL;
    assert_int_equal(eng_bert_open(path, &m, &err), LORE_EUNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(err.msg, "'llama'"));
    assert_int_equal(eng_bert_open("/nonexistent/x.gguf", &m, &err), LORE_ENOENT);
    assert_null(m);
}

/* Cutting the file anywhere gives an error, never a crash. */
static void test_truncated(void **s)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/bert-bge-tiny-Q8_0.gguf", g_models);
    char *data = NULL;
    size_t len = 0;
    struct lore_err err = {0};
    assert_int_equal(lore_read_file(path, &data, &len, (size_t)64 << 20, &err), 0);
    char tmp[] = "/tmp/test_eng_bert_XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    size_t cuts[] = {0, 16, 100, 5000, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        FILE *f = fopen(tmp, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, cuts[i], f), cuts[i]);
        fclose(f);
        struct eng_bert *m = NULL;
        int rc = eng_bert_open(tmp, &m, &err);
        assert_true(rc < 0);
        assert_null(m);
        assert_true(err.msg[0] != 0);
    }
    remove(tmp);
    free(data);
}

/* A tensor with the wrong shape is named in the error. The tensor info
 * after the name is: n_dims u32, ne[0] u64, ...; halve ne[0] of a bias. */
static void test_bad_shape(void **s)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/bert-bge-tiny-Q8_0.gguf", g_models);
    char *data = NULL;
    size_t len = 0;
    struct lore_err err = {0};
    assert_int_equal(lore_read_file(path, &data, &len, (size_t)64 << 20, &err), 0);
    const char *name = "blk.1.ffn_up.bias";
    char *p = memmem(data, len, name, strlen(name));
    assert_non_null(p);
    uint64_t ne0;
    memcpy(&ne0, p + strlen(name) + 4, 8);
    assert_int_equal(ne0, 512);
    ne0 = 256;
    memcpy(p + strlen(name) + 4, &ne0, 8);
    char tmp[] = "/tmp/test_eng_bert_XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    struct eng_bert *m = NULL;
    assert_int_equal(eng_bert_open(tmp, &m, &err), LORE_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "'blk.1.ffn_up.bias' has shape [256"));
    remove(tmp);
    free(data);
}

int main(void)
{
    const char *sh = getenv("LORE_SHARED");
    const char *mo = getenv("LORE_TEST_MODELS");
    if (mo && *mo)
        snprintf(g_models, sizeof g_models, "%s", mo);
    else if (sh && *sh)
        snprintf(g_models, sizeof g_models, "%s/golden/models", sh);
    else {
        fprintf(stderr, "test_eng_bert: LORE_TEST_MODELS (or LORE_SHARED) is not set: skipped\n");
        return 77;
    }
    snprintf(g_golden, sizeof g_golden, "%s/../bert-bge-tiny", g_models);
    const char *need[] = {"bert-bge-tiny-F32.gguf", "bert-bge-tiny-Q8_0.gguf"};
    for (size_t i = 0; i < 2; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", g_models, need[i]);
        if (!exists(p)) {
            fprintf(stderr, "test_eng_bert: '%s' is missing: skipped\n", p);
            return 77;
        }
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/embed-mean.F32.json", g_golden);
    if (!exists(p)) {
        fprintf(stderr, "test_eng_bert: goldens '%s' are missing: skipped\n", p);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hparams),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_embed_mean_f32),
        cmocka_unit_test(test_embed_cls_f32),
        cmocka_unit_test(test_embed_mean_q8),
        cmocka_unit_test(test_embed_cls_q8),
        cmocka_unit_test(test_hidden_f32),
        cmocka_unit_test(test_hidden_q8),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_wrong_arch),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
