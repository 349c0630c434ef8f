/*
 * cmd_ask.c — `lore ask`: a question in, an answer out, every claim cited.
 * Streams the answer to the terminal, then lists the numbered sources.
 */
#include "cli/cli.h"
#include "generate/generate.h"
#include "index/index.h"
#include "embed/embed.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int stream_out(void *ud, const char *t, size_t n)
{
    (void)ud;
    fwrite(t, 1, n, stdout);
    fflush(stdout);
    return 0;
}

static void json_citations(struct lore_buf *b, const struct gen_answer *a)
{
    lore_buf_puts(b, "[");
    for (size_t i = 0; i < a->n_citations; i++) {
        const struct gen_citation *c = &a->citations[i];
        const struct gen_source *s = c->src;
        lore_buf_printf(b, "%s{\"n\":%d,\"chunk_id\":%lld,\"doc_id\":%lld,\"uri\":", i ? "," : "", c->n,
                        (long long)c->chunk_id, (long long)s->doc_id);
        lore_buf_json_str(b, s->uri, strlen(s->uri));
        lore_buf_puts(b, ",\"title\":");
        lore_buf_json_str(b, s->title, strlen(s->title));
        lore_buf_puts(b, ",\"heading\":");
        lore_buf_json_str(b, s->heading, strlen(s->heading));
        lore_buf_printf(b, ",\"page\":%d,\"page_end\":%d,\"char_start\":%lld,\"char_end\":%lld,\"quote\":",
                        c->page, c->page_end, (long long)c->char_start, (long long)c->char_end);
        const char *qt = c->quote ? c->quote : "";
        lore_buf_json_str(b, qt, strlen(qt));
        lore_buf_puts(b, ",\"text\":");
        lore_buf_json_str(b, s->text, strlen(s->text));
        lore_buf_printf(b, ",\"supported\":%s,\"support\":%.3f}", c->supported ? "true" : "false", c->support);
    }
    lore_buf_puts(b, "]");
}

int cmd_ask(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"k", required_argument, NULL, 'k'},
        {"collection", required_argument, NULL, 'c'},
        {"gen-model", required_argument, NULL, 'm'},
        {"gen-url", required_argument, NULL, 'u'},
        {"gen-ctx", required_argument, NULL, 'C'},
        {"max-tokens", required_argument, NULL, 'T'},
        {"sentences", required_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'j'},
        {"session", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *session = NULL;
    char new_id[40];
    struct gen_ask_opts ao;
    gen_ask_opts_default(&ao);
    const char *gen_model = getenv("LORE_GEN_MODEL"), *gen_url = getenv("LORE_GEN_URL");
    int json = 0, gen_ctx = 4096, ch;
    while ((ch = getopt_long(argc, argv, "k:c:h", o, NULL)) != -1) {
        switch (ch) {
        case 'k': ao.k = atoi(optarg); if (ao.k < 1 || ao.k > 100) return cli_fail("ask: --k wants 1..100"), 2; break;
        case 'c': ao.collection = optarg; break;
        case 'm': gen_model = optarg; break;
        case 'u': gen_url = optarg; break;
        case 'C': gen_ctx = atoi(optarg); break;
        case 'T': ao.answer_tokens = atoi(optarg); break;
        case 'S': ao.max_sentences = atoi(optarg); break;
        case 'j': json = 1; break;
        case 's': session = optarg; break;
        case 'h':
            printf("usage: lore [--kb DIR] ask QUESTION... [--k N] [--collection NAME]\n"
                   "                [--gen-model FILE.gguf | --gen-url URL] [--session ID|new] [--json]\n\n"
                   "Answers from the knowledge base only, citing each claim as [n] with the\n"
                   "source's file, page and passage. Without a generator the answer is\n"
                   "extractive: the sentences of the best passages that answer the question.\n"
                   "  --gen-model F   generate with a GGUF model ($LORE_GEN_MODEL)\n"
                   "  --gen-url URL   generate with an OpenAI-compatible server ($LORE_GEN_URL)\n"
                   "  --gen-ctx N     generator context in tokens (default 4096)\n"
                   "  --max-tokens N  answer budget in tokens (default 512)\n"
                   "  --sentences N   extractive answer length (default 3)\n"
                   "  --session ID    a conversation: follow-ups are read in the light of earlier\n"
                   "                  turns, kept in the knowledge base ('new' starts one)\n"
                   "  --json          {\"answer\",\"citations\",\"not_found\",\"retrieval_ms\",\"generation_ms\"}\n");
            return 0;
        default:
            return cli_fail("ask: unknown option (see 'lore ask --help')"), 2;
        }
    }
    if (optind >= argc)
        return cli_fail("ask: no QUESTION given"), 2;
    struct lore_buf q;
    lore_buf_init(&q);
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            lore_buf_putc(&q, ' ');
        lore_buf_puts(&q, argv[i]);
    }
    struct lore_err e;
    lore_err_clear(&e);
    struct idx_kb *kb = NULL;
    struct gen_backend *g = NULL;
    struct gen_answer *a = NULL;
    char **hist = NULL;
    size_t n_hist = 0;
    if (session && strcmp(session, "new") == 0) {
        unsigned char r[8] = {0};
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(r, 1, sizeof r, f) != sizeof r) {
            if (f)
                fclose(f);
            lore_buf_release(&q);
            return cli_fail("ask: cannot read /dev/urandom for a session id");
        }
        fclose(f);
        for (int i = 0; i < 8; i++)
            snprintf(new_id + 2 * i, 3, "%02x", r[i]);
        session = new_id;
    }
    int rc = idx_open(c->kb_dir, session ? IDX_WRITE | IDX_WAIT : IDX_READ, &kb, &e);
    if (!rc && session) {
        rc = idx_session_questions(kb, session, 4, &hist, &n_hist, &e);
        ao.history = (const char *const *)hist;
        ao.n_history = n_hist;
    }
    if (!rc && gen_model && gen_model[0])
        rc = gen_backend_engine(gen_model, gen_ctx, c->threads, &g, &e);
    else if (!rc && gen_url && gen_url[0]) {
        struct gen_openai_opts oo = {gen_url, getenv("LORE_GEN_NAME"), NULL, gen_ctx, 0, 0, 0};
        rc = gen_backend_openai(&oo, &g, &e);
    }
    struct emb *emb = NULL;
    if (!rc)
        rc = cli_kb_embedder(c, kb, &emb, &e);
    if (rc)
        goto out;
    ao.backend = g;
    ao.emb = emb;
    if (!json) {
        ao.on_text = stream_out;
    }
    rc = gen_ask(kb, q.data, &ao, &a, &e);
    if (!rc && session)
        rc = idx_session_add(kb, session, q.data, a->query, a->text, &e);
    if (rc)
        goto out;
    if (session && !json)
        fprintf(stderr, "session: %s\n", session);
    if (json) {
        struct lore_buf b;
        lore_buf_init(&b);
        lore_buf_puts(&b, "{\"question\":");
        lore_buf_json_str(&b, q.data, q.len);
        lore_buf_puts(&b, ",\"answer\":");
        lore_buf_json_str(&b, a->text, a->len);
        lore_buf_puts(&b, ",\"citations\":");
        json_citations(&b, a);
        if (session) {
            lore_buf_puts(&b, ",\"session\":");
            lore_buf_json_str(&b, session, strlen(session));
            lore_buf_puts(&b, ",\"query\":");
            lore_buf_json_str(&b, a->query, strlen(a->query));
        }
        lore_buf_printf(&b, ",\"not_found\":%s,\"mode\":\"%s\",\"removed_citations\":%d,"
                            "\"unsupported_sentences\":%d,\"sources\":%zu,\"retrieval_ms\":%.2f,"
                            "\"generation_ms\":%.2f}",
                        a->not_found ? "true" : "false", a->mode, a->removed_citations,
                        a->unsupported_sentences, a->n_sources, a->retrieval_ms, a->generation_ms);
        puts(b.data);
        lore_buf_release(&b);
    } else {
        /* the streamed text may differ from the checked one (removed [n]):
         * show the checked answer when it does */
        if (g && a->removed_citations)
            printf("\n\n(corrected: %s)", a->text);
        printf("\n\n");
        for (size_t i = 0; i < a->n_citations; i++) {
            const struct gen_citation *ci = &a->citations[i];
            const struct gen_source *s = ci->src;
            printf("[%d] %s — %s", ci->n, s->title[0] ? s->title : s->uri, s->uri);
            if (ci->page > 0)
                printf(ci->page_end > ci->page ? ", pp. %d-%d" : ", p. %d", ci->page, ci->page_end);
            if (s->heading[0])
                printf(" § %s", s->heading);
            printf(" [chars %lld-%lld]%s\n", (long long)ci->char_start, (long long)ci->char_end,
                   ci->supported ? "" : "  (claim not clearly supported by this passage)");
            if (g && ci->quote)
                printf("    \"%s\"\n", ci->quote);
        }
        if (a->removed_citations)
            printf("note: %d citation%s to sources that do not exist %s removed\n", a->removed_citations,
                   a->removed_citations == 1 ? "" : "s", a->removed_citations == 1 ? "was" : "were");
    }
out:
    if (a)
        gen_answer_free(a);
    gen_backend_free(g);
    emb_close(ao.emb);
    idx_strings_free(hist, n_hist);
    idx_close(kb);
    lore_buf_release(&q);
    return rc ? cli_fail_err(&e) : 0;
}
