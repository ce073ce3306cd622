//! The submission worker's collections — one Rust type per stored document — and their
//! migrations. As in the auth worker, what queries compare is kept as strings and integers
//! (`status`, `outbox`, `*_ms`) so they mean the same on MongoDB and on the embedded test server;
//! dates are BSON dates and become RFC 3339 in the API views.

use chrono::{DateTime, Utc};
use common::api::{self, JudgeReport, Outcome, Progress, Status};
use futures::FutureExt;
use mongo_store::migrate::{self, Migration};
use mongo_store::{index, unique_index};
use mongodb::bson::serde_helpers::chrono_datetime_as_bson_datetime;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

pub const PROBLEMS: &str = "problems";
pub const SUBMISSIONS: &str = "submissions";
pub const COMMENTS: &str = "comments";
pub const REJUDGES: &str = "rejudges";
pub const PROBLEM_VERSIONS: &str = "problem_versions";
pub const PACKAGED_CHECKS: &str = "packaged_checks";

/// A problem as stored: the current version's metadata (the package itself is in the `problems`
/// object store, named by its digest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProblemRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    /// Grows by one with every upload of a changed package.
    pub version: u32,
    /// Hex SHA-256 of the package zip.
    pub package_digest: String,
    pub limits: api::ProblemLimits,
    /// Left out of list reads.
    #[serde(default)]
    pub statements: Vec<api::Statement>,
    /// Left out of list reads.
    #[serde(default)]
    pub samples: Vec<api::Sample>,
    /// How many test cases the package has (samples included).
    pub tests: u32,
    pub format: problem_package::PackageFormat,
    /// What is odd about the package but did not stop it being judged.
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(with = "chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono_datetime_as_bson_datetime")]
    pub updated_at: DateTime<Utc>,
    /// The newest uploaded version: `version`, or a newer one still being verified or held back
    /// (migration 7 gives it to records stored before it existed).
    #[serde(default)]
    pub latest_version: u32,
    /// How the newest upload's verification stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_verification: Option<api::VerificationStatus>,
    /// Set to `version` when that version, used from its upload because there was no other, then
    /// failed its verification: new submissions are refused until an admin activates a version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<u32>,
}

impl ProblemRecord {
    pub fn summary(&self) -> api::ProblemSummary {
        api::ProblemSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            version: self.version,
            limits: self.limits.clone(),
        }
    }

    pub fn detail(&self) -> api::ProblemDetail {
        api::ProblemDetail {
            summary: self.summary(),
            statements: self.statements.clone(),
            samples: self.samples.clone(),
            warnings: self.warnings.clone(),
            latest: self.latest_verification.map(|verification| api::LatestVersion {
                version: self.latest_version.max(self.version),
                verification,
            }),
            held: self.held == Some(self.version),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// One uploaded version of a problem: the problem record it makes when it is the version in use,
/// and its verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    /// `<problem>:<version>` ([`version_key`]).
    #[serde(rename = "_id")]
    pub id: String,
    pub problem_id: String,
    pub version: u32,
    pub problem: ProblemRecord,
    pub verification: api::VerificationStatus,
    /// Packaged submissions queued for judging.
    pub total: u32,
    /// Packaged files not verified, and why.
    #[serde(default)]
    pub warnings: Vec<String>,
    pub uploaded_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_by: Option<String>,
    /// When the upload began, kept from the record's first write until the upload has written
    /// the problem: a version unfinished for long is an upload that stopped half-way, which the
    /// outbox sweep finishes or removes ([`crate::verification::repair_unfinished`]); its checks
    /// are not judged meanwhile. A time rather than a flag, so one range query finds the stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished_ms: Option<i64>,
}

/// The key of a problem version, in [`VersionRecord::id`] and [`CheckRecord::version_key`].
pub fn version_key(problem_id: &str, version: u32) -> String {
    format!("{problem_id}:{version}")
}

/// One packaged submission of a version, judged through the pipeline like a submission; its id is
/// its job's ([`common::jobs::packaged_job_id`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub version_key: String,
    pub index: u32,
    pub path: String,
    pub language: String,
    pub expected: Vec<api::Verdict>,
    /// Left out of report reads.
    #[serde(default)]
    pub source: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<api::Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub outbox: Outbox,
    pub created_ms: i64,
}

impl CheckRecord {
    /// Judged, and the verdict is one its place allows.
    pub fn agrees(&self) -> Option<bool> {
        self.verdict.map(|v| self.expected.contains(&v))
    }

    pub fn view(&self) -> api::PackagedCheck {
        api::PackagedCheck {
            path: self.path.clone(),
            language: Some(self.language.clone()),
            expected: self.expected.clone(),
            status: Some(self.status),
            progress: self.progress.filter(|_| self.status == Status::Running),
            verdict: self.verdict,
            time_ms: self.time_ms,
            memory_kb: self.memory_kb,
            agrees: self.agrees(),
            note: self.note.clone(),
        }
    }
}

/// Whether a submission's grading job is in the jobs stream yet (the transactional outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outbox {
    /// Saved, not yet known to be published: the sweep publishes it.
    Pending,
    Done,
}

impl From<Outbox> for Bson {
    fn from(o: Outbox) -> Bson {
        mongodb::bson::to_bson(&o).expect("a unit enum serialises")
    }
}

/// A submission as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmissionRecord {
    /// A UUIDv7: ordered by time.
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub problem_id: String,
    pub problem_version: u32,
    pub package_digest: String,
    pub language: String,
    /// Left out of list reads.
    #[serde(default)]
    pub source: String,
    pub status: Status,
    #[serde(with = "chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    /// `created_at` in milliseconds, for the outbox sweep's range filter.
    pub created_ms: i64,
    /// Unique: `<user>:<Idempotency-Key>`, or the id itself when the client sent no key.
    pub idem: String,
    /// Repeats the id: the key lists page by (see migration 2).
    pub order: String,
    pub outbox: Outbox,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// The verdict and its figures, as the API shows them.
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_ms: Option<i64>,
    /// 1, and one more with each rejudge; results of another judging are ignored (migration 6
    /// gives it to records stored before it existed).
    #[serde(default = "common::jobs::first_judging")]
    pub judging: u32,
    /// The rejudge the current judging belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejudge_id: Option<String>,
    /// The earlier judgings, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<JudgingRecord>,
}

/// An earlier judging of a submission, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JudgingRecord {
    pub judging: u32,
    pub problem_version: u32,
    pub verdict: api::Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// When the verdict was stored (the record's `updated_ms` then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_ms: Option<i64>,
}

impl JudgingRecord {
    /// The judging `r` holds now, if it is judged.
    pub fn of(r: &SubmissionRecord) -> Option<JudgingRecord> {
        Some(JudgingRecord {
            judging: r.judging,
            problem_version: r.problem_version,
            verdict: r.outcome.verdict?,
            run_time_ms: r.outcome.run_time_ms,
            memory_kb: r.outcome.memory_kb,
            score: r.outcome.score,
            judged_ms: r.updated_ms,
        })
    }

    pub fn view(&self) -> api::Judging {
        api::Judging {
            judging: self.judging,
            problem_version: self.problem_version,
            verdict: self.verdict,
            run_time_ms: self.run_time_ms,
            memory_kb: self.memory_kb,
            score: self.score,
            judged_at: self.judged_ms.and_then(DateTime::from_timestamp_millis),
        }
    }
}

/// A rejudge as stored: what it selected, and whether every selected submission has been queued
/// again (`stage`). How far judging got is read from the submissions (`rejudge_id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejudgeRecord {
    /// A UUIDv7.
    #[serde(rename = "_id")]
    pub id: String,
    pub problem_id: String,
    pub problem_version: u32,
    pub package_digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdicts: Option<Vec<api::Verdict>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_version: Option<u32>,
    /// The selected submissions' ids.
    pub submissions: Vec<String>,
    pub requested_by: String,
    #[serde(with = "chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
    /// `queueing` until every selected submission is queued again (or was found no longer
    /// judged, and left alone), then `queued`. A string, as everything a query compares.
    pub stage: RejudgeStage,
    /// When a worker last made progress queueing them: one that stopped (its worker died) is
    /// taken over by the sweep after a while.
    pub heartbeat_ms: i64,
}

/// How far a rejudge's worker got (see [`RejudgeRecord::stage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejudgeStage {
    Queueing,
    Queued,
}

impl From<RejudgeStage> for Bson {
    fn from(s: RejudgeStage) -> Bson {
        mongodb::bson::to_bson(&s).expect("a unit enum serialises")
    }
}

impl SubmissionRecord {
    /// The API view (with the source when this read fetched it).
    pub fn view(&self) -> api::Submission {
        api::Submission {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            problem_id: self.problem_id.clone(),
            problem_version: self.problem_version,
            language: self.language.clone(),
            source: (!self.source.is_empty()).then(|| self.source.clone()),
            status: self.status,
            created_at: self.created_at,
            progress: self.progress.filter(|_| self.status == Status::Running),
            outcome: self.outcome.clone(),
            judging: self.judging,
            rejudge_id: self.rejudge_id.clone(),
            history: self.history.iter().map(JudgingRecord::view).collect(),
        }
    }

    /// The fields a verdict sets: the status and the outcome, as stored.
    pub fn judged_fields(report: &JudgeReport, attempt: u64) -> mongodb::bson::ser::Result<Document> {
        let mut set = mongodb::bson::to_document(&Outcome::judged(report, attempt))?;
        set.insert("status", Status::Judged.as_str());
        Ok(set)
    }
}

/// A comment as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommentRecord {
    /// A UUIDv7.
    #[serde(rename = "_id")]
    pub id: String,
    /// Repeats the id: the key comments page by.
    pub order: String,
    pub problem_id: String,
    pub user_id: String,
    pub body: String,
    #[serde(with = "chrono_datetime_as_bson_datetime")]
    pub created_at: DateTime<Utc>,
}

impl CommentRecord {
    pub fn view(&self) -> api::Comment {
        api::Comment {
            id: self.id.clone(),
            problem_id: self.problem_id.clone(),
            user_id: self.user_id.clone(),
            body: self.body.clone(),
            created_at: self.created_at,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pub db: Database,
    pub problems: Collection<ProblemRecord>,
    pub submissions: Collection<SubmissionRecord>,
    pub comments: Collection<CommentRecord>,
    pub rejudges: Collection<RejudgeRecord>,
    pub versions: Collection<VersionRecord>,
    pub checks: Collection<CheckRecord>,
}

pub async fn connect(uri: &str, database: &str) -> mongodb::error::Result<Store> {
    let db = mongo_store::connect(uri, database, "submission-worker").await?;
    Ok(Store {
        problems: db.collection(PROBLEMS),
        submissions: db.collection(SUBMISSIONS),
        comments: db.collection(COMMENTS),
        rejudges: db.collection(REJUDGES),
        versions: db.collection(PROBLEM_VERSIONS),
        checks: db.collection(PACKAGED_CHECKS),
        db,
    })
}

pub fn migrations() -> Vec<Migration> {
    vec![
        Migration {
            version: 1,
            name: "submissions by user and time",
            apply: |db| {
                async move {
                    db.collection::<Document>(SUBMISSIONS)
                        .create_index(index(doc! {"user_id": 1, "created_ms": -1}, "user_time"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 2,
            name: "idempotency keys and id-ordered listing",
            apply: |db| {
                async move {
                    let submissions = db.collection::<Document>(SUBMISSIONS);
                    submissions
                        .create_index(unique_index(doc! {"idem": 1}, "idem_unique"))
                        .await?;
                    // `order` repeats the (time-ordered) id: an index that pairs `_id` with another
                    // key is not portable to every MongoDB-wire server.
                    submissions
                        .create_index(index(doc! {"user_id": 1, "order": -1}, "user_order"))
                        .await?;
                    submissions
                        .create_index(index(doc! {"outbox": 1, "created_ms": 1}, "outbox"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 3,
            name: "comments by problem and time",
            apply: |db| {
                async move {
                    db.collection::<Document>(COMMENTS)
                        .create_index(index(doc! {"problem_id": 1, "order": 1}, "problem_order"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 4,
            name: "problems carry updated_at as a date",
            apply: |db| {
                async move {
                    use futures::TryStreamExt;
                    // Problems stored before typed records had `updated_ms` only, and no
                    // `created_at` where the server ignored `$setOnInsert`. Whole documents are
                    // replaced: a date written through `$set` is a string on some servers.
                    let problems = db.collection::<Document>(PROBLEMS);
                    let old: Vec<Document> = problems
                        .find(doc! {"updated_at": {"$exists": false}})
                        .await?
                        .try_collect()
                        .await?;
                    for mut d in old {
                        let at = match d.get("updated_ms") {
                            Some(Bson::Int64(ms)) => mongodb::bson::DateTime::from_millis(*ms),
                            _ => mongodb::bson::DateTime::now(),
                        };
                        if !matches!(d.get("created_at"), Some(Bson::DateTime(_))) {
                            d.insert("created_at", at);
                        }
                        d.insert("updated_at", at);
                        let id = d.get("_id").cloned().unwrap_or(Bson::Null);
                        problems.replace_one(doc! {"_id": id}, d).await?;
                    }
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 5,
            name: "a single-field index for every equality filter",
            apply: |db| {
                async move {
                    // A server may use single-field indexes only (nx-27017 does, and scans the
                    // collection for a filter only a compound index serves); MongoDB uses these
                    // too, and picks the compound ones where they serve better.
                    let submissions = db.collection::<Document>(SUBMISSIONS);
                    submissions
                        .create_index(index(doc! {"user_id": 1}, "user_id"))
                        .await?;
                    submissions
                        .create_index(index(doc! {"outbox": 1}, "outbox_state"))
                        .await?;
                    db.collection::<Document>(COMMENTS)
                        .create_index(index(doc! {"problem_id": 1}, "problem_id"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 6,
            name: "submissions carry their judging; rejudges find theirs",
            apply: |db| {
                async move {
                    let submissions = db.collection::<Document>(SUBMISSIONS);
                    submissions
                        .update_many(
                            doc! {"judging": {"$exists": false}},
                            doc! {"$set": {"judging": 1}},
                        )
                        .await?;
                    submissions
                        .create_index(index(doc! {"problem_id": 1}, "problem_id"))
                        .await?;
                    submissions
                        .create_index(index(doc! {"rejudge_id": 1}, "rejudge_id"))
                        .await?;
                    db.collection::<Document>(REJUDGES)
                        .create_index(index(doc! {"stage": 1}, "stage"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 7,
            name: "problem versions and their verification",
            apply: |db| {
                async move {
                    use futures::TryStreamExt;
                    // Every problem stored before had only the version in use: it is the newest.
                    let problems = db.collection::<Document>(PROBLEMS);
                    let old: Vec<Document> = problems
                        .find(doc! {"latest_version": {"$exists": false}})
                        .projection(doc! {"version": 1})
                        .await?
                        .try_collect()
                        .await?;
                    for d in old {
                        let (Some(id), Some(version)) = (d.get("_id"), d.get("version")) else {
                            continue;
                        };
                        problems
                            .update_one(doc! {"_id": id}, doc! {"$set": {"latest_version": version}})
                            .await?;
                    }
                    db.collection::<Document>(PROBLEM_VERSIONS)
                        .create_index(index(doc! {"problem_id": 1}, "problem_id"))
                        .await?;
                    let checks = db.collection::<Document>(PACKAGED_CHECKS);
                    checks
                        .create_index(index(doc! {"version_key": 1}, "version_key"))
                        .await?;
                    checks
                        .create_index(index(doc! {"outbox": 1}, "outbox_state"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 8,
            name: "uploads stopped half-way are found by their unfinished version",
            apply: |db| {
                async move {
                    db.collection::<Document>(PROBLEM_VERSIONS)
                        .create_index(index(doc! {"unfinished_ms": 1}, "unfinished_ms"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
    ]
}

pub async fn migrate(store: &Store) -> Result<(), migrate::MigrateError> {
    migrate::run(&store.db, "submission", &migrations()).await
}
