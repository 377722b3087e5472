-- cts-intake schema, version 3: paper copies and reminders (issue 6).

-- Every paper copy staff record (`cts-intake paper receive`). A receipt is never deleted:
-- `paper undo` sets undone_at. The verdict is the one given at the time; the report judges the
-- code again against the unit's versions as they are now.
CREATE TABLE paper_receipts (
    id          INTEGER PRIMARY KEY,
    unit_code   TEXT NOT NULL,
    received_at TEXT NOT NULL,             -- when staff recorded it
    code        TEXT NOT NULL,             -- the code written on the paper, normalised; '' if none
    row_count   INTEGER,                   -- the rows staff counted on the paper, if given
    note        TEXT NOT NULL,
    verdict     TEXT NOT NULL,             -- match | unchecked | wrong_rows | older_version | mismatch | no_list
    version_id  INTEGER REFERENCES versions(id),   -- the version the code named, if any
    undone_at   TEXT
) STRICT;
CREATE INDEX paper_by_unit ON paper_receipts (unit_code, id);

-- Reminders written into the outbox: at most one per unit and day.
CREATE TABLE reminders (
    id         INTEGER PRIMARY KEY,
    unit_code  TEXT NOT NULL,
    day        TEXT NOT NULL,              -- YYYY-MM-DD in the campaign's time zone
    reason     TEXT NOT NULL,              -- no_list | no_paper
    outbox_id  INTEGER NOT NULL REFERENCES outbox(id),
    created_at TEXT NOT NULL,
    UNIQUE (unit_code, day)
) STRICT;
