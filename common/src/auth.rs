//! Messages of the auth service and the claims of the tokens it mints. The edge verifies access
//! tokens with the public key and the claims below; only the auth worker can sign them.

use serde::{Deserialize, Serialize};

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// `POST /api/auth/login` answer and `POST /api/auth/refresh` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
}

/// Which kind of token a JWT is. An access token authenticates API calls; a refresh token is only
/// good at `/api/auth/refresh` and `/api/auth/logout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims of both token kinds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub role: Role,
    /// `access` or `refresh`: the edge accepts only `access`.
    pub typ: TokenKind,
    pub iat: i64,
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// Refresh token family (every rotation of one login shares it); absent on access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    pub iss: String,
}

/// The issuer every token carries and every verifier requires.
pub const ISSUER: &str = "online-judge";

use crate::api::body::Field;

/// `POST /api/auth/register`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct Registration {
    /// 3–32 ASCII letters, digits, `_`, `-` or `.`, starting with a letter or digit; unique
    /// regardless of case.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 3, max_length = 32,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$", example = "ada")]
    pub username: Field<String>,
    /// Unique regardless of case.
    #[serde(default)]
    #[schema(value_type = String, required = true, format = Email, max_length = 254, example = "ada@example.org")]
    pub email: Field<String>,
    /// At least 8 characters and at most 72 bytes (what bcrypt reads; longer is refused, never
    /// silently cut).
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 8, max_length = 72, example = "correct horse")]
    pub password: Field<String>,
}
crate::inspect_fields!(Registration {
    username,
    email,
    password
});

/// `POST /api/auth/login`: `username` may also be the account's e-mail address.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct Login {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub username: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub password: Field<String>,
}
crate::inspect_fields!(Login { username, password });

/// `POST /api/auth/refresh` and `POST /api/auth/logout`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub refresh_token: Field<String>,
}
crate::inspect_fields!(RefreshRequest { refresh_token });
