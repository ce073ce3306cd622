//! `judge-worker serve` joins NATS with the judge's own credentials, advertises what it can run,
//! and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use system_tests::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_joins_nats_and_stops_on_sigterm() {
    let nats = NatsServer::start();
    let settings = nats.settings("judge");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_judge-worker"));
    cmd.arg("serve")
        .env("NATS_URL", &settings.url)
        .env("NATS_USER", "judge")
        .env("NATS_PASSWORD", settings.password.as_deref().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    system_tests::die_with_parent(&mut cmd);
    let mut child = cmd.spawn().expect("starting judge-worker serve");

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
        if let Some(status) = child.try_wait().unwrap() {
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
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "judge-worker did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let gone = tokio::time::timeout(
        Duration::from_secs(1),
        admin.request("$SRV.PING.judge", "".into()),
    )
    .await;
    assert!(!matches!(gone, Ok(Ok(_))), "the service is no longer listed");
}
