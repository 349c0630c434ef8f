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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64

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
        rc = emb_embed(emb, (const char *const *)texts, n, vec, false, e);
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
