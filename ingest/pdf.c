/*
 * pdf.c — the PDF extractor: Poppler (GLib binding) reads the file, lore
 * decides what the text is.
 *
 * Per page, Poppler gives three parallel views of the same characters: the
 * text (poppler_page_get_text), one box per character
 * (poppler_page_get_text_layout) and font runs over character indices
 * (poppler_page_get_text_attributes). We zip them into words with a box,
 * a font size and a bold flag, and hand the words to pdf_layout.c, which
 * rebuilds columns, tables and paragraphs. Then, over the whole document:
 *
 *   - running headers/footers and page numbers: blocks in the top or bottom
 *     12% of a page whose text (digits folded) repeats on other pages, or
 *     that look like a page number, are dropped;
 *   - headings: the body size is the font size carrying most characters;
 *     short blocks set larger than it, or bold in a non-bold body, become
 *     ING_HEADING, their level the rank of their (size, bold) style;
 *   - title: the document's metadata title, else the first top heading;
 *   - char spans: a page's text is its kept blocks joined by "\n\n"; each
 *     block's span is its code-point range in that text.
 *
 * Pages with no text but an image are counted as lacking a text layer and
 * reported in one warning; a document with no text at all is an error.
 * Poppler's own diagnostics go to a silent GLib log handler: a damaged file
 * is reported through lore_err, never on stderr.
 */
#include "ingest/extract_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef LORE_HAVE_POPPLER

#include <dlfcn.h>
#include <math.h>
#include <poppler.h>
#include <pthread.h>

/* ---- set-up ----------------------------------------------------------------- */

static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *msg,
                      gpointer ud)
{
    (void)domain; (void)level; (void)msg; (void)ud;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Poppler 22.x crashes in poppler_document_new_from_bytes/_data/_file when
 * given a wrong password (its retry with the UTF-8 form of the password
 * reuses a stream it has already consumed); poppler_document_new_from_stream
 * does not retry. The memory stream constructor lives in GIO, which
 * poppler-glib loads but does not list for linking, so it is looked up at
 * run time rather than adding a link dependency. */
typedef GInputStream *(*mem_stream_fn)(const void *data, gssize len, GDestroyNotify fn);
static mem_stream_fn mem_stream_new;

static void init_poppler(void)
{
    g_log_set_handler("Poppler", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
                      G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, quiet_log, NULL);
    void *f = dlsym(RTLD_DEFAULT, "g_memory_input_stream_new_from_data");
    memcpy(&mem_stream_new, &f, sizeof f);
}

/* Opens the document; *gerr set on failure. */
static PopplerDocument *open_doc(GBytes *bytes, const char *data, size_t n,
                                 const char *password, GError **gerr)
{
    if (!password)
        return poppler_document_new_from_bytes(bytes, NULL, gerr);
    /* first without: a document with an empty user password opens as is */
    PopplerDocument *pd = poppler_document_new_from_bytes(bytes, NULL, gerr);
    if (pd || !*gerr || (*gerr)->domain != POPPLER_ERROR ||
        (*gerr)->code != POPPLER_ERROR_ENCRYPTED || !mem_stream_new)
        return pd;
    g_clear_error(gerr);
    GInputStream *st = mem_stream_new(data, (gssize)n, NULL);
    if (!st)
        return NULL;
    pd = poppler_document_new_from_stream(st, (goffset)n, password, NULL, gerr);
    g_object_unref(st);
    return pd;
}

/* "ABCDEF+Times-BoldItalic", "CMBX10", "NimbusRomNo9L-Medi" are bold. */
static int font_is_bold(const char *name)
{
    if (!name)
        return 0;
    char low[128];
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof low; n++)
        low[n] = (char)((name[n] >= 'A' && name[n] <= 'Z') ? name[n] + 32 : name[n]);
    low[n] = 0;
    if (strstr(low, "bold") || strstr(low, "black") || strstr(low, "heavy") ||
        strstr(low, "demi") || strstr(low, "cmbx") || strstr(low, "semibold"))
        return 1;
    const char *m = strstr(low, "-medi");
    return m && m[5] != 'u';
}

/* ---- one page: Poppler's views zipped into words ------------------------------- */

struct attr_run {
    int start, end;       /* character indices, inclusive */
    float size;
    int bold;
};

/* Everything one page needs, kept across pages so that a long document
 * allocates per page only what Poppler itself returns. */
struct page_words {
    char *arena;             /* normalised word texts, back to back */
    size_t alen, acap;
    struct pdf_word *w;
    size_t n, cap;
    size_t *off;             /* each word's offset in arena */
    uint32_t *cps[2];        /* the page's code points (two readings) */
    size_t cps_cap[2];
    uint8_t *vert;           /* per Poppler line: runs vertically */
    size_t vert_cap;
    struct attr_run *runs;
    size_t runs_cap;
};

static void pw_release(struct page_words *pw)
{
    free(pw->arena);
    free(pw->w);
    free(pw->off);
    free(pw->cps[0]);
    free(pw->cps[1]);
    free(pw->vert);
    free(pw->runs);
    memset(pw, 0, sizeof *pw);
}

/* Grows *p (elements of size sz, capacity *cap) to hold at least n. */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < n)
        nc *= 2;
    void *q = realloc(*p, nc * sz);
    if (!q)
        return LORE_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

static int pw_open(struct page_words *pw)
{
    if (pw->n == pw->cap) {
        size_t nc = pw->cap ? pw->cap * 2 : 256;
        struct pdf_word *w = realloc(pw->w, nc * sizeof *w);
        if (!w)
            return LORE_ENOMEM;
        pw->w = w;
        size_t *o = realloc(pw->off, nc * sizeof *o);
        if (!o)
            return LORE_ENOMEM;
        pw->off = o;
        pw->cap = nc;
    }
    memset(&pw->w[pw->n], 0, sizeof pw->w[pw->n]);
    pw->off[pw->n] = pw->alen;
    pw->n++;
    return 0;
}

static int is_bidi_control(uint32_t cp)
{
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x200E || cp == 0x200F;
}

/* fmin/fmax without the libm call (same results, NaN included: the other
 * operand wins). */
static inline double dmin(double a, double b) { return b < a || isnan(a) ? b : a; }
static inline double dmax(double a, double b) { return b > a || isnan(a) ? b : a; }
static inline float fmin_(float a, float b) { return b < a || isnan(a) ? b : a; }
static inline float fmax_(float a, float b) { return b > a || isnan(a) ? b : a; }

/* Right-to-left letters all lie at U+0590 and above. */
static inline int is_rtl(uint32_t cp) { return cp >= 0x0590 && txn_is_rtl(cp); }

#define WORD_BREAK 0x80000000u

/* The page's characters (bidi controls dropped) as code points, read as a
 * selection over area, into pw->cps[slot]. *n_rtl counts right-to-left
 * letters. */
static int page_text(PopplerPage *pg, PopplerRectangle *area, struct page_words *pw,
                     int slot, size_t *n, size_t *n_rtl)
{
    /* A bidi control stands where Poppler dropped the space between two
     * right-to-left words: the code point after one carries WORD_BREAK. */
    *n = *n_rtl = 0;
    char *text = poppler_page_get_text_for_area(pg, area);
    if (!text)
        return 0;
    size_t tl = strlen(text);
    if (grow((void **)&pw->cps[slot], &pw->cps_cap[slot], tl + 1, sizeof *pw->cps[slot])) {
        g_free(text);
        return LORE_ENOMEM;
    }
    uint32_t *cps = pw->cps[slot];
    const unsigned char *t = (const unsigned char *)text;
    size_t nt = 0, rtl = 0;
    uint32_t brk = 0;
    for (size_t i = 0; i < tl;) {
        if (t[i] < 0x80) {          /* ASCII: never a control nor RTL */
            cps[nt++] = t[i++] | brk;
            brk = 0;
            continue;
        }
        uint32_t cp;
        int l = lore_utf8_decode(text + i, tl - i, &cp);
        i += l ? (size_t)l : 1;
        int bidi = is_bidi_control(cp);
        if (!bidi)
            cps[nt++] = cp | brk;
        brk = bidi ? WORD_BREAK : 0;
        rtl += is_rtl(cp);
    }
    g_free(text);
    *n = nt;
    *n_rtl = rtl;
    return 0;
}

/* Builds the words of one page into pw. *have_boxes tells whether the
 * character boxes lined up with the text (else positions are synthetic).
 *
 * Poppler reads the page as a selection from one corner to the other; on a
 * right-to-left page a selection starting top-left skips the first lines, so
 * when the page holds right-to-left text it is read again from the top-right
 * corner and the longer reading kept.
 *
 * Three Poppler calls per page (text, character boxes, font runs) walk the
 * page's cached TextPage once each; everything else is one pass over the
 * characters into buffers reused from page to page. */
static int page_words(PopplerPage *pg, double pw_, double ph, struct page_words *pw,
                      int *have_boxes)
{
    pw->n = 0;
    pw->alen = 0;
    *have_boxes = 0;
    PopplerRectangle area = {0, 0, pw_, ph};
    size_t nt, nrtl;
    int slot = 0;
    if (page_text(pg, &area, pw, 0, &nt, &nrtl))
        return LORE_ENOMEM;
    if (nrtl) {
        PopplerRectangle rarea = {pw_, 0, 0, ph};
        size_t nt2, nrtl2;
        if (page_text(pg, &rarea, pw, 1, &nt2, &nrtl2))
            return LORE_ENOMEM;
        if (nt2 > nt) {
            slot = 1;
            nt = nt2;
            area = rarea;
        }
    }
    if (!nt)
        return 0;
    const uint32_t *cps = pw->cps[slot];

    PopplerRectangle *rects = NULL;
    guint nr = 0;
    if (!poppler_page_get_text_layout_for_area(pg, &area, &rects, &nr))
        nr = 0;
    int have = nr == nt;
    size_t nruns = 0;
    if (have) {
        GList *attrs = poppler_page_get_text_attributes_for_area(pg, &area);
        if (grow((void **)&pw->runs, &pw->runs_cap, g_list_length(attrs) + 1,
                 sizeof *pw->runs)) {
            poppler_page_free_text_attributes(attrs);
            g_free(rects);
            return LORE_ENOMEM;
        }
        for (GList *l = attrs; l; l = l->next) {
            PopplerTextAttributes *a = l->data;
            pw->runs[nruns++] = (struct attr_run){a->start_index, a->end_index,
                                                  (float)a->font_size,
                                                  font_is_bold(a->font_name)};
        }
        poppler_page_free_text_attributes(attrs);
    }
    const struct attr_run *runs = pw->runs;

    /* which Poppler lines run vertically (rotated text: margin stamps) */
    const uint8_t *vert = NULL;
    if (have) {
        size_t nl = 1;
        for (size_t i = 0; i < nt; i++)
            nl += (cps[i] & ~WORD_BREAK) == '\n';
        if (grow((void **)&pw->vert, &pw->vert_cap, nl, 1)) {
            g_free(rects);
            return LORE_ENOMEM;
        }
        uint8_t *vt = pw->vert;
        size_t l = 0, h = 0, v = 0;
        for (size_t i = 0; i < nt; i++) {
            if ((cps[i] & ~WORD_BREAK) == '\n') {
                vt[l++] = v > h && v >= 2;
                h = v = 0;
                continue;
            }
            uint32_t c0 = i ? cps[i - 1] & ~WORD_BREAK : '\n', c1 = cps[i] & ~WORD_BREAK;
            if (c0 == '\n' || c0 == ' ' || c1 == ' ')
                continue;
            double dx = fabs(rects[i].x1 + rects[i].x2 - rects[i - 1].x1 - rects[i - 1].x2);
            double dy = fabs(rects[i].y1 + rects[i].y2 - rects[i - 1].y1 - rects[i - 1].y2);
            if (dy > dx)
                v++;
            else
                h++;
        }
        vt[l] = v > h && v >= 2;
        vert = vt;
    }

    int rc = 0, open = 0;
    uint32_t line = 0, col = 0;
    size_t ri = 0;
    struct pdf_word *cur = NULL;
    /* each character's box, normalised (x0 <= x1, y0 <= y1), and the
     * previous character's */
    double bx0 = 0, bx1 = 0, by0 = 0, by1 = 0, ax0 = 0, ax1 = 0, ay0 = 0, ay1 = 0;
    for (size_t i = 0; i < nt; i++) {
        uint32_t cp = cps[i] & ~WORD_BREAK, out[4];
        if (have) {
            const PopplerRectangle *r = &rects[i];
            ax0 = bx0, ax1 = bx1, ay0 = by0, ay1 = by1;
            bx0 = dmin(r->x1, r->x2);
            bx1 = dmax(r->x1, r->x2);
            by0 = dmin(r->y1, r->y2);
            by1 = dmax(r->y1, r->y2);
        }
        if (cps[i] & WORD_BREAK)
            open = 0;
        if (cp == '\n') {
            open = 0;
            line++;
            col = 0;
            continue;
        }
        col++;
        int k;
        if (cp > 0x20 && cp < 0x7F) {  /* printable ASCII maps to itself */
            out[0] = cp;
            k = 1;
        } else {
            k = txn_map(cp, out);
        }
        /* room for k code points of up to 4 bytes */
        if (pw->alen + 16 > pw->acap &&
            grow((void **)&pw->arena, &pw->acap, pw->alen + 16, 1)) {
            rc = LORE_ENOMEM;
            break;
        }
        for (int q = 0; q < k; q++) {
            uint32_t o = out[q];
            if (o == ' ' || o == '\t' || o == '\n' || o == '\r') {  /* txn_is_space */
                open = 0;
                continue;
            }
            /* Two consecutive characters of one Poppler word that sit more
             * than half an em apart, or on different baselines, belong to
             * different words (table cells Poppler glued together). */
            if (open && have && q == 0 && i > 0 && !vert[line] && !cur->rtl && !is_rtl(cp)) {
                double bc = 0.5 * (rects[i].y1 + rects[i].y2);
                double gap = dmax(bx0 - ax1, ax0 - bx1);
                if (gap > 0.5 * cur->size || bc < ay0 - 1 || bc > ay1 + 1)
                    open = 0;
            }
            if (!open) {
                if ((rc = pw_open(pw)))
                    break;
                cur = &pw->w[pw->n - 1];
                cur->line = line;
                cur->vert = vert ? vert[line] : 0;
                cur->size = 10;
                if (have) {
                    while (ri < nruns && runs[ri].end < (int)i)
                        ri++;
                    if (ri < nruns && runs[ri].start <= (int)i) {
                        cur->size = runs[ri].size;
                        cur->bold = (uint8_t)runs[ri].bold;
                    }
                    cur->x0 = (float)bx0;
                    cur->y0 = (float)by0;
                    cur->x1 = (float)bx1;
                    cur->y1 = (float)by1;
                } else {
                    cur->x0 = cur->x1 = 6.0f * (float)col;
                    cur->y0 = 14.0f * (float)line;
                    cur->y1 = cur->y0 + 10.0f;
                }
                open = 1;
            }
            if (o < 0x80)
                pw->arena[pw->alen++] = (char)o;
            else
                pw->alen += (size_t)lore_utf8_encode(o, pw->arena + pw->alen);
            cur->ncp++;
            if (is_rtl(o))
                cur->rtl = 1;
            if (have) {
                cur->x0 = fmin_(cur->x0, (float)bx0);
                cur->x1 = fmax_(cur->x1, (float)bx1);
                cur->y0 = fmin_(cur->y0, (float)by0);
                cur->y1 = fmax_(cur->y1, (float)by1);
            } else {
                cur->x1 = 6.0f * (float)(col + 1);
            }
        }
        if (rc)
            break;
    }
    g_free(rects);
    if (rc)
        return rc;
    for (size_t i = 0; i < pw->n; i++) {
        pw->w[i].text = pw->arena + pw->off[i];
        size_t end = i + 1 < pw->n ? pw->off[i + 1] : pw->alen;
        pw->w[i].len = (uint32_t)(end - pw->off[i]);
    }
    *have_boxes = have;
    return 0;
}

/* Poppler keeps a line's words in left-to-right visual order (each
 * right-to-left word's letters already in logical order). A line made
 * mostly of right-to-left words is read right to left: its words are put in
 * that order, with runs of left-to-right words (numbers, Latin names) kept
 * reading left to right. */
static int word_x_desc(const void *a, const void *b)
{
    const struct pdf_word *x = a, *y = b;
    float cx = x->x0 + x->x1, cy = y->x0 + y->x1;
    return cx > cy ? -1 : cx < cy;
}

static void rtl_reorder(struct pdf_word *w, size_t n, int have_boxes)
{
    if (!have_boxes)
        return;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, rtl = w[i].rtl;
        while (j < n && w[j].line == w[i].line)
            rtl += w[j++].rtl;
        if (!w[i].vert && 2 * rtl > j - i) {
            qsort(w + i, j - i, sizeof *w, word_x_desc);
            for (size_t a = i; a < j;) {
                if (w[a].rtl) {
                    a++;
                    continue;
                }
                size_t b = a;
                while (b < j && !w[b].rtl)
                    b++;
                for (size_t p = a, q = b - 1; p < q; p++, q--) {
                    struct pdf_word t = w[p];
                    w[p] = w[q];
                    w[q] = t;
                }
                a = b;
            }
        }
        i = j;
    }
}

/* ---- document-wide pass -------------------------------------------------------- */

/* Folds a block's text for header comparison: ASCII lowercased, digit runs
 * as '#', whitespace collapsed; at most cap-1 bytes. */
static void fold_key(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    int prev_digit = 0, prev_space = 1;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (!prev_digit)
                out[o++] = '#';
            prev_digit = 1;
            prev_space = 0;
            continue;
        }
        prev_digit = 0;
        if (c == ' ' || c == '\n' || c == '\t') {
            if (!prev_space)
                out[o++] = ' ';
            prev_space = 1;
            continue;
        }
        prev_space = 0;
        out[o++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = 0;
}

static int is_page_number(const char *k)
{
    static const char *pat[] = {"#", "page #", "# of #", "page # of #", "- # -",
                                "\xe2\x80\x94 # \xe2\x80\x94", "[#]", "(#)", "p. #",
                                "# / #", "\xe2\x80\x93 # \xe2\x80\x93", "-#-"};
    for (size_t i = 0; i < sizeof pat / sizeof pat[0]; i++)
        if (!strcmp(k, pat[i]))
            return 1;
    size_t n = strlen(k);
    if (n == 0 || n > 7)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ivxlc", k[i]))
            return 0;
    return 1;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct hkey {
    uint64_t h;
    int by_pos;           /* keyed by place and style rather than text */
    int page;
    size_t blk;
};

static int hkey_cmp(const void *a, const void *b)
{
    const struct hkey *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    if (x->by_pos != y->by_pos)
        return x->by_pos - y->by_pos;
    if (x->page != y->page)
        return x->page < y->page ? -1 : 1;
    return x->blk < y->blk ? -1 : x->blk > y->blk;
}

static int drop_running(struct pdf_pblocks *pb, int text_pages)
{
    struct hkey *hk = malloc((2 * pb->n + 1) * sizeof *hk);
    if (!hk)
        return LORE_ENOMEM;
    size_t nk = 0;
    char key[160];
    for (size_t i = 0; i < pb->n; i++) {
        struct pdf_pblock *b = &pb->v[i];
        float h = b->page_h > 0 ? b->page_h : 792;
        int zone = b->y1 <= 0.12f * h || b->y0 >= 0.85f * h;
        int edge = i == 0 || pb->v[i - 1].page != b->page || i + 1 == pb->n ||
                   pb->v[i + 1].page != b->page;
        if (!zone && !edge)
            continue;
        fold_key(b->text, b->len, key, sizeof key);
        if (is_page_number(key)) {
            b->drop = 1;
            continue;
        }
        if (!zone)
            continue;
        hk[nk++] = (struct hkey){fnv1a(key), 0, b->page, i};
        /* the same place and style: a running header whose text changes */
        if (b->n_lines == 1 && (b->y0 < 0.08f * h || b->y0 > 0.9f * h)) {
            uint64_t pos = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)lrintf(b->y0) << 32) ^
                           ((uint64_t)lrintf(b->size * 2) << 16) ^ (uint64_t)(b->y0 < 0.5f * h);
            hk[nk++] = (struct hkey){pos, 1, b->page, i};
        }
    }
    qsort(hk, nk, sizeof *hk, hkey_cmp);
    /* blocks on each block's page: a "header" that is most pages' only
     * text is the content itself (a one-line-per-page document) */
    size_t *on_page = malloc((pb->n + 1) * sizeof *on_page);
    if (!on_page) {
        free(hk);
        return LORE_ENOMEM;
    }
    for (size_t i = 0; i < pb->n;) {
        size_t j = i;
        while (j < pb->n && pb->v[j].page == pb->v[i].page)
            j++;
        for (size_t q = i; q < j; q++)
            on_page[q] = j - i;
        i = j;
    }
    int need = text_pages <= 5 ? 2 : 3;
    for (size_t i = 0; i < nk;) {
        size_t j = i;
        int pages = 0, last = -1, shared = 0;
        while (j < nk && hk[j].h == hk[i].h && hk[j].by_pos == hk[i].by_pos) {
            if (hk[j].page != last) {
                pages++;
                shared += on_page[hk[j].blk] > 1;
            }
            last = hk[j].page;
            j++;
        }
        int enough = hk[i].by_pos ? pages >= 3 && 5 * pages >= 2 * text_pages : pages >= need;
        if (enough && 2 * shared >= pages)
            for (size_t q = i; q < j; q++)
                pb->v[hk[q].blk].drop = 1;
        i = j;
    }
    free(on_page);
    free(hk);
    return 0;
}

struct style {
    int bucket;           /* font size * 2, rounded */
    int bold;
    double weight;
};

static int style_rank_cmp(const void *a, const void *b)
{
    const struct style *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket > y->bucket ? -1 : 1;
    return y->bold - x->bold;
}

static int has_letter(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = lore_utf8_decode(s + i, n - i, &cp);
        i += l ? (size_t)l : 1;
        if (txn_is_alpha(cp) || txn_is_cjk(cp) || (cp >= 0x0900 && cp < 0x2000))
            return 1;
    }
    return 0;
}

/* "IV. RESULTS", "2.3 METHODS": a numbered, upper-case single line, the
 * way IEEE-style papers set headings at body size in small capitals. */
static int numbered_caps(const char *t, size_t n)
{
    if (n < 4 || n > 80 || memchr(t, '\n', n))
        return 0;
    size_t i = 0;
    if (t[i] >= '0' && t[i] <= '9') {
        while (i < n && ((t[i] >= '0' && t[i] <= '9') || t[i] == '.'))
            i++;
    } else {
        while (i < n && strchr("IVX", t[i]))
            i++;
        if (i == 0 || i >= n || t[i] != '.')
            return 0;
        i++;
    }
    if (i == 0 || i >= n || t[i] != ' ')
        return 0;
    size_t up = 0, low = 0;
    for (; i < n; i++) {
        up += t[i] >= 'A' && t[i] <= 'Z';
        low += t[i] >= 'a' && t[i] <= 'z';
    }
    return up >= 3 && low * 4 <= up;
}

/* Marks headings (kind, level). */
static void find_headings(struct pdf_pblocks *pb)
{
    struct style hist[64];
    int nh = 0;
    double bold_chars = 0, all_chars = 0;
    for (size_t i = 0; i < pb->n; i++) {
        const struct pdf_pblock *b = &pb->v[i];
        if (b->drop || b->kind != ING_PARA)
            continue;
        double c = (double)b->ncp;
        int bucket = (int)lrintf(b->size * 2);
        int k;
        for (k = 0; k < nh; k++)
            if (hist[k].bucket == bucket)
                break;
        if (k == nh && nh < 64)
            hist[nh++] = (struct style){bucket, 0, 0};
        if (k < nh)
            hist[k].weight += c;
        all_chars += c;
        if (b->bold)
            bold_chars += c;
    }
    if (!nh)
        return;
    int body = 0;
    for (int k = 1; k < nh; k++)
        if (hist[k].weight > hist[body].weight)
            body = k;
    float body_size = (float)hist[body].bucket / 2.0f;
    int body_bold = bold_chars > 0.5 * all_chars;

    struct style st[64];
    int ns = 0;
    for (size_t i = 0; i < pb->n; i++) {
        struct pdf_pblock *b = &pb->v[i];
        if (b->drop || b->kind != ING_PARA)
            continue;
        size_t c = b->ncp;
        if (c > 200 || b->n_lines > 3 || !has_letter(b->text, b->len))
            continue;
        uint32_t lastcp = 0;
        {
            size_t q = b->len - 1;
            while (q > 0 && ((unsigned char)b->text[q] & 0xC0) == 0x80)
                q--;
            lore_utf8_decode(b->text + q, b->len - q, &lastcp);
        }
        /* a sentence that ends like one is not a heading, whatever its size */
        int sentence = c > 20 && (lastcp == '.' || lastcp == 0x3002 || lastcp == ';' ||
                                  lastcp == 0xFF1B || lastcp == ',' || lastcp == 0xFF0C);
        int big = b->size >= body_size * 1.15f && b->size - body_size >= 1.0f && !sentence;
        int boldh = b->bold && !body_bold && b->size >= body_size * 0.95f && c <= 120 &&
                    b->n_lines <= 2 && !strchr(".:;,", (char)lastcp);
        int capsh = numbered_caps(b->text, b->len) && b->size >= body_size * 0.75f;
        if (!big && !boldh && !capsh)
            continue;
        b->kind = ING_HEADING;
        int bucket = (int)lrintf(b->size * 2), k;
        for (k = 0; k < ns; k++)
            if (st[k].bucket == bucket && st[k].bold == b->bold)
                break;
        if (k == ns && ns < 64)
            st[ns++] = (struct style){bucket, b->bold, 0};
    }
    qsort(st, (size_t)ns, sizeof *st, style_rank_cmp);
    for (size_t i = 0; i < pb->n; i++) {
        struct pdf_pblock *b = &pb->v[i];
        if (b->kind != ING_HEADING)
            continue;
        int bucket = (int)lrintf(b->size * 2);
        b->level = 6;
        for (int k = 0; k < ns && k < 6; k++)
            if (st[k].bucket == bucket && st[k].bold == b->bold) {
                b->level = k + 1;
                break;
            }
    }
}

static int usable_meta_title(const char *t)
{
    if (!t)
        return 0;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    if (n == 0 || n > 300)
        return 0;
    static const char *bad[] = {".doc", ".docx", ".pdf", ".tex", ".dvi", ".indd", ".rtf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t l = strlen(bad[i]);
        if (n > l && !strcasecmp(t + n - l, bad[i]))
            return 0;
    }
    return strcasecmp(t, "untitled") != 0;
}

/* Appends s to path, with newlines flattened. */
static int path_push(struct lore_buf *b, const char *s, size_t n)
{
    if (b->len && lore_buf_puts(b, " > "))
        return LORE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (lore_buf_putc(b, s[i] == '\n' ? ' ' : s[i]))
            return LORE_ENOMEM;
    return 0;
}

static int emit(struct ing_doc *d, struct pdf_pblocks *pb)
{
    const char *stack[6] = {0};
    size_t stack_len[6] = {0};
    struct lore_buf path;
    lore_buf_init(&path);
    int page = -1;
    int64_t cursor = 0;
    int rc = 0;
    for (size_t i = 0; i < pb->n && !rc; i++) {
        struct pdf_pblock *b = &pb->v[i];
        if (b->drop)
            continue;
        if (b->page != page) {
            page = b->page;
            cursor = 0;
        }
        if (b->kind == ING_HEADING) {
            int lv = b->level < 1 ? 1 : b->level > 6 ? 6 : b->level;
            stack[lv - 1] = b->text;
            stack_len[lv - 1] = b->len;
            for (int k = lv; k < 6; k++)
                stack[k] = NULL;
        }
        path.len = 0;
        if (path.data)
            path.data[0] = 0;
        for (int k = 0; k < 6 && !rc; k++)
            if (stack[k])
                rc = path_push(&path, stack[k], stack_len[k]);
        if (rc)
            break;
        int64_t cps = (int64_t)b->ncp;
        size_t before = d->n_blocks;
        rc = ing_doc_add(d, b->kind, b->kind == ING_HEADING ? b->level : 0, b->page,
                         path.data ? path.data : "", b->text, b->len, cursor, cursor + cps);
        if (!rc && d->n_blocks > before) {
            d->blocks[before].boxes = b->boxes;
            d->blocks[before].n_boxes = b->n_boxes;
            b->boxes = NULL;
            cursor += cps + 2;   /* blocks are joined by "\n\n" */
        }
    }
    lore_buf_release(&path);
    return rc;
}

static int extract(const char *uri, PopplerDocument *pd, struct ing_doc *d,
                   struct lore_err *e)
{
    int npages = poppler_document_get_n_pages(pd);
    if (npages <= 0)
        return lore_err_set(e, LORE_EFORMAT, "'%s': the PDF has no pages", uri);
    d->pages = npages;
    struct pdf_pblocks pb = {0};
    struct page_words pw;
    memset(&pw, 0, sizeof pw);
    int rc = 0, text_pages = 0, scans = 0, misaligned = 0;
    for (int p = 0; p < npages && !rc; p++) {
        PopplerPage *pg = poppler_document_get_page(pd, p);
        if (!pg)
            continue;
        double w = 0, h = 0;
        poppler_page_get_size(pg, &w, &h);
        int have = 0;
        rc = page_words(pg, w, h, &pw, &have);
        if (!rc && pw.n) {
            text_pages++;
            misaligned += !have;
            rtl_reorder(pw.w, pw.n, have);
            rc = pdf_layout_page(pw.w, pw.n, p + 1, (float)w, (float)h, have, &pb);
        } else if (!rc) {
            GList *imgs = poppler_page_get_image_mapping(pg);
            if (imgs)
                scans++;
            poppler_page_free_image_mapping(imgs);
        }
        g_object_unref(pg);
    }
    pw_release(&pw);
    if (rc) {
        pdf_pblocks_release(&pb);
        return lore_err_set(e, rc, "'%s': out of memory extracting text", uri);
    }
    if (!text_pages) {
        pdf_pblocks_release(&pb);
        if (scans)
            return lore_err_set(e, LORE_EUNSUPPORTED,
                                "'%s': no text layer on any of its %d pages "
                                "(a scan? it needs OCR first)", uri, npages);
        return lore_err_set(e, LORE_EUNSUPPORTED, "'%s': no extractable text in %d pages",
                            uri, npages);
    }
    if (scans)
        ing_doc_warn(d, "%d of %d pages have no text layer (scanned images?)", scans, npages);
    if (misaligned)
        ing_doc_warn(d, "%d pages had unaligned character boxes: layout guessed", misaligned);

    rc = drop_running(&pb, text_pages);
    if (!rc) {
        find_headings(&pb);
        char *meta = poppler_document_get_title(pd);
        const char *title = NULL;
        if (usable_meta_title(meta)) {
            title = meta;
            if (!strncmp(title, "Microsoft Word - ", 17))
                title = title + 17;
        } else {
            for (size_t i = 0; i < pb.n && !title; i++)  /* the first heading */
                if (!pb.v[i].drop && pb.v[i].kind == ING_HEADING && pb.v[i].page <= 2)
                    title = pb.v[i].text;
        }
        if (title) {
            struct lore_buf t;
            lore_buf_init(&t);
            rc = txn_append(&t, title, strlen(title));
            for (size_t i = 0; i < t.len; i++)
                if (t.data[i] == '\n')
                    t.data[i] = ' ';
            if (!rc)
                rc = ing_doc_set_title(d, t.data ? t.data : "");
            lore_buf_release(&t);
        }
        g_free(meta);
    }
    if (!rc)
        rc = emit(d, &pb);
    pdf_pblocks_release(&pb);
    if (rc)
        return lore_err_set(e, rc, "'%s': out of memory extracting text", uri);
    return 0;
}

int ing_extract_pdf(const char *uri, const char *data, size_t n,
                    const struct ing_extract_opts *opts, struct ing_doc **out,
                    struct lore_err *e)
{
    *out = NULL;
    if (!uri)
        uri = "";
    if (!data || n == 0)
        return lore_err_set(e, LORE_EFORMAT, "'%s': empty file, not a PDF", uri);
    size_t scan = n < 1024 ? n : 1024;
    if (!memmem(data, scan, "%PDF-", 5))
        return lore_err_set(e, LORE_EFORMAT, "'%s': not a PDF (no %%PDF- header)", uri);
    pthread_once(&init_once, init_poppler);

    const char *password = opts && opts->password ? opts->password : NULL;
    GBytes *bytes = g_bytes_new_static(data, n);
    GError *ge = NULL;
    PopplerDocument *pd = open_doc(bytes, data, n, password, &ge);
    if (!pd) {
        int rc;
        if (ge && ge->domain == POPPLER_ERROR && ge->code == POPPLER_ERROR_ENCRYPTED)
            rc = password ? lore_err_set(e, LORE_EPERM, "'%s': encrypted, wrong password", uri)
                          : lore_err_set(e, LORE_EPERM, "'%s': encrypted, no password given",
                                         uri);
        else
            rc = lore_err_set(e, LORE_EFORMAT, "'%s': damaged or unreadable PDF (%s)", uri,
                              ge && ge->message ? ge->message : "unknown error");
        if (ge)
            g_error_free(ge);
        g_bytes_unref(bytes);
        return rc;
    }
    struct ing_doc *d = ing_doc_new(uri, "application/pdf");
    int rc = d ? extract(uri, pd, d, e)
               : lore_err_set(e, LORE_ENOMEM, "'%s': out of memory", uri);
    g_object_unref(pd);
    g_bytes_unref(bytes);
    if (rc) {
        ing_doc_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

#else /* !LORE_HAVE_POPPLER */

int ing_extract_pdf(const char *uri, const char *data, size_t n,
                    const struct ing_extract_opts *opts, struct ing_doc **out,
                    struct lore_err *e)
{
    (void)data; (void)n; (void)opts;
    *out = NULL;
    return lore_err_set(e, LORE_EUNSUPPORTED,
                        "'%s': lore was built without PDF support (poppler-glib)", uri);
}

#endif
