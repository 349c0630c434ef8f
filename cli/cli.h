/*
 * cli.h — the `lore` command's subcommands. Each lives in its own file
 * (cli/cmd_NAME.c) as int cmd_NAME(struct cli *c, int argc, char **argv),
 * where argv[0] is the subcommand's name and the rest its arguments, and
 * returns the process exit status (0 ok, 1 error, 2 usage).
 */
#ifndef LORE_CLI_H
#define LORE_CLI_H

#include "core/lore.h"

struct cli {
    const char *kb_dir;   /* --kb, else $LORE_KB, else ./lore-kb */
    int threads;          /* --threads (0 = default) */
    int quiet;
};

/* Prints "lore: <msg>" to stderr (one line) and returns 1. */
int cli_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Prints a lore_err as the one-line error; returns 1. */
int cli_fail_err(const struct lore_err *e);

int cmd_init(struct cli *c, int argc, char **argv);
int cmd_ingest(struct cli *c, int argc, char **argv);
int cmd_search(struct cli *c, int argc, char **argv);
int cmd_docs(struct cli *c, int argc, char **argv);
int cmd_rm(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_eval(struct cli *c, int argc, char **argv);
int cmd_extract(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
int cmd_model(struct cli *c, int argc, char **argv);     /* model info|synth */
int cmd_tokenize(struct cli *c, int argc, char **argv);
int cmd_generate(struct cli *c, int argc, char **argv);
int cmd_ask(struct cli *c, int argc, char **argv);
int cmd_eval_qa(struct cli *c, int argc, char **argv);
int cmd_embed(struct cli *c, int argc, char **argv);
int cmd_reembed(struct cli *c, int argc, char **argv);
int cmd_model_set_embed(struct cli *c, int argc, char **argv);

struct idx_kb;
struct emb;
/* The knowledge base's embedding model (meta 'embed_model_path'), opened;
 * *out stays NULL when the knowledge base has none. */
int cli_kb_embedder(struct cli *c, struct idx_kb *kb, struct emb **out, struct lore_err *e);
/* Records path as kb's embedding model (kb open for writing). */
int cli_set_embedder(struct cli *c, struct idx_kb *kb, const char *path, int reembed,
                     struct emb **out, struct lore_err *e);

#endif
