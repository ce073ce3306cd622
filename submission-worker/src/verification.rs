//! Verifying an uploaded package through the pipeline: each of its own submissions
//! (`submissions/<verdict>/…`, DOMjudge's `@EXPECTED_RESULTS@:` tags) becomes a job on the
//! `REJUDGE` stream — behind every new submission — under the id
//! [`common::jobs::packaged_job_id`]; the results applier stores its updates in
//! `packaged_checks` ([`apply`]) and, when the last one is judged, settles the version
//! ([`settle`]): `passed` makes it the version new submissions use (if no newer one is in use),
//! `failed` holds it back until an admin activates it ([`activate`]).
//!
//! A problem's first version is used from its upload on (there is no other to use); if it then
//! fails, new submissions are refused until an admin activates a version.

use common::api::{self, Status, Verdict, VerificationStatus};
use common::jobs::{GradingJob, GradingStatus, GradingUpdate};
use common::service::{Answer, Caller};
use futures::TryStreamExt;
use mongodb::bson::{doc, to_bson};

use crate::error::SubmissionError;
use crate::store::{version_key, CheckRecord, Outbox, ProblemRecord, Store, VersionRecord};
use crate::Service;

/// Largest packaged source verified (as for a submission).
const SOURCE_MAX_BYTES: usize = crate::submissions::SOURCE_MAX_BYTES;

/// A packaged submission read from an uploaded package.
#[derive(Debug, Clone)]
pub struct Packaged {
    pub path: String,
    pub expected: Vec<Verdict>,
    pub source: String,
}

/// The package's own submissions (read from its unpacked `root`), and warnings for those that
/// cannot be verified.
pub fn packaged(root: &std::path::Path) -> (Vec<Packaged>, Vec<String>) {
    let (subs, mut warnings) = problem_package::verify::packaged_submissions(root);
    let mut out = Vec::new();
    for s in subs {
        let expected: Result<Vec<Verdict>, _> = s
            .expected
            .iter()
            .map(|v| serde_json::from_value::<Verdict>(serde_json::Value::String(v.clone())))
            .collect();
        let Ok(expected) = expected else {
            warnings.push(format!(
                "{}: not verified: expects a verdict this judge does not have",
                s.path
            ));
            continue;
        };
        match std::fs::read(root.join(&s.path)) {
            Ok(bytes) if bytes.len() > SOURCE_MAX_BYTES => warnings.push(format!(
                "{}: not verified: larger than {SOURCE_MAX_BYTES} bytes",
                s.path
            )),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(source) => out.push(Packaged {
                    path: s.path,
                    expected,
                    source,
                }),
                Err(_) => warnings.push(format!("{}: not verified: not UTF-8 text", s.path)),
            },
            Err(e) => warnings.push(format!("{}: not verified: {e}", s.path)),
        }
    }
    (out, warnings)
}

/// The checks of version `version` of `problem_id`: those of `packaged` a judge offers a language
/// for (by file name); the others become warnings.
pub fn checks(
    problem_id: &str,
    version: u32,
    packaged: &[Packaged],
    languages: &[api::Language],
    warnings: &mut Vec<String>,
) -> Vec<CheckRecord> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut out = Vec::new();
    for p in packaged {
        let name = p.path.rsplit('/').next().unwrap_or(&p.path);
        let Some(language) = api::language::language_of_file(languages, name) else {
            warnings.push(format!(
                "{}: not verified: no judge offers a language for this file name now",
                p.path
            ));
            continue;
        };
        let index = out.len() as u32;
        out.push(CheckRecord {
            id: common::jobs::packaged_job_id(problem_id, version, index),
            version_key: version_key(problem_id, version),
            index,
            path: p.path.clone(),
            language: language.id.clone(),
            expected: p.expected.clone(),
            source: p.source.clone(),
            status: Status::Queued,
            progress: None,
            verdict: None,
            time_ms: None,
            memory_kb: None,
            note: None,
            outbox: Outbox::Pending,
            created_ms: now_ms,
        });
    }
    out
}

/// The job that judges `check` on `problem` (the version it belongs to).
fn job_of(check: &CheckRecord, problem: &ProblemRecord) -> GradingJob {
    GradingJob {
        submission_id: check.id.clone(),
        problem_id: problem.id.clone(),
        problem_version: problem.version,
        package_digest: problem.package_digest.clone(),
        language: check.language.clone(),
        source: check.source.clone(),
        run_all_tests: false,
        judging: common::jobs::first_judging(),
    }
}

/// Publishes the jobs of `checks` (of version `problem`), marking the published ones' outbox
/// entries done; what fails stays pending for the sweep. The jobs go out together, each waiting
/// only for its own ack, and are marked in one write: an upload's checks reach the judges at once.
pub async fn publish(svc: &Service, problem: &ProblemRecord, checks: &[CheckRecord]) {
    /// Publishes awaiting their acks at once.
    const IN_FLIGHT: usize = 64;
    let mut published = Vec::new();
    for chunk in checks.chunks(IN_FLIGHT) {
        let sent =
            futures::future::join_all(chunk.iter().map(|check| publish_one(svc, problem, check))).await;
        published.extend(sent.into_iter().flatten());
    }
    if published.is_empty() {
        return;
    }
    let done = svc
        .store
        .checks
        .update_many(
            doc! {"_id": {"$in": &published}},
            doc! {"$set": {"outbox": Outbox::Done}},
        )
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "marking verification jobs published (the sweep publishes them again; the stream drops the copies)");
    }
}

/// Publishes one check's job; gives its id when the stream has it.
async fn publish_one(svc: &Service, problem: &ProblemRecord, check: &CheckRecord) -> Option<String> {
    match crate::submissions::publish_job(&svc.js, &job_of(check, problem)).await {
        Ok(_) => Some(check.id.clone()),
        Err(e) => {
            tracing::warn!(check = %check.id, error = %e, "verification job not published yet; the sweep will retry");
            None
        }
    }
}

/// How long an upload may take from its version record to its problem write before the sweep
/// takes it for one that stopped half-way (its steps take milliseconds).
pub const UNFINISHED_AFTER_MS: i64 = 60_000;

/// Settles uploads that stopped half-way (their worker died, or the store failed mid-way), left
/// unfinished for over [`UNFINISHED_AFTER_MS`] before `now_ms`: one whose problem write happened
/// (the problem names this version or a newer one as its newest) is marked finished and goes on
/// as any; one whose never did is removed with its checks — nobody was told it was stored, and
/// left alone it would stay `running` forever, or be judged and put in use unasked. Returns how
/// many it settled.
pub async fn repair_unfinished(store: &Store, now_ms: i64) -> Result<usize, mongodb::error::Error> {
    let stale: Vec<VersionRecord> = store
        .versions
        .find(doc! {"unfinished_ms": {"$lt": now_ms - UNFINISHED_AFTER_MS}})
        .limit(50)
        .await?
        .try_collect()
        .await?;
    for version in &stale {
        // The problem is written after every check, so a written upload has all of them.
        let written = checks_of(store, &version.id).await?.len() == version.total as usize
            && store
                .problems
                .find_one(
                    doc! {"_id": &version.problem_id, "latest_version": {"$gte": version.version as i64}},
                )
                .await?
                .is_some();
        if written {
            tracing::warn!(version = %version.id, "an upload's last step was not recorded; finished now");
            mark_finished(store, &version.id).await?;
        } else {
            tracing::warn!(version = %version.id, "an upload stopped before storing its problem; removed");
            store
                .checks
                .delete_many(doc! {"version_key": &version.id})
                .await?;
            store.versions.delete_one(doc! {"_id": &version.id}).await?;
        }
    }
    Ok(stale.len())
}

/// Marks the upload of version `key` finished (its problem is written): its checks may be judged.
pub async fn mark_finished(store: &Store, key: &str) -> mongodb::error::Result<()> {
    store
        .versions
        .update_one(doc! {"_id": key}, doc! {"$unset": {"unfinished_ms": ""}})
        .await
        .map(|_| ())
}

/// Publishes verification jobs saved but not yet in the stream (older than `before_ms`), those
/// of uploads still unfinished left for [`repair_unfinished`].
pub async fn sweep(svc: &Service, before_ms: i64) -> Result<usize, mongodb::error::Error> {
    repair_unfinished(&svc.store, chrono::Utc::now().timestamp_millis()).await?;
    let pending: Vec<CheckRecord> = svc
        .store
        .checks
        .find(doc! {"outbox": Outbox::Pending, "created_ms": {"$lt": before_ms}})
        .limit(200)
        .await?
        .try_collect()
        .await?;
    // By version: one read of each, and its pending checks published together.
    let mut by_version: std::collections::BTreeMap<String, Vec<CheckRecord>> = Default::default();
    for check in pending {
        by_version
            .entry(check.version_key.clone())
            .or_default()
            .push(check);
    }
    let mut published = 0;
    for (key, checks) in by_version {
        let Some(version) = svc.store.versions.find_one(doc! {"_id": &key}).await? else {
            // Its upload stopped before storing the version: nothing will read them.
            let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
            svc.store.checks.delete_many(doc! {"_id": {"$in": ids}}).await?;
            continue;
        };
        if version.unfinished_ms.is_some() {
            continue;
        }
        publish(svc, &version.problem, &checks).await;
        published += checks.len();
    }
    Ok(published)
}

/// Stores a judge's update of a packaged submission; when it is the last verdict the version
/// waited for, settles the version.
pub async fn apply(store: &Store, update: &GradingUpdate) -> Result<(), SubmissionError> {
    let filter = doc! {"_id": &update.submission_id, "status": {"$ne": Status::Judged.as_str()}};
    let now_ms = chrono::Utc::now().timestamp_millis();
    let set = match &update.status {
        GradingStatus::Compiling => doc! {"status": Status::Compiling.as_str()},
        GradingStatus::Running { test, of } => doc! {
            "status": Status::Running.as_str(),
            "progress": to_bson(&api::Progress { test: *test, of: *of }).map_err(|e| SubmissionError::Internal(e.to_string()))?,
        },
        GradingStatus::Judged { report } => {
            let mut set = doc! {
                "status": Status::Judged.as_str(),
                "verdict": report.verdict.as_str(),
                "time_ms": report.run_time_ms as i64,
                "memory_kb": report.memory_kb as i64,
            };
            if let Some(note) = report.error.clone().or_else(|| report.compile_output.clone()) {
                let note: String = note.chars().take(2000).collect();
                set.insert("note", note);
            }
            set
        }
    };
    let mut set = set;
    set.insert("updated_ms", now_ms);
    let changed = store.checks.update_one(filter, doc! {"$set": set}).await?;
    if changed.matched_count == 1 && matches!(update.status, GradingStatus::Judged { .. }) {
        let key = update
            .submission_id
            .strip_prefix(common::jobs::PACKAGED_JOB_PREFIX)
            .and_then(|rest| rest.rsplit_once(':'))
            .map(|(key, _)| key.to_owned())
            .unwrap_or_default();
        settle(store, &key).await?;
    }
    Ok(())
}

/// The checks of a version, in package order, without their sources.
async fn checks_of(store: &Store, key: &str) -> mongodb::error::Result<Vec<CheckRecord>> {
    let mut checks: Vec<CheckRecord> = store
        .checks
        .find(doc! {"version_key": key})
        .projection(doc! {"source": 0})
        .await?
        .try_collect()
        .await?;
    checks.sort_by_key(|c| c.index);
    Ok(checks)
}

/// Settles version `key` once every check is judged: `passed` or `failed`, recorded on the version
/// and on the problem; a passed version is put in use (unless a newer one is), the failed version
/// in use is held. Safe to repeat: only the call that moves the version out of `running` acts.
pub async fn settle(store: &Store, key: &str) -> Result<(), SubmissionError> {
    let checks = checks_of(store, key).await?;
    if checks.is_empty() || checks.iter().any(|c| c.status != Status::Judged) {
        return Ok(());
    }
    let Some(version) = store.versions.find_one(doc! {"_id": key}).await? else {
        return Ok(());
    };
    let status = if checks.iter().all(|c| c.agrees() == Some(true)) {
        VerificationStatus::Passed
    } else {
        VerificationStatus::Failed
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let moved = store
        .versions
        .update_one(
            doc! {"_id": key, "verification": VerificationStatus::Running.as_str()},
            doc! {"$set": {"verification": status.as_str(), "verified_ms": now_ms}},
        )
        .await?;
    if moved.matched_count == 0 {
        return Ok(());
    }
    tracing::info!(problem = %version.problem_id, version = version.version, verification = status.as_str(), "problem version verified");
    store
        .problems
        .update_one(
            doc! {"_id": &version.problem_id, "latest_version": version.version as i64},
            doc! {"$set": {"latest_verification": status.as_str()}},
        )
        .await?;
    match status {
        VerificationStatus::Passed => {
            activate(store, &version.problem_id, version.version, "verification", true).await?;
        }
        _ => {
            store
                .problems
                .update_one(
                    doc! {"_id": &version.problem_id, "version": version.version as i64},
                    doc! {"$set": {"held": version.version as i64}},
                )
                .await?;
        }
    }
    Ok(())
}

/// Makes `version` of `problem_id` the one new submissions use (and lifts a hold). With
/// `only_newer`, leaves a problem alone whose version in use is as new or newer. Returns the
/// problem as it then stands.
pub async fn activate(
    store: &Store,
    problem_id: &str,
    version: u32,
    by: &str,
    only_newer: bool,
) -> Result<ProblemRecord, SubmissionError> {
    let key = version_key(problem_id, version);
    let stored = store
        .versions
        .find_one(doc! {"_id": &key})
        .await?
        .ok_or(SubmissionError::NotFound("problem version"))?;
    loop {
        let current = store
            .problems
            .find_one(doc! {"_id": problem_id})
            .await?
            .ok_or(SubmissionError::NotFound("problem"))?;
        if (only_newer && current.version >= version)
            || (current.version == version && current.held.is_none())
        {
            return Ok(current);
        }
        let record = ProblemRecord {
            created_at: current.created_at,
            updated_at: crate::now(),
            latest_version: current.latest_version.max(version),
            latest_verification: current.latest_verification,
            held: None,
            ..stored.problem.clone()
        };
        let replaced = store
            .problems
            .replace_one(
                doc! {"_id": problem_id, "version": current.version as i64, "latest_version": current.latest_version as i64},
                &record,
            )
            .await?;
        if replaced.matched_count == 1 {
            store
                .versions
                .update_one(
                    doc! {"_id": &key},
                    doc! {"$set": {"activated_ms": chrono::Utc::now().timestamp_millis(), "activated_by": by}},
                )
                .await?;
            tracing::info!(problem = %problem_id, version, by, "problem version in use");
            return Ok(record);
        }
    }
}

/// The API view of a version, with its counts.
fn view(version: &VersionRecord, active: u32, checks: &[CheckRecord]) -> api::ProblemVersion {
    let ms = |ms: Option<i64>| ms.and_then(chrono::DateTime::from_timestamp_millis);
    api::ProblemVersion {
        problem_id: version.problem_id.clone(),
        version: version.version,
        package_digest: version.problem.package_digest.clone(),
        verification: version.verification,
        active: version.version == active,
        total: version.total,
        judged: checks.iter().filter(|c| c.status == Status::Judged).count() as u32,
        disagreeing: checks.iter().filter(|c| c.agrees() == Some(false)).count() as u32,
        uploaded_at: chrono::DateTime::from_timestamp_millis(version.uploaded_ms).unwrap_or_default(),
        verified_at: ms(version.verified_ms),
        activated_at: ms(version.activated_ms),
        activated_by: version.activated_by.clone(),
    }
}

/// `problem:version` from a resource id; a version that is not a number names no version.
fn parse_key(resource: &str) -> Result<(String, u32), SubmissionError> {
    resource
        .rsplit_once(':')
        .and_then(|(p, v)| Some((p.to_owned(), v.parse().ok()?)))
        .ok_or(SubmissionError::NotFound("problem version"))
}

fn admin(caller: &Caller) -> Result<(), SubmissionError> {
    caller.user().ok_or(SubmissionError::Unauthenticated)?;
    if caller.is_admin() {
        Ok(())
    } else {
        Err(SubmissionError::Forbidden(
            "Only admins may see and activate problem versions",
        ))
    }
}

/// `GET /api/problems/{id}/versions` (admins): every uploaded version, newest first.
pub async fn list(svc: &Service, caller: &Caller, problem_id: &str) -> Result<Answer, SubmissionError> {
    admin(caller)?;
    let problem = svc
        .store
        .problems
        .find_one(doc! {"_id": problem_id})
        .await?
        .ok_or(SubmissionError::NotFound("problem"))?;
    let mut versions: Vec<VersionRecord> = svc
        .store
        .versions
        .find(doc! {"problem_id": problem_id})
        .await?
        .try_collect()
        .await?;
    versions.sort_by_key(|v| std::cmp::Reverse(v.version));
    let mut items = Vec::new();
    for v in versions.iter().take(100) {
        let checks = checks_of(&svc.store, &v.id).await?;
        items.push(view(v, problem.version, &checks));
    }
    Ok(Answer::json(200, &serde_json::json!({ "items": items })))
}

/// `GET /api/problems/{id}/versions/{version}` (admins): the verification report, as it stands
/// (each packaged submission's status moves as it is judged).
pub async fn get(svc: &Service, caller: &Caller, resource: &str) -> Result<Answer, SubmissionError> {
    admin(caller)?;
    let (problem_id, number) = parse_key(resource)?;
    let key = version_key(&problem_id, number);
    let (problem, version) = tokio::try_join!(
        svc.store.problems.find_one(doc! {"_id": &problem_id}),
        svc.store.versions.find_one(doc! {"_id": &key}),
    )?;
    let (Some(problem), Some(version)) = (problem, version) else {
        return Err(SubmissionError::NotFound("problem version"));
    };
    let checks = checks_of(&svc.store, &key).await?;
    let report = api::VerificationReport {
        version: view(&version, problem.version, &checks),
        limits: version.problem.limits.clone(),
        submissions: checks.iter().map(CheckRecord::view).collect(),
        warnings: version.warnings.clone(),
    };
    Ok(Answer::json(200, &report))
}

/// `POST /api/problems/{id}/versions/{version}/activate` (admins): new submissions use this
/// version from now on, whatever its verification says (an older one too: a rollback).
pub async fn activate_by_admin(
    svc: &Service,
    caller: &Caller,
    resource: &str,
) -> Result<Answer, SubmissionError> {
    admin(caller)?;
    let (problem_id, number) = parse_key(resource)?;
    let by = caller.user().unwrap_or_default().to_owned();
    let record = activate(&svc.store, &problem_id, number, &by, false).await?;
    svc.problem_refs.forget(&problem_id).await;
    Ok(Answer::json(200, &record.detail()))
}
