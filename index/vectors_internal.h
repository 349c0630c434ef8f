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

/* lore's extensions to the FAISS C API, in index/faiss_c_compat.cpp (built
 * over the C++ API even when a system libfaiss_c provides the rest). The
 * handles are FaissIndex* as in the C API. */
#if defined(LORE_HAVE_FAISS)
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
struct FaissIndex_H;
/* The message of the last failing lore_faiss_* call on this thread. */
const char *lore_faiss_last_error(void);
/* A new IndexHNSWFlat (L2, which over unit vectors ranks as inner product;
 * m links per node) in *out, its storage an IndexFlat whose distances use
 * the engine's SIMD dot product; -1 on error. */
int lore_faiss_hnsw_new(struct FaissIndex_H **out, int d, int m, int ef_construction);
/* After a load: gives an IndexIDMap2 over an IndexHNSWFlat the SIMD
 * storage lore_faiss_hnsw_new uses (no-op for other indexes); -1 on error. */
int lore_faiss_prepare(struct FaissIndex_H *map);
/* The kind of index an IndexIDMap2 wraps: 0 IndexFlat, 1 IndexHNSWFlat, -1 other. */
int lore_faiss_kind(const struct FaissIndex_H *map);
/* The float vectors an IndexIDMap2 over IndexFlat or IndexHNSWFlat holds:
 * *xb = n × d floats, row i being id_map[i]'s vector. -1 if neither. */
int lore_faiss_vectors(const struct FaissIndex_H *map, const float **xb, size_t *n);
/* faiss_Index_search of one query, run on the calling thread only. For an
 * HNSW over L2 the distances are turned back into inner products,
 * 1 − d²/2 (exact for unit vectors), so callers always see inner products. */
int lore_faiss_search1(const struct FaissIndex_H *index, const float *q, int64_t k, float *distances,
                       int64_t *labels);
/* Sets efSearch of the IndexHNSWFlat an IndexIDMap2 wraps (no-op otherwise). */
void lore_faiss_hnsw_set_ef(struct FaissIndex_H *map, int ef);
#ifdef __cplusplus
}
#endif
#endif

#endif
