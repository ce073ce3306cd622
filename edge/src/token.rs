//! Access-token verification with the public key only, and the `AuthUser` extractor that lets a
//! handler require a signed-in caller by taking an argument.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use common::auth::{Claims, Role, TokenKind, ISSUER};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::time::Duration;

use crate::error::ApiError;
use crate::AppState;

/// Checks tokens; cannot mint them.
///
/// A verified token is remembered (by its full text, until it expires) so a client making many
/// calls pays for one Ed25519 verification, not one per call: the signature check is the largest
/// part of the edge's own cost. Only tokens that passed are cached, never failures.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    verified: moka::sync::Cache<String, Claims>,
}

/// Each cached token lives exactly until it would fail validation: its expiry plus the leeway.
struct UntilExpiry {
    leeway: u64,
}

impl moka::Expiry<String, Claims> for UntilExpiry {
    fn expire_after_create(
        &self,
        _token: &String,
        claims: &Claims,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        let left = claims.exp.saturating_add(self.leeway as i64) - chrono::Utc::now().timestamp();
        Some(Duration::from_secs(left.max(0) as u64))
    }
}

/// Tokens remembered at once; each costs a few hundred bytes.
const VERIFIED_CACHE: u64 = 50_000;

impl Verifier {
    pub fn from_public_pem(pem: &str) -> Result<Verifier, jsonwebtoken::errors::Error> {
        // Only EdDSA: a token naming any other algorithm (`none`, HS256 with the public key as
        // the secret, …) fails before its signature is looked at.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 30;
        let verified = moka::sync::Cache::builder()
            .max_capacity(VERIFIED_CACHE)
            .expire_after(UntilExpiry {
                leeway: validation.leeway,
            })
            .build();
        Ok(Verifier {
            key: DecodingKey::from_ed_pem(pem.as_bytes())?,
            validation,
            verified,
        })
    }

    /// The claims of a valid, unexpired access token.
    pub fn verify_access(&self, token: &str) -> Result<Claims, ApiError> {
        if let Some(claims) = self.verified.get(token) {
            return Ok(claims);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            ApiError::Unauthenticated(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::InvalidSignature => "the token's signature is invalid",
                ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted",
                _ => "the token is malformed",
            })
        })?;
        if data.claims.typ != TokenKind::Access {
            return Err(ApiError::Unauthenticated("not an access token"));
        }
        self.verified.insert(token.to_owned(), data.claims.clone());
        Ok(data.claims)
    }
}

/// A caller with a valid access token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub role: Role,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated("the Authorization header is missing"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(ApiError::Unauthenticated(
                "expected `Authorization: Bearer <token>`",
            ))?;
        let claims = state.verifier.verify_access(token)?;
        Ok(AuthUser {
            user_id: claims.sub,
            role: claims.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "u".into(),
            role: Role::User,
            typ: TokenKind::Access,
            iat: 0,
            exp,
            jti: "j".into(),
            fam: None,
            iss: ISSUER.into(),
        }
    }

    #[test]
    fn a_cached_token_still_expires() {
        let v = Verifier::from_public_pem(PUBLIC).unwrap();
        let now = chrono::Utc::now().timestamp();
        v.verified.insert("fresh".into(), claims(now + 60));
        v.verified.insert("stale".into(), claims(now - 31));
        assert!(v.verify_access("fresh").is_ok());
        // Past the leeway the cache entry is gone and the token itself is checked (and fails).
        assert!(v.verify_access("stale").is_err());
        assert!(v.verified.get("stale").is_none());
        assert!(v.verified.get("fresh").is_some());
    }
}
