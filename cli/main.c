/*
 * main.c — the `lore` command: global options, then one subcommand.
 *
 *   lore [--kb DIR] [--threads N] COMMAND [ARGS...]
 *
 * Options are parsed the GNU way (getopt_long, permuted, `--` ends them).
 * Exit status: 0 ok, 1 error (one line on stderr), 2 usage.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lore: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_err(const struct lore_err *e)
{
    return cli_fail("%s", e->msg[0] ? e->msg : lore_strerror(e->status));
}

/* Subcommands that a later part of the engine provides; these stand-ins are
 * replaced at link time by the real ones (strong symbols in cli/cmd_*.c). */
__attribute__((weak)) int cmd_model(struct cli *c, int argc, char **argv)
{
    return cli_fail("'model' is not available in this build");
}
__attribute__((weak)) int cmd_tokenize(struct cli *c, int argc, char **argv)
{
    return cli_fail("'tokenize' is not available in this build");
}
__attribute__((weak)) int cmd_generate(struct cli *c, int argc, char **argv)
{
    return cli_fail("'generate' is not available in this build");
}


static const struct {
    const char *name;
    int (*fn)(struct cli *, int, char **);
    const char *help;
} commands[] = {
    {"init", cmd_init, "create an empty knowledge base"},
    {"ingest", cmd_ingest, "add or update files and folders"},
    {"ask", cmd_ask, "answer a question from the documents, with citations"},
    {"search", cmd_search, "full-text (BM25) search with citations"},
    {"docs", cmd_docs, "list the documents"},
    {"rm", cmd_rm, "remove documents and everything derived from them"},
    {"stats", cmd_stats, "counts and sizes"},
    {"check", cmd_check, "verify the knowledge base"},
    {"extract", cmd_extract, "show a file as lore would index it (stores nothing)"},
    {"eval", cmd_eval, "retrieval quality on BEIR-format data"},
    {"eval-qa", cmd_eval_qa, "answer quality on SQuAD-format data"},
    {"model", cmd_model, "inspect GGUF model files; set the embedding model"},
    {"embed", cmd_embed, "embed lines of text with a GGUF encoder"},
    {"reembed", cmd_reembed, "embed every chunk again (after changing the model)"},
    {"tokenize", cmd_tokenize, "tokenize text with a GGUF model's tokenizer"},
    {"generate", cmd_generate, "run a GGUF decoder model"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lore [--kb DIR] [--threads N] COMMAND [ARGS...]\n"
            "\n"
            "lore answers questions from your own documents, offline, with citations.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f,
            "\n"
            "options:\n"
            "  --kb DIR       knowledge base folder (default: $LORE_KB, else ./lore-kb)\n"
            "  --threads N    worker threads (default: physical cores)\n"
            "  -h, --help     this help; 'lore COMMAND --help' for a command's\n"
            "  --version      print the version\n");
}

/* OpenBLAS (under FAISS) starts a thread per core when the library loads and
 * those threads spin; lore's vector searches are single queries that do not
 * use BLAS threads. The thread count can only be set before the library is
 * loaded, so when the environment does not say, lore sets it and starts
 * itself again (once). */
static void calm_blas(char **argv)
{
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("LORE_NO_REEXEC"))
        return;
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    if (!getenv("OMP_WAIT_POLICY"))
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    /* Poppler allocates and frees small objects by the million: a larger
     * per-thread cache of freed chunks makes PDF parsing ~15% faster */
    if (!getenv("GLIBC_TUNABLES"))
        setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=2000", 1);
    setenv("LORE_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* no /proc: carry on as we are */
}

int main(int argc, char **argv)
{
    calm_blas(argv);
    struct cli c = {0};
    c.kb_dir = getenv("LORE_KB");
    if (!c.kb_dir || !c.kb_dir[0])
        c.kb_dir = "./lore-kb";
    static const struct option opts[] = {
        {"kb", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0, 0, 0, 0},
    };
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            c.kb_dir = optarg;
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 512)
                return cli_fail("--threads wants a number from 1 to 512, not '%s'", optarg), 2;
            c.threads = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("lore %s\n", LORE_VERSION);
            return 0;
        default:
            cli_fail("unknown option '%s' (see 'lore --help')", argv[optind - 1]);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* full getopt re-initialisation for the subcommand */
            return commands[i].fn(&c, sub_argc, sub_argv);
        }
    }
    cli_fail("unknown command '%s' (see 'lore --help')", name);
    return 2;
}
