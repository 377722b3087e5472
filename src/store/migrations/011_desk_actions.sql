-- The staff desk's decisions on units: a unit with nobody to request ("không có nhu cầu") is
-- reminded no more and shown so in the report. Taking the mark back deletes the row (the audit
-- log keeps who did both).
CREATE TABLE unit_no_need (
    unit_code TEXT PRIMARY KEY,
    since     TEXT NOT NULL,               -- RFC 3339 UTC
    username  TEXT NOT NULL,               -- who marked it
    note      TEXT NOT NULL
) STRICT;

-- Mails to staff (the daily digest, the alert when polling has failed for a while and the one
-- when it works again), each written once: the digest once a day, an alert once per outage.
CREATE TABLE staff_notices (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,              -- digest | poll_down | poll_up
    key        TEXT NOT NULL,              -- the day (digest), the last good poll (alerts)
    outbox_id  INTEGER REFERENCES outbox(id),
    created_at TEXT NOT NULL,
    UNIQUE (kind, key)
) STRICT;
