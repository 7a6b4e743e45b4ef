-- The SHA-256 of each content's header block, written when the content is stored (the full
-- header index may be built later, lazily). Used to recognise an archived message after a
-- UIDVALIDITY change without downloading it. NULL for contents stored before this migration;
-- for those, header_index.header_hash holds the same value.
ALTER TABLE contents ADD COLUMN header_hash BLOB;
CREATE INDEX contents_by_header_hash ON contents (header_hash) WHERE header_hash IS NOT NULL;
