/*
 * vectors.c — the vector half of the index: one embedding per chunk in
 * SQLite, exact nearest-neighbour search over them, and hybrid search
 * (BM25 ∥ vectors, fused by reciprocal rank).
 *
 * SQLite is the source of truth (chunk_vectors, schema/0003_vectors.sql):
 *
 *   chunk_vectors(chunk_id → chunks.id, gen, vec)   vec = dim × float32 LE, ‖vec‖ = 1
 *   meta: embed_model, embed_dim, vec_generation, faiss_generation, faiss_checksum
 *
 * Every change to chunk_vectors bumps vec_generation, and a row records the
 * generation it was written at. An in-memory index that reflects generation
 * M is therefore brought to generation G without a full rebuild: re-add the
 * rows with gen > M, remove the ids that are gone. (Comparing id sets alone
 * would not do: SQLite reuses the rowids of deleted chunks.)
 *
 * With FAISS (LORE_HAVE_FAISS) the index is an IndexIDMap2 over an
 * IndexFlatIP — exact, ids = chunk ids; searched not by FAISS but by our
 * own scan of an int8 copy of its rows with an exact error bound and an
 * exact re-scoring of the few rows the bound leaves (exact_topk), on two
 * threads for large sets — or, from vec_hnsw_threshold vectors on (meta,
 * default 1000000), an IndexIDMap2 over an IndexHNSWFlat (L2, which over
 * unit vectors ranks as inner product; scores come back as inner products),
 * approximate, whose deleted rows are marked in place (id -1) until a
 * rebuild. Either is held in memory per open kb and
 * made lazily on the first vector search: read from KB_DIR/vectors.faiss
 * when the file's bytes hash to the checksum recorded with its generation
 * (anything else is ignored, never parsed), else built from SQLite; then
 * updated as above. idx_vectors_sync writes the file atomically. Search
 * results are always re-read from SQLite by chunk id, so an id the index
 * still holds but SQLite no longer has can never be returned. Inside a
 * caller's write transaction the cached index is not updated (the
 * transaction may roll back): a stale index gives way to the scan below.
 *
 * Without FAISS, and in that in-transaction case, search is a scan of
 * chunk_vectors in C (exact as well), keeping the top k.
 *
 * The per-kb state lives in a small registry keyed by the kb and its
 * connection; it is owned by an SQL function registered on that connection,
 * whose destructor (run when idx_close closes the connection) frees it. So
 * nothing in kb.c has to know about it.
 */
#include "index/vectors_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(LORE_HAVE_FAISS)
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/MetaIndexes_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/impl/AuxIndexStructures_c.h>
#include <faiss/c_api/index_io_c.h>

#include "engine/vecf.h"
#endif

#define MAX_DIM 65536
#define MAX_K 10000
#define BATCH 1024
#define HNSW_BATCH 16384
#define FAISS_FILE "vectors.faiss"

/* The index kind and its settings (meta keys, see idx_search_vector_ex in
 * index.h): exact up to vec_hnsw_threshold vectors, HNSW from there on. */
#define KIND_FLAT 0
#define KIND_HNSW 1
#define HNSW_THRESHOLD_DEF 1000000
/* M 64 rather than FAISS's usual 32: on 384-d unit vectors it lifts recall
 * at a given efSearch far more than a larger efConstruction does, for the
 * same build time (docs/benchmarks.md, "Vector search") */
#define HNSW_M_DEF 64
#define HNSW_EFC_DEF 64
#define HNSW_EF_DEF 1200

/* exact search: rows per work item, and the size from which a second
 * thread scans half of them */
#define SCAN_CHUNK 2048
#define SCAN_MT_MIN 40000

/* ---- small SQLite helpers --------------------------------------------------- */

/* One integer from sql with up to two int64 parameters; *v = def when the
 * query yields no row or NULL. */
static int scalar(struct idx_kb *kb, const char *sql, int nb, int64_t a, int64_t b, int64_t def,
                  int64_t *v, struct lore_err *e)
{
    sqlite3_stmt *st;
    *v = def;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL) != SQLITE_OK)
        return idx_db_err(kb, e, "reading vectors");
    if (nb > 0)
        sqlite3_bind_int64(st, 1, a);
    if (nb > 1)
        sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return idx_db_err(kb, e, "reading vectors");
    return 0;
}

/* *out = the meta value (caller frees), or NULL when the key is absent. */
static int meta_get(struct idx_kb *kb, const char *key, char **out, struct lore_err *e)
{
    sqlite3_stmt *st;
    *out = NULL;
    if (sqlite3_prepare_v2(kb->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL))
        return idx_db_err(kb, e, "reading meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        *out = strdup(v ? (const char *)v : "");
        if (!*out) {
            sqlite3_finalize(st);
            return lore_err_set(e, LORE_ENOMEM, "out of memory");
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return idx_db_err(kb, e, "reading meta");
    return 0;
}

/* An integer meta value; def when absent or not a number. */
static int meta_int(struct idx_kb *kb, const char *key, int64_t def, int64_t *v, struct lore_err *e)
{
    char *s;
    int rc = meta_get(kb, key, &s, e);
    *v = def;
    if (rc || !s)
        return rc;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*s && !*end && errno == 0)
        *v = x;
    free(s);
    return 0;
}

static int meta_set(struct idx_kb *kb, const char *key, const char *value, struct lore_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db,
                           "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           -1, &st, NULL))
        return idx_db_err(kb, e, "writing meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : idx_db_err(kb, e, "writing meta");
}

static int meta_set_int(struct idx_kb *kb, const char *key, int64_t v, struct lore_err *e)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return meta_set(kb, key, buf, e);
}

static int meta_del(struct idx_kb *kb, const char *key, struct lore_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "DELETE FROM meta WHERE key = ?", -1, &st, NULL))
        return idx_db_err(kb, e, "writing meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : idx_db_err(kb, e, "writing meta");
}

/* vec_generation + 1, stored; *gen = the new value. */
static int gen_bump(struct idx_kb *kb, int64_t *gen, struct lore_err *e)
{
    int64_t g;
    int rc = meta_int(kb, "vec_generation", 0, &g, e);
    if (!rc)
        rc = meta_set_int(kb, "vec_generation", g + 1, e);
    if (!rc && gen)
        *gen = g + 1;
    return rc;
}

/* Runs sql (no result rows) on the connection; for SAVEPOINT/RELEASE/BEGIN. */
static int run(struct idx_kb *kb, const char *sql, struct lore_err *e)
{
    return idx_exec(kb, sql, e);
}

static int need_writable(struct idx_kb *kb, struct lore_err *e)
{
    return kb->writable ? 0
                        : lore_err_set(e, LORE_EPERM, "cannot change vectors: the knowledge base is open read-only");
}

/* ---- the stored form of a vector ---------------------------------------------- */

static int host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static void swap32(void *p, int n)
{
    unsigned char *b = p;
    for (int i = 0; i < n; i++, b += 4) {
        unsigned char t = b[0];
        b[0] = b[3];
        b[3] = t;
        t = b[1];
        b[1] = b[2];
        b[2] = t;
    }
}

/* blob (dim × float32 little-endian) → floats */
static void vec_decode(const void *blob, float *out, int dim)
{
    memcpy(out, blob, (size_t)dim * sizeof *out);
    if (!host_is_le())
        swap32(out, dim);
}

static float dotf(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return (float)s;
}

static int vec_finite(const float *v, int dim)
{
    for (int i = 0; i < dim; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* ---- per-kb state --------------------------------------------------------------- */

#if defined(LORE_HAVE_FAISS)

struct vstate {
    struct vstate *next;
    const struct idx_kb *kb;
    sqlite3 *db;
    void *index;        /* FaissIndex* (IDMap2,Flat IP), NULL until made */
    int dim;            /* of index */
    int64_t gen;        /* the vec_generation index reflects */
    int source;         /* enum idx_vec_source */
    int kind;           /* KIND_FLAT (IDMap2,Flat) or KIND_HNSW (IDMap2,HNSWFlat) */
    int64_t dead;       /* HNSW: rows deleted in place (id_map entry -1) */
    /* The exact search's quantised copy of the index's rows (see
     * exact_topk): row i = int8 codes qc[i·dim..], scale qs[i], and qr[i]
     * bounding |q·v − qs·(q·c)| / ‖q‖ (-1: a deleted row). Rows 0..qn-1 are
     * current; qn = 0 after anything but appends. */
    int8_t *qc;
    float *qs, *qr;
    size_t qn, qcap;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vstate *reg_head;

static void vstate_drop_index(struct vstate *s)
{
    if (s->index)
        faiss_Index_free(s->index);
    s->index = NULL;
    s->dim = 0;
    s->gen = -1;
    s->source = IDX_VEC_NONE;
    s->kind = KIND_FLAT;
    s->dead = 0;
    s->qn = 0;
}

static void vstate_free_q(struct vstate *s)
{
    free(s->qc);
    free(s->qs);
    free(s->qr);
    s->qc = NULL;
    s->qs = s->qr = NULL;
    s->qn = s->qcap = 0;
}

/* The SQL function's destructor: the connection is closing. */
static void vstate_destroy(void *p)
{
    struct vstate *s = p;
    pthread_mutex_lock(&reg_mu);
    for (struct vstate **pp = &reg_head; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    vstate_drop_index(s);
    vstate_free_q(s);
    free(s);
}

static void vstate_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_null(ctx);
}

/* kb's state, made on first use; NULL when out of memory. Matching the
 * connection too means a new kb at a freed kb's address never gets its
 * state: the old connection's destructor has unlinked it by then. */
static struct vstate *vstate_get(struct idx_kb *kb)
{
    struct vstate *s;
    pthread_mutex_lock(&reg_mu);
    for (s = reg_head; s; s = s->next)
        if (s->kb == kb && s->db == kb->db)
            break;
    pthread_mutex_unlock(&reg_mu);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->kb = kb;
    s->db = kb->db;
    s->gen = -1;
    pthread_mutex_lock(&reg_mu);
    s->next = reg_head;
    reg_head = s;
    pthread_mutex_unlock(&reg_mu);
    /* on failure SQLite calls vstate_destroy itself */
    if (sqlite3_create_function_v2(kb->db, "lore_vectors_state", 0, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                   s, vstate_fn, NULL, NULL, vstate_destroy) != SQLITE_OK)
        return NULL;
    return s;
}

#endif /* LORE_HAVE_FAISS */

/* ---- the model -------------------------------------------------------------------- */

int idx_vectors_model(struct idx_kb *kb, char **model_id, int *dim, struct lore_err *e)
{
    int64_t d;
    *model_id = NULL;
    *dim = 0;
    int rc = meta_int(kb, "embed_dim", 0, &d, e);
    if (!rc)
        rc = meta_get(kb, "embed_model", model_id, e);
    if (rc)
        return rc;
    if (!*model_id || d <= 0 || d > MAX_DIM) {
        free(*model_id);
        *model_id = NULL;
        return 0;
    }
    *dim = (int)d;
    return 0;
}

int idx_vectors_set_model(struct idx_kb *kb, const char *model_id, int dim, struct lore_err *e)
{
    if (need_writable(kb, e))
        return LORE_EPERM;
    if (!model_id || !model_id[0] || strlen(model_id) > 1000)
        return lore_err_set(e, LORE_EINVAL, "embedding model identity must be 1 to 1000 bytes");
    if (dim < 1 || dim > MAX_DIM)
        return lore_err_set(e, LORE_EINVAL, "embedding dimension %d is out of range (1..%d)", dim,
                            MAX_DIM);
    char *cur;
    int curdim, rc = idx_vectors_model(kb, &cur, &curdim, e);
    if (rc)
        return rc;
    if (cur && curdim == dim && strcmp(cur, model_id) == 0) {
        free(cur);
        return 0;
    }
    int64_t n = 0;
    if ((rc = scalar(kb, "SELECT count(*) FROM chunk_vectors", 0, 0, 0, 0, &n, e))) {
        free(cur);
        return rc;
    }
    if (n > 0) {
        rc = lore_err_set(e, LORE_EINVAL,
                          "the knowledge base holds %lld vectors of embedding model '%s' (dimension %d); "
                          "vectors of '%s' (dimension %d) cannot be mixed with them: clear the vectors "
                          "and re-embed every chunk with the new model",
                          (long long)n, cur ? cur : "(unrecorded)", curdim, model_id, dim);
        free(cur);
        return rc;
    }
    free(cur);
    if ((rc = run(kb, "SAVEPOINT lore_vec_model", e)))
        return rc;
    if ((rc = meta_set(kb, "embed_model", model_id, e)) ||
        (rc = meta_set_int(kb, "embed_dim", dim, e))) {
        run(kb, "ROLLBACK TO lore_vec_model; RELEASE lore_vec_model", NULL);
        return rc;
    }
    return run(kb, "RELEASE lore_vec_model", e);
}

int idx_vectors_clear(struct idx_kb *kb, struct lore_err *e)
{
    if (need_writable(kb, e))
        return LORE_EPERM;
    int rc = run(kb, "SAVEPOINT lore_vec_clear", e);
    if (rc)
        return rc;
    if ((rc = run(kb, "DELETE FROM chunk_vectors", e)) || (rc = meta_del(kb, "embed_model", e)) ||
        (rc = meta_del(kb, "embed_dim", e)) || (rc = meta_del(kb, "faiss_generation", e)) ||
        (rc = meta_del(kb, "faiss_checksum", e)) || (rc = meta_del(kb, "faiss_kind", e)) ||
        (rc = gen_bump(kb, NULL, e))) {
        run(kb, "ROLLBACK TO lore_vec_clear; RELEASE lore_vec_clear", NULL);
        return rc;
    }
    return run(kb, "RELEASE lore_vec_clear", e);
}

/* ---- storing vectors ----------------------------------------------------------------- */

int idx_vector_put(struct idx_kb *kb, int64_t chunk_id, const float *v, int dim, struct lore_err *e)
{
    if (need_writable(kb, e))
        return LORE_EPERM;
    int64_t kdim;
    int rc = meta_int(kb, "embed_dim", 0, &kdim, e);
    if (rc)
        return rc;
    if (kdim <= 0)
        return lore_err_set(e, LORE_EINVAL,
                            "no embedding model is recorded in the knowledge base; set one before storing vectors");
    if (!v || dim != kdim)
        return lore_err_set(e, LORE_EINVAL,
                            "vector for chunk %lld has dimension %d, the knowledge base's model has %lld",
                            (long long)chunk_id, dim, (long long)kdim);
    double ss = 0;
    for (int i = 0; i < dim; i++)
        ss += (double)v[i] * v[i];
    if (!vec_finite(v, dim) || !isfinite(ss) || ss <= 0)
        return lore_err_set(e, LORE_EINVAL, "vector for chunk %lld is %s", (long long)chunk_id,
                            vec_finite(v, dim) ? "all zero" : "not finite");
    float *blob = malloc((size_t)dim * sizeof *blob);
    if (!blob)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    double inv = 1.0 / sqrt(ss);
    for (int i = 0; i < dim; i++)
        blob[i] = (float)(v[i] * inv);
    if (!host_is_le())
        swap32(blob, dim);
    int64_t gen;
    if ((rc = gen_bump(kb, &gen, e))) {
        free(blob);
        return rc;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "INSERT OR REPLACE INTO chunk_vectors(chunk_id, gen, vec) VALUES(?,?,?)",
                           -1, &st, NULL)) {
        free(blob);
        return idx_db_err(kb, e, "storing vector");
    }
    sqlite3_bind_int64(st, 1, chunk_id);
    sqlite3_bind_int64(st, 2, gen);
    sqlite3_bind_blob(st, 3, blob, dim * (int)sizeof *blob, SQLITE_STATIC);
    int src = sqlite3_step(st);
    sqlite3_finalize(st);
    free(blob);
    if (src == SQLITE_DONE)
        return 0;
    if (sqlite3_extended_errcode(kb->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        return lore_err_set(e, LORE_ENOENT, "no chunk %lld to store a vector for", (long long)chunk_id);
    return idx_db_err(kb, e, "storing vector");
}

int idx_chunks_without_vectors(struct idx_kb *kb, int64_t after_id, int limit, int64_t **ids,
                               char ***texts, size_t *n, struct lore_err *e)
{
    *ids = NULL;
    *texts = NULL;
    *n = 0;
    if (limit <= 0)
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db,
                           "SELECT c.id, c.text FROM chunks c WHERE c.id > ?1 AND NOT EXISTS "
                           "(SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id) ORDER BY c.id LIMIT ?2",
                           -1, &st, NULL))
        return idx_db_err(kb, e, "listing chunks to embed");
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int(st, 2, limit);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *ni = realloc(*ids, cap * sizeof *ni);
            if (ni)
                *ids = ni;
            char **nt = ni ? realloc(*texts, cap * sizeof *nt) : NULL;
            if (nt)
                *texts = nt;
            if (!ni || !nt) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        const unsigned char *t = sqlite3_column_text(st, 1);
        char *dup = strdup(t ? (const char *)t : "");
        if (!dup) {
            rc = SQLITE_NOMEM;
            break;
        }
        (*ids)[*n] = sqlite3_column_int64(st, 0);
        (*texts)[(*n)++] = dup;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        idx_chunk_texts_free(*ids, *texts, *n);
        *ids = NULL;
        *texts = NULL;
        *n = 0;
        return rc == SQLITE_NOMEM ? lore_err_set(e, LORE_ENOMEM, "out of memory")
                                  : idx_db_err(kb, e, "listing chunks to embed");
    }
    return 0;
}

void idx_chunk_texts_free(int64_t *ids, char **texts, size_t n)
{
    if (texts)
        for (size_t i = 0; i < n; i++)
            free(texts[i]);
    free(texts);
    free(ids);
}

int idx_vectors_delete_doc(struct idx_kb *kb, int64_t doc_id, struct lore_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db,
                           "DELETE FROM chunk_vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?)",
                           -1, &st, NULL))
        return idx_db_err(kb, e, "deleting vectors");
    sqlite3_bind_int64(st, 1, doc_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "deleting vectors");
    return sqlite3_changes(kb->db) > 0 ? gen_bump(kb, NULL, e) : 0;
}

/* ---- the file's stamp ------------------------------------------------------------------- */

/* sha-256 over the file's digest and the generation it was written at, so a
 * file that does not match, or a generation edited on its own, shows. */
static void stamp_of(const void *data, size_t len, int64_t gen, char out[65])
{
    char h[65], s[128];
    lore_sha256_hex(data, len, h);
    int n = snprintf(s, sizeof s, "lore-vectors.faiss:%s:%lld", h, (long long)gen);
    lore_sha256_hex(s, (size_t)n, out);
}

static void faiss_path(struct idx_kb *kb, char *p, size_t cap, const char *suffix)
{
    snprintf(p, cap, "%s/" FAISS_FILE "%s", kb->dir, suffix);
}

/* 1 when the file exists and its bytes match the recorded stamp; then
 * *data and *len hold them (caller frees) if data is not NULL. 0 otherwise;
 * *why says why not. Negative on out of memory. */
static int file_verified(struct idx_kb *kb, int64_t *fgen, char **data, size_t *len,
                         const char **why, struct lore_err *e)
{
    char path[4200], *cs = NULL, *buf = NULL;
    size_t n = 0;
    int rc;
    struct lore_err e2;
    if (data)
        *data = NULL;
    *why = NULL;
    if ((rc = meta_int(kb, "faiss_generation", -1, fgen, e)) || (rc = meta_get(kb, "faiss_checksum", &cs, e)))
        return rc;
    faiss_path(kb, path, sizeof path, "");
    rc = lore_read_file(path, &buf, &n, 0, &e2);
    if (rc == LORE_ENOMEM) {
        free(cs);
        return lore_err_set(e, LORE_ENOMEM, "out of memory reading '%s'", path);
    }
    if (rc) {
        *why = rc == LORE_ENOENT ? "missing" : "unreadable";
        free(cs);
        return 0;
    }
    if (*fgen < 0 || !cs) {
        *why = "not recorded in the database";
    } else {
        char st[65];
        stamp_of(buf, n, *fgen, st);
        if (strcmp(st, cs) != 0)
            *why = "checksum or generation does not match";
    }
    free(cs);
    if (*why || !data) {
        free(buf);
        return *why ? 0 : 1;
    }
    *data = buf;
    *len = n;
    return 1;
}

/* ---- candidates → hits ---------------------------------------------------------------------- */

static char *dup_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return strdup(s ? (const char *)s : "");
}

static int hits_push(struct idx_hits *h, size_t *cap)
{
    if (h->n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    struct idx_hit *nv = realloc(h->v, nc * sizeof *nv);
    if (!nv)
        return LORE_ENOMEM;
    h->v = nv;
    *cap = nc;
    return 0;
}

/* Appends to h, in order, the candidates that are chunks of collection coll
 * (any when 0), until h has k hits. Ids SQLite no longer has are skipped. */
static int fill_hits(struct idx_kb *kb, const int64_t *ids, const float *scores, size_t n, int64_t coll,
                     int k, struct idx_hits *h, size_t *cap, struct lore_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db,
                           "SELECT c.doc_id, d.uri, d.title, c.heading, c.text, c.page_start, c.page_end,"
                           " c.char_start, c.char_end FROM chunks c JOIN documents d ON d.id = c.doc_id"
                           " WHERE c.id = ?1 AND (?2 = 0 OR d.collection_id = ?2)",
                           -1, &st, NULL))
        return idx_db_err(kb, e, "vector search");
    int rc = 0;
    for (size_t i = 0; i < n && h->n < (size_t)k && !rc; i++) {
        if (ids[i] < 0)
            continue;
        sqlite3_bind_int64(st, 1, ids[i]);
        sqlite3_bind_int64(st, 2, coll);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            if (hits_push(h, cap)) {
                rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
                break;
            }
            struct idx_hit *x = &h->v[h->n++];
            memset(x, 0, sizeof *x);
            x->chunk_id = ids[i];
            x->doc_id = sqlite3_column_int64(st, 0);
            x->uri = dup_text(st, 1);
            x->title = dup_text(st, 2);
            x->heading = dup_text(st, 3);
            x->text = dup_text(st, 4);
            x->page_start = sqlite3_column_int(st, 5);
            x->page_end = sqlite3_column_int(st, 6);
            x->char_start = sqlite3_column_int64(st, 7);
            x->char_end = sqlite3_column_int64(st, 8);
            x->score = scores[i];
            if (!x->uri || !x->title || !x->heading || !x->text)
                rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        } else if (src != SQLITE_DONE) {
            rc = idx_db_err(kb, e, "vector search");
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- exact scan in C ------------------------------------------------------------------------ */

/* The top k of chunk_vectors (of collection coll when > 0) by inner product
 * with q, best first, ties to the smaller id. */
static int scan_topk(struct idx_kb *kb, const float *q, int dim, int k, int64_t coll, int64_t **ids_out,
                     float **sc_out, size_t *n_out, struct lore_err *e)
{
    int64_t *ids = malloc((size_t)k * sizeof *ids);
    float *sc = malloc((size_t)k * sizeof *sc);
    float *v = malloc((size_t)dim * sizeof *v);
    size_t n = 0;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if (!ids || !sc || !v) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(kb->db,
                           coll > 0 ? "SELECT v.chunk_id, v.vec FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id"
                                      " JOIN documents d ON d.id = c.doc_id"
                                      " WHERE d.collection_id = ?2 AND length(v.vec) = ?1"
                                    : "SELECT chunk_id, vec FROM chunk_vectors WHERE length(vec) = ?1",
                           -1, &st, NULL)) {
        rc = idx_db_err(kb, e, "vector search");
        goto out;
    }
    sqlite3_bind_int64(st, 1, (int64_t)dim * 4);
    if (coll > 0)
        sqlite3_bind_int64(st, 2, coll);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 1);
        if (!b)
            continue;
        int64_t id = sqlite3_column_int64(st, 0);
        vec_decode(b, v, dim);
        float s = dotf(q, v, dim);
        if (!isfinite(s))
            continue;
        /* insertion into the sorted top k */
        size_t pos = n;
        while (pos > 0 && (sc[pos - 1] < s || (sc[pos - 1] == s && ids[pos - 1] > id)))
            pos--;
        if (pos >= (size_t)k)
            continue;
        size_t last = n < (size_t)k ? n : (size_t)k - 1;
        memmove(ids + pos + 1, ids + pos, (last - pos) * sizeof *ids);
        memmove(sc + pos + 1, sc + pos, (last - pos) * sizeof *sc);
        ids[pos] = id;
        sc[pos] = s;
        if (n < (size_t)k)
            n++;
    }
    if (src != SQLITE_DONE)
        rc = idx_db_err(kb, e, "vector search");
out:
    sqlite3_finalize(st);
    free(v);
    if (rc) {
        free(ids);
        free(sc);
        return rc;
    }
    *ids_out = ids;
    *sc_out = sc;
    *n_out = n;
    return 0;
}

/* ---- the FAISS index --------------------------------------------------------------------------- */

#if defined(LORE_HAVE_FAISS)

/* Copies FAISS's last error at once: its pointer expires on the next call. */
static int faiss_fail(struct lore_err *e, int status, const char *what)
{
    const char *m = faiss_get_last_error();
    return lore_err_set(e, status, "%s: %s", what, m && *m ? m : "unknown FAISS error");
}

/* The HNSW settings and the size from which HNSW is used, from meta. */
struct hnsw_cfg {
    int64_t threshold;
    int m, ef_construction, ef_search;
};

static int clampi(int64_t v, int lo, int hi, int def)
{
    return v < lo || v > hi ? def : (int)v;
}

static int hnsw_cfg_read(struct idx_kb *kb, struct hnsw_cfg *c, struct lore_err *e)
{
    int64_t t, m, efc, ef;
    int rc;
    if ((rc = meta_int(kb, "vec_hnsw_threshold", HNSW_THRESHOLD_DEF, &t, e)) ||
        (rc = meta_int(kb, "vec_hnsw_m", HNSW_M_DEF, &m, e)) ||
        (rc = meta_int(kb, "vec_hnsw_ef_construction", HNSW_EFC_DEF, &efc, e)) ||
        (rc = meta_int(kb, "vec_hnsw_ef_search", HNSW_EF_DEF, &ef, e)))
        return rc;
    c->threshold = t > 0 ? t : HNSW_THRESHOLD_DEF;
    c->m = clampi(m, 4, 128, HNSW_M_DEF);
    c->ef_construction = clampi(efc, 8, 4096, HNSW_EFC_DEF);
    c->ef_search = clampi(ef, 1, MAX_K, HNSW_EF_DEF);
    return 0;
}

static int index_new(int dim, int kind, const struct hnsw_cfg *cfg, FaissIndex **out, struct lore_err *e)
{
    FaissIndex *flat = NULL;
    FaissIndexIDMap2 *map = NULL;
    *out = NULL;
    if (kind == KIND_HNSW) {
        if (lore_faiss_hnsw_new(&flat, dim, cfg->m, cfg->ef_construction))
            return lore_err_set(e, LORE_ENOMEM, "creating the vector index: %s", lore_faiss_last_error());
    } else if (faiss_IndexFlatIP_new_with((FaissIndexFlatIP **)&flat, dim)) {
        return faiss_fail(e, LORE_ENOMEM, "creating the vector index");
    }
    if (faiss_IndexIDMap2_new(&map, flat)) {
        int rc = faiss_fail(e, LORE_ENOMEM, "creating the vector index");
        faiss_Index_free(flat);
        return rc;
    }
    faiss_IndexIDMap2_set_own_fields(map, 1);
    *out = map;
    return 0;
}

/* Adds the rows of stmt (chunk_id, vec), vec of dim floats, in batches. */
static int index_add_rows(struct idx_kb *kb, FaissIndex *ix, sqlite3_stmt *st, int dim, size_t batch,
                          struct lore_err *e)
{
    int64_t *ids = malloc(batch * sizeof *ids);
    float *x = malloc(batch * (size_t)dim * sizeof *x);
    int rc = 0, src;
    size_t n = 0;
    if (!ids || !x) {
        free(ids);
        free(x);
        return lore_err_set(e, LORE_ENOMEM, "out of memory building the vector index");
    }
    for (;;) {
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            const void *b = sqlite3_column_blob(st, 1);
            if (!b || sqlite3_column_bytes(st, 1) != dim * 4)
                continue;
            ids[n] = sqlite3_column_int64(st, 0);
            vec_decode(b, x + n * (size_t)dim, dim);
            n++;
        }
        if (n == batch || (src != SQLITE_ROW && n > 0)) {
            if (faiss_Index_add_with_ids(ix, (idx_t)n, x, ids)) {
                rc = faiss_fail(e, LORE_ENOMEM, "building the vector index");
                break;
            }
            n = 0;
        }
        if (src != SQLITE_ROW) {
            if (src != SQLITE_DONE)
                rc = idx_db_err(kb, e, "building the vector index");
            break;
        }
    }
    free(ids);
    free(x);
    return rc;
}

static int index_build(struct idx_kb *kb, struct vstate *s, int dim, int64_t gen, int kind,
                       const struct hnsw_cfg *cfg, struct lore_err *e)
{
    FaissIndex *ix;
    int rc = index_new(dim, kind, cfg, &ix, e);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "SELECT chunk_id, vec FROM chunk_vectors WHERE length(vec) = ?1 ORDER BY chunk_id",
                           -1, &st, NULL)) {
        faiss_Index_free(ix);
        return idx_db_err(kb, e, "building the vector index");
    }
    sqlite3_bind_int64(st, 1, (int64_t)dim * 4);
    rc = index_add_rows(kb, ix, st, dim, kind == KIND_HNSW ? HNSW_BATCH : BATCH, e);
    sqlite3_finalize(st);
    if (rc) {
        faiss_Index_free(ix);
        return rc;
    }
    vstate_drop_index(s);
    s->index = ix;
    s->dim = dim;
    s->gen = gen;
    s->source = IDX_VEC_BUILT;
    s->kind = kind;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Brings s->index from generation s->gen to gen: removes the ids that are
 * gone or rewritten, adds the rows written since. */
static int index_update(struct idx_kb *kb, struct vstate *s, int64_t gen, struct lore_err *e)
{
    idx_t *map;
    size_t nheld = 0, npres = 0, capp = 0, nrm = 0;
    faiss_IndexIDMap2_id_map(s->index, &map, &nheld);
    int64_t *held = malloc((nheld + 1) * sizeof *held), *pres = NULL, *rm = NULL;
    int rc = 0, src;
    sqlite3_stmt *st = NULL;
    if (!held)
        goto oom;
    {
        size_t m = 0;
        for (size_t i = 0; i < nheld; i++)
            if (map[i] >= 0) /* HNSW rows deleted in place are -1 */
                held[m++] = map[i];
        nheld = m;
    }
    qsort(held, nheld, sizeof *held, cmp_i64);
    /* ids present now */
    if (sqlite3_prepare_v2(kb->db, "SELECT chunk_id FROM chunk_vectors WHERE length(vec) = ?1 ORDER BY chunk_id",
                           -1, &st, NULL))
        goto db;
    sqlite3_bind_int64(st, 1, (int64_t)s->dim * 4);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (npres == capp) {
            capp = capp ? capp * 2 : 1024;
            int64_t *np = realloc(pres, capp * sizeof *np);
            if (!np)
                goto oom;
            pres = np;
        }
        pres[npres++] = sqlite3_column_int64(st, 0);
    }
    if (src != SQLITE_DONE)
        goto db;
    sqlite3_finalize(st);
    st = NULL;
    /* ids written since s->gen */
    if (sqlite3_prepare_v2(kb->db, "SELECT chunk_id FROM chunk_vectors WHERE gen > ?1 AND length(vec) = ?2",
                           -1, &st, NULL))
        goto db;
    sqlite3_bind_int64(st, 1, s->gen);
    sqlite3_bind_int64(st, 2, (int64_t)s->dim * 4);
    rm = malloc((nheld + 1) * sizeof *rm);
    if (!rm)
        goto oom;
    /* held but gone */
    for (size_t i = 0, j = 0; i < nheld; i++) {
        while (j < npres && pres[j] < held[i])
            j++;
        if (j == npres || pres[j] != held[i])
            rm[nrm++] = held[i];
    }
    /* held and rewritten */
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (bsearch(&id, held, nheld, sizeof *held, cmp_i64) && nrm < nheld)
            rm[nrm++] = id;
    }
    if (src != SQLITE_DONE)
        goto db;
    sqlite3_finalize(st);
    st = NULL;
    if (nrm && s->kind == KIND_HNSW) {
        /* HNSW cannot remove: the rows are deleted in place, their id_map
         * entries set to -1 (so FAISS reports them as -1, which fill_hits
         * skips, and the exact scan skips them too); a rebuild reclaims
         * them once they are a quarter of the index */
        qsort(rm, nrm, sizeof *rm, cmp_i64);
        idx_t *m;
        size_t nm;
        faiss_IndexIDMap2_id_map(s->index, &m, &nm);
        for (size_t i = 0; i < nm; i++)
            if (m[i] >= 0 && bsearch(&m[i], rm, nrm, sizeof *rm, cmp_i64)) {
                m[i] = -1;
                s->dead++;
                if (i < s->qn)
                    s->qr[i] = -1;
            }
    } else if (nrm) {
        s->qn = 0; /* the flat index compacts its rows */
        FaissIDSelectorBatch *sel = NULL;
        size_t removed = 0;
        if (faiss_IDSelectorBatch_new(&sel, nrm, rm)) {
            rc = faiss_fail(e, LORE_ENOMEM, "updating the vector index");
            goto out;
        }
        int frc = faiss_Index_remove_ids(s->index, (const FaissIDSelector *)sel, &removed);
        faiss_IDSelector_free((FaissIDSelector *)sel);
        if (frc) {
            rc = faiss_fail(e, LORE_EINTERNAL, "updating the vector index");
            goto out;
        }
    }
    /* add what was written since */
    if (sqlite3_prepare_v2(kb->db, "SELECT chunk_id, vec FROM chunk_vectors WHERE gen > ?1 ORDER BY chunk_id",
                           -1, &st, NULL))
        goto db;
    sqlite3_bind_int64(st, 1, s->gen);
    if ((rc = index_add_rows(kb, s->index, st, s->dim, s->kind == KIND_HNSW ? HNSW_BATCH : BATCH, e)))
        goto out;
    s->gen = gen;
    if (s->source != IDX_VEC_BUILT)
        s->source = IDX_VEC_UPDATED;
    goto out;
oom:
    rc = lore_err_set(e, LORE_ENOMEM, "out of memory updating the vector index");
    goto out;
db:
    rc = idx_db_err(kb, e, "updating the vector index");
out:
    sqlite3_finalize(st);
    free(held);
    free(pres);
    free(rm);
    return rc;
}

/* Reads vectors.faiss if its stamp verifies and it is the index we expect.
 * 0: loaded (or not usable: s->index stays NULL); negative: out of memory. */
static int index_load(struct idx_kb *kb, struct vstate *s, int dim, int64_t gen, struct lore_err *e)
{
    char *data;
    size_t len;
    int64_t fgen;
    const char *why;
    int rc = file_verified(kb, &fgen, &data, &len, &why, e);
    if (rc <= 0)
        return rc;
    if (fgen > gen) { /* written for vectors this database does not have */
        free(data);
        return 0;
    }
    FILE *f = fmemopen(data, len, "rb");
    FaissIndex *ix = NULL;
    if (f) {
        if (faiss_read_index(f, 0, &ix))
            ix = NULL;
        fclose(f);
    }
    free(data);
    if (!ix)
        return 0;
    int kind = faiss_IndexIDMap2_cast(ix) ? lore_faiss_kind(ix) : -1;
    /* flat: inner product; HNSW: L2 over the unit vectors (inner product
     * in files written before that) */
    FaissMetricType mt = kind >= 0 ? faiss_Index_metric_type(ix) : METRIC_INNER_PRODUCT;
    if (kind < 0 || faiss_Index_d(ix) != dim ||
        !(mt == METRIC_INNER_PRODUCT || (kind == KIND_HNSW && mt == METRIC_L2)) || lore_faiss_prepare(ix)) {
        faiss_Index_free(ix);
        return 0;
    }
    vstate_drop_index(s);
    s->index = ix;
    s->dim = dim;
    s->gen = fgen;
    s->source = IDX_VEC_LOADED;
    s->kind = kind;
    idx_t *m;
    size_t nm;
    faiss_IndexIDMap2_id_map(ix, &m, &nm);
    for (size_t i = 0; i < nm; i++)
        s->dead += m[i] < 0;
    return 0;
}

static int64_t index_live(const struct vstate *s)
{
    return s->index ? faiss_Index_ntotal(s->index) - s->dead : 0;
}

/* The kind of index count vectors get. */
static int kind_for(int64_t count, const struct hnsw_cfg *cfg)
{
    return count >= cfg->threshold ? KIND_HNSW : KIND_FLAT;
}

/* Makes s->index reflect generation gen of count vectors of dimension dim,
 * in the read snapshot the caller holds, of the kind count calls for. */
static int index_ensure(struct idx_kb *kb, struct vstate *s, int dim, int64_t gen, int64_t count,
                        struct lore_err *e)
{
    struct hnsw_cfg cfg;
    int rc = hnsw_cfg_read(kb, &cfg, e);
    if (rc)
        return rc;
    int want = kind_for(count, &cfg);
    if (s->index && (s->dim != dim || s->gen > gen || s->kind != want))
        vstate_drop_index(s);
    if (s->index && s->gen == gen && index_live(s) == count)
        return 0;
    if (!s->index && (rc = index_load(kb, s, dim, gen, e)))
        return rc;
    if (s->index && s->kind != want)
        vstate_drop_index(s);
    if (s->index && s->gen < gen) {
        struct lore_err e2;
        if ((rc = index_update(kb, s, gen, &e2))) {
            if (rc == LORE_ENOMEM)
                return lore_err_set(e, rc, "%s", e2.msg);
            vstate_drop_index(s); /* rebuild below */
        }
    }
    if (s->index && (index_live(s) != count || s->dead * 4 > faiss_Index_ntotal(s->index)))
        vstate_drop_index(s);
    if (!s->index) {
        if ((rc = index_build(kb, s, dim, gen, want, &cfg, e)))
            return rc;
        if (index_live(s) != count)
            return lore_err_set(e, LORE_EINTERNAL, "vector index holds %lld vectors, the database %lld",
                                (long long)index_live(s), (long long)count);
    }
    return 0;
}

/* ---- exact search over the index's rows --------------------------------------------------------
 *
 * A scan of float32 rows is bound by memory bandwidth (1.5 KB a row at
 * dimension 384). So the scan reads an int8 copy instead (a quarter of the
 * bytes) and stays exact: row v is stored as codes c and scale s with
 * v = s·c + r, and qr = ‖r‖ plus the float rounding of the scan, so by
 * Cauchy–Schwarz the true q·v lies within ‖q‖·qr of the scanned s·(q·c).
 * A row whose upper bound is below the k-th largest lower bound cannot be
 * in the top k; the rows left (typically a handful more than k) are scored
 * exactly from the float32 rows, in double precision like the scan of
 * SQLite, and ranked by score, then id. */

/* Quantises rows qn..n-1 of the index (all of them when qn is 0). */
static int q_sync(struct vstate *s, struct lore_err *e)
{
    const float *xb;
    size_t n;
    idx_t *map;
    size_t nm;
    if (lore_faiss_vectors(s->index, &xb, &n))
        return lore_err_set(e, LORE_EINTERNAL, "vector index without float vectors");
    faiss_IndexIDMap2_id_map(s->index, &map, &nm);
    if (nm != n)
        return lore_err_set(e, LORE_EINTERNAL, "vector index ids and rows disagree");
    size_t dim = (size_t)s->dim;
    if (s->qn > n)
        s->qn = 0;
    if (n > s->qcap) {
        size_t cap = n + n / 8 + 1024;
        int8_t *c = realloc(s->qc, cap * dim);
        if (c)
            s->qc = c;
        float *qs = c ? realloc(s->qs, cap * sizeof *qs) : NULL;
        if (qs)
            s->qs = qs;
        float *qr = qs ? realloc(s->qr, cap * sizeof *qr) : NULL;
        if (qr)
            s->qr = qr;
        if (!qr)
            return lore_err_set(e, LORE_ENOMEM, "out of memory for the vector index");
        s->qcap = cap;
    }
    /* the scan's own rounding: a sum of dim products in float, then ×scale */
    const double eps = (double)(dim + 4) * 1.2e-7;
    for (size_t i = s->qn; i < n; i++) {
        const float *v = xb + i * dim;
        int8_t *c = s->qc + i * dim;
        float mx = 0;
        for (size_t j = 0; j < dim; j++)
            mx = fmaxf(mx, fabsf(v[j]));
        double sc = mx > 0 ? (double)mx / 127.0 : 0, inv = mx > 0 ? 127.0 / (double)mx : 0;
        float scf = (float)sc;
        double rr = 0, vv = 0;
        for (size_t j = 0; j < dim; j++) {
            long t = lrint((double)v[j] * inv);
            t = t > 127 ? 127 : t < -127 ? -127 : t;
            c[j] = (int8_t)t;
            double d = (double)v[j] - (double)scf * (double)t;
            rr += d * d;
            vv += (double)v[j] * v[j];
        }
        double r = sqrt(rr), b = r + eps * (sqrt(vv) + r);
        s->qs[i] = scf;
        s->qr[i] = map[i] < 0 ? -1.0f : (float)(b * (1 + 1e-6) + 1e-30);
    }
    s->qn = n;
    return 0;
}

/* one thread's share of the scan */
struct scan_part {
    const struct vstate *s;
    const float *q;
    float qn;               /* ‖q‖, rounded up */
    size_t kk, n;
    _Atomic size_t *cursor;
    const struct eng_vecf *vf;
    float *heap;            /* min-heap of the kk largest lower bounds */
    size_t hn;
    uint32_t *cand;         /* rows whose upper bound reached the heap's least */
    float *cand_hi;
    size_t nc, cap;
    int oom;
};

static void heap_push(float *h, size_t *n, size_t cap, float x)
{
    if (*n < cap) {
        size_t i = (*n)++;
        while (i > 0 && h[(i - 1) / 2] > x) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = x;
        return;
    }
    if (x <= h[0])
        return;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        float best = x;
        if (l < cap && h[l] < best) {
            m = l;
            best = h[l];
        }
        if (l + 1 < cap && h[l + 1] < best)
            m = l + 1;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
}

static void *scan_run(void *arg)
{
    struct scan_part *p = arg;
    const struct vstate *s = p->s;
    size_t dim = (size_t)s->dim;
    float raw[SCAN_CHUNK];
    for (;;) {
        size_t lo = atomic_fetch_add(p->cursor, SCAN_CHUNK);
        if (lo >= p->n)
            break;
        size_t m = p->n - lo < SCAN_CHUNK ? p->n - lo : SCAN_CHUNK;
        p->vf->dot_i8_rows(p->q, s->qc + lo * dim, (int)dim, m, raw);
        float thr = p->hn == p->kk ? p->heap[0] : -INFINITY;
        for (size_t j = 0; j < m; j++) {
            float r = s->qr[lo + j];
            if (r < 0)
                continue;
            float a = s->qs[lo + j] * raw[j], b = p->qn * r;
            float hi = a + b;
            if (hi < thr)
                continue;
            heap_push(p->heap, &p->hn, p->kk, a - b);
            if (p->hn == p->kk)
                thr = p->heap[0];
            if (p->nc == p->cap) {
                /* drop the candidates the threshold has passed by since */
                size_t w = 0;
                for (size_t i = 0; i < p->nc; i++)
                    if (p->cand_hi[i] >= thr) {
                        p->cand[w] = p->cand[i];
                        p->cand_hi[w++] = p->cand_hi[i];
                    }
                p->nc = w;
                if (w > p->cap / 2) {
                    size_t nc = p->cap * 2;
                    uint32_t *c = realloc(p->cand, nc * sizeof *c);
                    if (c)
                        p->cand = c;
                    float *ch = c ? realloc(p->cand_hi, nc * sizeof *ch) : NULL;
                    if (!ch) {
                        p->oom = 1;
                        return NULL;
                    }
                    p->cand_hi = ch;
                    p->cap = nc;
                }
            }
            p->cand[p->nc] = (uint32_t)(lo + j);
            p->cand_hi[p->nc++] = hi;
        }
    }
    return NULL;
}

struct scored {
    int64_t id;
    float sc;
};

static int cmp_scored(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->sc != y->sc)
        return x->sc > y->sc ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_f_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

/* The exact top kk of the index's rows by inner product with q: ids and
 * scores best first (ties to the smaller id), *n of them. */
static int exact_topk(struct vstate *s, const float *q, size_t kk, int64_t **ids_out, float **sc_out, size_t *n_out,
                      struct lore_err *e)
{
    int rc = q_sync(s, e);
    if (rc)
        return rc;
    const float *xb;
    size_t n;
    idx_t *map;
    size_t nm;
    lore_faiss_vectors(s->index, &xb, &n);
    faiss_IndexIDMap2_id_map(s->index, &map, &nm);
    int dim = s->dim;
    double qq = 0;
    for (int i = 0; i < dim; i++)
        qq += (double)q[i] * q[i];
    _Atomic size_t cursor = 0;
    struct scan_part part[2];
    int nt = n >= SCAN_MT_MIN ? 2 : 1;
    memset(part, 0, sizeof part);
    for (int t = 0; t < nt; t++) {
        struct scan_part *p = &part[t];
        p->s = s;
        p->q = q;
        p->qn = (float)(sqrt(qq) * (1 + 1e-6));
        p->kk = kk;
        p->n = n;
        p->cursor = &cursor;
        p->vf = eng_vecf_get();
        p->cap = kk * 2 + 64;
        p->heap = malloc(kk * sizeof *p->heap);
        p->cand = malloc(p->cap * sizeof *p->cand);
        p->cand_hi = malloc(p->cap * sizeof *p->cand_hi);
        if (!p->heap || !p->cand || !p->cand_hi)
            p->oom = 1;
    }
    pthread_t th;
    int spawned = 0;
    if (!part[0].oom && !part[1].oom) {
        if (nt == 2)
            spawned = pthread_create(&th, NULL, scan_run, &part[1]) == 0;
        scan_run(&part[0]);
        if (spawned)
            pthread_join(th, NULL);
    }
    /* the kk-th largest lower bound over both shares */
    float thr = -INFINITY;
    float *lows = NULL;
    struct scored *c = NULL;
    size_t nc = 0;
    if (part[0].oom || part[1].oom)
        goto oom;
    size_t nl = part[0].hn + part[1].hn;
    lows = malloc((nl + 1) * sizeof *lows);
    c = malloc((part[0].nc + part[1].nc + 1) * sizeof *c);
    if (!lows || !c)
        goto oom;
    for (int t = 0, m = 0; t < nt; t++)
        for (size_t i = 0; i < part[t].hn; i++)
            lows[m++] = part[t].heap[i];
    if (nl >= kk) {
        qsort(lows, nl, sizeof *lows, cmp_f_desc);
        thr = lows[kk - 1];
    }
    /* the rows that may be in the top kk, scored exactly */
    for (int t = 0; t < nt; t++)
        for (size_t i = 0; i < part[t].nc; i++) {
            if (part[t].cand_hi[i] < thr)
                continue;
            uint32_t r = part[t].cand[i];
            float sc = dotf(q, xb + (size_t)r * dim, dim);
            if (!isfinite(sc))
                continue;
            c[nc].id = map[r];
            c[nc++].sc = sc;
        }
    qsort(c, nc, sizeof *c, cmp_scored);
    if (nc > kk)
        nc = kk;
    int64_t *ids = malloc((nc + 1) * sizeof *ids);
    float *sc = malloc((nc + 1) * sizeof *sc);
    if (!ids || !sc) {
        free(ids);
        free(sc);
        goto oom;
    }
    for (size_t i = 0; i < nc; i++) {
        ids[i] = c[i].id;
        sc[i] = c[i].sc;
    }
    *ids_out = ids;
    *sc_out = sc;
    *n_out = nc;
    goto out;
oom:
    rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
out:
    for (int t = 0; t < 2; t++) {
        free(part[t].heap);
        free(part[t].cand);
        free(part[t].cand_hi);
    }
    free(lows);
    free(c);
    return rc;
}

static void hits_clear(struct idx_hits *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].uri);
        free(h->v[i].title);
        free(h->v[i].heading);
        free(h->v[i].text);
        free(h->v[i].snippet);
    }
    h->n = 0;
}

/* Nearest neighbours through the index, deepening the search until k hits
 * of the collection are found or every vector has been considered. */
static int faiss_search(struct idx_kb *kb, struct vstate *s, const float *q, int k, int64_t coll, int exact,
                        int ef, struct idx_hits *h, struct lore_err *e)
{
    int64_t total = faiss_Index_ntotal(s->index);
    if (s->kind != KIND_HNSW)
        exact = 1;
    if (total <= 0)
        return 0;
    int64_t kk = coll ? (int64_t)k * 4 : k;
    if (kk < 16)
        kk = 16;
    size_t cap = h->n;
    for (;;) {
        if (kk > total)
            kk = total;
        float *d = malloc((size_t)kk * sizeof *d);
        idx_t *lab = malloc((size_t)kk * sizeof *lab);
        if (!d || !lab) {
            free(d);
            free(lab);
            return lore_err_set(e, LORE_ENOMEM, "out of memory");
        }
        int rc = 0;
        if (exact) {
            int64_t *ids = NULL;
            float *sc = NULL;
            size_t n = 0;
            if (!(rc = exact_topk(s, q, (size_t)kk, &ids, &sc, &n, e))) {
                rc = fill_hits(kb, ids, sc, n, coll, k, h, &cap, e);
                free(ids);
                free(sc);
            }
        } else {
            lore_faiss_hnsw_set_ef(s->index, ef > kk ? ef : (int)kk);
            if (lore_faiss_search1(s->index, q, kk, d, lab))
                rc = lore_err_set(e, LORE_EINTERNAL, "vector search: %s", lore_faiss_last_error());
            else
                rc = fill_hits(kb, lab, d, (size_t)kk, coll, k, h, &cap, e);
        }
        free(d);
        free(lab);
        if (rc || h->n >= (size_t)k || kk >= total)
            return rc;
        hits_clear(h);
        kk *= 4;
    }
}

#endif /* LORE_HAVE_FAISS */

/* ---- vector search ------------------------------------------------------------------------ */

/* Starts a read transaction unless the caller is in one; *own says so. */
static int read_begin(struct idx_kb *kb, int *own, struct lore_err *e)
{
    *own = sqlite3_get_autocommit(kb->db) != 0;
    return *own ? run(kb, "BEGIN", e) : 0;
}

static void read_end(struct idx_kb *kb, int own)
{
    if (own && sqlite3_exec(kb->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(kb->db, "ROLLBACK", NULL, NULL, NULL);
}

/* The kb's dimension and generation, in the snapshot, and when count is
 * not NULL the number of usable vectors (a scan: not on the query path). */
static int vec_state(struct idx_kb *kb, int *dim, int64_t *gen, int64_t *count, struct lore_err *e)
{
    int64_t d;
    int rc = meta_int(kb, "embed_dim", 0, &d, e);
    if (!rc)
        rc = meta_int(kb, "vec_generation", 0, gen, e);
    *dim = d > 0 && d <= MAX_DIM ? (int)d : 0;
    if (count) {
        *count = 0;
        if (!rc && *dim)
            rc = scalar(kb, "SELECT count(*) FROM chunk_vectors WHERE length(vec) = ?1", 1, (int64_t)*dim * 4,
                        0, 0, count, e);
    }
    return rc;
}

int idx_search_vector(struct idx_kb *kb, const float *q, int dim, int k, const char *collection,
                      struct idx_hits **out, struct lore_err *e)
{
    return idx_search_vector_ex(kb, q, dim, k, collection, NULL, out, e);
}

int idx_search_vector_ex(struct idx_kb *kb, const float *q, int dim, int k, const char *collection,
                         const struct idx_vsearch_opts *o, struct idx_hits **out, struct lore_err *e)
{
    *out = NULL;
    int exact = o && o->exact, ef = o ? o->ef_search : 0;
    (void)exact;
    (void)ef;
    if (!q || dim <= 0)
        return lore_err_set(e, LORE_EINVAL, "no query vector");
    if (!vec_finite(q, dim))
        return lore_err_set(e, LORE_EINVAL, "query vector is not finite");
    if (k <= 0)
        k = 10;
    if (k > MAX_K)
        k = MAX_K;
    int64_t coll = 0;
    int rc;
    if (collection && (rc = idx_collection_find(kb, collection, &coll, e)))
        return rc;
    struct idx_hits *h = calloc(1, sizeof *h);
    if (!h)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    int own, kdim;
    int64_t gen;
    if ((rc = read_begin(kb, &own, e))) {
        free(h);
        return rc;
    }
    if ((rc = vec_state(kb, &kdim, &gen, NULL, e)))
        goto done;
    if (kdim == 0)
        goto done;
    if (dim != kdim) {
        rc = lore_err_set(e, LORE_EINVAL,
                          "query vector has dimension %d but the knowledge base's vectors have %d; "
                          "embed the query with the knowledge base's model",
                          dim, kdim);
        goto done;
    }
#if defined(LORE_HAVE_FAISS)
    struct vstate *s = vstate_get(kb);
    if (!s) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto done;
    }
    struct hnsw_cfg cfg;
    if ((rc = hnsw_cfg_read(kb, &cfg, e)))
        goto done;
    if (ef <= 0)
        ef = cfg.ef_search;
    /* In the caller's transaction the cache is used only when it is current:
     * updating it from uncommitted rows could outlive a rollback. */
    if (s->index && s->gen == gen && s->dim == dim && (!own || s->kind == kind_for(index_live(s), &cfg))) {
        rc = faiss_search(kb, s, q, k, coll, exact, ef, h, e);
        goto done;
    }
    if (own) {
        int64_t count;
        if ((rc = vec_state(kb, &kdim, &gen, &count, e)) || count == 0)
            goto done;
        if (!(rc = index_ensure(kb, s, dim, gen, count, e)))
            rc = faiss_search(kb, s, q, k, coll, exact, ef, h, e);
        goto done;
    }
#endif
    {
        int64_t *ids;
        float *sc;
        size_t n;
        size_t cap = 0;
        if (!(rc = scan_topk(kb, q, dim, k, coll, &ids, &sc, &n, e))) {
            rc = fill_hits(kb, ids, sc, n, coll, k, h, &cap, e);
            free(ids);
            free(sc);
        }
    }
done:
    read_end(kb, own);
    if (rc) {
        idx_hits_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

/* ---- hybrid search ---------------------------------------------------------------------- */

void idx_hybrid_opts_default(struct idx_hybrid_opts *o)
{
    memset(o, 0, sizeof *o);
    idx_search_opts_default(&o->bm25);
    o->k = 10;
    o->n_bm25 = 50;
    o->n_vec = 50;
    o->rrf_k = 60;
    o->w_bm25 = 1;
    o->w_vec = 1;
}

struct cand {
    int64_t id;
    int rb, rv;             /* 1-based ranks, 0 = absent */
    double sb, sv, rrf;
    struct idx_hit *src;    /* the hit whose strings move to the result */
};

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->rrf != y->rrf)
        return x->rrf > y->rrf ? -1 : 1;
    int bx = x->rb && (!x->rv || x->rb < x->rv) ? x->rb : x->rv;
    int by = y->rb && (!y->rv || y->rb < y->rv) ? y->rb : y->rv;
    if (bx != by)
        return bx < by ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int clamp_n(int n, int def)
{
    return n <= 0 ? def : n > MAX_K ? MAX_K : n;
}

int idx_search_hybrid(struct idx_kb *kb, const char *query, const float *qvec, int qdim,
                      const struct idx_hybrid_opts *o, struct idx_hits **out, struct lore_err *e)
{
    struct idx_hybrid_opts def;
    if (!o) {
        idx_hybrid_opts_default(&def);
        o = &def;
    }
    *out = NULL;
    int k = clamp_n(o->k, 10);
    double rrf_k = o->rrf_k >= 0 && isfinite(o->rrf_k) ? o->rrf_k : 60;
    struct idx_search_opts bo = o->bm25;
    bo.k = clamp_n(o->n_bm25, 50);
    struct idx_hits *hb = NULL, *hv = NULL, *h = NULL;
    struct cand *c = NULL;
    int rc = idx_search_bm25(kb, query ? query : "", &bo, &hb, e);
    if (rc)
        return rc;
    if (qvec) {
        char *model;
        int kdim;
        if ((rc = idx_vectors_model(kb, &model, &kdim, e)))
            goto out;
        free(model);
        if (kdim > 0 && qdim != kdim) {
            rc = lore_err_set(e, LORE_EINVAL,
                              "query vector has dimension %d but the knowledge base's vectors have %d; "
                              "embed the query with the knowledge base's model",
                              qdim, kdim);
            goto out;
        }
        if (kdim > 0 && (rc = idx_search_vector(kb, qvec, qdim, clamp_n(o->n_vec, 50), bo.collection, &hv, e)))
            goto out;
    }
    size_t nb = hb->n, nv = hv ? hv->n : 0, n = 0;
    c = calloc(nb + nv + 1, sizeof *c);
    h = calloc(1, sizeof *h);
    if (!c || !h) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nb; i++) {
        struct cand *x = &c[n++];
        x->id = hb->v[i].chunk_id;
        x->rb = (int)i + 1;
        x->sb = hb->v[i].score;
        x->src = &hb->v[i];
    }
    for (size_t i = 0; i < nv; i++) {
        struct cand *x = NULL;
        for (size_t j = 0; j < nb && !x; j++)
            if (c[j].id == hv->v[i].chunk_id)
                x = &c[j];
        if (!x) {
            x = &c[n++];
            x->id = hv->v[i].chunk_id;
            x->src = &hv->v[i];
        }
        x->rv = (int)i + 1;
        x->sv = hv->v[i].score;
    }
    for (size_t i = 0; i < n; i++) {
        c[i].rrf = 0;
        if (c[i].rb)
            c[i].rrf += o->w_bm25 / (rrf_k + c[i].rb);
        if (c[i].rv)
            c[i].rrf += o->w_vec / (rrf_k + c[i].rv);
    }
    qsort(c, n, sizeof *c, cmp_cand);
    if (n > (size_t)k)
        n = (size_t)k;
    h->v = calloc(n + 1, sizeof *h->v);
    if (!h->v) {
        rc = lore_err_set(e, LORE_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct idx_hit *x = &h->v[h->n++];
        *x = *c[i].src;
        /* the strings now belong to h */
        c[i].src->uri = c[i].src->title = c[i].src->heading = c[i].src->text = c[i].src->snippet = NULL;
        x->bm25_rank = c[i].rb;
        x->vec_rank = c[i].rv;
        x->bm25_score = c[i].sb;
        x->vec_score = c[i].sv;
        x->score = c[i].rrf;
    }
out:
    free(c);
    idx_hits_free(hb);
    idx_hits_free(hv);
    if (rc) {
        idx_hits_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

/* ---- writing vectors.faiss --------------------------------------------------------------- */

#if defined(LORE_HAVE_FAISS)
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Serialises s->index, writes it to path.tmp, fsyncs, renames over path;
 * stamp = the stamp of the bytes written. */
static int write_file(struct idx_kb *kb, struct vstate *s, char stamp[65], struct lore_err *e)
{
    char path[4200], tmp[4200];
    faiss_path(kb, path, sizeof path, "");
    faiss_path(kb, tmp, sizeof tmp, ".tmp");
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    if (!mf)
        return lore_err_set(e, LORE_ENOMEM, "out of memory writing the vector index");
    int frc = faiss_write_index(s->index, mf);
    int cerr = fclose(mf);
    if (frc || cerr) {
        int rc = frc ? faiss_fail(e, LORE_EIO, "writing the vector index")
                     : lore_err_set(e, LORE_ENOMEM, "out of memory writing the vector index");
        free(buf);
        return rc;
    }
    stamp_of(buf, len, s->gen, stamp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        free(buf);
        return lore_err_set(e, err == ENOSPC ? LORE_EFULL : LORE_EIO, "cannot create '%s': %s", tmp,
                            strerror(err));
    }
    int bad = write_all(fd, buf, len) || fsync(fd);
    int err = errno;
    free(buf);
    if (close(fd) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            err = errno;
        unlink(tmp);
        return lore_err_set(e, err == ENOSPC ? LORE_EFULL : LORE_EIO, "cannot write '%s': %s", path,
                            strerror(err));
    }
    fsync_dir(kb->dir);
    return 0;
}
#endif

int idx_vectors_sync(struct idx_kb *kb, struct lore_err *e)
{
#if !defined(LORE_HAVE_FAISS)
    (void)kb;
    (void)e;
    return 0;
#else
    if (!kb->writable)
        return lore_err_set(e, LORE_EPERM, "cannot write the vector index: the knowledge base is open read-only");
    if (!sqlite3_get_autocommit(kb->db))
        return lore_err_set(e, LORE_EINVAL, "the vector index cannot be written inside a transaction");
    struct vstate *s = vstate_get(kb);
    if (!s)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    int own, dim, rc;
    int64_t gen, count, fgen;
    const char *why;
    if ((rc = read_begin(kb, &own, e)))
        return rc;
    if ((rc = vec_state(kb, &dim, &gen, &count, e)))
        goto fail;
    if (count == 0) {
        read_end(kb, own);
        char path[4200];
        faiss_path(kb, path, sizeof path, "");
        if (unlink(path) != 0 && errno != ENOENT)
            return lore_err_set(e, LORE_EIO, "cannot remove '%s': %s", path, strerror(errno));
        if ((rc = idx_begin(kb, e)))
            return rc;
        if ((rc = meta_del(kb, "faiss_generation", e)) || (rc = meta_del(kb, "faiss_checksum", e)) ||
            (rc = meta_del(kb, "faiss_kind", e))) {
            idx_rollback(kb);
            return rc;
        }
        return idx_commit(kb, e);
    }
    rc = file_verified(kb, &fgen, NULL, NULL, &why, e);
    if (rc < 0)
        goto fail;
    if (rc == 1 && fgen == gen) {
        /* up to date, unless the index kind called for has changed */
        struct hnsw_cfg cfg;
        int64_t fkind;
        if ((rc = hnsw_cfg_read(kb, &cfg, e)) || (rc = meta_int(kb, "faiss_kind", KIND_FLAT, &fkind, e)))
            goto fail;
        if (fkind == kind_for(count, &cfg)) {
            read_end(kb, own);
            return 0;
        }
    }
    if ((rc = index_ensure(kb, s, dim, gen, count, e)))
        goto fail;
    read_end(kb, own);
    char stamp[65];
    if ((rc = write_file(kb, s, stamp, e)))
        return rc;
    /* the file is in place; now the database says which generation it is */
    if ((rc = idx_begin(kb, e)))
        return rc;
    if ((rc = meta_set_int(kb, "faiss_generation", s->gen, e)) || (rc = meta_set(kb, "faiss_checksum", stamp, e)) ||
        (rc = meta_set_int(kb, "faiss_kind", s->kind, e))) {
        idx_rollback(kb);
        return rc;
    }
    return idx_commit(kb, e);
fail:
    read_end(kb, own);
    return rc;
#endif
}

/* ---- info and check ---------------------------------------------------------------------- */

int idx_vectors_info(struct idx_kb *kb, struct idx_vectors_info *info, struct lore_err *e)
{
    memset(info, 0, sizeof *info);
    int own, rc;
    if ((rc = read_begin(kb, &own, e)))
        return rc;
    if (!(rc = vec_state(kb, &info->dim, &info->generation, &info->count, e)))
        rc = meta_int(kb, "faiss_generation", -1, &info->file_generation, e);
    read_end(kb, own);
    if (rc)
        return rc;
    info->generation_in_memory = -1;
#if defined(LORE_HAVE_FAISS)
    info->faiss = 1;
    struct vstate *s = vstate_get(kb);
    if (s && s->index) {
        info->source = s->source;
        info->in_memory = index_live(s);
        info->generation_in_memory = s->gen;
        info->hnsw = s->kind == KIND_HNSW;
        info->deleted_in_place = s->dead;
    }
#endif
    return 0;
}

static void problem(struct lore_buf *report, int *problems, const char *what, int64_t n)
{
    lore_buf_printf(report, "%s: %lld\n", what, (long long)n);
    (*problems)++;
}

void idx_vectors_check(struct idx_kb *kb, struct lore_buf *report, int *problems)
{
    struct lore_err e;
    int64_t n = 0, dim = 0;
    if (scalar(kb, "SELECT count(*) FROM chunk_vectors WHERE chunk_id NOT IN (SELECT id FROM chunks)", 0, 0, 0,
               0, &n, &e)) {
        lore_buf_printf(report, "vectors: %s\n", e.msg);
        (*problems)++;
        return;
    }
    if (n > 0)
        problem(report, problems, "vectors without a chunk", n);
    char *model = NULL;
    if (meta_int(kb, "embed_dim", 0, &dim, &e) || meta_get(kb, "embed_model", &model, &e)) {
        lore_buf_printf(report, "vectors: %s\n", e.msg);
        (*problems)++;
        return;
    }
    int has_model = model && dim > 0 && dim <= MAX_DIM;
    free(model);
    if (!has_model) {
        if (!scalar(kb, "SELECT count(*) FROM chunk_vectors", 0, 0, 0, 0, &n, &e) && n > 0)
            problem(report, problems, "vectors stored but no embedding model recorded", n);
    } else {
        if (!scalar(kb, "SELECT count(*) FROM chunk_vectors WHERE length(vec) <> ?1", 1, dim * 4, 0, 0, &n, &e) &&
            n > 0)
            problem(report, problems, "vectors whose dimension is not the model's", n);
        /* not finite, or not of unit length */
        sqlite3_stmt *st;
        float *v = malloc((size_t)dim * sizeof *v);
        int64_t bad = 0;
        if (v && sqlite3_prepare_v2(kb->db, "SELECT vec FROM chunk_vectors WHERE length(vec) = ?1", -1, &st,
                                    NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, dim * 4);
            while (sqlite3_step(st) == SQLITE_ROW) {
                const void *b = sqlite3_column_blob(st, 0);
                if (!b)
                    continue;
                vec_decode(b, v, (int)dim);
                double ss = dotf(v, v, (int)dim);
                if (!vec_finite(v, (int)dim) || !(fabs(ss - 1.0) < 1e-3))
                    bad++;
            }
            sqlite3_finalize(st);
        }
        free(v);
        if (bad)
            problem(report, problems, "vectors not finite or not normalised", bad);
    }
    int64_t gen = 0, fgen = -1;
    const char *why;
    char path[4200];
    struct stat sb;
    faiss_path(kb, path, sizeof path, "");
    if (stat(path, &sb) != 0)
        return;
    meta_int(kb, "vec_generation", 0, &gen, &e);
    if (file_verified(kb, &fgen, NULL, NULL, &why, &e) == 0 && why) {
        lore_buf_printf(report, "%s does not match the knowledge base (%s); it will be rebuilt from the stored vectors\n",
                        path, why);
        (*problems)++;
    } else if (fgen > gen) {
        lore_buf_printf(report, "%s is newer (generation %lld) than the stored vectors (%lld)\n", path,
                        (long long)fgen, (long long)gen);
        (*problems)++;
    }
}
