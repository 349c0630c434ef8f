-- 0001_init.sql — the first schema of a lore knowledge base.
-- Applied by index/kb.c inside one transaction; PRAGMA user_version = 1 after.
-- The FTS index is maintained by index/ code, not by triggers: with
-- trusted_schema=OFF SQLite refuses triggers that write virtual tables.

CREATE TABLE meta(
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE collections(
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE documents(
    id            INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id),
    uri           TEXT NOT NULL,           -- absolute path of the source file
    title         TEXT NOT NULL DEFAULT '',
    mime          TEXT NOT NULL DEFAULT '',
    hash          TEXT NOT NULL DEFAULT '', -- sha256 of the file's bytes
    size          INTEGER NOT NULL DEFAULT 0,
    pages         INTEGER NOT NULL DEFAULT 0,
    mtime         INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'failed')),
    error         TEXT,
    warnings      TEXT,
    added_at      INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE(collection_id, uri)
) STRICT;

CREATE TABLE chunks(
    id         INTEGER PRIMARY KEY,
    doc_id     INTEGER NOT NULL REFERENCES documents(id),
    ordinal    INTEGER NOT NULL,
    page_start INTEGER NOT NULL DEFAULT 0,
    page_end   INTEGER NOT NULL DEFAULT 0,
    char_start INTEGER NOT NULL,
    char_end   INTEGER NOT NULL,
    heading    TEXT NOT NULL DEFAULT '',
    text       TEXT NOT NULL,
    n_tokens   INTEGER NOT NULL,
    UNIQUE(doc_id, ordinal)
) STRICT;
CREATE INDEX chunks_doc ON chunks(doc_id);

-- What FTS5 indexes, per chunk: the document title, the heading path, the text.
CREATE VIEW chunks_v(id, title, heading, text) AS
    SELECT c.id, d.title, c.heading, c.text
    FROM chunks c JOIN documents d ON d.id = c.doc_id;

CREATE VIRTUAL TABLE chunks_fts USING fts5(
    title, heading, text,
    content = 'chunks_v', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
