/*
 * chunk.c — the structure-aware chunker.
 *
 * Blocks are grouped into sections (a run of blocks under one heading path);
 * a chunk never crosses a section boundary. Inside a section the text is cut
 * into units — sentences for prose, lines for code and tables — and units
 * are packed into chunks of at most max_tokens tokens. The next chunk starts
 * with whole trailing units of the previous one worth at most overlap_tokens
 * (context carried across the cut). A unit longer than the budget is cut at
 * word boundaries (between words, or between CJK characters, which have no
 * spaces). Tokens are words until the embedder's tokenizer is wired in.
 *
 * Char spans: when a block's text is a verbatim slice of its source (span
 * length == text length in code points), unit spans are exact; otherwise the
 * unit gets its whole block's span, which still contains the passage.
 */
#include "ingest/ingest.h"

#include <stdlib.h>
#include <string.h>

void ing_chunk_opts_default(struct ing_chunk_opts *o)
{
    o->max_tokens = 250;
    o->overlap_tokens = 40;
}

struct unit {
    const char *s;   /* into the block's text */
    size_t len;
    int ntok;
    size_t block;    /* index into doc blocks */
    int64_t cs, ce;  /* char span */
    int64_t bcs, bce; /* code points within the block's text */
    int sep;         /* separator before this unit: 0 none, 1 space, 2 newline, 3 blank line */
};

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_cjk(uint32_t cp)
{
    return (cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFFEF) ||
           (cp >= 0x20000 && cp <= 0x3FFFF) || (cp >= 0x3040 && cp <= 0x30FF);
}

/* Counts tokens: whitespace-separated words, each CJK character one token. */
static int count_tokens(const char *s, size_t n)
{
    int t = 0, in_word = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = lore_utf8_decode(s + i, n - i, &cp);
        if (l <= 0)
            l = 1;
        if (is_space((unsigned char)s[i])) {
            in_word = 0;
        } else if (is_cjk(cp)) {
            t++;
            in_word = 0;
        } else if (!in_word) {
            t++;
            in_word = 1;
        }
        i += (size_t)l;
    }
    return t;
}

static const char *const abbrevs[] = {
    "e.g", "i.e", "etc", "vs", "cf", "al", "fig", "figs", "eq", "eqs", "no", "nos", "vol",
    "pp", "p", "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "inc", "ltd", "co", "corp",
    "approx", "ca", "resp", "ref", "refs", "sec", "ch", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "ph.d", "dept", "est",
};

/* Is the '.' at s[i] the end of an abbreviation or initial? */
static int is_abbrev(const char *s, size_t i)
{
    size_t j = i;
    while (j > 0 && !is_space((unsigned char)s[j - 1]) && s[j - 1] != '(' && s[j - 1] != '"')
        j--;
    size_t wl = i - j;
    if (wl == 0)
        return 0;
    if (wl == 1 && s[j] >= 'A' && s[j] <= 'Z')
        return 1; /* an initial: "J. Smith" */
    if (wl > 8)
        return 0;
    char w[12];
    for (size_t k = 0; k < wl; k++) {
        char c = s[j + k];
        w[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    w[wl] = 0;
    for (size_t k = 0; k < sizeof abbrevs / sizeof abbrevs[0]; k++)
        if (strcmp(w, abbrevs[k]) == 0)
            return 1;
    /* a number like "3.14" never gets here (no space after); "No. 5" handled above */
    return 0;
}

struct units {
    struct unit *v;
    size_t n, cap;
};

static int push_unit(struct units *u, const struct unit *x)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 64;
        struct unit *nv = realloc(u->v, cap * sizeof *nv);
        if (!nv)
            return LORE_ENOMEM;
        u->v = nv;
        u->cap = cap;
    }
    u->v[u->n++] = *x;
    return 0;
}

/* Adds s[0..n) of block bi as one or more units no longer than max tokens. */
static int add_piece(struct units *u, const struct ing_block *b, size_t bi, const char *s, size_t n,
                     int sep, int exact, int max)
{
    while (n && is_space((unsigned char)*s) && b->kind != ING_CODE && b->kind != ING_LIST) {
        s++;
        n--;
    }
    while (n && is_space((unsigned char)s[n - 1]))
        n--;
    if (!n)
        return 0;
    int64_t off = (int64_t)lore_utf8_len(b->text, (size_t)(s - b->text));
    int64_t ulen = (int64_t)lore_utf8_len(s, n);
    struct unit x = {s, n, count_tokens(s, n), bi, b->char_start, b->char_end, off, off + ulen, sep};
    if (exact) {
        x.cs = b->char_start + off;
        x.ce = x.cs + ulen;
    }
    if (x.ntok <= max)
        return push_unit(u, &x);
    /* too long: cut between words (or between CJK characters) */
    size_t start = 0;
    int t = 0, in_word = 0;
    size_t last_cut = 0;
    for (size_t i = 0; i <= n;) {
        uint32_t cp = 0;
        int l = i < n ? lore_utf8_decode(s + i, n - i, &cp) : 1;
        if (l <= 0)
            l = 1;
        int boundary = i == n;
        if (!boundary) {
            if (is_space((unsigned char)s[i])) {
                in_word = 0;
            } else if (is_cjk(cp)) {
                if (t == max) {
                    boundary = 1;
                } else {
                    t++;
                    in_word = 0;
                }
            } else if (!in_word) {
                if (t == max)
                    boundary = 1;
                else {
                    t++;
                    in_word = 1;
                }
            }
        }
        if (boundary) {
            last_cut = i;
            int rc = add_piece(u, b, bi, s + start, last_cut - start, start ? 1 : sep, exact, max + 1);
            if (rc)
                return rc;
            start = i;
            t = 0;
            in_word = 0;
            if (i == n)
                break;
            continue; /* re-read this char as the first of the next piece */
        }
        i += (size_t)l;
    }
    return 0;
}

/* Splits a prose block into sentences. */
static int split_sentences(struct units *u, const struct ing_block *b, size_t bi, int sep, int exact,
                           int max)
{
    const char *s = b->text;
    size_t n = b->len, start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        size_t end = 0;
        if (c == '.' || c == '!' || c == '?') {
            size_t j = i + 1;
            while (j < n && (s[j] == '"' || s[j] == '\'' || s[j] == ')' || s[j] == ']' || s[j] == '.'))
                j++;
            if (j < n && is_space((unsigned char)s[j]) && !(c == '.' && is_abbrev(s, i))) {
                /* the next sentence should not start lowercase (e.g. "approx. three") */
                size_t k = j;
                while (k < n && is_space((unsigned char)s[k]))
                    k++;
                if (k < n && !(s[k] >= 'a' && s[k] <= 'z'))
                    end = j;
            }
        } else if ((unsigned char)c == 0xE3 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   (unsigned char)s[i + 2] == 0x82) { /* 。 */
            end = i + 3;
        } else if (c == '\n' && i + 1 < n && s[i + 1] == '\n') {
            end = i + 2;
        }
        if (end) {
            int rc = add_piece(u, b, bi, s + start, end - start, start ? 1 : sep, exact, max);
            if (rc)
                return rc;
            start = end;
            i = end - 1;
        }
    }
    return add_piece(u, b, bi, s + start, n - start, start ? 1 : sep, exact, max);
}

/* Splits a block into lines (code, tables, lists). */
static int split_lines(struct units *u, const struct ing_block *b, size_t bi, int sep, int exact,
                       int max)
{
    const char *s = b->text;
    size_t n = b->len, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '\n') {
            int rc = add_piece(u, b, bi, s + start, i - start, start ? 2 : sep, exact, max);
            if (rc)
                return rc;
            start = i + 1;
        }
    }
    return 0;
}

struct out {
    struct ing_chunk *v;
    size_t n, cap;
};

static int emit(struct out *o, const struct ing_doc *d, const struct unit *u, size_t a, size_t z)
{
    if (a >= z)
        return 0;
    struct lore_buf b;
    lore_buf_init(&b);
    int rc = 0, ntok = 0;
    for (size_t i = a; i < z && !rc; i++) {
        if (i > a) {
            int sep = u[i].sep ? u[i].sep : 1;
            rc |= lore_buf_puts(&b, sep == 3 ? "\n\n" : sep == 2 ? "\n" : " ");
        }
        rc |= lore_buf_append(&b, u[i].s, u[i].len);
        ntok += u[i].ntok;
    }
    if (rc || !b.len) {
        lore_buf_release(&b);
        return rc ? LORE_ENOMEM : 0;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 32;
        struct ing_chunk *nv = realloc(o->v, cap * sizeof *nv);
        if (!nv) {
            lore_buf_release(&b);
            return LORE_ENOMEM;
        }
        o->v = nv;
        o->cap = cap;
    }
    struct ing_chunk *c = &o->v[o->n];
    memset(c, 0, sizeof *c);
    c->text = lore_buf_detach(&b, &c->len);
    c->heading = strdup(d->blocks[u[a].block].heading);
    if (!c->text || !c->heading) {
        free(c->text);
        free(c->heading);
        return LORE_ENOMEM;
    }
    c->page_start = d->blocks[u[a].block].page;
    c->page_end = d->blocks[u[z - 1].block].page;
    c->char_start = u[a].cs;
    c->char_end = u[z - 1].ce;
    for (size_t i = a; i < z; i++) {
        if (u[i].cs < c->char_start && d->blocks[u[i].block].page == c->page_start)
            c->char_start = u[i].cs;
    }
    c->n_tokens = ntok;
    o->n++;
    /* the word boxes of the passage: those inside each unit's span */
    size_t nb = 0;
    for (size_t i = a; i < z; i++)
        nb += d->blocks[u[i].block].n_boxes;
    if (nb) {
        c->boxes = malloc(nb * sizeof *c->boxes);
        if (!c->boxes)
            return LORE_ENOMEM;
        for (size_t i = a; i < z; i++) {
            const struct ing_block *blk = &d->blocks[u[i].block];
            for (size_t k = 0; k < blk->n_boxes; k++) {
                const struct ing_box *x = &blk->boxes[k];
                if (x->cs >= u[i].bcs && x->ce <= u[i].bce) {
                    c->boxes[c->n_boxes] = *x;
                    c->boxes[c->n_boxes++].page = blk->page;
                }
            }
        }
    }
    return 0;
}

/* Packs one section's units into chunks. */
static int pack(struct out *o, const struct ing_doc *d, const struct unit *u, size_t n, int max,
                int overlap)
{
    size_t a = 0;
    while (a < n) {
        size_t z = a;
        int t = 0;
        while (z < n && (z == a || t + u[z].ntok <= max)) {
            t += u[z].ntok;
            z++;
        }
        int rc = emit(o, d, u, a, z);
        if (rc)
            return rc;
        if (z >= n)
            break;
        /* overlap: whole trailing units worth <= overlap tokens, always progressing */
        size_t na = z;
        int ot = 0;
        while (na > a + 1 && ot + u[na - 1].ntok <= overlap) {
            ot += u[na - 1].ntok;
            na--;
        }
        a = na;
    }
    return 0;
}

int ing_chunk_doc(const struct ing_doc *d, const struct ing_chunk_opts *opts, struct ing_chunk **out,
                  size_t *n_out, struct lore_err *e)
{
    struct ing_chunk_opts def;
    if (!opts) {
        ing_chunk_opts_default(&def);
        opts = &def;
    }
    int max = opts->max_tokens > 8 ? opts->max_tokens : 8;
    int overlap = opts->overlap_tokens >= 0 ? opts->overlap_tokens : 0;
    if (overlap > max / 2)
        overlap = max / 2;
    *out = NULL;
    *n_out = 0;
    struct out o = {0};
    struct units u = {0};
    int rc = 0;
    size_t i = 0;
    while (i < d->n_blocks && !rc) {
        /* one section: blocks sharing the heading path (a heading block opens it) */
        const char *h = d->blocks[i].heading;
        u.n = 0;
        size_t j = i;
        for (; j < d->n_blocks && !rc; j++) {
            const struct ing_block *b = &d->blocks[j];
            if (strcmp(b->heading, h) != 0)
                break;
            if (b->kind == ING_HEADING)
                continue; /* its text is the heading path, indexed with every chunk */
            int exact = b->char_end - b->char_start == (int64_t)lore_utf8_len(b->text, b->len);
            int sep = u.n ? 3 : 0;
            if (b->kind == ING_CODE || b->kind == ING_TABLE || b->kind == ING_LIST)
                rc = split_lines(&u, b, j, sep, exact, max);
            else
                rc = split_sentences(&u, b, j, sep, exact, max);
        }
        if (!rc)
            rc = pack(&o, d, u.v, u.n, max, overlap);
        i = j;
    }
    free(u.v);
    if (rc) {
        ing_chunks_free(o.v, o.n);
        return lore_err_set(e, LORE_ENOMEM, "out of memory while chunking '%s'", d->uri);
    }
    *out = o.v;
    *n_out = o.n;
    return 0;
}

void ing_chunks_free(struct ing_chunk *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].text);
        free(c[i].heading);
        free(c[i].boxes);
    }
    free(c);
}
