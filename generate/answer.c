/*
 * answer.c — gen_ask(): retrieve, merge, pack, answer, check.
 *
 * Extractive mode (no generator): the sentences of the top passages are
 * scored against the question — idf-weighted coverage of the question's
 * terms, query bigrams in order, the passage's rank, and the kind of answer
 * the question asks for (a number, a date, a name) — and the best 1..3 are
 * returned, each followed by its source number.
 *
 * Generative mode: sources are numbered best-first and packed into the
 * generator's context (its own tokenizer counts), the model is told to
 * answer only from them with [n] after each claim, and its answer is then
 * checked: unknown numbers are removed and flagged, and each cited sentence
 * is scored for lexical support in the passage it cites.
 */
#include "generate/generate.h"
#include "index/index.h"
#include "embed/embed.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gen_ask_opts_default(struct gen_ask_opts *o)
{
    memset(o, 0, sizeof *o);
    o->k = 8;
    o->answer_tokens = 512;
    o->max_sentences = 3;
}

/* ---- words ------------------------------------------------------------------ */

struct words {
    char **v;
    size_t n, cap;
};

static void words_free(struct words *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    memset(w, 0, sizeof *w);
}

static int is_wbyte(unsigned char c)
{
    return c >= 0x80 || isalnum(c);
}

/* A crude English stemmer: enough to match "backups"/"backup",
 * "kept"/"keeps" is beyond it. Works in place on a lowercase ASCII word. */
static void stem(char *w)
{
    size_t n = strlen(w);
    if (n > 5 && strcmp(w + n - 3, "ing") == 0)
        w[n - 3] = 0;
    else if (n > 4 && strcmp(w + n - 2, "ed") == 0)
        w[n - 2] = 0;
    else if (n > 4 && strcmp(w + n - 3, "ies") == 0)
        strcpy(w + n - 3, "y");
    else if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i')
        w[n - 1] = 0;
}

/* Lowercased, stemmed content words of s (stopwords dropped unless keep). */
static int split_words(const char *s, size_t n, int keep_stop, struct words *out)
{
    for (size_t i = 0; i < n;) {
        if (!is_wbyte((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && is_wbyte((unsigned char)s[j]))
            j++;
        size_t len = j - i;
        if (len < 64) {
            char w[64];
            for (size_t k = 0; k < len; k++)
                w[k] = (char)tolower((unsigned char)s[i + k]);
            w[len] = 0;
            if (keep_stop || !idx_is_stopword(w, len)) {
                stem(w);
                if (out->n == out->cap) {
                    out->cap = out->cap ? out->cap * 2 : 32;
                    char **nv = realloc(out->v, out->cap * sizeof *nv);
                    if (!nv)
                        return LORE_ENOMEM;
                    out->v = nv;
                }
                if (!(out->v[out->n] = strdup(w)))
                    return LORE_ENOMEM;
                out->n++;
            }
        }
        i = j;
    }
    return 0;
}

static int words_has(const struct words *w, const char *x)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i], x) == 0)
            return 1;
    return 0;
}

/* ---- sources ------------------------------------------------------------------ */

static void source_release(struct gen_source *s)
{
    free(s->uri);
    free(s->title);
    free(s->heading);
    free(s->text);
    for (size_t i = 0; i < s->n_parts; i++)
        free(s->parts[i].text);
    free(s->parts);
    s->parts = NULL;
    s->n_parts = 0;
}

static void citations_free(struct gen_answer *a)
{
    for (size_t i = 0; i < a->n_citations; i++)
        free(a->citations[i].quote);
    free(a->citations);
    a->citations = NULL;
    a->n_citations = 0;
}

/* Adds a hit as a part of s, keeping parts in chunk order. */
static int add_part(struct gen_source *s, const struct idx_hit *x)
{
    struct gen_part *np = realloc(s->parts, (s->n_parts + 1) * sizeof *np);
    if (!np)
        return LORE_ENOMEM;
    s->parts = np;
    size_t at = s->n_parts;
    while (at > 0 && s->parts[at - 1].chunk_id > x->chunk_id)
        at--;
    memmove(&s->parts[at + 1], &s->parts[at], (s->n_parts - at) * sizeof *np);
    struct gen_part *p = &s->parts[at];
    p->chunk_id = x->chunk_id;
    p->text = strdup(x->text);
    p->page = x->page_start;
    p->page_end = x->page_end;
    p->char_start = x->char_start;
    p->char_end = x->char_end;
    p->exact = x->page_start == x->page_end &&
               (int64_t)lore_utf8_len(x->text, strlen(x->text)) == x->char_end - x->char_start;
    s->n_parts++;
    return p->text ? 0 : LORE_ENOMEM;
}

void gen_answer_free(struct gen_answer *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_sources; i++)
        source_release(&a->sources[i]);
    free(a->sources);
    citations_free(a);
    free(a->text);
    free(a->query);
    free(a);
}

/* Appends b's text to a's, skipping the longest prefix of b that is a
 * suffix of a (the chunker's overlap). */
static int append_dedup(struct lore_buf *a, const char *b)
{
    size_t bl = strlen(b), best = 0;
    size_t max = a->len < bl ? a->len : bl;
    if (max > 4000)
        max = 4000;
    for (size_t k = max; k >= 20; k--) {
        if (memcmp(a->data + a->len - k, b, k) == 0) {
            best = k;
            break;
        }
    }
    if (best)
        return lore_buf_puts(a, b + best);
    return lore_buf_puts(a, "\n") || lore_buf_puts(a, b) ? LORE_ENOMEM : 0;
}

/* Hits → numbered sources: a hit whose chunk neighbours an earlier hit's
 * (same document, adjacent chunk id) is merged into that source. */
static int make_sources(const struct idx_hits *h, struct gen_answer *a)
{
    a->sources = calloc(h->n ? h->n : 1, sizeof *a->sources);
    if (!a->sources)
        return LORE_ENOMEM;
    int64_t *lo = calloc(h->n ? h->n : 1, sizeof *lo), *hi = calloc(h->n ? h->n : 1, sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return LORE_ENOMEM;
    }
    int rc = 0;
    /* first pass: which source does each hit join? repeat until stable, as a
     * later hit can bridge two earlier ones */
    for (size_t i = 0; i < h->n && !rc; i++) {
        const struct idx_hit *x = &h->v[i];
        size_t j;
        for (j = 0; j < a->n_sources; j++)
            if (a->sources[j].doc_id == x->doc_id && (x->chunk_id == lo[j] - 1 || x->chunk_id == hi[j] + 1))
                break;
        if (j == a->n_sources) {
            struct gen_source *s = &a->sources[a->n_sources++];
            s->n = (int)a->n_sources;
            s->chunk_id = x->chunk_id;
            s->doc_id = x->doc_id;
            s->uri = strdup(x->uri);
            s->title = strdup(x->title);
            s->heading = strdup(x->heading);
            s->text = strdup(x->text);
            s->page = x->page_start;
            s->page_end = x->page_end;
            s->char_start = x->char_start;
            s->char_end = x->char_end;
            s->score = x->score;
            lo[j] = hi[j] = x->chunk_id;
            if (!s->uri || !s->title || !s->heading || !s->text || add_part(s, x))
                rc = LORE_ENOMEM;
            continue;
        }
        struct gen_source *s = &a->sources[j];
        if (add_part(s, x)) {
            rc = LORE_ENOMEM;
            break;
        }
        struct lore_buf b;
        lore_buf_init(&b);
        if (x->chunk_id == hi[j] + 1) { /* after */
            rc = lore_buf_puts(&b, s->text) || append_dedup(&b, x->text) ? LORE_ENOMEM : 0;
            hi[j] = x->chunk_id;
            if (x->page_end > s->page_end)
                s->page_end = x->page_end;
            if (x->char_end > s->char_end || x->page_end > s->page)
                s->char_end = x->char_end;
        } else { /* before */
            rc = lore_buf_puts(&b, x->text) || append_dedup(&b, s->text) ? LORE_ENOMEM : 0;
            lo[j] = x->chunk_id;
            s->chunk_id = x->chunk_id;
            s->page = x->page_start;
            s->char_start = x->char_start;
        }
        if (rc) {
            lore_buf_release(&b);
            break;
        }
        free(s->text);
        s->text = lore_buf_detach(&b, NULL);
    }
    free(lo);
    free(hi);
    return rc;
}

/* ---- sentences ------------------------------------------------------------------ */

struct sent {
    const char *s;
    size_t n;
};

/* Splits text into sentences (and lines, for lists and tables). */
static int split_sentences(const char *t, struct sent **out, size_t *n_out)
{
    size_t n = strlen(t), cap = 16, cnt = 0, start = 0;
    struct sent *v = malloc(cap * sizeof *v);
    if (!v)
        return LORE_ENOMEM;
    for (size_t i = 0; i <= n; i++) {
        int end = 0;
        size_t stop = i;
        if (i == n || t[i] == '\n') {
            end = 1;
        } else if ((t[i] == '.' || t[i] == '!' || t[i] == '?') && i + 1 < n && t[i + 1] == ' ' &&
                   i + 2 < n && (isupper((unsigned char)t[i + 2]) || isdigit((unsigned char)t[i + 2]) ||
                                 t[i + 2] == '"' || (unsigned char)t[i + 2] >= 0x80)) {
            /* not after a single capital (initials) or common abbreviations */
            size_t w = i;
            while (w > start && t[w - 1] != ' ')
                w--;
            size_t wl = i - w;
            int abbr = (wl == 1 && isupper((unsigned char)t[w])) ||
                       (wl <= 4 && (strncmp(t + w, "e.g", 3) == 0 || strncmp(t + w, "i.e", 3) == 0 ||
                                    strncmp(t + w, "Dr", 2) == 0 || strncmp(t + w, "Mr", 2) == 0 ||
                                    strncmp(t + w, "Mrs", 3) == 0 || strncmp(t + w, "St", 2) == 0 ||
                                    strncmp(t + w, "vs", 2) == 0 || strncmp(t + w, "No", 2) == 0));
            if (!abbr) {
                end = 1;
                stop = i + 1;
            }
        }
        if (!end)
            continue;
        size_t a = start, z = stop;
        while (a < z && isspace((unsigned char)t[a]))
            a++;
        while (z > a && isspace((unsigned char)t[z - 1]))
            z--;
        if (z > a) {
            if (cnt == cap) {
                cap *= 2;
                struct sent *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    free(v);
                    return LORE_ENOMEM;
                }
                v = nv;
            }
            v[cnt].s = t + a;
            v[cnt].n = z - a;
            cnt++;
        }
        start = stop;
    }
    *out = v;
    *n_out = cnt;
    return 0;
}

/* ---- extractive answers ----------------------------------------------------------- */

enum qtype { Q_OTHER, Q_NUMBER, Q_DATE, Q_NAME };

static enum qtype question_type(const char *q)
{
    char low[64];
    size_t i = 0;
    while (q[i] && i < sizeof low - 1) {
        low[i] = (char)tolower((unsigned char)q[i]);
        i++;
    }
    low[i] = 0;
    if (strstr(low, "how many") || strstr(low, "how much") || strstr(low, "how long") ||
        strstr(low, "how old") || strstr(low, "how far") || strstr(low, "what percentage") ||
        strstr(low, "how big") || strstr(low, "how large"))
        return Q_NUMBER;
    if (strncmp(low, "when", 4) == 0 || strstr(low, "what year") || strstr(low, "which year") ||
        strstr(low, "what date") || strstr(low, "what century"))
        return Q_DATE;
    if (strncmp(low, "who", 3) == 0 || strstr(low, "whom") || strstr(low, "whose"))
        return Q_NAME;
    return Q_OTHER;
}

static int has_digit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isdigit((unsigned char)s[i]))
            return 1;
    return 0;
}

static int has_year_or_month(const char *s, size_t n)
{
    static const char *months[] = {"January", "February", "March", "April", "May", "June", "July",
                                   "August", "September", "October", "November", "December"};
    for (size_t i = 0; i + 4 <= n; i++)
        if (isdigit((unsigned char)s[i]) && isdigit((unsigned char)s[i + 1]) &&
            isdigit((unsigned char)s[i + 2]) && isdigit((unsigned char)s[i + 3]) &&
            (i == 0 || !isdigit((unsigned char)s[i - 1])) && (i + 4 == n || !isdigit((unsigned char)s[i + 4])))
            return 1;
    for (size_t m = 0; m < 12; m++)
        if (memmem(s, n, months[m], strlen(months[m])))
            return 1;
    return 0;
}

/* Capitalised words in s that the question does not contain (a name?). */
static int new_names(const char *s, size_t n, const char *q)
{
    int cnt = 0;
    for (size_t i = 1; i < n; i++) {
        if (isupper((unsigned char)s[i]) && s[i - 1] == ' ' && !(i >= 2 && s[i - 2] == '.')) {
            size_t j = i;
            while (j < n && isalpha((unsigned char)s[j]))
                j++;
            if (j - i > 1 && !strstr(q, (char[64]){0}) ) {
                char w[64];
                size_t l = j - i < 63 ? j - i : 63;
                memcpy(w, s + i, l);
                w[l] = 0;
                if (!strstr(q, w))
                    cnt++;
            }
            i = j;
        }
    }
    return cnt;
}

struct cand {
    int src;        /* index into sources */
    struct sent s;
    double score;
    int order;      /* position in its source */
};

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : x->order - y->order;
}

/* Appends the sentence with its citation before the final punctuation. */
static int put_cited(struct lore_buf *b, const struct sent *s, int n)
{
    size_t len = s->n;
    char end = 0;
    if (len && (s->s[len - 1] == '.' || s->s[len - 1] == '!' || s->s[len - 1] == '?' ||
                s->s[len - 1] == ':' || s->s[len - 1] == ';')) {
        end = s->s[len - 1];
        len--;
    }
    int rc = lore_buf_append(b, s->s, len);
    rc |= lore_buf_printf(b, " [%d]%c", n, end == ':' || end == ';' || !end ? '.' : end);
    return rc ? LORE_ENOMEM : 0;
}

static int extractive(struct idx_kb *kb, const char *question, const struct gen_ask_opts *o,
                      struct gen_answer *a, struct lore_err *e)
{
    struct words qw = {0};
    int rc = split_words(question, strlen(question), 0, &qw);
    if (!rc && qw.n == 0)
        rc = split_words(question, strlen(question), 1, &qw);
    /* distinct terms and their idf */
    size_t nt = 0;
    char **terms = calloc(qw.n ? qw.n : 1, sizeof *terms);
    double *idf = calloc(qw.n ? qw.n : 1, sizeof *idf);
    int64_t *df = calloc(qw.n ? qw.n : 1, sizeof *df);
    if (!terms || !idf || !df)
        rc = LORE_ENOMEM;
    for (size_t i = 0; i < qw.n && !rc; i++) {
        int dup = 0;
        for (size_t j = 0; j < nt; j++)
            dup |= strcmp(terms[j], qw.v[i]) == 0;
        if (!dup)
            terms[nt++] = qw.v[i];
    }
    int64_t N = 1;
    if (!rc && nt)
        rc = idx_term_df(kb, (const char *const *)terms, nt, df, &N, e);
    double total = 0;
    for (size_t i = 0; i < nt; i++) {
        idf[i] = log(1.0 + ((double)N - (double)df[i] + 0.5) / ((double)df[i] + 0.5));
        total += idf[i];
    }
    enum qtype qt = question_type(question);
    struct cand *c = NULL;
    size_t nc = 0, capc = 0;
    size_t use = a->n_sources < 5 ? a->n_sources : 5;
    for (size_t si = 0; si < use && !rc; si++) {
        struct sent *ss;
        size_t ns;
        if ((rc = split_sentences(a->sources[si].text, &ss, &ns)))
            break;
        for (size_t k = 0; k < ns && !rc; k++) {
            struct words sw = {0};
            if ((rc = split_words(ss[k].s, ss[k].n, 0, &sw)))
                break;
            double cov = 0;
            for (size_t t = 0; t < nt; t++)
                if (words_has(&sw, terms[t]))
                    cov += idf[t];
            cov = total > 0 ? cov / total : 0;
            /* query bigrams in order */
            double big = 0;
            for (size_t t = 0; t + 1 < qw.n; t++)
                for (size_t x = 0; x + 1 < sw.n; x++)
                    if (strcmp(sw.v[x], qw.v[t]) == 0 && strcmp(sw.v[x + 1], qw.v[t + 1]) == 0) {
                        big += 1;
                        break;
                    }
            double score = cov + 0.05 * big + 0.12 / (1.0 + (double)si);
            if (qt == Q_NUMBER && has_digit(ss[k].s, ss[k].n))
                score += 0.08;
            if (qt == Q_DATE && has_year_or_month(ss[k].s, ss[k].n))
                score += 0.10;
            if (qt == Q_NAME && new_names(ss[k].s, ss[k].n, question) > 0)
                score += 0.06;
            if (sw.n < 3)
                score -= 0.15; /* headings, fragments */
            if (ss[k].n > 600)
                score -= 0.1;
            /* a sentence that only restates the question answers nothing */
            size_t extra = 0;
            for (size_t x = 0; x < sw.n; x++)
                extra += !words_has(&qw, sw.v[x]);
            if (extra < 2)
                score -= 0.2;
            words_free(&sw);
            if (nc == capc) {
                capc = capc ? capc * 2 : 64;
                struct cand *nv = realloc(c, capc * sizeof *nv);
                if (!nv) {
                    rc = LORE_ENOMEM;
                    break;
                }
                c = nv;
            }
            c[nc++] = (struct cand){(int)si, ss[k], score, (int)k};
        }
        free(ss);
    }
    struct lore_buf b;
    lore_buf_init(&b);
    if (!rc && nc) {
        qsort(c, nc, sizeof *c, cmp_cand);
        int maxs = o->max_sentences > 0 ? o->max_sentences : 3;
        double best = c[0].score;
        int taken = 0;
        size_t picked[8];
        for (size_t i = 0; i < nc && taken < maxs && taken < 8; i++) {
            if (i > 0 && c[i].score < 0.75 * best)
                break;
            /* skip near-duplicates of a picked sentence (overlapping chunks) */
            int dup = 0;
            for (int k = 0; k < taken; k++)
                dup |= c[picked[k]].s.n == c[i].s.n && memcmp(c[picked[k]].s.s, c[i].s.s, c[i].s.n) == 0;
            if (dup)
                continue;
            picked[taken++] = i;
        }
        /* in reading order: by source, then position */
        for (int x = 0; x < taken; x++)
            for (int y = x + 1; y < taken; y++) {
                struct cand *p = &c[picked[x]], *q = &c[picked[y]];
                if (q->src < p->src || (q->src == p->src && q->order < p->order)) {
                    size_t t = picked[x];
                    picked[x] = picked[y];
                    picked[y] = t;
                }
            }
        for (int x = 0; x < taken && !rc; x++) {
            if (x)
                rc = lore_buf_putc(&b, ' ');
            rc |= put_cited(&b, &c[picked[x]].s, a->sources[c[picked[x]].src].n);
        }
        if (best < 0.2) { /* nothing in the passages speaks to the question */
            b.len = 0;
            lore_buf_puts(&b, GEN_NOT_FOUND);
            a->not_found = 1;
        }
    } else if (!rc) {
        lore_buf_puts(&b, GEN_NOT_FOUND);
        a->not_found = 1;
    }
    if (!rc && b.data) {
        if (o->on_text)
            o->on_text(o->ud, b.data, b.len);
        rc = gen_check_citations(a, b.data, b.len, e);
    }
    lore_buf_release(&b);
    free(c);
    free(terms);
    free(idf);
    free(df);
    words_free(&qw);
    if (rc == LORE_ENOMEM)
        lore_err_set(e, rc, "out of memory");
    return rc;
}

/* ---- citations ---------------------------------------------------------------------- */

/* Parses "[1]", "[1, 3]", "[2-4]" at t (t[0] == '['). Returns the length of
 * the bracket group and fills nums (up to 32), or 0 if it is not one. */
static size_t parse_cite(const char *t, size_t n, int *nums, int *cnt)
{
    *cnt = 0;
    size_t i = 1;
    int any = 0;
    while (i < n) {
        while (i < n && t[i] == ' ')
            i++;
        if (i >= n || !isdigit((unsigned char)t[i]))
            return 0;
        long a = 0;
        while (i < n && isdigit((unsigned char)t[i]) && a < 100000)
            a = a * 10 + (t[i++] - '0');
        long z = a;
        while (i < n && t[i] == ' ')
            i++;
        if (i < n && (t[i] == '-' || (i + 2 < n && (unsigned char)t[i] == 0xE2 && (unsigned char)t[i + 1] == 0x80 &&
                                      (unsigned char)t[i + 2] == 0x93))) {
            i += t[i] == '-' ? 1 : 3;
            while (i < n && t[i] == ' ')
                i++;
            if (i >= n || !isdigit((unsigned char)t[i]))
                return 0;
            z = 0;
            while (i < n && isdigit((unsigned char)t[i]) && z < 100000)
                z = z * 10 + (t[i++] - '0');
            if (z < a || z - a > 20)
                return 0;
        }
        for (long v = a; v <= z && *cnt < 32; v++)
            nums[(*cnt)++] = (int)v;
        any = 1;
        while (i < n && t[i] == ' ')
            i++;
        if (i < n && t[i] == ']')
            return any ? i + 1 : 0;
        if (i < n && (t[i] == ',' || t[i] == ';')) {
            i++;
            continue;
        }
        return 0;
    }
    return 0;
}

/* Fraction of the sentence's content words found in the source. */
static double support(const char *sent, size_t n, const struct gen_source *src)
{
    struct words sw = {0}, srcw = {0};
    if (split_words(sent, n, 0, &sw) || split_words(src->text, strlen(src->text), 0, &srcw) ||
        split_words(src->title, strlen(src->title), 0, &srcw)) {
        words_free(&sw);
        words_free(&srcw);
        return 0;
    }
    size_t hit = 0;
    for (size_t i = 0; i < sw.n; i++)
        hit += words_has(&srcw, sw.v[i]);
    double r = sw.n ? (double)hit / (double)sw.n : 1.0;
    words_free(&sw);
    words_free(&srcw);
    return r;
}

#define SUPPORT_MIN 0.5

/* The best quote for a cited sentence so far, per source number. */
struct quote {
    double score;
    size_t part;
    const char *s;
    size_t n;
};

/* Finds, in source src, the sentence that best matches claim[0..cn) by
 * content-word overlap; updates q when it beats it. */
static void find_quote(const char *claim, size_t cn, const struct gen_source *src, struct quote *q)
{
    struct words cw = {0};
    if (split_words(claim, cn, 0, &cw) || cw.n == 0) {
        words_free(&cw);
        return;
    }
    for (size_t p = 0; p < src->n_parts; p++) {
        struct sent *ss;
        size_t ns;
        if (split_sentences(src->parts[p].text, &ss, &ns))
            continue;
        for (size_t k = 0; k < ns; k++) {
            struct words sw = {0};
            if (split_words(ss[k].s, ss[k].n, 0, &sw) == 0 && sw.n) {
                size_t hit = 0;
                for (size_t i = 0; i < cw.n; i++)
                    hit += words_has(&sw, cw.v[i]);
                /* recall of the claim's words, lightly preferring short quotes */
                double sc = (double)hit / (double)cw.n - 0.001 * (double)sw.n;
                if (hit && sc > q->score) {
                    q->score = sc;
                    q->part = p;
                    q->s = ss[k].s;
                    q->n = ss[k].n;
                }
            }
            words_free(&sw);
        }
        free(ss);
    }
    words_free(&cw);
}

/* Fills the citation's location from its best quote. */
static int locate(struct gen_citation *c, const struct quote *q)
{
    const struct gen_source *s = c->src;
    c->chunk_id = s->chunk_id;
    c->page = s->page;
    c->page_end = s->page_end;
    c->char_start = s->char_start;
    c->char_end = s->char_end;
    if (!q->s || !s->n_parts)
        return 0;
    const struct gen_part *p = &s->parts[q->part];
    c->chunk_id = p->chunk_id;
    c->page = p->page;
    c->page_end = p->page_end;
    c->char_start = p->char_start;
    c->char_end = p->char_end;
    if (p->exact) {
        int64_t off = (int64_t)lore_utf8_len(p->text, (size_t)(q->s - p->text));
        c->char_start = p->char_start + off;
        c->char_end = c->char_start + (int64_t)lore_utf8_len(q->s, q->n);
    }
    c->quote = malloc(q->n + 1);
    if (!c->quote)
        return LORE_ENOMEM;
    memcpy(c->quote, q->s, q->n);
    c->quote[q->n] = 0;
    return 0;
}

int gen_check_citations(struct gen_answer *a, const char *text, size_t len, struct lore_err *e)
{
    struct lore_buf out;
    lore_buf_init(&out);
    size_t ns = a->n_sources;
    double *worst = malloc((ns + 1) * sizeof *worst);
    int *cited = calloc(ns + 1, sizeof *cited);
    struct quote *best = calloc(ns + 1, sizeof *best);
    if (!worst || !cited || !best) {
        free(worst);
        free(cited);
        free(best);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i <= ns; i++) {
        worst[i] = 1.0;
        best[i].score = -1;
    }
    /* rewrite the text keeping valid citations; score each cited sentence */
    int rc = 0;
    size_t sent_start = 0; /* in out */
    int pend[64], npend = 0;
    a->removed_citations = 0;
    a->unsupported_sentences = 0;
    for (size_t i = 0; i <= len && !rc; i++) {
        int boundary = i == len || text[i] == '\n';
        if (!boundary && text[i] == '[') {
            int nums[32], cnt;
            size_t l = parse_cite(text + i, len - i, nums, &cnt);
            if (l) {
                int keep[32], nk = 0;
                for (int k = 0; k < cnt; k++) {
                    if (nums[k] < 1 || (size_t)nums[k] > ns) {
                        a->removed_citations++;
                        continue;
                    }
                    int dup = 0;
                    for (int x = 0; x < nk; x++)
                        dup |= keep[x] == nums[k];
                    if (!dup)
                        keep[nk++] = nums[k];
                }
                if (nk) {
                    rc |= lore_buf_putc(&out, '[');
                    for (int k = 0; k < nk; k++) {
                        rc |= lore_buf_printf(&out, "%s%d", k ? ", " : "", keep[k]);
                        if (npend < 64)
                            pend[npend++] = keep[k];
                    }
                    rc |= lore_buf_putc(&out, ']');
                } else if (out.len && out.data[out.len - 1] == ' ' && i + l < len &&
                           (text[i + l] == '.' || text[i + l] == ',' || text[i + l] == ' ')) {
                    out.data[--out.len] = 0; /* no dangling space before the removed marker */
                }
                i += l - 1;
                continue;
            }
        }
        if (!boundary)
            rc |= lore_buf_putc(&out, text[i]);
        /* end of a sentence: at a newline, or at ". X" after the citations */
        int sent_end = boundary;
        if (!boundary && (text[i] == '.' || text[i] == '!' || text[i] == '?') &&
            (i + 1 == len || text[i + 1] == ' ' || text[i + 1] == '\n')) {
            size_t j = i + 1; /* citations may follow the period: "... 35 days. [1]" */
            while (j < len && text[j] == ' ')
                j++;
            if (!(j < len && text[j] == '['))
                sent_end = 1;
        }
        if (sent_end && npend && !rc) {
            const char *st = out.data + sent_start;
            size_t sl = out.len - sent_start;
            double top = 0;
            for (int k = 0; k < npend; k++) {
                const struct gen_source *src = &a->sources[pend[k] - 1];
                double sup = support(st, sl, src);
                if (sup < worst[pend[k]])
                    worst[pend[k]] = sup;
                if (sup > top)
                    top = sup;
                cited[pend[k]] = 1;
                find_quote(st, sl, src, &best[pend[k]]);
            }
            /* a sentence is supported if any source it cites supports it */
            if (top < SUPPORT_MIN)
                a->unsupported_sentences++;
            npend = 0;
        }
        if (sent_end) {
            if (i < len && text[i] == '\n')
                rc |= lore_buf_putc(&out, '\n');
            sent_start = out.len;
        }
    }
    citations_free(a);
    if (!rc)
        a->citations = calloc(ns + 1, sizeof *a->citations);
    if (rc || !a->citations) {
        lore_buf_release(&out);
        free(worst);
        free(cited);
        free(best);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    free(a->text);
    a->text = lore_buf_detach(&out, &a->len);
    for (size_t k = 1; k <= ns && !rc; k++) {
        if (!cited[k])
            continue;
        struct gen_citation *c = &a->citations[a->n_citations++];
        c->n = (int)k;
        c->src = &a->sources[k - 1];
        c->support = worst[k];
        c->supported = worst[k] >= SUPPORT_MIN;
        rc = locate(c, &best[k]);
    }
    free(worst);
    free(cited);
    free(best);
    return rc ? lore_err_set(e, LORE_ENOMEM, "out of memory") : 0;
}

/* ---- generative answers ------------------------------------------------------------------ */

static const char *SYSTEM_PROMPT =
    "You answer questions using only the numbered sources the user gives you. "
    "After every sentence that uses a source, cite it by its number in square brackets, "
    "for example [1] or [2][3]. Cite only numbers that appear in the sources. "
    "Do not use outside knowledge. If the sources do not contain the answer, reply exactly: " GEN_NOT_FOUND
    " Answer in a few sentences.";

static int source_header(struct lore_buf *b, const struct gen_source *s)
{
    int rc = lore_buf_printf(b, "[%d] %s", s->n, s->title[0] ? s->title : s->uri);
    if (s->page > 0)
        rc |= s->page_end > s->page ? lore_buf_printf(b, ", pp. %d-%d", s->page, s->page_end)
                                    : lore_buf_printf(b, ", p. %d", s->page);
    if (s->heading[0])
        rc |= lore_buf_printf(b, " (%s)", s->heading);
    rc |= lore_buf_putc(b, '\n');
    return rc;
}

static int generative(const char *question, const struct gen_ask_opts *o, struct gen_answer *a,
                      struct lore_err *e)
{
    struct gen_backend *g = o->backend;
    int budget = g->n_ctx - o->answer_tokens;
    struct lore_buf user;
    lore_buf_init(&user);
    int rc = 0;
    budget -= g->count_tokens(g->self, SYSTEM_PROMPT, strlen(SYSTEM_PROMPT));
    budget -= g->count_tokens(g->self, question, strlen(question)) + 48; /* template + labels */
    if (budget < 64)
        return lore_err_set(e, LORE_ELIMIT,
                            "the generator's context (%d tokens) leaves no room for sources after a %d-token answer",
                            g->n_ctx, o->answer_tokens);
    rc |= lore_buf_puts(&user, "Sources:\n\n");
    size_t used = 0;
    for (size_t i = 0; i < a->n_sources && !rc; i++) {
        struct gen_source *s = &a->sources[i];
        struct lore_buf one;
        lore_buf_init(&one);
        rc |= source_header(&one, s);
        rc |= lore_buf_puts(&one, s->text);
        rc |= lore_buf_puts(&one, "\n\n");
        int t = g->count_tokens(g->self, one.data, one.len);
        if (t > budget) {
            /* the best source gets cut to fit; later ones are left out */
            if (used == 0 && budget > 64) {
                size_t keep = (size_t)((double)one.len * budget / t * 0.9);
                while (keep > 0 && (one.data[keep] & 0xC0) == 0x80)
                    keep--;
                one.len = keep;
                one.data[keep] = 0;
                lore_buf_puts(&one, "…\n\n");
                t = budget;
            } else {
                lore_buf_release(&one);
                break;
            }
        }
        rc |= lore_buf_append(&user, one.data, one.len);
        budget -= t;
        used++;
        lore_buf_release(&one);
    }
    /* sources beyond what fits were not shown: not citable */
    for (size_t i = used; i < a->n_sources; i++)
        source_release(&a->sources[i]);
    a->n_sources = used;
    rc |= lore_buf_printf(&user, "Question: %s", question);
    if (rc) {
        lore_buf_release(&user);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    struct gen_msg msgs[2] = {{"system", SYSTEM_PROMPT}, {"user", user.data}};
    struct gen_params p = {o->answer_tokens, 0.0f, 0, NULL, 0};
    struct lore_buf reply;
    lore_buf_init(&reply);
    rc = g->chat(g->self, msgs, 2, &p, o->on_text, o->ud, &reply, e);
    lore_buf_release(&user);
    if (rc) {
        lore_buf_release(&reply);
        return rc;
    }
    const char *r = reply.data ? reply.data : "";
    /* trim */
    while (*r == ' ' || *r == '\n')
        r++;
    size_t rl = strlen(r);
    while (rl && (r[rl - 1] == ' ' || r[rl - 1] == '\n'))
        rl--;
    if (rl == 0 || strstr(r, "do not contain the answer") || strstr(r, "does not contain the answer") ||
        strstr(r, "not found in the documents")) {
        a->not_found = 1;
    }
    rc = gen_check_citations(a, r, rl, e);
    if (!rc && a->not_found)
        citations_free(a); /* a not-found answer cites nothing */
    lore_buf_release(&reply);
    return rc;
}

/* ---- the query path ------------------------------------------------------------------------ */

/* A follow-up ("and how long are they kept?") borrows the content words of
 * the previous question when it has few of its own or leans on a pronoun. */
static int rewrite_query(const char *q, const struct gen_ask_opts *o, struct lore_buf *out)
{
    int rc = lore_buf_puts(out, q);
    if (!o->n_history)
        return rc;
    struct words w = {0};
    split_words(q, strlen(q), 0, &w);
    int pronoun = 0;
    static const char *pro[] = {" it", " its", " they", " them", " their", " this", " that", " these",
                                " those", " he", " she", " his", " her", " there"};
    char low[1024];
    snprintf(low, sizeof low, " %s", q);
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i < sizeof pro / sizeof pro[0]; i++) {
        const char *h = strstr(low, pro[i]);
        size_t l = strlen(pro[i]);
        if (h && !isalnum((unsigned char)h[l]))
            pronoun = 1;
    }
    if (pronoun || w.n < 3) {
        const char *prev = o->history[o->n_history - 1];
        rc |= lore_buf_puts(out, " ");
        rc |= lore_buf_puts(out, prev);
    }
    words_free(&w);
    return rc;
}

int gen_ask(struct idx_kb *kb, const char *question, const struct gen_ask_opts *o,
            struct gen_answer **out, struct lore_err *e)
{
    struct gen_ask_opts def;
    if (!o) {
        gen_ask_opts_default(&def);
        o = &def;
    }
    *out = NULL;
    if (!question || !question[0])
        return lore_err_set(e, LORE_EINVAL, "empty question");
    struct gen_answer *a = calloc(1, sizeof *a);
    if (!a)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    a->mode = o->backend ? "generated" : "extractive";
    struct lore_buf q;
    lore_buf_init(&q);
    if (rewrite_query(question, o, &q)) {
        gen_answer_free(a);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    a->query = lore_buf_detach(&q, NULL);
    double t0 = lore_now_ms();
    struct idx_search_opts so;
    idx_search_opts_default(&so);
    so.k = o->k > 0 ? o->k : 8;
    so.collection = o->collection;
    so.snippets = 0;
    struct idx_hits *h = NULL;
    int rc;
    if (o->emb) {
        int dim = emb_dim(o->emb);
        float *qv = malloc((size_t)dim * sizeof *qv);
        const char *qt = a->query;
        rc = qv ? emb_embed(o->emb, &qt, 1, qv, true, e) : lore_err_set(e, LORE_ENOMEM, "out of memory");
        if (!rc) {
            struct idx_hybrid_opts ho;
            idx_hybrid_opts_default(&ho);
            ho.bm25 = so;
            ho.k = so.k;
            rc = idx_search_hybrid(kb, a->query, qv, dim, &ho, &h, e);
        }
        free(qv);
    } else {
        rc = idx_search_bm25(kb, a->query, &so, &h, e);
    }
    if (!rc)
        rc = make_sources(h, a) ? lore_err_set(e, LORE_ENOMEM, "out of memory") : 0;
    idx_hits_free(h);
    a->retrieval_ms = lore_now_ms() - t0;
    if (rc) {
        gen_answer_free(a);
        return rc;
    }
    double t1 = lore_now_ms();
    if (a->n_sources == 0) {
        a->not_found = 1;
        a->text = strdup(GEN_NOT_FOUND);
        a->len = a->text ? strlen(a->text) : 0;
        if (o->on_text && a->text)
            o->on_text(o->ud, a->text, a->len);
        if (!a->text)
            rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
    } else if (o->backend) {
        rc = generative(question, o, a, e);
    } else {
        rc = extractive(kb, question, o, a, e);
    }
    a->generation_ms = lore_now_ms() - t1;
    if (rc) {
        gen_answer_free(a);
        return rc;
    }
    *out = a;
    return 0;
}
