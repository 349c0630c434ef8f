-- 0004_sessions.sql — conversations: a follow-up question is rewritten into
-- a stand-alone query using the earlier turns of its session.
CREATE TABLE sessions(
    id         TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE turns(
    session_id TEXT NOT NULL REFERENCES sessions(id),
    n          INTEGER NOT NULL,
    question   TEXT NOT NULL,
    query      TEXT NOT NULL,   -- what was searched, after rewriting
    answer     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY(session_id, n)
) STRICT;
