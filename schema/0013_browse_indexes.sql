-- Large archives (issue #14, docs/web.md "At scale"): the folder page and the thread view are
-- index lookups instead of scans of every entry / every header.
--
-- entries.sort_key: the folder page's newest-first key, coalesce(Date: header, INTERNALDATE).
-- The two live in different tables and SQLite cannot index across tables, so the value is kept
-- on the entry by triggers: when an entry is added (its content may be indexed already, or
-- not yet with deferred indexing) and when its content's header row is written.
ALTER TABLE entries ADD COLUMN sort_key INTEGER;
UPDATE entries SET sort_key = coalesce(
    (SELECT h.date_epoch FROM header_index h WHERE h.content_id = entries.content_id),
    internaldate);
CREATE INDEX entries_by_folder_date ON entries (mailbox_id, sort_key, id);

CREATE TRIGGER entries_sort_key_insert AFTER INSERT ON entries BEGIN
    UPDATE entries SET sort_key = coalesce(
        (SELECT date_epoch FROM header_index WHERE content_id = NEW.content_id),
        NEW.internaldate) WHERE id = NEW.id;
END;
CREATE TRIGGER entries_sort_key_update AFTER UPDATE OF internaldate, content_id ON entries BEGIN
    UPDATE entries SET sort_key = coalesce(
        (SELECT date_epoch FROM header_index WHERE content_id = NEW.content_id),
        NEW.internaldate) WHERE id = NEW.id;
END;
CREATE TRIGGER header_index_sort_key_insert AFTER INSERT ON header_index BEGIN
    UPDATE entries SET sort_key = coalesce(NEW.date_epoch, internaldate)
        WHERE content_id = NEW.content_id;
END;
CREATE TRIGGER header_index_sort_key_update AFTER UPDATE OF date_epoch ON header_index BEGIN
    UPDATE entries SET sort_key = coalesce(NEW.date_epoch, internaldate)
        WHERE content_id = NEW.content_id;
END;

-- thread_refs: every Message-ID a content names in In-Reply-To or References, so that "the
-- replies to X" is an index lookup (it was a LIKE over every header row). header_index.refs is
-- space separated (ids have no spaces); it is split with json_each over a JSON array built by
-- escaping '\' and '"'. An id with a control character makes that array invalid: such a
-- message is left out of thread_refs (its thread view misses it) rather than failing the index.
-- No foreign key: rows go with their header row (trigger), whatever order purge deletes in.
CREATE TABLE thread_refs (
    ref        TEXT NOT NULL,
    content_id INTEGER NOT NULL,
    PRIMARY KEY (ref, content_id)
) WITHOUT ROWID;
CREATE INDEX thread_refs_by_content ON thread_refs (content_id);

INSERT OR IGNORE INTO thread_refs (ref, content_id)
    SELECT j.value, x.content_id
    FROM (SELECT content_id, '["' || replace(replace(replace(trim(coalesce(refs, '') || ' ' ||
              coalesce(in_reply_to, '')), '\', '\\'), '"', '\"'), ' ', '","') || '"]' AS a
          FROM header_index WHERE refs IS NOT NULL OR in_reply_to IS NOT NULL) AS x,
         json_each(CASE WHEN json_valid(x.a) THEN x.a ELSE '[]' END) AS j
    WHERE j.value <> '';

CREATE TRIGGER header_index_refs_insert AFTER INSERT ON header_index BEGIN
    DELETE FROM thread_refs WHERE content_id = NEW.content_id;
    INSERT OR IGNORE INTO thread_refs (ref, content_id)
        SELECT j.value, NEW.content_id
        FROM (SELECT '["' || replace(replace(replace(trim(coalesce(NEW.refs, '') || ' ' ||
                  coalesce(NEW.in_reply_to, '')), '\', '\\'), '"', '\"'), ' ', '","') || '"]'
                  AS a) AS x,
             json_each(CASE WHEN json_valid(x.a) THEN x.a ELSE '[]' END) AS j
        WHERE j.value <> '';
END;
CREATE TRIGGER header_index_refs_update AFTER UPDATE OF refs, in_reply_to ON header_index BEGIN
    DELETE FROM thread_refs WHERE content_id = NEW.content_id;
    INSERT OR IGNORE INTO thread_refs (ref, content_id)
        SELECT j.value, NEW.content_id
        FROM (SELECT '["' || replace(replace(replace(trim(coalesce(NEW.refs, '') || ' ' ||
                  coalesce(NEW.in_reply_to, '')), '\', '\\'), '"', '\"'), ' ', '","') || '"]'
                  AS a) AS x,
             json_each(CASE WHEN json_valid(x.a) THEN x.a ELSE '[]' END) AS j
        WHERE j.value <> '';
END;
CREATE TRIGGER header_index_refs_delete AFTER DELETE ON header_index BEGIN
    DELETE FROM thread_refs WHERE content_id = OLD.content_id;
END;

-- Holds by query (docs/retention.md, "Holds by query"): `hold add --query Q` holds exactly the
-- entries Q matched when the hold was added (what a compliance officer expects to be able to
-- name later: the set, its size and the query text are in the audit log); mail that matches Q
-- later is not held. Prune and purge leave a held entry alone while its hold is active. The
-- rows stay after the release, as the record of what was held. No foreign key on entry_id:
-- once a hold is released its entries may be purged.
CREATE TABLE query_holds (
    id          INTEGER PRIMARY KEY,
    query       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    matched     INTEGER NOT NULL,
    added_at    INTEGER NOT NULL,
    released_at INTEGER
);
CREATE TABLE query_hold_entries (
    hold_id  INTEGER NOT NULL REFERENCES query_holds(id),
    entry_id INTEGER NOT NULL,
    PRIMARY KEY (hold_id, entry_id)
) WITHOUT ROWID;
CREATE INDEX query_hold_entries_by_entry ON query_hold_entries (entry_id);
