//! The diagnosis and feedback store: one SQLite file in the data directory.
//! Calls block; async handlers reach it through `spawn_blocking`.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

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
    #[error("database lock poisoned")]
    Poisoned,
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
pub struct NewDiagnosis<'a> {
    pub id: &'a str,
    pub rule: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub service: Option<&'a str>,
    pub region: Option<&'a str>,
    /// The redacted context, as JSON.
    pub context_json: &'a str,
}

#[derive(Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
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
        Ok(Store {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let connection = self.connection.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(f(&connection)?)
    }

    pub fn insert_diagnosis(&self, diagnosis: &NewDiagnosis) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO diagnoses (id, created_at, rule, error_code, service, region, context_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    diagnosis.id,
                    now_rfc3339(),
                    diagnosis.rule,
                    diagnosis.error_code,
                    diagnosis.service,
                    diagnosis.region,
                    diagnosis.context_json
                ],
            )
            .map(|_| ())
        })
    }

    /// Stores a verdict, replacing an earlier one; `false` when the diagnosis is unknown.
    pub fn set_feedback(
        &self,
        diagnosis_id: &str,
        verdict: &str,
        comment: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
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
        })
    }

    pub fn diagnosis(&self, id: &str) -> Result<Option<DiagnosisRecord>, StoreError> {
        self.with(|c| {
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
        })
    }
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
