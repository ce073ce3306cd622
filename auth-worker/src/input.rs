//! Parsing request bodies into values that are valid by construction. A `Username`, `Email` or
//! `Password` cannot exist unless it passed these rules, so nothing past the boundary re-checks.
//! Fields are read one by one with [`Fields`], so one 422 names every invalid field.

/// Bytes bcrypt reads; longer passwords would be silently truncated, so they are refused.
pub const PASSWORD_MAX_BYTES: usize = 72;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const EMAIL_MAX: usize = 254;
/// Longest login identifier or token accepted before any lookup.
pub const TOKEN_MAX: usize = 4096;

/// The body parsed as a JSON object.
pub use common::problem::json_object as object;

/// Collects field errors so one response can name them all.
pub use common::problem::Fields;

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

    #[test]
    fn fields_are_all_named() {
        let map = object(br#"{"username": {"$gt": ""}, "email": 5}"#).unwrap();
        let mut f = Fields::default();
        assert!(f.string(&map, "username").is_none());
        assert!(f.string(&map, "email").is_none());
        assert!(f.string(&map, "password").is_none());
        let p = f.finish().unwrap_err();
        let names: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["username", "email", "password"]);
        assert_eq!(p.status, 422);
    }

    #[test]
    fn bodies() {
        assert_eq!(object(b"{").unwrap_err().status, 400);
        assert_eq!(object(b"[1]").unwrap_err().status, 400);
    }
}
