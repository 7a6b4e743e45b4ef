-- What the server reported, so `mailvault status` can say "N on server at last sync" truthfully
-- (counting archived rows says nothing about what the archive may be missing).
-- server_messages: the message count the server reported for the folder (IMAP SELECT EXISTS /
-- STATUS MESSAGES, POP3 STAT/UIDL listing) at the last completed sync of that folder;
-- server_counted_at: when (epoch seconds). Both NULL until a sync has recorded them.
ALTER TABLE mailboxes ADD COLUMN server_messages INTEGER;
ALTER TABLE mailboxes ADD COLUMN server_counted_at INTEGER;
-- The last completed sync of each account (status = 'ok'), found without scanning every run.
CREATE INDEX sync_runs_by_account ON sync_runs (account_id, status, finished_at);
