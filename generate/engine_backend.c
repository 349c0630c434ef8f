/*
 * engine_backend.c — the built-in generator: a GGUF decoder run by lore's
 * own engine, prompted through the model's chat template.
 */
#include "generate/generate.h"
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

struct eb {
    struct eng_model *m;
    struct eng_ctx *c;
};

struct relay {
    gen_on_text fn;
    void *ud;
    struct lore_buf *out;
};

static int relay_text(void *ud, const char *t, size_t n)
{
    struct relay *r = ud;
    if (lore_buf_append(r->out, t, n))
        return 1;
    return r->fn ? r->fn(r->ud, t, n) : 0;
}

static int eb_chat(void *self, const struct gen_msg *msgs, size_t n, const struct gen_params *p,
                   gen_on_text on_text, void *ud, struct lore_buf *out, struct lore_err *e)
{
    struct eb *b = self;
    struct eng_chat_msg cm[16];
    if (n > 16)
        return lore_err_set(e, LORE_EINVAL, "too many chat messages");
    for (size_t i = 0; i < n; i++)
        cm[i] = (struct eng_chat_msg){msgs[i].role, msgs[i].content};
    struct lore_buf prompt;
    lore_buf_init(&prompt);
    int rc = eng_chat_render(eng_model_chat_family(b->m), cm, n, 1, &prompt);
    if (rc) {
        lore_buf_release(&prompt);
        return lore_err_set(e, rc, "out of memory");
    }
    const struct eng_tok *tok = eng_model_tok(b->m);
    int64_t need = eng_tok_encode(tok, prompt.data, prompt.len, true, true, NULL, 0);
    int32_t *ids = need > 0 ? malloc((size_t)need * sizeof *ids) : NULL;
    if (!ids) {
        lore_buf_release(&prompt);
        return lore_err_set(e, need < 0 ? (int)need : LORE_ENOMEM, "cannot tokenize the prompt");
    }
    eng_tok_encode(tok, prompt.data, prompt.len, true, true, ids, (size_t)need);
    lore_buf_release(&prompt);
    struct eng_gen_opts go;
    eng_gen_opts_default(&go);
    go.n_predict = p->max_tokens > 0 ? p->max_tokens : 512;
    go.sampling.temp = p->temperature;
    if (p->seed)
        go.sampling.seed = p->seed;
    go.stop = p->stop;
    go.n_stop = p->n_stop;
    struct relay r = {on_text, ud, out};
    go.on_text = relay_text;
    go.ud = &r;
    struct eng_gen_result res;
    rc = eng_generate(b->c, ids, (int)need, &go, &res, e);
    free(ids);
    if (!rc)
        eng_gen_result_release(&res);
    return rc;
}

static int eb_count(void *self, const char *text, size_t len)
{
    struct eb *b = self;
    int64_t n = eng_tok_encode(eng_model_tok(b->m), text, len, false, true, NULL, 0);
    return n < 0 ? (int)(len / 3 + 1) : (int)n;
}

static void eb_free(void *self)
{
    struct eb *b = self;
    eng_ctx_free(b->c);
    eng_model_free(b->m);
    free(b);
}

int gen_backend_engine(const char *gguf_path, int n_ctx, int threads, struct gen_backend **out,
                       struct lore_err *e)
{
    *out = NULL;
    struct eb *b = calloc(1, sizeof *b);
    struct gen_backend *g = calloc(1, sizeof *g);
    if (!b || !g) {
        free(b);
        free(g);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    int rc = eng_model_open(gguf_path, &b->m, e);
    if (!rc)
        rc = eng_ctx_new(b->m, n_ctx, threads, &b->c, e);
    if (rc) {
        eb_free(b);
        free(g);
        return rc;
    }
    g->name = "engine";
    g->n_ctx = eng_ctx_n_ctx(b->c);
    g->self = b;
    g->chat = eb_chat;
    g->count_tokens = eb_count;
    g->free = eb_free;
    *out = g;
    return 0;
}
