//! Live settings: the config file and the secret files it names are watched,
//! re-validated and swapped in whole for new requests.
//!
//! Kubernetes updates a mounted ConfigMap or Secret by writing a new
//! timestamped folder and renaming the `..data` symlink over the old one, so
//! the watch is on the folders that hold the files, not on the files. An
//! event there about a watched file's name or the atomic writer's `..`
//! entries (or a slow periodic check, as a safety net) compares the
//! contents with the last ones seen; a change is loaded with the same
//! validation as at start-up. Events about other files in those folders
//! are ignored: a config beside busy log files would otherwise be read and
//! parsed again several times a second. Files are read off the threads that
//! serve requests. A refused file is logged and counted, and the
//! last good settings keep serving. Sessions are untouched: the session keys
//! and their rotation decide which cookies open, not the reload.

use crate::config;
use crate::observe::metrics::ReloadResult;
use crate::runtime::state::{AppState, provider_http_client};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use portcullis_contract::config::SidecarConfig;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// Wait after an event so a burst of writes becomes one reload.
const SETTLE: Duration = Duration::from_millis(200);
/// Check the files this often even without events.
const SAFETY_NET: Duration = Duration::from_secs(30);

/// The files a config depends on: itself and the secret files it names.
pub fn watched_files(config_path: &Path, config: Option<&SidecarConfig>) -> Vec<PathBuf> {
    let mut files = vec![config_path.to_path_buf()];
    if let Some(config) = config {
        files.extend(config.secret_files().into_iter().map(Path::to_path_buf));
    }
    files.retain(|file| !file.as_os_str().is_empty());
    files
}

/// A fingerprint of the config and its files' contents (missing files count too).
fn fingerprint(config_path: &Path) -> (u64, Vec<PathBuf>) {
    let text = std::fs::read_to_string(config_path).ok();
    let parsed = text
        .as_deref()
        .and_then(|text| SidecarConfig::from_yaml(text).ok());
    let files = watched_files(config_path, parsed.as_ref());
    let mut hasher = DefaultHasher::new();
    for file in &files {
        file.hash(&mut hasher);
        std::fs::read(file).ok().hash(&mut hasher);
    }
    (hasher.finish(), files)
}

/// True when an event about `path` may change a watched file: it names one
/// of them, or an entry of Kubernetes' atomic writer (`..data`,
/// `..data_tmp`, the timestamped folders), through which a mounted file's
/// symlink points at its new contents.
pub fn concerns_watched(path: &Path, names: &BTreeSet<OsString>) -> bool {
    path.file_name()
        .is_some_and(|name| names.contains(name) || name.as_encoded_bytes().starts_with(b".."))
}

/// True when `event` may have changed a watched file. An error, or an event
/// that names no file (an overflowed queue asks for a rescan that way),
/// may hide a change, so those count too.
pub fn may_change_watched(
    event: &notify::Result<notify::Event>,
    names: &BTreeSet<OsString>,
) -> bool {
    match event {
        Err(_) => true,
        Ok(event) => {
            event.need_rescan()
                || event.paths.is_empty()
                || event.paths.iter().any(|path| concerns_watched(path, names))
        }
    }
}

fn file_names(files: &[PathBuf]) -> BTreeSet<OsString> {
    files
        .iter()
        .filter_map(|file| file.file_name())
        .map(OsString::from)
        .collect()
}

/// Watches `config_path` and its files and reloads `state.settings` on change; runs forever.
pub async fn watch(state: Arc<AppState>, config_path: PathBuf) {
    let changed = Arc::new(Notify::new());
    let signal = changed.clone();
    let names = Arc::new(Mutex::new(BTreeSet::new()));
    let event_names = names.clone();
    let on_event = move |event: notify::Result<notify::Event>| {
        let names = event_names.lock().unwrap_or_else(PoisonError::into_inner);
        if may_change_watched(&event, &names) {
            signal.notify_one();
        }
    };
    let mut watcher = match notify::recommended_watcher(on_event) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(%error, "cannot watch files; checking for config changes every 30 s instead");
            None
        }
    };
    let (mut last, files) = fingerprint_off_thread(&config_path).await;
    let mut watched = BTreeSet::new();
    *names.lock().unwrap_or_else(PoisonError::into_inner) = file_names(&files);
    watch_folders(watcher.as_mut(), &files, &mut watched);
    loop {
        tokio::select! {
            () = changed.notified() => tokio::time::sleep(SETTLE).await,
            () = tokio::time::sleep(SAFETY_NET) => {}
        }
        let (now, files) = fingerprint_off_thread(&config_path).await;
        *names.lock().unwrap_or_else(PoisonError::into_inner) = file_names(&files);
        watch_folders(watcher.as_mut(), &files, &mut watched);
        if now == last {
            continue;
        }
        last = now;
        let (state, path) = (state.clone(), config_path.clone());
        if tokio::task::spawn_blocking(move || reload(&state, &path))
            .await
            .is_err()
        {
            tracing::error!(
                "reading the new settings failed; still serving the last good settings"
            );
        }
    }
}

/// [`fingerprint`] on the blocking pool: it reads and parses files.
async fn fingerprint_off_thread(config_path: &Path) -> (u64, Vec<PathBuf>) {
    let path = config_path.to_path_buf();
    tokio::task::spawn_blocking(move || fingerprint(&path))
        .await
        .unwrap_or_else(|_| (0, vec![config_path.to_path_buf()]))
}

fn watch_folders(
    watcher: Option<&mut RecommendedWatcher>,
    files: &[PathBuf],
    watched: &mut BTreeSet<PathBuf>,
) {
    let Some(watcher) = watcher else { return };
    for folder in files.iter().filter_map(|file| file.parent()) {
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        if watched.contains(folder) {
            continue;
        }
        match watcher.watch(folder, RecursiveMode::NonRecursive) {
            Ok(()) => {
                watched.insert(folder.to_path_buf());
            }
            Err(error) => tracing::warn!(folder = %folder.display(), %error, "cannot watch folder"),
        }
    }
}

/// Loads the config again and swaps it in, or keeps the current settings.
pub fn reload(state: &AppState, config_path: &Path) {
    match config::load(config_path) {
        Ok(settings) => {
            let current = state.settings.load();
            if settings.listen != current.listen
                || settings.admin_listen != current.admin_listen
                || settings.grpc_listen != current.grpc_listen
            {
                tracing::warn!("listen addresses changed; they take effect after a restart");
            }
            reconfigure_store(state, &settings);
            if settings.oidc.ca_certificates != current.oidc.ca_certificates {
                match provider_http_client(&settings.oidc.ca_certificates) {
                    Ok(http) => state.provider.use_http(http),
                    Err(error) => {
                        tracing::warn!(%error, "the provider's new CA bundle was not taken; calls keep the last one");
                    }
                }
            }
            state.settings.store(Arc::new(settings));
            state.metrics.reload(ReloadResult::Applied);
            tracing::info!(config = %config_path.display(), "settings reloaded");
        }
        Err(error) => {
            state.metrics.reload(ReloadResult::Refused);
            tracing::warn!(%error, "new settings refused; still serving the last good settings");
        }
    }
}

/// Takes the session store's new settings (a rotated password, a new
/// address) at once; adding or removing the store takes a restart.
fn reconfigure_store(state: &AppState, settings: &crate::config::Settings) {
    match (&state.store, &settings.session.store) {
        (Some(store), Some(new)) => {
            if let Err(error) = store.reconfigure(new) {
                tracing::warn!(%error, "the session store keeps its last good settings");
            }
        }
        (None, None) => {}
        _ => tracing::warn!(
            "the session store was added or removed; that takes effect after a restart"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_events_about_watched_files_or_the_atomic_writer_count() {
        let names = file_names(&[PathBuf::from("/c/sidecar.yaml"), PathBuf::from("/s/keys")]);
        for path in [
            "/c/sidecar.yaml",
            "/s/keys",
            "/s/..data",
            "/s/..data_tmp",
            "/s/..2026_11_29_17_00_00.123",
        ] {
            assert!(concerns_watched(Path::new(path), &names), "{path}");
        }
        for path in [
            "/c/sidecar.log",
            "/c/.sidecar.yaml.swp",
            "/s/keys.bak",
            "/c",
        ] {
            assert!(!concerns_watched(Path::new(path), &names), "{path}");
        }
    }

    #[test]
    fn an_overflow_an_error_or_an_event_without_files_may_hide_a_change() {
        use notify::event::{Event, EventKind, Flag, ModifyKind};
        let names = file_names(&[PathBuf::from("/c/sidecar.yaml")]);
        let about = |path: &str| {
            Ok(Event::new(EventKind::Modify(ModifyKind::Any)).add_path(PathBuf::from(path)))
        };
        assert!(may_change_watched(&about("/c/sidecar.yaml"), &names));
        assert!(!may_change_watched(&about("/c/sidecar.log"), &names));
        let overflow = Ok(Event::new(EventKind::Other).set_flag(Flag::Rescan));
        assert!(may_change_watched(&overflow, &names));
        let rescan = about("/c/sidecar.log").map(|event| event.set_flag(Flag::Rescan));
        assert!(may_change_watched(&rescan, &names));
        assert!(may_change_watched(&Ok(Event::new(EventKind::Any)), &names));
        let error = Err(notify::Error::generic("events lost"));
        assert!(may_change_watched(&error, &names));
    }

    #[test]
    fn the_config_and_every_secret_file_it_names_are_watched() {
        let config = SidecarConfig::from_yaml(
            "oidc: {clientSecretFile: /s/client}\nsession: {keyFile: /s/keys}\nrootAdmin: {username: r, passwordHashFile: /r/hash}\nsignedIdentity: {keyFile: /s/identity}\n",
        )
        .expect("yaml");
        let files = watched_files(Path::new("/c/sidecar.yaml"), Some(&config));
        let expected: Vec<PathBuf> = [
            "/c/sidecar.yaml",
            "/s/client",
            "/s/keys",
            "/r/hash",
            "/s/identity",
        ]
        .map(PathBuf::from)
        .to_vec();
        assert_eq!(files, expected);
        assert_eq!(
            watched_files(Path::new("c.yaml"), None),
            [PathBuf::from("c.yaml")]
        );
    }
}
