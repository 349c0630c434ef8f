/*
 * lore.c — status names, the error buffer, the byte buffer, UTF-8 helpers,
 * SHA-256 and other small things every module needs. Kept dependency-free.
 */
#include "core/lore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *lore_strerror(int status)
{
    switch (status) {
    case LORE_OK: return "ok";
    case LORE_EINVAL: return "invalid argument";
    case LORE_ENOMEM: return "out of memory";
    case LORE_EIO: return "input/output error";
    case LORE_ENOENT: return "not found";
    case LORE_ECORRUPT: return "data is corrupt";
    case LORE_EBUSY: return "busy: locked by another process";
    case LORE_EFORMAT: return "unsupported or malformed file format";
    case LORE_EENCODING: return "invalid text encoding";
    case LORE_EVERSION: return "unsupported version";
    case LORE_ELIMIT: return "limit exceeded";
    case LORE_EUNSUPPORTED: return "not supported";
    case LORE_EEXIST: return "already exists";
    case LORE_EDB: return "database error";
    case LORE_EPERM: return "permission denied";
    case LORE_ECANCELED: return "canceled";
    case LORE_EFULL: return "disk full";
    case LORE_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

int lore_err_vset(struct lore_err *e, int status, const char *fmt, va_list ap)
{
    if (e) {
        e->status = status;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    }
    return status;
}

int lore_err_set(struct lore_err *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lore_err_vset(e, status, fmt, ap);
    va_end(ap);
    return status;
}

void lore_err_prefix(struct lore_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    char pre[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t n = strlen(pre);
    if (n > sizeof e->msg - 3)
        n = sizeof e->msg - 3;
    memcpy(e->msg, pre, n);
    e->msg[n] = ':';
    e->msg[n + 1] = ' ';
    size_t m = strlen(old);
    if (m > sizeof e->msg - n - 3)
        m = sizeof e->msg - n - 3;
    memcpy(e->msg + n + 2, old, m);
    e->msg[n + 2 + m] = 0;
}

void lore_err_clear(struct lore_err *e)
{
    if (e) {
        e->status = 0;
        e->msg[0] = 0;
    }
}

/* ---- buffer ------------------------------------------------------------- */

void lore_buf_init(struct lore_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void lore_buf_release(struct lore_buf *b)
{
    free(b->data);
    lore_buf_init(b);
}

static int buf_grow(struct lore_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return LORE_ENOMEM;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return LORE_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int lore_buf_append(struct lore_buf *b, const void *p, size_t n)
{
    if (buf_grow(b, n))
        return LORE_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int lore_buf_puts(struct lore_buf *b, const char *s)
{
    return lore_buf_append(b, s, strlen(s));
}

int lore_buf_putc(struct lore_buf *b, char c)
{
    return lore_buf_append(b, &c, 1);
}

int lore_buf_printf(struct lore_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return LORE_EINVAL;
    if ((size_t)n < sizeof tmp)
        return lore_buf_append(b, tmp, (size_t)n);
    if (buf_grow(b, (size_t)n))
        return LORE_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int lore_buf_json_str(struct lore_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_grow(b, n + 2))
        return LORE_ENOMEM;
    int rc = lore_buf_putc(b, '"');
    size_t i = 0;
    while (i < n && !rc) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = lore_buf_append(b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n') rc = lore_buf_append(b, "\\n", 2);
            else if (c == '\t') rc = lore_buf_append(b, "\\t", 2);
            else if (c == '\r') rc = lore_buf_append(b, "\\r", 2);
            else rc = lore_buf_append(b, esc, 6);
            i++;
        } else if (c < 0x80) {
            size_t j = i;
            while (j < n && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x7f &&
                   s[j] != '"' && s[j] != '\\')
                j++;
            rc = lore_buf_append(b, s + i, j - i);
            i = j;
        } else {
            uint32_t cp;
            int l = lore_utf8_decode(s + i, n - i, &cp);
            if (l == 0) { /* never emit invalid UTF-8 in JSON */
                rc = lore_buf_append(b, "\\ufffd", 6);
                i++;
            } else {
                rc = lore_buf_append(b, s + i, (size_t)l);
                i += (size_t)l;
            }
        }
    }
    if (!rc)
        rc = lore_buf_putc(b, '"');
    return rc;
}

char *lore_buf_detach(struct lore_buf *b, size_t *len)
{
    char *p = b->data;
    if (!p) {
        p = calloc(1, 1);
    }
    if (len)
        *len = b->len;
    lore_buf_init(b);
    return p;
}

/* ---- UTF-8 ---------------------------------------------------------------- */

int lore_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    *cp = 0xFFFD;
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

size_t lore_utf8_check(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int l = lore_utf8_decode(s + i, n - i, &cp);
        if (!l)
            return i;
        i += (size_t)l;
    }
    return n;
}

int lore_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t lore_utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

/* ---- misc -------------------------------------------------------------------- */

double lore_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int lore_read_file(const char *path, char **data, size_t *len, size_t max,
                   struct lore_err *e)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return lore_err_set(e, errno == ENOENT ? LORE_ENOENT : LORE_EIO,
                            "cannot open '%s': %s", path, strerror(errno));
    struct lore_buf b;
    lore_buf_init(&b);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (max && b.len + n > max) {
            fclose(f);
            lore_buf_release(&b);
            return lore_err_set(e, LORE_ELIMIT, "'%s' is larger than %zu bytes", path, max);
        }
        if (lore_buf_append(&b, tmp, n)) {
            fclose(f);
            lore_buf_release(&b);
            return lore_err_set(e, LORE_ENOMEM, "out of memory reading '%s'", path);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        lore_buf_release(&b);
        return lore_err_set(e, LORE_EIO, "cannot read '%s'", path);
    }
    *data = lore_buf_detach(&b, len);
    return *data ? 0 : lore_err_set(e, LORE_ENOMEM, "out of memory");
}

/* ---- SHA-256 (FIPS 180-4), small and portable ----------------------------- */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + s1 + ch + sha_k[i] + w[i];
        uint32_t s0 = ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22);
        uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = s0 + mj;
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void lore_sha256_hex(const void *data, size_t len, char out[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    size_t left = len;
    while (left >= 64) {
        sha_block(h, p);
        p += 64;
        left -= 64;
    }
    unsigned char tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tl = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha_block(h, tail);
    if (tl == 128)
        sha_block(h, tail + 64);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) {
            unsigned char byte = (unsigned char)(h[i] >> (24 - 8 * j));
            out[i * 8 + j * 2] = hex[byte >> 4];
            out[i * 8 + j * 2 + 1] = hex[byte & 15];
        }
    out[64] = 0;
}
