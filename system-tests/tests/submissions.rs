//! Submissions without grading (a stand-in judge only advertises languages): idempotency,
//! ownership, listing with filters and cursor paging, validation.

use serde_json::{json, Value};
use system_tests::{Stack, StackOptions};

async fn setup() -> (Stack, async_nats::service::Service, String, String) {
    let stack = Stack::start(StackOptions::default()).await;
    let judge = system_tests::stack::advertise_languages(&stack.nats, &["c", "python3"]).await;
    let (admin, user) = problems_and_users(&stack).await;
    (stack, judge, admin, user)
}

/// Creates an admin (through the start-up path), uploads two example problems and registers a
/// user; returns (admin token, user token).
async fn problems_and_users(stack: &Stack) -> (String, String) {
    let accounts = auth_worker::accounts(&stack.auth_settings()).await.unwrap();
    accounts
        .ensure_admin("admin", "admin@example.org", "admin password")
        .await
        .unwrap();
    let admin = stack.token("admin", "admin password").await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems");
    for id in ["aplusb", "average"] {
        let zip = problem_package::pack_zip(&root.join(id)).unwrap();
        let r = stack
            .http
            .post(stack.url(&format!("/api/problems?id={id}&verify=false")))
            .bearer_auth(&admin)
            .body(zip)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    stack.register("sam", "correct horse battery").await;
    let user = stack.token("sam", "correct horse battery").await;
    (admin, user)
}

async fn submit(stack: &Stack, token: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
    let r = stack.submit(token, body, key).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Submits expecting a 429; returns the problem and its `Retry-After` seconds.
async fn refused(stack: &Stack, token: &str, body: &Value) -> (Value, u64) {
    let r = stack.submit(token, body, None).await;
    assert_eq!(r.status(), 429);
    let wait = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    (r.json().await.unwrap(), wait)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_give_the_same_submission() {
    let (stack, _judge, admin, user) = setup().await;
    let body = json!({"problem_id": "aplusb", "language": "c", "source": "int main(){}"});
    let (s1, a) = submit(&stack, &user, &body, Some("key-1")).await;
    let (s2, b) = submit(&stack, &user, &body, Some("key-1")).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(a["id"], b["id"], "same key, same user: the same submission");
    // Concurrent repeats too.
    let repeats = (0..5).map(|_| submit(&stack, &user, &body, Some("key-2")));
    let ids: std::collections::HashSet<String> = futures::future::join_all(repeats)
        .await
        .into_iter()
        .map(|(s, v)| {
            assert_eq!(s, 202, "{v}");
            v["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // Another user's identical key is their own.
    let (_, c) = submit(&stack, &admin, &body, Some("key-1")).await;
    assert_ne!(c["id"], a["id"]);
    // No key: a new submission each time.
    let (_, d) = submit(&stack, &user, &body, None).await;
    let (_, e) = submit(&stack, &user, &body, None).await;
    assert_ne!(d["id"], e["id"]);
    // A key that cannot be carried is refused by name.
    let (status, p) = submit(&stack, &user, &body, Some(&"x".repeat(200))).await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["field"], "Idempotency-Key");

    // Without a client key the edge sends its own, marked fresh on the first send (the worker
    // then reads nothing before writing) and unmarked when it sends again after a lost answer
    // (the worker looks for the first). A fresh mark that is wrong still gets the first
    // submission back: the unique index guards, not the mark.
    let me: Value = stack.get_auth("/api/auth/me", &user).await.json().await.unwrap();
    let user_id = me["id"].as_str().expect("an id").to_owned();
    let nats = stack.nats.client("edge").await;
    let send = |fresh: bool| {
        let (nats, user_id, body) = (nats.clone(), user_id.clone(), body.clone());
        async move {
            use common::subjects::headers;
            let mut h = async_nats::HeaderMap::new();
            h.insert(headers::USER_ID, user_id.as_str());
            h.insert(headers::USER_ROLE, "user");
            h.insert(headers::REQUEST_ID, "fresh-key-test");
            h.insert(headers::IDEMPOTENCY_KEY, "edge-made-by-the-test");
            if fresh {
                h.insert(headers::FRESH_KEY, "1");
            }
            let reply = nats
                .request_with_headers(
                    common::subjects::submission::SUBMISSIONS_CREATE,
                    h,
                    serde_json::to_vec(&body).unwrap().into(),
                )
                .await
                .expect("an answer");
            let status = reply
                .headers
                .as_ref()
                .and_then(|h| h.get(headers::STATUS))
                .map(|v| v.to_string());
            assert_eq!(status.as_deref(), Some("202"));
            serde_json::from_slice::<Value>(&reply.payload).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let first = send(true).await;
    assert_eq!(send(false).await, first, "sent again after a lost answer");
    assert_eq!(send(true).await, first, "a wrong fresh mark");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_submissions_newest_first_with_cursor_paging() {
    let (stack, _judge, admin, user) = setup().await;
    let mut created = Vec::new();
    for i in 0..7 {
        let problem = if i % 2 == 0 { "aplusb" } else { "average" };
        let (s, v) = submit(
            &stack,
            &user,
            &json!({"problem_id": problem, "language": "python3", "source": format!("print({i})")}),
            None,
        )
        .await;
        assert_eq!(s, 202, "{v}");
        created.push(v["id"].as_str().unwrap().to_owned());
    }
    submit(
        &stack,
        &admin,
        &json!({"problem_id": "aplusb", "language": "c", "source": "x"}),
        None,
    )
    .await;

    let page = |query: String| {
        let stack = &stack;
        let user = user.clone();
        async move {
            let r = stack.get_auth(&format!("/api/submissions{query}"), &user).await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            None => "?limit=3".to_owned(),
            Some(c) => format!("?limit=3&cursor={c}"),
        };
        let (status, body) = page(q).await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        for item in items {
            assert!(item.get("source").is_none(), "lists leave sources out");
            system_tests::assert_rfc3339_utc(&item["created_at"]);
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(
        seen, newest_first,
        "own submissions only, newest first, each once"
    );

    let (_, body) = page("?problem_id=average".to_owned()).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    assert!(body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["problem_id"] == "average"));
    let (_, body) = page("?status=queued&limit=100".to_owned()).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 7);
    let (_, body) = page("?status=judged".to_owned()).await;
    assert!(body["items"].as_array().unwrap().is_empty());

    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=abc", "limit"),
        ("?cursor=not-a-cursor", "cursor"),
        ("?status=lost", "status"),
    ] {
        let (status, p) = page(query.to_owned()).await;
        assert_eq!(status, 422, "{query}: {p}");
        assert_eq!(p["errors"][0]["field"], field, "{query}: {p}");
    }
    let r = stack
        .http
        .get(stack.url("/api/submissions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_could_not_be_published_is_published_later() {
    let (stack, _judge, _admin, user) = setup().await;
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    // No jobs stream: publishing fails, the submission is saved all the same.
    js.delete_stream(common::jobs::JOBS_STREAM).await.unwrap();
    let (status, created) = submit(
        &stack,
        &user,
        &json!({"problem_id": "aplusb", "language": "c", "source": "int main(){}"}),
        None,
    )
    .await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let got: Value = stack
        .get_auth(&format!("/api/submissions/{id}"), &user)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "queued");

    // The stream comes back: the sweep publishes the job, once.
    common::jobs::provision(&js).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut stream = js.get_stream(common::jobs::JOBS_STREAM).await.unwrap();
    while stream.info().await.unwrap().state.messages == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep never published the job"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let msg = stream.get_raw_message(1).await.unwrap();
    let job: common::jobs::GradingJob = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(job.submission_id, id);
    assert_eq!(job.source, "int main(){}");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(stream.info().await.unwrap().state.messages, 1, "published once");
}

/// A judged update for `id`, as a judge publishes it.
async fn publish_verdict(js: &async_nats::jetstream::Context, id: &str) {
    let update = system_tests::results::verdict_update(id, 1, common::Verdict::Accepted);
    js.publish(
        common::subjects::jobs::results(id),
        serde_json::to_vec(&update).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

/// A new submission's job is published before its record is written, so a quick judge's verdict
/// can come first: it waits for the record instead of being lost (the submission would stay
/// queued for ever). A verdict whose record never comes (its worker died between the two) is
/// dropped once its id is old, not retried without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_that_overtakes_its_record_waits_for_it() {
    use mongodb::bson::{doc, Document};
    use std::time::{Duration, Instant};
    let (stack, _judge, _admin, user) = setup().await;
    let body = json!({"problem_id": "aplusb", "language": "c", "source": "int main(){}"});
    let (status, created) = submit(&stack, &user, &body, None).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Written once, already marked published: no second write for the outbox.
    let store = mongodb::Client::with_uri_str(&stack.mongo.uri).await.unwrap();
    let submissions = store
        .database(&stack.mongo.database)
        .collection::<Document>("submissions");
    let record = submissions
        .find_one_and_delete(doc! {"_id": &id})
        .await
        .unwrap()
        .expect("the record");
    assert_eq!(record.get_str("outbox").unwrap(), "done", "{record}");

    // The verdict comes while the record is away; the record comes two seconds later.
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    publish_verdict(&js, &id).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    submissions.insert_one(&record).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got: Value = stack
            .get_auth(&format!("/api/submissions/{id}"), &user)
            .await
            .json()
            .await
            .unwrap();
        if got["status"] == "judged" {
            assert_eq!(got["verdict"], "accepted", "{got}");
            break;
        }
        assert!(Instant::now() < deadline, "the early verdict was lost: {got}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A verdict for an id from three minutes ago that has no record: acked, not redelivered.
    let old = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        (chrono::Utc::now().timestamp() - 180) as u64,
        0,
    ))
    .to_string();
    publish_verdict(&js, &old).await;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = js
        .get_consumer_from_stream(common::jobs::RESULTS_CONSUMER, common::jobs::RESULTS_STREAM)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = consumer.info().await.unwrap().clone();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the verdict without a record is still pending: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(submissions.find_one(doc! {"_id": &old}).await.unwrap().is_none());
}

/// The results at hand are stored in one write, as if one by one: a verdict moves its submission
/// to judged once (a repeat in the same batch, a progress update after it and an update of
/// another judging change nothing), each judged submission frees exactly one of its author's
/// queue slots, and a verdict whose record is not written yet is handed back to be tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_at_hand_are_applied_together_and_free_one_slot_each() {
    use common::jobs::{GradingStatus, GradingUpdate};
    use submission_worker::results::{apply, Applied};
    let (stack, _judge, _admin, user) = setup().await;
    let body = json!({"problem_id": "aplusb", "language": "c", "source": "int main(){}"});
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (status, created) = submit(&stack, &user, &body, None).await;
        assert_eq!(status, 202, "{created}");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let me: Value = stack.get_auth("/api/auth/me", &user).await.json().await.unwrap();
    let user_id = me["id"].as_str().unwrap();
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    let bucket = js.get_key_value(common::jobs::LIMITS_BUCKET).await.unwrap();
    let queued = || async {
        let entry = bucket.entry(user_id).await.unwrap().expect("the user's counters");
        let value = String::from_utf8(entry.value.to_vec()).unwrap();
        value.split(' ').next().unwrap().parse::<i64>().unwrap()
    };
    assert_eq!(queued().await, 4);

    let store = submission_worker::store::connect(&stack.mongo.uri, &stack.mongo.database)
        .await
        .unwrap();
    let counters = submission_worker::limits::Counters::new(
        js.clone(),
        submission_worker::limits::Limits {
            max_queued: 5,
            per_minute: 15,
            runs_per_minute: 30,
        },
    );
    let update = |id: &str, judging: u32, status: GradingStatus| GradingUpdate {
        submission_id: id.to_owned(),
        attempt: 1,
        judging,
        status,
    };
    let verdict =
        |id: &str, judging: u32, verdict| system_tests::results::verdict_update(id, judging, verdict);
    let unwritten = uuid::Uuid::now_v7().to_string();
    let batch = vec![
        update(&ids[0], 1, GradingStatus::Compiling),
        verdict(&ids[0], 1, common::Verdict::Accepted),
        verdict(&ids[0], 1, common::Verdict::WrongAnswer),
        update(&ids[0], 1, GradingStatus::Running { test: 1, of: 2 }),
        verdict(&ids[1], 1, common::Verdict::WrongAnswer),
        update(&ids[2], 1, GradingStatus::Running { test: 1, of: 2 }),
        verdict(&ids[3], 2, common::Verdict::Accepted),
        verdict(&unwritten, 1, common::Verdict::Accepted),
    ];
    let applied = apply(&store, &counters, &batch).await.unwrap();
    use Applied::{Done, Early};
    assert_eq!(applied, [Done, Done, Done, Done, Done, Done, Done, Early]);

    let status = |id: String| {
        let stack = &stack;
        let user = &user;
        async move {
            let got: Value = stack
                .get_auth(&format!("/api/submissions/{id}"), user)
                .await
                .json()
                .await
                .unwrap();
            (got["status"].as_str().unwrap().to_owned(), got["verdict"].clone())
        }
    };
    assert_eq!(status(ids[0].clone()).await, ("judged".into(), json!("accepted")));
    assert_eq!(
        status(ids[1].clone()).await,
        ("judged".into(), json!("wrong_answer"))
    );
    assert_eq!(status(ids[2].clone()).await.0, "running");
    assert_eq!(
        status(ids[3].clone()).await.0,
        "queued",
        "a verdict of another judging"
    );
    assert_eq!(queued().await, 2, "two judged, two slots freed");

    // Applied again (a redelivery): nothing moves, no slot is freed twice.
    let again = apply(&store, &counters, &batch[..7]).await.unwrap();
    assert!(again.iter().all(|a| *a == Done), "{again:?}");
    assert_eq!(queued().await, 2);
    assert_eq!(status(ids[0].clone()).await, ("judged".into(), json!("accepted")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_cannot_queue_without_bound() {
    let stack = Stack::start(StackOptions {
        max_queued: 2,
        ..StackOptions::default()
    })
    .await;
    let _judge = system_tests::stack::advertise_languages(&stack.nats, &["c"]).await;
    let (admin, user) = problems_and_users(&stack).await;
    let body = json!({"problem_id": "aplusb", "language": "c", "source": "int main(){}"});
    let (s, kept) = submit(&stack, &user, &body, Some("kept")).await;
    assert_eq!(s, 202);
    assert_eq!(submit(&stack, &user, &body, None).await.0, 202);
    let (p, _) = refused(&stack, &user, &body).await;
    assert_eq!(p["code"], "too_many_queued");
    // A new idempotency key is no way around the limit; a repeat of an accepted request still
    // gets its submission.
    let (s, p) = submit(&stack, &user, &body, Some("new-key")).await;
    assert_eq!(s, 429, "{p}");
    let (s, repeat) = submit(&stack, &user, &body, Some("kept")).await;
    assert_eq!((s, &repeat["id"]), (202, &kept["id"]));
    // Others are not affected.
    assert_eq!(submit(&stack, &admin, &body, None).await.0, 202);

    // A slot lost by a worker that died between counting and saving: the admin's counter says
    // both slots are taken while one submission waits. The records win, and the limit holds.
    let me: Value = stack.get_auth("/api/auth/me", &admin).await.json().await.unwrap();
    let admin_id = me["id"].as_str().unwrap();
    let js = async_nats::jetstream::new(stack.nats.client("admin").await);
    let counters = js.get_key_value(common::jobs::LIMITS_BUCKET).await.unwrap();
    let entry = counters
        .entry(admin_id)
        .await
        .unwrap()
        .expect("the admin's counters");
    let mut usage: Vec<i64> = std::str::from_utf8(&entry.value)
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(usage[0], 1, "one waiting: {usage:?}");
    usage[0] += 1;
    let drifted = usage.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
    counters.put(admin_id, drifted.into()).await.unwrap();
    let (s, p) = submit(&stack, &admin, &body, None).await;
    assert_eq!(
        s, 202,
        "a counter that drifted high is corrected from the records: {p}"
    );
    let (s, p) = submit(&stack, &admin, &body, None).await;
    assert_eq!((s, p["code"].as_str()), (429, Some("too_many_queued")), "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_cannot_submit_without_bound_per_minute() {
    let stack = Stack::start(StackOptions {
        per_minute: 3,
        ..StackOptions::default()
    })
    .await;
    let _judge = system_tests::stack::advertise_languages(&stack.nats, &["c"]).await;
    let (_admin, user) = problems_and_users(&stack).await;
    let body = json!({"problem_id": "aplusb", "language": "c", "source": "int main(){}"});
    // A burst of three, then one every 20 s: the fourth at once is refused, with how long to wait.
    for _ in 0..3 {
        let (status, p) = submit(&stack, &user, &body, None).await;
        assert_eq!(status, 202, "{p}");
    }
    let (p, wait) = refused(&stack, &user, &body).await;
    assert!((15..=20).contains(&wait), "Retry-After {wait}");
    assert_eq!(p["code"], "rate_limited", "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_on_problems() {
    let (stack, _judge, admin, user) = setup().await;
    stack.register("tess", "correct horse battery").await;
    let tess = stack.token("tess", "correct horse battery").await;
    let post = |token: String, problem: &'static str, body: Value| {
        let stack = &stack;
        async move {
            let r = stack
                .http
                .post(stack.url(&format!("/api/problems/{problem}/comments")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let mut ids = Vec::new();
    for i in 0..5 {
        let (s, c) = post(user.clone(), "aplusb", json!({"body": format!("comment {i}")})).await;
        assert_eq!(s, 201, "{c}");
        system_tests::assert_rfc3339_utc(&c["created_at"]);
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    // Public reading, oldest first, paged.
    let r: Value = stack.get_json("/api/problems/aplusb/comments?limit=3").await;
    let first: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, ids[..3]);
    let cursor = r["next_cursor"].as_str().unwrap();
    let r: Value = stack
        .get_json(&format!("/api/problems/aplusb/comments?limit=3&cursor={cursor}"))
        .await;
    assert_eq!(r["items"].as_array().unwrap().len(), 2);
    assert!(r["next_cursor"].is_null());

    for (body, code) in [
        (json!({"body": ""}), 422),
        (json!({"body": "   "}), 422),
        (json!({"body": "x".repeat(4001)}), 422),
        (json!({"body": {"$gt": ""}}), 422),
        (json!({}), 422),
    ] {
        let (s, p) = post(user.clone(), "aplusb", body).await;
        assert_eq!(s, code, "{p}");
        assert_eq!(p["errors"][0]["field"], "body");
    }
    let (s, _) = post(user.clone(), "aplusb", json!({"body": "é".repeat(4000)})).await;
    assert_eq!(s, 201, "4000 characters, whatever their bytes");
    let (s, _) = post(user.clone(), "nope", json!({"body": "hi"})).await;
    assert_eq!(s, 404);
    let r = stack
        .http
        .post(stack.url("/api/problems/aplusb/comments"))
        .json(&json!({"body": "anonymous"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Deleting: not someone else's, yes one's own, and an admin any.
    let delete = |token: String, id: String| {
        let stack = &stack;
        async move {
            stack
                .http
                .delete(stack.url(&format!("/api/comments/{id}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(delete(tess.clone(), ids[0].clone()).await, 403);
    assert_eq!(delete(user.clone(), ids[0].clone()).await, 204);
    assert_eq!(delete(user.clone(), ids[0].clone()).await, 404);
    assert_eq!(delete(admin.clone(), ids[1].clone()).await, 204);
    let r: Value = stack.get_json("/api/problems/aplusb/comments").await;
    assert_eq!(r["items"].as_array().unwrap().len(), 4);
}

/// Two workers' counters on one bucket: each keeps the last value it saw and writes on it without
/// reading, so each is often behind the other. The limit holds exactly all the same, and a slot
/// given back by one is seen by the other.
#[tokio::test]
async fn the_queue_limit_holds_exactly_across_workers_that_each_remember_the_counters() {
    use submission_worker::error::SubmissionError;
    use submission_worker::limits::{Counters, Limits};
    let stack = Stack::start(StackOptions::default()).await;
    let js = async_nats::jetstream::new(stack.nats.client("submission").await);
    let limits = Limits {
        max_queued: 3,
        per_minute: 1000,
        runs_per_minute: 1000,
    };
    let (a, b) = (Counters::new(js.clone(), limits), Counters::new(js, limits));
    let queued = |r: Result<(), SubmissionError>| match r {
        Ok(()) => true,
        Err(SubmissionError::TooManyQueued { .. }) => false,
        Err(e) => panic!("{e}"),
    };
    for round in 0..3 {
        // a, b, a take the three slots; every further one is refused by either.
        assert!(queued(a.acquire("u").await), "round {round}");
        assert!(queued(b.acquire("u").await), "round {round}");
        assert!(queued(a.acquire("u").await), "round {round}");
        assert!(!queued(b.acquire("u").await), "round {round}: a fourth slot");
        assert!(!queued(a.acquire("u").await), "round {round}: a fourth slot");
        // One given back by b is taken by a (whose memory is behind b's), and only one.
        b.release("u").await;
        assert!(
            queued(a.acquire("u").await),
            "round {round}: the slot b gave back"
        );
        assert!(!queued(b.acquire("u").await), "round {round}");
        for counters in [&a, &b, &a] {
            counters.release("u").await;
        }
    }
    // All given back: the entry says nothing is queued.
    let bucket = async_nats::jetstream::new(stack.nats.client("admin").await)
        .get_key_value(common::jobs::LIMITS_BUCKET)
        .await
        .unwrap();
    let entry = bucket.entry("u").await.unwrap().expect("the counters");
    assert!(
        std::str::from_utf8(&entry.value).unwrap().starts_with("0 "),
        "{entry:?}"
    );
}
