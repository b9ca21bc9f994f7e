//! Where the directory lives: subscriptions, profiles, customizations with
//! their versions and grants, and usage, in SQLite or PostgreSQL through
//! [`crate::db`]. Every change is one transaction, so a refused change
//! leaves nothing behind.

use super::directory::{
    Customization, CustomizationVersion, Directory, DirectoryError, Principal, ProfileEntry,
    Subscription,
};
use super::report::UsageRow;
use crate::db::{DatabaseUrl, Db, DbError, DbHandle};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bumped with every change of the directory's tables.
pub const DIRECTORY_SCHEMA_VERSION: i64 = 1;

/// The SQLite file of the directory inside the data directory.
pub const DIRECTORY_FILE: &str = "directory.sqlite3";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS directory_schema (version BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    issuer TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS subscription_grants (
    subscription_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (subscription_id, kind, name)
);
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    region TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    active_version BIGINT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customization_grants (
    customization_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (customization_id, kind, name)
);
CREATE TABLE IF NOT EXISTS customization_versions (
    customization_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    files_json TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    gate_json TEXT,
    activated_at TEXT,
    PRIMARY KEY (customization_id, version)
);
CREATE TABLE IF NOT EXISTS usage_days (
    day TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    username TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (day, issuer, subject, profile_id)
);
";

#[derive(Debug, thiserror::Error)]
pub enum DirectoryStoreError {
    #[error("{0}")]
    Directory(#[from] DirectoryError),
    #[error("directory database: {0}")]
    Db(#[from] DbError),
    #[error(
        "the directory's schema version {found} is newer than this consoledx ({DIRECTORY_SCHEMA_VERSION})"
    )]
    NewerSchema { found: i64 },
    #[error("stored customization files are unreadable: {0}")]
    Files(String),
}

/// One file of a customization version, as uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackFile {
    pub name: String,
    pub text: String,
}

/// Creates the tables, or finds the schema version of an existing directory.
fn migrate(db: &mut Db) -> Result<i64, DbError> {
    db.transaction(|db| {
        // Replicas starting together on one PostgreSQL database take turns.
        db.lock("consoledx directory migration")?;
        db.execute_batch(SCHEMA)?;
        let found = db.query("SELECT version FROM directory_schema", &[])?;
        match found.first() {
            Some(row) => row.int(0),
            None => {
                db.execute(
                    "INSERT INTO directory_schema (version) VALUES (?1)",
                    &[DIRECTORY_SCHEMA_VERSION.into()],
                )?;
                Ok(DIRECTORY_SCHEMA_VERSION)
            }
        }
    })
}

fn conflict(err: DbError, message: impl FnOnce() -> String) -> DirectoryStoreError {
    match err {
        DbError::Conflict(_) => DirectoryError::Conflict(message()).into(),
        other => other.into(),
    }
}

/// The directory tables behind one database connection thread.
#[derive(Clone, Debug)]
pub struct DirectoryStore {
    db: DbHandle,
    /// Usage counted but not yet written, by (day, issuer, subject, profile):
    /// requests arriving together are written in one transaction, not one
    /// commit each.
    pending_usage: Arc<Mutex<PendingUsage>>,
}

type PendingUsage = HashMap<(String, String, String, String), (String, i64)>;

impl DirectoryStore {
    /// Opens (creating if needed) the directory; a directory written by a
    /// newer consoledx is refused before anything is written to it.
    pub async fn open(url: &DatabaseUrl) -> Result<DirectoryStore, DirectoryStoreError> {
        let url = url.clone();
        let db = tokio::task::spawn_blocking(move || DbHandle::open(&url, |_| Ok(())))
            .await
            .map_err(|err| DbError::Panicked(err.to_string()))??;
        let found = db.run(migrate).await?;
        if found > DIRECTORY_SCHEMA_VERSION {
            return Err(DirectoryStoreError::NewerSchema { found });
        }
        // Every request counts its usage here.
        db.run(Db::use_write_ahead_log).await?;
        Ok(DirectoryStore {
            db,
            pending_usage: Arc::default(),
        })
    }

    pub async fn load(&self) -> Result<Directory, DirectoryStoreError> {
        self.db
            .run(load_directory)
            .await
            .map_err(DirectoryStoreError::from)
    }

    pub async fn create_subscription(
        &self,
        subscription: Subscription,
    ) -> Result<(), DirectoryStoreError> {
        let id = subscription.id.clone();
        self.db
            .run(move |db| {
                db.execute(
                    "INSERT INTO subscriptions (id, name, issuer, created_at) VALUES (?1, ?2, ?3, ?4)",
                    &[
                        subscription.id.into(),
                        subscription.name.into(),
                        subscription.issuer.into(),
                        subscription.created_at.into(),
                    ],
                )
            })
            .await
            .map(|_| ())
            .map_err(|err| conflict(err, || format!("subscription “{id}” exists already")))
    }

    pub async fn create_profile(&self, profile: ProfileEntry) -> Result<(), DirectoryStoreError> {
        let id = profile.id.clone();
        self.db
            .run(move |db| {
                db.execute(
                    "INSERT INTO profiles (id, name, subscription_id, region, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    &[
                        profile.id.into(),
                        profile.name.into(),
                        profile.subscription.into(),
                        profile.region.into(),
                        profile.created_at.into(),
                    ],
                )
            })
            .await
            .map(|_| ())
            .map_err(|err| conflict(err, || format!("profile “{id}” exists already")))
    }

    pub async fn create_customization(
        &self,
        customization: Customization,
    ) -> Result<(), DirectoryStoreError> {
        let id = customization.id.clone();
        self.db
            .run(move |db| {
                db.execute(
                    "INSERT INTO customizations (id, name, subscription_id, active_version, created_at) VALUES (?1, ?2, ?3, NULL, ?4)",
                    &[
                        customization.id.into(),
                        customization.name.into(),
                        customization.subscription.into(),
                        customization.created_at.into(),
                    ],
                )
            })
            .await
            .map(|_| ())
            .map_err(|err| conflict(err, || format!("customization “{id}” exists already")))
    }

    /// Grants or revokes; returns whether anything changed.
    pub async fn set_grant(
        &self,
        target: GrantTarget,
        principal: Principal,
        granted: bool,
    ) -> Result<bool, DirectoryStoreError> {
        let (table, column, id) = match target {
            GrantTarget::Subscription(id) => ("subscription_grants", "subscription_id", id),
            GrantTarget::Customization(id) => ("customization_grants", "customization_id", id),
        };
        let sql = if granted {
            format!(
                "INSERT INTO {table} ({column}, kind, name) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"
            )
        } else {
            format!("DELETE FROM {table} WHERE {column} = ?1 AND kind = ?2 AND name = ?3")
        };
        let changed = self
            .db
            .run(move |db| {
                db.execute(
                    &sql,
                    &[id.into(), principal.kind().into(), principal.name().into()],
                )
            })
            .await?;
        Ok(changed > 0)
    }

    /// Stores a new version and returns its number (one more than the last).
    pub async fn add_version(
        &self,
        customization: &str,
        files: Vec<PackFile>,
        uploaded_by: String,
        uploaded_at: String,
    ) -> Result<i64, DirectoryStoreError> {
        let files_json = serde_json::to_string(&files)
            .map_err(|err| DirectoryStoreError::Files(err.to_string()))?;
        let customization = customization.to_string();
        let id = customization.clone();
        self.db
            .run(move |db| {
                db.transaction(|db| {
                    let rows = db.query(
                        "SELECT COALESCE(MAX(version), 0) FROM customization_versions WHERE customization_id = ?1",
                        &[customization.as_str().into()],
                    )?;
                    let next = rows.first().map(|row| row.int(0)).transpose()?.unwrap_or(0) + 1;
                    db.execute(
                        "INSERT INTO customization_versions (customization_id, version, files_json, uploaded_at, uploaded_by, gate_json, activated_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL)",
                        &[
                            customization.into(),
                            next.into(),
                            files_json.into(),
                            uploaded_at.into(),
                            uploaded_by.into(),
                        ],
                    )?;
                    Ok(next)
                })
            })
            .await
            .map_err(|err| {
                conflict(err, || {
                    format!("another version of “{id}” was uploaded at the same time: upload again")
                })
            })
    }

    pub async fn version_files(
        &self,
        customization: &str,
        version: i64,
    ) -> Result<Vec<PackFile>, DirectoryStoreError> {
        let customization = customization.to_string();
        let rows = self
            .db
            .run(move |db| {
                db.query(
                    "SELECT files_json FROM customization_versions WHERE customization_id = ?1 AND version = ?2",
                    &[customization.into(), version.into()],
                )
            })
            .await?;
        let text = rows
            .first()
            .map(|row| row.text(0))
            .transpose()?
            .ok_or_else(|| {
                DirectoryError::NotFound(format!("the customization has no version {version}"))
            })?;
        serde_json::from_str(&text).map_err(|err| DirectoryStoreError::Files(err.to_string()))
    }

    /// Records the validation run of a version and, when it passed, makes it the active one.
    pub async fn record_gate(
        &self,
        customization: &str,
        version: i64,
        gate: serde_json::Value,
        activate_at: Option<String>,
    ) -> Result<(), DirectoryStoreError> {
        let customization = customization.to_string();
        let gate_json = gate.to_string();
        self.db
            .run(move |db| {
                db.transaction(|db| {
                    db.execute(
                        "UPDATE customization_versions SET gate_json = ?1, activated_at = COALESCE(?2, activated_at) WHERE customization_id = ?3 AND version = ?4",
                        &[
                            gate_json.into(),
                            activate_at.clone().into(),
                            customization.as_str().into(),
                            version.into(),
                        ],
                    )?;
                    if activate_at.is_some() {
                        db.execute(
                            "UPDATE customizations SET active_version = ?1 WHERE id = ?2",
                            &[version.into(), customization.as_str().into()],
                        )?;
                    }
                    Ok(())
                })
            })
            .await?;
        Ok(())
    }

    /// Counts one request of a user through a profile on a day, without
    /// waiting for the database. The first row counted since the last write
    /// queues a job that writes every row counted by the time it runs, so a
    /// report read afterwards still counts this one.
    pub fn record_usage(&self, usage: UsageRow) -> Result<(), DirectoryStoreError> {
        let mut pending = self
            .pending_usage
            .lock()
            .map_err(|_| DbError::Panicked("the usage counter was poisoned".to_string()))?;
        let first = pending.is_empty();
        let key = (usage.day, usage.issuer, usage.subject, usage.profile);
        let entry = pending.entry(key).or_insert_with(|| (String::new(), 0));
        entry.0 = usage.username;
        entry.1 += usage.requests;
        if first {
            let pending_usage = Arc::clone(&self.pending_usage);
            let queued = self.db.submit("usage", move |db| {
                let rows = pending_usage
                    .lock()
                    .map(|mut pending| std::mem::take(&mut *pending))
                    .unwrap_or_default();
                db.transaction(|db| {
                    for ((day, issuer, subject, profile), (username, requests)) in rows {
                        db.execute(
                            "INSERT INTO usage_days (day, issuer, subject, username, profile_id, requests) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT (day, issuer, subject, profile_id) DO UPDATE SET requests = usage_days.requests + excluded.requests, username = excluded.username",
                            &[
                                day.into(),
                                issuer.into(),
                                subject.into(),
                                username.into(),
                                profile.into(),
                                requests.into(),
                            ],
                        )?;
                    }
                    Ok(())
                })
            });
            if let Err(err) = queued {
                // The database thread is gone: nothing would ever write these.
                pending.clear();
                return Err(err.into());
            }
        }
        Ok(())
    }

    pub async fn usage(&self) -> Result<Vec<UsageRow>, DirectoryStoreError> {
        let rows = self
            .db
            .run(|db| {
                db.query(
                    "SELECT day, issuer, subject, username, profile_id, requests FROM usage_days ORDER BY day, issuer, subject, profile_id",
                    &[],
                )
            })
            .await?;
        rows.iter()
            .map(|row| {
                Ok(UsageRow {
                    day: row.text(0)?,
                    issuer: row.text(1)?,
                    subject: row.text(2)?,
                    username: row.text(3)?,
                    profile: row.text(4)?,
                    requests: row.int(5)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()
            .map_err(DirectoryStoreError::from)
    }
}

/// What a grant applies to.
#[derive(Debug, Clone)]
pub enum GrantTarget {
    Subscription(String),
    Customization(String),
}

/// Grants are written through [`Principal::parse`] only; a row of another kind
/// was not written by consoledx and grants nothing.
fn principal(kind: &str, name: String) -> Option<Principal> {
    match kind {
        "user" => Some(Principal::User(name)),
        "group" => Some(Principal::Group(name)),
        other => {
            tracing::warn!(kind = other, "ignoring a grant of an unknown kind");
            None
        }
    }
}

fn load_directory(db: &mut Db) -> Result<Directory, DbError> {
    let mut directory = Directory::default();
    for row in db.query(
        "SELECT id, name, issuer, created_at FROM subscriptions",
        &[],
    )? {
        let subscription = Subscription {
            id: row.text(0)?,
            name: row.text(1)?,
            issuer: row.text(2)?,
            grants: Default::default(),
            created_at: row.text(3)?,
        };
        directory
            .subscriptions
            .insert(subscription.id.clone(), subscription);
    }
    for row in db.query(
        "SELECT subscription_id, kind, name FROM subscription_grants",
        &[],
    )? {
        let Some(grant) = principal(&row.text(1)?, row.text(2)?) else {
            continue;
        };
        if let Some(subscription) = directory.subscriptions.get_mut(&row.text(0)?) {
            subscription.grants.insert(grant);
        }
    }
    for row in db.query(
        "SELECT id, name, subscription_id, region, created_at FROM profiles",
        &[],
    )? {
        let profile = ProfileEntry {
            id: row.text(0)?,
            name: row.text(1)?,
            subscription: row.text(2)?,
            region: row.text(3)?,
            created_at: row.text(4)?,
        };
        directory.profiles.insert(profile.id.clone(), profile);
    }
    for row in db.query(
        "SELECT id, name, subscription_id, active_version, created_at FROM customizations",
        &[],
    )? {
        let customization = Customization {
            id: row.text(0)?,
            name: row.text(1)?,
            subscription: row.text(2)?,
            active_version: row.opt_int(3)?,
            created_at: row.text(4)?,
            grants: Default::default(),
            versions: Vec::new(),
        };
        directory
            .customizations
            .insert(customization.id.clone(), customization);
    }
    for row in db.query(
        "SELECT customization_id, kind, name FROM customization_grants",
        &[],
    )? {
        let Some(grant) = principal(&row.text(1)?, row.text(2)?) else {
            continue;
        };
        if let Some(customization) = directory.customizations.get_mut(&row.text(0)?) {
            customization.grants.insert(grant);
        }
    }
    for row in db.query(
        "SELECT customization_id, version, files_json, uploaded_at, uploaded_by, gate_json, activated_at FROM customization_versions ORDER BY customization_id, version",
        &[],
    )? {
        // The files were serialised by `add_version`; names only are listed here.
        let files: Vec<PackFile> = serde_json::from_str(&row.text(2)?).unwrap_or_default();
        let version = CustomizationVersion {
            version: row.int(1)?,
            files: files.into_iter().map(|file| file.name).collect(),
            uploaded_at: row.text(3)?,
            uploaded_by: row.text(4)?,
            gate: row
                .opt_text(5)?
                .and_then(|text| serde_json::from_str(&text).ok()),
            activated_at: row.opt_text(6)?,
        };
        if let Some(customization) = directory.customizations.get_mut(&row.text(0)?) {
            customization.versions.push(version);
        }
    }
    Ok(directory)
}
