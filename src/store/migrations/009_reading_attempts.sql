-- A mail's reading attempts, counted before each reading starts (in their own transaction, with
-- the raw bytes) and cleared when its result is recorded: a mail whose reading did not finish
-- twice (the daemon stopped while reading it) is held on the third and never read again
-- automatically.
CREATE TABLE reading_attempts (
    mailbox     TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    tries       INTEGER NOT NULL,
    last_try_at TEXT NOT NULL,
    PRIMARY KEY (mailbox, source_key)
) STRICT;
