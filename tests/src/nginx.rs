//! nginx in front of the echo app, asking a forward-auth sidecar before
//! each request: `examples/forward-auth/nginx.conf` (or the many-host
//! example beside it) itself, with its addresses replaced by the test's.
//!
//! Debian's `nginx-light` (built with `auth_request`) is installed by
//! `make test` (`bench/install-nginx.sh`); its service is never used: each
//! test starts its own nginx on 127.0.0.1, with a prefix folder of its own,
//! as one process (`master_process off`), so that stopping it leaves no
//! worker behind.

use crate::process::{free_port, repo_root, wait_for_http_ok_from};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use tokio::process::{Child, Command};

/// The example most tests run: one app on the public URL's host.
pub const ONE_HOST: &str = "examples/forward-auth/nginx.conf";
/// The example of one sign-in host for many app hosts.
pub const MANY_HOSTS: &str = "examples/forward-auth/nginx-many-hosts.conf";

/// A running nginx; stopped on drop.
pub struct Nginx {
    _child: Child,
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

/// The addresses the example's are replaced with.
pub struct Addresses<'a> {
    /// The port nginx listens on (127.0.0.1).
    pub port: u16,
    /// The app's `host:port`.
    pub app: &'a str,
    /// The forward-auth sidecar's `host:port`.
    pub portcullis: &'a str,
}

impl Nginx {
    /// Starts the [`ONE_HOST`] example's nginx with `addresses`; returns
    /// once it answers.
    pub async fn start(addresses: &Addresses<'_>) -> Result<Self> {
        Self::start_example(ONE_HOST, addresses).await
    }

    /// Starts the nginx of `example` (a path from the repository's root)
    /// with `addresses`; returns once it answers.
    pub async fn start_example(example: &str, addresses: &Addresses<'_>) -> Result<Self> {
        let binary = binary()?;
        let dir = tempfile::tempdir()?;
        let text = std::fs::read_to_string(repo_root().join(example))
            .with_context(|| format!("cannot read {example}"))?;
        let server = fill_in(&text, addresses)
            .with_context(|| format!("{example} no longer holds an address it is known by"))?;
        let prefix = dir.path();
        for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(prefix.join("temp").join(temp))?;
        }
        let health = free_port();
        let main = format!(
            "master_process off;\n\
             pid {prefix}/nginx.pid;\n\
             error_log {prefix}/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n\
             access_log off;\n\
             client_body_temp_path {prefix}/temp/body;\n\
             proxy_temp_path {prefix}/temp/proxy;\n\
             fastcgi_temp_path {prefix}/temp/fastcgi;\n\
             uwsgi_temp_path {prefix}/temp/uwsgi;\n\
             scgi_temp_path {prefix}/temp/scgi;\n\
             server {{ listen 127.0.0.1:{health}; location / {{ return 200; }} }}\n\
             {server}\n\
             }}\n",
            prefix = prefix.display(),
        );
        let config = prefix.join("nginx.conf");
        std::fs::write(&config, main)?;
        let mut child = Command::new(&binary)
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(&config)
            .args(["-g", "daemon off;"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        if let Err(error) =
            wait_for_http_ok_from(&format!("http://127.0.0.1:{health}/"), Some(&mut child)).await
        {
            let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default();
            bail!("{error:#}; nginx's error log:\n{log}");
        }
        Ok(Self {
            _child: child,
            _dir: dir,
            url: format!("http://127.0.0.1:{}", addresses.port),
        })
    }
}

/// The example's server blocks with the test's addresses; fails when the
/// example no longer holds the addresses it is known by.
fn fill_in(example: &str, addresses: &Addresses<'_>) -> Result<String> {
    let mut text = example.to_owned();
    for (known, replacement) in [
        (
            "server 127.0.0.1:8080;",
            format!("server {};", addresses.app),
        ),
        (
            "server 127.0.0.1:4180;",
            format!("server {};", addresses.portcullis),
        ),
        (
            "listen 80;",
            format!("listen 127.0.0.1:{};", addresses.port),
        ),
    ] {
        anyhow::ensure!(text.contains(known), "`{known}` is missing");
        text = text.replace(known, &replacement);
    }
    Ok(text)
}

/// Debian's nginx, or the one on `PATH`.
fn binary() -> Result<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.is_file() {
        return Ok(debian);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
        .context("nginx is not installed: run `make test` (it installs Debian's nginx-light)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_take_the_tests_addresses() -> Result<()> {
        for example in [ONE_HOST, MANY_HOSTS] {
            let text = std::fs::read_to_string(repo_root().join(example))?;
            let filled = fill_in(
                &text,
                &Addresses {
                    port: 41000,
                    app: "127.0.0.1:41001",
                    portcullis: "127.0.0.1:41002",
                },
            )?;
            assert!(filled.contains("listen 127.0.0.1:41000;"), "{example}");
            assert!(!filled.contains("listen 80;"), "{example}");
            assert!(filled.contains("server 127.0.0.1:41001;"), "{example}");
            assert!(filled.contains("server 127.0.0.1:41002;"), "{example}");
        }
        assert!(
            fill_in(
                "server {}",
                &Addresses {
                    port: 1,
                    app: "a",
                    portcullis: "b"
                }
            )
            .is_err()
        );
        Ok(())
    }
}
