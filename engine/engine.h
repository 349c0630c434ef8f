/*
 * engine.h — the public face of lore's inference runtime (module prefix eng_).
 *
 * This part covers what a model file is made of and how text becomes token
 * ids: the GGUF reader (a read-only, validated view of a memory-mapped file),
 * the tokenizers that GGUF metadata describes (SentencePiece-style "llama",
 * byte-level BPE "gpt2", WordPiece "bert"), and chat-template recognition.
 * Everything else in engine/ (tensor types, kernels, model graphs) builds on
 * these handles.
 *
 * All handles are opaque. Functions return 0 or a negative enum lore_status
 * and put the detail into a caller-owned struct lore_err (may be NULL).
 * Pointers handed out by a struct eng_gguf point into the mapping or into
 * memory the handle owns: they stay valid until eng_gguf_close().
 */
#ifndef LORE_ENGINE_H
#define LORE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lore.h"

/* ==== GGUF ================================================================== */

struct eng_gguf;

/* Metadata value types, numbered as in the GGUF specification. */
enum eng_gguf_type {
    ENG_GGUF_U8 = 0,
    ENG_GGUF_I8 = 1,
    ENG_GGUF_U16 = 2,
    ENG_GGUF_I16 = 3,
    ENG_GGUF_U32 = 4,
    ENG_GGUF_I32 = 5,
    ENG_GGUF_F32 = 6,
    ENG_GGUF_BOOL = 7,
    ENG_GGUF_STR = 8,
    ENG_GGUF_ARR = 9,
    ENG_GGUF_U64 = 10,
    ENG_GGUF_I64 = 11,
    ENG_GGUF_F64 = 12,
};

/* GGML tensor type ids (the values stored in GGUF tensor infos). */
enum eng_ggml_type {
    ENG_GGML_F32 = 0,
    ENG_GGML_F16 = 1,
    ENG_GGML_Q4_0 = 2,
    ENG_GGML_Q4_1 = 3,
    ENG_GGML_Q5_0 = 6,
    ENG_GGML_Q5_1 = 7,
    ENG_GGML_Q8_0 = 8,
    ENG_GGML_Q8_1 = 9,
    ENG_GGML_Q2_K = 10,
    ENG_GGML_Q3_K = 11,
    ENG_GGML_Q4_K = 12,
    ENG_GGML_Q5_K = 13,
    ENG_GGML_Q6_K = 14,
    ENG_GGML_Q8_K = 15,
    ENG_GGML_IQ2_XXS = 16,
    ENG_GGML_IQ2_XS = 17,
    ENG_GGML_IQ3_XXS = 18,
    ENG_GGML_IQ1_S = 19,
    ENG_GGML_IQ4_NL = 20,
    ENG_GGML_IQ3_S = 21,
    ENG_GGML_IQ2_S = 22,
    ENG_GGML_IQ4_XS = 23,
    ENG_GGML_I8 = 24,
    ENG_GGML_I16 = 25,
    ENG_GGML_I32 = 26,
    ENG_GGML_I64 = 27,
    ENG_GGML_F64 = 28,
    ENG_GGML_IQ1_M = 29,
    ENG_GGML_BF16 = 30,
    ENG_GGML_TQ1_0 = 34,
    ENG_GGML_TQ2_0 = 35,
    ENG_GGML_TYPE_COUNT = 36,
};

#define ENG_GGUF_MAX_DIMS 4

/* One tensor as the file describes it. ne[0] is the innermost (contiguous)
 * dimension; dims past n_dims are 1. All pointers are owned by the gguf. */
struct eng_tensor_info {
    const char *name;       /* NUL-terminated */
    uint32_t type;          /* enum eng_ggml_type */
    uint32_t n_dims;        /* 1..4 */
    uint64_t ne[ENG_GGUF_MAX_DIMS];
    uint64_t n_elements;
    uint64_t offset;        /* absolute, from the start of the file */
    uint64_t size;          /* bytes */
    const void *data;       /* into the read-only mapping */
};

/* Maps and validates a GGUF file (v2 or v3, little-endian). On success *out
 * is a new handle the caller closes with eng_gguf_close(). Every count,
 * length, offset and size is checked; a damaged file gives LORE_EFORMAT (or
 * LORE_EVERSION / LORE_EUNSUPPORTED) with a message naming what is wrong. */
int eng_gguf_open(const char *path, struct eng_gguf **out, struct lore_err *err);
/* Same over a caller-owned memory image (not copied: it must outlive the
 * handle). name is used in messages only. For tests and fuzzing. */
int eng_gguf_open_mem(const void *data, size_t len, const char *name,
                      struct eng_gguf **out, struct lore_err *err);
/* Unmaps and frees; NULL is fine. */
void eng_gguf_close(struct eng_gguf *g);

uint32_t eng_gguf_version(const struct eng_gguf *g);
uint64_t eng_gguf_file_size(const struct eng_gguf *g);
uint64_t eng_gguf_alignment(const struct eng_gguf *g);
uint64_t eng_gguf_data_offset(const struct eng_gguf *g);
/* The path (or name) the file was opened as; owned by g. */
const char *eng_gguf_name(const struct eng_gguf *g);

/* ---- metadata --------------------------------------------------------------
 * Keys are addressed by index (0..n_kv-1) or looked up by name. Getters by
 * name return LORE_ENOENT when the key is absent (with a message, so a
 * caller can pass it on) and LORE_EFORMAT when it has an incompatible type or
 * its value does not fit. Integer getters accept any integer type whose value
 * fits; eng_gguf_get_f32 accepts F32 and F64. */
int64_t eng_gguf_n_kv(const struct eng_gguf *g);
/* Index of key, or -1. */
int64_t eng_gguf_find_key(const struct eng_gguf *g, const char *key);
/* NUL-terminated key name of entry i; owned by g. NULL when out of range. */
const char *eng_gguf_key(const struct eng_gguf *g, int64_t i);
/* Value type of entry i (-1 when out of range). */
int eng_gguf_kv_type(const struct eng_gguf *g, int64_t i);

int eng_gguf_get_u32(const struct eng_gguf *g, const char *key, uint32_t *out,
                     struct lore_err *err);
int eng_gguf_get_i32(const struct eng_gguf *g, const char *key, int32_t *out,
                     struct lore_err *err);
int eng_gguf_get_u64(const struct eng_gguf *g, const char *key, uint64_t *out,
                     struct lore_err *err);
int eng_gguf_get_f32(const struct eng_gguf *g, const char *key, float *out,
                     struct lore_err *err);
int eng_gguf_get_bool(const struct eng_gguf *g, const char *key, bool *out,
                      struct lore_err *err);
/* *s points into the mapping and is NOT NUL-terminated; *len is its length. */
int eng_gguf_get_str(const struct eng_gguf *g, const char *key, const char **s,
                     size_t *len, struct lore_err *err);
/* Copies a string value into buf (NUL-terminated, truncated to cap-1). */
int eng_gguf_get_strz(const struct eng_gguf *g, const char *key, char *buf,
                      size_t cap, struct lore_err *err);
/* An array value: *idx is its entry index for the element getters below,
 * *elem_type its element type (enum eng_gguf_type), *n its length. */
int eng_gguf_get_arr(const struct eng_gguf *g, const char *key, int64_t *idx,
                     int *elem_type, uint64_t *n, struct lore_err *err);

/* Scalar value of entry i converted to double / int64 (0 if not numeric);
 * for display. Bool gives 0/1. */
double eng_gguf_kv_f64(const struct eng_gguf *g, int64_t i);
int64_t eng_gguf_kv_i64(const struct eng_gguf *g, int64_t i);
/* String value of entry i (not NUL-terminated), NULL if not a string. */
const char *eng_gguf_kv_str(const struct eng_gguf *g, int64_t i, size_t *len);

/* Array entry i: element type and length (type -1 / 0 if not an array). */
int eng_gguf_arr_type(const struct eng_gguf *g, int64_t i);
uint64_t eng_gguf_arr_len(const struct eng_gguf *g, int64_t i);
/* Element j of array entry i. The caller must have checked i's element type
 * and j < length; out-of-range or mistyped access returns 0 / NULL. Numeric
 * getters convert from any numeric element type. Strings are not
 * NUL-terminated; *len gets the length. */
double eng_gguf_arr_f64(const struct eng_gguf *g, int64_t i, uint64_t j);
int64_t eng_gguf_arr_i64(const struct eng_gguf *g, int64_t i, uint64_t j);
const char *eng_gguf_arr_str(const struct eng_gguf *g, int64_t i, uint64_t j,
                             size_t *len);
/* Raw element bytes of a numeric array (little-endian, possibly unaligned:
 * read with memcpy). NULL for string arrays. */
const void *eng_gguf_arr_data(const struct eng_gguf *g, int64_t i);

/* ---- tensors ---------------------------------------------------------------- */

int64_t eng_gguf_n_tensors(const struct eng_gguf *g);
/* Fills *out for tensor i; LORE_EINVAL when out of range. */
int eng_gguf_tensor(const struct eng_gguf *g, int64_t i,
                    struct eng_tensor_info *out);
/* Index of the tensor called name (and *out if non-NULL), or -1. */
int64_t eng_gguf_find_tensor(const struct eng_gguf *g, const char *name,
                             struct eng_tensor_info *out);

/* "F32", "Q4_K", … ; "?" for an unknown id. Static storage. */
const char *eng_ggml_type_name(uint32_t type);
/* Elements per block and bytes per block; 0 when unknown. */
uint32_t eng_ggml_block_size(uint32_t type);
uint32_t eng_ggml_type_size(uint32_t type);

/* ==== chat templates ======================================================== */

enum eng_chat_family {
    ENG_CHAT_CHATML = 0,   /* <|im_start|>role\n…<|im_end|> (also the fallback) */
    ENG_CHAT_LLAMA3,       /* <|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|> */
    ENG_CHAT_LLAMA2,       /* <s>[INST] <<SYS>>…<</SYS>> … [/INST] */
    ENG_CHAT_GEMMA,        /* <start_of_turn>user\n…<end_of_turn> */
    ENG_CHAT_PHI3,         /* <|user|>\n…<|end|>\n<|assistant|> */
    ENG_CHAT_MISTRAL,      /* [INST] … [/INST] without <<SYS>> */
};

/* Recognises a Jinja chat template (tokenizer.chat_template) by its markers;
 * NULL or unknown text gives ENG_CHAT_CHATML. */
enum eng_chat_family eng_chat_template_family(const char *tmpl, size_t len);
/* "chatml", "llama3", "llama2", "gemma", "phi3", "mistral". */
const char *eng_chat_family_name(enum eng_chat_family f);
/* The family of a model file (reads tokenizer.chat_template). */
enum eng_chat_family eng_gguf_chat_family(const struct eng_gguf *g);

/* ==== tokenizers ============================================================ */

struct eng_tok;

enum eng_tok_kind {
    ENG_TOK_SPM = 1,  /* tokenizer.ggml.model "llama": SentencePiece-style BPE over scores */
    ENG_TOK_BPE = 2,  /* "gpt2": byte-level BPE with merges and a pre-tokenizer */
    ENG_TOK_WPM = 3,  /* "bert": WordPiece */
};

/* Token attribute bits (from tokenizer.ggml.token_type). */
enum eng_tok_attr {
    ENG_TOKA_NORMAL = 1 << 0,
    ENG_TOKA_UNKNOWN = 1 << 1,
    ENG_TOKA_CONTROL = 1 << 2,
    ENG_TOKA_USER = 1 << 3,     /* user-defined: always matched as a whole */
    ENG_TOKA_UNUSED = 1 << 4,
    ENG_TOKA_BYTE = 1 << 5,     /* <0xXX> byte-fallback token */
    ENG_TOKA_UNDEFINED = 1 << 6,
};

/* Builds the tokenizer the file's tokenizer.* metadata describes. The
 * tokenizer copies what it needs: it does not reference g afterwards. Caller
 * frees *out with eng_tok_free(). LORE_EUNSUPPORTED for a model or
 * pre-tokenizer type not implemented, LORE_EFORMAT for broken metadata. */
int eng_tok_new_from_gguf(const struct eng_gguf *g, struct eng_tok **out,
                          struct lore_err *err);
void eng_tok_free(struct eng_tok *t);

/* Text (UTF-8, len bytes; invalid sequences are treated as U+FFFD) to ids,
 * like llama.cpp's llama_tokenize: add_special adds BOS/EOS (SPM, BPE as the
 * file says) or CLS…SEP (WordPiece); parse_special turns the text of control
 * tokens ("<s>", "[CLS]", "<|endoftext|>") into those tokens (user-defined
 * tokens are always matched). Writes up to cap ids and returns the number of
 * ids the text needs (so call again with a larger buffer when it is > cap),
 * or a negative status. Thread-safe: a tokenizer may be shared. */
int64_t eng_tok_encode(const struct eng_tok *t, const char *text, size_t len,
                       bool add_special, bool parse_special, int32_t *ids,
                       size_t cap);

/* The text of one token as bytes to print: "▁" becomes a space, byte tokens
 * their byte, BPE code points their bytes; control/unknown tokens give ""
 * unless special is true (then their text). Writes up to cap bytes (no NUL)
 * and returns the length needed, or a negative status for a bad id. */
int64_t eng_tok_piece(const struct eng_tok *t, int32_t id, bool special,
                      char *buf, size_t cap);

/* Ids back to text: pieces concatenated; with skip_special, control tokens
 * are dropped and (SPM) the space the encoder prefixed to the first word is
 * removed; WordPiece/BPE vocabularies that ask for it get their spaces
 * before punctuation cleaned. Writes up to cap bytes plus a NUL when it fits;
 * returns the length needed (without NUL) or a negative status. */
int64_t eng_tok_decode(const struct eng_tok *t, const int32_t *ids, size_t n,
                       bool skip_special, char *buf, size_t cap);

int32_t eng_tok_n_vocab(const struct eng_tok *t);
enum eng_tok_kind eng_tok_kind(const struct eng_tok *t);
/* Special ids, -1 when the vocabulary has none. For WordPiece, bos is CLS
 * and sep is SEP. */
int32_t eng_tok_bos(const struct eng_tok *t);
int32_t eng_tok_eos(const struct eng_tok *t);
int32_t eng_tok_eot(const struct eng_tok *t);
int32_t eng_tok_unk(const struct eng_tok *t);
int32_t eng_tok_sep(const struct eng_tok *t);
int32_t eng_tok_pad(const struct eng_tok *t);
bool eng_tok_add_bos(const struct eng_tok *t);
bool eng_tok_add_eos(const struct eng_tok *t);
/* True for ids that end generation (eos, eot and similar control tokens). */
bool eng_tok_is_eog(const struct eng_tok *t, int32_t id);
/* Attribute bits of id (enum eng_tok_attr), 0 for a bad id. */
int eng_tok_attr(const struct eng_tok *t, int32_t id);
/* Raw vocabulary text of id (NUL-terminated, owned by t), NULL for a bad id. */
const char *eng_tok_text(const struct eng_tok *t, int32_t id);
/* Id of exact vocabulary text, or -1. */
int32_t eng_tok_find(const struct eng_tok *t, const char *text, size_t len);
/* The tokenizer.ggml.model / .pre strings as read ("llama", "qwen2"…). */
const char *eng_tok_model_name(const struct eng_tok *t);
const char *eng_tok_pre_name(const struct eng_tok *t);


/* ==== the LLaMA-family decoder (engine/llama.c, engine/sample.c) ======== */



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


/* ==== the BERT encoder (engine/bert.c) ===================================== */



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
