//! `make bench` (store growth part): what each request path and the background work cost as the
//! store grows, on the default store (or `MONGODB_URI`), through the whole stack.
//!
//! One stack per size (default 1,000, 10,000 and 100,000 submissions, each with 10,000 users),
//! all running at once, each store filled by inserting copies of records the services themselves
//! wrote — the services never learn the difference. The paths are then timed one request at a
//! time, a round on each stack in turn, so that whatever the machine does meanwhile (this VM's
//! speed drifts by a quarter within minutes) falls on every size alike: login, me, submit with and
//! without an `Idempotency-Key`, get, the first page of one's own submissions, a problem's
//! comments, the problem list and one problem; and two background paths: the outbox sweep's
//! query, and a verdict published on the results stream until it is stored. The table gives p50
//! at each size and the largest over the smallest (target: within 20 %), then each store's CPU
//! time per round and while idle.
//!
//! Knobs: BENCH_GROWTH_SIZES (default `1000,10000,100000`), BENCH_GROWTH_USERS (default 10000),
//! BENCH_GROWTH_REPS (default 100 rounds per size; login in a fifth of them).

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::Collection;
use serde_json::{json, Value};
use system_tests::bench::{cpu_time, env_or, ms};
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

/// One stack whose store holds `size` submissions.
struct Sized {
    size: usize,
    stack: Stack,
    token: String,
    body: Value,
    submissions: Collection<Document>,
    js: async_nats::jetstream::Context,
    /// The bencher's own submissions, for the get and verdict paths.
    own: Vec<String>,
    _standin: async_nats::service::Service,
    /// Timings per path.
    at: Vec<Vec<Duration>>,
    /// The store's CPU time spent during this stack's rounds.
    store_busy: Duration,
}

impl Sized {
    fn store_cpu(&self) -> Duration {
        self.stack.mongo.pid().map(cpu_time).unwrap_or_default()
    }
}

async fn run() {
    let sizes: Vec<usize> = std::env::var("BENCH_GROWTH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let users = env_or("BENCH_GROWTH_USERS", 10_000);
    let reps = env_or("BENCH_GROWTH_REPS", 100).max(5);

    let mut stacks = Vec::new();
    for &size in &sizes {
        stacks.push(prepare(size, users).await);
    }

    // What each store does on its own (the services' background work: the outbox sweep, queue
    // gauges), over the same pause for all.
    let idle_from: Vec<Duration> = stacks.iter().map(Sized::store_cpu).collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle: Vec<Duration> = stacks
        .iter()
        .zip(&idle_from)
        .map(|(s, from)| s.store_cpu().saturating_sub(*from) / 5)
        .collect();

    // A few unrecorded rounds warm every stack up (connections, caches).
    for i in 0..5 {
        for s in stacks.iter_mut() {
            round(s, i).await;
        }
    }
    for s in stacks.iter_mut() {
        s.at = vec![Vec::new(); PATHS.len()];
        s.store_busy = Duration::ZERO;
    }
    // Round by round, each stack in turn, starting with a different one each time.
    let n = stacks.len();
    for i in 0..reps {
        for k in 0..n {
            let s = &mut stacks[(i + k) % n];
            let from = s.store_cpu();
            round(s, i).await;
            s.store_busy += s.store_cpu().saturating_sub(from);
        }
    }
    for i in 0..reps / 4 {
        for k in 0..n {
            verdict(&mut stacks[(i + k) % n], i).await;
        }
    }

    println!(
        "\n## Cost as the store grows (store: {}; {users} users; p50 ms of one request at a time, \
         the sizes side by side)\n",
        stacks[0].stack.mongo.name()
    );
    let header: Vec<String> = sizes.iter().map(|s| format!("{s} submissions")).collect();
    println!("| path | {} | largest / smallest |", header.join(" | "));
    println!("| --- |{} ---: |", " ---: |".repeat(sizes.len()));
    let mut worst = 0.0f64;
    for (p, path) in PATHS.iter().enumerate() {
        let row: Vec<Duration> = stacks.iter().map(|s| p50(s.at[p].clone())).collect();
        let (lo, hi) = (row.iter().min().unwrap(), row.iter().max().unwrap());
        let ratio = hi.as_secs_f64() / lo.as_secs_f64().max(1e-6);
        worst = worst.max(ratio);
        let cells: Vec<String> = row.iter().map(|d| ms(*d)).collect();
        println!("| {path} | {} | {ratio:.2} |", cells.join(" | "));
    }
    let busy: Vec<String> = stacks.iter().map(|s| ms(s.store_busy / reps as u32)).collect();
    println!(
        "| the store's CPU per round of the paths above (not in the target) | {} | |",
        busy.join(" | ")
    );
    let idle: Vec<String> = idle.iter().map(|d| ms(*d)).collect();
    println!(
        "| the store's CPU per second while idle (not in the target) | {} | |",
        idle.join(" | ")
    );
    println!(
        "\nlargest growth: {worst:.2}× (target ≤ 1.20: {})\n",
        if worst <= 1.2 { "met" } else { "NOT MET" }
    );
}

/// Starts a stack and fills its store to `size` submissions and `users` users.
async fn prepare(size: usize, users: usize) -> Sized {
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
    stack.upload_example(&admin, "aplusb").await;
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
    // Judged submissions of the other users, one comment per ten on another problem.
    let mut stored = 1usize;
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
        "growth: a store with {users} users and {size} submissions filled in {:?}",
        started.elapsed()
    );
    Sized {
        size,
        stack,
        token,
        body,
        submissions,
        js,
        own: vec![first],
        _standin: standin,
        at: vec![Vec::new(); PATHS.len()],
        store_busy: Duration::ZERO,
    }
}

/// One request of every path but the verdict's, each timed into `s.at`.
async fn round(s: &mut Sized, i: usize) {
    let time = |v: &mut Vec<Duration>, t: Instant| v.push(t.elapsed());
    let (stack, token) = (&s.stack, s.token.as_str());
    if i.is_multiple_of(5) {
        let t = Instant::now();
        stack.login("bencher", "bench password").await;
        time(&mut s.at[0], t);
    }
    let t = Instant::now();
    assert_eq!(stack.get_auth("/api/auth/me", token).await.status(), 200);
    time(&mut s.at[1], t);
    let t = Instant::now();
    let id = submit(stack, token, &s.body, None).await;
    time(&mut s.at[2], t);
    s.own.push(id);
    let key = uuid::Uuid::new_v4().to_string();
    let t = Instant::now();
    let id = submit(stack, token, &s.body, Some(&key)).await;
    time(&mut s.at[3], t);
    s.own.push(id);
    let id = &s.own[s.own.len() / 2];
    let t = Instant::now();
    assert_eq!(
        stack
            .get_auth(&format!("/api/submissions/{id}"), token)
            .await
            .status(),
        200
    );
    time(&mut s.at[4], t);
    for (path, p) in [
        ("/api/submissions", 5),
        ("/api/problems/aplusb/comments", 6),
        ("/api/problems", 7),
        ("/api/problems/aplusb", 8),
    ] {
        let t = Instant::now();
        assert_eq!(stack.get_auth(path, token).await.status(), 200, "{path}");
        time(&mut s.at[p], t);
    }
    // The outbox sweep's own query (submission_worker::submissions::sweep).
    let before = chrono::Utc::now().timestamp_millis() - 3_000;
    let t = Instant::now();
    let pending: Vec<Document> = s
        .submissions
        .find(doc! {"outbox": "pending", "created_ms": {"$lt": before}})
        .limit(200)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    time(&mut s.at[9], t);
    assert!(pending.len() <= 200);
}

/// A verdict for one of the bencher's queued submissions (the `i`th newest), timed until the
/// store has it.
async fn verdict(s: &mut Sized, i: usize) {
    let id = s.own[s.own.len() - 1 - i].clone();
    let update = common::jobs::GradingUpdate {
        submission_id: id.clone(),
        attempt: 1,
        judging: 1,
        status: common::jobs::GradingStatus::Judged {
            report: common::api::JudgeReport::internal_error("growth bench"),
        },
    };
    let t = Instant::now();
    s.js.publish(
        common::subjects::jobs::results(&id),
        serde_json::to_vec(&update).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    loop {
        let d = s.submissions.find_one(doc! {"_id": &id}).await.unwrap().unwrap();
        if d.get_str("status") == Ok("judged") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the verdict was not stored (store of {} submissions)",
            s.size
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    s.at[10].push(t.elapsed());
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
