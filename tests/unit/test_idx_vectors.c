/* test_idx_vectors.c — the vector half of the index: storing vectors under
 * one model, exact top-k against a brute force computed here, deletion
 * purging vectors and index ids, a damaged or stale vectors.faiss rebuilt
 * (never trusted), hybrid reciprocal-rank fusion on a hand-worked example,
 * collection filters, and idx_check. Runs with or without FAISS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/index.h"

/* OpenMP's and OpenBLAS's thread pools live until exit by design. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libgomp\nleak:libopenblas\nleak:libfaiss\n";
}

static char dir[256];

static int setup(void **s)
{
    (void)s;
    snprintf(dir, sizeof dir, "/tmp/lore-test-vec-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs sql on lore.db directly (foreign keys off), for damage and counts. */
static int64_t raw(const char *sql)
{
    char p[300];
    snprintf(p, sizeof p, "%s/lore.db", dir);
    sqlite3 *db;
    sqlite3_open(p, &db);
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        else if (rc == SQLITE_DONE)
            n = 0;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static struct idx_kb *open_kb(int flags)
{
    struct idx_kb *kb;
    struct lore_err e;
    int rc = idx_open(dir, flags, &kb, &e);
    if (rc)
        fprintf(stderr, "open: %s\n", e.msg);
    assert_int_equal(rc, 0);
    return kb;
}

/* ---- random vectors and the brute force they are checked against ---------- */

static uint64_t rng = 88172645463325252ull;

static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void rand_unit(float *v, int dim)
{
    double ss = 0;
    for (int i = 0; i < dim; i++) {
        v[i] = frand();
        ss += (double)v[i] * v[i];
    }
    for (int i = 0; i < dim; i++)
        v[i] = (float)(v[i] / sqrt(ss));
}

#define DIM 24
#define MAXV 1024

struct ref {
    size_t n;
    int64_t id[MAXV];
    int coll[MAXV];     /* 0: "a", 1: "b" */
    int live[MAXV];
    float v[MAXV][DIM];
};

static struct ref R;

/* Brute-force top k of the live vectors (of collection coll, or any when
 * -1): ids best first. */
static size_t brute(const float *q, int k, int coll, int64_t *ids, float *sc)
{
    size_t n = 0;
    for (size_t i = 0; i < R.n; i++) {
        if (!R.live[i] || (coll >= 0 && R.coll[i] != coll))
            continue;
        double d = 0;
        for (int j = 0; j < DIM; j++)
            d += (double)q[j] * R.v[i][j];
        size_t pos = n;
        while (pos > 0 && sc[pos - 1] < d)
            pos--;
        if (pos >= (size_t)k)
            continue;
        size_t last = n < (size_t)k ? n : (size_t)k - 1;
        memmove(ids + pos + 1, ids + pos, (last - pos) * sizeof *ids);
        memmove(sc + pos + 1, sc + pos, (last - pos) * sizeof *sc);
        ids[pos] = R.id[i];
        sc[pos] = (float)d;
        if (n < (size_t)k)
            n++;
    }
    return n;
}

/* Adds a document of n chunks to collection cname, each with a random
 * vector recorded in R. Returns the doc id. */
static int64_t add_doc(struct idx_kb *kb, const char *cname, int ci, const char *uri, int n, int with_vec)
{
    struct lore_err e;
    int64_t coll, id;
    assert_int_equal(idx_collection_ensure(kb, cname, &coll, &e), 0);
    assert_int_equal(idx_begin(kb, &e), 0);
    struct idx_doc_in in = {coll, uri, "doc", "text/plain", "h", 10, 0, 0, "ok", NULL, NULL};
    assert_int_equal(idx_doc_put(kb, &in, &id, &e), 0);
    for (int i = 0; i < n; i++) {
        char text[200];
        snprintf(text, sizeof text, "chunk %d of %s", i, uri);
        struct idx_chunk_in c = {text, "", 1, 1, i * 10, i * 10 + 9, 4, NULL, 0};
        int64_t cid;
        assert_int_equal(idx_chunk_add(kb, id, i, &c, &cid, &e), 0);
        if (!with_vec)
            continue;
        assert_true(R.n < MAXV);
        size_t k = R.n++;
        R.id[k] = cid;
        R.coll[k] = ci;
        R.live[k] = 1;
        rand_unit(R.v[k], DIM);
        int rc = idx_vector_put(kb, cid, R.v[k], DIM, &e);
        if (rc)
            fprintf(stderr, "put: %s\n", e.msg);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(idx_commit(kb, &e), 0);
    return id;
}

static void forget_doc_chunks(int64_t first, int64_t last)
{
    for (size_t i = 0; i < R.n; i++)
        if (R.id[i] >= first && R.id[i] <= last)
            R.live[i] = 0;
}

/* idx_search_vector agrees with the brute force on nq random queries. */
static void check_queries(struct idx_kb *kb, int nq, int k, const char *coll)
{
    struct lore_err e;
    for (int t = 0; t < nq; t++) {
        float q[DIM];
        rand_unit(q, DIM);
        int64_t ids[64];
        float sc[64];
        size_t n = brute(q, k, coll ? (strcmp(coll, "a") == 0 ? 0 : 1) : -1, ids, sc);
        struct idx_hits *h;
        int rc = idx_search_vector(kb, q, DIM, k, coll, &h, &e);
        if (rc)
            fprintf(stderr, "search: %s\n", e.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(h->n, n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(h->v[i].chunk_id, ids[i]);
            assert_true(fabs(h->v[i].score - sc[i]) < 1e-4);
            assert_non_null(h->v[i].text);
        }
        idx_hits_free(h);
    }
}

static void reset_ref(void)
{
    memset(&R, 0, sizeof R);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_model_identity(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    char *m;
    int d;
    assert_int_equal(idx_vectors_model(kb, &m, &d, &e), 0);
    assert_null(m);
    assert_int_equal(d, 0);
    /* no model: no vector can be stored */
    add_doc(kb, "default", 0, "/x/one", 2, 0);
    float v[DIM] = {1};
    assert_int_equal(idx_vector_put(kb, 1, v, DIM, &e), LORE_EINVAL);
    assert_non_null(strstr(e.msg, "no embedding model"));
    assert_int_equal(idx_vectors_set_model(kb, "", DIM, &e), LORE_EINVAL);
    assert_int_equal(idx_vectors_set_model(kb, "m1", 0, &e), LORE_EINVAL);
    assert_int_equal(idx_vectors_set_model(kb, "m1", DIM, &e), 0);
    assert_int_equal(idx_vectors_set_model(kb, "m1", DIM, &e), 0);
    /* while no vector is stored, changing the model is harmless */
    assert_int_equal(idx_vectors_set_model(kb, "m0", 8, &e), 0);
    assert_int_equal(idx_vectors_set_model(kb, "m1", DIM, &e), 0);
    add_doc(kb, "default", 0, "/x/two", 3, 1);
    assert_int_equal(idx_vectors_set_model(kb, "m2", DIM, &e), LORE_EINVAL);
    assert_non_null(strstr(e.msg, "'m1'"));
    assert_non_null(strstr(e.msg, "'m2'"));
    assert_non_null(strstr(e.msg, "re-embed"));
    assert_int_equal(idx_vectors_set_model(kb, "m1", DIM + 1, &e), LORE_EINVAL);
    assert_int_equal(idx_vectors_model(kb, &m, &d, &e), 0);
    assert_string_equal(m, "m1");
    assert_int_equal(d, DIM);
    free(m);
    /* clearing allows the switch */
    assert_int_equal(idx_vectors_clear(kb, &e), 0);
    assert_int_equal(raw("SELECT count(*) FROM chunk_vectors"), 0);
    assert_int_equal(idx_vectors_set_model(kb, "m2", 8, &e), 0);
    idx_close(kb);
    assert_int_equal(raw("SELECT count(*) FROM meta WHERE key='embed_model' AND value='m2'"), 1);
}

static void test_put_validation(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", 4, &e), 0);
    add_doc(kb, "default", 0, "/x/a", 2, 0);
    float v[4] = {3, 0, 4, 0};
    assert_int_equal(idx_vector_put(kb, 1, v, 3, &e), LORE_EINVAL);
    assert_non_null(strstr(e.msg, "dimension 3"));
    assert_int_equal(idx_vector_put(kb, 999, v, 4, &e), LORE_ENOENT);
    assert_non_null(strstr(e.msg, "no chunk 999"));
    float z[4] = {0};
    assert_int_equal(idx_vector_put(kb, 1, z, 4, &e), LORE_EINVAL);
    float nan[4] = {1, NAN, 0, 0};
    assert_int_equal(idx_vector_put(kb, 1, nan, 4, &e), LORE_EINVAL);
    /* stored normalised: (3,0,4,0)/5 */
    assert_int_equal(idx_vector_put(kb, 1, v, 4, &e), 0);
    float q[4] = {0, 0, 1, 0};
    struct idx_hits *h;
    assert_int_equal(idx_search_vector(kb, q, 4, 5, NULL, &h, &e), 0);
    assert_int_equal(h->n, 1);
    assert_int_equal(h->v[0].chunk_id, 1);
    assert_true(fabs(h->v[0].score - 0.8) < 1e-6);
    idx_hits_free(h);
    /* a query of the wrong dimension is refused, not read past its end */
    assert_int_equal(idx_search_vector(kb, q, 3, 5, NULL, &h, &e), LORE_EINVAL);
    assert_null(h);
    /* replacing a vector */
    float w[4] = {0, 0, 0, 2};
    assert_int_equal(idx_vector_put(kb, 1, w, 4, &e), 0);
    assert_int_equal(idx_search_vector(kb, q, 4, 5, NULL, &h, &e), 0);
    assert_int_equal(h->n, 1);
    assert_true(fabs(h->v[0].score) < 1e-6);
    idx_hits_free(h);
    idx_close(kb);
    assert_int_equal(raw("SELECT count(*) FROM chunk_vectors"), 1);
    assert_int_equal(raw("SELECT length(vec) FROM chunk_vectors"), 16);
}

static void test_chunks_without_vectors(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    add_doc(kb, "default", 0, "/x/with", 3, 1);
    add_doc(kb, "default", 0, "/x/without", 5, 0);
    int64_t *ids;
    char **texts;
    size_t n;
    assert_int_equal(idx_chunks_without_vectors(kb, 0, 3, &ids, &texts, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 4);
    assert_int_equal(ids[2], 6);
    assert_string_equal(texts[0], "chunk 0 of /x/without");
    int64_t last = ids[n - 1];
    idx_chunk_texts_free(ids, texts, n);
    assert_int_equal(idx_chunks_without_vectors(kb, last, 100, &ids, &texts, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 7);
    idx_chunk_texts_free(ids, texts, n);
    idx_close(kb);
}

static void test_topk_matches_brute_force(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    for (int d = 0; d < 20; d++) {
        char uri[64];
        snprintf(uri, sizeof uri, "/x/doc%02d", d);
        add_doc(kb, d % 4 == 0 ? "b" : "a", d % 4 == 0, uri, 20, 1);
    }
    check_queries(kb, 25, 10, NULL);
    check_queries(kb, 5, 1, NULL);
    check_queries(kb, 5, 50, NULL);
    /* collection b is a fifth of the vectors: the index must look deeper */
    check_queries(kb, 15, 10, "b");
    check_queries(kb, 5, 10, "a");
    struct idx_vectors_info info;
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    assert_int_equal(info.count, 400);
    assert_int_equal(info.dim, DIM);
    if (info.faiss) {
        assert_int_equal(info.source, IDX_VEC_BUILT);
        assert_int_equal(info.in_memory, 400);
    }
    struct idx_hits *h;
    float q[DIM];
    rand_unit(q, DIM);
    assert_int_equal(idx_search_vector(kb, q, DIM, 10, "nope", &h, &e), LORE_ENOENT);
    /* the file, then a fresh process that loads it */
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    idx_close(kb);
    char p[300];
    struct stat sb;
    snprintf(p, sizeof p, "%s/vectors.faiss", dir);
    kb = open_kb(IDX_READ);
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    if (info.faiss) {
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(info.file_generation, info.generation);
        assert_int_equal(idx_vectors_sync(kb, &e), LORE_EPERM); /* read-only */
    }
    check_queries(kb, 10, 10, NULL);
    check_queries(kb, 5, 10, "b");
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    if (info.faiss)
        assert_int_equal(info.source, IDX_VEC_LOADED);
    /* a reader changes nothing */
    assert_int_equal(idx_vector_put(kb, R.id[0], q, DIM, &e), LORE_EPERM);
    assert_int_equal(idx_vectors_clear(kb, &e), LORE_EPERM);
    assert_int_equal(idx_vectors_set_model(kb, "other", DIM, &e), LORE_EPERM);
    idx_close(kb);
    /* the stamp lives in meta, the file matches it: check is clean */
    kb = open_kb(IDX_WRITE);
    struct lore_buf rep;
    lore_buf_init(&rep);
    int problems = -1;
    assert_int_equal(idx_check(kb, &rep, &problems, &e), 0);
    if (problems)
        fprintf(stderr, "%s", rep.data);
    assert_int_equal(problems, 0);
    lore_buf_release(&rep);
    idx_close(kb);
}

/* No hit has an id in first..last (all deleted, or reused by chunks without
 * vectors), and the query made of a deleted chunk's own vector does not find
 * it. */
static void check_purged(struct idx_kb *kb, int64_t first, int64_t last)
{
    struct lore_err e;
    for (size_t i = 0; i < R.n; i++) {
        if (R.live[i] || R.id[i] < first || R.id[i] > last)
            continue;
        struct idx_hits *h;
        assert_int_equal(idx_search_vector(kb, R.v[i], DIM, 5, NULL, &h, &e), 0);
        for (size_t j = 0; j < h->n; j++) {
            /* ids in the range are gone, or reused by chunks with no vector */
            assert_true(h->v[j].chunk_id < first || h->v[j].chunk_id > last);
            assert_true(h->v[j].score < 0.9999);
        }
        idx_hits_free(h);
    }
}

static void test_delete_purges(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    int64_t d[6];
    for (int i = 0; i < 6; i++) {
        char uri[64];
        snprintf(uri, sizeof uri, "/x/d%d", i);
        d[i] = add_doc(kb, "default", 0, uri, 10, 1);
    }
    check_queries(kb, 5, 10, NULL); /* the index is built now */
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    /* delete a document in the middle: vectors and index ids go */
    assert_int_equal(idx_begin(kb, &e), 0);
    assert_int_equal(idx_doc_delete(kb, d[2], &e), 0);
    assert_int_equal(idx_commit(kb, &e), 0);
    forget_doc_chunks(21, 30);
    assert_int_equal(raw("SELECT count(*) FROM chunk_vectors WHERE chunk_id BETWEEN 21 AND 30"), 0);
    check_purged(kb, 21, 30);
    check_queries(kb, 10, 10, NULL);
    struct idx_vectors_info info;
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    if (info.faiss)
        assert_int_equal(info.in_memory, 50);
    /* replacing a document drops its old vectors */
    assert_int_equal(idx_begin(kb, &e), 0);
    int64_t coll, id;
    assert_int_equal(idx_collection_find(kb, "default", &coll, &e), 0);
    struct idx_doc_in in = {coll, "/x/d3", "doc", "text/plain", "h2", 10, 0, 0, "ok", NULL, NULL};
    assert_int_equal(idx_doc_put(kb, &in, &id, &e), 0);
    assert_int_equal(idx_commit(kb, &e), 0);
    forget_doc_chunks(31, 40);
    check_purged(kb, 31, 40);
    check_queries(kb, 10, 10, NULL);
    /* the last document goes and new chunks reuse its ids, without vectors:
     * the old vectors must not surface as the new chunks */
    assert_int_equal(idx_begin(kb, &e), 0);
    assert_int_equal(idx_doc_delete(kb, d[5], &e), 0);
    assert_int_equal(idx_commit(kb, &e), 0);
    forget_doc_chunks(51, 60);
    add_doc(kb, "default", 0, "/x/new", 10, 0);
    assert_int_equal(raw("SELECT count(*) FROM chunks WHERE id BETWEEN 51 AND 60"), 10);
    for (size_t i = 0; i < R.n; i++) {
        if (R.live[i] || R.id[i] < 51)
            continue;
        struct idx_hits *h;
        assert_int_equal(idx_search_vector(kb, R.v[i], DIM, 5, NULL, &h, &e), 0);
        for (size_t j = 0; j < h->n; j++)
            assert_null(strstr(h->v[j].uri, "/x/new"));
        idx_hits_free(h);
    }
    check_queries(kb, 10, 10, NULL);
    idx_close(kb);
    /* a reader loading the stale file (written before all this) is right too */
    kb = open_kb(IDX_READ);
    check_purged(kb, 21, 40);
    check_purged(kb, 51, 60);
    check_queries(kb, 10, 10, NULL);
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    if (info.faiss)
        assert_int_equal(info.source, IDX_VEC_UPDATED);
    idx_close(kb);
    assert_int_equal(raw("SELECT count(*) FROM chunk_vectors WHERE chunk_id NOT IN (SELECT id FROM chunks)"), 0);
}

/* Damages vectors.faiss (or the stamp) and checks a reader rebuilds. */
static void reopen_expect(int source, int faiss)
{
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_READ);
    check_queries(kb, 8, 10, NULL);
    check_queries(kb, 4, 10, "b");
    struct idx_vectors_info info;
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    if (faiss)
        assert_int_equal(info.source, source);
    idx_close(kb);
}

static void sync_fresh(void)
{
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_WRITE);
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    idx_close(kb);
}

static int check_problems(const char *needle)
{
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_WRITE);
    struct lore_buf rep;
    lore_buf_init(&rep);
    int problems = -1;
    assert_int_equal(idx_check(kb, &rep, &problems, &e), 0);
    if (needle)
        assert_non_null(strstr(rep.data ? rep.data : "", needle));
    lore_buf_release(&rep);
    idx_close(kb);
    return problems;
}

static void test_damaged_file_rebuilt(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    for (int i = 0; i < 8; i++) {
        char uri[64];
        snprintf(uri, sizeof uri, "/x/d%d", i);
        add_doc(kb, i % 3 ? "a" : "b", !(i % 3), uri, 25, 1);
    }
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    struct idx_vectors_info info;
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    int faiss = info.faiss;
    idx_close(kb);
    char p[300];
    snprintf(p, sizeof p, "%s/vectors.faiss", dir);
    struct stat sb;
    if (!faiss) {
        assert_int_equal(stat(p, &sb), -1); /* nothing to write without FAISS */
        reopen_expect(IDX_VEC_NONE, 0);
        return;
    }
    assert_int_equal(stat(p, &sb), 0);
    reopen_expect(IDX_VEC_LOADED, faiss);
    /* truncated */
    assert_int_equal(truncate(p, sb.st_size / 2), 0);
    assert_int_equal(check_problems("does not match"), 1);
    reopen_expect(IDX_VEC_BUILT, faiss);
    /* a rewrite fixes it; then bytes flipped in the middle */
    sync_fresh();
    assert_int_equal(check_problems(NULL), 0);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, sb.st_size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, sb.st_size / 2, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    reopen_expect(IDX_VEC_BUILT, faiss);
    sync_fresh();
    reopen_expect(IDX_VEC_LOADED, faiss);
    /* the recorded generation edited: the stamp no longer matches */
    assert_int_equal(raw("UPDATE meta SET value = CAST(value AS INTEGER) - 1 WHERE key = 'faiss_generation'"), 0);
    reopen_expect(IDX_VEC_BUILT, faiss);
    sync_fresh();
    /* the vectors moved on (generation bumped): the file is stale, updated */
    assert_int_equal(raw("UPDATE meta SET value = CAST(value AS INTEGER) + 5 WHERE key = 'vec_generation'"), 0);
    reopen_expect(IDX_VEC_UPDATED, faiss);
    /* ... and really moved on: new vectors added after the file was written */
    kb = open_kb(IDX_WRITE);
    add_doc(kb, "b", 1, "/x/late", 10, 1);
    idx_close(kb);
    reopen_expect(IDX_VEC_UPDATED, faiss);
    /* a file of another kb's vectors with a stamp of its own: ignored */
    assert_int_equal(raw("DELETE FROM meta WHERE key = 'faiss_checksum'"), 0);
    assert_int_equal(check_problems("not recorded"), 1);
    reopen_expect(IDX_VEC_BUILT, faiss);
    /* a missing file is rebuilt too; sync with nothing stored removes it */
    unlink(p);
    reopen_expect(IDX_VEC_BUILT, faiss);
    kb = open_kb(IDX_WRITE);
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(idx_vectors_clear(kb, &e), 0);
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    assert_int_equal(stat(p, &sb), -1);
    idx_close(kb);
    assert_int_equal(raw("SELECT count(*) FROM meta WHERE key LIKE 'faiss_%'"), 0);
}

/* Hand-worked fusion. Query "zebra": BM25 ranks A (three times) 1, B (short)
 * 2, C (long) 3; D has no "zebra". Query vector e1: D = e1 rank 1, C ≈ e1
 * rank 2, A ⟂ rank 3, B = −e1 rank 4. With k = 60:
 *   A 1/61+1/63 = .032266   C 1/63+1/62 = .032002
 *   B 1/62+1/64 = .031754   D 1/61      = .016393    → A C B D
 * With k = 0: A 1+1/3, D 1, C 1/3+1/2, B 1/2+1/4     → A D C B */
static void test_hybrid_rrf(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", 4, &e), 0);
    static const char *texts[] = {
        "zebra zebra zebra stripes",
        "zebra stripes in the savanna grass",
        "zebra seen once near a river crossing while the herd of wildebeest moved north "
        "across the plains under a heavy sky during the long migration season",
        "lion hunting at night",
    };
    static const float vecs[4][4] = {{0, 1, 0, 0}, {-1, 0, 0, 0}, {0.9f, 0.1f, 0, 0}, {1, 0, 0, 0}};
    int64_t cid[4], coll;
    assert_int_equal(idx_collection_ensure(kb, "default", &coll, &e), 0);
    assert_int_equal(idx_begin(kb, &e), 0);
    for (int i = 0; i < 4; i++) {
        char uri[32];
        snprintf(uri, sizeof uri, "/h/%c", 'A' + i);
        struct idx_doc_in in = {coll, uri, "notes", "text/plain", "h", 10, 0, 0, "ok", NULL, NULL};
        int64_t doc;
        assert_int_equal(idx_doc_put(kb, &in, &doc, &e), 0);
        struct idx_chunk_in c = {texts[i], "", 1, 1, 0, 10, 4, NULL, 0};
        assert_int_equal(idx_chunk_add(kb, doc, 0, &c, &cid[i], &e), 0);
        assert_int_equal(idx_vector_put(kb, cid[i], vecs[i], 4, &e), 0);
    }
    assert_int_equal(idx_commit(kb, &e), 0);
    /* the two lists, as the example says */
    struct idx_hits *h;
    assert_int_equal(idx_search_bm25(kb, "zebra", NULL, &h, &e), 0);
    assert_int_equal(h->n, 3);
    assert_int_equal(h->v[0].chunk_id, cid[0]);
    assert_int_equal(h->v[1].chunk_id, cid[1]);
    assert_int_equal(h->v[2].chunk_id, cid[2]);
    double bm25_a = h->v[0].score;
    idx_hits_free(h);
    const float q[4] = {1, 0, 0, 0};
    assert_int_equal(idx_search_vector(kb, q, 4, 10, NULL, &h, &e), 0);
    assert_int_equal(h->n, 4);
    assert_int_equal(h->v[0].chunk_id, cid[3]);
    assert_int_equal(h->v[1].chunk_id, cid[2]);
    assert_int_equal(h->v[2].chunk_id, cid[0]);
    assert_int_equal(h->v[3].chunk_id, cid[1]);
    idx_hits_free(h);
    /* fused */
    struct idx_hybrid_opts o;
    idx_hybrid_opts_default(&o);
    assert_int_equal(idx_search_hybrid(kb, "zebra", q, 4, &o, &h, &e), 0);
    assert_int_equal(h->n, 4);
    const int order[4] = {0, 2, 1, 3};
    const int rb[4] = {1, 3, 2, 0}, rv[4] = {3, 2, 4, 1};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(h->v[i].chunk_id, cid[order[i]]);
        assert_int_equal(h->v[i].bm25_rank, rb[i]);
        assert_int_equal(h->v[i].vec_rank, rv[i]);
        double want = (rb[i] ? 1.0 / (60 + rb[i]) : 0) + 1.0 / (60 + rv[i]);
        assert_true(fabs(h->v[i].score - want) < 1e-12);
        assert_string_equal(h->v[i].text, texts[order[i]]);
    }
    assert_true(fabs(h->v[0].bm25_score - bm25_a) < 1e-9);
    assert_true(fabs(h->v[0].vec_score) < 1e-6);
    assert_true(fabs(h->v[3].vec_score - 1.0) < 1e-6);
    idx_hits_free(h);
    /* the constant is configurable; k limits the output */
    o.rrf_k = 0;
    o.k = 3;
    assert_int_equal(idx_search_hybrid(kb, "zebra", q, 4, &o, &h, &e), 0);
    assert_int_equal(h->n, 3);
    assert_int_equal(h->v[0].chunk_id, cid[0]);
    assert_int_equal(h->v[1].chunk_id, cid[3]);
    assert_int_equal(h->v[2].chunk_id, cid[2]);
    idx_hits_free(h);
    /* no query vector: BM25 alone, same order, ranks filled */
    idx_hybrid_opts_default(&o);
    assert_int_equal(idx_search_hybrid(kb, "zebra", NULL, 0, &o, &h, &e), 0);
    assert_int_equal(h->n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h->v[i].chunk_id, cid[i]);
        assert_int_equal(h->v[i].bm25_rank, i + 1);
        assert_int_equal(h->v[i].vec_rank, 0);
    }
    idx_hits_free(h);
    /* no text: vectors alone */
    assert_int_equal(idx_search_hybrid(kb, "", q, 4, &o, &h, &e), 0);
    assert_int_equal(h->n, 4);
    assert_int_equal(h->v[0].chunk_id, cid[3]);
    idx_hits_free(h);
    /* a query vector of another dimension is an error */
    assert_int_equal(idx_search_hybrid(kb, "zebra", q, 3, &o, &h, &e), LORE_EINVAL);
    assert_null(h);
    /* vectors cleared: falls back to BM25 even with a query vector */
    assert_int_equal(idx_vectors_clear(kb, &e), 0);
    assert_int_equal(idx_search_hybrid(kb, "zebra", q, 4, &o, &h, &e), 0);
    assert_int_equal(h->n, 3);
    assert_int_equal(h->v[2].chunk_id, cid[2]);
    idx_hits_free(h);
    idx_close(kb);
}

static void test_hybrid_collection_filter(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    for (int i = 0; i < 6; i++) {
        char uri[64];
        snprintf(uri, sizeof uri, "/x/d%d", i);
        add_doc(kb, i < 5 ? "a" : "b", i >= 5, uri, 12, 1);
    }
    struct idx_hybrid_opts o;
    idx_hybrid_opts_default(&o);
    o.bm25.collection = "b";
    o.k = 20;
    /* query = a vector of collection a: fused hits are still only b's */
    struct idx_hits *h;
    assert_int_equal(idx_search_hybrid(kb, "chunk", R.v[0], DIM, &o, &h, &e), 0);
    assert_int_equal(h->n, 12);
    for (size_t i = 0; i < h->n; i++) {
        assert_non_null(strstr(h->v[i].uri, "/x/d5"));
        assert_true(h->v[i].bm25_rank > 0 && h->v[i].vec_rank > 0);
    }
    idx_hits_free(h);
    o.bm25.collection = "missing";
    assert_int_equal(idx_search_hybrid(kb, "chunk", R.v[0], DIM, &o, &h, &e), LORE_ENOENT);
    idx_close(kb);
}

/* Inside a write transaction the caller sees its own vectors; after a
 * rollback nobody does. */
static void test_transaction(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    add_doc(kb, "default", 0, "/x/a", 10, 1);
    add_doc(kb, "default", 0, "/x/b", 10, 0);
    check_queries(kb, 3, 5, NULL); /* index built at this generation */
    float v[DIM];
    rand_unit(v, DIM);
    assert_int_equal(idx_begin(kb, &e), 0);
    assert_int_equal(idx_vector_put(kb, 15, v, DIM, &e), 0);
    struct idx_hits *h;
    assert_int_equal(idx_search_vector(kb, v, DIM, 1, NULL, &h, &e), 0);
    assert_int_equal(h->n, 1);
    assert_int_equal(h->v[0].chunk_id, 15);
    idx_hits_free(h);
    idx_rollback(kb);
    assert_int_equal(idx_search_vector(kb, v, DIM, 3, NULL, &h, &e), 0);
    for (size_t i = 0; i < h->n; i++)
        assert_int_not_equal(h->v[i].chunk_id, 15);
    idx_hits_free(h);
    check_queries(kb, 5, 5, NULL);
    idx_close(kb);
}

static void test_check_reports(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    add_doc(kb, "default", 0, "/x/a", 4, 1);
    idx_close(kb);
    assert_int_equal(check_problems(NULL), 0);
    /* an orphan vector, one of the wrong size, one not normalised */
    assert_int_equal(raw("INSERT INTO chunk_vectors(chunk_id, gen, vec) SELECT 77, 1, vec FROM chunk_vectors LIMIT 1"), 0);
    assert_int_equal(check_problems("vectors without a chunk: 1"), 1);
    assert_int_equal(raw("UPDATE chunk_vectors SET vec = zeroblob(12) WHERE chunk_id = 2"), 0);
    assert_int_equal(raw("UPDATE chunk_vectors SET vec = zeroblob(96) WHERE chunk_id = 3"), 0);
    assert_int_equal(check_problems("not the model's: 1"), 3);
    assert_int_equal(check_problems("not normalised: 1"), 3);
    /* searching still works: bad rows are skipped, orphans never returned */
    kb = open_kb(IDX_READ);
    struct idx_hits *h;
    assert_int_equal(idx_search_vector(kb, R.v[0], DIM, 10, NULL, &h, &e), 0);
    for (size_t i = 0; i < h->n; i++)
        assert_int_not_equal(h->v[i].chunk_id, 77);
    assert_int_equal(h->v[0].chunk_id, 1);
    idx_hits_free(h);
    idx_close(kb);
}

/* ---- the HNSW path (threshold lowered) ------------------------------------------- */

/* recall@k of idx_search_vector against the brute force, over nq queries;
 * exact=1: through idx_search_vector_ex with exact set, which must agree. */
static double hnsw_recall(struct idx_kb *kb, int nq, int k, int exact)
{
    struct lore_err e;
    double hit = 0, all = 0;
    for (int t = 0; t < nq; t++) {
        float q[DIM];
        rand_unit(q, DIM);
        int64_t ids[64];
        float sc[64];
        size_t n = brute(q, k, -1, ids, sc);
        struct idx_hits *h;
        struct idx_vsearch_opts o = {exact, 0};
        assert_int_equal(idx_search_vector_ex(kb, q, DIM, k, NULL, &o, &h, &e), 0);
        assert_true(h->n <= n);
        for (size_t i = 0; i < h->n; i++) {
            if (exact) {
                assert_int_equal(h->v[i].chunk_id, ids[i]);
                assert_true(fabs(h->v[i].score - sc[i]) < 1e-4);
            }
            for (size_t j = 0; j < n; j++)
                if (h->v[i].chunk_id == ids[j]) {
                    hit++;
                    /* a score HNSW reports is the exact inner product */
                    assert_true(fabs(h->v[i].score - sc[j]) < 1e-4);
                }
        }
        all += (double)n;
        idx_hits_free(h);
    }
    return all ? hit / all : 1;
}

static void expect_kind(struct idx_kb *kb, int hnsw, int source, int64_t dead)
{
    struct lore_err e;
    struct idx_vectors_info info;
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    if (!info.faiss)
        return;
    assert_int_equal(info.hnsw, hnsw);
    if (source >= 0)
        assert_int_equal(info.source, source);
    if (dead >= 0)
        assert_int_equal(info.deleted_in_place, dead);
}

static void test_hnsw(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    assert_int_equal(idx_meta_set(kb, "vec_hnsw_threshold", "300", &e), 0);
    int64_t d[20];
    for (int i = 0; i < 20; i++) {
        char uri[64];
        snprintf(uri, sizeof uri, "/x/h%02d", i);
        d[i] = add_doc(kb, i % 4 == 0 ? "b" : "a", i % 4 == 0, uri, 20, 1);
    }
    struct idx_vectors_info info;
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    int faiss = info.faiss;
    /* 400 vectors ≥ 300: HNSW, approximate but close */
    double r = hnsw_recall(kb, 30, 10, 0);
    expect_kind(kb, 1, IDX_VEC_BUILT, 0);
    assert_true(r >= 0.95);
    assert_true(hnsw_recall(kb, 10, 10, 1) == 1.0); /* exact on request */
    check_queries(kb, 5, 10, "b");                 /* deepening for a collection */
    /* a small efSearch is worse or equal, never an error */
    struct idx_vsearch_opts o = {0, 1};
    struct idx_hits *h;
    assert_int_equal(idx_search_vector_ex(kb, R.v[5], DIM, 10, NULL, &o, &h, &e), 0);
    assert_true(h->n == 10);
    idx_hits_free(h);
    /* deleting a document: its rows are dropped in place, never returned */
    assert_int_equal(idx_begin(kb, &e), 0);
    assert_int_equal(idx_doc_delete(kb, d[3], &e), 0);
    assert_int_equal(idx_commit(kb, &e), 0);
    forget_doc_chunks(61, 80);
    check_purged(kb, 61, 80);
    expect_kind(kb, 1, IDX_VEC_BUILT, faiss ? 20 : -1);
    assert_int_equal(idx_vectors_info(kb, &info, &e), 0);
    if (faiss)
        assert_int_equal(info.in_memory, 380);
    assert_true(hnsw_recall(kb, 20, 10, 0) >= 0.95);
    assert_true(hnsw_recall(kb, 10, 10, 1) == 1.0);
    /* a vector rewritten in place: the new one is found, the old one not */
    float nv[DIM];
    rand_unit(nv, DIM);
    float old[DIM];
    memcpy(old, R.v[0], sizeof old);
    assert_int_equal(idx_begin(kb, &e), 0);
    assert_int_equal(idx_vector_put(kb, R.id[0], nv, DIM, &e), 0);
    assert_int_equal(idx_commit(kb, &e), 0);
    memcpy(R.v[0], nv, sizeof nv);
    assert_int_equal(idx_search_vector(kb, nv, DIM, 1, NULL, &h, &e), 0);
    assert_int_equal(h->n, 1);
    assert_int_equal(h->v[0].chunk_id, R.id[0]);
    assert_true(h->v[0].score > 0.9999);
    idx_hits_free(h);
    assert_int_equal(idx_search_vector(kb, old, DIM, 5, NULL, &h, &e), 0);
    for (size_t i = 0; i < h->n; i++)
        assert_true(h->v[i].chunk_id != R.id[0] || h->v[i].score < 0.9999);
    idx_hits_free(h);
    expect_kind(kb, 1, IDX_VEC_BUILT, faiss ? 21 : -1);
    /* the file holds the graph and its deletions; a reader loads it */
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    idx_close(kb);
    if (!faiss)
        return;
    assert_int_equal(raw("SELECT value FROM meta WHERE key = 'faiss_kind'"), 1);
    kb = open_kb(IDX_READ);
    assert_true(hnsw_recall(kb, 20, 10, 0) >= 0.95);
    check_purged(kb, 61, 80);
    expect_kind(kb, 1, IDX_VEC_LOADED, 21);
    idx_close(kb);
    /* a damaged stamp: the file is not loaded but rebuilt, as HNSW, without
     * the deleted rows */
    assert_int_equal(raw("UPDATE meta SET value = '00' || substr(value, 3) WHERE key = 'faiss_checksum'"), 0);
    assert_int_equal(check_problems("does not match"), 1);
    kb = open_kb(IDX_READ);
    assert_true(hnsw_recall(kb, 20, 10, 0) >= 0.95);
    expect_kind(kb, 1, IDX_VEC_BUILT, 0);
    idx_close(kb);
    sync_fresh();
    assert_int_equal(check_problems(NULL), 0);
    kb = open_kb(IDX_READ);
    check_purged(kb, 61, 80);
    expect_kind(kb, 1, IDX_VEC_LOADED, 0);
    idx_close(kb);
    /* the file is stale (more deleted since): loaded, then updated in place */
    kb = open_kb(IDX_WRITE);
    assert_int_equal(idx_begin(kb, &e), 0);
    assert_int_equal(idx_doc_delete(kb, d[6], &e), 0);
    assert_int_equal(idx_commit(kb, &e), 0);
    forget_doc_chunks(121, 140);
    idx_close(kb);
    kb = open_kb(IDX_READ);
    check_purged(kb, 121, 140);
    expect_kind(kb, 1, IDX_VEC_UPDATED, 20);
    assert_true(hnsw_recall(kb, 10, 10, 1) == 1.0);
    idx_close(kb);
    /* the threshold raised above the count: exact again, and sync rewrites
     * the file as exact even though its generation is current */
    kb = open_kb(IDX_WRITE);
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    assert_int_equal(idx_meta_set(kb, "vec_hnsw_threshold", "100000", &e), 0);
    check_queries(kb, 10, 10, NULL);
    expect_kind(kb, 0, IDX_VEC_BUILT, 0);
    assert_int_equal(idx_vectors_sync(kb, &e), 0);
    idx_close(kb);
    assert_int_equal(raw("SELECT value FROM meta WHERE key = 'faiss_kind'"), 0);
    kb = open_kb(IDX_READ);
    check_queries(kb, 10, 10, NULL);
    expect_kind(kb, 0, IDX_VEC_LOADED, 0);
    idx_close(kb);
}

/* Near-duplicates the int8 copy cannot tell apart: the exact search must
 * still rank them as the brute force does. */
static void test_exact_near_ties(void **s)
{
    (void)s;
    reset_ref();
    struct lore_err e;
    struct idx_kb *kb = open_kb(IDX_CREATE | IDX_WRITE);
    assert_int_equal(idx_vectors_set_model(kb, "m", DIM, &e), 0);
    float base[DIM];
    rand_unit(base, DIM);
    int64_t coll, id;
    assert_int_equal(idx_collection_ensure(kb, "default", &coll, &e), 0);
    assert_int_equal(idx_begin(kb, &e), 0);
    struct idx_doc_in in = {coll, "/x/ties", "doc", "text/plain", "h", 10, 0, 0, "ok", NULL, NULL};
    assert_int_equal(idx_doc_put(kb, &in, &id, &e), 0);
    for (int i = 0; i < 600; i++) {
        struct idx_chunk_in c = {"tie", "", 1, 1, i, i + 1, 1, NULL, 0};
        int64_t cid;
        assert_int_equal(idx_chunk_add(kb, id, i, &c, &cid, &e), 0);
        size_t k = R.n++;
        R.id[k] = cid;
        R.live[k] = 1;
        double ss = 0;
        for (int j = 0; j < DIM; j++) {
            R.v[k][j] = base[j] + (i % 3 ? 1e-4f : 3e-3f) * frand();
            ss += (double)R.v[k][j] * R.v[k][j];
        }
        for (int j = 0; j < DIM; j++)
            R.v[k][j] = (float)(R.v[k][j] / sqrt(ss));
        assert_int_equal(idx_vector_put(kb, cid, R.v[k], DIM, &e), 0);
    }
    assert_int_equal(idx_commit(kb, &e), 0);
    for (int t = 0; t < 20; t++) {
        float q[DIM];
        for (int j = 0; j < DIM; j++)
            q[j] = base[j] + 0.01f * frand();
        int64_t ids[64];
        float sc[64];
        size_t n = brute(q, 50, -1, ids, sc);
        struct idx_hits *h;
        assert_int_equal(idx_search_vector(kb, q, DIM, 50, NULL, &h, &e), 0);
        assert_int_equal(h->n, n);
        for (size_t i = 0; i < n; i++) {
            /* equal scores may come in either order; the set of scores may not */
            assert_true(fabs(h->v[i].score - sc[i]) < 1e-6);
            if (i + 1 < n && sc[i] != sc[i + 1] && (i == 0 || sc[i - 1] != sc[i]))
                assert_int_equal(h->v[i].chunk_id, ids[i]);
        }
        idx_hits_free(h);
    }
    idx_close(kb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunks_without_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topk_matches_brute_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_purges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_file_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hybrid_rrf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hybrid_collection_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hnsw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_near_ties, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
