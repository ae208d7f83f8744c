//! One forward-auth service for many hosts: the hosts it answers for
//! beside the public URL's (`forwardAuth.hosts`), and the parent domain its
//! session cookie is shared on (`session.cookieDomain`).
//!
//! A browser sends a cookie only to the host that set it, unless the cookie
//! names a `Domain`: then every host under that domain gets it. So a sign-in
//! on one central host (the public URL's, where the provider sends the
//! browser back) serves `books.example.com` and `films.example.com` only
//! when the cookie is set for `example.com`, and every host listed must lie
//! under that domain, or its users would sign in again and again. The
//! domain is a name, never an address (browsers refuse a `Domain` cookie on
//! an address), and only a forward-auth service has one: two sidecars with
//! their own keys under one domain would overwrite each other's cookie.

use crate::problems::Problems;

/// The hosts and the cookie domain of a config that passed the checks,
/// lowercased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManyHosts {
    /// The hosts answered for beside the public URL's.
    pub hosts: Vec<String>,
    /// The domain the session cookie is set for; `None`: the public URL's
    /// host only.
    pub cookie_domain: Option<String>,
}

/// Checks `hosts` (absent when the config is not a forward-auth service)
/// and `cookie_domain` against the public URL's host `public_host`.
pub(crate) fn check(
    problems: &mut Problems,
    hosts: Option<&[String]>,
    cookie_domain: Option<&str>,
    public_host: Option<&str>,
) -> ManyHosts {
    let listed = hosts.unwrap_or_default();
    let domain = cookie_domain.and_then(|domain| checked_domain(problems, domain, hosts.is_some()));
    let mut checked = Vec::with_capacity(listed.len());
    for (index, host) in listed.iter().enumerate() {
        let field = format!("forwardAuth.hosts[{index}]");
        let Some(host) = dns_name(host) else {
            problems.push(
                &field,
                "must be a host name such as `books.example.com`: no scheme, port, path or address",
            );
            continue;
        };
        match &domain {
            Some(domain) if !is_within(&host, domain) => problems.push(
                &field,
                format!("must lie under `session.cookieDomain` (`{domain}`), or the session cookie never reaches it"),
            ),
            None if cookie_domain.is_none() => problems.push(
                &field,
                "needs `session.cookieDomain`: the session cookie is set on the public URL's host and must reach this one too",
            ),
            _ => {}
        }
        checked.push(host);
    }
    if let (Some(domain), Some(public_host)) = (&domain, public_host)
        && !is_within(&public_host.to_ascii_lowercase(), domain)
    {
        problems.push(
            "session.cookieDomain",
            format!("must be the public URL's host or a domain above it (`{public_host}` is not under `{domain}`)"),
        );
    }
    ManyHosts {
        hosts: checked,
        cookie_domain: domain,
    }
}

/// `domain` lowercased when it can be a cookie's `Domain` here.
fn checked_domain(problems: &mut Problems, domain: &str, forward_auth: bool) -> Option<String> {
    const FIELD: &str = "session.cookieDomain";
    if !forward_auth {
        problems.push(
            FIELD,
            "is for a forward-auth service only: sidecars under one domain would overwrite each other's session cookie",
        );
        return None;
    }
    if domain.starts_with('.') {
        problems.push(FIELD, "must be written without the leading `.`");
        return None;
    }
    match dns_name(domain) {
        Some(domain) if domain.contains('.') => Some(domain),
        _ => {
            problems.push(
                FIELD,
                "must be a domain name of two labels or more, such as `example.com`: a browser refuses a cookie for a top-level domain or an address",
            );
            None
        }
    }
}

/// Whether `host` is `domain` or a name under it.
pub fn is_within(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// `value` lowercased when it is a DNS host name: labels of letters,
/// digits and inner `-`, at most 63 bytes each and 253 in all, the last
/// not all digits (so no address passes).
fn dns_name(value: &str) -> Option<String> {
    let name = value.to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    };
    let last_is_name = labels
        .last()
        .is_some_and(|last| !last.bytes().all(|byte| byte.is_ascii_digit()));
    (name.len() <= 253 && labels.iter().all(label_ok) && last_is_name).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(
        hosts: Option<&[&str]>,
        domain: Option<&str>,
        public_host: &str,
    ) -> (ManyHosts, Problems) {
        let mut problems = Problems::default();
        let hosts: Option<Vec<String>> =
            hosts.map(|hosts| hosts.iter().map(|host| (*host).to_owned()).collect());
        let many = check(&mut problems, hosts.as_deref(), domain, Some(public_host));
        (many, problems)
    }

    #[test]
    fn hosts_under_the_cookie_domain_are_kept_lowercased() {
        let (many, problems) = checked(
            Some(&["Books.Example.com", "films.example.com"]),
            Some("Example.com"),
            "auth.example.com",
        );
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(many.hosts, ["books.example.com", "films.example.com"]);
        assert_eq!(many.cookie_domain.as_deref(), Some("example.com"));
    }

    #[test]
    fn a_host_outside_the_cookie_domain_is_named() {
        let (_, problems) = checked(
            Some(&["books.example.com", "films.example.org", "badexample.com"]),
            Some("example.com"),
            "auth.example.com",
        );
        assert!(!problems.mentions("forwardAuth.hosts[0]"), "{problems}");
        assert!(problems.mentions("forwardAuth.hosts[1]"), "{problems}");
        assert!(problems.mentions("forwardAuth.hosts[2]"), "{problems}");
    }

    #[test]
    fn hosts_need_a_cookie_domain() {
        let (_, problems) = checked(Some(&["books.example.com"]), None, "auth.example.com");
        assert!(problems.mentions("forwardAuth.hosts[0]"), "{problems}");
        assert!(problems.to_string().contains("session.cookieDomain"));
    }

    #[test]
    fn what_is_not_a_host_name_is_named() {
        for hostile in [
            "https://books.example.com",
            "books.example.com:443",
            "books.example.com/",
            "10.0.0.1",
            "",
            "-books.example.com",
            "books..example.com",
            "*.example.com",
            "books example.com",
        ] {
            let (_, problems) = checked(Some(&[hostile]), Some("example.com"), "auth.example.com");
            assert!(
                problems.mentions("forwardAuth.hosts[0]"),
                "{hostile:?}: {problems}"
            );
        }
    }

    #[test]
    fn the_cookie_domain_must_be_a_name_above_the_public_host() {
        for (domain, public_host) in [
            ("com", "auth.example.com"),
            (".example.com", "auth.example.com"),
            ("example.org", "auth.example.com"),
            ("xample.com", "auth.example.com"),
            ("0.0.1", "127.0.0.1"),
            ("127.0.0.1", "127.0.0.1"),
        ] {
            let (_, problems) = checked(Some(&[]), Some(domain), public_host);
            assert!(
                problems.mentions("session.cookieDomain"),
                "{domain}: {problems}"
            );
        }
        let (many, problems) = checked(Some(&[]), Some("example.com"), "example.com");
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(many.cookie_domain.as_deref(), Some("example.com"));
    }

    #[test]
    fn only_a_forward_auth_service_shares_its_cookie() {
        let (_, problems) = checked(None, Some("example.com"), "books.example.com");
        assert!(problems.mentions("session.cookieDomain"), "{problems}");
        assert!(problems.to_string().contains("forward-auth"), "{problems}");
    }

    #[test]
    fn within_means_the_domain_or_a_name_under_it() {
        assert!(is_within("example.com", "example.com"));
        assert!(is_within("a.b.example.com", "example.com"));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("example.com.evil", "example.com"));
    }
}
