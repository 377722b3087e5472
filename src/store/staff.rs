//! The staff desk's own state (migration 008): accounts, sessions, failed logins and the audit
//! log. Passwords are hashed by the caller (argon2, see `desk::auth`); this file only keeps what
//! it is given, and session tokens only as their SHA-256.

use anyhow::{Result, bail};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Store, hex};

/// A time as this file writes it: RFC 3339 UTC to the millisecond (compared as text).
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The SHA-256 of a session token, as the table keeps it.
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffLine {
    pub id: i64,
    pub username: String,
    pub created_at: String,
    pub removed_at: Option<String>,
}

/// A live session and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLine {
    pub staff_id: i64,
    pub username: String,
    pub csrf: String,
    pub expires_at: String,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    pub id: i64,
    pub at: String,
    pub username: String,
    pub action: String,
    pub target: String,
    pub note: String,
}

/// Usernames are compared without case: what staff type at the login form varies.
pub fn normalise_username(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Store {
    /// Adds an account (`password_hash` is a PHC string). Fails when the name is taken by an
    /// account that is not removed; a removed account of that name gets the new password back.
    pub fn add_staff(&self, username: &str, password_hash: &str) -> Result<()> {
        let username = normalise_username(username);
        if username.is_empty()
            || username.chars().count() > 64
            || username
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            bail!("a username is 1 to 64 characters without spaces");
        }
        let now = stamp(Utc::now());
        let existing: Option<(i64, Option<String>)> = self
            .conn
            .query_row(
                "SELECT id, removed_at FROM staff WHERE username = ?1",
                [&username],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match existing {
            Some((_, None)) => bail!("there is already an account named {username}"),
            Some((id, Some(_))) => {
                self.conn.execute(
                    "UPDATE staff SET password_hash = ?2, removed_at = NULL, created_at = ?3 \
                     WHERE id = ?1",
                    params![id, password_hash, now],
                )?;
            }
            None => {
                self.conn.execute(
                    "INSERT INTO staff (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
                    params![username, password_hash, now],
                )?;
            }
        }
        Ok(())
    }

    /// Every account, removed ones included, by name.
    pub fn staff(&self) -> Result<Vec<StaffLine>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, username, created_at, removed_at FROM staff ORDER BY username")?;
        let lines = stmt
            .query_map([], |r| {
                Ok(StaffLine {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    created_at: r.get(2)?,
                    removed_at: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines)
    }

    /// Removes an account (kept, marked removed) and ends its sessions. False when there is no
    /// such account still active.
    pub fn remove_staff(&self, username: &str) -> Result<bool> {
        let username = normalise_username(username);
        let n = self.conn.execute(
            "UPDATE staff SET removed_at = ?2 WHERE username = ?1 AND removed_at IS NULL",
            params![username, stamp(Utc::now())],
        )?;
        self.conn.execute(
            "DELETE FROM staff_sessions WHERE staff_id IN \
             (SELECT id FROM staff WHERE username = ?1)",
            [&username],
        )?;
        Ok(n == 1)
    }

    /// The id and password hash of an active account.
    pub fn staff_password(&self, username: &str) -> Result<Option<(i64, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, password_hash FROM staff WHERE username = ?1 AND removed_at IS NULL",
                [normalise_username(username)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Starts a session for an account: `token` is the cookie's value (kept hashed), `csrf` the
    /// session's form token.
    pub fn create_session(
        &self,
        staff_id: i64,
        token: &str,
        csrf: &str,
        lifetime: Duration,
    ) -> Result<()> {
        let now = Utc::now();
        // Expired sessions go when a new one starts: the table stays small.
        self.conn.execute(
            "DELETE FROM staff_sessions WHERE expires_at <= ?1",
            [stamp(now)],
        )?;
        self.conn.execute(
            "INSERT INTO staff_sessions (token_sha256, staff_id, csrf, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                token_digest(token),
                staff_id,
                csrf,
                stamp(now),
                stamp(now + lifetime)
            ],
        )?;
        Ok(())
    }

    /// The live session of a cookie's token, if it has not expired and its account is active.
    pub fn session(&self, token: &str) -> Result<Option<SessionLine>> {
        Ok(self
            .conn
            .query_row(
                "SELECT s.staff_id, st.username, s.csrf, s.expires_at FROM staff_sessions s \
                 JOIN staff st ON st.id = s.staff_id \
                 WHERE s.token_sha256 = ?1 AND s.expires_at > ?2 AND st.removed_at IS NULL",
                params![token_digest(token), stamp(Utc::now())],
                |r| {
                    Ok(SessionLine {
                        staff_id: r.get(0)?,
                        username: r.get(1)?,
                        csrf: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Ends a session (logout).
    pub fn end_session(&self, token: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM staff_sessions WHERE token_sha256 = ?1",
            [token_digest(token)],
        )?;
        Ok(())
    }

    /// Records a failed login.
    pub fn record_login_failure(&self, username: &str, client: &str) -> Result<()> {
        let now = Utc::now();
        // Failures older than a day no longer count for anything.
        self.conn.execute(
            "DELETE FROM login_failures WHERE at < ?1",
            [stamp(now - Duration::days(1))],
        )?;
        self.conn.execute(
            "INSERT INTO login_failures (username, client, at) VALUES (?1, ?2, ?3)",
            params![normalise_username(username), client, stamp(now)],
        )?;
        Ok(())
    }

    /// Failed logins within `window` before now, for this username and from this client, and
    /// the time of the oldest of them that counts (to say how long to wait).
    pub fn login_failures(
        &self,
        username: &str,
        client: &str,
        window: Duration,
    ) -> Result<(usize, usize, Option<String>)> {
        let since = stamp(Utc::now() - window);
        let count = |column: &str, value: &str| -> Result<(usize, Option<String>)> {
            Ok(self.conn.query_row(
                &format!(
                    "SELECT count(*), min(at) FROM login_failures WHERE {column} = ?1 AND at > ?2"
                ),
                params![value, since],
                |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)),
            )?)
        };
        let (by_user, first_user) = count("username", &normalise_username(username))?;
        let (by_client, first_client) = count("client", client)?;
        let first = match (first_user, first_client) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok((by_user, by_client, first))
    }

    /// Forgets a username's failed logins after it logged in.
    pub fn clear_login_failures(&self, username: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM login_failures WHERE username = ?1",
            [normalise_username(username)],
        )?;
        Ok(())
    }

    /// Writes one line of the audit log.
    pub fn audit(&self, username: &str, action: &str, target: &str, note: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO audit_log (at, username, action, target, note) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![stamp(Utc::now()), username, action, target, note],
        )?;
        Ok(())
    }

    /// The audit log's lines about one target (a mail's Message-ID, a unit's code), oldest
    /// first.
    pub fn audit_of(&self, target: &str) -> Result<Vec<AuditLine>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, username, action, target, note FROM audit_log WHERE target = ?1 \
             ORDER BY id LIMIT 1000",
        )?;
        let lines = stmt
            .query_map([target], audit_from)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines)
    }

    /// The latest `limit` lines of the audit log, newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditLine>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, username, action, target, note FROM audit_log ORDER BY id DESC LIMIT ?1",
        )?;
        let lines = stmt
            .query_map([limit as i64], audit_from)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines)
    }
}

fn audit_from(r: &rusqlite::Row) -> rusqlite::Result<AuditLine> {
    Ok(AuditLine {
        id: r.get(0)?,
        at: r.get(1)?,
        username: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        note: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        (dir, store)
    }

    #[test]
    fn an_account_is_found_by_its_name_in_any_case_until_removed() {
        let (_dir, s) = store();
        s.add_staff("Lan", "$argon2id$x").unwrap();
        assert!(s.add_staff("lan", "$argon2id$y").is_err());
        assert_eq!(s.staff_password("LAN").unwrap().unwrap().1, "$argon2id$x");
        assert!(s.remove_staff("lan").unwrap());
        assert!(s.staff_password("lan").unwrap().is_none());
        assert!(!s.remove_staff("lan").unwrap());
        assert_eq!(s.staff().unwrap().len(), 1);
        assert!(s.add_staff("bad name", "h").is_err());
    }

    #[test]
    fn a_session_is_found_by_its_token_and_ends_at_logout_or_removal() {
        let (_dir, s) = store();
        s.add_staff("lan", "h").unwrap();
        let (id, _) = s.staff_password("lan").unwrap().unwrap();
        s.create_session(id, "tok", "csrf1", Duration::hours(1))
            .unwrap();
        assert_eq!(s.session("tok").unwrap().unwrap().csrf, "csrf1");
        assert!(s.session("other").unwrap().is_none());
        s.end_session("tok").unwrap();
        assert!(s.session("tok").unwrap().is_none());
        s.create_session(id, "tok2", "c", Duration::hours(1))
            .unwrap();
        s.create_session(id, "old", "c", Duration::seconds(-1))
            .unwrap();
        assert!(s.session("old").unwrap().is_none());
        s.remove_staff("lan").unwrap();
        assert!(s.session("tok2").unwrap().is_none());
    }

    #[test]
    fn failed_logins_are_counted_per_username_and_per_client() {
        let (_dir, s) = store();
        s.record_login_failure("Lan", "10.0.0.1").unwrap();
        s.record_login_failure("lan", "10.0.0.2").unwrap();
        s.record_login_failure("minh", "10.0.0.1").unwrap();
        let (user, client, first) = s
            .login_failures("lan", "10.0.0.1", Duration::minutes(15))
            .unwrap();
        assert_eq!((user, client), (2, 2));
        assert!(first.is_some());
        s.clear_login_failures("lan").unwrap();
        let (user, client, _) = s
            .login_failures("lan", "10.0.0.1", Duration::minutes(15))
            .unwrap();
        assert_eq!((user, client), (0, 1));
    }
}
