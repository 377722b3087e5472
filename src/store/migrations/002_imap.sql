-- cts-intake schema, version 2: the IMAP queue, the health of each source, and replays.

-- Where cts-intake stands in each IMAP mailbox: this table, not \Seen or a keyword, is the queue.
-- last_uid moves only after the mail with that UID has its result committed.
CREATE TABLE mailbox_state (
    mailbox      TEXT PRIMARY KEY,         -- the Mailbox's name ("imap:user@host/INBOX")
    uid_validity INTEGER NOT NULL,         -- the mailbox's UIDVALIDITY the UIDs below belong to
    last_uid     INTEGER NOT NULL,         -- every mail up to this UID is taken (or known)
    rescan_until INTEGER NOT NULL DEFAULT 0, -- after a UIDVALIDITY change, UIDs up to this one were
                                             -- there already: copies of mails taken before are
                                             -- recognised and not recorded again
    updated_at   TEXT NOT NULL
) STRICT;

-- Each source's last pass, for `status` and monitoring.
CREATE TABLE polls (
    mailbox         TEXT PRIMARY KEY,
    last_success_at TEXT,                  -- the last pass that listed and took everything new
    last_error_at   TEXT,
    last_error      TEXT
) STRICT;

-- `replay`: a mail processed again gets a new row; the old one stays, pointing at its successor,
-- and every report reads only rows that are not superseded.
ALTER TABLE mails ADD COLUMN superseded_by INTEGER REFERENCES mails(id);
