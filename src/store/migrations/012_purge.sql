-- `cts-intake purge --before DATE`: a past campaign's personal data removed, its counts kept.
-- A purged mail keeps its row (sender, unit, outcome, reply kind: every count of `status` and of
-- the report's statistics), marked with when it was purged; its raw bytes, rows, problems and
-- reply bytes are gone. Each purge is recorded with what it removed.
ALTER TABLE mails ADD COLUMN purged_at TEXT;

CREATE TABLE purges (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,               -- when the purge ran (RFC 3339 UTC)
    before    TEXT NOT NULL,               -- mails received before this instant were purged
    mails     INTEGER NOT NULL,
    rows      INTEGER NOT NULL,
    problems  INTEGER NOT NULL,
    replies   INTEGER NOT NULL
) STRICT;
