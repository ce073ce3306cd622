//! Accounts through the whole path: HTTP → edge → NATS → auth worker → store.

use std::time::Duration;

use serde_json::{json, Value};
use system_tests::{Stack, StackOptions};

async fn problem(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body: Value = r.json().await.expect("a JSON body");
    assert_eq!(ct, "application/problem+json", "status {status}: {body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["code"].is_string(), "{body}");
    (status, body)
}

fn field_names(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_me() {
    let stack = Stack::start(StackOptions::default()).await;
    let user = stack.register("Alice_01", "correct horse battery").await;
    assert_eq!(user["username"], "Alice_01");
    assert_eq!(user["email"], "Alice_01@example.org");
    assert_eq!(user["role"], "user");
    assert!(
        user.get("password_hash").is_none() && user.get("password").is_none(),
        "{user}"
    );

    let tokens = stack.login("alice_01", "correct horse battery").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap();
    let me: Value = stack.get_auth("/api/auth/me", access).await.json().await.unwrap();
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["username"], "Alice_01");
    system_tests::assert_rfc3339_utc(&me["created_at"]);

    // The e-mail works as a login name too, in any case.
    stack.login("ALICE_01@example.org", "correct horse battery").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_refused_regardless_of_case() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.register("bob", "correct horse battery").await;
    for (username, email, code, field) in [
        ("bob", "other@example.org", "username_taken", "username"),
        ("BoB", "other@example.org", "username_taken", "username"),
        ("bobby", "BOB@example.org", "email_taken", "email"),
    ] {
        let r = stack
            .post(
                "/api/auth/register",
                &json!({"username": username, "email": email, "password": "long enough pw"}),
            )
            .await;
        let (status, p) = problem(r).await;
        assert_eq!(status, 409, "{p}");
        assert_eq!(p["code"], code);
        assert_eq!(field_names(&p), [field]);
    }
    // Concurrent registrations of one name: exactly one wins.
    let bodies: Vec<Value> = (0..6)
        .map(|i| json!({"username": "Carol", "email": format!("carol{i}@example.org"), "password": "long enough pw"}))
        .collect();
    let attempts = bodies.iter().map(|b| stack.post("/api/auth/register", b));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 5, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_registrations_name_their_fields() {
    let stack = Stack::start(StackOptions::default()).await;
    let cases = [
        (
            json!({"username": "ab", "email": "a@example.org", "password": "long enough pw"}),
            vec!["username"],
        ),
        (
            json!({"username": "abc", "email": "not-an-email", "password": "long enough pw"}),
            vec!["email"],
        ),
        (
            json!({"username": "abc", "email": "a@example.org", "password": "short"}),
            vec!["password"],
        ),
        (
            json!({"username": "abc", "email": "a@example.org", "password": "x".repeat(73)}),
            vec!["password"],
        ),
        (
            json!({"username": "abc", "email": "a@example.org", "password": "€".repeat(25)}),
            vec!["password"],
        ),
        (
            json!({"username": {"$gt": ""}, "email": "a@example.org", "password": "long enough pw"}),
            vec!["username"],
        ),
        (
            json!({"username": "abc", "email": {"$ne": null}, "password": ["x"]}),
            vec!["email", "password"],
        ),
        (json!({}), vec!["username", "email", "password"]),
        // Unknown fields are refused by name, with everything else that is wrong.
        (
            json!({"username": "abc", "email": "a@example.org", "password": "short", "role": "admin"}),
            vec!["role", "password"],
        ),
        (
            json!({"username": "a".repeat(20_000), "email": "a@example.org", "password": "long enough pw"}),
            vec!["username"],
        ),
        (
            json!({"username": "abc", "email": format!("{}@example.org", "a".repeat(300)), "password": "long enough pw"}),
            vec!["email"],
        ),
    ];
    for (body, fields) in cases {
        let (status, p) = problem(stack.post("/api/auth/register", &body).await).await;
        assert_eq!(status, 422, "{p}");
        assert_eq!(p["code"], "validation_failed");
        assert_eq!(field_names(&p), fields, "{p}");
    }
    // Not JSON, not an object, too large.
    for (body, want) in [
        ("{\"username\": ".to_owned(), 400),
        ("[1, 2]".to_owned(), 400),
        ("".to_owned(), 400),
        (format!("{{\"username\": \"{}\"}}", "a".repeat(100_000)), 413),
    ] {
        let r = stack
            .http
            .post(stack.url("/api/auth/register"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, p) = problem(r).await;
        assert_eq!(status, want, "{p}");
    }
    // Nothing was half-written: the name is still free.
    stack.register("abc", "long enough pw").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_throttling() {
    let stack = Stack::start(StackOptions {
        login_max_failures: 3,
        ..StackOptions::default()
    })
    .await;
    stack.register("dave", "correct horse battery").await;
    for login in [
        json!({"username": "dave", "password": "wrong password"}),
        json!({"username": "nobody", "password": "whatever1"}),
    ] {
        let (status, p) = problem(stack.post("/api/auth/login", &login).await).await;
        assert_eq!(status, 401);
        assert_eq!(p["code"], "invalid_credentials");
    }
    let (status, p) = problem(
        stack
            .post(
                "/api/auth/login",
                &json!({"username": "dave", "password": {"$gt": ""}}),
            )
            .await,
    )
    .await;
    assert_eq!((status, field_names(&p)), (422, vec!["password".to_owned()]));
    let (status, _) = problem(
        stack
            .post(
                "/api/auth/login",
                &json!({"username": "dave", "password": "y".repeat(73)}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 422);

    // Two more failures reach the limit of three.
    for _ in 0..2 {
        let (status, _) = problem(
            stack
                .post(
                    "/api/auth/login",
                    &json!({"username": "DAVE", "password": "nope nope"}),
                )
                .await,
        )
        .await;
        assert_eq!(status, 401);
    }
    // Now even the right password is refused until the lockout ends.
    let r = stack
        .post(
            "/api/auth/login",
            &json!({"username": "dave", "password": "correct horse battery"}),
        )
        .await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let (status, p) = problem(r).await;
    assert_eq!((status, p["code"].as_str().unwrap()), (429, "too_many_attempts"));
    // Another account is not affected.
    stack.register("erin", "correct horse battery").await;
    stack.login("erin", "correct horse battery").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_ends() {
    let stack = Stack::start(StackOptions {
        login_max_failures: 2,
        login_lockout: Duration::from_secs(1),
        ..StackOptions::default()
    })
    .await;
    stack.register("frank", "correct horse battery").await;
    for _ in 0..2 {
        let r = stack
            .post(
                "/api/auth/login",
                &json!({"username": "frank", "password": "wrong one"}),
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = stack
        .post(
            "/api/auth/login",
            &json!({"username": "frank", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status(), 429);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack.login("frank", "correct horse battery").await;
    // Success cleared the record: one more failure is a plain 401, not a lockout.
    let r = stack
        .post(
            "/api/auth/login",
            &json!({"username": "frank", "password": "wrong one"}),
        )
        .await;
    assert_eq!(r.status(), 401);
    stack.login("frank", "correct horse battery").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.register("grace", "correct horse battery").await;
    let first = stack.login("grace", "correct horse battery").await;
    let other_session = stack.login("grace", "correct horse battery").await;

    let r = stack
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let me = stack
        .get_auth("/api/auth/me", second["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), 200);

    // The spent token is refused and takes its whole family with it.
    let (status, p) = problem(
        stack
            .post(
                "/api/auth/refresh",
                &json!({"refresh_token": first["refresh_token"]}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str().unwrap()),
        (401, "refresh_token_reused")
    );
    let (status, _) = problem(
        stack
            .post(
                "/api/auth/refresh",
                &json!({"refresh_token": second["refresh_token"]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 401);
    // Another login's family is untouched.
    let r = stack
        .post(
            "/api/auth/refresh",
            &json!({"refresh_token": other_session["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status(), 200);

    // An access token is no refresh token; garbage and wrong types are refused by name.
    let (status, _) = problem(
        stack
            .post(
                "/api/auth/refresh",
                &json!({"refresh_token": first["access_token"]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = problem(
        stack
            .post("/api/auth/refresh", &json!({"refresh_token": "garbage"}))
            .await,
    )
    .await;
    assert_eq!(status, 401);
    let (status, p) = problem(
        stack
            .post("/api/auth/refresh", &json!({"refresh_token": {"$gt": ""}}))
            .await,
    )
    .await;
    assert_eq!((status, field_names(&p)), (422, vec!["refresh_token".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.register("heidi", "correct horse battery").await;
    let tokens = stack.login("heidi", "correct horse battery").await;
    let r = stack
        .post(
            "/api/auth/logout",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (status, _) = problem(
        stack
            .post(
                "/api/auth/refresh",
                &json!({"refresh_token": tokens["refresh_token"]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 401);
    // Logging out twice, or with an unknown token, is still 204; a missing field is 422.
    let r = stack
        .post(
            "/api/auth/logout",
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = stack
        .post("/api/auth/logout", &json!({"refresh_token": "not-a-token"}))
        .await;
    assert_eq!(r.status(), 204);
    let (status, _) = problem(stack.post("/api/auth/logout", &json!({})).await).await;
    assert_eq!(status, 422);
}
