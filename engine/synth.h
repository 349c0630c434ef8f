/*
 * synth.h — engine-internal: synthetic models (module prefix eng_synth_).
 *
 * Writes a GGUF with a real architecture (llama, qwen2, bert), a real
 * tokenizer copied from a vocabulary GGUF, and random weights with the
 * tensor names, shapes and types of real files, so that benchmarks and
 * tests can run at realistic sizes without downloading a model. The
 * weights follow the recipe of the golden fixtures (shared/golden/README.md
 * §2): 2-D weights ~ N(0, (gain/√fan_in)²), gain 1.3 for decoders and 1.0
 * for bert, attn_q/attn_k 1.2/√n_embd; embeddings σ 0.1 (decoders, also an
 * untied output matrix) or 0.02 (bert); norm weights 1 + 0.1·N(0,1); biases
 * 0.02·N(0,1). The numbers come from a fixed-seed PRNG (splitmix64 +
 * Box-Muller) with one stream per (seed, tensor name, row), so a file is the
 * same whatever the thread count.
 *
 * Tensor types: 1-D tensors (norms, biases) and bert's position_embd and
 * token_types stay F32; every other matrix gets the chosen type, quantised
 * with the reference quantisers of kernels.h. ENG_SYNTH_Q4_K_M mimics
 * llama-quantize's Q4_K_M mix: Q4_K, but Q6_K for the output matrix (the
 * token embedding when tied) and for attn_v / ffn_down of the layers
 * llama.cpp's use_more_bits() picks (the first and last eighth and every
 * third in between). As in llama-quantize, a row length that is not a
 * multiple of 256 makes a K-quant fall back (Q4_K→Q5_0, Q5_K→Q5_1,
 * Q6_K→Q8_0), and one not a multiple of the block at all falls back to F16.
 */
#ifndef ENG_SYNTH_H
#define ENG_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lore.h"
#include "engine/engine.h"
#include "engine/kernels.h"

enum eng_synth_arch {
    ENG_SYNTH_LLAMA = 1,
    ENG_SYNTH_QWEN2 = 2,
    ENG_SYNTH_BERT = 3,
};

/* The `type` value for llama.cpp's Q4_K_M mix (not a GGML type id). */
#define ENG_SYNTH_Q4_K_M 1015

struct eng_synth_opts {
    int arch;               /* enum eng_synth_arch */
    int type;               /* enum eng_type of the matrices, or ENG_SYNTH_Q4_K_M */
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    float rope_theta;       /* llama / qwen2 */
    float norm_eps;         /* RMSNorm eps (llama / qwen2), LayerNorm eps (bert) */
    bool tied;              /* llama / qwen2: no output.weight (token_embd is reused) */
    uint32_t pooling;       /* bert.pooling_type: 0 none, 1 mean, 2 cls */
    uint64_t seed;
    char name[128];         /* general.name; "" gives "<arch>-synth" */
    /* tokenizer.ggml.pre to write instead of the vocabulary's; "" keeps it,
     * except that qwen2 over a "gpt2" vocabulary whose pre is not qwen2 gets
     * pre "qwen2", add_bos_token false and padding = eos, as the fixtures and
     * real Qwen2 files have. */
    char tok_pre[64];
    int n_threads;          /* 0: eng_cpu_physical_cores() */
    /* Called after each piece of tensor data is written (may be NULL). */
    void (*progress)(void *ctx, uint64_t done_bytes, uint64_t total_bytes);
    void *progress_ctx;
};

struct eng_synth_stats {
    uint64_t n_params;      /* elements over all tensors */
    uint64_t file_bytes;
    int64_t n_tensors;
    uint32_t n_vocab;
    uint32_t n_type[ENG_TYPE_COUNT];   /* tensors of each type */
};

/* Fills o with arch's defaults: the shapes of the golden fixtures
 * (llama 256/2 layers/8:4 heads/ffn 768, qwen2 256/2/8:2/768, bert
 * 128/2/4/512), F16, tied, seed 1234. */
void eng_synth_defaults(struct eng_synth_opts *o, int arch);
/* Fills o from a named preset: "qwen2-0.5b", "llama-1b", "minilm-l6",
 * "bge-small". LORE_EINVAL for an unknown name. */
int eng_synth_preset(struct eng_synth_opts *o, const char *preset, struct lore_err *e);
/* "llama" → ENG_SYNTH_LLAMA …; -1 if unknown. */
int eng_synth_parse_arch(const char *s);
const char *eng_synth_arch_name(int arch);
/* "Q8_0" → ENG_TYPE_Q8_0, "Q4_K_M" → ENG_SYNTH_Q4_K_M (case-insensitive);
 * -1 if not one of F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K Q4_K_M. */
int eng_synth_parse_type(const char *s);
const char *eng_synth_type_name(int type);
/* llama.cpp's general.file_type for a type (15 for Q4_K_M), -1 if none. */
int eng_synth_file_type(int type);

/* Writes the model o describes to path (via a temporary file; nothing is
 * left behind on failure), with the tokenizer.* metadata of vocab. st (may
 * be NULL) gets what was written. LORE_EINVAL for inconsistent sizes (the
 * message names the option), LORE_EFORMAT when vocab has no tokenizer,
 * LORE_ENOENT / LORE_EPERM / LORE_EFULL / LORE_EIO from the file system. */
int eng_synth_write(const struct eng_synth_opts *o, const struct eng_gguf *vocab,
                    const char *path, struct eng_synth_stats *st, struct lore_err *e);

#endif
