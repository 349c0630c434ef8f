/*
 * tok_spm.c — SentencePiece-style tokenization (tokenizer.ggml.model
 * "llama"), as llama.cpp does it for Llama 2, TinyLlama, Mistral v1 and
 * llama2.c vocabularies.
 *
 * The text gets a leading space when asked (add_space_prefix), every space
 * becomes U+2581 "▁", and the result is split into UTF-8 characters. Then,
 * repeatedly, the adjacent pair whose concatenation is a vocabulary token
 * with the highest score is merged (ties: leftmost first). Symbols left that
 * are not tokens fall back to their bytes as <0xXX> tokens.
 *
 * The symbols form a linked list inside one array; candidate pairs sit in a
 * binary heap and are discarded when popped if either side changed since.
 */
#include "engine/tok_internal.h"

#include <stdlib.h>
#include <string.h>

struct sym {
    int32_t prev, next;
    uint32_t off, n;        /* span of the escaped text; n == 0 once merged away */
};

struct bigram {
    int32_t left, right;
    float score;
    uint32_t size;
};

struct heap {
    struct bigram *v;
    size_t n, cap;
};

/* a comes out before b: higher score, then the leftmost */
static int before(const struct bigram *a, const struct bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(struct heap *h, struct bigram x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct bigram *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return LORE_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&x, &h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return 0;
}

static struct bigram heap_pop(struct heap *h)
{
    struct bigram top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!before(&h->v[c], &x))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = x;
    return top;
}

static int try_pair(const struct eng_tok *t, const char *s, const struct sym *sy,
                    int32_t l, int32_t r, struct heap *h)
{
    if (l < 0 || r < 0)
        return 0;
    int32_t id = tok_lookup(t, s + sy[l].off, sy[l].n + sy[r].n);
    if (id < 0)
        return 0;
    return heap_push(h, (struct bigram){l, r, t->score[id], sy[l].n + sy[r].n});
}

int tok_spm_encode(const struct eng_tok *t, const char *text, size_t len,
                   bool prefix_space, struct ivec *out)
{
    struct heap h = {0};
    struct sym *sy = NULL;
    char *s = NULL;
    size_t n = 0;
    int rc = 0;

    /* escape: optional leading space, then ' ' -> U+2581 (3 bytes) */
    s = malloc(3 * (len + 1) + 1);
    if (!s)
        return LORE_ENOMEM;
    if (prefix_space) {
        memcpy(s, "\xe2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            s[n++] = text[i];
        }
    }
    if (n == 0)
        goto done;

    size_t nsym = 0;
    for (size_t off = 0; off < n; nsym++)
        off += tok_utf8_len((unsigned char)s[off]);
    sy = malloc(nsym * sizeof *sy);
    if (!sy) {
        rc = LORE_ENOMEM;
        goto done;
    }
    int32_t ns = 0;
    for (size_t off = 0; off < n; ns++) {
        size_t cl = tok_utf8_len((unsigned char)s[off]);
        if (cl > n - off)
            cl = n - off;
        sy[ns] = (struct sym){ns - 1, -1, (uint32_t)off, (uint32_t)cl};
        off += cl;
        if (off < n)
            sy[ns].next = ns + 1;
    }
    for (int32_t i = 1; i < ns; i++)
        if ((rc = try_pair(t, s, sy, i - 1, i, &h)))
            goto done;

    while (h.n) {
        struct bigram b = heap_pop(&h);
        struct sym *l = &sy[b.left], *r = &sy[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;               /* stale: one side was merged since */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sy[r->next].prev = b.left;
        if ((rc = try_pair(t, s, sy, l->prev, b.left, &h)) ||
            (rc = try_pair(t, s, sy, b.left, l->next, &h)))
            goto done;
    }

    for (int32_t i = 0; i != -1; i = sy[i].next) {
        int32_t id = tok_lookup(t, s + sy[i].off, sy[i].n);
        if (id >= 0) {
            rc = ivec_push(out, id);
        } else {
            for (uint32_t j = 0; j < sy[i].n && !rc; j++) {
                int32_t bt = t->byte_tok[(unsigned char)s[sy[i].off + j]];
                if (bt >= 0)
                    rc = ivec_push(out, bt);
            }
        }
        if (rc)
            goto done;
    }
done:
    free(h.v);
    free(sy);
    free(s);
    return rc;
}
