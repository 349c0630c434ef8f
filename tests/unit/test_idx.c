/* test_idx.c — the knowledge base: create, lock, migrate, store, replace,
 * delete, search with hostile queries, and refusing damaged files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/index.h"

static char dir[256];

static int setup(void **s)
{
    snprintf(dir, sizeof dir, "/tmp/lore-test-idx-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int64_t count(const char *sql)
{
    char p[300];
    snprintf(p, sizeof p, "%s/lore.db", dir);
    sqlite3 *db;
    sqlite3_open(p, &db);
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static int64_t put_doc(struct idx_kb *kb, const char *uri, const char *title, int nchunks,
                       const char *word)
{
    struct lore_err e;
    int64_t coll, id;
    assert_int_equal(idx_collection_ensure(kb, "default", &coll, &e), 0);
    assert_int_equal(idx_begin(kb, &e), 0);
    struct idx_doc_in in = {coll, uri, title, "text/plain", "h", 10, 0, 0, "ok", NULL, NULL};
    assert_int_equal(idx_doc_put(kb, &in, &id, &e), 0);
    for (int i = 0; i < nchunks; i++) {
        char text[200];
        snprintf(text, sizeof text, "chunk %d of %s about %s and other things", i, uri, word);
        struct idx_chunk_in c = {text, "Sec", 1, 1, i * 10, i * 10 + 9, 8};
        assert_int_equal(idx_chunk_add(kb, id, i, &c, NULL, &e), 0);
    }
    assert_int_equal(idx_commit(kb, &e), 0);
    return id;
}

static void test_create_and_reopen(void **s)
{
    struct idx_kb *kb;
    struct lore_err e;
    assert_int_equal(idx_open(dir, IDX_READ, &kb, &e), LORE_ENOENT);
    assert_non_null(strstr(e.msg, "lore init"));
    assert_int_equal(idx_open(dir, IDX_CREATE | IDX_WRITE, &kb, &e), 0);
    idx_close(kb);
    assert_int_equal(count("PRAGMA user_version"), idx_schema_version());
    assert_int_equal(count("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"), 1);
    assert_int_equal(idx_open(dir, IDX_READ, &kb, &e), 0);
    idx_close(kb);
}

static void test_writer_lock(void **s)
{
    struct idx_kb *a, *b, *r;
    struct lore_err e;
    assert_int_equal(idx_open(dir, IDX_CREATE | IDX_WRITE, &a, &e), 0);
    assert_int_equal(idx_open(dir, IDX_WRITE, &b, &e), LORE_EBUSY);
    assert_non_null(strstr(e.msg, "another lore process"));
    assert_int_equal(idx_open(dir, IDX_READ, &r, &e), 0); /* readers are fine */
    idx_close(r);
    idx_close(a);
    assert_int_equal(idx_open(dir, IDX_WRITE, &b, &e), 0);
    idx_close(b);
}

static void test_replace_and_delete(void **s)
{
    struct idx_kb *kb;
    struct lore_err e;
    assert_int_equal(idx_open(dir, IDX_CREATE | IDX_WRITE, &kb, &e), 0);
    int64_t id = put_doc(kb, "/a.txt", "Alpha", 3, "zebras");
    put_doc(kb, "/b.txt", "Beta", 2, "lions");
    /* same uri again: replaced, not duplicated */
    int64_t id2 = put_doc(kb, "/a.txt", "Alpha two", 5, "giraffes");
    assert_int_equal(id, id2);
    struct idx_stats st;
    assert_int_equal(idx_stats(kb, &st, &e), 0);
    assert_int_equal(st.documents, 2);
    assert_int_equal(st.chunks, 7);
    struct idx_hits *h;
    assert_int_equal(idx_search_bm25(kb, "zebras", NULL, &h, &e), 0);
    assert_int_equal(h->n, 0); /* old text is gone from FTS */
    idx_hits_free(h);
    assert_int_equal(idx_search_bm25(kb, "giraffe", NULL, &h, &e), 0); /* stemmed */
    assert_int_equal(h->n, 5);
    assert_string_equal(h->v[0].title, "Alpha two");
    assert_string_equal(h->v[0].uri, "/a.txt");
    assert_int_equal(h->v[0].page_start, 1);
    assert_non_null(h->v[0].snippet);
    idx_hits_free(h);
    /* title changes are searchable (title is indexed with every chunk) */
    assert_int_equal(idx_search_bm25(kb, "two", NULL, &h, &e), 0);
    assert_int_equal(h->n, 5);
    idx_hits_free(h);
    /* delete: every derived row goes */
    assert_int_equal(idx_begin(kb, &e), 0);
    assert_int_equal(idx_doc_delete(kb, id, &e), 0);
    assert_int_equal(idx_commit(kb, &e), 0);
    assert_int_equal(idx_search_bm25(kb, "giraffes alpha", NULL, &h, &e), 0);
    assert_int_equal(h->n, 0);
    idx_hits_free(h);
    struct lore_buf rep;
    lore_buf_init(&rep);
    int problems = -1;
    assert_int_equal(idx_check(kb, &rep, &problems, &e), 0);
    assert_int_equal(problems, 0);
    lore_buf_release(&rep);
    idx_close(kb);
    assert_int_equal(count("SELECT count(*) FROM chunks"), 2);
    assert_int_equal(count("SELECT count(*) FROM chunks_fts_docsize"), 2);
    assert_int_equal(count("SELECT count(*) FROM documents"), 1);
}

static void test_hostile_queries(void **s)
{
    struct idx_kb *kb;
    struct lore_err e;
    assert_int_equal(idx_open(dir, IDX_CREATE | IDX_WRITE, &kb, &e), 0);
    put_doc(kb, "/q.txt", "Query doc", 2, "NEAR AND OR quotes");
    static const char *q[] = {
        "\"", "\"\"", "\"unbalanced", "(", ")", "((a", "a AND", "OR", "NOT x", "NEAR(a b",
        "NEAR(quotes, 2)", "title:quotes", "{title}: x", "-x", "^quotes", "a*", "*", "+", ":",
        "\x01\x02", "\xff\xfe invalid utf8", "'; DROP TABLE chunks; --", "x\" OR \"y", "",
        "   ", "\"\" AND \"\"", "col:", "a:b:c", "quotes)", "[quotes]", "\\", "%", "NEAR",
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        struct idx_hits *h = NULL;
        int rc = idx_search_bm25(kb, q[i], NULL, &h, &e);
        if (rc)
            fail_msg("query %zu '%s' failed: %s", i, q[i], e.msg);
        idx_hits_free(h);
    }
    /* operators are searched as words, not obeyed */
    struct idx_hits *h;
    assert_int_equal(idx_search_bm25(kb, "NEAR(quotes", NULL, &h, &e), 0);
    assert_int_equal(h->n, 2);
    idx_hits_free(h);
    struct lore_buf b;
    lore_buf_init(&b);
    assert_int_equal(idx_fts_query("title: \"x\" NEAR(y) the", 0, &b), 0);
    assert_string_equal(b.data, "\"title\" OR \"x\" OR \"near\" OR \"y\"");
    b.len = 0;
    assert_int_equal(idx_fts_query("the of", 0, &b), 0); /* all stopwords: kept */
    assert_string_equal(b.data, "\"the\" OR \"of\"");
    lore_buf_release(&b);
    idx_close(kb);
}

static void test_damaged_files(void **s)
{
    struct idx_kb *kb;
    struct lore_err e;
    char p[300];
    snprintf(p, sizeof p, "%s/lore.db", dir);
    /* garbage */
    FILE *f = fopen(p, "wb");
    for (int i = 0; i < 8192; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    assert_int_equal(idx_open(dir, IDX_READ, &kb, &e), LORE_ECORRUPT);
    assert_non_null(strstr(e.msg, "not a lore knowledge base"));
    assert_int_equal(idx_open(dir, IDX_WRITE, &kb, &e), LORE_ECORRUPT);
    /* someone else's SQLite database is left alone */
    unlink(p);
    sqlite3 *db;
    sqlite3_open(p, &db);
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(idx_open(dir, IDX_WRITE, &kb, &e), LORE_ECORRUPT);
    assert_int_equal(count("SELECT count(*) FROM t"), 1);
    /* made by a newer lore */
    unlink(p);
    assert_int_equal(idx_open(dir, IDX_CREATE | IDX_WRITE, &kb, &e), 0);
    idx_close(kb);
    sqlite3_open(p, &db);
    sqlite3_exec(db, "PRAGMA user_version=999", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(idx_open(dir, IDX_READ, &kb, &e), LORE_EVERSION);
    assert_non_null(strstr(e.msg, "newer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
