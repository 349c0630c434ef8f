/*
 * tokenizer.c — the tokenizer common to all three algorithms: loading the
 * vocabulary from GGUF metadata (texts, scores, token types, special ids and
 * the flags llama.cpp derives from the model type), splitting input text on
 * special tokens, dispatching fragments to tok_spm.c / tok_bpe.c /
 * tok_wpm.c, and turning ids back into text. Also recognises chat templates.
 *
 * The oracle is llama.cpp (the goldens in shared/golden): where its rules are
 * arbitrary (which tokens count as special, when a space is prefixed, which
 * default flags a model type gets) they are copied as rules here, with the
 * reason in a comment, and pinned by tests/unit/test_eng_tokenizer.c.
 */
#include "engine/tok_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GGUF token types */
enum { TT_UNDEFINED = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3,
       TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

int ivec_push(struct ivec *a, int32_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return LORE_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

/* ---- text -> id map ---------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int32_t tok_lookup(const struct eng_tok *t, const char *s, size_t n)
{
    uint64_t i = hash_bytes(s, n) & (t->map_cap - 1);
    for (;;) {
        int32_t id = t->map[i];
        if (id < 0)
            return -1;
        if (t->text_len[id] == n && memcmp(t->text + t->text_off[id], s, n) == 0)
            return id;
        i = (i + 1) & (t->map_cap - 1);
    }
}

static int build_map(struct eng_tok *t)
{
    uint64_t cap = 16;
    while (cap < (uint64_t)t->n_vocab * 2)
        cap <<= 1;
    t->map = malloc(cap * sizeof *t->map);
    if (!t->map)
        return LORE_ENOMEM;
    memset(t->map, 0xff, cap * sizeof *t->map);
    t->map_cap = cap;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = t->text + t->text_off[id];
        size_t n = t->text_len[id];
        uint64_t i = hash_bytes(s, n) & (cap - 1);
        for (;;) {
            int32_t o = t->map[i];
            if (o < 0 || (t->text_len[o] == n && memcmp(t->text + t->text_off[o], s, n) == 0)) {
                t->map[i] = id;   /* a later duplicate replaces the earlier id */
                break;
            }
            i = (i + 1) & (cap - 1);
        }
    }
    return 0;
}

/* ---- loading ---------------------------------------------------------------- */

static int load_vocab(struct eng_tok *t, const struct eng_gguf *g, struct lore_err *err)
{
    const char *fname = eng_gguf_name(g);
    int64_t ki;
    int et;
    uint64_t n;
    int rc = eng_gguf_get_arr(g, "tokenizer.ggml.tokens", &ki, &et, &n, err);
    if (rc)
        return rc == LORE_ENOENT ? lore_err_set(err, LORE_EFORMAT,
                                                "'%s': no vocabulary (tokenizer.ggml.tokens)",
                                                fname)
                                 : rc;
    if (et != ENG_GGUF_STR || n == 0 || n > INT32_MAX / 2) {
        return lore_err_set(err, LORE_EFORMAT,
                            "'%s': tokenizer.ggml.tokens is not a usable string array",
                            fname);
    }
    t->n_vocab = (int32_t)n;

    /* texts into one arena; empty texts get a placeholder as llama.cpp does */
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        eng_gguf_arr_str(g, ki, i, &len);
        total += (len ? len : 24) + 1;
    }
    if (total > UINT32_MAX)
        return lore_err_set(err, LORE_ELIMIT, "'%s': vocabulary text is too large", fname);
    t->text = malloc((size_t)total);
    t->text_off = malloc(n * sizeof *t->text_off);
    t->text_len = malloc(n * sizeof *t->text_len);
    t->score = calloc(n, sizeof *t->score);
    t->attr = malloc(n);
    if (!t->text || !t->text_off || !t->text_len || !t->score || !t->attr)
        return lore_err_set(err, LORE_ENOMEM, "out of memory loading the vocabulary");
    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        const char *s = eng_gguf_arr_str(g, ki, i, &len);
        char *d = t->text + off;
        if (len == 0)
            len = (size_t)snprintf(d, 25, "[EMPTY_%" PRIu64 "]", i);
        else
            memcpy(d, s, len);
        d[len] = 0;
        t->text_off[i] = off;
        t->text_len[i] = (uint32_t)len;
        if (len > t->max_token_len)
            t->max_token_len = (uint32_t)len;
        off += (uint32_t)len + 1;
        t->attr[i] = ENG_TOKA_NORMAL;
    }

    if (eng_gguf_get_arr(g, "tokenizer.ggml.scores", &ki, &et, &n, NULL) == 0) {
        if (n != (uint64_t)t->n_vocab || (et != ENG_GGUF_F32 && et != ENG_GGUF_F64)) {
            return lore_err_set(err, LORE_EFORMAT,
                                "'%s': tokenizer.ggml.scores has %" PRIu64
                                " entries for %d tokens (or is not float)",
                                fname, n, t->n_vocab);
        }
        for (uint64_t i = 0; i < n; i++)
            t->score[i] = (float)eng_gguf_arr_f64(g, ki, i);
    }
    if (eng_gguf_get_arr(g, "tokenizer.ggml.token_type", &ki, &et, &n, NULL) == 0) {
        if (n != (uint64_t)t->n_vocab || et == ENG_GGUF_STR || et == ENG_GGUF_F32 ||
            et == ENG_GGUF_F64) {
            return lore_err_set(err, LORE_EFORMAT,
                                "'%s': tokenizer.ggml.token_type has %" PRIu64
                                " entries for %d tokens (or is not integer)",
                                fname, n, t->n_vocab);
        }
        for (uint64_t i = 0; i < n; i++) {
            switch (eng_gguf_arr_i64(g, ki, i)) {
            case TT_NORMAL: t->attr[i] = ENG_TOKA_NORMAL; break;
            case TT_UNKNOWN: t->attr[i] = ENG_TOKA_UNKNOWN; break;
            case TT_CONTROL: t->attr[i] = ENG_TOKA_CONTROL; break;
            case TT_USER: t->attr[i] = ENG_TOKA_USER; break;
            case TT_UNUSED: t->attr[i] = ENG_TOKA_UNUSED; break;
            case TT_BYTE: t->attr[i] = ENG_TOKA_BYTE; break;
            default: t->attr[i] = ENG_TOKA_UNDEFINED; break;
            }
        }
    }
    return build_map(t) ? lore_err_set(err, LORE_ENOMEM, "out of memory") : 0;
}

/* Reads a special-token id key; a missing or out-of-range value keeps the
 * default, as llama.cpp does (stories260K stores 0xffffffff for "none"). */
static void special_id(const struct eng_tok *t, const struct eng_gguf *g,
                       const char *key, int32_t *id)
{
    uint32_t v;
    if (eng_gguf_get_u32(g, key, &v, NULL) == 0 && v < (uint32_t)t->n_vocab)
        *id = (int32_t)v;
}

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const struct eng_tok *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->text_len[x] != t->text_len[y])
        return t->text_len[x] > t->text_len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int build_specials(struct eng_tok *t)
{
    size_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        n += (t->attr[i] & (ENG_TOKA_CONTROL | ENG_TOKA_USER | ENG_TOKA_UNKNOWN)) != 0;
    t->special = malloc((n ? n : 1) * sizeof *t->special);
    if (!t->special)
        return LORE_ENOMEM;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & (ENG_TOKA_CONTROL | ENG_TOKA_USER | ENG_TOKA_UNKNOWN))
            t->special[t->n_special++] = i;
    qsort_r(t->special, t->n_special, sizeof *t->special, cmp_special, t);

    /* end-of-generation ids: eos/eot/eom plus well-known end markers */
    static const char *eog_text[] = {"<|eot_id|>", "<|im_end|>", "<|end|>",
                                     "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
                                     "<EOT>", "<|end_of_text|>", "</s>"};
    size_t neog = sizeof eog_text / sizeof eog_text[0];
    t->eog = malloc((neog + 3) * sizeof *t->eog);
    if (!t->eog)
        return LORE_ENOMEM;
    int32_t fixed[3] = {t->eos, t->eot, t->eom};
    for (int k = 0; k < 3; k++)
        if (fixed[k] >= 0)
            t->eog[t->n_eog++] = fixed[k];
    for (size_t k = 0; k < neog; k++) {
        int32_t id = tok_lookup(t, eog_text[k], strlen(eog_text[k]));
        if (id >= 0 && (t->attr[id] & (ENG_TOKA_CONTROL | ENG_TOKA_USER))) {
            t->eog[t->n_eog++] = id;
            if (t->eot < 0 && k < 4)
                t->eot = id;
        }
    }
    return 0;
}

int eng_tok_new_from_gguf(const struct eng_gguf *g, struct eng_tok **out,
                          struct lore_err *err)
{
    const char *fname = eng_gguf_name(g);
    *out = NULL;
    struct eng_tok *t = calloc(1, sizeof *t);
    if (!t)
        return lore_err_set(err, LORE_ENOMEM, "out of memory");
    int rc;
    bool b;

    if (eng_gguf_get_strz(g, "tokenizer.ggml.model", t->model, sizeof t->model, NULL)) {
        rc = lore_err_set(err, LORE_EFORMAT, "'%s': no tokenizer (tokenizer.ggml.model)",
                          fname);
        goto fail;
    }
    eng_gguf_get_strz(g, "tokenizer.ggml.pre", t->pre, sizeof t->pre, NULL);

    t->eot = t->eom = t->sep = t->pad = t->mask = -1;
    if (strcmp(t->model, "llama") == 0) {
        t->kind = ENG_TOK_SPM;
        t->bos = 1, t->eos = 2, t->unk = 0;
        t->add_space_prefix = true;
        t->add_bos = true;
    } else if (strcmp(t->model, "bert") == 0) {
        t->kind = ENG_TOK_WPM;
        t->bos = 101, t->eos = -1, t->unk = 100, t->sep = 102, t->pad = 0, t->mask = 103;
        t->add_bos = true;
        t->clean_spaces = true;
    } else if (strcmp(t->model, "gpt2") == 0) {
        t->kind = ENG_TOK_BPE;
        t->bos = 11, t->eos = 11, t->unk = -1;
        t->clean_spaces = true;
    } else {
        rc = lore_err_set(err, LORE_EUNSUPPORTED,
                          "'%s': tokenizer model '%s' is not supported "
                          "(llama, gpt2 and bert are)",
                          fname, t->model);
        goto fail;
    }
    if ((rc = load_vocab(t, g, err)))
        goto fail;
    /* the defaults may not exist in a small vocabulary */
    int32_t *ids[] = {&t->bos, &t->eos, &t->unk, &t->sep, &t->pad, &t->mask};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
        if (*ids[k] >= t->n_vocab)
            *ids[k] = -1;
    special_id(t, g, "tokenizer.ggml.bos_token_id", &t->bos);
    special_id(t, g, "tokenizer.ggml.eos_token_id", &t->eos);
    special_id(t, g, "tokenizer.ggml.eot_token_id", &t->eot);
    special_id(t, g, "tokenizer.ggml.eom_token_id", &t->eom);
    special_id(t, g, "tokenizer.ggml.unknown_token_id", &t->unk);
    special_id(t, g, "tokenizer.ggml.seperator_token_id", &t->sep);
    special_id(t, g, "tokenizer.ggml.padding_token_id", &t->pad);
    special_id(t, g, "tokenizer.ggml.mask_token_id", &t->mask);
    if (t->kind == ENG_TOK_WPM)
        special_id(t, g, "tokenizer.ggml.cls_token_id", &t->bos);

    if (t->kind == ENG_TOK_BPE && (rc = tok_bpe_init(t, g, err)))
        goto fail;
    if (t->kind == ENG_TOK_SPM) {
        for (int c = 0; c < 256; c++) {
            char buf[8];
            snprintf(buf, sizeof buf, "<0x%02X>", c);
            int32_t id = tok_lookup(t, buf, 6);
            if (id < 0) {
                buf[0] = (char)c;
                id = tok_lookup(t, buf, 1);
            }
            t->byte_tok[c] = id >= 0 ? id : t->unk;
        }
    }

    if (eng_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b, NULL) == 0)
        t->add_space_prefix = b;
    if (eng_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, NULL) == 0)
        t->add_bos = b;
    if (eng_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b, NULL) == 0)
        t->add_eos = b;
    if ((t->add_bos && t->bos < 0) || (t->add_eos && t->eos < 0) ||
        (t->kind == ENG_TOK_WPM && (t->bos < 0 || t->sep < 0))) {
        rc = lore_err_set(err, LORE_EFORMAT,
                          "'%s': the tokenizer adds a BOS/EOS/CLS/SEP token it does not have",
                          fname);
        goto fail;
    }
    if ((rc = build_specials(t))) {
        lore_err_set(err, rc, "out of memory");
        goto fail;
    }
    *out = t;
    return 0;
fail:
    eng_tok_free(t);
    return rc;
}

void eng_tok_free(struct eng_tok *t)
{
    if (!t)
        return;
    tok_bpe_release(t);
    free(t->text);
    free(t->text_off);
    free(t->text_len);
    free(t->score);
    free(t->attr);
    free(t->map);
    free(t->special);
    free(t->eog);
    free(t);
}

/* ---- encoding --------------------------------------------------------------- */

/* A piece of the input: either plain text [off, off+len) or a token. */
struct frag {
    int32_t id;           /* -1 for text */
    size_t off, len;
};

struct fragv {
    struct frag *v;
    size_t n, cap;
};

static int frag_push(struct fragv *a, struct frag f)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct frag *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return LORE_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = f;
    return 0;
}

static const char *find_bytes(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0 || nn > hn)
        return NULL;
    return memmem(h, hn, nd, nn);
}

/* Splits text fragments on every special token, longest first, like
 * llama.cpp's tokenizer_st_partition. Control and unknown tokens are only
 * recognised with parse_special; user-defined ones always. */
static int partition(const struct eng_tok *t, const char *text, size_t len,
                     bool parse_special, struct fragv *out)
{
    struct fragv cur = {0}, next = {0};
    int rc = 0;
    if (len && (rc = frag_push(&cur, (struct frag){-1, 0, len})))
        goto done;
    for (size_t s = 0; s < t->n_special && cur.n; s++) {
        int32_t id = t->special[s];
        if (!parse_special && (t->attr[id] & (ENG_TOKA_CONTROL | ENG_TOKA_UNKNOWN)))
            continue;
        const char *st = t->text + t->text_off[id];
        size_t sn = t->text_len[id];
        next.n = 0;
        for (size_t i = 0; i < cur.n; i++) {
            struct frag f = cur.v[i];
            if (f.id >= 0) {
                if ((rc = frag_push(&next, f)))
                    goto done;
                continue;
            }
            size_t pos = f.off, end = f.off + f.len;
            const char *m;
            while ((m = find_bytes(text + pos, end - pos, st, sn)) != NULL) {
                size_t mo = (size_t)(m - text);
                if (mo > pos && (rc = frag_push(&next, (struct frag){-1, pos, mo - pos})))
                    goto done;
                if ((rc = frag_push(&next, (struct frag){id, 0, 0})))
                    goto done;
                pos = mo + sn;
            }
            if (pos < end && (rc = frag_push(&next, (struct frag){-1, pos, end - pos})))
                goto done;
        }
        struct fragv tmp = cur;
        cur = next;
        next = tmp;
    }
    *out = cur;
    cur.v = NULL;
done:
    free(cur.v);
    free(next.v);
    return rc;
}

int64_t eng_tok_encode(const struct eng_tok *t, const char *text, size_t len,
                       bool add_special, bool parse_special, int32_t *ids,
                       size_t cap)
{
    struct fragv frags = {0};
    struct ivec out = {0};
    int rc;

    if (!t || (!text && len))
        return LORE_EINVAL;
    if (len > (size_t)INT32_MAX)
        return LORE_ELIMIT;
    if ((rc = partition(t, text, len, parse_special, &frags)))
        goto done;

    if (add_special && (t->kind == ENG_TOK_WPM || t->add_bos) &&
        (rc = ivec_push(&out, t->bos)))
        goto done;
    bool prev_special = true;   /* SPM: prefix a space to the first text, and after specials */
    for (size_t i = 0; i < frags.n; i++) {
        const struct frag *f = &frags.v[i];
        if (f->id >= 0) {
            rc = ivec_push(&out, f->id);
            prev_special = true;
        } else if (t->kind == ENG_TOK_SPM) {
            rc = tok_spm_encode(t, text + f->off, f->len,
                                t->add_space_prefix && prev_special, &out);
            prev_special = false;
        } else if (t->kind == ENG_TOK_BPE) {
            rc = tok_bpe_encode(t, text + f->off, f->len, &out);
        } else {
            rc = tok_wpm_encode(t, text + f->off, f->len, &out);
        }
        if (rc)
            goto done;
    }
    if (add_special) {
        if (t->kind == ENG_TOK_WPM)
            rc = ivec_push(&out, t->sep);
        else if (t->add_eos)
            rc = ivec_push(&out, t->eos);
        if (rc)
            goto done;
    }
    if (ids && cap && out.n)
        memcpy(ids, out.v, (out.n < cap ? out.n : cap) * sizeof *ids);
done:
    free(frags.v);
    free(out.v);
    return rc ? rc : (int64_t)out.n;
}

/* ---- decoding --------------------------------------------------------------- */

/* Appends to buf (capacity cap) at *len, counting bytes that do not fit. */
static void put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len < cap) {
        size_t k = cap - *len < n ? cap - *len : n;
        memcpy(buf + *len, s, k);
    }
    *len += n;
}

int64_t eng_tok_piece(const struct eng_tok *t, int32_t id, bool special,
                      char *buf, size_t cap)
{
    if (!t || id < 0 || id >= t->n_vocab)
        return LORE_EINVAL;
    const char *s = t->text + t->text_off[id];
    size_t n = t->text_len[id], len = 0;
    int a = t->attr[id];

    if (a & (ENG_TOKA_CONTROL | ENG_TOKA_UNKNOWN)) {
        if (special)
            put(buf, cap, &len, s, n);
        return (int64_t)len;
    }
    if (a & ENG_TOKA_USER) {
        put(buf, cap, &len, s, n);
        return (int64_t)len;
    }
    if (t->kind == ENG_TOK_SPM && (a & ENG_TOKA_BYTE)) {
        unsigned v = 0;
        if (n == 6 && sscanf(s, "<0x%2X>", &v) == 1) {
            char c = (char)v;
            put(buf, cap, &len, &c, 1);
        }
        return (int64_t)len;
    }
    if (!(a & ENG_TOKA_NORMAL))
        return 0;
    if (t->kind == ENG_TOK_BPE) {
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            i += tok_utf8_next(s + i, n - i, &cp);
            if (cp < 324 && t->cp_byte_ok[cp]) {
                char c = (char)t->cp_byte[cp];
                put(buf, cap, &len, &c, 1);
            } else {
                char u[4];
                put(buf, cap, &len, u, (size_t)lore_utf8_encode(cp, u));
            }
        }
        return (int64_t)len;
    }
    /* SPM and WordPiece: U+2581 "▁" stands for a space */
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
            put(buf, cap, &len, " ", 1);
            i += 3;
        } else {
            put(buf, cap, &len, s + i, 1);
            i++;
        }
    }
    return (int64_t)len;
}

/* Hugging Face's clean_up_tokenization: no space before . , ! ? and before
 * 's 'm 're 've; in place, returns the new length. */
static size_t clean_spaces(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' && i + 1 < n) {
            char x = s[i + 1];
            if (x == '.' || x == ',' || x == '!' || x == '?')
                continue;
            if (x == '\'' && i + 2 < n) {
                char y = s[i + 2], z = i + 3 < n ? s[i + 3] : 0;
                if (y == 's' || y == 'm' || (y == 'r' && z == 'e') || (y == 'v' && z == 'e'))
                    continue;
            }
        }
        s[o++] = s[i];
    }
    return o;
}

int64_t eng_tok_decode(const struct eng_tok *t, const int32_t *ids, size_t n,
                       bool skip_special, char *buf, size_t cap)
{
    struct lore_buf b;
    char tmp[256];
    bool first = true;
    if (!t || (!ids && n))
        return LORE_EINVAL;
    lore_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        int64_t k = eng_tok_piece(t, ids[i], !skip_special, tmp, sizeof tmp);
        if (k < 0) {
            lore_buf_release(&b);
            return k;
        }
        const char *p = tmp;
        char *big = NULL;
        if ((size_t)k > sizeof tmp) {
            big = malloc((size_t)k);
            if (!big) {
                lore_buf_release(&b);
                return LORE_ENOMEM;
            }
            eng_tok_piece(t, ids[i], !skip_special, big, (size_t)k);
            p = big;
        }
        /* drop the space the encoder put before the first word */
        if (first && k > 0) {
            if (skip_special && p[0] == ' ' &&
                (t->kind == ENG_TOK_WPM || (t->kind == ENG_TOK_SPM && t->add_space_prefix))) {
                p++;
                k--;
            }
            first = false;
        }
        int rc = lore_buf_append(&b, p, (size_t)k);
        free(big);
        if (rc) {
            lore_buf_release(&b);
            return rc;
        }
    }
    size_t len = b.len;
    if (t->clean_spaces && len)
        len = clean_spaces(b.data, len);
    if (cap) {
        size_t k = len < cap ? len : cap - 1;
        if (k)
            memcpy(buf, b.data, k);
        buf[k] = 0;
    }
    lore_buf_release(&b);
    return (int64_t)len;
}

/* ---- accessors --------------------------------------------------------------- */

int32_t eng_tok_n_vocab(const struct eng_tok *t) { return t->n_vocab; }
enum eng_tok_kind eng_tok_kind(const struct eng_tok *t) { return t->kind; }
int32_t eng_tok_bos(const struct eng_tok *t) { return t->bos; }
int32_t eng_tok_eos(const struct eng_tok *t) { return t->eos; }
int32_t eng_tok_eot(const struct eng_tok *t) { return t->eot; }
int32_t eng_tok_unk(const struct eng_tok *t) { return t->unk; }
int32_t eng_tok_sep(const struct eng_tok *t) { return t->sep; }
int32_t eng_tok_pad(const struct eng_tok *t) { return t->pad; }
bool eng_tok_add_bos(const struct eng_tok *t) { return t->add_bos; }
bool eng_tok_add_eos(const struct eng_tok *t) { return t->add_eos; }
const char *eng_tok_model_name(const struct eng_tok *t) { return t->model; }
const char *eng_tok_pre_name(const struct eng_tok *t) { return t->pre; }

bool eng_tok_is_eog(const struct eng_tok *t, int32_t id)
{
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return true;
    return false;
}

int eng_tok_attr(const struct eng_tok *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? t->attr[id] : 0;
}

const char *eng_tok_text(const struct eng_tok *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? t->text + t->text_off[id] : NULL;
}

int32_t eng_tok_find(const struct eng_tok *t, const char *text, size_t len)
{
    return tok_lookup(t, text, len);
}

/* ---- chat templates -------------------------------------------------------- */

static bool has(const char *s, size_t n, const char *needle)
{
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

enum eng_chat_family eng_chat_template_family(const char *s, size_t n)
{
    if (!s || !n)
        return ENG_CHAT_CHATML;
    if (has(s, n, "<|im_start|>"))
        return ENG_CHAT_CHATML;
    if (has(s, n, "<|start_header_id|>") && has(s, n, "<|end_header_id|>"))
        return ENG_CHAT_LLAMA3;
    if (has(s, n, "<start_of_turn>"))
        return ENG_CHAT_GEMMA;
    if (has(s, n, "<|assistant|>") && has(s, n, "<|end|>"))
        return ENG_CHAT_PHI3;
    if (has(s, n, "[INST]"))
        return has(s, n, "<<SYS>>") ? ENG_CHAT_LLAMA2 : ENG_CHAT_MISTRAL;
    return ENG_CHAT_CHATML;
}

const char *eng_chat_family_name(enum eng_chat_family f)
{
    switch (f) {
    case ENG_CHAT_CHATML: return "chatml";
    case ENG_CHAT_LLAMA3: return "llama3";
    case ENG_CHAT_LLAMA2: return "llama2";
    case ENG_CHAT_GEMMA: return "gemma";
    case ENG_CHAT_PHI3: return "phi3";
    case ENG_CHAT_MISTRAL: return "mistral";
    }
    return "chatml";
}

enum eng_chat_family eng_gguf_chat_family(const struct eng_gguf *g)
{
    const char *s;
    size_t n;
    if (eng_gguf_get_str(g, "tokenizer.chat_template", &s, &n, NULL))
        return ENG_CHAT_CHATML;
    return eng_chat_template_family(s, n);
}
