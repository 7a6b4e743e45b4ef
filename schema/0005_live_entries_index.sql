-- Live entries (not expunged on the server) per mailbox generation: the unchanged-folder check
-- counts them on every sync; with this partial index the count reads only the index
-- (measured: a no-change resync of a 1M-message folder took 1.3 s, mostly this count).
CREATE INDEX entries_live ON entries (mailbox_id, generation) WHERE expunged_at IS NULL;
