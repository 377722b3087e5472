-- cts-intake schema, version 1. Every table STRICT; times are RFC 3339 UTC text.

-- The raw bytes of every mail, content-addressed, kept before anything else is done with it.
CREATE TABLE raw_mails (
    sha256    TEXT PRIMARY KEY,
    size      INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    stored_at TEXT NOT NULL
) STRICT;

-- Every mail taken from a mailbox, whatever became of it.
CREATE TABLE mails (
    id           INTEGER PRIMARY KEY,
    mailbox      TEXT NOT NULL,            -- the Mailbox's name ("maildir:/path", "imap://...")
    source_key   TEXT NOT NULL,            -- the mail's key in that mailbox
    sha256       TEXT NOT NULL,            -- the raw bytes, in raw_mails
    size         INTEGER NOT NULL,
    message_id   TEXT NOT NULL,            -- without angle brackets; '' when the mail had none
    received_at  TEXT NOT NULL,            -- when it reached the mailbox
    from_addr    TEXT NOT NULL,
    from_name    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    unit_code    TEXT,
    trust        TEXT NOT NULL,            -- registered | unverified | unknown
    outcome      TEXT NOT NULL,            -- accepted | rejected | no_list | held | ignored | duplicate
    reply_kind   TEXT NOT NULL,            -- ack | errors | no_list | held | none
    late         INTEGER NOT NULL,
    supplement   INTEGER NOT NULL,
    note         TEXT NOT NULL,
    files        TEXT NOT NULL,            -- JSON: the attachments read
    duplicate_of INTEGER REFERENCES mails(id),
    processed_at TEXT NOT NULL,
    UNIQUE (mailbox, source_key)
) STRICT;
CREATE INDEX mails_by_message ON mails (message_id, sha256);
CREATE INDEX mails_by_unit ON mails (unit_code, id);

-- Every problem found in a mail's lists.
CREATE TABLE problems (
    id            INTEGER PRIMARY KEY,
    mail_id       INTEGER NOT NULL REFERENCES mails(id),
    file          TEXT NOT NULL,
    sheet         TEXT NOT NULL,
    row           INTEGER NOT NULL,
    column_header TEXT NOT NULL,
    field         TEXT NOT NULL,
    value         TEXT NOT NULL,
    severity      TEXT NOT NULL,
    message       TEXT NOT NULL
) STRICT;
CREATE INDEX problems_by_mail ON problems (mail_id);

-- The valid rows of a mail's lists.
CREATE TABLE rows (
    id             INTEGER PRIMARY KEY,
    mail_id        INTEGER NOT NULL REFERENCES mails(id),
    unit_code      TEXT,
    person_key     TEXT NOT NULL,
    request_type   TEXT NOT NULL,
    full_name      TEXT NOT NULL,
    birth_date     TEXT,
    id_number      TEXT NOT NULL,
    id_issue_date  TEXT,
    id_issue_place TEXT NOT NULL,
    position       TEXT NOT NULL,
    unit_name      TEXT NOT NULL,
    email          TEXT NOT NULL,
    phone          TEXT NOT NULL,
    cert_serial    TEXT NOT NULL,
    change_detail  TEXT NOT NULL,
    reason         TEXT NOT NULL,
    note           TEXT NOT NULL,
    source_file    TEXT NOT NULL,
    source_sheet   TEXT NOT NULL,
    source_row     INTEGER NOT NULL
) STRICT;
CREATE INDEX rows_by_mail ON rows (mail_id);

-- Each accepted version of a unit's list; the unit's current version is its latest.
CREATE TABLE versions (
    id         INTEGER PRIMARY KEY,
    unit_code  TEXT NOT NULL,
    mail_id    INTEGER NOT NULL REFERENCES mails(id),
    code       TEXT NOT NULL,              -- the reconciliation code
    row_count  INTEGER NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX versions_by_unit ON versions (unit_code, id);

CREATE TABLE version_rows (
    version_id INTEGER NOT NULL REFERENCES versions(id),
    row_id     INTEGER NOT NULL REFERENCES rows(id),
    PRIMARY KEY (version_id, row_id)
) STRICT, WITHOUT ROWID;

-- Replies, written in the same transaction as the result they answer, then delivered.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    mail_id         INTEGER REFERENCES mails(id),   -- the mail answered; NULL for a reminder
    message_id      TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    recipients      TEXT NOT NULL,          -- JSON array of envelope recipients
    bytes           BLOB NOT NULL,          -- the whole RFC 5322 message
    status          TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
) STRICT;
CREATE INDEX outbox_pending ON outbox (status, id);

-- Who each reply went to and when the mail it answers arrived: the per-recipient rate limit
-- counts here without scanning the outbox. Held replies (over the limit) are not listed.
CREATE TABLE reply_recipients (
    outbox_id   INTEGER NOT NULL REFERENCES outbox(id),
    address     TEXT NOT NULL,             -- lower case
    received_at TEXT NOT NULL,             -- RFC 3339 UTC, as mails.received_at
    PRIMARY KEY (address, received_at, outbox_id)
) STRICT, WITHOUT ROWID;
