/*
 * synth.c — synthetic models: a real architecture and tokenizer around random
 * weights (see synth.h for the recipe and the tensor-type rules).
 *
 * Three steps:
 *   1. plan   — the list of tensors (name, shape, type, mean, σ) in the order
 *               the golden fixtures use;
 *   2. header — general.*, <arch>.* and every tokenizer.* key of the vocab;
 *   3. data   — each tensor is generated in chunks of rows: the pool's
 *               workers each fill a row with N(mean, σ²) numbers from that
 *               row's own PRNG stream and quantise it into the chunk's output
 *               buffer, then the chunk is streamed to the writer. Memory use
 *               is a few chunks (≈ 16 MB), not the model.
 *
 * Tensors written (ne[0] is the input size, ne[1] the output size):
 *
 *   llama / qwen2                          bert
 *   token_embd.weight   [n_embd, n_vocab]  token_embd.weight      [n_embd, n_vocab]
 *   output_norm.weight  [n_embd]           token_types.weight     [n_embd, 2]
 *   output.weight       [n_embd, n_vocab]  position_embd.weight   [n_embd, n_ctx]
 *     (untied only)                        token_embd_norm.{weight,bias} [n_embd]
 *   blk.N.attn_norm.weight    [n_embd]     blk.N.attn_{q,k,v,output}.weight [n_embd, n_embd]
 *   blk.N.attn_q.weight       [n_embd, n_embd]   … .bias [n_embd]
 *   blk.N.attn_{k,v}.weight   [n_embd, n_kv]     blk.N.attn_output_norm.{weight,bias}
 *   blk.N.attn_{q,k,v}.bias   (qwen2)      blk.N.ffn_up.weight    [n_embd, n_ff] + bias [n_ff]
 *   blk.N.attn_output.weight  [n_embd, n_embd]   blk.N.ffn_down.weight  [n_ff, n_embd] + bias
 *   blk.N.ffn_norm.weight     [n_embd]     blk.N.layer_output_norm.{weight,bias}
 *   blk.N.ffn_{gate,up}.weight [n_embd, n_ff]
 *   blk.N.ffn_down.weight     [n_ff, n_embd]
 *
 *   n_kv = n_embd / n_head * n_head_kv
 */
#include "engine/synth.h"

#include "engine/gguf_write.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- options ----------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int type;
    int file_type;   /* llama.cpp's LLAMA_FTYPE_MOSTLY_* */
} types[] = {
    {"F32", ENG_TYPE_F32, 0},   {"F16", ENG_TYPE_F16, 1},   {"BF16", ENG_TYPE_BF16, 32},
    {"Q8_0", ENG_TYPE_Q8_0, 7}, {"Q4_0", ENG_TYPE_Q4_0, 2}, {"Q4_1", ENG_TYPE_Q4_1, 3},
    {"Q5_0", ENG_TYPE_Q5_0, 8}, {"Q5_1", ENG_TYPE_Q5_1, 9}, {"Q4_K", ENG_TYPE_Q4_K, 14},
    {"Q5_K", ENG_TYPE_Q5_K, 16}, {"Q6_K", ENG_TYPE_Q6_K, 18},
    {"Q4_K_M", ENG_SYNTH_Q4_K_M, 15},
};

int eng_synth_parse_type(const char *s)
{
    for (size_t i = 0; s && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(s, types[i].name) == 0)
            return types[i].type;
    return -1;
}

const char *eng_synth_type_name(int type)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == type)
            return types[i].name;
    return "?";
}

int eng_synth_file_type(int type)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == type)
            return types[i].file_type;
    return -1;
}

int eng_synth_parse_arch(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "llama") == 0)
        return ENG_SYNTH_LLAMA;
    if (strcmp(s, "qwen2") == 0)
        return ENG_SYNTH_QWEN2;
    if (strcmp(s, "bert") == 0)
        return ENG_SYNTH_BERT;
    return -1;
}

const char *eng_synth_arch_name(int arch)
{
    switch (arch) {
    case ENG_SYNTH_LLAMA: return "llama";
    case ENG_SYNTH_QWEN2: return "qwen2";
    case ENG_SYNTH_BERT: return "bert";
    default: return "?";
    }
}

void eng_synth_defaults(struct eng_synth_opts *o, int arch)
{
    memset(o, 0, sizeof *o);
    o->arch = arch;
    o->type = ENG_TYPE_F16;
    o->seed = 1234;
    o->tied = true;
    switch (arch) {
    case ENG_SYNTH_QWEN2:
        o->n_embd = 256, o->n_layer = 2, o->n_head = 8, o->n_head_kv = 2, o->n_ff = 768;
        o->n_ctx = 2048, o->rope_theta = 1e6f, o->norm_eps = 1e-6f;
        break;
    case ENG_SYNTH_BERT:
        o->n_embd = 128, o->n_layer = 2, o->n_head = 4, o->n_head_kv = 4, o->n_ff = 512;
        o->n_ctx = 512, o->norm_eps = 1e-12f, o->pooling = 1;
        break;
    default: /* llama */
        o->n_embd = 256, o->n_layer = 2, o->n_head = 8, o->n_head_kv = 4, o->n_ff = 768;
        o->n_ctx = 1024, o->rope_theta = 1e4f, o->norm_eps = 1e-5f;
        break;
    }
}

int eng_synth_preset(struct eng_synth_opts *o, const char *preset, struct lore_err *e)
{
    if (preset && strcmp(preset, "qwen2-0.5b") == 0) {
        /* Qwen2.5-0.5B's shapes (its vocab is 151936; ours is what --vocab gives) */
        eng_synth_defaults(o, ENG_SYNTH_QWEN2);
        o->n_embd = 896, o->n_layer = 24, o->n_head = 14, o->n_head_kv = 2, o->n_ff = 4864;
        o->n_ctx = 32768, o->rope_theta = 1e6f;
    } else if (preset && strcmp(preset, "llama-1b") == 0) {
        /* Llama-3.2-1B's shapes; context capped at 8192 (the real one says 131072) */
        eng_synth_defaults(o, ENG_SYNTH_LLAMA);
        o->n_embd = 2048, o->n_layer = 16, o->n_head = 32, o->n_head_kv = 8, o->n_ff = 8192;
        o->n_ctx = 8192, o->rope_theta = 500000.0f;
    } else if (preset && strcmp(preset, "minilm-l6") == 0) {
        /* all-MiniLM-L6-v2: mean pooling */
        eng_synth_defaults(o, ENG_SYNTH_BERT);
        o->n_embd = 384, o->n_layer = 6, o->n_head = 12, o->n_head_kv = 12, o->n_ff = 1536;
        o->pooling = 1;
    } else if (preset && strcmp(preset, "bge-small") == 0) {
        /* bge-small-en-v1.5: CLS pooling */
        eng_synth_defaults(o, ENG_SYNTH_BERT);
        o->n_embd = 384, o->n_layer = 12, o->n_head = 12, o->n_head_kv = 12, o->n_ff = 1536;
        o->pooling = 2;
    } else {
        return lore_err_set(e, LORE_EINVAL,
                            "unknown preset '%s' (qwen2-0.5b, llama-1b, minilm-l6, bge-small)",
                            preset ? preset : "");
    }
    snprintf(o->name, sizeof o->name, "%s-synth", preset);
    return 0;
}

static int check_opts(const struct eng_synth_opts *o, struct lore_err *e)
{
    if (o->arch != ENG_SYNTH_LLAMA && o->arch != ENG_SYNTH_QWEN2 && o->arch != ENG_SYNTH_BERT)
        return lore_err_set(e, LORE_EINVAL, "synth: unknown architecture %d", o->arch);
    if (eng_synth_file_type(o->type) < 0)
        return lore_err_set(e, LORE_EINVAL, "synth: unsupported tensor type %d", o->type);
    if (!o->n_embd || !o->n_layer || !o->n_head || !o->n_ff || !o->n_ctx)
        return lore_err_set(e, LORE_EINVAL,
                            "synth: n_embd, n_layer, n_head, n_ff and ctx must be positive");
    if (o->n_embd > (1u << 16) || o->n_ff > (1u << 18) || o->n_layer > 512 ||
        o->n_ctx > (1u << 24))
        return lore_err_set(e, LORE_EINVAL, "synth: sizes too large");
    if (o->n_embd % o->n_head)
        return lore_err_set(e, LORE_EINVAL, "synth: n_embd %u is not a multiple of n_head %u",
                            o->n_embd, o->n_head);
    uint32_t kv = o->arch == ENG_SYNTH_BERT ? o->n_head : o->n_head_kv;
    if (!kv || o->n_head % kv)
        return lore_err_set(e, LORE_EINVAL,
                            "synth: n_head %u is not a multiple of n_head_kv %u", o->n_head, kv);
    if (o->arch != ENG_SYNTH_BERT && (o->n_embd / o->n_head) % 2)
        return lore_err_set(e, LORE_EINVAL, "synth: head size %u is odd (RoPE needs pairs)",
                            o->n_embd / o->n_head);
    if (o->arch != ENG_SYNTH_BERT && !(o->rope_theta > 0))
        return lore_err_set(e, LORE_EINVAL, "synth: rope theta must be positive");
    if (!(o->norm_eps > 0))
        return lore_err_set(e, LORE_EINVAL, "synth: norm epsilon must be positive");
    return 0;
}

/* ---- the plan ---------------------------------------------------------------------------- */

enum role {
    R_OTHER = 0,
    R_OUTPUT,      /* output.weight, or token_embd.weight when tied */
    R_ATTN_V,
    R_FFN_DOWN,
    R_KEEP_F32,    /* 1-D, and bert's position/token-type embeddings */
};

struct tplan {
    char name[64];
    uint32_t n_dims;
    uint64_t ne[2];
    int type;
    float mean, sigma;
    uint64_t stream;   /* per-tensor PRNG stream id */
};

struct plan {
    struct tplan *t;
    int64_t n, cap;
};

/* llama.cpp's choice of layers that get more bits in the _M mixes. */
static bool use_more_bits(uint32_t i, uint32_t n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool row_fits(int type, uint64_t ne0)
{
    const struct eng_type_info *ti = eng_type_get(type);
    return ti && ti->blck > 0 && ne0 % (uint64_t)ti->blck == 0;
}

static int pick_type(const struct eng_synth_opts *o, enum role role, uint32_t layer,
                     uint32_t n_dims, uint64_t ne0)
{
    if (n_dims == 1 || role == R_KEEP_F32)
        return ENG_TYPE_F32;
    int t = o->type;
    if (t == ENG_SYNTH_Q4_K_M) {
        t = ENG_TYPE_Q4_K;
        if (role == R_OUTPUT)
            t = ENG_TYPE_Q6_K;
        else if ((role == R_ATTN_V || role == R_FFN_DOWN) && use_more_bits(layer, o->n_layer))
            t = ENG_TYPE_Q6_K;
    }
    if (!row_fits(t, ne0)) {   /* llama-quantize's fallbacks */
        switch (t) {
        case ENG_TYPE_Q4_K: t = ENG_TYPE_Q5_0; break;
        case ENG_TYPE_Q5_K: t = ENG_TYPE_Q5_1; break;
        case ENG_TYPE_Q6_K: t = ENG_TYPE_Q8_0; break;
        default: break;
        }
        if (!row_fits(t, ne0))
            t = ENG_TYPE_F16;
    }
    return t;
}

/* FNV-1a of a name: the tensor's stream id, so streams do not depend on order. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static int add(struct plan *p, const struct eng_synth_opts *o, enum role role, uint32_t layer,
               const char *name, uint64_t ne0, uint64_t ne1, float mean, float sigma)
{
    if (p->n == p->cap) {
        int64_t cap = p->cap ? 2 * p->cap : 64;
        struct tplan *t = realloc(p->t, (size_t)cap * sizeof *t);
        if (!t)
            return LORE_ENOMEM;
        p->t = t;
        p->cap = cap;
    }
    struct tplan *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = ne1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1 ? ne1 : 1;
    t->type = pick_type(o, role, layer, t->n_dims, ne0);
    t->mean = mean;
    t->sigma = sigma;
    t->stream = name_hash(name);
    return 0;
}

#define ADD(role, layer, ne0, ne1, mean, sigma, ...)                                 \
    do {                                                                             \
        snprintf(nm, sizeof nm, __VA_ARGS__);                                        \
        if (add(p, o, role, layer, nm, ne0, ne1, mean, sigma))                       \
            return LORE_ENOMEM;                                                      \
    } while (0)

static int plan_decoder(struct plan *p, const struct eng_synth_opts *o, uint64_t n_vocab)
{
    char nm[64];
    const uint64_t E = o->n_embd, F = o->n_ff, KV = E / o->n_head * o->n_head_kv;
    const float g = 1.3f, sq = 1.2f / sqrtf((float)E);
    ADD(o->tied ? R_OUTPUT : R_OTHER, 0, E, n_vocab, 0, 0.1f, "token_embd.weight");
    ADD(R_OTHER, 0, E, 0, 1, 0.1f, "output_norm.weight");
    if (!o->tied)
        ADD(R_OUTPUT, 0, E, n_vocab, 0, 0.1f, "output.weight");
    for (uint32_t l = 0; l < o->n_layer; l++) {
        ADD(R_OTHER, l, E, 0, 1, 0.1f, "blk.%u.attn_norm.weight", l);
        ADD(R_OTHER, l, E, E, 0, sq, "blk.%u.attn_q.weight", l);
        ADD(R_OTHER, l, E, KV, 0, sq, "blk.%u.attn_k.weight", l);
        ADD(R_ATTN_V, l, E, KV, 0, g / sqrtf((float)E), "blk.%u.attn_v.weight", l);
        if (o->arch == ENG_SYNTH_QWEN2) {
            ADD(R_OTHER, l, E, 0, 0, 0.02f, "blk.%u.attn_q.bias", l);
            ADD(R_OTHER, l, KV, 0, 0, 0.02f, "blk.%u.attn_k.bias", l);
            ADD(R_OTHER, l, KV, 0, 0, 0.02f, "blk.%u.attn_v.bias", l);
        }
        ADD(R_OTHER, l, E, E, 0, g / sqrtf((float)E), "blk.%u.attn_output.weight", l);
        ADD(R_OTHER, l, E, 0, 1, 0.1f, "blk.%u.ffn_norm.weight", l);
        ADD(R_OTHER, l, E, F, 0, g / sqrtf((float)E), "blk.%u.ffn_gate.weight", l);
        ADD(R_OTHER, l, E, F, 0, g / sqrtf((float)E), "blk.%u.ffn_up.weight", l);
        ADD(R_FFN_DOWN, l, F, E, 0, g / sqrtf((float)F), "blk.%u.ffn_down.weight", l);
    }
    return 0;
}

static int plan_bert(struct plan *p, const struct eng_synth_opts *o, uint64_t n_vocab,
                     uint64_t n_token_types)
{
    char nm[64];
    const uint64_t E = o->n_embd, F = o->n_ff;
    const float g = 1.0f, sq = 1.2f / sqrtf((float)E);
    /* no output.weight: llama-quantize treats token_embd as the output matrix */
    ADD(R_OUTPUT, 0, E, n_vocab, 0, 0.02f, "token_embd.weight");
    ADD(R_KEEP_F32, 0, E, n_token_types, 0, 0.02f, "token_types.weight");
    ADD(R_KEEP_F32, 0, E, o->n_ctx, 0, 0.02f, "position_embd.weight");
    ADD(R_OTHER, 0, E, 0, 1, 0.1f, "token_embd_norm.weight");
    ADD(R_OTHER, 0, E, 0, 0, 0.02f, "token_embd_norm.bias");
    for (uint32_t l = 0; l < o->n_layer; l++) {
        static const char *const qkvo[4] = {"attn_q", "attn_k", "attn_v", "attn_output"};
        for (int k = 0; k < 4; k++) {
            ADD(k == 2 ? R_ATTN_V : R_OTHER, l, E, E, 0, k < 2 ? sq : g / sqrtf((float)E),
                "blk.%u.%s.weight", l, qkvo[k]);
            ADD(R_OTHER, l, E, 0, 0, 0.02f, "blk.%u.%s.bias", l, qkvo[k]);
        }
        ADD(R_OTHER, l, E, 0, 1, 0.1f, "blk.%u.attn_output_norm.weight", l);
        ADD(R_OTHER, l, E, 0, 0, 0.02f, "blk.%u.attn_output_norm.bias", l);
        ADD(R_OTHER, l, E, F, 0, g / sqrtf((float)E), "blk.%u.ffn_up.weight", l);
        ADD(R_OTHER, l, F, 0, 0, 0.02f, "blk.%u.ffn_up.bias", l);
        ADD(R_FFN_DOWN, l, F, E, 0, g / sqrtf((float)F), "blk.%u.ffn_down.weight", l);
        ADD(R_OTHER, l, E, 0, 0, 0.02f, "blk.%u.ffn_down.bias", l);
        ADD(R_OTHER, l, E, 0, 1, 0.1f, "blk.%u.layer_output_norm.weight", l);
        ADD(R_OTHER, l, E, 0, 0, 0.02f, "blk.%u.layer_output_norm.bias", l);
    }
    return 0;
}

#undef ADD

/* ---- metadata ------------------------------------------------------------------------------ */

static int key_u32(struct eng_gguf_w *w, const char *arch, const char *k, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k);
    return eng_gguf_w_set_u32(w, key, v);
}

static int key_f32(struct eng_gguf_w *w, const char *arch, const char *k, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k);
    return eng_gguf_w_set_f32(w, key, v);
}

/* Everything but the tensors. */
static void write_keys(struct eng_gguf_w *w, const struct eng_synth_opts *o,
                       const struct eng_gguf *vocab, uint64_t n_vocab)
{
    const char *arch = eng_synth_arch_name(o->arch);
    char name[160], desc[256];
    if (o->name[0])
        snprintf(name, sizeof name, "%s", o->name);
    else
        snprintf(name, sizeof name, "%s-synth", arch);
    snprintf(desc, sizeof desc,
             "RANDOM WEIGHTS synthetic model (lore model synth, seed %" PRIu64
             "); not a trained model",
             o->seed);
    eng_gguf_w_set_str(w, "general.architecture", arch, strlen(arch));
    eng_gguf_w_set_str(w, "general.type", "model", 5);
    eng_gguf_w_set_str(w, "general.name", name, strlen(name));
    eng_gguf_w_set_str(w, "general.description", desc, strlen(desc));
    eng_gguf_w_set_u32(w, "general.file_type", (uint32_t)eng_synth_file_type(o->type));
    key_u32(w, arch, "context_length", o->n_ctx);
    key_u32(w, arch, "embedding_length", o->n_embd);
    key_u32(w, arch, "block_count", o->n_layer);
    key_u32(w, arch, "feed_forward_length", o->n_ff);
    key_u32(w, arch, "attention.head_count", o->n_head);
    if (o->arch == ENG_SYNTH_BERT) {
        key_f32(w, arch, "attention.layer_norm_epsilon", o->norm_eps);
        char key[128];
        snprintf(key, sizeof key, "%s.attention.causal", arch);
        eng_gguf_w_set_bool(w, key, false);
        key_u32(w, arch, "pooling_type", o->pooling);
    } else {
        key_u32(w, arch, "attention.head_count_kv", o->n_head_kv);
        key_f32(w, arch, "attention.layer_norm_rms_epsilon", o->norm_eps);
        key_f32(w, arch, "rope.freq_base", o->rope_theta);
        if (o->arch == ENG_SYNTH_LLAMA) {
            key_u32(w, arch, "rope.dimension_count", o->n_embd / o->n_head);
            key_u32(w, arch, "vocab_size", (uint32_t)n_vocab);
        }
    }
    for (int64_t i = 0; i < eng_gguf_n_kv(vocab); i++) {
        const char *k = eng_gguf_key(vocab, i);
        if (k && strncmp(k, "tokenizer.", 10) == 0)
            eng_gguf_w_copy_kv(w, vocab, i);
    }
    char model[32] = "", pre[64] = "";
    eng_gguf_get_strz(vocab, "tokenizer.ggml.model", model, sizeof model, NULL);
    eng_gguf_get_strz(vocab, "tokenizer.ggml.pre", pre, sizeof pre, NULL);
    if (o->tok_pre[0]) {
        eng_gguf_w_set_str(w, "tokenizer.ggml.pre", o->tok_pre, strlen(o->tok_pre));
    } else if (o->arch == ENG_SYNTH_QWEN2 && strcmp(model, "gpt2") == 0 &&
               strcmp(pre, "qwen2") != 0) {
        uint32_t eos;
        eng_gguf_w_set_str(w, "tokenizer.ggml.pre", "qwen2", 5);
        eng_gguf_w_set_bool(w, "tokenizer.ggml.add_bos_token", false);
        if (eng_gguf_get_u32(vocab, "tokenizer.ggml.eos_token_id", &eos, NULL) == 0 &&
            eng_gguf_find_key(vocab, "tokenizer.ggml.padding_token_id") < 0)
            eng_gguf_w_set_u32(w, "tokenizer.ggml.padding_token_id", eos);
    }
    if (o->type != ENG_TYPE_F32 && o->type != ENG_TYPE_F16 && o->type != ENG_TYPE_BF16)
        eng_gguf_w_set_u32(w, "general.quantization_version", 2);
}

/* ---- random numbers ---------------------------------------------------------------------------- */

static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fills x[0..n) with mean + sigma * N(0,1) from the stream (seed, tensor, row):
 * Box-Muller on two 24-bit uniforms per 64-bit draw (u1 in (0,1], so the log
 * is finite; tails are cut at 5.8 σ). */
static void gauss_row(float *x, int64_t n, uint64_t seed, uint64_t stream, uint64_t row,
                      float mean, float sigma)
{
    uint64_t s = seed ^ (stream * 0xd1b54a32d192ed03ull);
    s = splitmix64(&s) ^ (row * 0x9e3779b97f4a7c15ull);
    const float two_pi = 6.2831853071795864769f, inv24 = 1.0f / 16777216.0f;
    int64_t i = 0;
    for (; i < n; i += 2) {
        uint64_t r = splitmix64(&s);
        float u1 = (float)((r >> 40) + 1) * inv24;
        float u2 = (float)((r >> 16) & 0xffffff) * inv24;
        float rad = sqrtf(-2.0f * logf(u1)) * sigma;
        float a = two_pi * u2;
        x[i] = mean + rad * cosf(a);
        if (i + 1 < n)
            x[i + 1] = mean + rad * sinf(a);
    }
}

/* ---- generating the data ------------------------------------------------------------------------ */

struct gen {
    const struct tplan *t;
    uint64_t seed;
    int64_t row0;            /* first row of the chunk */
    size_t row_bytes;
    eng_from_float_fn quant;
    float *scratch;          /* n_workers × ne[0] floats */
    uint8_t *out;            /* chunk rows × row_bytes */
};

static void gen_rows(void *ctx, int64_t begin, int64_t end, int worker)
{
    const struct gen *g = ctx;
    const struct tplan *t = g->t;
    float *x = g->scratch + (size_t)worker * t->ne[0];
    for (int64_t r = begin; r < end; r++) {
        gauss_row(x, (int64_t)t->ne[0], g->seed, t->stream, (uint64_t)(g->row0 + r), t->mean,
                  t->sigma);
        g->quant(x, g->out + (size_t)r * g->row_bytes, (int64_t)t->ne[0]);
    }
}

#define CHUNK_ELEMS (4u << 20)   /* floats generated per chunk (16 MB) */

static int write_data(struct eng_gguf_w *w, const struct plan *p,
                      const struct eng_synth_opts *o, struct eng_pool *pool,
                      uint64_t total, struct lore_err *e)
{
    uint64_t max_ne0 = 0, max_chunk = 0;
    for (int64_t i = 0; i < p->n; i++) {
        const struct tplan *t = &p->t[i];
        uint64_t rows = CHUNK_ELEMS / t->ne[0] ? CHUNK_ELEMS / t->ne[0] : 1;
        if (rows > t->ne[1])
            rows = t->ne[1];
        uint64_t bytes = rows * eng_row_bytes(t->type, (int64_t)t->ne[0]);
        max_chunk = bytes > max_chunk ? bytes : max_chunk;
        max_ne0 = t->ne[0] > max_ne0 ? t->ne[0] : max_ne0;
    }
    int nw = eng_pool_size(pool);
    float *scratch = malloc((size_t)nw * max_ne0 * sizeof(float));
    uint8_t *out = malloc(max_chunk ? max_chunk : 1);
    int rc = 0;
    if (!scratch || !out) {
        rc = lore_err_set(e, LORE_ENOMEM, "synth: out of memory");
        goto done;
    }
    uint64_t done_bytes = 0;
    for (int64_t i = 0; i < p->n && !rc; i++) {
        const struct tplan *t = &p->t[i];
        const struct eng_type_info *ti = eng_type_get(t->type);
        struct gen g = {
            .t = t, .seed = o->seed, .row_bytes = eng_row_bytes(t->type, (int64_t)t->ne[0]),
            .quant = ti ? ti->from_float : NULL, .scratch = scratch, .out = out,
        };
        if (!g.quant || !g.row_bytes) {
            rc = lore_err_set(e, LORE_EINTERNAL, "synth: no quantiser for %s",
                              eng_ggml_type_name((uint32_t)t->type));
            break;
        }
        uint64_t rows = CHUNK_ELEMS / t->ne[0] ? CHUNK_ELEMS / t->ne[0] : 1;
        for (uint64_t r0 = 0; r0 < t->ne[1] && !rc; r0 += rows) {
            uint64_t n = t->ne[1] - r0 < rows ? t->ne[1] - r0 : rows;
            g.row0 = (int64_t)r0;
            eng_pool_for(pool, (int64_t)n, 1, gen_rows, &g);
            rc = eng_gguf_w_write(w, out, (size_t)n * g.row_bytes, e);
            done_bytes += n * g.row_bytes;
            if (!rc && o->progress)
                o->progress(o->progress_ctx, done_bytes, total);
        }
    }
done:
    free(scratch);
    free(out);
    return rc;
}

/* ---- the whole file -------------------------------------------------------------------------------- */

int eng_synth_write(const struct eng_synth_opts *o, const struct eng_gguf *vocab,
                    const char *path, struct eng_synth_stats *st, struct lore_err *e)
{
    int rc = check_opts(o, e);
    if (rc)
        return rc;
    int64_t ai;
    int et;
    uint64_t n_vocab;
    if (eng_gguf_get_arr(vocab, "tokenizer.ggml.tokens", &ai, &et, &n_vocab, NULL) != 0 ||
        et != ENG_GGUF_STR || n_vocab == 0 || n_vocab > (1u << 24))
        return lore_err_set(e, LORE_EFORMAT, "'%s' has no usable tokenizer.ggml.tokens",
                            eng_gguf_name(vocab));
    uint32_t n_tt = 2;
    if (eng_gguf_get_u32(vocab, "tokenizer.ggml.token_type_count", &n_tt, NULL) != 0 ||
        n_tt == 0 || n_tt > 1024)
        n_tt = 2;

    struct plan p = {0};
    struct eng_gguf_w *w = NULL;
    struct eng_pool *pool = NULL;
    rc = o->arch == ENG_SYNTH_BERT ? plan_bert(&p, o, n_vocab, n_tt)
                                   : plan_decoder(&p, o, n_vocab);
    if (rc) {
        rc = lore_err_set(e, rc, "synth: out of memory");
        goto done;
    }
    if ((rc = eng_gguf_w_new(&w, e)))
        goto done;
    write_keys(w, o, vocab, n_vocab);
    uint64_t total = 0;
    for (int64_t i = 0; i < p.n; i++) {
        if (eng_gguf_w_add_tensor(w, p.t[i].name, p.t[i].type, p.t[i].n_dims, p.t[i].ne) < 0)
            break;
        total += eng_gguf_w_tensor_size(w, i);
    }
    if ((rc = eng_pool_new(o->n_threads, &pool, e)))
        goto done;
    if ((rc = eng_gguf_w_begin(w, path, e)))
        goto done;
    if ((rc = write_data(w, &p, o, pool, total, e)))
        goto done;
    if ((rc = eng_gguf_w_finish(w, e)))
        goto done;
    if (st) {
        memset(st, 0, sizeof *st);
        st->n_tensors = p.n;
        st->n_vocab = (uint32_t)n_vocab;
        st->file_bytes = eng_gguf_w_bytes_written(w);
        for (int64_t i = 0; i < p.n; i++) {
            st->n_params += p.t[i].ne[0] * p.t[i].ne[1];
            if (p.t[i].type >= 0 && p.t[i].type < ENG_TYPE_COUNT)
                st->n_type[p.t[i].type]++;
        }
    }
done:
    eng_pool_free(pool);
    eng_gguf_w_free(w);
    free(p.t);
    return rc;
}
