/*
 * test_ing_pdf.c — the PDF extractor on PDFs drawn here with cairo's PDF
 * surface (so the expected text is known exactly): title and headings from
 * font sizes, running header/footer removal, hyphenation and ligatures,
 * two columns read column by column, a table as " | " rows, right-to-left
 * and CJK text, an image-only page (warning) and an image-only document
 * (error), an encrypted copy made with qpdf, truncated and junk files, and
 * the hostile files of ../shared/docs-dev/hostile when LORE_SHARED is set.
 * The report fixture is compared with tests/fixtures/golden/pdf_report.txt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"

/* ---- drawing ---------------------------------------------------------------- */

static cairo_status_t to_buf(void *closure, const unsigned char *data, unsigned int n)
{
    return lore_buf_append(closure, data, n) ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static void text_at(cairo_t *cr, double x, double y, const char *s)
{
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

static void header_footer(cairo_t *cr, int page, int pages)
{
    char f[64];
    font(cr, 9, 0);
    text_at(cr, 72, 40, "ACME Corporation \xe2\x80\x94 Internal Report");
    snprintf(f, sizeof f, "Page %d of %d", page, pages);
    text_at(cr, 270, 815, f);
}

static const char *col_left[] = {
    "Left column starts here and the text runs",
    "down the column for several lines so that",
    "it looks like a real newspaper column with",
    "words that fill the measure quite evenly.",
    "The left column ends with this last line.",
};
static const char *col_right[] = {
    "Right column begins after the left one is",
    "finished, and a reader continues from the",
    "top of this column down to its very end in",
    "the same way as in any two column layout.",
    "The right column ends with this sentence.",
};

/* The report: 3 text pages (header, footer, title, headings, hyphenation,
 * ligatures, two columns, a table) and, with image_page, a 4th page that is
 * only an image. */
static void draw_report(struct lore_buf *out, int image_page)
{
    int pages = image_page ? 4 : 3;
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(to_buf, out, 595, 842);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "lore tests");
    cairo_t *cr = cairo_create(s);

    /* page 1: title, heading, body */
    header_footer(cr, 1, pages);
    font(cr, 24, 1);
    text_at(cr, 72, 110, "Quarterly Report");
    font(cr, 16, 1);
    text_at(cr, 72, 160, "Introduction");
    font(cr, 10, 0);
    text_at(cr, 72, 190, "This report covers the first quarter of the year and gives an exam-");
    text_at(cr, 72, 203, "ple of how the extractor joins hyphenated words across lines and");
    text_at(cr, 72, 216, "how it keeps the \xef\xac\x81rst and \xef\xac\x82oor ligatures readable as text.");
    text_at(cr, 72, 245, "A second paragraph starts after a gap, 100\xc2\xa0km away from the first.");
    font(cr, 13, 1);
    text_at(cr, 72, 285, "Method");
    font(cr, 10, 0);
    text_at(cr, 72, 310, "We measured everything twice and wrote it all down carefully here.");
    cairo_show_page(cr);

    /* page 2: two columns under a full-width heading */
    header_footer(cr, 2, pages);
    font(cr, 16, 1);
    text_at(cr, 72, 110, "Results");
    font(cr, 10, 0);
    for (int i = 0; i < 5; i++) {
        text_at(cr, 72, 140 + 13 * i, col_left[i]);
        text_at(cr, 320, 140 + 13 * i, col_right[i]);
    }
    cairo_show_page(cr);

    /* page 3: a table */
    header_footer(cr, 3, pages);
    font(cr, 16, 1);
    text_at(cr, 72, 110, "Figures");
    font(cr, 10, 0);
    static const char *cells[4][3] = {{"Region", "Sales", "Growth"},
                                      {"North", "1,200", "4%"},
                                      {"South", "950", "-2%"},
                                      {"West", "2,310", "11%"}};
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++)
            text_at(cr, 72 + 150 * c, 140 + 16 * r, cells[r][c]);
    text_at(cr, 72, 230, "Sales are in thousands of units for the quarter under review here.");
    cairo_show_page(cr);

    if (image_page) {
        cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 64, 64);
        cairo_t *ic = cairo_create(img);
        cairo_set_source_rgb(ic, 0.8, 0.2, 0.2);
        cairo_paint(ic);
        cairo_destroy(ic);
        cairo_set_source_surface(cr, img, 100, 100);
        cairo_paint(cr);
        cairo_surface_destroy(img);
        cairo_show_page(cr);
    }
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_surface_destroy(s);
}

/* Reverses the code points of a UTF-8 string (visual order for RTL). */
static void reverse_utf8(const char *s, char *out)
{
    size_t n = strlen(s), o = 0;
    size_t i = n;
    while (i > 0) {
        size_t j = i - 1;
        while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
            j--;
        memcpy(out + o, s + j, i - j);
        o += i - j;
        i = j;
    }
    out[o] = 0;
}

static int have_glyph(cairo_t *cr, const char *utf8)
{
    cairo_scaled_font_t *sf = cairo_get_scaled_font(cr);
    cairo_glyph_t *g = NULL;
    int n = 0;
    if (cairo_scaled_font_text_to_glyphs(sf, 0, 0, utf8, -1, &g, &n, NULL, NULL, NULL) !=
        CAIRO_STATUS_SUCCESS)
        return 0;
    int ok = n > 0;
    for (int i = 0; i < n; i++)
        ok &= g[i].index != 0;
    cairo_glyph_free(g);
    return ok;
}

/* ---- helpers ----------------------------------------------------------------- */

static const char *kind_name(int k)
{
    static const char *names[] = {"paragraph", "heading", "list", "code", "table", "quote"};
    return k >= 0 && k <= 5 ? names[k] : "?";
}

static char *render(const struct ing_doc *d)
{
    struct lore_buf b;
    lore_buf_init(&b);
    lore_buf_printf(&b, "title [%s] pages %d\n", d->title, d->pages);
    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct ing_block *k = &d->blocks[i];
        lore_buf_printf(&b, "p%d %s %d [%s] ", k->page, kind_name(k->kind), k->level, k->heading);
        for (size_t j = 0; j < k->len; j++) {
            if (k->text[j] == '\n')
                lore_buf_puts(&b, "\\n");
            else
                lore_buf_putc(&b, k->text[j]);
        }
        lore_buf_putc(&b, '\n');
    }
    for (size_t i = 0; i < d->n_warnings; i++)
        lore_buf_printf(&b, "warning %s\n", d->warnings[i]);
    return lore_buf_detach(&b, NULL);
}

/* Spans: per page, blocks joined by "\n\n"; boxes inside the page. */
static void check_doc(const struct ing_doc *d)
{
    int page = -1;
    int64_t cursor = 0;
    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct ing_block *k = &d->blocks[i];
        assert_true(k->page >= 1 && k->page <= d->pages);
        assert_true(k->page >= page);
        if (k->page != page) {
            page = k->page;
            cursor = 0;
        }
        assert_int_equal(k->char_start, cursor);
        assert_int_equal(k->char_end - k->char_start, (int64_t)lore_utf8_len(k->text, k->len));
        assert_int_equal(lore_utf8_check(k->text, k->len), k->len);
        cursor = k->char_end + 2;
        for (size_t j = 0; j < k->n_boxes; j++) {
            const struct ing_box *b = &k->boxes[j];
            assert_true(b->x0 <= b->x1 && b->y0 <= b->y1);
            assert_true(b->x0 >= -1 && b->x1 <= 2000 && b->y0 >= -1 && b->y1 <= 2000);
        }
    }
}

static struct ing_doc *extract_ok(const char *uri, const struct lore_buf *pdf)
{
    struct lore_err e = {0};
    struct ing_doc *d = NULL;
    int rc = ing_extract_pdf(uri, pdf->data, pdf->len, NULL, &d, &e);
    if (rc)
        fail_msg("%s: %s", uri, e.msg);
    check_doc(d);
    return d;
}

static const struct ing_block *find_block(const struct ing_doc *d, const char *needle)
{
    for (size_t i = 0; i < d->n_blocks; i++)
        if (strstr(d->blocks[i].text, needle))
            return &d->blocks[i];
    return NULL;
}

static char *fixture_path(const char *dir, const char *name)
{
    const char *src = getenv("LORE_SRC");
    static char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/%s", src ? src : ".", dir, name);
    return path;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_report_golden(void **st)
{
    (void)st;
    struct lore_buf pdf;
    lore_buf_init(&pdf);
    draw_report(&pdf, 1);
    struct ing_doc *d = extract_ok("report.pdf", &pdf);
    char *got = render(d);
    char *want;
    size_t wn;
    struct lore_err e = {0};
    if (getenv("LORE_WRITE_GOLDEN")) {
        FILE *f = fopen(fixture_path("golden", "pdf_report.txt"), "w");
        assert_non_null(f);
        fputs(got, f);
        fclose(f);
    }
    if (lore_read_file(fixture_path("golden", "pdf_report.txt"), &want, &wn, 0, &e))
        fail_msg("%s", e.msg);
    if (strcmp(got, want))
        fail_msg("report.pdf differs from its golden file\n--- want\n%s--- got\n%s", want, got);
    free(want);
    free(got);

    /* the same facts, asserted one by one */
    assert_int_equal(d->pages, 4);
    assert_string_equal(d->title, "Quarterly Report");
    assert_null(find_block(d, "ACME"));
    assert_null(find_block(d, "Page 2 of"));
    const struct ing_block *b = find_block(d, "gives an example of how");
    assert_non_null(b);
    assert_non_null(strstr(b->text, "the first and floor ligatures"));
    assert_int_equal(b->page, 1);
    assert_string_equal(b->heading, "Quarterly Report > Introduction");
    assert_true(b->n_boxes > 10);
    assert_non_null(find_block(d, "100 km away"));
    b = find_block(d, "Introduction");
    assert_int_equal(b->kind, ING_HEADING);
    assert_int_equal(b->level, 2);
    b = find_block(d, "Method");
    assert_int_equal(b->kind, ING_HEADING);
    assert_int_equal(b->level, 3);
    /* columns: all of the left one, then the right one */
    const struct ing_block *l = find_block(d, "Left column starts"),
                           *r = find_block(d, "Right column begins");
    assert_non_null(l);
    assert_non_null(r);
    assert_true(l < r);
    assert_non_null(strstr(l->text, "ends with this last line."));
    assert_null(strstr(l->text, "Right column"));
    b = find_block(d, "Region");
    assert_int_equal(b->kind, ING_TABLE);
    assert_string_equal(b->text, "Region | Sales | Growth\nNorth | 1,200 | 4%\n"
                                 "South | 950 | -2%\nWest | 2,310 | 11%");
    assert_int_equal(d->n_warnings, 1);
    assert_non_null(strstr(d->warnings[0], "1 of 4 pages have no text layer"));
    /* every word box knows its span in its block's text */
    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct ing_block *k = &d->blocks[i];
        int64_t len = (int64_t)lore_utf8_len(k->text, k->len);
        for (size_t j = 0; j < k->n_boxes; j++) {
            assert_true(k->boxes[j].cs >= 0 && k->boxes[j].cs < k->boxes[j].ce && k->boxes[j].ce <= len);
            assert_true(k->boxes[j].x0 < k->boxes[j].x1 && k->boxes[j].y0 < k->boxes[j].y1);
            if (j)
                assert_true(k->boxes[j].cs >= k->boxes[j - 1].ce);
        }
    }
    /* chunks carry the boxes of exactly their passage, with pages */
    struct ing_chunk_opts co = {12, 0};
    struct ing_chunk *ch;
    size_t nch;
    assert_int_equal(ing_chunk_doc(d, &co, &ch, &nch, &e), 0);
    int found = 0;
    for (size_t i = 0; i < nch; i++) {
        if (ch[i].page_start > 0)
            assert_true(ch[i].n_boxes > 0 && (int)ch[i].n_boxes <= ch[i].n_tokens + 2);
        for (size_t j = 0; j < ch[i].n_boxes; j++)
            assert_true(ch[i].boxes[j].page >= ch[i].page_start && ch[i].boxes[j].page <= ch[i].page_end);
        if (strstr(ch[i].text, "Left column starts")) {
            found = 1;
            assert_true(ch[i].boxes[0].x1 < 306.0f); /* the left half of a 612-pt page */
        }
    }
    assert_true(found);
    ing_chunks_free(ch, nch);
    ing_doc_free(d);
    lore_buf_release(&pdf);
}

static void test_scripts(void **st)
{
    (void)st;
    struct lore_buf pdf;
    lore_buf_init(&pdf);
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(to_buf, &pdf, 595, 842);
    cairo_t *cr = cairo_create(s);
    font(cr, 12, 0);
    char vis[256];
    const char *hebrew = "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd7\xa2\xd7\x95\xd7\x9c\xd7\x9d";
    const char *greek = "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1 \xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5";
    const char *cyr = "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80";
    const char *cjk = "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c";
    int has_hebrew = have_glyph(cr, hebrew);
    text_at(cr, 72, 100, "Latin text first.");
    text_at(cr, 72, 130, greek);
    text_at(cr, 72, 160, cyr);
    reverse_utf8(hebrew, vis);            /* drawn in visual order */
    text_at(cr, 300, 190, vis);
    const char *arabic = "ÙØ±Ø­Ø¨Ø§ Ø¨ÙÙ";
    int has_arabic = have_glyph(cr, arabic);
    reverse_utf8(arabic, vis);
    text_at(cr, 300, 220, vis);
    cairo_select_font_face(cr, "Noto Sans CJK SC", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    int has_cjk = have_glyph(cr, cjk);
    if (has_cjk)
        text_at(cr, 72, 250, cjk);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_surface_destroy(s);

    struct ing_doc *d = extract_ok("scripts.pdf", &pdf);
    assert_non_null(find_block(d, greek));
    assert_non_null(find_block(d, cyr));
    if (!has_hebrew)
        print_message("no Hebrew font: RTL check skipped\n");
    else if (!find_block(d, hebrew))              /* back in logical order */
        fail_msg("no Hebrew in logical order:\n%s", render(d));
    if (has_arabic && !find_block(d, arabic))
        fail_msg("no Arabic in logical order:\n%s", render(d));
    if (has_cjk)
        assert_non_null(find_block(d, cjk));
    else
        print_message("no CJK font (fonts-noto-cjk): CJK check skipped\n");
    ing_doc_free(d);
    lore_buf_release(&pdf);
}

static void test_image_only(void **st)
{
    (void)st;
    struct lore_buf pdf;
    lore_buf_init(&pdf);
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(to_buf, &pdf, 595, 842);
    cairo_t *cr = cairo_create(s);
    for (int p = 0; p < 2; p++) {
        cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 32, 32);
        cairo_set_source_surface(cr, img, 50, 50);
        cairo_paint(cr);
        cairo_surface_destroy(img);
        cairo_show_page(cr);
    }
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_surface_destroy(s);
    struct lore_err e = {0};
    struct ing_doc *d = NULL;
    int rc = ing_extract_pdf("scan.pdf", pdf.data, pdf.len, NULL, &d, &e);
    assert_int_equal(rc, LORE_EUNSUPPORTED);
    assert_null(d);
    assert_non_null(strstr(e.msg, "'scan.pdf': no text layer"));
    lore_buf_release(&pdf);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc;
}

static void test_encrypted(void **st)
{
    (void)st;
    if (run("command -v qpdf >/dev/null 2>&1") != 0) {
        print_message("qpdf not installed: encryption test skipped\n");
        skip();
        return;
    }
    struct lore_buf pdf;
    lore_buf_init(&pdf);
    draw_report(&pdf, 0);
    char in[] = "/tmp/lore-test-pdf-XXXXXX";
    int fd = mkstemp(in);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, pdf.data, pdf.len), (ssize_t)pdf.len);
    close(fd);
    char outp[64], cmd[512];
    snprintf(outp, sizeof outp, "%s.enc", in);
    snprintf(cmd, sizeof cmd, "qpdf --encrypt secret ownerpw 256 -- '%s' '%s'", in, outp);
    assert_int_equal(run(cmd), 0);
    char *data;
    size_t n;
    struct lore_err e = {0};
    assert_int_equal(lore_read_file(outp, &data, &n, 0, &e), 0);
    unlink(in);
    unlink(outp);

    struct ing_doc *d = NULL;
    int rc = ing_extract_pdf("x.pdf", data, n, NULL, &d, &e);
    assert_int_equal(rc, LORE_EPERM);
    assert_string_equal(e.msg, "'x.pdf': encrypted, no password given");
    struct ing_extract_opts o = {"wrong"};
    rc = ing_extract_pdf("x.pdf", data, n, &o, &d, &e);
    assert_int_equal(rc, LORE_EPERM);
    assert_string_equal(e.msg, "'x.pdf': encrypted, wrong password");
    o.password = "secret";
    rc = ing_extract_pdf("x.pdf", data, n, &o, &d, &e);
    assert_int_equal(rc, 0);
    check_doc(d);
    assert_string_equal(d->title, "Quarterly Report");
    assert_non_null(find_block(d, "gives an example of how"));
    ing_doc_free(d);
    free(data);
    lore_buf_release(&pdf);
}

static void test_truncated_and_junk(void **st)
{
    (void)st;
    struct lore_buf pdf;
    lore_buf_init(&pdf);
    draw_report(&pdf, 0);
    struct lore_err e;
    struct ing_doc *d;
    for (int k = 0; k < 48; k++) {
        size_t cut = pdf.len * (size_t)k / 48 + (size_t)k * 7 % 13;
        if (cut >= pdf.len)
            cut = pdf.len - 1;
        memset(&e, 0, sizeof e);
        d = NULL;
        int rc = ing_extract_pdf("cut.pdf", pdf.data, cut, NULL, &d, &e);
        if (rc) {
            assert_null(d);
            assert_non_null(strstr(e.msg, "'cut.pdf'"));
        } else {
            check_doc(d);
            ing_doc_free(d);
        }
    }
    /* flip bytes in the middle */
    for (int k = 1; k < 16; k++) {
        struct lore_buf c;
        lore_buf_init(&c);
        lore_buf_append(&c, pdf.data, pdf.len);
        for (size_t i = pdf.len / 16 * (size_t)k; i < pdf.len / 16 * (size_t)k + 64 && i < c.len; i++)
            c.data[i] ^= 0x5A;
        d = NULL;
        if (ing_extract_pdf("flip.pdf", c.data, c.len, NULL, &d, &e) == 0) {
            check_doc(d);
            ing_doc_free(d);
        }
        lore_buf_release(&c);
    }
    unsigned char junk[8192];
    uint32_t x = 99;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    d = NULL;
    assert_int_equal(ing_extract_pdf("junk.pdf", (char *)junk, sizeof junk, NULL, &d, &e),
                     LORE_EFORMAT);
    assert_string_equal(e.msg, "'junk.pdf': not a PDF (no %PDF- header)");
    memcpy(junk, "%PDF-1.7\n", 9);
    assert_int_equal(ing_extract_pdf("junk.pdf", (char *)junk, sizeof junk, NULL, &d, &e),
                     LORE_EFORMAT);
    assert_non_null(strstr(e.msg, "'junk.pdf'"));
    assert_int_equal(ing_extract_pdf("empty.pdf", "", 0, NULL, &d, &e), LORE_EFORMAT);
    lore_buf_release(&pdf);
}

static void test_hostile_dir(void **st)
{
    (void)st;
    const char *shared = getenv("LORE_SHARED");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/docs-dev/hostile", shared ? shared : "");
    DIR *dh = shared ? opendir(dir) : NULL;
    if (!dh) {
        print_message("no %s: hostile files skipped\n", dir);
        skip();
        return;
    }
    struct dirent *de;
    int seen = 0;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        char path[8192], *data;
        size_t n;
        struct lore_err e = {0};
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lore_read_file(path, &data, &n, 0, &e))
            continue;
        struct ing_doc *d = NULL;
        int rc = ing_extract_pdf(de->d_name, data, n, NULL, &d, &e);
        if (rc) {
            assert_null(d);
            assert_true(strlen(e.msg) > strlen(de->d_name) + 4);
        } else {
            check_doc(d);
            ing_doc_free(d);
        }
        if (strstr(de->d_name, "encrypted"))
            assert_int_equal(rc, LORE_EPERM);
        free(data);
        seen++;
    }
    closedir(dh);
    assert_true(seen > 0);
}

static void test_shared_samples(void **st)
{
    (void)st;
    const char *shared = getenv("LORE_SHARED");
    char path[4096], *data;
    size_t n;
    struct lore_err e = {0};
    snprintf(path, sizeof path, "%s/docs-dev/pdf/latex-multicolumn-3p.pdf", shared ? shared : "");
    if (!shared || lore_read_file(path, &data, &n, 0, &e)) {
        skip();
        return;
    }
    struct ing_doc *d = NULL;
    assert_int_equal(ing_extract_pdf("latex.pdf", data, n, NULL, &d, &e), 0);
    free(data);
    check_doc(d);
    assert_int_equal(d->pages, 3);
    assert_string_equal(d->title, "Two-Column Document with Lorem Ipsum");
    const struct ing_block *b = find_block(d, "Austria | 8.9 | 83,879 | Vienna | German");
    assert_non_null(b);
    assert_int_equal(b->kind, ING_TABLE);
    /* the left column's paragraph is whole: no right-column words inside */
    b = find_block(d, "Lorem ipsum dolor sit amet, consectetuer adipiscing elit. Ut purus");
    assert_non_null(b);
    assert_null(strstr(b->text, "pellentesque ante"));
    ing_doc_free(d);

    snprintf(path, sizeof path, "%s/docs-dev/pdf/scan-multipage-4p.pdf", shared);
    if (lore_read_file(path, &data, &n, 0, &e) == 0) {
        d = NULL;
        assert_int_equal(ing_extract_pdf("scan.pdf", data, n, NULL, &d, &e), LORE_EUNSUPPORTED);
        free(data);
    }
    snprintf(path, sizeof path, "%s/docs-dev/pdf/ar-word-document-rtl.pdf", shared);
    if (lore_read_file(path, &data, &n, 0, &e) == 0) {
        assert_int_equal(ing_extract_pdf("ar.pdf", data, n, NULL, &d, &e), 0);
        free(data);
        check_doc(d);
        /* "Python" inside Arabic text, first line of the page kept */
        assert_non_null(find_block(d, "R \xd9\x88 Python"));
        assert_true(d->n_blocks >= 5);
        ing_doc_free(d);
    }
}

/* ---- per-page state: buffers reused from page to page ------------------------ */

/* Page kinds for test_page_state: each drawn alone and inside one long
 * document; the extractor reuses its buffers across pages, so what a page
 * yields must not depend on the pages before it. */
enum { PG_DENSE, PG_SCRIPTS, PG_IMAGE, PG_TABLE, PG_LIGA, PG_SPARSE, PG_KINDS };

static void draw_page(cairo_t *cr, int kind)
{
    switch (kind) {
    case PG_DENSE:   /* many characters: more than any buffer's first size */
        font(cr, 7, 0);
        for (int l = 0; l < 90; l++) {
            char line[200];
            snprintf(line, sizeof line, "Dense line %c%c of the long page with many words "
                     "and numbers %d, %d and %d to fill it up well.", 'a' + l % 26,
                     'a' + (l / 26) % 26, l * 7, l * 13, l * 31);
            text_at(cr, 40, 30 + 8.5 * l, line);
        }
        break;
    case PG_SCRIPTS: {
        char vis[256];
        font(cr, 12, 0);
        text_at(cr, 72, 100, "Mixed scripts after the dense page.");
        reverse_utf8("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd7\xa2\xd7\x95\xd7\x9c\xd7\x9d", vis);
        text_at(cr, 300, 140, vis);
        text_at(cr, 72, 180, "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1 "
                             "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
        break;
    }
    case PG_IMAGE: {
        cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 16, 16);
        cairo_set_source_surface(cr, img, 100, 100);
        cairo_paint(cr);
        cairo_surface_destroy(img);
        cairo_set_source_rgb(cr, 0, 0, 0);
        break;
    }
    case PG_TABLE: {
        static const char *cells[3][3] = {{"Item", "Count", "Share"},
                                          {"Apples", "12", "40%"},
                                          {"Pears", "18", "60%"}};
        font(cr, 10, 0);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                text_at(cr, 72 + 140 * c, 120 + 15 * r, cells[r][c]);
        text_at(cr, 72, 200, "A line of prose under the little table of fruit here.");
        break;
    }
    case PG_LIGA:
        font(cr, 10, 0);
        text_at(cr, 72, 100, "The \xef\xac\x81nal \xef\xac\x82ow of a co-");
        text_at(cr, 72, 113, "operative exam- ple with an inter-");
        text_at(cr, 72, 126, "rupted word and 100\xc2\xa0km of road.");
        break;
    case PG_SPARSE:
        font(cr, 11, 0);
        text_at(cr, 300, 420, "x");
        break;
    }
}

static void draw_pages(struct lore_buf *out, const int *kinds, int n)
{
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(to_buf, out, 595, 842);
    cairo_t *cr = cairo_create(s);
    for (int i = 0; i < n; i++) {
        draw_page(cr, kinds[i]);
        cairo_show_page(cr);
    }
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_surface_destroy(s);
}

/* The blocks of one page, as text and boxes (kinds and levels are decided
 * over the whole document, so they are left out). */
static char *page_dump(const struct ing_doc *d, int page)
{
    struct lore_buf b;
    lore_buf_init(&b);
    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct ing_block *k = &d->blocks[i];
        if (k->page != page)
            continue;
        lore_buf_printf(&b, "[%s]", k->text);
        for (size_t j = 0; j < k->n_boxes; j++)
            lore_buf_printf(&b, " %.2f,%.2f,%.2f,%.2f:%d-%d", k->boxes[j].x0, k->boxes[j].y0,
                            k->boxes[j].x1, k->boxes[j].y1, k->boxes[j].cs, k->boxes[j].ce);
        lore_buf_putc(&b, '\n');
    }
    if (!b.data)
        lore_buf_puts(&b, "");
    return lore_buf_detach(&b, NULL);
}

/* Each box's span covers one word: it is not empty, holds no whitespace
 * and no cell separator. */
static void check_spans(const struct ing_doc *d)
{
    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct ing_block *k = &d->blocks[i];
        size_t ncp = lore_utf8_len(k->text, k->len);
        uint32_t *cp = malloc((ncp + 1) * sizeof *cp);
        assert_non_null(cp);
        size_t m = 0;
        for (size_t o = 0; o < k->len;) {
            int l = lore_utf8_decode(k->text + o, k->len - o, &cp[m++]);
            o += l ? (size_t)l : 1;
        }
        assert_int_equal(m, ncp);
        for (size_t j = 0; j < k->n_boxes; j++) {
            const struct ing_box *bx = &k->boxes[j];
            assert_true(bx->cs >= 0 && bx->cs < bx->ce && (size_t)bx->ce <= ncp);
            for (int32_t c = bx->cs; c < bx->ce; c++)
                assert_true(cp[c] != ' ' && cp[c] != '\n' && cp[c] != '|');
        }
        free(cp);
    }
}

static void test_page_state(void **st)
{
    (void)st;
    /* every kind after every other kind (and a dense page twice) */
    static const int seq[] = {PG_SPARSE, PG_DENSE, PG_SCRIPTS, PG_DENSE, PG_IMAGE, PG_TABLE,
                              PG_LIGA, PG_SCRIPTS, PG_TABLE, PG_SPARSE, PG_LIGA, PG_DENSE,
                              PG_IMAGE, PG_SCRIPTS, PG_SPARSE};
    const int n = (int)(sizeof seq / sizeof seq[0]);
    struct lore_buf all;
    lore_buf_init(&all);
    draw_pages(&all, seq, n);
    struct lore_err e = {0};
    struct ing_doc *d = NULL;
    assert_int_equal(ing_extract_pdf("pages.pdf", all.data, all.len, NULL, &d, &e), 0);
    check_doc(d);
    check_spans(d);
    assert_int_equal(d->pages, n);
    char *alone[PG_KINDS] = {0};
    for (int k = 0; k < PG_KINDS; k++) {
        struct lore_buf one;
        lore_buf_init(&one);
        draw_pages(&one, &k, 1);
        struct ing_doc *d1 = NULL;
        int rc = ing_extract_pdf("one.pdf", one.data, one.len, NULL, &d1, &e);
        if (k == PG_IMAGE) {
            assert_int_equal(rc, LORE_EUNSUPPORTED);
            alone[k] = strdup("");
        } else {
            assert_int_equal(rc, 0);
            check_spans(d1);
            alone[k] = page_dump(d1, 1);
            ing_doc_free(d1);
        }
        lore_buf_release(&one);
    }
    for (int p = 0; p < n; p++) {
        char *got = page_dump(d, p + 1);
        if (strcmp(got, alone[seq[p]]))
            fail_msg("page %d (kind %d) differs from the same page alone\n--- alone\n%s"
                     "--- in the document\n%s", p + 1, seq[p], alone[seq[p]], got);
        free(got);
    }
    /* the dense page: every line, in order */
    const struct ing_block *b = find_block(d, "Dense line aa of the long page");
    assert_non_null(b);
    assert_non_null(find_block(d, "Dense line lc of the long page"));
    assert_non_null(find_block(d, "The final flow of a cooperative exam- ple"));
    b = find_block(d, "Item | Count | Share");
    assert_non_null(b);
    assert_int_equal(b->kind, ING_TABLE);
    assert_int_equal(d->n_warnings, 1);
    assert_non_null(strstr(d->warnings[0], "2 of 15 pages have no text layer"));
    for (int k = 0; k < PG_KINDS; k++)
        free(alone[k]);
    ing_doc_free(d);
    lore_buf_release(&all);
}

/* fontconfig (loaded by cairo's toy font API) keeps a pattern for the life
 * of the process; under LeakSanitizer that is not ours to report. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\nleak:libcairo.so\n";
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_golden),
        cmocka_unit_test(test_scripts),
        cmocka_unit_test(test_image_only),
        cmocka_unit_test(test_encrypted),
        cmocka_unit_test(test_truncated_and_junk),
        cmocka_unit_test(test_hostile_dir),
        cmocka_unit_test(test_shared_samples),
        cmocka_unit_test(test_page_state),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cairo_debug_reset_static_data();   /* let LeakSanitizer see a clean exit */
    return failed;
}
