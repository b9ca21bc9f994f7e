//! What sign-in and tenancy add to one request: `POST /v1/analyze` of seed
//! example 1 through `app(state)` (no socket, `oneshot`), in each
//! configuration a deployment can run, so the printed figures compare
//! directly; the token check alone (`Authenticator::validate`, RS256 and
//! ES256); and `Directory::authorize` alone on a small and a large directory.
//! There is no target: the figures are read against each other (b − a is
//! what sign-in costs, c − b what tenancy adds).
//!
//! Introspection is optional per issuer (`[issuer.introspection]`), its
//! answers cached per token for `introspection_cache_seconds` (default 30;
//! 0 asks the provider on every request): both are benched, with a revoked
//! token checked first to show which one is in force.
//!
//! Tokens come from the real OpenID provider fixture (`e2e/oidc/provider.mjs`,
//! started as the tests start it), and the directory is written through the
//! same `TenancyService` calls the admin API makes. Only activation differs:
//! the gate replays the validation dataset on a moto server, so the bench
//! records a passed gate with `DirectoryStore::record_gate`, the store call
//! the gate itself ends with.
//!
//! Each sample times its requests only; the writes they queue (diagnoses,
//! usage rows) are then waited for outside the timing, so one bench's backlog
//! never runs into the next one's figures. The `sustained` benches time that
//! wait too: the cost per request once its queued writes are committed.
//!
//! Every configuration is checked once before it is timed (200, the rule,
//! who was signed in, where the diagnosis was stored), and every timed
//! answer must be a 200, so a misconfigured bench fails instead of timing an
//! error path.

// The tests' provider fixture, shared rather than copied; the bench uses part of it.
#[allow(dead_code)]
#[path = "../tests/common/oidc.rs"]
mod oidc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use bytes::Bytes;
use consoledx::auth::{AuthConfig, Authenticator};
use consoledx::db::{DatabaseUrl, Db};
use consoledx::tenancy::{
    CallerClaims, Customization, Directory, DirectoryStore, GrantTarget, PackFile, Principal,
    ProfileEntry, Subscription, Tenancy, TenancyService,
};
use consoledx::{AppState, AwsSettings, Config, Credentials, Store, app};
use consoledx_core::{Redactor, Snapshot, interpret};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use oidc::{Provider, start_provider};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tower::ServiceExt;

const RULE: &str = "s3.bucket_not_empty";
const SUBSCRIPTION: &str = "bench";
const PROFILE: &str = "bench-us";
const REGION: &str = "us-west-2";
const CUSTOMIZATION: &str = "bench-runbooks";
const PACK: &str = "alpha-runbooks.toml";
const GROUP: &str = "bench-users";
const USER: &str = "alice";

fn seed_example_1() -> Snapshot {
    Snapshot {
        url: "https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?region=us-west-2".into(),
        content: "Failed to delete bucket my-bucket-123456. This bucket is not empty. Buckets must be empty before they can be deleted. To delete all objects in the bucket, use the empty bucket configuration.".into(),
        ..Snapshot::default()
    }
}

/// The body the extension sends: the interpreted context of seed example 1.
fn analyze_body() -> Bytes {
    let context = interpret(&seed_example_1(), &Redactor::default());
    Bytes::from(json!({ "context": context }).to_string())
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime starts")
}

fn offline_config(data_dir: &Path) -> Config {
    Config::new(
        data_dir.to_path_buf(),
        AwsSettings {
            credentials: Credentials::None,
            ..AwsSettings::default()
        },
    )
}

/// Where a scenario's requests queue their writes, waited for after each sample.
enum Writes {
    /// Single tenant: diagnoses go to the main store.
    Main(Store),
    /// Under a profile: diagnoses go to its region's store, usage to the directory.
    Profile {
        region: Store,
        tenancy: Arc<TenancyService>,
    },
}

impl Writes {
    async fn wait(&self) {
        match self {
            Writes::Main(store) => store.flush().await.expect("main store flushes"),
            Writes::Profile { region, tenancy } => {
                region.flush().await.expect("region store flushes");
                // The usage rows are queued on the directory's database thread; reading the
                // report runs after all of them. It also reloads the directory, so the
                // 2 s refresh falls outside the timing: one small read per 2 s, not per request.
                tenancy
                    .report(None, None, None)
                    .await
                    .expect("usage report reads");
            }
        }
    }
}

/// One configuration of the backend and the extension's request to it.
struct Scenario {
    app: Router,
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
    writes: Writes,
    /// The data directory, removed when the scenario is dropped.
    data_dir: tempfile::TempDir,
}

impl Scenario {
    fn request(&self) -> Request<Body> {
        let mut request = Request::post("/v1/analyze")
            .header("content-type", "application/json")
            .body(Body::from(self.body.clone()))
            .expect("request builds");
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        request
    }

    async fn answer(&self, request: Request<Body>) -> (StatusCode, Bytes) {
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body readable")
            .to_bytes();
        (status, body)
    }

    async fn answer_json(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, body) = self.answer(request).await;
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        (status, json)
    }

    /// Analyzes once, checks the answer and returns the diagnosis id.
    async fn analyze_checked(&self, label: &str) -> String {
        let (status, json) = self.answer_json(self.request()).await;
        assert_eq!(status, StatusCode::OK, "{label}: {json}");
        assert_eq!(json["rule"], RULE, "{label}: {json}");
        let id = json["diagnosis_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(id.len(), 36, "{label}: a diagnosis id: {json}");
        self.writes.wait().await;
        id
    }

    /// `iters` requests timed; with `sustained`, the wait for their queued writes too.
    async fn time(&self, iters: u64, sustained: bool) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            let (status, body) = self.answer(self.request()).await;
            // Costs nothing next to a request, and no error path is ever timed.
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            black_box(body);
        }
        let answered = start.elapsed();
        self.writes.wait().await;
        if sustained { start.elapsed() } else { answered }
    }
}

/// The stored row of a diagnosis in the SQLite file `file`: who asked, under which profile.
fn stored_row(file: &Path, id: &str) -> Option<Vec<Option<String>>> {
    let mut db = Db::open(&DatabaseUrl::Sqlite(file.to_path_buf())).ok()?;
    let rows = db
        .query(
            "SELECT rule, user_key, subscription_id, profile_id, customization_id, CAST(customization_version AS TEXT) FROM diagnoses WHERE id = ?1",
            &[id.into()],
        )
        .ok()?;
    let row = rows.first()?;
    Some((0..6).map(|i| row.opt_text(i).ok().flatten()).collect())
}

fn main_file(dir: &Path) -> PathBuf {
    dir.join(consoledx::store::DATABASE_FILE)
}

fn region_file(dir: &Path, region: &str) -> PathBuf {
    dir.join("regions")
        .join(region)
        .join(consoledx::store::DATABASE_FILE)
}

/// (a) No sign-in, no subscription: a local or single-team backend.
async fn single_tenant() -> Scenario {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = AppState::open(&offline_config(dir.path()))
        .await
        .expect("state opens");
    let main = main_store(&state);
    let scenario = Scenario {
        app: app(state),
        body: analyze_body(),
        headers: Vec::new(),
        writes: Writes::Main(main),
        data_dir: dir,
    };
    let id = scenario.analyze_checked("single tenant").await;
    let row = stored_row(&main_file(scenario.data_dir.path()), &id);
    assert_eq!(
        row,
        Some(vec![Some(RULE.into()), None, None, None, None, None]),
        "single tenant: stored in the main store, without a caller"
    );
    scenario
}

fn main_store(state: &AppState) -> Store {
    state
        .tenancy()
        .expect("the state opens its directory")
        .residency()
        .default_store()
        .clone()
}

async fn user_token(provider: &Provider, issuer: &str) -> String {
    let params: BTreeMap<String, Value> = [
        ("sub", json!(USER)),
        ("username", json!(USER)),
        ("groups", json!(format!("{GROUP},staff"))),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    provider.token(issuer, &params).await
}

fn bearer(token: &str) -> (HeaderName, HeaderValue) {
    (
        axum::http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is a header value"),
    )
}

/// How the authenticator checks that a valid token was not revoked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Introspection {
    /// Not configured: the signature, audience and times decide alone (the default).
    Off,
    /// Asked once per token, the answer kept for `introspection_cache_seconds` (default 30).
    Cached,
    /// `introspection_cache_seconds = 0`: one call to the provider per request.
    EveryRequest,
}

fn auth_config(provider: &Provider, introspection: Introspection) -> AuthConfig {
    match introspection {
        Introspection::Off => provider.config("", &[]),
        Introspection::Cached => provider.config("", &["organization", "account"]),
        Introspection::EveryRequest => provider.config(
            "introspection_cache_seconds = 0",
            &["organization", "account"],
        ),
    }
}

/// (b) Sign-in only: a bearer token of `issuer` validated against its cached keys.
async fn signed_in(provider: &Provider, issuer: &str, introspection: Introspection) -> Scenario {
    let label = format!("signed in ({issuer})");
    let dir = tempfile::tempdir().expect("tempdir");
    let state = AppState::open(&offline_config(dir.path()))
        .await
        .expect("state opens")
        .with_authenticator(Authenticator::new(auth_config(provider, introspection)));
    let main = main_store(&state);
    let mut scenario = Scenario {
        app: app(state),
        body: analyze_body(),
        headers: Vec::new(),
        writes: Writes::Main(main),
        data_dir: dir,
    };
    let (status, json) = scenario.answer_json(scenario.request()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "{label}: without a token: {json}"
    );
    if introspection != Introspection::Off {
        check_introspection(&mut scenario, provider, issuer, introspection).await;
    }
    scenario.headers = vec![bearer(&user_token(provider, issuer).await)];
    let id = scenario.analyze_checked(&label).await;
    let row = stored_row(&main_file(scenario.data_dir.path()), &id);
    let user_key = format!("{}#{USER}", provider.issuer(issuer).trim_end_matches('/'));
    assert_eq!(
        row,
        Some(vec![
            Some(RULE.into()),
            Some(user_key),
            None,
            None,
            None,
            None
        ]),
        "{label}: stored in the main store, as the token's user"
    );
    scenario
}

/// Shows the introspection setting is in force: a token revoked after its
/// first use is refused at once when every request introspects, and still
/// served from the cached answer otherwise.
async fn check_introspection(
    scenario: &mut Scenario,
    provider: &Provider,
    issuer: &str,
    introspection: Introspection,
) {
    let token = user_token(provider, issuer).await;
    scenario.headers = vec![bearer(&token)];
    scenario.analyze_checked("before revocation").await;
    provider.revoke(issuer, &token).await;
    let (status, json) = scenario.answer_json(scenario.request()).await;
    scenario.writes.wait().await;
    match introspection {
        Introspection::EveryRequest => {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked: {json}");
            assert_eq!(json["error"], "token_revoked", "revoked: {json}");
        }
        Introspection::Cached => {
            assert_eq!(status, StatusCode::OK, "revoked, answer cached: {json}")
        }
        Introspection::Off => {}
    }
}

/// Writes the bench's subscription, profile and customization through the
/// calls the admin API makes, and records a passed gate for version 1.
async fn configure_directory(data_dir: &Path, issuer: &str) {
    let config = offline_config(data_dir);
    let service = consoledx::open_tenancy(data_dir, None, BTreeMap::new(), config.gate)
        .await
        .expect("directory opens");
    let group = format!("group:{GROUP}");
    service
        .create_subscription(SUBSCRIPTION, "Bench", issuer)
        .await
        .expect("subscription created");
    service
        .set_grant(GrantTarget::Subscription(SUBSCRIPTION.into()), &group, true)
        .await
        .expect("subscription granted");
    service
        .create_profile(PROFILE, "Bench US", SUBSCRIPTION, REGION)
        .await
        .expect("profile created");
    service
        .create_customization(CUSTOMIZATION, "Bench runbooks", SUBSCRIPTION)
        .await
        .expect("customization created");
    service
        .set_grant(
            GrantTarget::Customization(CUSTOMIZATION.into()),
            &group,
            true,
        )
        .await
        .expect("customization granted");
    let pack = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tenancy/packs")
        .join(PACK);
    let text =
        std::fs::read_to_string(&pack).unwrap_or_else(|err| panic!("{}: {err}", pack.display()));
    let version = service
        .upload_version(
            CUSTOMIZATION,
            vec![PackFile {
                name: PACK.into(),
                text,
            }],
            "bench",
        )
        .await
        .expect("version uploaded (the pack compiles and its fixtures pass)");
    drop(service);
    let store = DirectoryStore::open(&DatabaseUrl::Sqlite(
        data_dir.join(consoledx::tenancy::store::DIRECTORY_FILE),
    ))
    .await
    .expect("directory store opens");
    store
        .record_gate(
            CUSTOMIZATION,
            version,
            json!({"passed": true, "note": "recorded by the tenancy bench; the gate did not run"}),
            Some(consoledx::store::now_rfc3339()),
        )
        .await
        .expect("version activated");
}

/// (c) Sign-in and tenancy: the token's user granted the subscription of the
/// profile (and the customization, when `customization` is set), the request
/// carrying the profile headers the extension sends.
async fn under_profile(provider: &Provider, customization: bool) -> Scenario {
    let label = if customization {
        "under a profile with a customization"
    } else {
        "under a profile"
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = provider.issuer("organization").to_string();
    configure_directory(dir.path(), &issuer).await;
    let state = AppState::open(&offline_config(dir.path()))
        .await
        .expect("state opens")
        .with_authenticator(Authenticator::new(auth_config(
            provider,
            Introspection::Off,
        )));
    let tenancy = Arc::clone(state.tenancy().expect("the state opens its directory"));
    let directory = tenancy.directory().await.expect("directory loads");
    assert_eq!(
        directory
            .customization(CUSTOMIZATION)
            .map(|c| c.active_version),
        Ok(Some(1)),
        "{label}: the customization is active"
    );
    let region = tenancy
        .residency()
        .store(REGION)
        .await
        .expect("region store opens");
    let token = user_token(provider, "organization").await;
    let mut headers = vec![
        bearer(&token),
        (
            HeaderName::from_static(consoledx::PROFILE_HEADER),
            HeaderValue::from_static(PROFILE),
        ),
    ];
    if customization {
        headers.push((
            HeaderName::from_static(consoledx::CUSTOMIZATION_HEADER),
            HeaderValue::from_static(CUSTOMIZATION),
        ));
    }
    let scenario = Scenario {
        app: app(state),
        body: analyze_body(),
        headers,
        writes: Writes::Profile { region, tenancy },
        data_dir: dir,
    };
    let id = scenario.analyze_checked(label).await;
    let user_key = format!("{}#{USER}", issuer.trim_end_matches('/'));
    let (customization_id, version) = if customization {
        (Some(CUSTOMIZATION.to_string()), Some("1".to_string()))
    } else {
        (None, None)
    };
    assert_eq!(
        stored_row(&region_file(scenario.data_dir.path(), REGION), &id),
        Some(vec![
            Some(RULE.into()),
            Some(user_key),
            Some(SUBSCRIPTION.into()),
            Some(PROFILE.into()),
            customization_id,
            version
        ]),
        "{label}: stored in the profile's region, under the profile"
    );
    assert_eq!(
        stored_row(&main_file(scenario.data_dir.path()), &id),
        None,
        "{label}: nothing in the main store"
    );
    // Read back through the API under the same profile: the region's store answers.
    let mut read = Request::get(format!("/v1/diagnoses/{id}"))
        .body(Body::empty())
        .expect("request builds");
    for (name, value) in &scenario.headers {
        read.headers_mut().insert(name.clone(), value.clone());
    }
    let (status, json) = scenario.answer_json(read).await;
    assert_eq!(status, StatusCode::OK, "{label}: read back: {json}");
    assert_eq!(json["rule"], RULE, "{label}: read back: {json}");
    scenario
}

/// The token check alone, without the router or the store: what sign-in
/// costs per request once the issuer's keys are cached.
fn bench_validate(c: &mut Criterion, runtime: &Runtime, provider: &Provider) {
    for (name, issuer) in [
        ("validate/RS256 (organization)", "organization"),
        ("validate/ES256 (account)", "account"),
    ] {
        let authenticator = Authenticator::new(auth_config(provider, Introspection::Off));
        let token = runtime.block_on(user_token(provider, issuer));
        // The first validation fetches the discovery document and the keys; later ones reuse them.
        let caller = runtime
            .block_on(authenticator.validate(&token))
            .unwrap_or_else(|rejection| panic!("{name}: {rejection}"));
        assert_eq!(
            (caller.username.as_str(), caller.issuer.as_str()),
            (USER, provider.issuer(issuer)),
            "{name}"
        );
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let caller = authenticator.validate(black_box(&token)).await;
                        if let Err(rejection) = black_box(caller) {
                            panic!("{name}: {rejection}");
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
}

fn bench_requests(
    c: &mut Criterion,
    runtime: &Runtime,
    name: &str,
    scenario: &Scenario,
    sustained: bool,
) {
    c.bench_function(name, |b| {
        b.iter_custom(|iters| runtime.block_on(scenario.time(iters, sustained)))
    });
}

fn requests(c: &mut Criterion) {
    let runtime = runtime();
    let provider = start_provider();
    let single = runtime.block_on(single_tenant());
    bench_requests(
        c,
        &runtime,
        "analyze/a single tenant, no sign-in",
        &single,
        false,
    );
    bench_requests(
        c,
        &runtime,
        "analyze/a single tenant, no sign-in, sustained",
        &single,
        true,
    );
    drop(single);
    bench_validate(c, &runtime, &provider);
    for (name, issuer, introspection) in [
        (
            "analyze/b sign-in (RS256, organization)",
            "organization",
            Introspection::Off,
        ),
        (
            "analyze/b sign-in (ES256, account)",
            "account",
            Introspection::Off,
        ),
        (
            "analyze/b sign-in (RS256) + introspection cached 30 s",
            "organization",
            Introspection::Cached,
        ),
        (
            "analyze/b sign-in (RS256) + introspection every request",
            "organization",
            Introspection::EveryRequest,
        ),
    ] {
        let scenario = runtime.block_on(signed_in(&provider, issuer, introspection));
        bench_requests(c, &runtime, name, &scenario, false);
    }
    let profile = runtime.block_on(under_profile(&provider, false));
    bench_requests(
        c,
        &runtime,
        "analyze/c sign-in (RS256) + profile",
        &profile,
        false,
    );
    drop(profile);
    let customized = runtime.block_on(under_profile(&provider, true));
    bench_requests(
        c,
        &runtime,
        "analyze/c sign-in (RS256) + profile + customization",
        &customized,
        false,
    );
    bench_requests(
        c,
        &runtime,
        "analyze/c sign-in (RS256) + profile + customization, sustained",
        &customized,
        true,
    );
}

/// A directory of `subscriptions` subscriptions, each with `profiles_each`
/// profiles and two customizations, granted to a few groups and users.
fn directory(subscriptions: usize, profiles_each: usize) -> Directory {
    let mut directory = Directory::default();
    let created_at = "2026-01-01T00:00:00Z".to_string();
    for s in 0..subscriptions {
        let id = format!("sub-{s:04}");
        let grants: BTreeSet<Principal> = [
            Principal::Group(format!("team-{s:04}")),
            Principal::Group(format!("ops-{s:04}")),
            Principal::Group("auditors".into()),
            Principal::User(format!("lead-{s:04}")),
            Principal::User(format!("deputy-{s:04}")),
        ]
        .into();
        directory.subscriptions.insert(
            id.clone(),
            Subscription {
                id: id.clone(),
                name: format!("Subscription {s}"),
                issuer: "https://id.example.com/org".into(),
                grants: grants.clone(),
                created_at: created_at.clone(),
            },
        );
        for p in 0..profiles_each {
            let profile = format!("{id}-p{p}");
            directory.profiles.insert(
                profile.clone(),
                ProfileEntry {
                    id: profile,
                    name: format!("Profile {p} of {s}"),
                    subscription: id.clone(),
                    region: "eu-west-1".into(),
                    created_at: created_at.clone(),
                },
            );
        }
        for k in 0..2 {
            let customization = format!("{id}-c{k}");
            directory.customizations.insert(
                customization.clone(),
                Customization {
                    id: customization,
                    name: format!("Customization {k} of {s}"),
                    subscription: id.clone(),
                    grants: grants.clone(),
                    versions: Vec::new(),
                    active_version: Some(3),
                    created_at: created_at.clone(),
                },
            );
        }
    }
    directory
}

fn authorize(c: &mut Criterion) {
    for (name, subscriptions) in [
        ("authorize/1 subscription, 5 profiles", 1),
        ("authorize/1,000 subscriptions, 5,000 profiles", 1_000),
    ] {
        let directory = directory(subscriptions, 5);
        assert_eq!(directory.profiles.len(), subscriptions * 5);
        // A subscription in the middle of the maps, granted through the caller's second group.
        let target = format!("sub-{:04}", subscriptions / 2);
        let profile = format!("{target}-p4");
        let customization = format!("{target}-c1");
        let groups = vec![
            "staff".to_string(),
            format!("team-{:04}", subscriptions / 2),
        ];
        let caller = CallerClaims {
            issuer: "https://id.example.com/org",
            subject: "5f1c-alice",
            username: "alice",
            groups: &groups,
        };
        assert_eq!(
            directory.authorize(&caller, &profile, Some(customization.as_str())),
            Ok(Tenancy {
                subscription: target.clone(),
                profile: profile.clone(),
                region: "eu-west-1".into(),
                customization: Some((customization.clone(), 3)),
            }),
            "{name}"
        );
        c.bench_function(name, |b| {
            b.iter(|| {
                directory.authorize(
                    black_box(&caller),
                    black_box(&profile),
                    black_box(Some(customization.as_str())),
                )
            })
        });
    }
}

criterion_group!(benches, authorize, requests);
criterion_main!(benches);
