//! The Ed25519 key pair that signs tokens. The auth worker holds the private key; the edge gets
//! only the public one, so a compromised edge can check tokens but never mint them.

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::error::AuthError;

/// A new key pair as (private PKCS#8 PEM, public SPKI PEM).
pub fn generate() -> (String, String) {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("encoding a fresh key cannot fail")
        .to_string();
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("encoding a fresh key cannot fail");
    (private, public)
}

/// The keys derived from the private key: one to sign, one to verify what we signed.
pub struct SigningKeys {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub public_pem: String,
}

impl SigningKeys {
    pub fn from_private_pem(pem: &str) -> Result<SigningKeys, AuthError> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| AuthError::Key(e.to_string()))?;
        let public_pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| AuthError::Key(e.to_string()))?;
        Ok(SigningKeys {
            encoding: EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| AuthError::Key(e.to_string()))?,
            decoding: DecodingKey::from_ed_pem(public_pem.as_bytes())
                .map_err(|e| AuthError::Key(e.to_string()))?,
            public_pem,
        })
    }
}
