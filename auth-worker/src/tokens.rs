//! Minting access and refresh tokens, and checking refresh tokens presented back to us.

use std::time::Duration;

use common::auth::{Claims, Role, TokenKind, TokenPair, ISSUER};
use jsonwebtoken::{Algorithm, Header, Validation};
use sha2::{Digest, Sha256};

use crate::keys::SigningKeys;

pub struct Minter {
    keys: SigningKeys,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// A freshly minted pair, with what the store keeps of the refresh token.
pub struct Minted {
    pub pair: TokenPair,
    pub refresh_hash: String,
    pub refresh_expires_ms: i64,
}

/// The SHA-256 of a token, hex: what the store keeps instead of the token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Minter {
    pub fn new(keys: SigningKeys, access_ttl: Duration, refresh_ttl: Duration) -> Minter {
        Minter {
            keys,
            access_ttl,
            refresh_ttl,
        }
    }

    fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.keys.encoding)
            .expect("signing with a valid Ed25519 key cannot fail")
    }

    /// A new access token and a refresh token in `family`.
    pub fn mint(&self, user_id: &str, role: Role, family: &str) -> Minted {
        let now = chrono::Utc::now().timestamp();
        let access = Claims {
            sub: user_id.to_owned(),
            role,
            typ: TokenKind::Access,
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            fam: None,
            iss: ISSUER.to_owned(),
        };
        let refresh_exp = now + self.refresh_ttl.as_secs() as i64;
        let refresh = Claims {
            typ: TokenKind::Refresh,
            exp: refresh_exp,
            jti: uuid::Uuid::new_v4().to_string(),
            fam: Some(family.to_owned()),
            ..access.clone()
        };
        let refresh_token = self.sign(&refresh);
        Minted {
            refresh_hash: hash(&refresh_token),
            refresh_expires_ms: refresh_exp * 1000,
            pair: TokenPair {
                access_token: self.sign(&access),
                refresh_token,
                token_type: "Bearer".to_owned(),
                expires_in: self.access_ttl.as_secs(),
            },
        }
    }

    /// The claims of a refresh token we signed that has not expired; `None` for anything else
    /// (another algorithm, a bad signature, an access token, garbage).
    pub fn verify_refresh(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Claims>(token, &self.keys.decoding, &validation).ok()?;
        (data.claims.typ == TokenKind::Refresh && data.claims.fam.is_some()).then_some(data.claims)
    }
}
