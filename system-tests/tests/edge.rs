//! What the edge does on its own: CORS, request ids, health, metrics, error shapes, shutdown.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use system_tests::{Stack, StackOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_configured_origins() {
    let stack = Stack::start(StackOptions::default()).await;
    let preflight = |origin: &'static str| {
        stack
            .http
            .request(reqwest::Method::OPTIONS, stack.url("/api/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization")
            .send()
    };
    let ok = preflight("http://localhost:3000").await.unwrap();
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    let foreign = preflight("https://evil.example").await.unwrap();
    let leaked: Vec<_> = foreign
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(leaked.is_empty(), "foreign origin got {leaked:?}");

    // Simple requests too.
    let r = stack
        .http
        .get(stack.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r
        .headers()
        .keys()
        .all(|k| !k.as_str().starts_with("access-control-")));
    let r = stack
        .http
        .get(stack.url("/healthz"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_reach_the_worker() {
    let stack = Stack::start(StackOptions::default()).await;
    // Listen beside the workers (not in their queue group) to see the headers the edge sends.
    let admin = stack.nats.client("admin").await;
    let mut tap = admin.subscribe("auth.register").await.unwrap();
    system_tests::nats::settle(&admin).await;

    let r = stack
        .http
        .post(stack.url("/api/auth/register"))
        .header("x-request-id", "trace-me-123")
        .json(&json!({"username": "judy", "email": "judy@example.org", "password": "long enough pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-request-id"], "trace-me-123");
    let seen = tokio::time::timeout(Duration::from_secs(5), tap.next())
        .await
        .unwrap()
        .unwrap();
    let h = seen.headers.unwrap();
    assert_eq!(h.get("X-Request-Id").unwrap().as_str(), "trace-me-123");
    assert!(h.get("X-User-Id").is_none(), "anonymous calls carry no identity");

    // No id, or an unusable one: a fresh UUID.
    for sent in [None, Some("bad id with spaces")] {
        let mut req = stack.http.get(stack.url("/healthz"));
        if let Some(id) = sent {
            req = req.header("x-request-id", id);
        }
        let r = req.send().await.unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }

    // Identity headers come from the token only.
    let tokens = stack.login("judy", "long enough pw").await;
    let mut tap = admin.subscribe("auth.me").await.unwrap();
    system_tests::nats::settle(&admin).await;
    let r = stack
        .http
        .get(stack.url("/api/auth/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .header("x-user-role", "admin")
        .header("x-user-id", "someone-else")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), tap.next())
        .await
        .unwrap()
        .unwrap();
    let h = seen.headers.unwrap();
    assert_eq!(h.get("X-User-Id").unwrap().as_str(), me["id"].as_str().unwrap());
    assert_eq!(h.get("X-User-Role").unwrap().as_str(), "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_error_shapes() {
    let mut stack = Stack::start(StackOptions::default()).await;
    let r = stack.http.get(stack.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    let status = r.status();
    let ready: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["services"]["auth"], "up");

    let r = stack
        .http
        .get(stack.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = stack
        .http
        .delete(stack.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    let metrics = stack
        .http
        .get(stack.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(metrics.contains(r#"route="/readyz""#), "{metrics}");

    // Without an auth worker: not ready, and calls get 503 at once (no responders).
    stack.stop_auth_workers().await;
    let r = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let started = std::time::Instant::now();
    let r = stack
        .post("/api/auth/login", &json!({"username": "x", "password": "y"}))
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no-responders must not wait for a timeout"
    );

    // A worker that takes the request and never answers: 504 after the NATS request timeout.
    let admin = stack.nats.client("admin").await;
    let _silent = admin.subscribe("auth.login").await.unwrap();
    system_tests::nats::settle(&admin).await;
    let started = std::time::Instant::now();
    let r = stack
        .post("/api/auth/login", &json!({"username": "x", "password": "y"}))
        .await;
    assert_eq!(r.status(), 504);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "upstream_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let mut stack = Stack::start(StackOptions {
        bcrypt_cost: 10,
        ..StackOptions::default()
    })
    .await;
    // Stop the edge once the request has reached the worker (seen by a tap beside it), while the
    // worker is still hashing the password.
    let admin = stack.nats.client("admin").await;
    let mut tap = admin.subscribe("auth.register").await.unwrap();
    system_tests::nats::settle(&admin).await;
    let body = json!({"username": "kate", "email": "kate@example.org", "password": "long enough pw"});
    let request = stack
        .http
        .post(stack.url("/api/auth/register"))
        .json(&body)
        .send();
    let pending = tokio::spawn(request);
    tokio::time::timeout(Duration::from_secs(10), tap.next())
        .await
        .unwrap()
        .unwrap();
    let addr = stack.edge_addr;
    let stopping = stack.begin_edge_stop().unwrap();
    let r = pending.await.unwrap().unwrap();
    assert_eq!(r.status(), 201, "the request in flight was finished");
    stopping.await.unwrap();
    // Then nothing listens any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}
