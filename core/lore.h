/*
 * lore.h — what every module of lore shares: the status codes, the error
 * buffer, and a few small helpers (growable byte buffer, UTF-8 checks).
 *
 * Convention (see STYLE.md): functions return int, 0 on success and a
 * negative enum lore_status on failure; the human-readable detail goes into
 * a caller-owned struct lore_err, which is never a pointer into someone
 * else's memory and so never expires.
 */
#ifndef LORE_H
#define LORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define LORE_VERSION "0.1.0"

/* Enum values only grow at the end; numbers are stable across versions. */
enum lore_status {
    LORE_OK = 0,
    LORE_EINVAL = -1,      /* bad argument or malformed input */
    LORE_ENOMEM = -2,      /* out of memory */
    LORE_EIO = -3,         /* read/write/OS error */
    LORE_ENOENT = -4,      /* no such file, document or object */
    LORE_ECORRUPT = -5,    /* stored data is damaged or not ours */
    LORE_EBUSY = -6,       /* locked by another process */
    LORE_EFORMAT = -7,     /* input file is not in a format we can read */
    LORE_EENCODING = -8,   /* text is not valid in any encoding we accept */
    LORE_EVERSION = -9,    /* made by a newer lore, or unsupported version */
    LORE_ELIMIT = -10,     /* a size, time or count limit was hit */
    LORE_EUNSUPPORTED = -11, /* valid but not supported (yet) */
    LORE_EEXIST = -12,     /* already exists */
    LORE_EDB = -13,        /* database engine error */
    LORE_EPERM = -14,      /* not allowed */
    LORE_ECANCELED = -15,  /* stopped on request */
    LORE_EFULL = -16,      /* disk or quota full */
    LORE_EINTERNAL = -17,  /* a bug: an invariant did not hold */
};

/* Short lowercase name of a status ("invalid argument"); never NULL. */
const char *lore_strerror(int status);

/* Caller-owned error detail. msg is always NUL-terminated. */
struct lore_err {
    int status;
    char msg[512];
};

/* Sets e (if non-NULL) and returns status, so callers can
 * `return lore_err_set(e, LORE_EIO, "cannot open '%s': %s", p, strerror(errno));` */
int lore_err_set(struct lore_err *e, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int lore_err_vset(struct lore_err *e, int status, const char *fmt, va_list ap);
/* Prefixes the current message with "prefix: " (keeps the status). */
void lore_err_prefix(struct lore_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void lore_err_clear(struct lore_err *e);

/* ---- growable byte buffer (git's strbuf, in small) ---------------------- */

struct lore_buf {
    char *data;   /* NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
};

void lore_buf_init(struct lore_buf *b);
void lore_buf_release(struct lore_buf *b);
/* Appends return 0 or LORE_ENOMEM. */
int lore_buf_append(struct lore_buf *b, const void *p, size_t n);
int lore_buf_puts(struct lore_buf *b, const char *s);
int lore_buf_putc(struct lore_buf *b, char c);
int lore_buf_printf(struct lore_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s as a JSON string literal, quotes included. */
int lore_buf_json_str(struct lore_buf *b, const char *s, size_t n);
/* Takes the data out of b (caller frees with free()); b is left empty. */
char *lore_buf_detach(struct lore_buf *b, size_t *len);

/* ---- UTF-8 ----------------------------------------------------------------- */

/* Returns the byte offset of the first invalid sequence, or n if s is valid
 * UTF-8 (overlongs, surrogates and > U+10FFFF are invalid). */
size_t lore_utf8_check(const char *s, size_t n);
/* Decodes one code point at s (n bytes available); returns its length
 * (1..4), and 0 with *cp = 0xFFFD on an invalid sequence of one byte. */
int lore_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Writes cp as UTF-8 into out (>= 4 bytes); returns the length. */
int lore_utf8_encode(uint32_t cp, char *out);
/* Counts code points in valid UTF-8. */
size_t lore_utf8_len(const char *s, size_t n);

/* ---- misc ------------------------------------------------------------------ */

/* Monotonic milliseconds. */
double lore_now_ms(void);
/* Reads a whole file; caller frees *data with free(). */
int lore_read_file(const char *path, char **data, size_t *len, size_t max,
                   struct lore_err *e);
/* SHA-256 of data as 64 lowercase hex chars + NUL. */
void lore_sha256_hex(const void *data, size_t len, char out[65]);

#endif
