/*
 * index.h — the knowledge base on disk: a directory holding lore.db (SQLite
 * in WAL mode, the source of truth) and a writer lock. Documents, chunks,
 * the FTS5 full-text index and BM25 search. Only index/ talks to SQLite.
 *
 *   KB_DIR/lore.db       SQLite, schema from schema/NNNN_*.sql (user_version)
 *   KB_DIR/lore.db-wal   its write-ahead log
 *   KB_DIR/lock          flock()ed exclusively by the one writer; holds its pid
 */
#ifndef LORE_INDEX_H
#define LORE_INDEX_H

#include "core/lore.h"

struct idx_kb;

enum idx_open_flags {
    IDX_READ = 0,
    IDX_WRITE = 1,      /* take the writer lock */
    IDX_CREATE = 2,     /* create the directory and database if missing */
    IDX_WAIT = 4,       /* wait for the writer lock instead of failing */
};

/* Opens the knowledge base in dir. Caller closes with idx_close. Errors:
 * LORE_ENOENT (no kb and no IDX_CREATE), LORE_EBUSY (another writer),
 * LORE_ECORRUPT (not a lore database), LORE_EVERSION (newer schema). */
int idx_open(const char *dir, int flags, struct idx_kb **out, struct lore_err *e);
void idx_close(struct idx_kb *kb);
/* Deletes a (closed) knowledge base's files and its folder, if nothing else
 * is in it: for temporary knowledge bases such as lore eval's. */
int idx_remove(const char *dir);
const char *idx_dir(const struct idx_kb *kb);
int idx_schema_version(void);

int idx_begin(struct idx_kb *kb, struct lore_err *e);
int idx_commit(struct idx_kb *kb, struct lore_err *e);
void idx_rollback(struct idx_kb *kb);

/* Finds or creates the collection called name. */
int idx_collection_ensure(struct idx_kb *kb, const char *name, int64_t *id,
                          struct lore_err *e);
/* LORE_ENOENT when there is none. */
int idx_collection_find(struct idx_kb *kb, const char *name, int64_t *id,
                        struct lore_err *e);

/* ---- documents ---------------------------------------------------------- */

struct idx_doc {
    int64_t id, collection_id;
    char *collection, *uri, *title, *mime, *hash, *status, *error, *warnings;
    int64_t size, mtime, pages, chunks, updated_at;
};

struct idx_doc_in {
    int64_t collection_id;
    const char *uri, *title, *mime, *hash;
    int64_t size, mtime;
    int pages;
    const char *status;    /* "ok" or "failed" */
    const char *error;     /* NULL unless failed */
    const char *warnings;  /* newline-separated, may be NULL */
};

struct idx_chunk_in {
    const char *text;
    const char *heading;
    int page_start, page_end;
    int64_t char_start, char_end;
    int n_tokens;
    const void *boxes;     /* word boxes blob (schema/0002_chunk_boxes.sql), or NULL */
    size_t boxes_len;
};

/* Looks up by (collection, uri). LORE_ENOENT if absent. Release with
 * idx_doc_release. */
int idx_doc_lookup(struct idx_kb *kb, int64_t collection_id, const char *uri,
                   struct idx_doc *out, struct lore_err *e);
void idx_doc_release(struct idx_doc *d);
/* Inserts the document, or replaces the one with the same (collection, uri):
 * its chunks and their FTS rows are deleted first. Run inside idx_begin. */
int idx_doc_put(struct idx_kb *kb, const struct idx_doc_in *in, int64_t *doc_id,
                struct lore_err *e);
int idx_chunk_add(struct idx_kb *kb, int64_t doc_id, int ordinal,
                  const struct idx_chunk_in *c, int64_t *chunk_id, struct lore_err *e);
/* Adds a document's chunks (ordinals 0..n-1) and indexes them in one go —
 * faster than n idx_chunk_add calls. Run inside idx_begin. */
int idx_chunks_add(struct idx_kb *kb, int64_t doc_id, const struct idx_chunk_in *c, size_t n,
                   struct lore_err *e);
/* Deletes the document and every row derived from it (chunks, FTS). */
int idx_doc_delete(struct idx_kb *kb, int64_t doc_id, struct lore_err *e);
/* Resolves "42" (a doc id) or a uri/path to a doc id; LORE_ENOENT if none. */
int idx_doc_resolve(struct idx_kb *kb, const char *spec, int64_t *doc_id,
                    struct lore_err *e);
/* Every document (of one collection if collection_id > 0), by uri. Caller
 * frees with idx_docs_free. */
int idx_docs_list(struct idx_kb *kb, int64_t collection_id, struct idx_doc **out,
                  size_t *n, struct lore_err *e);
void idx_docs_free(struct idx_doc *d, size_t n);

struct idx_stats {
    int64_t documents, chunks, collections, failed;
    int64_t bytes;          /* on-disk size of the knowledge base */
    int64_t source_bytes;   /* total size of the ingested files */
};
int idx_stats(struct idx_kb *kb, struct idx_stats *st, struct lore_err *e);

/* Verifies SQLite integrity, FTS in sync with chunks, no orphans. Appends
 * one line per problem to report; *problems = their count. */
int idx_check(struct idx_kb *kb, struct lore_buf *report, int *problems,
              struct lore_err *e);

/* ---- search ------------------------------------------------------------- */

struct idx_search_opts {
    int k;                  /* hits wanted, default 10 */
    double k1, b;           /* BM25 parameters */
    double w_title, w_heading, w_text; /* BM25F field weights */
    int keep_stopwords;     /* 1: query stopwords are kept */
    const char *collection; /* NULL = all */
    int snippets;           /* 1: fill hit.snippet */
    /* Pseudo-relevance feedback (RM3-like; see index/search.c). A first pass
     * takes the prf_docs best chunks; their terms, weighted by in-chunk
     * frequency, chunk score and idf, give prf_terms expansion terms whose
     * weights are scaled so the best one gets prf_weight (query terms get 1).
     * Expansion terms only re-rank: every hit still contains a query term.
     * Defaults: prf_docs 0 (off), prf_terms 10, prf_weight 0.1. */
    int prf_docs, prf_terms;
    double prf_weight;
    /* Adjacent query terms ("heart failure", "IL-6") also count as a phrase
     * with this weight; 0 = off. */
    double bigram_weight;
};

struct idx_hit {
    int64_t chunk_id, doc_id;
    char *uri, *title, *heading, *text, *snippet;
    int page_start, page_end;
    int64_t char_start, char_end;
    double score;
    /* Where the hit came from (idx_search_hybrid; 1-based ranks, 0 = not in
     * that list). idx_search_bm25 and idx_search_vector leave them 0. */
    int bm25_rank, vec_rank;
    double bm25_score;      /* BM25 score, when bm25_rank > 0 */
    double vec_score;       /* inner product with the query, when vec_rank > 0 */
};

struct idx_hits {
    struct idx_hit *v;
    size_t n;
};

void idx_search_opts_default(struct idx_search_opts *o);
/* BM25 over title, heading path and text. Any user text is safe: it is
 * turned into an FTS5 query of quoted terms. Caller frees with idx_hits_free. */
int idx_search_bm25(struct idx_kb *kb, const char *query,
                    const struct idx_search_opts *o, struct idx_hits **out,
                    struct lore_err *e);
void idx_hits_free(struct idx_hits *h);

/* Builds the FTS5 MATCH expression for user text: terms quoted, OR-joined,
 * stopwords dropped (unless all are stopwords or keep_stopwords), duplicates
 * dropped. Leaves out empty when the text has no searchable term. */
int idx_fts_query(const char *user, int keep_stopwords, struct lore_buf *out);

/* ---- corpus statistics ----------------------------------------------------- */

/* For each term (letters and digits only), the number of chunks whose
 * title, heading or text contains it after stemming; and the chunk count. */
int idx_term_df(struct idx_kb *kb, const char *const *terms, size_t n, int64_t *df,
                int64_t *n_chunks, struct lore_err *e);
/* Is the lowercase word w[0..n) an English function word (as queries drop)? */
int idx_is_stopword(const char *w, size_t n);


/* ---- vectors (index/vectors.c) ------------------------------------------
 *
 * One L2-normalised float32 vector per chunk, stored in SQLite
 * (chunk_vectors, schema/0003_vectors.sql) together with the identity and
 * dimension of the model that made them: vectors of two models are never
 * mixed. Vector search is exact (inner product = cosine): through FAISS
 * (IndexIDMap2 over IndexFlatIP, ids = chunk ids) when built with
 * LORE_HAVE_FAISS, else a scan of chunk_vectors in C. The FAISS index is kept
 * in memory per open kb, built lazily on the first vector search, from
 * KB_DIR/vectors.faiss when its recorded generation and checksum match,
 * otherwise from SQLite; idx_vectors_sync writes that file. */

/* The model the stored vectors belong to. *model_id is NULL and *dim 0 when
 * none is recorded; otherwise the caller frees *model_id with free(). */
int idx_vectors_model(struct idx_kb *kb, char **model_id, int *dim, struct lore_err *e);
/* Records the embedding model (identity string, dimension 1..65536). The
 * same model again is a no-op; a different one while vectors are stored is
 * refused with LORE_EINVAL (re-embedding needs idx_vectors_clear first). */
int idx_vectors_set_model(struct idx_kb *kb, const char *model_id, int dim,
                          struct lore_err *e);
/* Deletes every vector and forgets the model (to re-embed with another). */
int idx_vectors_clear(struct idx_kb *kb, struct lore_err *e);
/* Stores (or replaces) chunk_id's vector; v has dim floats, finite and not
 * all zero; it is L2-normalised before it is stored. Call inside the
 * caller's idx_begin/idx_commit. LORE_EINVAL: no model recorded, dim is not
 * the model's, or a bad vector; LORE_ENOENT: no such chunk. */
int idx_vector_put(struct idx_kb *kb, int64_t chunk_id, const float *v, int dim,
                   struct lore_err *e);
/* Up to limit chunks with id > after_id and no vector, by id: (*ids)[i]
 * and the chunk's text (*texts)[i]. Caller frees both with
 * idx_chunk_texts_free. Loop with after_id = the last id returned, so a
 * chunk that could not be embedded is not offered again in the same run. */
int idx_chunks_without_vectors(struct idx_kb *kb, int64_t after_id, int limit,
                               int64_t **ids, char ***texts, size_t *n,
                               struct lore_err *e);
void idx_chunk_texts_free(int64_t *ids, char **texts, size_t n);

/* The k chunks whose vectors have the largest inner product with q (dim
 * floats; the cosine when q is normalised), of one collection when
 * collection is not NULL; hit.score = that inner product. Exact. No vector
 * stored: no hits. Caller frees with idx_hits_free. */
int idx_search_vector(struct idx_kb *kb, const float *q, int dim, int k,
                      const char *collection, struct idx_hits **out,
                      struct lore_err *e);

struct idx_hybrid_opts {
    struct idx_search_opts bm25; /* the BM25 side; its collection and snippets
                                    apply to the whole search, its k is ignored */
    int k;                  /* fused hits wanted, default 10 */
    int n_bm25, n_vec;      /* candidates taken from each list, default 50 */
    double rrf_k;           /* reciprocal-rank constant, default 60 */
    double w_bm25, w_vec;   /* weight of each list in the fusion, default 1 */
};
void idx_hybrid_opts_default(struct idx_hybrid_opts *o);
/* BM25 top n_bm25 and vector top n_vec fused by reciprocal rank:
 * score = w_bm25 / (rrf_k + bm25_rank) + w_vec / (rrf_k + vec_rank), a
 * missing rank adding nothing; ties go to the better rank, then the smaller
 * chunk id. qvec may be NULL (or the kb may hold no vectors): then it is BM25
 * alone, scored the same way. A qvec whose qdim is not the kb's dimension is
 * LORE_EINVAL. Every hit carries both ranks and raw scores. Caller frees
 * with idx_hits_free. */
int idx_search_hybrid(struct idx_kb *kb, const char *query, const float *qvec, int qdim,
                      const struct idx_hybrid_opts *o, struct idx_hits **out,
                      struct lore_err *e);

/* Writes KB_DIR/vectors.faiss for the current vectors if it is not already
 * up to date (temp file, fsync, rename, fsync of the directory), then
 * records its generation and checksum in meta. Removes it when no vector is
 * stored. Needs a writable kb, outside a transaction; the ingest pipeline
 * calls it at the end of a run. Without FAISS it does nothing. */
int idx_vectors_sync(struct idx_kb *kb, struct lore_err *e);

enum idx_vec_source {
    IDX_VEC_NONE = 0,       /* no in-memory index (yet, or no FAISS) */
    IDX_VEC_BUILT = 1,      /* built from chunk_vectors */
    IDX_VEC_LOADED = 2,     /* read from vectors.faiss, stamp verified */
    IDX_VEC_UPDATED = 3,    /* then brought up to date incrementally */
};

struct idx_vectors_info {
    int64_t count;          /* vectors stored */
    int dim;                /* embed_dim, 0 if none */
    int64_t generation;     /* vec_generation */
    int64_t file_generation;/* faiss_generation recorded, -1 if none */
    int faiss;              /* 1: built with FAISS */
    int source;             /* enum idx_vec_source of the in-memory index */
    int64_t in_memory;      /* vectors in the in-memory index */
    int64_t generation_in_memory; /* the generation it reflects */
    int hnsw;               /* 1: the in-memory index is HNSW, 0: exact */
    int64_t deleted_in_place; /* HNSW rows deleted but not yet rebuilt away */
};
int idx_vectors_info(struct idx_kb *kb, struct idx_vectors_info *info, struct lore_err *e);

/* ---- conversations ---------------------------------------------------------- */

/* The last max questions of session id, oldest first (none for a new id).
 * Caller frees with idx_strings_free. */
int idx_session_questions(struct idx_kb *kb, const char *id, int max, char ***out, size_t *n,
                          struct lore_err *e);
/* Appends a turn (creating the session); its own transaction. */
int idx_session_add(struct idx_kb *kb, const char *id, const char *question, const char *query,
                    const char *answer, struct lore_err *e);
void idx_strings_free(char **v, size_t n);

/* ---- settings ------------------------------------------------------------------- */

/* A value from the meta table; caller frees *val. LORE_ENOENT if unset. */
int idx_meta_get(struct idx_kb *kb, const char *key, char **val, struct lore_err *e);
/* Sets (or with val NULL, removes) a value; needs a writable kb. */
int idx_meta_set(struct idx_kb *kb, const char *key, const char *val, struct lore_err *e);

/* ---- vector search options ----------------------------------------------------
 *
 * Up to vec_hnsw_threshold vectors (meta key, default 1000000) the in-memory
 * index is exact: IDMap2,Flat (inner product), searched by a scan of an int8
 * copy of its rows with an error bound, the few rows the bound cannot rule
 * out then scored exactly, so results equal a brute force. From that size on
 * it is HNSW (IDMap2,HNSWFlat over L2 — the same ranking as inner product on
 * unit vectors; scores are still inner products — with SIMD distances; meta
 * vec_hnsw_m, default 64, vec_hnsw_ef_construction, default 64,
 * vec_hnsw_ef_search, default 1200: recall@10 >= 0.95 even on uniformly
 * random vectors), approximate; vectors.faiss then
 * holds the graph, under the same stamp. Deleted vectors are dropped from
 * HNSW in place and filtered; it is rebuilt once they are a quarter of it.
 * The meta keys are read at each search (idx_meta_set changes them; the
 * index is rebuilt when the kind changes). */
struct idx_vsearch_opts {
    int exact;              /* 1: exact even when the index is HNSW */
    int ef_search;          /* HNSW candidate list size, 0 = vec_hnsw_ef_search */
};
/* idx_search_vector with options; o may be NULL. */
int idx_search_vector_ex(struct idx_kb *kb, const float *q, int dim, int k,
                         const char *collection, const struct idx_vsearch_opts *o,
                         struct idx_hits **out, struct lore_err *e);

#endif
