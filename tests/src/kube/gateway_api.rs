//! Gateway API's `HTTPRoute` CRD on the test API server, from the Go module
//! of the Gateway API project (its released CRDs are in the module), so an
//! example route is checked against the real schema.

use anyhow::{Context, Result, ensure};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::conditions::is_crd_established;
use kube::runtime::wait::await_condition;
use std::path::PathBuf;
use std::time::Duration;

/// The Gateway API release whose CRDs are installed.
pub const GATEWAY_API_VERSION: &str = "v1.6.3";

/// The standard-channel `HTTPRoute` CRD file of [`GATEWAY_API_VERSION`],
/// from the Go module cache (downloaded once).
pub fn http_route_crd_file() -> Result<PathBuf> {
    let output = std::process::Command::new("go")
        .args(["mod", "download", "-json"])
        .arg(format!("sigs.k8s.io/gateway-api@{GATEWAY_API_VERSION}"))
        .env("GOFLAGS", "-mod=mod")
        .output()
        .context("run `go mod download` (is Go installed?)")?;
    ensure!(
        output.status.success(),
        "go mod download failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let module: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let dir = module["Dir"].as_str().context("the module's Dir")?;
    Ok(PathBuf::from(dir).join("config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"))
}

/// Installs the `HTTPRoute` CRD (server-side apply) and waits until it is
/// established.
pub async fn ensure_http_route_crd(client: &Client) -> Result<()> {
    let file = http_route_crd_file()?;
    let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
    let crd: CustomResourceDefinition = serde_yaml::from_str(&text)?;
    let name = crd.metadata.name.clone().context("CRD name")?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        &name,
        &PatchParams::apply("portcullis-tests").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    tokio::time::timeout(
        Duration::from_secs(60),
        await_condition(crds, &name, is_crd_established()),
    )
    .await
    .context("the HTTPRoute CRD to be established")??;
    Ok(())
}
