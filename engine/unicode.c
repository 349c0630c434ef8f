/*
 * unicode.c — the few Unicode lookups the tokenizers need, over the tables
 * in unicode_data.c: general-category class, White_Space, the first code
 * point of a canonical decomposition (how llama.cpp's WordPiece strips
 * accents), simple lowercase; plus the lenient UTF-8 step the tokenizers
 * share. All lookups are binary searches over sorted tables.
 */
#include "engine/tok_internal.h"

enum ucd_class ucd_class(uint32_t cp)
{
    size_t lo = 0, hi = eng_ucd_ranges_n;   /* last range whose start <= cp */
    if (cp > 0x10ffff)
        return UCD_UNASSIGNED;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((eng_ucd_ranges[mid] >> 3) <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return (enum ucd_class)(eng_ucd_ranges[lo] & 7);
}

bool ucd_is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Binary search in a flat (key, value) pair table; returns cp when absent. */
static uint32_t pair_lookup(const uint32_t *tab, size_t n_u32, uint32_t cp)
{
    size_t lo = 0, hi = n_u32 / 2;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t k = tab[2 * mid];
        if (k == cp)
            return tab[2 * mid + 1];
        if (k < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return cp;
}

uint32_t ucd_nfd_first(uint32_t cp)
{
    if (cp >= 0xac00 && cp <= 0xd7a3)           /* Hangul syllable -> leading jamo */
        return 0x1100 + (cp - 0xac00) / 588;
    return pair_lookup(eng_ucd_nfd, eng_ucd_nfd_n, cp);
}

uint32_t ucd_tolower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    return pair_lookup(eng_ucd_lower, eng_ucd_lower_n, cp);
}

size_t tok_utf8_len(unsigned char c)
{
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

size_t tok_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) {
        *cp = 0;
        return 0;
    }
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    size_t len = 0;
    uint32_t c = 0;
    if ((u[0] & 0xe0) == 0xc0) {
        len = 2;
        c = u[0] & 0x1f;
    } else if ((u[0] & 0xf0) == 0xe0) {
        len = 3;
        c = u[0] & 0x0f;
    } else if ((u[0] & 0xf8) == 0xf0) {
        len = 4;
        c = u[0] & 0x07;
    }
    if (len == 0 || len > n)
        goto bad;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80)
            goto bad;
        c = c << 6 | (u[i] & 0x3f);
    }
    *cp = c;
    return len;
bad:
    *cp = 0xfffd;
    return 1;
}
