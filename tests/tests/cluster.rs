//! The product on a real single-node Kubernetes cluster: install, label,
//! log in.
//!
//! The images `make images` built are imported into the node's containerd;
//! `helm install --wait` installs the chart with them; the operator pod
//! becomes Ready and takes the leader Lease; an `OidcSettings` with its
//! client Secret becomes Ready; a Deployment of the demo app, labelled for
//! injection, gets its pods injected by the webhook served from the
//! operator's pod through its Service, in a namespace that enforces the
//! `restricted` Pod Security level; the sidecar runs as a native sidecar.
//! Headless Chromium then signs in through the app's NodePort at the test
//! provider, which listens on the node's address so pods reach it too.
//! NetworkPolicy is enforced throughout (kube-router's firewall on the
//! node): the generated policy keeps other pods from the app's port, and
//! still lets the operator ask each sidecar which settings it serves.
//!
//! One cluster per test process ([`Cluster::shared`]); the tests here run
//! one after another in [`the_product_installs_injects_and_serves_logins`]
//! because they share the one chart release.

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use portcullis_e2e::cluster::images::IMAGES;
use portcullis_e2e::cluster::pod_network::Origin;
use portcullis_e2e::cluster::redis::redis_manifest;
use portcullis_e2e::cluster::{Cluster, NODE_IP};
use portcullis_e2e::guarded::{log_out_at_url, sealed_session_cookie};
use portcullis_e2e::helm::Helm;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::poll::eventually;
use portcullis_e2e::process::repo_root;
use portcullis_e2e::webdriver::Chromium;
use portcullis_operator::crd::OidcSettings;
use portcullis_sidecar::access::roles::Role;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use url::Url;

/// The chart's release and namespace.
const RELEASE: &str = "portcullis";
/// The OidcSettings and the Deployment in tests/tools/cluster/demo-app.yaml.
const SETTINGS: &str = "demo";
const APP: &str = "demo-app";

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(500);

/// Runs helm (v3) against the cluster; its stdout.
async fn helm(cluster: &Cluster, args: &[&str]) -> Result<String> {
    let output = tokio::process::Command::new(Helm::of_major("v3")?.bin)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .env("HELM_CACHE_HOME", cluster.state.join("helm/cache"))
        .env("HELM_CONFIG_HOME", cluster.state.join("helm/config"))
        .env("HELM_DATA_HOME", cluster.state.join("helm/data"))
        .args(args)
        .output()
        .await
        .context("cannot run helm")?;
    ensure!(
        output.status.success(),
        "helm {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A pod's Ready condition.
fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|condition| condition.type_ == "Ready" && condition.status == "True")
        })
}

/// The demo app's manifests with the placeholders filled in.
fn demo_manifest(
    namespace: &str,
    well_known_url: &str,
    public_url: &str,
    node_port: u16,
) -> Result<String> {
    let text = std::fs::read_to_string(repo_root().join("tests/tools/cluster/demo-app.yaml"))?;
    Ok(text
        .replace("namespace: NAMESPACE", &format!("namespace: {namespace}"))
        .replace("WELL_KNOWN_URL", well_known_url)
        .replace("PUBLIC_URL", public_url)
        .replace("NODE_PORT", &node_port.to_string()))
}

/// A NodePort for this run (30000-32767), chosen from the process id.
fn node_port() -> u16 {
    30000 + u16::try_from(std::process::id() % 2700).unwrap_or(0)
}

/// The installed product and one app behind it.
struct World {
    cluster: &'static Cluster,
    client: Client,
    namespace: String,
    idp: Idp,
    public_url: String,
    helm_started: Instant,
}

impl World {
    /// The demo app's pods, terminating ones included.
    async fn app_pods(&self) -> Result<Vec<Pod>> {
        Ok(self
            .pods(&self.namespace)
            .await
            .list(&ListParams::default().labels("app=demo-app"))
            .await?
            .items)
    }

    async fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The operator's pods, Ready ones first.
    async fn operator_pods(&self) -> Result<Vec<Pod>> {
        let mut pods = self
            .pods(RELEASE)
            .await
            .list(&ListParams::default())
            .await?
            .items;
        pods.sort_by_key(|pod| !is_ready(pod));
        Ok(pods)
    }

    async fn diagnostics(&self) -> String {
        let mut out = String::new();
        for args in [
            vec!["get", "pods", "-A", "-o", "wide"],
            vec!["get", "events", "-A", "--sort-by=.lastTimestamp"],
            vec![
                "logs",
                "-n",
                RELEASE,
                "deploy/portcullis-operator",
                "--tail=40",
            ],
            vec!["get", "oidcsettings", "-A", "-o", "yaml"],
        ] {
            let text = self
                .cluster
                .kubectl(&args)
                .await
                .unwrap_or_else(|error| format!("{error:#}"));
            out.push_str(&format!("--- kubectl {}\n{text}\n", args.join(" ")));
        }
        out.push_str(&format!(
            "--- kubelet\n{}\n",
            self.cluster.log_tail("kubelet")
        ));
        out
    }
}

#[tokio::test]
async fn the_product_installs_injects_and_serves_logins() -> Result<()> {
    let cluster = tokio::task::spawn_blocking(Cluster::shared).await?;
    eprintln!("cluster started in {:.1} s", cluster.start_seconds);
    let client = cluster.client().await?;
    let started = Instant::now();
    cluster.import_project_images().await?;
    eprintln!(
        "{} images imported in {:.1} s",
        IMAGES.len(),
        started.elapsed().as_secs_f64()
    );

    let port = node_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let idp = Idp::start_on_host(&public_url, NODE_IP).await?;
    let namespace = cluster
        .namespace(
            "app",
            &[
                ("pod-security.kubernetes.io/enforce", "restricted"),
                ("pod-security.kubernetes.io/enforce-version", "latest"),
            ],
        )
        .await?;
    let world = World {
        cluster,
        client,
        namespace,
        idp,
        public_url,
        helm_started: Instant::now(),
    };
    let result = scenario(&world, port).await;
    if result.is_err() {
        eprintln!("{}", world.diagnostics().await);
    }
    result
}

async fn scenario(world: &World, port: u16) -> Result<()> {
    helm_install(world).await?;
    let leader = operator_is_ready_and_leads(world).await?;
    eprintln!("operator {leader} is Ready and leader");
    deploy_the_app(world, port).await?;
    let pod = app_pod_is_injected_and_restricted(world).await?;
    eprintln!("app pod {pod} runs with the sidecar");
    network_policy_admits_other_pods_only_to_the_sidecar(world).await?;

    let browser = Chromium::start().await?;
    let outcome = async {
        browser_signs_in(world, &browser, "alice", "admin").await?;
        eprintln!(
            "from helm install to a served login: {:.1} s",
            world.helm_started.elapsed().as_secs_f64()
        );
        backup_login_with_the_generated_password(world, &browser).await?;
        group_claim_change_reaches_the_running_sidecar(world).await?;
        app_keeps_serving_without_the_operator_pod(world, &browser).await
    }
    .await;
    browser.quit().await?;
    outcome?;
    operator_scaled_to_zero_fails_closed(world).await?;
    replicas_share_log_outs_through_a_redis_pod(world).await?;
    a_forward_auth_service_runs_and_answers_its_proxy(world).await?;
    a_rollout_drops_no_request(world).await?;
    helm_uninstall_leaves_the_crd_and_the_app(world).await
}

async fn helm_install(world: &World) -> Result<()> {
    let chart = repo_root().join("charts/portcullis");
    ensure!(
        chart.join("Chart.yaml").is_file(),
        "{} has no Chart.yaml",
        chart.display()
    );
    let chart = chart.to_string_lossy().into_owned();
    helm(
        world.cluster,
        &[
            "install",
            RELEASE,
            &chart,
            "--namespace",
            RELEASE,
            "--create-namespace",
            "--wait",
            "--timeout",
            "180s",
            "--set",
            "image.pullPolicy=Never",
            "--set",
            "sidecar.image.pullPolicy=Never",
            "--set",
            "logging.level=info\\,portcullis_operator=debug",
        ],
    )
    .await?;
    eprintln!(
        "helm install --wait took {:.1} s",
        world.helm_started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The operator's pod is Ready and holds the leader Lease.
async fn operator_is_ready_and_leads(world: &World) -> Result<String> {
    let pods = world.operator_pods().await?;
    let pod = pods.first().context("no operator pod")?;
    ensure!(
        is_ready(pod),
        "the operator pod is not Ready after helm install --wait"
    );
    let name = pod.metadata.name.clone().context("a pod without a name")?;
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), RELEASE);
    eventually(
        "the operator pod to hold the leader Lease",
        Duration::from_secs(60),
        POLL,
        || async {
            let lease = leases.get_opt("portcullis-operator").await.ok()??;
            (lease.spec?.holder_identity? == name).then_some(())
        },
    )
    .await?;
    Ok(name)
}

async fn deploy_the_app(world: &World, port: u16) -> Result<()> {
    let manifest = demo_manifest(
        &world.namespace,
        &world.idp.well_known_url(),
        &world.public_url,
        port,
    )?;
    let file = world
        .cluster
        .state
        .join(format!("run/{}.yaml", world.namespace));
    std::fs::write(&file, manifest)?;
    world
        .cluster
        .kubectl(&["apply", "-f", &file.to_string_lossy()])
        .await?;
    let settings: Api<OidcSettings> = Api::namespaced(world.client.clone(), &world.namespace);
    eventually(
        "the OidcSettings to be Ready",
        Duration::from_secs(60),
        POLL,
        || async {
            let settings = settings.get_opt(SETTINGS).await.ok()??;
            settings
                .status?
                .conditions
                .iter()
                .any(|condition| condition.type_ == "Ready" && condition.status == "True")
                .then_some(())
        },
    )
    .await
}

/// The app's pod runs with the injected native sidecar, in a namespace
/// that enforces `restricted`.
async fn app_pod_is_injected_and_restricted(world: &World) -> Result<String> {
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), &world.namespace);
    eventually(
        "the demo app Deployment to be available",
        Duration::from_secs(120),
        POLL,
        || async {
            let deployment = deployments.get_opt(APP).await.ok()??;
            (deployment.status?.available_replicas? >= 1).then_some(())
        },
    )
    .await?;
    let pods = world.app_pods().await?;
    let pod = pods
        .iter()
        .find(|pod| is_ready(pod))
        .context("no Ready demo app pod")?;
    let spec = pod.spec.as_ref().context("a pod without a spec")?;
    let sidecar = spec
        .init_containers
        .iter()
        .flatten()
        .find(|container| container.restart_policy.as_deref() == Some("Always"))
        .context("the pod has no native sidecar (an init container with restartPolicy Always)")?;
    assert_eq!(sidecar.image.as_deref(), Some(IMAGES[1].1));
    let statuses = pod
        .status
        .as_ref()
        .and_then(|status| status.init_container_statuses.as_ref())
        .context("no init container statuses")?;
    let status = statuses
        .iter()
        .find(|status| status.name == sidecar.name)
        .context("no status for the sidecar")?;
    ensure!(
        status.ready
            && status
                .state
                .as_ref()
                .is_some_and(|state| state.running.is_some()),
        "the sidecar is not running and ready: {status:?}"
    );
    let namespace = world
        .cluster
        .kubectl(&["get", "namespace", &world.namespace, "-o", "json"])
        .await?;
    let namespace: Value = serde_json::from_str(&namespace)?;
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    // The level is enforced: a privileged pod is refused in this namespace.
    let privileged: Pod = serde_json::from_value(json!({
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": IMAGES[2].1,
                                 "securityContext": {"privileged": true}}]}
    }))?;
    let refused = world
        .pods(&world.namespace)
        .await
        .create(&PostParams::default(), &privileged)
        .await;
    let error = refused
        .err()
        .context("a privileged pod was admitted in a restricted namespace")?;
    ensure!(
        error.to_string().contains("restricted"),
        "refused for another reason: {error}"
    );
    pod.metadata.name.clone().context("a pod without a name")
}

/// Signs in as `login` at the provider through the app's Service and
/// checks the app sees that user with `role`.
async fn browser_signs_in(
    world: &World,
    browser: &Chromium,
    login: &str,
    role: &str,
) -> Result<()> {
    let app = Url::parse(&world.public_url)?;
    browser
        .goto(&format!("{}/hello?from=cluster", world.public_url))
        .await?;
    browser
        .sign_in_at_provider(&world.idp.issuer, login)
        .await?;
    browser
        .wait_for_url("the app's page", |url| {
            url.origin() == app.origin() && url.path() == "/hello"
        })
        .await?;
    let echo = browser.json_on_page().await?;
    assert_eq!(echo["path"], "/hello", "{echo}");
    assert_eq!(
        echo["headers"]["x-forwarded-user"],
        json!([login]),
        "{echo}"
    );
    assert_eq!(
        echo["headers"]["x-portcullis-role"],
        json!([role]),
        "{echo}"
    );
    Ok(())
}

/// The role the app sees for the browser's session.
async fn role_on_page(world: &World, browser: &Chromium) -> Result<Value> {
    browser
        .goto(&format!("{}/whoami", world.public_url))
        .await?;
    let echo = browser.json_on_page().await?;
    Ok(echo["headers"]["x-portcullis-role"].clone())
}

/// Changing the group claim reaches the running sidecar through the
/// kubelet's update of the mounted ConfigMap (no restart): a session made
/// before keeps working as it was, and a new sign-in reads the new claim.
/// trudy's `groups` say trusted, her `roles` say admin.
async fn group_claim_change_reaches_the_running_sidecar(world: &World) -> Result<()> {
    let before = Chromium::start().await?;
    let outcome = async {
        browser_signs_in(world, &before, "trudy", "trusted").await?;
        let config_maps: Api<ConfigMap> = Api::namespaced(world.client.clone(), &world.namespace);
        let generated = format!("{SETTINGS}-portcullis");
        let hash_of = |config_map: ConfigMap| {
            config_map
                .metadata
                .annotations?
                .get("portcullis.dev/config-hash")
                .cloned()
        };
        let old_hash = hash_of(config_maps.get(&generated).await?).context("no config hash")?;
        let pod = app_pod(world).await?;
        let pod_ip = pod
            .status
            .and_then(|status| status.pod_ip)
            .context("the app pod has no IP")?;
        let restarts_before = sidecar_restarts(world).await?;

        let settings: Api<OidcSettings> = Api::namespaced(world.client.clone(), &world.namespace);
        settings
            .patch(
                SETTINGS,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"groupClaim": "roles"}})),
            )
            .await?;
        let new_hash = eventually(
            "the operator to write the new config",
            Duration::from_secs(60),
            POLL,
            || async {
                let hash = hash_of(config_maps.get(&generated).await.ok()?)?;
                (hash != old_hash).then_some(hash)
            },
        )
        .await?;
        let changed = Instant::now();
        // The sidecar's admin port reports the hash of what it serves; the
        // host reaches pod addresses over the CNI bridge.
        let readyz = format!("http://{pod_ip}:9090/readyz");
        eventually(
            "the sidecar to serve the new config",
            Duration::from_secs(180),
            POLL,
            || async {
                let body: Value = reqwest::get(&readyz).await.ok()?.json().await.ok()?;
                (body["config"]["hash"] == json!(new_hash)).then_some(())
            },
        )
        .await?;
        eprintln!(
            "the kubelet brought the new config to the sidecar in {:.1} s",
            changed.elapsed().as_secs_f64()
        );
        // The operator asks the pods too, and says when all served it.
        let rollout = eventually(
            "the status to say every pod serves the new config",
            Duration::from_secs(60),
            POLL,
            || async {
                let rollout = settings.get(SETTINGS).await.ok()?.status?.rollout?;
                (rollout.config_hash == new_hash && rollout.seconds.is_some()).then_some(rollout)
            },
        )
        .await?;
        ensure!(
            rollout.pods >= 1 && rollout.pods_current == rollout.pods,
            "the roll-out completed with pods left behind: {rollout:?}"
        );
        eprintln!(
            "status.rollout: {} of {} pods, rolled out in {} s",
            rollout.pods_current,
            rollout.pods,
            rollout.seconds.unwrap_or_default()
        );
        ensure!(
            sidecar_restarts(world).await? == restarts_before,
            "the sidecar restarted to take the change"
        );
        assert_eq!(
            role_on_page(world, &before).await?,
            json!(["trusted"]),
            "the signed-in session changed"
        );
        let after = Chromium::start().await?;
        let signed_in = browser_signs_in(world, &after, "trudy", "admin").await;
        after.quit().await?;
        signed_in
    }
    .await;
    before.quit().await?;
    outcome
}

/// A bare pod of the demo app's image in `namespace`, under the
/// restricted Pod Security level, listening as `listen` says.
fn echo_pod(name: &str, namespace: &str, labels: Value, listen: &str) -> Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "app",
                "image": IMAGES[2].1,
                "imagePullPolicy": "IfNotPresent",
                "args": [listen],
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": {"drop": ["ALL"]},
                },
            }],
        },
    }))?)
}

/// NetworkPolicy is enforced on this cluster: a pod in another namespace
/// reaches an injected pod's sidecar port but not its app's port. The app
/// here listens on every interface, as many do, and the node (whose own
/// traffic policies leave alone, for probes) reaches it there: the port is
/// open, and only the generated policy keeps other pods from it.
async fn network_policy_admits_other_pods_only_to_the_sidecar(world: &World) -> Result<()> {
    let cluster = world.cluster;
    let outside = cluster.namespace("outside", &[]).await?;
    let (exposed, client) = ("exposed-app", "client");
    let inside = world.pods(&world.namespace).await;
    let elsewhere = world.pods(&outside).await;
    inside
        .create(
            &PostParams::default(),
            &echo_pod(
                exposed,
                &world.namespace,
                json!({"portcullis.dev/inject": SETTINGS}),
                "0.0.0.0:8080",
            )?,
        )
        .await?;
    elsewhere
        .create(
            &PostParams::default(),
            &echo_pod(client, &outside, json!({}), "8080")?,
        )
        .await?;
    let outcome = async {
        let address = eventually(
            "both pods to be Ready",
            Duration::from_secs(120),
            POLL,
            || async {
                let exposed = inside.get(exposed).await.ok()?;
                let client = elsewhere.get(client).await.ok()?;
                (is_ready(&exposed) && is_ready(&client)).then_some(())?;
                exposed.status?.pod_ip
            },
        )
        .await?;
        let patience = Duration::from_secs(5);
        let from_client = Origin::Pod {
            namespace: &outside,
            name: client,
        };
        ensure!(
            cluster
                .connects(Origin::Node, &address, 8080, patience)
                .await?,
            "the app does not listen on its pod's address, so its port proves nothing"
        );
        ensure!(
            cluster
                .connects(from_client, &address, 4180, patience)
                .await?,
            "a pod in another namespace cannot reach the sidecar's port"
        );
        ensure!(
            !cluster
                .connects(from_client, &address, 8080, patience)
                .await?,
            "a pod in another namespace reached the app's port past the NetworkPolicy"
        );
        eprintln!("NetworkPolicy enforced: another namespace's pod reaches :4180, not :8080");
        Ok(())
    }
    .await;
    inside.delete(exposed, &DeleteParams::default()).await?;
    cluster
        .kubectl(&["delete", "namespace", &outside, "--wait=false"])
        .await?;
    outcome
}

/// The demo app's Ready pod.
async fn app_pod(world: &World) -> Result<Pod> {
    world
        .app_pods()
        .await?
        .into_iter()
        .find(is_ready)
        .context("no Ready demo app pod")
}

/// How often the app pod's sidecar restarted.
async fn sidecar_restarts(world: &World) -> Result<i32> {
    let pod = app_pod(world).await?;
    Ok(pod
        .status
        .and_then(|status| status.init_container_statuses)
        .unwrap_or_default()
        .iter()
        .map(|status| status.restart_count)
        .sum())
}

async fn backup_login_with_the_generated_password(world: &World, browser: &Chromium) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.namespace);
    let secret = secrets.get(&format!("{SETTINGS}-root-admin")).await?;
    let data = secret.data.context("the root-admin Secret has no data")?;
    let field = |key: &str| -> Result<String> {
        let value = data
            .get(key)
            .with_context(|| format!("the root-admin Secret has no {key}"))?;
        Ok(String::from_utf8(value.0.clone())?)
    };
    let (username, password) = (field("username")?, field("password")?);
    assert_eq!(username, "admin");
    browser.delete_all_cookies().await?;
    browser
        .backup_login(&world.public_url, &username, &password)
        .await?;
    browser
        .goto(&format!("{}/auth/me", world.public_url))
        .await?;
    let me = browser.json_on_page().await?;
    assert_eq!(me["user"], "admin", "{me}");
    assert_eq!(me["root"], true, "{me}");
    Ok(())
}

/// The data path does not depend on the operator: with its pod deleted,
/// the signed-in browser still gets the app.
async fn app_keeps_serving_without_the_operator_pod(
    world: &World,
    browser: &Chromium,
) -> Result<()> {
    let pods = world.pods(RELEASE).await;
    for pod in world.operator_pods().await? {
        let name = pod.metadata.name.context("a pod without a name")?;
        pods.delete(&name, &DeleteParams::default().grace_period(0))
            .await?;
    }
    browser
        .goto(&format!("{}/still-there", world.public_url))
        .await?;
    let echo = browser.json_on_page().await?;
    assert_eq!(echo["path"], "/still-there", "{echo}");
    assert_eq!(
        echo["headers"]["x-portcullis-root"],
        json!(["true"]),
        "{echo}"
    );
    Ok(())
}

/// With no operator replica, the fail-closed webhook refuses a labelled
/// pod, and an unlabelled pod runs.
async fn operator_scaled_to_zero_fails_closed(world: &World) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), RELEASE);
    let operator = deployments
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .next()
        .and_then(|deployment| deployment.metadata.name)
        .context("no operator Deployment")?;
    deployments
        .patch(
            &operator,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await?;
    eventually(
        "the operator pods to be gone",
        Duration::from_secs(60),
        POLL,
        || async { world.operator_pods().await.ok()?.is_empty().then_some(()) },
    )
    .await?;
    let pod = |name: &str, labelled: bool| -> Result<Pod> {
        let mut labels = json!({"app": "probe"});
        if labelled {
            labels["portcullis.dev/inject"] = json!(SETTINGS);
        }
        Ok(serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "automountServiceAccountToken": false,
                "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "app", "image": IMAGES[2].1, "imagePullPolicy": "Never", "args": ["8080"],
                    "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
                }]
            }
        }))?)
    };
    let pods = world.pods(&world.namespace).await;
    let refused = pods
        .create(&PostParams::default(), &pod("labelled", true)?)
        .await;
    let error = refused
        .err()
        .context("a labelled pod was admitted with no operator running")?;
    ensure!(
        error.to_string().contains("inject.portcullis.dev"),
        "the labelled pod was refused, but not by the webhook: {error}"
    );
    pods.create(&PostParams::default(), &pod("unlabelled", false)?)
        .await?;
    eventually(
        "the unlabelled pod to run",
        Duration::from_secs(60),
        POLL,
        || async { is_ready(&pods.get("unlabelled").await.ok()?).then_some(()) },
    )
    .await?;
    deployments
        .patch(
            &operator,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await?;
    eventually(
        "the operator to be Ready again",
        Duration::from_secs(90),
        POLL,
        || async {
            world
                .operator_pods()
                .await
                .ok()?
                .first()
                .is_some_and(is_ready)
                .then_some(())
        },
    )
    .await?;
    Ok(())
}

/// Three replicas of the app over a Redis pod: the operator names the store
/// reachable, and a log out at one pod is refused by the other two within
/// a second. Pods are reached at their own addresses, one by one.
async fn replicas_share_log_outs_through_a_redis_pod(world: &World) -> Result<()> {
    world.cluster.import_redis_image().await?;
    let file = world
        .cluster
        .state
        .join(format!("run/{}-redis.yaml", world.namespace));
    std::fs::write(&file, redis_manifest(&world.namespace))?;
    world
        .cluster
        .kubectl(&["apply", "-f", &file.to_string_lossy()])
        .await?;
    let settings: Api<OidcSettings> = Api::namespaced(world.client.clone(), &world.namespace);
    let url = format!("redis://redis.{}.svc:6379", world.namespace);
    settings
        .patch(
            SETTINGS,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"sessionStore": {"redis": {"url": url}}}})),
        )
        .await?;
    eventually(
        "the store to be reachable and the settings Ready",
        Duration::from_secs(120),
        POLL,
        || async {
            let conditions = settings.get_opt(SETTINGS).await.ok()??.status?.conditions;
            let holds = |type_: &str| {
                conditions
                    .iter()
                    .any(|c| c.type_ == type_ && c.status == "True")
            };
            (holds("SessionStoreReachable") && holds("Ready")).then_some(())
        },
    )
    .await?;
    // A store is taken at start: the new pods have it, the old one goes.
    world
        .cluster
        .kubectl(&[
            "-n",
            &world.namespace,
            "scale",
            "deploy",
            APP,
            "--replicas=3",
        ])
        .await?;
    world
        .cluster
        .kubectl(&["-n", &world.namespace, "rollout", "restart", "deploy", APP])
        .await?;
    rollout_finished(world).await?;
    let addresses: Vec<String> = eventually(
        "three Ready app pods",
        Duration::from_secs(120),
        POLL,
        || async {
            let pods = world.app_pods().await.ok()?;
            let ready: Vec<String> = pods
                .iter()
                .filter(|pod| is_ready(pod) && pod.metadata.deletion_timestamp.is_none())
                .filter_map(|pod| pod.status.as_ref()?.pod_ip.clone())
                .collect();
            (ready.len() == 3).then_some(ready)
        },
    )
    .await?;
    for address in &addresses {
        eventually(
            "each replica's store loaded",
            Duration::from_secs(60),
            POLL,
            || async {
                let body: Value = reqwest::get(format!("http://{address}:9090/readyz"))
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (body["sessionStore"]["status"] == "ok").then_some(())
            },
        )
        .await?;
    }
    let cookie = session_cookie(world, "dana").await?;
    let me = |address: &str| {
        let (address, cookie) = (address.to_owned(), cookie.clone());
        async move {
            reqwest::Client::new()
                .get(format!("http://{address}:4180/auth/me"))
                .header("cookie", cookie)
                .send()
                .await
                .map(|response| response.status().as_u16())
        }
    };
    for address in &addresses {
        ensure!(
            me(address).await? == 200,
            "{address} does not open the cookie"
        );
    }
    let logged_out = log_out_at_url(&format!("http://{}:4180", addresses[0]), &cookie).await?;
    ensure!(
        logged_out == reqwest::StatusCode::SEE_OTHER,
        "log out answered {logged_out}"
    );
    let started = Instant::now();
    for address in &addresses[1..] {
        while me(address).await? != 401 {
            ensure!(
                started.elapsed() < Duration::from_secs(5),
                "{address} still opens a logged-out cookie"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let took = started.elapsed();
    eprintln!("a log out at one pod reached the other two in {took:?}");
    ensure!(
        took < Duration::from_secs(1),
        "the other pods refused it after {took:?}, not within 1 s"
    );
    Ok(())
}

/// A session cookie for `user`, sealed with the keys the operator generated.
async fn session_cookie(world: &World, user: &str) -> Result<String> {
    session_cookie_of(world, SETTINGS, user).await
}

/// A session cookie for `user` of the settings `settings`.
async fn session_cookie_of(world: &World, settings: &str, user: &str) -> Result<String> {
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.namespace);
    let keys = portcullis_e2e::kube::env::data(
        &secrets.get(&format!("{settings}-portcullis")).await?,
    )["session-keys"]
        .clone();
    sealed_session_cookie(
        &keys,
        &format!("portcullis_{settings}"),
        user,
        Role::Trusted,
        3600,
    )
}

/// `OidcSettings` with `spec.forwardAuth`: the operator runs its
/// Deployment on the node, in the namespace that enforces the `restricted`
/// Pod Security level; its pod answers nginx's question from the node
/// (a trusted proxy) as the gate decides, and goes with the settings.
async fn a_forward_auth_service_runs_and_answers_its_proxy(world: &World) -> Result<()> {
    const EDGE: &str = "edge";
    let settings: Api<OidcSettings> = Api::namespaced(world.client.clone(), &world.namespace);
    let demo = settings.get(SETTINGS).await?;
    let mut edge = OidcSettings::new(EDGE, demo.spec.clone());
    edge.spec.session_store = None;
    edge.spec.trusted_proxies = vec!["10.0.0.0/8".into()];
    edge.spec.forward_auth = Some(portcullis_operator::crd_forward::ForwardAuthSpec::default());
    settings.create(&PostParams::default(), &edge).await?;
    let pod_ip = eventually(
        "the forward-auth pod Ready",
        Duration::from_secs(120),
        POLL,
        || async {
            let pods = world
                .pods(&world.namespace)
                .await
                .list(&ListParams::default().labels(&format!(
                    "portcullis.dev/settings={EDGE},app.kubernetes.io/component=forward-auth"
                )))
                .await
                .ok()?
                .items;
            pods.iter()
                .find(|pod| is_ready(pod))
                .and_then(|pod| pod.status.as_ref()?.pod_ip.clone())
        },
    )
    .await?;
    let ask = |cookie: Option<String>| {
        let url = format!("http://{pod_ip}:4180/auth/verify");
        let original = format!("{}/books", world.public_url);
        async move {
            let mut request = reqwest::Client::new()
                .get(url)
                .header("x-original-url", original)
                .header("x-original-method", "GET")
                .header("accept", "application/json");
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            request.send().await
        }
    };
    let nobody = ask(None).await?;
    ensure!(
        nobody.status() == 401,
        "a question without a session answered {}",
        nobody.status()
    );
    let cookie = session_cookie_of(world, EDGE, "erin").await?;
    let erin = ask(Some(cookie)).await?;
    ensure!(
        erin.status() == 200,
        "a question with erin's session answered {}",
        erin.status()
    );
    ensure!(
        erin.headers()
            .get("x-forwarded-user")
            .and_then(|v| v.to_str().ok())
            == Some("erin"),
        "the answer names no user: {:?}",
        erin.headers()
    );
    eprintln!("the forward-auth pod {pod_ip} answers nginx's question as the gate decides");
    settings.delete(EDGE, &DeleteParams::default()).await?;
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), &world.namespace);
    eventually(
        "the forward-auth Deployment gone with its settings",
        Duration::from_secs(120),
        POLL,
        || async {
            deployments
                .get_opt(&format!("{EDGE}-portcullis-forward"))
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await
}

/// The demo app exits at once on SIGTERM. With the `preStop` sleep the
/// webhook gives it, a rollout of its three replicas fails no request sent
/// through the Service; annotated without it, the failures are counted for
/// comparison.
async fn a_rollout_drops_no_request(world: &World) -> Result<()> {
    let cookie = session_cookie(world, "erin").await?;
    let with_sleep = requests_across_a_rollout(world, &cookie).await?;
    eprintln!("a rollout with the app's preStop sleep: {with_sleep}");
    ensure!(
        with_sleep.answered > 0 && with_sleep.failed == 0,
        "requests failed during a rollout: {with_sleep}"
    );
    let without = json!({"spec": {"template": {"metadata": {"annotations": {
        "portcullis.dev/app-pre-stop-sleep-seconds": "0",
    }}}}});
    let deployments: Api<Deployment> = Api::namespaced(world.client.clone(), &world.namespace);
    deployments
        .patch(APP, &PatchParams::default(), &Patch::Merge(&without))
        .await?;
    rollout_finished(world).await?;
    let without_sleep = requests_across_a_rollout(world, &cookie).await?;
    eprintln!("a rollout without the app's preStop sleep: {without_sleep}");
    Ok(())
}

/// What a load through the Service met.
struct Load {
    answered: u64,
    failed: u64,
    first_failures: Vec<String>,
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} requests failed {:?}",
            self.failed,
            self.answered + self.failed,
            self.first_failures
        )
    }
}

/// Sends requests through the NodePort, each on a new connection as
/// kube-proxy spreads them, from just before `kubectl rollout restart`
/// until every old pod is gone.
async fn requests_across_a_rollout(world: &World, cookie: &str) -> Result<Load> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn(load_until(
        format!("{}/", world.public_url),
        cookie.to_owned(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    world
        .cluster
        .kubectl(&["-n", &world.namespace, "rollout", "restart", "deploy", APP])
        .await?;
    let finished = rollout_finished(world).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let load = load.await?;
    finished?;
    Ok(load)
}

/// Waits for `rollout status` and then for the old pods to be gone.
async fn rollout_finished(world: &World) -> Result<()> {
    world
        .cluster
        .kubectl(&[
            "-n",
            &world.namespace,
            "rollout",
            "status",
            "deploy",
            APP,
            "--timeout=180s",
        ])
        .await?;
    eventually(
        "the old pods to be gone",
        Duration::from_secs(120),
        POLL,
        || async {
            let pods = world.app_pods().await.ok()?;
            pods.iter()
                .all(|pod| pod.metadata.deletion_timestamp.is_none())
                .then_some(())
        },
    )
    .await
}

/// GETs `url` with `cookie` until `stop`, at most 30 000 times or 5 minutes.
async fn load_until(
    url: String,
    cookie: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Load {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let started = Instant::now();
    let mut load = Load {
        answered: 0,
        failed: 0,
        first_failures: Vec::new(),
    };
    for _ in 0..30_000 {
        if stop.load(std::sync::atomic::Ordering::SeqCst)
            || started.elapsed() > Duration::from_secs(300)
        {
            break;
        }
        let outcome = client
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await
            .map(|response| response.status());
        match outcome {
            Ok(status) if status == reqwest::StatusCode::OK => load.answered += 1,
            other => {
                load.failed += 1;
                if load.first_failures.len() < 5 {
                    load.first_failures.push(match other {
                        Ok(status) => status.to_string(),
                        Err(error) => error.to_string(),
                    });
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    load
}

/// `helm uninstall` removes the operator and its webhook; the CRD (from the
/// chart's crds/ folder), the OidcSettings and the running app stay.
async fn helm_uninstall_leaves_the_crd_and_the_app(world: &World) -> Result<()> {
    helm(
        world.cluster,
        &["uninstall", RELEASE, "--namespace", RELEASE, "--wait"],
    )
    .await?;
    let webhooks = world
        .cluster
        .kubectl(&["get", "mutatingwebhookconfigurations", "-o", "name"])
        .await?;
    ensure!(
        !webhooks.contains("portcullis"),
        "the webhook configuration stayed: {webhooks}"
    );
    world
        .cluster
        .kubectl(&["get", "crd", "oidcsettings.portcullis.dev"])
        .await?;
    let settings: Api<OidcSettings> = Api::namespaced(world.client.clone(), &world.namespace);
    ensure!(
        settings.get_opt(SETTINGS).await?.is_some(),
        "the OidcSettings went with the release"
    );
    ensure!(
        world.app_pods().await?.iter().any(is_ready),
        "the app stopped with the release"
    );
    Ok(())
}
