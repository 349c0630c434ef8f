/*
 * ingest.h — turning files into documents, documents into chunks, and
 * folders into a knowledge base.
 *
 * The document model: an extractor (text, Markdown, PDF, HTML) turns one
 * file into a struct ing_doc, an ordered list of blocks. Every block knows
 * its page (1-based; 0 when the format has no pages), its heading path
 * ("Guide > Install > Debian"), its kind, and its char span: offsets in
 * Unicode code points, end exclusive, into the source text (for text and
 * Markdown: the decoded file; for PDF: the text of that page as lore
 * extracted it). The chunker packs blocks into chunks under a token budget.
 */
#ifndef LORE_INGEST_H
#define LORE_INGEST_H

#include "core/lore.h"

struct idx_kb;

enum ing_block_kind {
    ING_PARA = 0,
    ING_HEADING = 1,  /* the heading's own text; it also enters the heading path */
    ING_LIST = 2,
    ING_CODE = 3,     /* verbatim: whitespace is significant */
    ING_TABLE = 4,    /* rows as lines, cells separated by " | " */
    ING_QUOTE = 5,
};

/* A word's box on its page, in PDF points from the top-left corner, and
 * the word's span in code points within its block's text (cs..ce). page is
 * filled in when boxes are gathered into a chunk. */
struct ing_box {
    float x0, y0, x1, y1;
    int32_t cs, ce;
    int32_t page;
};

struct ing_block {
    char *text;            /* UTF-8, NUL-terminated, owned by the doc */
    size_t len;            /* bytes */
    int page;              /* 1-based, 0 = unpaged */
    int kind;              /* enum ing_block_kind */
    int level;             /* heading level 1..6 for ING_HEADING, else 0 */
    char *heading;         /* heading path in force, " > "-joined; owned */
    int64_t char_start;    /* code points into the source / page text */
    int64_t char_end;
    struct ing_box *boxes; /* optional word boxes (PDF), owned; may be NULL */
    size_t n_boxes;
};

struct ing_doc {
    char *uri;             /* owned */
    char *title;           /* owned, may be "" */
    char *mime;            /* owned */
    int pages;             /* 0 when unpaged */
    struct ing_block *blocks;
    size_t n_blocks, cap_blocks;
    char **warnings;       /* human-readable, owned */
    size_t n_warnings;
};

/* Caller frees with ing_doc_free. */
struct ing_doc *ing_doc_new(const char *uri, const char *mime);
void ing_doc_free(struct ing_doc *d);
int ing_doc_set_title(struct ing_doc *d, const char *title);
/* Appends a block (text copied; n bytes). Empty/whitespace-only text is
 * ignored (returns 0). heading may be NULL. */
int ing_doc_add(struct ing_doc *d, int kind, int level, int page,
                const char *heading, const char *text, size_t n,
                int64_t char_start, int64_t char_end);
int ing_doc_warn(struct ing_doc *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- extractors -------------------------------------------------------- */

/* Decodes raw bytes to UTF-8: UTF-8 (BOM stripped), UTF-16LE/BE with BOM,
 * else rejects with LORE_EENCODING naming the byte offset — unless
 * allow_latin1, in which case invalid UTF-8 is read as Windows-1252.
 * *out is caller-freed with free(). */
int ing_decode_text(const char *data, size_t n, int allow_latin1,
                    char **out, size_t *out_len, struct lore_err *e);

/* Guesses a MIME type from the name and the first bytes. */
const char *ing_sniff_mime(const char *path, const char *data, size_t n);

struct ing_extract_opts {
    const char *password;  /* for encrypted PDFs; may be NULL */
};

/* Extracts any supported file (by MIME) into a new doc (caller frees with
 * ing_doc_free). uri is stored as given. */
int ing_extract(const char *uri, const char *mime, const char *data, size_t n,
                const struct ing_extract_opts *opts, struct ing_doc **out,
                struct lore_err *e);
int ing_extract_text(const char *uri, const char *data, size_t n,
                     struct ing_doc **out, struct lore_err *e);
int ing_extract_markdown(const char *uri, const char *data, size_t n,
                         struct ing_doc **out, struct lore_err *e);
int ing_extract_html(const char *uri, const char *data, size_t n,
                     struct ing_doc **out, struct lore_err *e);
int ing_extract_pdf(const char *uri, const char *data, size_t n,
                    const struct ing_extract_opts *opts, struct ing_doc **out,
                    struct lore_err *e);

/* Prints the doc as lore extract --json does into b. */
int ing_doc_to_json(const struct ing_doc *d, struct lore_buf *b);

/* ---- chunker ------------------------------------------------------------ */

struct ing_chunk {
    char *text;            /* owned */
    size_t len;
    char *heading;         /* owned */
    int page_start, page_end;
    int64_t char_start, char_end;
    int n_tokens;          /* words, until real tokenizers exist */
    struct ing_box *boxes; /* word boxes of the passage (PDF), owned; may be NULL */
    size_t n_boxes;
};

struct ing_chunk_opts {
    int max_tokens;        /* default 250 */
    int overlap_tokens;    /* default 40 */
};

void ing_chunk_opts_default(struct ing_chunk_opts *o);
/* Caller frees with ing_chunks_free. */
int ing_chunk_doc(const struct ing_doc *d, const struct ing_chunk_opts *o,
                  struct ing_chunk **out, size_t *n_out, struct lore_err *e);
void ing_chunks_free(struct ing_chunk *c, size_t n);

/* ---- isolated extraction --------------------------------------------------- */

/* Limits for parsing one untrusted file in a child process. */
struct ing_limits {
    int mem_mb;    /* address space, default 2048 */
    int cpu_s;     /* CPU seconds, default 120 */
    int wall_s;    /* wall-clock seconds, default 180 */
    int out_mb;    /* result size, default 512 */
    int isolate;   /* 0: run in this process (tests, debugging) */
};

/* What a parse produces: the document's metadata and its chunks. */
struct ing_result {
    char *title;
    int pages;
    char **warnings;
    size_t n_warnings;
    struct ing_chunk *chunks;
    size_t n_chunks;
};

void ing_limits_default(struct ing_limits *l);
/* Extracts and chunks one file, in a worker process unless !l->isolate.
 * A crash, hang or limit hit in the parser is an error naming it
 * ("parser crashed (segmentation fault, signal 11)"). res is released with
 * ing_result_free. */
int ing_extract_chunks(const char *uri, const char *mime, const char *data, size_t n,
                       const struct ing_extract_opts *xo, const struct ing_chunk_opts *co,
                       const struct ing_limits *l, struct ing_result *res, struct lore_err *e);
void ing_result_free(struct ing_result *r);

/* ---- pipeline ------------------------------------------------------------ */

struct ing_opts {
    const char *collection;     /* default "default" */
    int prune;                  /* remove documents whose files are gone */
    int retry_failed;
    int progress;               /* 1: progress bar (TTY), 2: plain lines, 0: quiet */
    const char *password;
    struct ing_chunk_opts chunk;
    struct ing_limits limits;
    int jobs;                   /* parser workers at once; 0 = online CPUs */
};

struct ing_report {
    int64_t seen, added, updated, unchanged, failed, pruned, chunks;
    double ms;
};

void ing_opts_default(struct ing_opts *o);
/* Ingests files and folders into kb (which must be open for writing). Per-file
 * failures are recorded on the document and counted, not returned. */
int ing_run(struct idx_kb *kb, const char *const *paths, size_t n_paths,
            const struct ing_opts *o, struct ing_report *r, struct lore_err *e);

/* ---- embeddings -------------------------------------------------------------- */

struct emb;
/* Embeds every chunk of kb that has no vector yet (batches, each its own
 * transaction), records the model's identity (refusing a different model's
 * vectors: re-embed with idx_vectors_clear first), then writes the vector
 * index file. *done = chunks embedded. progress as in ing_opts. */
int ing_embed_pending(struct idx_kb *kb, struct emb *emb, int progress, int64_t *done,
                      struct lore_err *e);

#endif
