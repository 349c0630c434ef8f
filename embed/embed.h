/*
 * embed.h — lore's embedder (module prefix emb_): text in, one L2-normalised
 * vector per text out, from a BERT-family GGUF (MiniLM, bge, e5, gte) run by
 * engine/'s encoder.
 *
 * What it adds to the engine: tokenisation with the model's WordPiece
 * vocabulary (CLS … SEP added, texts longer than the model's context cut to
 * fit), optional query / document prefixes ("query: " / "passage: " for e5,
 * an instruction for bge queries), batching by length (texts sorted by token
 * count and packed into batches of up to max_batch_tokens, each text
 * attending only to itself), pooling (the model's mean/CLS, or an
 * override), and a stable model identity that the knowledge base records so
 * it never mixes vectors of two models.
 *
 * A handle serves one emb_embed at a time; concurrent callers are
 * serialised by a lock inside (the encoder's thread pool is already using
 * the cores). Functions return 0 or a negative enum lore_status with the
 * detail in a caller-owned struct lore_err (may be NULL).
 */
#ifndef LORE_EMBED_H
#define LORE_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lore.h"

struct emb;

enum emb_pooling {
    EMB_POOL_MODEL = 0,  /* what the GGUF says (bert.pooling_type; mean if absent) */
    EMB_POOL_MEAN = 1,   /* mean over all tokens, CLS and SEP included (llama.cpp) */
    EMB_POOL_CLS = 2,    /* the CLS token's hidden state */
    EMB_POOL_LAST = 3,   /* the last (SEP) token's hidden state */
};

struct emb_opts {
    int threads;               /* encoder threads; <= 0: physical cores */
    int max_batch_tokens;      /* tokens per forward pass; <= 0: EMB_DEFAULT_BATCH_TOKENS.
                                * Never less than the model's context. */
    const char *query_prefix;  /* prepended to texts embedded with is_query; NULL = none */
    const char *doc_prefix;    /* prepended to the other texts; NULL = none */
    int pooling;               /* enum emb_pooling */
    bool no_truncate;          /* a text longer than the context is an error
                                * (LORE_ELIMIT) instead of being cut */
};

#define EMB_DEFAULT_BATCH_TOKENS 1024

/* Zero threads, default batch, no prefixes, the model's pooling, truncation on. */
void emb_opts_default(struct emb_opts *o);

/* Loads the encoder from a GGUF (general.architecture "bert"; others give
 * LORE_EUNSUPPORTED) and starts its thread pool. opts may be NULL
 * (defaults); its strings are copied. Caller frees *out with emb_close. */
int emb_open(const char *path, const struct emb_opts *opts, struct emb **out,
             struct lore_err *err);
void emb_close(struct emb *e);

/* Vector length (the model's n_embd). */
int emb_dim(const struct emb *e);
/* Most tokens of one text, CLS and SEP included (the model's context). */
int emb_max_tokens(const struct emb *e);

/* A stable identity for the vectors this handle produces, owned by e:
 *     "<arch>:<general.name>:d<dim>:<pooling>:<hash>"
 * e.g. "bert:bge-small-en-v1.5:d384:mean:3f9a0c1d22b4e815". hash is the first
 * 16 hex digits of the SHA-256 of: the GGUF's header (metadata and tensor
 * table, so every shape, type and offset), then for each tensor the first
 * and last 4 KiB of its data and 4 KiB at its middle (so a fine-tune with
 * the same header differs), then the query and document prefixes. Cheap
 * (reads ~12 KiB per tensor, not the whole file); the same file with the
 * same options always gives the same string. name characters other than
 * [A-Za-z0-9._-] become '_'. */
const char *emb_model_id(const struct emb *e);

/* Embeds n texts (NUL-terminated UTF-8) into out[n][emb_dim] floats, text i
 * at row i, each row L2-normalised. is_query picks the query prefix instead
 * of the document prefix. An empty text still gets CLS and SEP. Texts longer
 * than emb_max_tokens are cut (keeping CLS, the first tokens and SEP) and
 * counted in emb_n_truncated; with no_truncate they fail with LORE_ELIMIT and
 * nothing is written. */
int emb_embed(struct emb *e, const char *const *texts, size_t n, float *out, bool is_query,
              struct lore_err *err);

/* Tokens text takes as a document (prefix, CLS and SEP included), before
 * truncation; a negative status on error. For chunkers budgeting tokens. */
int64_t emb_count_tokens(const struct emb *e, const char *text, size_t len, bool is_query);

/* Counters since emb_open. */
struct emb_stats {
    uint64_t texts;            /* texts embedded */
    uint64_t tokens;           /* tokens run through the encoder */
    uint64_t truncated;        /* texts cut to the context */
    uint64_t batches;          /* forward passes */
    double encode_ms;          /* time in forward passes */
};
void emb_get_stats(const struct emb *e, struct emb_stats *out);
/* Texts cut to the context in the last emb_embed call. */
size_t emb_n_truncated(const struct emb *e);

#endif
