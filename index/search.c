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

/* The user's text cut into terms, in order (duplicates included, up to
 * MAX_SEQ): t[i].uniq indexes the distinct term, glued says the term follows
 * the previous one with no space ("IL-6", "5-HT", "n/a"). */
#define MAX_UNIQ 256
#define MAX_SEQ 1024

struct qterm {
    size_t off, len;
    int stop, uniq, glued;
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
    size_t cap = 0, ucap = 0, prev_end = (size_t)-1;
    for (size_t i = 0; i < q->low.len && q->n < MAX_SEQ;) {
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
        /* glued: only punctuation (no space) since the previous term */
        t->glued = 0;
        if (prev_end != (size_t)-1 && i - prev_end <= 2) {
            t->glued = 1;
            for (size_t k = prev_end; k < i; k++)
                if (isspace((unsigned char)s[k]))
                    t->glued = 0;
        }
        if (uniq >= 0 && q->u[uniq] == q->n - 1)
            q->nu_stop += (size_t)t->stop;
        prev_end = j;
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

/* ---- the ranking function --------------------------------------------------- */

#define NCOL 3

struct bm25_query {       /* per-query constants, kept as FTS5 aux data */
    int n_phrase;
    double n_rows;
    double avglen[NCOL];
    double *idf;
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
        free(q);
    }
}

static struct bm25_query *bm25_query_make(const Fts5ExtensionApi *api, Fts5Context *ctx, int *rc)
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
    q->idf = calloc((size_t)q->n_phrase + 1, sizeof *q->idf);
    if (!q->idf)
        *rc = SQLITE_NOMEM;
    for (int i = 0; i < q->n_phrase && *rc == SQLITE_OK; i++) {
        sqlite3_int64 df = 0;
        *rc = api->xQueryPhrase(ctx, i, &df, count_cb);
        double d = (double)df;
        q->idf[i] = log(1.0 + (q->n_rows - d + 0.5) / (d + 0.5));
    }
    if (*rc != SQLITE_OK) {
        bm25_query_free(q);
        return NULL;
    }
    return q;
}

/* lore_bm25(chunks_fts, k1, b, w_title, w_heading, w_text) */
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
        q = bm25_query_make(api, ctx, &rc);
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
    double tfs[64][NCOL];
    int np = q->n_phrase < 64 ? q->n_phrase : 64;
    memset(tfs, 0, sizeof tfs);
    int ninst = 0;
    rc = api->xInstCount(ctx, &ninst);
    for (int i = 0; i < ninst && rc == SQLITE_OK; i++) {
        int ip, ic, io;
        rc = api->xInst(ctx, i, &ip, &ic, &io);
        if (rc == SQLITE_OK && ip < np && ic < NCOL)
            tfs[ip][ic] += 1.0;
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(res, rc);
        return;
    }
    double score = 0;
    for (int i = 0; i < np; i++) {
        double tf = 0;
        for (int c = 0; c < NCOL; c++)
            tf += w[c] * tfs[i][c] / norm[c];
        if (tf > 0)
            score += q->idf[i] * tf * (k1 + 1.0) / (tf + k1);
    }
    sqlite3_result_double(res, score);
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
    if (api->xCreateFunction(api, "lore_bm25", NULL, bm25_fn, NULL) != SQLITE_OK)
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
    struct lore_buf q;
    lore_buf_init(&q);
    if (!h || idx_fts_query(query, o->keep_stopwords, &q)) {
        free(h);
        lore_buf_release(&q);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    int k = o->k > 0 ? o->k : 10;
    if (q.len == 0) { /* nothing searchable: no hits, not an error */
        lore_buf_release(&q);
        *out = h;
        return 0;
    }
    int64_t coll = 0;
    if (o->collection) {
        int rc = idx_collection_find(kb, o->collection, &coll, e);
        if (rc) {
            lore_buf_release(&q);
            free(h);
            return rc;
        }
    }
    const char *sql =
        "WITH top AS ("
        "  SELECT rowid AS id, lore_bm25(chunks_fts, ?2, ?3, ?4, ?5, ?6) AS score"
        "  FROM chunks_fts WHERE chunks_fts MATCH ?1"
        "  AND (?8 = 0 OR rowid IN (SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id"
        "                          WHERE d.collection_id = ?8))"
        "  ORDER BY score DESC LIMIT ?7)"
        " SELECT c.id, c.doc_id, d.uri, d.title, c.heading, c.text, c.page_start, c.page_end,"
        "        c.char_start, c.char_end, top.score"
        " FROM top JOIN chunks c ON c.id = top.id JOIN documents d ON d.id = c.doc_id"
        " ORDER BY top.score DESC, c.id";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL)) {
        lore_buf_release(&q);
        free(h);
        return idx_db_err(kb, e, "search");
    }
    sqlite3_bind_text(st, 1, q.data, (int)q.len, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, o->k1);
    sqlite3_bind_double(st, 3, o->b);
    sqlite3_bind_double(st, 4, o->w_title);
    sqlite3_bind_double(st, 5, o->w_heading);
    sqlite3_bind_double(st, 6, o->w_text);
    sqlite3_bind_int(st, 7, k);
    sqlite3_bind_int64(st, 8, coll);
    int rc;
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
    if (rc != SQLITE_DONE) {
        int r = rc == SQLITE_NOMEM ? lore_err_set(e, LORE_ENOMEM, "out of memory")
                                   : idx_db_err(kb, e, "search");
        idx_hits_free(h);
        lore_buf_release(&q);
        return r;
    }
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
