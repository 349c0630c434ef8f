-- 0003_vectors.sql — one embedding vector per chunk, the source of truth for
-- the vector index (KB_DIR/vectors.faiss is only a cache rebuilt from here).
--
-- vec:  dim float32 values, little-endian, L2-normalised (4 * dim bytes).
-- gen:  the meta 'vec_generation' the row was written at, so an index built
--       at generation M is brought up to date by re-adding rows with gen > M
--       and removing ids that are gone (chunk ids can be reused by SQLite).
--
-- meta keys (values are text):
--   embed_model       identity of the model that made every stored vector
--   embed_dim         their dimension
--   vec_generation    bumped on every change to chunk_vectors
--   faiss_generation  the vec_generation vectors.faiss was written at
--   faiss_checksum    sha-256 binding that file's bytes to faiss_generation
-- Rows are deleted by index/ code before their chunk (foreign keys are on).
CREATE TABLE chunk_vectors(
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id),
    gen      INTEGER NOT NULL,
    vec      BLOB NOT NULL
) STRICT;
CREATE INDEX chunk_vectors_gen ON chunk_vectors(gen);

INSERT OR IGNORE INTO meta(key, value) VALUES('vec_generation', '0');
