//! Access-token verification with the public key only, and the `AuthUser` extractor that lets a
//! handler require a signed-in caller by taking an argument.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use common::auth::{Claims, Role, TokenKind, ISSUER};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::error::ApiError;
use crate::AppState;

/// Checks tokens; cannot mint them.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    pub fn from_public_pem(pem: &str) -> Result<Verifier, jsonwebtoken::errors::Error> {
        // Only EdDSA: a token naming any other algorithm (`none`, HS256 with the public key as
        // the secret, …) fails before its signature is looked at.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 30;
        Ok(Verifier {
            key: DecodingKey::from_ed_pem(pem.as_bytes())?,
            validation,
        })
    }

    /// The claims of a valid, unexpired access token.
    pub fn verify_access(&self, token: &str) -> Result<Claims, ApiError> {
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
