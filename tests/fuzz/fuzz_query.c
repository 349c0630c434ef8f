/*
 * fuzz_query.c — libFuzzer target for the text a user or a model controls
 * on the query path: the FTS5 query builder (its output must always be a
 * valid FTS5 expression — checked against a real FTS5 table) and the
 * citation parser/checker (no citation may ever point outside the sources).
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generate/generate.h"
#include "index/index.h"

static sqlite3 *db;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (!db) {
        sqlite3_open(":memory:", &db);
        sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(a, tokenize='porter unicode61 remove_diacritics 2');"
                         "INSERT INTO t VALUES('the quick brown fox');",
                     NULL, NULL, NULL);
    }
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    memcpy(s, data, n);
    s[n] = 0;
    struct lore_buf q;
    lore_buf_init(&q);
    if (idx_fts_query(s, n & 1, &q) == 0 && q.len) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, q.data, (int)q.len, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_ROW)
                abort(); /* the builder produced an invalid FTS5 query */
            sqlite3_finalize(st);
        }
    }
    lore_buf_release(&q);
    /* citations against three sources */
    struct gen_answer a;
    memset(&a, 0, sizeof a);
    struct gen_source src[3];
    memset(src, 0, sizeof src);
    for (int i = 0; i < 3; i++) {
        src[i].n = i + 1;
        src[i].uri = src[i].title = src[i].heading = (char *)"";
        src[i].text = (char *)"the quick brown fox jumps over the lazy dog";
    }
    a.sources = src;
    a.n_sources = 3;
    struct lore_err e;
    if (gen_check_citations(&a, s, n, &e) == 0) {
        for (size_t i = 0; i < a.n_citations; i++)
            if (a.citations[i].n < 1 || a.citations[i].n > 3)
                abort();
        for (size_t i = 0; i < a.n_citations; i++)
            free(a.citations[i].quote);
        free(a.citations);
        free(a.text);
    }
    free(s);
    return 0;
}
