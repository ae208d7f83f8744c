//! Turning an identity provider's group claim into one of three roles.
//!
//! The rules come straight from the product's promise: the claim may be a
//! string (split on whitespace) or a list of strings; group names match
//! case-insensitively; the highest role wins; anything else, or no claim at
//! all, means `untrusted`. The root admin's username always wins over groups.
//! Which names grant which role is configurable ([`RoleMapping`]), because a
//! company directory rarely has a group called `admin`; by default the names
//! are the roles' own. Keycloak sends group paths (`/admin`), so one leading
//! `/` is ignored on both sides. An optional allow-list refuses users in none
//! of its groups. Everything here is pure so it can be tested exhaustively.

use portcullis_contract::email_domains::EmailRefusal;
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
}

/// A group name as compared: lowercase, without one leading `/`.
fn comparable(group: &str) -> String {
    let group = group.trim();
    group.strip_prefix('/').unwrap_or(group).to_lowercase()
}

/// Which provider groups grant which role, and who may sign in at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleMapping {
    admin: Vec<String>,
    trusted: Vec<String>,
    allowed: Vec<String>,
}

/// Why a user who signed in at the provider may not use the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotAllowed {
    /// The user is in none of the groups allowed to sign in.
    #[error("the user is in none of the groups listed in `oidc.allowedGroups`")]
    Groups,
    /// The user's email is not one `oidc.allowedEmailDomains` admits.
    #[error("{0} (`oidc.allowedEmailDomains`)")]
    Email(#[from] EmailRefusal),
}

// === impl RoleMapping ===

impl RoleMapping {
    /// A mapping from the groups granting `admin` and `trusted`; an empty
    /// `allowed` lets everyone sign in.
    pub fn new<S: AsRef<str>>(admin: &[S], trusted: &[S], allowed: &[S]) -> Self {
        let names = |groups: &[S]| groups.iter().map(|g| comparable(g.as_ref())).collect();
        Self {
            admin: names(admin),
            trusted: names(trusted),
            allowed: names(allowed),
        }
    }

    /// The role one group grants, if any.
    fn role_of(&self, group: &str) -> Option<Role> {
        let group = comparable(group);
        if self.admin.contains(&group) {
            Some(Role::Admin)
        } else if self.trusted.contains(&group) {
            Some(Role::Trusted)
        } else {
            None
        }
    }

    /// The highest role any of the groups grants; `Untrusted` when none does.
    pub fn role_for<S: AsRef<str>>(&self, groups: &[S]) -> Role {
        groups
            .iter()
            .filter_map(|group| self.role_of(group.as_ref()))
            .max()
            .unwrap_or(Role::Untrusted)
    }

    /// True when there is no allow-list or one of the groups is on it.
    pub fn admits<S: AsRef<str>>(&self, groups: &[S]) -> bool {
        self.allowed.is_empty()
            || groups
                .iter()
                .any(|group| self.allowed.contains(&comparable(group.as_ref())))
    }
}

impl Default for RoleMapping {
    /// Each role granted by the group of its own name; everyone may sign in.
    fn default() -> Self {
        let none: [&str; 0] = [];
        Self::new(&[Role::Admin.as_str()], &[Role::Trusted.as_str()], &none)
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

/// Reads a group claim value: a whitespace-separated string, a list of
/// strings, or an object whose keys are the names (Zitadel's
/// `urn:zitadel:iam:org:project:roles`: role name → the organisations that
/// granted it).
///
/// List entries and keys are taken whole (a group may contain spaces);
/// non-string entries are ignored; any other shape yields no groups.
pub fn groups_from_claim(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|group| group.trim().to_owned())
            .filter(|group| !group.is_empty())
            .collect(),
        Some(Value::Object(named)) => named
            .keys()
            .map(|group| group.trim().to_owned())
            .filter(|group| !group.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The highest role named by any of the groups under the default mapping.
pub fn role_from_groups<S: AsRef<str>>(groups: &[S]) -> Role {
    RoleMapping::default().role_for(groups)
}

/// The grant for a login: the root admin's username is admin whatever the
/// groups (and whatever the allow-list); anyone else must pass the allow-list.
pub fn grant_for<S: AsRef<str>>(
    username: &str,
    groups: &[S],
    root_username: Option<&str>,
    mapping: &RoleMapping,
) -> Result<Grant, NotAllowed> {
    if root_username.is_some_and(|root| root == username) {
        return Ok(Grant {
            role: Role::Admin,
            root: true,
        });
    }
    if !mapping.admits(groups) {
        return Err(NotAllowed::Groups);
    }
    Ok(Grant {
        role: mapping.role_for(groups),
        root: false,
    })
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
            json!({}),
            json!({"staff": {"org": "x"}}),
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
    fn an_objects_keys_are_the_names_as_zitadel_sends_its_roles() {
        let zitadel = json!({
            "Books-Admin": {"284950283": "books.example.test"},
            " readers ": {"284950283": "books.example.test"},
        });
        let mut groups = groups_from_claim(Some(&zitadel));
        groups.sort();
        assert_eq!(groups, ["Books-Admin", "readers"]);
        assert_eq!(role_of(json!({"admin": {"org": "x"}})), Role::Admin);
    }

    #[test]
    fn list_entries_are_whole_group_names() {
        assert_eq!(role_of(json!(["domain admin"])), Role::Untrusted);
        assert_eq!(role_of(json!([" admin "])), Role::Admin);
    }

    fn grant(username: &str, groups: &[&str], root: Option<&str>) -> Grant {
        grant_for(username, groups, root, &RoleMapping::default()).expect("no allow-list")
    }

    #[test]
    fn root_admin_username_is_admin_whatever_the_groups() {
        assert_eq!(
            grant("root", &["untrusted"], Some("root")),
            Grant {
                role: Role::Admin,
                root: true
            }
        );
        assert!(grant("root", &[], Some("root")).root);
    }

    #[test]
    fn other_usernames_are_never_root() {
        assert_eq!(
            grant("Root", &["admin"], Some("root")),
            Grant {
                role: Role::Admin,
                root: false
            }
        );
        assert_eq!(
            grant("root", &["trusted"], None),
            Grant {
                role: Role::Trusted,
                root: false
            }
        );
    }

    #[test]
    fn keycloak_group_paths_match_names_with_or_without_the_leading_slash() {
        assert_eq!(role_of(json!(["/admin"])), Role::Admin);
        assert_eq!(role_of(json!(["/Trusted"])), Role::Trusted);
        let mapping = RoleMapping::new(&["/platform/ops"], &["staff"], &[]);
        assert_eq!(mapping.role_for(&["platform/OPS"]), Role::Admin);
        assert_eq!(mapping.role_for(&["/platform/ops"]), Role::Admin);
        assert_eq!(mapping.role_for(&["/staff"]), Role::Trusted);
        assert_eq!(mapping.role_for(&["/ops", "//staff"]), Role::Untrusted);
    }

    #[test]
    fn a_custom_mapping_replaces_the_role_names() {
        let mapping = RoleMapping::new(&["Portcullis-Admins", "sre"], &["staff"], &[]);
        assert_eq!(mapping.role_for(&["portcullis-admins"]), Role::Admin);
        assert_eq!(mapping.role_for(&["SRE", "staff"]), Role::Admin);
        assert_eq!(mapping.role_for(&["staff"]), Role::Trusted);
        assert_eq!(mapping.role_for(&["admin", "trusted"]), Role::Untrusted);
        let none: [&str; 0] = [];
        assert_eq!(mapping.role_for(&none), Role::Untrusted);
    }

    #[test]
    fn one_group_granting_two_roles_grants_the_higher() {
        let mapping = RoleMapping::new(&["ops"], &["ops", "staff"], &[]);
        assert_eq!(mapping.role_for(&["ops"]), Role::Admin);
    }

    #[test]
    fn the_allow_list_refuses_users_in_none_of_its_groups() {
        let mapping = RoleMapping::new(&["admin"], &["trusted"], &["staff", "/family"]);
        assert_eq!(
            grant_for("eve", &["admin"], None, &mapping),
            Err(NotAllowed::Groups)
        );
        assert_eq!(
            grant_for::<&str>("eve", &[], None, &mapping),
            Err(NotAllowed::Groups)
        );
        assert_eq!(
            grant_for("kim", &["/Family"], None, &mapping),
            Ok(Grant {
                role: Role::Untrusted,
                root: false
            })
        );
        assert_eq!(
            grant_for("ann", &["STAFF", "admin"], None, &mapping).map(|g| g.role),
            Ok(Role::Admin)
        );
    }

    #[test]
    fn the_root_admin_passes_the_allow_list_whatever_the_groups() {
        let mapping = RoleMapping::new(&["admin"], &["trusted"], &["staff"]);
        assert_eq!(
            grant_for::<&str>("root", &[], Some("root"), &mapping),
            Ok(Grant {
                role: Role::Admin,
                root: true
            })
        );
    }

    #[test]
    fn without_an_allow_list_everyone_may_sign_in() {
        let none: [&str; 0] = [];
        assert!(RoleMapping::default().admits(&none));
        assert!(RoleMapping::default().admits(&["anything"]));
    }
}
