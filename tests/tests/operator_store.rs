//! The operator tries the session store an `OidcSettings` names, with the
//! credentials it references, and names what is wrong in the status: a
//! platform team sees a wrong password before every replica answers 503.

use anyhow::Result;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, Patch, PatchParams};
use portcullis_e2e::kube::env::{Env, assert_says, data};
use portcullis_e2e::redis::Redis;
use portcullis_e2e::redis_cluster::RedisCluster;
use std::collections::BTreeMap;

/// Creates or replaces Secret `redis` with `password` under key `password`.
async fn put_redis_password<P>(env: &Env<P>, password: &str) -> Result<()> {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("redis".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "password".to_owned(),
            ByteString(password.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    };
    env.secrets()
        .patch(
            "redis",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&secret),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_wrong_store_password_is_named_in_the_status_and_the_right_one_clears_it() -> Result<()> {
    let redis = Redis::start_with_password("the-right-one").await?;
    let url = redis.url();
    let env = Env::start_with("store", |spec| {
        spec.session_store = Some(
            serde_json::from_value(serde_json::json!({"redis": {
                "url": url,
                "passwordSecretRef": {"name": "redis", "key": "password"},
            }}))
            .expect("a store spec"),
        );
    })
    .await?;
    put_redis_password(&env, "a-wrong-one").await?;
    let refused = env
        .wait_condition("SessionStoreReachable", |c| c.status == "False")
        .await?;
    assert_eq!(
        refused.reason, "StoreCredentialsRefused",
        "{}",
        refused.message
    );
    assert_says(&refused, &["passwordSecretRef"]);
    let ready = env
        .wait_condition("Ready", |c| {
            c.status == "False" && c.reason == "StoreCredentialsRefused"
        })
        .await?;
    assert!(!ready.message.contains("a-wrong-one"), "{}", ready.message);

    put_redis_password(&env, "the-right-one").await?;
    env.wait_condition("SessionStoreReachable", |c| c.status == "True")
        .await?;
    env.wait_ready().await?;
    let generated = data(&env.secrets().get("books-portcullis").await?);
    assert_eq!(generated["session-store-password"], "the-right-one");
    Ok(())
}

#[tokio::test]
async fn a_cluster_nobody_answers_for_is_named_and_a_real_one_is_reached() -> Result<()> {
    let nobody = format!("127.0.0.1:{}", portcullis_e2e::process::free_port());
    let env = Env::start_with("cluster", |spec| {
        spec.session_store = Some(
            serde_json::from_value(serde_json::json!({"redis": {
                "cluster": {"addresses": [nobody]},
            }}))
            .expect("a store spec"),
        );
    })
    .await?;
    let away = env
        .wait_condition("SessionStoreReachable", |c| c.status == "False")
        .await?;
    assert_eq!(away.reason, "StoreUnreachable", "{}", away.message);
    assert_says(&away, &["spec.sessionStore.redis.cluster", "Redis Cluster"]);

    let cluster = RedisCluster::start().await?;
    let node = format!("127.0.0.1:{}", cluster.nodes[1].port());
    let patch = serde_json::json!({"spec": {"sessionStore": {"redis": {
        "cluster": {"addresses": [node]},
    }}}});
    env.settings_api()
        .patch("books", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    env.wait_condition("SessionStoreReachable", |c| c.status == "True")
        .await?;
    Ok(())
}
