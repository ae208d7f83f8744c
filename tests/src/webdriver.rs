//! A real browser: Debian's headless Chromium, driven by `chromedriver`
//! through the `fantoccini` WebDriver client.
//!
//! [`crate::browser::Browser`] proves the protocol with an HTTP client, but it
//! applies cookie rules the way reqwest does. Only a real browser shows that
//! `SameSite=Lax` cookies survive the redirects through the provider, that
//! `HttpOnly` keeps them from scripts, and that the plain HTML forms submit.
//!
//! The protocol is the library's; what stays here is the driver's process
//! lifecycle, bounded waits, and the sign-in walks every browser test takes
//! (the test provider's form, the root admin's backup form). [`Chromium`] dereferences to the session's
//! [`fantoccini::Client`]. [`Chromium::quit`] ends the session, so Chromium
//! exits; on drop, Chromium's processes that are still there (a test that
//! failed before quitting, or processes that outlive a killed `chromedriver`)
//! are killed by their ids, then the driver is. The driver stays in the
//! test's process group, so Ctrl-C stops it too. Everything Chromium writes,
//! crash-report folders included, goes to one temporary folder that is
//! removed once its writers are gone.
//!
//! `chromedriver` listens on loopback only: that is its default when
//! `--allowed-ips` is absent. Passing `--allowed-ips=` (even empty) makes it
//! listen on every interface and accept anyone, so it is never passed.

use crate::process::free_port;
use anyhow::{Context, Result, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Map, Value, json};
use std::ops::Deref;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use url::Url;

/// Debian's `chromium` package.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's `chromium-driver` package.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest any single wait may take (driver start, page load, element, URL).
pub const WAIT: Duration = Duration::from_secs(20);
/// How often a condition is polled while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Chromium's flags: headless, sandbox off (tests run as root in containers),
/// and no calls home. The machine has no outside network; without the
/// background-networking flags Chromium keeps trying and logs every refusal.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A headless Chromium with a fresh profile, driven by its own `chromedriver`.
pub struct Chromium {
    client: Client,
    driver: Driver,
}

/// The `chromedriver` process and Chromium's folder; dropping it stops both.
struct Driver {
    process: Child,
    /// Whether the session was ended, so Chromium is exiting by itself.
    quit: bool,
    /// Chromium's profile and config folders; removed after the processes
    /// are gone.
    home: Option<tempfile::TempDir>,
}

impl Chromium {
    /// Starts `chromedriver` on a free loopback port and opens a session.
    ///
    /// Fails, never skips, when the packages are not installed.
    pub async fn start() -> Result<Self> {
        Self::start_with_args(Vec::new()).await
    }

    /// [`Chromium::start`], with `names` resolved to 127.0.0.1 and nowhere
    /// else: a test's many hosts on one loopback nginx.
    pub async fn start_resolving(names: &[&str]) -> Result<Self> {
        let rules = names
            .iter()
            .map(|name| format!("MAP {name} 127.0.0.1"))
            .collect::<Vec<_>>()
            .join(", ");
        Self::start_with_args(vec![format!("--host-resolver-rules={rules}")]).await
    }

    async fn start_with_args(extra: Vec<String>) -> Result<Self> {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            anyhow::ensure!(
                Path::new(path).exists(),
                "{path} is missing: run `make test`, which installs Debian's `{package}` \
                 (or `apt-get install -y chromium chromium-driver`)"
            );
        }
        let home = tempfile::Builder::new()
            .prefix("portcullis-chromium-")
            .tempdir()?;
        let profile = home.path().join("profile");
        let driver_port = free_port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .arg("--log-level=SEVERE")
            // Chromium's crash handler ignores --user-data-dir and would
            // write to ~/.config/chromium.
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {CHROMEDRIVER}"))?;
        // From here on, dropping `driver` stops it and Chromium if anything fails.
        let mut driver = Driver {
            process,
            quit: false,
            home: Some(home),
        };
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| (*arg).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra);
        let wait_ms = u64::try_from(WAIT.as_millis())?;
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "implicit": 0, "pageLoad": wait_ms, "script": wait_ms },
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            bail!("capabilities are an object");
        };
        let url = format!("http://127.0.0.1:{driver_port}");
        let client = driver.connect(&url, capabilities).await?;
        Ok(Self { client, driver })
    }

    /// Ends the session: chromedriver quits Chromium and waits for it.
    pub async fn quit(self) -> Result<()> {
        let Self { client, mut driver } = self;
        client.close().await.context("close the Chromium session")?;
        driver.quit = true;
        Ok(())
    }

    /// Waits until an element matches the CSS `selector`; returns the first.
    pub async fn find(&self, selector: &str) -> Result<Element> {
        match self
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(selector))
            .await
        {
            Ok(element) => Ok(element),
            Err(error) => {
                let url = self.current_url().await.map(String::from);
                let page = self.source().await.unwrap_or_default();
                Err(anyhow::Error::new(error).context(format!(
                    "no `{selector}` within {WAIT:?} on {url:?}; page:\n{page}"
                )))
            }
        }
    }

    /// Waits until the current URL satisfies `done`; returns it.
    pub async fn wait_for_url(&self, what: &str, done: impl Fn(&Url) -> bool) -> Result<Url> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = self.current_url().await?;
            if done(&url) {
                return Ok(url);
            }
            if tokio::time::Instant::now() >= deadline {
                let page = self.source().await.unwrap_or_default();
                bail!("still on {url} after {WAIT:?}, expected {what}; page:\n{page}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The HTTP status of the current page's own response (not of the
    /// redirects before it), from the Navigation Timing API.
    pub async fn page_status(&self) -> Result<u16> {
        let status = self
            .execute(
                "return performance.getEntriesByType('navigation')[0].responseStatus;",
                vec![],
            )
            .await?;
        Ok(u16::try_from(
            status.as_u64().context("no response status")?,
        )?)
    }

    /// The visible text of the page's `<body>`.
    pub async fn body_text(&self) -> Result<String> {
        Ok(self.find("body").await?.text().await?)
    }

    /// The JSON document the page shows: Chromium renders a JSON answer
    /// (the echo app's) as text inside a `<pre>`.
    pub async fn json_on_page(&self) -> Result<Value> {
        let text = self.find("pre").await?.text().await?;
        serde_json::from_str(&text).with_context(|| format!("the page is not JSON: {text}"))
    }

    /// Waits for the login form of the test provider at `issuer`
    /// ([`crate::idp::Idp`]) and submits it as `login`, with the password
    /// its users have (`<login>-pw`).
    pub async fn sign_in_at_provider(&self, issuer: &str, login: &str) -> Result<()> {
        let issuer = Url::parse(issuer)?;
        self.wait_for_url("the provider's login form", |url| {
            url.origin() == issuer.origin() && url.path().starts_with("/interaction/")
        })
        .await?;
        let field = self.find("#login-form [name=login]").await?;
        field.clear().await?;
        field.send_keys(login).await?;
        self.find("#login-form [name=password]")
            .await?
            .send_keys(&format!("{login}-pw"))
            .await?;
        self.find("#login-form [type=submit]")
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Opens `/login?backup=1` on the sidecar at `base`, submits the root
    /// admin's form with these credentials and waits until the sidecar sends
    /// the browser on from `/login`.
    pub async fn backup_login(&self, base: &str, username: &str, password: &str) -> Result<()> {
        let sidecar = Url::parse(base)?;
        self.goto(&format!("{base}/login?backup=1")).await?;
        self.find("#username").await?.send_keys(username).await?;
        self.find("#password").await?.send_keys(password).await?;
        self.find("form[action='/login'] button[type=submit]")
            .await?
            .click()
            .await?;
        self.wait_for_url("the app, after the backup login", |url| {
            url.origin() == sidecar.origin() && url.path() != "/login"
        })
        .await?;
        Ok(())
    }
}

impl Deref for Chromium {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

// === impl Driver ===

impl Driver {
    /// Opens the session once the driver accepts connections, within [`WAIT`].
    async fn connect(&mut self, url: &str, capabilities: Map<String, Value>) -> Result<Client> {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match builder.connect(url).await {
                Ok(client) => return Ok(client),
                Err(error) => {
                    if let Some(exited) = self.process.try_wait()? {
                        bail!("{CHROMEDRIVER} exited at start: {exited}");
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(anyhow::Error::new(error).context(format!(
                            "chromedriver could not start Chromium within {WAIT:?}"
                        )));
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let chromium = self.process.id().map(descendants).unwrap_or_default();
        let grace = if self.quit {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        };
        stop(&mut self.process, &chromium, grace);
        if let Some(home) = self.home.take() {
            remove_when_unused(home);
        }
    }
}

/// Gives `chromium` (the driver's descendants) `grace` to exit after the
/// session was ended, kills those still running, waits until they are gone,
/// then kills the driver.
fn stop(driver: &mut Child, chromium: &[u32], grace: Duration) {
    let deadline = std::time::Instant::now() + grace;
    while chromium.iter().any(|pid| running(*pid)) && std::time::Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    let left: Vec<String> = chromium
        .iter()
        .filter(|pid| running(**pid))
        .map(u32::to_string)
        .collect();
    if !left.is_empty() {
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .args(&left)
            .stderr(Stdio::null())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while chromium.iter().any(|pid| running(*pid)) && std::time::Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }
    let _ = driver.start_kill();
}

/// Removes Chromium's folder, retrying briefly: a process that just exited
/// may have written a last file while the folder was being emptied.
fn remove_when_unused(home: tempfile::TempDir) {
    let path = home.path().to_owned();
    if home.close().is_ok() {
        return;
    }
    for _ in 0..20 {
        if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
            return;
        }
        std::thread::sleep(POLL);
    }
    eprintln!("could not remove {}", path.display());
}

/// True while process `pid` exists and is not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which is in parentheses.
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !matches!(
            state.and_then(|rest| rest.chars().next()),
            Some('Z' | 'X') | None
        )
    })
}

/// `pid`'s descendants: children first, then theirs.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut next = vec![pid];
    while let Some(parent) = next.pop() {
        for child in children_of(parent) {
            if !found.contains(&child) {
                found.push(child);
                next.push(child);
            }
        }
    }
    found
}

/// The ids of `pid`'s child processes, from `/proc/<pid>/task/*/children`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|children| {
            children
                .split_whitespace()
                .filter_map(|child| child.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}
