/*
 * bert.h — engine-internal: the BERT-family sentence encoder (MiniLM, bge,
 * e5, gte: GGUF general.architecture "bert").
 *
 * Two handles, as for the decoder: the model (weights used in place from the
 * mmapped GGUF, the tokenizer, read-only and shareable between threads) and
 * a context (a thread pool plus scratch for one batch of at most max_tokens
 * tokens; one calling thread at a time).
 *
 * A batch is several sequences packed one after another into one activation
 * matrix, so every weight matrix is multiplied once with all the batch's
 * tokens; attention runs per sequence (no token sees another sequence's),
 * per head, spread over the pool:
 *
 *     ids  = | seq 0: CLS … SEP | seq 1: CLS … SEP | … |   lens[] gives the split
 *     x[T][n_embd]   T = sum of lens, positions 0..len-1 within each sequence
 *
 * Not yet part of engine/engine.h (the module's public header); embed/ uses it
 * until it is folded in.
 */
#ifndef LORE_ENGINE_BERT_H
#define LORE_ENGINE_BERT_H

#include "engine/engine.h"

struct eng_bert;
struct eng_bert_ctx;

/* Values of GGUF <arch>.pooling_type (llama.cpp's enum llama_pooling_type). */
enum eng_bert_pooling {
    ENG_BERT_POOL_NONE = 0,  /* per-token hidden states only */
    ENG_BERT_POOL_MEAN = 1,  /* mean over every token, CLS and SEP included */
    ENG_BERT_POOL_CLS = 2,   /* the first token's (CLS) hidden state */
    ENG_BERT_POOL_LAST = 3,  /* the last token's (SEP) hidden state */
};

struct eng_bert_hparams {
    char arch[32];        /* general.architecture: "bert" */
    char name[128];       /* general.name, "" when absent */
    int n_vocab;          /* tokenizer size = token_embd rows */
    int n_ctx_train;      /* bert.context_length = position_embd rows */
    int n_embd;           /* bert.embedding_length */
    int n_layer;          /* bert.block_count */
    int n_head;           /* bert.attention.head_count */
    int head_dim;         /* n_embd / n_head */
    int n_ff;             /* bert.feed_forward_length */
    int n_token_types;    /* token_types rows (>= 1; type 0 is always used) */
    float norm_eps;       /* bert.attention.layer_norm_epsilon */
    int pooling;          /* enum eng_bert_pooling from the file; MEAN when absent or NONE */
};

/* Opens a BERT GGUF: checks the architecture ("nomic-bert" and others give
 * LORE_EUNSUPPORTED), the hyper-parameters, every tensor's presence, shape
 * and type (LORE_EFORMAT naming the tensor), and builds the WordPiece
 * tokenizer. Caller frees *out with eng_bert_free. */
int eng_bert_open(const char *path, struct eng_bert **out, struct lore_err *e);
void eng_bert_free(struct eng_bert *m);

/* Owned by m; valid until eng_bert_free. */
const struct eng_bert_hparams *eng_bert_hparams(const struct eng_bert *m);
const struct eng_tok *eng_bert_tok(const struct eng_bert *m);
const struct eng_gguf *eng_bert_gguf(const struct eng_bert *m);
/* The type of the big matrices (of blk.0.ffn_up), e.g. ENG_GGML_Q8_0. */
int eng_bert_weight_type(const struct eng_bert *m);

/* A context for batches of up to max_tokens tokens in all (<= 0: the
 * model's context length; at least that is always allowed, so any single
 * sequence fits) and n_threads threads (<= 0: physical cores). All scratch is
 * allocated here: a forward pass allocates nothing. Caller frees with
 * eng_bert_ctx_free; m must outlive it. */
int eng_bert_ctx_new(struct eng_bert *m, int max_tokens, int n_threads,
                     struct eng_bert_ctx **out, struct lore_err *e);
void eng_bert_ctx_free(struct eng_bert_ctx *c);
int eng_bert_ctx_max_tokens(const struct eng_bert_ctx *c);

/* Encodes n_seq sequences whose ids are stored back to back in ids (lens[s]
 * ids each; 1 <= lens[s] <= n_ctx_train; the sum <= max_tokens).
 *   hidden: NULL, or [sum lens][n_embd] floats: the last layer's output per
 *           token, unnormalised, in the order of ids;
 *   pooled: NULL, or [n_seq][n_embd] floats: each sequence pooled with
 *           `pooling` (MEAN/CLS/LAST) and L2-normalised.
 * LORE_EINVAL for an id outside the vocabulary, a bad length or pooling. */
int eng_bert_encode(struct eng_bert_ctx *c, const int32_t *ids, const int *lens,
                    int n_seq, int pooling, float *hidden, float *pooled,
                    struct lore_err *e);

/* llama.cpp's GELU (tanh approximation looked up in an F16 table); exposed
 * for the unit test. */
float eng_bert_gelu(const struct eng_bert *m, float x);

#endif
