-- A reply's draft for an accepted list names the version it lists (the unit's full list after
-- the mail) instead of holding a copy of that version's rows: the rows are stored once, in
-- `rows` and `version_rows`, and read back when the reply is composed. Drafts written before
-- this migration hold their rows and leave this NULL.
ALTER TABLE outbox ADD COLUMN version_id INTEGER REFERENCES versions(id);
