//! The diagnosis and feedback store: one SQLite file in the data directory.
//!
//! One writer thread owns the connection and takes jobs from a bounded queue
//! in order. A diagnosis is queued and the request answered at once; diagnoses
//! queued meanwhile are committed together in one transaction, so under load
//! the request path never waits for SQLite. Feedback and reads wait for their
//! own job, which runs after every diagnosis queued before it: feedback on a
//! just-returned id always finds it, and is committed before it is acknowledged.

use rusqlite::{Connection, OptionalExtension, params};
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
pub const SCHEMA_VERSION: i64 = 1;

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
        diagnosis_id: String,
        verdict: String,
        comment: Option<String>,
        reply: oneshot::Sender<Result<bool, StoreError>>,
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
        let connection = Connection::open(data_dir.join("consoledx.sqlite3"))?;
        // WAL lets readers proceed while feedback is written; busy_timeout rides out a second process.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&connection)?;
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

    /// Stores a verdict, replacing an earlier one, and waits for the commit; `false` when the diagnosis is unknown.
    pub async fn set_feedback(
        &self,
        diagnosis_id: &str,
        verdict: &str,
        comment: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Feedback {
            diagnosis_id: diagnosis_id.to_string(),
            verdict: verdict.to_string(),
            comment: comment.map(str::to_string),
            reply,
        })?;
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
            Job::Feedback {
                diagnosis_id,
                verdict,
                comment,
                reply,
            } => {
                let _ = reply.send(
                    set_feedback(&connection, &diagnosis_id, &verdict, comment.as_deref())
                        .map_err(StoreError::from),
                );
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

fn set_feedback(
    c: &Connection,
    diagnosis_id: &str,
    verdict: &str,
    comment: Option<&str>,
) -> Result<bool, rusqlite::Error> {
    let known: Option<i64> = c
        .query_row(
            "SELECT 1 FROM diagnoses WHERE id = ?1",
            [diagnosis_id],
            |row| row.get(0),
        )
        .optional()?;
    if known.is_none() {
        return Ok(false);
    }
    c.execute(
        "INSERT INTO feedback (diagnosis_id, verdict, comment, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(diagnosis_id) DO UPDATE SET verdict = excluded.verdict,
                   comment = excluded.comment, created_at = excluded.created_at",
        params![diagnosis_id, verdict, comment, now_rfc3339()],
    )?;
    Ok(true)
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

fn migrate(connection: &Connection) -> Result<(), StoreError> {
    connection
        .execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")?;
    let found: Option<i64> = connection
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    match found {
        Some(version) if version > SCHEMA_VERSION => {
            return Err(StoreError::NewerSchema { found: version });
        }
        Some(version) if version == SCHEMA_VERSION => return Ok(()),
        _ => {}
    }
    connection.execute_batch(
        "BEGIN;
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
         );
         DELETE FROM schema_version;
         INSERT INTO schema_version (version) VALUES (1);
         COMMIT;",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::now_rfc3339;

    #[test]
    fn timestamp_shape() {
        let ts = now_rfc3339();
        assert_eq!(ts.len(), 20, "{ts}");
        assert!(ts.starts_with("20") && ts.ends_with('Z'), "{ts}");
    }
}
