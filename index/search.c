/*
 * search.c — BM25 search over the FTS5 index.
 *
 * User text never reaches FTS5's query syntax: it is cut into terms (runs of
 * letters/digits; any non-ASCII byte counts as a letter so FTS5's own
 * unicode61 tokenizer decides), each term is double-quoted, and the terms
 * are OR-joined. No operator, column filter, NEAR, caret or parenthesis in
 * the user's text can survive that.
 *
 * Ranking is our own FTS5 auxiliary function lore_bm25(): BM25F over the
 * title, heading and text columns, with tunable k1, b and field weights
 * (FTS5's built-in bm25() fixes k1=1.2, b=0.75) and Lucene's non-negative
 * idf = ln(1 + (N - df + 0.5) / (df + 0.5)).
 */
#include "index/index_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- safe FTS5 query ------------------------------------------------------ */

/* English function words: dropped from queries, as they only add noise to
 * an OR-query (and the index keeps them, so phrase-like use still works). */
static const char *const stopwords[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
    "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she",
    "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them",
    "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
    "yourselves", "s", "t", "also", "may", "might", "must", "shall", "via", "upon", "whether",
    "within", "without", "yet",
};

static int is_stopword(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof stopwords / sizeof stopwords[0]; i++)
        if (strlen(stopwords[i]) == n && memcmp(stopwords[i], w, n) == 0)
            return 1;
    return 0;
}

static int is_term_byte(unsigned char c)
{
    return c >= 0x80 || isalnum(c);
}

/* The user's text cut into terms, in order (duplicates included):
 * t[i].uniq indexes the distinct term (-1 past MAX_UNIQ of them). */
#define MAX_UNIQ 256

struct qterm {
    size_t off, len;
    int stop, uniq;
};

struct qterms {
    struct lore_buf low; /* lowercased text the offsets point into */
    struct qterm *t;     /* sequence */
    size_t n;
    size_t *u;           /* index in t of each distinct term's first use */
    size_t nu, nu_stop;
};

static void qterms_release(struct qterms *q)
{
    lore_buf_release(&q->low);
    free(q->t);
    free(q->u);
}

static int qterms_split(const char *user, int keep_stopwords, struct qterms *q)
{
    memset(q, 0, sizeof *q);
    lore_buf_init(&q->low);
    size_t ulen = strlen(user);
    /* lowercase ASCII copy; invalid UTF-8 bytes become spaces */
    for (size_t i = 0; i < ulen;) {
        unsigned char c = (unsigned char)user[i];
        if (c < 0x80) {
            if (lore_buf_putc(&q->low, (char)tolower(c)))
                return LORE_ENOMEM;
            i++;
            continue;
        }
        uint32_t cp;
        int l = lore_utf8_decode(user + i, ulen - i, &cp);
        if (!l) {
            if (lore_buf_putc(&q->low, ' '))
                return LORE_ENOMEM;
            i++;
        } else {
            if (lore_buf_append(&q->low, user + i, (size_t)l))
                return LORE_ENOMEM;
            i += (size_t)l;
        }
    }
    const char *s = q->low.data ? q->low.data : "";
    size_t cap = 0, ucap = 0;
    for (size_t i = 0; i < q->low.len;) {
        if (!is_term_byte((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < q->low.len && is_term_byte((unsigned char)s[j]))
            j++;
        int uniq = -1;
        for (size_t k = 0; k < q->nu && uniq < 0; k++) {
            const struct qterm *o = &q->t[q->u[k]];
            if (o->len == j - i && memcmp(s + o->off, s + i, j - i) == 0)
                uniq = (int)k;
        }
        if (uniq < 0 && q->nu < MAX_UNIQ) {
            if (q->nu == ucap) {
                ucap = ucap ? ucap * 2 : 16;
                size_t *nu = realloc(q->u, ucap * sizeof *nu);
                if (!nu)
                    return LORE_ENOMEM;
                q->u = nu;
            }
            q->u[q->nu] = q->n;
            uniq = (int)q->nu++;
        }
        if (q->n == cap) {
            cap = cap ? cap * 2 : 16;
            struct qterm *nt = realloc(q->t, cap * sizeof *nt);
            if (!nt)
                return LORE_ENOMEM;
            q->t = nt;
        }
        struct qterm *t = &q->t[q->n++];
        t->off = i;
        t->len = j - i;
        t->stop = !keep_stopwords && is_stopword(s + i, j - i);
        t->uniq = uniq; /* -1: past MAX_UNIQ distinct terms, not searched */
        if (uniq >= 0 && q->u[uniq] == q->n - 1)
            q->nu_stop += (size_t)t->stop;
        i = j;
    }
    return 0;
}

/* Is distinct term k searched? Stopwords are not, unless all terms are. */
static int qterms_used(const struct qterms *q, size_t k)
{
    return !q->t[q->u[k]].stop || q->nu_stop == q->nu;
}

/* Appends "term" (quoted; terms hold no '"', not being a term byte). */
static int put_quoted(struct lore_buf *out, const char *s, size_t n)
{
    return lore_buf_putc(out, '"') || lore_buf_append(out, s, n) || lore_buf_putc(out, '"');
}

/* The OR of the searched distinct terms; *nphrase = their count. */
static int qterms_match(const struct qterms *q, struct lore_buf *out, int *nphrase)
{
    int n = 0;
    for (size_t k = 0; k < q->nu; k++) {
        if (!qterms_used(q, k))
            continue;
        const struct qterm *t = &q->t[q->u[k]];
        if ((n && lore_buf_puts(out, " OR ")) || put_quoted(out, q->low.data + t->off, t->len))
            return LORE_ENOMEM;
        n++;
    }
    if (nphrase)
        *nphrase = n;
    return 0;
}

int idx_fts_query(const char *user, int keep_stopwords, struct lore_buf *out)
{
    struct qterms q;
    int rc = qterms_split(user, keep_stopwords, &q);
    if (!rc)
        rc = qterms_match(&q, out, NULL);
    qterms_release(&q);
    return rc ? LORE_ENOMEM : 0;
}

/* ---- the ranking functions ------------------------------------------------ */

#define NCOL 3

struct bm25_query {       /* per-query constants, kept as FTS5 aux data */
    int n_phrase;
    int n_req;            /* > 0: rows matching none of phrases 0..n_req-1 score -1 */
    double n_rows;
    double avglen[NCOL];
    double *idf;          /* times the phrase's weight */
    double *tfs;          /* scratch: n_phrase x NCOL */
};

static int count_cb(const Fts5ExtensionApi *api, Fts5Context *ctx, void *user)
{
    (void)api;
    (void)ctx;
    (*(sqlite3_int64 *)user)++;
    return SQLITE_OK;
}

static void bm25_query_free(void *p)
{
    struct bm25_query *q = p;
    if (q) {
        free(q->idf);
        free(q->tfs);
        free(q);
    }
}

/* Phrase i's weight from "w0,w1,...": missing, malformed, negative or
 * non-finite entries count as 1. */
static void parse_weights(const char *w, double *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = 1.0;
    if (!w)
        return;
    for (int i = 0; i < n && *w; i++) {
        char *end;
        double v = strtod(w, &end);
        if (end != w && isfinite(v) && v >= 0)
            out[i] = v;
        w = strchr(end, ',');
        if (!w)
            break;
        w++;
    }
}

static double idf_of(double n_rows, double df)
{
    return log(1.0 + (n_rows - df + 0.5) / (df + 0.5));
}

static struct bm25_query *bm25_query_make(const Fts5ExtensionApi *api, Fts5Context *ctx,
                                          const char *weights, int n_req, int *rc)
{
    struct bm25_query *q = calloc(1, sizeof *q);
    if (!q) {
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    sqlite3_int64 nrow = 0;
    *rc = api->xRowCount(ctx, &nrow);
    q->n_rows = nrow > 0 ? (double)nrow : 1.0;
    int ncol = api->xColumnCount(ctx);
    for (int c = 0; c < NCOL && c < ncol && *rc == SQLITE_OK; c++) {
        sqlite3_int64 tot = 0;
        *rc = api->xColumnTotalSize(ctx, c, &tot);
        q->avglen[c] = (double)tot / q->n_rows;
        if (q->avglen[c] <= 0)
            q->avglen[c] = 1;
    }
    q->n_phrase = api->xPhraseCount(ctx);
    q->n_req = n_req < q->n_phrase ? n_req : q->n_phrase;
    q->idf = calloc((size_t)q->n_phrase + 1, sizeof *q->idf);
    q->tfs = calloc(((size_t)q->n_phrase + 1) * NCOL, sizeof *q->tfs);
    if (!q->idf || !q->tfs)
        *rc = SQLITE_NOMEM;
    else
        parse_weights(weights, q->idf, q->n_phrase);
    for (int i = 0; i < q->n_phrase && *rc == SQLITE_OK; i++) {
        sqlite3_int64 df = 0;
        if (q->idf[i] > 0) /* weight 0: not scored, not counted */
            *rc = api->xQueryPhrase(ctx, i, &df, count_cb);
        q->idf[i] *= idf_of(q->n_rows, (double)df);
    }
    if (*rc != SQLITE_OK) {
        bm25_query_free(q);
        return NULL;
    }
    return q;
}

/* lore_bm25(chunks_fts, k1, b, w_title, w_heading, w_text [, weights [, n_req]])
 * weights: "w0,w1,..." per phrase of the MATCH expression (default 1 each).
 * n_req > 0: a row with no instance of phrases 0..n_req-1 scores -1. */
static void bm25_fn(const Fts5ExtensionApi *api, Fts5Context *ctx, sqlite3_context *res,
                    int argc, sqlite3_value **argv)
{
    double k1 = argc > 0 ? sqlite3_value_double(argv[0]) : 1.2;
    double b = argc > 1 ? sqlite3_value_double(argv[1]) : 0.75;
    double w[NCOL] = {1, 1, 1};
    for (int c = 0; c < NCOL; c++)
        if (argc > 2 + c)
            w[c] = sqlite3_value_double(argv[2 + c]);
    int rc = SQLITE_OK;
    struct bm25_query *q = api->xGetAuxdata(ctx, 0);
    if (!q) {
        const char *wt = argc > 5 ? (const char *)sqlite3_value_text(argv[5]) : NULL;
        int n_req = argc > 6 ? sqlite3_value_int(argv[6]) : 0;
        q = bm25_query_make(api, ctx, wt, n_req, &rc);
        if (!q) {
            sqlite3_result_error_code(res, rc);
            return;
        }
        rc = api->xSetAuxdata(ctx, q, bm25_query_free);
        if (rc != SQLITE_OK) {
            sqlite3_result_error_code(res, rc);
            return;
        }
    }
    double norm[NCOL];
    int ncol = api->xColumnCount(ctx);
    for (int c = 0; c < NCOL; c++) {
        int len = 0;
        if (c < ncol)
            rc = api->xColumnSize(ctx, c, &len);
        if (rc != SQLITE_OK) {
            sqlite3_result_error_code(res, rc);
            return;
        }
        norm[c] = 1.0 - b + b * (double)len / q->avglen[c];
    }
    int np = q->n_phrase;
    double *tfs = q->tfs;
    memset(tfs, 0, (size_t)np * NCOL * sizeof *tfs);
    int ninst = 0, req = q->n_req == 0;
    rc = api->xInstCount(ctx, &ninst);
    for (int i = 0; i < ninst && rc == SQLITE_OK; i++) {
        int ip, ic, io;
        rc = api->xInst(ctx, i, &ip, &ic, &io);
        if (rc == SQLITE_OK && ip >= 0 && ip < np && ic >= 0 && ic < NCOL) {
            tfs[ip * NCOL + ic] += 1.0;
            req |= ip < q->n_req;
        }
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(res, rc);
        return;
    }
    if (!req) {
        sqlite3_result_double(res, -1.0);
        return;
    }
    double score = 0;
    for (int i = 0; i < np; i++) {
        double tf = 0;
        for (int c = 0; c < NCOL; c++)
            tf += w[c] * tfs[i * NCOL + c] / norm[c];
        if (tf > 0)
            score += q->idf[i] * tf * (k1 + 1.0) / (tf + k1);
    }
    sqlite3_result_double(res, score);
}

/* lore_terms(chunks_fts): the row's tokens as the table's tokenizer makes
 * them, for feedback. A blob of records "P C NT NS token surface" (P: the
 * query phrase this token is an instance of, or -1; C: column; NT, NS: byte
 * lengths of the token and of its source text, which follow). */
struct terms_ctx {
    struct lore_buf *out;
    const char *text;
    int ntext, col, pos, nmark;
    const int *mark;
};

static int terms_tok(void *p, int tflags, const char *tok, int ntok, int start, int end)
{
    struct terms_ctx *c = p;
    if (tflags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    int pos = c->pos++;
    if (start < 0 || end < start || end > c->ntext || ntok < 0)
        return SQLITE_OK;
    int ip = pos < c->nmark ? c->mark[pos] : -1;
    if (lore_buf_printf(c->out, "%d %d %d %d ", ip, c->col, ntok, end - start) ||
        lore_buf_append(c->out, tok, (size_t)ntok) ||
        lore_buf_append(c->out, c->text + start, (size_t)(end - start)))
        return SQLITE_NOMEM;
    return SQLITE_OK;
}

static void terms_fn(const Fts5ExtensionApi *api, Fts5Context *ctx, sqlite3_context *res,
                     int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    struct lore_buf out;
    lore_buf_init(&out);
    int rc = SQLITE_OK, ninst = 0;
    int ncol = api->xColumnCount(ctx);
    rc = api->xInstCount(ctx, &ninst);
    for (int c = 0; c < ncol && rc == SQLITE_OK; c++) {
        const char *text = NULL;
        int ntext = 0, len = 0;
        rc = api->xColumnText(ctx, c, &text, &ntext);
        if (rc == SQLITE_OK)
            rc = api->xColumnSize(ctx, c, &len);
        if (rc != SQLITE_OK || !text || ntext <= 0)
            continue;
        int *mark = malloc(((size_t)len + 1) * sizeof *mark);
        if (!mark) {
            rc = SQLITE_NOMEM;
            break;
        }
        for (int i = 0; i < len; i++)
            mark[i] = -1;
        for (int i = 0; i < ninst && rc == SQLITE_OK; i++) {
            int ip, ic, io;
            rc = api->xInst(ctx, i, &ip, &ic, &io);
            if (rc != SQLITE_OK || ic != c)
                continue;
            int sz = api->xPhraseSize(ctx, ip);
            for (int k = 0; k < sz && io + k < len; k++)
                if (io + k >= 0)
                    mark[io + k] = ip;
        }
        struct terms_ctx tc = {&out, text, ntext, c, 0, len, mark};
        if (rc == SQLITE_OK)
            rc = api->xTokenize(ctx, text, ntext, &tc, terms_tok);
        free(mark);
    }
    if (rc != SQLITE_OK) {
        lore_buf_release(&out);
        sqlite3_result_error_code(res, rc);
        return;
    }
    sqlite3_result_blob(res, out.data ? out.data : "", (int)out.len, SQLITE_TRANSIENT);
    lore_buf_release(&out);
}

/* lore_df(chunks_fts): "N df0 df1 ..." for the phrases of the MATCH. */
static void df_fn(const Fts5ExtensionApi *api, Fts5Context *ctx, sqlite3_context *res,
                  int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    struct lore_buf out;
    lore_buf_init(&out);
    sqlite3_int64 nrow = 0;
    int rc = api->xRowCount(ctx, &nrow);
    int np = api->xPhraseCount(ctx);
    if (rc == SQLITE_OK && lore_buf_printf(&out, "%lld", (long long)nrow))
        rc = SQLITE_NOMEM;
    for (int i = 0; i < np && rc == SQLITE_OK; i++) {
        sqlite3_int64 df = 0;
        rc = api->xQueryPhrase(ctx, i, &df, count_cb);
        if (rc == SQLITE_OK && lore_buf_printf(&out, " %lld", (long long)df))
            rc = SQLITE_NOMEM;
    }
    if (rc != SQLITE_OK)
        sqlite3_result_error_code(res, rc);
    else
        sqlite3_result_text(res, out.data ? out.data : "", (int)out.len, SQLITE_TRANSIENT);
    lore_buf_release(&out);
}

static fts5_api *get_fts5(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    return api;
}

int idx_register_functions(struct idx_kb *kb, struct lore_err *e)
{
    fts5_api *api = get_fts5(kb->db);
    if (!api || api->iVersion < 2)
        return lore_err_set(e, LORE_EUNSUPPORTED, "this SQLite has no usable FTS5");
    if (api->xCreateFunction(api, "lore_bm25", NULL, bm25_fn, NULL) != SQLITE_OK ||
        api->xCreateFunction(api, "lore_terms", NULL, terms_fn, NULL) != SQLITE_OK ||
        api->xCreateFunction(api, "lore_df", NULL, df_fn, NULL) != SQLITE_OK)
        return lore_err_set(e, LORE_EDB, "cannot register the ranking function");
    return 0;
}

/* ---- search ------------------------------------------------------------------ */

void idx_search_opts_default(struct idx_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->k = 10;
    o->k1 = 1.2;
    o->b = 0.75;
    o->w_title = 3.0; /* tuned on BEIR SciFact train: docs/benchmarks.md */
    o->w_heading = 1.0;
    o->w_text = 1.0;
    o->snippets = 1;
    /* off by default: neither helped on SciFact (docs/benchmarks.md) */
    o->prf_docs = 0;
    o->prf_terms = 10;
    o->prf_weight = 0.1;
    o->bigram_weight = 0;
}

void idx_hits_free(struct idx_hits *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].uri);
        free(h->v[i].title);
        free(h->v[i].heading);
        free(h->v[i].text);
        free(h->v[i].snippet);
    }
    free(h->v);
    free(h);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return strdup(s ? (const char *)s : "");
}

/* ---- query expansion ---------------------------------------------------------- */


/* The base query: the distinct terms (phrases 0..n_orig-1, weight 1), then,
 * with bigram_weight > 0, each pair of adjacent searched terms as a phrase. */
static int base_query(const struct qterms *q, const struct idx_search_opts *o,
                      struct lore_buf *match, struct lore_buf *weights, int *n_orig)
{
    if (qterms_match(q, match, n_orig))
        return LORE_ENOMEM;
    for (int i = 0; i < *n_orig; i++)
        if (lore_buf_puts(weights, i ? ",1" : "1"))
            return LORE_ENOMEM;
    if (!(o->bigram_weight > 0) || *n_orig < 2)
        return 0;
    int nb = 0;
    for (size_t i = 1; i < q->n && nb < MAX_UNIQ; i++) {
        const struct qterm *a = &q->t[i - 1], *b = &q->t[i];
        if (a->uniq < 0 || b->uniq < 0 || a->uniq == b->uniq ||
            !qterms_used(q, (size_t)a->uniq) || !qterms_used(q, (size_t)b->uniq))
            continue;
        int dup = 0; /* same pair earlier? */
        for (size_t j = 1; j < i && !dup; j++)
            dup = q->t[j - 1].uniq == a->uniq && q->t[j].uniq == b->uniq;
        if (dup)
            continue;
        if (lore_buf_puts(match, " OR \"") || lore_buf_append(match, q->low.data + a->off, a->len) ||
            lore_buf_putc(match, ' ') || lore_buf_append(match, q->low.data + b->off, b->len) ||
            lore_buf_putc(match, '"') || lore_buf_printf(weights, ",%.6g", o->bigram_weight))
            return LORE_ENOMEM;
        nb++;
    }
    return 0;
}

struct fbterm {
    const char *stem, *surf; /* into the feedback blobs */
    int nstem, nsurf;
    int qphrase;             /* >= 0: an instance of this query phrase */
    double fbw, idf, sel;
};

struct fbmap {
    struct fbterm *v;
    size_t n, cap;
    int *slot;               /* open addressing, -1 = empty */
    size_t nslot;
};

static uint32_t hash_bytes(const char *s, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static struct fbterm *fbmap_get(struct fbmap *m, const char *stem, int n)
{
    if (m->n * 2 >= m->nslot) {
        size_t ns = m->nslot ? m->nslot * 2 : 1024;
        int *sl = malloc(ns * sizeof *sl);
        if (!sl)
            return NULL;
        for (size_t i = 0; i < ns; i++)
            sl[i] = -1;
        for (size_t i = 0; i < m->n; i++) {
            size_t h = hash_bytes(m->v[i].stem, m->v[i].nstem) & (ns - 1);
            while (sl[h] >= 0)
                h = (h + 1) & (ns - 1);
            sl[h] = (int)i;
        }
        free(m->slot);
        m->slot = sl;
        m->nslot = ns;
    }
    size_t h = hash_bytes(stem, n) & (m->nslot - 1);
    while (m->slot[h] >= 0) {
        struct fbterm *t = &m->v[m->slot[h]];
        if (t->nstem == n && memcmp(t->stem, stem, (size_t)n) == 0)
            return t;
        h = (h + 1) & (m->nslot - 1);
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 512;
        struct fbterm *nv = realloc(m->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        m->v = nv;
        m->cap = nc;
    }
    struct fbterm *t = &m->v[m->n];
    memset(t, 0, sizeof *t);
    t->stem = stem;
    t->nstem = n;
    t->qphrase = -1;
    m->slot[h] = (int)m->n++;
    return t;
}

/* One record of a lore_terms() blob; 0 at the end or on a malformed one. */
struct termrec {
    int phrase, col, nstem, nsurf;
    const char *stem, *surf;
};

static int next_rec(const char **p, const char *end, struct termrec *r)
{
    const char *s = *p;
    long v[4];
    for (int i = 0; i < 4; i++) {
        if (s >= end)
            return 0;
        char *e;
        v[i] = strtol(s, &e, 10);
        if (e == s || e >= end || *e != ' ')
            return 0;
        s = e + 1;
    }
    if (v[2] < 0 || v[3] < 0 || v[2] > end - s || v[3] > end - s - v[2])
        return 0;
    r->phrase = (int)v[0];
    r->col = (int)v[1];
    r->nstem = (int)v[2];
    r->nsurf = (int)v[3];
    r->stem = s;
    r->surf = s + v[2];
    *p = s + v[2] + v[3];
    return 1;
}

/* A feedback term is searched by its (lowercased) source text, which the
 * tokenizer turns back into the same token. Only plain terms qualify. */
static int surf_ok(const struct fbterm *t)
{
    if (t->nsurf < 2 || t->nsurf > 64)
        return 0;
    int alpha = 0;
    for (int i = 0; i < t->nsurf; i++) {
        unsigned char c = (unsigned char)t->surf[i];
        if (!is_term_byte(c))
            return 0;
        alpha |= c >= 0x80 || isalpha(c);
    }
    if (!alpha) /* numbers are poor expansion terms */
        return 0;
    char low[65];
    for (int i = 0; i < t->nsurf; i++)
        low[i] = (char)tolower((unsigned char)t->surf[i]);
    return !is_stopword(low, (size_t)t->nsurf);
}

static int cmp_sel(const void *x, const void *y)
{
    const struct fbterm *a = *(struct fbterm *const *)x, *b = *(struct fbterm *const *)y;
    return a->sel < b->sel ? 1 : a->sel > b->sel ? -1 : 0;
}

static const char *const coll_filter =
    "(?8 = 0 OR rowid IN (SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id"
    "                     WHERE d.collection_id = ?8))";

/* RM3-like pseudo-relevance feedback: appends the expansion terms and their
 * weights to match/weights. Failures other than out-of-memory leave the
 * query as it was. */
static int prf_expand(struct idx_kb *kb, const struct idx_search_opts *o, int64_t coll,
                      struct lore_buf *match, struct lore_buf *weights, int n_orig,
                      struct lore_err *e)
{
    int nfb = o->prf_docs > 100 ? 100 : o->prf_docs;
    int nterms = o->prf_terms > 0 ? (o->prf_terms > 100 ? 100 : o->prf_terms) : 10;
    int64_t ids[100];
    double scores[100];
    int n = 0, rc = 0;
    struct lore_buf sql, blobs, cand, dfs;
    lore_buf_init(&sql);
    lore_buf_init(&blobs);
    lore_buf_init(&cand);
    lore_buf_init(&dfs);
    struct fbmap m = {0};
    struct fbterm **sel = NULL;
    size_t *blob_end = NULL;
    sqlite3_stmt *st = NULL;
    if (lore_buf_printf(&sql,
                        "SELECT rowid, lore_bm25(chunks_fts, ?2, ?3, ?4, ?5, ?6, ?9, ?10) AS score"
                        " FROM chunks_fts WHERE chunks_fts MATCH ?1 AND %s"
                        " ORDER BY score DESC LIMIT ?7",
                        coll_filter))
        goto oom;
    if (sqlite3_prepare_v2(kb->db, sql.data, -1, &st, NULL) != SQLITE_OK)
        goto db;
    sqlite3_bind_text(st, 1, match->data, (int)match->len, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, o->k1);
    sqlite3_bind_double(st, 3, o->b);
    sqlite3_bind_double(st, 4, o->w_title);
    sqlite3_bind_double(st, 5, o->w_heading);
    sqlite3_bind_double(st, 6, o->w_text);
    sqlite3_bind_int(st, 7, nfb);
    sqlite3_bind_int64(st, 8, coll);
    sqlite3_bind_text(st, 9, weights->data, (int)weights->len, SQLITE_STATIC);
    sqlite3_bind_int(st, 10, n_orig);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < nfb) {
        double sc = sqlite3_column_double(st, 1);
        if (sc <= 0)
            break;
        ids[n] = sqlite3_column_int64(st, 0);
        scores[n++] = sc;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        goto db;
    rc = 0;
    if (n == 0)
        goto done;
    /* the feedback chunks' tokens */
    blob_end = calloc((size_t)n, sizeof *blob_end);
    if (!blob_end)
        goto oom;
    if (sqlite3_prepare_v2(kb->db,
                           "SELECT lore_terms(chunks_fts) FROM chunks_fts"
                           " WHERE chunks_fts MATCH ?1 AND rowid = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        goto db;
    for (int d = 0; d < n; d++) {
        sqlite3_bind_text(st, 1, match->data, (int)match->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ids[d]);
        if (sqlite3_step(st) == SQLITE_ROW) {
            const void *b = sqlite3_column_blob(st, 0);
            int nb = sqlite3_column_bytes(st, 0);
            if (b && nb > 0 && lore_buf_append(&blobs, b, (size_t)nb)) {
                sqlite3_finalize(st);
                goto oom;
            }
        }
        sqlite3_reset(st);
        blob_end[d] = blobs.len;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* feedback weight of a term: sum over chunks of P(chunk) * tf / length,
     * P(chunk) from the first-pass scores */
    double ssum = 0;
    for (int d = 0; d < n; d++)
        ssum += scores[d];
    const char *base = blobs.data ? blobs.data : "";
    for (int d = 0; d < n; d++) {
        const char *p = base + (d ? blob_end[d - 1] : 0), *end = base + blob_end[d], *p0 = p;
        struct termrec r;
        double len = 0;
        while (next_rec(&p, end, &r))
            len += 1;
        if (len <= 0)
            continue;
        double pd = scores[d] / ssum;
        p = p0;
        while (next_rec(&p, end, &r)) {
            struct fbterm *t = fbmap_get(&m, r.stem, r.nstem);
            if (!t)
                goto oom;
            if (!t->surf) {
                t->surf = r.surf;
                t->nsurf = r.nsurf;
            }
            if (r.phrase >= 0 && (t->qphrase < 0 || r.phrase < t->qphrase))
                t->qphrase = r.phrase;
            t->fbw += pd / len;
        }
    }
    /* candidates: plain non-query terms, best feedback weight first */
    size_t ncand_max = 100;
    sel = malloc((m.n + 1) * sizeof *sel);
    if (!sel)
        goto oom;
    size_t nc = 0;
    for (size_t i = 0; i < m.n; i++) {
        struct fbterm *t = &m.v[i];
        if (t->qphrase >= 0 || !surf_ok(t))
            continue;
        t->sel = t->fbw;
        sel[nc++] = t;
    }
    qsort(sel, nc, sizeof *sel, cmp_sel);
    if (nc > ncand_max)
        nc = ncand_max;
    if (nc == 0)
        goto done;
    /* their document frequencies, in one query */
    for (size_t i = 0; i < nc; i++) {
        if ((i && lore_buf_puts(&cand, " OR ")) || lore_buf_putc(&cand, '"'))
            goto oom;
        for (int k = 0; k < sel[i]->nsurf; k++)
            if (lore_buf_putc(&cand, (char)tolower((unsigned char)sel[i]->surf[k])))
                goto oom;
        if (lore_buf_putc(&cand, '"'))
            goto oom;
    }
    if (sqlite3_prepare_v2(kb->db,
                           "SELECT lore_df(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?1"
                           " LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        goto db;
    sqlite3_bind_text(st, 1, cand.data, (int)cand.len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && lore_buf_puts(&dfs, t)) {
            sqlite3_finalize(st);
            goto oom;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto db;
    rc = 0;
    if (!dfs.data)
        goto done;
    {
        char *p = dfs.data, *q;
        double nrow = strtod(p, &q);
        if (q == p || nrow <= 0)
            goto done;
        for (size_t i = 0; i < nc; i++) {
            p = q;
            double df = strtod(p, &q);
            if (q == p)
                goto done;
            sel[i]->idf = idf_of(nrow, df);
            sel[i]->sel = sel[i]->fbw * sel[i]->idf;
        }
    }
    qsort(sel, nc, sizeof *sel, cmp_sel);
    if (nc > (size_t)nterms)
        nc = (size_t)nterms;
    double top = sel[0]->sel;
    if (!(top > 0))
        goto done;
    for (size_t i = 0; i < nc; i++) {
        double w = o->prf_weight * sel[i]->sel / top;
        if (!(w > 0))
            break;
        if (lore_buf_puts(match, " OR \"") || lore_buf_printf(weights, ",%.6g", w))
            goto oom;
        for (int k = 0; k < sel[i]->nsurf; k++)
            if (lore_buf_putc(match, (char)tolower((unsigned char)sel[i]->surf[k])))
                goto oom;
        if (lore_buf_putc(match, '"'))
            goto oom;
    }
    goto done;
db:
    /* feedback is an optimisation: a failure leaves the query as it was */
    rc = 0;
    goto done;
oom:
    rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
done:
    sqlite3_finalize(st);
    free(sel);
    free(blob_end);
    free(m.v);
    free(m.slot);
    lore_buf_release(&sql);
    lore_buf_release(&blobs);
    lore_buf_release(&cand);
    lore_buf_release(&dfs);
    return rc;
}

int idx_search_bm25(struct idx_kb *kb, const char *query, const struct idx_search_opts *o,
                    struct idx_hits **out, struct lore_err *e)
{
    struct idx_search_opts def;
    if (!o) {
        idx_search_opts_default(&def);
        o = &def;
    }
    *out = NULL;
    struct idx_hits *h = calloc(1, sizeof *h);
    struct qterms qt;
    struct lore_buf q, match, weights;
    lore_buf_init(&q);
    lore_buf_init(&match);
    lore_buf_init(&weights);
    int n_orig = 0, rc;
    rc = qterms_split(query, o->keep_stopwords, &qt);
    if (!rc)
        rc = qterms_match(&qt, &q, NULL);
    if (!rc)
        rc = base_query(&qt, o, &match, &weights, &n_orig);
    qterms_release(&qt);
    if (!h || rc) {
        free(h);
        lore_buf_release(&q);
        lore_buf_release(&match);
        lore_buf_release(&weights);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    int k = o->k > 0 ? o->k : 10;
    if (q.len == 0) { /* nothing searchable: no hits, not an error */
        lore_buf_release(&q);
        lore_buf_release(&match);
        lore_buf_release(&weights);
        *out = h;
        return 0;
    }
    int64_t coll = 0;
    if (o->collection) {
        rc = idx_collection_find(kb, o->collection, &coll, e);
        if (rc) {
            lore_buf_release(&q);
            lore_buf_release(&match);
            lore_buf_release(&weights);
            free(h);
            return rc;
        }
    }
    if (o->prf_docs > 0 && o->prf_weight > 0) {
        rc = prf_expand(kb, o, coll, &match, &weights, n_orig, e);
        if (rc) {
            lore_buf_release(&q);
            lore_buf_release(&match);
            lore_buf_release(&weights);
            free(h);
            return rc;
        }
    }
    struct lore_buf sqlb;
    lore_buf_init(&sqlb);
    if (lore_buf_printf(&sqlb,
        "WITH top AS ("
        "  SELECT rowid AS id, lore_bm25(chunks_fts, ?2, ?3, ?4, ?5, ?6, ?9, ?10) AS score"
        "  FROM chunks_fts WHERE chunks_fts MATCH ?1 AND %s"
        "  ORDER BY score DESC LIMIT ?7)"
        " SELECT c.id, c.doc_id, d.uri, d.title, c.heading, c.text, c.page_start, c.page_end,"
        "        c.char_start, c.char_end, top.score"
        " FROM top JOIN chunks c ON c.id = top.id JOIN documents d ON d.id = c.doc_id"
        " WHERE top.score >= 0"
        " ORDER BY top.score DESC, c.id", coll_filter)) {
        lore_buf_release(&q);
        lore_buf_release(&match);
        lore_buf_release(&weights);
        free(h);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, sqlb.data, -1, &st, NULL)) {
        lore_buf_release(&sqlb);
        lore_buf_release(&q);
        lore_buf_release(&match);
        lore_buf_release(&weights);
        free(h);
        return idx_db_err(kb, e, "search");
    }
    lore_buf_release(&sqlb);
    sqlite3_bind_text(st, 1, match.data, (int)match.len, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, o->k1);
    sqlite3_bind_double(st, 3, o->b);
    sqlite3_bind_double(st, 4, o->w_title);
    sqlite3_bind_double(st, 5, o->w_heading);
    sqlite3_bind_double(st, 6, o->w_text);
    sqlite3_bind_int(st, 7, k);
    sqlite3_bind_int64(st, 8, coll);
    sqlite3_bind_text(st, 9, weights.data, (int)weights.len, SQLITE_STATIC);
    sqlite3_bind_int(st, 10, n_orig);
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (h->n == cap) {
            cap = cap ? cap * 2 : 16;
            struct idx_hit *nv = realloc(h->v, cap * sizeof *nv);
            if (!nv) {
                rc = SQLITE_NOMEM;
                break;
            }
            h->v = nv;
        }
        struct idx_hit *x = &h->v[h->n++];
        memset(x, 0, sizeof *x);
        x->chunk_id = sqlite3_column_int64(st, 0);
        x->doc_id = sqlite3_column_int64(st, 1);
        x->uri = dup_col(st, 2);
        x->title = dup_col(st, 3);
        x->heading = dup_col(st, 4);
        x->text = dup_col(st, 5);
        x->page_start = sqlite3_column_int(st, 6);
        x->page_end = sqlite3_column_int(st, 7);
        x->char_start = sqlite3_column_int64(st, 8);
        x->char_end = sqlite3_column_int64(st, 9);
        x->score = sqlite3_column_double(st, 10);
        if (!x->uri || !x->title || !x->heading || !x->text) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(st);
    lore_buf_release(&match);
    lore_buf_release(&weights);
    if (rc != SQLITE_DONE) {
        int r = rc == SQLITE_NOMEM ? lore_err_set(e, LORE_ENOMEM, "out of memory")
                                   : idx_db_err(kb, e, "search");
        idx_hits_free(h);
        lore_buf_release(&q);
        return r;
    }
    /* snippets mark the user's own terms */
    if (o->snippets && h->n) {
        if (sqlite3_prepare_v2(kb->db,
                               "SELECT snippet(chunks_fts, 2, '[', ']', '…', 24) FROM chunks_fts "
                               "WHERE chunks_fts MATCH ?1 AND rowid = ?2",
                               -1, &st, NULL) == SQLITE_OK) {
            for (size_t i = 0; i < h->n; i++) {
                sqlite3_bind_text(st, 1, q.data, (int)q.len, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, h->v[i].chunk_id);
                if (sqlite3_step(st) == SQLITE_ROW)
                    h->v[i].snippet = dup_col(st, 0);
                sqlite3_reset(st);
            }
            sqlite3_finalize(st);
        }
    }
    lore_buf_release(&q);
    *out = h;
    return 0;
}

int idx_is_stopword(const char *w, size_t n)
{
    return is_stopword(w, n);
}
