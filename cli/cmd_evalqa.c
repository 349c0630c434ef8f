/*
 * cmd_evalqa.c — `lore eval-qa`: answer quality on SQuAD-format data.
 *
 * Each paragraph of the SQuAD JSON becomes a document (title = article
 * title); every question is asked with `lore ask`'s path (extractive unless
 * a generator is given), and a question counts as answered right when one of
 * its gold answers appears in the answer text (case-insensitive, spaces
 * collapsed). Reports that rate, how many got an answer at all, and ms per
 * question.
 */
#include "cli/cli.h"
#include "generate/generate.h"
#include "index/index.h"
#include "ingest/ingest.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* lowercase, runs of space collapsed, into out */
static void norm(const char *s, struct lore_buf *out)
{
    out->len = 0;
    int sp = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isspace(c)) {
            sp = 1;
            continue;
        }
        if (sp && out->len)
            lore_buf_putc(out, ' ');
        sp = 0;
        lore_buf_putc(out, (char)tolower(c));
    }
    if (!out->data)
        lore_buf_puts(out, "");
}


int cmd_eval_qa(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"squad", required_argument, NULL, 's'},
        {"kb", required_argument, NULL, 'K'},
        {"limit", required_argument, NULL, 'l'},
        {"sentences", required_argument, NULL, 'S'},
        {"k", required_argument, NULL, 'k'},
        {"gen-model", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *squad = NULL, *kbdir = NULL, *gen_model = NULL;
    int json = 0, verbose = 0, limit = 0, ch;
    struct gen_ask_opts ao;
    gen_ask_opts_default(&ao);
    while ((ch = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        switch (ch) {
        case 's': squad = optarg; break;
        case 'K': kbdir = optarg; break;
        case 'l': limit = atoi(optarg); break;
        case 'S': ao.max_sentences = atoi(optarg); break;
        case 'k': ao.k = atoi(optarg); break;
        case 'm': gen_model = optarg; break;
        case 'j': json = 1; break;
        case 'v': verbose = 1; break;
        case 'h':
            printf("usage: lore eval-qa --squad FILE.json [--kb DIR] [--limit N] [--json] [--verbose]\n\n"
                   "Ingests every paragraph of a SQuAD-format file as a document, asks every\n"
                   "question, and reports how often a gold answer appears in the answer text.\n");
            return 0;
        default:
            return cli_fail("eval-qa: unknown option (see 'lore eval-qa --help')"), 2;
        }
    }
    if (!squad)
        return cli_fail("eval-qa: --squad FILE is required"), 2;
    json_error_t je;
    json_t *root = json_load_file(squad, 0, &je);
    if (!root)
        return cli_fail("eval-qa: cannot read '%s': %s (line %d)", squad, je.text, je.line);
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data)) {
        json_decref(root);
        return cli_fail("eval-qa: '%s' has no \"data\" array (not SQuAD format)", squad);
    }
    static char tb[4096];
    int made_tmp = 0;
    if (!kbdir) {
        const char *td = getenv("TMPDIR");
        snprintf(tb, sizeof tb, "%s/lore-evalqa-XXXXXX", td && td[0] ? td : "/tmp");
        if (!(kbdir = mkdtemp(tb))) {
            json_decref(root);
            return cli_fail("eval-qa: cannot make a temporary folder: %s", strerror(errno));
        }
        made_tmp = 1;
    }
    struct lore_err e;
    lore_err_clear(&e);
    struct idx_kb *kb = NULL;
    struct gen_backend *g = NULL;
    int rc = idx_open(kbdir, IDX_CREATE | IDX_WRITE, &kb, &e);
    struct idx_stats st;
    if (!rc)
        rc = idx_stats(kb, &st, &e);
    /* 1. paragraphs → documents */
    if (!rc && st.chunks == 0) {
        int64_t coll;
        rc = idx_collection_ensure(kb, "default", &coll, &e);
        if (!rc)
            rc = idx_begin(kb, &e);
        size_t ai, pi;
        json_t *art, *par;
        int np = 0;
        json_array_foreach(data, ai, art) {
            const char *title = json_string_value(json_object_get(art, "title"));
            json_array_foreach(json_object_get(art, "paragraphs"), pi, par) {
                if (rc)
                    break;
                const char *ctx = json_string_value(json_object_get(par, "context"));
                if (!ctx)
                    continue;
                char uri[64];
                snprintf(uri, sizeof uri, "squad:%zu:%zu", ai, pi);
                struct ing_doc *d = ing_doc_new(uri, "text/plain");
                struct ing_chunk *chs = NULL;
                size_t nch = 0;
                char tbuf[256];
                snprintf(tbuf, sizeof tbuf, "%s", title ? title : "");
                for (char *p = tbuf; *p; p++)
                    if (*p == '_')
                        *p = ' ';
                if (!d || ing_doc_set_title(d, tbuf) ||
                    ing_doc_add(d, ING_PARA, 0, 0, NULL, ctx, strlen(ctx), 0,
                                (int64_t)lore_utf8_len(ctx, strlen(ctx))))
                    rc = lore_err_set(&e, LORE_ENOMEM, "out of memory");
                if (!rc)
                    rc = ing_chunk_doc(d, NULL, &chs, &nch, &e);
                struct idx_doc_in in = {coll, uri, tbuf, "text/plain", "", (int64_t)strlen(ctx), 0, 0, "ok", NULL, NULL};
                int64_t id = 0;
                if (!rc)
                    rc = idx_doc_put(kb, &in, &id, &e);
                for (size_t k = 0; k < nch && !rc; k++) {
                    struct idx_chunk_in ci = {chs[k].text, chs[k].heading, 0, 0, chs[k].char_start,
                                              chs[k].char_end, chs[k].n_tokens, NULL, 0};
                    rc = idx_chunk_add(kb, id, (int)k, &ci, NULL, &e);
                }
                ing_chunks_free(chs, nch);
                ing_doc_free(d);
                np++;
            }
        }
        if (!rc)
            rc = idx_commit(kb, &e);
        if (!rc && !json)
            fprintf(stderr, "indexed %d paragraphs\n", np);
    }
    if (!rc && gen_model)
        rc = gen_backend_engine(gen_model, 4096, c->threads, &g, &e);
    ao.backend = g;
    /* 2. questions */
    int nq = 0, right = 0, answered = 0;
    double ms = 0;
    struct lore_buf na, ng;
    lore_buf_init(&na);
    lore_buf_init(&ng);
    size_t ai, pi, qi;
    json_t *art, *par, *qa;
    json_array_foreach(data, ai, art) {
        json_array_foreach(json_object_get(art, "paragraphs"), pi, par) {
            json_array_foreach(json_object_get(par, "qas"), qi, qa) {
                if (rc || (limit && nq >= limit))
                    break;
                const char *q = json_string_value(json_object_get(qa, "question"));
                if (!q)
                    continue;
                struct gen_answer *a = NULL;
                double t0 = lore_now_ms();
                rc = gen_ask(kb, q, &ao, &a, &e);
                ms += lore_now_ms() - t0;
                if (rc)
                    break;
                nq++;
                if (!a->not_found && a->len)
                    answered++;
                norm(a->text, &na);
                int ok = 0;
                size_t k;
                json_t *ans;
                json_array_foreach(json_object_get(qa, "answers"), k, ans) {
                    const char *t = json_string_value(json_object_get(ans, "text"));
                    if (!t)
                        continue;
                    norm(t, &ng);
                    if (ng.len && strstr(na.data, ng.data))
                        ok = 1;
                }
                right += ok;
                if (verbose && !ok)
                    printf("MISS q: %s\n     a: %s\n     gold: %s\n", q, a->text,
                           json_string_value(json_object_get(json_array_get(json_object_get(qa, "answers"), 0), "text")));
                gen_answer_free(a);
            }
        }
    }
    lore_buf_release(&na);
    lore_buf_release(&ng);
    gen_backend_free(g);
    idx_close(kb);
    if (made_tmp)
        idx_remove(kbdir);
    json_decref(root);
    if (rc)
        return cli_fail_err(&e);
    if (!nq)
        return cli_fail("eval-qa: no questions in '%s'", squad);
    if (json)
        printf("{\"questions\":%d,\"answer_in_text\":%.4f,\"answered\":%.4f,\"ms_per_question\":%.2f}\n", nq,
               (double)right / nq, (double)answered / nq, ms / nq);
    else
        printf("questions        %d\nanswer in text   %.4f\nanswered         %.4f\nms/question      %.2f\n", nq,
               (double)right / nq, (double)answered / nq, ms / nq);
    return 0;
}
