-- A copy of each reply in the IMAP mailbox's Sent folder (issue 5).
--   copy_owed  1 when the reply was sent while the copy is configured: the sender sets it in the
--              same update that records the reply as sent, so a crash before the copy was made
--              leaves it owed
--   copied_at  when the copy was appended to the Sent folder (or found there already); a copy
--              is owed while copy_owed = 1 and copied_at IS NULL
-- Replies sent before this migration, or written as .eml files, owe no copy.
ALTER TABLE outbox ADD COLUMN copy_owed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN copied_at TEXT;
CREATE INDEX outbox_copy_owed ON outbox (id) WHERE copy_owed = 1 AND copied_at IS NULL;
