-- Imported mail (docs/import.md): `mailvault import` files existing Maildir, mbox and .eml
-- backups under an account whose protocol is 'import'. Its entries are keyed like POP3 ones
-- (uidl, no uid): the Maildir base name, or the content's SHA-256 for mbox and .eml.
--
-- SQLite cannot ALTER a CHECK constraint, so accounts is rebuilt. The migration runs inside
-- the archive's migration transaction with foreign keys ON, where PRAGMA foreign_keys cannot
-- be switched off; defer_foreign_keys (which resets at COMMIT) holds the checks until then
-- instead: dropping accounts counts the mailboxes, sync_runs and legal_holds rows left without
-- their account, and re-inserting every account under its old id counts them found again, so
-- the COMMIT sees no violation (and fails, changing nothing, if one were really left). The
-- table is dropped and re-created under its own name, never renamed, so the REFERENCES
-- accounts(id) of the other tables stay as they are. accounts has no trigger, no view and no
-- index but its UNIQUE (name), which CREATE TABLE makes again.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE accounts_before_import (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    protocol   TEXT NOT NULL,
    host       TEXT NOT NULL,
    username   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO accounts_before_import (id, name, protocol, host, username, created_at)
    SELECT id, name, protocol, host, username, created_at FROM accounts;
DROP TABLE accounts;

-- No password or token is ever stored here. 'import': host is where the files were read
-- (the first path given), username is empty.
CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    protocol   TEXT NOT NULL CHECK (protocol IN ('imap', 'pop3', 'import')),
    host       TEXT NOT NULL,
    username   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO accounts (id, name, protocol, host, username, created_at)
    SELECT id, name, protocol, host, username, created_at FROM accounts_before_import;
DROP TABLE accounts_before_import;
