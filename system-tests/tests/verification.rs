//! Verification at upload, through the whole stack: a package's own submissions are judged by a
//! real judge behind new submissions; a version whose submissions disagree is held back (the
//! version before stays in use, or — for a problem's only version — new submissions are refused)
//! until an admin activates it.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use system_tests::judge::JudgeProcess;
use system_tests::{Stack, StackOptions};

/// A small echo problem: the answer is the input. `accepted` and `wrong_answer` hold Python
/// sources for those folders; `extra` is a file with a name no language has.
fn package(dir: &Path, statement: &str, accepted: &str, wrong: &str) {
    std::fs::create_dir_all(dir.join("data/sample")).unwrap();
    std::fs::create_dir_all(dir.join("data/secret")).unwrap();
    std::fs::create_dir_all(dir.join("submissions/accepted")).unwrap();
    std::fs::create_dir_all(dir.join("submissions/wrong_answer")).unwrap();
    std::fs::write(dir.join("domjudge-problem.ini"), "name='Echo'\ntimelimit='2'\n").unwrap();
    std::fs::write(dir.join("problem.yaml"), "limits:\n  memory: 256\n").unwrap();
    std::fs::write(dir.join("problem.txt"), statement).unwrap();
    std::fs::write(dir.join("data/sample/1.in"), "7\n").unwrap();
    std::fs::write(dir.join("data/sample/1.ans"), "7\n").unwrap();
    std::fs::write(dir.join("data/secret/2.in"), "42\n").unwrap();
    std::fs::write(dir.join("data/secret/2.ans"), "42\n").unwrap();
    std::fs::write(dir.join("submissions/accepted/echo.py"), accepted).unwrap();
    std::fs::write(dir.join("submissions/wrong_answer/off.py"), wrong).unwrap();
    std::fs::write(dir.join("submissions/accepted/notes.xyz"), "not a program\n").unwrap();
}

const ECHO: &str = "print(input())\n";
const OFF_BY_ONE: &str = "print(int(input()) + 1)\n";

async fn upload(stack: &Stack, token: &str, dir: &Path, query: &str) -> (u16, Option<String>, Value) {
    let r = stack
        .http
        .post(stack.url(&format!("/api/problems{query}")))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(problem_package::pack_zip(dir).unwrap())
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (r.status().as_u16(), location, r.json().await.unwrap())
}

/// Submits the echo solution as `token` and returns the answer's status and body.
async fn submit(stack: &Stack, token: &str, problem: &str) -> (u16, Value) {
    let r = stack
        .submit(
            token,
            &json!({"problem_id": problem, "language": "python3", "source": ECHO}),
            None,
        )
        .await;
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The version a submission records.
async fn recorded_version(stack: &Stack, token: &str, id: &str) -> Value {
    let s: Value = stack
        .get_auth(&format!("/api/submissions/{id}"), token)
        .await
        .json()
        .await
        .unwrap();
    s["problem_version"].clone()
}

async fn post_admin(stack: &Stack, token: &str, path: &str) -> (u16, Value) {
    let r = stack
        .http
        .post(stack.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_is_verified_at_upload_and_held_back_when_its_submissions_disagree() {
    if !system_tests::judge::sandbox_available(
        "a_package_is_verified_at_upload_and_held_back_when_its_submissions_disagree",
    ) {
        return;
    }
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..StackOptions::default()
    })
    .await;
    let admin = stack.token("admin", "admin password").await;
    stack.register("solver", "correct horse battery").await;
    let user = stack.token("solver", "correct horse battery").await;
    let _judge = JudgeProcess::start(&stack.nats, Some("65600"), false);
    stack.wait_for_language("python3").await;
    let settle = Duration::from_secs(120);

    // Version 1: in use at once (there is no other), its own submissions judged behind it.
    let dir = tempfile::tempdir().unwrap();
    package(dir.path(), "Echo the number.\n", ECHO, OFF_BY_ONE);
    let (status, location, p) = upload(&stack, &admin, dir.path(), "?id=echo").await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(location.as_deref(), Some("/api/problems/echo/versions/1"));
    assert_eq!(
        (p["version"].as_u64(), &p["latest"]),
        (Some(1), &json!({"version": 1, "verification": "running"}))
    );
    let report = stack.verification(&admin, "echo", 1, settle).await;
    assert_eq!(report["verification"], "passed", "{report:#}");
    assert_eq!(report["active"], true, "{report:#}");
    let checks = report["submissions"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{report:#}");
    for c in checks {
        assert_eq!(
            (&c["status"], &c["agrees"], &c["language"]),
            (&json!("judged"), &json!(true), &json!("python3")),
            "{c}"
        );
        assert!(c["time_ms"].is_u64() && c["memory_kb"].is_u64(), "{c}");
    }
    assert!(
        report["warnings"]
            .to_string()
            .contains("submissions/accepted/notes.xyz"),
        "a file no language has is named: {report:#}"
    );
    let one: Value = stack.get_json("/api/problems/echo").await;
    assert_eq!(
        one["latest"],
        json!({"version": 1, "verification": "passed"}),
        "{one}"
    );

    // Only admins see versions; a version that does not exist is 404; a bad flag is 422.
    assert_eq!(
        stack
            .get_auth("/api/problems/echo/versions", &user)
            .await
            .status(),
        403
    );
    assert_eq!(
        stack
            .get_auth("/api/problems/echo/versions/9", &admin)
            .await
            .status(),
        404
    );
    assert_eq!(
        stack
            .get_auth("/api/problems/echo/versions/one", &admin)
            .await
            .status(),
        404
    );
    assert_eq!(
        post_admin(&stack, &user, "/api/problems/echo/versions/1/activate")
            .await
            .0,
        403
    );
    assert_eq!(
        post_admin(&stack, &admin, "/api/problems/echo/versions/7/activate")
            .await
            .0,
        404
    );
    let (status, _, p) = upload(&stack, &admin, dir.path(), "?id=echo&verify=maybe").await;
    assert_eq!((status, &p["errors"][0]["field"]), (422, &json!("verify")), "{p}");

    // Version 2's "accepted" solution is wrong: while it is verified and after it failed, new
    // submissions stay on version 1.
    package(dir.path(), "Echo the number, please.\n", OFF_BY_ONE, OFF_BY_ONE);
    let (status, location, p) = upload(&stack, &admin, dir.path(), "?id=echo").await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(location.as_deref(), Some("/api/problems/echo/versions/2"));
    assert_eq!(
        (p["version"].as_u64(), &p["latest"]),
        (Some(1), &json!({"version": 2, "verification": "running"}))
    );
    let (status, during) = submit(&stack, &user, "echo").await;
    assert_eq!(status, 202, "{during}");
    let report = stack.verification(&admin, "echo", 2, settle).await;
    assert_eq!(
        (&report["verification"], &report["active"], &report["disagreeing"]),
        (&json!("failed"), &json!(false), &json!(1)),
        "{report:#}"
    );
    let bad = report["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "submissions/accepted/echo.py")
        .unwrap();
    assert_eq!(
        (&bad["verdict"], &bad["agrees"], &bad["expected"]),
        (&json!("wrong_answer"), &json!(false), &json!(["accepted"])),
        "{bad}"
    );
    let one: Value = stack.get_json("/api/problems/echo").await;
    assert_eq!(
        (one["version"].as_u64(), &one["latest"]),
        (Some(1), &json!({"version": 2, "verification": "failed"})),
        "{one}"
    );
    assert_eq!(
        one["statements"][0]["content"], "Echo the number.\n",
        "users still see version 1: {one}"
    );
    let (status, after) = submit(&stack, &user, "echo").await;
    assert_eq!(status, 202, "{after}");
    for s in [&during, &after] {
        assert_eq!(
            recorded_version(&stack, &user, s["id"].as_str().unwrap()).await,
            1,
            "{s}"
        );
    }

    // The same bytes again are that version, not a new one.
    let (status, _, p) = upload(&stack, &admin, dir.path(), "?id=echo").await;
    assert_eq!((status, &p["latest"]["version"]), (200, &json!(2)), "{p}");

    // An admin activates version 2 anyway; then rolls back to 1.
    let (status, p) = post_admin(&stack, &admin, "/api/problems/echo/versions/2/activate").await;
    assert_eq!((status, p["version"].as_u64()), (200, Some(2)), "{p}");
    let (_, s) = submit(&stack, &user, "echo").await;
    assert_eq!(
        recorded_version(&stack, &user, s["id"].as_str().unwrap()).await,
        2,
        "{s}"
    );
    let (status, p) = post_admin(&stack, &admin, "/api/problems/echo/versions/1/activate").await;
    assert_eq!((status, p["version"].as_u64()), (200, Some(1)), "{p}");

    // Version 3 is fixed: it passes and is put in use by its verification.
    package(dir.path(), "Echo the number, fixed.\n", ECHO, OFF_BY_ONE);
    let (status, _, p) = upload(&stack, &admin, dir.path(), "?id=echo").await;
    assert_eq!((status, p["version"].as_u64()), (201, Some(1)), "{p}");
    // Watched live: the report as it stands, then each change, ending with the settled one.
    let r = stack
        .get_auth("/api/problems/echo/versions/3/events", &admin)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(settle, r.text())
        .await
        .expect("the stream ends")
        .unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect();
    assert!(events.len() >= 2, "{text}");
    assert_eq!(events[0]["verification"], "running", "{text}");
    assert_eq!(events.last().unwrap()["verification"], "passed", "{text}");
    let judged: Vec<u64> = events.iter().map(|e| e["judged"].as_u64().unwrap()).collect();
    assert!(
        judged.windows(2).all(|w| w[0] <= w[1]),
        "judged only grows: {judged:?}"
    );
    assert_eq!(
        stack
            .get_auth("/api/problems/echo/versions/3/events", &user)
            .await
            .status(),
        403
    );
    let report = stack.verification(&admin, "echo", 3, settle).await;
    assert_eq!(
        (&report["verification"], &report["activated_by"]),
        (&json!("passed"), &json!("verification")),
        "{report:#}"
    );
    let one: Value = stack.get_json("/api/problems/echo").await;
    assert_eq!(one["version"], 3, "{one}");

    // Every version, newest first, one in use.
    let list: Value = stack
        .get_auth("/api/problems/echo/versions", &admin)
        .await
        .json()
        .await
        .unwrap();
    let rows: Vec<(u64, &str, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["verification"].as_str().unwrap(),
                v["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [(3, "passed", true), (2, "failed", false), (1, "passed", false)],
        "{list:#}"
    );

    // A problem whose only version disagrees is held: new submissions are refused until an admin
    // activates it.
    let other = tempfile::tempdir().unwrap();
    package(other.path(), "Echo.\n", OFF_BY_ONE, ECHO);
    let (status, _, p) = upload(&stack, &admin, other.path(), "?id=shaky").await;
    assert_eq!(status, 201, "{p}");
    let report = stack.verification(&admin, "shaky", 1, settle).await;
    assert_eq!(
        (&report["verification"], &report["disagreeing"]),
        (&json!("failed"), &json!(2)),
        "{report:#}"
    );
    let one: Value = stack.get_json("/api/problems/shaky").await;
    assert_eq!(one["held"], true, "{one}");
    let (status, p) = submit(&stack, &user, "shaky").await;
    assert_eq!((status, &p["code"]), (409, &json!("problem_held")), "{p}");
    let (status, p) = post_admin(&stack, &admin, "/api/problems/shaky/versions/1/activate").await;
    assert_eq!((status, &p["held"]), (200, &Value::Null), "{p}");
    assert_eq!(submit(&stack, &user, "shaky").await.0, 202);

    // `verify=false`: nothing judged, in use at once.
    package(other.path(), "Echo!\n", ECHO, OFF_BY_ONE);
    let (status, _, p) = upload(&stack, &admin, other.path(), "?id=shaky&verify=false").await;
    assert_eq!(
        (status, p["version"].as_u64(), &p["latest"]["verification"]),
        (201, Some(2), &json!("skipped")),
        "{p}"
    );
    let report = stack.verification(&admin, "shaky", 2, settle).await;
    assert_eq!(
        (&report["total"], &report["submissions"]),
        (&json!(0), &json!([])),
        "{report:#}"
    );
}

/// An upload that stopped half-way (its worker died between the version record and the problem
/// write) never stays `running`: once it is older than a minute the sweep removes it with its
/// checks when the problem was never written, and finishes it when only the last mark was lost;
/// a younger one is left to its upload. Checks whose publishing was lost are sent again, and
/// those of a version never stored are removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_stopped_half_way_is_removed_or_finished_never_left_running() {
    use mongodb::bson::{doc, Document};
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..StackOptions::default()
    })
    .await;
    let admin = stack.token("admin", "admin password").await;
    let dir = tempfile::tempdir().unwrap();
    package(dir.path(), "Echo the number.\n", ECHO, OFF_BY_ONE);
    for id in ["echo", "other"] {
        let (status, _, p) = upload(&stack, &admin, dir.path(), &format!("?id={id}&verify=false")).await;
        assert_eq!(status, 201, "{p}");
    }
    let db = stack.mongo.database().await;
    let versions = db.collection::<Document>(submission_worker::store::PROBLEM_VERSIONS);
    let checks = db.collection::<Document>(submission_worker::store::PACKAGED_CHECKS);
    let first = versions
        .find_one(doc! {"_id": "echo:1"})
        .await
        .unwrap()
        .expect("version 1 is stored");
    assert!(
        !first.contains_key("unfinished_ms"),
        "a whole upload is finished: {first}"
    );

    // What dead uploads leave: version 2 with one of its two checks (the problem never written),
    // and version 3 just begun; and, for `other`, a version whose last mark was lost.
    let now = chrono::Utc::now().timestamp_millis();
    let half_written = |version: i64, uploaded_ms: i64| {
        let mut d = first.clone();
        d.insert("_id", format!("echo:{version}"));
        d.insert("version", version);
        d.insert("verification", "running");
        d.insert("total", 2);
        d.insert("uploaded_ms", uploaded_ms);
        d.insert("unfinished_ms", uploaded_ms);
        d
    };
    versions.insert_one(half_written(2, now - 120_000)).await.unwrap();
    versions.insert_one(half_written(3, now)).await.unwrap();
    let check = doc! {
        "_id": "verify:echo:2:0", "version_key": "echo:2", "index": 0, "path": "submissions/accepted/echo.py",
        "language": "python3", "expected": ["accepted"], "source": ECHO, "status": "queued",
        "outbox": "pending", "created_ms": now - 120_000,
    };
    checks.insert_one(check.clone()).await.unwrap();
    // And checks whose publishing was lost: two of the finished `echo:1`, sent again together,
    // and one whose version was never stored, removed.
    for (id, key) in [
        ("verify:echo:1:8", "echo:1"),
        ("verify:echo:1:9", "echo:1"),
        ("verify:gone:1:0", "gone:1"),
    ] {
        let mut lost = check.clone();
        lost.insert("_id", id);
        lost.insert("version_key", key);
        checks.insert_one(lost).await.unwrap();
    }
    versions
        .update_one(
            doc! {"_id": "other:1"},
            doc! {"$set": {"unfinished_ms": now - 120_000, "uploaded_ms": now - 120_000}},
        )
        .await
        .unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let gone = versions.find_one(doc! {"_id": "echo:2"}).await.unwrap().is_none();
        let other = versions.find_one(doc! {"_id": "other:1"}).await.unwrap().unwrap();
        let resent = checks
            .count_documents(doc! {"version_key": "echo:1", "outbox": "done", "_id": {"$in": ["verify:echo:1:8", "verify:echo:1:9"]}})
            .await
            .unwrap();
        let orphan = checks.find_one(doc! {"_id": "verify:gone:1:0"}).await.unwrap();
        if gone && !other.contains_key("unfinished_ms") && resent == 2 && orphan.is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep left work undone: echo:2 gone {gone}, other:1 {other}, lost checks sent again {resent} of 2, orphan {orphan:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        checks
            .find_one(doc! {"version_key": "echo:2"})
            .await
            .unwrap()
            .is_none(),
        "its checks go with it"
    );
    assert!(
        versions.find_one(doc! {"_id": "echo:3"}).await.unwrap().is_some(),
        "an upload under way is left alone"
    );
    // Through the API: the problem and its versions as the whole uploads left them.
    let listed: Value = stack
        .get_auth("/api/problems/echo/versions", &admin)
        .await
        .json()
        .await
        .unwrap();
    let numbers: Vec<u64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert!(numbers.contains(&1) && !numbers.contains(&2), "{listed}");
    let other: Value = stack.get_json("/api/problems/other").await;
    assert_eq!(other["version"], 1, "{other}");
}
