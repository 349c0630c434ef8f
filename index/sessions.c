/*
 * sessions.c — conversation turns kept in the knowledge base, so that
 * `lore ask --session ID` can read a follow-up in the light of what came
 * before.
 */
#include "index/index_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int idx_session_questions(struct idx_kb *kb, const char *id, int max, char ***out, size_t *n,
                          struct lore_err *e)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db,
                           "SELECT question FROM (SELECT n, question FROM turns WHERE session_id = ? "
                           "ORDER BY n DESC LIMIT ?) ORDER BY n",
                           -1, &st, NULL))
        return idx_db_err(kb, e, "reading the session");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max > 0 ? max : 8);
    char **v = NULL;
    size_t cnt = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nv = realloc(v, (cnt + 1) * sizeof *nv);
        if (!nv) {
            rc = SQLITE_NOMEM;
            break;
        }
        v = nv;
        const unsigned char *q = sqlite3_column_text(st, 0);
        if (!(v[cnt] = strdup(q ? (const char *)q : ""))) {
            rc = SQLITE_NOMEM;
            break;
        }
        cnt++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        idx_strings_free(v, cnt);
        return rc == SQLITE_NOMEM ? lore_err_set(e, LORE_ENOMEM, "out of memory")
                                  : idx_db_err(kb, e, "reading the session");
    }
    *out = v;
    *n = cnt;
    return 0;
}

void idx_strings_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int idx_session_add(struct idx_kb *kb, const char *id, const char *question, const char *query,
                    const char *answer, struct lore_err *e)
{
    if (!id[0] || strlen(id) > 128)
        return lore_err_set(e, LORE_EINVAL, "a session id is 1 to 128 characters");
    int64_t now = (int64_t)time(NULL);
    int rc = idx_begin(kb, e);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(kb->db,
                           "INSERT INTO sessions(id, created_at, updated_at) VALUES(?1, ?2, ?2) "
                           "ON CONFLICT(id) DO UPDATE SET updated_at = ?2",
                           -1, &st, NULL))
        goto db;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        goto db;
    if (sqlite3_prepare_v2(kb->db,
                           "INSERT INTO turns(session_id, n, question, query, answer, created_at) "
                           "VALUES(?1, (SELECT coalesce(max(n), 0) + 1 FROM turns WHERE session_id = ?1), "
                           "?2, ?3, ?4, ?5)",
                           -1, &st, NULL))
        goto db;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, question, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, query, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, answer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        goto db;
    return idx_commit(kb, e);
db:
    rc = idx_db_err(kb, e, "saving the session");
    idx_rollback(kb);
    return rc;
}
