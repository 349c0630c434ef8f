/*
 * text.c — decoding bytes to UTF-8, sniffing the type of a file, and the
 * plain-text and Markdown extractors.
 *
 * Markdown is read line by line into blocks: ATX and setext headings (which
 * set the heading path), fenced and indented code (kept verbatim), lists
 * (kept as "- item" lines), block quotes, pipe tables (rows, " | " cells),
 * and paragraphs (lines joined, inline markup stripped). Each block's char
 * span covers its lines in the decoded source, in code points.
 */
#include "ingest/ingest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decoding ------------------------------------------------------------ */

/* Windows-1252's 0x80..0x9F; other bytes map to the same code point. */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static int decode_utf16(const unsigned char *p, size_t n, int be, struct lore_buf *b,
                        struct lore_err *e)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = be ? (uint32_t)(p[i] << 8 | p[i + 1]) : (uint32_t)(p[i + 1] << 8 | p[i]);
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 3 >= n)
                return lore_err_set(e, LORE_EENCODING, "truncated UTF-16 surrogate pair at byte %zu", i);
            uint32_t lo = be ? (uint32_t)(p[i + 2] << 8 | p[i + 3]) : (uint32_t)(p[i + 3] << 8 | p[i + 2]);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return lore_err_set(e, LORE_EENCODING, "invalid UTF-16 surrogate pair at byte %zu", i);
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            return lore_err_set(e, LORE_EENCODING, "invalid UTF-16 (lone surrogate) at byte %zu", i);
        }
        char o[4];
        if (lore_buf_append(b, o, (size_t)lore_utf8_encode(u, o)))
            return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    return 0;
}

int ing_decode_text(const char *data, size_t n, int allow_latin1, char **out, size_t *out_len,
                    struct lore_err *e)
{
    const unsigned char *p = (const unsigned char *)data;
    struct lore_buf b;
    lore_buf_init(&b);
    *out = NULL;
    *out_len = 0;
    int rc = 0;
    if (n >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF))) {
        rc = decode_utf16(p + 2, n - 2, p[0] == 0xFE, &b, e);
    } else {
        if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
            p += 3;
            n -= 3;
        }
        size_t bad = lore_utf8_check((const char *)p, n);
        if (bad == n) {
            rc = lore_buf_append(&b, p, n) ? lore_err_set(e, LORE_ENOMEM, "out of memory") : 0;
        } else if (!allow_latin1) {
            rc = lore_err_set(e, LORE_EENCODING, "not valid UTF-8 (byte 0x%02x at offset %zu)",
                              p[bad], bad);
        } else {
            for (size_t i = 0; i < n && !rc; i++) {
                uint32_t u = p[i];
                if (u >= 0x80 && u < 0xA0)
                    u = cp1252_hi[u - 0x80];
                char o[4];
                if (lore_buf_append(&b, o, (size_t)lore_utf8_encode(u, o)))
                    rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
            }
        }
    }
    if (rc) {
        lore_buf_release(&b);
        return rc;
    }
    /* NUL bytes would truncate C strings downstream: a text file has none */
    if (b.len && memchr(b.data, 0, b.len)) {
        lore_buf_release(&b);
        return lore_err_set(e, LORE_EENCODING, "contains NUL bytes: binary, not text");
    }
    *out = lore_buf_detach(&b, out_len);
    return 0;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);
    return n > m && strcasecmp(path + n - m, ext) == 0;
}

const char *ing_sniff_mime(const char *path, const char *data, size_t n)
{
    if (data && n >= 5 && memcmp(data, "%PDF-", 5) == 0)
        return "application/pdf";
    if (path) {
        if (has_ext(path, ".pdf"))
            return "application/pdf";
        if (has_ext(path, ".md") || has_ext(path, ".markdown") || has_ext(path, ".mdown") ||
            has_ext(path, ".mkd"))
            return "text/markdown";
        if (has_ext(path, ".html") || has_ext(path, ".htm") || has_ext(path, ".xhtml"))
            return "text/html";
        if (has_ext(path, ".txt") || has_ext(path, ".text") || has_ext(path, ".rst") ||
            has_ext(path, ".log"))
            return "text/plain";
    }
    if (data) {
        size_t m = n < 512 ? n : 512;
        size_t i = 0;
        while (i < m && isspace((unsigned char)data[i]))
            i++;
        if (m - i >= 5 && (strncasecmp(data + i, "<!doc", 5) == 0 || strncasecmp(data + i, "<html", 5) == 0))
            return "text/html";
    }
    return NULL;
}

/* ---- shared helpers ------------------------------------------------------------ */

/* code points in s[0..n) */
static int64_t cps(const char *s, size_t n)
{
    return (int64_t)lore_utf8_len(s, n);
}

static const char *file_stem(const char *uri, char *buf, size_t cap)
{
    const char *base = strrchr(uri, '/');
    base = base ? base + 1 : uri;
    snprintf(buf, cap, "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = 0;
    return buf;
}

/* ---- plain text ---------------------------------------------------------------- */

int ing_extract_text(const char *uri, const char *data, size_t n, struct ing_doc **out,
                     struct lore_err *e)
{
    *out = NULL;
    struct ing_doc *d = ing_doc_new(uri, "text/plain");
    if (!d)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    struct lore_buf para;
    lore_buf_init(&para);
    int rc = 0;
    size_t i = 0;
    int64_t cp = 0, para_start = -1, para_end = 0;
    char first_line[200] = "";
    while (i <= n && !rc) {
        size_t j = i;
        while (j < n && data[j] != '\n')
            j++;
        size_t le = j;
        if (le > i && data[le - 1] == '\r')
            le--;
        int64_t line_cps = cps(data + i, j - i);
        size_t k = i;
        while (k < le && (data[k] == ' ' || data[k] == '\t' || data[k] == '\f'))
            k++;
        if (k == le) { /* blank line ends a paragraph */
            if (para.len)
                rc = ing_doc_add(d, ING_PARA, 0, 0, NULL, para.data, para.len, para_start, para_end);
            para.len = 0;
            para_start = -1;
        } else {
            if (!first_line[0] && le - k < sizeof first_line)
                snprintf(first_line, sizeof first_line, "%.*s", (int)(le - k), data + k);
            if (para_start < 0)
                para_start = cp;
            else
                rc |= lore_buf_putc(&para, ' ');
            rc |= lore_buf_append(&para, data + i, le - i);
            para_end = cp + cps(data + i, le - i);
        }
        cp += line_cps + 1;
        i = j + 1;
    }
    if (!rc && para.len)
        rc = ing_doc_add(d, ING_PARA, 0, 0, NULL, para.data, para.len, para_start, para_end);
    lore_buf_release(&para);
    char stem[256];
    if (!rc)
        rc = ing_doc_set_title(d, first_line[0] && strlen(first_line) <= 120
                                      ? first_line
                                      : file_stem(uri, stem, sizeof stem));
    if (rc) {
        ing_doc_free(d);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    *out = d;
    return 0;
}

/* ---- Markdown ------------------------------------------------------------------- */

struct line {
    const char *s; /* start of line */
    size_t len;    /* without \r\n */
    int64_t cp;    /* code-point offset of its start */
    int64_t cp_len;
};

struct md {
    struct ing_doc *d;
    char *hstack[7];   /* heading text per level 1..6 */
    char path[2048];
};

static void md_path(struct md *m)
{
    m->path[0] = 0;
    size_t n = 0;
    for (int l = 1; l <= 6; l++) {
        if (!m->hstack[l])
            continue;
        int w = snprintf(m->path + n, sizeof m->path - n, "%s%s", n ? " > " : "", m->hstack[l]);
        if (w < 0 || (size_t)w >= sizeof m->path - n)
            break;
        n += (size_t)w;
    }
}

static int indent_of(const struct line *l)
{
    int ind = 0;
    for (size_t i = 0; i < l->len; i++) {
        if (l->s[i] == ' ')
            ind++;
        else if (l->s[i] == '\t')
            ind += 4 - ind % 4;
        else
            return ind;
    }
    return -1; /* blank */
}

static const char *skip_ws(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

/* Strips inline Markdown: emphasis markers, code ticks, links [t](u) -> t,
 * images ![a](u) -> a, autolinks <u> -> u, HTML comments, trailing hard-break
 * spaces. Appends the result to b. */
static int md_inline(struct lore_buf *b, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && ispunct((unsigned char)s[i + 1])) {
            rc = lore_buf_putc(b, s[i + 1]);
            i += 2;
        } else if ((c == '*' || c == '_') ) {
            /* emphasis delimiters: drop runs of * or _ that touch a word edge */
            size_t j = i;
            while (j < n && s[j] == c)
                j++;
            int prev_alnum = i > 0 && isalnum((unsigned char)s[i - 1]);
            int next_alnum = j < n && isalnum((unsigned char)s[j]);
            if (c == '_' && prev_alnum && next_alnum)
                rc = lore_buf_append(b, s + i, j - i); /* snake_case */
            else if (!(i > 0 && s[i - 1] == ' ' && j < n && s[j] == ' '))
                ; /* drop */
            else
                rc = lore_buf_append(b, s + i, j - i);
            i = j;
        } else if (c == '`') {
            size_t j = i;
            while (j < n && s[j] == '`')
                j++;
            i = j;
        } else if ((c == '[' || (c == '!' && i + 1 < n && s[i + 1] == '['))) {
            size_t open = c == '!' ? i + 1 : i;
            size_t close = open + 1;
            int depth = 1;
            while (close < n && depth) {
                if (s[close] == '[')
                    depth++;
                else if (s[close] == ']')
                    depth--;
                if (depth)
                    close++;
            }
            if (close < n && close + 1 < n && s[close + 1] == '(') {
                size_t par = close + 2;
                while (par < n && s[par] != ')')
                    par++;
                if (par < n) {
                    rc = md_inline(b, s + open + 1, close - open - 1);
                    i = par + 1;
                    continue;
                }
            }
            if (close < n && close + 1 < n && s[close + 1] == '[') { /* reference link */
                size_t par = close + 2;
                while (par < n && s[par] != ']')
                    par++;
                if (par < n) {
                    rc = md_inline(b, s + open + 1, close - open - 1);
                    i = par + 1;
                    continue;
                }
            }
            rc = lore_buf_putc(b, c);
            i++;
        } else if (c == '<' && i + 4 <= n && memcmp(s + i, "<!--", 4) == 0) {
            const char *end = NULL;
            for (size_t j = i + 4; j + 3 <= n; j++)
                if (memcmp(s + j, "-->", 3) == 0) {
                    end = s + j + 3;
                    break;
                }
            i = end ? (size_t)(end - s) : n;
        } else if (c == '<') {
            size_t j = i + 1;
            while (j < n && s[j] != '>' && s[j] != ' ' && s[j] != '<')
                j++;
            if (j < n && s[j] == '>' && j > i + 1 &&
                (memchr(s + i, ':', j - i) || memchr(s + i, '@', j - i))) {
                rc = lore_buf_append(b, s + i + 1, j - i - 1); /* autolink */
                i = j + 1;
            } else if (j < n && s[j] == '>' && j > i + 1 &&
                       (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/')) {
                i = j + 1; /* inline HTML tag */
            } else {
                rc = lore_buf_putc(b, c);
                i++;
            }
        } else {
            rc = lore_buf_putc(b, c);
            i++;
        }
    }
    return rc;
}

static int is_fence(const struct line *l, char *fch, size_t *flen)
{
    const char *p = skip_ws(l->s, l->s + l->len);
    if (p - l->s > 3)
        return 0;
    char c = *p;
    if (p >= l->s + l->len || (c != '`' && c != '~'))
        return 0;
    size_t k = 0;
    while (p + k < l->s + l->len && p[k] == c)
        k++;
    if (k < 3)
        return 0;
    *fch = c;
    *flen = k;
    return 1;
}

static int atx_level(const struct line *l, const char **text, size_t *tlen)
{
    const char *p = l->s, *end = l->s + l->len;
    const char *q = skip_ws(p, end);
    if (q - p > 3)
        return 0;
    int lev = 0;
    while (q < end && *q == '#' && lev < 7) {
        lev++;
        q++;
    }
    if (lev < 1 || lev > 6 || (q < end && *q != ' ' && *q != '\t'))
        return 0;
    q = skip_ws(q, end);
    const char *e = end;
    while (e > q && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    const char *h = e; /* optional closing #s */
    while (h > q && h[-1] == '#')
        h--;
    if (h < e && (h == q || h[-1] == ' ' || h[-1] == '\t')) {
        e = h;
        while (e > q && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
    }
    *text = q;
    *tlen = (size_t)(e - q);
    return lev;
}

static int setext_level(const struct line *l)
{
    const char *p = skip_ws(l->s, l->s + l->len), *end = l->s + l->len;
    if (p >= end || (*p != '=' && *p != '-'))
        return 0;
    char c = *p;
    while (p < end && *p == c)
        p++;
    p = skip_ws(p, end);
    return p == end ? (c == '=' ? 1 : 2) : 0;
}

static int list_marker(const struct line *l, size_t *after)
{
    const char *p = skip_ws(l->s, l->s + l->len), *end = l->s + l->len;
    if (p < end && (*p == '-' || *p == '*' || *p == '+') && p + 1 < end && (p[1] == ' ' || p[1] == '\t')) {
        *after = (size_t)(p + 2 - l->s);
        return 1;
    }
    const char *q = p;
    while (q < end && isdigit((unsigned char)*q) && q - p < 9)
        q++;
    if (q > p && q < end && (*q == '.' || *q == ')') && q + 1 < end && (q[1] == ' ' || q[1] == '\t')) {
        *after = (size_t)(q + 2 - l->s);
        return 2;
    }
    return 0;
}

static int is_table_row(const struct line *l)
{
    const char *p = skip_ws(l->s, l->s + l->len);
    return p < l->s + l->len && *p == '|';
}

static int is_table_sep(const struct line *l)
{
    int dash = 0;
    for (size_t i = 0; i < l->len; i++) {
        char c = l->s[i];
        if (c == '-')
            dash = 1;
        else if (c != '|' && c != ':' && c != ' ' && c != '\t')
            return 0;
    }
    return dash;
}

static int md_heading(struct md *m, int level, const char *t, size_t n, int64_t cs, int64_t ce)
{
    struct lore_buf b;
    lore_buf_init(&b);
    if (md_inline(&b, t, n)) {
        lore_buf_release(&b);
        return LORE_ENOMEM;
    }
    for (int l = level; l <= 6; l++) {
        free(m->hstack[l]);
        m->hstack[l] = NULL;
    }
    m->hstack[level] = lore_buf_detach(&b, NULL);
    if (!m->hstack[level])
        return LORE_ENOMEM;
    md_path(m);
    if (level == 1 && !m->d->title[0] && m->hstack[1][0])
        ing_doc_set_title(m->d, m->hstack[1]);
    return ing_doc_add(m->d, ING_HEADING, level, 0, m->path, m->hstack[level],
                       strlen(m->hstack[level]), cs, ce);
}

int ing_extract_markdown(const char *uri, const char *data, size_t n, struct ing_doc **out,
                         struct lore_err *e)
{
    *out = NULL;
    /* split into lines */
    size_t nl = 1;
    for (size_t i = 0; i < n; i++)
        nl += data[i] == '\n';
    struct line *L = calloc(nl + 1, sizeof *L);
    struct md m;
    memset(&m, 0, sizeof m);
    m.d = ing_doc_new(uri, "text/markdown");
    if (!L || !m.d) {
        free(L);
        ing_doc_free(m.d);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    size_t cnt = 0;
    int64_t cp = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && data[j] != '\n')
            j++;
        size_t le = j;
        if (le > i && data[le - 1] == '\r')
            le--;
        L[cnt].s = data + i;
        L[cnt].len = le - i;
        L[cnt].cp = cp;
        L[cnt].cp_len = cps(data + i, le - i);
        cp += cps(data + i, j - i) + 1;
        cnt++;
        if (j >= n)
            break;
        i = j + 1;
    }
    struct lore_buf b;
    lore_buf_init(&b);
    int rc = 0;
    size_t i = 0;
    /* YAML front matter: take its title, skip the rest */
    if (cnt > 1 && L[0].len == 3 && memcmp(L[0].s, "---", 3) == 0) {
        for (size_t j = 1; j < cnt; j++) {
            if ((L[j].len == 3 && memcmp(L[j].s, "---", 3) == 0) ||
                (L[j].len == 3 && memcmp(L[j].s, "...", 3) == 0)) {
                for (size_t k = 1; k < j; k++)
                    if (L[k].len > 6 && strncmp(L[k].s, "title:", 6) == 0) {
                        const char *t = skip_ws(L[k].s + 6, L[k].s + L[k].len);
                        size_t tl = (size_t)(L[k].s + L[k].len - t);
                        if (tl >= 2 && (t[0] == '"' || t[0] == '\'') && t[tl - 1] == t[0]) {
                            t++;
                            tl -= 2;
                        }
                        char tb[512];
                        snprintf(tb, sizeof tb, "%.*s", (int)tl, t);
                        ing_doc_set_title(m.d, tb);
                    }
                i = j + 1;
                break;
            }
        }
    }
    while (i < cnt && !rc) {
        struct line *l = &L[i];
        int ind = indent_of(l);
        if (ind < 0) {
            i++;
            continue;
        }
        char fch;
        size_t flen;
        const char *ht;
        size_t hl;
        int lev;
        if (is_fence(l, &fch, &flen)) { /* fenced code: verbatim */
            size_t j = i + 1;
            b.len = 0;
            for (; j < cnt; j++) {
                char c2;
                size_t l2;
                if (is_fence(&L[j], &c2, &l2) && c2 == fch && l2 >= flen) {
                    const char *rest = skip_ws(L[j].s, L[j].s + L[j].len);
                    while (rest < L[j].s + L[j].len && *rest == c2)
                        rest++;
                    if (skip_ws(rest, L[j].s + L[j].len) == L[j].s + L[j].len)
                        break;
                }
                if (j > i + 1)
                    rc |= lore_buf_putc(&b, '\n');
                rc |= lore_buf_append(&b, L[j].s, L[j].len);
            }
            if (j > i + 1 && b.len)
                rc |= ing_doc_add(m.d, ING_CODE, 0, 0, m.path, b.data, b.len, L[i + 1].cp,
                                  L[j - 1].cp + L[j - 1].cp_len);
            i = j < cnt ? j + 1 : j;
            continue;
        }
        if ((lev = atx_level(l, &ht, &hl)) > 0) {
            rc = md_heading(&m, lev, ht, hl, l->cp, l->cp + l->cp_len);
            i++;
            continue;
        }
        if (ind >= 4) { /* indented code */
            size_t j = i;
            b.len = 0;
            size_t last = i;
            for (; j < cnt; j++) {
                int in2 = indent_of(&L[j]);
                if (in2 >= 0 && in2 < 4)
                    break;
                if (j > i)
                    rc |= lore_buf_putc(&b, '\n');
                if (in2 >= 0) {
                    size_t skip = 0, col = 0;
                    while (skip < L[j].len && col < 4) {
                        col += L[j].s[skip] == '\t' ? 4 - col % 4 : 1;
                        skip++;
                    }
                    rc |= lore_buf_append(&b, L[j].s + skip, L[j].len - skip);
                    last = j;
                }
            }
            while (b.len && b.data[b.len - 1] == '\n')
                b.data[--b.len] = 0;
            rc |= ing_doc_add(m.d, ING_CODE, 0, 0, m.path, b.data, b.len, l->cp,
                              L[last].cp + L[last].cp_len);
            i = j;
            continue;
        }
        size_t after;
        int lm = list_marker(l, &after);
        if (lm) { /* a list: items and their continuation lines */
            size_t j = i, last = i;
            b.len = 0;
            for (; j < cnt; j++) {
                int in2 = indent_of(&L[j]);
                if (in2 < 0) {
                    if (j + 1 < cnt && (list_marker(&L[j + 1], &after) || indent_of(&L[j + 1]) >= 2))
                        continue;
                    break;
                }
                int lm2 = list_marker(&L[j], &after);
                if (!lm2 && j > i && in2 == 0 &&
                    (atx_level(&L[j], &ht, &hl) || is_fence(&L[j], &fch, &flen)))
                    break;
                if (lm2) {
                    if (b.len)
                        rc |= lore_buf_putc(&b, '\n');
                    for (int k = 0; k < in2 && k < 12; k++)
                        rc |= lore_buf_putc(&b, ' ');
                    const char *p = skip_ws(L[j].s, L[j].s + L[j].len);
                    if (lm2 == 1)
                        rc |= lore_buf_puts(&b, "- ");
                    else
                        rc |= lore_buf_append(&b, p, (size_t)(L[j].s + after - p));
                    /* task list boxes */
                    const char *t = L[j].s + after;
                    size_t tl = L[j].len - after;
                    rc |= md_inline(&b, t, tl);
                } else {
                    if (!lm2 && in2 == 0 && j > i && indent_of(&L[j - 1]) < 0)
                        break;
                    rc |= lore_buf_putc(&b, ' ');
                    const char *p = skip_ws(L[j].s, L[j].s + L[j].len);
                    rc |= md_inline(&b, p, (size_t)(L[j].s + L[j].len - p));
                }
                last = j;
            }
            rc |= ing_doc_add(m.d, ING_LIST, 0, 0, m.path, b.data, b.len, l->cp,
                              L[last].cp + L[last].cp_len);
            i = last + 1;
            continue;
        }
        if (is_table_row(l) && i + 1 < cnt && is_table_sep(&L[i + 1])) {
            size_t j = i;
            b.len = 0;
            for (; j < cnt && is_table_row(&L[j]); j++) {
                if (j == i + 1)
                    continue; /* the |---| line */
                if (b.len)
                    rc |= lore_buf_putc(&b, '\n');
                const char *p = skip_ws(L[j].s, L[j].s + L[j].len), *end = L[j].s + L[j].len;
                while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                    end--;
                if (p < end && *p == '|')
                    p++;
                if (end > p && end[-1] == '|')
                    end--;
                int cell = 0;
                while (p <= end) {
                    const char *q = p;
                    while (q < end && !(*q == '|' && q[-1] != '\\'))
                        q++;
                    const char *a = skip_ws(p, q), *z = q;
                    while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
                        z--;
                    if (cell++)
                        rc |= lore_buf_puts(&b, " | ");
                    rc |= md_inline(&b, a, (size_t)(z - a));
                    p = q + 1;
                }
            }
            rc |= ing_doc_add(m.d, ING_TABLE, 0, 0, m.path, b.data, b.len, l->cp,
                              L[j - 1].cp + L[j - 1].cp_len);
            i = j;
            continue;
        }
        if (skip_ws(l->s, l->s + l->len)[0] == '>') { /* block quote */
            size_t j = i;
            b.len = 0;
            for (; j < cnt; j++) {
                const char *p = skip_ws(L[j].s, L[j].s + L[j].len);
                if (indent_of(&L[j]) < 0 || *p != '>')
                    break;
                p++;
                if (p < L[j].s + L[j].len && *p == ' ')
                    p++;
                if (b.len)
                    rc |= lore_buf_putc(&b, ' ');
                rc |= md_inline(&b, p, (size_t)(L[j].s + L[j].len - p));
            }
            rc |= ing_doc_add(m.d, ING_QUOTE, 0, 0, m.path, b.data, b.len, l->cp,
                              L[j - 1].cp + L[j - 1].cp_len);
            i = j;
            continue;
        }
        if (is_table_sep(l) && setext_level(l) == 0 && l->len && skip_ws(l->s, l->s + l->len)[0] != '-') {
            i++;
            continue;
        }
        /* thematic break */
        {
            const char *p = skip_ws(l->s, l->s + l->len);
            char c = *p;
            if (c == '-' || c == '*' || c == '_') {
                int k = 0, other = 0;
                for (size_t q = 0; q < l->len; q++) {
                    if (l->s[q] == c)
                        k++;
                    else if (l->s[q] != ' ' && l->s[q] != '\t')
                        other = 1;
                }
                if (k >= 3 && !other) {
                    i++;
                    continue;
                }
            }
        }
        /* paragraph: until a blank line or another block starts */
        size_t j = i;
        b.len = 0;
        int setext = 0;
        for (; j < cnt; j++) {
            if (indent_of(&L[j]) < 0)
                break;
            if (j > i) {
                if ((setext = setext_level(&L[j])) > 0)
                    break;
                if (atx_level(&L[j], &ht, &hl) || is_fence(&L[j], &fch, &flen) ||
                    list_marker(&L[j], &after) ||
                    skip_ws(L[j].s, L[j].s + L[j].len)[0] == '>' ||
                    (is_table_row(&L[j]) && j + 1 < cnt && is_table_sep(&L[j + 1])))
                    break;
                rc |= lore_buf_putc(&b, ' ');
            }
            const char *p = skip_ws(L[j].s, L[j].s + L[j].len), *end = L[j].s + L[j].len;
            while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            rc |= md_inline(&b, p, (size_t)(end - p));
        }
        if (setext) {
            rc |= md_heading(&m, setext, b.data ? b.data : "", b.len, l->cp,
                             L[j].cp + L[j].cp_len);
            i = j + 1;
            continue;
        }
        rc |= ing_doc_add(m.d, ING_PARA, 0, 0, m.path, b.data ? b.data : "", b.len, l->cp,
                          L[j - 1].cp + L[j - 1].cp_len);
        i = j;
    }
    lore_buf_release(&b);
    for (int k = 0; k <= 6; k++)
        free(m.hstack[k]);
    free(L);
    char stem[256];
    if (!rc && !m.d->title[0])
        rc = ing_doc_set_title(m.d, file_stem(uri, stem, sizeof stem));
    if (rc) {
        ing_doc_free(m.d);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    *out = m.d;
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

/* True when bytes hold no C0 control characters but tab, CR, LF and FF:
 * text in some 8-bit encoding rather than binary data. */
static int looks_like_legacy_text(const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f')
            return 0;
        if (c == 0x7f)
            return 0;
    }
    return 1;
}

int ing_extract(const char *uri, const char *mime, const char *data, size_t n,
                const struct ing_extract_opts *opts, struct ing_doc **out, struct lore_err *e)
{
    *out = NULL;
    if (!mime)
        mime = ing_sniff_mime(uri, data, n);
    if (!mime)
        mime = "text/plain";
    if (strcmp(mime, "application/pdf") == 0)
        return ing_extract_pdf(uri, data, n, opts, out, e);
    if (strcmp(mime, "text/html") == 0)
        return ing_extract_html(uri, data, n, out, e);
    char *txt;
    size_t tl;
    int latin1 = 0;
    int rc = ing_decode_text(data, n, 0, &txt, &tl, e);
    if (rc == LORE_EENCODING && looks_like_legacy_text(data, n)) {
        /* not UTF-8 but no control bytes: a legacy 8-bit text file */
        rc = ing_decode_text(data, n, 1, &txt, &tl, e);
        latin1 = 1;
    }
    if (rc) {
        lore_err_prefix(e, "'%s'", uri);
        return rc;
    }
    if (strcmp(mime, "text/markdown") == 0)
        rc = ing_extract_markdown(uri, txt, tl, out, e);
    else
        rc = ing_extract_text(uri, txt, tl, out, e);
    free(txt);
    if (!rc && latin1)
        ing_doc_warn(*out, "not valid UTF-8: decoded as Windows-1252");
    return rc;
}
