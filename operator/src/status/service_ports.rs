//! Whether the Services in front of injected pods reach the sidecar.
//!
//! A Service whose `targetPort` names a sidecar port (`portcullis`, `portcullis-adm`)
//! gets no endpoints on Kubernetes before 1.33: the EndpointSlice
//! controller did not look up named ports of native sidecars (init
//! containers with `restartPolicy: Always`), which the injected sidecar
//! is. Nothing else says so: the pods are ready and the Service is empty.
//! A warning, since the Service may be meant for something else.

use super::check::{Check, SERVICE_PORTS};
use super::reason::Reason;
use crate::cluster_version::{ClusterVersion, RESOLVES_NAMED_SIDECAR_PORTS};
use crate::names::{ADMIN_PORT_NAME, PUBLIC_PORT_NAME};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

/// The check for a cluster at `version` (`None`: unknown) with the
/// namespace's `services` (read only when the cluster cannot resolve the
/// names), the sidecar's public port being `port` and its admin port
/// `admin_port`.
pub fn service_ports(
    version: Option<ClusterVersion>,
    services: &[Service],
    port: i32,
    admin_port: i32,
) -> Check {
    let Some(version) = version else {
        return Check::new(
            SERVICE_PORTS,
            None,
            Reason::NotChecked,
            "the API server's version could not be read",
        );
    };
    if version.resolves_named_sidecar_ports() {
        return Check::new(
            SERVICE_PORTS,
            Some(true),
            Reason::NamedSidecarPortsResolved,
            format!(
                "Kubernetes {version} resolves a Service's targetPort `{PUBLIC_PORT_NAME}` to the sidecar's port"
            ),
        );
    }
    let numbers = [(PUBLIC_PORT_NAME, port), (ADMIN_PORT_NAME, admin_port)];
    let naming: Vec<String> = services
        .iter()
        .flat_map(|service| {
            named_sidecar_ports(service).filter_map(|name| {
                let (name, number) = numbers.iter().find(|(known, _)| *known == name)?;
                Some(format!(
                    "Service {} names targetPort `{name}` (write targetPort: {number})",
                    service.name_any()
                ))
            })
        })
        .collect();
    if naming.is_empty() {
        return Check::new(
            SERVICE_PORTS,
            Some(true),
            Reason::NamedSidecarPortsResolved,
            format!(
                "no Service here names the sidecar's port; on Kubernetes {version}, give targetPort as the number {port}"
            ),
        );
    }
    Check::new(
        SERVICE_PORTS,
        Some(false),
        Reason::NamedSidecarPort,
        format!(
            "{}: Kubernetes {version} gives such a Service no endpoints (a native sidecar's named port is resolved from {RESOLVES_NAMED_SIDECAR_PORTS})",
            naming.join("; ")
        ),
    )
}

/// The sidecar's port names the ports of `service` target.
fn named_sidecar_ports(service: &Service) -> impl Iterator<Item = &str> {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|port| match port.target_port.as_ref() {
            Some(IntOrString::String(name))
                if name == PUBLIC_PORT_NAME || name == ADMIN_PORT_NAME =>
            {
                Some(name.as_str())
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
    use kube::api::ObjectMeta;

    fn service(name: &str, target: IntOrString) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                ports: Some(vec![ServicePort {
                    port: 80,
                    target_port: Some(target),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }
    }

    const OLD: ClusterVersion = ClusterVersion {
        major: 1,
        minor: 32,
    };

    #[test]
    fn a_service_naming_the_sidecars_port_on_an_old_cluster_is_named_with_the_number_to_write() {
        let services = [
            service("books", IntOrString::String(PUBLIC_PORT_NAME.to_owned())),
            service("films", IntOrString::Int(4180)),
            service("metrics", IntOrString::String("http".to_owned())),
        ];
        let check = service_ports(Some(OLD), &services, 4180, 9090);
        assert_eq!(check.passed, Some(false));
        assert_eq!(check.reason, Reason::NamedSidecarPort);
        assert!(!check.blocking, "a warning");
        assert!(
            check.message.contains("Service books names"),
            "{}",
            check.message
        );
        assert!(!check.message.contains("films"), "{}", check.message);
        assert!(
            check.message.contains("targetPort: 4180"),
            "{}",
            check.message
        );
        assert!(check.message.contains("1.32"), "{}", check.message);
    }

    #[test]
    fn a_service_naming_the_admin_port_is_told_the_admin_ports_number() {
        let services = [service(
            "books-metrics",
            IntOrString::String(ADMIN_PORT_NAME.to_owned()),
        )];
        let check = service_ports(Some(OLD), &services, 4180, 9090);
        assert_eq!(check.reason, Reason::NamedSidecarPort);
        assert!(
            check.message.contains(&format!(
                "names targetPort `{ADMIN_PORT_NAME}` (write targetPort: 9090)"
            )),
            "{}",
            check.message
        );
        assert!(!check.message.contains("4180"), "{}", check.message);
    }

    #[test]
    fn numbers_on_an_old_cluster_and_names_on_a_new_one_pass() {
        let by_number = [service("books", IntOrString::Int(4180))];
        assert_eq!(
            service_ports(Some(OLD), &by_number, 4180, 9090).passed,
            Some(true)
        );
        let by_name = [service(
            "books",
            IntOrString::String(PUBLIC_PORT_NAME.to_owned()),
        )];
        let new = ClusterVersion {
            major: 1,
            minor: 33,
        };
        let check = service_ports(Some(new), &by_name, 4180, 9090);
        assert_eq!(check.passed, Some(true));
        assert_eq!(check.reason, Reason::NamedSidecarPortsResolved);
        assert_eq!(service_ports(None, &by_name, 4180, 9090).passed, None);
    }
}
