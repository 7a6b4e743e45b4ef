-- chunks was a WITHOUT ROWID table: there, a row's payload may only keep ~1 KB on its b-tree
-- page, so almost every compressed chunk spilled into a mostly empty overflow page (measured:
-- 17 MB of pages for 7.9 MB of chunk data on 10,000 small messages). As an ordinary rowid
-- table with a separate (content_id, seq) index, rows of up to ~4 KB share leaf pages.
CREATE TABLE chunks_new (
    id         INTEGER PRIMARY KEY,
    content_id INTEGER NOT NULL REFERENCES contents(id),
    seq        INTEGER NOT NULL,
    data       BLOB NOT NULL
);
INSERT INTO chunks_new (content_id, seq, data)
    SELECT content_id, seq, data FROM chunks ORDER BY content_id, seq;
DROP TABLE chunks;
ALTER TABLE chunks_new RENAME TO chunks;
CREATE UNIQUE INDEX chunks_by_content ON chunks (content_id, seq);
