//! Helm 3 and Helm 4 (built by `tests/tools/install-helm.sh`, versions in
//! `tests/tools/helm-versions`) run on `charts/portcullis`, and the objects
//! `helm template` renders, read back as YAML documents.
//!
//! A missing binary fails the test with the path and what to run: the chart
//! must be proven with both major versions users have, never silently with
//! one or none.

use crate::process::repo_root;
use crate::tools::tools_root;
use anyhow::{Context, Result, bail};
use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// One Helm release, e.g. `v3.22.0`, and its binary.
#[derive(Clone, Debug)]
pub struct Helm {
    /// The module version it was built from.
    pub version: String,
    /// The `helm` binary.
    pub bin: PathBuf,
}

/// The chart under test.
pub fn chart_dir() -> PathBuf {
    repo_root().join("charts/portcullis")
}

/// The Helm releases in `tests/tools/helm-versions` as `(major, version)`,
/// e.g. `[("v3", "v3.22.0"), ("v4", "v4.3.1")]`.
pub fn releases() -> Result<Vec<(String, String)>> {
    let path = repo_root().join("tests/tools/helm-versions");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let releases: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect();
    anyhow::ensure!(!releases.is_empty(), "no versions in {}", path.display());
    Ok(releases)
}

/// The Helm versions in `tests/tools/helm-versions`, e.g. `["v3.22.0", "v4.3.1"]`.
pub fn versions() -> Result<Vec<String>> {
    Ok(releases()?
        .into_iter()
        .map(|(_, version)| version)
        .collect())
}

impl Helm {
    /// Every Helm version the chart is tested with, from the tools cache.
    ///
    /// Panics naming the missing binary and `make test` when one is not built.
    pub fn all() -> Vec<Helm> {
        Self::find(&tools_root()).unwrap_or_else(|error| panic!("{error:#}"))
    }

    /// The release of one major version (`v3`) in `tests/tools/helm-versions`,
    /// from the tools cache; an error names the missing binary and what to run.
    pub fn of_major(major: &str) -> Result<Helm> {
        let (_, version) = releases()?
            .into_iter()
            .find(|(listed, _)| listed == major)
            .with_context(|| format!("no Helm {major} in tests/tools/helm-versions"))?;
        Self::built(&tools_root(), version)
    }

    /// Every Helm version the chart is tested with, built under `root`; an
    /// error names the first missing binary and what to run.
    pub fn find(root: &Path) -> Result<Vec<Helm>> {
        versions()?
            .into_iter()
            .map(|version| Self::built(root, version))
            .collect()
    }

    /// `version` as built under `root` by `tests/tools/install-helm.sh`.
    fn built(root: &Path, version: String) -> Result<Helm> {
        let bin = root.join(format!("helm-{version}")).join("helm");
        if !bin.is_file() {
            bail!(
                "{} is missing: run `make test` (or `tests/tools/install-helm.sh`)",
                bin.display()
            );
        }
        Ok(Helm { version, bin })
    }

    /// Runs `helm <args>` with its caches in a scratch folder; never fails on
    /// a non-zero exit (the caller reads `status`).
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        let home = std::env::temp_dir().join(format!(
            "portcullis-helm-{}-{}",
            self.version,
            std::process::id()
        ));
        std::fs::create_dir_all(&home)?;
        Command::new(&self.bin)
            .args(args)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", self.bin.display()))
    }

    /// `helm <args>` that must succeed; returns its output, or an error holding it.
    pub fn run_ok(&self, args: &[&str]) -> Result<String> {
        let output = self.run(args)?;
        let text = combined(&output);
        if !output.status.success() {
            bail!("helm {} {args:?} failed:\n{text}", self.version);
        }
        Ok(text)
    }

    /// The major version, e.g. `v3`.
    pub fn major(&self) -> &str {
        self.version.split('.').next().unwrap_or(&self.version)
    }

    /// `helm lint --strict` of the chart with `values` (`--set ...`, `-f ...`);
    /// an error holds Helm's output.
    pub fn lint(&self, values: &[&str]) -> Result<String> {
        let chart = chart_dir();
        let mut args = vec!["lint", "--strict", path_str(&chart)?];
        args.extend_from_slice(values);
        let output = self.run(&args)?;
        let text = combined(&output);
        if !output.status.success() {
            bail!("helm {} lint {values:?} failed:\n{text}", self.version);
        }
        Ok(text)
    }

    /// `helm template <release> --namespace <namespace>` of the chart with
    /// `values`, as YAML documents; an error holds Helm's stderr.
    pub fn template(&self, release: &str, namespace: &str, values: &[&str]) -> Result<Rendered> {
        let chart = chart_dir();
        let mut args = vec![
            "template",
            release,
            path_str(&chart)?,
            "--namespace",
            namespace,
            "--include-crds",
        ];
        args.extend_from_slice(values);
        let output = self.run(&args)?;
        if !output.status.success() {
            bail!(
                "helm {} template {values:?} failed:\n{}",
                self.version,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Rendered::parse(&String::from_utf8_lossy(&output.stdout))
    }
}

/// The objects of one `helm template`.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Every non-empty document, in order.
    pub objects: Vec<serde_yaml::Value>,
}

impl Rendered {
    /// Splits a multi-document YAML stream; empty documents are dropped.
    pub fn parse(text: &str) -> Result<Self> {
        let mut objects = Vec::new();
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = serde_yaml::Value::deserialize(document)?;
            if !value.is_null() {
                objects.push(value);
            }
        }
        Ok(Self { objects })
    }

    /// `kind/name` of every object, in order.
    pub fn names(&self) -> Vec<String> {
        self.objects
            .iter()
            .map(|object| format!("{}/{}", field(object, "kind"), name(object)))
            .collect()
    }

    /// The objects of `kind`.
    pub fn of_kind(&self, kind: &str) -> Vec<&serde_yaml::Value> {
        self.objects
            .iter()
            .filter(|object| field(object, "kind") == kind)
            .collect()
    }

    /// The one object of `kind` named `name`, typed.
    pub fn get<K: DeserializeOwned>(&self, kind: &str, name: &str) -> Result<K> {
        let object = self
            .of_kind(kind)
            .into_iter()
            .find(|object| self::name(object) == name)
            .with_context(|| format!("no {kind}/{name} among {:?}", self.names()))?;
        serde_yaml::from_value(object.clone())
            .with_context(|| format!("{kind}/{name} is not a valid {kind}"))
    }

    /// The only object of `kind`, typed.
    pub fn only<K: DeserializeOwned>(&self, kind: &str) -> Result<K> {
        let objects = self.of_kind(kind);
        let [object] = objects.as_slice() else {
            bail!(
                "{} objects of kind {kind} among {:?}",
                objects.len(),
                self.names()
            );
        };
        serde_yaml::from_value((*object).clone())
            .with_context(|| format!("{kind} is not a valid {kind}"))
    }
}

fn field<'a>(object: &'a serde_yaml::Value, key: &str) -> &'a str {
    object.get(key).and_then(|v| v.as_str()).unwrap_or_default()
}

fn name(object: &serde_yaml::Value) -> &str {
    object
        .get("metadata")
        .and_then(|meta| meta.get("name"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

fn path_str(path: &std::path::Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

fn combined(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_helm_binary_is_named_with_what_to_run() {
        let empty = tempfile::tempdir().expect("tempdir");
        let error = format!("{:#}", Helm::find(empty.path()).expect_err("nothing built"));
        assert!(error.contains("helm-v3."), "{error}");
        assert!(error.contains("/helm is missing"), "{error}");
        assert!(error.contains("make test"), "{error}");
    }

    #[test]
    fn each_release_is_listed_under_its_major_version() {
        for (major, version) in releases().expect("releases") {
            assert!(
                version.starts_with(&format!("{major}.")),
                "{major} {version}"
            );
        }
    }

    #[test]
    fn versions_name_helm_3_and_helm_4() {
        let versions = versions().expect("versions");
        assert!(
            versions.iter().any(|v| v.starts_with("v3.")),
            "{versions:?}"
        );
        assert!(
            versions.iter().any(|v| v.starts_with("v4.")),
            "{versions:?}"
        );
    }

    #[test]
    fn rendered_stream_drops_empty_documents() {
        let rendered = Rendered::parse(
            "---\n# only a comment\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n",
        )
        .expect("parses");
        assert_eq!(rendered.names(), ["ServiceAccount/a"]);
    }
}
