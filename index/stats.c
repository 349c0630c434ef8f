/*
 * stats.c — corpus statistics for ranking outside FTS5's own functions:
 * how many chunks there are and in how many a term occurs (after the FTS
 * tokenizer's stemming), for idf weights in sentence selection.
 */
#include "index/index_internal.h"

#include <stdlib.h>
#include <string.h>

int idx_term_df(struct idx_kb *kb, const char *const *terms, size_t n, int64_t *df, int64_t *n_chunks,
                struct lore_err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "SELECT count(*) FROM chunks", -1, &st, NULL))
        return idx_db_err(kb, e, "counting chunks");
    *n_chunks = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(kb->db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", -1, &st, NULL))
        return idx_db_err(kb, e, "counting terms");
    for (size_t i = 0; i < n; i++) {
        df[i] = 0;
        /* a term is made of letters and digits only (the caller's tokens), so
         * quoting it makes a valid FTS5 string */
        struct lore_buf q;
        lore_buf_init(&q);
        if (lore_buf_putc(&q, '"') || lore_buf_puts(&q, terms[i]) || lore_buf_putc(&q, '"')) {
            lore_buf_release(&q);
            sqlite3_finalize(st);
            return lore_err_set(e, LORE_ENOMEM, "out of memory");
        }
        if (!strchr(terms[i], '"')) {
            sqlite3_bind_text(st, 1, q.data, (int)q.len, SQLITE_TRANSIENT);
            if (sqlite3_step(st) == SQLITE_ROW)
                df[i] = sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
        }
        lore_buf_release(&q);
    }
    sqlite3_finalize(st);
    return 0;
}
