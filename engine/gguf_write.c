/*
 * gguf_write.c — the GGUF v3 writer declared in gguf_write.h.
 *
 * Shape: metadata values are serialised into their on-disk form as soon as
 * they are set (one small buffer per key), tensor infos are kept in a table,
 * and eng_gguf_w_begin() lays out the data section (offsets rounded up to
 * the alignment) and writes everything before it. Tensor data then streams
 * through one 1 MiB output buffer into a temporary file created with
 * mkstemp() beside the target; eng_gguf_w_finish() renames it into place.
 *
 * The layout (drawn in full in gguf_write.h):
 *
 *   "GGUF" u32 3 | u64 n_tensors | u64 n_kv | kv… | tensor infos… | pad
 *   data: t0 | pad | t1 | pad | … | t(n-1) | pad      (pad = zeros to A)
 */
#include "engine/gguf_write.h"

#include "engine/kernels.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf_write.c writes host-order values: big-endian hosts need byte swaps"
#endif

#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_KEY_LEN 65535
#define GGUF_MAX_NAME 63            /* GGML_MAX_NAME 64 with its NUL */
#define OUT_BUF_CAP (1u << 20)

struct wkv {
    char *key;
    uint32_t type;           /* enum eng_gguf_type */
    struct lore_buf val;     /* the value exactly as it goes on disk */
};

struct wtensor {
    char name[GGUF_MAX_NAME + 1];
    uint32_t type, n_dims;
    uint64_t ne[ENG_GGUF_MAX_DIMS];
    uint64_t size;           /* bytes, without padding */
    uint64_t offset;         /* from the data start; set by begin */
};

enum { W_COLLECT = 0, W_WRITING, W_DONE, W_FAILED };

struct eng_gguf_w {
    struct wkv *kv;
    int64_t n_kv, cap_kv;
    struct wtensor *t;
    int64_t n_t, cap_t;

    int state;
    struct lore_err first;   /* first setter failure (sticky) */

    /* writing */
    int fd;
    char *path, *tmp;
    uint64_t align;
    uint64_t written;        /* bytes handed to the file (buffer included) */
    uint64_t flushed;        /* bytes write(2) took */
    uint64_t fail_at;        /* test hook: fake ENOSPC past this size */
    int64_t cur;             /* tensor whose data comes next */
    uint64_t cur_done;       /* bytes of it already written */
    char *out;
    size_t out_len;
};

/* Element sizes of the scalar value types (0 for STR/ARR/unknown). */
static size_t scalar_size(int type)
{
    switch (type) {
    case ENG_GGUF_U8: case ENG_GGUF_I8: case ENG_GGUF_BOOL: return 1;
    case ENG_GGUF_U16: case ENG_GGUF_I16: return 2;
    case ENG_GGUF_U32: case ENG_GGUF_I32: case ENG_GGUF_F32: return 4;
    case ENG_GGUF_U64: case ENG_GGUF_I64: case ENG_GGUF_F64: return 8;
    default: return 0;
    }
}

/* Records a setter failure (the first one wins) and returns status. */
static int fail(struct eng_gguf_w *w, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(struct eng_gguf_w *w, int status, const char *fmt, ...)
{
    if (w->first.status == 0) {
        va_list ap;
        va_start(ap, fmt);
        lore_err_vset(&w->first, status, fmt, ap);
        va_end(ap);
    }
    return status;
}

int eng_gguf_w_new(struct eng_gguf_w **out, struct lore_err *e)
{
    struct eng_gguf_w *w = calloc(1, sizeof *w);
    if (!w)
        return lore_err_set(e, LORE_ENOMEM, "gguf writer: out of memory");
    w->fd = -1;
    *out = w;
    return 0;
}

static void discard_tmp(struct eng_gguf_w *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->tmp) {
        unlink(w->tmp);
        free(w->tmp);
        w->tmp = NULL;
    }
}

void eng_gguf_w_free(struct eng_gguf_w *w)
{
    if (!w)
        return;
    discard_tmp(w);
    for (int64_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        lore_buf_release(&w->kv[i].val);
    }
    free(w->kv);
    free(w->t);
    free(w->path);
    free(w->out);
    free(w);
}

/* ---- metadata ------------------------------------------------------------------------- */

/* The entry for key, created at the end if absent, its old value cleared;
 * NULL on failure (recorded). */
static struct wkv *slot(struct eng_gguf_w *w, const char *key, uint32_t type)
{
    if (w->state != W_COLLECT) {
        fail(w, LORE_EINVAL, "gguf writer: key '%s' set after writing began", key ? key : "");
        return NULL;
    }
    size_t kl = key ? strlen(key) : 0;
    if (kl == 0 || kl > GGUF_MAX_KEY_LEN) {
        fail(w, LORE_EINVAL, "gguf writer: bad key (empty or longer than %d bytes)",
             GGUF_MAX_KEY_LEN);
        return NULL;
    }
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            w->kv[i].type = type;
            w->kv[i].val.len = 0;
            return &w->kv[i];
        }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        struct wkv *p = realloc(w->kv, (size_t)cap * sizeof *p);
        if (!p) {
            fail(w, LORE_ENOMEM, "gguf writer: out of memory");
            return NULL;
        }
        w->kv = p;
        w->cap_kv = cap;
    }
    struct wkv *kv = &w->kv[w->n_kv];
    memset(kv, 0, sizeof *kv);
    kv->key = strdup(key);
    if (!kv->key) {
        fail(w, LORE_ENOMEM, "gguf writer: out of memory");
        return NULL;
    }
    kv->type = type;
    lore_buf_init(&kv->val);
    w->n_kv++;
    return kv;
}

/* Appends to a value buffer, recording ENOMEM. */
static int vput(struct eng_gguf_w *w, struct wkv *kv, const void *p, size_t n)
{
    if (lore_buf_append(&kv->val, p, n) != 0)
        return fail(w, LORE_ENOMEM, "gguf writer: out of memory for '%s'", kv->key);
    return 0;
}

static int set_scalar(struct eng_gguf_w *w, const char *key, uint32_t type, const void *v)
{
    struct wkv *kv = slot(w, key, type);
    if (!kv)
        return w->first.status;
    return vput(w, kv, v, scalar_size((int)type));
}

int eng_gguf_w_set_u8(struct eng_gguf_w *w, const char *key, uint8_t v)
{
    return set_scalar(w, key, ENG_GGUF_U8, &v);
}
int eng_gguf_w_set_i8(struct eng_gguf_w *w, const char *key, int8_t v)
{
    return set_scalar(w, key, ENG_GGUF_I8, &v);
}
int eng_gguf_w_set_u16(struct eng_gguf_w *w, const char *key, uint16_t v)
{
    return set_scalar(w, key, ENG_GGUF_U16, &v);
}
int eng_gguf_w_set_i16(struct eng_gguf_w *w, const char *key, int16_t v)
{
    return set_scalar(w, key, ENG_GGUF_I16, &v);
}
int eng_gguf_w_set_u32(struct eng_gguf_w *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, ENG_GGUF_U32, &v);
}
int eng_gguf_w_set_i32(struct eng_gguf_w *w, const char *key, int32_t v)
{
    return set_scalar(w, key, ENG_GGUF_I32, &v);
}
int eng_gguf_w_set_u64(struct eng_gguf_w *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, ENG_GGUF_U64, &v);
}
int eng_gguf_w_set_i64(struct eng_gguf_w *w, const char *key, int64_t v)
{
    return set_scalar(w, key, ENG_GGUF_I64, &v);
}
int eng_gguf_w_set_f32(struct eng_gguf_w *w, const char *key, float v)
{
    return set_scalar(w, key, ENG_GGUF_F32, &v);
}
int eng_gguf_w_set_f64(struct eng_gguf_w *w, const char *key, double v)
{
    return set_scalar(w, key, ENG_GGUF_F64, &v);
}
int eng_gguf_w_set_bool(struct eng_gguf_w *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, ENG_GGUF_BOOL, &b);
}

static int put_str(struct eng_gguf_w *w, struct wkv *kv, const char *s, size_t len)
{
    uint64_t n = len;
    int rc = vput(w, kv, &n, 8);
    return rc ? rc : vput(w, kv, s, len);
}

int eng_gguf_w_set_str(struct eng_gguf_w *w, const char *key, const char *s, size_t len)
{
    if (!s && len)
        return fail(w, LORE_EINVAL, "gguf writer: NULL string for '%s'", key ? key : "");
    struct wkv *kv = slot(w, key, ENG_GGUF_STR);
    if (!kv)
        return w->first.status;
    return put_str(w, kv, s ? s : "", len);
}

int eng_gguf_w_set_arr(struct eng_gguf_w *w, const char *key, int elem_type,
                       const void *data, uint64_t n)
{
    size_t es = scalar_size(elem_type);
    if (es == 0)
        return fail(w, LORE_EINVAL, "gguf writer: '%s': array element type %d is not numeric",
                    key ? key : "", elem_type);
    if (n && !data)
        return fail(w, LORE_EINVAL, "gguf writer: '%s': NULL array data", key ? key : "");
    if (n > SIZE_MAX / es / 2)
        return fail(w, LORE_ELIMIT, "gguf writer: '%s': array too long", key ? key : "");
    struct wkv *kv = slot(w, key, ENG_GGUF_ARR);
    if (!kv)
        return w->first.status;
    uint32_t et = (uint32_t)elem_type;
    int rc = vput(w, kv, &et, 4);
    if (!rc)
        rc = vput(w, kv, &n, 8);
    if (!rc && n)
        rc = vput(w, kv, data, (size_t)n * es);
    return rc;
}

int eng_gguf_w_set_arr_str(struct eng_gguf_w *w, const char *key, const char *const *s,
                           const size_t *len, uint64_t n)
{
    if (n && !s)
        return fail(w, LORE_EINVAL, "gguf writer: '%s': NULL string array", key ? key : "");
    size_t total = 12;
    for (uint64_t i = 0; i < n; i++) {
        size_t l = len ? len[i] : (s[i] ? strlen(s[i]) : 0);
        if (!s[i] && l)
            return fail(w, LORE_EINVAL, "gguf writer: '%s': NULL string %" PRIu64,
                        key ? key : "", i);
        if (l > SIZE_MAX / 2 - total - 8)
            return fail(w, LORE_ELIMIT, "gguf writer: '%s': array too large", key ? key : "");
        total += 8 + l;
    }
    struct wkv *kv = slot(w, key, ENG_GGUF_ARR);
    if (!kv)
        return w->first.status;
    if (kv->val.cap < total) {   /* one allocation for the whole array */
        char *p = realloc(kv->val.data, total + 1);
        if (!p)
            return fail(w, LORE_ENOMEM, "gguf writer: out of memory for '%s'", key);
        kv->val.data = p;
        kv->val.cap = total + 1;
    }
    uint32_t et = ENG_GGUF_STR;
    int rc = vput(w, kv, &et, 4);
    if (!rc)
        rc = vput(w, kv, &n, 8);
    for (uint64_t i = 0; i < n && !rc; i++) {
        size_t l = len ? len[i] : (s[i] ? strlen(s[i]) : 0);
        rc = put_str(w, kv, s[i] ? s[i] : "", l);
    }
    return rc;
}

int eng_gguf_w_copy_kv(struct eng_gguf_w *w, const struct eng_gguf *g, int64_t i)
{
    const char *key = eng_gguf_key(g, i);
    int type = eng_gguf_kv_type(g, i);
    if (!key || type < 0)
        return fail(w, LORE_EINVAL, "gguf writer: no metadata entry %" PRId64 " to copy", i);
    int64_t iv = eng_gguf_kv_i64(g, i);
    switch (type) {
    case ENG_GGUF_U8: return eng_gguf_w_set_u8(w, key, (uint8_t)iv);
    case ENG_GGUF_I8: return eng_gguf_w_set_i8(w, key, (int8_t)iv);
    case ENG_GGUF_U16: return eng_gguf_w_set_u16(w, key, (uint16_t)iv);
    case ENG_GGUF_I16: return eng_gguf_w_set_i16(w, key, (int16_t)iv);
    case ENG_GGUF_U32: return eng_gguf_w_set_u32(w, key, (uint32_t)iv);
    case ENG_GGUF_I32: return eng_gguf_w_set_i32(w, key, (int32_t)iv);
    case ENG_GGUF_I64: return eng_gguf_w_set_i64(w, key, iv);
    case ENG_GGUF_BOOL: return eng_gguf_w_set_bool(w, key, iv != 0);
    case ENG_GGUF_F32: return eng_gguf_w_set_f32(w, key, (float)eng_gguf_kv_f64(g, i));
    case ENG_GGUF_F64: return eng_gguf_w_set_f64(w, key, eng_gguf_kv_f64(g, i));
    case ENG_GGUF_U64:
        if (iv < 0 || iv == INT64_MAX)
            return fail(w, LORE_EUNSUPPORTED,
                        "gguf writer: cannot copy '%s': u64 value out of range", key);
        return eng_gguf_w_set_u64(w, key, (uint64_t)iv);
    case ENG_GGUF_STR: {
        size_t len = 0;
        const char *s = eng_gguf_kv_str(g, i, &len);
        return eng_gguf_w_set_str(w, key, s, len);
    }
    case ENG_GGUF_ARR: {
        int et = eng_gguf_arr_type(g, i);
        uint64_t n = eng_gguf_arr_len(g, i);
        if (et == ENG_GGUF_STR) {
            if (n > SIZE_MAX / (sizeof(char *) + sizeof(size_t)))
                return fail(w, LORE_ELIMIT, "gguf writer: '%s': array too long", key);
            const char **s = malloc((n ? n : 1) * sizeof *s);
            size_t *len = malloc((n ? n : 1) * sizeof *len);
            int rc;
            if (!s || !len) {
                rc = fail(w, LORE_ENOMEM, "gguf writer: out of memory copying '%s'", key);
            } else {
                for (uint64_t j = 0; j < n; j++) {
                    s[j] = eng_gguf_arr_str(g, i, j, &len[j]);
                    if (!s[j])
                        s[j] = "", len[j] = 0;
                }
                rc = eng_gguf_w_set_arr_str(w, key, s, len, n);
            }
            free(s);
            free(len);
            return rc;
        }
        if (scalar_size(et) == 0)
            return fail(w, LORE_EUNSUPPORTED,
                        "gguf writer: cannot copy '%s': array of element type %d", key, et);
        const void *data = eng_gguf_arr_data(g, i);
        if (!data && n)
            return fail(w, LORE_EINVAL, "gguf writer: cannot read array '%s'", key);
        return eng_gguf_w_set_arr(w, key, et, data, n);
    }
    default:
        return fail(w, LORE_EUNSUPPORTED, "gguf writer: cannot copy '%s': value type %d",
                    key, type);
    }
}

int eng_gguf_w_remove(struct eng_gguf_w *w, const char *key)
{
    if (w->state != W_COLLECT || !key)
        return 0;
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].key);
            lore_buf_release(&w->kv[i].val);
            memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
            w->n_kv--;
            return 0;
        }
    return 0;
}

int64_t eng_gguf_w_n_kv(const struct eng_gguf_w *w) { return w->n_kv; }

/* ---- tensors ---------------------------------------------------------------------------- */

int64_t eng_gguf_w_add_tensor(struct eng_gguf_w *w, const char *name, int type,
                              uint32_t n_dims, const uint64_t *ne)
{
    if (w->state != W_COLLECT)
        return fail(w, LORE_EINVAL, "gguf writer: tensor '%s' added after writing began",
                    name ? name : "");
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > GGUF_MAX_NAME)
        return fail(w, LORE_EINVAL, "gguf writer: tensor name '%s' is empty or longer than %d bytes",
                    name ? name : "", GGUF_MAX_NAME);
    const struct eng_type_info *ti = eng_type_get(type);
    if (!ti || ti->bytes <= 0 || ti->blck <= 0)
        return fail(w, LORE_EINVAL, "gguf writer: tensor '%s': unknown type %d", name, type);
    if (n_dims < 1 || n_dims > ENG_GGUF_MAX_DIMS || !ne)
        return fail(w, LORE_EINVAL, "gguf writer: tensor '%s': %u dimensions", name, n_dims);
    for (int64_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return fail(w, LORE_EINVAL, "gguf writer: duplicate tensor '%s'", name);
    struct wtensor t = {0};
    memcpy(t.name, name, nl + 1);
    t.type = (uint32_t)type;
    t.n_dims = n_dims;
    uint64_t rows = 1;
    for (uint32_t d = 0; d < ENG_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] == 0 || t.ne[d] > INT64_MAX)
            return fail(w, LORE_EINVAL, "gguf writer: tensor '%s': dimension %u is %" PRIu64,
                        name, d, t.ne[d]);
        if (d > 0) {
            if (rows > INT64_MAX / t.ne[d])
                return fail(w, LORE_ELIMIT, "gguf writer: tensor '%s' is too large", name);
            rows *= t.ne[d];
        }
    }
    if (t.ne[0] % (uint64_t)ti->blck)
        return fail(w, LORE_EINVAL,
                    "gguf writer: tensor '%s': row of %" PRIu64 " is not a multiple of %s's block of %d",
                    name, t.ne[0], ti->name, ti->blck);
    uint64_t rb = (uint64_t)eng_row_bytes(type, (int64_t)t.ne[0]);
    if (rb == 0 || rows > (UINT64_MAX / 4) / rb)
        return fail(w, LORE_ELIMIT, "gguf writer: tensor '%s' is too large", name);
    t.size = rb * rows;
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? 2 * w->cap_t : 64;
        struct wtensor *p = realloc(w->t, (size_t)cap * sizeof *p);
        if (!p)
            return fail(w, LORE_ENOMEM, "gguf writer: out of memory");
        w->t = p;
        w->cap_t = cap;
    }
    w->t[w->n_t] = t;
    return w->n_t++;
}

uint64_t eng_gguf_w_tensor_size(const struct eng_gguf_w *w, int64_t i)
{
    return i >= 0 && i < w->n_t ? w->t[i].size : 0;
}

/* ---- output ------------------------------------------------------------------------------- */

void eng_gguf_w_set_fail_at(struct eng_gguf_w *w, uint64_t limit) { w->fail_at = limit; }
uint64_t eng_gguf_w_bytes_written(const struct eng_gguf_w *w) { return w->written; }

/* Fails the file: removes the temporary file, sets e. */
static int wfail(struct eng_gguf_w *w, struct lore_err *e, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int wfail(struct eng_gguf_w *w, struct lore_err *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lore_err_vset(e, status, fmt, ap);
    va_end(ap);
    discard_tmp(w);
    w->state = W_FAILED;
    return status;
}

static int errno_status(int err)
{
    switch (err) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
    case EFBIG:
        return LORE_EFULL;
    case ENOENT: case ENOTDIR: return LORE_ENOENT;
    case EACCES: case EPERM: case EROFS: return LORE_EPERM;
    case ENOMEM: return LORE_ENOMEM;
    default: return LORE_EIO;
    }
}

/* write(2) all of p, through the fault-injection limit. */
static int raw_write(struct eng_gguf_w *w, const void *p, size_t n, struct lore_err *e)
{
    const char *c = p;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ssize_t k;
        if (w->fail_at && w->flushed + chunk > w->fail_at) {
            errno = ENOSPC;
            k = -1;
        } else {
            k = write(w->fd, c, chunk);
        }
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            return wfail(w, e, errno_status(err), "cannot write '%s': %s", w->path,
                         strerror(err));
        }
        if (k == 0)
            return wfail(w, e, LORE_EIO, "cannot write '%s': no progress", w->path);
        c += k;
        n -= (size_t)k;
        w->flushed += (uint64_t)k;
    }
    return 0;
}

static int flush_out(struct eng_gguf_w *w, struct lore_err *e)
{
    int rc = raw_write(w, w->out, w->out_len, e);
    if (rc == 0)
        w->out_len = 0;
    return rc;
}

/* Buffered append of n bytes to the file; big pieces go straight through. */
static int put(struct eng_gguf_w *w, const void *p, size_t n, struct lore_err *e)
{
    if (n == 0)
        return 0;
    if (w->out_len + n > OUT_BUF_CAP) {
        int rc = flush_out(w, e);
        if (rc)
            return rc;
        if (n >= OUT_BUF_CAP) {
            w->written += n;
            return raw_write(w, p, n, e);
        }
    }
    memcpy(w->out + w->out_len, p, n);
    w->out_len += n;
    w->written += n;
    return 0;
}

static int put_zeros(struct eng_gguf_w *w, uint64_t n, struct lore_err *e)
{
    static const char zeros[256];
    while (n > 0) {
        size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
        int rc = put(w, zeros, k, e);
        if (rc)
            return rc;
        n -= k;
    }
    return 0;
}

static uint64_t pad_to(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static int find_align(struct eng_gguf_w *w, struct lore_err *e)
{
    w->align = GGUF_DEFAULT_ALIGNMENT;
    for (int64_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0)
            continue;
        uint32_t a = 0;
        if (w->kv[i].type != ENG_GGUF_U32 || w->kv[i].val.len != 4)
            return lore_err_set(e, LORE_EINVAL, "gguf writer: general.alignment must be a u32");
        memcpy(&a, w->kv[i].val.data, 4);
        if (a == 0 || (a & (a - 1)) || a > (1u << 30))
            return lore_err_set(e, LORE_EINVAL,
                                "gguf writer: general.alignment %u is not a power of two", a);
        w->align = a;
    }
    return 0;
}

int eng_gguf_w_begin(struct eng_gguf_w *w, const char *path, struct lore_err *e)
{
    if (w->first.status) {
        if (e)
            *e = w->first;
        return w->first.status;
    }
    if (w->state != W_COLLECT)
        return lore_err_set(e, LORE_EINVAL, "gguf writer: begun twice");
    if (!path || !*path)
        return lore_err_set(e, LORE_EINVAL, "gguf writer: no output path");
    int rc = find_align(w, e);
    if (rc)
        return rc;
    w->out = malloc(OUT_BUF_CAP);
    w->path = strdup(path);
    size_t tl = strlen(path) + 16;
    w->tmp = malloc(tl);
    if (!w->out || !w->path || !w->tmp)
        return lore_err_set(e, LORE_ENOMEM, "gguf writer: out of memory");
    snprintf(w->tmp, tl, "%s.tmp-XXXXXX", path);
    w->fd = mkstemp(w->tmp);
    if (w->fd < 0) {
        int err = errno;
        free(w->tmp);
        w->tmp = NULL;
        w->state = W_FAILED;
        return lore_err_set(e, errno_status(err), "cannot create '%s': %s", path,
                            strerror(err));
    }
    (void)fchmod(w->fd, 0644);   /* mkstemp makes 0600; a model file is not secret */
    w->state = W_WRITING;

    /* offsets in the data section */
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = off;
        off += pad_to(w->t[i].size, w->align);
    }

    uint32_t u32v = GGUF_VERSION;
    uint64_t u64v;
    if ((rc = put(w, "GGUF", 4, e)) || (rc = put(w, &u32v, 4, e)))
        return rc;
    u64v = (uint64_t)w->n_t;
    if ((rc = put(w, &u64v, 8, e)))
        return rc;
    u64v = (uint64_t)w->n_kv;
    if ((rc = put(w, &u64v, 8, e)))
        return rc;
    for (int64_t i = 0; i < w->n_kv; i++) {
        const struct wkv *kv = &w->kv[i];
        u64v = strlen(kv->key);
        if ((rc = put(w, &u64v, 8, e)) || (rc = put(w, kv->key, (size_t)u64v, e)) ||
            (rc = put(w, &kv->type, 4, e)) || (rc = put(w, kv->val.data, kv->val.len, e)))
            return rc;
    }
    for (int64_t i = 0; i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        u64v = strlen(t->name);
        if ((rc = put(w, &u64v, 8, e)) || (rc = put(w, t->name, (size_t)u64v, e)) ||
            (rc = put(w, &t->n_dims, 4, e)) || (rc = put(w, t->ne, 8 * (size_t)t->n_dims, e)) ||
            (rc = put(w, &t->type, 4, e)) || (rc = put(w, &t->offset, 8, e)))
            return rc;
    }
    if ((rc = put_zeros(w, pad_to(w->written, w->align) - w->written, e)))
        return rc;
    w->cur = 0;
    w->cur_done = 0;
    return 0;
}

int eng_gguf_w_write(struct eng_gguf_w *w, const void *data, size_t n, struct lore_err *e)
{
    if (w->state != W_WRITING)
        return lore_err_set(e, LORE_EINVAL, "gguf writer: not writing");
    const char *p = data;
    while (n > 0) {
        if (w->cur >= w->n_t)
            return wfail(w, e, LORE_EINVAL,
                         "gguf writer: '%s': more tensor data than the tensors declare",
                         w->path);
        struct wtensor *t = &w->t[w->cur];
        uint64_t left = t->size - w->cur_done;
        size_t k = n < left ? n : (size_t)left;
        int rc = put(w, p, k, e);
        if (rc)
            return rc;
        p += k;
        n -= k;
        w->cur_done += k;
        if (w->cur_done == t->size) {
            if ((rc = put_zeros(w, pad_to(t->size, w->align) - t->size, e)))
                return rc;
            w->cur++;
            w->cur_done = 0;
        }
    }
    return 0;
}

int eng_gguf_w_finish(struct eng_gguf_w *w, struct lore_err *e)
{
    if (w->state != W_WRITING)
        return lore_err_set(e, LORE_EINVAL, "gguf writer: not writing");
    if (w->cur < w->n_t)
        return wfail(w, e, LORE_EINVAL,
                     "gguf writer: '%s': tensor '%s' got %" PRIu64 " of its %" PRIu64 " bytes",
                     w->path, w->t[w->cur].name, w->cur_done, w->t[w->cur].size);
    int rc = flush_out(w, e);
    if (rc)
        return rc;
    /* on disk before the rename, so a crash cannot leave a short file under
     * the target's name */
    if (fsync(w->fd) != 0 && errno != EINVAL && errno != EROFS) {
        int err = errno;
        return wfail(w, e, errno_status(err), "cannot write '%s': %s", w->path,
                     strerror(err));
    }
    if (close(w->fd) != 0) {
        int err = errno;
        w->fd = -1;
        return wfail(w, e, errno_status(err), "cannot write '%s': %s", w->path,
                     strerror(err));
    }
    w->fd = -1;
    if (rename(w->tmp, w->path) != 0) {
        int err = errno;
        return wfail(w, e, errno_status(err), "cannot rename '%s' to '%s': %s", w->tmp,
                     w->path, strerror(err));
    }
    free(w->tmp);
    w->tmp = NULL;
    w->state = W_DONE;
    return 0;
}
