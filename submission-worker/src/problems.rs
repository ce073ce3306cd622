//! Problems: an admin uploads a package zip; it is checked by the judge engine's own parser before
//! anything is stored, its bytes go to the `problems` object store under their SHA-256 (judges read
//! it from there), and its metadata and statement to MongoDB. Re-uploading makes a new version.

use bytes::Bytes;
use common::jobs::PROBLEMS_BUCKET;
use common::service::{Answer, Caller, Failure};
use common::{FieldError, Problem};
use mongodb::bson::{self, doc, Document};
use problem_package::archive::{self, ArchiveLimits};
use problem_package::ProblemPackage;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::store;
use crate::Service;

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn invalid_package(reasons: Vec<String>) -> Failure {
    let errors = reasons
        .into_iter()
        .map(|message| FieldError::new("package", message))
        .collect();
    Problem {
        detail: Some("the problem package is invalid".to_owned()),
        errors,
        ..Problem::new(422, "invalid_package", "The problem package is invalid")
    }
    .into()
}

/// `POST /api/problems` (admin).
pub async fn create(svc: &Service, caller: &Caller, zip: Bytes) -> Result<Answer, Failure> {
    caller.require_user()?;
    if !caller.is_admin() {
        return Err(Problem::new(403, "forbidden", "Only admins may upload problems").into());
    }
    let (problem, new_version) = import(svc, caller.resource_id.clone(), zip).await?;
    // The same bytes again change nothing: 200 with the stored version.
    let status = if new_version { 201 } else { 200 };
    Ok(Answer::json(status, &problem))
}

/// Checks a package and stores it as problem `requested_id` (default: the package's folder
/// name); returns the problem's API view and whether this upload made a new version (the same
/// bytes again do not). Also used by `submission-worker import`.
pub async fn import(
    svc: &Service,
    requested_id: Option<String>,
    zip: Bytes,
) -> Result<(serde_json::Value, bool), Failure> {
    // Unpack and parse off the async threads: a package can be large.
    let parsed = tokio::task::spawn_blocking({
        let zip = zip.clone();
        move || -> Result<ProblemPackage, Vec<String>> {
            let dir = tempfile::tempdir().map_err(|e| vec![format!("temporary directory: {e}")])?;
            let dest = dir.path().join("package");
            std::fs::create_dir(&dest).map_err(|e| vec![e.to_string()])?;
            let root = archive::unpack_zip(&zip, &dest, ArchiveLimits::default())
                .map_err(|e| vec![e.to_string()])?;
            let mut package = ProblemPackage::load(&root).map_err(|e| e.reasons)?;
            if root == dest {
                package.short_name.clear();
            }
            Ok(package)
        }
    })
    .await
    .map_err(|e| Problem::new(500, "internal", "Checking the package failed").with_detail(e.to_string()))?
    .map_err(invalid_package)?;
    let id = requested_id
        .or_else(|| (!parsed.short_name.is_empty()).then(|| parsed.short_name.clone()))
        .ok_or_else(|| {
            Problem::field(
                "id",
                "name the problem with ?id= or wrap the package in a folder named after it",
            )
        })?
        .to_ascii_lowercase();
    if !valid_id(&id) {
        return Err(Problem::field("id", "must be 1 to 64 letters, digits, '-' or '_'").into());
    }
    let digest = hex::encode(Sha256::digest(&zip));
    // The same bytes again are the same version, not a new one.
    let existing = svc
        .store
        .problems
        .find_one(doc! {"_id": &id})
        .await
        .map_err(store::unavailable)?;
    if let Some(existing) = existing.filter(|e| e.get_str("package_digest") == Ok(digest.as_str())) {
        return Ok((view(&existing, true), false));
    }
    let store = svc.js.get_object_store(PROBLEMS_BUCKET).await.map_err(|e| {
        Problem::new(503, "broker_unavailable", "The package store is unavailable").with_detail(e.to_string())
    })?;
    store.put(digest.as_str(), &mut zip.as_ref()).await.map_err(|e| {
        Problem::new(503, "broker_unavailable", "Storing the package failed").with_detail(e.to_string())
    })?;

    let now = mongodb::bson::DateTime::now();
    let meta = bson::to_bson(&json!({
        "name": parsed.name,
        "limits": parsed.limits,
        "statements": parsed.statements,
        "samples": parsed.samples,
        "tests": parsed.tests.len(),
        "format": parsed.format,
    }))
    .map_err(|e| Problem::new(500, "internal", "Encoding the problem failed").with_detail(e.to_string()))?;
    let mut set = match meta {
        bson::Bson::Document(d) => d,
        _ => Document::new(),
    };
    set.insert("package_digest", &digest);
    set.insert("updated_ms", chrono::Utc::now().timestamp_millis());
    let after = svc
        .store
        .problems
        .find_one_and_update(
            doc! {"_id": &id},
            doc! {"$set": set, "$inc": {"version": 1_i64}, "$setOnInsert": {"created_at": now}},
        )
        .upsert(true)
        .return_document(mongodb::options::ReturnDocument::After)
        .await
        .map_err(store::unavailable)?
        .ok_or_else(|| Problem::new(500, "internal", "The problem vanished"))?;
    tracing::info!(problem = %id, digest = %digest, "problem stored");
    svc.problem_refs.forget(&id);
    Ok((view(&after, true), true))
}

/// The API view of a stored problem; `full` adds statements and samples.
pub fn view(d: &Document, full: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": d.get_str("_id").unwrap_or_default(),
        "name": d.get_str("name").unwrap_or_default(),
        "version": store::int(d, "version").unwrap_or(1),
        "limits": d.get("limits").map(|l| l.clone().into_relaxed_extjson()),
    });
    if full {
        v["statements"] = d
            .get("statements")
            .map(|s| s.clone().into_relaxed_extjson())
            .unwrap_or_default();
        v["samples"] = d
            .get("samples")
            .map(|s| s.clone().into_relaxed_extjson())
            .unwrap_or_default();
    }
    v
}

/// `GET /api/problems`.
pub async fn list(svc: &Service) -> Result<Answer, Failure> {
    use futures::TryStreamExt;
    let docs: Vec<Document> = svc
        .store
        .problems
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .limit(500)
        .await
        .map_err(store::unavailable)?
        .try_collect()
        .await
        .map_err(store::unavailable)?;
    let items: Vec<_> = docs.iter().map(|d| view(d, false)).collect();
    Ok(Answer::json(200, &json!({ "items": items })))
}

/// `GET /api/problems/{id}`.
pub async fn get(svc: &Service, id: &str) -> Result<Answer, Failure> {
    let d = svc
        .store
        .problems
        .find_one(doc! {"_id": id})
        .await
        .map_err(store::unavailable)?
        .ok_or_else(|| Problem::new(404, "not_found", "No such problem"))?;
    Ok(Answer::json(200, &view(&d, true)))
}

/// What a new submission records of its problem: the version and the package it is judged on.
#[derive(Debug, Clone)]
pub struct ProblemRef {
    pub version: i64,
    pub package_digest: String,
}

/// How long a looked-up [`ProblemRef`] is reused for new submissions.
const REF_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Recently looked-up problems, so a burst of submissions to one problem costs one lookup, not
/// one each. A re-upload through this replica is seen at once; through another, within a second
/// (a submission made in that second is judged on the version it records).
#[derive(Default)]
pub struct ProblemRefs(std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, ProblemRef)>>);

impl ProblemRefs {
    /// The problem `id`, or `None` when there is no such problem.
    pub async fn get(
        &self,
        problems: &mongodb::Collection<Document>,
        id: &str,
    ) -> mongodb::error::Result<Option<ProblemRef>> {
        if let Some((at, r)) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            if at.elapsed() < REF_FRESH {
                return Ok(Some(r.clone()));
            }
        }
        let Some(d) = problems
            .find_one(doc! {"_id": id})
            .projection(doc! {"version": 1, "package_digest": 1})
            .await?
        else {
            return Ok(None);
        };
        let r = ProblemRef {
            version: store::int(&d, "version").unwrap_or(1),
            package_digest: d.get_str("package_digest").unwrap_or_default().to_owned(),
        };
        let mut refs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Ids are checked on upload; this bounds the map if problems come and go.
        if refs.len() > 10_000 {
            refs.clear();
        }
        refs.insert(id.to_owned(), (std::time::Instant::now(), r.clone()));
        Ok(Some(r))
    }

    pub fn forget(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}
