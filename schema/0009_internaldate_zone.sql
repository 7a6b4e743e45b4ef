-- The zone of each entry's INTERNALDATE as the server sent it (docs/archive-format.md): minutes
-- east of UTC ("+0200" -> 120, "-0530" -> -330). entries.internaldate stays UTC seconds; a
-- restore writes the date back in this zone, so the target shows exactly the archived date.
-- NULL: not known (POP3 entries, entries archived before schema 9).
ALTER TABLE entries ADD COLUMN internaldate_tz INTEGER
    CHECK (internaldate_tz IS NULL OR (internaldate_tz > -1440 AND internaldate_tz < 1440));
