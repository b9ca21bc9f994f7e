//! Subscriptions, profiles and customizations with the seed's teams, against
//! a real OpenID provider (two identity sources), a real moto server for the
//! activation gate, and real SQLite files per region. The teams, their
//! grants and every expected outcome are in `tests/data/tenancy/seed.json`,
//! written out by hand.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::oidc::{Provider, start_provider};
use common::{Reply, send};
use consoledx::auth::Authenticator;
use consoledx::db::{DatabaseUrl, Db};
use consoledx::eval::Endpoint;
use consoledx::tenancy::report::{self, UsageRow};
use consoledx::tenancy::{
    CallerClaims, Customization, Directory, GateSettings, Principal, ProfileEntry, Subscription,
};
use consoledx::{AppState, AwsSettings, Config, Credentials, app};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tenancy")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    #[serde(rename = "_comment")]
    _comment: String,
    subscriptions: Vec<SeedSubscription>,
    profiles: Vec<SeedProfile>,
    customizations: Vec<SeedCustomization>,
    message: String,
    users: Vec<SeedUser>,
    report: SeedReport,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedSubscription {
    id: String,
    name: String,
    issuer: String,
    grants: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedProfile {
    id: String,
    name: String,
    subscription: String,
    region: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedCustomization {
    id: String,
    name: String,
    subscription: String,
    grants: Vec<String>,
    pack: String,
    activate: bool,
    marker: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUser {
    name: String,
    issuer: String,
    sub: String,
    groups: Vec<String>,
    /// Profile -> the customizations usable in it (no customization is always usable there).
    allowed: BTreeMap<String, Vec<String>>,
    wrong_identity_source: Vec<String>,
    not_granted: Vec<String>,
    /// Granted customizations without an active version.
    inactive: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedReport {
    billable_users: u64,
    identity_sources: BTreeMap<String, u64>,
    subscriptions: BTreeMap<String, SeedUsage>,
    /// Profile -> [users, requests].
    profiles: BTreeMap<String, [u64; 2]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUsage {
    users: u64,
    requests: u64,
}

fn seed() -> Seed {
    let path = data_dir().join("seed.json");
    let text = std::fs::read_to_string(&path).expect("seed.json readable");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn pack_file(name: &str) -> Value {
    let text = std::fs::read_to_string(data_dir().join("packs").join(name))
        .unwrap_or_else(|err| panic!("pack {name}: {err}"));
    json!({"name": name, "text": text})
}

/// The activation gate as in production, on the fast subset of the built-in
/// dataset so the test stays short.
fn gate() -> GateSettings {
    GateSettings {
        records: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../eval/records"),
        endpoint: Endpoint::MotoServer(common::moto::moto_binary()),
        workers: 1,
        fast_only: true,
    }
}

struct Backend {
    app: Router,
    provider: Provider,
    /// Holds the SQLite files until the test ends.
    _dir: tempfile::TempDir,
    admin: String,
    /// Every database diagnoses may land in: `main`, then one per region.
    databases: Vec<(String, DatabaseUrl)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// The default: SQLite files in the data directory, one per region.
    Sqlite,
    /// A real PostgreSQL server: the main database and one database per region.
    Postgres,
}

/// The seed's regions (each gets its own database on PostgreSQL).
fn seed_regions() -> Vec<String> {
    let mut regions: Vec<String> = seed().profiles.into_iter().map(|p| p.region).collect();
    regions.sort();
    regions.dedup();
    regions
}

/// A backend on `storage`; `None` when PostgreSQL is not installed here (never in CI).
async fn backend_on(storage: Storage) -> Option<Backend> {
    let provider = start_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let aws = AwsSettings {
        credentials: Credentials::None,
        ..AwsSettings::default()
    };
    let mut config = Config {
        gate: gate(),
        ..Config::new(dir.path().to_path_buf(), aws)
    };
    let mut databases = Vec::new();
    match storage {
        Storage::Sqlite => {
            databases.push((
                "main".to_string(),
                DatabaseUrl::Sqlite(dir.path().join("consoledx.sqlite3")),
            ));
            for region in seed_regions() {
                let file = region_file(dir.path(), &region);
                databases.push((region, DatabaseUrl::Sqlite(file)));
            }
        }
        Storage::Postgres => {
            let main = common::postgres::fresh_database()?;
            config.database_url = Some(main.clone());
            databases.push(("main".to_string(), main));
            for region in seed_regions() {
                let url = common::postgres::fresh_database()?;
                config.region_databases.insert(region.clone(), url.clone());
                databases.push((region, url));
            }
        }
    }
    let auth = provider.config_with_admins("", &["organization"], &["group:consoledx-admins"]);
    let state = AppState::open(&config)
        .await
        .expect("state opens")
        .with_authenticator(Authenticator::new(auth));
    let admin = token(
        &provider,
        "organization",
        "root",
        &["consoledx-admins".to_string()],
        &[],
    )
    .await;
    Some(Backend {
        app: app(state),
        provider,
        _dir: dir,
        admin,
        databases,
    })
}

async fn backend() -> Backend {
    backend_on(Storage::Sqlite)
        .await
        .expect("SQLite is always there")
}

async fn token(
    provider: &Provider,
    issuer: &str,
    sub: &str,
    groups: &[String],
    extra: &[(&str, Value)],
) -> String {
    let mut params: BTreeMap<String, Value> = BTreeMap::new();
    params.insert("sub".into(), json!(sub));
    params.insert("username".into(), json!(sub));
    params.insert("groups".into(), json!(groups.join(",")));
    for (key, value) in extra {
        params.insert((*key).to_string(), value.clone());
    }
    provider.token(issuer, &params).await
}

/// One API call with the extension's headers.
#[derive(Default)]
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    token: Option<&'a str>,
    profile: Option<&'a str>,
    customization: Option<&'a str>,
    body: Option<Value>,
}

async fn call(app: &Router, call: Call<'_>) -> Reply {
    let mut builder = Request::builder().method(call.method).uri(call.path);
    if let Some(token) = call.token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if let Some(profile) = call.profile {
        builder = builder.header("x-consoledx-profile", profile);
    }
    if let Some(customization) = call.customization {
        builder = builder.header("x-consoledx-customization", customization);
    }
    let body = match call.body {
        Some(body) => {
            builder = builder.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    send(app, builder.body(body).expect("request builds")).await
}

/// The extension's Diagnose: the seed's message under a profile and customization.
async fn analyze_as(
    app: &Router,
    token: &str,
    profile: Option<&str>,
    customization: Option<&str>,
    message: &str,
) -> Reply {
    call(
        app,
        Call {
            method: "POST",
            path: "/v1/analyze",
            token: Some(token),
            profile,
            customization,
            body: Some(snapshot_body(message)),
        },
    )
    .await
}

/// A GET with only a token.
async fn get_as(app: &Router, path: &str, token: Option<&str>) -> Reply {
    call(
        app,
        Call {
            method: "GET",
            path,
            token,
            ..Call::default()
        },
    )
    .await
}

async fn admin_post(backend: &Backend, path: &str, body: Value) -> Reply {
    let reply = call(
        &backend.app,
        Call {
            method: "POST",
            path,
            token: Some(&backend.admin),
            body: Some(body),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "POST {path}: {}", reply.json);
    reply
}

fn snapshot_body(message: &str) -> Value {
    json!({"context": {
        "message": message,
        "url": "https://s3.console.aws.amazon.com/s3/buckets/team-logs-001?region=us-east-1",
    }})
}

/// Sets the seed's directory up through the admin API.
async fn configure(backend: &Backend, seed: &Seed) {
    for subscription in &seed.subscriptions {
        admin_post(
            backend,
            "/v1/admin/subscriptions",
            json!({"id": subscription.id, "name": subscription.name, "issuer": backend.provider.issuer(&subscription.issuer)}),
        )
        .await;
        for principal in &subscription.grants {
            admin_post(
                backend,
                &format!("/v1/admin/subscriptions/{}/grants", subscription.id),
                json!({"principal": principal}),
            )
            .await;
        }
    }
    for profile in &seed.profiles {
        admin_post(
            backend,
            "/v1/admin/profiles",
            json!({"id": profile.id, "name": profile.name, "subscription": profile.subscription, "region": profile.region}),
        )
        .await;
    }
    for customization in &seed.customizations {
        admin_post(
            backend,
            "/v1/admin/customizations",
            json!({"id": customization.id, "name": customization.name, "subscription": customization.subscription}),
        )
        .await;
        for principal in &customization.grants {
            admin_post(
                backend,
                &format!("/v1/admin/customizations/{}/grants", customization.id),
                json!({"principal": principal}),
            )
            .await;
        }
        let uploaded = admin_post(
            backend,
            &format!("/v1/admin/customizations/{}/versions", customization.id),
            json!({"files": [pack_file(&customization.pack)]}),
        )
        .await;
        assert_eq!(uploaded.json["version"], 1, "{}", uploaded.json);
        if customization.activate {
            let gate = admin_post(
                backend,
                &format!(
                    "/v1/admin/customizations/{}/versions/1/activate",
                    customization.id
                ),
                json!({}),
            )
            .await;
            assert_eq!(gate.json["passed"], true, "{}", gate.json);
        }
    }
}

fn region_file(dir: &Path, region: &str) -> PathBuf {
    dir.join("regions").join(region).join("consoledx.sqlite3")
}

/// Which of the backend's databases hold this diagnosis.
async fn databases_holding(backend: &Backend, id: &str) -> Vec<String> {
    let databases = backend.databases.clone();
    let id = id.to_string();
    // The PostgreSQL client blocks: off the async workers.
    tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        for (name, url) in databases {
            // A region nobody stored in yet has no file or tables.
            let Ok(mut db) = Db::open(&url) else {
                continue;
            };
            let count = db
                .query(
                    "SELECT COUNT(*) FROM diagnoses WHERE id = ?1",
                    &[id.as_str().into()],
                )
                .ok()
                .and_then(|rows| rows.first().and_then(|row| row.int(0).ok()))
                .unwrap_or(0);
            if count > 0 {
                found.push(name);
            }
        }
        found
    })
    .await
    .expect("lookup runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_teams_get_exactly_what_they_are_granted_on_sqlite() {
    let backend = backend().await;
    seed_teams_get_exactly_what_they_are_granted(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_teams_get_exactly_what_they_are_granted_on_postgres() {
    if let Some(backend) = backend_on(Storage::Postgres).await {
        seed_teams_get_exactly_what_they_are_granted(&backend).await;
    }
}

async fn seed_teams_get_exactly_what_they_are_granted(backend: &Backend) {
    let seed = seed();
    configure(backend, &seed).await;
    let region_of: BTreeMap<&str, &str> = seed
        .profiles
        .iter()
        .map(|p| (p.id.as_str(), p.region.as_str()))
        .collect();
    let marker_of: BTreeMap<&str, &str> = seed
        .customizations
        .iter()
        .map(|c| (c.id.as_str(), c.marker.as_str()))
        .collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    for user in &seed.users {
        let token = token(
            &backend.provider,
            &user.issuer,
            &user.sub,
            &user.groups,
            &[],
        )
        .await;
        for profile in &seed.profiles {
            for customization in
                std::iter::once(None).chain(seed.customizations.iter().map(|c| Some(c.id.as_str())))
            {
                checked += 1;
                let label = format!(
                    "{} / {} / {}",
                    user.name,
                    profile.id,
                    customization.unwrap_or("no customization")
                );
                let expected: Result<(), &str> = match user.allowed.get(&profile.id) {
                    None if user.wrong_identity_source.contains(&profile.id) => {
                        Err("wrong_identity_source")
                    }
                    None if user.not_granted.contains(&profile.id) => Err("not_granted"),
                    None => panic!("{label}: seed.json says nothing of this profile for the user"),
                    Some(usable) => match customization {
                        None => Ok(()),
                        Some(id) if usable.iter().any(|c| c == id) => Ok(()),
                        Some(id) if user.inactive.iter().any(|c| c == id) => {
                            Err("customization_inactive")
                        }
                        Some(_) => Err("customization_unavailable"),
                    },
                };
                let reply = call(
                    &backend.app,
                    Call {
                        method: "POST",
                        path: "/v1/analyze",
                        token: Some(&token),
                        profile: Some(&profile.id),
                        customization,
                        body: Some(snapshot_body(&seed.message)),
                    },
                )
                .await;
                match expected {
                    Err(code) => {
                        if reply.status != StatusCode::FORBIDDEN || reply.json["error"] != code {
                            failures.push(format!(
                                "{label}: expected 403 {code}, got {} {}",
                                reply.status, reply.json
                            ));
                        } else if reply.json["message"].as_str().is_none_or(|m| m.len() < 20) {
                            failures.push(format!(
                                "{label}: the refusal has no plain message: {}",
                                reply.json
                            ));
                        }
                    }
                    Ok(()) => {
                        if reply.status != StatusCode::OK {
                            failures.push(format!(
                                "{label}: expected 200, got {} {}",
                                reply.status, reply.json
                            ));
                            continue;
                        }
                        let analysis = reply.json["analysis"].as_str().unwrap_or_default();
                        // The customization in use answers, and no other one leaks in.
                        for (id, marker) in &marker_of {
                            let should = customization == Some(*id)
                                || customization.is_some_and(|c| marker_of.get(c) == Some(marker));
                            if analysis.contains(marker) != should {
                                failures.push(format!(
                                    "{label}: analysis {} “{marker}” ({id}): {analysis}",
                                    if should { "lacks" } else { "shows" }
                                ));
                            }
                        }
                        let id = reply.json["diagnosis_id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        // Read back under the same profile: the store answers after the queued insert is committed.
                        let path = format!("/v1/diagnoses/{id}");
                        let read = call(
                            &backend.app,
                            Call {
                                method: "GET",
                                path: &path,
                                token: Some(&token),
                                profile: Some(&profile.id),
                                customization,
                                ..Call::default()
                            },
                        )
                        .await;
                        if read.status != StatusCode::OK {
                            failures.push(format!(
                                "{label}: reading the diagnosis back: {} {}",
                                read.status, read.json
                            ));
                        }
                        let holding = databases_holding(backend, &id).await;
                        let region = region_of[profile.id.as_str()];
                        if holding != [region.to_string()] {
                            failures.push(format!(
                                "{label}: diagnosis stored in {holding:?}, expected only {region}"
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(checked >= 200, "only {checked} combinations");
    assert!(
        failures.is_empty(),
        "{} of {checked} combinations wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // What each user is shown: Grey never sees Alpha's customizations.
    for user in &seed.users {
        let token = token(
            &backend.provider,
            &user.issuer,
            &user.sub,
            &user.groups,
            &[],
        )
        .await;
        let reply = get_as(&backend.app, "/v1/tenancy", Some(&token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        let mut profiles: Vec<&str> = reply.json["profiles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["id"].as_str())
            .collect();
        profiles.sort_unstable();
        let mut expected: Vec<&str> = user.allowed.keys().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(profiles, expected, "{}: profiles shown", user.name);
        let shown: Vec<&str> = reply.json["customizations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str())
            .collect();
        for id in &shown {
            let usable = user.allowed.values().flatten().any(|c| c == id)
                || user.inactive.iter().any(|c| c == id);
            assert!(
                usable,
                "{}: shown customization {id} it may not use",
                user.name
            );
        }
    }

    // The report: each user once per identity source, usage per profile.
    let reply = get_as(&backend.app, "/v1/admin/report", Some(&backend.admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let report = &reply.json;
    assert_eq!(
        report["billable_users"], seed.report.billable_users,
        "{report}"
    );
    for (issuer, users) in &seed.report.identity_sources {
        let url = backend
            .provider
            .issuer(issuer)
            .trim_end_matches('/')
            .to_string();
        let found = report["identity_sources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["issuer"] == url.as_str());
        assert_eq!(
            found.map(|s| s["users"].clone()),
            Some(json!(users)),
            "{issuer}: {report}"
        );
    }
    for subscription in report["subscriptions"].as_array().into_iter().flatten() {
        let id = subscription["id"].as_str().unwrap_or_default();
        let expected = &seed.report.subscriptions[id];
        assert_eq!(
            (
                subscription["users"].as_u64(),
                subscription["requests"].as_u64()
            ),
            (Some(expected.users), Some(expected.requests)),
            "{id}: {subscription}"
        );
        for profile in subscription["profiles"].as_array().into_iter().flatten() {
            let pid = profile["id"].as_str().unwrap_or_default();
            let [users, requests] = seed.report.profiles[pid];
            assert_eq!(
                (profile["users"].as_u64(), profile["requests"].as_u64()),
                (Some(users), Some(requests)),
                "{pid}: {profile}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_why_and_change_nothing() {
    let seed = seed();
    let backend = backend().await;
    configure(&backend, &seed).await;
    let orange = vec!["orange".to_string()];
    let olivia = token(&backend.provider, "organization", "olivia", &orange, &[]).await;

    // Tokens the panel must explain: expired, forged, revoked at the provider.
    let expired = token(
        &backend.provider,
        "organization",
        "olivia",
        &orange,
        &[("exp_offset", json!(-600))],
    )
    .await;
    let forged = token(
        &backend.provider,
        "organization",
        "olivia",
        &orange,
        &[("forge", json!("tampered"))],
    )
    .await;
    let revoked = token(&backend.provider, "organization", "olivia", &orange, &[]).await;
    backend.provider.revoke("organization", &revoked).await;
    for (token, code) in [
        (expired.as_str(), "token_expired"),
        (forged.as_str(), "bad_signature"),
        (revoked.as_str(), "token_revoked"),
        ("not-a-jwt", "malformed_token"),
    ] {
        let reply = analyze_as(&backend.app, token, Some("orange-us"), None, &seed.message).await;
        assert_eq!(
            (reply.status, reply.json["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some(code)),
            "{}",
            reply.json
        );
        assert!(
            reply.json["message"]
                .as_str()
                .is_some_and(|m| m.contains("sign")),
            "{code}: {}",
            reply.json
        );
    }

    // A multi-tenant backend needs a profile.
    let reply = analyze_as(&backend.app, &olivia, None, None, &seed.message).await;
    assert_eq!(
        (reply.status, reply.json["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("missing_profile")),
        "{}",
        reply.json
    );
    let reply = analyze_as(
        &backend.app,
        &olivia,
        Some("no-such-profile"),
        None,
        &seed.message,
    )
    .await;
    assert_eq!(reply.json["error"], "unknown_profile", "{}", reply.json);

    // The admin API is for admins only.
    for path in ["/v1/admin/report", "/v1/admin/subscriptions"] {
        let reply = get_as(&backend.app, path, Some(&olivia)).await;
        assert_eq!(
            (reply.status, reply.json["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("not_admin")),
            "{path}: {}",
            reply.json
        );
        let reply = get_as(&backend.app, path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {}",
            reply.json
        );
    }
    let before = get_as(
        &backend.app,
        "/v1/admin/subscriptions",
        Some(&backend.admin),
    )
    .await
    .json;

    // Bad admin input: a specific reason, nothing stored.
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "/v1/admin/subscriptions",
            json!({"id": "alpha", "name": "Again", "issuer": backend.provider.issuer("organization")}),
            StatusCode::CONFLICT,
            "exists already",
        ),
        (
            "/v1/admin/subscriptions",
            json!({"id": "delta team", "name": "Delta", "issuer": backend.provider.issuer("organization")}),
            StatusCode::BAD_REQUEST,
            "letters, digits",
        ),
        (
            "/v1/admin/subscriptions",
            json!({"id": "delta", "name": "Delta", "issuer": "http://id.example.com"}),
            StatusCode::BAD_REQUEST,
            "issuer",
        ),
        (
            "/v1/admin/subscriptions",
            json!({"id": "delta", "name": "Delta"}),
            StatusCode::BAD_REQUEST,
            "issuer",
        ),
        (
            "/v1/admin/profiles",
            json!({"id": "mars", "name": "Mars", "subscription": "alpha", "region": "mars-north-1"}),
            StatusCode::BAD_REQUEST,
            "not an AWS region",
        ),
        (
            "/v1/admin/profiles",
            json!({"id": "orphan", "name": "Orphan", "subscription": "zulu", "region": "us-east-1"}),
            StatusCode::NOT_FOUND,
            "no subscription",
        ),
        (
            "/v1/admin/subscriptions/alpha/grants",
            json!({"principal": "team:orange"}),
            StatusCode::BAD_REQUEST,
            "neither user nor group",
        ),
        (
            "/v1/admin/customizations/alpha-runbooks/versions",
            json!({"files": [{"name": "bad.toml", "text": "service = \"s3\"\n[[rule]]\nid = \"acme.x\"\n"}]}),
            StatusCode::BAD_REQUEST,
            "missing field",
        ),
        (
            "/v1/admin/customizations/alpha-runbooks/versions",
            json!({"files": [{"name": "../s3.toml", "text": ""}]}),
            StatusCode::BAD_REQUEST,
            "pack file name",
        ),
        (
            "/v1/admin/customizations/alpha-runbooks/versions",
            json!({"files": []}),
            StatusCode::BAD_REQUEST,
            "at least one",
        ),
        (
            "/v1/admin/customizations/alpha-runbooks/versions/9/activate",
            json!({}),
            StatusCode::NOT_FOUND,
            "no version 9",
        ),
    ];
    for (path, body, status, reason) in cases {
        let reply = call(
            &backend.app,
            Call {
                method: "POST",
                path,
                token: Some(&backend.admin),
                body: Some(body.clone()),
                ..Call::default()
            },
        )
        .await;
        let text = reply.json.to_string();
        assert_eq!(reply.status, status, "{path} {body}: {text}");
        assert!(
            text.contains(reason),
            "{path} {body}: {text} lacks {reason:?}"
        );
    }
    let after = get_as(
        &backend.app,
        "/v1/admin/subscriptions",
        Some(&backend.admin),
    )
    .await
    .json;
    assert_eq!(before, after, "a refused change left something behind");

    // A version that makes the built-in dataset score lower is refused and stays inactive.
    let uploaded = admin_post(
        &backend,
        "/v1/admin/customizations/alpha-runbooks/versions",
        json!({"files": [pack_file("regressing.toml")]}),
    )
    .await;
    assert_eq!(uploaded.json["version"], 2);
    let reply = call(
        &backend.app,
        Call {
            method: "POST",
            path: "/v1/admin/customizations/alpha-runbooks/versions/2/activate",
            token: Some(&backend.admin),
            body: Some(json!({})),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(
        (reply.status, reply.json["error"].as_str()),
        (StatusCode::CONFLICT, Some("regression")),
        "{}",
        reply.json
    );
    assert!(
        reply.json["detail"]["regressions"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{}",
        reply.json
    );
    let directory = get_as(
        &backend.app,
        "/v1/admin/subscriptions",
        Some(&backend.admin),
    )
    .await
    .json;
    assert_eq!(
        directory["customizations"]["alpha-runbooks"]["active_version"], 1,
        "{directory}"
    );
    assert_eq!(
        directory["customizations"]["alpha-runbooks"]["versions"][1]["gate"]["passed"], false,
        "{directory}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_counted_per_customization_version_on_sqlite() {
    feedback_is_counted_per_customization_version(&backend().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_counted_per_customization_version_on_postgres() {
    if let Some(backend) = backend_on(Storage::Postgres).await {
        feedback_is_counted_per_customization_version(&backend).await;
    }
}

async fn feedback_is_counted_per_customization_version(backend: &Backend) {
    let seed = seed();
    configure(backend, &seed).await;
    let olivia = token(
        &backend.provider,
        "organization",
        "olivia",
        &["orange".to_string()],
        &[],
    )
    .await;
    let vote = async |profile: &str, verdict: &str| {
        let reply = analyze_as(
            &backend.app,
            &olivia,
            Some(profile),
            Some("alpha-runbooks"),
            &seed.message,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        let id = reply.json["diagnosis_id"]
            .as_str()
            .expect("diagnosis id")
            .to_string();
        let reply = call(
            &backend.app,
            Call {
                method: "POST",
                path: "/v1/feedback",
                token: Some(&olivia),
                profile: Some(profile),
                customization: Some("alpha-runbooks"),
                body: Some(json!({"diagnosis_id": id, "verdict": verdict})),
            },
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        // The vote is kept in the profile's region: another region's profile does not find the diagnosis.
        let other = if profile == "orange-us" {
            "orange-eu"
        } else {
            "orange-us"
        };
        let reply = call(
            &backend.app,
            Call {
                method: "POST",
                path: "/v1/feedback",
                token: Some(&olivia),
                profile: Some(other),
                body: Some(json!({"diagnosis_id": id, "verdict": verdict})),
                ..Call::default()
            },
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.json);
    };
    vote("orange-us", "helpful").await;
    vote("orange-eu", "helpful").await;
    vote("orange-eu", "not_helpful").await;
    // Version 2: the same rules with another marker; activated, it answers from then on.
    let text = std::fs::read_to_string(data_dir().join("packs/alpha-runbooks.toml")).expect("pack");
    let v2 = text.replace("Alpha runbook:", "Alpha runbook (v2):");
    admin_post(
        backend,
        "/v1/admin/customizations/alpha-runbooks/versions",
        json!({"files": [{"name": "alpha-runbooks.toml", "text": v2}]}),
    )
    .await;
    admin_post(
        backend,
        "/v1/admin/customizations/alpha-runbooks/versions/2/activate",
        json!({}),
    )
    .await;
    vote("orange-us", "not_helpful").await;
    let reply = get_as(
        &backend.app,
        "/v1/admin/customizations/alpha-runbooks/feedback",
        Some(&backend.admin),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let versions: Vec<(i64, i64, i64)> = reply.json["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["customization_version"].as_i64().unwrap_or(-1),
                v["helpful"].as_i64().unwrap_or(-1),
                v["not_helpful"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(versions, vec![(1, 2, 1), (2, 0, 1)], "{}", reply.json);

    // The feedback pages span every subscription's votes: administrators
    // only, summed over the regions' stores (the main store holds none).
    for path in ["/v1/feedback/summary", "/ui/feedback"] {
        let reply = get_as(&backend.app, path, Some(&olivia)).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            reply.json
        );
        assert_eq!(reply.json["error"], "not_admin", "{path}");
    }
    let reply = get_as(&backend.app, "/v1/feedback/summary", Some(&backend.admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let totals = (
        &reply.json["votes"],
        &reply.json["helpful"],
        &reply.json["not_helpful"],
    );
    assert_eq!(totals, (&json!(4), &json!(2), &json!(2)), "{}", reply.json);
    let per_rule: u64 = reply.json["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|rule| rule["votes"].as_u64())
        .sum();
    assert_eq!(per_rule, 4, "{}", reply.json);
    let page = get_as(&backend.app, "/ui/feedback", Some(&backend.admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    let rule = reply.json["rules"][0]["rule"]
        .as_str()
        .expect("a rule voted on");
    let html = page.json.as_str().unwrap_or_default();
    assert!(html.contains(rule), "the page shows {rule}: {html}");
}

/// A directory as the pure tests write it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectorySpec {
    subscriptions: Vec<SpecSubscription>,
    profiles: Vec<SpecProfile>,
    #[serde(default)]
    customizations: Vec<SpecCustomization>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecSubscription {
    id: String,
    issuer: String,
    grants: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecProfile {
    id: String,
    subscription: String,
    region: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecCustomization {
    id: String,
    subscription: String,
    grants: Vec<String>,
    active_version: Option<i64>,
}

fn principals(grants: &[String]) -> std::collections::BTreeSet<Principal> {
    grants
        .iter()
        .map(|g| Principal::parse(g).unwrap_or_else(|err| panic!("{g}: {err}")))
        .collect()
}

impl DirectorySpec {
    fn build(&self) -> Directory {
        let mut directory = Directory::default();
        for s in &self.subscriptions {
            directory.subscriptions.insert(
                s.id.clone(),
                Subscription {
                    id: s.id.clone(),
                    name: s.id.clone(),
                    issuer: s.issuer.clone(),
                    grants: principals(&s.grants),
                    created_at: String::new(),
                },
            );
        }
        for p in &self.profiles {
            directory.profiles.insert(
                p.id.clone(),
                ProfileEntry {
                    id: p.id.clone(),
                    name: p.id.clone(),
                    subscription: p.subscription.clone(),
                    region: p.region.clone(),
                    created_at: String::new(),
                },
            );
        }
        for c in &self.customizations {
            directory.customizations.insert(
                c.id.clone(),
                Customization {
                    id: c.id.clone(),
                    name: c.id.clone(),
                    subscription: c.subscription.clone(),
                    grants: principals(&c.grants),
                    versions: Vec::new(),
                    active_version: c.active_version,
                    created_at: String::new(),
                },
            );
        }
        directory
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessFile {
    #[serde(rename = "_comment")]
    _comment: String,
    #[serde(flatten)]
    directory: DirectorySpec,
    cases: Vec<AccessCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessCase {
    name: String,
    caller: CallerSpec,
    profile: String,
    #[serde(default)]
    customization: Option<String>,
    #[serde(default)]
    expect: Option<Value>,
    #[serde(default)]
    denied: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerSpec {
    issuer: String,
    subject: String,
    username: String,
    groups: Vec<String>,
}

#[test]
fn access_decisions_from_data() {
    let text = std::fs::read_to_string(data_dir().join("access_cases.json")).expect("readable");
    let file: AccessFile = serde_json::from_str(&text).expect("access_cases.json parses");
    let directory = file.directory.build();
    let mut failures = Vec::new();
    for case in &file.cases {
        let caller = CallerClaims {
            issuer: &case.caller.issuer,
            subject: &case.caller.subject,
            username: &case.caller.username,
            groups: &case.caller.groups,
        };
        let got = directory.authorize(&caller, &case.profile, case.customization.as_deref());
        let got = match got {
            Ok(tenancy) => json!({
                "subscription": tenancy.subscription,
                "profile": tenancy.profile,
                "region": tenancy.region,
                "customization": tenancy.customization.map(|(id, version)| json!([id, version])),
            }),
            Err(denied) => json!({"denied": denied.code(), "message": denied.to_string()}),
        };
        let expected = match (&case.expect, &case.denied) {
            (Some(expect), None) => {
                let mut expect = expect.clone();
                expect
                    .as_object_mut()
                    .map(|o| o.entry("customization").or_insert(Value::Null));
                expect
            }
            (None, Some(code)) => json!({"denied": code}),
            _ => panic!("{}: give expect or denied", case.name),
        };
        let matches = match case.denied {
            Some(_) => got["denied"] == expected["denied"],
            None => got == expected,
        };
        if !matches {
            failures.push(format!("{}: got {got}, expected {expected}", case.name));
        }
    }
    assert!(file.cases.len() >= 10);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportFile {
    #[serde(rename = "_comment")]
    _comment: String,
    #[serde(flatten)]
    directory: DirectorySpec,
    rows: Vec<(String, String, String, String, String, i64)>,
    cases: Vec<ReportCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportCase {
    name: String,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    subscription: Option<String>,
    expect: ReportExpect,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ReportExpect {
    billable_users: usize,
    sources: BTreeMap<String, usize>,
    subscriptions: BTreeMap<String, (usize, i64)>,
    profiles: BTreeMap<String, (usize, i64)>,
}

#[test]
fn reports_from_data() {
    let text = std::fs::read_to_string(data_dir().join("report_cases.json")).expect("readable");
    let file: ReportFile = serde_json::from_str(&text).expect("report_cases.json parses");
    let directory = file.directory.build();
    let rows: Vec<UsageRow> = file
        .rows
        .iter()
        .map(
            |(day, issuer, subject, username, profile, requests)| UsageRow {
                day: day.clone(),
                issuer: issuer.clone(),
                subject: subject.clone(),
                username: username.clone(),
                profile: profile.clone(),
                requests: *requests,
            },
        )
        .collect();
    let mut failures = Vec::new();
    for case in &file.cases {
        let report = report::build(
            &directory,
            &rows,
            case.since.as_deref(),
            case.until.as_deref(),
            case.subscription.as_deref(),
        );
        let got = ReportExpect {
            billable_users: report.billable_users,
            sources: report
                .identity_sources
                .iter()
                .map(|s| (s.issuer.clone(), s.users))
                .collect(),
            subscriptions: report
                .subscriptions
                .iter()
                .map(|s| (s.id.clone(), (s.users, s.requests)))
                .collect(),
            profiles: report
                .subscriptions
                .iter()
                .flat_map(|s| &s.profiles)
                .map(|p| (p.id.clone(), (p.users, p.requests)))
                .collect(),
        };
        if got != case.expect {
            failures.push(format!(
                "{}: got {got:?}, expected {:?}",
                case.name, case.expect
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
