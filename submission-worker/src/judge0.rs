//! The Judge0-compatible layer (`/judge0/…` at the edge), so editors and front ends written for
//! Judge0 CE work unchanged: a Judge0 submission is one of our runs on the caller's input (never
//! a graded submission), its token the run's id. This module only translates: Judge0's request
//! shapes, language ids, base64 and `fields` in; our runs out as Judge0's submissions, statuses
//! and error shapes (`{"error": …}`, or `{"<field>": ["…"]}` for invalid fields).
//!
//! Decisions where Judge0's documentation leaves room: base64 is strict (standard alphabet,
//! padded, no line breaks); Judge0's per-submission limits (`cpu_time_limit`, …) are accepted
//! and ignored (our judges' limits apply); a token is kept as long as a run (an hour); status 15
//! is `Memory Limit Exceeded` and 16 `Output Limit Exceeded`, which Judge0 reports as runtime
//! errors.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use common::api::{Run, RunCase, RunStatus, Verdict};
use common::service::{Answer, Caller};
use serde_json::{json, Map, Value};

use crate::error::SubmissionError;
use crate::runs::{self, Asked};
use crate::Service;

/// The Judge0 CE version we answer as: Judge0's SDKs pick their language-id table by it.
pub const VERSION: &str = "1.13.1";
/// Most submissions in one batch.
pub const MAX_BATCH: usize = 20;
/// How long `?wait=true` waits (the edge answers 504 after its own deadline, 15 s by default).
const WAIT: Duration = Duration::from_secs(8);

/// Judge0 CE's language ids, old and new (clients hard-code them), and the language each runs
/// here.
const LANGUAGES: &[(u32, &str)] = &[
    (46, "bash"),
    (48, "c"),
    (49, "c"),
    (50, "c"),
    (103, "c"),
    (51, "csharp"),
    (52, "cpp"),
    (53, "cpp"),
    (54, "cpp"),
    (105, "cpp"),
    (55, "commonlisp"),
    (56, "d"),
    (57, "elixir"),
    (58, "erlang"),
    (59, "fortran"),
    (60, "go"),
    (95, "go"),
    (107, "go"),
    (61, "haskell"),
    (62, "java"),
    (91, "java"),
    (63, "javascript"),
    (93, "javascript"),
    (102, "javascript"),
    (64, "lua"),
    (65, "ocaml"),
    (67, "pascal"),
    (68, "php"),
    (71, "python3"),
    (92, "python3"),
    (100, "python3"),
    (113, "python3"),
    (72, "ruby"),
    (73, "rust"),
    (74, "typescript"),
    (78, "kotlin"),
    (81, "scala"),
    (85, "perl"),
];

/// Judge0's statuses, and ours beyond them (15, 16).
const STATUSES: &[(u32, &str)] = &[
    (1, "In Queue"),
    (2, "Processing"),
    (3, "Accepted"),
    (4, "Wrong Answer"),
    (5, "Time Limit Exceeded"),
    (6, "Compilation Error"),
    (7, "Runtime Error (SIGSEGV)"),
    (8, "Runtime Error (SIGXFSZ)"),
    (9, "Runtime Error (SIGFPE)"),
    (10, "Runtime Error (SIGABRT)"),
    (11, "Runtime Error (NZEC)"),
    (12, "Runtime Error (Other)"),
    (13, "Internal Error"),
    (14, "Exec Format Error"),
    (15, "Memory Limit Exceeded"),
    (16, "Output Limit Exceeded"),
];

/// What a submission shows when `fields` is not given (Judge0's default).
const DEFAULT_FIELDS: &[&str] = &[
    "stdout",
    "time",
    "memory",
    "stderr",
    "token",
    "compile_output",
    "message",
    "status",
];
/// Every field a submission has (`fields=*`).
const ALL_FIELDS: &[&str] = &[
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "wall_time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "exit_code",
    "exit_signal",
    "compile_output",
    "message",
    "status",
    "language",
];
/// Fields that travel in base64 with `base64_encoded=true`.
const ENCODED: &[&str] = &[
    "source_code",
    "stdin",
    "expected_output",
    "stdout",
    "stderr",
    "compile_output",
];

/// A Judge0 answer with status `status` and body `body` (errors in Judge0's shapes, not
/// problem documents).
fn reply(status: u16, body: &Value) -> Answer {
    Answer::json(status, body)
}

fn error(status: u16, message: &str) -> Answer {
    reply(status, &json!({"error": message}))
}

/// The query the edge passed on.
fn query(caller: &Caller) -> HashMap<String, String> {
    caller
        .query
        .as_deref()
        .and_then(|q| serde_json::from_str(q).ok())
        .unwrap_or_default()
}

/// A boolean query parameter (`true`/`false`, absent: false).
fn flag(q: &HashMap<String, String>, name: &str) -> Result<bool, Answer> {
    match q.get(name).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(_) => Err(error(400, &format!("{name} must be true or false"))),
    }
}

/// The fields to show, from `fields` (absent: the defaults; `*`: all).
fn fields(q: &HashMap<String, String>) -> Result<Vec<&'static str>, Answer> {
    let Some(asked) = q.get("fields") else {
        return Ok(DEFAULT_FIELDS.to_vec());
    };
    if asked.trim() == "*" {
        return Ok(ALL_FIELDS.to_vec());
    }
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for f in asked.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match ALL_FIELDS.iter().find(|a| **a == f) {
            Some(a) => out.push(*a),
            None => unknown.push(f.to_owned()),
        }
    }
    if !unknown.is_empty() {
        return Err(error(400, &format!("invalid fields: [{}]", unknown.join(", "))));
    }
    Ok(out)
}

/// Strict base64: the standard alphabet, padded, nothing else (no line breaks).
fn decode(text: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    String::from_utf8(bytes).ok()
}

fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Our language for a Judge0 language id.
fn language_of(id: u32) -> Option<&'static str> {
    LANGUAGES.iter().find(|(j, _)| *j == id).map(|(_, ours)| *ours)
}

/// The Judge0 id we show for one of our languages (the first, oldest one clients know).
fn judge0_id_of(language: &str) -> Option<u32> {
    LANGUAGES
        .iter()
        .find(|(_, ours)| *ours == language)
        .map(|(j, _)| *j)
}

/// A Judge0 submission body, checked: our request, or Judge0's per-field errors.
fn asked(body: &Value, base64: bool) -> Result<Asked, Value> {
    let mut errors = Map::new();
    let mut text = |name: &str, required: bool| -> Option<String> {
        match body.get(name) {
            None | Some(Value::Null) => {
                if required {
                    errors.insert(name.to_owned(), json!(["can't be blank"]));
                }
                None
            }
            Some(Value::String(s)) if base64 => {
                match decode(s) {
                    Some(d) => Some(d),
                    None => {
                        errors.insert(
                        name.to_owned(),
                        json!(["is not valid Base64 (standard alphabet, padded, no line breaks) of UTF-8 text"]),
                    );
                        None
                    }
                }
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.insert(name.to_owned(), json!(["must be a string"]));
                None
            }
        }
    };
    let source = text("source_code", true);
    let stdin = text("stdin", false);
    let expected_output = text("expected_output", false);
    let language = match body.get("language_id") {
        None | Some(Value::Null) => {
            errors.insert("language_id".into(), json!(["can't be blank"]));
            None
        }
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) {
            Some(id) => match u32::try_from(id).ok().and_then(language_of) {
                Some(l) => Some(l),
                None => {
                    errors.insert(
                        "language_id".into(),
                        json!([format!("language with id {id} doesn't exist")]),
                    );
                    None
                }
            },
            None => {
                errors.insert("language_id".into(), json!(["is not a number"]));
                None
            }
        },
    };
    if let Some(s) = &source {
        if s.is_empty() {
            errors.insert("source_code".into(), json!(["can't be blank"]));
        } else if s.len() > crate::submissions::SOURCE_MAX_BYTES {
            errors.insert("source_code".into(), json!(["is too long (at most 64 KiB)"]));
        }
    }
    for (name, value) in [("stdin", &stdin), ("expected_output", &expected_output)] {
        if value.as_ref().is_some_and(|v| v.len() > runs::STDIN_MAX_BYTES) {
            errors.insert(name.into(), json!(["is too long (at most 64 KiB)"]));
        }
    }
    if !errors.is_empty() {
        return Err(Value::Object(errors));
    }
    let (Some(source), Some(language)) = (source, language) else {
        unreachable!("errors name what is missing");
    };
    Ok(Asked {
        problem_id: None,
        language: language.to_owned(),
        source,
        // Judge0 runs without input when none is given.
        stdin: Some(stdin.unwrap_or_default()),
        expected_output,
    })
}

/// Judge0's status of a run.
fn status_of(run: &Run) -> (u32, Option<&RunCase>) {
    let report = match run.status {
        RunStatus::Queued => return (1, None),
        RunStatus::Done => &run.report,
        _ => return (2, None),
    };
    let case = report.cases.first();
    let id = match report.verdict {
        Some(Verdict::CompilationError) => 6,
        Some(Verdict::InternalError) => 13,
        _ => match case.and_then(|c| c.verdict.map(|v| (v, c))) {
            None | Some((Verdict::Accepted, _)) => 3,
            // A run's case is never scored; were one partial, Judge0's nearest is Wrong Answer.
            Some((Verdict::WrongAnswer | Verdict::PartiallyAccepted, _)) => 4,
            Some((Verdict::TimeLimitExceeded, _)) => 5,
            Some((Verdict::MemoryLimitExceeded, _)) => 15,
            Some((Verdict::OutputLimitExceeded, _)) => 16,
            Some((Verdict::RuntimeError, c)) => match (c.signal, c.exit_code) {
                (Some(11), _) => 7,
                (Some(25), _) => 8,
                (Some(8), _) => 9,
                (Some(6), _) => 10,
                (None, Some(code)) if code != 0 => 11,
                _ => 12,
            },
            Some((Verdict::CompilationError, _)) => 6,
            Some((Verdict::InternalError, _)) => 13,
        },
    };
    (id, case)
}

/// A run as a Judge0 submission with `fields`.
fn view(run: &Run, base64: bool, fields: &[&str]) -> Value {
    let (status, case) = status_of(run);
    let report = Some(&run.report).filter(|_| run.status.is_final());
    let text = |value: Option<String>, name: &str| -> Value {
        match value {
            None => Value::Null,
            Some(v) if base64 && ENCODED.contains(&name) => Value::String(encode(&v)),
            Some(v) => Value::String(v),
        }
    };
    let done = run.status.is_final();
    let message = report
        .and_then(|r| r.error.clone())
        .or_else(|| case.and_then(|c| c.detail.clone()));
    let mut out = Map::new();
    for &field in fields {
        let value = match field {
            "source_code" => text(Some(run.source.clone()), field),
            "language_id" => json!(judge0_id_of(&run.language)),
            "language" => json!({"id": judge0_id_of(&run.language), "name": run.language}),
            "stdin" => text(run.stdin.clone(), field),
            "expected_output" => text(run.expected_output.clone(), field),
            "stdout" => text(case.map(|c| c.stdout.text.clone()).filter(|_| done), field),
            "stderr" => text(
                case.map(|c| c.stderr.text.clone())
                    .filter(|s| done && !s.is_empty()),
                field,
            ),
            "compile_output" => text(report.and_then(|r| r.compile_output.clone()), field),
            "message" => json!(message),
            "status" => {
                let description = STATUSES.iter().find(|(i, _)| *i == status).map(|(_, d)| *d);
                json!({"id": status, "description": description})
            }
            "status_id" => json!(status),
            "created_at" => json!(run.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            "finished_at" => Value::Null,
            "time" => json!(case.map(|c| format!("{:.3}", c.time_ms as f64 / 1000.0))),
            "wall_time" => json!(case.map(|c| format!("{:.3}", c.wall_time_ms as f64 / 1000.0))),
            "memory" => json!(case.map(|c| c.memory_kb)),
            "exit_code" => json!(case.and_then(|c| c.exit_code)),
            "exit_signal" => json!(case.and_then(|c| c.signal)),
            "number_of_runs" => json!(1),
            "token" => json!(run.id),
            _ => Value::Null,
        };
        out.insert(field.to_owned(), value);
    }
    Value::Object(out)
}

/// Waits (bounded) until the run is done; the run as it stands then.
async fn wait_done(svc: &Service, caller: &Caller, mut run: Run) -> Result<Run, SubmissionError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !run.status.is_final() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if let Some(now) = runs::read(svc, caller, &run.id).await? {
            run = now;
        }
    }
    Ok(run)
}

fn parse_body(body: &[u8]) -> Result<Value, Answer> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(error(400, "the body must be a JSON object")),
        Err(e) => Err(error(400, &format!("the body is not JSON: {e}"))),
    }
}

/// `POST /judge0/submissions` (`?base64_encoded`, `?wait`, `?fields`).
pub async fn create(svc: &Service, caller: &Caller, body: &[u8]) -> Result<Answer, SubmissionError> {
    let user = caller.user().ok_or(SubmissionError::Unauthenticated)?.to_owned();
    let q = query(caller);
    let (base64, wait, fields) = match (flag(&q, "base64_encoded"), flag(&q, "wait"), fields(&q)) {
        (Ok(b), Ok(w), Ok(f)) => (b, w, f),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return Ok(e),
    };
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(e) => return Ok(e),
    };
    let asked = match asked(&body, base64) {
        Ok(a) => a,
        Err(errors) => return Ok(reply(422, &errors)),
    };
    let run = runs::start(svc, &user, asked).await?;
    if !wait {
        return Ok(reply(201, &json!({"token": run.id})));
    }
    let run = wait_done(svc, caller, run).await?;
    Ok(reply(201, &view(&run, base64, &fields)))
}

/// `GET /judge0/submissions/{token}` (`?base64_encoded`, `?fields`).
pub async fn get(svc: &Service, caller: &Caller, token: &str) -> Result<Answer, SubmissionError> {
    let q = query(caller);
    let (base64, fields) = match (flag(&q, "base64_encoded"), fields(&q)) {
        (Ok(b), Ok(f)) => (b, f),
        (Err(e), _) | (_, Err(e)) => return Ok(e),
    };
    match runs::read(svc, caller, token).await? {
        Some(run) => Ok(reply(200, &view(&run, base64, &fields))),
        None => Ok(error(404, "Not Found")),
    }
}

/// `POST /judge0/submissions/batch` `{"submissions": [...]}`: a token or the errors of each.
pub async fn batch_create(svc: &Service, caller: &Caller, body: &[u8]) -> Result<Answer, SubmissionError> {
    let user = caller.user().ok_or(SubmissionError::Unauthenticated)?.to_owned();
    let q = query(caller);
    let base64 = match flag(&q, "base64_encoded") {
        Ok(b) => b,
        Err(e) => return Ok(e),
    };
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(e) => return Ok(e),
    };
    let Some(items) = body.get("submissions").and_then(Value::as_array) else {
        return Ok(reply(422, &json!({"submissions": ["must be an array"]})));
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Ok(error(
            400,
            &format!("number of submissions in a batch should be between 1 and {MAX_BATCH}"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match asked(item, base64) {
            Ok(a) => {
                let run = runs::start(svc, &user, a).await?;
                out.push(json!({"token": run.id}));
            }
            Err(errors) => out.push(errors),
        }
    }
    Ok(reply(201, &Value::Array(out)))
}

/// `GET /judge0/submissions/batch?tokens=a,b,…`: each submission, `null` for an unknown token.
pub async fn batch_get(svc: &Service, caller: &Caller) -> Result<Answer, SubmissionError> {
    let q = query(caller);
    let (base64, fields) = match (flag(&q, "base64_encoded"), fields(&q)) {
        (Ok(b), Ok(f)) => (b, f),
        (Err(e), _) | (_, Err(e)) => return Ok(e),
    };
    let tokens: Vec<&str> = q
        .get("tokens")
        .map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).collect())
        .unwrap_or_default();
    if tokens.is_empty() || tokens.len() > MAX_BATCH {
        return Ok(error(400, &format!("give 1 to {MAX_BATCH} tokens")));
    }
    let mut out = Vec::with_capacity(tokens.len());
    for token in tokens {
        out.push(match runs::read(svc, caller, token).await? {
            Some(run) => view(&run, base64, &fields),
            None => Value::Null,
        });
    }
    Ok(reply(200, &json!({"submissions": out})))
}

/// `GET /judge0/languages`: the Judge0 ids whose language a judge runs now, with our version.
pub async fn languages(svc: &Service) -> Result<Answer, SubmissionError> {
    let offered = svc.languages().await;
    let mut out: Vec<(u32, Value)> = LANGUAGES
        .iter()
        .filter_map(|(id, ours)| {
            let l = offered.iter().find(|l| l.id == *ours)?;
            Some((
                *id,
                json!({"id": id, "name": format!("{} ({})", l.name, l.version)}),
            ))
        })
        .collect();
    out.sort_by_key(|(id, _)| *id);
    Ok(reply(
        200,
        &Value::Array(out.into_iter().map(|(_, v)| v).collect()),
    ))
}

/// `GET /judge0/languages/{id}`.
pub async fn language(svc: &Service, id: &str) -> Result<Answer, SubmissionError> {
    let offered = svc.languages().await;
    let found = id
        .parse::<u32>()
        .ok()
        .and_then(|id| language_of(id).map(|ours| (id, ours)))
        .and_then(|(id, ours)| offered.iter().find(|l| l.id == ours).map(|l| (id, l)));
    match found {
        Some((id, l)) => Ok(reply(
            200,
            &json!({"id": id, "name": format!("{} ({})", l.name, l.version), "is_archived": false}),
        )),
        None => Ok(error(404, "Not Found")),
    }
}

/// `GET /judge0/statuses`.
pub fn statuses() -> Answer {
    let list: Vec<Value> = STATUSES
        .iter()
        .map(|(id, d)| json!({"id": id, "description": d}))
        .collect();
    reply(200, &Value::Array(list))
}

/// `GET /judge0/about`.
pub fn about() -> Answer {
    reply(
        200,
        &json!({
            "version": VERSION,
            "homepage": "/",
            "source_code": "/",
            "maintainer": "this judge's operators",
        }),
    )
}

/// `GET /judge0/config_info`: Judge0's configuration document, with our judges' values where
/// they have one.
pub fn config_info(svc: &Service) -> Answer {
    let _ = svc;
    reply(
        200,
        &json!({
            "maintenance_mode": false,
            "enable_wait_result": true,
            "enable_compiler_options": false,
            "allowed_languages_for_compile_options": [],
            "enable_command_line_arguments": false,
            "enable_submission_delete": false,
            "enable_callbacks": false,
            "callbacks_max_tries": 0,
            "callbacks_timeout": 0.0,
            "enable_additional_files": false,
            "max_queue_size": 100,
            "cpu_time_limit": 1.0,
            "max_cpu_time_limit": 1.0,
            "cpu_extra_time": 1.0,
            "max_cpu_extra_time": 1.0,
            "wall_time_limit": 2.0,
            "max_wall_time_limit": 2.0,
            "memory_limit": 262144,
            "max_memory_limit": 262144,
            "stack_limit": 262144,
            "max_stack_limit": 262144,
            "enable_per_process_and_thread_time_limit": false,
            "allow_enable_per_process_and_thread_time_limit": false,
            "enable_per_process_and_thread_memory_limit": false,
            "allow_enable_per_process_and_thread_memory_limit": false,
            "max_processes_and_or_threads": 64,
            "max_max_processes_and_or_threads": 64,
            "max_file_size": 8192,
            "max_max_file_size": 8192,
            "number_of_runs": 1,
            "max_number_of_runs": 1,
            "redirect_stderr_to_stdout": false,
            "max_extract_size": 0,
            "enable_batched_submissions": true,
            "max_submission_batch_size": MAX_BATCH,
            "submission_cache_duration": 1.0,
            "use_docs_as_homepage": false,
            "allow_enable_network": false,
            "enable_network": false,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_strict() {
        assert_eq!(decode("cHJpbnQoMSk=").as_deref(), Some("print(1)"));
        assert_eq!(decode("cHJpbnQo\nMSk="), None, "no line breaks");
        assert_eq!(decode("cHJpbnQoMSk"), None, "padded");
        assert_eq!(decode("!!!!"), None);
        assert_eq!(decode("/w=="), None, "UTF-8 text");
    }

    #[test]
    fn clients_hard_coded_ids_map_to_our_languages() {
        for (ids, ours) in [
            (&[50, 48, 49, 103][..], "c"),
            (&[54, 52, 53, 105], "cpp"),
            (&[71, 92, 100], "python3"),
            (&[62, 91], "java"),
            (&[63, 93, 102], "javascript"),
            (&[73], "rust"),
            (&[60, 95, 107], "go"),
            (&[51], "csharp"),
            (&[72], "ruby"),
            (&[68], "php"),
            (&[74], "typescript"),
            (&[78], "kotlin"),
        ] {
            for id in ids {
                assert_eq!(language_of(*id), Some(ours), "{id}");
            }
        }
        assert_eq!(language_of(9999), None);
    }

    #[test]
    fn bad_submissions_get_judge0_field_errors() {
        let e = asked(&json!({"language_id": 9999}), false).err().unwrap();
        assert_eq!(e["source_code"], json!(["can't be blank"]));
        assert_eq!(e["language_id"], json!(["language with id 9999 doesn't exist"]));
        let e = asked(&json!({"language_id": 71, "source_code": "x\ny"}), true)
            .err()
            .unwrap();
        assert!(e["source_code"][0].as_str().unwrap().contains("Base64"));
        let ok = asked(&json!({"language_id": "71", "source_code": "eA=="}), true).unwrap();
        assert_eq!(
            (ok.language.as_str(), ok.source.as_str(), ok.stdin.as_deref()),
            ("python3", "x", Some(""))
        );
    }

    #[test]
    fn fields_are_checked() {
        let q = |f: &str| HashMap::from([("fields".to_owned(), f.to_owned())]);
        assert_eq!(fields(&HashMap::new()).unwrap(), DEFAULT_FIELDS);
        assert_eq!(fields(&q("*")).unwrap(), ALL_FIELDS);
        assert_eq!(fields(&q("token,stdout")).unwrap(), ["token", "stdout"]);
        assert_eq!(fields(&q("token,nope")).unwrap_err().status, 400);
    }
}
