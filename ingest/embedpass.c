/*
 * embedpass.c — embedding the chunks that have no vector yet, after the
 * files of an ingest run are stored (or all of them, for `lore reembed`).
 * Runs in this process: the model is trusted, the documents already parsed.
 * Commits every batch, so a kill loses at most one batch and the next run
 * picks up where this one stopped.
 */
#include "ingest/ingest.h"
#include "embed/embed.h"
#include "index/index.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64

/* A chunk longer than the model's context is not truncated: it is cut into
 * windows of whole words that fit, each window is embedded, and the chunk's
 * vector is the normalised mean of the windows'. */
static int embed_long(struct emb *emb, const char *text, float *out, struct lore_err *e)
{
    int dim = emb_dim(emb), max = emb_max_tokens(emb);
    size_t n = strlen(text);
    int64_t total = emb_count_tokens(emb, text, n, false);
    if (total <= max)
        return emb_embed(emb, &text, 1, out, false, e);
    /* window size in bytes, from the text's bytes per token, with margin */
    size_t win = (size_t)((double)n * (double)(max - 8) / (double)total * 0.9);
    if (win < 16)
        win = 16;
    float *v = malloc((size_t)dim * sizeof *v);
    char *part = malloc(win + 1);
    if (!v || !part) {
        free(v);
        free(part);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    memset(out, 0, (size_t)dim * sizeof *out);
    int rc = 0, parts = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t j = i + win < n ? i + win : n;
        if (j < n) { /* back to a space, never inside a word (or a UTF-8 sequence) */
            size_t k = j;
            while (k > i && text[k] != ' ' && text[k] != '\n')
                k--;
            if (k > i)
                j = k;
            else
                while (j > i && ((unsigned char)text[j] & 0xC0) == 0x80)
                    j--;
        }
        memcpy(part, text + i, j - i);
        part[j - i] = 0;
        const char *pp = part;
        rc = emb_embed(emb, &pp, 1, v, false, e);
        for (int d = 0; d < dim && !rc; d++)
            out[d] += v[d];
        parts++;
        i = j;
        while (i < n && (text[i] == ' ' || text[i] == '\n'))
            i++;
    }
    double ss = 0;
    for (int d = 0; d < dim; d++)
        ss += (double)out[d] * out[d];
    if (!rc && ss > 0)
        for (int d = 0; d < dim; d++)
            out[d] = (float)(out[d] / sqrt(ss));
    free(v);
    free(part);
    return rc;
}

int ing_embed_pending(struct idx_kb *kb, struct emb *emb, int progress, int64_t *done,
                      struct lore_err *e)
{
    *done = 0;
    int dim = emb_dim(emb);
    int rc = idx_vectors_set_model(kb, emb_model_id(emb), dim, e);
    if (rc)
        return rc;
    float *vec = malloc((size_t)BATCH * (size_t)dim * sizeof *vec);
    if (!vec)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    int64_t after = 0;
    double t0 = lore_now_ms();
    for (;;) {
        int64_t *ids;
        char **texts;
        size_t n;
        if ((rc = idx_chunks_without_vectors(kb, after, BATCH, &ids, &texts, &n, e)))
            break;
        if (n == 0) {
            idx_chunk_texts_free(ids, texts, n);
            break;
        }
        after = ids[n - 1];
        /* texts that fit go in one batch; longer ones are embedded in windows */
        size_t nf = 0;
        const char **fit = malloc(n * sizeof *fit);
        size_t *at = malloc(n * sizeof *at);
        float *fv = malloc(n * (size_t)dim * sizeof *fv);
        rc = fit && at && fv ? 0 : lore_err_set(e, LORE_ENOMEM, "out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
            if (emb_count_tokens(emb, texts[i], strlen(texts[i]), false) <= emb_max_tokens(emb)) {
                fit[nf] = texts[i];
                at[nf++] = i;
            } else {
                rc = embed_long(emb, texts[i], vec + i * (size_t)dim, e);
            }
        }
        if (!rc && nf)
            rc = emb_embed(emb, fit, nf, fv, false, e);
        for (size_t i = 0; i < nf && !rc; i++)
            memcpy(vec + at[i] * (size_t)dim, fv + i * (size_t)dim, (size_t)dim * sizeof *vec);
        free(fit);
        free(at);
        free(fv);
        if (!rc && !(rc = idx_begin(kb, e))) {
            for (size_t i = 0; i < n && !rc; i++)
                rc = idx_vector_put(kb, ids[i], vec + i * (size_t)dim, dim, e);
            if (rc)
                idx_rollback(kb);
            else
                rc = idx_commit(kb, e);
        }
        idx_chunk_texts_free(ids, texts, n);
        if (rc)
            break;
        *done += (int64_t)n;
        if (progress == 1) {
            fprintf(stderr, "\rembedding: %lld chunks (%.0f/s)", (long long)*done,
                    (double)*done * 1000.0 / (lore_now_ms() - t0 + 1e-9));
            fflush(stderr);
        }
    }
    if (progress == 1 && *done)
        fputc('\n', stderr);
    if (progress == 2 && *done)
        fprintf(stderr, "embedded %lld chunks in %.1f s\n", (long long)*done, (lore_now_ms() - t0) / 1000);
    free(vec);
    if (!rc)
        rc = idx_vectors_sync(kb, e);
    return rc;
}
