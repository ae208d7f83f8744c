//! What the webhook does with one Pod: leave it, refuse it, or the JSON Patch
//! that injects the sidecar. Pure: the one fact that needs the API server
//! (does the named `OidcSettings` exist, with its generated objects) comes in
//! as a [`SettingsState`].
//!
//! A pod is injected once: the patch adds an annotation, and a pod carrying
//! it is left as it is, so a reinvocation of the webhook, or a pod read back
//! and submitted again, never gets a second sidecar.

use crate::names::{
    CONFIG_VOLUME, INJECT_LABEL, INJECTED_ANNOTATION, SECRET_VOLUME, SIDECAR_CONTAINER,
    generated_name,
};
use crate::sidecar_container::{SidecarOptions, SidecarPorts, sidecar_container, sidecar_volumes};
use crate::webhook::pre_stop::pre_stop_additions;
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation};
use k8s_openapi::api::core::v1::{LocalObjectReference, Pod};
use kube::ResourceExt;
use serde::Serialize;
use serde_json::Value;

/// The first step, from the pod alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Not for us (no label) or already injected: admit unchanged.
    Leave,
    /// Refuse, with this message.
    Deny(String),
    /// Look up this `OidcSettings` in the pod's namespace, then [`inject`].
    Lookup(String),
}

/// What the API server holds for the `OidcSettings` a pod names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsState {
    /// No such `OidcSettings` in the namespace.
    Missing,
    /// It exists, but these generated objects do not yet (e.g. `ConfigMap books-portcullis`).
    NotReady(Vec<String>),
    /// It runs as a forward-auth service, whose config has no app to proxy to.
    ForwardAuth,
    /// It exists with its generated ConfigMap and Secret; the sidecar uses these ports.
    Ready(SidecarPorts),
}

/// Decides what to do with `pod` before anything is looked up.
pub fn plan(pod: &Pod) -> Plan {
    let Some(settings) = pod.labels().get(INJECT_LABEL) else {
        return Plan::Leave;
    };
    if pod.annotations().contains_key(INJECTED_ANNOTATION) {
        return Plan::Leave;
    }
    if settings.is_empty() {
        return Plan::Deny(format!(
            "label {INJECT_LABEL} is empty: set it to the name of an OidcSettings in this namespace"
        ));
    }
    if let Some(conflict) = conflict(pod) {
        return Plan::Deny(format!(
            "the pod already has {conflict} but no {INJECTED_ANNOTATION} annotation: \
             remove it and let the webhook add the sidecar, or remove the label {INJECT_LABEL}"
        ));
    }
    Plan::Lookup(settings.clone())
}

/// The patch that injects the sidecar of `settings` into `pod`, or the
/// reason to refuse it.
pub fn inject(
    pod: &Pod,
    namespace: &str,
    settings: &str,
    state: &SettingsState,
    options: &SidecarOptions,
) -> Result<Patch, String> {
    match state {
        SettingsState::Missing => {
            return Err(format!(
                "OidcSettings {settings:?} (named by the pod's label {INJECT_LABEL}) does not exist \
                 in namespace {namespace:?}: create it first, or correct the label"
            ));
        }
        SettingsState::NotReady(missing) => {
            return Err(format!(
                "OidcSettings {settings:?} in namespace {namespace:?} is not ready: {} not generated yet; \
                 see `kubectl describe oidcsettings {settings} -n {namespace}` and check that the \
                 operator runs, then create the pod again",
                missing.join(" and ")
            ));
        }
        SettingsState::ForwardAuth => {
            return Err(format!(
                "OidcSettings {settings:?} in namespace {namespace:?} runs as a forward-auth service                  (spec.forwardAuth): it protects apps through the ingress or gateway that asks it,                  not as a sidecar; remove the pod's label {INJECT_LABEL}, or name settings without forwardAuth"
            ));
        }
        SettingsState::Ready(_) => {}
    }
    let ports = match state {
        SettingsState::Ready(ports) => *ports,
        _ => SidecarPorts::default(),
    };
    let mut ops = Vec::new();
    let value = Value::String(settings.to_owned());
    ops.push(match &pod.metadata.annotations {
        None => add(
            &["metadata", "annotations"],
            Value::Object(
                [(INJECTED_ANNOTATION.to_owned(), value)]
                    .into_iter()
                    .collect(),
            ),
        )?,
        Some(_) => add(&["metadata", "annotations", INJECTED_ANNOTATION], value)?,
    });
    let spec = pod.spec.as_ref();
    ops.push(append(
        &["spec", "initContainers"],
        spec.and_then(|s| s.init_containers.as_ref()).is_some(),
        &[sidecar_container(options, ports)],
    )?);
    ops.extend(
        sidecar_volumes(settings)
            .iter()
            .enumerate()
            .map(|(i, volume)| {
                let exists = i > 0 || spec.and_then(|s| s.volumes.as_ref()).is_some();
                append(&["spec", "volumes"], exists, std::slice::from_ref(volume))
            })
            .collect::<Result<Vec<_>, _>>()?,
    );
    ops.extend(pull_secret_additions(pod, &options.image_pull_secrets)?);
    for (path, value) in pre_stop_additions(pod, options.app_pre_stop_sleep_seconds)? {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        ops.push(add(&path, value)?);
    }
    Ok(Patch(ops))
}

/// Adds each of `secrets` the pod does not list yet to its `imagePullSecrets`.
fn pull_secret_additions(pod: &Pod, secrets: &[String]) -> Result<Vec<PatchOperation>, String> {
    let listed = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.image_pull_secrets.as_ref());
    let mut exists = listed.is_some();
    let mut ops = Vec::new();
    for secret in secrets {
        if listed.is_some_and(|listed| listed.iter().any(|known| &known.name == secret)) {
            continue;
        }
        let reference = LocalObjectReference {
            name: secret.clone(),
        };
        ops.push(append(
            &["spec", "imagePullSecrets"],
            exists,
            std::slice::from_ref(&reference),
        )?);
        exists = true;
    }
    Ok(ops)
}

/// The names the generated objects of `settings` have, as a pod mounts them.
pub fn generated_objects(settings: &str) -> [String; 2] {
    let name = generated_name(settings);
    [format!("ConfigMap {name}"), format!("Secret {name}")]
}

/// What in `pod` would clash with the sidecar, if anything.
fn conflict(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    if containers.into_iter().any(|c| c.name == SIDECAR_CONTAINER) {
        return Some(format!("a container named {SIDECAR_CONTAINER:?}"));
    }
    spec.volumes
        .iter()
        .flatten()
        .find(|v| v.name == CONFIG_VOLUME || v.name == SECRET_VOLUME)
        .map(|v| format!("a volume named {:?}", v.name))
}

/// Adds `items` to the list at `path`: the whole list when it does not exist
/// yet, else each at its end.
fn append<T: Serialize>(
    path: &[&str],
    exists: bool,
    items: &[T],
) -> Result<PatchOperation, String> {
    let value = serde_json::to_value(items).map_err(|e| e.to_string())?;
    match (exists, value) {
        (false, value) => add(path, value),
        (true, Value::Array(mut values)) if values.len() == 1 => {
            let mut end = path.to_vec();
            end.push("-");
            add(&end, values.remove(0))
        }
        _ => Err("one item at a time".into()),
    }
}

fn add(path: &[&str], value: Value) -> Result<PatchOperation, String> {
    Ok(PatchOperation::Add(AddOperation {
        path: PointerBuf::from_tokens(path.iter().copied()),
        value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar_container::tests::options;
    use k8s_openapi::api::core::v1::{Container, PodSpec, Volume};
    use std::collections::BTreeMap;

    fn pod(label: Option<&str>) -> Pod {
        let mut pod = Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    image: Some("app:1".into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            ..Pod::default()
        };
        if let Some(label) = label {
            pod.metadata.labels = Some(BTreeMap::from([(INJECT_LABEL.into(), label.into())]));
        }
        pod
    }

    fn patched(pod: &Pod, patch: &Patch) -> Pod {
        let mut value = serde_json::to_value(pod).expect("serializes");
        json_patch::patch(&mut value, patch).expect("applies");
        serde_json::from_value(value).expect("still a pod")
    }

    fn injected(pod: &Pod) -> Pod {
        let Plan::Lookup(settings) = plan(pod) else {
            panic!("expected a lookup, got {:?}", plan(pod));
        };
        let patch = inject(
            pod,
            "media",
            &settings,
            &SettingsState::Ready(SidecarPorts::default()),
            &options(),
        )
        .expect("injects");
        patched(pod, &patch)
    }

    #[test]
    fn pull_secrets_for_the_sidecar_are_added_once_beside_the_pods_own() {
        let mut options = options();
        options.image_pull_secrets = vec!["mirror".into(), "team-pull".into()];
        let inject_with = |pod: &Pod| {
            let patch = inject(
                pod,
                "media",
                "books",
                &SettingsState::Ready(SidecarPorts::default()),
                &options,
            )
            .expect("injects");
            let names: Vec<String> = patched(pod, &patch)
                .spec
                .and_then(|spec| spec.image_pull_secrets)
                .unwrap_or_default()
                .into_iter()
                .map(|reference| reference.name)
                .collect();
            names
        };
        assert_eq!(inject_with(&pod(Some("books"))), ["mirror", "team-pull"]);
        let mut own = pod(Some("books"));
        if let Some(spec) = own.spec.as_mut() {
            spec.image_pull_secrets = Some(vec![LocalObjectReference {
                name: "team-pull".into(),
            }]);
        }
        assert_eq!(inject_with(&own), ["team-pull", "mirror"]);
    }

    #[test]
    fn unlabelled_pod_is_left_alone() {
        assert_eq!(plan(&pod(None)), Plan::Leave);
    }

    #[test]
    fn labelled_pod_gets_sidecar_volumes_and_annotation() {
        let pod = injected(&pod(Some("books")));
        assert_eq!(pod.annotations()[INJECTED_ANNOTATION], "books");
        let spec = pod.spec.expect("spec");
        let init = spec.init_containers.expect("init containers");
        assert_eq!(init.len(), 1);
        assert_eq!(
            init[0],
            sidecar_container(&options(), SidecarPorts::default())
        );
        assert_eq!(
            spec.containers.len(),
            1,
            "no container is added beside the app"
        );
        assert_eq!(spec.volumes.expect("volumes"), sidecar_volumes("books"));
    }

    #[test]
    fn existing_lists_and_annotations_are_kept_and_extended() {
        let mut pod = pod(Some("books"));
        pod.metadata.annotations = Some(BTreeMap::from([("team".into(), "media".into())]));
        let spec = pod.spec.as_mut().expect("spec");
        spec.init_containers = Some(vec![Container {
            name: "migrate".into(),
            ..Container::default()
        }]);
        spec.volumes = Some(vec![Volume {
            name: "data".into(),
            ..Volume::default()
        }]);
        let pod = injected(&pod);
        assert_eq!(pod.annotations()["team"], "media");
        assert_eq!(pod.annotations()[INJECTED_ANNOTATION], "books");
        let spec = pod.spec.expect("spec");
        let names: Vec<_> = spec
            .init_containers
            .expect("init")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["migrate", "portcullis"]);
        let volumes: Vec<_> = spec
            .volumes
            .expect("volumes")
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(volumes, ["data", "portcullis-config", "portcullis-secret"]);
    }

    #[test]
    fn an_injected_pod_is_not_injected_again() {
        let once = injected(&pod(Some("books")));
        assert_eq!(plan(&once), Plan::Leave);
    }

    #[test]
    fn a_container_named_like_the_sidecar_is_refused() {
        let mut pod = pod(Some("books"));
        pod.spec.as_mut().expect("spec").containers[0].name = "portcullis".into();
        let Plan::Deny(message) = plan(&pod) else {
            panic!("expected a denial");
        };
        assert!(
            message.contains("container named \"portcullis\""),
            "{message}"
        );
    }

    #[test]
    fn an_empty_label_is_refused() {
        assert!(matches!(plan(&pod(Some(""))), Plan::Deny(m) if m.contains("is empty")));
    }

    #[test]
    fn missing_settings_are_refused_naming_them_and_the_namespace() {
        let error = inject(
            &pod(Some("films")),
            "media",
            "films",
            &SettingsState::Missing,
            &options(),
        )
        .expect_err("refused");
        assert!(error.contains("OidcSettings \"films\""), "{error}");
        assert!(error.contains("namespace \"media\""), "{error}");
        assert!(error.contains("create it first"), "{error}");
    }

    #[test]
    fn settings_run_as_a_forward_auth_service_are_not_injected() {
        let error = inject(
            &pod(Some("books")),
            "media",
            "books",
            &SettingsState::ForwardAuth,
            &options(),
        )
        .expect_err("refused");
        assert!(error.contains("forward-auth service"), "{error}");
        assert!(error.contains(INJECT_LABEL), "{error}");
    }

    #[test]
    fn settings_without_generated_objects_are_refused_naming_them() {
        let missing = generated_objects("books").to_vec();
        let error = inject(
            &pod(Some("books")),
            "media",
            "books",
            &SettingsState::NotReady(missing),
            &options(),
        )
        .expect_err("refused");
        assert!(
            error.contains("ConfigMap books-portcullis and Secret books-portcullis"),
            "{error}"
        );
    }
}
