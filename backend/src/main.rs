//! `consoledx`: the backend server and the command line.
//! Exit codes: 0 success, 1 internal error, 2 bad input (one line on stderr).

mod admin_cli;

use clap::{Parser, Subcommand, ValueEnum};
use consoledx::{AppState, AwsSettings, Config, Credentials, app};
use consoledx_core::{KnowledgeBase, Redactor, Snapshot};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "consoledx",
    version,
    about = "Diagnoses AWS Management Console errors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP API the extension calls.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8787")]
        addr: SocketAddr,
        #[command(flatten)]
        storage: admin_cli::StorageArgs,
        /// Where "activate" replays the built-in dataset before a customization goes live.
        #[command(flatten)]
        gate: admin_cli::GateArgs,
        /// Endpoint for every AWS service (e.g. a moto server); the SDK's AWS_ENDPOINT_URL also works.
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        aws_endpoint_url: Option<String>,
        /// Overall time budget of the account reads behind one "Help me resolve".
        #[arg(long, default_value_t = 5000)]
        resolve_deadline_ms: u64,
        /// Time budget of each single read.
        #[arg(long, default_value_t = 2000)]
        read_timeout_ms: u64,
        /// Read the account as this (read-only) role, assumed with STS AssumeRole
        /// using the standard credential chain; reads still never exceed the signed-in user's permissions.
        #[arg(long, env = "CONSOLEDX_ASSUME_ROLE_ARN")]
        assume_role_arn: Option<String>,
        /// Read the organization's OU path and SCPs as this role in the
        /// management account (or a delegated administrator): member accounts
        /// cannot. Users then see the SCPs that deny them, also where their own
        /// account could not read them.
        #[arg(long, env = "CONSOLEDX_ORGANIZATIONS_ROLE_ARN")]
        organizations_role_arn: Option<String>,
        /// OpenAI-compatible base URL of a model that phrases errors no rule matched
        /// (e.g. http://127.0.0.1:11434/v1); off when absent.
        #[arg(long)]
        model_url: Option<String>,
        /// Model name sent with each request (required with --model-url).
        #[arg(long)]
        model_name: Option<String>,
        /// Name of the environment variable holding the model's API key (sent as a Bearer token).
        #[arg(long)]
        model_api_key_env: Option<String>,
        /// Time budget of one model call; past it the deterministic analysis is returned.
        #[arg(long, default_value_t = 4000)]
        model_timeout_ms: u64,
        /// TOML file of trusted OpenID issuers (see README, "Sign-in"); every /v1/* route then
        /// needs a valid bearer token. Without it the backend serves everyone (local use).
        #[arg(long, env = "CONSOLEDX_AUTH_CONFIG")]
        auth_config: Option<PathBuf>,
    },
    /// Analyze one error message as the extension would, without a server.
    Analyze {
        /// The console page URL the error appeared on.
        #[arg(long)]
        url: String,
        /// The error banner's text.
        #[arg(long)]
        message: String,
        /// The signed-in role as the console shows it (`ROLE/SESSION`).
        #[arg(long)]
        role: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Evaluate IAM policy logic for one request (input format: see README).
    ExplainAccess {
        #[arg(long)]
        input: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Replay validation records against a moto endpoint through the backend API and score the answers.
    #[command(args_conflicts_with_subcommands = true)]
    Eval {
        #[command(subcommand)]
        command: Option<EvalCommand>,
        /// Folder of records (`<service>/<id>.toml`), e.g. eval/records.
        dir: Option<PathBuf>,
        /// Parallel workers, each with its own moto server.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Where results.json and report.html are written.
        #[arg(long, default_value = "eval/out")]
        out: PathBuf,
        /// Summary JSON to compare with: exit 1 naming each metric that dropped.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// moto_server program started once per worker (default .venv/bin/moto_server).
        #[arg(long, conflicts_with = "endpoint")]
        moto_server: Option<PathBuf>,
        /// A running moto endpoint instead (one worker only).
        #[arg(long)]
        endpoint: Option<String>,
        /// Only the records marked `fast = true` (the CI gate's subset).
        #[arg(long)]
        fast: bool,
    },
    /// Administer subscriptions, profiles, grants and customizations (the server's database, directly).
    Admin {
        #[command(flatten)]
        storage: admin_cli::StorageArgs,
        #[command(subcommand)]
        command: admin_cli::AdminCommand,
    },
    /// Work with the votes users gave the diagnoses.
    Feedback {
        #[command(subcommand)]
        command: FeedbackCommand,
    },
}

#[derive(Subcommand, Debug)]
enum FeedbackCommand {
    /// Write every vote (diagnosis, rule, verdict, comment, versions, times) as CSV or JSON.
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The directory `consoledx serve` stores its data in.
        #[arg(long, env = "CONSOLEDX_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        /// The main database instead of the SQLite file in --data-dir: postgres://USER@HOST/DB.
        #[arg(long, env = "CONSOLEDX_DATABASE_URL")]
        database_url: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// Scaffold a record from a real error, its identifiers templated, ground truth marked for review.
    New {
        #[arg(long)]
        url: String,
        #[arg(long)]
        message: String,
        /// The signed-in role as the console shows it (`ROLE/SESSION`).
        #[arg(long, default_value = "ReadOnly/alice")]
        role: String,
        #[arg(long, default_value = "123456789012")]
        account: String,
        /// Records folder; the record goes to OUT/<service>/.
        #[arg(long, default_value = "eval/records")]
        out: PathBuf,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ExportFormat {
    Csv,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Format {
    Json,
}

/// Why the command failed; decides the exit code.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Internal(String),
    /// Metrics dropped below the baseline (exit 1, not an internal error).
    #[error("{0}")]
    Regressed(String),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = err.print();
                    return ExitCode::SUCCESS;
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    if std::env::args().nth(1).as_deref() == Some("feedback") =>
                {
                    eprintln!(
                        "consoledx: missing feedback command: export (see consoledx feedback --help)"
                    );
                    return ExitCode::from(2);
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    eprintln!(
                        "consoledx: missing command: serve, analyze, explain-access, eval, admin or feedback (see consoledx --help)"
                    );
                    return ExitCode::from(2);
                }
                _ => {}
            }
            // clap's message spans lines (reason, then the arguments); keep its first paragraph, on one line.
            let text = err.to_string();
            let reason: Vec<&str> = text
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            let reason = reason.join(" ");
            eprintln!("consoledx: {}", reason.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve {
            addr,
            storage,
            gate,
            aws_endpoint_url,
            resolve_deadline_ms,
            read_timeout_ms,
            assume_role_arn,
            organizations_role_arn,
            model_url,
            model_name,
            model_api_key_env,
            model_timeout_ms,
            auth_config,
        } => model_settings(model_url, model_name, model_api_key_env, model_timeout_ms)
            .and_then(|model| {
                Ok((
                    model,
                    read_credentials(assume_role_arn, organizations_role_arn)?,
                ))
            })
            .and_then(|(model, credentials)| {
                let auth = auth_config
                    .map(|path| consoledx::auth::AuthConfig::load(&path))
                    .transpose()
                    .map_err(|e| Failure::BadInput(e.to_string()))?;
                let aws = AwsSettings {
                    endpoint_url: aws_endpoint_url.filter(|url| !url.is_empty()),
                    credentials,
                    region: None,
                    read_timeout: Duration::from_millis(read_timeout_ms),
                    deadline: Duration::from_millis(resolve_deadline_ms),
                };
                let config = Config {
                    database_url: storage.database_url().map_err(Failure::BadInput)?,
                    region_databases: storage.region_databases().map_err(Failure::BadInput)?,
                    gate: gate.settings(),
                    model,
                    ..Config::new(storage.data_dir.clone(), aws)
                };
                serve(addr, auth, config)
            }),
        Command::Admin { storage, command } => admin(&storage, command),
        Command::Analyze {
            url,
            message,
            role,
            format: Format::Json,
        } => analyze(&url, &message, role),
        Command::ExplainAccess {
            input,
            format: Format::Json,
        } => explain_access(&input),
        Command::Feedback {
            command:
                FeedbackCommand::Export {
                    format,
                    data_dir,
                    database_url,
                    output,
                },
        } => export_feedback(
            format,
            &data_dir,
            database_url.as_deref(),
            output.as_deref(),
        ),
        Command::Eval {
            command:
                Some(EvalCommand::New {
                    url,
                    message,
                    role,
                    account,
                    out,
                }),
            ..
        } => eval_new(&url, &message, &role, &account, &out),
        Command::Eval {
            command: None,
            dir,
            workers,
            out,
            baseline,
            moto_server,
            endpoint,
            fast,
        } => eval(dir, workers, out, baseline, moto_server, endpoint, fast),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(reason)) => {
            eprintln!("consoledx: {reason}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(reason)) => {
            eprintln!("consoledx: internal error: {reason}");
            ExitCode::from(1)
        }
        Err(Failure::Regressed(reason)) => {
            eprintln!("consoledx: {reason}");
            ExitCode::from(1)
        }
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::Internal(e.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|e| Failure::Internal(format!("cannot write output: {e}")))
}

fn analyze(url: &str, message: &str, role: Option<String>) -> Result<(), Failure> {
    let parsed = url::Url::parse(url)
        .map_err(|err| Failure::BadInput(format!("bad --url {url:?}: {err}")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(Failure::BadInput(format!(
            "bad --url {url:?}: expected an https:// console URL"
        )));
    }
    if message.trim().is_empty() {
        return Err(Failure::BadInput("--message is empty".to_string()));
    }
    let kb = KnowledgeBase::builtin()
        .map_err(|e| Failure::Internal(format!("built-in knowledge: {e}")))?;
    let snapshot = Snapshot {
        url: url.to_string(),
        content: message.to_string(),
        nav_user_label: role.filter(|r| !r.trim().is_empty()),
        ..Snapshot::default()
    };
    let context = consoledx_core::interpret(&snapshot, &Redactor::default());
    print_json(&kb.analyze(&context))
}

fn explain_access(input: &std::path::Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(input)
        .map_err(|err| Failure::BadInput(format!("cannot read {}: {err}", input.display())))?;
    let query: consoledx_policy::AccessQuery = serde_json::from_str(&text).map_err(|err| {
        Failure::BadInput(format!("{}: invalid access query: {err}", input.display()))
    })?;
    let explanation = consoledx_policy::evaluate(&query)
        .map_err(|err| Failure::BadInput(format!("{}: {err}", input.display())))?;
    print_json(&explanation)
}

fn export_feedback(
    format: ExportFormat,
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    output: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let (flag, url) = match database_url.filter(|url| !url.is_empty()) {
        Some(text) => {
            let url = text
                .parse::<consoledx::db::DatabaseUrl>()
                .map_err(|err| Failure::BadInput(format!("--database-url: {err}")))?;
            (format!("--database-url {url}"), url)
        }
        None => (
            format!("--data-dir {}", data_dir.display()),
            consoledx::db::DatabaseUrl::Sqlite(data_dir.join(consoledx::store::DATABASE_FILE)),
        ),
    };
    let rows = consoledx::store::export_feedback_url(&url).map_err(|err| {
        if err.is_bad_location() {
            Failure::BadInput(format!("{flag}: {err}"))
        } else {
            Failure::Internal(err.to_string())
        }
    })?;
    let bytes = match format {
        ExportFormat::Json => {
            let mut text = serde_json::to_string_pretty(&rows)
                .map_err(|e| Failure::Internal(e.to_string()))?;
            text.push('\n');
            text.into_bytes()
        }
        ExportFormat::Csv => {
            // Headers come from the row's fields; written even when there are no rows.
            let mut writer = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            let internal = |e: csv::Error| Failure::Internal(format!("writing CSV: {e}"));
            writer
                .write_record(consoledx::store::FEEDBACK_COLUMNS)
                .map_err(internal)?;
            for row in &rows {
                writer.serialize(row).map_err(internal)?;
            }
            writer
                .into_inner()
                .map_err(|e| Failure::Internal(format!("writing CSV: {e}")))?
        }
    };
    match output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|err| Failure::BadInput(format!("cannot write {}: {err}", path.display()))),
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|e| Failure::Internal(format!("cannot write output: {e}"))),
    }
}

fn eval_failure(err: consoledx::eval::EvalError) -> Failure {
    use consoledx::eval::EvalError;
    match err {
        EvalError::Record(err) => Failure::BadInput(err.to_string()),
        EvalError::BadInput(reason) => Failure::BadInput(reason),
        EvalError::Internal(reason) => Failure::Internal(reason),
    }
}

fn eval(
    dir: Option<PathBuf>,
    workers: usize,
    out: PathBuf,
    baseline: Option<PathBuf>,
    moto_server: Option<PathBuf>,
    endpoint: Option<String>,
    fast: bool,
) -> Result<(), Failure> {
    use consoledx::eval::{Endpoint, Options, evaluate};
    let dir = dir.ok_or_else(|| {
        Failure::BadInput("eval needs a records folder (e.g. eval/records) or `new`".to_string())
    })?;
    let endpoint = match endpoint.filter(|e| !e.is_empty()) {
        Some(url) => Endpoint::Url(url),
        None => Endpoint::MotoServer(
            moto_server.unwrap_or_else(|| PathBuf::from(".venv/bin/moto_server")),
        ),
    };
    let options = Options {
        dir,
        workers,
        out: Some(out.clone()),
        baseline,
        endpoint,
        fast_only: fast,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start runtime: {e}")))?;
    let outcome = runtime.block_on(evaluate(&options)).map_err(eval_failure)?;
    let summary = &outcome.results.summary;
    print_json(&serde_json::json!({
        "summary": summary,
        "workers": outcome.results.workers,
        "wall_seconds": outcome.results.wall_seconds,
        "report": out.join("report.html"),
    }))?;
    if !outcome.regressions.is_empty() {
        return Err(Failure::Regressed(format!(
            "metrics dropped below the baseline: {}",
            outcome.regressions.join("; ")
        )));
    }
    Ok(())
}

fn eval_new(
    url: &str,
    message: &str,
    role: &str,
    account: &str,
    out: &std::path::Path,
) -> Result<(), Failure> {
    let parsed = url::Url::parse(url)
        .map_err(|err| Failure::BadInput(format!("bad --url {url:?}: {err}")))?;
    if parsed.scheme() != "https" {
        return Err(Failure::BadInput(format!(
            "bad --url {url:?}: expected an https:// console URL"
        )));
    }
    let path = consoledx::eval::scaffold(url, message, role, account, out).map_err(eval_failure)?;
    println!("{}", path.display());
    Ok(())
}

/// The backend's read credentials: the standard chain, or a role assumed with
/// it; Organizations optionally through a role in the management account.
fn read_credentials(
    assume_role_arn: Option<String>,
    organizations_role_arn: Option<String>,
) -> Result<Credentials, Failure> {
    let account = match assume_role_arn.filter(|arn| !arn.is_empty()) {
        None => Credentials::DefaultChain,
        Some(role_arn) => assumed_role("--assume-role-arn", role_arn)?,
    };
    match organizations_role_arn.filter(|arn| !arn.is_empty()) {
        None => Ok(account),
        Some(role_arn) => Ok(Credentials::WithOrganizations {
            account: Box::new(account),
            organizations: Box::new(assumed_role("--organizations-role-arn", role_arn)?),
        }),
    }
}

fn assumed_role(flag: &str, role_arn: String) -> Result<Credentials, Failure> {
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len();
    if !well_formed {
        return Err(Failure::BadInput(format!(
            "{flag} {role_arn}: expected a role ARN like arn:aws:iam::123456789012:role/consoledx-read"
        )));
    }
    Ok(Credentials::AssumeRole {
        role_arn,
        session_name: "consoledx".to_string(),
        source: Box::new(Credentials::DefaultChain),
    })
}

/// The model flags, checked: a URL needs a name, a named key variable must be set.
fn model_settings(
    url: Option<String>,
    name: Option<String>,
    api_key_env: Option<String>,
    timeout_ms: u64,
) -> Result<Option<consoledx::ModelSettings>, Failure> {
    let Some(base_url) = url.filter(|url| !url.trim().is_empty()) else {
        if name.is_some() || api_key_env.is_some() {
            return Err(Failure::BadInput(
                "--model-name and --model-api-key-env need --model-url".to_string(),
            ));
        }
        return Ok(None);
    };
    let model = name
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| Failure::BadInput("--model-url needs --model-name".to_string()))?;
    if timeout_ms == 0 {
        return Err(Failure::BadInput(
            "--model-timeout-ms must be above 0".to_string(),
        ));
    }
    let api_key = match api_key_env {
        None => None,
        Some(variable) => match std::env::var(&variable) {
            Ok(key) if !key.trim().is_empty() => Some(key),
            _ => {
                return Err(Failure::BadInput(format!(
                    "--model-api-key-env {variable}: that environment variable is not set"
                )));
            }
        },
    };
    let settings = consoledx::ModelSettings {
        base_url,
        model,
        api_key,
        timeout: Duration::from_millis(timeout_ms),
    };
    // Checked here so a bad URL is a bad-input exit, not a start-up failure.
    consoledx::ModelClient::new(&settings).map_err(|e| Failure::BadInput(e.to_string()))?;
    Ok(Some(settings))
}

fn admin(
    storage: &admin_cli::StorageArgs,
    command: admin_cli::AdminCommand,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start runtime: {e}")))?;
    match runtime.block_on(admin_cli::run(storage, command)) {
        Ok(value) => print_json(&value),
        Err(admin_cli::AdminFailure::BadInput(reason)) => Err(Failure::BadInput(reason)),
        Err(admin_cli::AdminFailure::Internal(reason)) => Err(Failure::Internal(reason)),
    }
}

fn serve(
    addr: SocketAddr,
    auth: Option<consoledx::auth::AuthConfig>,
    config: Config,
) -> Result<(), Failure> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start runtime: {e}")))?;
    runtime.block_on(async move {
        let mut state = AppState::open(&config).await.map_err(|e| {
            if e.is_bad_location() {
                Failure::BadInput(e.to_string())
            } else {
                Failure::Internal(e.to_string())
            }
        })?;
        if let Some(auth) = auth {
            state = state.with_authenticator(consoledx::auth::Authenticator::new(auth));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::Internal(format!("cannot listen on {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| Failure::Internal(format!("cannot read the bound address: {e}")))?;
        {
            let mut stdout = std::io::stdout().lock();
            // The e2e harness waits for exactly this line.
            let _ = writeln!(stdout, "consoledx listening on http://{local}");
            let _ = stdout.flush();
        }
        axum::serve(listener, app(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| Failure::Internal(format!("server failed: {e}")))
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
