//! The hosts a service answers for and may send a browser back to: the
//! public URL's, and a forward-auth service's others (`forwardAuth.hosts`).
//!
//! The public URL's host is where the provider sends the browser back, so
//! the sign-in pages live there; a question about another host listed is
//! answered too, and a browser signed in on the public host may be sent
//! back to it. A host nobody listed is neither.

use http::uri::Authority;
use url::Url;

/// The hosts of one config, read by name (any port, any case).
#[derive(Clone, Copy, Debug)]
pub struct Hosts<'a> {
    public_url: &'a Url,
    others: &'a [String],
}

impl<'a> Hosts<'a> {
    /// The public URL's host and `others`, lowercased host names.
    pub fn new(public_url: &'a Url, others: &'a [String]) -> Self {
        Self { public_url, others }
    }

    /// The public URL, whose host serves the sign-in pages.
    pub fn public_url(&self) -> &'a Url {
        self.public_url
    }

    /// Whether `host` is the public URL's.
    pub fn is_public(&self, host: &str) -> bool {
        self.public_url
            .host_str()
            .is_some_and(|ours| ours.eq_ignore_ascii_case(host))
    }

    /// Whether `host` is answered for: the public URL's or one listed.
    pub fn protects(&self, host: &str) -> bool {
        self.is_public(host)
            || self
                .others
                .iter()
                .any(|other| other.eq_ignore_ascii_case(host))
    }

    /// The absolute URL of `path_and_query` on `authority` (a host
    /// answered for), with the public URL's scheme: the session cookie,
    /// `Secure` over https, would not reach an http page.
    pub fn url_on(&self, authority: &Authority, path_and_query: &str) -> String {
        let scheme = self.public_url.scheme();
        format!("{scheme}://{authority}{path_and_query}")
    }
}

/// Whether `authority` is a plain `host[:port]`: a host, and no user before
/// it (`evil@books.example.com` names `books.example.com` to one reader
/// and not to another).
pub fn is_plain_host(authority: &Authority) -> bool {
    !authority.host().is_empty() && !authority.as_str().contains('@')
}

/// The plain `host[:port]` `value` names, if it is one.
pub fn plain_host(value: &str) -> Option<Authority> {
    Authority::try_from(value).ok().filter(is_plain_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_host_and_the_listed_ones_are_protected_by_name() {
        let public = Url::parse("https://auth.example.com:8443").expect("url");
        let others = ["books.example.com".to_owned()];
        let hosts = Hosts::new(&public, &others);
        assert!(hosts.is_public("AUTH.example.com"));
        assert!(!hosts.is_public("books.example.com"));
        assert!(hosts.protects("Books.Example.com"));
        assert!(!hosts.protects("films.example.com"));
        assert!(!hosts.protects("books.example.com.evil"));
        let films = plain_host("films.example.com:8443").expect("a host");
        assert_eq!(
            hosts.url_on(&films, "/reel"),
            "https://films.example.com:8443/reel"
        );
    }

    #[test]
    fn a_host_with_a_user_before_it_or_none_at_all_is_not_plain() {
        assert!(plain_host("books.example.com").is_some());
        assert!(plain_host("evil@books.example.com").is_none());
        assert!(plain_host(":443").is_none());
        assert!(plain_host("").is_none());
    }
}
