//! The grading path end to end: HTTP → edge → submission worker → JetStream → this judge (the
//! real binary, with its own NATS credentials) → results → MongoDB → HTTP.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use system_tests::judge::JudgeProcess;
use system_tests::{Stack, StackOptions};

fn start_judge(stack: &Stack, uid_base: &str) -> JudgeProcess {
    JudgeProcess::start(&stack.nats, Some(uid_base), false)
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

/// A stack with an admin, a user `solver` and the A+B example uploaded; returns the admin's and
/// the user's tokens.
async fn stack_with_aplusb(options: StackOptions) -> (Stack, String, String) {
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        ..options
    })
    .await;
    let admin = stack.token("admin", "admin password").await;
    stack.register("solver", "correct horse battery").await;
    let user = stack.token("solver", "correct horse battery").await;
    let zip = problem_package::pack_zip(&examples().join("aplusb")).unwrap();
    assert_eq!(
        upload(&stack, &admin, zip, "?id=aplusb&verify=false").await.0,
        201
    );
    (stack, admin, user)
}

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems")
}

async fn upload(stack: &Stack, token: &str, zip: Vec<u8>, query: &str) -> (u16, Value) {
    let r = stack
        .http
        .post(stack.url(&format!("/api/problems{query}")))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(zip)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn submit(stack: &Stack, token: &str, body: &Value) -> (u16, Value, Option<String>) {
    let r = stack.submit(token, body, None).await;
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), r.json().await.unwrap(), location)
}

/// Reads a submission's event stream to its end and returns the events' data.
async fn read_events(stack: &Stack, token: &str, id: &str, last_event_id: Option<&str>) -> (u16, Vec<Value>) {
    let mut req = stack
        .http
        .get(stack.url(&format!("/api/submissions/{id}/events")))
        .bearer_auth(token);
    if let Some(last) = last_event_id {
        req = req.header("last-event-id", last);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    if status == 200 {
        assert_eq!(r.headers()["content-type"], "text/event-stream");
    }
    let text = tokio::time::timeout(Duration::from_secs(90), r.text())
        .await
        .expect("the stream ends")
        .unwrap();
    let events = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect();
    (status, events)
}

async fn wait_judged(stack: &Stack, token: &str, id: &str) -> Value {
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

/// Submits the A+B example `path` (below its `submissions/`) in `language`; returns the new id.
async fn submit_example(stack: &Stack, token: &str, path: &str, language: &str) -> String {
    let source = std::fs::read_to_string(examples().join("aplusb/submissions").join(path)).unwrap();
    let (status, created, _) = submit(
        stack,
        token,
        &json!({"problem_id": "aplusb", "language": language, "source": source}),
    )
    .await;
    assert_eq!(status, 202, "{path}: {created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Waits for each of `ids` to be judged `verdict`, then checks that the owner's listing holds
/// exactly them: no record lost or duplicated.
async fn all_judged_exactly(stack: &Stack, token: &str, ids: &[String], verdict: &str) {
    for id in ids {
        let judged = wait_judged(stack, token, id).await;
        assert_eq!(judged["verdict"], verdict, "{judged}");
    }
    let listed: Value = stack
        .get_auth("/api/submissions?limit=100", token)
        .await
        .json()
        .await
        .unwrap();
    let mut listed_ids: Vec<String> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    listed_ids.sort();
    let mut sent = ids.to_vec();
    sent.sort();
    assert_eq!(listed_ids, sent, "no record lost or duplicated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_submit_and_get_a_verdict() {
    if !system_tests::judge::sandbox_available("upload_submit_and_get_a_verdict") {
        return;
    }
    let stack = Stack::start(StackOptions {
        admin: Some(system_tests::stack::admin_account()),
        body_limit: 256 * 1024,
        // One at a time: the second submission is accepted only if judging the first freed its slot.
        max_queued: 1,
        ..StackOptions::default()
    })
    .await;
    let _judge = start_judge(&stack, "65000");
    let admin = stack.token("admin", "admin password").await;
    stack.register("solver", "correct horse battery").await;
    let user = stack.token("solver", "correct horse battery").await;
    stack.register("other", "correct horse battery").await;
    let other = stack.token("other", "correct horse battery").await;

    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems");
    let zip = problem_package::pack_zip(&examples.join("aplusb")).unwrap();
    let (status, p) = upload(&stack, &admin, zip.clone(), "?id=aplusb&verify=false").await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(
        (p["id"].as_str(), p["version"].as_i64()),
        (Some("aplusb"), Some(1))
    );
    let (status, p) = upload(&stack, &admin, zip.clone(), "?id=aplusb&verify=false").await;
    assert_eq!(
        (status, p["version"].as_i64()),
        (200, Some(1)),
        "the same bytes are the same version"
    );
    let changed = tempfile::tempdir().unwrap();
    copy_dir(&examples.join("aplusb"), changed.path());
    std::fs::write(
        changed.path().join("problem_statement/problem.en.md"),
        "# A+B\n\nAdd two numbers.\n",
    )
    .unwrap();
    let zip2 = problem_package::pack_zip(changed.path()).unwrap();
    let (status, p) = upload(&stack, &admin, zip2, "?id=aplusb&verify=false").await;
    assert_eq!(
        (status, p["version"].as_i64()),
        (201, Some(2)),
        "a changed package is a new version"
    );
    let (status, p) = upload(&stack, &user, zip.clone(), "?id=mine").await;
    assert_eq!(status, 403, "{p}");
    let (status, p) = upload(&stack, &admin, b"not a zip".to_vec(), "?id=broken").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("invalid_package")),
        "{p}"
    );
    assert!(!p["errors"].as_array().unwrap().is_empty());
    // A package must fit in one NATS message: beyond 7 MiB it is refused at the edge.
    let (status, p) = upload(&stack, &admin, vec![0u8; 7 * 1024 * 1024 + 1], "?id=huge").await;
    assert_eq!((status, p["status"].as_u64()), (413, Some(413)), "{p}");

    let list: Value = stack.get_json("/api/problems").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let one: Value = stack.get_json("/api/problems/aplusb").await;
    assert!(one["limits"]["time_limit_ms"].as_u64().is_some(), "{one}");
    let created = system_tests::assert_rfc3339_utc(&one["created_at"]);
    assert!(
        system_tests::assert_rfc3339_utc(&one["updated_at"]) >= created,
        "{one}"
    );
    assert!(!one["samples"].as_array().unwrap().is_empty(), "{one}");
    let r = stack
        .http
        .get(stack.url("/api/problems/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The judge advertises its languages, with versions, once it is up.
    stack.wait_for_language("c").await;
    let langs = stack.get_json("/api/languages").await;
    assert!(
        langs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["version"].as_str().is_some_and(|v| !v.is_empty())),
        "{langs}"
    );

    let source =
        |file: &str| std::fs::read_to_string(examples.join("aplusb/submissions").join(file)).unwrap();
    let (status, created, location) = submit(
        &stack,
        &user,
        &json!({"problem_id": "aplusb", "language": "c", "source": source("accepted/aplusb.c")}),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["status"], "queued");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/submissions/{id}").as_str())
    );
    // Watched live from just after submitting.
    let (status, events) = read_events(&stack, &user, &id, None).await;
    assert_eq!(status, 200);
    let last = events.last().expect("at least the verdict");
    assert_eq!(
        (last["status"].as_str(), last["verdict"].as_str()),
        (Some("judged"), Some("accepted")),
        "{events:?}"
    );
    assert!(
        events.iter().filter(|e| e["status"] == "judged").count() == 1,
        "the stream ends after the verdict"
    );
    assert!(
        events.len() >= 2,
        "the current state first, then the changes: {events:?}"
    );
    assert_eq!(events[0]["id"], id.as_str());
    let judged = wait_judged(&stack, &user, &id).await;
    assert_eq!(judged["verdict"], "accepted", "{judged}");
    system_tests::assert_rfc3339_utc(&judged["created_at"]);
    assert_eq!(
        events[0]["created_at"], judged["created_at"],
        "the stream shows the same document"
    );
    // Joined late (or reconnecting): the verdict at once, then the end.
    let (_, late) = read_events(&stack, &user, &id, Some("3")).await;
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0]["verdict"], "accepted");
    let (status, _) = read_events(&stack, &other, &id, None).await;
    assert_eq!(status, 404);
    assert_eq!(judged["problem_version"], 2);
    assert!(!judged["tests"].as_array().unwrap().is_empty(), "{judged}");
    // Only the owner (or an admin) sees it.
    assert_eq!(
        stack
            .get_auth(&format!("/api/submissions/{id}"), &other)
            .await
            .status(),
        404
    );
    assert_eq!(
        stack
            .get_auth(&format!("/api/submissions/{id}"), &admin)
            .await
            .status(),
        200
    );

    let (status, created, _) = submit(
        &stack,
        &user,
        &json!({"problem_id": "aplusb", "language": "cpp", "source": std::fs::read_to_string(examples.join("aplusb/submissions/wrong_answer/overflow.cpp")).unwrap()}),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    let judged = wait_judged(&stack, &user, created["id"].as_str().unwrap()).await;
    assert_eq!(judged["verdict"], "wrong_answer", "{judged}");

    for (body, field) in [
        (
            json!({"problem_id": "aplusb", "language": "cobol", "source": "x"}),
            "language",
        ),
        (
            json!({"problem_id": "nope", "language": "c", "source": "x"}),
            "problem_id",
        ),
        (
            json!({"problem_id": "aplusb", "language": "c", "source": "x".repeat(70_000)}),
            "source",
        ),
        (
            json!({"problem_id": {"$gt": ""}, "language": "c", "source": "x"}),
            "problem_id",
        ),
    ] {
        let (status, p, _) = submit(&stack, &user, &body).await;
        assert_eq!(status, 422, "{p}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let (status, p, _) = submit(
        &stack,
        &user,
        &json!({"problem_id": "aplusb", "language": "c", "source": "x".repeat(300_000)}),
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (413, Some("payload_too_large")),
        "{p}"
    );
    let r = stack
        .post("/api/submissions", &json!({"problem_id": "aplusb"}))
        .await;
    assert_eq!(r.status(), 401, "submitting needs a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_language_and_verdict_through_the_stack() {
    if !system_tests::judge::sandbox_available("every_language_and_verdict_through_the_stack") {
        return;
    }
    let (stack, _admin, user) = stack_with_aplusb(StackOptions {
        max_queued: 200,
        per_minute: 300,
        ..StackOptions::default()
    })
    .await;
    let _judge = start_judge(&stack, "65120");
    stack.wait_for_language("c").await;
    // Every example solution of A+B, filed by the verdict it must get, in every language.
    let mut expected = Vec::new();
    for (file, verdict) in system_tests::example_submissions("aplusb") {
        let language = judge_worker::language::language_of_file(&file)
            .unwrap_or_else(|| panic!("an example in an unknown language: {}", file.display()));
        let source = std::fs::read_to_string(&file).unwrap();
        let (status, created, _) = submit(
            &stack,
            &user,
            &json!({"problem_id": "aplusb", "language": language, "source": source}),
        )
        .await;
        assert_eq!(status, 202, "{}: {created}", file.display());
        let id = created["id"].as_str().unwrap().to_owned();
        expected.push((file, language, verdict.to_owned(), id));
    }
    let languages: std::collections::BTreeSet<_> = expected.iter().map(|e| e.1.clone()).collect();
    assert!(languages.len() >= 25, "{languages:?}");
    let verdicts: std::collections::BTreeSet<_> = expected.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(verdicts.len(), 7, "{verdicts:?}");
    for (file, language, verdict, id) in &expected {
        let judged = wait_judged(&stack, &user, id).await;
        assert_eq!(
            judged["verdict"],
            verdict.as_str(),
            "{} ({language}): {judged}",
            file.display()
        );
        assert_eq!(judged["language"], *language);
        match verdict.as_str() {
            "compilation_error" => assert!(
                !judged["compile_output"].as_str().unwrap_or_default().is_empty(),
                "the compiler's message is kept: {judged}"
            ),
            "accepted" => {
                assert!(judged["memory_kb"].as_i64().unwrap() > 0, "{judged}");
                assert!(judged["tests"].as_array().unwrap().len() > 1, "{judged}");
            }
            _ => assert!(!judged["tests"].as_array().unwrap().is_empty(), "{judged}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_killed_mid_job_loses_nothing() {
    if !system_tests::judge::sandbox_available("a_judge_killed_mid_job_loses_nothing") {
        return;
    }
    let (stack, _admin, user) = stack_with_aplusb(StackOptions {
        job_ack_wait: Duration::from_secs(3),
        ..StackOptions::default()
    })
    .await;
    let mut first = start_judge(&stack, "65030");
    stack.wait_for_language("c").await;

    // A solution that spins to its time limit keeps the judge busy for a while.
    let id = submit_example(&stack, &user, "time_limit_exceeded/spin.c", "c").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s: Value = stack
            .get_auth(&format!("/api/submissions/{id}"), &user)
            .await
            .json()
            .await
            .unwrap();
        if s["status"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "never started running: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL in the middle of the job; another judge takes it after the ack wait.
    first.kill();
    let _second = start_judge(&stack, "65040");
    let judged = wait_judged(&stack, &user, &id).await;
    assert_eq!(judged["verdict"], "time_limit_exceeded", "{judged}");
    assert!(
        judged["attempt"].as_i64().unwrap() >= 2,
        "judged by a later delivery: {judged}"
    );

    // Exactly one verdict was published, and the job left the queue.
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    let published =
        system_tests::results::read(&js, &[&id], Duration::from_secs(10), Duration::from_secs(2)).await;
    assert_eq!(system_tests::results::verdicts(&published[&id]).len(), 1);
    let mut jobs = js.get_stream(common::jobs::JOBS_STREAM).await.unwrap();
    assert_eq!(jobs.info().await.unwrap().state.messages, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_kills_every_judge_ends_as_internal_error() {
    if !system_tests::judge::sandbox_available("a_job_that_kills_every_judge_ends_as_internal_error") {
        return;
    }
    let (stack, _admin, user) = stack_with_aplusb(StackOptions {
        job_ack_wait: Duration::from_secs(2),
        ..StackOptions::default()
    })
    .await;
    // Watch the job's progress to see each delivery start.
    let admin = stack.nats.client("admin").await;
    let mut judge = start_judge(&stack, "65080");
    stack.wait_for_language("c").await;
    let id = submit_example(&stack, &user, "time_limit_exceeded/spin.c", "c").await;
    let mut progress = admin
        .subscribe(common::subjects::jobs::results(&id))
        .await
        .unwrap();
    system_tests::nats::settle(&admin).await;

    // Every judge that takes the job dies with it (as if the job brought it down), on every
    // delivery JetStream allows.
    for attempt in 1..=common::jobs::MAX_DELIVER as u64 {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(60), progress.next())
                .await
                .unwrap_or_else(|_| panic!("delivery {attempt} never started"))
                .unwrap();
            let u: common::jobs::GradingUpdate = serde_json::from_slice(&m.payload).unwrap();
            assert!(
                !matches!(u.status, common::jobs::GradingStatus::Judged { .. }),
                "no judge may finish this job: {u:?}"
            );
            if u.attempt == attempt {
                break;
            }
        }
        judge.kill();
        judge = start_judge(&stack, &format!("{}", 65080 + 10 * attempt));
    }

    // The next judge's pull makes JetStream give up on the job; the submission worker ends it.
    let judged = wait_judged(&stack, &user, &id).await;
    assert_eq!(judged["verdict"], "internal_error", "{judged}");
    assert!(
        judged["error"]
            .as_str()
            .unwrap_or_default()
            .contains("delivered 3 times"),
        "the reason is given: {judged}"
    );
    let js = async_nats::jetstream::new(admin.clone());
    let published =
        system_tests::results::read(&js, &[&id], Duration::from_secs(10), Duration::from_secs(1)).await;
    assert_eq!(system_tests::results::verdicts(&published[&id]).len(), 1);
    let mut queue = js.get_stream(common::jobs::JOBS_STREAM).await.unwrap();
    assert_eq!(
        queue.info().await.unwrap().state.messages,
        0,
        "the dead job left the queue"
    );

    // The queue is not stuck: the surviving judge grades the next submission (once it offers C:
    // the killed judges' languages may have expired from the catalog before it announced its own).
    stack.wait_for_language("c").await;
    let id = submit_example(&stack, &user, "accepted/aplusb.c", "c").await;
    let judged = wait_judged(&stack, &user, &id).await;
    assert_eq!(judged["verdict"], "accepted", "{judged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_down_loses_no_verdict() {
    if !system_tests::judge::sandbox_available("the_store_down_loses_no_verdict") {
        return;
    }
    let (mut stack, _admin, user) = stack_with_aplusb(StackOptions::default()).await;
    if stack.mongo.is_external() {
        eprintln!(
            "SKIPPED the_store_down_loses_no_verdict: MONGODB_URI points at a server this test cannot stop"
        );
        return;
    }
    let _judge = start_judge(&stack, "65050");
    stack.wait_for_language("c").await;
    let source = std::fs::read_to_string(examples().join("aplusb/submissions/accepted/aplusb.c")).unwrap();
    let body = json!({"problem_id": "aplusb", "language": "c", "source": source});
    let mut ids = Vec::new();

    // The store goes away while the judge reports: results wait in JetStream and are applied
    // when it returns.
    let (status, created, _) = submit(&stack, &user, &body).await;
    assert_eq!(status, 202, "{created}");
    ids.push(created["id"].as_str().unwrap().to_owned());
    stack.mongo.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = stack
        .get_auth(&format!("/api/submissions/{}", ids[0]), &user)
        .await;
    assert_eq!(r.status(), 503, "a clear 503 while the store is down");
    // A submission made while it is down is refused with a clear 503, never half-saved.
    let (status, refused, _) = submit(&stack, &user, &body).await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["code"], "store_unavailable", "{refused}");
    stack.mongo.restart();

    // And once it is back, submissions flow again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, created, _) = submit(&stack, &user, &body).await;
        if status == 202 {
            ids.push(created["id"].as_str().unwrap().to_owned());
            break;
        }
        assert_eq!(status, 503, "{created}");
        assert!(Instant::now() < deadline, "submissions never worked again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    all_judged_exactly(&stack, &user, &ids, "accepted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restarted_while_submissions_flow() {
    if !system_tests::judge::sandbox_available("nats_restarted_while_submissions_flow") {
        return;
    }
    let (mut stack, _admin, user) = stack_with_aplusb(StackOptions {
        max_queued: 1_000,
        per_minute: 1_000,
        ..StackOptions::default()
    })
    .await;
    let _judge = start_judge(&stack, "65110");
    stack.wait_for_language("c").await;
    let source = std::fs::read_to_string(examples().join("aplusb/submissions/accepted/aplusb.c")).unwrap();
    let body = json!({"problem_id": "aplusb", "language": "c", "source": source});

    // Clients that submit steadily, four calls in flight, and, like a careful front end, retry a
    // failed call with the same Idempotency-Key until it is accepted.
    const SENT: usize = 60;
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let submitter = tokio::spawn({
        let (http, url, token) = (stack.http.clone(), stack.url("/api/submissions"), user.clone());
        let (accepted, failures) = (accepted.clone(), failures.clone());
        async move {
            futures::stream::iter(0..SENT)
                .map(|i| {
                    let (http, url, token, body) = (http.clone(), url.clone(), token.clone(), body.clone());
                    let (accepted, failures) = (accepted.clone(), failures.clone());
                    async move {
                        let deadline = Instant::now() + Duration::from_secs(60);
                        loop {
                            let r = http
                                .post(&url)
                                .bearer_auth(&token)
                                .header("idempotency-key", format!("flow-{i}"))
                                .json(&body)
                                .send()
                                .await
                                .unwrap();
                            let status = r.status().as_u16();
                            let answer: Value = r.json().await.unwrap();
                            if status == 202 || status == 200 {
                                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                return answer["id"].as_str().unwrap().to_owned();
                            }
                            assert!([503, 504].contains(&status), "{status}: {answer}");
                            assert!(Instant::now() < deadline, "submission {i} never went through");
                            failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                })
                .buffer_unordered(4)
                .collect::<Vec<String>>()
                .await
        }
    });

    // The broker dies mid-stream and comes back with its JetStream store.
    while accepted.load(std::sync::atomic::Ordering::SeqCst) < SENT / 4 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::task::block_in_place(|| stack.nats.restart());
    let ids = submitter.await.unwrap();
    eprintln!(
        "{} calls failed with 503/504 during the restart and were retried",
        failures.load(std::sync::atomic::Ordering::SeqCst)
    );

    // Each one is a single record, judged once.
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), SENT, "one submission per idempotency key");
    all_judged_exactly(&stack, &user, &ids, "accepted").await;
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
    let published =
        system_tests::results::read(&js, &wanted, Duration::from_secs(30), Duration::from_secs(2)).await;
    let twice: Vec<_> = wanted
        .iter()
        .filter(|id| system_tests::results::verdicts(&published[**id]).len() != 1)
        .map(|id| (id, &published[*id]))
        .collect();
    assert!(twice.is_empty(), "judged more than once: {twice:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_at_once_to_two_judges_and_two_submission_workers() {
    if !system_tests::judge::sandbox_available(
        "three_hundred_at_once_to_two_judges_and_two_submission_workers",
    ) {
        return;
    }
    let (mut stack, admin, user) = stack_with_aplusb(StackOptions {
        max_queued: 10_000,
        per_minute: 10_000,
        ..StackOptions::default()
    })
    .await;
    stack.start_submission_worker().await;
    stack.wait_for_instances("submission", 2).await;
    let _first = start_judge(&stack, "65060");
    let _second = start_judge(&stack, "65070");
    stack.wait_for_language("c").await;
    let source = std::fs::read_to_string(examples().join("aplusb/submissions/accepted/aplusb.c")).unwrap();
    let body = json!({"problem_id": "aplusb", "language": "c", "source": source});

    // 300 submissions from two users, 16 in flight.
    let tokens = [user.clone(), admin.clone()];
    let sent = futures::stream::iter(0..300)
        .map(|i| {
            let (stack, body, token) = (&stack, &body, tokens[i % 2].clone());
            async move { (i % 2, submit(stack, &token, body).await) }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let mut ids = Vec::new();
    for (who, (status, created, _)) in sent {
        assert_eq!(status, 202, "{created}");
        ids.push((created["id"].as_str().unwrap().to_owned(), who));
    }
    let unique: std::collections::HashSet<_> = ids.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(unique.len(), 300, "300 distinct submissions");

    // Every one judged, exactly once.
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    let wanted: Vec<&str> = unique.iter().map(String::as_str).collect();
    let published =
        system_tests::results::read(&js, &wanted, Duration::from_secs(240), Duration::from_secs(2)).await;
    for id in &wanted {
        let verdicts = system_tests::results::verdicts(&published[*id]);
        assert_eq!(verdicts.len(), 1, "{id}: {verdicts:#?}");
        assert_eq!(
            verdicts[0].verdict,
            common::Verdict::Accepted,
            "{id}: {verdicts:#?}"
        );
    }
    // And the records agree: a sample of them reads judged / accepted.
    for (id, who) in ids.iter().step_by(37) {
        let judged = wait_judged(&stack, &tokens[*who], id).await;
        assert_eq!(judged["verdict"], "accepted", "{judged}");
    }
}

/// Sends an admin request about a rejudge; returns the status and the body.
async fn rejudge_call(
    stack: &Stack,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = stack.http.request(method, stack.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(body);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Polls a rejudge until `ready` holds of it (90 s at most).
async fn rejudge_until(stack: &Stack, admin: &str, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, r) = rejudge_call(
            stack,
            admin,
            reqwest::Method::GET,
            &format!("/api/rejudges/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{r}");
        if ready(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "the rejudge did not get there: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get_submission(stack: &Stack, token: &str, id: &str) -> Value {
    stack
        .get_auth(&format!("/api/submissions/{id}"), token)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejudge_judges_again_keeps_the_history_and_shows_live() {
    if !system_tests::judge::sandbox_available("a_rejudge_judges_again_keeps_the_history_and_shows_live") {
        return;
    }
    let (stack, admin, user) = stack_with_aplusb(StackOptions::default()).await;
    let mut judge = start_judge(&stack, "65400");
    stack.wait_for_language("python3").await;
    let right = submit_example(&stack, &user, "accepted/aplusb.py", "python3").await;
    let wrong = submit_example(&stack, &user, "wrong_answer/minus.py", "python3").await;
    assert_eq!(wait_judged(&stack, &user, &right).await["verdict"], "accepted");
    assert_eq!(
        wait_judged(&stack, &user, &wrong).await["verdict"],
        "wrong_answer"
    );

    // Only admins; bad input is named; an unknown problem is 404.
    let post = reqwest::Method::POST;
    let (status, p) = rejudge_call(
        &stack,
        &user,
        post.clone(),
        "/api/problems/aplusb/rejudge",
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, 403, "{p}");
    let (status, p) = rejudge_call(
        &stack,
        &admin,
        post.clone(),
        "/api/problems/aplusb/rejudge",
        Some(&json!({"verdicts": ["nope"], "before_version": 0})),
    )
    .await;
    assert_eq!(status, 422, "{p}");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["verdicts", "before_version"], "{p}");
    let (status, p) = rejudge_call(
        &stack,
        &admin,
        post.clone(),
        "/api/problems/nope/rejudge",
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, 404, "{p}");
    let (status, p) = rejudge_call(
        &stack,
        &user,
        reqwest::Method::GET,
        "/api/rejudges/whatever",
        None,
    )
    .await;
    assert_eq!(status, 403, "{p}");

    // The wrong answers only: the accepted one is left alone.
    let (status, started) = rejudge_call(
        &stack,
        &admin,
        post.clone(),
        "/api/problems/aplusb/rejudge",
        Some(&json!({"verdicts": ["wrong_answer"]})),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["total"], 1, "{started}");
    let id = started["id"].as_str().unwrap();
    let done = rejudge_until(&stack, &admin, id, |r| r["done"] == true).await;
    assert_eq!(
        (
            &done["judged"],
            &done["changed"],
            &done["waiting"],
            &done["queued"]
        ),
        (&json!(1), &json!(0), &json!(0), &json!(1)),
        "{done}"
    );
    let w = get_submission(&stack, &user, &wrong).await;
    assert_eq!(
        (w["judging"].as_i64(), w["verdict"].as_str()),
        (Some(2), Some("wrong_answer")),
        "{w}"
    );
    assert_eq!(w["rejudge_id"], id);
    let history = w["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{w}");
    assert_eq!(
        (
            &history[0]["judging"],
            &history[0]["verdict"],
            &history[0]["problem_version"]
        ),
        (&json!(1), &json!("wrong_answer"), &json!(1))
    );
    assert!(history[0]["judged_at"].is_string(), "{w}");
    let r = get_submission(&stack, &user, &right).await;
    assert_eq!(r["judging"], 1, "{r}");
    assert!(r.get("history").is_none(), "{r}");

    // A new version, and everything judged on an older one again, watched live: with no judge
    // running, the submissions wait in the rejudge queue while a live stream is opened.
    judge.kill();
    let changed = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("aplusb"), changed.path());
    std::fs::write(
        changed.path().join("problem_statement/problem.en.md"),
        "# A+B\n\nAdd them.\n",
    )
    .unwrap();
    let (status, p) = upload(
        &stack,
        &admin,
        problem_package::pack_zip(changed.path()).unwrap(),
        "?id=aplusb&verify=false",
    )
    .await;
    assert_eq!((status, p["version"].as_i64()), (201, Some(2)), "{p}");
    let (status, started) = rejudge_call(
        &stack,
        &admin,
        post.clone(),
        "/api/problems/aplusb/rejudge",
        Some(&json!({"before_version": 2})),
    )
    .await;
    assert_eq!((status, &started["total"]), (202, &json!(2)), "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    rejudge_until(&stack, &admin, &id, |r| r["queued"] == 2).await;
    let ((status, events), _judge) = tokio::join!(read_events(&stack, &user, &right, None), async {
        // The stream is open (its first event, `queued`, sent) before a judge takes the job.
        tokio::time::sleep(Duration::from_millis(500)).await;
        start_judge(&stack, "65400")
    });
    assert_eq!(status, 200);
    assert_eq!(events.first().unwrap()["status"], "queued", "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(
        (&last["status"], &last["verdict"], &last["judging"]),
        (&json!("judged"), &json!("accepted"), &json!(2)),
        "{events:?}"
    );
    let done = rejudge_until(&stack, &admin, &id, |r| r["done"] == true).await;
    assert_eq!(
        (&done["judged"], &done["changed"]),
        (&json!(2), &json!(0)),
        "{done}"
    );
    let r = get_submission(&stack, &user, &right).await;
    assert_eq!(
        (r["problem_version"].as_i64(), r["judging"].as_i64()),
        (Some(2), Some(2)),
        "{r}"
    );
    let w = get_submission(&stack, &user, &wrong).await;
    let versions: Vec<_> = w["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["judging"].as_i64().unwrap())
        .collect();
    assert_eq!((versions, w["judging"].as_i64()), (vec![1, 2], Some(3)), "{w}");
    // Nothing is left of a rejudge that selects nothing but its answer.
    let (status, none) = rejudge_call(
        &stack,
        &admin,
        post,
        "/api/problems/aplusb/rejudge",
        Some(&json!({"verdicts": ["memory_limit_exceeded"]})),
    )
    .await;
    assert_eq!((status, &none["total"]), (202, &json!(0)), "{none}");
    let none_id = none["id"].as_str().unwrap();
    rejudge_until(&stack, &admin, none_id, |r| r["done"] == true).await;
}

/// The verdicts on the results stream, in the order they were stored, as (stream sequence,
/// submission, judging), read until `until` has one.
async fn verdict_order(js: &async_nats::jetstream::Context, until: &str) -> Vec<(u64, String, u32)> {
    let stream = js.get_stream(common::jobs::RESULTS_STREAM).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut order = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !order.iter().any(|(_, id, _): &(u64, String, u32)| id == until) {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, messages.next())
            .await
            .expect("the submission is judged in time")
            .unwrap()
            .unwrap();
        let u: common::jobs::GradingUpdate = serde_json::from_slice(&m.payload).unwrap();
        if matches!(u.status, common::jobs::GradingStatus::Judged { .. }) {
            order.push((m.info().unwrap().stream_sequence, u.submission_id, u.judging));
        }
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_submissions_go_ahead_of_a_rejudge() {
    if !system_tests::judge::sandbox_available("new_submissions_go_ahead_of_a_rejudge") {
        return;
    }
    let (stack, admin, user) = stack_with_aplusb(StackOptions::default()).await;
    // One slot: "at most one job per slot" is then at most one rejudge verdict.
    let slot = [("JUDGE_SLOTS", "1"), ("JUDGE_RUN_RESERVE_SECS", "0")];
    let mut judge = JudgeProcess::start_with_env(&stack.nats, Some("65500"), false, &slot);
    stack.wait_for_language("python3").await;
    // Python stays offered while no judge runs.
    let _standin = system_tests::stack::advertise_languages(&stack.nats, &["python3"]).await;
    let mut ids = Vec::new();
    for _ in 0..16 {
        ids.push(submit_example(&stack, &user, "accepted/aplusb.py", "python3").await);
    }
    all_judged_exactly(&stack, &user, &ids, "accepted").await;

    // The whole rejudge queued while no judge runs, then one new submission.
    judge.kill();
    let (status, started) = rejudge_call(
        &stack,
        &admin,
        reqwest::Method::POST,
        "/api/problems/aplusb/rejudge",
        None,
    )
    .await;
    assert_eq!((status, &started["total"]), (202, &json!(16)), "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    rejudge_until(&stack, &admin, &id, |r| r["queued"] == 16).await;
    let first = submit_example(&stack, &user, "accepted/aplusb.py", "python3").await;
    let _judge = JudgeProcess::start_with_env(&stack.nats, Some("65500"), false, &slot);
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    let order = verdict_order(&js, &first).await;
    let rejudged_before = order.iter().filter(|(_, _, judging)| *judging == 2).count();
    assert_eq!(
        rejudged_before, 0,
        "the new submission waited behind the rejudge: {order:?}"
    );

    // One more while the rejudge runs: at most the one rejudge job in the slot goes first.
    rejudge_until(&stack, &admin, &id, |r| r["judged"].as_u64().unwrap() >= 2).await;
    let second = submit_example(&stack, &user, "accepted/aplusb.py", "python3").await;
    // Its job is in the stream once the 202 came: what was stored after that went after it.
    let mut results = js.get_stream(common::jobs::RESULTS_STREAM).await.unwrap();
    let published_after = results.info().await.unwrap().state.last_sequence;
    let order = verdict_order(&js, &second).await;
    let ahead: Vec<_> = order
        .iter()
        .filter(|(seq, _, judging)| *seq > published_after && *judging == 2)
        .collect();
    assert!(
        ahead.len() <= 1,
        "rejudge verdicts went ahead of a new submission: {ahead:?}"
    );
    let done = rejudge_until(&stack, &admin, &id, |r| r["done"] == true).await;
    assert_eq!(
        (&done["judged"], &done["changed"]),
        (&json!(16), &json!(0)),
        "{done}"
    );
}
