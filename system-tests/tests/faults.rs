//! Replicas, outages and permissions: the system degrades to clear 503/504 answers and recovers.

use std::time::{Duration, Instant};

use futures::StreamExt;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use system_tests::{Stack, StackOptions};

/// Requests served per instance of `service`, from `$SRV.STATS.<service>`.
async fn requests_per_instance(client: &async_nats::Client, service: &str) -> Vec<u64> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply(format!("$SRV.STATS.{service}"), inbox, "".into())
        .await
        .unwrap();
    let mut counts = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_millis(500));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            Some(m) = sub.next() => {
                let v: Value = serde_json::from_slice(&m.payload).unwrap();
                let n = v["endpoints"].as_array().unwrap().iter().map(|e| e["num_requests"].as_u64().unwrap()).sum();
                counts.push(n);
            }
        }
    }
    counts
}

/// Repeats `f` until it returns true, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_work() {
    let stack = Stack::start(StackOptions {
        auth_workers: 2,
        ..StackOptions::default()
    })
    .await;
    stack.register("liam", "correct horse battery").await;
    let tokens = stack.login("liam", "correct horse battery").await;
    let token = tokens["access_token"].as_str().unwrap();
    let calls = (0..60).map(|_| stack.get_auth("/api/auth/me", token));
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.status(), 200);
    }
    let admin = stack.nats.client("admin").await;
    let counts = requests_per_instance(&admin, "auth").await;
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.iter().all(|c| *c > 0), "both replicas served: {counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 62, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outage_is_503_and_recovers() {
    let mut stack = Stack::start(StackOptions::default()).await;
    if stack.mongo.is_external() {
        eprintln!(
            "SKIPPED store_outage_is_503_and_recovers: MONGODB_URI points at a server this test cannot stop"
        );
        return;
    }
    stack.register("mia", "correct horse battery").await;
    stack.mongo.stop();
    for (path, body) in [
        (
            "/api/auth/login",
            json!({"username": "mia", "password": "correct horse battery"}),
        ),
        (
            "/api/auth/register",
            json!({"username": "noah", "email": "noah@example.org", "password": "long enough pw"}),
        ),
    ] {
        let started = Instant::now();
        let r = stack.post(path, &body).await;
        let status = r.status();
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.unwrap();
        assert_eq!(status, 503, "{path}: {p}");
        assert_eq!(p["code"], "store_unavailable", "{p}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    stack.mongo.restart();
    let recovered = eventually(Duration::from_secs(30), || async {
        let r = stack
            .post(
                "/api/auth/login",
                &json!({"username": "mia", "password": "correct horse battery"}),
            )
            .await;
        r.status() == 200
    })
    .await;
    assert!(
        recovered,
        "logins work again once the store is back, with the data kept"
    );
    // The registration refused during the outage left nothing behind.
    stack.register("noah", "long enough pw").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_outage_is_503_or_504_and_recovers() {
    let mut stack = Stack::start(StackOptions::default()).await;
    stack.register("olga", "correct horse battery").await;
    stack.nats.stop();
    let started = Instant::now();
    let r = stack
        .post(
            "/api/auth/login",
            &json!({"username": "olga", "password": "correct horse battery"}),
        )
        .await;
    let status = r.status().as_u16();
    assert!(status == 503 || status == 504, "got {status}");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    let r = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);

    stack.nats.restart();
    let recovered = eventually(Duration::from_secs(30), || async {
        let r = stack
            .post(
                "/api/auth/login",
                &json!({"username": "olga", "password": "correct horse battery"}),
            )
            .await;
        r.status() == 200
    })
    .await;
    assert!(recovered, "edge and worker reconnect to the restarted server");
    let r = stack.http.get(stack.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_edge_reaches_the_auth_service() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.register("pete", "correct horse battery").await;
    let body = serde_json::to_vec(&json!({"username": "pete", "password": "correct horse battery"})).unwrap();

    let edge = stack.nats.client("edge").await;
    let reply = edge.request("auth.login", body.clone().into()).await;
    assert!(reply.is_ok(), "the edge may call auth.login: {reply:?}");

    for user in ["judge", "submission"] {
        let client = stack.nats.client(user).await;
        let reply = client.request("auth.login", body.clone().into()).await;
        assert!(reply.is_err(), "{user} must not reach auth.login");
        // Nor may it listen in on the auth subjects.
        let mut sub = client.subscribe("auth.>").await.unwrap();
        system_tests::nats::settle(&client).await;
        edge.request("auth.me", "".into()).await.unwrap();
        let seen = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
        assert!(!matches!(seen, Ok(Some(_))), "{user} saw auth traffic");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_accounts() {
    let stack = Stack::start(StackOptions {
        admin: Some(auth_worker::config::AdminAccount {
            username: "root_admin".into(),
            password: "admin password".into(),
            email: "root@example.org".into(),
        }),
        ..StackOptions::default()
    })
    .await;
    let tokens = stack.login("root_admin", "admin password").await;
    let me: Value = stack
        .get_auth("/api/auth/me", tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "admin");

    // What `auth-worker grant-admin` does.
    stack.register("quinn", "correct horse battery").await;
    let accounts = auth_worker::accounts(&stack.auth_settings()).await.unwrap();
    assert!(accounts.promote("QUINN").await.unwrap());
    assert!(!accounts.promote("nobody-here").await.unwrap());
    let tokens = stack.login("quinn", "correct horse battery").await;
    let me: Value = stack
        .get_auth("/api/auth/me", tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "admin");

    // Starting again with the same admin settings promotes, never duplicates.
    accounts
        .ensure_admin("root_admin", "root@example.org", "admin password")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_from_concurrent_replicas() {
    let stack = Stack::start(StackOptions::default()).await;
    let settings = stack.auth_settings();
    let runs = (0..4).map(|_| async {
        let store = auth_worker::store::connect(&settings.mongodb_uri, &settings.database)
            .await
            .unwrap();
        auth_worker::store::migrate(&store).await
    });
    for result in futures::future::join_all(runs).await {
        result.unwrap();
    }
    let db = stack.mongo.database().await;
    let history = db.collection::<Document>(mongo_store::migrate::HISTORY);
    let mut versions = Vec::new();
    let mut cursor = history.find(doc! {"service": "auth"}).await.unwrap();
    while let Some(d) = cursor.next().await {
        let d = d.unwrap();
        let v = d.get("version").unwrap();
        versions.push(v.as_i64().or(v.as_i32().map(i64::from)).unwrap());
    }
    versions.sort();
    assert_eq!(versions, [1, 2]);
    let lock = db
        .collection::<Document>(mongo_store::migrate::LOCKS)
        .find_one(doc! {"_id": "auth"})
        .await
        .unwrap();
    assert!(lock.is_none(), "the lease was released");
    let names: Vec<String> = db
        .collection::<Document>("users")
        .list_index_names()
        .await
        .unwrap();
    assert!(names.len() >= 3, "{names:?}");
}
