/*
 * cmd_kb.c — the knowledge-base subcommands: init, ingest, search, docs, rm,
 * stats, check, extract. Each parses its own options (GNU style) and prints
 * plain text, or one JSON object with --json.
 */
#include "cli/cli.h"
#include "index/index.h"
#include "embed/embed.h"
#include "ingest/ingest.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int open_kb(struct cli *c, int flags, struct idx_kb **kb)
{
    struct lore_err e;
    lore_err_clear(&e);
    if (idx_open(c->kb_dir, flags, kb, &e))
        return cli_fail_err(&e);
    return 0;
}

static void print_buf(struct lore_buf *b)
{
    if (b->len)
        fwrite(b->data, 1, b->len, stdout);
    fputc('\n', stdout);
}

/* ---- init ------------------------------------------------------------------ */

int cmd_init(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"embed-model", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        if (ch == 'm') {
            model = optarg;
            continue;
        }
        if (ch == 'h') {
            printf("usage: lore [--kb DIR] init [--embed-model FILE.gguf]\n\nCreates an empty knowledge base in DIR "
                   "(default ./lore-kb); does nothing if one is there.\n"
                   "With --embed-model, ingest also embeds every chunk with that BERT-family GGUF\n"
                   "and search becomes hybrid (BM25 + vectors).\n");
            return 0;
        }
        return cli_fail("init: unknown option (see 'lore init --help')"), 2;
    }
    if (optind < argc)
        return cli_fail("init: unexpected argument '%s'", argv[optind]), 2;
    struct idx_kb *kb;
    if (open_kb(c, IDX_CREATE | IDX_WRITE, &kb))
        return 1;
    if (model) {
        struct lore_err e;
        lore_err_clear(&e);
        struct emb *m = NULL;
        int64_t done = 0;
        int rc = cli_set_embedder(c, kb, model, 0, &m, &e);
        if (!rc)
            rc = ing_embed_pending(kb, m, 0, &done, &e);
        if (!rc)
            printf("embedding model: %s (%d dimensions)\n", emb_model_id(m), emb_dim(m));
        emb_close(m);
        if (rc) {
            idx_close(kb);
            return cli_fail_err(&e);
        }
    }
    printf("knowledge base ready in %s\n", idx_dir(kb));
    idx_close(kb);
    return 0;
}

/* ---- ingest ------------------------------------------------------------------ */

int cmd_ingest(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"prune", no_argument, NULL, 'p'},
        {"collection", required_argument, NULL, 'c'},
        {"retry-failed", no_argument, NULL, 'r'},
        {"password", required_argument, NULL, 'P'},
        {"chunk-tokens", required_argument, NULL, 'T'},
        {"overlap", required_argument, NULL, 'O'},
        {"wait", no_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, 'j'},
        {"jobs", required_argument, NULL, 'J'},
        {"timeout", required_argument, NULL, 'W'},
        {"max-memory", required_argument, NULL, 'M'},
        {"no-isolate", no_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct ing_opts io;
    ing_opts_default(&io);
    io.progress = isatty(2) ? 1 : 2;
    int wait = 0, json = 0, ch;
    while ((ch = getopt_long(argc, argv, "c:qh", o, NULL)) != -1) {
        switch (ch) {
        case 'p': io.prune = 1; break;
        case 'c': io.collection = optarg; break;
        case 'r': io.retry_failed = 1; break;
        case 'P': io.password = optarg; break;
        case 'w': wait = 1; break;
        case 'q': io.progress = 0; break;
        case 'j': json = 1; break;
        case 'J':
            if (parse_int(optarg, 1, 64, &io.jobs))
                return cli_fail("ingest: --jobs wants 1..64, not '%s'", optarg), 2;
            break;
        case 'W':
            if (parse_int(optarg, 1, 86400, &io.limits.wall_s))
                return cli_fail("ingest: --timeout wants seconds (1..86400), not '%s'", optarg), 2;
            io.limits.cpu_s = io.limits.wall_s;
            break;
        case 'M':
            if (parse_int(optarg, 64, 1 << 20, &io.limits.mem_mb))
                return cli_fail("ingest: --max-memory wants megabytes (>= 64), not '%s'", optarg), 2;
            break;
        case 'I': io.limits.isolate = 0; break;
        case 'T':
            if (parse_int(optarg, 16, 8192, &io.chunk.max_tokens))
                return cli_fail("ingest: --chunk-tokens wants 16..8192, not '%s'", optarg), 2;
            break;
        case 'O':
            if (parse_int(optarg, 0, 4096, &io.chunk.overlap_tokens))
                return cli_fail("ingest: --overlap wants 0..4096, not '%s'", optarg), 2;
            break;
        case 'h':
            printf("usage: lore [--kb DIR] ingest PATH... [options]\n\n"
                   "Adds files and folders (walked recursively) to the knowledge base: text,\n"
                   "Markdown, HTML and PDF. Unchanged files are skipped, changed ones replaced.\n\n"
                   "  --prune             remove documents whose files are gone\n"
                   "  -c, --collection N  put documents in collection N (default: default)\n"
                   "  --retry-failed      try files that failed before even if unchanged\n"
                   "  --password PW       password for encrypted PDFs\n"
                   "  --chunk-tokens N    chunk budget in tokens (default 250)\n"
                   "  --overlap N         tokens carried between chunks (default 40)\n"
                   "  --wait              wait for another writer instead of failing\n"
                   "  --jobs N            files parsed at once (default: CPU count)\n"
                   "  --timeout S         give up on a file after S seconds (default 180)\n"
                   "  --max-memory MB     memory limit of the parser (default 2048)\n"
                   "  --no-isolate        parse in this process (debugging only)\n"
                   "  -q, --quiet         no progress output\n"
                   "  --json              print the report as JSON\n");
            return 0;
        default:
            return cli_fail("ingest: unknown option (see 'lore ingest --help')"), 2;
        }
    }
    if (optind >= argc && !io.prune)
        return cli_fail("ingest: no PATH given (see 'lore ingest --help')"), 2;
    struct idx_kb *kb;
    if (open_kb(c, IDX_CREATE | IDX_WRITE | (wait ? IDX_WAIT : 0), &kb))
        return 1;
    struct ing_report r;
    struct lore_err e;
    lore_err_clear(&e);
    int rc = ing_run(kb, (const char *const *)argv + optind, (size_t)(argc - optind), &io, &r, &e);
    int64_t embedded = 0;
    if (!rc) {
        struct emb *m = NULL;
        rc = cli_kb_embedder(c, kb, &m, &e);
        if (!rc && m)
            rc = ing_embed_pending(kb, m, io.progress, &embedded, &e);
        emb_close(m);
    }
    idx_close(kb);
    if (rc)
        return cli_fail_err(&e);
    if (json)
        printf("{\"seen\":%lld,\"added\":%lld,\"updated\":%lld,\"unchanged\":%lld,\"failed\":%lld,"
               "\"pruned\":%lld,\"chunks\":%lld,\"embedded\":%lld,\"ms\":%.1f}\n",
               (long long)r.seen, (long long)r.added, (long long)r.updated, (long long)r.unchanged,
               (long long)r.failed, (long long)r.pruned, (long long)r.chunks, (long long)embedded, r.ms);
    else if (io.progress)
        fprintf(stderr, "%lld files: %lld added, %lld updated, %lld unchanged, %lld failed, %lld pruned; "
                        "%lld chunks in %.1f s\n",
                (long long)r.seen, (long long)r.added, (long long)r.updated, (long long)r.unchanged,
                (long long)r.failed, (long long)r.pruned, (long long)r.chunks, r.ms / 1000.0);
    return 0;
}

/* ---- search -------------------------------------------------------------------- */

static void print_citation(const struct idx_hit *h)
{
    printf("%s", h->uri);
    if (h->page_start > 0) {
        if (h->page_end > h->page_start)
            printf(" pp. %d-%d", h->page_start, h->page_end);
        else
            printf(" p. %d", h->page_start);
    }
    if (h->heading[0])
        printf(" § %s", h->heading);
    printf(" [chars %lld-%lld]", (long long)h->char_start, (long long)h->char_end);
}

int cmd_search(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"k", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"collection", required_argument, NULL, 'c'},
        {"mode", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct idx_search_opts so;
    idx_search_opts_default(&so);
    int json = 0, ch;
    const char *mode = NULL;
    while ((ch = getopt_long(argc, argv, "k:c:h", o, NULL)) != -1) {
        switch (ch) {
        case 'k':
            if (parse_int(optarg, 1, 10000, &so.k))
                return cli_fail("search: --k wants 1..10000, not '%s'", optarg), 2;
            break;
        case 'j': json = 1; break;
        case 'c': so.collection = optarg; break;
        case 'M':
            if (strcmp(optarg, "bm25") && strcmp(optarg, "vector") && strcmp(optarg, "hybrid"))
                return cli_fail("search: --mode is bm25, vector or hybrid, not '%s'", optarg), 2;
            mode = optarg;
            break;
        case 'h':
            printf("usage: lore [--kb DIR] search QUERY... [--k N] [--collection NAME] [--mode bm25|vector|hybrid] [--json]\n\n"
                   "--mode defaults to hybrid (BM25 and vectors fused by reciprocal rank) when the\n"
                   "knowledge base has an embedding model, else bm25.\n"
                   "Full-text search (BM25). Any text is a valid query: operators and quotes\n"
                   "in it are searched as words. Each hit cites its file, page, heading and\n"
                   "character span.\n");
            return 0;
        default:
            return cli_fail("search: unknown option (see 'lore search --help')"), 2;
        }
    }
    if (optind >= argc)
        return cli_fail("search: no QUERY given"), 2;
    struct lore_buf q;
    lore_buf_init(&q);
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            lore_buf_putc(&q, ' ');
        lore_buf_puts(&q, argv[i]);
    }
    struct idx_kb *kb;
    if (open_kb(c, IDX_READ, &kb)) {
        lore_buf_release(&q);
        return 1;
    }
    struct idx_hits *h;
    struct lore_err e;
    lore_err_clear(&e);
    struct emb *m = NULL;
    int rc = 0;
    if (!mode || strcmp(mode, "bm25") != 0)
        rc = cli_kb_embedder(c, kb, &m, &e);
    if (!rc && !m && mode && strcmp(mode, "bm25") != 0)
        rc = lore_err_set(&e, LORE_EINVAL, "search: --mode %s needs an embedding model (lore model set-embed FILE.gguf)", mode);
    if (!mode)
        mode = m ? "hybrid" : "bm25";
    double t0 = lore_now_ms();
    float *qv = NULL;
    if (!rc && m) {
        qv = malloc((size_t)emb_dim(m) * sizeof *qv);
        const char *qt = q.data;
        rc = qv ? emb_embed(m, &qt, 1, qv, true, &e) : lore_err_set(&e, LORE_ENOMEM, "out of memory");
    }
    if (!rc) {
        if (strcmp(mode, "bm25") == 0) {
            rc = idx_search_bm25(kb, q.data, &so, &h, &e);
        } else if (strcmp(mode, "vector") == 0) {
            rc = idx_search_vector(kb, qv, emb_dim(m), so.k, so.collection, &h, &e);
        } else {
            struct idx_hybrid_opts ho;
            idx_hybrid_opts_default(&ho);
            ho.bm25 = so;
            ho.k = so.k;
            rc = idx_search_hybrid(kb, q.data, qv, emb_dim(m), &ho, &h, &e);
        }
    }
    double ms = lore_now_ms() - t0;
    free(qv);
    emb_close(m);
    idx_close(kb);
    if (rc) {
        lore_buf_release(&q);
        return cli_fail_err(&e);
    }
    if (json) {
        struct lore_buf b;
        lore_buf_init(&b);
        lore_buf_puts(&b, "{\"query\":");
        lore_buf_json_str(&b, q.data, q.len);
        lore_buf_printf(&b, ",\"mode\":\"%s\",\"ms\":%.2f,\"hits\":[", mode, ms);
        for (size_t i = 0; i < h->n; i++) {
            const struct idx_hit *x = &h->v[i];
            lore_buf_printf(&b, "%s{\"chunk_id\":%lld,\"doc_id\":%lld,\"uri\":", i ? "," : "",
                            (long long)x->chunk_id, (long long)x->doc_id);
            lore_buf_json_str(&b, x->uri, strlen(x->uri));
            lore_buf_puts(&b, ",\"title\":");
            lore_buf_json_str(&b, x->title, strlen(x->title));
            lore_buf_puts(&b, ",\"heading\":");
            lore_buf_json_str(&b, x->heading, strlen(x->heading));
            lore_buf_printf(&b, ",\"page\":%d,\"page_end\":%d,\"char_start\":%lld,\"char_end\":%lld,"
                                "\"score\":%.6f,\"snippet\":",
                            x->page_start, x->page_end, (long long)x->char_start,
                            (long long)x->char_end, x->score);
            const char *sn = x->snippet ? x->snippet : "";
            lore_buf_json_str(&b, sn, strlen(sn));
            lore_buf_puts(&b, ",\"text\":");
            lore_buf_json_str(&b, x->text, strlen(x->text));
            lore_buf_putc(&b, '}');
        }
        lore_buf_puts(&b, "]}");
        print_buf(&b);
        lore_buf_release(&b);
    } else if (h->n == 0) {
        printf("no results for \"%s\"\n", q.data);
    } else {
        for (size_t i = 0; i < h->n; i++) {
            const struct idx_hit *x = &h->v[i];
            printf("%zu. %s  (score %.2f)\n   ", i + 1, x->title[0] ? x->title : x->uri, x->score);
            print_citation(x);
            fputs("\n   ", stdout);
            for (const char *p = x->snippet ? x->snippet : x->text; *p; p++)
                putchar(*p == '\n' ? ' ' : *p);
            fputs("\n\n", stdout);
        }
    }
    idx_hits_free(h);
    lore_buf_release(&q);
    return 0;
}

/* ---- docs ------------------------------------------------------------------------ */

int cmd_docs(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"json", no_argument, NULL, 'j'},
        {"collection", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int json = 0, ch;
    const char *coll = NULL;
    while ((ch = getopt_long(argc, argv, "c:h", o, NULL)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
        case 'c': coll = optarg; break;
        case 'h':
            printf("usage: lore [--kb DIR] docs [--collection NAME] [--json]\n\n"
                   "Lists documents with their status; failed ones show why.\n");
            return 0;
        default:
            return cli_fail("docs: unknown option (see 'lore docs --help')"), 2;
        }
    }
    if (optind < argc)
        return cli_fail("docs: unexpected argument '%s'", argv[optind]), 2;
    struct idx_kb *kb;
    if (open_kb(c, IDX_READ, &kb))
        return 1;
    struct lore_err e;
    lore_err_clear(&e);
    int64_t cid = 0;
    struct idx_doc *d = NULL;
    size_t n = 0;
    int rc = coll ? idx_collection_find(kb, coll, &cid, &e) : 0;
    if (!rc)
        rc = idx_docs_list(kb, cid, &d, &n, &e);
    idx_close(kb);
    if (rc)
        return cli_fail_err(&e);
    if (json) {
        struct lore_buf b;
        lore_buf_init(&b);
        lore_buf_puts(&b, "{\"documents\":[");
        for (size_t i = 0; i < n; i++) {
            lore_buf_printf(&b, "%s{\"doc_id\":%lld,\"collection\":", i ? "," : "", (long long)d[i].id);
            lore_buf_json_str(&b, d[i].collection, strlen(d[i].collection));
            lore_buf_puts(&b, ",\"uri\":");
            lore_buf_json_str(&b, d[i].uri, strlen(d[i].uri));
            lore_buf_puts(&b, ",\"title\":");
            lore_buf_json_str(&b, d[i].title, strlen(d[i].title));
            lore_buf_puts(&b, ",\"mime\":");
            lore_buf_json_str(&b, d[i].mime, strlen(d[i].mime));
            lore_buf_printf(&b, ",\"pages\":%lld,\"chunks\":%lld,\"bytes\":%lld,\"status\":",
                            (long long)d[i].pages, (long long)d[i].chunks, (long long)d[i].size);
            lore_buf_json_str(&b, d[i].status, strlen(d[i].status));
            lore_buf_puts(&b, ",\"error\":");
            if (d[i].error[0])
                lore_buf_json_str(&b, d[i].error, strlen(d[i].error));
            else
                lore_buf_puts(&b, "null");
            lore_buf_puts(&b, ",\"warnings\":");
            lore_buf_json_str(&b, d[i].warnings, strlen(d[i].warnings));
            lore_buf_putc(&b, '}');
        }
        lore_buf_puts(&b, "]}");
        print_buf(&b);
        lore_buf_release(&b);
    } else {
        for (size_t i = 0; i < n; i++) {
            printf("%5lld  %-6s %4lld chunks  %s", (long long)d[i].id, d[i].status,
                   (long long)d[i].chunks, d[i].uri);
            if (d[i].title[0])
                printf("  \"%s\"", d[i].title);
            if (d[i].error[0])
                printf("\n       error: %s", d[i].error);
            if (d[i].warnings[0])
                printf("\n       warning: %s", d[i].warnings);
            putchar('\n');
        }
        if (!n)
            printf("no documents\n");
    }
    idx_docs_free(d, n);
    return 0;
}

/* ---- rm ---------------------------------------------------------------------------- */

int cmd_rm(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        if (ch == 'h') {
            printf("usage: lore [--kb DIR] rm DOC...\n\n"
                   "Removes documents (by id, as 'lore docs' shows, or by path) and every\n"
                   "row derived from them: chunks and full-text index entries.\n");
            return 0;
        }
        return cli_fail("rm: unknown option (see 'lore rm --help')"), 2;
    }
    if (optind >= argc)
        return cli_fail("rm: no DOC given"), 2;
    struct idx_kb *kb;
    if (open_kb(c, IDX_WRITE, &kb))
        return 1;
    struct lore_err e;
    lore_err_clear(&e);
    int rc = 0;
    for (int i = optind; i < argc && !rc; i++) {
        int64_t id;
        if ((rc = idx_doc_resolve(kb, argv[i], &id, &e)))
            break;
        if ((rc = idx_begin(kb, &e)))
            break;
        if ((rc = idx_doc_delete(kb, id, &e))) {
            idx_rollback(kb);
            break;
        }
        if ((rc = idx_commit(kb, &e)))
            break;
        printf("removed %s\n", argv[i]);
    }
    idx_close(kb);
    return rc ? cli_fail_err(&e) : 0;
}

/* ---- stats --------------------------------------------------------------------------- */

int cmd_stats(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int json = 0, ch;
    while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        if (ch == 'j') {
            json = 1;
            continue;
        }
        if (ch == 'h') {
            printf("usage: lore [--kb DIR] stats [--json]\n\nDocuments, chunks, collections and "
                   "the knowledge base's size on disk.\n");
            return 0;
        }
        return cli_fail("stats: unknown option (see 'lore stats --help')"), 2;
    }
    struct idx_kb *kb;
    if (open_kb(c, IDX_READ, &kb))
        return 1;
    struct idx_stats s;
    struct lore_err e;
    lore_err_clear(&e);
    int rc = idx_stats(kb, &s, &e);
    struct idx_vectors_info vi;
    memset(&vi, 0, sizeof vi);
    if (!rc)
        rc = idx_vectors_info(kb, &vi, &e);
    idx_close(kb);
    if (rc)
        return cli_fail_err(&e);
    if (json)
        printf("{\"documents\":%lld,\"chunks\":%lld,\"collections\":%lld,\"bytes\":%lld,"
               "\"failed\":%lld,\"source_bytes\":%lld,\"vectors\":%lld,\"dim\":%d}\n",
               (long long)s.documents, (long long)s.chunks, (long long)s.collections,
               (long long)s.bytes, (long long)s.failed, (long long)s.source_bytes, (long long)vi.count, vi.dim);
    else
        printf("documents    %lld\nfailed       %lld\nchunks       %lld\ncollections  %lld\n"
               "size         %.1f MB on disk (%.1f MB of source files)\n",
               (long long)s.documents, (long long)s.failed, (long long)s.chunks,
               (long long)s.collections, (double)s.bytes / 1e6, (double)s.source_bytes / 1e6);
    if (!json && vi.count)
        printf("vectors      %lld (%d dimensions)\n", (long long)vi.count, vi.dim);
    return 0;
}

/* ---- check ----------------------------------------------------------------------------- */

int cmd_check(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        if (ch == 'h') {
            printf("usage: lore [--kb DIR] check\n\nVerifies the knowledge base: SQLite integrity,\n"
                   "the full-text index in sync with the chunks, no orphan rows. Exits 1\n"
                   "naming each problem found.\n");
            return 0;
        }
        return cli_fail("check: unknown option (see 'lore check --help')"), 2;
    }
    struct idx_kb *kb;
    if (open_kb(c, IDX_READ, &kb))
        return 1;
    struct lore_buf rep;
    lore_buf_init(&rep);
    int problems = 0;
    struct lore_err e;
    lore_err_clear(&e);
    int rc = idx_check(kb, &rep, &problems, &e);
    idx_close(kb);
    if (rc) {
        lore_buf_release(&rep);
        return cli_fail_err(&e);
    }
    if (problems) {
        fprintf(stderr, "%s", rep.data);
        lore_buf_release(&rep);
        return cli_fail("check: %d problem%s found", problems, problems == 1 ? "" : "s");
    }
    printf("ok\n");
    lore_buf_release(&rep);
    return 0;
}

/* ---- extract ----------------------------------------------------------------------------- */

int cmd_extract(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"json", no_argument, NULL, 'j'},
        {"chunks", no_argument, NULL, 'C'},
        {"password", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int json = 0, chunks = 0, ch;
    struct ing_extract_opts xo = {0};
    while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
        case 'C': chunks = 1; break;
        case 'P': xo.password = optarg; break;
        case 'h':
            printf("usage: lore extract FILE [--json] [--chunks] [--password PW]\n\n"
                   "Prints FILE exactly as lore would index it, storing nothing.\n"
                   "--chunks prints the chunks instead of the blocks.\n");
            return 0;
        default:
            return cli_fail("extract: unknown option (see 'lore extract --help')"), 2;
        }
    }
    if (optind + 1 != argc)
        return cli_fail("extract: give exactly one FILE"), 2;
    const char *path = argv[optind];
    char *data;
    size_t n;
    struct lore_err e;
    lore_err_clear(&e);
    if (lore_read_file(path, &data, &n, (size_t)1 << 30, &e))
        return cli_fail_err(&e);
    struct ing_doc *d;
    int rc = ing_extract(path, NULL, data, n, &xo, &d, &e);
    free(data);
    if (rc)
        return cli_fail_err(&e);
    if (chunks) {
        struct ing_chunk *cv;
        size_t nc;
        if (ing_chunk_doc(d, NULL, &cv, &nc, &e)) {
            ing_doc_free(d);
            return cli_fail_err(&e);
        }
        struct lore_buf b;
        lore_buf_init(&b);
        lore_buf_puts(&b, "{\"chunks\":[");
        for (size_t i = 0; i < nc; i++) {
            if (json) {
                lore_buf_printf(&b, "%s{\"page_start\":%d,\"page_end\":%d,\"char_start\":%lld,"
                                    "\"char_end\":%lld,\"tokens\":%d,\"heading\":",
                                i ? "," : "", cv[i].page_start, cv[i].page_end,
                                (long long)cv[i].char_start, (long long)cv[i].char_end, cv[i].n_tokens);
                lore_buf_json_str(&b, cv[i].heading, strlen(cv[i].heading));
                lore_buf_puts(&b, ",\"text\":");
                lore_buf_json_str(&b, cv[i].text, cv[i].len);
                lore_buf_putc(&b, '}');
            } else {
                printf("--- chunk %zu  (%d tokens, chars %lld-%lld%s%s)\n%s\n\n", i + 1, cv[i].n_tokens,
                       (long long)cv[i].char_start, (long long)cv[i].char_end,
                       cv[i].heading[0] ? ", § " : "", cv[i].heading, cv[i].text);
            }
        }
        lore_buf_puts(&b, "]}");
        if (json)
            print_buf(&b);
        lore_buf_release(&b);
        ing_chunks_free(cv, nc);
    } else if (json) {
        struct lore_buf b;
        lore_buf_init(&b);
        ing_doc_to_json(d, &b);
        print_buf(&b);
        lore_buf_release(&b);
    } else {
        printf("title: %s\nmime:  %s\npages: %d\n\n", d->title, d->mime, d->pages);
        for (size_t i = 0; i < d->n_blocks; i++) {
            const struct ing_block *k = &d->blocks[i];
            if (k->kind == ING_HEADING)
                printf("%.*s %s\n\n", k->level, "######", k->text);
            else
                printf("%s\n\n", k->text);
        }
        for (size_t i = 0; i < d->n_warnings; i++)
            fprintf(stderr, "warning: %s\n", d->warnings[i]);
    }
    ing_doc_free(d);
    return 0;
}
