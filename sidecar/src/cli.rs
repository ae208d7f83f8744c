//! Command line: run the proxy, check a config, hash a password, make a key
//! or an enrolment code.

use crate::config::{self, LoadError};
use clap::{Parser, Subcommand};
use portcullis_contract::enrolment::{hash_enrolment_code, new_enrolment_code};
use portcullis_contract::identity_keys::generate_identity_key_line;
use portcullis_contract::session_keys::generate_key_line;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// The default of `--drain-delay-seconds`.
pub const DEFAULT_DRAIN_DELAY_SECONDS: u64 = 5;

/// Exit code for a config that cannot be used (EX_USAGE).
pub const EXIT_BAD_CONFIG: u8 = 64;

/// Portcullis sidecar: an OpenID Connect login in front of an app.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Config file to run the proxy with.
    #[arg(long, env = "PORTCULLIS_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Seconds to keep serving after SIGTERM, reported not ready, before the
    /// listener closes: long enough for the endpoint to leave the Service.
    #[arg(long, env = "PORTCULLIS_DRAIN_DELAY_SECONDS", default_value_t = DEFAULT_DRAIN_DELAY_SECONDS)]
    pub drain_delay_seconds: u64,
    /// Threads that serve requests. Unset: two, or one where the process
    /// may use only one CPU (its CPU quota included); with two, one thread
    /// is often awake to take the next request when the other is busy or
    /// asleep, which cuts the latency the sidecar adds. 1 serves everything
    /// on a single thread, in the least memory; 0 starts one per CPU, for a
    /// sidecar given several CPUs and the load to use them.
    #[arg(long, env = "PORTCULLIS_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// What to do instead of running the proxy.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Helper commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config file and the files it names; report every problem at once.
    CheckConfig {
        /// The config file.
        file: PathBuf,
    },
    /// Read a password on stdin and print its argon2id hash (for `rootAdmin.passwordHashFile`).
    HashPassword,
    /// Print a new random session key (a line for `session.keyFile`).
    GenerateKey,
    /// Print a new identity signing key (a PKCS#8 P-256 line for `signedIdentity.keyFile`).
    GenerateIdentityKey,
    /// Print a new one-time enrolment code for the backup login (first
    /// line, for the root admin) and its argon2id hash (second line, for
    /// `rootAdmin.enrolmentCodeHashFile`).
    EnrolCode,
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::CheckConfig { file }) => match config::load(&file) {
            Ok(settings) => {
                println!(
                    "{} is valid (issuer {})",
                    file.display(),
                    settings.oidc.issuer
                );
                ExitCode::SUCCESS
            }
            Err(error) => bad_config(&error),
        },
        Some(Command::HashPassword) => hash_password(),
        Some(Command::GenerateKey) => {
            println!("{}", generate_key_line());
            ExitCode::SUCCESS
        }
        Some(Command::EnrolCode) => {
            let code = new_enrolment_code();
            match hash_enrolment_code(&code) {
                Ok(hash) => {
                    println!("{code}\n{hash}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::GenerateIdentityKey) => match generate_identity_key_line() {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
        None => {
            let Some(path) = cli.config else {
                eprintln!(
                    "error: give --config FILE (or PORTCULLIS_CONFIG) to run the proxy; see --help"
                );
                return ExitCode::from(EXIT_BAD_CONFIG);
            };
            let settings = match config::load(&path) {
                Ok(settings) => settings,
                Err(error) => return bad_config(&error),
            };
            init_logging();
            match runtime(cli.worker_threads).map(|runtime| {
                let drain_delay = std::time::Duration::from_secs(cli.drain_delay_seconds);
                runtime.block_on(crate::serve::server::serve(settings, path, drain_delay))
            }) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(error)) => {
                    tracing::error!(error = %format!("{error:#}"), "the sidecar stopped with an error");
                    ExitCode::FAILURE
                }
                Err(error) => {
                    eprintln!("error: cannot start the runtime: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Threads when none are asked for: see [`Cli::worker_threads`].
const DEFAULT_WORKER_THREADS: usize = 2;

/// The runtime that serves requests, with `worker_threads` threads (see
/// [`Cli::worker_threads`]). One thread needs no work stealing between
/// threads, so it gets the runtime made for one thread.
fn runtime(worker_threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(DEFAULT_WORKER_THREADS)
    });
    let mut builder = match threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        0 => tokio::runtime::Builder::new_multi_thread(),
        threads => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads);
            builder
        }
    };
    builder.enable_all().build()
}

fn bad_config(error: &LoadError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(EXIT_BAD_CONFIG)
}

fn hash_password() -> ExitCode {
    let mut password = String::new();
    if let Err(error) = std::io::stdin().lock().read_line(&mut password) {
        eprintln!("error: cannot read the password from stdin: {error}");
        return ExitCode::FAILURE;
    }
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("error: the password on stdin is empty");
        return ExitCode::from(EXIT_BAD_CONFIG);
    }
    match portcullis_contract::password::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .fmt_fields(crate::observe::log_fields::JsonObjectFields)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
