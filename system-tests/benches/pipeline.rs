//! `make bench` (pipeline part), in one run on one machine:
//!
//! - submit-to-verdict latency (p50, p99) of a trivial C submission through the whole stack
//!   (HTTP → edge → submission worker → JetStream → the real judge → results → SSE), one at a
//!   time, beside the time the judge engine itself takes for the same submission in-process
//!   (compile + all tests): the difference is the pipeline's own share;
//! - intake: submissions accepted per second at the edge (20 users, 16 requests in flight,
//!   per-user limits raised), with no judge pulling, so only the accepting path is measured.
//!
//! Knobs: BENCH_SUBMISSIONS (default 40), BENCH_INTAKE (default 400).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use system_tests::{Stack, StackOptions};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(run());
}

async fn run() {
    let n = env_or("BENCH_SUBMISSIONS", 40);
    let intake_n = env_or("BENCH_INTAKE", 400);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems/aplusb");
    let source = std::fs::read_to_string(root.join("submissions/accepted/aplusb.c")).unwrap();

    // The judge engine alone, in-process, on the same package and source.
    let judge = judge_worker::Judge::new(judge_worker::JudgeConfig {
        slots: 1,
        helper: Some(system_tests::judge::binary().to_owned()),
        ..Default::default()
    })
    .expect("a judge");
    let package = problem_package::ProblemPackage::load(&root).unwrap();
    let mut engine = Vec::new();
    for _ in 0..n.min(20) {
        let t = Instant::now();
        let r = judge.judge(&package, "c", source.as_bytes(), &Default::default(), |_| {});
        assert_eq!(r.verdict, common::Verdict::Accepted);
        engine.push(t.elapsed());
    }
    drop(judge);
    engine.sort();

    let stack = Stack::start(StackOptions {
        admin: Some(auth_worker::config::AdminAccount {
            username: "admin".into(),
            password: "admin password".into(),
            email: "admin@example.org".into(),
        }),
        max_queued: 100_000,
        per_minute: 100_000,
        ..StackOptions::default()
    })
    .await;
    let store = stack.mongo.name();
    let admin = stack.token("admin", "admin password").await;
    let zip = problem_package::pack_zip(&root).unwrap();
    let r = stack
        .http
        .post(stack.url("/api/problems?id=aplusb"))
        .bearer_auth(&admin)
        .body(zip)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Intake first, with a stand-in judge that advertises C but pulls nothing.
    let mut tokens = Vec::new();
    for i in 0..20 {
        let name = format!("user{i:02}");
        stack.register(&name, "bench password").await;
        tokens.push(stack.token(&name, "bench password").await);
    }
    let standin = system_tests::stack::advertise_languages(&stack.nats, &["c"]).await;
    let body = json!({"problem_id": "aplusb", "language": "c", "source": source});
    // Warm-up, not measured: 16 connections opened, the judges' languages and the problem looked
    // up once — the steady state is what is measured.
    futures::future::join_all((0..16).map(|w| {
        stack
            .http
            .post(stack.url("/api/submissions"))
            .bearer_auth(&tokens[w % tokens.len()])
            .json(&body)
            .send()
    }))
    .await
    .into_iter()
    .for_each(|r| assert_eq!(r.unwrap().status(), 202));
    let started = Instant::now();
    let per_worker = intake_n / 16;
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (http, url, body) = (stack.http.clone(), stack.url("/api/submissions"), body.clone());
            let tokens = tokens.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                for i in 0..per_worker {
                    let t = Instant::now();
                    let r = http
                        .post(&url)
                        .bearer_auth(&tokens[(w + i * 16) % tokens.len()])
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 202);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut intake_lat = Vec::new();
    for w in workers {
        intake_lat.extend(w.await.unwrap());
    }
    let intake_rate = intake_lat.len() as f64 / started.elapsed().as_secs_f64();
    intake_lat.sort();
    standin.stop().await.ok();
    // The queued intake jobs are not part of the latency run: drop them.
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    js.get_stream(common::jobs::JOBS_STREAM)
        .await
        .unwrap()
        .purge()
        .await
        .unwrap();

    // Latency: the real judge, one submission at a time, watched over SSE.
    let judge = system_tests::judge::JudgeProcess::start(&stack.nats, None, true);
    let token = &tokens[0];
    let mut latencies = Vec::new();
    for i in 0..n + 3 {
        let t = Instant::now();
        let r = stack
            .http
            .post(stack.url("/api/submissions"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let events = stack
            .http
            .get(stack.url(&format!("/api/submissions/{id}/events")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(events.contains("\"accepted\""), "{events}");
        // The first few warm the judge (package download, caches).
        if i >= 3 {
            latencies.push(t.elapsed());
        }
    }
    drop(judge);
    latencies.sort();
    let (p50, p99) = (pct(&latencies, 0.5), pct(&latencies, 0.99));
    let e50 = pct(&engine, 0.5);

    println!("\n## Pipeline (store: {store}; trivial C A+B, 6 tests)\n");
    println!("| | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: |");
    println!(
        "| judge engine alone (compile + tests, in-process) | {} | {} |",
        ms(e50),
        ms(pct(&engine, 0.99))
    );
    println!(
        "| submit → verdict through the stack (SSE) | {} | {} |",
        ms(p50),
        ms(p99)
    );
    let own = p50.saturating_sub(e50);
    println!(
        "\npipeline's own share at p50: {} ms (target ≤ 20 ms: {})",
        ms(own),
        if own <= Duration::from_millis(20) {
            "met"
        } else {
            "NOT MET"
        }
    );
    println!(
        "\nintake: {intake_rate:.0} submissions/s accepted at the edge ({} submissions, 20 users, 16 in flight; p50 {} ms, p99 {} ms; target ≥ 900/s: {})\n",
        intake_lat.len(),
        ms(pct(&intake_lat, 0.5)),
        ms(pct(&intake_lat, 0.99)),
        if intake_rate >= 900.0 { "met" } else { "NOT MET" }
    );
}
