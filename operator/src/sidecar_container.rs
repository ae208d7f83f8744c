//! The sidecar container and its volumes: what the webhook adds to a pod,
//! and what a forward-auth Deployment runs.
//!
//! Injected, the sidecar is a *native* sidecar: an init container with
//! `restartPolicy: Always`, so the kubelet starts it (and waits for its
//! readiness probe) before the app's containers, and stops it after them;
//! a forward-auth Deployment runs the same container as its only one.
//! Its security context passes the Pod Security Standards `restricted`
//! profile on its own, whatever the pod sets. Ports, probe paths and mount
//! folders come from the contract crate, the same constants the generated
//! config is rendered from.

use crate::names::{
    ADMIN_PORT_NAME, CONFIG_DIR, CONFIG_KEY, CONFIG_VOLUME, PUBLIC_PORT_NAME, SECRET_DIR,
    SECRET_VOLUME, SIDECAR_CONTAINER, generated_name,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, HTTPGetAction, Probe,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use portcullis_contract::defaults::{DEFAULT_ADMIN_PORT, DEFAULT_PORT};
use portcullis_contract::paths::{HEALTHZ_PATH, READYZ_PATH};
use std::collections::BTreeMap;

/// The user and group the sidecar runs as (a conventional non-root id).
pub const SIDECAR_UID: i64 = 65532;

/// What the operator's flags decide about every injected sidecar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SidecarOptions {
    /// Container image of `portcullis-sidecar`.
    pub image: String,
    /// `Always`, `IfNotPresent` or `Never`.
    pub pull_policy: String,
    /// CPU request, e.g. `10m`.
    pub cpu_request: String,
    /// Memory request, e.g. `32Mi`.
    pub memory_request: String,
    /// CPU limit; `None` leaves the CPU unthrottled.
    pub cpu_limit: Option<String>,
    /// Memory limit, e.g. `128Mi`.
    pub memory_limit: String,
    /// The `preStop` sleep given to the app's containers that have none
    /// (see [`super::pre_stop`]); 0: none.
    pub app_pre_stop_sleep_seconds: i64,
    /// Secrets (names) added to the pod's `imagePullSecrets` for the
    /// sidecar's image.
    pub image_pull_secrets: Vec<String>,
    /// More environment variables of the sidecar.
    pub env: Vec<(String, String)>,
}

/// The sidecar's two ports, from the `OidcSettings` it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SidecarPorts {
    /// The public listener (`spec.listenPort`).
    pub listen: i32,
    /// Health and metrics (`spec.adminPort`).
    pub admin: i32,
}

impl Default for SidecarPorts {
    fn default() -> Self {
        Self {
            listen: i32::from(DEFAULT_PORT),
            admin: i32::from(DEFAULT_ADMIN_PORT),
        }
    }
}

/// The sidecar container, as the operator's flags and the `OidcSettings`'
/// ports configure it.
pub fn sidecar_container(options: &SidecarOptions, ports: SidecarPorts) -> Container {
    let mut limits =
        BTreeMap::from([("memory".to_owned(), Quantity(options.memory_limit.clone()))]);
    if let Some(cpu) = &options.cpu_limit {
        limits.insert("cpu".into(), Quantity(cpu.clone()));
    }
    Container {
        name: SIDECAR_CONTAINER.into(),
        image: Some(options.image.clone()),
        image_pull_policy: Some(options.pull_policy.clone()),
        args: Some(vec![
            "--config".into(),
            format!("{CONFIG_DIR}/{CONFIG_KEY}"),
        ]),
        restart_policy: Some("Always".into()),
        ports: Some(vec![
            port(PUBLIC_PORT_NAME, ports.listen),
            port(ADMIN_PORT_NAME, ports.admin),
        ]),
        liveness_probe: Some(probe(HEALTHZ_PATH, 3)),
        readiness_probe: Some(probe(READYZ_PATH, 1)),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), Quantity(options.cpu_request.clone())),
                (
                    "memory".to_owned(),
                    Quantity(options.memory_request.clone()),
                ),
            ])),
            limits: Some(limits),
            ..ResourceRequirements::default()
        }),
        security_context: Some(restricted()),
        volume_mounts: Some(vec![
            mount(CONFIG_VOLUME, CONFIG_DIR),
            mount(SECRET_VOLUME, SECRET_DIR),
        ]),
        env: (!options.env.is_empty()).then(|| {
            options
                .env
                .iter()
                .map(|(name, value)| EnvVar {
                    name: name.clone(),
                    value: Some(value.clone()),
                    ..EnvVar::default()
                })
                .collect()
        }),
        ..Container::default()
    }
}

/// The volumes of the generated ConfigMap and Secret for `settings`.
pub fn sidecar_volumes(settings: &str) -> Vec<Volume> {
    let name = generated_name(settings);
    vec![
        Volume {
            name: CONFIG_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: name.clone(),
                optional: Some(false),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: SECRET_VOLUME.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(name),
                optional: Some(false),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
    ]
}

/// Non-root, read-only root filesystem, no privilege escalation, no
/// capabilities, the runtime's default seccomp profile.
fn restricted() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(SIDECAR_UID),
        run_as_group: Some(SIDECAR_UID),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..SecurityContext::default()
    }
}

/// A named TCP port of the sidecar container.
pub fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

fn probe(path: &str, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(ADMIN_PORT_NAME.into()),
            scheme: Some("HTTP".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(5),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    }
}

fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn options() -> SidecarOptions {
        SidecarOptions {
            image: "localhost/portcullis-sidecar:test".into(),
            pull_policy: "IfNotPresent".into(),
            cpu_request: "10m".into(),
            memory_request: "32Mi".into(),
            cpu_limit: None,
            memory_limit: "128Mi".into(),
            app_pre_stop_sleep_seconds: 5,
            image_pull_secrets: Vec::new(),
            env: Vec::new(),
        }
    }

    #[test]
    fn extra_environment_variables_reach_the_sidecar_and_none_means_no_env() {
        assert_eq!(
            sidecar_container(&options(), SidecarPorts::default()).env,
            None
        );
        let mut options = options();
        options.env = vec![("RUST_LOG".into(), "debug".into())];
        let env = sidecar_container(&options, SidecarPorts::default())
            .env
            .expect("env");
        assert_eq!(
            env.iter()
                .map(|var| (var.name.as_str(), var.value.as_deref()))
                .collect::<Vec<_>>(),
            [("RUST_LOG", Some("debug"))]
        );
    }

    #[test]
    fn sidecar_is_a_native_sidecar_reading_the_mounted_config() {
        let container = sidecar_container(&options(), SidecarPorts::default());
        assert_eq!(container.restart_policy.as_deref(), Some("Always"));
        assert_eq!(
            container.args,
            Some(vec![
                "--config".to_owned(),
                "/etc/portcullis/config/sidecar.yaml".to_owned()
            ])
        );
        let mounts = container.volume_mounts.expect("mounts");
        assert!(mounts.iter().all(|m| m.read_only == Some(true)));
        assert!(
            mounts
                .iter()
                .any(|m| m.name == SECRET_VOLUME && m.mount_path == "/etc/portcullis/secret")
        );
    }

    #[test]
    fn port_names_are_valid_service_names() {
        for port in sidecar_container(&options(), SidecarPorts::default())
            .ports
            .expect("ports")
        {
            let name = port.name.expect("named");
            assert!(name.len() <= 15, "{name} is longer than 15 characters");
            assert!(name.chars().any(|c| c.is_ascii_lowercase()), "{name}");
        }
    }

    #[test]
    fn probes_use_the_admin_port_and_paths() {
        let container = sidecar_container(&options(), SidecarPorts::default());
        let ports = container.ports.expect("ports");
        assert_eq!(ports[0].name.as_deref(), Some("portcullis"));
        assert_eq!(ports[0].container_port, 4180);
        assert_eq!(ports[1].name.as_deref(), Some("portcullis-adm"));
        assert_eq!(ports[1].container_port, 9090);
        for (probe, path) in [
            (container.liveness_probe, "/healthz"),
            (container.readiness_probe, "/readyz"),
        ] {
            let get = probe.and_then(|p| p.http_get).expect("httpGet");
            assert_eq!(get.path.as_deref(), Some(path));
            assert_eq!(get.port, IntOrString::String("portcullis-adm".into()));
        }
    }

    #[test]
    fn ports_follow_the_settings() {
        let ports = SidecarPorts {
            listen: 8000,
            admin: 8001,
        };
        let numbers: Vec<i32> = sidecar_container(&options(), ports)
            .ports
            .expect("ports")
            .iter()
            .map(|port| port.container_port)
            .collect();
        assert_eq!(numbers, [8000, 8001]);
    }

    #[test]
    fn security_context_is_restricted() {
        let context = sidecar_container(&options(), SidecarPorts::default())
            .security_context
            .expect("context");
        assert_eq!(context.run_as_non_root, Some(true));
        assert_eq!(context.read_only_root_filesystem, Some(true));
        assert_eq!(context.allow_privilege_escalation, Some(false));
        assert_eq!(
            context.capabilities.and_then(|c| c.drop),
            Some(vec!["ALL".to_owned()])
        );
        assert_eq!(
            context.seccomp_profile.map(|p| p.type_).as_deref(),
            Some("RuntimeDefault")
        );
    }

    #[test]
    fn resources_follow_the_options() {
        let mut options = options();
        options.cpu_limit = Some("500m".into());
        let resources = sidecar_container(&options, SidecarPorts::default())
            .resources
            .expect("resources");
        let limits = resources.limits.expect("limits");
        assert_eq!(limits["cpu"], Quantity("500m".into()));
        assert_eq!(limits["memory"], Quantity("128Mi".into()));
        assert_eq!(
            resources.requests.expect("requests")["memory"],
            Quantity("32Mi".into())
        );
    }

    #[test]
    fn volumes_name_the_generated_objects() {
        let volumes = sidecar_volumes("books");
        assert_eq!(
            volumes[0].config_map.as_ref().map(|c| c.name.as_str()),
            Some("books-portcullis")
        );
        assert_eq!(
            volumes[1]
                .secret
                .as_ref()
                .and_then(|s| s.secret_name.as_deref()),
            Some("books-portcullis")
        );
    }
}
