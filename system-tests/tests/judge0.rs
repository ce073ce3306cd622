//! The Judge0-compatible layer under `/judge0/`: Judge0's documented requests and answers
//! (tokens, `?wait`, `?base64_encoded`, `?fields`, batches, languages, statuses, errors, 429 with
//! `Retry-After`, `X-Auth-Token`), then Judge0's official Python SDK (PyPI `judge0`, installed in
//! `.venv` by `scripts/setup.sh --test`) driven unchanged through a run, test cases and a
//! compilation error.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use system_tests::judge::JudgeProcess;
use system_tests::{Stack, StackOptions};

/// A stack with a judge whose sandboxes use uids from `uid_base` (apart from other tests' judges).
async fn stack_with_judge(uid_base: &str) -> (Stack, JudgeProcess, String) {
    let stack = Stack::start(StackOptions::default()).await;
    let judge = JudgeProcess::start(&stack.nats, Some(uid_base), false);
    stack.register("editor", "correct horse battery").await;
    let token = stack.token("editor", "correct horse battery").await;
    for language in ["c", "python3"] {
        stack.wait_for_language(language).await;
    }
    (stack, judge, token)
}

async fn j0(
    stack: &Stack,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = stack.url(&format!("/judge0{path}"));
    let mut req = match method {
        "POST" => stack.http.post(url),
        _ => stack.http.get(url),
    };
    if let Some(t) = token {
        req = req.header("X-Auth-Token", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(r.headers()["content-type"], "application/json", "{method} {path}");
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn poll(stack: &Stack, token: &str, submission: &str, query: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, s) = j0(
            stack,
            Some(token),
            "GET",
            &format!("/submissions/{submission}{query}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{s}");
        if s["status"]["id"].as_u64().unwrap() > 2 {
            return s;
        }
        assert!(Instant::now() < deadline, "not done: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge0_documented_requests_and_answers() {
    if !system_tests::judge::sandbox_available("judge0_documented_requests_and_answers") {
        return;
    }
    let (stack, _judge, token) = stack_with_judge("62000").await;

    // The informational routes.
    let (status, about) = j0(&stack, None, "GET", "/about", None).await;
    assert_eq!((status, about["version"].as_str()), (200, Some("1.13.1")));
    let (_, statuses) = j0(&stack, None, "GET", "/statuses", None).await;
    let ids: Vec<u64> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=16).collect::<Vec<_>>());
    assert_eq!(statuses[2], json!({"id": 3, "description": "Accepted"}));
    let (_, languages) = j0(&stack, None, "GET", "/languages", None).await;
    let names: Vec<(u64, String)> = languages
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_u64().unwrap(), l["name"].as_str().unwrap().to_owned()))
        .collect();
    for id in [50, 48, 49, 103, 71, 92, 100] {
        assert!(names.iter().any(|(i, _)| *i == id), "{id} in {names:?}");
    }
    let (status, python) = j0(&stack, None, "GET", "/languages/71", None).await;
    assert_eq!(status, 200);
    assert!(
        python["name"].as_str().unwrap().contains("Python"),
        "our real version: {python}"
    );
    assert_eq!(j0(&stack, None, "GET", "/languages/9999", None).await.0, 404);
    let (_, config) = j0(&stack, None, "GET", "/config_info", None).await;
    assert_eq!(config["max_submission_batch_size"], 20);

    // Judge0's first example: create, get a token, then read it.
    let (status, created) = j0(
        &stack,
        Some(&token),
        "POST",
        "/submissions",
        Some(json!({"source_code": "#include <stdio.h>\nint main(void) { char name[10]; scanf(\"%s\", name); printf(\"hello, %s\\n\", name); return 0; }", "language_id": 50, "stdin": "world"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let submission = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created.as_object().unwrap().len(), 1, "only the token: {created}");
    let done = poll(&stack, &token, &submission, "").await;
    assert_eq!(done["stdout"], "hello, world\n", "{done}");
    assert_eq!(done["status"], json!({"id": 3, "description": "Accepted"}));
    let mut keys: Vec<_> = done.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "compile_output",
            "memory",
            "message",
            "status",
            "stderr",
            "stdout",
            "time",
            "token"
        ],
        "Judge0's default fields"
    );
    assert!(done["time"].as_str().unwrap().parse::<f64>().is_ok());

    // ?wait=true, ?base64_encoded=true, ?fields and expected_output.
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let (status, waited) = j0(
        &stack,
        Some(&token),
        "POST",
        "/submissions?base64_encoded=true&wait=true&fields=stdout,status_id,expected_output,exit_code",
        Some(json!({"source_code": b64("print(input())\n"), "language_id": 71, "stdin": b64("hi"), "expected_output": b64("hi\n")})),
    )
    .await;
    assert_eq!(status, 201, "{waited}");
    assert_eq!(waited["stdout"], b64("hi\n"), "{waited}");
    assert_eq!(waited["expected_output"], b64("hi\n"));
    assert_eq!(
        (waited["status_id"].as_u64(), waited["exit_code"].as_i64()),
        (Some(3), Some(0))
    );
    let (_, wrong) = j0(
        &stack,
        Some(&token),
        "POST",
        "/submissions?wait=true",
        Some(json!({"source_code": "print(1)", "language_id": 71, "expected_output": "2"})),
    )
    .await;
    assert_eq!(wrong["status"]["id"], 4, "{wrong}");
    // A runtime error by signal.
    let (_, crashed) = j0(
        &stack,
        Some(&token),
        "POST",
        "/submissions?wait=true&fields=status,exit_signal",
        Some(json!({"source_code": "#include <signal.h>\nint main(void) { raise(SIGSEGV); }", "language_id": 50})),
    )
    .await;
    assert_eq!(
        (crashed["status"]["id"].as_u64(), crashed["exit_signal"].as_i64()),
        (Some(7), Some(11)),
        "{crashed}"
    );

    // Batches: up to 20, a token or the errors of each; read back by tokens.
    let (status, batch) = j0(
        &stack,
        Some(&token),
        "POST",
        "/submissions/batch",
        Some(json!({"submissions": [
            {"source_code": "print(1)", "language_id": 71},
            {"source_code": "print(2)", "language_id": 9999},
            {"source_code": "print(3)", "language_id": 92},
        ]})),
    )
    .await;
    assert_eq!(status, 201, "{batch}");
    assert!(batch[0]["token"].is_string() && batch[2]["token"].is_string());
    assert_eq!(
        batch[1]["language_id"],
        json!(["language with id 9999 doesn't exist"])
    );
    let tokens = format!(
        "{},{}",
        batch[0]["token"].as_str().unwrap(),
        batch[2]["token"].as_str().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, got) = j0(
            &stack,
            Some(&token),
            "GET",
            &format!("/submissions/batch?tokens={tokens}&fields=stdout,status"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let subs = got["submissions"].as_array().unwrap();
        if subs.iter().all(|s| s["status"]["id"].as_u64() > Some(2)) {
            assert_eq!(
                (subs[0]["stdout"].as_str(), subs[1]["stdout"].as_str()),
                (Some("1\n"), Some("3\n"))
            );
            break;
        }
        assert!(Instant::now() < deadline, "{got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let many: Vec<Value> = (0..21)
        .map(|_| json!({"source_code": "print(1)", "language_id": 71}))
        .collect();
    let (status, e) = j0(
        &stack,
        Some(&token),
        "POST",
        "/submissions/batch",
        Some(json!({"submissions": many})),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].is_string());

    // Errors in Judge0's shapes.
    let (status, e) = j0(
        &stack,
        Some(&token),
        "POST",
        "/submissions",
        Some(json!({"language_id": 9999})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        e,
        json!({"source_code": ["can't be blank"], "language_id": ["language with id 9999 doesn't exist"]})
    );
    let (status, e) = j0(
        &stack,
        Some(&token),
        "POST",
        "/submissions?base64_encoded=true",
        Some(json!({"source_code": "cHJp\nbnQoMSk=", "language_id": 71})),
    )
    .await;
    assert_eq!(status, 422, "line breaks are not base64: {e}");
    assert!(e["source_code"][0].as_str().unwrap().contains("Base64"));
    let (status, e) = j0(
        &stack,
        Some(&token),
        "GET",
        &format!("/submissions/{submission}?fields=nope"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("nope"));
    let (status, e) = j0(
        &stack,
        Some(&token),
        "GET",
        "/submissions/0190e1c4-1b7a-7000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!((status, e), (404, json!({"error": "Not Found"})));
    let (status, e) = j0(
        &stack,
        None,
        "POST",
        "/submissions",
        Some(json!({"source_code": "x", "language_id": 71})),
    )
    .await;
    assert_eq!(status, 401);
    assert!(e["error"].is_string(), "{e}");
    // The Authorization header works as well as X-Auth-Token; someone else's token finds nothing.
    let r = stack
        .http
        .get(stack.url(&format!("/judge0/submissions/{submission}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stack.register("stranger", "correct horse battery").await;
    let stranger = stack.token("stranger", "correct horse battery").await;
    assert_eq!(
        j0(
            &stack,
            Some(&stranger),
            "GET",
            &format!("/submissions/{submission}"),
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge0_rate_limit_answers_429_with_retry_after() {
    let stack = Stack::start(StackOptions {
        runs_per_minute: 1,
        ..StackOptions::default()
    })
    .await;
    let _languages = system_tests::stack::advertise_languages(&stack.nats, &["python3"]).await;
    stack.wait_for_language("python3").await;
    stack.register("editor", "correct horse battery").await;
    let token = stack.token("editor", "correct horse battery").await;
    let body = json!({"source_code": "print(1)", "language_id": 71});
    assert_eq!(
        j0(&stack, Some(&token), "POST", "/submissions", Some(body.clone()))
            .await
            .0,
        201
    );
    let r = stack
        .http
        .post(stack.url("/judge0/submissions"))
        .header("X-Auth-Token", &token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("a minute"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge0_python_sdk_runs_unchanged() {
    if !system_tests::judge::sandbox_available("judge0_python_sdk_runs_unchanged") {
        return;
    }
    let python = system_tests::workspace_root().join(".venv/bin/python3");
    let has_sdk = std::process::Command::new(&python)
        .args(["-c", "import judge0"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_sdk,
        "Judge0's Python SDK is missing from .venv: run scripts/setup.sh --test"
    );
    let (stack, _judge, token) = stack_with_judge("62500").await;
    let script = system_tests::workspace_root().join("system-tests/judge0/sdk_check.py");
    let endpoint = stack.url("/judge0");
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .arg(&endpoint)
        .arg(&token)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the SDK failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("judge0 SDK: ok"));
}
