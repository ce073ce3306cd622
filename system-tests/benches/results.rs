//! `make bench` (results part): how fast the submission worker stores a backlog of verdicts (what
//! many judges, or judges catching up after an outage or a rejudge, hand it at once) — one at a
//! time against the results at hand together, as `submission_worker::results::apply` does either,
//! on the default store (or `MONGODB_URI`).
//!
//! Each round stores verdicts for BENCH_RESULTS (default 2,000) queued submissions of 50 authors,
//! copies of a record the services wrote; first one by one, then in batches of 64 (the most the
//! worker takes at once), alternated twice, so that the machine's drift falls on both alike. Per
//! verdict: wall time, and the CPU time of the store and of nats-server (the authors' queue
//! counters).

use std::time::{Duration, Instant};

use common::jobs::GradingUpdate;
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde_json::json;
use system_tests::bench::{cpu_time, env_or};
use system_tests::{Stack, StackOptions};

fn main() {
    system_tests::bench::block_on(run());
}

/// Verdicts for `n` new queued copies of `template`, by 50 authors.
async fn backlog(
    submissions: &mongodb::Collection<Document>,
    template: &Document,
    n: usize,
) -> Vec<GradingUpdate> {
    let mut records = Vec::with_capacity(n);
    let mut updates = Vec::with_capacity(n);
    for i in 0..n {
        let id = uuid::Uuid::now_v7().to_string();
        let mut record = template.clone();
        record.insert("_id", &id);
        record.insert("idem", &id);
        record.insert("order", &id);
        record.insert("user_id", format!("bench-author-{}", i % 50));
        records.push(record);
        updates.push(system_tests::results::verdict_update(
            &id,
            1,
            common::Verdict::Accepted,
        ));
    }
    for chunk in records.chunks(500) {
        submissions.insert_many(chunk).await.unwrap();
    }
    updates
}

async fn run() {
    let n = env_or("BENCH_RESULTS", 2000);
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..StackOptions::default()
    })
    .await;
    let admin = stack.token("admin", "admin password").await;
    stack.upload_example(&admin, "aplusb").await;
    let _standin = system_tests::stack::advertise_languages(&stack.nats, &["c"]).await;
    let r = stack
        .http
        .post(stack.url("/api/submissions"))
        .bearer_auth(&admin)
        .json(&json!({"problem_id": "aplusb", "language": "c", "source": "int main(){return 0;}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let created: serde_json::Value = r.json().await.unwrap();
    let submissions = stack.mongo.database().await.collection::<Document>("submissions");
    let template = submissions
        .find_one(doc! {"_id": created["id"].as_str().unwrap()})
        .await
        .unwrap()
        .expect("the record");

    let store = submission_worker::store::connect(&stack.mongo.uri, &stack.mongo.database)
        .await
        .unwrap();
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    let counters = submission_worker::limits::Counters::new(
        js,
        submission_worker::limits::Limits {
            max_queued: 5,
            per_minute: 15,
            runs_per_minute: 30,
        },
    );
    let store_pid = stack.mongo.pid();
    let nats_pids = stack.nats.pids();
    let cpu = |pids: &[u32]| pids.iter().map(|&p| cpu_time(p)).sum::<Duration>();

    println!(
        "\n## Storing a backlog of verdicts (store: {}; {n} a round)\n",
        stack.mongo.name()
    );
    println!(
        "| round | applied | ms per verdict | store CPU ms per verdict | nats-server CPU ms per verdict |"
    );
    println!("| --- | --- | ---: | ---: | ---: |");
    let mut totals = [(Duration::ZERO, Duration::ZERO); 2];
    for round in 1..=2 {
        for (mode, batch) in [(0, 1), (1, 64)] {
            let updates = backlog(&submissions, &template, n).await;
            let (store0, nats0) = (cpu(store_pid.as_slice()), cpu(&nats_pids));
            let started = Instant::now();
            for chunk in updates.chunks(batch) {
                let applied = submission_worker::results::apply(&store, &counters, chunk)
                    .await
                    .unwrap();
                assert!(applied
                    .iter()
                    .all(|a| *a == submission_worker::results::Applied::Done));
            }
            let wall = started.elapsed();
            let store_cpu = cpu(store_pid.as_slice()) - store0;
            let nats_cpu = cpu(&nats_pids) - nats0;
            // Read back by id (a filtered count would scan the whole collection on this store).
            let ids: Vec<&str> = updates.iter().map(|u| u.submission_id.as_str()).collect();
            let judged: Vec<Document> = submissions
                .find(doc! {"_id": {"$in": ids}, "status": "judged"})
                .projection(doc! {"_id": 1})
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(judged.len(), n, "every verdict stored");
            let per = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1000.0 / n as f64);
            let what = if batch == 1 {
                "one by one".to_owned()
            } else {
                format!("up to {batch} together")
            };
            println!(
                "| {round} | {what} | {} | {} | {} |",
                per(wall),
                per(store_cpu),
                per(nats_cpu)
            );
            totals[mode].0 += wall;
            totals[mode].1 += store_cpu;
        }
    }
    let secs = |d: Duration| d.as_secs_f64().max(1e-9);
    println!(
        "\ntogether: {:.1}x the verdicts per second of one by one, at {:.1}x less store CPU per verdict",
        secs(totals[0].0) / secs(totals[1].0),
        secs(totals[0].1) / secs(totals[1].1)
    );
}
