/*
 * sample.c — choosing the next token, chat templates, and the generation
 * loop (prompt as one batched pass, then one token at a time, streamed,
 * with stop strings held back until they can no longer match).
 *
 * Sampling order: repetition penalty → (greedy if temp <= 0) → top-k →
 * temperature → softmax → top-p → min-p → draw with a seeded xorshift PRNG.
 */
#include "engine/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct eng_sampler {
    struct eng_sampler_opts o;
    int n_vocab;
    uint64_t rng;
    int *idx;       /* [n_vocab] candidate ids */
    float *p;       /* [n_vocab] */
};

void eng_sampler_opts_default(struct eng_sampler_opts *o)
{
    o->temp = 0.0f;
    o->top_k = 40;
    o->top_p = 0.95f;
    o->min_p = 0.05f;
    o->repeat_penalty = 1.0f;
    o->repeat_last_n = 64;
    o->seed = 0x10fe5eedULL;
}

int eng_sampler_new(const struct eng_sampler_opts *o, int n_vocab, struct eng_sampler **out)
{
    struct eng_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return LORE_ENOMEM;
    s->o = *o;
    s->n_vocab = n_vocab;
    s->rng = o->seed ? o->seed : 0x9e3779b97f4a7c15ULL;
    s->idx = malloc((size_t)n_vocab * sizeof *s->idx);
    s->p = malloc((size_t)n_vocab * sizeof *s->p);
    if (!s->idx || !s->p) {
        eng_sampler_free(s);
        return LORE_ENOMEM;
    }
    *out = s;
    return 0;
}

void eng_sampler_free(struct eng_sampler *s)
{
    if (!s)
        return;
    free(s->idx);
    free(s->p);
    free(s);
}

static double rand01(struct eng_sampler *s)
{
    /* xorshift64* */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static const float *g_sort_logits;

static int by_logit_desc(const void *a, const void *b)
{
    float x = g_sort_logits[*(const int *)a], y = g_sort_logits[*(const int *)b];
    return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

int32_t eng_sample(struct eng_sampler *s, float *logits, const int32_t *history, int n_hist)
{
    int V = s->n_vocab;
    const struct eng_sampler_opts *o = &s->o;
    if (o->repeat_penalty != 1.0f && n_hist > 0) {
        int from = o->repeat_last_n > 0 && n_hist > o->repeat_last_n ? n_hist - o->repeat_last_n : 0;
        for (int i = from; i < n_hist; i++) {
            int32_t id = history[i];
            if (id < 0 || id >= V)
                continue;
            int seen = 0; /* penalise each id once */
            for (int j = from; j < i && !seen; j++)
                seen = history[j] == id;
            if (seen)
                continue;
            logits[id] = logits[id] > 0 ? logits[id] / o->repeat_penalty : logits[id] * o->repeat_penalty;
        }
    }
    if (o->temp <= 0.0f) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
    /* candidates: top-k by partial selection (full sort when k is off) */
    int n = V;
    for (int i = 0; i < V; i++)
        s->idx[i] = i;
    int k = o->top_k > 0 && o->top_k < V ? o->top_k : V;
    if (k < V) {
        /* keep the k best with a simple threshold pass: find the k-th largest */
        float *tmp = s->p;
        memcpy(tmp, logits, (size_t)V * sizeof *tmp);
        int lo = 0, hi = V - 1, want = k - 1;
        while (lo < hi) { /* quickselect, descending */
            float piv = tmp[(lo + hi) / 2];
            int i = lo, j = hi;
            while (i <= j) {
                while (tmp[i] > piv) i++;
                while (tmp[j] < piv) j--;
                if (i <= j) {
                    float t = tmp[i];
                    tmp[i] = tmp[j];
                    tmp[j] = t;
                    i++;
                    j--;
                }
            }
            if (want <= j) hi = j;
            else if (want >= i) lo = i;
            else break;
        }
        float kth = tmp[want];
        n = 0;
        for (int i = 0; i < V && n < V; i++)
            if (logits[i] >= kth)
                s->idx[n++] = i;
    }
    g_sort_logits = logits;
    qsort(s->idx, (size_t)n, sizeof *s->idx, by_logit_desc);
    if (n > k)
        n = k;
    /* softmax with temperature */
    float mx = logits[s->idx[0]];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        s->p[i] = expf((logits[s->idx[i]] - mx) / o->temp);
        sum += s->p[i];
    }
    for (int i = 0; i < n; i++)
        s->p[i] = (float)(s->p[i] / sum);
    if (o->top_p > 0.0f && o->top_p < 1.0f) {
        double c = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            c += s->p[i];
            if (c >= o->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (o->min_p > 0.0f) {
        float lim = s->p[0] * o->min_p;
        int keep = 1;
        while (keep < n && s->p[keep] >= lim)
            keep++;
        n = keep;
    }
    double tot = 0;
    for (int i = 0; i < n; i++)
        tot += s->p[i];
    double r = rand01(s) * tot;
    for (int i = 0; i < n; i++) {
        r -= s->p[i];
        if (r <= 0)
            return s->idx[i];
    }
    return s->idx[n - 1];
}

/* ---- chat templates ----------------------------------------------------------- */

static int put(struct lore_buf *b, const char *s)
{
    return lore_buf_puts(b, s);
}

int eng_chat_render(enum eng_chat_family f, const struct eng_chat_msg *msgs, size_t n,
                    int add_assistant, struct lore_buf *b)
{
    int rc = 0;
    const char *sys = NULL;
    size_t first = 0;
    if (n && strcmp(msgs[0].role, "system") == 0) {
        sys = msgs[0].content;
        first = 1;
    }
    switch (f) {
    case ENG_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++)
            rc |= lore_buf_printf(b, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", msgs[i].role,
                                  msgs[i].content);
        if (add_assistant)
            rc |= put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case ENG_CHAT_LLAMA2:
    case ENG_CHAT_MISTRAL:
        for (size_t i = first; i < n; i++) {
            if (strcmp(msgs[i].role, "assistant") == 0) {
                rc |= lore_buf_printf(b, " %s</s>", msgs[i].content);
                continue;
            }
            if (i == first && sys) {
                if (f == ENG_CHAT_LLAMA2)
                    rc |= lore_buf_printf(b, "[INST] <<SYS>>\n%s\n<</SYS>>\n\n%s [/INST]", sys, msgs[i].content);
                else
                    rc |= lore_buf_printf(b, "[INST] %s\n\n%s[/INST]", sys, msgs[i].content);
            } else {
                rc |= lore_buf_printf(b, f == ENG_CHAT_LLAMA2 ? "[INST] %s [/INST]" : "[INST] %s[/INST]",
                                      msgs[i].content);
            }
        }
        break;
    case ENG_CHAT_GEMMA:
        for (size_t i = first; i < n; i++) {
            const char *role = strcmp(msgs[i].role, "assistant") == 0 ? "model" : "user";
            if (i == first && sys)
                rc |= lore_buf_printf(b, "<start_of_turn>%s\n%s\n\n%s<end_of_turn>\n", role, sys, msgs[i].content);
            else
                rc |= lore_buf_printf(b, "<start_of_turn>%s\n%s<end_of_turn>\n", role, msgs[i].content);
        }
        if (add_assistant)
            rc |= put(b, "<start_of_turn>model\n");
        break;
    case ENG_CHAT_PHI3:
        for (size_t i = 0; i < n; i++)
            rc |= lore_buf_printf(b, "<|%s|>\n%s<|end|>\n", msgs[i].role, msgs[i].content);
        if (add_assistant)
            rc |= put(b, "<|assistant|>\n");
        break;
    case ENG_CHAT_CHATML:
    default:
        for (size_t i = 0; i < n; i++)
            rc |= lore_buf_printf(b, "<|im_start|>%s\n%s<|im_end|>\n", msgs[i].role, msgs[i].content);
        if (add_assistant)
            rc |= put(b, "<|im_start|>assistant\n");
        break;
    }
    return rc ? LORE_ENOMEM : 0;
}

/* ---- generation ---------------------------------------------------------------------- */

void eng_gen_opts_default(struct eng_gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = 256;
    eng_sampler_opts_default(&o->sampling);
}

void eng_gen_result_release(struct eng_gen_result *r)
{
    free(r->tokens);
    free(r->text);
    memset(r, 0, sizeof *r);
}

/* Length of the longest suffix of s that is a proper prefix of a stop string. */
static size_t held_back(const char *s, size_t n, const char *const *stop, size_t n_stop)
{
    size_t best = 0;
    for (size_t i = 0; i < n_stop; i++) {
        size_t sl = strlen(stop[i]);
        for (size_t k = sl > n ? n : sl - 1; k > best; k--)
            if (memcmp(s + n - k, stop[i], k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

/* Bytes of s that form complete UTF-8 sequences at the end (so a streamed
 * piece never splits a character). */
static size_t utf8_complete(const char *s, size_t n)
{
    size_t i = n, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0)
        return n;
    unsigned char c = (unsigned char)s[i - 1];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return back + 1 >= need ? n : i - 1;
}

int eng_generate(struct eng_ctx *c, const int32_t *prompt, int n_prompt, const struct eng_gen_opts *o,
                 struct eng_gen_result *r, struct lore_err *e)
{
    memset(r, 0, sizeof *r);
    const struct eng_model *m = eng_ctx_model(c);
    const struct eng_tok *tok = eng_model_tok(m);
    int V = eng_model_hparams(m)->n_vocab;
    if (n_prompt <= 0)
        return lore_err_set(e, LORE_EINVAL, "empty prompt");
    int n_ctx = eng_ctx_n_ctx(c);
    if (n_prompt >= n_ctx)
        return lore_err_set(e, LORE_ELIMIT, "the prompt has %d tokens but the context holds %d", n_prompt,
                            n_ctx);
    int n_max = o->n_predict > 0 ? o->n_predict : n_ctx;
    if (n_prompt + n_max > n_ctx)
        n_max = n_ctx - n_prompt;
    float *logits = malloc((size_t)V * sizeof *logits);
    int32_t *hist = malloc((size_t)(n_prompt + n_max + 1) * sizeof *hist);
    struct eng_sampler *smp = NULL;
    struct lore_buf text;
    lore_buf_init(&text);
    int rc = 0;
    if (!logits || !hist || eng_sampler_new(&o->sampling, V, &smp)) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(hist, prompt, (size_t)n_prompt * sizeof *hist);
    int n_hist = n_prompt;
    eng_ctx_rewind(c, 0);
    double t0 = lore_now_ms();
    if ((rc = eng_decode(c, prompt, n_prompt, logits, 0, e)))
        goto out;
    double t1 = lore_now_ms();
    r->prompt_ms = t1 - t0;
    r->n_prompt = n_prompt;
    r->stop_reason = "length";
    size_t emitted = 0; /* bytes of text already given to on_text */
    char piece[256];
    for (int i = 0; i < n_max; i++) {
        int32_t id = eng_sample(smp, logits, hist, n_hist);
        if (!o->ignore_eos && eng_tok_is_eog(tok, id)) {
            r->stop_reason = "eos";
            break;
        }
        hist[n_hist++] = id;
        r->n_tokens++;
        int64_t pl = eng_tok_piece(tok, id, false, piece, sizeof piece);
        const char *pp = piece;
        /* SentencePiece: the space the encoder would prefix to the first word
         * is dropped from the piece right after BOS */
        if (pl > 0 && piece[0] == ' ' && eng_tok_kind(tok) == ENG_TOK_SPM &&
            hist[n_hist - 2] == eng_tok_bos(tok)) {
            pp++;
            pl--;
        }
        if (pl > 0 && lore_buf_append(&text, pp, (size_t)(pl < (int64_t)sizeof piece ? pl : (int64_t)sizeof piece))) {
            rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
            goto out;
        }
        /* stop strings: cut the text at the first match */
        int stopped = 0;
        for (size_t k = 0; k < o->n_stop && text.len; k++) {
            const char *hit = memmem(text.data, text.len, o->stop[k], strlen(o->stop[k]));
            if (hit && strlen(o->stop[k])) {
                text.len = (size_t)(hit - text.data);
                text.data[text.len] = 0;
                stopped = 1;
            }
        }
        size_t safe = text.len;
        if (!stopped)
            safe -= held_back(text.data, text.len, o->stop, o->n_stop);
        safe = utf8_complete(text.data, safe);
        if (safe < emitted)
            safe = emitted;
        if (o->on_text && safe > emitted) {
            if (o->on_text(o->ud, text.data + emitted, safe - emitted)) {
                emitted = safe;
                r->stop_reason = "callback";
                break;
            }
            emitted = safe;
        }
        if (stopped) {
            r->stop_reason = "stop";
            break;
        }
        if (i + 1 == n_max)
            break;
        if ((rc = eng_decode(c, &id, 1, logits, 0, e)))
            goto out;
    }
    if (o->on_text && text.len > emitted && strcmp(r->stop_reason, "callback") != 0)
        o->on_text(o->ud, text.data + emitted, text.len - emitted);
    r->gen_ms = lore_now_ms() - t1;
    r->tokens = malloc((size_t)(r->n_tokens ? r->n_tokens : 1) * sizeof *r->tokens);
    if (!r->tokens) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(r->tokens, hist + n_prompt, (size_t)r->n_tokens * sizeof *r->tokens);
    r->text = lore_buf_detach(&text, &r->text_len);
out:
    if (rc)
        eng_gen_result_release(r);
    lore_buf_release(&text);
    free(logits);
    free(hist);
    eng_sampler_free(smp);
    return rc;
}
