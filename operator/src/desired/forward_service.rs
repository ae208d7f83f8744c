//! The Deployment and Service of an `OidcSettings` run as a forward-auth
//! service (`spec.forwardAuth`).
//!
//! The pods run the sidecar container the webhook injects elsewhere, as
//! their only container, with the same generated ConfigMap and Secret
//! mounted: the config the operator renders has `forwardAuth` and no
//! upstream, so the binary answers questions instead of proxying. The
//! Service is what an ingress's `auth-url`, a Traefik middleware or an
//! Envoy `ext_authz` cluster points at; it targets the ports by number (a
//! named port resolves everywhere here, but numbers read the same in every
//! snippet).

use crate::crd::OidcSettings;
use crate::desired::objects::{MissingMeta, meta};
use crate::names::{
    GRPC_PORT_NAME, INJECT_LABEL, PUBLIC_PORT_NAME, SETTINGS_LABEL, forward_auth_name,
};
use crate::sidecar_container::{
    SidecarOptions, SidecarPorts, port, sidecar_container, sidecar_volumes,
};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    LocalObjectReference, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use std::collections::BTreeMap;

/// The label that tells a forward-auth pod from anything else of the
/// same settings.
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// Its value on a forward-auth service's objects.
const COMPONENT: &str = "forward-auth";

/// The labels that select the forward-auth pods of the settings `name`.
pub fn forward_pod_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (SETTINGS_LABEL.to_owned(), name.to_owned()),
        (COMPONENT_LABEL.to_owned(), COMPONENT.to_owned()),
    ])
}

/// The labels that select the pods serving `owner`'s settings: its
/// forward-auth service's, or the pods injected with its sidecar.
pub fn serving_pod_labels(owner: &OidcSettings) -> BTreeMap<String, String> {
    let name = owner.name_any();
    match owner.spec.forward_auth {
        Some(_) => forward_pod_labels(&name),
        None => BTreeMap::from([(INJECT_LABEL.to_owned(), name)]),
    }
}

/// Why the settings `name` cannot run a forward-auth service: its Service
/// `<name>-portcullis-forward` must be a DNS label (RFC 1035: a lowercase
/// letter first, letters, digits and `-`, at most 63 characters), which a
/// resource name (a DNS subdomain, dots allowed) need not be.
pub fn service_name_problem(name: &str) -> Option<String> {
    let service = forward_auth_name(name);
    let longest = MAX_SERVICE_NAME - (service.len() - name.len());
    if service.len() > MAX_SERVICE_NAME {
        return Some(format!(
            "with spec.forwardAuth at most {longest} characters, as the Service {service} must fit in {MAX_SERVICE_NAME}"
        ));
    }
    let label = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (!label).then(|| {
        format!(
            "with spec.forwardAuth a lowercase letter first, then only letters, digits and -, as the Service {service} must be a DNS label"
        )
    })
}

/// The longest Service name (a DNS label).
const MAX_SERVICE_NAME: usize = 63;

/// The Deployment and Service of `owner`, or `None` when it is not run as
/// a forward-auth service.
pub fn forward_service(
    owner: &OidcSettings,
    options: &SidecarOptions,
) -> Result<Option<(Deployment, Service)>, MissingMeta> {
    let Some(forward) = &owner.spec.forward_auth else {
        return Ok(None);
    };
    let name = forward_auth_name(&owner.name_any());
    let mut metadata = meta(owner, name, None)?;
    let selector = forward_pod_labels(&owner.name_any());
    if let Some(labels) = metadata.labels.as_mut() {
        labels.extend(selector.clone());
    }
    let ports = SidecarPorts {
        listen: owner.spec.listen_port,
        admin: owner.spec.admin_port,
    };
    let mut container = sidecar_container(options, ports);
    // A regular container here: only an init container restarts on its own.
    container.restart_policy = None;
    if let (Some(grpc), Some(container_ports)) = (forward.grpc_port, container.ports.as_mut()) {
        container_ports.push(port(GRPC_PORT_NAME, grpc));
    }
    let pod = PodSpec {
        containers: vec![container],
        volumes: Some(sidecar_volumes(&owner.name_any())),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        image_pull_secrets: (!options.image_pull_secrets.is_empty()).then(|| {
            options
                .image_pull_secrets
                .iter()
                .map(|name| LocalObjectReference { name: name.clone() })
                .collect()
        }),
        ..PodSpec::default()
    };
    let deployment = Deployment {
        metadata: metadata.clone(),
        spec: Some(DeploymentSpec {
            replicas: Some(forward.replicas.unwrap_or(1)),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: metadata.labels.clone(),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    };
    let mut service_ports = vec![service_port(PUBLIC_PORT_NAME, owner.spec.listen_port, None)];
    if let Some(grpc) = forward.grpc_port {
        // gRPC is HTTP/2 without TLS: meshes and gateways read this.
        service_ports.push(service_port(
            GRPC_PORT_NAME,
            grpc,
            Some("kubernetes.io/h2c"),
        ));
    }
    let service = Service {
        metadata,
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(service_ports),
            ..ServiceSpec::default()
        }),
        status: None,
    };
    Ok(Some((deployment, service)))
}

fn service_port(name: &str, port: i32, app_protocol: Option<&str>) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        app_protocol: app_protocol.map(Into::into),
        ..ServicePort::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd_forward::ForwardAuthSpec;
    use crate::desired::config::tests::spec;
    use crate::sidecar_container::tests::options;

    #[test]
    fn a_name_the_service_cannot_carry_is_a_problem_naming_the_limit() {
        assert_eq!(service_name_problem("books"), None);
        assert_eq!(service_name_problem(&"a".repeat(44)), None);
        let long = service_name_problem(&"a".repeat(45)).expect("too long");
        assert!(long.contains("at most 44 characters"), "{long}");
        for name in ["books.media", "9books"] {
            let problem = service_name_problem(name).expect("not a DNS label");
            assert!(problem.contains("DNS label"), "{name}: {problem}");
        }
    }

    fn owner(forward: Option<ForwardAuthSpec>) -> OidcSettings {
        let mut spec = spec();
        spec.forward_auth = forward;
        let mut owner = OidcSettings::new("books", spec);
        owner.metadata.namespace = Some("media".into());
        owner.metadata.uid = Some("uid-1".into());
        owner
    }

    #[test]
    fn settings_without_forward_auth_run_no_service() {
        assert!(
            forward_service(&owner(None), &options())
                .expect("meta")
                .is_none()
        );
    }

    #[test]
    fn the_service_runs_the_sidecar_container_as_its_only_one_with_the_generated_files() {
        let forward = ForwardAuthSpec {
            replicas: Some(3),
            hosts: Vec::new(),
            grpc_port: Some(9191),
        };
        let (deployment, service) = forward_service(&owner(Some(forward)), &options())
            .expect("meta")
            .expect("a service");
        assert_eq!(
            deployment.metadata.name.as_deref(),
            Some("books-portcullis-forward")
        );
        assert_eq!(deployment.metadata.namespace.as_deref(), Some("media"));
        let owners = deployment
            .metadata
            .owner_references
            .as_ref()
            .expect("owner");
        assert_eq!(owners[0].name, "books");
        let spec = deployment.spec.expect("spec");
        assert_eq!(spec.replicas, Some(3));
        let selector = spec.selector.match_labels.expect("selector");
        let template_labels = spec
            .template
            .metadata
            .and_then(|meta| meta.labels)
            .expect("labels");
        for (key, value) in &selector {
            assert_eq!(template_labels.get(key), Some(value), "{key}");
        }
        let pod = spec.template.spec.expect("pod");
        assert_eq!(pod.containers.len(), 1);
        assert!(pod.init_containers.is_none());
        let container = &pod.containers[0];
        assert_eq!(
            container.restart_policy, None,
            "only init containers restart"
        );
        assert_eq!(container.image.as_deref(), Some(options().image.as_str()));
        let ports: Vec<i32> = container
            .ports
            .iter()
            .flatten()
            .map(|port| port.container_port)
            .collect();
        assert_eq!(ports, [4180, 9090, 9191]);
        let volumes: Vec<String> = pod
            .volumes
            .iter()
            .flatten()
            .filter_map(|volume| {
                volume
                    .config_map
                    .as_ref()
                    .map(|config| config.name.clone())
                    .or_else(|| {
                        volume
                            .secret
                            .as_ref()
                            .and_then(|secret| secret.secret_name.clone())
                    })
            })
            .collect();
        assert_eq!(volumes, ["books-portcullis", "books-portcullis"]);
        assert_eq!(pod.automount_service_account_token, Some(false));

        let service_spec = service.spec.expect("spec");
        assert_eq!(service_spec.selector.as_ref(), Some(&selector));
        let service_ports: Vec<(i32, Option<String>)> = service_spec
            .ports
            .iter()
            .flatten()
            .map(|port| (port.port, port.app_protocol.clone()))
            .collect();
        assert_eq!(
            service_ports,
            [(4180, None), (9191, Some("kubernetes.io/h2c".to_owned()))]
        );
    }

    #[test]
    fn one_replica_and_no_grpc_port_by_default() {
        let (deployment, service) =
            forward_service(&owner(Some(ForwardAuthSpec::default())), &options())
                .expect("meta")
                .expect("a service");
        assert_eq!(deployment.spec.and_then(|spec| spec.replicas), Some(1));
        assert_eq!(
            service
                .spec
                .and_then(|spec| spec.ports)
                .map(|ports| ports.len()),
            Some(1)
        );
    }
}
