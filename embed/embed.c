/*
 * embed.c — the embedder: texts → token ids → batches → engine/bert.c →
 * pooled, L2-normalised vectors at each text's original index.
 *
 * Batching. The encoder packs several sequences into one activation matrix
 * and keeps attention within each sequence, so a batch costs what its
 * tokens cost: there is no padding, and unlike llama.cpp's block-diagonal
 * mask (O(batch²) attention, best at one or two sentences per batch) larger
 * batches are cheaper per token, because every weight matrix is streamed
 * through the cache once per batch instead of once per sentence. So: sort the
 * texts by token count (longest first), then fill each batch greedily up to
 * max_batch_tokens.
 *
 *   texts ──tokenise (prefix + text, CLS … SEP, cut to n_ctx)──► ids, lens
 *   order = texts sorted by len (desc)
 *   batch = next texts of order while Σ len <= max_batch_tokens
 *   eng_bert_encode(batch) ──► pooled[k] ──copy──► out[order[k]]
 */
#include "embed/embed.h"
#include "engine/engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct emb {
    struct eng_bert *model;
    struct eng_bert_ctx *ctx;
    pthread_mutex_t mu;          /* one emb_embed at a time */
    int dim, n_ctx, max_batch, pooling;
    bool no_truncate;
    char *qprefix, *dprefix;     /* never NULL ("" when none) */
    char id[256];
    /* per call scratch, kept and grown */
    int32_t *ids;                /* all texts' ids back to back */
    size_t ids_cap;
    struct text_ref { size_t off; int len; size_t idx; } *refs;
    size_t refs_cap;
    int32_t *bids;               /* one batch's ids, [max_batch] */
    int *blens;                  /* one batch's lengths, [max_batch] */
    float *bout;                 /* one batch's vectors, [max_batch][dim] */
    char *tbuf;                  /* prefix + text */
    size_t tbuf_cap;
    struct emb_stats stats;
    size_t last_truncated;
};

static const char *pool_name(int p)
{
    switch (p) {
    case EMB_POOL_CLS: return "cls";
    case EMB_POOL_LAST: return "last";
    default: return "mean";
    }
}

void emb_opts_default(struct emb_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_batch_tokens = EMB_DEFAULT_BATCH_TOKENS;
    o->pooling = EMB_POOL_MODEL;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* ---- model identity ---------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return LORE_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int put(struct lore_buf *b, const void *p, size_t n)
{
    return lore_buf_append(b, p, n);
}

/* See emb_model_id in embed.h for what is hashed. */
static int make_id(struct emb *e, struct lore_err *err)
{
    const struct eng_gguf *g = eng_bert_gguf(e->model);
    const struct eng_bert_hparams *hp = eng_bert_hparams(e->model);
    struct lore_buf b;
    lore_buf_init(&b);
    int rc = 0;
    int64_t nt = eng_gguf_n_tensors(g);
    struct eng_tensor_info ti;
    if (nt > 0 && eng_gguf_tensor(g, 0, &ti) == 0) {
        /* the mapping starts offset bytes before a tensor's data */
        const char *base = (const char *)ti.data - ti.offset;
        rc = put(&b, base, (size_t)eng_gguf_data_offset(g));
    }
    const size_t S = 4096;
    for (int64_t i = 0; i < nt && !rc; i++) {
        if (eng_gguf_tensor(g, i, &ti))
            continue;
        const char *d = ti.data;
        size_t n = (size_t)ti.size;
        if (n <= 3 * S) {
            rc = put(&b, d, n);
        } else {
            rc = put(&b, d, S);
            rc = rc ? rc : put(&b, d + (n / 2 - S / 2), S);
            rc = rc ? rc : put(&b, d + n - S, S);
        }
    }
    if (!rc && (e->qprefix[0] || e->dprefix[0])) {
        rc = put(&b, "\0q:", 3);
        rc = rc ? rc : lore_buf_puts(&b, e->qprefix);
        rc = rc ? rc : put(&b, "\0d:", 3);
        rc = rc ? rc : lore_buf_puts(&b, e->dprefix);
    }
    if (rc) {
        lore_buf_release(&b);
        return lore_err_set(err, LORE_ENOMEM, "out of memory");
    }
    char hex[65];
    lore_sha256_hex(b.data, b.len, hex);
    lore_buf_release(&b);
    char name[128];
    snprintf(name, sizeof name, "%s", hp->name[0] ? hp->name : "unnamed");
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            *p = '_';
    snprintf(e->id, sizeof e->id, "%s:%s:d%d:%s:%.16s", hp->arch, name, e->dim,
             pool_name(e->pooling), hex);
    return 0;
}

/* ---- open / close ---------------------------------------------------------------- */

int emb_open(const char *path, const struct emb_opts *opts, struct emb **out,
             struct lore_err *err)
{
    *out = NULL;
    struct emb_opts def;
    if (!opts) {
        emb_opts_default(&def);
        opts = &def;
    }
    if (opts->pooling < EMB_POOL_MODEL || opts->pooling > EMB_POOL_LAST)
        return lore_err_set(err, LORE_EINVAL, "embedder: unknown pooling %d", opts->pooling);
    struct emb *e = calloc(1, sizeof *e);
    if (!e)
        return lore_err_set(err, LORE_ENOMEM, "out of memory");
    pthread_mutex_init(&e->mu, NULL);
    int rc = eng_bert_open(path, &e->model, err);
    if (rc)
        goto fail;
    const struct eng_bert_hparams *hp = eng_bert_hparams(e->model);
    e->dim = hp->n_embd;
    e->n_ctx = hp->n_ctx_train;
    e->pooling = opts->pooling != EMB_POOL_MODEL ? opts->pooling : hp->pooling;
    e->no_truncate = opts->no_truncate;
    int mb = opts->max_batch_tokens > 0 ? opts->max_batch_tokens : EMB_DEFAULT_BATCH_TOKENS;
    if ((rc = eng_bert_ctx_new(e->model, mb, opts->threads, &e->ctx, err)))
        goto fail;
    e->max_batch = eng_bert_ctx_max_tokens(e->ctx);
    e->qprefix = dup_or_empty(opts->query_prefix);
    e->dprefix = dup_or_empty(opts->doc_prefix);
    e->bids = malloc((size_t)e->max_batch * sizeof *e->bids);
    e->blens = malloc((size_t)e->max_batch * sizeof *e->blens);
    e->bout = malloc((size_t)e->max_batch * (size_t)e->dim * sizeof *e->bout);
    if (!e->qprefix || !e->dprefix || !e->bids || !e->blens || !e->bout) {
        rc = lore_err_set(err, LORE_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = make_id(e, err)))
        goto fail;
    *out = e;
    return 0;
fail:
    emb_close(e);
    return rc;
}

void emb_close(struct emb *e)
{
    if (!e)
        return;
    eng_bert_ctx_free(e->ctx);
    eng_bert_free(e->model);
    pthread_mutex_destroy(&e->mu);
    free(e->qprefix);
    free(e->dprefix);
    free(e->ids);
    free(e->refs);
    free(e->bids);
    free(e->blens);
    free(e->bout);
    free(e->tbuf);
    free(e);
}

int emb_dim(const struct emb *e) { return e->dim; }
int emb_max_tokens(const struct emb *e) { return e->n_ctx; }
const char *emb_model_id(const struct emb *e) { return e->id; }
/* The counters change under the lock; read them under it too. */
size_t emb_n_truncated(const struct emb *e)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&e->mu;
    pthread_mutex_lock(mu);
    size_t n = e->last_truncated;
    pthread_mutex_unlock(mu);
    return n;
}

void emb_get_stats(const struct emb *e, struct emb_stats *out)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&e->mu;
    pthread_mutex_lock(mu);
    *out = e->stats;
    pthread_mutex_unlock(mu);
}

/* ---- tokenising ------------------------------------------------------------------- */

/* prefix + text into e->tbuf; returns its length or -1 (no memory). */
static int64_t with_prefix(struct emb *e, const char *prefix, const char *text, size_t len)
{
    size_t pl = strlen(prefix);
    if (grow((void **)&e->tbuf, &e->tbuf_cap, pl + len + 1, 1))
        return -1;
    memcpy(e->tbuf, prefix, pl);
    memcpy(e->tbuf + pl, text, len);
    e->tbuf[pl + len] = 0;
    return (int64_t)(pl + len);
}

/* Special-token text in documents ("[SEP]") stays text: parse_special off. */
static int64_t encode(const struct emb *e, const char *s, size_t len, int32_t *ids, size_t cap)
{
    return eng_tok_encode(eng_bert_tok(e->model), s, len, true, false, ids, cap);
}

int64_t emb_count_tokens(const struct emb *e, const char *text, size_t len, bool is_query)
{
    const char *prefix = is_query ? e->qprefix : e->dprefix;
    if (!prefix[0])
        return encode(e, text, len, NULL, 0);
    size_t pl = strlen(prefix);
    char *s = malloc(pl + len + 1);
    if (!s)
        return LORE_ENOMEM;
    memcpy(s, prefix, pl);
    memcpy(s + pl, text, len);
    int64_t n = encode(e, s, pl + len, NULL, 0);
    free(s);
    return n;
}

/* Tokenises text i into e->ids at *used; fills ref. */
static int tokenize_one(struct emb *e, const char *prefix, const char *text, size_t idx,
                        size_t *used, struct text_ref *ref, struct lore_err *err)
{
    const char *s = text;
    size_t len = strlen(text);
    if (prefix[0]) {
        int64_t l = with_prefix(e, prefix, text, len);
        if (l < 0)
            return lore_err_set(err, LORE_ENOMEM, "out of memory");
        s = e->tbuf;
        len = (size_t)l;
    }
    int64_t n = encode(e, s, len, e->ids + *used, e->ids_cap - *used);
    if (n >= 0 && (size_t)n > e->ids_cap - *used) {
        if (grow((void **)&e->ids, &e->ids_cap, *used + (size_t)n, sizeof *e->ids))
            return lore_err_set(err, LORE_ENOMEM, "out of memory for %lld tokens", (long long)n);
        n = encode(e, s, len, e->ids + *used, e->ids_cap - *used);
    }
    if (n < 0)
        return lore_err_set(err, (int)n, "embedder: cannot tokenize text %zu", idx);
    if (n > e->n_ctx) {
        if (e->no_truncate)
            return lore_err_set(err, LORE_ELIMIT,
                                "embedder: text %zu has %lld tokens, more than the model's %d",
                                idx, (long long)n, e->n_ctx);
        /* keep CLS and the first tokens; end with the SEP the encoder added */
        int32_t *ids = e->ids + *used;
        int32_t sep = eng_tok_sep(eng_bert_tok(e->model));
        if (sep >= 0 && ids[n - 1] == sep)
            ids[e->n_ctx - 1] = sep;
        n = e->n_ctx;
        e->last_truncated++;
    }
    *ref = (struct text_ref){*used, (int)n, idx};
    *used += (size_t)n;
    return 0;
}

static int by_len_desc(const void *a, const void *b)
{
    const struct text_ref *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;   /* stable, deterministic */
}

/* ---- embedding ---------------------------------------------------------------------- */

static int embed_locked(struct emb *e, const char *const *texts, size_t n, float *out,
                        bool is_query, struct lore_err *err)
{
    const char *prefix = is_query ? e->qprefix : e->dprefix;
    e->last_truncated = 0;
    if (grow((void **)&e->refs, &e->refs_cap, n, sizeof *e->refs) ||
        grow((void **)&e->ids, &e->ids_cap, n * 48, sizeof *e->ids))
        return lore_err_set(err, LORE_ENOMEM, "out of memory for %zu texts", n);
    size_t used = 0, n_all = n;
    for (size_t i = 0; i < n; i++) {
        if (!texts[i])
            return lore_err_set(err, LORE_EINVAL, "embedder: text %zu is NULL", i);
        int rc = tokenize_one(e, prefix, texts[i], i, &used, &e->refs[i], err);
        if (rc)
            return rc;
    }
    qsort(e->refs, n, sizeof *e->refs, by_len_desc);
    size_t first = 0;
    /* A tokenizer without CLS/SEP can give an empty text no tokens: a zero vector. */
    while (n > 0 && first < n && e->refs[n - 1].len == 0) {
        memset(out + e->refs[n - 1].idx * (size_t)e->dim, 0, (size_t)e->dim * sizeof *out);
        n--;
    }
    while (first < n) {
        int T = 0, S = 0;
        size_t end = first;
        while (end < n && T + e->refs[end].len <= e->max_batch) {
            memcpy(e->bids + T, e->ids + e->refs[end].off, (size_t)e->refs[end].len * sizeof(int32_t));
            e->blens[S++] = e->refs[end].len;
            T += e->refs[end].len;
            end++;
        }
        double t0 = lore_now_ms();
        int rc = eng_bert_encode(e->ctx, e->bids, e->blens, S, e->pooling, NULL, e->bout, err);
        if (rc)
            return rc;
        e->stats.encode_ms += lore_now_ms() - t0;
        e->stats.batches++;
        e->stats.tokens += (uint64_t)T;
        for (int k = 0; k < S; k++)
            memcpy(out + e->refs[first + (size_t)k].idx * (size_t)e->dim, e->bout + (size_t)k * e->dim,
                   (size_t)e->dim * sizeof *out);
        first = end;
    }
    e->stats.texts += n_all;
    e->stats.truncated += e->last_truncated;
    return 0;
}

int emb_embed(struct emb *e, const char *const *texts, size_t n, float *out, bool is_query,
              struct lore_err *err)
{
    if (n == 0)
        return 0;
    if (!texts || !out)
        return lore_err_set(err, LORE_EINVAL, "embedder: no texts or no output buffer");
    pthread_mutex_lock(&e->mu);
    int rc = embed_locked(e, texts, n, out, is_query, err);
    pthread_mutex_unlock(&e->mu);
    return rc;
}
