//! Problems beyond pass-fail batch ones, end to end: uploaded through the API, judged by the real
//! judge through NATS, read back from the record, the SSE stream and the listing.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use system_tests::judge::JudgeProcess;
use system_tests::{Stack, StackOptions};

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems")
}

/// A stack with an admin and a user, the judge started and `problems` uploaded and verified (each
/// package's own submissions judged through the stack, and agreeing); returns the user's token.
async fn stack_with(problems: &[&str], uid_base: &str) -> (Stack, JudgeProcess, String) {
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..StackOptions::default()
    })
    .await;
    let judge = JudgeProcess::start(&stack.nats, Some(uid_base), false);
    for language in ["c", "python3"] {
        stack.wait_for_language(language).await;
    }
    let admin = stack.token("admin", "admin password").await;
    stack.register("solver", "correct horse battery").await;
    let user = stack.token("solver", "correct horse battery").await;
    for name in problems {
        let zip = problem_package::pack_zip(&examples().join(name)).unwrap();
        let r = stack
            .http
            .post(stack.url(&format!("/api/problems?id={name}")))
            .bearer_auth(&admin)
            .header("content-type", "application/zip")
            .body(zip)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 201, "{name}: {}", r.text().await.unwrap());
    }
    for name in problems {
        let report = stack
            .verification(&admin, name, 1, Duration::from_secs(180))
            .await;
        assert_eq!(report["verification"], "passed", "{name}: {report:#}");
        assert!(report["judged"].as_u64() >= Some(2), "{name}: {report:#}");
    }
    (stack, judge, user)
}

/// Submits `problem`'s example `path` (below its `submissions/`); returns the new id.
async fn submit(stack: &Stack, token: &str, problem: &str, path: &str, language: &str) -> String {
    let source = std::fs::read_to_string(examples().join(problem).join("submissions").join(path)).unwrap();
    let r = stack
        .submit(
            token,
            &json!({"problem_id": problem, "language": language, "source": source}),
            None,
        )
        .await;
    let status = r.status().as_u16();
    let created: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{problem}/{path}: {created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn wait_judged(stack: &Stack, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s: Value = stack
            .get_auth(&format!("/api/submissions/{id}"), token)
            .await
            .json()
            .await
            .unwrap();
        if s["status"] == "judged" {
            return s;
        }
        assert!(Instant::now() < deadline, "not judged in time: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last event of a judged submission's stream.
async fn last_event(stack: &Stack, token: &str, id: &str) -> Value {
    let r = stack
        .http
        .get(stack.url(&format!("/api/submissions/{id}/events")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = tokio::time::timeout(Duration::from_secs(30), r.text())
        .await
        .expect("the stream ends")
        .unwrap();
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str::<Value>(d.trim()).unwrap())
        .expect("an event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoring_problem_reports_its_score_everywhere() {
    if !system_tests::judge::sandbox_available("a_scoring_problem_reports_its_score_everywhere") {
        return;
    }
    let (stack, _judge, user) = stack_with(&["triangular"], "65700").await;
    let partial = submit(&stack, &user, "triangular", "partially_accepted/overflow.c", "c").await;
    let full = submit(&stack, &user, "triangular", "accepted/formula.py", "python3").await;
    let none = submit(&stack, &user, "triangular", "wrong_answer/zero.py", "python3").await;

    let record = wait_judged(&stack, &user, &partial).await;
    assert_eq!(record["verdict"], "partially_accepted", "{record}");
    assert_eq!(record["score"].as_f64(), Some(60.0));
    assert_eq!(record["max_score"].as_f64(), Some(100.0));
    let groups = record["groups"].as_array().expect("groups in the record");
    let summary: Vec<(&str, &str, f64)> = groups
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap(),
                g["verdict"].as_str().unwrap(),
                g["score"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("secret", "wrong_answer", 60.0),
            ("secret/1-small", "accepted", 30.0),
            ("secret/2-medium", "accepted", 30.0),
            ("secret/3-large", "wrong_answer", 0.0),
        ]
    );
    let event = last_event(&stack, &user, &partial).await;
    assert_eq!(event["status"], "judged");
    assert_eq!(event["verdict"], "partially_accepted");
    assert_eq!(
        (event["score"].as_f64(), event["max_score"].as_f64()),
        (Some(60.0), Some(100.0))
    );
    assert_eq!(event["groups"].as_array().map(Vec::len), Some(4));

    let record = wait_judged(&stack, &user, &full).await;
    assert_eq!(record["verdict"], "accepted");
    assert_eq!(record["score"].as_f64(), Some(100.0));
    let record = wait_judged(&stack, &user, &none).await;
    assert_eq!(record["verdict"], "wrong_answer");
    assert_eq!(record["score"].as_f64(), Some(0.0));

    let listed: Value = stack
        .get_auth("/api/submissions?problem_id=triangular&limit=10", &user)
        .await
        .json()
        .await
        .unwrap();
    let item = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == partial.as_str())
        .expect("listed");
    assert_eq!(item["score"].as_f64(), Some(60.0));
    assert_eq!(item["max_score"].as_f64(), Some(100.0));
    assert_eq!(item["groups"].as_array().map(Vec::len), Some(4));
    assert!(item.get("tests").is_none(), "lists leave the tests out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_and_multi_pass_problems_through_the_stack() {
    if !system_tests::judge::sandbox_available("interactive_and_multi_pass_problems_through_the_stack") {
        return;
    }
    let (stack, _judge, user) = stack_with(&["guess", "twopass"], "65710").await;
    let cases = [
        ("guess", "accepted/bisect.py", "python3", "accepted"),
        ("guess", "wrong_answer/count_down.c", "c", "wrong_answer"),
        ("guess", "run_time_error/crash.py", "python3", "runtime_error"),
        ("twopass", "accepted/letters.c", "c", "accepted"),
        ("twopass", "wrong_answer/forgets.py", "python3", "wrong_answer"),
    ];
    let mut ids = Vec::new();
    for (problem, path, language, _) in cases {
        ids.push(submit(&stack, &user, problem, path, language).await);
    }
    for ((problem, path, _, verdict), id) in cases.iter().zip(&ids) {
        let record = wait_judged(&stack, &user, id).await;
        assert_eq!(record["verdict"], *verdict, "{problem}/{path}: {record}");
        if *verdict == "accepted" {
            let tests = record["tests"].as_array().expect("tests");
            assert!(tests.iter().all(|t| t["verdict"] == "accepted"), "{record}");
        }
    }
    let event = last_event(&stack, &user, &ids[0]).await;
    assert_eq!(event["verdict"], "accepted");
}
