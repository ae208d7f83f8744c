//! Writes the CRD from the Rust types to `crds/oidcsettings.yaml` and to the
//! Helm chart's copy, `charts/portcullis/crds/oidcsettings.yaml`, so the two
//! never drift (tests compare both with the types); or to the one path given.

use std::path::PathBuf;
use std::process::ExitCode;

/// Where the CRD lives in the repository, relative to this crate.
const TARGETS: [&str; 2] = [
    "../crds/oidcsettings.yaml",
    "../charts/portcullis/crds/oidcsettings.yaml",
];

fn main() -> ExitCode {
    let paths: Vec<PathBuf> = match std::env::args_os().nth(1) {
        Some(path) => vec![PathBuf::from(path)],
        None => TARGETS
            .iter()
            .map(|target| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(target))
            .collect(),
    };
    let yaml = match portcullis_operator::crd::crd_yaml() {
        Ok(yaml) => yaml,
        Err(error) => {
            eprintln!("error: cannot render the CRD: {error}");
            return ExitCode::FAILURE;
        }
    };
    for path in paths {
        if let Err(error) = std::fs::write(&path, &yaml) {
            eprintln!("error: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
