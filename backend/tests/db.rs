//! The database layer behaves the same on SQLite and on a real PostgreSQL
//! server: every case in `tests/data/db/sql_cases.json` runs on both, and URLs
//! parse, print and fail as `tests/data/db/urls.json` says, never showing a password.
//! TLS is checked against a server of its own with a certificate from a
//! private CA (`tests/data/db/tls_cases.json`).

mod common;

use common::postgres;
use consoledx::db::{DatabaseUrl, Db, DbError, DbHandle, Value};
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UrlCase {
    input: String,
    #[serde(default)]
    postgres: Option<String>,
    #[serde(default)]
    sqlite: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Every password that appears in the URL fixtures.
const PASSWORDS: [&str; 4] = ["s3cret", "hunter2", "p%40ss", "other"];

#[test]
fn database_urls_parse_print_and_fail_as_expected() {
    let cases: Vec<UrlCase> =
        serde_json::from_str(include_str!("data/db/urls.json")).expect("urls.json parses");
    let mut failures = Vec::new();
    for case in &cases {
        let parsed = case.input.parse::<DatabaseUrl>();
        let outcome = match &parsed {
            Ok(url @ DatabaseUrl::Postgres(_)) => format!("postgres {url}"),
            Ok(DatabaseUrl::Sqlite(path)) => format!("sqlite {}", path.display()),
            Err(err) => format!("error {err}"),
        };
        let shown = match &parsed {
            Ok(url) => format!("{url} {url:?}"),
            Err(err) => format!("{err} {err:?}"),
        };
        let leaked = PASSWORDS.iter().find(|p| shown.contains(*p));
        let expected_ok = match (&case.postgres, &case.sqlite, &case.error, &parsed) {
            (Some(shown), None, None, Ok(url @ DatabaseUrl::Postgres(_))) => {
                url.to_string() == *shown
            }
            (None, Some(path), None, Ok(DatabaseUrl::Sqlite(found))) => {
                found == std::path::Path::new(path)
            }
            (None, None, Some(part), Err(DbError::BadUrl { .. })) => outcome.contains(part),
            _ => false,
        };
        if !expected_ok || leaked.is_some() {
            failures.push(format!(
                "{:?}: got `{outcome}`{}",
                case.input,
                leaked.map(|p| format!(", leaks {p}")).unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlCase {
    name: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default)]
    batch: Option<String>,
    #[serde(default)]
    execute: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    transaction: Option<Vec<Step>>,
    #[serde(default)]
    lock: Option<String>,
    #[serde(default)]
    params: Vec<Json>,
    #[serde(default)]
    changed: Option<u64>,
    #[serde(default)]
    rows: Option<Vec<Vec<Json>>>,
    /// `conflict`, `placeholder`, `unsupported_type`, `not_in_transaction` or `database`.
    #[serde(default)]
    error: Option<String>,
}

fn to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Number(n) => Value::Int(n.as_i64().expect("integer parameters only")),
        Json::String(s) => Value::Text(s.clone()),
        other => panic!("unsupported parameter {other}"),
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Int(n) => Json::from(*n),
        Value::Text(s) => Json::from(s.as_str()),
    }
}

fn error_kind(err: &DbError) -> &'static str {
    match err {
        DbError::Conflict(_) => "conflict",
        DbError::Placeholder { .. } => "placeholder",
        DbError::UnsupportedType { .. } => "unsupported_type",
        DbError::NotInTransaction(_) => "not_in_transaction",
        DbError::Sqlite(_) | DbError::Postgres(_) => "database",
        _ => "other",
    }
}

/// Runs the steps in order; the first step whose outcome differs is the error. Inside a
/// transaction body (`in_body`) an expected statement error ends the body with that error,
/// so the transaction is rolled back as a caller's would be.
fn run_steps(db: &mut Db, steps: &[Step], in_body: bool) -> Result<(), DbError> {
    for (number, step) in steps.iter().enumerate() {
        let params: Vec<Value> = step.params.iter().map(to_value).collect();
        let outcome: Result<String, DbError> = if let Some(sql) = &step.batch {
            db.execute_batch(sql).map(|()| String::new())
        } else if let Some(sql) = &step.execute {
            db.execute(sql, &params).map(|n| n.to_string())
        } else if let Some(sql) = &step.query {
            db.query(sql, &params).map(|rows| {
                let rows: Vec<Vec<Json>> = rows
                    .iter()
                    .map(|row| row.values().iter().map(to_json).collect())
                    .collect();
                Json::from(rows).to_string()
            })
        } else if let Some(inner) = &step.transaction {
            db.transaction(|db| run_steps(db, inner, true))
                .map(|()| String::new())
        } else if let Some(name) = &step.lock {
            db.lock(name).map(|()| String::new())
        } else {
            Err(DbError::Panicked(format!("step {number} does nothing")))
        };
        let expected = match (&step.error, step.changed, &step.rows) {
            (Some(kind), _, _) => format!("error {kind}"),
            (None, Some(changed), _) => changed.to_string(),
            (None, None, Some(rows)) => Json::from(rows.clone()).to_string(),
            (None, None, None) => String::new(),
        };
        let got = match &outcome {
            Ok(text) => text.clone(),
            Err(err) => format!("error {}", error_kind(err)),
        };
        if got != expected {
            let detail = outcome.err().map(|e| format!(" ({e})")).unwrap_or_default();
            return Err(DbError::Panicked(format!(
                "step {number}: expected `{expected}`, got `{got}`{detail}"
            )));
        }
        // A failed statement ends the body (PostgreSQL refuses more in that transaction); a
        // failed nested transaction rolled back to its savepoint, and the body goes on.
        if let Err(err) = outcome
            && in_body
            && step.transaction.is_none()
        {
            return Err(err);
        }
    }
    Ok(())
}

/// Where the cases run: one SQLite file, and one fresh PostgreSQL database per case.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A database of the given backend for one test; `None` when PostgreSQL is skipped locally.
fn database(backend: Backend, dir: &std::path::Path, name: &str) -> Option<DatabaseUrl> {
    match backend {
        Backend::Sqlite => Some(DatabaseUrl::Sqlite(dir.join(format!("{name}.sqlite3")))),
        Backend::Postgres => postgres::fresh_database(),
    }
}

fn check_sql_cases(backend: Backend) {
    let cases: Vec<SqlCase> = serde_json::from_str(include_str!("data/db/sql_cases.json"))
        .expect("sql_cases.json parses");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let Some(url) = database(backend, dir.path(), &format!("case{index}")) else {
            return;
        };
        let mut db = Db::open(&url).expect("database opens");
        if let Err(err) = run_steps(&mut db, &case.steps, false) {
            failures.push(format!("{backend:?} {}: {err}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sql_cases_on_sqlite() {
    check_sql_cases(Backend::Sqlite);
}

#[test]
fn sql_cases_on_postgres() {
    check_sql_cases(Backend::Postgres);
}

/// A panic inside a job becomes an error; the handle keeps working and no transaction stays open.
async fn check_handle_survives_a_panic(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(url) = tokio::task::spawn_blocking({
        let path = dir.path().to_path_buf();
        move || database(backend, &path, "handle")
    })
    .await
    .expect("task") else {
        return;
    };
    let handle = tokio::task::spawn_blocking(move || {
        DbHandle::open(&url, |db| {
            db.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY)")
        })
    })
    .await
    .expect("task")
    .expect("handle opens");
    let panicked = handle
        .run(|db| {
            db.transaction(|db| {
                db.execute("INSERT INTO t (id) VALUES ('half')", &[])?;
                if db.is_postgres() || !db.is_postgres() {
                    panic!("boom");
                }
                Ok(())
            })
        })
        .await;
    assert!(
        matches!(&panicked, Err(DbError::Panicked(text)) if text.contains("boom")),
        "{backend:?}: {panicked:?}"
    );
    let count = handle
        .run(|db| db.query("SELECT COUNT(*) FROM t", &[])?[0].int(0))
        .await;
    assert_eq!(
        count.ok(),
        Some(0),
        "{backend:?}: the half-done insert was rolled back"
    );
    let stored = handle
        .run(|db| {
            db.transaction(|db| db.execute("INSERT INTO t (id) VALUES (?1)", &["after".into()]))
        })
        .await;
    assert_eq!(stored.ok(), Some(1), "{backend:?}: a new transaction works");
}

#[tokio::test]
async fn handle_survives_a_panic_on_sqlite() {
    check_handle_survives_a_panic(Backend::Sqlite).await;
}

#[tokio::test]
async fn handle_survives_a_panic_on_postgres() {
    check_handle_survives_a_panic(Backend::Postgres).await;
}

#[test]
fn unreachable_or_refusing_servers_are_clear_errors() {
    // A port nothing listens on: refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let cases = [
        (
            format!("postgres://u:hunter2@127.0.0.1:{closed}/db?connect_timeout=2"),
            "cannot connect to PostgreSQL at postgres://u:***@127.0.0.1",
        ),
        (
            "postgres://u:hunter2@%2Fnonexistent%2Fdir/db".to_string(),
            "cannot connect to PostgreSQL",
        ),
    ];
    for (text, expected) in cases {
        let url: DatabaseUrl = text.parse().expect("url parses");
        let err = Db::open(&url).expect_err("no server");
        let shown = err.to_string();
        assert!(shown.contains(expected), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(err.is_bad_location(), "{shown}");
    }
    if let Some(server) = postgres::server() {
        let url: DatabaseUrl = server.url("no_such_database").parse().expect("url");
        let err = Db::open(&url).expect_err("no such database");
        assert!(err.to_string().contains("no_such_database"), "{err}");
        let url: DatabaseUrl = server.socket_url("postgres").parse().expect("url");
        let mut db = Db::open(&url).expect("the socket works");
        let rows = db.query("SELECT 'via socket'", &[]).expect("query");
        assert_eq!(rows[0].text(0).ok().as_deref(), Some("via socket"));
    }
}

#[test]
fn a_server_that_requires_tls_is_not_reached_in_plain_text() {
    let Some(server) = postgres::server() else {
        return;
    };
    // The test server speaks no TLS: `require` must fail instead of falling back.
    let url: DatabaseUrl = format!("{}?sslmode=require", server.url("postgres"))
        .parse()
        .expect("url");
    let err = Db::open(&url).expect_err("plain-text server refused");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test]
async fn opening_postgres_on_an_async_thread_is_an_error_not_a_panic() {
    let Some(server) = postgres::server() else {
        return;
    };
    let url: DatabaseUrl = server.url("postgres").parse().expect("url");
    let err = Db::open(&url).expect_err("refused on a runtime thread");
    assert!(matches!(err, DbError::AsyncThread(_)), "{err}");
    assert!(err.to_string().contains("DbHandle"), "{err}");
    // On a blocking thread of the same runtime the client works.
    let url = server.url("postgres").parse().expect("url");
    let rows = tokio::task::spawn_blocking(move || {
        let mut db = Db::open(&url)?;
        db.query("SELECT ?1", &["from spawn_blocking".into()])
    })
    .await
    .expect("task")
    .expect("the client works on a blocking thread");
    assert_eq!(rows[0].text(0).ok().as_deref(), Some("from spawn_blocking"));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsCase {
    name: String,
    /// The role to sign in as: the superuser (trusted on loopback) unless named.
    #[serde(default)]
    user: Option<String>,
    host: String,
    /// `{ca}`, `{client_cert}` and the like stand for files the test writes.
    query: String,
    /// Whether the connection that opens uses TLS (none opens when `error` is set).
    #[serde(default)]
    tls: Option<bool>,
    #[serde(default)]
    error: Option<String>,
}

type Ca = rcgen::CertifiedIssuer<'static, rcgen::KeyPair>;

fn test_ca() -> Ca {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    rcgen::CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate")
}

/// A certificate `ca` signs for the host `names` and the `common_name`,
/// and its key: both PEM.
fn leaf(ca: &Ca, names: &[&str], common_name: &str) -> (String, String) {
    use rcgen::{CertificateParams, DnType, KeyPair};
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, ca).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

/// Against a server that speaks TLS with a certificate from a private CA
/// for `localhost` only: the client trusts exactly the roots it is given
/// and the names the certificate holds, or says why it did not connect; a
/// role the server authenticates by client certificate signs in with its
/// own, and with nothing else.
#[test]
fn tls_connections_verify_the_servers_certificate() {
    let (ca, other_ca) = (test_ca(), test_ca());
    let (cert_pem, key_pem) = leaf(&ca, &["localhost"], "localhost");
    let Some(server) = postgres::tls_server(&postgres::ServerTls {
        cert_pem,
        key_pem,
        client_ca_pem: Some(ca.pem()),
    }) else {
        return;
    };
    let files = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, text).expect("written");
        path.display().to_string()
    };
    let (client_cert, client_key) = leaf(&ca, &[], postgres::CERT_USER);
    let (stranger_cert, stranger_key) = leaf(&ca, &[], "someoneelse");
    let (other_client_cert, other_client_key) = leaf(&other_ca, &[], postgres::CERT_USER);
    let substitutions = [
        ("{ca}", write("ca.pem", &ca.pem())),
        ("{other_ca}", write("other-ca.pem", &other_ca.pem())),
        ("{client_cert}", write("client.pem", &client_cert)),
        ("{client_key}", write("client.key", &client_key)),
        ("{stranger_cert}", write("stranger.pem", &stranger_cert)),
        ("{stranger_key}", write("stranger.key", &stranger_key)),
        (
            "{other_client_cert}",
            write("other-client.pem", &other_client_cert),
        ),
        (
            "{other_client_key}",
            write("other-client.key", &other_client_key),
        ),
        (
            "{missing}",
            files.path().join("missing.pem").display().to_string(),
        ),
        ("{not_pem}", write("not.pem", "not a certificate\n")),
    ];
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/db/tls_cases.json"),
    )
    .expect("tls_cases.json");
    let cases: Vec<TlsCase> = serde_json::from_str(&text).expect("cases parse");
    for case in cases {
        let mut query = case.query.clone();
        for (marker, path) in &substitutions {
            let encoded =
                percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC);
            query = query.replace(marker, &encoded.to_string());
        }
        // A URL that cannot work is refused as it is parsed (at start), before any connection.
        let opened = format!(
            "postgres://{}@{}:{}/postgres?connect_timeout=10&{query}",
            case.user.as_deref().unwrap_or(postgres::SUPERUSER),
            case.host,
            server.port
        )
        .parse::<DatabaseUrl>()
        .and_then(|url| Db::open(&url));
        match (opened, &case.error) {
            (Ok(mut db), None) => {
                let rows = db
                    .query(
                        "SELECT CASE WHEN ssl THEN 1 ELSE 0 END FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .unwrap_or_else(|err| panic!("{}: {err}", case.name));
                let ssl = rows.first().and_then(|row| row.int(0).ok());
                let expected = i64::from(case.tls.unwrap_or(true));
                assert_eq!(ssl, Some(expected), "{}: TLS in use", case.name);
            }
            (Ok(_), Some(expected)) => panic!("{}: connected, expected {expected:?}", case.name),
            (Err(err), Some(expected)) => {
                let shown = err.to_string();
                assert!(shown.contains(expected), "{}: {shown}", case.name);
                assert!(err.is_bad_location(), "{}: {shown}", case.name);
            }
            (Err(err), None) => panic!("{}: {err}", case.name),
        }
    }
}
