-- mailvault archive, version 1. See docs/archive-format.md.
-- Times are Unix epoch seconds (UTC). Hashes are raw 32-byte SHA-256 BLOBs.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- No password or token is ever stored here.
CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    protocol   TEXT NOT NULL CHECK (protocol IN ('imap', 'pop3')),
    host       TEXT NOT NULL,
    username   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    wire_name     TEXT NOT NULL,          -- as the server sends it (modified UTF-7 or UTF-8)
    name          TEXT NOT NULL,          -- decoded UTF-8
    delimiter     TEXT,                   -- NULL when the server says NIL
    special_use   TEXT,                   -- e.g. '\Sent', NULL if none
    uidvalidity   INTEGER,                -- of the current generation
    uidnext       INTEGER,
    highestmodseq INTEGER,
    last_uid      INTEGER,                -- highest UID archived in the current generation
    generation    INTEGER NOT NULL DEFAULT 1,
    last_synced   INTEGER,
    UNIQUE (account_id, wire_name)
);

CREATE TABLE dictionaries (
    id           INTEGER PRIMARY KEY,
    zstd_dict_id INTEGER NOT NULL,        -- the id zstd writes into frames
    created_at   INTEGER NOT NULL,
    sample_count INTEGER NOT NULL,
    sample_bytes INTEGER NOT NULL,
    data         BLOB NOT NULL            -- a zstd dictionary, usable with `zstd -D`
);

-- One row per distinct raw message (dedup by SHA-256 of the exact bytes).
CREATE TABLE contents (
    id            INTEGER PRIMARY KEY,
    sha256        BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),
    raw_size      INTEGER NOT NULL,
    stored_size   INTEGER NOT NULL,       -- sum of length(chunks.data)
    codec         TEXT NOT NULL CHECK (codec IN ('raw', 'zstd')),
    dictionary_id INTEGER REFERENCES dictionaries(id),
    chunk_size    INTEGER NOT NULL,       -- raw bytes per chunk (last chunk may be shorter)
    chunk_count   INTEGER NOT NULL,
    indexed       INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- The bytes: chunk `seq` holds raw bytes [seq*chunk_size, (seq+1)*chunk_size), either as-is
-- (codec 'raw') or as one independent zstd frame (codec 'zstd', with the content's dictionary).
CREATE TABLE chunks (
    content_id INTEGER NOT NULL REFERENCES contents(id),
    seq        INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (content_id, seq)
) WITHOUT ROWID;

-- A message as seen in one mailbox generation: IMAP (uid) or POP3 (uidl).
CREATE TABLE entries (
    id           INTEGER PRIMARY KEY,
    mailbox_id   INTEGER NOT NULL REFERENCES mailboxes(id),
    generation   INTEGER NOT NULL,
    uidvalidity  INTEGER,
    uid          INTEGER,
    uidl         TEXT,
    flags        TEXT NOT NULL DEFAULT '',  -- sorted, space separated: '\Seen $Label1'
    modseq       INTEGER,
    internaldate INTEGER,
    size         INTEGER NOT NULL,
    content_id   INTEGER NOT NULL REFERENCES contents(id),
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    expunged_at  INTEGER,                   -- when the server no longer had it
    CHECK ((uid IS NULL) <> (uidl IS NULL))
);
CREATE UNIQUE INDEX entries_by_uid ON entries (mailbox_id, generation, uid) WHERE uid IS NOT NULL;
CREATE UNIQUE INDEX entries_by_uidl ON entries (mailbox_id, generation, uidl) WHERE uidl IS NOT NULL;
CREATE INDEX entries_by_content ON entries (content_id);

CREATE TABLE flag_history (
    id         INTEGER PRIMARY KEY,
    entry_id   INTEGER NOT NULL REFERENCES entries(id),
    changed_at INTEGER NOT NULL,
    old_flags  TEXT NOT NULL,
    new_flags  TEXT NOT NULL,
    modseq     INTEGER
);
CREATE INDEX flag_history_by_entry ON flag_history (entry_id);

CREATE TABLE uidvalidity_events (
    id              INTEGER PRIMARY KEY,
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes(id),
    at              INTEGER NOT NULL,
    old_uidvalidity INTEGER,
    new_uidvalidity INTEGER NOT NULL,
    old_generation  INTEGER NOT NULL,
    new_generation  INTEGER NOT NULL
);

-- Header index, one row per content. parse_status: 'ok' or 'failed' (GMime could not parse;
-- the bytes are archived all the same).
CREATE TABLE header_index (
    content_id   INTEGER PRIMARY KEY REFERENCES contents(id),
    parse_status TEXT NOT NULL CHECK (parse_status IN ('ok', 'failed')),
    message_id   TEXT,
    in_reply_to  TEXT,
    refs         TEXT,                    -- space separated message ids, without <>
    from_addr    TEXT,
    to_addr      TEXT,
    cc_addr      TEXT,
    subject      TEXT,
    date_epoch   INTEGER,                 -- NULL when absent or unparsable
    date_raw     TEXT,
    header_hash  BLOB                     -- SHA-256 of the header block, see docs
);
CREATE INDEX header_index_by_message_id ON header_index (message_id);
CREATE INDEX header_index_by_header_hash ON header_index (header_hash);

-- Full-text search; rowid = contents.id.
CREATE VIRTUAL TABLE message_fts USING fts5 (subject, addresses, body, tokenize = 'unicode61 remove_diacritics 2');

CREATE TABLE sync_runs (
    id                INTEGER PRIMARY KEY,
    account_id        INTEGER REFERENCES accounts(id),
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    status            TEXT NOT NULL DEFAULT 'running',
    messages_new      INTEGER NOT NULL DEFAULT 0,
    messages_updated  INTEGER NOT NULL DEFAULT 0,
    messages_expunged INTEGER NOT NULL DEFAULT 0,
    bytes_fetched     INTEGER NOT NULL DEFAULT 0,
    errors            INTEGER NOT NULL DEFAULT 0,
    detail            TEXT
);

-- Append-only, hash chained: hash = SHA-256(prev_hash || seq || at || kind || 0x00 || payload),
-- see docs/archive-format.md. meta('audit_head') holds "seq:hex(hash)" of the last row.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    payload   TEXT NOT NULL,              -- JSON
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
