/*
 * pdf_layout.c — from the words Poppler found on a page to paragraphs and
 * tables in reading order.
 *
 * Poppler gives words with boxes, grouped in lines. We rebuild the page:
 *
 *   words ─► segments   runs of words on one line with no wide gap
 *         ─► regions    recursive XY cut: a vertical gutter that crosses the
 *                       whole region splits it into columns (read left to
 *                       right, or right to left on a right-to-left page) when
 *                       each side looks like running text; otherwise the
 *                       region is cut into horizontal bands, bands that share
 *                       a gutter being merged back so that two columns are
 *                       never read line by line across
 *         ─► rows       in each leaf region, segments sharing a baseline
 *         ─► tables     runs of rows with two or more cells ("a | b")
 *         ─► paragraphs lines split on a change of style, a wide gap, a
 *                       first-line indent, a short previous line or a bullet;
 *                       lines joined with "exam-" + "ple" → "example"
 *
 * The output blocks still carry geometry and style (size, bold); pdf.c
 * decides headings, running headers and char spans over the whole document.
 * Everything is O(n log n) per level and the cut recursion is capped, so a
 * hostile page with millions of glyphs cannot blow the stack.
 */
#include "ingest/extract_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 40

struct seg {
    size_t w0, w1;        /* words [w0, w1) in Poppler's (logical) order */
    float x0, y0, x1, y1;
    float size;
    int bold;             /* every word is bold */
    size_t chars;
};

struct pb;

struct lay {
    const struct pdf_word *w;
    size_t nw;
    struct seg *s;
    size_t ns;
    float med;            /* median font size of the page's segments */
    float gap;            /* typical vertical gap between a line and the next */
    int page, have_boxes, rtl_page;
    float page_h;
    struct pdf_pblocks *out;
    struct pb *pb;        /* the page's block builder (empty between uses) */
};

struct key {
    float k, k2;
    size_t i;
};

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->k2 != y->k2)
        return x->k2 < y->k2 ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static float fmaxf_(float a, float b) { return a > b ? a : b; }
static float fminf_(float a, float b) { return a < b ? a : b; }

/* First and last code point of a word's text. */
static uint32_t first_cp(const struct pdf_word *w)
{
    uint32_t cp = 0;
    if (w->len)
        lore_utf8_decode(w->text, w->len, &cp);
    return cp;
}

static uint32_t last_cp_of(const char *s, size_t n)
{
    if (!n)
        return 0;
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    uint32_t cp = 0;
    lore_utf8_decode(s + i, n - i, &cp);
    return cp;
}

/* ---- segments ------------------------------------------------------------ */

static int add_seg(struct lay *L, size_t *cap, size_t w0, size_t w1)
{
    if (L->ns == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct seg *p = realloc(L->s, nc * sizeof *p);
        if (!p)
            return LORE_ENOMEM;
        L->s = p;
        *cap = nc;
    }
    struct seg *s = &L->s[L->ns++];
    s->w0 = w0;
    s->w1 = w1;
    s->x0 = s->y0 = INFINITY;
    s->x1 = s->y1 = -INFINITY;
    s->bold = 1;
    s->chars = 0;
    double wsum = 0;
    for (size_t i = w0; i < w1; i++) {
        const struct pdf_word *w = &L->w[i];
        s->x0 = fminf_(s->x0, w->x0);
        s->y0 = fminf_(s->y0, w->y0);
        s->x1 = fmaxf_(s->x1, w->x1);
        s->y1 = fmaxf_(s->y1, w->y1);
        s->bold &= w->bold;
        size_t c = w->ncp;
        s->chars += c;
        wsum += (double)w->size * (double)(c ? c : 1);
    }
    s->size = (float)(wsum / (double)(s->chars ? s->chars : (w1 - w0)));
    return 0;
}

/* A Poppler line is cut where, in visual (x) order, two neighbouring words
 * leave a gap wider than ~1.2 em: table cells, or two columns Poppler put on
 * one line. The pieces keep Poppler's logical order (right-to-left and
 * mixed-direction lines stay intact), and a piece is a run of words that
 * fall in one x interval between cuts. */
static int split_line(struct lay *L, size_t *cap, size_t i, size_t j, struct key *k,
                      float *cuts)
{
    size_t n = j - i, nc = 0;
    for (size_t q = 0; q < n; q++)
        k[q] = (struct key){L->w[i + q].x0, L->w[i + q].x1, i + q};
    qsort(k, n, sizeof *k, key_cmp);
    float end = L->w[k[0].i].x1;
    for (size_t q = 1; q < n; q++) {
        const struct pdf_word *b = &L->w[k[q].i];
        float thr = fmaxf_(0.8f * b->size, 4.0f);
        if (b->x0 - end > thr)
            cuts[nc++] = 0.5f * (end + b->x0);
        end = fmaxf_(end, b->x1);
    }
    if (!nc)
        return add_seg(L, cap, i, j);
    /* logical runs of words in the same x interval; a word "in" interval c
     * when its centre lies between cuts[c-1] and cuts[c] */
    size_t start = i;
    int prev = -1;
    for (size_t q = i; q < j; q++) {
        float cx = 0.5f * (L->w[q].x0 + L->w[q].x1);
        int c = 0;
        while ((size_t)c < nc && cx > cuts[c])
            c++;
        if (prev >= 0 && c != prev) {
            if (add_seg(L, cap, start, q))
                return LORE_ENOMEM;
            start = q;
        }
        prev = c;
    }
    return add_seg(L, cap, start, j);
}

static int build_segs(struct lay *L)
{
    size_t cap = 0;
    size_t i = 0, maxn = 0;
    while (i < L->nw) {  /* longest line, for scratch space */
        size_t j = i + 1;
        while (j < L->nw && L->w[j].line == L->w[i].line)
            j++;
        if (j - i > maxn)
            maxn = j - i;
        i = j;
    }
    struct key *k = malloc(maxn * sizeof *k);
    float *cuts = malloc(maxn * sizeof *cuts);
    int rc = k && cuts ? 0 : LORE_ENOMEM;
    i = 0;
    while (i < L->nw && !rc) {
        size_t j = i + 1;
        while (j < L->nw && L->w[j].line == L->w[i].line)
            j++;
        if (L->w[i].vert) {  /* rotated text goes last, see pdf_layout_page */
            i = j;
            continue;
        }
        /* a Poppler line is one baseline; split where it jumps lines */
        size_t s = i;
        for (size_t q = i + 1; q <= j && !rc; q++) {
            if (q < j) {
                const struct pdf_word *a = &L->w[q - 1], *b = &L->w[q];
                float bc = 0.5f * (b->y0 + b->y1);
                if (bc >= a->y0 - 1 && bc <= a->y1 + 1)
                    continue;
            }
            rc = split_line(L, &cap, s, q, k, cuts);
            s = q;
        }
        i = j;
    }
    free(k);
    free(cuts);
    return rc;
}

/* ---- the block builder ------------------------------------------------------ */

enum { SEP_NONE, SEP_WORD, SEP_LINE, SEP_CELL, SEP_ROW };

/* One builder per page, reused block after block: a flushed block's text is
 * copied into the document's text arena and its boxes into one exact-size
 * array, and the builder keeps its buffers. Code points are counted as
 * they are appended (each word knows its own count), never by rescanning. */
struct pb {
    char *text;           /* NUL-terminated when len > 0 */
    size_t len, cap;
    size_t ncp;           /* code points in text */
    struct ing_box *boxes;
    size_t nb, capb;
    float x0, y0, x1, y1;
    float sz[8];
    size_t szc[8];
    int nsz;
    int bold;
    int n_lines;
    float prev_x1;        /* right edge of the previous word, for CJK joins */
};

/* Empties the builder, keeping its buffers. */
static void pb_reset(struct pb *p)
{
    p->len = 0;
    if (p->text)
        p->text[0] = 0;
    p->ncp = 0;
    p->nb = 0;
    p->x0 = p->y0 = INFINITY;
    p->x1 = p->y1 = -INFINITY;
    p->nsz = 0;
    p->bold = 1;
    p->n_lines = 0;
    p->prev_x1 = 0;
}

static void pb_init(struct pb *p)
{
    memset(p, 0, sizeof *p);
    pb_reset(p);
}

static void pb_free(struct pb *p)
{
    free(p->text);
    free(p->boxes);
    memset(p, 0, sizeof *p);
}

static int pb_word(struct pb *p, const struct pdf_word *w, int sep, int have_boxes)
{
    /* room for a separator (at most " | "), the word and a NUL */
    size_t need = p->len + w->len + 4;
    if (need > p->cap) {
        size_t nc = p->cap ? p->cap : 256;
        while (nc < need)
            nc *= 2;
        char *t = realloc(p->text, nc);
        if (!t)
            return LORE_ENOMEM;
        p->text = t;
        p->cap = nc;
    }
    if (have_boxes && p->nb == p->capb) {
        size_t nc = p->capb ? p->capb * 2 : 64;
        struct ing_box *b = realloc(p->boxes, nc * sizeof *b);
        if (!b)
            return LORE_ENOMEM;
        p->boxes = b;
        p->capb = nc;
    }
    uint32_t first = first_cp(w);
    uint32_t last = last_cp_of(p->text, p->len);
    if (p->len && sep != SEP_NONE) {
        if (sep == SEP_ROW) {
            p->text[p->len++] = '\n';
            p->ncp++;
            p->n_lines++;
        } else if (sep == SEP_CELL) {
            memcpy(p->text + p->len, " | ", 3);
            p->len += 3;
            p->ncp += 3;
        } else if (sep == SEP_LINE) {
            p->n_lines++;
            uint32_t before = 0;
            if (last == '-' && p->len >= 2)
                before = last_cp_of(p->text, p->len - 1);
            if (last == '-' && txn_is_alpha(before) && txn_is_lower(first)) {
                p->text[--p->len] = 0;   /* "exam-" + "ple" */
                p->ncp--;
                if (p->nb && p->boxes[p->nb - 1].ce > p->boxes[p->nb - 1].cs + 1)
                    p->boxes[p->nb - 1].ce--;        /* its box loses the hyphen */
            } else {
                /* CJK lines are kept apart by a line break, as pdftotext does:
                 * joining them would fuse the last and first words of the lines */
                p->text[p->len++] = txn_is_cjk(last) && txn_is_cjk(first) ? '\n' : ' ';
                p->ncp++;
            }
        } else {
            int tight = txn_is_cjk(last) && txn_is_cjk(first) &&
                        fabsf(w->x0 - p->prev_x1) < 0.3f * w->size;
            if (!tight) {
                p->text[p->len++] = ' ';
                p->ncp++;
            }
        }
    } else if (!p->len) {
        p->n_lines = 1;
    }
    int64_t cs = (int64_t)p->ncp;
    memcpy(p->text + p->len, w->text, w->len);
    p->len += w->len;
    p->text[p->len] = 0;
    p->ncp += w->ncp;
    int64_t ce = (int64_t)p->ncp;
    p->prev_x1 = w->x1;
    if (have_boxes)
        p->boxes[p->nb++] = (struct ing_box){w->x0, w->y0, w->x1, w->y1, (int32_t)cs, (int32_t)ce, 0};
    p->x0 = fminf_(p->x0, w->x0);
    p->y0 = fminf_(p->y0, w->y0);
    p->x1 = fmaxf_(p->x1, w->x1);
    p->y1 = fmaxf_(p->y1, w->y1);
    p->bold &= w->bold;
    size_t c = w->ncp;
    int k;
    for (k = 0; k < p->nsz; k++)
        if (fabsf(p->sz[k] - w->size) < 0.25f)
            break;
    if (k == p->nsz && p->nsz < 8) {
        p->sz[k] = w->size;
        p->szc[k] = 0;
        p->nsz++;
    }
    if (k < p->nsz)
        p->szc[k] += c;
    return 0;
}

/* ---- the document's text arena ---------------------------------------------- */

struct pdf_text_chunk {
    struct pdf_text_chunk *next;
    size_t used, cap;
    char data[];
};

#define TEXT_CHUNK (256u * 1024u)

static char *text_alloc(struct pdf_pblocks *o, size_t n)
{
    struct pdf_text_chunk *c = o->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > TEXT_CHUNK ? n : TEXT_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = o->chunks;
        o->chunks = c;
    }
    char *p = c->data + c->used;
    c->used += n;
    return p;
}

/* Moves the builder's content into a new pblock (or drops an empty one). */
static int pb_flush(struct lay *L, struct pb *p, int kind)
{
    if (!p->len) {
        pb_reset(p);
        return 0;
    }
    struct pdf_pblocks *o = L->out;
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 64;
        struct pdf_pblock *v = realloc(o->v, nc * sizeof *v);
        if (!v)
            return LORE_ENOMEM;
        o->v = v;
        o->cap = nc;
    }
    char *text = text_alloc(o, p->len + 1);
    struct ing_box *boxes = NULL;
    if (p->nb) {
        boxes = malloc(p->nb * sizeof *boxes);
        if (boxes)
            memcpy(boxes, p->boxes, p->nb * sizeof *boxes);
    }
    if (!text || (p->nb && !boxes)) {
        free(boxes);
        return LORE_ENOMEM;
    }
    memcpy(text, p->text, p->len);
    text[p->len] = 0;
    struct pdf_pblock *b = &o->v[o->n++];
    memset(b, 0, sizeof *b);
    b->page = L->page;
    b->kind = kind;
    b->text = text;
    b->len = p->len;
    b->ncp = p->ncp;
    b->boxes = boxes;
    b->n_boxes = p->nb;
    b->x0 = p->x0;
    b->y0 = p->y0;
    b->x1 = p->x1;
    b->y1 = p->y1;
    int best = 0;
    for (int k = 1; k < p->nsz; k++)
        if (p->szc[k] > p->szc[best])
            best = k;
    b->size = p->nsz ? p->sz[best] : 0;
    b->bold = p->bold;
    b->n_lines = p->n_lines;
    b->page_h = L->page_h;
    pb_reset(p);
    return 0;
}

/* ---- leaves: rows, tables, paragraphs ----------------------------------------- */

struct line {
    size_t a, b;          /* its segments: idx[a..b) */
    float x0, y0, x1, y1, size;
    int bold, bullet;
};

static int is_bullet(const struct pdf_word *w)
{
    static const char *marks[] = {"\xe2\x80\xa2", "\xe2\x97\xa6", "\xe2\x96\xaa",
                                  "\xe2\x80\xa3", "\xe2\x80\x93", "-", "*",
                                  "\xc2\xb7", "\xe2\x97\x8b", "\xe2\x96\xa0",
                                  "\xe2\x96\xa1", "\xe2\x97\x8f", "\xe2\x9e\xa2"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (w->len == strlen(marks[i]) && !memcmp(w->text, marks[i], w->len))
            return 1;
    /* "1." "12)" "(3)" "a)" */
    size_t i = 0, n = w->len;
    const char *t = w->text;
    if (n >= 2 && t[0] == '(')
        i++;
    size_t d = i;
    while (i < n && t[i] >= '0' && t[i] <= '9' && i - d < 3)
        i++;
    if (i == d && i < n && t[i] >= 'a' && t[i] <= 'z')
        i++;
    return i > d && i + 1 == n && (t[i] == '.' || t[i] == ')');
}

static int seg_words(struct lay *L, struct pb *p, const struct seg *s, int sep)
{
    for (size_t i = s->w0; i < s->w1; i++) {
        if (pb_word(p, &L->w[i], i == s->w0 ? sep : SEP_WORD, L->have_boxes))
            return LORE_ENOMEM;
    }
    return 0;
}

static float median_gap(const struct line *ln, size_t n)
{
    float g[64];
    size_t k = 0;
    for (size_t i = 1; i < n && k < 64; i++)
        if (fabsf(ln[i].size - ln[i - 1].size) < 0.5f && ln[i].y0 >= ln[i - 1].y1 - 2)
            g[k++] = ln[i].y0 - ln[i - 1].y1;
    if (!k)
        return NAN;
    for (size_t i = 1; i < k; i++)  /* insertion sort, k <= 64 */
        for (size_t j = i; j > 0 && g[j] < g[j - 1]; j--) {
            float t = g[j]; g[j] = g[j - 1]; g[j - 1] = t;
        }
    return g[k / 2];
}

static int emit_text_lines(struct lay *L, const size_t *idx, struct line *ln, size_t n,
                           int rtl)
{
    if (!n)
        return 0;
    float lx0 = INFINITY, lx1 = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lx0 = fminf_(lx0, ln[i].x0);
        lx1 = fmaxf_(lx1, ln[i].x1);
    }
    float width = lx1 - lx0;
    float mg = median_gap(ln, n);
    struct pb *p = L->pb;
    for (size_t i = 0; i < n; i++) {
        const struct line *c = &ln[i];
        int brk = 0;
        if (i > 0) {
            const struct line *q = &ln[i - 1];
            float sz = fmaxf_(c->size, q->size);
            float gap = c->y0 - q->y1;
            float ind_c = rtl ? lx1 - c->x1 : c->x0 - lx0;
            float ind_q = rtl ? lx1 - q->x1 : q->x0 - lx0;
            float short_q = rtl ? q->x0 - lx0 : lx1 - q->x1;
            int headish = (c->bold && q->bold) || q->size >= 1.1f * L->med;
            if (fabsf(c->size - q->size) > 0.1f * sz || c->bold != q->bold)
                brk = 1;
            else if (gap > (isnan(mg) ? 0.6f * sz : mg + 0.4f * sz))
                brk = 1;
            else if (c->y0 < q->y0 - 0.5f * sz)  /* went back up: new flow */
                brk = 1;
            else if (c->bullet)
                brk = 1;
            else if (headish)
                brk = 0;   /* a heading's lines wrap short and hang */
            else if (!q->bullet && ind_c > 0.8f * sz && ind_q < 0.5f * sz)
                brk = 1;   /* first-line indent */
            else if (short_q > fmaxf_(0.2f * width, 3.0f * sz) && width > 20 * sz)
                brk = 1;   /* short line: a paragraph ended */
        }
        if (brk && pb_flush(L, p, ING_PARA))
            goto nomem;
        for (size_t k = c->a; k < c->b; k++) {
            int sep = k == c->a ? (p->len ? SEP_LINE : SEP_NONE) : SEP_WORD;
            if (seg_words(L, p, &L->s[idx[k]], sep))
                goto nomem;
        }
    }
    if (pb_flush(L, p, ING_PARA))
        goto nomem;
    return 0;
nomem:
    pb_reset(p);
    return LORE_ENOMEM;
}

/* Does row a share a column edge with row b? Cells of a real table line up
 * (left edges, right edges or centres, within 1.5pt); the gaps of a loosely
 * justified text line fall anywhere. */
static int rows_align(struct lay *L, const size_t *order, const struct line *a,
                      const struct line *b)
{
    for (size_t i = a->a; i < a->b; i++) {
        const struct seg *p = &L->s[order[i]];
        for (size_t j = b->a; j < b->b; j++) {
            const struct seg *q = &L->s[order[j]];
            /* the row's outer edges line up in any justified text: only
             * inner edges and inner centres count */
            int first = i == a->a || j == b->a, last = i + 1 == a->b || j + 1 == b->b;
            if (!first && (fabsf(p->x0 - q->x0) < 1.5f ||
                           fabsf(p->x0 + p->x1 - q->x0 - q->x1) < 3.0f))
                return 1;
            if (!last && fabsf(p->x1 - q->x1) < 1.5f)
                return 1;
        }
    }
    return 0;
}

/* Rows [r, e) form a table when most multi-cell rows align with a
 * neighbouring multi-cell row. */
static int is_table(struct lay *L, const size_t *order, const struct line *ln, size_t r,
                    size_t e)
{
    size_t multi = 0, aligned = 0;
    for (size_t i = r; i < e; i++) {
        if (ln[i].b - ln[i].a < 2)
            continue;
        multi++;
        int ok = 0;
        size_t seen = 0;
        for (size_t j = i; j-- > r && seen < 3 && !ok;)
            if (ln[j].b - ln[j].a >= 2) {
                seen++;
                ok = rows_align(L, order, &ln[i], &ln[j]);
            }
        seen = 0;
        for (size_t j = i + 1; j < e && seen < 3 && !ok; j++)
            if (ln[j].b - ln[j].a >= 2) {
                seen++;
                ok = rows_align(L, order, &ln[i], &ln[j]);
            }
        aligned += ok;
    }
    return multi >= 2 && aligned >= 2 && 10 * aligned >= 6 * multi;
}

static int leaf(struct lay *L, size_t *idx, size_t n)
{
    struct key *k = malloc(n * sizeof *k);
    struct line *ln = malloc(n * sizeof *ln);
    size_t *order = malloc(n * sizeof *order);
    int rc = LORE_ENOMEM;
    if (!k || !ln || !order)
        goto out;
    size_t nrtl = 0;
    for (size_t i = 0; i < n; i++) {
        const struct seg *s = &L->s[idx[i]];
        k[i] = (struct key){s->y0, s->x0, idx[i]};
        for (size_t j = s->w0; j < s->w1; j++)
            nrtl += L->w[j].rtl;
    }
    qsort(k, n, sizeof *k, key_cmp);
    /* rows: segments overlapping the first one's extent vertically */
    size_t nrows = 0, i = 0;
    while (i < n) {
        const struct seg *a = &L->s[k[i].i];
        size_t j = i + 1;
        while (j < n) {
            const struct seg *b = &L->s[k[j].i];
            float ov = fminf_(a->y1, b->y1) - fmaxf_(a->y0, b->y0);
            float h = fminf_(a->y1 - a->y0, b->y1 - b->y0);
            if (ov < 0.5f * h)
                break;
            j++;
        }
        ln[nrows] = (struct line){i, j, 0, 0, 0, 0, 0, 0, 0};
        nrows++;
        i = j;
    }
    /* order each row's segments along the line */
    size_t nwords = 0;
    for (size_t r = 0; r < nrows; r++)
        for (size_t q = ln[r].a; q < ln[r].b; q++)
            nwords += L->s[k[q].i].w1 - L->s[k[q].i].w0;
    int rtl = 2 * nrtl > nwords;
    for (size_t r = 0; r < nrows; r++) {
        struct line *l = &ln[r];
        for (size_t q = l->a; q < l->b; q++) {
            const struct seg *s = &L->s[k[q].i];
            k[q].k = rtl ? -s->x1 : s->x0;
            k[q].k2 = 0;
        }
        qsort(k + l->a, l->b - l->a, sizeof *k, key_cmp);
        l->x0 = l->y0 = INFINITY;
        l->x1 = l->y1 = -INFINITY;
        l->bold = 1;
        size_t best = 0;
        for (size_t q = l->a; q < l->b; q++) {
            const struct seg *s = &L->s[k[q].i];
            order[q] = k[q].i;
            l->x0 = fminf_(l->x0, s->x0);
            l->y0 = fminf_(l->y0, s->y0);
            l->x1 = fmaxf_(l->x1, s->x1);
            l->y1 = fmaxf_(l->y1, s->y1);
            l->bold &= s->bold;
            if (s->chars >= best) {
                best = s->chars;
                l->size = s->size;
            }
        }
        l->bullet = is_bullet(&L->w[L->s[order[l->a]].w0]);
    }
    /* tables: runs of rows with 2+ cells (a lone 1-cell row may sit inside) */
    size_t r = 0, text_start = 0;
    while (r < nrows) {
        if (ln[r].b - ln[r].a < 2) {
            r++;
            continue;
        }
        size_t e = r, multi = 0;
        while (e < nrows) {
            if (ln[e].b - ln[e].a >= 2) {
                multi++;
                e++;
            } else if (e + 1 < nrows && ln[e + 1].b - ln[e + 1].a >= 2 &&
                       ln[e].y0 - ln[e - 1].y1 < 2.0f * ln[e].size) {
                e++;
            } else {
                break;
            }
        }
        if (multi < 2 || !is_table(L, order, ln, r, e)) {
            r = e;
            continue;
        }
        if ((rc = emit_text_lines(L, order, ln + text_start, r - text_start, rtl)))
            goto out;
        struct pb *p = L->pb;
        for (size_t q = r; q < e; q++)
            for (size_t c = ln[q].a; c < ln[q].b; c++) {
                int sep = c == ln[q].a ? SEP_ROW : SEP_CELL;
                if (seg_words(L, p, &L->s[order[c]], sep)) {
                    pb_reset(p);
                    rc = LORE_ENOMEM;
                    goto out;
                }
            }
        if ((rc = pb_flush(L, p, ING_TABLE)))
            goto out;
        r = text_start = e;
    }
    rc = emit_text_lines(L, order, ln + text_start, nrows - text_start, rtl);
out:
    free(k);
    free(ln);
    free(order);
    return rc;
}

/* ---- recursive XY cut ----------------------------------------------------------- */

struct gap {
    float a, b;
};

/* Uncovered x intervals of at least minw inside [rx0, rx1] (edges included).
 * Returns the count written to g (at most cap). */
static size_t gutters(struct lay *L, const size_t *idx, size_t n, float rx0, float rx1,
                      float minw, struct key *tmp, struct gap *g, size_t cap)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = (struct key){L->s[idx[i]].x0, 0, idx[i]};
    qsort(tmp, n, sizeof *tmp, key_cmp);
    size_t ng = 0;
    float end = rx0;
    for (size_t i = 0; i < n; i++) {
        const struct seg *s = &L->s[tmp[i].i];
        if (s->x0 - end >= minw && ng < cap)
            g[ng++] = (struct gap){end, s->x0};
        end = fmaxf_(end, s->x1);
    }
    if (rx1 - end >= minw && ng < cap)
        g[ng++] = (struct gap){end, rx1};
    return ng;
}

static size_t intersect(const struct gap *a, size_t na, const struct gap *b, size_t nb,
                        float minw, struct gap *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++) {
            float lo = fmaxf_(a[i].a, b[j].a), hi = fminf_(a[i].b, b[j].b);
            if (hi - lo >= minw && n < cap)
                out[n++] = (struct gap){lo, hi};
        }
    return n;
}

static int xycut(struct lay *L, size_t *idx, size_t n, int depth);

/* Tries to split idx into text columns; returns 1 when done (recursed). */
static int try_columns(struct lay *L, size_t *idx, size_t n, int depth, int *rc)
{
    float tv = fmaxf_(0.8f * L->med, 5.0f);
    struct key *k = malloc(n * sizeof *k);
    size_t *tmp = malloc(n * sizeof *tmp);
    if (!k || !tmp) {
        free(k);
        free(tmp);
        *rc = LORE_ENOMEM;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (struct key){L->s[idx[i]].x0, 0, idx[i]};
    qsort(k, n, sizeof *k, key_cmp);
    /* columns are runs of the x-sorted list separated by clean gaps */
    size_t starts[17], ncol = 1;
    starts[0] = 0;
    float end = L->s[k[0].i].x1;
    for (size_t i = 1; i < n && ncol < 16; i++) {
        const struct seg *s = &L->s[k[i].i];
        if (s->x0 - end >= tv)
            starts[ncol++] = i;
        end = fmaxf_(end, s->x1);
    }
    starts[ncol] = n;
    int ok = ncol >= 2 && ncol <= 4;
    for (size_t c = 0; ok && c < ncol; c++) {
        float x0 = INFINITY, x1 = -INFINITY;
        for (size_t i = starts[c]; i < starts[c + 1]; i++) {
            x0 = fminf_(x0, L->s[k[i].i].x0);
            x1 = fmaxf_(x1, L->s[k[i].i].x1);
        }
        float cw = x1 - x0;
        size_t full = 0, cnt = starts[c + 1] - starts[c];
        for (size_t i = starts[c]; i < starts[c + 1]; i++)
            full += L->s[k[i].i].x1 - L->s[k[i].i].x0 >= 0.6f * cw;
        if (cw < 10.0f * L->med || (cnt >= 3 && (float)full < 0.4f * (float)cnt))
            ok = 0;
    }
    if (!ok) {
        free(k);
        free(tmp);
        return 0;
    }
    *rc = 0;
    for (size_t cc = 0; cc < ncol && !*rc; cc++) {
        size_t c = L->rtl_page ? ncol - 1 - cc : cc;
        size_t m = 0;
        for (size_t i = starts[c]; i < starts[c + 1]; i++)
            tmp[m++] = k[i].i;
        *rc = xycut(L, tmp, m, depth + 1);
    }
    free(k);
    free(tmp);
    return 1;
}

static int xycut(struct lay *L, size_t *idx, size_t n, int depth)
{
    if (n == 0)
        return 0;
    if (n == 1 || depth > MAX_DEPTH)
        return leaf(L, idx, n);
    int rc = 0;
    if (try_columns(L, idx, n, depth, &rc))
        return rc;
    /* horizontal bands */
    float th = fmaxf_(0.7f * L->med, L->gap + 0.5f * L->med), tv = fmaxf_(0.8f * L->med, 5.0f);
    float rx0 = INFINITY, rx1 = -INFINITY;
    struct key *k = malloc(n * sizeof *k);
    struct key *tmp = malloc(n * sizeof *tmp);
    size_t *sub = malloc(n * sizeof *sub);
    if (!k || !tmp || !sub) {
        rc = LORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct seg *s = &L->s[idx[i]];
        k[i] = (struct key){s->y0, s->x0, idx[i]};
        rx0 = fminf_(rx0, s->x0);
        rx1 = fmaxf_(rx1, s->x1);
    }
    qsort(k, n, sizeof *k, key_cmp);
    for (size_t i = 0; i < n; i++)
        sub[i] = k[i].i;
    /* band boundaries, then merge bands whose gutters line up */
    struct gap gg[32], gb[32], gi[32];
    size_t ngg = 0, group = 0, ngroups = 0;
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    if (!cuts) {
        rc = LORE_ENOMEM;
        goto out;
    }
    size_t bstart = 0;
    float end = L->s[sub[0]].y1;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && L->s[sub[i]].y0 - end < th) {
            end = fmaxf_(end, L->s[sub[i]].y1);
            continue;
        }
        /* band [bstart, i) */
        size_t nb = gutters(L, sub + bstart, i - bstart, rx0, rx1, tv, tmp, gb, 32);
        size_t ni = bstart ? intersect(gg, ngg, gb, nb, 0.5f * tv, gi, 32) : 0;
        if (bstart && ni && ngg) {
            memcpy(gg, gi, ni * sizeof *gi);
            ngg = ni;
        } else {
            if (bstart)
                cuts[ngroups++] = group;
            group = bstart;
            memcpy(gg, gb, nb * sizeof *gb);
            ngg = nb;
        }
        if (i < n) {
            bstart = i;
            end = L->s[sub[i]].y1;
        }
    }
    cuts[ngroups++] = group;
    cuts[ngroups] = n;
    if (ngroups == 1) {
        free(cuts);
        rc = leaf(L, sub, n);
        goto out;
    }
    for (size_t g = 0; g < ngroups && !rc; g++)
        rc = xycut(L, sub + cuts[g], cuts[g + 1] - cuts[g], depth + 1);
    free(cuts);
out:
    free(k);
    free(tmp);
    free(sub);
    return rc;
}

/* ---- entry ------------------------------------------------------------------------ */

static int float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Median gap between a segment and the nearest one below it that overlaps
 * it horizontally: the page's line spacing (sparse CJK reports use 1.5). */
static float typical_gap(struct lay *L, float *scratch)
{
    struct key *k = malloc((L->ns + 1) * sizeof *k);
    if (!k)
        return 0;
    for (size_t i = 0; i < L->ns; i++)
        k[i] = (struct key){L->s[i].y0, L->s[i].x0, i};
    qsort(k, L->ns, sizeof *k, key_cmp);
    size_t ng = 0;
    for (size_t i = 0; i < L->ns; i++) {
        const struct seg *a = &L->s[k[i].i];
        for (size_t j = i + 1; j < L->ns && j < i + 8; j++) {
            const struct seg *b = &L->s[k[j].i];
            if (b->y0 <= a->y0 + 0.5f * (a->y1 - a->y0) || b->x1 < a->x0 || b->x0 > a->x1)
                continue;
            float g = b->y0 - a->y1;
            scratch[ng++] = g > 0 ? g : 0;
            break;
        }
    }
    free(k);
    if (!ng)
        return 0;
    qsort(scratch, ng, sizeof *scratch, float_cmp);
    float g = scratch[ng / 2];
    return g < 3.0f * L->med ? g : 3.0f * L->med;
}

int pdf_layout_page(const struct pdf_word *w, size_t n, int page, float page_w,
                    float page_h, int have_boxes, struct pdf_pblocks *out)
{
    (void)page_w;
    if (!n)
        return 0;
    struct pb pb;
    pb_init(&pb);
    struct lay L = {.w = w, .nw = n, .page = page, .have_boxes = have_boxes,
                    .page_h = page_h, .out = out, .pb = &pb};
    int rc = build_segs(&L);
    size_t *idx = NULL;
    float *sizes = NULL;
    if (rc)
        goto out;
    rc = LORE_ENOMEM;
    idx = malloc((L.ns + 1) * sizeof *idx);
    sizes = malloc((L.ns + 1) * sizeof *sizes);
    if (!idx || !sizes)
        goto out;
    size_t nrtl = 0;
    for (size_t i = 0; i < n; i++)
        nrtl += w[i].rtl;
    L.rtl_page = 2 * nrtl > n;
    for (size_t i = 0; i < L.ns; i++) {
        idx[i] = i;
        sizes[i] = L.s[i].size;
    }
    qsort(sizes, L.ns, sizeof *sizes, float_cmp);
    L.med = L.ns && sizes[L.ns / 2] > 1 ? sizes[L.ns / 2] : 10;
    L.gap = typical_gap(&L, sizes);
    rc = L.ns ? xycut(&L, idx, L.ns, 0) : 0;
    /* rotated lines (a margin stamp, a sideways caption): one block each */
    for (size_t i = 0; i < n && !rc;) {
        size_t j = i + 1;
        while (j < n && w[j].line == w[i].line)
            j++;
        if (w[i].vert) {
            for (size_t q = i; q < j && !rc; q++)
                rc = pb_word(&pb, &w[q], SEP_WORD, have_boxes);
            if (!rc && !(rc = pb_flush(&L, &pb, ING_PARA)) && out->n)
                out->v[out->n - 1].size = 0;   /* never a heading */
        }
        i = j;
    }
out:
    free(idx);
    free(sizes);
    free(L.s);
    pb_free(&pb);
    return rc;
}

void pdf_pblocks_release(struct pdf_pblocks *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].boxes);
    free(p->v);
    while (p->chunks) {
        struct pdf_text_chunk *c = p->chunks;
        p->chunks = c->next;
        free(c);
    }
    p->v = NULL;
    p->n = p->cap = 0;
}
