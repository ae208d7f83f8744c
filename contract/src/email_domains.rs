//! `oidc.allowedEmailDomains`: who may sign in, by the domain of their
//! email address.
//!
//! An entry is a domain (`example.com`, that domain only) or a wildcard
//! (`*.example.com`, its subdomains only, not the domain itself). Matching
//! ignores case. An empty list lets every email through (and none is
//! needed). A user whose provider says `email_verified: false` is refused
//! whatever the domain: anyone may type any address into an account.

use crate::problems::Problems;

/// Entries listed at most.
pub const MAX_EMAIL_DOMAINS: usize = 64;

/// The domains allowed to sign in, lowercased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailDomains {
    exact: Vec<String>,
    subdomains_of: Vec<String>,
}

/// Why an email does not let its user sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailRefusal {
    /// The provider sent no email.
    #[error("the provider sent no email address, and only some email domains may sign in")]
    Missing,
    /// The provider says the email is not verified.
    #[error("the provider says the email address is not verified")]
    Unverified,
    /// The domain is not listed.
    #[error("the email address's domain is not among those allowed to sign in")]
    OtherDomain,
}

impl EmailDomains {
    /// The domains of `entries`, each checked; problems name `field[index]`.
    pub fn parse(problems: &mut Problems, field: &str, entries: &[String]) -> Self {
        if entries.len() > MAX_EMAIL_DOMAINS {
            problems.push(
                field,
                format!("must list at most {MAX_EMAIL_DOMAINS} domains"),
            );
        }
        let mut domains = Self::default();
        for (index, entry) in entries.iter().enumerate() {
            let lower = entry.to_ascii_lowercase();
            let (wildcard, name) = match lower.strip_prefix("*.") {
                Some(name) => (true, name),
                None => (false, lower.as_str()),
            };
            if !is_domain(name) {
                problems.push(
                    &format!("{field}[{index}]"),
                    format!("`{entry}` is not a domain such as example.com or *.example.com"),
                );
                continue;
            }
            if wildcard {
                domains.subdomains_of.push(name.to_owned());
            } else {
                domains.exact.push(name.to_owned());
            }
        }
        domains
    }

    /// True when every email may sign in.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.subdomains_of.is_empty()
    }

    /// Whether `email` lets its user sign in; `verified` is the provider's
    /// `email_verified` (`None` when it sent none).
    pub fn admit(&self, email: Option<&str>, verified: Option<bool>) -> Result<(), EmailRefusal> {
        if self.is_empty() {
            return Ok(());
        }
        let email = email.ok_or(EmailRefusal::Missing)?;
        if verified == Some(false) {
            return Err(EmailRefusal::Unverified);
        }
        let domain = email
            .rsplit_once('@')
            .map(|(_, domain)| domain.to_ascii_lowercase())
            .ok_or(EmailRefusal::OtherDomain)?;
        let listed = self.exact.contains(&domain)
            || self.subdomains_of.iter().any(|parent| {
                domain
                    .strip_suffix(parent.as_str())
                    .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
            });
        if listed {
            Ok(())
        } else {
            Err(EmailRefusal::OtherDomain)
        }
    }
}

/// Whether `name` is a DNS name of two or more labels of letters, digits
/// and inner hyphens.
fn is_domain(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(entries: &[&str]) -> (EmailDomains, Problems) {
        let mut problems = Problems::default();
        let entries: Vec<String> = entries.iter().map(|entry| (*entry).to_owned()).collect();
        let domains = EmailDomains::parse(&mut problems, "oidc.allowedEmailDomains", &entries);
        (domains, problems)
    }

    #[test]
    fn a_listed_domain_signs_in_and_a_wildcard_admits_subdomains_only() {
        let (allowed, problems) = domains(&["Example.com", "*.corp.example.org"]);
        assert!(problems.is_empty(), "{}", problems.one_line());
        assert_eq!(allowed.admit(Some("alice@EXAMPLE.com"), Some(true)), Ok(()));
        assert_eq!(allowed.admit(Some("bob@eu.corp.example.org"), None), Ok(()));
        for other in [
            "eve@corp.example.org",
            "eve@evil-example.com",
            "eve@sub.example.com",
            "eve@xcorp.example.org",
            "eve@example.com.evil.org",
            "no-at-sign",
        ] {
            assert_eq!(
                allowed.admit(Some(other), Some(true)),
                Err(EmailRefusal::OtherDomain),
                "{other}"
            );
        }
    }

    #[test]
    fn an_unverified_or_missing_email_is_refused_while_a_list_is_set() {
        let (allowed, _) = domains(&["example.com"]);
        assert_eq!(
            allowed.admit(Some("alice@example.com"), Some(false)),
            Err(EmailRefusal::Unverified)
        );
        assert_eq!(allowed.admit(None, Some(true)), Err(EmailRefusal::Missing));
        let (everyone, _) = domains(&[]);
        assert_eq!(everyone.admit(None, Some(false)), Ok(()));
    }

    #[test]
    fn entries_that_are_not_domains_are_named() {
        for bad in [
            "",
            "@example.com",
            "example",
            "*.",
            "exa mple.com",
            "*.*.example.com",
            "-x.com",
        ] {
            let (_, problems) = domains(&[bad]);
            assert!(
                problems.mentions("oidc.allowedEmailDomains[0]"),
                "{bad:?}: {}",
                problems.one_line()
            );
        }
    }
}
