/*
 * pipeline.c — `lore ingest`: walk the given files and folders, and for each
 * supported file: hash it, skip it when unchanged, else extract, chunk and
 * store it — one transaction per document, so a kill at any moment leaves
 * the knowledge base consistent and a re-run finishes the job. Files that
 * fail are stored as failed documents with the reason, and retried only
 * when their content changes (or with retry_failed). --prune removes the
 * documents whose files are gone.
 */
#include "ingest/ingest.h"
#include "index/index.h"
#include "ingest/worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)

void ing_opts_default(struct ing_opts *o)
{
    memset(o, 0, sizeof *o);
    o->collection = "default";
    o->progress = 0;
    ing_chunk_opts_default(&o->chunk);
    ing_limits_default(&o->limits);
}

struct flist {
    char **v;
    size_t n, cap;
};

static int flist_add(struct flist *f, const char *p)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        char **nv = realloc(f->v, cap * sizeof *nv);
        if (!nv)
            return LORE_ENOMEM;
        f->v = nv;
        f->cap = cap;
    }
    if (!(f->v[f->n] = strdup(p)))
        return LORE_ENOMEM;
    f->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int supported(const char *path)
{
    const char *m = ing_sniff_mime(path, NULL, 0);
    return m != NULL;
}

/* Walks dir (depth-first, sorted, hidden entries and symlinked dirs skipped). */
static int walk(const char *dir, const char *skip, struct flist *f, int depth, struct lore_err *e)
{
    if (depth > 64)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return lore_err_set(e, LORE_EIO, "cannot read folder '%s': %s", dir, strerror(errno));
    struct flist names = {0};
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) && !rc) {
        if (de->d_name[0] == '.')
            continue;
        rc = flist_add(&names, de->d_name);
    }
    closedir(d);
    if (!rc && names.n)
        qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n && !rc; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, names.v[i]) >= (int)sizeof p)
            continue;
        struct stat sb;
        if (lstat(p, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (skip && strcmp(p, skip) == 0)
                continue; /* the knowledge base itself */
            rc = walk(p, skip, f, depth + 1, e);
        } else if (S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode)) {
            if (S_ISLNK(sb.st_mode) && (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)))
                continue;
            if (supported(p))
                rc = flist_add(f, p);
        }
    }
    for (size_t i = 0; i < names.n; i++)
        free(names.v[i]);
    free(names.v);
    return rc == LORE_ENOMEM ? lore_err_set(e, rc, "out of memory") : rc;
}

/* ---- progress ------------------------------------------------------------ */

static void progress(const struct ing_opts *o, size_t i, size_t n, const char *path, const char *what)
{
    if (o->progress == 1) {
        int width = 30, fill = n ? (int)((double)i / (double)n * width) : width;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        fprintf(stderr, "\r[");
        for (int k = 0; k < width; k++)
            fputc(k < fill ? '=' : (k == fill ? '>' : ' '), stderr);
        fprintf(stderr, "] %zu/%zu %-32.32s", i, n, base);
        if (i == n)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (o->progress == 2 && what) {
        fprintf(stderr, "%s %s\n", what, path);
    }
}

/* ---- one file --------------------------------------------------------------- */

static int store_failed(struct idx_kb *kb, const struct idx_doc_in *base, const char *why,
                        struct lore_err *e)
{
    struct idx_doc_in in = *base;
    in.status = "failed";
    in.error = why;
    in.title = "";
    in.pages = 0;
    int64_t id;
    int rc = idx_begin(kb, e);
    if (rc)
        return rc;
    if ((rc = idx_doc_put(kb, &in, &id, e))) {
        idx_rollback(kb);
        return rc;
    }
    return idx_commit(kb, e);
}

/* A file on its way through: what the parent knows before the parse. */
struct job {
    size_t index;            /* into the file list */
    struct idx_doc_in in;
    char hash[65];
    int have_old;
    struct ing_worker w;
};

static uint16_t tenths(float v)
{
    float t = v * 10.0f + 0.5f;
    return t <= 0 ? 0 : t >= 65535.0f ? 65535 : (uint16_t)t;
}

/* Packs a chunk's word boxes as schema/0002_chunk_boxes.sql describes. */
static int encode_boxes(const struct ing_chunk *c, struct lore_buf *b)
{
    for (size_t k = 0; k < c->n_boxes; k++) {
        const struct ing_box *x = &c->boxes[k];
        uint16_t v[5] = {(uint16_t)(x->page < 0 ? 0 : x->page > 65535 ? 65535 : x->page),
                         tenths(x->x0), tenths(x->y0), tenths(x->x1), tenths(x->y1)};
        unsigned char out[10];
        for (int i = 0; i < 5; i++) {
            out[2 * i] = (unsigned char)(v[i] & 0xff);
            out[2 * i + 1] = (unsigned char)(v[i] >> 8);
        }
        if (lore_buf_append(b, out, sizeof out))
            return LORE_ENOMEM;
    }
    return 0;
}

/* Stores a parse result (or the parse failure) as one transaction. */
static int store_result(struct idx_kb *kb, struct job *j, int prc, struct ing_result *res,
                        const struct lore_err *pe, const struct ing_opts *o, struct ing_report *r,
                        const char **what, struct lore_err *e)
{
    int rc;
    if (prc) {
        rc = store_failed(kb, &j->in, pe->msg[0] ? pe->msg : lore_strerror(prc), e);
        r->failed++;
        *what = "failed";
        if (o->progress == 2)
            fprintf(stderr, "  %s\n", pe->msg);
        return rc;
    }
    struct lore_buf warn;
    lore_buf_init(&warn);
    for (size_t i = 0; i < res->n_warnings; i++) {
        if (i)
            lore_buf_putc(&warn, '\n');
        lore_buf_puts(&warn, res->warnings[i] ? res->warnings[i] : "");
    }
    struct idx_doc_in in = j->in;
    in.title = res->title ? res->title : "";
    in.pages = res->pages;
    in.warnings = warn.data;
    int64_t doc_id = 0;
    if ((rc = idx_begin(kb, e)))
        goto out;
    rc = idx_doc_put(kb, &in, &doc_id, e);
    struct lore_buf bx;
    lore_buf_init(&bx);
    size_t *off = calloc(res->n_chunks + 1, sizeof *off);
    struct idx_chunk_in *ci = calloc(res->n_chunks + 1, sizeof *ci);
    if (!rc && (!off || !ci))
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
    for (size_t i = 0; i < res->n_chunks && !rc; i++) { /* all boxes in one buffer */
        off[i] = bx.len;
        if (encode_boxes(&res->chunks[i], &bx))
            rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < res->n_chunks && !rc; i++) {
        const struct ing_chunk *c = &res->chunks[i];
        size_t end = i + 1 < res->n_chunks ? off[i + 1] : bx.len;
        ci[i] = (struct idx_chunk_in){c->text, c->heading, c->page_start, c->page_end,
                                      c->char_start, c->char_end, c->n_tokens,
                                      end > off[i] ? bx.data + off[i] : NULL, end - off[i]};
    }
    if (!rc)
        rc = idx_chunks_add(kb, doc_id, ci, res->n_chunks, e);
    free(off);
    free(ci);
    lore_buf_release(&bx);
    if (rc) {
        idx_rollback(kb);
        lore_err_prefix(e, "storing '%s'", j->in.uri);
        goto out;
    }
    if ((rc = idx_commit(kb, e)))
        goto out;
    r->chunks += (int64_t)res->n_chunks;
    if (j->have_old) {
        r->updated++;
        *what = "updated";
    } else {
        r->added++;
        *what = "added";
    }
out:
    lore_buf_release(&warn);
    return rc;
}

/* Decides what to do with one file. Returns 0 with *start = 1 and the
 * file's bytes in *data when it must be parsed; a non-zero return is a
 * knowledge-base failure that stops the run. */
static int prepare(struct idx_kb *kb, int64_t coll, const char *path, const struct ing_opts *o,
                   struct job *j, char **data, size_t *n, int *start, struct ing_report *r,
                   const char **what, struct lore_err *e)
{
    *start = 0;
    *what = NULL;
    *data = NULL;
    *n = 0;
    struct stat sb;
    memset(&j->in, 0, sizeof j->in);
    j->in.collection_id = coll;
    j->in.uri = path;
    j->in.status = "ok";
    j->hash[0] = 0;
    if (stat(path, &sb) != 0) {
        r->failed++;
        *what = "failed";
        return 0;
    }
    j->in.size = (int64_t)sb.st_size;
    j->in.mtime = (int64_t)sb.st_mtime;
    struct lore_err fe;
    lore_err_clear(&fe);
    int frc = lore_read_file(path, data, n, MAX_FILE_BYTES, &fe);
    if (!frc)
        lore_sha256_hex(*data, *n, j->hash);
    j->in.hash = j->hash;
    j->in.mime = ing_sniff_mime(path, *data, *n);
    if (!j->in.mime)
        j->in.mime = "text/plain";
    struct idx_doc old;
    j->have_old = idx_doc_lookup(kb, coll, path, &old, NULL) == 0;
    if (j->have_old) {
        int same = !frc && strcmp(old.hash, j->hash) == 0;
        int failed = strcmp(old.status, "failed") == 0;
        idx_doc_release(&old);
        if (same && (!failed || !o->retry_failed)) {
            free(*data);
            *data = NULL;
            r->unchanged++;
            *what = "unchanged";
            return 0;
        }
    }
    if (frc) {
        r->failed++;
        *what = "failed";
        return store_failed(kb, &j->in, fe.msg, e);
    }
    *start = 1;
    return 0;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int ing_run(struct idx_kb *kb, const char *const *paths, size_t n_paths, const struct ing_opts *o,
            struct ing_report *r, struct lore_err *e)
{
    memset(r, 0, sizeof *r);
    double t0 = lore_now_ms();
    int64_t coll;
    int rc = idx_collection_ensure(kb, o->collection ? o->collection : "default", &coll, e);
    if (rc)
        return rc;
    char kbreal[PATH_MAX];
    const char *skip = realpath(idx_dir(kb), kbreal) ? kbreal : NULL;
    struct flist files = {0};
    for (size_t i = 0; i < n_paths && !rc; i++) {
        char real[PATH_MAX];
        if (!realpath(paths[i], real)) {
            rc = lore_err_set(e, LORE_ENOENT, "cannot ingest '%s': %s", paths[i], strerror(errno));
            break;
        }
        struct stat sb;
        if (stat(real, &sb) != 0) {
            rc = lore_err_set(e, LORE_ENOENT, "cannot ingest '%s': %s", paths[i], strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            rc = walk(real, skip, &files, 0, e);
        } else if (S_ISREG(sb.st_mode)) {
            rc = flist_add(&files, real);
            if (rc)
                lore_err_set(e, rc, "out of memory");
        } else {
            rc = lore_err_set(e, LORE_EINVAL, "cannot ingest '%s': not a file or folder", paths[i]);
        }
    }
    /* one file named twice is ingested once */
    if (!rc && files.n > 1) {
        qsort(files.v, files.n, sizeof *files.v, cmp_str);
        size_t w = 1;
        for (size_t i = 1; i < files.n; i++) {
            if (strcmp(files.v[i], files.v[w - 1]) == 0)
                free(files.v[i]);
            else
                files.v[w++] = files.v[i];
        }
        files.n = w;
    }
    /* parse up to `jobs` files at once in worker processes; store in this one */
    int jobs = o->jobs > 0 ? o->jobs : online_cpus();
    if (!o->limits.isolate)
        jobs = 1;
    struct job *run = calloc((size_t)jobs, sizeof *run);
    int *busy = calloc((size_t)jobs, sizeof *busy);
    if (!run || !busy)
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
    size_t next = 0, done = 0;
    int active = 0;
    while (!rc && (next < files.n || active > 0)) {
        /* start work while there are free slots */
        while (!rc && next < files.n && active < jobs) {
            int slot = 0;
            while (busy[slot])
                slot++;
            struct job *j = &run[slot];
            char *data;
            size_t n;
            int start;
            const char *what;
            j->index = next;
            rc = prepare(kb, coll, files.v[next], o, j, &data, &n, &start, r, &what, e);
            next++;
            if (rc)
                break;
            if (!start) {
                r->seen++;
                done++;
                if (what && strcmp(what, "unchanged") != 0)
                    progress(o, done, files.n, files.v[j->index], what);
                else
                    progress(o, done, files.n, files.v[j->index], NULL);
                continue;
            }
            struct ing_extract_opts xo = {o->password};
            if (!o->limits.isolate) {
                struct ing_result res;
                struct lore_err pe;
                lore_err_clear(&pe);
                int prc = ing_extract_chunks(j->in.uri, j->in.mime, data, n, &xo, &o->chunk,
                                             &o->limits, &res, &pe);
                free(data);
                rc = store_result(kb, j, prc, &res, &pe, o, r, &what, e);
                ing_result_free(&res);
                r->seen++;
                done++;
                progress(o, done, files.n, files.v[j->index], what);
                continue;
            }
            struct lore_err we;
            lore_err_clear(&we);
            int wrc = ing_worker_start(&j->w, j->in.uri, j->in.mime, data, n, &xo, &o->chunk,
                                       &o->limits, &we);
            free(data); /* the child has its own copy */
            if (wrc) {
                rc = store_failed(kb, &j->in, we.msg, e);
                r->failed++;
                r->seen++;
                done++;
                continue;
            }
            fcntl(j->w.fd, F_SETFL, fcntl(j->w.fd, F_GETFL) | O_NONBLOCK);
            busy[slot] = 1;
            active++;
        }
        if (rc || active == 0)
            continue;
        /* wait for output from any worker, enforcing each one's wall clock */
        struct pollfd pf[64];
        int map[64], np = 0;
        double now = lore_now_ms(), wait_ms = 1000;
        for (int s2 = 0; s2 < jobs; s2++) {
            if (!busy[s2])
                continue;
            struct job *j = &run[s2];
            double left = j->w.started_ms + o->limits.wall_s * 1000.0 - now;
            if (left <= 0 && j->w.fd >= 0) {
                j->w.timed_out = 1;
                ing_worker_kill(&j->w);
                close(j->w.fd);
                j->w.fd = -1;
            }
            if (j->w.fd >= 0) {
                pf[np].fd = j->w.fd;
                pf[np].events = POLLIN;
                pf[np].revents = 0;
                map[np++] = s2;
                if (left < wait_ms)
                    wait_ms = left < 1 ? 1 : left;
            }
        }
        if (np)
            poll(pf, (nfds_t)np, (int)wait_ms + 1);
        for (int k = 0; k < np; k++)
            if (pf[k].revents)
                ing_worker_pump(&run[map[k]].w);
        /* store whatever finished */
        for (int s2 = 0; s2 < jobs && !rc; s2++) {
            if (!busy[s2] || run[s2].w.fd >= 0)
                continue;
            struct job *j = &run[s2];
            struct ing_result res;
            struct lore_err pe;
            lore_err_clear(&pe);
            const char *what = NULL;
            int prc = ing_worker_finish(&j->w, &res, &pe);
            if (prc && !strstr(pe.msg, j->in.uri))
                lore_err_prefix(&pe, "'%s'", j->in.uri);
            rc = store_result(kb, j, prc, &res, &pe, o, r, &what, e);
            ing_result_free(&res);
            busy[s2] = 0;
            active--;
            r->seen++;
            done++;
            progress(o, done, files.n, files.v[j->index], what);
        }
    }
    /* on a knowledge-base failure: stop the workers still running */
    for (int s2 = 0; run && busy && s2 < jobs; s2++) {
        if (busy[s2]) {
            struct ing_result res;
            ing_worker_kill(&run[s2].w);
            ing_worker_finish(&run[s2].w, &res, NULL);
            ing_result_free(&res);
        }
    }
    free(run);
    free(busy);
    if (!rc && o->prune) {
        struct idx_doc *docs;
        size_t nd;
        if (!(rc = idx_docs_list(kb, coll, &docs, &nd, e))) {
            for (size_t i = 0; i < nd && !rc; i++) {
                struct stat sb;
                if (stat(docs[i].uri, &sb) == 0 || errno != ENOENT)
                    continue;
                if (!(rc = idx_begin(kb, e))) {
                    if ((rc = idx_doc_delete(kb, docs[i].id, e)))
                        idx_rollback(kb);
                    else
                        rc = idx_commit(kb, e);
                }
                if (!rc) {
                    r->pruned++;
                    if (o->progress)
                        fprintf(stderr, "pruned %s\n", docs[i].uri);
                }
            }
            idx_docs_free(docs, nd);
        }
    }
    for (size_t i = 0; i < files.n; i++)
        free(files.v[i]);
    free(files.v);
    r->ms = lore_now_ms() - t0;
    return rc;
}
