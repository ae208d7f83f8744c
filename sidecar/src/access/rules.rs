//! The configured rules, compiled, and the access a request needs.
//!
//! A request path is read every way an app behind the sidecar might read
//! it: with path parameters (`;x`) kept and cut off, with trailing dots and
//! spaces kept and dropped (Windows servers drop them), and with case kept
//! and ignored. Each reading goes through the rules (first match wins, else the
//! default), and the request needs the **strictest** of the answers. So
//! `/ADMIN` needs what `/admin` needs when a rule says so (an app on a
//! case-insensitive server would serve the admin area there), and
//! `/admin;x` needs what `/admin` needs (a servlet container would cut the
//! parameter). An app that treats these as different paths loses nothing:
//! it would answer 404 to them anyway.

use portcullis_contract::access::path::{AmbiguousPath, Params, normalise, normalise_as_windows};
use portcullis_contract::access::pattern::PathPattern;
use portcullis_contract::access::{Access, AuthorizationConfig, RuleProblem};

/// One rule, parsed.
#[derive(Clone, Debug)]
struct Rule {
    pattern: PathPattern,
    methods: Vec<String>,
    allow: Access,
}

/// The rules in order, and what applies when none matches.
#[derive(Clone, Debug)]
pub struct AccessRules {
    rules: Vec<Rule>,
    default: Access,
}

impl Default for AccessRules {
    /// No rules: any signed-in user may use every path (the behaviour
    /// before rules existed).
    fn default() -> Self {
        Self::compile(&AuthorizationConfig::default()).0
    }
}

impl AccessRules {
    /// Compiles the config's rules; the problems name each bad rule by its
    /// index (bad rules are left out, so only use the result when there are none).
    pub fn compile(config: &AuthorizationConfig) -> (Self, Vec<RuleProblem>) {
        let problems = config.problems();
        let rules = config
            .rules
            .iter()
            .filter_map(|rule| {
                Some(Rule {
                    pattern: PathPattern::parse(&rule.path).ok()?,
                    methods: rule.methods.clone(),
                    allow: rule.allow,
                })
            })
            .collect();
        let compiled = Self {
            rules,
            default: config.default,
        };
        (compiled, problems)
    }

    /// The access a request with `method` on the raw path `raw_path` (the
    /// request target without its query) needs.
    pub fn required(&self, method: &str, raw_path: &str) -> Result<Access, AmbiguousPath> {
        self.required_of_any([method], raw_path)
    }

    /// The access a request on `raw_path` needs when the app may act on it
    /// as any of `methods` (a method override): the strictest.
    pub fn required_of_any<'m>(
        &self,
        methods: impl IntoIterator<Item = &'m str>,
        raw_path: &str,
    ) -> Result<Access, AmbiguousPath> {
        let readings = readings(raw_path)?;
        let needed = methods
            .into_iter()
            .flat_map(|method| {
                readings.iter().flat_map(move |path| {
                    [false, true].map(|ignore_case| self.first_match(method, path, ignore_case))
                })
            })
            .max()
            .unwrap_or(self.default);
        Ok(needed)
    }

    /// Every method some rule names: with the request's own, the methods
    /// whose answers can differ on a path.
    pub fn named_methods(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .flat_map(|rule| rule.methods.iter().map(String::as_str))
    }

    fn first_match(&self, method: &str, path: &str, ignore_case: bool) -> Access {
        self.rules
            .iter()
            .find(|rule| {
                (rule.methods.is_empty() || rule.methods.iter().any(|listed| listed == method))
                    && rule.pattern.matches(path, ignore_case)
            })
            .map_or(self.default, |rule| rule.allow)
    }
}

/// Every way an app may read `raw_path`, normalised.
fn readings(raw_path: &str) -> Result<Vec<String>, AmbiguousPath> {
    let params: &[Params] = if raw_path.contains(';') {
        &[Params::Keep, Params::Strip]
    } else {
        &[Params::Keep]
    };
    let mut readings = Vec::with_capacity(params.len());
    for &params in params {
        readings.push(normalise(raw_path, params)?);
        if let Some(windows) = normalise_as_windows(raw_path, params) {
            readings.push(windows?);
        }
    }
    Ok(readings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rules for an app with a public health check and static assets, an
    /// admin area, and a trusted-only upload.
    fn rules() -> AccessRules {
        let config: AuthorizationConfig = serde_yaml::from_str(
            "rules:
  - {path: /healthz, allow: public}
  - {path: /static/**, methods: [GET, HEAD], allow: public}
  - {path: /admin/**, allow: admin}
  - {path: /admin-root, allow: rootAdmin}
  - {path: /upload, methods: [POST], allow: trusted}
",
        )
        .expect("parses");
        let (rules, problems) = AccessRules::compile(&config);
        assert!(problems.is_empty(), "{problems:?}");
        rules
    }

    fn needs(method: &str, path: &str) -> Access {
        rules().required(method, path).expect("unambiguous")
    }

    #[test]
    fn the_first_matching_rule_decides_and_the_default_covers_the_rest() {
        assert_eq!(needs("GET", "/healthz"), Access::Public);
        assert_eq!(needs("GET", "/static/app.css"), Access::Public);
        assert_eq!(needs("GET", "/admin"), Access::Admin);
        assert_eq!(needs("GET", "/admin/users/7"), Access::Admin);
        assert_eq!(needs("GET", "/admin-root"), Access::RootAdmin);
        assert_eq!(needs("GET", "/books"), Access::Untrusted);
        assert_eq!(needs("GET", "/"), Access::Untrusted);
    }

    #[test]
    fn methods_narrow_a_rule() {
        assert_eq!(needs("POST", "/upload"), Access::Trusted);
        assert_eq!(needs("GET", "/upload"), Access::Untrusted);
        assert_eq!(needs("POST", "/static/app.css"), Access::Untrusted);
        assert_eq!(needs("HEAD", "/static/app.css"), Access::Public);
    }

    #[test]
    fn every_spelling_of_a_path_gets_the_decision_of_its_normal_form() {
        for path in [
            "/admin",
            "/%61dmin",
            "/%61%64%6D%69%6E",
            "/public/../admin",
            "/static/%2e%2e/admin",
            "//admin",
            "/./admin",
            "/admin;x",
            "/static/..;/admin",
            "/ADMIN",
            "/Admin/users",
            "/healthz/../admin",
        ] {
            assert_eq!(needs("GET", path), Access::Admin, "{path}");
        }
    }

    #[test]
    fn a_public_path_stays_public_only_where_every_reading_agrees() {
        assert_eq!(needs("GET", "/healthz"), Access::Public);
        assert_eq!(needs("GET", "/HEALTHZ"), Access::Untrusted);
        assert_eq!(needs("GET", "/healthz;x"), Access::Untrusted);
        assert_eq!(needs("GET", "/static/a;v=2"), Access::Public);
    }

    #[test]
    fn ambiguous_paths_get_no_decision() {
        assert_eq!(
            rules().required("GET", "/static%2F..%2Fadmin"),
            Err(AmbiguousPath::EncodedSeparator)
        );
    }

    #[test]
    fn no_rules_means_any_signed_in_user_everywhere() {
        let rules = AccessRules::default();
        assert_eq!(rules.required("GET", "/x"), Ok(Access::Untrusted));
    }

    #[test]
    fn a_public_default_is_narrowed_by_rules() {
        let config: AuthorizationConfig =
            serde_yaml::from_str("default: public\nrules: [{path: /admin/**, allow: admin}]")
                .expect("parses");
        let rules = AccessRules::compile(&config).0;
        assert_eq!(rules.required("GET", "/blog/x"), Ok(Access::Public));
        assert_eq!(rules.required("GET", "/admin/"), Ok(Access::Admin));
        assert_eq!(rules.required("GET", "/x/../ADMIN"), Ok(Access::Admin));
    }
}
