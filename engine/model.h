/*
 * model.h — the decoder API of engine/: loading a LLaMA-family GGUF
 * (llama, qwen2), a context with its KV cache, batched forward passes,
 * sampling, chat templates and streaming generation.
 * (To be folded into engine/engine.h, the module's one public header.)
 */
#ifndef LORE_ENGINE_MODEL_H
#define LORE_ENGINE_MODEL_H

#include "engine/engine.h"

struct eng_model;
struct eng_ctx;

enum eng_arch { ENG_ARCH_LLAMA = 1, ENG_ARCH_QWEN2 = 2 };

struct eng_hparams {
    int arch;            /* enum eng_arch */
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int n_rot;           /* rotary dims per head */
    int rope_neox;       /* 1: pairs (i, i + n_rot/2); 0: adjacent pairs */
    float rope_base, rope_freq_scale, norm_eps;
    int tied_output;
};

/* Opens a GGUF decoder model (mmapped; weights are used in place). Errors
 * name the problem: unknown architecture, missing tensor, bad shape, a
 * tensor type without kernels. Caller frees with eng_model_free. */
int eng_model_open(const char *path, struct eng_model **out, struct lore_err *e);
void eng_model_free(struct eng_model *m);
const struct eng_hparams *eng_model_hparams(const struct eng_model *m);
/* The model's tokenizer, owned by the model. */
const struct eng_tok *eng_model_tok(const struct eng_model *m);
enum eng_chat_family eng_model_chat_family(const struct eng_model *m);

/* A context: KV cache for n_ctx positions (0 = the model's training
 * context, capped at 4096) and a thread pool of n_threads (0 = physical
 * cores). Caller frees with eng_ctx_free. */
int eng_ctx_new(struct eng_model *m, int n_ctx, int n_threads, struct eng_ctx **out,
                struct lore_err *e);
void eng_ctx_free(struct eng_ctx *c);
int eng_ctx_n_ctx(const struct eng_ctx *c);
const struct eng_model *eng_ctx_model(const struct eng_ctx *c);
int eng_ctx_n_past(const struct eng_ctx *c);
/* Forgets positions >= n_past (0 clears the cache). */
void eng_ctx_rewind(struct eng_ctx *c, int n_past);

/* Runs n tokens at positions n_past.. and appends them to the cache.
 * logits: NULL, or n_vocab floats for the last token — or, with all_logits,
 * n × n_vocab floats, one row per token. LORE_ELIMIT when the context
 * would overflow (nothing is changed then). */
int eng_decode(struct eng_ctx *c, const int32_t *ids, int n, float *logits, int all_logits,
               struct lore_err *e);

/* ---- sampling ------------------------------------------------------------- */

struct eng_sampler_opts {
    float temp;            /* <= 0: greedy */
    int top_k;             /* 0 = off */
    float top_p;           /* 1 = off */
    float min_p;           /* 0 = off */
    float repeat_penalty;  /* 1 = off */
    int repeat_last_n;     /* tokens of history the penalty looks at */
    uint64_t seed;
};

struct eng_sampler;
void eng_sampler_opts_default(struct eng_sampler_opts *o);
int eng_sampler_new(const struct eng_sampler_opts *o, int n_vocab, struct eng_sampler **out);
void eng_sampler_free(struct eng_sampler *s);
/* Picks the next id from logits (modified in place). history: ids so far. */
int32_t eng_sample(struct eng_sampler *s, float *logits, const int32_t *history, int n_hist);

/* ---- chat templates --------------------------------------------------------- */

struct eng_chat_msg {
    const char *role;      /* "system", "user", "assistant" */
    const char *content;
};

/* Renders messages in the family's format, ending with the assistant's
 * turn opener when add_assistant. Appends to out. */
int eng_chat_render(enum eng_chat_family f, const struct eng_chat_msg *msgs, size_t n,
                    int add_assistant, struct lore_buf *out);

/* ---- generation ---------------------------------------------------------------- */

/* Called with each new piece of text; return non-zero to stop. */
typedef int (*eng_on_text)(void *ud, const char *text, size_t len);

struct eng_gen_opts {
    int n_predict;            /* max new tokens */
    struct eng_sampler_opts sampling;
    const char *const *stop;  /* stop strings (not included in the output) */
    size_t n_stop;
    int ignore_eos;
    eng_on_text on_text;
    void *ud;
};

struct eng_gen_result {
    int32_t *tokens;          /* generated ids; caller frees with free() */
    int n_tokens;
    char *text;               /* caller frees with free() */
    size_t text_len;
    double prompt_ms, gen_ms;
    int n_prompt;
    const char *stop_reason;  /* "eos", "stop", "length", "callback" */
};

void eng_gen_opts_default(struct eng_gen_opts *o);
/* Clears the cache, runs the prompt as one batched pass, then samples up to
 * n_predict tokens, streaming text through on_text. */
int eng_generate(struct eng_ctx *c, const int32_t *prompt, int n_prompt,
                 const struct eng_gen_opts *o, struct eng_gen_result *r, struct lore_err *e);
void eng_gen_result_release(struct eng_gen_result *r);

#endif
