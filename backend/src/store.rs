//! The diagnosis and feedback store: an SQLite file in the data directory, or
//! a PostgreSQL database that several backend replicas share (see [`crate::db`]).
//!
//! One writer thread owns the connection and takes jobs from a queue in order.
//! A diagnosis is queued and the request answered at once; diagnoses queued
//! meanwhile are committed together in one transaction, so under load the
//! request path never waits for the database. Feedback and reads wait for their
//! own job, which runs after every diagnosis queued before it: feedback on a
//! just-returned id always finds it, and is committed before it is acknowledged.
//!
//! Schema versions: SQLite keeps its version in `PRAGMA user_version`; files
//! from before it carry version 1 in a `schema_version` table, which is kept in
//! step so that those older binaries refuse a newer file instead of writing to
//! it. PostgreSQL keeps it in a `consoledx_schema` table, and its migrations
//! hold an advisory lock, so replicas that start together migrate one at a time.
//! Either way a database from a newer consoledx is refused untouched.

use crate::db::{DatabaseUrl, Db, DbError, Row, Value};
use crate::feedback::{FeedbackComment, FeedbackSummary, RuleFeedback};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Diagnoses committed in one transaction at most.
const MAX_BATCH: usize = 512;

/// Rows per multi-row INSERT: a batch is sent as a few statements of these sizes (largest
/// first), so PostgreSQL needs a handful of round trips per batch, not one per diagnosis.
const INSERT_CHUNKS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// Bumped with every schema change; a database from a newer consoledx is refused, not corrupted.
pub const SCHEMA_VERSION: i64 = 3;

/// The file inside the data directory.
pub const DATABASE_FILE: &str = "consoledx.sqlite3";

/// Recorded with every vote, beside the version the client reports.
pub const BACKEND_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Comments shown per rule in the feedback summary.
pub const LATEST_COMMENTS: usize = 3;

/// Held by a PostgreSQL migration (see [`Db::lock`]).
const MIGRATION_LOCK: &str = "consoledx store migration";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("database schema version {found} is newer than this consoledx ({SCHEMA_VERSION})")]
    NewerSchema { found: i64 },
    #[error("no consoledx store at {}", path.display())]
    Missing { path: PathBuf },
    #[error("{location} is not a consoledx store")]
    NotAStore { location: String },
    #[error("the store's writer thread has stopped")]
    WriterStopped,
    #[error("cannot start the store's writer thread: {0}")]
    Thread(std::io::Error),
}

/// One stored diagnosis, as `GET /v1/diagnoses/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosisRecord {
    pub id: String,
    pub rule: Option<String>,
    pub verdict: Option<String>,
    pub comment: Option<String>,
}

impl StoreError {
    /// Errors caused by the database the caller pointed at (missing, unreachable, not
    /// consoledx's, too new), as opposed to failures while using a good one.
    pub fn is_bad_location(&self) -> bool {
        match self {
            StoreError::NewerSchema { .. }
            | StoreError::Missing { .. }
            | StoreError::NotAStore { .. }
            | StoreError::CreateDir { .. } => true,
            StoreError::Db(err) => err.is_bad_location(),
            StoreError::WriterStopped | StoreError::Thread(_) => false,
        }
    }
}

/// One vote as it is submitted; the rule comes from the stored diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedback {
    pub diagnosis_id: String,
    /// `helpful` or `not_helpful` (the table refuses anything else).
    pub verdict: String,
    pub comment: Option<String>,
    pub client_version: Option<String>,
}

/// The export's CSV header: `FeedbackRow`'s fields, in order.
pub const FEEDBACK_COLUMNS: [&str; 11] = [
    "diagnosis_id",
    "rule",
    "verdict",
    "comment",
    "client_version",
    "backend_version",
    "created_at",
    "updated_at",
    "profile_id",
    "customization_id",
    "customization_version",
];

/// One stored vote, as `consoledx feedback export` writes it (field order = CSV column order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FeedbackRow {
    pub diagnosis_id: String,
    pub rule: Option<String>,
    pub verdict: String,
    pub comment: Option<String>,
    pub client_version: Option<String>,
    /// `None` for votes stored before versions were recorded.
    pub backend_version: Option<String>,
    /// When the first vote on this diagnosis was stored.
    pub created_at: String,
    /// When the vote was last changed (equal to `created_at` if never).
    pub updated_at: String,
    /// The profile and customization the judged diagnosis was made under (`None` before
    /// schema version 3, and for requests outside any profile).
    pub profile_id: Option<String>,
    pub customization_id: Option<String>,
    pub customization_version: Option<i64>,
}

/// Votes on the diagnoses made with one version of one customization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CustomizationFeedback {
    pub customization_id: String,
    pub customization_version: i64,
    pub helpful: i64,
    pub not_helpful: i64,
}

/// What is kept of an analysis.
#[derive(Debug, Clone, Default)]
pub struct NewDiagnosis {
    pub id: String,
    pub rule: Option<String>,
    pub error_code: Option<String>,
    pub service: Option<String>,
    pub region: Option<String>,
    /// The redacted context, as JSON.
    pub context_json: String,
    /// Who asked, under which profile and customization (all `None` outside the directory).
    pub subscription_id: Option<String>,
    pub profile_id: Option<String>,
    pub customization_id: Option<String>,
    pub customization_version: Option<i64>,
    /// The caller's stable identity (`issuer#subject`).
    pub user_key: Option<String>,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Job {
    Insert(NewDiagnosis, String),
    Feedback {
        feedback: NewFeedback,
        reply: Reply<bool>,
    },
    Summary {
        reply: Reply<FeedbackSummary>,
    },
    ByCustomization {
        reply: Reply<Vec<CustomizationFeedback>>,
    },
    Read {
        id: String,
        reply: Reply<Option<DiagnosisRecord>>,
    },
    /// Answered once every job queued before it is done.
    Flush(oneshot::Sender<()>),
    Stop,
}

#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    jobs: mpsc::Sender<Job>,
    writer: Mutex<Option<JoinHandle<()>>>,
    is_postgres: bool,
}

/// The last `Store` clone gone: let the writer finish the queue (it holds acknowledged diagnoses) and wait for it.
impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.jobs.send(Job::Stop);
        if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("is_postgres", &self.shared.is_postgres)
            .finish_non_exhaustive()
    }
}

/// The current time as RFC 3339 in UTC, to the second (the store's timestamp format).
pub fn now_rfc3339() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // Civil-from-days (Howard Hinnant), so no date crate is needed for one timestamp.
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Runs `work` on a thread of its own: the PostgreSQL client must not block a tokio thread,
/// and the export may be called from one.
fn off_runtime<T: Send>(
    work: impl FnOnce() -> Result<T, StoreError> + Send,
) -> Result<T, StoreError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("consoledx-store-open".to_string())
            .spawn_scoped(scope, work)
            .map_err(StoreError::Thread)?
            .join()
            .unwrap_or(Err(StoreError::WriterStopped))
    })
}

fn create_parent(path: &Path) -> Result<(), StoreError> {
    match path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
            path: parent.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

/// Connects and migrates; a database this consoledx cannot use is left exactly as it was.
fn open_db(url: &DatabaseUrl) -> Result<Db, StoreError> {
    let mut db = Db::open(url)?;
    migrate(&mut db)?;
    db.use_write_ahead_log()?;
    Ok(db)
}

impl Store {
    /// Opens (creating if needed) `DIR/consoledx.sqlite3`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Store::open_url(&DatabaseUrl::Sqlite(data_dir.join(DATABASE_FILE)))
    }

    /// Opens the store at `url`, creating its tables (and an SQLite file's directory) if
    /// needed. Blocks until the database is reached and migrated; call it off async threads
    /// (`spawn_blocking`) as it may wait for a server.
    pub fn open_url(url: &DatabaseUrl) -> Result<Store, StoreError> {
        if let DatabaseUrl::Sqlite(path) = url {
            create_parent(path)?;
        }
        let (jobs, queue) = mpsc::channel();
        let (opened, opening) = mpsc::sync_channel(1);
        let target = url.clone();
        // The connection is made on the writer thread itself: PostgreSQL's client stays there.
        let writer = std::thread::Builder::new()
            .name("consoledx-store".to_string())
            .spawn(move || match open_db(&target) {
                Ok(db) => {
                    let _ = opened.send(Ok(()));
                    run_writer(db, queue);
                }
                Err(err) => {
                    let _ = opened.send(Err(err));
                }
            })
            .map_err(StoreError::Thread)?;
        let started = opening.recv().unwrap_or(Err(StoreError::WriterStopped));
        if let Err(err) = started {
            let _ = writer.join();
            return Err(err);
        }
        Ok(Store {
            shared: Arc::new(Shared {
                jobs,
                writer: Mutex::new(Some(writer)),
                is_postgres: url.is_postgres(),
            }),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.shared.is_postgres
    }

    /// Never blocks: the writer commits hundreds of diagnoses per transaction faster than requests arrive.
    fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.shared
            .jobs
            .send(job)
            .map_err(|_| StoreError::WriterStopped)
    }

    async fn ask<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(job(reply))?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Queues a diagnosis and returns without waiting for the commit (see the module comment).
    pub fn insert_diagnosis(&self, diagnosis: NewDiagnosis) -> Result<(), StoreError> {
        self.submit(Job::Insert(diagnosis, now_rfc3339()))
    }

    /// Stores a vote, replacing an earlier one on the same diagnosis, and waits for the commit;
    /// `false` when the diagnosis is unknown.
    pub async fn set_feedback(&self, feedback: NewFeedback) -> Result<bool, StoreError> {
        self.ask(|reply| Job::Feedback { feedback, reply }).await
    }

    /// Votes per rule, most voted first, with each rule's latest comments.
    pub async fn feedback_summary(&self) -> Result<FeedbackSummary, StoreError> {
        self.ask(|reply| Job::Summary { reply }).await
    }

    /// Votes per customization version, by customization id then version.
    pub async fn feedback_by_customization(
        &self,
    ) -> Result<Vec<CustomizationFeedback>, StoreError> {
        self.ask(|reply| Job::ByCustomization { reply }).await
    }

    pub async fn diagnosis(&self, id: &str) -> Result<Option<DiagnosisRecord>, StoreError> {
        let id = id.to_string();
        self.ask(|reply| Job::Read { id, reply }).await
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Flush(reply))?;
        answer.await.map_err(|_| StoreError::WriterStopped)
    }
}

fn run_writer(mut db: Db, queue: mpsc::Receiver<Job>) {
    let mut next = queue.recv().ok();
    let mut batch: Vec<(NewDiagnosis, String)> = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = next.take() {
        match job {
            Job::Insert(diagnosis, created_at) => {
                batch.push((diagnosis, created_at));
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(Job::Insert(diagnosis, created_at)) => {
                            batch.push((diagnosis, created_at))
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Err(err) = db.transaction(|db| insert_batch(db, &batch)) {
                    tracing::error!(error = %err, lost = batch.len(), "storing diagnoses failed");
                }
                batch.clear();
            }
            Job::Feedback { feedback, reply } => {
                let _ = reply.send(set_feedback(&mut db, &feedback).map_err(StoreError::from));
            }
            Job::Summary { reply } => {
                let _ = reply.send(feedback_summary(&mut db).map_err(StoreError::from));
            }
            Job::ByCustomization { reply } => {
                let _ = reply.send(feedback_by_customization(&mut db).map_err(StoreError::from));
            }
            Job::Read { id, reply } => {
                let _ = reply.send(read_diagnosis(&mut db, &id).map_err(StoreError::from));
            }
            Job::Flush(reply) => {
                let _ = reply.send(());
            }
            Job::Stop => return,
        }
        if next.is_none() {
            next = queue.recv().ok();
        }
    }
}

const DIAGNOSIS_COLUMNS: usize = 12;

/// `INSERT … VALUES (?1, …, ?12), (?13, …)` for `rows` diagnoses.
fn insert_statement(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO diagnoses (id, created_at, rule, error_code, service, region, context_json,
             subscription_id, profile_id, customization_id, customization_version, user_key)
         VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..DIAGNOSIS_COLUMNS {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("?{}", row * DIAGNOSIS_COLUMNS + column + 1));
        }
        sql.push(')');
    }
    // An id is generated once; one seen again (a retried batch) must not lose the others.
    sql.push_str(" ON CONFLICT (id) DO NOTHING");
    sql
}

fn insert_batch(db: &mut Db, batch: &[(NewDiagnosis, String)]) -> Result<(), DbError> {
    let mut rest = batch;
    while !rest.is_empty() {
        let size = INSERT_CHUNKS
            .into_iter()
            .find(|size| *size <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        let mut params = Vec::with_capacity(chunk.len() * DIAGNOSIS_COLUMNS);
        for (diagnosis, created_at) in chunk {
            params.extend([
                Value::from(diagnosis.id.as_str()),
                Value::from(created_at.as_str()),
                Value::from(diagnosis.rule.clone()),
                Value::from(diagnosis.error_code.clone()),
                Value::from(diagnosis.service.clone()),
                Value::from(diagnosis.region.clone()),
                Value::from(diagnosis.context_json.as_str()),
                Value::from(diagnosis.subscription_id.clone()),
                Value::from(diagnosis.profile_id.clone()),
                Value::from(diagnosis.customization_id.clone()),
                Value::from(diagnosis.customization_version),
                Value::from(diagnosis.user_key.clone()),
            ]);
        }
        db.execute(&insert_statement(chunk.len()), &params)?;
        rest = tail;
    }
    Ok(())
}

/// Keeps the first vote's time and gives the vote the next sequence number, so that among
/// votes changed in the same second the last changed comes first.
fn set_feedback(db: &mut Db, feedback: &NewFeedback) -> Result<bool, DbError> {
    let now = now_rfc3339();
    // The WHERE on the SELECT is required: without it SQLite would read ON CONFLICT as a join's ON.
    let stored = db.execute(
        "INSERT INTO feedback
             (diagnosis_id, verdict, comment, created_at, rule, client_version, backend_version,
              updated_at, vote_seq)
         SELECT d.id, ?2, ?3, ?4, d.rule, ?5, ?6, ?4,
                (SELECT COALESCE(MAX(f.vote_seq), 0) + 1 FROM feedback f)
         FROM diagnoses d WHERE d.id = ?1
         ON CONFLICT (diagnosis_id) DO UPDATE SET
             verdict = excluded.verdict,
             comment = excluded.comment,
             rule = excluded.rule,
             client_version = excluded.client_version,
             backend_version = excluded.backend_version,
             updated_at = excluded.updated_at,
             vote_seq = excluded.vote_seq",
        &[
            feedback.diagnosis_id.as_str().into(),
            feedback.verdict.as_str().into(),
            feedback.comment.as_deref().into(),
            now.into(),
            feedback.client_version.as_deref().into(),
            BACKEND_VERSION.into(),
        ],
    )?;
    Ok(stored > 0)
}

fn count(row: &Row, index: usize) -> Result<u64, DbError> {
    // COUNT and SUM of 0/1 are never negative; NULL (no rows) counts as 0.
    Ok(u64::try_from(row.opt_int(index)?.unwrap_or(0)).unwrap_or_default())
}

fn feedback_summary(db: &mut Db) -> Result<FeedbackSummary, DbError> {
    let mut rules = Vec::new();
    // Read from the covering index feedback_by_rule alone.
    for row in db.query(
        "SELECT rule, COUNT(*), SUM(CASE WHEN verdict = 'helpful' THEN 1 ELSE 0 END),
                MAX(updated_at)
         FROM feedback GROUP BY rule",
        &[],
    )? {
        let votes = count(&row, 1)?;
        let helpful = count(&row, 2)?;
        rules.push(RuleFeedback {
            rule: row.opt_text(0)?,
            votes,
            helpful,
            not_helpful: votes.saturating_sub(helpful),
            helpful_rate: crate::feedback::helpful_rate(helpful, votes),
            last_vote_at: row.opt_text(3)?,
            latest_comments: Vec::new(),
        });
    }
    // One indexed look-up per rule reads a few rows; a window over all comments sorts them all.
    for rule in &mut rules {
        rule.latest_comments = db
            .query(
                "SELECT verdict, comment, client_version, updated_at FROM feedback
                 WHERE rule IS NOT DISTINCT FROM ?1 AND comment IS NOT NULL AND comment <> ''
                 ORDER BY updated_at DESC, vote_seq DESC LIMIT ?2",
                &[rule.rule.as_deref().into(), (LATEST_COMMENTS as i64).into()],
            )?
            .iter()
            .map(|row| {
                Ok(FeedbackComment {
                    verdict: row.text(0)?,
                    comment: row.text(1)?,
                    client_version: row.opt_text(2)?,
                    updated_at: row.text(3)?,
                })
            })
            .collect::<Result<_, DbError>>()?;
    }
    Ok(FeedbackSummary::from_rules(rules))
}

fn feedback_by_customization(db: &mut Db) -> Result<Vec<CustomizationFeedback>, DbError> {
    let mut rows = db
        .query(
            "SELECT d.customization_id, d.customization_version,
                    SUM(CASE WHEN f.verdict = 'helpful' THEN 1 ELSE 0 END),
                    SUM(CASE WHEN f.verdict = 'not_helpful' THEN 1 ELSE 0 END)
             FROM feedback f JOIN diagnoses d ON d.id = f.diagnosis_id
             WHERE d.customization_id IS NOT NULL AND d.customization_version IS NOT NULL
             GROUP BY d.customization_id, d.customization_version",
            &[],
        )?
        .iter()
        .map(|row| {
            Ok(CustomizationFeedback {
                customization_id: row.text(0)?,
                customization_version: row.int(1)?,
                helpful: row.opt_int(2)?.unwrap_or(0),
                not_helpful: row.opt_int(3)?.unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    rows.sort_by(|a, b| {
        (a.customization_id.as_str(), a.customization_version)
            .cmp(&(b.customization_id.as_str(), b.customization_version))
    });
    Ok(rows)
}

fn feedback_rows(db: &mut Db) -> Result<Vec<FeedbackRow>, DbError> {
    let mut rows = db
        .query(
            "SELECT f.diagnosis_id, f.rule, f.verdict, f.comment, f.client_version,
                    f.backend_version, f.created_at, f.updated_at,
                    d.profile_id, d.customization_id, d.customization_version
             FROM feedback f LEFT JOIN diagnoses d ON d.id = f.diagnosis_id",
            &[],
        )?
        .iter()
        .map(|row| {
            Ok(FeedbackRow {
                diagnosis_id: row.text(0)?,
                rule: row.opt_text(1)?,
                verdict: row.text(2)?,
                comment: row.opt_text(3)?,
                client_version: row.opt_text(4)?,
                backend_version: row.opt_text(5)?,
                created_at: row.text(6)?,
                updated_at: row.text(7)?,
                profile_id: row.opt_text(8)?,
                customization_id: row.opt_text(9)?,
                customization_version: row.opt_int(10)?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    // Byte order on both backends (PostgreSQL's ORDER BY would follow the locale).
    rows.sort_by(|a, b| {
        (a.created_at.as_str(), a.diagnosis_id.as_str())
            .cmp(&(b.created_at.as_str(), b.diagnosis_id.as_str()))
    });
    Ok(rows)
}

/// Every stored vote in `DIR/consoledx.sqlite3`, for `consoledx feedback export`.
///
/// Never creates a store: a missing file or one that is not consoledx's is an error.
/// A file from an older consoledx is migrated first, as `Store::open` would.
pub fn export_feedback(data_dir: &Path) -> Result<Vec<FeedbackRow>, StoreError> {
    export_feedback_url(&DatabaseUrl::Sqlite(data_dir.join(DATABASE_FILE)))
}

/// Every stored vote in the store at `url`; never creates one (see [`export_feedback`]).
pub fn export_feedback_url(url: &DatabaseUrl) -> Result<Vec<FeedbackRow>, StoreError> {
    if let DatabaseUrl::Sqlite(path) = url
        && !path.is_file()
    {
        return Err(StoreError::Missing { path: path.clone() });
    }
    let url = url.clone();
    off_runtime(move || {
        let mut db = Db::open(&url)?;
        if schema_version(&mut db)? == 0 {
            return Err(StoreError::NotAStore {
                location: url.to_string(),
            });
        }
        migrate(&mut db)?;
        Ok(feedback_rows(&mut db)?)
    })
}

fn read_diagnosis(db: &mut Db, id: &str) -> Result<Option<DiagnosisRecord>, DbError> {
    let Some(row) = db.query_opt(
        "SELECT d.id, d.rule, f.verdict, f.comment FROM diagnoses d
         LEFT JOIN feedback f ON f.diagnosis_id = d.id WHERE d.id = ?1",
        &[id.into()],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(DiagnosisRecord {
        id: row.text(0)?,
        rule: row.opt_text(1)?,
        verdict: row.opt_text(2)?,
        comment: row.opt_text(3)?,
    }))
}

fn table_exists(db: &mut Db, table: &str) -> Result<bool, DbError> {
    let sql = if db.is_postgres() {
        "SELECT COUNT(*) FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_name = ?1"
    } else {
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1"
    };
    let rows = db.query(sql, &[table.into()])?;
    Ok(rows.first().map(|row| row.int(0)).transpose()?.unwrap_or(0) > 0)
}

/// The database's schema version: 0 for one without consoledx's tables.
fn schema_version(db: &mut Db) -> Result<i64, DbError> {
    let table = if db.is_postgres() {
        "consoledx_schema"
    } else {
        let user_version = db
            .query("PRAGMA user_version", &[])?
            .first()
            .map(|row| row.int(0))
            .transpose()?
            .unwrap_or(0);
        if user_version > 0 {
            return Ok(user_version);
        }
        "schema_version"
    };
    if !table_exists(db, table)? {
        return Ok(0);
    }
    let rows = db.query(
        &format!("SELECT COALESCE(MAX(version), 0) FROM {table}"),
        &[],
    )?;
    Ok(rows.first().map(|row| row.int(0)).transpose()?.unwrap_or(0))
}

/// `SQLITE_MIGRATIONS[n]` takes a file from version `n` to `n + 1`. Never edit a released step: add one.
const SQLITE_MIGRATIONS: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
     CREATE TABLE IF NOT EXISTS diagnoses (
         id TEXT PRIMARY KEY,
         created_at TEXT NOT NULL,
         rule TEXT,
         error_code TEXT,
         service TEXT,
         region TEXT,
         context_json TEXT NOT NULL
     );
     CREATE TABLE IF NOT EXISTS feedback (
         diagnosis_id TEXT PRIMARY KEY REFERENCES diagnoses(id),
         verdict TEXT NOT NULL CHECK (verdict IN ('helpful', 'not_helpful')),
         comment TEXT,
         created_at TEXT NOT NULL
     );",
    // Votes keep the rule they judged and the versions that produced and sent them.
    "ALTER TABLE feedback ADD COLUMN rule TEXT;
     ALTER TABLE feedback ADD COLUMN client_version TEXT;
     ALTER TABLE feedback ADD COLUMN backend_version TEXT;
     ALTER TABLE feedback ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
     UPDATE feedback SET updated_at = created_at,
         rule = (SELECT d.rule FROM diagnoses d WHERE d.id = feedback.diagnosis_id);
     CREATE INDEX IF NOT EXISTS feedback_by_rule ON feedback (rule, updated_at, verdict);",
    // Diagnoses keep who asked under which profile and customization; votes get a portable
    // order of change (rowid order was SQLite's own).
    "ALTER TABLE diagnoses ADD COLUMN subscription_id TEXT;
     ALTER TABLE diagnoses ADD COLUMN profile_id TEXT;
     ALTER TABLE diagnoses ADD COLUMN customization_id TEXT;
     ALTER TABLE diagnoses ADD COLUMN customization_version BIGINT;
     ALTER TABLE diagnoses ADD COLUMN user_key TEXT;
     ALTER TABLE feedback ADD COLUMN vote_seq BIGINT NOT NULL DEFAULT 0;
     UPDATE feedback SET vote_seq = rowid;
     CREATE INDEX IF NOT EXISTS diagnoses_by_customization
         ON diagnoses (customization_id, customization_version);",
];

/// The first schema version PostgreSQL databases have.
const POSTGRES_FIRST_VERSION: i64 = 3;

/// `POSTGRES_MIGRATIONS[0]` creates version 3 in an empty database; `[n]` takes version
/// `2 + n` to `3 + n`. Never edit a released step: add one.
const POSTGRES_MIGRATIONS: [&str; 1] = ["CREATE TABLE consoledx_schema (version BIGINT NOT NULL);
     CREATE TABLE diagnoses (
         id TEXT PRIMARY KEY,
         created_at TEXT NOT NULL,
         rule TEXT,
         error_code TEXT,
         service TEXT,
         region TEXT,
         context_json TEXT NOT NULL,
         subscription_id TEXT,
         profile_id TEXT,
         customization_id TEXT,
         customization_version BIGINT,
         user_key TEXT
     );
     CREATE TABLE feedback (
         diagnosis_id TEXT PRIMARY KEY REFERENCES diagnoses(id),
         verdict TEXT NOT NULL CHECK (verdict IN ('helpful', 'not_helpful')),
         comment TEXT,
         created_at TEXT NOT NULL,
         rule TEXT,
         client_version TEXT,
         backend_version TEXT,
         updated_at TEXT NOT NULL,
         vote_seq BIGINT NOT NULL DEFAULT 0
     );
     CREATE INDEX feedback_by_rule ON feedback (rule, updated_at, verdict);
     CREATE INDEX diagnoses_by_customization ON diagnoses (customization_id, customization_version);"];

/// Brings the database to `SCHEMA_VERSION` in one transaction: a failed step leaves it as it was.
fn migrate(db: &mut Db) -> Result<(), StoreError> {
    // SQLite's transaction holds the write lock from its start, PostgreSQL's the migration
    // lock: two processes never both migrate, and the second sees the first one's result.
    let found = db.transaction(|db| {
        db.lock(MIGRATION_LOCK)?;
        let found = schema_version(db)?;
        if found >= SCHEMA_VERSION {
            return Ok(found);
        }
        if db.is_postgres() {
            let first = match found {
                0 => 0,
                // Versions below the first PostgreSQL one never existed there.
                older if older < POSTGRES_FIRST_VERSION => return Ok(-older),
                older => (older - POSTGRES_FIRST_VERSION + 1) as usize,
            };
            for step in &POSTGRES_MIGRATIONS[first..] {
                db.execute_batch(step)?;
            }
            db.execute("DELETE FROM consoledx_schema", &[])?;
            db.execute(
                "INSERT INTO consoledx_schema (version) VALUES (?1)",
                &[SCHEMA_VERSION.into()],
            )?;
        } else {
            for step in &SQLITE_MIGRATIONS[found.max(0) as usize..] {
                db.execute_batch(step)?;
            }
            db.execute_batch(&format!(
                "DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION});
                 PRAGMA user_version = {SCHEMA_VERSION};"
            ))?;
        }
        Ok(found)
    })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { found });
    }
    if found < 0 {
        return Err(StoreError::NotAStore {
            location: format!("{} (schema version {})", db.url(), -found),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{
        FEEDBACK_COLUMNS, FeedbackRow, POSTGRES_FIRST_VERSION, POSTGRES_MIGRATIONS, SCHEMA_VERSION,
        SQLITE_MIGRATIONS, insert_statement, now_rfc3339,
    };

    #[test]
    fn csv_header_matches_the_row_fields() {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let row = FeedbackRow {
            diagnosis_id: String::new(),
            rule: None,
            verdict: String::new(),
            comment: None,
            client_version: None,
            backend_version: None,
            created_at: String::new(),
            updated_at: String::new(),
            profile_id: None,
            customization_id: None,
            customization_version: None,
        };
        writer.serialize(&row).expect("serializes");
        let bytes = writer.into_inner().expect("flushes");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(
            text.lines().next(),
            Some(FEEDBACK_COLUMNS.join(",").as_str())
        );
    }

    #[test]
    fn one_migration_per_version() {
        assert_eq!(SQLITE_MIGRATIONS.len() as i64, SCHEMA_VERSION);
        assert_eq!(
            POSTGRES_MIGRATIONS.len() as i64,
            SCHEMA_VERSION - POSTGRES_FIRST_VERSION + 1
        );
    }

    #[test]
    fn multi_row_inserts_number_every_parameter() {
        let sql = insert_statement(3);
        assert!(
            sql.contains("(?1, ?2,") && sql.contains("?36)") && !sql.contains("?37"),
            "{sql}"
        );
    }

    #[test]
    fn timestamp_shape() {
        let ts = now_rfc3339();
        assert_eq!(ts.len(), 20, "{ts}");
        assert!(ts.starts_with("20") && ts.ends_with('Z'), "{ts}");
    }
}
