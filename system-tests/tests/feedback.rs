//! Feedback on judged submissions: the first failing *sample* shows its input, the expected
//! output, what the program printed (the first differing line marked) and how it ended; a secret
//! test shows only its verdict, time and memory — checked by programs that try to carry a secret
//! test's data out through every route (and through the results stream itself).

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use system_tests::judge::JudgeProcess;
use system_tests::{Stack, StackOptions};

const MARKERS: [&str; 2] = ["SECRETMARKER", "SECRETANSWER"];

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems")
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

async fn submit_and_wait(stack: &Stack, token: &str, problem: &str, language: &str, source: &str) -> Value {
    let r = stack
        .submit(
            token,
            &json!({"problem_id": problem, "language": language, "source": source}),
            None,
        )
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sample_shows_why_and_a_secret_test_gives_nothing_away() {
    if !system_tests::judge::sandbox_available(
        "a_failing_sample_shows_why_and_a_secret_test_gives_nothing_away",
    ) {
        return;
    }
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..StackOptions::default()
    })
    .await;
    let _judge = JudgeProcess::start(&stack.nats, Some("63000"), false);
    let admin = stack.token("admin", "admin password").await;
    stack.register("solver", "correct horse battery").await;
    let user = stack.token("solver", "correct horse battery").await;
    // A+B with one more secret test whose data is marked.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("aplusb"), dir.path());
    let leak = dir.path().join("data/secret/03-leak");
    std::fs::create_dir_all(&leak).unwrap();
    std::fs::write(leak.join("1.in"), "SECRETMARKER 1\n").unwrap();
    std::fs::write(leak.join("1.ans"), "SECRETANSWER\n").unwrap();
    let zip = problem_package::pack_zip(dir.path()).unwrap();
    let r = stack
        .http
        .post(stack.url("/api/problems?id=leaky&verify=false"))
        .bearer_auth(&admin)
        .header("content-type", "application/zip")
        .body(zip)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    stack.wait_for_language("python3").await;
    stack.wait_for_language("c").await;

    // Every update the judge publishes, as the broker holds it.
    let watcher = stack.nats.client("admin").await;
    let mut results = watcher.subscribe(common::subjects::jobs::RESULTS).await.unwrap();
    system_tests::nats::settle(&watcher).await;

    // A wrong answer on a sample: its data, what was printed, the first differing line.
    let minus = "a, b = map(int, input().split())\nprint(a - b)\n";
    let s = submit_and_wait(&stack, &user, "leaky", "python3", minus).await;
    assert_eq!(s["verdict"], "wrong_answer", "{s}");
    let first = &s["tests"][0];
    assert_eq!(first["name"], "sample/1");
    let feedback = &first["feedback"];
    assert_eq!(feedback["input"]["text"], "1 2\n", "{s}");
    assert_eq!(feedback["expected"]["text"], "3\n");
    assert_eq!(feedback["got"]["text"], "-1\n");
    assert_eq!(feedback["got"]["truncated"], false);
    assert_eq!(
        feedback["first_difference"],
        json!({"line": 1, "expected": "3", "got": "-1"})
    );

    // A runtime error on a sample: how it ended, beside the feedback.
    let s = submit_and_wait(&stack, &user, "leaky", "c", "int main(void) { return 3; }\n").await;
    assert_eq!(s["verdict"], "runtime_error", "{s}");
    assert_eq!(s["tests"][0]["exit_code"], 3, "{s}");
    assert_eq!(s["tests"][0]["feedback"]["got"]["text"], "");
    let s = submit_and_wait(
        &stack,
        &user,
        "leaky",
        "c",
        "#include <signal.h>\nint main(void) { raise(SIGSEGV); return 0; }\n",
    )
    .await;
    assert_eq!(s["tests"][0]["signal"], 11, "{s}");

    // Programs that pass the samples and then try to carry the marked secret test out: by
    // standard output (a wrong answer's message, the feedback), by standard error, by a crash.
    let leakers = [
        "import sys\nd = sys.stdin.read()\nsys.stderr.write(d)\ntry:\n    a, b = map(int, d.split())\n    print(a + b)\nexcept ValueError:\n    print(d)\n",
        "import sys\nd = sys.stdin.read()\ntry:\n    a, b = map(int, d.split())\n    print(a + b)\nexcept ValueError:\n    raise SystemExit(d)\n",
        "import sys\nd = sys.stdin.read()\ntry:\n    a, b = map(int, d.split())\n    print(a + b)\nexcept ValueError:\n    sys.exit(len(d))\n",
    ];
    let mut ids = Vec::new();
    for source in leakers {
        let s = submit_and_wait(&stack, &user, "leaky", "python3", source).await;
        let failed = s["tests"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            failed["name"], "secret/03-leak/1",
            "it reached the marked test: {s}"
        );
        assert_ne!(failed["verdict"], "accepted");
        let mut keys: Vec<_> = failed.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["index", "memory_kb", "name", "time_ms", "verdict", "wall_time_ms"],
            "a secret test shows only its verdict, time and memory: {failed}"
        );
        ids.push(s["id"].as_str().unwrap().to_owned());
        // Samples may not leak either: the run on them holds no secret test.
        let r = stack
            .http
            .post(stack.url("/api/runs?wait=true"))
            .bearer_auth(&user)
            .json(&json!({"problem_id": "leaky", "language": "python3", "source": source}))
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        for m in MARKERS {
            assert!(!text.contains(m), "POST /api/runs leaked {m}: {text}");
        }
    }

    // Every route a user (or anyone) can read.
    let mut routes = vec![
        "/api/submissions?limit=100".to_owned(),
        "/api/problems".to_owned(),
        "/api/problems/leaky".to_owned(),
        "/api/problems/leaky/statement".to_owned(),
        "/api/problems/leaky/comments".to_owned(),
    ];
    for id in &ids {
        routes.push(format!("/api/submissions/{id}"));
        routes.push(format!("/api/submissions/{id}/events"));
    }
    for route in &routes {
        let r = stack.get_auth(route, &user).await;
        let status = r.status();
        let text = tokio::time::timeout(Duration::from_secs(30), r.text())
            .await
            .unwrap_or_else(|_| panic!("{route} ends"))
            .unwrap();
        for m in MARKERS {
            assert!(!text.contains(m), "{route} ({status}) leaked {m}: {text}");
        }
    }
    // Nor does anything the judge published.
    let mut seen = 0;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(500), results.next()).await {
        seen += 1;
        let text = String::from_utf8_lossy(&msg.payload);
        for m in MARKERS {
            assert!(!text.contains(m), "the results stream carried {m}: {text}");
        }
    }
    assert!(seen > 0, "the judge's updates were watched");
}
