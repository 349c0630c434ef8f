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

static int try_pair(const struct eng_tok *t, const char *s, const struct tok_sym *sy,
                    int32_t l, int32_t r, struct tok_heap *h)
{
    if (l < 0 || r < 0)
        return 0;
    int32_t id = tok_lookup(t, s + sy[l].off, sy[l].n + sy[r].n);
    if (id < 0)
        return 0;
    /* the heap pops the lowest key first: the highest score */
    return tok_heap_push(h, (struct tok_bigram){l, r, -(double)t->score[id], sy[l].n + sy[r].n});
}

int tok_spm_encode(const struct eng_tok *t, const char *text, size_t len,
                   bool prefix_space, struct ivec *out)
{
    struct tok_heap h = {0};
    struct tok_sym *sy = NULL;
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
        sy[ns] = (struct tok_sym){ns - 1, -1, (uint32_t)off, (uint32_t)cl};
        off += cl;
        if (off < n)
            sy[ns].next = ns + 1;
    }
    for (int32_t i = 1; i < ns; i++)
        if ((rc = try_pair(t, s, sy, i - 1, i, &h)))
            goto done;

    while (h.n) {
        struct tok_bigram b = tok_heap_pop(&h);
        struct tok_sym *l = &sy[b.left], *r = &sy[b.right];
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
