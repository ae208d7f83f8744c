//! `spec.forwardAuth` against a real kube-apiserver: the operator runs the
//! settings as a forward-auth service (a Deployment of the sidecar image
//! and a Service, under the chart's own RBAC rules), says in status what to
//! paste into each proxy, and removes the service when the field goes.

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use portcullis_contract::config::SidecarConfig;
use portcullis_e2e::kube::env::{Env, NAME, client, ensure_crd, eventually, namespace, settings};
use portcullis_operator::crd::OidcSettings;
use portcullis_operator::crd_forward::ForwardAuthSpec;
use serde_json::json;

/// The Deployment's and Service's name for the settings [`NAME`].
const SERVICE: &str = "books-portcullis-forward";

#[tokio::test]
async fn forward_auth_settings_run_a_service_say_what_to_paste_and_go_when_removed() -> Result<()> {
    let env = Env::start_with("forward", |spec| {
        spec.trusted_proxies = vec!["10.0.0.0/8".into()];
        spec.forward_auth = Some(ForwardAuthSpec {
            replicas: Some(1),
            hosts: Vec::new(),
            grpc_port: Some(9191),
        });
    })
    .await?;
    env.wait_ready().await?;
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &env.namespace);
    let services: Api<Service> = Api::namespaced(env.client.clone(), &env.namespace);
    let deployment = eventually("the forward-auth Deployment", || async {
        deployments.get_opt(SERVICE).await.ok()?
    })
    .await?;
    let owner = &deployment
        .metadata
        .owner_references
        .as_ref()
        .context("owner")?[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("OidcSettings", NAME)
    );
    let pod = deployment
        .spec
        .and_then(|spec| spec.template.spec)
        .context("pod template")?;
    let container = &pod.containers[0];
    assert_eq!(
        container.args.as_deref(),
        Some(
            &[
                "--config".to_owned(),
                "/etc/portcullis/config/sidecar.yaml".to_owned()
            ][..]
        )
    );
    let service = eventually("the forward-auth Service", || async {
        services.get_opt(SERVICE).await.ok()?
    })
    .await?;
    let ports: Vec<i32> = service
        .spec
        .and_then(|spec| spec.ports)
        .context("ports")?
        .iter()
        .map(|port| port.port)
        .collect();
    assert_eq!(ports, [4180, 9191]);

    let config_map = env.config_maps().get("books-portcullis").await?;
    let yaml = &config_map.data.as_ref().context("data")?["sidecar.yaml"];
    let config = SidecarConfig::from_yaml(yaml)?;
    assert_eq!(
        config.upstream, "",
        "a forward-auth service proxies to no app"
    );
    assert_eq!(
        config
            .forward_auth
            .as_ref()
            .and_then(|forward| forward.grpc_listen.as_deref()),
        Some("0.0.0.0:9191")
    );

    let status = eventually("status.forwardAuth", || async {
        env.settings_api()
            .get(NAME)
            .await
            .ok()?
            .status?
            .forward_auth
    })
    .await?;
    let host = format!("{SERVICE}.{}.svc.cluster.local", env.namespace);
    assert_eq!(status.verify_url, format!("http://{host}:4180/auth/verify"));
    assert_eq!(status.grpc_address, Some(format!("{host}:9191")));
    for proxy in ["ingressNginx", "traefik", "envoyGateway", "istio"] {
        let snippet = status.snippets.get(proxy).context(proxy.to_owned())?;
        assert!(snippet.contains(SERVICE), "{proxy}: {snippet}");
        assert!(snippet.contains(&env.namespace), "{proxy}: {snippet}");
    }

    env.settings_api()
        .patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"forwardAuth": null}})),
        )
        .await?;
    eventually(
        "the forward-auth Deployment and Service removed",
        || async {
            let deployment = deployments.get_opt(SERVICE).await.ok()?;
            let service = services.get_opt(SERVICE).await.ok()?;
            (deployment.is_none() && service.is_none()).then_some(())
        },
    )
    .await?;
    eventually("status.forwardAuth cleared", || async {
        let status = env.settings_api().get(NAME).await.ok()?.status?;
        status.forward_auth.is_none().then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn forward_auth_without_proxies_or_with_replicas_and_no_store_is_refused_at_apply()
-> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let namespace = namespace(&client, "forward-invalid").await?;
    let api: Api<OidcSettings> = Api::namespaced(client, &namespace);
    let mut bad = settings(
        "https://sso.example.com/realms/home/.well-known/openid-configuration",
        "https://books.example.com",
    );
    bad.spec.forward_auth = Some(ForwardAuthSpec {
        replicas: Some(3),
        hosts: Vec::new(),
        grpc_port: Some(4180),
    });
    let error = api
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("the API server refuses it");
    let message = error.to_string();
    for expected in [
        "spec.trustedProxies",
        "forwardAuth needs trustedProxies",
        "spec.forwardAuth.replicas",
        "needs sessionStore",
        "spec.forwardAuth.grpcPort",
    ] {
        assert!(message.contains(expected), "`{expected}` not in: {message}");
    }
    Ok(())
}
