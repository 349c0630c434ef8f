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

#include <dirent.h>
#include <errno.h>
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

static char *join_warnings(const struct ing_doc *d)
{
    struct lore_buf b;
    lore_buf_init(&b);
    for (size_t i = 0; i < d->n_warnings; i++) {
        if (i)
            lore_buf_putc(&b, '\n');
        lore_buf_puts(&b, d->warnings[i]);
    }
    return b.len ? lore_buf_detach(&b, NULL) : NULL;
}

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

/* Returns 0 and sets *what; a non-zero return is a knowledge-base failure
 * that stops the run (disk full, database error). */
static int ingest_file(struct idx_kb *kb, int64_t coll, const char *path, const struct ing_opts *o,
                       struct ing_report *r, const char **what, struct lore_err *e)
{
    *what = NULL;
    struct stat sb;
    struct idx_doc_in in = {0};
    in.collection_id = coll;
    in.uri = path;
    if (stat(path, &sb) != 0) {
        r->failed++;
        *what = "failed";
        return 0;
    }
    in.size = (int64_t)sb.st_size;
    in.mtime = (int64_t)sb.st_mtime;
    char *data = NULL;
    size_t n = 0;
    struct lore_err fe;
    lore_err_clear(&fe);
    int frc = lore_read_file(path, &data, &n, MAX_FILE_BYTES, &fe);
    char hash[65] = "";
    if (!frc)
        lore_sha256_hex(data, n, hash);
    in.hash = hash;
    in.mime = ing_sniff_mime(path, data, n);
    if (!in.mime)
        in.mime = "text/plain";

    struct idx_doc old;
    int have_old = idx_doc_lookup(kb, coll, path, &old, NULL) == 0;
    if (have_old) {
        int same = !frc && strcmp(old.hash, hash) == 0;
        int failed = strcmp(old.status, "failed") == 0;
        idx_doc_release(&old);
        if (same && (!failed || !o->retry_failed)) {
            free(data);
            r->unchanged++;
            *what = "unchanged";
            return 0;
        }
    }
    int rc = 0;
    if (frc) {
        rc = store_failed(kb, &in, fe.msg, e);
        r->failed++;
        *what = "failed";
        return rc;
    }
    struct ing_doc *doc = NULL;
    struct ing_extract_opts xo = {o->password};
    int xrc = ing_extract(path, in.mime, data, n, &xo, &doc, &fe);
    free(data);
    struct ing_chunk *ch = NULL;
    size_t nch = 0;
    if (!xrc)
        xrc = ing_chunk_doc(doc, &o->chunk, &ch, &nch, &fe);
    if (!xrc && nch == 0)
        xrc = lore_err_set(&fe, LORE_EFORMAT, "'%s': no text found", path);
    if (xrc) {
        ing_doc_free(doc);
        ing_chunks_free(ch, nch);
        rc = store_failed(kb, &in, fe.msg, e);
        r->failed++;
        *what = "failed";
        if (o->progress == 2)
            fprintf(stderr, "  %s\n", fe.msg);
        return rc;
    }
    in.title = doc->title;
    in.pages = doc->pages;
    char *warn = join_warnings(doc);
    in.warnings = warn;
    int64_t doc_id = 0;
    if ((rc = idx_begin(kb, e)))
        goto out;
    rc = idx_doc_put(kb, &in, &doc_id, e);
    for (size_t i = 0; i < nch && !rc; i++) {
        struct idx_chunk_in ci = {ch[i].text, ch[i].heading, ch[i].page_start, ch[i].page_end,
                                  ch[i].char_start, ch[i].char_end, ch[i].n_tokens};
        rc = idx_chunk_add(kb, doc_id, (int)i, &ci, NULL, e);
    }
    if (rc) {
        idx_rollback(kb);
        lore_err_prefix(e, "storing '%s'", path);
        goto out;
    }
    if ((rc = idx_commit(kb, e)))
        goto out;
    r->chunks += (int64_t)nch;
    if (have_old) {
        r->updated++;
        *what = "updated";
    } else {
        r->added++;
        *what = "added";
    }
out:
    free(warn);
    ing_doc_free(doc);
    ing_chunks_free(ch, nch);
    return rc;
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
    for (size_t i = 0; i < files.n && !rc; i++) {
        const char *what;
        progress(o, i, files.n, files.v[i], NULL);
        rc = ingest_file(kb, coll, files.v[i], o, r, &what, e);
        r->seen++;
        if (what && strcmp(what, "unchanged") != 0)
            progress(o, i + 1, files.n, files.v[i], what);
    }
    if (!rc && o->progress == 1 && files.n)
        progress(o, files.n, files.n, "", NULL);
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
