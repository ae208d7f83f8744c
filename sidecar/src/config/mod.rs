//! Loading and validating the config file, whose format is the contract
//! crate's [`SidecarConfig`].

pub mod connections;
pub mod door;
pub mod hash;
pub mod hosts;
pub mod problems;
mod secret_files;
pub mod settings;
pub mod store;

pub use door::{Door, Upstream};
pub use portcullis_contract::secret::Secret;
pub use problems::{Problem, Problems};
pub use settings::Settings;

use portcullis_contract::config::SidecarConfig;
use std::path::Path;

/// Why a config file could not be turned into settings.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file itself could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file path.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// YAML syntax or a field of the wrong type.
    #[error("config file {path} is not valid: {source}")]
    Parse {
        /// The config file path.
        path: String,
        /// The YAML error, naming line and field.
        source: serde_yaml::Error,
    },
    /// The values were read but are not usable.
    #[error("config file {path}: {problems}")]
    Invalid {
        /// The config file path.
        path: String,
        /// Every problem found.
        problems: Problems,
    },
}

/// Reads, parses and validates the config file and the secret files it names.
pub fn load(path: &Path) -> Result<Settings, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    let config = SidecarConfig::from_yaml(&text).map_err(|source| LoadError::Parse {
        path: shown.clone(),
        source,
    })?;
    let mut settings = Settings::from_config(&config, |file| std::fs::read_to_string(file))
        .map_err(|problems| LoadError::Invalid {
            path: shown,
            problems,
        })?;
    settings.config_hash = hash::config_hash(&text, &config, |file| std::fs::read(file));
    Ok(settings)
}
