//! Where the install scripts in `tests/tools/` cache what they build or fetch,
//! and finding a cached tool with a clear error when it is missing.
//!
//! The cache lives outside the clone, keyed by version, so a fresh clone and
//! every worktree reuse one build: `$PORTCULLIS_TOOLS_DIR`, else
//! `~/.cache/portcullis/tools`. Go-built tools are keyed by the version their
//! wrapper module's `go.mod` pins, so bumping it there is enough.

use crate::process::repo_root;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// The cache folder of one tool version, e.g. `keycloak-26.7.3`.
pub fn tool_dir(name: &str) -> PathBuf {
    tools_root().join(name)
}

/// The cache folder of all tools.
pub fn tools_root() -> PathBuf {
    std::env::var_os("PORTCULLIS_TOOLS_DIR").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/portcullis/tools")
        },
        PathBuf::from,
    )
}

/// The version of `module` required by the `go.mod` at `go_mod` (relative
/// to the repository root).
pub fn go_mod_version(go_mod: &str, module: &str) -> Result<String> {
    let path = repo_root().join(go_mod);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(module)).then(|| words.next())?
        })
        .next()
        .map(str::to_owned)
        .with_context(|| format!("no {module} version in {go_mod}"))
}

/// `dir`, if it holds every one of `files`; otherwise an error naming the
/// first missing file and what to run (`install`) to get it, so a missing
/// tool fails a test instead of skipping it.
pub fn require(dir: PathBuf, files: &[&str], install: &str) -> Result<PathBuf> {
    if let Some(missing) = files
        .iter()
        .map(|file| dir.join(file))
        .find(|path| !path.is_file())
    {
        bail!("{} is missing: {install}", missing.display());
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_go_module_versions_are_read_from_the_wrapper_modules() -> Result<()> {
        assert!(go_mod_version("tests/tools/kube/go.mod", "k8s.io/kubernetes")?.starts_with('v'));
        assert!(
            go_mod_version("tests/tools/dex/go.mod", "github.com/dexidp/dex")?.starts_with('v')
        );
        let error = go_mod_version("tests/tools/dex/go.mod", "example.com/absent")
            .expect_err("no such module");
        assert!(error.to_string().contains("example.com/absent"), "{error}");
        Ok(())
    }

    #[test]
    fn a_missing_tool_file_is_named_with_what_to_run() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("etcd"), "").expect("write");
        let error = require(
            dir.path().to_owned(),
            &["etcd", "kube-apiserver"],
            "run `make test`",
        )
        .expect_err("kube-apiserver is missing");
        let text = error.to_string();
        assert!(
            text.contains("kube-apiserver is missing: run `make test`"),
            "{text}"
        );
        assert!(require(dir.path().to_owned(), &["etcd"], "x").is_ok());
    }
}
