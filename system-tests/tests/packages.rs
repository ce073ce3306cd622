//! Packages as setters ship them, through the whole stack: uploaded over HTTP, their statements
//! served in their own formats, their submissions judged by a real judge.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use system_tests::judge::JudgeProcess;
use system_tests::{Stack, StackOptions};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

async fn stack_with_admin() -> (Stack, String, String) {
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..StackOptions::default()
    })
    .await;
    let admin = stack.token("admin", "admin password").await;
    stack.register("setter", "correct horse battery").await;
    let user = stack.token("setter", "correct horse battery").await;
    (stack, admin, user)
}

async fn upload(stack: &Stack, token: &str, dir: &Path, id: &str) -> (u16, Value) {
    let zip = problem_package::pack_zip(dir).unwrap();
    let r = stack
        .http
        .post(stack.url(&format!("/api/problems?id={id}")))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(zip)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// `GET /api/problems/{id}/statement{query}`: status, content type, body.
async fn statement(stack: &Stack, id: &str, query: &str) -> (u16, String, Vec<u8>) {
    let r = stack
        .http
        .get(stack.url(&format!("/api/problems/{id}/statement{query}")))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    (status, content_type, r.bytes().await.unwrap().to_vec())
}

async fn judged(stack: &Stack, token: &str, problem: &str, language: &str, source: &str) -> Value {
    let r = stack
        .submit(
            token,
            &json!({"problem_id": problem, "language": language, "source": source}),
            None,
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(90);
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

/// DOMjudge's flavour: `problem.pdf` at the root, `domjudge-problem.ini` naming the problem and
/// its time limit, sample data only. Accepted with warnings, its PDF served as a PDF, judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domjudge_package_with_a_pdf_and_samples_only_is_served_and_judged() {
    if !system_tests::judge::sandbox_available(
        "a_domjudge_package_with_a_pdf_and_samples_only_is_served_and_judged",
    ) {
        return;
    }
    let (stack, admin, user) = stack_with_admin().await;
    let _judge = JudgeProcess::start(&stack.nats, Some("65400"), false);
    stack.wait_for_language("c").await;
    stack.wait_for_language("python3").await;
    let dir = examples().join("domjudge/hello");
    let (status, p) = upload(&stack, &admin, &dir, "hello").await;
    assert_eq!(status, 201, "{p}");
    // Its own submissions are judged through the pipeline; the first version is in use meanwhile.
    assert_eq!(p["version"], 1, "{p}");
    assert_eq!(
        p["latest"],
        json!({"version": 1, "verification": "running"}),
        "{p}"
    );
    let report = stack
        .verification(&admin, "hello", 1, Duration::from_secs(120))
        .await;
    assert_eq!(report["verification"], "passed", "{report:#}");
    assert_eq!(
        (report["total"].as_u64(), report["judged"].as_u64()),
        (Some(3), Some(3)),
        "{report:#}"
    );
    let got: Vec<(&str, &str)> = report["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["path"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("submissions/accepted/hello.c", "accepted"),
            ("submissions/accepted/hello.py", "accepted"),
            ("submissions/wrong_answer/goodbye.py", "wrong_answer"),
        ],
        "{report:#}"
    );
    assert!(report["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["agrees"] == true && c["time_ms"].is_u64()));
    assert_eq!(
        p["name"], "Hello World",
        "the name comes from domjudge-problem.ini"
    );
    assert_eq!(p["limits"]["time_limit_ms"], 2000);
    assert_eq!(p["limits"]["time_limit_source"], "domjudge_ini");
    let statements = p["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{p}");
    assert_eq!(
        (
            &statements[0]["format"],
            &statements[0]["path"],
            &statements[0]["content"]
        ),
        (&json!("pdf"), &json!("problem.pdf"), &json!(""))
    );
    let warnings = p["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("samples only")),
        "{p}"
    );

    // The PDF, byte for byte, as a PDF; twice (the second from the worker's cache).
    let pdf = std::fs::read(dir.join("problem.pdf")).unwrap();
    for _ in 0..2 {
        let (status, content_type, body) = statement(&stack, "hello", "").await;
        assert_eq!((status, content_type.as_str()), (200, "application/pdf"));
        assert_eq!(body, pdf);
    }
    let (status, content_type, body) = statement(&stack, "hello", "?format=markdown").await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "application/problem+json");
    let (status, _, body) = statement(&stack, "hello", "?format=docx").await;
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, &problem["errors"][0]["field"]),
        (422, &json!("format")),
        "{problem}"
    );
    let (status, _, _) = statement(&stack, "nosuch", "").await;
    assert_eq!(status, 404);

    // Judged on the samples, in two languages.
    let subs = dir.join("submissions");
    for (file, language, verdict) in [
        ("accepted/hello.c", "c", "accepted"),
        ("accepted/hello.py", "python3", "accepted"),
        ("wrong_answer/goodbye.py", "python3", "wrong_answer"),
    ] {
        let source = std::fs::read_to_string(subs.join(file)).unwrap();
        let s = judged(&stack, &user, "hello", language, &source).await;
        assert_eq!(s["verdict"], verdict, "{file}: {s}");
        assert_eq!(s["tests"].as_array().map(Vec::len), Some(1), "{file}: {s}");
    }
}

/// Every statement format is served as itself; a package that cannot be judged is refused with
/// every reason at once, and one that merely lacks a statement is accepted with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_are_served_in_their_own_formats_and_only_unjudgeable_packages_are_refused() {
    let (stack, admin, _user) = stack_with_admin().await;
    let (status, p) = upload(&stack, &admin, &examples().join("problems/aplusb"), "aplusb").await;
    assert_eq!(status, 201, "{p}");
    let (status, content_type, body) = statement(&stack, "aplusb", "").await;
    assert_eq!(status, 200);
    let own = &p["statements"][0];
    let media = match own["format"].as_str().unwrap() {
        "markdown" => "text/markdown; charset=utf-8",
        "latex" => "application/x-tex; charset=utf-8",
        other => panic!("unexpected format {other}"),
    };
    assert_eq!(content_type, media);
    assert_eq!(String::from_utf8(body).unwrap(), own["content"].as_str().unwrap());

    let bare = tempfile::tempdir().unwrap();
    let root = bare.path();
    std::fs::create_dir_all(root.join("data/secret")).unwrap();
    std::fs::write(root.join("problem.yaml"), "name: Bare\n").unwrap();
    std::fs::write(root.join("data/secret/1.in"), "1\n").unwrap();
    std::fs::write(root.join("data/secret/1.ans"), "1\n").unwrap();
    std::fs::write(root.join("problem.txt"), "Echo the number.\n").unwrap();
    let (status, p) = upload(&stack, &admin, root, "bare").await;
    assert_eq!(status, 201, "{p}");
    let (status, content_type, body) = statement(&stack, "bare", "?language=en&format=text").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/plain; charset=utf-8")
    );
    assert_eq!(body, b"Echo the number.\n");
    std::fs::remove_file(root.join("problem.txt")).unwrap();
    let (status, p) = upload(&stack, &admin, root, "bare").await;
    assert_eq!(status, 201, "{p}");
    assert!(p["warnings"][0].as_str().unwrap().contains("no statement"), "{p}");
    assert_eq!(statement(&stack, "bare", "").await.0, 404);

    std::fs::write(
        root.join("problem.yaml"),
        "limits:\n  memory: lots\nvalidator_flags: nonsense\n",
    )
    .unwrap();
    std::fs::remove_file(root.join("data/secret/1.ans")).unwrap();
    let (status, p) = upload(&stack, &admin, root, "bare").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid_package")),
        "{p}"
    );
    let reasons = p["errors"].to_string();
    for needle in ["limits.memory", "has no .ans", "no test cases"] {
        assert!(reasons.contains(needle), "missing {needle:?} in {reasons}");
    }
}

/// A legacy package with no time limit whose accepted solution runs for about a second: the judge
/// derives the limit from the package's accepted submissions (as problemtools does: the slowest
/// × 5, rounded up to whole seconds) instead of applying a fixed 1 s default, so the slow but
/// correct solution is accepted and the hopeless one still runs out of time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_without_a_time_limit_is_judged_under_the_derived_one() {
    if !system_tests::judge::sandbox_available(
        "a_package_without_a_time_limit_is_judged_under_the_derived_one",
    ) {
        return;
    }
    let (stack, admin, user) = stack_with_admin().await;
    let _judge = JudgeProcess::start(&stack.nats, Some("65410"), false);
    stack.wait_for_language("c").await;
    stack.wait_for_language("python3").await;
    let dir = examples().join("problems/lcg");
    let (status, p) = upload(&stack, &admin, &dir, "lcg").await;
    assert_eq!(status, 201, "{p}");
    // Verified through the pipeline under the derived limit: the slow accepted one passes, the
    // hopeless one runs out of time.
    let report = stack
        .verification(&admin, "lcg", 1, Duration::from_secs(180))
        .await;
    assert_eq!(report["verification"], "passed", "{report:#}");
    let verdict_of = |path: &str| {
        report["submissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == path)
            .map(|c| c["verdict"].clone())
    };
    assert_eq!(
        verdict_of("submissions/accepted/jump.py"),
        Some(json!("accepted")),
        "{report:#}"
    );
    assert_eq!(
        verdict_of("submissions/time_limit_exceeded/naive.py"),
        Some(json!("time_limit_exceeded")),
        "{report:#}"
    );
    let subs = dir.join("submissions");
    for (file, language, verdict) in [
        ("accepted/lcg.c", "c", "accepted"),
        ("time_limit_exceeded/naive.py", "python3", "time_limit_exceeded"),
    ] {
        let source = std::fs::read_to_string(subs.join(file)).unwrap();
        let s = judged(&stack, &user, "lcg", language, &source).await;
        assert_eq!(s["verdict"], verdict, "{file}: {s}");
        if verdict == "accepted" {
            assert!(
                s["run_time_ms"].as_u64().unwrap() >= 300,
                "lcg.c runs for about a second here: {s}"
            );
        }
    }
}
