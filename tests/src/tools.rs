//! Where the install scripts in `tests/tools/` cache what they build or fetch.
//!
//! The cache lives outside the clone, keyed by version, so a fresh clone and
//! every worktree reuse one build: `$PORTCULLIS_TOOLS_DIR`, else
//! `~/.cache/portcullis/tools`.

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
