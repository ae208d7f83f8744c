//! What the gate reads of a request, whichever door it came through.
//!
//! Never the body, never the query for the rules, and never a header such
//! as `X-Forwarded-Uri` or `X-Original-URL` that a client could set: a door
//! that learns the original request from a trusted proxy's headers builds
//! an [`Asked`] from those, and only the door knows whom to believe.

use http::{HeaderMap, Method, Uri, header};

/// The parts of a request the gate reads.
#[derive(Clone, Copy)]
pub struct Asked<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
}

impl<'a> Asked<'a> {
    /// A request as the gate reads it: its method, its target (the path is
    /// normalised for the rules; path and query are where a sign-in returns
    /// to) and its headers (cookies, `Authorization`, `Accept`).
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            uri,
            headers,
        }
    }

    /// The parts of `request` the gate reads.
    pub fn of<B>(request: &'a http::Request<B>) -> Self {
        Self::new(request.method(), request.uri(), request.headers())
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The request's target.
    pub fn uri(&self) -> &Uri {
        self.uri
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers
    }

    /// Whether the client takes HTML (a browser, rather than a script).
    pub fn accepts_html(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    }

    /// A browser navigating to a page (as opposed to a script or API call):
    /// the one kind of request a sign-in redirect helps. A script says so
    /// with `X-Requested-With`, or the browser with a `Sec-Fetch-Mode` other
    /// than `navigate`, whatever it accepts.
    pub fn wants_page(&self) -> bool {
        let scripted = self.headers.contains_key("x-requested-with")
            || self
                .headers
                .get("sec-fetch-mode")
                .is_some_and(|mode| mode.as_bytes() != b"navigate");
        (self.method == Method::GET || self.method == Method::HEAD)
            && self.accepts_html()
            && !scripted
    }

    /// Where a sign-in returns to: the path and query as sent.
    pub fn return_target(&self) -> &str {
        self.uri.path_and_query().map_or("/", |pq| pq.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants_page(headers: &[(&'static str, &'static str)]) -> bool {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, http::HeaderValue::from_static(value));
        }
        let uri = Uri::from_static("/books");
        Asked::new(&Method::GET, &uri, &map).wants_page()
    }

    #[test]
    fn only_a_navigation_that_takes_html_is_a_page_view() {
        let html = ("accept", "text/html,*/*");
        assert!(wants_page(&[html]));
        assert!(wants_page(&[html, ("sec-fetch-mode", "navigate")]));
        assert!(!wants_page(&[html, ("sec-fetch-mode", "cors")]));
        assert!(!wants_page(&[html, ("x-requested-with", "XMLHttpRequest")]));
        assert!(!wants_page(&[("accept", "application/json")]));
        assert!(!wants_page(&[]));
    }
}
