/*
 * gguf.c — the GGUF reader: maps a model file read-only and builds a
 * validated index of its metadata and tensors, so nothing later has to trust
 * a count, length or offset taken from the file.
 *
 * Layout (GGUF v2/v3, all little-endian):
 *
 *   "GGUF"  u32 version  u64 n_tensors  u64 n_kv
 *   n_kv ×      { str key, u32 type, value }
 *   n_tensors × { str name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
 *   padding to `general.alignment` (default 32)
 *   data section: tensor i at data_start + offset_i
 *
 *   str   = u64 length + bytes (no NUL)
 *   value = scalar | str | { u32 elem_type, u64 n, n × elem }   (arrays do not nest)
 *
 * Every read goes through a bounds-checked cursor; every count is compared
 * with the bytes that remain before anything is allocated for it, so a
 * hostile file can neither crash the reader nor make it allocate much more
 * than its own size. Key and tensor lookups use small hash tables, which
 * also catch duplicates.
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian values with memcpy: big-endian hosts need byte swaps"
#endif

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_KEY_LEN 65535
#define GGUF_MAX_NAME_LEN 1024
#define GGUF_MAX_COUNT (1u << 20)   /* keys or tensors: real files have < 10k */

/* ---- GGML type table: elements per block, bytes per block --------------- */

struct type_desc {
    const char *name;
    uint32_t blck;
    uint32_t size;
};

static const struct type_desc k_types[ENG_GGML_TYPE_COUNT] = {
    [ENG_GGML_F32] = {"F32", 1, 4},
    [ENG_GGML_F16] = {"F16", 1, 2},
    [ENG_GGML_Q4_0] = {"Q4_0", 32, 18},
    [ENG_GGML_Q4_1] = {"Q4_1", 32, 20},
    [ENG_GGML_Q5_0] = {"Q5_0", 32, 22},
    [ENG_GGML_Q5_1] = {"Q5_1", 32, 24},
    [ENG_GGML_Q8_0] = {"Q8_0", 32, 34},
    [ENG_GGML_Q8_1] = {"Q8_1", 32, 36},
    [ENG_GGML_Q2_K] = {"Q2_K", 256, 84},
    [ENG_GGML_Q3_K] = {"Q3_K", 256, 110},
    [ENG_GGML_Q4_K] = {"Q4_K", 256, 144},
    [ENG_GGML_Q5_K] = {"Q5_K", 256, 176},
    [ENG_GGML_Q6_K] = {"Q6_K", 256, 210},
    [ENG_GGML_Q8_K] = {"Q8_K", 256, 292},
    [ENG_GGML_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [ENG_GGML_IQ2_XS] = {"IQ2_XS", 256, 74},
    [ENG_GGML_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [ENG_GGML_IQ1_S] = {"IQ1_S", 256, 50},
    [ENG_GGML_IQ4_NL] = {"IQ4_NL", 32, 18},
    [ENG_GGML_IQ3_S] = {"IQ3_S", 256, 110},
    [ENG_GGML_IQ2_S] = {"IQ2_S", 256, 82},
    [ENG_GGML_IQ4_XS] = {"IQ4_XS", 256, 136},
    [ENG_GGML_I8] = {"I8", 1, 1},
    [ENG_GGML_I16] = {"I16", 1, 2},
    [ENG_GGML_I32] = {"I32", 1, 4},
    [ENG_GGML_I64] = {"I64", 1, 8},
    [ENG_GGML_F64] = {"F64", 1, 8},
    [ENG_GGML_IQ1_M] = {"IQ1_M", 256, 56},
    [ENG_GGML_BF16] = {"BF16", 1, 2},
    [ENG_GGML_TQ1_0] = {"TQ1_0", 256, 54},
    [ENG_GGML_TQ2_0] = {"TQ2_0", 256, 66},
};

const char *eng_ggml_type_name(uint32_t type)
{
    if (type < ENG_GGML_TYPE_COUNT && k_types[type].name)
        return k_types[type].name;
    return "?";
}

uint32_t eng_ggml_block_size(uint32_t type)
{
    return type < ENG_GGML_TYPE_COUNT ? k_types[type].blck : 0;
}

uint32_t eng_ggml_type_size(uint32_t type)
{
    return type < ENG_GGML_TYPE_COUNT ? k_types[type].size : 0;
}

/* Byte size of one element of a metadata scalar type; 0 for str/arr/bad. */
static size_t scalar_size(uint32_t t)
{
    switch (t) {
    case ENG_GGUF_U8: case ENG_GGUF_I8: case ENG_GGUF_BOOL: return 1;
    case ENG_GGUF_U16: case ENG_GGUF_I16: return 2;
    case ENG_GGUF_U32: case ENG_GGUF_I32: case ENG_GGUF_F32: return 4;
    case ENG_GGUF_U64: case ENG_GGUF_I64: case ENG_GGUF_F64: return 8;
    default: return 0;
    }
}

static const char *gguf_type_name(uint32_t t)
{
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---- the handle ------------------------------------------------------------- */

struct kv {
    char *key;              /* NUL-terminated copy */
    uint32_t type;
    uint32_t arr_type;      /* arrays only */
    uint64_t n;             /* array length, or string length */
    const uint8_t *val;     /* scalar bytes, string bytes, or first array element */
    uint64_t *str_offs;     /* string arrays: offset of element j's length prefix from base */
};

struct tensor {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[ENG_GGUF_MAX_DIMS];
    uint64_t n_el;
    uint64_t rel_off;       /* from the data section start */
    uint64_t size;
};

/* Open addressing over indices, keyed by NUL-terminated strings. */
struct strmap {
    uint64_t cap;           /* power of two */
    int64_t *slot;          /* -1 empty */
};

struct eng_gguf {
    char *name;
    const uint8_t *base;
    uint64_t size;
    int mapped;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_off;
    int64_t n_kv;
    struct kv *kv;
    int64_t n_t;
    struct tensor *t;
    struct strmap kmap, tmap;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int strmap_init(struct strmap *m, uint64_t n)
{
    uint64_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    m->slot = malloc(cap * sizeof *m->slot);
    if (!m->slot)
        return LORE_ENOMEM;
    memset(m->slot, 0xff, cap * sizeof *m->slot);
    m->cap = cap;
    return 0;
}

/* Looks up s; names(ctx, idx) gives the string stored for an index. Returns
 * the index or -1; *slot_out gets the slot where s would go. */
static int64_t strmap_get(const struct strmap *m, const char *s,
                          const char *(*names)(const void *, int64_t),
                          const void *ctx, uint64_t *slot_out)
{
    if (!m->slot)
        return -1;
    uint64_t i = hash_str(s) & (m->cap - 1);
    for (;;) {
        int64_t v = m->slot[i];
        if (v < 0) {
            if (slot_out)
                *slot_out = i;
            return -1;
        }
        if (strcmp(names(ctx, v), s) == 0)
            return v;
        i = (i + 1) & (m->cap - 1);
    }
}

static const char *kv_name(const void *ctx, int64_t i)
{
    return ((const struct eng_gguf *)ctx)->kv[i].key;
}

static const char *t_name(const void *ctx, int64_t i)
{
    return ((const struct eng_gguf *)ctx)->t[i].name;
}

/* ---- bounds-checked cursor ------------------------------------------------ */

struct rd {
    const uint8_t *p;
    uint64_t size;
    uint64_t pos;
    const char *name;
    struct lore_err *err;
};

static int truncated(struct rd *r, const char *what)
{
    return lore_err_set(r->err, LORE_EFORMAT,
                        "'%s': file is truncated: %s at offset %" PRIu64
                        " extends past the end (%" PRIu64 " bytes)",
                        r->name, what, r->pos, r->size);
}

static int rd_bytes(struct rd *r, void *out, uint64_t n, const char *what)
{
    if (n > r->size - r->pos)
        return truncated(r, what);
    memcpy(out, r->p + r->pos, (size_t)n);
    r->pos += n;
    return 0;
}

static int rd_u32(struct rd *r, uint32_t *v, const char *what)
{
    return rd_bytes(r, v, 4, what);
}

static int rd_u64(struct rd *r, uint64_t *v, const char *what)
{
    return rd_bytes(r, v, 8, what);
}

/* Reads a GGUF string header, checks its bytes are present, skips them. */
static int rd_str(struct rd *r, const uint8_t **s, uint64_t *len, const char *what)
{
    int rc = rd_u64(r, len, what);
    if (rc)
        return rc;
    if (*len > r->size - r->pos) {
        return lore_err_set(r->err, LORE_EFORMAT,
                            "'%s': %s at offset %" PRIu64 " has length %" PRIu64
                            ", past the end of the file",
                            r->name, what, r->pos - 8, *len);
    }
    *s = r->p + r->pos;
    r->pos += *len;
    return 0;
}

static char *dup_n(const uint8_t *s, uint64_t n)
{
    char *d = malloc((size_t)n + 1);
    if (d) {
        memcpy(d, s, (size_t)n);
        d[n] = 0;
    }
    return d;
}

/* ---- parsing -------------------------------------------------------------- */

static int read_value(struct eng_gguf *g, struct rd *r, struct kv *kv)
{
    size_t esz;
    int rc;

    char what[160];
    snprintf(what, sizeof what, "value of key '%.100s'", kv->key);
    if (kv->type == ENG_GGUF_STR) {
        const uint8_t *s;
        rc = rd_str(r, &s, &kv->n, what);
        if (!rc)
            kv->val = s;
        return rc;
    }
    if (kv->type != ENG_GGUF_ARR) {
        esz = scalar_size(kv->type);
        if (!esz) {
            return lore_err_set(r->err, LORE_EFORMAT,
                                "'%s': key '%s' has unknown value type %" PRIu32,
                                g->name, kv->key, kv->type);
        }
        if (esz > r->size - r->pos)
            return truncated(r, what);
        kv->val = r->p + r->pos;
        r->pos += esz;
        return 0;
    }

    if ((rc = rd_u32(r, &kv->arr_type, what)) || (rc = rd_u64(r, &kv->n, what)))
        return rc;
    if (kv->arr_type == ENG_GGUF_ARR) {
        return lore_err_set(r->err, LORE_EUNSUPPORTED,
                            "'%s': key '%s' is an array of arrays (not supported)",
                            g->name, kv->key);
    }
    uint64_t left = r->size - r->pos;
    if (kv->arr_type == ENG_GGUF_STR) {
        if (kv->n > left / 8) {
            return lore_err_set(r->err, LORE_EFORMAT,
                                "'%s': key '%s' claims %" PRIu64
                                " strings, more than the file can hold",
                                g->name, kv->key, kv->n);
        }
        kv->val = r->p + r->pos;
        kv->str_offs = malloc((size_t)(kv->n ? kv->n : 1) * sizeof *kv->str_offs);
        if (!kv->str_offs)
            return lore_err_set(r->err, LORE_ENOMEM, "'%s': out of memory", g->name);
        for (uint64_t j = 0; j < kv->n; j++) {
            const uint8_t *s;
            uint64_t len;
            kv->str_offs[j] = r->pos;
            rc = rd_str(r, &s, &len, what);
            if (rc)
                return rc;
        }
        return 0;
    }
    esz = scalar_size(kv->arr_type);
    if (!esz) {
        return lore_err_set(r->err, LORE_EFORMAT,
                            "'%s': key '%s' is an array of unknown type %" PRIu32,
                            g->name, kv->key, kv->arr_type);
    }
    if (kv->n > left / esz) {
        return lore_err_set(r->err, LORE_EFORMAT,
                            "'%s': key '%s' claims %" PRIu64 " %s elements, past the "
                            "end of the file",
                            g->name, kv->key, kv->n, gguf_type_name(kv->arr_type));
    }
    kv->val = r->p + r->pos;
    r->pos += kv->n * esz;
    return 0;
}

static int read_kvs(struct eng_gguf *g, struct rd *r, uint64_t n_kv)
{
    int rc;
    /* smallest entry: 8-byte key length + 4-byte type + 1-byte value */
    if (n_kv > GGUF_MAX_COUNT || n_kv > (r->size - r->pos) / 13) {
        return lore_err_set(r->err, LORE_EFORMAT,
                            "'%s': metadata count %" PRIu64
                            " is more than the file can hold",
                            g->name, n_kv);
    }
    g->kv = calloc((size_t)(n_kv ? n_kv : 1), sizeof *g->kv);
    if (!g->kv || strmap_init(&g->kmap, n_kv))
        return lore_err_set(r->err, LORE_ENOMEM, "'%s': out of memory", g->name);
    for (uint64_t i = 0; i < n_kv; i++) {
        struct kv *kv = &g->kv[i];
        const uint8_t *k;
        uint64_t klen, slot = 0;
        if ((rc = rd_str(r, &k, &klen, "metadata key")))
            return rc;
        if (klen == 0 || klen > GGUF_MAX_KEY_LEN || memchr(k, 0, (size_t)klen)) {
            return lore_err_set(r->err, LORE_EFORMAT,
                                "'%s': metadata key %" PRIu64 " is empty, too long "
                                "or contains a NUL byte",
                                g->name, i);
        }
        kv->key = dup_n(k, klen);
        if (!kv->key)
            return lore_err_set(r->err, LORE_ENOMEM, "'%s': out of memory", g->name);
        g->n_kv = (int64_t)i + 1;  /* so close() frees what is filled */
        if (strmap_get(&g->kmap, kv->key, kv_name, g, &slot) >= 0) {
            return lore_err_set(r->err, LORE_EFORMAT, "'%s': duplicate key '%s'",
                                g->name, kv->key);
        }
        g->kmap.slot[slot] = (int64_t)i;
        if ((rc = rd_u32(r, &kv->type, "value type")))
            return rc;
        if ((rc = read_value(g, r, kv)))
            return rc;
    }
    return 0;
}

/* a*b with overflow detection (values are kept below 2^63). */
static int mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a && b > (uint64_t)INT64_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

static int read_tensors(struct eng_gguf *g, struct rd *r, uint64_t n_t)
{
    int rc;
    /* smallest info: name length 8 + n_dims 4 + one dim 8 + type 4 + offset 8 */
    if (n_t > GGUF_MAX_COUNT || n_t > (r->size - r->pos) / 32) {
        return lore_err_set(r->err, LORE_EFORMAT,
                            "'%s': tensor count %" PRIu64
                            " is more than the file can hold",
                            g->name, n_t);
    }
    g->t = calloc((size_t)(n_t ? n_t : 1), sizeof *g->t);
    if (!g->t || strmap_init(&g->tmap, n_t))
        return lore_err_set(r->err, LORE_ENOMEM, "'%s': out of memory", g->name);
    for (uint64_t i = 0; i < n_t; i++) {
        struct tensor *t = &g->t[i];
        const uint8_t *nm;
        uint64_t nlen, slot = 0;
        if ((rc = rd_str(r, &nm, &nlen, "tensor name")))
            return rc;
        if (nlen == 0 || nlen > GGUF_MAX_NAME_LEN || memchr(nm, 0, (size_t)nlen)) {
            return lore_err_set(r->err, LORE_EFORMAT,
                                "'%s': tensor %" PRIu64 " has an empty or invalid name "
                                "(length %" PRIu64 ")",
                                g->name, i, nlen);
        }
        t->name = dup_n(nm, nlen);
        if (!t->name)
            return lore_err_set(r->err, LORE_ENOMEM, "'%s': out of memory", g->name);
        g->n_t = (int64_t)i + 1;
        if (strmap_get(&g->tmap, t->name, t_name, g, &slot) >= 0) {
            return lore_err_set(r->err, LORE_EFORMAT, "'%s': duplicate tensor '%s'",
                                g->name, t->name);
        }
        g->tmap.slot[slot] = (int64_t)i;

        if ((rc = rd_u32(r, &t->n_dims, "tensor dimension count")))
            return rc;
        if (t->n_dims < 1 || t->n_dims > ENG_GGUF_MAX_DIMS) {
            return lore_err_set(r->err, LORE_EFORMAT,
                                "'%s': tensor '%s' has %" PRIu32
                                " dimensions (1 to 4 allowed)",
                                g->name, t->name, t->n_dims);
        }
        uint64_t nel = 1;
        for (uint32_t d = 0; d < ENG_GGUF_MAX_DIMS; d++) {
            t->ne[d] = 1;
            if (d < t->n_dims && (rc = rd_u64(r, &t->ne[d], "tensor shape")))
                return rc;
            if (t->ne[d] > (uint64_t)INT64_MAX || !mul_ok(nel, t->ne[d], &nel)) {
                return lore_err_set(r->err, LORE_EFORMAT,
                                    "'%s': tensor '%s' has an impossible shape "
                                    "(element count overflows)",
                                    g->name, t->name);
            }
        }
        t->n_el = nel;
        if ((rc = rd_u32(r, &t->type, "tensor type")) ||
            (rc = rd_u64(r, &t->rel_off, "tensor offset")))
            return rc;
        uint32_t bs = eng_ggml_block_size(t->type), ts = eng_ggml_type_size(t->type);
        if (!bs) {
            return lore_err_set(r->err, LORE_EUNSUPPORTED,
                                "'%s': tensor '%s' has unknown type %" PRIu32,
                                g->name, t->name, t->type);
        }
        if (t->ne[0] % bs) {
            return lore_err_set(r->err, LORE_EFORMAT,
                                "'%s': tensor '%s' row length %" PRIu64
                                " is not a multiple of the %s block size %" PRIu32,
                                g->name, t->name, t->ne[0], eng_ggml_type_name(t->type), bs);
        }
        uint64_t size = (t->ne[0] / bs) * ts;  /* ne[0] < 2^63, ts <= 292: may overflow */
        if (t->ne[0] / bs > (uint64_t)INT64_MAX / ts ||
            !mul_ok(size, t->ne[1], &size) || !mul_ok(size, t->ne[2], &size) ||
            !mul_ok(size, t->ne[3], &size)) {
            return lore_err_set(r->err, LORE_EFORMAT,
                                "'%s': tensor '%s' byte size overflows", g->name, t->name);
        }
        t->size = size;
    }
    return 0;
}

static int find_alignment(struct eng_gguf *g, struct lore_err *err)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = eng_gguf_find_key(g, "general.alignment");
    if (i < 0)
        return 0;
    const struct kv *kv = &g->kv[i];
    if (kv->type != ENG_GGUF_U32) {
        return lore_err_set(err, LORE_EFORMAT,
                            "'%s': general.alignment has type %s (u32 expected)",
                            g->name, gguf_type_name(kv->type));
    }
    uint32_t a;
    memcpy(&a, kv->val, 4);
    if (a == 0 || (a & (a - 1)) || a > (1u << 30)) {
        return lore_err_set(err, LORE_EFORMAT,
                            "'%s': general.alignment %" PRIu32
                            " is not a power of two",
                            g->name, a);
    }
    g->alignment = a;
    return 0;
}

static int parse(struct eng_gguf *g, struct lore_err *err)
{
    struct rd r = {g->base, g->size, 0, g->name, err};
    uint8_t magic[4];
    uint64_t n_t, n_kv;
    int rc;

    if (g->size < 24) {
        return lore_err_set(err, LORE_EFORMAT,
                            "'%s': too small to be a GGUF file (%" PRIu64 " bytes)",
                            g->name, g->size);
    }
    rd_bytes(&r, magic, 4, "magic");
    if (memcmp(magic, "GGUF", 4) != 0)
        return lore_err_set(err, LORE_EFORMAT, "'%s': not a GGUF file (bad magic)", g->name);
    rd_u32(&r, &g->version, "version");
    if (g->version == 0 || (g->version & 0xffff) == 0) {
        return lore_err_set(err, LORE_EUNSUPPORTED,
                            "'%s': big-endian GGUF files are not supported", g->name);
    }
    if (g->version == 1) {
        return lore_err_set(err, LORE_EVERSION,
                            "'%s': GGUF version 1 is not supported (2 or 3 needed)",
                            g->name);
    }
    if (g->version > 3) {
        return lore_err_set(err, LORE_EVERSION,
                            "'%s': GGUF version %" PRIu32 " is newer than this reader (3)",
                            g->name, g->version);
    }
    rd_u64(&r, &n_t, "tensor count");
    rd_u64(&r, &n_kv, "metadata count");

    if ((rc = read_kvs(g, &r, n_kv)))
        return rc;
    if ((rc = find_alignment(g, err)))
        return rc;
    if ((rc = read_tensors(g, &r, n_t)))
        return rc;

    uint64_t a = g->alignment;
    g->data_off = r.pos + (a - r.pos % a) % a;  /* r.pos <= size < 2^63: no overflow */
    for (int64_t i = 0; i < g->n_t; i++) {
        struct tensor *t = &g->t[i];
        if (t->rel_off % a) {
            return lore_err_set(err, LORE_EFORMAT,
                                "'%s': tensor '%s' offset %" PRIu64
                                " is not a multiple of the alignment %" PRIu64,
                                g->name, t->name, t->rel_off, a);
        }
        if (g->data_off > g->size || t->rel_off > g->size - g->data_off ||
            t->size > g->size - g->data_off - t->rel_off) {
            return lore_err_set(err, LORE_EFORMAT,
                                "'%s': tensor '%s' data extends past end of file",
                                g->name, t->name);
        }
    }
    return 0;
}

static int finish_open(struct eng_gguf *g, struct eng_gguf **out, struct lore_err *err)
{
    int rc = parse(g, err);
    if (rc) {
        eng_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int eng_gguf_open_mem(const void *data, size_t len, const char *name,
                      struct eng_gguf **out, struct lore_err *err)
{
    *out = NULL;
    struct eng_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return lore_err_set(err, LORE_ENOMEM, "out of memory");
    g->name = strdup(name ? name : "(memory)");
    if (!g->name) {
        free(g);
        return lore_err_set(err, LORE_ENOMEM, "out of memory");
    }
    g->base = data;
    g->size = len;
    return finish_open(g, out, err);
}

int eng_gguf_open(const char *path, struct eng_gguf **out, struct lore_err *err)
{
    struct stat st;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return lore_err_set(err, errno == ENOENT ? LORE_ENOENT : LORE_EIO,
                            "cannot open '%s': %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lore_err_set(err, LORE_EIO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lore_err_set(err, LORE_EINVAL, "'%s' is not a regular file", path);
    }
    struct eng_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->name = strdup(path))) {
        free(g);
        close(fd);
        return lore_err_set(err, LORE_ENOMEM, "out of memory");
    }
    g->size = (uint64_t)st.st_size;
    if (g->size >= 24) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(g->name);
            free(g);
            return lore_err_set(err, LORE_EIO, "cannot map '%s': %s", path, strerror(e));
        }
        g->base = p;
        g->mapped = 1;
    }
    close(fd);
    return finish_open(g, out, err);
}

void eng_gguf_close(struct eng_gguf *g)
{
    if (!g)
        return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str_offs);
    }
    for (int64_t i = 0; i < g->n_t; i++)
        free(g->t[i].name);
    free(g->kv);
    free(g->t);
    free(g->kmap.slot);
    free(g->tmap.slot);
    if (g->mapped)
        munmap((void *)g->base, (size_t)g->size);
    free(g->name);
    free(g);
}

/* ---- accessors -------------------------------------------------------------- */

uint32_t eng_gguf_version(const struct eng_gguf *g) { return g->version; }
uint64_t eng_gguf_file_size(const struct eng_gguf *g) { return g->size; }
uint64_t eng_gguf_alignment(const struct eng_gguf *g) { return g->alignment; }
uint64_t eng_gguf_data_offset(const struct eng_gguf *g) { return g->data_off; }
const char *eng_gguf_name(const struct eng_gguf *g) { return g->name; }
int64_t eng_gguf_n_kv(const struct eng_gguf *g) { return g->n_kv; }
int64_t eng_gguf_n_tensors(const struct eng_gguf *g) { return g->n_t; }

int64_t eng_gguf_find_key(const struct eng_gguf *g, const char *key)
{
    return strmap_get(&g->kmap, key, kv_name, g, NULL);
}

const char *eng_gguf_key(const struct eng_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? g->kv[i].key : NULL;
}

int eng_gguf_kv_type(const struct eng_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? (int)g->kv[i].type : -1;
}

/* Numeric value at p of type t into int64 (*ok=0 if not an integer type or
 * the u64 does not fit) and double. */
static int num_at(const uint8_t *p, uint32_t t, int64_t *iv, double *dv)
{
    union {
        uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32;
        int32_t i32; float f32; uint64_t u64; int64_t i64; double f64;
    } u;
    size_t sz = scalar_size(t);
    if (!sz)
        return 0;
    memcpy(&u, p, sz);
    switch (t) {
    case ENG_GGUF_U8: *iv = u.u8; break;
    case ENG_GGUF_BOOL: *iv = u.u8 != 0; break;
    case ENG_GGUF_I8: *iv = u.i8; break;
    case ENG_GGUF_U16: *iv = u.u16; break;
    case ENG_GGUF_I16: *iv = u.i16; break;
    case ENG_GGUF_U32: *iv = u.u32; break;
    case ENG_GGUF_I32: *iv = u.i32; break;
    case ENG_GGUF_I64: *iv = u.i64; break;
    case ENG_GGUF_U64:
        *dv = (double)u.u64;
        if (u.u64 > (uint64_t)INT64_MAX)
            return 3;                   /* float-only: does not fit int64 */
        *iv = (int64_t)u.u64;
        return 1;
    case ENG_GGUF_F32: *dv = u.f32; *iv = 0; return 2;
    case ENG_GGUF_F64: *dv = u.f64; *iv = 0; return 2;
    default: return 0;
    }
    *dv = (double)*iv;
    return 1;                           /* integer */
}

/* double to int64 without overflow (NaN gives 0) */
static int64_t clamp_i64(double d)
{
    if (d != d)
        return 0;
    if (d >= 9.2e18)
        return INT64_MAX;
    if (d <= -9.2e18)
        return INT64_MIN;
    return (int64_t)d;
}

static const struct kv *lookup(const struct eng_gguf *g, const char *key,
                               struct lore_err *err)
{
    int64_t i = eng_gguf_find_key(g, key);
    if (i < 0) {
        lore_err_set(err, LORE_ENOENT, "'%s': key '%s' not found", g->name, key);
        return NULL;
    }
    return &g->kv[i];
}

static int get_int(const struct eng_gguf *g, const char *key, int64_t lo, int64_t hi,
                   int64_t *out, struct lore_err *err)
{
    const struct kv *kv = lookup(g, key, err);
    int64_t iv = 0;
    double dv = 0;
    if (!kv)
        return LORE_ENOENT;
    int k = kv->type == ENG_GGUF_BOOL ? 0 : num_at(kv->val, kv->type, &iv, &dv);
    if (k != 1) {
        return lore_err_set(err, LORE_EFORMAT, "'%s': key '%s' has type %s, not an integer",
                            g->name, key, gguf_type_name(kv->type));
    }
    if (iv < lo || iv > hi) {
        return lore_err_set(err, LORE_EFORMAT, "'%s': key '%s' value %" PRId64
                            " is out of range",
                            g->name, key, iv);
    }
    *out = iv;
    return 0;
}

int eng_gguf_get_u32(const struct eng_gguf *g, const char *key, uint32_t *out,
                     struct lore_err *err)
{
    int64_t v;
    int rc = get_int(g, key, 0, UINT32_MAX, &v, err);
    if (!rc)
        *out = (uint32_t)v;
    return rc;
}

int eng_gguf_get_i32(const struct eng_gguf *g, const char *key, int32_t *out,
                     struct lore_err *err)
{
    int64_t v;
    int rc = get_int(g, key, INT32_MIN, INT32_MAX, &v, err);
    if (!rc)
        *out = (int32_t)v;
    return rc;
}

int eng_gguf_get_u64(const struct eng_gguf *g, const char *key, uint64_t *out,
                     struct lore_err *err)
{
    const struct kv *kv = lookup(g, key, err);
    if (!kv)
        return LORE_ENOENT;
    if (kv->type == ENG_GGUF_U64) {
        memcpy(out, kv->val, 8);
        return 0;
    }
    int64_t v;
    int rc = get_int(g, key, 0, INT64_MAX, &v, err);
    if (!rc)
        *out = (uint64_t)v;
    return rc;
}

int eng_gguf_get_f32(const struct eng_gguf *g, const char *key, float *out,
                     struct lore_err *err)
{
    const struct kv *kv = lookup(g, key, err);
    int64_t iv;
    double dv;
    if (!kv)
        return LORE_ENOENT;
    if (kv->type != ENG_GGUF_F32 && kv->type != ENG_GGUF_F64) {
        return lore_err_set(err, LORE_EFORMAT, "'%s': key '%s' has type %s, not a float",
                            g->name, key, gguf_type_name(kv->type));
    }
    num_at(kv->val, kv->type, &iv, &dv);
    *out = (float)dv;
    return 0;
}

int eng_gguf_get_bool(const struct eng_gguf *g, const char *key, bool *out,
                      struct lore_err *err)
{
    const struct kv *kv = lookup(g, key, err);
    if (!kv)
        return LORE_ENOENT;
    if (kv->type != ENG_GGUF_BOOL) {
        return lore_err_set(err, LORE_EFORMAT, "'%s': key '%s' has type %s, not bool",
                            g->name, key, gguf_type_name(kv->type));
    }
    *out = kv->val[0] != 0;
    return 0;
}

int eng_gguf_get_str(const struct eng_gguf *g, const char *key, const char **s,
                     size_t *len, struct lore_err *err)
{
    const struct kv *kv = lookup(g, key, err);
    if (!kv)
        return LORE_ENOENT;
    if (kv->type != ENG_GGUF_STR) {
        return lore_err_set(err, LORE_EFORMAT, "'%s': key '%s' has type %s, not string",
                            g->name, key, gguf_type_name(kv->type));
    }
    *s = (const char *)kv->val;
    *len = (size_t)kv->n;
    return 0;
}

int eng_gguf_get_strz(const struct eng_gguf *g, const char *key, char *buf,
                      size_t cap, struct lore_err *err)
{
    const char *s = NULL;
    size_t n = 0;
    int rc = eng_gguf_get_str(g, key, &s, &n, err);
    if (rc)
        return rc;
    if (cap) {
        if (n > cap - 1)
            n = cap - 1;
        memcpy(buf, s, n);
        buf[n] = 0;
    }
    return 0;
}

int eng_gguf_get_arr(const struct eng_gguf *g, const char *key, int64_t *idx,
                     int *elem_type, uint64_t *n, struct lore_err *err)
{
    const struct kv *kv = lookup(g, key, err);
    if (!kv)
        return LORE_ENOENT;
    if (kv->type != ENG_GGUF_ARR) {
        return lore_err_set(err, LORE_EFORMAT, "'%s': key '%s' has type %s, not array",
                            g->name, key, gguf_type_name(kv->type));
    }
    *idx = kv - g->kv;
    *elem_type = (int)kv->arr_type;
    *n = kv->n;
    return 0;
}

double eng_gguf_kv_f64(const struct eng_gguf *g, int64_t i)
{
    int64_t iv = 0;
    double dv = 0;
    if (i < 0 || i >= g->n_kv)
        return 0;
    return num_at(g->kv[i].val, g->kv[i].type, &iv, &dv) ? dv : 0;
}

int64_t eng_gguf_kv_i64(const struct eng_gguf *g, int64_t i)
{
    int64_t iv = 0;
    double dv = 0;
    if (i < 0 || i >= g->n_kv)
        return 0;
    int k = num_at(g->kv[i].val, g->kv[i].type, &iv, &dv);
    if (k == 2 || k == 3)
        return clamp_i64(dv);
    return k ? iv : 0;
}

const char *eng_gguf_kv_str(const struct eng_gguf *g, int64_t i, size_t *len)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != ENG_GGUF_STR)
        return NULL;
    *len = (size_t)g->kv[i].n;
    return (const char *)g->kv[i].val;
}

int eng_gguf_arr_type(const struct eng_gguf *g, int64_t i)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != ENG_GGUF_ARR)
        return -1;
    return (int)g->kv[i].arr_type;
}

uint64_t eng_gguf_arr_len(const struct eng_gguf *g, int64_t i)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != ENG_GGUF_ARR)
        return 0;
    return g->kv[i].n;
}

static const struct kv *arr_elem(const struct eng_gguf *g, int64_t i, uint64_t j)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != ENG_GGUF_ARR || j >= g->kv[i].n)
        return NULL;
    return &g->kv[i];
}

double eng_gguf_arr_f64(const struct eng_gguf *g, int64_t i, uint64_t j)
{
    const struct kv *kv = arr_elem(g, i, j);
    int64_t iv = 0;
    double dv = 0;
    size_t sz = kv ? scalar_size(kv->arr_type) : 0;
    if (!sz)
        return 0;
    return num_at(kv->val + j * sz, kv->arr_type, &iv, &dv) ? dv : 0;
}

int64_t eng_gguf_arr_i64(const struct eng_gguf *g, int64_t i, uint64_t j)
{
    const struct kv *kv = arr_elem(g, i, j);
    int64_t iv = 0;
    double dv = 0;
    size_t sz = kv ? scalar_size(kv->arr_type) : 0;
    if (!sz)
        return 0;
    int k = num_at(kv->val + j * sz, kv->arr_type, &iv, &dv);
    if (k == 2 || k == 3)
        return clamp_i64(dv);
    return iv;
}

const char *eng_gguf_arr_str(const struct eng_gguf *g, int64_t i, uint64_t j,
                             size_t *len)
{
    const struct kv *kv = arr_elem(g, i, j);
    uint64_t n;
    if (!kv || kv->arr_type != ENG_GGUF_STR)
        return NULL;
    memcpy(&n, g->base + kv->str_offs[j], 8);
    *len = (size_t)n;
    return (const char *)g->base + kv->str_offs[j] + 8;
}

const void *eng_gguf_arr_data(const struct eng_gguf *g, int64_t i)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != ENG_GGUF_ARR ||
        g->kv[i].arr_type == ENG_GGUF_STR)
        return NULL;
    return g->kv[i].val;
}

int eng_gguf_tensor(const struct eng_gguf *g, int64_t i, struct eng_tensor_info *out)
{
    if (i < 0 || i >= g->n_t)
        return LORE_EINVAL;
    const struct tensor *t = &g->t[i];
    out->name = t->name;
    out->type = t->type;
    out->n_dims = t->n_dims;
    memcpy(out->ne, t->ne, sizeof out->ne);
    out->n_elements = t->n_el;
    out->offset = g->data_off + t->rel_off;
    out->size = t->size;
    out->data = g->base + out->offset;
    return 0;
}

int64_t eng_gguf_find_tensor(const struct eng_gguf *g, const char *name,
                             struct eng_tensor_info *out)
{
    int64_t i = strmap_get(&g->tmap, name, t_name, g, NULL);
    if (i >= 0 && out)
        eng_gguf_tensor(g, i, out);
    return i;
}
