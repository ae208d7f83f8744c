//! The `/mutate` endpoint: an `AdmissionReview` in, an `AdmissionReview` out.
//!
//! Anything that goes wrong answers with a denial that says why, never with an
//! allowed pod that lacks its sidecar. The only lookups are the `OidcSettings`
//! (for the sidecar's ports) and the metadata of its generated ConfigMap and
//! Secret (never Secret data).

use crate::crd::OidcSettings;
use crate::metrics::Metrics;
use crate::names::generated_name;
use crate::sidecar_container::{SidecarOptions, SidecarPorts};
use crate::webhook::patch::{Plan, SettingsState, generated_objects, inject, plan};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::Client;
use kube::api::Api;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use std::sync::Arc;
use tracing::{info, warn};

/// Path the webhook configuration points at.
pub const MUTATE_PATH: &str = "/mutate";

/// What the handler needs.
#[derive(Clone)]
pub struct AdmissionState {
    /// API client (for the lookups).
    pub client: Client,
    /// The sidecar as the flags configure it.
    pub options: Arc<SidecarOptions>,
    /// Admission counters.
    pub metrics: Arc<Metrics>,
}

/// The webhook router.
pub fn app(state: AdmissionState) -> Router {
    Router::new()
        .route(MUTATE_PATH, post(mutate))
        .with_state(state)
}

async fn mutate(
    State(state): State<AdmissionState>,
    Json(review): Json<AdmissionReview<Pod>>,
) -> Json<AdmissionReview<DynamicObject>> {
    let request: AdmissionRequest<Pod> = match review.try_into() {
        Ok(request) => request,
        Err(error) => {
            state.metrics.admitted("denied");
            return Json(AdmissionResponse::invalid(error.to_string()).into_review());
        }
    };
    let response = AdmissionResponse::from(&request);
    let (response, outcome) = answer(&state, &request, response).await;
    state.metrics.admitted(outcome);
    Json(response.into_review())
}

async fn answer(
    state: &AdmissionState,
    request: &AdmissionRequest<Pod>,
    response: AdmissionResponse,
) -> (AdmissionResponse, &'static str) {
    let Some(pod) = &request.object else {
        return (response, "unchanged");
    };
    let settings = match plan(pod) {
        Plan::Leave => return (response, "unchanged"),
        Plan::Deny(message) => return (response.deny(message), "denied"),
        Plan::Lookup(settings) => settings,
    };
    let namespace = request.namespace.clone().unwrap_or_default();
    let found = match lookup(&state.client, &namespace, &settings).await {
        Ok(found) => found,
        Err(error) => {
            warn!(%error, namespace, settings, "cannot look up the OidcSettings");
            let message = format!(
                "cannot check OidcSettings {settings:?} in namespace {namespace:?} ({error}); try again"
            );
            return (response.deny(message), "denied");
        }
    };
    match inject(pod, &namespace, &settings, &found, &state.options) {
        Ok(patch) => match response.with_patch(patch) {
            Ok(response) => {
                info!(namespace, settings, "injected the sidecar");
                (response, "injected")
            }
            Err(error) => (AdmissionResponse::invalid(error.to_string()), "denied"),
        },
        Err(message) => {
            info!(namespace, settings, message, "refused a pod");
            (response.deny(message), "denied")
        }
    }
}

/// Whether `settings` exists in `namespace` with its generated objects.
async fn lookup(
    client: &Client,
    namespace: &str,
    settings: &str,
) -> Result<SettingsState, kube::Error> {
    let all: Api<OidcSettings> = Api::namespaced(client.clone(), namespace);
    let Some(found) = all.get_opt(settings).await? else {
        return Ok(SettingsState::Missing);
    };
    if found.spec.forward_auth.is_some() {
        return Ok(SettingsState::ForwardAuth);
    }
    let ports = SidecarPorts {
        listen: found.spec.listen_port,
        admin: found.spec.admin_port,
    };
    let name = generated_name(settings);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let (config_map, secret) = tokio::try_join!(
        config_maps.get_metadata_opt(&name),
        secrets.get_metadata_opt(&name)
    )?;
    let [config_map_name, secret_name] = generated_objects(settings);
    let mut missing = Vec::new();
    if config_map.is_none() {
        missing.push(config_map_name);
    }
    if secret.is_none() {
        missing.push(secret_name);
    }
    Ok(if missing.is_empty() {
        SettingsState::Ready(ports)
    } else {
        SettingsState::NotReady(missing)
    })
}
