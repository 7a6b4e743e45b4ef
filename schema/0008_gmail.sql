-- Gmail attributes of IMAP entries (docs/archive-format.md, "Gmail (schema 8)"), recorded when
-- the server offers X-GM-EXT-1. One row per entry, like the entry's flags: Gmail lists the same
-- message in INBOX, [Gmail]/All Mail and one folder per label, each with its own entry (a small
-- row) pointing at ONE content row (dedup by SHA-256), and each entry gets this row.
-- gm_msgid, gm_thrid: X-GM-MSGID and X-GM-THRID, unsigned 64-bit numbers stored in SQLite's
-- signed INTEGER; a value of 2^63 or more (never seen from Gmail) is stored as value - 2^64.
-- labels: X-GM-LABELS as a JSON array of UTF-8 strings, in the order the server listed them
-- (modified UTF-7 decoded; system labels keep their backslash: ["\\Inbox","Work/Project"]);
-- '[]' when the message has no label (archived: only in All Mail).
-- modseq: the MODSEQ the labels were read at (labels changes bump MODSEQ under CONDSTORE).
CREATE TABLE gmail_entries (
    entry_id   INTEGER PRIMARY KEY REFERENCES entries(id) ON DELETE CASCADE,
    gm_msgid   INTEGER,
    gm_thrid   INTEGER,
    labels     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(labels) AND json_type(labels) = 'array'),
    modseq     INTEGER,
    updated_at INTEGER NOT NULL
);
-- Every entry of one Gmail message (the restore appends each message once).
CREATE INDEX gmail_entries_by_msgid ON gmail_entries (gm_msgid);

-- Label changes seen by a sync, like flag_history for flags (old and new as JSON arrays).
CREATE TABLE gmail_label_history (
    id         INTEGER PRIMARY KEY,
    entry_id   INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    changed_at INTEGER NOT NULL,
    old_labels TEXT NOT NULL,
    new_labels TEXT NOT NULL,
    modseq     INTEGER
);
CREATE INDEX gmail_label_history_by_entry ON gmail_label_history (entry_id);
