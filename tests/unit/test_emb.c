/*
 * test_emb.c — the embedder (embed/): goldens through the public API,
 * batching that keeps each text at its index, truncation, prefixes, the
 * model identity, errors, and two threads sharing one handle.
 *
 * Oracle: shared/golden/bert-bge-tiny/embed-{mean,cls}.*.json (llama.cpp,
 * one sentence per request). Paths: LORE_TEST_MODELS (default
 * $LORE_SHARED/golden/models); goldens in its sibling bert-bge-tiny/. Exits
 * 77 (skipped) when a file is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "embed/embed.h"
#include "engine/engine.h"

static char g_models[1024];
static char g_golden[1100];

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void model_path(char *out, size_t cap, const char *variant)
{
    snprintf(out, cap, "%s/bert-bge-tiny-%s.gguf", g_models, variant);
}

static struct emb *open_emb(const char *variant, const struct emb_opts *o)
{
    char path[1200];
    model_path(path, sizeof path, variant);
    struct lore_err err = {0};
    struct emb *e = NULL;
    int rc = emb_open(path, o, &e, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    return e;
}

struct golden {
    json_t *root;
    size_t n;
    const char **texts;
    double *vec;        /* [n][128] */
};

static void golden_load(struct golden *g, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", g_golden, name);
    json_error_t je;
    g->root = json_load_file(path, 0, &je);
    assert_non_null(g->root);
    json_t *items = json_object_get(g->root, "items");
    g->n = json_array_size(items);
    g->texts = calloc(g->n, sizeof *g->texts);
    g->vec = calloc(g->n * 128, sizeof *g->vec);
    assert_true(g->texts && g->vec);
    for (size_t i = 0; i < g->n; i++) {
        json_t *it = json_array_get(items, i);
        g->texts[i] = json_string_value(json_object_get(it, "text"));
        json_t *v = json_object_get(it, "embedding");
        assert_int_equal(json_array_size(v), 128);
        for (size_t k = 0; k < 128; k++)
            g->vec[i * 128 + k] = json_number_value(json_array_get(v, k));
    }
}

static void golden_free(struct golden *g)
{
    free(g->texts);
    free(g->vec);
    json_decref(g->root);
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

/* Goldens through emb_embed; the texts three times over in one call so
 * they span several batches, each copy must land at its own index. */
static void run_golden(const char *variant, const char *pool, int pooling, double min_cos,
                       double max_diff)
{
    struct emb_opts o;
    emb_opts_default(&o);
    o.threads = 2;
    o.max_batch_tokens = 512;
    o.pooling = pooling;
    struct emb *e = open_emb(variant, &o);
    assert_int_equal(emb_dim(e), 128);
    char name[64];
    snprintf(name, sizeof name, "embed-%s.%s.json", pool, variant);
    struct golden g;
    golden_load(&g, name);
    size_t n = g.n * 3;
    const char **texts = malloc(n * sizeof *texts);
    float *out = malloc(n * 128 * sizeof *out);
    assert_true(texts && out);
    for (size_t i = 0; i < n; i++)
        texts[i] = g.texts[(i * 7) % g.n];     /* shuffled, each text 3× */
    struct lore_err err = {0};
    struct emb_stats st0, st1;
    emb_get_stats(e, &st0);
    assert_int_equal(emb_embed(e, texts, n, out, false, &err), 0);
    emb_get_stats(e, &st1);
    assert_int_equal(st1.texts - st0.texts, n);
    assert_true(st1.batches - st0.batches >= 3);  /* 3 × 427 tokens in 512-token batches */
    assert_int_equal(emb_n_truncated(e), 0);
    double worst = 1, wabs = 0;
    for (size_t i = 0; i < n; i++) {
        const double *gv = g.vec + ((i * 7) % g.n) * 128;
        worst = fmin(worst, cosine(out + i * 128, gv, 128));
        for (int k = 0; k < 128; k++)
            wabs = fmax(wabs, fabs(out[i * 128 + k] - gv[k]));
    }
    fprintf(stderr, "    %-20s %zu texts in %llu batches: min cos %.9f max abs %.3g\n", name, n,
            (unsigned long long)(st1.batches - st0.batches), worst, wabs);
    assert_true(worst >= min_cos);
    assert_true(wabs <= max_diff);
    free(texts);
    free(out);
    golden_free(&g);
    emb_close(e);
}

static void test_golden_mean_f32(void **s) { run_golden("F32", "mean", EMB_POOL_MODEL, 0.99999, 2e-4); }
static void test_golden_cls_f32(void **s) { run_golden("F32", "cls", EMB_POOL_CLS, 0.99999, 2e-4); }
static void test_golden_mean_q8(void **s) { run_golden("Q8_0", "mean", EMB_POOL_MEAN, 0.9999, 1e-2); }
static void test_golden_cls_q8(void **s) { run_golden("Q8_0", "cls", EMB_POOL_CLS, 0.9999, 1e-2); }

static void test_model_id(void **s)
{
    struct emb *a = open_emb("Q8_0", NULL), *b = open_emb("Q8_0", NULL), *c = open_emb("F32", NULL);
    struct emb_opts o;
    emb_opts_default(&o);
    o.query_prefix = "query: ";
    struct emb *d = open_emb("Q8_0", &o);
    o.query_prefix = NULL;
    o.pooling = EMB_POOL_CLS;
    struct emb *f = open_emb("Q8_0", &o);
    const char *id = emb_model_id(a);
    fprintf(stderr, "    model id: %s\n", id);
    assert_int_equal(strncmp(id, "bert:bert-bge-tiny:d128:mean:", 29), 0);
    assert_int_equal(strlen(id), 29 + 16);
    assert_string_equal(id, emb_model_id(b));                 /* stable */
    assert_string_not_equal(id, emb_model_id(c));             /* other weights */
    assert_string_not_equal(id, emb_model_id(d));             /* other prefix */
    assert_string_not_equal(id, emb_model_id(f));             /* other pooling */
    assert_non_null(strstr(emb_model_id(f), ":cls:"));
    assert_int_equal(emb_max_tokens(a), 512);
    emb_close(a);
    emb_close(b);
    emb_close(c);
    emb_close(d);
    emb_close(f);
}

/* A text of ~1,200 tokens is cut to CLS + 510 tokens + SEP; the vector
 * equals the encoder's on exactly those ids. With no_truncate: an error. */
static void test_truncate(void **s)
{
    struct lore_buf b;
    lore_buf_init(&b);
    for (int i = 0; i < 400; i++)
        assert_int_equal(lore_buf_printf(&b, "word%d alpha, ", i), 0);
    const char *texts[2] = {"short one", b.data};
    struct emb_opts o;
    emb_opts_default(&o);
    o.threads = 1;
    struct emb *e = open_emb("F32", &o);
    int64_t nt = emb_count_tokens(e, b.data, b.len, false);
    assert_true(nt > 600);
    float out[2 * 128];
    struct lore_err err = {0};
    assert_int_equal(emb_embed(e, texts, 2, out, false, &err), 0);
    assert_int_equal(emb_n_truncated(e), 1);

    /* the same through the engine with hand-truncated ids */
    char path[1200];
    model_path(path, sizeof path, "F32");
    struct eng_bert *m = NULL;
    struct eng_bert_ctx *c = NULL;
    assert_int_equal(eng_bert_open(path, &m, &err), 0);
    assert_int_equal(eng_bert_ctx_new(m, 0, 1, &c, &err), 0);
    int32_t *ids = malloc((size_t)nt * sizeof *ids);
    assert_non_null(ids);
    assert_int_equal(eng_tok_encode(eng_bert_tok(m), b.data, b.len, true, false, ids, (size_t)nt), nt);
    assert_int_equal(ids[nt - 1], 102);
    ids[511] = 102;
    int len = 512;
    float ref[128];
    assert_int_equal(eng_bert_encode(c, ids, &len, 1, ENG_BERT_POOL_MEAN, NULL, ref, &err), 0);
    for (int k = 0; k < 128; k++)
        assert_true(fabsf(ref[k] - out[128 + k]) < 1e-6f);
    free(ids);
    eng_bert_ctx_free(c);
    eng_bert_free(m);
    emb_close(e);

    o.no_truncate = true;
    e = open_emb("F32", &o);
    memset(out, 0x7f, sizeof out);
    assert_int_equal(emb_embed(e, texts, 2, out, false, &err), LORE_ELIMIT);
    assert_non_null(strstr(err.msg, "text 1"));
    assert_true(out[0] != out[0] || out[0] > 1e30f);      /* nothing written */
    emb_close(e);
    lore_buf_release(&b);
}

/* A handle with prefixes embeds like a plain one given prefixed texts. */
static void test_prefixes(void **s)
{
    struct emb_opts o;
    emb_opts_default(&o);
    o.threads = 2;
    struct emb *plain = open_emb("F32", &o);
    o.query_prefix = "query: ";
    o.doc_prefix = "passage: ";
    struct emb *pre = open_emb("F32", &o);
    const char *t[2] = {"How do I delete a document?", "Deleting purges chunks and vectors."};
    const char *qp[2] = {"query: How do I delete a document?", "query: Deleting purges chunks and vectors."};
    const char *dp[2] = {"passage: How do I delete a document?",
                         "passage: Deleting purges chunks and vectors."};
    float a[256], b[256];
    struct lore_err err = {0};
    assert_int_equal(emb_embed(pre, t, 2, a, true, &err), 0);
    assert_int_equal(emb_embed(plain, qp, 2, b, false, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(emb_embed(pre, t, 2, a, false, &err), 0);
    assert_int_equal(emb_embed(plain, dp, 2, b, false, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(emb_embed(plain, t, 2, b, false, &err), 0);
    assert_memory_not_equal(a, b, sizeof a);
    /* counts include the prefix and CLS/SEP */
    assert_int_equal(emb_count_tokens(plain, "hello world", 11, true), 4);
    assert_int_equal(emb_count_tokens(pre, "hello world", 11, true), 6);     /* query : */
    assert_int_equal(emb_count_tokens(pre, "hello world", 11, false), 6);    /* passage : */
    emb_close(plain);
    emb_close(pre);
}

static void test_edge_cases(void **s)
{
    struct emb *e = open_emb("Q8_0", NULL);
    struct lore_err err = {0};
    float out[3 * 128];
    const char *t[3] = {"", "[SEP] [CLS]", "x"};
    assert_int_equal(emb_embed(e, t, 3, out, false, &err), 0);
    for (int i = 0; i < 3; i++) {
        double ss = 0;
        for (int k = 0; k < 128; k++)
            ss += (double)out[i * 128 + k] * out[i * 128 + k];
        assert_true(fabs(ss - 1.0) < 1e-5);
    }
    /* "[SEP]" in a document is text, not the control token */
    assert_true(emb_count_tokens(e, "[SEP]", 5, false) > 3);
    assert_int_equal(emb_embed(e, t, 0, out, false, &err), 0);
    const char *bad[2] = {"ok", NULL};
    assert_int_equal(emb_embed(e, bad, 2, out, false, &err), LORE_EINVAL);
    assert_int_equal(emb_embed(e, NULL, 2, out, false, &err), LORE_EINVAL);
    emb_close(e);

    struct emb_opts o;
    emb_opts_default(&o);
    o.pooling = 9;
    char path[1200];
    model_path(path, sizeof path, "Q8_0");
    struct emb *x = NULL;
    assert_int_equal(emb_open(path, &o, &x, &err), LORE_EINVAL);
    assert_null(x);
    snprintf(path, sizeof path, "%s/llama-spm-tiny-Q4_0.gguf", g_models);
    if (exists(path)) {
        assert_int_equal(emb_open(path, NULL, &x, &err), LORE_EUNSUPPORTED);
        assert_null(x);
    }
    assert_int_equal(emb_open("/nonexistent.gguf", NULL, &x, &err), LORE_ENOENT);
}

struct thr {
    struct emb *e;
    const char **texts;
    size_t n;
    float *out;
    int rc;
};

static void *thr_main(void *p)
{
    struct thr *t = p;
    struct lore_err err = {0};
    for (int r = 0; r < 3 && !t->rc; r++)
        t->rc = emb_embed(t->e, t->texts, t->n, t->out, false, &err);
    return NULL;
}

/* Two threads share one handle: results equal a single-threaded run. */
static void test_threads(void **s)
{
    struct golden g;
    golden_load(&g, "embed-mean.Q8_0.json");
    struct emb_opts o;
    emb_opts_default(&o);
    o.threads = 2;
    struct emb *e = open_emb("Q8_0", &o);
    size_t n = g.n;
    float *ref = malloc(n * 128 * sizeof *ref);
    struct thr t[2];
    struct lore_err err = {0};
    assert_int_equal(emb_embed(e, g.texts, n, ref, false, &err), 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        t[i] = (struct thr){e, g.texts, n, malloc(n * 128 * sizeof(float)), 0};
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].rc, 0);
        assert_memory_equal(t[i].out, ref, n * 128 * sizeof *ref);
        free(t[i].out);
    }
    free(ref);
    emb_close(e);
    golden_free(&g);
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
        fprintf(stderr, "test_emb: LORE_TEST_MODELS (or LORE_SHARED) is not set: skipped\n");
        return 77;
    }
    snprintf(g_golden, sizeof g_golden, "%s/../bert-bge-tiny", g_models);
    const char *need[] = {"bert-bge-tiny-F32.gguf", "bert-bge-tiny-Q8_0.gguf"};
    for (size_t i = 0; i < 2; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", g_models, need[i]);
        if (!exists(p)) {
            fprintf(stderr, "test_emb: '%s' is missing: skipped\n", p);
            return 77;
        }
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/embed-mean.F32.json", g_golden);
    if (!exists(p)) {
        fprintf(stderr, "test_emb: goldens '%s' are missing: skipped\n", p);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_mean_f32),
        cmocka_unit_test(test_golden_cls_f32),
        cmocka_unit_test(test_golden_mean_q8),
        cmocka_unit_test(test_golden_cls_q8),
        cmocka_unit_test(test_model_id),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
