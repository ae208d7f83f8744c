//! Every file in `examples/`, and the `OidcSettings` of every provider
//! guide in `docs/providers/`, on a real API server: each object passes a
//! server-side dry run, strict about unknown fields, with the CRD of
//! `OidcSettings` and Gateway API's `HTTPRoute` installed; and the
//! indexes list every folder and guide.

use anyhow::{Context, Result};
use portcullis_e2e::kube::dry_run::{DryRun, dry_run_apply};
use portcullis_e2e::kube::env::{client, ensure_crd, namespace};
use portcullis_e2e::kube::gateway_api::ensure_http_route_crd;
use portcullis_e2e::markdown::yaml_blocks;
use portcullis_e2e::process::repo_root;
use serde::Deserialize as _;
use std::path::PathBuf;

/// The YAML files under `examples/`, sorted.
fn example_files() -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for folder in std::fs::read_dir(repo_root().join("examples"))? {
        let folder = folder?.path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder)? {
            let file = file?.path();
            if file.extension().is_some_and(|ext| ext == "yaml") {
                files.push(file);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[tokio::test]
async fn every_example_passes_a_strict_dry_run_on_a_real_api_server() -> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    ensure_http_route_crd(&client).await?;
    let namespace = namespace(&client, "examples").await?;
    let files = example_files()?;
    assert!(files.len() >= 7, "{files:?}");
    let mut kinds = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let object = serde_yaml::Value::deserialize(document)?;
            if object.is_null() {
                continue;
            }
            let outcome = dry_run_apply(&client, &namespace, &object, "portcullis-examples-test")
                .await
                .with_context(|| format!("{}", file.display()))?;
            match outcome {
                DryRun::Accepted(kind) => kinds.push(kind),
                DryRun::UnknownKind(kind) => {
                    panic!("{}: kind {kind} is not served here", file.display())
                }
            }
        }
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "Deployment",
            "HTTPRoute",
            "Ingress",
            "OidcSettings",
            "Secret",
            "Service"
        ]
    );
    Ok(())
}

/// The sidecar config files the examples hold in ConfigMaps
/// (`data["sidecar.yaml"]`), each with the file it came from.
fn sidecar_configs() -> Result<Vec<(PathBuf, String)>> {
    let mut configs = Vec::new();
    for file in example_files()? {
        let text = std::fs::read_to_string(&file)?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let object = serde_yaml::Value::deserialize(document)?;
            if let Some(config) = object["data"]["sidecar.yaml"].as_str() {
                configs.push((file.clone(), config.to_owned()));
            }
        }
    }
    Ok(configs)
}

#[test]
fn every_sidecar_config_an_example_holds_passes_the_contracts_validation() -> Result<()> {
    let configs = sidecar_configs()?;
    assert!(!configs.is_empty(), "the forward-auth example holds one");
    for (file, text) in configs {
        let config = portcullis_contract::config::SidecarConfig::from_yaml(&text)
            .with_context(|| format!("{}", file.display()))?;
        if let Err(problems) = portcullis_contract::validate::validate(&config) {
            panic!("{}: {problems}", file.display());
        }
    }
    Ok(())
}

#[test]
fn every_oidc_settings_an_example_holds_renders_a_config_the_contract_accepts() -> Result<()> {
    let mut seen = 0;
    for file in example_files()? {
        let text = std::fs::read_to_string(&file)?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let object = serde_yaml::Value::deserialize(document)?;
            if object["kind"].as_str() != Some("OidcSettings") {
                continue;
            }
            let settings: portcullis_operator::crd::OidcSettings =
                serde_yaml::from_value(object).with_context(|| format!("{}", file.display()))?;
            let config = portcullis_operator::desired::config::sidecar_config(
                settings.metadata.namespace.as_deref().unwrap_or("default"),
                settings.metadata.name.as_deref().unwrap_or_default(),
                &settings.spec,
            );
            if let Err(problems) = portcullis_contract::validate::validate(&config) {
                panic!("{}: {problems}", file.display());
            }
            seen += 1;
        }
    }
    assert!(seen > 0, "the examples hold OidcSettings");
    Ok(())
}

#[test]
fn the_examples_readme_lists_every_folder() -> Result<()> {
    let readme = std::fs::read_to_string(repo_root().join("examples/README.md"))?;
    for file in example_files()? {
        let folder = file
            .parent()
            .and_then(|folder| folder.file_name())
            .and_then(|name| name.to_str())
            .context("a folder")?;
        assert!(
            readme.contains(&format!("[{folder}](")),
            "examples/README.md does not list {folder}"
        );
    }
    Ok(())
}

/// The provider guides, sorted, without their index.
fn provider_guides() -> Result<Vec<PathBuf>> {
    let mut guides: Vec<PathBuf> = std::fs::read_dir(repo_root().join("docs/providers"))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<_>>()?;
    guides.retain(|guide| {
        guide.extension().is_some_and(|ext| ext == "md")
            && guide.file_name().is_some_and(|name| name != "README.md")
    });
    guides.sort();
    Ok(guides)
}

/// The ```yaml blocks of a Markdown page that describe an `OidcSettings`.
fn oidc_settings_blocks(markdown: &str) -> Vec<String> {
    yaml_blocks(markdown)
        .into_iter()
        .filter(|block| block.contains("kind: OidcSettings"))
        .collect()
}

#[tokio::test]
async fn every_provider_guide_gives_an_oidc_settings_a_real_api_server_accepts() -> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let namespace = namespace(&client, "guides").await?;
    let index = std::fs::read_to_string(repo_root().join("docs/providers/README.md"))?;
    let guides = provider_guides()?;
    assert!(guides.len() >= 9, "{guides:?}");
    for guide in &guides {
        let name = guide.file_name().and_then(|n| n.to_str()).context("name")?;
        assert!(
            index.contains(&format!("]({name})")),
            "docs/providers/README.md does not list {name}"
        );
        let blocks = oidc_settings_blocks(&std::fs::read_to_string(guide)?);
        assert_eq!(blocks.len(), 1, "{name}: one OidcSettings example");
        let object: serde_yaml::Value = serde_yaml::from_str(&blocks[0])?;
        let outcome = dry_run_apply(&client, &namespace, &object, "portcullis-guides-test")
            .await
            .with_context(|| name.to_owned())?;
        assert_eq!(outcome, DryRun::Accepted("OidcSettings".into()), "{name}");
    }
    Ok(())
}
