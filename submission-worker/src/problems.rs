//! Problems: an admin uploads a package zip; it is checked by the package format's own parser
//! before anything is stored, its bytes go to the `problems` object store under their SHA-256
//! (judges read it from there), and its metadata and statement to MongoDB. Re-uploading a changed
//! package makes a new version; the same bytes again change nothing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::api::{body, StatementFormat, StatementQuery, VerificationStatus};
use common::jobs::PROBLEMS_BUCKET;
use common::service::{Answer, Caller};
use futures::TryStreamExt;
use mongodb::bson::doc;
use problem_package::archive::{self, ArchiveLimits};
use problem_package::ProblemPackage;
use sha2::{Digest, Sha256};

use crate::error::SubmissionError;
use crate::store::{version_key, CheckRecord, ProblemRecord, Store, VersionRecord};
use crate::verification;
use crate::Service;

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /api/problems?id=&verify=` (admin).
pub async fn create(svc: &Service, caller: &Caller, zip: Bytes) -> Result<Answer, SubmissionError> {
    caller.user().ok_or(SubmissionError::Unauthenticated)?;
    if !caller.is_admin() {
        return Err(SubmissionError::Forbidden("Only admins may upload problems"));
    }
    let query: std::collections::HashMap<String, String> =
        crate::query(caller.query.as_deref().unwrap_or_default().as_bytes())?;
    let verify = match query.get("verify").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(common::api::BodyError::field("verify", "must be true or false").into()),
    };
    let (problem, uploaded) = import(svc, caller.resource_id.clone(), zip, verify).await?;
    // The same bytes again change nothing: 200 with the stored version.
    let status = if uploaded.is_some() { 201 } else { 200 };
    let mut answer = Answer::json(status, &problem.detail());
    let version = uploaded.unwrap_or(problem.latest_version.max(problem.version));
    answer.location = Some(format!("/api/problems/{}/versions/{version}", problem.id));
    Ok(answer)
}

/// A checked package: what the problem record keeps, and its own submissions.
struct Checked {
    package: ProblemPackage,
    packaged: Vec<verification::Packaged>,
    warnings: Vec<String>,
}

/// Unpacks and checks a package (off the async threads: a package can be large).
async fn check(zip: Bytes) -> Result<Checked, SubmissionError> {
    tokio::task::spawn_blocking(move || -> Result<Checked, Vec<String>> {
        let dir = tempfile::tempdir().map_err(|e| vec![format!("temporary directory: {e}")])?;
        let dest = dir.path().join("package");
        std::fs::create_dir(&dest).map_err(|e| vec![e.to_string()])?;
        let root =
            archive::unpack_zip(&zip, &dest, ArchiveLimits::default()).map_err(|e| vec![e.to_string()])?;
        let mut package = ProblemPackage::load(&root).map_err(|e| e.reasons)?;
        if root == dest {
            package.short_name.clear();
        }
        let (packaged, warnings) = verification::packaged(&root);
        Ok(Checked {
            package,
            packaged,
            warnings,
        })
    })
    .await
    .map_err(|e| SubmissionError::Internal(format!("checking the package: {e}")))?
    .map_err(SubmissionError::InvalidPackage)
}

/// Checks a package and stores it as the next version of problem `requested_id` (default: the
/// package's folder name), queueing the verification of its own submissions unless `verify` is
/// false. Returns the problem as it then stands (the version new submissions use) and the
/// number of the version this upload made, `None` when the bytes were already a version. Also
/// used by `submission-worker import`.
pub async fn import(
    svc: &Service,
    requested_id: Option<String>,
    zip: Bytes,
    verify: bool,
) -> Result<(ProblemRecord, Option<u32>), SubmissionError> {
    let Checked {
        package: parsed,
        packaged,
        warnings,
    } = check(zip.clone()).await?;
    let id = requested_id
        .or_else(|| (!parsed.short_name.is_empty()).then(|| parsed.short_name.clone()))
        .ok_or_else(|| {
            common::api::BodyError::field(
                "id",
                "name the problem with ?id= or wrap the package in a folder named after it",
            )
        })?
        .to_ascii_lowercase();
    if !valid_id(&id) {
        return Err(
            common::api::BodyError::field("id", "must be 1 to 64 letters, digits, '-' or '_'").into(),
        );
    }
    let digest = hex::encode(Sha256::digest(&zip));
    // The same bytes again are the same version (in use, or the newest upload), not a new one.
    if let Some(existing) = svc.store.problems.find_one(doc! {"_id": &id}).await? {
        if existing.package_digest == digest {
            return Ok((existing, None));
        }
        let latest = version_key(&id, existing.latest_version);
        if let Some(v) = svc.store.versions.find_one(doc! {"_id": latest}).await? {
            if v.problem.package_digest == digest {
                return Ok((existing, None));
            }
        }
    }
    let objects = svc
        .js
        .get_object_store(PROBLEMS_BUCKET)
        .await
        .map_err(|e| SubmissionError::Broker(e.to_string()))?;
    objects
        .put(digest.as_str(), &mut zip.as_ref())
        .await
        .map_err(|e| SubmissionError::Broker(format!("storing the package: {e}")))?;
    let languages = if verify && !packaged.is_empty() {
        svc.languages().await
    } else {
        std::sync::Arc::from([])
    };
    let upload = Upload {
        id: &id,
        parsed: &parsed,
        digest: &digest,
        packaged: if verify { &packaged } else { &[] },
        languages: &languages,
        warnings: &warnings,
        verify,
    };
    let (stored, version, checks) = store_version(&svc.store, upload).await?;
    tracing::info!(problem = %id, digest = %digest, version, in_use = stored.version, verifying = checks.len(), "problem stored");
    if !checks.is_empty() {
        let key = version_key(&id, version);
        if let Some(v) = svc.store.versions.find_one(doc! {"_id": key}).await? {
            verification::publish(svc, &v.problem, &checks).await;
        }
    }
    svc.problem_refs.forget(&id).await;
    Ok((stored, Some(version)))
}

/// What [`store_version`] stores.
struct Upload<'a> {
    id: &'a str,
    parsed: &'a ProblemPackage,
    digest: &'a str,
    packaged: &'a [verification::Packaged],
    languages: &'a [common::api::Language],
    warnings: &'a [String],
    verify: bool,
}

/// Writes `parsed` as the next version of problem `id`: its version record and its checks, then
/// the problem — the new version in use when it needs no verification or is the first, else the
/// version in use kept and the new one named the newest. Whole documents only where dates are
/// written, and every problem write conditional on what it read (versions and the newest version
/// number), so two uploads at once cannot both become version n+1. Returns the problem as it then
/// stands, the new version's number and the checks to publish.
async fn store_version(
    store: &Store,
    up: Upload<'_>,
) -> Result<(ProblemRecord, u32, Vec<CheckRecord>), SubmissionError> {
    let id = up.id;
    loop {
        let now = crate::now();
        let previous = store.problems.find_one(doc! {"_id": id}).await?;
        // A version record left by an upload that stopped half-way keeps its number.
        let highest_record = store
            .versions
            .find(doc! {"problem_id": id})
            .projection(doc! {"version": 1})
            .await?
            .try_collect::<Vec<_>>()
            .await
            .map(|vs: Vec<VersionRecord>| vs.iter().map(|v| v.version).max().unwrap_or(0))
            .unwrap_or(0);
        let highest = previous
            .as_ref()
            .map_or(0, |p| p.latest_version.max(p.version))
            .max(highest_record);
        let version = highest + 1;
        let mut warnings = up.warnings.to_vec();
        let checks = verification::checks(id, version, up.packaged, up.languages, &mut warnings);
        let verification = if !up.verify {
            VerificationStatus::Skipped
        } else if checks.is_empty() {
            VerificationStatus::Unverified
        } else {
            VerificationStatus::Running
        };
        let record = ProblemRecord {
            id: id.to_owned(),
            name: up.parsed.name.clone(),
            version,
            package_digest: up.digest.to_owned(),
            limits: up.parsed.limits.clone(),
            statements: up.parsed.statements.clone(),
            samples: up.parsed.samples.clone(),
            tests: up.parsed.tests.len() as u32,
            format: up.parsed.format,
            warnings: up.parsed.warnings.clone(),
            created_at: previous.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
            latest_version: version,
            latest_verification: Some(verification),
            held: None,
        };
        let in_use_now = verification.activates() || previous.is_none();
        let now_ms = now.timestamp_millis();
        let version_record = VersionRecord {
            id: version_key(id, version),
            problem_id: id.to_owned(),
            version,
            problem: record.clone(),
            verification,
            total: checks.len() as u32,
            warnings: warnings.clone(),
            uploaded_ms: now_ms,
            verified_ms: checks.is_empty().then_some(now_ms),
            activated_ms: in_use_now.then_some(now_ms),
            activated_by: in_use_now.then(|| "upload".to_owned()),
            unfinished_ms: Some(now_ms),
        };
        // The version record claims the number (its id is unique); then its checks.
        match store.versions.insert_one(&version_record).await {
            Ok(_) => {}
            Err(e) if mongo_store::is_duplicate_key(&e) => {
                // Another upload took this number: try the next.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        if !checks.is_empty() {
            if let Err(e) = store.checks.insert_many(&checks).await {
                let _ = store
                    .checks
                    .delete_many(doc! {"version_key": &version_record.id})
                    .await;
                let _ = store.versions.delete_one(doc! {"_id": &version_record.id}).await;
                return Err(e.into());
            }
        }
        let written = match &previous {
            None => match store.problems.insert_one(&record).await {
                Ok(_) => Some(record.clone()),
                Err(e) if mongo_store::is_duplicate_key(&e) => None,
                Err(e) => return Err(e.into()),
            },
            Some(p) => {
                let read =
                    doc! {"_id": id, "version": p.version as i64, "latest_version": p.latest_version as i64};
                if in_use_now {
                    let changed = store.problems.replace_one(read, &record).await?;
                    (changed.matched_count == 1).then(|| record.clone())
                } else {
                    let set =
                        doc! {"latest_version": version as i64, "latest_verification": verification.as_str()};
                    let changed = store.problems.update_one(read, doc! {"$set": set}).await?;
                    (changed.matched_count == 1).then(|| ProblemRecord {
                        latest_version: version,
                        latest_verification: Some(verification),
                        ..p.clone()
                    })
                }
            }
        };
        match written {
            Some(problem) => {
                // A lost write here is repaired by the sweep, which finds the problem written.
                if let Err(e) = verification::mark_finished(store, &version_record.id).await {
                    tracing::warn!(version = %version_record.id, error = %e, "marking an upload finished (the sweep will)");
                }
                return Ok((problem, version, checks));
            }
            None => {
                // Another upload changed the problem meanwhile: undo and read again.
                store
                    .checks
                    .delete_many(doc! {"version_key": &version_record.id})
                    .await?;
                store
                    .versions
                    .delete_one(doc! {"_id": &version_record.id})
                    .await?;
            }
        }
    }
}

/// `GET /api/problems`.
pub async fn list(svc: &Service) -> Result<Answer, SubmissionError> {
    let problems: Vec<ProblemRecord> = svc
        .store
        .problems
        .find(doc! {})
        .projection(doc! {"statements": 0, "samples": 0})
        .sort(doc! {"_id": 1})
        .limit(500)
        .await?
        .try_collect()
        .await?;
    let items: Vec<_> = problems.iter().map(ProblemRecord::summary).collect();
    Ok(Answer::json(200, &serde_json::json!({ "items": items })))
}

/// `GET /api/problems/{id}`.
pub async fn get(svc: &Service, id: &str) -> Result<Answer, SubmissionError> {
    let problem = svc
        .store
        .problems
        .find_one(doc! {"_id": id})
        .await?
        .ok_or(SubmissionError::NotFound("problem"))?;
    Ok(Answer::json(200, &problem.detail()))
}

/// `GET /api/problems/{id}/statement?language=&format=`: the statement in its own format. Without
/// a language, English (else the first); without a format, the first the package has in that
/// language. A PDF's bytes come from the stored package (kept a while in [`StatementFiles`]).
pub async fn statement(svc: &Service, id: &str, query: &[u8]) -> Result<Answer, SubmissionError> {
    let query: StatementQuery = crate::query(query)?;
    let mut f = body::Fields::default();
    let format = query.format.as_deref().and_then(|v| {
        let parsed = serde_json::from_value::<StatementFormat>(serde_json::Value::String(v.to_owned()));
        if parsed.is_err() {
            f.error("format", "must be markdown, latex, html, pdf or text");
        }
        parsed.ok()
    });
    f.finish()?;
    let problem = svc
        .store
        .problems
        .find_one(doc! {"_id": id})
        .await?
        .ok_or(SubmissionError::NotFound("problem"))?;
    let of_language = |lang: &str| {
        problem
            .statements
            .iter()
            .filter(|s| s.language == lang && format.is_none_or(|f| s.format == f))
            .collect::<Vec<_>>()
    };
    let candidates = match query.language.as_deref() {
        Some(lang) => of_language(lang),
        None => {
            let english = of_language("en");
            if english.is_empty() {
                problem
                    .statements
                    .iter()
                    .filter(|s| format.is_none_or(|f| s.format == f))
                    .collect()
            } else {
                english
            }
        }
    };
    let chosen = candidates.first().ok_or(SubmissionError::NotFound("statement"))?;
    let media_type = chosen.format.media_type();
    if !chosen.format.is_binary() {
        return Ok(Answer::bytes(media_type, chosen.content.clone().into_bytes()));
    }
    let bytes = svc
        .statement_files
        .get(svc, &problem.package_digest, &chosen.path)
        .await?;
    Ok(Answer::bytes(media_type, bytes.to_vec()))
}

/// Binary statements (PDFs) recently read out of stored packages, by package digest and path,
/// bounded by their total size: serving one must not fetch a whole package every time.
pub struct StatementFiles(moka::future::Cache<(String, String), Bytes>);

impl Default for StatementFiles {
    fn default() -> Self {
        StatementFiles(
            moka::future::Cache::builder()
                .weigher(|_, v: &Bytes| u32::try_from(v.len()).unwrap_or(u32::MAX))
                .max_capacity(Self::MAX_BYTES)
                .build(),
        )
    }
}

impl StatementFiles {
    /// Bytes of statements kept at most.
    pub const MAX_BYTES: u64 = 64 << 20;

    async fn get(&self, svc: &Service, digest: &str, path: &str) -> Result<Bytes, SubmissionError> {
        let js = svc.js.clone();
        let (digest, path) = (digest.to_owned(), path.to_owned());
        self.0
            .try_get_with((digest.clone(), path.clone()), async move {
                let objects = js
                    .get_object_store(PROBLEMS_BUCKET)
                    .await
                    .map_err(|e| SubmissionError::Broker(e.to_string()))?;
                let mut object = objects
                    .get(digest.as_str())
                    .await
                    .map_err(|e| SubmissionError::Broker(format!("reading the package: {e}")))?;
                let mut zip = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut object, &mut zip)
                    .await
                    .map_err(|e| SubmissionError::Broker(format!("reading the package: {e}")))?;
                tokio::task::spawn_blocking(move || archive::read_file(&zip, &path, Self::MAX_BYTES))
                    .await
                    .map_err(|e| SubmissionError::Internal(format!("reading the statement: {e}")))?
                    .map_err(|e| SubmissionError::Internal(format!("reading the statement: {e}")))?
                    .map(Bytes::from)
                    .ok_or(SubmissionError::NotFound("statement"))
            })
            .await
            .map_err(|e| match &*e {
                SubmissionError::NotFound(what) => SubmissionError::NotFound(what),
                other => SubmissionError::Internal(other.to_string()),
            })
    }
}

/// What a new submission records of its problem: the version and the package it is judged on
/// (read with a projection of just these fields), and whether the problem is held.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ProblemRef {
    pub version: u32,
    pub package_digest: String,
    /// See [`ProblemRecord::held`].
    #[serde(default)]
    pub held: Option<u32>,
}

impl ProblemRef {
    /// New submissions are refused: the version in use failed its verification.
    pub fn is_held(&self) -> bool {
        self.held == Some(self.version)
    }
}

/// Recently looked-up problems, so a burst of submissions to one problem costs one lookup, not
/// one each (concurrent misses for one problem share a single read). A re-upload through this
/// replica is seen at once; through another, normally within [`ProblemRefs::FRESH`] and at worst
/// within [`ProblemRefs::STALE`] (a submission made in that window is judged on the version it
/// records).
///
/// A problem read longer than `FRESH` ago is still answered from memory while one background read
/// refreshes it: a request never waits for the store on a problem it has seen within `STALE` (on
/// a store busy with a graded submission's burst of status writes, such a read can queue). moka
/// has no refresh-ahead, hence the entry's own age and flag.
#[derive(Clone)]
pub struct ProblemRefs(moka::future::Cache<String, Arc<Looked>>);

/// A looked-up problem and when it was read.
pub struct Looked {
    problem: Option<ProblemRef>,
    read_at: std::time::Instant,
    refreshing: std::sync::atomic::AtomicBool,
}

impl Default for ProblemRefs {
    fn default() -> Self {
        ProblemRefs(
            moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Self::STALE)
                .build(),
        )
    }
}

impl ProblemRefs {
    /// How long a looked-up problem is used without reading it again.
    pub const FRESH: Duration = Duration::from_secs(1);
    /// How long a looked-up problem may be used while it is read again in the background.
    pub const STALE: Duration = Duration::from_secs(5);

    async fn read(store: &Store, id: &str) -> mongodb::error::Result<Arc<Looked>> {
        let problem = store
            .problems
            .clone_with_type::<ProblemRef>()
            .find_one(doc! {"_id": id})
            .projection(doc! {"version": 1, "package_digest": 1, "held": 1})
            .await?;
        Ok(Arc::new(Looked {
            problem,
            read_at: std::time::Instant::now(),
            refreshing: Default::default(),
        }))
    }

    /// The problem `id`, or `None` when there is no such problem.
    pub async fn get(&self, store: &Store, id: &str) -> Result<Option<ProblemRef>, SubmissionError> {
        use std::sync::atomic::Ordering;
        if let Some(looked) = self.0.get(id).await {
            let age = looked.read_at.elapsed();
            if age >= Self::FRESH && !looked.refreshing.swap(true, Ordering::SeqCst) {
                let (cache, store, id, stale) = (self.clone(), store.clone(), id.to_owned(), looked.clone());
                tokio::spawn(async move {
                    match Self::read(&store, &id).await {
                        // Not if the entry was forgotten meanwhile (an upload through this
                        // replica): what this read saw may be older than that upload.
                        Ok(fresh) => {
                            if cache
                                .0
                                .get(&id)
                                .await
                                .is_some_and(|now| Arc::ptr_eq(&now, &stale))
                            {
                                cache.0.insert(id, fresh).await;
                            }
                        }
                        // The next request past `STALE` reads it itself, and sees the error.
                        Err(e) => tracing::debug!(problem = %id, error = %e, "refreshing a problem"),
                    }
                });
            }
            return Ok(looked.problem.clone());
        }
        self.0
            .try_get_with(id.to_owned(), Self::read(store, id))
            .await
            .map(|looked| looked.problem.clone())
            .map_err(|e| SubmissionError::Store((*e).clone()))
    }

    pub async fn forget(&self, id: &str) {
        self.0.invalidate(id).await;
    }
}
