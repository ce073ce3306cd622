//! Metrics move as submissions flow: the workers' `/metrics` (METRICS_ADDR) and the edge's count
//! requests, logins, submissions by language and verdict, and the judges' queue.

use std::time::{Duration, Instant};

use serde_json::json;
use system_tests::{Stack, StackOptions};

/// The value of the sample `name{labels}` in a Prometheus text page (labels in the order the
/// exporter writes them, which is the order they were given).
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_as_submissions_flow() {
    if !system_tests::judge::sandbox_available("metrics_move_as_submissions_flow") {
        return;
    }
    let port = system_tests::free_port();
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        metrics_addr: Some(([127, 0, 0, 1], port).into()),
        ..StackOptions::default()
    })
    .await;
    let admin = stack.token("admin", "admin password").await;
    let root = system_tests::workspace_root().join("examples/problems/aplusb");
    stack.upload_example(&admin, "aplusb").await;
    let judge_metrics = format!("127.0.0.1:{}", system_tests::free_port());
    let _judge = system_tests::judge::JudgeProcess::start_with_env(
        &stack.nats,
        Some("65300"),
        true,
        &[("METRICS_ADDR", &judge_metrics)],
    );
    stack.wait_for_language("c").await;
    stack.register("counted", "correct horse battery").await;
    let user = stack.token("counted", "correct horse battery").await;
    let wrong = stack
        .post(
            "/api/auth/login",
            &json!({"username": "counted", "password": "not the password"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);

    let source = std::fs::read_to_string(root.join("submissions/accepted/aplusb.c")).unwrap();
    let r = stack
        .submit(
            &user,
            &json!({"problem_id": "aplusb", "language": "c", "source": source}),
            None,
        )
        .await;
    assert_eq!(r.status(), 202);

    let workers = format!("http://127.0.0.1:{port}/metrics");
    let deadline = Instant::now() + Duration::from_secs(60);
    let page = loop {
        let page = stack
            .http
            .get(&workers)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if sample(
            &page,
            r#"submissions_judged_total{language="c",verdict="accepted"}"#,
        )
        .is_some()
        {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "no verdict counted within a minute:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        sample(&page, r#"submissions_created_total{language="c"}"#),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            r#"submissions_judged_total{language="c",verdict="accepted"}"#
        ),
        Some(1.0),
        "{page}"
    );
    assert!(
        sample(&page, r#"auth_logins_total{outcome="succeeded"}"#).unwrap_or(0.0) >= 2.0,
        "{page}"
    );
    assert_eq!(
        sample(&page, r#"auth_logins_total{outcome="failed"}"#),
        Some(1.0),
        "{page}"
    );
    assert_eq!(sample(&page, "auth_registrations_total"), Some(1.0), "{page}");
    assert!(
        sample(
            &page,
            r#"nats_requests_total{subject="submission.submissions.create",status="202"}"#
        ) == Some(1.0),
        "{page}"
    );
    // The queue gauges are read every few seconds from the judges' consumer.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = stack
            .http
            .get(&workers)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if sample(&page, "judge_jobs_waiting").is_some() && sample(&page, "judge_jobs_in_flight").is_some() {
            assert_eq!(sample(&page, "judge_jobs_waiting"), Some(0.0), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "no queue gauges:\n{page}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The judge's own: its slots, none busy once the verdict is in, and the compile and the run
    // of the C submission in the time histograms.
    let judge = stack
        .http
        .get(format!("http://{judge_metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sample(&judge, "judge_slots").is_some_and(|n| n >= 1.0), "{judge}");
    assert_eq!(sample(&judge, "judge_slots_busy"), Some(0.0), "{judge}");
    assert!(
        sample(&judge, r#"judge_compile_seconds_count{language="c"}"#).is_some_and(|n| n >= 1.0),
        "{judge}"
    );
    assert!(
        sample(&judge, r#"judge_run_seconds_count{language="c"}"#).is_some_and(|n| n >= 1.0),
        "{judge}"
    );

    let edge = stack
        .http
        .get(stack.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sample(
            &edge,
            r#"http_requests_total{method="POST",route="/api/submissions",status="202"}"#
        ) == Some(1.0),
        "{edge}"
    );
}
