/*
 * fuzz_pdf.c — libFuzzer target for the PDF extractor: any bytes must give
 * either a document whose spans and boxes are consistent or a clear error,
 * never a crash. Inputs starting with 'P' are tried with a password too.
 */
#include "ingest/ingest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lore_err e = {0};
    struct ing_doc *d = NULL;
    struct ing_extract_opts o = {size && data[0] == 'P' ? "secret" : NULL};
    int rc = ing_extract_pdf("fuzz.pdf", (const char *)data, size, &o, &d, &e);
    if (rc == 0) {
        for (size_t i = 0; i < d->n_blocks; i++) {
            const struct ing_block *b = &d->blocks[i];
            if (b->char_end < b->char_start || b->page < 1 || b->page > d->pages ||
                lore_utf8_check(b->text, b->len) != b->len)
                abort();
        }
        ing_doc_free(d);
    } else if (d || !e.msg[0]) {
        abort();
    }
    return 0;
}
