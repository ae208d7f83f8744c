//! A real browser: Debian's headless Chromium, driven by `chromedriver` over
//! the W3C WebDriver protocol.
//!
//! [`crate::browser::Browser`] proves the protocol with an HTTP client, but it
//! applies cookie rules the way reqwest does. Only a real browser shows that
//! `SameSite=Lax` cookies survive the redirects through the provider, that
//! `HttpOnly` keeps them from scripts, and that the plain HTML forms submit.
//!
//! The client is deliberately small (plain JSON over `reqwest`, one session per
//! [`Chromium`]) so it needs no WebDriver crate. Every wait is bounded by
//! [`WAIT`]. On drop the session is deleted, so Chromium quits; Chromium's
//! processes that are still there after that are killed by their ids (they
//! outlive a killed `chromedriver`), then the driver is. The driver stays in
//! the test's process group, so Ctrl-C stops it too. Everything Chromium
//! writes, crash-report folders included, goes to one temporary folder that
//! is removed once its writers are gone.
//!
//! `chromedriver` listens on loopback only: that is its default when
//! `--allowed-ips` is absent. Passing `--allowed-ips=` (even empty) makes it
//! listen on every interface and accept anyone, so it is never passed.

use crate::process::free_port;
use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
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
/// The key of an element reference in W3C WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

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

/// A headless Chromium with a fresh profile; quits on drop.
pub struct Chromium {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session_url: String,
    driver_port: u16,
    session_id: String,
    driver: Child,
    /// Chromium's profile and config folders; removed after the processes
    /// are gone.
    home: Option<tempfile::TempDir>,
}

/// One element of the current page.
pub struct Element<'a> {
    browser: &'a Chromium,
    id: String,
}

impl Chromium {
    /// Starts `chromedriver` on a free loopback port and opens a session.
    ///
    /// Fails, never skips, when the packages are not installed.
    pub async fn start() -> Result<Self> {
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
        let driver_port = free_port();
        let driver = Command::new(CHROMEDRIVER)
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
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(WAIT + Duration::from_secs(10))
            .build()?;
        let base = format!("http://127.0.0.1:{driver_port}");
        // Until the session is open, `guard` kills the driver if anything fails.
        let mut guard = DriverGuard(Some(driver));
        wait_until_driver_ready(&http, &base, &mut guard).await?;

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| (*arg).to_owned()).collect();
        let profile = home.path().join("profile");
        args.push(format!("--user-data-dir={}", profile.display()));
        let wait_ms = u64::try_from(WAIT.as_millis())?;
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "implicit": 0, "pageLoad": wait_ms, "script": wait_ms },
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                }
            }
        });
        let answer = send(
            &http,
            Method::POST,
            &format!("{base}/session"),
            Some(capabilities),
        )
        .await
        .context("chromedriver could not start Chromium")?;
        let session_id = answer["sessionId"]
            .as_str()
            .context("new session answer without sessionId")?
            .to_owned();
        let driver = guard.0.take().context("driver guard")?;
        Ok(Self {
            http,
            session_url: format!("{base}/session/{session_id}"),
            driver_port,
            session_id,
            driver,
            home: Some(home),
        })
    }

    /// Sends one command of this session; `path` starts with `/` or is empty.
    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        send(
            &self.http,
            method,
            &format!("{}{path}", self.session_url),
            body,
        )
        .await
    }

    /// Navigates to `url` and waits for the page (and its redirects) to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.command(Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .with_context(|| format!("navigate to {url}"))?;
        Ok(())
    }

    /// The URL of the current page.
    pub async fn current_url(&self) -> Result<Url> {
        let value = self.command(Method::GET, "/url", None).await?;
        Ok(Url::parse(value.as_str().context("URL is not a string")?)?)
    }

    /// The current page's HTML as the browser sees it now.
    pub async fn source(&self) -> Result<String> {
        let value = self.command(Method::GET, "/source", None).await?;
        Ok(value.as_str().context("source is not a string")?.to_owned())
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    /// A returned promise is awaited.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.command(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
        .with_context(|| format!("execute `{script}`"))
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

    /// The cookies the browser would send to the current page, with their
    /// attributes as it stored them (`httpOnly`, `sameSite`, ...).
    pub async fn cookies(&self) -> Result<Vec<Value>> {
        let value = self.command(Method::GET, "/cookie", None).await?;
        Ok(value.as_array().context("cookies are not a list")?.clone())
    }

    /// Waits until an element matches the CSS `selector`; returns the first.
    pub async fn find(&self, selector: &str) -> Result<Element<'_>> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let body = json!({ "using": "css selector", "value": selector });
        loop {
            match self
                .command(Method::POST, "/element", Some(body.clone()))
                .await
            {
                Ok(found) => {
                    let id = found[ELEMENT_KEY]
                        .as_str()
                        .context("element answer without a reference")?
                        .to_owned();
                    return Ok(Element { browser: self, id });
                }
                Err(error)
                    if is_no_such_element(&error) && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(POLL).await;
                }
                Err(error) => {
                    let url = self.current_url().await.map(String::from);
                    let page = self.source().await.unwrap_or_default();
                    return Err(error.context(format!(
                        "no `{selector}` within {WAIT:?} on {url:?}; page:\n{page}"
                    )));
                }
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

    /// The visible text of the page's `<body>`.
    pub async fn body_text(&self) -> Result<String> {
        self.find("body").await?.text().await
    }
}

impl Element<'_> {
    async fn command(&self, method: Method, action: &str, body: Option<Value>) -> Result<Value> {
        self.browser
            .command(method, &format!("/element/{}{action}", self.id), body)
            .await
    }

    /// Empties a text field.
    pub async fn clear(&self) -> Result<()> {
        self.command(Method::POST, "/clear", Some(json!({})))
            .await?;
        Ok(())
    }

    /// Types `text` into the element.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.command(Method::POST, "/value", Some(json!({ "text": text })))
            .await?;
        Ok(())
    }

    /// Clicks the element (and waits for a page load it starts).
    pub async fn click(&self) -> Result<()> {
        self.command(Method::POST, "/click", Some(json!({})))
            .await?;
        Ok(())
    }

    /// The element's rendered text.
    pub async fn text(&self) -> Result<String> {
        let value = self.command(Method::GET, "/text", None).await?;
        Ok(value.as_str().context("text is not a string")?.to_owned())
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Drop cannot await, so the session is deleted over a plain socket:
        // chromedriver then quits Chromium and waits for it.
        let chromium = self.driver.id().map(descendants).unwrap_or_default();
        if let Err(error) = delete_session_blocking(self.driver_port, &self.session_id) {
            eprintln!("could not close the Chromium session: {error:#}");
        }
        stop(&mut self.driver, &chromium);
        if let Some(home) = self.home.take() {
            remove_when_unused(home);
        }
    }
}

/// Kills the driver while [`Chromium::start`] has not finished.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(driver) = self.0.as_mut() {
            let chromium = driver.id().map(descendants).unwrap_or_default();
            stop(driver, &chromium);
        }
    }
}

/// Gives `chromium` (the driver's descendants) a moment to exit after the
/// session was deleted, kills those still running, waits until they are
/// gone, then kills the driver.
fn stop(driver: &mut Child, chromium: &[u32]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
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

/// Polls `GET /status` until the driver says it is ready.
async fn wait_until_driver_ready(
    http: &reqwest::Client,
    base: &str,
    driver: &mut DriverGuard,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(status) = send(http, Method::GET, &format!("{base}/status"), None).await
            && status["ready"] == true
        {
            return Ok(());
        }
        if let Some(exited) = driver
            .0
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
        {
            bail!("{CHROMEDRIVER} exited at start: {exited}");
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{CHROMEDRIVER} was not ready within {WAIT:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Sends one WebDriver request; returns the answer's `value` or its error.
async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value> {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("WebDriver {method} {url}"))?;
    let status = response.status();
    let mut answer: Value = response
        .json()
        .await
        .with_context(|| format!("WebDriver {method} {url}: answer is not JSON"))?;
    let value = answer["value"].take();
    if !status.is_success() {
        let error = WebDriverError {
            error: value["error"].as_str().unwrap_or("?").to_owned(),
            message: value["message"].as_str().unwrap_or("?").to_owned(),
        };
        return Err(
            anyhow::Error::new(error).context(format!("WebDriver {method} {url}: {status}"))
        );
    }
    Ok(value)
}

/// A WebDriver error answer: its `error` code and `message`.
#[derive(Debug)]
struct WebDriverError {
    error: String,
    message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl std::error::Error for WebDriverError {}

/// True when `error` is WebDriver's "no such element" (worth waiting for).
fn is_no_such_element(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<WebDriverError>()
        .is_some_and(|error| error.error == "no such element")
}

/// `DELETE /session/<id>` with std only, bounded by [`WAIT`].
fn delete_session_blocking(port: u16, session_id: &str) -> Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(WAIT))?;
    stream.set_write_timeout(Some(WAIT))?;
    write!(
        stream,
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // The answer comes once Chromium has quit; its status line is enough.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 512];
    while !answer.windows(2).any(|pair| pair == b"\r\n") {
        let read = match stream.read(&mut chunk) {
            // Children exiting (SIGCHLD) interrupt the wait.
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        anyhow::ensure!(
            read > 0,
            "chromedriver closed the connection without an answer"
        );
        answer.extend_from_slice(&chunk[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or_default();
    anyhow::ensure!(
        status_line.starts_with("HTTP/1.1 200"),
        "DELETE session answered: {status_line}"
    );
    Ok(())
}
