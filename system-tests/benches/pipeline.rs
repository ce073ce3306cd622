//! `make bench` (pipeline part), in one run on one machine:
//!
//! - submit-to-verdict latency (p50, p99) of a trivial C submission through the whole stack
//!   (HTTP → edge → submission worker → JetStream → the real judge → results → SSE), one at a
//!   time, beside the time the judge engine itself takes for the same submission in-process
//!   (compile + all tests): the difference is the pipeline's own share;
//! - intake: submissions accepted per second at the edge (20 users, 16 requests in flight,
//!   per-user limits raised), with no judge pulling, so only the accepting path is measured, and
//!   the CPU time each process of the stack spent per accepted submission meanwhile;
//! - runs on the samples (`POST /api/runs?wait=true`, C++ A+B) while graded C++ submissions keep
//!   arriving at a steady rate, each run's latency beside the judge's own time for that run (its
//!   `judge_ms`: from a free sandbox slot to the report): the difference is the pipeline's share,
//!   waiting for a slot behind graded jobs included;
//! - new submissions' submit-to-verdict latency (C A+B, one at a time) while a rejudge of
//!   BENCH_REJUDGE judged submissions runs, beside the same without it.
//!
//! Knobs: BENCH_SUBMISSIONS (default 40), BENCH_INTAKE (default 3200: a few seconds, so that a
//! pause of the store does not decide the figure), BENCH_RUNS (default 30),
//! BENCH_LOAD_MS (default 2000: one graded submission per that many ms during the runs),
//! BENCH_REJUDGE (default 1000; 0 skips that part), BENCH_REJUDGE_NEW (default 20),
//! BENCH_ONLY=intake (only the intake part).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use system_tests::bench::{env_or, ms, percentile as pct};
use system_tests::{Stack, StackOptions};

fn main() {
    system_tests::bench::block_on(run());
}

async fn run() {
    let n = env_or("BENCH_SUBMISSIONS", 40);
    let intake_n = env_or("BENCH_INTAKE", 3200);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems/aplusb");
    let source = std::fs::read_to_string(root.join("submissions/accepted/aplusb.c")).unwrap();

    // The judge engine alone, in-process, on the same package and source. With fewer slots than
    // CPUs it keeps this process's threads off its slot's CPU; they get every CPU back after it,
    // or the in-process stack and the judge process started later (which inherits the mask) would
    // run on one CPU: until 2026-11-30 the judge here had one slot and the stack one CPU.
    let all_cpus = sandbox::allowed_cpus();
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
    sandbox::confine_own_threads(&all_cpus).expect("giving the bench its CPUs back");
    engine.sort();

    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        max_queued: 100_000,
        per_minute: 100_000,
        ..StackOptions::default()
    })
    .await;
    let store = stack.mongo.name();
    let admin = stack.token("admin", "admin password").await;
    stack.upload_example(&admin, "aplusb").await;

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
    let mut processes = vec![(
        "edge, workers and the load client (this process)",
        std::process::id(),
    )];
    processes.extend(stack.nats.pids().into_iter().map(|p| ("nats-server", p)));
    processes.extend(stack.mongo.pid().map(|p| ("store", p)));
    let cpu = system_tests::bench::CpuMeter::start(&processes);
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
    let (cpu_each, cpu_total) = cpu.per_item(intake_lat.len());
    intake_lat.sort();
    standin.stop().await.ok();
    let intake = format!(
        "\nintake: {intake_rate:.0} submissions/s accepted at the edge ({} submissions, 20 users, 16 in flight; p50 {} ms, p99 {} ms; target ≥ 900/s: {})\n\
         CPU per accepted submission: {cpu_total:.2} ms ({})\n",
        intake_lat.len(),
        ms(pct(&intake_lat, 0.5)),
        ms(pct(&intake_lat, 0.99)),
        if intake_rate >= 900.0 { "met" } else { "NOT MET" },
        cpu_each
            .iter()
            .map(|(name, v)| format!("{name} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if std::env::var("BENCH_ONLY").as_deref() == Ok("intake") {
        println!("{intake}");
        return;
    }
    // The queued intake jobs are not part of the latency run: drop them.
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    js.get_stream(common::jobs::JOBS_STREAM)
        .await
        .unwrap()
        .purge()
        .await
        .unwrap();

    // Latency: the real judge, one submission at a time, watched over SSE. Its sandboxes' uids
    // are apart from the in-process engine's, which runs beside it in the runs part.
    let judge = system_tests::judge::JudgeProcess::start(&stack.nats, Some("1500000"), true);
    let token = &tokens[0];
    let mut latencies = Vec::new();
    for i in 0..n + 3 {
        let took = submit_and_wait(&stack, token, &body).await;
        // The first few warm the judge (package download, caches).
        if i >= 3 {
            latencies.push(took);
        }
    }
    // Before the runs: after a run, one slot is kept for runs for a while (JUDGE_RUN_RESERVE_SECS).
    let rejudge = new_beside_rejudge(&stack, &admin, token, &body).await;
    let runs = runs_under_load(&stack, &root, &tokens).await;
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
    println!("{intake}");
    runs.print();
    rejudge.print();
}

/// Submits `body` and waits for its verdict over SSE; returns the time taken.
async fn submit_and_wait(stack: &Stack, token: &str, body: &Value) -> Duration {
    let t = Instant::now();
    let r = stack
        .http
        .post(stack.url("/api/submissions"))
        .bearer_auth(token)
        .json(body)
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
    t.elapsed()
}

/// What the rejudge part measured.
struct BesideRejudge {
    rejudged: usize,
    /// New submissions' latency, sorted: with no rejudge, and while the rejudge ran.
    quiet: Vec<Duration>,
    busy: Vec<Duration>,
    /// Rejudge jobs judged while the new submissions were measured.
    judged_meanwhile: u64,
}

impl BesideRejudge {
    fn print(&self) {
        if self.busy.is_empty() {
            return;
        }
        println!(
            "## New submissions while a rejudge runs (C A+B, one at a time; a rejudge of {} Python \
             submissions, {} of them judged meanwhile)\n",
            self.rejudged, self.judged_meanwhile
        );
        println!("| | p50 ms | p99 ms |");
        println!("| --- | ---: | ---: |");
        println!(
            "| submit → verdict, no rejudge | {} | {} |",
            ms(pct(&self.quiet, 0.5)),
            ms(pct(&self.quiet, 0.99))
        );
        println!(
            "| submit → verdict, during the rejudge | {} | {} |\n",
            ms(pct(&self.busy, 0.5)),
            ms(pct(&self.busy, 0.99))
        );
    }
}

/// New submissions one at a time, without and then during a rejudge of BENCH_REJUDGE judged
/// Python submissions (stored directly as judged: judging them first would take minutes).
async fn new_beside_rejudge(stack: &Stack, admin: &str, token: &str, body: &Value) -> BesideRejudge {
    use mongodb::bson::{doc, Document};
    let size = env_or("BENCH_REJUDGE", 1000);
    let n = env_or("BENCH_REJUDGE_NEW", 20);
    let mut measured = BesideRejudge {
        rejudged: size,
        quiet: Vec::new(),
        busy: Vec::new(),
        judged_meanwhile: 0,
    };
    if size == 0 {
        return measured;
    }
    for _ in 0..n {
        measured.quiet.push(submit_and_wait(stack, token, body).await);
    }
    // The rejudge's submissions: copies of a judged record, with a Python source.
    let db = stack.mongo.database().await;
    let submissions = db.collection::<Document>(submission_worker::store::SUBMISSIONS);
    let template = submissions
        .find_one(doc! {"status": "judged", "verdict": "accepted"})
        .await
        .unwrap()
        .expect("a judged submission");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems/aplusb");
    let python = std::fs::read_to_string(root.join("submissions/accepted/aplusb.py")).unwrap();
    let docs: Vec<Document> = (0..size)
        .map(|_| {
            let id = uuid::Uuid::now_v7().to_string();
            let mut d = template.clone();
            d.insert("_id", &id);
            d.insert("order", &id);
            d.insert("idem", &id);
            d.insert("language", "python3");
            d.insert("source", &python);
            d
        })
        .collect();
    submissions.insert_many(docs).await.unwrap();
    let r = stack
        .http
        .post(stack.url("/api/problems/aplusb/rejudge"))
        .bearer_auth(admin)
        .json(&json!({"verdicts": ["accepted"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let progress = |stack: &Stack| {
        let (http, url, admin) = (
            stack.http.clone(),
            stack.url(&format!("/api/rejudges/{id}")),
            admin.to_owned(),
        );
        async move {
            let r: Value = http
                .get(url)
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r
        }
    };
    // Measured once the rejudge is queued and under way.
    loop {
        let p = progress(stack).await;
        if p["queued"].as_u64() >= Some(size as u64 / 2) && p["judged"].as_u64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = progress(stack).await["judged"].as_u64().unwrap();
    for _ in 0..n {
        measured.busy.push(submit_and_wait(stack, token, body).await);
    }
    let after = progress(stack).await;
    measured.judged_meanwhile = after["judged"].as_u64().unwrap() - before;
    assert!(
        after["waiting"].as_u64().unwrap() > 0,
        "the rejudge ended before the new submissions did: make BENCH_REJUDGE larger"
    );
    // The rest of the rejudge is not waited for.
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    js.get_stream(common::jobs::REJUDGE_STREAM)
        .await
        .unwrap()
        .purge()
        .await
        .unwrap();
    measured.quiet.sort();
    measured.busy.sort();
    measured
}

/// What the runs part measured.
struct RunsUnderLoad {
    /// `POST /api/runs?wait=true` until its answer, sorted.
    latency: Vec<Duration>,
    /// The judge's own time for each of those runs (`judge_ms`: slot taken → report), sorted.
    judge: Vec<Duration>,
    /// Latency minus the judge's own time, run by run, sorted: the pipeline's share.
    share: Vec<Duration>,
    /// The same, in the order the runs were made (where the slow ones fall).
    in_order: Vec<Duration>,
    /// Of each, in the same order, the wait from the worker accepting it to a judge starting it
    /// (`queued_ms`: its queue, and a free slot).
    queued: Vec<Duration>,
    /// Graded submissions posted during the runs, and the interval between them.
    graded: usize,
    load_every: Duration,
    /// Graded jobs still waiting when the runs ended (a steady load leaves few).
    waiting_at_end: u64,
}

impl RunsUnderLoad {
    fn print(&self) {
        if self.latency.is_empty() {
            return;
        }
        println!(
            "## Runs on the samples under graded load (C++ A+B, 2 samples; {} runs; one graded C++ \
             submission every {} ms: {} posted, {} waiting at the end)\n",
            self.latency.len(),
            self.load_every.as_millis(),
            self.graded,
            self.waiting_at_end
        );
        println!("| | p50 ms | p99 ms |");
        println!("| --- | ---: | ---: |");
        for (what, v) in [
            (
                "the judge's own time for the run (compile + samples)",
                &self.judge,
            ),
            ("POST /api/runs?wait=true through the stack", &self.latency),
            ("the pipeline's share (the difference, run by run)", &self.share),
        ] {
            println!("| {what} | {} | {} |", ms(pct(v, 0.5)), ms(pct(v, 0.99)));
        }
        let order: Vec<String> = self.in_order.iter().map(|d| ms(*d)).collect();
        println!("\nthe share run by run, in order (ms): {}", order.join(", "));
        let queued: Vec<String> = self.queued.iter().map(|d| ms(*d)).collect();
        println!(
            "of which queued (accepted → a judge starting it), in order (ms): {}",
            queued.join(", ")
        );
        let own = pct(&self.share, 0.5);
        println!(
            "\nthe pipeline's share of a run at p50: {} ms (target ≤ 20 ms: {})\n",
            ms(own),
            if own <= Duration::from_millis(20) {
                "met"
            } else {
                "NOT MET"
            },
        );
    }
}

/// Runs a C++ A+B on the samples through the stack, one at a time, while graded C++ submissions
/// arrive at a steady rate; each run's latency beside the judge's own time for it.
async fn runs_under_load(stack: &Stack, root: &std::path::Path, tokens: &[String]) -> RunsUnderLoad {
    let n = env_or("BENCH_RUNS", 30);
    let load_every = Duration::from_millis(env_or("BENCH_LOAD_MS", 2000) as u64);
    let mut measured = RunsUnderLoad {
        latency: Vec::new(),
        judge: Vec::new(),
        share: Vec::new(),
        in_order: Vec::new(),
        queued: Vec::new(),
        graded: 0,
        load_every,
        waiting_at_end: 0,
    };
    if n == 0 {
        return measured;
    }
    let cpp = std::fs::read_to_string(root.join("submissions/accepted/aplusb.cpp")).unwrap();
    stack.wait_for_language("cpp").await;

    // The graded load: users other than the runner's post one C++ submission per interval.
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicUsize::new(0));
    let load = tokio::spawn({
        let (http, url) = (stack.http.clone(), stack.url("/api/submissions"));
        let body = json!({"problem_id": "aplusb", "language": "cpp", "source": cpp});
        let tokens = tokens[1..].to_vec();
        let (stop, posted) = (stop.clone(), posted.clone());
        async move {
            let mut tick = tokio::time::interval(load_every);
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let i = posted.fetch_add(1, Ordering::SeqCst);
                let r = http
                    .post(&url)
                    .bearer_auth(&tokens[i % tokens.len()])
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
            }
        }
    });

    let run = json!({"problem_id": "aplusb", "language": "cpp", "source": cpp});
    // Three to warm up (the judge's package cache, the compiler's files in the page cache).
    for i in 0..n + 3 {
        let t = Instant::now();
        let r = stack
            .http
            .post(stack.url("/api/runs?wait=true"))
            .bearer_auth(&tokens[0])
            .json(&run)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the run was not done within the wait");
        let answer: Value = r.json().await.unwrap();
        let took = t.elapsed();
        assert_eq!(answer["verdict"], "accepted", "{answer}");
        let judge = Duration::from_millis(answer["judge_ms"].as_u64().expect("judge_ms"));
        let queued = Duration::from_millis(answer["queued_ms"].as_u64().expect("queued_ms"));
        if i >= 3 {
            measured.queued.push(queued);
            measured.latency.push(took);
            measured.judge.push(judge);
            measured.share.push(took.saturating_sub(judge));
            measured.in_order.push(took.saturating_sub(judge));
        }
    }
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    measured.waiting_at_end = js
        .get_stream(common::jobs::JOBS_STREAM)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    measured.graded = posted.load(Ordering::SeqCst);
    measured.latency.sort();
    measured.judge.sort();
    measured.share.sort();
    measured
}
