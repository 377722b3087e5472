-- Versions follow the order their lists were written (DESIGN.md), not the order they arrived:
-- a list delayed by a mail server behind a newer one is kept as an older version. Versions
-- recorded before this are ordered by their mail's arrival, as they were.
ALTER TABLE versions ADD COLUMN written_at TEXT NOT NULL DEFAULT '';
UPDATE versions SET written_at = (
    SELECT strftime('%Y-%m-%dT%H:%M:%SZ', m.received_at) FROM mails m WHERE m.id = versions.mail_id
);
CREATE INDEX versions_by_unit_written ON versions (unit_code, written_at, id);
-- Which units' lists hold a person (the trust policy's check, per row of a mail).
CREATE INDEX rows_by_id_number ON rows (id_number, unit_code);
CREATE INDEX version_rows_by_row ON version_rows (row_id);
