//! Who may use which paths of the app: the `authorization` section of the
//! config file.
//!
//! An ordered list of rules, each a path pattern, optional methods and the
//! least access it needs; the first rule that matches decides, and
//! `default` decides when none does. The types, the pattern syntax and the
//! path normalisation live here, with no IO, so that the sidecar and the
//! operator agree on what is valid and both report a bad rule by its index.

pub mod path;
pub mod pattern;

use pattern::PathPattern;
use serde::{Deserialize, Serialize};

/// The least a caller needs to use a path, lowest first so that `Ord` picks
/// the stricter of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user (every role is at least `untrusted`).
    Untrusted,
    /// Signed-in users with the role `trusted` or `admin`.
    Trusted,
    /// Signed-in users with the role `admin` (the root admin included).
    Admin,
    /// Only the root admin.
    RootAdmin,
}

impl Access {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Untrusted => "untrusted",
            Access::Trusted => "trusted",
            Access::Admin => "admin",
            Access::RootAdmin => "rootAdmin",
        }
    }
}

/// One rule: requests whose normalised path matches `path` (and whose method
/// is listed, when `methods` is not empty) need `allow`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessRule {
    /// A path pattern: `/exact`, `/one/*/segment`, `/prefix/**`.
    pub path: String,
    /// Upper-case methods this rule applies to; empty: every method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// The least access the request needs.
    pub allow: Access,
}

/// The ordered rules and the default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// What a request that no rule matches needs; any signed-in user by default.
    #[serde(default = "default_access")]
    pub default: Access,
    /// Rules, tried in order; the first match decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<AccessRule>,
}

fn default_access() -> Access {
    Access::Untrusted
}

impl Default for AuthorizationConfig {
    fn default() -> Self {
        Self {
            default: default_access(),
            rules: Vec::new(),
        }
    }
}

/// A problem with one field of the section: its dotted path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleProblem {
    /// The field, e.g. `authorization.rules[2].path`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl AuthorizationConfig {
    /// True when nothing differs from the default (the section is then left
    /// out of rendered files).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Every problem in the rules, each naming the rule by its index.
    pub fn problems(&self) -> Vec<RuleProblem> {
        let mut problems = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let field = |name: &str| format!("authorization.rules[{index}].{name}");
            if let Err(bad) = PathPattern::parse(&rule.path) {
                problems.push(RuleProblem {
                    field: field("path"),
                    message: bad.to_string(),
                });
            }
            if let Some(bad) = rule.methods.iter().find(|method| !is_method(method)) {
                problems.push(RuleProblem {
                    field: field("methods"),
                    message: format!("`{bad}` is not an upper-case HTTP method like `GET`"),
                });
            }
        }
        problems
    }
}

/// An HTTP method name as written in rules: upper-case letters, at most 20.
pub fn is_method(method: &str) -> bool {
    (1..=20).contains(&method.len()) && method.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_orders_from_public_to_root_admin() {
        assert!(Access::Public < Access::Untrusted);
        assert!(Access::Untrusted < Access::Trusted);
        assert!(Access::Trusted < Access::Admin);
        assert!(Access::Admin < Access::RootAdmin);
    }

    #[test]
    fn bad_rules_are_reported_by_index() {
        let config: AuthorizationConfig = serde_yaml::from_str(
            "rules:
  - {path: /healthz, allow: public}
  - {path: /static/**/x, allow: public}
  - {path: /admin/**, methods: [get], allow: rootAdmin}
",
        )
        .expect("parses");
        let problems = config.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].field, "authorization.rules[1].path");
        assert!(problems[0].message.contains("last segment"));
        assert_eq!(problems[1].field, "authorization.rules[2].methods");
        assert!(problems[1].message.contains("`get`"));
    }

    #[test]
    fn unknown_access_names_are_refused_when_read() {
        let error = serde_yaml::from_str::<AuthorizationConfig>(
            "rules: [{path: /, allow: administrators}]",
        )
        .expect_err("refused");
        assert!(error.to_string().contains("administrators"), "{error}");
    }

    #[test]
    fn the_default_is_any_signed_in_user() {
        let config: AuthorizationConfig = serde_yaml::from_str("{}").expect("parses");
        assert_eq!(config.default, Access::Untrusted);
        assert!(config.is_default());
    }
}
