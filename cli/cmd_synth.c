/*
 * cmd_synth.c — `lore model synth`: writes a synthetic model (a real
 * architecture and tokenizer, random weights; engine/synth.h) so that
 * benchmarks can run at realistic sizes without downloading anything.
 *
 *   lore model synth --arch llama|qwen2|bert | --preset NAME
 *                    --vocab VOCAB.gguf --out OUT.gguf [options]
 *
 * A preset sets every size; options given with it override single values.
 * Without a preset, --arch starts from the golden fixtures' small shapes.
 */
#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/synth.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_model_synth(struct cli *c, int argc, char **argv);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lore model synth (--arch llama|qwen2|bert | --preset NAME)\n"
            "                        --vocab VOCAB.gguf --out OUT.gguf [options]\n"
            "\n"
            "Writes a GGUF model with a real architecture, the tokenizer of VOCAB.gguf\n"
            "and random weights (for benchmarks and tests; it generates nonsense).\n"
            "\n"
            "options:\n"
            "  --preset NAME      qwen2-0.5b, llama-1b, minilm-l6 or bge-small\n"
            "  --type T           F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K\n"
            "                     or Q4_K_M (llama.cpp's mix) (default F16)\n"
            "  --n-embd N         embedding size\n"
            "  --n-layer N        number of blocks\n"
            "  --n-head N         attention heads\n"
            "  --n-head-kv N      key/value heads (llama, qwen2)\n"
            "  --n-ff N           feed-forward size\n"
            "  --ctx N            context length\n"
            "  --rope-theta X     RoPE base frequency (llama, qwen2)\n"
            "  --norm-eps X       RMSNorm / LayerNorm epsilon\n"
            "  --tied, --untied   reuse token_embd as the output matrix, or write\n"
            "                     output.weight (llama, qwen2; default tied)\n"
            "  --pooling P        none, mean or cls (bert)\n"
            "  --tok-pre NAME     tokenizer.ggml.pre to write instead of the vocab's\n"
            "  --name NAME        general.name\n"
            "  --seed S           random seed (default 1234)\n"
            "  -q, --quiet        no progress or summary\n");
}

static int parse_u32(const char *opt, const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v == 0 || v > UINT32_MAX) {
        cli_fail("model synth: %s wants a positive integer, not '%s'", opt, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_f32(const char *opt, const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !(v > 0)) {
        cli_fail("model synth: %s wants a positive number, not '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

struct progress {
    double t0;
    int last_pct;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct progress *p = ctx;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct == p->last_pct)
        return;
    p->last_pct = pct;
    fprintf(stderr, "\rwriting tensors: %3d%%  %.0f / %.0f MiB  %.1f s", pct,
            (double)done / 1048576.0, (double)total / 1048576.0,
            (lore_now_ms() - p->t0) / 1000.0);
    fflush(stderr);
}

enum {
    O_ARCH = 256, O_PRESET, O_VOCAB, O_OUT, O_TYPE, O_EMBD, O_LAYER, O_HEAD, O_HEAD_KV,
    O_FF, O_CTX, O_THETA, O_EPS, O_TIED, O_UNTIED, O_POOLING, O_PRE, O_NAME, O_SEED,
};

int cmd_model_synth(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"arch", required_argument, NULL, O_ARCH},
        {"preset", required_argument, NULL, O_PRESET},
        {"vocab", required_argument, NULL, O_VOCAB},
        {"out", required_argument, NULL, O_OUT},
        {"type", required_argument, NULL, O_TYPE},
        {"n-embd", required_argument, NULL, O_EMBD},
        {"n-layer", required_argument, NULL, O_LAYER},
        {"n-head", required_argument, NULL, O_HEAD},
        {"n-head-kv", required_argument, NULL, O_HEAD_KV},
        {"n-ff", required_argument, NULL, O_FF},
        {"ctx", required_argument, NULL, O_CTX},
        {"rope-theta", required_argument, NULL, O_THETA},
        {"norm-eps", required_argument, NULL, O_EPS},
        {"tied", no_argument, NULL, O_TIED},
        {"untied", no_argument, NULL, O_UNTIED},
        {"pooling", required_argument, NULL, O_POOLING},
        {"tok-pre", required_argument, NULL, O_PRE},
        {"name", required_argument, NULL, O_NAME},
        {"seed", required_argument, NULL, O_SEED},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *arch_s = NULL, *preset = NULL, *vocab_path = NULL, *out = NULL;
    const char *type_s = NULL, *pooling_s = NULL, *pre = NULL, *name = NULL, *seed_s = NULL;
    uint32_t embd = 0, layer = 0, head = 0, head_kv = 0, ff = 0, ctx = 0;
    float theta = 0, eps = 0;
    int tied = -1, quiet = c ? c->quiet : 0, ch;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case O_ARCH: arch_s = optarg; break;
        case O_PRESET: preset = optarg; break;
        case O_VOCAB: vocab_path = optarg; break;
        case O_OUT: out = optarg; break;
        case O_TYPE: type_s = optarg; break;
        case O_EMBD: bad = parse_u32("--n-embd", optarg, &embd); break;
        case O_LAYER: bad = parse_u32("--n-layer", optarg, &layer); break;
        case O_HEAD: bad = parse_u32("--n-head", optarg, &head); break;
        case O_HEAD_KV: bad = parse_u32("--n-head-kv", optarg, &head_kv); break;
        case O_FF: bad = parse_u32("--n-ff", optarg, &ff); break;
        case O_CTX: bad = parse_u32("--ctx", optarg, &ctx); break;
        case O_THETA: bad = parse_f32("--rope-theta", optarg, &theta); break;
        case O_EPS: bad = parse_f32("--norm-eps", optarg, &eps); break;
        case O_TIED: tied = 1; break;
        case O_UNTIED: tied = 0; break;
        case O_POOLING: pooling_s = optarg; break;
        case O_PRE: pre = optarg; break;
        case O_NAME: name = optarg; break;
        case O_SEED: seed_s = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            cli_fail("model synth: unknown option or missing value '%s'", argv[optind - 1]);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (optind != argc) {
        cli_fail("model synth: unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!vocab_path || !out || (!arch_s && !preset)) {
        usage(stderr);
        return 2;
    }

    struct eng_synth_opts o;
    struct lore_err err = {0};
    int arch = -1;
    if (arch_s && (arch = eng_synth_parse_arch(arch_s)) < 0)
        return cli_fail("model synth: unknown --arch '%s' (llama, qwen2, bert)", arch_s), 2;
    if (preset) {
        if (eng_synth_preset(&o, preset, &err) != 0)
            return cli_fail("model synth: %s", err.msg), 2;
        if (arch >= 0 && arch != o.arch)
            return cli_fail("model synth: preset '%s' is %s, not %s", preset,
                            eng_synth_arch_name(o.arch), arch_s), 2;
    } else {
        eng_synth_defaults(&o, arch);
    }
    if (type_s && (o.type = eng_synth_parse_type(type_s)) < 0)
        return cli_fail("model synth: unknown --type '%s'", type_s), 2;
    if (embd) o.n_embd = embd;
    if (layer) o.n_layer = layer;
    if (head) {
        o.n_head = head;
        if (!head_kv && (o.arch == ENG_SYNTH_BERT || o.n_head_kv > head))
            o.n_head_kv = head;
    }
    if (head_kv) o.n_head_kv = head_kv;
    if (ff) o.n_ff = ff;
    if (ctx) o.n_ctx = ctx;
    if (theta > 0) o.rope_theta = theta;
    if (eps > 0) o.norm_eps = eps;
    if (tied >= 0) o.tied = tied;
    if (pooling_s) {
        if (strcmp(pooling_s, "none") == 0) o.pooling = 0;
        else if (strcmp(pooling_s, "mean") == 0) o.pooling = 1;
        else if (strcmp(pooling_s, "cls") == 0) o.pooling = 2;
        else return cli_fail("model synth: --pooling is none, mean or cls, not '%s'", pooling_s), 2;
    }
    if (pre) snprintf(o.tok_pre, sizeof o.tok_pre, "%s", pre);
    if (name) snprintf(o.name, sizeof o.name, "%s", name);
    if (seed_s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed_s, &end, 0);
        if (errno || end == seed_s || *end || seed_s[0] == '-')
            return cli_fail("model synth: --seed wants a number, not '%s'", seed_s), 2;
        o.seed = v;
    }
    o.n_threads = c ? c->threads : 0;
    struct progress pr = {lore_now_ms(), -1};
    if (!quiet && isatty(2)) {
        o.progress = on_progress;
        o.progress_ctx = &pr;
    }

    struct eng_gguf *vocab;
    if (eng_gguf_open(vocab_path, &vocab, &err) != 0)
        return cli_fail_err(&err);
    struct eng_synth_stats st;
    double t0 = lore_now_ms();
    int rc = eng_synth_write(&o, vocab, out, &st, &err);
    eng_gguf_close(vocab);
    if (o.progress)
        fputc('\n', stderr);
    if (rc)
        return cli_fail_err(&err);
    if (!quiet) {
        double s = (lore_now_ms() - t0) / 1000.0;
        printf("wrote %s: %s %s, %" PRId64 " tensors, %.1f M parameters, vocab %u, "
               "%.1f MiB in %.1f s\n",
               out, eng_synth_arch_name(o.arch), eng_synth_type_name(o.type), st.n_tensors,
               (double)st.n_params / 1e6, st.n_vocab, (double)st.file_bytes / 1048576.0, s);
        printf("tensor types:");
        for (int t = 0; t < ENG_TYPE_COUNT; t++)
            if (st.n_type[t])
                printf(" %s ×%u", eng_ggml_type_name((uint32_t)t), st.n_type[t]);
        printf("\n");
    }
    return 0;
}
