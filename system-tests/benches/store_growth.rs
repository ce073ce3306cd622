//! `make bench` (store growth part): what each request path and the background work cost as the
//! store grows, on the default store (or `MONGODB_URI`), through the whole stack.
//!
//! The store is filled to each size in turn (default 1,000, 10,000 and 100,000 submissions, with
//! 10,000 users) by inserting copies of records the services themselves wrote — the services
//! never learn the difference — and at each size every path is timed one request at a time:
//! login, me, submit with and without an `Idempotency-Key`, get, the first page of one's own
//! submissions, a problem's comments, the problem list and one problem; and two background paths:
//! the outbox sweep's query, and a verdict published on the results stream until it is stored.
//! The table gives p50 at each size and the largest over the smallest (target: within 20 %).
//!
//! Knobs: BENCH_GROWTH_SIZES (default `1000,10000,100000`), BENCH_GROWTH_USERS (default 10000),
//! BENCH_GROWTH_REPS (default 100 per path and size; login a fifth of it).

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use system_tests::bench::{env_or, ms};
use system_tests::{Stack, StackOptions};

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    system_tests::bench::block_on(run());
}

/// The paths timed, in the table's order.
const PATHS: [&str; 11] = [
    "POST /api/auth/login",
    "GET /api/auth/me",
    "POST /api/submissions",
    "POST /api/submissions (Idempotency-Key)",
    "GET /api/submissions/{id}",
    "GET /api/submissions (own, first page)",
    "GET /api/problems/{id}/comments",
    "GET /api/problems",
    "GET /api/problems/{id}",
    "outbox sweep query (store)",
    "verdict on the results stream → stored",
];

async fn run() {
    let sizes: Vec<usize> = std::env::var("BENCH_GROWTH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let users = env_or("BENCH_GROWTH_USERS", 10_000);
    let reps = env_or("BENCH_GROWTH_REPS", 100).max(5);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems/aplusb");
    let source = std::fs::read_to_string(root.join("submissions/accepted/aplusb.c")).unwrap();

    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        max_queued: 1_000_000,
        per_minute: 1_000_000,
        ..StackOptions::default()
    })
    .await;
    let db = stack.mongo.database().await;
    let admin = stack.token("admin", "admin password").await;
    let r = stack
        .http
        .post(stack.url("/api/problems?id=aplusb&verify=false"))
        .bearer_auth(&admin)
        .body(problem_package::pack_zip(&root).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    stack.register("bencher", "bench password").await;
    let token = stack.token("bencher", "bench password").await;
    // A stand-in judge that advertises C and pulls nothing: submissions are accepted and queue.
    let standin = system_tests::stack::advertise_languages(&stack.nats, &["c"]).await;
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    let body = json!({"problem_id": "aplusb", "language": "c", "source": source});
    let first = submit(&stack, &token, &body, None).await;
    for i in 0..20 {
        let r = stack
            .http
            .post(stack.url("/api/problems/aplusb/comments"))
            .bearer_auth(&token)
            .json(&json!({"body": format!("comment {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    // Templates: records the services wrote.
    let submissions = db.collection::<Document>(submission_worker::store::SUBMISSIONS);
    let template = submissions
        .find_one(doc! {"_id": &first})
        .await
        .unwrap()
        .expect("the submission is stored");
    let users_coll = db.collection::<Document>(auth_worker::store::USERS);
    let user_template = users_coll
        .find_one(doc! {"username_key": "bencher"})
        .await
        .unwrap()
        .expect("the user is stored");
    let comments = db.collection::<Document>(submission_worker::store::COMMENTS);
    let comment_template = comments
        .find_one(doc! {"problem_id": "aplusb"})
        .await
        .unwrap()
        .expect("a comment is stored");

    // The users, once.
    let started = Instant::now();
    let mut user_ids = Vec::with_capacity(users);
    for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
        let docs: Vec<Document> = chunk
            .iter()
            .map(|i| {
                let id = uuid::Uuid::now_v7().to_string();
                user_ids.push(id.clone());
                let mut d = user_template.clone();
                d.insert("_id", id);
                d.insert("username", format!("filler{i}"));
                d.insert("username_key", format!("filler{i}"));
                d.insert("email", format!("filler{i}@example.org"));
                d.insert("email_key", format!("filler{i}@example.org"));
                d
            })
            .collect();
        users_coll.insert_many(docs).await.unwrap();
    }
    eprintln!("growth: {users} users stored in {:?}", started.elapsed());

    let mut table: Vec<Vec<Duration>> = vec![Vec::new(); PATHS.len()];
    let mut stored = 1usize;
    let mut own: Vec<String> = vec![first];
    // The first size twice: the first pass only warms up (connections, caches), unrecorded.
    let passes = sizes.first().into_iter().chain(&sizes).copied().enumerate();
    for (pass, size) in passes {
        // Fill to `size`: judged submissions of the other users, one comment per ten on
        // another problem.
        let started = Instant::now();
        while stored < size {
            let n = (size - stored).min(1000);
            let docs: Vec<Document> = (0..n)
                .map(|k| {
                    let id = uuid::Uuid::now_v7().to_string();
                    let mut d = template.clone();
                    d.insert("_id", &id);
                    d.insert("order", &id);
                    d.insert("idem", &id);
                    d.insert("user_id", &user_ids[(stored + k) * 7919 % user_ids.len()]);
                    d.insert("status", "judged");
                    d.insert("verdict", "accepted");
                    d.insert("outbox", "done");
                    d
                })
                .collect();
            submissions.insert_many(docs).await.unwrap();
            let notes: Vec<Document> = (0..n / 10)
                .map(|_| {
                    let id = uuid::Uuid::now_v7().to_string();
                    let mut d = comment_template.clone();
                    d.insert("_id", &id);
                    d.insert("order", &id);
                    d.insert("problem_id", "elsewhere");
                    d
                })
                .collect();
            if !notes.is_empty() {
                comments.insert_many(notes).await.unwrap();
            }
            stored += n;
        }
        eprintln!(
            "growth: {size} submissions stored (filled in {:?})",
            started.elapsed()
        );

        let time = |v: &mut Vec<Duration>, t: Instant| v.push(t.elapsed());
        let mut at: Vec<Vec<Duration>> = vec![Vec::new(); PATHS.len()];
        for i in 0..reps {
            if i % 5 == 0 {
                let t = Instant::now();
                stack.login("bencher", "bench password").await;
                time(&mut at[0], t);
            }
            let t = Instant::now();
            assert_eq!(stack.get_auth("/api/auth/me", &token).await.status(), 200);
            time(&mut at[1], t);
            let t = Instant::now();
            own.push(submit(&stack, &token, &body, None).await);
            time(&mut at[2], t);
            let key = uuid::Uuid::new_v4().to_string();
            let t = Instant::now();
            own.push(submit(&stack, &token, &body, Some(&key)).await);
            time(&mut at[3], t);
            let id = &own[own.len() / 2];
            let t = Instant::now();
            assert_eq!(
                stack
                    .get_auth(&format!("/api/submissions/{id}"), &token)
                    .await
                    .status(),
                200
            );
            time(&mut at[4], t);
            let t = Instant::now();
            assert_eq!(stack.get_auth("/api/submissions", &token).await.status(), 200);
            time(&mut at[5], t);
            let t = Instant::now();
            assert_eq!(
                stack
                    .get_auth("/api/problems/aplusb/comments", &token)
                    .await
                    .status(),
                200
            );
            time(&mut at[6], t);
            let t = Instant::now();
            assert_eq!(stack.get_auth("/api/problems", &token).await.status(), 200);
            time(&mut at[7], t);
            let t = Instant::now();
            assert_eq!(stack.get_auth("/api/problems/aplusb", &token).await.status(), 200);
            time(&mut at[8], t);
            // The outbox sweep's own query (submission_worker::submissions::sweep).
            let before = chrono::Utc::now().timestamp_millis() - 3_000;
            let t = Instant::now();
            let pending: Vec<Document> = submissions
                .find(doc! {"outbox": "pending", "created_ms": {"$lt": before}})
                .limit(200)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            time(&mut at[9], t);
            assert!(pending.len() <= 200);
        }
        // Verdicts for some of the queued submissions, each until the store has it.
        for id in own.iter().rev().take(reps / 4) {
            let update = common::jobs::GradingUpdate {
                submission_id: id.clone(),
                attempt: 1,
                judging: 1,
                status: common::jobs::GradingStatus::Judged {
                    report: common::api::JudgeReport::internal_error("growth bench"),
                },
            };
            let t = Instant::now();
            js.publish(
                common::subjects::jobs::results(id),
                serde_json::to_vec(&update).unwrap().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
            loop {
                let d = submissions.find_one(doc! {"_id": id}).await.unwrap().unwrap();
                if d.get_str("status") == Ok("judged") {
                    break;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "the verdict was not stored"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            time(&mut at[10], t);
        }
        // The queued jobs are not part of the next size's measurement.
        js.get_stream(common::jobs::JOBS_STREAM)
            .await
            .unwrap()
            .purge()
            .await
            .unwrap();
        if pass > 0 {
            for (row, v) in table.iter_mut().zip(at) {
                row.push(p50(v));
            }
        }
    }
    standin.stop().await.ok();

    println!(
        "\n## Cost as the store grows (store: {}; {users} users; p50 ms of one request at a time)\n",
        stack.mongo.name()
    );
    let header: Vec<String> = sizes.iter().map(|s| format!("{s} submissions")).collect();
    println!("| path | {} | largest / smallest |", header.join(" | "));
    println!("| --- |{} ---: |", " ---: |".repeat(sizes.len()));
    let mut worst = 0.0f64;
    for (path, row) in PATHS.iter().zip(&table) {
        let (lo, hi) = (row.iter().min().unwrap(), row.iter().max().unwrap());
        let ratio = hi.as_secs_f64() / lo.as_secs_f64().max(1e-6);
        worst = worst.max(ratio);
        let cells: Vec<String> = row.iter().map(|d| ms(*d)).collect();
        println!("| {path} | {} | {ratio:.2} |", cells.join(" | "));
    }
    println!(
        "\nlargest growth: {worst:.2}× (target ≤ 1.20: {})\n",
        if worst <= 1.2 { "met" } else { "NOT MET" }
    );
}

/// Submits `body` (with `key` as its `Idempotency-Key`); the new submission's id.
async fn submit(stack: &Stack, token: &str, body: &Value, key: Option<&str>) -> String {
    let r = stack.submit(token, body, key).await;
    assert_eq!(r.status(), 202);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
