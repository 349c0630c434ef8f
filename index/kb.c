/*
 * kb.c — opening, creating, locking and migrating a knowledge base, and the
 * document/chunk rows. Writers are serialised by flock() on KB_DIR/lock (a
 * second `lore ingest` fails at once with a clear message, or waits with
 * IDX_WAIT); readers never take it and run concurrently thanks to WAL.
 *
 * The FTS5 index (chunks_fts, external content = chunks_v) is kept in step
 * here, in the same transaction as the chunk rows: insert after a chunk is
 * added, 'delete' before a chunk row goes.
 */
#include "index/index_internal.h"
#include "index/vectors_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LORE_APP_ID 0x4c4f5245 /* 'LORE' */

struct idx_migration { int version; const char *name; const char *sql; };
extern const struct idx_migration idx_migrations[];
extern const size_t idx_n_migrations;

int idx_schema_version(void)
{
    return idx_n_migrations ? idx_migrations[idx_n_migrations - 1].version : 0;
}

int idx_db_err(struct idx_kb *kb, struct lore_err *e, const char *what)
{
    int code = sqlite3_extended_errcode(kb->db);
    int prim = code & 0xff;
    int st = LORE_EDB;
    if (prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT)
        st = LORE_ECORRUPT;
    else if (prim == SQLITE_FULL)
        st = LORE_EFULL;
    else if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        st = LORE_EBUSY;
    else if (prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN)
        st = LORE_EIO;
    else if (prim == SQLITE_NOMEM)
        st = LORE_ENOMEM;
    else if (prim == SQLITE_READONLY || prim == SQLITE_PERM)
        st = LORE_EPERM;
    if (st == LORE_ECORRUPT)
        return lore_err_set(e, st, "'%s' is damaged or not a lore knowledge base (%s)",
                            kb->db_path, sqlite3_errmsg(kb->db));
    if (st == LORE_EFULL)
        return lore_err_set(e, st, "%s: disk full writing '%s'", what, kb->db_path);
    return lore_err_set(e, st, "%s: %s", what, sqlite3_errmsg(kb->db));
}

int idx_exec(struct idx_kb *kb, const char *sql, struct lore_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(kb->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        return idx_db_err(kb, e, "database");
    }
    return 0;
}

static int pragma_int(struct idx_kb *kb, const char *sql, int64_t *v, struct lore_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL) != SQLITE_OK)
        return idx_db_err(kb, e, "reading the database header");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return idx_db_err(kb, e, "reading the database header");
    return 0;
}

static int take_lock(struct idx_kb *kb, int wait, struct lore_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lock", kb->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return lore_err_set(e, errno == EACCES || errno == EROFS ? LORE_EPERM : LORE_EIO,
                            "cannot open lock file '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        int err = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        if (err == EWOULDBLOCK)
            return lore_err_set(e, LORE_EBUSY,
                                "knowledge base '%s' is being written by another lore process%s%s%s; "
                                "try again when it has finished",
                                kb->dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
        return lore_err_set(e, LORE_EIO, "cannot lock '%s': %s", path, strerror(err));
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0) {
        /* the pid is informational only */
    }
    kb->lock_fd = fd;
    return 0;
}

static int migrate(struct idx_kb *kb, struct lore_err *e)
{
    int64_t ver = 0, app = 0;
    int rc = pragma_int(kb, "PRAGMA user_version", &ver, e);
    if (!rc)
        rc = pragma_int(kb, "PRAGMA application_id", &app, e);
    if (rc)
        return rc;
    if (ver > 0 && app != LORE_APP_ID)
        return lore_err_set(e, LORE_ECORRUPT, "'%s' is an SQLite database but not a lore knowledge base",
                            kb->db_path);
    if (ver == 0 && app != 0 && app != LORE_APP_ID)
        return lore_err_set(e, LORE_ECORRUPT, "'%s' is not a lore knowledge base", kb->db_path);
    if (ver == 0) {
        /* a brand-new file must be empty: refuse to add our schema to someone's db */
        int64_t n = 0;
        if ((rc = pragma_int(kb, "SELECT count(*) FROM sqlite_schema", &n, e)))
            return rc;
        if (n > 0)
            return lore_err_set(e, LORE_ECORRUPT,
                                "'%s' is an SQLite database but not a lore knowledge base", kb->db_path);
    }
    if (ver > idx_schema_version())
        return lore_err_set(e, LORE_EVERSION,
                            "'%s' has schema version %lld, newer than this lore (%d); upgrade lore",
                            kb->db_path, (long long)ver, idx_schema_version());
    if (ver == idx_schema_version())
        return 0;
    if (!kb->writable)
        return lore_err_set(e, LORE_EVERSION,
                            "'%s' needs a schema upgrade (version %lld to %d); run a write command such as 'lore ingest' first",
                            kb->db_path, (long long)ver, idx_schema_version());
    for (size_t i = 0; i < idx_n_migrations; i++) {
        const struct idx_migration *m = &idx_migrations[i];
        if (m->version <= ver)
            continue;
        if ((rc = idx_exec(kb, "BEGIN IMMEDIATE", e)))
            return rc;
        char set[128];
        snprintf(set, sizeof set, "PRAGMA user_version=%d; PRAGMA application_id=%d;", m->version,
                 LORE_APP_ID);
        if ((rc = idx_exec(kb, m->sql, e)) || (rc = idx_exec(kb, set, e))) {
            lore_err_prefix(e, "applying migration %s", m->name);
            idx_exec(kb, "ROLLBACK", NULL);
            return rc;
        }
        if ((rc = idx_exec(kb, "COMMIT", e)))
            return rc;
    }
    return 0;
}

int idx_open(const char *dir, int flags, struct idx_kb **out, struct lore_err *e)
{
    *out = NULL;
    struct stat sb;
    char path[4096];
    if (strlen(dir) > 3000)
        return lore_err_set(e, LORE_EINVAL, "knowledge base path is too long");
    snprintf(path, sizeof path, "%s/lore.db", dir);
    int exists = stat(path, &sb) == 0;
    if (!exists) {
        if (!(flags & IDX_CREATE))
            return lore_err_set(e, LORE_ENOENT,
                                "no knowledge base at '%s' (run 'lore init' or 'lore ingest' first)", dir);
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return lore_err_set(e, LORE_EIO, "cannot create '%s': %s", dir, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        return lore_err_set(e, LORE_ECORRUPT, "'%s' is not a regular file", path);
    }
    struct idx_kb *kb = calloc(1, sizeof *kb);
    if (!kb)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    kb->lock_fd = -1;
    kb->dir = strdup(dir);
    kb->db_path = strdup(path);
    kb->writable = (flags & (IDX_WRITE | IDX_CREATE)) != 0;
    int rc = 0;
    if (!kb->dir || !kb->db_path) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto fail;
    }
    if (kb->writable && (rc = take_lock(kb, flags & IDX_WAIT, e)))
        goto fail;
    int oflags = kb->writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
    if (sqlite3_open_v2(path, &kb->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = lore_err_set(e, LORE_EIO, "cannot open '%s': %s", path,
                          kb->db ? sqlite3_errmsg(kb->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(kb->db, 1);
    sqlite3_db_config(kb->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(kb->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(kb->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_busy_timeout(kb->db, 10000);
    /* the first real read: a garbage file fails here with "not a database" */
    if ((rc = idx_exec(kb, "PRAGMA trusted_schema=OFF; PRAGMA foreign_keys=ON;", e)))
        goto fail;
    int64_t dummy;
    if ((rc = pragma_int(kb, "PRAGMA user_version", &dummy, e)))
        goto fail;
    if (kb->writable) {
        if ((rc = idx_exec(kb, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", e)))
            goto fail;
    }
    if ((rc = migrate(kb, e)))
        goto fail;
    if ((rc = idx_register_functions(kb, e)))
        goto fail;
    if (kb->writable) {
        int64_t id;
        if ((rc = idx_collection_ensure(kb, "default", &id, e)))
            goto fail;
    }
    *out = kb;
    return 0;
fail:
    idx_close(kb);
    return rc;
}

int idx_remove(const char *dir)
{
    static const char *const files[] = {"lore.db", "lore.db-wal", "lore.db-shm", "lock", "vectors.faiss"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    return rmdir(dir) == 0 ? 0 : LORE_EIO;
}

void idx_close(struct idx_kb *kb)
{
    if (!kb)
        return;
    sqlite3_finalize(kb->st_chunk);
    sqlite3_finalize(kb->st_fts);
    if (kb->db) {
        if (kb->in_tx)
            sqlite3_exec(kb->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(kb->db);
    }
    if (kb->lock_fd >= 0) {
        flock(kb->lock_fd, LOCK_UN);
        close(kb->lock_fd);
    }
    free(kb->dir);
    free(kb->db_path);
    free(kb);
}

const char *idx_dir(const struct idx_kb *kb)
{
    return kb->dir;
}

int idx_begin(struct idx_kb *kb, struct lore_err *e)
{
    int rc = idx_exec(kb, "BEGIN IMMEDIATE", e);
    if (!rc)
        kb->in_tx = 1;
    return rc;
}

int idx_commit(struct idx_kb *kb, struct lore_err *e)
{
    int rc = idx_exec(kb, "COMMIT", e);
    if (rc)
        idx_rollback(kb);
    kb->in_tx = 0;
    return rc;
}

void idx_rollback(struct idx_kb *kb)
{
    if (kb->in_tx)
        sqlite3_exec(kb->db, "ROLLBACK", NULL, NULL, NULL);
    kb->in_tx = 0;
}

/* ---- collections --------------------------------------------------------- */

int idx_collection_find(struct idx_kb *kb, const char *name, int64_t *id, struct lore_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "SELECT id FROM collections WHERE name=?", -1, &st, NULL))
        return idx_db_err(kb, e, "finding collection");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "finding collection");
    return lore_err_set(e, LORE_ENOENT, "no collection named '%s'", name);
}

int idx_collection_ensure(struct idx_kb *kb, const char *name, int64_t *id, struct lore_err *e)
{
    if (!name[0] || strlen(name) > 200)
        return lore_err_set(e, LORE_EINVAL, "collection name must be 1 to 200 bytes");
    if (idx_collection_find(kb, name, id, NULL) == 0)
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "INSERT INTO collections(name, created_at) VALUES(?, ?)", -1, &st,
                           NULL))
        return idx_db_err(kb, e, "creating collection");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "creating collection");
    *id = sqlite3_last_insert_rowid(kb->db);
    return 0;
}

/* ---- documents -------------------------------------------------------------- */

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return strdup(s ? (const char *)s : "");
}

#define DOC_COLS                                                                              \
    "d.id, d.collection_id, c.name, d.uri, d.title, d.mime, d.hash, d.status, d.error, "     \
    "d.warnings, d.size, d.mtime, d.pages, (SELECT count(*) FROM chunks k WHERE k.doc_id=d.id), " \
    "d.updated_at FROM documents d JOIN collections c ON c.id=d.collection_id"

static int doc_from_row(sqlite3_stmt *st, struct idx_doc *d)
{
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    d->collection_id = sqlite3_column_int64(st, 1);
    d->collection = col_dup(st, 2);
    d->uri = col_dup(st, 3);
    d->title = col_dup(st, 4);
    d->mime = col_dup(st, 5);
    d->hash = col_dup(st, 6);
    d->status = col_dup(st, 7);
    d->error = col_dup(st, 8);
    d->warnings = col_dup(st, 9);
    d->size = sqlite3_column_int64(st, 10);
    d->mtime = sqlite3_column_int64(st, 11);
    d->pages = sqlite3_column_int64(st, 12);
    d->chunks = sqlite3_column_int64(st, 13);
    d->updated_at = sqlite3_column_int64(st, 14);
    if (!d->collection || !d->uri || !d->title || !d->mime || !d->hash || !d->status ||
        !d->error || !d->warnings) {
        idx_doc_release(d);
        return LORE_ENOMEM;
    }
    return 0;
}

void idx_doc_release(struct idx_doc *d)
{
    if (!d)
        return;
    free(d->collection);
    free(d->uri);
    free(d->title);
    free(d->mime);
    free(d->hash);
    free(d->status);
    free(d->error);
    free(d->warnings);
    memset(d, 0, sizeof *d);
}

int idx_doc_lookup(struct idx_kb *kb, int64_t collection_id, const char *uri,
                   struct idx_doc *out, struct lore_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "SELECT " DOC_COLS " WHERE d.collection_id=? AND d.uri=?", -1,
                           &st, NULL))
        return idx_db_err(kb, e, "looking up document");
    sqlite3_bind_int64(st, 1, collection_id);
    sqlite3_bind_text(st, 2, uri, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = doc_from_row(st, out);
        sqlite3_finalize(st);
        return rc ? lore_err_set(e, rc, "out of memory") : 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "looking up document");
    return lore_err_set(e, LORE_ENOENT, "no document '%s'", uri);
}

/* Removes the FTS rows and the chunk rows of one document. */
static int delete_chunks(struct idx_kb *kb, int64_t doc_id, struct lore_err *e)
{
    sqlite3_stmt *st;
    int vrc = idx_vectors_delete_doc(kb, doc_id, e); /* vectors first: they reference the chunks */
    if (vrc)
        return vrc;
    if (sqlite3_prepare_v2(kb->db,
                           "INSERT INTO chunks_fts(chunks_fts, rowid, title, heading, text) "
                           "SELECT 'delete', v.id, v.title, v.heading, v.text FROM chunks_v v "
                           "JOIN chunks c ON c.id = v.id WHERE c.doc_id = ?",
                           -1, &st, NULL))
        return idx_db_err(kb, e, "deleting chunks");
    sqlite3_bind_int64(st, 1, doc_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "deleting chunks from the full-text index");
    if (sqlite3_prepare_v2(kb->db, "DELETE FROM chunks WHERE doc_id = ?", -1, &st, NULL))
        return idx_db_err(kb, e, "deleting chunks");
    sqlite3_bind_int64(st, 1, doc_id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "deleting chunks");
    return 0;
}

int idx_doc_put(struct idx_kb *kb, const struct idx_doc_in *in, int64_t *doc_id, struct lore_err *e)
{
    int64_t now = (int64_t)time(NULL);
    struct idx_doc old;
    int rc = idx_doc_lookup(kb, in->collection_id, in->uri, &old, e);
    sqlite3_stmt *st;
    if (rc == 0) {
        *doc_id = old.id;
        idx_doc_release(&old);
        if ((rc = delete_chunks(kb, *doc_id, e)))
            return rc;
        if (sqlite3_prepare_v2(kb->db,
                               "UPDATE documents SET title=?, mime=?, hash=?, size=?, mtime=?, pages=?, "
                               "status=?, error=?, warnings=?, updated_at=? WHERE id=?",
                               -1, &st, NULL))
            return idx_db_err(kb, e, "updating document");
        sqlite3_bind_int64(st, 11, *doc_id);
    } else if (rc == LORE_ENOENT) {
        *doc_id = 0;
        if (sqlite3_prepare_v2(kb->db,
                               "INSERT INTO documents(title, mime, hash, size, mtime, pages, status, error, "
                               "warnings, updated_at, collection_id, uri, added_at) "
                               "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                               -1, &st, NULL))
            return idx_db_err(kb, e, "adding document");
        sqlite3_bind_int64(st, 11, in->collection_id);
        sqlite3_bind_text(st, 12, in->uri, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 13, now);
    } else {
        return rc;
    }
    sqlite3_bind_text(st, 1, in->title ? in->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->mime ? in->mime : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, in->hash ? in->hash : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, in->size);
    sqlite3_bind_int64(st, 5, in->mtime);
    sqlite3_bind_int64(st, 6, in->pages);
    sqlite3_bind_text(st, 7, in->status ? in->status : "ok", -1, SQLITE_STATIC);
    if (in->error)
        sqlite3_bind_text(st, 8, in->error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    if (in->warnings && in->warnings[0])
        sqlite3_bind_text(st, 9, in->warnings, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 9);
    sqlite3_bind_int64(st, 10, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "storing document");
    if (rc == SQLITE_DONE && !*doc_id)
        *doc_id = sqlite3_last_insert_rowid(kb->db);
    return 0;
}

/* Inserts the chunk row (not its FTS row); the statement is kept prepared. */
static int insert_chunk(struct idx_kb *kb, int64_t doc_id, int ordinal, const struct idx_chunk_in *c,
                        int64_t *id, struct lore_err *e)
{
    if (!kb->st_chunk &&
        sqlite3_prepare_v3(kb->db,
                           "INSERT INTO chunks(doc_id, ordinal, page_start, page_end, char_start, char_end, "
                           "heading, text, n_tokens, boxes) VALUES(?,?,?,?,?,?,?,?,?,?)",
                           -1, SQLITE_PREPARE_PERSISTENT, &kb->st_chunk, NULL))
        return idx_db_err(kb, e, "adding chunk");
    sqlite3_stmt *st = kb->st_chunk;
    sqlite3_bind_int64(st, 1, doc_id);
    sqlite3_bind_int(st, 2, ordinal);
    sqlite3_bind_int(st, 3, c->page_start);
    sqlite3_bind_int(st, 4, c->page_end);
    sqlite3_bind_int64(st, 5, c->char_start);
    sqlite3_bind_int64(st, 6, c->char_end);
    sqlite3_bind_text(st, 7, c->heading ? c->heading : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, c->text, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, c->n_tokens);
    if (c->boxes && c->boxes_len)
        sqlite3_bind_blob(st, 10, c->boxes, (int)c->boxes_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "adding chunk");
    *id = sqlite3_last_insert_rowid(kb->db);
    return 0;
}

int idx_chunk_add(struct idx_kb *kb, int64_t doc_id, int ordinal, const struct idx_chunk_in *c,
                  int64_t *chunk_id, struct lore_err *e)
{
    int64_t id;
    int rc = insert_chunk(kb, doc_id, ordinal, c, &id, e);
    if (rc)
        return rc;
    if (!kb->st_fts &&
        sqlite3_prepare_v3(kb->db,
                           "INSERT INTO chunks_fts(rowid, title, heading, text) "
                           "SELECT id, title, heading, text FROM chunks_v WHERE id = ?",
                           -1, SQLITE_PREPARE_PERSISTENT, &kb->st_fts, NULL))
        return idx_db_err(kb, e, "indexing chunk");
    sqlite3_bind_int64(kb->st_fts, 1, id);
    rc = sqlite3_step(kb->st_fts);
    sqlite3_reset(kb->st_fts);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "indexing chunk");
    if (chunk_id)
        *chunk_id = id;
    return 0;
}

int idx_chunks_add(struct idx_kb *kb, int64_t doc_id, const struct idx_chunk_in *c, size_t n,
                   struct lore_err *e)
{
    int64_t id;
    for (size_t i = 0; i < n; i++) {
        int rc = insert_chunk(kb, doc_id, (int)i, &c[i], &id, e);
        if (rc)
            return rc;
    }
    /* one FTS insert for the whole document: FTS5 flushes its pending
     * terms once instead of once per chunk */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db,
                           "INSERT INTO chunks_fts(rowid, title, heading, text) "
                           "SELECT v.id, v.title, v.heading, v.text FROM chunks_v v "
                           "JOIN chunks c ON c.id = v.id WHERE c.doc_id = ? ORDER BY v.id",
                           -1, &st, NULL))
        return idx_db_err(kb, e, "indexing chunks");
    sqlite3_bind_int64(st, 1, doc_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : idx_db_err(kb, e, "indexing chunks");
}

int idx_doc_delete(struct idx_kb *kb, int64_t doc_id, struct lore_err *e)
{
    int rc = delete_chunks(kb, doc_id, e);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "DELETE FROM documents WHERE id = ?", -1, &st, NULL))
        return idx_db_err(kb, e, "deleting document");
    sqlite3_bind_int64(st, 1, doc_id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "deleting document");
    if (sqlite3_changes(kb->db) == 0)
        return lore_err_set(e, LORE_ENOENT, "no document with id %lld", (long long)doc_id);
    return 0;
}

int idx_doc_resolve(struct idx_kb *kb, const char *spec, int64_t *doc_id, struct lore_err *e)
{
    char *end;
    long long v = strtoll(spec, &end, 10);
    sqlite3_stmt *st;
    int rc;
    if (*spec && !*end && v > 0) {
        if (sqlite3_prepare_v2(kb->db, "SELECT id FROM documents WHERE id = ?", -1, &st, NULL))
            return idx_db_err(kb, e, "finding document");
        sqlite3_bind_int64(st, 1, v);
    } else {
        char abs[4096];
        const char *uri = spec;
        if (realpath(spec, abs))
            uri = abs;
        if (sqlite3_prepare_v2(kb->db, "SELECT id FROM documents WHERE uri = ? OR uri = ? LIMIT 1",
                               -1, &st, NULL))
            return idx_db_err(kb, e, "finding document");
        sqlite3_bind_text(st, 1, uri, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, spec, -1, SQLITE_TRANSIENT);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *doc_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "finding document");
    return lore_err_set(e, LORE_ENOENT, "no document '%s' in the knowledge base", spec);
}

int idx_docs_list(struct idx_kb *kb, int64_t collection_id, struct idx_doc **out, size_t *n,
                  struct lore_err *e)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    const char *sql = collection_id > 0 ? "SELECT " DOC_COLS " WHERE d.collection_id=? ORDER BY d.uri"
                                        : "SELECT " DOC_COLS " ORDER BY c.name, d.uri";
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL))
        return idx_db_err(kb, e, "listing documents");
    if (collection_id > 0)
        sqlite3_bind_int64(st, 1, collection_id);
    size_t cap = 0;
    struct idx_doc *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct idx_doc *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = nv;
        }
        if (doc_from_row(st, &v[*n])) {
            rc = SQLITE_NOMEM;
            break;
        }
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        idx_docs_free(v, *n);
        *n = 0;
        return rc == SQLITE_NOMEM ? lore_err_set(e, LORE_ENOMEM, "out of memory")
                                  : idx_db_err(kb, e, "listing documents");
    }
    *out = v;
    return 0;
}

void idx_docs_free(struct idx_doc *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx_doc_release(&d[i]);
    free(d);
}

/* ---- stats and checks -------------------------------------------------------- */

static int64_t file_size(const char *dir, const char *name)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

int idx_stats(struct idx_kb *kb, struct idx_stats *s, struct lore_err *e)
{
    memset(s, 0, sizeof *s);
    int rc;
    if ((rc = pragma_int(kb, "SELECT count(*) FROM documents WHERE status='ok'", &s->documents, e)) ||
        (rc = pragma_int(kb, "SELECT count(*) FROM documents WHERE status='failed'", &s->failed, e)) ||
        (rc = pragma_int(kb, "SELECT count(*) FROM chunks", &s->chunks, e)) ||
        (rc = pragma_int(kb, "SELECT count(*) FROM collections", &s->collections, e)) ||
        (rc = pragma_int(kb, "SELECT coalesce(sum(size),0) FROM documents", &s->source_bytes, e)))
        return rc;
    s->bytes = file_size(kb->dir, "lore.db") + file_size(kb->dir, "lore.db-wal") +
               file_size(kb->dir, "vectors.faiss");
    return 0;
}

int idx_check(struct idx_kb *kb, struct lore_buf *report, int *problems, struct lore_err *e)
{
    *problems = 0;
    sqlite3_stmt *st;
    /* 1. SQLite's own structural check */
    if (sqlite3_prepare_v2(kb->db, "PRAGMA integrity_check", -1, &st, NULL))
        return idx_db_err(kb, e, "checking integrity");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (r && strcmp(r, "ok") != 0) {
            lore_buf_printf(report, "integrity: %s\n", r);
            (*problems)++;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        lore_buf_printf(report, "integrity: %s\n", sqlite3_errmsg(kb->db));
        (*problems)++;
    }
    /* 2. the FTS index against its content */
    char *msg = NULL;
    if (sqlite3_exec(kb->db, "INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)",
                     NULL, NULL, &msg) != SQLITE_OK) {
        lore_buf_printf(report, "full-text index out of sync with chunks: %s\n",
                        msg ? msg : sqlite3_errmsg(kb->db));
        (*problems)++;
    }
    sqlite3_free(msg);
    /* 3. rows whose parents are gone, and other invariants */
    static const struct { const char *sql, *what; } q[] = {
        {"SELECT count(*) FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)",
         "chunks without a document"},
        {"SELECT count(*) FROM documents WHERE collection_id NOT IN (SELECT id FROM collections)",
         "documents without a collection"},
        {"SELECT count(*) FROM chunks_fts_docsize WHERE id NOT IN (SELECT id FROM chunks)",
         "full-text rows without a chunk"},
        {"SELECT count(*) FROM chunks WHERE id NOT IN (SELECT id FROM chunks_fts_docsize)",
         "chunks missing from the full-text index"},
        {"SELECT count(*) FROM chunks c JOIN documents d ON d.id=c.doc_id WHERE d.status<>'ok'",
         "chunks of failed documents"},
        {"SELECT count(*) FROM chunks WHERE length(trim(text)) = 0", "empty chunks"},
        {"SELECT count(*) FROM chunks WHERE boxes IS NOT NULL AND length(boxes) % 10 <> 0",
         "chunks with malformed word boxes"},
        {"SELECT count(*) FROM (SELECT collection_id, uri FROM documents GROUP BY 1, 2 HAVING count(*) > 1)",
         "duplicate documents"},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        int64_t n = 0;
        struct lore_err e2;
        if (pragma_int(kb, q[i].sql, &n, &e2)) {
            lore_buf_printf(report, "%s: %s\n", q[i].what, e2.msg);
            (*problems)++;
        } else if (n > 0) {
            lore_buf_printf(report, "%s: %lld\n", q[i].what, (long long)n);
            (*problems)++;
        }
    }
    idx_vectors_check(kb, report, problems);
    return 0;
}
