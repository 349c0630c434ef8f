/* test_ing_text.c — decoding, Markdown and text extraction, the chunker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

static void test_decode(void **s)
{
    char *o;
    size_t n;
    struct lore_err e;
    assert_int_equal(ing_decode_text("\xef\xbb\xbfhi", 5, 0, &o, &n, &e), 0);
    assert_string_equal(o, "hi");
    free(o);
    /* UTF-16LE with BOM, including a surrogate pair (U+1F600) */
    const char u16[] = "\xff\xfeh\0\xe9\0=\xd8\x00\xde";
    assert_int_equal(ing_decode_text(u16, sizeof u16 - 1, 0, &o, &n, &e), 0);
    assert_string_equal(o, "h\xc3\xa9\xf0\x9f\x98\x80");
    free(o);
    /* Latin-1 is rejected strictly, with the offset named */
    assert_int_equal(ing_decode_text("caf\xe9", 4, 0, &o, &n, &e), LORE_EENCODING);
    assert_non_null(strstr(e.msg, "offset 3"));
    assert_int_equal(ing_decode_text("caf\xe9 \x80", 6, 1, &o, &n, &e), 0);
    assert_string_equal(o, "caf\xc3\xa9 \xe2\x82\xac");
    free(o);
    assert_int_equal(ing_decode_text("a\0b", 3, 0, &o, &n, &e), LORE_EENCODING);
}

static void test_extract_rejects_binary(void **s)
{
    struct ing_doc *d;
    struct lore_err e;
    const char junk[] = "\x01\x02\xff\xfe\x00\x80garbage";
    assert_int_not_equal(ing_extract("x.txt", "text/plain", junk, sizeof junk - 1, NULL, &d, &e), 0);
    assert_null(d);
    assert_non_null(strstr(e.msg, "x.txt"));
    /* legacy 8-bit text is decoded, with a warning */
    assert_int_equal(ing_extract("y.txt", "text/plain", "caf\xe9 cr\xe8me", 10, NULL, &d, &e), 0);
    assert_string_equal(d->blocks[0].text, "caf\xc3\xa9 cr\xc3\xa8me");
    assert_int_equal(d->n_warnings, 1);
    ing_doc_free(d);
}

static const char md[] =
    "# Guide\n"
    "\n"
    "Intro *text* with a [link](http://x) and `code`.\n"
    "Second line.\n"
    "\n"
    "## Install\n"
    "\n"
    "- one\n"
    "- two\n"
    "  - nested\n"
    "\n"
    "```\n"
    "  keep   spaces\n"
    "```\n"
    "\n"
    "Setext\n"
    "------\n"
    "\n"
    "| a | b |\n"
    "|---|---|\n"
    "| 1 | 2 |\n";

static void test_markdown(void **s)
{
    struct ing_doc *d;
    struct lore_err e;
    assert_int_equal(ing_extract_markdown("g.md", md, sizeof md - 1, &d, &e), 0);
    assert_string_equal(d->title, "Guide");
    assert_int_equal(d->n_blocks, 7);
    assert_int_equal(d->blocks[0].kind, ING_HEADING);
    assert_int_equal(d->blocks[0].level, 1);
    assert_string_equal(d->blocks[1].text, "Intro text with a link and code. Second line.");
    assert_string_equal(d->blocks[1].heading, "Guide");
    /* span covers the two source lines, in code points */
    assert_int_equal(d->blocks[1].char_start, 9);
    assert_int_equal(d->blocks[1].char_end, 9 + 48 + 1 + 12);
    assert_string_equal(d->blocks[2].heading, "Guide > Install");
    assert_int_equal(d->blocks[3].kind, ING_LIST);
    assert_string_equal(d->blocks[3].text, "- one\n- two\n  - nested");
    assert_int_equal(d->blocks[4].kind, ING_CODE);
    assert_string_equal(d->blocks[4].text, "  keep   spaces");
    assert_int_equal(d->blocks[5].kind, ING_HEADING);
    assert_string_equal(d->blocks[5].text, "Setext");
    assert_string_equal(d->blocks[6].heading, "Guide > Setext");
    assert_int_equal(d->blocks[6].kind, ING_TABLE);
    assert_string_equal(d->blocks[6].text, "a | b\n1 | 2");
    ing_doc_free(d);
}

static void test_text_spans(void **s)
{
    const char t[] = "Caf\xc3\xa9 title\n\nFirst para\nwraps here.\n\nSecond.";
    struct ing_doc *d;
    struct lore_err e;
    assert_int_equal(ing_extract_text("t.txt", t, sizeof t - 1, &d, &e), 0);
    assert_int_equal(d->n_blocks, 3);
    assert_string_equal(d->title, "Caf\xc3\xa9 title");
    assert_string_equal(d->blocks[1].text, "First para wraps here.");
    assert_int_equal(d->blocks[1].char_start, 12);
    assert_int_equal(d->blocks[1].char_end, 12 + 22);
    assert_int_equal(d->blocks[2].char_start, 36);
    ing_doc_free(d);
}

/* Builds a doc of n sentences of w words each under one heading. */
static struct ing_doc *make_doc(int n, int w)
{
    struct ing_doc *d = ing_doc_new("x", "text/plain");
    struct lore_buf b;
    lore_buf_init(&b);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < w; j++)
            lore_buf_printf(&b, "%sW%dx%d", j ? " " : (i ? " " : ""), i, j);
        lore_buf_puts(&b, ".");
    }
    ing_doc_add(d, ING_PARA, 0, 0, "H", b.data, b.len, 0, (int64_t)b.len);
    lore_buf_release(&b);
    return d;
}

static void test_chunker_budget_overlap(void **s)
{
    struct ing_doc *d = make_doc(100, 10); /* 1000 words */
    struct ing_chunk_opts o = {100, 20};
    struct ing_chunk *c;
    size_t n;
    struct lore_err e;
    assert_int_equal(ing_chunk_doc(d, &o, &c, &n, &e), 0);
    assert_true(n >= 10 && n <= 14);
    for (size_t i = 0; i < n; i++) {
        assert_true(c[i].n_tokens <= 100);
        assert_true(c[i].n_tokens > 0);
        assert_true(c[i].len > 0);
        assert_string_equal(c[i].heading, "H");
        /* chunks start on a sentence ("wN x0") and end with a period */
        assert_non_null(strstr(c[i].text, "x0"));
        assert_int_equal(c[i].text[c[i].len - 1], '.');
        /* exact spans: the text is the source slice */
        assert_int_equal(c[i].char_end - c[i].char_start, (int64_t)c[i].len);
        if (i) { /* overlap: this chunk starts before the previous one ended */
            assert_true(c[i].char_start < c[i - 1].char_end);
            assert_true(c[i].char_start > c[i - 1].char_start);
        }
    }
    assert_int_equal(c[n - 1].char_end, (int64_t)d->blocks[0].len);
    ing_chunks_free(c, n);
    ing_doc_free(d);
}

static void test_chunker_long_sentence_and_cjk(void **s)
{
    /* one 1000-word sentence: split at word boundaries, never inside a word */
    struct ing_doc *d = make_doc(1, 1000);
    struct ing_chunk_opts o = {100, 0};
    struct ing_chunk *c;
    size_t n;
    struct lore_err e;
    assert_int_equal(ing_chunk_doc(d, &o, &c, &n, &e), 0);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(c[i].n_tokens, 100);
        assert_int_equal(c[i].text[0], 'W');
    }
    ing_chunks_free(c, n);
    ing_doc_free(d);
    /* CJK has no spaces: each character counts, cuts fall between characters */
    struct lore_buf b;
    lore_buf_init(&b);
    for (int i = 0; i < 300; i++)
        lore_buf_puts(&b, "\xe4\xb8\xad");
    d = ing_doc_new("c", "text/plain");
    ing_doc_add(d, ING_PARA, 0, 0, "", b.data, b.len, 0, 300);
    assert_int_equal(ing_chunk_doc(d, &o, &c, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(c[0].len, 300);
    ing_chunks_free(c, n);
    ing_doc_free(d);
    lore_buf_release(&b);
}

static void test_chunker_sections_and_empty(void **s)
{
    struct ing_doc *d = ing_doc_new("s", "text/markdown");
    ing_doc_add(d, ING_HEADING, 1, 0, "A", "A", 1, 0, 3);
    ing_doc_add(d, ING_PARA, 0, 0, "A", "Alpha text.", 11, 4, 15);
    ing_doc_add(d, ING_HEADING, 2, 0, "A > B", "B", 1, 16, 20);
    ing_doc_add(d, ING_PARA, 0, 0, "A > B", "   \n  ", 6, 21, 27); /* blank: dropped */
    ing_doc_add(d, ING_HEADING, 2, 0, "A > C", "C", 1, 28, 32);
    ing_doc_add(d, ING_PARA, 0, 0, "A > C", "Gamma text.", 11, 33, 44);
    struct ing_chunk *c;
    size_t n;
    struct lore_err e;
    assert_int_equal(ing_chunk_doc(d, NULL, &c, &n, &e), 0);
    assert_int_equal(n, 2); /* section B has no text: no empty chunk */
    assert_string_equal(c[0].heading, "A");
    assert_string_equal(c[0].text, "Alpha text.");
    assert_string_equal(c[1].heading, "A > C");
    assert_int_equal(c[1].char_start, 33);
    ing_chunks_free(c, n);
    ing_doc_free(d);
}

static void test_sentences_abbrev(void **s)
{
    const char *t = "Dr. Smith went to Washington, e.g. by train. It took 3.5 hours. Then he slept.";
    struct ing_doc *d = ing_doc_new("a", "text/plain");
    ing_doc_add(d, ING_PARA, 0, 0, "", t, strlen(t), 0, (int64_t)strlen(t));
    struct ing_chunk_opts o = {9, 0};
    struct ing_chunk *c;
    size_t n;
    struct lore_err e;
    assert_int_equal(ing_chunk_doc(d, &o, &c, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].text, "Dr. Smith went to Washington, e.g. by train.");
    assert_string_equal(c[1].text, "It took 3.5 hours. Then he slept.");
    ing_chunks_free(c, n);
    ing_doc_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_extract_rejects_binary),
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_text_spans),
        cmocka_unit_test(test_chunker_budget_overlap),
        cmocka_unit_test(test_chunker_long_sentence_and_cjk),
        cmocka_unit_test(test_chunker_sections_and_empty),
        cmocka_unit_test(test_sentences_abbrev),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
