//! `status.rollout` of `OidcSettings`: how far the settings the operator
//! last wrote have reached the pods that serve them.
//!
//! `Ready=True` says the ConfigMap and Secret are written; the pods see
//! them only when the kubelet refreshes the mounted volumes (a minute or
//! two), and a team changing a rule wants to know when it holds
//! everywhere. The sidecar names the hash of what it serves on its admin
//! port; the operator asks each running pod and counts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// How many running pods serve the settings last written, and since when.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The hash of the settings last written (the generated ConfigMap's
    /// `portcullis.dev/config-hash` annotation).
    pub config_hash: String,
    /// Running pods that serve these settings: injected pods, or a
    /// forward-auth service's.
    pub pods: i32,
    /// Of them, how many serve `configHash`.
    pub pods_current: i32,
    /// When the operator wrote these settings (or first saw them).
    pub started_at: Time,
    /// When every running pod first served them; absent while some do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    /// Seconds from `startedAt` to `completedAt`: how long the roll-out took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<i64>,
    /// Which pods do not serve them yet, and why, for people.
    pub message: String,
}
