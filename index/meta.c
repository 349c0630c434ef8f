/*
 * meta.c — the knowledge base's own settings (the meta table): e.g. which
 * embedding model file it uses. Keys are short ASCII names.
 */
#include "index/index_internal.h"

#include <stdlib.h>
#include <string.h>

int idx_meta_get(struct idx_kb *kb, const char *key, char **val, struct lore_err *e)
{
    *val = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL))
        return idx_db_err(kb, e, "reading settings");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        *val = strdup(v ? (const char *)v : "");
        sqlite3_finalize(st);
        return *val ? 0 : lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return idx_db_err(kb, e, "reading settings");
    return lore_err_set(e, LORE_ENOENT, "no setting '%s'", key);
}

int idx_meta_set(struct idx_kb *kb, const char *key, const char *val, struct lore_err *e)
{
    sqlite3_stmt *st;
    const char *sql = val ? "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                            "ON CONFLICT(key) DO UPDATE SET value = ?2"
                          : "DELETE FROM meta WHERE key = ?1";
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL))
        return idx_db_err(kb, e, "saving settings");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (val)
        sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : idx_db_err(kb, e, "saving settings");
}
