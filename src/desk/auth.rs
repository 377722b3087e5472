//! Passwords, tokens, cookies and the origin check of the desk.
//!
//! - Passwords: argon2id with a random salt (the `argon2` crate's defaults), as PHC strings.
//! - The session cookie holds 256 random bits (base64url); the database keeps their SHA-256.
//!   HttpOnly, SameSite=Strict, Path=/, and Secure when the desk is served over https.
//! - Every state-changing form carries the session's `csrf` token (the login form, a token also
//!   set as a cookie of its own, before there is a session), and a request whose Origin (or,
//!   without one, Referer) names another origin is refused.

use anyhow::{Result, anyhow};
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The session cookie.
pub const SESSION_COOKIE: &str = "cts_desk_session";
/// The login form's token, before there is a session.
pub const LOGIN_COOKIE: &str = "cts_desk_login";

/// Most bytes of a password looked at: argon2 hashes any length, but a megabyte of "password"
/// is work an attacker chooses.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes a password for the `staff` table.
pub fn hash_password(password: &str) -> Result<String> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow!("cannot hash the password: {e}"))
}

/// True when `password` is the one `hash` was made from.
pub fn verify_password(password: &str, hash: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A hash nobody's password matches, checked when the username is unknown, so that an unknown
/// name takes as long to refuse as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// 256 random bits, base64url.
pub fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no randomness from the system: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares two tokens in time that depends on their lengths only.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name).then_some(v.trim_matches('"'))
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/; `max_age` None for a cookie that
/// ends with the browser, Some(0) to delete it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The origin (`scheme://host:port`, the port when not the default) of a URL, lower case; None when it has none.
pub fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    match u.origin() {
        url::Origin::Tuple(..) => Some(u.origin().ascii_serialization().to_ascii_lowercase()),
        url::Origin::Opaque(_) => None,
    }
}

/// Whether a state-changing request comes from the desk's own pages: its `Origin` header (or,
/// without one, its `Referer`) must name `own` (the configured public origin) or, when none is
/// configured, the host the request was sent to, whatever the scheme. A request with neither
/// header is let through to the `csrf` check (old browsers and privacy settings drop them).
pub fn same_origin(origin: Option<&str>, referer: Option<&str>, own: &OwnOrigin) -> bool {
    let claimed = match (origin, referer) {
        (Some(o), _) if o != "null" => o,
        (Some(_), _) => return false,
        (None, Some(r)) => r,
        (None, None) => return true,
    };
    let Some(claimed) = origin_of(claimed) else {
        return false;
    };
    match own {
        OwnOrigin::Configured(o) => claimed == *o,
        OwnOrigin::Host(host) => claimed
            .strip_prefix("http://")
            .or_else(|| claimed.strip_prefix("https://"))
            .is_some_and(|h| h == host.to_ascii_lowercase()),
    }
}

/// What the desk takes as its own origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnOrigin {
    /// `desk.public-url`'s origin (behind a proxy).
    Configured(String),
    /// The request's `Host` header.
    Host(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("mật khẩu dài").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("mật khẩu dài", &h));
        assert!(!verify_password("mật khẩu dai", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password(&"a".repeat(5000), &h));
    }

    #[test]
    fn tokens_are_256_random_bits_and_compared_whole() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token("", ""));
        assert!(!same_token(&a, &a[..42]));
    }

    #[test]
    fn cookies_are_found_by_name_and_set_strict() {
        assert_eq!(
            cookie("a=1; cts_desk_session=xyz; b=2", SESSION_COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie("cts_desk_session_x=1", SESSION_COOKIE), None);
        let c = set_cookie(SESSION_COOKIE, "v", Some(60), true);
        assert_eq!(
            c,
            "cts_desk_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(!set_cookie(SESSION_COOKIE, "v", None, false).contains("Secure"));
    }

    #[test]
    fn only_the_desks_own_origin_may_post() {
        let host = OwnOrigin::Host("127.0.0.1:8080".into());
        assert!(same_origin(Some("http://127.0.0.1:8080"), None, &host));
        assert!(same_origin(Some("https://127.0.0.1:8080"), None, &host));
        assert!(!same_origin(Some("http://evil.example"), None, &host));
        assert!(!same_origin(Some("null"), None, &host));
        assert!(same_origin(
            None,
            Some("http://127.0.0.1:8080/ban-giay"),
            &host
        ));
        assert!(!same_origin(None, Some("http://evil.example/x"), &host));
        assert!(same_origin(None, None, &host));
        let conf = OwnOrigin::Configured("https://desk.namdinh.edu.vn".into());
        assert!(same_origin(
            Some("https://desk.namdinh.edu.vn"),
            None,
            &conf
        ));
        assert!(!same_origin(
            Some("http://desk.namdinh.edu.vn"),
            None,
            &conf
        ));
        // Origin wins over Referer.
        assert!(!same_origin(
            Some("http://evil.example"),
            Some("https://desk.namdinh.edu.vn/"),
            &conf
        ));
        let default_port = OwnOrigin::Host("desk.example".into());
        assert!(same_origin(
            Some("https://desk.example"),
            None,
            &default_port
        ));
    }
}
