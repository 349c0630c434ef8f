/*
 * tok_wpm.c — WordPiece (tokenizer.ggml.model "bert"), matching llama.cpp's
 * BERT vocabulary handling.
 *
 * GGUF BERT vocabularies are stored with word-initial pieces prefixed by
 * U+2581 "▁" and continuation pieces without the "##" (the converter rewrites
 * them), so a word is matched as "▁word", greedily longest-first from the
 * left, and if any position has no match the whole word becomes [UNK].
 *
 * Pre-processing, per code point: replace by the first code point of its
 * canonical decomposition (drops accents: "é" -> "e", and Hangul syllables
 * -> their leading jamo, as llama.cpp does), split on White_Space, drop NUL,
 * U+FFFD and control/format characters, lowercase, and make every
 * punctuation character, ASCII symbol and CJK ideograph a word of its own.
 */
#include "engine/tok_internal.h"

#include <stdlib.h>
#include <string.h>

/* The CJK ranges of the original BERT tokenizer (with Hugging Face's
 * 0x2B920 lower bound for the extension E/F block). */
static bool is_cjk(uint32_t c)
{
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
           (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
           (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b920 && c <= 0x2ceaf) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

/* Matches one word (already "▁"-prefixed) into out; [UNK] if impossible. */
static int match_word(const struct eng_tok *t, const char *w, size_t n, struct ivec *out)
{
    size_t start = out->n;
    int rc;
    for (size_t i = 0; i < n;) {
        size_t j = n - i > t->max_token_len ? i + t->max_token_len : n;
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = tok_lookup(t, w + i, j - i)) >= 0)
                break;
        if (id < 0) {
            out->n = start;         /* discard the partial word */
            break;
        }
        if ((rc = ivec_push(out, id)))
            return rc;
        i = j;
    }
    if (out->n == start)
        return ivec_push(out, t->unk);
    return 0;
}

int tok_wpm_encode(const struct eng_tok *t, const char *text, size_t len,
                   struct ivec *out)
{
    /* the current word, "▁" first; lowercasing never grows a character
     * past 4 bytes, so 4 bytes per input byte plus the prefix suffice */
    char *w = malloc(4 * len + 8);
    size_t wn = 3;
    int rc = 0;
    if (!w)
        return LORE_ENOMEM;
    memcpy(w, "\xe2\x96\x81", 3);

    for (size_t i = 0; i < len && !rc;) {
        uint32_t cp;
        i += tok_utf8_next(text + i, len - i, &cp);
        cp = ucd_nfd_first(cp);
        if (ucd_is_space(cp)) {
            if (wn > 3)
                rc = match_word(t, w, wn, out);
            wn = 3;
            continue;
        }
        enum ucd_class k = ucd_class(cp);
        if (cp == 0 || cp == 0xfffd || k == UCD_CONTROL)
            continue;
        char u[4];
        int ul = lore_utf8_encode(ucd_tolower(cp), u);
        if (k == UCD_PUNCT || (cp < 0x7f && k == UCD_SYMBOL) || is_cjk(cp)) {
            if (wn > 3 && (rc = match_word(t, w, wn, out)))
                break;
            memcpy(w + 3, u, (size_t)ul);
            rc = match_word(t, w, 3 + (size_t)ul, out);
            wn = 3;
        } else {
            memcpy(w + wn, u, (size_t)ul);
            wn += (size_t)ul;
        }
    }
    if (!rc && wn > 3)
        rc = match_word(t, w, wn, out);
    free(w);
    return rc;
}
