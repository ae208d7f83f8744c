//! The operator's permissions from `deploy/portcullis.yaml` (the chart
//! rendered with its defaults), applied for one test namespace and bound to
//! a ServiceAccount whose token the operator then runs with, so tests see
//! exactly what a cluster grants it, or a reduced copy of it to see what a
//! missing permission does.

use super::Cluster;
use crate::helm::Rendered;
use crate::process::repo_root;
use anyhow::{Context, Result, ensure};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Client;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// The plain manifests generated from the chart.
pub const DEPLOY_MANIFEST: &str = "deploy/portcullis.yaml";

/// The only object of `kind` in [`DEPLOY_MANIFEST`], with the operator's
/// namespace and the webhook configuration's name replaced (as installing
/// the chart there under that name would).
pub fn manifest<K: DeserializeOwned>(kind: &str, namespace: &str, webhook: &str) -> Result<K> {
    let path = repo_root().join(DEPLOY_MANIFEST);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let text = text
        .replace(
            "namespace: portcullis\n",
            &format!("namespace: {namespace}\n"),
        )
        .replace(
            "resourceNames: [portcullis]",
            &format!("resourceNames: [{webhook}]"),
        )
        .replace("\n  name: portcullis\n", &format!("\n  name: {webhook}\n"));
    Rendered::parse(&text)?.only(kind)
}

/// The name the ClusterRole and its binding get for `namespace` (cluster-scoped
/// objects get per-test names so parallel tests do not collide).
pub fn cluster_role_name(namespace: &str) -> String {
    format!("portcullis-operator-{namespace}")
}

/// The operator's ClusterRole for `namespace`.
pub fn cluster_role(namespace: &str, webhook: &str) -> Result<ClusterRole> {
    let mut role: ClusterRole = manifest("ClusterRole", namespace, webhook)?;
    role.metadata.name = Some(cluster_role_name(namespace));
    Ok(role)
}

/// Applies (creates or replaces) `role` as the operator's ClusterRole.
pub async fn apply_cluster_role(client: &Client, role: &ClusterRole) -> Result<()> {
    let name = role.metadata.name.clone().unwrap_or_default();
    Api::<ClusterRole>::all(client.clone())
        .patch(
            &name,
            &PatchParams::apply("portcullis-tests").force(),
            &Patch::Apply(role),
        )
        .await?;
    Ok(())
}

/// Applies the operator's RBAC for `namespace`, the ClusterRole as `adjust` leaves
/// it, and returns a kubeconfig holding the ServiceAccount's token.
pub async fn operator_kubeconfig(
    cluster: &Cluster,
    client: &Client,
    namespace: &str,
    webhook: &str,
    adjust: impl FnOnce(&mut ClusterRole),
) -> Result<PathBuf> {
    let apply = PatchParams::apply("portcullis-tests").force();
    let account: ServiceAccount = manifest("ServiceAccount", namespace, webhook)?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    accounts.create(&PostParams::default(), &account).await?;
    let mut role = cluster_role(namespace, webhook)?;
    adjust(&mut role);
    apply_cluster_role(client, &role).await?;
    let mut binding: ClusterRoleBinding = manifest("ClusterRoleBinding", namespace, webhook)?;
    let unique = |meta: &mut ObjectMeta| meta.name = Some(cluster_role_name(namespace));
    unique(&mut binding.metadata);
    binding.role_ref.name = cluster_role_name(namespace);
    Api::<ClusterRoleBinding>::all(client.clone())
        .patch(
            &cluster_role_name(namespace),
            &apply,
            &Patch::Apply(&binding),
        )
        .await?;
    let role: Role = manifest("Role", namespace, webhook)?;
    Api::<Role>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = manifest("RoleBinding", namespace, webhook)?;
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await?;
    let token = accounts
        .create_token_request(
            "portcullis-operator",
            &PostParams::default(),
            &TokenRequest::default(),
        )
        .await?
        .status
        .and_then(|status| status.token)
        .context("no token")?;
    let admin_token = std::fs::read_to_string(cluster.workdir.join("token"))?;
    let text = std::fs::read_to_string(&cluster.kubeconfig)?;
    ensure!(
        text.contains(admin_token.trim()),
        "kubeconfig without the admin token"
    );
    let path = cluster
        .workdir
        .join(format!("operator-{namespace}.kubeconfig"));
    std::fs::write(&path, text.replace(admin_token.trim(), &token))?;
    Ok(path)
}
