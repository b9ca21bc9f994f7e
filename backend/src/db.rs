//! One small, blocking database layer that SQLite and PostgreSQL share.
//!
//! Callers write one SQL text for both backends and follow these conventions:
//!
//! - Column types are `BIGINT` and `TEXT` only (SQLite maps `BIGINT` to an
//!   integer column; PostgreSQL's `INTEGER` is 32 bits and would overflow).
//!   Timestamps are RFC 3339 `TEXT` in UTC, so they sort as text.
//! - Parameters are numbered `?1`..`?N`; for PostgreSQL they are rewritten to
//!   `$1`..`$N` (outside string literals, quoted names and comments). A bare
//!   `?` is refused: its meaning differs between the two.
//! - Upserts are `INSERT … ON CONFLICT (…) DO UPDATE SET … / DO NOTHING`;
//!   never `INSERT OR REPLACE`, `AUTOINCREMENT`, `SERIAL` or `rowid`.
//! - Booleans are not stored; comparisons read back as integers 0/1 on both
//!   (`CASE WHEN … THEN 1 ELSE 0 END` when summing them), and aggregates
//!   that PostgreSQL widens (`SUM` of a `BIGINT` is `NUMERIC`) are read back
//!   as integers as long as they are whole numbers.
//! - `NULL` comparisons use `IS NOT DISTINCT FROM`, which both understand
//!   (SQLite's `IS` between two values is not PostgreSQL's).
//! - A unique-key violation is [`DbError::Conflict`] on both backends, so a
//!   caller can say "already exists" without knowing which one it talks to.
//!
//! Transactions: [`Db::transaction`] commits on `Ok` and rolls back on `Err`;
//! nested ones are savepoints. SQLite's take the file's write lock at once
//! (`BEGIN IMMEDIATE`); on PostgreSQL, [`Db::lock`] serialises work such as
//! migrations across replicas.
//!
//! Why blocking: the sync `postgres` client runs its own small runtime, which
//! tokio refuses on its async worker threads (that misuse is
//! [`DbError::AsyncThread`], not a panic). Async callers go through
//! [`DbHandle`], which owns a [`Db`] on a thread of its own; `spawn_blocking`
//! threads are fine for short work.

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// How long a PostgreSQL connection attempt may take unless the URL says otherwise
/// (`connect_timeout=`): an unreachable host must not hang start-up for minutes.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite waits this long for another process's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared PostgreSQL statements kept per connection; the set is dropped whole when full.
const STATEMENT_CACHE: usize = 128;

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, kept as written (it may hold a password:
    /// `Display` and `Debug` never show it).
    Postgres(String),
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot open SQLite database {}: {source}", path.display())]
    SqliteOpen {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("cannot set up TLS for PostgreSQL: {0}")]
    Tls(String),
    /// A unique or primary key already holds this value.
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("SQLite: {0}")]
    Sqlite(rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    #[error("SQL placeholder at byte {at}: {reason}")]
    Placeholder { at: usize, reason: &'static str },
    #[error("column {index} has type {found}, which this layer does not read (use BIGINT or TEXT)")]
    UnsupportedType { index: usize, found: String },
    #[error("column {index}: expected {expected}, found {found}")]
    ColumnType {
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("column {index} does not exist: the row has {len} columns")]
    NoColumn { index: usize, len: usize },
    #[error("{0} needs an open transaction")]
    NotInTransaction(&'static str),
    #[error(
        "PostgreSQL was called on an async runtime thread (use DbHandle, or spawn_blocking): {0}"
    )]
    AsyncThread(String),
    #[error("the database thread has stopped")]
    ThreadStopped,
    #[error("cannot start the database thread: {0}")]
    Thread(std::io::Error),
    #[error("the database work panicked: {0}")]
    Panicked(String),
}

impl DbError {
    /// The error says the database is missing, unreachable or not usable, as opposed to a
    /// failure while using a good one.
    pub fn is_bad_location(&self) -> bool {
        match self {
            DbError::BadUrl { .. }
            | DbError::SqliteOpen { .. }
            | DbError::Connect { .. }
            | DbError::Tls(_) => true,
            DbError::Sqlite(err) => matches!(
                err.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::NotADatabase
                        | rusqlite::ErrorCode::DatabaseCorrupt
                        | rusqlite::ErrorCode::CannotOpen
                )
            ),
            _ => false,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = DbError;

    /// `postgres://…` | `postgresql://…` | `sqlite:PATH` (also `sqlite://PATH`) | a plain path.
    fn from_str(text: &str) -> Result<DatabaseUrl, DbError> {
        let bad = |reason: String| DbError::BadUrl {
            url: redact(text),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("it is empty".to_string()));
        }
        if let Some(scheme) = url_scheme(trimmed) {
            let scheme = scheme.to_ascii_lowercase();
            if scheme == "postgres" || scheme == "postgresql" {
                // Checked now so a typo is reported at start-up, not at the first query.
                postgres_config(trimmed).map_err(|err| match err {
                    DbError::BadUrl { reason, .. } => bad(reason),
                    other => bad(other.to_string()),
                })?;
                return Ok(DatabaseUrl::Postgres(trimmed.to_string()));
            }
            if scheme != "sqlite" {
                return Err(bad(format!(
                    "unsupported scheme `{scheme}`: use postgres://…, postgresql://…, sqlite:PATH or a file path"
                )));
            }
        }
        if let Some(rest) = strip_prefix_ignore_case(trimmed, "sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad("sqlite: needs a file path after it".to_string()));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if looks_like_keyword_string(trimmed) {
            return Err(bad(
                "looks like a libpq `key=value` string: write it as postgres://USER@HOST:PORT/DB"
                    .to_string(),
            ));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(text)))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

impl DatabaseUrl {
    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `scheme` of `scheme://…` or `scheme:…` when the text starts with a URL scheme of two or more
/// letters (one letter would be a Windows drive).
fn url_scheme(text: &str) -> Option<&str> {
    let colon = text.find(':')?;
    let scheme = &text[..colon];
    let valid = scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let is_url = text[colon..].starts_with("://") || scheme.eq_ignore_ascii_case("sqlite");
    (valid && is_url).then_some(scheme)
}

fn looks_like_keyword_string(text: &str) -> bool {
    text.split_whitespace().next().is_some_and(|first| {
        first.split_once('=').is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
    })
}

/// The URL with any password (in the user part or a `password=` parameter) replaced by `***`.
pub fn redact(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((userinfo, hosts)) => {
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push_str(":***");
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    out.push_str(hosts);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        // A libpq `key=value` string (refused, but shown in the error).
        None => {
            let words: Vec<String> = head
                .split(' ')
                .map(|word| match word.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => word.to_string(),
                })
                .collect();
            out.push_str(&words.join(" "));
        }
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// What the PostgreSQL client needs from a URL: its own config, and the
/// files the client library does not read itself: the CA file
/// (`sslrootcert=`) and a client certificate with its key (`sslcert=`,
/// `sslkey=`) for servers that authenticate clients by certificate.
struct PostgresTarget {
    config: postgres::Config,
    root_cert: Option<PathBuf>,
    client_cert: Option<ClientCert>,
}

struct ClientCert {
    cert: PathBuf,
    key: PathBuf,
}

/// Parses a PostgreSQL URL. `sslmode=verify-ca`/`verify-full` are accepted as `require`:
/// TLS here always verifies the server's certificate (system roots, or `sslrootcert`).
fn postgres_config(url: &str) -> Result<PostgresTarget, DbError> {
    let bad = |reason: String| DbError::BadUrl {
        url: redact(url),
        reason,
    };
    let mut root_cert = None;
    let (mut client_cert, mut client_key) = (None, None);
    // The client library knows the schemes in lower case only.
    let url = match url.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => url.to_string(),
    };
    let url = url.as_str();
    let rewritten = match url.split_once('?') {
        None => url.to_string(),
        Some((head, query)) => {
            let mut kept = Vec::new();
            for pair in query.split('&').filter(|pair| !pair.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let path = || {
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .map(|decoded| PathBuf::from(decoded.as_ref()))
                        .map_err(|_| bad(format!("{key} is not UTF-8")))
                };
                match key {
                    "sslrootcert" => root_cert = Some(path()?),
                    "sslcert" => client_cert = Some(path()?),
                    "sslkey" => client_key = Some(path()?),
                    "sslmode" if value == "verify-ca" || value == "verify-full" => {
                        kept.push("sslmode=require".to_string());
                    }
                    _ => kept.push(pair.to_string()),
                }
            }
            if kept.is_empty() {
                head.to_string()
            } else {
                format!("{head}?{}", kept.join("&"))
            }
        }
    };
    let mut config: postgres::Config = rewritten
        .parse()
        .map_err(|err: postgres::Error| bad(describe_postgres(&err)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    let client_cert = match (client_cert, client_key) {
        (Some(cert), Some(key)) => Some(ClientCert { cert, key }),
        (None, None) => None,
        _ => {
            return Err(bad(
                "sslcert and sslkey go together: the certificate and its private key".to_string(),
            ));
        }
    };
    Ok(PostgresTarget {
        config,
        root_cert,
        client_cert,
    })
}

/// The client's `Display` says only "db error"; the server's message and code are in the source.
fn describe_postgres(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        return text;
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn postgres_error(err: postgres::Error) -> DbError {
    match err.code() {
        Some(code) if *code == postgres::error::SqlState::UNIQUE_VIOLATION => {
            DbError::Conflict(describe_postgres(&err))
        }
        _ => DbError::Postgres(describe_postgres(&err)),
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(err: rusqlite::Error) -> DbError {
        match &err {
            rusqlite::Error::SqliteFailure(code, _)
                if code.code == rusqlite::ErrorCode::ConstraintViolation
                    && matches!(
                        code.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
            {
                DbError::Conflict(err.to_string())
            }
            _ => DbError::Sqlite(err),
        }
    }
}

fn tls_connector(
    target: &PostgresTarget,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    match &target.root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|err| DbError::Tls(format!("sslrootcert {}: {err}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|err| {
                    DbError::Tls(format!("sslrootcert {}: {err}", path.display()))
                })?;
                roots.add(cert).map_err(|err| {
                    DbError::Tls(format!("sslrootcert {}: {err}", path.display()))
                })?;
            }
            if roots.is_empty() {
                return Err(DbError::Tls(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                )));
            }
        }
        None => {
            // Missing system roots only matter to servers that require TLS: loopback and
            // sockets work without, and a TLS server then reports an unknown issuer.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| DbError::Tls(err.to_string()))?
        .with_root_certificates(roots);
    let config = match &target.client_cert {
        None => config.with_no_client_auth(),
        Some(ClientCert { cert, key }) => {
            let file_error = |what: &str, path: &PathBuf, err: &dyn std::fmt::Display| {
                DbError::Tls(format!("{what} {}: {err}", path.display()))
            };
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|err| file_error("sslcert", cert, &err))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| file_error("sslcert", cert, &err))?;
            if chain.is_empty() {
                return Err(DbError::Tls(format!(
                    "sslcert {} holds no certificate",
                    cert.display()
                )));
            }
            let private_key = PrivateKeyDer::from_pem_file(key).map_err(|err| match err {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    DbError::Tls(format!("sslkey {} holds no private key", key.display()))
                }
                err => file_error("sslkey", key, &err),
            })?;
            config
                .with_client_auth_cert(chain, private_key)
                .map_err(|err| match err {
                    rustls::Error::InconsistentKeys(_) => DbError::Tls(format!(
                        "sslkey {} is not the private key of the certificate in sslcert {}",
                        key.display(),
                        cert.display()
                    )),
                    err => file_error("sslcert", cert, &err),
                })?
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A value passed to or read from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "integer",
            Value::Text(_) => "text",
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<&String> for Value {
    fn from(text: &String) -> Value {
        Value::Text(text.clone())
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Value {
        Value::Int(number)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(number) => ValueRef::Integer(*number),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
        }))
    }
}

fn is_text_type(ty: &Type) -> bool {
    [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::UNKNOWN,
    ]
    .contains(ty)
}

/// Sent in whatever integer width or text type PostgreSQL inferred for the parameter.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(number) => match *ty {
                Type::INT8 => number.to_sql(ty, out),
                Type::INT4 => i32::try_from(*number)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*number)?.to_sql(ty, out),
                _ if is_text_type(ty) => number.to_string().to_sql(&Type::TEXT, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Text(text) if is_text_type(ty) => text.as_str().to_sql(ty, out),
            Value::Text(_) => {
                Err(format!("text cannot be sent as {ty}: CAST the parameter").into())
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A whole-number `NUMERIC` (what PostgreSQL's `SUM(BIGINT)` returns), read as i64.
struct WholeNumeric(i64);

impl<'a> postgres::types::FromSql<'a> for WholeNumeric {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> Result<WholeNumeric, Box<dyn std::error::Error + Sync + Send>> {
        // Binary NUMERIC: ndigits, weight, sign, dscale (i16/u16 each), then base-10000 digits.
        let word = |i: usize| -> Result<i16, Box<dyn std::error::Error + Sync + Send>> {
            raw.get(i * 2..i * 2 + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "truncated NUMERIC".into())
        };
        let digits = usize::try_from(word(0)?).map_err(|_| "bad NUMERIC digit count")?;
        let weight = i64::from(word(1)?);
        let sign = word(2)? as u16;
        if sign == 0xC000 {
            return Err("NUMERIC NaN is not an integer".into());
        }
        let mut value: i64 = 0;
        for position in 0..digits {
            let digit = i64::from(word(4 + position)?);
            let exponent = weight - position as i64;
            if exponent < 0 {
                if digit != 0 {
                    return Err("NUMERIC with a fraction: CAST it to BIGINT".into());
                }
                continue;
            }
            let scale = 10_000i64
                .checked_pow(u32::try_from(exponent).map_err(|_| "NUMERIC out of range")?)
                .ok_or("NUMERIC out of BIGINT range")?;
            value = digit
                .checked_mul(scale)
                .and_then(|part| value.checked_add(part))
                .ok_or("NUMERIC out of BIGINT range")?;
        }
        Ok(WholeNumeric(if sign == 0x4000 { -value } else { value }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// One result row: values by column position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(Vec<Value>);

impl Row {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn values(&self) -> &[Value] {
        &self.0
    }

    pub fn get(&self, index: usize) -> Result<&Value, DbError> {
        self.0.get(index).ok_or(DbError::NoColumn {
            index,
            len: self.0.len(),
        })
    }

    pub fn opt_text(&self, index: usize) -> Result<Option<String>, DbError> {
        match self.get(index)? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text.clone())),
            other => Err(DbError::ColumnType {
                index,
                expected: "text",
                found: other.kind(),
            }),
        }
    }

    pub fn text(&self, index: usize) -> Result<String, DbError> {
        self.opt_text(index)?.ok_or(DbError::ColumnType {
            index,
            expected: "text",
            found: "NULL",
        })
    }

    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, DbError> {
        match self.get(index)? {
            Value::Null => Ok(None),
            Value::Int(number) => Ok(Some(*number)),
            other => Err(DbError::ColumnType {
                index,
                expected: "integer",
                found: other.kind(),
            }),
        }
    }

    pub fn int(&self, index: usize) -> Result<i64, DbError> {
        self.opt_int(index)?.ok_or(DbError::ColumnType {
            index,
            expected: "integer",
            found: "NULL",
        })
    }
}

/// Rewrites `?N` to `$N` outside string literals, quoted names and comments.
pub fn to_postgres_placeholders(sql: &str) -> Result<String, DbError> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                // A doubled quote inside is an escaped quote: the scan just re-enters the literal.
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'?' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits == 0 {
                    return Err(DbError::Placeholder {
                        at: i,
                        reason: "a bare `?`: number parameters ?1..?N",
                    });
                }
                if bytes[i + 1] == b'0' {
                    return Err(DbError::Placeholder {
                        at: i,
                        reason: "parameters are numbered from ?1",
                    });
                }
                out.push_str(&sql[copied..i]);
                out.push('$');
                copied = i + 1;
                i += 1 + digits;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    Ok(out)
}

struct Postgres {
    client: postgres::Client,
    target: PostgresTarget,
    statements: HashMap<String, postgres::Statement>,
}

enum Connection {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Postgres>),
}

/// One database connection. `Send`, not shared: give it to one thread (see [`DbHandle`]).
pub struct Db {
    connection: Connection,
    url: DatabaseUrl,
    /// Open transactions: 0 outside; nested ones are savepoints.
    depth: usize,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("url", &self.url)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

fn connect_postgres(url: &str, target: &PostgresTarget) -> Result<postgres::Client, DbError> {
    let connect_error = |reason: String| DbError::Connect {
        target: redact(url),
        reason,
    };
    let tls = tls_connector(target)?;
    match blocking(|| target.config.connect(tls)) {
        Err(DbError::Postgres(reason) | DbError::Conflict(reason)) => Err(connect_error(reason)),
        other => other,
    }
}

/// Runs one call of the sync client. It blocks on a runtime of its own, which tokio refuses
/// (with a panic) on its async worker threads: that misuse is reported as an error instead.
fn blocking<T>(call: impl FnOnce() -> Result<T, postgres::Error>) -> Result<T, DbError> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => result.map_err(postgres_error),
        Err(payload) => Err(DbError::AsyncThread(panic_text(payload.as_ref()))),
    }
}

impl Db {
    /// Opens (creating an SQLite file if needed; not its directory) or connects.
    pub fn open(url: &DatabaseUrl) -> Result<Db, DbError> {
        let connection = match url {
            DatabaseUrl::Sqlite(path) => {
                let open_error = |source| DbError::SqliteOpen {
                    path: path.clone(),
                    source,
                };
                let connection = rusqlite::Connection::open(path).map_err(open_error)?;
                // busy_timeout rides out a second process (an export, a second server).
                connection
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .map_err(open_error)?;
                Connection::Sqlite(connection)
            }
            DatabaseUrl::Postgres(text) => {
                let target = postgres_config(text)?;
                let client = connect_postgres(text, &target)?;
                Connection::Postgres(Box::new(Postgres {
                    client,
                    target,
                    statements: HashMap::new(),
                }))
            }
        };
        Ok(Db {
            connection,
            url: url.clone(),
            depth: 0,
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.connection, Connection::Postgres(_))
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The SQLite connection, for what only SQLite has (PRAGMAs); `None` on PostgreSQL.
    pub fn sqlite(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.connection {
            Connection::Sqlite(connection) => Some(connection),
            Connection::Postgres(_) => None,
        }
    }

    /// For a file many requests write to: SQLite's write-ahead log lets
    /// readers go on while a write commits, and `synchronous = NORMAL` syncs
    /// at checkpoints rather than at every commit (a commit survives a crash
    /// of the process, the last ones may not survive losing power).
    /// PostgreSQL does this on its own.
    pub fn use_write_ahead_log(&mut self) -> Result<(), DbError> {
        if let Some(connection) = self.sqlite() {
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", "NORMAL")?;
        }
        Ok(())
    }

    /// A PostgreSQL connection lost between transactions (server restart, idle cut) is opened
    /// again before the next statement; inside a transaction the loss is reported instead.
    fn postgres(&mut self) -> Result<Option<&mut Postgres>, DbError> {
        let depth = self.depth;
        let Connection::Postgres(pg) = &mut self.connection else {
            return Ok(None);
        };
        if pg.client.is_closed() && depth == 0 {
            let DatabaseUrl::Postgres(url) = &self.url else {
                return Ok(None);
            };
            pg.client = connect_postgres(url, &pg.target)?;
            pg.statements.clear();
        }
        Ok(Some(pg))
    }

    /// Runs one statement; returns the number of rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        if let Some(pg) = self.postgres()? {
            let statement = pg.prepare(sql)?;
            let params: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let client = &mut pg.client;
            return blocking(|| client.execute(&statement, &params));
        }
        let Connection::Sqlite(connection) = &self.connection else {
            return Err(DbError::ThreadStopped);
        };
        // The same SQL must mean the same on both backends.
        to_postgres_placeholders(sql)?;
        let mut statement = connection.prepare_cached(sql)?;
        let changed = statement.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(changed as u64)
    }

    /// Runs several `;`-separated statements without parameters (schema changes).
    pub fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        if let Some(pg) = self.postgres()? {
            // Prepared statements may describe tables this batch changes.
            pg.statements.clear();
        }
        self.control(sql)
    }

    /// Transaction control: like `execute_batch`, but the prepared statements stay valid.
    fn control(&mut self, sql: &str) -> Result<(), DbError> {
        if let Some(pg) = self.postgres()? {
            let client = &mut pg.client;
            return blocking(|| client.batch_execute(sql));
        }
        let Connection::Sqlite(connection) = &self.connection else {
            return Err(DbError::ThreadStopped);
        };
        connection.execute_batch(sql)?;
        Ok(())
    }

    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        if let Some(pg) = self.postgres()? {
            let statement = pg.prepare(sql)?;
            let params: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let client = &mut pg.client;
            let rows = blocking(|| client.query(&statement, &params))?;
            return rows.iter().map(postgres_row).collect();
        }
        let Connection::Sqlite(connection) = &self.connection else {
            return Err(DbError::ThreadStopped);
        };
        to_postgres_placeholders(sql)?;
        let mut statement = connection.prepare_cached(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(sqlite_row(row, columns)?);
        }
        Ok(out)
    }

    /// The first row, if any.
    pub fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs `work` in a transaction: committed on `Ok`, rolled back on `Err`. Nested calls
    /// become savepoints. On SQLite the write lock is taken at the start, so a read followed
    /// by a write never fails half-way on another process's lock.
    pub fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Db) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let savepoint = format!("consoledx_{}", self.depth);
        let begin = match (self.depth, self.is_postgres()) {
            (0, true) => "BEGIN".to_string(),
            (0, false) => "BEGIN IMMEDIATE".to_string(),
            _ => format!("SAVEPOINT {savepoint}"),
        };
        self.control(&begin)?;
        self.depth += 1;
        let outcome = work(self);
        self.depth -= 1;
        let nested = self.depth > 0;
        match outcome {
            Ok(value) => {
                let commit = if nested {
                    format!("RELEASE SAVEPOINT {savepoint}")
                } else {
                    "COMMIT".to_string()
                };
                if let Err(err) = self.control(&commit) {
                    let _ = self.rollback(nested, &savepoint);
                    return Err(err);
                }
                Ok(value)
            }
            Err(err) => {
                let _ = self.rollback(nested, &savepoint);
                Err(err)
            }
        }
    }

    /// Inside a transaction, waits for and holds until its end a lock named `name`, shared by
    /// every process and replica on this database: migrations that two servers start at once
    /// run one after the other. On PostgreSQL a transaction-level advisory lock; SQLite's
    /// transactions already hold the whole file's write lock.
    pub fn lock(&mut self, name: &str) -> Result<(), DbError> {
        if self.depth == 0 {
            return Err(DbError::NotInTransaction("Db::lock"));
        }
        if !self.is_postgres() {
            return Ok(());
        }
        // FNV-1a: a stable 64-bit key for the name, the same in every replica and version.
        let key = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        self.execute(
            "SELECT pg_advisory_xact_lock(?1)",
            &[Value::Int(key as i64)],
        )?;
        Ok(())
    }

    fn rollback(&mut self, nested: bool, savepoint: &str) -> Result<(), DbError> {
        if nested {
            self.control(&format!(
                "ROLLBACK TO SAVEPOINT {savepoint}; RELEASE SAVEPOINT {savepoint}"
            ))
        } else {
            self.rollback_all()
        }
    }

    fn rollback_all(&mut self) -> Result<(), DbError> {
        self.depth = 0;
        let in_transaction = match &self.connection {
            Connection::Sqlite(connection) => !connection.is_autocommit(),
            // ROLLBACK outside a transaction is only a warning there.
            Connection::Postgres(_) => true,
        };
        if in_transaction {
            self.control("ROLLBACK")?;
        }
        Ok(())
    }
}

impl Postgres {
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let rewritten = to_postgres_placeholders(sql)?;
        let client = &mut self.client;
        let statement = blocking(|| client.prepare(&rewritten))?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

fn sqlite_row(row: &rusqlite::Row<'_>, columns: usize) -> Result<Row, DbError> {
    use rusqlite::types::ValueRef;
    let mut values = Vec::with_capacity(columns);
    for index in 0..columns {
        values.push(match row.get_ref(index)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(number) => Value::Int(number),
            ValueRef::Text(bytes) => {
                Value::Text(String::from_utf8(bytes.to_vec()).map_err(|_| {
                    DbError::UnsupportedType {
                        index,
                        found: "text that is not UTF-8".to_string(),
                    }
                })?)
            }
            ValueRef::Real(_) => {
                return Err(DbError::UnsupportedType {
                    index,
                    found: "REAL".to_string(),
                });
            }
            ValueRef::Blob(_) => {
                return Err(DbError::UnsupportedType {
                    index,
                    found: "BLOB".to_string(),
                });
            }
        });
    }
    Ok(Row(values))
}

fn postgres_row(row: &postgres::Row) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let read_error = |err: postgres::Error| DbError::Postgres(describe_postgres(&err));
        let value = match *ty {
            Type::INT8 => row
                .try_get::<_, Option<i64>>(index)
                .map_err(read_error)?
                .into(),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(index)
                .map_err(read_error)?
                .map(i64::from)
                .into(),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(index)
                .map_err(read_error)?
                .map(i64::from)
                .into(),
            Type::OID => row
                .try_get::<_, Option<u32>>(index)
                .map_err(read_error)?
                .map(i64::from)
                .into(),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(index)
                .map_err(read_error)?
                .map(i64::from)
                .into(),
            Type::NUMERIC => row
                .try_get::<_, Option<WholeNumeric>>(index)
                .map_err(|err| DbError::UnsupportedType {
                    index,
                    found: format!("NUMERIC ({})", describe_postgres(&err)),
                })?
                .map(|n| n.0)
                .into(),
            _ if is_text_type(ty) => row
                .try_get::<_, Option<String>>(index)
                .map_err(read_error)?
                .into(),
            _ => {
                return Err(DbError::UnsupportedType {
                    index,
                    found: ty.name().to_string(),
                });
            }
        };
        values.push(value);
    }
    Ok(Row(values))
}

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// A [`Db`] on a thread of its own, for async callers: jobs run one at a time, in order.
#[derive(Clone)]
pub struct DbHandle {
    jobs: mpsc::Sender<Job>,
    is_postgres: bool,
}

impl fmt::Debug for DbHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbHandle")
            .field("is_postgres", &self.is_postgres)
            .finish_non_exhaustive()
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

/// A panic in `work` becomes an error, and no transaction is left open behind it.
fn run_guarded<T>(
    db: &mut Db,
    work: impl FnOnce(&mut Db) -> Result<T, DbError>,
) -> Result<T, DbError> {
    catch_unwind(AssertUnwindSafe(|| work(db))).unwrap_or_else(|payload| {
        let _ = db.rollback_all();
        Err(DbError::Panicked(panic_text(payload.as_ref())))
    })
}

impl DbHandle {
    /// Opens the database on a new thread and runs `migrate` there before any job; waits for
    /// both and returns their error, if any. The thread ends when the last handle is dropped
    /// and the jobs queued before are done.
    pub fn open(
        url: &DatabaseUrl,
        migrate: impl FnOnce(&mut Db) -> Result<(), DbError> + Send + 'static,
    ) -> Result<DbHandle, DbError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, opening) = mpsc::sync_channel::<Result<(), DbError>>(1);
        let url_for_thread = url.clone();
        std::thread::Builder::new()
            .name("consoledx-db".to_string())
            .spawn(move || {
                let started = catch_unwind(AssertUnwindSafe(|| {
                    let mut db = Db::open(&url_for_thread)?;
                    migrate(&mut db)?;
                    Ok(db)
                }))
                .unwrap_or_else(|payload| Err(DbError::Panicked(panic_text(payload.as_ref()))));
                let mut db = match started {
                    Ok(db) => {
                        let _ = opened.send(Ok(()));
                        db
                    }
                    Err(err) => {
                        let _ = opened.send(Err(err));
                        return;
                    }
                };
                while let Ok(job) = queue.recv() {
                    if catch_unwind(AssertUnwindSafe(|| job(&mut db))).is_err() {
                        // The job's reply was dropped with it; leave no transaction open behind.
                        let _ = db.rollback_all();
                    }
                }
            })
            .map_err(DbError::Thread)?;
        opening.recv().map_err(|_| DbError::ThreadStopped)??;
        Ok(DbHandle {
            jobs,
            is_postgres: url.is_postgres(),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.is_postgres
    }

    /// Runs `work` on the database thread after every job queued before it.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |db: &mut Db| {
            let _ = reply.send(run_guarded(db, work));
        });
        self.jobs.send(job).map_err(|_| DbError::ThreadStopped)?;
        answer.await.map_err(|_| DbError::ThreadStopped)?
    }

    /// Queues work without waiting for it, for writes a request must not wait
    /// on: it runs after everything queued before it and before everything
    /// queued after it, so a later read sees it. A failure is logged.
    pub fn submit(
        &self,
        what: &'static str,
        work: impl FnOnce(&mut Db) -> Result<(), DbError> + Send + 'static,
    ) -> Result<(), DbError> {
        let job: Job = Box::new(move |db: &mut Db| {
            if let Err(err) = run_guarded(db, work) {
                tracing::error!(%err, what, "queued database work failed");
            }
        });
        self.jobs.send(job).map_err(|_| DbError::ThreadStopped)
    }

    /// The blocking twin of [`DbHandle::run`], for threads outside any async runtime.
    pub fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |db: &mut Db| {
            let _ = reply.send(run_guarded(db, work));
        });
        self.jobs.send(job).map_err(|_| DbError::ThreadStopped)?;
        answer.recv().map_err(|_| DbError::ThreadStopped)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_outside_literals_are_rewritten() {
        let cases = [
            ("SELECT ?1, ?12", "SELECT $1, $12"),
            ("SELECT '?1', \"a?2\", ?3", "SELECT '?1', \"a?2\", $3"),
            ("SELECT 'it''s ?1', ?2", "SELECT 'it''s ?1', $2"),
            ("SELECT ?1 -- ?2\n, ?3", "SELECT $1 -- ?2\n, $3"),
            ("SELECT /* ?1 */ ?2", "SELECT /* ?1 */ $2"),
            ("SELECT 'unterminated ?1", "SELECT 'unterminated ?1"),
        ];
        for (sql, expected) in cases {
            assert_eq!(
                to_postgres_placeholders(sql).ok().as_deref(),
                Some(expected),
                "{sql}"
            );
        }
        for bad in ["SELECT ?", "SELECT ?0", "SELECT ?a"] {
            assert!(
                matches!(
                    to_postgres_placeholders(bad),
                    Err(DbError::Placeholder { .. })
                ),
                "{bad}"
            );
        }
    }
}
