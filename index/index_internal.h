/* index_internal.h — what the files of index/ share: the kb struct and small helpers. */
#ifndef LORE_INDEX_INTERNAL_H
#define LORE_INDEX_INTERNAL_H

#include "index/index.h"
#include <sqlite3.h>

struct idx_kb {
    sqlite3 *db;
    char *dir;
    char *db_path;
    int lock_fd;       /* -1 unless we hold the writer lock */
    int writable;
    int in_tx;
    sqlite3_stmt *st_chunk;  /* cached: INSERT INTO chunks */
    sqlite3_stmt *st_fts;    /* cached: index one chunk in chunks_fts */
};

/* Sets e from the db's last error; returns a lore status. */
int idx_db_err(struct idx_kb *kb, struct lore_err *e, const char *what);
int idx_exec(struct idx_kb *kb, const char *sql, struct lore_err *e);
int idx_register_functions(struct idx_kb *kb, struct lore_err *e);

#endif
