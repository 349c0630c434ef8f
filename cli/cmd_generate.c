/*
 * cmd_generate.c — `lore generate`: run a GGUF decoder model directly (a
 * debugging tool; answering questions is `lore ask`).
 */
#include "cli/cli.h"
#include "engine/engine.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_text(void *ud, const char *text, size_t len)
{
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_generate(struct cli *c, int argc, char **argv)
{
    static const struct option o[] = {
        {"model", required_argument, NULL, 'm'},
        {"prompt", required_argument, NULL, 'p'},
        {"prompt-file", required_argument, NULL, 'f'},
        {"chat", required_argument, NULL, 'c'},
        {"system", required_argument, NULL, 'S'},
        {"n", required_argument, NULL, 'n'},
        {"temp", required_argument, NULL, 't'},
        {"top-k", required_argument, NULL, 'k'},
        {"top-p", required_argument, NULL, 'P'},
        {"min-p", required_argument, NULL, 'M'},
        {"repeat-penalty", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 's'},
        {"ctx", required_argument, NULL, 'C'},
        {"threads", required_argument, NULL, 'T'},
        {"stop", required_argument, NULL, 'X'},
        {"ignore-eos", no_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *prompt = NULL, *pfile = NULL, *chat = NULL, *sys = NULL;
    const char *stops[16];
    size_t n_stop = 0;
    int json = 0, n_ctx = 0, threads = c->threads, ch;
    struct eng_gen_opts go;
    eng_gen_opts_default(&go);
    go.n_predict = 128;
    while ((ch = getopt_long(argc, argv, "m:p:f:n:h", o, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case 'p': prompt = optarg; break;
        case 'f': pfile = optarg; break;
        case 'c': chat = optarg; break;
        case 'S': sys = optarg; break;
        case 'n': go.n_predict = atoi(optarg); break;
        case 't': go.sampling.temp = (float)atof(optarg); break;
        case 'k': go.sampling.top_k = atoi(optarg); break;
        case 'P': go.sampling.top_p = (float)atof(optarg); break;
        case 'M': go.sampling.min_p = (float)atof(optarg); break;
        case 'r': go.sampling.repeat_penalty = (float)atof(optarg); break;
        case 's': go.sampling.seed = strtoull(optarg, NULL, 10); break;
        case 'C': n_ctx = atoi(optarg); break;
        case 'T': threads = atoi(optarg); break;
        case 'X':
            if (n_stop < sizeof stops / sizeof stops[0])
                stops[n_stop++] = optarg;
            break;
        case 'i': go.ignore_eos = 1; break;
        case 'j': json = 1; break;
        case 'h':
            printf("usage: lore generate --model FILE.gguf (--prompt TEXT | --prompt-file F | --chat TEXT)\n"
                   "                     [--n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
                   "                     [--repeat-penalty R] [--seed S] [--ctx N] [--threads N]\n"
                   "                     [--stop TEXT]... [--system TEXT] [--ignore-eos] [--json]\n\n"
                   "Runs a LLaMA-family GGUF model (llama, qwen2). --prompt text is tokenized with\n"
                   "the model's add-BOS setting and special tokens parsed; --chat wraps the text in\n"
                   "the model's chat template. Greedy unless --temp > 0. --json prints\n"
                   "{\"prompt_tokens\",\"tokens\",\"text\",\"prompt_ms\",\"gen_ms\"}.\n");
            return 0;
        default:
            return cli_fail("generate: unknown option (see 'lore generate --help')"), 2;
        }
    }
    if (!model)
        return cli_fail("generate: --model FILE.gguf is required"), 2;
    if (!!prompt + !!pfile + !!chat != 1)
        return cli_fail("generate: give exactly one of --prompt, --prompt-file, --chat"), 2;
    if (go.n_predict < 0)
        return cli_fail("generate: --n must be >= 0"), 2;
    go.stop = stops;
    go.n_stop = n_stop;
    struct lore_err e;
    lore_err_clear(&e);
    char *file_text = NULL;
    size_t flen = 0;
    if (pfile) {
        if (lore_read_file(pfile, &file_text, &flen, (size_t)64 << 20, &e))
            return cli_fail_err(&e);
        prompt = file_text;
    }
    struct eng_model *m = NULL;
    struct eng_ctx *ctx = NULL;
    struct lore_buf text;
    lore_buf_init(&text);
    int32_t *ids = NULL;
    int rc = eng_model_open(model, &m, &e);
    if (!rc)
        rc = eng_ctx_new(m, n_ctx, threads, &ctx, &e);
    if (rc)
        goto out;
    const struct eng_tok *tok = eng_model_tok(m);
    if (chat) {
        struct eng_chat_msg msgs[2];
        size_t nm = 0;
        if (sys)
            msgs[nm++] = (struct eng_chat_msg){"system", sys};
        msgs[nm++] = (struct eng_chat_msg){"user", chat};
        if ((rc = eng_chat_render(eng_model_chat_family(m), msgs, nm, 1, &text))) {
            lore_err_set(&e, rc, "out of memory");
            goto out;
        }
    } else {
        lore_buf_puts(&text, prompt);
    }
    int64_t need = eng_tok_encode(tok, text.data ? text.data : "", text.len, true, true, NULL, 0);
    if (need < 0) {
        rc = lore_err_set(&e, (int)need, "cannot tokenize the prompt");
        goto out;
    }
    ids = malloc((size_t)(need ? need : 1) * sizeof *ids);
    if (!ids) {
        rc = lore_err_set(&e, LORE_ENOMEM, "out of memory");
        goto out;
    }
    eng_tok_encode(tok, text.data ? text.data : "", text.len, true, true, ids, (size_t)need);
    if (need == 0) {
        rc = lore_err_set(&e, LORE_EINVAL, "the prompt is empty");
        goto out;
    }
    if (!json)
        go.on_text = print_text;
    struct eng_gen_result r;
    if ((rc = eng_generate(ctx, ids, (int)need, &go, &r, &e)))
        goto out;
    if (json) {
        struct lore_buf b;
        lore_buf_init(&b);
        lore_buf_puts(&b, "{\"prompt_tokens\":[");
        for (int64_t i = 0; i < need; i++)
            lore_buf_printf(&b, "%s%d", i ? "," : "", ids[i]);
        lore_buf_puts(&b, "],\"tokens\":[");
        for (int i = 0; i < r.n_tokens; i++)
            lore_buf_printf(&b, "%s%d", i ? "," : "", r.tokens[i]);
        lore_buf_puts(&b, "],\"text\":");
        lore_buf_json_str(&b, r.text, r.text_len);
        lore_buf_printf(&b, ",\"prompt_ms\":%.3f,\"gen_ms\":%.3f,\"stop\":\"%s\"}", r.prompt_ms, r.gen_ms,
                        r.stop_reason);
        puts(b.data);
        lore_buf_release(&b);
    } else {
        putchar('\n');
        fprintf(stderr, "prompt: %d tokens in %.1f ms (%.1f t/s); generated %d tokens in %.1f ms (%.1f t/s); stop: %s\n",
                r.n_prompt, r.prompt_ms, r.n_prompt / (r.prompt_ms / 1000 + 1e-9), r.n_tokens, r.gen_ms,
                r.n_tokens / (r.gen_ms / 1000 + 1e-9), r.stop_reason);
    }
    eng_gen_result_release(&r);
out:
    free(ids);
    free(file_text);
    lore_buf_release(&text);
    eng_ctx_free(ctx);
    eng_model_free(m);
    return rc ? cli_fail_err(&e) : 0;
}
