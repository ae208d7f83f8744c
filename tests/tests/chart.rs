//! The Helm chart `charts/portcullis`, with the Helm 3 and Helm 4 releases
//! users have: it lints and renders with default and non-default values, its
//! values schema names a typo, its CRD is the generated one, and what it
//! renders is what the operator needs (restricted pod, fail-closed webhook,
//! RBAC that names what the operator is told) and what a real API server
//! accepts; `deploy/portcullis.yaml` is what it renders with default values.

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use portcullis_e2e::helm::{Helm, Rendered, chart_dir};
use portcullis_e2e::kube::rbac::DEPLOY_MANIFEST;
use portcullis_e2e::process::repo_root;
use std::collections::BTreeMap;

/// The representative non-default values: cert-manager, a ServiceMonitor,
/// two replicas, locally built images that are never pulled.
const CUSTOM: &[&str] = &[
    "--set",
    "certManager.enabled=true",
    "--set",
    "serviceMonitor.enabled=true",
    "--set",
    "replicaCount=2",
    "--set",
    "image.tag=dev",
    "--set",
    "image.pullPolicy=Never",
    "--set",
    "sidecar.image.tag=dev",
    "--set",
    "sidecar.image.pullPolicy=Never",
    "--set",
    "watchNamespace=apps",
    "--set",
    "sidecar.resources.limits.cpu=500m",
    "--set",
    "extraArgs={--retry-seconds=5}",
];

/// Release and namespace of `deploy/portcullis.yaml`.
const RELEASE: &str = "portcullis";

fn render(helm: &Helm, values: &[&str]) -> Rendered {
    helm.template(RELEASE, RELEASE, values)
        .unwrap_or_else(|error| panic!("{error:#}"))
}

/// `helm template` with `values` must fail; returns Helm's error output.
fn refused(helm: &Helm, values: &[&str]) -> String {
    match helm.template(RELEASE, RELEASE, values) {
        Ok(rendered) => panic!(
            "helm {} rendered {values:?} instead of refusing it: {:?}",
            helm.version,
            rendered.names()
        ),
        Err(error) => format!("{error:#}"),
    }
}

#[test]
fn chart_lints_under_helm_3_and_4_with_default_and_custom_values() {
    for helm in Helm::all() {
        for values in [&[][..], CUSTOM] {
            let output = helm
                .lint(values)
                .unwrap_or_else(|error| panic!("{error:#}"));
            assert!(
                output.contains("1 chart(s) linted, 0 chart(s) failed"),
                "helm {} lint {values:?}: {output}",
                helm.version
            );
        }
    }
}

#[test]
fn default_values_render_the_operator_its_webhook_and_rbac() {
    for helm in Helm::all() {
        let rendered = render(&helm, &[]);
        let mut names = rendered.names();
        names.sort();
        assert_eq!(
            names,
            [
                "ClusterRole/portcullis-operator",
                "ClusterRoleBinding/portcullis-operator",
                "CustomResourceDefinition/oidcsettings.portcullis.dev",
                "Deployment/portcullis-operator",
                "MutatingWebhookConfiguration/portcullis",
                "PodDisruptionBudget/portcullis-operator",
                "Role/portcullis-operator",
                "RoleBinding/portcullis-operator",
                "Service/portcullis-operator-metrics",
                "Service/portcullis-webhook",
                "ServiceAccount/portcullis-operator",
            ],
            "helm {}",
            helm.version
        );
        let deployment: Deployment = rendered
            .only("Deployment")
            .unwrap_or_else(|e| panic!("{e:#}"));
        let spec = deployment.spec.expect("spec");
        assert_eq!(spec.replicas, Some(1));
        let pod = spec.template.spec.expect("pod spec");
        let container = operator_container(&pod);
        let version = app_version();
        assert_eq!(
            container.image,
            Some(format!("localhost/portcullis-operator:{version}"))
        );
        let args = container.args.clone().unwrap_or_default();
        let sidecar = format!("--sidecar-image=localhost/portcullis-sidecar:{version}");
        for wanted in [
            "--webhook-cert-mode=self-signed",
            &sidecar,
            "--sidecar-pull-policy=IfNotPresent",
            "--lease-name=portcullis-operator",
            "--lease-seconds=15",
        ] {
            assert!(
                args.iter().any(|arg| arg == wanted),
                "{wanted} missing from {args:?}"
            );
        }
        assert!(
            !args.iter().any(|arg| arg.starts_with("--namespace")),
            "watches all namespaces by default: {args:?}"
        );
    }
}

#[test]
fn misspelled_values_key_is_refused_naming_the_key() {
    for helm in Helm::all() {
        for (values, key) in [
            (["--set", "replicaCont=2"], "replicaCont"),
            (["--set", "certManager.enbled=true"], "enbled"),
            (["--set", "sidecar.image.reposiory=x"], "reposiory"),
        ] {
            let error = refused(&helm, &values);
            assert!(
                error.contains(key) && error.contains("schema"),
                "helm {}: the error for {values:?} does not name {key}: {error}",
                helm.version
            );
        }
    }
}

#[test]
fn value_of_the_wrong_type_is_refused_naming_the_field() {
    for helm in Helm::all() {
        for (values, field) in [
            (["--set", "replicaCount=two"], "replicaCount"),
            (["--set", "webhook.timeoutSeconds=soon"], "timeoutSeconds"),
            (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
            (["--set", "webhook.timeoutSeconds=60"], "timeoutSeconds"),
        ] {
            let error = refused(&helm, &values);
            assert!(
                error.contains(field),
                "helm {}: the error for {values:?} does not name {field}: {error}",
                helm.version
            );
        }
    }
}

#[test]
fn chart_crd_is_byte_identical_to_the_generated_crd() {
    let top = std::fs::read(repo_root().join("crds/oidcsettings.yaml")).expect("crds/");
    let chart = std::fs::read(chart_dir().join("crds/oidcsettings.yaml")).expect("chart crds/");
    assert!(
        top == chart,
        "charts/portcullis/crds/oidcsettings.yaml differs from crds/oidcsettings.yaml: \
         run `cargo run -p portcullis-operator --bin crdgen`, which writes both"
    );
    let entries: Vec<_> = std::fs::read_dir(chart_dir().join("crds"))
        .expect("chart crds/")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(entries, ["oidcsettings.yaml"], "the chart carries one CRD");
}

/// The chart's appVersion, the default tag of both images.
fn app_version() -> String {
    let chart: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml is YAML");
    chart["appVersion"].as_str().expect("appVersion").to_owned()
}

#[test]
fn chart_app_version_is_the_operator_crate_version() {
    let chart: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml is YAML");
    let cargo = std::fs::read_to_string(repo_root().join("operator/Cargo.toml")).expect("toml");
    let version = cargo
        .lines()
        .find_map(|line| line.strip_prefix("version = "))
        .map(|v| v.trim_matches('"'))
        .expect("operator version");
    assert_eq!(chart["appVersion"].as_str(), Some(version));
    assert_eq!(chart["apiVersion"].as_str(), Some("v2"));
}

#[test]
fn operator_pod_meets_the_restricted_pod_security_standard() {
    for helm in Helm::all() {
        for values in [&[][..], CUSTOM] {
            let deployment: Deployment = render(&helm, values)
                .only("Deployment")
                .unwrap_or_else(|e| panic!("{e:#}"));
            let pod = deployment
                .spec
                .expect("spec")
                .template
                .spec
                .expect("pod spec");
            if let Err(error) = restricted(&pod) {
                panic!("helm {} {values:?}: {error:#}", helm.version);
            }
        }
    }
}

/// The fields the `restricted` Pod Security Standard checks.
fn restricted(pod: &PodSpec) -> Result<()> {
    ensure!(pod.host_network != Some(true), "hostNetwork");
    ensure!(pod.host_pid != Some(true), "hostPID");
    ensure!(pod.host_ipc != Some(true), "hostIPC");
    for volume in pod.volumes.iter().flatten() {
        ensure!(
            volume.host_path.is_none(),
            "hostPath volume {}",
            volume.name
        );
    }
    let pod_context = pod.security_context.clone().unwrap_or_default();
    ensure!(pod_context.run_as_user != Some(0), "pod runs as root");
    let pod_seccomp = pod_context.seccomp_profile.map(|p| p.type_);
    let containers = pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten());
    for container in containers {
        let name = &container.name;
        let context = container
            .security_context
            .clone()
            .with_context(|| format!("{name}: no securityContext"))?;
        ensure!(
            context.run_as_non_root == Some(true) || pod_context.run_as_non_root == Some(true),
            "{name}: runAsNonRoot is not true"
        );
        ensure!(context.run_as_user != Some(0), "{name}: runs as root");
        ensure!(
            context.allow_privilege_escalation == Some(false),
            "{name}: allowPrivilegeEscalation is not false"
        );
        ensure!(context.privileged != Some(true), "{name}: privileged");
        let capabilities = context.capabilities.clone().unwrap_or_default();
        ensure!(
            capabilities
                .drop
                .unwrap_or_default()
                .iter()
                .any(|c| c == "ALL"),
            "{name}: capabilities do not drop ALL"
        );
        ensure!(
            capabilities
                .add
                .unwrap_or_default()
                .iter()
                .all(|c| c == "NET_BIND_SERVICE"),
            "{name}: adds capabilities"
        );
        let seccomp = context
            .seccomp_profile
            .map(|p| p.type_)
            .or(pod_seccomp.clone());
        ensure!(
            matches!(seccomp.as_deref(), Some("RuntimeDefault" | "Localhost")),
            "{name}: seccompProfile is {seccomp:?}"
        );
        for port in container.ports.iter().flatten() {
            ensure!(port.host_port.is_none(), "{name}: hostPort");
        }
    }
    Ok(())
}

#[test]
fn operator_has_probes_resources_leader_election_and_spreads_its_pods() {
    for helm in Helm::all() {
        let rendered = render(&helm, CUSTOM);
        let deployment: Deployment = rendered
            .only("Deployment")
            .unwrap_or_else(|e| panic!("{e:#}"));
        let spec = deployment.spec.expect("spec");
        assert_eq!(spec.replicas, Some(2));
        let pod_labels = spec
            .template
            .metadata
            .and_then(|m| m.labels)
            .expect("pod labels");
        let pod = spec.template.spec.expect("pod spec");
        let container = operator_container(&pod);
        let admin = "admin".to_owned();
        for (probe, path) in [
            (&container.readiness_probe, "/readyz"),
            (&container.liveness_probe, "/healthz"),
        ] {
            let get = probe.clone().and_then(|p| p.http_get).expect("http probe");
            assert_eq!(get.path.as_deref(), Some(path));
            assert_eq!(get.port, IntOrString::String(admin.clone()));
        }
        let resources = container.resources.clone().expect("resources");
        assert!(resources.requests.is_some_and(|r| r.contains_key("memory")));
        assert!(resources.limits.is_some_and(|r| r.contains_key("memory")));
        let env: BTreeMap<_, _> = container
            .env
            .iter()
            .flatten()
            .map(|var| (var.name.as_str(), var.clone()))
            .collect();
        for (name, path) in [
            ("POD_NAMESPACE", "metadata.namespace"),
            ("POD_NAME", "metadata.name"),
        ] {
            let field = env[name]
                .value_from
                .clone()
                .and_then(|from| from.field_ref)
                .expect("fieldRef");
            assert_eq!(field.field_path, path, "{name}");
        }
        let args = container.args.clone().unwrap_or_default();
        assert!(args.iter().any(|arg| arg == "--namespace=apps"), "{args:?}");
        assert_eq!(
            args.last().map(String::as_str),
            Some("--retry-seconds=5"),
            "extraArgs come last"
        );
        assert!(
            args.iter().any(|arg| arg == "--sidecar-cpu-limit=500m"),
            "{args:?}"
        );
        assert_eq!(container.image_pull_policy.as_deref(), Some("Never"));
        let spread = pod.topology_spread_constraints.expect("spread");
        let selector = spread[0]
            .label_selector
            .clone()
            .and_then(|s| s.match_labels)
            .expect("spread selects the operator pods");
        assert!(
            selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)),
            "{selector:?} does not select {pod_labels:?}"
        );
        let budget: PodDisruptionBudget = rendered
            .only("PodDisruptionBudget")
            .unwrap_or_else(|e| panic!("{e:#}"));
        let budget_selector = budget
            .spec
            .and_then(|s| s.selector)
            .and_then(|s| s.match_labels)
            .expect("pdb selector");
        assert!(
            budget_selector
                .iter()
                .all(|(k, v)| pod_labels.get(k) == Some(v))
        );
    }
}

#[test]
fn webhook_is_fail_closed_selects_on_the_inject_label_and_reaches_the_operator() {
    for helm in Helm::all() {
        let rendered = render(&helm, &[]);
        let config: MutatingWebhookConfiguration = rendered
            .only("MutatingWebhookConfiguration")
            .unwrap_or_else(|e| panic!("{e:#}"));
        let [webhook] = config.webhooks.as_deref().expect("webhooks") else {
            panic!("one webhook");
        };
        assert_eq!(webhook.failure_policy.as_deref(), Some("Fail"));
        let expressions = webhook
            .object_selector
            .clone()
            .and_then(|s| s.match_expressions)
            .expect("objectSelector");
        assert!(
            expressions
                .iter()
                .any(|e| e.key == "portcullis.dev/inject" && e.operator == "Exists")
        );
        assert_eq!(
            webhook.client_config.ca_bundle, None,
            "the operator fills it"
        );
        let target = webhook.client_config.service.clone().expect("service");
        let service: Service = rendered
            .get("Service", &target.name)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let port = service
            .spec
            .and_then(|s| s.ports)
            .and_then(|ports| ports.into_iter().find(|p| Some(p.port) == target.port))
            .expect("the Service has the webhook's port");
        let deployment: Deployment = rendered
            .only("Deployment")
            .unwrap_or_else(|e| panic!("{e:#}"));
        let pod = deployment.spec.expect("spec").template.spec.expect("pod");
        let container = operator_container(&pod);
        let IntOrString::String(target_port) = port.target_port.expect("targetPort") else {
            panic!("targetPort by name");
        };
        let named = container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(target_port.as_str()))
            .expect("the operator has the Service's target port");
        assert_eq!(named.container_port, 8443);
        let args = container.args.clone().unwrap_or_default();
        assert!(args.contains(&"--webhook-listen=0.0.0.0:8443".to_owned()));
        assert!(args.contains(&format!("--webhook-service={}", target.name)));
        assert!(args.contains(&format!(
            "--webhook-config={}",
            config.metadata.name.clone().expect("name")
        )));
    }
}

/// The Helm release `make deploy-manifests` renders `deploy/` with.
const DEPLOY_HELM: &str = "v3";

#[test]
fn deploy_manifest_is_the_chart_rendered_with_default_values() {
    let path = repo_root().join(DEPLOY_MANIFEST);
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let generator = Helm::of_major(DEPLOY_HELM).unwrap_or_else(|error| panic!("{error:#}"));
    let output = std::process::Command::new(repo_root().join("tests/tools/render-deploy.sh"))
        .arg(&generator.bin)
        .output()
        .expect("tests/tools/render-deploy.sh runs");
    assert!(
        output.status.success(),
        "render-deploy.sh failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fresh = String::from_utf8(output.stdout).expect("UTF-8");
    let differs = committed
        .lines()
        .zip(fresh.lines())
        .position(|(old, new)| old != new)
        .or_else(|| {
            (committed.lines().count() != fresh.lines().count())
                .then(|| committed.lines().count().min(fresh.lines().count()))
        });
    if let Some(index) = differs {
        panic!(
            "{DEPLOY_MANIFEST} is not what the chart renders (from line {}): \
             run `make deploy-manifests`\n committed: {:?}\n rendered:  {:?}",
            index + 1,
            committed.lines().nth(index),
            fresh.lines().nth(index)
        );
    }
    // Helm 4 lays the documents out differently; the objects are the same.
    let expected = Rendered::parse(&committed).expect("parses");
    for helm in Helm::all() {
        let rendered = render(&helm, &[]);
        assert_eq!(rendered.names(), expected.names(), "helm {}", helm.version);
        for (object, committed) in rendered.objects.iter().zip(&expected.objects) {
            assert!(
                object == committed,
                "helm {} renders otherwise than {DEPLOY_MANIFEST}:\n{}\ninstead of\n{}",
                helm.version,
                serde_yaml::to_string(object).unwrap_or_default(),
                serde_yaml::to_string(committed).unwrap_or_default()
            );
        }
    }
}

#[test]
fn operator_is_told_the_names_its_rbac_allows() {
    for helm in Helm::all() {
        let rendered = render(&helm, &[]);
        let account: ServiceAccount = rendered.only("ServiceAccount").expect("account");
        for binding in [
            rendered
                .only::<ClusterRoleBinding>("ClusterRoleBinding")
                .expect("binding")
                .subjects,
            rendered
                .only::<RoleBinding>("RoleBinding")
                .expect("binding")
                .subjects,
        ] {
            let subjects = binding.unwrap_or_default();
            assert_eq!(
                subjects.iter().map(|s| Some(&s.name)).collect::<Vec<_>>(),
                [account.metadata.name.as_ref()],
                "helm {}",
                helm.version
            );
        }
        let resource_names = |rules: Option<Vec<PolicyRule>>, resource: &str| -> Vec<String> {
            rules
                .unwrap_or_default()
                .into_iter()
                .filter(|rule| rule.resources.iter().flatten().any(|r| r == resource))
                .flat_map(|rule| rule.resource_names.unwrap_or_default())
                .collect()
        };
        let cluster_role: ClusterRole = rendered.only("ClusterRole").expect("ClusterRole");
        let role: Role = rendered.only("Role").expect("Role");
        let config: MutatingWebhookConfiguration = rendered
            .only("MutatingWebhookConfiguration")
            .expect("webhook");
        assert_eq!(
            resource_names(cluster_role.rules, "mutatingwebhookconfigurations"),
            [config.metadata.name.clone().expect("name")]
        );
        assert_eq!(
            resource_names(role.rules, "secrets"),
            ["portcullis-webhook-tls"]
        );
        let deployment: Deployment = rendered.only("Deployment").expect("Deployment");
        let pod = deployment.spec.expect("spec").template.spec.expect("pod");
        assert_eq!(pod.service_account_name, account.metadata.name);
        let args = operator_container(&pod).args.clone().unwrap_or_default();
        assert!(args.contains(&"--webhook-cert-secret=portcullis-webhook-tls".to_owned()));
        assert!(args.contains(&"--webhook-config=portcullis".to_owned()));
        assert_eq!(config.metadata.name.as_deref(), Some("portcullis"));
    }
}

#[test]
fn cert_manager_makes_the_certificate_and_injects_the_ca_instead_of_the_operator() {
    for helm in Helm::all() {
        let rendered = render(&helm, CUSTOM);
        let certificate = rendered
            .of_kind("Certificate")
            .first()
            .map(|c| (*c).clone())
            .expect("a cert-manager Certificate");
        let name = certificate["metadata"]["name"].as_str().expect("name");
        let config: MutatingWebhookConfiguration = rendered
            .only("MutatingWebhookConfiguration")
            .expect("webhook");
        let annotations = config.metadata.annotations.unwrap_or_default();
        assert_eq!(
            annotations.get("cert-manager.io/inject-ca-from"),
            Some(&format!("{RELEASE}/{name}"))
        );
        let service = config.webhooks.expect("webhooks")[0]
            .client_config
            .service
            .clone()
            .expect("service");
        let dns_names: Vec<&str> = certificate["spec"]["dnsNames"]
            .as_sequence()
            .expect("dnsNames")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(dns_names.contains(&format!("{}.{RELEASE}.svc", service.name).as_str()));
        let secret = certificate["spec"]["secretName"].as_str().expect("secret");
        let issuer = certificate["spec"]["issuerRef"]["name"]
            .as_str()
            .expect("issuer");
        let issuers = rendered.of_kind("Issuer");
        assert!(
            issuers
                .iter()
                .any(|i| i["metadata"]["name"].as_str() == Some(issuer)
                    && i["spec"]["selfSigned"].is_mapping()),
            "a self-signed Issuer named {issuer}"
        );
        let deployment: Deployment = rendered.only("Deployment").expect("Deployment");
        let pod = deployment.spec.expect("spec").template.spec.expect("pod");
        let args = operator_container(&pod).args.clone().unwrap_or_default();
        assert!(args.contains(&"--webhook-cert-mode=external".to_owned()));
        assert!(args.contains(&format!("--webhook-cert-secret={secret}")));
        // The operator no longer writes the caBundle nor the Secret.
        let role: ClusterRole = rendered.only("ClusterRole").expect("ClusterRole");
        assert!(
            !role.rules.iter().flatten().any(|rule| rule
                .api_groups
                .iter()
                .flatten()
                .any(|g| g == "admissionregistration.k8s.io")),
            "no webhook configuration rights with cert-manager"
        );

        let own = render(
            &helm,
            &[
                "--set",
                "certManager.enabled=true",
                "--set",
                "certManager.issuerRef.name=corp-ca",
                "--set",
                "certManager.issuerRef.kind=ClusterIssuer",
            ],
        );
        assert!(
            own.of_kind("Issuer").is_empty(),
            "no Issuer of the chart's own"
        );
        let certificate = own.of_kind("Certificate")[0].clone();
        assert_eq!(
            certificate["spec"]["issuerRef"]["name"].as_str(),
            Some("corp-ca")
        );
        assert_eq!(
            certificate["spec"]["issuerRef"]["kind"].as_str(),
            Some("ClusterIssuer")
        );
    }
}

#[test]
fn service_monitor_is_off_by_default_and_scrapes_the_metrics_service_when_on() {
    for helm in Helm::all() {
        assert!(render(&helm, &[]).of_kind("ServiceMonitor").is_empty());
        let rendered = render(&helm, CUSTOM);
        let monitor = rendered.of_kind("ServiceMonitor")[0].clone();
        let selector = monitor["spec"]["selector"]["matchLabels"]
            .as_mapping()
            .expect("selector")
            .clone();
        let selected: Vec<String> = rendered
            .of_kind("Service")
            .into_iter()
            .filter(|service| {
                selector
                    .iter()
                    .all(|(k, v)| service["metadata"]["labels"].get(k) == Some(v))
            })
            .map(|service| {
                service["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        assert_eq!(selected, ["portcullis-operator-metrics"]);
        let metrics: Service = rendered
            .get("Service", "portcullis-operator-metrics")
            .expect("metrics Service");
        let port = metrics.spec.and_then(|s| s.ports).expect("ports")[0].clone();
        assert_eq!(
            Some(port.name.as_deref()),
            Some(monitor["spec"]["endpoints"][0]["port"].as_str())
        );
        assert_eq!(port.target_port, Some(IntOrString::String("admin".into())));
    }
}

fn operator_container(pod: &PodSpec) -> &Container {
    pod.containers
        .iter()
        .find(|c| c.name == "operator")
        .expect("an operator container")
}

/// Server-side dry-run of every rendered object the API server knows the
/// kind of, on the real kube-apiserver the harness starts.
mod api_server {
    use super::*;
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use kube::api::{Api, Patch, PatchParams, PostParams};
    use portcullis_e2e::kube::dry_run::{DryRun, dry_run_apply};
    use portcullis_e2e::kube::env::{client, ensure_crd, namespace};

    #[tokio::test]
    async fn rendered_objects_pass_a_server_side_dry_run_on_a_real_api_server() -> Result<()> {
        let client = client().await?;
        ensure_crd(&client).await?;
        let namespace = namespace(&client, "chart").await?;
        let mut checked = 0;
        let mut unknown = Vec::new();
        for helm in Helm::all() {
            for values in [&[][..], CUSTOM, CLUSTER_VALUES] {
                let rendered = helm.template(RELEASE, &namespace, values)?;
                for object in &rendered.objects {
                    let outcome =
                        dry_run_apply(&client, &namespace, object, "portcullis-chart-test")
                            .await
                            .with_context(|| format!("helm {} {values:?}", helm.version))?;
                    if let DryRun::UnknownKind(kind) = outcome {
                        unknown.push(kind);
                        continue;
                    }
                    checked += 1;
                }
            }
        }
        restricted_namespace_admits_the_operator_pod(&client).await?;
        unknown.sort();
        unknown.dedup();
        assert_eq!(
            unknown,
            ["Certificate", "Issuer", "ServiceMonitor"],
            "only the kinds of cert-manager and the Prometheus Operator are unknown here"
        );
        assert!(checked >= 40, "checked {checked} objects");
        Ok(())
    }

    fn dry_run() -> PostParams {
        PostParams {
            dry_run: true,
            ..PostParams::default()
        }
    }

    /// The API server's own PodSecurity admission, enforcing `restricted`,
    /// admits a pod made from the Deployment's template (dry run).
    async fn restricted_namespace_admits_the_operator_pod(client: &kube::Client) -> Result<()> {
        let name = namespace(client, "chart-restricted").await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let label = serde_json::json!({"metadata": {"labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        }}});
        namespaces
            .patch(&name, &PatchParams::default(), &Patch::Merge(&label))
            .await?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &name);
        for helm in Helm::all() {
            for values in [&[][..], CUSTOM] {
                let deployment: Deployment =
                    helm.template(RELEASE, &name, values)?.only("Deployment")?;
                let template = deployment.spec.context("spec")?.template;
                let mut metadata = template.metadata.unwrap_or_default();
                metadata.name = Some("operator".into());
                let pod = Pod {
                    metadata,
                    spec: template.spec,
                    ..Pod::default()
                };
                pods.create(&dry_run(), &pod).await.with_context(|| {
                    format!(
                        "helm {} {values:?}: restricted PodSecurity refused the operator pod",
                        helm.version
                    )
                })?;
            }
        }
        // The check bites: a root pod is refused in that namespace.
        let root: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "root"},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "securityContext": {"runAsUser": 0}}]}
        }))?;
        let refused = pods.create(&dry_run(), &root).await;
        ensure!(refused.is_err(), "a root pod was admitted under restricted");
        Ok(())
    }
}

/// A registry mirror, pull Secrets, proxies, host networking and a narrower
/// webhook: the values real clusters need.
const CLUSTER_VALUES: &[&str] = &[
    "--set",
    "global.imageRegistry=mirror.example.com:5000",
    "--set",
    "global.imagePullSecrets={mirror-pull}",
    "--set",
    "sidecar.imagePullSecrets={sidecar-pull}",
    "--set",
    "sidecar.extraEnv[0].name=RUST_LOG",
    "--set",
    "sidecar.extraEnv[0].value=debug",
    "--set",
    "extraEnv[0].name=HTTPS_PROXY",
    "--set",
    "extraEnv[0].value=http://proxy:3128",
    "--set",
    "webhook.port=10250",
    "--set",
    "webhook.hostNetwork=true",
    "--set-string",
    "webhook.namespaceSelector.matchLabels.portcullis\\.dev/enabled=true",
];

#[test]
fn real_cluster_values_reach_the_images_pods_flags_and_webhook() {
    for helm in Helm::all() {
        let output = helm
            .lint(CLUSTER_VALUES)
            .unwrap_or_else(|error| panic!("{error:#}"));
        assert!(output.contains("0 chart(s) failed"), "{output}");
        let rendered = render(&helm, CLUSTER_VALUES);
        let deployment: Deployment = rendered.only("Deployment").expect("Deployment");
        let pod = deployment
            .spec
            .and_then(|spec| spec.template.spec)
            .expect("pod spec");
        let operator = operator_container(&pod);
        assert_eq!(
            operator.image.as_deref(),
            Some("mirror.example.com:5000/portcullis-operator:0.1.0")
        );
        let args = operator.args.clone().unwrap_or_default();
        for flag in [
            "--sidecar-image=mirror.example.com:5000/portcullis-sidecar:0.1.0",
            "--sidecar-image-pull-secrets=mirror-pull,sidecar-pull",
            "--sidecar-env=RUST_LOG=debug",
            "--webhook-listen=0.0.0.0:10250",
        ] {
            assert!(args.iter().any(|arg| arg == flag), "{flag} not in {args:?}");
        }
        let pulls: Vec<String> = pod
            .image_pull_secrets
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|reference| reference.name)
            .collect();
        assert_eq!(pulls, ["mirror-pull"]);
        assert_eq!(pod.host_network, Some(true));
        assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
        let proxy = operator
            .env
            .iter()
            .flatten()
            .find(|var| var.name == "HTTPS_PROXY")
            .and_then(|var| var.value.clone());
        assert_eq!(proxy.as_deref(), Some("http://proxy:3128"));
        let webhook: MutatingWebhookConfiguration = rendered
            .only("MutatingWebhookConfiguration")
            .expect("webhook");
        let selector = webhook.webhooks.unwrap_or_default()[0]
            .namespace_selector
            .clone()
            .expect("namespaceSelector");
        assert_eq!(
            selector.match_labels,
            Some(BTreeMap::from([(
                "portcullis.dev/enabled".to_owned(),
                "true".to_owned()
            )]))
        );
        assert_eq!(
            selector.match_expressions.unwrap_or_default()[0].operator,
            "NotIn",
            "the exclusions stay"
        );
    }
}

#[test]
fn the_chart_readme_lists_every_value_and_is_current() {
    let values = std::fs::read_to_string(chart_dir().join("values.yaml")).expect("values.yaml");
    let undocumented =
        portcullis_e2e::chart_readme::undocumented_leaves(&values).expect("values parse");
    assert!(
        undocumented.is_empty(),
        "values without a `# -- ` comment (or one on a parent): {undocumented:?}"
    );
    let committed = std::fs::read_to_string(chart_dir().join("README.md")).expect("README.md");
    assert!(
        committed == portcullis_e2e::chart_readme::render(&values).expect("renders"),
        "charts/portcullis/README.md is stale: run `{}`",
        portcullis_e2e::chart_readme::GENERATED_BY
    );
}

/// The verbs the rendered ClusterRole grants on `resource`.
fn cluster_role_verbs(rendered: &Rendered, resource: &str) -> Vec<String> {
    let role: ClusterRole = rendered
        .only("ClusterRole")
        .unwrap_or_else(|e| panic!("{e:#}"));
    role.rules
        .unwrap_or_default()
        .into_iter()
        .filter(|rule| {
            rule.resources
                .as_ref()
                .is_some_and(|resources| resources.iter().any(|r| r == resource))
        })
        .flat_map(|rule| rule.verbs)
        .collect()
}

#[test]
fn forward_auth_rights_are_granted_by_default_and_left_out_when_turned_off() {
    for helm in Helm::all() {
        let granted = render(&helm, &[]);
        assert_eq!(
            cluster_role_verbs(&granted, "deployments"),
            ["get", "create", "patch", "delete"]
        );
        assert!(cluster_role_verbs(&granted, "services").contains(&"create".to_owned()));

        let left_out = render(&helm, &["--set", "forwardAuth.enabled=false"]);
        assert_eq!(
            cluster_role_verbs(&left_out, "deployments"),
            Vec::<String>::new(),
            "helm {}",
            helm.version
        );
        assert_eq!(
            cluster_role_verbs(&left_out, "services"),
            ["list"],
            "only the named-port warning's list stays"
        );
        assert_eq!(cluster_role_verbs(&left_out, "pods"), ["list"]);
    }
}
