-- The staff desk (`cts-intake desk`): accounts, sessions, failed logins and the audit log.

-- One account per person. A removed account is kept (the audit log names it) but cannot log in.
CREATE TABLE staff (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,           -- argon2id, PHC string
    created_at    TEXT NOT NULL,
    removed_at    TEXT
) STRICT;

-- A logged-in browser: the cookie holds a random 256-bit token, this table its SHA-256 only.
CREATE TABLE staff_sessions (
    token_sha256 TEXT PRIMARY KEY,
    staff_id     INTEGER NOT NULL REFERENCES staff(id),
    csrf         TEXT NOT NULL,            -- the token every form of the session carries
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
) STRICT;
CREATE INDEX staff_sessions_by_staff ON staff_sessions (staff_id);

-- Failed logins, for the rate limit (per username and per client).
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY,
    username TEXT NOT NULL,                -- as typed, lower case
    client   TEXT NOT NULL,                -- the client's address
    at       TEXT NOT NULL
) STRICT;
CREATE INDEX login_failures_by_username ON login_failures (username, at);
CREATE INDEX login_failures_by_client ON login_failures (client, at);

-- Every staff action: who, when, what, on what, and the note given.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    username TEXT NOT NULL,
    action   TEXT NOT NULL,                -- login | logout | ignore_mail | release_reply | paper_receive |
                                           -- paper_undo | download_raw | download_attachment |
                                           -- download_report | staff_add | staff_remove
    target   TEXT NOT NULL,                -- what it acted on (a mail's Message-ID, a unit's code...)
    note     TEXT NOT NULL
) STRICT;
