-- Legal holds: while a hold is active (released_at IS NULL) nothing in its scope may be deleted
-- from the server or the archive. mailbox_id NULL = the whole account.
CREATE TABLE legal_holds (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    mailbox_id  INTEGER REFERENCES mailboxes(id),
    reason      TEXT NOT NULL,
    added_at    INTEGER NOT NULL,
    released_at INTEGER
);
CREATE INDEX legal_holds_by_account ON legal_holds (account_id);
