//! The OpenAPI description holds: schemathesis (PyPI) generates requests for every operation
//! from `/api/openapi.json` and checks every answer against it — no 5xx, every status, content
//! type, header and body as described — against the running stack (a stand-in judge advertises
//! languages; example problems uploaded; a signed-in user).

use std::time::Duration;

use system_tests::{Stack, StackOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_holds_under_schemathesis() {
    let schemathesis = system_tests::workspace_root().join(".venv/bin/schemathesis");
    assert!(
        schemathesis.is_file(),
        "{} is missing: run scripts/setup.sh --test (make test does)",
        schemathesis.display()
    );
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        // Generated bodies are many; the limits are not what is tested here.
        max_queued: 100_000,
        per_minute: 100_000,
        ..StackOptions::default()
    })
    .await;
    let _judge = system_tests::stack::advertise_languages(&stack.nats, &["c", "python3"]).await;
    let admin = stack.token("admin", "admin password").await;
    stack.upload_example(&admin, "aplusb").await;
    stack.register("fuzzer", "correct horse battery").await;
    let user = stack.token("fuzzer", "correct horse battery").await;

    // Schemathesis keeps a cache in its working directory: a throwaway one, not the repository.
    let scratch = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::process::Command::new(&schemathesis)
            .arg("run")
            .arg(stack.url("/api/openapi.json"))
            .args(["--url", &stack.url("")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance",
            ])
            .args(["-H", &format!("Authorization: Bearer {user}")])
            .args([
                "--max-examples",
                "25",
                "--seed",
                "20261130",
                "--request-timeout",
                "20",
            ])
            // Schemathesis 4 infers links between operations for its stateful phase and, here,
            // infers ones the description does not support; the other phases cover every
            // operation.
            .args(["--phases", "examples,coverage,fuzzing"])
            // The live stream stays open until a verdict that never comes here.
            .args(["--exclude-path", "/api/submissions/{id}/events"])
            .args(["--exclude-path", "/api/runs/{id}/events"])
            .env("SCHEMATHESIS_HOOKS", "")
            .current_dir(scratch.path())
            .output(),
    )
    .await
    .expect("schemathesis finished within 10 minutes")
    .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(output.status.success(), "schemathesis found failures (see above)");
}
