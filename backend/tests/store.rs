//! The store commits diagnoses behind the answer: every returned id must be
//! readable and accept feedback at once, and must survive a restart. Files from
//! older versions keep working; databases it cannot use are refused untouched;
//! the feedback page shows untrusted text escaped.
//!
//! Every behaviour is checked on SQLite and on a real PostgreSQL server
//! (`common::postgres`): each `check_*` function takes the backend, and
//! `on_both_backends!` makes one test per backend of it.

mod common;

use common::{get, post_json, send};
use consoledx::db::{DatabaseUrl, Db, Value as DbValue};
use consoledx::feedback::{FeedbackComment, FeedbackSummary, RuleFeedback, helpful_rate};
use consoledx::store::{
    CustomizationFeedback, DATABASE_FILE, FeedbackRow, NewDiagnosis, NewFeedback, SCHEMA_VERSION,
    Store, StoreError, export_feedback, export_feedback_url,
};
use consoledx::{AppState, AwsSettings, Config, Credentials, app};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One test's database: a file in a fresh directory, or a fresh PostgreSQL database.
struct TestDb {
    dir: tempfile::TempDir,
    url: DatabaseUrl,
}

impl TestDb {
    /// `None` when PostgreSQL is not installed here (skipped with a notice; CI fails instead).
    fn new(backend: Backend) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = match backend {
            Backend::Sqlite => DatabaseUrl::Sqlite(dir.path().join(DATABASE_FILE)),
            Backend::Postgres => common::postgres::fresh_database()?,
        };
        Some(TestDb { dir, url })
    }

    fn store(&self) -> Store {
        Store::open_url(&self.url).expect("store opens")
    }

    fn export(&self) -> Vec<FeedbackRow> {
        export_feedback_url(&self.url).expect("export")
    }

    /// The app with this database as its store, making no AWS calls.
    async fn state(&self) -> AppState {
        let mut config = Config::new(
            self.dir.path().to_path_buf(),
            AwsSettings {
                credentials: Credentials::None,
                ..AwsSettings::default()
            },
        );
        config.database_url = Some(self.url.clone());
        AppState::open(&config).await.expect("app state opens")
    }

    /// Runs SQL on the database directly, off the async threads.
    fn sql(&self, statement: &str) -> Vec<Vec<DbValue>> {
        let url = self.url.clone();
        let statement = statement.to_string();
        std::thread::spawn(move || {
            let mut db = Db::open(&url).expect("db opens");
            db.query(&statement, &[])
                .expect("sql runs")
                .iter()
                .map(|row| row.values().to_vec())
                .collect()
        })
        .join()
        .expect("sql thread")
    }
}

/// One test per backend from a `check_*` function that takes the backend.
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$check(super::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$check(super::Backend::Postgres).await;
            }
        }
    )*};
}

on_both_backends!(
    check_returned_ids_are_stored_and_survive_a_restart,
    check_votes_are_replaced_and_keep_their_first_time,
    check_the_feedback_page_escapes_hostile_rules_and_comments,
    check_a_newer_schema_is_refused_untouched,
    check_two_openers_migrate_once,
    check_votes_per_customization_version,
    check_export_needs_an_existing_store,
);

async fn check_returned_ids_are_stored_and_survive_a_restart(backend: Backend) {
    const REQUESTS: usize = 300;
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let body = json!({"context": common::seed1_context()});
    let ids: Vec<String> = {
        let router = app(db.state().await);
        let calls = (0..REQUESTS).map(|_| {
            let router = router.clone();
            let body = body.clone();
            tokio::spawn(async move { send(&router, post_json("/v1/analyze", &body)).await })
        });
        let mut ids = Vec::new();
        for call in calls {
            let reply = call.await.expect("task");
            assert_eq!(reply.status, 200, "{}", reply.json);
            ids.push(reply.json["diagnosis_id"].as_str().expect("id").to_string());
        }
        // Feedback on the newest id, sent the moment it is known.
        let last = ids.last().expect("ids").clone();
        let feedback = json!({"diagnosis_id": last, "verdict": "helpful"});
        let reply = send(&router, post_json("/v1/feedback", &feedback)).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        ids
        // The router, and with it the store, is dropped here: the writer finishes its queue.
    };
    let router = app(db.state().await);
    let mut missing = Vec::new();
    for id in &ids {
        let reply = send(&router, get(&format!("/v1/diagnoses/{id}"))).await;
        if reply.status != 200 || reply.json["rule"] != "s3.bucket_not_empty" {
            missing.push(id.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{backend:?}: {} of {REQUESTS} lost",
        missing.len()
    );
    let last = ids.last().expect("ids");
    let reply = send(&router, get(&format!("/v1/diagnoses/{last}"))).await;
    assert_eq!(
        reply.json["verdict"],
        Value::from("helpful"),
        "{backend:?}: {}",
        reply.json
    );
}

/// What the store keeps of a file it was pointed at, byte for byte.
fn file_bytes(dir: &std::path::Path) -> Vec<u8> {
    std::fs::read(dir.join(DATABASE_FILE)).expect("store file readable")
}

fn user_version(dir: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open(dir.join(DATABASE_FILE)).expect("db opens");
    db.pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("user_version")
}

/// A file written by the consoledx of schema version 1 (`tests/data/store/v1.sql`):
/// its diagnoses and votes stay readable, votes gain their rule, and new votes are stored.
#[tokio::test]
async fn a_store_from_schema_version_1_keeps_working() {
    const VOTED: &str = "11111111-1111-4111-8111-111111111111";
    const NOT_VOTED: &str = "22222222-2222-4222-8222-222222222222";
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).expect("db");
        let sql = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/store/v1.sql"
        ))
        .expect("fixture");
        db.execute_batch(&sql).expect("v1 file written");
    }
    assert_eq!(user_version(dir.path()), 0, "v1 files predate user_version");

    let router = app(common::offline_state(dir.path()).await);
    let old = send(&router, get(&format!("/v1/diagnoses/{VOTED}"))).await;
    assert_eq!(
        old.json,
        json!({"id": VOTED, "rule": "s3.bucket_not_empty", "verdict": "not_helpful",
               "comment": "said \"empty it\", but versioning was on, too"})
    );
    let vote = json!({"diagnosis_id": NOT_VOTED, "verdict": "helpful", "comment": "ok", "client_version": "0.5.0"});
    let reply = send(&router, post_json("/v1/feedback", &vote)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let summary = send(&router, get("/v1/feedback/summary")).await;
    assert!(
        common::contains_json(
            &summary.json,
            &json!({"votes": 2, "helpful": 1, "rules": [
                {"rule": "s3.bucket_not_empty", "votes": 1, "helpful": 0},
                {"rule": null, "votes": 1, "helpful": 1}]})
        ),
        "{}",
        summary.json
    );
    drop(router);

    assert_eq!(user_version(dir.path()), SCHEMA_VERSION);
    let db = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).expect("db");
    let table_version: i64 = db
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .expect("schema_version table kept");
    assert_eq!(
        table_version, SCHEMA_VERSION,
        "binaries from before user_version must see a newer file and refuse it"
    );
    let rows = export_feedback(dir.path()).expect("export");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let migrated = rows
        .iter()
        .find(|r| r.diagnosis_id == VOTED)
        .expect("old vote");
    assert_eq!(migrated.rule.as_deref(), Some("s3.bucket_not_empty"));
    assert_eq!(migrated.backend_version, None);
    assert_eq!(migrated.client_version, None);
    assert_eq!(
        (migrated.created_at.as_str(), migrated.updated_at.as_str()),
        ("2026-10-01T08:05:00Z", "2026-10-01T08:05:00Z")
    );
    let new = rows
        .iter()
        .find(|r| r.diagnosis_id == NOT_VOTED)
        .expect("new vote");
    assert_eq!(new.rule, None);
    assert_eq!(new.client_version.as_deref(), Some("0.5.0"));
    assert_eq!(
        new.backend_version.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    // Opening an up-to-date file again changes nothing.
    let before = file_bytes(dir.path());
    drop(db);
    drop(Store::open(dir.path()).expect("reopens"));
    assert_eq!(user_version(dir.path()), SCHEMA_VERSION);
    assert_eq!(export_feedback(dir.path()).expect("export"), rows);
    assert!(!before.is_empty());
}

/// Writes a file at the given path.
type WriteFile = fn(&std::path::Path);

/// Files this consoledx cannot use: each is refused with its reason, and left exactly as it was.
#[test]
fn files_it_cannot_use_are_refused_and_left_untouched() {
    let cases: [(&str, WriteFile, &str); 4] = [
        (
            "a newer schema (user_version)",
            |path| {
                let db = rusqlite::Connection::open(path).expect("db");
                db.execute_batch("CREATE TABLE later (x); PRAGMA user_version = 99;")
                    .expect("written");
            },
            "schema version 99 is newer",
        ),
        (
            "a newer schema from before user_version",
            |path| {
                let db = rusqlite::Connection::open(path).expect("db");
                db.execute_batch(
                    "CREATE TABLE schema_version (version INTEGER NOT NULL);
                     INSERT INTO schema_version VALUES (7);",
                )
                .expect("written");
            },
            "schema version 7 is newer",
        ),
        (
            "not a database",
            |path| std::fs::write(path, b"id,verdict\nx,helpful\n".repeat(200)).expect("written"),
            "not a database",
        ),
        (
            "a truncated database",
            |path| {
                let mut header = b"SQLite format 3\0".to_vec();
                header.extend(std::iter::repeat_n(0xA5u8, 600));
                std::fs::write(path, header).expect("written");
            },
            "database",
        ),
    ];
    for (name, write, reason) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join(DATABASE_FILE));
        let before = file_bytes(dir.path());
        let opened = Store::open(dir.path()).map(drop);
        let exported = export_feedback(dir.path()).map(drop);
        for (what, result) in [("open", opened), ("export", exported)] {
            match result {
                Err(err) => {
                    assert!(
                        err.to_string().contains(reason),
                        "{name}: {what}: {err} lacks {reason:?}"
                    );
                    assert!(err.is_bad_location(), "{name}: {what}: {err}");
                }
                Ok(()) => panic!("{name}: {what} accepted the file"),
            }
        }
        assert_eq!(file_bytes(dir.path()), before, "{name}: file changed");
    }
}

/// The export reads an existing store only: it never creates one where it was pointed.
#[test]
fn export_needs_an_existing_consoledx_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = export_feedback(&dir.path().join("nowhere")).expect_err("missing dir");
    assert!(matches!(missing, StoreError::Missing { .. }), "{missing}");
    assert!(!dir.path().join("nowhere").exists());
    std::fs::write(dir.path().join(DATABASE_FILE), b"").expect("empty file");
    let empty = export_feedback(dir.path()).expect_err("empty file");
    assert!(matches!(empty, StoreError::NotAStore { .. }), "{empty}");
    assert!(file_bytes(dir.path()).is_empty(), "tables were created");
}

fn diagnosis(id: &str, rule: Option<&str>) -> NewDiagnosis {
    NewDiagnosis {
        id: id.to_string(),
        rule: rule.map(str::to_string),
        context_json: "{}".to_string(),
        ..NewDiagnosis::default()
    }
}

fn vote(id: &str, verdict: &str, comment: Option<&str>, version: Option<&str>) -> NewFeedback {
    NewFeedback {
        diagnosis_id: id.to_string(),
        verdict: verdict.to_string(),
        comment: comment.map(str::to_string),
        client_version: version.map(str::to_string),
    }
}

/// One vote per diagnosis: a new one replaces the old, keeps the first vote's time, and the
/// rule always comes from the stored diagnosis.
async fn check_votes_are_replaced_and_keep_their_first_time(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let store = db.store();
    store
        .insert_diagnosis(diagnosis("d1", Some("iam.implicit_deny")))
        .expect("queued");
    assert!(
        !store
            .set_feedback(vote("unknown", "helpful", None, None))
            .await
            .expect("answered"),
        "a vote on an unknown diagnosis is not stored"
    );
    let sequence = [
        vote("d1", "helpful", None, Some("0.1.0")),
        vote("d1", "not_helpful", Some("wrong policy"), Some("0.2.0")),
        vote("d1", "helpful", Some("right after all"), None),
    ];
    let mut first_time = None;
    for feedback in sequence {
        assert!(store.set_feedback(feedback.clone()).await.expect("stored"));
        let rows = db.export();
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        assert_eq!(row.rule.as_deref(), Some("iam.implicit_deny"));
        assert_eq!(row.verdict, feedback.verdict);
        assert_eq!(row.comment, feedback.comment);
        assert_eq!(row.client_version, feedback.client_version);
        assert!(row.updated_at >= row.created_at, "{row:?}");
        let first = first_time.get_or_insert_with(|| row.created_at.clone());
        assert_eq!(&row.created_at, first, "the first vote's time is kept");
    }
    let refused = store
        .set_feedback(vote("d1", "meh", Some("bad verdict"), None))
        .await;
    assert!(refused.is_err(), "the table refuses unknown verdicts");
    let rows = db.export();
    assert_eq!(rows[0].comment.as_deref(), Some("right after all"));
    // Comments changed within one second: the last changed is shown first.
    for (index, text) in ["first", "second", "third", "fourth"].iter().enumerate() {
        let id = format!("same-second-{index}");
        store
            .insert_diagnosis(diagnosis(&id, Some("s3.same_second")))
            .expect("queued");
        assert!(
            store
                .set_feedback(vote(&id, "helpful", Some(text), None))
                .await
                .expect("stored")
        );
    }
    assert!(
        store
            .set_feedback(vote(
                "same-second-0",
                "helpful",
                Some("first, changed"),
                None
            ))
            .await
            .expect("stored")
    );
    let summary = store.feedback_summary().await.expect("summary");
    let rule = summary
        .rules
        .iter()
        .find(|r| r.rule.as_deref() == Some("s3.same_second"))
        .expect("rule");
    let comments: Vec<&str> = rule
        .latest_comments
        .iter()
        .map(|c| c.comment.as_str())
        .collect();
    // Sorted by time first: only a run within one second is ordered by change alone.
    let times: std::collections::BTreeSet<&str> = rule
        .latest_comments
        .iter()
        .map(|c| c.updated_at.as_str())
        .collect();
    if times.len() == 1 {
        assert_eq!(
            comments,
            ["first, changed", "fourth", "third"],
            "{backend:?}"
        );
    } else {
        assert_eq!(comments.len(), 3, "{backend:?}: {comments:?}");
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hostile {
    text: String,
    escaped: String,
}

/// Every tag the page may contain; anything else means client text was not escaped.
const PAGE_TAGS: &[&str] = &[
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "main",
    "h1",
    "p",
    "figure",
    "figcaption",
    "svg",
    "g",
    "text",
    "rect",
    "table",
    "caption",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "ul",
    "li",
    "br",
    "span",
];

/// Every way the page's markup goes beyond what it is meant to hold.
fn markup_problems(page: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lower = page.to_ascii_lowercase();
    for (start, _) in lower.match_indices('<') {
        let rest = &lower[start + 1..];
        let body = &rest[..rest.find('>').unwrap_or(rest.len())];
        if body == "!doctype html" {
            continue;
        }
        let name: String = body
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if !PAGE_TAGS.contains(&name.as_str()) {
            problems.push(format!("unexpected tag <{body}>"));
        }
        for attribute in body.split_whitespace().skip(1) {
            let key = attribute.split('=').next().unwrap_or_default();
            if key.starts_with("on") || matches!(key, "src" | "href" | "xlink:href" | "style") {
                problems.push(format!("unexpected attribute in <{body}>"));
            }
        }
    }
    problems
}

/// Rule ids, comments and client versions are untrusted: on the page each appears escaped,
/// never as markup; the summary returns them exactly as stored.
async fn check_the_feedback_page_escapes_hostile_rules_and_comments(backend: Backend) {
    let hostile: Vec<Hostile> = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/store/hostile.json"
        ))
        .expect("fixture"),
    )
    .expect("fixture parses");
    assert!(hostile.len() >= 5);
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    {
        let store = db.store();
        for (index, case) in hostile.iter().enumerate() {
            let id = format!("hostile-{index}");
            store
                .insert_diagnosis(diagnosis(&id, Some(&case.text)))
                .expect("queued");
            // The store takes what it is given; the API is where versions are checked.
            let stored = store
                .set_feedback(vote(&id, "helpful", Some(&case.text), Some(&case.text)))
                .await
                .expect("stored");
            assert!(stored);
        }
    }
    let router = app(db.state().await);
    let reply = send(&router, get("/ui/feedback")).await;
    assert_eq!(reply.status, 200);
    let page = reply.json.as_str().expect("an HTML page, not JSON");
    let mut problems = markup_problems(page);
    for case in &hostile {
        if page.contains(&case.text) {
            problems.push(format!("raw {:?} on the page", case.text));
        }
        // Rule (table and chart tooltip), comment and version: three times at least.
        let shown = page.matches(&case.escaped).count();
        if shown < 3 {
            problems.push(format!("{:?} escaped {shown} times, not 3", case.text));
        }
    }
    assert!(
        problems.is_empty(),
        "{backend:?}: {}\n\n{page}",
        problems.join("\n")
    );
    assert!(
        reply
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|csp| csp.starts_with("default-src 'none'")),
        "{:?}",
        reply.headers
    );

    let summary = send(&router, get("/v1/feedback/summary")).await;
    let summary: consoledx::feedback::FeedbackSummary =
        serde_json::from_value(summary.json).expect("a summary");
    let mut rules: Vec<&str> = summary
        .rules
        .iter()
        .filter_map(|r| r.rule.as_deref())
        .collect();
    let mut expected: Vec<&str> = hostile.iter().map(|h| h.text.as_str()).collect();
    rules.sort_unstable();
    expected.sort_unstable();
    assert_eq!(rules, expected, "rule ids come back exactly as stored");
    assert!(summary.rules.iter().all(|r| r.latest_comments.len() == 1
        && Some(r.latest_comments[0].comment.as_str()) == r.rule.as_deref()));
}

/// Everything in the database that a refused open must leave as it was.
fn snapshot(db: &TestDb, backend: Backend) -> Vec<Vec<DbValue>> {
    match backend {
        Backend::Sqlite => vec![vec![DbValue::Text(format!(
            "{:?}",
            std::fs::read(db.dir.path().join(DATABASE_FILE)).expect("file")
        ))]],
        Backend::Postgres => db
            .sql(
                "SELECT table_name FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY table_name",
            )
            .into_iter()
            .chain(db.sql("SELECT version FROM consoledx_schema"))
            .collect(),
    }
}

/// A database written by a newer consoledx: open and export refuse it with the reason,
/// and nothing in it changes.
async fn check_a_newer_schema_is_refused_untouched(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    match backend {
        Backend::Sqlite => {
            let file = rusqlite::Connection::open(db.dir.path().join(DATABASE_FILE)).expect("db");
            file.execute_batch("CREATE TABLE later (x); PRAGMA user_version = 99;")
                .expect("written");
        }
        Backend::Postgres => {
            db.sql("CREATE TABLE consoledx_schema (version BIGINT NOT NULL)");
            db.sql("INSERT INTO consoledx_schema (version) VALUES (99)");
            db.sql("CREATE TABLE later (x TEXT)");
        }
    }
    let before = snapshot(&db, backend);
    let url = db.url.clone();
    let opened = tokio::task::spawn_blocking(move || Store::open_url(&url).map(drop))
        .await
        .expect("task");
    let exported = export_feedback_url(&db.url).map(drop);
    for (what, result) in [("open", opened), ("export", exported)] {
        let err = result.expect_err("a newer schema is refused");
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99 }),
            "{backend:?} {what}: {err}"
        );
        assert!(
            err.to_string().contains("schema version 99 is newer"),
            "{err}"
        );
        assert!(err.is_bad_location(), "{backend:?} {what}: {err}");
    }
    assert_eq!(
        snapshot(&db, backend),
        before,
        "{backend:?}: the database changed"
    );
}

/// Replicas that start together on an empty database: both open, the schema is created
/// once, and each sees what the other writes.
async fn check_two_openers_migrate_once(backend: Backend) {
    const OPENERS: usize = 4;
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(OPENERS));
    let openers: Vec<_> = (0..OPENERS)
        .map(|_| {
            let url = db.url.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                Store::open_url(&url)
            })
        })
        .collect();
    let stores: Vec<Store> = openers
        .into_iter()
        .map(|opener| {
            opener
                .join()
                .expect("thread")
                .expect("every opener succeeds")
        })
        .collect();
    stores[0]
        .insert_diagnosis(diagnosis("shared", Some("r")))
        .expect("queued");
    stores[0].flush().await.expect("flushed");
    for (index, store) in stores.iter().enumerate() {
        let record = store.diagnosis("shared").await.expect("read");
        assert!(
            record.is_some(),
            "{backend:?}: opener {index} sees the diagnosis"
        );
    }
    assert!(
        stores[OPENERS - 1]
            .set_feedback(vote("shared", "helpful", None, None))
            .await
            .expect("vote")
    );
    drop(stores);
    let versions = match backend {
        Backend::Sqlite => db.sql("SELECT version FROM schema_version"),
        Backend::Postgres => db.sql("SELECT version FROM consoledx_schema"),
    };
    assert_eq!(
        versions,
        vec![vec![DbValue::Int(SCHEMA_VERSION)]],
        "{backend:?}"
    );
    assert_eq!(db.export().len(), 1);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomizationCase {
    diagnoses: Vec<CustomizedDiagnosis>,
    votes: Vec<(String, String)>,
    by_customization: Vec<CustomizationFeedback>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomizedDiagnosis {
    id: String,
    rule: Option<String>,
    profile_id: Option<String>,
    customization_id: Option<String>,
    customization_version: Option<i64>,
}

/// Votes counted per customization version (`tests/data/store/customization_votes.json`),
/// and the export names the profile and customization of each voted diagnosis.
async fn check_votes_per_customization_version(backend: Backend) {
    let case: CustomizationCase =
        serde_json::from_str(include_str!("data/store/customization_votes.json"))
            .expect("fixture parses");
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let store = db.store();
    for d in &case.diagnoses {
        store
            .insert_diagnosis(NewDiagnosis {
                id: d.id.clone(),
                rule: d.rule.clone(),
                context_json: "{}".to_string(),
                subscription_id: Some("sub".to_string()),
                profile_id: d.profile_id.clone(),
                customization_id: d.customization_id.clone(),
                customization_version: d.customization_version,
                user_key: Some("https://issuer#subject".to_string()),
                ..NewDiagnosis::default()
            })
            .expect("queued");
    }
    for (id, verdict) in &case.votes {
        assert!(
            store
                .set_feedback(vote(id, verdict, None, None))
                .await
                .expect("vote")
        );
    }
    let counted = store.feedback_by_customization().await.expect("counted");
    assert_eq!(counted, case.by_customization, "{backend:?}");
    let rows = db.export();
    for d in &case.diagnoses {
        let voted = case.votes.iter().any(|(id, _)| *id == d.id);
        let row = rows.iter().find(|r| r.diagnosis_id == d.id);
        assert_eq!(row.is_some(), voted, "{backend:?}: {}", d.id);
        if let Some(row) = row {
            assert_eq!(
                (
                    &row.profile_id,
                    &row.customization_id,
                    row.customization_version
                ),
                (&d.profile_id, &d.customization_id, d.customization_version),
                "{backend:?}: {}",
                d.id
            );
        }
    }
}

/// The export reads an existing store only: it never creates one where it was pointed.
async fn check_export_needs_an_existing_store(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    if backend == Backend::Sqlite {
        std::fs::write(db.dir.path().join(DATABASE_FILE), b"").expect("empty file");
    }
    let before = snapshot_tables(&db, backend);
    let empty = export_feedback_url(&db.url).expect_err("an empty database");
    assert!(
        matches!(empty, StoreError::NotAStore { .. }),
        "{backend:?}: {empty}"
    );
    assert!(empty.is_bad_location());
    assert_eq!(
        snapshot_tables(&db, backend),
        before,
        "{backend:?}: tables were created"
    );
}

fn snapshot_tables(db: &TestDb, backend: Backend) -> Vec<Vec<DbValue>> {
    match backend {
        Backend::Sqlite => vec![vec![DbValue::Int(
            std::fs::metadata(db.dir.path().join(DATABASE_FILE)).map(|m| m.len() as i64).unwrap_or(-1),
        )]],
        Backend::Postgres => db.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
        ),
    }
}

/// A URL that cannot work is a clear error from open and export alike, never a panic or a hang.
#[tokio::test]
async fn unusable_database_urls_are_clear_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let unreachable: DatabaseUrl = format!("postgres://app:hunter2@127.0.0.1:{closed}/consoledx")
        .parse()
        .expect("url parses");
    let url = unreachable.clone();
    let opened = tokio::task::spawn_blocking(move || Store::open_url(&url).map(drop))
        .await
        .expect("task");
    let exported = export_feedback_url(&unreachable).map(drop);
    for (what, result) in [("open", opened), ("export", exported)] {
        let err = result.expect_err("no server there");
        let text = err.to_string();
        assert!(
            text.contains("cannot connect to PostgreSQL at postgres://app:***@127.0.0.1"),
            "{what}: {text}"
        );
        assert!(!text.contains("hunter2"), "{what}: {text}");
        assert!(err.is_bad_location(), "{what}: {text}");
    }
    let bad = "mysql://root@localhost/db"
        .parse::<DatabaseUrl>()
        .expect_err("not supported");
    assert!(bad.to_string().contains("unsupported scheme"), "{bad}");
}

/// Insert throughput of the store on both backends (a figure, not a check):
/// `cargo test -p consoledx --test store -- --ignored --nocapture insert_throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints a figure; run by hand"]
async fn insert_throughput() {
    const DIAGNOSES: usize = 20_000;
    let context = serde_json::to_string(&common::seed1_context()).expect("context");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::new(backend) else {
            continue;
        };
        let store = db.store();
        let started = std::time::Instant::now();
        for index in 0..DIAGNOSES {
            store
                .insert_diagnosis(NewDiagnosis {
                    id: format!("{index:08}-0000-4000-8000-000000000000"),
                    rule: Some("s3.bucket_not_empty".to_string()),
                    region: Some("us-west-2".to_string()),
                    context_json: context.clone(),
                    ..NewDiagnosis::default()
                })
                .expect("queued");
        }
        let queued = started.elapsed();
        store.flush().await.expect("flushed");
        let committed = started.elapsed();
        let stored = store
            .diagnosis(&format!("{:08}-0000-4000-8000-000000000000", DIAGNOSES - 1))
            .await
            .expect("read");
        assert!(
            stored.is_some(),
            "{backend:?}: the last diagnosis is stored"
        );
        println!(
            "{backend:?}: {DIAGNOSES} diagnoses ({} bytes of context each) queued in {:.1} ms, committed in {:.1} ms: {:.0} diagnoses/s",
            context.len(),
            queued.as_secs_f64() * 1000.0,
            committed.as_secs_f64() * 1000.0,
            DIAGNOSES as f64 / committed.as_secs_f64()
        );
    }
}

/// A rule's votes as the merge cases write them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleVotes {
    rule: Option<String>,
    helpful: u64,
    not_helpful: u64,
    last: Option<String>,
    /// `[updated_at, comment]`, newest first.
    #[serde(default)]
    comments: Vec<(String, String)>,
}

impl RuleVotes {
    fn feedback(&self) -> RuleFeedback {
        let votes = self.helpful + self.not_helpful;
        RuleFeedback {
            rule: self.rule.clone(),
            votes,
            helpful: self.helpful,
            not_helpful: self.not_helpful,
            helpful_rate: helpful_rate(self.helpful, votes),
            last_vote_at: self.last.clone(),
            latest_comments: self
                .comments
                .iter()
                .map(|(updated_at, comment)| FeedbackComment {
                    verdict: "helpful".into(),
                    comment: comment.clone(),
                    client_version: None,
                    updated_at: updated_at.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeCase {
    name: String,
    parts: Vec<Vec<RuleVotes>>,
    expected: Vec<RuleVotes>,
}

/// The regions' summaries, merged for a backend with subscriptions.
#[test]
fn summaries_of_several_stores_merge() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/store/summary_merge_cases.json"),
    )
    .expect("summary_merge_cases.json");
    let cases: Vec<MergeCase> = serde_json::from_str(&text).expect("cases parse");
    for case in cases {
        let summaries = case.parts.iter().map(|rules| {
            FeedbackSummary::from_rules(rules.iter().map(RuleVotes::feedback).collect())
        });
        let merged = FeedbackSummary::merge(summaries);
        let expected =
            FeedbackSummary::from_rules(case.expected.iter().map(RuleVotes::feedback).collect());
        assert_eq!(merged, expected, "{}", case.name);
        assert_eq!(
            merged.rules.iter().map(|r| &r.rule).collect::<Vec<_>>(),
            case.expected.iter().map(|r| &r.rule).collect::<Vec<_>>(),
            "{}: order",
            case.name
        );
    }
}
