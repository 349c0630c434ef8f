/*
 * cmd_eval.c — `lore eval`: retrieval quality on BEIR-format data.
 *
 * Builds a knowledge base from corpus.jsonl ({"_id","title","text"} per
 * line; each entry is chunked like any document), runs every query that has
 * qrels, ranks documents by their best chunk, and reports nDCG@10 (gain =
 * relevance, as trec_eval), Recall@10, Recall@100, MRR@10, the number of
 * queries and the mean milliseconds per query.
 */
#include "cli/cli.h"
#include "index/index.h"
#include "ingest/ingest.h"
#include "embed/embed.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct qrel {
    char *qid, *did;
    int rel;
};

struct query {
    char *id, *text;
};

static int read_lines(const char *path, int (*fn)(void *, json_t *, size_t), void *ctx)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_fail("eval: cannot open '%s': %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while (!rc && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (len <= 1)
            continue;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)len, 0, &je);
        if (!j || !json_is_object(j)) {
            rc = cli_fail("eval: '%s' line %zu: not a JSON object (%s)", path, lineno, je.text);
            json_decref(j);
            break;
        }
        rc = fn(ctx, j, lineno);
        json_decref(j);
    }
    free(line);
    fclose(f);
    return rc;
}

struct build {
    struct idx_kb *kb;
    int64_t coll;
    struct ing_chunk_opts copts;
    size_t n;
    const char *path;
};

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return json_string_value(v);
    return NULL;
}

static int add_corpus_doc(void *ctx, json_t *j, size_t lineno)
{
    struct build *b = ctx;
    const char *id = jstr(j, "_id"), *title = jstr(j, "title"), *text = jstr(j, "text");
    char idbuf[64];
    if (!id) {
        json_t *v = json_object_get(j, "_id");
        if (json_is_integer(v)) {
            snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(v));
            id = idbuf;
        }
    }
    if (!id)
        return cli_fail("eval: '%s' line %zu: no \"_id\"", b->path, lineno);
    if (!title)
        title = "";
    if (!text)
        text = "";
    struct lore_err e;
    lore_err_clear(&e);
    struct ing_doc *d = ing_doc_new(id, "text/plain");
    if (!d || ing_doc_set_title(d, title))
        return cli_fail("eval: out of memory");
    size_t tl = strlen(text);
    int rc = ing_doc_add(d, ING_PARA, 0, 0, NULL, text, tl, 0, (int64_t)lore_utf8_len(text, tl));
    struct ing_chunk *ch = NULL;
    size_t nch = 0;
    if (!rc)
        rc = ing_chunk_doc(d, &b->copts, &ch, &nch, &e);
    struct idx_doc_in in = {0};
    in.collection_id = b->coll;
    in.uri = id;
    in.title = title;
    in.mime = "text/plain";
    in.status = "ok";
    in.size = (int64_t)tl;
    int64_t doc_id = 0;
    if (!rc && nch == 0) { /* a title-only entry is still searchable by title */
        struct idx_doc_in in2 = in;
        rc = idx_doc_put(b->kb, &in2, &doc_id, &e);
        struct idx_chunk_in ci = {title, "", 0, 0, 0, 0, 0, NULL, 0};
        if (!rc && title[0])
            rc = idx_chunk_add(b->kb, doc_id, 0, &ci, NULL, &e);
    } else if (!rc) {
        rc = idx_doc_put(b->kb, &in, &doc_id, &e);
        for (size_t i = 0; i < nch && !rc; i++) {
            struct idx_chunk_in ci = {ch[i].text, ch[i].heading, 0, 0, ch[i].char_start,
                                      ch[i].char_end, ch[i].n_tokens, NULL, 0};
            rc = idx_chunk_add(b->kb, doc_id, (int)i, &ci, NULL, &e);
        }
    }
    ing_chunks_free(ch, nch);
    ing_doc_free(d);
    if (rc)
        return cli_fail_err(&e);
    if (++b->n % 2000 == 0) {
        if (idx_commit(b->kb, &e) || idx_begin(b->kb, &e))
            return cli_fail_err(&e);
    }
    return 0;
}

struct qlist {
    struct query *v;
    size_t n, cap;
};

static int add_query(void *ctx, json_t *j, size_t lineno)
{
    struct qlist *q = ctx;
    const char *id = jstr(j, "_id"), *text = jstr(j, "text");
    char idbuf[64];
    if (!id) {
        json_t *v = json_object_get(j, "_id");
        if (json_is_integer(v)) {
            snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(v));
            id = idbuf;
        }
    }
    if (!id || !text)
        return cli_fail("eval: queries line %zu: needs \"_id\" and \"text\"", lineno);
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 256;
        q->v = realloc(q->v, q->cap * sizeof *q->v);
        if (!q->v)
            return cli_fail("eval: out of memory");
    }
    q->v[q->n].id = strdup(id);
    q->v[q->n].text = strdup(text);
    q->n++;
    return 0;
}

static int read_qrels(const char *path, struct qrel **out, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_fail("eval: cannot open '%s': %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, c = 0, lineno = 0;
    struct qrel *v = NULL;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *a = strtok(line, "\t\r\n"), *b = strtok(NULL, "\t\r\n"), *s = strtok(NULL, "\t\r\n");
        if (!a || !b)
            continue;
        if (lineno == 1 && (strcmp(a, "query-id") == 0 || !s || !strchr("0123456789-", s[0])))
            continue; /* header */
        int rel = s ? atoi(s) : 1;
        if (*n == c) {
            c = c ? c * 2 : 1024;
            v = realloc(v, c * sizeof *v);
            if (!v) {
                fclose(f);
                free(line);
                return cli_fail("eval: out of memory");
            }
        }
        v[*n].qid = strdup(a);
        v[*n].did = strdup(b);
        v[*n].rel = rel;
        (*n)++;
    }
    free(line);
    fclose(f);
    *out = v;
    return 0;
}

static int rel_of(const struct qrel *qr, size_t a, size_t z, const char *did)
{
    for (size_t i = a; i < z; i++)
        if (strcmp(qr[i].did, did) == 0)
            return qr[i].rel;
    return 0;
}

static int cmp_qrel(const void *x, const void *y)
{
    const struct qrel *a = x, *b = y;
    int c = strcmp(a->qid, b->qid);
    return c ? c : b->rel - a->rel;
}


int cmd_eval(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"corpus", required_argument, NULL, 'C'},
        {"queries", required_argument, NULL, 'Q'},
        {"qrels", required_argument, NULL, 'R'},
        {"k", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"kb", required_argument, NULL, 'K'},
        {"k1", required_argument, NULL, '1'},
        {"b", required_argument, NULL, 'b'},
        {"title-weight", required_argument, NULL, 'T'},
        {"heading-weight", required_argument, NULL, 'H'},
        {"keep-stopwords", no_argument, NULL, 'S'},
        {"chunk-tokens", required_argument, NULL, 'c'},
        {"mode", required_argument, NULL, 1001},
        {"embed-model", required_argument, NULL, 1002},
        {"prf-docs", required_argument, NULL, 'D'},
        {"prf-terms", required_argument, NULL, 'E'},
        {"prf-weight", required_argument, NULL, 'W'},
        {"bigram-weight", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *corpus = NULL, *queries = NULL, *qrels = NULL, *kbdir = NULL;
    int json = 0, k = 10, ch;
    const char *mode = "bm25", *embed_model = NULL;
    struct idx_search_opts so;
    idx_search_opts_default(&so);
    struct ing_chunk_opts copts;
    ing_chunk_opts_default(&copts);
    copts.max_tokens = 512;
    while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        switch (ch) {
        case 'C': corpus = optarg; break;
        case 'Q': queries = optarg; break;
        case 'R': qrels = optarg; break;
        case 'K': kbdir = optarg; break;
        case 'j': json = 1; break;
        case 'k': k = atoi(optarg); if (k < 1 || k > 1000) return cli_fail("eval: --k wants 1..1000"), 2; break;
        case '1': so.k1 = atof(optarg); break;
        case 'b': so.b = atof(optarg); break;
        case 'T': so.w_title = atof(optarg); break;
        case 'H': so.w_heading = atof(optarg); break;
        case 'S': so.keep_stopwords = 1; break;
        case 'D': so.prf_docs = atoi(optarg); break;
        case 'E': so.prf_terms = atoi(optarg); break;
        case 'W': so.prf_weight = atof(optarg); break;
        case 'G': so.bigram_weight = atof(optarg); break;
        case 1001:
            if (strcmp(optarg, "bm25") && strcmp(optarg, "vector") && strcmp(optarg, "hybrid"))
                return cli_fail("eval: --mode is bm25, vector or hybrid, not '%s'", optarg), 2;
            mode = optarg;
            break;
        case 1002: embed_model = optarg; break;
        case 'c': copts.max_tokens = atoi(optarg); if (copts.max_tokens < 16) return cli_fail("eval: --chunk-tokens wants >= 16"), 2; break;
        case 'h':
            printf("usage: lore eval --corpus corpus.jsonl --queries queries.jsonl --qrels qrels.tsv\n"
                   "                [--k 10] [--json] [--kb DIR]\n\n"
                   "Builds a knowledge base from a BEIR-format corpus (in a temporary folder\n"
                   "unless --kb is given), runs every query that has qrels, and reports\n"
                   "nDCG@10, Recall@10, Recall@100, MRR@10, queries and ms per query.\n"
                   "Tuning: --k1 X --b X --title-weight X --heading-weight X --keep-stopwords\n"
                   "--chunk-tokens N (default 512).\n"
                   "Pseudo-relevance feedback: --prf-docs N (0 = off) --prf-terms N\n"
                   "--prf-weight X; adjacent-term phrases: --bigram-weight X (0 = off).\n");
            return 0;
        default:
            return cli_fail("eval: unknown option (see 'lore eval --help')"), 2;
        }
    }
    if (!corpus || !queries || !qrels)
        return cli_fail("eval: --corpus, --queries and --qrels are required"), 2;
    struct qrel *qr = NULL;
    size_t nqr = 0;
    if (read_qrels(qrels, &qr, &nqr))
        return 1;
    qsort(qr, nqr, sizeof *qr, cmp_qrel);
    struct qlist ql = {0};
    if (read_lines(queries, add_query, &ql))
        return 1;

    char tmpl[] = "/tmp/lore-eval-XXXXXX";
    int made_tmp = 0;
    if (!kbdir) {
        const char *td = getenv("TMPDIR");
        static char tb[4096];
        snprintf(tb, sizeof tb, "%s/lore-eval-XXXXXX", td && td[0] ? td : "/tmp");
        kbdir = mkdtemp(tb);
        if (!kbdir)
            kbdir = mkdtemp(tmpl);
        if (!kbdir)
            return cli_fail("eval: cannot make a temporary folder: %s", strerror(errno));
        made_tmp = 1;
    }
    struct lore_err e;
    lore_err_clear(&e);
    struct idx_kb *kb;
    if (idx_open(kbdir, IDX_CREATE | IDX_WRITE, &kb, &e))
        return cli_fail_err(&e);
    struct idx_stats st;
    int rc = idx_stats(kb, &st, &e);
    double tb0 = lore_now_ms();
    if (!rc && st.chunks == 0) {
        struct build b = {kb, 0, copts, 0, corpus};
        rc = idx_collection_ensure(kb, "default", &b.coll, &e) || idx_begin(kb, &e);
        if (rc || read_lines(corpus, add_corpus_doc, &b) || idx_commit(kb, &e)) {
            idx_close(kb);
            if (made_tmp)
                idx_remove(kbdir);
            return e.msg[0] ? cli_fail_err(&e) : 1;
        }
        if (!json)
            fprintf(stderr, "indexed %zu documents in %.1f s\n", b.n, (lore_now_ms() - tb0) / 1000);
    }
    struct emb *em = NULL;
    if (strcmp(mode, "bm25") != 0) {
        if (!embed_model) {
            idx_close(kb);
            if (made_tmp)
                idx_remove(kbdir);
            return cli_fail("eval: --mode %s needs --embed-model FILE.gguf", mode), 2;
        }
        struct emb_opts eo;
        emb_opts_default(&eo);
        eo.threads = c->threads;
        int64_t done = 0;
        double te = lore_now_ms();
        if (emb_open(embed_model, &eo, &em, &e) || ing_embed_pending(kb, em, 0, &done, &e)) {
            emb_close(em);
            idx_close(kb);
            if (made_tmp)
                idx_remove(kbdir);
            return cli_fail_err(&e);
        }
        if (!json && done)
            fprintf(stderr, "embedded %lld chunks in %.1f s\n", (long long)done, (lore_now_ms() - te) / 1000);
    }
    double ndcg = 0, r10 = 0, r100 = 0, mrr = 0, ms = 0;
    size_t nq = 0;
    so.k = 1000;
    so.snippets = 0;
    for (size_t qi = 0; qi < ql.n; qi++) {
        /* qrels of this query */
        size_t a = 0, z;
        {
            size_t lo = 0, hi = nqr;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (strcmp(qr[mid].qid, ql.v[qi].id) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            a = lo;
        }
        for (z = a; z < nqr && strcmp(qr[z].qid, ql.v[qi].id) == 0; z++)
            ;
        int nrel = 0;
        for (size_t i = a; i < z; i++)
            nrel += qr[i].rel > 0;
        if (a == z)
            continue;
        struct idx_hits *h;
        double t0 = lore_now_ms();
        int src = 0;
        if (em) {
            int dim = emb_dim(em);
            float *qv = malloc((size_t)dim * sizeof *qv);
            const char *qt = ql.v[qi].text;
            src = qv ? emb_embed(em, &qt, 1, qv, true, &e) : LORE_ENOMEM;
            if (!src && strcmp(mode, "vector") == 0) {
                src = idx_search_vector(kb, qv, dim, so.k, NULL, &h, &e);
            } else if (!src) {
                struct idx_hybrid_opts ho;
                idx_hybrid_opts_default(&ho);
                ho.bm25 = so;
                ho.k = 100;
                ho.n_bm25 = ho.n_vec = 200;
                src = idx_search_hybrid(kb, ql.v[qi].text, qv, dim, &ho, &h, &e);
            }
            free(qv);
        } else {
            src = idx_search_bm25(kb, ql.v[qi].text, &so, &h, &e);
        }
        if (src) {
            rc = 1;
            break;
        }
        ms += lore_now_ms() - t0;
        /* documents by their best chunk, first occurrence order (hits are sorted) */
        const char *docs[100];
        size_t nd = 0;
        for (size_t i = 0; i < h->n && nd < 100; i++) {
            int seen = 0;
            for (size_t j = 0; j < nd && !seen; j++)
                seen = strcmp(docs[j], h->v[i].uri) == 0;
            if (!seen)
                docs[nd++] = h->v[i].uri;
        }
        double dcg = 0, idcg = 0;
        int found10 = 0, found100 = 0;
        double rr = 0;
        for (size_t i = 0; i < nd; i++) {
            int rel = rel_of(qr, a, z, docs[i]);
            if (rel > 0) {
                if (i < 10) {
                    found10++;
                    if (rr == 0)
                        rr = 1.0 / (double)(i + 1);
                }
                found100++;
            }
            if (i < 10 && rel > 0)
                dcg += rel / log2((double)i + 2);
        }
        for (size_t i = a, r = 0; i < z && r < 10; i++, r++) /* qrels sorted by rel desc */
            if (qr[i].rel > 0)
                idcg += qr[i].rel / log2((double)r + 2);
        ndcg += idcg > 0 ? dcg / idcg : 0;
        if (nrel) {
            r10 += (double)found10 / nrel;
            r100 += (double)found100 / nrel;
        }
        mrr += rr;
        nq++;
        idx_hits_free(h);
    }
    emb_close(em);
    idx_close(kb);
    if (made_tmp)
        idx_remove(kbdir);
    for (size_t i = 0; i < ql.n; i++) {
        free(ql.v[i].id);
        free(ql.v[i].text);
    }
    free(ql.v);
    for (size_t i = 0; i < nqr; i++) {
        free(qr[i].qid);
        free(qr[i].did);
    }
    free(qr);
    if (rc)
        return cli_fail_err(&e);
    if (!nq)
        return cli_fail("eval: no query has qrels");
    double d = (double)nq;
    if (json)
        printf("{\"ndcg@10\":%.4f,\"recall@10\":%.4f,\"recall@100\":%.4f,\"mrr@10\":%.4f,"
               "\"queries\":%zu,\"ms_per_query\":%.3f}\n",
               ndcg / d, r10 / d, r100 / d, mrr / d, nq, ms / d);
    else
        printf("nDCG@10     %.4f\nRecall@10   %.4f\nRecall@100  %.4f\nMRR@10      %.4f\n"
               "queries     %zu\nms/query    %.3f\n",
               ndcg / d, r10 / d, r100 / d, mrr / d, nq, ms / d);
    (void)k;
    return 0;
}
