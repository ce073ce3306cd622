//! Parsing request bodies into values that are valid by construction. A `Username`, `Email` or
//! `Password` cannot exist unless it passed these rules, so nothing past the boundary re-checks.
//! Each body is read by `common::api::body::parse` and validated here, in one place per body,
//! so one 422 names every invalid field (unknown ones included).

use common::api::body;
use common::auth::{Login, RefreshRequest, Registration};

use crate::error::AuthError;

/// Bytes bcrypt reads; longer passwords would be silently truncated, so they are refused.
pub const PASSWORD_MAX_BYTES: usize = 72;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const EMAIL_MAX: usize = 254;
/// Longest login identifier or token accepted before any lookup.
pub const TOKEN_MAX: usize = 4096;

/// A user name: 3–32 ASCII letters, digits, `_`, `-` or `.`, starting with a letter or digit.
/// Unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, String> {
        let len = s.chars().count();
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
            return Err(format!("must be {USERNAME_MIN} to {USERNAME_MAX} characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err("may contain only letters, digits, '_', '-' and '.'".to_owned());
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("must start with a letter or digit".to_owned());
        }
        Ok(Username(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key uniqueness is enforced on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// An e-mail address: one `@`, a local part of at most 64 bytes, a domain of letters, digits,
/// dots and hyphens; at most 254 bytes; no spaces or control characters. Unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, String> {
        if s.len() > EMAIL_MAX {
            return Err(format!("must be at most {EMAIL_MAX} bytes"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("must be an e-mail address".to_owned());
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| {
                c.is_ascii_graphic()
                    && !matches!(
                        c,
                        '@' | '<' | '>' | '(' | ')' | ',' | ';' | ':' | '\\' | '"' | '[' | ']'
                    )
            });
        let domain_ok = !domain.is_empty()
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !local_ok || !domain_ok {
            return Err("must be an e-mail address".to_owned());
        }
        Ok(Email(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A password of 8 characters up to bcrypt's 72 bytes.
pub struct Password(String);

impl Password {
    pub fn parse(s: &str) -> Result<Password, String> {
        if s.len() > PASSWORD_MAX_BYTES {
            return Err(format!(
                "must be at most {PASSWORD_MAX_BYTES} bytes (bcrypt reads no more)"
            ));
        }
        if s.chars().count() < PASSWORD_MIN_CHARS {
            return Err(format!("must be at least {PASSWORD_MIN_CHARS} characters"));
        }
        Ok(Password(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// A bounded, non-empty string such as a login name or a token.
pub fn bounded(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if s.len() > TOKEN_MAX {
        return Err(format!("must be at most {TOKEN_MAX} bytes"));
    }
    Ok(s.to_owned())
}

/// A valid `POST /api/auth/register` body.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    pub password: Password,
}

pub fn registration(bytes: &[u8]) -> Result<NewAccount, AuthError> {
    let (b, mut f) = body::parse::<Registration>(bytes)?;
    let username = f.required("username", b.username, |s| Username::parse(&s));
    let email = f.required("email", b.email, |s| Email::parse(&s));
    let password = f.required("password", b.password, |s| Password::parse(&s));
    f.finish()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        unreachable!("finish() fails when a field is missing");
    };
    Ok(NewAccount {
        username,
        email,
        password,
    })
}

/// A `POST /api/auth/login` body: the login (a username or an e-mail address) and a password
/// no longer than bcrypt reads.
pub fn login(bytes: &[u8]) -> Result<(String, String), AuthError> {
    let (b, mut f) = body::parse::<Login>(bytes)?;
    let login = f.required("username", b.username, |s| bounded(&s));
    let password = f.required("password", b.password, |p| {
        if p.len() > PASSWORD_MAX_BYTES {
            Err(format!("must be at most {PASSWORD_MAX_BYTES} bytes"))
        } else {
            Ok(p)
        }
    });
    f.finish()?;
    let (Some(login), Some(password)) = (login, password) else {
        unreachable!("finish() fails when a field is missing");
    };
    Ok((login, password))
}

/// The token of a `POST /api/auth/refresh` or `/logout` body.
pub fn refresh_token(bytes: &[u8]) -> Result<String, AuthError> {
    let (b, mut f) = body::parse::<RefreshRequest>(bytes)?;
    let token = f.required("refresh_token", b.refresh_token, |s| bounded(&s));
    f.finish()?;
    Ok(token.expect("finish() fails when the field is missing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("alice_01").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("_alice").is_err());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("ålice").is_err());
        assert_eq!(Username::parse("Alice").unwrap().key(), "alice");
    }

    #[test]
    fn emails() {
        assert!(Email::parse("a@b.example").is_ok());
        assert!(Email::parse("admin@localhost").is_ok());
        assert!(Email::parse("a@@b").is_err());
        assert!(Email::parse("a b@c.d").is_err());
        assert!(Email::parse("@c.d").is_err());
        assert!(Email::parse("a@").is_err());
        assert!(Email::parse("a@-x.d").is_err());
        assert!(Email::parse(&format!("{}@x.d", "a".repeat(65))).is_err());
        assert_eq!(Email::parse("A@B.Example").unwrap().key(), "a@b.example");
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(72)).is_ok());
        assert!(Password::parse(&"x".repeat(73)).is_err());
        // 24 three-byte characters are 72 bytes; 25 are over.
        assert!(Password::parse(&"€".repeat(24)).is_ok());
        assert!(Password::parse(&"€".repeat(25)).is_err());
    }

    use common::service::ServiceError;

    fn problem(r: Result<NewAccount, AuthError>) -> common::Problem {
        r.expect_err("refused").problem()
    }

    #[test]
    fn fields_are_all_named() {
        let p = problem(registration(
            br#"{"username": {"$gt": ""}, "email": 5, "admin": true}"#,
        ));
        let names: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["admin", "username", "email", "password"]);
        assert_eq!(p.status, 422);
        let p = problem(registration(
            br#"{"username": "al", "email": "x", "password": "short"}"#,
        ));
        let names: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["username", "email", "password"]);
    }

    #[test]
    fn bodies() {
        assert_eq!(problem(registration(b"{")).status, 400);
        assert_eq!(problem(registration(b"[1]")).status, 400);
        let ok =
            registration(br#"{"username": "ada", "email": "ada@example.org", "password": "correct horse"}"#);
        assert_eq!(ok.unwrap().username.as_str(), "ada");
        assert_eq!(
            login(br#"{"username": "ada", "password": "x"}"#).unwrap().0,
            "ada"
        );
        assert!(refresh_token(br#"{"refresh_token": ""}"#).is_err());
    }
}
