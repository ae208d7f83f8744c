//! The elector against the API server stand-in: which Lease writes it
//! sends for a free, a held, an expired and its own Lease.

use super::lease::Elector;
use crate::context::fake_api::{ApiServer, client, path};
use hyper::Method;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use std::time::Duration;

const NAMESPACE: &str = "portcullis";
const NAME: &str = "portcullis-operator";
const ME: &str = "operator-0";

fn elector() -> (Elector, ApiServer) {
    let (client, server) = client();
    let elector = Elector::new(
        Api::namespaced(client, NAMESPACE),
        NAME.into(),
        ME.into(),
        Duration::from_secs(15),
    );
    (elector, server)
}

fn lease_path() -> String {
    path::<Lease>(NAMESPACE, NAME)
}

/// A time `seconds` ago, to the microsecond as a Lease carries it.
fn seconds_ago(seconds: i64) -> MicroTime {
    let at = Timestamp::now()
        .checked_sub(SignedDuration::from_secs(seconds))
        .and_then(|at| Timestamp::from_microsecond(at.as_microsecond()))
        .expect("a representable time");
    MicroTime(at)
}

/// A Lease held by `holder`, acquired a minute ago and renewed
/// `renewed_ago` seconds ago, valid 15 s after each renewal.
fn held_by(holder: &str, renewed_ago: i64, transitions: i32) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(NAMESPACE.into()),
            resource_version: Some("41".into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(seconds_ago(60)),
            renew_time: Some(seconds_ago(renewed_ago)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }),
    }
}

/// The Lease as the stand-in now holds it.
fn stored(server: &ApiServer) -> LeaseSpec {
    let object = server.object(&lease_path()).expect("a Lease");
    let lease: Lease = serde_json::from_value(object).expect("a Lease");
    lease.spec.expect("a spec")
}

#[tokio::test]
async fn a_free_lease_is_created_with_this_candidate_as_holder() {
    let (elector, server) = elector();

    let leads = server.within(elector.try_lead()).await.expect("no error");

    assert!(leads);
    let created = server
        .expect(
            Method::POST,
            &format!("/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases"),
        )
        .await;
    assert_eq!(created.status, 201);
    let spec = stored(&server);
    assert_eq!(spec.holder_identity.as_deref(), Some(ME));
    assert_eq!(
        (spec.lease_duration_seconds, spec.lease_transitions),
        (Some(15), Some(0))
    );
}

#[tokio::test]
async fn a_lease_another_candidate_renewed_in_time_is_left_alone() {
    let (elector, server) = elector();
    server.insert(&lease_path(), &held_by("operator-1", 2, 3));

    let leads = server.within(elector.try_lead()).await.expect("no error");

    assert!(!leads);
    server.assert_not_written(&lease_path());
    assert_eq!(
        stored(&server).holder_identity.as_deref(),
        Some("operator-1")
    );
}

#[tokio::test]
async fn an_expired_lease_of_another_candidate_is_taken_over_with_one_more_transition() {
    let (elector, server) = elector();
    server.insert(&lease_path(), &held_by("operator-1", 60, 3));

    let leads = server.within(elector.try_lead()).await.expect("no error");

    assert!(leads);
    let replaced = server.expect(Method::PUT, &lease_path()).await;
    assert_eq!(
        replaced.body["metadata"]["resourceVersion"], "41",
        "the write carries the resourceVersion read"
    );
    let spec = stored(&server);
    assert_eq!(spec.holder_identity.as_deref(), Some(ME));
    assert_eq!(spec.lease_transitions, Some(4));
    let renewed = spec.renew_time.expect("a renewal time").0;
    assert!(renewed > seconds_ago(5).0, "renewed at {renewed}");
}

#[tokio::test]
async fn a_takeover_that_loses_the_race_to_another_write_is_not_leading() {
    let (elector, server) = elector();
    server.insert(&lease_path(), &held_by("operator-1", 60, 3));
    server.refuse(Method::PUT, &lease_path(), 409);

    let leads = server.within(elector.try_lead()).await;

    assert!(!leads.expect("a conflict is not an error"));
}

#[tokio::test]
async fn our_own_lease_is_renewed_keeping_its_acquire_time() {
    let (elector, server) = elector();
    let ours = held_by(ME, 5, 2);
    let acquired = ours
        .spec
        .as_ref()
        .and_then(|spec| spec.acquire_time.clone());
    server.insert(&lease_path(), &ours);

    let leads = server.within(elector.try_lead()).await.expect("no error");

    assert!(leads);
    server.expect(Method::PUT, &lease_path()).await;
    let spec = stored(&server);
    assert_eq!(spec.acquire_time, acquired);
    assert_eq!(spec.lease_transitions, Some(2));
    assert!(spec.renew_time.expect("renewed").0 > seconds_ago(5).0);
}

#[tokio::test]
async fn release_frees_our_lease_and_leaves_another_holders_alone() {
    let (elector, server) = elector();
    server.insert(&lease_path(), &held_by(ME, 1, 0));
    server.within(elector.release()).await.expect("released");
    server.expect(Method::PUT, &lease_path()).await;
    let spec = stored(&server);
    assert_eq!(
        (spec.holder_identity, spec.lease_duration_seconds),
        (None, Some(1))
    );

    let (elector, server) = self::elector();
    server.insert(&lease_path(), &held_by("operator-1", 1, 0));
    server
        .within(elector.release())
        .await
        .expect("nothing to do");
    server.assert_not_written(&lease_path());
}

#[tokio::test]
async fn a_failed_read_is_an_error_naming_the_lease() {
    let (elector, server) = elector();
    server.refuse(Method::GET, &lease_path(), 500);

    let error = server
        .within(elector.try_lead())
        .await
        .expect_err("a server error");

    assert!(error.to_string().contains(NAME), "{error}");
}
