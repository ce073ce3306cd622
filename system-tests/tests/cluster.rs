//! A three-node NATS cluster loses a node under load and nobody notices: three nodes on free
//! ports, every stream, consumer and bucket with three replicas, two edges, two submission workers
//! and two real judges. Submissions go through both edges while, halfway, the node leading the
//! jobs stream is SIGKILLed; then it restarts and catches up; then the same with the leader of the
//! results stream, and with the node the second edge is connected to. Every POST must be answered
//! 2xx, every SSE stream must end with its verdict, and the results stream must hold exactly one
//! verdict per submission.
//!
//! `CLUSTER_TEST_SUBMISSIONS` (default 30, to keep `make test` short; 100 gives the 300) sets
//! the submissions of each of the three rounds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use serde_json::{json, Value};
use system_tests::judge::{sandbox_available, JudgeProcess};
use system_tests::{Stack, StackOptions};

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems")
}

/// The node (index) leading `stream`, as its info says.
async fn leader_of(js: &jetstream::Context, stack: &Stack, stream: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = js.get_stream(stream).await {
            if let Ok(info) = s.info().await {
                let leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
                if let Some(i) = leader.and_then(|name| stack.nats.node_named(&name)) {
                    return i;
                }
            }
        }
        assert!(Instant::now() < deadline, "{stream} has no leader");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every stream has a leader and all its replicas are current and online: the
/// restarted node has caught up.
async fn caught_up(js: &jetstream::Context) -> Duration {
    let started = Instant::now();
    let streams = [
        common::jobs::JOBS_STREAM,
        common::jobs::RESULTS_STREAM,
        common::jobs::DEAD_JOBS_STREAM,
        "KV_submission_limits",
        "OBJ_problems",
    ];
    loop {
        let mut all = true;
        for name in streams {
            let current = match js.get_stream(name).await {
                Ok(mut s) => match s.info().await {
                    Ok(info) => info.cluster.as_ref().is_some_and(|c| {
                        c.leader.is_some()
                            && c.replicas.len() == 2
                            && c.replicas.iter().all(|r| r.current && !r.offline)
                    }),
                    Err(_) => false,
                },
                Err(_) => false,
            };
            all &= current;
        }
        if all {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the restarted node did not catch up in a minute"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What one submission went through, as its client saw it.
struct Seen {
    id: String,
    /// How long the POST took to be answered.
    accepted: Duration,
    /// From the POST to the verdict on its event stream.
    latency: Duration,
}

/// POSTs one submission through `edge` and follows its event stream to the end; any error a
/// client could see is returned as text.
async fn submit_and_follow(
    http: &reqwest::Client,
    edge: &str,
    token: &str,
    source: &str,
) -> Result<Seen, String> {
    let started = Instant::now();
    let r = http
        .post(format!("{edge}/api/submissions"))
        .bearer_auth(token)
        .json(&json!({"problem_id": "aplusb", "language": "python3", "source": source}))
        .send()
        .await
        .map_err(|e| format!("POST: {e} after {:?}", started.elapsed()))?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| format!("POST body: {e}"))?;
    if !status.is_success() {
        return Err(format!("POST answered {status}: {body}"));
    }
    let id = body["id"].as_str().ok_or("no id")?.to_owned();
    let accepted = started.elapsed();
    let r = http
        .get(format!("{edge}/api/submissions/{id}/events"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("{id}: events: {e}"))?;
    if r.status() != 200 {
        return Err(format!("{id}: events answered {}", r.status()));
    }
    let text = tokio::time::timeout(Duration::from_secs(90), r.text())
        .await
        .map_err(|_| format!("{id}: the event stream did not end in 90 s"))?
        .map_err(|e| format!("{id}: reading events: {e}"))?;
    let last: Option<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .next_back();
    match last {
        Some(event) if event["status"] == "judged" && event["verdict"] == "accepted" => Ok(Seen {
            id,
            accepted,
            latency: started.elapsed(),
        }),
        other => Err(format!("{id}: the event stream ended with {other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_loses_a_node_without_anyone_noticing() {
    if !sandbox_available("a_cluster_loses_a_node_without_anyone_noticing") {
        return;
    }
    let per_round: usize = std::env::var("CLUSTER_TEST_SUBMISSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let mut stack = Stack::start(StackOptions {
        nats_nodes: 3,
        admin: Some(system_tests::stack::admin_account()),
        max_queued: 100_000,
        per_minute: 100_000,
        job_ack_wait: Duration::from_secs(10),
        // Longer than the workers retry through an election (30 s).
        edge_nats_timeout: Duration::from_secs(45),
        ..Default::default()
    })
    .await;
    stack.start_submission_worker().await;
    stack.wait_for_instances("submission", 2).await;
    // The second edge talks to node 1 only (and to the others it learns of, when node 1 dies).
    let second_edge = format!("http://{}", stack.start_edge_via(1).await);
    let first_edge = stack.url("");
    let _judges = [
        JudgeProcess::start(&stack.nats, Some("1300000"), true),
        JudgeProcess::start(&stack.nats, Some("1400000"), true),
    ];
    stack.wait_for_instances("judge", 2).await;
    stack.wait_for_language("python3").await;

    let admin = stack.token("admin", "admin password").await;
    stack.upload_example(&admin, "aplusb").await;
    stack.register("solver", "correct horse battery").await;
    let token = stack.token("solver", "correct horse battery").await;
    let source = std::fs::read_to_string(examples().join("aplusb/submissions/accepted/aplusb.py")).unwrap();
    let js = jetstream::new(stack.nats.client("admin").await);
    // Longer than the edge's own deadline (the workers retry through an election for 30 s).
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();

    let mut all_ids = Vec::new();
    let rounds = [
        ("the jobs stream's leader", Some(common::jobs::JOBS_STREAM)),
        ("the results stream's leader", Some(common::jobs::RESULTS_STREAM)),
        ("the second edge's node", None),
    ];
    for (what, stream) in rounds {
        let victim = match stream {
            Some(stream) => leader_of(&js, &stack, stream).await,
            None => 1,
        };
        let answered = AtomicUsize::new(0);
        let killed_at = std::sync::Mutex::new(None::<Instant>);
        let submissions = futures::stream::iter(0..per_round)
            .map(|i| {
                let edge = if i % 2 == 0 { &first_edge } else { &second_edge };
                let (http, token, source, answered) = (&http, &token, &source, &answered);
                async move {
                    let seen = submit_and_follow(http, edge, token, source).await;
                    answered.fetch_add(1, Ordering::SeqCst);
                    seen
                }
            })
            .buffer_unordered(8)
            .collect::<Vec<_>>();
        let nats = &mut stack.nats;
        let kill = async {
            while answered.load(Ordering::SeqCst) < per_round / 2 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::task::block_in_place(|| nats.kill_node(victim));
            *killed_at.lock().unwrap() = Some(Instant::now());
        };
        let started = Instant::now();
        let (outcomes, ()) = tokio::join!(submissions, kill);
        let errors: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        assert!(
            errors.is_empty(),
            "killing {what} (node {victim}): {} of {per_round} clients saw an error:\n{}",
            errors.len(),
            errors
                .iter()
                .take(10)
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
        let longest = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .map(|s| s.latency)
            .max()
            .unwrap_or_default();
        let slowest_post = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .map(|s| s.accepted)
            .max()
            .unwrap_or_default();
        all_ids.extend(outcomes.into_iter().filter_map(Result::ok).map(|s| s.id));
        tokio::task::block_in_place(|| stack.nats.restart_node(victim));
        let catch_up = caught_up(&js).await;
        eprintln!(
            "cluster: killed {what} (node {victim}) after {:?}: {per_round} submissions in {:?}, \
             longest submit → verdict {longest:?}, slowest POST {slowest_post:?}; the node caught up {catch_up:?} after its restart",
            killed_at.lock().unwrap().map(|t| t - started),
            started.elapsed()
        );
    }

    // Exactly one verdict per submission on the results stream.
    let ids: Vec<&str> = all_ids.iter().map(String::as_str).collect();
    let updates =
        system_tests::results::read(&js, &ids, Duration::from_secs(60), Duration::from_secs(1)).await;
    for id in &ids {
        let judged: Vec<u64> = updates[*id]
            .iter()
            .filter(|u| matches!(u.status, common::jobs::GradingStatus::Judged { .. }))
            .map(|u| u.attempt)
            .collect();
        assert_eq!(
            judged.len(),
            1,
            "{id} has a verdict from these deliveries: {judged:?}"
        );
    }
}
