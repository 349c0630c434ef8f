/*
 * generate.h — the query path: a question in, an answer out whose every
 * claim points at a numbered source (document, page, char span, passage).
 *
 *   retrieve (BM25, or hybrid with an embedder) → merge neighbouring chunks
 *   → number and pack sources into the generator's context → prompt → stream
 *   the answer → parse and verify [n] citations.
 * Without a generator the answer is extractive: the sentences of the top
 * passages that best answer the question, each cited.
 */
#ifndef LORE_GENERATE_H
#define LORE_GENERATE_H

#include "core/lore.h"

struct idx_kb;
struct emb;

/* ---- generator backends ----------------------------------------------------- */

struct gen_msg {
    const char *role;      /* "system", "user", "assistant" */
    const char *content;
};

struct gen_params {
    int max_tokens;        /* answer budget */
    float temperature;     /* 0 = greedy */
    uint64_t seed;
    const char *const *stop;
    size_t n_stop;
};

/* Called with each piece of streamed text; return non-zero to stop. */
typedef int (*gen_on_text)(void *ud, const char *text, size_t len);

/* A generator: the built-in engine with a GGUF model, an OpenAI-compatible
 * HTTP server, or a scripted one in tests. chat() streams the reply through
 * on_text (may be NULL) and also appends all of it to out. */
struct gen_backend {
    const char *name;      /* "engine", "openai", "script" */
    int n_ctx;             /* context size in tokens */
    void *self;
    int (*chat)(void *self, const struct gen_msg *msgs, size_t n, const struct gen_params *p,
                gen_on_text on_text, void *ud, struct lore_buf *out, struct lore_err *e);
    /* Tokens in text with the generator's own tokenizer (an estimate for
     * remote servers). */
    int (*count_tokens)(void *self, const char *text, size_t len);
    void (*free)(void *self);
};

/* The built-in engine over a GGUF decoder. Caller frees with gen_backend_free. */
int gen_backend_engine(const char *gguf_path, int n_ctx, int threads, struct gen_backend **out,
                       struct lore_err *e);

struct gen_openai_opts {
    const char *url;        /* base URL, e.g. http://127.0.0.1:8080 (…/v1 accepted too) */
    const char *model;      /* "model" field sent; may be NULL */
    const char *api_key;    /* Authorization: Bearer …; may be NULL (also $LORE_GEN_API_KEY) */
    int n_ctx;              /* assumed context size, default 4096 */
    int connect_timeout_s;  /* default 5 */
    int timeout_s;          /* whole request, default 300 */
    int idle_timeout_s;     /* no byte received for this long: give up, default 60 */
};

/* An OpenAI-compatible server (/v1/chat/completions, streaming SSE):
 * llama.cpp's server, Ollama, vLLM. Caller frees with gen_backend_free. */
int gen_backend_openai(const struct gen_openai_opts *o, struct gen_backend **out,
                       struct lore_err *e);

/* A scripted generator for tests: replies with the given texts in turn
 * (the last one repeats), streamed in pieces of `chunk` bytes. */
int gen_backend_script(const char *const *replies, size_t n, size_t chunk, int n_ctx,
                       struct gen_backend **out);

void gen_backend_free(struct gen_backend *b);

/* ---- asking ------------------------------------------------------------------ */

struct gen_ask_opts {
    int k;                        /* passages retrieved, default 8 */
    const char *collection;       /* NULL = all */
    struct gen_backend *backend;  /* NULL: extractive answer */
    int answer_tokens;            /* generator's answer budget, default 512 */
    int max_sentences;            /* extractive: at most this many, default 3 */
    const char *const *history;   /* previous questions of the conversation, oldest first */
    size_t n_history;
    gen_on_text on_text;          /* streamed answer text; may be NULL */
    void *ud;
    struct emb *emb;              /* the knowledge base's embedder: hybrid retrieval; NULL = BM25 */
};

/* A numbered source as the generator saw it: one chunk, or neighbouring
 * chunks of one document merged. */
/* One chunk of a source. */
struct gen_part {
    int64_t chunk_id;
    char *text;
    int page, page_end;
    int64_t char_start, char_end;
    int exact;                    /* text is the verbatim source slice [char_start, char_end) */
};

struct gen_source {
    int n;                        /* 1-based number */
    int64_t chunk_id, doc_id;     /* the first chunk */
    char *uri, *title, *heading, *text;
    int page, page_end;
    int64_t char_start, char_end;
    double score;
    struct gen_part *parts;       /* its chunks, in document order */
    size_t n_parts;
};

struct gen_citation {
    int n;                        /* the source number */
    const struct gen_source *src; /* points into the answer's sources */
    int supported;                /* every sentence citing it is supported */
    double support;               /* lowest support score of those sentences, 0..1 */
    /* where exactly: the source sentence that best supports the claim */
    char *quote;                  /* that sentence */
    int64_t chunk_id;             /* the chunk it is in */
    int page, page_end;
    int64_t char_start, char_end; /* the sentence's span when the chunk is a verbatim
                                   * slice of one page; else the chunk's span */
};

struct gen_answer {
    char *text;                   /* the answer, citations normalised as [n] */
    size_t len;
    struct gen_source *sources;
    size_t n_sources;
    struct gen_citation *citations; /* one per cited source, by number */
    size_t n_citations;
    int not_found;                /* the documents do not answer the question */
    int removed_citations;        /* [n] with no such source, dropped from the text */
    int unsupported_sentences;
    const char *mode;             /* "extractive" or "generated" */
    char *query;                  /* what was searched (after rewriting) */
    double retrieval_ms, generation_ms;
};

void gen_ask_opts_default(struct gen_ask_opts *o);
/* Answers question from kb. Caller frees *out with gen_answer_free. */
int gen_ask(struct idx_kb *kb, const char *question, const struct gen_ask_opts *o,
            struct gen_answer **out, struct lore_err *e);
void gen_answer_free(struct gen_answer *a);

/* Citation checking on its own (tests, other callers): parses [n], [n, m]
 * and [n-m] in text, drops numbers outside 1..n_sources, rewrites the text,
 * and scores each cited sentence against its sources. Fills a's text,
 * citations, removed_citations and unsupported_sentences; a->sources must
 * be set. */
int gen_check_citations(struct gen_answer *a, const char *text, size_t len, struct lore_err *e);

/* The phrase an answer uses when the documents do not contain it. */
#define GEN_NOT_FOUND "The documents do not contain the answer."

#endif
