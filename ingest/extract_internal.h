/*
 * extract_internal.h — private to the PDF and HTML extractors in ingest/:
 * the text normaliser they share (textnorm.c), the HTML charset decoder
 * (html_charset.c) and the PDF page-layout analyser (pdf_layout.c).
 *
 * Nothing here is part of ingest.h; only ingest/pdf*.c, ingest/html*.c and
 * ingest/textnorm.c include it.
 */
#ifndef LORE_EXTRACT_INTERNAL_H
#define LORE_EXTRACT_INTERNAL_H

#include "ingest/ingest.h"

#include <stddef.h>
#include <stdint.h>

/* ---- textnorm.c: the compatibility folding both extractors apply ---------- */

/* Maps one code point to its normalised form: ligatures expanded (U+FB01 →
 * "fi"), Arabic presentation forms to base letters, the many Unicode spaces
 * (NBSP, thin, ideographic…) to ' ', full-width ASCII letters and digits to
 * ASCII, U+2010/2011 to '-'. Soft hyphens, zero-width and bidi controls,
 * C0/C1 controls (but '\n') and private-use code points map to nothing.
 * Writes up to 4 code points to out and returns how many. */
int txn_map(uint32_t cp, uint32_t out[4]);

/* Appends the normalised form of UTF-8 text s (n bytes; invalid bytes
 * become U+FFFD) to b. Returns 0 or LORE_ENOMEM. */
int txn_append(struct lore_buf *b, const char *s, size_t n);

int txn_is_space(uint32_t cp);   /* after txn_map: ' ', '\t', '\n', '\r' */
int txn_is_cjk(uint32_t cp);     /* Han, kana, hangul, CJK punctuation */
int txn_is_rtl(uint32_t cp);     /* Hebrew, Arabic, Syriac, Thaana, N'Ko… */
int txn_is_alpha(uint32_t cp);   /* a letter, roughly (not punctuation) */
int txn_is_lower(uint32_t cp);   /* a lowercase letter, roughly */

/* Collapsing writer: appends text with runs of whitespace folded to one
 * space, no leading space and (after txn_w_trim) no trailing space. Used to
 * build HTML blocks and joined PDF lines. */
struct txn_w {
    struct lore_buf *b;
    int pending_space;  /* a space is owed before the next visible char */
};
int txn_w_put(struct txn_w *w, const char *s, size_t n); /* normalises too */
void txn_w_trim(struct txn_w *w);

/* ---- html_charset.c --------------------------------------------------------- */

/* Decodes an HTML byte stream to UTF-8: a BOM wins (UTF-8, UTF-16LE/BE),
 * then a <meta charset> / <meta http-equiv content-type> in the first 4 KiB,
 * then valid UTF-8, else windows-1252. Undecodable bytes become U+FFFD.
 * *out is caller-freed with free(); *charset names what was used (static);
 * warn (warn_cap bytes) receives a note for the document, or "". */
int html_decode(const char *uri, const char *data, size_t n, char **out,
                size_t *out_len, const char **charset, char *warn, size_t warn_cap,
                struct lore_err *e);

/* ---- pdf_layout.c ------------------------------------------------------------ */

/* One word on a page as Poppler placed it. text points into the page's
 * normalised text arena (not NUL-terminated). */
struct pdf_word {
    const char *text;
    uint32_t len;        /* bytes */
    uint32_t ncp;        /* code points (counted once, when the word is built) */
    uint32_t line;       /* Poppler's line number on the page */
    float x0, y0, x1, y1; /* points, origin top-left */
    float size;          /* font size in points */
    uint8_t bold;
    uint8_t rtl;         /* the word holds right-to-left letters */
    uint8_t vert;        /* on a rotated (vertical) line: kept out of layout */
};

/* A paragraph-level block found on a page, before the document-wide pass
 * decides headings, running headers and char spans. */
struct pdf_pblock {
    int page;            /* 1-based */
    int kind;            /* ING_PARA or ING_TABLE (ING_HEADING decided later) */
    int level;
    char *text;          /* UTF-8, NUL-terminated, in the pdf_pblocks' arena */
    size_t len;
    size_t ncp;          /* code points in text */
    struct ing_box *boxes; /* one per word, owned; NULL when unknown */
    size_t n_boxes;
    float x0, y0, x1, y1;
    float size;          /* dominant font size (by characters) */
    int bold;            /* every word is bold */
    int n_lines;
    float page_h;
    int drop;            /* running header/footer or page number */
};

struct pdf_text_chunk;

struct pdf_pblocks {
    struct pdf_pblock *v;
    size_t n, cap;
    struct pdf_text_chunk *chunks;  /* arena holding every block's text */
};

/* Lays out one page's words (in Poppler's order) into blocks appended to
 * out: segments, columns (recursive XY cut), tables, paragraphs, joined
 * lines with hyphenation undone. have_boxes = 0 when word positions are
 * synthetic (then no boxes are recorded). */
int pdf_layout_page(const struct pdf_word *w, size_t n, int page, float page_w,
                    float page_h, int have_boxes, struct pdf_pblocks *out);
void pdf_pblocks_release(struct pdf_pblocks *p);

#endif
