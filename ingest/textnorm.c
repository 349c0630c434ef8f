/*
 * textnorm.c — the compatibility folding the PDF and HTML extractors apply
 * to every character they emit, so that what is indexed is what a person
 * would type: "ﬁ" becomes "fi", a no-break space a space, Arabic
 * presentation forms their base letters, and invisible characters (soft
 * hyphens, zero-width spaces, bidi controls) disappear.
 *
 * It is a small, table-driven subset of NFKC chosen for the characters that
 * actually turn up in extracted text, not a Unicode library: scripts are
 * never reordered or decomposed beyond that.
 */
#include "ingest/extract_internal.h"

#include <string.h>

/* Arabic Presentation Forms-B U+FE80..U+FEF4: runs of contextual forms of
 * one base letter. {number of forms, base letter}, in code point order. */
static const struct { uint8_t n; uint16_t base; } arabic_b[] = {
    {1, 0x0621}, {2, 0x0622}, {2, 0x0623}, {2, 0x0624}, {2, 0x0625},
    {4, 0x0626}, {2, 0x0627}, {4, 0x0628}, {2, 0x0629}, {4, 0x062A},
    {4, 0x062B}, {4, 0x062C}, {4, 0x062D}, {4, 0x062E}, {2, 0x062F},
    {2, 0x0630}, {2, 0x0631}, {2, 0x0632}, {4, 0x0633}, {4, 0x0634},
    {4, 0x0635}, {4, 0x0636}, {4, 0x0637}, {4, 0x0638}, {4, 0x0639},
    {4, 0x063A}, {4, 0x0641}, {4, 0x0642}, {4, 0x0643}, {4, 0x0644},
    {4, 0x0645}, {4, 0x0646}, {4, 0x0647}, {2, 0x0648}, {2, 0x0649},
    {4, 0x064A},
};

/* U+FE70..U+FE7F: tashkil forms (isolated / on tatweel) → the mark. */
static const uint16_t arabic_marks[16] = {
    0x064B, 0x064B, 0x064C, 0, 0x064D, 0, 0x064E, 0x064E,
    0x064F, 0x064F, 0x0650, 0x0650, 0x0651, 0x0651, 0x0652, 0x0652,
};

static int put1(uint32_t out[4], uint32_t a)
{
    out[0] = a;
    return 1;
}

static int put2(uint32_t out[4], uint32_t a, uint32_t b)
{
    out[0] = a;
    out[1] = b;
    return 2;
}

int txn_map(uint32_t cp, uint32_t out[4])
{
    if (cp < 0x80) {
        if (cp == '\n')
            return put1(out, '\n');
        if (cp == '\t' || cp == '\r' || cp == '\f' || cp == '\v')
            return put1(out, ' ');
        if (cp < 0x20 || cp == 0x7F)
            return 0;
        return put1(out, cp);
    }
    if (cp < 0xA0)                     /* C1 controls */
        return 0;
    if (cp == 0xA0)
        return put1(out, ' ');
    if (cp == 0xAD)                    /* soft hyphen */
        return 0;
    if (cp < 0x0600)
        return put1(out, cp);
    if (cp == 0x061C)                  /* Arabic letter mark */
        return 0;
    if (cp < 0x1680)
        return put1(out, cp);
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
        cp == 0x205F || cp == 0x3000 || cp == 0x2028 || cp == 0x2029)
        return put1(out, ' ');
    if (cp == 0x200B || cp == 0x200E || cp == 0x200F ||
        (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
        (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF)
        return 0;                      /* zero-width, bidi controls, BOM */
    if (cp == 0x2010 || cp == 0x2011)
        return put1(out, '-');
    if (cp >= 0xE000 && cp <= 0xF8FF)  /* private use: symbol-font junk */
        return 0;
    if (cp >= 0xFB00 && cp <= 0xFB06) {
        switch (cp) {
        case 0xFB00: return put2(out, 'f', 'f');
        case 0xFB01: return put2(out, 'f', 'i');
        case 0xFB02: return put2(out, 'f', 'l');
        case 0xFB03: out[0] = 'f'; out[1] = 'f'; out[2] = 'i'; return 3;
        case 0xFB04: out[0] = 'f'; out[1] = 'f'; out[2] = 'l'; return 3;
        default: return put2(out, 's', 't');
        }
    }
    if (cp == 0xFDF2) {                /* the ligature "Allah" */
        out[0] = 0x0627; out[1] = 0x0644; out[2] = 0x0644; out[3] = 0x0647;
        return 4;
    }
    if (cp >= 0xFE70 && cp <= 0xFE7F)
        return arabic_marks[cp - 0xFE70] ? put1(out, arabic_marks[cp - 0xFE70]) : 0;
    if (cp >= 0xFE80 && cp <= 0xFEF4) {
        uint32_t at = 0xFE80;
        for (size_t i = 0; i < sizeof arabic_b / sizeof arabic_b[0]; i++) {
            if (cp < at + arabic_b[i].n)
                return put1(out, arabic_b[i].base);
            at += arabic_b[i].n;
        }
        return put1(out, cp);
    }
    if (cp >= 0xFEF5 && cp <= 0xFEFC) { /* lam-alef ligatures */
        static const uint16_t alef[4] = {0x0622, 0x0623, 0x0625, 0x0627};
        return put2(out, 0x0644, alef[(cp - 0xFEF5) / 2]);
    }
    if ((cp >= 0xFF10 && cp <= 0xFF19) || (cp >= 0xFF21 && cp <= 0xFF3A) ||
        (cp >= 0xFF41 && cp <= 0xFF5A))
        return put1(out, cp - 0xFF10 + '0');
    if (cp == 0xFFFE || cp == 0xFFFF || (cp >= 0xFDD0 && cp <= 0xFDEF))
        return 0;                      /* noncharacters */
    return put1(out, cp);
}

int txn_is_space(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r';
}

int txn_is_cjk(uint32_t cp)
{
    return (cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFFEF) ||
           (cp >= 0x20000 && cp <= 0x3FFFF);
}

int txn_is_rtl(uint32_t cp)
{
    return (cp >= 0x0590 && cp <= 0x08FF) || (cp >= 0xFB1D && cp <= 0xFDFF) ||
           (cp >= 0xFE70 && cp <= 0xFEFF) || (cp >= 0x10800 && cp <= 0x10FFF) ||
           (cp >= 0x1E800 && cp <= 0x1EFFF);
}

int txn_is_alpha(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    if (cp == 0xD7 || cp == 0xF7)
        return 0;
    if (cp >= 0xC0 && cp <= 0x24F)     /* Latin-1 supplement, extended A/B */
        return 1;
    if (cp >= 0x370 && cp <= 0x52F)    /* Greek, Cyrillic */
        return 1;
    if (txn_is_rtl(cp))
        return cp >= 0x05D0;           /* Hebrew letters onwards, roughly */
    if (cp >= 0x1E00 && cp <= 0x1FFF)
        return 1;
    return 0;
}

int txn_is_lower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'a' && cp <= 'z';
    if (cp >= 0xDF && cp <= 0xFF)
        return cp != 0xF7;
    if (cp >= 0x100 && cp <= 0x17F)    /* Latin extended-A alternates */
        return cp & 1;
    if (cp >= 0x3B1 && cp <= 0x3C9)    /* Greek */
        return 1;
    if (cp >= 0x430 && cp <= 0x45F)    /* Cyrillic */
        return 1;
    return 0;
}

static int put_cp(struct lore_buf *b, uint32_t cp)
{
    char tmp[4];
    int l = lore_utf8_encode(cp, tmp);
    return lore_buf_append(b, tmp, (size_t)l);
}

int txn_append(struct lore_buf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;                  /* copy plain printable ASCII runs whole */
        while (j < n && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x7F)
            j++;
        if (j > i && lore_buf_append(b, s + i, j - i))
            return LORE_ENOMEM;
        i = j;
        if (i >= n)
            break;
        uint32_t cp, out[4];
        int l = lore_utf8_decode(s + i, n - i, &cp);
        i += l ? (size_t)l : 1;
        int k = txn_map(cp, out);
        for (int q = 0; q < k; q++)
            if (put_cp(b, out[q]))
                return LORE_ENOMEM;
    }
    return 0;
}

int txn_w_put(struct txn_w *w, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp, out[4];
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            cp = c;
            i++;
        } else {
            int l = lore_utf8_decode(s + i, n - i, &cp);
            i += l ? (size_t)l : 1;
        }
        int k = txn_map(cp, out);
        for (int q = 0; q < k; q++) {
            if (txn_is_space(out[q])) {
                char last = w->b->len ? w->b->data[w->b->len - 1] : '\n';
                if (last != '\n' && last != ' ')
                    w->pending_space = 1;
                continue;
            }
            if (w->pending_space) {
                if (lore_buf_putc(w->b, ' '))
                    return LORE_ENOMEM;
                w->pending_space = 0;
            }
            if (put_cp(w->b, out[q]))
                return LORE_ENOMEM;
        }
    }
    return 0;
}

void txn_w_trim(struct txn_w *w)
{
    w->pending_space = 0;
    while (w->b->len && w->b->data[w->b->len - 1] == ' ')
        w->b->data[--w->b->len] = 0;
}
