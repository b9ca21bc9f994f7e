//! Subscriptions, profiles and customizations for organisations.
//!
//! - [`directory`]: the model and every access decision (pure).
//! - [`report`]: the subscription report and its billing rule (pure).
//! - [`store`]: the directory's tables, in SQLite or PostgreSQL.
//! - [`gate`]: the validation run that must pass before a version is activated.
//! - [`api`]: `/v1/tenancy` for users and `/v1/admin/*` for administrators.
//!
//! A backend whose directory holds no subscription serves every caller it
//! accepts with the built-in knowledge, as a local `consoledx serve` does.

pub mod api;
pub mod directory;
pub mod gate;
pub mod report;
pub mod store;

pub use directory::{
    CallerClaims, Customization, Denied, Directory, DirectoryError, Principal, ProfileEntry,
    Subscription, Tenancy, same_issuer,
};
pub use gate::{GateReport, GateSettings};
pub use report::Report;
pub use store::{DirectoryStore, DirectoryStoreError, GrantTarget, PackFile};

use crate::db::DatabaseUrl;
use crate::feedback::FeedbackSummary;
use crate::store::{Store, StoreError};
use consoledx_core::KnowledgeBase;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A customization version holds at most this many pack files.
pub const MAX_PACK_FILES: usize = 32;
/// One pack file's size limit (the largest built-in pack is about 40 KB).
pub const MAX_PACK_BYTES: usize = 256 * 1024;

/// Where each region's diagnoses and feedback are stored (data residency).
#[derive(Debug)]
pub struct Residency {
    /// The store of requests without a profile (single-tenant use).
    default: Store,
    default_url: DatabaseUrl,
    /// Regions with a database of their own, from `--region-database`.
    configured: BTreeMap<String, DatabaseUrl>,
    /// Where a region without one gets its own SQLite file; `None` when the
    /// main database is PostgreSQL, whose replicas cannot share local files.
    sqlite_regions_dir: Option<PathBuf>,
    open: tokio::sync::Mutex<HashMap<String, Store>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResidencyError {
    #[error(
        "no database is configured for region {0}: start `consoledx serve` with --region-database {0}=postgres://…"
    )]
    NoDatabase(String),
    #[error("the store of region {region}: {source}")]
    Store { region: String, source: StoreError },
    #[error("the main store: {0}")]
    MainStore(StoreError),
}

impl Residency {
    pub fn new(
        (default, default_url): (Store, DatabaseUrl),
        configured: BTreeMap<String, DatabaseUrl>,
        sqlite_regions_dir: Option<PathBuf>,
    ) -> Residency {
        Residency {
            default,
            default_url,
            configured,
            sqlite_regions_dir,
            open: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn default_store(&self) -> &Store {
        &self.default
    }

    /// Where a region's data goes, or why it cannot be stored anywhere.
    pub fn location(&self, region: &str) -> Result<DatabaseUrl, ResidencyError> {
        if let Some(url) = self.configured.get(region) {
            return Ok(url.clone());
        }
        match &self.sqlite_regions_dir {
            Some(dir) => Ok(DatabaseUrl::Sqlite(
                dir.join(region).join(crate::store::DATABASE_FILE),
            )),
            None => Err(ResidencyError::NoDatabase(region.to_string())),
        }
    }

    /// The main store and each region's, every database once: regions may
    /// share a database (`--region-database` names the same URL twice, or
    /// the main one), and its rows must not be counted twice. Each comes with
    /// the region whose name its errors carry (`None`: the main store).
    pub async fn distinct_stores<'r>(
        &self,
        regions: impl IntoIterator<Item = &'r str>,
    ) -> Result<Vec<(Option<&'r str>, Store)>, ResidencyError> {
        let mut seen = vec![self.default_url.clone()];
        let mut stores = vec![(None, self.default.clone())];
        for region in regions {
            let location = self.location(region)?;
            if !seen.contains(&location) {
                seen.push(location);
                stores.push((Some(region), self.store(region).await?));
            }
        }
        Ok(stores)
    }

    /// The region's store, opened on first use.
    pub async fn store(&self, region: &str) -> Result<Store, ResidencyError> {
        let mut open = self.open.lock().await;
        if let Some(store) = open.get(region) {
            return Ok(store.clone());
        }
        let url = self.location(region)?;
        let store = tokio::task::spawn_blocking(move || Store::open_url(&url))
            .await
            .map_err(|err| ResidencyError::Store {
                region: region.to_string(),
                source: StoreError::Thread(std::io::Error::other(err.to_string())),
            })?
            .map_err(|source| ResidencyError::Store {
                region: region.to_string(),
                source,
            })?;
        open.insert(region.to_string(), store.clone());
        Ok(store)
    }
}

/// The directory, its cache, and the knowledge of active customizations.
#[derive(Debug)]
pub struct TenancyService {
    store: DirectoryStore,
    cached: tokio::sync::RwLock<(Instant, Arc<Directory>)>,
    /// How long a replica trusts its copy of the directory: changes made
    /// through another replica or the CLI show after at most this long.
    refresh: Duration,
    residency: Residency,
    builtin: Arc<KnowledgeBase>,
    compiled: Mutex<HashMap<(String, i64), Arc<KnowledgeBase>>>,
    gate: GateSettings,
    /// The built-in knowledge's scores on the gate's dataset, replayed once.
    gate_baseline: tokio::sync::OnceCell<crate::eval::Summary>,
}

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("{0}")]
    Directory(#[from] DirectoryError),
    #[error("{0}")]
    Store(#[from] DirectoryStoreError),
    #[error("{0}")]
    Residency(#[from] ResidencyError),
    #[error("{0}")]
    Gate(#[from] gate::GateError),
    #[error("the customization does not load: {0}")]
    Pack(String),
    #[error("activation refused: the validation run scores lower with the customization ({})", .0.regressions.join("; "))]
    Regression(Box<GateReport>),
}

fn store_error(region: Option<&str>, source: StoreError) -> ResidencyError {
    match region {
        Some(region) => ResidencyError::Store {
            region: region.to_string(),
            source,
        },
        None => ResidencyError::MainStore(source),
    }
}

impl TenancyService {
    pub async fn open(
        store: DirectoryStore,
        residency: Residency,
        builtin: Arc<KnowledgeBase>,
        gate: GateSettings,
        refresh: Duration,
    ) -> Result<TenancyService, TenancyError> {
        let directory = store.load().await?;
        Ok(TenancyService {
            store,
            cached: tokio::sync::RwLock::new((Instant::now(), Arc::new(directory))),
            refresh,
            residency,
            builtin,
            compiled: Mutex::new(HashMap::new()),
            gate,
            gate_baseline: tokio::sync::OnceCell::new(),
        })
    }

    pub fn residency(&self) -> &Residency {
        &self.residency
    }

    pub fn builtin(&self) -> &Arc<KnowledgeBase> {
        &self.builtin
    }

    /// The directory as of at most `refresh` ago.
    pub async fn directory(&self) -> Result<Arc<Directory>, TenancyError> {
        {
            let cached = self.cached.read().await;
            if cached.0.elapsed() < self.refresh {
                return Ok(Arc::clone(&cached.1));
            }
        }
        self.reload().await
    }

    async fn reload(&self) -> Result<Arc<Directory>, TenancyError> {
        let directory = Arc::new(self.store.load().await?);
        *self.cached.write().await = (Instant::now(), Arc::clone(&directory));
        Ok(directory)
    }

    /// The knowledge a request under this tenancy is answered with.
    pub async fn knowledge(&self, tenancy: &Tenancy) -> Result<Arc<KnowledgeBase>, TenancyError> {
        let Some((customization, version)) = &tenancy.customization else {
            return Ok(Arc::clone(&self.builtin));
        };
        let key = (customization.clone(), *version);
        if let Some(kb) = self.compiled.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(kb);
        }
        let files = self.store.version_files(customization, *version).await?;
        let kb = Arc::new(self.compile(customization, &files)?);
        if let Ok(mut compiled) = self.compiled.lock() {
            compiled.insert(key, Arc::clone(&kb));
        }
        Ok(kb)
    }

    /// The built-in knowledge with the pack files on top, every rule of
    /// them validated and its fixtures recognised.
    pub fn compile(
        &self,
        customization: &str,
        files: &[PackFile],
    ) -> Result<KnowledgeBase, TenancyError> {
        compile_pack_files(&self.builtin, customization, files)
    }

    /// Counts one request of the caller through the tenancy's profile (queued, not awaited).
    pub fn record_usage(
        &self,
        caller: &CallerClaims<'_>,
        tenancy: &Tenancy,
    ) -> Result<(), TenancyError> {
        self.store.record_usage(report::UsageRow {
            day: crate::store::now_rfc3339()[..10].to_string(),
            issuer: caller.issuer.trim_end_matches('/').to_string(),
            subject: caller.subject.to_string(),
            username: caller.username.to_string(),
            profile: tenancy.profile.clone(),
            requests: 1,
        })?;
        Ok(())
    }

    // --- Administration: the API and `consoledx admin` both call these. ---

    pub async fn create_subscription(
        &self,
        id: &str,
        name: &str,
        issuer: &str,
    ) -> Result<Subscription, TenancyError> {
        directory::check_id("subscription", id)?;
        let name = directory::check_name("subscription", name)?;
        directory::check_issuer(issuer)?;
        let subscription = Subscription {
            id: id.to_string(),
            name,
            issuer: issuer.trim_end_matches('/').to_string(),
            grants: Default::default(),
            created_at: crate::store::now_rfc3339(),
        };
        self.store.create_subscription(subscription.clone()).await?;
        self.reload().await?;
        Ok(subscription)
    }

    pub async fn create_profile(
        &self,
        id: &str,
        name: &str,
        subscription: &str,
        region: &str,
    ) -> Result<ProfileEntry, TenancyError> {
        directory::check_id("profile", id)?;
        let name = directory::check_name("profile", name)?;
        directory::check_region(region)?;
        self.reload().await?.subscription(subscription)?;
        // A profile whose region has nowhere to store its data is refused now, not at its first request.
        self.residency.location(region)?;
        let profile = ProfileEntry {
            id: id.to_string(),
            name,
            subscription: subscription.to_string(),
            region: region.to_string(),
            created_at: crate::store::now_rfc3339(),
        };
        self.store.create_profile(profile.clone()).await?;
        self.reload().await?;
        Ok(profile)
    }

    pub async fn create_customization(
        &self,
        id: &str,
        name: &str,
        subscription: &str,
    ) -> Result<Customization, TenancyError> {
        directory::check_id("customization", id)?;
        let name = directory::check_name("customization", name)?;
        self.reload().await?.subscription(subscription)?;
        let customization = Customization {
            id: id.to_string(),
            name,
            subscription: subscription.to_string(),
            grants: Default::default(),
            versions: Vec::new(),
            active_version: None,
            created_at: crate::store::now_rfc3339(),
        };
        self.store
            .create_customization(customization.clone())
            .await?;
        self.reload().await?;
        Ok(customization)
    }

    /// Grants (or revokes) a subscription or customization; returns whether it changed.
    pub async fn set_grant(
        &self,
        target: GrantTarget,
        principal: &str,
        granted: bool,
    ) -> Result<bool, TenancyError> {
        let principal = Principal::parse(principal)?;
        let directory = self.reload().await?;
        match &target {
            GrantTarget::Subscription(id) => {
                directory.subscription(id)?;
            }
            GrantTarget::Customization(id) => {
                directory.customization(id)?;
            }
        }
        let changed = self.store.set_grant(target, principal, granted).await?;
        self.reload().await?;
        Ok(changed)
    }

    /// Validates and stores a new version (inactive); returns its number.
    pub async fn upload_version(
        &self,
        customization: &str,
        files: Vec<PackFile>,
        uploaded_by: &str,
    ) -> Result<i64, TenancyError> {
        self.reload().await?.customization(customization)?;
        self.compile(customization, &files)?;
        let version = self
            .store
            .add_version(
                customization,
                files,
                uploaded_by.to_string(),
                crate::store::now_rfc3339(),
            )
            .await?;
        self.reload().await?;
        Ok(version)
    }

    /// Runs the gate and activates the version only when nothing regressed;
    /// the gate's report is stored either way.
    pub async fn activate(
        &self,
        customization: &str,
        version: i64,
    ) -> Result<GateReport, TenancyError> {
        let directory = self.reload().await?;
        let entry = directory.customization(customization)?;
        if !entry.versions.iter().any(|v| v.version == version) {
            return Err(DirectoryError::NotFound(format!(
                "customization “{customization}” has no version {version}"
            ))
            .into());
        }
        let files = self.store.version_files(customization, version).await?;
        let candidate = Arc::new(self.compile(customization, &files)?);
        let report = gate::run(
            &self.gate,
            Arc::clone(&self.builtin),
            &self.gate_baseline,
            Arc::clone(&candidate),
        )
        .await?;
        let stored = serde_json::to_value(&report).unwrap_or_default();
        let activated_at = report.passed.then(crate::store::now_rfc3339);
        self.store
            .record_gate(customization, version, stored, activated_at)
            .await?;
        self.reload().await?;
        if report.passed {
            // Requests under the new version use the knowledge the gate just ran.
            if let Ok(mut compiled) = self.compiled.lock() {
                compiled.insert((customization.to_string(), version), candidate);
            }
            Ok(report)
        } else {
            Err(TenancyError::Regression(Box::new(report)))
        }
    }

    pub async fn report(
        &self,
        since: Option<&str>,
        until: Option<&str>,
        subscription: Option<&str>,
    ) -> Result<Report, TenancyError> {
        if let Some(since) = since {
            report::check_day("since", since)?;
        }
        if let Some(until) = until {
            report::check_day("until", until)?;
        }
        let directory = self.reload().await?;
        if let Some(id) = subscription {
            directory.subscription(id)?;
        }
        let rows = self.store.usage().await?;
        Ok(report::build(&directory, &rows, since, until, subscription))
    }

    /// Votes per version of a customization, summed over the regions of its subscription's profiles.
    /// The feedback of every store: the main one and each profile's region's.
    pub async fn feedback_summary(&self) -> Result<FeedbackSummary, TenancyError> {
        let directory = self.directory().await?;
        let regions: BTreeSet<&str> = directory
            .profiles
            .values()
            .map(|p| p.region.as_str())
            .collect();
        let mut parts = Vec::new();
        for (region, store) in self.residency.distinct_stores(regions).await? {
            parts.push(
                store
                    .feedback_summary()
                    .await
                    .map_err(|e| store_error(region, e))?,
            );
        }
        Ok(FeedbackSummary::merge(parts))
    }

    pub async fn customization_feedback(
        &self,
        customization: &str,
    ) -> Result<Vec<crate::store::CustomizationFeedback>, TenancyError> {
        let directory = self.reload().await?;
        let entry = directory.customization(customization)?;
        let regions: BTreeSet<&str> = directory
            .profiles
            .values()
            .filter(|p| p.subscription == entry.subscription)
            .map(|p| p.region.as_str())
            .collect();
        let mut totals: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (region, store) in self.residency.distinct_stores(regions).await? {
            let rows = store
                .feedback_by_customization()
                .await
                .map_err(|e| store_error(region, e))?;
            for row in rows
                .into_iter()
                .filter(|row| row.customization_id == customization)
            {
                let total = totals.entry(row.customization_version).or_default();
                total.0 += row.helpful;
                total.1 += row.not_helpful;
            }
        }
        Ok(totals
            .into_iter()
            .map(
                |(version, (helpful, not_helpful))| crate::store::CustomizationFeedback {
                    customization_id: customization.to_string(),
                    customization_version: version,
                    helpful,
                    not_helpful,
                },
            )
            .collect())
    }
}

/// The built-in knowledge with an organisation's pack files on top.
pub fn compile_pack_files(
    builtin: &KnowledgeBase,
    customization: &str,
    files: &[PackFile],
) -> Result<KnowledgeBase, TenancyError> {
    if files.is_empty() {
        return Err(TenancyError::Pack(
            "a version needs at least one pack file".to_string(),
        ));
    }
    if files.len() > MAX_PACK_FILES {
        return Err(TenancyError::Pack(format!(
            "a version holds at most {MAX_PACK_FILES} pack files (got {})",
            files.len()
        )));
    }
    let mut kb = builtin.clone();
    let mut names = Vec::new();
    for file in files {
        let name_ok = file.name.ends_with(".toml")
            && file.name.len() <= 100
            && file
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(TenancyError::Pack(format!(
                "“{}” is not a pack file name such as s3.toml",
                file.name.chars().take(100).collect::<String>()
            )));
        }
        if file.text.len() > MAX_PACK_BYTES {
            return Err(TenancyError::Pack(format!(
                "{} is {} bytes; a pack file holds at most {MAX_PACK_BYTES}",
                file.name,
                file.text.len()
            )));
        }
        let pack_name = format!("{customization}/{}", file.name);
        if names.contains(&pack_name) {
            return Err(TenancyError::Pack(format!("{} is given twice", file.name)));
        }
        let value: serde_json::Value = toml::from_str(&file.text).map_err(|err| {
            TenancyError::Pack(format!(
                "{} is not valid TOML: {}",
                file.name,
                err.to_string().trim().replace('\n', " ")
            ))
        })?;
        kb.with_pack(&pack_name, value)
            .map_err(|err| TenancyError::Pack(err.to_string()))?;
        names.push(pack_name);
    }
    let failures: Vec<String> = names
        .iter()
        .flat_map(|name| kb.fixture_failures(name))
        .collect();
    if !failures.is_empty() {
        return Err(TenancyError::Pack(format!(
            "fixtures not recognised: {}",
            failures.join("; ")
        )));
    }
    Ok(kb)
}
