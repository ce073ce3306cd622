//! `judge-worker serve` joins NATS with the judge's own credentials, advertises what it can run,
//! and stops cleanly on SIGTERM.

use std::time::{Duration, Instant};

use futures::StreamExt;
use system_tests::judge::JudgeProcess;
use system_tests::NatsServer;

fn start_judge(nats: &NatsServer, uid_base: &str) -> JudgeProcess {
    JudgeProcess::start(nats, Some(uid_base), false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_joins_nats_and_stops_on_sigterm() {
    if !system_tests::judge::sandbox_available("serve_joins_nats_and_stops_on_sigterm") {
        return;
    }
    let nats = NatsServer::start();
    let mut judge = start_judge(&nats, "65010");

    let admin = nats.client("admin").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let info = loop {
        if let Ok(Ok(m)) = tokio::time::timeout(
            Duration::from_secs(1),
            admin.request("$SRV.INFO.judge", "".into()),
        )
        .await
        {
            break serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap();
        }
        if let Some(status) = judge.exited() {
            panic!("judge-worker serve exited early: {status}");
        }
        assert!(Instant::now() < deadline, "the judge service never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(info["name"], "judge");
    let languages: serde_json::Value = serde_json::from_str(
        info["metadata"]["languages"]
            .as_str()
            .expect("languages metadata"),
    )
    .unwrap();
    let ids: Vec<&str> = languages
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"c") && ids.contains(&"python3"), "{ids:?}");
    assert!(
        languages[0]["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{languages}"
    );

    // SIGTERM: it leaves NATS and exits 0 promptly.
    let status = judge.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "{status}");
    let gone = tokio::time::timeout(
        Duration::from_secs(1),
        admin.request("$SRV.PING.judge", "".into()),
    )
    .await;
    assert!(!matches!(gone, Ok(Ok(_))), "the service is no longer listed");
}

fn verdict_of(updates: &[common::jobs::GradingUpdate]) -> &common::JudgeReport {
    system_tests::results::verdicts(updates)[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_pulled_judged_and_reported() {
    if !system_tests::judge::sandbox_available("jobs_are_pulled_judged_and_reported") {
        return;
    }
    use sha2::Digest;
    let nats = NatsServer::start();
    let admin = nats.client("admin").await;
    let js = async_nats::jetstream::new(admin.clone());
    let two_second_ack_wait = common::jobs::Provisioning {
        job_ack_wait: Duration::from_secs(2),
        ..Default::default()
    };
    common::jobs::provision_with(&js, &two_second_ack_wait)
        .await
        .unwrap();
    // Provisioning twice changes nothing.
    common::jobs::provision_with(&js, &two_second_ack_wait)
        .await
        .unwrap();

    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems/aplusb");
    let zip = problem_package::pack_zip(&examples).unwrap();
    let digest = hex::encode(sha2::Sha256::digest(&zip));
    let store = js.get_object_store(common::jobs::PROBLEMS_BUCKET).await.unwrap();
    store.put(digest.as_str(), &mut zip.as_slice()).await.unwrap();

    let job = |id: &str, digest: &str, file: &str| common::jobs::GradingJob {
        submission_id: id.to_owned(),
        problem_id: "aplusb".to_owned(),
        problem_version: 1,
        package_digest: digest.to_owned(),
        language: "c".to_owned(),
        source: std::fs::read_to_string(examples.join("submissions").join(file)).unwrap(),
        run_all_tests: false,
        judging: 1,
    };
    let missing = "0".repeat(64);

    // A job whose verdict is already stored but whose ack was lost (its judge died right after
    // publishing): pulled here and never acked, so it comes back as a second delivery.
    let done = job("sub-done", &digest, "accepted/aplusb.c");
    js.publish(
        common::subjects::jobs::GRADE,
        serde_json::to_vec(&done).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer = js
        .get_consumer_from_stream(common::jobs::JUDGE_CONSUMER, common::jobs::JOBS_STREAM)
        .await
        .unwrap();
    let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
    let pulled = batch.next().await.unwrap().unwrap();
    let stored = system_tests::results::verdict_update("sub-done", 1, common::Verdict::Accepted);
    js.publish(
        common::subjects::jobs::results("sub-done"),
        serde_json::to_vec(&stored).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    drop(pulled);

    // The same submission queued twice under two message ids (a republish after the dedup
    // window, or a broker that forgot a delivery): graded once, both messages acked.
    for (id, j) in [
        ("sub-ok", job("sub-ok", &digest, "accepted/aplusb.c")),
        ("sub-wa", job("sub-wa", &digest, "wrong_answer/overflow.c")),
        ("sub-slow", job("sub-slow", &digest, "time_limit_exceeded/spin.c")),
        ("sub-nopkg", job("sub-nopkg", &missing, "accepted/aplusb.c")),
        ("sub-twice:1", job("sub-twice", &digest, "accepted/aplusb.c")),
        ("sub-twice:2", job("sub-twice", &digest, "accepted/aplusb.c")),
    ] {
        let mut h = async_nats::HeaderMap::new();
        h.insert("Nats-Msg-Id", id);
        js.publish_with_headers(
            common::subjects::jobs::GRADE,
            h,
            serde_json::to_vec(&j).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    js.publish(common::subjects::jobs::GRADE, "not a job".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let mut judge = start_judge(&nats, "65020");

    let results = system_tests::results::read(
        &js,
        &[
            "sub-ok",
            "sub-wa",
            "sub-slow",
            "sub-nopkg",
            "sub-done",
            "sub-twice",
        ],
        Duration::from_secs(90),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(
        system_tests::results::verdicts(&results["sub-twice"]).len(),
        1,
        "queued twice, graded once: {:#?}",
        results["sub-twice"]
    );
    assert_eq!(
        results["sub-done"].len(),
        1,
        "an already judged job is acked, not judged again: {:?}",
        results["sub-done"]
    );
    // Progress (if the job took long enough to show any), then the verdict, last.
    for (id, updates) in &results {
        let (last, progress) = updates.split_last().unwrap();
        assert!(
            matches!(last.status, common::jobs::GradingStatus::Judged { .. }),
            "{id}: {updates:#?}"
        );
        assert!(
            progress
                .iter()
                .all(|u| !matches!(u.status, common::jobs::GradingStatus::Judged { .. })),
            "{id}: {updates:#?}"
        );
    }
    // A job running for seconds shows its test running before its verdict.
    let slow = &results["sub-slow"];
    assert!(
        slow.iter()
            .any(|u| matches!(u.status, common::jobs::GradingStatus::Running { test: 1, .. })),
        "{slow:#?}"
    );
    assert_eq!(verdict_of(slow).verdict, common::Verdict::TimeLimitExceeded);
    let ok = &results["sub-ok"];
    let report = verdict_of(ok);
    assert_eq!(report.verdict, common::Verdict::Accepted, "{report:#?}");
    assert!(!report.tests.is_empty());
    assert_eq!(
        verdict_of(&results["sub-wa"]).verdict,
        common::Verdict::WrongAnswer
    );
    let failed = verdict_of(&results["sub-nopkg"]);
    assert_eq!(failed.verdict, common::Verdict::InternalError);
    assert!(
        failed.error.as_deref().unwrap_or_default().contains("package"),
        "{failed:#?}"
    );
    assert_eq!(
        results["sub-nopkg"].last().unwrap().attempt,
        common::jobs::MAX_DELIVER as u64
    );

    // Every job left the work queue: acked, or terminated when malformed.
    let mut jobs = js.get_stream(common::jobs::JOBS_STREAM).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while jobs.info().await.unwrap().state.messages > 0 {
        assert!(Instant::now() < deadline, "jobs left in the queue");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let status = judge.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "{status}");
}

/// Streams and consumers left by an earlier release (before rejudges) are brought up to date by
/// provisioning: the dead-jobs stream gains the rejudge queue's advisories and its consumer its
/// new (empty) filter, keeping what it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_upgrades_what_an_earlier_release_made() {
    use async_nats::jetstream::{consumer, stream};
    let nats = NatsServer::start();
    let js = async_nats::jetstream::new(nats.client("admin").await);
    let old_subject = common::jobs::max_deliveries_subject();
    let dead = js
        .create_stream(stream::Config {
            name: common::jobs::DEAD_JOBS_STREAM.to_owned(),
            subjects: vec![old_subject.clone()],
            retention: stream::RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await
        .unwrap();
    dead.create_consumer(consumer::pull::Config {
        durable_name: Some(common::jobs::DEAD_JOBS_CONSUMER.to_owned()),
        filter_subject: old_subject.clone(),
        ack_policy: consumer::AckPolicy::Explicit,
        ..Default::default()
    })
    .await
    .unwrap();
    js.publish(old_subject, "kept".into())
        .await
        .unwrap()
        .await
        .unwrap();

    common::jobs::provision(&js).await.unwrap();
    let mut dead = js.get_stream(common::jobs::DEAD_JOBS_STREAM).await.unwrap();
    let info = dead.info().await.unwrap().clone();
    assert_eq!(
        info.config.subjects,
        [
            common::jobs::max_deliveries_subject(),
            common::jobs::rejudge_max_deliveries_subject()
        ]
    );
    assert_eq!(info.state.messages, 1, "what the stream held is kept");
    let mut c: consumer::PullConsumer = dead.get_consumer(common::jobs::DEAD_JOBS_CONSUMER).await.unwrap();
    let c = c.info().await.unwrap();
    assert_eq!(c.config.filter_subject, "");
    assert_eq!(c.num_pending, 1, "the new consumer still delivers it");
    let mut rejudge: consumer::PullConsumer = js
        .get_consumer_from_stream(common::jobs::JUDGE_CONSUMER, common::jobs::REJUDGE_STREAM)
        .await
        .unwrap();
    assert_eq!(
        rejudge.info().await.unwrap().config.max_deliver,
        common::jobs::MAX_DELIVER
    );
}
