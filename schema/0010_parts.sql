-- Base64 runs (attachments, mostly) stored decoded and content-addressed (engine/archive/
-- segments.hpp, prepared.hpp): one copy of an attachment however many messages carry it, and
-- no zstd attempt on bytes that do not compress. A content with part_count > 0 keeps in
-- `chunks` its skeleton: the message without those runs; reading puts each run back,
-- re-encoded, at its offset, and re-hashes the whole message (docs/archive-format.md).

CREATE TABLE parts (
    id          INTEGER PRIMARY KEY,
    sha256      BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),  -- of the decoded bytes
    raw_size    INTEGER NOT NULL,                                   -- decoded bytes
    stored_size INTEGER NOT NULL,                                   -- sum of length(part_chunks.data)
    codec       TEXT NOT NULL CHECK (codec IN ('raw', 'zstd')),     -- zstd frames have no dictionary
    chunk_size  INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE part_chunks (
    id      INTEGER PRIMARY KEY,
    part_id INTEGER NOT NULL REFERENCES parts(id),
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL
);
CREATE UNIQUE INDEX part_chunks_by_part ON part_chunks (part_id, seq);

-- Run `seq` of a content: `encoded_size` bytes at offset `at` of the message are part
-- `part_id` encoded in base64 lines of `line_len` characters ended by CRLF (crlf = 1) or LF.
CREATE TABLE content_parts (
    content_id   INTEGER NOT NULL REFERENCES contents(id),
    seq          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    encoded_size INTEGER NOT NULL,
    part_id      INTEGER NOT NULL REFERENCES parts(id),
    line_len     INTEGER NOT NULL CHECK (line_len > 0 AND line_len % 4 = 0),
    crlf         INTEGER NOT NULL CHECK (crlf IN (0, 1)),
    PRIMARY KEY (content_id, seq)
) WITHOUT ROWID;
CREATE INDEX content_parts_by_part ON content_parts (part_id);

ALTER TABLE contents ADD COLUMN part_count INTEGER NOT NULL DEFAULT 0;
