//! `make bench` (verification part): how long verifying each example problem takes when it is
//! uploaded — every submission the package carries judged through the whole stack (HTTP upload →
//! submission worker → `REJUDGE` stream → one judge with its default slots → results → the
//! version settled) — beside the judge engine verifying the same package in-process, one
//! submission after another on one slot (`judge_worker::verify::verify`, what
//! `judge-worker check-package --verify` runs). Each package is uploaded alone, on an idle stack.
//!
//! Knob: BENCH_VERIFY (comma-separated example names; default every example problem and
//! DOMjudge's hello).

use std::time::{Duration, Instant};

use serde_json::Value;
use system_tests::{Stack, StackOptions};

fn main() {
    system_tests::bench::block_on(run());
}

async fn run() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let names: Vec<String> = match std::env::var("BENCH_VERIFY") {
        Ok(list) => list.split(',').map(str::to_owned).collect(),
        Err(_) => {
            let mut names: Vec<String> = std::fs::read_dir(examples.join("problems"))
                .unwrap()
                .flatten()
                .map(|e| format!("problems/{}", e.file_name().to_string_lossy()))
                .collect();
            names.sort();
            names.push("domjudge/hello".to_owned());
            names
        }
    };

    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..StackOptions::default()
    })
    .await;
    let admin = stack.token("admin", "admin password").await;
    let _judge = system_tests::judge::JudgeProcess::start(&stack.nats, Some("1600000"), true);
    // Every language the judge offers is known before the first upload (a package's submission in
    // a language not yet announced would not be verified).
    stack.wait_for_language("c").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let all_cpus = sandbox::allowed_cpus();
    let engine = judge_worker::Judge::new(judge_worker::JudgeConfig {
        slots: 1,
        helper: Some(system_tests::judge::binary().to_owned()),
        ..Default::default()
    })
    .expect("a judge");
    // With fewer slots than CPUs the engine keeps this process's threads off its slot's CPU: the
    // in-process stack gets every CPU back.
    sandbox::confine_own_threads(&all_cpus).expect("giving the bench its CPUs back");

    println!("verification at upload (whole stack, judge with its default slots) vs the engine in-process (one slot)");
    println!(
        "{:<22} {:>5} {:>9} {:>10} {:>10} {:>7}",
        "package", "subs", "result", "stack", "engine", "ratio"
    );
    for name in &names {
        let dir = examples.join(name);
        let id = name.rsplit('/').next().unwrap().to_owned();
        let zip = problem_package::pack_zip(&dir).unwrap();
        let t = Instant::now();
        let r = stack
            .http
            .post(stack.url(&format!("/api/problems?id={id}")))
            .bearer_auth(&admin)
            .body(zip)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{name}");
        let report = stack
            .verification(&admin, &id, 1, Duration::from_secs(1800))
            .await;
        let stack_time = t.elapsed();

        let mut package = problem_package::ProblemPackage::load(&dir).unwrap();
        let t = Instant::now();
        let local = {
            let engine = &engine;
            tokio::task::block_in_place(|| judge_worker::verify::verify(engine, &mut package, |_| {}))
        };
        let engine_time = t.elapsed();
        let judged_locally = local.submissions.iter().filter(|s| s.verdict.is_some()).count();
        println!(
            "{:<22} {:>5} {:>9} {:>9.1}s {:>9.1}s {:>6.2}x",
            name,
            format!("{}/{}", report["judged"], judged_locally),
            report["verification"].as_str().unwrap_or("?"),
            stack_time.as_secs_f64(),
            engine_time.as_secs_f64(),
            stack_time.as_secs_f64() / engine_time.as_secs_f64()
        );
        if report["verification"] != "passed" {
            let odd: Vec<&Value> = report["submissions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["agrees"] != true)
                .collect();
            println!("  disagreeing: {}", serde_json::to_string(&odd).unwrap());
        }
    }
}
