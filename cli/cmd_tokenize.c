/*
 * cmd_tokenize.c — `lore tokenize`: text to token ids with a GGUF model's
 * own tokenizer, the way llama.cpp's llama-tokenize does it, so the two can
 * be compared directly (and token budgets checked by hand).
 *
 *   lore tokenize -m FILE.gguf [--no-special] [--no-parse-special]
 *                 [--ids | --json] [-f FILE | TEXT...]
 *
 * Without TEXT or -f the text is read from standard input. -f takes the
 * file's exact bytes (like llama-tokenize -f).
 */
#include "cli/cli.h"
#include "engine/engine.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (64u << 20)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lore tokenize -m FILE.gguf [options] [TEXT...]\n"
            "\n"
            "Tokenizes TEXT (or -f FILE, or standard input) with the model's tokenizer.\n"
            "\n"
            "options:\n"
            "  -m, --model FILE       the GGUF file whose tokenizer to use\n"
            "  -f, --file FILE        read the text from FILE (exact bytes)\n"
            "      --no-special       do not add BOS/EOS or CLS/SEP\n"
            "      --no-parse-special treat text like <s> or [CLS] as plain text\n"
            "      --ids              print only the ids, as [1, 2, 3]\n"
            "      --json             print {\"ids\": [...], \"pieces\": [...]}\n");
}

static int read_stdin(char **out, size_t *len)
{
    struct lore_buf b;
    char tmp[65536];
    size_t n;
    lore_buf_init(&b);
    while ((n = fread(tmp, 1, sizeof tmp, stdin)) > 0) {
        if (b.len + n > MAX_INPUT || lore_buf_append(&b, tmp, n)) {
            lore_buf_release(&b);
            return -1;
        }
    }
    *out = lore_buf_detach(&b, len);
    if (!*out) {
        *out = strdup("");
        *len = 0;
    }
    return *out ? 0 : -1;
}

/* The piece of id as text, control tokens included; caller frees. */
static char *piece(const struct eng_tok *t, int32_t id, size_t *len)
{
    int64_t n = eng_tok_piece(t, id, true, NULL, 0);
    if (n < 0)
        n = 0;
    char *p = malloc((size_t)n + 1);
    if (!p)
        return NULL;
    eng_tok_piece(t, id, true, p, (size_t)n);
    p[n] = 0;
    *len = (size_t)n;
    return p;
}

int cmd_tokenize(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"no-special", no_argument, NULL, 'S'},
        {"no-bos", no_argument, NULL, 'S'},
        {"no-parse-special", no_argument, NULL, 'P'},
        {"ids", no_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *file = NULL;
    int add_special = 1, parse_special = 1, mode = 0, ch;
    (void)c;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "m:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case 'f': file = optarg; break;
        case 'S': add_special = 0; break;
        case 'P': parse_special = 0; break;
        case 'i': mode = 1; break;
        case 'j': mode = 2; break;
        case 'h': usage(stdout); return 0;
        default:
            cli_fail("tokenize: unknown option or missing value '%s'", argv[optind - 1]);
            return 2;
        }
    }
    if (!model) {
        usage(stderr);
        return 2;
    }
    if (file && optind < argc) {
        cli_fail("tokenize: give either -f FILE or TEXT, not both");
        return 2;
    }

    struct lore_err err = {0};
    char *text = NULL;
    size_t len = 0;
    if (file) {
        if (lore_read_file(file, &text, &len, MAX_INPUT, &err) != 0)
            return cli_fail_err(&err);
    } else if (optind < argc) {
        struct lore_buf b;
        lore_buf_init(&b);
        for (int i = optind; i < argc; i++) {
            if ((i > optind && lore_buf_putc(&b, ' ')) || lore_buf_puts(&b, argv[i])) {
                lore_buf_release(&b);
                return cli_fail("tokenize: out of memory");
            }
        }
        text = lore_buf_detach(&b, &len);
    } else if (read_stdin(&text, &len) != 0) {
        return cli_fail("tokenize: cannot read standard input (or it is over 64 MiB)");
    }
    if (!text && !(text = strdup("")))   /* an empty TEXT detaches as NULL */
        return cli_fail("tokenize: out of memory");

    struct eng_gguf *g = NULL;
    struct eng_tok *t = NULL;
    int32_t *ids = NULL;
    int rc = 0;
    if (eng_gguf_open(model, &g, &err) != 0 || eng_tok_new_from_gguf(g, &t, &err) != 0) {
        rc = cli_fail_err(&err);
        goto done;
    }
    int64_t n = eng_tok_encode(t, text, len, add_special, parse_special, NULL, 0);
    if (n >= 0) {
        ids = malloc(((size_t)n + 1) * sizeof *ids);
        if (!ids)
            n = LORE_ENOMEM;
        else
            n = eng_tok_encode(t, text, len, add_special, parse_special, ids, (size_t)n);
    }
    if (n < 0) {
        rc = cli_fail("tokenize: %s", lore_strerror((int)n));
        goto done;
    }

    if (mode == 1) {
        putchar('[');
        for (int64_t i = 0; i < n; i++)
            printf(i ? ", %d" : "%d", ids[i]);
        puts("]");
    } else if (mode == 2) {
        json_t *ja = json_array(), *jp = json_array();
        for (int64_t i = 0; i < n; i++) {
            size_t pl;
            char *p = piece(t, ids[i], &pl);
            json_array_append_new(ja, json_integer(ids[i]));
            /* pieces can be a lone byte of a UTF-8 sequence: keep them valid */
            json_array_append_new(jp, p && lore_utf8_check(p, pl) == pl
                                          ? json_stringn(p, pl) : json_null());
            free(p);
        }
        json_t *o = json_pack("{s:I,s:o,s:o}", "count", (json_int_t)n, "ids", ja,
                              "pieces", jp);
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (!s) {
            json_decref(o);
            rc = cli_fail("tokenize: out of memory");
            goto done;
        }
        puts(s);
        free(s);
        json_decref(o);
    } else {
        for (int64_t i = 0; i < n; i++) {
            size_t pl;
            char *p = piece(t, ids[i], &pl);
            printf("%6d -> '", ids[i]);
            for (size_t k = 0; p && k < pl; k++) {
                unsigned char u = (unsigned char)p[k];
                if (u == '\n')
                    fputs("\\n", stdout);
                else if (u == '\t')
                    fputs("\\t", stdout);
                else if (u == '\r')
                    fputs("\\r", stdout);
                else if (u < 0x20 || u == 0x7f)
                    printf("\\x%02x", u);
                else
                    putchar(u);
            }
            puts("'");
            free(p);
        }
    }
done:
    free(ids);
    eng_tok_free(t);
    eng_gguf_close(g);
    free(text);
    return rc;
}
