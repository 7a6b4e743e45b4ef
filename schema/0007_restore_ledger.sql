-- The restore ledger (docs/restore.md): one row per archived entry written (or being written)
-- into a target IMAP folder by `mailvault restore`.
-- target_folder: the target's mailbox name in UTF-8, with the target's hierarchy delimiter.
-- state 'intent': committed before the APPEND was sent; the message may or may not be on the
-- target (a crash between the two). 'confirmed': the APPEND was answered OK; target_uid is the
-- APPENDUID (NULL when the server has no UIDPLUS, or when matched without one).
-- target_uidvalidity: the folder's UIDVALIDITY when the row was written; a folder whose
-- UIDVALIDITY differs now is re-matched on the target, never filled again blindly.
-- entry_id is not a foreign key: purging entries from the archive must stay possible; the
-- content hash keeps the row meaningful.
CREATE TABLE restore_ledger (
    id INTEGER PRIMARY KEY,
    target_account TEXT NOT NULL,
    target_folder TEXT NOT NULL,
    target_uidvalidity INTEGER,
    target_uid INTEGER,
    entry_id INTEGER NOT NULL,
    content_sha256 BLOB NOT NULL CHECK (length(content_sha256) = 32),
    state TEXT NOT NULL CHECK (state IN ('intent', 'confirmed')),
    updated_at INTEGER NOT NULL,
    UNIQUE (target_account, target_folder, entry_id)
);
