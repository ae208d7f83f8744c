//! Turning an identity provider's group claim into one of three roles.
//!
//! The rules come straight from the product's promise: the claim may be a
//! string (split on whitespace) or a list of strings; `untrusted`, `trusted`
//! and `admin` match case-insensitively; the highest role wins; anything else,
//! or no claim at all, means `untrusted`. The root admin's username always
//! wins over groups. Everything here is pure so it can be tested exhaustively.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a person may do in the protected app, lowest first so `Ord` picks the highest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The default for everyone without a recognised group.
    Untrusted,
    /// Granted by the `trusted` group.
    Trusted,
    /// Granted by the `admin` group or by being the root admin.
    Admin,
}

impl Role {
    /// The lowercase name sent to the app in `X-Portcullis-Role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Untrusted => "untrusted",
            Role::Trusted => "trusted",
            Role::Admin => "admin",
        }
    }

    fn from_group(group: &str) -> Option<Role> {
        [Role::Untrusted, Role::Trusted, Role::Admin]
            .into_iter()
            .find(|role| group.eq_ignore_ascii_case(role.as_str()))
    }
}

/// The role a login ends with, and whether it is the root admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The highest role the groups (or root status) give.
    pub role: Role,
    /// True when the username equals the configured root admin's username.
    pub root: bool,
}

/// Reads a group claim value: a whitespace-separated string or a list of strings.
///
/// List entries are taken whole (a group may contain spaces); non-string
/// entries are ignored; any other shape yields no groups.
pub fn groups_from_claim(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|group| group.trim().to_owned())
            .filter(|group| !group.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The highest role named by any of the groups; `Untrusted` when none match.
pub fn role_from_groups<S: AsRef<str>>(groups: &[S]) -> Role {
    groups
        .iter()
        .filter_map(|group| Role::from_group(group.as_ref()))
        .max()
        .unwrap_or(Role::Untrusted)
}

/// The grant for a login: the root admin's username is admin whatever the groups.
pub fn grant_for<S: AsRef<str>>(
    username: &str,
    groups: &[S],
    root_username: Option<&str>,
) -> Grant {
    if root_username.is_some_and(|root| root == username) {
        return Grant {
            role: Role::Admin,
            root: true,
        };
    }
    Grant {
        role: role_from_groups(groups),
        root: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role_of(claim: Value) -> Role {
        role_from_groups(&groups_from_claim(Some(&claim)))
    }

    #[test]
    fn each_role_name_matches_case_insensitively() {
        for (name, role) in [
            ("untrusted", Role::Untrusted),
            ("TRUSTED", Role::Trusted),
            ("Admin", Role::Admin),
            ("aDmIn", Role::Admin),
        ] {
            assert_eq!(role_of(json!([name])), role, "{name}");
            assert_eq!(role_of(json!(name)), role, "{name} as a string");
        }
    }

    #[test]
    fn highest_role_wins_in_any_order() {
        let names = ["untrusted", "trusted", "admin"];
        for a in names {
            for b in names {
                for c in names {
                    let expected = [a, b, c].iter().map(|n| role_of(json!(n))).max();
                    assert_eq!(Some(role_of(json!([a, b, c]))), expected);
                }
            }
        }
        assert_eq!(role_of(json!("trusted admin")), Role::Admin);
        assert_eq!(role_of(json!("untrusted\ttrusted")), Role::Trusted);
    }

    #[test]
    fn missing_empty_or_unknown_groups_are_untrusted() {
        assert_eq!(role_from_groups(&groups_from_claim(None)), Role::Untrusted);
        for claim in [
            json!(null),
            json!([]),
            json!(""),
            json!("   "),
            json!(["staff", "admins", "trusted-users"]),
            json!(42),
            json!({"admin": true}),
            json!([1, true, null]),
        ] {
            assert_eq!(role_of(claim.clone()), Role::Untrusted, "{claim}");
        }
    }

    #[test]
    fn string_claim_is_split_on_whitespace() {
        assert_eq!(
            groups_from_claim(Some(&json!(" staff  TRUSTED\n"))),
            ["staff", "TRUSTED"]
        );
    }

    #[test]
    fn list_entries_that_are_not_strings_are_ignored() {
        assert_eq!(
            groups_from_claim(Some(&json!([1, "trusted", null]))),
            ["trusted"]
        );
        assert_eq!(
            role_of(json!([{"name": "admin"}, "trusted"])),
            Role::Trusted
        );
    }

    #[test]
    fn list_entries_are_whole_group_names() {
        assert_eq!(role_of(json!(["domain admin"])), Role::Untrusted);
        assert_eq!(role_of(json!([" admin "])), Role::Admin);
    }

    #[test]
    fn root_admin_username_is_admin_whatever_the_groups() {
        let grant = grant_for("root", &["untrusted"], Some("root"));
        assert_eq!(
            grant,
            Grant {
                role: Role::Admin,
                root: true
            }
        );
        let none: [&str; 0] = [];
        assert!(grant_for("root", &none, Some("root")).root);
    }

    #[test]
    fn other_usernames_are_never_root() {
        assert_eq!(
            grant_for("Root", &["admin"], Some("root")),
            Grant {
                role: Role::Admin,
                root: false
            }
        );
        assert_eq!(
            grant_for("root", &["trusted"], None),
            Grant {
                role: Role::Trusted,
                root: false
            }
        );
    }
}
