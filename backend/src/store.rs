//! The diagnosis and feedback store: one SQLite file in the data directory.
//!
//! One writer thread owns the connection and takes jobs from a bounded queue
//! in order. A diagnosis is queued and the request answered at once; diagnoses
//! queued meanwhile are committed together in one transaction, so under load
//! the request path never waits for SQLite. Feedback and reads wait for their
//! own job, which runs after every diagnosis queued before it: feedback on a
//! just-returned id always finds it, and is committed before it is acknowledged.
//!
//! The schema's version is `PRAGMA user_version`. Files from before it carry
//! version 1 in a `schema_version` table, which is kept in step so that those
//! older binaries refuse a newer file instead of writing to it.

use crate::feedback::{FeedbackComment, FeedbackSummary, RuleFeedback};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Diagnoses committed in one transaction at most.
const MAX_BATCH: usize = 512;

/// Bumped with every schema change; a file from a newer consoledx is refused, not corrupted.
pub const SCHEMA_VERSION: i64 = 2;

/// The file inside the data directory.
pub const DATABASE_FILE: &str = "consoledx.sqlite3";

/// Recorded with every vote, beside the version the client reports.
pub const BACKEND_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Comments shown per rule in the feedback summary.
pub const LATEST_COMMENTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database schema version {found} is newer than this consoledx ({SCHEMA_VERSION})")]
    NewerSchema { found: i64 },
    #[error("no consoledx store at {}", path.display())]
    Missing { path: PathBuf },
    #[error("{} is not a consoledx store", path.display())]
    NotAStore { path: PathBuf },
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
    /// Errors caused by the file the caller pointed at, as opposed to failures while using a good one.
    pub fn is_bad_location(&self) -> bool {
        match self {
            StoreError::NewerSchema { .. }
            | StoreError::Missing { .. }
            | StoreError::NotAStore { .. }
            | StoreError::CreateDir { .. } => true,
            StoreError::Sqlite(err) => matches!(
                err.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::NotADatabase
                        | rusqlite::ErrorCode::DatabaseCorrupt
                        | rusqlite::ErrorCode::CannotOpen
                )
            ),
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
pub const FEEDBACK_COLUMNS: [&str; 8] = [
    "diagnosis_id",
    "rule",
    "verdict",
    "comment",
    "client_version",
    "backend_version",
    "created_at",
    "updated_at",
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
}

/// What is kept of an analysis.
#[derive(Debug, Clone)]
pub struct NewDiagnosis {
    pub id: String,
    pub rule: Option<String>,
    pub error_code: Option<String>,
    pub service: Option<String>,
    pub region: Option<String>,
    /// The redacted context, as JSON.
    pub context_json: String,
}

enum Job {
    Insert(NewDiagnosis, String),
    Feedback {
        feedback: NewFeedback,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Summary {
        reply: oneshot::Sender<Result<FeedbackSummary, StoreError>>,
    },
    Read {
        id: String,
        reply: oneshot::Sender<Result<Option<DiagnosisRecord>, StoreError>>,
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
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn now_rfc3339() -> String {
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

impl Store {
    /// Opens (creating if needed) `DIR/consoledx.sqlite3`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let mut connection = Connection::open(data_dir.join(DATABASE_FILE))?;
        // busy_timeout rides out a second process (an export, a second server).
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // Before anything writes: a file this consoledx cannot use is left exactly as it was.
        migrate(&mut connection)?;
        // WAL lets readers proceed while feedback is written.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        let (jobs, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("consoledx-store".to_string())
            .spawn(move || run_writer(connection, queue))
            .map_err(StoreError::Thread)?;
        Ok(Store {
            shared: Arc::new(Shared {
                jobs,
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// Never blocks: the writer commits thousands of diagnoses per transaction faster than requests arrive.
    fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.shared
            .jobs
            .send(job)
            .map_err(|_| StoreError::WriterStopped)
    }

    /// Queues a diagnosis and returns without waiting for the commit (see the module comment).
    pub fn insert_diagnosis(&self, diagnosis: NewDiagnosis) -> Result<(), StoreError> {
        self.submit(Job::Insert(diagnosis, now_rfc3339()))
    }

    /// Stores a vote, replacing an earlier one on the same diagnosis, and waits for the commit;
    /// `false` when the diagnosis is unknown.
    pub async fn set_feedback(&self, feedback: NewFeedback) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Feedback { feedback, reply })?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Votes per rule, most voted first, with each rule's latest comments.
    pub async fn feedback_summary(&self) -> Result<FeedbackSummary, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Summary { reply })?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    pub async fn diagnosis(&self, id: &str) -> Result<Option<DiagnosisRecord>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Read {
            id: id.to_string(),
            reply,
        })?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Flush(reply))?;
        answer.await.map_err(|_| StoreError::WriterStopped)
    }
}

fn run_writer(mut connection: Connection, queue: mpsc::Receiver<Job>) {
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
                if let Err(err) = insert_batch(&mut connection, &batch) {
                    tracing::error!(error = %err, lost = batch.len(), "storing diagnoses failed");
                }
                batch.clear();
            }
            Job::Feedback { feedback, reply } => {
                let _ = reply.send(set_feedback(&connection, &feedback).map_err(StoreError::from));
            }
            Job::Summary { reply } => {
                let _ = reply.send(feedback_summary(&connection).map_err(StoreError::from));
            }
            Job::Read { id, reply } => {
                let _ = reply.send(read_diagnosis(&connection, &id).map_err(StoreError::from));
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

fn insert_batch(
    connection: &mut Connection,
    batch: &[(NewDiagnosis, String)],
) -> Result<(), rusqlite::Error> {
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare_cached(
            "INSERT INTO diagnoses (id, created_at, rule, error_code, service, region, context_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for (diagnosis, created_at) in batch {
            insert.execute(params![
                diagnosis.id,
                created_at,
                diagnosis.rule,
                diagnosis.error_code,
                diagnosis.service,
                diagnosis.region,
                diagnosis.context_json
            ])?;
        }
    }
    transaction.commit()
}

/// Keeps the first vote's time and moves the row to the end of the table (REPLACE inserts a
/// new row), so rowid order is the order in which votes were last changed.
fn set_feedback(c: &Connection, feedback: &NewFeedback) -> Result<bool, rusqlite::Error> {
    let now = now_rfc3339();
    let stored = c.execute(
        "INSERT OR REPLACE INTO feedback
             (diagnosis_id, verdict, comment, created_at, rule, client_version, backend_version, updated_at)
         SELECT d.id, ?2, ?3,
                COALESCE((SELECT f.created_at FROM feedback f WHERE f.diagnosis_id = d.id), ?4),
                d.rule, ?5, ?6, ?4
         FROM diagnoses d WHERE d.id = ?1",
        params![
            feedback.diagnosis_id,
            feedback.verdict,
            feedback.comment,
            now,
            feedback.client_version,
            BACKEND_VERSION
        ],
    )?;
    Ok(stored > 0)
}

fn feedback_summary(c: &Connection) -> Result<FeedbackSummary, rusqlite::Error> {
    let mut rules: Vec<RuleFeedback> = c
        .prepare_cached(
            // Read from the covering index feedback_by_rule alone.
            "SELECT rule, COUNT(*), SUM(verdict = 'helpful'), MAX(updated_at) FROM feedback
             GROUP BY rule ORDER BY COUNT(*) DESC, rule IS NULL, rule",
        )?
        .query_map([], |row| {
            // SQLite counts are i64; COUNT and SUM of a comparison are never negative.
            let votes = u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default();
            let helpful = u64::try_from(row.get::<_, i64>(2)?).unwrap_or_default();
            Ok(RuleFeedback {
                rule: row.get(0)?,
                votes,
                helpful,
                not_helpful: votes.saturating_sub(helpful),
                helpful_rate: rate(helpful, votes),
                last_vote_at: row.get(3)?,
                latest_comments: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    // One indexed look-up per rule reads a few rows; a window over all comments sorts them all.
    let mut latest = c.prepare_cached(
        "SELECT verdict, comment, client_version, updated_at FROM feedback
         WHERE rule IS ?1 AND comment IS NOT NULL AND comment <> ''
         ORDER BY updated_at DESC, rowid DESC LIMIT ?2",
    )?;
    for rule in &mut rules {
        rule.latest_comments = latest
            .query_map(params![rule.rule, LATEST_COMMENTS as i64], |row| {
                Ok(FeedbackComment {
                    verdict: row.get(0)?,
                    comment: row.get(1)?,
                    client_version: row.get(2)?,
                    updated_at: row.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    let votes = rules.iter().map(|r| r.votes).sum();
    let helpful = rules.iter().map(|r| r.helpful).sum();
    Ok(FeedbackSummary {
        backend_version: BACKEND_VERSION.to_string(),
        votes,
        helpful,
        not_helpful: votes - helpful,
        helpful_rate: rate(helpful, votes),
        rules,
    })
}

fn rate(helpful: u64, votes: u64) -> Option<f64> {
    (votes > 0).then(|| helpful as f64 / votes as f64)
}

fn feedback_rows(c: &Connection) -> Result<Vec<FeedbackRow>, rusqlite::Error> {
    c.prepare(
        "SELECT diagnosis_id, rule, verdict, comment, client_version, backend_version,
                created_at, updated_at
         FROM feedback ORDER BY created_at, diagnosis_id",
    )?
    .query_map([], |row| {
        Ok(FeedbackRow {
            diagnosis_id: row.get(0)?,
            rule: row.get(1)?,
            verdict: row.get(2)?,
            comment: row.get(3)?,
            client_version: row.get(4)?,
            backend_version: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
        })
    })?
    .collect()
}

/// Every stored vote in `DIR/consoledx.sqlite3`, for `consoledx feedback export`.
///
/// Never creates a store: a missing file or one that is not consoledx's is an error.
/// A file from an older consoledx is migrated first, as `Store::open` would.
pub fn export_feedback(data_dir: &Path) -> Result<Vec<FeedbackRow>, StoreError> {
    let path = data_dir.join(DATABASE_FILE);
    if !path.is_file() {
        return Err(StoreError::Missing { path });
    }
    let mut connection = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    if schema_version(&connection)? == 0 {
        return Err(StoreError::NotAStore { path });
    }
    migrate(&mut connection)?;
    Ok(feedback_rows(&connection)?)
}

fn read_diagnosis(c: &Connection, id: &str) -> Result<Option<DiagnosisRecord>, rusqlite::Error> {
    c.query_row(
        "SELECT d.id, d.rule, f.verdict, f.comment FROM diagnoses d
                 LEFT JOIN feedback f ON f.diagnosis_id = d.id WHERE d.id = ?1",
        [id],
        |row| {
            Ok(DiagnosisRecord {
                id: row.get(0)?,
                rule: row.get(1)?,
                verdict: row.get(2)?,
                comment: row.get(3)?,
            })
        },
    )
    .optional()
}

/// The file's schema version: 0 for a file without consoledx's tables.
fn schema_version(c: &Connection) -> Result<i64, rusqlite::Error> {
    let user_version: i64 = c.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if user_version > 0 {
        return Ok(user_version);
    }
    let has_table: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |row| row.get(0),
    )?;
    if !has_table {
        return Ok(0);
    }
    c.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )
}

/// `MIGRATIONS[n]` takes a file from version `n` to `n + 1`. Never edit a released step: add one.
const MIGRATIONS: [&str; 2] = [
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
];

/// Brings the file to `SCHEMA_VERSION` in one transaction: a failed step leaves it as it was.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock before the version is read, so two processes never both migrate.
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = schema_version(&transaction)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { found });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    for step in &MIGRATIONS[found.max(0) as usize..] {
        transaction.execute_batch(step)?;
    }
    transaction.execute_batch(&format!(
        "DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION});"
    ))?;
    transaction.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    transaction.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{FEEDBACK_COLUMNS, FeedbackRow, MIGRATIONS, SCHEMA_VERSION, now_rfc3339};

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
        assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
    }

    #[test]
    fn timestamp_shape() {
        let ts = now_rfc3339();
        assert_eq!(ts.len(), 20, "{ts}");
        assert!(ts.starts_with("20") && ts.ends_with('Z'), "{ts}");
    }
}
