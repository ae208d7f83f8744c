//! `portcullis-sidecar`: see `--help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    portcullis_sidecar::cli::run(portcullis_sidecar::cli::Cli::parse())
}
