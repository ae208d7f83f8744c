//! The NetworkPolicy that makes the sidecar the only way into an injected pod.
//!
//! Most apps listen on all interfaces, so without a policy any pod in the
//! cluster could reach the app's port directly and skip the login. The policy
//! selects the pods labelled for this `OidcSettings` and admits ingress only on
//! the sidecar's public port (`spec.listenPort`, from anywhere) and on its
//! admin port (`spec.adminPort`, from the
//! sources the resource names). Everything else, the app's port included, is
//! dropped by a network plugin that enforces NetworkPolicy.
//!
//! The operator's own pods (when it knows its labels) are admitted to the
//! admin port too: it asks each pod there which settings it serves.
//!
//! For settings run as a forward-auth service the policy selects that
//! service's pods instead, and opens its gRPC port beside the public one:
//! nothing else listens there, and its admin port stays as closed.

use crate::crd::OidcSettings;
use crate::desired::forward_service::serving_pod_labels;
use crate::desired::objects::{MissingMeta, meta};
use crate::names::generated_name;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use std::collections::BTreeMap;

/// The operator's pods, by their `labels` in their `namespace`, as a
/// NetworkPolicy source; `None` without labels.
pub fn operator_peer(namespace: &str, labels: &[(String, String)]) -> Option<NetworkPolicyPeer> {
    if labels.is_empty() {
        return None;
    }
    let selector = |labels: BTreeMap<String, String>| LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    };
    Some(NetworkPolicyPeer {
        namespace_selector: Some(selector(BTreeMap::from([(
            NAMESPACE_NAME_LABEL.to_owned(),
            namespace.to_owned(),
        )]))),
        pod_selector: Some(selector(labels.iter().cloned().collect())),
        ip_block: None,
    })
}

/// The `<name>-portcullis` NetworkPolicy for `owner`, or `None` when the
/// resource turned it off; `operator` is admitted to the admin port.
pub fn network_policy(
    owner: &OidcSettings,
    operator: Option<&NetworkPolicyPeer>,
) -> Result<Option<NetworkPolicy>, MissingMeta> {
    let settings = owner.spec.network_policy.as_ref();
    if settings.is_some_and(|settings| !settings.enabled) {
        return Ok(None);
    }
    let name = owner.name_any();
    let forward = owner.spec.forward_auth.as_ref();
    let public_ports = std::iter::once(owner.spec.listen_port)
        .chain(forward.and_then(|forward| forward.grpc_port))
        .map(tcp)
        .collect();
    let mut ingress = vec![NetworkPolicyIngressRule {
        from: None,
        ports: Some(public_ports),
    }];
    let mut admin_from = settings.map(|s| s.admin_from.clone()).unwrap_or_default();
    admin_from.extend(operator.cloned());
    if !admin_from.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(admin_from),
            ports: Some(vec![tcp(owner.spec.admin_port)]),
        });
    }
    Ok(Some(NetworkPolicy {
        metadata: meta(owner, generated_name(&name), None)?,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(serving_pod_labels(owner)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(ingress),
            egress: None,
        }),
    }))
}

/// The label every namespace carries with its own name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        end_port: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::NetworkPolicySettings;
    use crate::desired::config::tests::spec;
    use crate::desired::forward_service::forward_pod_labels;
    use crate::names::INJECT_LABEL;

    fn owner() -> OidcSettings {
        let mut owner = OidcSettings::new("books", spec());
        owner.metadata.namespace = Some("media".into());
        owner.metadata.uid = Some("uid-1".into());
        owner
    }

    fn ports(rule: &NetworkPolicyIngressRule) -> Vec<IntOrString> {
        rule.ports
            .iter()
            .flatten()
            .filter_map(|p| p.port.clone())
            .collect()
    }

    #[test]
    fn by_default_only_the_public_port_is_open_to_the_labelled_pods() {
        let policy = network_policy(&owner(), None).expect("built").expect("on");
        assert_eq!(policy.metadata.name.as_deref(), Some("books-portcullis"));
        assert!(policy.metadata.owner_references.is_some());
        let spec = policy.spec.expect("spec");
        let selector = spec.pod_selector.and_then(|s| s.match_labels);
        assert_eq!(selector.expect("labels")[INJECT_LABEL], "books");
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_owned()]));
        let ingress = spec.ingress.expect("ingress");
        assert_eq!(ingress.len(), 1);
        assert_eq!(ports(&ingress[0]), [IntOrString::Int(4180)]);
        assert_eq!(ingress[0].from, None);
    }

    #[test]
    fn admin_port_opens_only_to_the_named_sources() {
        let mut owner = owner();
        let peer = NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("name".into(), "monitoring".into())])),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        };
        owner.spec.network_policy = Some(NetworkPolicySettings {
            enabled: true,
            admin_from: vec![peer.clone()],
        });
        let policy = network_policy(&owner, None).expect("built").expect("on");
        let ingress = policy.spec.and_then(|s| s.ingress).expect("ingress");
        assert_eq!(ports(&ingress[1]), [IntOrString::Int(9090)]);
        assert_eq!(ingress[1].from, Some(vec![peer]));
    }

    #[test]
    fn a_forward_auth_service_gets_the_policy_on_its_pods_with_its_grpc_port() {
        let mut owner = owner();
        owner.spec.forward_auth = Some(crate::crd_forward::ForwardAuthSpec {
            grpc_port: Some(9191),
            ..crate::crd_forward::ForwardAuthSpec::default()
        });
        let policy = network_policy(&owner, None).expect("built").expect("on");
        let spec = policy.spec.expect("spec");
        let selector = spec.pod_selector.and_then(|s| s.match_labels);
        assert_eq!(selector, Some(forward_pod_labels("books")));
        let ingress = spec.ingress.expect("ingress");
        assert_eq!(ingress.len(), 1, "the admin port stays closed");
        assert_eq!(
            ports(&ingress[0]),
            [IntOrString::Int(4180), IntOrString::Int(9191)]
        );
    }

    #[test]
    fn disabled_means_no_policy() {
        let mut owner = owner();
        owner.spec.network_policy = Some(NetworkPolicySettings {
            enabled: false,
            admin_from: vec![],
        });
        assert_eq!(network_policy(&owner, None).expect("built"), None);
    }

    #[test]
    fn the_operator_is_admitted_to_the_admin_port_by_its_namespace_and_labels() {
        let labels = [(
            "app.kubernetes.io/component".to_owned(),
            "operator".to_owned(),
        )];
        let operator = operator_peer("portcullis-system", &labels).expect("a peer");
        let policy = network_policy(&owner(), Some(&operator))
            .expect("built")
            .expect("on");
        let ingress = policy.spec.and_then(|s| s.ingress).expect("ingress");
        assert_eq!(ports(&ingress[1]), [IntOrString::Int(9090)]);
        let from = ingress[1].from.clone().expect("sources");
        let namespaces = from[0]
            .namespace_selector
            .clone()
            .and_then(|s| s.match_labels);
        assert_eq!(
            namespaces.expect("a namespace")[NAMESPACE_NAME_LABEL],
            "portcullis-system"
        );
        let pods = from[0].pod_selector.clone().and_then(|s| s.match_labels);
        assert_eq!(
            pods.expect("pods")["app.kubernetes.io/component"],
            "operator"
        );
        assert_eq!(operator_peer("portcullis-system", &[]), None);
    }
}
