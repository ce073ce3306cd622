//! The edge accepts exactly the access tokens the auth worker signed, unexpired.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::auth::{Claims, Role, TokenKind, ISSUER};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use system_tests::{Stack, StackOptions};

fn claims(sub: &str, typ: TokenKind, exp_offset: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.to_owned(),
        role: Role::Admin,
        typ,
        iat: now,
        exp: now + exp_offset,
        jti: "test".to_owned(),
        fam: None,
        iss: ISSUER.to_owned(),
    }
}

async fn status_of(stack: &Stack, token: &str) -> (u16, Value, Option<String>) {
    let r = stack.get_auth("/api/auth/me", token).await;
    let status = r.status().as_u16();
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, r.json().await.unwrap_or(Value::Null), www)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_valid_access_tokens_pass() {
    let stack = Stack::start(StackOptions::default()).await;
    let user = stack.register("ivan", "correct horse battery").await;
    let id = user["id"].as_str().unwrap();
    let tokens = stack.login("ivan", "correct horse battery").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(status_of(&stack, access).await.0, 200);

    let ours = EncodingKey::from_ed_pem(stack.private_key.as_bytes()).unwrap();
    let sign =
        |c: &Claims, key: &EncodingKey| jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), c, key).unwrap();
    // Our own key, fresh claims: accepted (the harness signs like the worker does).
    assert_eq!(
        status_of(&stack, &sign(&claims(id, TokenKind::Access, 300), &ours))
            .await
            .0,
        200
    );

    let (other_private, _) = auth_worker::keys::generate();
    let theirs = EncodingKey::from_ed_pem(other_private.as_bytes()).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(id, TokenKind::Access, 300)).unwrap());
    let alg_none = format!("{header}.{payload}.");
    // HS256 with the public key as the shared secret: the classic algorithm-confusion attack.
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(id, TokenKind::Access, 300),
        &EncodingKey::from_secret(stack.public_key.as_bytes()),
    )
    .unwrap();
    // Tampered: the payload swapped for one claiming admin, the signature kept.
    let parts: Vec<&str> = access.split('.').collect();
    let mut forged: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    forged["role"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap()),
        parts[2]
    );
    let mut bad_sig = access.to_owned();
    let last = bad_sig.pop().unwrap();
    bad_sig.push(if last == 'A' { 'B' } else { 'A' });
    let mut wrong_issuer = claims(id, TokenKind::Access, 300);
    wrong_issuer.iss = "someone-else".into();

    let cases = [
        ("expired", sign(&claims(id, TokenKind::Access, -120), &ours)),
        ("another key", sign(&claims(id, TokenKind::Access, 300), &theirs)),
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        ("tampered payload", tampered),
        ("bad signature", bad_sig),
        (
            "refresh as access",
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        ),
        (
            "minted refresh as access",
            sign(&claims(id, TokenKind::Refresh, 300), &ours),
        ),
        ("wrong issuer", sign(&wrong_issuer, &ours)),
        ("garbage", "abc.def.ghi".to_owned()),
        ("empty", String::new()),
    ];
    for (name, token) in cases {
        let (status, body, www) = status_of(&stack, &token).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(body["code"], "unauthenticated", "{name}: {body}");
        assert!(www.is_some_and(|w| w.starts_with("Bearer")), "{name}");
    }

    // No header, or another scheme.
    let r = stack.http.get(stack.url("/api/auth/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = stack
        .http
        .get(stack.url("/api/auth/me"))
        .header("authorization", format!("Basic {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
