-- The staff desk's decisions on units: a unit with nobody to request ("không có nhu cầu") is
-- reminded no more and shown so in the report. Taking the mark back deletes the row (the audit
-- log keeps who did both).
CREATE TABLE unit_no_need (
    unit_code TEXT PRIMARY KEY,
    since     TEXT NOT NULL,               -- RFC 3339 UTC
    username  TEXT NOT NULL,               -- who marked it
    note      TEXT NOT NULL
) STRICT;
