/*
 * fuzz_html.c — libFuzzer target for the HTML extractor: any bytes give a
 * document (HTML parsing never fails on content) with valid UTF-8 blocks
 * and consistent char spans, never a crash or an unbounded expansion.
 */
#include "ingest/ingest.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lore_err e = {0};
    struct ing_doc *d = NULL;
    if (ing_extract_html("fuzz.html", (const char *)data, size, &d, &e)) {
        if (d || !e.msg[0])
            abort();
        return 0;
    }
    int64_t cursor = 0;
    for (size_t i = 0; i < d->n_blocks; i++) {
        const struct ing_block *b = &d->blocks[i];
        if (b->char_start != cursor || b->page != 0 ||
            lore_utf8_check(b->text, b->len) != b->len ||
            b->char_end - b->char_start != (int64_t)lore_utf8_len(b->text, b->len))
            abort();
        cursor = b->char_end + 2;
    }
    ing_doc_free(d);
    return 0;
}
