-- Search (docs/search.md, docs/archive-format.md "Search index"). message_fts is replaced by
-- three FTS5 tables over the same rows (rowid = contents.id):
--   search_text:  holds the text; case and diacritics folded ("resume" finds "résumé").
--   search_exact: index only (external content = search_text); diacritics kept, for query
--                 words that have them ("Hà" must not find "ha" or "hạ").
--   search_tri:   index only; trigrams, for substrings in unspaced scripts (Han, Kana, Hangul,
--                 Thai, ...) and emoji.
-- Every content is re-indexed (indexed = 0; `mailvault index` or the next search does it).
DROP TABLE message_fts;
CREATE VIRTUAL TABLE search_text USING fts5 (
    from_addr, to_addr, cc_addr, bcc_addr, subject, body, attachments,
    tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE search_exact USING fts5 (
    from_addr, to_addr, cc_addr, bcc_addr, subject, body, attachments,
    content = 'search_text', tokenize = 'unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE search_tri USING fts5 (
    from_addr, to_addr, cc_addr, bcc_addr, subject, body, attachments,
    content = 'search_text', tokenize = 'trigram');

-- attachment_count: parts that are attachments. search_tables: which index-only tables hold
-- the row (1: search_exact, the text has a diacritic; 2: search_tri, it has an unspaced-script
-- character or emoji; a query word of that kind can only match such a text), so that deletes
-- go only where the row is. sort_date: the Date: header, else the
-- earliest INTERNALDATE of the content's entries when it was indexed, else when it was
-- archived; newest-first paging walks header_index_by_sort_date.
ALTER TABLE header_index ADD COLUMN attachment_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE header_index ADD COLUMN search_tables INTEGER NOT NULL DEFAULT 0;
ALTER TABLE header_index ADD COLUMN sort_date INTEGER;
CREATE INDEX header_index_by_sort_date ON header_index (sort_date);

-- Every open of `search`/`show` asks for unindexed contents (cli::open_indexed): without this
-- partial index that question scans the whole contents table (0.3 s at 1M messages).
CREATE INDEX contents_unindexed ON contents (id) WHERE indexed = 0;

UPDATE contents SET indexed = 0;
