/*
 * test_eng_decode.c — the decoder against llama.cpp's outputs on the golden
 * fixtures (shared/golden): teacher-forced log-probabilities at every prompt
 * position and every generated step, full logit vectors, and free-running
 * greedy decoding up to the first step whose golden margin is too thin to
 * be decisive. Tolerances from shared/golden/README.md §4.
 * Models come from $LORE_TEST_MODELS (and stories260K from $LORE_SHARED);
 * the test is skipped (exit 77) when they are absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

struct variant {
    const char *dir, *tag, *model, *models_env;
    double tol_lp, tol_top1;
};

static const struct variant variants[] = {
    {"stories260K", "F32", "stories260K/stories260K.gguf", "SHARED_MODELS", 1e-3, 1e-3},
    {"llama-spm-tiny", "F16", "llama-spm-tiny-F16.gguf", "M", 0.02, 0.02},
    {"llama-spm-tiny", "Q8_0", "llama-spm-tiny-Q8_0.gguf", "M", 0.35, 0.5},
    {"llama-spm-tiny", "Q4_0", "llama-spm-tiny-Q4_0.gguf", "M", 0.35, 0.5},
    {"llama-spm-tiny", "Q4_K_M", "llama-spm-tiny-Q4_K_M.gguf", "M", 0.35, 0.5},
    {"llama-spm-tiny", "Q5_K_M", "llama-spm-tiny-Q5_K_M.gguf", "M", 0.35, 0.5},
    {"llama-spm-tiny", "Q6_K", "llama-spm-tiny-Q6_K.gguf", "M", 0.35, 0.5},
    {"qwen2-bpe-tiny", "F16", "qwen2-bpe-tiny-F16.gguf", "M", 0.02, 0.02},
    {"qwen2-bpe-tiny", "Q8_0", "qwen2-bpe-tiny-Q8_0.gguf", "M", 0.35, 0.5},
    {"qwen2-bpe-tiny", "Q4_K_M", "qwen2-bpe-tiny-Q4_K_M.gguf", "M", 0.35, 0.5},
    {"qwen2-bpe-mini", "F16", "qwen2-bpe-mini-F16.gguf", "M", 0.02, 0.02},
    {"qwen2-bpe-mini", "Q4_K_M", "qwen2-bpe-mini-Q4_K_M.gguf", "M", 0.35, 0.5},
};

static char golden_dir[1024], models_dir[1024], shared_models[1024];
static int ran;

static void logsoftmax(const float *l, int n, double *out)
{
    double mx = l[0];
    for (int i = 1; i < n; i++)
        if (l[i] > mx)
            mx = l[i];
    double s = 0;
    for (int i = 0; i < n; i++)
        s += exp((double)l[i] - mx);
    double lse = mx + log(s);
    for (int i = 0; i < n; i++)
        out[i] = (double)l[i] - lse;
}

static int argmax(const float *l, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b])
            b = i;
    return b;
}

/* Compares one position's distribution with a golden top list
 * [[id, logit, logprob], ...]; updates the worst error. Returns 0 on a
 * failure of top-1 where the golden margin is decisive. */
static int check_pos(const double *lp, const float *lg, int V, json_t *top, double margin,
                     const struct variant *v, double *worst, int *top1_bad)
{
    size_t i;
    json_t *e;
    json_array_foreach(top, i, e) {
        int id = (int)json_integer_value(json_array_get(e, 0));
        double want = json_real_value(json_array_get(e, 2));
        double d = fabs(lp[id] - want);
        if (d > *worst)
            *worst = d;
    }
    int gold = (int)json_integer_value(json_array_get(json_array_get(top, 0), 0));
    if (argmax(lg, V) != gold && margin >= v->tol_top1) {
        (*top1_bad)++;
        return 0;
    }
    return 1;
}

static void run_variant(const struct variant *v)
{
    char path[2048], gpath[2048];
    snprintf(path, sizeof path, "%s/%s", strcmp(v->models_env, "M") == 0 ? models_dir : shared_models,
             v->model);
    snprintf(gpath, sizeof gpath, "%s/%s/decode.%s.json", golden_dir, v->dir, v->tag);
    if (access(path, R_OK) || access(gpath, R_OK)) {
        print_message("skip %s %s: %s missing\n", v->dir, v->tag, access(path, R_OK) ? path : gpath);
        return;
    }
    struct lore_err e;
    struct eng_model *m;
    if (eng_model_open(path, &m, &e))
        fail_msg("open %s: %s", path, e.msg);
    json_error_t je;
    json_t *g = json_load_file(gpath, 0, &je);
    assert_non_null(g);
    int V = eng_model_hparams(m)->n_vocab;
    struct eng_ctx *c;
    assert_int_equal(eng_ctx_new(m, 0, 2, &c, &e), 0);
    double worst = 0;
    int top1_bad = 0, greedy_ok = 0, greedy_n = 0;
    size_t ii;
    json_t *it;
    json_array_foreach(json_object_get(g, "items"), ii, it) {
        json_t *pids = json_object_get(it, "prompt_ids"), *gen = json_object_get(it, "generated_ids");
        json_t *steps = json_object_get(it, "steps"), *ptop = json_object_get(it, "prompt_top");
        int np = (int)json_array_size(pids), ng = (int)json_array_size(gen);
        int n = np + ng - 1;
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        for (int i = 0; i < np; i++)
            ids[i] = (int32_t)json_integer_value(json_array_get(pids, (size_t)i));
        for (int i = 0; i < ng - 1; i++)
            ids[np + i] = (int32_t)json_integer_value(json_array_get(gen, (size_t)i));
        float *lg = malloc((size_t)n * V * sizeof *lg);
        double *lp = malloc((size_t)V * sizeof *lp);
        eng_ctx_rewind(c, 0);
        if (eng_decode(c, ids, n, lg, 1, &e))
            fail_msg("decode: %s", e.msg);
        /* prompt positions: prediction of token j+1 */
        for (int j = 0; j < np - 1 && j < (int)json_array_size(ptop); j++) {
            json_t *top = json_array_get(ptop, (size_t)j);
            logsoftmax(lg + (size_t)j * V, V, lp);
            double margin = json_real_value(json_array_get(json_array_get(top, 0), 1)) -
                            json_real_value(json_array_get(json_array_get(top, 1), 1));
            check_pos(lp, lg + (size_t)j * V, V, top, margin, v, &worst, &top1_bad);
        }
        /* generated steps, teacher-forced */
        for (int s = 0; s < ng; s++) {
            json_t *st = json_array_get(steps, (size_t)s);
            const float *row = lg + (size_t)(np - 1 + s) * V;
            logsoftmax(row, V, lp);
            check_pos(lp, row, V, json_object_get(st, "top"), json_real_value(json_object_get(st, "margin")),
                      v, &worst, &top1_bad);
        }
        /* free-running greedy up to the first indecisive step */
        struct eng_gen_opts go;
        eng_gen_opts_default(&go);
        go.n_predict = ng;
        go.ignore_eos = 1;
        go.sampling.temp = 0;
        struct eng_gen_result r;
        if (eng_generate(c, ids, np, &go, &r, &e))
            fail_msg("generate: %s", e.msg);
        for (int s = 0; s < ng && s < r.n_tokens; s++) {
            json_t *st = json_array_get(steps, (size_t)s);
            if (json_real_value(json_object_get(st, "margin")) < v->tol_top1)
                break;
            greedy_n++;
            if (r.tokens[s] != (int32_t)json_integer_value(json_array_get(gen, (size_t)s))) {
                print_message("%s %s item %zu: greedy differs at step %d\n", v->dir, v->tag, ii, s);
                break;
            }
            greedy_ok++;
        }
        eng_gen_result_release(&r);
        free(ids);
        free(lg);
        free(lp);
    }
    print_message("%-15s %-7s max|dlogprob| %.5f (tol %.3g)  top1 misses %d  greedy %d/%d decisive steps\n",
                  v->dir, v->tag, worst, v->tol_lp, top1_bad, greedy_ok, greedy_n);
    assert_true(worst <= v->tol_lp);
    assert_int_equal(top1_bad, 0);
    assert_int_equal(greedy_ok, greedy_n);
    json_decref(g);
    eng_ctx_free(c);
    eng_model_free(m);
    ran++;
}

static void test_decode_goldens(void **s)
{
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        run_variant(&variants[i]);
    if (!ran)
        skip();
}

/* Full logit vectors (F16/F32), after removing the mean difference. */
static void test_full_logits(void **s)
{
    static const struct { const char *dir, *tag, *model; int shared; double tol; } L[] = {
        {"stories260K", "F32", "stories260K/stories260K.gguf", 1, 1e-3},
        {"llama-spm-tiny", "F16", "llama-spm-tiny-F16.gguf", 0, 0.02},
        {"qwen2-bpe-tiny", "F16", "qwen2-bpe-tiny-F16.gguf", 0, 0.02},
    };
    int any = 0;
    for (size_t k = 0; k < sizeof L / sizeof L[0]; k++) {
        char path[2048], gpath[2048];
        snprintf(path, sizeof path, "%s/%s", L[k].shared ? shared_models : models_dir, L[k].model);
        snprintf(gpath, sizeof gpath, "%s/%s/logits.%s.json", golden_dir, L[k].dir, L[k].tag);
        if (access(path, R_OK) || access(gpath, R_OK))
            continue;
        struct lore_err e;
        struct eng_model *m;
        assert_int_equal(eng_model_open(path, &m, &e), 0);
        struct eng_ctx *c;
        assert_int_equal(eng_ctx_new(m, 0, 2, &c, &e), 0);
        int V = eng_model_hparams(m)->n_vocab;
        json_t *g = json_load_file(gpath, 0, NULL);
        assert_non_null(g);
        size_t ii;
        json_t *it;
        double worst = 0;
        float *lg = malloc((size_t)V * sizeof *lg);
        json_array_foreach(json_object_get(g, "items"), ii, it) {
            json_t *pids = json_object_get(it, "prompt_ids"), *want = json_object_get(it, "logits");
            int np = (int)json_array_size(pids);
            int32_t *ids = malloc((size_t)np * sizeof *ids);
            for (int i = 0; i < np; i++)
                ids[i] = (int32_t)json_integer_value(json_array_get(pids, (size_t)i));
            eng_ctx_rewind(c, 0);
            assert_int_equal(eng_decode(c, ids, np, lg, 0, &e), 0);
            assert_int_equal((int)json_array_size(want), V);
            double md = 0;
            for (int i = 0; i < V; i++)
                md += lg[i] - json_real_value(json_array_get(want, (size_t)i));
            md /= V;
            for (int i = 0; i < V; i++) {
                double d = fabs(lg[i] - md - json_real_value(json_array_get(want, (size_t)i)));
                if (d > worst)
                    worst = d;
            }
            free(ids);
        }
        print_message("%-15s %-4s full logits max|d| %.5f (tol %.3g)\n", L[k].dir, L[k].tag, worst, L[k].tol);
        assert_true(worst <= L[k].tol);
        free(lg);
        json_decref(g);
        eng_ctx_free(c);
        eng_model_free(m);
        any = 1;
    }
    if (!any)
        skip();
}

static void test_context_overflow(void **s)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/stories260K/stories260K.gguf", shared_models);
    if (access(path, R_OK))
        skip();
    struct lore_err e;
    struct eng_model *m;
    assert_int_equal(eng_model_open(path, &m, &e), 0);
    struct eng_ctx *c;
    assert_int_equal(eng_ctx_new(m, 16, 1, &c, &e), 0);
    int32_t ids[20] = {1};
    for (int i = 1; i < 20; i++)
        ids[i] = 100 + i;
    assert_int_equal(eng_decode(c, ids, 20, NULL, 0, &e), LORE_ELIMIT);
    assert_non_null(strstr(e.msg, "context"));
    assert_int_equal(eng_ctx_n_past(c), 0);
    struct eng_gen_opts go;
    eng_gen_opts_default(&go);
    struct eng_gen_result r;
    assert_int_equal(eng_generate(c, ids, 20, &go, &r, &e), LORE_ELIMIT);
    ids[3] = 99999; /* out of the vocabulary */
    assert_int_equal(eng_decode(c, ids, 4, NULL, 0, &e), LORE_EINVAL);
    eng_ctx_free(c);
    eng_model_free(m);
}

int main(void)
{
    const char *gm = getenv("LORE_TEST_MODELS"), *sh = getenv("LORE_SHARED");
    if (!gm || !*gm) {
        printf("LORE_TEST_MODELS is not set: decoder golden tests skipped\n");
        return 77;
    }
    snprintf(models_dir, sizeof models_dir, "%s", gm);
    snprintf(golden_dir, sizeof golden_dir, "%s/..", gm);
    snprintf(shared_models, sizeof shared_models, "%s/models", sh && *sh ? sh : "../shared");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_goldens),
        cmocka_unit_test(test_full_logits),
        cmocka_unit_test(test_context_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
