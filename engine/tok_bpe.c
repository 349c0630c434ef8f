/*
 * tok_bpe.c — byte-level BPE (tokenizer.ggml.model "gpt2"): GPT-2, Qwen2,
 * Llama 3, SmolLM and relatives.
 *
 * 1. Pre-tokenize: the regexes named by tokenizer.ggml.pre split the text
 *    into words. They run through PCRE2 with UTF and UCP, one after the
 *    other, each on the pieces the previous one produced; text a regex does
 *    not match stays a piece of its own (llama.cpp's rule).
 * 2. Byte-encode: every byte of a word becomes a printable code point
 *    (GPT-2's bytes_to_unicode), so "Ġ" stands for a space.
 * 3. Merge: the adjacent pair with the lowest merge rank is merged until no
 *    pair has a rank (ties: leftmost). With ignore_merges (Llama 3), a word
 *    that is already a token is taken whole.
 *
 * The merge table is a hash from the (left, right) strings to the rank.
 */
#include "engine/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LORE_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

/* ---- pre-tokenizers ------------------------------------------------------------ */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3 "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|" \
    "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|" \
    "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_PORO " ?[^(\\s|.,!?…。，、।۔،)]+"
#define RE_CJK "[一-龥ࠀ-一가-퟿]+"

enum { F_IGNORE_MERGES = 1, F_ADD_BOS = 2, F_NO_CLEAN = 4, F_NO_BOS = 8 };

struct pre_def {
    const char *names;          /* space-separated tokenizer.ggml.pre values */
    int flags;
    const char *re[TOK_MAX_REGEX];
};

static const struct pre_def k_pre[] = {
    {"gpt-2 phi-2 jina-es jina-de gigachat jina-v1-en jina-v2-es jina-v2-de "
     "jina-v2-code roberta-bpe mpt olmo jais trillion",
     0, {RE_GPT2}},
    /* "default" and a missing pre: llama.cpp's fallback set */
    {"default", 0,
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {"llama3 llama-v3 llama-bpe falcon3", F_IGNORE_MERGES | F_ADD_BOS, {RE_LLAMA3}},
    {"dbrx smaug-bpe", 0, {RE_LLAMA3}},
    {"chatglm-bpe", F_NO_BOS, {RE_LLAMA3}},
    {"qwen2 deepseek-r1-qwen megrez", F_NO_CLEAN, {RE_QWEN2}},
    {"stablelm2", 0, {RE_QWEN2}},
    {"starcoder refact codeshell exaone minerva-7b", 0, {"\\p{N}", RE_GPT2}},
    {"command-r smollm", F_NO_CLEAN, {"\\p{N}", RE_GPT2}},
    {"falcon", 0, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {"deepseek-coder", 0,
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}},
    {"poro-chat", F_NO_CLEAN, {RE_PORO}},
    {"bloom gpt3-finnish", 0, {RE_PORO}},
    {"viking", F_NO_CLEAN, {RE_PORO, "\\p{N}"}},
    /* Mistral Nemo's original pattern (PCRE2 has the \p{Lu}… classes) */
    {"tekken", F_IGNORE_MERGES | F_ADD_BOS | F_NO_CLEAN,
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
      "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
};

static const struct pre_def *find_pre(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return &k_pre[1];
    for (size_t i = 0; i < sizeof k_pre / sizeof k_pre[0]; i++) {
        const char *p = k_pre[i].names;
        while (*p) {
            size_t w = strcspn(p, " ");
            if (w == n && memcmp(p, name, n) == 0)
                return &k_pre[i];
            p += w;
            p += *p == ' ';
        }
    }
    return NULL;
}

/* ---- merges ------------------------------------------------------------------- */

static uint64_t hash_pair(const char *l, size_t ll, const char *r, size_t rl)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < ll; i++)
        h = (h ^ (unsigned char)l[i]) * 1099511628211ull;
    h = (h ^ 0x100) * 1099511628211ull;
    for (size_t i = 0; i < rl; i++)
        h = (h ^ (unsigned char)r[i]) * 1099511628211ull;
    return h;
}

int32_t tok_merge_rank(const struct eng_tok *t, const char *l, size_t ll,
                       const char *r, size_t rl)
{
    if (!t->merge_map)
        return -1;
    uint64_t i = hash_pair(l, ll, r, rl) & (t->merge_cap - 1);
    for (;;) {
        int32_t k = t->merge_map[i];
        if (k < 0)
            return -1;
        const struct tok_merge *m = &t->merges[k];
        if (m->l_len == ll && m->r_len == rl &&
            memcmp(t->merge_text + m->l_off, l, ll) == 0 &&
            memcmp(t->merge_text + m->r_off, r, rl) == 0)
            return k;
        i = (i + 1) & (t->merge_cap - 1);
    }
}

static int load_merges(struct eng_tok *t, const struct eng_gguf *g, struct lore_err *err)
{
    const char *fname = eng_gguf_name(g);
    int64_t ki;
    int et;
    uint64_t n, total = 0;
    int rc = eng_gguf_get_arr(g, "tokenizer.ggml.merges", &ki, &et, &n, err);
    if (rc == LORE_ENOENT)
        return lore_err_set(err, LORE_EFORMAT, "'%s': BPE tokenizer without merges "
                            "(tokenizer.ggml.merges)", fname);
    if (rc)
        return rc;
    if (et != ENG_GGUF_STR || n > INT32_MAX / 4)
        return lore_err_set(err, LORE_EFORMAT, "'%s': tokenizer.ggml.merges is not a "
                            "string array", fname);
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        eng_gguf_arr_str(g, ki, i, &len);
        total += len;
    }
    if (total > UINT32_MAX)
        return lore_err_set(err, LORE_ELIMIT, "'%s': merges are too large", fname);
    uint64_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    t->merge_text = malloc((size_t)total + 1);
    t->merges = malloc((n ? n : 1) * sizeof *t->merges);
    t->merge_map = malloc(cap * sizeof *t->merge_map);
    if (!t->merge_text || !t->merges || !t->merge_map)
        return lore_err_set(err, LORE_ENOMEM, "out of memory loading merges");
    memset(t->merge_map, 0xff, cap * sizeof *t->merge_map);
    t->merge_cap = cap;

    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        const char *s = eng_gguf_arr_str(g, ki, i, &len);
        memcpy(t->merge_text + off, s, len);
        /* "left right", split at the first space after the first byte */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        struct tok_merge m = {off, 0, off, 0};
        if (sp) {
            m.l_len = (uint32_t)(sp - s);
            m.r_off = off + m.l_len + 1;
            m.r_len = (uint32_t)(len - m.l_len - 1);
        }
        off += (uint32_t)len;
        /* a repeated pair keeps its first (best) rank; the later one is unused */
        const char *l = t->merge_text + m.l_off, *r = t->merge_text + m.r_off;
        if (tok_merge_rank(t, l, m.l_len, r, m.r_len) >= 0) {
            t->merges[i] = m;
            continue;
        }
        t->merges[i] = m;
        uint64_t h = hash_pair(l, m.l_len, r, m.r_len) & (cap - 1);
        while (t->merge_map[h] >= 0)
            h = (h + 1) & (cap - 1);
        t->merge_map[h] = (int32_t)i;
    }
    t->n_merges = (uint32_t)n;
    return 0;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes map to U+0100.. in byte order. */
static void init_byte_map(struct eng_tok *t)
{
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        t->byte_cp[b] = keep ? (uint32_t)b : next++;
        t->cp_byte[t->byte_cp[b]] = (uint8_t)b;
        t->cp_byte_ok[t->byte_cp[b]] = true;
    }
}

int tok_bpe_init(struct eng_tok *t, const struct eng_gguf *g, struct lore_err *err)
{
    const char *fname = eng_gguf_name(g);
    const struct pre_def *pd = find_pre(t->pre);
    if (!pd) {
        return lore_err_set(err, LORE_EUNSUPPORTED,
                            "'%s': pre-tokenizer '%s' is not supported", fname, t->pre);
    }
#ifndef LORE_HAVE_PCRE2
    return lore_err_set(err, LORE_EUNSUPPORTED,
                        "'%s': byte-level BPE needs PCRE2, and lore was built without it",
                        fname);
#else
    int rc = load_merges(t, g, err);
    if (rc)
        return rc;
    init_byte_map(t);
    t->ignore_merges = (pd->flags & F_IGNORE_MERGES) != 0;
    t->add_bos = (pd->flags & F_ADD_BOS) != 0;
    t->clean_spaces = !(pd->flags & F_NO_CLEAN);
    if (pd->flags & F_NO_BOS)
        t->bos = -1;
    for (int i = 0; i < TOK_MAX_REGEX && pd->re[i]; i++) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pd->re[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return lore_err_set(err, LORE_EINTERNAL,
                                "pre-tokenizer '%s' regex %d does not compile: %s",
                                t->pre, i, (const char *)msg);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  /* optional speed-up */
        t->re[t->n_re++] = re;
    }
    return 0;
#endif
}

void tok_bpe_release(struct eng_tok *t)
{
#ifdef LORE_HAVE_PCRE2
    for (int i = 0; i < t->n_re; i++)
        pcre2_code_free(t->re[i]);
#endif
    t->n_re = 0;
    free(t->merge_text);
    free(t->merges);
    free(t->merge_map);
    t->merge_text = NULL;
    t->merges = NULL;
    t->merge_map = NULL;
}

#ifdef LORE_HAVE_PCRE2

/* ---- splitting ------------------------------------------------------------------- */

/* Pieces are code-point ranges [start, start+len). */
struct span {
    uint32_t start, len;
};

struct spanv {
    struct span *v;
    size_t n, cap;
};

static int span_push(struct spanv *a, uint32_t start, uint32_t len)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        struct span *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return LORE_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = (struct span){start, len};
    return 0;
}

/* The regex subject: valid UTF-8 of the code points, with the byte offset
 * of each code point (boff[n] = total) and the code point at each byte. */
struct subject {
    char *s;
    uint32_t *boff;      /* [n_cp + 1] */
    uint32_t *cp_at;     /* [bytes + 1]: code point index of a byte offset */
};

static int split(const struct eng_tok *t, const struct subject *sj, uint32_t n_cp,
                 struct spanv *out)
{
    struct spanv cur = {0}, next = {0};
    int rc = 0;
    pcre2_match_data *md = NULL;
    if (n_cp == 0)
        goto done;
    if ((rc = span_push(&cur, 0, n_cp)))
        goto done;
    for (int r = 0; r < t->n_re; r++) {
        const pcre2_code *re = t->re[r];
        md = pcre2_match_data_create_from_pattern(re, NULL);
        if (!md) {
            rc = LORE_ENOMEM;
            goto done;
        }
        next.n = 0;
        for (size_t k = 0; k < cur.n; k++) {
            uint32_t c0 = cur.v[k].start, c1 = c0 + cur.v[k].len;
            const char *base = sj->s + sj->boff[c0];
            PCRE2_SIZE blen = sj->boff[c1] - sj->boff[c0], pos = 0, prev = 0;
            while (pos < blen) {
                int m = pcre2_match(re, (PCRE2_SPTR)base, blen, pos, PCRE2_NO_UTF_CHECK,
                                    md, NULL);
                if (m == PCRE2_ERROR_NOMATCH)
                    break;      /* the rest is one piece */
                if (m < 0) {    /* a PCRE2 resource limit: never split silently wrong */
                    rc = LORE_ELIMIT;
                    goto done;
                }
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                if (ov[1] == ov[0]) {   /* empty match: step one character */
                    pos = ov[0] + 1;
                    while (pos < blen && ((unsigned char)base[pos] & 0xc0) == 0x80)
                        pos++;
                    continue;
                }
                uint32_t a = sj->cp_at[sj->boff[c0] + ov[0]];
                uint32_t b = sj->cp_at[sj->boff[c0] + ov[1]];
                uint32_t p = sj->cp_at[sj->boff[c0] + prev];
                if (a > p && (rc = span_push(&next, p, a - p)))
                    goto done;
                if ((rc = span_push(&next, a, b - a)))
                    goto done;
                prev = pos = ov[1];
            }
            uint32_t p = sj->cp_at[sj->boff[c0] + prev];
            if (p < c1 && (rc = span_push(&next, p, c1 - p)))
                goto done;
        }
        pcre2_match_data_free(md);
        md = NULL;
        struct spanv tmp = cur;
        cur = next;
        next = tmp;
    }
    *out = cur;
    cur.v = NULL;
done:
    pcre2_match_data_free(md);
    free(cur.v);
    free(next.v);
    return rc;
}

/* ---- merging --------------------------------------------------------------------- */

static int try_pair(const struct eng_tok *t, const char *w, const struct tok_sym *sy,
                    int32_t l, int32_t r, struct tok_heap *h)
{
    if (l < 0 || r < 0)
        return 0;
    int32_t rank = tok_merge_rank(t, w + sy[l].off, sy[l].n, w + sy[r].off, sy[r].n);
    if (rank < 0)
        return 0;
    return tok_heap_push(h, (struct tok_bigram){l, r, (double)rank, sy[l].n + sy[r].n});
}

/* BPE over one byte-encoded word w[0..n); appends ids. sy has room for n. */
static int merge_word(const struct eng_tok *t, const char *w, size_t n,
                      struct tok_sym *sy, struct tok_heap *h, struct ivec *out)
{
    int32_t ns = 0;
    int rc;
    h->n = 0;
    if (t->ignore_merges && tok_lookup(t, w, n) >= 0) {
        sy[0] = (struct tok_sym){-1, -1, 0, (uint32_t)n};
        ns = 1;
    } else {
        for (size_t off = 0; off < n; ns++) {
            size_t cl = tok_utf8_len((unsigned char)w[off]);
            if (cl > n - off)
                cl = n - off;
            sy[ns] = (struct tok_sym){ns - 1, -1, (uint32_t)off, (uint32_t)cl};
            off += cl;
            if (off < n)
                sy[ns].next = ns + 1;
        }
    }
    for (int32_t i = 1; i < ns; i++)
        if ((rc = try_pair(t, w, sy, i - 1, i, h)))
            return rc;
    while (h->n) {
        struct tok_bigram b = tok_heap_pop(h);
        struct tok_sym *l = &sy[b.left], *r = &sy[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sy[r->next].prev = b.left;
        if ((rc = try_pair(t, w, sy, l->prev, b.left, h)) ||
            (rc = try_pair(t, w, sy, b.left, l->next, h)))
            return rc;
    }
    for (int32_t i = 0; i < ns; i++) {
        if (sy[i].n == 0)
            continue;
        int32_t id = tok_lookup(t, w + sy[i].off, sy[i].n);
        if (id >= 0) {
            if ((rc = ivec_push(out, id)))
                return rc;
            continue;
        }
        /* not a token: try each byte of it as a one-byte token */
        for (uint32_t j = 0; j < sy[i].n; j++) {
            id = tok_lookup(t, w + sy[i].off + j, 1);
            if (id >= 0 && (rc = ivec_push(out, id)))
                return rc;
        }
    }
    return 0;
}

/* UTF-8 of any code point up to 0x1FFFFF without sanitising (llama.cpp
 * byte-encodes whatever the lenient decoder produced). */
static int raw_utf8(uint32_t c, unsigned char *o)
{
    if (c < 0x80) { o[0] = (unsigned char)c; return 1; }
    if (c < 0x800) { o[0] = (unsigned char)(0xc0 | c >> 6); o[1] = (unsigned char)(0x80 | (c & 0x3f)); return 2; }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xe0 | c >> 12);
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | ((c >> 18) & 0x07));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (c & 0x3f));
    return 4;
}

int tok_bpe_encode(const struct eng_tok *t, const char *text, size_t len,
                   struct ivec *out)
{
    struct subject sj = {0};
    struct spanv words = {0};
    struct tok_heap h = {0};
    uint32_t *cps = NULL;
    char *w = NULL;
    struct tok_sym *sy = NULL;
    uint32_t n_cp = 0;
    int rc = 0;

    cps = malloc((len + 1) * sizeof *cps);
    sj.s = malloc(4 * len + 1);
    sj.boff = malloc((len + 1) * sizeof *sj.boff);
    sj.cp_at = malloc((4 * len + 1) * sizeof *sj.cp_at);
    if (!cps || !sj.s || !sj.boff || !sj.cp_at) {
        rc = LORE_ENOMEM;
        goto done;
    }
    uint32_t bo = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += tok_utf8_next(text + i, len - i, &c);
        cps[n_cp] = c;
        sj.boff[n_cp] = bo;
        int k = lore_utf8_encode(c, sj.s + bo);
        for (int j = 0; j < k; j++)
            sj.cp_at[bo + (uint32_t)j] = n_cp;
        bo += (uint32_t)k;
        n_cp++;
    }
    sj.boff[n_cp] = bo;
    sj.cp_at[bo] = n_cp;

    if ((rc = split(t, &sj, n_cp, &words)))
        goto done;

    /* buffers for the longest word: one symbol per original byte, and each
     * byte becomes a code point of at most 2 bytes */
    size_t maxb = 0;
    for (size_t k = 0; k < words.n; k++) {
        size_t wb = 0;
        unsigned char u[4];
        for (uint32_t c = words.v[k].start; c < words.v[k].start + words.v[k].len; c++)
            wb += (size_t)raw_utf8(cps[c], u);
        if (wb > maxb)
            maxb = wb;
    }
    w = malloc(2 * maxb + 1);
    sy = malloc((maxb + 1) * sizeof *sy);
    if (!w || !sy) {
        rc = LORE_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < words.n; k++) {
        size_t wn = 0;
        for (uint32_t c = words.v[k].start; c < words.v[k].start + words.v[k].len; c++) {
            unsigned char u[4];
            int ul = raw_utf8(cps[c], u);
            for (int j = 0; j < ul; j++)
                wn += (size_t)lore_utf8_encode(t->byte_cp[u[j]], w + wn);
        }
        if (wn && (rc = merge_word(t, w, wn, sy, &h, out)))
            goto done;
    }
done:
    free(cps);
    free(sj.s);
    free(sj.boff);
    free(sj.cp_at);
    free(words.v);
    free(h.v);
    free(w);
    free(sy);
    return rc;
}

#else

int tok_bpe_encode(const struct eng_tok *t, const char *text, size_t len,
                   struct ivec *out)
{
    (void)t, (void)text, (void)len, (void)out;
    return LORE_EUNSUPPORTED;
}

#endif
