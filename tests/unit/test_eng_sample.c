/* test_eng_sample.c — sampling, chat templates, stop strings and streaming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

static void test_greedy_and_topk1(void **s)
{
    float l[6] = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f, 0.5f};
    struct eng_sampler_opts o;
    eng_sampler_opts_default(&o);
    struct eng_sampler *sm;
    assert_int_equal(eng_sampler_new(&o, 6, &sm), 0);
    float c[6];
    memcpy(c, l, sizeof c);
    assert_int_equal(eng_sample(sm, c, NULL, 0), 1);
    eng_sampler_free(sm);
    o.temp = 5.0f;
    o.top_k = 1;
    assert_int_equal(eng_sampler_new(&o, 6, &sm), 0);
    for (int i = 0; i < 50; i++) {
        memcpy(c, l, sizeof c);
        assert_int_equal(eng_sample(sm, c, NULL, 0), 1);
    }
    eng_sampler_free(sm);
}

static void test_seeded_distribution(void **s)
{
    float l[4] = {1.0f, 1.0f, 1.0f, -30.0f};
    struct eng_sampler_opts o;
    eng_sampler_opts_default(&o);
    o.temp = 1.0f;
    o.top_k = 0;
    o.top_p = 1.0f;
    o.min_p = 0.0f;
    o.seed = 42;
    int counts[4] = {0}, seq1[20], seq2[20];
    struct eng_sampler *sm;
    assert_int_equal(eng_sampler_new(&o, 4, &sm), 0);
    for (int i = 0; i < 3000; i++) {
        float c[4];
        memcpy(c, l, sizeof c);
        int id = eng_sample(sm, c, NULL, 0);
        counts[id]++;
        if (i < 20)
            seq1[i] = id;
    }
    eng_sampler_free(sm);
    for (int i = 0; i < 3; i++)
        assert_true(counts[i] > 850 && counts[i] < 1150); /* ~1000 each */
    assert_int_equal(counts[3], 0);
    assert_int_equal(eng_sampler_new(&o, 4, &sm), 0); /* same seed, same draws */
    for (int i = 0; i < 20; i++) {
        float c[4];
        memcpy(c, l, sizeof c);
        seq2[i] = eng_sample(sm, c, NULL, 0);
    }
    eng_sampler_free(sm);
    assert_memory_equal(seq1, seq2, sizeof seq1);
    /* min-p drops tokens below p_max * min_p; top-p keeps the smallest nucleus */
    float m[3] = {3.0f, 0.0f, -0.5f};
    o.min_p = 0.2f;
    assert_int_equal(eng_sampler_new(&o, 3, &sm), 0);
    for (int i = 0; i < 200; i++) {
        float c[3];
        memcpy(c, m, sizeof c);
        assert_int_equal(eng_sample(sm, c, NULL, 0), 0);
    }
    eng_sampler_free(sm);
}

static void test_repeat_penalty(void **s)
{
    float l[3] = {2.0f, 1.9f, 0.0f};
    struct eng_sampler_opts o;
    eng_sampler_opts_default(&o);
    o.repeat_penalty = 1.5f;
    struct eng_sampler *sm;
    assert_int_equal(eng_sampler_new(&o, 3, &sm), 0);
    int32_t hist[2] = {0, 0};
    assert_int_equal(eng_sample(sm, l, hist, 2), 1); /* 2.0/1.5 < 1.9 */
    assert_true(fabsf(l[0] - 2.0f / 1.5f) < 1e-6f);  /* penalised once, not twice */
    eng_sampler_free(sm);
}

static void test_chat_templates(void **s)
{
    struct eng_chat_msg m[2] = {{"system", "Be brief."}, {"user", "Hi?"}};
    struct lore_buf b;
    lore_buf_init(&b);
    assert_int_equal(eng_chat_render(ENG_CHAT_CHATML, m, 2, 1, &b), 0);
    assert_string_equal(b.data, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n"
                                "<|im_start|>assistant\n");
    b.len = 0;
    assert_int_equal(eng_chat_render(ENG_CHAT_LLAMA3, m, 2, 1, &b), 0);
    assert_string_equal(b.data, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                                "<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|>"
                                "<|start_header_id|>assistant<|end_header_id|>\n\n");
    b.len = 0;
    assert_int_equal(eng_chat_render(ENG_CHAT_LLAMA2, m, 2, 1, &b), 0);
    assert_string_equal(b.data, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi? [/INST]");
    b.len = 0;
    assert_int_equal(eng_chat_render(ENG_CHAT_GEMMA, m, 2, 1, &b), 0);
    assert_string_equal(b.data, "<start_of_turn>user\nBe brief.\n\nHi?<end_of_turn>\n<start_of_turn>model\n");
    b.len = 0;
    assert_int_equal(eng_chat_render(ENG_CHAT_PHI3, m, 2, 1, &b), 0);
    assert_string_equal(b.data, "<|system|>\nBe brief.<|end|>\n<|user|>\nHi?<|end|>\n<|assistant|>\n");
    lore_buf_release(&b);
}

struct sink {
    struct lore_buf b;
    int calls;
};

static int on_text(void *ud, const char *t, size_t n)
{
    struct sink *k = ud;
    k->calls++;
    lore_buf_append(&k->b, t, n);
    return 0;
}

static void test_stop_and_stream(void **s)
{
    const char *sh = getenv("LORE_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.gguf", sh ? sh : "../shared");
    if (access(path, R_OK))
        skip();
    struct lore_err e;
    struct eng_model *m;
    assert_int_equal(eng_model_open(path, &m, &e), 0);
    struct eng_ctx *c;
    assert_int_equal(eng_ctx_new(m, 256, 1, &c, &e), 0);
    int32_t ids[64];
    int64_t n = eng_tok_encode(eng_model_tok(m), "Once upon a time", 16, true, true, ids, 64);
    assert_true(n > 1);
    struct eng_gen_opts go;
    eng_gen_opts_default(&go);
    go.n_predict = 40;
    struct sink k = {0};
    lore_buf_init(&k.b);
    go.on_text = on_text;
    go.ud = &k;
    struct eng_gen_result r;
    assert_int_equal(eng_generate(c, ids, (int)n, &go, &r, &e), 0);
    assert_string_equal(r.stop_reason, "length");
    assert_int_equal(r.n_tokens, 40);
    assert_true(k.calls > 5);                          /* streamed piece by piece */
    assert_memory_equal(k.b.data, r.text, r.text_len); /* and the pieces add up */
    assert_non_null(strstr(r.text, "little girl"));
    eng_gen_result_release(&r);
    /* a stop string ends generation and is not part of the text, even streamed */
    const char *stop[] = {"little girl"};
    go.stop = stop;
    go.n_stop = 1;
    k.b.len = 0;
    assert_int_equal(eng_generate(c, ids, (int)n, &go, &r, &e), 0);
    assert_string_equal(r.stop_reason, "stop");
    assert_null(strstr(r.text, "little"));
    assert_string_equal(r.text, ", there was a ");
    assert_int_equal(k.b.len, r.text_len);
    assert_memory_equal(k.b.data, r.text, r.text_len);
    eng_gen_result_release(&r);
    lore_buf_release(&k.b);
    eng_ctx_free(c);
    eng_model_free(m);
}

static void test_bad_model_files(void **s)
{
    struct lore_err e;
    struct eng_model *m;
    assert_int_equal(eng_model_open("/nonexistent.gguf", &m, &e), LORE_ENOENT);
    char p[] = "/tmp/lore-badmodel-XXXXXX";
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "GGUFjunkjunkjunk", 16), 16);
    close(fd);
    assert_int_not_equal(eng_model_open(p, &m, &e), 0);
    assert_non_null(strstr(e.msg, p));
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_and_topk1),   cmocka_unit_test(test_seeded_distribution),
        cmocka_unit_test(test_repeat_penalty),     cmocka_unit_test(test_chat_templates),
        cmocka_unit_test(test_stop_and_stream),    cmocka_unit_test(test_bad_model_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
