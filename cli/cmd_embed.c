/*
 * cmd_embed.c — everything about the knowledge base's embedding model:
 * `lore embed` (texts in, vectors out), `lore model set-embed`, `lore
 * reembed`, and the helpers the other commands use to open the model a
 * knowledge base was built with.
 */
#include "cli/cli.h"
#include "embed/embed.h"
#include "index/index.h"
#include "ingest/ingest.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define META_PATH "embed_model_path"

int cli_kb_embedder(struct cli *c, struct idx_kb *kb, struct emb **out, struct lore_err *e)
{
    *out = NULL;
    char *path = NULL;
    int rc = idx_meta_get(kb, META_PATH, &path, NULL);
    if (rc == LORE_ENOENT || (rc == 0 && !path[0])) {
        free(path);
        return 0;
    }
    if (rc)
        return lore_err_set(e, rc, "cannot read the knowledge base's settings");
    struct emb_opts o;
    emb_opts_default(&o);
    o.threads = c->threads;
    rc = emb_open(path, &o, out, e);
    if (rc)
        lore_err_prefix(e, "the knowledge base's embedding model");
    free(path);
    return rc;
}

int cli_set_embedder(struct cli *c, struct idx_kb *kb, const char *path, int reembed, struct emb **out,
                     struct lore_err *e)
{
    *out = NULL;
    char real[PATH_MAX];
    if (!realpath(path, real))
        return lore_err_set(e, LORE_ENOENT, "cannot open '%s': no such file", path);
    struct emb_opts o;
    emb_opts_default(&o);
    o.threads = c->threads;
    struct emb *m;
    int rc = emb_open(real, &o, &m, e);
    if (rc)
        return rc;
    if (reembed && (rc = idx_vectors_clear(kb, e))) {
        emb_close(m);
        return rc;
    }
    if ((rc = idx_vectors_set_model(kb, emb_model_id(m), emb_dim(m), e)) ||
        (rc = idx_meta_set(kb, META_PATH, real, e))) {
        emb_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

int cmd_model_set_embed(struct cli *c, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        printf("usage: lore [--kb DIR] model set-embed FILE.gguf\n\n"
               "Makes FILE.gguf (a BERT-family GGUF) the knowledge base's embedding model and\n"
               "embeds every chunk that has no vector. A knowledge base never mixes two models'\n"
               "vectors: to switch models, run 'lore reembed --embed-model FILE.gguf'.\n");
        return argc == 2 ? 0 : 2;
    }
    struct idx_kb *kb;
    struct lore_err e;
    lore_err_clear(&e);
    if (idx_open(c->kb_dir, IDX_CREATE | IDX_WRITE | IDX_WAIT, &kb, &e))
        return cli_fail_err(&e);
    struct emb *m = NULL;
    int64_t done = 0;
    int rc = cli_set_embedder(c, kb, argv[1], 0, &m, &e);
    if (!rc)
        rc = ing_embed_pending(kb, m, isatty(2) ? 1 : 2, &done, &e);
    if (!rc)
        printf("embedding model: %s (%d dimensions); %lld chunks embedded\n", emb_model_id(m), emb_dim(m),
               (long long)done);
    emb_close(m);
    idx_close(kb);
    return rc ? cli_fail_err(&e) : 0;
}

int cmd_reembed(struct cli *c, int argc, char **argv)
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
            printf("usage: lore [--kb DIR] reembed [--embed-model FILE.gguf]\n\n"
                   "Deletes every stored vector and embeds all chunks again, with FILE.gguf (which\n"
                   "becomes the knowledge base's embedding model) or with the current one.\n");
            return 0;
        }
        return cli_fail("reembed: unknown option (see 'lore reembed --help')"), 2;
    }
    struct idx_kb *kb;
    struct lore_err e;
    lore_err_clear(&e);
    if (idx_open(c->kb_dir, IDX_WRITE | IDX_WAIT, &kb, &e))
        return cli_fail_err(&e);
    struct emb *m = NULL;
    int rc = 0;
    if (!model) {
        char *path = NULL;
        if (idx_meta_get(kb, META_PATH, &path, NULL) == 0 && path[0]) {
            rc = cli_set_embedder(c, kb, path, 1, &m, &e);
        } else {
            rc = lore_err_set(&e, LORE_EINVAL, "the knowledge base has no embedding model: give --embed-model FILE.gguf");
        }
        free(path);
    } else {
        rc = cli_set_embedder(c, kb, model, 1, &m, &e);
    }
    int64_t done = 0;
    if (!rc)
        rc = ing_embed_pending(kb, m, isatty(2) ? 1 : 2, &done, &e);
    if (!rc)
        printf("re-embedded %lld chunks with %s\n", (long long)done, emb_model_id(m));
    emb_close(m);
    idx_close(kb);
    return rc ? cli_fail_err(&e) : 0;
}

int cmd_embed(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"model", required_argument, NULL, 'm'},
        {"pooling", required_argument, NULL, 'p'},
        {"threads", required_argument, NULL, 't'},
        {"query", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *model = NULL;
    int json = 0, query = 0, ch;
    struct emb_opts eo;
    emb_opts_default(&eo);
    eo.threads = c->threads;
    while ((ch = getopt_long(argc, argv, "m:h", o, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case 'p':
            if (strcmp(optarg, "mean") == 0)
                eo.pooling = EMB_POOL_MEAN;
            else if (strcmp(optarg, "cls") == 0)
                eo.pooling = EMB_POOL_CLS;
            else
                return cli_fail("embed: --pooling is mean or cls, not '%s'", optarg), 2;
            break;
        case 't': eo.threads = atoi(optarg); break;
        case 'q': query = 1; break;
        case 'j': json = 1; break;
        case 'h':
            printf("usage: lore embed --model FILE.gguf [--pooling mean|cls] [--threads N] [--query] [--json] < lines\n\n"
                   "Embeds one text per input line with a BERT-family GGUF model (L2-normalised,\n"
                   "pooling from the model unless given). --json prints {\"dim\":N,\"embeddings\":[[…],…]}\n"
                   "in input order; otherwise one line of numbers per text.\n");
            return 0;
        default:
            return cli_fail("embed: unknown option (see 'lore embed --help')"), 2;
        }
    }
    if (!model)
        return cli_fail("embed: --model FILE.gguf is required"), 2;
    struct lore_err e;
    lore_err_clear(&e);
    struct emb *m;
    if (emb_open(model, &eo, &m, &e))
        return cli_fail_err(&e);
    /* read all lines */
    char **lines = NULL, *buf = NULL;
    size_t n = 0, cap = 0, bcap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&buf, &bcap, stdin)) >= 0) {
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **nl = realloc(lines, cap * sizeof *nl);
            if (!nl) {
                rc = lore_err_set(&e, LORE_ENOMEM, "out of memory");
                break;
            }
            lines = nl;
        }
        if (!(lines[n] = strdup(buf))) {
            rc = lore_err_set(&e, LORE_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    free(buf);
    int dim = emb_dim(m);
    float *v = NULL;
    if (!rc && n) {
        v = malloc(n * (size_t)dim * sizeof *v);
        rc = v ? emb_embed(m, (const char *const *)lines, n, v, query, &e)
               : lore_err_set(&e, LORE_ENOMEM, "out of memory");
    }
    if (!rc) {
        if (json)
            printf("{\"dim\":%d,\"embeddings\":[", dim);
        for (size_t i = 0; i < n; i++) {
            if (json)
                printf("%s[", i ? "," : "");
            for (int k = 0; k < dim; k++)
                printf(json ? "%s%.9g" : "%s%.7g", k ? (json ? "," : " ") : "", v[i * (size_t)dim + (size_t)k]);
            printf(json ? "]" : "\n");
        }
        if (json)
            printf("]}\n");
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(v);
    emb_close(m);
    return rc ? cli_fail_err(&e) : 0;
}
