//! A real PostgreSQL server for tests: `initdb` into a temporary directory,
//! `postgres` on a free loopback port (and a socket in that directory), one
//! fresh database per test.
//!
//! One server serves every test of a test binary. It is stopped, and its
//! directory removed, when the test process ends in any way (a panic, an
//! abort, a kill): a watchdog shell holds a pipe from the test process and
//! stops the server when that pipe closes. Dropping a `PgServer` stops it too.
//!
//! Without the binaries, tests fail with a clear message in CI (`CI` set) and
//! are skipped with a printed notice locally.

use consoledx::db::{DatabaseUrl, Db, Value};
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The server's superuser (trust authentication on loopback and the socket only).
pub const SUPERUSER: &str = "consoledx";

pub struct PgServer {
    pub port: u16,
    pub dir: PathBuf,
    bindir: PathBuf,
    run_as: Option<String>,
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
}

/// A server certificate and its private key, PEM: a server started with
/// them accepts TLS (and plain text, as `ssl = on` does). With
/// `client_ca_pem`, the role [`CERT_USER`] signs in only over TLS with a
/// client certificate from that CA whose common name is the role's.
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
    pub client_ca_pem: Option<String>,
}

/// The role that authenticates by client certificate on a server started
/// with [`ServerTls::client_ca_pem`].
pub const CERT_USER: &str = "certuser";

/// The server for this test binary, started on first use; `None` (after a printed notice)
/// when PostgreSQL is not installed and this is not CI.
pub fn server() -> Option<&'static PgServer> {
    static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
    available(SERVER.get_or_init(|| PgServer::start(None)).as_ref())
}

/// A server of its own that speaks TLS with `tls`, stopped when dropped;
/// `None` as for [`server`].
pub fn tls_server(tls: &ServerTls) -> Option<PgServer> {
    available(PgServer::start(Some(tls)))
}

fn available<S, E: std::fmt::Display>(started: Result<S, E>) -> Option<S> {
    match started {
        Ok(server) => Some(server),
        Err(reason) if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) => {
            panic!("PostgreSQL tests cannot run in CI: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED (PostgreSQL): {reason}");
            None
        }
    }
}

/// A fresh, empty database on the shared server; `None` when skipped (see [`server`]).
pub fn fresh_database() -> Option<DatabaseUrl> {
    server().map(PgServer::fresh_database)
}

fn bindir() -> Result<PathBuf, String> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BINDIR").map(PathBuf::from) {
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "PG_BINDIR={} has no initdb and pg_ctl",
                dir.display()
            ))
        };
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    // Debian keeps the server out of PATH, one directory per major version: take the newest.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).ok_or_else(|| {
        "no initdb/pg_ctl found (pg_config --bindir, /usr/lib/postgresql/*/bin): \
         install Debian's `postgresql` package (`cargo xtask setup` does)"
            .to_string()
    })
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| format!("no free loopback port: {err}"))
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl PgServer {
    /// initdb + start; PostgreSQL refuses to run as root, so root runs it as the `postgres` user.
    pub fn start(tls: Option<&ServerTls>) -> Result<PgServer, String> {
        let bindir = bindir()?;
        let is_root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let run_as = is_root.then(|| "postgres".to_string());
        let dir = tempfile::Builder::new()
            .prefix("consoledx-pg-")
            .tempdir()
            .map_err(|err| format!("temporary directory: {err}"))?
            .keep();
        let mut server = PgServer {
            port: 0,
            dir,
            bindir,
            run_as,
            watchdog: Mutex::new(None),
        };
        // Removed by the watchdog from here on, or right away below on failure.
        let result = server.init_and_start(tls).and_then(|()| {
            if tls.is_some_and(|tls| tls.client_ca_pem.is_some()) {
                server.execute_as_superuser(format!("CREATE ROLE {CERT_USER} LOGIN"))
            } else {
                Ok(())
            }
        });
        if let Err(reason) = result {
            server.stop();
            return Err(reason);
        }
        Ok(server)
    }

    fn command(&self, program: &str) -> Command {
        let binary = self.bindir.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(binary);
                command
            }
            None => Command::new(binary),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, mut command: Command, what: &str) -> Result<(), String> {
        let out = command
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("{what}: {err}"))?;
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        Err(format!(
            "{what} failed ({}): {}{}\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    fn init_and_start(&mut self, tls: Option<&ServerTls>) -> Result<(), String> {
        if let Some(user) = &self.run_as {
            let status = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&self.dir)
                .status()
                .map_err(|err| format!("chown: {err}"))?;
            if !status.success() {
                return Err(format!(
                    "running as root, the data directory must belong to `{user}`: chown failed \
                     (does the user exist? Debian's postgresql package creates it)"
                ));
            }
        }
        let mut initdb = self.command("initdb");
        initdb
            .arg("-D")
            .arg(self.data())
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ])
            .arg("--locale=C");
        self.run(initdb, "initdb")?;
        self.start_watchdog()?;
        let ssl = match tls {
            Some(tls) => self.install_tls(tls)?,
            None => String::new(),
        };
        let mut last_error = String::new();
        // A port found free can be taken before the server binds it: try another.
        for _ in 0..3 {
            self.port = free_port()?;
            let options = format!(
                "-p {} -h 127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=200{ssl}",
                self.port,
                self.dir.display()
            );
            let mut pg_ctl = self.command("pg_ctl");
            pg_ctl
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-o", &options, "-w", "-t", "60", "start"]);
            match self.run(pg_ctl, "pg_ctl start") {
                Ok(()) => return Ok(()),
                Err(reason) => last_error = reason,
            }
        }
        Err(last_error)
    }

    /// Writes the certificate and key where the server's user can read
    /// them (the key only it, as PostgreSQL demands): the `-o` options that
    /// turn TLS on.
    fn install_tls(&self, tls: &ServerTls) -> Result<String, String> {
        use std::os::unix::fs::PermissionsExt;
        let cert = self.dir.join("server.crt");
        let key = self.dir.join("server.key");
        for (path, text, mode) in [(&cert, &tls.cert_pem, 0o644), (&key, &tls.key_pem, 0o600)] {
            std::fs::write(path, text).map_err(|err| format!("{}: {err}", path.display()))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|err| format!("{}: {err}", path.display()))?;
            if let Some(user) = &self.run_as {
                let status = Command::new("chown")
                    .arg(format!("{user}:"))
                    .arg(path)
                    .status()
                    .map_err(|err| format!("chown: {err}"))?;
                if !status.success() {
                    return Err(format!("chown {} failed", path.display()));
                }
            }
        }
        let mut options = format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            cert.display(),
            key.display()
        );
        if let Some(ca_pem) = &tls.client_ca_pem {
            let ca = self.dir.join("client-ca.crt");
            std::fs::write(&ca, ca_pem).map_err(|err| format!("{}: {err}", ca.display()))?;
            options.push_str(&format!(" -c ssl_ca_file={}", ca.display()));
            // The first line that matches decides: the certificate role over
            // TLS by certificate, and never in plain text.
            let hba = self.data().join("pg_hba.conf");
            let rest =
                std::fs::read_to_string(&hba).map_err(|err| format!("pg_hba.conf: {err}"))?;
            let lines = format!(
                "hostssl all {CERT_USER} 127.0.0.1/32 cert\nhost all {CERT_USER} 127.0.0.1/32 reject\n{rest}"
            );
            std::fs::write(&hba, lines).map_err(|err| format!("pg_hba.conf: {err}"))?;
        }
        Ok(options)
    }

    /// One statement as the superuser, on a thread of its own: the sync
    /// client must not run on a tokio thread, and tests may be async.
    fn execute_as_superuser(&self, statement: String) -> Result<(), String> {
        // Plain text: a server started with TLS has a certificate this
        // client's roots do not know.
        let admin = format!("{}?sslmode=disable", self.url("postgres"));
        std::thread::spawn(move || -> Result<(), String> {
            let url: DatabaseUrl = admin.parse().map_err(|e| format!("{e}"))?;
            let mut db = Db::open(&url).map_err(|e| e.to_string())?;
            db.execute(&statement, &[] as &[Value])
                .map_err(|e| e.to_string())?;
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| Err("the statement's thread panicked".to_string()))
    }

    /// A shell that waits on a pipe from this process, then stops the server and removes its
    /// directory: the cleanup happens even when this process dies without unwinding.
    fn start_watchdog(&self) -> Result<(), String> {
        let pg_ctl = self.bindir.join("pg_ctl");
        let stop = match &self.run_as {
            Some(user) => format!(
                "runuser -u {} -- {} -D {} stop -m immediate -w",
                shell_quote(user),
                shell_quote(&pg_ctl.display().to_string()),
                shell_quote(&self.data().display().to_string())
            ),
            None => format!(
                "{} -D {} stop -m immediate -w",
                shell_quote(&pg_ctl.display().to_string()),
                shell_quote(&self.data().display().to_string())
            ),
        };
        let script = format!(
            "read _ ; {stop} >/dev/null 2>&1 ; rm -rf {}",
            shell_quote(&self.dir.display().to_string())
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("watchdog shell: {err}"))?;
        let stdin = child.stdin.take().ok_or("watchdog shell has no stdin")?;
        if let Ok(mut slot) = self.watchdog.lock() {
            *slot = Some((child, stdin));
        }
        Ok(())
    }

    /// Stops the server and removes its directory, waiting for both.
    pub fn stop(&self) {
        let watchdog = self.watchdog.lock().ok().and_then(|mut slot| slot.take());
        match watchdog {
            Some((mut child, mut stdin)) => {
                let _ = stdin.write_all(b"\n");
                drop(stdin);
                let _ = child.wait();
            }
            None => {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }

    /// A URL for `database` over TCP on loopback.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// The same server through its unix socket (the directory as `host`).
    pub fn socket_url(&self, database: &str) -> String {
        let host: String = percent_encoding::utf8_percent_encode(
            &self.dir.display().to_string(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        format!("postgres://{SUPERUSER}@{host}:{}/{database}", self.port)
    }

    /// Creates an empty database with a name no other test uses.
    pub fn fresh_database(&self) -> DatabaseUrl {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.execute_as_superuser(format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|reason| panic!("cannot create test database {name}: {reason}"));
        DatabaseUrl::Postgres(self.url(&name))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}
