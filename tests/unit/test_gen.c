/* test_gen.c — citation parsing and checking, extractive answers, and the
 * not-found path, on a small knowledge base built in the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "generate/generate.h"
#include "index/index.h"

static struct gen_answer *fake_answer(void)
{
    struct gen_answer *a = calloc(1, sizeof *a);
    a->n_sources = 3;
    a->sources = calloc(3, sizeof *a->sources);
    const char *txt[3] = {"Backups are kept for 35 days on the appliance in the basement.",
                          "The on-call week starts on Wednesday at nine in the morning.",
                          "Visitors join the Northwind-Guest network without a password."};
    for (int i = 0; i < 3; i++) {
        a->sources[i].n = i + 1;
        a->sources[i].uri = strdup("x");
        a->sources[i].title = strdup("T");
        a->sources[i].heading = strdup("");
        a->sources[i].text = strdup(txt[i]);
    }
    return a;
}

static void test_parse_and_rewrite(void **s)
{
    struct gen_answer *a = fake_answer();
    struct lore_err e;
    const char *t = "Backups are kept 35 days [1]. The week starts Wednesday [2, 7]. "
                    "Guests use Northwind-Guest [3-5]. Nothing here [9].";
    assert_int_equal(gen_check_citations(a, t, strlen(t), &e), 0);
    assert_string_equal(a->text, "Backups are kept 35 days [1]. The week starts Wednesday [2]. "
                                 "Guests use Northwind-Guest [3]. Nothing here.");
    assert_int_equal(a->removed_citations, 1 + 2 + 1);
    assert_int_equal(a->n_citations, 3);
    for (size_t i = 0; i < a->n_citations; i++) {
        assert_int_equal(a->citations[i].n, (int)i + 1);
        assert_true(a->citations[i].supported);
    }
    gen_answer_free(a);
}

static void test_unsupported_and_forms(void **s)
{
    struct gen_answer *a = fake_answer();
    struct lore_err e;
    /* a claim its source does not support; [n][m] and a citation after the period */
    const char *t = "The moon is made of cheese [1]. Backups last 35 days. [1][3]\n[x] is not a citation, nor [].";
    assert_int_equal(gen_check_citations(a, t, strlen(t), &e), 0);
    assert_int_equal(a->unsupported_sentences, 1);
    assert_int_equal(a->removed_citations, 0);
    assert_non_null(strstr(a->text, "[x] is not a citation, nor []."));
    assert_int_equal(a->n_citations, 2);
    assert_int_equal(a->citations[0].n, 1);
    assert_false(a->citations[0].supported); /* the cheese sentence cites [1] */
    assert_int_equal(a->citations[1].n, 3);
    /* hostile forms never produce a number outside the sources */
    const char *h[] = {"[0]", "[-1]", "[99999999999999]", "[1-1000]", "[3-1]", "[1,,2]", "[ 2 ]", "[2 - 3]",
                       "[[1]]", "[1", "1]", "[1–3]"};
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        assert_int_equal(gen_check_citations(a, h[i], strlen(h[i]), &e), 0);
        for (size_t k = 0; k < a->n_citations; k++)
            assert_true(a->citations[k].n >= 1 && a->citations[k].n <= 3);
    }
    gen_answer_free(a);
}

static char dir[64];

static void put(struct idx_kb *kb, const char *uri, const char *title, const char *text)
{
    struct lore_err e;
    int64_t coll, id;
    assert_int_equal(idx_collection_ensure(kb, "default", &coll, &e), 0);
    assert_int_equal(idx_begin(kb, &e), 0);
    struct idx_doc_in in = {coll, uri, title, "text/plain", "h", 1, 0, 0, "ok", NULL, NULL};
    assert_int_equal(idx_doc_put(kb, &in, &id, &e), 0);
    struct idx_chunk_in c = {text, "", 0, 0, 0, (int64_t)strlen(text), 20, NULL, 0};
    assert_int_equal(idx_chunk_add(kb, id, 0, &c, NULL, &e), 0);
    assert_int_equal(idx_commit(kb, &e), 0);
}

static void test_extractive(void **s)
{
    snprintf(dir, sizeof dir, "/tmp/lore-test-gen-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct idx_kb *kb;
    struct lore_err e;
    assert_int_equal(idx_open(dir, IDX_CREATE | IDX_WRITE, &kb, &e), 0);
    put(kb, "/retention.md", "Data retention",
        "This policy covers servers. Nightly backups are kept for 35 days on the appliance. "
        "Paper records go to the archive after ten years. Logs are rotated weekly.");
    put(kb, "/wifi.md", "Visitor Wi-Fi",
        "Visitors join the Northwind-Guest network. The network was installed in 2019 by Acme Networks.");
    put(kb, "/misc.md", "Misc", "The cafeteria opens at seven. Parking is free for visitors on Sundays.");
    struct gen_answer *a;
    assert_int_equal(gen_ask(kb, "How long are nightly backups kept?", NULL, &a, &e), 0);
    assert_false(a->not_found);
    assert_string_equal(a->mode, "extractive");
    assert_non_null(strstr(a->text, "35 days"));
    assert_non_null(strstr(a->text, "[1]"));
    assert_null(strstr(a->text, "cafeteria"));
    assert_true(a->n_citations >= 1);
    assert_string_equal(a->citations[0].src->uri, "/retention.md");
    assert_true(a->citations[0].supported);
    /* the citation points at the very sentence, by its char span */
    assert_string_equal(a->citations[0].quote, "Nightly backups are kept for 35 days on the appliance.");
    assert_int_equal(a->citations[0].char_start, 28);
    assert_int_equal(a->citations[0].char_end, 28 + 54);
    gen_answer_free(a);
    /* answer types: "when"/"what year" prefers the sentence with a year */
    assert_int_equal(gen_ask(kb, "When was the visitor network installed?", NULL, &a, &e), 0);
    assert_non_null(strstr(a->text, "2019"));
    gen_answer_free(a);
    /* nothing relevant: not found, no citation */
    assert_int_equal(gen_ask(kb, "xylophone quantum zebra", NULL, &a, &e), 0);
    assert_true(a->not_found);
    assert_int_equal(a->n_citations, 0);
    assert_string_equal(a->text, GEN_NOT_FOUND);
    gen_answer_free(a);
    assert_int_equal(gen_ask(kb, "", NULL, &a, &e), LORE_EINVAL);
    /* follow-up: the pronoun borrows the previous question's words */
    struct gen_ask_opts o;
    gen_ask_opts_default(&o);
    const char *hist[] = {"How long are nightly backups kept?"};
    o.history = hist;
    o.n_history = 1;
    assert_int_equal(gen_ask(kb, "And where are they kept?", &o, &a, &e), 0);
    assert_non_null(strstr(a->query, "nightly backups"));
    assert_non_null(strstr(a->text, "appliance"));
    gen_answer_free(a);
    idx_close(kb);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static struct idx_kb *small_kb(char *d, size_t cap)
{
    snprintf(d, cap, "/tmp/lore-test-gen2-XXXXXX");
    assert_non_null(mkdtemp(d));
    struct idx_kb *kb;
    struct lore_err e;
    assert_int_equal(idx_open(d, IDX_CREATE | IDX_WRITE, &kb, &e), 0);
    put(kb, "/retention.md", "Data retention",
        "Nightly backups are kept for 35 days on the appliance. Paper records are archived.");
    put(kb, "/wifi.md", "Visitor Wi-Fi", "Visitors join the Northwind-Guest network.");
    return kb;
}

static void drop_kb(struct idx_kb *kb, const char *d)
{
    idx_close(kb);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

struct sink {
    struct lore_buf b;
    int calls;
};

static int on_text(void *ud, const char *t, size_t n)
{
    struct sink *k = ud;
    k->calls++;
    return lore_buf_append(&k->b, t, n);
}

/* A scripted generator: invented citation numbers are removed and counted,
 * the streamed text is what the generator said, and a "not in the
 * documents" reply is recognised. */
static void test_generated_scripted(void **s)
{
    char d[64];
    struct idx_kb *kb = small_kb(d, sizeof d);
    const char *replies[] = {"Nightly backups are kept for 35 days [1][4]. Visitors use Northwind-Guest [2-3].",
                             "The documents do not contain the answer."};
    struct gen_backend *g;
    assert_int_equal(gen_backend_script(replies, 2, 7, 4096, &g), 0);
    struct gen_ask_opts o;
    gen_ask_opts_default(&o);
    o.backend = g;
    struct sink k = {0};
    lore_buf_init(&k.b);
    o.on_text = on_text;
    o.ud = &k;
    struct gen_answer *a;
    struct lore_err e;
    assert_int_equal(gen_ask(kb, "How long are backups kept, and what is the visitor network?", &o, &a, &e), 0);
    assert_string_equal(a->mode, "generated");
    assert_int_equal((int)a->n_sources, 2);
    assert_true(k.calls > 3); /* streamed in pieces */
    assert_string_equal(k.b.data, replies[0]);
    assert_int_equal(a->removed_citations, 2); /* [4] and the 3 of [2-3] */
    for (size_t i = 0; i < a->n_citations; i++)
        assert_true(a->citations[i].n >= 1 && (size_t)a->citations[i].n <= a->n_sources);
    assert_null(strstr(a->text, "[4]"));
    assert_false(a->not_found);
    gen_answer_free(a);
    assert_int_equal(gen_ask(kb, "What colour is the sky?", &o, &a, &e), 0);
    assert_true(a->not_found);
    assert_int_equal(a->n_citations, 0);
    gen_answer_free(a);
    gen_backend_free(g);
    lore_buf_release(&k.b);
    drop_kb(kb, d);
}

/* The built-in engine on a golden decoder: sources are packed into a small
 * context, generation stays within the answer budget, citations stay valid. */
static void test_generated_engine(void **s)
{
    const char *gm = getenv("LORE_TEST_MODELS");
    char path[1024];
    snprintf(path, sizeof path, "%s/qwen2-bpe-tiny-Q4_K_M.gguf", gm ? gm : "");
    if (!gm || access(path, R_OK))
        skip();
    char d[64];
    struct idx_kb *kb = small_kb(d, sizeof d);
    struct gen_backend *g;
    struct lore_err e;
    assert_int_equal(gen_backend_engine(path, 256, 1, &g, &e), 0);
    assert_int_equal(g->n_ctx, 256);
    struct gen_ask_opts o;
    gen_ask_opts_default(&o);
    o.backend = g;
    o.answer_tokens = 24;
    struct gen_answer *a;
    assert_int_equal(gen_ask(kb, "How long are backups kept?", &o, &a, &e), 0);
    assert_true(a->n_sources >= 1);
    assert_true(g->count_tokens(g->self, a->text, a->len) <= 24 + 8);
    for (size_t i = 0; i < a->n_citations; i++)
        assert_true(a->citations[i].n >= 1 && (size_t)a->citations[i].n <= a->n_sources);
    gen_answer_free(a);
    /* an answer budget that leaves no room for sources is a clear error */
    o.answer_tokens = 250;
    assert_int_equal(gen_ask(kb, "How long are backups kept?", &o, &a, &e), LORE_ELIMIT);
    assert_non_null(strstr(e.msg, "context"));
    gen_backend_free(g);
    drop_kb(kb, d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_rewrite),
        cmocka_unit_test(test_unsupported_and_forms),
        cmocka_unit_test(test_extractive),
        cmocka_unit_test(test_generated_scripted),
        cmocka_unit_test(test_generated_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
