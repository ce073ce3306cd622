//! The web page the edge serves at `/`, driven in Debian's Chromium (headless) through the
//! learner's whole flow by `browser/flow.mjs` (playwright-core from npm), against the whole stack
//! with the real judge. Screenshots of each step are kept in `target/screenshots/web-flow/`.

use std::time::Duration;

use system_tests::{Stack, StackOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_registers_reads_submits_and_comments_in_the_browser() {
    if !system_tests::judge::sandbox_available(
        "a_learner_registers_reads_submits_and_comments_in_the_browser",
    ) {
        return;
    }
    let root = system_tests::workspace_root();
    let browser_dir = root.join("system-tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).is_file()
            && browser_dir.join("node_modules/playwright-core").is_dir(),
        "Chromium ({chromium}) or playwright-core is missing: run scripts/setup.sh --test (make test does)"
    );
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..StackOptions::default()
    })
    .await;
    let admin = stack.token("admin", "admin password").await;
    stack.upload_example(&admin, "aplusb").await;
    let _judge = system_tests::judge::JudgeProcess::start(&stack.nats, Some("65200"), true);
    stack.wait_for_language("python3").await;

    let shots = root.join("target/screenshots/web-flow");
    let _ = std::fs::remove_dir_all(&shots);
    let output = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new("node")
            .arg(browser_dir.join("flow.mjs"))
            .arg(stack.url("/"))
            .arg(&shots)
            .env("CHROMIUM", &chromium)
            .output(),
    )
    .await
    .expect("the browser flow finished within 4 minutes")
    .expect("node runs");
    eprintln!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the browser flow failed (screenshots in {})",
        shots.display()
    );
    let taken = std::fs::read_dir(&shots).map(|d| d.count()).unwrap_or(0);
    assert!(taken >= 6, "a screenshot of each step: {taken}");
}
