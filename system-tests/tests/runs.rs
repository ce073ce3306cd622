//! Runs without grading end to end: HTTP → edge → submission worker → the `RUNS` stream → a real
//! judge → the run's key-value entry → HTTP (`?wait=true`, polling) and SSE. Samples and the
//! caller's own input in several languages, a compilation error, runtime errors with their exit
//! code and signal, bad input, the per-user rate, and that a run is never a submission.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use system_tests::judge::JudgeProcess;
use system_tests::{Stack, StackOptions};

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems")
}

fn example(path: &str) -> String {
    std::fs::read_to_string(examples().join("aplusb/submissions").join(path)).unwrap()
}

/// A stack with a judge, an admin, a user `solver` and the A+B example; the user's token.
async fn stack_with_aplusb(options: StackOptions) -> (Stack, JudgeProcess, String) {
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..options
    })
    .await;
    let judge = JudgeProcess::start(&stack.nats, Some("64000"), false);
    let admin = stack.token("admin", "admin password").await;
    stack.register("solver", "correct horse battery").await;
    let user = stack.token("solver", "correct horse battery").await;
    stack.upload_example(&admin, "aplusb").await;
    for language in ["c", "cpp", "python3", "java", "javascript", "rust"] {
        stack.wait_for_language(language).await;
    }
    (stack, judge, user)
}

/// `POST /api/runs` with `query`; the status, the body and `Location`.
async fn post_run(stack: &Stack, token: &str, query: &str, body: &Value) -> (u16, Value, Option<String>) {
    let r = stack
        .http
        .post(stack.url(&format!("/api/runs{query}")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    if status >= 400 {
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    (status, r.json().await.unwrap(), location)
}

/// Runs with `?wait=true` until it is done (a slow machine may need a poll after the wait).
async fn run_done(stack: &Stack, token: &str, body: &Value) -> Value {
    let (status, run, location) = post_run(stack, token, "?wait=true", body).await;
    assert!(status == 200 || status == 202, "{status}: {run}");
    let id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(location.as_deref(), Some(format!("/api/runs/{id}").as_str()));
    if status == 200 {
        assert_eq!(run["status"], "done", "{run}");
        return run;
    }
    poll_done(stack, token, &id).await
}

async fn poll_done(stack: &Stack, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = stack.get_auth(&format!("/api/runs/{id}"), token).await;
        assert_eq!(r.status(), 200);
        let run: Value = r.json().await.unwrap();
        if run["status"] == "done" {
            return run;
        }
        assert!(Instant::now() < deadline, "run not done in time: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_samples_and_on_own_input_in_every_language() {
    if !system_tests::judge::sandbox_available("runs_on_samples_and_on_own_input_in_every_language") {
        return;
    }
    let (stack, _judge, user) = stack_with_aplusb(StackOptions::default()).await;
    for (language, path) in [
        ("c", "accepted/aplusb.c"),
        ("cpp", "accepted/aplusb.cpp"),
        ("python3", "accepted/aplusb.py"),
        ("java", "accepted/Sum.java"),
        ("javascript", "accepted/aplusb.js"),
        ("rust", "accepted/aplusb.rs"),
    ] {
        let source = example(path);
        // On the samples: each with its verdict, input, expected output and what was printed.
        let run = run_done(
            &stack,
            &user,
            &json!({"problem_id": "aplusb", "language": language, "source": source}),
        )
        .await;
        assert_eq!(run["verdict"], "accepted", "{language}: {run}");
        assert_eq!(run["problem_id"], "aplusb");
        let cases = run["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 2, "{language}: both samples, no secret test: {run}");
        assert_eq!(cases[0]["name"], "sample/1");
        assert_eq!(cases[0]["verdict"], "accepted");
        assert_eq!(cases[0]["input"]["text"], "1 2\n");
        assert_eq!(cases[0]["expected"]["text"], "3\n");
        assert_eq!(
            cases[0]["stdout"]["text"].as_str().unwrap().trim(),
            "3",
            "{language}"
        );
        assert_eq!(cases[0]["stdout"]["truncated"], false);
        assert_eq!(cases[0]["exit_code"], 0);
        assert!(cases[0]["time_ms"].is_u64() && cases[0]["memory_kb"].as_u64().unwrap() > 0);
        assert_eq!(
            cases[1]["stdout"]["text"].as_str().unwrap().trim(),
            "0",
            "{language}"
        );

        // On the caller's own input, with no problem at all.
        let run = run_done(
            &stack,
            &user,
            &json!({"language": language, "source": source, "stdin": "40 2\n"}),
        )
        .await;
        assert!(run.get("verdict").is_none(), "{language}: {run}");
        let case = &run["cases"][0];
        assert_eq!(case["name"], "stdin");
        assert!(case.get("verdict").is_none(), "ran to a normal end: {run}");
        assert_eq!(
            case["stdout"]["text"].as_str().unwrap().trim(),
            "42",
            "{language}"
        );
        assert_eq!(case["exit_code"], 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_show_why_and_runs_are_never_submissions() {
    if !system_tests::judge::sandbox_available("failures_show_why_and_runs_are_never_submissions") {
        return;
    }
    let (stack, _judge, user) = stack_with_aplusb(StackOptions::default()).await;

    // A wrong answer on the samples: what it printed beside what was expected.
    let run = run_done(
        &stack,
        &user,
        &json!({"problem_id": "aplusb", "language": "python3", "source": example("wrong_answer/minus.py")}),
    )
    .await;
    assert_eq!(run["verdict"], "wrong_answer", "{run}");
    assert_eq!(run["cases"][0]["verdict"], "wrong_answer");
    assert_eq!(run["cases"][0]["stdout"]["text"], "-1\n");
    assert_eq!(run["cases"][0]["expected"]["text"], "3\n");
    assert_eq!(run["cases"].as_array().unwrap().len(), 2, "every sample runs");

    // A compilation error: the compiler's message, no case.
    let run = run_done(
        &stack,
        &user,
        &json!({"language": "c", "source": "int main(void) { return x; }\n", "stdin": ""}),
    )
    .await;
    assert_eq!(run["verdict"], "compilation_error", "{run}");
    assert!(run["compile_output"].as_str().unwrap().contains('x'), "{run}");
    assert!(run["cases"].as_array().unwrap().is_empty());

    // Runtime errors: the exit code, the signal, and standard error.
    let run = run_done(
        &stack,
        &user,
        &json!({"language": "c", "source": example("run_time_error/exit3.c"), "stdin": "1 2\n"}),
    )
    .await;
    assert_eq!(run["cases"][0]["verdict"], "runtime_error", "{run}");
    assert_eq!(run["cases"][0]["exit_code"], 3);
    let run = run_done(
        &stack,
        &user,
        &json!({"problem_id": "aplusb", "language": "cpp", "source": example("run_time_error/segfault.cpp")}),
    )
    .await;
    assert_eq!(run["verdict"], "runtime_error", "{run}");
    assert_eq!(run["cases"][0]["signal"], 11, "SIGSEGV: {run}");
    let run = run_done(
        &stack,
        &user,
        &json!({"language": "python3", "stdin": "",
                "source": "import sys\nsys.stderr.write('e' * 100000)\nprint('x' * 100000)\n"}),
    )
    .await;
    let case = &run["cases"][0];
    assert_eq!(case["stdout"]["truncated"], true, "{run}");
    assert_eq!(case["stderr"]["truncated"], true);
    assert!(case["stdout"]["text"].as_str().unwrap().len() <= 64 * 1024);
    assert!(case["stderr"]["text"].as_str().unwrap().starts_with("eeee"));

    // A time limit on one's own input is the judges' default limit.
    let run = run_done(
        &stack,
        &user,
        &json!({"language": "c", "source": example("time_limit_exceeded/spin.c"), "stdin": "1 2\n"}),
    )
    .await;
    assert_eq!(run["cases"][0]["verdict"], "time_limit_exceeded", "{run}");

    // None of these is a submission.
    let listed: Value = stack
        .get_auth("/api/submissions", &user)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]), "runs are never submissions: {listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_followed_over_sse_and_kept_from_others() {
    if !system_tests::judge::sandbox_available("a_run_followed_over_sse_and_kept_from_others") {
        return;
    }
    let (stack, _judge, user) = stack_with_aplusb(StackOptions::default()).await;
    stack.register("other", "correct horse battery").await;
    let other = stack.token("other", "correct horse battery").await;

    for (language, path) in [("python3", "accepted/aplusb.py"), ("cpp", "accepted/aplusb.cpp")] {
        let (status, accepted, location) = post_run(
            &stack,
            &user,
            "",
            &json!({"problem_id": "aplusb", "language": language, "source": example(path)}),
        )
        .await;
        assert_eq!(status, 202, "{accepted}");
        assert_eq!(accepted["status"], "queued");
        let id = accepted["id"].as_str().unwrap().to_owned();
        assert_eq!(location.unwrap(), format!("/api/runs/{id}"));
        let r = stack.get_auth(&format!("/api/runs/{id}/events"), &user).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let text = tokio::time::timeout(Duration::from_secs(120), r.text())
            .await
            .expect("the stream ends after the run is done")
            .unwrap();
        let events: Vec<Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| serde_json::from_str(d.trim()).unwrap())
            .collect();
        let last = events.last().expect("at least one event");
        assert_eq!(last["status"], "done", "{text}");
        assert_eq!(last["verdict"], "accepted", "{language}: {last}");
        assert_eq!(last["cases"][1]["stdout"]["text"].as_str().unwrap().trim(), "0");
        let order = ["queued", "compiling", "running", "done"];
        let ranks: Vec<usize> = events
            .iter()
            .map(|e| order.iter().position(|s| e["status"] == *s).unwrap())
            .collect();
        assert!(
            ranks.windows(2).all(|w| w[0] <= w[1]),
            "never backwards: {ranks:?}"
        );

        // Someone else cannot see it, by any route.
        for path in [format!("/api/runs/{id}"), format!("/api/runs/{id}/events")] {
            let r = stack.get_auth(&path, &other).await;
            assert_eq!(r.status(), 404, "{path}");
        }
        // A finished run's stream is its final state.
        let r = stack.get_auth(&format!("/api/runs/{id}/events"), &user).await;
        let text = r.text().await.unwrap();
        assert_eq!(text.matches("data:").count(), 1, "{text}");
    }
    for path in ["/api/runs/not-a-run", "/api/runs/*", "/api/runs/%3E/events"] {
        let r = stack.get_auth(path, &user).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = stack
        .get_auth("/api/runs/0190e1c4-1b7a-7000-8000-000000000000", &user)
        .await;
    assert_eq!(r.status(), 404, "an unknown run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_runs_are_refused_by_name_and_the_rate_is_per_user() {
    // No judge needed: every refusal comes before the queue.
    let stack = Stack::start(StackOptions {
        runs_per_minute: 2,
        body_limit: 256 * 1024,
        ..StackOptions::default()
    })
    .await;
    let _languages = system_tests::stack::advertise_languages(&stack.nats, &["python3"]).await;
    stack.wait_for_language("python3").await;
    stack.register("solver", "correct horse battery").await;
    let user = stack.token("solver", "correct horse battery").await;
    let field = |v: &Value| -> Vec<String> {
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    };
    for (body, fields) in [
        (json!({"language": "python3"}), vec!["source"]),
        (json!({"source": "print(1)"}), vec!["language"]),
        (
            json!({"language": "cobol", "source": "x", "stdin": ""}),
            vec!["language"],
        ),
        (
            json!({"language": "python3", "source": "x", "problem_id": "nope"}),
            vec!["problem_id"],
        ),
        (
            json!({"language": "python3", "source": "x", "stdin": 5}),
            vec!["stdin"],
        ),
        (
            json!({"language": "python3", "source": "x", "stdin": "a".repeat(70_000)}),
            vec!["stdin"],
        ),
        (json!({"language": {"$gt": ""}, "source": "x"}), vec!["language"]),
        (
            json!({"language": "python3", "source": "x", "extra": 1}),
            vec!["extra"],
        ),
    ] {
        let (status, problem, _) = post_run(&stack, &user, "", &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(field(&problem), fields, "{problem}");
    }
    let (status, problem, _) = post_run(&stack, &user, "?wait=maybe", &json!({})).await;
    assert_eq!((status, field(&problem)), (422, vec!["wait".to_owned()]));
    let r = stack
        .http
        .post(stack.url("/api/runs"))
        .json(&json!({"language": "python3", "source": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "runs need a user");

    // Two a minute: the third is refused with Retry-After; another user is not affected.
    let body = json!({"language": "python3", "source": "print(1)", "stdin": ""});
    for _ in 0..2 {
        assert_eq!(post_run(&stack, &user, "", &body).await.0, 202);
    }
    let r = stack
        .http
        .post(stack.url("/api/runs"))
        .bearer_auth(&user)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    stack.register("other", "correct horse battery").await;
    let other = stack.token("other", "correct horse battery").await;
    assert_eq!(post_run(&stack, &other, "", &body).await.0, 202);
}
