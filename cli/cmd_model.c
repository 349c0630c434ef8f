/*
 * cmd_model.c — `lore model info FILE.gguf [--json]`: what a model file is,
 * read from its GGUF header alone (nothing is loaded or computed): the
 * architecture and its sizes, parameter count, tensor types, tokenizer and
 * chat-template family. Useful before `lore model add` and in bug reports.
 *
 * `lore model synth` (the synthetic-model writer) lives elsewhere and links
 * in through the weak cmd_model_synth hook below.
 */
#include "cli/cli.h"
#include "engine/engine.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_model_synth(struct cli *c, int argc, char **argv);

__attribute__((weak)) int cmd_model_synth(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return cli_fail("model: 'synth' is not available in this build");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lore model info FILE.gguf [--json]\n"
            "       lore [--kb DIR] model set-embed FILE.gguf   (the knowledge base's embedding model)\n"
            "       lore model synth ...                       (see lore model synth --help)\n"
            "\n"
            "Shows a GGUF model's architecture, sizes, parameter count, tensor types,\n"
            "tokenizer and chat-template family (read from the header only).\n");
}

/* <arch>.<key> as u32, or 0 when absent. */
static uint32_t arch_u32(const struct eng_gguf *g, const char *arch, const char *key)
{
    char k[160];
    uint32_t v = 0;
    snprintf(k, sizeof k, "%s.%s", arch, key);
    if (eng_gguf_get_u32(g, k, &v, NULL) != 0) {
        /* a few files store an array per layer (e.g. head_count_kv): use element 0 */
        int64_t ai;
        int et;
        uint64_t n;
        if (eng_gguf_get_arr(g, k, &ai, &et, &n, NULL) == 0 && n > 0 &&
            et != ENG_GGUF_STR) {
            int64_t x = eng_gguf_arr_i64(g, ai, 0);
            v = x > 0 && x <= UINT32_MAX ? (uint32_t)x : 0;
        }
    }
    return v;
}

struct info {
    char arch[64], name[256], tok_model[32], tok_pre[64];
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, n_vocab, file_type;
    int has_file_type;
    uint64_t n_params;
    uint64_t type_count[ENG_GGML_TYPE_COUNT], type_bytes[ENG_GGML_TYPE_COUNT];
    const char *chat;
    int has_template;
};

static void gather(const struct eng_gguf *g, struct info *in)
{
    memset(in, 0, sizeof *in);
    eng_gguf_get_strz(g, "general.architecture", in->arch, sizeof in->arch, NULL);
    eng_gguf_get_strz(g, "general.name", in->name, sizeof in->name, NULL);
    eng_gguf_get_strz(g, "tokenizer.ggml.model", in->tok_model, sizeof in->tok_model, NULL);
    eng_gguf_get_strz(g, "tokenizer.ggml.pre", in->tok_pre, sizeof in->tok_pre, NULL);
    in->has_file_type = eng_gguf_get_u32(g, "general.file_type", &in->file_type, NULL) == 0;
    if (in->arch[0]) {
        in->n_embd = arch_u32(g, in->arch, "embedding_length");
        in->n_layer = arch_u32(g, in->arch, "block_count");
        in->n_head = arch_u32(g, in->arch, "attention.head_count");
        in->n_head_kv = arch_u32(g, in->arch, "attention.head_count_kv");
        if (!in->n_head_kv)
            in->n_head_kv = in->n_head;
        in->n_ff = arch_u32(g, in->arch, "feed_forward_length");
        in->n_ctx = arch_u32(g, in->arch, "context_length");
        in->n_vocab = arch_u32(g, in->arch, "vocab_size");
    }
    int64_t ai;
    int et;
    uint64_t n;
    if (eng_gguf_get_arr(g, "tokenizer.ggml.tokens", &ai, &et, &n, NULL) == 0 &&
        n <= UINT32_MAX)
        in->n_vocab = (uint32_t)n;
    for (int64_t i = 0; i < eng_gguf_n_tensors(g); i++) {
        struct eng_tensor_info ti;
        eng_gguf_tensor(g, i, &ti);
        in->n_params += ti.n_elements;
        if (ti.type < ENG_GGML_TYPE_COUNT) {
            in->type_count[ti.type]++;
            in->type_bytes[ti.type] += ti.size;
        }
    }
    in->has_template = eng_gguf_find_key(g, "tokenizer.chat_template") >= 0;
    in->chat = eng_chat_family_name(eng_gguf_chat_family(g));
}

/* llama.cpp's general.file_type values ("mostly" the type named) */
static const char *ftype_name(uint32_t v)
{
    static const char *names[] = {
        [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [7] = "Q8_0", [8] = "Q5_0",
        [9] = "Q5_1", [10] = "Q2_K", [11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L",
        [14] = "Q4_K_S", [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K",
        [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS", [23] = "IQ3_XXS",
        [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S", [27] = "IQ3_M", [28] = "IQ2_S",
        [29] = "IQ2_M", [30] = "IQ4_XS", [31] = "IQ1_M", [32] = "BF16", [36] = "TQ1_0",
        [37] = "TQ2_0",
    };
    return v < sizeof names / sizeof names[0] && names[v] ? names[v] : "?";
}

static void human(uint64_t v, char *buf, size_t cap)
{
    if (v >= 1000000000ull)
        snprintf(buf, cap, "%.2f B", (double)v / 1e9);
    else if (v >= 1000000ull)
        snprintf(buf, cap, "%.2f M", (double)v / 1e6);
    else if (v >= 1000ull)
        snprintf(buf, cap, "%.1f K", (double)v / 1e3);
    else
        snprintf(buf, cap, "%" PRIu64, v);
}

static int print_json(const struct eng_gguf *g, const struct info *in)
{
    json_t *types = json_object();
    for (int t = 0; t < ENG_GGML_TYPE_COUNT; t++) {
        if (!in->type_count[t])
            continue;
        json_object_set_new(types, eng_ggml_type_name((uint32_t)t),
                            json_pack("{s:I,s:I}", "tensors", (json_int_t)in->type_count[t],
                                      "bytes", (json_int_t)in->type_bytes[t]));
    }
    json_t *o = json_pack(
        "{s:s,s:I,s:i,s:I,s:I,s:s,s:s,s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i},s:I,s:o,"
        "s:{s:s,s:s},s:{s:s,s:b}}",
        "file", eng_gguf_name(g), "file_bytes", (json_int_t)eng_gguf_file_size(g),
        "gguf_version", (int)eng_gguf_version(g), "tensors", (json_int_t)eng_gguf_n_tensors(g),
        "metadata_keys", (json_int_t)eng_gguf_n_kv(g), "architecture", in->arch,
        "name", in->name, "sizes", "n_embd", (int)in->n_embd, "n_layer", (int)in->n_layer,
        "n_head", (int)in->n_head, "n_head_kv", (int)in->n_head_kv, "n_ff", (int)in->n_ff,
        "n_ctx", (int)in->n_ctx, "n_vocab", (int)in->n_vocab, "parameters",
        (json_int_t)in->n_params, "tensor_types", types, "tokenizer", "model",
        in->tok_model, "pre", in->tok_pre, "chat_template", "family", in->chat, "present",
        in->has_template);
    if (!o)
        return cli_fail("model: cannot build the JSON output");
    if (in->has_file_type) {
        json_object_set_new(o, "file_type", json_integer(in->file_type));
        json_object_set_new(o, "file_type_name", json_string(ftype_name(in->file_type)));
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return cli_fail("model: out of memory");
    puts(s);
    free(s);
    return 0;
}

static void print_text(const struct eng_gguf *g, const struct info *in)
{
    char h[32];
    uint64_t size = eng_gguf_file_size(g);
    printf("file            %s\n", eng_gguf_name(g));
    printf("size            %" PRIu64 " bytes (%.1f MiB)\n", size, (double)size / 1048576.0);
    printf("format          GGUF v%u, %" PRId64 " tensors, %" PRId64 " metadata keys\n",
           eng_gguf_version(g), eng_gguf_n_tensors(g), eng_gguf_n_kv(g));
    printf("architecture    %s\n", in->arch[0] ? in->arch : "(none)");
    printf("name            %s\n", in->name[0] ? in->name : "(none)");
    printf("n_embd          %u\n", in->n_embd);
    printf("layers          %u\n", in->n_layer);
    printf("heads           %u (kv %u)\n", in->n_head, in->n_head_kv);
    printf("n_ff            %u\n", in->n_ff);
    printf("context         %u\n", in->n_ctx);
    printf("vocab           %u\n", in->n_vocab);
    human(in->n_params, h, sizeof h);
    printf("parameters      %s (%" PRIu64 ")\n", h, in->n_params);
    if (in->has_file_type)
        printf("file type       %s (%u)\n", ftype_name(in->file_type), in->file_type);
    printf("tensor types   ");
    int any = 0;
    for (int t = 0; t < ENG_GGML_TYPE_COUNT; t++) {
        if (!in->type_count[t])
            continue;
        printf("%s %s ×%" PRIu64 " (%.1f MiB)", any ? "," : "", eng_ggml_type_name((uint32_t)t),
               in->type_count[t], (double)in->type_bytes[t] / 1048576.0);
        any = 1;
    }
    printf("%s\n", any ? "" : " (none)");
    if (in->tok_model[0])
        printf("tokenizer       %s%s%s\n", in->tok_model, in->tok_pre[0] ? ", pre " : "",
               in->tok_pre);
    else
        printf("tokenizer       (none)\n");
    printf("chat template   %s%s\n", in->chat, in->has_template ? "" : " (no template: default)");
}

static int model_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int json = 0, ch;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            cli_fail("model info: unknown option '%s'", argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    struct lore_err err = {0};
    struct eng_gguf *g;
    if (eng_gguf_open(argv[optind], &g, &err) != 0)
        return cli_fail_err(&err);
    struct info in;
    gather(g, &in);
    int rc = 0;
    if (json)
        rc = print_json(g, &in);
    else
        print_text(g, &in);
    eng_gguf_close(g);
    return rc;
}

int cmd_model(struct cli *c, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "info") == 0)
        return model_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "synth") == 0)
        return cmd_model_synth(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "set-embed") == 0)
        return cmd_model_set_embed(c, argc - 1, argv + 1);
    cli_fail("model: unknown subcommand '%s' (try 'lore model --help')", argv[1]);
    return 2;
}
