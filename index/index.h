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
     * prf_docs 0 = off. */
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

#endif
