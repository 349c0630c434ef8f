/*
 * fuzz_gguf.c — libFuzzer target for the GGUF reader and, when the input
 * parses, the tokenizer built from it (LORE_FUZZ=ON, clang). Each input is
 * a whole file; the reader must refuse damage with an error, never crash,
 * and whatever it accepts must be safe to walk and to tokenize with.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_gguf.c \
 *         liblore.a -lpcre2-8 -ljansson -lsqlite3 -lm -o fuzz_gguf
 *   ./fuzz_gguf -max_len=65536 corpus/   (seed: a vocab-only GGUF cut short)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lore_err err;
    struct eng_gguf *g = NULL;
    if (eng_gguf_open_mem(data, size, "fuzz.gguf", &g, &err) != 0)
        return 0;
    for (int64_t i = 0; i < eng_gguf_n_kv(g); i++) {
        size_t len;
        (void)eng_gguf_kv_f64(g, i);
        (void)eng_gguf_kv_str(g, i, &len);
        for (uint64_t j = 0; j < eng_gguf_arr_len(g, i) && j < 16; j++) {
            (void)eng_gguf_arr_i64(g, i, j);
            (void)eng_gguf_arr_str(g, i, j, &len);
        }
    }
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < eng_gguf_n_tensors(g); i++) {
        struct eng_tensor_info ti;
        eng_gguf_tensor(g, i, &ti);
        if (ti.size)
            sink ^= ((const uint8_t *)ti.data)[ti.size - 1];
    }
    (void)sink;
    (void)eng_gguf_chat_family(g);

    struct eng_tok *t = NULL;
    if (eng_tok_new_from_gguf(g, &t, &err) == 0) {
        static const char text[] = "Hello <s> world [CLS] \xe2\x96\x81 caf\xc3\xa9 \xff 12345";
        int32_t ids[256];
        int64_t n = eng_tok_encode(t, text, sizeof text - 1, true, true, ids, 256);
        if (n > 0) {
            char buf[512];
            eng_tok_decode(t, ids, (size_t)(n < 256 ? n : 256), true, buf, sizeof buf);
        }
        eng_tok_free(t);
    }
    eng_gguf_close(g);
    return 0;
}
