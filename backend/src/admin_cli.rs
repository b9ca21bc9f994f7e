//! `consoledx admin …`: the directory operations of `/v1/admin/*`, run on
//! the server's database directly (no token needed: whoever can read the
//! database administers it). Every command prints JSON.

use clap::{Args, Subcommand};
use consoledx::db::DatabaseUrl;
use consoledx::tenancy::{GrantTarget, PackFile, TenancyError, TenancyService};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the server keeps its data: the same flags as `consoledx serve`.
#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    /// Where the SQLite files live (created if missing).
    #[arg(long, env = "CONSOLEDX_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The main database instead of the SQLite file: postgres://USER@HOST/DB (several replicas share it).
    #[arg(long, env = "CONSOLEDX_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A region's own database (data residency), e.g. eu-west-1=postgres://db.eu/consoledx; repeatable.
    /// Without it, a region's data goes to its own SQLite file under --data-dir/regions.
    #[arg(long = "region-database", value_name = "REGION=URL")]
    pub region_databases: Vec<String>,
}

impl StorageArgs {
    pub fn database_url(&self) -> Result<Option<DatabaseUrl>, String> {
        self.database_url
            .as_deref()
            .filter(|url| !url.is_empty())
            .map(|url| {
                url.parse::<DatabaseUrl>()
                    .map_err(|err| format!("--database-url: {err}"))
            })
            .transpose()
    }

    pub fn region_databases(&self) -> Result<BTreeMap<String, DatabaseUrl>, String> {
        let mut map = BTreeMap::new();
        for entry in &self.region_databases {
            let (region, url) = entry.split_once('=').ok_or_else(|| {
                format!(
                    "--region-database {entry:?}: expected REGION=URL, e.g. eu-west-1=postgres://…"
                )
            })?;
            consoledx::tenancy::directory::check_region(region)
                .map_err(|err| format!("--region-database: {err}"))?;
            let url = url
                .parse::<DatabaseUrl>()
                .map_err(|err| format!("--region-database {region}: {err}"))?;
            if map.insert(region.to_string(), url).is_some() {
                return Err(format!("--region-database: region {region} is given twice"));
            }
        }
        Ok(map)
    }
}

/// Where the activation gate replays the built-in dataset.
#[derive(Args, Debug, Clone)]
pub struct GateArgs {
    /// The built-in dataset the gate replays.
    #[arg(long, default_value = "eval/records")]
    pub gate_records: PathBuf,
    /// The moto server program the gate starts (one per worker).
    #[arg(long, default_value = ".venv/bin/moto_server")]
    pub gate_moto_server: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub gate_workers: usize,
    /// Replay only the records marked fast (small machines; the full dataset is the default).
    #[arg(long)]
    pub gate_fast: bool,
}

impl GateArgs {
    pub fn settings(&self) -> consoledx::tenancy::GateSettings {
        consoledx::tenancy::GateSettings {
            records: self.gate_records.clone(),
            endpoint: consoledx::eval::Endpoint::MotoServer(self.gate_moto_server.clone()),
            workers: self.gate_workers.max(1),
            fast_only: self.gate_fast,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Print the directory: subscriptions, profiles, customizations, grants, versions.
    List,
    CreateSubscription {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// The identity source's OpenID issuer; only its users can be granted.
        #[arg(long)]
        issuer: String,
    },
    /// A profile of a subscription; its region decides where its diagnoses and feedback are stored.
    CreateProfile {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        region: String,
    },
    CreateCustomization {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        subscription: String,
    },
    /// Grant users or groups (`user:NAME`, `group:NAME`) a subscription or a customization.
    Grant {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        principals: Vec<String>,
    },
    Revoke {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        principals: Vec<String>,
    },
    /// Upload knowledge pack files (TOML, the built-in format) as a new, inactive version.
    Upload {
        #[arg(long)]
        customization: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Replay the built-in dataset with and without the version; activate it if nothing regressed.
    Activate {
        #[arg(long)]
        customization: String,
        #[arg(long)]
        version: i64,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Users (once per identity source) and usage per subscription and profile.
    Report {
        /// First day counted, YYYY-MM-DD.
        #[arg(long)]
        since: Option<String>,
        /// Last day counted, YYYY-MM-DD.
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Votes per version of a customization.
    Feedback {
        #[arg(long)]
        customization: String,
    },
}

#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Target {
    #[arg(long)]
    pub subscription: Option<String>,
    #[arg(long)]
    pub customization: Option<String>,
}

impl Target {
    fn grant_target(&self) -> GrantTarget {
        match (&self.subscription, &self.customization) {
            (Some(id), _) => GrantTarget::Subscription(id.clone()),
            (None, Some(id)) => GrantTarget::Customization(id.clone()),
            // clap's group makes one of the two required.
            (None, None) => GrantTarget::Subscription(String::new()),
        }
    }
}

/// Failures split as the binary's exit codes do: bad input (2) or internal (1).
pub enum AdminFailure {
    BadInput(String),
    Internal(String),
}

fn failure(err: TenancyError) -> AdminFailure {
    use consoledx::tenancy::DirectoryStoreError;
    match err {
        TenancyError::Directory(_)
        | TenancyError::Store(DirectoryStoreError::Directory(_))
        | TenancyError::Pack(_)
        | TenancyError::Regression(_)
        | TenancyError::Residency(consoledx::tenancy::ResidencyError::NoDatabase(_))
        | TenancyError::Gate(_) => AdminFailure::BadInput(err.to_string()),
        TenancyError::Store(DirectoryStoreError::NewerSchema { .. }) => {
            AdminFailure::BadInput(err.to_string())
        }
        other => AdminFailure::Internal(other.to_string()),
    }
}

pub async fn run(
    storage: &StorageArgs,
    command: AdminCommand,
) -> Result<serde_json::Value, AdminFailure> {
    let gate = match &command {
        AdminCommand::Activate { gate, .. } => gate.settings(),
        _ => GateArgs {
            gate_records: PathBuf::from("eval/records"),
            gate_moto_server: PathBuf::from(".venv/bin/moto_server"),
            gate_workers: 1,
            gate_fast: false,
        }
        .settings(),
    };
    let service = open(storage, gate).await?;
    let value = match command {
        AdminCommand::List => to_json(&*service.directory().await.map_err(failure)?)?,
        AdminCommand::CreateSubscription { id, name, issuer } => to_json(
            &service
                .create_subscription(&id, &name, &issuer)
                .await
                .map_err(failure)?,
        )?,
        AdminCommand::CreateProfile {
            id,
            name,
            subscription,
            region,
        } => to_json(
            &service
                .create_profile(&id, &name, &subscription, &region)
                .await
                .map_err(failure)?,
        )?,
        AdminCommand::CreateCustomization {
            id,
            name,
            subscription,
        } => to_json(
            &service
                .create_customization(&id, &name, &subscription)
                .await
                .map_err(failure)?,
        )?,
        AdminCommand::Grant { target, principals } => {
            set_grants(&service, &target, &principals, true).await?
        }
        AdminCommand::Revoke { target, principals } => {
            set_grants(&service, &target, &principals, false).await?
        }
        AdminCommand::Upload {
            customization,
            files,
        } => {
            let mut packs = Vec::new();
            for path in &files {
                let text = std::fs::read_to_string(path).map_err(|err| {
                    AdminFailure::BadInput(format!("cannot read {}: {err}", path.display()))
                })?;
                let name = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                packs.push(PackFile { name, text });
            }
            let by = std::env::var("USER").unwrap_or_else(|_| "admin".to_string());
            let version = service
                .upload_version(&customization, packs, &format!("{by} (consoledx admin)"))
                .await
                .map_err(failure)?;
            serde_json::json!({"customization": customization, "version": version, "active": false})
        }
        AdminCommand::Activate {
            customization,
            version,
            ..
        } => to_json(
            &service
                .activate(&customization, version)
                .await
                .map_err(failure)?,
        )?,
        AdminCommand::Report {
            since,
            until,
            subscription,
        } => to_json(
            &service
                .report(since.as_deref(), until.as_deref(), subscription.as_deref())
                .await
                .map_err(failure)?,
        )?,
        AdminCommand::Feedback { customization } => {
            let versions = service
                .customization_feedback(&customization)
                .await
                .map_err(failure)?;
            serde_json::json!({"customization": customization, "versions": versions})
        }
    };
    Ok(value)
}

async fn set_grants(
    service: &TenancyService,
    target: &Target,
    principals: &[String],
    granted: bool,
) -> Result<serde_json::Value, AdminFailure> {
    let mut changed = Vec::new();
    for principal in principals {
        let did = service
            .set_grant(target.grant_target(), principal, granted)
            .await
            .map_err(failure)?;
        changed.push(serde_json::json!({"principal": principal, "changed": did}));
    }
    Ok(serde_json::Value::Array(changed))
}

async fn open(
    storage: &StorageArgs,
    gate: consoledx::tenancy::GateSettings,
) -> Result<Arc<TenancyService>, AdminFailure> {
    let database_url = storage.database_url().map_err(AdminFailure::BadInput)?;
    let region_databases = storage.region_databases().map_err(AdminFailure::BadInput)?;
    consoledx::open_tenancy(&storage.data_dir, database_url, region_databases, gate)
        .await
        .map(Arc::new)
        .map_err(|err| {
            if err.is_bad_location() {
                AdminFailure::BadInput(err.to_string())
            } else {
                AdminFailure::Internal(err.to_string())
            }
        })
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, AdminFailure> {
    serde_json::to_value(value).map_err(|err| AdminFailure::Internal(err.to_string()))
}
