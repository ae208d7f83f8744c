//! Writes `crds/oidcsettings.yaml` (or the path given) from the Rust types.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds/oidcsettings.yaml"),
        PathBuf::from,
    );
    let yaml = match portcullis_operator::crd::crd_yaml() {
        Ok(yaml) => yaml,
        Err(error) => {
            eprintln!("error: cannot render the CRD: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = std::fs::write(&path, yaml) {
        eprintln!("error: cannot write {}: {error}", path.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", path.display());
    ExitCode::SUCCESS
}
