/*
 * html_charset.c — which encoding an HTML file is in, and its text as UTF-8.
 *
 * The order is the one browsers use, in small: a byte-order mark wins; then
 * a charset declared in a <meta> tag within the first 4 KiB; then, with no
 * declaration, UTF-8 if the bytes are valid UTF-8, else windows-1252 (what
 * "iso-8859-1" and "us-ascii" mean on the web too). UTF-8, UTF-16 and
 * windows-1252 are decoded here; other declared charsets (shift_jis,
 * euc-jp, gbk, koi8-r, iso-8859-x…) go through iconv. Bytes that do not
 * decode become U+FFFD, so the result is always valid UTF-8 and the parser
 * is always given UTF-8 (libxml2 is told to ignore the document's own
 * declaration).
 */
#include "ingest/extract_internal.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* windows-1252 bytes 0x80..0x9F; the five unassigned ones stay C1. */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static int put_cp(struct lore_buf *b, uint32_t cp)
{
    char tmp[4];
    int l = lore_utf8_encode(cp, tmp);
    return lore_buf_append(b, tmp, (size_t)l);
}

static int from_cp1252(struct lore_buf *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c < 0x80) {
            if (lore_buf_putc(b, (char)c))
                return LORE_ENOMEM;
        } else if (put_cp(b, c < 0xA0 ? cp1252_hi[c - 0x80] : c)) {
            return LORE_ENOMEM;
        }
    }
    return 0;
}

static int from_utf8(struct lore_buf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t ok = lore_utf8_check(s + i, n - i);
        if (lore_buf_append(b, s + i, ok))
            return LORE_ENOMEM;
        i += ok;
        if (i < n) {
            if (put_cp(b, 0xFFFD))
                return LORE_ENOMEM;
            i++;
        }
    }
    return 0;
}

static int from_utf16(struct lore_buf *b, const unsigned char *s, size_t n, int be)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = be ? (uint32_t)(s[i] << 8 | s[i + 1]) : (uint32_t)(s[i + 1] << 8 | s[i]);
        if (u >= 0xD800 && u <= 0xDBFF && i + 3 < n) {
            uint32_t v = be ? (uint32_t)(s[i + 2] << 8 | s[i + 3])
                            : (uint32_t)(s[i + 3] << 8 | s[i + 2]);
            if (v >= 0xDC00 && v <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
                i += 2;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF)
            u = 0xFFFD;
        if (put_cp(b, u))
            return LORE_ENOMEM;
    }
    return 0;
}

/* Converts with iconv from the named charset; undecodable bytes → U+FFFD.
 * Returns 1 when iconv does not know the charset. */
static int from_iconv(struct lore_buf *b, const char *charset, const char *s, size_t n)
{
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1)
        return 1;
    char out[8192];
    char *in = (char *)s;
    size_t left = n;
    int rc = 0;
    while (left && !rc) {
        char *o = out;
        size_t room = sizeof out;
        size_t r = iconv(cd, &in, &left, &o, &room);
        if (lore_buf_append(b, out, sizeof out - room)) {
            rc = LORE_ENOMEM;
            break;
        }
        if (r == (size_t)-1) {
            if (errno == E2BIG)
                continue;
            /* EILSEQ or a truncated sequence at the end: skip one byte */
            if (put_cp(b, 0xFFFD))
                rc = LORE_ENOMEM;
            in++;
            left--;
            iconv(cd, NULL, NULL, NULL, NULL);
        }
    }
    iconv_close(cd);
    return rc;
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (char)(*a >= 'A' && *a <= 'Z' ? *a + 32 : *a);
        char y = (char)(*b >= 'A' && *b <= 'Z' ? *b + 32 : *b);
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static const char *memcasestr(const char *h, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m) {
            char c = h[i + j];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c + 32);
            if (c != needle[j])
                break;
            j++;
        }
        if (j == m)
            return h + i;
    }
    return NULL;
}

/* Finds charset=LABEL inside the <meta> tags of the first 4 KiB. */
static int meta_charset(const char *s, size_t n, char *label, size_t cap)
{
    if (n > 4096)
        n = 4096;
    const char *end = s + n, *p = s;
    while ((p = memcasestr(p, (size_t)(end - p), "<meta"))) {
        const char *gt = memchr(p, '>', (size_t)(end - p));
        const char *tag_end = gt ? gt : end;
        const char *c = memcasestr(p, (size_t)(tag_end - p), "charset");
        if (c) {
            c += 7;
            while (c < tag_end && (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r'))
                c++;
            if (c < tag_end && *c == '=') {
                c++;
                while (c < tag_end && (*c == ' ' || *c == '"' || *c == '\''))
                    c++;
                size_t l = 0;
                while (c + l < tag_end && l + 1 < cap &&
                       ((c[l] >= 'a' && c[l] <= 'z') || (c[l] >= 'A' && c[l] <= 'Z') ||
                        (c[l] >= '0' && c[l] <= '9') || strchr("-_.:", c[l])))
                    l++;
                if (l) {
                    memcpy(label, c, l);
                    label[l] = 0;
                    return 1;
                }
            }
        }
        p += 5;
    }
    return 0;
}

int html_decode(const char *uri, const char *data, size_t n, char **out, size_t *out_len,
                const char **charset, char *warn, size_t warn_cap, struct lore_err *e)
{
    const unsigned char *u = (const unsigned char *)data;
    struct lore_buf b;
    lore_buf_init(&b);
    int rc = 0;
    *charset = "utf-8";
    if (warn_cap)
        warn[0] = 0;
    char label[48];
    if (n >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        rc = from_utf8(&b, data + 3, n - 3);
    } else if (n >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        *charset = u[0] == 0xFE ? "utf-16be" : "utf-16le";
        rc = from_utf16(&b, u + 2, n - 2, u[0] == 0xFE);
    } else if (n >= 4 && u[0] == '<' && u[1] == 0 && u[2] != 0 && u[3] == 0) {
        *charset = "utf-16le";   /* no BOM, but plainly "<\0h\0" */
        rc = from_utf16(&b, u, n, 0);
    } else if (n >= 4 && u[0] == 0 && u[1] == '<' && u[2] == 0 && u[3] != 0) {
        *charset = "utf-16be";
        rc = from_utf16(&b, u, n, 1);
    } else if (meta_charset(data, n, label, sizeof label)) {
        if (ieq(label, "utf-8") || ieq(label, "utf8") || ieq(label, "unicode-1-1-utf-8") ||
            ieq(label, "utf-16") || ieq(label, "utf-16le") || ieq(label, "utf-16be")) {
            rc = from_utf8(&b, data, n);  /* a <meta> utf-16 in 8-bit text means utf-8 */
        } else if (ieq(label, "iso-8859-1") || ieq(label, "latin1") || ieq(label, "l1") ||
                   ieq(label, "us-ascii") || ieq(label, "ascii") || ieq(label, "cp1252") ||
                   ieq(label, "windows-1252") || ieq(label, "iso8859-1") ||
                   ieq(label, "iso_8859-1") || ieq(label, "x-cp1252") || ieq(label, "cp819")) {
            *charset = "windows-1252";
            rc = from_cp1252(&b, u, n);
        } else {
            const char *ic = label;
            *charset = "declared";
            if (ieq(label, "shift_jis") || ieq(label, "sjis") || ieq(label, "x-sjis") ||
                ieq(label, "ms_kanji") || ieq(label, "windows-31j") || ieq(label, "csshiftjis"))
                ic = "CP932";
            else if (ieq(label, "gb2312") || ieq(label, "x-gbk") || ieq(label, "gb_2312-80"))
                ic = "GBK";
            else if (ieq(label, "x-euc-jp"))
                ic = "EUC-JP";
            else if (ieq(label, "ks_c_5601-1987") || ieq(label, "euc-kr"))
                ic = "CP949";
            else if (ieq(label, "tis-620") || ieq(label, "iso-8859-11"))
                ic = "CP874";
            int r = from_iconv(&b, ic, data, n);
            if (r == 1) {   /* unknown to iconv: guess as if undeclared */
                if (warn_cap)
                    snprintf(warn, warn_cap, "unknown charset '%s' declared", label);
                b.len = 0;
                if (lore_utf8_check(data, n) == n) {
                    rc = from_utf8(&b, data, n);
                } else {
                    *charset = "windows-1252";
                    rc = from_cp1252(&b, u, n);
                }
            } else {
                rc = r;
            }
        }
    } else if (lore_utf8_check(data, n) == n) {
        rc = lore_buf_append(&b, data, n);
    } else {
        *charset = "windows-1252";
        rc = from_cp1252(&b, u, n);
    }
    if (rc) {
        lore_buf_release(&b);
        return lore_err_set(e, LORE_ENOMEM, "'%s': out of memory decoding", uri);
    }
    *out = lore_buf_detach(&b, out_len);
    if (!*out)
        return lore_err_set(e, LORE_ENOMEM, "'%s': out of memory decoding", uri);
    return 0;
}
