/* vectors_internal.h — the hooks index/kb.c calls into index/vectors.c, so
 * that deleting chunks and checking the kb also cover their vectors. */
#ifndef LORE_VECTORS_INTERNAL_H
#define LORE_VECTORS_INTERNAL_H

#include "index/index_internal.h"

/* Deletes the vectors of doc_id's chunks (before the chunks go: foreign
 * keys are on) and bumps vec_generation if any was stored. Runs inside the
 * caller's transaction. */
int idx_vectors_delete_doc(struct idx_kb *kb, int64_t doc_id, struct lore_err *e);

/* idx_check's part for vectors: vectors without a chunk, wrong dimension,
 * not normalised or not finite, vectors without a recorded model, and
 * vectors.faiss not matching its recorded stamp. Appends one line per
 * problem to report and counts them in *problems. */
void idx_vectors_check(struct idx_kb *kb, struct lore_buf *report, int *problems);

#endif
