//! How requests reach the sidecar: as the app's reverse proxy, or as the
//! forward-auth service an ingress or proxy asks before it forwards.

use http::uri::Authority;
use std::fmt;
use url::Url;

/// The door a config opens.
#[derive(Clone, Debug)]
pub enum Door {
    /// Proxy every request the gate lets through to the app.
    Proxy(Upstream),
    /// Answer a trusted proxy's question about a request it holds (see
    /// [`crate::forward`]); there is no app behind the sidecar.
    ForwardAuth,
}

/// The app behind the reverse proxy.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// Base URL of the app (`http://host:port`).
    pub url: Url,
    /// The app's `host:port`: where to connect, and the `Host` of a request
    /// that came without one.
    pub authority: Authority,
}

impl Door {
    /// The app behind the proxy; `None` for a forward-auth service.
    pub fn upstream(&self) -> Option<&Upstream> {
        match self {
            Self::Proxy(upstream) => Some(upstream),
            Self::ForwardAuth => None,
        }
    }
}

impl fmt::Display for Door {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proxy(upstream) => write!(formatter, "proxy to {}", upstream.url),
            Self::ForwardAuth => formatter.write_str("forward-auth"),
        }
    }
}

/// The `host:port` of an `http://` URL, as the authority of a request's URI.
pub fn authority_of(url: &Url) -> Option<Authority> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Authority::try_from(format!("{host}:{port}")).ok()
}
