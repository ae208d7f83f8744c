//! A browser stand-in: a cookie jar, redirects followed one by one, forms posted.

use anyhow::{Context, Result, bail};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{Response, StatusCode};
use std::sync::Arc;
use url::Url;

/// Most redirects followed in a row.
const MAX_REDIRECTS: usize = 20;

/// One browser with its own cookies.
pub struct Browser {
    client: reqwest::Client,
    /// Its cookie jar.
    pub jar: Arc<Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        Self::built(reqwest::Client::builder()).expect("http client")
    }

    /// A browser that also trusts the CA of `ca_pem`, as the devices of a
    /// company whose provider it signed do.
    pub fn trusting(ca_pem: &str) -> Result<Self> {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
        Self::built(reqwest::Client::builder().add_root_certificate(ca))
    }

    fn built(builder: reqwest::ClientBuilder) -> Result<Self> {
        let jar = Arc::new(Jar::default());
        let client = builder
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client, jar })
    }

    /// The underlying client (cookies included, no redirects).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A page view: GET that accepts HTML.
    pub async fn open(&self, url: &str) -> Result<Response> {
        Ok(self
            .client
            .get(url)
            .header(ACCEPT, "text/html,*/*;q=0.8")
            .send()
            .await?)
    }

    /// Follows redirects from `url` until one points where `stop` says (not fetched),
    /// or a response is not a redirect. Returns the URL reached and, if fetched, its response.
    pub async fn follow_until(
        &self,
        url: Url,
        stop: impl Fn(&Url) -> bool,
    ) -> Result<(Url, Option<Response>)> {
        let mut current = url;
        for _ in 0..MAX_REDIRECTS {
            if stop(&current) {
                return Ok((current, None));
            }
            let response = self.open(current.as_str()).await?;
            match location(&current, &response)? {
                Some(next) => current = next,
                None => return Ok((current, Some(response))),
            }
        }
        bail!("more than {MAX_REDIRECTS} redirects from {current}")
    }

    /// Follows every redirect from `url`; returns the final URL and response.
    pub async fn follow(&self, url: Url) -> Result<(Url, Response)> {
        let (url, response) = self.follow_until(url, |_| false).await?;
        Ok((url, response.context("a final response")?))
    }

    /// Goes from `start` through the provider's login form as `login` and stops
    /// right before delivering the callback; returns the callback URL.
    pub async fn sign_in_until_callback(
        &self,
        start: &str,
        login: &str,
        password: &str,
    ) -> Result<Url> {
        let is_callback = |url: &Url| url.path() == "/auth/oidc";
        let (url, page) = self.follow_until(Url::parse(start)?, is_callback).await?;
        if is_callback(&url) {
            return Ok(url);
        }
        if !url.path().starts_with("/interaction/") {
            let status = page.map(|page| page.status());
            bail!("expected the provider's login form, got {url} ({status:?})");
        }
        let form_action = url.join(&format!("{}/login", url.path()))?;
        let response = self
            .client
            .post(form_action.clone())
            .form(&[("login", login), ("password", password)])
            .send()
            .await?;
        let Some(next) = location(&form_action, &response)? else {
            bail!(
                "login as {login} was refused by the provider: {}",
                response.status()
            );
        };
        let (url, page) = self.follow_until(next, is_callback).await?;
        if !is_callback(&url) {
            bail!(
                "expected a redirect to the callback, stopped at {url} ({:?})",
                page.map(|p| p.status())
            );
        }
        Ok(url)
    }

    /// Opens `start`, signs in as `login` and follows on to the end.
    pub async fn log_in(&self, start: &str, login: &str) -> Result<(Url, Response)> {
        let callback = self
            .sign_in_until_callback(start, login, &format!("{login}-pw"))
            .await?;
        self.follow(callback).await
    }

    /// Opens `/login?backup=1` on `base` and posts the form with these credentials.
    pub async fn backup_login(
        &self,
        base: &str,
        username: &str,
        password: &str,
    ) -> Result<Response> {
        self.backup_login_enrolling(base, username, password, "")
            .await
    }

    /// As [`Self::backup_login`], sending the one-time enrolment `code`
    /// (none when empty).
    pub async fn backup_login_enrolling(
        &self,
        base: &str,
        username: &str,
        password: &str,
        code: &str,
    ) -> Result<Response> {
        let form = self
            .open(&format!("{base}/login?backup=1"))
            .await?
            .text()
            .await?;
        let csrf = form_token(&form).context("the backup form has a CSRF token")?;
        Ok(self
            .client
            .post(format!("{base}/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf", &csrf),
                ("rd", "/"),
                ("enrolment", code),
            ])
            .send()
            .await?)
    }

    /// Opens `/logout` on `base` and confirms it.
    pub async fn log_out(&self, base: &str) -> Result<Response> {
        let page = self.open(&format!("{base}/logout")).await?.text().await?;
        let csrf = form_token(&page).context("the log-out form has a CSRF token")?;
        Ok(self
            .client
            .post(format!("{base}/logout"))
            .form(&[("csrf", &csrf)])
            .send()
            .await?)
    }

    /// Ends this browser's session at the provider `issuer` itself, as a
    /// user does on the provider's sign-out page (not through the
    /// sidecar): the confirmation form, answered yes. The provider then
    /// posts its logout tokens before it answers.
    pub async fn end_session_at_provider(&self, issuer: &str) -> Result<Response> {
        let start = Url::parse(&format!("{issuer}/session/end"))?;
        let (at, page) = self.follow(start).await?;
        let page = page.text().await?;
        let field = |pattern: &str| {
            regex_lite::Regex::new(pattern)
                .ok()
                .and_then(|found| found.captures(&page).map(|found| found[1].to_owned()))
        };
        let xsrf = field(r#"name="xsrf" value="([^"]+)""#)
            .context("the provider's sign-out form has an xsrf field")?;
        let action = field(r#"action="([^"]+)""#).context("the sign-out form has an action")?;
        Ok(self
            .client
            .post(at.join(&action)?)
            .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
            .send()
            .await?)
    }

    /// The `Cookie` header this browser would send to `url`.
    pub fn cookies_for(&self, url: &str) -> Option<String> {
        let url = Url::parse(url).ok()?;
        self.jar
            .cookies(&url)
            .and_then(|value| value.to_str().ok().map(str::to_owned))
    }
}

/// The absolute target of a redirect response, if it is one.
pub fn location(base: &Url, response: &Response) -> Result<Option<Url>> {
    if !response.status().is_redirection() || response.status() == StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    let target = response
        .headers()
        .get(LOCATION)
        .context("redirect without Location")?
        .to_str()?;
    Ok(Some(base.join(target)?))
}

/// The value of the hidden `csrf` field in a page.
pub fn form_token(page: &str) -> Option<String> {
    let pattern = regex_lite::Regex::new(r#"name="csrf" value="([^"]+)""#).ok()?;
    pattern.captures(page).map(|found| found[1].to_owned())
}
