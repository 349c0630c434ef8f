/*
 * llama.c — the LLaMA-family decoder: llama (Llama 2/3, SmolLM, TinyLlama,
 * Mistral) and qwen2 (q/k/v biases, NeoX RoPE).
 *
 * One forward pass over a batch of B tokens (the prompt is one big batch:
 * every weight matrix is multiplied with all B activation rows at once):
 *
 *   x[B][n_embd] = token_embd[ids]
 *   per layer:
 *     h = rmsnorm(x) * attn_norm
 *     q[B][n_head*hd] = Wq h (+bq)   k,v[B][n_kv*hd] = Wk h, Wv h (+bk, +bv)
 *     rope(q, k at positions)       k, v -> cache[layer][pos]
 *     a[B][n_head*hd] = softmax(q kᵀ / √hd, causal) v     (GQA: head h reads kv h/(n_head/n_kv))
 *     x += Wo a
 *     h = rmsnorm(x) * ffn_norm
 *     x += Wdown (silu(Wgate h) * Wup h)
 *   logits = Wout (rmsnorm(x) * output_norm)         (Wout = token_embd when tied)
 *
 * GGUF stores a matrix with ne[0] = input size (the row length) and ne[1] =
 * output size (rows). The KV cache is F32, laid out [layer][pos][n_kv*hd].
 */
#include "engine/engine.h"
#include "engine/kernels.h"
#include "engine/vecf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UBATCH 256   /* tokens per forward pass; longer prompts are split */

struct eng_layer {
    float *attn_norm, *ffn_norm;    /* [n_embd], owned copies in F32 */
    float *bq, *bk, *bv;            /* biases or NULL */
    struct eng_weight wq, wk, wv, wo, gate, up, down;
};

struct eng_model {
    struct eng_gguf *g;
    struct eng_tok *tok;
    struct eng_hparams hp;
    enum eng_chat_family chat;
    struct eng_weight tok_embd, output;
    float *output_norm;
    float *freq_factors;            /* [n_rot/2] or NULL */
    struct eng_layer *layers;
};

struct eng_ctx {
    struct eng_model *m;
    struct eng_pool *pool;
    int n_ctx, n_past;
    float *kc, *vc;                  /* [n_layer][n_ctx][n_kv*hd] */
    /* scratch for one ubatch */
    float *x, *h, *q, *k, *v, *a, *t, *g, *u;
    float *att;                      /* per worker: [n_ctx] scores */
    float *rope_cos, *rope_sin;      /* [UBATCH][n_rot/2] */
    int n_workers;
    const struct eng_vecf *vf;
};

/* ---- loading ------------------------------------------------------------------ */

static int get_w(struct eng_model *m, const char *name, int64_t ne0, int64_t ne1, struct eng_weight *w,
                 int optional, struct lore_err *e)
{
    return eng_weight_get(m->g, name, ne0, ne1, optional, w, e);
}

/* A 1-D tensor as an owned float array (norm weights and biases). */
static int get_vec(struct eng_model *m, const char *name, int64_t n, float **out, int optional,
                   struct lore_err *e)
{
    return eng_weight_floats(m->g, name, n, 0, optional, out, e);
}

static int key_u32(struct eng_model *m, const char *arch, const char *k, int *out, int def,
                   struct lore_err *e)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k);
    uint32_t v;
    struct lore_err e2;
    int rc = eng_gguf_get_u32(m->g, key, &v, &e2);
    if (rc == LORE_ENOENT && def >= 0) {
        *out = def;
        return 0;
    }
    if (rc)
        return lore_err_set(e, rc, "%s", e2.msg);
    if (v > (1u << 30))
        return lore_err_set(e, LORE_EFORMAT, "'%s': %s = %u is out of range", eng_gguf_name(m->g), key, v);
    *out = (int)v;
    return 0;
}

static int key_f32(struct eng_model *m, const char *arch, const char *k, float *out, float def)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k);
    if (eng_gguf_get_f32(m->g, key, out, NULL) != 0)
        *out = def;
    return 0;
}

int eng_model_open(const char *path, struct eng_model **out, struct lore_err *e)
{
    *out = NULL;
    struct eng_model *m = calloc(1, sizeof *m);
    if (!m)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    int rc = eng_gguf_open(path, &m->g, e);
    if (rc)
        goto fail;
    char arch[64];
    if ((rc = eng_gguf_get_strz(m->g, "general.architecture", arch, sizeof arch, e)))
        goto fail;
    struct eng_hparams *hp = &m->hp;
    if (strcmp(arch, "llama") == 0) {
        hp->arch = ENG_ARCH_LLAMA;
        hp->rope_neox = 0;
    } else if (strcmp(arch, "qwen2") == 0) {
        hp->arch = ENG_ARCH_QWEN2;
        hp->rope_neox = 1;
    } else {
        rc = lore_err_set(e, LORE_EUNSUPPORTED, "'%s': architecture '%s' is not supported (llama, qwen2 are)",
                          path, arch);
        goto fail;
    }
    if ((rc = key_u32(m, arch, "embedding_length", &hp->n_embd, -1, e)) ||
        (rc = key_u32(m, arch, "block_count", &hp->n_layer, -1, e)) ||
        (rc = key_u32(m, arch, "feed_forward_length", &hp->n_ff, -1, e)) ||
        (rc = key_u32(m, arch, "attention.head_count", &hp->n_head, -1, e)) ||
        (rc = key_u32(m, arch, "context_length", &hp->n_ctx_train, 2048, e)))
        goto fail;
    if ((rc = key_u32(m, arch, "attention.head_count_kv", &hp->n_head_kv, hp->n_head, e)))
        goto fail;
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_layer > 1024 || hp->n_head <= 0 ||
        hp->n_head_kv <= 0 || hp->n_head % hp->n_head_kv || hp->n_embd % hp->n_head || hp->n_ff <= 0) {
        rc = lore_err_set(e, LORE_EFORMAT, "'%s': inconsistent model shape (n_embd %d, heads %d/%d, layers %d)",
                          path, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_layer);
        goto fail;
    }
    hp->head_dim = hp->n_embd / hp->n_head;
    {
        int kl = 0;
        if ((rc = key_u32(m, arch, "attention.key_length", &kl, hp->head_dim, e)))
            goto fail;
        if (kl != hp->head_dim) {
            rc = lore_err_set(e, LORE_EUNSUPPORTED, "'%s': head size %d differs from n_embd/n_head", path, kl);
            goto fail;
        }
    }
    if ((rc = key_u32(m, arch, "rope.dimension_count", &hp->n_rot, hp->head_dim, e)))
        goto fail;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2) {
        rc = lore_err_set(e, LORE_EFORMAT, "'%s': rope.dimension_count %d is invalid", path, hp->n_rot);
        goto fail;
    }
    key_f32(m, arch, "rope.freq_base", &hp->rope_base, 10000.0f);
    key_f32(m, arch, "attention.layer_norm_rms_epsilon", &hp->norm_eps, 1e-5f);
    hp->rope_freq_scale = 1.0f;
    {
        char key[128], st[32] = "";
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        eng_gguf_get_strz(m->g, key, st, sizeof st, NULL);
        float f = 0;
        key_f32(m, arch, "rope.scaling.factor", &f, 0.0f);
        if (strcmp(st, "linear") == 0 && f > 0)
            hp->rope_freq_scale = 1.0f / f;
        else if (st[0] && strcmp(st, "none") != 0 && strcmp(st, "linear") != 0) {
            rc = lore_err_set(e, LORE_EUNSUPPORTED, "'%s': RoPE scaling '%s' is not supported", path, st);
            goto fail;
        }
    }
    if ((rc = eng_tok_new_from_gguf(m->g, &m->tok, e)))
        goto fail;
    hp->n_vocab = eng_tok_n_vocab(m->tok);
    m->chat = eng_gguf_chat_family(m->g);

    int64_t E = hp->n_embd, KV = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff, V = hp->n_vocab;
    if ((rc = get_w(m, "token_embd.weight", E, V, &m->tok_embd, 0, e)) ||
        (rc = get_vec(m, "output_norm.weight", E, &m->output_norm, 0, e)) ||
        (rc = get_w(m, "output.weight", E, V, &m->output, 1, e)))
        goto fail;
    if (!m->output.data) {
        m->output = m->tok_embd;
        hp->tied_output = 1;
    }
    {
        struct eng_tensor_info ti;
        if (eng_gguf_find_tensor(m->g, "rope_freqs.weight", &ti) >= 0 &&
            (rc = get_vec(m, "rope_freqs.weight", hp->n_rot / 2, &m->freq_factors, 0, e)))
            goto fail;
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < hp->n_layer; i++) {
        struct eng_layer *L = &m->layers[i];
        char n[96];
#define NM(s) (snprintf(n, sizeof n, "blk.%d." s, i), n)
        int qb = hp->arch == ENG_ARCH_QWEN2 ? 0 : 1; /* qwen2's biases are required */
        if ((rc = get_vec(m, NM("attn_norm.weight"), E, &L->attn_norm, 0, e)) ||
            (rc = get_vec(m, NM("ffn_norm.weight"), E, &L->ffn_norm, 0, e)) ||
            (rc = get_w(m, NM("attn_q.weight"), E, E, &L->wq, 0, e)) ||
            (rc = get_w(m, NM("attn_k.weight"), E, KV, &L->wk, 0, e)) ||
            (rc = get_w(m, NM("attn_v.weight"), E, KV, &L->wv, 0, e)) ||
            (rc = get_w(m, NM("attn_output.weight"), E, E, &L->wo, 0, e)) ||
            (rc = get_w(m, NM("ffn_gate.weight"), E, F, &L->gate, 0, e)) ||
            (rc = get_w(m, NM("ffn_up.weight"), E, F, &L->up, 0, e)) ||
            (rc = get_w(m, NM("ffn_down.weight"), F, E, &L->down, 0, e)) ||
            (rc = get_vec(m, NM("attn_q.bias"), E, &L->bq, qb, e)) ||
            (rc = get_vec(m, NM("attn_k.bias"), KV, &L->bk, qb, e)) ||
            (rc = get_vec(m, NM("attn_v.bias"), KV, &L->bv, qb, e)))
            goto fail;
#undef NM
    }
    *out = m;
    return 0;
fail:
    eng_model_free(m);
    return rc;
}

void eng_model_free(struct eng_model *m)
{
    if (!m)
        return;
    if (m->layers) {
        for (int i = 0; i < m->hp.n_layer; i++) {
            struct eng_layer *L = &m->layers[i];
            free(L->attn_norm);
            free(L->ffn_norm);
            free(L->bq);
            free(L->bk);
            free(L->bv);
        }
        free(m->layers);
    }
    free(m->output_norm);
    free(m->freq_factors);
    eng_tok_free(m->tok);
    eng_gguf_close(m->g);
    free(m);
}

const struct eng_hparams *eng_model_hparams(const struct eng_model *m) { return &m->hp; }
const struct eng_tok *eng_model_tok(const struct eng_model *m) { return m->tok; }
enum eng_chat_family eng_model_chat_family(const struct eng_model *m) { return m->chat; }

/* ---- context ---------------------------------------------------------------------- */

int eng_ctx_new(struct eng_model *m, int n_ctx, int n_threads, struct eng_ctx **out,
                struct lore_err *e)
{
    *out = NULL;
    const struct eng_hparams *hp = &m->hp;
    if (n_ctx <= 0)
        n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (n_ctx < 8)
        n_ctx = 8;
    struct eng_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    c->m = m;
    c->n_ctx = n_ctx;
    int rc = eng_pool_new(n_threads, &c->pool, e);
    if (rc) {
        free(c);
        return rc;
    }
    c->n_workers = eng_pool_size(c->pool);
    c->vf = eng_vecf_get();
    size_t kv = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    size_t E = (size_t)hp->n_embd, F = (size_t)hp->n_ff, B = UBATCH;
    c->kc = malloc((size_t)hp->n_layer * (size_t)n_ctx * kv * sizeof(float));
    c->vc = malloc((size_t)hp->n_layer * (size_t)n_ctx * kv * sizeof(float));
    c->x = malloc(B * E * sizeof(float));
    c->h = malloc(B * E * sizeof(float));
    c->q = malloc(B * E * sizeof(float));
    c->a = malloc(B * E * sizeof(float));
    c->t = malloc(B * E * sizeof(float));
    c->k = malloc(B * kv * sizeof(float));
    c->v = malloc(B * kv * sizeof(float));
    c->g = malloc(B * F * sizeof(float));
    c->u = malloc(B * F * sizeof(float));
    c->att = malloc((size_t)c->n_workers * (size_t)n_ctx * sizeof(float));
    c->rope_cos = malloc(B * (size_t)(hp->n_rot / 2) * sizeof(float));
    c->rope_sin = malloc(B * (size_t)(hp->n_rot / 2) * sizeof(float));
    if (!c->kc || !c->vc || !c->x || !c->h || !c->q || !c->a || !c->t || !c->k || !c->v || !c->g ||
        !c->u || !c->att || !c->rope_cos || !c->rope_sin) {
        eng_ctx_free(c);
        return lore_err_set(e, LORE_ENOMEM, "out of memory for a %d-token context", n_ctx);
    }
    *out = c;
    return 0;
}

void eng_ctx_free(struct eng_ctx *c)
{
    if (!c)
        return;
    eng_pool_free(c->pool);
    free(c->kc);
    free(c->vc);
    free(c->x);
    free(c->h);
    free(c->q);
    free(c->a);
    free(c->t);
    free(c->k);
    free(c->v);
    free(c->g);
    free(c->u);
    free(c->att);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c);
}

int eng_ctx_n_ctx(const struct eng_ctx *c) { return c->n_ctx; }
const struct eng_model *eng_ctx_model(const struct eng_ctx *c) { return c->m; }
int eng_ctx_n_past(const struct eng_ctx *c) { return c->n_past; }

void eng_ctx_rewind(struct eng_ctx *c, int n_past)
{
    if (n_past >= 0 && n_past < c->n_past)
        c->n_past = n_past;
}

/* ---- the forward pass ----------------------------------------------------------------- */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float s = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * s * w[i];
}

static int matmul(struct eng_ctx *c, const struct eng_weight *w, const float *x, int n, float *y,
                  struct lore_err *e)
{
    return eng_matmul(c->pool, w->type, w->data, w->ne1, w->ne0, x, n, y, e);
}

static void rope(const struct eng_ctx *c, float *v, int n_heads, int t)
{
    const struct eng_hparams *hp = &c->m->hp;
    int hd = hp->head_dim, half = hp->n_rot / 2;
    const float *cs = c->rope_cos + (size_t)t * half, *sn = c->rope_sin + (size_t)t * half;
    for (int h = 0; h < n_heads; h++) {
        float *p = v + (size_t)h * hd;
        for (int i = 0; i < half; i++) {
            int i0 = hp->rope_neox ? i : 2 * i, i1 = hp->rope_neox ? i + half : 2 * i + 1;
            float x0 = p[i0], x1 = p[i1];
            p[i0] = x0 * cs[i] - x1 * sn[i];
            p[i1] = x0 * sn[i] + x1 * cs[i];
        }
    }
}

struct attn_job {
    struct eng_ctx *c;
    int layer, n, pos0;
};

/* One (token, head) pair per item: causal softmax attention over the cache. */
static void attn_worker(void *ctx, int64_t begin, int64_t end, int worker)
{
    struct attn_job *j = ctx;
    struct eng_ctx *c = j->c;
    const struct eng_hparams *hp = &c->m->hp;
    int hd = hp->head_dim, nh = hp->n_head, group = hp->n_head / hp->n_head_kv;
    size_t kvw = (size_t)hp->n_head_kv * hd;
    const float *kl = c->kc + (size_t)j->layer * c->n_ctx * kvw;
    const float *vl = c->vc + (size_t)j->layer * c->n_ctx * kvw;
    float *att = c->att + (size_t)worker * c->n_ctx;
    float scale = 1.0f / sqrtf((float)hd);
    const struct eng_vecf *vf = c->vf;
    for (int64_t it = begin; it < end; it++) {
        /* head-major order: a contiguous range of items mixes short and long
         * contexts, so an even split of items is an even split of work */
        int h = (int)(it / j->n), t = (int)(it % j->n), kvh = h / group;
        int npos = j->pos0 + t + 1;
        const float *q = c->q + (size_t)t * nh * hd + (size_t)h * hd;
        vf->dots(q, kl + (size_t)kvh * hd, kvw, npos, hd, att);
        float mx = -INFINITY;
        for (int p = 0; p < npos; p++) {
            att[p] *= scale;
            if (att[p] > mx)
                mx = att[p];
        }
        float inv = 1.0f / vf->exp_sum(att, npos, mx);
        for (int p = 0; p < npos; p++)
            att[p] *= inv;
        float *o = c->a + (size_t)t * nh * hd + (size_t)h * hd;
        vf->wsum(o, att, vl + (size_t)kvh * hd, kvw, npos, hd);
    }
}

static int embed_row(const struct eng_model *m, int32_t id, float *out)
{
    const struct eng_weight *w = &m->tok_embd;
    const struct eng_type_info *tt = eng_type_get(w->type);
    size_t rb = eng_row_bytes(w->type, w->ne0);
    tt->to_float((const char *)w->data + (size_t)id * rb, out, w->ne0);
    return 0;
}

/* One ubatch of n <= UBATCH tokens at positions c->n_past.. */
static int forward(struct eng_ctx *c, const int32_t *ids, int n, float *logits, int all_logits,
                   struct lore_err *e)
{
    const struct eng_model *m = c->m;
    const struct eng_hparams *hp = &m->hp;
    int E = hp->n_embd, hd = hp->head_dim, KV = hp->n_head_kv * hd, F = hp->n_ff;
    int pos0 = c->n_past, rc;
    for (int t = 0; t < n; t++) {
        if (ids[t] < 0 || ids[t] >= hp->n_vocab)
            return lore_err_set(e, LORE_EINVAL, "token id %d is outside the vocabulary (%d)", ids[t],
                                hp->n_vocab);
        embed_row(m, ids[t], c->x + (size_t)t * E);
    }
    /* rotary angles for this batch's positions */
    int half = hp->n_rot / 2;
    for (int t = 0; t < n; t++) {
        double pos = (double)(pos0 + t) * hp->rope_freq_scale;
        for (int i = 0; i < half; i++) {
            double th = pos * pow((double)hp->rope_base, -2.0 * i / hp->n_rot);
            if (m->freq_factors)
                th /= m->freq_factors[i];
            c->rope_cos[(size_t)t * half + i] = (float)cos(th);
            c->rope_sin[(size_t)t * half + i] = (float)sin(th);
        }
    }
    size_t kvw = (size_t)KV;
    for (int l = 0; l < hp->n_layer; l++) {
        const struct eng_layer *L = &m->layers[l];
        for (int t = 0; t < n; t++)
            rmsnorm(c->h + (size_t)t * E, c->x + (size_t)t * E, L->attn_norm, E, hp->norm_eps);
        if ((rc = matmul(c, &L->wq, c->h, n, c->q, e)) || (rc = matmul(c, &L->wk, c->h, n, c->k, e)) ||
            (rc = matmul(c, &L->wv, c->h, n, c->v, e)))
            return rc;
        for (int t = 0; t < n; t++) {
            float *q = c->q + (size_t)t * E, *k = c->k + (size_t)t * KV, *v = c->v + (size_t)t * KV;
            if (L->bq)
                for (int i = 0; i < E; i++)
                    q[i] += L->bq[i];
            if (L->bk)
                for (int i = 0; i < KV; i++)
                    k[i] += L->bk[i];
            if (L->bv)
                for (int i = 0; i < KV; i++)
                    v[i] += L->bv[i];
            rope(c, q, hp->n_head, t);
            rope(c, k, hp->n_head_kv, t);
            size_t off = ((size_t)l * c->n_ctx + (size_t)(pos0 + t)) * kvw;
            memcpy(c->kc + off, k, kvw * sizeof(float));
            memcpy(c->vc + off, v, kvw * sizeof(float));
        }
        struct attn_job aj = {c, l, n, pos0};
        eng_pool_for(c->pool, (int64_t)n * hp->n_head, 1, attn_worker, &aj);
        if ((rc = matmul(c, &L->wo, c->a, n, c->t, e)))
            return rc;
        for (size_t i = 0; i < (size_t)n * E; i++)
            c->x[i] += c->t[i];
        for (int t = 0; t < n; t++)
            rmsnorm(c->h + (size_t)t * E, c->x + (size_t)t * E, L->ffn_norm, E, hp->norm_eps);
        if ((rc = matmul(c, &L->gate, c->h, n, c->g, e)) || (rc = matmul(c, &L->up, c->h, n, c->u, e)))
            return rc;
        for (size_t i = 0; i < (size_t)n * F; i++) {
            float g = c->g[i];
            c->g[i] = g / (1.0f + expf(-g)) * c->u[i];
        }
        if ((rc = matmul(c, &L->down, c->g, n, c->t, e)))
            return rc;
        for (size_t i = 0; i < (size_t)n * E; i++)
            c->x[i] += c->t[i];
    }
    c->n_past += n;
    if (!logits)
        return 0;
    int first = all_logits ? 0 : n - 1;
    for (int t = first; t < n; t++)
        rmsnorm(c->h + (size_t)(t - first) * E, c->x + (size_t)t * E, m->output_norm, E, hp->norm_eps);
    return eng_matmul(c->pool, m->output.type, m->output.data, m->output.ne1, m->output.ne0, c->h,
                      n - first, logits, e);
}

int eng_decode(struct eng_ctx *c, const int32_t *ids, int n, float *logits, int all_logits,
               struct lore_err *e)
{
    if (n <= 0)
        return lore_err_set(e, LORE_EINVAL, "nothing to decode");
    if (c->n_past + n > c->n_ctx)
        return lore_err_set(e, LORE_ELIMIT,
                            "%d tokens do not fit in the context (%d of %d positions used)", n,
                            c->n_past, c->n_ctx);
    int V = c->m->hp.n_vocab;
    for (int done = 0; done < n;) {
        int b = n - done < UBATCH ? n - done : UBATCH;
        int last = done + b == n;
        float *lg = NULL;
        if (logits && all_logits)
            lg = logits + (size_t)done * V;
        else if (logits && last)
            lg = logits;
        int rc = forward(c, ids + done, b, lg, all_logits, e);
        if (rc)
            return rc;
        done += b;
    }
    return 0;
}
