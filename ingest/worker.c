/*
 * worker.c — parsing untrusted files in a child process.
 *
 * Poppler and libxml2 are large C/C++ parsers fed with files from anywhere;
 * a crash, a hang or a memory blow-up in them must cost one document, never
 * the ingest run. So each file is extracted and chunked in a fork()ed child
 * with limits (address space, CPU seconds, no file writes, no core dumps);
 * the parent enforces a wall-clock timeout and an output cap, and reads the
 * result back through a pipe in this format (native byte order — both ends
 * are the same binary on the same machine):
 *
 *   u32 magic 'LRW1'
 *   i32 status                      0 ok, else a lore_status
 *   str message                     error text when status != 0
 *   --- when status == 0:
 *   str title   i32 pages
 *   u32 n_warnings  { str warning }
 *   u32 n_chunks    { str text  str heading  i32 page_start  i32 page_end
 *                     i64 char_start  i64 char_end  i32 n_tokens
 *                     u32 n_boxes { i32 page  f32 x0 y0 x1 y1 } }
 *   where str = u32 length + bytes (no NUL)
 */
#include "ingest/ingest.h"
#include "ingest/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x3157524cu /* "LRW1" */

#if defined(__SANITIZE_ADDRESS__)
#define LORE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LORE_ASAN 1
#endif
#endif

void ing_limits_default(struct ing_limits *l)
{
    l->mem_mb = 2048;
    l->cpu_s = 120;
    l->wall_s = 180;
    l->out_mb = 512;
    l->isolate = 1;
}

void ing_result_free(struct ing_result *r)
{
    if (!r)
        return;
    free(r->title);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    ing_chunks_free(r->chunks, r->n_chunks);
    memset(r, 0, sizeof *r);
}

/* ---- serialisation ------------------------------------------------------- */

static int put(struct lore_buf *b, const void *p, size_t n)
{
    return lore_buf_append(b, p, n);
}

static int put_str(struct lore_buf *b, const char *s, size_t n)
{
    uint32_t l = (uint32_t)n;
    return put(b, &l, 4) || put(b, s, n);
}

static int encode(struct lore_buf *b, int status, const char *msg, const struct ing_doc *d,
                  const struct ing_chunk *c, size_t nc)
{
    uint32_t magic = MAGIC;
    int32_t st = status;
    int rc = put(b, &magic, 4) || put(b, &st, 4) || put_str(b, msg, strlen(msg));
    if (rc || status)
        return rc;
    int32_t pages = d->pages;
    uint32_t nw = (uint32_t)d->n_warnings, n = (uint32_t)nc;
    rc = put_str(b, d->title, strlen(d->title)) || put(b, &pages, 4) || put(b, &nw, 4);
    for (size_t i = 0; i < d->n_warnings && !rc; i++)
        rc = put_str(b, d->warnings[i], strlen(d->warnings[i]));
    rc = rc || put(b, &n, 4);
    for (size_t i = 0; i < nc && !rc; i++) {
        int32_t ps = c[i].page_start, pe = c[i].page_end, nt = c[i].n_tokens;
        int64_t cs = c[i].char_start, ce = c[i].char_end;
        rc = put_str(b, c[i].text, c[i].len) || put_str(b, c[i].heading, strlen(c[i].heading)) ||
             put(b, &ps, 4) || put(b, &pe, 4) || put(b, &cs, 8) || put(b, &ce, 8) || put(b, &nt, 4);
        uint32_t nb = (uint32_t)c[i].n_boxes;
        rc = rc || put(b, &nb, 4);
        for (size_t k = 0; k < c[i].n_boxes && !rc; k++) {
            const struct ing_box *x = &c[i].boxes[k];
            float f[4] = {x->x0, x->y0, x->x1, x->y1};
            rc = put(b, &x->page, 4) || put(b, f, sizeof f);
        }
    }
    return rc;
}

struct rd {
    const char *p, *end;
    int bad;
};

static void get(struct rd *r, void *out, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
}

static char *get_str(struct rd *r, size_t *len)
{
    uint32_t n = 0;
    get(r, &n, 4);
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, r->p, n);
    s[n] = 0;
    r->p += n;
    if (len)
        *len = n;
    return s;
}

static int decode(const char *buf, size_t n, struct ing_result *res, struct lore_err *e)
{
    struct rd r = {buf, buf + n, 0};
    uint32_t magic = 0;
    int32_t st = 0;
    get(&r, &magic, 4);
    get(&r, &st, 4);
    if (r.bad || magic != MAGIC)
        return lore_err_set(e, LORE_EINTERNAL, "parser worker sent a malformed reply");
    char *msg = get_str(&r, NULL);
    if (r.bad) {
        free(msg);
        return lore_err_set(e, LORE_EINTERNAL, "parser worker sent a malformed reply");
    }
    if (st) {
        lore_err_set(e, st < 0 ? st : LORE_EINTERNAL, "%s", msg);
        free(msg);
        return e ? e->status : LORE_EINTERNAL;
    }
    free(msg);
    int32_t pages = 0;
    uint32_t nw = 0, nc = 0;
    res->title = get_str(&r, NULL);
    get(&r, &pages, 4);
    res->pages = pages;
    get(&r, &nw, 4);
    if (!r.bad && nw <= (size_t)(r.end - r.p) / 4) {
        res->warnings = calloc(nw ? nw : 1, sizeof *res->warnings);
        if (!res->warnings)
            r.bad = 1;
        for (uint32_t i = 0; i < nw && !r.bad; i++) {
            res->warnings[i] = get_str(&r, NULL);
            res->n_warnings = i + 1;
        }
    } else {
        r.bad = 1;
    }
    get(&r, &nc, 4);
    if (!r.bad && nc <= (size_t)(r.end - r.p) / 16) {
        res->chunks = calloc(nc ? nc : 1, sizeof *res->chunks);
        if (!res->chunks)
            r.bad = 1;
        for (uint32_t i = 0; i < nc && !r.bad; i++) {
            struct ing_chunk *c = &res->chunks[i];
            res->n_chunks = i + 1;
            c->text = get_str(&r, &c->len);
            c->heading = get_str(&r, NULL);
            int32_t ps = 0, pe = 0, nt = 0;
            get(&r, &ps, 4);
            get(&r, &pe, 4);
            get(&r, &c->char_start, 8);
            get(&r, &c->char_end, 8);
            get(&r, &nt, 4);
            c->page_start = ps;
            c->page_end = pe;
            c->n_tokens = nt;
            uint32_t nb = 0;
            get(&r, &nb, 4);
            if (r.bad || nb > (size_t)(r.end - r.p) / 20) {
                r.bad = 1;
                break;
            }
            if (nb) {
                c->boxes = calloc(nb, sizeof *c->boxes);
                if (!c->boxes) {
                    r.bad = 1;
                    break;
                }
                c->n_boxes = nb;
                for (uint32_t k = 0; k < nb; k++) {
                    float f[4];
                    get(&r, &c->boxes[k].page, 4);
                    get(&r, f, sizeof f);
                    c->boxes[k].x0 = f[0];
                    c->boxes[k].y0 = f[1];
                    c->boxes[k].x1 = f[2];
                    c->boxes[k].y1 = f[3];
                }
            }
        }
    } else {
        r.bad = 1;
    }
    if (r.bad || r.p != r.end) {
        ing_result_free(res);
        return lore_err_set(e, LORE_EINTERNAL, "parser worker sent a malformed reply");
    }
    return 0;
}

/* The work itself, the same in or out of a child. Encodes into b. */
static void work(const char *uri, const char *mime, const char *data, size_t n,
                 const struct ing_extract_opts *xo, const struct ing_chunk_opts *co,
                 struct lore_buf *b)
{
    struct lore_err e;
    lore_err_clear(&e);
    struct ing_doc *d = NULL;
    struct ing_chunk *c = NULL;
    size_t nc = 0;
    int rc = ing_extract(uri, mime, data, n, xo, &d, &e);
    if (!rc)
        rc = ing_chunk_doc(d, co, &c, &nc, &e);
    if (!rc && nc == 0)
        rc = lore_err_set(&e, LORE_EFORMAT, "'%s': no text found", uri);
    b->len = 0;
    if (encode(b, rc, rc ? (e.msg[0] ? e.msg : lore_strerror(rc)) : "", d, c, nc)) {
        b->len = 0;
        encode(b, LORE_ENOMEM, "out of memory while encoding the result", NULL, NULL, 0);
    }
    ing_doc_free(d);
    ing_chunks_free(c, nc);
}

/* ---- the child side --------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void child(int fd, const char *uri, const char *mime, const char *data, size_t n,
                  const struct ing_extract_opts *xo, const struct ing_chunk_opts *co,
                  const struct ing_limits *l)
{
    struct rlimit rl;
#ifndef LORE_ASAN /* ASan reserves terabytes of address space up front */
    if (l->mem_mb > 0) {
        rl.rlim_cur = rl.rlim_max = (rlim_t)l->mem_mb << 20;
        setrlimit(RLIMIT_AS, &rl);
    }
#endif
    if (l->cpu_s > 0) {
        rl.rlim_cur = (rlim_t)l->cpu_s;
        rl.rlim_max = (rlim_t)l->cpu_s + 5;
        setrlimit(RLIMIT_CPU, &rl);
    }
    rl.rlim_cur = rl.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &rl);
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGPIPE, SIG_DFL);
    /* the parser's chatter goes nowhere: with RLIMIT_FSIZE 0, a write to a
     * regular file (stderr redirected to a log) would kill the child */
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 1);
        dup2(devnull, 2);
        if (devnull > 2)
            close(devnull);
    }
    /* fault injection for the tests: make the parser crash, hang or eat memory */
    const char *f;
    if ((f = getenv("LORE_TEST_CRASH_ON")) && *f && strstr(uri, f))
        raise(SIGSEGV);
    if ((f = getenv("LORE_TEST_HANG_ON")) && *f && strstr(uri, f))
        for (;;)
            pause();
    if ((f = getenv("LORE_TEST_SPIN_ON")) && *f && strstr(uri, f))
        for (volatile unsigned long x = 0;; x++)
            ;
    if ((f = getenv("LORE_TEST_EAT_ON")) && *f && strstr(uri, f))
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p)
                _exit(4);
            memset(p, 1, 1 << 20);
        }
    struct lore_buf b;
    lore_buf_init(&b);
    work(uri, mime, data, n, xo, co, &b);
    int rc = b.len ? write_all(fd, b.data, b.len) : -1;
    _exit(rc ? 3 : 0);
}

/* ---- the parent side ----------------------------------------------------------- */

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "segmentation fault";
    case SIGBUS: return "bus error";
    case SIGABRT: return "abort";
    case SIGFPE: return "arithmetic exception";
    case SIGILL: return "illegal instruction";
    case SIGXCPU: return "CPU time limit";
    case SIGXFSZ: return "file size limit";
    case SIGKILL: return "killed";
    default: return "signal";
    }
}

int ing_worker_start(struct ing_worker *w, const char *uri, const char *mime, const char *data,
                     size_t n, const struct ing_extract_opts *xo, const struct ing_chunk_opts *co,
                     const struct ing_limits *l, struct lore_err *e)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->pid = -1;
    w->limits = *l;
    lore_buf_init(&w->out);
    int p[2];
    if (pipe(p) != 0)
        return lore_err_set(e, LORE_EIO, "cannot create a pipe for the parser worker: %s",
                            strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return lore_err_set(e, LORE_EIO, "cannot start a parser worker: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        child(p[1], uri, mime, data, n, xo, co, l);
    }
    close(p[1]);
    w->fd = p[0];
    w->pid = pid;
    w->started_ms = lore_now_ms();
    return 0;
}

int ing_worker_pump(struct ing_worker *w)
{
    if (w->fd < 0)
        return 1;
    char tmp[65536];
    for (;;) {
        ssize_t r = read(w->fd, tmp, sizeof tmp);
        if (r > 0) {
            if (w->out.len + (size_t)r > (size_t)w->limits.out_mb << 20 || w->oom) {
                w->too_big = 1;
                kill(w->pid, SIGKILL);
                close(w->fd);
                w->fd = -1;
                return 1;
            }
            if (lore_buf_append(&w->out, tmp, (size_t)r))
                w->oom = 1;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        close(w->fd); /* EOF or error */
        w->fd = -1;
        return 1;
    }
}

int ing_worker_finish(struct ing_worker *w, struct ing_result *res, struct lore_err *e)
{
    memset(res, 0, sizeof *res);
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    int status = 0;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc;
    if (w->timed_out)
        rc = lore_err_set(e, LORE_ELIMIT, "parser timed out after %d s", w->limits.wall_s);
    else if (w->too_big)
        rc = lore_err_set(e, LORE_ELIMIT, "parser output exceeded %d MB", w->limits.out_mb);
    else if (w->oom)
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory reading the parser's output");
    else if (WIFSIGNALED(status))
        rc = lore_err_set(e, WTERMSIG(status) == SIGXCPU ? LORE_ELIMIT : LORE_EFORMAT,
                          "parser crashed (%s, signal %d)", signame(WTERMSIG(status)),
                          WTERMSIG(status));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && w->out.len == 0)
        rc = lore_err_set(e, LORE_ELIMIT,
                          "parser failed (exit %d; memory limit of %d MB reached?)",
                          WEXITSTATUS(status), w->limits.mem_mb);
    else
        rc = decode(w->out.data ? w->out.data : "", w->out.len, res, e);
    lore_buf_release(&w->out);
    return rc;
}

void ing_worker_kill(struct ing_worker *w)
{
    if (w->pid > 0)
        kill(w->pid, SIGKILL);
}

int ing_extract_chunks(const char *uri, const char *mime, const char *data, size_t n,
                       const struct ing_extract_opts *xo, const struct ing_chunk_opts *co,
                       const struct ing_limits *l, struct ing_result *res, struct lore_err *e)
{
    struct ing_limits def;
    if (!l) {
        ing_limits_default(&def);
        l = &def;
    }
    memset(res, 0, sizeof *res);
    if (!l->isolate) {
        struct lore_buf b;
        lore_buf_init(&b);
        work(uri, mime, data, n, xo, co, &b);
        int rc = decode(b.data, b.len, res, e);
        lore_buf_release(&b);
        return rc;
    }
    struct ing_worker w;
    int rc = ing_worker_start(&w, uri, mime, data, n, xo, co, l, e);
    if (rc)
        return rc;
    while (w.fd >= 0) {
        double left = w.started_ms + l->wall_s * 1000.0 - lore_now_ms();
        if (left <= 0) {
            w.timed_out = 1;
            ing_worker_kill(&w);
            break;
        }
        struct pollfd pf = {w.fd, POLLIN, 0};
        int pr = poll(&pf, 1, left > 1000 ? 1000 : (int)left + 1);
        if (pr > 0)
            ing_worker_pump(&w);
    }
    return ing_worker_finish(&w, res, e);
}
