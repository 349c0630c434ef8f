/*
 * bert.c — the BERT-family sentence encoder (general.architecture "bert":
 * MiniLM, bge, e5, gte), matching llama.cpp's graph.
 *
 * One forward pass over a batch of S sequences packed into T = Σ len rows
 * (sequence s occupies rows off[s] .. off[s+1]-1, its positions are 0..len-1):
 *
 *   x[T][E] = token_embd[id] + token_types[0] + position_embd[pos]
 *   x = LN(x) * token_embd_norm.w + .b
 *   per layer:
 *     q, k, v[T][E] = Wq x + bq, Wk x + bk, Wv x + bv     (one product each
 *                                                          over all T rows)
 *     a[T][E]: per sequence s, per head h (hd = E / n_head columns):
 *              a = softmax(q kᵀ / √hd) v over the rows of s only
 *     x = LN((Wo a + bo) + x) * attn_output_norm.w + .b    (post-LN)
 *     u[T][F] = gelu(Wup x + bup)
 *     x = LN((Wdown u + bdown) + x) * layer_output_norm.w + .b
 *   hidden = x (no final norm); pooled[s] = L2norm(mean of s's rows | row 0 | last row)
 *
 * Things done exactly as llama.cpp does them (see shared/golden/README.md §5):
 * GELU is the tanh approximation looked up in a table indexed by the F16
 * bits of x, whose entries are F16-rounded (GGML_GELU_FP16); x <= -10 gives
 * 0 and x >= 10 gives x. LayerNorm sums in double, the token type is always
 * 0, mean pooling includes CLS and SEP.
 *
 * GGUF stores a matrix with ne[0] = input size (the row length) and ne[1] =
 * output size (rows). Weights are used in place from the mapping; the 1-D
 * tensors (norms, biases) and the position / token-type tables are copied to
 * F32 at load.
 */
#include "engine/engine.h"
#include "engine/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Query rows per block of attention scores: bounds the per-worker score
 * buffer to ATT_QB × n_ctx floats even for long-context models. */
#define ATT_QB 64

struct bert_layer {
    struct eng_weight wq, wk, wv, wo, up, down;  /* [E→E] ×4, [E→F], [F→E] */
    float *bq, *bk, *bv, *bo;                /* [E] */
    float *bup;                              /* [F] */
    float *bdown;                            /* [E] */
    float *ln1_w, *ln1_b;                    /* attn_output_norm [E] */
    float *ln2_w, *ln2_b;                    /* layer_output_norm [E] */
};

struct eng_bert {
    struct eng_gguf *g;
    struct eng_tok *tok;
    struct eng_bert_hparams hp;
    struct eng_weight tok_embd;                  /* [V][E], any type with to_float */
    float *pos_embd;                         /* [n_ctx_train][E] */
    float *type0;                            /* [E] row 0 of token_types, or NULL */
    float *emb_ln_w, *emb_ln_b;              /* token_embd_norm [E] */
    struct bert_layer *layers;               /* [n_layer] */
    float *gelu_tab;                         /* [65536], indexed by F16 bits */
};

struct eng_bert_ctx {
    struct eng_bert *m;
    struct eng_pool *pool;
    int max_tokens, n_workers;
    float *x, *q, *k, *v, *a, *t;            /* [max_tokens][E] */
    float *u;                                /* [max_tokens][F] */
    float *scratch;                          /* per worker: attention blocks */
    size_t scratch_per_worker;               /* floats: 4·n_ctx·hd + ATT_QB·n_ctx */
    int *off;                                /* [max_tokens + 1] sequence starts */
};

/* ---- GELU as llama.cpp computes it ------------------------------------------ */

static float gelu_tanh(float x)
{
    const float sqrt_2_over_pi = 0.79788456080286535587989211986876f;
    return 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * x * (1.0f + 0.044715f * x * x)));
}

static int gelu_table_new(float **out)
{
    float *t = malloc(65536 * sizeof *t);
    if (!t)
        return LORE_ENOMEM;
    for (uint32_t i = 0; i < 65536; i++) {
        float f = eng_fp16_to_fp32((eng_half)i);
        t[i] = eng_fp16_to_fp32(eng_fp32_to_fp16(gelu_tanh(f)));
    }
    *out = t;
    return 0;
}

/* The F16 bits of a finite x with |x| < 65504, rounded to nearest even:
 * eng_fp32_to_fp16 without the inf/NaN/overflow cases, inlined because the
 * FFN calls it n_ff times per token. */
static inline uint16_t half_bits(float x)
{
    uint32_t u, a;
    memcpy(&u, &x, sizeof u);
    uint32_t sign = (u >> 16) & 0x8000u;
    a = u & 0x7fffffffu;
    if (a < 0x38800000u) {                 /* below 2^-14: subnormal half */
        float f, r;
        memcpy(&f, &a, sizeof f);
        r = f * 16777216.0f + 8388608.0f;   /* integer part rounds to even */
        uint32_t rb;
        memcpy(&rb, &r, sizeof rb);
        return (uint16_t)(sign | (rb - 0x4b000000u));
    }
    uint32_t r = a - 0x38000000u;          /* rebias 127 -> 15 */
    r += 0x0fffu + ((r >> 13) & 1);
    return (uint16_t)(sign | (r >> 13));
}

static inline float gelu_lookup(const float *tab, float x)
{
    if (x <= -10.0f)
        return 0.0f;
    if (x >= 10.0f)
        return x;
    return tab[half_bits(x)];
}

float eng_bert_gelu(const struct eng_bert *m, float x)
{
    return gelu_lookup(m->gelu_tab, x);
}

/* ---- loading ----------------------------------------------------------------- */

static int get_w(struct eng_bert *m, const char *name, int64_t ne0, int64_t ne1, struct eng_weight *w,
                 int optional, struct lore_err *e)
{
    return eng_weight_get(m->g, name, ne0, ne1, optional, w, e);
}

/* A matrix used in eng_matmul: its type must have a kernel. */
static int get_mat(struct eng_bert *m, const char *name, int64_t ne0, int64_t ne1, struct eng_weight *w,
                   struct lore_err *e)
{
    int rc = get_w(m, name, ne0, ne1, w, 0, e);
    if (rc)
        return rc;
    if (!eng_kernels_get()->t[w->type].tile)
        return lore_err_set(e, LORE_EUNSUPPORTED, "'%s': tensor '%s' has type %s, which has no matrix kernel",
                            eng_gguf_name(m->g), name, eng_ggml_type_name((uint32_t)w->type));
    return 0;
}

/* A vector [n] (rows 0), or the first `rows` rows of a table [n][>= rows],
 * as owned floats. */
static int get_f32(struct eng_bert *m, const char *name, int64_t n, int64_t rows, float **out,
                   int optional, struct lore_err *e)
{
    return eng_weight_floats(m->g, name, n, rows, optional, out, e);
}

static int key_int(struct eng_bert *m, const char *k, int *out, int def, struct lore_err *e)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->hp.arch, k);
    uint32_t v;
    struct lore_err e2 = {0};
    int rc = eng_gguf_get_u32(m->g, key, &v, &e2);
    if (rc == LORE_ENOENT && def >= 0) {
        *out = def;
        return 0;
    }
    if (rc)
        return lore_err_set(e, rc, "%s", e2.msg);
    if (v > (1u << 24))
        return lore_err_set(e, LORE_EFORMAT, "'%s': %s = %u is out of range", eng_gguf_name(m->g), key, v);
    *out = (int)v;
    return 0;
}

static int load_hparams(struct eng_bert *m, const char *path, struct lore_err *e)
{
    struct eng_bert_hparams *hp = &m->hp;
    int rc;
    if ((rc = eng_gguf_get_strz(m->g, "general.architecture", hp->arch, sizeof hp->arch, e)))
        return rc;
    if (strcmp(hp->arch, "bert") != 0)
        return lore_err_set(e, LORE_EUNSUPPORTED,
                            "'%s': architecture '%s' is not a supported sentence encoder (only 'bert' is%s)",
                            path, hp->arch,
                            strcmp(hp->arch, "nomic-bert") == 0 ? "; nomic-bert's rotary, fused-QKV "
                                                                  "SwiGLU blocks are not implemented yet"
                                                                : "");
    eng_gguf_get_strz(m->g, "general.name", hp->name, sizeof hp->name, NULL);
    if ((rc = key_int(m, "embedding_length", &hp->n_embd, -1, e)) ||
        (rc = key_int(m, "block_count", &hp->n_layer, -1, e)) ||
        (rc = key_int(m, "feed_forward_length", &hp->n_ff, -1, e)) ||
        (rc = key_int(m, "attention.head_count", &hp->n_head, -1, e)) ||
        (rc = key_int(m, "context_length", &hp->n_ctx_train, 512, e)) ||
        (rc = key_int(m, "pooling_type", &hp->pooling, ENG_BERT_POOL_MEAN, e)))
        return rc;
    char key[128];
    snprintf(key, sizeof key, "%s.attention.layer_norm_epsilon", hp->arch);
    if (eng_gguf_get_f32(m->g, key, &hp->norm_eps, NULL) != 0)
        hp->norm_eps = 1e-12f;
    snprintf(key, sizeof key, "%s.attention.causal", hp->arch);
    bool causal = false;
    if (eng_gguf_get_bool(m->g, key, &causal, NULL) == 0 && causal)
        return lore_err_set(e, LORE_EUNSUPPORTED, "'%s': a causal BERT is not supported", path);
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_layer > 1024 || hp->n_head <= 0 ||
        hp->n_embd % hp->n_head || hp->n_ff <= 0 || hp->n_ctx_train <= 0 || hp->n_ctx_train > (1 << 20))
        return lore_err_set(e, LORE_EFORMAT,
                            "'%s': inconsistent model shape (n_embd %d, heads %d, layers %d, n_ff %d, context %d)",
                            path, hp->n_embd, hp->n_head, hp->n_layer, hp->n_ff, hp->n_ctx_train);
    if (hp->pooling < ENG_BERT_POOL_NONE || hp->pooling > ENG_BERT_POOL_LAST)
        return lore_err_set(e, LORE_EUNSUPPORTED, "'%s': pooling type %d is not supported", path,
                            hp->pooling);
    if (hp->pooling == ENG_BERT_POOL_NONE)
        hp->pooling = ENG_BERT_POOL_MEAN;   /* a sentence encoder must pool somehow */
    if (!(hp->norm_eps > 0.0f && hp->norm_eps < 1.0f))
        return lore_err_set(e, LORE_EFORMAT, "'%s': layer_norm_epsilon %g is out of range", path,
                            (double)hp->norm_eps);
    hp->head_dim = hp->n_embd / hp->n_head;
    return 0;
}

int eng_bert_open(const char *path, struct eng_bert **out, struct lore_err *e)
{
    *out = NULL;
    struct eng_bert *m = calloc(1, sizeof *m);
    if (!m)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    int rc = eng_gguf_open(path, &m->g, e);
    if (rc)
        goto fail;
    if ((rc = load_hparams(m, path, e)))
        goto fail;
    struct eng_bert_hparams *hp = &m->hp;
    if ((rc = eng_tok_new_from_gguf(m->g, &m->tok, e)))
        goto fail;
    hp->n_vocab = eng_tok_n_vocab(m->tok);

    int64_t E = hp->n_embd, F = hp->n_ff;
    struct eng_weight tt;
    if ((rc = get_w(m, "token_embd.weight", E, hp->n_vocab, &m->tok_embd, 0, e)) ||
        (rc = get_f32(m, "position_embd.weight", E, hp->n_ctx_train, &m->pos_embd, 0, e)) ||
        (rc = get_w(m, "token_types.weight", E, -1, &tt, 1, e)) ||
        (rc = get_f32(m, "token_embd_norm.weight", E, 0, &m->emb_ln_w, 0, e)) ||
        (rc = get_f32(m, "token_embd_norm.bias", E, 0, &m->emb_ln_b, 0, e)))
        goto fail;
    hp->n_token_types = tt.data ? (int)tt.ne1 : 0;
    if (tt.data && (rc = get_f32(m, "token_types.weight", E, 1, &m->type0, 0, e)))
        goto fail;
    {
        struct eng_tensor_info ti;
        if (eng_gguf_find_tensor(m->g, "blk.0.ffn_gate.weight", &ti) >= 0 ||
            eng_gguf_find_tensor(m->g, "blk.0.attn_qkv.weight", &ti) >= 0) {
            rc = lore_err_set(e, LORE_EUNSUPPORTED,
                              "'%s': this BERT variant (gated FFN or fused QKV) is not supported", path);
            goto fail;
        }
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < hp->n_layer; i++) {
        struct bert_layer *L = &m->layers[i];
        char n[96];
#define NM(s) (snprintf(n, sizeof n, "blk.%d." s, i), n)
        if ((rc = get_mat(m, NM("attn_q.weight"), E, E, &L->wq, e)) ||
            (rc = get_mat(m, NM("attn_k.weight"), E, E, &L->wk, e)) ||
            (rc = get_mat(m, NM("attn_v.weight"), E, E, &L->wv, e)) ||
            (rc = get_mat(m, NM("attn_output.weight"), E, E, &L->wo, e)) ||
            (rc = get_mat(m, NM("ffn_up.weight"), E, F, &L->up, e)) ||
            (rc = get_mat(m, NM("ffn_down.weight"), F, E, &L->down, e)) ||
            (rc = get_f32(m, NM("attn_q.bias"), E, 0, &L->bq, 0, e)) ||
            (rc = get_f32(m, NM("attn_k.bias"), E, 0, &L->bk, 0, e)) ||
            (rc = get_f32(m, NM("attn_v.bias"), E, 0, &L->bv, 0, e)) ||
            (rc = get_f32(m, NM("attn_output.bias"), E, 0, &L->bo, 0, e)) ||
            (rc = get_f32(m, NM("ffn_up.bias"), F, 0, &L->bup, 0, e)) ||
            (rc = get_f32(m, NM("ffn_down.bias"), E, 0, &L->bdown, 0, e)) ||
            (rc = get_f32(m, NM("attn_output_norm.weight"), E, 0, &L->ln1_w, 0, e)) ||
            (rc = get_f32(m, NM("attn_output_norm.bias"), E, 0, &L->ln1_b, 0, e)) ||
            (rc = get_f32(m, NM("layer_output_norm.weight"), E, 0, &L->ln2_w, 0, e)) ||
            (rc = get_f32(m, NM("layer_output_norm.bias"), E, 0, &L->ln2_b, 0, e)))
            goto fail;
#undef NM
    }
    if (gelu_table_new(&m->gelu_tab)) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto fail;
    }
    *out = m;
    return 0;
fail:
    eng_bert_free(m);
    return rc;
}

void eng_bert_free(struct eng_bert *m)
{
    if (!m)
        return;
    if (m->layers) {
        for (int i = 0; i < m->hp.n_layer; i++) {
            struct bert_layer *L = &m->layers[i];
            float *own[] = {L->bq, L->bk, L->bv, L->bo, L->bup, L->bdown,
                            L->ln1_w, L->ln1_b, L->ln2_w, L->ln2_b};
            for (size_t j = 0; j < sizeof own / sizeof own[0]; j++)
                free(own[j]);
        }
        free(m->layers);
    }
    free(m->pos_embd);
    free(m->type0);
    free(m->emb_ln_w);
    free(m->emb_ln_b);
    free(m->gelu_tab);
    eng_tok_free(m->tok);
    eng_gguf_close(m->g);
    free(m);
}

const struct eng_bert_hparams *eng_bert_hparams(const struct eng_bert *m) { return &m->hp; }
const struct eng_tok *eng_bert_tok(const struct eng_bert *m) { return m->tok; }
const struct eng_gguf *eng_bert_gguf(const struct eng_bert *m) { return m->g; }
int eng_bert_weight_type(const struct eng_bert *m) { return m->layers[0].up.type; }

/* ---- context ------------------------------------------------------------------- */

int eng_bert_ctx_new(struct eng_bert *m, int max_tokens, int n_threads, struct eng_bert_ctx **out,
                     struct lore_err *e)
{
    *out = NULL;
    const struct eng_bert_hparams *hp = &m->hp;
    if (max_tokens < hp->n_ctx_train)
        max_tokens = hp->n_ctx_train;
    if (max_tokens > (1 << 20))
        return lore_err_set(e, LORE_ELIMIT, "a batch of %d tokens is too large", max_tokens);
    struct eng_bert_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    c->m = m;
    c->max_tokens = max_tokens;
    int rc = eng_pool_new(n_threads, &c->pool, e);
    if (rc) {
        free(c);
        return rc;
    }
    c->n_workers = eng_pool_size(c->pool);
    size_t T = (size_t)max_tokens, E = (size_t)hp->n_embd, F = (size_t)hp->n_ff;
    float **bufs[] = {&c->x, &c->q, &c->k, &c->v, &c->a, &c->t};
    int ok = 1;
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ok &= (*bufs[i] = malloc(T * E * sizeof(float))) != NULL;
    c->u = malloc(T * F * sizeof(float));
    size_t nc = (size_t)hp->n_ctx_train;
    /* per worker: qh, kh, vt, o [n_ctx][hd] and scores [ATT_QB][n_ctx], in
     * 64-byte-aligned blocks so workers never share a cache line */
    c->scratch_per_worker = 4 * nc * (size_t)hp->head_dim + ATT_QB * nc;
    c->scratch_per_worker = (c->scratch_per_worker + 15) & ~(size_t)15;
    c->scratch = aligned_alloc(64, (size_t)c->n_workers * c->scratch_per_worker * sizeof(float));
    c->off = malloc((T + 1) * sizeof(int));
    if (!ok || !c->u || !c->scratch || !c->off) {
        eng_bert_ctx_free(c);
        return lore_err_set(e, LORE_ENOMEM, "out of memory for a %d-token encoder batch", max_tokens);
    }
    *out = c;
    return 0;
}

void eng_bert_ctx_free(struct eng_bert_ctx *c)
{
    if (!c)
        return;
    eng_pool_free(c->pool);
    free(c->x);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->a);
    free(c->t);
    free(c->u);
    free(c->scratch);
    free(c->off);
    free(c);
}

int eng_bert_ctx_max_tokens(const struct eng_bert_ctx *c) { return c->max_tokens; }

/* ---- the forward pass -------------------------------------------------------------- */

/* out = LN(x) * w + b over n floats, as ggml_norm (sums in double) then
 * ggml_mul and ggml_add. out may alias x. Four partial sums break the
 * add-latency chain; in double the order does not show in the result. */
static void layernorm(float *out, const float *x, const float *w, const float *b, int n, float eps)
{
    double s[4] = {0, 0, 0, 0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += (double)x[i + k];
    for (; i < n; i++)
        s[0] += (double)x[i];
    float mean = (float)((s[0] + s[1] + s[2] + s[3]) / n);
    double q[4] = {0, 0, 0, 0};
    for (i = 0; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            float d = x[i + k] - mean;
            out[i + k] = d;
            q[k] += (double)(d * d);
        }
    for (; i < n; i++) {
        float d = x[i] - mean;
        out[i] = d;
        q[0] += (double)(d * d);
    }
    float scale = 1.0f / sqrtf((float)((q[0] + q[1] + q[2] + q[3]) / n) + eps);
    for (i = 0; i < n; i++)
        out[i] = out[i] * scale * w[i] + b[i];
}

struct fwd_job {
    struct eng_bert_ctx *c;
    const struct bert_layer *L;
    const int32_t *ids;
    int n_seq;
};

/* Rows [b, e): x = LN(token_embd[id] + type0 + pos_embd[pos]). */
static void embed_rows(void *ctx, int64_t b, int64_t e, int worker)
{
    const struct fwd_job *j = ctx;
    const struct eng_bert *m = j->c->m;
    const int E = m->hp.n_embd;
    const struct eng_type_info *tt = eng_type_get(m->tok_embd.type);
    size_t rb = eng_row_bytes(m->tok_embd.type, E);
    /* find the sequence of row b (sequences are few; a linear walk is fine) */
    int s = 0;
    while (j->c->off[s + 1] <= b)
        s++;
    for (int64_t t = b; t < e; t++) {
        while (j->c->off[s + 1] <= t)
            s++;
        int pos = (int)(t - j->c->off[s]);
        float *x = j->c->x + (size_t)t * E;
        tt->to_float((const char *)m->tok_embd.data + (size_t)j->ids[t] * rb, x, E);
        const float *p = m->pos_embd + (size_t)pos * E;
        if (m->type0)
            for (int i = 0; i < E; i++)
                x[i] = (x[i] + m->type0[i]) + p[i];
        else
            for (int i = 0; i < E; i++)
                x[i] += p[i];
        layernorm(x, x, m->emb_ln_w, m->emb_ln_b, E, m->hp.norm_eps);
    }
}

/* Item = (sequence, head). The head's slices of q, k, v (bias added) are
 * copied into contiguous per-worker blocks so that both products run
 * through the engine's F32 matrix kernel (inline, pool NULL: we already are
 * one of the pool's workers):
 *     qh, kh [n][hd]   vt [hd][n]   (v transposed)
 *   for each block of up to ATT_QB query rows i:
 *     s[i][n]  = kh · qhᵀ          s[i][j] = q_i · k_j
 *     p        = softmax_j(s / √hd)  per row i (sum in double, as ggml)
 *     o[i][hd] = vt · pᵀ           o[i][d] = Σ_j p[i][j] v_j[d]
 * and o goes back into a's slice of the head. */
static void attn_items(void *ctx, int64_t b, int64_t e, int worker)
{
    const struct fwd_job *j = ctx;
    struct eng_bert_ctx *c = j->c;
    const struct eng_bert_hparams *hp = &c->m->hp;
    const struct bert_layer *L = j->L;
    const int E = hp->n_embd, hd = hp->head_dim, nh = hp->n_head;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t nc = (size_t)hp->n_ctx_train;
    float *qh = c->scratch + (size_t)worker * c->scratch_per_worker;
    float *kh = qh + nc * hd, *vt = kh + nc * hd, *o = vt + nc * hd, *sc = o + nc * hd;
    for (int64_t it = b; it < e; it++) {
        int s = (int)(it / nh), h = (int)(it % nh);
        int r0 = c->off[s], n = c->off[s + 1] - r0;
        size_t col = (size_t)h * hd;
        for (int i = 0; i < n; i++) {
            const float *q = c->q + (size_t)(r0 + i) * E + col, *k = c->k + (size_t)(r0 + i) * E + col,
                        *v = c->v + (size_t)(r0 + i) * E + col;
            for (int d = 0; d < hd; d++) {
                qh[(size_t)i * hd + d] = q[d] + L->bq[col + d];
                kh[(size_t)i * hd + d] = k[d] + L->bk[col + d];
                vt[(size_t)d * n + i] = v[d] + L->bv[col + d];
            }
        }
        for (int i0 = 0; i0 < n; i0 += ATT_QB) {
            int m = n - i0 < ATT_QB ? n - i0 : ATT_QB;
            /* cannot fail: F32 has a kernel and block 1, nothing is allocated */
            eng_matmul(NULL, ENG_TYPE_F32, kh, n, hd, qh + (size_t)i0 * hd, m, sc, NULL);
            for (int i = 0; i < m; i++) {
                float *row = sc + (size_t)i * n, mx = -INFINITY;
                for (int t = 0; t < n; t++) {
                    row[t] *= scale;
                    mx = row[t] > mx ? row[t] : mx;
                }
                double sum[2] = {0, 0};
                for (int t = 0; t < n; t++) {
                    row[t] = expf(row[t] - mx);
                    sum[t & 1] += row[t];
                }
                float inv = (float)(1.0 / (sum[0] + sum[1]));
                for (int t = 0; t < n; t++)
                    row[t] *= inv;
            }
            eng_matmul(NULL, ENG_TYPE_F32, vt, hd, n, sc, m, o + (size_t)i0 * hd, NULL);
        }
        for (int i = 0; i < n; i++)
            memcpy(c->a + (size_t)(r0 + i) * E + col, o + (size_t)i * hd, (size_t)hd * sizeof *o);
    }
}

/* Rows [b, e): x = LN((t + bo) + x) with attn_output_norm. */
static void attn_out_rows(void *ctx, int64_t b, int64_t e, int worker)
{
    const struct fwd_job *j = ctx;
    const struct bert_layer *L = j->L;
    const int E = j->c->m->hp.n_embd;
    for (int64_t r = b; r < e; r++) {
        float *t = j->c->t + (size_t)r * E, *x = j->c->x + (size_t)r * E;
        for (int i = 0; i < E; i++)
            t[i] = (t[i] + L->bo[i]) + x[i];
        layernorm(x, t, L->ln1_w, L->ln1_b, E, j->c->m->hp.norm_eps);
    }
}

/* Rows [b, e): u = gelu(u + bup). */
static void ffn_gelu_rows(void *ctx, int64_t b, int64_t e, int worker)
{
    const struct fwd_job *j = ctx;
    const struct bert_layer *L = j->L;
    const int F = j->c->m->hp.n_ff;
    const float *tab = j->c->m->gelu_tab;
    for (int64_t r = b; r < e; r++) {
        float *u = j->c->u + (size_t)r * F;
        for (int i = 0; i < F; i++)
            u[i] = gelu_lookup(tab, u[i] + L->bup[i]);
    }
}

/* Rows [b, e): x = LN((t + bdown) + x) with layer_output_norm. */
static void ffn_out_rows(void *ctx, int64_t b, int64_t e, int worker)
{
    const struct fwd_job *j = ctx;
    const struct bert_layer *L = j->L;
    const int E = j->c->m->hp.n_embd;
    for (int64_t r = b; r < e; r++) {
        float *t = j->c->t + (size_t)r * E, *x = j->c->x + (size_t)r * E;
        for (int i = 0; i < E; i++)
            t[i] = (t[i] + L->bdown[i]) + x[i];
        layernorm(x, t, L->ln2_w, L->ln2_b, E, j->c->m->hp.norm_eps);
    }
}

static int matmul(struct eng_bert_ctx *c, const struct eng_weight *w, const float *x, int n, float *y,
                  struct lore_err *e)
{
    return eng_matmul(c->pool, w->type, w->data, w->ne1, w->ne0, x, n, y, e);
}

/* Rows per pool chunk for the row-wise passes: enough work to beat the
 * hand-off, small enough to spread a short batch over every thread. */
static int64_t row_grain(const struct eng_bert_ctx *c, int T)
{
    int64_t g = T / (4 * c->n_workers);
    return g < 1 ? 1 : g;
}

static void pool_vec(float *out, const float *x, int n, int E, int pooling)
{
    if (pooling == ENG_BERT_POOL_CLS) {
        memcpy(out, x, (size_t)E * sizeof *out);
    } else if (pooling == ENG_BERT_POOL_LAST) {
        memcpy(out, x + (size_t)(n - 1) * E, (size_t)E * sizeof *out);
    } else {
        for (int i = 0; i < E; i++)
            out[i] = 0;
        for (int t = 0; t < n; t++)
            for (int i = 0; i < E; i++)
                out[i] += x[(size_t)t * E + i];
        float inv = 1.0f / (float)n;
        for (int i = 0; i < E; i++)
            out[i] *= inv;
    }
    double ss = 0;
    for (int i = 0; i < E; i++)
        ss += (double)out[i] * out[i];
    float k = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (int i = 0; i < E; i++)
        out[i] *= k;
}

int eng_bert_encode(struct eng_bert_ctx *c, const int32_t *ids, const int *lens, int n_seq,
                    int pooling, float *hidden, float *pooled, struct lore_err *e)
{
    const struct eng_bert *m = c->m;
    const struct eng_bert_hparams *hp = &m->hp;
    if (n_seq <= 0 || n_seq > c->max_tokens)
        return lore_err_set(e, LORE_EINVAL, "encoder: %d sequences in a batch", n_seq);
    if (pooled && (pooling < ENG_BERT_POOL_MEAN || pooling > ENG_BERT_POOL_LAST))
        return lore_err_set(e, LORE_EINVAL, "encoder: pooling %d is not mean, cls or last", pooling);
    int T = 0;
    c->off[0] = 0;
    for (int s = 0; s < n_seq; s++) {
        if (lens[s] < 1 || lens[s] > hp->n_ctx_train)
            return lore_err_set(e, LORE_EINVAL,
                                "encoder: sequence %d has %d tokens (1..%d allowed)", s, lens[s],
                                hp->n_ctx_train);
        if (lens[s] > c->max_tokens - T)
            return lore_err_set(e, LORE_ELIMIT, "encoder: batch exceeds %d tokens", c->max_tokens);
        T += lens[s];
        c->off[s + 1] = T;
    }
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= hp->n_vocab)
            return lore_err_set(e, LORE_EINVAL, "encoder: token id %d is outside the vocabulary (%d)",
                                ids[t], hp->n_vocab);
    const int E = hp->n_embd;
    struct fwd_job j = {c, NULL, ids, n_seq};
    int64_t grain = row_grain(c, T);
    int rc;
    eng_pool_for(c->pool, T, grain, embed_rows, &j);
    for (int l = 0; l < hp->n_layer; l++) {
        const struct bert_layer *L = &m->layers[l];
        j.L = L;
        if ((rc = matmul(c, &L->wq, c->x, T, c->q, e)) || (rc = matmul(c, &L->wk, c->x, T, c->k, e)) ||
            (rc = matmul(c, &L->wv, c->x, T, c->v, e)))
            return rc;
        eng_pool_for(c->pool, (int64_t)n_seq * hp->n_head, 1, attn_items, &j);
        if ((rc = matmul(c, &L->wo, c->a, T, c->t, e)))
            return rc;
        eng_pool_for(c->pool, T, grain, attn_out_rows, &j);
        if ((rc = matmul(c, &L->up, c->x, T, c->u, e)))
            return rc;
        eng_pool_for(c->pool, T, grain, ffn_gelu_rows, &j);
        if ((rc = matmul(c, &L->down, c->u, T, c->t, e)))
            return rc;
        eng_pool_for(c->pool, T, grain, ffn_out_rows, &j);
    }
    if (hidden)
        memcpy(hidden, c->x, (size_t)T * E * sizeof *hidden);
    if (pooled)
        for (int s = 0; s < n_seq; s++)
            pool_vec(pooled + (size_t)s * E, c->x + (size_t)c->off[s] * E, lens[s], E, pooling);
    return 0;
}
